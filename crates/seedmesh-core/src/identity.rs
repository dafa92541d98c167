//! Which peer identity each page of a browser goes by.
//!
//! Pages of one browser (tabs, windows) share `localStorage`, yet each must be a peer of its own:
//! two pages presenting one ID and token to a PeerServer would both look registered while only
//! the last socket receives anything. So the browser keeps a bounded [`IdentityPool`] of
//! identities, and a page *claims* one before it registers: it holds an exclusive lock named
//! after the ID (the Web Locks API) for as long as it lives. A reloaded page asks first for the
//! identity it had (kept in its per-tab `sessionStorage`) and waits briefly for it, since the page
//! it replaces may still be letting go; any other free identity is taken only if nobody holds it;
//! when every stored identity is in use, the page makes a fresh one and the pool remembers it.
//!
//! This module holds the decisions (the order of the claims, the bound, which identity is
//! forgotten); the browser glue only asks for locks and reads and writes storage.

use serde::{Deserialize, Serialize};

use crate::proof::PeerKey;
use crate::{PeerId, Token};

/// How many identities a browser keeps. One more page than this at once still works (it goes by
/// a fresh identity), but the least recently used identity is forgotten, with its history.
pub const MAX_STORED_IDENTITIES: usize = 16;

/// The longest display name kept, in characters.
pub const MAX_NAME_CHARS: usize = 40;

/// A page's identity on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The peer ID, registered on PeerServers: always `key`'s ([`PeerKey::peer_id`]).
    pub id: PeerId,
    /// The long-lived key the page proves its ID with.
    pub key: PeerKey,
    /// The secret that proves the ID is ours when we register it again.
    pub token: Token,
    /// The name other people see.
    pub name: String,
}

impl Identity {
    /// A new identity with a new random key, named after its ID, e.g. `Guest 4kqz`.
    /// `random` must be a cryptographic source: the key's secret is drawn from it.
    #[must_use]
    pub fn fresh(random: &mut impl FnMut() -> u32) -> Self {
        Self::with_key(PeerKey::random(random), random)
    }

    /// The identity of `key` (an imported one, say), with a new token, named after its ID.
    #[must_use]
    pub fn with_key(key: PeerKey, random: &mut impl FnMut() -> u32) -> Self {
        let id = key.peer_id();
        let token = Token::random(random);
        let name = format!("Guest {}", &id.as_str()[..4]);
        Self {
            id,
            key,
            token,
            name,
        }
    }

    /// The name of the lock a page holds while it goes by this identity.
    #[must_use]
    pub fn lock_name(&self) -> String {
        format!("seedmesh.peer.{}", self.id)
    }

    /// The identity in its stored form, used at `last_used` (ms since the Unix epoch).
    #[must_use]
    pub fn to_stored(&self, last_used: u64) -> StoredIdentity {
        StoredIdentity {
            id: self.id.to_string(),
            key: self.key.to_text(),
            token: self.token.as_str().to_owned(),
            name: self.name.clone(),
            last_used,
        }
    }
}

/// An identity as `localStorage` and `sessionStorage` keep it. Storage is outside data: read it
/// back with [`StoredIdentity::restore`], which checks every field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredIdentity {
    /// The peer ID.
    pub id: String,
    /// The key, as [`PeerKey::to_text`] writes it. Identities stored before keys have none and
    /// are dropped: their IDs cannot be proven.
    #[serde(default)]
    pub key: String,
    /// The token.
    pub token: String,
    /// The display name.
    pub name: String,
    /// When a page last claimed it, in ms since the Unix epoch.
    #[serde(default)]
    pub last_used: u64,
}

impl StoredIdentity {
    /// The identity, if the key and token are usable and the ID is the key's; an overlong
    /// name is cut.
    #[must_use]
    pub fn restore(&self) -> Option<Identity> {
        let key = PeerKey::from_text(&self.key).ok()?;
        let id = key.peer_id();
        if id.as_str() != self.id {
            return None;
        }
        Some(Identity {
            id,
            key,
            token: Token::restore(&self.token)?,
            name: self.name.chars().take(MAX_NAME_CHARS).collect(),
        })
    }
}

/// How a page should ask for one identity's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This tab's own identity from before a reload: wait a moment for the page it replaces to
    /// let go of it. A duplicated tab carries a copy of it, and gives up after the wait.
    WaitBriefly,
    /// Another stored identity: take it only if no page holds it now.
    IfFree,
}

/// The identities a browser keeps, most recently used first, at most
/// [`MAX_STORED_IDENTITIES`], with no ID twice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityPool {
    entries: Vec<(Identity, u64)>,
}

impl IdentityPool {
    /// The pool from its stored form: unusable entries and repeated IDs are dropped, and only the
    /// [`MAX_STORED_IDENTITIES`] most recently used are kept.
    #[must_use]
    pub fn from_stored(stored: &[StoredIdentity]) -> Self {
        let mut pool = Self::default();
        for entry in stored {
            if let Some(identity) = entry.restore() {
                pool.insert(identity, entry.last_used);
            }
        }
        pool
    }

    /// The stored form, most recently used first.
    #[must_use]
    pub fn to_stored(&self) -> Vec<StoredIdentity> {
        self.entries
            .iter()
            .map(|(identity, used)| identity.to_stored(*used))
            .collect()
    }

    /// The identities, most recently used first.
    pub fn identities(&self) -> impl Iterator<Item = &Identity> {
        self.entries.iter().map(|(identity, _)| identity)
    }

    /// The identities to try, in order, and how to ask for each: this tab's own identity from
    /// `session` first (it may be missing from the pool), then every other stored one, most
    /// recently used first. When none can be had, the page makes a fresh one.
    #[must_use]
    pub fn claim_order(&self, session: Option<&Identity>) -> Vec<(Identity, Claim)> {
        let own = session.map(|identity| {
            // The pool's copy has the latest name, given in any page that held it.
            let latest = self
                .identities()
                .find(|i| i.id == identity.id && i.token == identity.token);
            (latest.unwrap_or(identity).clone(), Claim::WaitBriefly)
        });
        let others = self
            .identities()
            .filter(|i| session.is_none_or(|s| s.id != i.id))
            .map(|i| (i.clone(), Claim::IfFree));
        own.into_iter().chain(others).collect()
    }

    /// Records that a page goes by `identity` (new, claimed or renamed) at `now` (ms since the
    /// Unix epoch): it becomes the most recently used, and is never the one forgotten. Returns
    /// the IDs forgotten to stay within [`MAX_STORED_IDENTITIES`], whose per-identity data
    /// (chat history) should go too.
    pub fn remember(&mut self, identity: &Identity, now: u64) -> Vec<PeerId> {
        self.entries.retain(|(i, _)| i.id != identity.id);
        // Stored times from a clock that has since gone back count as now.
        for (_, used) in &mut self.entries {
            *used = (*used).min(now);
        }
        self.entries.insert(0, (identity.clone(), now));
        self.entries
            .drain(MAX_STORED_IDENTITIES.min(self.entries.len())..)
            .map(|(identity, _)| identity.id)
            .collect()
    }

    /// Forgets the identity `id` (one the PeerServer gave to someone else).
    pub fn forget(&mut self, id: &PeerId) {
        self.entries.retain(|(i, _)| i.id != *id);
    }

    fn insert(&mut self, identity: Identity, used: u64) -> Vec<PeerId> {
        if let Some(at) = self.entries.iter().position(|(i, _)| i.id == identity.id) {
            let (existing, existing_used) = &self.entries[at];
            if existing.token != identity.token && *existing_used > used {
                // Two records of one ID with different tokens: the newer one wins.
                return Vec::new();
            }
            self.entries.remove(at);
        }
        let at = self.entries.partition_point(|(_, u)| *u >= used);
        self.entries.insert(at, (identity, used));
        self.entries
            .drain(MAX_STORED_IDENTITIES.min(self.entries.len())..)
            .map(|(identity, _)| identity.id)
            .collect()
    }
}

/// How many display names a [`NameBook`] remembers.
pub const MAX_KNOWN_NAMES: usize = 256;

/// What a [`NameBook`] says of a peer going by a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameCheck {
    /// The name is new here, or this peer has gone by it before.
    Fine,
    /// Another key went by this name before: people may take this peer for that one.
    SameNameAs(PeerId),
}

/// The display names peers went by, each with the first key-made ID seen under it, so that a
/// name showing up with another key can be pointed out. Kept across visits; at most
/// [`MAX_KNOWN_NAMES`] names, the least recently seen forgotten first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameBook {
    /// Name and ID, most recently seen last.
    names: Vec<(String, String)>,
}

impl NameBook {
    /// Checks the peer `id` going by `name`, and remembers the name if it is new.
    pub fn check(&mut self, name: &str, id: &PeerId) -> NameCheck {
        let name = name.trim().to_lowercase();
        if name.is_empty() {
            return NameCheck::Fine;
        }
        match self.names.iter().position(|(known, _)| *known == name) {
            Some(at) => {
                let entry = self.names.remove(at);
                let first = entry.1.clone();
                self.names.push(entry);
                match PeerId::parse(&first) {
                    Ok(first) if first != *id => NameCheck::SameNameAs(first),
                    _ => NameCheck::Fine,
                }
            }
            None => {
                self.names.push((name, id.to_string()));
                let excess = self.names.len().saturating_sub(MAX_KNOWN_NAMES);
                self.names.drain(..excess);
                NameCheck::Fine
            }
        }
    }

    /// The book as storage gave it, cut to its bound (storage is outside data).
    #[must_use]
    pub fn restored(mut self) -> Self {
        let excess = self.names.len().saturating_sub(MAX_KNOWN_NAMES);
        self.names.drain(..excess);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counter(seed: u32) -> impl FnMut() -> u32 {
        let mut n = seed;
        move || {
            n = n.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            n >> 8
        }
    }

    fn identities(count: usize) -> Vec<Identity> {
        let mut random = counter(7);
        (0..count).map(|_| Identity::fresh(&mut random)).collect()
    }

    #[test]
    fn a_fresh_identity_is_named_after_its_id_and_locked_by_it() {
        let identity = Identity::fresh(&mut counter(1));
        assert_eq!(
            identity.name,
            format!("Guest {}", &identity.id.as_str()[..4])
        );
        assert_eq!(
            identity.lock_name(),
            format!("seedmesh.peer.{}", identity.id)
        );
    }

    #[test]
    fn a_reloaded_tab_asks_for_its_own_identity_first_and_waits_for_it() {
        let all = identities(3);
        let mut pool = IdentityPool::default();
        for (at, identity) in all.iter().enumerate() {
            pool.remember(identity, at as u64);
        }
        let order = pool.claim_order(Some(&all[0]));
        let ids: Vec<_> = order.iter().map(|(i, _)| i.id.clone()).collect();
        assert_eq!(ids, [&all[0], &all[2], &all[1]].map(|i| i.id.clone()));
        assert_eq!(order[0].1, Claim::WaitBriefly);
        assert!(order[1..].iter().all(|(_, claim)| *claim == Claim::IfFree));
    }

    #[test]
    fn a_new_tab_tries_the_most_recently_used_identities_if_free() {
        let all = identities(3);
        let stored: Vec<_> = all
            .iter()
            .enumerate()
            .map(|(at, identity)| identity.to_stored(100 - at as u64))
            .rev()
            .collect();
        let pool = IdentityPool::from_stored(&stored);
        let order = pool.claim_order(None);
        assert_eq!(order.len(), 3);
        assert_eq!(order[0].0, all[0]);
        assert!(order.iter().all(|(_, claim)| *claim == Claim::IfFree));
    }

    #[test]
    fn a_session_identity_missing_from_the_pool_is_still_tried_first() {
        let all = identities(2);
        let mut pool = IdentityPool::default();
        pool.remember(&all[1], 5);
        let order = pool.claim_order(Some(&all[0]));
        assert_eq!(order[0], (all[0].clone(), Claim::WaitBriefly));
        assert_eq!(order[1], (all[1].clone(), Claim::IfFree));
    }

    #[test]
    fn a_rename_in_another_page_reaches_the_reloaded_tab() {
        let all = identities(1);
        let mut pool = IdentityPool::default();
        let mut renamed = all[0].clone();
        renamed.name = "Ada".to_owned();
        pool.remember(&renamed, 9);
        assert_eq!(pool.claim_order(Some(&all[0]))[0].0.name, "Ada");
    }

    #[test]
    fn the_pool_forgets_the_least_recently_used_beyond_its_bound() {
        let all = identities(MAX_STORED_IDENTITIES + 2);
        let mut pool = IdentityPool::default();
        let mut forgotten = Vec::new();
        for (at, identity) in all.iter().enumerate() {
            forgotten.extend(pool.remember(identity, 1_000 + at as u64));
        }
        assert_eq!(pool.identities().count(), MAX_STORED_IDENTITIES);
        assert_eq!(forgotten, [all[0].id.clone(), all[1].id.clone()]);
        // Using an identity again moves it to the front.
        pool.remember(&all[2], 5_000);
        assert_eq!(pool.identities().next(), Some(&all[2]));
    }

    #[test]
    fn unusable_stored_entries_are_dropped() {
        let good = identities(1).remove(0);
        let other = identities(2).remove(1);
        let stored = vec![
            StoredIdentity {
                id: "bad id!".into(),
                key: good.key.to_text(),
                token: "abc".into(),
                name: "x".into(),
                last_used: 3,
            },
            StoredIdentity {
                token: "not a token".into(),
                ..other.to_stored(2)
            },
            // Another page's ID with this key: not provable.
            StoredIdentity {
                id: other.id.to_string(),
                ..good.to_stored(2)
            },
            // Stored before keys.
            StoredIdentity {
                key: String::new(),
                ..other.to_stored(2)
            },
            good.to_stored(1),
            good.to_stored(0),
        ];
        let pool = IdentityPool::from_stored(&stored);
        assert_eq!(pool.identities().cloned().collect::<Vec<_>>(), [good]);
    }

    #[test]
    fn an_old_stored_copy_with_another_token_does_not_replace_the_newer() {
        let mut random = counter(3);
        let newer = Identity::fresh(&mut random);
        let mut older = newer.clone();
        older.token = Token::random(&mut random);
        for stored in [
            [newer.to_stored(10), older.to_stored(5)],
            [older.to_stored(5), newer.to_stored(10)],
        ] {
            let pool = IdentityPool::from_stored(&stored);
            assert_eq!(pool.identities().collect::<Vec<_>>(), [&newer]);
        }
    }

    #[test]
    fn the_identity_remembered_is_never_the_one_forgotten() {
        // Every stored identity was used "later" than now: a clock that went back, or storage
        // someone edited.
        let all = identities(MAX_STORED_IDENTITIES + 1);
        let stored: Vec<_> = all[..MAX_STORED_IDENTITIES]
            .iter()
            .map(|i| i.to_stored(u64::MAX))
            .collect();
        let mut pool = IdentityPool::from_stored(&stored);
        let forgotten = pool.remember(&all[MAX_STORED_IDENTITIES], 1_000);
        assert_eq!(pool.identities().next(), Some(&all[MAX_STORED_IDENTITIES]));
        assert_eq!(forgotten.len(), 1);
        assert!(!forgotten.contains(&all[MAX_STORED_IDENTITIES].id));
        // Times are now at most now, so the order of use holds from here on.
        assert!(pool.to_stored().iter().all(|e| e.last_used <= 1_000));
        pool.forget(&all[MAX_STORED_IDENTITIES].id);
        assert_eq!(pool.identities().count(), MAX_STORED_IDENTITIES - 1);
    }

    /// A stored entry: one of a few keys, its own ID or another (or junk), and any token,
    /// name and time.
    #[test]
    fn a_known_name_with_another_key_is_pointed_out() {
        let (ada, mallory) = (identities(2).remove(0).id, identities(2).remove(1).id);
        let mut book = NameBook::default();
        assert_eq!(book.check("Ada", &ada), NameCheck::Fine);
        assert_eq!(book.check("Ada", &ada), NameCheck::Fine);
        assert_eq!(
            book.check(" ada ", &mallory),
            NameCheck::SameNameAs(ada.clone())
        );
        // Ada's key still goes by her name without a warning.
        assert_eq!(book.check("Ada", &ada), NameCheck::Fine);
        // The book stays bounded, forgetting the least recently seen name.
        for n in 0..MAX_KNOWN_NAMES {
            book.check(&format!("name {n}"), &mallory);
        }
        assert_eq!(book.names.len(), MAX_KNOWN_NAMES);
        assert_eq!(book.check("Ada", &mallory), NameCheck::Fine);
        let stored: NameBook =
            serde_json::from_str(&serde_json::to_string(&book).unwrap()).unwrap();
        assert_eq!(stored.restored(), book);
    }

    fn stored_entry() -> impl Strategy<Value = StoredIdentity> {
        (
            0u8..6,
            prop_oneof![Just(None), "[A-Za-z0-9 _-]{0,20}".prop_map(Some)],
            "[A-Za-z0-9]{0,30}|.{0,5}",
            ".{0,60}",
            any::<u64>(),
        )
            .prop_map(|(key, id, token, name, last_used)| {
                let key = PeerKey::from_secret([key; 32]);
                StoredIdentity {
                    id: id.unwrap_or_else(|| key.peer_id().to_string()),
                    key: key.to_text(),
                    token,
                    name,
                    last_used,
                }
            })
    }

    proptest! {
        /// Whatever storage holds, the pool is bounded, has no ID twice, is ordered by use, and
        /// survives its own stored form unchanged.
        #[test]
        fn any_stored_pool_is_bounded_unique_and_round_trips(
            stored in proptest::collection::vec(stored_entry(), 0..40)
        ) {
            let pool = IdentityPool::from_stored(&stored);
            let entries = pool.to_stored();
            prop_assert!(entries.len() <= MAX_STORED_IDENTITIES);
            let mut ids: Vec<_> = entries.iter().map(|e| e.id.clone()).collect();
            ids.sort();
            ids.dedup();
            prop_assert_eq!(ids.len(), entries.len());
            prop_assert!(entries.windows(2).all(|w| w[0].last_used >= w[1].last_used));
            prop_assert!(entries.iter().all(|e| e.name.chars().count() <= MAX_NAME_CHARS));
            prop_assert_eq!(IdentityPool::from_stored(&entries), pool);
        }

        /// The claim order names every stored identity once, and the session's first.
        #[test]
        fn the_claim_order_covers_the_pool_once(count in 0usize..20, session_at in 0usize..25) {
            let all = identities(count);
            let mut pool = IdentityPool::default();
            for (at, identity) in all.iter().enumerate() {
                pool.remember(identity, at as u64);
            }
            let session = all.get(session_at);
            let order = pool.claim_order(session);
            let mut ids: Vec<_> = order.iter().map(|(i, _)| i.id.clone()).collect();
            if let Some(session) = session {
                prop_assert_eq!(&ids[0], &session.id);
            }
            let expected = pool.identities().count() + usize::from(
                session.is_some_and(|s| pool.identities().all(|i| i.id != s.id)));
            ids.sort();
            ids.dedup();
            prop_assert_eq!(ids.len(), expected);
            prop_assert_eq!(order.len(), expected);
        }
    }
}
