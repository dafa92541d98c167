//! BinaryPack, the serialization PeerJS uses when none is named (`binary`): the same bytes as
//! `peerjs-js-binarypack` 2.1 (in `peerjs` 1.5.5) packs, and the same values it unpacks.
//!
//! BinaryPack looks like MessagePack but is not compatible with it: `0xa0`–`0xaf` are short
//! byte strings and `0xb0`–`0xbf` short text, `0xd8`/`0xd9` are longer text and `0xda`/`0xdb`
//! longer bytes, and `0xc1` is JavaScript's `undefined`.
//!
//! | first byte | value |
//! |---|---|
//! | `0x00`–`0x7f`, `0xe0`–`0xff` | an integer from −32 to 127 |
//! | `0x80`+n, `0xde` u16, `0xdf` u32 | a map of n entries |
//! | `0x90`+n, `0xdc` u16, `0xdd` u32 | an array of n values |
//! | `0xa0`+n, `0xda` u16, `0xdb` u32 | n bytes |
//! | `0xb0`+n, `0xd8` u16, `0xd9` u32 | n bytes of UTF-8 text |
//! | `0xc0` null, `0xc1` undefined, `0xc2` false, `0xc3` true | |
//! | `0xca` f32, `0xcb` f64 | a number |
//! | `0xcc`–`0xcf` u8–u64, `0xd0`–`0xd3` i8–i64 | an integer, big-endian |
//! | `0xc4`–`0xc9`, `0xd4`–`0xd7` | undefined (one byte; PeerJS reads them so) |
//!
//! A message longer than [`CHUNK_MTU`] once packed travels as chunks: each is the packed map
//! `{__peerData: id, n: index, data: bytes, total: count}` with up to [`CHUNK_MTU`] bytes of
//! the packed message, ids counting from 1 on each connection ([`Chunker`]). A [`Reassembler`]
//! puts them together within [`Limits`], and reads `{__peerData: {type: "close"}}` as the
//! other side closing.
//!
//! Numbers read as PeerJS reads them, quirks and all (a double's zero, subnormal, infinite or
//! NaN bits give other numbers), except the int64 encoding: PeerJS rounds negative ones (it
//! reads them through an unsigned 64-bit double), and this module reads them exactly.
//!
//! Where PeerJS is lenient with broken input (text that is not UTF-8, a message that ends early,
//! bytes after the value, duplicate chunks), this module refuses it with an [`UnpackError`].

use core::fmt;
use std::collections::{BTreeMap, HashMap};

use crate::channel::Limits;
use crate::time::Instant;

/// The largest packed message PeerJS sends whole; longer ones go in chunks of this many bytes.
pub const CHUNK_MTU: usize = 16_300;
/// How deep arrays and maps may nest in a message we unpack.
pub const MAX_DEPTH: usize = 64;
/// The most values (array items, map keys and values, and the message itself) one message
/// may hold: a value takes 32 bytes or more in memory however few it took on the wire.
pub const MAX_VALUES: usize = 1 << 20;
/// The most items reserved for an array or map before they are read.
const RESERVED_ITEMS: usize = 1024;

/// A value as BinaryPack carries it: what a JavaScript peer sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `undefined` (packed as `null`, as PeerJS does).
    Undefined,
    /// A boolean.
    Bool(bool),
    /// An integer (a JavaScript number with no fraction).
    Int(i64),
    /// Any other number. Integral values pack as integers, as in JavaScript.
    Float(f64),
    /// Text.
    Text(String),
    /// Bytes (an `ArrayBuffer`, typed array or `Blob`).
    Binary(Vec<u8>),
    /// An array.
    Array(Vec<Value>),
    /// An object: its keys and values, in order.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// The value under `key`, if this is a map that has it.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Self::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value a JSON value makes: integers as [`Value::Int`] (up to `i64::MAX`), other
    /// numbers as [`Value::Float`], objects as maps in their order.
    #[must_use]
    pub fn from_json(json: &serde_json::Value) -> Self {
        use serde_json::Value as Json;
        match json {
            Json::Null => Self::Null,
            Json::Bool(b) => Self::Bool(*b),
            Json::Number(n) => n
                .as_i64()
                .map_or_else(|| Self::Float(n.as_f64().unwrap_or(f64::NAN)), Self::Int),
            Json::String(s) => Self::Text(s.clone()),
            Json::Array(items) => Self::Array(items.iter().map(Self::from_json).collect()),
            Json::Object(map) => Self::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Self::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The value as JSON, if JSON can say it: not with bytes inside, nor NaN. `undefined`
    /// becomes `null`.
    #[must_use]
    pub fn to_json(&self) -> Option<serde_json::Value> {
        use serde_json::Value as Json;
        Some(match self {
            Self::Null | Self::Undefined => Json::Null,
            Self::Bool(b) => Json::Bool(*b),
            Self::Int(i) => Json::from(*i),
            Self::Float(f) => Json::Number(serde_json::Number::from_f64(*f)?),
            Self::Text(s) => Json::String(s.clone()),
            Self::Binary(_) => return None,
            Self::Array(items) => {
                Json::Array(items.iter().map(Self::to_json).collect::<Option<_>>()?)
            }
            Self::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(k, v)| Some((k.clone(), v.to_json()?)))
                    .collect::<Option<_>>()?,
            ),
        })
    }

    /// Whether JavaScript takes the value for true in a condition.
    fn is_truthy(&self) -> bool {
        match self {
            Self::Null | Self::Undefined => false,
            Self::Bool(b) => *b,
            Self::Int(i) => *i != 0,
            Self::Float(f) => *f != 0.0 && !f.is_nan(),
            Self::Text(s) => !s.is_empty(),
            Self::Binary(_) | Self::Array(_) | Self::Map(_) => true,
        }
    }
}

/// Why a value cannot be packed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PackError {
    /// An infinite number, or an integral one past 2⁶⁴ (PeerJS throws "Invalid integer").
    InvalidNumber(f64),
    /// Text, bytes, an array or a map of 2³² or more.
    TooLong(usize),
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidNumber(n) => write!(f, "BinaryPack cannot carry the number {n}"),
            Self::TooLong(len) => write!(
                f,
                "BinaryPack cannot carry {len} items or bytes in one value"
            ),
        }
    }
}

impl std::error::Error for PackError {}

/// Why bytes are not a BinaryPack message we take.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnpackError {
    /// The bytes end inside a value that starts at `at`.
    EndsEarly {
        /// Where the unfinished value starts.
        at: usize,
    },
    /// Text at `at` is not UTF-8.
    NotUtf8 {
        /// Where the text starts.
        at: usize,
    },
    /// A map key at `at` is not text, a number with no fraction, null, undefined or a boolean.
    BadKey {
        /// Where the key starts.
        at: usize,
    },
    /// Arrays and maps nest deeper than [`MAX_DEPTH`].
    TooDeep,
    /// The message holds more than [`MAX_VALUES`] values.
    TooManyValues,
    /// More bytes follow the value, from `at`.
    TrailingBytes {
        /// Where they start.
        at: usize,
    },
    /// A chunk (`__peerData`) breaks the rules or the limits; the text says how.
    BadChunk(&'static str),
}

impl fmt::Display for UnpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EndsEarly { at } => {
                write!(f, "a BinaryPack message ends inside the value at byte {at}")
            }
            Self::NotUtf8 { at } => write!(f, "BinaryPack text at byte {at} is not UTF-8"),
            Self::BadKey { at } => write!(f, "a BinaryPack map key at byte {at} is not text"),
            Self::TooDeep => write!(f, "BinaryPack arrays and maps nest deeper than {MAX_DEPTH}"),
            Self::TooManyValues => write!(
                f,
                "a BinaryPack message holds more than {MAX_VALUES} values"
            ),
            Self::TrailingBytes { at } => {
                write!(f, "bytes follow the BinaryPack value, from byte {at}")
            }
            Self::BadChunk(why) => write!(f, "a BinaryPack chunk {why}"),
        }
    }
}

impl std::error::Error for UnpackError {}

/// Packs `value` as PeerJS does.
pub fn pack(value: &Value) -> Result<Vec<u8>, PackError> {
    let mut out = Vec::new();
    pack_into(&mut out, value)?;
    Ok(out)
}

fn pack_into(out: &mut Vec<u8>, value: &Value) -> Result<(), PackError> {
    match value {
        Value::Null | Value::Undefined => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Int(i) => pack_int(out, *i),
        Value::Float(f) => pack_number(out, *f)?,
        Value::Text(s) => {
            pack_len(out, s.len(), 0xb0, 0xd8)?;
            out.extend_from_slice(s.as_bytes());
        }
        Value::Binary(b) => {
            pack_len(out, b.len(), 0xa0, 0xda)?;
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            pack_len(out, items.len(), 0x90, 0xdc)?;
            for item in items {
                pack_into(out, item)?;
            }
        }
        Value::Map(entries) => {
            pack_len(out, entries.len(), 0x80, 0xde)?;
            for (key, item) in entries {
                pack_into(out, &Value::Text(key.clone()))?;
                pack_into(out, item)?;
            }
        }
    }
    Ok(())
}

/// A length: in the first byte (`short` + n) up to 15, after `long` as a u16, or after
/// `long + 1` as a u32.
fn pack_len(out: &mut Vec<u8>, len: usize, short: u8, long: u8) -> Result<(), PackError> {
    if len <= 0x0f {
        out.push(short + len as u8);
    } else if let Ok(len16) = u16::try_from(len) {
        out.push(long);
        out.extend_from_slice(&len16.to_be_bytes());
    } else if let Ok(len32) = u32::try_from(len) {
        out.push(long + 1);
        out.extend_from_slice(&len32.to_be_bytes());
    } else {
        return Err(PackError::TooLong(len));
    }
    Ok(())
}

/// An integer in the first of PeerJS's encodings whose range holds it.
fn pack_int(out: &mut Vec<u8>, i: i64) {
    if (-0x20..=0x7f).contains(&i) {
        out.push(i as u8);
    } else if (0..=0xff).contains(&i) {
        out.extend_from_slice(&[0xcc, i as u8]);
    } else if (-0x80..=0x7f).contains(&i) {
        out.extend_from_slice(&[0xd0, i as u8]);
    } else if (0..=0xffff).contains(&i) {
        out.push(0xcd);
        out.extend_from_slice(&(i as u16).to_be_bytes());
    } else if (-0x8000..=0x7fff).contains(&i) {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if (0..=0xffff_ffff).contains(&i) {
        out.push(0xce);
        out.extend_from_slice(&(i as u32).to_be_bytes());
    } else if (-0x8000_0000..=0x7fff_ffff).contains(&i) {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

/// A JavaScript number: integral ones as integers, others as doubles, as PeerJS does, down to
/// its quirks: NaN packs as 0.0, 2⁶³ as −2⁶³, and integral numbers from 2⁶³ to 2⁶⁴ as u64
/// (2⁶⁴ itself as 0).
fn pack_number(out: &mut Vec<u8>, f: f64) -> Result<(), PackError> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    if f.is_nan() {
        out.push(0xcb);
        out.extend_from_slice(&[0; 8]);
    } else if f.is_infinite() || (f.floor() == f && f.abs() > TWO_64) {
        return Err(PackError::InvalidNumber(f));
    } else if f.floor() != f {
        out.push(0xcb);
        out.extend_from_slice(&f.to_bits().to_be_bytes());
    } else if f == TWO_63 {
        out.push(0xd3);
        out.extend_from_slice(&i64::MIN.to_be_bytes());
    } else if f > TWO_63 {
        out.push(0xcf);
        let bits = if f == TWO_64 { 0 } else { f as u64 };
        out.extend_from_slice(&bits.to_be_bytes());
    } else if f < -TWO_63 {
        // PeerJS takes the int64 path for −2⁶⁴ ≤ n < −2⁶³ too; its high word wraps.
        let wrapped = (f as i128).rem_euclid(1 << 64) as u64;
        out.push(0xd3);
        out.extend_from_slice(&wrapped.to_be_bytes());
    } else {
        pack_int(out, f as i64);
    }
    Ok(())
}

/// Unpacks one message, which must be exactly one value.
pub fn unpack(bytes: &[u8]) -> Result<Value, UnpackError> {
    let mut reader = Reader {
        bytes,
        at: 0,
        values: 0,
    };
    let value = reader.value(0)?;
    if reader.at < bytes.len() {
        return Err(UnpackError::TrailingBytes { at: reader.at });
    }
    Ok(value)
}

struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
    /// Values read so far, at most [`MAX_VALUES`].
    values: usize,
}

impl<'b> Reader<'b> {
    fn take(&mut self, n: usize, start: usize) -> Result<&'b [u8], UnpackError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(UnpackError::EndsEarly { at: start })?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn uint(&mut self, n: usize, start: usize) -> Result<u64, UnpackError> {
        Ok(self
            .take(n, start)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn value(&mut self, depth: usize) -> Result<Value, UnpackError> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(UnpackError::TooManyValues);
        }
        let start = self.at;
        let kind = self.take(1, start)?[0];
        let value = match kind {
            0x00..=0x7f => Value::Int(i64::from(kind)),
            0xe0..=0xff => Value::Int(i64::from(kind as i8)),
            0x80..=0x8f => self.map(usize::from(kind - 0x80), depth, start)?,
            0x90..=0x9f => self.array(usize::from(kind - 0x90), depth, start)?,
            0xa0..=0xaf => Value::Binary(self.take(usize::from(kind - 0xa0), start)?.to_vec()),
            0xb0..=0xbf => self.text(usize::from(kind - 0xb0), start)?,
            0xc0 => Value::Null,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xca => Value::Float(js_float(self.uint(4, start)? as u32)),
            0xcb => Value::Float(js_double(self.uint(8, start)?)),
            0xcc => Value::Int(self.uint(1, start)? as i64),
            0xcd => Value::Int(self.uint(2, start)? as i64),
            0xce => Value::Int(self.uint(4, start)? as i64),
            0xcf => {
                let n = self.uint(8, start)?;
                i64::try_from(n).map_or(Value::Float(n as f64), Value::Int)
            }
            0xd0 => Value::Int(i64::from(self.uint(1, start)? as u8 as i8)),
            0xd1 => Value::Int(i64::from(self.uint(2, start)? as u16 as i16)),
            0xd2 => Value::Int(i64::from(self.uint(4, start)? as u32 as i32)),
            0xd3 => Value::Int(self.uint(8, start)? as i64),
            0xd8 | 0xd9 => {
                let len = self.uint(if kind == 0xd8 { 2 } else { 4 }, start)?;
                self.text(len as usize, start)?
            }
            0xda | 0xdb => {
                let len = self.uint(if kind == 0xda { 2 } else { 4 }, start)?;
                Value::Binary(self.take(len as usize, start)?.to_vec())
            }
            0xdc | 0xdd => {
                let len = self.uint(if kind == 0xdc { 2 } else { 4 }, start)?;
                self.array(len as usize, depth, start)?
            }
            0xde | 0xdf => {
                let len = self.uint(if kind == 0xde { 2 } else { 4 }, start)?;
                self.map(len as usize, depth, start)?
            }
            // 0xc1, 0xc4–0xc9 and 0xd4–0xd7: PeerJS reads undefined.
            _ => Value::Undefined,
        };
        Ok(value)
    }

    fn text(&mut self, len: usize, start: usize) -> Result<Value, UnpackError> {
        let bytes = self.take(len, start)?;
        let text = core::str::from_utf8(bytes).map_err(|_| UnpackError::NotUtf8 { at: start })?;
        Ok(Value::Text(text.to_owned()))
    }

    /// Room for `len` values of at least a byte each, without trusting `len` to allocate.
    fn room_for(&self, len: usize, start: usize) -> Result<(), UnpackError> {
        if len > self.bytes.len() - self.at {
            return Err(UnpackError::EndsEarly { at: start });
        }
        Ok(())
    }

    fn array(&mut self, len: usize, depth: usize, start: usize) -> Result<Value, UnpackError> {
        if depth >= MAX_DEPTH {
            return Err(UnpackError::TooDeep);
        }
        self.room_for(len, start)?;
        let mut items = Vec::with_capacity(len.min(RESERVED_ITEMS));
        for _ in 0..len {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    /// A map as JavaScript builds the object: keys as strings, a repeated key's last value in
    /// its first place.
    fn map(&mut self, len: usize, depth: usize, start: usize) -> Result<Value, UnpackError> {
        if depth >= MAX_DEPTH {
            return Err(UnpackError::TooDeep);
        }
        self.room_for(len.saturating_mul(2), start)?;
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(len.min(RESERVED_ITEMS));
        // Where each key is in `entries`, so that a map of many keys is read in linear time.
        let mut index: HashMap<String, usize> = HashMap::new();
        for _ in 0..len {
            let key_at = self.at;
            let key = match self.value(depth + 1)? {
                Value::Text(s) => s,
                Value::Int(i) => i.to_string(),
                Value::Null => "null".to_owned(),
                Value::Undefined => "undefined".to_owned(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(UnpackError::BadKey { at: key_at }),
            };
            let item = self.value(depth + 1)?;
            match index.get(&key) {
                Some(&at) => entries[at].1 = item,
                None => {
                    index.insert(key.clone(), entries.len());
                    entries.push((key, item));
                }
            }
        }
        Ok(Value::Map(entries))
    }
}

/// 2ⁿ as a double, rounded as JavaScript's `2 ** n` is.
fn pow2(n: i32) -> f64 {
    match n {
        ..-1074 => 0.0,
        -1074..=-1023 => f64::from_bits(1u64 << (n + 1074)),
        -1022..=1023 => f64::from_bits(((n + 1023) as u64) << 52),
        _ => f64::INFINITY,
    }
}

/// A single-precision number read as PeerJS reads it (which is IEEE 754 for normal numbers).
fn js_float(bits: u32) -> f64 {
    let sign = if bits >> 31 == 0 { 1.0 } else { -1.0 };
    let exp = ((bits >> 23) & 0xff) as i32 - 127;
    let fraction = f64::from((bits & 0x7f_ffff) | 0x80_0000);
    sign * fraction * pow2(exp - 23)
}

/// A double read as PeerJS reads it (which is IEEE 754 for normal numbers).
fn js_double(bits: u64) -> f64 {
    let (h32, l32) = ((bits >> 32) as u32, bits as u32);
    let sign = if h32 >> 31 == 0 { 1.0 } else { -1.0 };
    let exp = ((h32 >> 20) & 0x7ff) as i32 - 1023;
    let hfrac = f64::from((h32 & 0xf_ffff) | 0x10_0000);
    sign * (hfrac * pow2(exp - 20) + f64::from(l32) * pow2(exp - 52))
}

/// Splits packed messages into PeerJS's chunks, numbering them per connection.
#[derive(Debug)]
pub struct Chunker {
    next_id: i64,
}

impl Default for Chunker {
    fn default() -> Self {
        Self { next_id: 1 }
    }
}

impl Chunker {
    /// The frames that carry the packed message `packed`: itself when it is at most
    /// [`CHUNK_MTU`] bytes, its chunks otherwise.
    pub fn frames(&mut self, packed: Vec<u8>) -> Vec<Vec<u8>> {
        if packed.len() <= CHUNK_MTU {
            return vec![packed];
        }
        let id = self.next_id;
        self.next_id += 1;
        let total = packed.len().div_ceil(CHUNK_MTU) as i64;
        packed
            .chunks(CHUNK_MTU)
            .enumerate()
            .map(|(n, data)| {
                let chunk = Value::Map(vec![
                    ("__peerData".into(), Value::Int(id)),
                    ("n".into(), Value::Int(n as i64)),
                    ("data".into(), Value::Binary(data.to_vec())),
                    ("total".into(), Value::Int(total)),
                ]);
                // A chunk is a short map of small integers and at most CHUNK_MTU bytes.
                pack(&chunk).unwrap_or_default()
            })
            .collect()
    }
}

/// What a frame from a PeerJS `binary` peer came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Unpacked {
    /// A whole message.
    Value(Value),
    /// The peer closes the connection.
    Close,
}

#[derive(Debug)]
struct Partial {
    total: usize,
    parts: Vec<Option<Vec<u8>>>,
    received: usize,
    last_at: Instant,
}

/// Reads frames from a PeerJS `binary` peer, putting chunked messages together within
/// [`Limits`]: no message past `max_message_len`, no more than `max_partial_messages`
/// unfinished, each dropped `partial_timeout` after its last chunk.
#[derive(Debug)]
pub struct Reassembler {
    limits: Limits,
    partial: BTreeMap<i64, Partial>,
}

impl Reassembler {
    /// A reassembler within `limits`.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            partial: BTreeMap::new(),
        }
    }

    /// How many chunked messages are unfinished.
    #[must_use]
    pub fn unfinished(&self) -> usize {
        self.partial.len()
    }

    /// How many bytes the unfinished messages hold.
    #[must_use]
    pub fn buffered_len(&self) -> usize {
        self.partial
            .values()
            .flat_map(|p| p.parts.iter().flatten())
            .map(Vec::len)
            .sum()
    }

    /// Reads one frame: a message, the peer closing, or `None` while a chunked message is not
    /// whole yet.
    pub fn take(&mut self, now: Instant, frame: &[u8]) -> Result<Option<Unpacked>, UnpackError> {
        let timeout = self.limits.partial_timeout;
        self.partial.retain(|_, p| p.last_at + timeout > now);
        let value = unpack(frame)?;
        let Some(peer_data) = value.get("__peerData").filter(|v| v.is_truthy()) else {
            return Ok(Some(Unpacked::Value(value)));
        };
        if peer_data.get("type") == Some(&Value::Text("close".into())) {
            return Ok(Some(Unpacked::Close));
        }
        let Some(bytes) = self.chunk(now, &value)? else {
            return Ok(None);
        };
        let whole = unpack(&bytes)?;
        if whole.get("__peerData").is_some_and(Value::is_truthy) {
            return Err(UnpackError::BadChunk("holds another chunk"));
        }
        Ok(Some(Unpacked::Value(whole)))
    }

    /// Keeps one chunk; the whole packed message once its last chunk came.
    fn chunk(&mut self, now: Instant, chunk: &Value) -> Result<Option<Vec<u8>>, UnpackError> {
        use UnpackError::BadChunk;
        let int = |key: &str| match chunk.get(key) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        };
        let (Some(id), Some(n), Some(total)) = (int("__peerData"), int("n"), int("total")) else {
            return Err(BadChunk("has no numeric id, index or count"));
        };
        let Some(Value::Binary(data)) = chunk.get("data") else {
            return Err(BadChunk("carries no bytes"));
        };
        let most = self.limits.max_message_len.div_ceil(CHUNK_MTU).max(1) as i64;
        if total < 1 || total > most {
            return Err(BadChunk("says its message is larger than the limit"));
        }
        if n < 0 || n >= total || data.len() > CHUNK_MTU {
            return Err(BadChunk(
                "has an index past its count, or more bytes than a chunk",
            ));
        }
        if !self.partial.contains_key(&id) && self.partial.len() >= self.limits.max_partial_messages
        {
            return Err(BadChunk(
                "starts a message past the number unfinished at once",
            ));
        }
        let total = total as usize;
        let partial = self.partial.entry(id).or_insert_with(|| Partial {
            total,
            parts: vec![None; total],
            received: 0,
            last_at: now,
        });
        if partial.total != total {
            return Err(BadChunk("gives another count than the chunks before it"));
        }
        let slot = &mut partial.parts[n as usize];
        if slot.is_some() {
            return Err(BadChunk("came twice"));
        }
        *slot = Some(data.clone());
        partial.received += 1;
        partial.last_at = now;
        if partial.received < partial.total {
            return Ok(None);
        }
        let Some(done) = self.partial.remove(&id) else {
            return Ok(None);
        };
        let whole: Vec<u8> = done.parts.into_iter().flatten().flatten().collect();
        if whole.len() > self.limits.max_message_len {
            return Err(BadChunk("makes a message larger than the limit"));
        }
        Ok(Some(whole))
    }
}

#[cfg(test)]
mod tests;
