//! Which offers a page takes up. Every offer makes the browser build an `RTCPeerConnection`
//! (and Chromium allows a page about 500), so offers from outside, whether a PeerServer or the
//! mesh brought them, are bounded twice: connections opening from offers at once, and offers
//! taken from one source per window.

use core::fmt;
use core::time::Duration;
use std::collections::VecDeque;

use crate::PeerId;
use crate::time::Instant;

/// How many connections taken up from offers may be opening at once.
pub const MAX_OPENING_OFFERED: usize = 16;
/// How many offers one source may have taken up per [`OFFER_WINDOW`].
pub const OFFERS_PER_SOURCE: usize = 4;
/// The window [`OFFERS_PER_SOURCE`] counts in.
pub const OFFER_WINDOW: Duration = Duration::from_secs(10);
/// How many offers taken up are remembered for the count (the oldest go first).
pub const MAX_REMEMBERED_OFFERS: usize = 1024;

/// The bounds an [`Admission`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferLimits {
    /// Connections from offers opening at once.
    pub max_opening: usize,
    /// Offers taken up from one source per `window`.
    pub per_source: usize,
    /// The window `per_source` counts in.
    pub window: Duration,
}

impl Default for OfferLimits {
    /// [`MAX_OPENING_OFFERED`], [`OFFERS_PER_SOURCE`] per [`OFFER_WINDOW`].
    fn default() -> Self {
        Self {
            max_opening: MAX_OPENING_OFFERED,
            per_source: OFFERS_PER_SOURCE,
            window: OFFER_WINDOW,
        }
    }
}

/// Why an offer was not taken up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// As many connections from offers as the limits allow are opening already.
    TooManyOpening(OfferLimits),
    /// The source made as many offers within the window as the limits allow.
    TooManyFrom(PeerId, OfferLimits),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyOpening(limits) => write!(
                f,
                "{} connections offered to this page are opening already; try again in a few \
                 seconds",
                limits.max_opening
            ),
            Self::TooManyFrom(source, limits) => write!(
                f,
                "{source} made {} offers in {} s; its next one is taken later",
                limits.per_source,
                limits.window.as_secs()
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// The count of offers taken up; see the [module](self) docs.
#[derive(Debug, Default)]
pub struct Admission {
    limits: OfferLimits,
    opening: usize,
    /// Offers taken up, oldest first, within the window (at most [`MAX_REMEMBERED_OFFERS`]).
    recent: VecDeque<(Instant, PeerId)>,
}

impl Admission {
    /// An admission keeping `limits`.
    #[must_use]
    pub fn new(limits: OfferLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Takes up an offer from `source` at `now`, or says why not. Each offer taken up must be
    /// reported [`Admission::finished`] once its connection opened or failed.
    pub fn admit(&mut self, now: Instant, source: &PeerId) -> Result<(), Refusal> {
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| *at + self.limits.window <= now)
        {
            self.recent.pop_front();
        }
        if self.opening >= self.limits.max_opening {
            return Err(Refusal::TooManyOpening(self.limits));
        }
        if self.recent.iter().filter(|(_, s)| s == source).count() >= self.limits.per_source {
            return Err(Refusal::TooManyFrom(source.clone(), self.limits));
        }
        self.opening += 1;
        self.recent.push_back((now, source.clone()));
        if self.recent.len() > MAX_REMEMBERED_OFFERS {
            self.recent.pop_front();
        }
        Ok(())
    }

    /// A connection taken up from an offer opened or failed.
    pub fn finished(&mut self) {
        self.opening = self.opening.saturating_sub(1);
    }

    /// How many connections from offers are opening.
    #[must_use]
    pub fn opening(&self) -> usize {
        self.opening
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> PeerId {
        PeerId::parse(&format!("source{n}")).unwrap()
    }

    #[test]
    fn one_source_gets_a_few_offers_per_window() {
        let mut admission = Admission::default();
        let t0 = Instant::from_millis(0);
        for _ in 0..OFFERS_PER_SOURCE {
            admission.admit(t0, &id(1)).unwrap();
            admission.finished();
        }
        assert_eq!(
            admission.admit(t0, &id(1)),
            Err(Refusal::TooManyFrom(id(1), OfferLimits::default()))
        );
        // Others are not held up by it, and it gets more once the window has passed.
        admission.admit(t0, &id(2)).unwrap();
        admission.admit(t0 + OFFER_WINDOW, &id(1)).unwrap();
    }

    #[test]
    fn connections_opening_from_offers_are_bounded() {
        let mut admission = Admission::default();
        let t0 = Instant::from_millis(0);
        for n in 0..MAX_OPENING_OFFERED {
            admission.admit(t0, &id(n)).unwrap();
        }
        assert_eq!(
            admission.admit(t0, &id(999)),
            Err(Refusal::TooManyOpening(OfferLimits::default()))
        );
        admission.finished();
        assert_eq!(admission.opening(), MAX_OPENING_OFFERED - 1);
        admission.admit(t0, &id(999)).unwrap();
    }

    #[test]
    fn a_flood_from_many_sources_is_remembered_within_a_bound() {
        let mut admission = Admission::default();
        let t0 = Instant::from_millis(0);
        for n in 0..10 * MAX_REMEMBERED_OFFERS {
            if admission.admit(t0, &id(n)).is_ok() {
                admission.finished();
            }
        }
        assert_eq!(admission.recent.len(), MAX_REMEMBERED_OFFERS);
        assert_eq!(admission.opening(), 0);
    }
}
