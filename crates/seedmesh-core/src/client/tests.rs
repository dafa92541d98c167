use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::binarypack::Value as Packed;
use crate::channel::{Decoder, Frame, Protocol, Received};
use crate::time::Instant;

#[test]
fn strings_and_objects_with_text_are_chat() {
    assert_eq!(
        read(Message::Text("hello".into())),
        Ok(ClientInput::Text("hello".into()))
    );
    assert_eq!(
        read(Message::Json(json!("hello"))),
        Ok(ClientInput::Text("hello".into()))
    );
    for field in TEXT_FIELDS {
        let object = json!({ "from": "a page", field: "hi there" });
        assert_eq!(
            read(Message::Json(object)),
            Ok(ClientInput::Text("hi there".into())),
            "{field}"
        );
    }
    // The first field of TEXT_FIELDS with a string wins, whatever the order in the object.
    let both = json!({ "message": "second", "text": "first" });
    assert_eq!(
        read(Message::Json(both)),
        Ok(ClientInput::Text("first".into()))
    );
    let number_text = json!({ "text": 5, "message": "this one" });
    assert_eq!(
        read(Message::Json(number_text)),
        Ok(ClientInput::Text("this one".into()))
    );
    // An object with bytes inside (BinaryPack) still has its text read.
    let packed = Packed::Map(vec![
        ("image".into(), Packed::Binary(vec![1, 2, 3])),
        ("text".into(), Packed::Text("caption".into())),
    ]);
    assert_eq!(
        read(Message::Packed(packed)),
        Ok(ClientInput::Text("caption".into()))
    );
}

#[test]
fn bytes_are_a_file() {
    assert_eq!(
        read(Message::Binary(vec![0, 159, 146, 150])),
        Ok(ClientInput::Bytes(vec![0, 159, 146, 150]))
    );
}

#[test]
fn values_without_text_are_refused_with_what_they_were() {
    for (value, what) in [
        (json!(42), "a number"),
        (json!(true), "a boolean"),
        (json!(null), "null"),
        (json!([1, "two"]), "an array"),
        (json!({ "n": 1 }), "an object without a text field"),
    ] {
        let refused = read(Message::Json(value)).unwrap_err();
        assert_eq!(refused, ClientError::NoText(what));
        assert!(refused.to_string().contains(what));
    }
    let packed = Packed::Array(vec![Packed::Binary(vec![1])]);
    assert_eq!(
        read(Message::Packed(packed)),
        Err(ClientError::NoText("an array"))
    );
}

#[test]
fn text_longer_than_chat_is_refused() {
    let long = "x".repeat(MAX_CHAT_BYTES + 1);
    assert_eq!(
        read(Message::Text(long.clone())),
        Err(ClientError::TooLong {
            len: MAX_CHAT_BYTES + 1,
            max: MAX_CHAT_BYTES
        })
    );
    assert!(read(Message::Json(json!({ "text": long }))).is_err());
    let longest = "x".repeat(MAX_CHAT_BYTES);
    assert_eq!(
        read(Message::Text(longest.clone())),
        Ok(ClientInput::Text(longest))
    );
}

#[test]
fn files_go_as_bytes_where_the_serialization_carries_them() {
    let file = vec![7u8; 1000];
    for serialization in [
        Serialization::Binary,
        Serialization::BinaryUtf8,
        Serialization::Default,
        Serialization::Raw,
    ] {
        assert_eq!(
            file_message(serialization, &file),
            Ok(Message::Binary(file.clone()))
        );
    }
    assert_eq!(
        file_message(Serialization::Json, &file),
        Err(ClientError::NoBytes)
    );
    let big = vec![0u8; MAX_RAW_LEN + 1];
    assert!(matches!(
        file_message(Serialization::Raw, &big),
        Err(ClientError::FileTooBig { .. })
    ));
    assert!(file_message(Serialization::Binary, &big).is_ok());
    assert_eq!(text_message("hi"), Message::Text("hi".into()));
}

/// Everything a client can send, decoded as its connection decodes it and read: never a
/// panic, and chat is never longer than chat may be.
fn read_frame(serialization: Serialization, frame: Frame) {
    let Ok(mut decoder) = Decoder::new(Protocol::PeerJs(serialization), limits()) else {
        return;
    };
    if let Ok(Some(Received::Message(message))) = decoder.decode(Instant::from_millis(0), frame) {
        match read(message) {
            Ok(ClientInput::Text(text)) => assert!(text.len() <= MAX_CHAT_BYTES),
            Ok(ClientInput::Bytes(bytes)) => assert!(bytes.len() <= MAX_CLIENT_MESSAGE),
            Err(error) => assert!(!error.to_string().is_empty()),
        }
    }
}

proptest! {
    #[test]
    fn any_binarypack_frame_is_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        read_frame(Serialization::Binary, Frame::Binary(bytes));
    }

    #[test]
    fn any_json_frame_is_read_or_refused(text in ".{0,200}") {
        read_frame(Serialization::Json, Frame::Binary(text.into_bytes()));
    }

    #[test]
    fn any_raw_frame_is_read_or_refused(text in ".{0,200}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        read_frame(Serialization::Raw, Frame::Text(text));
        read_frame(Serialization::Raw, Frame::Binary(bytes));
    }

    #[test]
    fn any_object_with_a_text_field_is_its_text(text in ".{0,100}", field in 0..TEXT_FIELDS.len(), n in any::<i64>()) {
        let object = json!({ "n": n, TEXT_FIELDS[field]: text.clone() });
        prop_assert_eq!(read(Message::Json(object)), Ok(ClientInput::Text(text)));
    }
}
