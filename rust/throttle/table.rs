//! A fixed-size table of buckets in (optionally shared) memory.
//!
//! Slots are 16 bytes: the key's 64-bit hash and the bucket's state (its
//! theoretical arrival time, see `bucket`), both atomics, so processes mapping the same file share
//! buckets without locks. Lookups probe [`PROBES`] slots; when none is free,
//! the bucket idle the longest among them is reused (an idle bucket is full
//! again, so forgetting it loses nothing unless the table is too small for
//! the number of keys active at once).

use std::fs::OpenOptions;
use std::hash::Hasher;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::MmapMut;

use super::bucket::{self, Rate, Verdict};

const MAGIC: u64 = 0x686f_6f6b_636f_7231; // "hookcor1"
const HEADER_BYTES: usize = 64;
const SLOT_BYTES: usize = 16;
/// Slots examined per lookup before reusing the idlest one.
pub const PROBES: usize = 8;

/// Why a table could not be opened.
#[derive(Debug)]
pub enum TableError {
    Io {
        path: String,
        error: std::io::Error,
    },
    /// The file exists with another layout (another hookcore version, or not ours).
    Layout {
        path: String,
        found_slots: u64,
        expected_slots: u64,
    },
}

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableError::Io { path, error } => {
                write!(f, "cannot map rate-limit table {path}: {error}")
            }
            TableError::Layout {
                path,
                found_slots,
                expected_slots,
            } => write!(
                f,
                "rate-limit table {path} has {found_slots} slots, expected {expected_slots}: \
                 stop every hookcore ingress on this machine and delete the file"
            ),
        }
    }
}

impl std::error::Error for TableError {}

/// Buckets keyed by string, in process memory or in a file shared by processes.
pub struct Table {
    map: MmapMut,
    mask: usize,
}

impl Table {
    /// A table private to this process.
    pub fn in_process(slots: usize) -> Table {
        let slots = slots.next_power_of_two();
        let map = MmapMut::map_anon(HEADER_BYTES + slots * SLOT_BYTES).expect("anonymous mmap");
        Table {
            map,
            mask: slots - 1,
        }
    }

    /// Map (creating if needed) the table at `path`, shared with every process that maps it.
    pub fn shared(path: &Path, slots: usize) -> Result<Table, TableError> {
        let slots = slots.next_power_of_two();
        let io = |error| TableError::Io {
            path: path.display().to_string(),
            error,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let size = (HEADER_BYTES + slots * SLOT_BYTES) as u64;
        let len = file.metadata().map_err(io)?.len();
        if len != size && len != 0 {
            return Err(TableError::Layout {
                path: path.display().to_string(),
                found_slots: len.saturating_sub(HEADER_BYTES as u64) / SLOT_BYTES as u64,
                expected_slots: slots as u64,
            });
        }
        if len == 0 {
            file.set_len(size).map_err(io)?;
        }
        // SAFETY: the file is only ever accessed through this layout, with atomics.
        let map = unsafe { MmapMut::map_mut(&file) }.map_err(io)?;
        let table = Table {
            map,
            mask: slots - 1,
        };
        // Every process writes the same header; racing writers agree.
        table.word(0).store(MAGIC, Ordering::Relaxed);
        table.word(1).store(slots as u64, Ordering::Relaxed);
        Ok(table)
    }

    pub fn slots(&self) -> usize {
        self.mask + 1
    }

    /// Take one token from `key`'s bucket.
    pub fn check(&self, key: &str, rate: Rate, now_us: u64) -> Verdict {
        let state = self.slot(key_hash(key));
        loop {
            let old = state.load(Ordering::Acquire);
            let (new, verdict) = bucket::take(old, rate, now_us);
            if state
                .compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return verdict;
            }
        }
    }

    /// What `check` would answer at `now_us`, without taking the token.
    pub fn peek(&self, key: &str, rate: Rate, now_us: u64) -> Verdict {
        let tat = self.slot(key_hash(key)).load(Ordering::Acquire);
        bucket::take(tat, rate, now_us).1
    }

    /// Keys currently holding a slot (for tests and metrics; O(slots)).
    pub fn occupied(&self) -> usize {
        (0..self.slots())
            .filter(|&i| self.key_word(i).load(Ordering::Relaxed) != 0)
            .count()
    }

    /// The state word of `hash`'s slot, claiming (or reusing) one if needed.
    fn slot(&self, hash: u64) -> &AtomicU64 {
        let start = (hash as usize) & self.mask;
        let mut idlest = (start, u64::MAX);
        for probe in 0..PROBES {
            let index = (start + probe) & self.mask;
            let key = self.key_word(index);
            match key.load(Ordering::Acquire) {
                k if k == hash => return self.state_word(index),
                0 => match key.compare_exchange(0, hash, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => return self.state_word(index),
                    Err(k) if k == hash => return self.state_word(index),
                    Err(_) => continue,
                },
                _ => {
                    // The smallest arrival time is the bucket idle (full again) the longest.
                    let tat = self.state_word(index).load(Ordering::Relaxed);
                    if tat < idlest.1 {
                        idlest = (index, tat);
                    }
                }
            }
        }
        // Reuse the idlest probed slot: a fresh (full) bucket for the new key.
        let (index, _) = idlest;
        self.key_word(index).store(hash, Ordering::Release);
        self.state_word(index).store(0, Ordering::Release);
        self.state_word(index)
    }

    fn word(&self, index: usize) -> &AtomicU64 {
        let offset = index * 8;
        assert!(offset + 8 <= self.map.len());
        // SAFETY: in bounds (checked above), 8-byte aligned (the mapping is page
        // aligned and every offset is a multiple of 8), and only accessed atomically.
        unsafe { &*(self.map.as_ptr().add(offset) as *const AtomicU64) }
    }

    fn key_word(&self, slot: usize) -> &AtomicU64 {
        self.word((HEADER_BYTES + slot * SLOT_BYTES) / 8)
    }

    fn state_word(&self, slot: usize) -> &AtomicU64 {
        self.word((HEADER_BYTES + slot * SLOT_BYTES) / 8 + 1)
    }
}

/// A hash that is the same in every process (SipHash with fixed keys); never 0.
fn key_hash(key: &str) -> u64 {
    #[allow(deprecated)]
    let mut hasher = std::hash::SipHasher::new_with_keys(0x6b6f_6f68, 0x6572_6f63);
    hasher.write(key.as_bytes());
    hasher.finish().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn separate_keys_separate_buckets() {
        let table = Table::in_process(1024);
        let rate = Rate::new(2.0, Some(2));
        let allowed = |key: &str| {
            (0..5)
                .filter(|_| table.check(key, rate, 1_000_000).allowed)
                .count()
        };
        assert_eq!(allowed("a"), 2);
        assert_eq!(allowed("b"), 2);
        assert_eq!(table.occupied(), 2);
    }

    #[test]
    fn two_mappings_of_one_file_share_buckets() {
        let dir = std::env::temp_dir().join(format!("hookcore-table-{}", std::process::id()));
        let first = Table::shared(&dir, 4096).unwrap();
        let second = Table::shared(&dir, 4096).unwrap();
        let rate = Rate::new(50.0, Some(50));
        let mut allowed = 0;
        for i in 0..100 {
            let table = if i % 2 == 0 { &first } else { &second };
            allowed += usize::from(table.check("endpoint", rate, 5_000_000).allowed);
        }
        assert_eq!(allowed, 50);
        assert!(matches!(
            Table::shared(&dir, 8192),
            Err(TableError::Layout { .. })
        ));
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn many_threads_never_over_admit() {
        let table = Arc::new(Table::in_process(1024));
        let allowed = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (table, allowed) = (table.clone(), allowed.clone());
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        if table
                            .check("hot", Rate::new(100.0, Some(100)), 7_000_000)
                            .allowed
                        {
                            allowed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(allowed.load(Ordering::Relaxed), 100);
    }

    #[test]
    fn a_million_keys_stay_in_a_fixed_table() {
        let table = Table::in_process(1 << 12);
        for i in 0..1_000_000u64 {
            table.check(&format!("tenant-{i}"), Rate::new(5.0, None), 1_000_000 + i);
        }
        assert!(table.occupied() <= table.slots());
        // a recently used key still has its (drained) bucket
        let rate = Rate::new(1.0, Some(1));
        assert!(table.check("fresh", rate, 5_000_000).allowed);
        assert!(!table.check("fresh", rate, 5_000_000).allowed);
    }
}
