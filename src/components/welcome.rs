use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use crate::network::SignalingView;
use crate::state::AppState;

/// What to do next while nobody else is here: this page's address to share, and what happens
/// when someone opens it. Gone once a peer is connected.
#[component]
pub fn Welcome() -> impl IntoView {
    let state = expect_context::<AppState>();
    let alone = move || state.connected_count() == 0;
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
                <ShareAddress/>
            </section>
        </Show>
    }
}

/// This page's address, and a button that copies it.
#[component]
fn ShareAddress() -> impl IntoView {
    let address = page_address();
    let copied = RwSignal::new(None::<&'static str>);
    let copy = {
        let address = address.clone();
        move |_| {
            let address = address.clone();
            leptos::task::spawn_local(async move {
                copied.set(Some(if copy_text(&address).await {
                    "Copied."
                } else {
                    "Select the address and copy it."
                }));
            });
        }
    };
    view! {
        <div class="share">
            <label class="visually-hidden" for="page-address">"This page's address"</label>
            <input id="page-address" type="text" readonly data-testid="page-address"
                prop:value=address on:focus=|ev| select_all(&ev)/>
            <button type="button" on:click=copy>"Copy address"</button>
            <span class="share-status" role="status">{move || copied.get()}</span>
        </div>
    }
}

/// The page's address without its fragment: what someone else opens to meet this page.
fn page_address() -> String {
    web_sys::window()
        .map(|w| w.location())
        .and_then(|l| {
            Some(format!(
                "{}{}{}",
                l.origin().ok()?,
                l.pathname().ok()?,
                l.search().ok()?
            ))
        })
        .unwrap_or_default()
}

fn select_all(event: &leptos::ev::FocusEvent) {
    if let Some(input) = event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
    {
        input.select();
    }
}

/// Writes `text` to the clipboard; false where the browser has no clipboard or refuses.
async fn copy_text(text: &str) -> bool {
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
        return false;
    };
    let clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into()).unwrap_or_default();
    let write = js_sys::Reflect::get(&clipboard, &"writeText".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    let Some(write) = write else {
        return false;
    };
    match write.call1(&clipboard, &JsValue::from_str(text)) {
        Ok(promise) => match promise.dyn_into::<js_sys::Promise>() {
            Ok(promise) => wasm_bindgen_futures::JsFuture::from(promise).await.is_ok(),
            Err(_) => false,
        },
        Err(_) => false,
    }
}
