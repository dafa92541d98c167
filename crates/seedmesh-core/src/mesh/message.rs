//! What seedmesh peers say to each other on a data channel, as JSON.
//!
//! Each message is one JSON object with a `type`. Everything read from a peer is checked against
//! the limits below; a message that breaks them is refused with a [`MeshMessageError`] and
//! changes nothing.

use core::fmt;

use serde::{Deserialize, Serialize};

use super::gossip::{GossipMessage, GossipMessageError};
use crate::peer_id::PeerId;

/// The version of this message set; sent in every [`MeshMessage::Hello`].
pub const PROTOCOL_VERSION: u8 = 4;
/// The first version whose room gossip carries presence and shared files as well as chat. A
/// page of an earlier version refuses those (it checks their signature without their kind), so
/// it takes no part in our gossip: it stays linked, and direct messages and files still go.
pub const GOSSIP_VERSION: u8 = 4;
/// The longest chat text, in bytes of UTF-8.
pub const MAX_CHAT_BYTES: usize = 8 * 1024;
/// The longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 40;
/// The most peer IDs one [`MeshMessage::Peers`] may carry.
pub const MAX_PEERS_PER_MESSAGE: usize = 256;
/// The longest file name, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 255;
/// The longest message ID, in bytes.
pub const MAX_MESSAGE_ID_LEN: usize = 160;
/// The most links a page counts to the nearest holder of a rendezvous slot: past this, it
/// knows of none (see [`MeshMessage::Links`]).
pub const MAX_SLOT_HOPS: u8 = 16;
/// The longest encoded message we read, in bytes.
pub const MAX_ENCODED_LEN: usize = 64 * 1024;

/// A message between two seedmesh peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum MeshMessage {
    /// Who the sender is. Sent when a link opens and repeated until the other side's hello
    /// says it has seen ours.
    Hello {
        /// The sender's own peer ID (a link to a rendezvous slot only knows the slot's ID).
        id: String,
        /// The sender's display name.
        name: String,
        /// [`PROTOCOL_VERSION`] of the sender.
        version: u8,
        /// Whether the sender has already received our hello.
        seen: bool,
        /// The sender's public key, base64url (see [`crate::proof`]); its hash is `id`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// The sender's signature over this connection's DTLS fingerprints, base64url.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sig: Option<String>,
    },
    /// Peers the sender is connected to, for the receiver to connect to as well.
    Peers {
        /// Their peer IDs.
        ids: Vec<String>,
    },
    /// The peers the sender is linked with now, in place of what it said before: the
    /// receiver's picture of the mesh around it (see [`super::MeshOutput::Neighbourhood`]).
    /// Unlike [`MeshMessage::Peers`], nobody dials because of it.
    Links {
        /// Their peer IDs, at most [`MAX_PEERS_PER_MESSAGE`].
        ids: Vec<String>,
        /// The rendezvous slot the sender holds, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slot: Option<u8>,
        /// How many links away from the sender the nearest slot holder is (0: the sender holds
        /// one), at most [`MAX_SLOT_HOPS`]. A part of the room cut off from every slot holder
        /// counts up to the limit, and its pages scan the slots to find the rest again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slot_hops: Option<u8>,
    },
    /// The sender's display name changed.
    Name {
        /// The new name.
        name: String,
    },
    /// A chat message, to the whole room or to the receiver alone.
    Chat {
        /// A unique ID, used for acknowledgements and to drop duplicates.
        id: String,
        /// The text, shown as text and never as markup.
        text: String,
        /// When it was written, in milliseconds since the Unix epoch, by the sender's clock.
        sent_at: u64,
        /// Whether it is a direct message to the receiver rather than a room message.
        direct: bool,
    },
    /// The receiver's chat message `id` arrived.
    Ack {
        /// The ID of the acknowledged chat message.
        id: String,
    },
    /// A file follows in binary chunks (see [`crate::transfer`]).
    File {
        /// The transfer's unique ID, also in every chunk.
        id: String,
        /// The file's name, shown as text.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// Its media type, e.g. `image/png`; may be empty.
        mime: String,
        /// When it was sent, in milliseconds since the Unix epoch, by the sender's clock.
        sent_at: u64,
        /// Whether it is for the receiver alone rather than the room.
        direct: bool,
    },
    /// Send me the file you shared with the room as `id` (your transfer ID), as you would send
    /// it to a linked peer: its announcement, then its chunks.
    FileWanted {
        /// The transfer's ID.
        id: String,
    },
    /// All of the receiver's file `id` arrived.
    FileReceived {
        /// The transfer's ID.
        id: String,
    },
    /// Room messages by gossip (see [`super::gossip`]): a signed room post
    /// ([`super::post`]) whole, the IDs of some, a request for some, or delivery counts.
    Gossip {
        /// What it says.
        gossip: GossipMessage,
    },
    /// A PeerJS signaling message (offer, answer or candidate) from `from` for `to`, carried
    /// through the mesh (see [`super::relay`]).
    Signal {
        /// The addressee's peer ID.
        to: String,
        /// The source's peer ID.
        from: String,
        /// How many more hops it may take, at most [`super::relay::MAX_HOPS`].
        hops: u8,
        /// With `from`, tells duplicates apart.
        nonce: u64,
        /// The signaling message, as PeerJS writes it to a PeerServer.
        body: String,
    },
}

/// Why a message from a peer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MeshMessageError {
    /// The message is larger than [`MAX_ENCODED_LEN`].
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// Not a JSON object of a known `type` with the fields that type needs.
    Malformed(String),
    /// A field breaks a limit or holds an unusable value; the text says which.
    Invalid(&'static str),
    /// A gossip message breaks a limit.
    Gossip(GossipMessageError),
}

impl fmt::Display for MeshMessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { len } => write!(
                f,
                "a peer sent a message of {len} bytes; the limit is {MAX_ENCODED_LEN}"
            ),
            Self::Malformed(why) => write!(f, "a peer sent an unreadable message: {why}"),
            Self::Invalid(why) => write!(f, "a peer sent an invalid message: {why}"),
            Self::Gossip(why) => write!(f, "a peer sent an invalid message: {why}"),
        }
    }
}

impl std::error::Error for MeshMessageError {}

impl MeshMessage {
    /// Reads a message from the bytes of one data-channel message.
    pub fn decode(bytes: &[u8]) -> Result<Self, MeshMessageError> {
        if bytes.len() > MAX_ENCODED_LEN {
            return Err(MeshMessageError::TooLong { len: bytes.len() });
        }
        let message: MeshMessage = serde_json::from_slice(bytes)
            .map_err(|e| MeshMessageError::Malformed(e.to_string()))?;
        message.validate()?;
        Ok(message)
    }

    /// The message as JSON.
    #[must_use]
    pub fn encode(&self) -> String {
        // Serializing these plain structs cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    fn validate(&self) -> Result<(), MeshMessageError> {
        use MeshMessageError::Invalid;
        match self {
            Self::Hello {
                id, name, key, sig, ..
            } => {
                PeerId::parse(id).map_err(|_| Invalid("the hello's peer ID is not a valid ID"))?;
                if key.as_ref().is_some_and(|k| k.len() > 64)
                    || sig.as_ref().is_some_and(|s| s.len() > 128)
                {
                    return Err(Invalid("the hello's key or signature is too long"));
                }
                check_name(name)
            }
            Self::Peers { ids } => {
                if ids.len() > MAX_PEERS_PER_MESSAGE {
                    return Err(Invalid("a peer list longer than 256 IDs"));
                }
                Ok(())
            }
            Self::Links {
                ids,
                slot,
                slot_hops,
            } => {
                if slot.is_some_and(|s| s >= 64) || slot_hops.is_some_and(|h| h > MAX_SLOT_HOPS) {
                    return Err(Invalid("a slot past 63, or more than 16 hops to a slot"));
                }
                if ids.len() > MAX_PEERS_PER_MESSAGE {
                    return Err(Invalid("a list of links longer than 256 IDs"));
                }
                if ids.iter().any(|id| PeerId::parse(id).is_err()) {
                    return Err(Invalid("a list of links with an ID that is not valid"));
                }
                Ok(())
            }
            Self::Name { name } => check_name(name),
            Self::Chat { id, text, .. } => {
                check_message_id(id)?;
                if text.len() > MAX_CHAT_BYTES {
                    return Err(Invalid("a chat text over 8 KiB"));
                }
                Ok(())
            }
            Self::Ack { id } | Self::FileReceived { id } | Self::FileWanted { id } => {
                check_message_id(id)
            }
            Self::Gossip { gossip } => gossip.validate().map_err(MeshMessageError::Gossip),
            Self::Signal {
                to,
                from,
                hops,
                body,
                ..
            } => {
                PeerId::parse(to).map_err(|_| Invalid("a signal's addressee is not a valid ID"))?;
                PeerId::parse(from).map_err(|_| Invalid("a signal's source is not a valid ID"))?;
                if *hops > super::relay::MAX_HOPS || body.len() > super::relay::MAX_SIGNAL_BYTES {
                    return Err(Invalid("a signal over 16 KiB or with more than 2 hops"));
                }
                Ok(())
            }
            Self::File { id, name, mime, .. } => {
                check_message_id(id)?;
                if name.chars().count() > MAX_FILE_NAME_CHARS || mime.len() > 255 {
                    return Err(Invalid(
                        "a file name over 255 characters or a long media type",
                    ));
                }
                Ok(())
            }
        }
    }
}

fn check_name(name: &str) -> Result<(), MeshMessageError> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(MeshMessageError::Invalid(
            "a display name over 40 characters",
        ));
    }
    Ok(())
}

fn check_message_id(id: &str) -> Result<(), MeshMessageError> {
    if id.is_empty() || id.len() > MAX_MESSAGE_ID_LEN {
        return Err(MeshMessageError::Invalid(
            "a message ID that is empty or over 160 bytes",
        ));
    }
    Ok(())
}

/// A display name made presentable: control characters removed, white space trimmed and
/// folded, cut to [`MAX_NAME_CHARS`].
#[must_use]
pub fn clean_display_name(name: &str) -> String {
    name.split(|c: char| c.is_whitespace() || c.is_control())
        .map(|part| {
            part.chars()
                .filter(|c| !is_invisible(*c))
                .collect::<String>()
        })
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_NAME_CHARS)
        .collect()
}

/// Characters that change how text around them reads (bidirectional overrides and isolates)
/// or that show as nothing (zero-width and filler characters, tags): a name keeps none, so two
/// names that look alike are alike.
#[must_use]
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0E}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips_every_kind() {
        let messages = [
            MeshMessage::Hello {
                id: "alice".into(),
                name: "Alice".into(),
                version: PROTOCOL_VERSION,
                seen: false,
                key: None,
                sig: None,
            },
            MeshMessage::Peers {
                ids: vec!["bob".into(), "carol".into()],
            },
            MeshMessage::Links {
                ids: vec!["bob".into(), "carol".into()],
                slot: Some(2),
                slot_hops: Some(0),
            },
            MeshMessage::Name { name: "Al".into() },
            MeshMessage::Chat {
                id: "alice-1".into(),
                text: "<b>hi</b>".into(),
                sent_at: 1_700_000_000_000,
                direct: false,
            },
            MeshMessage::Ack {
                id: "alice-1".into(),
            },
            MeshMessage::Gossip {
                gossip: GossipMessage::IHave {
                    ids: vec!["alice/1".into()],
                },
            },
        ];
        for message in messages {
            let encoded = message.encode();
            assert_eq!(MeshMessage::decode(encoded.as_bytes()), Ok(message));
        }
    }

    #[test]
    fn the_wire_form_is_tagged_json() {
        let ack = MeshMessage::Ack { id: "x".into() };
        assert_eq!(ack.encode(), r#"{"type":"ack","id":"x"}"#);
    }

    #[test]
    fn refuses_what_breaks_the_limits() {
        let long_text = format!(
            r#"{{"type":"chat","id":"a","text":"{}","sent_at":1,"direct":false}}"#,
            "x".repeat(MAX_CHAT_BYTES + 1)
        );
        assert!(matches!(
            MeshMessage::decode(long_text.as_bytes()),
            Err(MeshMessageError::Invalid(_))
        ));
        let bad_id = r#"{"type":"hello","id":"not valid!","name":"x","version":1,"seen":false}"#;
        assert!(matches!(
            MeshMessage::decode(bad_id.as_bytes()),
            Err(MeshMessageError::Invalid(_))
        ));
        assert!(matches!(
            MeshMessage::decode(br#"{"type":"launch"}"#),
            Err(MeshMessageError::Malformed(_))
        ));
        let many_ids = format!(
            r#"{{"type":"gossip","gossip":{{"type":"i-want","ids":[{}]}}}}"#,
            vec![r#""a/1""#; 65].join(",")
        );
        assert!(matches!(
            MeshMessage::decode(many_ids.as_bytes()),
            Err(MeshMessageError::Gossip(_))
        ));
        let bad_link = r#"{"type":"links","ids":["bob","not valid!"]}"#;
        assert!(matches!(
            MeshMessage::decode(bad_link.as_bytes()),
            Err(MeshMessageError::Invalid(_))
        ));
        let far_slot = r#"{"type":"links","ids":[],"slot_hops":17}"#;
        assert!(matches!(
            MeshMessage::decode(far_slot.as_bytes()),
            Err(MeshMessageError::Invalid(_))
        ));
        let many_links = format!(
            r#"{{"type":"links","ids":[{}]}}"#,
            vec![r#""bob""#; MAX_PEERS_PER_MESSAGE + 1].join(",")
        );
        assert!(matches!(
            MeshMessage::decode(many_links.as_bytes()),
            Err(MeshMessageError::Invalid(_))
        ));
        let huge = vec![b' '; MAX_ENCODED_LEN + 1];
        assert_eq!(
            MeshMessage::decode(&huge),
            Err(MeshMessageError::TooLong {
                len: MAX_ENCODED_LEN + 1
            })
        );
    }

    #[test]
    fn display_names_are_cleaned() {
        assert_eq!(
            clean_display_name("  Ada \n\t Lovelace\u{7} "),
            "Ada Lovelace"
        );
        assert_eq!(clean_display_name(&"é".repeat(50)).chars().count(), 40);
    }

    #[test]
    fn names_keep_no_bidi_overrides_or_invisible_characters() {
        // "Ada" followed by a right-to-left override reads as someone else's name.
        assert_eq!(clean_display_name("Ada\u{202E}nimda"), "Adanimda");
        assert_eq!(clean_display_name("A\u{200B}d\u{2066}a\u{FEFF}"), "Ada");
        assert_eq!(clean_display_name("\u{E0041}\u{3164}\u{200D}"), "");
        assert_eq!(clean_display_name("Zoë 👋🏽"), "Zoë 👋🏽");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = MeshMessage::decode(&bytes);
        }

        #[test]
        fn cleaned_names_are_short_and_visible(name in any::<String>()) {
            let clean = clean_display_name(&name);
            prop_assert!(clean.chars().count() <= MAX_NAME_CHARS);
            prop_assert!(!clean.chars().any(|c| is_invisible(c) || c.is_control()));
            prop_assert_eq!(clean_display_name(&clean), clean.clone());
        }

        #[test]
        fn links_round_trip_or_are_refused(ids in proptest::collection::vec("[a-z0-9!-]{0,12}", 0..300)) {
            let message = MeshMessage::Links { ids: ids.clone(), slot: None, slot_hops: None };
            let valid = ids.len() <= MAX_PEERS_PER_MESSAGE
                && ids.iter().all(|id| PeerId::parse(id).is_ok());
            match MeshMessage::decode(message.encode().as_bytes()) {
                Ok(read) => { prop_assert!(valid); prop_assert_eq!(read, message); }
                Err(MeshMessageError::Invalid(_)) => prop_assert!(!valid),
                Err(other) => prop_assert!(false, "{other}"),
            }
        }

        #[test]
        fn chat_round_trips(text in ".{0,200}", sent_at in any::<u64>(), direct in any::<bool>()) {
            let message = MeshMessage::Chat { id: "m-1".into(), text, sent_at, direct };
            prop_assert_eq!(MeshMessage::decode(message.encode().as_bytes()), Ok(message));
        }
    }
}
