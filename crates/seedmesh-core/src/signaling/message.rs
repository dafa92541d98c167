//! The JSON messages a PeerServer and its clients exchange over the signaling socket.
//!
//! Parsing is strict about what it relies on (a known `type`, the fields that type needs) and
//! lenient about the rest (unknown fields are ignored), so a PeerJS client or server that adds a
//! field still interoperates, while a malformed message is refused with a [`MessageError`] rather
//! than a panic.

use core::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::peer_id::PeerId;

/// The longest signaling message accepted, in bytes. An SDP with many candidates is a few KB.
pub const MAX_MESSAGE_LEN: usize = 256 * 1024;

/// The longest connection ID accepted, in bytes.
pub const MAX_CONNECTION_ID_LEN: usize = 128;

/// Why a signaling message could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageError {
    /// The message is longer than [`MAX_MESSAGE_LEN`].
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The message is not a JSON object with a string `type`.
    NotJson(String),
    /// A field the message type needs is missing or has the wrong shape.
    BadField {
        /// The message type.
        kind: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { len } => write!(
                f,
                "a signaling message of {len} bytes is longer than the {MAX_MESSAGE_LEN} accepted; \
                 the server or peer sent something that is not signaling"
            ),
            Self::NotJson(detail) => write!(
                f,
                "a signaling message is not a JSON object with a \"type\": {detail}"
            ),
            Self::BadField { kind, detail } => {
                write!(f, "a {kind} signaling message is malformed: {detail}")
            }
        }
    }
}

impl std::error::Error for MessageError {}

/// A connection's ID, shared by both ends: PeerJS uses `dc_` and 10 random characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ConnectionId(String);

impl ConnectionId {
    /// Accepts a connection ID of 1 to [`MAX_CONNECTION_ID_LEN`] printable ASCII characters.
    #[must_use]
    pub fn parse(id: &str) -> Option<Self> {
        let usable = !id.is_empty()
            && id.len() <= MAX_CONNECTION_ID_LEN
            && id.bytes().all(|b| b.is_ascii_graphic());
        usable.then(|| Self(id.to_owned()))
    }

    /// A fresh data-connection ID, `dc_` and 10 random letters and digits drawn from `random`.
    #[must_use]
    pub fn random(random: &mut impl FnMut() -> u32) -> Self {
        const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let tail: String = (0..10)
            .map(|_| char::from(ALPHABET[(random() % 36) as usize]))
            .collect();
        Self(format!("dc_{tail}"))
    }

    /// The ID as sent on the wire.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ConnectionId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("unusable connection ID"))
    }
}

/// How messages on a data connection are encoded, as named in an OFFER.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Serialization {
    /// UTF-8 JSON, one message per binary frame (PeerJS `json`).
    #[serde(rename = "json")]
    Json,
    /// Strings and bytes as they are (PeerJS `raw`).
    #[serde(rename = "raw")]
    Raw,
    /// PeerJS BinaryPack (`binary`, the JS default; see [`crate::binarypack`]).
    #[serde(rename = "binary")]
    Binary,
    /// PeerJS BinaryPack with UTF-8 strings: the same as `binary` since PeerJS 1.5.
    #[serde(rename = "binary-utf8")]
    BinaryUtf8,
    /// PeerJS `default`, an alias of `binary`.
    #[serde(rename = "default")]
    Default,
}

impl Serialization {
    /// The name used on the wire.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Raw => "raw",
            Self::Binary => "binary",
            Self::BinaryUtf8 => "binary-utf8",
            Self::Default => "default",
        }
    }

    /// Whether seedmesh can read and write this serialization.
    #[must_use]
    pub const fn is_supported(self) -> bool {
        matches!(
            self,
            Self::Json | Self::Raw | Self::Binary | Self::BinaryUtf8 | Self::Default
        )
    }
}

/// An SDP offer or answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDescription {
    /// `offer` or `answer`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The SDP text.
    pub sdp: String,
}

/// The kind of connection a signaling message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ConnectionType {
    /// A data connection.
    #[serde(rename = "data")]
    Data,
    /// A media call (PeerJS `call`): seedmesh refuses these.
    #[serde(rename = "media")]
    Media,
}

/// The payload of an OFFER.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferPayload {
    /// The offer.
    pub sdp: SessionDescription,
    /// Data or media.
    #[serde(rename = "type")]
    pub connection_type: ConnectionType,
    /// The connection this offer opens.
    pub connection_id: ConnectionId,
    /// The data channel's label (PeerJS: the connection ID).
    #[serde(default)]
    pub label: Option<String>,
    /// Whether the channel is ordered (PeerJS `reliable`).
    #[serde(default)]
    pub reliable: Option<bool>,
    /// How messages are encoded; PeerJS assumes `binary` when absent.
    #[serde(default)]
    pub serialization: Option<Serialization>,
    /// Application data the dialer attached.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub metadata: Value,
    /// Set by seedmesh peers: the seedmesh framing version they speak. PeerJS ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seedmesh: Option<u32>,
}

/// The payload of an ANSWER.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerPayload {
    /// The answer.
    pub sdp: SessionDescription,
    /// Data or media.
    #[serde(rename = "type")]
    pub connection_type: ConnectionType,
    /// The connection this answer is for.
    pub connection_id: ConnectionId,
    /// Set by seedmesh peers: the seedmesh framing version they speak. PeerJS ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seedmesh: Option<u32>,
}

/// An ICE candidate as PeerJS relays it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// The `candidate:` line.
    pub candidate: String,
    /// The media stream identification tag.
    #[serde(default)]
    pub sdp_mid: Option<String>,
    /// The index of the m-line.
    #[serde(default, rename = "sdpMLineIndex")]
    pub sdp_m_line_index: Option<u16>,
    /// The ICE username fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// The payload of a CANDIDATE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidatePayload {
    /// The candidate.
    pub candidate: Candidate,
    /// Data or media.
    #[serde(rename = "type")]
    pub connection_type: ConnectionType,
    /// The connection this candidate belongs to.
    pub connection_id: ConnectionId,
}

/// A message from the PeerServer, or relayed by it from another peer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ServerMessage {
    /// The server registered our ID.
    Open,
    /// Another peer holds our ID under a different token.
    IdTaken {
        /// The server's explanation.
        msg: String,
    },
    /// The server refused us (bad key, missing ID or token, user limit).
    Error {
        /// The server's explanation.
        msg: String,
    },
    /// The server's answer to a HEARTBEAT (newer servers) or a relayed one.
    Heartbeat,
    /// A peer offers a connection.
    Offer {
        /// The offering peer.
        src: PeerId,
        /// The offer.
        payload: Box<OfferPayload>,
    },
    /// A peer answers our offer.
    Answer {
        /// The answering peer.
        src: PeerId,
        /// The answer.
        payload: AnswerPayload,
    },
    /// A peer sends an ICE candidate.
    Candidate {
        /// The sending peer.
        src: PeerId,
        /// The candidate.
        payload: CandidatePayload,
    },
    /// A peer left: close every connection with it.
    Leave {
        /// The peer that left.
        src: PeerId,
    },
    /// What we sent to `src` could not be delivered: that peer is not connected.
    Expire {
        /// The absent peer.
        src: PeerId,
    },
    /// A message of a type seedmesh does not use; ignored.
    Other {
        /// Its `type`.
        kind: String,
    },
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    src: Option<String>,
    #[serde(default)]
    payload: Option<Value>,
}

impl ServerMessage {
    /// Reads one message from the signaling socket.
    pub fn parse(text: &str) -> Result<Self, MessageError> {
        if text.len() > MAX_MESSAGE_LEN {
            return Err(MessageError::TooLong { len: text.len() });
        }
        let envelope: Envelope =
            serde_json::from_str(text).map_err(|e| MessageError::NotJson(e.to_string()))?;
        let msg = || {
            envelope
                .payload
                .as_ref()
                .and_then(|p| p.get("msg"))
                .and_then(Value::as_str)
                .unwrap_or("no reason given")
                .to_owned()
        };
        Ok(match envelope.kind.as_str() {
            "OPEN" => Self::Open,
            "ID-TAKEN" => Self::IdTaken { msg: msg() },
            "ERROR" => Self::Error { msg: msg() },
            "HEARTBEAT" => Self::Heartbeat,
            "OFFER" => Self::Offer {
                src: src("OFFER", envelope.src.as_deref())?,
                payload: Box::new(payload("OFFER", envelope.payload)?),
            },
            "ANSWER" => Self::Answer {
                src: src("ANSWER", envelope.src.as_deref())?,
                payload: payload("ANSWER", envelope.payload)?,
            },
            "CANDIDATE" => Self::Candidate {
                src: src("CANDIDATE", envelope.src.as_deref())?,
                payload: payload("CANDIDATE", envelope.payload)?,
            },
            "LEAVE" => Self::Leave {
                src: src("LEAVE", envelope.src.as_deref())?,
            },
            "EXPIRE" => Self::Expire {
                src: src("EXPIRE", envelope.src.as_deref())?,
            },
            _ => Self::Other {
                kind: envelope.kind.chars().take(64).collect(),
            },
        })
    }
}

fn src(kind: &'static str, src: Option<&str>) -> Result<PeerId, MessageError> {
    let src = src.ok_or_else(|| MessageError::BadField {
        kind,
        detail: "no \"src\"".into(),
    })?;
    PeerId::parse(src).map_err(|e| MessageError::BadField {
        kind,
        detail: format!("\"src\": {e}"),
    })
}

fn payload<T: for<'de> Deserialize<'de>>(
    kind: &'static str,
    payload: Option<Value>,
) -> Result<T, MessageError> {
    let payload = payload.ok_or_else(|| MessageError::BadField {
        kind,
        detail: "no \"payload\"".into(),
    })?;
    serde_json::from_value(payload).map_err(|e| MessageError::BadField {
        kind,
        detail: format!("\"payload\": {e}"),
    })
}

/// A message we send to the PeerServer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientMessage {
    /// Keeps our registration alive.
    Heartbeat,
    /// Offers `dst` a connection.
    Offer {
        /// The peer to connect to.
        dst: PeerId,
        /// The offer.
        payload: Box<OfferPayload>,
    },
    /// Answers an offer from `dst`.
    Answer {
        /// The offering peer.
        dst: PeerId,
        /// The answer.
        payload: AnswerPayload,
    },
    /// Sends `dst` one of our ICE candidates.
    Candidate {
        /// The peer at the other end.
        dst: PeerId,
        /// The candidate.
        payload: CandidatePayload,
    },
    /// Tells `dst` we are closing every connection with it.
    Leave {
        /// The peer at the other end.
        dst: PeerId,
    },
}

#[derive(Serialize)]
struct Outgoing<'a, P: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dst: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a P>,
}

impl ClientMessage {
    /// The peer this message is for, if it is relayed.
    #[must_use]
    pub fn dst(&self) -> Option<&PeerId> {
        match self {
            Self::Heartbeat => None,
            Self::Offer { dst, .. }
            | Self::Answer { dst, .. }
            | Self::Candidate { dst, .. }
            | Self::Leave { dst } => Some(dst),
        }
    }

    /// The JSON text to send on the socket.
    #[must_use]
    pub fn to_json(&self) -> String {
        fn encode<P: Serialize>(
            kind: &'static str,
            dst: Option<&PeerId>,
            payload: Option<&P>,
        ) -> String {
            let message = Outgoing {
                kind,
                dst: dst.map(PeerId::as_str),
                payload,
            };
            // Plain structs of strings, numbers and JSON values always serialize.
            serde_json::to_string(&message).unwrap_or_default()
        }
        match self {
            Self::Heartbeat => encode::<()>("HEARTBEAT", None, None),
            Self::Offer { dst, payload } => encode("OFFER", Some(dst), Some(payload.as_ref())),
            Self::Answer { dst, payload } => encode("ANSWER", Some(dst), Some(payload)),
            Self::Candidate { dst, payload } => encode("CANDIDATE", Some(dst), Some(payload)),
            Self::Leave { dst } => encode::<()>("LEAVE", Some(dst), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn peer(id: &str) -> PeerId {
        PeerId::parse(id).unwrap()
    }

    #[test]
    fn reads_what_peerserver_sends() {
        assert_eq!(
            ServerMessage::parse(r#"{"type":"OPEN"}"#),
            Ok(ServerMessage::Open)
        );
        assert_eq!(
            ServerMessage::parse(r#"{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}"#),
            Ok(ServerMessage::IdTaken {
                msg: "ID is taken".into()
            })
        );
        assert_eq!(
            ServerMessage::parse(r#"{"type":"ERROR","payload":{"msg":"Invalid key provided"}}"#),
            Ok(ServerMessage::Error {
                msg: "Invalid key provided".into()
            })
        );
        assert_eq!(
            ServerMessage::parse(r#"{"type":"EXPIRE","src":"bob","dst":"alice"}"#),
            Ok(ServerMessage::Expire { src: peer("bob") })
        );
        assert_eq!(
            ServerMessage::parse(r#"{"type":"LEAVE","src":"bob","dst":"alice"}"#),
            Ok(ServerMessage::Leave { src: peer("bob") })
        );
    }

    #[test]
    fn reads_a_peerjs_offer_and_candidate() {
        let offer = r#"{"type":"OFFER","src":"alice","dst":"bob","payload":{"sdp":{"type":"offer","sdp":"v=0\r\n"},
            "type":"data","connectionId":"dc_k3j4h5g6f7","label":"dc_k3j4h5g6f7","reliable":true,
            "serialization":"json","metadata":{"any":"json"},"browser":"chrome"}}"#;
        let ServerMessage::Offer { src, payload } = ServerMessage::parse(offer).unwrap() else {
            panic!("not an offer");
        };
        assert_eq!(src, peer("alice"));
        assert_eq!(payload.connection_id.as_str(), "dc_k3j4h5g6f7");
        assert_eq!(payload.serialization, Some(Serialization::Json));
        assert_eq!(payload.reliable, Some(true));
        assert_eq!(payload.metadata["any"], "json");
        assert_eq!(payload.seedmesh, None);

        let candidate = r#"{"type":"CANDIDATE","src":"alice","dst":"bob","payload":{"candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host",
            "sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"ab12"},"type":"data","connectionId":"dc_k3j4h5g6f7"}}"#;
        let ServerMessage::Candidate { payload, .. } = ServerMessage::parse(candidate).unwrap()
        else {
            panic!("not a candidate");
        };
        assert_eq!(payload.candidate.sdp_m_line_index, Some(0));
        assert_eq!(payload.candidate.username_fragment.as_deref(), Some("ab12"));
    }

    #[test]
    fn refuses_malformed_relayed_messages() {
        for bad in [
            "",
            "null",
            "[]",
            r#"{"type":1}"#,
            r#"{"type":"OFFER","src":"alice"}"#,
            r#"{"type":"OFFER","src":"-bad","payload":{}}"#,
            r#"{"type":"ANSWER","src":"alice","payload":{"sdp":1}}"#,
            r#"{"type":"CANDIDATE","src":"alice","payload":{"type":"data","connectionId":"","candidate":{"candidate":""}}}"#,
            r#"{"type":"EXPIRE"}"#,
        ] {
            assert!(ServerMessage::parse(bad).is_err(), "{bad}");
        }
        let long = format!(r#"{{"type":"{}"}}"#, "x".repeat(MAX_MESSAGE_LEN));
        assert!(matches!(
            ServerMessage::parse(&long),
            Err(MessageError::TooLong { .. })
        ));
    }

    #[test]
    fn writes_what_peerserver_relays() {
        assert_eq!(
            ClientMessage::Heartbeat.to_json(),
            r#"{"type":"HEARTBEAT"}"#
        );
        assert_eq!(
            ClientMessage::Leave { dst: peer("bob") }.to_json(),
            r#"{"type":"LEAVE","dst":"bob"}"#
        );
        let answer = ClientMessage::Answer {
            dst: peer("alice"),
            payload: AnswerPayload {
                sdp: SessionDescription {
                    kind: "answer".into(),
                    sdp: "v=0".into(),
                },
                connection_type: ConnectionType::Data,
                connection_id: ConnectionId::parse("dc_1").unwrap(),
                seedmesh: Some(1),
            },
        };
        assert_eq!(
            answer.to_json(),
            r#"{"type":"ANSWER","dst":"alice","payload":{"sdp":{"type":"answer","sdp":"v=0"},"type":"data","connectionId":"dc_1","seedmesh":1}}"#
        );
    }

    fn arb_text() -> impl Strategy<Value = String> {
        "[ -~]{0,40}"
    }

    fn arb_payloads() -> impl Strategy<Value = (OfferPayload, CandidatePayload)> {
        (
            arb_text(),
            "[a-z0-9_]{1,20}",
            proptest::option::of(any::<bool>()),
            prop_oneof![Just(Serialization::Json), Just(Serialization::Raw)],
            proptest::option::of(any::<u32>()),
            arb_text(),
            proptest::option::of(any::<u16>()),
        )
            .prop_map(
                |(sdp, id, reliable, serialization, seedmesh, cand, index)| {
                    let connection_id = ConnectionId::parse(&id).unwrap();
                    (
                        OfferPayload {
                            sdp: SessionDescription {
                                kind: "offer".into(),
                                sdp,
                            },
                            connection_type: ConnectionType::Data,
                            connection_id: connection_id.clone(),
                            label: Some(id),
                            reliable,
                            serialization: Some(serialization),
                            metadata: Value::Null,
                            seedmesh,
                        },
                        CandidatePayload {
                            candidate: Candidate {
                                candidate: cand,
                                sdp_mid: Some("0".into()),
                                sdp_m_line_index: index,
                                username_fragment: None,
                            },
                            connection_type: ConnectionType::Data,
                            connection_id,
                        },
                    )
                },
            )
    }

    /// What the server does to a relayed message: sets `src`.
    fn relay(json: &str, src: &str) -> String {
        let mut value: Value = serde_json::from_str(json).unwrap();
        value["src"] = Value::from(src);
        value.to_string()
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = ServerMessage::parse(&text);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ServerMessage::parse(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn json_shaped_noise_never_panics(
            kind in prop_oneof![Just("OFFER"), Just("ANSWER"), Just("CANDIDATE"), Just("EXPIRE"), Just("OPEN"), Just("ERROR")],
            src in "[a-z-]{0,5}",
            payload in "[{}\\[\\]\":,a-zA-Z0-9 ]{0,60}",
        ) {
            let _ = ServerMessage::parse(&format!(r#"{{"type":"{kind}","src":"{src}","payload":{payload}}}"#));
        }

        #[test]
        fn offers_and_candidates_round_trip((offer, candidate) in arb_payloads()) {
            let dst = peer("bob");
            let sent = ClientMessage::Offer { dst: dst.clone(), payload: Box::new(offer.clone()) }.to_json();
            let received = ServerMessage::parse(&relay(&sent, "alice")).unwrap();
            prop_assert_eq!(received, ServerMessage::Offer { src: peer("alice"), payload: Box::new(offer) });
            let sent = ClientMessage::Candidate { dst, payload: candidate.clone() }.to_json();
            let received = ServerMessage::parse(&relay(&sent, "alice")).unwrap();
            prop_assert_eq!(received, ServerMessage::Candidate { src: peer("alice"), payload: candidate });
        }
    }
}
