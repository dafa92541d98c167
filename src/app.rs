use leptos::prelude::*;
use leptos::task::spawn_local;

use seedmesh_core::invite::{ANSWER_FRAGMENT, INVITE_FRAGMENT, Invite};
use wasm_bindgen::JsValue;

use crate::components::{
    Calls, ConnectionStatus, InviteNotice, MakeInvite, Messaging, PeerList, Section, SectionNav,
    SettingsPanel, Welcome,
};
use crate::config::Settings;
use crate::handoff::{self, AnswerListener};
use crate::identity;
use crate::network::{self, Command};
use crate::state::{AppState, HandoffView, ReplyView};

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
            open_link_fragment(state).await;
        });
    }
    // Answers that other tabs of this browser were opened with.
    let listener = AnswerListener::start(move |answer| state.command(Command::TakeAnswer(answer)));
    StoredValue::new_local(listener);
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
        <InviteNotice/>
        <Welcome/>
        <Calls/>
        <SectionNav shown=shown/>
        <main class="panels">
            <div class=area(Section::Connection) id=Section::Connection.area_id()>
                <ConnectionStatus seed_domain=settings.seed_domain.clone()/>
            </div>
            <div class=area(Section::Peers) id=Section::Peers.area_id()>
                <PeerList/>
                <MakeInvite/>
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

/// Acts on an invite or answer link the page was opened with, and takes the fragment off the
/// address so that a reload does not act on it again.
async fn open_link_fragment(state: AppState) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let hash = window.location().hash().unwrap_or_default();
    let (invite, answer) = (
        hash.strip_prefix(INVITE_FRAGMENT),
        hash.strip_prefix(ANSWER_FRAGMENT),
    );
    if invite.is_none() && answer.is_none() {
        return;
    }
    if let Ok(history) = window.history() {
        let bare = crate::components::share::page_address();
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&bare));
    }
    if let Some(offer) = invite {
        state.reply.set(ReplyView::Answering);
        state.command(Command::AnswerInvite(offer.to_owned()));
    } else if let Some(answer) = answer {
        state.handoff.set(HandoffView::Handing);
        let took = match Invite::decode(answer) {
            Ok(decoded) => handoff::hand_over(answer, &decoded.from).await,
            Err(_) => false,
        };
        state.handoff.set(if took {
            HandoffView::Taken
        } else {
            HandoffView::NotTaken(answer.to_owned())
        });
    }
}
