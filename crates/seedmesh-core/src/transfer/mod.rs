//! File transfer: a file cut into binary chunks that each carry where they belong, and the
//! receiving side that puts them back together with bounded memory.
//!
//! A transfer is announced with a [`MeshMessage::File`](crate::mesh::MeshMessage::File)
//! (ID, name, size, type); its bytes follow as binary data-channel messages made by
//! [`encode_chunk`]; the receiver answers
//! [`MeshMessage::FileReceived`](crate::mesh::MeshMessage::FileReceived) when all arrived.
//! Chunks need an ordered channel: each must start where the previous one ended.

use core::fmt;
use std::collections::HashMap;

/// Marks a binary message as a file chunk.
const MAGIC: &[u8; 4] = b"smf1";
/// The size of the chunks [`chunks`] cuts.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// The largest file a page accepts.
pub const MAX_FILE_SIZE: u64 = 256 * 1024 * 1024;
/// How many files may arrive at once from all peers together.
pub const MAX_INCOMING: usize = 8;
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
}

/// Files arriving from peers.
#[derive(Debug, Default)]
pub struct Receiver {
    incoming: HashMap<String, Incoming>,
}

impl Receiver {
    /// Expects a file of `size` bytes as transfer `id`.
    pub fn announce(&mut self, id: &str, size: u64) -> Result<(), TransferError> {
        if size > MAX_FILE_SIZE {
            return Err(TransferError::FileTooLarge { size });
        }
        if id.is_empty() || id.len() > MAX_ID_LEN || self.incoming.contains_key(id) {
            return Err(TransferError::BadId);
        }
        if self.incoming.len() >= MAX_INCOMING {
            return Err(TransferError::TooManyTransfers);
        }
        // Memory grows as bytes arrive, never ahead of them.
        let bytes = Vec::new();
        self.incoming
            .insert(id.to_owned(), Incoming { size, bytes });
        Ok(())
    }

    /// Adds one chunk. A bad chunk drops its transfer (if it names one) and says why.
    pub fn receive(&mut self, chunk: &[u8]) -> Result<Progress, TransferError> {
        let (id, offset, data) = decode_chunk(chunk)?;
        let incoming = self
            .incoming
            .get_mut(id)
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
            self.incoming.remove(id);
            return Err(error);
        }
        incoming.bytes.extend_from_slice(data);
        let received = incoming.bytes.len() as u64;
        if received == incoming.size {
            let done = self
                .incoming
                .remove(id)
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

    /// Completes a zero-byte file at once: it has no chunks.
    pub fn take_empty(&mut self, id: &str) -> Option<Progress> {
        if self.incoming.get(id).is_some_and(|i| i.size == 0) {
            self.incoming.remove(id);
            return Some(Progress::Complete {
                id: id.to_owned(),
                bytes: Vec::new(),
            });
        }
        None
    }

    /// Forgets every transfer (a peer left, say).
    pub fn abandon(&mut self, id: &str) {
        self.incoming.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_file_survives_the_round_trip() {
        let file: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
        let mut receiver = Receiver::default();
        receiver.announce("f1", file.len() as u64).unwrap();
        let mut last = None;
        for chunk in chunks("f1", &file) {
            last = Some(receiver.receive(&chunk).unwrap());
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
        assert_eq!(receiver.receive(b"nope"), Err(TransferError::NotAChunk));
        assert_eq!(
            receiver.receive(&encode_chunk("x", 0, b"a")),
            Err(TransferError::UnknownTransfer("x".into()))
        );
        receiver.announce("x", 4).unwrap();
        assert_eq!(
            receiver.receive(&encode_chunk("x", 2, b"a")),
            Err(TransferError::OutOfOrder {
                expected: 0,
                got: 2
            })
        );
        receiver.announce("y", 2).unwrap();
        assert_eq!(
            receiver.receive(&encode_chunk("y", 0, b"abc")),
            Err(TransferError::TooLong { size: 2 })
        );
        assert_eq!(
            receiver.announce("z", MAX_FILE_SIZE + 1),
            Err(TransferError::FileTooLarge {
                size: MAX_FILE_SIZE + 1
            })
        );
    }

    #[test]
    fn empty_files_complete_without_chunks() {
        let mut receiver = Receiver::default();
        receiver.announce("e", 0).unwrap();
        assert_eq!(chunks("e", &[]).count(), 0);
        assert!(matches!(
            receiver.take_empty("e"),
            Some(Progress::Complete { .. })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_chunks_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut receiver = Receiver::default();
            receiver.announce("a", 100).unwrap();
            let _ = receiver.receive(&bytes);
            let mut marked = b"smf1".to_vec();
            marked.extend_from_slice(&bytes);
            let _ = receiver.receive(&marked);
        }

        #[test]
        fn chunks_round_trip(id in "[a-z0-9-]{1,40}", offset in any::<u64>(), data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let encoded = encode_chunk(&id, offset, &data);
            prop_assert_eq!(decode_chunk(&encoded), Ok((id.as_str(), offset, data.as_slice())));
        }
    }
}
