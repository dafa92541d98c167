//! Invites: a link (and its QR code) that a person carries to another page, and the answer
//! that page gives back. They need no DNS and no signaling server.

use leptos::prelude::*;
use seedmesh_core::mesh::{FoundBy, PeerState};

use seedmesh_core::invite::{ANSWER_FRAGMENT, INVITE_FRAGMENT, pasted_text};

use crate::components::share::{CopyField, page_address};
use crate::network::Command;
use crate::state::{AppState, HandoffView, InviteView, ReplyView};

/// This page's address with `fragment` and `text`: a link that opens the page with them.
fn link(fragment: &str, text: &str) -> String {
    format!("{}{fragment}{text}", page_address())
}

/// A QR code of `text`, drawn by the core as SVG; nothing if the text is too long for one.
#[component]
fn QrCode(
    /// What the code holds.
    #[prop(into)]
    text: Signal<String>,
    /// What it is, for screen readers.
    label: &'static str,
) -> impl IntoView {
    let svg = move || seedmesh_core::qr::svg(&text.get()).unwrap_or_default();
    view! { <div class="qr" role="img" aria-label=label data-testid="qr" inner_html=svg></div> }
}

/// Makes an invite link, shows it with its QR code, and takes the answer that comes back.
#[component]
pub fn MakeInvite() -> impl IntoView {
    let state = expect_context::<AppState>();
    let make = move |_| {
        state.invite.set(InviteView::Making);
        state.command(Command::MakeInvite);
    };
    let answer = RwSignal::new(String::new());
    let take = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = pasted_text(&answer.get_untracked()).to_owned();
        if !text.is_empty() {
            state.command(Command::TakeAnswer(text));
            answer.set(String::new());
        }
    };
    let open_text = move || match state.invite.get() {
        InviteView::Open(text) | InviteView::Refused { text, .. } => Some(text),
        _ => None,
    };
    let invite_link = Signal::derive(move || {
        open_text()
            .map(|text| link(INVITE_FRAGMENT, &text))
            .unwrap_or_default()
    });
    let status = move || match state.invite.get() {
        InviteView::None | InviteView::Open(_) => None,
        InviteView::Making => Some("Gathering this page's addresses for the invite…".to_owned()),
        InviteView::Refused { reason, .. } => Some(format!("That answer did not work: {reason}.")),
        InviteView::Answered(peer) => Some(
            match state
                .peers
                .with(|peers| peers.get(&peer).map(|p| (p.state.clone(), p.name.clone())))
            {
                Some((PeerState::Connected, name)) => format!(
                    "Linked with {} by invite.",
                    name.unwrap_or_else(|| peer.to_string())
                ),
                _ => format!("{peer} answered: connecting. It shows under Peers once linked."),
            },
        ),
        InviteView::Failed(reason) => Some(format!("No invite: {reason}.")),
    };
    view! {
        <section class="panel invite" aria-labelledby="invite-title" data-testid="invite">
            <h2 id="invite-title">"Invite by link"</h2>
            <p class="hint">
                "Works with no server at all: send the link to one person (or let them scan the \
                 code); their page gives them an answer to send back to you within a minute or \
                 so."
            </p>
            <Show
                when=move || open_text().is_some()
                fallback=move || view! {
                    <button type="button" on:click=make
                        disabled=move || state.invite.get() == InviteView::Making>
                        "Make an invite link"
                    </button>
                }
            >
                <CopyField label="Invite link" id="invite-link" button="Copy link"
                    text=invite_link/>
                <QrCode text=invite_link label="QR code of the invite link"/>
                <form class="answer-form" on:submit=take>
                    <label for="invite-answer">"Their answer (the link or its text)"</label>
                    <input id="invite-answer" type="text" autocomplete="off"
                        bind:value=answer/>
                    <button type="submit">"Connect"</button>
                </form>
                <button type="button" class="secondary" on:click=make>"Make a new invite"</button>
            </Show>
            <p class="invite-status" role="status" data-testid="invite-status">{status}</p>
        </section>
    }
}

/// For a page opened with an invite link: the answer to send back. For one opened with an
/// answer link: where the answer went.
#[component]
pub fn InviteNotice() -> impl IntoView {
    let state = expect_context::<AppState>();
    let linked_by_invite = move || {
        state.peers.with(|peers| {
            peers
                .values()
                .any(|p| p.found_by == FoundBy::Invite && p.state == PeerState::Connected)
        })
    };
    let answer_link = Signal::derive(move || match state.reply.get() {
        ReplyView::Ready(text) => link(ANSWER_FRAGMENT, &text),
        _ => String::new(),
    });
    let reply = move || match state.reply.get() {
        ReplyView::None => None,
        ReplyView::Answering => Some(view! { <p>"Making your answer…"</p> }.into_any()),
        ReplyView::Failed(reason) => Some(
            view! { <p class="error">"This invite cannot be answered: " {reason} "."</p> }
                .into_any(),
        ),
        ReplyView::Ready(_) if linked_by_invite() => {
            Some(view! { <p>"Connected: the page that invited you is under Peers."</p> }.into_any())
        }
        ReplyView::Ready(_) => Some(
            view! {
                <p>
                    "Send this answer back to whoever invited you. Opened in the browser that \
                     made the invite, the link connects you at once; or they scan the code, or \
                     paste it into their page."
                </p>
                <CopyField label="Answer link" id="answer-link" button="Copy answer"
                    text=answer_link/>
                <QrCode text=answer_link label="QR code of the answer link"/>
            }
            .into_any(),
        ),
    };
    let handoff = move || match state.handoff.get() {
        HandoffView::None => None,
        HandoffView::Handing => {
            Some(view! { <p>"Handing the answer to your inviting tab…"</p> }.into_any())
        }
        HandoffView::Taken => Some(
            view! {
                <p>
                    "The answer went to the tab in this browser that made the invite: it is \
                     connecting there. You can close this tab."
                </p>
            }
            .into_any(),
        ),
        HandoffView::NotTaken(text) => Some(
            view! {
                <p class="error">
                    "No tab in this browser holds the invite this answers. Paste it into the \
                     page that made the invite:"
                </p>
                <CopyField label="Answer" id="answer-text" button="Copy answer"
                    text=Signal::derive(move || text.clone())/>
            }
            .into_any(),
        ),
    };
    view! {
        <Show when=move || state.reply.get() != ReplyView::None
            || state.handoff.get() != HandoffView::None>
            <section class="invite-notice" aria-labelledby="invite-notice-title"
                data-testid="invite-notice">
                <h2 id="invite-notice-title">
                    {move || if state.reply.get() == ReplyView::None {
                        "An answer to an invite"
                    } else {
                        "You were invited"
                    }}
                </h2>
                {reply}
                {handoff}
            </section>
        </Show>
    }
}
