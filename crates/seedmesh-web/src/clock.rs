//! The page's monotonic clock and random numbers, read in one place for every driver.

use seedmesh_core::Instant;

/// Milliseconds on the page's monotonic clock (`performance.now()`), or the wall clock where
/// there is no `performance`.
#[must_use]
pub fn now() -> Instant {
    let millis = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| {
            let now = js_sys::Reflect::get(&p, &"now".into()).ok()?;
            let now: js_sys::Function = wasm_bindgen::JsCast::dyn_into(now).ok()?;
            now.call0(&p).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now);
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
