//! NATS server frames: never panic, at most one event per input byte.
#![no_main]

use _core::nats_wire::Wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut wire = Wire::new("_INBOX.fuzz.");
    let mut events = Vec::new();
    // Fed in two pieces, as a socket may split it.
    let (first, second) = data.split_at(data.len() / 2);
    if wire.feed(first, &mut events).is_ok() {
        let _ = wire.feed(second, &mut events);
    }
    assert!(events.len() <= data.len());
});
