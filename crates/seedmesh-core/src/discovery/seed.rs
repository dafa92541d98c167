//! The seed-record grammar: TXT records at `_seedmesh.<domain>` turned into a typed
//! [`SeedConfig`] plus a list of per-entry [`Problem`]s. docs/seed-records.md is the spec.
//!
//! One TXT record is one entry; its character-strings are joined with nothing between them. An
//! entry is `key=value` tags separated by `;`, starting with `v=sm1`. Which kind of entry it is
//! follows from the one *kind key* it holds: `signal`, `ice`, `rendezvous`, `mesh`, `peer` or
//! `sig`.
//! A bad entry is reported and skipped; it never hides the good ones.

use core::fmt;

use serde::{Deserialize, Serialize};

use super::dns::TxtRecord;
use crate::PeerId;

/// The version tag every entry starts with.
pub const VERSION: &str = "sm1";
/// The most entries read from one RRset; the rest are reported and skipped.
pub const MAX_ENTRIES: usize = 64;
/// The longest entry, in bytes, after its strings are joined.
pub const MAX_ENTRY_BYTES: usize = 2048;
/// The most tags in one entry.
pub const MAX_TAGS: usize = 16;
/// The most signaling endpoints kept.
pub const MAX_SIGNALING: usize = 8;
/// The most ICE servers kept.
pub const MAX_ICE_SERVERS: usize = 8;
/// The most bootstrap peers kept.
pub const MAX_PEERS: usize = 32;
/// The most rendezvous slots a namespace may have.
pub const MAX_SLOTS: u16 = 64;
/// Slots used when a rendezvous entry has no `slots` tag.
pub const DEFAULT_SLOTS: u16 = 4;
/// The most links a `mesh` entry may ask a page to keep.
pub const MAX_LINKS: u8 = 64;
/// The PeerServer key used when a signaling entry has no `key` tag (PeerJS's default).
pub const DEFAULT_KEY: &str = "peerjs";
/// The priority of a signaling entry without a `prio` tag; lower is tried first.
pub const DEFAULT_PRIORITY: u16 = 10;

/// A PeerServer to register on, in the terms PeerJS's `Peer` options use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignalingEndpoint {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path the server is mounted at; always starts and ends with `/`.
    pub path: String,
    /// `wss`/`https` rather than `ws`/`http`.
    pub secure: bool,
    /// The PeerServer key (`peerjs` by default).
    pub key: String,
    /// Lower is tried first.
    pub priority: u16,
}

impl SignalingEndpoint {
    /// The WebSocket URL prefix PeerJS builds: `ws(s)://HOST:PORT{PATH}peerjs`; a client appends
    /// `?key=&id=&token=`.
    #[must_use]
    pub fn socket_url(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!(
            "{scheme}://{}:{}{}peerjs",
            self.url_host(),
            self.port,
            self.path
        )
    }

    /// The HTTP base, `http(s)://HOST:PORT{PATH}`, for `GET {PATH}{KEY}/id` and readiness probes.
    #[must_use]
    pub fn http_url(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}:{}{}", self.url_host(), self.port, self.path)
    }

    fn url_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// A STUN or TURN server, as an `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:`, `stuns:`, `turn:` or `turns:` URLs of the same server.
    pub urls: Vec<String>,
    /// The TURN username.
    pub username: Option<String>,
    /// The TURN credential.
    pub credential: Option<String>,
}

/// Where newcomers meet on a PeerServer: they try to claim `<namespace>-0` .. `<namespace>-(slots-1)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rendezvous {
    /// The namespace; `<namespace>-<slot>` is always a valid peer ID.
    pub namespace: String,
    /// How many slot IDs there are.
    pub slots: u16,
}

impl Rendezvous {
    /// The peer ID of slot `slot`.
    #[must_use]
    pub fn slot_id(&self, slot: u16) -> String {
        format!("{}-{slot}", self.namespace)
    }
}

/// How many links each page keeps (`mesh=LOW,TARGET,HIGH`): below `low` it dials up to
/// `target`; above `high` it lets links go down to `target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MeshBounds {
    /// Below this many links, a page dials.
    pub low: u8,
    /// How many it dials or lets go towards.
    pub target: u8,
    /// Above this many, it lets some go.
    pub high: u8,
}

/// Where the network is, as a domain's seed records describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedConfig {
    /// PeerServers to register on, best first.
    pub signaling: Vec<SignalingEndpoint>,
    /// STUN and TURN servers for every connection.
    pub ice_servers: Vec<IceServer>,
    /// The rendezvous namespace, if the records name one.
    pub rendezvous: Option<Rendezvous>,
    /// Peers to dial directly.
    pub bootstrap_peers: Vec<String>,
    /// How many links each page keeps, if the records say.
    #[serde(default)]
    pub mesh: Option<MeshBounds>,
}

impl SeedConfig {
    /// True when the records gave nothing to connect with.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.signaling.is_empty()
            && self.ice_servers.is_empty()
            && self.rendezvous.is_none()
            && self.bootstrap_peers.is_empty()
    }
}

/// What is wrong with one entry (or one of its tags).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The entry is not UTF-8 text; it is skipped.
    NotUtf8,
    /// The entry is longer than [`MAX_ENTRY_BYTES`]; it is skipped.
    TooLong(usize),
    /// The RRset has more than [`MAX_ENTRIES`] entries; the extra ones are skipped.
    TooManyEntries,
    /// A part between `;` has no `=`; the entry is skipped.
    NotATag(String),
    /// A key is empty or has characters other than `a-z`, `0-9` and `-`; the entry is skipped.
    BadKey(String),
    /// The entry has more than [`MAX_TAGS`] tags; it is skipped.
    TooManyTags,
    /// A key appears twice in the entry; the entry is skipped.
    DuplicateKey(String),
    /// A value holds what looks like another tag (`v=sm1 peer=a`): a `;` is missing; the entry is
    /// skipped.
    MissingSemicolon(String),
    /// The entry does not start with `v=sm1`: another TXT record at the name; it is skipped.
    NoVersion,
    /// The entry is for another version of the format; it is skipped.
    UnsupportedVersion(String),
    /// The entry has no kind key this version knows (a newer kind of entry); it is skipped.
    UnknownKind,
    /// The entry has more than one kind key (e.g. `signal` and `ice`); it is skipped.
    SeveralKinds(String, String),
    /// A key this kind of entry does not know; the tag is ignored, the entry kept.
    UnknownKey(String),
    /// A tag's value is not valid; the entry is skipped.
    BadValue {
        /// The key.
        key: String,
        /// Why the value is not valid.
        why: String,
    },
    /// A tag the entry needs is missing; the entry is skipped.
    MissingKey(String),
    /// A signaling protocol this version does not speak (only `peerjs`); the entry is skipped.
    UnknownProtocol(String),
    /// More entries of a kind than the limit; the extra ones are skipped.
    OverLimit(String),
    /// A second rendezvous entry; only the one sorting first is used.
    ExtraRendezvous,
    /// A second mesh entry; only the one sorting first is used.
    ExtraMesh,
    /// The same endpoint, server or peer twice; the copy is skipped.
    Duplicate,
}

impl ProblemKind {
    /// True when the problem only drops a tag and the rest of the entry is used.
    #[must_use]
    pub fn keeps_entry(&self) -> bool {
        matches!(self, Self::UnknownKey(_))
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 => f.write_str("the entry is not UTF-8 text"),
            Self::TooLong(len) => write!(f, "the entry is {len} bytes, over {MAX_ENTRY_BYTES}"),
            Self::TooManyEntries => write!(f, "more than {MAX_ENTRIES} entries; this one is skipped"),
            Self::NotATag(part) => write!(f, "{part:?} is not a key=value tag"),
            Self::BadKey(key) => write!(f, "{key:?} is not a key (use a-z, 0-9 and '-')"),
            Self::TooManyTags => write!(f, "more than {MAX_TAGS} tags"),
            Self::DuplicateKey(key) => write!(f, "the key {key:?} appears twice"),
            Self::MissingSemicolon(part) => {
                write!(f, "{part:?} looks like two tags: a ';' is missing")
            }
            Self::NoVersion => write!(f, "not a seed entry: it must start with v={VERSION}"),
            Self::UnsupportedVersion(v) => {
                write!(f, "version {v:?} is not supported (this build reads {VERSION})")
            }
            Self::UnknownKind => f.write_str(
                "no signal, ice, rendezvous, mesh, peer or sig tag: a kind of entry this build does not know",
            ),
            Self::SeveralKinds(a, b) => {
                write!(f, "both {a:?} and {b:?}: an entry describes one thing; split it")
            }
            Self::UnknownKey(key) => write!(f, "unknown key {key:?} ignored"),
            Self::BadValue { key, why } => write!(f, "bad {key}: {why}"),
            Self::MissingKey(key) => write!(f, "the {key:?} tag is missing"),
            Self::UnknownProtocol(p) => {
                write!(f, "signaling protocol {p:?} is not supported (only peerjs)")
            }
            Self::OverLimit(what) => write!(f, "too many {what}; this one is skipped"),
            Self::ExtraRendezvous => {
                f.write_str("a second rendezvous entry; only the one sorting first is used")
            }
            Self::ExtraMesh => f.write_str("a second mesh entry; only the one sorting first is used"),
            Self::Duplicate => f.write_str("a duplicate of another entry"),
        }
    }
}

/// A problem found in one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The entry's text (lossy UTF-8, cut to 120 characters), to say which one.
    pub entry: String,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.entry, self.kind)
    }
}

/// The entry text shown in problems.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(120).collect();
    if text.chars().count() > 120 {
        out.push('…');
    }
    out
}

/// An entry split into tags: keys lowercase, keys and values trimmed, in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tags(pub Vec<(String, String)>);

impl Tags {
    /// Splits an entry's text into tags.
    ///
    /// # Errors
    /// The [`ProblemKind`] that makes the entry unreadable.
    pub fn parse(text: &str) -> Result<Self, ProblemKind> {
        let mut tags: Vec<(String, String)> = Vec::new();
        for part in text.split(';') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((key, value)) = part.split_once('=') else {
                return Err(ProblemKind::NotATag(part.chars().take(40).collect()));
            };
            let key = key.trim().to_ascii_lowercase();
            if key.is_empty()
                || !key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(ProblemKind::BadKey(key.chars().take(40).collect()));
            }
            if tags.iter().any(|(k, _)| *k == key) {
                return Err(ProblemKind::DuplicateKey(key));
            }
            // `v=sm1 peer=a`: a later word of the value is itself `key=...`.
            let holds_tag = value.split_whitespace().skip(1).any(|word| {
                word.split_once('=').is_some_and(|(k, _)| {
                    !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
            });
            if holds_tag {
                return Err(ProblemKind::MissingSemicolon(
                    part.chars().take(40).collect(),
                ));
            }
            if tags.len() == MAX_TAGS {
                return Err(ProblemKind::TooManyTags);
            }
            tags.push((key, value.trim().to_string()));
        }
        Ok(Self(tags))
    }

    /// The value of `key`, if present.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The canonical text: `key=value` joined by `"; "`, in the order written.
    #[must_use]
    pub fn canonical(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The kind keys, in the order an entry's kind is looked for.
const KINDS: [&str; 6] = ["signal", "ice", "rendezvous", "mesh", "peer", "sig"];

/// One entry, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A `signal=` entry.
    Signal(SignalingEndpoint),
    /// An `ice=` entry.
    Ice(IceServer),
    /// A `rendezvous=` entry.
    Rendezvous(Rendezvous),
    /// A `mesh=` entry.
    Mesh(MeshBounds),
    /// A `peer=` entry: one or more peer IDs.
    Peers(Vec<String>),
    /// A `sig=` entry: the signature bytes, checked by [`super::signature`].
    Signature(Vec<u8>),
}

/// An entry that could be read, with the tag-level problems it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadEntry {
    /// The entry.
    pub entry: Entry,
    /// Its canonical text (what signatures cover).
    pub canonical: String,
    /// Ignored tags.
    pub notes: Vec<ProblemKind>,
}

fn bad(key: &str, why: impl Into<String>) -> ProblemKind {
    ProblemKind::BadValue {
        key: key.to_string(),
        why: why.into(),
    }
}

/// Reads one entry's joined bytes.
///
/// # Errors
/// The [`ProblemKind`] that makes the entry unusable.
pub fn read_entry(bytes: &[u8]) -> Result<ReadEntry, ProblemKind> {
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(ProblemKind::TooLong(bytes.len()));
    }
    let text = core::str::from_utf8(bytes).map_err(|_| ProblemKind::NotUtf8)?;
    let tags = Tags::parse(text)?;
    match tags.0.first() {
        Some((k, v)) if k == "v" && v == VERSION => {}
        Some((k, v)) if k == "v" => return Err(ProblemKind::UnsupportedVersion(v.clone())),
        _ => return Err(ProblemKind::NoVersion),
    }
    let present: Vec<&str> = KINDS
        .iter()
        .copied()
        .filter(|k| tags.get(k).is_some())
        .collect();
    let kind = match present.as_slice() {
        [] => return Err(ProblemKind::UnknownKind),
        [one] => *one,
        [a, b, ..] => return Err(ProblemKind::SeveralKinds((*a).into(), (*b).into())),
    };
    let allowed: &[&str] = match kind {
        "signal" => &["url", "host", "port", "path", "secure", "key", "prio"],
        "ice" => &["username", "credential"],
        "rendezvous" => &["slots"],
        _ => &[],
    };
    let notes = tags
        .0
        .iter()
        .filter(|(k, _)| k != "v" && k != kind && !allowed.contains(&k.as_str()))
        .map(|(k, _)| ProblemKind::UnknownKey(k.clone()))
        .collect();
    let entry = match kind {
        "signal" => Entry::Signal(read_signal(&tags)?),
        "ice" => Entry::Ice(read_ice(&tags)?),
        "rendezvous" => Entry::Rendezvous(read_rendezvous(&tags)?),
        "mesh" => Entry::Mesh(read_mesh(tags.get("mesh").unwrap_or_default())?),
        "peer" => Entry::Peers(read_peers(tags.get("peer").unwrap_or_default())?),
        _ => Entry::Signature(super::signature::read_signature_value(
            tags.get("sig").unwrap_or_default(),
        )?),
    };
    Ok(ReadEntry {
        entry,
        canonical: tags.canonical(),
        notes,
    })
}

/// A host: a DNS name, an IPv4 address, or an IPv6 address (brackets removed).
fn check_host(host: &str) -> Result<String, ProblemKind> {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ok = !host.is_empty()
        && host.len() <= 253
        && (host
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            && host.contains(':')
            || host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }));
    if ok {
        Ok(host.to_ascii_lowercase())
    } else {
        Err(bad(
            "host",
            format!("{host:?} is not a host name or IP address"),
        ))
    }
}

fn check_path(path: &str) -> Result<String, ProblemKind> {
    if path
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'?' || b == b'#')
    {
        return Err(bad("path", "no spaces, '?' or '#' in a path"));
    }
    let mut path = path.to_string();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if !path.ends_with('/') {
        path.push('/');
    }
    Ok(path)
}

fn read_port(value: &str) -> Result<u16, ProblemKind> {
    value
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| bad("port", format!("{value:?} is not a port (1-65535)")))
}

fn read_signal(tags: &Tags) -> Result<SignalingEndpoint, ProblemKind> {
    let protocol = tags.get("signal").unwrap_or_default();
    if !protocol.eq_ignore_ascii_case("peerjs") {
        return Err(ProblemKind::UnknownProtocol(
            protocol.chars().take(40).collect(),
        ));
    }
    let key = tags.get("key").unwrap_or(DEFAULT_KEY).to_string();
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'&' && b != b'#')
    {
        return Err(bad(
            "key",
            "a PeerServer key is printable ASCII without '&' or '#'",
        ));
    }
    let priority = match tags.get("prio") {
        None => DEFAULT_PRIORITY,
        Some(p) => p
            .parse()
            .map_err(|_| bad("prio", format!("{p:?} is not a number 0-65535")))?,
    };
    if let Some(url) = tags.get("url") {
        if let Some(other) = ["host", "port", "path", "secure"]
            .into_iter()
            .find(|k| tags.get(k).is_some())
        {
            return Err(bad(
                other,
                "give either url or host/port/path/secure, not both",
            ));
        }
        let (secure, rest) = if let Some(rest) = url.strip_prefix("wss://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("ws://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad(
                "url",
                "must start with wss://, ws://, https:// or http://",
            ));
        };
        let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("url", "an unclosed '[' in the host"))?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(bad("url", "text after the IPv6 address")),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.contains('@') {
            return Err(bad("url", "no user name in the URL"));
        }
        let port = match port {
            Some(p) => read_port(p).map_err(|_| bad("url", format!("{p:?} is not a port")))?,
            None if secure => 443,
            None => 80,
        };
        Ok(SignalingEndpoint {
            host: check_host(host)?,
            port,
            path: check_path(path)?,
            secure,
            key,
            priority,
        })
    } else {
        let host = tags
            .get("host")
            .ok_or(ProblemKind::MissingKey("url".into()))?;
        let secure = match tags.get("secure").map(str::to_ascii_lowercase).as_deref() {
            None | Some("1" | "true" | "yes") => true,
            Some("0" | "false" | "no") => false,
            Some(other) => return Err(bad("secure", format!("{other:?} is not 1 or 0"))),
        };
        let port = match tags.get("port") {
            Some(p) => read_port(p)?,
            None if secure => 443,
            None => 80,
        };
        Ok(SignalingEndpoint {
            host: check_host(host)?,
            port,
            path: check_path(tags.get("path").unwrap_or("/"))?,
            secure,
            key,
            priority,
        })
    }
}

fn read_ice(tags: &Tags) -> Result<IceServer, ProblemKind> {
    let mut urls = Vec::new();
    let mut turn = false;
    for url in tags.get("ice").unwrap_or_default().split(',') {
        let url = url.trim();
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("stun" | "stuns") => {}
            Some("turn" | "turns") => turn = true,
            _ => {
                return Err(bad(
                    "ice",
                    format!("{url:?} is not a stun:, stuns:, turn: or turns: URL"),
                ));
            }
        }
        if url.len() < 7
            || url
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(bad("ice", format!("{url:?} has no host or has spaces")));
        }
        urls.push(url.to_string());
    }
    let username = tags.get("username").map(str::to_string);
    let credential = tags.get("credential").map(str::to_string);
    if turn && (username.is_none() || credential.is_none()) {
        return Err(ProblemKind::MissingKey(
            if username.is_none() {
                "username"
            } else {
                "credential"
            }
            .into(),
        ));
    }
    Ok(IceServer {
        urls,
        username,
        credential,
    })
}

fn read_mesh(value: &str) -> Result<MeshBounds, ProblemKind> {
    let why = || {
        bad(
            "mesh",
            format!("{value:?} is not LOW,TARGET,HIGH with 1 ≤ LOW ≤ TARGET ≤ HIGH ≤ {MAX_LINKS}"),
        )
    };
    let numbers: Vec<u8> = value
        .split(',')
        .map(|n| n.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .map_err(|_| why())?;
    let [low, target, high] = numbers[..] else {
        return Err(why());
    };
    if low == 0 || low > target || target > high || high > MAX_LINKS {
        return Err(why());
    }
    Ok(MeshBounds { low, target, high })
}

fn read_rendezvous(tags: &Tags) -> Result<Rendezvous, ProblemKind> {
    let namespace = tags.get("rendezvous").unwrap_or_default().to_string();
    let slots = match tags.get("slots") {
        None => DEFAULT_SLOTS,
        Some(s) => s
            .parse::<u16>()
            .ok()
            .filter(|n| (1..=MAX_SLOTS).contains(n))
            .ok_or_else(|| bad("slots", format!("{s:?} is not a number 1-{MAX_SLOTS}")))?,
    };
    if namespace.len() > 48 || PeerId::parse(&format!("{namespace}-{}", slots - 1)).is_err() {
        return Err(bad(
            "rendezvous",
            format!(
                "{namespace:?} must be 1-48 letters and digits, with single '-', '_' or ' ' between them"
            ),
        ));
    }
    Ok(Rendezvous { namespace, slots })
}

fn read_peers(value: &str) -> Result<Vec<String>, ProblemKind> {
    let mut peers = Vec::new();
    for id in value.split(',') {
        let id = id.trim();
        PeerId::parse(id).map_err(|e| bad("peer", format!("{id:?}: {e}")))?;
        if !peers.iter().any(|p| p == id) {
            peers.push(id.to_string());
        }
    }
    Ok(peers)
}

/// Every entry of an RRset read, in a stable order (sorted by canonical text, since resolvers
/// shuffle RRsets), with the problems of those that could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSet {
    /// The readable entries, sorted by canonical text.
    pub entries: Vec<ReadEntry>,
    /// Problems, in the order of the sorted entries.
    pub problems: Vec<Problem>,
    /// The canonical text of every entry that is not a signature, sorted; what a signature covers.
    pub signed_text: Vec<Vec<u8>>,
}

/// Reads every record of an RRset.
#[must_use]
pub fn read_records(records: &[TxtRecord]) -> ReadSet {
    let mut joined: Vec<Vec<u8>> = records.iter().map(TxtRecord::joined).collect();
    joined.sort_unstable();
    joined.dedup();
    let mut set = ReadSet::default();
    for (index, bytes) in joined.iter().enumerate() {
        if index >= MAX_ENTRIES {
            set.problems.push(Problem {
                entry: excerpt(bytes),
                kind: ProblemKind::TooManyEntries,
            });
            continue;
        }
        match read_entry(bytes) {
            Ok(entry) => {
                for note in &entry.notes {
                    set.problems.push(Problem {
                        entry: excerpt(bytes),
                        kind: note.clone(),
                    });
                }
                if !matches!(entry.entry, Entry::Signature(_)) {
                    set.signed_text.push(entry.canonical.clone().into_bytes());
                }
                set.entries.push(entry);
            }
            Err(kind) => {
                // An entry the reader cannot use counts in the signed form as its raw bytes,
                // untrimmed: an entry a resolver made unreadable (padded past the length
                // limit, say) then no longer matches the line its signer saw, and the set
                // fails to verify rather than verifying without it.
                let is_sig = core::str::from_utf8(bytes)
                    .ok()
                    .and_then(|t| Tags::parse(t).ok())
                    .is_some_and(|t| t.get("sig").is_some());
                if !is_sig {
                    set.signed_text.push(bytes.clone());
                }
                set.problems.push(Problem {
                    entry: excerpt(bytes),
                    kind,
                });
            }
        }
    }
    // Unstable sorts (smaller code): equal canonical texts are equal entries.
    set.entries
        .sort_unstable_by(|a, b| a.canonical.cmp(&b.canonical));
    set.signed_text.sort_unstable();
    set.signed_text.dedup();
    set
}

/// Builds the configuration from the entries of a read set, adding problems for limits and
/// duplicates.
#[must_use]
pub fn build_config(set: &ReadSet) -> (SeedConfig, Vec<Problem>) {
    let mut config = SeedConfig::default();
    let mut problems = Vec::new();
    let mut note = |entry: &ReadEntry, kind: ProblemKind| {
        problems.push(Problem {
            entry: excerpt(entry.canonical.as_bytes()),
            kind,
        });
    };
    for read in &set.entries {
        match &read.entry {
            Entry::Signal(endpoint) => {
                if config.signaling.iter().any(|e| {
                    e.host == endpoint.host
                        && e.port == endpoint.port
                        && e.path == endpoint.path
                        && e.key == endpoint.key
                }) {
                    note(read, ProblemKind::Duplicate);
                } else if config.signaling.len() == MAX_SIGNALING {
                    note(read, ProblemKind::OverLimit("signaling endpoints".into()));
                } else {
                    config.signaling.push(endpoint.clone());
                }
            }
            Entry::Ice(server) => {
                if config.ice_servers.contains(server) {
                    note(read, ProblemKind::Duplicate);
                } else if config.ice_servers.len() == MAX_ICE_SERVERS {
                    note(read, ProblemKind::OverLimit("ICE servers".into()));
                } else {
                    config.ice_servers.push(server.clone());
                }
            }
            Entry::Rendezvous(rendezvous) => {
                if config.rendezvous.is_some() {
                    note(read, ProblemKind::ExtraRendezvous);
                } else {
                    config.rendezvous = Some(rendezvous.clone());
                }
            }
            Entry::Mesh(bounds) => {
                if config.mesh.is_some() {
                    note(read, ProblemKind::ExtraMesh);
                } else {
                    config.mesh = Some(*bounds);
                }
            }
            Entry::Peers(peers) => {
                for peer in peers {
                    if config.bootstrap_peers.contains(peer) {
                        continue;
                    }
                    if config.bootstrap_peers.len() == MAX_PEERS {
                        note(read, ProblemKind::OverLimit("bootstrap peers".into()));
                        break;
                    }
                    config.bootstrap_peers.push(peer.clone());
                }
            }
            Entry::Signature(_) => {}
        }
    }
    // A stable insertion sort of at most MAX_SIGNALING items: equal priorities keep the
    // canonical-text order.
    let signaling = &mut config.signaling;
    for i in 1..signaling.len() {
        let mut j = i;
        while j > 0 && signaling[j - 1].priority > signaling[j].priority {
            signaling.swap(j - 1, j);
            j -= 1;
        }
    }
    (config, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(text: &str) -> Result<Entry, ProblemKind> {
        read_entry(text.as_bytes()).map(|r| r.entry)
    }

    #[test]
    fn signaling_from_a_url_or_from_parts() {
        let Entry::Signal(e) =
            one("v=sm1; signal=peerjs; url=wss://0.peerjs.com/peerjs; key=pk").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (
                e.host.as_str(),
                e.port,
                e.path.as_str(),
                e.secure,
                e.key.as_str()
            ),
            ("0.peerjs.com", 443, "/peerjs/", true, "pk")
        );
        assert_eq!(e.socket_url(), "wss://0.peerjs.com:443/peerjs/peerjs");
        let Entry::Signal(e) =
            one("v=sm1;signal=peerjs;host=127.0.0.1;port=9000;path=seedmesh;secure=0").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (e.port, e.path.as_str(), e.secure, e.key.as_str()),
            (9000, "/seedmesh/", false, "peerjs")
        );
        assert_eq!(e.http_url(), "http://127.0.0.1:9000/seedmesh/");
        let Entry::Signal(e) = one("v=sm1; signal=peerjs; url=ws://[::1]:9/; prio=3").unwrap()
        else {
            panic!()
        };
        assert_eq!((e.host.as_str(), e.priority), ("::1", 3));
        assert_eq!(e.socket_url(), "ws://[::1]:9/peerjs");
        assert!(matches!(
            one("v=sm1; signal=peerjs; url=ftp://x"),
            Err(ProblemKind::BadValue { .. })
        ));
        assert!(matches!(
            one("v=sm1; signal=peerjs; url=ws://x:0"),
            Err(ProblemKind::BadValue { .. })
        ));
        assert!(matches!(
            one("v=sm1; signal=peerjs; url=ws://x; host=y"),
            Err(ProblemKind::BadValue { .. })
        ));
        assert_eq!(
            one("v=sm1; signal=peerjs"),
            Err(ProblemKind::MissingKey("url".into()))
        );
        assert_eq!(
            one("v=sm1; signal=matrix; url=ws://x"),
            Err(ProblemKind::UnknownProtocol("matrix".into()))
        );
    }

    #[test]
    fn ice_servers_need_turn_credentials() {
        assert_eq!(
            one("v=sm1; ice=stun:stun.example.org:3478").unwrap(),
            Entry::Ice(IceServer {
                urls: vec!["stun:stun.example.org:3478".into()],
                username: None,
                credential: None
            })
        );
        let Entry::Ice(s) = one("v=sm1; ice=turn:t.example:3478?transport=udp, turns:t.example:443; username=u; credential=c").unwrap() else {
            panic!()
        };
        assert_eq!(s.urls.len(), 2);
        assert_eq!(s.credential.as_deref(), Some("c"));
        assert_eq!(
            one("v=sm1; ice=turn:t.example; username=u"),
            Err(ProblemKind::MissingKey("credential".into()))
        );
        assert!(matches!(
            one("v=sm1; ice=http://x"),
            Err(ProblemKind::BadValue { .. })
        ));
    }

    #[test]
    fn mesh_bounds() {
        assert_eq!(
            one("v=sm1; mesh=2, 3 ,5").unwrap(),
            Entry::Mesh(MeshBounds {
                low: 2,
                target: 3,
                high: 5
            })
        );
        for bad in ["0,1,2", "3,2,5", "1,2", "1,2,3,4", "1,2,65", "a,b,c", ""] {
            assert!(
                matches!(
                    one(&format!("v=sm1; mesh={bad}")),
                    Err(ProblemKind::BadValue { .. })
                ),
                "{bad:?}"
            );
        }
        let records = [
            TxtRecord::from_strs(&["v=sm1; mesh=4,6,12"]),
            TxtRecord::from_strs(&["v=sm1; mesh=1,1,2"]),
        ];
        let set = read_records(&records);
        let (config, problems) = build_config(&set);
        assert_eq!(
            config.mesh,
            Some(MeshBounds {
                low: 1,
                target: 1,
                high: 2
            })
        );
        assert!(problems.iter().any(|p| p.kind == ProblemKind::ExtraMesh));
    }

    #[test]
    fn rendezvous_and_peers() {
        assert_eq!(
            one("v=sm1; rendezvous=example-org; slots=8").unwrap(),
            Entry::Rendezvous(Rendezvous {
                namespace: "example-org".into(),
                slots: 8
            })
        );
        assert_eq!(
            one("v=sm1; rendezvous=x").unwrap(),
            Entry::Rendezvous(Rendezvous {
                namespace: "x".into(),
                slots: DEFAULT_SLOTS
            })
        );
        assert!(matches!(
            one("v=sm1; rendezvous=x; slots=0"),
            Err(ProblemKind::BadValue { .. })
        ));
        assert!(matches!(
            one("v=sm1; rendezvous=x; slots=65"),
            Err(ProblemKind::BadValue { .. })
        ));
        assert!(matches!(
            one("v=sm1; rendezvous=-x"),
            Err(ProblemKind::BadValue { .. })
        ));
        assert_eq!(
            one("v=sm1; peer=a, b,a").unwrap(),
            Entry::Peers(vec!["a".into(), "b".into()])
        );
        assert!(matches!(
            one("v=sm1; peer=a!"),
            Err(ProblemKind::BadValue { .. })
        ));
    }

    #[test]
    fn entry_level_problems() {
        assert_eq!(one("peer=a"), Err(ProblemKind::NoVersion));
        assert_eq!(
            one("spf1 -all"),
            Err(ProblemKind::NotATag("spf1 -all".into()))
        );
        assert_eq!(
            one("v=sm2; peer=a"),
            Err(ProblemKind::UnsupportedVersion("sm2".into()))
        );
        assert_eq!(one("v=sm1; relay=x"), Err(ProblemKind::UnknownKind));
        assert_eq!(
            one("v=sm1; peer=a; ice=stun:x.y"),
            Err(ProblemKind::SeveralKinds("ice".into(), "peer".into()))
        );
        assert_eq!(
            one("v=sm1; peer=a; peer=b"),
            Err(ProblemKind::DuplicateKey("peer".into()))
        );
        assert_eq!(
            one("v=sm1; Pe_er=a"),
            Err(ProblemKind::BadKey("pe_er".into()))
        );
        assert_eq!(
            one("v=sm1 peer=a"),
            Err(ProblemKind::MissingSemicolon("v=sm1 peer=a".into()))
        );
        // An '=' inside a value is fine: URLs have query strings.
        assert!(one("v=sm1; ice=turn:t.example?transport=udp; username=a=b; credential=c").is_ok());
        assert_eq!(read_entry(b"v=sm1; peer=\xff"), Err(ProblemKind::NotUtf8));
        assert_eq!(read_entry(&[b'a'; 3000]), Err(ProblemKind::TooLong(3000)));
        let read = read_entry(b"v=sm1; peer=a; colour=blue;").unwrap();
        assert_eq!(read.notes, vec![ProblemKind::UnknownKey("colour".into())]);
        assert_eq!(read.canonical, "v=sm1; peer=a; colour=blue");
    }

    #[test]
    fn one_bad_record_never_hides_the_good_ones() {
        let records = [
            TxtRecord::from_strs(&["v=sm1; signal=peerjs; url=ws://b.test:1/x; prio=20"]),
            TxtRecord::from_strs(&["v=sm1; signal=peerjs; ", "url=ws://a.test:1/x"]),
            TxtRecord::from_strs(&["v=sm1; signal=peerjs; url=nonsense"]),
            TxtRecord::from_strs(&["v=sm1; rendezvous=zz; slots=2"]),
            TxtRecord::from_strs(&["v=sm1; rendezvous=aa; slots=3"]),
            TxtRecord::from_strs(&["v=sm1; peer=p1,p2"]),
            TxtRecord::from_strs(&["v=sm1; peer=p2; future=1"]),
            TxtRecord::from_strs(&["google-site-verification=abc"]),
        ];
        let set = read_records(&records);
        let (config, problems) = build_config(&set);
        assert_eq!(
            config
                .signaling
                .iter()
                .map(|e| e.host.as_str())
                .collect::<Vec<_>>(),
            ["a.test", "b.test"]
        );
        assert_eq!(
            config.rendezvous,
            Some(Rendezvous {
                namespace: "aa".into(),
                slots: 3
            })
        );
        assert_eq!(config.bootstrap_peers, ["p1", "p2"]);
        let kinds: Vec<_> = set
            .problems
            .iter()
            .chain(&problems)
            .map(|p| p.kind.clone())
            .collect();
        assert_eq!(kinds.len(), 4, "{kinds:?}");
        assert!(kinds.contains(&ProblemKind::NoVersion));
        assert!(kinds.contains(&ProblemKind::UnknownKey("future".into())));
        assert!(kinds.contains(&ProblemKind::ExtraRendezvous));
    }

    #[test]
    fn order_of_records_does_not_matter() {
        let mut records: Vec<_> = (0..10)
            .map(|i| TxtRecord::from_text(&format!("v=sm1; signal=peerjs; url=ws://h{i}.test/")))
            .collect();
        let first = build_config(&read_records(&records));
        records.reverse();
        assert_eq!(build_config(&read_records(&records)), first);
        assert_eq!(first.0.signaling.len(), MAX_SIGNALING);
        assert_eq!(first.1.len(), 2);
    }

    proptest! {
        #[test]
        fn arbitrary_entries_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = read_entry(&bytes);
            let _ = build_config(&read_records(&[TxtRecord { strings: vec![bytes] }]));
        }

        #[test]
        fn arbitrary_text_entries_never_panic(text in "v=sm1;( ?[a-z]{1,10}=[ -~]{0,30};){0,6}") {
            let _ = read_entry(text.as_bytes());
        }

        #[test]
        fn good_entries_survive_junk(junk in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..10)) {
            let mut records: Vec<TxtRecord> = junk.into_iter().map(|j| TxtRecord { strings: vec![j] }).collect();
            records.push(TxtRecord::from_strs(&["v=sm1; peer=good-peer-1"]));
            let (config, _) = build_config(&read_records(&records));
            prop_assert!(config.bootstrap_peers.contains(&"good-peer-1".to_string()));
        }

        #[test]
        fn splitting_into_strings_does_not_change_the_meaning(ns in "[a-z]{1,20}", slots in 1u16..=64, cut in 0usize..40) {
            let text = format!("v=sm1; rendezvous={ns}; slots={slots}");
            let cut = cut.min(text.len());
            let (a, b) = text.split_at(cut);
            let split = build_config(&read_records(&[TxtRecord::from_strs(&[a, b])]));
            let whole = build_config(&read_records(&[TxtRecord::from_text(&text)]));
            prop_assert_eq!(&split, &whole);
            prop_assert_eq!(split.0.rendezvous, Some(Rendezvous { namespace: ns, slots }));
        }

        #[test]
        fn canonical_text_reads_back_the_same(host in "[a-z]{1,10}\\.test", port in 1u16.., path in "[a-z]{0,8}", key in "[a-z]{1,8}") {
            let read = read_entry(format!(" v=sm1 ;signal = peerjs;url=ws://{host}:{port}/{path};key={key} ;").as_bytes()).unwrap();
            let again = read_entry(read.canonical.as_bytes()).unwrap();
            prop_assert_eq!(&again.entry, &read.entry);
            prop_assert_eq!(again.canonical, read.canonical);
        }
    }
}
