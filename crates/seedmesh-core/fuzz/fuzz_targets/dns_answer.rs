//! A DoH answer, in wire format and as JSON, read for a seed name, and what it holds read as
//! seed records with a key pinned.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedmesh_core::discovery::dns::{parse_json, parse_wire};
use seedmesh_core::discovery::interpret;
use seedmesh_core::discovery::signature::{PublicKey, SecretKey};

const NAME: &str = "_seedmesh.example.org";

/// The key a page would pin, made once.
fn pinned() -> PublicKey {
    static KEY: std::sync::OnceLock<PublicKey> = std::sync::OnceLock::new();
    *KEY.get_or_init(|| SecretKey::from_seed([7; 32]).public_key())
}

fuzz_target!(|data: &[u8]| {
    let pinned = [pinned()];
    for answer in [parse_wire(data, NAME), parse_json(data, NAME)]
        .into_iter()
        .flatten()
    {
        let _ = interpret(NAME, &answer.records, &pinned);
        let _ = interpret(NAME, &answer.records, &[]);
    }
});
