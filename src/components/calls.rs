use leptos::html::Video;
use leptos::prelude::*;
use seedmesh_core::call::{CallState, CallView, Direction};

use crate::network::Command;
use crate::state::AppState;

/// The page's calls: one ringing to answer or decline, the one in progress with its media and
/// controls, and the last few that ended, with why. Nothing while there are none.
#[component]
pub fn Calls() -> impl IntoView {
    let state = expect_context::<AppState>();
    let shown = move || {
        state.calls.with(|calls| !calls.is_empty()) || state.call_error.with(Option::is_some)
    };
    // A call ringing here shows in the tab's title, where a person in another tab sees it.
    let ringing = Memo::new(move |_| {
        state.calls.with(|calls| {
            calls
                .iter()
                .any(|c| c.direction == Direction::Incoming && c.state == CallState::Ringing)
        })
    });
    let original_title = web_sys::window()
        .and_then(|w| w.document())
        .map(|d| d.title())
        .unwrap_or_default();
    Effect::new(move |_| {
        let title = if ringing.get() {
            format!("Incoming call · {original_title}")
        } else {
            original_title.clone()
        };
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            document.set_title(&title);
        }
    });
    view! {
        <Show when=shown>
            <section class="panel calls" aria-labelledby="calls-title" data-testid="calls">
                <h2 id="calls-title">"Calls"</h2>
                <ul class="call-list">
                    <For
                        each=move || state.calls.with(|calls| calls.iter().map(|c| c.id.clone()).collect::<Vec<_>>())
                        key=|id| id.clone()
                        let:id
                    >
                        <CallItem id=id/>
                    </For>
                </ul>
                <Show when=move || state.call_error.with(Option::is_some)>
                    <p class="error" role="alert" data-testid="call-error">{move || state.call_error.get()}</p>
                </Show>
            </section>
        </Show>
    }
}

/// One call: who, where it stands, its media, and what can be done with it. The media is
/// made once a call has it and kept while it lasts: mute, camera and other calls ringing do
/// not make it again.
#[component]
fn CallItem(
    /// The call's ID.
    id: String,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let call = {
        let id = id.clone();
        Memo::new(move |_| {
            state
                .calls
                .with(|calls| calls.iter().find(|c| c.id == id).cloned())
        })
    };
    let Some(first) = call.get_untracked() else {
        return ().into_any();
    };
    // Untracked: a peer's path and round trip change every few seconds.
    let who = state.peers.with_untracked(|peers| {
        peers
            .get(&first.peer)
            .and_then(|row| row.name.clone())
            .unwrap_or_else(|| first.peer.to_string())
    });
    let slug = Memo::new(move |_| call.with(|c| c.as_ref().map_or("ended", |c| slug_of(&c.state))));
    let with_media = Memo::new(move |_| {
        call.with(|c| {
            c.as_ref().is_some_and(|c| match c.state {
                CallState::Connecting | CallState::Active => true,
                CallState::Ringing => c.direction == Direction::Outgoing,
                CallState::Ended(_) => false,
            })
        })
    });
    // Links prove who is at the other end; a call's connection proves nothing.
    let ringing_here = Memo::new(move |_| {
        call.with(|c| {
            c.as_ref().is_some_and(|c| {
                c.direction == Direction::Incoming && c.state == CallState::Ringing
            })
        })
    });
    let text = move || call.with(|c| c.as_ref().map(|c| status(c, &who)));
    let controls = move || call.get().map(|call| view! { <CallControls call=call/> });
    let media_id = id.clone();
    view! {
        <li class=move || format!("call call-{}", slug.get()) data-call-id=id data-state=move || slug.get()>
            <p class="call-status" data-testid="call-status">{text}</p>
            <Show when=move || ringing_here.get()>
                <p class="call-note">
                    "The caller's ID is what the signaling said; nothing proves it."
                </p>
            </Show>
            <Show when=move || with_media.get()>
                <CallMedia id=media_id.clone() video=first.video/>
            </Show>
            {controls}
        </li>
    }
    .into_any()
}

/// A call's state as the page's markup names it.
fn slug_of(state: &CallState) -> &'static str {
    match state {
        CallState::Ringing => "ringing",
        CallState::Connecting => "connecting",
        CallState::Active => "active",
        CallState::Ended(_) => "ended",
    }
}

/// What a call's line says.
fn status(call: &CallView, who: &str) -> String {
    let kind = if call.video { "video" } else { "audio" };
    match (&call.state, call.direction) {
        (CallState::Ringing, Direction::Incoming) => format!("{who} is calling you ({kind})"),
        (CallState::Ringing, Direction::Outgoing) => format!("Calling {who} ({kind})…"),
        (CallState::Connecting, _) => format!("Connecting the call with {who}…"),
        (CallState::Active, _) => format!("In a {kind} call with {who}"),
        (CallState::Ended(reason), _) => format!("The call with {who} ended: {reason}."),
    }
}

/// The buttons for a call: answer and decline while it rings for us; hang up, mute and camera
/// while it lasts; dismiss once it ended.
#[component]
fn CallControls(call: CallView) -> impl IntoView {
    let state = expect_context::<AppState>();
    let id = call.id.clone();
    let command = move |command: Command| state.command(command);
    match (&call.state, call.direction) {
        (CallState::Ended(_), _) => {
            let dismiss = move |_| state.dismiss_call(&id);
            view! {
                <div class="call-controls">
                    <button type="button" on:click=dismiss>"Dismiss"</button>
                </div>
            }
            .into_any()
        }
        (CallState::Ringing, Direction::Incoming) => {
            let (answer, decline) = (id.clone(), id);
            view! {
                <div class="call-controls">
                    <button type="button" class="answer" on:click=move |_| command(Command::AnswerCall(answer.clone()))>
                        "Answer"
                    </button>
                    <button type="button" class="hang-up" on:click=move |_| command(Command::HangUp(decline.clone()))>
                        "Decline"
                    </button>
                </div>
            }
            .into_any()
        }
        _ => {
            let (hang_up, mute, camera) = (id.clone(), id.clone(), id);
            let muted = call.muted;
            let camera_off = call.camera_off;
            view! {
                <div class="call-controls">
                    <button
                        type="button"
                        aria-pressed=muted.to_string()
                        on:click=move |_| command(Command::Mute { id: mute.clone(), muted: !muted })
                    >
                        {if muted { "Unmute" } else { "Mute" }}
                    </button>
                    {call.video.then(|| view! {
                        <button
                            type="button"
                            aria-pressed=camera_off.to_string()
                            on:click=move |_| command(Command::CameraOff { id: camera.clone(), off: !camera_off })
                        >
                            {if camera_off { "Camera on" } else { "Camera off" }}
                        </button>
                    })}
                    <button type="button" class="hang-up" on:click=move |_| command(Command::HangUp(hang_up.clone()))>
                        "Hang up"
                    </button>
                </div>
            }
            .into_any()
        }
    }
}

/// A call's media: theirs large, ours small and silent.
#[component]
fn CallMedia(
    /// The call's ID.
    id: String,
    /// Whether it is a video call (an audio call shows no pictures, but still plays).
    video: bool,
) -> impl IntoView {
    view! {
        <div class=if video { "call-media video" } else { "call-media audio" }>
            <MediaElement id=id.clone() remote=true/>
            <MediaElement id=id remote=false/>
        </div>
    }
}

/// A `<video>` playing one side of a call.
#[component]
fn MediaElement(
    /// The call's ID.
    id: String,
    /// Theirs (played aloud) rather than ours (a silent preview).
    remote: bool,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let element = NodeRef::<Video>::new();
    Effect::new(move |_| {
        let stream = state.call_media.with(|media| {
            media.get(&id).and_then(|m| {
                if remote {
                    m.remote.clone()
                } else {
                    m.local.clone()
                }
            })
        });
        // Setting the same stream again would restart it.
        if let Some(element) = element.get() {
            let current = element.src_object();
            let same = current.as_ref().map(AsRef::<wasm_bindgen::JsValue>::as_ref)
                == stream.as_ref().map(AsRef::<wasm_bindgen::JsValue>::as_ref);
            if !same {
                element.set_src_object(stream.as_ref());
            }
        }
    });
    let (class, label, testid) = if remote {
        ("remote-media", "Their camera", "remote-media")
    } else {
        ("local-media", "Your camera", "local-media")
    };
    view! {
        <video
            node_ref=element
            class=class
            aria-label=label
            data-testid=testid
            autoplay=true
            playsinline=true
            prop:muted=!remote
        ></video>
    }
}
