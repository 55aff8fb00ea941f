//! Token-bucket arithmetic in integer nanoseconds, as GCRA (the generic cell
//! rate algorithm).
//!
//! A bucket's whole state is one number, its *theoretical arrival time*
//! (`tat`): the instant at which the bucket would be full again. With the
//! emission interval `T` (nanoseconds per token) and the window
//! `τ = burst · T`, the bucket holds `(now + τ - max(tat, now)) / T` tokens, so
//! a request at `now` passes when `max(tat, now) + T ≤ now + τ`, and then
//! `tat = max(tat, now) + T`. A `tat` at or before `now` is a full bucket, so
//! `0` is a new one.
//!
//! `T` is `1e9 / rate` rounded *up* to a whole nanosecond, so the bucket never
//! admits more than `burst + rate · t` requests in any window of `t` seconds;
//! when `1e9 / rate` is not a whole number of nanoseconds the bucket runs slow
//! by less than one nanosecond per token (a relative error below `rate · 1e-9`).

use super::LimitError;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A rate limit: `rate` tokens per second, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    rate: f64,
    burst: u32,
    interval_ns: u64,
    window_ns: u64,
}

impl Quota {
    /// A quota of `rate` requests per second (> 0, fractions allowed) and
    /// `burst` requests at once (>= 1; `None` means the rate rounded up).
    pub fn new(rate: f64, burst: Option<u32>) -> Result<Quota, LimitError> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(LimitError::InvalidRate(rate));
        }
        let burst = match burst {
            Some(0) => return Err(LimitError::ZeroBurst),
            Some(burst) => burst,
            None if rate.ceil() > f64::from(u32::MAX) => {
                return Err(LimitError::DefaultBurstTooLarge(rate))
            }
            None => rate.ceil() as u32,
        };
        let too_long = LimitError::WindowTooLong { rate, burst };
        let interval_ns = interval_ns(rate).ok_or(too_long)?;
        let window_ns = interval_ns
            .checked_mul(u64::from(burst))
            .ok_or(LimitError::WindowTooLong { rate, burst })?;
        Ok(Quota {
            rate,
            burst,
            interval_ns,
            window_ns,
        })
    }

    /// Tokens added per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The most tokens the bucket holds (`RateLimit-Limit`).
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Nanoseconds per token (`1e9 / rate`, rounded up, at least 1).
    pub fn interval_ns(&self) -> u64 {
        self.interval_ns
    }
}

/// `1e9 / rate` as whole nanoseconds, rounded up; `None` when it overflows.
fn interval_ns(rate: f64) -> Option<u64> {
    let exact = NANOS_PER_SEC as f64 / rate;
    let nearest = exact.round();
    // Float division can land a hair above a whole number (7.000000000000001);
    // rounding that up would slow the bucket by a whole nanosecond per token.
    let ns = if (exact - nearest).abs() <= nearest * 1e-12 {
        nearest
    } else {
        exact.ceil()
    };
    (ns < u64::MAX as f64).then(|| (ns as u64).max(1))
}

/// The outcome of one request, with what the `429` answer and the
/// `RateLimit-*` headers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the request passes (and took a token).
    pub allowed: bool,
    /// The bucket's burst (`RateLimit-Limit`).
    pub limit: u32,
    /// Whole tokens left after this request (`RateLimit-Remaining`).
    pub remaining: u32,
    /// Seconds until the bucket is full again, rounded up (`RateLimit-Reset`).
    pub reset_secs: u32,
    /// When refused: seconds until one token is available, rounded up, at
    /// least 1 (`Retry-After`); 0 when allowed.
    pub retry_after_secs: u32,
}

/// One GCRA step: the verdict and the bucket's `tat` afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    pub verdict: Verdict,
    pub tat_ns: u64,
}

/// Decides a request at `now_ns` against a bucket whose theoretical arrival
/// time is `tat_ns`. Pure: callers store `Step::tat_ns` when it is allowed.
pub(crate) fn step(quota: &Quota, tat_ns: u64, now_ns: u64) -> Step {
    let base = tat_ns.max(now_ns);
    // Nanoseconds of tokens already owed; a request needs `debt + T ≤ τ`.
    let debt = base - now_ns;
    let slack = quota.window_ns - quota.interval_ns;
    let next = base
        .checked_add(quota.interval_ns)
        .filter(|_| debt <= slack);
    let verdict = match next {
        Some(_) => Verdict {
            allowed: true,
            limit: quota.burst,
            remaining: ((slack - debt) / quota.interval_ns) as u32,
            reset_secs: ceil_secs(debt + quota.interval_ns),
            retry_after_secs: 0,
        },
        None => Verdict {
            allowed: false,
            limit: quota.burst,
            remaining: 0,
            reset_secs: ceil_secs(debt),
            retry_after_secs: ceil_secs(debt.saturating_sub(slack)).max(1),
        },
    };
    Step {
        verdict,
        tat_ns: next.unwrap_or(tat_ns),
    }
}

/// Nanoseconds to whole seconds, rounded up, saturating at `u32::MAX`.
fn ceil_secs(ns: u64) -> u32 {
    let secs = ns / NANOS_PER_SEC + u64::from(ns % NANOS_PER_SEC != 0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// One token bucket in ordinary memory (the state [`LocalLimiter`] keeps per
/// key). It also remembers the latest `now` it saw: an earlier `now` (a clock
/// read before another thread's) counts as that time, so time never runs back.
///
/// [`LocalLimiter`]: super::LocalLimiter
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    tat_ns: u64,
    seen_ns: u64,
}

impl Bucket {
    /// A full bucket.
    pub const fn new() -> Bucket {
        Bucket {
            tat_ns: 0,
            seen_ns: 0,
        }
    }

    /// Takes a token at `now_ns` (a monotonic clock in nanoseconds) if one is left.
    pub fn check(&mut self, quota: &Quota, now_ns: u64) -> Verdict {
        let now = now_ns.max(self.seen_ns);
        self.seen_ns = now;
        let step = step(quota, self.tat_ns, now);
        self.tat_ns = step.tat_ns;
        step.verdict
    }

    /// Whether the bucket is full at `now_ns`, and so no different from a new one.
    pub fn is_full(&self, now_ns: u64) -> bool {
        self.tat_ns <= now_ns.max(self.seen_ns)
    }
}

#[cfg(test)]
#[path = "tests/bucket.rs"]
mod tests;
