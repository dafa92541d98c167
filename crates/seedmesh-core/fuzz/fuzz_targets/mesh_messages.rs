//! What a connected peer sends on a mesh link once it introduced itself: anything, as text
//! (read as mesh messages) or binary frames (read as file chunks), cut at 0xff, with time
//! passing. (The hello's proof is checked by the endpoint, whose hostile-frame property test
//! covers the whole; this target drives the mesh and the file receiver directly, fast enough
//! for tens of millions of inputs.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedmesh_core::mesh::message::{MeshMessage, PROTOCOL_VERSION};
use seedmesh_core::mesh::{Mesh, MeshConfig, MeshOutput};
use seedmesh_core::transfer::Receiver;
use seedmesh_core::{Instant, PeerId};

fuzz_target!(|data: &[u8]| {
    let me = PeerId::parse("page").expect("an ID");
    let them = PeerId::parse("them").expect("an ID");
    let mut mesh = Mesh::new(me, "page", MeshConfig::default()).expect("a mesh");
    let mut files: Receiver<u8> = Receiver::default();
    let t0 = Instant::from_millis(0);
    mesh.start(t0);
    let Some(link) = mesh.accept(t0, them.clone()) else {
        return;
    };
    mesh.handle_link_open(t0, link);
    let hello = MeshMessage::Hello {
        id: them.to_string(),
        name: "them".into(),
        version: PROTOCOL_VERSION,
        seen: false,
        key: None,
        sig: None,
    };
    mesh.handle_message(t0, link, hello);
    let mut now = 0u64;
    for frame in data.split(|b| *b == 0xff) {
        now += 250;
        let at = Instant::from_millis(now);
        match frame.split_first() {
            Some((first, chunk)) if first & 1 == 1 => {
                let _ = files.receive(at, &0, chunk);
                let _ = files.expire(at);
            }
            _ => {
                if let Ok(message) = MeshMessage::decode(frame) {
                    mesh.handle_message(at, link, message);
                }
            }
        }
        mesh.handle_timeout(at);
        while let Some(output) = mesh.poll_output() {
            if let MeshOutput::FileOffered(offer) = output {
                let _ = files.announce(at, &0, &offer.transfer, offer.size);
            }
        }
    }
});
