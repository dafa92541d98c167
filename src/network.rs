//! The page's network: discovery, then a [`Node`] from the web crate, restarted under a fresh
//! identity if the PeerServer gives ours to someone else.
//!
//! [`start`] spawns it and returns the stream of [`NetEvent`]s the UI renders and the sender
//! for the [`Command`]s the UI gives. Every decision about the mesh is the core's
//! ([`seedmesh_core::endpoint::Endpoint`], which the node drives); this module chooses what to
//! connect with from the seed records and says where signaling stands.

use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::future::{Either, select};
use seedmesh_core::PeerId;
use seedmesh_core::discovery::{DiscoveryReport, SeedConfig};
use seedmesh_core::identity::Identity;
use seedmesh_core::signaling::{ServerConfig, SignalingError};
use seedmesh_web::clock::random_u32;
use seedmesh_web::doh::{DiscoveryOptions, discover};
use seedmesh_web::node::{Node, NodeEvent, NodeOptions};
use seedmesh_web::peer::PeerError;
use seedmesh_web::rtc::IceServer;
use wasm_bindgen_futures::spawn_local;

use crate::config::{self, Settings};

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
    /// What the node reports: the mesh, paths, what we sent, invites.
    Node(NodeEvent),
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
    /// Ask the author of a file shared with the room for it.
    WantFile(String),
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
    /// Call a peer, with video or audio only.
    Call {
        /// Whom to call.
        peer: PeerId,
        /// Whether with video.
        video: bool,
    },
    /// Answer the incoming call with this ID.
    AnswerCall(String),
    /// Decline or end the call with this ID.
    HangUp(String),
    /// Mute or unmute our microphone on a call.
    Mute {
        /// The call.
        id: String,
        /// Whether muted.
        muted: bool,
    },
    /// Turn our camera off or on for a call.
    CameraOff {
        /// The call.
        id: String,
        /// Whether off.
        off: bool,
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

async fn run(
    settings: Settings,
    mut identity: Identity,
    events: UnboundedSender<NetEvent>,
    mut commands: UnboundedReceiver<Command>,
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
    let mut status = Status::new(&plan, events.clone());

    // The page is in the network at once: invites work before, or without, any PeerServer.
    loop {
        status.connecting();
        let mut options = plan.options.clone();
        options.key = identity.key.clone();
        options.peer.token = Some(identity.token.clone());
        options.name.clone_from(&identity.name);
        let mut node = match Node::start(options) {
            Ok(node) => node,
            Err(error) => return status.failed(error.to_string()),
        };
        loop {
            let next = match select(commands.next(), Box::pin(node.next_event())).await {
                Either::Left((command, _)) => Either::Left(command),
                Either::Right((event, _)) => Either::Right(event),
            };
            match next {
                Either::Left(Some(command)) => command.give(&node),
                Either::Right(Some(NodeEvent::Refused(SignalingError::IdTaken { .. }))) => {
                    // Someone else holds our ID on the PeerServer: start over under a fresh one.
                    let name = identity.name.clone();
                    identity = Identity::fresh(&mut random_u32);
                    identity.name = name;
                    emit(NetEvent::IdReplaced(identity.clone()));
                    break;
                }
                Either::Right(Some(event)) => status.show(&node, event),
                Either::Left(None) | Either::Right(None) => return,
            }
        }
    }
}

impl Command {
    /// Gives the command to `node`.
    fn give(self, node: &Node) {
        match self {
            Self::Chat { text, to } => node.send_chat(&text, to),
            Self::Rename(name) => node.rename(&name),
            Self::SendFile {
                name,
                mime,
                bytes,
                to,
            } => node.send_file(&name, &mime, bytes, to),
            Self::WantFile(id) => node.want_file(&id),
            Self::MakeInvite => node.make_invite(),
            Self::AnswerInvite(text) => node.answer_invite(&text),
            Self::TakeAnswer(text) => node.take_answer(&text),
            Self::Call { peer, video } => node.call(peer, video),
            Self::AnswerCall(id) => node.answer_call(&id),
            Self::HangUp(id) => node.hang_up(&id),
            Self::Mute { id, muted } => node.set_muted(&id, muted),
            Self::CameraOff { id, off } => node.set_camera_off(&id, off),
        }
    }
}

/// What the status panel shows of signaling, kept up to date from the node's events.
struct Status {
    events: UnboundedSender<NetEvent>,
    /// Every server in the records, in the order they are tried.
    servers: Vec<ServerView>,
    /// The same, as the status says them: one server, or each in turn.
    servers_text: String,
    /// Whether the page has been registered on a PeerServer yet.
    registered_once: bool,
}

impl Status {
    fn new(plan: &Plan, events: UnboundedSender<NetEvent>) -> Self {
        let all = || plan.servers();
        let status = Self {
            events,
            servers: all()
                .map(|server| ServerView {
                    name: server_name(server),
                    state: ServerState::Standby,
                })
                .collect(),
            servers_text: all().map(server_name).collect::<Vec<_>>().join(", then "),
            registered_once: false,
        };
        status.emit(NetEvent::Servers(status.servers.clone()));
        status
    }

    fn emit(&self, event: NetEvent) {
        let _ = self.events.unbounded_send(event);
    }

    fn connecting(&self) {
        self.emit(NetEvent::Signaling(SignalingView::Connecting {
            server: self.servers_text.clone(),
        }));
    }

    fn failed(&self, reason: String) {
        self.emit(NetEvent::Signaling(SignalingView::Failed {
            server: self.servers_text.clone(),
            reason,
        }));
    }

    /// Shows what the node reports.
    fn show(&mut self, node: &Node, event: NodeEvent) {
        let event = match event {
            NodeEvent::Registered { server } => {
                self.registered_once = true;
                let in_use = server_name(&server);
                for view in &mut self.servers {
                    if view.name == in_use {
                        view.state = ServerState::InUse;
                    } else if view.state == ServerState::InUse {
                        view.state = ServerState::Standby;
                    }
                }
                self.emit(NetEvent::Servers(self.servers.clone()));
                NetEvent::Signaling(SignalingView::Registered {
                    server: in_use,
                    id: node.id().clone(),
                })
            }
            NodeEvent::Unreachable {
                server,
                reason,
                retry_in,
                failing_over,
                registered,
            } => {
                let failed = server_name(&server);
                if let Some(view) = self.servers.iter_mut().find(|v| v.name == failed) {
                    view.state = ServerState::Unreachable(reason.clone());
                }
                self.emit(NetEvent::Servers(self.servers.clone()));
                // A failure on the way to the next server, or one from before the current
                // registration, changes nothing for the page.
                if failing_over || registered {
                    return;
                }
                if self.registered_once {
                    NetEvent::Signaling(SignalingView::Reconnecting {
                        server: failed,
                        reason,
                    })
                } else {
                    NetEvent::Signaling(SignalingView::Failed {
                        server: self.servers_text.clone(),
                        reason: format!(
                            "{}. Trying again in {} s.",
                            PeerError::Unreachable(reason),
                            retry_in.as_secs().max(1)
                        ),
                    })
                }
            }
            NodeEvent::Refused(error) => NetEvent::Signaling(SignalingView::Failed {
                server: self.servers_text.clone(),
                reason: error.to_string(),
            }),
            other => NetEvent::Node(other),
        };
        self.emit(event);
    }
}

/// What to connect with: the seed records' choices, or the built-in fallbacks.
struct Plan {
    /// The node's options, but for who it is (ID, token, name).
    options: NodeOptions,
    /// Whether the records named no PeerServer, so that the built-in defaults are in use.
    fallback: bool,
}

impl Plan {
    fn from_report(config: &SeedConfig) -> Self {
        let builtin = ServerConfig::from_url(config::FALLBACK_PEERSERVER, "peerjs")
            .expect("the built-in PeerServer URL is valid");
        let mut options = NodeOptions::from_records(config, "", builtin);
        let fallback = config.signaling.is_empty();
        if fallback {
            options.peer.rtc.ice_servers = vec![IceServer {
                urls: vec![config::FALLBACK_STUN.to_owned()],
                username: None,
                credential: None,
            }];
        }
        // Records without a rendezvous namespace meet visitors of this same page.
        if config.rendezvous.is_none() {
            options.mesh.namespace = Some(config::page_namespace());
            options.mesh.slots = config::FALLBACK_SLOTS;
        }
        // Pages notice a vanished peer within about 5 s.
        options.peer.connection.ping_interval = Duration::from_secs(1);
        options.peer.connection.liveness_timeout = Duration::from_secs(5);
        Self { options, fallback }
    }

    /// Every server in the plan, in the order they are tried.
    fn servers(&self) -> impl Iterator<Item = &ServerConfig> {
        std::iter::once(&self.options.peer.server).chain(&self.options.peer.fallbacks)
    }
}

/// A PeerServer's address as people read it.
fn server_name(server: &ServerConfig) -> String {
    let scheme = if server.secure { "wss" } else { "ws" };
    format!("{scheme}://{}:{}{}", server.host, server.port, server.path)
}
