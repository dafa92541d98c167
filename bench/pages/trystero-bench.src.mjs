// The Trystero side of the benchmark: the BitTorrent strategy against a local tracker.
// Bundled with esbuild into trystero-bench.js by bench/run.mjs.
import { joinRoom } from "@trystero-p2p/torrent";

const bench = (window.bench = {});
let room;
let remote;
let ping;
let bulk;
let done;
let pingReply;
let doneReply;

bench.join = (trackerUrl, roomId) =>
  new Promise((resolve) => {
    const start = performance.now();
    room = joinRoom(
      // relayConfig.urls: a wrong option name silently falls back to public trackers.
      { appId: "seedmesh-bench", relayConfig: { urls: [trackerUrl] }, rtcConfig: { iceServers: [] } },
      roomId,
    );
    ping = room.makeAction("ping");
    bulk = room.makeAction("bulk");
    done = room.makeAction("done");
    ping.onMessage = (data, { peerId }) => {
      if (data.reply) pingReply?.(data);
      else ping.send({ ...data, reply: true }, { target: peerId });
    };
    bulk.onMessage = (data, { peerId }) => done.send({ received: data.byteLength }, { target: peerId });
    done.onMessage = (data) => doneReply?.(data);
    room.onPeerJoin = (peerId) => {
      remote = peerId;
      resolve(performance.now() - start);
    };
  });

bench.rtt = async (count) => {
  const samples = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const reply = new Promise((r) => (pingReply = r));
    ping.send({ ping: i }, { target: remote });
    await reply;
    samples.push(performance.now() - start);
  }
  return samples;
};

bench.throughput = async (totalBytes) => {
  const reply = new Promise((r) => (doneReply = r));
  const start = performance.now();
  await bulk.send(new Uint8Array(totalBytes).fill(7).buffer, { target: remote });
  await reply;
  return performance.now() - start;
};
