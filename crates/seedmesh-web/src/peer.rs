//! The async API: a [`Peer`] on a PeerServer, and its [`Connection`]s to other peers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use seedmesh_core::channel::Message;
//! use seedmesh_core::signaling::ServerConfig;
//! use seedmesh_core::PeerId;
//! use seedmesh_web::peer::{ConnectionEvent, DialOptions, Peer, PeerEvent, PeerOptions};
//!
//! let server = ServerConfig::from_url("ws://127.0.0.1:9000/seedmesh", "peerjs")?;
//! let mut peer = Peer::connect(PeerOptions::new(server)).await?;
//! let mut chat = peer.dial(&PeerId::parse("bob")?, DialOptions::default()).await?;
//! chat.send(&Message::Text("hello".into())).await?;
//! while let Some(event) = chat.next_event().await {
//!     if let ConnectionEvent::Message(message) = event {
//!         println!("{message:?}");
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Under the hood one task drives the PeerServer socket with
//! [`seedmesh_core::signaling::Signaling`], and one task per connection drives its
//! `RTCPeerConnection` and data channel with [`seedmesh_core::connection::Connection`] and the
//! [`seedmesh_core::channel`] codec. Browser callbacks only queue events for those tasks. When a
//! connection ends, its task drops the browser objects, which unsets and frees every callback.
//! Audio and video calls are connections too, one task each ([`call`]).

pub mod call;

pub use call::{Call, CallControl, CallEvent};

use core::fmt;
use core::future::Future;
use core::time::Duration;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::channel::oneshot;
use futures::future::{Either, select};
use futures::{FutureExt, StreamExt};
use gloo_timers::future::TimeoutFuture;
use seedmesh_core::channel::{
    ChannelError, Decoder, Encoder, FRAMING_VERSION, Frame, FrameKind, Limits, Message, Protocol,
    Received,
};
use seedmesh_core::connection::admission::{Admission, OfferLimits, Refusal};
use seedmesh_core::connection::negotiation::{Negotiation, NegotiationOutput};
use seedmesh_core::connection::{
    CloseReason, Connection as ConnectionMachine, ConnectionConfig, Output, Role, TransportState,
};
use seedmesh_core::invite::{Invite, InviteError, Kind as InviteKind};
use seedmesh_core::proof::ChannelBinding;
use seedmesh_core::signaling::{
    AnswerPayload, Candidate, CandidatePayload, ClientMessage, ConnectionId, ConnectionType,
    OfferPayload, Serialization, ServerConfig, ServerMessage, SessionDescription, Signaling,
    SignalingError, SignalingEvent, SignalingOutput,
};
use seedmesh_core::{Instant, PeerId, Token};
use serde_json::Value;
use wasm_bindgen_futures::spawn_local;
use web_sys::{MediaStream, RtcPeerConnectionState};

use crate::clock::{Alarm, now, random_u32};
use crate::js::JsError;
use crate::peerserver::{PeerServerSocket, SocketEvent};
use crate::rtc::{
    ChannelEvent, DataChannel, IceCandidate, PathStats, PeerConnection, PeerConnectionEvent,
    RtcConfig,
};

/// How long an invite waits for its answer, and an answered invite for the inviting page to
/// take the answer: long enough for a person to carry a link or a QR code both ways.
pub const INVITE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How many invites this page keeps open at once; making one more ends the oldest.
pub const MAX_OPEN_INVITES: usize = 4;

/// How many bytes of messages may wait unread in a [`Connection`] by default
/// ([`PeerOptions::max_unread`]).
pub const MAX_UNREAD_BYTES: usize = 64 * 1024 * 1024;
/// `bufferedAmount` above which [`Connection::send`] waits: 2 MiB, which moved 16 MiB faster
/// in Chromium than 64 KiB or 4 MiB did (docs/benchmarks.md), and at most about 100 ms of a
/// file ahead of a chat message at those speeds.
pub const HIGH_WATER_MARK: u32 = 2 * 1024 * 1024;
/// `bufferedAmount` at which a waiting [`Connection::send`] resumes.
pub const LOW_WATER_MARK: u32 = 1024 * 1024;
/// How long a closing connection waits for its channel to send what is buffered.
const FLUSH_TIMEOUT_MS: u32 = 3_000;

/// How to join a PeerServer.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// The PeerServer.
    pub server: ServerConfig,
    /// PeerServers to register on, in order, when `server` cannot be reached; while on one of
    /// them the peer tries `server` again every
    /// [`FAILBACK_INTERVAL`](seedmesh_core::signaling::FAILBACK_INTERVAL).
    pub fallbacks: Vec<ServerConfig>,
    /// The ID to register; a random one if `None`.
    pub id: Option<PeerId>,
    /// The token the ID was registered with before; a fresh one if `None`.
    pub token: Option<Token>,
    /// STUN and TURN servers for every connection.
    pub rtc: RtcConfig,
    /// Timeouts and liveness for every connection.
    pub connection: ConnectionConfig,
    /// Receive limits for connections from seedmesh peers.
    pub limits: Limits,
    /// Receive limits for connections from plain PeerJS clients.
    pub client_limits: Limits,
    /// How many offers are taken up: opening at once, and per source.
    pub offer_limits: OfferLimits,
    /// How many bytes of messages may wait in a [`Connection`] for the application to read
    /// them; past this the connection closes with [`CloseReason::NotRead`].
    pub max_unread: usize,
}

impl PeerOptions {
    /// Defaults for `server`: a random ID, no ICE servers.
    #[must_use]
    pub fn new(server: ServerConfig) -> Self {
        Self {
            server,
            fallbacks: Vec::new(),
            id: None,
            token: None,
            rtc: RtcConfig::default(),
            connection: ConnectionConfig::default(),
            limits: Limits::default(),
            client_limits: Limits::default(),
            offer_limits: OfferLimits::default(),
            max_unread: MAX_UNREAD_BYTES,
        }
    }
}

/// How to open one connection.
#[derive(Debug, Clone)]
pub struct DialOptions {
    /// How messages are encoded for a PeerJS peer: `json` (the default) or `raw`.
    pub serialization: Serialization,
    /// Ordered delivery (PeerJS `reliable`); chunked messages need it. Default `true`.
    pub reliable: bool,
    /// Application data the other end sees with the offer.
    pub metadata: Value,
}

impl Default for DialOptions {
    fn default() -> Self {
        Self {
            serialization: Serialization::Json,
            reliable: true,
            metadata: Value::Null,
        }
    }
}

/// Why the peer or a connection could not do what was asked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PeerError {
    /// The PeerServer refused the registration for good.
    Signaling(SignalingError),
    /// The PeerServer could not be reached.
    Unreachable(String),
    /// The connection closed, or the attempt failed, for this reason.
    Closed(CloseReason),
    /// The message cannot be sent on this connection.
    Channel(ChannelError),
    /// A browser API failed.
    Js(JsError),
    /// An invite could not be made or read.
    Invite(InviteError),
    /// The peer was shut down.
    Shutdown,
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signaling(e) => e.fmt(f),
            Self::Unreachable(why) => write!(
                f,
                "cannot reach the PeerServer ({why}); check its address and that it is running"
            ),
            Self::Closed(reason) => reason.fmt(f),
            Self::Channel(e) => e.fmt(f),
            Self::Js(e) => e.fmt(f),
            Self::Invite(e) => e.fmt(f),
            Self::Shutdown => write!(f, "the peer was shut down"),
        }
    }
}

impl std::error::Error for PeerError {}

impl From<JsError> for PeerError {
    fn from(e: JsError) -> Self {
        Self::Js(e)
    }
}

/// What happened to the peer.
#[derive(Debug)]
#[non_exhaustive]
pub enum PeerEvent {
    /// A peer connected to us, or a connection made by invite opened; its channel is open.
    Incoming(Connection),
    /// The ID is registered for the first time (after [`Peer::start`]).
    Registered,
    /// The ID is registered again after the PeerServer socket dropped.
    Reregistered,
    /// A connection by invite ended before it opened.
    InviteEnded {
        /// Which side of the invite this page was: [`InviteKind::Offer`] for the page that
        /// made it.
        side: InviteKind,
        /// Why it ended.
        reason: CloseReason,
    },
    /// A PeerServer socket dropped or could not open; open connections carry on, and it is
    /// retried (on the next server when `failing_over`).
    Disconnected {
        /// What happened.
        reason: String,
        /// When the next attempt is made.
        retry_in: Duration,
        /// The server that failed.
        server: ServerConfig,
        /// Whether the next attempt goes to another server not yet tried.
        failing_over: bool,
    },
    /// The PeerServer refused us for good: no new connections can be made.
    Failed(SignalingError),
    /// A peer calls us (PeerJS `peer.call`): answer it with [`CallControl::answer`], or drop
    /// it to decline.
    Call(Call),
    /// A peer offered a connection seedmesh cannot take (a serialization it does not know,
    /// say); it was ignored.
    Refused {
        /// The offering peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
}

/// What happened on a connection.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// A message arrived.
    Message(Message),
    /// The peer sent something unreadable; the connection carries on.
    Error(ChannelError),
    /// The connection is over.
    Closed(CloseReason),
}

/// A connection's state and path, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    /// `open`, or why it closed.
    pub state: String,
    /// From dialing (or receiving the offer) to the open channel.
    pub connect_time: Duration,
    /// The selected candidate pair and its RTT, from `getStats()`.
    pub path: PathStats,
    /// The last ping round trip (seedmesh peers only).
    pub ping_rtt: Option<Duration>,
    /// Whether the peer speaks seedmesh framing (rather than being a PeerJS client).
    pub seedmesh_peer: bool,
}

enum DriverInput {
    Socket(u32, SocketEvent),
    Pump,
    Shutdown,
}

enum ConnInput {
    Answer(AnswerPayload),
    /// The person answers an incoming call, sending this stream.
    AnswerCall(MediaStream),
    /// The answer to our invite, from the page that names itself `from`.
    InviteAnswer {
        from: PeerId,
        sdp: String,
    },
    Candidate(Candidate),
    PeerUnavailable,
    PeerLeft,
    Pc(PeerConnectionEvent),
    Channel(ChannelEvent),
    Close,
}

/// A signaling message to carry through the mesh: for `to`, the JSON a PeerServer would get
/// (see [`seedmesh_core::mesh::Mesh::send_signal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshSignal {
    /// The addressee.
    pub to: PeerId,
    /// The signaling message, as PeerJS writes it to a PeerServer.
    pub body: String,
}

/// Where a connection's offer, answer and candidates go.
#[derive(Clone)]
enum SignalPath {
    /// Through the PeerServer.
    PeerServer,
    /// Through the mesh: the application carries each [`MeshSignal`].
    Mesh(UnboundedSender<MeshSignal>),
    /// By a person, as an invite: the description with every candidate gathered goes once out
    /// as the invite's text, and nothing trickles.
    Invite(Rc<InviteOut>),
}

/// Where an invite's text goes once its candidates are gathered.
struct InviteOut {
    text: RefCell<Option<oneshot::Sender<Result<String, PeerError>>>>,
    /// For an answer, the ICE username fragment of the offer it answers.
    in_reply_to: Option<String>,
}

impl SignalPath {
    /// The invite's sender, if this is an invite whose text is not out yet.
    fn take_invite_text(&self) -> Option<oneshot::Sender<Result<String, PeerError>>> {
        match self {
            Self::Invite(out) => out.text.borrow_mut().take(),
            _ => None,
        }
    }
}

struct PeerShared {
    options: PeerOptions,
    signaling: RefCell<Signaling>,
    socket: RefCell<Option<PeerServerSocket>>,
    generation: Cell<u32>,
    driver: UnboundedSender<DriverInput>,
    routes: RefCell<HashMap<ConnectionId, (PeerId, UnboundedSender<ConnInput>)>>,
    events: UnboundedSender<PeerEvent>,
    first: RefCell<Option<oneshot::Sender<Result<(), PeerError>>>>,
    /// Offers taken up (from the PeerServer or the mesh) whose connections are opening, and
    /// how many each source made lately: more are refused before anything is created.
    admission: RefCell<Admission>,
    /// Invites this page made that wait for their answer, with their offer's ICE username
    /// fragment, oldest first; at most [`MAX_OPEN_INVITES`].
    open_invites: RefCell<Vec<(ConnectionId, String)>>,
}

impl PeerShared {
    /// Queues a signaling message and wakes the driver to send it.
    fn signal(&self, message: ClientMessage) {
        self.signaling.borrow_mut().send(message);
        let _ = self.driver.unbounded_send(DriverInput::Pump);
    }

    /// Sends a connection's signaling message for `to` on its path.
    fn signal_on(&self, path: &SignalPath, to: &PeerId, message: ClientMessage) {
        match path {
            SignalPath::PeerServer => self.signal(message),
            SignalPath::Mesh(out) => {
                let _ = out.unbounded_send(MeshSignal {
                    to: to.clone(),
                    body: message.to_json(),
                });
            }
            SignalPath::Invite(_) => {}
        }
    }

    fn route(&self, connection_id: &ConnectionId, input: ConnInput) {
        if let Some((_, tx)) = self.routes.borrow().get(connection_id) {
            let _ = tx.unbounded_send(input);
        }
    }

    /// Resolves [`Peer::connect`]'s wait, if it is waiting; true if it was.
    fn settle_first(&self, result: Result<(), PeerError>) -> bool {
        match self.first.borrow_mut().take() {
            Some(first) => {
                let _ = first.send(result);
                true
            }
            None => false,
        }
    }

    /// Does what the signaling machine asks until it has nothing more.
    fn pump(self: &Rc<Self>) {
        loop {
            let output = self.signaling.borrow_mut().poll_output();
            let Some(output) = output else { return };
            match output {
                SignalingOutput::OpenSocket(url) => {
                    let generation = self.generation.get().wrapping_add(1);
                    self.generation.set(generation);
                    let driver = self.driver.clone();
                    let socket = PeerServerSocket::open(&url, move |event| {
                        let _ = driver.unbounded_send(DriverInput::Socket(generation, event));
                    });
                    match socket {
                        Ok(socket) => *self.socket.borrow_mut() = Some(socket),
                        Err(error) => {
                            *self.socket.borrow_mut() = None;
                            self.signaling
                                .borrow_mut()
                                .handle_socket_closed(now(), &error.to_string());
                        }
                    }
                }
                SignalingOutput::Send(text) => {
                    if let Some(socket) = self.socket.borrow().as_ref() {
                        let _ = socket.send(&text);
                    }
                }
                SignalingOutput::CloseSocket => {
                    *self.socket.borrow_mut() = None;
                }
                SignalingOutput::Event(event) => self.handle_event(event),
                _ => {}
            }
        }
    }

    fn handle_event(self: &Rc<Self>, event: SignalingEvent) {
        match event {
            SignalingEvent::Registered { reconnected } => {
                // Peer::connect resolving says it already; Peer::start's caller hears it here.
                let awaited = self.settle_first(Ok(()));
                let event = if reconnected {
                    Some(PeerEvent::Reregistered)
                } else {
                    (!awaited).then_some(PeerEvent::Registered)
                };
                if let Some(event) = event {
                    let _ = self.events.unbounded_send(event);
                }
            }
            SignalingEvent::Disconnected {
                reason,
                retry_in,
                server,
                failing_over,
            } => {
                if !failing_over {
                    self.settle_first(Err(PeerError::Unreachable(reason.clone())));
                }
                let server = self.signaling.borrow().servers()[server].clone();
                let _ = self.events.unbounded_send(PeerEvent::Disconnected {
                    reason,
                    retry_in,
                    server,
                    failing_over,
                });
            }
            SignalingEvent::Failed(error) => {
                self.settle_first(Err(PeerError::Signaling(error.clone())));
                let _ = self.events.unbounded_send(PeerEvent::Failed(error));
            }
            SignalingEvent::Offer { src, payload } => match Admitted::new(self, &src) {
                Ok(admitted) => self.accept(src, *payload, SignalPath::PeerServer, admitted),
                Err(refusal) => {
                    let _ = self.events.unbounded_send(PeerEvent::Refused {
                        peer: src,
                        reason: refusal.to_string(),
                    });
                }
            },
            SignalingEvent::Answer { payload, .. } => {
                let id = payload.connection_id.clone();
                self.route(&id, ConnInput::Answer(payload));
            }
            SignalingEvent::Candidate { payload, .. } => {
                self.route(
                    &payload.connection_id,
                    ConnInput::Candidate(payload.candidate),
                );
            }
            SignalingEvent::PeerUnavailable { connection_id, .. } => {
                self.route(&connection_id, ConnInput::PeerUnavailable);
            }
            SignalingEvent::PeerLeft { peer } => {
                for (route_peer, tx) in self.routes.borrow().values() {
                    if *route_peer == peer {
                        let _ = tx.unbounded_send(ConnInput::PeerLeft);
                    }
                }
            }
            _ => {}
        }
    }

    /// Takes up an offer, `admitted` within the bounds: data connections in a serialization
    /// we speak only.
    fn accept(
        self: &Rc<Self>,
        src: PeerId,
        offer: OfferPayload,
        path: SignalPath,
        admitted: Admitted,
    ) {
        if offer.connection_type == ConnectionType::Media {
            // A ringing call holds no place among the connections opening: the page's calls
            // bound how many ring.
            drop(admitted);
            // Calls are signaled through the PeerServer only: through the mesh, the caller's
            // ID would be only what the relaying page says. An offer for a call that exists
            // cannot take its place.
            if !matches!(path, SignalPath::PeerServer)
                || self.routes.borrow().contains_key(&offer.connection_id)
            {
                let _ = self.events.unbounded_send(PeerEvent::Refused {
                    peer: src,
                    reason: "a call offered other than through the PeerServer, or under the ID \
                             of a call that exists"
                        .into(),
                });
                return;
            }
            let video = call::offers_video(&offer.sdp.sdp);
            let incoming = call::spawn(
                self,
                src,
                offer.connection_id,
                offer.metadata,
                video,
                path,
                call::Start::Incoming(offer.sdp.sdp),
            );
            let _ = self.events.unbounded_send(PeerEvent::Call(incoming));
            return;
        }
        let serialization = offer.serialization.unwrap_or(Serialization::Binary);
        let refused = if !serialization.is_supported() {
            Some(ChannelError::UnsupportedSerialization(serialization.as_str()).to_string())
        } else {
            None
        };
        if let Some(reason) = refused {
            let _ = self
                .events
                .unbounded_send(PeerEvent::Refused { peer: src, reason });
            return;
        }
        if let SignalPath::PeerServer = path {
            self.signaling
                .borrow_mut()
                .accept(src.clone(), offer.connection_id.clone());
        }
        let setup = Setup {
            opening: Some(admitted),
            role: Role::Answerer,
            peer: src,
            id: offer.connection_id.clone(),
            serialization,
            metadata: offer.metadata.clone(),
            remote_seedmesh: offer.seedmesh.is_some_and(|v| v >= 1),
            path,
        };
        self.spawn_connection(setup, Some(offer.sdp.sdp), None);
    }

    /// Routes signaling for `setup`'s connection to a new task that runs it until it closes.
    fn spawn_connection(
        self: &Rc<Self>,
        setup: Setup,
        offer_sdp: Option<String>,
        opened: Option<Opened>,
    ) {
        let (tx, rx) = unbounded();
        self.routes
            .borrow_mut()
            .insert(setup.id.clone(), (setup.peer.clone(), tx.clone()));
        let shared = self.clone();
        spawn_local(async move {
            run_connection(shared, setup, tx, rx, offer_sdp, opened).await;
        });
    }
}

/// A peer registered on a PeerServer. Dropping it leaves the server and closes every
/// connection; [`PeerHandle`]s let other tasks dial meanwhile.
pub struct Peer {
    handle: PeerHandle,
    events: UnboundedReceiver<PeerEvent>,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl Peer {
    /// Registers on the PeerServer and resolves once the ID is ours. Fails at once if the
    /// server refuses the ID, or if it and every fallback cannot be reached; once registered, a
    /// dropped socket is retried
    /// with the same ID and token, and reported as [`PeerEvent::Disconnected`] and
    /// [`PeerEvent::Reregistered`].
    pub async fn connect(options: PeerOptions) -> Result<Self, PeerError> {
        let (first_tx, first) = oneshot::channel();
        let peer = Self::launch(options, Some(first_tx));
        match first.await {
            Ok(Ok(())) => Ok(peer),
            // Dropping the peer leaves the server.
            Ok(Err(error)) => Err(error),
            Err(_) => Err(PeerError::Shutdown),
        }
    }

    /// Starts registering on the PeerServer and returns at once. The page can make and take
    /// invites meanwhile; registration is reported as [`PeerEvent::Registered`], each failed
    /// attempt as [`PeerEvent::Disconnected`] (and retried, on every server in turn), and a
    /// refusal for good as [`PeerEvent::Failed`].
    #[must_use]
    pub fn start(options: PeerOptions) -> Self {
        Self::launch(options, None)
    }

    fn launch(options: PeerOptions, first: Option<oneshot::Sender<Result<(), PeerError>>>) -> Self {
        let mut random = random_u32;
        let id = options
            .id
            .clone()
            .unwrap_or_else(|| PeerId::random(None, &mut random));
        let token = options
            .token
            .clone()
            .unwrap_or_else(|| Token::random(&mut random));
        let (driver, inputs) = unbounded();
        let (events_tx, events) = unbounded();
        let shared = Rc::new(PeerShared {
            signaling: RefCell::new(Signaling::with_fallbacks(
                options.server.clone(),
                options.fallbacks.clone(),
                id,
                token,
            )),
            admission: RefCell::new(Admission::new(options.offer_limits)),
            options,
            socket: RefCell::new(None),
            generation: Cell::new(0),
            driver,
            routes: RefCell::new(HashMap::new()),
            events: events_tx,
            first: RefCell::new(first),
            open_invites: RefCell::new(Vec::new()),
        });
        shared.signaling.borrow_mut().connect(now());
        spawn_local(drive(shared.clone(), inputs));
        // While the peer registers, so that its first connection does not wait for it.
        spawn_local(PeerConnection::warm_up());
        Self {
            handle: PeerHandle { shared },
            events,
        }
    }

    /// A handle for dialing from other tasks.
    #[must_use]
    pub fn handle(&self) -> PeerHandle {
        self.handle.clone()
    }

    /// Our peer ID.
    #[must_use]
    pub fn id(&self) -> PeerId {
        self.handle.id()
    }

    /// Our token: pass it back in [`PeerOptions::token`] to register the same ID again.
    #[must_use]
    pub fn token(&self) -> Token {
        self.handle.token()
    }

    /// Whether the ID is registered right now.
    #[must_use]
    pub fn is_registered(&self) -> bool {
        self.handle.is_registered()
    }

    /// Opens a connection to `peer`; see [`PeerHandle::dial`].
    pub fn dial(
        &self,
        peer: &PeerId,
        options: DialOptions,
    ) -> impl Future<Output = Result<Connection, PeerError>> + use<> {
        self.handle.dial(peer, options)
    }

    /// The next event, or `None` once the peer is shut down.
    pub async fn next_event(&mut self) -> Option<PeerEvent> {
        self.events.next().await
    }
}

/// A cheap, clonable handle to a [`Peer`] for dialing from any task.
#[derive(Clone)]
pub struct PeerHandle {
    shared: Rc<PeerShared>,
}

impl fmt::Debug for PeerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerHandle")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl PeerHandle {
    /// Our peer ID.
    #[must_use]
    pub fn id(&self) -> PeerId {
        self.shared.signaling.borrow().id().clone()
    }

    /// Our token.
    #[must_use]
    pub fn token(&self) -> Token {
        self.shared.signaling.borrow().token().clone()
    }

    /// Whether the ID is registered right now.
    #[must_use]
    pub fn is_registered(&self) -> bool {
        self.shared.signaling.borrow().is_registered()
    }

    /// The PeerServer in use (or being tried).
    #[must_use]
    pub fn server(&self) -> ServerConfig {
        let signaling = self.shared.signaling.borrow();
        signaling.servers()[signaling.current_server()].clone()
    }

    /// Opens a connection to `peer` and resolves once its channel is open, or with why not
    /// (e.g. [`CloseReason::PeerUnavailable`] when the peer is not on the PeerServer). The
    /// attempt starts at once; the returned future borrows nothing.
    pub fn dial(
        &self,
        peer: &PeerId,
        options: DialOptions,
    ) -> impl Future<Output = Result<Connection, PeerError>> + use<> {
        self.dial_on(peer, options, SignalPath::PeerServer)
    }

    /// Calls `peer` (as PeerJS `peer.call(id, stream, {metadata})` does), sending `stream`,
    /// through the PeerServer; the [`Call`] reports the answer, the peer's media and the end.
    #[must_use]
    pub fn call(&self, peer: &PeerId, stream: &MediaStream, metadata: Value) -> Call {
        self.call_with_id(call::new_id(), peer, stream, metadata)
    }

    /// Like [`PeerHandle::call`], on a call ID chosen before ([`call::new_id`]).
    #[must_use]
    pub fn call_with_id(
        &self,
        id: ConnectionId,
        peer: &PeerId,
        stream: &MediaStream,
        metadata: Value,
    ) -> Call {
        let video = stream.get_video_tracks().length() > 0;
        call::spawn(
            &self.shared,
            peer.clone(),
            id,
            metadata,
            video,
            SignalPath::PeerServer,
            call::Start::Outgoing(Clone::clone(stream)),
        )
    }

    /// Like [`PeerHandle::dial`], but the offer and candidates go to `out` for the application
    /// to carry through the mesh, and the answer and candidates come back through
    /// [`PeerHandle::handle_mesh_signal`]. Without an answer the attempt ends when the
    /// connection's timeout passes.
    pub fn dial_through_mesh(
        &self,
        peer: &PeerId,
        options: DialOptions,
        out: UnboundedSender<MeshSignal>,
    ) -> impl Future<Output = Result<Connection, PeerError>> + use<> {
        self.dial_on(peer, options, SignalPath::Mesh(out))
    }

    /// Takes up a signaling message `from` a peer that came through the mesh: an offer starts
    /// a connection that answers through `out`; an answer or candidate goes to the connection
    /// with `from` it belongs to. Anything else, or unreadable, is refused with a reason and
    /// changes nothing.
    pub fn handle_mesh_signal(
        &self,
        from: &PeerId,
        body: &str,
        out: UnboundedSender<MeshSignal>,
    ) -> Result<(), String> {
        // The same JSON a PeerServer relays, with the source it would add.
        let mut value: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
        let object = value
            .as_object_mut()
            .ok_or("a signaling message is a JSON object")?;
        object.insert("src".into(), Value::String(from.to_string()));
        let message = ServerMessage::parse(&value.to_string()).map_err(|e| e.to_string())?;
        let shared = &self.shared;
        let belongs = |id: &ConnectionId| {
            shared
                .routes
                .borrow()
                .get(id)
                .is_some_and(|(peer, _)| peer == from)
        };
        match message {
            ServerMessage::Offer { src, payload } => {
                if shared.routes.borrow().contains_key(&payload.connection_id) {
                    return Err("an offer for a connection that exists".into());
                }
                let admitted = Admitted::new(shared, &src).map_err(|r| r.to_string())?;
                shared.accept(src, *payload, SignalPath::Mesh(out), admitted);
            }
            ServerMessage::Answer { payload, .. } if belongs(&payload.connection_id) => {
                let id = payload.connection_id.clone();
                shared.route(&id, ConnInput::Answer(payload));
            }
            ServerMessage::Candidate { payload, .. } if belongs(&payload.connection_id) => {
                shared.route(
                    &payload.connection_id,
                    ConnInput::Candidate(payload.candidate),
                );
            }
            _ => return Err("not an offer, or an answer or candidate of ours".into()),
        }
        Ok(())
    }

    /// Makes an invite: a connection whose offer, with every candidate gathered, resolves as
    /// text (about a hundred characters, see [`seedmesh_core::invite`]) for a person to carry
    /// to another page, in a link or a QR code. That page answers with
    /// [`PeerHandle::answer_invite`]; its answer, carried back, goes to
    /// [`PeerHandle::take_answer`], and the connection then opens as [`PeerEvent::Incoming`].
    /// No PeerServer is needed. The invite stays open for [`INVITE_TIMEOUT`]; at most
    /// [`MAX_OPEN_INVITES`] are open at once, and one more ends the oldest.
    pub fn invite(&self) -> impl Future<Output = Result<String, PeerError>> + use<> {
        let (text_tx, text) = oneshot::channel();
        // The invited page's ID is known once its answer names it.
        let setup = Setup::invite(Role::Dialer, self.id(), text_tx, None);
        self.shared.spawn_connection(setup, None, None);
        async move { text.await.unwrap_or(Err(PeerError::Shutdown)) }
    }

    /// Answers the invite `offer` (the text another page's [`PeerHandle::invite`] made):
    /// resolves with the answer's text, for a person to carry back to the inviting page. The
    /// connection opens as [`PeerEvent::Incoming`] once that page has taken the answer, within
    /// [`INVITE_TIMEOUT`]. An unreadable invite, or an answer rather than an offer, is refused
    /// with a reason.
    pub fn answer_invite(
        &self,
        offer: &str,
    ) -> impl Future<Output = Result<String, PeerError>> + use<> {
        let (text_tx, text) = oneshot::channel();
        match Invite::decode(offer) {
            Err(error) => {
                let _ = text_tx.send(Err(PeerError::Invite(error)));
            }
            Ok(invite) if invite.kind != InviteKind::Offer => {
                let _ = text_tx.send(Err(PeerError::Invite(InviteError::NotAnOffer)));
            }
            Ok(invite) if invite.from == self.id() => {
                let _ = text_tx.send(Err(PeerError::Invite(InviteError::OwnInvite)));
            }
            Ok(invite) => {
                let setup = Setup::invite(
                    Role::Answerer,
                    invite.from.clone(),
                    text_tx,
                    Some(invite.ufrag.clone()),
                );
                self.shared
                    .spawn_connection(setup, Some(invite.to_sdp()), None);
            }
        }
        async move { text.await.unwrap_or(Err(PeerError::Shutdown)) }
    }

    /// Takes the answer to one of this page's open invites (the text the invited page's
    /// [`PeerHandle::answer_invite`] made) and returns who answered; the connection opens as
    /// [`PeerEvent::Incoming`]. An unreadable answer, or one to no invite that is still open
    /// here, is refused with a reason and changes nothing.
    pub fn take_answer(&self, answer: &str) -> Result<PeerId, PeerError> {
        let invite = Invite::decode(answer).map_err(PeerError::Invite)?;
        if invite.kind != InviteKind::Answer {
            return Err(PeerError::Invite(InviteError::NotAnAnswer));
        }
        let id = {
            let mut open = self.shared.open_invites.borrow_mut();
            let at = open
                .iter()
                .position(|(_, ufrag)| Some(ufrag) == invite.in_reply_to.as_ref())
                .ok_or(PeerError::Invite(InviteError::NoOpenInvite))?;
            open.remove(at).0
        };
        if let Some((peer, tx)) = self.shared.routes.borrow_mut().get_mut(&id) {
            peer.clone_from(&invite.from);
            let _ = tx.unbounded_send(ConnInput::InviteAnswer {
                from: invite.from.clone(),
                sdp: invite.to_sdp(),
            });
        }
        Ok(invite.from)
    }

    fn dial_on(
        &self,
        peer: &PeerId,
        options: DialOptions,
        path: SignalPath,
    ) -> impl Future<Output = Result<Connection, PeerError>> + use<> {
        let (opened_tx, opened) = oneshot::channel();
        if options.serialization.is_supported() {
            let setup = Setup {
                role: Role::Dialer,
                peer: peer.clone(),
                id: ConnectionId::random(&mut random_u32),
                serialization: options.serialization,
                metadata: options.metadata,
                remote_seedmesh: false,
                path,
                opening: None,
            };
            self.shared
                .spawn_connection(setup, None, Some((opened_tx, options.reliable)));
        } else {
            let _ = opened_tx.send(Err(PeerError::Channel(
                ChannelError::UnsupportedSerialization(options.serialization.as_str()),
            )));
        }
        async move { opened.await.unwrap_or(Err(PeerError::Shutdown)) }
    }
}

impl Drop for Peer {
    /// Leaves the PeerServer and closes every connection.
    fn drop(&mut self) {
        let _ = self
            .handle
            .shared
            .driver
            .unbounded_send(DriverInput::Shutdown);
    }
}

/// The signaling task: socket events and timers in, the machine's outputs out.
async fn drive(shared: Rc<PeerShared>, mut inputs: UnboundedReceiver<DriverInput>) {
    shared.pump();
    let mut alarm = Alarm::default();
    loop {
        alarm.set(shared.signaling.borrow().poll_timeout());
        let next = match select(inputs.next(), Box::pin(alarm.ring())).await {
            Either::Left((input, _)) => Either::Left(input),
            Either::Right(_) => Either::Right(()),
        };
        let at = now();
        match next {
            Either::Left(Some(DriverInput::Socket(generation, event))) => {
                if generation == shared.generation.get() {
                    let mut signaling = shared.signaling.borrow_mut();
                    match event {
                        SocketEvent::Open => signaling.handle_socket_open(at),
                        SocketEvent::Message(text) => signaling.handle_socket_message(at, &text),
                        SocketEvent::Closed { code, reason } => {
                            let why = if reason.is_empty() {
                                format!("the socket closed with code {code}")
                            } else {
                                format!("the socket closed with code {code}: {reason}")
                            };
                            signaling.handle_socket_closed(at, &why);
                        }
                    }
                }
            }
            Either::Left(Some(DriverInput::Pump)) => {}
            Either::Left(Some(DriverInput::Shutdown) | None) => break,
            Either::Right(()) => shared.signaling.borrow_mut().handle_timeout(at),
        }
        shared.pump();
    }
    shared.signaling.borrow_mut().close();
    shared.pump();
    *shared.socket.borrow_mut() = None;
    shared.settle_first(Err(PeerError::Shutdown));
    let routes: Vec<_> = shared.routes.borrow_mut().drain().collect();
    for (_, (_, tx)) in routes {
        let _ = tx.unbounded_send(ConnInput::Close);
    }
}

/// Counts a connection taken up from an offer while it opens; dropped when it opened or
/// ended.
struct Admitted(Rc<PeerShared>);

impl Admitted {
    /// Counts an offer from `source` as taken up, if the bounds allow it.
    fn new(shared: &Rc<PeerShared>, source: &PeerId) -> Result<Self, Refusal> {
        shared.admission.borrow_mut().admit(now(), source)?;
        Ok(Self(shared.clone()))
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.admission.borrow_mut().finished();
    }
}

struct Setup {
    /// For a connection taken up from an offer, its place among those opening.
    opening: Option<Admitted>,
    role: Role,
    peer: PeerId,
    id: ConnectionId,
    serialization: Serialization,
    metadata: Value,
    remote_seedmesh: bool,
    path: SignalPath,
}

impl Setup {
    /// A connection by invite: both ends are seedmesh pages, and its text goes to `text`.
    fn invite(
        role: Role,
        peer: PeerId,
        text: oneshot::Sender<Result<String, PeerError>>,
        in_reply_to: Option<String>,
    ) -> Self {
        Self {
            role,
            peer,
            id: ConnectionId::random(&mut random_u32),
            serialization: Serialization::Json,
            metadata: Value::Null,
            remote_seedmesh: true,
            path: SignalPath::Invite(Rc::new(InviteOut {
                text: RefCell::new(Some(text)),
                in_reply_to,
            })),
            opening: None,
        }
    }
}

/// What a [`Connection`] handle shares with its task.
struct ConnShared {
    peer: PeerId,
    id: ConnectionId,
    through_mesh: bool,
    by_invite: bool,
    serialization: Serialization,
    metadata: Value,
    remote_seedmesh: bool,
    connect_time: Duration,
    /// Bytes of messages queued for the application and not read yet.
    unread: Cell<usize>,
    /// The DTLS fingerprints, read when the channel opened.
    binding: Option<ChannelBinding>,
    pc: RefCell<Option<Rc<PeerConnection>>>,
    channel: RefCell<Option<DataChannel>>,
    encoder: RefCell<Encoder>,
    closed: RefCell<Option<CloseReason>>,
    ping_rtt: Cell<Option<Duration>>,
    /// Senders waiting for `bufferedAmount` to fall; the channel's low-water event wakes them.
    low_waiters: Waiters,
    inputs: UnboundedSender<ConnInput>,
}

impl ConnShared {
    fn send_frame(&self, frame: &Frame) -> Result<(), PeerError> {
        let channel = self.channel.borrow();
        let channel = channel.as_ref().ok_or_else(|| self.closed_error())?;
        match frame {
            Frame::Text(text) => channel.send_text(text),
            Frame::Binary(bytes) => channel.send_bytes(bytes),
        }
        .map_err(PeerError::Js)
    }

    fn closed_error(&self) -> PeerError {
        PeerError::Closed(self.closed.borrow().clone().unwrap_or(CloseReason::Local))
    }

    /// Sends one frame [`Frames::next_into`] made.
    fn send_bytes(&self, kind: FrameKind, bytes: &[u8]) -> Result<(), PeerError> {
        let channel = self.channel.borrow();
        let channel = channel.as_ref().ok_or_else(|| self.closed_error())?;
        match kind {
            FrameKind::Text => {
                let text = core::str::from_utf8(bytes).map_err(|_| {
                    PeerError::Channel(ChannelError::NotRepresentable("a text frame is not UTF-8"))
                })?;
                channel.send_text(text)
            }
            FrameKind::Binary => channel.send_bytes(bytes),
        }
        .map_err(PeerError::Js)
    }

    fn wake_senders(&self) {
        wake(&self.low_waiters);
    }
}

type Opened = (oneshot::Sender<Result<Connection, PeerError>>, bool);

/// Senders waiting for a connection's send buffer to drain.
type Waiters = Rc<RefCell<Vec<oneshot::Sender<()>>>>;

fn wake(waiters: &Waiters) {
    for waiter in waiters.borrow_mut().drain(..) {
        let _ = waiter.send(());
    }
}

fn transport(state: RtcPeerConnectionState) -> TransportState {
    match state {
        RtcPeerConnectionState::Connected => TransportState::Connected,
        RtcPeerConnectionState::Disconnected => TransportState::Disconnected,
        RtcPeerConnectionState::Failed => TransportState::Failed,
        RtcPeerConnectionState::Closed => TransportState::Closed,
        _ => TransportState::Connecting,
    }
}

/// One connection, from offer to close. Ends when the connection closes.
async fn run_connection(
    peer_shared: Rc<PeerShared>,
    setup: Setup,
    tx: UnboundedSender<ConnInput>,
    rx: UnboundedReceiver<ConnInput>,
    offer_sdp: Option<String>,
    opened: Option<Opened>,
) {
    let started = now();
    let id = setup.id.clone();
    let path = setup.path.clone();
    let result = connection_task(&peer_shared, setup, tx, rx, offer_sdp, opened, started).await;
    if let Err((error, opened)) = result {
        if let Some((opened, _)) = opened {
            let _ = opened.send(Err(error.clone()));
        }
        // An invite whose text never went out says why.
        if let Some(text) = path.take_invite_text() {
            let _ = text.send(Err(error));
        }
    }
    peer_shared
        .open_invites
        .borrow_mut()
        .retain(|(invite, _)| *invite != id);
    peer_shared.routes.borrow_mut().remove(&id);
    peer_shared.signaling.borrow_mut().forget(&id);
}

/// Sends an invite's text, once. The page that made the offer keeps it open for the answer.
fn send_invite(peer_shared: &Rc<PeerShared>, setup: &Setup, invite: Result<Invite, InviteError>) {
    let SignalPath::Invite(out) = &setup.path else {
        return;
    };
    let Some(text_tx) = out.text.borrow_mut().take() else {
        return;
    };
    let text = match invite {
        Ok(invite) => {
            if invite.kind == InviteKind::Offer {
                let mut open = peer_shared.open_invites.borrow_mut();
                open.push((setup.id.clone(), invite.ufrag.clone()));
                // One invite too many ends the oldest.
                if open.len() > MAX_OPEN_INVITES {
                    let (oldest, _) = open.remove(0);
                    peer_shared.route(&oldest, ConnInput::Close);
                }
            }
            Ok(invite.encode())
        }
        Err(error) => Err(PeerError::Invite(error)),
    };
    let _ = text_tx.send(text);
}

async fn connection_task(
    peer_shared: &Rc<PeerShared>,
    mut setup: Setup,
    tx: UnboundedSender<ConnInput>,
    mut rx: UnboundedReceiver<ConnInput>,
    offer_sdp: Option<String>,
    mut opened: Option<Opened>,
    started: Instant,
) -> Result<(), (PeerError, Option<Opened>)> {
    let options = &peer_shared.options;
    let mut config = options.connection;
    let mut negotiation = match &setup.path {
        SignalPath::Invite(out) => {
            // An invite waits for people to carry it both ways.
            config.open_timeout = INVITE_TIMEOUT;
            let own_id = peer_shared.signaling.borrow().id().clone();
            Negotiation::by_invite(setup.role, own_id, out.in_reply_to.clone(), started)
        }
        _ => Negotiation::trickled(setup.role),
    };
    // Whether the peer speaks seedmesh framing, as its answer says; applied with the answer.
    let mut answer_seedmesh = setup.remote_seedmesh;
    let mut machine = ConnectionMachine::new(setup.role, config, started);
    let mut pc = match PeerConnection::new(&options.rtc) {
        Ok(pc) => pc,
        Err(e) => return Err((e.into(), opened)),
    };
    {
        let tx = tx.clone();
        pc.set_handler(move |event| {
            let _ = tx.unbounded_send(ConnInput::Pc(event));
        });
    }
    let pc = Rc::new(pc);
    let low_waiters = Waiters::default();
    let channel_handler = {
        let tx = tx.clone();
        let low_waiters = low_waiters.clone();
        move |event| match event {
            // Waiting senders go on at once, not after a turn of the connection's task.
            ChannelEvent::BufferedAmountLow => wake(&low_waiters),
            event => {
                let _ = tx.unbounded_send(ConnInput::Channel(event));
            }
        }
    };
    let mut channel = None;
    let mut remote_seedmesh = setup.remote_seedmesh;

    match &offer_sdp {
        None => {
            let reliable = opened.as_ref().is_some_and(|o| o.1);
            let mut dc = match pc.create_data_channel(setup.id.as_str(), reliable) {
                Ok(dc) => dc,
                Err(e) => return Err((e.into(), opened)),
            };
            dc.set_handler(channel_handler.clone());
            channel = Some(dc);
            // The offer goes out while the browser sets it as the local description.
            let (sdp, local_set) = match pc.offer().await {
                Ok(offer) => offer,
                Err(e) => return Err((e.into(), opened)),
            };
            negotiation.handle_local_description(&sdp);
            let payload = OfferPayload {
                sdp: SessionDescription {
                    kind: "offer".into(),
                    sdp,
                },
                connection_type: ConnectionType::Data,
                connection_id: setup.id.clone(),
                label: Some(setup.id.as_str().to_owned()),
                reliable: Some(reliable),
                serialization: Some(setup.serialization),
                metadata: setup.metadata.clone(),
                seedmesh: Some(FRAMING_VERSION),
            };
            match &setup.path {
                SignalPath::Invite(_) => {}
                SignalPath::PeerServer => {
                    peer_shared
                        .signaling
                        .borrow_mut()
                        .dial(setup.peer.clone(), payload);
                    let _ = peer_shared.driver.unbounded_send(DriverInput::Pump);
                }
                path => peer_shared.signal_on(
                    path,
                    &setup.peer,
                    ClientMessage::Offer {
                        dst: setup.peer.clone(),
                        payload: Box::new(payload),
                    },
                ),
            }
            if let Err(e) = local_set.await {
                return Err((e.into(), opened));
            }
        }
        Some(sdp) => {
            // The answer goes out while the browser sets it as the local description.
            let (answer, local_set) = match pc.answer(sdp).await {
                Ok(answer) => answer,
                Err(e) => return Err((e.into(), opened)),
            };
            negotiation.handle_local_description(&answer);
            peer_shared.signal_on(
                &setup.path,
                &setup.peer,
                ClientMessage::Answer {
                    dst: setup.peer.clone(),
                    payload: AnswerPayload {
                        sdp: SessionDescription {
                            kind: "answer".into(),
                            sdp: answer,
                        },
                        connection_type: ConnectionType::Data,
                        connection_id: setup.id.clone(),
                        seedmesh: Some(FRAMING_VERSION),
                    },
                },
            );
            if let Err(e) = local_set.await {
                return Err((e.into(), opened));
            }
        }
    }

    let mut shared: Option<Rc<ConnShared>> = None;
    let mut alarm = Alarm::default();
    let mut user: Option<UnboundedSender<(usize, ConnectionEvent)>> = None;
    let mut decoder: Option<Decoder> = None;
    // Bytes of frames read since the last whole message.
    let mut frame_bytes = 0usize;

    loop {
        // Do what the negotiation decided.
        while let Some(step) = negotiation.poll_output() {
            match step {
                NegotiationOutput::ApplyAnswer(sdp) => {
                    remote_seedmesh = answer_seedmesh;
                    machine.handle_answered(now());
                    if pc.accept_answer(&sdp).await.is_ok() {
                        negotiation.handle_remote_description_set();
                    } else {
                        machine.close(CloseReason::TransportFailed);
                    }
                }
                // A candidate the browser cannot use is no reason to fail the connection.
                NegotiationOutput::AddCandidate(candidate) => {
                    let _ = pc.add_ice_candidate(&ice_candidate(candidate)).await;
                }
                NegotiationOutput::InviteReady(invite) => send_invite(peer_shared, &setup, invite),
            }
        }
        // Do what the machine says.
        while let Some(output) = machine.poll_output() {
            match output {
                Output::Opened => {
                    setup.opening = None;
                    let protocol = if remote_seedmesh {
                        Protocol::Seedmesh
                    } else {
                        Protocol::PeerJs(setup.serialization)
                    };
                    let (encoder, dec) = match (
                        Encoder::new(protocol),
                        Decoder::new(
                            protocol,
                            if remote_seedmesh {
                                options.limits
                            } else {
                                options.client_limits
                            },
                        ),
                    ) {
                        (Ok(e), Ok(d)) => (e, d),
                        (Err(e), _) | (_, Err(e)) => {
                            machine.close(CloseReason::Local);
                            if let Some((opened, _)) = opened.take() {
                                let _ = opened.send(Err(PeerError::Channel(e)));
                            }
                            continue;
                        }
                    };
                    decoder = Some(dec);
                    if let Some(dc) = &channel {
                        dc.set_low_water_mark(LOW_WATER_MARK);
                    }
                    let conn = Rc::new(ConnShared {
                        peer: setup.peer.clone(),
                        id: setup.id.clone(),
                        through_mesh: matches!(setup.path, SignalPath::Mesh(_)),
                        by_invite: matches!(setup.path, SignalPath::Invite(_)),
                        serialization: setup.serialization,
                        metadata: setup.metadata.clone(),
                        remote_seedmesh,
                        connect_time: now().saturating_since(started),
                        unread: Cell::new(0),
                        binding: pc.binding(),
                        pc: RefCell::new(Some(pc.clone())),
                        channel: RefCell::new(channel.take()),
                        encoder: RefCell::new(encoder),
                        closed: RefCell::new(None),
                        ping_rtt: Cell::new(None),
                        low_waiters: low_waiters.clone(),
                        inputs: tx.clone(),
                    });
                    let (events_tx, events) = unbounded();
                    user = Some(events_tx);
                    let handle = Connection {
                        sender: ConnectionSender {
                            handle: Rc::new(Handle(conn.clone())),
                        },
                        events,
                    };
                    shared = Some(conn);
                    match opened.take() {
                        Some((opened, _)) => {
                            if opened.send(Ok(handle)).is_err() {
                                machine.close(CloseReason::Local);
                            }
                        }
                        None => {
                            let _ = peer_shared
                                .events
                                .unbounded_send(PeerEvent::Incoming(handle));
                        }
                    }
                }
                Output::SendPing(nonce) => {
                    if let Some(conn) = &shared {
                        let frame = conn.encoder.borrow().ping(nonce);
                        if let Some(frame) = frame {
                            let _ = conn.send_frame(&frame);
                        }
                    }
                }
                Output::RoundTrip(rtt) => {
                    if let Some(conn) = &shared {
                        conn.ping_rtt.set(Some(rtt));
                    }
                }
                Output::Closed(reason) => {
                    if shared.is_none() && matches!(setup.path, SignalPath::Invite(_)) {
                        let side = match setup.role {
                            Role::Dialer => InviteKind::Offer,
                            Role::Answerer => InviteKind::Answer,
                        };
                        let _ = peer_shared.events.unbounded_send(PeerEvent::InviteEnded {
                            side,
                            reason: reason.clone(),
                        });
                    }
                    if let Some(conn) = &shared {
                        *conn.closed.borrow_mut() = Some(reason.clone());
                        if matches!(reason, CloseReason::Local | CloseReason::NotRead { .. }) {
                            let frame = conn.encoder.borrow().close();
                            if let Some(frame) = frame {
                                let _ = conn.send_frame(&frame);
                            }
                            // The channel sends what is still buffered before it closes; the
                            // connection under it must live until then.
                            if let Some(channel) = conn.channel.borrow().as_ref() {
                                channel.close();
                            }
                            let flushed = async {
                                while let Some(input) = rx.next().await {
                                    if matches!(input, ConnInput::Channel(ChannelEvent::Closed)) {
                                        break;
                                    }
                                }
                            };
                            let _ = select(Box::pin(flushed), TimeoutFuture::new(FLUSH_TIMEOUT_MS))
                                .await;
                        }
                        // Dropping the browser objects closes them and frees their callbacks.
                        conn.channel.borrow_mut().take();
                        conn.pc.borrow_mut().take();
                        conn.wake_senders();
                    }
                    if let Some(user) = user.take() {
                        let _ = user.unbounded_send((0, ConnectionEvent::Closed(reason.clone())));
                    }
                    return Err((PeerError::Closed(reason), opened));
                }
                _ => {}
            }
        }

        let deadline = match (machine.poll_timeout(), negotiation.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        alarm.set(deadline);
        let next = match select(rx.next(), Box::pin(alarm.ring())).await {
            Either::Left((input, _)) => Some(input),
            Either::Right(_) => None,
        };
        let at = now();
        let input = match next {
            Some(Some(input)) => input,
            Some(None) => ConnInput::Close,
            None => {
                negotiation.handle_timeout(at);
                machine.handle_timeout(at);
                continue;
            }
        };
        match input {
            ConnInput::InviteAnswer { from, sdp } => {
                // The invited page's ID is known from its answer.
                if setup.role == Role::Dialer && !machine.is_open() {
                    setup.peer = from;
                }
                negotiation.handle_answer(sdp);
            }
            ConnInput::Answer(answer) => {
                answer_seedmesh = answer.seedmesh.is_some_and(|v| v >= 1);
                negotiation.handle_answer(answer.sdp.sdp);
            }
            ConnInput::Candidate(candidate) => negotiation.handle_candidate(candidate),
            ConnInput::Pc(PeerConnectionEvent::IceGatheringComplete) => {
                negotiation.handle_gathering_complete();
            }
            ConnInput::PeerUnavailable => machine.handle_peer_unavailable(),
            ConnInput::PeerLeft => machine.handle_peer_left(),
            ConnInput::Close => machine.close(CloseReason::Local),
            ConnInput::Pc(PeerConnectionEvent::IceCandidate(c))
                if negotiation.handle_local_candidate(&c.candidate) => {}
            ConnInput::Pc(PeerConnectionEvent::IceCandidate(c)) => {
                let message = candidate_message(&setup.peer, &setup.id, ConnectionType::Data, c);
                peer_shared.signal_on(&setup.path, &setup.peer, message);
            }
            ConnInput::Pc(PeerConnectionEvent::DataChannel(mut dc)) => {
                if channel.is_none() && shared.is_none() {
                    dc.set_handler(channel_handler.clone());
                    let already_open = dc.is_open();
                    channel = Some(dc);
                    if already_open {
                        machine.handle_channel_open(at, remote_seedmesh);
                    }
                }
            }
            ConnInput::Pc(PeerConnectionEvent::StateChanged(state)) => {
                machine.handle_transport(at, transport(state));
            }
            ConnInput::Channel(ChannelEvent::Open) => {
                machine.handle_channel_open(at, remote_seedmesh);
            }
            ConnInput::Channel(ChannelEvent::Closed) => machine.handle_remote_close(),
            // A data connection carries no media, and is no call to answer.
            ConnInput::AnswerCall(_) | ConnInput::Pc(PeerConnectionEvent::Track(_)) => {}
            ConnInput::Channel(ChannelEvent::BufferedAmountLow) => {
                if let Some(conn) = &shared {
                    conn.wake_senders();
                }
            }
            ConnInput::Channel(ChannelEvent::Message(frame)) => {
                machine.handle_heard(at);
                let (Some(conn), Some(decoder)) = (&shared, decoder.as_mut()) else {
                    continue;
                };
                let frame = match frame {
                    crate::rtc::Frame::Text(t) => Frame::Text(t),
                    crate::rtc::Frame::Binary(b) => Frame::Binary(b),
                };
                frame_bytes += match &frame {
                    Frame::Text(t) => t.len(),
                    Frame::Binary(b) => b.len(),
                };
                let event = match decoder.decode(at, frame) {
                    Ok(None) => continue,
                    Ok(Some(Received::Message(message))) => ConnectionEvent::Message(message),
                    Ok(Some(Received::Ping(nonce))) => {
                        let frame = conn.encoder.borrow().pong(nonce);
                        if let Some(frame) = frame {
                            let _ = conn.send_frame(&frame);
                        }
                        continue;
                    }
                    Ok(Some(Received::Pong(nonce))) => {
                        machine.handle_pong(at, nonce);
                        continue;
                    }
                    Ok(Some(Received::Close)) => {
                        machine.handle_remote_close();
                        continue;
                    }
                    Ok(Some(_)) => continue,
                    Err(error) => ConnectionEvent::Error(error),
                };
                let size = core::mem::take(&mut frame_bytes);
                let unread = conn.unread.get() + size;
                conn.unread.set(unread);
                if unread > options.max_unread {
                    // The application is not reading: stop taking more than it can hold.
                    machine.close(CloseReason::NotRead { unread });
                    continue;
                }
                if let Some(user) = &user {
                    let _ = user.unbounded_send((size, event));
                }
            }
        }
    }
}

/// A remote candidate as the browser takes it.
/// Our candidate `c` of connection `id`, for `peer`.
fn candidate_message(
    peer: &PeerId,
    id: &ConnectionId,
    kind: ConnectionType,
    c: IceCandidate,
) -> ClientMessage {
    ClientMessage::Candidate {
        dst: peer.clone(),
        payload: CandidatePayload {
            candidate: Candidate {
                candidate: c.candidate,
                sdp_mid: c.sdp_mid,
                sdp_m_line_index: c.sdp_m_line_index,
                username_fragment: c.username_fragment,
            },
            connection_type: kind,
            connection_id: id.clone(),
        },
    }
}

fn ice_candidate(candidate: Candidate) -> IceCandidate {
    IceCandidate {
        candidate: candidate.candidate,
        sdp_mid: candidate.sdp_mid,
        sdp_m_line_index: candidate.sdp_m_line_index,
        username_fragment: candidate.username_fragment,
    }
}

/// Closes the connection when the last [`Connection`] or [`ConnectionSender`] is dropped.
struct Handle(Rc<ConnShared>);

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.0.inputs.unbounded_send(ConnInput::Close);
    }
}

/// The sending half of a [`Connection`]: cheap to clone, usable from any task or callback.
#[derive(Clone)]
pub struct ConnectionSender {
    handle: Rc<Handle>,
}

impl fmt::Debug for ConnectionSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionSender")
            .field("peer", &self.shared().peer)
            .field("id", &self.shared().id)
            .finish_non_exhaustive()
    }
}

impl ConnectionSender {
    fn shared(&self) -> &ConnShared {
        &self.handle.0
    }

    /// Whether the connection was signaled through the mesh rather than a PeerServer.
    #[must_use]
    pub fn signaled_through_mesh(&self) -> bool {
        self.shared().through_mesh
    }

    /// Whether the connection was made by an invite a person carried.
    #[must_use]
    pub fn signaled_by_invite(&self) -> bool {
        self.shared().by_invite
    }

    /// The peer at the other end.
    #[must_use]
    pub fn peer(&self) -> &PeerId {
        &self.shared().peer
    }

    /// The connection's ID (also the data channel's label).
    #[must_use]
    pub fn id(&self) -> &ConnectionId {
        &self.shared().id
    }

    /// Whether the connection is closed, and why.
    #[must_use]
    pub fn closed(&self) -> Option<CloseReason> {
        self.shared().closed.borrow().clone()
    }

    /// Sends one message, waiting while the browser's send buffer is above
    /// [`HIGH_WATER_MARK`]. Messages larger than one frame are chunked for seedmesh peers.
    pub async fn send(&self, message: &Message) -> Result<(), PeerError> {
        let shared = self.shared();
        if shared.closed.borrow().is_some() {
            return Err(shared.closed_error());
        }
        let mut frames = shared
            .encoder
            .borrow_mut()
            .frames(message)
            .map_err(PeerError::Channel)?;
        // One buffer for every frame of the message; the browser copies each frame out of it.
        let mut buffer = Vec::new();
        while let Some(kind) = frames.next_into(&mut buffer) {
            loop {
                let buffered = match shared.channel.borrow().as_ref() {
                    Some(channel) => channel.buffered_amount(),
                    None => return Err(shared.closed_error()),
                };
                if buffered <= HIGH_WATER_MARK {
                    break;
                }
                let (wake, woken) = oneshot::channel();
                shared.low_waiters.borrow_mut().push(wake);
                // Woken by bufferedamountlow or close; the timeout guards against a missed event.
                let _ = select(woken, TimeoutFuture::new(1_000)).await;
            }
            shared.send_bytes(kind, &buffer)?;
        }
        Ok(())
    }

    /// Closes the connection, telling the peer if its protocol has a way to.
    pub fn close(&self) {
        let _ = self.shared().inputs.unbounded_send(ConnInput::Close);
    }

    /// The connection's state, path and round-trip times.
    pub async fn diagnostics(&self) -> Diagnostics {
        let shared = self.shared();
        let state = match self.closed() {
            Some(reason) => format!("closed: {reason}"),
            None => "open".to_owned(),
        };
        let pc = shared.pc.borrow().clone();
        let path = match pc {
            Some(pc) => pc.path_stats().await.unwrap_or_default(),
            None => PathStats::default(),
        };
        Diagnostics {
            state,
            connect_time: shared.connect_time,
            path,
            ping_rtt: shared.ping_rtt.get(),
            seedmesh_peer: shared.remote_seedmesh,
        }
    }
}

/// An open data connection to another peer. It closes when it and every
/// [`ConnectionSender`] made from it are dropped, or with [`Connection::close`].
pub struct Connection {
    sender: ConnectionSender,
    /// Events, each with the bytes it counts among the unread.
    events: UnboundedReceiver<(usize, ConnectionEvent)>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("peer", self.peer())
            .field("id", self.id())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// The peer at the other end.
    #[must_use]
    pub fn peer(&self) -> &PeerId {
        self.sender.peer()
    }

    /// The connection's ID (also the data channel's label).
    #[must_use]
    pub fn id(&self) -> &ConnectionId {
        self.sender.id()
    }

    /// The serialization named in the offer.
    #[must_use]
    pub fn serialization(&self) -> Serialization {
        self.sender.shared().serialization
    }

    /// Whether the connection was signaled through the mesh rather than a PeerServer.
    #[must_use]
    pub fn signaled_through_mesh(&self) -> bool {
        self.sender.signaled_through_mesh()
    }

    /// Whether the connection was made by an invite a person carried.
    #[must_use]
    pub fn signaled_by_invite(&self) -> bool {
        self.sender.signaled_by_invite()
    }

    /// Whether the far end speaks seedmesh framing (marked its offer or answer so), rather
    /// than being a plain PeerJS client.
    #[must_use]
    pub fn speaks_seedmesh(&self) -> bool {
        self.sender.shared().remote_seedmesh
    }

    /// The connection's DTLS fingerprints (ours and theirs), which a seedmesh peer's proof of
    /// identity covers; `None` if the browser did not show its descriptions.
    pub fn binding(&self) -> Option<&ChannelBinding> {
        self.sender.handle.0.binding.as_ref()
    }

    /// The metadata the dialer attached to the offer.
    #[must_use]
    pub fn metadata(&self) -> &Value {
        &self.sender.shared().metadata
    }

    /// Whether the connection is closed, and why.
    #[must_use]
    pub fn closed(&self) -> Option<CloseReason> {
        self.sender.closed()
    }

    /// A sending handle that can be cloned and moved into other tasks.
    #[must_use]
    pub fn sender(&self) -> ConnectionSender {
        self.sender.clone()
    }

    /// Sends one message; see [`ConnectionSender::send`].
    pub async fn send(&self, message: &Message) -> Result<(), PeerError> {
        self.sender.send(message).await
    }

    /// The next event, or `None` after [`ConnectionEvent::Closed`].
    pub async fn next_event(&mut self) -> Option<ConnectionEvent> {
        let next = self.events.next().await;
        self.read(next)
    }

    /// The next event if one is queued, without waiting.
    pub fn try_next_event(&mut self) -> Option<ConnectionEvent> {
        let next = self.events.next().now_or_never().flatten();
        self.read(next)
    }

    /// Counts an event as read.
    fn read(&self, next: Option<(usize, ConnectionEvent)>) -> Option<ConnectionEvent> {
        let (size, event) = next?;
        let unread = &self.sender.handle.0.unread;
        unread.set(unread.get().saturating_sub(size));
        Some(event)
    }

    /// Closes the connection, telling the peer if its protocol has a way to.
    pub fn close(&self) {
        self.sender.close();
    }

    /// The connection's state, path and round-trip times.
    pub async fn diagnostics(&self) -> Diagnostics {
        self.sender.diagnostics().await
    }
}
