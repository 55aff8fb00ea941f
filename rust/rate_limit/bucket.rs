//! Token buckets as GCRA (the generic cell rate algorithm): a bucket's whole
//! state is one number, its *theoretical arrival time* (TAT) in microseconds,
//! so it fits one atomic and is updated with a single compare-and-swap.
//!
//! With emission interval `T = 1/rate` and tolerance `τ = (burst - 1)·T`, a
//! request at `t` passes when `max(TAT, t) - t ≤ τ`, and then
//! `TAT = max(TAT, t) + T`. That admits exactly `burst` requests at once and
//! `rate` per second after, so in any window of `w` seconds at most
//! `burst + rate·w` pass. A state of 0 is a bucket never used (full).

const MICROS: f64 = 1_000_000.0;

/// The outcome of one request against a bucket, with what the RateLimit headers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// The bucket's burst (`RateLimit-Limit`).
    pub limit: u32,
    /// Requests that would still pass right now (`RateLimit-Remaining`).
    pub remaining: u32,
    /// Seconds until the bucket is full again (`RateLimit-Reset`), rounded up.
    pub reset_secs: u32,
    /// When refused: seconds until a request can pass (`Retry-After`), at least 1.
    pub retry_after_secs: u32,
}

/// One bucket's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests per second (> 0; fractions allowed).
    pub per_second: f64,
    /// Requests allowed at once (>= 1).
    pub burst: u32,
}

impl Rate {
    /// `burst` defaults to the rate rounded up (the seed: 50/s, burst 50).
    pub fn new(per_second: f64, burst: Option<u32>) -> Rate {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second.max(1e-6)
        } else {
            1e-6
        };
        let default_burst = per_second.ceil().clamp(1.0, f64::from(u32::MAX)) as u32;
        Rate {
            per_second,
            burst: burst.unwrap_or(default_burst).max(1),
        }
    }

    /// This rate split `share` ways (each of `share` machines enforces its part).
    pub fn share(self, share: u32) -> Rate {
        let share = share.max(1);
        Rate {
            per_second: self.per_second / f64::from(share),
            burst: (self.burst / share).max(1),
        }
    }

    fn interval_us(self) -> u64 {
        ((MICROS / self.per_second).round() as u64).max(1)
    }
}

/// Take one request at `now_us` from the bucket whose TAT is `tat`; returns the new TAT and the verdict.
pub fn take(tat: u64, rate: Rate, now_us: u64) -> (u64, Verdict) {
    let interval = rate.interval_us();
    let tolerance = interval.saturating_mul(u64::from(rate.burst - 1));
    let start = tat.max(now_us);
    let used = start - now_us;
    let secs = |us: u64| (us as f64 / MICROS).ceil() as u32;
    if used > tolerance {
        let verdict = Verdict {
            allowed: false,
            limit: rate.burst,
            remaining: 0,
            reset_secs: secs(used),
            retry_after_secs: secs(used - tolerance).max(1),
        };
        return (tat, verdict);
    }
    let new_tat = start.saturating_add(interval);
    let used = new_tat - now_us;
    let verdict = Verdict {
        allowed: true,
        limit: rate.burst,
        remaining: (tolerance.saturating_add(interval).saturating_sub(used) / interval)
            .min(u64::from(u32::MAX)) as u32,
        reset_secs: secs(used),
        retry_after_secs: 0,
    };
    (new_tat, verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000;

    fn run(rate: Rate, times: &[u64]) -> usize {
        let mut tat = 0;
        let mut allowed = 0;
        for &t in times {
            let (next, verdict) = take(tat, rate, t);
            tat = next;
            allowed += usize::from(verdict.allowed);
        }
        allowed
    }

    #[test]
    fn burst_then_refill() {
        let rate = Rate::new(50.0, None);
        assert_eq!(rate.burst, 50);
        assert_eq!(run(rate, &[SECOND; 80]), 50);
        let mut times = vec![SECOND; 80];
        times.extend(vec![2 * SECOND; 80]);
        assert_eq!(run(rate, &times), 100);
    }

    #[test]
    fn at_most_burst_plus_rate_times_window() {
        let rate = Rate::new(50.0, Some(50));
        // a request every millisecond for 10 s
        let times: Vec<u64> = (0..10_000).map(|ms| 5 * SECOND + ms * 1000).collect();
        assert_eq!(run(rate, &times), 50 + 500 - 1);
    }

    #[test]
    fn fractional_rates() {
        let rate = Rate::new(0.5, None);
        assert_eq!(rate.burst, 1);
        let at = |s: f64| (s * SECOND as f64) as u64 + 10 * SECOND;
        assert_eq!(
            run(
                rate,
                &[at(0.0), at(0.5), at(1.9), at(2.0), at(3.0), at(4.0)]
            ),
            3
        );
    }

    #[test]
    fn clock_going_backwards_never_over_admits() {
        let rate = Rate::new(1.0, Some(1));
        assert_eq!(
            run(rate, &[10 * SECOND, 5 * SECOND, 9 * SECOND, 11 * SECOND]),
            2
        );
    }

    #[test]
    fn huge_gaps_and_tiny_rates_do_not_overflow() {
        let (tat, v) = take(1, Rate::new(1000.0, Some(1000)), u64::MAX / 2);
        assert!(v.allowed && v.remaining == 999 && tat > u64::MAX / 2);
        let (_, v) = take(0, Rate::new(1e-9, Some(u32::MAX)), 1);
        assert!(v.allowed);
    }

    #[test]
    fn verdict_headers() {
        let rate = Rate::new(10.0, Some(10));
        let (mut tat, v) = take(0, rate, SECOND);
        assert_eq!((v.limit, v.remaining, v.reset_secs), (10, 9, 1));
        for _ in 0..9 {
            tat = take(tat, rate, SECOND).0;
        }
        let (_, refused) = take(tat, rate, SECOND);
        assert!(!refused.allowed);
        assert_eq!(
            (
                refused.remaining,
                refused.retry_after_secs,
                refused.reset_secs
            ),
            (0, 1, 1)
        );
    }

    #[test]
    fn shares_split_rate_and_burst() {
        let rate = Rate::new(50.0, None).share(2);
        assert_eq!(rate.burst, 25);
        assert!((rate.per_second - 25.0).abs() < 1e-9);
        assert_eq!(Rate::new(1.0, None).share(4).burst, 1);
    }
}
