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

use serde_json::Value;

use crate::binarypack;
use crate::channel::{Limits, MAX_RAW_LEN, Message};
use crate::mesh::message::MAX_CHAT_BYTES;
use crate::signaling::Serialization;

/// The most PeerJS clients a page takes at once; more are refused.
pub const MAX_CLIENTS: usize = 8;

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
    /// Its serialization carries no bytes (`json`): it cannot be sent files.
    NoBytes,
    /// The file is larger than its serialization carries in one message (`raw`).
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
            Self::NoBytes => write!(
                f,
                "it connected with the \"json\" serialization, which carries no files; it \
                 can get files over \"binary\" (PeerJS's default) or \"raw\""
            ),
            Self::FileTooBig { len, max } => write!(
                f,
                "the file is {len} bytes, and a \"raw\" connection carries at most {max} in \
                 one message; it can get larger files over \"binary\" (PeerJS's default)"
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

/// Our chat as a client gets it: a plain string, in any serialization.
#[must_use]
pub fn text_message(text: &str) -> Message {
    Message::Text(text.to_owned())
}

/// A file as a client gets it: its bytes, as PeerJS hands binary data to its user, or why
/// this client cannot get it.
pub fn file_message(serialization: Serialization, bytes: &[u8]) -> Result<Message, ClientError> {
    match serialization {
        Serialization::Json => Err(ClientError::NoBytes),
        Serialization::Raw if bytes.len() > MAX_RAW_LEN => Err(ClientError::FileTooBig {
            len: bytes.len(),
            max: MAX_RAW_LEN,
        }),
        _ => Ok(Message::Binary(bytes.to_vec())),
    }
}

#[cfg(test)]
mod tests;
