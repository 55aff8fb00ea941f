//! Rate limiting: token buckets in a lock-free table that every ingress
//! process of a machine can share through a memory-mapped file.
//!
//! `bucket` is the arithmetic (GCRA, one 64-bit state per bucket); `table`
//! stores the states. Splitting limits across machines (each enforces `rate / N`) is
//! decided in Python from the machines registered in JetStream KV; here it
//! is [`Rate::share`]. See docs/rate-limits.md.

pub mod bucket;
pub mod table;

use std::time::{SystemTime, UNIX_EPOCH};

pub use bucket::{Rate, Verdict};
pub use table::{Table, TableError};

/// Microseconds on the machine's monotonic clock (`CLOCK_MONOTONIC`): the same
/// in every process of a machine, which buckets in shared memory need, and
/// immune to the wall clock being stepped.
pub fn now_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) } == 0;
    if !ok {
        return fallback_us();
    }
    // +1 keeps 0 free: a bucket state of 0 means "never used".
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1_000 + 1
}

/// The wall clock, should the monotonic one be unavailable (it never is on Linux).
fn fallback_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(1)
}

/// A source of microseconds: [`now_us`], or a test's own clock.
pub type Clock = Box<dyn Fn() -> u64 + Send + Sync>;

/// The buckets of one process (or machine) and its share of every limit.
pub struct Limiter {
    table: Table,
    share: std::sync::atomic::AtomicU32,
    clock: Clock,
}

impl Limiter {
    pub fn new(table: Table) -> Limiter {
        Limiter::with_clock(table, Box::new(now_us))
    }

    /// A limiter reading time from `clock` (tests stop time with it).
    pub fn with_clock(table: Table, clock: Clock) -> Limiter {
        Limiter {
            table,
            share: std::sync::atomic::AtomicU32::new(1),
            clock,
        }
    }

    /// Enforce `1/machines` of every limit (the others enforce the rest).
    pub fn set_share(&self, machines: u32) {
        self.share
            .store(machines.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Take one request from `key`'s bucket with `rate` (the whole deployment's limit).
    pub fn check(&self, key: &str, rate: Rate) -> Verdict {
        let share = self.share.load(std::sync::atomic::Ordering::Relaxed);
        self.table.check(key, rate.share(share), (self.clock)())
    }

    /// What `check` would answer now, without taking the token.
    pub fn peek(&self, key: &str, rate: Rate) -> Verdict {
        let share = self.share.load(std::sync::atomic::Ordering::Relaxed);
        self.table.peek(key, rate.share(share), (self.clock)())
    }
}
