//! Two real `RTCPeerConnection`s in one page open a data channel and exchange messages.

#![cfg(target_arch = "wasm32")]

mod support;

use futures::FutureExt;
use gloo_timers::future::TimeoutFuture;
use seedmesh_web::rtc::{
    ChannelEvent, DataChannel, Frame, PeerConnection, PeerConnectionEvent, RtcConfig,
};
use support::within;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Relays every pending candidate from `from` to `to`; returns a channel `from` received, if any.
async fn relay_candidates(from: &mut PeerConnection, to: &PeerConnection) -> Option<DataChannel> {
    let mut opened = None;
    while let Some(Some(event)) = from.next_event().now_or_never() {
        match event {
            PeerConnectionEvent::IceCandidate(candidate) => {
                to.add_ice_candidate(&candidate)
                    .await
                    .expect("adding a candidate");
            }
            PeerConnectionEvent::DataChannel(channel) => opened = Some(channel),
            _ => {}
        }
    }
    opened
}

async fn next_message(channel: &mut DataChannel) -> Frame {
    loop {
        match within(5_000, "a message", channel.next_event()).await {
            Some(ChannelEvent::Message(frame)) => return frame,
            Some(ChannelEvent::Closed) | None => panic!("channel closed before a message arrived"),
            Some(_) => {}
        }
    }
}

#[wasm_bindgen_test]
async fn two_peer_connections_exchange_text_and_binary() {
    let mut alice = PeerConnection::new(&RtcConfig::default()).expect("alice");
    let mut bob = PeerConnection::new(&RtcConfig::default()).expect("bob");
    let mut alice_channel = alice.create_data_channel("dc_test", true).expect("channel");

    let offer = alice.create_offer().await.expect("offer");
    let answer = bob.accept_offer(&offer).await.expect("answer");
    alice
        .accept_answer(&answer)
        .await
        .expect("accepting the answer");

    let mut bob_channel = None;
    let mut alice_open = false;
    within(10_000, "both ends of the channel to open", async {
        while bob_channel
            .as_ref()
            .is_none_or(|c: &DataChannel| !c.is_open())
            || !alice_open
        {
            relay_candidates(&mut alice, &bob).await;
            if let Some(channel) = relay_candidates(&mut bob, &alice).await {
                bob_channel = Some(channel);
            }
            while let Some(Some(event)) = alice_channel.next_event().now_or_never() {
                alice_open |= event == ChannelEvent::Open;
            }
            TimeoutFuture::new(10).await;
        }
    })
    .await;
    let mut bob_channel = bob_channel.expect("bob's channel");
    assert_eq!(bob_channel.label(), "dc_test");

    alice_channel
        .send(&Frame::Text("hello bob".into()))
        .expect("send text");
    assert_eq!(
        next_message(&mut bob_channel).await,
        Frame::Text("hello bob".into())
    );

    let bytes: Vec<u8> = (0..=255).collect();
    bob_channel
        .send(&Frame::Binary(bytes.clone()))
        .expect("send binary");
    assert_eq!(next_message(&mut alice_channel).await, Frame::Binary(bytes));

    // Closing one end is seen by the other.
    drop(alice_channel);
    within(5_000, "the close to reach bob", async {
        while bob_channel.next_event().await != Some(ChannelEvent::Closed) {}
    })
    .await;
}
