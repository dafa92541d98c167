//! Gossip: room messages that reach every page of a room, however few links each page keeps.
//!
//! Epidemic broadcast trees, as Plumtree (Leitão, Pereira and Rodrigues, 2007) builds them,
//! within limits like gossipsub's:
//!
//! - **Eager push.** Every link starts eager: a new message goes whole on it. A message that
//!   arrives again on an eager link turns that link lazy at both ends
//!   ([`GossipMessage::Prune`]), so the eager links settle into a tree and each page gets each
//!   message about once.
//! - **Lazy announce, pull on demand.** Lazy links hear only the IDs of new messages, in
//!   batches every [`ANNOUNCE_INTERVAL`] ([`GossipMessage::IHave`]). A page that hears of an ID
//!   and has not got the message [`WANT_DELAY`] later asks for it ([`GossipMessage::IWant`]),
//!   which turns that link eager again: the tree mends itself where pages left or messages
//!   were lost.
//! - **Bounds.** A seen-cache (at most [`MAX_SEEN`] IDs, each for [`SEEN_TTL`]) drops
//!   duplicates; a hop limit ([`GossipConfig::max_hops`]) stops circulation; recent messages are
//!   kept to answer wants (at most [`MAX_CACHED_BYTES`], each for [`CACHE_TTL`]). Each link has
//!   an allowance for the messages it pushes ([`PUSH_BURST`], [`PUSHES_PER_SECOND`]), for what
//!   it asks of us ([`SERVE_BURST`], [`SERVES_PER_SECOND`]) and for its control messages
//!   ([`CONTROL_BURST`], [`CONTROLS_PER_SECOND`]): a flooding peer makes us relay no more than
//!   that.
//! - **Delivery counts.** Each page tells the link a message came from how many pages got it
//!   through it, itself included ([`GossipMessage::Counts`]), summed over one
//!   [`ANNOUNCE_INTERVAL`]: the counts flow up the tree to the origin with about one small
//!   message per page. They are what peers say, not proof: a room's size is "about" this.
//!
//! The gossip knows nothing of what it carries: the mesh proves a message's origin before it
//! publishes or relays it.

use std::collections::{BTreeMap, HashMap, VecDeque};

use core::fmt;
use core::time::Duration;

use serde::{Deserialize, Serialize};

use super::LinkId;
use crate::time::{Instant, TokenBucket};

/// How often lazy links hear the IDs of new messages, and delivery counts go up the tree.
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_millis(250);
/// How long after first hearing of a message a page waits for it to be pushed before it asks.
pub const WANT_DELAY: Duration = Duration::from_millis(500);
/// How long a page waits for a message it asked for before it asks the next peer that has it.
pub const WANT_RETRY: Duration = Duration::from_secs(1);
/// How long a message's ID is remembered, to drop it when it comes again.
pub const SEEN_TTL: Duration = Duration::from_secs(120);
/// The most message IDs remembered at once; the oldest are forgotten first.
pub const MAX_SEEN: usize = 16_384;
/// How long a message is kept to answer others' wants.
pub const CACHE_TTL: Duration = Duration::from_secs(30);
/// The most bytes of messages kept to answer wants; the oldest go first.
pub const MAX_CACHED_BYTES: usize = 2 * 1024 * 1024;
/// How long a page keeps asking for a message it heard of.
pub const MISSING_TTL: Duration = Duration::from_secs(30);
/// The most messages a page waits for at once.
pub const MAX_MISSING: usize = 1024;
/// How many peers that have a missing message are remembered, to ask one after another.
pub const MAX_ANNOUNCERS: usize = 4;
/// The most IDs an announcement, a want or a count message carries.
pub const MAX_IDS_PER_MESSAGE: usize = 64;
/// The most IDs waiting to be announced on one link; more are not announced.
pub const MAX_PENDING_ANNOUNCE: usize = 1024;
/// The most delivery counts waiting to go up the tree at once.
pub const MAX_PENDING_COUNTS: usize = 4096;
/// The most of our own messages whose deliveries are counted; older ones stop counting.
pub const MAX_COUNTED: usize = 1024;
/// The longest message ID, in bytes.
pub const MAX_ID_LEN: usize = 160;
/// The longest payload, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;
/// How many messages a link may push to us at once, ours or relayed.
pub const PUSH_BURST: u32 = 64;
/// How many messages a link may push to us each second after a burst.
pub const PUSHES_PER_SECOND: u32 = 32;
/// How many messages we send a link at once because it asked for them.
pub const SERVE_BURST: u32 = 64;
/// How many messages we send a link each second because it asked, after a burst.
pub const SERVES_PER_SECOND: u32 = 32;
/// How many control messages (announcements, wants, prunes, counts) a link may send us at once.
pub const CONTROL_BURST: u32 = 64;
/// How many control messages a link may send us each second after a burst.
pub const CONTROLS_PER_SECOND: u32 = 32;
/// How many messages we may publish at once, and each second after that.
pub const PUBLISH_BURST: u32 = 16;
/// See [`PUBLISH_BURST`].
pub const PUBLISHES_PER_SECOND: u32 = 4;

/// How gossip behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GossipConfig {
    /// How many hops a message may take from its origin; a page that gets it at this many
    /// hops keeps it and passes it on no further.
    pub max_hops: u8,
}

impl Default for GossipConfig {
    fn default() -> Self {
        Self { max_hops: 64 }
    }
}

/// What gossiping pages say to each other on a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum GossipMessage {
    /// A whole message.
    Push {
        /// Its ID, unique in the room.
        id: String,
        /// Hops it took from its origin.
        hops: u8,
        /// What it carries.
        payload: String,
    },
    /// The sender has these messages; the receiver may ask for them.
    IHave {
        /// Their IDs.
        ids: Vec<String>,
    },
    /// The sender asks for these messages, and wants new ones pushed whole on this link.
    IWant {
        /// Their IDs.
        ids: Vec<String>,
    },
    /// The sender got a message twice: from now on it wants only IDs on this link.
    Prune,
    /// How many pages got each message through the sender, since its last counts.
    Counts {
        /// Message IDs and counts.
        counts: Vec<(String, u32)>,
    },
}

/// Why a gossip message from a peer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GossipMessageError {
    /// A message ID is empty or over [`MAX_ID_LEN`] bytes.
    BadId,
    /// More than [`MAX_IDS_PER_MESSAGE`] IDs or counts in one message.
    TooManyIds(usize),
    /// A payload over [`MAX_PAYLOAD_BYTES`].
    PayloadTooLarge(usize),
}

impl fmt::Display for GossipMessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadId => write!(f, "a gossip message ID is empty or over {MAX_ID_LEN} bytes"),
            Self::TooManyIds(n) => write!(
                f,
                "a gossip message with {n} IDs; the limit is {MAX_IDS_PER_MESSAGE}"
            ),
            Self::PayloadTooLarge(n) => write!(
                f,
                "a gossip message of {n} bytes; the limit is {MAX_PAYLOAD_BYTES}"
            ),
        }
    }
}

impl std::error::Error for GossipMessageError {}

impl GossipMessage {
    /// Checks the limits on what a peer may send.
    pub fn validate(&self) -> Result<(), GossipMessageError> {
        let check_id = |id: &str| {
            if id.is_empty() || id.len() > MAX_ID_LEN {
                Err(GossipMessageError::BadId)
            } else {
                Ok(())
            }
        };
        let check_count = |n: usize| {
            if n > MAX_IDS_PER_MESSAGE {
                Err(GossipMessageError::TooManyIds(n))
            } else {
                Ok(())
            }
        };
        match self {
            Self::Push { id, payload, .. } => {
                check_id(id)?;
                if payload.len() > MAX_PAYLOAD_BYTES {
                    return Err(GossipMessageError::PayloadTooLarge(payload.len()));
                }
                Ok(())
            }
            Self::IHave { ids } | Self::IWant { ids } => {
                check_count(ids.len())?;
                ids.iter().try_for_each(|id| check_id(id))
            }
            Self::Prune => Ok(()),
            Self::Counts { counts } => {
                check_count(counts.len())?;
                counts.iter().try_for_each(|(id, _)| check_id(id))
            }
        }
    }
}

/// Why we could not publish a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishError {
    /// Its ID is empty or over [`MAX_ID_LEN`] bytes.
    BadId,
    /// It is over [`MAX_PAYLOAD_BYTES`].
    TooLarge(usize),
    /// A message with this ID went out already.
    Duplicate,
    /// More than [`PUBLISH_BURST`] at once or [`PUBLISHES_PER_SECOND`] after: wait a moment.
    TooFast,
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadId => write!(f, "a message ID must have 1 to {MAX_ID_LEN} bytes"),
            Self::TooLarge(n) => write!(
                f,
                "a room message of {n} bytes; the limit is {MAX_PAYLOAD_BYTES}"
            ),
            Self::Duplicate => write!(f, "a message with this ID was sent already"),
            Self::TooFast => write!(
                f,
                "more than {PUBLISH_BURST} room messages at once or {PUBLISHES_PER_SECOND} a second: wait a moment"
            ),
        }
    }
}

impl std::error::Error for PublishError {}

/// What the gossip wants done or known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GossipOutput {
    /// Send `message` on `link`.
    Send {
        /// The link.
        link: LinkId,
        /// The message.
        message: GossipMessage,
    },
    /// A message arrived for the first time.
    Deliver {
        /// Its ID.
        id: String,
        /// What it carries.
        payload: String,
        /// The link it came on.
        via: LinkId,
        /// Hops it took from its origin.
        hops: u8,
    },
    /// More pages got one of the messages we published.
    Delivered {
        /// Its ID.
        id: String,
        /// How many pages got it so far, as the counts from below say.
        pages: u64,
    },
}

/// Why a gossip message from a link was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GossipDrop {
    /// The link sent more than its allowance.
    RateLimited,
    /// It claims more hops than the limit.
    TooManyHops,
    /// The link is not one the gossip knows (closed, or never opened).
    UnknownLink,
}

/// What the gossip did so far, for tests, diagnostics and the simulator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GossipStats {
    /// Whole messages sent (pushed, or sent because asked for).
    pub pushes_sent: u64,
    /// Whole messages that arrived.
    pub pushes_received: u64,
    /// Whole messages that arrived again.
    pub duplicates: u64,
    /// Messages delivered here for the first time.
    pub delivered: u64,
    /// IDs announced to lazy links.
    pub ids_announced: u64,
    /// IDs asked for.
    pub ids_wanted: u64,
    /// Messages from links dropped, by reason.
    pub dropped: BTreeMap<GossipDrop, u64>,
}

#[derive(Debug)]
struct LinkState {
    eager: bool,
    /// IDs to announce at the next flush.
    announce: Vec<String>,
    pushes: TokenBucket,
    serves: TokenBucket,
    controls: TokenBucket,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    /// The link it came on; `None` for our own.
    parent: Option<LinkId>,
    /// Hops it took to reach us.
    hops: u8,
    /// Links that pushed it to us again with no more hops than it took to reach us: not below
    /// us. Counts go up one of them when the parent's link closes (never back the way they
    /// came).
    nearer: [Option<LinkId>; 2],
}

#[derive(Debug)]
struct Cached {
    hops: u8,
    payload: String,
}

#[derive(Debug)]
struct Missing {
    /// Links that announced it, in order, not yet asked.
    announcers: VecDeque<LinkId>,
    /// When to ask the next one.
    ask_at: Instant,
    /// When we stop waiting for it.
    give_up_at: Instant,
}

/// One page's gossip; see the [module docs](self).
#[derive(Debug)]
pub struct Gossip {
    config: GossipConfig,
    links: BTreeMap<LinkId, LinkState>,
    seen: HashMap<String, Seen>,
    seen_order: VecDeque<(Instant, String)>,
    cache: HashMap<String, Cached>,
    cache_order: VecDeque<(Instant, String)>,
    cache_bytes: usize,
    missing: BTreeMap<String, Missing>,
    /// Counts to send up the tree at the next flush: per parent link, per message.
    counts_up: BTreeMap<LinkId, BTreeMap<String, u32>>,
    pending_counts: usize,
    /// How many pages got each of our own messages, oldest first.
    counted: HashMap<String, u64>,
    counted_order: VecDeque<String>,
    publishes: Option<TokenBucket>,
    next_flush: Option<Instant>,
    /// The latest time any call gave.
    latest: Instant,
    outputs: VecDeque<GossipOutput>,
    stats: GossipStats,
}

impl Gossip {
    /// Gossip with no links yet.
    #[must_use]
    pub fn new(config: GossipConfig) -> Self {
        Self {
            config,
            links: BTreeMap::new(),
            seen: HashMap::new(),
            seen_order: VecDeque::new(),
            cache: HashMap::new(),
            cache_order: VecDeque::new(),
            cache_bytes: 0,
            missing: BTreeMap::new(),
            counts_up: BTreeMap::new(),
            pending_counts: 0,
            counted: HashMap::new(),
            counted_order: VecDeque::new(),
            publishes: None,
            next_flush: None,
            latest: Instant::from_millis(0),
            outputs: VecDeque::new(),
            stats: GossipStats::default(),
        }
    }

    /// A link to a peer of the room opened; it starts eager.
    pub fn link_up(&mut self, now: Instant, link: LinkId) {
        self.links.entry(link).or_insert_with(|| LinkState {
            eager: true,
            announce: Vec::new(),
            pushes: TokenBucket::new(now, PUSH_BURST, PUSHES_PER_SECOND),
            serves: TokenBucket::new(now, SERVE_BURST, SERVES_PER_SECOND),
            controls: TokenBucket::new(now, CONTROL_BURST, CONTROLS_PER_SECOND),
        });
    }

    /// A link closed: nothing more goes on it, and what it announced is asked of others.
    pub fn link_down(&mut self, link: LinkId) {
        self.links.remove(&link);
        for missing in self.missing.values_mut() {
            missing.announcers.retain(|l| *l != link);
        }
        // Counts on their way up this link go up another that is nearer the origin, if any.
        if let Some(counts) = self.counts_up.remove(&link) {
            self.pending_counts -= counts.len();
            let now = self.latest;
            for (id, n) in counts {
                self.count(now, &id, n, link);
            }
        }
    }

    /// Sends a new message of ours to the room.
    pub fn publish(&mut self, now: Instant, id: &str, payload: String) -> Result<(), PublishError> {
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Err(PublishError::BadId);
        }
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(PublishError::TooLarge(payload.len()));
        }
        self.forget_old(now);
        if self.seen.contains_key(id) {
            return Err(PublishError::Duplicate);
        }
        let bucket = self
            .publishes
            .get_or_insert_with(|| TokenBucket::new(now, PUBLISH_BURST, PUBLISHES_PER_SECOND));
        if !bucket.take(now) {
            return Err(PublishError::TooFast);
        }
        self.remember(
            now,
            id,
            Seen {
                parent: None,
                hops: 0,
                nearer: [None; 2],
            },
        );
        self.counted.insert(id.to_owned(), 0);
        self.counted_order.push_back(id.to_owned());
        if self.counted_order.len() > MAX_COUNTED
            && let Some(old) = self.counted_order.pop_front()
        {
            self.counted.remove(&old);
        }
        self.spread(now, id, 0, &payload, None);
        self.keep(now, id, 0, payload);
        Ok(())
    }

    /// Handles a gossip message that arrived on `link` (already [validated](GossipMessage::validate)).
    pub fn handle(&mut self, now: Instant, link: LinkId, message: GossipMessage) {
        self.forget_old(now);
        let Some(state) = self.links.get_mut(&link) else {
            self.drop_for(GossipDrop::UnknownLink);
            return;
        };
        let allowed = match &message {
            GossipMessage::Push { .. } => state.pushes.take(now),
            _ => state.controls.take(now),
        };
        if !allowed {
            self.drop_for(GossipDrop::RateLimited);
            return;
        }
        match message {
            GossipMessage::Push { id, hops, payload } => {
                self.handle_push(now, link, id, hops, payload);
            }
            GossipMessage::IHave { ids } => {
                for id in ids.into_iter().take(MAX_IDS_PER_MESSAGE) {
                    self.handle_announced(now, link, id);
                }
            }
            GossipMessage::IWant { ids } => {
                if let Some(state) = self.links.get_mut(&link) {
                    state.eager = true;
                }
                for id in ids.into_iter().take(MAX_IDS_PER_MESSAGE) {
                    self.serve(now, link, &id);
                }
            }
            GossipMessage::Prune => {
                if let Some(state) = self.links.get_mut(&link) {
                    state.eager = false;
                }
            }
            GossipMessage::Counts { counts } => {
                for (id, n) in counts.into_iter().take(MAX_IDS_PER_MESSAGE) {
                    self.count(now, &id, n, link);
                }
            }
        }
    }

    /// Acts on what is due at `now`: announcements and counts to send, messages to ask for.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.forget_old(now);
        if self.next_flush.is_some_and(|at| at <= now) {
            self.next_flush = None;
            self.flush();
        }
        let due: Vec<String> = self
            .missing
            .iter()
            .filter(|(_, m)| m.ask_at <= now || m.give_up_at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let Some(missing) = self.missing.get_mut(&id) else {
                continue;
            };
            if missing.give_up_at <= now {
                self.missing.remove(&id);
                continue;
            }
            match missing.announcers.pop_front() {
                Some(link) => {
                    missing.ask_at = now + WANT_RETRY;
                    self.stats.ids_wanted += 1;
                    if let Some(state) = self.links.get_mut(&link) {
                        state.eager = true;
                    }
                    self.outputs.push_back(GossipOutput::Send {
                        link,
                        message: GossipMessage::IWant { ids: vec![id] },
                    });
                }
                // Nobody left to ask: wait for another announcement until giving up.
                None => missing.ask_at = missing.give_up_at,
            }
        }
    }

    /// When [`Gossip::handle_timeout`] should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let asks = self.missing.values().map(|m| m.ask_at.min(m.give_up_at));
        self.next_flush.into_iter().chain(asks).min()
    }

    /// The next thing to do or know.
    pub fn poll_output(&mut self) -> Option<GossipOutput> {
        self.outputs.pop_front()
    }

    /// What the gossip did so far.
    #[must_use]
    pub fn stats(&self) -> &GossipStats {
        &self.stats
    }

    /// Whether `link` gets new messages whole (rather than only their IDs).
    #[must_use]
    pub fn is_eager(&self, link: LinkId) -> bool {
        self.links.get(&link).is_some_and(|l| l.eager)
    }

    /// Whether the message `id` was seen here (and not yet forgotten).
    #[must_use]
    pub fn has_seen(&self, id: &str) -> bool {
        self.seen.contains_key(id)
    }

    /// About how many bytes the gossip's memory holds: remembered IDs, kept messages, messages
    /// waiting, counts and links.
    #[must_use]
    pub fn memory_estimate(&self) -> usize {
        const ENTRY: usize = 64;
        let seen: usize = self
            .seen_order
            .iter()
            .map(|(_, id)| 2 * (id.len() + ENTRY))
            .sum();
        let cached: usize = self.cache_bytes + self.cache_order.len() * (2 * ENTRY);
        let missing = self.missing.len() * (MAX_ID_LEN + ENTRY);
        let counts = self.pending_counts * (MAX_ID_LEN / 2 + ENTRY);
        let links: usize = self
            .links
            .values()
            .map(|l| 3 * ENTRY + l.announce.iter().map(|id| id.len() + 24).sum::<usize>())
            .sum();
        seen + cached + missing + counts + links + self.counted.len() * (2 * ENTRY)
    }

    // -----------------------------------------------------------------------------------------

    fn handle_push(&mut self, now: Instant, link: LinkId, id: String, hops: u8, payload: String) {
        self.stats.pushes_received += 1;
        if hops > self.config.max_hops {
            self.drop_for(GossipDrop::TooManyHops);
            return;
        }
        if let Some(seen) = self.seen.get_mut(&id) {
            self.stats.duplicates += 1;
            if hops <= seen.hops
                && seen.parent != Some(link)
                && !seen.nearer.contains(&Some(link))
                && let Some(free) = seen.nearer.iter_mut().find(|l| l.is_none())
            {
                *free = Some(link);
            }
            // A second copy on an eager link: the tree has a loop here. Only IDs from now on.
            if let Some(state) = self.links.get_mut(&link)
                && state.eager
            {
                state.eager = false;
                self.outputs.push_back(GossipOutput::Send {
                    link,
                    message: GossipMessage::Prune,
                });
            }
            return;
        }
        let announced_by = self
            .missing
            .remove(&id)
            .map(|m| m.announcers)
            .unwrap_or_default();
        self.remember(
            now,
            &id,
            Seen {
                parent: Some(link),
                hops,
                nearer: [None; 2],
            },
        );
        self.stats.delivered += 1;
        self.add_count(now, link, &id, 1);
        if hops < self.config.max_hops {
            let mut skip = announced_by;
            skip.push_back(link);
            self.spread(now, &id, hops + 1, &payload, Some(&skip));
        }
        self.outputs.push_back(GossipOutput::Deliver {
            id: id.clone(),
            payload: payload.clone(),
            via: link,
            hops,
        });
        self.keep(now, &id, hops, payload);
    }

    /// Pushes a message to the eager links and queues its ID for the lazy ones, except `skip`.
    fn spread(
        &mut self,
        now: Instant,
        id: &str,
        hops: u8,
        payload: &str,
        skip: Option<&VecDeque<LinkId>>,
    ) {
        let mut flush = false;
        for (link, state) in &mut self.links {
            if skip.is_some_and(|s| s.contains(link)) {
                continue;
            }
            if state.eager {
                self.stats.pushes_sent += 1;
                self.outputs.push_back(GossipOutput::Send {
                    link: *link,
                    message: GossipMessage::Push {
                        id: id.to_owned(),
                        hops,
                        payload: payload.to_owned(),
                    },
                });
            } else if state.announce.len() < MAX_PENDING_ANNOUNCE {
                state.announce.push(id.to_owned());
                flush = true;
            }
        }
        if flush {
            self.flush_at(now);
        }
    }

    fn handle_announced(&mut self, now: Instant, link: LinkId, id: String) {
        if id.is_empty() || id.len() > MAX_ID_LEN || self.seen.contains_key(&id) {
            return;
        }
        if let Some(missing) = self.missing.get_mut(&id) {
            if !missing.announcers.contains(&link) && missing.announcers.len() < MAX_ANNOUNCERS {
                missing.announcers.push_back(link);
                // Asked everyone before and waiting for more: ask this one soon.
                if missing.ask_at == missing.give_up_at {
                    missing.ask_at = now + WANT_DELAY;
                }
            }
            return;
        }
        if self.missing.len() >= MAX_MISSING {
            return;
        }
        self.missing.insert(
            id,
            Missing {
                announcers: VecDeque::from([link]),
                ask_at: now + WANT_DELAY,
                give_up_at: now + MISSING_TTL,
            },
        );
    }

    /// Sends `link` the message `id` it asked for, if we still have it and it may ask.
    fn serve(&mut self, now: Instant, link: LinkId, id: &str) {
        let Some(cached) = self.cache.get(id) else {
            return;
        };
        let Some(state) = self.links.get_mut(&link) else {
            return;
        };
        if !state.serves.take(now) {
            self.drop_for(GossipDrop::RateLimited);
            return;
        }
        self.stats.pushes_sent += 1;
        self.outputs.push_back(GossipOutput::Send {
            link,
            message: GossipMessage::Push {
                id: id.to_owned(),
                hops: cached.hops.saturating_add(1).min(self.config.max_hops),
                payload: cached.payload.clone(),
            },
        });
    }

    /// `n` more pages got message `id` through a link below us.
    fn count(&mut self, now: Instant, id: &str, n: u32, from: LinkId) {
        let Some(seen) = self.seen.get(id).copied() else {
            return;
        };
        match seen.parent {
            Some(parent) => {
                let up = Some(parent)
                    .into_iter()
                    .chain(seen.nearer.into_iter().flatten())
                    .find(|l| *l != from && self.links.contains_key(l));
                if let Some(up) = up {
                    self.add_count(now, up, id, n);
                }
            }
            None => {
                if let Some(total) = self.counted.get_mut(id) {
                    *total = total.saturating_add(u64::from(n));
                    self.outputs.push_back(GossipOutput::Delivered {
                        id: id.to_owned(),
                        pages: *total,
                    });
                }
            }
        }
    }

    fn add_count(&mut self, now: Instant, parent: LinkId, id: &str, n: u32) {
        if !self.links.contains_key(&parent) {
            return;
        }
        let counts = self.counts_up.entry(parent).or_default();
        match counts.get_mut(id) {
            Some(total) => *total = total.saturating_add(n),
            None if self.pending_counts < MAX_PENDING_COUNTS => {
                counts.insert(id.to_owned(), n);
                self.pending_counts += 1;
            }
            None => {}
        }
        self.flush_at(now);
    }

    fn flush_at(&mut self, now: Instant) {
        if self.next_flush.is_none() {
            self.next_flush = Some(now + ANNOUNCE_INTERVAL);
        }
    }

    /// Sends every link its announcements and counts.
    fn flush(&mut self) {
        for (link, state) in &mut self.links {
            let ids = core::mem::take(&mut state.announce);
            self.stats.ids_announced += ids.len() as u64;
            for batch in ids.chunks(MAX_IDS_PER_MESSAGE) {
                self.outputs.push_back(GossipOutput::Send {
                    link: *link,
                    message: GossipMessage::IHave {
                        ids: batch.to_vec(),
                    },
                });
            }
        }
        for (link, counts) in core::mem::take(&mut self.counts_up) {
            let counts: Vec<(String, u32)> = counts.into_iter().collect();
            for batch in counts.chunks(MAX_IDS_PER_MESSAGE) {
                self.outputs.push_back(GossipOutput::Send {
                    link,
                    message: GossipMessage::Counts {
                        counts: batch.to_vec(),
                    },
                });
            }
        }
        self.pending_counts = 0;
    }

    fn remember(&mut self, now: Instant, id: &str, seen: Seen) {
        self.seen.insert(id.to_owned(), seen);
        self.seen_order.push_back((now, id.to_owned()));
        while self.seen_order.len() > MAX_SEEN {
            if let Some((_, old)) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
    }

    fn keep(&mut self, now: Instant, id: &str, hops: u8, payload: String) {
        self.cache_bytes += payload.len();
        self.cache.insert(id.to_owned(), Cached { hops, payload });
        self.cache_order.push_back((now, id.to_owned()));
        while self.cache_bytes > MAX_CACHED_BYTES {
            let Some((_, old)) = self.cache_order.pop_front() else {
                break;
            };
            self.evict_cached(&old);
        }
    }

    fn evict_cached(&mut self, id: &str) {
        if let Some(old) = self.cache.remove(id) {
            self.cache_bytes -= old.payload.len();
        }
    }

    fn forget_old(&mut self, now: Instant) {
        self.latest = self.latest.max(now);
        while let Some((at, _)) = self.seen_order.front() {
            if now.saturating_since(*at) < SEEN_TTL {
                break;
            }
            if let Some((_, id)) = self.seen_order.pop_front() {
                self.seen.remove(&id);
            }
        }
        while let Some((at, _)) = self.cache_order.front() {
            if now.saturating_since(*at) < CACHE_TTL {
                break;
            }
            if let Some((_, id)) = self.cache_order.pop_front() {
                self.evict_cached(&id);
            }
        }
    }

    fn drop_for(&mut self, reason: GossipDrop) {
        *self.stats.dropped.entry(reason).or_default() += 1;
    }
}

#[cfg(test)]
mod tests;
