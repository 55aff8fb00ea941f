//! `parse_body` and `parse_query`: the worker's and users' view of a body.

use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use smallvec::{smallvec, SmallVec};

use crate::parse::query::INLINE_PAIRS;
use crate::parse::{self, BodyKind, ContentType, MultipartLimits};

pub const BODY_EMPTY: u8 = 0;
pub const BODY_JSON: u8 = 1;
pub const BODY_MULTIPART: u8 = 2;
pub const BODY_FORM: u8 = 3;
pub const BODY_TEXT: u8 = 4;
pub const BODY_BINARY: u8 = 5;

/// A multipart index entry as the envelope carries it: (name, filename, content type, start, end).
type PartTuple = (String, Option<String>, Option<String>, usize, usize);

/// Parse a query string or urlencoded form into name -> str | list[str].
#[pyfunction]
pub fn parse_query<'py>(
    py: Python<'py>,
    query: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    if let Ok(s) = query.cast::<PyString>() {
        group_pairs(py, &parse::parse_urlencoded(s.to_str()?.as_bytes()))
    } else if let Ok(b) = query.cast::<PyBytes>() {
        group_pairs(py, &parse::parse_urlencoded(b.as_bytes()))
    } else {
        Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "parse_query() takes str or bytes, not {}",
            query.get_type().name()?
        )))
    }
}

/// Classify and parse a body; see `_core.pyi` for the returned `(kind, value, note)`.
#[pyfunction]
#[pyo3(signature = (body, content_type, parts=None))]
pub fn parse_body<'py>(
    py: Python<'py>,
    body: &Bound<'py, PyBytes>,
    content_type: Option<&str>,
    parts: Option<Vec<PartTuple>>,
) -> PyResult<(u8, Bound<'py, PyAny>, Option<String>)> {
    let bytes = body.as_bytes();
    let ct = content_type.map(ContentType::parse);
    let Some(kind) = BodyKind::of(ct.as_ref(), bytes) else {
        return Ok((BODY_EMPTY, py.None().into_bound(py), None));
    };
    let ct = ct.unwrap_or_else(|| ContentType::parse(""));
    match kind {
        BodyKind::Json => {
            parse::validate_json(bytes).map_err(|e| {
                PyValueError::new_err(format!("Received malformed JSON payload: {e}"))
            })?;
            Ok((BODY_JSON, py.None().into_bound(py), None))
        }
        BodyKind::Multipart => {
            let list = multipart_parts(py, bytes, &ct, parts)?;
            Ok((BODY_MULTIPART, list.into_any(), None))
        }
        BodyKind::Form => Ok((
            BODY_FORM,
            group_pairs(py, &parse::parse_urlencoded(bytes))?.into_any(),
            None,
        )),
        BodyKind::Text => match parse::decode_text(bytes, ct.charset().as_deref()) {
            Ok(text) => Ok((BODY_TEXT, PyString::new(py, &text).into_any(), None)),
            Err(e) => Ok((
                BODY_BINARY,
                body.clone().into_any(),
                Some(format!("body.data holds the raw bytes: {e}")),
            )),
        },
        BodyKind::Binary => Ok((BODY_BINARY, body.clone().into_any(), None)),
    }
}

fn multipart_parts<'py>(
    py: Python<'py>,
    body: &[u8],
    ct: &ContentType<'_>,
    index: Option<Vec<PartTuple>>,
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    if let Some(index) = index {
        for (name, filename, content_type, start, end) in index {
            let data = body.get(start..end).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "multipart part {name:?} lies outside the body ({start}..{end} of {})",
                    body.len()
                ))
            })?;
            append_part(
                &list,
                &name,
                filename.as_deref(),
                content_type.as_deref(),
                data,
            )?;
        }
        return Ok(list);
    }
    let boundary = ct.boundary().ok_or_else(|| {
        PyValueError::new_err(
            "Received malformed multipart payload: the Content-Type has no boundary parameter",
        )
    })?;
    let parts = parse::parse_multipart(body, boundary.as_bytes(), &MultipartLimits::default())
        .map_err(|e| PyValueError::new_err(format!("Received malformed multipart payload: {e}")))?;
    for part in &parts {
        let (filename, content_type) = (part.filename.as_deref(), part.content_type.as_deref());
        append_part(&list, &part.name, filename, content_type, part.bytes(body))?;
    }
    Ok(list)
}

/// Append `(name, filename, content_type, is_json, value)` for one part.
fn append_part(
    list: &Bound<'_, PyList>,
    name: &str,
    filename: Option<&str>,
    content_type: Option<&str>,
    data: &[u8],
) -> PyResult<()> {
    let (is_json, value) = part_value(list.py(), data, filename, content_type);
    list.append((name, filename, content_type, is_json, value))
}

/// Files (a filename) stay bytes; valid JSON parts are flagged for decoding;
/// other parts decode as text with their charset, or stay bytes when they cannot.
fn part_value<'py>(
    py: Python<'py>,
    data: &[u8],
    filename: Option<&str>,
    content_type: Option<&str>,
) -> (bool, Bound<'py, PyAny>) {
    let bytes = || PyBytes::new(py, data).into_any();
    if filename.is_some() {
        return (false, bytes());
    }
    // Without a Content-Type a part is text/plain: no charset, not JSON.
    let ct = content_type.map(ContentType::parse);
    if ct.as_ref().is_some_and(|ct| ct.kind() == BodyKind::Json)
        && parse::validate_json(data).is_ok()
    {
        return (true, bytes());
    }
    let charset = ct.as_ref().and_then(ContentType::charset);
    match parse::decode_text(data, charset.as_deref()) {
        Ok(text) => (false, PyString::new(py, &text).into_any()),
        Err(_) => (false, bytes()),
    }
}

/// name -> value, a repeated name -> list of values in order; each name
/// keeps the place of its first pair.
///
/// A short form (at most [`INLINE_PAIRS`] pairs, grouped without a heap
/// allocation) is grouped in Rust first, so that every str is made once. A long one is inserted pair by pair, each name once,
/// and grouped only when the dict ends up smaller than the pairs (some names
/// repeat, the common case being none); then only the repeated names are
/// set again, to their lists.
fn group_pairs<'py>(py: Python<'py>, form: &parse::FormPairs<'_>) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    // Busy only if a finalizer run from here parses again: then go without.
    let mut cache = KEY_CACHE.try_lock().ok();
    let mut key = |name: &str| match cache.as_deref_mut() {
        Some(cache) => cache.get_or_insert_with(KeyCache::new).key(py, name),
        None => PyString::new(py, name),
    };
    let value = |i: usize| PyString::new(py, form.value(i));
    let short = form.len() <= INLINE_PAIRS;
    let groups = if short {
        form.groups()
    } else {
        for (name, value) in form.iter() {
            dict.set_item(key(name), PyString::new(py, value))?;
        }
        if dict.len() == form.len() {
            return Ok(dict);
        }
        form.groups()
    };
    if groups.first.len() == form.len() {
        for (i, (name, _)) in form.iter().enumerate() {
            dict.set_item(key(name), value(i))?;
        }
        return Ok(dict);
    }
    let mut sizes: SmallVec<[usize; INLINE_PAIRS]> = smallvec![0; groups.first.len()];
    for &group in &groups.group_of {
        sizes[group] += 1;
    }
    let mut lists: SmallVec<[Option<Bound<'py, PyList>>; INLINE_PAIRS]> =
        smallvec![None; groups.first.len()];
    for (i, &group) in groups.group_of.iter().enumerate() {
        if sizes[group] > 1 {
            lists[group]
                .get_or_insert_with(|| PyList::empty(py))
                .append(value(i))?;
        }
    }
    for (&first, list) in groups.first.iter().zip(lists) {
        match list {
            Some(list) => dict.set_item(key(form.name(first)), list)?,
            None if short => dict.set_item(key(form.name(first)), value(first))?,
            None => {}
        }
    }
    Ok(dict)
}

/// Names longer than this are not cached.
const KEY_CACHE_MAX_LEN: usize = 64;
const KEY_CACHE_SLOTS: usize = 1024;

static KEY_CACHE: Mutex<Option<KeyCache>> = Mutex::new(None);

/// Dict keys made recently, one per slot by a hash of their text: forms and
/// query strings repeat their names from request to request, and a cached
/// str needs no allocation and keeps its hash (orjson caches keys the same way).
struct KeyCache {
    hasher: ahash::RandomState,
    slots: Vec<Option<Py<PyString>>>,
}

impl KeyCache {
    fn new() -> KeyCache {
        KeyCache {
            hasher: ahash::RandomState::new(),
            slots: std::iter::repeat_with(|| None)
                .take(KEY_CACHE_SLOTS)
                .collect(),
        }
    }

    /// A str equal to `name`, from the cache when it holds one.
    fn key<'py>(&mut self, py: Python<'py>, name: &str) -> Bound<'py, PyString> {
        if name.len() > KEY_CACHE_MAX_LEN {
            return PyString::new(py, name);
        }
        let slot = (self.hasher.hash_one(name) % KEY_CACHE_SLOTS as u64) as usize;
        let slot = &mut self.slots[slot];
        if let Some(cached) = slot {
            let cached = cached.bind(py);
            if cached.to_str().is_ok_and(|text| text == name) {
                return cached.clone();
            }
        }
        let key = PyString::new(py, name);
        *slot = Some(key.clone().unbind());
        key
    }
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_query, m)?)?;
    m.add_function(wrap_pyfunction!(parse_body, m)?)?;
    m.add("BODY_EMPTY", BODY_EMPTY)?;
    m.add("BODY_JSON", BODY_JSON)?;
    m.add("BODY_MULTIPART", BODY_MULTIPART)?;
    m.add("BODY_FORM", BODY_FORM)?;
    m.add("BODY_TEXT", BODY_TEXT)?;
    m.add("BODY_BINARY", BODY_BINARY)?;
    Ok(())
}
