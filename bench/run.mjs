// seedmesh's benchmark: our code next to PeerJS, Trystero and a raw RTCDataChannel, measured in
// the same Chromium run against the local stack, written to docs/benchmarks.{md,json}.
//
// Run through scripts/bench.sh (`make bench`), which builds everything, starts the local stack and
// enters a loopback-only network namespace. BENCH_RUNS sets the repetitions (default 7).
import { cp, mkdir, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import os from "node:os";
import Tracker from "bittorrent-tracker/server";
import { build } from "esbuild";
import { root, serveStatic, launchBrowser, newPage } from "../tests/e2e/support.mjs";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const THROUGHPUT_BYTES = 16 << 20;
const PINGS = 200;
const site = join(root, "target/bench/site");
const env = process.env;

// ---------------------------------------------------------------------------------------------
// Statistics

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const summary = (samples) => ({
  median: median(samples),
  min: Math.min(...samples),
  max: Math.max(...samples),
  samples,
});

// ---------------------------------------------------------------------------------------------
// The site: benchmark pages, the libraries they load, and the app's release build.

async function buildSite() {
  await mkdir(site, { recursive: true });
  await cp(join(root, "bench/pages"), site, { recursive: true });
  await cp(join(root, "node_modules/peerjs/dist/peerjs.min.js"), join(site, "peerjs.min.js"));
  await build({
    entryPoints: [join(root, "bench/pages/trystero-bench.src.mjs")],
    bundle: true,
    format: "esm",
    minify: true,
    outfile: join(site, "trystero-bench.js"),
    logLevel: "warning",
  });
  await cp(join(root, "dist"), join(site, "app"), { recursive: true });
}

async function pageWeight() {
  const weigh = async (files) => {
    let raw = 0;
    let gzip = 0;
    for (const file of files) {
      const body = await readFile(file);
      raw += body.length;
      gzip += gzipSync(body, { level: 9 }).length;
    }
    return { raw, gzip };
  };
  const dist = join(root, "dist");
  const appFiles = (await readdir(dist))
    .filter((f) => /\.(html|js|wasm|css)$/.test(f) && f !== "404.html")
    .map((f) => join(dist, f));
  return {
    seedmesh: await weigh(appFiles),
    peerjs: await weigh([join(site, "peerjs-chat.html"), join(site, "peerjs.min.js")]),
  };
}

// ---------------------------------------------------------------------------------------------
// Pairs of pages

const peerServer = {
  host: "127.0.0.1",
  port: Number(env.SEEDMESH_PEERSERVER_PORT),
  path: "/seedmesh",
  key: "peerjs",
  secure: false,
  config: { iceServers: [] },
};

async function withPages(browser, count, url, body) {
  const pages = [];
  try {
    for (let i = 0; i < count; i++) {
      const p = await newPage(browser);
      await p.page.goto(url);
      await p.page.waitForFunction(() => window.bench !== undefined, null, { timeout: 15_000 });
      pages.push(p);
    }
    return await body(pages.map((p) => p.page));
  } finally {
    for (const p of pages) await p.context.close();
  }
}

const call = (page, fn, ...args) =>
  page.evaluate(
    ([fn, args]) =>
      Promise.race([
        window.bench[fn](...args),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`${fn} took over 60 s`)), 60_000)),
      ]),
    [fn, args],
  );

let unique = 0;
async function peerjsRun(browser, base, serialization) {
  return withPages(browser, 2, `${base}peerjs.html`, async ([a, b]) => {
    const ids = [`bench-${process.pid}-${unique++}`, `bench-${process.pid}-${unique++}`];
    const registerA = await call(a, "register", peerServer, ids[0]);
    const registerB = await call(b, "register", peerServer, ids[1]);
    const connect = await call(a, "dial", ids[1], serialization);
    await call(b, "waitIncoming");
    const rtt = median(await call(a, "rtt", PINGS));
    const ms = await call(a, "throughput", THROUGHPUT_BYTES, serialization === "json" ? 16_000 : 16_000);
    return { register: [registerA, registerB], connect, rtt, throughput: THROUGHPUT_BYTES / 1e3 / ms };
  });
}

async function trysteroRun(browser, base, trackerUrl) {
  return withPages(browser, 2, `${base}trystero.html`, async ([a, b]) => {
    const room = `room-${process.pid}-${unique++}`;
    const [joinA] = await Promise.all([call(a, "join", trackerUrl, room), call(b, "join", trackerUrl, room)]);
    const rtt = median(await call(a, "rtt", PINGS));
    const ms = await call(a, "throughput", THROUGHPUT_BYTES);
    return { join: joinA, rtt, throughput: THROUGHPUT_BYTES / 1e3 / ms };
  });
}

async function ceilingRun(browser, base) {
  return withPages(browser, 1, `${base}raw.html`, async ([page]) => {
    const ms = await call(page, "throughput", THROUGHPUT_BYTES, 64 << 10);
    return { throughput: THROUGHPUT_BYTES / 1e3 / ms };
  });
}

// ---------------------------------------------------------------------------------------------

function machine(browser) {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  return {
    cpu: `${os.cpus().length} × ${cpu}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: os.release(),
    chromium: browser.version(),
    node: process.version,
    date: new Date().toISOString(),
    runs: RUNS,
  };
}

async function main() {
  await buildSite();
  const tracker = new Tracker({ udp: false, http: false, ws: true, stats: false });
  await new Promise((ok) => tracker.listen(0, "127.0.0.1", ok));
  const trackerUrl = `ws://127.0.0.1:${tracker.ws.address().port}`;
  const server = await serveStatic(site, "/");
  const browser = await launchBrowser();
  const results = { machine: machine(browser), pageWeight: await pageWeight() };
  try {
    const collect = async (name, run) => {
      const runs = [];
      for (let i = 0; i < RUNS; i++) {
        runs.push(await run());
        process.stdout.write(`  ${name} run ${i + 1}/${RUNS}\r`);
      }
      console.log(`  ${name}: ${RUNS} runs`);
      const keys = Object.keys(runs[0]);
      return Object.fromEntries(keys.map((k) => [k, summary(runs.flatMap((r) => r[k]))]));
    };
    results.peerjs = {};
    for (const serialization of ["raw", "binary", "json"]) {
      results.peerjs[serialization] = await collect(`peerjs ${serialization}`, () =>
        peerjsRun(browser, server.url, serialization),
      );
    }
    results.trystero = await collect("trystero", () => trysteroRun(browser, server.url, trackerUrl));
    results.ceiling = await collect("raw channel", () => ceilingRun(browser, server.url));
  } finally {
    await browser.close();
    await server.close();
    tracker.close();
  }
  await writeResults(results);
}

const fmt = (x, digits = 1) => (x === undefined ? "—" : x.toFixed(digits));
const cell = (s, digits) => (s ? `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : "—");

async function writeResults(results) {
  await mkdir(join(root, "docs"), { recursive: true });
  await writeFile(join(root, "docs/benchmarks.json"), JSON.stringify(results, null, 2) + "\n");
  const m = results.machine;
  const w = results.pageWeight;
  const lines = [
    "# Benchmarks",
    "",
    "Written by `make bench`; do not edit by hand. Medians with (min–max) over the runs, each",
    "side measured in the same Chromium run against the same local stack.",
    "",
    `Machine: ${m.cpu}, ${m.memory}, Linux ${m.kernel}; Chromium ${m.chromium}; ${m.runs} runs; ${m.date}.`,
    "",
    "## Page weight",
    "",
    "| page | raw | gzip -9 |",
    "|---|---|---|",
    `| seedmesh app (html, js, wasm, css) | ${(w.seedmesh.raw / 1024).toFixed(1)} KiB | ${(w.seedmesh.gzip / 1024).toFixed(1)} KiB |`,
    `| minimal PeerJS chat (peerjs.min.js + glue) | ${(w.peerjs.raw / 1024).toFixed(1)} KiB | ${(w.peerjs.gzip / 1024).toFixed(1)} KiB |`,
    "",
    "## Connections",
    "",
    "| | register (ms) | connect (ms) | RTT, median of 200 pings (ms) | 16 MiB throughput (MB/s) |",
    "|---|---|---|---|---|",
  ];
  for (const [s, r] of Object.entries(results.peerjs)) {
    lines.push(`| PeerJS 1.5.5, ${s} | ${cell(r.register)} | ${cell(r.connect)} | ${cell(r.rtt, 2)} | ${cell(r.throughput)} |`);
  }
  const t = results.trystero;
  lines.push(`| Trystero 0.25 (torrent), join | — | ${cell(t.join)} | ${cell(t.rtt, 2)} | ${cell(t.throughput)} |`);
  lines.push(`| raw RTCDataChannel, one page (ceiling) | — | — | — | ${cell(results.ceiling.throughput)} |`);
  lines.push("", "Throughput samples (MB/s), in run order:", "");
  for (const [s, r] of Object.entries(results.peerjs)) {
    lines.push(`- PeerJS ${s}: ${r.throughput.samples.map((x) => fmt(x)).join(", ")}`);
  }
  lines.push(`- Trystero: ${t.throughput.samples.map((x) => fmt(x)).join(", ")}`);
  lines.push(`- raw channel: ${results.ceiling.throughput.samples.map((x) => fmt(x)).join(", ")}`);
  await writeFile(join(root, "docs/benchmarks.md"), lines.join("\n") + "\n");
  console.log(lines.join("\n"));
}

await main();
