//! Signaling: the PeerServer protocol that PeerJS speaks, as a state machine.
//!
//! [`Signaling`] registers a peer ID on a PeerServer over a WebSocket that the driver opens,
//! keeps the registration alive with a HEARTBEAT every 5 s, reconnects with the same ID and token
//! after the socket drops, and routes the OFFER, ANSWER and CANDIDATE messages of every
//! connection by connection ID. It reads no clock and opens no socket: the driver feeds it what
//! happened and does what [`Signaling::poll_output`] says.
//!
//! Given several PeerServers ([`Signaling::with_fallbacks`], in priority order), it registers on
//! the first that works: an attempt that fails (or that the server refuses) moves on to the next
//! server at once, a dropped registration is retried once on its own server first, and while
//! registered on a fallback it tries the first server again after [`FAILBACK_INTERVAL`] (twice
//! as long after each try that fails), so that pages which lost the same server come back
//! together on the one they all prefer.
//!
//! ```
//! use seedmesh_core::signaling::{ServerConfig, Signaling, SignalingOutput};
//! use seedmesh_core::{Instant, PeerId, Token};
//!
//! let server = ServerConfig::from_url("ws://127.0.0.1:9000/seedmesh", "peerjs").unwrap();
//! let id = PeerId::parse("alice").unwrap();
//! let token = Token::restore("secret1").unwrap();
//! let mut signaling = Signaling::new(server, id, token);
//! let start = Instant::from_millis(0);
//! signaling.connect(start);
//! // The driver opens the socket it is told to open ...
//! let Some(SignalingOutput::OpenSocket(url)) = signaling.poll_output() else { panic!() };
//! assert!(url.starts_with("ws://127.0.0.1:9000/seedmesh/peerjs?key=peerjs&id=alice&token=secret1"));
//! // ... reports what the socket does ...
//! signaling.handle_socket_open(start);
//! signaling.handle_socket_message(start, r#"{"type":"OPEN"}"#);
//! // ... and sleeps until the next wake-up, when it calls `handle_timeout`.
//! assert_eq!(signaling.poll_timeout(), Some(Instant::from_millis(5_000)));
//! ```

mod message;

use core::fmt;
use core::time::Duration;
use std::collections::{HashMap, VecDeque};

pub use message::{
    AnswerPayload, Candidate, CandidatePayload, ClientMessage, ConnectionId, ConnectionType,
    MAX_CONNECTION_ID_LEN, MAX_MESSAGE_LEN, MessageError, OfferPayload, Serialization,
    ServerMessage, SessionDescription,
};

use crate::peer_id::{PeerId, Token};
use crate::time::Instant;

/// How often a HEARTBEAT is sent while the socket is open.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
/// How long after the socket opens without OPEN, ERROR or ID-TAKEN we count as registered: a
/// PeerServer sends no OPEN to a socket that reconnects with the ID and token it still holds.
pub const QUIET_OPEN_GRACE: Duration = Duration::from_secs(1);
/// How long the socket may take to open before the attempt is abandoned.
pub const SOCKET_OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// The first wait before reconnecting; it doubles with each failed attempt.
pub const RECONNECT_BASE: Duration = Duration::from_millis(500);
/// The longest wait before reconnecting.
pub const RECONNECT_MAX: Duration = Duration::from_secs(10);
/// How long candidates for a connection we do not know yet are kept.
pub const PENDING_CANDIDATE_TTL: Duration = Duration::from_secs(30);
/// How many unknown connections may have candidates waiting at once.
pub const MAX_PENDING_CONNECTIONS: usize = 64;
/// How many candidates are kept for one unknown connection.
pub const MAX_PENDING_CANDIDATES: usize = 64;
/// How many messages are kept while the socket is down; older ones are dropped first.
pub const MAX_OUTBOX: usize = 512;
/// How long after a failed attempt the next server in line is tried.
pub const FAILOVER_DELAY: Duration = Duration::from_millis(50);
/// How often a peer registered on a fallback server tries the first server again, at first;
/// the wait doubles after each try that fails, up to [`FAILBACK_MAX_INTERVAL`].
pub const FAILBACK_INTERVAL: Duration = Duration::from_secs(30);
/// The longest wait between two tries of the first server.
pub const FAILBACK_MAX_INTERVAL: Duration = Duration::from_secs(480);
/// How long a try of the first server may take to open its socket: the peer is unregistered
/// meanwhile, so this is shorter than [`SOCKET_OPEN_TIMEOUT`].
pub const FAILBACK_OPEN_TIMEOUT: Duration = Duration::from_secs(3);
/// The most PeerServers one machine takes (the first and its fallbacks).
pub const MAX_SERVERS: usize = 8;

/// Where a PeerServer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `wss` rather than `ws`.
    pub secure: bool,
    /// The host name or address.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The path the server is mounted at, starting and ending with `/`.
    pub path: String,
    /// The API key (PeerServer's default is `peerjs`).
    pub key: String,
}

/// Why a PeerServer URL is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerUrlError {
    /// The URL does not start with `ws://` or `wss://`.
    Scheme,
    /// The host is missing, or the port is not a number from 1 to 65535.
    Authority,
}

impl fmt::Display for ServerUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scheme => write!(f, "a PeerServer URL must start with ws:// or wss://"),
            Self::Authority => write!(
                f,
                "a PeerServer URL needs a host and, if given, a port from 1 to 65535"
            ),
        }
    }
}

impl std::error::Error for ServerUrlError {}

impl ServerConfig {
    /// Reads `ws(s)://HOST[:PORT][/PATH]`, the form seed records and the local stack use.
    pub fn from_url(url: &str, key: &str) -> Result<Self, ServerUrlError> {
        let (secure, rest) = if let Some(rest) = url.strip_prefix("wss://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("ws://") {
            (false, rest)
        } else {
            return Err(ServerUrlError::Scheme);
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                let port: u16 = port.parse().map_err(|_| ServerUrlError::Authority)?;
                (host, port)
            }
            _ => (authority, if secure { 443 } else { 80 }),
        };
        if host.is_empty() || port == 0 {
            return Err(ServerUrlError::Authority);
        }
        let mut path = path.trim_end_matches('/').to_owned();
        path.push('/');
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        Ok(Self {
            secure,
            host: host.to_owned(),
            port,
            path,
            key: key.to_owned(),
        })
    }

    /// The signaling socket's URL for `id` and `token`, as PeerJS 1.5 builds it.
    #[must_use]
    pub fn socket_url(&self, id: &PeerId, token: &Token) -> String {
        format!(
            "{}://{}:{}{}peerjs?key={}&id={}&token={}&version=1.5.4",
            if self.secure { "wss" } else { "ws" },
            self.host,
            self.port,
            self.path,
            query_escape(&self.key),
            query_escape(id.as_str()),
            query_escape(token.as_str()),
        )
    }
}

fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Why signaling stopped for good.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignalingError {
    /// Another peer holds this ID under a different token.
    IdTaken {
        /// The ID.
        id: PeerId,
    },
    /// The PeerServer refused us (wrong key, user limit reached).
    Refused {
        /// The server's explanation.
        msg: String,
    },
}

impl fmt::Display for SignalingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IdTaken { id } => write!(
                f,
                "the PeerServer says the ID \"{id}\" is taken by another peer; choose another ID, \
                 or reuse the token the ID was registered with"
            ),
            Self::Refused { msg } => write!(
                f,
                "the PeerServer refused the registration: {msg}; check the server's key and limits"
            ),
        }
    }
}

impl std::error::Error for SignalingError {}

/// What happened, for the driver to act on.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SignalingEvent {
    /// The ID is registered; `reconnected` when this follows a dropped socket.
    Registered {
        /// Whether the ID was registered before and the socket had dropped.
        reconnected: bool,
    },
    /// The socket dropped or could not open; the machine retries after `retry_in`.
    Disconnected {
        /// What happened.
        reason: String,
        /// How long until the next attempt.
        retry_in: Duration,
        /// Which server failed, as an index into [`Signaling::servers`].
        server: usize,
        /// Whether the next attempt goes to another server not yet tried since the last
        /// registration (so the failure may not matter).
        failing_over: bool,
    },
    /// Signaling stopped for good.
    Failed(SignalingError),
    /// A peer offers a connection.
    Offer {
        /// The offering peer.
        src: PeerId,
        /// The offer.
        payload: Box<OfferPayload>,
    },
    /// A peer answered one of our offers.
    Answer {
        /// The answering peer.
        src: PeerId,
        /// The answer.
        payload: AnswerPayload,
    },
    /// A candidate for a connection the driver has dialed or accepted.
    Candidate {
        /// The sending peer.
        src: PeerId,
        /// The candidate.
        payload: CandidatePayload,
    },
    /// A message we sent for this connection could not be delivered: the peer is not on the
    /// PeerServer. Before the answer this means the attempt failed.
    PeerUnavailable {
        /// The absent peer.
        peer: PeerId,
        /// The connection attempt that failed.
        connection_id: ConnectionId,
    },
    /// A peer left and closed its connections with us.
    PeerLeft {
        /// The peer.
        peer: PeerId,
    },
    /// The server sent something unreadable; it was ignored.
    Malformed(MessageError),
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SignalingOutput {
    /// Open a WebSocket to this URL, replacing any open one.
    OpenSocket(String),
    /// Send this text on the open socket.
    Send(String),
    /// Close the socket.
    CloseSocket,
    /// Tell the application.
    Event(SignalingEvent),
}

/// Where the registration stands, named after what it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Not started.
    Idle,
    /// The socket is opening.
    AwaitingSocket { deadline: Instant },
    /// The socket is open; waiting for OPEN, or for the quiet grace period to pass.
    AwaitingOpen {
        grace_ends: Instant,
        next_heartbeat: Instant,
    },
    /// Registered; on a fallback server, the first server is tried again at `failback_at`.
    Registered {
        next_heartbeat: Instant,
        failback_at: Option<Instant>,
    },
    /// Waiting to reconnect.
    AwaitingRetry { at: Instant },
    /// Stopped by an error.
    Failed,
    /// Stopped by the application.
    Closed,
}

/// A connection's signaling route.
#[derive(Debug, Clone)]
struct Route {
    peer: PeerId,
    awaiting_answer: bool,
}

#[derive(Debug)]
struct Pending {
    since: Instant,
    candidates: Vec<(PeerId, CandidatePayload)>,
}

/// The PeerServer client: registration, heartbeat, reconnects, and message routing.
#[derive(Debug)]
pub struct Signaling {
    /// The first server, then its fallbacks, in the order they are tried.
    servers: Vec<ServerConfig>,
    /// The server being used or tried.
    current: usize,
    /// The server a series of failed attempts began with: back at it, a round is over.
    round_start: usize,
    id: PeerId,
    token: Token,
    state: State,
    failed_attempts: u32,
    ever_registered: bool,
    /// Whether the attempt under way tries the first server again from a fallback.
    failing_back: bool,
    /// The wait before the next try of the first server.
    failback_interval: Duration,
    outputs: VecDeque<SignalingOutput>,
    outbox: VecDeque<ClientMessage>,
    routes: HashMap<ConnectionId, Route>,
    pending: HashMap<ConnectionId, Pending>,
}

impl Signaling {
    /// A client for `id` with `token` on `server`; call [`Signaling::connect`] to start.
    #[must_use]
    pub fn new(server: ServerConfig, id: PeerId, token: Token) -> Self {
        Self::with_fallbacks(server, Vec::new(), id, token)
    }

    /// A client that registers on `first`, or on the first of `fallbacks` (in order) that works
    /// when it does not; at most [`MAX_SERVERS`] in all are kept.
    #[must_use]
    pub fn with_fallbacks(
        first: ServerConfig,
        fallbacks: Vec<ServerConfig>,
        id: PeerId,
        token: Token,
    ) -> Self {
        let mut servers = vec![first];
        for server in fallbacks {
            if servers.len() < MAX_SERVERS && !servers.contains(&server) {
                servers.push(server);
            }
        }
        Self {
            servers,
            current: 0,
            round_start: 0,
            id,
            token,
            state: State::Idle,
            failed_attempts: 0,
            ever_registered: false,
            failing_back: false,
            failback_interval: FAILBACK_INTERVAL,
            outputs: VecDeque::new(),
            outbox: VecDeque::new(),
            routes: HashMap::new(),
            pending: HashMap::new(),
        }
    }

    /// Our peer ID.
    #[must_use]
    pub fn id(&self) -> &PeerId {
        &self.id
    }

    /// Our token: keep it to register the same ID again later.
    #[must_use]
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Every server, in the order they are tried.
    #[must_use]
    pub fn servers(&self) -> &[ServerConfig] {
        &self.servers
    }

    /// The index in [`Signaling::servers`] of the server in use, or being tried.
    #[must_use]
    pub fn current_server(&self) -> usize {
        self.current
    }

    /// Whether the ID is registered now.
    #[must_use]
    pub fn is_registered(&self) -> bool {
        matches!(self.state, State::Registered { .. })
    }

    /// Starts registering: asks the driver to open the socket.
    pub fn connect(&mut self, now: Instant) {
        if matches!(self.state, State::Idle | State::AwaitingRetry { .. }) {
            self.round_start = self.current;
            self.open_socket(now);
        }
    }

    /// Stops for good: tells every routed peer we leave and closes the socket.
    pub fn close(&mut self) {
        if matches!(self.state, State::Closed) {
            return;
        }
        if matches!(self.state, State::Registered { .. }) {
            let mut peers: Vec<PeerId> = self.routes.values().map(|r| r.peer.clone()).collect();
            peers.sort();
            peers.dedup();
            for dst in peers {
                let text = ClientMessage::Leave { dst }.to_json();
                self.outputs.push_back(SignalingOutput::Send(text));
            }
        }
        self.state = State::Closed;
        self.outputs.push_back(SignalingOutput::CloseSocket);
    }

    /// The driver's socket opened.
    pub fn handle_socket_open(&mut self, now: Instant) {
        if let State::AwaitingSocket { .. } = self.state {
            self.state = State::AwaitingOpen {
                grace_ends: now + QUIET_OPEN_GRACE,
                next_heartbeat: now + HEARTBEAT_INTERVAL,
            };
        }
    }

    /// The driver's socket closed or failed.
    pub fn handle_socket_closed(&mut self, now: Instant, reason: &str) {
        match self.state {
            State::AwaitingSocket { .. } | State::AwaitingOpen { .. } => {
                self.retry_later(now, reason.to_owned(), true);
            }
            State::Registered { .. } => {
                // The server may be restarting: try it once more before the others.
                self.round_start = self.current;
                self.retry_later(now, reason.to_owned(), false);
            }
            State::Idle | State::AwaitingRetry { .. } | State::Failed | State::Closed => {}
        }
    }

    /// A text message arrived on the socket.
    pub fn handle_socket_message(&mut self, now: Instant, text: &str) {
        let message = match ServerMessage::parse(text) {
            Ok(message) => message,
            Err(error) => {
                self.emit(SignalingEvent::Malformed(error));
                return;
            }
        };
        match message {
            ServerMessage::Open => {
                if let State::AwaitingOpen { next_heartbeat, .. } = self.state {
                    self.registered(now, next_heartbeat);
                }
            }
            // On a try of the first server from a fallback, a refusal only means staying put.
            ServerMessage::IdTaken { .. } if self.failing_back => {
                self.outputs.push_back(SignalingOutput::CloseSocket);
                self.retry_later(now, "the ID is taken there".into(), true);
            }
            ServerMessage::IdTaken { .. } => self.fail(SignalingError::IdTaken {
                id: self.id.clone(),
            }),
            // A server that refuses us (full, or another key) is one that failed, while others
            // are left to try.
            ServerMessage::Error { msg } if self.servers.len() > 1 => {
                self.outputs.push_back(SignalingOutput::CloseSocket);
                self.retry_later(now, format!("the server refused us: {msg}"), true);
            }
            ServerMessage::Error { msg } => self.fail(SignalingError::Refused { msg }),
            ServerMessage::Heartbeat | ServerMessage::Other { .. } => {}
            ServerMessage::Offer { src, payload } => {
                if !self.routes.contains_key(&payload.connection_id) {
                    self.emit(SignalingEvent::Offer { src, payload });
                }
            }
            ServerMessage::Answer { src, payload } => {
                let expected = self
                    .routes
                    .get_mut(&payload.connection_id)
                    .is_some_and(|r| {
                        let expected = r.awaiting_answer && r.peer == src;
                        r.awaiting_answer &= !expected;
                        expected
                    });
                if expected {
                    self.emit(SignalingEvent::Answer { src, payload });
                }
            }
            ServerMessage::Candidate { src, payload } => {
                match self.routes.get(&payload.connection_id) {
                    Some(route) if route.peer == src => {
                        self.emit(SignalingEvent::Candidate { src, payload });
                    }
                    Some(_) => {}
                    None => self.hold_candidate(now, src, payload),
                }
            }
            ServerMessage::Leave { src } => self.emit(SignalingEvent::PeerLeft { peer: src }),
            ServerMessage::Expire { src } => {
                // Something we sent to `src` found no one: every connection with it hears so.
                // An attempt still awaiting its answer is over and stops being routed; the
                // connection machine decides what it means for the others.
                let mut affected: Vec<(ConnectionId, bool)> = self
                    .routes
                    .iter()
                    .filter(|(_, r)| r.peer == src)
                    .map(|(id, r)| (id.clone(), r.awaiting_answer))
                    .collect();
                affected.sort();
                for (connection_id, awaiting_answer) in affected {
                    if awaiting_answer {
                        self.routes.remove(&connection_id);
                    }
                    self.emit(SignalingEvent::PeerUnavailable {
                        peer: src.clone(),
                        connection_id,
                    });
                }
            }
        }
    }

    /// Time passed: sends heartbeats, finishes a quiet registration, retries, drops stale
    /// candidates.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::AwaitingSocket { deadline } if now >= deadline => {
                self.outputs.push_back(SignalingOutput::CloseSocket);
                self.retry_later(now, "the socket did not open in time".into(), true);
            }
            State::Registered {
                failback_at: Some(at),
                ..
            } if now >= at => {
                // Back to the first server; if it still fails, the others follow at once, and
                // the next try waits twice as long.
                self.outputs.push_back(SignalingOutput::CloseSocket);
                self.current = 0;
                self.round_start = 0;
                self.failing_back = true;
                self.open_socket(now);
                self.failback_interval = (self.failback_interval * 2).min(FAILBACK_MAX_INTERVAL);
            }
            State::AwaitingOpen {
                grace_ends,
                next_heartbeat,
            } if now >= grace_ends => self.registered(now, next_heartbeat),
            State::AwaitingRetry { at } if now >= at => self.open_socket(now),
            _ => {}
        }
        match &mut self.state {
            State::AwaitingOpen { next_heartbeat, .. }
            | State::Registered { next_heartbeat, .. }
                if now >= *next_heartbeat =>
            {
                *next_heartbeat = now + HEARTBEAT_INTERVAL;
                let text = ClientMessage::Heartbeat.to_json();
                self.outputs.push_back(SignalingOutput::Send(text));
            }
            _ => {}
        }
        self.pending
            .retain(|_, p| now.saturating_since(p.since) < PENDING_CANDIDATE_TTL);
    }

    /// When [`Signaling::handle_timeout`] wants to be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let state = match self.state {
            State::AwaitingSocket { deadline } => Some(deadline),
            State::AwaitingOpen {
                grace_ends,
                next_heartbeat,
            } => Some(grace_ends.min(next_heartbeat)),
            State::Registered {
                next_heartbeat,
                failback_at,
            } => Some(failback_at.map_or(next_heartbeat, |at| at.min(next_heartbeat))),
            State::AwaitingRetry { at } => Some(at),
            State::Idle | State::Failed | State::Closed => None,
        };
        let pending = self
            .pending
            .values()
            .map(|p| p.since + PENDING_CANDIDATE_TTL)
            .min();
        match (state, pending) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next thing for the driver to do.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<SignalingOutput> {
        self.outputs.pop_front()
    }

    /// Sends an offer for a new connection to `dst` and routes its answer and candidates.
    pub fn dial(&mut self, dst: PeerId, payload: OfferPayload) {
        self.routes.insert(
            payload.connection_id.clone(),
            Route {
                peer: dst.clone(),
                awaiting_answer: true,
            },
        );
        self.send(ClientMessage::Offer {
            dst,
            payload: Box::new(payload),
        });
    }

    /// Routes the candidates of an offered connection the driver takes up, including those that
    /// arrived before it did; then send the answer with [`Signaling::send`].
    pub fn accept(&mut self, src: PeerId, connection_id: ConnectionId) {
        self.routes.insert(
            connection_id.clone(),
            Route {
                peer: src.clone(),
                awaiting_answer: false,
            },
        );
        if let Some(pending) = self.pending.remove(&connection_id) {
            for (from, payload) in pending.candidates {
                if from == src {
                    self.emit(SignalingEvent::Candidate { src: from, payload });
                }
            }
        }
    }

    /// Stops routing a connection that ended.
    pub fn forget(&mut self, connection_id: &ConnectionId) {
        self.routes.remove(connection_id);
        self.pending.remove(connection_id);
    }

    /// Sends a message now if registered, else as soon as the socket is back.
    pub fn send(&mut self, message: ClientMessage) {
        if matches!(
            self.state,
            State::Registered { .. } | State::AwaitingOpen { .. }
        ) {
            self.outputs
                .push_back(SignalingOutput::Send(message.to_json()));
        } else if !matches!(self.state, State::Failed | State::Closed) {
            if self.outbox.len() == MAX_OUTBOX {
                self.outbox.pop_front();
            }
            self.outbox.push_back(message);
        }
    }

    fn open_socket(&mut self, now: Instant) {
        let timeout = if self.failing_back {
            FAILBACK_OPEN_TIMEOUT
        } else {
            SOCKET_OPEN_TIMEOUT
        };
        self.state = State::AwaitingSocket {
            deadline: now + timeout,
        };
        let url = self.servers[self.current].socket_url(&self.id, &self.token);
        self.outputs.push_back(SignalingOutput::OpenSocket(url));
    }

    fn registered(&mut self, now: Instant, next_heartbeat: Instant) {
        self.failing_back = false;
        if self.current == 0 {
            self.failback_interval = FAILBACK_INTERVAL;
        }
        let failback_at = (self.current != 0).then(|| now + self.failback_interval);
        self.state = State::Registered {
            next_heartbeat,
            failback_at,
        };
        self.round_start = self.current;
        self.failed_attempts = 0;
        let reconnected = self.ever_registered;
        self.ever_registered = true;
        self.emit(SignalingEvent::Registered { reconnected });
        while let Some(message) = self.outbox.pop_front() {
            self.outputs
                .push_back(SignalingOutput::Send(message.to_json()));
        }
    }

    /// Schedules the next attempt after a failure of the current server: on the next server
    /// at once (`move_on`) while a round of them is not over, else after a backoff that
    /// doubles with each round.
    fn retry_later(&mut self, now: Instant, reason: String, move_on: bool) {
        let failed = self.current;
        self.failing_back = false;
        if move_on {
            self.current = (self.current + 1) % self.servers.len();
        }
        let failing_over = move_on && self.current != self.round_start;
        let retry_in = if failing_over {
            FAILOVER_DELAY
        } else {
            let rounds = self.failed_attempts / self.servers.len() as u32;
            let factor = 1u32 << rounds.min(10);
            RECONNECT_BASE.saturating_mul(factor).min(RECONNECT_MAX)
        };
        self.failed_attempts = self.failed_attempts.saturating_add(1);
        self.state = State::AwaitingRetry { at: now + retry_in };
        self.emit(SignalingEvent::Disconnected {
            reason,
            retry_in,
            server: failed,
            failing_over,
        });
    }

    fn fail(&mut self, error: SignalingError) {
        if matches!(self.state, State::Failed | State::Closed) {
            return;
        }
        self.state = State::Failed;
        self.outbox.clear();
        self.outputs.push_back(SignalingOutput::CloseSocket);
        self.emit(SignalingEvent::Failed(error));
    }

    fn hold_candidate(&mut self, now: Instant, src: PeerId, payload: CandidatePayload) {
        if !self.pending.contains_key(&payload.connection_id)
            && self.pending.len() >= MAX_PENDING_CONNECTIONS
        {
            return;
        }
        let pending = self
            .pending
            .entry(payload.connection_id.clone())
            .or_insert_with(|| Pending {
                since: now,
                candidates: Vec::new(),
            });
        if pending.candidates.len() < MAX_PENDING_CANDIDATES {
            pending.candidates.push((src, payload));
        }
    }

    fn emit(&mut self, event: SignalingEvent) {
        self.outputs.push_back(SignalingOutput::Event(event));
    }
}

#[cfg(test)]
mod tests;
