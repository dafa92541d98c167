// A PeerJS client for the interop tests: connections are numbered handles, every received message
// is queued, and every wait has a timeout.
"use strict";

function timeout(ms, what) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms));
}

/** FNV-1a, 32 bits, of `bytes`: how large messages are compared (the Rust harness has the same). */
function fnv(bytes) {
  let hash = 0x811c9dc5;
  for (const b of bytes) hash = Math.imul(hash ^ b, 16777619) >>> 0;
  return hash.toString(16);
}

/** Bytes as {kind, value}, or as their length and FNV-1a when there are more than 4,096. */
function describeBytes(bytes) {
  return bytes.length > 4096 ? { kind: "bytes", len: bytes.length, fnv: fnv(bytes) } : { kind: "bytes", value: [...bytes] };
}

/** The bytes (i * 31 + seed) % 256 for i below `len`, as the Rust harness makes them. */
function madeBytes(len, seed) {
  return Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed) % 256);
}

function describe(data) {
  if (data instanceof ArrayBuffer) return describeBytes(new Uint8Array(data));
  if (ArrayBuffer.isView(data)) return describeBytes(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  if (typeof data === "string") return { kind: "text", value: data };
  return { kind: "json", value: data };
}

window.pj = {
  peer: null,
  connections: new Map(),
  incoming: [],
  errors: [],
  next: 1,

  /** Registers on the PeerServer at `url` (ws://host:port/path); resolves to the ID. */
  open(url, id, iceServers, relayOnly) {
    const u = new URL(url.replace(/^ws/, "http"));
    this.peer = new peerjs.Peer(id ?? undefined, {
      host: u.hostname,
      port: Number(u.port),
      path: `${u.pathname.replace(/\/$/, "")}/`,
      key: "peerjs",
      secure: false,
      // Never PeerJS's default public servers: only what the test gives.
      config: { iceServers, iceTransportPolicy: relayOnly ? "relay" : "all" },
    });
    this.peer.on("error", (e) => this.errors.push(`${e.type}: ${e.message}`));
    this.peer.on("connection", (conn) => this.incoming.push(this.track(conn)));
    return Promise.race([
      new Promise((resolve, reject) => {
        this.peer.on("open", resolve);
        this.peer.on("error", reject);
      }),
      timeout(10_000, "PeerJS registration"),
    ]);
  },

  track(conn) {
    const handle = this.next++;
    const state = { conn, messages: [], opened: null, closed: false, echo: false };
    state.opened = new Promise((resolve) => conn.on("open", resolve));
    conn.on("data", (data) => {
      if (state.echo) conn.send(data);
      else state.messages.push(describe(data));
    });
    conn.on("close", () => (state.closed = true));
    conn.on("error", (e) => this.errors.push(`connection ${handle}: ${e.type}: ${e.message}`));
    this.connections.set(handle, state);
    return handle;
  },

  /** Dials `id`; resolves to a handle once the channel is open. */
  async connect(id, serialization, metadata) {
    const handle = this.track(this.peer.connect(id, { serialization, reliable: true, metadata }));
    await Promise.race([this.connections.get(handle).opened, timeout(15_000, `connection to ${id} to open`)]);
    return handle;
  },

  /** Dials `id` with no options at all, as most PeerJS code does (BinaryPack, unreliable). */
  async connectDefault(id) {
    const handle = this.track(this.peer.connect(id));
    await Promise.race([this.connections.get(handle).opened, timeout(15_000, `connection to ${id} to open`)]);
    return handle;
  },

  /** Sends `len` bytes made with `seed` (see madeBytes). */
  sendMadeBytes(handle, len, seed) {
    this.connections.get(handle).conn.send(madeBytes(len, seed).buffer);
  },

  /** The next incoming connection's handle, once its channel is open. */
  async accept(ms = 15_000) {
    const deadline = performance.now() + ms;
    while (!this.incoming.length) {
      if (performance.now() > deadline) throw new Error("timed out waiting for an incoming connection");
      await new Promise((r) => setTimeout(r, 10));
    }
    const handle = this.incoming.shift();
    const state = this.connections.get(handle);
    await Promise.race([state.opened, timeout(15_000, "the incoming connection to open")]);
    return { handle, peer: state.conn.peer, serialization: state.conn.serialization, metadata: state.conn.metadata };
  },

  send(handle, data) {
    this.connections.get(handle).conn.send(data);
  },

  /** Sends `bytes` on the data channel as they are, past PeerJS's serialization. */
  sendFrame(handle, bytes) {
    this.connections.get(handle).conn.dataChannel.send(new Uint8Array(bytes));
  },

  sendBytes(handle, bytes) {
    this.connections.get(handle).conn.send(new Uint8Array(bytes).buffer);
  },

  /** The next message as {kind, value}, or {kind: "closed"} once the connection closed. */
  async nextMessage(handle, ms = 10_000) {
    const state = this.connections.get(handle);
    const deadline = performance.now() + ms;
    while (!state.messages.length) {
      if (state.closed) return { kind: "closed" };
      if (performance.now() > deadline) throw new Error(`timed out waiting for a message on ${handle}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return state.messages.shift();
  },

  /** Resolves once the connection has closed. */
  async waitClosed(handle, ms = 10_000) {
    const state = this.connections.get(handle);
    const deadline = performance.now() + ms;
    while (!state.closed) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${handle} to close`);
      await new Promise((r) => setTimeout(r, 10));
    }
  },

  echo(handle) {
    this.connections.get(handle).echo = true;
  },

  close(handle, flush) {
    this.connections.get(handle).conn.close(flush ? { flush: true } : undefined);
  },

  // Calls: numbered handles too; each call's remote media plays in a <video> of its own.
  calls: new Map(),
  incomingCalls: [],

  /** Answers every call from now on with the (fake) camera and microphone. */
  answerCalls() {
    this.peer.on("call", async (call) => {
      const handle = this.trackCall(call);
      const local = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      call.answer(local);
      this.incomingCalls.push(handle);
    });
  },

  /** Calls `id` with the (fake) camera and microphone; resolves to the call's handle. */
  async callPeer(id, video = true) {
    const local = await navigator.mediaDevices.getUserMedia({ audio: true, video });
    return this.trackCall(this.peer.call(id, local));
  },

  trackCall(call) {
    const handle = this.next++;
    const state = { call, video: null, closed: false };
    call.on("stream", (stream) => {
      if (state.video) return;
      const video = document.createElement("video");
      Object.assign(video, { autoplay: true, playsInline: true, muted: true, srcObject: stream });
      document.body.append(video);
      state.video = video;
    });
    call.on("close", () => (state.closed = true));
    call.on("error", (e) => this.errors.push(`call ${handle}: ${e.type}: ${e.message}`));
    this.calls.set(handle, state);
    return handle;
  },

  /** The next call answered here, once it is. */
  async answeredCall(ms = 20_000) {
    const deadline = performance.now() + ms;
    while (!this.incomingCalls.length) {
      if (performance.now() > deadline) throw new Error("timed out waiting for a call");
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.incomingCalls.shift();
  },

  /** Resolves once call `handle`'s remote video plays: frames arrive and its time moves on. */
  async remotePlaying(handle, ms = 30_000) {
    const state = this.calls.get(handle);
    const deadline = performance.now() + ms;
    while (!(state.video && state.video.readyState >= 2 && state.video.currentTime > 0.5)) {
      if (performance.now() > deadline) throw new Error(`call ${handle}: the remote media never played`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const { videoWidth, videoHeight } = state.video;
    return { videoWidth, videoHeight, tracks: state.video.srcObject.getTracks().map((t) => `${t.kind}:${t.readyState}`).sort() };
  },

  hangUp(handle) {
    this.calls.get(handle).call.close();
  },

  async waitCallClosed(handle, ms = 20_000) {
    const state = this.calls.get(handle);
    const deadline = performance.now() + ms;
    while (!state.closed) {
      if (performance.now() > deadline) throw new Error(`call ${handle} never closed`);
      await new Promise((r) => setTimeout(r, 20));
    }
  },
};
