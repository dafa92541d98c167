//! File transfer: a file cut into binary chunks that each carry where they belong, and the
//! receiving side that puts them back together with bounded memory.
//!
//! A transfer is announced with a [`MeshMessage::File`](crate::mesh::MeshMessage::File)
//! (ID, name, size, type); its bytes follow as binary data-channel messages made by
//! [`encode_chunk`]; the receiver answers
//! [`MeshMessage::FileReceived`](crate::mesh::MeshMessage::FileReceived) when all arrived.
//! Chunks need an ordered channel: each must start where the previous one ended.

use core::fmt;
use core::hash::Hash;
use std::collections::HashMap;

use core::time::Duration;

use crate::time::Instant;

/// Marks a binary message as a file chunk.
const MAGIC: &[u8; 4] = b"smf1";
/// The size of the chunks [`chunks`] cuts.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// The largest file a page accepts.
pub const MAX_FILE_SIZE: u64 = 256 * 1024 * 1024;
/// How many files may arrive at once from all peers together.
pub const MAX_INCOMING: usize = 8;
/// How many files may arrive at once from one sender, so that one peer cannot take every slot.
pub const MAX_INCOMING_PER_SENDER: usize = 2;
/// How long a file may go without new bytes before it is dropped and its slot freed.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest transfer ID, in bytes.
pub const MAX_ID_LEN: usize = 160;

/// Why a chunk or an announced file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferError {
    /// Not a file chunk: too short, or without the chunk marker.
    NotAChunk,
    /// A chunk of a transfer that was never announced, or already finished.
    UnknownTransfer(String),
    /// A chunk that does not start where the previous one ended.
    OutOfOrder {
        /// Where the next chunk was expected.
        expected: u64,
        /// Where this one starts.
        got: u64,
    },
    /// More bytes than the announced size.
    TooLong {
        /// The announced size.
        size: u64,
    },
    /// The announced file is larger than [`MAX_FILE_SIZE`].
    FileTooLarge {
        /// The announced size.
        size: u64,
    },
    /// [`MAX_INCOMING`] files are arriving already.
    TooManyTransfers,
    /// [`MAX_INCOMING_PER_SENDER`] files are arriving from this sender already.
    TooManyFromSender,
    /// No bytes came for [`STALL_TIMEOUT`].
    Stalled {
        /// Bytes that had arrived.
        received: u64,
    },
    /// The sender's link closed before the file was whole.
    SenderGone {
        /// Bytes that had arrived.
        received: u64,
    },
    /// The announcement reuses the ID of a transfer in progress, or its ID is unusable.
    BadId,
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAChunk => write!(f, "a peer sent binary data that is not part of a file"),
            Self::UnknownTransfer(id) => {
                write!(f, "a peer sent part of a file it never announced ({id})")
            }
            Self::OutOfOrder { expected, got } => write!(
                f,
                "a file's bytes arrived out of order (expected offset {expected}, got {got}); the transfer was dropped"
            ),
            Self::TooLong { size } => {
                write!(
                    f,
                    "a peer sent more than the {size} bytes it announced; the transfer was dropped"
                )
            }
            Self::FileTooLarge { size } => write!(
                f,
                "a peer offered a file of {size} bytes; the limit is {MAX_FILE_SIZE} bytes"
            ),
            Self::TooManyTransfers => write!(
                f,
                "{MAX_INCOMING} files are arriving already; the peer should send this one later"
            ),
            Self::TooManyFromSender => write!(
                f,
                "this peer is sending {MAX_INCOMING_PER_SENDER} files already; it should send this one later"
            ),
            Self::Stalled { received } => write!(
                f,
                "no bytes came for {} s after {received}; the transfer was dropped",
                STALL_TIMEOUT.as_secs()
            ),
            Self::SenderGone { received } => write!(
                f,
                "the sender left after {received} bytes; the transfer was dropped"
            ),
            Self::BadId => write!(
                f,
                "a peer announced a file with an unusable or duplicate ID"
            ),
        }
    }
}

impl std::error::Error for TransferError {}

/// One binary chunk: the marker, the transfer ID, the offset, then the bytes.
#[must_use]
pub fn encode_chunk(id: &str, offset: u64, data: &[u8]) -> Vec<u8> {
    let id = &id.as_bytes()[..id.len().min(MAX_ID_LEN)];
    let mut out = Vec::with_capacity(4 + 1 + id.len() + 8 + data.len());
    out.extend_from_slice(MAGIC);
    out.push(id.len() as u8);
    out.extend_from_slice(id);
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// A chunk read back: the transfer ID, the offset and the bytes.
pub fn decode_chunk(bytes: &[u8]) -> Result<(&str, u64, &[u8]), TransferError> {
    let rest = bytes.strip_prefix(MAGIC).ok_or(TransferError::NotAChunk)?;
    let (&id_len, rest) = rest.split_first().ok_or(TransferError::NotAChunk)?;
    let id_len = usize::from(id_len);
    if rest.len() < id_len + 8 {
        return Err(TransferError::NotAChunk);
    }
    let (id, rest) = rest.split_at(id_len);
    let id = core::str::from_utf8(id).map_err(|_| TransferError::NotAChunk)?;
    let (offset, data) = rest.split_at(8);
    let mut be = [0u8; 8];
    be.copy_from_slice(offset);
    Ok((id, u64::from_be_bytes(be), data))
}

/// The chunks of `file`, in order, for transfer `id`.
pub fn chunks<'a>(id: &'a str, file: &'a [u8]) -> impl Iterator<Item = Vec<u8>> + 'a {
    file.chunks(CHUNK_SIZE)
        .enumerate()
        .map(move |(n, data)| encode_chunk(id, (n * CHUNK_SIZE) as u64, data))
}

/// What a chunk did to its transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// More bytes arrived.
    Partial {
        /// The transfer.
        id: String,
        /// Bytes so far.
        received: u64,
        /// The announced size.
        size: u64,
    },
    /// The last bytes arrived: here is the file.
    Complete {
        /// The transfer.
        id: String,
        /// The file's bytes.
        bytes: Vec<u8>,
    },
}

#[derive(Debug)]
struct Incoming {
    size: u64,
    bytes: Vec<u8>,
    /// When bytes last came (or the announcement).
    active_at: Instant,
}

/// A transfer that ended before its file was whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped<S> {
    /// Its sender.
    pub sender: S,
    /// The transfer's ID.
    pub id: String,
    /// Why.
    pub error: TransferError,
}

/// Files arriving from peers, each under its sender (`S`: whatever names the link the file
/// comes on) and the sender's ID for it: a sender can only write into files it announced.
#[derive(Debug)]
pub struct Receiver<S> {
    incoming: HashMap<(S, String), Incoming>,
}

impl<S> Default for Receiver<S> {
    fn default() -> Self {
        Self {
            incoming: HashMap::new(),
        }
    }
}

impl<S: Clone + Eq + Hash> Receiver<S> {
    /// Expects a file of `size` bytes from `sender` as its transfer `id`.
    pub fn announce(
        &mut self,
        now: Instant,
        sender: &S,
        id: &str,
        size: u64,
    ) -> Result<(), TransferError> {
        if size > MAX_FILE_SIZE {
            return Err(TransferError::FileTooLarge { size });
        }
        let key = (sender.clone(), id.to_owned());
        if id.is_empty() || id.len() > MAX_ID_LEN || self.incoming.contains_key(&key) {
            return Err(TransferError::BadId);
        }
        if self.incoming.len() >= MAX_INCOMING {
            return Err(TransferError::TooManyTransfers);
        }
        if self.incoming.keys().filter(|(s, _)| s == sender).count() >= MAX_INCOMING_PER_SENDER {
            return Err(TransferError::TooManyFromSender);
        }
        // Memory grows as bytes arrive, never ahead of them.
        let bytes = Vec::new();
        self.incoming.insert(
            key,
            Incoming {
                size,
                bytes,
                active_at: now,
            },
        );
        Ok(())
    }

    /// Adds one chunk from `sender`. A bad chunk drops its transfer (if it names one of the
    /// sender's) and says why.
    pub fn receive(
        &mut self,
        now: Instant,
        sender: &S,
        chunk: &[u8],
    ) -> Result<Progress, TransferError> {
        let (id, offset, data) = decode_chunk(chunk)?;
        let key = (sender.clone(), id.to_owned());
        let incoming = self
            .incoming
            .get_mut(&key)
            .ok_or_else(|| TransferError::UnknownTransfer(id.to_owned()))?;
        let received = incoming.bytes.len() as u64;
        let error = if offset != received {
            Some(TransferError::OutOfOrder {
                expected: received,
                got: offset,
            })
        } else if received + data.len() as u64 > incoming.size {
            Some(TransferError::TooLong {
                size: incoming.size,
            })
        } else {
            None
        };
        if let Some(error) = error {
            self.incoming.remove(&key);
            return Err(error);
        }
        incoming.bytes.extend_from_slice(data);
        incoming.active_at = now;
        let received = incoming.bytes.len() as u64;
        if received == incoming.size {
            let done = self
                .incoming
                .remove(&key)
                .map(|i| i.bytes)
                .unwrap_or_default();
            return Ok(Progress::Complete {
                id: id.to_owned(),
                bytes: done,
            });
        }
        Ok(Progress::Partial {
            id: id.to_owned(),
            received,
            size: incoming.size,
        })
    }

    /// Completes `sender`'s zero-byte file at once: it has no chunks.
    pub fn take_empty(&mut self, sender: &S, id: &str) -> Option<Progress> {
        let key = (sender.clone(), id.to_owned());
        if self.incoming.get(&key).is_some_and(|i| i.size == 0) {
            self.incoming.remove(&key);
            return Some(Progress::Complete {
                id: id.to_owned(),
                bytes: Vec::new(),
            });
        }
        None
    }

    /// Drops every file arriving from `sender` (its link closed), and says which.
    pub fn sender_gone(&mut self, sender: &S) -> Vec<Dropped<S>> {
        self.drop_where(
            |(s, _), _| s == sender,
            |received| TransferError::SenderGone { received },
        )
    }

    /// Drops every file that got no bytes for [`STALL_TIMEOUT`], and says which.
    pub fn expire(&mut self, now: Instant) -> Vec<Dropped<S>> {
        self.drop_where(
            |_, incoming| now >= incoming.active_at + STALL_TIMEOUT,
            |received| TransferError::Stalled { received },
        )
    }

    /// When the next file stalls, if any is arriving.
    #[must_use]
    pub fn next_expiry(&self) -> Option<Instant> {
        self.incoming
            .values()
            .map(|i| i.active_at + STALL_TIMEOUT)
            .min()
    }

    /// How many files are arriving.
    #[must_use]
    pub fn len(&self) -> usize {
        self.incoming.len()
    }

    /// True when no file is arriving.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.incoming.is_empty()
    }

    fn drop_where(
        &mut self,
        doomed: impl Fn(&(S, String), &Incoming) -> bool,
        error: impl Fn(u64) -> TransferError,
    ) -> Vec<Dropped<S>> {
        let keys: Vec<(S, String)> = self
            .incoming
            .iter()
            .filter(|(key, incoming)| doomed(key, incoming))
            .map(|(key, _)| key.clone())
            .collect();
        keys.into_iter()
            .filter_map(|key| {
                let incoming = self.incoming.remove(&key)?;
                Some(Dropped {
                    sender: key.0,
                    id: key.1,
                    error: error(incoming.bytes.len() as u64),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: Instant = Instant::from_millis(0);
    const ALICE: u8 = 1;
    const MALLORY: u8 = 2;

    #[test]
    fn a_file_survives_the_round_trip() {
        let file: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
        let mut receiver = Receiver::default();
        receiver
            .announce(T0, &ALICE, "f1", file.len() as u64)
            .unwrap();
        let mut last = None;
        for chunk in chunks("f1", &file) {
            last = Some(receiver.receive(T0, &ALICE, &chunk).unwrap());
        }
        assert_eq!(
            last,
            Some(Progress::Complete {
                id: "f1".into(),
                bytes: file
            })
        );
    }

    #[test]
    fn bad_chunks_are_refused_with_reasons() {
        let mut receiver = Receiver::default();
        assert_eq!(
            receiver.receive(T0, &ALICE, b"nope"),
            Err(TransferError::NotAChunk)
        );
        assert_eq!(
            receiver.receive(T0, &ALICE, &encode_chunk("x", 0, b"a")),
            Err(TransferError::UnknownTransfer("x".into()))
        );
        receiver.announce(T0, &ALICE, "x", 4).unwrap();
        assert_eq!(
            receiver.receive(T0, &ALICE, &encode_chunk("x", 2, b"a")),
            Err(TransferError::OutOfOrder {
                expected: 0,
                got: 2
            })
        );
        receiver.announce(T0, &ALICE, "y", 2).unwrap();
        assert_eq!(
            receiver.receive(T0, &ALICE, &encode_chunk("y", 0, b"abc")),
            Err(TransferError::TooLong { size: 2 })
        );
        assert_eq!(
            receiver.announce(T0, &ALICE, "z", MAX_FILE_SIZE + 1),
            Err(TransferError::FileTooLarge {
                size: MAX_FILE_SIZE + 1
            })
        );
    }

    #[test]
    fn empty_files_complete_without_chunks() {
        let mut receiver = Receiver::default();
        receiver.announce(T0, &ALICE, "e", 0).unwrap();
        assert_eq!(chunks("e", &[]).count(), 0);
        assert!(receiver.take_empty(&MALLORY, "e").is_none());
        assert!(matches!(
            receiver.take_empty(&ALICE, "e"),
            Some(Progress::Complete { .. })
        ));
    }

    #[test]
    fn a_sender_cannot_write_into_another_senders_file() {
        let mut receiver = Receiver::default();
        receiver.announce(T0, &ALICE, "f", 4).unwrap();
        // Mallory names Alice's transfer: it is not Mallory's, so nothing of it is touched.
        assert_eq!(
            receiver.receive(T0, &MALLORY, &encode_chunk("f", 0, b"evil")),
            Err(TransferError::UnknownTransfer("f".into()))
        );
        // Mallory announcing the same ID gets a file of its own, not Alice's.
        receiver.announce(T0, &MALLORY, "f", 4).unwrap();
        receiver
            .receive(T0, &MALLORY, &encode_chunk("f", 0, b"evil"))
            .unwrap();
        assert_eq!(
            receiver.receive(T0, &ALICE, &encode_chunk("f", 0, b"good")),
            Ok(Progress::Complete {
                id: "f".into(),
                bytes: b"good".to_vec()
            })
        );
    }

    #[test]
    fn one_sender_cannot_take_every_slot() {
        let mut receiver = Receiver::default();
        for n in 0..MAX_INCOMING_PER_SENDER {
            receiver
                .announce(T0, &MALLORY, &format!("m{n}"), 10)
                .unwrap();
        }
        assert_eq!(
            receiver.announce(T0, &MALLORY, "one-more", 10),
            Err(TransferError::TooManyFromSender)
        );
        receiver.announce(T0, &ALICE, "a", 10).unwrap();
    }

    #[test]
    fn stalled_files_and_files_of_gone_senders_free_their_slots() {
        let mut receiver = Receiver::default();
        receiver.announce(T0, &ALICE, "a", 10).unwrap();
        receiver.announce(T0, &MALLORY, "m", 10).unwrap();
        let later = T0 + Duration::from_secs(30);
        receiver
            .receive(later, &ALICE, &encode_chunk("a", 0, b"12345"))
            .unwrap();
        assert_eq!(receiver.next_expiry(), Some(T0 + STALL_TIMEOUT));
        // Mallory announced and sent nothing: at the stall timeout its slot is freed.
        let dropped = receiver.expire(T0 + STALL_TIMEOUT);
        assert_eq!(
            dropped,
            vec![Dropped {
                sender: MALLORY,
                id: "m".into(),
                error: TransferError::Stalled { received: 0 }
            }]
        );
        assert_eq!(receiver.len(), 1);
        assert_eq!(
            receiver.sender_gone(&ALICE),
            vec![Dropped {
                sender: ALICE,
                id: "a".into(),
                error: TransferError::SenderGone { received: 5 }
            }]
        );
        assert!(receiver.is_empty());
        assert_eq!(receiver.next_expiry(), None);
    }

    proptest! {
        #[test]
        fn arbitrary_chunks_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut receiver = Receiver::default();
            receiver.announce(T0, &ALICE, "a", 100).unwrap();
            let _ = receiver.receive(T0, &ALICE, &bytes);
            let mut marked = b"smf1".to_vec();
            marked.extend_from_slice(&bytes);
            let _ = receiver.receive(T0, &ALICE, &marked);
        }

        #[test]
        fn chunks_round_trip(id in "[a-z0-9-]{1,40}", offset in any::<u64>(), data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let encoded = encode_chunk(&id, offset, &data);
            prop_assert_eq!(decode_chunk(&encoded), Ok((id.as_str(), offset, data.as_slice())));
        }
    }
}
