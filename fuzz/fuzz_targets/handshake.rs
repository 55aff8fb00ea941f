//! Handshakes on arbitrary requests: never panic; answers are 200s.
#![no_main]

use _core::verify::{respond, slack_url_verification, HandshakeSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (bool, &str, Vec<String>, &[u8])| {
    let (get, query, secrets, body) = input;
    let method = if get { "GET" } else { "POST" };
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    for json in [
        r#"{"kind":"zoom","secret":"z"}"#,
        r#"{"kind":"meta","verifyToken":"m"}"#,
        r#"{"kind":"graph"}"#,
        r#"{"kind":"dropbox"}"#,
    ] {
        let spec = HandshakeSpec::from_json(json.as_bytes()).unwrap();
        match respond(&spec, &secrets, method, query, body) {
            Some(Ok(answer)) => assert_eq!(answer.status, 200),
            Some(Err(r)) => assert!(r.status() == 401 || r.status() == 403),
            None => {}
        }
    }
    if let Some(answer) = slack_url_verification(body) {
        assert!(answer.body.starts_with(b"{\"challenge\":"));
    }
});
