//! What a PeerJS `binary` peer sends: anything, as frames (each a big-endian u16 length and
//! that many bytes), read by a reassembler with time passing; and the whole input read as one
//! BinaryPack message, packed again if it was one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedmesh_core::Instant;
use seedmesh_core::binarypack::{Reassembler, pack, unpack};
use seedmesh_core::channel::Limits;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = unpack(data) {
        let _ = pack(&value);
    }
    let mut reassembler = Reassembler::new(Limits::default());
    let mut rest = data;
    let mut now = 0u64;
    while let [high, low, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*high, *low])).min(tail.len());
        let (frame, after) = tail.split_at(len);
        now += 1000;
        let _ = reassembler.take(Instant::from_millis(now), frame);
        rest = after;
    }
});
