//! `Content-Type` parsing: never panics; the kind ignores ASCII case, and
//! `BodyKind::of` gives it for any non-empty body.
#![no_main]

use _core::parse::{BodyKind, ContentType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &str| {
    let ct = ContentType::parse(value);
    let kind = ct.kind();
    assert_eq!(ContentType::parse(&value.to_ascii_uppercase()).kind(), kind);
    assert_eq!(BodyKind::of(Some(&ct), b"x"), Some(kind));
    if let Some((ty, sub)) = ct.type_subtype() {
        assert_eq!(ct.media_type(), format!("{ty}/{sub}"));
    }
    let _ = (ct.charset(), ct.boundary(), ct.params().count());
});
