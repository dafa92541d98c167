//! Two seedmesh peers in one page, on the local stack's real PeerServer: they register, dial
//! each other, exchange messages of every kind and size, measure the path, and fail clearly.
//!
//! Needs `SEEDMESH_PEERSERVER_URL` at compile time (from the stack's `env`).

#![cfg(target_arch = "wasm32")]

mod support;

use gloo_timers::future::TimeoutFuture;
use seedmesh_core::channel::Message;
use seedmesh_core::connection::CloseReason;
use seedmesh_core::path::{Path, TurnTransport};
use seedmesh_core::signaling::{Serialization, ServerConfig};
use seedmesh_core::{PeerId, Token};
use seedmesh_web::peer::{
    Connection, ConnectionEvent, DialOptions, Peer, PeerError, PeerEvent, PeerOptions,
};
use seedmesh_web::rtc::{IceServer, RtcConfig};
use serde_json::json;
use support::within;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// A value from the local stack's `env`, fixed at compile time.
fn stack(name: &str, value: Option<&'static str>) -> &'static str {
    match value {
        Some(value) => value,
        None => panic!("build with {name} set: source the local stack's env first"),
    }
}

fn server() -> ServerConfig {
    let url = stack(
        "SEEDMESH_PEERSERVER_URL",
        option_env!("SEEDMESH_PEERSERVER_URL"),
    );
    ServerConfig::from_url(url, "peerjs").expect("the stack's PeerServer URL")
}

fn millis() -> f64 {
    js_sys::Date::now()
}

async fn peer() -> Peer {
    peer_with(PeerOptions::new(server())).await
}

async fn peer_with(options: PeerOptions) -> Peer {
    within(10_000, "registration", Peer::connect(options))
        .await
        .expect("registering on the PeerServer")
}

async fn incoming(peer: &mut Peer) -> Connection {
    loop {
        match within(15_000, "an incoming connection", peer.next_event()).await {
            Some(PeerEvent::Incoming(connection)) => return connection,
            Some(_) => {}
            None => panic!("the peer shut down"),
        }
    }
}

async fn message(connection: &mut Connection) -> Message {
    match within(10_000, "a message", connection.next_event()).await {
        Some(ConnectionEvent::Message(message)) => message,
        Some(ConnectionEvent::Error(error)) => panic!("a bad frame: {error}"),
        Some(ConnectionEvent::Closed(reason)) => panic!("closed: {reason}"),
        Some(other) => panic!("unexpected {other:?}"),
        None => panic!("no more events"),
    }
}

/// Dials `b` from `a` and returns both ends.
async fn pair(a: &Peer, b: &mut Peer, options: DialOptions) -> (Connection, Connection) {
    let id = b.id();
    let dial = a.dial(&id, options);
    let (dialed, accepted) = futures::join!(within(15_000, "dial", dial), incoming(b));
    (dialed.expect("dialing"), accepted)
}

#[wasm_bindgen_test]
async fn two_seedmesh_peers_talk_through_the_peerserver() {
    let alice = peer().await;
    let mut bob = peer().await;
    assert!(alice.is_registered() && bob.is_registered());

    let started = millis();
    let options = DialOptions {
        metadata: json!({"room": "lobby"}),
        ..DialOptions::default()
    };
    let (mut a, mut b) = pair(&alice, &mut bob, options).await;
    console_log!("rust-to-rust connect time: {:.0} ms", millis() - started);
    assert_eq!(b.peer(), &alice.id());
    assert_eq!(b.metadata(), &json!({"room": "lobby"}));
    assert_eq!(a.id(), b.id());
    assert_eq!(a.serialization(), Serialization::Json);

    // Every kind of message, both ways.
    for sent in [
        Message::Json(json!({"hello": "bob", "n": [1, 2, 3]})),
        Message::Text("plain text".into()),
        Message::Binary((0..=255).collect()),
    ] {
        a.send(&sent).await.expect("sending to bob");
        assert_eq!(message(&mut b).await, sent);
        b.send(&sent).await.expect("sending to alice");
        assert_eq!(message(&mut a).await, sent);
    }

    // A 3 MB message crosses in chunks, with backpressure.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let started = millis();
    a.send(&Message::Binary(big.clone()))
        .await
        .expect("sending a big message");
    assert_eq!(message(&mut b).await, Message::Binary(big));
    console_log!("3 MB in {:.0} ms", millis() - started);

    // Round trips: application level, pings, and the browser's own.
    let mut rtts = Vec::new();
    for n in 0..20 {
        let t0 = millis();
        a.send(&Message::Json(json!({ "ping": n })))
            .await
            .expect("ping");
        let echoed = message(&mut b).await;
        b.send(&echoed).await.expect("pong");
        assert_eq!(message(&mut a).await, Message::Json(json!({ "ping": n })));
        rtts.push(millis() - t0);
    }
    rtts.sort_by(f64::total_cmp);
    console_log!(
        "rust-to-rust message RTT median {:.1} ms (min {:.1}, max {:.1})",
        rtts[10],
        rtts[0],
        rtts[19]
    );
    TimeoutFuture::new(2_500).await;
    let diagnostics = a.diagnostics().await;
    console_log!("diagnostics: {diagnostics:?}");
    assert_eq!(diagnostics.state, "open");
    assert!(diagnostics.seedmesh_peer);
    assert_eq!(
        diagnostics.path.local_candidate_type.as_deref(),
        Some("host")
    );
    // The other end's checks can arrive before its candidates do (Firefox's often do): then
    // its address is learned from them, as peer-reflexive, and the path is as direct.
    assert!(
        matches!(
            diagnostics.path.remote_candidate_type.as_deref(),
            Some("host" | "prflx")
        ),
        "a direct path: {:?}",
        diagnostics.path
    );
    assert_eq!(diagnostics.path.path(), Some(Path::Direct));
    assert!(
        diagnostics.ping_rtt.is_some(),
        "a ping round trip was measured"
    );
    assert!(diagnostics.path.round_trip_time.is_some());

    // What was sent before a close still arrives, then the close, with its reason.
    let last: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
    a.send(&Message::Binary(last.clone()))
        .await
        .expect("sending before closing");
    a.close();
    assert_eq!(message(&mut b).await, Message::Binary(last));
    let closed = within(5_000, "the close to reach bob", async {
        loop {
            if let Some(ConnectionEvent::Closed(reason)) = b.next_event().await {
                return reason;
            }
        }
    })
    .await;
    assert_eq!(closed, CloseReason::RemoteClosed);
    assert!(matches!(
        b.send(&Message::Text("late".into())).await,
        Err(PeerError::Closed(_))
    ));
}

#[wasm_bindgen_test]
async fn raw_connections_pass_strings_and_bytes_through() {
    let alice = peer().await;
    let mut bob = peer().await;
    let options = DialOptions {
        serialization: Serialization::Raw,
        ..DialOptions::default()
    };
    let (a, mut b) = pair(&alice, &mut bob, options).await;
    assert_eq!(b.serialization(), Serialization::Raw);
    a.send(&Message::Text("raw text".into()))
        .await
        .expect("text");
    assert_eq!(message(&mut b).await, Message::Text("raw text".into()));
    a.send(&Message::Binary(vec![1, 2, 3]))
        .await
        .expect("bytes");
    assert_eq!(message(&mut b).await, Message::Binary(vec![1, 2, 3]));
}

#[wasm_bindgen_test]
async fn dialing_an_absent_peer_fails_with_peer_unavailable() {
    let alice = peer().await;
    let absent = PeerId::parse("nobody-home-4242").expect("an ID");
    let started = millis();
    let result = within(
        15_000,
        "the dial to fail",
        alice.dial(&absent, DialOptions::default()),
    )
    .await;
    let Err(PeerError::Closed(reason)) = result else {
        panic!("expected a failure, got {result:?}");
    };
    assert_eq!(reason, CloseReason::PeerUnavailable);
    assert!(reason.to_string().starts_with("peer unavailable"));
    console_log!("peer unavailable after {:.0} ms", millis() - started);
}

#[wasm_bindgen_test]
async fn an_id_held_under_another_token_is_refused() {
    let alice = peer().await;
    let mut options = PeerOptions::new(server());
    options.id = Some(alice.id());
    options.token = Token::restore("someoneelse1");
    let result = within(10_000, "the refusal", Peer::connect(options)).await;
    let Err(error) = result else {
        panic!("a second peer took alice's ID");
    };
    assert!(error.to_string().contains("is taken"), "{error}");
}

#[wasm_bindgen_test]
async fn an_unreachable_server_is_reported() {
    let mut config = server();
    config.port = 9; // discard: nothing listens there in the test namespace
    let result = within(
        15_000,
        "the failure",
        Peer::connect(PeerOptions::new(config)),
    )
    .await;
    assert!(
        matches!(result, Err(PeerError::Unreachable(_))),
        "{result:?}"
    );
}

fn relay_only() -> PeerOptions {
    let url = stack("SEEDMESH_TURN_URL", option_env!("SEEDMESH_TURN_URL"));
    let mut options = PeerOptions::new(server());
    options.rtc = RtcConfig {
        ice_servers: vec![IceServer {
            urls: vec![url.to_owned()],
            username: option_env!("SEEDMESH_TURN_USERNAME").map(str::to_owned),
            credential: option_env!("SEEDMESH_TURN_CREDENTIAL").map(str::to_owned),
        }],
        relay_only: true,
    };
    options
}

#[wasm_bindgen_test]
async fn a_relay_only_connection_goes_through_the_local_turn_server() {
    let alice = within(10_000, "registration", Peer::connect(relay_only()))
        .await
        .expect("alice");
    let mut bob = within(10_000, "registration", Peer::connect(relay_only()))
        .await
        .expect("bob");
    let started = millis();
    let (a, mut b) = pair(&alice, &mut bob, DialOptions::default()).await;
    console_log!("relay connect time: {:.0} ms", millis() - started);
    a.send(&Message::Text("via the relay".into()))
        .await
        .expect("send");
    assert_eq!(message(&mut b).await, Message::Text("via the relay".into()));
    let diagnostics = a.diagnostics().await;
    console_log!("relay diagnostics: {diagnostics:?}");
    assert_eq!(
        diagnostics.path.local_candidate_type.as_deref(),
        Some("relay")
    );
    assert_eq!(
        diagnostics.path.path(),
        Some(Path::RelayedByUs(Some(TurnTransport::Udp)))
    );
}

#[wasm_bindgen_test]
async fn connections_come_and_go_without_leftovers() {
    let alice = peer().await;
    // Twenty offers from one source in a few seconds are past the cap a page keeps by default.
    let mut options = PeerOptions::new(server());
    options.offer_limits.per_source = usize::MAX;
    let mut bob = peer_with(options).await;
    for round in 0..20 {
        let (a, mut b) = pair(&alice, &mut bob, DialOptions::default()).await;
        a.send(&Message::Json(json!({ "round": round })))
            .await
            .expect("send");
        assert_eq!(
            message(&mut b).await,
            Message::Json(json!({ "round": round }))
        );
        // Dropping the last handle closes the connection; the other end hears of it.
        drop(a);
        let reason = within(5_000, "the close", async {
            loop {
                if let Some(ConnectionEvent::Closed(reason)) = b.next_event().await {
                    return reason;
                }
            }
        })
        .await;
        assert_eq!(reason, CloseReason::RemoteClosed);
        assert!(b.closed().is_some());
    }
}

/// PeerServer sends no OPEN to a socket that registers an ID it still holds under the same
/// token (a reload before the old socket is gone, a network change): registration must succeed
/// anyway, and the new socket receives the ID's traffic.
#[wasm_bindgen_test]
async fn registering_again_with_the_same_token_works_without_an_open() {
    let first = peer().await;
    let mut options = PeerOptions::new(server());
    options.id = Some(first.id());
    options.token = Some(first.token());
    let started = millis();
    let mut second = within(10_000, "registration", Peer::connect(options))
        .await
        .expect("registering the same ID with the same token");
    let waited = millis() - started;
    console_log!("registered without OPEN after {waited:.0} ms");
    assert!(
        waited >= 900.0,
        "an OPEN came after {waited} ms: the quirk did not happen"
    );
    assert_eq!(second.id(), first.id());

    let carol = peer().await;
    let (c, mut s) = pair(&carol, &mut second, DialOptions::default()).await;
    c.send(&Message::Text("found you".into()))
        .await
        .expect("send");
    assert_eq!(message(&mut s).await, Message::Text("found you".into()));
}

/// A connection whose application reads nothing closes once more than its limit waits unread,
/// and says why; the sender sees it close.
#[wasm_bindgen_test]
async fn a_connection_nobody_reads_closes_at_its_limit() {
    const LIMIT: usize = 256 * 1024;
    let alice = peer().await;
    let mut options = PeerOptions::new(server());
    options.max_unread = LIMIT;
    let mut bob = peer_with(options).await;
    let (mut a, mut b) = pair(&alice, &mut bob, DialOptions::default()).await;
    // Bob reads nothing while Alice sends 1 MiB.
    let chunk = vec![7u8; 64 * 1024];
    for _ in 0..16 {
        if a.send(&Message::Binary(chunk.clone())).await.is_err() {
            break;
        }
    }
    // Bob's end closes at its limit without Bob reading a thing, and Alice hears of it.
    let theirs = within(10_000, "Alice hearing of the close", async {
        loop {
            match a.next_event().await {
                Some(ConnectionEvent::Closed(reason)) => return reason,
                Some(_) => {}
                None => return CloseReason::Local,
            }
        }
    })
    .await;
    assert_eq!(theirs, CloseReason::RemoteClosed);
    // What Bob reads now: no more than the limit, then the close and its reason.
    let (reason, received) = within(5_000, "the close", async {
        let mut received = 0;
        loop {
            match b.next_event().await {
                Some(ConnectionEvent::Message(Message::Binary(bytes))) => received += bytes.len(),
                Some(ConnectionEvent::Closed(reason)) => return (reason, received),
                Some(_) => {}
                None => return (CloseReason::Local, received),
            }
        }
    })
    .await;
    assert!(matches!(reason, CloseReason::NotRead { .. }), "{reason:?}");
    assert!(received <= LIMIT, "{received} bytes read");
    console_log!("closed after {received} bytes unread: {reason}");
}
