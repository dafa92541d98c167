//! What the page connects to: build-time defaults, settings the user saved, and the URL.
//!
//! Order of precedence, later wins: the built-in defaults, the build's environment
//! (`SEEDMESH_SEED_DOMAIN`, `SEEDMESH_DOH_RESOLVERS`), saved settings, the page URL's
//! `?seed=DOMAIN` and `?doh=URL,URL`. Whatever the seed records say overrides the fallbacks
//! below; the fallbacks let a fork with no DNS set up still work. There is no built-in seed
//! domain: records on a domain the deployer does not control could steer every page.

use serde::{Deserialize, Serialize};

use crate::storage::Shared;

/// DoH endpoints when the build names none: both send CORS headers.
pub const FALLBACK_RESOLVERS: [&str; 2] = [
    "https://cloudflare-dns.com/dns-query",
    "https://dns.google/dns-query",
];
/// The PeerServer used when the seed records name none: the public PeerJS server.
pub const FALLBACK_PEERSERVER: &str = "wss://0.peerjs.com:443/";
/// A public STUN server, used when the seed records name no ICE servers.
pub const FALLBACK_STUN: &str = "stun:stun.l.google.com:19302";
/// How many rendezvous slots the fallback namespace has.
pub const FALLBACK_SLOTS: u8 = 4;

const SETTINGS_KEY: &str = "seedmesh.settings";

/// Settings a person can change, kept in `localStorage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The domain whose `_seedmesh` TXT records describe the network; empty for none.
    pub seed_domain: String,
    /// DoH endpoints, asked at once.
    pub resolvers: Vec<String>,
}

impl Settings {
    /// The build's defaults.
    #[must_use]
    pub fn built_in() -> Self {
        let seed_domain = option_env!("SEEDMESH_SEED_DOMAIN")
            .unwrap_or_default()
            .trim()
            .to_owned();
        let resolvers = match option_env!("SEEDMESH_DOH_RESOLVERS").filter(|r| !r.is_empty()) {
            Some(list) => split_list(list),
            None => FALLBACK_RESOLVERS.iter().map(|r| (*r).to_owned()).collect(),
        };
        Self {
            seed_domain,
            resolvers,
        }
    }

    /// The settings in effect: built-in, then saved, then the page URL.
    #[must_use]
    pub fn load() -> Self {
        let mut settings = Shared
            .load::<Settings>(SETTINGS_KEY)
            .unwrap_or_else(Self::built_in);
        let query = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .unwrap_or_default();
        for pair in query.trim_start_matches('?').split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = js_sys::decode_uri_component(value)
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default();
            match key {
                "seed" if !value.is_empty() => settings.seed_domain = value,
                "doh" if !value.is_empty() => settings.resolvers = split_list(&value),
                _ => {}
            }
        }
        settings
    }

    /// Keeps the settings for the next visit.
    pub fn save(&self) {
        Shared.save(SETTINGS_KEY, self);
    }
}

/// Splits a comma- or line-separated list, dropping blanks.
#[must_use]
pub fn split_list(list: &str) -> Vec<String> {
    list.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A rendezvous namespace of this page's own: pages served from the same address meet even
/// when no seed records exist.
#[must_use]
pub fn page_namespace() -> String {
    let location = web_sys::window()
        .map(|w| w.location())
        .and_then(|l| Some(format!("{}{}", l.origin().ok()?, l.pathname().ok()?)))
        .unwrap_or_default();
    // FNV-1a: stable across builds and browsers.
    let hash = location.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("seedmesh-{:012x}", hash & 0xffff_ffff_ffff)
}
