//! A hash of a string that is the same in every process (SipHash with fixed
//! keys), for tables in shared memory that several processes index alike:
//! the rate-limit buckets (`rate_limit::table`) and the counters' customer
//! slots (`counters`). Never 0, which marks a free slot in both.

pub fn key_hash(key: &str) -> u64 {
    use std::hash::Hasher;
    #[allow(deprecated)]
    let mut hasher = std::hash::SipHasher::new_with_keys(0x6b6f_6f68, 0x6572_6f63);
    hasher.write(key.as_bytes());
    hasher.finish().max(1)
}
