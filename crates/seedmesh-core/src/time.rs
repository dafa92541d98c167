//! Time as the core sees it: a number of milliseconds passed in by the driver.
//!
//! The core never reads a clock (`std::time::Instant::now()` panics on `wasm32-unknown-unknown`
//! anyway). Drivers pass `performance.now()` in the browser, and a virtual clock in tests.

use core::ops::Add;
use core::time::Duration;

/// A point in time, in milliseconds since an epoch chosen by the driver.
///
/// Only differences between two `Instant`s from the same driver mean anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The instant `millis` milliseconds after the driver's epoch.
    #[must_use]
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the driver's epoch.
    #[must_use]
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// How long after `earlier` this instant is; zero if `earlier` is in fact later.
    #[must_use]
    pub const fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// Adds a duration, saturating at the far future rather than wrapping.
    fn add(self, rhs: Duration) -> Instant {
        let millis = u64::try_from(rhs.as_millis()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(millis))
    }
}

/// An allowance of `burst` events at once and `per_second` after that: the rate limit every
/// machine puts on what one link may make it do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    burst: u32,
    per_second: u32,
    tokens: u32,
    /// When the tokens were last counted.
    refilled: Instant,
    /// Thousandths of a token earned and not yet added.
    carry: u64,
}

impl TokenBucket {
    /// A full bucket at `now`.
    #[must_use]
    pub const fn new(now: Instant, burst: u32, per_second: u32) -> Self {
        Self {
            burst,
            per_second,
            tokens: burst,
            refilled: now,
            carry: 0,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        self.take_many(now, 1)
    }

    /// Takes `n` tokens if there are as many; none otherwise.
    pub fn take_many(&mut self, now: Instant, n: u32) -> bool {
        if now > self.refilled {
            let elapsed = now.as_millis() - self.refilled.as_millis();
            let thousandths = self
                .carry
                .saturating_add(elapsed.saturating_mul(u64::from(self.per_second)));
            let earned = u32::try_from(thousandths / 1000).unwrap_or(u32::MAX);
            self.tokens = self.tokens.saturating_add(earned).min(self.burst);
            self.carry = if self.tokens == self.burst {
                0
            } else {
                thousandths % 1000
            };
            self.refilled = now;
        }
        if self.tokens < n {
            return false;
        }
        self.tokens -= n;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_and_measuring_round_trip() {
        let start = Instant::from_millis(1_000);
        let later = start + Duration::from_millis(250);
        assert_eq!(later.as_millis(), 1_250);
        assert_eq!(later.saturating_since(start), Duration::from_millis(250));
        assert_eq!(start.saturating_since(later), Duration::ZERO);
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let start = Instant::from_millis(0);
        let mut bucket = TokenBucket::new(start, 5, 10);
        assert_eq!((0..20).filter(|_| bucket.take(start)).count(), 5);
        // Ten a second: one every 100 ms, whether asked every 30 ms or every 100.
        let allowed = (1..=100)
            .filter(|i| bucket.take(start + Duration::from_millis(i * 30)))
            .count();
        assert_eq!(allowed, 30);
        let later = start + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| bucket.take(later)).count(), 5);
    }

    #[test]
    fn addition_saturates_instead_of_wrapping() {
        let end = Instant::from_millis(u64::MAX - 1) + Duration::from_secs(10);
        assert_eq!(end.as_millis(), u64::MAX);
    }
}
