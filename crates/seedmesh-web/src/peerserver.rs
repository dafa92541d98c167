//! The PeerServer's WebSocket: opened, fed and closed as [`seedmesh_core::signaling::Signaling`]
//! says.
//!
//! [`PeerServerSocket`] only reports what the socket does to a handler; the protocol lives in
//! the core. Its callbacks are its own fields and are released when it is dropped.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

use crate::js::{Context, JsError};

/// What the signaling socket did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketEvent {
    /// The socket opened.
    Open,
    /// A text message arrived.
    Message(String),
    /// The socket closed or could not open.
    Closed {
        /// The close code (1006 when the connection failed).
        code: u16,
        /// The close reason, if the server gave one.
        reason: String,
    },
}

/// A WebSocket to a PeerServer whose events go to a handler.
pub struct PeerServerSocket {
    inner: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl core::fmt::Debug for PeerServerSocket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PeerServerSocket")
            .field("ready_state", &self.inner.ready_state())
            .finish_non_exhaustive()
    }
}

impl PeerServerSocket {
    /// Opens a socket to `url`; every event is passed to `handler`, which should only queue it.
    pub fn open(url: &str, handler: impl Fn(SocketEvent) + 'static) -> Result<Self, JsError> {
        let inner = WebSocket::new(url).context("opening the PeerServer socket")?;
        let handler = std::rc::Rc::new(handler);
        let on_open = {
            let handler = handler.clone();
            Closure::<dyn FnMut(Event)>::new(move |_: Event| handler(SocketEvent::Open))
        };
        let on_message = {
            let handler = handler.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                // PeerServer sends text only; anything else is not signaling.
                if let Some(text) = event.data().as_string() {
                    handler(SocketEvent::Message(text));
                }
            })
        };
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            handler(SocketEvent::Closed {
                code: event.code(),
                reason: event.reason(),
            });
        });
        inner.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        inner.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        inner.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Self {
            inner,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends one text message.
    pub fn send(&self, text: &str) -> Result<(), JsError> {
        self.inner
            .send_with_str(text)
            .context("sending on the PeerServer socket")
    }
}

impl Drop for PeerServerSocket {
    fn drop(&mut self) {
        self.inner.set_onopen(None);
        self.inner.set_onmessage(None);
        self.inner.set_onclose(None);
        let _ = self.inner.close();
    }
}
