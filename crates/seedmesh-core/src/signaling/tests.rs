use super::*;
use proptest::prelude::*;
use serde_json::Value;

fn at(millis: u64) -> Instant {
    Instant::from_millis(millis)
}

fn peer(id: &str) -> PeerId {
    PeerId::parse(id).unwrap()
}

fn machine() -> Signaling {
    let server = ServerConfig::from_url("ws://127.0.0.1:9000/seedmesh", "peerjs").unwrap();
    Signaling::new(server, peer("alice"), Token::restore("tok3n").unwrap())
}

fn drain(s: &mut Signaling) -> Vec<SignalingOutput> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn events(s: &mut Signaling) -> Vec<SignalingEvent> {
    drain(s)
        .into_iter()
        .filter_map(|o| match o {
            SignalingOutput::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn sent(outputs: &[SignalingOutput]) -> Vec<Value> {
    outputs
        .iter()
        .filter_map(|o| match o {
            SignalingOutput::Send(text) => Some(serde_json::from_str(text).unwrap()),
            _ => None,
        })
        .collect()
}

fn registered() -> Signaling {
    let mut s = machine();
    s.connect(at(0));
    s.handle_socket_open(at(10));
    s.handle_socket_message(at(20), r#"{"type":"OPEN"}"#);
    assert_eq!(
        events(&mut s),
        vec![SignalingEvent::Registered { reconnected: false }]
    );
    s
}

fn offer(id: &str) -> OfferPayload {
    OfferPayload {
        sdp: SessionDescription {
            kind: "offer".into(),
            sdp: "v=0".into(),
        },
        connection_type: ConnectionType::Data,
        connection_id: ConnectionId::parse(id).unwrap(),
        label: Some(id.into()),
        reliable: Some(true),
        serialization: Some(Serialization::Json),
        metadata: Value::Null,
        seedmesh: Some(1),
    }
}

fn candidate_json(src: &str, connection_id: &str, n: u32) -> String {
    format!(
        r#"{{"type":"CANDIDATE","src":"{src}","dst":"alice","payload":{{"candidate":{{"candidate":"candidate:{n} 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}},"type":"data","connectionId":"{connection_id}"}}}}"#
    )
}

#[test]
fn builds_the_socket_url_as_peerjs_does() {
    let server = ServerConfig::from_url("wss://peers.example:8443/a/b/", "my key").unwrap();
    assert_eq!(server.path, "/a/b/");
    assert_eq!(
        server.socket_url(&peer("x y"), &Token::restore("t").unwrap()),
        "wss://peers.example:8443/a/b/peerjs?key=my%20key&id=x%20y&token=t&version=1.5.4"
    );
    let bare = ServerConfig::from_url("ws://host", "peerjs").unwrap();
    assert_eq!((bare.port, bare.path.as_str()), (80, "/"));
    assert_eq!(
        ServerConfig::from_url("http://host", "k"),
        Err(ServerUrlError::Scheme)
    );
    assert_eq!(
        ServerConfig::from_url("ws://host:0/", "k"),
        Err(ServerUrlError::Authority)
    );
    assert_eq!(
        ServerConfig::from_url("ws://:80/", "k"),
        Err(ServerUrlError::Authority)
    );
}

#[test]
fn heartbeats_every_five_seconds_while_registered() {
    let mut s = registered();
    assert_eq!(s.poll_timeout(), Some(at(5_010)));
    s.handle_timeout(at(5_010));
    assert_eq!(
        sent(&drain(&mut s)),
        vec![serde_json::json!({"type":"HEARTBEAT"})]
    );
    assert_eq!(s.poll_timeout(), Some(at(10_010)));
    s.handle_timeout(at(7_000));
    assert!(drain(&mut s).is_empty());
}

#[test]
fn a_quiet_reconnect_counts_as_registered() {
    let mut s = registered();
    s.handle_socket_closed(at(1_000), "server went away");
    let ev = events(&mut s);
    assert!(
        matches!(ev[..], [SignalingEvent::Disconnected { retry_in, .. }] if retry_in == RECONNECT_BASE)
    );
    s.handle_timeout(at(1_500));
    let out = drain(&mut s);
    let [SignalingOutput::OpenSocket(url)] = &out[..] else {
        panic!("{out:?}")
    };
    assert!(url.contains("id=alice&token=tok3n"));
    s.handle_socket_open(at(1_600));
    // No OPEN: the server still holds our ID under our token.
    s.handle_timeout(at(2_599));
    assert!(!s.is_registered());
    s.handle_timeout(at(2_600));
    assert_eq!(
        events(&mut s),
        vec![SignalingEvent::Registered { reconnected: true }]
    );
}

#[test]
fn reconnects_back_off_and_reset_after_success() {
    let mut s = registered();
    let mut now = 1_000;
    let mut waits = Vec::new();
    for _ in 0..7 {
        s.handle_socket_closed(at(now), "refused");
        let Some(SignalingEvent::Disconnected { retry_in, .. }) = events(&mut s).pop() else {
            panic!("no disconnect")
        };
        waits.push(retry_in.as_millis());
        now += u64::try_from(retry_in.as_millis()).unwrap();
        s.handle_timeout(at(now));
        drain(&mut s);
    }
    assert_eq!(waits, [500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    s.handle_socket_open(at(now));
    s.handle_socket_message(at(now), r#"{"type":"OPEN"}"#);
    s.handle_socket_closed(at(now + 1), "again");
    assert!(
        matches!(events(&mut s).pop(), Some(SignalingEvent::Disconnected { retry_in, .. }) if retry_in == RECONNECT_BASE)
    );
}

#[test]
fn a_socket_that_never_opens_is_abandoned_and_retried() {
    let mut s = machine();
    s.connect(at(0));
    drain(&mut s);
    s.handle_timeout(at(10_000));
    let out = drain(&mut s);
    assert_eq!(out[0], SignalingOutput::CloseSocket);
    assert!(matches!(
        out[1],
        SignalingOutput::Event(SignalingEvent::Disconnected { .. })
    ));
}

#[test]
fn id_taken_and_error_stop_for_good() {
    let mut s = machine();
    s.connect(at(0));
    s.handle_socket_open(at(1));
    s.handle_socket_message(
        at(2),
        r#"{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}"#,
    );
    let out = drain(&mut s);
    assert!(out.contains(&SignalingOutput::CloseSocket));
    assert!(out.contains(&SignalingOutput::Event(SignalingEvent::Failed(
        SignalingError::IdTaken { id: peer("alice") }
    ))));
    s.handle_socket_closed(at(3), "closed by server");
    s.handle_timeout(at(60_000));
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.poll_timeout(), None);

    let mut s = machine();
    s.connect(at(0));
    s.handle_socket_open(at(1));
    s.handle_socket_message(
        at(2),
        r#"{"type":"ERROR","payload":{"msg":"Invalid key provided"}}"#,
    );
    let failed = events(&mut s).pop().unwrap();
    assert_eq!(
        failed,
        SignalingEvent::Failed(SignalingError::Refused {
            msg: "Invalid key provided".into()
        })
    );
    if let SignalingEvent::Failed(error) = failed {
        assert!(error.to_string().contains("Invalid key provided"));
    }
}

#[test]
fn candidates_wait_for_their_connection() {
    let mut s = registered();
    s.handle_socket_message(at(30), &candidate_json("bob", "dc_1", 1));
    s.handle_socket_message(at(31), &candidate_json("bob", "dc_1", 2));
    assert!(events(&mut s).is_empty());
    let offer_json = ClientMessage::Offer {
        dst: peer("alice"),
        payload: Box::new(offer("dc_1")),
    }
    .to_json()
    .replacen("{", r#"{"src":"bob","#, 1);
    s.handle_socket_message(at(32), &offer_json);
    let ev = events(&mut s);
    assert!(matches!(&ev[..], [SignalingEvent::Offer { src, .. }] if *src == peer("bob")));
    s.accept(peer("bob"), ConnectionId::parse("dc_1").unwrap());
    let ev = events(&mut s);
    assert_eq!(ev.len(), 2);
    assert!(
        ev.iter()
            .all(|e| matches!(e, SignalingEvent::Candidate { .. }))
    );
    // Later candidates go straight through; a duplicate offer is ignored.
    s.handle_socket_message(at(33), &candidate_json("bob", "dc_1", 3));
    s.handle_socket_message(at(34), &offer_json);
    assert_eq!(events(&mut s).len(), 1);
    // Another peer cannot inject candidates into the connection.
    s.handle_socket_message(at(35), &candidate_json("mallory", "dc_1", 4));
    assert!(events(&mut s).is_empty());
}

#[test]
fn held_candidates_are_bounded_and_expire() {
    let mut s = registered();
    for n in 0..200 {
        s.handle_socket_message(at(40), &candidate_json("bob", &format!("dc_{n}"), 1));
    }
    for n in 0..200 {
        s.handle_socket_message(at(40), &candidate_json("bob", "dc_0", n));
    }
    assert_eq!(s.pending.len(), MAX_PENDING_CONNECTIONS);
    assert_eq!(
        s.pending[&ConnectionId::parse("dc_0").unwrap()]
            .candidates
            .len(),
        MAX_PENDING_CANDIDATES
    );
    s.handle_timeout(at(40) + PENDING_CANDIDATE_TTL);
    assert!(s.pending.is_empty());
}

#[test]
fn expire_fails_the_attempts_awaiting_an_answer() {
    let mut s = registered();
    s.dial(peer("bob"), offer("dc_a"));
    s.dial(peer("carol"), offer("dc_b"));
    s.accept(peer("dave"), ConnectionId::parse("dc_c").unwrap());
    let out = drain(&mut s);
    let offers = sent(&out);
    assert_eq!(offers[0]["type"], "OFFER");
    assert_eq!(offers[0]["dst"], "bob");
    assert_eq!(offers[0]["payload"]["connectionId"], "dc_a");
    assert_eq!(offers[0]["payload"]["serialization"], "json");
    assert_eq!(offers[0]["payload"]["label"], "dc_a");
    s.handle_socket_message(at(5_000), r#"{"type":"EXPIRE","src":"bob","dst":"alice"}"#);
    assert_eq!(
        events(&mut s),
        vec![SignalingEvent::PeerUnavailable {
            peer: peer("bob"),
            connection_id: ConnectionId::parse("dc_a").unwrap()
        }]
    );
}

#[test]
fn answers_are_taken_once_and_only_from_the_dialed_peer() {
    let mut s = registered();
    s.dial(peer("bob"), offer("dc_a"));
    drain(&mut s);
    let answer = |src: &str| {
        format!(
            r#"{{"type":"ANSWER","src":"{src}","dst":"alice","payload":{{"sdp":{{"type":"answer","sdp":"v=0"}},"type":"data","connectionId":"dc_a"}}}}"#
        )
    };
    s.handle_socket_message(at(1), &answer("mallory"));
    s.handle_socket_message(at(1), &answer("bob"));
    s.handle_socket_message(at(2), &answer("bob"));
    assert_eq!(events(&mut s).len(), 1);
    // Answered: a later EXPIRE is reported, and the connection stays routed.
    s.handle_socket_message(at(3), r#"{"type":"EXPIRE","src":"bob"}"#);
    assert_eq!(events(&mut s).len(), 1);
    s.handle_socket_message(at(4), &candidate_json("bob", "dc_a", 1));
    assert!(matches!(
        events(&mut s)[..],
        [SignalingEvent::Candidate { .. }]
    ));
}

#[test]
fn messages_wait_while_the_socket_is_down() {
    let mut s = registered();
    s.handle_socket_closed(at(100), "dropped");
    drain(&mut s);
    s.send(ClientMessage::Leave { dst: peer("bob") });
    assert!(drain(&mut s).is_empty());
    s.handle_timeout(at(600));
    s.handle_socket_open(at(700));
    s.handle_socket_message(at(710), r#"{"type":"OPEN"}"#);
    let out = drain(&mut s);
    assert_eq!(
        sent(&out),
        vec![serde_json::json!({"type":"LEAVE","dst":"bob"})]
    );
}

#[test]
fn close_says_leave_to_routed_peers() {
    let mut s = registered();
    s.dial(peer("bob"), offer("dc_a"));
    drain(&mut s);
    s.close();
    let out = drain(&mut s);
    assert_eq!(
        sent(&out),
        vec![serde_json::json!({"type":"LEAVE","dst":"bob"})]
    );
    assert_eq!(out.last(), Some(&SignalingOutput::CloseSocket));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn leave_and_malformed_messages_are_reported() {
    let mut s = registered();
    s.handle_socket_message(at(1), r#"{"type":"LEAVE","src":"bob"}"#);
    s.handle_socket_message(at(1), "not json");
    let ev = events(&mut s);
    assert_eq!(ev[0], SignalingEvent::PeerLeft { peer: peer("bob") });
    assert!(matches!(ev[1], SignalingEvent::Malformed(_)));
}

#[derive(Debug, Clone)]
enum Input {
    Open,
    Closed,
    Message(String),
    Timeout(u16),
    Dial(u8),
    Forget(u8),
}

fn arb_input() -> impl Strategy<Value = Input> {
    prop_oneof![
        Just(Input::Open),
        Just(Input::Closed),
        Just(Input::Message(r#"{"type":"OPEN"}"#.into())),
        Just(Input::Message(r#"{"type":"EXPIRE","src":"bob"}"#.into())),
        (0u8..4, 0u32..3).prop_map(|(c, n)| Input::Message(candidate_json(
            "bob",
            &format!("dc_{c}"),
            n
        ))),
        any::<String>().prop_map(Input::Message),
        any::<u16>().prop_map(Input::Timeout),
        (0u8..4).prop_map(Input::Dial),
        (0u8..4).prop_map(Input::Forget),
    ]
}

proptest! {
    #[test]
    fn any_sequence_of_inputs_keeps_the_machine_sane(
        inputs in proptest::collection::vec(arb_input(), 0..60),
        fallbacks in any::<bool>(),
    ) {
        let mut s = if fallbacks { with_two_servers() } else { machine() };
        let mut now = 0u64;
        s.connect(at(now));
        for input in inputs {
            match input {
                Input::Open => s.handle_socket_open(at(now)),
                Input::Closed => s.handle_socket_closed(at(now), "closed"),
                Input::Message(text) => s.handle_socket_message(at(now), &text),
                Input::Timeout(ms) => {
                    now += u64::from(ms);
                    s.handle_timeout(at(now));
                }
                Input::Dial(c) => s.dial(peer("bob"), offer(&format!("dc_{c}"))),
                Input::Forget(c) => s.forget(&ConnectionId::parse(&format!("dc_{c}")).unwrap()),
            }
            while s.poll_output().is_some() {}
            if let Some(next) = s.poll_timeout() {
                prop_assert!(next.as_millis() + 60_000 >= now, "a wake-up far in the past");
            }
            prop_assert!(s.current_server() < s.servers().len());
            prop_assert!(s.outbox.len() <= MAX_OUTBOX);
            prop_assert!(s.pending.len() <= MAX_PENDING_CONNECTIONS);
        }
    }
}

#[test]
fn a_stale_offer_from_a_peer_that_left_ends_in_peer_unavailable() {
    // The server delivers an offer queued while we were away; its sender has gone since.
    let mut s = registered();
    let offer_json = ClientMessage::Offer {
        dst: peer("alice"),
        payload: Box::new(offer("dc_old")),
    }
    .to_json()
    .replacen("{", r#"{"src":"bob","#, 1);
    s.handle_socket_message(at(1), &offer_json);
    assert!(matches!(events(&mut s)[..], [SignalingEvent::Offer { .. }]));
    s.accept(peer("bob"), ConnectionId::parse("dc_old").unwrap());
    s.send(ClientMessage::Leave { dst: peer("bob") });
    drain(&mut s);
    s.handle_socket_message(at(5_500), r#"{"type":"EXPIRE","src":"bob","dst":"alice"}"#);
    assert_eq!(
        events(&mut s),
        vec![SignalingEvent::PeerUnavailable {
            peer: peer("bob"),
            connection_id: ConnectionId::parse("dc_old").unwrap()
        }]
    );
}

fn with_two_servers() -> Signaling {
    let first = ServerConfig::from_url("ws://127.0.0.1:9001/a", "peerjs").unwrap();
    let second = ServerConfig::from_url("ws://127.0.0.1:9002/b", "peerjs").unwrap();
    Signaling::with_fallbacks(
        first,
        vec![second],
        peer("alice"),
        Token::restore("tok3n").unwrap(),
    )
}

/// Two servers, the first refusing: registered on the second at 61 ms.
fn registered_on_fallback() -> Signaling {
    let mut s = with_two_servers();
    s.connect(at(0));
    s.handle_socket_closed(at(1), "refused");
    s.handle_timeout(at(51));
    s.handle_socket_open(at(60));
    s.handle_socket_message(at(61), r#"{"type":"OPEN"}"#);
    assert_eq!(s.current_server(), 1);
    s
}

/// The port of the socket the machine asks to open, if it asks.
fn opened_port(outputs: &[SignalingOutput]) -> Option<&str> {
    outputs.iter().find_map(|o| match o {
        SignalingOutput::OpenSocket(url) => url.get(15..19),
        _ => None,
    })
}

fn disconnects(outputs: &[SignalingOutput]) -> Vec<(usize, bool, Duration)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            SignalingOutput::Event(SignalingEvent::Disconnected {
                server,
                failing_over,
                retry_in,
                ..
            }) => Some((*server, *failing_over, *retry_in)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_dead_first_server_fails_over_to_the_next_at_once() {
    let mut s = with_two_servers();
    s.connect(at(0));
    assert_eq!(opened_port(&drain(&mut s)), Some("9001"));
    s.handle_socket_closed(at(5), "connection refused");
    assert_eq!(
        disconnects(&drain(&mut s)),
        [(0, true, FAILOVER_DELAY)],
        "the first failure is only a failover"
    );
    s.handle_timeout(at(5) + FAILOVER_DELAY);
    assert_eq!(opened_port(&drain(&mut s)), Some("9002"));
    s.handle_socket_open(at(60));
    s.handle_socket_message(at(61), r#"{"type":"OPEN"}"#);
    assert!(s.is_registered());
    assert_eq!(s.current_server(), 1);
}

#[test]
fn when_every_server_fails_a_round_backs_off() {
    let mut s = with_two_servers();
    s.connect(at(0));
    let mut now = 0;
    let mut seen = Vec::new();
    for _ in 0..6 {
        drain(&mut s);
        s.handle_socket_closed(at(now), "refused");
        let [(server, failing_over, retry_in)] = disconnects(&drain(&mut s))[..] else {
            panic!("one disconnect per failure")
        };
        seen.push((server, failing_over, retry_in.as_millis()));
        now += u64::try_from(retry_in.as_millis()).unwrap();
        s.handle_timeout(at(now));
    }
    assert_eq!(
        seen,
        [
            (0, true, 50),
            (1, false, 500),
            (0, true, 50),
            (1, false, 1_000),
            (0, true, 50),
            (1, false, 2_000),
        ]
    );
}

#[test]
fn a_dropped_registration_tries_its_own_server_once_then_the_next() {
    let mut s = with_two_servers();
    s.connect(at(0));
    s.handle_socket_open(at(1));
    s.handle_socket_message(at(2), r#"{"type":"OPEN"}"#);
    drain(&mut s);
    s.handle_socket_closed(at(100), "server went away");
    assert_eq!(disconnects(&drain(&mut s)), [(0, false, RECONNECT_BASE)]);
    s.handle_timeout(at(600));
    assert_eq!(opened_port(&drain(&mut s)), Some("9001"));
    s.handle_socket_closed(at(601), "refused");
    assert_eq!(disconnects(&drain(&mut s)), [(0, true, FAILOVER_DELAY)]);
    s.handle_timeout(at(651));
    assert_eq!(opened_port(&drain(&mut s)), Some("9002"));
    s.handle_socket_open(at(660));
    s.handle_timeout(at(1_660));
    assert_eq!(
        events(&mut s),
        [SignalingEvent::Registered { reconnected: true }]
    );
}

#[test]
fn on_a_fallback_the_first_server_is_tried_again_and_kept_when_it_works() {
    let mut s = registered_on_fallback();
    drain(&mut s);
    let failback = at(61) + FAILBACK_INTERVAL;
    assert!(matches!(
        s.state,
        State::Registered { failback_at: Some(t), .. } if t == failback
    ));
    // Heartbeats go on until then.
    s.handle_timeout(at(5_060));
    assert!(s.is_registered());
    s.handle_timeout(failback);
    let out = drain(&mut s);
    assert!(out.contains(&SignalingOutput::CloseSocket));
    assert_eq!(opened_port(&out), Some("9001"));
    // Still down: back to the fallback at once.
    s.handle_socket_closed(failback, "refused");
    assert_eq!(disconnects(&drain(&mut s)), [(0, true, FAILOVER_DELAY)]);
    s.handle_timeout(failback + FAILOVER_DELAY);
    assert_eq!(opened_port(&drain(&mut s)), Some("9002"));
    s.handle_socket_open(failback + FAILOVER_DELAY);
    s.handle_socket_message(failback + FAILOVER_DELAY, r#"{"type":"OPEN"}"#);
    assert_eq!(s.current_server(), 1);
    // The next try comes twice as late; the first server is back, and is kept.
    let again = failback + FAILOVER_DELAY + FAILBACK_INTERVAL * 2;
    assert!(matches!(
        s.state,
        State::Registered { failback_at: Some(t), .. } if t == again
    ));
    s.handle_timeout(again);
    assert_eq!(opened_port(&drain(&mut s)), Some("9001"));
    s.handle_socket_open(again);
    s.handle_socket_message(again, r#"{"type":"OPEN"}"#);
    assert_eq!(s.current_server(), 0);
    assert!(matches!(
        s.state,
        State::Registered {
            failback_at: None,
            ..
        }
    ));
}

#[test]
fn a_try_of_the_first_server_that_hangs_gives_up_sooner() {
    let mut s = registered_on_fallback();
    let failback = at(61) + FAILBACK_INTERVAL;
    s.handle_timeout(failback);
    drain(&mut s);
    assert_eq!(s.poll_timeout(), Some(failback + FAILBACK_OPEN_TIMEOUT));
    s.handle_timeout(failback + FAILBACK_OPEN_TIMEOUT);
    assert_eq!(
        disconnects(&drain(&mut s)),
        [(0, true, FAILOVER_DELAY)],
        "a hanging first server sends the peer back to its fallback"
    );
}

#[test]
fn a_server_that_refuses_us_is_skipped_while_others_are_left() {
    let mut s = with_two_servers();
    s.connect(at(0));
    s.handle_socket_open(at(1));
    s.handle_socket_message(
        at(2),
        r#"{"type":"ERROR","payload":{"msg":"Server has reached its concurrent user limit"}}"#,
    );
    let out = drain(&mut s);
    assert!(out.contains(&SignalingOutput::CloseSocket));
    assert_eq!(disconnects(&out), [(0, true, FAILOVER_DELAY)]);
    s.handle_timeout(at(2) + FAILOVER_DELAY);
    assert_eq!(opened_port(&drain(&mut s)), Some("9002"));
    s.handle_socket_open(at(60));
    s.handle_socket_message(at(61), r#"{"type":"OPEN"}"#);
    assert!(s.is_registered());
}

#[test]
fn an_id_taken_on_the_first_server_keeps_the_peer_on_its_fallback() {
    let mut s = registered_on_fallback();
    let failback = at(61) + FAILBACK_INTERVAL;
    s.handle_timeout(failback);
    s.handle_socket_open(failback);
    drain(&mut s);
    s.handle_socket_message(
        failback,
        r#"{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}"#,
    );
    assert_eq!(disconnects(&drain(&mut s)), [(0, true, FAILOVER_DELAY)]);
    s.handle_timeout(failback + FAILOVER_DELAY);
    assert_eq!(opened_port(&drain(&mut s)), Some("9002"));
    // Taken on the fallback too: that is for good.
    s.handle_socket_open(failback + FAILOVER_DELAY);
    s.handle_socket_message(
        failback + FAILOVER_DELAY,
        r#"{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}"#,
    );
    assert!(
        events(&mut s)
            .iter()
            .any(|e| matches!(e, SignalingEvent::Failed(SignalingError::IdTaken { .. })))
    );
}

#[test]
fn fallbacks_are_bounded_and_not_repeated() {
    let server =
        |port: u16| ServerConfig::from_url(&format!("ws://127.0.0.1:{port}/"), "k").unwrap();
    let s = Signaling::with_fallbacks(
        server(1),
        (0..20).map(|i| server(1 + i % 12)).collect(),
        peer("alice"),
        Token::restore("tok3n").unwrap(),
    );
    assert_eq!(s.servers().len(), MAX_SERVERS);
    let mut ports: Vec<_> = s.servers().iter().map(|s| s.port).collect();
    ports.dedup();
    assert_eq!(ports.len(), MAX_SERVERS);
}
