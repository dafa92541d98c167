//! A page that PeerJS code can talk to as it is: it joins the network like any seedmesh page,
//! greets each plain PeerJS client that connects (`peer.connect(id)` in any serialization), and
//! answers every call (`peer.call(id, stream)`), logging what it hears and plays.
//!
//! Build it like any wasm-bindgen crate (`cargo build --example call_desk --target
//! wasm32-unknown-unknown`, then `wasm-bindgen --target web`), and load it from a page that has
//! a `<video id="remote" autoplay playsinline>`.

use seedmesh_core::call::{CallState, Direction};
use seedmesh_core::endpoint::Event;
use seedmesh_core::signaling::ServerConfig;
use seedmesh_web::doh::{DiscoveryOptions, discover};
use seedmesh_web::node::{Node, NodeEvent, NodeOptions};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The seed domain whose `_seedmesh` TXT records say where the network is.
const SEED_DOMAIN: &str = "seedmesh.example";

#[wasm_bindgen(start)]
pub fn start() {
    wasm_bindgen_futures::spawn_local(async {
        if let Err(error) = serve().await {
            log(&format!("call desk: {error}"));
        }
    });
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let report = discover(SEED_DOMAIN, &DiscoveryOptions::default()).await;
    let public = ServerConfig::from_url("wss://0.peerjs.com/", "peerjs")?;
    let mut node = Node::start(NodeOptions::from_records(
        &report.config,
        "Call desk",
        public,
    ))?;
    log(&format!(
        "call desk: PeerJS code can connect to {}",
        node.id()
    ));
    while let Some(event) = node.next_event().await {
        match event {
            // A plain PeerJS client: it gets strings, whatever its serialization.
            NodeEvent::Mesh(Event::Peer(peer)) if peer.peerjs_client.is_some() => {
                node.send_chat("hello from the call desk", Some(peer.id));
            }
            NodeEvent::Mesh(Event::Chat(chat)) => log(&format!("{}: {}", chat.from, chat.text)),
            // Every call is answered (with video if the caller sends video).
            NodeEvent::Mesh(Event::Call(call))
                if call.direction == Direction::Incoming && call.state == CallState::Ringing =>
            {
                node.answer_call(&call.id);
            }
            NodeEvent::Mesh(Event::Call(call)) => {
                log(&format!("call {}: {:?}", call.id, call.state))
            }
            NodeEvent::RemoteMedia { stream, .. } => {
                let video = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.get_element_by_id("remote"))
                    .and_then(|e| e.dyn_into::<web_sys::HtmlMediaElement>().ok());
                if let Some(video) = video {
                    video.set_src_object(Some(&stream));
                }
            }
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
