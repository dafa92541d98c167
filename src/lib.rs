//! The seedmesh page as a Leptos client-side app.
//!
//! Components only render state and send commands; the network reaches them through one place.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod app;
pub mod components;

pub use app::App;
