//! Capped exponential backoff with full jitter, honouring the server's `Retry-After`.
//!
//! Attempt `n` (0-based) waits a uniformly random time in `[0, min(cap, base * 2^n)]`
//! ("full jitter": tills that failed together do not retry together). A `Retry-After` from
//! the server is a floor, itself capped at `retry_after_cap` so that a bad header cannot park
//! the queue for hours. Pure: the caller passes the random number generator.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    retry_after_cap: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap,
            retry_after_cap: Duration::from_secs(300),
            failures: 0,
        }
    }

    /// The engine's push backoff: 250 ms doubling up to 30 s.
    pub fn for_push() -> Backoff {
        Backoff::new(Duration::from_millis(250), Duration::from_secs(30))
    }

    /// How many failures in a row since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Call after a success: the next failure starts small again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Records a failure and returns how long to wait before the next attempt.
    pub fn next_delay<R: Rng + ?Sized>(
        &mut self,
        rng: &mut R,
        retry_after: Option<Duration>,
    ) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        let jittered = Duration::from_millis(rng.random_range(0..=ceiling_ms));
        match retry_after {
            Some(ra) => jittered.max(ra.min(self.retry_after_cap)),
            None => jittered,
        }
    }

    /// The upper bound of the next delay: `min(cap, base * 2^failures)`.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.failures.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn delays_stay_under_a_doubling_ceiling_that_stops_at_the_cap() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let ceilings: Vec<u128> = (0..8)
            .map(|_| {
                let c = b.ceiling();
                let d = b.next_delay(&mut rng, None);
                assert!(d <= c, "{d:?} > {c:?}");
                c.as_millis()
            })
            .collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1600, 2000, 2000, 2000]);
    }

    #[test]
    fn jitter_spreads_delays_over_the_whole_range() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(10));
        let delays: Vec<Duration> = (0..200).map(|_| b.next_delay(&mut rng, None)).collect();
        assert!(delays.iter().any(|d| *d < Duration::from_secs(2)));
        assert!(delays.iter().any(|d| *d > Duration::from_secs(8)));
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let run = || {
            let mut rng = StdRng::seed_from_u64(42);
            let mut b = Backoff::for_push();
            (0..10)
                .map(|_| b.next_delay(&mut rng, None))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn retry_after_is_a_floor_but_is_itself_capped() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(20));
        assert!(b.next_delay(&mut rng, Some(Duration::from_secs(5))) >= Duration::from_secs(5));
        let d = b.next_delay(&mut rng, Some(Duration::from_secs(86_400)));
        assert_eq!(d, Duration::from_secs(300));
    }

    #[test]
    fn a_success_resets_the_ceiling() {
        let mut rng = StdRng::seed_from_u64(9);
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(60));
        for _ in 0..5 {
            b.next_delay(&mut rng, None);
        }
        assert_eq!(b.failures(), 5);
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_millis(100));
    }

    #[test]
    fn many_failures_never_overflow() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        for _ in 0..100 {
            assert!(b.next_delay(&mut rng, None) <= Duration::from_secs(30));
        }
    }
}
