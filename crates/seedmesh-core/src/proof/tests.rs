use super::*;
use proptest::prelude::*;

fn fingerprint(byte: u8) -> Fingerprint {
    let hex: Vec<String> = (0..32).map(|i| format!("{:02X}", byte ^ i)).collect();
    Fingerprint::parse(&format!("sha-256 {}", hex.join(":"))).unwrap()
}

/// One connection as each end sees it.
fn connection(a: u8, b: u8) -> (ChannelBinding, ChannelBinding) {
    let (fa, fb) = (fingerprint(a), fingerprint(b));
    (
        ChannelBinding {
            local: fa.clone(),
            remote: fb.clone(),
        },
        ChannelBinding {
            local: fb,
            remote: fa,
        },
    )
}

#[test]
fn a_proof_verifies_on_its_own_connection_only() {
    let alice = PeerKey::from_secret([1; 32]);
    let (alices_view, bobs_view) = connection(0x10, 0x20);
    let proof = alice.prove(&alices_view);
    assert_eq!(proof.verify(&alice.peer_id(), &bobs_view), Ok(()));
    // Replayed on another connection, or shown to Alice herself, it is refused.
    let (_, other) = connection(0x10, 0x30);
    assert_eq!(
        proof.verify(&alice.peer_id(), &other),
        Err(ProofError::NotThisConnection)
    );
    assert_eq!(
        proof.verify(&alice.peer_id(), &alices_view),
        Err(ProofError::NotThisConnection)
    );
}

#[test]
fn a_peer_in_the_middle_cannot_pass_on_a_proof() {
    // A PeerServer swapped both descriptions for its own certificates: Alice's DTLS goes to
    // Mallory (fingerprint 0x66), and so does Bob's (0x77).
    let alice = PeerKey::from_secret([1; 32]);
    let alices_view = ChannelBinding {
        local: fingerprint(0x10),
        remote: fingerprint(0x66),
    };
    let bobs_view = ChannelBinding {
        local: fingerprint(0x20),
        remote: fingerprint(0x77),
    };
    let relayed = alice.prove(&alices_view);
    assert_eq!(
        relayed.verify(&alice.peer_id(), &bobs_view),
        Err(ProofError::NotThisConnection)
    );
}

#[test]
fn no_one_can_claim_an_id_its_key_does_not_make() {
    let (alice, mallory) = (PeerKey::from_secret([1; 32]), PeerKey::from_secret([2; 32]));
    let (mallorys_view, bobs_view) = connection(0x10, 0x20);
    let proof = mallory.prove(&mallorys_view);
    assert_eq!(
        proof.verify(&alice.peer_id(), &bobs_view),
        Err(ProofError::WrongId {
            claimed: alice.peer_id(),
            proven: mallory.peer_id()
        })
    );
    let mut bad = proof.clone();
    bad.key = "not a key".into();
    assert_eq!(
        bad.verify(&mallory.peer_id(), &bobs_view),
        Err(ProofError::BadKey)
    );
    let mut bad = proof;
    bad.signature = URL_SAFE_NO_PAD.encode([0u8; 10]);
    assert_eq!(
        bad.verify(&mallory.peer_id(), &bobs_view),
        Err(ProofError::BadSignature)
    );
}

#[test]
fn ids_are_made_from_keys_and_keys_export_and_import() {
    let key = PeerKey::from_secret([7; 32]);
    let id = key.peer_id();
    assert!(is_key_id(&id), "{id}");
    assert_eq!(id.as_str().len(), 24);
    assert_ne!(PeerKey::from_secret([8; 32]).peer_id(), id);
    assert!(!is_key_id(&PeerId::parse("room-3").unwrap()));
    let text = key.to_text();
    assert!(text.starts_with(KEY_TEXT_PREFIX));
    assert_eq!(PeerKey::from_text(&format!("  {text}\n")), Ok(key.clone()));
    assert_eq!(
        PeerKey::from_text("seedmesh-key-v1:short"),
        Err(ProofError::BadExport)
    );
    assert_eq!(
        PeerKey::from_text(&text[KEY_TEXT_PREFIX.len()..]),
        Err(ProofError::BadExport)
    );
    // The secret never shows in debug output.
    assert!(!format!("{key:?}").contains(&text[KEY_TEXT_PREFIX.len()..]));
    assert_eq!(short_fingerprint(&id).len(), 9);
}

#[test]
fn fingerprints_are_read_from_descriptions() {
    let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:SHA-256 ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89\r\na=setup:actpass\r\n";
    let fingerprint = Fingerprint::from_sdp(sdp).unwrap();
    assert_eq!(
        fingerprint.as_str(),
        "sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
    );
    assert_eq!(Fingerprint::from_sdp("v=0\r\n"), None);
    assert_eq!(Fingerprint::parse("sha-256 zz:00"), None);
    assert_eq!(Fingerprint::parse("sha-256"), None);
}

proptest! {
    #[test]
    fn arbitrary_proofs_and_texts_never_panic(key in ".{0,60}", signature in ".{0,100}", text in ".{0,200}") {
        let (_, view) = connection(1, 2);
        let proof = Proof { key, signature };
        let claimed = PeerKey::from_secret([3; 32]).peer_id();
        prop_assert!(proof.verify(&claimed, &view).is_err());
        let _ = PeerKey::from_text(&text);
        let _ = Fingerprint::parse(&text);
        let _ = Fingerprint::from_sdp(&text);
    }

    #[test]
    fn a_flipped_signature_bit_is_refused(secret in any::<[u8; 32]>(), bit in 0usize..512) {
        let key = PeerKey::from_secret(secret);
        let (mine, theirs) = connection(5, 6);
        let mut proof = key.prove(&mine);
        prop_assert_eq!(proof.verify(&key.peer_id(), &theirs), Ok(()));
        let mut bytes = URL_SAFE_NO_PAD.decode(&proof.signature).unwrap();
        bytes[bit / 8] ^= 1 << (bit % 8);
        proof.signature = URL_SAFE_NO_PAD.encode(bytes);
        prop_assert!(proof.verify(&key.peer_id(), &theirs).is_err());
    }
}
