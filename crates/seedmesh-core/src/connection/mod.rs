//! One data connection's life: from offer to open to closed, with timeouts and liveness.
//!
//! [`Connection`] decides when a connection attempt has taken too long, when an open connection
//! is dead, and why it closed. The driver tells it what the browser reported (answer received,
//! channel open, transport state, frames heard) and does what [`Connection::poll_output`] says:
//! send a ping, report the connection open, or tear it down with a [`CloseReason`].
//!
//! A remote close is noticed three ways, whichever comes first: the channel's `close` event or
//! an in-band close message; the transport state turning `failed`, `closed`, or staying
//! `disconnected`; and, with seedmesh peers, pings that go unanswered.
//!
//! ```
//! use seedmesh_core::connection::{Connection, ConnectionConfig, Output, Role};
//! use seedmesh_core::Instant;
//!
//! let mut c = Connection::new(Role::Dialer, ConnectionConfig::default(), Instant::from_millis(0));
//! c.handle_answered(Instant::from_millis(40));
//! c.handle_channel_open(Instant::from_millis(90), true);
//! assert_eq!(c.poll_output(), Some(Output::Opened));
//! ```
//!
//! [`negotiation`] decides what happens to the descriptions and candidates on the way there.

pub mod admission;
pub mod negotiation;

use core::fmt;
use core::time::Duration;
use std::collections::VecDeque;

use crate::time::Instant;

/// Timeouts for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// How long from the offer until the channel must be open.
    pub open_timeout: Duration,
    /// How often an open connection to a seedmesh peer is pinged.
    pub ping_interval: Duration,
    /// How long an open connection to a seedmesh peer may stay silent.
    pub liveness_timeout: Duration,
    /// How long the transport may stay `disconnected` before the connection counts as lost.
    pub disconnected_grace: Duration,
}

impl Default for ConnectionConfig {
    /// 15 s to open; a ping every 2 s; dead after 8 s of silence or 5 s disconnected.
    fn default() -> Self {
        Self {
            open_timeout: Duration::from_secs(15),
            ping_interval: Duration::from_secs(2),
            liveness_timeout: Duration::from_secs(8),
            disconnected_grace: Duration::from_secs(5),
        }
    }
}

/// Which end of the connection we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We sent the offer.
    Dialer,
    /// We answered an offer.
    Answerer,
}

/// The transport's state, as `RTCPeerConnection.connectionState` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportState {
    /// `new` or `connecting`.
    Connecting,
    /// `connected`.
    Connected,
    /// `disconnected`: may recover.
    Disconnected,
    /// `failed`: ICE found no path or lost it for good.
    Failed,
    /// `closed`.
    Closed,
}

/// Why a connection ended, or why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer is not on the PeerServer: the server expired our offer.
    PeerUnavailable,
    /// No answer came within the open timeout.
    NoAnswer {
        /// How long we waited.
        waited: Duration,
    },
    /// The answer came but the channel did not open within the open timeout.
    OpenTimeout {
        /// How long we waited.
        waited: Duration,
    },
    /// ICE could not find a path, or lost it.
    TransportFailed,
    /// The peer closed the connection.
    RemoteClosed,
    /// The peer left the PeerServer.
    PeerLeft,
    /// The peer stopped answering pings.
    Unresponsive {
        /// How long it was silent.
        silent: Duration,
    },
    /// We closed it.
    Local,
    /// The application left this many bytes that arrived unread, past its limit: the
    /// connection was closed rather than let them fill memory.
    NotRead {
        /// Bytes that were waiting to be read.
        unread: usize,
    },
}

impl CloseReason {
    /// Whether the path failed (ICE lost it, or the peer stopped answering) rather than the
    /// connection being closed or refused: the peer may well still be there, and can be
    /// linked again.
    #[must_use]
    pub fn is_path_lost(&self) -> bool {
        matches!(self, Self::TransportFailed | Self::Unresponsive { .. })
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PeerUnavailable => write!(
                f,
                "peer unavailable: the PeerServer has no peer with that ID; check the ID, \
                 or try again once the peer is online"
            ),
            Self::NoAnswer { waited } => write!(
                f,
                "the peer did not answer the offer within {} s; it may be busy or gone",
                waited.as_secs()
            ),
            Self::OpenTimeout { waited } => write!(
                f,
                "the peer answered but no network path opened within {} s; a TURN relay may \
                 be needed",
                waited.as_secs()
            ),
            Self::TransportFailed => write!(
                f,
                "the network path to the peer failed (ICE); a TURN relay may be needed"
            ),
            Self::RemoteClosed => write!(f, "the peer closed the connection"),
            Self::PeerLeft => write!(f, "the peer left the PeerServer"),
            Self::Unresponsive { silent } => write!(
                f,
                "the peer has not answered for {} ms; it is gone or its network is down",
                silent.as_millis()
            ),
            Self::Local => write!(f, "the connection was closed here"),
            Self::NotRead { unread } => write!(
                f,
                "{unread} bytes from the peer were waiting unread; the connection was closed \
                 so that they cannot fill memory (read events sooner, or raise the limit)"
            ),
        }
    }
}

impl std::error::Error for CloseReason {}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// The channel is open: hand the connection to the application.
    Opened,
    /// Send a ping with this nonce (seedmesh peers only).
    SendPing(u64),
    /// A round trip was measured.
    RoundTrip(Duration),
    /// Close everything: the connection is over.
    Closed(CloseReason),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    AwaitingAnswer {
        deadline: Instant,
    },
    AwaitingChannel {
        deadline: Instant,
    },
    Open {
        pings: bool,
        last_heard: Instant,
        next_ping: Instant,
        outstanding: Option<(u64, Instant)>,
        disconnected_since: Option<Instant>,
    },
    Closed,
}

/// One data connection's state machine.
#[derive(Debug)]
pub struct Connection {
    config: ConnectionConfig,
    started: Instant,
    state: State,
    next_nonce: u64,
    outputs: VecDeque<Output>,
}

impl Connection {
    /// A connection that starts now: a dialer awaits the answer, an answerer the channel.
    #[must_use]
    pub fn new(role: Role, config: ConnectionConfig, now: Instant) -> Self {
        let deadline = now + config.open_timeout;
        Self {
            config,
            started: now,
            state: match role {
                Role::Dialer => State::AwaitingAnswer { deadline },
                Role::Answerer => State::AwaitingChannel { deadline },
            },
            next_nonce: 1,
            outputs: VecDeque::new(),
        }
    }

    /// Whether the connection is open.
    #[must_use]
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }

    /// Whether the connection is over.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The answer to our offer arrived.
    pub fn handle_answered(&mut self, _now: Instant) {
        if let State::AwaitingAnswer { deadline } = self.state {
            self.state = State::AwaitingChannel { deadline };
        }
    }

    /// The data channel opened; `pings` when the peer speaks seedmesh framing.
    pub fn handle_channel_open(&mut self, now: Instant, pings: bool) {
        if matches!(
            self.state,
            State::AwaitingAnswer { .. } | State::AwaitingChannel { .. }
        ) {
            self.state = State::Open {
                pings,
                last_heard: now,
                next_ping: now,
                outstanding: None,
                disconnected_since: None,
            };
            self.outputs.push_back(Output::Opened);
            self.handle_timeout(now);
        }
    }

    /// A frame arrived from the peer: it is alive.
    pub fn handle_heard(&mut self, now: Instant) {
        if let State::Open { last_heard, .. } = &mut self.state {
            *last_heard = now;
        }
    }

    /// A pong arrived.
    pub fn handle_pong(&mut self, now: Instant, nonce: u64) {
        self.handle_heard(now);
        if let State::Open { outstanding, .. } = &mut self.state
            && let Some((sent_nonce, sent_at)) = *outstanding
            && sent_nonce == nonce
        {
            *outstanding = None;
            self.outputs
                .push_back(Output::RoundTrip(now.saturating_since(sent_at)));
        }
    }

    /// The transport's state changed.
    pub fn handle_transport(&mut self, now: Instant, transport: TransportState) {
        match transport {
            TransportState::Failed | TransportState::Closed => {
                self.close(CloseReason::TransportFailed);
            }
            TransportState::Disconnected => {
                if let State::Open {
                    disconnected_since, ..
                } = &mut self.state
                {
                    disconnected_since.get_or_insert(now);
                }
            }
            TransportState::Connected | TransportState::Connecting => {
                if let State::Open {
                    disconnected_since, ..
                } = &mut self.state
                {
                    *disconnected_since = None;
                }
            }
        }
    }

    /// The peer closed: its channel closed, or it sent a close message.
    pub fn handle_remote_close(&mut self) {
        self.close(CloseReason::RemoteClosed);
    }

    /// The PeerServer could not deliver our signaling: the peer is not there. An attempt that
    /// is not open yet fails (a stale offer from a peer that left ends here too); an open
    /// connection does not need the server and stays.
    pub fn handle_peer_unavailable(&mut self) {
        if !self.is_open() {
            self.close(CloseReason::PeerUnavailable);
        }
    }

    /// The peer left the PeerServer. An open connection does not need the server and stays.
    pub fn handle_peer_left(&mut self) {
        if !self.is_open() {
            self.close(CloseReason::PeerLeft);
        }
    }

    /// Ends the connection for `reason` (e.g. [`CloseReason::Local`]).
    pub fn close(&mut self, reason: CloseReason) {
        if self.state != State::Closed {
            self.state = State::Closed;
            self.outputs.push_back(Output::Closed(reason));
        }
    }

    /// Time passed: open timeouts, pings, liveness.
    pub fn handle_timeout(&mut self, now: Instant) {
        let waited = now.saturating_since(self.started);
        match &mut self.state {
            State::AwaitingAnswer { deadline } if now >= *deadline => {
                self.close(CloseReason::NoAnswer { waited });
            }
            State::AwaitingChannel { deadline } if now >= *deadline => {
                self.close(CloseReason::OpenTimeout { waited });
            }
            State::Open {
                pings,
                last_heard,
                next_ping,
                outstanding,
                disconnected_since,
            } => {
                if disconnected_since
                    .is_some_and(|since| now >= since + self.config.disconnected_grace)
                {
                    self.close(CloseReason::TransportFailed);
                    return;
                }
                if !*pings {
                    return;
                }
                let silent = now.saturating_since(*last_heard);
                if silent >= self.config.liveness_timeout {
                    self.close(CloseReason::Unresponsive { silent });
                    return;
                }
                if now >= *next_ping {
                    let nonce = self.next_nonce;
                    self.next_nonce += 1;
                    *next_ping = now + self.config.ping_interval;
                    *outstanding = Some((nonce, now));
                    self.outputs.push_back(Output::SendPing(nonce));
                }
            }
            _ => {}
        }
    }

    /// When [`Connection::handle_timeout`] wants to be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::AwaitingAnswer { deadline } | State::AwaitingChannel { deadline } => {
                Some(*deadline)
            }
            State::Open {
                pings,
                last_heard,
                next_ping,
                disconnected_since,
                ..
            } => {
                let lost = disconnected_since.map(|s| s + self.config.disconnected_grace);
                let ping =
                    pings.then(|| (*next_ping).min(*last_heard + self.config.liveness_timeout));
                match (lost, ping) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            State::Closed => None,
        }
    }

    /// The next thing for the driver to do.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn drain(c: &mut Connection) -> Vec<Output> {
        std::iter::from_fn(|| c.poll_output()).collect()
    }

    fn open(pings: bool) -> Connection {
        let mut c = Connection::new(Role::Dialer, ConnectionConfig::default(), at(0));
        c.handle_answered(at(10));
        c.handle_channel_open(at(100), pings);
        c
    }

    #[test]
    fn an_unanswered_offer_times_out_with_a_clear_reason() {
        let mut c = Connection::new(Role::Dialer, ConnectionConfig::default(), at(0));
        assert_eq!(c.poll_timeout(), Some(at(15_000)));
        c.handle_timeout(at(15_000));
        let out = drain(&mut c);
        assert_eq!(
            out,
            vec![Output::Closed(CloseReason::NoAnswer {
                waited: Duration::from_secs(15)
            })]
        );
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn expire_means_peer_unavailable_only_before_the_channel_opens() {
        let mut c = Connection::new(Role::Dialer, ConnectionConfig::default(), at(0));
        c.handle_peer_unavailable();
        let out = drain(&mut c);
        assert_eq!(out, vec![Output::Closed(CloseReason::PeerUnavailable)]);
        assert!(
            CloseReason::PeerUnavailable
                .to_string()
                .starts_with("peer unavailable")
        );
        let mut c = open(false);
        c.handle_peer_unavailable();
        assert_eq!(drain(&mut c), vec![Output::Opened]);
        // An answered offer whose peer has gone (a stale offer) fails the same way.
        let mut c = Connection::new(Role::Answerer, ConnectionConfig::default(), at(0));
        c.handle_peer_unavailable();
        assert_eq!(
            drain(&mut c),
            vec![Output::Closed(CloseReason::PeerUnavailable)]
        );
    }

    #[test]
    fn an_answered_offer_that_never_opens_says_so() {
        let mut c = Connection::new(Role::Answerer, ConnectionConfig::default(), at(0));
        c.handle_timeout(at(15_000));
        assert!(matches!(
            drain(&mut c)[..],
            [Output::Closed(CloseReason::OpenTimeout { .. })]
        ));
    }

    #[test]
    fn seedmesh_peers_are_pinged_and_measured() {
        let mut c = open(true);
        assert_eq!(drain(&mut c), vec![Output::Opened, Output::SendPing(1)]);
        c.handle_pong(at(130), 1);
        assert_eq!(
            drain(&mut c),
            vec![Output::RoundTrip(Duration::from_millis(30))]
        );
        c.handle_pong(at(140), 1); // a duplicate measures nothing
        assert!(drain(&mut c).is_empty());
        assert_eq!(c.poll_timeout(), Some(at(2_100)));
        c.handle_timeout(at(2_100));
        assert_eq!(drain(&mut c), vec![Output::SendPing(2)]);
    }

    #[test]
    fn a_silent_seedmesh_peer_is_declared_gone() {
        let mut c = open(true);
        let mut now = 100;
        while !c.is_closed() {
            now = c.poll_timeout().unwrap().as_millis();
            c.handle_timeout(at(now));
        }
        assert_eq!(now, 8_100);
        assert!(
            drain(&mut c).contains(&Output::Closed(CloseReason::Unresponsive {
                silent: Duration::from_secs(8)
            }))
        );
    }

    #[test]
    fn peerjs_peers_are_not_pinged_but_transport_loss_is_seen() {
        let mut c = open(false);
        assert_eq!(drain(&mut c), vec![Output::Opened]);
        assert_eq!(c.poll_timeout(), None);
        c.handle_transport(at(1_000), TransportState::Disconnected);
        c.handle_transport(at(2_000), TransportState::Connected);
        assert_eq!(c.poll_timeout(), None);
        c.handle_transport(at(3_000), TransportState::Disconnected);
        c.handle_timeout(at(8_000));
        assert_eq!(
            drain(&mut c),
            vec![Output::Closed(CloseReason::TransportFailed)]
        );
    }

    #[test]
    fn the_first_reason_wins() {
        let mut c = open(false);
        c.handle_remote_close();
        c.handle_transport(at(1), TransportState::Failed);
        c.close(CloseReason::Local);
        assert_eq!(
            drain(&mut c),
            vec![Output::Opened, Output::Closed(CloseReason::RemoteClosed)]
        );
    }

    #[test]
    fn leaving_closes_only_attempts() {
        let mut c = open(false);
        c.handle_peer_left();
        assert!(c.is_open());
        let mut c = Connection::new(Role::Answerer, ConnectionConfig::default(), at(0));
        c.handle_peer_left();
        assert!(c.is_closed());
    }
}
