//! Invites: a data connection's offer or answer in about a hundred bytes, for a link or a QR code.
//!
//! When no signaling server can be reached, two pages can still connect if a person carries the
//! offer to the other page and the answer back: in a link's fragment, a QR code, a chat message.
//! A browser's session description is a few kilobytes of SDP, but for a data channel the other
//! side needs very little of it: the ICE username fragment and password, the DTLS certificate
//! fingerprint, the DTLS role, and the candidates gathered (sent inside the description, so the
//! link holds everything and no trickle follows). [`Invite`] keeps only that, plus who sent it,
//! and [`Invite::to_sdp`] writes a description a browser accepts.
//!
//! ```
//! use seedmesh_core::invite::{Invite, Kind};
//! use seedmesh_core::PeerId;
//!
//! let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
//!            m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
//!            a=ice-ufrag:h5Ye\r\na=ice-pwd:qW3kMwJkXH2ZyA0Fs4tG1pnB\r\n\
//!            a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
//!            a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n";
//! let gathered = ["candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host generation 0"];
//! let from = PeerId::parse("alice").unwrap();
//! let invite = Invite::from_sdp(Kind::Offer, from, sdp, gathered).unwrap();
//! let text = invite.encode();
//! assert!(text.len() < 120);
//! let back = Invite::decode(&text).unwrap();
//! assert_eq!(back, invite);
//! assert!(back.to_sdp().contains("a=candidate:1 1 udp"));
//! ```

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::peer_id::{MAX_PEER_ID_LEN, PeerId};

/// The format version written first in every encoded invite. Version 2 added
/// [`Invite::in_reply_to`].
pub const INVITE_VERSION: u8 = 2;
/// The most candidates an invite carries; more are dropped, the first kept.
pub const MAX_CANDIDATES: usize = 12;
/// The longest encoded invite [`Invite::decode`] reads, in characters.
pub const MAX_ENCODED_LEN: usize = 1_024;
/// The SCTP port both ends use (the browsers' default).
const SCTP_PORT: u16 = 5000;
/// The largest message the rebuilt description announces (the browsers' default).
const MAX_MESSAGE_SIZE: u32 = 262_144;

/// What the fragment of a link that carries an invite's offer starts with.
pub const INVITE_FRAGMENT: &str = "#invite=";
/// What the fragment of a link that carries an invite's answer starts with.
pub const ANSWER_FRAGMENT: &str = "#answer=";

/// The invite text in what a person pasted: a whole invite or answer link (the part after
/// [`INVITE_FRAGMENT`] or [`ANSWER_FRAGMENT`]), or the text alone, trimmed.
#[must_use]
pub fn pasted_text(pasted: &str) -> &str {
    let pasted = pasted.trim();
    [INVITE_FRAGMENT, ANSWER_FRAGMENT]
        .iter()
        .find_map(|fragment| pasted.split_once(fragment).map(|(_, text)| text))
        .unwrap_or(pasted)
}

/// Whether an invite holds an offer or the answer to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The inviting page's offer.
    Offer,
    /// The invited page's answer.
    Answer,
}

/// The DTLS role a description asks for (`a=setup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Either role: what offers say.
    ActPass,
    /// The DTLS client.
    Active,
    /// The DTLS server.
    Passive,
}

/// What kind of address a candidate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateType {
    /// An address of the machine itself.
    Host,
    /// The address a STUN server saw (behind a NAT).
    ServerReflexive,
    /// An address learned from the peer's checks.
    PeerReflexive,
    /// A TURN relay's address.
    Relay,
}

/// A candidate's transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP, with its `tcptype`.
    Tcp(TcpType),
}

/// The `tcptype` of a TCP candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpType {
    /// Accepts connections.
    Passive,
    /// Opens connections.
    Active,
    /// Simultaneous open.
    SimultaneousOpen,
}

/// Where a candidate is: an IP address, or an mDNS name (`<uuid>.local`) that hides one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// An mDNS name `<uuid>.local`, kept as the UUID's 16 bytes.
    Mdns([u8; 16]),
}

/// One ICE candidate, as much of it as the other side needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Host, server-reflexive, peer-reflexive or relay.
    pub kind: CandidateType,
    /// UDP or TCP.
    pub transport: Transport,
    /// The address.
    pub address: Address,
    /// The port.
    pub port: u16,
}

/// A connection's offer or answer, reduced to what the other side needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// Offer or answer.
    pub kind: Kind,
    /// Who sent it.
    pub from: PeerId,
    /// The ICE username fragment.
    pub ufrag: String,
    /// The ICE password.
    pub pwd: String,
    /// The SHA-256 fingerprint of the DTLS certificate.
    pub fingerprint: [u8; 32],
    /// The DTLS role.
    pub setup: Setup,
    /// The candidates gathered, at most [`MAX_CANDIDATES`].
    pub candidates: Vec<Candidate>,
    /// For an answer, the ICE username fragment of the offer it answers, so that a page with
    /// several invites open gives it to the right one. Offers carry none.
    pub in_reply_to: Option<String>,
}

/// Why an invite could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InviteError {
    /// The description lacks this attribute, or its value is unusable (e.g. a fingerprint that
    /// is not SHA-256): the browser made something this format cannot carry.
    Description(&'static str),
    /// The invite is longer than [`MAX_ENCODED_LEN`]: it is not one of ours.
    TooLong(usize),
    /// The text is not base64url.
    NotBase64,
    /// The invite is of a format version this page does not know; the other page is newer.
    Version(u8),
    /// The invite ends early or holds an impossible value at this byte: it was cut or changed
    /// on the way; ask for it again.
    Malformed(usize),
    /// An answer was given where an invite's offer was expected.
    NotAnOffer,
    /// An invite's offer was given where the answer to one was expected.
    NotAnAnswer,
    /// The answer is to no invite open on this page.
    NoOpenInvite,
    /// The invite was made by this very page.
    OwnInvite,
}

impl fmt::Display for InviteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Description(what) => {
                write!(f, "the browser's session description has no usable {what}")
            }
            Self::TooLong(len) => write!(
                f,
                "the invite is {len} characters long; an invite has at most {MAX_ENCODED_LEN}"
            ),
            Self::NotBase64 => f.write_str(
                "the invite is not readable (it is not base64url); copy the whole link again",
            ),
            Self::Version(v) => write!(
                f,
                "the invite is of format {v}, newer than this page reads ({INVITE_VERSION}); \
                 reload the page to update it"
            ),
            Self::Malformed(at) => write!(
                f,
                "the invite is damaged (at byte {at}); copy the whole link again"
            ),
            Self::NotAnOffer => f.write_str(
                "this is the answer to an invite, not an invite: give it to the page that made \
                 the invite",
            ),
            Self::NotAnAnswer => f.write_str(
                "this is an invite, not an answer: open it on the other device or in another \
                 browser, and bring back the answer it shows",
            ),
            Self::NoOpenInvite => f.write_str(
                "this answer is to no invite open on this page (it ended, or another page made \
                 it): make a new invite",
            ),
            Self::OwnInvite => f.write_str(
                "this invite was made by this page: open it on another device or in another \
                 browser",
            ),
        }
    }
}

impl std::error::Error for InviteError {}

impl Invite {
    /// Reads what the other side needs from a browser's session description `sdp` and the
    /// `candidate:` lines gathered for it (with or without the `a=` prefix). Candidates the
    /// format cannot carry (e.g. other components) are skipped.
    pub fn from_sdp<'a>(
        kind: Kind,
        from: PeerId,
        sdp: &str,
        gathered: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, InviteError> {
        let attribute = |name: &str| {
            sdp.lines()
                .find_map(|line| line.trim().strip_prefix("a=")?.strip_prefix(name))
                .map(str::trim)
        };
        let ufrag = attribute("ice-ufrag:").ok_or(InviteError::Description("ICE ufrag"))?;
        let pwd = attribute("ice-pwd:").ok_or(InviteError::Description("ICE password"))?;
        if !ice_chars(ufrag, 4, 32) {
            return Err(InviteError::Description("ICE ufrag"));
        }
        if !ice_chars(pwd, 22, 64) {
            return Err(InviteError::Description("ICE password"));
        }
        let fingerprint = attribute("fingerprint:")
            .and_then(|f| f.strip_prefix("sha-256 "))
            .and_then(parse_fingerprint)
            .ok_or(InviteError::Description("SHA-256 fingerprint"))?;
        let setup = match attribute("setup:") {
            Some("actpass") => Setup::ActPass,
            Some("active") => Setup::Active,
            Some("passive") => Setup::Passive,
            _ => return Err(InviteError::Description("DTLS setup role")),
        };
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut add = |line: &str| {
            let Some(candidate) = parse_candidate(line.trim().trim_start_matches("a=")) else {
                return;
            };
            if !candidates.contains(&candidate) && candidates.len() < MAX_CANDIDATES {
                candidates.push(candidate);
            }
        };
        sdp.lines().for_each(&mut add);
        gathered.into_iter().for_each(&mut add);
        Ok(Self {
            kind,
            from,
            ufrag: ufrag.to_owned(),
            pwd: pwd.to_owned(),
            fingerprint,
            setup,
            candidates,
            in_reply_to: None,
        })
    }

    /// A session description for the other side's browser, with every candidate in it.
    #[must_use]
    pub fn to_sdp(&self) -> String {
        let setup = match self.setup {
            Setup::ActPass => "actpass",
            Setup::Active => "active",
            Setup::Passive => "passive",
        };
        let fingerprint = self
            .fingerprint
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        let mut sdp = format!(
            "v=0\r\no=- 0 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
             a=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
             c=IN IP4 0.0.0.0\r\na=ice-ufrag:{}\r\na=ice-pwd:{}\r\n\
             a=fingerprint:sha-256 {fingerprint}\r\na=setup:{setup}\r\na=mid:0\r\n\
             a=sctp-port:{SCTP_PORT}\r\na=max-message-size:{MAX_MESSAGE_SIZE}\r\n",
            self.ufrag, self.pwd
        );
        for (index, candidate) in self.candidates.iter().enumerate() {
            sdp.push_str("a=");
            sdp.push_str(&candidate_line(index, candidate));
            sdp.push_str("\r\n");
        }
        sdp.push_str("a=end-of-candidates\r\n");
        sdp
    }

    /// The invite as base64url text, for a link's fragment or a QR code.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut bytes = vec![INVITE_VERSION];
        let kind = match self.kind {
            Kind::Offer => 0,
            Kind::Answer => 1,
        };
        let setup = match self.setup {
            Setup::ActPass => 0,
            Setup::Active => 1,
            Setup::Passive => 2,
        };
        bytes.push(kind | setup << 1);
        let in_reply_to = match self.kind {
            Kind::Offer => None,
            Kind::Answer => Some(self.in_reply_to.as_deref().unwrap_or_default()),
        };
        let texts = [self.from.as_str(), &self.ufrag, &self.pwd];
        for text in texts.into_iter().chain(in_reply_to) {
            bytes.push(u8::try_from(text.len()).unwrap_or(u8::MAX));
            bytes.extend_from_slice(&text.as_bytes()[..text.len().min(255)]);
        }
        bytes.extend_from_slice(&self.fingerprint);
        let candidates = &self.candidates[..self.candidates.len().min(MAX_CANDIDATES)];
        bytes.push(candidates.len() as u8);
        for candidate in candidates {
            let kind = match candidate.kind {
                CandidateType::Host => 0,
                CandidateType::ServerReflexive => 1,
                CandidateType::PeerReflexive => 2,
                CandidateType::Relay => 3,
            };
            let transport = match candidate.transport {
                Transport::Udp => 0,
                Transport::Tcp(TcpType::Passive) => 1,
                Transport::Tcp(TcpType::Active) => 2,
                Transport::Tcp(TcpType::SimultaneousOpen) => 3,
            };
            let address = match candidate.address {
                Address::Ip(IpAddr::V4(_)) => 0,
                Address::Ip(IpAddr::V6(_)) => 1,
                Address::Mdns(_) => 2,
            };
            bytes.push(kind | transport << 2 | address << 4);
            match candidate.address {
                Address::Ip(IpAddr::V4(ip)) => bytes.extend_from_slice(&ip.octets()),
                Address::Ip(IpAddr::V6(ip)) => bytes.extend_from_slice(&ip.octets()),
                Address::Mdns(uuid) => bytes.extend_from_slice(&uuid),
            }
            bytes.extend_from_slice(&candidate.port.to_be_bytes());
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads an invite made by [`Invite::encode`]. Anything else gets an error that says what
    /// to do; no input panics or allocates more than [`MAX_ENCODED_LEN`] allows.
    pub fn decode(text: &str) -> Result<Self, InviteError> {
        let text = text.trim();
        if text.len() > MAX_ENCODED_LEN {
            return Err(InviteError::TooLong(text.len()));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| InviteError::NotBase64)?;
        let mut reader = Reader {
            bytes: &bytes,
            at: 0,
        };
        let version = reader.byte()?;
        if version != INVITE_VERSION {
            return Err(InviteError::Version(version));
        }
        let flags_at = reader.at;
        let flags = reader.byte()?;
        let kind = match flags & 1 {
            0 => Kind::Offer,
            _ => Kind::Answer,
        };
        let setup = match flags >> 1 {
            0 => Setup::ActPass,
            1 => Setup::Active,
            2 => Setup::Passive,
            _ => return Err(InviteError::Malformed(flags_at)),
        };
        let from_at = reader.at;
        let from = reader.text(MAX_PEER_ID_LEN)?;
        let from = PeerId::parse(from).map_err(|_| InviteError::Malformed(from_at))?;
        let ufrag_at = reader.at;
        let ufrag = reader.text(32)?;
        if !ice_chars(ufrag, 4, 32) {
            return Err(InviteError::Malformed(ufrag_at));
        }
        let pwd_at = reader.at;
        let pwd = reader.text(64)?;
        if !ice_chars(pwd, 22, 64) {
            return Err(InviteError::Malformed(pwd_at));
        }
        let in_reply_to = match kind {
            Kind::Offer => None,
            Kind::Answer => {
                let at = reader.at;
                match reader.text(32)? {
                    "" => None,
                    ufrag if ice_chars(ufrag, 4, 32) => Some(ufrag.to_owned()),
                    _ => return Err(InviteError::Malformed(at)),
                }
            }
        };
        let fingerprint: [u8; 32] = reader.array()?;
        let count_at = reader.at;
        let count = usize::from(reader.byte()?);
        if count > MAX_CANDIDATES {
            return Err(InviteError::Malformed(count_at));
        }
        let mut candidates = Vec::with_capacity(count);
        for _ in 0..count {
            let flags_at = reader.at;
            let flags = reader.byte()?;
            let kind = match flags & 0b11 {
                0 => CandidateType::Host,
                1 => CandidateType::ServerReflexive,
                2 => CandidateType::PeerReflexive,
                _ => CandidateType::Relay,
            };
            let transport = match (flags >> 2) & 0b11 {
                0 => Transport::Udp,
                1 => Transport::Tcp(TcpType::Passive),
                2 => Transport::Tcp(TcpType::Active),
                _ => Transport::Tcp(TcpType::SimultaneousOpen),
            };
            let address = match flags >> 4 {
                0 => Address::Ip(IpAddr::V4(Ipv4Addr::from(reader.array::<4>()?))),
                1 => Address::Ip(IpAddr::V6(Ipv6Addr::from(reader.array::<16>()?))),
                2 => Address::Mdns(reader.array()?),
                _ => return Err(InviteError::Malformed(flags_at)),
            };
            let port = u16::from_be_bytes(reader.array()?);
            candidates.push(Candidate {
                kind,
                transport,
                address,
                port,
            });
        }
        if reader.at != bytes.len() {
            return Err(InviteError::Malformed(reader.at));
        }
        Ok(Self {
            kind,
            from,
            ufrag: ufrag.to_owned(),
            pwd: pwd.to_owned(),
            fingerprint,
            setup,
            candidates,
            in_reply_to,
        })
    }
}

/// Bytes read in order, each failure naming where.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], InviteError> {
        let end = self.at.checked_add(len).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(InviteError::Malformed(self.bytes.len()))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, InviteError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], InviteError> {
        let at = self.at;
        self.take(N)?
            .try_into()
            .map_err(|_| InviteError::Malformed(at))
    }

    /// A length-prefixed UTF-8 string of at most `max` bytes.
    fn text(&mut self, max: usize) -> Result<&'a str, InviteError> {
        let at = self.at;
        let len = usize::from(self.byte()?);
        if len > max {
            return Err(InviteError::Malformed(at));
        }
        core::str::from_utf8(self.take(len)?).map_err(|_| InviteError::Malformed(at))
    }
}

/// Whether `text` is `min..=max` ICE characters (`A-Z a-z 0-9 + /`).
fn ice_chars(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let mut fingerprint = [0u8; 32];
    let mut parts = text.trim().split(':');
    for byte in &mut fingerprint {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(fingerprint)
}

/// Reads `candidate:FOUNDATION COMPONENT TRANSPORT PRIORITY ADDRESS PORT typ TYPE ...`; `None`
/// for what the format cannot carry (another component, an unknown type or address).
fn parse_candidate(line: &str) -> Option<Candidate> {
    let mut fields = line.strip_prefix("candidate:")?.split_ascii_whitespace();
    let _foundation = fields.next()?;
    if fields.next()? != "1" {
        return None;
    }
    let protocol = fields.next()?.to_ascii_lowercase();
    let _priority = fields.next()?;
    let address = fields.next()?;
    let port: u16 = fields.next()?.parse().ok()?;
    if fields.next()? != "typ" {
        return None;
    }
    let kind = match fields.next()? {
        "host" => CandidateType::Host,
        "srflx" => CandidateType::ServerReflexive,
        "prflx" => CandidateType::PeerReflexive,
        "relay" => CandidateType::Relay,
        _ => return None,
    };
    let rest: Vec<&str> = fields.collect();
    let tcp_type = rest.windows(2).find(|w| w[0] == "tcptype").map(|w| w[1]);
    let transport = match (protocol.as_str(), tcp_type) {
        ("udp", _) => Transport::Udp,
        ("tcp", Some("passive")) => Transport::Tcp(TcpType::Passive),
        ("tcp", Some("active")) => Transport::Tcp(TcpType::Active),
        ("tcp", Some("so")) => Transport::Tcp(TcpType::SimultaneousOpen),
        _ => return None,
    };
    let address = match address.parse::<IpAddr>() {
        Ok(ip) => Address::Ip(ip),
        Err(_) => Address::Mdns(parse_mdns(address)?),
    };
    Some(Candidate {
        kind,
        transport,
        address,
        port,
    })
}

/// The UUID of an mDNS candidate name `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.local`.
fn parse_mdns(name: &str) -> Option<[u8; 16]> {
    let uuid = name.strip_suffix(".local")?;
    let hex: String = uuid.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || uuid.len() != 36 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(bytes)
}

/// A `candidate:` line for `candidate`, the `index`th of its description.
fn candidate_line(index: usize, candidate: &Candidate) -> String {
    let (type_name, type_preference) = match candidate.kind {
        CandidateType::Host => ("host", 126u32),
        CandidateType::PeerReflexive => ("prflx", 110),
        CandidateType::ServerReflexive => ("srflx", 100),
        CandidateType::Relay => ("relay", 0),
    };
    // RFC 8445 5.1.2.1, with the order in the description as the local preference.
    let local_preference = 65_535 - u32::try_from(index).unwrap_or(0);
    let priority = (type_preference << 24) | (local_preference << 8) | 255;
    let address = match candidate.address {
        Address::Ip(ip) => ip.to_string(),
        Address::Mdns(b) => format!(
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}.local",
            b[0],
            b[1],
            b[2],
            b[3],
            b[4],
            b[5],
            b[6],
            b[7],
            b[8],
            b[9],
            b[10],
            b[11],
            b[12],
            b[13],
            b[14],
            b[15]
        ),
    };
    let (protocol, tcp_type) = match candidate.transport {
        Transport::Udp => ("udp", ""),
        Transport::Tcp(TcpType::Passive) => ("tcp", " tcptype passive"),
        Transport::Tcp(TcpType::Active) => ("tcp", " tcptype active"),
        Transport::Tcp(TcpType::SimultaneousOpen) => ("tcp", " tcptype so"),
    };
    let related = if candidate.kind == CandidateType::Host {
        ""
    } else {
        " raddr 0.0.0.0 rport 0"
    };
    format!(
        "candidate:{} 1 {protocol} {priority} {address} {} typ {type_name}{related}{tcp_type}",
        index + 1,
        candidate.port
    )
}

#[cfg(test)]
mod tests;
