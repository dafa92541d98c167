//! The network path a connection took, read from the candidate pair ICE chose: straight
//! between the two hosts, through address translation with the help of STUN, or relayed by a
//! TURN server.
//!
//! The browser names each end of the pair by its candidate type (`host`, `srflx`, `prflx`,
//! `relay`) and, for our own relay candidate, the transport to the TURN server. [`Path::of`]
//! turns those into what a person is told.
//!
//! ```
//! use seedmesh_core::path::{Path, PairEnds, TurnTransport};
//!
//! let ends = PairEnds { local: "host", remote: "srflx", local_relay_protocol: None, behind_nat: true };
//! assert_eq!(Path::of(&ends), Path::ThroughNat);
//! let ends = PairEnds { local: "relay", remote: "srflx", local_relay_protocol: Some("tcp"), behind_nat: true };
//! assert_eq!(Path::of(&ends), Path::RelayedByUs(Some(TurnTransport::Tcp)));
//! assert_eq!(Path::of(&ends).to_string(), "relayed by TURN over TCP");
//! ```

use core::fmt;

/// The ends of the selected candidate pair, as the browser's statistics report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairEnds<'a> {
    /// Our end's candidate type.
    pub local: &'a str,
    /// The other end's candidate type.
    pub remote: &'a str,
    /// For a `relay` local candidate, the transport between us and the TURN server
    /// (`udp`, `tcp` or `tls`).
    pub local_relay_protocol: Option<&'a str>,
    /// Whether this page has a server-reflexive candidate at an address none of its host
    /// candidates has: a STUN server saw it behind a NAT.
    pub behind_nat: bool,
}

/// How the bytes of a connection travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Path {
    /// Straight between the two hosts' own addresses.
    Direct,
    /// Straight between the two pages, through one or both NATs, at addresses STUN found (or
    /// that the checks through the NAT showed).
    ThroughNat,
    /// Through our TURN relay, over this transport (`None` when the browser does not say).
    RelayedByUs(Option<TurnTransport>),
    /// Through the other end's TURN relay; ours is not in the path.
    RelayedByThem,
    /// The browser reported candidate types this does not know.
    Unknown,
}

/// The transport between a page and its TURN server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TurnTransport {
    /// TURN over UDP, the usual.
    Udp,
    /// TURN over TCP, where UDP is blocked.
    Tcp,
    /// TURN over TLS (`turns:`).
    Tls,
}

impl Path {
    /// Classifies the selected pair.
    ///
    /// Our own end is peer-reflexive only when a NAT rewrote our address, so it counts as
    /// through a NAT. The other end is peer-reflexive also when its checks merely came before its
    /// candidates; that counts as through a NAT only on a page that is itself behind one. Two
    /// pages behind one home router whose checks outrun their candidates are then called
    /// through NAT, though their path stays inside the home.
    pub fn of(ends: &PairEnds<'_>) -> Path {
        let known = |t: &str| matches!(t, "host" | "srflx" | "prflx" | "relay");
        if !known(ends.local) || !known(ends.remote) {
            return Path::Unknown;
        }
        if ends.local == "relay" {
            let transport = match ends.local_relay_protocol {
                Some(p) if p.eq_ignore_ascii_case("udp") => Some(TurnTransport::Udp),
                Some(p) if p.eq_ignore_ascii_case("tcp") => Some(TurnTransport::Tcp),
                Some(p) if p.eq_ignore_ascii_case("tls") => Some(TurnTransport::Tls),
                _ => None,
            };
            return Path::RelayedByUs(transport);
        }
        if ends.remote == "relay" {
            return Path::RelayedByThem;
        }
        let ours = matches!(ends.local, "srflx" | "prflx");
        let theirs = ends.remote == "srflx" || (ends.remote == "prflx" && ends.behind_nat);
        if ours || theirs {
            Path::ThroughNat
        } else {
            Path::Direct
        }
    }

    /// Whether the bytes go through a relay rather than between the two pages.
    pub fn is_relayed(self) -> bool {
        matches!(self, Path::RelayedByUs(_) | Path::RelayedByThem)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Direct => f.write_str("direct"),
            Path::ThroughNat => f.write_str("direct through NAT (STUN)"),
            Path::RelayedByUs(Some(transport)) => write!(f, "relayed by TURN over {transport}"),
            Path::RelayedByUs(None) => f.write_str("relayed by TURN"),
            Path::RelayedByThem => f.write_str("relayed by their TURN server"),
            Path::Unknown => f.write_str("path unknown"),
        }
    }
}

impl fmt::Display for TurnTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TurnTransport::Udp => "UDP",
            TurnTransport::Tcp => "TCP",
            TurnTransport::Tls => "TLS",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ends<'a>(local: &'a str, remote: &'a str, behind_nat: bool) -> PairEnds<'a> {
        PairEnds {
            local,
            remote,
            local_relay_protocol: None,
            behind_nat,
        }
    }

    #[test]
    fn two_host_ends_are_direct() {
        assert_eq!(Path::of(&ends("host", "host", false)), Path::Direct);
        assert_eq!(Path::of(&ends("host", "host", true)), Path::Direct);
    }

    #[test]
    fn a_server_reflexive_end_is_through_nat() {
        assert_eq!(Path::of(&ends("host", "srflx", false)), Path::ThroughNat);
        assert_eq!(Path::of(&ends("srflx", "host", false)), Path::ThroughNat);
    }

    #[test]
    fn their_peer_reflexive_end_is_through_nat_only_on_a_page_behind_one() {
        assert_eq!(Path::of(&ends("host", "prflx", false)), Path::Direct);
        assert_eq!(Path::of(&ends("host", "prflx", true)), Path::ThroughNat);
    }

    #[test]
    fn our_peer_reflexive_end_is_through_nat() {
        assert_eq!(Path::of(&ends("prflx", "host", false)), Path::ThroughNat);
        assert_eq!(Path::of(&ends("prflx", "relay", true)), Path::RelayedByThem);
    }

    #[test]
    fn a_relay_end_is_relayed_with_our_transport_when_ours() {
        for (protocol, transport) in [
            ("udp", Some(TurnTransport::Udp)),
            ("TCP", Some(TurnTransport::Tcp)),
            ("tls", Some(TurnTransport::Tls)),
            ("quic", None),
        ] {
            let pair = PairEnds {
                local_relay_protocol: Some(protocol),
                ..ends("relay", "host", false)
            };
            assert_eq!(Path::of(&pair), Path::RelayedByUs(transport));
        }
        // Ours, even when the browser does not name the transport.
        assert_eq!(
            Path::of(&ends("relay", "relay", false)),
            Path::RelayedByUs(None)
        );
        assert_eq!(Path::RelayedByUs(None).to_string(), "relayed by TURN");
        assert_eq!(Path::of(&ends("host", "relay", true)), Path::RelayedByThem);
        assert_eq!(
            Path::RelayedByUs(Some(TurnTransport::Tcp)).to_string(),
            "relayed by TURN over TCP"
        );
        assert_eq!(
            Path::RelayedByThem.to_string(),
            "relayed by their TURN server"
        );
        assert!(Path::RelayedByThem.is_relayed());
        assert!(!Path::ThroughNat.is_relayed());
    }

    #[test]
    fn unknown_types_say_so() {
        assert_eq!(Path::of(&ends("host", "mdns", false)), Path::Unknown);
        assert_eq!(Path::of(&ends("", "relay", false)), Path::Unknown);
    }

    proptest! {
        /// Whatever the browser reports, the classification is total and names a relay exactly
        /// when a known relay end is there.
        #[test]
        fn any_report_is_classified(
            local in "(host|srflx|prflx|relay|[a-z]{0,6})",
            remote in "(host|srflx|prflx|relay|[a-z]{0,6})",
            protocol in proptest::option::of("(udp|tcp|tls|[a-z]{0,4})"),
            behind_nat: bool,
        ) {
            let pair = PairEnds { local: &local, remote: &remote, local_relay_protocol: protocol.as_deref(), behind_nat };
            let path = Path::of(&pair);
            let known = |t: &str| matches!(t, "host" | "srflx" | "prflx" | "relay");
            if known(&local) && known(&remote) {
                prop_assert_eq!(path.is_relayed(), local == "relay" || remote == "relay");
            } else {
                prop_assert_eq!(path, Path::Unknown);
            }
            prop_assert!(!path.to_string().is_empty());
        }
    }
}
