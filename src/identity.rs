//! Who this page is: the identity it claims from the browser's pool and holds while it is open.
//!
//! The decisions (which identity to ask for first, how many to keep) are
//! [`seedmesh_core::identity`]'s; this module reads and writes storage and holds the lock.
//! Every tab of a browser is a peer of its own, and a reloaded tab comes back as the same peer.

use std::cell::RefCell;
use std::time::Duration;

use seedmesh_core::identity::{Claim, Identity, IdentityPool, StoredIdentity};
use seedmesh_core::proof::PeerKey;
use seedmesh_web::clock::random_u32;
use seedmesh_web::locks::{self, HeldLock, LockError};

use crate::state::{HISTORY_PREFIX, history_key};
use crate::storage::{Shared, Tab};

/// The browser's identities, in `localStorage`.
const POOL_KEY: &str = "seedmesh.identities";
/// The lock a page holds while it reads and writes the pool, so that pages starting together
/// do not overwrite each other's entries.
const POOL_LOCK: &str = "seedmesh.identities";
/// How long a page waits for another to finish with the pool.
const POOL_WAIT: Duration = Duration::from_secs(5);
/// This tab's identity, in `sessionStorage`: a reload asks for it first.
const TAB_KEY: &str = "seedmesh.identity";
/// Where one identity for the whole browser was kept before identities were per tab.
const LEGACY_KEY: &str = "seedmesh.identity";
const LEGACY_HISTORY_KEY: &str = "seedmesh.history";
/// How long a reloaded tab waits for the page it replaces to let go of its identity. A
/// duplicated tab (which copies the original's `sessionStorage`) waits this long too, then
/// takes another identity.
const RELOAD_WAIT: Duration = Duration::from_secs(3);

thread_local! {
    /// The lock on this page's identity, held until the page goes.
    static HELD: RefCell<Option<HeldLock>> = const { RefCell::new(None) };
}

/// Claims an identity no other page of this browser is using: this tab's own from before a
/// reload, else a stored one nobody holds, else a fresh one. Without Web Locks (an insecure
/// `http:` address) only this tab's own identity is safe to reuse, so a new tab takes a fresh one.
pub async fn claim() -> Identity {
    let _pool_lock = locks::acquire(POOL_LOCK, Some(POOL_WAIT)).await;
    let mut pool = load_pool();
    let own = Tab
        .load::<StoredIdentity>(TAB_KEY)
        .and_then(|s| s.restore());
    let claimed = match claim_stored(&pool, own.as_ref()).await {
        Ok(Some(identity)) => identity,
        Ok(None) => claim_fresh().await,
        Err(_) => own.unwrap_or_else(|| Identity::fresh(&mut random_u32)),
    };
    remember_in(&mut pool, &claimed);
    forget_orphan_histories(&pool);
    claimed
}

/// Goes by `new` instead of `old`, whose ID the PeerServer holds for someone else: holds the
/// new identity's lock and forgets the old identity and its history.
pub async fn replace(old: Identity, new: Identity) {
    let _pool_lock = locks::acquire(POOL_LOCK, Some(POOL_WAIT)).await;
    if let Ok(Some(held)) = locks::acquire(&new.lock_name(), None).await {
        HELD.with(|h| *h.borrow_mut() = Some(held));
    }
    let mut pool = load_pool();
    pool.forget(&old.id);
    Shared.remove(&history_key(&old.id));
    remember_in(&mut pool, &new);
}

/// Goes by `key` from now on (a key exported from another browser, say): this tab's identity
/// becomes the key's, keeping `name`, and the page loads again under it.
pub async fn adopt(key: PeerKey, name: String) {
    {
        let _pool_lock = locks::acquire(POOL_LOCK, Some(POOL_WAIT)).await;
        let mut pool = load_pool();
        let mut identity = Identity::with_key(key, &mut random_u32);
        if let Some(known) = pool.identities().find(|i| i.id == identity.id) {
            identity.token = known.token.clone();
        }
        identity.name = name;
        remember_in(&mut pool, &identity);
    }
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

/// Keeps a change to this page's identity (its name) for its reloads and later visits.
pub fn remember(identity: &Identity) {
    remember_in(&mut load_pool(), identity);
}

/// Records `identity` in `pool` as the one in use, and stores both.
fn remember_in(pool: &mut IdentityPool, identity: &Identity) {
    let now = js_sys::Date::now().max(0.0) as u64;
    for forgotten in pool.remember(identity, now) {
        Shared.remove(&history_key(&forgotten));
    }
    Shared.save(POOL_KEY, &pool.to_stored());
    Tab.save(TAB_KEY, &identity.to_stored(now));
}

async fn claim_stored(
    pool: &IdentityPool,
    own: Option<&Identity>,
) -> Result<Option<Identity>, LockError> {
    for (identity, claim) in pool.claim_order(own) {
        let wait = match claim {
            Claim::WaitBriefly => Some(RELOAD_WAIT),
            Claim::IfFree => None,
        };
        if let Some(held) = locks::acquire(&identity.lock_name(), wait).await? {
            HELD.with(|h| *h.borrow_mut() = Some(held));
            return Ok(Some(identity));
        }
    }
    Ok(None)
}

async fn claim_fresh() -> Identity {
    let mut identity = Identity::fresh(&mut random_u32);
    // A fresh ID is held already only if the random draw repeated one: draw again.
    for _ in 0..3 {
        match locks::acquire(&identity.lock_name(), None).await {
            Ok(Some(held)) => {
                HELD.with(|h| *h.borrow_mut() = Some(held));
                break;
            }
            Ok(None) => identity = Identity::fresh(&mut random_u32),
            Err(_) => break,
        }
    }
    identity
}

/// Removes the chat histories of identities `pool` no longer has.
fn forget_orphan_histories(pool: &IdentityPool) {
    for key in Shared.keys_with_prefix(HISTORY_PREFIX) {
        let id = &key[HISTORY_PREFIX.len()..];
        if !pool.identities().any(|i| i.id.as_str() == id) {
            Shared.remove(&key);
        }
    }
}

/// The browser's pool, with the one identity of older versions moved into it. Entries are
/// read one by one: one that is unreadable costs only itself.
fn load_pool() -> IdentityPool {
    let stored: Vec<StoredIdentity> = Shared
        .load::<Vec<serde_json::Value>>(POOL_KEY)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|entry| serde_json::from_value(entry).ok())
        .collect();
    let mut pool = IdentityPool::from_stored(&stored);
    if let Some(legacy) = Shared
        .load::<StoredIdentity>(LEGACY_KEY)
        .and_then(|s| s.restore())
    {
        if let Some(history) = Shared.load::<serde_json::Value>(LEGACY_HISTORY_KEY) {
            Shared.save(&history_key(&legacy.id), &history);
        }
        pool.remember(&legacy, 0);
        Shared.save(POOL_KEY, &pool.to_stored());
        Shared.remove(LEGACY_KEY);
        Shared.remove(LEGACY_HISTORY_KEY);
    }
    pool
}
