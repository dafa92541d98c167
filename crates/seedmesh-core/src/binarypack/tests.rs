//! BinaryPack against what PeerJS 1.5.5 itself packs (`vectors.json`, written by
//! `scripts/binarypack-vectors.mjs` from node_modules), and property tests.

use core::time::Duration;

use proptest::prelude::*;
use serde_json::Value as Json;

use super::*;

const VECTORS: &str = include_str!("vectors.json");

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn made_bytes(n: usize, seed: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 31 + seed) % 256) as u8).collect()
}

/// A value from its tagged JSON form (see the vectors script).
fn value_of(tagged: &Json) -> Value {
    let (tag, inner) = tagged.as_object().unwrap().iter().next().unwrap();
    match tag.as_str() {
        "null" => Value::Null,
        "undefined" => Value::Undefined,
        "bool" => Value::Bool(inner.as_bool().unwrap()),
        "int" => Value::Int(inner.as_i64().unwrap()),
        "float" if inner.as_str() == Some("NaN") => Value::Float(f64::NAN),
        "float" => Value::Float(inner.as_f64().unwrap()),
        "text" => Value::Text(inner.as_str().unwrap().to_owned()),
        "bin" => Value::Binary(unhex(inner.as_str().unwrap())),
        "array" => Value::Array(inner.as_array().unwrap().iter().map(value_of).collect()),
        "map" => Value::Map(
            inner
                .as_array()
                .unwrap()
                .iter()
                .map(|pair| (pair[0].as_str().unwrap().to_owned(), value_of(&pair[1])))
                .collect(),
        ),
        "text_repeat" => Value::Text(
            inner[0]
                .as_str()
                .unwrap()
                .repeat(inner[1].as_u64().unwrap() as usize),
        ),
        "bytes_made" => Value::Binary(made_bytes(
            inner[0].as_u64().unwrap() as usize,
            inner[1].as_u64().unwrap() as usize,
        )),
        other => panic!("unknown tag {other}"),
    }
}

/// Whether two values are the same to JavaScript: numbers compare as numbers.
fn same(a: &Value, b: &Value) -> bool {
    let number = |v: &Value| match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| ka == kb && same(a, b))
        }
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x == y || (x.is_nan() && y.is_nan()),
            _ => a == b,
        },
    }
}

#[test]
fn packs_and_unpacks_as_peerjs_does() {
    let vectors: Json = serde_json::from_str(VECTORS).unwrap();
    let values = vectors["values"].as_array().unwrap();
    assert!(values.len() > 50);
    for vector in values {
        let name = vector["name"].as_str().unwrap();
        if let Some(made) = vector.get("made") {
            let value = value_of(made);
            let packed = pack(&value).unwrap();
            let head = unhex(vector["packed_head"].as_str().unwrap());
            assert_eq!(&packed[..head.len()], head, "{name}");
            assert_eq!(
                packed.len() as u64,
                vector["packed_len"].as_u64().unwrap(),
                "{name}"
            );
            assert_eq!(unpack(&packed).unwrap(), value, "{name}");
            continue;
        }
        let input = value_of(&vector["input"]);
        let packed = unhex(vector["packed"].as_str().unwrap());
        assert_eq!(
            pack(&input).unwrap(),
            packed,
            "{name}: packs as PeerJS does"
        );
        let unpacked = unpack(&packed).unwrap();
        let expected = value_of(&vector["unpacked"]);
        // PeerJS reads a negative int64 through an unsigned 64-bit double, which rounds it;
        // we read what was packed.
        let exact_int64 = packed[0] == 0xd3 && unpacked == input;
        assert!(
            same(&unpacked, &expected) || exact_int64,
            "{name}: {unpacked:?}, PeerJS: {expected:?}"
        );
    }
}

#[test]
fn splits_and_joins_chunks_as_peerjs_does() {
    let vectors: Json = serde_json::from_str(VECTORS).unwrap();
    let chunks = &vectors["chunks"];
    let made = &chunks["message_made"];
    let data = made_bytes(
        made[0].as_u64().unwrap() as usize,
        made[1].as_u64().unwrap() as usize,
    );
    let message = pack(&Value::Binary(data.clone())).unwrap();
    let mut expected = Vec::new();
    let mut at = 0;
    for frame in chunks["frames"].as_array().unwrap() {
        let len = frame["data_len"].as_u64().unwrap() as usize;
        let mut bytes = unhex(frame["before"].as_str().unwrap());
        bytes.extend_from_slice(&message[at..at + len]);
        bytes.extend(unhex(frame["after"].as_str().unwrap()));
        at += len;
        expected.push(bytes);
    }
    assert_eq!(at, message.len());
    let frames = Chunker::default().frames(message);
    assert_eq!(frames, expected);

    // And back, in any order.
    let mut reassembler = Reassembler::new(Limits::default());
    let now = Instant::from_millis(0);
    let (last, rest) = frames.split_last().unwrap();
    for frame in rest.iter().rev() {
        assert_eq!(reassembler.take(now, frame), Ok(None));
    }
    assert_eq!(
        reassembler.take(now, last),
        Ok(Some(Unpacked::Value(Value::Binary(data))))
    );
    assert_eq!(reassembler.unfinished(), 0);
}

#[test]
fn a_close_is_read_as_the_peer_closing() {
    let close = Value::Map(vec![(
        "__peerData".into(),
        Value::Map(vec![("type".into(), Value::Text("close".into()))]),
    )]);
    let mut reassembler = Reassembler::new(Limits::default());
    assert_eq!(
        reassembler.take(Instant::from_millis(0), &pack(&close).unwrap()),
        Ok(Some(Unpacked::Close))
    );
}

fn chunk(id: i64, n: i64, total: i64, data: &[u8]) -> Vec<u8> {
    pack(&Value::Map(vec![
        ("__peerData".into(), Value::Int(id)),
        ("n".into(), Value::Int(n)),
        ("data".into(), Value::Binary(data.to_vec())),
        ("total".into(), Value::Int(total)),
    ]))
    .unwrap()
}

#[test]
fn hostile_chunks_are_refused_within_the_limits() {
    let limits = Limits {
        max_message_len: 100_000,
        max_partial_messages: 2,
        partial_timeout: Duration::from_secs(10),
    };
    let mut r = Reassembler::new(limits);
    let t0 = Instant::from_millis(0);
    let refused = |r: &mut Reassembler, frame: Vec<u8>| {
        matches!(r.take(t0, &frame), Err(UnpackError::BadChunk(_)))
    };
    // A count that would make a message past the limit, an index past the count, a chunk
    // larger than PeerJS makes, and no bytes.
    assert!(refused(&mut r, chunk(1, 0, 1_000_000, b"x")));
    assert!(refused(&mut r, chunk(1, 5, 5, b"x")));
    assert!(refused(&mut r, chunk(1, 0, 2, &vec![0; CHUNK_MTU + 1])));
    let no_bytes = pack(&Value::Map(vec![
        ("__peerData".into(), Value::Int(1)),
        ("n".into(), Value::Int(0)),
        ("total".into(), Value::Int(2)),
    ]))
    .unwrap();
    assert!(refused(&mut r, no_bytes));
    // Twice the same chunk, or another count for the same message.
    assert_eq!(r.take(t0, &chunk(1, 0, 3, b"a")), Ok(None));
    assert!(refused(&mut r, chunk(1, 0, 3, b"a")));
    assert!(refused(&mut r, chunk(1, 1, 4, b"a")));
    // Two unfinished messages at most; a third waits until one is dropped, 10 s after its last
    // chunk.
    assert_eq!(r.take(t0, &chunk(2, 0, 3, b"b")), Ok(None));
    assert!(refused(&mut r, chunk(3, 0, 3, b"c")));
    let later = t0 + Duration::from_secs(10);
    assert_eq!(r.take(later, &chunk(3, 0, 2, b"c")), Ok(None));
    assert_eq!(r.unfinished(), 1);
    // A message whose chunks make another chunk is refused.
    let inner = chunk(9, 0, 2, b"z");
    let (a, b) = inner.split_at(inner.len() / 2);
    assert_eq!(r.take(later, &chunk(4, 0, 2, a)), Ok(None));
    assert!(refused(&mut r, chunk(4, 1, 2, b)));
}

#[test]
fn broken_messages_are_refused_with_a_reason() {
    assert_eq!(unpack(&[]), Err(UnpackError::EndsEarly { at: 0 }));
    assert_eq!(unpack(&[0xcd, 0x01]), Err(UnpackError::EndsEarly { at: 0 }));
    assert_eq!(unpack(&[0x92, 0x01]), Err(UnpackError::EndsEarly { at: 0 }));
    assert_eq!(
        unpack(&[0xb2, 0xc3, 0x28]),
        Err(UnpackError::NotUtf8 { at: 0 })
    );
    assert_eq!(
        unpack(&[0x01, 0x02]),
        Err(UnpackError::TrailingBytes { at: 1 })
    );
    assert_eq!(
        unpack(&[0x81, 0x91, 0x01, 0x01]),
        Err(UnpackError::BadKey { at: 1 })
    );
    // An array that says it holds four billion values, in five bytes.
    assert_eq!(
        unpack(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
        Err(UnpackError::EndsEarly { at: 0 })
    );
    // A million and one values in as many bytes, and arrays that each claim the whole message.
    let many = [
        vec![0xdd, 0x00, 0x10, 0x00, 0x01],
        vec![0x00; MAX_VALUES + 1],
    ]
    .concat();
    assert_eq!(unpack(&many), Err(UnpackError::TooManyValues));
    let claims = [
        [0xdd, 0x00, 0x0f, 0xff, 0xff].repeat(MAX_DEPTH),
        vec![0x00; 0x10_0000],
    ]
    .concat();
    assert!(unpack(&claims).is_err());
    // A map of many keys, one repeated: read in linear time, its last value in its first place.
    let mut map = vec![0xdf, 0x00, 0x01, 0x86, 0xa0];
    for i in 0..100_000u32 {
        let key = format!("k{}", i % 99_999);
        map.push(0xb0 + key.len() as u8);
        map.extend_from_slice(key.as_bytes());
        map.extend_from_slice(&[0xce]);
        map.extend_from_slice(&i.to_be_bytes());
    }
    let Ok(Value::Map(entries)) = unpack(&map) else {
        panic!("a map");
    };
    assert_eq!(entries.len(), 99_999);
    assert_eq!(entries[0], ("k0".into(), Value::Int(99_999)));
    let deep = [vec![0x91; MAX_DEPTH + 1], vec![0x00]].concat();
    assert_eq!(unpack(&deep), Err(UnpackError::TooDeep));
    assert!(unpack(&[vec![0x91; MAX_DEPTH], vec![0x00]].concat()).is_ok());
    // What PeerJS reads as undefined, and a key it makes a string of.
    assert_eq!(unpack(&[0xd4]), Ok(Value::Undefined));
    assert_eq!(
        unpack(&[0x82, 0x05, 0xc3, 0xc0, 0x01]),
        Ok(Value::Map(vec![
            ("5".into(), Value::Bool(true)),
            ("null".into(), Value::Int(1)),
        ]))
    );
    assert!(matches!(
        pack(&Value::Float(f64::INFINITY)),
        Err(PackError::InvalidNumber(_))
    ));
}

fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        // PeerJS reads subnormal numbers as other numbers, and so do we.
        any::<f64>()
            .prop_filter("a normal number with a fraction", |f| f.is_normal()
                && f.fract() != 0.0)
            .prop_map(Value::Float),
        ".{0,40}".prop_map(Value::Text),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Binary),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..20)
                .prop_map(|m| Value::Map(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn every_value_round_trips(value in any_value()) {
        let packed = pack(&value).unwrap();
        prop_assert_eq!(unpack(&packed), Ok(value));
    }

    #[test]
    fn any_bytes_unpack_or_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = unpack(&bytes);
        let mut r = Reassembler::new(Limits::default());
        let _ = r.take(Instant::from_millis(0), &bytes);
    }

    #[test]
    fn long_messages_come_back_whole_from_their_chunks(len in 0usize..60_000, seed in 0usize..256) {
        let value = Value::Binary(made_bytes(len, seed));
        let frames = Chunker::default().frames(pack(&value).unwrap());
        prop_assert!(frames.iter().all(|f| f.len() <= CHUNK_MTU + 64));
        let mut r = Reassembler::new(Limits::default());
        let mut got = None;
        for frame in &frames {
            got = r.take(Instant::from_millis(0), frame).unwrap();
        }
        prop_assert_eq!(got, Some(Unpacked::Value(value)));
    }
}
