//! Bounded degree: how many links a page keeps, and with whom.
//!
//! A page keeps between [`DegreeConfig::low`] and [`DegreeConfig::high`] links. It dials peers
//! it has just learned of while it has fewer than [`DegreeConfig::target`] links and dials under
//! way (so a small room is a full mesh); below `low` it dials peers it knew of before, up to
//! `target`; above `high` it closes links until it has `target`. The mesh follows the same
//! policy with its own peer exchange. Whom it dials and whom it lets go are drawn at
//! random (from a generator the driver seeds), never "the newest": random choices keep the
//! links a random graph, which stays one component as pages come and go, as gossipsub's mesh
//! does with its `D_lo`, `D` and `D_hi`.
//!
//! Pages learn of others from what their links tell ([`Degree::learn`]): a new link and a link
//! being let go each get a random [`Degree::sample`] of the peers this page knows, so no page
//! is left knowing nobody.

use std::collections::{BTreeMap, BTreeSet};

use core::fmt;
use core::time::Duration;

use super::LinkId;
use crate::peer_id::PeerId;
use crate::time::Instant;

/// The most peers a page remembers as ones it could dial; past that, a random one is forgotten
/// for each new one.
pub const MAX_KNOWN: usize = 512;
/// How long a peer that could not be dialed is not dialed again.
pub const DIAL_BACKOFF: Duration = Duration::from_secs(60);
/// The most peers remembered as recently failed.
pub const MAX_FAILED: usize = 256;
/// How often a page checks its links against its bounds.
pub const REPAIR_INTERVAL: Duration = Duration::from_secs(1);
/// Links beyond `high` a page accepts while it lets others go.
pub const ACCEPT_ROOM: usize = 4;
/// The most links any configuration may ask for.
pub const MAX_DEGREE: u8 = 64;
/// How many peers a sample for a new or departing link holds.
pub const SAMPLE_SIZE: usize = 16;

/// How many links a page keeps; the seed records may set it (`mesh=low,target,high`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DegreeConfig {
    /// Below this many links, the page dials.
    pub low: u8,
    /// How many links it dials or lets go towards.
    pub target: u8,
    /// Above this many links, it lets some go.
    pub high: u8,
}

impl Default for DegreeConfig {
    /// Gossipsub's defaults: `D_lo` 4, `D` 6, `D_hi` 12.
    fn default() -> Self {
        Self {
            low: 4,
            target: 6,
            high: 12,
        }
    }
}

/// Why a [`DegreeConfig`] cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DegreeError(pub DegreeConfig);

impl fmt::Display for DegreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        write!(
            f,
            "links low {}, target {}, high {}: use 1 ≤ low ≤ target ≤ high ≤ {MAX_DEGREE}",
            c.low, c.target, c.high
        )
    }
}

impl std::error::Error for DegreeError {}

impl DegreeConfig {
    /// The configuration, if `1 ≤ low ≤ target ≤ high ≤ MAX_DEGREE`.
    pub fn checked(self) -> Result<Self, DegreeError> {
        if self.low >= 1
            && self.low <= self.target
            && self.target <= self.high
            && self.high <= MAX_DEGREE
        {
            Ok(self)
        } else {
            Err(DegreeError(self))
        }
    }
}

/// What the page should do about its links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DegreeAction {
    /// Dial this peer; then report [`Degree::linked`] or [`Degree::dial_failed`].
    Dial(PeerId),
    /// Let this link go: send its peer a [`Degree::sample`], then close it.
    Close(LinkId),
}

/// A small, fast generator for the page's random choices (xorshift64*), seeded by the driver.
#[derive(Debug, Clone)]
pub struct Random(u64);

impl Random {
    /// A generator from `seed` (any value; zero is moved off zero).
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (zero when `n` is zero).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }
}

/// One page's links and the peers it could link to; see the [module docs](self).
#[derive(Debug)]
pub struct Degree {
    config: DegreeConfig,
    me: PeerId,
    links: BTreeMap<LinkId, PeerId>,
    dialing: BTreeSet<PeerId>,
    known: Vec<PeerId>,
    failed: BTreeMap<PeerId, Instant>,
    next_repair: Option<Instant>,
    /// Peers learned since the last repair, dialed first while under `target`: a random sample
    /// of at most [`SAMPLE_SIZE`] of them, and how many there were.
    fresh: Vec<PeerId>,
    fresh_seen: usize,
    random: Random,
}

impl Degree {
    /// A page `me` with no links, its random choices drawn from `seed`.
    #[must_use]
    pub fn new(me: PeerId, config: DegreeConfig, seed: u64) -> Self {
        Self {
            config,
            me,
            links: BTreeMap::new(),
            dialing: BTreeSet::new(),
            known: Vec::new(),
            failed: BTreeMap::new(),
            next_repair: None,
            fresh: Vec::new(),
            fresh_seen: 0,
            random: Random::new(seed),
        }
    }

    /// The bounds in use.
    #[must_use]
    pub fn config(&self) -> DegreeConfig {
        self.config
    }

    /// How many links the page has.
    #[must_use]
    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    /// Whether the page takes one more link that someone else dialed.
    #[must_use]
    pub fn may_accept(&self) -> bool {
        self.links.len() < usize::from(self.config.high) + ACCEPT_ROOM
    }

    /// Whether `peer` is linked or being dialed.
    #[must_use]
    pub fn is_linked_or_dialing(&self, peer: &PeerId) -> bool {
        self.dialing.contains(peer) || self.links.values().any(|p| p == peer)
    }

    /// Peers some link told of, as candidates to dial (at most [`MAX_KNOWN`]).
    pub fn learn(&mut self, now: Instant, peers: impl IntoIterator<Item = PeerId>) {
        for peer in peers {
            if peer == self.me || self.known.contains(&peer) {
                continue;
            }
            self.fresh_seen += 1;
            if self.fresh.len() < SAMPLE_SIZE {
                self.fresh.push(peer.clone());
            } else {
                let slot = self.random.below(self.fresh_seen);
                if slot < SAMPLE_SIZE {
                    self.fresh[slot] = peer.clone();
                }
            }
            if self.known.len() < MAX_KNOWN {
                self.known.push(peer);
            } else {
                let victim = self.random.below(self.known.len());
                self.known[victim] = peer;
            }
        }
        self.repair_soon(now);
    }

    /// A link to `peer` opened (dialed by either side).
    pub fn linked(&mut self, now: Instant, link: LinkId, peer: PeerId) {
        self.dialing.remove(&peer);
        self.failed.remove(&peer);
        if !self.known.contains(&peer) && self.known.len() < MAX_KNOWN {
            self.known.push(peer.clone());
        }
        self.links.insert(link, peer);
        self.repair_soon(now);
    }

    /// A link closed.
    pub fn unlinked(&mut self, now: Instant, link: LinkId) {
        if self.links.remove(&link).is_some() {
            self.repair_soon(now);
        }
    }

    /// Dialing `peer` failed: it is not dialed again for [`DIAL_BACKOFF`].
    pub fn dial_failed(&mut self, now: Instant, peer: &PeerId) {
        self.dialing.remove(peer);
        if self.failed.len() >= MAX_FAILED
            && let Some(oldest) = self
                .failed
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(p, _)| p.clone())
        {
            self.failed.remove(&oldest);
        }
        self.failed.insert(peer.clone(), now);
        self.known.retain(|p| p != peer);
        self.repair_soon(now);
    }

    /// Up to [`SAMPLE_SIZE`] peers this page knows, drawn at random from its links and the
    /// peers it heard of, for a link to learn from.
    pub fn sample(&mut self, except: &PeerId) -> Vec<PeerId> {
        let mut pool: Vec<&PeerId> = self
            .links
            .values()
            .chain(self.known.iter())
            .filter(|p| *p != except)
            .collect();
        pool.sort_unstable();
        pool.dedup();
        let mut sample = Vec::new();
        while sample.len() < SAMPLE_SIZE && !pool.is_empty() {
            let pick = self.random.below(pool.len());
            sample.push(pool.swap_remove(pick).clone());
        }
        sample
    }

    /// What to do now to keep within the bounds.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<DegreeAction> {
        if self.next_repair.is_none_or(|at| at > now) {
            return Vec::new();
        }
        self.next_repair = None;
        self.failed
            .retain(|_, at| now.saturating_since(*at) < DIAL_BACKOFF);
        let mut actions = Vec::new();
        let links = self.links.len();
        let low = usize::from(self.config.low);
        let target = usize::from(self.config.target);
        let high = usize::from(self.config.high);
        // Peers just learned of are welcome while under the target.
        let mut fresh = core::mem::take(&mut self.fresh);
        self.fresh_seen = 0;
        while self.links.len() + self.dialing.len() < target && !fresh.is_empty() {
            let peer = fresh.swap_remove(self.random.below(fresh.len()));
            if !self.failed.contains_key(&peer) && !self.is_linked_or_dialing(&peer) {
                self.dialing.insert(peer.clone());
                actions.push(DegreeAction::Dial(peer));
            }
        }
        if links + self.dialing.len() < low {
            let mut candidates: Vec<PeerId> = self
                .known
                .iter()
                .filter(|p| !self.failed.contains_key(*p))
                .filter(|p| !self.dialing.contains(*p) && !self.links.values().any(|l| l == *p))
                .cloned()
                .collect();
            while links + self.dialing.len() < target && !candidates.is_empty() {
                let pick = self.random.below(candidates.len());
                let peer = candidates.swap_remove(pick);
                self.dialing.insert(peer.clone());
                actions.push(DegreeAction::Dial(peer));
            }
        } else if links > high {
            let mut ids: Vec<LinkId> = self.links.keys().copied().collect();
            for _ in target..links {
                let pick = self.random.below(ids.len());
                actions.push(DegreeAction::Close(ids.swap_remove(pick)));
            }
        }
        // Check again in a while: dials may fail, and peers may leave.
        self.next_repair = Some(now + REPAIR_INTERVAL);
        actions
    }

    /// When [`Degree::handle_timeout`] should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_repair
    }

    /// About how many bytes the page's memory of links and peers holds.
    #[must_use]
    pub fn memory_estimate(&self) -> usize {
        const ENTRY: usize = 48;
        let ids = |n: usize| n * (ENTRY + 24);
        ids(self.links.len())
            + ids(self.dialing.len())
            + ids(self.known.len())
            + ids(self.failed.len())
    }

    fn repair_soon(&mut self, now: Instant) {
        if self.next_repair.is_none_or(|at| at > now) {
            self.next_repair = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(n: usize) -> PeerId {
        PeerId::parse(&format!("p{n}")).unwrap()
    }

    #[test]
    fn a_page_dials_up_to_its_target_and_not_past_it() {
        let now = Instant::from_millis(0);
        let mut degree = Degree::new(id(0), DegreeConfig::default(), 1);
        degree.learn(now, (1..50).map(id));
        let actions = degree.handle_timeout(now);
        assert_eq!(actions.len(), 6);
        assert!(actions.iter().all(|a| matches!(a, DegreeAction::Dial(_))));
        // While those dials are under way, nothing more.
        assert!(degree.handle_timeout(now + REPAIR_INTERVAL).is_empty());
    }

    #[test]
    fn dials_are_spread_over_what_the_page_knows() {
        // Over many pages, every known peer is dialed about as often: no favourite.
        let now = Instant::from_millis(0);
        let mut times = vec![0u32; 100];
        for seed in 0..500 {
            let mut degree = Degree::new(id(1000), DegreeConfig::default(), seed);
            degree.learn(now, (0..100).map(id));
            for action in degree.handle_timeout(now) {
                if let DegreeAction::Dial(peer) = action {
                    let n: usize = peer.as_str()[1..].parse().unwrap();
                    times[n] += 1;
                }
            }
        }
        // 3,000 dials over 100 peers: 30 each on average.
        assert!(times.iter().all(|t| (10..=60).contains(t)), "{times:?}");
    }

    #[test]
    fn above_high_links_are_let_go_down_to_target() {
        let now = Instant::from_millis(0);
        let mut degree = Degree::new(id(0), DegreeConfig::default(), 7);
        for n in 1..=14 {
            degree.linked(now, LinkId(n as u64), id(n));
        }
        assert!(degree.may_accept());
        let closes = degree.handle_timeout(now);
        assert_eq!(closes.len(), 8);
        let mut links: Vec<_> = closes
            .iter()
            .map(|a| match a {
                DegreeAction::Close(l) => *l,
                DegreeAction::Dial(_) => panic!("no dial above high"),
            })
            .collect();
        links.sort_unstable();
        links.dedup();
        assert_eq!(links.len(), 8, "each link let go once");
    }

    #[test]
    fn a_failed_peer_waits_before_it_is_dialed_again() {
        let now = Instant::from_millis(0);
        let config = DegreeConfig {
            low: 1,
            target: 1,
            high: 2,
        };
        let mut degree = Degree::new(id(0), config, 3);
        degree.learn(now, [id(1)]);
        assert_eq!(degree.handle_timeout(now), vec![DegreeAction::Dial(id(1))]);
        degree.dial_failed(now, &id(1));
        // It was forgotten; told again, it still waits out the back-off.
        degree.learn(now, [id(1)]);
        assert!(degree.handle_timeout(now).is_empty());
        let later = now + DIAL_BACKOFF;
        degree.learn(later, [id(1)]);
        assert_eq!(
            degree.handle_timeout(later),
            vec![DegreeAction::Dial(id(1))]
        );
    }

    #[test]
    fn configurations_must_be_ordered() {
        assert!(DegreeConfig::default().checked().is_ok());
        let bad = DegreeConfig {
            low: 5,
            target: 4,
            high: 12,
        };
        assert_eq!(bad.checked(), Err(DegreeError(bad)));
        assert!(
            DegreeConfig {
                low: 0,
                target: 0,
                high: 0
            }
            .checked()
            .is_err()
        );
        assert!(
            DegreeConfig {
                low: 1,
                target: 1,
                high: 65
            }
            .checked()
            .is_err()
        );
    }

    proptest! {
        /// Whatever peers are told of, the page remembers at most MAX_KNOWN, never itself, and
        /// a sample holds no duplicates and not the peer it is for.
        #[test]
        fn what_a_page_is_told_stays_bounded(told in proptest::collection::vec(0usize..5_000, 0..3_000), seed in any::<u64>()) {
            let now = Instant::from_millis(0);
            let mut degree = Degree::new(id(0), DegreeConfig::default(), seed);
            degree.learn(now, told.into_iter().map(id));
            prop_assert!(degree.known.len() <= MAX_KNOWN);
            prop_assert!(!degree.known.contains(&id(0)));
            let sample = degree.sample(&id(1));
            let mut unique = sample.clone();
            unique.sort_unstable();
            unique.dedup();
            prop_assert_eq!(unique.len(), sample.len());
            prop_assert!(sample.len() <= SAMPLE_SIZE);
            prop_assert!(!sample.contains(&id(1)));
        }
    }
}
