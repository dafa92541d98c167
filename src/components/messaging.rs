use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use seedmesh_core::PeerId;
use seedmesh_core::mesh::PeerState;

use crate::network::Command;
use crate::state::{AppState, ChatLine};

/// The room chat and direct messages: the history and a composer.
#[component]
pub fn Messaging() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <section class="panel messaging" aria-labelledby="messages-title">
            <h2 id="messages-title">"Messages"</h2>
            <Show
                when=move || state.messages.with(|m| !m.is_empty())
                fallback=|| view! { <p class="empty">"No messages yet."</p> }
            >
                <ol class="messages" data-testid="messages" aria-live="polite">
                    <For
                        each=move || state.messages.get()
                        key=|line| (line.id.clone(), line.delivered)
                        let:line
                    >
                        <MessageItem line=line/>
                    </For>
                </ol>
            </Show>
            <Composer/>
        </section>
    }
}

/// One message. Its text is a text node: markup in it shows as typed.
#[component]
fn MessageItem(line: ChatLine) -> impl IntoView {
    let mine = line.from.is_none();
    let who = match (&line.from, &line.from_name) {
        (None, _) => "You".to_owned(),
        (Some(_), Some(name)) if !name.is_empty() => name.clone(),
        (Some(id), _) => id.clone(),
    };
    let scope = match (&line.direct, mine) {
        (Some(to), true) => format!("to {to} only"),
        (Some(_), false) => "to you only".to_owned(),
        (None, _) => "to the room".to_owned(),
    };
    let delivery = mine.then(|| match line.recipients {
        0 => "sent to nobody: no peer was connected".to_owned(),
        n => format!("delivered to {} of {n}", line.delivered),
    });
    view! {
        <li class=if mine { "message mine" } else { "message" } data-message-id=line.id.clone()>
            <div class="message-head">
                <span class="message-from">{who}</span>
                <span class="message-scope">{scope}</span>
                <time>{clock(line.sent_at)}</time>
            </div>
            <p class="message-text">{line.text.clone()}</p>
            {delivery.map(|d| view! { <span class="delivery" data-testid="delivery">{d}</span> })}
        </li>
    }
}

/// The text box, the addressee and the send button.
#[component]
fn Composer() -> impl IntoView {
    let state = expect_context::<AppState>();
    let text = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let connected = move || {
        state.peers.with(|peers| {
            peers
                .values()
                .filter(|p| p.state == PeerState::Connected)
                .map(|p| {
                    (
                        p.id.to_string(),
                        p.name.clone().unwrap_or_else(|| p.id.to_string()),
                    )
                })
                .collect::<Vec<_>>()
        })
    };
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let message = text.get_untracked();
        if message.trim().is_empty() {
            return;
        }
        let to = PeerId::parse(&to.get_untracked()).ok();
        state.command(Command::Chat { text: message, to });
        text.set(String::new());
    };
    view! {
        <form class="composer" on:submit=on_submit>
            <label class="visually-hidden" for="message-to">"Send to"</label>
            <select id="message-to" prop:value=move || to.get() on:change=move |ev| to.set(event_target_value(&ev))>
                <option value="">"Everyone in the room"</option>
                {move || connected().into_iter().map(|(id, name)| view! {
                    <option value=id.clone()>{format!("Only {name}")}</option>
                }).collect_view()}
            </select>
            <label class="visually-hidden" for="message-text">"Message"</label>
            <input
                id="message-text"
                type="text"
                autocomplete="off"
                placeholder="Write a message"
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
            />
            <button type="submit">"Send"</button>
        </form>
        <Show when=move || state.send_error.with(Option::is_some)>
            <p class="error" role="alert" data-testid="send-error">{move || state.send_error.get()}</p>
        </Show>
    }
}

/// `HH:MM` in the reader's time zone.
fn clock(millis: u64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(millis as f64));
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}
