//! Errors from building a [`Quota`](super::Quota) or opening a
//! [`SharedLimiter`](super::SharedLimiter). Each message says what to change.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a quota or a shared table could not be set up.
#[derive(Debug)]
pub enum LimitError {
    /// The rate is not a finite number above zero.
    InvalidRate(f64),
    /// The burst is zero.
    ZeroBurst,
    /// No burst was given and the default one (the rate rounded up) does not fit a `u32`.
    DefaultBurstTooLarge(f64),
    /// `burst / rate` is longer than the nanosecond clock can hold (about 584 years).
    WindowTooLong { rate: f64, burst: u32 },
    /// The slot count is not a power of two in the supported range.
    InvalidSlots(u64),
    /// A system call on the table file failed.
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    /// The file exists but does not start with the table's magic number.
    NotATable { path: PathBuf },
    /// The file was made by a build with another table layout.
    VersionMismatch {
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    /// The file has another slot count than the one asked for.
    SlotMismatch {
        path: PathBuf,
        found: u64,
        requested: u64,
    },
    /// The file's size does not match the slot count in its header.
    BadSize {
        path: PathBuf,
        found: u64,
        expected: u64,
    },
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitError::InvalidRate(rate) => write!(
                f,
                "rate limit {rate} is invalid: give a finite number of requests per second above 0 (fractions such as 0.5 are allowed)"
            ),
            LimitError::ZeroBurst => {
                write!(f, "burst 0 is invalid: give a burst of at least 1")
            }
            LimitError::DefaultBurstTooLarge(rate) => write!(
                f,
                "rate limit {rate} is too large for the default burst (the rate rounded up must fit 32 bits): give a smaller rate or an explicit burst"
            ),
            LimitError::WindowTooLong { rate, burst } => write!(
                f,
                "a burst of {burst} at {rate} requests/second takes longer than 584 years to refill: raise the rate or lower the burst"
            ),
            LimitError::InvalidSlots(slots) => write!(
                f,
                "{slots} slots is invalid: give a power of two from {} to {} (65536 suits most machines)",
                super::shared::MIN_SLOTS,
                super::shared::MAX_SLOTS
            ),
            LimitError::Io {
                path,
                action,
                source,
            } => write!(
                f,
                "could not {action} rate-limit table {}: {source}; check that the directory exists and is writable by every ingress process",
                path.display()
            ),
            LimitError::NotATable { path } => write!(
                f,
                "{} is not a hookcore rate-limit table (wrong magic number): choose another path, or delete the file if nothing else uses it",
                path.display()
            ),
            LimitError::VersionMismatch {
                path,
                found,
                expected,
            } => write!(
                f,
                "rate-limit table {} has layout version {found} but this build uses version {expected}: run the same hookcore version in every ingress process, or stop them all and delete the file",
                path.display()
            ),
            LimitError::SlotMismatch {
                path,
                found,
                requested,
            } => write!(
                f,
                "rate-limit table {} has {found} slots but {requested} were requested: configure the same slot count in every ingress process, or stop them all and delete the file",
                path.display()
            ),
            LimitError::BadSize {
                path,
                found,
                expected,
            } => write!(
                f,
                "rate-limit table {} is {found} bytes but its header needs {expected}: the file is damaged; stop every ingress process and delete it",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LimitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LimitError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
