//! WebRTC through `web-sys`: an [`PeerConnection`], its [`DataChannel`]s and its media.
//!
//! Browser callbacks only push events into a queue that the owner drains with `next_event`.
//! The callbacks are fields of the value that owns the browser object; dropping that value
//! unsets the handlers, closes the browser object and frees the callbacks, so nothing leaks
//! with churn.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use futures::StreamExt;
use futures::channel::mpsc::{UnboundedReceiver, unbounded};
use js_sys::{Array, Function, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Event, MediaStream, MediaStreamTrack, MessageEvent, RtcConfiguration, RtcDataChannel,
    RtcDataChannelEvent, RtcDataChannelInit, RtcDataChannelState, RtcDataChannelType,
    RtcIceCandidateInit, RtcIceServer, RtcPeerConnection, RtcPeerConnectionIceEvent,
    RtcPeerConnectionState, RtcSdpType, RtcSessionDescriptionInit, RtcTrackEvent,
};

use seedmesh_core::path::{PairEnds, Path};
use seedmesh_core::proof::ChannelBinding;

use crate::js::{Context, JsError};

/// One STUN or TURN server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp` and the like.
    pub urls: Vec<String>,
    /// The TURN user name, if the server needs one.
    pub username: Option<String>,
    /// The TURN credential, if the server needs one.
    pub credential: Option<String>,
}

/// How a [`PeerConnection`] finds a path to its peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RtcConfig {
    /// STUN and TURN servers; empty means host candidates only.
    pub ice_servers: Vec<IceServer>,
    /// Use TURN relays only (`iceTransportPolicy: "relay"`).
    pub relay_only: bool,
}

/// A local ICE candidate to send to the peer, or a remote one to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCandidate {
    /// The `candidate:` line.
    pub candidate: String,
    /// The media stream identification tag.
    pub sdp_mid: Option<String>,
    /// The index of the m-line the candidate belongs to.
    pub sdp_m_line_index: Option<u16>,
    /// The ICE username fragment.
    pub username_fragment: Option<String>,
}

/// A callback that receives a browser object's events.
type Handler<T> = Rc<dyn Fn(T)>;

/// Where a browser object's events go: its own queue, or a handler set with `set_handler`.
struct Sink<T> {
    queue: futures::channel::mpsc::UnboundedSender<T>,
    handler: RefCell<Option<Handler<T>>>,
}

impl<T> Sink<T> {
    fn new() -> (Rc<Self>, UnboundedReceiver<T>) {
        let (queue, events) = unbounded();
        let sink = Rc::new(Self {
            queue,
            handler: RefCell::new(None),
        });
        (sink, events)
    }

    fn emit(&self, event: T) {
        let handler = self.handler.borrow().clone();
        match handler {
            Some(handler) => handler(event),
            None => {
                let _ = self.queue.unbounded_send(event);
            }
        }
    }

    /// Hands the queued events to `handler`, then sends it every later one.
    fn redirect(&self, events: &mut UnboundedReceiver<T>, handler: Handler<T>) {
        while let Ok(event) = events.try_recv() {
            handler(event);
        }
        *self.handler.borrow_mut() = Some(handler);
    }
}

/// What happened on a [`PeerConnection`].
#[derive(Debug)]
#[non_exhaustive]
pub enum PeerConnectionEvent {
    /// A local candidate was gathered: send it to the peer.
    IceCandidate(IceCandidate),
    /// Candidate gathering finished.
    IceGatheringComplete,
    /// The peer opened a data channel.
    DataChannel(DataChannel),
    /// The connection's overall state changed.
    StateChanged(RtcPeerConnectionState),
    /// The peer's media arrived: the stream its tracks belong to.
    Track(MediaStream),
}

/// An `RTCPeerConnection` whose events arrive through [`PeerConnection::next_event`].
pub struct PeerConnection {
    inner: RtcPeerConnection,
    events: UnboundedReceiver<PeerConnectionEvent>,
    sink: Rc<Sink<PeerConnectionEvent>>,
    _on_ice_candidate: Closure<dyn FnMut(RtcPeerConnectionIceEvent)>,
    _on_data_channel: Closure<dyn FnMut(RtcDataChannelEvent)>,
    _on_state_change: Closure<dyn FnMut(Event)>,
    _on_track: Closure<dyn FnMut(RtcTrackEvent)>,
}

impl core::fmt::Debug for PeerConnection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PeerConnection")
            .field("state", &self.inner.connection_state())
            .finish_non_exhaustive()
    }
}

impl PeerConnection {
    /// Creates a connection with the given ICE configuration.
    pub fn new(config: &RtcConfig) -> Result<Self, JsError> {
        let rtc_config = RtcConfiguration::new();
        let servers = Array::new();
        for server in &config.ice_servers {
            let ice = RtcIceServer::new();
            let urls: Array = server
                .urls
                .iter()
                .map(|u| js_sys::JsString::from(u.as_str()))
                .collect();
            ice.set_urls(&urls);
            if let Some(username) = &server.username {
                ice.set_username(username);
            }
            if let Some(credential) = &server.credential {
                ice.set_credential(credential);
            }
            servers.push(&ice);
        }
        rtc_config.set_ice_servers(&servers);
        if config.relay_only {
            rtc_config.set_ice_transport_policy(web_sys::RtcIceTransportPolicy::Relay);
        }
        let inner = RtcPeerConnection::new_with_configuration(&rtc_config)
            .context("creating an RTCPeerConnection")?;

        let (sink, events) = Sink::new();
        let on_ice_candidate = {
            let tx = sink.clone();
            Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(
                move |event: RtcPeerConnectionIceEvent| {
                    let next = match event.candidate() {
                        // Firefox marks the end of a section's candidates with an empty one;
                        // the end of gathering (no candidate) follows, and says it for all.
                        Some(c) if c.candidate().is_empty() => return,
                        Some(c) => PeerConnectionEvent::IceCandidate(IceCandidate {
                            candidate: c.candidate(),
                            sdp_mid: c.sdp_mid(),
                            sdp_m_line_index: c.sdp_m_line_index(),
                            // Not in web-sys's stable bindings: read the property directly.
                            username_fragment: Reflect::get(&c, &"usernameFragment".into())
                                .ok()
                                .and_then(|u| u.as_string()),
                        }),
                        None => PeerConnectionEvent::IceGatheringComplete,
                    };
                    tx.emit(next);
                },
            )
        };
        inner.set_onicecandidate(Some(on_ice_candidate.as_ref().unchecked_ref()));

        let on_data_channel = {
            let tx = sink.clone();
            Closure::<dyn FnMut(RtcDataChannelEvent)>::new(move |event: RtcDataChannelEvent| {
                tx.emit(PeerConnectionEvent::DataChannel(DataChannel::wrap(
                    event.channel(),
                )));
            })
        };
        inner.set_ondatachannel(Some(on_data_channel.as_ref().unchecked_ref()));

        let on_state_change = {
            let pc = inner.clone();
            let tx = sink.clone();
            Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                tx.emit(PeerConnectionEvent::StateChanged(pc.connection_state()));
            })
        };
        inner.set_onconnectionstatechange(Some(on_state_change.as_ref().unchecked_ref()));

        let on_track = {
            let tx = sink.clone();
            Closure::<dyn FnMut(RtcTrackEvent)>::new(move |event: RtcTrackEvent| {
                // A track sent with no stream (PeerJS always names one) gets a stream of its own.
                let stream = event
                    .streams()
                    .get(0)
                    .dyn_into::<MediaStream>()
                    .ok()
                    .or_else(|| {
                        let stream = MediaStream::new().ok()?;
                        stream.add_track(&event.track());
                        Some(stream)
                    });
                if let Some(stream) = stream {
                    tx.emit(PeerConnectionEvent::Track(stream));
                }
            })
        };
        inner.set_ontrack(Some(on_track.as_ref().unchecked_ref()));

        Ok(Self {
            inner,
            events,
            sink,
            _on_ice_candidate: on_ice_candidate,
            _on_data_channel: on_data_channel,
            _on_state_change: on_state_change,
            _on_track: on_track,
        })
    }

    /// Readies the browser's WebRTC for the page's first real connection. A page's first
    /// `RTCPeerConnection` and offer start the browser's WebRTC threads and its certificate
    /// generator, which otherwise delays the first dial or answer. No ICE servers and no local
    /// description: nothing is gathered and nothing goes on the network.
    pub async fn warm_up() {
        let Ok(pc) = Self::new(&RtcConfig::default()) else {
            return;
        };
        let _channel = pc.create_data_channel("warm-up", true);
        let _ = JsFuture::from(pc.inner.create_offer()).await;
    }

    /// Opens a data channel labelled `label`; `ordered` channels deliver in order.
    pub fn create_data_channel(&self, label: &str, ordered: bool) -> Result<DataChannel, JsError> {
        let init = RtcDataChannelInit::new();
        init.set_ordered(ordered);
        let channel = self
            .inner
            .create_data_channel_with_data_channel_dict(label, &init);
        Ok(DataChannel::wrap(channel))
    }

    /// Sends every track of `stream` to the peer (before the offer or answer is made).
    pub fn add_stream(&self, stream: &MediaStream) {
        for track in stream.get_tracks().iter() {
            if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
                self.inner.add_track_0(&track, stream);
            }
        }
    }

    /// Creates an offer, sets it as the local description and returns its SDP.
    pub async fn create_offer(&self) -> Result<String, JsError> {
        let (sdp, set) = self.offer().await?;
        set.await?;
        Ok(sdp)
    }

    /// Creates an offer and starts setting it as the local description: its SDP can go to the
    /// peer at once, while [`Pending`] says whether the browser took it.
    pub async fn offer(&self) -> Result<(String, Pending), JsError> {
        let offer = JsFuture::from(self.inner.create_offer())
            .await
            .context("creating an offer")?;
        self.start_local(offer, RtcSdpType::Offer)
    }

    /// Sets the peer's offer and returns the SDP of our answer, set as the local description.
    pub async fn accept_offer(&self, offer_sdp: &str) -> Result<String, JsError> {
        let (sdp, set) = self.answer(offer_sdp).await?;
        set.await?;
        Ok(sdp)
    }

    /// Starts setting the peer's offer, creates our answer and starts setting it as the local
    /// description: the answer's SDP can go to the peer at once, while [`Pending`] says
    /// whether the browser took both descriptions.
    pub async fn answer(&self, offer_sdp: &str) -> Result<(String, Pending), JsError> {
        let remote = self.start_remote(RtcSdpType::Offer, offer_sdp);
        // Made after the offer is set: the browser runs a connection's operations in order.
        let answer = JsFuture::from(self.inner.create_answer()).await;
        remote.await?;
        let answer = answer.context("creating an answer")?;
        self.start_local(answer, RtcSdpType::Answer)
    }

    /// Sets the peer's answer to our offer.
    pub async fn accept_answer(&self, answer_sdp: &str) -> Result<(), JsError> {
        self.apply_answer(answer_sdp).await
    }

    /// Starts setting the peer's answer to our offer.
    pub fn apply_answer(&self, answer_sdp: &str) -> Pending {
        self.start_remote(RtcSdpType::Answer, answer_sdp)
    }

    /// Adds a candidate the peer gathered.
    pub async fn add_ice_candidate(&self, candidate: &IceCandidate) -> Result<(), JsError> {
        self.add_candidate(candidate).await
    }

    /// Starts adding a candidate the peer gathered. Candidates given after a description
    /// started being set are added after it.
    pub fn add_candidate(&self, candidate: &IceCandidate) -> Pending {
        let init = RtcIceCandidateInit::new(&candidate.candidate);
        init.set_sdp_mid(candidate.sdp_mid.as_deref());
        init.set_sdp_m_line_index(candidate.sdp_m_line_index);
        if let Some(ufrag) = &candidate.username_fragment {
            // Not in web-sys's stable bindings; setting a field on a fresh dictionary cannot fail.
            let _ = Reflect::set(&init, &"usernameFragment".into(), &ufrag.into());
        }
        let promise = self
            .inner
            .add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init));
        Pending::new(promise, "adding an ICE candidate")
    }

    /// The next event, or `None` once the connection is dropped. Events go to the handler
    /// instead once [`PeerConnection::set_handler`] is called.
    pub async fn next_event(&mut self) -> Option<PeerConnectionEvent> {
        self.events.next().await
    }

    /// Sends every event, queued ones first, to `handler` rather than to
    /// [`PeerConnection::next_event`]. The handler runs inside browser callbacks: it should only
    /// queue the event.
    pub fn set_handler(&mut self, handler: impl Fn(PeerConnectionEvent) + 'static) {
        self.sink.redirect(&mut self.events, Rc::new(handler));
    }

    /// The selected candidate pair and its round-trip time, read from `getStats()`.
    pub async fn path_stats(&self) -> Result<PathStats, JsError> {
        let report = JsFuture::from(self.inner.get_stats())
            .await
            .context("reading connection statistics")?;
        let values = Reflect::get(&report, &"values".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .ok_or_else(|| JsError {
                context: "reading connection statistics",
                message: "the report has no values()".into(),
            })?
            .call0(&report)
            .context("reading connection statistics")?;
        let mut by_id = HashMap::new();
        if let Ok(Some(iter)) = js_sys::try_iter(&values) {
            for stat in iter.flatten() {
                if let Some(id) = text(&stat, "id") {
                    by_id.insert(id, stat);
                }
            }
        }
        let selected_id = by_id
            .values()
            .filter(|s| text(s, "type").as_deref() == Some("transport"))
            .find_map(|s| text(s, "selectedCandidatePairId"));
        let is_pair =
            |s: &wasm_bindgen::JsValue| text(s, "type").as_deref() == Some("candidate-pair");
        let flag = |s: &wasm_bindgen::JsValue, key: &str| {
            Reflect::get(s, &key.into()).ok().and_then(|v| v.as_bool()) == Some(true)
        };
        // Chromium names the pair in its transport stats; Firefox, which has none, marks it
        // `selected`; failing both, a nominated pair that succeeded.
        let pair = selected_id
            .and_then(|id| by_id.get(&id))
            .or_else(|| by_id.values().find(|s| is_pair(s) && flag(s, "selected")))
            .or_else(|| {
                by_id.values().find(|s| {
                    is_pair(s)
                        && text(s, "state").as_deref() == Some("succeeded")
                        && flag(s, "nominated")
                })
            });
        let Some(pair) = pair else {
            return Ok(PathStats::default());
        };
        let candidate = |key: &str| text(pair, key).and_then(|id| by_id.get(&id));
        let candidate_type = |key: &str| candidate(key).and_then(|c| text(c, "candidateType"));
        let local_of_type = |kind: &'static str| {
            by_id.values().filter(move |s| {
                text(s, "type").as_deref() == Some("local-candidate")
                    && text(s, "candidateType").as_deref() == Some(kind)
            })
        };
        let host_addresses: Vec<String> = local_of_type("host")
            .filter_map(|c| text(c, "address"))
            .collect();
        let behind_nat = local_of_type("srflx")
            .filter_map(|c| text(c, "address"))
            .any(|address| !host_addresses.contains(&address));
        let rtt = Reflect::get(pair, &"currentRoundTripTime".into())
            .ok()
            .and_then(|v| v.as_f64())
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            .map(core::time::Duration::from_secs_f64);
        Ok(PathStats {
            local_candidate_type: candidate_type("localCandidateId"),
            remote_candidate_type: candidate_type("remoteCandidateId"),
            local_relay_protocol: candidate("localCandidateId")
                .and_then(|c| text(c, "relayProtocol")),
            behind_nat,
            round_trip_time: rtt,
        })
    }

    /// The connection's overall state.
    pub fn state(&self) -> RtcPeerConnectionState {
        self.inner.connection_state()
    }

    /// The DTLS fingerprints of this connection, ours and theirs, from its descriptions; `None`
    /// before both are set.
    pub fn binding(&self) -> Option<ChannelBinding> {
        let local = self.inner.local_description()?.sdp();
        let remote = self.inner.remote_description()?.sdp();
        ChannelBinding::from_sdp(&local, &remote)
    }

    fn start_local(
        &self,
        description: wasm_bindgen::JsValue,
        kind: RtcSdpType,
    ) -> Result<(String, Pending), JsError> {
        let sdp = Reflect::get(&description, &"sdp".into())
            .ok()
            .and_then(|sdp| sdp.as_string())
            .ok_or_else(|| JsError {
                context: "reading a session description",
                message: "the description has no SDP".into(),
            })?;
        let init = RtcSessionDescriptionInit::new(kind);
        init.set_sdp(&sdp);
        let set = Pending::new(
            self.inner.set_local_description(&init),
            "setting the local description",
        );
        Ok((sdp, set))
    }

    fn start_remote(&self, kind: RtcSdpType, sdp: &str) -> Pending {
        let init = RtcSessionDescriptionInit::new(kind);
        init.set_sdp(sdp);
        Pending::new(
            self.inner.set_remote_description(&init),
            "setting the remote description",
        )
    }
}

/// A browser operation on a connection that has started: await it for its outcome. The
/// browser runs a connection's operations in the order they started, so a later one need not
/// wait for this one to finish.
#[must_use = "the operation's outcome is only known by awaiting it"]
pub struct Pending {
    promise: JsFuture,
    context: &'static str,
}

impl Pending {
    fn new(promise: js_sys::Promise, context: &'static str) -> Self {
        Self {
            promise: JsFuture::from(promise),
            context,
        }
    }
}

impl core::future::Future for Pending {
    type Output = Result<(), JsError>;

    fn poll(
        mut self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<Self::Output> {
        let context = self.context;
        core::pin::Pin::new(&mut self.promise)
            .poll(cx)
            .map(|result| result.map(drop).context(context))
    }
}

impl Drop for PeerConnection {
    fn drop(&mut self) {
        self.inner.set_onicecandidate(None);
        self.inner.set_ondatachannel(None);
        self.inner.set_onconnectionstatechange(None);
        self.inner.set_ontrack(None);
        self.inner.close();
    }
}

fn text(object: &wasm_bindgen::JsValue, key: &str) -> Option<String> {
    Reflect::get(object, &key.into())
        .ok()
        .and_then(|v| v.as_string())
}

/// The network path a connection uses, from `getStats()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathStats {
    /// Our end of the selected candidate pair: `host`, `srflx`, `prflx` or `relay`.
    pub local_candidate_type: Option<String>,
    /// The peer's end of the selected candidate pair.
    pub remote_candidate_type: Option<String>,
    /// For a `relay` local candidate, the transport to the TURN server: `udp`, `tcp` or `tls`.
    pub local_relay_protocol: Option<String>,
    /// Whether this end has a server-reflexive candidate at an address none of its host
    /// candidates has, i.e. sits behind a NAT.
    pub behind_nat: bool,
    /// The pair's current round-trip time (STUN consent checks).
    pub round_trip_time: Option<core::time::Duration>,
}

impl PathStats {
    /// What the pair says of the path, once there is a selected pair.
    pub fn path(&self) -> Option<Path> {
        Some(Path::of(&PairEnds {
            local: self.local_candidate_type.as_deref()?,
            remote: self.remote_candidate_type.as_deref()?,
            local_relay_protocol: self.local_relay_protocol.as_deref(),
            behind_nat: self.behind_nat,
        }))
    }
}

/// One message as it crossed the data channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
}

/// What happened on a [`DataChannel`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// The channel is open: messages can be sent.
    Open,
    /// A message arrived.
    Message(Frame),
    /// `bufferedAmount` fell to the low-water mark set with
    /// [`DataChannel::set_low_water_mark`].
    BufferedAmountLow,
    /// The channel closed.
    Closed,
}

/// An `RTCDataChannel` whose events arrive through [`DataChannel::next_event`].
pub struct DataChannel {
    inner: RtcDataChannel,
    events: UnboundedReceiver<ChannelEvent>,
    sink: Rc<Sink<ChannelEvent>>,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_buffered_amount_low: Closure<dyn FnMut(Event)>,
    _on_close: Closure<dyn FnMut(Event)>,
}

impl core::fmt::Debug for DataChannel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DataChannel")
            .field("label", &self.inner.label())
            .field("state", &self.inner.ready_state())
            .finish_non_exhaustive()
    }
}

impl DataChannel {
    fn wrap(inner: RtcDataChannel) -> Self {
        inner.set_binary_type(RtcDataChannelType::Arraybuffer);
        let (sink, events) = Sink::new();
        let on_open = event_closure(&sink, ChannelEvent::Open);
        let on_buffered_amount_low = event_closure(&sink, ChannelEvent::BufferedAmountLow);
        let on_close = event_closure(&sink, ChannelEvent::Closed);
        let tx = sink.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            let frame = if let Some(text) = data.as_string() {
                Frame::Text(text)
            } else if let Some(buffer) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                Frame::Binary(Uint8Array::new(buffer).to_vec())
            } else {
                // binaryType is "arraybuffer", so a Blob cannot arrive; anything else is ignored.
                return;
            };
            tx.emit(ChannelEvent::Message(frame));
        });
        inner.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        inner.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        inner.set_onbufferedamountlow(Some(on_buffered_amount_low.as_ref().unchecked_ref()));
        inner.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Self {
            inner,
            events,
            sink,
            _on_open: on_open,
            _on_message: on_message,
            _on_buffered_amount_low: on_buffered_amount_low,
            _on_close: on_close,
        }
    }

    /// The channel's label (PeerJS uses the connection ID).
    pub fn label(&self) -> String {
        self.inner.label()
    }

    /// Whether the channel can send now.
    pub fn is_open(&self) -> bool {
        self.inner.ready_state() == RtcDataChannelState::Open
    }

    /// Sends one frame.
    pub fn send(&self, frame: &Frame) -> Result<(), JsError> {
        match frame {
            Frame::Text(text) => self.send_text(text),
            Frame::Binary(bytes) => self.send_bytes(bytes),
        }
    }

    /// Sends one text frame.
    pub fn send_text(&self, text: &str) -> Result<(), JsError> {
        self.inner
            .send_with_str(text)
            .context("sending on a data channel")
    }

    /// Sends one binary frame.
    pub fn send_bytes(&self, bytes: &[u8]) -> Result<(), JsError> {
        self.inner
            .send_with_u8_array(bytes)
            .context("sending on a data channel")
    }

    /// Starts closing the channel: the browser sends what is buffered, then fires `close`.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Bytes queued in the browser and not yet sent.
    pub fn buffered_amount(&self) -> u32 {
        self.inner.buffered_amount()
    }

    /// Asks for [`ChannelEvent::BufferedAmountLow`] when the queue falls to `bytes`.
    pub fn set_low_water_mark(&self, bytes: u32) {
        self.inner.set_buffered_amount_low_threshold(bytes);
    }

    /// The next event, or `None` once the channel is dropped. Events go to the handler
    /// instead once [`DataChannel::set_handler`] is called.
    pub async fn next_event(&mut self) -> Option<ChannelEvent> {
        self.events.next().await
    }

    /// Sends every event, queued ones first, to `handler` rather than to
    /// [`DataChannel::next_event`]. The handler runs inside browser callbacks: it should only
    /// queue the event.
    pub fn set_handler(&mut self, handler: impl Fn(ChannelEvent) + 'static) {
        self.sink.redirect(&mut self.events, Rc::new(handler));
    }
}

impl Drop for DataChannel {
    fn drop(&mut self) {
        self.inner.set_onopen(None);
        self.inner.set_onmessage(None);
        self.inner.set_onbufferedamountlow(None);
        self.inner.set_onclose(None);
        self.inner.close();
    }
}

fn event_closure(sink: &Rc<Sink<ChannelEvent>>, event: ChannelEvent) -> Closure<dyn FnMut(Event)> {
    let sink = sink.clone();
    Closure::<dyn FnMut(Event)>::new(move |_: Event| sink.emit(event.clone()))
}
