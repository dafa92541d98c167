// seedmesh's benchmark: our code next to PeerJS, Trystero and a raw RTCDataChannel, measured in
// the same Chromium run against the local stack, written to docs/benchmarks.{md,json}.
//
// Run through scripts/bench.sh (`make bench`), which builds everything, starts the local stack and
// enters a private network namespace. BENCH_RUNS sets the repetitions (default 7).
// `node bench/run.mjs --render` writes docs/benchmarks.md again from docs/benchmarks.json.
import { readFileSync, readdirSync } from "node:fs";
import { cp, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import zlib, { brotliCompressSync, gzipSync } from "node:zlib";
import { join } from "node:path";
import os from "node:os";
import Tracker from "bittorrent-tracker/server";
import { build } from "esbuild";
import { root, serveStatic, launchBrowser, newPage } from "../tests/e2e/support.mjs";
import { wasmParts } from "./wasm-parts.mjs";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const THROUGHPUT_BYTES = 16 << 20;
/**
 * Sent, untimed, before the timed transfers on every connection. The first transfer on a fresh
 * connection runs at about half the speed of later ones (a raw channel: 10.8–16.4 MB/s, then
 * 16–25), as SCTP's congestion window opens and the page's code warms up; every contender gets
 * the same warm-up, so all figures are of a connection's steady pace.
 */
const WARM_UP_BYTES = 4 << 20;
const PINGS = 200;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
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

/** What the room simulator wrote, if scripts/bench.sh ran it. */
function roomReport() {
  try {
    return JSON.parse(readFileSync(join(root, "target/bench/room-sim.json"), "utf8"));
  } catch {
    return undefined;
  }
}

async function pageWeight() {
  const weigh = async (files) => {
    let raw = 0;
    let gzip = 0;
    let brotli = 0;
    for (const file of files) {
      const body = await readFile(file);
      raw += body.length;
      gzip += gzipSync(body, { level: 9 }).length;
      brotli += brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
    }
    return { raw, gzip, brotli };
  };
  const dist = join(root, "dist");
  const appFiles = (await readdir(dist))
    .filter((f) => /\.(html|js|wasm|css)$/.test(f) && f !== "404.html")
    .map((f) => join(dist, f));
  const files = {};
  for (const file of appFiles) {
    const kind = file.split(".").at(-1);
    const w = await weigh([file]);
    files[kind] = { raw: (files[kind]?.raw ?? 0) + w.raw, gzip: (files[kind]?.gzip ?? 0) + w.gzip };
  }
  const targetDir = env.CARGO_TARGET_DIR ?? join(root, "target");
  return {
    seedmesh: await weigh(appFiles),
    files,
    code: await wasmParts(join(targetDir, "wasm32-unknown-unknown/release/seedmesh-app.wasm")),
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
const freshIds = (prefix) => [`${prefix}-${process.pid}-${unique++}`, `${prefix}-${process.pid}-${unique++}`];

/** Where each dial's time went, from the dialing page and from the answering one. */
async function stages(dialer, answerer) {
  return {
    dial: await dialer.evaluate(() => window.bench.timeline()),
    answering: await answerer.evaluate(() => window.answerTimeline()),
  };
}

/**
 * `PINGS` round trips from `a`, echoed by `b`: the median round trip; the median time `b` itself
 * took per echo (from the message event to its send); and the median time `a` took from a reply's
 * message event to its next ping's send (the library's and the benchmark loop's turn), in ms.
 */
async function roundTrips(a, b) {
  await a.evaluate(() => window.echoTimes());
  await b.evaluate(() => window.echoTimes());
  const rtt = median(await call(a, "rtt", PINGS));
  const echo = median(await b.evaluate(() => window.echoTimes()));
  const turn = median(await a.evaluate(() => window.echoTimes()));
  return { rtt, echo, turn };
}

/** Only a dial, for the comparison with wasm compiled up front. */
async function connectRun(browser, base, page) {
  return withPages(browser, 2, `${base}${page}`, async ([a, b]) => {
    const ids = freshIds("connect");
    await call(a, "register", peerServer, ids[0]);
    await call(b, "register", peerServer, ids[1]);
    return { connect: await call(a, "dial", ids[1], "json") };
  });
}

async function peerjsRun(browser, base, serialization) {
  return withPages(browser, 2, `${base}peerjs.html`, async ([a, b]) => {
    const ids = freshIds("bench");
    const registerA = await call(a, "register", peerServer, ids[0]);
    const registerB = await call(b, "register", peerServer, ids[1]);
    const connect = await call(a, "dial", ids[1], serialization);
    await call(b, "waitIncoming");
    const split = await stages(a, b);
    const { rtt, echo, turn } = await roundTrips(a, b);
    await call(a, "throughput", WARM_UP_BYTES, 16_000);
    const ms = await call(a, "throughput", THROUGHPUT_BYTES, 16_000);
    return { register: [registerA, registerB], connect, rtt, echo, turn, throughput: THROUGHPUT_BYTES / 1e3 / ms, stages: split };
  });
}

async function seedmeshRun(browser, base) {
  return withPages(browser, 2, `${base}seedmesh.html`, async ([a, b]) => {
    const ids = freshIds("bench");
    const registerA = await call(a, "register", peerServer, ids[0]);
    const registerB = await call(b, "register", peerServer, ids[1]);
    const connect = await call(a, "dial", ids[1], "json");
    await call(b, "waitIncoming");
    const split = await stages(a, b);
    const { rtt, echo, turn } = await roundTrips(a, b);
    await call(a, "throughput", WARM_UP_BYTES, WARM_UP_BYTES);
    // As an application sends a file: one 16 MiB message, which seedmesh framing chunks.
    const ms = await call(a, "throughput", THROUGHPUT_BYTES, THROUGHPUT_BYTES);
    // As the app's file transfer does: 64 KiB messages.
    const ms64 = await call(a, "throughput", THROUGHPUT_BYTES, 64 << 10);
    return {
      register: [registerA, registerB],
      connect,
      rtt,
      echo,
      turn,
      throughput: THROUGHPUT_BYTES / 1e3 / ms,
      throughput64: THROUGHPUT_BYTES / 1e3 / ms64,
      stages: split,
    };
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

/** The proportional set size of every process of the browser (renderers, GPU, network), in bytes. */
function browserMemory() {
  let total = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!cmdline.startsWith("/usr/lib/chromium/chromium") && !cmdline.startsWith("/usr/bin/chromium")) continue;
      const pss = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
      if (pss) total += Number(pss[1]) * 1024;
    } catch {
      // The process ended while it was read.
    }
  }
  return total;
}

/**
 * What `count` open connections cost: one page dials another `count` times. Whole-browser
 * memory (both ends, WebRTC's native memory included) and the answering page's JS heap, after
 * garbage collection in both pages.
 */
async function memoryPerConnection(browser, base, page, count) {
  return withPages(browser, 2, `${base}${page}`, async ([hub, dialer]) => {
    const ids = freshIds("memory");
    await call(hub, "register", peerServer, ids[0]);
    await call(dialer, "register", peerServer, ids[1]);
    const cdp = [await hub.context().newCDPSession(hub), await dialer.context().newCDPSession(dialer)];
    const settle = async () => {
      await new Promise((r) => setTimeout(r, 1_000));
      for (const session of cdp) await session.send("HeapProfiler.collectGarbage");
      return { process: browserMemory(), heap: (await cdp[0].send("Runtime.getHeapUsage")).usedSize };
    };
    const before = await settle();
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
    const after = await settle();
    const per = (key) => (open ? (after[key] - before[key]) / open : 0);
    return { open, processBytes: per("process"), heapBytes: per("heap"), failure };
  });
}

async function trysteroRun(browser, base, trackerUrl) {
  return withPages(browser, 2, `${base}trystero.html`, async ([a, b]) => {
    const room = `room-${process.pid}-${unique++}`;
    const [joinA] = await Promise.all([call(a, "join", trackerUrl, room), call(b, "join", trackerUrl, room)]);
    const rtt = median(await call(a, "rtt", PINGS));
    await call(a, "throughput", WARM_UP_BYTES);
    const ms = await call(a, "throughput", THROUGHPUT_BYTES);
    return { join: joinA, rtt, throughput: THROUGHPUT_BYTES / 1e3 / ms };
  });
}

/**
 * How the raw channel sends: message sizes, and the `bufferedAmount` it waits above and goes on
 * at. The deep window is what most guides show; the shallow one keeps little in the browser's
 * queue, which Chromium's SCTP sends faster. The ceiling in a run is the fastest of them.
 */
const RAW_SIZES = [16 << 10, 64 << 10, 256 << 10];
const RAW_WINDOWS = {
  deep: { high: 1 << 20, low: 256 << 10, text: "waits above 1 MiB, goes on at 256 KiB" },
  shallow: { high: 64 << 10, low: 32 << 10, text: "waits above 64 KiB, goes on at 32 KiB" },
};
const rawKey = (size, window) => `throughput${size >> 10}${window}`;

/** A raw RTCDataChannel between two pages: 16 MiB in each size and window, then pings. */
async function rawPairRun(browser, base) {
  return withPages(browser, 2, `${base}raw.html`, async ([a, b]) => {
    const offer = await call(a, "offer");
    const answer = await call(b, "answer", offer);
    await call(a, "accept", answer);
    await call(a, "blast", WARM_UP_BYTES, 16 << 10, RAW_WINDOWS.shallow.high, RAW_WINDOWS.shallow.low);
    const result = {};
    for (const [window, { high, low }] of Object.entries(RAW_WINDOWS)) {
      for (const size of RAW_SIZES) {
        const ms = await call(a, "blast", THROUGHPUT_BYTES, size, high, low);
        result[rawKey(size, window)] = THROUGHPUT_BYTES / 1e3 / ms;
      }
    }
    result.throughput = Math.max(...Object.values(result));
    result.rtt = median(await call(a, "rtt", PINGS));
    return result;
  });
}

async function onePageRawRun(browser, base) {
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
  const results = { machine: machine(browser), pageWeight: await pageWeight(), rooms: roomReport() };
  try {
    // Each run measures every contender once, in this order, so that a contender's runs see the
    // same machine states as the others' (the machine's throughput drifts between runs).
    const contenders = {
      rawPair: () => rawPairRun(browser, server.url),
      onePage: () => onePageRawRun(browser, server.url),
      peerjsRaw: () => peerjsRun(browser, server.url, "raw"),
      peerjsBinary: () => peerjsRun(browser, server.url, "binary"),
      peerjsJson: () => peerjsRun(browser, server.url, "json"),
      seedmesh: () => seedmeshRun(browser, server.url),
      trystero: () => trysteroRun(browser, server.url, trackerUrl),
    };
    results.runs = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
    for (let i = 0; i < RUNS; i++) {
      for (const [name, run] of Object.entries(contenders)) results.runs[name].push(await run());
      process.stdout.write(`  connections: run ${i + 1}/${RUNS}\r`);
    }
    console.log(`  connections: ${RUNS} runs`);
    const collect = async (name, run) => {
      const runs = [];
      for (let i = 0; i < RUNS; i++) runs.push(await run());
      console.log(`  ${name}: ${RUNS} runs`);
      return Object.fromEntries(Object.keys(runs[0]).map((k) => [k, summary(runs.map((r) => r[k]))]));
    };
    // The same dials in a browser that compiles WebAssembly before it runs (V8 compiles each
    // function on its first call otherwise): how much of seedmesh's connect is compiling.
    const eager = await launchBrowser(["--js-flags=--no-wasm-lazy-compilation"]);
    try {
      results.eager = { seedmesh: [], peerjs: [] };
      for (let i = 0; i < RUNS; i++) {
        results.eager.seedmesh.push(await connectRun(eager, server.url, "seedmesh.html"));
        results.eager.peerjs.push(await connectRun(eager, server.url, "peerjs.html"));
      }
      console.log(`  connect with WebAssembly compiled up front: ${RUNS} runs`);
    } finally {
      await eager.close();
    }
    results.firstPeer = await collect("time to first peer", () => firstPeerRun(browser, server.url));
    results.discovery = await collect("discovery", () => discoveryRun(browser, server.url));
    results.memory = {
      seedmesh: await memoryPerConnection(browser, server.url, "seedmesh.html", CONNECTIONS),
      peerjs: await memoryPerConnection(browser, server.url, "peerjs.html", CONNECTIONS),
    };
    console.log(`  memory: ${CONNECTIONS} connections each`);
  } finally {
    await browser.close();
    await server.close();
    tracker.close();
  }
  await writeResults(results);
}

const fmt = (x, digits = 1) => (x === undefined || Number.isNaN(x) ? "—" : x.toFixed(digits));
const cell = (s, digits) => (s ? `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : "—");
const verdict = (ok) => (ok ? "met" : "**missed**");
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const list = (xs, digits = 1) => xs.map((x) => fmt(x, digits)).join(", ");

/** The per-run figures `key` of one contender's runs. */
const series = (runs, key) => runs.map((r) => r[key]);
/** `a[i] / b[i]` for each run. */
const ratios = (a, b) => a.map((x, i) => x / b[i]);
/** PeerJS's best serialization for `key`: the one with the lowest median; its runs' figures. */
const bestPeerjs = (runs, key) => {
  const all = [
    ["raw", runs.peerjsRaw],
    ["binary", runs.peerjsBinary],
    ["json", runs.peerjsJson],
  ].map(([name, r]) => ({ name, values: series(r, key) }));
  return all.reduce((best, x) => (median(x.values) < median(best.values) ? x : best));
};

/**
 * For each missed target: the measured reason, from this run's figures, and what would close it.
 * What would close it is a plan, and says so where it has not been measured.
 */
function whyMissed(results, targets, { tp, bestConnect, bestRtt }) {
  const { runs, pageWeight: w } = results;
  const missed = (name) => {
    const t = targets.find((x) => x.name.startsWith(name));
    return t && !t.met(t.ratio.median);
  };
  const out = ["", "## Why the missed targets are missed, and what would close them", ""];
  const ms = (x) => `${fmt(x)} ms`;
  const pct = (x) => `${fmt(100 * x, 0)} %`;

  if (missed("throughput ≥ 0.9× raw")) {
    const ours = median(tp.seedmesh);
    const configs = [];
    for (const [window, { text }] of Object.entries(RAW_WINDOWS)) {
      for (const size of RAW_SIZES) {
        const key = rawKey(size, window);
        configs.push({ text: `${size >> 10} KiB, ${text}`, key, median: median(series(runs.rawPair, key)) });
      }
    }
    configs.sort((a, b) => b.median - a.median);
    const best = configs[0];
    // The ceiling of a run is the fastest of its six samples: how far above the sample of the
    // configuration that is fastest on the median it lies, in the same run.
    const lift = median(runs.rawPair.map((r, i) => tp.ceiling[i] / r[best.key]));
    const spread = (Math.max(...tp.ceiling) - Math.min(...tp.ceiling)) / median(tp.ceiling);
    out.push(
      `- **Throughput against the raw channel.** seedmesh's median ${fmt(ours)} MB/s is ${fmt(ours / best.median, 2)}× the fastest raw configuration by median (${best.text}: ${fmt(best.median)} MB/s) and ` +
        `${fmt(ours / configs.at(-1).median, 2)}× the slowest (${configs.at(-1).text}: ${fmt(configs.at(-1).median)}). ` +
        `The target compares with the fastest of the six raw samples in each run, which lies a median ${pct(lift - 1)} above the sample of that configuration in the same run. ` +
        (spread > 1 - ours / median(tp.ceiling)
          ? `The ceiling itself varies from run to run by ${pct(spread)} of its median (${cell(summary(tp.ceiling))} MB/s), more than the ${pct(1 - ours / median(tp.ceiling))} gap. `
          : `The gap (${pct(1 - ours / median(tp.ceiling))}) is larger than the ceiling's own run-to-run variation (${pct(spread)} of its median). `) +
        `seedmesh sends 16 KiB frames into a 2 MiB window; its 64 KiB messages reach ${fmt(median(tp.seedmesh64))} MB/s. ` +
        "What would close it: frames as large as the association allows (`maxMessageSize`, 256 KiB in Chromium), so that the page hands the browser fewer messages per byte; " +
        "64 KiB frames were slower than 16 KiB with a 64 KiB window and have not been measured with the 2 MiB one (not tried).",
    );
  }

  if (missed("connect")) {
    const stageMedian = (r, part, key) => median(r.map((x) => x.stages[part]?.[key]).filter((v) => Number.isFinite(v)));
    const theirs = runs[{ raw: "peerjsRaw", binary: "peerjsBinary", json: "peerjsJson" }[bestConnect.name]];
    const parts = [
      ["setup (dial call to RTCPeerConnection)", "dial", "setup"],
      ["offer", "dial", "offer"],
      ["library (channel open to connection open)", "dial", "library"],
      ["answering page: offer in → browser", "answering", "toBrowser"],
      ["answering page: answer", "answering", "answer"],
    ].map(([name, part, key]) => ({ name, delta: stageMedian(runs.seedmesh, part, key) - stageMedian(theirs, part, key) }));
    const browserOnly = ["signaling", "ice", "dtls, sctp, channel"].reduce((sum, key) => sum + stageMedian(theirs, "dial", key), 0);
    const eager = summary(ratios(series(results.eager.seedmesh, "connect"), series(results.eager.peerjs, "connect")));
    const ours = median(series(runs.seedmesh, "connect"));
    const eagerOurs = median(series(results.eager.seedmesh, "connect"));
    const theirConnect = median(bestConnect.values);
    const ownStages = ["setup", "offer", "library"].reduce((sum, key) => sum + stageMedian(runs.seedmesh, "dial", key), 0);
    out.push(
      `- **Connect.** Against PeerJS ${bestConnect.name}, stage by stage (medians, seedmesh minus PeerJS): ` +
        parts.map((p) => `${p.name} ${p.delta >= 0 ? "+" : ""}${ms(p.delta)}`).join(", ") +
        `. In the browser that compiles WebAssembly before it runs, seedmesh's connect is ${ms(eagerOurs)} against ${ms(ours)} here ` +
        `(PeerJS json ${ms(median(series(results.eager.peerjs, "connect")))} against ${ms(median(series(runs.peerjsJson, "connect")))}), ${fmt(eager.median, 2)}× PeerJS json: ` +
        `V8 compiling our functions on their first call costs the first dial about ${ms(ours - eagerOurs)}. ` +
        `At the target, seedmesh would connect in ${ms(0.8 * theirConnect)}; PeerJS's signaling, ICE and DTLS/SCTP stages, which are the browser's and the PeerServer's, take ${ms(browserOnly)} of its ${ms(theirConnect)}` +
        (browserOnly >= 0.8 * theirConnect
          ? ", so doing PeerJS's steps faster cannot meet the target. "
          : `, which would leave ${ms(0.8 * theirConnect - browserOnly)} for everything else, where seedmesh's setup, offer and library stages take ${ms(ownStages)}. `) +
        "What would close it: fewer steps on the dial's path. An RTCPeerConnection with its offer made before the dial (while the page is idle) removes setup and offer from it; " +
        "a dial path run once at start-up removes the first call's compiling. Neither is built (not tried).",
    );
  }

  if (missed("RTT")) {
    const part = (r) => {
      const p = { rtt: median(series(r, "rtt")), echo: median(series(r, "echo")), turn: median(series(r, "turn")) };
      return { ...p, own: p.echo + p.turn, between: p.rtt - p.echo - p.turn };
    };
    const ours = part(runs.seedmesh);
    const peerjs = [
      ["raw", runs.peerjsRaw],
      ["binary", runs.peerjsBinary],
      ["json", runs.peerjsJson],
    ].map(([name, r]) => ({ name, ...part(r) }));
    const best = peerjs.find((p) => p.name === bestRtt.name);
    const us = (x) => `${fmt(x * 1000, 0)} µs`;
    out.push(
      `- **RTT.** seedmesh ${fmt(ours.rtt, 2)} ms, PeerJS ${best.name} ${fmt(best.rtt, 2)} ms: ${us(ours.rtt - best.rtt)} apart. ` +
        "Each round trip splits into the pages' own time (the answering page's echo, from the message event to its send(), and the pinging page's turn, from the reply's message event to the next ping's send(): the library and the benchmark loop) " +
        "and the time between the pages (from one page's send() to the other's message event: the browser's). " +
        `Own time: seedmesh ${us(ours.own)} (echo ${us(ours.echo)}, turn ${us(ours.turn)}); PeerJS ${peerjs.map((p) => `${p.name} ${us(p.own)}`).join(", ")}. ` +
        `Between the pages: seedmesh ${us(ours.between)}; PeerJS ${peerjs.map((p) => `${p.name} ${us(p.between)}`).join(", ")}. ` +
        (ours.own - best.own >= ours.between - best.between
          ? `Most of the gap is our own time: ${us(ours.own - best.own)} of the ${us(ours.rtt - best.rtt)}. `
          : `Most of the gap is between the pages, where no library code runs: ${us(ours.between - best.between)} of the ${us(ours.rtt - best.rtt)}; there, PeerJS's own serializations lie ${us(Math.max(...peerjs.map((p) => p.between)) - Math.min(...peerjs.map((p) => p.between)))} apart. `) +
        "What would close it: less of our own time per message (decoding and handing a message to the application in the channel's message handler, not a task later; not tried), " +
        "and finding what makes the browser's time between the pages differ from one page to another (not measured).",
    );
  }

  if (w.seedmesh.gzip > 150_000) {
    const wasm = w.files.wasm?.gzip ?? 0;
    const leptos = w.code.parts.find((p) => p.part.startsWith("Leptos"));
    const ours = w.code.parts.filter((p) => p.part.startsWith("seedmesh")).reduce((n, p) => n + p.bytes, 0);
    out.push(
      `- **Page weight.** The WebAssembly module is ${fmt((100 * wasm) / w.seedmesh.gzip, 0)} % of the page's gzip bytes. ` +
        `Leptos's code is ${fmt((100 * (leptos?.bytes ?? 0)) / w.code.total, 0)} % of the module's code and seedmesh's three crates ${fmt((100 * ours) / w.code.total, 0)} %, ` +
        `so Leptos alone is about ${fmt(((leptos?.bytes ?? 0) / w.code.total) * wasm / 1000, 0)} KB of gzip if it compresses like the rest, and the budget is ${fmt((100 * 150_000) / w.seedmesh.gzip, 0)} % of today's page. ` +
        "Already done: `opt-level = \"z\"`, LTO, one codegen unit, `panic = \"abort\"`, one version of every crate in the module, no float formatting in the page. " +
        "What would close it, none measured: hand-written codecs for the wire types instead of serde derives (serde's share is above); no `Debug` in release builds; " +
        "the invite, QR and settings views in a second module loaded on demand (Trunk does not split WebAssembly today); or a smaller UI layer than Leptos. " +
        `Brotli (quality 11) makes the page ${kib(w.seedmesh.brotli)}, ${fmt(w.seedmesh.brotli / w.seedmesh.gzip, 2)}× gzip's bytes, where a host serves it; GitHub Pages serves gzip.`,
    );
  }
  if (out.length === 3) out.push("Every target is met.");
  return out;
}

/** The room simulator's figures (crates/seedmesh-core/examples/room_sim.rs), with its targets. */
function roomSection(rooms) {
  const pct = (x, digits = 2) => `${(100 * x).toFixed(digits)} %`;
  const lines = [
    "",
    "## Rooms past a full mesh: the simulator",
    "",
    "Each page's gossip and bounded degree (crates/seedmesh-core/src/mesh/{gossip,degree}.rs) driven",
    "natively over a simulated network: one-way latency per pair of pages drawn from",
    `${rooms[0].latencyMs[0]}–${rooms[0].latencyMs[1]} ms, ${rooms[0].churnPerMillePerMinute / 10} % of the room leaving and as many joining each minute,`,
    "a minute to form, then one message a second from a random page, and 30 s to settle.",
    "Reach: the share of the pages present from a message's sending to the end, and for 10 s",
    "before it, that got it. Delivery: from sending to a page's getting it.",
    "Transmissions: whole messages sent on links per page per message; control messages",
    "(announcements, wants, prunes, delivery counts) are counted apart. Memory: the pages' own",
    "estimate of what their gossip and link state holds. Made by",
    "`cargo run --release -p seedmesh-core --example room_sim -- 10000` (seeds 1 and 2).",
    "",
    "| pages | loss | messages | joined / left | reach, mean (least) | delivery median / p99 | transmissions per page per message | control messages | links per page, mean (min–max) | components, most | memory per page | most hops | origin's count ÷ pages reached | simulated in |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rooms) {
    lines.push(
      `| ${r.peers.toLocaleString("en")} | ${pct(r.lossPerMillion / 1e6, 0)} | ${r.messages} | ${r.joined} / ${r.left} | ${pct(r.reachMean, 3)} (${pct(r.reachMin, 3)}) | ${r.deliveryMedianMs} / ${r.deliveryP99Ms} ms | ${r.transmissions.toFixed(2)} | ${r.control.toFixed(2)} | ${r.linksMean.toFixed(1)} (${r.linksMin}–${r.linksMax}) | ${r.componentsMax} | ${(r.memoryPerPeer / 1024).toFixed(1)} KiB | ${r.maxHops} | ${r.countRatioMedian.toFixed(2)} | ${r.seconds.toFixed(1)} s |`,
    );
  }
  const lossless = rooms.find((r) => !r.lossy);
  const lossy = rooms.find((r) => r.lossy);
  const verdictLine = (name, ok) => `| ${name} | ${ok ? "met" : "**missed**"} |`;
  lines.push(
    "",
    "| target | |",
    "|---|---|",
    verdictLine("reach 100 % without loss", lossless && lossless.reachMin === 1),
    verdictLine("reach ≥ 99.9 % at 1 % loss", lossy && lossy.reachMin >= 0.999),
    verdictLine("≤ 3 transmissions per page per message", rooms.every((r) => r.transmissions <= 3)),
    verdictLine("one component throughout", rooms.every((r) => r.componentsMax === 1)),
  );
  return lines;
}

async function writeResults(results) {
  const { runs, pageWeight: w, machine: m } = results;
  const tp = {
    seedmesh: series(runs.seedmesh, "throughput"),
    seedmesh64: series(runs.seedmesh, "throughput64"),
    ceiling: series(runs.rawPair, "throughput"),
    trystero: series(runs.trystero, "throughput"),
  };
  const bestConnect = bestPeerjs(runs, "connect");
  const bestRtt = bestPeerjs(runs, "rtt");
  const targets = [
    {
      name: "throughput ≥ 0.9× raw channel, two pages",
      ours: `${fmt(median(tp.seedmesh))} MB/s`,
      theirs: `raw channel ${fmt(median(tp.ceiling))} MB/s`,
      ratio: summary(ratios(tp.seedmesh, tp.ceiling)),
      met: (r) => r >= 0.9,
    },
    {
      name: "throughput ≥ 1.0× Trystero",
      ours: `${fmt(median(tp.seedmesh))} MB/s`,
      theirs: `Trystero ${fmt(median(tp.trystero))} MB/s`,
      ratio: summary(ratios(tp.seedmesh, tp.trystero)),
      met: (r) => r >= 1,
    },
    {
      name: "connect ≤ 0.8× PeerJS",
      ours: `${fmt(median(series(runs.seedmesh, "connect")))} ms`,
      theirs: `PeerJS ${bestConnect.name} (its best) ${fmt(median(bestConnect.values))} ms`,
      ratio: summary(ratios(series(runs.seedmesh, "connect"), bestConnect.values)),
      met: (r) => r <= 0.8,
    },
    {
      name: "RTT ≤ 1.0× PeerJS",
      ours: `${fmt(median(series(runs.seedmesh, "rtt")), 2)} ms`,
      theirs: `PeerJS ${bestRtt.name} (its best) ${fmt(median(bestRtt.values), 2)} ms`,
      ratio: summary(ratios(series(runs.seedmesh, "rtt"), bestRtt.values)),
      met: (r) => r <= 1,
    },
  ];
  const lines = [
    "# Benchmarks",
    "",
    "Written by `make bench`; do not edit by hand. Every contender measured in the same Chromium run",
    "against the same local stack, in a private network namespace; pairs of peers are two pages",
    "in separate browser contexts. Each run measures every contender once, in turn, and a ratio is",
    "taken within each run; figures are medians with (min–max) over the runs. Connect and RTT are",
    "compared with PeerJS's best serialization (lowest median), run by run. Every throughput figure",
    `follows an untimed ${WARM_UP_BYTES >> 20} MiB transfer on the same connection.`,
    "",
    `Machine: ${m.cpu}, ${m.memory}, Linux ${m.kernel}; Chromium ${m.chromium}; ${m.runs} runs; ${m.date}.`,
    "",
    "## Targets",
    "",
    "| target | seedmesh | compared with | ratio, median (min–max) of the runs | |",
    "|---|---|---|---|---|",
  ];
  for (const t of targets) {
    lines.push(`| ${t.name} | ${t.ours} | ${t.theirs} | ${cell(t.ratio, 2)} | ${verdict(t.met(t.ratio.median))} |`);
  }
  lines.push(
    `| page weight ≤ 150 KB gzip | ${kib(w.seedmesh.gzip)} (${w.seedmesh.gzip.toLocaleString("en")} B) | PeerJS chat ${kib(w.peerjs.gzip)} | ${fmt(w.seedmesh.gzip / 150_000, 2)}× the budget | ${verdict(w.seedmesh.gzip <= 150_000)} |`,
    `| time to first peer ≤ 1 s | ${fmt(results.firstPeer.firstPeer.median)} ms | — | — | ${verdict(results.firstPeer.firstPeer.median <= 1000)} |`,
    "",
    "Ratios per run (seedmesh ÷ the other):",
    "",
  );
  for (const t of targets) lines.push(`- ${t.name}: ${list(t.ratio.samples, 2)}`);
  lines.push(...whyMissed(results, targets, { tp, bestConnect, bestRtt }));
  const rows = [
    ["seedmesh (Rust; throughput as one 16 MiB message)", runs.seedmesh],
    ["PeerJS 1.5.5, raw (16,000-byte messages)", runs.peerjsRaw],
    ["PeerJS 1.5.5, binary (16,000-byte messages)", runs.peerjsBinary],
    ["PeerJS 1.5.5, json (16,000-byte messages)", runs.peerjsJson],
  ];
  const s = (runs, key) => summary(series(runs, key));
  lines.push(
    "",
    "## Connections",
    "",
    "| | register (ms) | connect (ms) | RTT, median of 200 pings (ms) | 16 MiB throughput (MB/s) |",
    "|---|---|---|---|---|",
  );
  for (const [name, r] of rows) {
    lines.push(`| ${name} | ${cell(summary(r.flatMap((x) => x.register)))} | ${cell(s(r, "connect"))} | ${cell(s(r, "rtt"), 2)} | ${cell(s(r, "throughput"))} |`);
  }
  lines.push(
    `| seedmesh, 64 KiB messages (as the app sends files) | — | — | — | ${cell(s(runs.seedmesh, "throughput64"))} |`,
    `| Trystero 0.25 (torrent; connect = join to peer) | — | ${cell(s(runs.trystero, "join"))} | ${cell(s(runs.trystero, "rtt"), 2)} | ${cell(s(runs.trystero, "throughput"))} |`,
  );
  lines.push(`| raw RTCDataChannel, two pages: 8-byte pings | — | — | ${cell(s(runs.rawPair, "rtt"), 2)} | — |`);
  for (const [window, { text }] of Object.entries(RAW_WINDOWS)) {
    for (const size of RAW_SIZES) {
      lines.push(`| raw RTCDataChannel, two pages, ${size >> 10} KiB messages, ${text} | — | — | — | ${cell(s(runs.rawPair, rawKey(size, window)))} |`);
    }
  }
  lines.push(
    `| raw RTCDataChannel, both ends in one page, 64 KiB messages, deep window | — | — | — | ${cell(s(runs.onePage, "throughput"))} |`,
    "",
    "The ceiling in a run is the fastest of the raw channel's sizes and windows.",
    "",
    "Throughput samples (MB/s), in run order:",
    "",
    `- seedmesh, one 16 MiB message: ${list(tp.seedmesh)}`,
    `- seedmesh, 64 KiB messages: ${list(tp.seedmesh64)}`,
    `- raw channel, two pages, the fastest size and window: ${list(tp.ceiling)}`,
  );
  for (const [window, { text }] of Object.entries(RAW_WINDOWS)) {
    for (const size of RAW_SIZES) {
      lines.push(`- raw channel, two pages, ${size >> 10} KiB, ${text}: ${list(series(runs.rawPair, rawKey(size, window)))}`);
    }
  }
  lines.push(
    `- Trystero: ${list(tp.trystero)}`,
    `- PeerJS raw: ${list(series(runs.peerjsRaw, "throughput"))}`,
    `- PeerJS binary: ${list(series(runs.peerjsBinary, "throughput"))}`,
    `- PeerJS json: ${list(series(runs.peerjsJson, "throughput"))}`,
    `- raw channel, one page: ${list(series(runs.onePage, "throughput"))}`,
    "",
    "Connect samples (ms), in run order:",
    "",
  );
  for (const [name, r] of rows) lines.push(`- ${name}: ${list(series(r, "connect"))}`);
  lines.push("", "RTT samples (ms), in run order:", "");
  for (const [name, r] of rows) lines.push(`- ${name}: ${list(series(r, "rtt"), 2)}`);
  lines.push(
    "",
    "The echoing page's own time per ping, from the data-channel message event to its send()",
    "(median of each run's median, in µs; timeline.js): " +
      rows.map(([name, r]) => `${name.replace(/ \(.*\)$/, "").replace(/; .*$/, "")} ${fmt(median(series(r, "echo")) * 1000, 0)}`).join(", ") +
      ".",
  );
  const eagerSeedmesh = series(results.eager.seedmesh, "connect");
  const eagerPeerjs = series(results.eager.peerjs, "connect");
  lines.push(
    "",
    "Connect in a second Chromium started with `--js-flags=--no-wasm-lazy-compilation` (V8",
    "otherwise compiles each WebAssembly function on its first call, during the first dial),",
    `${RUNS} runs, PeerJS json: seedmesh ${cell(summary(eagerSeedmesh))} ms, PeerJS ${cell(summary(eagerPeerjs))} ms,` +
      ` ratio ${cell(summary(ratios(eagerSeedmesh, eagerPeerjs)), 2)}.`,
  );

  // Where a dial's time goes.
  const dialStages = ["setup", "offer", "signaling", "ice", "dtls, sctp, channel", "library"];
  const answerStages = ["toBrowser", "answer", "toSocket"];
  const stageCell = (r, part, key) => cell(summary(r.map((x) => x.stages[part]?.[key]).filter((v) => Number.isFinite(v))));
  lines.push(
    "",
    "## Where a dial's time goes",
    "",
    "Medians (min–max) in ms, timed in the pages by wrapping `RTCPeerConnection` and `WebSocket`",
    "(bench/pages/timeline.js), the same way for every library. Dialing page: **setup** from the",
    "dial call to the `RTCPeerConnection`; **offer** to the offer set as local description;",
    "**signaling** to the answer set (the PeerServer both ways and the answering page);",
    "**ice** to ICE connected; **dtls, sctp, channel** to the channel's `open`; **library** from",
    "`open` to the library saying the connection is open. Answering page: **offer in → browser**",
    "from the OFFER on the socket to `setRemoteDescription`; **answer** to the answer set;",
    "**→ socket** to the ANSWER sent.",
    "",
    `| | ${dialStages.join(" | ")} | offer in → browser | answer | → socket |`,
    `|---|${dialStages.map(() => "---").join("|")}|---|---|---|`,
  );
  for (const [name, r] of rows) {
    lines.push(
      `| ${name.replace(/ \(.*\)$/, "").replace(/; .*$/, "")} | ${dialStages.map((k) => stageCell(r, "dial", k)).join(" | ")} | ${answerStages.map((k) => stageCell(r, "answering", k)).join(" | ")} |`,
    );
  }

  lines.push(
    "",
    "## Page weight",
    "",
    "| page | raw | gzip -9 |",
    "|---|---|---|",
    `| seedmesh app (html, js, wasm, css) | ${kib(w.seedmesh.raw)} | ${kib(w.seedmesh.gzip)} |`,
    ...Object.entries(w.files).map(([kind, f]) => `| — its ${kind} | ${kib(f.raw)} | ${kib(f.gzip)} |`),
    `| minimal PeerJS chat (peerjs.min.js + glue) | ${kib(w.peerjs.raw)} | ${kib(w.peerjs.gzip)} |`,
    "",
    "What the app's WebAssembly code is made of: function body bytes of the linker's output",
    "(before wasm-bindgen and wasm-opt, which shrink it to the shipped file), by the crate each",
    "function's name starts with (bench/wasm-parts.mjs). Generic code counts for the crate that",
    "defines it (`Vec<T>` for alloc, whatever `T` is), so the standard library's share includes",
    "code made for the other crates.",
    "",
    "| part | code | share | largest crates |",
    "|---|---|---|---|",
    ...w.code.parts.map(
      (p) =>
        `| ${p.part} | ${kib(p.bytes)} | ${fmt((100 * p.bytes) / w.code.total)} % | ${p.crates.slice(0, 4).map(([c, n]) => `${c} ${kib(n)}`).join(", ")} |`,
    ),
    `| data section (strings, tables) | ${kib(w.code.data)} | — | — |`,
  );
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
  );
  const mem = results.memory;
  const memRow = (name, r) =>
    `| ${name} | ${r.open} | ${kib(r.processBytes)} | ${kib(r.heapBytes)} | ${r.failure ?? "—"} |`;
  lines.push(
    "",
    "## Memory per connection",
    "",
    "One page dials another until both hold the connections; then both pages collect garbage.",
    "**Browser** is the growth of the proportional set size (PSS) of every Chromium process",
    "(renderers, GPU and network processes: WebRTC's native memory included), for both ends of",
    "each connection; **JS heap** is the answering page's.",
    "",
    "| | connections | browser, per connection | JS heap, per connection | dial failure |",
    "|---|---|---|---|---|",
    memRow("seedmesh", mem.seedmesh),
    memRow("PeerJS 1.5.5, json", mem.peerjs),
  );
  if (results.rooms) lines.push(...roomSection(results.rooms));
  await mkdir(join(root, "docs"), { recursive: true });
  await writeFile(join(root, "docs/benchmarks.json"), JSON.stringify(results, null, 2) + "\n");
  await writeFile(join(root, "docs/benchmarks.md"), lines.join("\n") + "\n");
  console.log(lines.join("\n"));
}

if (process.argv.includes("--render")) {
  // Writes docs/benchmarks.md again from docs/benchmarks.json (and the room simulator's latest
  // figures, which are deterministic for their seeds), without measuring again.
  const results = JSON.parse(readFileSync(join(root, "docs/benchmarks.json"), "utf8"));
  await writeResults({ ...results, rooms: roomReport() ?? results.rooms });
} else {
  await main();
}
