//! Who is at the other end of a connection, proven rather than claimed.
//!
//! Every page has a long-lived ed25519 key ([`PeerKey`]), and its peer ID is derived from the
//! public half ([`PeerKey::peer_id`]): an ID cannot be chosen, only computed, so no one can go
//! by another page's ID without its secret key.
//!
//! On every connection, each side signs the DTLS fingerprints of that very connection, its own
//! first ([`PeerKey::prove`]), and sends the signature and its public key in its hello. The
//! other side checks it against the fingerprints it sees ([`Proof::verify`]): the browser has
//! already checked that the remote certificate matches the remote fingerprint, so a valid proof
//! means the key's owner holds the far end of this DTLS session. A peer that relays our
//! signaling or a hostile PeerServer that rewrites descriptions cannot produce one: it would
//! have to sign with a key whose hash is the ID, and to terminate DTLS with the fingerprint the
//! owner signed.
//!
//! The signed message is `seedmesh-hello-v1 LF <signer's fingerprint> LF <verifier's
//! fingerprint>`, each fingerprint as [`Fingerprint`] writes it (`sha-256 AB:CD:…`).

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha512};

use crate::PeerId;

/// The domain-separation line that starts every signed hello.
pub const HELLO_CONTEXT: &str = "seedmesh-hello-v1";

/// The domain-separation line that starts every signed room post.
pub const POST_CONTEXT: &str = "seedmesh-post-v1";

/// What exported keys start with.
pub const KEY_TEXT_PREFIX: &str = "seedmesh-key-v1:";

/// How many bytes of the public key's hash an ID holds (120 bits, in 24 base32 letters).
const ID_HASH_BYTES: usize = 15;

/// How many characters of an ID a [`short_fingerprint`] shows.
const SHORT_FINGERPRINT_CHARS: usize = 8;

/// A certificate fingerprint from a session description, normalised: the hash function in
/// lowercase, one space, the hex bytes in uppercase separated by colons.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Reads `sha-256 AB:CD:…` (any case, surrounding spaces ignored).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split_whitespace();
        let (algorithm, hex) = (parts.next()?, parts.next()?);
        if parts.next().is_some()
            || algorithm.len() > 16
            || !algorithm
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return None;
        }
        let bytes: Vec<&str> = hex.split(':').collect();
        if bytes.len() < 16
            || bytes.len() > 64
            || !bytes
                .iter()
                .all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit()))
        {
            return None;
        }
        Some(Self(format!(
            "{} {}",
            algorithm.to_ascii_lowercase(),
            hex.to_ascii_uppercase()
        )))
    }

    /// The first `a=fingerprint:` line of a session description.
    #[must_use]
    pub fn from_sdp(sdp: &str) -> Option<Self> {
        sdp.lines()
            .find_map(|line| line.trim().strip_prefix("a=fingerprint:"))
            .and_then(Self::parse)
    }

    /// The normalised text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The DTLS fingerprints of one connection, as one side sees them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChannelBinding {
    /// Our certificate's, from our local description.
    pub local: Fingerprint,
    /// The other side's, from the remote description.
    pub remote: Fingerprint,
}

impl ChannelBinding {
    /// The binding of a connection from its local and remote session descriptions.
    #[must_use]
    pub fn from_sdp(local: &str, remote: &str) -> Option<Self> {
        Some(Self {
            local: Fingerprint::from_sdp(local)?,
            remote: Fingerprint::from_sdp(remote)?,
        })
    }
}

/// Why a key or a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// The hello carried no key or no signature: the peer does not prove who it is.
    Missing,
    /// The key is not base64 of 32 bytes, or not an ed25519 public key.
    BadKey,
    /// The signature is not base64 of 64 bytes.
    BadSignature,
    /// The ID the peer gave is not the one its key makes.
    WrongId {
        /// The ID it claimed.
        claimed: PeerId,
        /// The ID its key makes.
        proven: PeerId,
    },
    /// The signature does not cover this connection's fingerprints: someone in the middle,
    /// or a replayed hello.
    NotThisConnection,
    /// An exported key that cannot be read; it should be `seedmesh-key-v1:` and 43 letters.
    BadExport,
    /// The signature does not cover this room post: it was changed after its author signed it.
    NotThisPost,
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("it sent no proof of who it is"),
            Self::BadKey => f.write_str("its key is not an ed25519 public key"),
            Self::BadSignature => f.write_str("its signature is not 64 bytes of base64"),
            Self::WrongId { claimed, proven } => write!(
                f,
                "it claimed to be {claimed}, but its key is that of {proven}"
            ),
            Self::NotThisConnection => f.write_str(
                "its signature does not cover this connection: someone may be in the middle",
            ),
            Self::BadExport => write!(
                f,
                "this is not an exported seedmesh key; it starts with {KEY_TEXT_PREFIX} \
                 followed by 43 letters, digits, - and _"
            ),
            Self::NotThisPost => f.write_str(
                "its signature does not cover this room message: it was changed on the way",
            ),
        }
    }
}

impl std::error::Error for ProofError {}

/// A page's long-lived secret key.
#[derive(Clone)]
pub struct PeerKey(SigningKey);

impl fmt::Debug for PeerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret never appears in logs.
        f.debug_tuple("PeerKey").field(&self.peer_id()).finish()
    }
}

impl PartialEq for PeerKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bytes() == other.0.to_bytes()
    }
}

impl Eq for PeerKey {}

impl PeerKey {
    /// The key made from 32 secret random bytes.
    #[must_use]
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&secret))
    }

    /// A new key from a cryptographic random source.
    #[must_use]
    pub fn random(random: &mut impl FnMut() -> u32) -> Self {
        let mut secret = [0u8; 32];
        for chunk in secret.chunks_mut(4) {
            chunk.copy_from_slice(&random().to_le_bytes());
        }
        Self::from_secret(secret)
    }

    /// The peer ID this key goes by.
    #[must_use]
    pub fn peer_id(&self) -> PeerId {
        id_of(&self.0.verifying_key().to_bytes())
    }

    /// The key as text to keep or export: `seedmesh-key-v1:` and base64url of the secret.
    #[must_use]
    pub fn to_text(&self) -> String {
        format!(
            "{KEY_TEXT_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(self.0.to_bytes())
        )
    }

    /// Reads a key written by [`PeerKey::to_text`].
    pub fn from_text(text: &str) -> Result<Self, ProofError> {
        let encoded = text
            .trim()
            .strip_prefix(KEY_TEXT_PREFIX)
            .ok_or(ProofError::BadExport)?;
        let secret: [u8; 32] = URL_SAFE_NO_PAD
            .decode(encoded)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(ProofError::BadExport)?;
        Ok(Self::from_secret(secret))
    }

    /// Our signature over a room post (`body`, as the post's author wrote it), with our key.
    #[must_use]
    pub fn sign_post(&self, body: &str) -> Proof {
        self.sign(&post_message(body))
    }

    /// Our proof for the connection `binding` describes, to send in our hello.
    #[must_use]
    pub fn prove(&self, binding: &ChannelBinding) -> Proof {
        self.sign(&signed_message(&binding.local, &binding.remote))
    }

    /// Our public key and our signature over `message`, both base64url.
    fn sign(&self, message: &[u8]) -> Proof {
        Proof {
            key: URL_SAFE_NO_PAD.encode(self.0.verifying_key().to_bytes()),
            signature: URL_SAFE_NO_PAD.encode(self.0.sign(message).to_bytes()),
        }
    }
}

/// A peer's proof of who it is on one connection: its public key and its signature over the
/// connection's fingerprints, both base64url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The public key.
    pub key: String,
    /// The signature.
    pub signature: String,
}

impl Proof {
    /// Checks that the peer that says it is `claimed` holds the key of that ID and signed the
    /// fingerprints of this connection, as we see them in `binding`.
    pub fn verify(&self, claimed: &PeerId, binding: &ChannelBinding) -> Result<(), ProofError> {
        let (verifying, key, signature) = self.decode()?;
        let proven = id_of(&key);
        if proven != *claimed {
            return Err(ProofError::WrongId {
                claimed: claimed.clone(),
                proven,
            });
        }
        // They signed their fingerprint (our remote) first, then ours.
        let message = signed_message(&binding.remote, &binding.local);
        verifying
            .verify_strict(&message, &signature)
            .map_err(|_| ProofError::NotThisConnection)
    }

    /// Checks that this key signed the room post `body`, and says whose key it is: the post's
    /// author is that ID, whoever passed the post on.
    pub fn verify_post(&self, body: &str) -> Result<PeerId, ProofError> {
        let (verifying, key, signature) = self.decode()?;
        verifying
            .verify_strict(&post_message(body), &signature)
            .map_err(|_| ProofError::NotThisPost)?;
        Ok(id_of(&key))
    }

    fn decode(&self) -> Result<(VerifyingKey, [u8; 32], Signature), ProofError> {
        let key: [u8; 32] = URL_SAFE_NO_PAD
            .decode(&self.key)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(ProofError::BadKey)?;
        let verifying = VerifyingKey::from_bytes(&key).map_err(|_| ProofError::BadKey)?;
        let signature: [u8; 64] = URL_SAFE_NO_PAD
            .decode(&self.signature)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(ProofError::BadSignature)?;
        Ok((verifying, key, Signature::from_bytes(&signature)))
    }
}

/// A short form of a peer's key for people to compare: the first letters of its ID, in two
/// groups (`3f9ac21b` shows as `3f9a c21b`).
#[must_use]
pub fn short_fingerprint(id: &PeerId) -> String {
    let head: String = id.as_str().chars().take(SHORT_FINGERPRINT_CHARS).collect();
    let (a, b) = head.split_at(head.len().min(SHORT_FINGERPRINT_CHARS / 2));
    format!("{a} {b}").trim().to_owned()
}

/// True if `id` is one a key makes (24 lowercase base32 letters), rather than, say, a
/// rendezvous slot's or a plain PeerJS client's.
#[must_use]
pub fn is_key_id(id: &PeerId) -> bool {
    let id = id.as_str();
    id.len() == ID_LETTERS && id.bytes().all(|b| BASE32.contains(&b))
}

/// Letters of an ID made from a key.
const ID_LETTERS: usize = ID_HASH_BYTES * 8 / 5;
/// RFC 4648's base32 alphabet, lowercase.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn id_of(public_key: &[u8; 32]) -> PeerId {
    let hash = Sha512::digest(public_key);
    let mut bits = 0u32;
    let mut held = 0u32;
    let mut id = String::with_capacity(ID_LETTERS);
    for &byte in &hash[..ID_HASH_BYTES] {
        bits = (bits << 8) | u32::from(byte);
        held += 8;
        while held >= 5 {
            held -= 5;
            id.push(char::from(BASE32[((bits >> held) & 31) as usize]));
        }
    }
    // Lowercase letters and digits are always a valid PeerJS ID.
    PeerId::from_valid(id)
}

fn post_message(body: &str) -> Vec<u8> {
    format!("{POST_CONTEXT}\n{body}").into_bytes()
}

fn signed_message(signer: &Fingerprint, verifier: &Fingerprint) -> Vec<u8> {
    format!("{HELLO_CONTEXT}\n{signer}\n{verifier}").into_bytes()
}

#[cfg(test)]
mod tests;
