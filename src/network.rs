//! The network driver: discovery, signaling, rendezvous and the mesh, run as one task.
//!
//! [`start`] spawns it and returns the stream of [`NetEvent`]s the UI renders and the sender
//! for the [`Command`]s the UI gives. Every decision is the core's ([`Mesh`]); this module only
//! carries inputs to it and does what it asks.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::future::{AbortHandle, Abortable, Either, select};
use futures::{Stream, StreamExt};
use gloo_timers::future::{IntervalStream, TimeoutFuture};
use seedmesh_core::channel::Message;
use seedmesh_core::connection::CloseReason;
use seedmesh_core::discovery::{DiscoveryReport, SeedConfig};
use seedmesh_core::mesh::{
    FileOffer, LinkId, Mesh, MeshConfig, MeshMessage, MeshOutput, PeerView, ReceivedChat,
    SlotResult,
};
use seedmesh_core::signaling::{MAX_SERVERS, ServerConfig, SignalingError};
use seedmesh_core::transfer::{self, Progress};
use seedmesh_core::{PeerId, Token};
use seedmesh_web::clock::{now, random_u32};
use seedmesh_web::doh::{DiscoveryOptions, discover};
use seedmesh_web::peer::{
    Connection, ConnectionEvent, ConnectionSender, DialOptions, MeshSignal, Peer, PeerError,
    PeerEvent, PeerHandle, PeerOptions,
};
use seedmesh_web::rtc::{IceServer, RtcConfig};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen_futures::spawn_local;

use crate::config::{self, Settings};
use seedmesh_core::identity::Identity;
use seedmesh_core::invite::Kind as InviteKind;

/// How often each connection's path and round trip are read for the peer list.
const DIAGNOSTICS_INTERVAL_MS: u32 = 2_000;

/// Where signaling stands, for the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalingView {
    /// Waiting for discovery.
    Waiting,
    /// Registering on `server`.
    Connecting {
        /// The PeerServer's address.
        server: String,
    },
    /// Registered as `id` on `server`.
    Registered {
        /// The PeerServer's address.
        server: String,
        /// Our ID there.
        id: PeerId,
    },
    /// The socket dropped; open connections carry on.
    Reconnecting {
        /// The PeerServer's address.
        server: String,
        /// What happened.
        reason: String,
    },
    /// Registration failed; the text says what to try.
    Failed {
        /// The PeerServer's address.
        server: String,
        /// What went wrong and what to try.
        reason: String,
    },
}

/// One signaling server from the records, as the status panel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerView {
    /// The server's address.
    pub name: String,
    /// Where it stands for this page.
    pub state: ServerState,
}

/// Where one signaling server stands for this page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerState {
    /// Not in use: another server in the records is.
    Standby,
    /// This page is registered on it.
    InUse,
    /// The last attempt on it failed, for this reason.
    Unreachable(String),
}

/// Signaling through the mesh so far, for the status panel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeshSignalingView {
    /// Signaling messages of ours sent through the mesh.
    pub sent: u64,
    /// Signaling messages for us that came through the mesh.
    pub received: u64,
    /// Signaling messages passed on for other peers.
    pub relayed: u64,
    /// Signaling messages from other peers that were dropped (duplicates, floods, forgeries).
    pub dropped: u64,
}

/// What the network tells the UI.
#[derive(Debug, Clone)]
pub enum NetEvent {
    /// Discovery finished with this report; `fallback` when the page uses its built-in
    /// defaults because the records gave no PeerServer.
    Discovered {
        /// The report.
        report: Box<DiscoveryReport>,
        /// Whether the built-in defaults are in use.
        fallback: bool,
    },
    /// No seed domain is set: the page uses its built-in defaults.
    NoSeedDomain,
    /// Signaling changed.
    Signaling(SignalingView),
    /// Every signaling server in the records, in the order they are tried, and its state.
    Servers(Vec<ServerView>),
    /// Signaling through the mesh changed.
    MeshSignaling(MeshSignalingView),
    /// Our ID is registered under another token (by a page in another browser, say): this
    /// page goes by this fresh identity instead.
    IdReplaced(Identity),
    /// We hold this rendezvous slot, or none.
    Slot(Option<PeerId>),
    /// A peer appeared or changed.
    Peer(PeerView),
    /// A peer left.
    PeerRemoved(PeerId),
    /// A connection's path: round trip and whether it is relayed.
    Path {
        /// The peer.
        peer: PeerId,
        /// The round trip, from ICE or our pings.
        rtt: Option<Duration>,
        /// The candidate types at both ends, e.g. `host`/`relay`.
        candidates: Option<(String, String)>,
        /// Whether the connection was signaled through the mesh.
        through_mesh: bool,
    },
    /// A chat message arrived.
    Chat(ReceivedChat),
    /// A chat message of ours went out.
    Sent {
        /// Its ID.
        id: String,
        /// The text.
        text: String,
        /// The addressee, for a direct message.
        to: Option<PeerId>,
        /// How many peers it was sent to.
        recipients: usize,
        /// When, in ms since the Unix epoch.
        sent_at: u64,
    },
    /// Peers confirmed one of our messages.
    Delivered {
        /// The message ID.
        id: String,
        /// How many confirmed it.
        delivered: usize,
    },
    /// A message could not be sent; the text says why.
    SendFailed(String),
    /// A peer is sending a file.
    FileOffered(FileOffer),
    /// A file of ours is on its way.
    FileSent {
        /// The transfer's ID.
        id: String,
        /// The file's name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// The addressee, for a direct transfer.
        to: Option<PeerId>,
        /// How many peers it goes to.
        recipients: usize,
        /// When, in ms since the Unix epoch.
        sent_at: u64,
    },
    /// Bytes of a file have been sent or received.
    FileProgress {
        /// The transfer's ID.
        id: String,
        /// Bytes so far.
        done: u64,
    },
    /// A file arrived whole.
    FileReceived {
        /// The transfer's ID.
        id: String,
        /// The file.
        bytes: Vec<u8>,
        /// Its media type.
        mime: String,
    },
    /// A transfer from a peer failed; the text says why.
    FileFailed {
        /// The transfer's ID, if known.
        id: Option<String>,
        /// What went wrong.
        reason: String,
    },
    /// The invite this page was asked to make: its text, or why there is none.
    InviteMade(Result<String, String>),
    /// The answer to an invite this page was opened with: its text, or why there is none.
    InviteAnswered(Result<String, String>),
    /// An answer to one of our invites was taken: who answered, or why it was refused.
    AnswerTaken(Result<PeerId, String>),
    /// A connection by invite ended before it opened.
    InviteEnded {
        /// Whether this page made the invite (rather than answered it).
        ours: bool,
        /// Why it ended.
        reason: String,
    },
}

/// What the UI asks of the network.
#[derive(Debug, Clone)]
pub enum Command {
    /// Send a chat message to the room, or to one peer.
    Chat {
        /// The text.
        text: String,
        /// The addressee, for a direct message.
        to: Option<PeerId>,
    },
    /// Our display name changed.
    Rename(String),
    /// Make an invite for a person to carry to another page.
    MakeInvite,
    /// Answer the invite with this text, made by another page.
    AnswerInvite(String),
    /// Take this answer to one of our invites.
    TakeAnswer(String),
    /// Send a file to the room, or to one peer.
    SendFile {
        /// The file's name.
        name: String,
        /// Its media type.
        mime: String,
        /// Its bytes.
        bytes: Vec<u8>,
        /// The addressee, for a direct transfer.
        to: Option<PeerId>,
    },
}

/// Starts the network for `identity` with `settings`.
pub fn start(
    settings: Settings,
    identity: Identity,
) -> (UnboundedReceiver<NetEvent>, UnboundedSender<Command>) {
    let (events, event_rx) = unbounded();
    let (commands, command_rx) = unbounded();
    spawn_local(run(settings, identity, events, command_rx));
    (event_rx, commands)
}

/// Everything that reaches the driver's loop.
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
    Tick,
}

/// A message for a link's outbox; file chunks note how far their transfer has got.
struct Outgoing {
    message: Message,
    file_progress: Option<(String, u64)>,
}

struct Link {
    sender: ConnectionSender,
    outbox: UnboundedSender<Outgoing>,
    reader: AbortHandle,
}

struct Driver {
    /// Every open link's sender, shared with the `pagehide` handler, which closes them all so
    /// that peers see this page leave at once rather than after the liveness timeout.
    senders: Rc<RefCell<HashMap<LinkId, ConnectionSender>>>,
    mesh: Mesh,
    peer: PeerHandle,
    /// Ends the task that owns the peer; the peer then leaves its PeerServer.
    main_peer: AbortHandle,
    /// Whether the peer has been registered on a PeerServer yet.
    registered_once: bool,
    /// The identity to start over with, once the PeerServer gave ours to someone else.
    replaced: Option<Identity>,
    /// The servers registration is tried on, as the status says them.
    servers_text: String,
    inputs: UnboundedSender<Input>,
    events: UnboundedSender<NetEvent>,
    links: HashMap<LinkId, Link>,
    slots: HashMap<PeerId, AbortHandle>,
    files: transfer::Receiver,
    /// The media type of each file arriving.
    file_types: HashMap<String, String>,
    /// The link each file arrives on, to confirm it there.
    file_links: HashMap<String, LinkId>,
    servers: Vec<ServerView>,
    options: PeerOptions,
    /// Where connections signaled through the mesh put their messages.
    mesh_signals: UnboundedSender<MeshSignal>,
    /// Our signaling messages sent through the mesh so far.
    mesh_signals_sent: u64,
    /// Links being dialed through the mesh.
    mesh_dials: HashSet<LinkId>,
    /// Signaling for us through the mesh that this page refused.
    mesh_signals_refused: u64,
    /// What the status panel last showed of signaling through the mesh.
    mesh_signaling: MeshSignalingView,
}

async fn run(
    settings: Settings,
    mut identity: Identity,
    events: UnboundedSender<NetEvent>,
    commands: UnboundedReceiver<Command>,
) {
    let emit = |event| {
        let _ = events.unbounded_send(event);
    };
    emit(NetEvent::Signaling(SignalingView::Waiting));
    // Pinned keys and the snapshot come from the build; the resolvers from the settings.
    let options = match DiscoveryOptions::from_build_config(
        Some(&settings.resolvers.join(",")),
        option_env!("SEEDMESH_SEED_KEYS"),
        option_env!("SEEDMESH_SEED_SNAPSHOT"),
    ) {
        Ok(options) => options,
        Err(error) => {
            emit(NetEvent::Signaling(SignalingView::Failed {
                server: settings.seed_domain.clone(),
                reason: format!("this build's pinned seed-record key is unusable: {error}"),
            }));
            return;
        }
    };
    let plan = if settings.seed_domain.is_empty() {
        emit(NetEvent::NoSeedDomain);
        Plan::from_report(&SeedConfig::default())
    } else {
        let report = discover(&settings.seed_domain, &options).await;
        let plan = Plan::from_report(&report.config);
        emit(NetEvent::Discovered {
            report: Box::new(report),
            fallback: plan.fallback,
        });
        plan
    };

    // Where registration is tried, as the status says it: one server, or each in turn.
    let servers_text = std::iter::once(&plan.server)
        .chain(&plan.fallbacks)
        .map(server_name)
        .collect::<Vec<_>>()
        .join(", then ");
    let servers: Vec<ServerView> = std::iter::once(&plan.server)
        .chain(&plan.fallbacks)
        .map(|server| ServerView {
            name: server_name(server),
            state: ServerState::Standby,
        })
        .collect();
    emit(NetEvent::Servers(servers.clone()));
    let mut peer_options = PeerOptions::new(plan.server.clone());
    peer_options.fallbacks = plan.fallbacks.clone();
    peer_options.rtc = plan.rtc.clone();
    // Pages notice a vanished peer within about 5 s.
    peer_options.connection.ping_interval = Duration::from_secs(1);
    peer_options.connection.liveness_timeout = Duration::from_secs(5);

    // Everything that reaches the driver, for as long as the page runs.
    let (inputs, mut input_rx) = unbounded();
    let (mesh_signals, mesh_signal_rx) = unbounded::<MeshSignal>();
    forward(inputs.clone(), mesh_signal_rx, Input::MeshSignal);
    forward(inputs.clone(), commands, Input::Command);
    forward(
        inputs.clone(),
        IntervalStream::new(DIAGNOSTICS_INTERVAL_MS),
        |()| Input::Tick,
    );
    let senders: Rc<RefCell<HashMap<LinkId, ConnectionSender>>> = Rc::default();
    let on_page_hide = {
        let senders = senders.clone();
        Closure::<dyn FnMut()>::new(move || {
            for sender in senders.borrow().values() {
                sender.close();
            }
        })
    };
    let on_page_hide = web_sys::window()
        .and_then(|w| {
            w.add_event_listener_with_callback("pagehide", on_page_hide.as_ref().unchecked_ref())
                .ok()
        })
        .map(|()| on_page_hide);
    let _page_hide = PageHide(on_page_hide);

    // The page is in the network at once: invites work before, or without, any PeerServer.
    loop {
        emit(NetEvent::Signaling(SignalingView::Connecting {
            server: servers_text.clone(),
        }));
        peer_options.id = Some(identity.id.clone());
        peer_options.token = Some(identity.token.clone());
        let mesh = match Mesh::new(identity.id.clone(), &identity.name, plan.mesh.clone()) {
            Ok(mesh) => mesh,
            Err(error) => {
                emit(NetEvent::Signaling(SignalingView::Failed {
                    server: servers_text,
                    reason: error.to_string(),
                }));
                return;
            }
        };
        let peer = Peer::start(peer_options.clone());
        let handle = peer.handle();
        let main_peer = forward_peer(peer, inputs.clone(), true);
        let mut driver = Driver {
            senders: senders.clone(),
            mesh,
            peer: handle,
            main_peer,
            registered_once: false,
            replaced: None,
            servers_text: servers_text.clone(),
            inputs: inputs.clone(),
            events: events.clone(),
            links: HashMap::new(),
            slots: HashMap::new(),
            files: transfer::Receiver::default(),
            file_types: HashMap::new(),
            file_links: HashMap::new(),
            servers: servers.clone(),
            options: peer_options.clone(),
            mesh_signals: mesh_signals.clone(),
            mesh_signals_sent: 0,
            mesh_dials: HashSet::new(),
            mesh_signals_refused: 0,
            mesh_signaling: MeshSignalingView::default(),
        };
        driver.mesh.start(now());
        driver.drain();
        loop {
            let sleep = match driver.mesh.poll_timeout() {
                Some(at) => {
                    let millis = at.saturating_since(now()).as_millis();
                    TimeoutFuture::new(u32::try_from(millis).unwrap_or(u32::MAX))
                }
                None => TimeoutFuture::new(60_000),
            };
            match select(input_rx.next(), sleep).await {
                Either::Left((Some(input), _)) => driver.handle(input),
                Either::Left((None, _)) => return,
                Either::Right(_) => driver.mesh.handle_timeout(now()),
            }
            driver.drain();
            if driver.replaced.is_some() {
                break;
            }
        }
        // Our ID is someone else's on the PeerServer: start over under a fresh one.
        if let Some(fresh) = driver.replaced.take() {
            identity = fresh;
        }
    }
}

/// Sends `wrap(item)` to `inputs` for each item of `stream`, until either ends.
fn forward<S: Stream + Unpin + 'static>(
    inputs: UnboundedSender<Input>,
    mut stream: S,
    wrap: impl Fn(S::Item) -> Input + 'static,
) {
    spawn_local(async move {
        while let Some(item) = stream.next().await {
            if inputs.unbounded_send(wrap(item)).is_err() {
                break;
            }
        }
    });
}

/// The `pagehide` listener, removed when the network stops.
struct PageHide(Option<Closure<dyn FnMut()>>);

impl Drop for PageHide {
    fn drop(&mut self) {
        if let (Some(window), Some(handler)) = (web_sys::window(), &self.0) {
            let _ = window
                .remove_event_listener_with_callback("pagehide", handler.as_ref().unchecked_ref());
        }
    }
}

/// What to connect with: the seed records' choices, or the built-in fallbacks.
struct Plan {
    /// The signaling server to try first.
    server: ServerConfig,
    /// The others in the records, in the order to try them.
    fallbacks: Vec<ServerConfig>,
    rtc: RtcConfig,
    mesh: MeshConfig,
    fallback: bool,
}

impl Plan {
    fn from_report(config: &SeedConfig) -> Self {
        let mut endpoints: Vec<_> = config.signaling.iter().collect();
        endpoints.sort_by_key(|s| s.priority);
        let mut from_records = endpoints.into_iter().map(|s| ServerConfig {
            secure: s.secure,
            host: s.host.clone(),
            port: s.port,
            path: s.path.clone(),
            key: s.key.clone(),
        });
        let first = from_records.next();
        // As the signaling machine keeps them: no server twice, at most MAX_SERVERS in all.
        let mut fallbacks: Vec<ServerConfig> = Vec::new();
        for server in from_records {
            if first.as_ref() != Some(&server)
                && !fallbacks.contains(&server)
                && fallbacks.len() + 1 < MAX_SERVERS
            {
                fallbacks.push(server);
            }
        }
        let fallback = first.is_none();
        let server = first.unwrap_or_else(|| {
            ServerConfig::from_url(config::FALLBACK_PEERSERVER, "peerjs")
                .expect("the built-in PeerServer URL is valid")
        });
        let ice_servers = if fallback {
            vec![IceServer {
                urls: vec![config::FALLBACK_STUN.to_owned()],
                username: None,
                credential: None,
            }]
        } else {
            config
                .ice_servers
                .iter()
                .map(|s| IceServer {
                    urls: s.urls.clone(),
                    username: s.username.clone(),
                    credential: s.credential.clone(),
                })
                .collect()
        };
        let (namespace, slots) = match &config.rendezvous {
            Some(r) => (
                r.namespace.clone(),
                u8::try_from(r.slots.min(64)).unwrap_or(4),
            ),
            None => (config::page_namespace(), config::FALLBACK_SLOTS),
        };
        Self {
            server,
            fallbacks,
            rtc: RtcConfig {
                ice_servers,
                relay_only: false,
            },
            mesh: MeshConfig {
                namespace: Some(namespace),
                slots,
                bootstrap: config
                    .bootstrap_peers
                    .iter()
                    .filter_map(|p| PeerId::parse(p).ok())
                    .collect(),
                ..MeshConfig::default()
            },
            fallback,
        }
    }
}

impl Driver {
    fn emit(&self, event: NetEvent) {
        let _ = self.events.unbounded_send(event);
    }

    fn set_server_state(&mut self, name: &str, state: ServerState) {
        if let Some(view) = self.servers.iter_mut().find(|v| v.name == name) {
            view.state = state;
            self.emit(NetEvent::Servers(self.servers.clone()));
        }
    }

    fn handle(&mut self, input: Input) {
        let now = now();
        match input {
            Input::Command(Command::Chat { text, to }) => {
                match self.mesh.send_chat(wall_clock(), &text, to.as_ref()) {
                    Ok(sent) => self.emit(NetEvent::Sent {
                        id: sent.id,
                        text,
                        to,
                        recipients: sent.recipients,
                        sent_at: wall_clock(),
                    }),
                    Err(error) => self.emit(NetEvent::SendFailed(error.to_string())),
                }
            }
            Input::Command(Command::Rename(name)) => self.mesh.set_name(&name),
            Input::Command(Command::SendFile {
                name,
                mime,
                bytes,
                to,
            }) => self.send_file(&name, &mime, &bytes, to),
            Input::Command(Command::MakeInvite) => {
                let invite = self.peer.invite();
                self.when_ready(true, invite);
            }
            Input::Command(Command::AnswerInvite(text)) => {
                let answer = self.peer.answer_invite(&text);
                self.when_ready(false, answer);
            }
            Input::Command(Command::TakeAnswer(text)) => {
                let taken = self.peer.take_answer(&text).map_err(|e| e.to_string());
                self.emit(NetEvent::AnswerTaken(taken));
            }
            Input::InviteText { ours: true, text } => self.emit(NetEvent::InviteMade(text)),
            Input::InviteText { ours: false, text } => self.emit(NetEvent::InviteAnswered(text)),
            Input::Incoming(connection) => {
                let remote = connection.peer().clone();
                let link = if connection.signaled_by_invite() {
                    Some(self.mesh.accept_invited(now, remote))
                } else {
                    self.mesh.accept(now, remote)
                };
                match link {
                    Some(link) => {
                        self.attach(link, connection);
                        self.mesh.handle_link_open(now, link);
                    }
                    None => connection.close(),
                }
            }
            Input::Peer(PeerEvent::Disconnected {
                reason,
                server,
                failing_over,
                retry_in,
            }) => {
                let failed = server_name(&server);
                self.set_server_state(&failed, ServerState::Unreachable(reason.clone()));
                // A failure on the way to the next server, or one from before the current
                // registration, changes nothing for the page.
                if failing_over || self.peer.is_registered() {
                } else if self.registered_once {
                    self.emit(NetEvent::Signaling(SignalingView::Reconnecting {
                        server: failed,
                        reason,
                    }));
                } else {
                    self.emit(NetEvent::Signaling(SignalingView::Failed {
                        server: self.servers_text.clone(),
                        reason: format!(
                            "{}. Trying again in {} s.",
                            PeerError::Unreachable(reason),
                            retry_in.as_secs().max(1)
                        ),
                    }));
                }
            }
            Input::Peer(PeerEvent::Registered | PeerEvent::Reregistered) => {
                self.registered_once = true;
                let in_use = server_name(&self.peer.server());
                for view in &mut self.servers {
                    if view.name == in_use {
                        view.state = ServerState::InUse;
                    } else if view.state == ServerState::InUse {
                        view.state = ServerState::Standby;
                    }
                }
                self.emit(NetEvent::Servers(self.servers.clone()));
                self.emit(NetEvent::Signaling(SignalingView::Registered {
                    server: in_use,
                    id: self.peer.id(),
                }));
            }
            Input::Peer(PeerEvent::Failed(SignalingError::IdTaken { .. })) => {
                // Someone else holds our ID on this server: go by a fresh one.
                let name = self.mesh.name().to_owned();
                let mut fresh = Identity::fresh(&mut random_u32);
                fresh.name = name;
                self.emit(NetEvent::IdReplaced(fresh.clone()));
                self.replaced = Some(fresh);
            }
            Input::Peer(PeerEvent::Failed(error)) => {
                self.emit(NetEvent::Signaling(SignalingView::Failed {
                    server: server_name(&self.peer.server()),
                    reason: error.to_string(),
                }));
            }
            Input::Peer(PeerEvent::InviteEnded { side, reason }) => {
                self.emit(NetEvent::InviteEnded {
                    ours: side == InviteKind::Offer,
                    reason: reason.to_string(),
                });
            }
            Input::Peer(_) => {}
            Input::Slot(slot, Ok(slot_peer)) => {
                let id = slot_peer.id();
                let abort = forward_peer(slot_peer, self.inputs.clone(), false);
                self.slots.insert(id, abort);
                self.mesh.handle_slot_result(now, slot, SlotResult::Claimed);
                self.emit(NetEvent::Slot(self.mesh.held_slot()));
            }
            Input::Slot(slot, Err(result)) => self.mesh.handle_slot_result(now, slot, result),
            Input::Dialed(link, Ok(connection)) => {
                self.mesh_dials.remove(&link);
                self.attach(link, connection);
                self.mesh.handle_link_open(now, link);
            }
            // A dial through the mesh that came to nothing (a stale route, a relay that dropped
            // it) is tried once more through the PeerServer.
            Input::Dialed(link, Err(_)) if self.mesh_dials.remove(&link) => {
                if let Some(remote) = self.mesh.remote_of(link) {
                    self.dial_through_server(link, &remote);
                }
            }
            Input::Dialed(link, Err(error)) => {
                self.mesh.handle_link_failed(now, link, &error.to_string());
            }
            Input::Connection(_, ConnectionEvent::Message(Message::Binary(chunk))) => {
                self.receive_chunk(&chunk);
            }
            Input::Connection(link, ConnectionEvent::Message(message)) => {
                let bytes = match message {
                    Message::Json(value) => serde_json::to_vec(&value).unwrap_or_default(),
                    Message::Text(text) => text.into_bytes(),
                    Message::Binary(bytes) => bytes,
                };
                // A peer that sends something unreadable is ignored, message by message.
                if let Ok(message) = MeshMessage::decode(&bytes) {
                    self.mesh.handle_message(now, link, message);
                }
            }
            Input::Connection(_, ConnectionEvent::Error(_)) => {}
            Input::Connection(link, ConnectionEvent::Closed(reason)) => {
                self.senders.borrow_mut().remove(&link);
                if let Some(link_state) = self.links.remove(&link) {
                    link_state.reader.abort();
                }
                match reason {
                    // The path failed, but the peer may still be there: link again through
                    // a peer we share.
                    CloseReason::TransportFailed | CloseReason::Unresponsive { .. } => {
                        self.mesh.handle_link_lost(now, link);
                    }
                    _ => self.mesh.handle_link_closed(now, link),
                }
            }
            Input::Connection(..) => {}
            Input::MeshSignal(signal) => {
                let nonce = u64::from(random_u32()) << 32 | u64::from(random_u32());
                // Without a route the attempt times out, as one whose peer never answers.
                if self
                    .mesh
                    .send_signal(&signal.to, signal.body, nonce)
                    .is_ok()
                {
                    self.mesh_signals_sent += 1;
                }
            }
            Input::Tick => self.read_paths(),
        }
    }

    /// Does what the mesh asks, and tells the UI what signaling through the mesh did.
    fn drain(&mut self) {
        self.do_outputs();
        let stats = self.mesh.relay_stats();
        let view = MeshSignalingView {
            sent: self.mesh_signals_sent,
            received: stats.delivered,
            relayed: stats.forwarded,
            dropped: stats.dropped.values().sum::<u64>() + self.mesh_signals_refused,
        };
        if view != self.mesh_signaling {
            self.mesh_signaling = view;
            self.emit(NetEvent::MeshSignaling(view));
        }
    }

    fn do_outputs(&mut self) {
        while let Some(output) = self.mesh.poll_output() {
            match output {
                MeshOutput::ClaimSlot { slot, id } => self.claim(slot, id),
                MeshOutput::ReleaseSlot { id } => {
                    if let Some(abort) = self.slots.remove(&id) {
                        abort.abort();
                    }
                }
                // Through the mesh when a connected peer can carry the signaling; the
                // PeerServer only when none can (rendezvous slots, DNS bootstrap peers).
                MeshOutput::Dial { link, remote } if self.mesh.has_route_to(&remote) => {
                    self.mesh_dials.insert(link);
                    let dial = self.peer.dial_through_mesh(
                        &remote,
                        DialOptions::default(),
                        self.mesh_signals.clone(),
                    );
                    let inputs = self.inputs.clone();
                    spawn_local(async move {
                        let _ = inputs.unbounded_send(Input::Dialed(link, dial.await));
                    });
                }
                MeshOutput::Dial { link, remote } => self.dial_through_server(link, &remote),
                MeshOutput::Send { link, message } => {
                    if let Some(state) = self.links.get(&link) {
                        let value = serde_json::to_value(&message).unwrap_or_default();
                        let _ = state.outbox.unbounded_send(Outgoing {
                            message: Message::Json(value),
                            file_progress: None,
                        });
                    }
                }
                MeshOutput::Close { link } => {
                    self.senders.borrow_mut().remove(&link);
                    if let Some(state) = self.links.remove(&link) {
                        state.sender.close();
                        state.reader.abort();
                    }
                }
                MeshOutput::PeerChanged(view) => self.emit(NetEvent::Peer(view)),
                MeshOutput::PeerRemoved(id) => self.emit(NetEvent::PeerRemoved(id)),
                MeshOutput::ChatReceived(chat) => self.emit(NetEvent::Chat(chat)),
                MeshOutput::FileOffered(offer) => self.expect_file(offer),
                MeshOutput::SignalReceived { from, body, .. } => {
                    // Unreadable or stray signaling changes nothing but the count.
                    let taken =
                        self.peer
                            .handle_mesh_signal(&from, &body, self.mesh_signals.clone());
                    if taken.is_err() {
                        self.mesh_signals_refused += 1;
                    }
                }
                MeshOutput::Delivered { id, delivered, .. } => {
                    self.emit(NetEvent::Delivered { id, delivered });
                }
            }
        }
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

    fn dial_through_server(&self, link: LinkId, remote: &PeerId) {
        let dial = self.peer.dial(remote, DialOptions::default());
        let inputs = self.inputs.clone();
        spawn_local(async move {
            let _ = inputs.unbounded_send(Input::Dialed(link, dial.await));
        });
    }

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
                        let _ = events.unbounded_send(NetEvent::FileProgress { id, done });
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

    /// Announces a file and queues its chunks on each recipient's link, after the announcement.
    fn send_file(&mut self, name: &str, mime: &str, bytes: &[u8], to: Option<PeerId>) {
        let size = bytes.len() as u64;
        let sent_at = wall_clock();
        let outgoing = match self.mesh.send_file(sent_at, name, mime, size, to.as_ref()) {
            Ok(outgoing) => outgoing,
            Err(error) => {
                self.emit(NetEvent::SendFailed(error.to_string()));
                return;
            }
        };
        self.emit(NetEvent::FileSent {
            id: outgoing.id.clone(),
            name: name.to_owned(),
            size,
            to,
            recipients: outgoing.links.len(),
            sent_at,
        });
        // The announcement goes first: queue it before the chunks.
        self.drain();
        for link in &outgoing.links {
            let Some(state) = self.links.get(link) else {
                continue;
            };
            let mut done = 0u64;
            for chunk in transfer::chunks(&outgoing.id, bytes) {
                done = (done + transfer::CHUNK_SIZE as u64).min(size);
                let _ = state.outbox.unbounded_send(Outgoing {
                    message: Message::Binary(chunk),
                    file_progress: Some((outgoing.id.clone(), done)),
                });
            }
        }
    }

    /// Gets ready for a file a peer announced.
    fn expect_file(&mut self, offer: FileOffer) {
        if let Err(error) = self.files.announce(&offer.id, offer.size) {
            self.emit(NetEvent::FileFailed {
                id: Some(offer.id.clone()),
                reason: error.to_string(),
            });
            return;
        }
        self.file_types.insert(offer.id.clone(), offer.mime.clone());
        let (id, link) = (offer.id.clone(), offer.link);
        self.emit(NetEvent::FileOffered(offer));
        if let Some(Progress::Complete { bytes, .. }) = self.files.take_empty(&id) {
            self.finish_file(link, id, bytes);
        } else {
            self.file_links.insert(id, link);
        }
    }

    fn receive_chunk(&mut self, chunk: &[u8]) {
        match self.files.receive(chunk) {
            Ok(Progress::Partial { id, received, .. }) => {
                self.emit(NetEvent::FileProgress { id, done: received });
            }
            Ok(Progress::Complete { id, bytes }) => {
                if let Some(link) = self.file_links.remove(&id) {
                    self.finish_file(link, id, bytes);
                }
            }
            Err(error) => self.emit(NetEvent::FileFailed {
                id: None,
                reason: error.to_string(),
            }),
        }
    }

    fn finish_file(&mut self, link: LinkId, id: String, bytes: Vec<u8>) {
        self.mesh.file_received(link, &id);
        let mime = self.file_types.remove(&id).unwrap_or_default();
        self.emit(NetEvent::FileProgress {
            id: id.clone(),
            done: bytes.len() as u64,
        });
        self.emit(NetEvent::FileReceived { id, bytes, mime });
    }

    /// Reads every connected link's path for the peer list.
    fn read_paths(&self) {
        for (link, state) in &self.links {
            let sender = state.sender.clone();
            let events = self.events.clone();
            let Some(peer) = self.peer_of(*link) else {
                continue;
            };
            spawn_local(async move {
                let diagnostics = sender.diagnostics().await;
                let candidates = diagnostics
                    .path
                    .local_candidate_type
                    .clone()
                    .zip(diagnostics.path.remote_candidate_type.clone());
                let rtt = diagnostics.ping_rtt.or(diagnostics.path.round_trip_time);
                let _ = events.unbounded_send(NetEvent::Path {
                    peer,
                    rtt,
                    candidates,
                    through_mesh: sender.signaled_through_mesh(),
                });
            });
        }
    }

    fn peer_of(&self, link: LinkId) -> Option<PeerId> {
        self.mesh.peer_on(link)
    }
}

impl Drop for Driver {
    /// Closes every link and leaves every PeerServer, for a page that starts over.
    fn drop(&mut self) {
        for (link, state) in self.links.drain() {
            self.senders.borrow_mut().remove(&link);
            state.sender.close();
            state.reader.abort();
        }
        for (_, slot) in self.slots.drain() {
            slot.abort();
        }
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

/// A PeerServer's address as people read it.
fn server_name(server: &ServerConfig) -> String {
    let scheme = if server.secure { "wss" } else { "ws" };
    format!("{scheme}://{}:{}{}", server.host, server.port, server.path)
}

/// Milliseconds since the Unix epoch, for timestamps people read.
fn wall_clock() -> u64 {
    js_sys::Date::now().max(0.0) as u64
}
