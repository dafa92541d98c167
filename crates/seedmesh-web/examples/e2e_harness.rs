//! A seedmesh peer that a test page drives from JavaScript, for the end-to-end interop suites
//! (`tests/e2e/connections.test.mjs`) and the benchmark (`bench/pages/seedmesh.html`). Built
//! by `scripts/build-e2e-harness.sh`, and in release mode by `scripts/bench.sh`.
//!
//! One [`Peer`] per page; connections are numbered handles. Every wait takes a timeout.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use futures::future::{Either, select};
use gloo_timers::future::TimeoutFuture;
use seedmesh_core::channel::Message;
use seedmesh_core::signaling::{Serialization, ServerConfig};
use seedmesh_core::{PeerId, Token};
use seedmesh_web::peer::{
    Connection, ConnectionEvent, ConnectionSender, DialOptions, Peer, PeerEvent, PeerHandle,
    PeerOptions,
};
use seedmesh_web::rtc::{IceServer, RtcConfig};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

thread_local! {
    static PEER: RefCell<Option<Peer>> = const { RefCell::new(None) };
    static HANDLE: RefCell<Option<PeerHandle>> = const { RefCell::new(None) };
    static CONNECTIONS: RefCell<HashMap<u32, Connection>> = RefCell::new(HashMap::new());
    static SENDERS: RefCell<HashMap<u32, ConnectionSender>> = RefCell::new(HashMap::new());
    static NEXT: Cell<u32> = const { Cell::new(1) };
}

fn fail(what: impl core::fmt::Display) -> JsValue {
    JsValue::from_str(&what.to_string())
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now, catch)]
    fn performance_now() -> Result<f64, JsValue>;
}

/// The page's monotonic clock in milliseconds, with its sub-millisecond part: one import call,
/// so that timing a round trip costs the same as in the JavaScript pages it is compared with.
fn now_ms() -> f64 {
    performance_now().unwrap_or_else(|_| js_sys::Date::now())
}

async fn within<T>(millis: u32, future: impl core::future::Future<Output = T>) -> Option<T> {
    match select(Box::pin(future), TimeoutFuture::new(millis)).await {
        Either::Left((value, _)) => Some(value),
        Either::Right(_) => None,
    }
}

fn register(connection: Connection) -> u32 {
    let handle = NEXT.with(|n| {
        let h = n.get();
        n.set(h + 1);
        h
    });
    SENDERS.with(|s| s.borrow_mut().insert(handle, connection.sender()));
    CONNECTIONS.with(|c| c.borrow_mut().insert(handle, connection));
    handle
}

fn sender(handle: u32) -> Result<ConnectionSender, JsValue> {
    SENDERS
        .with(|s| s.borrow().get(&handle).cloned())
        .ok_or_else(|| fail(format!("no connection {handle}")))
}

/// `iceServers` as RTCConfiguration takes them: `[{urls, username, credential}]`.
fn ice_servers(json: &str) -> Result<Vec<IceServer>, JsValue> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(fail)?;
    let servers = value.as_array().cloned().unwrap_or_default();
    Ok(servers
        .iter()
        .map(|s| IceServer {
            urls: match &s["urls"] {
                serde_json::Value::String(u) => vec![u.clone()],
                serde_json::Value::Array(us) => us
                    .iter()
                    .filter_map(|u| u.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            },
            username: s["username"].as_str().map(str::to_owned),
            credential: s["credential"].as_str().map(str::to_owned),
        })
        .collect())
}

/// Registers on the PeerServer at `url` (ws://host:port/path); resolves to our ID.
#[wasm_bindgen]
pub async fn connect(
    url: String,
    id: Option<String>,
    token: Option<String>,
    ice_json: String,
    relay_only: bool,
) -> Result<String, JsValue> {
    let mut options = PeerOptions::new(ServerConfig::from_url(&url, "peerjs").map_err(fail)?);
    options.id = id.map(|id| PeerId::parse(&id)).transpose().map_err(fail)?;
    options.token = token.and_then(|t| Token::restore(&t));
    // The benchmark opens many connections from one page to another: no cap per source here.
    options.offer_limits.per_source = usize::MAX;
    options.rtc = RtcConfig {
        ice_servers: ice_servers(&ice_json)?,
        relay_only,
    };
    let peer = within(15_000, Peer::connect(options))
        .await
        .ok_or_else(|| fail("registration timed out"))?
        .map_err(fail)?;
    let id = peer.id().to_string();
    HANDLE.with(|h| *h.borrow_mut() = Some(peer.handle()));
    PEER.with(|p| *p.borrow_mut() = Some(peer));
    Ok(id)
}

/// Our token, to register the same ID again.
#[wasm_bindgen]
pub fn token() -> Option<String> {
    HANDLE.with(|h| h.borrow().as_ref().map(|h| h.token().as_str().to_owned()))
}

/// Whether the ID is registered right now.
#[wasm_bindgen]
pub fn is_registered() -> bool {
    HANDLE.with(|h| h.borrow().as_ref().is_some_and(PeerHandle::is_registered))
}

/// The next peer event as `{kind, handle?, reason?}`, or `{kind: "timeout"}`.
#[wasm_bindgen]
pub async fn next_peer_event(timeout_ms: u32) -> Result<JsValue, JsValue> {
    let mut peer = PEER
        .with(|p| p.borrow_mut().take())
        .ok_or_else(|| fail("no peer, or another call is waiting on it"))?;
    let event = within(timeout_ms, peer.next_event()).await;
    PEER.with(|p| *p.borrow_mut() = Some(peer));
    let object = match event {
        None => serde_json::json!({"kind": "timeout"}),
        Some(None) => serde_json::json!({"kind": "shutdown"}),
        Some(Some(PeerEvent::Incoming(connection))) => {
            let peer = connection.peer().to_string();
            let serialization = connection.serialization().as_str();
            let metadata = connection.metadata().clone();
            serde_json::json!({"kind": "incoming", "handle": register(connection), "peer": peer,
             "serialization": serialization, "metadata": metadata})
        }
        Some(Some(PeerEvent::Reregistered)) => serde_json::json!({"kind": "reregistered"}),
        Some(Some(PeerEvent::Disconnected { reason, .. })) => {
            serde_json::json!({"kind": "disconnected", "reason": reason})
        }
        Some(Some(PeerEvent::Failed(error))) => {
            serde_json::json!({"kind": "failed", "reason": error.to_string()})
        }
        Some(Some(PeerEvent::Refused { peer, reason })) => {
            serde_json::json!({"kind": "refused", "peer": peer.to_string(), "reason": reason})
        }
        Some(Some(other)) => serde_json::json!({"kind": format!("{other:?}")}),
    };
    js_sys::JSON::parse(&object.to_string())
}

fn serialization(name: &str) -> Result<Serialization, JsValue> {
    match name {
        "json" => Ok(Serialization::Json),
        "raw" => Ok(Serialization::Raw),
        "binary" => Ok(Serialization::Binary),
        other => Err(fail(format!("unknown serialization {other}"))),
    }
}

/// Dials `peer`; resolves to a connection handle, or rejects with the reason.
#[wasm_bindgen]
pub async fn dial(
    peer: String,
    serialization_name: String,
    metadata_json: Option<String>,
) -> Result<u32, JsValue> {
    let peer = PeerId::parse(&peer).map_err(fail)?;
    let metadata = match metadata_json {
        Some(json) => serde_json::from_str(&json).map_err(fail)?,
        None => serde_json::Value::Null,
    };
    let options = DialOptions {
        serialization: serialization(&serialization_name)?,
        metadata,
        ..DialOptions::default()
    };
    let dial = HANDLE
        .with(|h| h.borrow().as_ref().map(|h| h.dial(&peer, options)))
        .ok_or_else(|| fail("not connected"))?;
    let connection = within(30_000, dial)
        .await
        .ok_or_else(|| fail("dial timed out"))?
        .map_err(fail)?;
    Ok(register(connection))
}

/// Sends a JSON value given as text.
#[wasm_bindgen]
pub async fn send_json(handle: u32, json: String) -> Result<(), JsValue> {
    let value = serde_json::from_str(&json).map_err(fail)?;
    sender(handle)?
        .send(&Message::Json(value))
        .await
        .map_err(fail)
}

/// Sends a string.
#[wasm_bindgen]
pub async fn send_text(handle: u32, text: String) -> Result<(), JsValue> {
    sender(handle)?
        .send(&Message::Text(text))
        .await
        .map_err(fail)
}

/// Sends `len` bytes made with `seed`: `(i * 31 + seed) % 256` for each index `i`.
#[wasm_bindgen]
pub async fn send_made_bytes(handle: u32, len: u32, seed: u32) -> Result<(), JsValue> {
    let bytes = (0..len).map(|i| ((i * 31 + seed) % 256) as u8).collect();
    sender(handle)?
        .send(&Message::Binary(bytes))
        .await
        .map_err(fail)
}

/// FNV-1a, 32 bits, of `bytes` as hex: how large messages are compared (the PeerJS test page
/// has the same).
fn fnv(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0x811c_9dc5u32, |hash, b| {
        (hash ^ u32::from(*b)).wrapping_mul(16_777_619)
    });
    format!("{hash:x}")
}

/// Sends bytes.
#[wasm_bindgen]
pub async fn send_bytes(handle: u32, bytes: Vec<u8>) -> Result<(), JsValue> {
    sender(handle)?
        .send(&Message::Binary(bytes))
        .await
        .map_err(fail)
}

fn describe(event: Option<ConnectionEvent>) -> Result<JsValue, JsValue> {
    let object = match event {
        Some(ConnectionEvent::Message(Message::Json(value))) => {
            serde_json::json!({"kind": "json", "value": value})
        }
        Some(ConnectionEvent::Message(Message::Text(text))) => {
            serde_json::json!({"kind": "text", "value": text})
        }
        Some(ConnectionEvent::Message(Message::Binary(bytes))) if bytes.len() > 4096 => {
            serde_json::json!({"kind": "bytes", "len": bytes.len(), "fnv": fnv(&bytes)})
        }
        Some(ConnectionEvent::Message(Message::Binary(bytes))) => {
            serde_json::json!({"kind": "bytes", "value": bytes})
        }
        Some(ConnectionEvent::Message(Message::Packed(value))) => {
            serde_json::json!({"kind": "packed", "value": format!("{value:?}")})
        }
        Some(ConnectionEvent::Error(error)) => {
            serde_json::json!({"kind": "error", "reason": error.to_string()})
        }
        Some(ConnectionEvent::Closed(reason)) => {
            serde_json::json!({"kind": "closed", "reason": reason.to_string()})
        }
        Some(other) => serde_json::json!({"kind": format!("{other:?}")}),
        None => serde_json::json!({"kind": "ended"}),
    };
    js_sys::JSON::parse(&object.to_string())
}

/// The next event on a connection as `{kind, value?, reason?}`, or `{kind: "timeout"}`.
#[wasm_bindgen]
pub async fn next_event(handle: u32, timeout_ms: u32) -> Result<JsValue, JsValue> {
    let mut connection = CONNECTIONS
        .with(|c| c.borrow_mut().remove(&handle))
        .ok_or_else(|| {
            fail(format!(
                "no connection {handle}, or another call is waiting on it"
            ))
        })?;
    let event = within(timeout_ms, connection.next_event()).await;
    CONNECTIONS.with(|c| c.borrow_mut().insert(handle, connection));
    match event {
        Some(event) => describe(event),
        None => js_sys::JSON::parse(r#"{"kind":"timeout"}"#),
    }
}

/// Echoes every message on the connection back, until it closes.
#[wasm_bindgen]
pub fn echo(handle: u32) -> Result<(), JsValue> {
    let mut connection = CONNECTIONS
        .with(|c| c.borrow_mut().remove(&handle))
        .ok_or_else(|| fail(format!("no connection {handle}")))?;
    spawn_local(async move {
        while let Some(event) = connection.next_event().await {
            match event {
                ConnectionEvent::Message(message) => {
                    let _ = connection.send(&message).await;
                }
                ConnectionEvent::Closed(_) => break,
                _ => {}
            }
        }
    });
    Ok(())
}

/// Sends `count` JSON messages one at a time, each after the echo of the one before, and
/// returns each round trip in milliseconds.
#[wasm_bindgen]
pub async fn measure_rtt(handle: u32, count: u32) -> Result<Vec<f64>, JsValue> {
    let mut connection = CONNECTIONS
        .with(|c| c.borrow_mut().remove(&handle))
        .ok_or_else(|| fail(format!("no connection {handle}")))?;
    // One deadline for the whole series, not a timer per ping: the JavaScript pages it is
    // compared with set none.
    let pings = async {
        let mut list = Vec::with_capacity(count as usize);
        for n in 0..count {
            let started = now_ms();
            let sent = Message::Json(serde_json::json!({ "rtt": n }));
            connection.send(&sent).await.map_err(fail)?;
            loop {
                match connection.next_event().await {
                    Some(ConnectionEvent::Message(m)) if m == sent => break,
                    Some(ConnectionEvent::Message(_) | ConnectionEvent::Error(_)) => {}
                    _ => return Err(fail(format!("no echo for message {n}"))),
                }
            }
            list.push(now_ms() - started);
        }
        Ok(list)
    };
    let result = within(5_000 + count.saturating_mul(100), pings)
        .await
        .unwrap_or_else(|| Err(fail("the echoes did not all come back in time")));
    CONNECTIONS.with(|c| c.borrow_mut().insert(handle, connection));
    result
}

/// The connection's diagnostics as JSON text.
#[wasm_bindgen]
pub async fn diagnostics(handle: u32) -> Result<String, JsValue> {
    let d = sender(handle)?.diagnostics().await;
    Ok(serde_json::json!({
        "state": d.state,
        "connectTimeMs": d.connect_time.as_secs_f64() * 1000.0,
        "localCandidateType": d.path.local_candidate_type,
        "remoteCandidateType": d.path.remote_candidate_type,
        "rttMs": d.path.round_trip_time.map(|r| r.as_secs_f64() * 1000.0),
        "pingRttMs": d.ping_rtt.map(|r| r.as_secs_f64() * 1000.0),
        "seedmeshPeer": d.seedmesh_peer,
    })
    .to_string())
}

/// Closes a connection.
#[wasm_bindgen]
pub fn close(handle: u32) {
    if let Ok(sender) = sender(handle) {
        sender.close();
    }
    CONNECTIONS.with(|c| c.borrow_mut().remove(&handle));
    SENDERS.with(|s| s.borrow_mut().remove(&handle));
}

/// For the benchmark's receiver: echoes every message except bytes, which it counts; after a
/// JSON `{"bulk": n}` it answers `{"done": n}` once `n` bytes have arrived.
#[wasm_bindgen]
pub fn sink(handle: u32) -> Result<(), JsValue> {
    let mut connection = CONNECTIONS
        .with(|c| c.borrow_mut().remove(&handle))
        .ok_or_else(|| fail(format!("no connection {handle}")))?;
    spawn_local(async move {
        let mut expected = 0usize;
        let mut received = 0usize;
        while let Some(event) = connection.next_event().await {
            match event {
                ConnectionEvent::Message(Message::Binary(bytes)) => {
                    received += bytes.len();
                    if expected > 0 && received >= expected {
                        expected = 0;
                        let done = Message::Json(serde_json::json!({ "done": received }));
                        let _ = connection.send(&done).await;
                    }
                }
                ConnectionEvent::Message(Message::Json(value)) if value.get("bulk").is_some() => {
                    expected = value["bulk"].as_u64().unwrap_or(0) as usize;
                    received = 0;
                }
                ConnectionEvent::Message(message) => {
                    let _ = connection.send(&message).await;
                }
                ConnectionEvent::Closed(_) => break,
                ConnectionEvent::Error(_) => {}
                _ => {}
            }
        }
    });
    Ok(())
}

/// For the benchmark's sender: announces `total` bytes to a [`sink`], sends them in messages
/// of `chunk` bytes, and resolves to the milliseconds until the sink confirmed them all.
#[wasm_bindgen]
pub async fn blast(handle: u32, total: u32, chunk: u32) -> Result<f64, JsValue> {
    let mut connection = CONNECTIONS
        .with(|c| c.borrow_mut().remove(&handle))
        .ok_or_else(|| fail(format!("no connection {handle}")))?;
    let result = async {
        let announce = Message::Json(serde_json::json!({ "bulk": total }));
        connection.send(&announce).await.map_err(fail)?;
        let started = now_ms();
        let payload = Message::Binary(vec![7u8; chunk.max(1) as usize]);
        let mut sent = 0u32;
        while sent < total {
            connection.send(&payload).await.map_err(fail)?;
            sent = sent.saturating_add(chunk.max(1));
        }
        let done = within(60_000, async {
            loop {
                match connection.next_event().await {
                    Some(ConnectionEvent::Message(Message::Json(v))) if v.get("done").is_some() => {
                        return true;
                    }
                    Some(ConnectionEvent::Message(_) | ConnectionEvent::Error(_)) => {}
                    _ => return false,
                }
            }
        })
        .await;
        if done == Some(true) {
            Ok(now_ms() - started)
        } else {
            Err(fail("the receiver did not confirm the bulk transfer"))
        }
    }
    .await;
    CONNECTIONS.with(|c| c.borrow_mut().insert(handle, connection));
    result
}

/// Looks `domain`'s seed records up through the comma-separated DoH `resolvers`, with or
/// without the localStorage cache; resolves to the milliseconds the lookup took.
#[wasm_bindgen]
pub async fn lookup(domain: String, resolvers: String, cache: bool) -> Result<f64, JsValue> {
    use seedmesh_web::doh::{CacheMode, DiscoveryOptions, discover};
    let mut options =
        DiscoveryOptions::from_build_config(Some(&resolvers), None, None).map_err(fail)?;
    options.cache = if cache {
        CacheMode::LocalStorage
    } else {
        CacheMode::Off
    };
    let started = now_ms();
    let report = discover(&domain, &options).await;
    let elapsed = now_ms() - started;
    if report.config.is_empty() {
        return Err(fail(format!(
            "the lookup found nothing: {:?}",
            report.error
        )));
    }
    Ok(elapsed)
}
