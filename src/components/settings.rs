use leptos::ev::SubmitEvent;
use leptos::prelude::*;

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
            <details class="diagnostics">
                <summary>"Raw seed records"</summary>
                <pre data-testid="raw-records">{move || records().join("\n")}</pre>
            </details>
        </section>
    }
}
