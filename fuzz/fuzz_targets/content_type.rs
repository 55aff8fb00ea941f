//! `Content-Type` parsing: never panics; the kind agrees with `BodyKind::of`.
#![no_main]

use _core::parse::{BodyKind, ContentType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &str| {
    let ct = ContentType::parse(value);
    let kind = ct.kind();
    assert_eq!(BodyKind::of(Some(value), b"x"), Some(kind));
    if let Some((ty, sub)) = ct.type_subtype() {
        assert_eq!(ct.media_type(), format!("{ty}/{sub}"));
    }
    let _ = (ct.charset(), ct.boundary(), ct.params().count());
});
