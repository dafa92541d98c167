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
//! - [`peer_id`]: PeerJS-compatible peer IDs and tokens.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod peer_id;
pub mod time;

pub use peer_id::{PeerId, PeerIdError, Token};
pub use time::Instant;
