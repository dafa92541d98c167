use super::*;
use crate::client::{MAX_CLIENTS, MAX_CONNECTIONS_PER_CLIENT};
use crate::mesh::MeshConfig;
use crate::proof::Fingerprint;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// The key of the page called `name` in these tests.
fn key(name: &str) -> PeerKey {
    let mut secret = [0u8; 32];
    for (byte, letter) in secret.iter_mut().zip(name.bytes()) {
        *byte = letter;
    }
    PeerKey::from_secret(secret)
}

/// The ID of the page called `name`.
fn id(name: &str) -> PeerId {
    key(name).peer_id()
}

/// The certificate fingerprint of `name`'s end of a connection.
fn fingerprint(name: &str) -> Fingerprint {
    let byte = name
        .bytes()
        .fold(0u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    let hex: Vec<String> = (0..32u8).map(|i| format!("{:02X}", byte ^ i)).collect();
    Fingerprint::parse(&format!("sha-256 {}", hex.join(":"))).unwrap()
}

/// What `me` sees of a connection between `me` and `them`.
fn binding(me: &str, them: &str) -> ChannelBinding {
    ChannelBinding {
        local: fingerprint(me),
        remote: fingerprint(them),
    }
}

fn page(name: &str) -> Endpoint {
    Endpoint::new(key(name), name, MeshConfig::default()).unwrap()
}

/// Two endpoints and the wire between their links.
struct Pair {
    pages: [Endpoint; 2],
    /// Page 0's link and page 1's link of the one connection between them.
    wire: Option<(LinkId, LinkId)>,
    events: [Vec<Event>; 2],
    dials: [Vec<(LinkId, PeerId, Through)>; 2],
    taken: [Vec<(PeerId, String)>; 2],
}

impl Pair {
    fn new() -> Self {
        let mut pair = Self {
            pages: [page("alice"), page("bob")],
            wire: None,
            events: [Vec::new(), Vec::new()],
            dials: [Vec::new(), Vec::new()],
            taken: [Vec::new(), Vec::new()],
        };
        for page in &mut pair.pages {
            page.start(at(0));
        }
        pair
    }

    /// Bob's connection reaches Alice, as after a dial of Bob's went through.
    fn connect(&mut self) {
        let now = at(0);
        let alices = self.pages[0]
            .connected(now, id("bob"), false, binding("alice", "bob"))
            .unwrap();
        let bobs = self.pages[1]
            .connected(now, id("alice"), false, binding("bob", "alice"))
            .unwrap();
        self.wire = Some((alices, bobs));
        self.pump();
    }

    /// Lets both pages act on what is due at `now` (the gossip's rounds, say), then carries
    /// frames until they are quiet.
    fn tick(&mut self, now: Instant) {
        for page in &mut self.pages {
            if page.poll_timeout().is_some_and(|t| t <= now) {
                page.handle_timeout(now);
            }
        }
        self.pump();
    }

    /// Carries frames until both pages are quiet.
    fn pump(&mut self) {
        let now = at(10);
        loop {
            let mut moved = false;
            for from in 0..2 {
                while let Some(action) = self.pages[from].poll_action() {
                    moved = true;
                    let to = 1 - from;
                    let their_link = |wire: Option<(LinkId, LinkId)>| {
                        wire.map(|(a, b)| if from == 0 { b } else { a })
                    };
                    match action {
                        Action::Send { message, .. } => {
                            if let Some(link) = their_link(self.wire) {
                                self.pages[to].received_text(now, link, &message.encode());
                            }
                        }
                        Action::SendChunk { chunk, .. } => {
                            if let Some(link) = their_link(self.wire) {
                                self.pages[to].received_binary(now, link, &chunk);
                            }
                        }
                        Action::Dial {
                            link,
                            peer,
                            through,
                        } => {
                            self.dials[from].push((link, peer, through));
                        }
                        Action::TakeSignal { from: source, body } => {
                            self.taken[from].push((source, body));
                        }
                        Action::Close { .. }
                        | Action::SendToClient { .. }
                        | Action::Call(_)
                        | Action::ClaimSlot { .. }
                        | Action::ReleaseSlot { .. } => {}
                    }
                }
                while let Some(event) = self.pages[from].poll_event() {
                    self.events[from].push(event);
                }
            }
            if !moved {
                return;
            }
        }
    }
}

#[test]
fn two_endpoints_chat_and_pass_a_file_whole() {
    let mut pair = Pair::new();
    pair.connect();
    assert!(
        pair.events[0]
            .iter()
            .any(|e| matches!(e, Event::Peer(view) if view.id == id("bob")))
    );

    let chat = pair.pages[0].send_chat(1, "hello", None).unwrap();
    pair.pump();
    // A room message's count comes back with the gossip's next round.
    pair.tick(at(1_000));
    assert!(
        pair.events[1]
            .iter()
            .any(|e| matches!(e, Event::Chat(c) if c.text == "hello"))
    );
    assert!(pair.events[0].iter().any(|e| *e
        == Event::Delivered {
            id: chat.id.clone(),
            delivered: 1
        }));

    let bytes: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let file = pair.pages[1]
        .send_file(2, "a.bin", "application/x-test", &bytes, None)
        .unwrap();
    assert_eq!(file.recipients, 1);
    pair.pump();
    let received = pair.events[0].iter().find_map(|e| match e {
        Event::FileReceived { id, bytes, mime }
            if *id == format!("{}/{}", self::id("bob"), file.id) =>
        {
            Some((bytes.clone(), mime.clone()))
        }
        _ => None,
    });
    assert_eq!(received, Some((bytes, "application/x-test".to_owned())));
    // Progress came in steps, and the sender got the confirmation.
    let steps = pair.events[0]
        .iter()
        .filter(|e| matches!(e, Event::FileProgress { .. }))
        .count();
    assert!(steps >= 4, "{steps} progress events");
    assert!(pair.events[1].iter().any(|e| *e
        == Event::Delivered {
            id: file.id.clone(),
            delivered: 1
        }));
}

#[test]
fn a_room_message_signed_by_someone_else_closes_the_link_it_came_on() {
    let mut pair = Pair::new();
    pair.connect();
    let (alices, bobs) = pair.wire.unwrap();
    // Bob passes on a post that names Carol as its author, signed with Bob's own key.
    let carol = id("carol");
    let forged = post::RoomPost {
        from: carol.to_string(),
        name: "Carol".into(),
        id: "1-1".into(),
        text: "send money".into(),
        sent_at: 1,
        kind: post::PostKind::Chat,
    };
    let push = MeshMessage::Gossip {
        gossip: GossipMessage::Push {
            id: forged.gossip_id(),
            hops: 1,
            payload: post::seal(&key("bob"), &forged),
        },
    };
    pair.pages[0].received_text(at(20), alices, &push.encode());
    pair.pump();
    assert!(
        !pair.events[0]
            .iter()
            .any(|e| matches!(e, Event::Chat(c) if c.text == "send money"))
    );
    assert!(pair.events[0].iter().any(|e| matches!(
        e,
        Event::Refused { peer, reason } if *peer == id("bob") && reason.contains("signed by")
    )));
    let _ = bobs;
}

#[test]
fn a_room_message_comes_from_its_author_whoever_passes_it_on() {
    let mut pair = Pair::new();
    pair.connect();
    let (alices, _) = pair.wire.unwrap();
    // Carol's post, signed by Carol, relayed by Bob.
    let carol = post::RoomPost {
        from: id("carol").to_string(),
        name: "Carol".into(),
        id: "1-1".into(),
        text: "hi from afar".into(),
        sent_at: 1,
        kind: post::PostKind::Chat,
    };
    let push = MeshMessage::Gossip {
        gossip: GossipMessage::Push {
            id: carol.gossip_id(),
            hops: 1,
            payload: post::seal(&key("carol"), &carol),
        },
    };
    pair.pages[0].received_text(at(20), alices, &push.encode());
    pair.pump();
    let chat = pair.events[0].iter().find_map(|e| match e {
        Event::Chat(c) => Some(c.clone()),
        _ => None,
    });
    let chat = chat.expect("the post shows");
    assert_eq!(chat.from, id("carol"));
    assert_eq!(chat.from_name.as_deref(), Some("Carol"));
    assert!(!chat.direct);
}

#[test]
fn an_empty_file_arrives_at_once() {
    let mut pair = Pair::new();
    pair.connect();
    let file = pair.pages[0]
        .send_file(1, "empty", "text/plain", &[], None)
        .unwrap();
    pair.pump();
    assert!(pair.events[1].iter().any(
        |e| matches!(e, Event::FileReceived { id, bytes, .. } if *id == format!("{}/{}", self::id("alice"), file.id) && bytes.is_empty())
    ));
}

#[test]
fn a_chunk_of_no_announced_file_is_refused_and_changes_nothing() {
    let mut pair = Pair::new();
    pair.connect();
    let (alices, _) = pair.wire.unwrap();
    let chunk = transfer::encode_chunk("nobody-announced-this", 0, b"bytes");
    pair.pages[0].received_binary(at(20), alices, &chunk);
    pair.pump();
    assert!(
        pair.events[0]
            .iter()
            .any(|e| matches!(e, Event::FileFailed { id: None, .. }))
    );
    assert!(
        !pair.events[0]
            .iter()
            .any(|e| matches!(e, Event::FileReceived { .. }))
    );
    // Text that is not a mesh message is ignored.
    pair.pages[0].received_text(at(20), alices, "{not json");
    assert!(pair.pages[0].poll_event().is_none());
}

/// Alice with Bob and Mallory linked, and Bob announcing a 10-byte file `f`.
fn alice_expecting_bobs_file() -> (Endpoint, LinkId, LinkId) {
    let mut alice = page("alice");
    alice.start(at(0));
    let mut link_to = |peer: &str| {
        let link = alice
            .connected(at(0), id(peer), false, binding("alice", peer))
            .unwrap();
        let proof = key(peer).prove(&binding(peer, "alice"));
        let hello = MeshMessage::Hello {
            id: id(peer).to_string(),
            name: peer.into(),
            version: crate::mesh::message::PROTOCOL_VERSION,
            seen: true,
            key: Some(proof.key),
            sig: Some(proof.signature),
        };
        alice.received_text(at(0), link, &hello.encode());
        link
    };
    let (bob, mallory) = (link_to("bob"), link_to("mallory"));
    let file = MeshMessage::File {
        id: "f".into(),
        name: "notes.txt".into(),
        size: 10,
        mime: "text/plain".into(),
        sent_at: 1,
        direct: false,
    };
    alice.received_text(at(0), bob, &file.encode());
    while alice.poll_event().is_some() {}
    while alice.poll_action().is_some() {}
    (alice, bob, mallory)
}

fn events(page: &mut Endpoint) -> Vec<Event> {
    std::iter::from_fn(|| page.poll_event()).collect()
}

#[test]
fn no_peer_can_write_into_a_file_another_peer_announced() {
    let (mut alice, bob, mallory) = alice_expecting_bobs_file();
    // Mallory sends bytes under Bob's transfer ID, on her own link.
    alice.received_binary(
        at(1),
        mallory,
        &transfer::encode_chunk("f", 0, b"EVILEVILEV"),
    );
    let seen = events(&mut alice);
    assert!(
        seen.iter()
            .all(|e| !matches!(e, Event::FileReceived { .. }))
    );
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::FileFailed { id: None, .. }))
    );
    // Bob's file is untouched and arrives whole.
    alice.received_binary(at(2), bob, &transfer::encode_chunk("f", 0, b"0123456789"));
    let seen = events(&mut alice);
    assert!(seen.iter().any(|e| matches!(e,
        Event::FileReceived { id, bytes, .. } if *id == format!("{}/f", self::id("bob")) && bytes == b"0123456789")));
}

#[test]
fn a_stalled_file_or_one_whose_sender_left_is_dropped_with_a_reason() {
    let (mut alice, bob, _) = alice_expecting_bobs_file();
    alice.received_binary(at(1_000), bob, &transfer::encode_chunk("f", 0, b"01234"));
    // Alice wakes when she asks to (to tell Bob her links, or the room she is there), and
    // by the time the file stalled she has dropped it.
    let stall = at(1_000) + transfer::STALL_TIMEOUT;
    let mut seen = Vec::new();
    let mut woke = 0;
    while let Some(due) = alice.poll_timeout().filter(|due| *due <= stall) {
        alice.handle_timeout(due.max(at(1_000)));
        seen.extend(events(&mut alice));
        woke += 1;
        assert!(woke < 100, "Alice keeps waking at {due:?}");
    }
    assert!(seen.iter().any(|e| matches!(e,
        Event::FileFailed { id: Some(id), reason } if *id == format!("{}/f", self::id("bob")) && reason.contains("no bytes came"))), "{seen:?}");

    let (mut alice, bob, _) = alice_expecting_bobs_file();
    alice.closed(at(5), bob, &CloseReason::RemoteClosed);
    let seen = events(&mut alice);
    assert!(seen.iter().any(|e| matches!(e,
        Event::FileFailed { id: Some(id), reason } if *id == format!("{}/f", self::id("bob")) && reason.contains("sender left"))), "{seen:?}");
}

#[test]
fn a_dial_through_the_mesh_that_fails_is_tried_once_through_the_peerserver() {
    let mut pair = Pair::new();
    pair.connect();
    let (alices, _) = pair.wire.unwrap();
    // Bob tells Alice of Carol: Alice dials her, and the signaling goes through Bob.
    pair.pages[0].received_text(
        at(20),
        alices,
        &MeshMessage::Peers {
            ids: vec![id("carol").to_string()],
        }
        .encode(),
    );
    pair.pump();
    let (link, peer, through) = pair.dials[0].pop().expect("a dial to Carol");
    assert_eq!((peer, through), (id("carol"), Through::Mesh));
    pair.pages[0].dialed(at(30), link, Err("no answer".into()));
    pair.pump();
    assert_eq!(
        pair.dials[0].pop(),
        Some((link, id("carol"), Through::PeerServer))
    );
    // That failing too, Carol is shown as failed.
    pair.pages[0].dialed(at(40), link, Err("peer unavailable".into()));
    pair.pump();
    assert!(pair.events[0].iter().any(|e| matches!(e, Event::Peer(v) if v.id == id("carol") && matches!(v.state, crate::mesh::PeerState::Failed(_)))));
    assert!(pair.dials[0].is_empty());
}

#[test]
fn signaling_through_the_mesh_is_handed_over_and_counted() {
    let mut pair = Pair::new();
    pair.connect();
    let (_, bobs) = pair.wire.unwrap();
    pair.pages[0]
        .send_signal(&id("bob"), r#"{"type":"OFFER"}"#.into(), 1)
        .unwrap();
    pair.pump();
    assert_eq!(
        pair.taken[1],
        vec![(id("alice"), r#"{"type":"OFFER"}"#.to_owned())]
    );
    let counts = |events: &[Event]| {
        events.iter().rev().find_map(|e| match e {
            Event::Signaling(c) => Some(*c),
            _ => None,
        })
    };
    assert_eq!(counts(&pair.events[0]).map(|c| c.sent), Some(1));
    assert_eq!(counts(&pair.events[1]).map(|c| c.received), Some(1));
    pair.pages[1].signal_refused();
    pair.pump();
    assert_eq!(counts(&pair.events[1]).map(|c| c.dropped), Some(1));
    // No route, no signal: the error says so and nothing is counted.
    assert!(
        pair.pages[0]
            .send_signal(&id("zed"), "{}".into(), 2)
            .is_err()
    );
    let _ = bobs;
}

mod hostile {
    use super::*;
    use proptest::prelude::*;

    /// A frame a hostile peer might send: any text, any bytes, or a chunk-shaped blob.
    fn frame() -> impl Strategy<Value = Result<String, Vec<u8>>> {
        prop_oneof![
            ".{0,200}".prop_map(Ok),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(Err),
            (
                ".{0,40}",
                any::<u64>(),
                proptest::collection::vec(any::<u8>(), 0..100)
            )
                .prop_map(|(id, at, data)| Err(transfer::encode_chunk(&id, at, &data))),
        ]
    }

    proptest! {
        /// Whatever a linked peer sends, the endpoint neither panics nor acts on it beyond
        /// what a message may ask: no dial, no close of another link, no slot.
        #[test]
        fn frames_from_a_peer_never_panic_or_reach_other_links(frames in proptest::collection::vec(frame(), 0..40)) {
            let mut pair = Pair::new();
            pair.connect();
            let (alices, _) = pair.wire.unwrap();
            for frame in &frames {
                match frame {
                    Ok(text) => pair.pages[0].received_text(at(20), alices, text),
                    Err(bytes) => pair.pages[0].received_binary(at(20), alices, bytes),
                }
            }
            while let Some(action) = pair.pages[0].poll_action() {
                let on_its_link = match &action {
                    Action::Send { link, .. } | Action::SendChunk { link, .. } | Action::Close { link } => *link == alices,
                    _ => false,
                };
                prop_assert!(on_its_link, "{action:?}");
            }
        }
    }
}

/// A plain PeerJS client's ID, as its PeerServer named it.
fn client_id(name: &str) -> PeerId {
    PeerId::parse(name).unwrap()
}

/// A message for a client: its link, the message, and for a file its transfer and size.
type ClientSend = (LinkId, Message, Option<(String, u64)>);

/// What the page asks to send to its clients.
fn client_sends(page: &mut Endpoint) -> Vec<ClientSend> {
    std::iter::from_fn(|| page.poll_action())
        .filter_map(|action| match action {
            Action::SendToClient {
                link,
                message,
                file,
            } => Some((link, message, file)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_peerjs_client_is_listed_unverified_and_its_strings_are_chat() {
    let mut alice = page("alice");
    alice.start(at(0));
    let js = client_id("js-client");
    let link = alice
        .client_connected(at(0), js.clone(), Serialization::Binary)
        .unwrap();
    assert!(alice.is_client(link));
    assert_eq!(alice.peer_on(link), Some(js.clone()));
    let listed = events(&mut alice);
    assert!(listed.iter().any(|e| matches!(e, Event::Peer(view)
        if view.id == js && view.state == PeerState::Connected
            && view.peerjs_client == Some(Serialization::Binary))));
    // It is no part of the mesh: nothing is said to it, and it holds no link of the mesh.
    assert!(client_sends(&mut alice).is_empty());
    assert_eq!(alice.mesh().connected_count(), 0);

    alice.client_message(at(1), 1_000, link, Message::Text("hello".into()));
    alice.client_message(
        at(2),
        2_000,
        link,
        Message::Json(serde_json::json!({ "text": "an object" })),
    );
    alice.client_message(at(3), 3_000, link, Message::Json(serde_json::json!(42)));
    let got = events(&mut alice);
    let chat: Vec<_> = got
        .iter()
        .filter_map(|e| match e {
            Event::Chat(chat) => Some((chat.from.clone(), chat.text.clone(), chat.direct)),
            _ => None,
        })
        .collect();
    assert_eq!(
        chat,
        vec![
            (js.clone(), "hello".to_owned(), true),
            (js.clone(), "an object".to_owned(), true)
        ]
    );
    assert!(
        got.iter()
            .any(|e| matches!(e, Event::Ignored { peer, reason }
        if *peer == js && reason.contains("a number")))
    );
    // An unreadable frame is shown, and the client stays.
    alice.client_unreadable(link, "the peer sent an unreadable frame: bad BinaryPack");
    assert!(
        events(&mut alice).iter().any(
            |e| matches!(e, Event::Ignored { reason, .. } if reason.contains("bad BinaryPack"))
        )
    );
    assert!(alice.is_client(link));

    alice.closed(at(4), link, &CloseReason::RemoteClosed);
    assert!(!alice.is_client(link));
    assert!(events(&mut alice).contains(&Event::PeerRemoved(js)));
}

#[test]
fn room_and_direct_messages_reach_clients_as_plain_strings() {
    let mut alice = page("alice");
    alice.start(at(0));
    let one = alice
        .client_connected(at(0), client_id("one"), Serialization::Json)
        .unwrap();
    let two = alice
        .client_connected(at(0), client_id("two"), Serialization::Raw)
        .unwrap();
    client_sends(&mut alice);

    let sent = alice.send_chat(5_000, "to the room", None).unwrap();
    assert_eq!((sent.recipients, sent.clients), (0, 2));
    let room = client_sends(&mut alice);
    assert_eq!(
        room,
        vec![
            (one, Message::Text("to the room".into()), None),
            (two, Message::Text("to the room".into()), None)
        ]
    );

    let direct = alice
        .send_chat(6_000, "just you", Some(&client_id("two")))
        .unwrap();
    assert_eq!((direct.recipients, direct.clients), (0, 1));
    assert_eq!(
        client_sends(&mut alice),
        vec![(two, Message::Text("just you".into()), None)]
    );
    assert!(matches!(
        alice.send_chat(6_000, "  ", Some(&client_id("two"))),
        Err(ChatError::Empty)
    ));
    assert!(client_sends(&mut alice).is_empty());
}

#[test]
fn files_reach_clients_as_bytes_where_their_serialization_carries_them() {
    let mut alice = page("alice");
    alice.start(at(0));
    let json = alice
        .client_connected(at(0), client_id("json"), Serialization::Json)
        .unwrap();
    let binary = alice
        .client_connected(at(0), client_id("binary"), Serialization::Binary)
        .unwrap();
    client_sends(&mut alice);
    let bytes = vec![42u8; 100_000];

    let room = alice.send_file(1_000, "a.bin", "", &bytes, None).unwrap();
    assert_eq!(
        (room.recipients, room.clients),
        (0, 1),
        "the json client cannot take bytes"
    );
    let sends = client_sends(&mut alice);
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].0, binary);
    assert_eq!(sends[0].1, Message::Binary(bytes.clone()));
    assert_eq!(sends[0].2, Some((room.id.clone(), 100_000)));

    let direct = alice
        .send_file(2_000, "a.bin", "", &bytes, Some(&client_id("binary")))
        .unwrap();
    assert_eq!((direct.recipients, direct.clients), (0, 1));
    assert_eq!(client_sends(&mut alice).len(), 1);
    assert_eq!(
        alice
            .send_file(3_000, "a.bin", "", &bytes, Some(&client_id("json")))
            .unwrap_err(),
        ChatError::Client(ClientError::NoBytes)
    );
    assert!(client_sends(&mut alice).is_empty());
    assert!(alice.is_client(json));
}

#[test]
fn bytes_from_a_client_arrive_as_a_file() {
    let mut alice = page("alice");
    alice.start(at(0));
    let js = client_id("js");
    let link = alice
        .client_connected(at(0), js.clone(), Serialization::Raw)
        .unwrap();
    events(&mut alice);
    alice.client_message(at(1), 1_000, link, Message::Binary(vec![1, 2, 3]));
    let got = events(&mut alice);
    let Some(Event::FileOffered(offer)) = got.first() else {
        panic!("no offer: {got:?}");
    };
    assert_eq!(
        (offer.from.clone(), offer.size, offer.direct),
        (js, 3, true)
    );
    assert!(
        got.iter()
            .any(|e| matches!(e, Event::FileReceived { id, bytes, .. }
        if *id == offer.id && *bytes == vec![1, 2, 3]))
    );
}

#[test]
fn a_client_cannot_take_a_known_id_and_the_page_takes_a_bounded_number() {
    let mut pair = Pair::new();
    pair.connect();
    let alice = &mut pair.pages[0];
    for taken in [id("alice"), id("bob")] {
        assert_eq!(
            alice.client_connected(at(20), taken.clone(), Serialization::Json),
            Err(ClientError::IdInUse)
        );
        assert!(
            events(alice)
                .iter()
                .any(|e| matches!(e, Event::Refused { peer, .. } if *peer == taken))
        );
    }
    for n in 0..MAX_CLIENTS {
        alice
            .client_connected(at(20), client_id(&format!("c{n}")), Serialization::Json)
            .unwrap();
    }
    assert_eq!(
        alice.client_connected(at(20), client_id("late"), Serialization::Json),
        Err(ClientError::TooMany { max: MAX_CLIENTS })
    );
    // A client that connects again takes the place of its earlier connection.
    std::iter::from_fn(|| alice.poll_action()).for_each(drop);
    let again = alice
        .client_connected(at(20), client_id("c0"), Serialization::Raw)
        .unwrap();
    let closed: Vec<_> = std::iter::from_fn(|| alice.poll_action())
        .filter_map(|a| match a {
            Action::Close { link } => Some(link),
            _ => None,
        })
        .collect();
    assert_eq!(closed.len(), 1);
    assert_ne!(closed[0], again);
    assert!(!alice.is_client(closed[0]));
    assert_eq!(alice.peer_on(again), Some(client_id("c0")));
}

#[test]
fn a_proven_page_with_a_clients_id_takes_its_row_and_the_client_is_closed() {
    let mut pair = Pair::new();
    let link = pair.pages[0]
        .client_connected(at(0), id("bob"), Serialization::Binary)
        .unwrap();
    // Bob's own page links and proves the ID: its row replaces the client's.
    pair.connect();
    assert!(!pair.pages[0].is_client(link));
    let last_view = pair.events[0]
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Peer(view) if view.id == id("bob") => Some(view.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(last_view.state, PeerState::Connected);
    assert_eq!(last_view.peerjs_client, None);
    assert_eq!(pair.pages[0].mesh().connected_count(), 1);
}

#[test]
fn a_flooding_client_is_told_once_and_heard_again_later() {
    let mut alice = page("alice");
    alice.start(at(0));
    let link = alice
        .client_connected(at(0), client_id("flood"), Serialization::Raw)
        .unwrap();
    events(&mut alice);
    for _ in 0..1_000 {
        alice.client_message(at(0), 0, link, Message::Text("x".into()));
    }
    let got = events(&mut alice);
    let chats = got.iter().filter(|e| matches!(e, Event::Chat(_))).count();
    let warnings = got
        .iter()
        .filter(|e| matches!(e, Event::Ignored { .. }))
        .count();
    assert_eq!(chats, client::CLIENT_BURST as usize);
    assert_eq!(warnings, 1);
    alice.client_message(at(10_000), 0, link, Message::Text("later".into()));
    assert!(
        events(&mut alice)
            .iter()
            .any(|e| matches!(e, Event::Chat(c) if c.text == "later"))
    );
}

#[test]
fn a_client_may_hold_a_few_connections_and_is_one_row_until_the_last_closes() {
    let mut alice = page("alice");
    alice.start(at(0));
    let js = client_id("js");
    let links: Vec<LinkId> = (0..MAX_CONNECTIONS_PER_CLIENT)
        .map(|_| {
            alice
                .client_connected(at(0), js.clone(), Serialization::Binary)
                .unwrap()
        })
        .collect();
    assert!(links.iter().all(|&l| alice.is_client(l)));
    client_sends(&mut alice);
    // A room message goes to its newest connection, once.
    let sent = alice.send_chat(1_000, "once", None).unwrap();
    assert_eq!(sent.clients, 1);
    assert_eq!(
        client_sends(&mut alice),
        vec![(links[2], Message::Text("once".into()), None)]
    );
    // One more closes its oldest.
    let newest = alice
        .client_connected(at(0), js.clone(), Serialization::Json)
        .unwrap();
    assert!(!alice.is_client(links[0]));
    assert!(alice.is_client(newest));
    events(&mut alice);
    alice.closed(at(1), links[1], &CloseReason::RemoteClosed);
    alice.closed(at(1), links[2], &CloseReason::RemoteClosed);
    assert!(!events(&mut alice).contains(&Event::PeerRemoved(js.clone())));
    alice.closed(at(1), newest, &CloseReason::RemoteClosed);
    assert!(events(&mut alice).contains(&Event::PeerRemoved(js)));
}

#[test]
fn a_client_connecting_again_does_not_refill_its_allowance() {
    let mut alice = page("alice");
    alice.start(at(0));
    let flood = client_id("flood");
    let mut chats = 0;
    for _ in 0..5 {
        let link = alice
            .client_connected(at(0), flood.clone(), Serialization::Raw)
            .unwrap();
        for _ in 0..100 {
            alice.client_message(at(0), 0, link, Message::Text("x".into()));
        }
        chats += events(&mut alice)
            .iter()
            .filter(|e| matches!(e, Event::Chat(_)))
            .count();
        alice.closed(at(0), link, &CloseReason::RemoteClosed);
    }
    assert_eq!(chats, client::CLIENT_BURST as usize);
}

#[test]
fn bytes_from_a_client_are_held_to_an_allowance_of_their_own() {
    let mut alice = page("alice");
    alice.start(at(0));
    let link = alice
        .client_connected(at(0), client_id("big"), Serialization::Binary)
        .unwrap();
    events(&mut alice);
    let eight_mib = vec![0u8; 8 * 1024 * 1024];
    for _ in 0..4 {
        alice.client_message(at(0), 0, link, Message::Binary(eight_mib.clone()));
    }
    let got = events(&mut alice);
    let files = got
        .iter()
        .filter(|e| matches!(e, Event::FileReceived { .. }))
        .count();
    assert_eq!(files, 2, "16 MiB at once");
    assert!(got.iter().any(
        |e| matches!(e, Event::Ignored { reason, .. } if reason.contains("KiB of files a second"))
    ));
    // A second later, another mebibyte.
    alice.client_message(at(1_000), 0, link, Message::Binary(vec![0u8; 1024 * 1024]));
    assert!(
        events(&mut alice)
            .iter()
            .any(|e| matches!(e, Event::FileReceived { .. }))
    );
}

#[test]
fn a_page_the_mesh_only_dials_does_not_take_a_clients_row() {
    let mut pair = Pair::new();
    pair.connect();
    let carol = id("carol");
    let link = pair.pages[0]
        .client_connected(at(20), carol.clone(), Serialization::Binary)
        .unwrap();
    // Bob tells Alice of Carol's ID: Alice's mesh dials it, which proves nothing yet.
    let (alices, _) = pair.wire.unwrap();
    let told = MeshMessage::Peers {
        ids: vec![carol.to_string()],
    };
    pair.pages[0].received_text(at(30), alices, &told.encode());
    pair.pump();
    pair.tick(at(10_000));
    assert!(
        pair.dials[0].iter().any(|(_, peer, _)| *peer == carol),
        "the mesh never dialed the client's ID"
    );
    assert!(pair.pages[0].is_client(link));
    assert!(!pair.events[0].iter().any(
        |e| matches!(e, Event::Peer(view) if view.id == carol && view.peerjs_client.is_none())
    ));
    assert!(!pair.events[0].contains(&Event::PeerRemoved(carol)));
}
