use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use seedmesh_core::PeerId;
use seedmesh_core::mesh::PeerState;

use crate::network::Command;
use crate::state::{AppState, ChatLine, FileLine};

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
                        key=|line| {
                            let file = line.file.as_ref().map(|f| {
                                (f.done, f.url.is_some(), f.failed.clone(), f.on_request, f.asked)
                            });
                            (line.id.clone(), line.delivered, line.undelivered.clone(), file)
                        }
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
    // A room message reaches pages past our links; how many the room has is an estimate.
    let room_message = line.direct.is_none() && line.file.is_none();
    let pages = match line.recipients {
        0 => None,
        n if room_message => Some(format!(
            "delivered to {} of about {}",
            line.delivered,
            n.max(line.delivered)
        )),
        n => Some(format!("delivered to {} of {n}", line.delivered)),
    };
    // PeerJS clients confirm nothing: they are counted apart.
    let clients = match line.clients {
        0 => None,
        1 => Some("sent to 1 PeerJS client, which does not confirm".to_owned()),
        n => Some(format!("sent to {n} PeerJS clients, which do not confirm")),
    };
    let delivery = mine.then(|| match (&line.undelivered, pages, clients) {
        (Some(reason), _, _) => reason.clone(),
        (None, None, None) => "sent to nobody: no peer was connected".to_owned(),
        (None, Some(text), None) | (None, None, Some(text)) => text,
        (None, Some(pages), Some(clients)) => format!("{pages} · {clients}"),
    });
    let delivery_class = if line.undelivered.is_some() {
        "delivery undelivered"
    } else {
        "delivery"
    };
    // Our direct message not yet confirmed, to a peer whose link is forming again, waits.
    let state = expect_context::<AppState>();
    let waits_for = PeerId::parse(line.direct.as_deref().unwrap_or_default())
        .ok()
        .filter(|_| line.awaits_confirmation());
    let delivery = move || {
        let reconnecting = waits_for.as_ref().is_some_and(|to| {
            state.peers.with(|peers| {
                peers
                    .get(to)
                    .is_some_and(|p| matches!(p.state, PeerState::Reconnecting(_)))
            })
        });
        if reconnecting {
            Some("waiting for the link to this peer to form again; it goes then".to_owned())
        } else {
            delivery.clone()
        }
    };
    view! {
        <li class=if mine { "message mine" } else { "message" } data-message-id=line.id.clone()>
            <div class="message-head">
                <span class="message-from">{who}</span>
                <span class="message-scope">{scope}</span>
                <time>{clock(line.sent_at)}</time>
            </div>
            {match line.file.clone() {
                None => view! { <p class="message-text">{line.text.clone()}</p> }.into_any(),
                Some(file) => view! { <FileItem file=file id=line.id.clone()/> }.into_any(),
            }}
            {move || delivery().map(|d| view! { <span class=delivery_class data-testid="delivery">{d}</span> })}
        </li>
    }
}

/// A file transfer: name, size, progress and, once it arrived, a download link. A file shared
/// by a page past our links comes when asked for.
#[component]
fn FileItem(
    /// The transfer.
    file: FileLine,
    /// Its line's ID.
    id: String,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let label = format!("Transfer of {}", file.name);
    let status = match (&file.failed, &file.url) {
        (Some(reason), _) => reason.clone(),
        (None, Some(_)) => "received".to_owned(),
        (None, None) if file.on_request && file.asked => "asking its sender for it…".to_owned(),
        (None, None) if file.on_request => "shared with the room".to_owned(),
        (None, None) if file.done >= file.size => "sent".to_owned(),
        (None, None) => format!("{} of {}", human_size(file.done), human_size(file.size)),
    };
    // Asked for or not, a file that did not come can be asked for again.
    let ask = (file.on_request && (!file.asked || file.failed.is_some())).then(|| {
        let id = id.clone();
        view! {
            <button type="button" class="get-file" on:click=move |_| state.want_file(id.clone())>
                "Get it"
            </button>
        }
    });
    view! {
        <div class="file" data-testid="file">
            <span class="file-name">{file.name.clone()}</span>
            <span class="file-size">{human_size(file.size)}</span>
            <progress
                aria-label=label
                max=file.size.max(1).to_string()
                value=if file.size == 0 { "1".to_owned() } else { file.done.to_string() }
            ></progress>
            <span class="file-status">{status}</span>
            {file.url.clone().map(|url| view! {
                <a class="download" href=url download=file.name.clone()>"Download"</a>
            })}
            {ask}
        </div>
    }
}

fn human_size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{} KiB", super::tenths(bytes, 1024)),
        _ => format!("{} MiB", super::tenths(bytes, 1_048_576)),
    }
}

/// The text box, the addressee and the send button.
#[component]
fn Composer() -> impl IntoView {
    let state = expect_context::<AppState>();
    let text = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    // Connected peers, and peers whose link is forming again: a message to one of those
    // goes once it is back.
    let addressees = move || {
        state.peers.with(|peers| {
            peers
                .values()
                .filter_map(|p| {
                    let name = p.name.clone().unwrap_or_else(|| p.id.to_string());
                    let label = match p.state {
                        PeerState::Connected => format!("Only {name}"),
                        PeerState::Reconnecting(_) => format!("Only {name} (reconnecting)"),
                        _ => return None,
                    };
                    Some((p.id.to_string(), label))
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
                {move || addressees().into_iter().map(|(id, label)| view! {
                    <option value=id.clone()>{label}</option>
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
            <label class="file-button">
                "Send a file"
                <input type="file" class="visually-hidden" on:change=move |ev| {
                    let to = PeerId::parse(&to.get_untracked()).ok();
                    send_chosen_file(state, &ev, to);
                }/>
            </label>
        </form>
        <Show when=move || state.send_error.with(Option::is_some)>
            <p class="error" role="alert" data-testid="send-error">{move || state.send_error.get()}</p>
        </Show>
    }
}

/// Reads the file chosen in a file input and gives it to the network.
fn send_chosen_file(state: AppState, event: &leptos::ev::Event, to: Option<PeerId>) {
    use wasm_bindgen::JsCast;
    let Some(input) = event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
    else {
        return;
    };
    let Some(file) = input.files().and_then(|files| files.get(0)) else {
        return;
    };
    input.set_value("");
    leptos::task::spawn_local(async move {
        match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
            Ok(buffer) => state.command(Command::SendFile {
                name: file.name(),
                mime: file.type_(),
                bytes: js_sys::Uint8Array::new(&buffer).to_vec(),
                to,
            }),
            Err(_) => state.send_error.set(Some(format!(
                "the browser could not read {}; try choosing it again",
                file.name()
            ))),
        }
    });
}

/// `HH:MM` in the reader's time zone.
fn clock(millis: u64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(millis as f64));
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}
