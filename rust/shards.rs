//! Where an accepted request is stored: the executions stream's subjects.
//!
//! `{prefix}.{lane}.{shard}.{execution_id}`: the lane is `s` for a synchronous
//! execution (a caller waits for it) and `a` for the others; the shard is the
//! customer's, one of [`SHARDS`], so every execution of one customer is in one
//! shard and a worker can take turns between shards (`hookcore.scheduling`)
//! without reading what is queued. KEEP IN SYNC with `hookcore.queue`
//! (`execution_subject`, the consumers' filters), which builds the same
//! subjects for replays and reads [`SHARDS`] from `_core.EXECUTION_SHARDS`.

use crate::key_hash::key_hash;

/// Shards of the executions stream: one durable consumer each. Fixed for a
/// deployment's lifetime (stored subjects name their shard). More shards keep
/// fewer customers behind a flood, and cost JetStream more per message: with
/// 1,000 customers' executions spread over them, one worker ran 0.96-1.0x of
/// what it runs from one queue with 16 shards, 0.75x with 32, 0.45-0.6x with
/// 256 (docs/architecture.md, "Fairness between tenants").
pub const SHARDS: u16 = 16;

/// The lane of executions a caller waits for.
pub const SYNC_LANE: char = 's';
/// The lane of the others.
pub const ASYNC_LANE: char = 'a';

/// The shard of `customer`'s executions: the same in every process and release.
pub fn shard(customer: &str) -> u16 {
    (key_hash(customer) % u64::from(SHARDS)) as u16
}

/// The subject an execution is stored on.
pub fn execution_subject(
    prefix: &str,
    customer: &str,
    synchronous: bool,
    execution_id: &str,
) -> String {
    let lane = if synchronous { SYNC_LANE } else { ASYNC_LANE };
    format!("{prefix}.{lane}.{}.{execution_id}", shard(customer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_name_the_lane_and_the_customers_shard() {
        let id = "0190c4a2b7e07a3c8f1d2e3f4a5b6c7d";
        let a = execution_subject("hookcore.executions", "acme", false, id);
        let s = execution_subject("hookcore.executions", "acme", true, id);
        let shard = shard("acme");
        assert_eq!(a, format!("hookcore.executions.a.{shard}.{id}"));
        assert_eq!(s, format!("hookcore.executions.s.{shard}.{id}"));
    }

    #[test]
    fn customers_spread_over_every_shard() {
        let mut seen = vec![0u32; usize::from(SHARDS)];
        for i in 0..20_000 {
            seen[usize::from(shard(&format!("customer-{i}")))] += 1;
        }
        // 20,000 customers: 1,250 a shard; none more than a tenth off its share.
        assert!(seen.iter().all(|&n| (1125..1375).contains(&n)), "{seen:?}");
    }

    #[test]
    fn shards_do_not_change_between_releases() {
        // Stored subjects name their shard: a release that moved customers between
        // shards would leave queued executions where no consumer of theirs reads.
        assert_eq!(shard("acme"), 8);
        assert_eq!(shard(""), 7);
        assert_eq!(shard("customer-1"), 11);
    }
}
