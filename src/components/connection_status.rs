use leptos::prelude::*;
use seedmesh_core::discovery::Source;

use crate::network::SignalingView;
use crate::state::{AppState, DiscoveryView};

/// How this page is connected: discovery, signaling and the mesh, with every failure in words.
#[component]
pub fn ConnectionStatus(
    /// The seed domain being looked up.
    seed_domain: String,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let mesh_size = move || {
        state.peers.with(|peers| {
            peers
                .values()
                .filter(|p| p.state == seedmesh_core::mesh::PeerState::Connected)
                .count()
        })
    };
    view! {
        <section class="panel" aria-labelledby="status-title">
            <h2 id="status-title">"Connection"</h2>
            <dl class="facts">
                <dt>"Seed domain"</dt>
                <dd data-testid="seed-domain">
                    {if seed_domain.is_empty() { "none".to_owned() } else { seed_domain }}
                </dd>
                <dt>"Discovery"</dt>
                <dd data-testid="discovery">{move || discovery_text(&state.discovery.get())}</dd>
                <dt>"Signaling"</dt>
                <dd data-testid="signaling">{move || signaling_text(&state.signaling.get())}</dd>
                <dt>"Rendezvous"</dt>
                <dd>
                    {move || match state.slot.get() {
                        Some(slot) => format!("holding slot {slot} for newcomers"),
                        None => "not holding a slot".to_owned(),
                    }}
                </dd>
                <dt>"Mesh"</dt>
                <dd data-testid="mesh-size">
                    {move || match mesh_size() {
                        1 => "connected to 1 peer".to_owned(),
                        n => format!("connected to {n} peers"),
                    }}
                </dd>
            </dl>
            <DiscoveryProblems/>
        </section>
    }
}

/// The problems found in the seed records and each resolver's failure.
#[component]
fn DiscoveryProblems() -> impl IntoView {
    let state = expect_context::<AppState>();
    let problems = move || match state.discovery.get() {
        DiscoveryView::Resolving | DiscoveryView::NoDomain => Vec::new(),
        DiscoveryView::Done { report, .. } => {
            let mut lines: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
            if let Some(error) = &report.error {
                lines.push(error.to_string());
            }
            lines
        }
    };
    view! {
        <Show when=move || !problems().is_empty()>
            <details class="problems">
                <summary>{move || format!("{} problem(s) with the seed records", problems().len())}</summary>
                <ul>
                    {move || problems().into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
                </ul>
            </details>
        </Show>
    }
}

fn discovery_text(view: &DiscoveryView) -> String {
    match view {
        DiscoveryView::Resolving => "looking up the seed records…".to_owned(),
        DiscoveryView::NoDomain => "no seed domain is set (see Settings): using the public PeerJS \
             server and STUN, and meeting visitors of this same page"
            .to_owned(),
        DiscoveryView::Done { report, fallback } => {
            let source = match report.source {
                Source::Network => format!(
                    "answered by {} in {} ms",
                    report.resolver.as_deref().unwrap_or("a resolver"),
                    report.elapsed.as_millis()
                ),
                Source::Cache => "from the cache".to_owned(),
                Source::LastKnownGood => {
                    "every resolver failed; using the last records that worked".to_owned()
                }
                Source::Snapshot => {
                    "every resolver failed; using the records built into the page".to_owned()
                }
                _ => "no records could be read".to_owned(),
            };
            let dnssec = if report.authenticated {
                ", DNSSEC validated"
            } else {
                ""
            };
            let fallback = if *fallback {
                ". The records name no PeerServer: using the public PeerJS server and STUN"
            } else {
                ""
            };
            format!("{source}{dnssec}{fallback}")
        }
    }
}

fn signaling_text(view: &SignalingView) -> String {
    match view {
        SignalingView::Waiting => "waiting for discovery".to_owned(),
        SignalingView::Connecting { server } => format!("registering on {server}…"),
        SignalingView::Registered { server, id } => format!("registered as {id} on {server}"),
        SignalingView::Reconnecting { server, reason } => {
            format!("lost {server} ({reason}); reconnecting. Open connections carry on.")
        }
        SignalingView::Failed { server, reason } => {
            format!("cannot register on {server}: {reason}")
        }
    }
}
