//! Data-channel frames from a peer, for each protocol a connection may speak, under the default
//! limits and a mesh link's. The first byte picks the protocol and limits; the rest is cut
//! into frames at 0xff 0xfe, each text or binary by its first byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedmesh_core::Instant;
use seedmesh_core::channel::{Decoder, Frame, Limits, Protocol};
use seedmesh_core::signaling::Serialization;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let protocol = match pick % 3 {
        0 => Protocol::Seedmesh,
        1 => Protocol::PeerJs(Serialization::Json),
        _ => Protocol::PeerJs(Serialization::Raw),
    };
    let limits = if pick & 0x80 == 0 {
        Limits::mesh()
    } else {
        Limits::default()
    };
    let Ok(mut decoder) = Decoder::new(protocol, limits) else {
        return;
    };
    let mut at = 0u64;
    for frame in rest.split(|b| *b == 0xff) {
        let frame = match frame.split_first() {
            Some((&kind, body)) if kind & 1 == 0 => {
                Frame::Text(String::from_utf8_lossy(body).into_owned())
            }
            _ => Frame::Binary(frame.to_vec()),
        };
        at += 1_000;
        let _ = decoder.decode(Instant::from_millis(at), frame);
        assert!(
            decoder.buffered_len() <= limits.max_partial_messages * (limits.max_message_len + 1)
        );
    }
});
