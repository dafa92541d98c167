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
const PEERS_PER_PAGE = Number(process.env.BENCH_PEERS ?? 100);
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
  await cp(join(root, "target/bench/seedmesh"), join(site, "seedmesh"), { recursive: true });
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

async function seedmeshRun(browser, base) {
  return withPages(browser, 2, `${base}seedmesh.html`, async ([a, b]) => {
    const ids = [`bench-${process.pid}-${unique++}`, `bench-${process.pid}-${unique++}`];
    const registerA = await call(a, "register", peerServer, ids[0]);
    const registerB = await call(b, "register", peerServer, ids[1]);
    const connect = await call(a, "dial", ids[1], "json");
    await call(b, "waitIncoming");
    const rtt = median(await call(a, "rtt", PINGS));
    const ms = await call(a, "throughput", THROUGHPUT_BYTES, 64 << 10);
    return { register: [registerA, registerB], connect, rtt, throughput: THROUGHPUT_BYTES / 1e3 / ms };
  });
}

/** From navigation to the first connected peer in the app, with one page already there. */
async function firstPeerRun(browser, base) {
  const first = await newPage(browser);
  const second = await newPage(browser);
  try {
    await first.page.goto(`${base}app/`);
    await first.page.getByTestId("signaling").filter({ hasText: "registered as" }).waitFor({ timeout: 20_000 });
    // Note the moment the first connected peer appears, from the page's own clock (0 is the
    // start of navigation).
    await second.page.addInitScript(() => {
      new MutationObserver((_, observer) => {
        if (document.querySelector("[data-testid=peer-list] li[data-state=connected]")) {
          window.firstPeerAt = performance.now();
          observer.disconnect();
        }
      }).observe(document, { subtree: true, childList: true, attributes: true });
    });
    await second.page.goto(`${base}app/`);
    const connectedAt = await second.page.waitForFunction(() => window.firstPeerAt, null, {
      timeout: 20_000,
    });
    return { firstPeer: await connectedAt.jsonValue() };
  } finally {
    await first.context.close();
    await second.context.close();
  }
}

/** DoH lookups of the dev zone through the web crate's discover(). */
async function discoveryRun(browser, base) {
  return withPages(browser, 1, `${base}seedmesh.html`, async ([page]) => {
    const domain = "seedmesh.test";
    const good = env.SEEDMESH_DOH_URL;
    const cold = await call(page, "lookup", domain, good, false);
    await call(page, "lookup", domain, good, true);
    const warm = await call(page, "lookup", domain, good, true);
    const failover = await call(page, "lookup", domain, `${env.SEEDMESH_DOH_DOWN_URL},${good}`, false);
    const hanging = await call(page, "lookup", domain, `${env.SEEDMESH_DOH_HANG_URL},${good}`, false);
    return { cold, warm, failover, hanging };
  });
}

/** How many connections one page holds open, and the JS heap each costs. */
async function peersPerPage(browser, base, count) {
  return withPages(browser, 2, `${base}seedmesh.html`, async ([hub, dialer]) => {
    const ids = [`hub-${process.pid}-${unique++}`, `dialer-${process.pid}-${unique++}`];
    await call(hub, "register", peerServer, ids[0]);
    await call(dialer, "register", peerServer, ids[1]);
    const cdp = await hub.context().newCDPSession(hub);
    const heap = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      return (await cdp.send("Runtime.getHeapUsage")).usedSize;
    };
    const before = await heap();
    let open = 0;
    let failure = null;
    for (; open < count; open++) {
      try {
        await call(dialer, "dial", ids[0], "json");
      } catch (error) {
        failure = String(error.message ?? error).slice(0, 200);
        break;
      }
    }
    const after = await heap();
    return { open, bytesPerConnection: open ? (after - before) / open : 0, failure };
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
    results.seedmesh = await collect("seedmesh", () => seedmeshRun(browser, server.url));
    results.trystero = await collect("trystero", () => trysteroRun(browser, server.url, trackerUrl));
    results.firstPeer = await collect("time to first peer", () => firstPeerRun(browser, server.url));
    results.discovery = await collect("discovery", () => discoveryRun(browser, server.url));
    results.peersPerPage = await peersPerPage(browser, server.url, PEERS_PER_PAGE);
    console.log(`  peers per page: ${results.peersPerPage.open}`);
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

const ratio = (a, b) => (a !== undefined && b ? a / b : undefined);
const verdict = (ok) => (ok === undefined ? "—" : ok ? "met" : "**missed**");

async function writeResults(results) {
  await mkdir(join(root, "docs"), { recursive: true });
  await writeFile(join(root, "docs/benchmarks.json"), JSON.stringify(results, null, 2) + "\n");
  const m = results.machine;
  const w = results.pageWeight;
  const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
  const sm = results.seedmesh;
  const pj = results.peerjs;
  const bestPeerjs = (key) => Math.min(...Object.values(pj).map((r) => r[key].median));
  const lines = [
    "# Benchmarks",
    "",
    "Written by `make bench`; do not edit by hand. Medians with (min–max) over the runs; every side",
    "measured in the same Chromium run against the same local stack, in a loopback-only network",
    "namespace. Pairs of peers are two pages in separate browser contexts.",
    "",
    `Machine: ${m.cpu}, ${m.memory}, Linux ${m.kernel}; Chromium ${m.chromium}; ${m.runs} runs; ${m.date}.`,
    "",
    "## Targets",
    "",
    "| target | seedmesh | compared with | ratio | |",
    "|---|---|---|---|---|",
  ];
  const throughputVsTrystero = ratio(sm.throughput.median, results.trystero.throughput.median);
  const connectVsPeerjs = ratio(sm.connect.median, bestPeerjs("connect"));
  const rttVsPeerjs = ratio(sm.rtt.median, bestPeerjs("rtt"));
  lines.push(
    `| throughput ≥ Trystero | ${fmt(sm.throughput.median)} MB/s | Trystero ${fmt(results.trystero.throughput.median)} MB/s | ${fmt(throughputVsTrystero, 2)}× | ${verdict(throughputVsTrystero >= 1)} |`,
    `| connect ≤ 0.8× PeerJS | ${fmt(sm.connect.median)} ms | PeerJS (best serialization) ${fmt(bestPeerjs("connect"))} ms | ${fmt(connectVsPeerjs, 2)}× | ${verdict(connectVsPeerjs <= 0.8)} |`,
    `| RTT ≤ PeerJS | ${fmt(sm.rtt.median, 2)} ms | PeerJS (best serialization) ${fmt(bestPeerjs("rtt"), 2)} ms | ${fmt(rttVsPeerjs, 2)}× | ${verdict(rttVsPeerjs <= 1)} |`,
    `| page weight ≤ 150 KB gzip | ${kib(w.seedmesh.gzip)} | PeerJS chat ${kib(w.peerjs.gzip)} | ${fmt(ratio(w.seedmesh.gzip, w.peerjs.gzip), 2)}× | ${verdict(w.seedmesh.gzip <= 150_000)} |`,
    `| time to first peer ≤ 1 s | ${fmt(results.firstPeer.firstPeer.median)} ms | — | — | ${verdict(results.firstPeer.firstPeer.median <= 1000)} |`,
    "",
    `Throughput against the raw channel ceiling: ${fmt(ratio(sm.throughput.median, results.ceiling.throughput.median), 2)}×; against PeerJS \`raw\`: ${fmt(ratio(sm.throughput.median, pj.raw.throughput.median), 2)}×.`,
    "",
    "## Page weight",
    "",
    "| page | raw | gzip -9 |",
    "|---|---|---|",
    `| seedmesh app (html, js, wasm, css) | ${kib(w.seedmesh.raw)} | ${kib(w.seedmesh.gzip)} |`,
    `| minimal PeerJS chat (peerjs.min.js + glue) | ${kib(w.peerjs.raw)} | ${kib(w.peerjs.gzip)} |`,
    "",
    "## Connections",
    "",
    "| | register (ms) | connect (ms) | RTT, median of 200 pings (ms) | 16 MiB throughput (MB/s) |",
    "|---|---|---|---|---|",
    `| seedmesh (Rust, seedmesh framing, 64 KiB messages) | ${cell(sm.register)} | ${cell(sm.connect)} | ${cell(sm.rtt, 2)} | ${cell(sm.throughput)} |`,
  );
  for (const [s, r] of Object.entries(pj)) {
    lines.push(`| PeerJS 1.5.5, ${s} (16,000-byte messages) | ${cell(r.register)} | ${cell(r.connect)} | ${cell(r.rtt, 2)} | ${cell(r.throughput)} |`);
  }
  const t = results.trystero;
  lines.push(`| Trystero 0.25 (torrent; connect = join to peer) | — | ${cell(t.join)} | ${cell(t.rtt, 2)} | ${cell(t.throughput)} |`);
  lines.push(`| raw RTCDataChannel, one page, 64 KiB messages (ceiling) | — | — | — | ${cell(results.ceiling.throughput)} |`);
  lines.push("", "Throughput samples (MB/s), in run order:", "");
  lines.push(`- seedmesh: ${sm.throughput.samples.map((x) => fmt(x)).join(", ")}`);
  for (const [s, r] of Object.entries(pj)) {
    lines.push(`- PeerJS ${s}: ${r.throughput.samples.map((x) => fmt(x)).join(", ")}`);
  }
  lines.push(`- Trystero: ${t.throughput.samples.map((x) => fmt(x)).join(", ")}`);
  lines.push(`- raw channel: ${results.ceiling.throughput.samples.map((x) => fmt(x)).join(", ")}`);
  const d = results.discovery;
  lines.push(
    "",
    "## Discovery and joining",
    "",
    "| | ms |",
    "|---|---|",
    `| cold DoH lookup (no cache) | ${cell(d.cold)} |`,
    `| warm lookup (localStorage cache) | ${cell(d.warm, 2)} |`,
    `| failover, one of two resolvers down | ${cell(d.failover)} |`,
    `| one of two resolvers hanging | ${cell(d.hanging)} |`,
    `| time to first peer: app page load to first open channel, zero configuration | ${cell(results.firstPeer.firstPeer)} |`,
    "",
    "## Peers per page",
    "",
    `One page accepted ${results.peersPerPage.open} connections from another` +
      (results.peersPerPage.failure ? ` before a dial failed (${results.peersPerPage.failure})` : " (the benchmark's limit)") +
      `; each cost ${kib(results.peersPerPage.bytesPerConnection)} of JS heap after garbage collection` +
      " (browser-internal WebRTC memory is not in the JS heap).",
  );
  await writeFile(join(root, "docs/benchmarks.md"), lines.join("\n") + "\n");
  console.log(lines.join("\n"));
}

await main();
