//! Audio and video calls on a [`Peer`](super::Peer), signaled as PeerJS signals them
//! (`"type":"media"`, `mc_` IDs): [`PeerHandle::call`](super::PeerHandle::call) makes one, and
//! [`PeerEvent::Call`](super::PeerEvent::Call) brings one in, to answer or hang up. What a page
//! does with its calls (ring, time out, one at a time) is
//! [`seedmesh_core::call::Calls`]' to decide; this is the browser's side of one call.

use std::rc::Rc;

use futures::StreamExt;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use seedmesh_core::PeerId;
use seedmesh_core::call::CALL_ID_PREFIX;
use seedmesh_core::connection::Role;
use seedmesh_core::connection::negotiation::{Negotiation, NegotiationOutput};
use seedmesh_core::signaling::{
    AnswerPayload, ClientMessage, ConnectionId, ConnectionType, OfferPayload, SessionDescription,
};
use serde_json::Value;
use wasm_bindgen_futures::spawn_local;
use web_sys::{MediaStream, RtcPeerConnectionState};

use super::{ConnInput, PeerShared, SignalPath, candidate_message, ice_candidate};
use crate::clock::random_u32;
use crate::rtc::{ChannelEvent, DataChannel, PeerConnection, PeerConnectionEvent};

/// What happened on a call.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CallEvent {
    /// The peer answered our call.
    Answered,
    /// The peer's media: show it.
    Stream(MediaStream),
    /// The connection is up: media flows.
    Connected,
    /// The call is over; the text says why, for people to read.
    Ended(String),
}

/// One call; see the [module](self) docs. Dropping it hangs up.
#[derive(Debug)]
pub struct Call {
    control: CallControl,
    events: UnboundedReceiver<CallEvent>,
}

/// What can be done with a call from anywhere: answer it, hang up. Cloning it keeps the call
/// going; only dropping the [`Call`] hangs up.
#[derive(Debug, Clone)]
pub struct CallControl {
    id: ConnectionId,
    peer: PeerId,
    video: bool,
    metadata: Value,
    inputs: UnboundedSender<ConnInput>,
}

impl CallControl {
    /// The call's ID (`mc_…`).
    #[must_use]
    pub fn id(&self) -> &ConnectionId {
        &self.id
    }

    /// The peer at the other end, as its signaling named it.
    #[must_use]
    pub fn peer(&self) -> &PeerId {
        &self.peer
    }

    /// Whether the caller sends video (else audio only).
    #[must_use]
    pub fn offers_video(&self) -> bool {
        self.video
    }

    /// The metadata the caller attached.
    #[must_use]
    pub fn metadata(&self) -> &Value {
        &self.metadata
    }

    /// Answers an incoming call with our media; a call of ours, or one answered already,
    /// ignores it.
    pub fn answer(&self, stream: &MediaStream) {
        let _ = self
            .inputs
            .unbounded_send(ConnInput::AnswerCall(Clone::clone(stream)));
    }

    /// Declines or ends the call.
    pub fn hang_up(&self) {
        let _ = self.inputs.unbounded_send(ConnInput::Close);
    }
}

impl Call {
    /// What can be done with the call from other tasks.
    #[must_use]
    pub fn control(&self) -> CallControl {
        self.control.clone()
    }

    /// The next event, or `None` after [`CallEvent::Ended`].
    pub async fn next_event(&mut self) -> Option<CallEvent> {
        self.events.next().await
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.control.hang_up();
    }
}

/// How a call starts.
pub(super) enum Start {
    /// We call, sending this stream.
    Outgoing(MediaStream),
    /// We are called with this offer, and wait for [`CallControl::answer`].
    Incoming(String),
}

/// Starts a call task for `peer` on connection `id`: routes its signaling to it and returns
/// its handle.
pub(super) fn spawn(
    shared: &Rc<PeerShared>,
    peer: PeerId,
    id: ConnectionId,
    metadata: Value,
    video: bool,
    path: SignalPath,
    start: Start,
) -> Call {
    let (tx, rx) = unbounded();
    let (events_tx, events) = unbounded();
    shared
        .routes
        .borrow_mut()
        .insert(id.clone(), (peer.clone(), tx.clone()));
    // A ringing call's candidates come to its task at once, which keeps them (within the
    // negotiation's bounds) for as long as it rings.
    if let (Start::Incoming(_), SignalPath::PeerServer) = (&start, &path) {
        shared
            .signaling
            .borrow_mut()
            .accept(peer.clone(), id.clone());
    }
    let control = CallControl {
        id: id.clone(),
        peer: peer.clone(),
        video,
        metadata: metadata.clone(),
        inputs: tx.clone(),
    };
    let task = CallTask {
        shared: shared.clone(),
        peer,
        id,
        metadata,
        path,
        inputs: tx,
        events: events_tx,
        pc: None,
        aux: None,
        streams: Vec::new(),
        negotiation: Negotiation::trickled(Role::Dialer),
        offer: None,
    };
    spawn_local(task.run(rx, start));
    Call { control, events }
}

/// A fresh call ID: `mc_` and 10 random letters and digits, as PeerJS makes them.
#[must_use]
pub fn new_id() -> ConnectionId {
    let data_id = ConnectionId::random(&mut random_u32);
    let tail = data_id.as_str().trim_start_matches("dc_");
    ConnectionId::parse(&format!("{CALL_ID_PREFIX}{tail}")).unwrap_or(data_id)
}

/// Whether an offer's SDP sends or asks for video.
pub(super) fn offers_video(sdp: &str) -> bool {
    sdp.lines().any(|line| line.starts_with("m=video"))
}

struct CallTask {
    shared: Rc<PeerShared>,
    peer: PeerId,
    id: ConnectionId,
    metadata: Value,
    path: SignalPath,
    inputs: UnboundedSender<ConnInput>,
    events: UnboundedSender<CallEvent>,
    pc: Option<Rc<PeerConnection>>,
    /// The small data channel whose close says the other side hung up, as in PeerJS.
    aux: Option<DataChannel>,
    /// The IDs of the remote streams shown so far.
    streams: Vec<String>,
    /// The remote description is not set until the answer (ours or theirs) is: candidates
    /// wait for it, within the negotiation's bounds.
    negotiation: Negotiation,
    /// An incoming call's offer, until it is answered.
    offer: Option<String>,
}

impl CallTask {
    async fn run(mut self, mut rx: UnboundedReceiver<ConnInput>, start: Start) {
        let ended = match start {
            Start::Outgoing(stream) => self.call(&stream).await.err(),
            Start::Incoming(offer) => {
                self.offer = Some(offer);
                None
            }
        };
        let reason = match ended {
            Some(reason) => reason,
            None => loop {
                let Some(input) = rx.next().await else {
                    break "the page stopped".to_owned();
                };
                if let Err(reason) = self.handle(input).await {
                    break reason;
                }
                if let Err(reason) = self.negotiate().await {
                    break reason;
                }
            },
        };
        let _ = self.events.unbounded_send(CallEvent::Ended(reason));
        self.shared.routes.borrow_mut().remove(&self.id);
        self.shared.signaling.borrow_mut().forget(&self.id);
        // Closing the connection closes the small channel: the other side hears the end.
        self.aux = None;
        self.pc = None;
    }

    /// A new connection for the call, sending `stream`.
    fn connection(&mut self, stream: &MediaStream) -> Result<Rc<PeerConnection>, String> {
        let mut pc = PeerConnection::new(&self.shared.options.rtc).map_err(|e| e.to_string())?;
        let inputs = self.inputs.clone();
        pc.set_handler(move |event| {
            let _ = inputs.unbounded_send(ConnInput::Pc(event));
        });
        pc.add_stream(stream);
        let pc = Rc::new(pc);
        self.pc = Some(pc.clone());
        Ok(pc)
    }

    fn keep_aux(&mut self, mut channel: DataChannel) {
        let inputs = self.inputs.clone();
        channel.set_handler(move |event| {
            let _ = inputs.unbounded_send(ConnInput::Channel(event));
        });
        self.aux = Some(channel);
    }

    /// Places the call: our media, the small channel, the offer.
    async fn call(&mut self, stream: &MediaStream) -> Result<(), String> {
        let pc = self.connection(stream)?;
        let channel = pc
            .create_data_channel(self.id.as_str(), true)
            .map_err(|e| e.to_string())?;
        self.keep_aux(channel);
        let (sdp, local_set) = pc.offer().await.map_err(|e| e.to_string())?;
        let payload = OfferPayload {
            sdp: SessionDescription {
                kind: "offer".into(),
                sdp,
            },
            connection_type: ConnectionType::Media,
            connection_id: self.id.clone(),
            label: None,
            reliable: None,
            serialization: None,
            metadata: self.metadata.clone(),
            seedmesh: None,
        };
        match &self.path {
            SignalPath::PeerServer => {
                // Through the signaling machine, so that an absent peer is reported.
                self.shared
                    .signaling
                    .borrow_mut()
                    .dial(self.peer.clone(), payload);
                self.shared.pump();
            }
            path => self.shared.signal_on(
                path,
                &self.peer,
                ClientMessage::Offer {
                    dst: self.peer.clone(),
                    payload: Box::new(payload),
                },
            ),
        }
        local_set.await.map_err(|e| e.to_string())
    }

    /// Answers the incoming call with `stream`.
    async fn answer(&mut self, stream: &MediaStream) -> Result<(), String> {
        let Some(offer) = self.offer.take() else {
            return Ok(());
        };
        let pc = self.connection(stream)?;
        let (sdp, local_set) = pc.answer(&offer).await.map_err(|e| e.to_string())?;
        self.negotiation.handle_remote_description_set();
        self.shared.signal_on(
            &self.path,
            &self.peer,
            ClientMessage::Answer {
                dst: self.peer.clone(),
                payload: AnswerPayload {
                    sdp: SessionDescription {
                        kind: "answer".into(),
                        sdp,
                    },
                    connection_type: ConnectionType::Media,
                    connection_id: self.id.clone(),
                    seedmesh: None,
                },
            },
        );
        local_set.await.map_err(|e| e.to_string())
    }

    /// Acts on one input; `Err` ends the call, for that reason.
    async fn handle(&mut self, input: ConnInput) -> Result<(), String> {
        match input {
            ConnInput::AnswerCall(stream) => self.answer(&stream).await?,
            ConnInput::Answer(payload) => self.negotiation.handle_answer(payload.sdp.sdp),
            ConnInput::Candidate(candidate) => self.negotiation.handle_candidate(candidate),
            ConnInput::Pc(PeerConnectionEvent::IceCandidate(c)) => {
                let message = candidate_message(&self.peer, &self.id, ConnectionType::Media, c);
                self.shared.signal_on(&self.path, &self.peer, message);
            }
            // Each of the peer's streams shows once, however many tracks it has.
            ConnInput::Pc(PeerConnectionEvent::Track(stream))
                if !self.streams.contains(&stream.id()) =>
            {
                self.streams.push(stream.id());
                let _ = self.events.unbounded_send(CallEvent::Stream(stream));
            }
            ConnInput::Pc(PeerConnectionEvent::DataChannel(channel)) => self.keep_aux(channel),
            ConnInput::Pc(PeerConnectionEvent::StateChanged(state)) => match state {
                RtcPeerConnectionState::Connected => {
                    let _ = self.events.unbounded_send(CallEvent::Connected);
                }
                RtcPeerConnectionState::Failed => {
                    return Err("the connection failed; the path between the pages may be \
                                blocked"
                        .into());
                }
                RtcPeerConnectionState::Closed => return Err("the connection closed".into()),
                _ => {}
            },
            ConnInput::Channel(ChannelEvent::Closed) => return Err("they hung up".into()),
            ConnInput::PeerUnavailable => {
                return Err(format!(
                    "{} is not on the PeerServer; it may have left",
                    self.peer
                ));
            }
            ConnInput::PeerLeft => return Err("they left".into()),
            ConnInput::Close => return Err("you hung up".into()),
            _ => {}
        }
        Ok(())
    }

    /// Does what the negotiation decided: the peer's answer, then its candidates.
    async fn negotiate(&mut self) -> Result<(), String> {
        while let Some(step) = self.negotiation.poll_output() {
            let Some(pc) = self.pc.clone() else {
                continue;
            };
            match step {
                NegotiationOutput::ApplyAnswer(sdp) => {
                    pc.accept_answer(&sdp).await.map_err(|e| e.to_string())?;
                    self.negotiation.handle_remote_description_set();
                    let _ = self.events.unbounded_send(CallEvent::Answered);
                }
                // A candidate the browser cannot use is no reason to end the call.
                NegotiationOutput::AddCandidate(candidate) => {
                    let _ = pc.add_ice_candidate(&ice_candidate(candidate)).await;
                }
                NegotiationOutput::InviteReady(_) => {}
            }
        }
        Ok(())
    }
}
