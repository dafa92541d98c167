//! Browser drivers for seedmesh.
//!
//! Each driver is thin glue between a browser API and a machine in [`seedmesh_core`]: browser
//! event handlers only queue events, and every decision is made in the core. Each JavaScript
//! callback is owned by the Rust value that owns the browser object it listens to, and is
//! released with it.
//!
//! - [`doh`]: seed-record discovery over DNS-over-HTTPS with `fetch`, cached in `localStorage`.
//! - [`node`]: the whole mesh for a page: rendezvous, exchange, invites, chat, files, PeerJS
//!   clients and calls.
//! - [`peer`]: the async API: a peer on a PeerServer, its data connections and its calls.
//! - [`media`]: the camera and microphone, for calls.
//! - [`peerserver`]: the PeerServer's WebSocket.
//! - [`rtc`]: `RTCPeerConnection` and `RTCDataChannel`.
//! - [`clock`]: the monotonic clock and random numbers.
//! - [`locks`]: names one page of a browser holds at a time (Web Locks).
//! - [`js`]: turning JavaScript exceptions into typed errors, in one place.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod clock;
pub mod doh;
pub mod js;
pub mod locks;
pub mod media;
pub mod node;
pub mod peer;
pub mod peerserver;
pub mod rtc;

pub use js::JsError;
