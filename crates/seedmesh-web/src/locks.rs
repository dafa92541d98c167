//! Names that one page of a browser holds at a time, over the Web Locks API.
//!
//! Pages of one browser share storage; a lock says which of them owns something stored there
//! (a peer identity, say). The browser releases a page's locks when the page goes, so a crashed
//! or closed tab never keeps one. Web Locks need a secure context (HTTPS, or `http://127.0.0.1`
//! and `localhost`); elsewhere [`acquire`] says [`LockError::Unsupported`].

use core::fmt;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures::FutureExt;
use futures::channel::oneshot;
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::js::{Context, JsError};

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks`, declared here: web-sys has it only behind its unstable-API switch.
    type LockManager;

    #[wasm_bindgen(method, catch)]
    fn request(
        this: &LockManager,
        name: &str,
        options: &js_sys::Object,
        callback: &js_sys::Function,
    ) -> Result<js_sys::Promise, JsValue>;
}

/// Why a lock could not be asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockError {
    /// This browser or context has no Web Locks (an insecure `http:` page, or an old browser):
    /// the caller has to do without.
    Unsupported,
    /// The browser refused the request.
    Failed(JsError),
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported => f.write_str(
                "this page has no Web Locks (it needs HTTPS or a loopback address, and a browser \
                 from 2022 or later)",
            ),
            Self::Failed(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for LockError {}

/// A lock this page holds, until this value is dropped or the page goes.
#[must_use = "the lock is released when this value is dropped"]
pub struct HeldLock {
    name: String,
    release: js_sys::Function,
}

impl HeldLock {
    /// The lock's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for HeldLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeldLock")
            .field("name", &self.name)
            .finish()
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        // Settling the promise the lock callback returned releases the lock.
        let _ = self.release.call0(&JsValue::UNDEFINED);
    }
}

/// Asks for the exclusive lock `name`. With `wait` of `None` it is taken only if no page holds
/// it now; otherwise the request waits up to `wait` for the holder to let go. `Ok(None)` means
/// another page holds it.
pub async fn acquire(name: &str, wait: Option<Duration>) -> Result<Option<HeldLock>, LockError> {
    let manager = lock_manager().ok_or(LockError::Unsupported)?;
    let options = js_sys::Object::new();
    let controller = web_sys::AbortController::new()
        .context("creating an AbortController")
        .map_err(LockError::Failed)?;
    let set = |key: &str, value: &JsValue| js_sys::Reflect::set(&options, &key.into(), value);
    let configured = match wait {
        None => set("ifAvailable", &JsValue::TRUE),
        Some(_) => set("signal", &controller.signal()),
    };
    configured
        .context("setting the lock options")
        .map_err(LockError::Failed)?;

    // The callback runs once: with the lock, or with null when `ifAvailable` found it taken.
    // It answers with a promise the lock is held until; `HeldLock` settles it.
    let (granted_tx, granted_rx) = oneshot::channel::<Option<js_sys::Function>>();
    let granted_tx = Rc::new(RefCell::new(Some(granted_tx)));
    let callback = Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |lock: JsValue| {
        let Some(granted) = granted_tx.borrow_mut().take() else {
            return JsValue::UNDEFINED;
        };
        if lock.is_null() || lock.is_undefined() {
            let _ = granted.send(None);
            return JsValue::UNDEFINED;
        }
        let mut release = None;
        let held = js_sys::Promise::new(&mut |resolve, _reject| release = Some(resolve));
        // Nobody waits any more (the caller gave up): let go at once.
        if let Err(Some(release)) = granted.send(release) {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
        held.into()
    });
    let request = manager
        .request(name, &options, callback.as_ref().unchecked_ref())
        .context("requesting a Web Lock")
        .map_err(LockError::Failed)?;
    let mut pending = Pending {
        controller,
        callback: Some(callback),
    };

    let mut granted = granted_rx.fuse();
    let mut settled = JsFuture::from(request).fuse();
    // Browsers fire longer timeouts at once: the longest wait is 2^31 - 1 ms (24 days).
    let longest = i32::MAX.unsigned_abs();
    let timer = wait.map_or(longest, |w| {
        u32::try_from(w.as_millis()).map_or(longest, |ms| ms.min(longest))
    });
    let mut timer = TimeoutFuture::new(timer).fuse();
    loop {
        futures::select! {
            release = granted => {
                // The callback ran, so it will not run again: dropping it is safe.
                pending.callback = None;
                return Ok(release.ok().flatten().map(|release| HeldLock {
                    name: name.to_owned(),
                    release,
                }));
            }
            result = settled => {
                // Settled before the callback ran: the request was aborted (or refused), and
                // the callback will never run.
                if let Err(error) = result {
                    let error = JsError::new("requesting a Web Lock", &error);
                    if !error.message.starts_with("AbortError") {
                        return Err(LockError::Failed(error));
                    }
                }
                pending.callback = None;
                if let Some(Ok(release)) = granted.now_or_never() {
                    return Ok(release.map(|release| HeldLock { name: name.to_owned(), release }));
                }
                return Ok(None);
            }
            () = timer => {
                // Stop waiting; the request settles (rejected) or the lock arrives just now.
                pending.controller.abort();
            }
        }
    }
}

/// A lock request under way. Dropped before it is answered (the caller stopped waiting), it
/// withdraws the request; its callback stays alive, since the browser may already be calling
/// it, and lets go of a lock granted that late.
struct Pending {
    controller: web_sys::AbortController,
    callback: Option<Closure<dyn FnMut(JsValue) -> JsValue>>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(callback) = self.callback.take() {
            self.controller.abort();
            callback.forget();
        }
    }
}

/// `navigator.locks`, where the context has it.
fn lock_manager() -> Option<LockManager> {
    let navigator = web_sys::window()?.navigator();
    let locks = js_sys::Reflect::get(&navigator, &"locks".into()).ok()?;
    locks.is_object().then(|| locks.unchecked_into())
}
