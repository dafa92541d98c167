//! The page's monotonic clock, timers and random numbers, read in one place for every driver.

use gloo_timers::future::TimeoutFuture;
use seedmesh_core::Instant;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = performance, js_name = now)]
    fn performance_now() -> Result<f64, wasm_bindgen::JsValue>;
}

/// Milliseconds on the page's monotonic clock (`performance.now()`), or the wall clock where
/// there is no `performance`.
#[must_use]
pub fn now() -> Instant {
    let millis = performance_now().unwrap_or_else(|_| js_sys::Date::now());
    Instant::from_millis(millis.max(0.0) as u64)
}

/// 32 random bits from the browser's cryptographic generator (peer tokens are secrets), or
/// `Math.random` where there is none.
#[must_use]
pub fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if filled {
        u32::from_le_bytes(bytes)
    } else {
        (js_sys::Math::random() * f64::from(u32::MAX)) as u32
    }
}

/// A task's timer for its next deadline, set again only when a deadline comes earlier than
/// the one it waits for. A task that handles many events between deadlines then does not make
/// and clear a browser timer for each event; a timer that rings early only makes the task
/// look at its deadlines again.
#[derive(Default)]
pub(crate) struct Alarm {
    armed: Option<(Instant, TimeoutFuture)>,
}

impl Alarm {
    /// Makes sure the alarm rings by `deadline`; `None` stops it.
    pub(crate) fn set(&mut self, deadline: Option<Instant>) {
        match deadline {
            None => self.armed = None,
            Some(deadline) if self.armed.as_ref().is_some_and(|(at, _)| *at <= deadline) => {}
            Some(deadline) => {
                let millis = deadline.saturating_since(now()).as_millis();
                let timer = TimeoutFuture::new(u32::try_from(millis).unwrap_or(u32::MAX));
                self.armed = Some((deadline, timer));
            }
        }
    }

    /// Resolves when the alarm rings, which disarms it; never, if it is not set.
    pub(crate) async fn ring(&mut self) {
        match &mut self.armed {
            Some((_, timer)) => {
                timer.await;
                self.armed = None;
            }
            None => futures::future::pending().await,
        }
    }
}
