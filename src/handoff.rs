//! Answers carried back by link reach the tab that made the invite.
//!
//! An invite's answer comes back to its maker as a link. Opened in the same browser, that link
//! loads a new tab, not the one holding the invite; the new tab posts the answer on a
//! `BroadcastChannel`, every tab of this page's origin gives it to its own network, the one
//! whose invite it answers takes it and says so on the channel, and the new tab tells its
//! person where the answer went.

use futures::channel::oneshot;
use futures::future::{Either, select};
use gloo_timers::future::TimeoutFuture;
use seedmesh_core::PeerId;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{BroadcastChannel, MessageEvent};

/// The channel's name, shared by every tab of the page.
const CHANNEL: &str = "seedmesh.invite-answers";
/// How long the tab that carries an answer waits to hear that a tab took it.
const TAKEN_WAIT_MS: u32 = 3_000;
/// Messages on the channel: an answer to take, and the peer whose answer a tab took.
const ANSWER: &str = "answer:";
const TAKEN: &str = "taken:";

/// Listens for answers other tabs of this browser carry; dropping it stops listening.
pub struct AnswerListener {
    channel: BroadcastChannel,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl AnswerListener {
    /// Calls `take` with each answer another tab posts; `None` where the browser has no
    /// `BroadcastChannel`.
    pub fn start(take: impl Fn(String) + 'static) -> Option<Self> {
        let channel = BroadcastChannel::new(CHANNEL).ok()?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(answer) = event
                .data()
                .as_string()
                .and_then(|m| m.strip_prefix(ANSWER).map(str::to_owned))
            {
                take(answer);
            }
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Some(Self {
            channel,
            _on_message: on_message,
        })
    }
}

impl Drop for AnswerListener {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

/// Tells the tab that carried an answer that this tab took it, from `peer`.
pub fn announce_taken(peer: &PeerId) {
    if let Ok(channel) = BroadcastChannel::new(CHANNEL) {
        let _ = channel.post_message(&format!("{TAKEN}{peer}").into());
        channel.close();
    }
}

/// Posts `answer`, from `from`, to the other tabs; true once one of them took it, false if
/// none did within a few seconds (or the browser has no `BroadcastChannel`).
pub async fn hand_over(answer: &str, from: &PeerId) -> bool {
    let Ok(channel) = BroadcastChannel::new(CHANNEL) else {
        return false;
    };
    let (taken_tx, taken) = oneshot::channel::<()>();
    let taken_tx = Rc::new(RefCell::new(Some(taken_tx)));
    let expected = format!("{TAKEN}{from}");
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        if event.data().as_string().as_deref() == Some(expected.as_str())
            && let Some(tx) = taken_tx.borrow_mut().take()
        {
            let _ = tx.send(());
        }
    });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let posted = channel
        .post_message(&format!("{ANSWER}{answer}").into())
        .is_ok();
    let took = posted
        && matches!(
            select(taken, TimeoutFuture::new(TAKEN_WAIT_MS)).await,
            Either::Left((Ok(()), _))
        );
    channel.set_onmessage(None);
    channel.close();
    took
}
