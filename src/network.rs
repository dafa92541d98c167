//! The network driver: discovery, signaling, rendezvous and the mesh, run as one task.
//!
//! [`start`] spawns it and returns the stream of [`NetEvent`]s the UI renders and the sender
//! for the [`Command`]s the UI gives. Every decision is the core's ([`Mesh`]); this module only
//! carries inputs to it and does what it asks.

use std::cell::RefCell;
use std::collections::HashMap;
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
use seedmesh_core::endpoint::{Action, Endpoint, Event, Through};
use seedmesh_core::mesh::{LinkId, MeshConfig, SlotResult};
use seedmesh_core::signaling::{MAX_SERVERS, ServerConfig, SignalingError};
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

/// What the network tells the UI.
#[derive(Debug, Clone)]
pub enum NetEvent {
    /// What the mesh reports: peers, chat, files, delivery, rendezvous, signaling counts.
    Mesh(Event),
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
    /// Our ID is registered under another token (by a page in another browser, say): this
    /// page goes by this fresh identity instead.
    IdReplaced(Identity),
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
    /// A message could not be sent; the text says why.
    SendFailed(String),
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
    /// Every decision about the mesh, files and signaling paths.
    endpoint: Endpoint,
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
    servers: Vec<ServerView>,
    options: PeerOptions,
    /// Where connections signaled through the mesh put their messages.
    mesh_signals: UnboundedSender<MeshSignal>,
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
        let endpoint = match Endpoint::new(identity.id.clone(), &identity.name, plan.mesh.clone()) {
            Ok(endpoint) => endpoint,
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
            endpoint,
            peer: handle,
            main_peer,
            registered_once: false,
            replaced: None,
            servers_text: servers_text.clone(),
            inputs: inputs.clone(),
            events: events.clone(),
            links: HashMap::new(),
            slots: HashMap::new(),
            servers: servers.clone(),
            options: peer_options.clone(),
            mesh_signals: mesh_signals.clone(),
        };
        driver.endpoint.start(now());
        driver.drain();
        loop {
            let sleep = match driver.endpoint.poll_timeout() {
                Some(at) => {
                    let millis = at.saturating_since(now()).as_millis();
                    TimeoutFuture::new(u32::try_from(millis).unwrap_or(u32::MAX))
                }
                None => TimeoutFuture::new(60_000),
            };
            match select(input_rx.next(), sleep).await {
                Either::Left((Some(input), _)) => driver.handle(input),
                Either::Left((None, _)) => return,
                Either::Right(_) => driver.endpoint.handle_timeout(now()),
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
                match self.endpoint.send_chat(wall_clock(), &text, to.as_ref()) {
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
            Input::Command(Command::Rename(name)) => self.endpoint.set_name(&name),
            Input::Command(Command::SendFile {
                name,
                mime,
                bytes,
                to,
            }) => {
                let sent_at = wall_clock();
                match self
                    .endpoint
                    .send_file(sent_at, &name, &mime, &bytes, to.as_ref())
                {
                    Ok(file) => self.emit(NetEvent::FileSent {
                        id: file.id,
                        name,
                        size: bytes.len() as u64,
                        to,
                        recipients: file.recipients,
                        sent_at,
                    }),
                    Err(error) => self.emit(NetEvent::SendFailed(error.to_string())),
                }
            }
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
                let peer = connection.peer().clone();
                match self
                    .endpoint
                    .connected(now, peer, connection.signaled_by_invite())
                {
                    Some(link) => self.attach(link, connection),
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
                let name = self.endpoint.name().to_owned();
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
                self.endpoint.slot_result(now, slot, SlotResult::Claimed);
            }
            Input::Slot(slot, Err(result)) => self.endpoint.slot_result(now, slot, result),
            Input::Dialed(link, Ok(connection)) => {
                self.attach(link, connection);
                self.endpoint.dialed(now, link, Ok(()));
            }
            Input::Dialed(link, Err(error)) => {
                self.endpoint.dialed(now, link, Err(error.to_string()));
            }
            Input::Connection(link, ConnectionEvent::Message(message)) => match message {
                Message::Binary(chunk) => self.endpoint.received_binary(now, link, &chunk),
                Message::Json(value) => self.endpoint.received_text(now, link, &value.to_string()),
                Message::Text(text) => self.endpoint.received_text(now, link, &text),
            },
            Input::Connection(_, ConnectionEvent::Error(_)) => {}
            Input::Connection(link, ConnectionEvent::Closed(reason)) => {
                self.senders.borrow_mut().remove(&link);
                if let Some(link_state) = self.links.remove(&link) {
                    link_state.reader.abort();
                }
                // A failed path, unlike a close, leaves the peer there to link again.
                let lost = matches!(
                    reason,
                    CloseReason::TransportFailed | CloseReason::Unresponsive { .. }
                );
                self.endpoint.closed(now, link, lost);
            }
            Input::Connection(..) => {}
            Input::MeshSignal(signal) => {
                let nonce = u64::from(random_u32()) << 32 | u64::from(random_u32());
                // Without a route the attempt times out, as one whose peer never answers.
                let _ = self.endpoint.send_signal(&signal.to, signal.body, nonce);
            }
            Input::Tick => self.read_paths(),
        }
    }

    /// Does what the endpoint asks, and shows what it reports.
    fn drain(&mut self) {
        while let Some(action) = self.endpoint.poll_action() {
            self.act(action);
        }
        while let Some(event) = self.endpoint.poll_event() {
            self.emit(NetEvent::Mesh(event));
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
            Action::Close { link } => {
                self.senders.borrow_mut().remove(&link);
                if let Some(state) = self.links.remove(&link) {
                    state.sender.close();
                    state.reader.abort();
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
                        let _ =
                            events.unbounded_send(NetEvent::Mesh(Event::FileProgress { id, done }));
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
        self.endpoint.peer_on(link)
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
