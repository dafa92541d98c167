// Times each stage of a dial the same way for every library on the page: RTCPeerConnection is
// wrapped so that each connection notes, on the page's clock, when its offer was set, when the
// answer came, when ICE connected and when
// its first data channel opened (DTLS and SCTP finish in between; the browser's events do not
// say in which order). Loaded before the library under test.
"use strict";
(() => {
  const Native = window.RTCPeerConnection;
  const connections = [];
  class TimedPeerConnection extends Native {
    constructor(...args) {
      const entered = performance.now();
      super(...args);
      const t = { created: performance.now(), entered };
      connections.push(t);
      this.addEventListener("iceconnectionstatechange", () => {
        if (this.iceConnectionState === "connected" || this.iceConnectionState === "completed") t.ice ??= performance.now();
      });
      this.addEventListener("datachannel", (e) => e.channel.addEventListener("open", () => (t.open ??= performance.now())));
      this.timeline = t;
    }
    async setLocalDescription(...args) {
      const result = await super.setLocalDescription(...args);
      if (this.localDescription?.type === "offer") this.timeline.offer ??= performance.now();
      return result;
    }
    setRemoteDescription(description, ...rest) {
      if (description?.type === "answer") this.timeline.answer ??= performance.now();
      return super.setRemoteDescription(description, ...rest);
    }
    createDataChannel(...args) {
      const channel = super.createDataChannel(...args);
      channel.addEventListener("open", () => (this.timeline.open ??= performance.now()));
      return channel;
    }
  }
  window.RTCPeerConnection = TimedPeerConnection;

  // The answering side: when the offer came over the PeerServer socket, when the browser took
  // it, when the answer was made, and when it went out.
  const answering = [];
  const NativeSocket = window.WebSocket;
  window.WebSocket = class extends NativeSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        if (typeof e.data === "string" && e.data.includes('"OFFER"')) answering.push({ offerIn: performance.now() });
      });
    }
    send(data) {
      if (typeof data === "string" && data.includes('"ANSWER"')) {
        const a = answering.at(-1);
        if (a) a.answerOut ??= performance.now();
      }
      return super.send(data);
    }
  };
  const nativeSetRemote = Native.prototype.setRemoteDescription;
  const nativeSetLocal = Native.prototype.setLocalDescription;
  TimedPeerConnection.prototype.setRemoteDescription = function (description, ...rest) {
    if (description?.type === "offer") answering.at(-1) && (answering.at(-1).remoteSet ??= performance.now());
    if (description?.type === "answer") this.timeline.answer ??= performance.now();
    return nativeSetRemote.call(this, description, ...rest);
  };
  TimedPeerConnection.prototype.setLocalDescription = async function (...args) {
    const result = await nativeSetLocal.apply(this, args);
    const type = this.localDescription?.type;
    if (type === "offer") this.timeline.offer ??= performance.now();
    if (type === "answer") answering.at(-1) && (answering.at(-1).answerSet ??= performance.now());
    return result;
  };
  window.answerTimeline = () => {
    const a = answering.at(-1);
    return a && { toBrowser: a.remoteSet - a.offerIn, answer: a.answerSet - a.remoteSet, toSocket: a.answerOut - a.answerSet };
  };
  /**
   * The stages of the last connection this page dialed, in milliseconds from `start` (when the
   * dial began) to `end` (when the library said the connection was open).
   */
  window.dialTimeline = (start, end) => {
    const t = [...connections].reverse().find((c) => c.offer !== undefined);
    if (!t) return null;
    return {
      entry: t.entered - start,
      setup: t.created - start,
      offer: t.offer - t.created,
      signaling: t.answer - t.offer,
      ice: t.ice - t.answer,
      "dtls, sctp, channel": t.open - t.ice,
      library: end - t.open,
    };
  };
})();
