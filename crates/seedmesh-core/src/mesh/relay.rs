//! Signaling through the mesh: an offer, answer or candidate for a peer this page has no link
//! to, carried by the peers in between, so new links form with no PeerServer.
//!
//! A [`MeshMessage::Signal`](super::MeshMessage::Signal) names its final addressee, its source,
//! how many more hops it may take, and a nonce. [`Relay`] decides, for each one that arrives,
//! whether it is ours, goes on to a linked peer, or is dropped, and keeps every collection it
//! fills from outside bounded:
//!
//! - at most [`MAX_SIGNAL_BYTES`] of body and [`MAX_HOPS`] hops (one peer in between);
//! - a source of the first hop must be the peer on the link it came on (a neighbour cannot
//!   pose as another on its own link);
//! - duplicates (same source and nonce) are dropped, remembered for [`SEEN_TTL`], at most
//!   [`MAX_SEEN`] at once;
//! - each link may hand us [`SIGNAL_BURST`] signals at once and [`SIGNALS_PER_SECOND`] after
//!   that, so one flooding peer makes us relay at most that much.

use std::collections::{BTreeMap, HashSet, VecDeque};

use core::time::Duration;

use super::LinkId;
use crate::peer_id::PeerId;
use crate::time::{Instant, TokenBucket};

/// The largest signaling body relayed, in bytes (an offer with its candidates fits).
pub const MAX_SIGNAL_BYTES: usize = 16 * 1024;
/// The most hops a signal may take from its source to its addressee: one peer in between.
/// A relay passes a signal only to a peer it is linked to, so more hops would never be used,
/// and every hop more is one more peer that could name another as the source.
pub const MAX_HOPS: u8 = 2;
/// How many signals a link may hand us at once.
pub const SIGNAL_BURST: u32 = 40;
/// How many signals a link may hand us each second after a burst.
pub const SIGNALS_PER_SECOND: u32 = 20;
/// How long a signal's source and nonce are remembered to drop its duplicates.
pub const SEEN_TTL: Duration = Duration::from_secs(60);
/// The most signals remembered at once; the oldest are forgotten first.
pub const MAX_SEEN: usize = 4096;

/// What to do with a signal that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// It is for us, from `from`.
    Deliver,
    /// Pass it on, one hop less, on this link.
    Forward(LinkId),
    /// Drop it, for this reason.
    Drop(DropReason),
}

/// Why a signal was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    /// Its body is over [`MAX_SIGNAL_BYTES`], or it claims more than [`MAX_HOPS`] hops, or none.
    OverLimit,
    /// Its source is not the peer of the link it came on, at the first hop; or it comes from
    /// us, or is addressed to its own source.
    ForgedSource,
    /// We saw it already.
    Duplicate,
    /// Its link sent more than the rate allows.
    RateLimited,
    /// It has no hops left, or we have no link to its addressee.
    NoRoute,
}

/// Counts of what the relay did, for tests and diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Signals delivered to us.
    pub delivered: u64,
    /// Signals passed on.
    pub forwarded: u64,
    /// Signals dropped, by reason.
    pub dropped: BTreeMap<DropReason, u64>,
}

/// The relay's memory: recent signals and each link's allowance.
#[derive(Debug, Default)]
pub struct Relay {
    seen: HashSet<(PeerId, u64)>,
    seen_order: VecDeque<(Instant, PeerId, u64)>,
    buckets: BTreeMap<LinkId, TokenBucket>,
    stats: RelayStats,
}

/// A signal as the relay sees it.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The link it came on.
    pub link: LinkId,
    /// The peer on that link, once it introduced itself.
    pub link_peer: Option<&'a PeerId>,
    /// Its addressee.
    pub to: &'a PeerId,
    /// Its source.
    pub from: &'a PeerId,
    /// Hops it may still take.
    pub hops: u8,
    /// Its nonce.
    pub nonce: u64,
    /// Its body's length in bytes.
    pub body_len: usize,
}

impl Relay {
    /// Decides about `signal`, which arrived at `now` on a page whose own ID is `me`;
    /// `route` says which link reaches a peer directly, if any.
    pub fn handle(
        &mut self,
        now: Instant,
        me: &PeerId,
        signal: Incoming<'_>,
        route: impl Fn(&PeerId) -> Option<LinkId>,
    ) -> Decision {
        let decision = self.decide(now, me, signal, route);
        match &decision {
            Decision::Deliver => self.stats.delivered += 1,
            Decision::Forward(_) => self.stats.forwarded += 1,
            Decision::Drop(reason) => *self.stats.dropped.entry(*reason).or_default() += 1,
        }
        decision
    }

    fn decide(
        &mut self,
        now: Instant,
        me: &PeerId,
        signal: Incoming<'_>,
        route: impl Fn(&PeerId) -> Option<LinkId>,
    ) -> Decision {
        if signal.body_len > MAX_SIGNAL_BYTES || signal.hops > MAX_HOPS || signal.hops == 0 {
            return Decision::Drop(DropReason::OverLimit);
        }
        let first_hop = signal.hops == MAX_HOPS;
        if signal.from == me
            || signal.from == signal.to
            || (first_hop && signal.link_peer != Some(signal.from))
        {
            return Decision::Drop(DropReason::ForgedSource);
        }
        if !self.allow(now, signal.link) {
            return Decision::Drop(DropReason::RateLimited);
        }
        self.forget_old(now);
        if !self.seen.insert((signal.from.clone(), signal.nonce)) {
            return Decision::Drop(DropReason::Duplicate);
        }
        self.seen_order
            .push_back((now, signal.from.clone(), signal.nonce));
        if self.seen_order.len() > MAX_SEEN
            && let Some((_, from, nonce)) = self.seen_order.pop_front()
        {
            self.seen.remove(&(from, nonce));
        }
        if signal.to == me {
            return Decision::Deliver;
        }
        match route(signal.to) {
            Some(link) if signal.hops > 1 && link != signal.link => Decision::Forward(link),
            _ => Decision::Drop(DropReason::NoRoute),
        }
    }

    /// Counts a signal dropped before the relay saw it.
    pub fn note_drop(&mut self, reason: DropReason) {
        *self.stats.dropped.entry(reason).or_default() += 1;
    }

    /// Forgets a link's allowance when it closes.
    pub fn forget_link(&mut self, link: LinkId) {
        self.buckets.remove(&link);
    }

    /// What the relay did so far.
    #[must_use]
    pub fn stats(&self) -> &RelayStats {
        &self.stats
    }

    /// How many signals are remembered now (at most [`MAX_SEEN`]).
    #[must_use]
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }

    /// Takes one token from `link`'s bucket, refilled at [`SIGNALS_PER_SECOND`].
    fn allow(&mut self, now: Instant, link: LinkId) -> bool {
        self.buckets
            .entry(link)
            .or_insert_with(|| TokenBucket::new(now, SIGNAL_BURST, SIGNALS_PER_SECOND))
            .take(now)
    }

    fn forget_old(&mut self, now: Instant) {
        while let Some((at, _, _)) = self.seen_order.front() {
            if now.saturating_since(*at) < SEEN_TTL {
                break;
            }
            if let Some((_, from, nonce)) = self.seen_order.pop_front() {
                self.seen.remove(&(from, nonce));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(name: &str) -> PeerId {
        PeerId::parse(name).unwrap()
    }

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    struct Case {
        me: PeerId,
        neighbour: PeerId,
        target: PeerId,
    }

    impl Case {
        fn new() -> Self {
            Self {
                me: id("bob"),
                neighbour: id("alice"),
                target: id("carol"),
            }
        }

        fn signal(&self, hops: u8, nonce: u64) -> Incoming<'_> {
            Incoming {
                link: LinkId(1),
                link_peer: Some(&self.neighbour),
                to: &self.target,
                from: &self.neighbour,
                hops,
                nonce,
                body_len: 500,
            }
        }

        fn route(&self) -> impl Fn(&PeerId) -> Option<LinkId> + '_ {
            move |peer| (*peer == self.target).then_some(LinkId(2))
        }
    }

    #[test]
    fn a_signal_for_a_linked_peer_goes_on_and_one_for_us_is_delivered() {
        let case = Case::new();
        let mut relay = Relay::default();
        assert_eq!(
            relay.handle(at(0), &case.me, case.signal(MAX_HOPS, 1), case.route()),
            Decision::Forward(LinkId(2))
        );
        let mut for_us = case.signal(MAX_HOPS, 2);
        for_us.to = &case.me;
        assert_eq!(
            relay.handle(at(0), &case.me, for_us, case.route()),
            Decision::Deliver
        );
        assert_eq!(relay.stats().forwarded, 1);
        assert_eq!(relay.stats().delivered, 1);
    }

    #[test]
    fn duplicates_forged_sources_and_oversized_signals_are_dropped() {
        let case = Case::new();
        let mut relay = Relay::default();
        let route = case.route();
        assert_eq!(
            relay.handle(at(0), &case.me, case.signal(MAX_HOPS, 7), &route),
            Decision::Forward(LinkId(2))
        );
        assert_eq!(
            relay.handle(at(10), &case.me, case.signal(MAX_HOPS, 7), &route),
            Decision::Drop(DropReason::Duplicate)
        );
        // Remembered for SEEN_TTL only.
        let later = at(0) + SEEN_TTL;
        assert_eq!(
            relay.handle(later, &case.me, case.signal(MAX_HOPS, 7), &route),
            Decision::Forward(LinkId(2))
        );

        let mallory = id("mallory");
        let mut forged = case.signal(MAX_HOPS, 8);
        forged.from = &mallory;
        assert_eq!(
            relay.handle(later, &case.me, forged, &route),
            Decision::Drop(DropReason::ForgedSource)
        );
        let mut from_us = case.signal(MAX_HOPS - 1, 9);
        from_us.from = &case.me;
        assert_eq!(
            relay.handle(later, &case.me, from_us, &route),
            Decision::Drop(DropReason::ForgedSource)
        );
        let mut big = case.signal(MAX_HOPS, 10);
        big.body_len = MAX_SIGNAL_BYTES + 1;
        assert_eq!(
            relay.handle(later, &case.me, big, &route),
            Decision::Drop(DropReason::OverLimit)
        );
        assert_eq!(
            relay.handle(later, &case.me, case.signal(MAX_HOPS + 1, 11), &route),
            Decision::Drop(DropReason::OverLimit)
        );
    }

    #[test]
    fn a_signal_with_no_hops_left_or_no_route_stops_here() {
        let case = Case::new();
        let mut relay = Relay::default();
        let mut last_hop = case.signal(1, 1);
        last_hop.link_peer = Some(&case.me); // not the first hop: any neighbour may carry it
        assert_eq!(
            relay.handle(at(0), &case.me, last_hop, case.route()),
            Decision::Drop(DropReason::NoRoute)
        );
        assert_eq!(
            relay.handle(at(0), &case.me, case.signal(MAX_HOPS, 2), |_| None),
            Decision::Drop(DropReason::NoRoute)
        );
        // Never back on the link it came on.
        assert_eq!(
            relay.handle(at(0), &case.me, case.signal(MAX_HOPS, 3), |_| Some(LinkId(
                1
            ))),
            Decision::Drop(DropReason::NoRoute)
        );
    }

    #[test]
    fn a_flooding_link_is_held_to_its_rate() {
        let case = Case::new();
        let mut relay = Relay::default();
        let route = case.route();
        // 10,000 distinct signals within one second, then ten seconds of one per millisecond.
        let mut forwarded = 0;
        for nonce in 0..10_000u64 {
            let now = at(nonce / 10);
            if let Decision::Forward(_) =
                relay.handle(now, &case.me, case.signal(MAX_HOPS, nonce), &route)
            {
                forwarded += 1;
            }
        }
        let first_second = u64::from(SIGNAL_BURST + SIGNALS_PER_SECOND);
        assert!(
            forwarded <= first_second,
            "forwarded {forwarded} in the first second"
        );
        for ms in 1_000..11_000u64 {
            if let Decision::Forward(_) = relay.handle(
                at(ms),
                &case.me,
                case.signal(MAX_HOPS, 100_000 + ms),
                &route,
            ) {
                forwarded += 1;
            }
        }
        let eleven_seconds = first_second + 10 * u64::from(SIGNALS_PER_SECOND);
        assert!(
            forwarded <= eleven_seconds,
            "forwarded {forwarded} in eleven seconds"
        );
        assert!(
            forwarded >= eleven_seconds - 2,
            "the rate is not honoured: {forwarded}"
        );
        assert!(relay.remembered() <= MAX_SEEN);
        // Another link is not held back by the flood.
        let mut other = case.signal(MAX_HOPS, 999_999);
        other.link = LinkId(3);
        assert_eq!(
            relay.handle(at(11_000), &case.me, other, &route),
            Decision::Forward(LinkId(2))
        );
    }

    proptest! {
        /// Any sequence of signals keeps the relay's memory bounded and never delivers a
        /// first-hop signal whose source is not its link's peer.
        #[test]
        fn any_signals_keep_the_relay_bounded(
            signals in proptest::collection::vec(
                (0u64..3, 0u8..6, 0u64..50, 0usize..20_000, 0u64..5, any::<bool>()),
                0..300,
            )
        ) {
            let names = [id("alice"), id("bob"), id("carol"), id("dave")];
            let me = id("bob");
            let mut relay = Relay::default();
            let mut now = 0;
            for (link, hops, nonce, body_len, step, honest) in signals {
                now += step * 100;
                let link_peer = &names[link as usize];
                let from = if honest { link_peer } else { &names[(link as usize + 1) % 4] };
                let signal = Incoming {
                    link: LinkId(link),
                    link_peer: Some(link_peer),
                    to: &names[(nonce % 4) as usize],
                    from,
                    hops,
                    nonce,
                    body_len,
                };
                let decision = relay.handle(at(now), &me, signal, |p| (*p == names[2]).then_some(LinkId(9)));
                if hops == MAX_HOPS && from != link_peer && body_len <= MAX_SIGNAL_BYTES {
                    prop_assert_eq!(decision.clone(), Decision::Drop(DropReason::ForgedSource));
                }
                if body_len > MAX_SIGNAL_BYTES {
                    prop_assert_eq!(decision, Decision::Drop(DropReason::OverLimit));
                }
                prop_assert!(relay.remembered() <= MAX_SEEN);
                prop_assert_eq!(relay.seen.len(), relay.seen_order.len());
            }
        }
    }
}
