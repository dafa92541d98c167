use leptos::prelude::*;
use seedmesh_core::mesh::{FoundBy, PeerState};
use seedmesh_core::proof::{is_key_id, short_fingerprint};

use super::mesh_picture::MeshPicture;
use super::room_roster::RoomRoster;
use crate::network::Command;
use crate::state::{AppState, PeerRow};

/// The peers this page knows of.
#[component]
pub fn PeerList() -> impl IntoView {
    let state = expect_context::<AppState>();
    let rows = move || {
        state
            .peers
            .with(|peers| peers.values().cloned().collect::<Vec<_>>())
    };
    view! {
        <section class="panel" aria-labelledby="peers-title">
            <h2 id="peers-title">"Peers"</h2>
            <Warnings/>
            <MeshPicture/>
            <RoomRoster/>
            <Show
                when=move || state.peers.with(|p| !p.is_empty())
                fallback=|| view! { <p class="empty">"No peers yet. Open this page somewhere else to meet it."</p> }
            >
                <ul class="peer-list" data-testid="peer-list">
                    <For each=rows key=|row| format!("{row:?}") let:row>
                        <PeerItem row=row/>
                    </For>
                </ul>
            </Show>
        </section>
    }
}

/// Peers refused for breaking the protocol.
#[component]
fn Warnings() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <Show when=move || state.warnings.with(|w| !w.is_empty())>
            <ul class="warnings" role="status" data-testid="warnings">
                <For each=move || state.warnings.get() key=|w| w.clone() let:warning>
                    <li>{warning}</li>
                </For>
            </ul>
        </Show>
    }
}

/// One peer: name, ID, state, round trip, path and how it was found, and calls to it.
#[component]
fn PeerItem(row: PeerRow) -> impl IntoView {
    let state = expect_context::<AppState>();
    let calls = (row.state == PeerState::Connected).then(|| {
        let (video, audio) = (row.id.clone(), row.id.clone());
        view! {
            <span class="peer-actions">
                <button type="button" on:click=move |_| state.command(Command::Call { peer: video.clone(), video: true })>
                    "Video call"
                </button>
                <button type="button" on:click=move |_| state.command(Command::Call { peer: audio.clone(), video: false })>
                    "Audio call"
                </button>
            </span>
        }
    });
    let (state_class, state_text) = match &row.state {
        PeerState::Connecting => ("connecting", "connecting…".to_owned()),
        PeerState::Connected => ("connected", "connected".to_owned()),
        PeerState::Failed(reason) => ("failed", format!("failed: {reason}")),
        PeerState::Reconnecting(reason) => (
            "reconnecting",
            format!("link lost: {reason}; connecting again…"),
        ),
    };
    let found = match row.found_by {
        FoundBy::Dns => "named in DNS",
        FoundBy::Rendezvous => "rendezvous",
        FoundBy::Exchange => "via a peer",
        FoundBy::Incoming => "it called us",
        FoundBy::Invite => "by invite",
    };
    let rtt = row
        .rtt
        .map(|rtt| format!("{} ms", super::tenths(rtt.as_micros() as u64, 1000)));
    // A connected seedmesh peer went through the hello check: its ID is its key's, proven on
    // this very connection. A PeerJS client proves nothing, whatever its ID looks like.
    let verified =
        (row.state == PeerState::Connected && row.peerjs_client.is_none() && is_key_id(&row.id))
            .then(|| short_fingerprint(&row.id));
    let client = row.peerjs_client.map(|serialization| {
        format!(
            "A plain PeerJS client ({} serialization): its ID is what its server said, unproven",
            serialization.as_str()
        )
    });
    let lookalike = row.same_name_as.as_ref().map(|other| {
        format!(
            "Another key ({}) went by this name before: this may not be who you think.",
            short_fingerprint(other)
        )
    });
    view! {
        <li class="peer" data-peer-id=row.id.to_string() data-state=state_class>
            <span class="peer-name">{row.name.clone().unwrap_or_else(|| row.id.to_string())}</span>
            <span class="peer-id">{row.id.to_string()}</span>
            <span class=format!("badge {state_class}")>{state_text}</span>
            {verified.map(|key| view! {
                <span class="verified" title="Its ID is made from its key, and it proved the key on this connection">
                    "✓ verified · key " <span class="key" data-testid="peer-key">{key}</span>
                </span>
            })}
            {client.map(|title| view! {
                <span class="peerjs-client" title=title data-testid="peerjs-client">
                    "PeerJS client (unverified)"
                </span>
            })}
            {lookalike.map(|text| view! { <span class="lookalike" role="note" data-testid="lookalike">{text}</span> })}
            <span class="peer-meta">
                {found}
                {row.through_mesh.then_some(" · signaled through the mesh")}
                {row.path.map(|path| view! {
                    " · " <span class="peer-path" data-testid="peer-path">{path.to_string()}</span>
                })}
                {rtt.map(|r| format!(" · {r}"))}
            </span>
            {calls}
        </li>
    }
}
