//! Property tests of the multipart parser: no panics, and generated bodies
//! (binary data, unicode names, both line-ending styles) parse back exactly.

use memchr::memmem;
use proptest::prelude::*;

use crate::parse::{parse_multipart, MultipartLimits};

#[derive(Debug, Clone)]
struct GenPart {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

/// Bytes biased towards line breaks and dashes, the parser's hard cases.
fn tricky_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let chunk = prop_oneof![
        4 => any::<u8>().prop_map(|b| vec![b]),
        1 => Just(b"\r\n".to_vec()),
        1 => Just(b"\n".to_vec()),
        1 => Just(b"--".to_vec()),
        1 => Just(b"\r\n--".to_vec()),
    ];
    prop::collection::vec(chunk, 0..max).prop_map(|chunks| chunks.concat())
}

fn gen_part() -> impl Strategy<Value = GenPart> {
    (
        "[^\r\n]{0,12}",
        prop::option::of("[^\r\n]{0,12}"),
        prop::option::of("[a-z]{1,8}/[a-z0-9.+-]{1,12}(; charset=utf-8)?"),
        tricky_bytes(64),
    )
        .prop_map(|(name, filename, content_type, data)| GenPart {
            name,
            filename,
            content_type,
            data,
        })
}

fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

struct Layout {
    crlf: bool,
    padding: bool,
    preamble: Vec<u8>,
    epilogue: Vec<u8>,
}

fn build(boundary: &str, parts: &[GenPart], layout: &Layout) -> Vec<u8> {
    let eol: &[u8] = if layout.crlf { b"\r\n" } else { b"\n" };
    let pad: &[u8] = if layout.padding { b" \t " } else { b"" };
    let mut body = layout.preamble.clone();
    if !body.is_empty() {
        body.extend_from_slice(eol);
    }
    for part in parts {
        body.extend_from_slice(format!("--{boundary}").as_bytes());
        body.extend_from_slice(pad);
        body.extend_from_slice(eol);
        let mut disposition = format!("Content-Disposition: form-data; name={}", quote(&part.name));
        if let Some(filename) = &part.filename {
            disposition.push_str(&format!("; filename={}", quote(filename)));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(eol);
        if let Some(ct) = &part.content_type {
            body.extend_from_slice(format!("Content-Type: {ct}").as_bytes());
            body.extend_from_slice(eol);
        }
        body.extend_from_slice(eol);
        body.extend_from_slice(&part.data);
        body.extend_from_slice(eol);
    }
    body.extend_from_slice(format!("--{boundary}--").as_bytes());
    body.extend_from_slice(pad);
    body.extend_from_slice(eol);
    body.extend_from_slice(&layout.epilogue);
    body
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip(
        boundary in "[0-9A-Za-z'()+_,./:=?-]{1,70}",
        parts in prop::collection::vec(gen_part(), 0..6),
        crlf in any::<bool>(),
        padding in any::<bool>(),
        preamble in tricky_bytes(16),
        epilogue in tricky_bytes(16),
    ) {
        let dash_boundary = format!("--{boundary}");
        let contains = |hay: &[u8]| memmem::find(hay, dash_boundary.as_bytes()).is_some();
        prop_assume!(!contains(&preamble) && !parts.iter().any(|p| contains(&p.data)));
        let layout = Layout { crlf, padding, preamble, epilogue };
        let body = build(&boundary, &parts, &layout);
        let parsed = parse_multipart(&body, boundary.as_bytes(), &MultipartLimits::default());
        let parsed = parsed.map_err(|e| format!("{e} in {:?}", String::from_utf8_lossy(&body)));
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.len(), parts.len());
        for (got, want) in parsed.iter().zip(&parts) {
            prop_assert_eq!(got.name.as_ref(), want.name.as_str());
            prop_assert_eq!(got.filename.as_deref(), want.filename.as_deref());
            prop_assert_eq!(got.content_type.as_deref(), want.content_type.as_deref());
            prop_assert_eq!(got.bytes(&body), &want.data[..]);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256), boundary in prop::collection::vec(any::<u8>(), 0..8)) {
        let _ = parse_multipart(&body, &boundary, &MultipartLimits::default());
    }

    #[test]
    fn structured_noise_never_panics(
        pieces in prop::collection::vec(prop::sample::select(vec![
            "--b", "--b--", "\r\n", "\n", " ", "\t", "Content-Disposition: form-data", "; name=", "\"",
            "\\", "filename*=UTF-8''%e2%82%ac", "; filename=", "x", ":", "Content-Type: text/plain", ";",
        ]), 0..40),
        max_parts in 0usize..4,
        max_part_header_bytes in 0usize..80,
    ) {
        let body = pieces.concat();
        let limits = MultipartLimits { max_parts, max_part_header_bytes };
        if let Ok(parts) = parse_multipart(body.as_bytes(), b"b", &limits) {
            prop_assert!(parts.len() <= max_parts);
            for part in parts {
                prop_assert!(part.data.start <= part.data.end && part.data.end <= body.len());
            }
        }
    }
}
