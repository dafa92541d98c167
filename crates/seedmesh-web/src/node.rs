//! The whole mesh for a page in a few lines: a [`Node`] registers on its PeerServers, meets
//! peers by rendezvous, peer exchange and invites, links again through the mesh when a path
//! fails, carries chat and files, takes plain PeerJS clients as peers, and makes and takes
//! audio and video calls.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use seedmesh_core::endpoint::Event;
//! use seedmesh_core::mesh::MeshConfig;
//! use seedmesh_core::signaling::ServerConfig;
//! use seedmesh_web::node::{Node, NodeEvent, NodeOptions};
//! use seedmesh_web::peer::PeerOptions;
//!
//! let server = ServerConfig::from_url("wss://0.peerjs.com/", "peerjs")?;
//! let mut options = NodeOptions::new(PeerOptions::new(server), "Ada");
//! options.mesh = MeshConfig { namespace: Some("my-room".into()), ..MeshConfig::default() };
//! let mut node = Node::start(options)?;
//! node.send_chat("hello, room", None);
//! while let Some(event) = node.next_event().await {
//!     if let NodeEvent::Mesh(Event::Chat(chat)) = event {
//!         println!("{}: {}", chat.from, chat.text);
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Every decision is [`Endpoint`]'s; this module only carries what happens in the browser to
//! it and does the [`Action`]s it asks, one task for the node and one per link.

use core::time::Duration;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::future::{AbortHandle, Abortable, Either, select};
use futures::{Future, Stream, StreamExt};
use gloo_timers::future::IntervalStream;
use seedmesh_core::call::{CallAction, CallError};
use seedmesh_core::channel::{Limits, Message};
use seedmesh_core::client;
use seedmesh_core::discovery::SeedConfig;
use seedmesh_core::endpoint::{Action, Endpoint, Event, Through};
use seedmesh_core::invite::Kind as InviteKind;
use seedmesh_core::mesh::{DegreeConfig, LinkId, MeshConfig, MeshError, SlotResult};
use seedmesh_core::path::Path;
use seedmesh_core::proof::PeerKey;
use seedmesh_core::signaling::ConnectionId;
use seedmesh_core::signaling::{MAX_SERVERS, ServerConfig, SignalingError};
use seedmesh_core::{Instant, PeerId, Token};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen_futures::spawn_local;
use web_sys::MediaStream;

use crate::clock::{Alarm, now, random_u32};
use crate::js::JsError;
use crate::media::LocalMedia;
use crate::peer::{
    Call, CallControl, CallEvent, Connection, ConnectionEvent, ConnectionSender, DialOptions,
    MeshSignal, Peer, PeerError, PeerEvent, PeerHandle, PeerOptions, call,
};
use crate::rtc::{IceServer, RtcConfig};

/// How long the node's task waits for its endpoint when the endpoint names no deadline.
const IDLE_WAKEUP: Duration = Duration::from_secs(60);

/// What a [`Node`] starts with.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// The page's long-lived key: the node goes by its ID ([`PeerKey::peer_id`]) and proves it
    /// to every peer. Random unless set; keep it (see [`PeerKey::to_text`]) to stay the same
    /// peer across visits.
    pub key: PeerKey,
    /// Its peer: token (random if unset), PeerServers, ICE servers, timeouts. Its ID is the
    /// key's.
    pub peer: PeerOptions,
    /// Rendezvous and peer exchange.
    pub mesh: MeshConfig,
    /// The display name peers see.
    pub name: String,
    /// How often each link's path and round trip are read ([`NodeEvent::Path`]).
    pub path_interval: Duration,
}

impl NodeOptions {
    /// Options for a node on `peer`'s servers, named `name`, with the default mesh.
    #[must_use]
    pub fn new(peer: PeerOptions, name: &str) -> Self {
        Self {
            key: PeerKey::random(&mut random_u32),
            peer,
            mesh: MeshConfig::default(),
            name: name.to_owned(),
            path_interval: Duration::from_secs(2),
        }
    }

    /// Options from a seed domain's records (see [`crate::doh::discover`]): every PeerServer
    /// by priority (the first, then the others as fallbacks, at most
    /// [`seedmesh_core::signaling::MAX_SERVERS`], none twice; `default_server` when the
    /// records name none), the STUN and TURN servers, the rendezvous namespace and the
    /// bootstrap peers.
    #[must_use]
    pub fn from_records(config: &SeedConfig, name: &str, default_server: ServerConfig) -> Self {
        let mut endpoints: Vec<_> = config.signaling.iter().collect();
        endpoints.sort_by_key(|s| s.priority);
        let mut servers = endpoints.into_iter().map(|s| ServerConfig {
            secure: s.secure,
            host: s.host.clone(),
            port: s.port,
            path: s.path.clone(),
            key: s.key.clone(),
        });
        let first = servers.next().unwrap_or(default_server);
        let mut peer = PeerOptions::new(first.clone());
        for server in servers {
            if server != first
                && !peer.fallbacks.contains(&server)
                && peer.fallbacks.len() + 1 < MAX_SERVERS
            {
                peer.fallbacks.push(server);
            }
        }
        peer.rtc = RtcConfig {
            ice_servers: config
                .ice_servers
                .iter()
                .map(|s| IceServer {
                    urls: s.urls.clone(),
                    username: s.username.clone(),
                    credential: s.credential.clone(),
                })
                .collect(),
            relay_only: false,
        };
        let mut options = Self::new(peer, name);
        if let Some(rendezvous) = &config.rendezvous {
            options.mesh.namespace = Some(rendezvous.namespace.clone());
            options.mesh.slots = u8::try_from(rendezvous.slots.min(64)).unwrap_or(4);
        }
        options.mesh.bootstrap = config
            .bootstrap_peers
            .iter()
            .filter_map(|p| PeerId::parse(p).ok())
            .collect();
        if let Some(bounds) = config.mesh {
            options.mesh.degree = DegreeConfig {
                low: bounds.low,
                target: bounds.target,
                high: bounds.high,
            };
        }
        options
    }
}

/// What happened to a [`Node`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NodeEvent {
    /// What the mesh reports: peers, chat, files, deliveries, rendezvous, signaling counts.
    Mesh(Event),
    /// Registered on `server`, for the first time or again.
    Registered {
        /// The PeerServer.
        server: ServerConfig,
    },
    /// A PeerServer could not be reached or dropped us; it is retried (the next server first
    /// when `failing_over`). Open links carry on.
    Unreachable {
        /// The PeerServer.
        server: ServerConfig,
        /// What happened.
        reason: String,
        /// When the next attempt is made.
        retry_in: Duration,
        /// Whether the next attempt goes to another server not yet tried.
        failing_over: bool,
        /// Whether the node is registered on another server all the same.
        registered: bool,
    },
    /// The PeerServer refused us for good (for [`SignalingError::IdTaken`], start a node under
    /// another ID); the mesh and invites carry on.
    Refused(SignalingError),
    /// A link's path: round trip and how the bytes travel.
    Path {
        /// The peer.
        peer: PeerId,
        /// The round trip, from our pings or ICE.
        rtt: Option<Duration>,
        /// Direct, through NAT or relayed; `None` before ICE chose a pair.
        path: Option<Path>,
        /// Whether the link was signaled through the mesh.
        through_mesh: bool,
    },
    /// A chat message of ours went out.
    Sent {
        /// Its ID.
        id: String,
        /// The text.
        text: String,
        /// The addressee, for a direct message.
        to: Option<PeerId>,
        /// How many pages it was sent to (for the room, about how many it has); each
        /// confirms it.
        recipients: usize,
        /// How many plain PeerJS clients it went to as well, which confirm nothing.
        clients: usize,
        /// When, in ms since the Unix epoch.
        sent_at: u64,
    },
    /// A file of ours is on its way; its progress comes as [`Event::FileProgress`].
    FileSent {
        /// The transfer's ID.
        id: String,
        /// The file's name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// The addressee, for a direct transfer.
        to: Option<PeerId>,
        /// How many pages it goes to; each confirms it.
        recipients: usize,
        /// How many plain PeerJS clients it goes to as well, which confirm nothing.
        clients: usize,
        /// When, in ms since the Unix epoch.
        sent_at: u64,
    },
    /// A message or file could not be sent; the text says why.
    SendFailed(String),
    /// The invite [`Node::make_invite`] asked for: its text, or why there is none.
    InviteMade(Result<String, String>),
    /// The answer to the invite given to [`Node::answer_invite`]: its text, or why not.
    InviteAnswered(Result<String, String>),
    /// What came of [`Node::take_answer`]: who answered, or why the answer was refused.
    AnswerTaken(Result<PeerId, String>),
    /// A connection by invite ended before it opened.
    InviteEnded {
        /// Whether this node made the invite (rather than answered it).
        ours: bool,
        /// Why it ended.
        reason: String,
    },
    /// A call could not be made or changed; the text says why. Calls themselves come as
    /// [`Event::Call`].
    CallFailed(String),
    /// Our camera and microphone for call `id`, to show as a preview.
    LocalMedia {
        /// The call.
        id: String,
        /// Our media.
        stream: MediaStream,
    },
    /// The other side's media on call `id`, to play.
    RemoteMedia {
        /// The call.
        id: String,
        /// Their media.
        stream: MediaStream,
    },
}

/// A page in the mesh; see the [module](self) docs. Dropping it closes every link and leaves
/// every PeerServer.
pub struct Node {
    id: PeerId,
    inputs: UnboundedSender<Input>,
    events: UnboundedReceiver<NodeEvent>,
}

impl core::fmt::Debug for Node {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Starts a node: it registers in the background, and rendezvous, exchange and invites
    /// work at once. Fails only for a mesh configuration that cannot work.
    pub fn start(mut options: NodeOptions) -> Result<Self, MeshError> {
        let id = options.key.peer_id();
        options.peer.id = Some(id.clone());
        // Mesh links carry mesh messages and file chunks only: a peer cannot make the page
        // hold or parse more than those. Plain PeerJS clients send whole files as one message.
        options.peer.limits = Limits::mesh();
        options.peer.client_limits = client::limits();
        let endpoint = Endpoint::new(options.key.clone(), &options.name, options.mesh.clone())?;
        let (inputs, input_rx) = unbounded();
        let (events, event_rx) = unbounded();
        spawn_local(run(options, endpoint, inputs.clone(), input_rx, events));
        Ok(Self {
            id,
            inputs,
            events: event_rx,
        })
    }

    /// Our peer ID.
    #[must_use]
    pub fn id(&self) -> &PeerId {
        &self.id
    }

    /// Sends `text` to the room, or to `to` alone ([`NodeEvent::Sent`] or
    /// [`NodeEvent::SendFailed`] follows).
    pub fn send_chat(&self, text: &str, to: Option<PeerId>) {
        self.command(Command::Chat {
            text: text.to_owned(),
            to,
        });
    }

    /// Sends a file to the room, or to `to` alone ([`NodeEvent::FileSent`] or
    /// [`NodeEvent::SendFailed`] follows).
    pub fn send_file(&self, name: &str, mime: &str, bytes: Vec<u8>, to: Option<PeerId>) {
        self.command(Command::SendFile {
            name: name.to_owned(),
            mime: mime.to_owned(),
            bytes,
            to,
        });
    }

    /// Asks the author of a file shared with the room (an [`Event::FileAnnounced`]'s ID) for
    /// it; it then arrives as any other file, or [`Event::FileFailed`] says why not.
    pub fn want_file(&self, id: &str) {
        self.command(Command::WantFile(id.to_owned()));
    }

    /// Changes our display name, for every peer.
    pub fn rename(&self, name: &str) {
        self.command(Command::Rename(name.to_owned()));
    }

    /// Makes an invite for a person to carry to another page ([`NodeEvent::InviteMade`]).
    pub fn make_invite(&self) {
        self.command(Command::MakeInvite);
    }

    /// Answers the invite `offer` another page made ([`NodeEvent::InviteAnswered`]).
    pub fn answer_invite(&self, offer: &str) {
        self.command(Command::AnswerInvite(offer.to_owned()));
    }

    /// Takes the answer to one of our invites ([`NodeEvent::AnswerTaken`]).
    pub fn take_answer(&self, answer: &str) {
        self.command(Command::TakeAnswer(answer.to_owned()));
    }

    /// Calls `peer`, with video or audio only: the camera and microphone open, and the call
    /// comes as [`Event::Call`], our media as [`NodeEvent::LocalMedia`] and theirs as
    /// [`NodeEvent::RemoteMedia`] ([`NodeEvent::CallFailed`] if it cannot be made).
    pub fn call(&self, peer: PeerId, video: bool) {
        self.command(Command::Call { peer, video });
    }

    /// Answers the incoming call `id`, with video if the caller sends video.
    pub fn answer_call(&self, id: &str) {
        self.command(Command::AnswerCall(id.to_owned()));
    }

    /// Declines or ends the call `id`.
    pub fn hang_up(&self, id: &str) {
        self.command(Command::HangUp(id.to_owned()));
    }

    /// Mutes or unmutes our microphone on call `id`.
    pub fn set_muted(&self, id: &str, muted: bool) {
        self.command(Command::Mute {
            id: id.to_owned(),
            muted,
        });
    }

    /// Turns our camera off or on for call `id`.
    pub fn set_camera_off(&self, id: &str, off: bool) {
        self.command(Command::CameraOff {
            id: id.to_owned(),
            off,
        });
    }

    /// The next event, or `None` once the node stopped.
    pub async fn next_event(&mut self) -> Option<NodeEvent> {
        self.events.next().await
    }

    fn command(&self, command: Command) {
        let _ = self.inputs.unbounded_send(Input::Command(command));
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.inputs.unbounded_send(Input::Shutdown);
    }
}

/// What a [`Node`]'s owner asks of it.
enum Command {
    Chat {
        text: String,
        to: Option<PeerId>,
    },
    Rename(String),
    SendFile {
        name: String,
        mime: String,
        bytes: Vec<u8>,
        to: Option<PeerId>,
    },
    WantFile(String),
    MakeInvite,
    AnswerInvite(String),
    TakeAnswer(String),
    Call {
        peer: PeerId,
        video: bool,
    },
    AnswerCall(String),
    HangUp(String),
    Mute {
        id: String,
        muted: bool,
    },
    CameraOff {
        id: String,
        off: bool,
    },
}

/// Everything that reaches the node's loop.
enum Input {
    Command(Command),
    Incoming(Connection),
    Peer(PeerEvent),
    Slot(u8, Result<Peer, SlotResult>),
    Dialed(LinkId, Result<Connection, PeerError>),
    Connection(LinkId, ConnectionEvent),
    /// A signaling message of ours to carry through the mesh.
    MeshSignal(MeshSignal),
    /// An invite's text is ready (`ours`), or the answer to someone else's.
    InviteText {
        ours: bool,
        text: Result<String, String>,
    },
    /// A peer calls us.
    IncomingCall(Call),
    /// Something happened on call `id`.
    Call(String, CallEvent),
    /// The camera and microphone for call `id` opened, or could not.
    MediaReady(String, Result<LocalMedia, JsError>),
    Tick,
    Shutdown,
}

/// A message for a link's outbox; file chunks note how far their transfer has got.
struct Outgoing {
    message: Message,
    file_progress: Option<(String, u64)>,
}

/// A link's I/O: its sender, the task that sends its outbox, the task that reads it.
struct Link {
    sender: ConnectionSender,
    outbox: UnboundedSender<Outgoing>,
    reader: AbortHandle,
}

/// A call's browser side: its connection once there is one, the task that reads it (aborting
/// it drops the call, which hangs up), and our media while it lasts. Whom it is with and
/// whether it has video are the endpoint's ([`Endpoint::calls`]).
#[derive(Default)]
struct CallLink {
    control: Option<CallControl>,
    reader: Option<AbortHandle>,
    media: Option<LocalMedia>,
}

impl Drop for CallLink {
    fn drop(&mut self) {
        if let Some(control) = &self.control {
            control.hang_up();
        }
        if let Some(reader) = &self.reader {
            reader.abort();
        }
    }
}

struct Driver {
    endpoint: Endpoint,
    peer: PeerHandle,
    options: PeerOptions,
    /// Ends the task that owns the peer; the peer then leaves its PeerServer.
    main_peer: AbortHandle,
    inputs: UnboundedSender<Input>,
    events: UnboundedSender<NodeEvent>,
    links: HashMap<LinkId, Link>,
    /// Every open link's sender, shared with the `pagehide` handler, which closes them all so
    /// that peers see this page leave at once rather than after the liveness timeout.
    senders: Rc<RefCell<HashMap<LinkId, ConnectionSender>>>,
    slots: HashMap<PeerId, AbortHandle>,
    /// Where connections signaled through the mesh put their messages.
    mesh_signals: UnboundedSender<MeshSignal>,
    /// Calls, by ID.
    calls: HashMap<String, CallLink>,
}

async fn run(
    options: NodeOptions,
    endpoint: Endpoint,
    inputs: UnboundedSender<Input>,
    mut input_rx: UnboundedReceiver<Input>,
    events: UnboundedSender<NodeEvent>,
) {
    let (mesh_signals, mesh_signal_rx) = unbounded::<MeshSignal>();
    let ticks = u32::try_from(options.path_interval.as_millis()).unwrap_or(u32::MAX);
    let (forwarders, forwarding) = AbortHandle::new_pair();
    let forwarded = futures::future::join(
        forward(inputs.clone(), mesh_signal_rx, Input::MeshSignal),
        forward(inputs.clone(), IntervalStream::new(ticks.max(100)), |()| {
            Input::Tick
        }),
    );
    spawn_local(async move {
        let _ = Abortable::new(forwarded, forwarding).await;
    });
    let senders: Rc<RefCell<HashMap<LinkId, ConnectionSender>>> = Rc::default();
    let _page_hide = PageHide::listen(senders.clone());
    let peer = Peer::start(options.peer.clone());
    let handle = peer.handle();
    let main_peer = forward_peer(peer, inputs.clone(), true);
    let mut driver = Driver {
        endpoint,
        peer: handle,
        options: options.peer,
        main_peer,
        inputs,
        events,
        links: HashMap::new(),
        senders,
        slots: HashMap::new(),
        mesh_signals,
        calls: HashMap::new(),
    };
    driver.endpoint.start(now());
    driver.drain();
    let mut alarm = Alarm::default();
    loop {
        let deadline = driver.endpoint.poll_timeout();
        alarm.set(Some(deadline.unwrap_or_else(|| now() + IDLE_WAKEUP)));
        let next = match select(input_rx.next(), Box::pin(alarm.ring())).await {
            Either::Left((input, _)) => Some(input),
            Either::Right(_) => None,
        };
        match next {
            Some(Some(Input::Shutdown) | None) => break,
            Some(Some(input)) => driver.handle(input),
            None => driver.endpoint.handle_timeout(now()),
        }
        driver.drain();
    }
    forwarders.abort();
}

/// Sends `wrap(item)` to `inputs` for each item of `stream`, until either ends.
async fn forward<S: Stream + Unpin>(
    inputs: UnboundedSender<Input>,
    mut stream: S,
    wrap: impl Fn(S::Item) -> Input,
) {
    while let Some(item) = stream.next().await {
        if inputs.unbounded_send(wrap(item)).is_err() {
            break;
        }
    }
}

/// The `pagehide` listener that closes every link as the page goes, removed with the node.
struct PageHide(Option<Closure<dyn FnMut()>>);

impl PageHide {
    fn listen(senders: Rc<RefCell<HashMap<LinkId, ConnectionSender>>>) -> Self {
        let handler = Closure::<dyn FnMut()>::new(move || {
            for sender in senders.borrow().values() {
                sender.close();
            }
        });
        let listening = web_sys::window().is_some_and(|w| {
            w.add_event_listener_with_callback("pagehide", handler.as_ref().unchecked_ref())
                .is_ok()
        });
        Self(listening.then_some(handler))
    }
}

impl Drop for PageHide {
    fn drop(&mut self) {
        if let (Some(window), Some(handler)) = (web_sys::window(), &self.0) {
            let _ = window
                .remove_event_listener_with_callback("pagehide", handler.as_ref().unchecked_ref());
        }
    }
}

impl Driver {
    fn emit(&self, event: NodeEvent) {
        let _ = self.events.unbounded_send(event);
    }

    fn handle(&mut self, input: Input) {
        let now = now();
        match input {
            Input::Command(command) => self.command(command),
            Input::InviteText { ours: true, text } => self.emit(NodeEvent::InviteMade(text)),
            Input::InviteText { ours: false, text } => self.emit(NodeEvent::InviteAnswered(text)),
            // A plain PeerJS client through the mesh: its ID would be only what the relaying
            // page says, so it is refused. PeerJS clients use a PeerServer.
            Input::Incoming(connection)
                if !connection.speaks_seedmesh() && connection.signaled_through_mesh() =>
            {
                connection.close();
            }
            // A plain PeerJS client: no hello, no proof, no part of the mesh.
            Input::Incoming(connection) if !connection.speaks_seedmesh() => {
                let peer = connection.peer().clone();
                match self
                    .endpoint
                    .client_connected(now, peer, connection.serialization())
                {
                    Ok(link) => self.attach(link, connection),
                    Err(_) => connection.close(),
                }
            }
            Input::Incoming(connection) => {
                let peer = connection.peer().clone();
                // Without the connection's fingerprints no hello on it could be proven.
                let Some(binding) = connection.binding().cloned() else {
                    connection.close();
                    return;
                };
                match self
                    .endpoint
                    .connected(now, peer, connection.signaled_by_invite(), binding)
                {
                    Some(link) => self.attach(link, connection),
                    None => connection.close(),
                }
            }
            Input::Peer(event) => self.peer_event(event),
            Input::Slot(slot, Ok(slot_peer)) => {
                let id = slot_peer.id();
                let abort = forward_peer(slot_peer, self.inputs.clone(), false);
                self.slots.insert(id, abort);
                self.endpoint.slot_result(now, slot, SlotResult::Claimed);
            }
            Input::Slot(slot, Err(result)) => self.endpoint.slot_result(now, slot, result),
            Input::Dialed(link, Ok(connection)) => match connection.binding().cloned() {
                Some(binding) => {
                    self.attach(link, connection);
                    self.endpoint.dialed(now, link, Ok(binding));
                }
                None => {
                    connection.close();
                    let reason = "the browser did not show the connection's DTLS fingerprints";
                    self.endpoint.dialed(now, link, Err(reason.to_owned()));
                }
            },
            Input::Dialed(link, Err(error)) => {
                self.endpoint.dialed(now, link, Err(error.to_string()));
            }
            Input::Connection(link, ConnectionEvent::Message(message))
                if self.endpoint.is_client(link) =>
            {
                self.endpoint
                    .client_message(now, wall_clock(), link, message);
            }
            Input::Connection(link, ConnectionEvent::Error(error))
                if self.endpoint.is_client(link) =>
            {
                self.endpoint.client_unreadable(link, &error.to_string());
            }
            Input::Connection(link, ConnectionEvent::Message(message)) => match message {
                Message::Binary(chunk) => self.endpoint.received_binary(now, link, &chunk),
                Message::Json(value) => self.endpoint.received_text(now, link, &value.to_string()),
                Message::Text(text) => self.endpoint.received_text(now, link, &text),
                // Mesh links use seedmesh framing, which carries no BinaryPack values.
                Message::Packed(_) => {}
            },
            Input::Connection(link, ConnectionEvent::Closed(reason)) => {
                self.senders.borrow_mut().remove(&link);
                if let Some(link_state) = self.links.remove(&link) {
                    link_state.reader.abort();
                }
                self.endpoint.closed(now, link, &reason);
            }
            Input::Connection(..) => {}
            Input::MeshSignal(signal) => {
                let nonce = u64::from(random_u32()) << 32 | u64::from(random_u32());
                // Without a route the attempt times out, as one whose peer never answers.
                let _ = self.endpoint.send_signal(&signal.to, signal.body, nonce);
            }
            Input::Tick => self.read_paths(),
            Input::IncomingCall(call) => self.incoming_call(now, call),
            // Events of a call that ended here already change nothing.
            Input::Call(id, event) if self.calls.contains_key(&id) => {
                self.call_event(now, &id, event);
            }
            Input::Call(..) => {}
            Input::MediaReady(id, media) => self.media_ready(&id, media),
            Input::Shutdown => {}
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Chat { text, to } => {
                let sent_at = wall_clock();
                match self.endpoint.send_chat(sent_at, &text, to.as_ref()) {
                    Ok(sent) => self.emit(NodeEvent::Sent {
                        id: sent.id,
                        text,
                        to,
                        recipients: sent.recipients,
                        clients: sent.clients,
                        sent_at,
                    }),
                    Err(error) => self.emit(NodeEvent::SendFailed(error.to_string())),
                }
            }
            Command::Rename(name) => self.endpoint.set_name(&name),
            Command::SendFile {
                name,
                mime,
                bytes,
                to,
            } => {
                let sent_at = wall_clock();
                match self
                    .endpoint
                    .send_file(sent_at, &name, &mime, &bytes, to.as_ref())
                {
                    Ok(file) => self.emit(NodeEvent::FileSent {
                        id: file.id,
                        name,
                        size: bytes.len() as u64,
                        to,
                        recipients: file.recipients,
                        clients: file.clients,
                        sent_at,
                    }),
                    Err(error) => self.emit(NodeEvent::SendFailed(error.to_string())),
                }
            }
            Command::WantFile(id) => {
                if let Err(error) = self.endpoint.want_file(&id) {
                    self.emit(NodeEvent::Mesh(Event::FileFailed {
                        id: Some(id),
                        reason: error.to_string(),
                    }));
                }
            }
            Command::MakeInvite => {
                let invite = self.peer.invite();
                self.when_ready(true, invite);
            }
            Command::AnswerInvite(text) => {
                let answer = self.peer.answer_invite(&text);
                self.when_ready(false, answer);
            }
            Command::TakeAnswer(text) => {
                let taken = self.peer.take_answer(&text).map_err(|e| e.to_string());
                self.emit(NodeEvent::AnswerTaken(taken));
            }
            Command::Call { peer, video } => {
                let id = call::new_id().as_str().to_owned();
                match self.endpoint.calls_mut().place(now(), peer, &id, video) {
                    Ok(()) => {
                        self.calls.insert(id.clone(), CallLink::default());
                        self.capture(id, video);
                    }
                    Err(error) => self.emit(NodeEvent::CallFailed(error.to_string())),
                }
            }
            Command::AnswerCall(id) => {
                let answered = self.endpoint.calls_mut().answer(now(), &id);
                self.report_call(answered);
            }
            Command::HangUp(id) => {
                let hung_up = self.endpoint.calls_mut().hang_up(&id);
                self.report_call(hung_up);
            }
            Command::Mute { id, muted } => {
                let changed = self.endpoint.calls_mut().set_muted(&id, muted);
                self.report_call(changed);
            }
            Command::CameraOff { id, off } => {
                let changed = self.endpoint.calls_mut().set_camera_off(&id, off);
                self.report_call(changed);
            }
        }
    }

    /// Says why a call could not be answered, ended or changed, if it could not.
    fn report_call(&self, result: Result<(), CallError>) {
        if let Err(error) = result {
            self.emit(NodeEvent::CallFailed(error.to_string()));
        }
    }

    /// A peer calls us: it rings, unless too many ring already (then it is dropped, which
    /// declines it).
    fn incoming_call(&mut self, now: Instant, call: Call) {
        let control = call.control();
        let id = control.id().as_str().to_owned();
        let peer = control.peer().clone();
        if self
            .endpoint
            .calls_mut()
            .incoming(now, peer, &id, control.offers_video())
            .is_err()
        {
            return;
        }
        let reader = self.read_call(&id, call);
        self.calls.insert(
            id,
            CallLink {
                control: Some(control),
                reader: Some(reader),
                media: None,
            },
        );
    }

    /// Opens the camera (for `video`) and microphone for call `id`, in the background; with no
    /// camera to be had, the microphone alone.
    fn capture(&self, id: String, video: bool) {
        let inputs = self.inputs.clone();
        spawn_local(async move {
            let mut media = LocalMedia::capture(video).await;
            if video && media.is_err() {
                media = LocalMedia::capture(false).await;
            }
            let _ = inputs.unbounded_send(Input::MediaReady(id, media));
        });
    }

    /// Our media for call `id` is ready, or could not be had: the call is placed or
    /// answered with it, or ends.
    fn media_ready(&mut self, id: &str, media: Result<LocalMedia, JsError>) {
        let media = match media {
            Ok(media) => media,
            Err(error) => {
                self.calls.remove(id);
                let reason = format!("the camera or microphone could not be used ({error})");
                self.endpoint.calls_mut().ended(id, &reason);
                return;
            }
        };
        // Hung up while the camera opened: the media is dropped, which stops it.
        let Some(wanted_video) = self.endpoint.calls().get(id).map(|view| view.video) else {
            self.calls.remove(id);
            return;
        };
        // No camera to be had: the call goes on with the microphone, camera off.
        if wanted_video && !media.has_video() {
            let _ = self.endpoint.calls_mut().set_camera_off(id, true);
        }
        self.endpoint.calls_mut().media_ready(now(), id);
        let Some(view) = self.endpoint.calls().get(id).cloned() else {
            return;
        };
        media.set_sending(!view.muted, !view.camera_off);
        let placed = match self.calls.get(id) {
            Some(link) if link.control.is_none() => {
                let Some(call_id) = ConnectionId::parse(id) else {
                    return;
                };
                Some(self.peer.call_with_id(
                    call_id,
                    &view.peer,
                    media.stream(),
                    serde_json::Value::Null,
                ))
            }
            Some(link) => {
                if let Some(control) = &link.control {
                    control.answer(media.stream());
                }
                None
            }
            None => return,
        };
        self.emit(NodeEvent::LocalMedia {
            id: id.to_owned(),
            stream: Clone::clone(media.stream()),
        });
        let reader = placed.map(|call| (call.control(), self.read_call(id, call)));
        if let Some(link) = self.calls.get_mut(id) {
            if let Some((control, reader)) = reader {
                link.control = Some(control);
                link.reader = Some(reader);
            }
            link.media = Some(media);
        }
    }

    /// What the browser says of call `id`.
    fn call_event(&mut self, now: Instant, id: &str, event: CallEvent) {
        match event {
            CallEvent::Answered => self.endpoint.calls_mut().answered(now, id),
            CallEvent::Stream(stream) => self.emit(NodeEvent::RemoteMedia {
                id: id.to_owned(),
                stream,
            }),
            CallEvent::Connected => self.endpoint.calls_mut().media_flowing(now, id),
            CallEvent::Ended(reason) => {
                self.calls.remove(id);
                self.endpoint.calls_mut().ended(id, &reason);
            }
        }
    }

    /// Moves `call` into a task that passes its events to the loop.
    fn read_call(&self, id: &str, mut call: Call) -> AbortHandle {
        let inputs = self.inputs.clone();
        let id = id.to_owned();
        let (abort, registration) = AbortHandle::new_pair();
        spawn_local(async move {
            let pump = async move {
                while let Some(event) = call.next_event().await {
                    let ended = matches!(event, CallEvent::Ended(_));
                    if inputs
                        .unbounded_send(Input::Call(id.clone(), event))
                        .is_err()
                        || ended
                    {
                        break;
                    }
                }
            };
            let _ = Abortable::new(pump, registration).await;
        });
        abort
    }

    fn peer_event(&mut self, event: PeerEvent) {
        let event = match event {
            PeerEvent::Registered | PeerEvent::Reregistered => NodeEvent::Registered {
                server: self.peer.server(),
            },
            PeerEvent::Disconnected {
                reason,
                retry_in,
                server,
                failing_over,
            } => NodeEvent::Unreachable {
                server,
                reason,
                retry_in,
                failing_over,
                registered: self.peer.is_registered(),
            },
            PeerEvent::Failed(error) => NodeEvent::Refused(error),
            PeerEvent::InviteEnded { side, reason } => NodeEvent::InviteEnded {
                ours: side == InviteKind::Offer,
                reason: reason.to_string(),
            },
            _ => return,
        };
        self.emit(event);
    }

    /// Does what the endpoint asks, and passes on what it reports.
    fn drain(&mut self) {
        while let Some(action) = self.endpoint.poll_action() {
            self.act(action);
        }
        while let Some(event) = self.endpoint.poll_event() {
            self.emit(NodeEvent::Mesh(event));
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::ClaimSlot { slot, id } => self.claim(slot, id),
            Action::ReleaseSlot { id } => {
                if let Some(abort) = self.slots.remove(&id) {
                    abort.abort();
                }
            }
            Action::Dial {
                link,
                peer,
                through: Through::Mesh,
            } => {
                let dial = self.peer.dial_through_mesh(
                    &peer,
                    DialOptions::default(),
                    self.mesh_signals.clone(),
                );
                self.when_dialed(link, dial);
            }
            Action::Dial {
                link,
                peer,
                through: Through::PeerServer,
            } => {
                let dial = self.peer.dial(&peer, DialOptions::default());
                self.when_dialed(link, dial);
            }
            Action::Send { link, message } => {
                let value = serde_json::to_value(&message).unwrap_or_default();
                self.queue(link, Message::Json(value), None);
            }
            Action::SendChunk {
                link,
                chunk,
                id,
                done,
            } => self.queue(link, Message::Binary(chunk), Some((id, done))),
            Action::SendToClient {
                link,
                message,
                file,
            } => self.queue(link, message, file),
            Action::Close { link } => {
                self.senders.borrow_mut().remove(&link);
                if let Some(state) = self.links.remove(&link) {
                    state.sender.close();
                    state.reader.abort();
                }
            }
            Action::Call(CallAction::Answer { id }) => {
                let video = self
                    .endpoint
                    .calls()
                    .get(&id)
                    .is_some_and(|view| view.video);
                self.capture(id, video);
            }
            Action::Call(CallAction::End { id }) => {
                self.calls.remove(&id);
            }
            Action::Call(CallAction::SetMedia { id, audio, video }) => {
                if let Some(media) = self.calls.get(&id).and_then(|link| link.media.as_ref()) {
                    media.set_sending(audio, video);
                }
            }
            Action::TakeSignal { from, body } => {
                // Unreadable or stray signaling changes nothing but the count.
                let taken = self
                    .peer
                    .handle_mesh_signal(&from, &body, self.mesh_signals.clone());
                if taken.is_err() {
                    self.endpoint.signal_refused();
                }
            }
        }
    }

    /// Queues `message` on `link`'s outbox; a file chunk notes how far its transfer got.
    fn queue(&self, link: LinkId, message: Message, file_progress: Option<(String, u64)>) {
        if let Some(state) = self.links.get(&link) {
            let _ = state.outbox.unbounded_send(Outgoing {
                message,
                file_progress,
            });
        }
    }

    /// Reports what came of a dial for `link` to the loop.
    fn when_dialed(
        &self,
        link: LinkId,
        dial: impl Future<Output = Result<Connection, PeerError>> + 'static,
    ) {
        let inputs = self.inputs.clone();
        spawn_local(async move {
            let _ = inputs.unbounded_send(Input::Dialed(link, dial.await));
        });
    }

    /// Hands an invite's text (`ours`) or an answer's to the loop once it is ready.
    fn when_ready(
        &self,
        ours: bool,
        text: impl Future<Output = Result<String, PeerError>> + 'static,
    ) {
        let inputs = self.inputs.clone();
        spawn_local(async move {
            let text = text.await.map_err(|e| e.to_string());
            let _ = inputs.unbounded_send(Input::InviteText { ours, text });
        });
    }

    /// Registers rendezvous slot `slot` as `id`, with a token of its own.
    fn claim(&mut self, slot: u8, id: PeerId) {
        let mut options = self.options.clone();
        options.id = Some(id);
        options.token = Some(Token::random(&mut random_u32));
        let inputs = self.inputs.clone();
        spawn_local(async move {
            let result = match Peer::connect(options).await {
                Ok(peer) => Ok(peer),
                Err(PeerError::Signaling(SignalingError::IdTaken { .. })) => Err(SlotResult::Taken),
                Err(error) => Err(SlotResult::Failed(error.to_string())),
            };
            let _ = inputs.unbounded_send(Input::Slot(slot, result));
        });
    }

    /// Keeps a link's sender and pumps its events and outgoing messages.
    fn attach(&mut self, link: LinkId, mut connection: Connection) {
        let sender = connection.sender();
        let (outbox, mut outbox_rx) = unbounded::<Outgoing>();
        {
            let sender = sender.clone();
            let events = self.events.clone();
            spawn_local(async move {
                while let Some(outgoing) = outbox_rx.next().await {
                    if sender.send(&outgoing.message).await.is_err() {
                        break;
                    }
                    if let Some((id, done)) = outgoing.file_progress {
                        let progress = Event::FileProgress { id, done };
                        let _ = events.unbounded_send(NodeEvent::Mesh(progress));
                    }
                }
            });
        }
        let inputs = self.inputs.clone();
        let (reader, registration) = AbortHandle::new_pair();
        spawn_local(async move {
            let pump = async move {
                while let Some(event) = connection.next_event().await {
                    let closed = matches!(event, ConnectionEvent::Closed(_));
                    if inputs
                        .unbounded_send(Input::Connection(link, event))
                        .is_err()
                        || closed
                    {
                        break;
                    }
                }
                connection.close();
            };
            let _ = Abortable::new(pump, registration).await;
        });
        self.senders.borrow_mut().insert(link, sender.clone());
        self.links.insert(
            link,
            Link {
                sender,
                outbox,
                reader,
            },
        );
    }

    /// Reads every link's path, as [`NodeEvent::Path`].
    fn read_paths(&self) {
        for (link, state) in &self.links {
            let Some(peer) = self.endpoint.peer_on(*link) else {
                continue;
            };
            let sender = state.sender.clone();
            let events = self.events.clone();
            spawn_local(async move {
                let diagnostics = sender.diagnostics().await;
                let path = diagnostics.path.path();
                let rtt = diagnostics.ping_rtt.or(diagnostics.path.round_trip_time);
                let _ = events.unbounded_send(NodeEvent::Path {
                    peer,
                    rtt,
                    path,
                    through_mesh: sender.signaled_through_mesh(),
                });
            });
        }
    }
}

impl Drop for Driver {
    /// Closes every link and leaves every PeerServer.
    fn drop(&mut self) {
        for (link, state) in self.links.drain() {
            self.senders.borrow_mut().remove(&link);
            state.sender.close();
            state.reader.abort();
        }
        for (_, slot) in self.slots.drain() {
            slot.abort();
        }
        self.calls.clear();
        self.main_peer.abort();
    }
}

/// Moves `peer` into a task that forwards its incoming connections, and for the `main` peer
/// its other events too; aborting the handle drops the peer, which leaves the PeerServer.
fn forward_peer(mut peer: Peer, inputs: UnboundedSender<Input>, main: bool) -> AbortHandle {
    let (abort, registration) = AbortHandle::new_pair();
    spawn_local(async move {
        let pump = async move {
            while let Some(event) = peer.next_event().await {
                let input = match event {
                    PeerEvent::Incoming(connection) => Input::Incoming(connection),
                    PeerEvent::Call(call) if main => Input::IncomingCall(call),
                    other if main => Input::Peer(other),
                    _ => continue,
                };
                if inputs.unbounded_send(input).is_err() {
                    break;
                }
            }
        };
        let _ = Abortable::new(pump, registration).await;
    });
    abort
}

/// Milliseconds since the Unix epoch, for timestamps people read.
fn wall_clock() -> u64 {
    js_sys::Date::now().max(0.0) as u64
}
