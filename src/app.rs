use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::{
    ConnectionStatus, Messaging, PeerList, Section, SectionNav, SettingsPanel, Welcome,
};
use crate::config::Settings;
use crate::identity;
use crate::network;
use crate::state::AppState;

/// The whole page: the network started once this tab has claimed its identity, its state in
/// context, and the panels. On a phone one panel shows at a time, the conversation first.
#[component]
pub fn App() -> impl IntoView {
    let settings = Settings::load();
    let state = AppState::new();
    provide_context(state);
    {
        let settings = settings.clone();
        spawn_local(async move {
            let identity = identity::claim().await;
            state.set_identity(&identity);
            let (events, commands) = network::start(settings, identity);
            state.connect(events, commands);
        });
    }
    let shown = RwSignal::new(Section::Messages);
    let area = move |section: Section| {
        move || {
            let active = if shown.get() == section {
                " active"
            } else {
                ""
            };
            format!("area area-{}{active}", section.slug())
        }
    };

    view! {
        <header class="app-header">
            <h1>"seedmesh"</h1>
            <p class="tagline">"Pages that find each other through DNS and talk over WebRTC."</p>
        </header>
        <Welcome/>
        <SectionNav shown=shown/>
        <main class="panels">
            <div class=area(Section::Connection) id=Section::Connection.area_id()>
                <ConnectionStatus seed_domain=settings.seed_domain.clone()/>
            </div>
            <div class=area(Section::Peers) id=Section::Peers.area_id()>
                <PeerList/>
            </div>
            <div class=area(Section::Messages) id=Section::Messages.area_id()>
                <Messaging/>
            </div>
            <div class=area(Section::Settings) id=Section::Settings.area_id()>
                <SettingsPanel settings=settings/>
            </div>
        </main>
    }
}
