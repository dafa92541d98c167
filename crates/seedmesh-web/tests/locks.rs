//! Web Locks in a real page: one holder at a time, a bounded wait, release on drop.

#![cfg(target_arch = "wasm32")]

mod support;

use std::time::Duration;

use futures::future::{Either, select};
use gloo_timers::future::TimeoutFuture;
use seedmesh_web::clock::now;
use seedmesh_web::locks::acquire;
use support::within;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn a_held_lock_is_refused_to_others_until_dropped() {
    let name = "seedmesh.test.exclusive";
    let held = within(2_000, "the first lock", acquire(name, None))
        .await
        .expect("the page has Web Locks")
        .expect("nobody holds the lock yet");
    assert_eq!(held.name(), name);

    let second = within(2_000, "the refusal", acquire(name, None)).await;
    assert!(matches!(second, Ok(None)), "{second:?}");

    // Release goes through the browser's lock manager: it is not instant, but it comes.
    drop(held);
    let third = within(
        3_000,
        "the lock after release",
        acquire(name, Some(Duration::from_secs(2))),
    )
    .await
    .expect("the page has Web Locks");
    assert!(third.is_some(), "the lock was not released on drop");
}

#[wasm_bindgen_test]
async fn a_bounded_wait_gives_up_and_then_leaves_the_lock_free() {
    let name = "seedmesh.test.wait";
    let held = acquire(name, None).await.unwrap().unwrap();
    let started = now();
    let waited = within(
        3_000,
        "the bounded wait",
        acquire(name, Some(Duration::from_millis(300))),
    )
    .await;
    let elapsed = now().saturating_since(started);
    assert!(matches!(waited, Ok(None)), "{waited:?}");
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_millis(2_000),
        "gave up after {elapsed:?}"
    );
    // The abandoned request does not take the lock when the holder lets go.
    drop(held);
    let again = within(
        3_000,
        "the free lock",
        acquire(name, Some(Duration::from_secs(2))),
    )
    .await;
    assert!(matches!(again, Ok(Some(_))), "{again:?}");
}

#[wasm_bindgen_test]
async fn a_waiting_request_gets_the_lock_when_the_holder_lets_go() {
    let name = "seedmesh.test.handover";
    let held = acquire(name, None).await.unwrap().unwrap();
    wasm_bindgen_futures::spawn_local(async move {
        TimeoutFuture::new(100).await;
        drop(held);
    });
    let next = within(
        3_000,
        "the handover",
        acquire(name, Some(Duration::from_secs(2))),
    )
    .await;
    assert!(matches!(next, Ok(Some(_))), "{next:?}");
}

#[wasm_bindgen_test]
async fn a_request_given_up_by_its_caller_never_keeps_the_lock() {
    let name = "seedmesh.test.abandoned";
    let held = acquire(name, None).await.unwrap().unwrap();
    // The caller stops waiting long before the request's own limit.
    let abandoned = select(
        Box::pin(acquire(name, Some(Duration::from_secs(10)))),
        TimeoutFuture::new(100),
    )
    .await;
    assert!(matches!(abandoned, Either::Right(_)));
    drop(abandoned);
    drop(held);
    let next = within(
        3_000,
        "the lock after the abandoned request",
        acquire(name, Some(Duration::from_secs(2))),
    )
    .await;
    assert!(matches!(next, Ok(Some(_))), "{next:?}");
}
