//! The NATS client protocol, as much of it as the ingress's JetStream
//! publisher speaks: `PUB`/`HPUB` frames out; `MSG`/`HMSG` (the acks),
//! `PING`, `PONG`, `INFO`, `+OK` and `-ERR` in. There is no I/O here:
//! Python's event loop owns the socket, writes the frames [`Wire::publish`]
//! makes and feeds what it reads to [`Wire::feed`].
//!
//! Each publish names its own reply subject, `{inbox}{token}`; JetStream
//! answers there with `{"stream":…,"seq":…}` (the message's sequence in its
//! stream, which a later publish may name as the one it expects to follow:
//! `Nats-Expected-Last-Subject-Sequence`) or `{"error":{…}}`, and the
//! server itself with an `HMSG` whose status is 503 when no stream listens
//! on the subject (the client asks for that with `no_responders`).
//!
//! A publish may carry a message id (`HPUB` with a `Nats-Msg-Id` header):
//! JetStream stores a message only once per id within the stream's duplicate
//! window and acks a copy with `"duplicate":true`, so the publisher may send
//! a frame again on a new connection when the first one's fate is unknown.
//!
//! Parsing what the server sends allocates nothing per ack (the events of a
//! read go into a vector the caller reuses); only refusals, `INFO` and
//! `-ERR` carry text.

use std::fmt;

use memchr::memmem;

use crate::parse::params::trim_ows;

/// Longest control line accepted (an `INFO` with a cluster's addresses can
/// run to a few KiB).
pub const MAX_CONTROL_LINE: usize = 64 * 1024;

/// Largest message accepted: only acks (a few dozen bytes) are subscribed to.
pub const MAX_MESSAGE: usize = 1024 * 1024;

/// Something the server said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// JetStream stored the message published with this token (first), as
    /// this sequence number of its stream (second).
    Ack(u64, u64),
    /// The message published with this token was not stored, and why.
    Nak(u64, String),
    /// The message published with this token was not stored because the
    /// stream (or the server's JetStream storage) is full, and the words
    /// JetStream used.
    Full(u64, String),
    /// The message published with this token was not stored because its
    /// `Nats-Expected-Last-Subject-Sequence` did not hold (another write came
    /// first), and the words JetStream used.
    Conflict(u64, String),
    /// The server asks whether we are alive: answer `PONG`.
    Ping,
    /// The answer to our `PING`.
    Pong,
    /// Server information (JSON), at connect time and when the cluster changes.
    Info(String),
    /// A protocol error; the server usually closes the connection after it.
    Error(String),
}

/// The name of the header carrying a publish's message id (JetStream's
/// deduplication key).
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// The name of the header carrying an execution's W3C trace context (when the
/// ingress traces; `hookcore.tracing.TRACEPARENT` in Python, the same name).
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// JetStream's `err_code`s that mean "no room": the stream is at its byte or
/// message limit (10077, "maximum bytes exceeded", with `discard: new`), the
/// server's storage is used up (10023, "insufficient resources") or cannot
/// be reserved (10047, "insufficient storage resources available").
const STORE_FAILED: u64 = 10077;
const FULL_CODES: [u64; 2] = [10023, 10047];
/// The descriptions of a 10077 that mean a limit, not a disk error.
const LIMIT_WORDS: [&str; 2] = ["maximum bytes", "maximum messages"];
/// JetStream's `err_code` for a `Nats-Expected-Last-Subject-Sequence` that did not hold.
const WRONG_LAST_SEQUENCE: u64 = 10071;

/// The server sent something that is not the NATS protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NATS protocol error: {}", self.0)
    }
}

impl std::error::Error for WireError {}

/// One connection's protocol state: the reply prefix and the bytes read but
/// not parsed yet.
#[derive(Debug)]
pub struct Wire {
    inbox: Vec<u8>,
    input: Vec<u8>,
}

impl Wire {
    /// A connection whose publishes ask for replies under `inbox` (which
    /// ends with `.`: a token follows it).
    pub fn new(inbox: &str) -> Wire {
        Wire {
            inbox: inbox.as_bytes().to_vec(),
            input: Vec::new(),
        }
    }

    /// The frame publishing `payload` to `subject` with the reply subject
    /// `{inbox}{token}`: [`frame_head`], the payload, CRLF.
    pub fn publish(
        &self,
        subject: &str,
        token: u64,
        payload: &[u8],
        msg_id: Option<&str>,
    ) -> Result<Vec<u8>, WireError> {
        self.publish_traced(subject, token, payload, msg_id, None)
    }

    /// [`Wire::publish`] with a `traceparent` header too when one is given
    /// (see [`frame_head_traced`]).
    pub fn publish_traced(
        &self,
        subject: &str,
        token: u64,
        payload: &[u8],
        msg_id: Option<&str>,
        traceparent: Option<&str>,
    ) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::with_capacity(subject.len() + self.inbox.len() + payload.len() + 192);
        frame_head_traced(
            &mut out,
            subject,
            &self.inbox,
            token,
            msg_id,
            traceparent,
            payload.len(),
        )?;
        out.extend_from_slice(payload);
        out.extend_from_slice(b"\r\n");
        Ok(out)
    }

    /// The start of a frame whose `payload_len`-byte payload the caller
    /// writes after it from its own buffer, then CRLF (see `frame_head`).
    pub fn publish_head(
        &self,
        subject: &str,
        token: u64,
        payload_len: usize,
        msg_id: Option<&str>,
    ) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::with_capacity(subject.len() + self.inbox.len() + 128);
        frame_head(&mut out, subject, &self.inbox, token, msg_id, payload_len)?;
        Ok(out)
    }

    /// The frame publishing `payload` with the header block `headers`
    /// (`NATS/1.0\r\n`, `Name: value\r\n` lines, `\r\n`): `HPUB subject
    /// reply header_len total_len`, the headers, the payload, CRLF.
    pub fn publish_with_headers(
        &self,
        subject: &str,
        token: u64,
        headers: &[u8],
        payload: &[u8],
    ) -> Vec<u8> {
        let total = headers.len() + payload.len();
        let mut out = Vec::with_capacity(subject.len() + self.inbox.len() + total + 64);
        out.extend_from_slice(b"HPUB ");
        out.extend_from_slice(subject.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.inbox);
        push_decimal(&mut out, token);
        out.push(b' ');
        push_decimal(&mut out, headers.len() as u64);
        out.push(b' ');
        push_decimal(&mut out, total as u64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(headers);
        out.extend_from_slice(payload);
        out.extend_from_slice(b"\r\n");
        out
    }

    /// Parse what the server sent (`data` continues the bytes fed before)
    /// into `events`; an incomplete frame waits for the next call.
    pub fn feed(&mut self, data: &[u8], events: &mut Vec<Event>) -> Result<(), WireError> {
        self.input.extend_from_slice(data);
        let mut pos = 0;
        let result = loop {
            match self.frame(pos, events) {
                Ok(Some(next)) => pos = next,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.input.drain(..pos);
        result
    }

    /// Parse the frame at `pos`: the offset after it, or `None` when it is not complete.
    fn frame(&self, pos: usize, events: &mut Vec<Event>) -> Result<Option<usize>, WireError> {
        let input = self.input.get(pos..).unwrap_or_default();
        let Some(line_len) = memmem::find(input, b"\r\n") else {
            if input.len() > MAX_CONTROL_LINE {
                return Err(WireError(format!(
                    "a control line longer than {MAX_CONTROL_LINE} bytes"
                )));
            }
            return Ok(None);
        };
        let line = input.get(..line_len).unwrap_or_default();
        let after_line = pos + line_len + 2;
        let (op, args) = match line.iter().position(|&b| b == b' ' || b == b'\t') {
            Some(space) => (&line[..space], trim_ows(&line[space + 1..])),
            None => (line, &b""[..]),
        };
        let is = |name: &[u8]| op.eq_ignore_ascii_case(name);
        let event = match () {
            _ if is(b"MSG") || is(b"HMSG") => {
                let hmsg = op.len() == 4;
                let message = Message::parse(args, hmsg)?;
                let end = after_line + message.total + 2;
                let Some(body) = self.input.get(after_line..end) else {
                    return Ok(None);
                };
                if !body.ends_with(b"\r\n") {
                    return Err(WireError("a message not followed by CRLF".into()));
                }
                let (headers, payload) = body[..message.total].split_at(message.headers);
                if let Some(event) = self.reply(message.subject, headers, payload) {
                    events.push(event);
                }
                return Ok(Some(end));
            }
            _ if is(b"PING") => Event::Ping,
            _ if is(b"PONG") => Event::Pong,
            _ if is(b"+OK") => return Ok(Some(after_line)),
            _ if is(b"INFO") => Event::Info(String::from_utf8_lossy(args).into_owned()),
            _ if is(b"-ERR") => {
                Event::Error(String::from_utf8_lossy(args).trim_matches('\'').to_owned())
            }
            _ => {
                return Err(WireError(format!(
                    "unknown operation {:?}",
                    String::from_utf8_lossy(&op[..op.len().min(16)])
                )))
            }
        };
        events.push(event);
        Ok(Some(after_line))
    }

    /// The event for a message on `subject`: `None` unless it is JetStream's
    /// answer (an ack or an error) to one of our publishes.
    fn reply(&self, subject: &[u8], headers: &[u8], payload: &[u8]) -> Option<Event> {
        let token = subject.strip_prefix(self.inbox.as_slice())?;
        let token = parse_decimal(token)?;
        let status = status(headers);
        if payload.is_empty() {
            let reason = match status {
                Some(b"503") => "no JetStream stream answered (503 no responders)".to_owned(),
                Some(code) => format!("status {} from NATS", String::from_utf8_lossy(code)),
                None => "an empty acknowledgement".to_owned(),
            };
            return Some(Event::Nak(token, reason));
        }
        if memmem::find(payload, b"\"error\"").is_some() {
            return Some(ack_error(token, payload));
        }
        // A JetStream ack has a sequence number; any other reply (a core NATS
        // subscriber answering on the subject, say) is not one: wait for the ack.
        ack_sequence(payload).map(|seq| Event::Ack(token, seq))
    }
}

/// The arguments of `MSG subject sid [reply] size` or
/// `HMSG subject sid [reply] header_size total_size`.
struct Message<'a> {
    subject: &'a [u8],
    headers: usize,
    total: usize,
}

impl<'a> Message<'a> {
    fn parse(args: &'a [u8], hmsg: bool) -> Result<Message<'a>, WireError> {
        // At most five fields (HMSG with a reply subject); a sixth makes it malformed.
        let mut fields: [&[u8]; 6] = [&[]; 6];
        let mut count = 0;
        for field in args
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|f| !f.is_empty())
        {
            if let Some(slot) = fields.get_mut(count) {
                *slot = field;
            }
            count += 1;
        }
        let sizes = if hmsg { 2 } else { 1 };
        let bad = || {
            WireError(format!(
                "malformed arguments {:?}",
                String::from_utf8_lossy(args)
            ))
        };
        if !(2 + sizes..=3 + sizes).contains(&count) {
            return Err(bad());
        }
        let size = |i: usize| {
            fields
                .get(i)
                .and_then(|f| parse_decimal(f))
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(bad)
        };
        let last = count - 1;
        let total = size(last)?;
        let headers = if hmsg { size(last - 1)? } else { 0 };
        if headers > total {
            return Err(bad());
        }
        if total > MAX_MESSAGE {
            return Err(WireError(format!(
                "a message of {total} bytes, more than the {MAX_MESSAGE} an ack can be"
            )));
        }
        Ok(Message {
            subject: fields[0],
            headers,
            total,
        })
    }
}

/// Append the start of a frame publishing a `payload_len`-byte payload to
/// `subject` with the reply subject `{inbox}{token}` (`inbox` ends with `.`):
/// `PUB subject reply len`; with a `msg_id`, `HPUB subject reply header_len
/// total_len` and the header block `NATS/1.0`, `Nats-Msg-Id: {msg_id}`. The
/// payload and CRLF follow.
pub fn frame_head(
    out: &mut Vec<u8>,
    subject: &str,
    inbox: &[u8],
    token: u64,
    msg_id: Option<&str>,
    payload_len: usize,
) -> Result<(), WireError> {
    frame_head_traced(out, subject, inbox, token, msg_id, None, payload_len)
}

/// [`frame_head`] with a W3C `traceparent` header as well when `traceparent` is given
/// (the execution's trace context, which the worker continues; Python's
/// `hookcore.tracing` reads the same header name, [`TRACEPARENT_HEADER`]).
pub fn frame_head_traced(
    out: &mut Vec<u8>,
    subject: &str,
    inbox: &[u8],
    token: u64,
    msg_id: Option<&str>,
    traceparent: Option<&str>,
    payload_len: usize,
) -> Result<(), WireError> {
    if let Some(id) = msg_id {
        check_msg_id(id)?;
    }
    if let Some(value) = traceparent {
        check_traceparent(value)?;
    }
    // NATS/1.0 CRLF, then name: value CRLF per header, then CRLF
    let line = |name: &str, value: Option<&str>| value.map_or(0, |v| name.len() + 2 + v.len() + 2);
    let lines = line(MSG_ID_HEADER, msg_id) + line(TRACEPARENT_HEADER, traceparent);
    if lines == 0 {
        out.extend_from_slice(b"PUB ");
    } else {
        out.extend_from_slice(b"HPUB ");
    }
    out.extend_from_slice(subject.as_bytes());
    out.push(b' ');
    out.extend_from_slice(inbox);
    push_decimal(out, token);
    out.push(b' ');
    if lines == 0 {
        push_decimal(out, payload_len as u64);
        out.extend_from_slice(b"\r\n");
        return Ok(());
    }
    let headers_len = 10 + lines + 2;
    push_decimal(out, headers_len as u64);
    out.push(b' ');
    push_decimal(out, (headers_len + payload_len) as u64);
    out.extend_from_slice(b"\r\nNATS/1.0\r\n");
    for (name, value) in [(MSG_ID_HEADER, msg_id), (TRACEPARENT_HEADER, traceparent)] {
        if let Some(value) = value {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

fn check_msg_id(id: &str) -> Result<(), WireError> {
    if id.is_empty() || id.bytes().any(|b| b.is_ascii_control()) {
        return Err(WireError(format!(
            "a message id must be non-empty printable text, got {id:?}"
        )));
    }
    Ok(())
}

/// A W3C trace context `traceparent` of version 00: `00-{32 hex}-{16 hex}-{2 hex}`,
/// lower case, with neither id all zeros.
fn check_traceparent(value: &str) -> Result<(), WireError> {
    let bytes = value.as_bytes();
    let hex = |part: &[u8]| {
        !part.is_empty()
            && part.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && part.iter().any(|&b| b != b'0')
    };
    let valid = bytes.len() == 55
        && value.starts_with("00-")
        && bytes[35] == b'-'
        && bytes[52] == b'-'
        && hex(&bytes[3..35])
        && hex(&bytes[36..52])
        && bytes[53..]
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if valid {
        Ok(())
    } else {
        Err(WireError(format!(
            "a traceparent must be 00-<32 hex digits>-<16 hex digits>-<2 hex digits>, got {value:?}"
        )))
    }
}

/// The status code of a `NATS/1.0 503 …` header block.
fn status(headers: &[u8]) -> Option<&[u8]> {
    let line = headers.split(|&b| b == b'\r' || b == b'\n').next()?;
    let code = line.strip_prefix(b"NATS/1.0")?;
    let code = trim_ows(code);
    let end = code.iter().position(|&b| b == b' ').unwrap_or(code.len());
    Some(&code[..end]).filter(|c| !c.is_empty())
}

/// The `"seq": N` of a JetStream ack.
fn ack_sequence(payload: &[u8]) -> Option<u64> {
    memmem::find_iter(payload, b"\"seq\"").find_map(|at| {
        let value = trim_ows(payload.get(at + 5..)?).strip_prefix(b":")?;
        let value = trim_ows(value);
        let end = value
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(value.len());
        parse_decimal(&value[..end])
    })
}

/// `description (code err_code)` from JetStream's `{"error":{…}}`, or the
/// payload as text; and whether it says the stream or the storage is full.
fn ack_error(token: u64, payload: &[u8]) -> Event {
    #[derive(serde::Deserialize)]
    struct Ack {
        error: AckError,
    }
    #[derive(serde::Deserialize)]
    struct AckError {
        description: Option<String>,
        err_code: Option<u64>,
        code: Option<u64>,
    }
    match serde_json::from_slice::<Ack>(payload) {
        Ok(Ack { error }) => {
            let description = error
                .description
                .unwrap_or_else(|| "JetStream error".into());
            let full = match error.err_code {
                Some(STORE_FAILED) => LIMIT_WORDS.iter().any(|w| description.contains(w)),
                Some(code) => FULL_CODES.contains(&code),
                None => false,
            };
            let conflict = error.err_code == Some(WRONG_LAST_SEQUENCE);
            let reason = match error.err_code.or(error.code) {
                Some(code) => format!("{description} (code {code})"),
                None => description,
            };
            if full {
                Event::Full(token, reason)
            } else if conflict {
                Event::Conflict(token, reason)
            } else {
                Event::Nak(token, reason)
            }
        }
        Err(_) => Event::Nak(token, String::from_utf8_lossy(payload).into_owned()),
    }
}

/// An unsigned decimal that fits a `u64`.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let digit = d.checked_sub(b'0').filter(|&d| d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
#[path = "nats_wire_tests.rs"]
mod tests;
