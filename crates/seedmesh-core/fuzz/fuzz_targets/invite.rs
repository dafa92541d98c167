//! Text pasted or opened as an invite or an answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedmesh_core::invite::{Invite, pasted_text};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(invite) = Invite::decode(pasted_text(&text)) {
        let _ = invite.to_sdp();
        let _ = Invite::decode(&invite.encode());
    }
});
