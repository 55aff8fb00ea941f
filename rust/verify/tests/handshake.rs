//! Handshake answers, byte for byte.

use super::*;

fn spec(json: &str) -> HandshakeSpec {
    HandshakeSpec::from_json(json.as_bytes()).unwrap()
}

fn text(body: &str) -> Answer {
    Answer {
        status: 200,
        content_type: CONTENT_TYPE_TEXT,
        body: body.as_bytes().to_vec(),
        headers: vec![("x-content-type-options", "nosniff".to_owned())],
    }
}

#[test]
fn specs_parse_exactly_the_documented_shapes() {
    assert_eq!(
        spec(r#"{"kind":"zoom","secret":"zoom_secret"}"#),
        HandshakeSpec::Zoom {
            secret: "zoom_secret".into()
        }
    );
    assert_eq!(
        spec(r#"{"kind":"meta","verifyToken":"meta_token"}"#),
        HandshakeSpec::Meta {
            verify_token: "meta_token".into()
        }
    );
    assert_eq!(spec(r#"{"kind":"graph"}"#), HandshakeSpec::Graph {});
    assert_eq!(spec(r#"{"kind":"dropbox"}"#), HandshakeSpec::Dropbox {});
    for bad in [
        r#"{"kind":"meta","verify_token":"x"}"#,
        r#"{"kind":"zoom"}"#,
        r#"{"kind":"graph","secret":"x"}"#,
        r#"{"kind":"slack"}"#,
    ] {
        assert!(HandshakeSpec::from_json(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn zoom() {
    let s = spec(r#"{"kind":"zoom","secret":"zoom_secret"}"#);
    let body = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    // hmac.new(b"s3cr3t", b"qgg8vlvZRS6UYooatFL8Aw", sha256).hexdigest()
    let expected = br#"{"plainToken":"qgg8vlvZRS6UYooatFL8Aw","encryptedToken":"86b565e97036973cc44c3b3f24af76cabe70c2cbf5554c32419d44ecf6c0f2ca"}"#;
    let answer = respond(&s, &["s3cr3t", "older"], "POST", "", body);
    let answer = answer.unwrap().unwrap();
    assert_eq!(
        (answer.status, answer.content_type),
        (200, CONTENT_TYPE_JSON)
    );
    assert_eq!(
        String::from_utf8(answer.body).unwrap(),
        String::from_utf8(expected.to_vec()).unwrap()
    );
    assert!(answer.headers.is_empty());
    // Escapes in the token are decoded, then encoded again as JSON.
    let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"a\"b\u00e9"}}"#;
    let answer = respond(&s, &["k"], "POST", "", body).unwrap().unwrap();
    let text = String::from_utf8(answer.body).unwrap();
    assert!(
        text.starts_with(r#"{"plainToken":"a\"bé","encryptedToken":""#),
        "{text}"
    );
    // Not a validation: run the flow.
    let event = br#"{"event":"meeting.started","payload":{"plainToken":"x"}}"#;
    assert_eq!(respond(&s, &["k"], "POST", "", event), None);
    assert_eq!(respond(&s, &["k"], "POST", "", b"not json"), None);
    // A validation without a token, or without a secret: refused.
    let r = respond(
        &s,
        &["k"],
        "POST",
        "",
        br#"{"event":"endpoint.url_validation"}"#,
    );
    let r = r.unwrap().unwrap_err();
    assert_eq!((r.code, r.status()), (ErrorCode::HandshakeRefused, 403));
    let body = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"p"}}"#;
    let r = respond(&s, &[], "POST", "", body).unwrap().unwrap_err();
    assert_eq!(r.code, ErrorCode::SecretNotConfigured);
    assert_eq!(
        r.message,
        "Zoom handshake refused: no secret 'zoom_secret' is configured for this instance."
    );
}

#[test]
fn meta() {
    let s = spec(r#"{"kind":"meta","verifyToken":"meta_token"}"#);
    let q = "hub.mode=subscribe&hub.verify_token=tok%20en&hub.challenge=1158201444";
    let answer = respond(&s, &["old", "tok en"], "GET", q, b"");
    assert_eq!(answer, Some(Ok(text("1158201444"))));
    let r = respond(&s, &["other"], "GET", q, b"").unwrap().unwrap_err();
    assert_eq!((r.code, r.status()), (ErrorCode::HandshakeRefused, 403));
    assert_eq!(
        r.message,
        "Meta handshake refused: hub.verify_token is not the config value 'meta_token'."
    );
    let r = respond(&s, &[], "GET", q, b"").unwrap().unwrap_err();
    assert_eq!(r.code, ErrorCode::SecretNotConfigured);
    let r = respond(&s, &["t"], "GET", "hub.mode=subscribe&hub.challenge=1", b"");
    assert_eq!(r.unwrap().unwrap_err().code, ErrorCode::HandshakeRefused);
    let r = respond(
        &s,
        &["t"],
        "GET",
        "hub.mode=subscribe&hub.verify_token=t",
        b"",
    );
    assert_eq!(r.unwrap().unwrap_err().code, ErrorCode::HandshakeRefused);
    // Not a subscription check: run the flow.
    assert_eq!(respond(&s, &["tok en"], "POST", q, b""), None);
    assert_eq!(
        respond(&s, &["t"], "GET", "hub.mode=unsubscribe", b""),
        None
    );
    assert_eq!(respond(&s, &["t"], "GET", "", b""), None);
}

#[test]
fn graph() {
    let s = spec(r#"{"kind":"graph"}"#);
    let q = "validationToken=Validation%3a+Testing+client+application+reachability+for+subscription+Request-Id%3a+5d3d9d85";
    let expected = text(
        "Validation: Testing client application reachability for subscription Request-Id: 5d3d9d85",
    );
    assert_eq!(respond(&s, &[], "POST", q, b""), Some(Ok(expected)));
    assert_eq!(respond(&s, &[], "POST", "other=1", b"{}"), None);
}

#[test]
fn dropbox() {
    let s = spec(r#"{"kind":"dropbox"}"#);
    let answer = respond(&s, &[], "GET", "challenge=abc%2Fdef&x=1", b"");
    assert_eq!(answer, Some(Ok(text("abc/def"))));
    assert_eq!(respond(&s, &[], "POST", "challenge=abc", b""), None);
    assert_eq!(respond(&s, &[], "GET", "", b""), None);
}

#[test]
fn slack() {
    let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let answer = slack_url_verification(body).unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, CONTENT_TYPE_JSON);
    assert_eq!(
        answer.body,
        br#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#.to_vec()
    );
    assert_eq!(
        slack_url_verification(br#"{"type":"event_callback"}"#),
        None
    );
    assert_eq!(
        slack_url_verification(br#"{"type":"url_verification"}"#),
        None
    );
    assert_eq!(slack_url_verification(b"type=url_verification"), None);
}
