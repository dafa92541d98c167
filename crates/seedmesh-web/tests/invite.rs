//! Two real `RTCPeerConnection`s open a data channel with nothing between them but the two
//! compact invites (`seedmesh_core::invite`): no trickled candidates, no signaling server.

#![cfg(target_arch = "wasm32")]

mod support;

use seedmesh_core::PeerId;
use seedmesh_core::invite::{Invite, Kind};
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
            Some(PeerConnectionEvent::StateChanged(_)) => {}
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
