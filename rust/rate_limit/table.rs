//! A fixed-size table of buckets in (optionally shared) memory.
//!
//! Slots are 16 bytes: the key's 64-bit hash and the bucket's state (its
//! theoretical arrival time, see `bucket`), both atomics, so processes mapping the same file share
//! buckets without locks. Lookups probe [`PROBES`] slots; when none is free,
//! the bucket idle the longest among them is reused (an idle bucket is full
//! again, so forgetting it loses nothing unless the table is too small for
//! the number of keys active at once).
//!
//! A shared table is a file in a world-writable directory (`/dev/shm`), so it
//! is trusted only if this user made it: a regular file (not a symbolic
//! link), owned by the effective uid, with no access for group or others,
//! exactly the expected size, with our magic, version and slot count. It is
//! created complete under a temporary name and hard-linked into place (which
//! fails rather than replaces if another process got there first), so no
//! process ever maps a half-made table and none ever resizes a file that
//! another may have mapped (a mapping beyond a file's end faults: SIGBUS).

use crate::key_hash::key_hash;
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::MmapMut;

use super::bucket::{self, Rate, Verdict};

const MAGIC: u64 = 0x686f_6f6b_636f_7231; // "hookcor1"
/// The header and slot layout; bump it when either changes.
const VERSION: u64 = 2;
const HEADER_BYTES: usize = 64;
const SLOT_BYTES: usize = 16;
/// Header words: magic, slot count, version.
const MAGIC_WORD: usize = 0;
const SLOTS_WORD: usize = 1;
const VERSION_WORD: usize = 2;
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
    /// The file is not one this user made for this purpose: `reason` says what is wrong.
    Untrusted {
        path: String,
        reason: String,
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
            TableError::Untrusted { path, reason } => {
                write!(f, "rate-limit table {path} cannot be trusted: {reason}")
            }
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

    /// Map the table at `path`, shared with every process of this user that maps it;
    /// create it (mode 0600) if there is none. Refuses a file it cannot trust (see the module doc).
    pub fn shared(path: &Path, slots: usize) -> Result<Table, TableError> {
        let slots = slots.next_power_of_two();
        let size = (HEADER_BYTES + slots * SLOT_BYTES) as u64;
        let file = match open_existing(path) {
            Err(e) if e.kind() == ErrorKind::NotFound => create(path, slots, size),
            opened => opened,
        }
        .map_err(|error| opening_error(path, error))?;
        check_file(&file, path, size)?;
        // SAFETY: the file is ours (checked above: owner, mode, size), only ever
        // accessed through this layout with atomics, and never resized once in place.
        let map = unsafe { MmapMut::map_mut(&file) }.map_err(|error| TableError::Io {
            path: path.display().to_string(),
            error,
        })?;
        let table = Table {
            map,
            mask: slots - 1,
        };
        table.check_header(path, slots)?;
        Ok(table)
    }

    fn check_header(&self, path: &Path, slots: usize) -> Result<(), TableError> {
        let untrusted = |reason: String| TableError::Untrusted {
            path: path.display().to_string(),
            reason,
        };
        let magic = self.word(MAGIC_WORD).load(Ordering::Acquire);
        if magic != MAGIC {
            return Err(untrusted(format!(
                "it does not start with hookcore's magic number (found {magic:#018x})"
            )));
        }
        let version = self.word(VERSION_WORD).load(Ordering::Acquire);
        if version != VERSION {
            return Err(untrusted(format!(
                "its layout version is {version}, this hookcore uses {VERSION}"
            )));
        }
        let found = self.word(SLOTS_WORD).load(Ordering::Acquire);
        if found != slots as u64 {
            return Err(TableError::Layout {
                path: path.display().to_string(),
                found_slots: found,
                expected_slots: slots as u64,
            });
        }
        Ok(())
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
        unsafe { &*self.map.as_ptr().add(offset).cast::<AtomicU64>() }
    }

    fn key_word(&self, slot: usize) -> &AtomicU64 {
        self.word((HEADER_BYTES + slot * SLOT_BYTES) / 8)
    }

    fn state_word(&self, slot: usize) -> &AtomicU64 {
        self.word((HEADER_BYTES + slot * SLOT_BYTES) / 8 + 1)
    }
}

/// Open an existing table file for reading and writing, never through a symbolic link.
fn open_existing(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Create a complete table (size and header) under a private temporary name,
/// then hard-link it to `path`. If another process linked its table first, use
/// that one: `link` never replaces a file.
fn create(path: &Path, slots: usize, size: u64) -> std::io::Result<File> {
    let tmp = temporary_name(path);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    let made = (|| {
        file.set_len(size)?;
        let mut header = [0u8; HEADER_BYTES];
        for (word, value) in [
            (MAGIC_WORD, MAGIC),
            (SLOTS_WORD, slots as u64),
            (VERSION_WORD, VERSION),
        ] {
            header[word * 8..word * 8 + 8].copy_from_slice(&value.to_ne_bytes());
        }
        file.write_all_at(&header, 0)?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match made {
        Ok(()) => Ok(file),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => open_existing(path),
        Err(e) => Err(e),
    }
}

fn temporary_name(path: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.{nanos}.tmp", std::process::id()));
    path.with_file_name(name)
}

fn opening_error(path: &Path, error: std::io::Error) -> TableError {
    if error.raw_os_error() == Some(libc::ELOOP) {
        return TableError::Untrusted {
            path: path.display().to_string(),
            reason: "it is a symbolic link".to_owned(),
        };
    }
    TableError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// The file is a regular file of this user's, private to them, of exactly `size` bytes.
fn check_file(file: &File, path: &Path, size: u64) -> Result<(), TableError> {
    let meta = file.metadata().map_err(|error| TableError::Io {
        path: path.display().to_string(),
        error,
    })?;
    let untrusted = |reason: String| TableError::Untrusted {
        path: path.display().to_string(),
        reason,
    };
    if !meta.file_type().is_file() {
        return Err(untrusted("it is not a regular file".to_owned()));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if meta.uid() != uid {
        return Err(untrusted(format!(
            "it belongs to uid {}, not to this process's uid {uid}",
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(untrusted(format!(
            "its mode is {mode:04o}: other users may read or write it (hookcore creates it 0600)"
        )));
    }
    if meta.len() != size {
        return Err(TableError::Layout {
            path: path.display().to_string(),
            found_slots: meta.len().saturating_sub(HEADER_BYTES as u64) / SLOT_BYTES as u64,
            expected_slots: size.saturating_sub(HEADER_BYTES as u64) / SLOT_BYTES as u64,
        });
    }
    Ok(())
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

    /// A fresh directory for one test's table file (removed by the test).
    fn scratch(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("hookcore-table-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn untrusted_reason(result: Result<Table, TableError>) -> String {
        match result {
            Err(TableError::Untrusted { reason, .. }) => reason,
            Err(other) => panic!("expected an untrusted table, got {other}"),
            Ok(_) => panic!("expected an untrusted table, it was mapped"),
        }
    }

    /// A file of the right size and header, written as a planted file would be.
    fn plant(path: &Path, slots: u64, magic: u64, version: u64, mode: u32) {
        let mut bytes = vec![0u8; HEADER_BYTES + slots as usize * SLOT_BYTES];
        bytes[0..8].copy_from_slice(&magic.to_ne_bytes());
        bytes[8..16].copy_from_slice(&slots.to_ne_bytes());
        bytes[16..24].copy_from_slice(&version.to_ne_bytes());
        std::fs::write(path, bytes).unwrap();
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }

    #[test]
    fn two_mappings_of_one_file_share_buckets() {
        let dir = scratch("share");
        let path = dir.join("t.rates");
        let first = Table::shared(&path, 4096).unwrap();
        let second = Table::shared(&path, 4096).unwrap();
        let rate = Rate::new(50.0, Some(50));
        let mut allowed = 0;
        for i in 0..100 {
            let table = if i % 2 == 0 { &first } else { &second };
            allowed += usize::from(table.check("endpoint", rate, 5_000_000).allowed);
        }
        assert_eq!(allowed, 50);
        assert!(matches!(
            Table::shared(&path, 8192),
            Err(TableError::Layout { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_created_table_is_private_to_its_user_and_complete() {
        let dir = scratch("private");
        let path = dir.join("t.rates");
        let table = Table::shared(&path, 1024).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(meta.uid(), unsafe { libc::geteuid() });
        assert_eq!(meta.len(), (HEADER_BYTES + 1024 * SLOT_BYTES) as u64);
        assert_eq!(table.word(MAGIC_WORD).load(Ordering::Relaxed), MAGIC);
        assert_eq!(table.word(VERSION_WORD).load(Ordering::Relaxed), VERSION);
        assert_eq!(table.word(SLOTS_WORD).load(Ordering::Relaxed), 1024);
        // no temporary file is left behind
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn processes_racing_to_create_share_one_table() {
        let dir = scratch("race");
        let path = Arc::new(dir.join("t.rates"));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let table = Table::shared(&path, 1024).unwrap();
                    (0..20)
                        .filter(|_| {
                            table
                                .check("k", Rate::new(10.0, Some(10)), 9_000_000)
                                .allowed
                        })
                        .count()
                })
            })
            .collect();
        let allowed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(allowed, 10, "every thread mapped the same table");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wrong_magic_is_refused() {
        let dir = scratch("magic");
        let path = dir.join("t.rates");
        plant(&path, 1024, 0x6576_696c, VERSION, 0o600);
        assert!(untrusted_reason(Table::shared(&path, 1024)).contains("magic"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wrong_version_is_refused() {
        let dir = scratch("version");
        let path = dir.join("t.rates");
        plant(&path, 1024, MAGIC, VERSION + 1, 0o600);
        assert!(untrusted_reason(Table::shared(&path, 1024)).contains("version"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wrong_slot_count_in_the_header_is_refused() {
        let dir = scratch("slots");
        let path = dir.join("t.rates");
        // the size of a 1024-slot table, a header claiming 2048
        plant(&path, 1024, MAGIC, VERSION, 0o600);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8..16].copy_from_slice(&2048u64.to_ne_bytes());
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(
            Table::shared(&path, 1024),
            Err(TableError::Layout {
                found_slots: 2048,
                ..
            })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_truncated_or_empty_file_is_refused_and_left_as_it_is() {
        let dir = scratch("truncated");
        let path = dir.join("t.rates");
        drop(Table::shared(&path, 1024).unwrap());
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        for len in [HEADER_BYTES as u64 + 100, 0] {
            file.set_len(len).unwrap();
            assert!(matches!(
                Table::shared(&path, 1024),
                Err(TableError::Layout { .. })
            ));
            // Never resized: another process may have it mapped.
            assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_other_users_may_write_is_refused() {
        let dir = scratch("mode");
        let path = dir.join("t.rates");
        plant(&path, 1024, MAGIC, VERSION, 0o644);
        assert!(untrusted_reason(Table::shared(&path, 1024)).contains("mode is 0644"));
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o606))
            .unwrap();
        assert!(untrusted_reason(Table::shared(&path, 1024)).contains("mode is 0606"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_of_another_user_is_refused() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: only root can give a file to another user");
            return;
        }
        let dir = scratch("owner");
        let path = dir.join("t.rates");
        // A valid table in every other respect, even 0600, but another user's.
        plant(&path, 1024, MAGIC, VERSION, 0o600);
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        let reason = untrusted_reason(Table::shared(&path, 1024));
        assert!(reason.contains("uid 65534"), "{reason}");
        // and with the mode another user would give it
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        assert!(untrusted_reason(Table::shared(&path, 1024)).contains("uid 65534"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symbolic_link_is_refused() {
        let dir = scratch("symlink");
        let target = dir.join("elsewhere");
        drop(Table::shared(&target, 1024).unwrap());
        let path = dir.join("t.rates");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(untrusted_reason(Table::shared(&path, 1024)).contains("symbolic link"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_or_fifo_is_refused() {
        let dir = scratch("special");
        let path = dir.join("t.rates");
        std::fs::create_dir(&path).unwrap();
        assert!(Table::shared(&path, 1024).is_err());
        std::fs::remove_dir(&path).unwrap();
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        assert!(untrusted_reason(Table::shared(&path, 1024)).contains("not a regular file"));
        std::fs::remove_dir_all(&dir).unwrap();
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
