//! Text for a person to pass on: a read-only field that selects itself, and a Copy button.

use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

/// `text` in a read-only field labelled `label`, with a button that copies it.
#[component]
pub fn CopyField(
    /// What the text is, for screen readers.
    label: &'static str,
    /// The field's element ID (tests find it by its `data-testid`, the same).
    id: &'static str,
    /// The button's text.
    button: &'static str,
    /// The text to pass on.
    #[prop(into)]
    text: Signal<String>,
) -> impl IntoView {
    let copied = RwSignal::new(None::<&'static str>);
    let copy = move |_| {
        let text = text.get_untracked();
        leptos::task::spawn_local(async move {
            copied.set(Some(if copy_text(&text).await {
                "Copied."
            } else {
                "Select the text and copy it."
            }));
        });
    };
    view! {
        <div class="share">
            <label class="visually-hidden" for=id>{label}</label>
            <input id=id type="text" readonly data-testid=id prop:value=move || text.get()
                on:focus=|ev| select_all(&ev)/>
            <button type="button" on:click=copy>{button}</button>
            <span class="share-status" role="status">{move || copied.get()}</span>
        </div>
    }
}

/// The page's address without its fragment: what someone else opens to meet this page.
#[must_use]
pub fn page_address() -> String {
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
