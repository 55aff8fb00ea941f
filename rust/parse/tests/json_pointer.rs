//! Unit tests of JSON Pointer lookups.

use super::*;

const DOC: &[u8] = br#"{
  "type": "order.created",
  "data": {"id": 42, "price": -1.5e2, "paid": true, "refunded": false, "note": null,
           "items": [{"sku": "A-1"}, {"sku": "B\"2"}], "obj": {}, "arr": []},
  "a/b": "slash", "m~n": "tilde", "": "empty", "esc\u0041pe": "escaped key",
  "unicode": "caf\u00e9 \ud83d\ude00 ok", "dup": 1, "dup": "last"
}"#;

fn text(pointer: &str) -> Option<String> {
    json_pointer(DOC, pointer).map(|s| s.as_text().to_owned())
}

#[test]
fn finds_scalars() {
    assert_eq!(
        json_pointer(DOC, "/type"),
        Some(JsonScalar::String(Cow::Borrowed("order.created")))
    );
    assert_eq!(
        json_pointer(DOC, "/data/id"),
        Some(JsonScalar::Number("42"))
    );
    assert_eq!(
        json_pointer(DOC, "/data/price"),
        Some(JsonScalar::Number("-1.5e2"))
    );
    assert_eq!(
        json_pointer(DOC, "/data/paid"),
        Some(JsonScalar::Bool(true))
    );
    assert_eq!(text("/data/refunded").as_deref(), Some("false"));
    assert_eq!(text("/data/items/0/sku").as_deref(), Some("A-1"));
    assert_eq!(text("/data/items/1/sku").as_deref(), Some("B\"2"));
    assert_eq!(text("/unicode").as_deref(), Some("café 😀 ok"));
}

#[test]
fn escapes_in_pointer_and_keys() {
    assert_eq!(text("/a~1b").as_deref(), Some("slash"));
    assert_eq!(text("/m~0n").as_deref(), Some("tilde"));
    assert_eq!(text("/").as_deref(), Some("empty"));
    assert_eq!(text("/escApe").as_deref(), Some("escaped key"));
    assert_eq!(text("/escape"), None);
    assert_eq!(text("/m~2n"), None);
    assert_eq!(text("/m~"), None);
}

#[test]
fn last_duplicate_key_wins() {
    assert_eq!(text("/dup").as_deref(), Some("last"));
}

#[test]
fn missing_or_non_scalar() {
    for pointer in [
        "/data/note",
        "/data",
        "/data/obj",
        "/data/arr",
        "/data/items",
        "/data/items/2",
        "/data/items/-",
        "/data/items/01",
        "/data/items/x",
        "/data/id/0",
        "/nope",
        "/data/obj/x",
        "/data/arr/0",
        "type",
        "/data/items/99999999999999999999999",
    ] {
        assert_eq!(text(pointer), None, "{pointer}");
    }
}

#[test]
fn whole_document_pointer() {
    assert_eq!(
        json_pointer(b" \"x\" ", ""),
        Some(JsonScalar::String(Cow::Borrowed("x")))
    );
    assert_eq!(json_pointer(b"7", ""), Some(JsonScalar::Number("7")));
    assert_eq!(json_pointer(DOC, ""), None);
}

#[test]
fn arrays_at_top_level() {
    let doc = br#"[10, "b", [true, {"k": "v"}]]"#;
    assert_eq!(json_pointer(doc, "/0"), Some(JsonScalar::Number("10")));
    assert_eq!(
        json_pointer(doc, "/2/1/k")
            .map(|s| s.as_text().to_owned())
            .as_deref(),
        Some("v")
    );
    assert_eq!(json_pointer(doc, "/3"), None);
}

#[test]
fn malformed_documents_give_none() {
    for doc in [
        &br#"{"a": [1, }, "b": 2}"#[..],
        br#"{"a" 1, "b": 2}"#,
        br#"{"b": "unterminated}"#,
        br#"{"b": "\x"}"#,
        br#"{"b": tru}"#,
        br#"{"b": 01}"#,
        b"{\"b\": \"\xff\"}",
        b"",
        b"{",
    ] {
        assert_eq!(
            json_pointer(doc, "/b"),
            None,
            "{:?}",
            String::from_utf8_lossy(doc)
        );
    }
}
