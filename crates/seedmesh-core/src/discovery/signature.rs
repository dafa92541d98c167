//! Signed seed records: an ed25519 signature entry over the canonical form of the rest of the
//! RRset, checked against public keys pinned in the build.
//!
//! The signed message is
//!
//! ```text
//! seedmesh-sig-v1\n<seed name, lowercase, no trailing dot>\n<entry>\n<entry>...
//! ```
//!
//! with one line per entry that is not a `sig` entry: its tags trimmed, keys lowercase, joined
//! by `"; "` in the order written (an entry that does not split into tags: its bytes, trimmed),
//! the lines sorted bytewise and deduplicated. Resolvers shuffle RRsets and zone editors split
//! strings as they like; neither changes the message. Adding, removing or changing any entry does.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::seed::{Entry, ProblemKind, ReadSet};

/// The domain-separation line that starts every signed message.
pub const CONTEXT: &str = "seedmesh-sig-v1";

/// The algorithm prefix of signature and key values.
pub const ALGORITHM: &str = "ed25519";

/// A pinned ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Reads `ed25519:BASE64` or bare base64 of 32 bytes (padding optional).
    ///
    /// # Errors
    /// [`KeyError`] if the text is not such a key.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let b64 = text.strip_prefix("ed25519:").unwrap_or(text);
        let bytes = decode(b64).ok_or(KeyError::NotBase64)?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| KeyError::WrongLength(b.len()))?;
        VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::NotAPoint)?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{ALGORITHM}:{}", STANDARD.encode(self.0))
    }
}

/// Why a public or secret key could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is not base64; give `ed25519:` and the base64 of 32 bytes.
    NotBase64,
    /// The key decodes to the wrong number of bytes; an ed25519 key is 32 bytes.
    WrongLength(usize),
    /// The bytes are not an ed25519 public key.
    NotAPoint,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotBase64 => {
                f.write_str("the key is not base64; give ed25519:<base64 of 32 bytes>")
            }
            Self::WrongLength(n) => write!(f, "the key is {n} bytes; an ed25519 key is 32"),
            Self::NotAPoint => f.write_str("the bytes are not an ed25519 public key"),
        }
    }
}

impl std::error::Error for KeyError {}

fn decode(b64: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(b64)
        .or_else(|_| STANDARD_NO_PAD.decode(b64))
        .ok()
}

/// Reads a `sig` tag's value: `ed25519:` and the base64 of 64 bytes.
///
/// # Errors
/// [`ProblemKind::BadValue`] if the value is not that.
pub fn read_signature_value(value: &str) -> Result<Vec<u8>, ProblemKind> {
    let bad = |why: &str| ProblemKind::BadValue {
        key: "sig".into(),
        why: why.into(),
    };
    let b64 = value
        .strip_prefix("ed25519:")
        .ok_or_else(|| bad("must start with ed25519:"))?;
    let bytes = decode(b64).ok_or_else(|| bad("not base64"))?;
    if bytes.len() != 64 {
        return Err(bad("an ed25519 signature is 64 bytes"));
    }
    Ok(bytes)
}

/// The message a signature over `set` covers, for the seed name `seed_name`.
#[must_use]
pub fn signed_message(seed_name: &str, set: &ReadSet) -> Vec<u8> {
    let mut message = format!(
        "{CONTEXT}\n{}\n",
        seed_name.trim_end_matches('.').to_ascii_lowercase()
    )
    .into_bytes();
    for (i, line) in set.signed_text.iter().enumerate() {
        if i > 0 {
            message.push(b'\n');
        }
        message.extend_from_slice(line);
    }
    message
}

/// How the signature check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SignatureStatus {
    /// No key is pinned, so signatures were not checked.
    NotChecked,
    /// A signature verified with the pinned key at this index.
    Valid(usize),
}

/// Why a signed RRset was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SignatureError {
    /// A key is pinned but the records carry no `sig` entry: sign them with `seedmesh sign`.
    Unsigned,
    /// No `sig` entry verifies with a pinned key: the records were changed after signing, signed
    /// with another key, or a resolver is lying. Re-sign with the pinned key.
    Invalid,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsigned => f.write_str(
                "the seed records are not signed but this build pins a key; sign them with `seedmesh sign`",
            ),
            Self::Invalid => f.write_str(
                "no signature on the seed records verifies with the pinned key: they were changed after signing, signed with another key, or the resolver is lying",
            ),
        }
    }
}

impl std::error::Error for SignatureError {}

/// Checks the `sig` entries of `set` against `keys`. With no keys pinned, nothing is checked.
///
/// # Errors
/// A [`SignatureError`] when keys are pinned and no signature verifies.
pub fn verify(
    seed_name: &str,
    set: &ReadSet,
    keys: &[PublicKey],
) -> Result<SignatureStatus, SignatureError> {
    if keys.is_empty() {
        return Ok(SignatureStatus::NotChecked);
    }
    let signatures: Vec<&[u8]> = set
        .entries
        .iter()
        .filter_map(|e| match &e.entry {
            Entry::Signature(bytes) => Some(bytes.as_slice()),
            _ => None,
        })
        .collect();
    if signatures.is_empty() {
        return Err(SignatureError::Unsigned);
    }
    let message = signed_message(seed_name, set);
    for (index, key) in keys.iter().enumerate() {
        let Ok(key) = VerifyingKey::from_bytes(&key.0) else {
            continue;
        };
        for bytes in &signatures {
            let Ok(signature) = Signature::from_slice(bytes) else {
                continue;
            };
            if key.verify_strict(&message, &signature).is_ok() {
                return Ok(SignatureStatus::Valid(index));
            }
        }
    }
    Err(SignatureError::Invalid)
}

/// An ed25519 secret key (the 32-byte seed) that signs seed records. Used by the operator CLI.
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// The key with this 32-byte seed.
    #[must_use]
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// Reads `ed25519-secret:BASE64` or bare base64 of the 32-byte seed.
    ///
    /// # Errors
    /// [`KeyError`] if the text is not such a key.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let b64 = text.strip_prefix("ed25519-secret:").unwrap_or(text);
        let bytes = decode(b64).ok_or(KeyError::NotBase64)?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| KeyError::WrongLength(b.len()))?;
        Ok(Self::from_seed(seed))
    }

    /// The secret in the form [`SecretKey::parse`] reads.
    #[must_use]
    pub fn to_text(&self) -> String {
        format!("ed25519-secret:{}", STANDARD.encode(self.0.to_bytes()))
    }

    /// The public key to pin.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// The `sig` entry, `v=sm1; sig=ed25519:BASE64`, for the other entries in `set`.
    #[must_use]
    pub fn sign(&self, seed_name: &str, set: &ReadSet) -> String {
        let signature = self.0.sign(&signed_message(seed_name, set));
        format!(
            "v={}; sig={ALGORITHM}:{}",
            super::seed::VERSION,
            STANDARD.encode(signature.to_bytes())
        )
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::dns::TxtRecord;
    use crate::discovery::seed::read_records;
    use proptest::prelude::*;

    const NAME: &str = "_seedmesh.example.test";

    fn records(texts: &[&str]) -> Vec<TxtRecord> {
        texts.iter().map(|t| TxtRecord::from_text(t)).collect()
    }

    fn signed(key: &SecretKey, texts: &[&str]) -> Vec<TxtRecord> {
        let mut all = records(texts);
        let sig = key.sign(NAME, &read_records(&all));
        all.push(TxtRecord::from_text(&sig));
        all
    }

    #[test]
    fn a_signed_set_verifies_in_any_order_and_any_string_split() {
        let key = SecretKey::from_seed([7; 32]);
        let mut set = signed(
            &key,
            &["v=sm1; peer=a", "v=sm1; rendezvous=x; slots=2", "junk"],
        );
        assert_eq!(
            verify(NAME, &read_records(&set), &[key.public_key()]),
            Ok(SignatureStatus::Valid(0))
        );
        set.reverse();
        set[2] = TxtRecord::from_strs(&["v=sm1;  ren", "dezvous = x;slots=2;"]);
        let other = SecretKey::from_seed([8; 32]).public_key();
        assert_eq!(
            verify(NAME, &read_records(&set), &[other, key.public_key()]),
            Ok(SignatureStatus::Valid(1))
        );
    }

    #[test]
    fn tampering_adding_and_removing_are_refused() {
        let key = SecretKey::from_seed([7; 32]);
        let keys = [key.public_key()];
        let set = signed(&key, &["v=sm1; peer=a", "v=sm1; peer=b"]);
        let mut tampered = set.clone();
        tampered[0] = TxtRecord::from_text("v=sm1; peer=evil");
        assert_eq!(
            verify(NAME, &read_records(&tampered), &keys),
            Err(SignatureError::Invalid)
        );
        let mut added = set.clone();
        added.push(TxtRecord::from_text("v=sm1; peer=evil"));
        assert_eq!(
            verify(NAME, &read_records(&added), &keys),
            Err(SignatureError::Invalid)
        );
        let removed = set[1..].to_vec();
        assert_eq!(
            verify(NAME, &read_records(&removed), &keys),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify("_seedmesh.other.test", &read_records(&set), &keys),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(NAME, &read_records(&records(&["v=sm1; peer=a"])), &keys),
            Err(SignatureError::Unsigned)
        );
        assert_eq!(
            verify(NAME, &read_records(&records(&["v=sm1; peer=a"])), &[]),
            Ok(SignatureStatus::NotChecked)
        );
    }

    #[test]
    fn an_entry_made_unreadable_by_the_resolver_breaks_the_signature() {
        let key = SecretKey::from_seed([7; 32]);
        let keys = [key.public_key()];
        let signal = "v=sm1; signal=peerjs; host=peer.example.org; port=9000";
        let set = signed(&key, &[signal, "v=sm1; peer=a"]);
        assert!(verify(NAME, &read_records(&set), &keys).is_ok());
        // Padded past the length limit with whitespace (which the tags would trim), the
        // entry is skipped by the reader: the set must not verify without it.
        for padded in [
            format!(
                "{signal}{}",
                " ".repeat(crate::discovery::seed::MAX_ENTRY_BYTES)
            ),
            format!(
                "{signal};{}",
                " ".repeat(crate::discovery::seed::MAX_ENTRY_BYTES)
            ),
        ] {
            let mut downgraded = set.clone();
            downgraded[0] = TxtRecord::from_text(&padded);
            let read = read_records(&downgraded);
            assert_eq!(read.entries.len(), 2, "the padded entry is skipped");
            assert_eq!(verify(NAME, &read, &keys), Err(SignatureError::Invalid));
        }
    }

    #[test]
    fn keys_round_trip_through_text() {
        let key = SecretKey::from_seed([9; 32]);
        let public = key.public_key();
        assert_eq!(PublicKey::parse(&public.to_string()), Ok(public));
        assert_eq!(
            SecretKey::parse(&key.to_text()).unwrap().public_key(),
            public
        );
        assert_eq!(
            PublicKey::parse("ed25519:AAAA"),
            Err(KeyError::WrongLength(3))
        );
        assert_eq!(PublicKey::parse("ed25519:!!"), Err(KeyError::NotBase64));
    }

    proptest! {
        #[test]
        fn arbitrary_key_and_signature_text_never_panics(text in "\\PC{0,100}") {
            let _ = PublicKey::parse(&text);
            let _ = SecretKey::parse(&text);
            let _ = read_signature_value(&text);
        }

        #[test]
        fn arbitrary_signatures_never_verify(bytes in proptest::collection::vec(any::<u8>(), 64)) {
            let key = SecretKey::from_seed([7; 32]);
            let mut set = records(&["v=sm1; peer=a"]);
            set.push(TxtRecord::from_text(&format!("v=sm1; sig=ed25519:{}", STANDARD.encode(&bytes))));
            prop_assert!(verify(NAME, &read_records(&set), &[key.public_key()]).is_err());
        }
    }
}
