use leptos::prelude::*;

/// The peers this page knows of.
#[component]
pub fn PeerList() -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="peers-title">
            <h2 id="peers-title">"Peers"</h2>
            <p class="empty">"No peers yet."</p>
        </section>
    }
}
