//! The sans-IO core of seedmesh.
//!
//! Everything here is plain data and state machines: no sockets, no timers, no browser APIs. A
//! driver (the `seedmesh-web` crate in the browser, a simulator in tests) feeds inputs in with the
//! current time, drains outputs, and sleeps until the next wake-up the machine asks for. That keeps
//! every protocol decision testable natively, in milliseconds, and identical in every environment.
//!
//! Modules, in the order data flows through a page:
//!
//! - [`time`]: the one time type every machine takes as input.
//! - [`discovery`]: seed records from DNS TXT over DNS-over-HTTPS.
//! - [`peer_id`]: PeerJS-compatible peer IDs and tokens.
//! - [`identity`]: which identity each page of a browser goes by.
//! - [`signaling`]: the PeerServer client.
//! - [`invite`]: a connection's offer or answer in a link, for when no server can be reached.
//! - [`qr`]: QR codes as SVG, for invite links.
//! - [`mesh`]: rendezvous, peer exchange and chat between pages.
//! - [`channel`]: what crosses a data channel.
//! - [`binarypack`]: PeerJS's default serialization.
//! - [`client`]: plain PeerJS clients that connect to a page.
//! - [`call`]: audio and video calls, as PeerJS makes them.
//! - [`transfer`]: files in chunks.
//! - [`connection`]: one data connection's timeouts, liveness and close.
//! - [`endpoint`]: all of the above for one page, every link under one handle.
//! - [`sim`]: a room of thousands of pages over a simulated network, for the gossip and the
//!   bounded degree ([`mesh::gossip`], [`mesh::degree`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod binarypack;
pub mod call;
pub mod channel;
pub mod client;
pub mod connection;
pub mod discovery;
pub mod endpoint;
pub mod identity;
pub mod invite;
pub mod mesh;
pub mod path;
pub mod peer_id;
pub mod proof;
pub mod qr;
pub mod signaling;
pub mod sim;
pub mod time;
pub mod transfer;

pub use peer_id::{PeerId, PeerIdError, Token};
pub use time::Instant;
