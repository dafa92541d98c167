use proptest::prelude::*;

use super::*;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn peer(name: &str) -> PeerId {
    PeerId::parse(name).unwrap()
}

fn states(calls: &mut Calls) -> Vec<(String, CallState)> {
    std::iter::from_fn(|| calls.poll_event())
        .map(|CallEvent::Changed(view)| (view.id, view.state))
        .collect()
}

fn actions(calls: &mut Calls) -> Vec<CallAction> {
    std::iter::from_fn(|| calls.poll_action()).collect()
}

#[test]
fn an_outgoing_call_rings_connects_and_is_hung_up() {
    let mut calls = Calls::default();
    calls.place(at(0), peer("bob"), "mc_1", true).unwrap();
    calls.answered(at(1_000), "mc_1");
    calls.media_flowing(at(1_500), "mc_1");
    calls.hang_up("mc_1").unwrap();
    assert_eq!(
        states(&mut calls),
        vec![
            ("mc_1".into(), CallState::Ringing),
            ("mc_1".into(), CallState::Connecting),
            ("mc_1".into(), CallState::Active),
            ("mc_1".into(), CallState::Ended("you hung up".into())),
        ]
    );
    assert_eq!(
        actions(&mut calls),
        vec![CallAction::End { id: "mc_1".into() }]
    );
    assert!(calls.get("mc_1").is_none());
    assert_eq!(calls.poll_timeout(), None);
}

#[test]
fn an_incoming_call_is_answered_or_declined() {
    let mut calls = Calls::default();
    calls.incoming(at(0), peer("ada"), "mc_a", false).unwrap();
    calls.incoming(at(0), peer("bob"), "mc_b", true).unwrap();
    calls.answer(at(10), "mc_a").unwrap();
    calls.hang_up("mc_b").unwrap();
    assert_eq!(
        actions(&mut calls),
        vec![
            CallAction::Answer { id: "mc_a".into() },
            CallAction::End { id: "mc_b".into() }
        ]
    );
    let seen = states(&mut calls);
    assert!(seen.contains(&("mc_b".into(), CallState::Ended("you declined".into()))));
    // Answering twice, or a call that is gone, is refused.
    assert_eq!(
        calls.answer(at(20), "mc_a"),
        Err(CallError::NotRinging("mc_a".into()))
    );
    assert_eq!(
        calls.answer(at(20), "mc_b"),
        Err(CallError::Unknown("mc_b".into()))
    );
}

#[test]
fn one_call_at_a_time_and_a_bounded_number_ringing() {
    let mut calls = Calls::default();
    calls.place(at(0), peer("bob"), "mc_out", true).unwrap();
    assert_eq!(
        calls.place(at(0), peer("cy"), "mc_out2", true),
        Err(CallError::Busy)
    );
    for n in 0..MAX_RINGING {
        calls
            .incoming(at(0), peer(&format!("p{n}")), &format!("mc_{n}"), true)
            .unwrap();
    }
    assert_eq!(
        calls.incoming(at(0), peer("late"), "mc_late", true),
        Err(CallError::TooManyRinging)
    );
    // An incoming call rings while ours is in progress, but cannot be answered yet.
    assert_eq!(calls.answer(at(0), "mc_0"), Err(CallError::Busy));
    calls.hang_up("mc_out").unwrap();
    calls.answer(at(0), "mc_0").unwrap();
    // One ringing call per caller.
    calls.hang_up("mc_1").unwrap();
    calls
        .incoming(at(0), peer("again"), "mc_again", true)
        .unwrap();
    assert_eq!(
        calls.incoming(at(0), peer("again"), "mc_again2", true),
        Err(CallError::AlreadyRinging(peer("again")))
    );
    assert_eq!(
        calls.incoming(at(0), peer("other"), "mc_0", true),
        Err(CallError::Duplicate("mc_0".into()))
    );
}

#[test]
fn unanswered_calls_ring_out_and_answered_ones_must_connect_in_time() {
    let mut calls = Calls::default();
    calls.place(at(0), peer("bob"), "mc_out", true).unwrap();
    calls.incoming(at(0), peer("ada"), "mc_in", true).unwrap();
    assert_eq!(calls.poll_timeout(), Some(at(0) + RING_FOR));
    calls.handle_timeout(at(0) + RING_FOR);
    let ended = states(&mut calls);
    assert!(ended.contains(&("mc_out".into(), CallState::Ended("nobody answered".into()))));
    assert!(ended.contains(&(
        "mc_in".into(),
        CallState::Ended("missed: it was not answered in time".into())
    )));
    assert_eq!(actions(&mut calls).len(), 2);

    calls
        .incoming(at(100_000), peer("cy"), "mc_c", true)
        .unwrap();
    calls.answer(at(100_000), "mc_c").unwrap();
    assert_eq!(calls.poll_timeout(), Some(at(100_000) + CONNECT_WITHIN));
    calls.handle_timeout(at(100_000) + CONNECT_WITHIN);
    assert!(matches!(
        states(&mut calls).last(),
        Some((_, CallState::Ended(reason))) if reason.contains("did not connect")
    ));
}

#[test]
fn the_time_to_ring_or_connect_starts_when_our_media_is_ready() {
    let mut calls = Calls::default();
    calls.place(at(0), peer("bob"), "mc_out", true).unwrap();
    // The person took 20 s to allow the camera.
    calls.media_ready(at(20_000), "mc_out");
    assert_eq!(calls.poll_timeout(), Some(at(20_000) + RING_FOR));
    calls.hang_up("mc_out").unwrap();
    calls.incoming(at(0), peer("ada"), "mc_in", true).unwrap();
    calls.answer(at(1_000), "mc_in").unwrap();
    calls.media_ready(at(9_000), "mc_in");
    assert_eq!(calls.poll_timeout(), Some(at(9_000) + CONNECT_WITHIN));
}

#[test]
fn mute_and_camera_off_change_what_goes_out() {
    let mut calls = Calls::default();
    calls.place(at(0), peer("bob"), "mc_1", true).unwrap();
    calls.set_muted("mc_1", true).unwrap();
    calls.set_camera_off("mc_1", true).unwrap();
    calls.set_muted("mc_1", false).unwrap();
    assert_eq!(
        actions(&mut calls),
        vec![
            CallAction::SetMedia {
                id: "mc_1".into(),
                audio: false,
                video: true
            },
            CallAction::SetMedia {
                id: "mc_1".into(),
                audio: false,
                video: false
            },
            CallAction::SetMedia {
                id: "mc_1".into(),
                audio: true,
                video: false
            },
        ]
    );
    let view = calls.get("mc_1").unwrap();
    assert!(!view.muted && view.camera_off);
    assert_eq!(
        calls.set_muted("mc_gone", true),
        Err(CallError::Unknown("mc_gone".into()))
    );
}

#[test]
fn the_other_side_ending_a_call_needs_no_closing() {
    let mut calls = Calls::default();
    calls.place(at(0), peer("bob"), "mc_1", true).unwrap();
    calls.ended("mc_1", "they hung up");
    assert!(actions(&mut calls).is_empty());
    assert_eq!(
        states(&mut calls).last(),
        Some(&("mc_1".into(), CallState::Ended("they hung up".into())))
    );
    // A late report for a call that is gone changes nothing.
    calls.ended("mc_1", "again");
    calls.media_flowing(at(1), "mc_1");
    assert!(states(&mut calls).is_empty());
}

#[derive(Debug, Clone)]
enum Step {
    Place(u8),
    Incoming(u8),
    Answer(u8),
    HangUp(u8),
    Answered(u8),
    Flowing(u8),
    Ended(u8),
    Mute(u8),
    Time(u16),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..8).prop_map(Step::Place),
        (0u8..8).prop_map(Step::Incoming),
        (0u8..8).prop_map(Step::Answer),
        (0u8..8).prop_map(Step::HangUp),
        (0u8..8).prop_map(Step::Answered),
        (0u8..8).prop_map(Step::Flowing),
        (0u8..8).prop_map(Step::Ended),
        (0u8..8).prop_map(Step::Mute),
        (0u16..60_000).prop_map(Step::Time),
    ]
}

proptest! {
    /// Whatever happens in whatever order: at most one call in progress, at most
    /// MAX_RINGING ringing, a call is gone once it ends, and only active calls go without a
    /// deadline.
    #[test]
    fn calls_keep_their_bounds_in_any_order(steps in proptest::collection::vec(step(), 0..80)) {
        let mut calls = Calls::default();
        let mut now = at(0);
        for step in steps {
            let id = |n: u8| format!("mc_{n}");
            match step {
                Step::Place(n) => { let _ = calls.place(now, peer(&format!("p{n}")), &id(n), true); }
                Step::Incoming(n) => { let _ = calls.incoming(now, peer(&format!("p{n}")), &id(n), n % 2 == 0); }
                Step::Answer(n) => { let _ = calls.answer(now, &id(n)); }
                Step::HangUp(n) => { let _ = calls.hang_up(&id(n)); }
                Step::Answered(n) => calls.answered(now, &id(n)),
                Step::Flowing(n) => calls.media_flowing(now, &id(n)),
                Step::Ended(n) => calls.ended(&id(n), "gone"),
                Step::Mute(n) => { let _ = calls.set_muted(&id(n), true); }
                Step::Time(ms) => {
                    now = now + Duration::from_millis(u64::from(ms));
                    calls.handle_timeout(now);
                }
            }
            let in_progress = calls
                .iter()
                .filter(|v| v.direction == Direction::Outgoing || v.state != CallState::Ringing)
                .count();
            prop_assert!(in_progress <= 1);
            let ringing = calls
                .iter()
                .filter(|v| v.direction == Direction::Incoming && v.state == CallState::Ringing)
                .count();
            prop_assert!(ringing <= MAX_RINGING);
            prop_assert_eq!(calls.poll_timeout().is_some(), calls.iter().any(|v| v.state != CallState::Active));
            while let Some(action) = calls.poll_action() {
                if let CallAction::End { id } = action {
                    prop_assert!(calls.get(&id).is_none());
                }
            }
            while let Some(CallEvent::Changed(view)) = calls.poll_event() {
                if let CallState::Ended(_) = view.state {
                    prop_assert!(calls.get(&view.id).is_none());
                }
            }
        }
    }
}
