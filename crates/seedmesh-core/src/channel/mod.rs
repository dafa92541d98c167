//! Data-channel messages: PeerJS serializations and seedmesh framing.
//!
//! What a frame on the data channel means depends on who is at the other end:
//!
//! - A **PeerJS** peer gets exactly what PeerJS 1.5 expects for the connection's serialization.
//!   `json`: one message per **binary** frame of UTF-8 JSON, under 16,300 bytes, with
//!   `{"__peerData":{"type":"close"}}` meaning "close"; text frames (PeerJS 1.4) are accepted
//!   too. `raw`: strings as text frames and bytes as binary frames, as they are. `binary`
//!   (also named `binary-utf8` and `default`): [BinaryPack](crate::binarypack) in binary
//!   frames, messages over 16,300 bytes in PeerJS's chunks, `{__peerData: {type: "close"}}`
//!   meaning "close".
//! - A **seedmesh** peer (one that marked its OFFER or ANSWER with `seedmesh: 1`) gets seedmesh
//!   framing: every frame is binary and starts with a tag byte, messages of any size up to the
//!   receiver's limit are split into chunks of at most [`MAX_FRAME_LEN`] bytes, and liveness
//!   pings and an explicit close travel in-band.
//!
//! Seedmesh frame layout (version 1), integers big-endian:
//!
//! | tag | rest |
//! |---|---|
//! | `0x01` JSON, `0x02` text, `0x03` bytes | the whole message |
//! | `0x04` chunk | message id `u32`, chunk index `u32`, chunk count `u32`, data; the data of all chunks joined is a tag `0x01`–`0x03` and the message |
//! | `0x05` ping, `0x06` pong | a `u64` nonce |
//! | `0x07` close | nothing |
//!
//! Chunks of one message arrive in order (the channel is ordered); the [`Decoder`] refuses a
//! message larger than its [`Limits`] as soon as its first bytes show it, and holds at most
//! [`Limits::max_partial_messages`] unfinished messages, so hostile input cannot exhaust memory.

use core::fmt;
use core::time::Duration;
use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

use crate::binarypack::{self, Chunker, Reassembler, Unpacked};
use crate::signaling::Serialization;
use crate::time::Instant;

/// The seedmesh framing version this crate speaks, sent as `seedmesh` in OFFER and ANSWER.
pub const FRAMING_VERSION: u32 = 1;

/// The largest frame sent to a seedmesh peer, in bytes. Every browser takes 64 KiB and
/// Chromium 256 KiB (`maxMessageSize`), but Chromium moved 16 MiB faster in 16 KiB frames than
/// in 64 KiB ones when the send buffer is kept shallow (docs/benchmarks.md). Receivers of every
/// framing version take chunks of any size.
pub const MAX_FRAME_LEN: usize = 16 * 1024;

/// PeerJS 1.5 refuses to send a `json` message of this many bytes or more; so do we.
pub const PEERJS_JSON_LIMIT: usize = 16_300;

/// The largest `raw` message sent to a PeerJS peer: browsers refuse larger data-channel messages.
pub const MAX_RAW_LEN: usize = 256 * 1024;

const TAG_JSON: u8 = 0x01;
const TAG_TEXT: u8 = 0x02;
const TAG_BINARY: u8 = 0x03;
const TAG_CHUNK: u8 = 0x04;
const TAG_PING: u8 = 0x05;
const TAG_PONG: u8 = 0x06;
const TAG_CLOSE: u8 = 0x07;
const CHUNK_HEADER_LEN: usize = 13;
const CHUNK_DATA_LEN: usize = MAX_FRAME_LEN - CHUNK_HEADER_LEN;

/// One application message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A JSON value (PeerJS `json`).
    Json(Value),
    /// A string.
    Text(String),
    /// Bytes.
    Binary(Vec<u8>),
    /// A BinaryPack value with bytes inside an array or object (from a PeerJS `binary` peer;
    /// other BinaryPack values come as the kinds above).
    Packed(binarypack::Value),
}

impl Message {
    /// The message as a BinaryPack value.
    fn to_packed(&self) -> binarypack::Value {
        match self {
            Self::Json(value) => binarypack::Value::from_json(value),
            Self::Text(text) => binarypack::Value::Text(text.clone()),
            Self::Binary(bytes) => binarypack::Value::Binary(bytes.clone()),
            Self::Packed(value) => value.clone(),
        }
    }

    /// A BinaryPack value as a message: text as text, bytes as bytes, what JSON can say as
    /// JSON, the rest as it is.
    fn from_packed(value: binarypack::Value) -> Self {
        match value {
            binarypack::Value::Text(text) => Self::Text(text),
            binarypack::Value::Binary(bytes) => Self::Binary(bytes),
            other => other.to_json().map_or(Self::Packed(other), Self::Json),
        }
    }
}

/// One data-channel frame, as the browser hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
}

/// What a received frame meant.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Received {
    /// A whole application message.
    Message(Message),
    /// A seedmesh liveness ping: answer with [`Encoder::pong`].
    Ping(u64),
    /// The answer to one of our pings.
    Pong(u64),
    /// The peer is closing the connection.
    Close,
}

/// Who is at the other end, and so how frames are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// A PeerJS client using this serialization.
    PeerJs(Serialization),
    /// A seedmesh peer: seedmesh framing.
    Seedmesh,
}

/// What went wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelError {
    /// The serialization is one seedmesh does not speak.
    UnsupportedSerialization(&'static str),
    /// The message is larger than the other end accepts.
    TooBig {
        /// The encoded size in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The message cannot be expressed in this serialization.
    NotRepresentable(&'static str),
    /// The peer sent a frame that does not decode.
    Malformed(String),
    /// The peer sent a message larger than [`Limits::max_message_len`].
    LimitExceeded(String),
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedSerialization(name) => write!(
                f,
                "the serialization \"{name}\" is not supported; use \"json\" or \"raw\""
            ),
            Self::TooBig { len, max } => write!(
                f,
                "the message is {len} bytes but the other end accepts at most {max}; \
                 split it, or talk to a seedmesh peer, which chunks large messages"
            ),
            Self::NotRepresentable(why) => write!(f, "the message cannot be sent: {why}"),
            Self::Malformed(why) => write!(f, "the peer sent an unreadable frame: {why}"),
            Self::LimitExceeded(why) => write!(f, "the peer exceeded a receive limit: {why}"),
        }
    }
}

impl std::error::Error for ChannelError {}

/// Receive limits for seedmesh framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest message accepted, in bytes.
    pub max_message_len: usize,
    /// How many chunked messages may be unfinished at once.
    pub max_partial_messages: usize,
    /// How long an unfinished message is kept without a new chunk.
    pub partial_timeout: Duration,
}

impl Default for Limits {
    /// 16 MiB messages, 4 unfinished at once, each dropped after 30 s without a chunk.
    fn default() -> Self {
        Self {
            max_message_len: 16 * 1024 * 1024,
            max_partial_messages: 4,
            partial_timeout: Duration::from_secs(30),
        }
    }
}

impl Limits {
    /// For links of the mesh, which carry mesh messages and file chunks only: messages up to
    /// [`MAX_MESH_FRAME_MESSAGE`] bytes, 2 unfinished at once, each dropped after 10 s
    /// without a chunk. A peer can make a page hold at most about 130 KiB it has not read.
    #[must_use]
    pub const fn mesh() -> Self {
        Self {
            max_message_len: MAX_MESH_FRAME_MESSAGE,
            max_partial_messages: 2,
            partial_timeout: Duration::from_secs(10),
        }
    }
}

/// The largest message on a mesh link: a file chunk with its header, which is larger than
/// any mesh message ([`crate::mesh::message::MAX_ENCODED_LEN`]).
pub const MAX_MESH_FRAME_MESSAGE: usize = crate::transfer::CHUNK_SIZE + 256;

fn check_supported(protocol: Protocol) -> Result<(), ChannelError> {
    match protocol {
        Protocol::PeerJs(s) if !s.is_supported() => {
            Err(ChannelError::UnsupportedSerialization(s.as_str()))
        }
        _ => Ok(()),
    }
}

/// Turns messages into frames.
#[derive(Debug)]
pub struct Encoder {
    protocol: Protocol,
    next_id: u32,
    /// Numbers PeerJS `binary` chunks.
    chunker: Chunker,
}

impl Encoder {
    /// An encoder for the given far end.
    pub fn new(protocol: Protocol) -> Result<Self, ChannelError> {
        check_supported(protocol)?;
        Ok(Self {
            protocol,
            next_id: 0,
            chunker: Chunker::default(),
        })
    }

    /// Who the encoder writes for.
    #[must_use]
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The frames that carry `message`, in order.
    pub fn encode(&mut self, message: &Message) -> Result<Vec<Frame>, ChannelError> {
        let mut frames = self.frames(message)?;
        let mut all = Vec::with_capacity(frames.len());
        let mut buffer = Vec::new();
        while let Some(kind) = frames.next_into(&mut buffer) {
            let bytes = core::mem::take(&mut buffer);
            all.push(match kind {
                // Text frames are made from a `str`, so they are UTF-8.
                FrameKind::Text => Frame::Text(String::from_utf8(bytes).unwrap_or_default()),
                FrameKind::Binary => Frame::Binary(bytes),
            });
        }
        Ok(all)
    }

    /// The frames that carry `message`, made one at a time into the caller's buffer with
    /// [`Frames::next_into`]: a large message is never copied whole, and a sender can reuse
    /// one buffer for all its frames.
    pub fn frames<'m>(&mut self, message: &'m Message) -> Result<Frames<'m>, ChannelError> {
        let (tag, payload, text): (Option<u8>, Cow<'m, [u8]>, bool) = match self.protocol {
            Protocol::PeerJs(
                Serialization::Binary | Serialization::BinaryUtf8 | Serialization::Default,
            ) => {
                let packed = binarypack::pack(&message.to_packed()).map_err(|e| match e {
                    binarypack::PackError::TooLong(len) => ChannelError::TooBig {
                        len,
                        max: u32::MAX as usize,
                    },
                    _ => ChannelError::NotRepresentable(
                        "BinaryPack carries no infinite numbers, nor integers past 2^64",
                    ),
                })?;
                let prebuilt = self.chunker.frames(packed);
                return Ok(Frames {
                    tag: None,
                    payload: Cow::Borrowed(&[]),
                    text: false,
                    chunked: false,
                    id: 0,
                    count: u32::try_from(prebuilt.len()).unwrap_or(u32::MAX),
                    next: 0,
                    prebuilt,
                });
            }
            Protocol::PeerJs(Serialization::Json) => {
                let value = match message {
                    Message::Json(Value::Null) => {
                        return Err(ChannelError::NotRepresentable(
                            "a bare null makes PeerJS json receivers throw; wrap it in an object",
                        ));
                    }
                    Message::Json(value) => value.to_string(),
                    Message::Text(text) => Value::String(text.clone()).to_string(),
                    Message::Binary(_) | Message::Packed(_) => {
                        return Err(ChannelError::NotRepresentable(
                            "bytes have no JSON form; use a \"raw\" or \"binary\" connection",
                        ));
                    }
                };
                if value.len() >= PEERJS_JSON_LIMIT {
                    return Err(ChannelError::TooBig {
                        len: value.len(),
                        max: PEERJS_JSON_LIMIT - 1,
                    });
                }
                (None, Cow::Owned(value.into_bytes()), false)
            }
            Protocol::PeerJs(_) => {
                let (payload, text) = match message {
                    Message::Json(value) => (Cow::Owned(value.to_string().into_bytes()), true),
                    Message::Text(text) => (Cow::Borrowed(text.as_bytes()), true),
                    Message::Binary(bytes) => (Cow::Borrowed(bytes.as_slice()), false),
                    Message::Packed(_) => {
                        return Err(ChannelError::NotRepresentable(
                            "an object with bytes inside needs a \"binary\" connection",
                        ));
                    }
                };
                if payload.len() > MAX_RAW_LEN {
                    return Err(ChannelError::TooBig {
                        len: payload.len(),
                        max: MAX_RAW_LEN,
                    });
                }
                (None, payload, text)
            }
            Protocol::Seedmesh => {
                let (tag, payload) = match message {
                    Message::Json(value) => (TAG_JSON, Cow::Owned(value.to_string().into_bytes())),
                    Message::Text(text) => (TAG_TEXT, Cow::Borrowed(text.as_bytes())),
                    Message::Binary(bytes) => (TAG_BINARY, Cow::Borrowed(bytes.as_slice())),
                    Message::Packed(_) => {
                        return Err(ChannelError::NotRepresentable(
                            "an object with bytes inside goes to PeerJS \"binary\" peers only",
                        ));
                    }
                };
                (Some(tag), payload, false)
            }
        };
        // A seedmesh message whose tag and body do not fit in one frame goes in chunks.
        let chunked = tag.is_some() && payload.len() + 1 > MAX_FRAME_LEN;
        let count = if chunked {
            (payload.len() + 1).div_ceil(CHUNK_DATA_LEN)
        } else {
            1
        };
        let id = self.next_id;
        if chunked {
            self.next_id = self.next_id.wrapping_add(1);
        }
        Ok(Frames {
            tag,
            payload,
            text,
            chunked,
            id,
            count: u32::try_from(count).unwrap_or(u32::MAX),
            next: 0,
            prebuilt: Vec::new(),
        })
    }

    /// A liveness ping, if the far end understands one (seedmesh peers only).
    #[must_use]
    pub fn ping(&self, nonce: u64) -> Option<Frame> {
        self.control(TAG_PING, Some(nonce))
    }

    /// The answer to a ping, if the far end understands one.
    #[must_use]
    pub fn pong(&self, nonce: u64) -> Option<Frame> {
        self.control(TAG_PONG, Some(nonce))
    }

    /// The frame that tells the far end we are closing, if it has one: PeerJS `json`
    /// connections use `{"__peerData":{"type":"close"}}`, `raw` has none.
    #[must_use]
    pub fn close(&self) -> Option<Frame> {
        match self.protocol {
            Protocol::PeerJs(Serialization::Json) => Some(Frame::Binary(
                br#"{"__peerData":{"type":"close"}}"#.to_vec(),
            )),
            Protocol::PeerJs(
                Serialization::Binary | Serialization::BinaryUtf8 | Serialization::Default,
            ) => {
                let close = binarypack::Value::Map(vec![(
                    "__peerData".into(),
                    binarypack::Value::Map(vec![(
                        "type".into(),
                        binarypack::Value::Text("close".into()),
                    )]),
                )]);
                binarypack::pack(&close).ok().map(Frame::Binary)
            }
            Protocol::PeerJs(_) => None,
            Protocol::Seedmesh => self.control(TAG_CLOSE, None),
        }
    }

    fn control(&self, tag: u8, nonce: Option<u64>) -> Option<Frame> {
        if self.protocol != Protocol::Seedmesh {
            return None;
        }
        let mut frame = vec![tag];
        if let Some(nonce) = nonce {
            frame.extend_from_slice(&nonce.to_be_bytes());
        }
        Some(Frame::Binary(frame))
    }
}

/// Whether a frame goes as a text or a binary data-channel message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A text message: the bytes are UTF-8.
    Text,
    /// A binary message.
    Binary,
}

/// The frames of one message, from [`Encoder::frames`].
#[derive(Debug)]
pub struct Frames<'m> {
    /// The seedmesh tag byte, or `None` for PeerJS peers.
    tag: Option<u8>,
    payload: Cow<'m, [u8]>,
    text: bool,
    chunked: bool,
    id: u32,
    count: u32,
    next: u32,
    /// The frames of a BinaryPack message, made whole up front (PeerJS chunks the packed
    /// message, so it is packed first).
    prebuilt: Vec<Vec<u8>>,
}

impl Frames<'_> {
    /// How many frames there are in all.
    #[must_use]
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are no frames; never true, as every message has at least one.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Writes the next frame into `buffer` (cleared first) and says what kind it is; `None`
    /// once every frame was made.
    pub fn next_into(&mut self, buffer: &mut Vec<u8>) -> Option<FrameKind> {
        if self.next >= self.count {
            return None;
        }
        let index = self.next as usize;
        self.next += 1;
        buffer.clear();
        if let Some(frame) = self.prebuilt.get_mut(index) {
            core::mem::swap(buffer, frame);
            return Some(FrameKind::Binary);
        }
        if !self.chunked {
            buffer.reserve(self.payload.len() + 1);
            buffer.extend(self.tag);
            buffer.extend_from_slice(&self.payload);
            return Some(if self.text {
                FrameKind::Text
            } else {
                FrameKind::Binary
            });
        }
        // The chunks' data joined is the tag byte and then the payload, CHUNK_DATA_LEN bytes
        // a chunk: the first chunk holds the tag and one byte less of the payload.
        let start = (index * CHUNK_DATA_LEN).saturating_sub(1);
        let end = ((index + 1) * CHUNK_DATA_LEN - 1).min(self.payload.len());
        buffer.reserve(CHUNK_HEADER_LEN + CHUNK_DATA_LEN);
        buffer.push(TAG_CHUNK);
        buffer.extend_from_slice(&self.id.to_be_bytes());
        buffer.extend_from_slice(&(index as u32).to_be_bytes());
        buffer.extend_from_slice(&self.count.to_be_bytes());
        if index == 0 {
            buffer.extend(self.tag);
        }
        buffer.extend_from_slice(&self.payload[start..end]);
        Some(FrameKind::Binary)
    }
}

#[derive(Debug)]
struct Partial {
    count: u32,
    next_index: u32,
    /// The message's tag byte (the first byte of the first chunk's data).
    tag: u8,
    /// The message so far, without its tag.
    data: Vec<u8>,
    /// When its last chunk came.
    last_at: Instant,
}

/// Turns frames back into messages, within [`Limits`].
#[derive(Debug)]
pub struct Decoder {
    protocol: Protocol,
    limits: Limits,
    partial: HashMap<u32, Partial>,
    /// PeerJS `binary` chunks being put together.
    packs: Reassembler,
}

impl Decoder {
    /// A decoder for frames from the given far end.
    pub fn new(protocol: Protocol, limits: Limits) -> Result<Self, ChannelError> {
        check_supported(protocol)?;
        Ok(Self {
            protocol,
            limits,
            partial: HashMap::new(),
            packs: Reassembler::new(limits),
        })
    }

    /// How many bytes unfinished messages hold now.
    #[must_use]
    pub fn buffered_len(&self) -> usize {
        self.partial.values().map(|p| p.data.len()).sum::<usize>() + self.packs.buffered_len()
    }

    /// Reads one frame that came at `now`: a whole message, a control frame, or `None` while a
    /// chunked message is unfinished. Unfinished messages that got no chunk for
    /// [`Limits::partial_timeout`] are dropped first.
    pub fn decode(&mut self, now: Instant, frame: Frame) -> Result<Option<Received>, ChannelError> {
        let timeout = self.limits.partial_timeout;
        self.partial.retain(|_, p| now < p.last_at + timeout);
        match self.protocol {
            Protocol::PeerJs(
                Serialization::Binary | Serialization::BinaryUtf8 | Serialization::Default,
            ) => {
                let Frame::Binary(bytes) = frame else {
                    return Err(ChannelError::Malformed(
                        "a text frame on a BinaryPack connection".into(),
                    ));
                };
                if bytes.len() > self.limits.max_message_len {
                    return Err(ChannelError::LimitExceeded(format!(
                        "a frame of {} bytes; the limit is {}",
                        bytes.len(),
                        self.limits.max_message_len
                    )));
                }
                match self.packs.take(now, &bytes) {
                    Ok(None) => Ok(None),
                    Ok(Some(Unpacked::Close)) => Ok(Some(Received::Close)),
                    Ok(Some(Unpacked::Value(value))) => {
                        Ok(Some(Received::Message(Message::from_packed(value))))
                    }
                    Err(e) => Err(ChannelError::Malformed(e.to_string())),
                }
            }
            Protocol::PeerJs(Serialization::Json) => {
                let text = match frame {
                    Frame::Text(text) => text,
                    Frame::Binary(bytes) => String::from_utf8(bytes)
                        .map_err(|_| ChannelError::Malformed("a json frame is not UTF-8".into()))?,
                };
                let value: Value = serde_json::from_str(&text)
                    .map_err(|e| ChannelError::Malformed(format!("a json frame: {e}")))?;
                let close = value
                    .get("__peerData")
                    .and_then(|d| d.get("type"))
                    .and_then(Value::as_str)
                    == Some("close");
                Ok(Some(if close {
                    Received::Close
                } else {
                    Received::Message(Message::Json(value))
                }))
            }
            Protocol::PeerJs(_) => Ok(Some(Received::Message(match frame {
                Frame::Text(text) => Message::Text(text),
                Frame::Binary(bytes) => Message::Binary(bytes),
            }))),
            Protocol::Seedmesh => {
                let Frame::Binary(bytes) = frame else {
                    return Err(ChannelError::Malformed(
                        "a text frame on a seedmesh-framed channel".into(),
                    ));
                };
                self.decode_framed(now, bytes)
            }
        }
    }

    fn decode_framed(
        &mut self,
        now: Instant,
        mut bytes: Vec<u8>,
    ) -> Result<Option<Received>, ChannelError> {
        let Some(&tag) = bytes.first() else {
            return Err(ChannelError::Malformed("an empty frame".into()));
        };
        match tag {
            TAG_JSON | TAG_TEXT | TAG_BINARY => {
                if bytes.len() - 1 > self.limits.max_message_len {
                    return Err(self.too_long(bytes.len() - 1));
                }
                // Dropping the tag moves the bytes down in place; a frame is small.
                bytes.remove(0);
                message(tag, bytes).map(|m| Some(Received::Message(m)))
            }
            TAG_PING | TAG_PONG => {
                let nonce: [u8; 8] = bytes
                    .get(1..)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| ChannelError::Malformed("a ping of the wrong size".into()))?;
                let nonce = u64::from_be_bytes(nonce);
                Ok(Some(if tag == TAG_PING {
                    Received::Ping(nonce)
                } else {
                    Received::Pong(nonce)
                }))
            }
            TAG_CLOSE => Ok(Some(Received::Close)),
            TAG_CHUNK => {
                if bytes.len() <= CHUNK_HEADER_LEN {
                    return Err(ChannelError::Malformed("a chunk without data".into()));
                }
                let word = |at: usize| {
                    let mut b = [0u8; 4];
                    b.copy_from_slice(&bytes[at..at + 4]);
                    u32::from_be_bytes(b)
                };
                let (id, index, count) = (word(1), word(5), word(9));
                self.add_chunk(now, id, index, count, &bytes[CHUNK_HEADER_LEN..])
            }
            other => Err(ChannelError::Malformed(format!(
                "an unknown frame tag {other:#04x}"
            ))),
        }
    }

    fn add_chunk(
        &mut self,
        now: Instant,
        id: u32,
        index: u32,
        count: u32,
        data: &[u8],
    ) -> Result<Option<Received>, ChannelError> {
        if index >= count {
            self.partial.remove(&id);
            return Err(ChannelError::Malformed(format!(
                "chunk {index} of a message of {count} chunks"
            )));
        }
        if index == 0 {
            if self.partial.contains_key(&id) {
                self.partial.remove(&id);
                return Err(ChannelError::Malformed(format!(
                    "message {id} started twice"
                )));
            }
            if self.partial.len() >= self.limits.max_partial_messages {
                return Err(ChannelError::LimitExceeded(format!(
                    "more than {} chunked messages unfinished at once",
                    self.limits.max_partial_messages
                )));
            }
            self.partial.insert(
                id,
                Partial {
                    count,
                    next_index: 0,
                    tag: data[0],
                    data: Vec::new(),
                    last_at: now,
                },
            );
        }
        let max = self.limits.max_message_len;
        let Some(partial) = self.partial.get_mut(&id) else {
            return Err(ChannelError::Malformed(format!(
                "chunk {index} of message {id}, whose start never came"
            )));
        };
        if partial.count != count || partial.next_index != index {
            self.partial.remove(&id);
            return Err(ChannelError::Malformed(format!(
                "chunk {index} of message {id} out of order"
            )));
        }
        // The joined data is a tag byte and the message.
        let data = if index == 0 { &data[1..] } else { data };
        let len = partial.data.len() + data.len();
        if len > max {
            self.partial.remove(&id);
            return Err(self.too_long(len));
        }
        partial.data.extend_from_slice(data);
        partial.next_index += 1;
        partial.last_at = now;
        if partial.next_index < count {
            return Ok(None);
        }
        let Some(done) = self.partial.remove(&id) else {
            return Ok(None);
        };
        match done.tag {
            TAG_JSON | TAG_TEXT | TAG_BINARY => {
                message(done.tag, done.data).map(|m| Some(Received::Message(m)))
            }
            _ => Err(ChannelError::Malformed(
                "a chunked message of an unknown kind".into(),
            )),
        }
    }

    fn too_long(&self, len: usize) -> ChannelError {
        ChannelError::LimitExceeded(format!(
            "a message of at least {len} bytes, over the {} accepted",
            self.limits.max_message_len
        ))
    }
}

/// The message a tag byte and its bytes make.
fn message(tag: u8, rest: Vec<u8>) -> Result<Message, ChannelError> {
    match tag {
        TAG_JSON => serde_json::from_slice(&rest)
            .map(Message::Json)
            .map_err(|e| ChannelError::Malformed(format!("a JSON message: {e}"))),
        TAG_TEXT => String::from_utf8(rest)
            .map(Message::Text)
            .map_err(|_| ChannelError::Malformed("a text message is not UTF-8".into())),
        TAG_BINARY => Ok(Message::Binary(rest)),
        _ => Err(ChannelError::Malformed("an unknown message kind".into())),
    }
}

#[cfg(test)]
mod tests;
