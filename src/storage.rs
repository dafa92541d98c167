//! Browser storage as JSON, failing quietly: a private window or a full quota costs persistence,
//! never the page.
//!
//! [`Shared`] is `localStorage`, common to every page of the origin in this browser;
//! [`Tab`] is `sessionStorage`, this tab's own, kept across reloads.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Which of the browser's stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// `localStorage`: shared by every page of this origin in this browser.
    Shared,
    /// `sessionStorage`: this tab's own, kept across reloads of it.
    Tab,
}

pub use Store::{Shared, Tab};

impl Store {
    fn storage(self) -> Option<web_sys::Storage> {
        let window = web_sys::window()?;
        match self {
            Self::Shared => window.local_storage().ok()?,
            Self::Tab => window.session_storage().ok()?,
        }
    }

    /// The value stored under `key`, if there is a readable one.
    #[must_use]
    pub fn load<T: DeserializeOwned>(self, key: &str) -> Option<T> {
        let text = self.storage()?.get_item(key).ok()??;
        serde_json::from_str(&text).ok()
    }

    /// Stores `value` under `key`; returns whether it was stored.
    pub fn save<T: Serialize>(self, key: &str, value: &T) -> bool {
        let Ok(text) = serde_json::to_string(value) else {
            return false;
        };
        self.storage()
            .is_some_and(|s| s.set_item(key, &text).is_ok())
    }

    /// Every key stored that starts with `prefix`.
    #[must_use]
    pub fn keys_with_prefix(self, prefix: &str) -> Vec<String> {
        let Some(storage) = self.storage() else {
            return Vec::new();
        };
        let count = storage.length().unwrap_or(0);
        (0..count)
            .filter_map(|i| storage.key(i).ok().flatten())
            .filter(|key| key.starts_with(prefix))
            .collect()
    }

    /// Forgets what is stored under `key`.
    pub fn remove(self, key: &str) {
        if let Some(storage) = self.storage() {
            let _ = storage.remove_item(key);
        }
    }
}
