//! The seedmesh page as a Leptos client-side app.
//!
//! [`network`] runs discovery, signaling and the mesh as one task; [`state`] is where its
//! events become signals; [`components`] render those signals and send commands back.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod app;
pub mod components;
pub mod config;
pub mod handoff;
pub mod identity;
pub mod network;
pub mod state;
pub mod storage;

pub use app::App;
