use leptos::prelude::*;

use crate::components::share::{CopyField, page_address};

use crate::network::SignalingView;
use crate::state::{AppState, HandoffView, ReplyView};

/// What to do next while nobody else is here: this page's address to share, and what happens
/// when someone opens it. Gone once a peer is connected, and while a lost link forms again.
#[component]
pub fn Welcome() -> impl IntoView {
    let state = expect_context::<AppState>();
    // A page opened with an invite or an answer shows what to do with that instead; a peer
    // whose link is forming again is still here.
    let alone = move || {
        state.met_count() == 0
            && state.reply.get() == ReplyView::None
            && state.handoff.get() == HandoffView::None
    };
    let standing = move || {
        let name = state.name.get();
        match state.signaling.get() {
            SignalingView::Registered { .. } => format!("You are online as {name}."),
            SignalingView::Waiting | SignalingView::Connecting { .. } => {
                format!("Joining the network as {name}…")
            }
            SignalingView::Reconnecting { .. } => format!(
                "You are {name}; this page cannot reach its signaling server right now and \
                 keeps trying (see Connection)."
            ),
            SignalingView::Failed { .. } => format!(
                "You are {name}; this page cannot register on a signaling server (see \
                 Connection)."
            ),
        }
    };
    view! {
        <Show when=move || alone() && state.identity.with(Option::is_some)>
            <section class="welcome" aria-labelledby="welcome-title" data-testid="welcome">
                <h2 id="welcome-title">"Nobody else is here yet"</h2>
                <p>
                    {standing}
                    " To meet someone, share this page's address: whoever opens it, on another \
                     device or in another tab, shows up under Peers within seconds."
                </p>
                <CopyField label="This page's address" id="page-address" button="Copy address"
                    text=Signal::derive(page_address)/>
                <p>
                    "With no signaling server, an invite link (under Peers) still connects: a \
                     person carries the link there and its answer back."
                </p>
            </section>
        </Show>
    }
}
