//! A message from a PeerServer (or relayed through the mesh), as text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedmesh_core::signaling::ServerMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = ServerMessage::parse(text);
    }
});
