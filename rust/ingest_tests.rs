//! Sans-IO tests of the hot path: routing, validation and envelopes without Python.

use super::*;
use crate::route::apikey;

const SHARED: &str = r#"{"name":"acme","endpoint":"shared",
  "customerFrom":{"source":"header","selector":"x-account"},
  "flowFrom":{"source":"body","selector":"/event/type","mapping":{"order.created":"Order created","other":"Other"}},
  "rateLimit":50,"flows":{"Order created":{"apiKeys":true},"Other":{}}}"#;
const PER_FLOW: &str = r#"{"name":"simple","endpoint":"instance_and_flow","rateLimit":50,
  "flows":{"Echo":{},"Sync":{"synchronous":true}}}"#;

fn router() -> Router {
    let router = Router::default();
    router.set_integration_json(SHARED.as_bytes()).unwrap();
    router.set_integration_json(PER_FLOW.as_bytes()).unwrap();
    router
        .set_endpoint_json(
            "S",
            br#"{"endpoint":"S","integration":"acme","kind":"shared"}"#,
        )
        .unwrap();
    let key_digest = apikey::digest_hex("hk_secret");
    let instance = format!(
        r#"{{"id":"i1","integration":"acme","customer":"c1","apiKeyHashes":{{"Order created":["{key_digest}"]}}}}"#
    );
    router.set_instance_json("i1", instance.as_bytes()).unwrap();
    router
        .set_instance_json(
            "i2",
            br#"{"id":"i2","integration":"simple","customer":"c2"}"#,
        )
        .unwrap();
    for flow in ["Echo", "Sync"] {
        let record = format!(
            r#"{{"endpoint":"E{flow}","integration":"simple","kind":"instance_and_flow","instance":"i2","flow":"{flow}"}}"#
        );
        router
            .set_endpoint_json(&format!("E{flow}"), record.as_bytes())
            .unwrap();
    }
    router
}

fn config() -> IngestConfig {
    IngestConfig {
        subject_prefix: "hookcore.executions".into(),
        reply_prefix: "_INBOX.me".into(),
        max_envelope: 1024,
        max_headers: 8,
        max_header_bytes: 1024,
        multipart: MultipartLimits::default(),
    }
}

/// A limiter whose clock stands still: bucket counts are exact, however slow the test runs.
fn limiter() -> Limiter {
    Limiter::with_clock(
        crate::rate_limit::Table::in_process(1024),
        Box::new(|| 1_000_000),
    )
}

fn run(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Decision {
    let router = router();
    ingest(
        &config(),
        &router,
        Some(&limiter()),
        &TriggerRequest {
            method,
            target,
            query: "a=1",
            headers,
            body,
        },
    )
}

fn rejected(decision: Decision) -> (u16, String) {
    match decision {
        Decision::Rejected { status, body, .. } => (status, String::from_utf8(body).unwrap()),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn code(decision: Decision) -> &'static str {
    match decision {
        Decision::Rejected { code, .. } => code.as_str(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn accepted(decision: Decision) -> Accepted {
    match decision {
        Decision::Accepted(a) => a,
        other => panic!("expected an acceptance, got {other:?}"),
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[test]
fn instance_and_flow_request_becomes_an_envelope() {
    let a = accepted(run(
        "POST",
        "EEcho/my/path",
        &[JSON, ("X-A", "1"), ("x-a", "2")],
        br#"{"k":1}"#,
    ));
    let shard = crate::shards::shard(&a.customer);
    assert_eq!(
        a.subject,
        format!("hookcore.executions.a.{shard}.{}", a.execution_id)
    );
    assert_eq!(
        a.response,
        format!("{{\"executionId\":\"{}\"}}", a.execution_id).into_bytes()
    );
    assert!(!a.synchronous && a.python.is_none() && !a.body_in_object_store);
    let envelope = String::from_utf8_lossy(&a.envelope_head);
    for needle in ["my/path", "simple", "Echo", "c2", "i2", "a=1", "1, 2"] {
        assert!(
            envelope.contains(needle),
            "{needle} missing from {envelope}"
        );
    }
    // The body's bytes (7 of them) follow the head.
    assert!(a.envelope_head.ends_with(&[0xc4, 7]) && a.body_inline);
}

#[test]
fn errors_have_the_contract_statuses() {
    assert_eq!(rejected(run("OPTIONS", "EEcho", &[], b"")).0, 405);
    assert_eq!(
        rejected(run("POST", "nope", &[], b"")),
        (404, r#"{"error":"Endpoint not found."}"#.into())
    );
    assert_eq!(
        rejected(run("POST", "EEcho", &[JSON], b"{bad")),
        (
            400,
            r#"{"error":"Received malformed JSON payload."}"#.into()
        )
    );
    let many: Vec<(&str, &str)> = (0..9).map(|_| ("x", "y")).collect();
    assert_eq!(rejected(run("POST", "EEcho", &many, b"")).0, 431);
    assert!(matches!(run("HEAD", "EEcho", &[], b""), Decision::Head));
}

#[test]
fn every_rejection_names_its_cause() {
    let multipart = ("content-type", "multipart/form-data; boundary=b");
    let cases: [(Decision, &str); 7] = [
        (run("OPTIONS", "EEcho", &[], b""), "method_not_allowed"),
        (run("POST", "nope", &[], b""), "endpoint_not_found"),
        (run("POST", "EEcho", &[JSON], b"{bad"), "malformed_json"),
        (
            run("POST", "EEcho", &[multipart], b"junk"),
            "malformed_multipart",
        ),
        (
            run("POST", "EEcho", &[("x", &"y".repeat(2000))], b""),
            "headers_too_large",
        ),
        (run("POST", "S", &[JSON], b"{}"), "unroutable"),
        (
            run(
                "POST",
                "S",
                &[JSON, ("x-account", "c1")],
                br#"{"event":{"type":"order.created"}}"#,
            ),
            "api_key_missing",
        ),
    ];
    for (decision, expected) in cases {
        assert_eq!(code(decision), expected);
    }
}

#[test]
fn the_whole_stored_size_decides_where_the_body_goes() {
    // Each part fits alone; together they would not fit one message.
    let body = vec![b'x'; 600];
    let header = "h".repeat(500);
    let a = accepted(run("POST", "EEcho", &[("x-big", &header)], &body));
    assert!(a.body_in_object_store);
    assert!(a.envelope_head.len() <= 1024);
    // Without the body the envelope still does not fit: refused, nothing stored.
    let header = "h".repeat(1000);
    let decision = run("POST", "EEcho", &[("x-big", &header)], b"");
    let (status, message) = rejected(run("POST", "EEcho", &[("x-big", &header)], b""));
    assert_eq!((status, code(decision)), (413, "request_too_large"));
    assert!(message.contains("at most 1024 fit"), "{message}");
}

#[test]
fn admission_answers_before_the_body_and_takes_no_token() {
    let router = router();
    let limiter = limiter();
    let admit = |method, target| admit(&router, Some(&limiter), method, target);
    assert_eq!(code(admit("POST", "nope/x").unwrap()), "endpoint_not_found");
    assert_eq!(code(admit("TRACE", "EEcho").unwrap()), "method_not_allowed");
    assert!(matches!(admit("HEAD", "EEcho"), Some(Decision::Head)));
    for _ in 0..200 {
        assert!(admit("POST", "EEcho/any/path").is_none());
    }
    let request = TriggerRequest {
        method: "POST",
        target: "EEcho",
        query: "",
        headers: &[],
        body: b"",
    };
    while let Decision::Accepted(_) = ingest(&config(), &router, Some(&limiter), &request) {}
    let refused = admit("POST", "EEcho").expect("an empty bucket refuses before the body");
    let Decision::Rejected { status, limit, .. } = refused else {
        panic!("expected a 429");
    };
    assert_eq!(status, 429);
    assert!(limit.is_some_and(|l| !l.allowed && l.retry_after_secs >= 1));
}

#[test]
fn get_drops_the_body_and_big_bodies_spill() {
    let a = accepted(run("GET", "EEcho", &[JSON], b"{bad json ignored"));
    // The envelope ends with the body's bin marker: an empty body, the sent one dropped.
    assert!(a.envelope_head.ends_with(&[0xc4, 0x00]) && !a.body_inline);
    let big = vec![b'x'; 2048];
    let a = accepted(run("POST", "EEcho", &[], &big));
    assert!(a.body_in_object_store);
    assert!(a.envelope_head.len() < 1024);
}

#[test]
fn synchronous_flows_and_header_get_a_reply_subject() {
    let a = accepted(run("POST", "ESync", &[], b""));
    assert!(a.synchronous);
    assert_eq!(a.python, Some(("simple".into(), Some("Sync".into()))));
    let reply = format!("_INBOX.me.{}", a.execution_id);
    assert!(String::from_utf8_lossy(&a.envelope_head).contains(&reply));
    assert!(
        accepted(run(
            "POST",
            "EEcho",
            &[("hookcore-synchronous", "TRUE")],
            b""
        ))
        .synchronous
    );
}

#[test]
fn shared_endpoint_routes_by_header_and_body_and_checks_keys() {
    let body = br#"{"event":{"type":"order.created"}}"#;
    let ok = [JSON, ("x-account", "c1"), ("api-key", "hk_secret")];
    let a = accepted(run("POST", "S", &ok, body));
    let envelope = String::from_utf8_lossy(&a.envelope_head);
    assert!(envelope.contains("Order created") && envelope.contains("i1"));
    assert!(
        !envelope.contains("hk_secret"),
        "the checked API key is stored"
    );

    let (status, message) = rejected(run("POST", "S", &[JSON, ("x-account", "c1")], body));
    assert_eq!(status, 401);
    assert!(message.contains("requires an API key"));
    let wrong = [JSON, ("x-account", "c1"), ("api-key", "nope")];
    assert_eq!(rejected(run("POST", "S", &wrong, body)).0, 401);

    let (status, message) = rejected(run("POST", "S", &[JSON], body));
    assert_eq!(status, 400);
    assert!(
        message.contains(r#"header \"x-account\" (customer) is missing"#),
        "{message}"
    );
    let (_, message) = rejected(run("POST", "S", &[JSON, ("x-account", "zz")], body));
    assert!(message.contains(r#"no customer \"zz\""#), "{message}");
    let other = br#"{"event":{"type":"order.deleted"}}"#;
    let (_, message) = rejected(run("POST", "S", &[JSON, ("x-account", "c1")], other));
    assert!(message.contains("maps to no flow"), "{message}");
}

#[test]
fn a_body_rule_that_finds_nothing_says_why_the_body_was_not_read() {
    let body = br#"{"event":{"type":"order.created"}}"#;
    let account = ("x-account", "c1");
    let (status, message) = rejected(run("POST", "S", &[account], body));
    assert_eq!(status, 400);
    assert!(
        message.contains(r#"body field \"/event/type\" (flow) is missing: the request has no Content-Type header"#)
            && message.contains("send Content-Type: application/json"),
        "{message}"
    );
    let (_, message) = rejected(run(
        "POST",
        "S",
        &[account, ("content-type", "text/plain")],
        body,
    ));
    assert!(
        message.contains(r#"its Content-Type is \"text/plain\""#),
        "{message}"
    );
    let (_, message) = rejected(run("POST", "S", &[account, JSON], b""));
    assert!(message.contains("(the request has no body)"), "{message}");
    let (_, message) = rejected(run("POST", "S", &[account, JSON], br#"{"event":{}}"#));
    assert!(message.contains("in a JSON body"), "{message}");
}

#[test]
fn removed_instance_makes_its_endpoint_unknown() {
    let router = router();
    assert!(router.remove_instance("i2"));
    let decision = ingest(
        &config(),
        &router,
        Some(&limiter()),
        &TriggerRequest {
            method: "POST",
            target: "EEcho",
            query: "",
            headers: &[],
            body: b"",
        },
    );
    assert_eq!(rejected(decision).0, 404);
}

#[test]
fn eighty_requests_at_once_pass_fifty_with_the_seed_message() {
    let router = router();
    let limiter = limiter();
    let request = TriggerRequest {
        method: "POST",
        target: "EEcho",
        query: "",
        headers: &[],
        body: b"",
    };
    let decisions: Vec<Decision> = (0..80)
        .map(|_| ingest(&config(), &router, Some(&limiter), &request))
        .collect();
    let accepted = decisions
        .iter()
        .filter(|d| matches!(d, Decision::Accepted(_)))
        .count();
    assert_eq!(accepted, 50);
    let Some(Decision::Rejected {
        status,
        body,
        limit,
        ..
    }) = decisions.last()
    else {
        panic!("the 80th request passed");
    };
    assert_eq!(*status, 429);
    assert_eq!(
        String::from_utf8_lossy(body),
        r#"{"error":"Endpoint with id: EEcho has exceeded maximum allowed throughput of 50 requests/second. Please throttle your requests."}"#
    );
    let limit = limit.unwrap();
    assert!(!limit.allowed && limit.limit == 50 && limit.retry_after_secs >= 1);
}

#[test]
fn a_flooding_customer_leaves_the_shared_endpoint_to_the_others() {
    let router = router();
    router
        .set_instance_json("i3", br#"{"id":"i3","integration":"acme","customer":"c3"}"#)
        .unwrap();
    let limiter = limiter();
    let send = |customer: &str, body: &[u8]| {
        let headers = [JSON, ("x-account", customer), ("api-key", "hk_secret")];
        ingest(
            &config(),
            &router,
            Some(&limiter),
            &TriggerRequest {
                method: "POST",
                target: "S",
                query: "",
                headers: &headers,
                body,
            },
        )
    };
    let created = br#"{"event":{"type":"order.created"}}"#;
    let flood = (0..500)
        .filter(|_| matches!(send("c1", created), Decision::Accepted(_)))
        .count();
    assert_eq!(flood, 50);
    let other = br#"{"event":{"type":"other"}}"#;
    let calm = (0..20)
        .filter(|_| matches!(send("c3", other), Decision::Accepted(_)))
        .count();
    assert_eq!(calm, 20);
}

#[test]
fn a_number_python_cannot_decode_is_refused_with_its_own_code() {
    let digits = "9".repeat(parse::MAX_INT_DIGITS + 1);
    let body = format!(r#"{{"quantity": {digits}}}"#);
    let (status, message) = rejected(run("POST", "EEcho", &[JSON], body.as_bytes()));
    assert_eq!(status, 400);
    assert!(
        message.contains("(at byte 13) has more than 4300 digits"),
        "{message}"
    );
    let decision = run("POST", "EEcho", &[JSON], body.as_bytes());
    assert_eq!(code(decision), "json_number_too_long");
    let limit = format!("[{}, 1e400]", "9".repeat(parse::MAX_INT_DIGITS));
    accepted(run("POST", "EEcho", &[JSON], limit.as_bytes()));
}
