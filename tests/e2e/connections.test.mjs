// Interop: our Rust peer (crates/seedmesh-web/examples/e2e_harness.rs, built by
// scripts/build-e2e-harness.sh) and a real PeerJS 1.5.5 client, each in its own page, on the
// local stack's PeerServer and TURN relay.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { root, serveStatic, launchBrowser, newPage } from "./support.mjs";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run through scripts/browser-tests.sh, or source the stack's env`);
  return value;
};
const peerServer = env("SEEDMESH_PEERSERVER_URL");
const turn = [
  {
    urls: env("SEEDMESH_TURN_URL"),
    username: env("SEEDMESH_TURN_USERNAME"),
    credential: env("SEEDMESH_TURN_CREDENTIAL"),
  },
];

let server;
let browser;
let contexts = [];
let problems = [];

before(async () => {
  server = await serveStatic(root, "/");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

// No page may throw: a PeerJS page that cannot read a frame throws an uncaught error.
afterEach(async () => {
  const thrown = problems.filter((p) => p.startsWith("page error"));
  await Promise.all(contexts.map((c) => c.close()));
  contexts = [];
  problems = [];
  assert.deepEqual(thrown, []);
});

async function open(path, ready) {
  const { page, context } = await newPage(browser);
  contexts.push(context);
  page.on("pageerror", (error) => problems.push(`page error: ${path}: ${error.message}`));
  page.on("console", (m) => {
    if (process.env.SEEDMESH_E2E_VERBOSE) console.log(`[${path}] ${m.text()}`);
  });
  await page.goto(`${server.url}tests/e2e/interop/${path}`);
  await page.waitForFunction(ready, null, { timeout: 15_000 });
  return page;
}

/** A page with our Rust peer, registered; `{page, id}`. */
async function rustPeer({ id = null, iceServers = [], relayOnly = false } = {}) {
  const page = await open("seedmesh.html", () => window.harnessReady === true);
  const peerId = await page.evaluate(
    ([url, id, ice, relay]) => harness.connect(url, id, null, JSON.stringify(ice), relay),
    [peerServer, id, iceServers, relayOnly],
  );
  return { page, id: peerId };
}

/** A page with a PeerJS client, registered; `{page, id}`. */
async function peerjsPeer({ iceServers = [], relayOnly = false } = {}) {
  const page = await open("peerjs.html", () => typeof window.pj === "object" && typeof peerjs === "object");
  const peerId = await page.evaluate(([url, ice, relay]) => pj.open(url, null, ice, relay), [peerServer, iceServers, relayOnly]);
  return { page, id: peerId };
}

const rust = {
  dial: (p, to, serialization, metadata = null) =>
    p.page.evaluate(([to, s, m]) => harness.dial(to, s, m), [to, serialization, metadata && JSON.stringify(metadata)]),
  accept: async (p) => {
    const event = await p.page.evaluate(() => harness.next_peer_event(15_000));
    assert.equal(event.kind, "incoming", JSON.stringify(event));
    return event;
  },
  peerEvent: (p, ms) => p.page.evaluate((ms) => harness.next_peer_event(ms), ms),
  next: (p, h) => p.page.evaluate((h) => harness.next_event(h, 10_000), h),
  sendJson: (p, h, v) => p.page.evaluate(([h, v]) => harness.send_json(h, JSON.stringify(v)), [h, v]),
  sendText: (p, h, t) => p.page.evaluate(([h, t]) => harness.send_text(h, t), [h, t]),
  sendBytes: (p, h, b) => p.page.evaluate(([h, b]) => harness.send_bytes(h, new Uint8Array(b)), [h, b]),
  diagnostics: async (p, h) => JSON.parse(await p.page.evaluate((h) => harness.diagnostics(h), h)),
  rtt: (p, h, n) => p.page.evaluate(([h, n]) => harness.measure_rtt(h, n).then((a) => [...a]), [h, n]),
};

const js = {
  dial: (p, to, serialization, metadata = null) =>
    p.page.evaluate(([to, s, m]) => pj.connect(to, s, m), [to, serialization, metadata]),
  accept: (p) => p.page.evaluate(() => pj.accept()),
  next: (p, h) => p.page.evaluate((h) => pj.nextMessage(h), h),
  send: (p, h, v) => p.page.evaluate(([h, v]) => pj.send(h, v), [h, v]),
  sendBytes: (p, h, b) => p.page.evaluate(([h, b]) => pj.sendBytes(h, b), [h, b]),
};

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];

/** Messages both ways on a json connection between our handle `r` and PeerJS handle `j`. */
async function exchangeJson(r, rh, j, jh) {
  await rust.sendJson(r, rh, { hello: "peerjs", n: [1, 2, 3], nested: { ü: true } });
  assert.deepEqual(await js.next(j, jh), { kind: "json", value: { hello: "peerjs", n: [1, 2, 3], nested: { ü: true } } });
  await rust.sendText(r, rh, "a string is a JSON string");
  assert.deepEqual(await js.next(j, jh), { kind: "text", value: "a string is a JSON string" });
  await js.send(j, jh, { from: "peerjs", list: ["a", 1, null] });
  assert.deepEqual(await rust.next(r, rh), { kind: "json", value: { from: "peerjs", list: ["a", 1, null] } });
  await js.send(j, jh, "plain");
  assert.deepEqual(await rust.next(r, rh), { kind: "json", value: "plain" });
}

/** Messages both ways on a raw connection. */
async function exchangeRaw(r, rh, j, jh) {
  await rust.sendText(r, rh, "raw text from rust");
  assert.deepEqual(await js.next(j, jh), { kind: "text", value: "raw text from rust" });
  await rust.sendBytes(r, rh, [0, 1, 2, 254, 255]);
  assert.deepEqual(await js.next(j, jh), { kind: "bytes", value: [0, 1, 2, 254, 255] });
  await js.send(j, jh, "raw text from peerjs");
  assert.deepEqual(await rust.next(r, rh), { kind: "text", value: "raw text from peerjs" });
  await js.sendBytes(j, jh, [9, 8, 7]);
  assert.deepEqual(await rust.next(r, rh), { kind: "bytes", value: [9, 8, 7] });
}

test("our Rust peer dials a PeerJS client: json and raw, both ways", { timeout: 90_000 }, async () => {
  const r = await rustPeer();
  const j = await peerjsPeer();

  const [rh, jIncoming] = await Promise.all([rust.dial(r, j.id, "json", { topic: "chat" }), js.accept(j)]);
  assert.equal(jIncoming.peer, r.id);
  assert.equal(jIncoming.serialization, "json");
  assert.deepEqual(jIncoming.metadata, { topic: "chat" });
  await exchangeJson(r, rh, j, jIncoming.handle);
  const d = await rust.diagnostics(r, rh);
  assert.equal(d.seedmeshPeer, false);
  assert.equal(d.localCandidateType, "host");

  // PeerJS's close message ends the connection on our side with a clear reason.
  await j.page.evaluate((h) => pj.close(h, true), jIncoming.handle);
  assert.deepEqual(await rust.next(r, rh), { kind: "closed", reason: "the peer closed the connection" });

  const [rawh, jRaw] = await Promise.all([rust.dial(r, j.id, "raw"), js.accept(j)]);
  assert.equal(jRaw.serialization, "raw");
  await exchangeRaw(r, rawh, j, jRaw.handle);
  // Our close reaches PeerJS.
  await r.page.evaluate((h) => harness.close(h), rawh);
  await j.page.evaluate((h) => pj.waitClosed(h), jRaw.handle);
});

test("a PeerJS client dials our Rust peer: json and raw, both ways", { timeout: 90_000 }, async () => {
  const r = await rustPeer();
  const j = await peerjsPeer();

  const [jh, incoming] = await Promise.all([js.dial(j, r.id, "json", { from: "js" }), rust.accept(r)]);
  assert.equal(incoming.peer, j.id);
  assert.equal(incoming.serialization, "json");
  assert.deepEqual(incoming.metadata, { from: "js" });
  await exchangeJson(r, incoming.handle, j, jh);

  const [jRaw, rawIncoming] = await Promise.all([js.dial(j, r.id, "raw"), rust.accept(r)]);
  assert.equal(rawIncoming.serialization, "raw");
  await exchangeRaw(r, rawIncoming.handle, j, jRaw);

  // PeerJS closing the channel is seen promptly here.
  await j.page.evaluate((h) => pj.close(h, false), jRaw);
  const closed = await rust.next(r, rawIncoming.handle);
  assert.equal(closed.kind, "closed", JSON.stringify(closed));
});

test("connect time and round trips: Rust to Rust and Rust to PeerJS", { timeout: 120_000 }, async () => {
  const a = await rustPeer();
  const b = await rustPeer();
  const j = await peerjsPeer();
  const samples = { rustRust: [], rustPeerjs: [] };
  for (let i = 0; i < 5; i++) {
    const started = Date.now();
    const [ah, incoming] = await Promise.all([rust.dial(a, b.id, "json"), rust.accept(b)]);
    const wall = Date.now() - started;
    await b.page.evaluate((h) => harness.echo(h), incoming.handle);
    const rtts = await rust.rtt(a, ah, 30);
    const d = await rust.diagnostics(a, ah);
    samples.rustRust.push({ connectMs: d.connectTimeMs, wallMs: wall, rttMedianMs: median(rtts), iceRttMs: d.rttMs });
    await a.page.evaluate((h) => harness.close(h), ah);

    const started2 = Date.now();
    const [jh, jIncoming] = await Promise.all([rust.dial(a, j.id, "json"), js.accept(j)]);
    const wall2 = Date.now() - started2;
    await j.page.evaluate((h) => pj.echo(h), jIncoming.handle);
    const rtts2 = await rust.rtt(a, jh, 30);
    const d2 = await rust.diagnostics(a, jh);
    samples.rustPeerjs.push({ connectMs: d2.connectTimeMs, wallMs: wall2, rttMedianMs: median(rtts2), iceRttMs: d2.rttMs });
    await a.page.evaluate((h) => harness.close(h), jh);
  }
  for (const [name, list] of Object.entries(samples)) {
    console.log(
      `${name}: connect ${list.map((s) => s.connectMs.toFixed(0)).join(", ")} ms;` +
        ` message RTT median ${list.map((s) => s.rttMedianMs.toFixed(2)).join(", ")} ms;` +
        ` ICE RTT ${list.map((s) => s.iceRttMs).join(", ")} ms`,
    );
    for (const s of list) {
      assert.ok(s.connectMs > 0 && s.connectMs < 5_000, `connect time ${s.connectMs}`);
      assert.ok(s.rttMedianMs > 0 && s.rttMedianMs < 100, `RTT ${s.rttMedianMs}`);
    }
  }
});

test("after the PeerServer restarts, our peer keeps its ID and its open connections", { timeout: 90_000 }, async () => {
  const r = await rustPeer();
  const j = await peerjsPeer();
  const [rh, jIncoming] = await Promise.all([rust.dial(r, j.id, "json"), js.accept(j)]);
  await rust.sendJson(r, rh, { before: "restart" });
  assert.deepEqual(await js.next(j, jIncoming.handle), { kind: "json", value: { before: "restart" } });

  execFileSync(join(root, "scripts/stack.sh"), ["restart-peerserver", env("SEEDMESH_STACK_DIR")], { stdio: "inherit" });

  const seen = [];
  while (!seen.includes("reregistered")) {
    const event = await rust.peerEvent(r, 20_000);
    assert.notEqual(event.kind, "timeout", `no re-registration; events so far: ${seen}`);
    assert.notEqual(event.kind, "failed", JSON.stringify(event));
    seen.push(event.kind);
  }
  assert.equal(seen[0], "disconnected");
  assert.equal(await r.page.evaluate(() => harness.is_registered()), true);

  // The data channel never needed the server.
  await js.send(j, jIncoming.handle, { after: "restart" });
  assert.deepEqual(await rust.next(r, rh), { kind: "json", value: { after: "restart" } });
  await rust.sendJson(r, rh, { still: "here" });
  assert.deepEqual(await js.next(j, jIncoming.handle), { kind: "json", value: { still: "here" } });

  // A newcomer reaches us under the same ID on the restarted server.
  const k = await peerjsPeer();
  const [kh, incoming] = await Promise.all([js.dial(k, r.id, "json"), rust.accept(r)]);
  assert.equal(incoming.peer, k.id);
  await js.send(k, kh, { hi: "again" });
  assert.deepEqual(await rust.next(r, incoming.handle), { kind: "json", value: { hi: "again" } });
});

test("dialing a peer that is not on the PeerServer fails with 'peer unavailable'", { timeout: 60_000 }, async () => {
  const r = await rustPeer();
  const started = Date.now();
  const error = await r.page.evaluate(() => harness.dial("nobody-here-123", "json", null).then(() => "connected", (e) => String(e)));
  assert.match(error, /^peer unavailable/);
  console.log(`peer unavailable after ${Date.now() - started} ms: ${error}`);
});

/** FNV-1a, 32 bits, of the bytes (i * 31 + seed) % 256 for i below `len`, as hex. */
function madeFnv(len, seed) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < len; i++) hash = Math.imul(hash ^ ((i * 31 + seed) % 256), 16777619) >>> 0;
  return hash.toString(16);
}

/** Messages both ways on a BinaryPack connection, and 5 MiB each way (PeerJS's chunks). */
async function exchangeBinary(r, rh, j, jh) {
  await rust.sendJson(r, rh, { hello: "binary", n: [1, 2.5, null, -70000], nested: { ü: true } });
  assert.deepEqual(await js.next(j, jh), { kind: "json", value: { hello: "binary", n: [1, 2.5, null, -70000], nested: { ü: true } } });
  await rust.sendText(r, rh, "text from rust");
  assert.deepEqual(await js.next(j, jh), { kind: "text", value: "text from rust" });
  await rust.sendBytes(r, rh, [0, 1, 2, 254, 255]);
  assert.deepEqual(await js.next(j, jh), { kind: "bytes", value: [0, 1, 2, 254, 255] });
  await js.send(j, jh, { from: "peerjs", list: ["a", 1, null, 1.25] });
  assert.deepEqual(await rust.next(r, rh), { kind: "json", value: { from: "peerjs", list: ["a", 1, null, 1.25] } });
  await js.send(j, jh, "plain");
  assert.deepEqual(await rust.next(r, rh), { kind: "text", value: "plain" });
  await js.sendBytes(j, jh, [9, 8, 7]);
  assert.deepEqual(await rust.next(r, rh), { kind: "bytes", value: [9, 8, 7] });
  // An object with bytes inside, as PeerJS users send files.
  await j.page.evaluate((h) => pj.send(h, { name: "a.bin", file: new Uint8Array([5, 6]) }), jh);
  const packed = await rust.next(r, rh);
  assert.equal(packed.kind, "packed", JSON.stringify(packed));
  assert.match(packed.value, /"file", Binary\(\[5, 6\]\)/);
  // 5 MiB each way: PeerJS splits them into chunks of 16,300 bytes, and so do we.
  const big = 5 * 1024 * 1024;
  await r.page.evaluate(([h, n]) => harness.send_made_bytes(h, n, 11), [rh, big]);
  assert.deepEqual(await j.page.evaluate((h) => pj.nextMessage(h, 60_000), jh), { kind: "bytes", len: big, fnv: madeFnv(big, 11) });
  await j.page.evaluate(([h, n]) => pj.sendMadeBytes(h, n, 13), [jh, big]);
  assert.deepEqual(await r.page.evaluate((h) => harness.next_event(h, 60_000), rh), { kind: "bytes", len: big, fnv: madeFnv(big, 13) });
}

test("PeerJS's default serialization (BinaryPack): a client with no options dials our peer, ours dials it, 5 MiB each way", { timeout: 180_000 }, async () => {
  const r = await rustPeer();
  const j = await peerjsPeer();
  // No options at all, as most PeerJS code is written.
  const [jh, incoming] = await Promise.all([j.page.evaluate((id) => pj.connectDefault(id), r.id), rust.accept(r)]);
  assert.equal(incoming.peer, j.id);
  assert.equal(incoming.serialization, "binary");
  await exchangeBinary(r, incoming.handle, j, jh);

  const [rh, jIncoming] = await Promise.all([rust.dial(r, j.id, "binary"), js.accept(j)]);
  assert.equal(jIncoming.serialization, "binary");
  await exchangeBinary(r, rh, j, jIncoming.handle);
  // PeerJS's close message, in BinaryPack, ends the connection on our side with a clear reason.
  await j.page.evaluate((h) => pj.close(h, true), jIncoming.handle);
  assert.deepEqual(await rust.next(r, rh), { kind: "closed", reason: "the peer closed the connection" });
});

test("a relay-only connection through the local TURN server", { timeout: 60_000 }, async () => {
  const r = await rustPeer({ iceServers: turn, relayOnly: true });
  const j = await peerjsPeer({ iceServers: turn, relayOnly: true });
  const [rh, jIncoming] = await Promise.all([rust.dial(r, j.id, "json"), js.accept(j)]);
  await exchangeJson(r, rh, j, jIncoming.handle);
  const d = await rust.diagnostics(r, rh);
  assert.equal(d.localCandidateType, "relay", JSON.stringify(d));
  console.log(`relay-only Rust to PeerJS: connect ${d.connectTimeMs.toFixed(0)} ms, ICE RTT ${d.rttMs} ms`);
});
