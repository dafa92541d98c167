// Times a dial the same way for every library on the page, by wrapping RTCPeerConnection,
// RTCDataChannel and WebSocket. Loaded before the library under test.
//
// - Dialing page: when the RTCPeerConnection was made, when its offer was set, when the answer
//   came, when ICE connected and when its first data channel opened (DTLS and SCTP finish in
//   between; the browser's events do not say in which order).
// - Answering page: when the OFFER came over the PeerServer socket, when the browser was given
//   it, when the answer was set, and when the ANSWER went out.
// - Either page: its own time per echo, from a data-channel message event to the next send().
"use strict";
(() => {
  const Native = window.RTCPeerConnection;
  const dialed = [];
  const answering = [];
  const echoes = [];
  let heardAt = 0;
  const listenFirst = (channel) =>
    channel.addEventListener("message", () => (heardAt = performance.now()), { capture: true });

  class TimedPeerConnection extends Native {
    constructor(...args) {
      super(...args);
      const t = { created: performance.now() };
      dialed.push(t);
      this.timeline = t;
      this.addEventListener("iceconnectionstatechange", () => {
        if (this.iceConnectionState === "connected" || this.iceConnectionState === "completed") t.ice ??= performance.now();
      });
      this.addEventListener("datachannel", (e) => {
        e.channel.addEventListener("open", () => (t.open ??= performance.now()));
        listenFirst(e.channel);
      });
    }
    async setLocalDescription(...args) {
      const result = await super.setLocalDescription(...args);
      const type = this.localDescription?.type;
      if (type === "offer") this.timeline.offer ??= performance.now();
      if (type === "answer") answering.at(-1) && (answering.at(-1).answerSet ??= performance.now());
      return result;
    }
    setRemoteDescription(description, ...rest) {
      if (description?.type === "answer") this.timeline.answer ??= performance.now();
      if (description?.type === "offer") answering.at(-1) && (answering.at(-1).remoteSet ??= performance.now());
      return super.setRemoteDescription(description, ...rest);
    }
    createDataChannel(...args) {
      const channel = super.createDataChannel(...args);
      channel.addEventListener("open", () => (this.timeline.open ??= performance.now()));
      listenFirst(channel);
      return channel;
    }
  }
  window.RTCPeerConnection = TimedPeerConnection;

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

  const nativeSend = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (data) {
    if (heardAt) echoes.push(performance.now() - heardAt);
    heardAt = 0;
    return nativeSend.call(this, data);
  };

  /**
   * The stages of the last connection this page dialed, in milliseconds from `start` (when the
   * dial began) to `end` (when the library said the connection was open).
   */
  window.dialTimeline = (start, end) => {
    const t = [...dialed].reverse().find((c) => c.offer !== undefined);
    if (!t) return null;
    return {
      setup: t.created - start,
      offer: t.offer - t.created,
      signaling: t.answer - t.offer,
      ice: t.ice - t.answer,
      "dtls, sctp, channel": t.open - t.ice,
      library: end - t.open,
    };
  };
  /** The stages of the last offer this page answered, in milliseconds. */
  window.answerTimeline = () => {
    const a = answering.at(-1);
    return a && { toBrowser: a.remoteSet - a.offerIn, answer: a.answerSet - a.remoteSet, toSocket: a.answerOut - a.answerSet };
  };
  /** The echo times noted since the last call, in milliseconds. */
  window.echoTimes = () => echoes.splice(0);
})();
