//! JavaScript results turned into typed Rust errors, once, here.

use core::fmt;
use wasm_bindgen::{JsCast, JsValue};

/// An exception or rejection from a browser API, with the message the browser gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsError {
    /// What the driver was doing, e.g. `"creating an RTCPeerConnection"`.
    pub context: &'static str,
    /// The exception's `name: message`, or its string form.
    pub message: String,
}

impl JsError {
    /// Describes a thrown or rejected JavaScript value.
    pub fn new(context: &'static str, value: &JsValue) -> Self {
        let message = if let Some(error) = value.dyn_ref::<js_sys::Error>() {
            format!(
                "{}: {}",
                String::from(error.name()),
                String::from(error.message())
            )
        } else if let Some(text) = value.as_string() {
            text
        } else {
            format!("{value:?}")
        };
        Self { context, message }
    }
}

impl fmt::Display for JsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.context, self.message)
    }
}

impl std::error::Error for JsError {}

/// Adds the driver's context to a JavaScript result.
pub(crate) trait Context<T> {
    /// Maps a `JsValue` error to a [`JsError`] that says what was being done.
    fn context(self, context: &'static str) -> Result<T, JsError>;
}

impl<T> Context<T> for Result<T, JsValue> {
    fn context(self, context: &'static str) -> Result<T, JsError> {
        self.map_err(|value| JsError::new(context, &value))
    }
}
