//! Two real `RTCPeerConnection`s open a data channel with nothing between them but the two
//! compact invites (`seedmesh_core::invite`): no trickled candidates, no signaling server; and
//! two peers whose PeerServer is down connect the same way through the peer API.

#![cfg(target_arch = "wasm32")]

mod support;

use seedmesh_core::PeerId;
use seedmesh_core::channel::Message;
use seedmesh_core::invite::{Invite, InviteError, Kind};
use seedmesh_core::signaling::ServerConfig;
use seedmesh_web::peer::{Connection, ConnectionEvent, Peer, PeerError, PeerEvent, PeerOptions};
use seedmesh_web::rtc::{
    ChannelEvent, DataChannel, Frame, PeerConnection, PeerConnectionEvent, RtcConfig,
};
use support::within;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// The candidate lines `pc` gathers, once gathering is complete; a channel the peer opened
/// meanwhile is handed back too.
async fn gather(pc: &mut PeerConnection) -> (Vec<String>, Option<DataChannel>) {
    let mut candidates = Vec::new();
    let mut channel = None;
    loop {
        match within(5_000, "ICE gathering", pc.next_event()).await {
            Some(PeerConnectionEvent::IceCandidate(c)) => candidates.push(c.candidate),
            Some(PeerConnectionEvent::IceGatheringComplete) | None => {
                return (candidates, channel);
            }
            Some(PeerConnectionEvent::DataChannel(c)) => channel = Some(c),
            Some(_) => {}
        }
    }
}

async fn next_open(channel: &mut DataChannel) {
    loop {
        match within(5_000, "the channel to open", channel.next_event()).await {
            Some(ChannelEvent::Open) => return,
            Some(ChannelEvent::Closed) | None => panic!("the channel closed before it opened"),
            Some(_) => {}
        }
    }
}

async fn next_text(channel: &mut DataChannel) -> String {
    loop {
        match within(5_000, "a message", channel.next_event()).await {
            Some(ChannelEvent::Message(Frame::Text(text))) => return text,
            Some(ChannelEvent::Closed) | None => panic!("the channel closed before a message"),
            Some(_) => {}
        }
    }
}

#[wasm_bindgen_test]
async fn two_pages_connect_with_only_the_two_invites() {
    let alice_id = PeerId::parse("alice-4kQz8mPwRt2vXy9b").unwrap();
    let bob_id = PeerId::parse("bob-h5Ye0pLs3nQ8kW2d").unwrap();
    let mut alice = PeerConnection::new(&RtcConfig::default()).expect("alice");
    let mut bob = PeerConnection::new(&RtcConfig::default()).expect("bob");
    let mut alice_channel = alice
        .create_data_channel("seedmesh", true)
        .expect("channel");

    // Alice: an offer with every candidate gathered, in an invite.
    let offer_sdp = alice.create_offer().await.expect("offer");
    let (gathered, _) = gather(&mut alice).await;
    let offer = Invite::from_sdp(
        Kind::Offer,
        alice_id.clone(),
        &offer_sdp,
        gathered.iter().map(String::as_str),
    )
    .expect("an invite from Chromium's offer")
    .encode();

    // Bob reads only the invite text, and answers the same way.
    let received = Invite::decode(&offer).expect("the offer invite");
    assert_eq!(received.from, alice_id);
    assert!(!received.candidates.is_empty(), "no candidate in the offer");
    let answer_sdp = bob
        .accept_offer(&received.to_sdp())
        .await
        .expect("Chromium accepts the rebuilt offer");
    let (gathered, mut bob_channel) = gather(&mut bob).await;
    let answer = Invite::from_sdp(
        Kind::Answer,
        bob_id.clone(),
        &answer_sdp,
        gathered.iter().map(String::as_str),
    )
    .expect("an invite from Chromium's answer")
    .encode();

    // Alice reads only Bob's invite text.
    let received = Invite::decode(&answer).expect("the answer invite");
    assert_eq!(received.from, bob_id);
    alice
        .accept_answer(&received.to_sdp())
        .await
        .expect("Chromium accepts the rebuilt answer");

    next_open(&mut alice_channel).await;
    let mut bob_channel = match bob_channel.take() {
        Some(channel) => channel,
        None => loop {
            match within(5_000, "bob's channel", bob.next_event()).await {
                Some(PeerConnectionEvent::DataChannel(channel)) => break channel,
                Some(_) => {}
                None => panic!("bob's connection ended"),
            }
        },
    };
    alice_channel.send_text("hello by invite").expect("send");
    assert_eq!(next_text(&mut bob_channel).await, "hello by invite");
    bob_channel.send_text("and back").expect("send");
    assert_eq!(next_text(&mut alice_channel).await, "and back");

    console_log!(
        "invite sizes: offer {} characters, answer {} characters",
        offer.len(),
        answer.len()
    );
    assert!(
        offer.len() <= 300,
        "offer invite of {} characters",
        offer.len()
    );
    assert!(
        answer.len() <= 300,
        "answer invite of {} characters",
        answer.len()
    );
}

/// A page whose PeerServer cannot be reached: nothing listens on port 9.
fn unreachable_peer(name: &str) -> Peer {
    let server = ServerConfig::from_url("ws://127.0.0.1:9/seedmesh", "peerjs").expect("url");
    let mut options = PeerOptions::new(server);
    options.id = Some(PeerId::parse(name).expect("id"));
    Peer::start(options)
}

/// The next connection `peer` opens, skipping signaling news.
async fn next_incoming(peer: &mut Peer) -> Connection {
    loop {
        match within(10_000, "a connection by invite", peer.next_event()).await {
            Some(PeerEvent::Incoming(connection)) => return connection,
            Some(PeerEvent::InviteEnded { reason, .. }) => panic!("the invite ended: {reason}"),
            Some(_) => {}
            None => panic!("the peer shut down"),
        }
    }
}

async fn next_message(connection: &mut Connection) -> Message {
    loop {
        match within(5_000, "a message", connection.next_event()).await {
            Some(ConnectionEvent::Message(message)) => return message,
            Some(ConnectionEvent::Closed(reason)) => panic!("closed: {reason}"),
            Some(_) => {}
            None => panic!("the connection ended"),
        }
    }
}

#[wasm_bindgen_test]
async fn two_peers_with_no_server_connect_by_invite_and_talk() {
    let mut alice = unreachable_peer("alice-inv1te0000000");
    let mut bob = unreachable_peer("bob-inv1te000000000");
    let alice_handle = alice.handle();
    let bob_handle = bob.handle();

    // Two invites open at once: the answer goes to the one it answers.
    let offer = within(10_000, "the offer", alice_handle.invite())
        .await
        .expect("an invite");
    let other = within(10_000, "a second offer", alice_handle.invite())
        .await
        .expect("a second invite");
    assert_ne!(offer, other);
    assert!(matches!(
        alice_handle.answer_invite(&offer).await,
        Err(PeerError::Invite(InviteError::OwnInvite))
    ));
    assert!(matches!(
        alice_handle.take_answer(&offer),
        Err(PeerError::Invite(InviteError::NotAnAnswer))
    ));
    let answer = within(10_000, "the answer", bob_handle.answer_invite(&offer))
        .await
        .expect("an answer");
    assert!(matches!(
        bob_handle.answer_invite(&answer).await,
        Err(PeerError::Invite(InviteError::NotAnOffer))
    ));
    assert!(matches!(
        bob_handle.take_answer(&answer),
        Err(PeerError::Invite(InviteError::NoOpenInvite))
    ));
    assert_eq!(
        alice_handle
            .take_answer(&answer)
            .expect("alice takes the answer"),
        bob.id()
    );
    // An answer is taken once.
    assert!(matches!(
        alice_handle.take_answer(&answer),
        Err(PeerError::Invite(InviteError::NoOpenInvite))
    ));

    let mut at_alice = next_incoming(&mut alice).await;
    let mut at_bob = next_incoming(&mut bob).await;
    assert_eq!(at_alice.peer(), &bob.id());
    assert_eq!(at_bob.peer(), &alice.id());
    at_alice
        .send(&Message::Text("hello by invite".into()))
        .await
        .expect("send");
    assert_eq!(
        next_message(&mut at_bob).await,
        Message::Text("hello by invite".into())
    );
    at_bob
        .send(&Message::Text("and back".into()))
        .await
        .expect("send");
    assert_eq!(
        next_message(&mut at_alice).await,
        Message::Text("and back".into())
    );
    console_log!(
        "invite sizes through the peer API: offer {} characters, answer {} characters",
        offer.len(),
        answer.len()
    );
}
