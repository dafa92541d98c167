use leptos::prelude::*;

/// The room's messages.
#[component]
pub fn Messaging() -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="messages-title">
            <h2 id="messages-title">"Messages"</h2>
            <p class="empty">"No messages yet."</p>
        </section>
    }
}
