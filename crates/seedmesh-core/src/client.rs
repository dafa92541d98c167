//! Plain PeerJS clients: pages that connected to us with PeerJS alone, in any serialization,
//! with no seedmesh framing and no hello.
//!
//! A client is no part of the mesh: it is never told of other peers, never carries gossip or
//! signaling, and counts toward no link bound. The page talks to it the way PeerJS code
//! expects: our chat reaches it as plain strings, our files as bytes (an `ArrayBuffer`), in
//! its own serialization. What it sends is read by [`read`]: a string, or a simple object with
//! a string under [`TEXT_FIELDS`], is chat from it; bytes are a file from it; anything else is
//! refused with a reason ([`ClientError`]) and the connection carries on.
//!
//! Its ID is whatever its signaling said: nothing proves it, so the page shows it as
//! unverified, and a client may not take the ID of a peer of the mesh (or of a page that
//! proves itself later: that page's link wins and the client's is closed).
//!
//! ```
//! use seedmesh_core::channel::Message;
//! use seedmesh_core::client::{self, ClientError, ClientInput};
//! use serde_json::json;
//!
//! let hello = client::read(Message::Json(json!({ "type": "chat", "text": "hi" })));
//! assert_eq!(hello, Ok(ClientInput::Text("hi".into())));
//! assert!(matches!(client::read(Message::Json(json!(42))), Err(ClientError::NoText(_))));
//! ```

use core::fmt;
use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;

use crate::PeerId;
use crate::binarypack;
use crate::channel::{Limits, MAX_RAW_LEN, Message};
use crate::mesh::LinkId;
use crate::mesh::message::MAX_CHAT_BYTES;
use crate::signaling::Serialization;
use crate::time::{Instant, TokenBucket};

/// The most PeerJS client connections a page takes at once; more are refused.
pub const MAX_CLIENTS: usize = 8;

/// The most connections one client ID may hold at once (PeerJS code may keep one for chat and
/// one for files); one more closes its oldest, as a client that reconnects before the page
/// can tell its old connection is gone.
pub const MAX_CONNECTIONS_PER_CLIENT: usize = 3;

/// How many kibibytes of files a client may send at once before [`CLIENT_KIB_PER_SECOND`]
/// applies; files past that are refused.
pub const CLIENT_KIB_BURST: u32 = 16 * 1024;

/// How many kibibytes of files a second a client may send after its burst.
pub const CLIENT_KIB_PER_SECOND: u32 = 1024;

/// How many clients that left keep their allowances, so that connecting again does not
/// refill them.
pub const MAX_REMEMBERED_ALLOWANCES: usize = 32;

/// How many messages a client may send at once before [`CLIENT_MESSAGES_PER_SECOND`] applies.
pub const CLIENT_BURST: u32 = 20;

/// How many messages a second a client may send after its burst; the rest are refused.
pub const CLIENT_MESSAGES_PER_SECOND: u32 = 5;

/// The largest message taken from a client (bytes it sends arrive as a file of at most this).
pub const MAX_CLIENT_MESSAGE: usize = 8 * 1024 * 1024;

/// The fields of an object whose string is taken as its text, in this order.
pub const TEXT_FIELDS: [&str; 5] = ["text", "message", "msg", "body", "content"];

/// Receive limits for a client's connection: messages up to [`MAX_CLIENT_MESSAGE`], one
/// unfinished at a time, dropped after 30 s without a chunk. With [`MAX_CLIENTS`] clients a
/// page holds at most 64 MiB it has not read.
#[must_use]
pub const fn limits() -> Limits {
    Limits {
        max_message_len: MAX_CLIENT_MESSAGE,
        max_partial_messages: 1,
        partial_timeout: Duration::from_secs(30),
    }
}

/// What a client's message is to the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientInput {
    /// Chat from it.
    Text(String),
    /// Bytes from it: a file.
    Bytes(Vec<u8>),
}

/// Why a client's message was not taken, or a message of ours cannot go to it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The message has no text the page can show: what it was instead.
    NoText(&'static str),
    /// The text is longer than chat may be.
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The most chat may have.
        max: usize,
    },
    /// The client sends faster than [`CLIENT_MESSAGES_PER_SECOND`].
    TooFast,
    /// The client sends more bytes of files than [`CLIENT_KIB_PER_SECOND`].
    TooMuch,
    /// Its serialization carries no bytes (`json`): it cannot be sent files.
    NoBytes,
    /// The file is larger than PeerJS clients are sent in one message: [`MAX_CLIENT_MESSAGE`]
    /// (the most the page takes from one), or for `raw` the most a browser sends at once.
    FileTooBig {
        /// The file's size in bytes.
        len: usize,
        /// The most one message carries.
        max: usize,
    },
    /// Its ID is ours, or a peer's the mesh knows: a client, whose ID nothing proves, cannot
    /// take it.
    IdInUse,
    /// The page has as many clients as it takes.
    TooMany {
        /// The most it takes ([`MAX_CLIENTS`]).
        max: usize,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoText(what) => write!(
                f,
                "it sent {what}, which has no text to show; send a string, or an object \
                 with a \"text\" field"
            ),
            Self::TooLong { len, max } => {
                write!(f, "it sent {len} bytes of text; chat takes at most {max}")
            }
            Self::TooFast => write!(
                f,
                "it sends more than {CLIENT_MESSAGES_PER_SECOND} messages a second; the \
                 messages past that are refused"
            ),
            Self::TooMuch => write!(
                f,
                "it sends more than {CLIENT_KIB_PER_SECOND} KiB of files a second; the files \
                 past that are refused"
            ),
            Self::NoBytes => write!(
                f,
                "it connected with the \"json\" serialization, which carries no files; it \
                 can get files over \"binary\" (PeerJS's default) or \"raw\""
            ),
            Self::FileTooBig { len, max } => write!(
                f,
                "the file is {len} bytes, and a PeerJS client on this connection is sent at \
                 most {max} in one message"
            ),
            Self::IdInUse => write!(
                f,
                "a PeerJS client came with the ID of this page or of a peer of the mesh, which \
                 it cannot prove; it was refused"
            ),
            Self::TooMany { max } => write!(
                f,
                "the page has {max} PeerJS clients already; it takes no more until one leaves"
            ),
        }
    }
}

impl std::error::Error for ClientError {}

/// Reads what a client sent: see the [module](self) docs.
pub fn read(message: Message) -> Result<ClientInput, ClientError> {
    let text = match message {
        Message::Text(text) => text,
        Message::Binary(bytes) => return Ok(ClientInput::Bytes(bytes)),
        Message::Json(value) => json_text(value)?,
        Message::Packed(value) => packed_text(&value)?,
    };
    if text.len() > MAX_CHAT_BYTES {
        return Err(ClientError::TooLong {
            len: text.len(),
            max: MAX_CHAT_BYTES,
        });
    }
    Ok(ClientInput::Text(text))
}

/// The text of a JSON value a client sent.
fn json_text(value: Value) -> Result<String, ClientError> {
    match value {
        Value::String(text) => Ok(text),
        Value::Object(mut fields) => TEXT_FIELDS
            .iter()
            .find_map(|name| match fields.remove(*name) {
                Some(Value::String(text)) => Some(text),
                _ => None,
            })
            .ok_or(ClientError::NoText("an object without a text field")),
        Value::Null => Err(ClientError::NoText("null")),
        Value::Bool(_) => Err(ClientError::NoText("a boolean")),
        Value::Number(_) => Err(ClientError::NoText("a number")),
        Value::Array(_) => Err(ClientError::NoText("an array")),
    }
}

/// The text of a BinaryPack value with bytes inside (other values come as JSON).
fn packed_text(value: &binarypack::Value) -> Result<String, ClientError> {
    match value {
        binarypack::Value::Map(_) => TEXT_FIELDS
            .iter()
            .find_map(|name| match value.get(name) {
                Some(binarypack::Value::Text(text)) => Some(text.clone()),
                _ => None,
            })
            .ok_or(ClientError::NoText("an object without a text field")),
        binarypack::Value::Array(_) => Err(ClientError::NoText("an array")),
        _ => Err(ClientError::NoText("a value of no known kind")),
    }
}

/// How many messages, and kibibytes of files, a client may still send.
#[derive(Debug, Clone, Copy)]
struct Allowance {
    messages: TokenBucket,
    kibibytes: TokenBucket,
    /// Whether its messages are being refused for coming too fast (said once).
    slowed: bool,
}

impl Allowance {
    fn new(now: Instant) -> Self {
        Self {
            messages: TokenBucket::new(now, CLIENT_BURST, CLIENT_MESSAGES_PER_SECOND),
            kibibytes: TokenBucket::new(now, CLIENT_KIB_BURST, CLIENT_KIB_PER_SECOND),
            slowed: false,
        }
    }
}

/// One client connection.
#[derive(Debug, Clone)]
struct Connection {
    /// Its ID, as its signaling named it: unproven.
    peer: PeerId,
    serialization: Serialization,
}

/// What came of a client's message ([`Clients::take`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Chat or a file from it.
    Input(ClientInput),
    /// Refused, for this reason, to show.
    Refused(ClientError),
    /// Refused without a word: the client was told why already.
    Dropped,
}

/// A page's PeerJS clients, by connection: at most [`MAX_CLIENTS`] connections, at most
/// [`MAX_CONNECTIONS_PER_CLIENT`] per ID, and one allowance per ID that outlives its
/// connections (for [`MAX_REMEMBERED_ALLOWANCES`] IDs).
#[derive(Debug, Default)]
pub struct Clients {
    connections: BTreeMap<LinkId, Connection>,
    allowances: BTreeMap<PeerId, Allowance>,
    /// IDs with no connection whose allowances are kept, oldest first.
    remembered: VecDeque<PeerId>,
}

impl Clients {
    /// Takes `link`, a connection from the client `peer` in `serialization`, unless the page
    /// holds [`MAX_CLIENTS`] connections of other clients: the same client's earlier
    /// connections it let go to make room (close them).
    pub fn admit(
        &mut self,
        now: Instant,
        link: LinkId,
        peer: PeerId,
        serialization: Serialization,
    ) -> Result<Vec<LinkId>, ClientError> {
        let mut own: Vec<LinkId> = self.links_of(&peer).collect();
        let mut closed = Vec::new();
        while own.len() >= MAX_CONNECTIONS_PER_CLIENT {
            let oldest = own.remove(0);
            self.connections.remove(&oldest);
            closed.push(oldest);
        }
        if self.connections.len() >= MAX_CLIENTS && own.is_empty() {
            return Err(ClientError::TooMany { max: MAX_CLIENTS });
        }
        if self.connections.len() >= MAX_CLIENTS {
            let oldest = own.remove(0);
            self.connections.remove(&oldest);
            closed.push(oldest);
        }
        self.remembered.retain(|p| *p != peer);
        self.allowances
            .entry(peer.clone())
            .or_insert_with(|| Allowance::new(now));
        self.connections.insert(
            link,
            Connection {
                peer,
                serialization,
            },
        );
        Ok(closed)
    }

    /// The connection `link` ended: its ID, and whether it was that client's last.
    pub fn remove(&mut self, link: LinkId) -> Option<(PeerId, bool)> {
        let gone = self.connections.remove(&link)?;
        let last = self.links_of(&gone.peer).next().is_none();
        if last {
            self.remember(gone.peer.clone());
        }
        Some((gone.peer, last))
    }

    /// Closes every connection of the client `peer`: their links.
    pub fn remove_peer(&mut self, peer: &PeerId) -> Vec<LinkId> {
        let links: Vec<LinkId> = self.links_of(peer).collect();
        for link in &links {
            self.connections.remove(link);
        }
        if !links.is_empty() {
            self.remember(peer.clone());
        }
        links
    }

    /// Keeps a client's allowance after its last connection, within the bound.
    fn remember(&mut self, peer: PeerId) {
        self.remembered.push_back(peer);
        while self.remembered.len() > MAX_REMEMBERED_ALLOWANCES {
            if let Some(oldest) = self.remembered.pop_front() {
                self.allowances.remove(&oldest);
            }
        }
    }

    /// The client on `link`.
    #[must_use]
    pub fn peer_on(&self, link: LinkId) -> Option<&PeerId> {
        self.connections.get(&link).map(|c| &c.peer)
    }

    /// Whether `link` is a client's.
    #[must_use]
    pub fn contains(&self, link: LinkId) -> bool {
        self.connections.contains_key(&link)
    }

    /// The connections of `peer`, oldest first.
    fn links_of<'a>(&'a self, peer: &'a PeerId) -> impl Iterator<Item = LinkId> + 'a {
        self.connections
            .iter()
            .filter(move |(_, c)| c.peer == *peer)
            .map(|(link, _)| *link)
    }

    /// Where to send to each client: its newest connection and its serialization, one per ID.
    #[must_use]
    pub fn destinations(&self) -> Vec<(LinkId, Serialization)> {
        let mut newest: BTreeMap<&PeerId, (LinkId, Serialization)> = BTreeMap::new();
        for (link, connection) in &self.connections {
            newest.insert(&connection.peer, (*link, connection.serialization));
        }
        newest.into_values().collect()
    }

    /// Where to send to the client `peer`, if it is connected.
    #[must_use]
    pub fn destination(&self, peer: &PeerId) -> Option<(LinkId, Serialization)> {
        self.links_of(peer)
            .last()
            .and_then(|link| Some((link, self.connections.get(&link)?.serialization)))
    }

    /// Reads a message from the client on `link` at `now`, within its allowance: past it the
    /// first message is refused with the reason and the rest without a word, until the
    /// allowance refills.
    pub fn take(&mut self, now: Instant, link: LinkId, message: Message) -> Taken {
        let Some(allowance) = self
            .connections
            .get(&link)
            .and_then(|c| self.allowances.get_mut(&c.peer))
        else {
            return Taken::Dropped;
        };
        let refused = if !allowance.messages.take(now) {
            Some(ClientError::TooFast)
        } else {
            match read(message) {
                Ok(ClientInput::Bytes(bytes)) => {
                    let kib = u32::try_from(bytes.len().div_ceil(1024)).unwrap_or(u32::MAX);
                    if allowance.kibibytes.take_many(now, kib) {
                        allowance.slowed = false;
                        return Taken::Input(ClientInput::Bytes(bytes));
                    }
                    Some(ClientError::TooMuch)
                }
                Ok(input) => {
                    allowance.slowed = false;
                    return Taken::Input(input);
                }
                Err(error) => return Taken::Refused(error),
            }
        };
        match refused {
            // Said once, not once a message: the warning is no flood of its own.
            Some(error) if !allowance.slowed => {
                allowance.slowed = true;
                Taken::Refused(error)
            }
            _ => Taken::Dropped,
        }
    }
}

/// Our chat as a client gets it: a plain string, in any serialization.
#[must_use]
pub fn text_message(text: &str) -> Message {
    Message::Text(text.to_owned())
}

/// A file as a client gets it: its bytes, as PeerJS hands binary data to its user, or why
/// this client cannot get it (at most [`MAX_CLIENT_MESSAGE`] go to a client in one message).
pub fn file_message(serialization: Serialization, bytes: &[u8]) -> Result<Message, ClientError> {
    let max = match serialization {
        Serialization::Json => return Err(ClientError::NoBytes),
        Serialization::Raw => MAX_RAW_LEN,
        _ => MAX_CLIENT_MESSAGE,
    };
    if bytes.len() > max {
        return Err(ClientError::FileTooBig {
            len: bytes.len(),
            max,
        });
    }
    Ok(Message::Binary(bytes.to_vec()))
}

#[cfg(test)]
mod tests;
