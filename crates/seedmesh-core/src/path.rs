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
//! assert_eq!(Path::of(&ends), Path::Relayed(Some(TurnTransport::Tcp)));
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
    /// Whether this page gathered a server-reflexive candidate: a STUN server saw it at an
    /// address of a NAT rather than its own.
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
    /// Through a TURN relay. The transport is known when the relay is ours; `None` when only
    /// the other end is relayed.
    Relayed(Option<TurnTransport>),
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
    /// Classifies the selected pair. A peer-reflexive end counts as through a NAT only on a page
    /// that is itself behind one: between hosts on one network, an end is peer-reflexive just
    /// because its checks arrived before its candidates did.
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
            return Path::Relayed(transport);
        }
        if ends.remote == "relay" {
            return Path::Relayed(None);
        }
        let reflexive = |t: &str| t == "srflx" || (t == "prflx" && ends.behind_nat);
        if reflexive(ends.local) || reflexive(ends.remote) {
            Path::ThroughNat
        } else {
            Path::Direct
        }
    }

    /// Whether the bytes go through a relay rather than between the two pages.
    pub fn is_relayed(self) -> bool {
        matches!(self, Path::Relayed(_))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Direct => f.write_str("direct"),
            Path::ThroughNat => f.write_str("direct through NAT (STUN)"),
            Path::Relayed(Some(transport)) => write!(f, "relayed by TURN over {transport}"),
            Path::Relayed(None) => f.write_str("relayed by their TURN server"),
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
    fn a_peer_reflexive_end_is_through_nat_only_behind_one() {
        assert_eq!(Path::of(&ends("host", "prflx", false)), Path::Direct);
        assert_eq!(Path::of(&ends("host", "prflx", true)), Path::ThroughNat);
        assert_eq!(Path::of(&ends("prflx", "host", true)), Path::ThroughNat);
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
            assert_eq!(Path::of(&pair), Path::Relayed(transport));
        }
        assert_eq!(Path::of(&ends("host", "relay", true)), Path::Relayed(None));
        assert_eq!(
            Path::Relayed(Some(TurnTransport::Tcp)).to_string(),
            "relayed by TURN over TCP"
        );
        assert!(Path::Relayed(None).is_relayed());
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
