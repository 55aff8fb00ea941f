//! Execution ids: UUIDv7 strings, so ids sort by creation time.
//!
//! Within one process ids are strictly increasing (the `uuid` crate keeps a
//! counter inside the millisecond); across processes they sort by millisecond.

use uuid::Uuid;

/// A new time-sortable execution id in canonical lower-case hyphenated form.
pub fn execution_id() -> String {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    Uuid::now_v7()
        .hyphenated()
        .encode_lower(&mut buf)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_v7_and_increase() {
        let ids: Vec<String> = (0..10_000).map(|_| execution_id()).collect();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{} !< {}", pair[0], pair[1]);
        }
        let parsed = Uuid::parse_str(&ids[0]).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(ids[0].len(), 36);
    }
}
