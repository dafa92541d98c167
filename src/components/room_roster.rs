use leptos::prelude::*;

use crate::state::AppState;

/// The most names of pages past our links listed.
const MAX_LISTED: usize = 50;

/// Who is in the room: how many pages said so by gossip, and the names of those this page has
/// no link with.
#[component]
pub fn RoomRoster() -> impl IntoView {
    let state = expect_context::<AppState>();
    let linked = move || state.connected_count();
    let in_room = move || state.room.with(|room| room.len());
    let unlinked = move || {
        let linked = state.linked_ids();
        state.room.with(|room| {
            room.iter()
                .filter(|(id, _)| !linked.contains(id))
                .map(|(id, name)| (id.to_string(), name.clone()))
                .collect::<Vec<_>>()
        })
    };
    let summary = move || {
        let pages = in_room().max(linked());
        format!(
            "{pages} other {} in the room; linked with {}",
            if pages == 1 { "page" } else { "pages" },
            linked()
        )
    };
    view! {
        <Show when=move || { in_room() > 0 }>
            <details class="room-roster" data-testid="room-roster">
                <summary>{summary}</summary>
                <p class="hint">"Pages past your links reach you through the mesh."</p>
                <ul>
                    {move || {
                        let unlinked = unlinked();
                        let more = unlinked.len().saturating_sub(MAX_LISTED);
                        let names = unlinked
                            .into_iter()
                            .take(MAX_LISTED)
                            .map(|(id, name)| view! { <li data-peer-id=id.clone() title=id>{name}</li> })
                            .collect_view();
                        view! {
                            {names}
                            {(more > 0).then(|| view! { <li class="more">{format!("and {more} more")}</li> })}
                        }
                    }}
                </ul>
            </details>
        </Show>
    }
}
