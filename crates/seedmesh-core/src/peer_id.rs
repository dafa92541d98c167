//! Peer IDs and tokens as PeerJS and PeerServer accept them.
//!
//! PeerJS clients only accept IDs matching `^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$`, so every ID we
//! make or accept uses that alphabet. A token is a random string made once per peer and sent again
//! on every reconnect, so the server knows the socket belongs to the same peer.

use core::fmt;

/// The longest ID we accept. PeerServer has no limit; this one keeps hostile input bounded.
pub const MAX_PEER_ID_LEN: usize = 128;

/// Why a string is not a usable peer ID.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerIdError {
    /// The ID is empty.
    Empty,
    /// The ID is longer than [`MAX_PEER_ID_LEN`] bytes.
    TooLong {
        /// The length that was given, in bytes.
        len: usize,
    },
    /// A character outside `A-Z a-z 0-9`, or a separator (` `, `_`, `-`) at either end or next to
    /// another separator. PeerJS clients refuse such IDs.
    InvalidCharacter {
        /// The byte offset of the first offending character.
        at: usize,
    },
}

impl fmt::Display for PeerIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "the peer ID is empty"),
            Self::TooLong { len } => write!(
                f,
                "the peer ID is {len} bytes long; use at most {MAX_PEER_ID_LEN}"
            ),
            Self::InvalidCharacter { at } => write!(
                f,
                "the peer ID has an unusable character at byte {at}: use letters and digits, \
                 joined by single '-', '_' or ' '"
            ),
        }
    }
}

impl std::error::Error for PeerIdError {}

/// A peer's ID on a PeerServer, valid for PeerJS clients.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(String);

impl PeerId {
    /// Checks `id` against the PeerJS alphabet.
    pub fn parse(id: &str) -> Result<Self, PeerIdError> {
        if id.is_empty() {
            return Err(PeerIdError::Empty);
        }
        if id.len() > MAX_PEER_ID_LEN {
            return Err(PeerIdError::TooLong { len: id.len() });
        }
        let mut previous_was_separator = true; // an ID may not start with a separator
        for (at, c) in id.char_indices() {
            let separator = matches!(c, ' ' | '_' | '-');
            let valid = if separator {
                !previous_was_separator
            } else {
                c.is_ascii_alphanumeric()
            };
            if !valid {
                return Err(PeerIdError::InvalidCharacter { at });
            }
            previous_was_separator = separator;
        }
        if previous_was_separator {
            return Err(PeerIdError::InvalidCharacter { at: id.len() - 1 });
        }
        Ok(Self(id.to_owned()))
    }

    /// A fresh random ID: `prefix` (if any, itself a valid ID) joined by `-` to 16 random letters
    /// and digits drawn from `random`.
    #[must_use]
    pub fn random(prefix: Option<&PeerId>, random: &mut impl FnMut() -> u32) -> Self {
        let tail = random_alphanumeric(16, random);
        match prefix {
            Some(prefix) => Self(format!("{}-{tail}", prefix.0)),
            None => Self(tail),
        }
    }

    /// An ID known to be valid (made of letters and digits only).
    pub(crate) fn from_valid(id: String) -> Self {
        debug_assert!(Self::parse(&id).is_ok());
        Self(id)
    }

    /// The ID as sent on the wire.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The secret a peer sends with its ID so the PeerServer can tell it from an impostor.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A fresh random token of 24 letters and digits drawn from `random`.
    #[must_use]
    pub fn random(random: &mut impl FnMut() -> u32) -> Self {
        Self(random_alphanumeric(24, random))
    }

    /// A token kept from an earlier session, if it is a non-empty run of letters and digits of at
    /// most 64 bytes.
    #[must_use]
    pub fn restore(token: &str) -> Option<Self> {
        let usable = !token.is_empty()
            && token.len() <= 64
            && token.bytes().all(|b| b.is_ascii_alphanumeric());
        usable.then(|| Self(token.to_owned()))
    }

    /// The token as sent on the wire.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    /// Tokens are secrets: debug output never shows them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

fn random_alphanumeric(len: usize, random: &mut impl FnMut() -> u32) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(ALPHABET[(random() % 36) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counter() -> impl FnMut() -> u32 {
        let mut n = 0u32;
        move || {
            n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            n >> 8
        }
    }

    #[test]
    fn accepts_what_peerjs_accepts() {
        for id in ["a", "abc123", "seed-0", "my_peer 2", "A-b_c d"] {
            assert!(PeerId::parse(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn refuses_what_peerjs_refuses() {
        assert_eq!(PeerId::parse(""), Err(PeerIdError::Empty));
        assert_eq!(
            PeerId::parse("-a"),
            Err(PeerIdError::InvalidCharacter { at: 0 })
        );
        assert_eq!(
            PeerId::parse("a-"),
            Err(PeerIdError::InvalidCharacter { at: 1 })
        );
        assert_eq!(
            PeerId::parse("a--b"),
            Err(PeerIdError::InvalidCharacter { at: 2 })
        );
        assert_eq!(
            PeerId::parse("a.b"),
            Err(PeerIdError::InvalidCharacter { at: 1 })
        );
        assert_eq!(
            PeerId::parse("é"),
            Err(PeerIdError::InvalidCharacter { at: 0 })
        );
        let long = "a".repeat(MAX_PEER_ID_LEN + 1);
        assert_eq!(
            PeerId::parse(&long),
            Err(PeerIdError::TooLong {
                len: MAX_PEER_ID_LEN + 1
            })
        );
    }

    #[test]
    fn random_ids_and_tokens_are_valid_and_differ() {
        let mut random = counter();
        let prefix = PeerId::parse("room").unwrap();
        let a = PeerId::random(Some(&prefix), &mut random);
        let b = PeerId::random(None, &mut random);
        assert!(a.as_str().starts_with("room-"));
        assert_eq!(PeerId::parse(a.as_str()), Ok(a.clone()));
        assert_eq!(PeerId::parse(b.as_str()), Ok(b.clone()));
        assert_ne!(a, b);
        let token = Token::random(&mut random);
        assert_eq!(Token::restore(token.as_str()), Some(token.clone()));
        assert_eq!(format!("{token:?}"), "Token(..)");
    }

    #[test]
    fn restoring_refuses_damaged_tokens() {
        assert_eq!(Token::restore(""), None);
        assert_eq!(Token::restore("has space"), None);
        assert_eq!(Token::restore(&"a".repeat(65)), None);
    }

    fn matches_peerjs_regex(id: &str) -> bool {
        // ^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$, written out by hand.
        !id.is_empty()
            && id
                .split([' ', '_', '-'])
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
    }

    proptest! {
        #[test]
        fn parse_agrees_with_the_peerjs_pattern(id in "[a-zA-Z0-9 _.é-]{0,20}") {
            prop_assert_eq!(PeerId::parse(&id).is_ok(), matches_peerjs_regex(&id));
        }

        #[test]
        fn parse_never_panics(id in any::<String>()) {
            let _ = PeerId::parse(&id);
        }
    }
}
