//! The whole mesh in a plain wasm page, without Leptos: find the network from a seed domain's
//! DNS records, join it, greet each peer that connects, and log the room's chat.
//!
//! Build it like any wasm-bindgen crate (`cargo build --example room_chat --target
//! wasm32-unknown-unknown`, then `wasm-bindgen --target web`), and load it from a page.

use seedmesh_core::endpoint::Event;
use seedmesh_core::mesh::PeerState;
use seedmesh_core::signaling::ServerConfig;
use seedmesh_web::doh::{DiscoveryOptions, discover};
use seedmesh_web::node::{Node, NodeEvent, NodeOptions};
use wasm_bindgen::prelude::*;

/// The seed domain whose `_seedmesh` TXT records say where the network is.
const SEED_DOMAIN: &str = "seedmesh.example";

#[wasm_bindgen(start)]
pub fn start() {
    wasm_bindgen_futures::spawn_local(async {
        if let Err(error) = join().await {
            log(&format!("seedmesh: {error}"));
        }
    });
}

async fn join() -> Result<(), Box<dyn std::error::Error>> {
    let report = discover(SEED_DOMAIN, &DiscoveryOptions::default()).await;
    let public = ServerConfig::from_url("wss://0.peerjs.com/", "peerjs")?;
    let mut node = Node::start(NodeOptions::from_records(&report.config, "Example", public))?;
    log(&format!("seedmesh: joining as {}", node.id()));
    while let Some(event) = node.next_event().await {
        match event {
            NodeEvent::Mesh(Event::Peer(peer)) if peer.state == PeerState::Connected => {
                node.send_chat("hello from the example", Some(peer.id));
            }
            NodeEvent::Mesh(Event::Chat(chat)) => log(&format!("{}: {}", chat.from, chat.text)),
            _ => {}
        }
    }
    Ok(())
}

#[wasm_bindgen]
extern "C" {
    /// `console.log`.
    #[wasm_bindgen(js_namespace = console)]
    fn log(text: &str);
}
