//! Frames as nats-server writes them (protocol documentation and captures).

use proptest::prelude::*;

use super::*;

const INBOX: &str = "_INBOX.pub1.";

fn feed_all(chunks: &[&[u8]]) -> Result<Vec<Event>, WireError> {
    let mut wire = Wire::new(INBOX);
    let mut events = Vec::new();
    for chunk in chunks {
        wire.feed(chunk, &mut events)?;
    }
    Ok(events)
}

const STREAM: &[u8] = b"INFO {\"server_id\":\"N1\",\"max_payload\":1048576,\"headers\":true}\r\n\
PING\r\n\
MSG _INBOX.pub1.7 1 41\r\n{\"stream\":\"HOOKCORE_EXECUTIONS\",\"seq\":12}\r\n\
+OK\r\n\
HMSG _INBOX.pub1.8 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n\
MSG _INBOX.pub1.9 1 94\r\n{\"error\":{\"code\":503,\"err_code\":10077,\"description\":\"maximum messages exceeded\"},\"stream\":\"S\"}\r\n\
MSG _INBOX.pub1.10 1 99\r\n{\"error\":{\"code\":503,\"err_code\":10077,\"description\":\"maximum bytes exceeded\"},\"stream\":\"S\",\"seq\":0}\r\n\
MSG _INBOX.pub1.11 1 86\r\n{\"error\":{\"code\":400,\"err_code\":10060,\"description\":\"expected stream does not match\"}}\r\n\
MSG _INBOX.pub1.12 1 40\r\n{\"stream\":\"S\",\"seq\":12,\"duplicate\":true}\r\n\
MSG other.subject 2 2\r\nhi\r\n\
PONG\r\n\
-ERR 'Stale Connection'\r\n";

fn stream_events() -> Vec<Event> {
    vec![
        Event::Info("{\"server_id\":\"N1\",\"max_payload\":1048576,\"headers\":true}".into()),
        Event::Ping,
        Event::Ack(7, 12),
        Event::Nak(8, "no JetStream stream answered (503 no responders)".into()),
        Event::Full(9, "maximum messages exceeded (code 10077)".into()),
        Event::Full(10, "maximum bytes exceeded (code 10077)".into()),
        Event::Nak(11, "expected stream does not match (code 10060)".into()),
        Event::Ack(12, 12),
        Event::Pong,
        Event::Error("Stale Connection".into()),
    ]
}

#[test]
fn server_frames_become_events() {
    assert_eq!(feed_all(&[STREAM]).unwrap(), stream_events());
}

#[test]
fn publish_frames_name_the_reply_subject() {
    let wire = Wire::new(INBOX);
    assert_eq!(
        wire.publish("hookcore.executions.abc", 0, b"{}", None)
            .unwrap(),
        b"PUB hookcore.executions.abc _INBOX.pub1.0 2\r\n{}\r\n"
    );
    assert_eq!(
        wire.publish("s", 18_446_744_073_709_551_615, b"", None)
            .unwrap(),
        b"PUB s _INBOX.pub1.18446744073709551615 0\r\n\r\n"
    );
}

#[test]
fn a_message_id_makes_an_hpub_frame() {
    let wire = Wire::new(INBOX);
    let frame = wire.publish("s.a", 3, b"{}", Some("0190-ab")).unwrap();
    let headers = "NATS/1.0\r\nNats-Msg-Id: 0190-ab\r\n\r\n";
    assert_eq!(
        String::from_utf8(frame).unwrap(),
        format!(
            "HPUB s.a _INBOX.pub1.3 {} {}\r\n{headers}{{}}\r\n",
            headers.len(),
            headers.len() + 2
        )
    );
    for bad in ["", "a\r\nX-Other: 1", "a\nb", "a\0"] {
        assert!(wire.publish("s", 1, b"", Some(bad)).is_err(), "{bad:?}");
    }
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn a_traceparent_is_a_header_of_the_frame_beside_the_message_id() {
    let wire = Wire::new(INBOX);
    let frame = wire
        .publish_traced("s.a", 3, b"{}", Some("0190-ab"), Some(TRACEPARENT))
        .unwrap();
    let headers = format!("NATS/1.0\r\nNats-Msg-Id: 0190-ab\r\ntraceparent: {TRACEPARENT}\r\n\r\n");
    assert_eq!(
        String::from_utf8(frame).unwrap(),
        format!(
            "HPUB s.a _INBOX.pub1.3 {} {}\r\n{headers}{{}}\r\n",
            headers.len(),
            headers.len() + 2
        )
    );
    // Alone, it makes an HPUB frame too.
    let frame = wire
        .publish_traced("s", 4, b"", None, Some(TRACEPARENT))
        .unwrap();
    let headers = format!("NATS/1.0\r\ntraceparent: {TRACEPARENT}\r\n\r\n");
    assert_eq!(
        String::from_utf8(frame).unwrap(),
        format!(
            "HPUB s _INBOX.pub1.4 {} {}\r\n{headers}\r\n",
            headers.len(),
            headers.len()
        )
    );
    // Without one, the frame is the untraced one.
    assert_eq!(
        wire.publish_traced("s", 5, b"x", Some("id"), None).unwrap(),
        wire.publish("s", 5, b"x", Some("id")).unwrap()
    );
}

#[test]
fn a_traceparent_that_is_not_w3c_version_00_is_refused() {
    let wire = Wire::new(INBOX);
    for bad in [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX-Other: 1",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
    ] {
        assert!(
            wire.publish_traced("s", 1, b"", Some("id"), Some(bad))
                .is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn bad_frames_are_errors() {
    for bad in [
        &b"HELLO\r\n"[..],
        b"MSG a\r\n",
        b"MSG a 1 x\r\n",
        b"HMSG a 1 5 2\r\nxx\r\n",
        b"MSG a 1 2\r\nxxxx\r\n",
        b"MSG a 1 99999999\r\n",
    ] {
        assert!(
            feed_all(&[bad]).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let long = vec![b'x'; MAX_CONTROL_LINE + 1];
    assert!(feed_all(&[&long]).is_err());
}

#[test]
fn replies_to_other_subjects_or_that_are_not_acks_are_ignored() {
    let other_inbox = b"MSG _INBOX.pub1.x 1 2\r\nok\r\nMSG _INBOX.pub2.1 1 2\r\nok\r\n";
    let not_an_ack = b"MSG _INBOX.pub1.1 1 2\r\nok\r\n";
    let no_number = b"MSG _INBOX.pub1.2 1 26\r\n{\"stream\":\"seq\",\"seq\":\"x\"}\r\n";
    assert!(feed_all(&[other_inbox, not_an_ack, no_number])
        .unwrap()
        .is_empty());
}

#[test]
fn acks_carry_the_stream_sequence() {
    let acks = b"MSG _INBOX.pub1.1 1 34\r\n{\"stream\":\"seq\", \"seq\" : 42,\"x\":1}\r\n\
MSG _INBOX.pub1.2 1 57\r\n{\"stream\":\"KV_b\",\"domain\":\"hub\",\"seq\":7,\"duplicate\":true}\r\n";
    assert_eq!(
        feed_all(&[acks]).unwrap(),
        vec![Event::Ack(1, 42), Event::Ack(2, 7)]
    );
}

#[test]
fn a_refused_expected_sequence_is_a_nak_with_its_code() {
    let refused = b"MSG _INBOX.pub1.3 1 102\r\n{\"error\":{\"code\":400,\"err_code\":10071,\"description\":\"wrong last sequence: 1\"},\"stream\":\"KV_b\",\"seq\":0}\r\n";
    assert_eq!(
        feed_all(&[refused]).unwrap(),
        vec![Event::Conflict(
            3,
            "wrong last sequence: 1 (code 10071)".into()
        )]
    );
}

#[test]
fn publish_with_headers_frames_hpub() {
    let wire = Wire::new(INBOX);
    let headers = b"NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: 3\r\n\r\n";
    let mut expected = format!(
        "HPUB $KV.b.k _INBOX.pub1.5 {} {}\r\n",
        headers.len(),
        headers.len() + 2
    )
    .into_bytes();
    expected.extend_from_slice(headers);
    expected.extend_from_slice(b"{}\r\n");
    assert_eq!(
        wire.publish_with_headers("$KV.b.k", 5, headers, b"{}"),
        expected
    );
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(cuts in prop::collection::vec(0..STREAM.len(), 0..12)) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for cut in cuts {
            chunks.push(&STREAM[start..cut]);
            start = cut;
        }
        chunks.push(&STREAM[start..]);
        prop_assert_eq!(feed_all(&chunks).unwrap(), stream_events());
    }

    #[test]
    fn a_head_then_its_payload_is_the_whole_frame(
        payload in prop::collection::vec(any::<u8>(), 0..512),
        token in any::<u64>(),
        with_id in any::<bool>(),
        traced in any::<bool>(),
    ) {
        let wire = Wire::new(INBOX);
        let id = with_id.then_some("0199-id");
        let mut framed = wire.publish_head("$O.b.C.n", token, payload.len(), id).unwrap();
        framed.extend_from_slice(&payload);
        framed.extend_from_slice(b"\r\n");
        prop_assert_eq!(&framed, &wire.publish("$O.b.C.n", token, &payload, id).unwrap());
        let trace = traced.then_some(TRACEPARENT);
        let mut head = Vec::new();
        frame_head_traced(&mut head, "$O.b.C.n", INBOX.as_bytes(), token, id, trace, payload.len()).unwrap();
        head.extend_from_slice(&payload);
        head.extend_from_slice(b"\r\n");
        prop_assert_eq!(head, wire.publish_traced("$O.b.C.n", token, &payload, id, trace).unwrap());
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut wire = Wire::new(INBOX);
        let mut events = Vec::new();
        let _ = wire.feed(&bytes, &mut events);
        prop_assert!(events.len() <= bytes.len());
    }

    #[test]
    fn published_acks_round_trip(tokens in prop::collection::vec(any::<u64>(), 0..20)) {
        let mut input = Vec::new();
        for token in &tokens {
            let ack = format!("{{\"stream\":\"S\",\"seq\":{}}}", token / 2);
            input.extend_from_slice(format!("MSG {INBOX}{token} 1 {}\r\n{ack}\r\n", ack.len()).as_bytes());
        }
        let events = feed_all(&[&input]).unwrap();
        prop_assert_eq!(events, tokens.iter().map(|&t| Event::Ack(t, t / 2)).collect::<Vec<_>>());
    }
}
