use leptos::prelude::*;
use seedmesh_core::discovery::{AttemptOutcome, Source};

use seedmesh_core::endpoint::SignalingCounts;

use crate::network::{ServerState, SignalingView};
use crate::state::{AppState, DiscoveryView};

/// How this page is connected: discovery, signaling and the mesh, with every failure in words.
#[component]
pub fn ConnectionStatus(
    /// The seed domain being looked up.
    seed_domain: String,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <section class="panel" aria-labelledby="status-title">
            <h2 id="status-title">"Connection"</h2>
            <dl class="facts">
                <dt>"Seed domain"</dt>
                <dd data-testid="seed-domain">
                    {if seed_domain.is_empty() { "none".to_owned() } else { seed_domain.clone() }}
                </dd>
                <dt>"Discovery"</dt>
                <dd data-testid="discovery">
                    {move || discovery_text(&state.discovery.get(), &seed_domain)}
                </dd>
                <dt>"Signaling"</dt>
                <dd data-testid="signaling">{move || signaling_text(&state.signaling.get())}</dd>
                <Show when=move || state.servers.with(|s| s.len() > 1)>
                    <dt>"Servers"</dt>
                    <dd>
                        <ul class="servers" data-testid="servers">
                            {move || state.servers.get().into_iter().map(|server| view! {
                                <li data-state=server_state_slug(&server.state)>
                                    {format!("{}: {}", server.name, server_state_text(&server.state))}
                                </li>
                            }).collect_view()}
                        </ul>
                    </dd>
                </Show>
                <dt>"Rendezvous"</dt>
                <dd>
                    {move || {
                        let registered =
                            matches!(state.signaling.get(), SignalingView::Registered { .. });
                        match state.slot.get() {
                            Some(slot) if registered => {
                                format!("holding slot {slot} for newcomers")
                            }
                            // The slot lives on the PeerServer: while it cannot be reached,
                            // newcomers cannot find this page there.
                            Some(slot) => format!(
                                "holding slot {slot}, but newcomers cannot reach it until the \
                                 signaling server is back"
                            ),
                            None => "not holding a slot".to_owned(),
                        }
                    }}
                </dd>
                <dt>"Mesh signaling"</dt>
                <dd data-testid="mesh-signaling">
                    {move || {
                        let view = state.mesh_signaling.get();
                        if view == SignalingCounts::default() {
                            "none yet: new links are signaled through the mesh when a \
                             connected peer knows the other page"
                                .to_owned()
                        } else {
                            format!(
                                "{} sent, {} received, {} passed on for others, {} refused",
                                view.sent, view.received, view.relayed, view.dropped
                            )
                        }
                    }}
                </dd>
                <dt>"Mesh"</dt>
                <dd data-testid="mesh-size">
                    {move || match state.connected_count() {
                        1 => "connected to 1 peer".to_owned(),
                        n => format!("connected to {n} peers"),
                    }}
                </dd>
            </dl>
            <DiscoveryProblems/>
        </section>
    }
}

/// The problems found in the seed records, and each resolver's failure.
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
            for attempt in &report.attempts {
                match &attempt.outcome {
                    AttemptOutcome::Failed(error) => {
                        lines.push(format!("{}: {error}", attempt.resolver));
                    }
                    AttemptOutcome::TimedOut => {
                        lines.push(format!("{}: no answer in time", attempt.resolver));
                    }
                    _ => {}
                }
            }
            lines
        }
    };
    view! {
        <Show when=move || !problems().is_empty()>
            <details class="problems">
                <summary>{move || format!("{} problem(s) with discovery", problems().len())}</summary>
                <ul>
                    {move || problems().into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
                </ul>
            </details>
        </Show>
    }
}

/// Where the page's network description came from, in one plain sentence; when nothing could
/// be read, which resolvers failed and what the page does instead.
fn discovery_text(view: &DiscoveryView, seed_domain: &str) -> String {
    const INSTEAD: &str = "uses the public PeerJS server and STUN, and meets visitors of this \
                           same page";
    match view {
        DiscoveryView::Resolving => "looking up the seed records…".to_owned(),
        DiscoveryView::NoDomain => {
            format!("No seed domain is set (see Settings), so this page {INSTEAD}.")
        }
        DiscoveryView::Done { report, fallback } => {
            let failures = report.resolver_failures();
            let source = match report.source {
                Source::Network => format!(
                    "answered by {} in {} ms",
                    report.resolver.as_deref().unwrap_or("a resolver"),
                    report.elapsed.as_millis()
                ),
                Source::Cache => "from the cache".to_owned(),
                Source::LastKnownGood => format!(
                    "{}, so this page uses the last records that worked",
                    failures.as_deref().unwrap_or("every resolver failed")
                ),
                Source::Snapshot => format!(
                    "{}, so this page uses the records built into it",
                    failures.as_deref().unwrap_or("every resolver failed")
                ),
                _ => {
                    let why = failures
                        .or_else(|| report.error.as_ref().map(ToString::to_string))
                        .unwrap_or_else(|| "no resolver answered".to_owned());
                    return format!(
                        "Could not read the seed records of {seed_domain}: {why}. This page \
                         {INSTEAD} instead."
                    );
                }
            };
            let dnssec = if report.authenticated {
                ", DNSSEC validated"
            } else {
                ""
            };
            let fallback = if *fallback {
                format!(". The records name no PeerServer, so this page {INSTEAD}")
            } else {
                String::new()
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
            format!("cannot reach {server} ({reason}); trying again. Open connections carry on.")
        }
        SignalingView::Failed { server, reason } => {
            format!("cannot register on {server}: {reason}")
        }
    }
}

fn server_state_slug(state: &ServerState) -> &'static str {
    match state {
        ServerState::Standby => "standby",
        ServerState::InUse => "in-use",
        ServerState::Unreachable(_) => "unreachable",
    }
}

fn server_state_text(state: &ServerState) -> String {
    match state {
        ServerState::Standby => "standing by".to_owned(),
        ServerState::InUse => "in use".to_owned(),
        ServerState::Unreachable(reason) => format!("unreachable ({reason})"),
    }
}
