//! Unit tests of `Content-Type` parsing and body classification.

use super::*;

fn kind(value: &str) -> BodyKind {
    ContentType::parse(value).kind()
}

#[test]
fn classifies_media_types() {
    assert_eq!(kind("application/json"), BodyKind::Json);
    assert_eq!(kind("Application/JSON; charset=utf-8"), BodyKind::Json);
    assert_eq!(kind("application/vnd.api+json"), BodyKind::Json);
    assert_eq!(kind("application/merge-patch+json"), BodyKind::Json);
    assert_eq!(kind("multipart/form-data; boundary=x"), BodyKind::Multipart);
    assert_eq!(kind("multipart/mixed; boundary=x"), BodyKind::Binary);
    assert_eq!(kind("application/x-www-form-urlencoded"), BodyKind::Form);
    assert_eq!(kind("text/plain"), BodyKind::Text);
    assert_eq!(kind("text/csv; charset=latin1"), BodyKind::Text);
    assert_eq!(kind("application/xml"), BodyKind::Text);
    assert_eq!(kind("application/atom+xml"), BodyKind::Text);
    assert_eq!(kind("image/svg+xml"), BodyKind::Text);
    assert_eq!(kind("image/png"), BodyKind::Binary);
    assert_eq!(kind("application/pdf"), BodyKind::Binary);
    assert_eq!(kind("application/octet-stream"), BodyKind::Binary);
}

#[test]
fn invalid_media_types_are_binary() {
    for value in [
        "",
        "json",
        "application/",
        "/json",
        "application /json",
        "a/b/c",
        "tëxt/plain",
    ] {
        assert_eq!(kind(value), BodyKind::Binary, "{value:?}");
    }
}

#[test]
fn body_kind_of_request() {
    let json = ContentType::parse("application/json");
    assert_eq!(BodyKind::of(Some(&json), b""), None);
    assert_eq!(BodyKind::of(None, b""), None);
    assert_eq!(BodyKind::of(None, b"\x89PNG"), Some(BodyKind::Binary));
    assert_eq!(
        BodyKind::of(Some(&ContentType::parse("text/plain")), b"hi"),
        Some(BodyKind::Text)
    );
    assert_eq!(BodyKind::Multipart.as_str(), "multipart");
}

#[test]
fn media_type_is_lower_cased_and_trimmed() {
    let ct = ContentType::parse("  Text/HTML ;Charset=UTF-8");
    assert_eq!(ct.media_type(), "text/html");
    assert_eq!(ct.type_subtype(), Some(("text", "html")));
    assert_eq!(ct.charset().as_deref(), Some("UTF-8"));
    assert!(matches!(
        ContentType::parse("text/plain").media_type,
        Cow::Borrowed(_)
    ));
}

#[test]
fn parameters() {
    let ct = ContentType::parse(
        r#"multipart/form-data; BOUNDARY="----a \"b\" \\ c;d"; charset = utf-8 ; empty=; flag; x="""#,
    );
    assert_eq!(ct.boundary().as_deref(), Some(r#"----a "b" \ c;d"#));
    assert_eq!(ct.charset().as_deref(), Some("utf-8"));
    assert_eq!(ct.param("empty").as_deref(), Some(""));
    assert_eq!(ct.param("flag"), None);
    assert_eq!(ct.param("x").as_deref(), Some(""));
    let names: Vec<&str> = ct.params().map(|(n, _)| n).collect();
    assert_eq!(names, ["BOUNDARY", "charset", "empty", "x"]);
}

#[test]
fn first_duplicate_parameter_wins() {
    let ct = ContentType::parse("text/plain; charset=latin1; charset=utf-8");
    assert_eq!(ct.charset().as_deref(), Some("latin1"));
}

#[test]
fn quoted_backslash_before_other_bytes_is_literal() {
    let ct = ContentType::parse(r#"text/plain; p="C:\dir\file""#);
    assert_eq!(ct.param("p").as_deref(), Some(r"C:\dir\file"));
}

#[test]
fn boundary_forms() {
    for (value, boundary) in [
        (
            "multipart/form-data; boundary=------------------------d74496d66958873e",
            Some("------------------------d74496d66958873e"),
        ),
        (
            "multipart/form-data; boundary=\"----WebKitFormBoundary7MA4YWxkTrZu0gW\"",
            Some("----WebKitFormBoundary7MA4YWxkTrZu0gW"),
        ),
        ("multipart/form-data;boundary=abc", Some("abc")),
        ("multipart/form-data; boundary=\"\"", None),
        ("multipart/form-data; boundary=", None),
        ("multipart/form-data", None),
    ] {
        assert_eq!(
            ContentType::parse(value).boundary().as_deref(),
            boundary,
            "{value}"
        );
    }
}

#[test]
fn malformed_parameters_keep_earlier_ones() {
    let ct = ContentType::parse("text/plain; charset=utf-8; name=\"unterminated");
    assert_eq!(ct.charset().as_deref(), Some("utf-8"));
    assert_eq!(ct.param("name"), None);
    let ct = ContentType::parse("text/plain; a=\"x\"junk; charset=utf-8");
    assert_eq!(ct.param("a"), None);
    assert_eq!(ct.charset(), None);
    let ct = ContentType::parse("text/plain; =x; charset=utf-8");
    assert_eq!(ct.charset(), None);
}

#[test]
fn unicode_in_parameters() {
    let ct = ContentType::parse("text/plain; title=\"naïve \\\"café\\\"\"; x=ü");
    assert_eq!(ct.param("title").as_deref(), Some("naïve \"café\""));
    assert_eq!(ct.param("X").as_deref(), Some("ü"));
}
