use leptos::prelude::*;

use crate::components::{ConnectionStatus, Messaging, PeerList};

/// The whole page: a header and the three panels.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <header class="app-header">
            <h1>"seedmesh"</h1>
            <p class="tagline">"Pages that find each other through DNS and talk over WebRTC."</p>
        </header>
        <main class="panels">
            <ConnectionStatus/>
            <PeerList/>
            <Messaging/>
        </main>
    }
}
