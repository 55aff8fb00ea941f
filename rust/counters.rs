//! The ingress's metrics: counters and a latency histogram in (optionally shared) memory.
//!
//! Every value is a 64-bit atomic word, so the Granian worker processes of one
//! `hookcore serve` add into one block (a file its main process creates in a
//! private directory and removes at exit) and any of them reads the totals of all:
//! a scrape sees the same numbers whichever process answers it. Recording is a
//! few relaxed `fetch_add`s; nothing is ever locked.
//!
//! Layout (words of 8 bytes): a header (magic, version, customer slots), one
//! counter per HTTP status, publish failures, duplicates, requests of customers
//! without a slot, the latency buckets and their sum, then the customer slots
//! (hash, ready flag, count, name length, name). A customer gets a slot the first
//! time one of its requests is accepted, while slots are left; later customers
//! are counted together as "other" (see docs/operations.md for why).

use crate::key_hash::key_hash;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::MmapMut;

const MAGIC: u64 = 0x686f_6f6b_6d74_7231; // "hookmtr1"
/// The layout below; bump it when it changes.
const VERSION: u64 = 1;

const MAGIC_WORD: usize = 0;
const VERSION_WORD: usize = 1;
const SLOTS_WORD: usize = 2;
const HEADER_WORDS: usize = 8;

/// Statuses 0..=599, each its own counter (larger ones count as 599).
const STATUS_WORDS: usize = 600;
const STATUS_BASE: usize = HEADER_WORDS;
const PUBLISH_FAILURES: usize = STATUS_BASE + STATUS_WORDS;
const DUPLICATES: usize = PUBLISH_FAILURES + 1;
const OTHER_CUSTOMERS: usize = DUPLICATES + 1;

/// Upper bounds (nanoseconds, inclusive) of the ingest latency buckets; one more
/// bucket holds everything slower.
pub const LATENCY_BOUNDS_NS: [u64; 17] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
];
const LATENCY_BUCKETS: usize = OTHER_CUSTOMERS + 1;
const LATENCY_SUM: usize = LATENCY_BUCKETS + LATENCY_BOUNDS_NS.len() + 1;
const CUSTOMER_BASE: usize = LATENCY_SUM + 1;

/// Words of one customer slot: hash, ready, count, name length, then the name.
const SLOT_WORDS: usize = 32;
const SLOT_HASH: usize = 0;
const SLOT_READY: usize = 1;
const SLOT_COUNT: usize = 2;
const SLOT_LEN: usize = 3;
const SLOT_NAME: usize = 4;
/// Longest customer id with a slot of its own (longer ones count as "other").
pub const MAX_CUSTOMER_BYTES: usize = (SLOT_WORDS - SLOT_NAME) * 8;

/// Most customer slots a block may have.
pub const MAX_CUSTOMER_SLOTS: usize = 100_000;

fn block_bytes(customer_slots: usize) -> usize {
    (CUSTOMER_BASE + customer_slots * SLOT_WORDS) * 8
}

/// The metrics of one process, or of every process mapping the same file.
pub struct Counters {
    map: MmapMut,
    customer_slots: usize,
}

/// What the counters hold at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// (status, answers) for every status answered at least once, by status.
    pub statuses: Vec<(u16, u64)>,
    pub publish_failures: u64,
    pub duplicates: u64,
    /// Answers per latency bucket (not cumulative): one per bound, then the slower ones.
    pub latency_buckets: Vec<u64>,
    pub latency_sum_ns: u64,
    /// (customer, accepted requests), by customer.
    pub customers: Vec<(String, u64)>,
    /// Accepted requests of customers without a slot.
    pub other_customers: u64,
}

impl Counters {
    /// Counters private to this process.
    pub fn in_process(customer_slots: usize) -> Counters {
        let map = MmapMut::map_anon(block_bytes(customer_slots)).expect("anonymous mmap");
        let counters = Counters {
            map,
            customer_slots,
        };
        counters.write_header();
        counters
    }

    /// Create the block file at `path` (mode 0600; it must not exist) and map it.
    pub fn create(path: &Path, customer_slots: usize) -> std::io::Result<Counters> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        file.set_len(block_bytes(customer_slots) as u64)?;
        let mut header = [0u8; HEADER_WORDS * 8];
        for (word, value) in [
            (MAGIC_WORD, MAGIC),
            (VERSION_WORD, VERSION),
            (SLOTS_WORD, customer_slots as u64),
        ] {
            header[word * 8..word * 8 + 8].copy_from_slice(&value.to_ne_bytes());
        }
        file.write_all_at(&header, 0)?;
        Counters::map_file(&file, path, customer_slots)
    }

    /// Map the block file another process created at `path`; an error says why it does not fit.
    pub fn open(path: &Path, customer_slots: usize) -> std::io::Result<Counters> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        Counters::map_file(&file, path, customer_slots)
    }

    fn map_file(file: &File, path: &Path, customer_slots: usize) -> std::io::Result<Counters> {
        let size = file.metadata()?.len();
        let expected = block_bytes(customer_slots) as u64;
        let misfit = |what: String| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("metrics block {} {what}", path.display()),
            )
        };
        if size != expected {
            return Err(misfit(format!(
                "has {size} bytes, expected {expected} (another hookcore version, or another \
                 HOOKCORE_METRICS_CUSTOMERS)"
            )));
        }
        // SAFETY: the file has the block's size (checked above) and is only ever
        // accessed through this layout with atomics; nobody resizes it.
        let map = unsafe { MmapMut::map_mut(file) }?;
        let counters = Counters {
            map,
            customer_slots,
        };
        let magic = counters.word(MAGIC_WORD).load(Ordering::Acquire);
        let version = counters.word(VERSION_WORD).load(Ordering::Acquire);
        let slots = counters.word(SLOTS_WORD).load(Ordering::Acquire);
        if magic != MAGIC || version != VERSION || slots != customer_slots as u64 {
            return Err(misfit(format!(
                "has magic {magic:#x}, version {version}, {slots} customer slots; expected \
                 {MAGIC:#x}, {VERSION}, {customer_slots}"
            )));
        }
        Ok(counters)
    }

    fn write_header(&self) {
        self.word(MAGIC_WORD).store(MAGIC, Ordering::Release);
        self.word(VERSION_WORD).store(VERSION, Ordering::Release);
        self.word(SLOTS_WORD)
            .store(self.customer_slots as u64, Ordering::Release);
    }

    /// One answer to a trigger request: its status and how long it took.
    pub fn answered(&self, status: u16, elapsed_ns: u64) {
        let status = usize::from(status).min(STATUS_WORDS - 1);
        self.word(STATUS_BASE + status)
            .fetch_add(1, Ordering::Relaxed);
        let bucket = LATENCY_BOUNDS_NS.partition_point(|&bound| bound < elapsed_ns);
        self.word(LATENCY_BUCKETS + bucket)
            .fetch_add(1, Ordering::Relaxed);
        self.word(LATENCY_SUM)
            .fetch_add(elapsed_ns, Ordering::Relaxed);
    }

    pub fn publish_failed(&self) {
        self.word(PUBLISH_FAILURES).fetch_add(1, Ordering::Relaxed);
    }

    pub fn duplicate(&self) {
        self.word(DUPLICATES).fetch_add(1, Ordering::Relaxed);
    }

    /// One accepted request of `customer`: into its slot (claimed now if it has none
    /// and one is free), else into "other".
    pub fn customer(&self, customer: &str) {
        let slots = self.customer_slots;
        if slots == 0 || customer.len() > MAX_CUSTOMER_BYTES {
            self.word(OTHER_CUSTOMERS).fetch_add(1, Ordering::Relaxed);
            return;
        }
        let hash = key_hash(customer);
        let start = (hash % slots as u64) as usize;
        for probe in 0..slots {
            let slot = (start + probe) % slots;
            let key = self.slot_word(slot, SLOT_HASH);
            let owned = match key.load(Ordering::Acquire) {
                k if k == hash => true,
                0 => match key.compare_exchange(0, hash, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => {
                        self.write_name(slot, customer);
                        true
                    }
                    Err(k) => k == hash,
                },
                _ => false,
            };
            if owned {
                self.slot_word(slot, SLOT_COUNT)
                    .fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.word(OTHER_CUSTOMERS).fetch_add(1, Ordering::Relaxed);
    }

    /// The name of a slot this process just claimed, then its ready flag.
    fn write_name(&self, slot: usize, customer: &str) {
        for (i, chunk) in customer.as_bytes().chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.slot_word(slot, SLOT_NAME + i)
                .store(u64::from_ne_bytes(word), Ordering::Relaxed);
        }
        self.slot_word(slot, SLOT_LEN)
            .store(customer.len() as u64, Ordering::Relaxed);
        self.slot_word(slot, SLOT_READY).store(1, Ordering::Release);
    }

    fn read_name(&self, slot: usize) -> String {
        let len = (self.slot_word(slot, SLOT_LEN).load(Ordering::Relaxed) as usize)
            .min(MAX_CUSTOMER_BYTES);
        let mut bytes = Vec::with_capacity(len.next_multiple_of(8));
        for i in 0..len.div_ceil(8) {
            let word = self.slot_word(slot, SLOT_NAME + i).load(Ordering::Relaxed);
            bytes.extend_from_slice(&word.to_ne_bytes());
        }
        bytes.truncate(len);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    pub fn snapshot(&self) -> Snapshot {
        let load = |index: usize| self.word(index).load(Ordering::Relaxed);
        let statuses = (0..STATUS_WORDS)
            .filter_map(|s| {
                let n = load(STATUS_BASE + s);
                (n > 0).then_some((s as u16, n))
            })
            .collect();
        let latency_buckets = (0..=LATENCY_BOUNDS_NS.len())
            .map(|b| load(LATENCY_BUCKETS + b))
            .collect();
        let mut other_customers = load(OTHER_CUSTOMERS);
        let mut customers = Vec::new();
        for slot in 0..self.customer_slots {
            if self.slot_word(slot, SLOT_HASH).load(Ordering::Acquire) == 0 {
                continue;
            }
            let count = self.slot_word(slot, SLOT_COUNT).load(Ordering::Relaxed);
            if self.slot_word(slot, SLOT_READY).load(Ordering::Acquire) == 1 {
                customers.push((self.read_name(slot), count));
            } else {
                // Being claimed right now (or its claimer died mid-way): no name to show yet.
                other_customers += count;
            }
        }
        customers.sort();
        Snapshot {
            statuses,
            publish_failures: load(PUBLISH_FAILURES),
            duplicates: load(DUPLICATES),
            latency_buckets,
            latency_sum_ns: load(LATENCY_SUM),
            customers,
            other_customers,
        }
    }

    fn word(&self, index: usize) -> &AtomicU64 {
        let offset = index * 8;
        assert!(offset + 8 <= self.map.len());
        // SAFETY: in bounds (checked above), 8-byte aligned (the mapping is page
        // aligned and every offset is a multiple of 8), and only accessed atomically.
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU64>() }
    }

    fn slot_word(&self, slot: usize, word: usize) -> &AtomicU64 {
        self.word(CUSTOMER_BASE + slot * SLOT_WORDS + word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_fall_into_their_status_and_latency_bucket() {
        let c = Counters::in_process(4);
        c.answered(200, 90_000);
        c.answered(200, 100_000);
        c.answered(429, 100_001);
        c.answered(200, 60_000_000_000);
        let s = c.snapshot();
        assert_eq!(s.statuses, vec![(200, 3), (429, 1)]);
        assert_eq!(s.latency_buckets[0], 2, "bounds are inclusive");
        assert_eq!(s.latency_buckets[1], 1);
        assert_eq!(s.latency_buckets[LATENCY_BOUNDS_NS.len()], 1);
        assert_eq!(s.latency_buckets.iter().sum::<u64>(), 4);
        assert_eq!(s.latency_sum_ns, 60_000_290_001);
    }

    #[test]
    fn customers_beyond_the_slots_count_as_other() {
        let c = Counters::in_process(2);
        for name in ["a", "b", "a", "c", "d", "b"] {
            c.customer(name);
        }
        c.customer(&"x".repeat(MAX_CUSTOMER_BYTES + 1));
        let s = c.snapshot();
        assert_eq!(s.customers, vec![("a".into(), 2), ("b".into(), 2)]);
        assert_eq!(s.other_customers, 3);
    }

    #[test]
    fn names_of_every_length_up_to_the_limit_read_back() {
        let c = Counters::in_process(64);
        let names: Vec<String> = (1..=MAX_CUSTOMER_BYTES)
            .step_by(7)
            .map(|n| "é".repeat(n / 2) + &"k".repeat(n % 2))
            .collect();
        for name in &names {
            c.customer(name);
        }
        let mut expected: Vec<(String, u64)> = names.iter().map(|n| (n.clone(), 1)).collect();
        expected.sort();
        assert_eq!(c.snapshot().customers, expected);
    }

    #[test]
    fn processes_mapping_one_file_add_into_it() {
        let dir = std::env::temp_dir().join(format!("hookcore-counters-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("block");
        let _ = std::fs::remove_file(&path);
        let first = Counters::create(&path, 8).unwrap();
        let second = Counters::open(&path, 8).unwrap();
        first.answered(200, 1);
        second.answered(200, 1);
        second.customer("acme");
        first.customer("acme");
        second.duplicate();
        first.publish_failed();
        for c in [&first, &second] {
            let s = c.snapshot();
            assert_eq!(s.statuses, vec![(200, 2)]);
            assert_eq!(s.customers, vec![("acme".into(), 2)]);
            assert_eq!((s.duplicates, s.publish_failures), (1, 1));
        }
        assert!(
            Counters::create(&path, 8).is_err(),
            "never two blocks at one path"
        );
        let misfit = Counters::open(&path, 16).err().unwrap().to_string();
        assert!(misfit.contains("HOOKCORE_METRICS_CUSTOMERS"), "{misfit}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
