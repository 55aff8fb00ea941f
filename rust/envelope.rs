//! Envelope bytes: the msgpack map that the ingress publishes to JetStream and
//! the worker decodes into `hookcore.envelope.Envelope`.
//!
//! KEEP IN SYNC with `python/hookcore/envelope.py`: the field names below are
//! the camelCase names of that Struct's fields.

use rmp::encode;

/// A minimal msgpack writer over a `Vec<u8>` (writes to a Vec cannot fail).
pub struct MsgpackWriter {
    buf: Vec<u8>,
}

impl MsgpackWriter {
    pub fn with_capacity(capacity: usize) -> Self {
        MsgpackWriter {
            buf: Vec::with_capacity(capacity),
        }
    }

    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    pub fn map_len(&mut self, len: u32) {
        encode::write_map_len(&mut self.buf, len).expect("Vec write");
    }

    pub fn array_len(&mut self, len: u32) {
        encode::write_array_len(&mut self.buf, len).expect("Vec write");
    }

    pub fn str(&mut self, value: &str) {
        encode::write_str(&mut self.buf, value).expect("Vec write");
    }

    pub fn opt_str(&mut self, value: Option<&str>) {
        match value {
            Some(v) => self.str(v),
            None => self.nil(),
        }
    }

    /// The marker of a bin value of `len` bytes, whose bytes the caller appends.
    pub fn bin_len(&mut self, len: u32) {
        encode::write_bin_len(&mut self.buf, len).expect("Vec write");
    }

    pub fn uint(&mut self, value: u64) {
        encode::write_uint(&mut self.buf, value).expect("Vec write");
    }

    pub fn bool(&mut self, value: bool) {
        encode::write_bool(&mut self.buf, value).expect("Vec write");
    }

    pub fn nil(&mut self) {
        encode::write_nil(&mut self.buf).expect("Vec write");
    }
}

/// Where one multipart part's bytes sit in the body, found by the ingress so
/// the worker does not parse the body again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartIndex {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub start: usize,
    pub end: usize,
}

/// Everything an accepted request contributes to its envelope.
pub struct EnvelopeFields<'a> {
    pub execution_id: &'a str,
    pub received_at_us: u64,
    pub endpoint: &'a str,
    pub integration: &'a str,
    pub instance: &'a str,
    /// None when a Python `preprocess` function is still to pick it.
    pub flow: Option<&'a str>,
    pub customer: &'a str,
    /// Subject the worker answers on when the caller waits (synchronous).
    pub reply: Option<&'a str>,
    pub method: &'a str,
    pub path_fragment: &'a str,
    pub query: &'a str,
    pub headers: &'a [(String, String)],
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    /// The body goes to the object store (too big for one message) instead.
    pub body_in_object_store: bool,
    pub parts: Option<&'a [PartIndex]>,
}

const FIELD_COUNT: u32 = 16;

/// The envelope map up to its last field, the body: everything but the
/// body's bytes, which follow it (`head + body` is the envelope; when the body
/// is in the object store, the head alone). The body comes last so the
/// publisher can send it from the buffer it arrived in.
pub fn encode_head(fields: &EnvelopeFields<'_>) -> Vec<u8> {
    let mut w = MsgpackWriter::with_capacity(256 + fields.headers.len() * 48);
    w.map_len(FIELD_COUNT);
    w.str("id");
    w.str(fields.execution_id);
    w.str("receivedAt");
    w.uint(fields.received_at_us);
    w.str("endpoint");
    w.str(fields.endpoint);
    w.str("integration");
    w.str(fields.integration);
    w.str("instance");
    w.str(fields.instance);
    w.str("flow");
    w.opt_str(fields.flow);
    w.str("customer");
    w.str(fields.customer);
    w.str("reply");
    w.opt_str(fields.reply);
    w.str("method");
    w.str(fields.method);
    w.str("path");
    w.str(fields.path_fragment);
    w.str("query");
    w.str(fields.query);
    w.str("headers");
    w.map_len(fields.headers.len() as u32);
    for (name, value) in fields.headers {
        w.str(name);
        w.str(value);
    }
    w.str("contentType");
    w.opt_str(fields.content_type);
    w.str("bodyInObjectStore");
    w.bool(fields.body_in_object_store);
    w.str("parts");
    match fields.parts {
        None => w.nil(),
        Some(parts) => {
            w.array_len(parts.len() as u32);
            for part in parts {
                w.array_len(5);
                w.str(&part.name);
                w.opt_str(part.filename.as_deref());
                w.opt_str(part.content_type.as_deref());
                w.uint(part.start as u64);
                w.uint(part.end as u64);
            }
        }
    }
    w.str("body");
    if fields.body_in_object_store {
        w.nil();
    } else {
        w.bin_len(fields.body.len() as u32);
    }
    w.into_inner()
}

/// The whole envelope: [`encode_head`] followed by the body's bytes when they are inline.
pub fn encode(fields: &EnvelopeFields<'_>) -> Vec<u8> {
    let mut envelope = encode_head(fields);
    if !fields.body_in_object_store {
        envelope.extend_from_slice(fields.body);
    }
    envelope
}

impl From<crate::parse::Part<'_>> for PartIndex {
    fn from(part: crate::parse::Part<'_>) -> Self {
        PartIndex {
            name: part.name.into_owned(),
            filename: part.filename.map(std::borrow::Cow::into_owned),
            content_type: part.content_type.map(std::borrow::Cow::into_owned),
            start: part.data.start,
            end: part.data.end,
        }
    }
}
