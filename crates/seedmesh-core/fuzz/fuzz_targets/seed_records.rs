//! An RRset of TXT records (strings split at 0xff, records at 0xfe), read as seed records, with
//! and without a pinned key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedmesh_core::discovery::dns::TxtRecord;
use seedmesh_core::discovery::interpret;
use seedmesh_core::discovery::signature::{PublicKey, SecretKey};

const NAME: &str = "_seedmesh.example.org";

/// The key a page would pin, made once.
fn pinned() -> PublicKey {
    static KEY: std::sync::OnceLock<PublicKey> = std::sync::OnceLock::new();
    *KEY.get_or_init(|| SecretKey::from_seed([7; 32]).public_key())
}

fuzz_target!(|data: &[u8]| {
    let records: Vec<TxtRecord> = data
        .split(|b| *b == 0xfe)
        .map(|record| TxtRecord {
            strings: record.split(|b| *b == 0xff).map(<[u8]>::to_vec).collect(),
        })
        .collect();
    let _ = interpret(NAME, &records, &[pinned()]);
    let _ = interpret(NAME, &records, &[]);
});
