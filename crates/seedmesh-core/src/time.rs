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
    fn addition_saturates_instead_of_wrapping() {
        let end = Instant::from_millis(u64::MAX - 1) + Duration::from_secs(10);
        assert_eq!(end.as_millis(), u64::MAX);
    }
}
