//! Discovery in the browser: the core's [`Lookup`] machine driven over `fetch`.
//!
//! Every configured DoH endpoint gets a GET `?dns=` (a GET sends no CORS preflight) with its own
//! `AbortController`; the machine decides when to give up on one, and the driver aborts it. Good
//! answers are kept in `localStorage`, so the next page load starts from the cache and still has
//! a last-known-good configuration when every resolver is blocked.
//!
//! ```no_run
//! # async fn run() {
//! use seedmesh_web::doh::{DiscoveryOptions, discover};
//! let report = discover("example.org", &DiscoveryOptions::default()).await;
//! for endpoint in &report.config.signaling {
//!     println!("signaling at {}", endpoint.socket_url());
//! }
//! for problem in &report.problems {
//!     println!("{problem}");
//! }
//! # }
//! ```

use core::time::Duration;
use std::collections::HashMap;

use futures::future::{Either, select};
use futures::stream::{FuturesUnordered, StreamExt};
use gloo_timers::future::TimeoutFuture;
use seedmesh_core::Instant;
use seedmesh_core::discovery::signature::KeyError;
use seedmesh_core::discovery::{
    CachedAnswer, DohEndpoint, FetchRequest, HttpResponse, Lookup, LookupOutput, PublicKey,
    RequestId, ResolverConfig, TxtRecord, dns,
};
use web_sys::AbortController;

pub use seedmesh_core::discovery::{DiscoveryReport, SeedConfig, Source};

use crate::js::JsError;

/// How [`discover`] looks a domain up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryOptions {
    /// The DoH endpoints, all asked at once (default: Cloudflare and Google).
    pub resolvers: Vec<DohEndpoint>,
    /// How long each endpoint gets (default 3 s).
    pub timeout: Duration,
    /// Public keys the records must be signed with (default: none, unchecked).
    pub pinned_keys: Vec<PublicKey>,
    /// Records built into the page, the last resort (default: none).
    pub snapshot: Vec<TxtRecord>,
    /// Whether answers are kept in and read from `localStorage` (default: yes).
    pub cache: CacheMode,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        let core = ResolverConfig::default();
        Self {
            resolvers: core.endpoints,
            timeout: core.timeout,
            pinned_keys: Vec::new(),
            snapshot: Vec::new(),
            cache: CacheMode::LocalStorage,
        }
    }
}

impl DiscoveryOptions {
    /// Options from the page's build configuration, as strings read with `option_env!`; `None`
    /// or blank keeps the default:
    ///
    /// - `resolvers`: DoH endpoints, comma-separated, `json:` before a JSON endpoint
    ///   (`SEEDMESH_DOH_RESOLVERS`);
    /// - `keys`: public keys to pin, comma-separated `ed25519:BASE64` (`SEEDMESH_SEED_KEYS`);
    /// - `snapshot`: seed entries built into the page, one per line (`SEEDMESH_SEED_SNAPSHOT`).
    ///
    /// # Errors
    /// A [`KeyError`] for a key that cannot be read: a build must not silently drop a pin.
    pub fn from_build_config(
        resolvers: Option<&str>,
        keys: Option<&str>,
        snapshot: Option<&str>,
    ) -> Result<Self, KeyError> {
        let mut options = Self::default();
        if let Some(list) = resolvers.filter(|r| !r.trim().is_empty()) {
            options.resolvers = DohEndpoint::parse_list(list);
        }
        for key in keys.unwrap_or_default().split(',').map(str::trim) {
            if !key.is_empty() {
                options.pinned_keys.push(PublicKey::parse(key)?);
            }
        }
        options.snapshot = snapshot
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(TxtRecord::from_text)
            .collect();
        Ok(options)
    }
}

/// Where answers are kept between lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheMode {
    /// Nowhere: every lookup asks the network.
    Off,
    /// In `localStorage`, one key per seed name (see [`LocalStorageCache`]).
    LocalStorage,
}

/// Answers kept in `localStorage` under `seedmesh.discovery.<seed name>`, as JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalStorageCache;

impl LocalStorageCache {
    /// The storage key for a seed name.
    #[must_use]
    pub fn key(seed_name: &str) -> String {
        format!("seedmesh.discovery.{seed_name}")
    }

    fn storage() -> Result<web_sys::Storage, JsError> {
        let window = web_sys::window().ok_or_else(|| JsError {
            context: "opening localStorage",
            message: "there is no window (a worker?)".into(),
        })?;
        window
            .local_storage()
            .map_err(|e| JsError::new("opening localStorage", &e))?
            .ok_or_else(|| JsError {
                context: "opening localStorage",
                message: "localStorage is disabled".into(),
            })
    }

    /// The answer kept for `seed_name`, if any and readable.
    #[must_use]
    pub fn load(seed_name: &str) -> Option<CachedAnswer> {
        let text = Self::storage()
            .ok()?
            .get_item(&Self::key(seed_name))
            .ok()??;
        serde_json::from_str(&text).ok()
    }

    /// Keeps `answer`.
    ///
    /// # Errors
    /// A [`JsError`] if storage is unavailable or full.
    pub fn save(answer: &CachedAnswer) -> Result<(), JsError> {
        let text = serde_json::to_string(answer).map_err(|e| JsError {
            context: "saving the discovery cache",
            message: e.to_string(),
        })?;
        Self::storage()?
            .set_item(&Self::key(&answer.seed_name), &text)
            .map_err(|e| JsError::new("saving the discovery cache", &e))
    }

    /// Forgets the answer kept for `seed_name`.
    pub fn clear(seed_name: &str) {
        if let Ok(storage) = Self::storage() {
            let _ = storage.remove_item(&Self::key(seed_name));
        }
    }
}

/// Milliseconds since the Unix epoch: cache entries outlive the page, so the epoch must too.
fn now() -> Instant {
    let millis = js_sys::Date::now();
    // Date.now() is a non-negative integer below 2^53 on any sane clock.
    Instant::from_millis(if millis.is_finite() && millis > 0.0 {
        millis as u64
    } else {
        0
    })
}

/// The abort controllers of the requests in flight; aborts what is left when dropped, so a
/// dropped `discover` future leaves no request behind.
#[derive(Default)]
struct InFlight(HashMap<RequestId, AbortController>);

impl InFlight {
    fn abort(&mut self, id: RequestId) {
        if let Some(controller) = self.0.remove(&id) {
            controller.abort();
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        for (_, controller) in self.0.drain() {
            controller.abort();
        }
    }
}

/// One GET; errors as text for the report.
async fn fetch(
    request: FetchRequest,
    signal: web_sys::AbortSignal,
) -> Result<HttpResponse, String> {
    let response = gloo_net::http::Request::get(&request.url)
        .header("accept", request.accept)
        .abort_signal(Some(&signal))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let content_type = response.headers().get("content-type");
    let body = response.binary().await.map_err(|e| e.to_string())?;
    Ok(HttpResponse {
        status,
        content_type,
        body,
    })
}

/// Looks up `domain`'s seed records and says what was found, from where, and what went wrong.
///
/// Never fails: every failure is in the report ([`DiscoveryReport::error`] and each
/// [`DiscoveryReport::attempts`] entry), with the cache, last-known-good and snapshot fallbacks
/// already applied.
pub async fn discover(domain: &str, options: &DiscoveryOptions) -> DiscoveryReport {
    let config = ResolverConfig {
        endpoints: options.resolvers.clone(),
        timeout: options.timeout,
        pinned_keys: options.pinned_keys.clone(),
        snapshot: options.snapshot.clone(),
        ..ResolverConfig::default()
    };
    let cached = match (options.cache, dns::seed_name(domain)) {
        (CacheMode::LocalStorage, Ok(name)) => LocalStorageCache::load(&name),
        _ => None,
    };
    let mut lookup = Lookup::new(now(), domain, &config, cached);
    let mut in_flight = InFlight::default();
    let mut responses = FuturesUnordered::new();
    loop {
        while let Some(output) = lookup.poll_output() {
            match output {
                LookupOutput::Fetch(request) => {
                    let id = request.id;
                    match AbortController::new() {
                        Ok(controller) => {
                            let signal = controller.signal();
                            in_flight.0.insert(id, controller);
                            responses.push(async move { (id, fetch(request, signal).await) });
                        }
                        Err(e) => {
                            let error = JsError::new("creating an AbortController", &e);
                            lookup.handle_transport_error(now(), id, &error.to_string());
                        }
                    }
                }
                LookupOutput::Abort(id) => in_flight.abort(id),
                LookupOutput::Store(answer) => {
                    if options.cache == CacheMode::LocalStorage {
                        // A full or disabled storage only costs the next page load a lookup.
                        let _ = LocalStorageCache::save(&answer);
                    }
                }
                LookupOutput::Done(report) => return *report,
            }
        }
        let Some(deadline) = lookup.poll_timeout() else {
            // Not done and nothing to wait for cannot happen; end it rather than hang.
            lookup.handle_timeout(Instant::from_millis(u64::MAX));
            continue;
        };
        let wait = deadline.as_millis().saturating_sub(now().as_millis());
        let timer = TimeoutFuture::new(u32::try_from(wait).unwrap_or(u32::MAX));
        if responses.is_empty() {
            timer.await;
            lookup.handle_timeout(now());
            continue;
        }
        match select(responses.next(), timer).await {
            Either::Left((Some((id, result)), _)) => {
                in_flight.0.remove(&id);
                match result {
                    Ok(response) => lookup.handle_response(now(), id, &response),
                    Err(why) => lookup.handle_transport_error(now(), id, &why),
                }
            }
            Either::Left((None, _)) | Either::Right(_) => lookup.handle_timeout(now()),
        }
    }
}
