use leptos::prelude::*;

use crate::components::{ConnectionStatus, Messaging, PeerList, SettingsPanel};
use crate::config::Settings;
use crate::identity::Identity;
use crate::network;
use crate::state::AppState;

/// The whole page: the network started once, its state in context, and the panels.
#[component]
pub fn App() -> impl IntoView {
    let identity = Identity::load_or_create();
    let settings = Settings::load();
    let state = AppState::new(identity.name.clone());
    provide_context(state);
    let (events, commands) = network::start(settings.clone(), identity);
    state.connect(events, commands);

    view! {
        <header class="app-header">
            <h1>"seedmesh"</h1>
            <p class="tagline">"Pages that find each other through DNS and talk over WebRTC."</p>
        </header>
        <main class="panels">
            <ConnectionStatus seed_domain=settings.seed_domain.clone()/>
            <PeerList/>
            <Messaging/>
            <SettingsPanel settings=settings/>
        </main>
    }
}
