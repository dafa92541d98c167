// The PeerJS side of the benchmark: PeerJS 1.5.5 used the way its README shows.
// Control messages are JSON strings (json, raw) or objects (binary); payloads are ArrayBuffers
// (raw, binary) or strings (json, which cannot carry bytes).
"use strict";

const bench = (window.bench = {});
let peer;
let incoming;
const incomingWaiters = [];

bench.register = (options, id) =>
  new Promise((resolve, reject) => {
    const start = performance.now();
    peer = new Peer(id, { ...options, debug: 0 });
    peer.on("open", () => resolve(performance.now() - start));
    peer.on("error", (error) => reject(new Error(`${error.type}: ${error.message}`)));
    peer.on("connection", (conn) => {
      conn.on("open", () => {
        incoming = conn;
        serve(conn);
        incomingWaiters.splice(0).forEach((w) => w());
      });
    });
  });

// The receiving side: echo pings, count bulk bytes, acknowledge the end.
function serve(conn) {
  let expected = 0;
  let received = 0;
  conn.on("data", (data) => {
    if (typeof data === "string" && data.startsWith("{")) {
      const control = JSON.parse(data);
      if (control.ping !== undefined) conn.send(data);
      if (control.bulk !== undefined) { expected = control.bulk; received = 0; }
      return;
    }
    if (data && data.ping !== undefined) { conn.send(data); return; }
    if (data && data.bulk !== undefined) { expected = data.bulk; received = 0; return; }
    received += typeof data === "string" ? data.length : data.byteLength;
    if (received >= expected && expected > 0) {
      expected = 0;
      conn.send(conn.serialization === "binary" ? { done: received } : JSON.stringify({ done: received }));
    }
  });
}

bench.waitIncoming = () => (incoming ? Promise.resolve() : new Promise((r) => incomingWaiters.push(r)));

let conn;
bench.dial = (remoteId, serialization) =>
  new Promise((resolve, reject) => {
    const start = performance.now();
    conn = peer.connect(remoteId, { serialization, reliable: true });
    conn.on("open", () => {
      const end = performance.now();
      bench.lastDial = window.dialTimeline(start, end);
      resolve(end - start);
    });
    conn.on("error", (error) => reject(error));
  });

bench.timeline = () => bench.lastDial;

function nextData() {
  return new Promise((resolve) => conn.once("data", resolve));
}

const control = (object) => (conn.serialization === "binary" ? object : JSON.stringify(object));

bench.rtt = async (count) => {
  const samples = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const reply = nextData();
    conn.send(control({ ping: i }));
    await reply;
    samples.push(performance.now() - start);
  }
  return samples;
};

bench.throughput = async (totalBytes, chunkBytes) => {
  conn.send(control({ bulk: totalBytes }));
  const done = nextData();
  const start = performance.now();
  const chunk = conn.serialization === "json" ? "x".repeat(chunkBytes) : new Uint8Array(chunkBytes).fill(7).buffer;
  for (let sent = 0; sent < totalBytes; sent += chunkBytes) conn.send(chunk);
  await done;
  return performance.now() - start;
};
