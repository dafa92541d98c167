//! What the browser test files share.

use futures::future::{Either, select};
use gloo_timers::future::TimeoutFuture;

/// Fails the test instead of hanging when `future` takes longer than `millis`.
pub async fn within<T>(
    millis: u32,
    what: &str,
    future: impl core::future::Future<Output = T>,
) -> T {
    match select(Box::pin(future), TimeoutFuture::new(millis)).await {
        Either::Left((value, _)) => value,
        Either::Right(_) => panic!("timed out after {millis} ms waiting for {what}"),
    }
}
