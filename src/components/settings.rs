use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use seedmesh_core::proof::{PeerKey, short_fingerprint};

use crate::components::share::CopyField;
use crate::config::{Settings, split_list};
use crate::state::{AppState, DiscoveryView};

/// The seed domain, DoH resolvers and display name, and the raw records for diagnosis.
#[component]
pub fn SettingsPanel(
    /// The settings in effect.
    settings: Settings,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let domain = RwSignal::new(settings.seed_domain.clone());
    let resolvers = RwSignal::new(settings.resolvers.join("\n"));
    // What is typed in the name field; until then, the name in effect.
    let typed_name = RwSignal::new(None::<String>);
    let name = move || typed_name.get().unwrap_or_else(|| state.name.get());
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let new_name = typed_name
            .get_untracked()
            .unwrap_or_else(|| state.name.get_untracked());
        if new_name != state.name.get_untracked() {
            state.rename(new_name);
        }
        let updated = Settings {
            seed_domain: domain.get_untracked().trim().to_owned(),
            resolvers: split_list(&resolvers.get_untracked()),
        };
        if updated != settings {
            updated.save();
            // Discovery runs once per page: load the page again with the new settings.
            if let Some(window) = web_sys::window() {
                let _ = window.location().reload();
            }
        }
    };
    let records = move || match state.discovery.get() {
        DiscoveryView::Done { report, .. } => report
            .records
            .iter()
            .map(|r| {
                r.strings
                    .iter()
                    .map(|s| format!("\"{}\"", String::from_utf8_lossy(s)))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>(),
        DiscoveryView::Resolving | DiscoveryView::NoDomain => Vec::new(),
    };
    view! {
        <section class="panel" aria-labelledby="settings-title">
            <h2 id="settings-title">"Settings"</h2>
            <form class="settings" on:submit=on_submit>
                <label for="display-name">"Your name"</label>
                <input id="display-name" type="text" maxlength="40" prop:value=name
                    on:input=move |ev| typed_name.set(Some(event_target_value(&ev)))/>
                <label for="seed-domain">"Seed domain"</label>
                <input id="seed-domain" type="text" prop:value=move || domain.get()
                    on:input=move |ev| domain.set(event_target_value(&ev))/>
                <label for="resolvers">"DNS-over-HTTPS resolvers, one per line"</label>
                <textarea id="resolvers" rows="3" prop:value=move || resolvers.get()
                    on:input=move |ev| resolvers.set(event_target_value(&ev))></textarea>
                <button type="submit">"Save"</button>
            </form>
            <KeySettings/>
            <details class="diagnostics">
                <summary>"Raw seed records"</summary>
                <pre data-testid="raw-records">{move || records().join("\n")}</pre>
            </details>
        </section>
    }
}

/// This page's key: its fingerprint, and export and import.
#[component]
fn KeySettings() -> impl IntoView {
    let state = expect_context::<AppState>();
    let fingerprint = move || {
        state.identity.with(|identity| {
            identity
                .as_ref()
                .map(|i| short_fingerprint(&i.id))
                .unwrap_or_default()
        })
    };
    let key_text = Signal::derive(move || {
        state.identity.with(|identity| {
            identity
                .as_ref()
                .map(|i| i.key.to_text())
                .unwrap_or_default()
        })
    });
    let pasted = RwSignal::new(String::new());
    let import_error = RwSignal::new(None::<String>);
    let on_import = move |event: SubmitEvent| {
        event.prevent_default();
        match PeerKey::from_text(&pasted.get_untracked()) {
            Ok(key) => {
                import_error.set(None);
                let name = state.name.get_untracked();
                leptos::task::spawn_local(crate::identity::adopt(key, name));
            }
            Err(error) => import_error.set(Some(error.to_string())),
        }
    };
    view! {
        <details class="key-settings">
            <summary>"Your key · " <span class="key" data-testid="own-key">{fingerprint}</span></summary>
            <p class="hint">
                "Your peer ID is made from your key, and every peer checks it on every \
                 connection. To be the same peer in another browser, copy the key there. \
                 Anyone who has it can go by your ID: keep it secret."
            </p>
            <CopyField label="Your secret key" id="key-export" button="Copy key" text=key_text/>
            <form class="key-import" on:submit=on_import>
                <label for="key-import">"Use a key from another browser"</label>
                <input id="key-import" type="password" autocomplete="off" spellcheck="false"
                    placeholder="seedmesh-key-v1:…"
                    prop:value=move || pasted.get()
                    on:input=move |ev| pasted.set(event_target_value(&ev))/>
                <button type="submit">"Use this key"</button>
            </form>
            <Show when=move || import_error.with(Option::is_some)>
                <p class="error" role="alert" data-testid="key-import-error">{move || import_error.get()}</p>
            </Show>
        </details>
    }
}
