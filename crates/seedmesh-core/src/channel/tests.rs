use super::*;
use proptest::prelude::*;
use serde_json::json;

const T0: Instant = Instant::from_millis(0);
const JSON: Protocol = Protocol::PeerJs(Serialization::Json);
const RAW: Protocol = Protocol::PeerJs(Serialization::Raw);

fn pair(protocol: Protocol) -> (Encoder, Decoder) {
    (
        Encoder::new(protocol).unwrap(),
        Decoder::new(protocol, Limits::default()).unwrap(),
    )
}

fn round_trip(protocol: Protocol, message: &Message) -> Vec<Received> {
    let (mut encoder, mut decoder) = pair(protocol);
    encoder
        .encode(message)
        .unwrap()
        .into_iter()
        .filter_map(|frame| decoder.decode(T0, frame).unwrap())
        .collect()
}

#[test]
fn json_is_one_binary_utf8_frame_as_peerjs_sends_it() {
    let (mut encoder, _) = pair(JSON);
    let frames = encoder.encode(&Message::Json(json!({"hi": "ü"}))).unwrap();
    assert_eq!(
        frames,
        vec![Frame::Binary(r#"{"hi":"ü"}"#.as_bytes().to_vec())]
    );
    // A string is a JSON string.
    let frames = encoder.encode(&Message::Text("x".into())).unwrap();
    assert_eq!(frames, vec![Frame::Binary(br#""x""#.to_vec())]);
}

#[test]
fn json_refuses_what_peerjs_refuses() {
    let (mut encoder, _) = pair(JSON);
    let big = Message::Json(Value::String("a".repeat(PEERJS_JSON_LIMIT - 2)));
    assert_eq!(
        encoder.encode(&big),
        Err(ChannelError::TooBig {
            len: PEERJS_JSON_LIMIT,
            max: PEERJS_JSON_LIMIT - 1
        })
    );
    let fits = Message::Json(Value::String("a".repeat(PEERJS_JSON_LIMIT - 3)));
    assert!(encoder.encode(&fits).is_ok());
    assert!(matches!(
        encoder.encode(&Message::Json(Value::Null)),
        Err(ChannelError::NotRepresentable(_))
    ));
    assert!(matches!(
        encoder.encode(&Message::Binary(vec![1])),
        Err(ChannelError::NotRepresentable(_))
    ));
}

#[test]
fn json_accepts_text_frames_and_the_close_message() {
    let (_, mut decoder) = pair(JSON);
    assert_eq!(
        decoder.decode(T0, Frame::Text(r#"{"a":1}"#.into())),
        Ok(Some(Received::Message(Message::Json(json!({"a": 1})))))
    );
    assert_eq!(
        decoder.decode(
            T0,
            Frame::Binary(br#"{"__peerData":{"type":"close"}}"#.to_vec())
        ),
        Ok(Some(Received::Close))
    );
    assert_eq!(
        Encoder::new(JSON).unwrap().close(),
        Some(Frame::Binary(
            br#"{"__peerData":{"type":"close"}}"#.to_vec()
        ))
    );
    assert!(matches!(
        decoder.decode(T0, Frame::Binary(vec![0xff])),
        Err(ChannelError::Malformed(_))
    ));
    assert!(matches!(
        decoder.decode(T0, Frame::Text("{".into())),
        Err(ChannelError::Malformed(_))
    ));
}

#[test]
fn raw_passes_strings_and_bytes_through() {
    let (mut encoder, mut decoder) = pair(RAW);
    assert_eq!(
        encoder.encode(&Message::Text("hi".into())).unwrap(),
        vec![Frame::Text("hi".into())]
    );
    assert_eq!(
        encoder.encode(&Message::Binary(vec![0, 1])).unwrap(),
        vec![Frame::Binary(vec![0, 1])]
    );
    assert_eq!(
        decoder.decode(T0, Frame::Binary(vec![9])),
        Ok(Some(Received::Message(Message::Binary(vec![9]))))
    );
    assert_eq!(encoder.close(), None);
    assert_eq!(encoder.ping(1), None);
    assert!(matches!(
        encoder.encode(&Message::Binary(vec![0; MAX_RAW_LEN + 1])),
        Err(ChannelError::TooBig { .. })
    ));
}

const BINARY: Protocol = Protocol::PeerJs(Serialization::Binary);

#[test]
fn binarypack_carries_every_kind_of_message_and_chunks_as_peerjs_does() {
    for s in [
        Serialization::Binary,
        Serialization::BinaryUtf8,
        Serialization::Default,
    ] {
        assert!(Encoder::new(Protocol::PeerJs(s)).is_ok());
    }
    let object = Message::Json(serde_json::json!({"hello": "peerjs", "n": [1, 2.5, null]}));
    let with_bytes = Message::Packed(binarypack::Value::Map(vec![(
        "file".into(),
        binarypack::Value::Binary(vec![1, 2, 3]),
    )]));
    let big = Message::Binary((0..40_000u32).map(|i| i as u8).collect());
    for message in [
        object,
        Message::Text("plain".into()),
        Message::Binary(vec![0, 255]),
        with_bytes,
        big.clone(),
    ] {
        assert_eq!(
            round_trip(BINARY, &message),
            vec![Received::Message(message)]
        );
    }
    // 40,000 bytes go in three chunks of at most 16,300 bytes of the packed message.
    let frames = Encoder::new(BINARY).unwrap().encode(&big).unwrap();
    assert_eq!(frames.len(), 3);
    let (encoder, mut decoder) = pair(BINARY);
    let close = encoder.close().unwrap();
    assert_eq!(decoder.decode(T0, close), Ok(Some(Received::Close)));
    assert!(matches!(
        decoder.decode(T0, Frame::Text("{}".into())),
        Err(ChannelError::Malformed(_))
    ));
    assert!(matches!(
        decoder.decode(T0, Frame::Binary(vec![0xb3, b'a'])),
        Err(ChannelError::Malformed(_))
    ));
    // JSON and raw peers get no objects with bytes inside.
    let packed = Message::Packed(binarypack::Value::Array(vec![binarypack::Value::Binary(
        vec![],
    )]));
    assert!(matches!(
        Encoder::new(JSON).unwrap().encode(&packed),
        Err(ChannelError::NotRepresentable(_))
    ));
}

#[test]
fn seedmesh_chunks_large_messages_into_small_frames() {
    let (mut encoder, mut decoder) = pair(Protocol::Seedmesh);
    let big = Message::Binary((0..100_000u32).map(|i| i as u8).collect());
    let frames = encoder.encode(&big).unwrap();
    assert_eq!(frames.len(), 7);
    for frame in &frames {
        let Frame::Binary(bytes) = frame else {
            panic!()
        };
        assert!(bytes.len() <= MAX_FRAME_LEN);
    }
    let (last, rest) = frames.split_last().unwrap();
    for frame in rest {
        assert_eq!(decoder.decode(T0, frame.clone()), Ok(None));
    }
    assert!(decoder.buffered_len() > 90_000);
    assert_eq!(
        decoder.decode(T0, last.clone()),
        Ok(Some(Received::Message(big)))
    );
    assert_eq!(decoder.buffered_len(), 0);
}

#[test]
fn seedmesh_pings_pongs_and_closes_in_band() {
    let (encoder, mut decoder) = pair(Protocol::Seedmesh);
    assert_eq!(
        decoder.decode(T0, encoder.ping(7).unwrap()),
        Ok(Some(Received::Ping(7)))
    );
    assert_eq!(
        decoder.decode(T0, encoder.pong(u64::MAX).unwrap()),
        Ok(Some(Received::Pong(u64::MAX)))
    );
    assert_eq!(
        decoder.decode(T0, encoder.close().unwrap()),
        Ok(Some(Received::Close))
    );
}

fn chunk(id: u32, index: u32, count: u32, data: &[u8]) -> Frame {
    let mut frame = vec![TAG_CHUNK];
    for word in [id, index, count] {
        frame.extend_from_slice(&word.to_be_bytes());
    }
    frame.extend_from_slice(data);
    Frame::Binary(frame)
}

#[test]
fn reassembly_refuses_oversized_and_disordered_input() {
    let limits = Limits {
        max_message_len: 1_000,
        max_partial_messages: 2,
        ..Limits::default()
    };
    let mut decoder = Decoder::new(Protocol::Seedmesh, limits).unwrap();
    // A message that claims to be huge is refused once its bytes pass the limit.
    let block = [TAG_BINARY; 600];
    assert_eq!(decoder.decode(T0, chunk(1, 0, u32::MAX, &block)), Ok(None));
    assert!(matches!(
        decoder.decode(T0, chunk(1, 1, u32::MAX, &block)),
        Err(ChannelError::LimitExceeded(_))
    ));
    assert_eq!(decoder.buffered_len(), 0);
    // Too many unfinished messages at once.
    assert_eq!(decoder.decode(T0, chunk(2, 0, 3, &[TAG_TEXT])), Ok(None));
    assert_eq!(decoder.decode(T0, chunk(3, 0, 3, &[TAG_TEXT])), Ok(None));
    assert!(matches!(
        decoder.decode(T0, chunk(4, 0, 3, &[TAG_TEXT])),
        Err(ChannelError::LimitExceeded(_))
    ));
    // Out of order, a count that changes, a chunk without a start.
    assert!(decoder.decode(T0, chunk(2, 2, 3, b"x")).is_err());
    assert!(decoder.decode(T0, chunk(3, 1, 4, b"x")).is_err());
    assert!(decoder.decode(T0, chunk(9, 1, 3, b"x")).is_err());
    assert!(decoder.decode(T0, chunk(9, 3, 3, b"x")).is_err());
    assert_eq!(decoder.buffered_len(), 0);
    // A whole frame over the limit.
    let mut whole = vec![TAG_BINARY];
    whole.extend_from_slice(&[0; 1_001]);
    assert!(matches!(
        decoder.decode(T0, Frame::Binary(whole)),
        Err(ChannelError::LimitExceeded(_))
    ));
    assert!(decoder.decode(T0, Frame::Text("x".into())).is_err());
    assert!(decoder.decode(T0, Frame::Binary(vec![])).is_err());
}

#[test]
fn unfinished_messages_expire_and_mesh_links_hold_little() {
    let limits = Limits::mesh();
    let mut decoder = Decoder::new(Protocol::Seedmesh, limits).unwrap();
    // Two messages started and never finished: together they fill what a link may hold.
    let block = [TAG_BINARY; 1_000];
    assert_eq!(decoder.decode(T0, chunk(1, 0, 1_000, &block)), Ok(None));
    assert_eq!(decoder.decode(T0, chunk(2, 0, 1_000, &block)), Ok(None));
    assert!(matches!(
        decoder.decode(T0, chunk(3, 0, 3, &[TAG_TEXT])),
        Err(ChannelError::LimitExceeded(_))
    ));
    // A chunk keeps its message alive; the silent one goes after the timeout.
    let half = T0 + limits.partial_timeout / 2;
    assert_eq!(decoder.decode(half, chunk(1, 1, 1_000, &block)), Ok(None));
    let later = T0 + limits.partial_timeout;
    assert_eq!(decoder.decode(later, chunk(3, 0, 3, &[TAG_TEXT])), Ok(None));
    // Held: two chunks of message 1 without its tag byte; message 3 holds only its tag.
    assert_eq!(decoder.buffered_len(), 2_000 - 1);
    // A mesh link refuses a message larger than a file chunk at its first bytes past the
    // limit: a 16 MiB JSON value is never parsed.
    let mut decoder = Decoder::new(Protocol::Seedmesh, limits).unwrap();
    let big = vec![TAG_JSON; MAX_FRAME_LEN - CHUNK_HEADER_LEN];
    let mut refused = None;
    for index in 0..1_100u32 {
        if let Err(error) = decoder.decode(T0, chunk(7, index, 1_100, &big)) {
            refused = Some((index, error));
            break;
        }
    }
    let (index, error) = refused.expect("refused");
    assert!(matches!(error, ChannelError::LimitExceeded(_)));
    assert!((index as usize) * big.len() <= MAX_MESH_FRAME_MESSAGE + big.len());
    assert_eq!(decoder.buffered_len(), 0);
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 20, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        arb_json().prop_map(Message::Json),
        ".{0,50}".prop_map(Message::Text),
        proptest::collection::vec(any::<u8>(), 0..100).prop_map(Message::Binary),
        (0usize..60_000, any::<u8>()).prop_map(|(n, b)| Message::Binary(vec![b; n])),
    ]
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        ".{0,40}".prop_map(Frame::Text),
        proptest::collection::vec(any::<u8>(), 0..60).prop_map(Frame::Binary),
        (
            any::<u8>(),
            0u32..4,
            0u32..4,
            0u32..5,
            proptest::collection::vec(any::<u8>(), 0..20)
        )
            .prop_map(|(_, id, index, count, data)| chunk(id, index, count, &data)),
    ]
}

proptest! {
    #[test]
    fn seedmesh_framing_round_trips(messages in proptest::collection::vec(arb_message(), 1..5)) {
        let (mut encoder, mut decoder) = pair(Protocol::Seedmesh);
        for message in messages {
            let mut got = Vec::new();
            for frame in encoder.encode(&message).unwrap() {
                if let Frame::Binary(bytes) = &frame {
                    prop_assert!(bytes.len() <= MAX_FRAME_LEN);
                }
                got.extend(decoder.decode(T0, frame).unwrap());
            }
            prop_assert_eq!(got, vec![Received::Message(message)]);
        }
    }

    #[test]
    fn peerjs_json_round_trips(value in arb_json()) {
        prop_assert_eq!(round_trip(JSON, &Message::Json(value.clone())), vec![Received::Message(Message::Json(value))]);
    }

    #[test]
    fn peerjs_binary_round_trips(message in arb_message().prop_filter(
        "a JSON string comes back as text",
        |m| !matches!(m, Message::Json(Value::String(_))),
    )) {
        prop_assert_eq!(round_trip(BINARY, &message), vec![Received::Message(message)]);
    }

    #[test]
    fn peerjs_raw_round_trips(message in arb_message().prop_filter("no JSON in raw", |m| !matches!(m, Message::Json(_)))) {
        prop_assert_eq!(round_trip(RAW, &message), vec![Received::Message(message)]);
    }

    #[test]
    fn arbitrary_frames_never_panic_and_stay_bounded(frames in proptest::collection::vec(arb_frame(), 0..40)) {
        let limits = Limits { max_message_len: 64, max_partial_messages: 2, ..Limits::default() };
        for protocol in [JSON, RAW, BINARY, Protocol::Seedmesh] {
            let mut decoder = Decoder::new(protocol, limits).unwrap();
            for frame in frames.clone() {
                let _ = decoder.decode(T0, frame);
                prop_assert!(decoder.buffered_len() <= 2 * 65);
                prop_assert!(decoder.partial.len() <= 2);
                prop_assert!(decoder.packs.unfinished() <= 2);
            }
        }
    }
}

/// Seedmesh framing as version 1 defines it, written out plainly: the tag and the message
/// joined, in chunks of `CHUNK_DATA_LEN` when they do not fit one frame.
fn framing_v1(id: u32, tag: u8, payload: &[u8]) -> Vec<Frame> {
    let mut body = vec![tag];
    body.extend_from_slice(payload);
    if body.len() <= MAX_FRAME_LEN {
        return vec![Frame::Binary(body)];
    }
    let count = body.len().div_ceil(CHUNK_DATA_LEN) as u32;
    body.chunks(CHUNK_DATA_LEN)
        .zip(0u32..)
        .map(|(data, index)| chunk(id, index, count, data))
        .collect()
}

#[test]
fn frames_made_one_at_a_time_are_framing_v1_at_every_boundary() {
    let mut encoder = Encoder::new(Protocol::Seedmesh).unwrap();
    let mut id = 0;
    let mut buffer = Vec::new();
    for len in [
        0,
        1,
        MAX_FRAME_LEN - 1,
        MAX_FRAME_LEN,
        MAX_FRAME_LEN + 1,
        2 * CHUNK_DATA_LEN - 1,
        2 * CHUNK_DATA_LEN,
        2 * CHUNK_DATA_LEN + 1,
        100_000,
    ] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let message = Message::Binary(payload.clone());
        let want = framing_v1(id, TAG_BINARY, &payload);
        if want.len() > 1 {
            id += 1;
        }
        let mut frames = encoder.frames(&message).unwrap();
        assert_eq!(frames.len(), want.len(), "{len} bytes");
        let mut got = Vec::new();
        while let Some(kind) = frames.next_into(&mut buffer) {
            assert_eq!(kind, FrameKind::Binary);
            got.push(Frame::Binary(buffer.clone()));
        }
        assert_eq!(got, want, "{len} bytes");
        let mut decoder = Decoder::new(Protocol::Seedmesh, Limits::default()).unwrap();
        let received: Vec<_> = got
            .into_iter()
            .filter_map(|frame| decoder.decode(T0, frame).unwrap())
            .collect();
        assert_eq!(received, vec![Received::Message(message)], "{len} bytes");
    }
}
