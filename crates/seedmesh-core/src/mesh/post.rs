//! Room posts: what a page says to the whole room.
//!
//! Posts travel by [gossip](super::gossip), through pages that are not their author, so each
//! carries its author's signature ([`PeerKey::sign_post`]) and every page checks it
//! ([`open`]) before it shows the post or passes it on: no page can speak in the room as
//! another, and none can change what another wrote.
//!
//! A post's gossip payload is JSON, `{"body":{…},"key":"…","sig":"…"}`. The signature covers the
//! body as serde_json writes it (fields in order, minimal escapes), and the post's gossip ID is
//! `<author>/<the author's ID for it>`, so a post cannot be passed off under another ID.

use core::fmt;

use serde::{Deserialize, Serialize};

use super::message::{MAX_CHAT_BYTES, MAX_FILE_NAME_CHARS, MAX_MESSAGE_ID_LEN, MAX_NAME_CHARS};
use crate::peer_id::PeerId;
use crate::proof::{PeerKey, Proof, ProofError};

/// What a room post says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PostKind {
    /// A chat message: its text.
    #[default]
    Chat,
    /// The author is in the room, and says so again every `every` seconds while it stays
    /// (see [`super::roster`]); the text is empty.
    Presence {
        /// Seconds until it says so again, 1 to 3,600.
        every: u32,
    },
    /// The author shares a file with the room; the post's ID is the file's transfer ID, and
    /// pages ask the author for it ([`super::MeshMessage::FileWanted`]). The text is empty.
    File {
        /// The file's name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// Its media type; may be empty.
        mime: String,
    },
}

impl PostKind {
    fn is_chat(&self) -> bool {
        *self == Self::Chat
    }
}

/// A room post as its author wrote it: a chat message, or its presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPost {
    /// The author's peer ID.
    pub from: String,
    /// The author's display name when it wrote the post.
    pub name: String,
    /// The author's ID for the post.
    pub id: String,
    /// The text, shown as text and never as markup.
    pub text: String,
    /// When it was written, in milliseconds since the Unix epoch, by the author's clock.
    pub sent_at: u64,
    /// What it is; a chat message unless it says otherwise (and then it is left out, so a
    /// chat post reads the same to pages that know no other kind).
    #[serde(default, skip_serializing_if = "PostKind::is_chat")]
    pub kind: PostKind,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    body: RoomPost,
    key: String,
    sig: String,
}

/// Why a room post was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PostError {
    /// Not the JSON of a signed post.
    Malformed(String),
    /// A field breaks a limit; the text says which.
    Invalid(&'static str),
    /// The key or signature does not hold.
    Proof(ProofError),
    /// The post names one author and is signed by another.
    NotItsAuthor {
        /// The author it names.
        claimed: String,
        /// The author whose key signed it.
        proven: PeerId,
    },
    /// The post travels under an ID that is not `<author>/<its ID>`.
    WrongId,
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "an unreadable room message: {why}"),
            Self::Invalid(why) => write!(f, "an invalid room message: {why}"),
            Self::Proof(error) => write!(f, "a room message whose signature fails: {error}"),
            Self::NotItsAuthor { claimed, proven } => write!(
                f,
                "a room message that names {claimed} as its author but was signed by {proven}"
            ),
            Self::WrongId => f.write_str("a room message passed on under another message's ID"),
        }
    }
}

impl std::error::Error for PostError {}

impl RoomPost {
    /// The ID the post travels under: its author, `/`, and the author's ID for it.
    #[must_use]
    pub fn gossip_id(&self) -> String {
        format!("{}/{}", self.from, self.id)
    }

    fn validate(&self) -> Result<PeerId, PostError> {
        let from = PeerId::parse(&self.from)
            .map_err(|_| PostError::Invalid("its author is not a valid peer ID"))?;
        if self.id.is_empty() || self.id.len() > MAX_MESSAGE_ID_LEN {
            return Err(PostError::Invalid("its ID is empty or over 160 bytes"));
        }
        if self.text.len() > MAX_CHAT_BYTES {
            return Err(PostError::Invalid("a text over 8 KiB"));
        }
        if self.name.chars().count() > MAX_NAME_CHARS {
            return Err(PostError::Invalid("a display name over 40 characters"));
        }
        match &self.kind {
            PostKind::Chat => {}
            PostKind::Presence { every } => {
                if !self.text.is_empty() || *every == 0 || *every > 3600 {
                    return Err(PostError::Invalid(
                        "a presence with text, or not repeated within 1 s to an hour",
                    ));
                }
            }
            PostKind::File { name, mime, .. } => {
                if !self.text.is_empty()
                    || name.chars().count() > MAX_FILE_NAME_CHARS
                    || mime.len() > 255
                {
                    return Err(PostError::Invalid(
                        "a shared file with text, a name over 255 characters or a long media type",
                    ));
                }
            }
        }
        Ok(from)
    }

    fn body(&self) -> String {
        // Serializing this plain struct cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The post signed with `key` (whose ID must be the post's author), as a gossip payload.
#[must_use]
pub fn seal(key: &PeerKey, post: &RoomPost) -> String {
    let proof = key.sign_post(&post.body());
    let sealed = Sealed {
        body: post.clone(),
        key: proof.key,
        sig: proof.signature,
    };
    serde_json::to_string(&sealed).unwrap_or_default()
}

/// Reads a gossip payload that travels as `gossip_id`, and checks that the post's author signed
/// it, unchanged, under that ID.
pub fn open(payload: &str, gossip_id: &str) -> Result<RoomPost, PostError> {
    let sealed: Sealed =
        serde_json::from_str(payload).map_err(|e| PostError::Malformed(e.to_string()))?;
    let claimed = sealed.body.validate()?;
    if sealed.body.gossip_id() != gossip_id {
        return Err(PostError::WrongId);
    }
    let proof = Proof {
        key: sealed.key,
        signature: sealed.sig,
    };
    let proven = proof
        .verify_post(&sealed.body.body())
        .map_err(PostError::Proof)?;
    if proven != claimed {
        return Err(PostError::NotItsAuthor {
            claimed: sealed.body.from,
            proven,
        });
    }
    Ok(sealed.body)
}

/// Reads a payload that [`open`] already checked, without checking its signature again.
pub fn read(payload: &str) -> Result<RoomPost, PostError> {
    let sealed: Sealed =
        serde_json::from_str(payload).map_err(|e| PostError::Malformed(e.to_string()))?;
    sealed.body.validate()?;
    Ok(sealed.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn post(key: &PeerKey, text: &str) -> RoomPost {
        RoomPost {
            from: key.peer_id().to_string(),
            name: "Ada".into(),
            id: "1700000000000-1".into(),
            text: text.into(),
            sent_at: 1_700_000_000_000,
            kind: PostKind::Chat,
        }
    }

    #[test]
    fn a_sealed_post_opens_under_its_id() {
        let key = PeerKey::from_secret([3; 32]);
        let post = post(&key, "hello \"room\" <b>");
        let payload = seal(&key, &post);
        assert_eq!(open(&payload, &post.gossip_id()), Ok(post.clone()));
        assert_eq!(read(&payload), Ok(post));
    }

    #[test]
    fn a_changed_post_or_another_author_or_id_is_refused() {
        let key = PeerKey::from_secret([3; 32]);
        let other = PeerKey::from_secret([4; 32]);
        let post = post(&key, "pay Bob");
        let payload = seal(&key, &post);
        let changed = payload.replace("pay Bob", "pay Eve");
        assert_eq!(
            open(&changed, &post.gossip_id()),
            Err(PostError::Proof(ProofError::NotThisPost))
        );
        assert_eq!(open(&payload, "someone/else"), Err(PostError::WrongId));
        // Signed by one key in another's name.
        let forged = RoomPost {
            from: other.peer_id().to_string(),
            ..post.clone()
        };
        let payload = seal(&key, &forged);
        assert!(matches!(
            open(&payload, &forged.gossip_id()),
            Err(PostError::NotItsAuthor { .. })
        ));
    }

    #[test]
    fn a_presence_opens_and_a_chat_reads_as_before() {
        let key = PeerKey::from_secret([3; 32]);
        let presence = RoomPost {
            kind: PostKind::Presence { every: 30 },
            ..post(&key, "")
        };
        let payload = seal(&key, &presence);
        assert!(
            payload.contains(r#""kind":{"presence":{"every":30}}"#),
            "{payload}"
        );
        assert_eq!(open(&payload, &presence.gossip_id()), Ok(presence.clone()));
        // A chat post says nothing of its kind, as before there were kinds.
        assert!(!seal(&key, &post(&key, "hi")).contains("kind"));
        for bad in [
            RoomPost {
                text: "x".into(),
                ..presence.clone()
            },
            RoomPost {
                kind: PostKind::Presence { every: 0 },
                ..presence.clone()
            },
            RoomPost {
                kind: PostKind::Presence { every: 3601 },
                ..presence.clone()
            },
            RoomPost {
                kind: PostKind::File {
                    name: "x".repeat(256),
                    size: 1,
                    mime: String::new(),
                },
                ..presence.clone()
            },
        ] {
            assert!(matches!(
                open(&seal(&key, &bad), &bad.gossip_id()),
                Err(PostError::Invalid(_))
            ));
        }
    }

    #[test]
    fn limits_are_checked_before_the_signature() {
        let key = PeerKey::from_secret([3; 32]);
        let long = post(&key, &"x".repeat(MAX_CHAT_BYTES + 1));
        assert_eq!(
            open(&seal(&key, &long), &long.gossip_id()),
            Err(PostError::Invalid("a text over 8 KiB"))
        );
    }

    proptest! {
        #[test]
        fn any_payload_is_refused_or_opened_without_panic(payload in ".{0,300}", id in ".{0,40}") {
            let _ = open(&payload, &id);
            let _ = read(&payload);
        }

        #[test]
        fn any_text_round_trips(text in ".{0,200}") {
            let key = PeerKey::from_secret([9; 32]);
            let post = post(&key, &text);
            prop_assert_eq!(open(&seal(&key, &post), &post.gossip_id()), Ok(post));
        }
    }
}
