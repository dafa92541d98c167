use leptos::prelude::*;

/// How this page is connected: discovery, signaling and the mesh.
#[component]
pub fn ConnectionStatus() -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="status-title">
            <h2 id="status-title">"Connection"</h2>
            <p class="status" data-testid="status">"Not connected yet."</p>
        </section>
    }
}
