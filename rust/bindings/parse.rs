//! `parse_body` and `parse_query`: the worker's and users' view of a body.

use std::sync::Mutex;

use super::errors::{MalformedJson, MalformedMultipart};
use super::repr_fields;
use crate::parse::{self, BodyKind, ContentType, MultipartLimits, UrlencodedPairs};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use pyo3::IntoPyObjectExt;

/// What `parse_body` found in a body: its kind, the parsed value, a note.
#[pyclass(frozen, module = "hookcore._core")]
pub struct ParsedBody {
    kind: &'static str,
    #[pyo3(get)]
    value: Py<PyAny>,
    #[pyo3(get)]
    note: Option<String>,
}

#[pymethods]
impl ParsedBody {
    /// `empty`, `json`, `multipart`, `form`, `text` or `binary`; see `_core.pyi`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_fields(
            "ParsedBody",
            &[
                ("kind", self.kind.into_bound_py_any(py)?),
                ("note", self.note.as_deref().into_bound_py_any(py)?),
            ],
        )
    }
}

impl ParsedBody {
    fn new(kind: &'static str, value: Bound<'_, PyAny>, note: Option<String>) -> Self {
        ParsedBody {
            kind,
            value: value.unbind(),
            note,
        }
    }
}

/// A multipart index entry as the envelope carries it: (name, filename, content type, start, end).
type PartTuple = (String, Option<String>, Option<String>, usize, usize);

/// Parse a query string or urlencoded form into name -> str | list[str].
#[pyfunction]
pub fn parse_query<'py>(
    py: Python<'py>,
    query: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    if let Ok(s) = query.cast::<PyString>() {
        group_pairs(py, parse::parse_urlencoded_str(s.to_str()?))
    } else if let Ok(b) = query.cast::<PyBytes>() {
        group_pairs(py, parse::parse_urlencoded(b.as_bytes()))
    } else {
        Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "parse_query() takes str or bytes, not {}",
            query.get_type().name()?
        )))
    }
}

/// Classify and parse a body; see `_core.pyi`.
#[pyfunction]
#[pyo3(signature = (body, content_type, parts=None))]
pub fn parse_body<'py>(
    py: Python<'py>,
    body: &Bound<'py, PyBytes>,
    content_type: Option<&str>,
    parts: Option<Vec<PartTuple>>,
) -> PyResult<ParsedBody> {
    let bytes = body.as_bytes();
    let ct = content_type.map(ContentType::parse);
    let Some(kind) = BodyKind::of(ct.as_ref(), bytes) else {
        return Ok(ParsedBody::new("empty", py.None().into_bound(py), None));
    };
    let ct = ct.unwrap_or_else(|| ContentType::parse(""));
    Ok(match kind {
        BodyKind::Json => {
            parse::validate_json(bytes).map_err(|e| {
                MalformedJson::new_err(format!("Received malformed JSON payload: {e}"))
            })?;
            ParsedBody::new("json", py.None().into_bound(py), None)
        }
        BodyKind::Multipart => ParsedBody::new(
            "multipart",
            multipart_parts(py, bytes, &ct, parts)?.into_any(),
            None,
        ),
        BodyKind::Form => ParsedBody::new(
            "form",
            group_pairs(py, parse::parse_urlencoded(bytes))?.into_any(),
            None,
        ),
        BodyKind::Text => match parse::decode_text(bytes, ct.charset().as_deref()) {
            Ok(text) => ParsedBody::new("text", PyString::new(py, &text).into_any(), None),
            Err(e) => ParsedBody::new(
                "binary",
                body.clone().into_any(),
                Some(format!("body.data holds the raw bytes: {e}")),
            ),
        },
        BodyKind::Binary => ParsedBody::new("binary", body.clone().into_any(), None),
    })
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
                MalformedMultipart::new_err(format!(
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
        MalformedMultipart::new_err(
            "Received malformed multipart payload: the Content-Type has no boundary parameter",
        )
    })?;
    let parts = parse::parse_multipart(body, boundary.as_bytes(), &MultipartLimits::default())
        .map_err(|e| {
            MalformedMultipart::new_err(format!("Received malformed multipart payload: {e}"))
        })?;
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

/// Files (a filename) stay bytes; valid JSON parts are flagged for decoding
/// (valid as the ingress judges a JSON body: a number too long for Python
/// makes the part text); other parts decode as text with their charset, or
/// stay bytes when they cannot.
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
/// keeps the place of its first pair. Pairs go straight into the dict: a
/// name met again turns its value into a list (values are always str, so a
/// list found in the dict is one made here).
fn group_pairs<'py>(
    py: Python<'py>,
    mut pairs: UrlencodedPairs<'_>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    // Busy only if a finalizer run from here parses again: then go without.
    let mut cache = KEY_CACHE.try_lock().ok();
    let mut seen = SeenNames::default();
    while let Some((name, value)) = pairs.next_pair() {
        let hash = NAME_HASHER.hash_one(name);
        let key = match cache.as_deref_mut() {
            Some(cache) => cache.get_or_insert_with(KeyCache::new).key(py, name, hash),
            None => PyString::new(py, name),
        };
        let value = PyString::new(py, value);
        // What the dict holds for this name already, if it may hold anything.
        let earlier = if seen.insert(hash) {
            dict.get_item(&key)?
        } else {
            None
        };
        match earlier {
            None => dict.set_item(key, value)?,
            Some(earlier) => match earlier.cast_into::<PyList>() {
                Ok(list) => list.append(value)?,
                Err(first) => dict.set_item(
                    key,
                    PyList::new(py, [first.into_inner(), value.into_any()])?,
                )?,
            },
        }
    }
    Ok(dict)
}

/// Hashes names for [`SeenNames`] and [`KeyCache`]. The seeds are fixed: names
/// chosen to collide only cost a dict lookup or a cache miss each.
static NAME_HASHER: ahash::RandomState = ahash::RandomState::with_seeds(
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
);

/// The names of a form so far, as a Bloom filter of their hashes (one bit
/// each): a name that is not in it is new, and its pair needs no dict lookup.
#[derive(Default)]
struct SeenNames([u64; 4]);

impl SeenNames {
    /// Note `hash`; whether it may have been noted before.
    fn insert(&mut self, hash: u64) -> bool {
        let (word, bit) = ((hash >> 6) as usize % self.0.len(), 1 << (hash & 63));
        let Some(word) = self.0.get_mut(word) else {
            return true;
        };
        let seen = *word & bit != 0;
        *word |= bit;
        seen
    }
}

/// Names longer than this are not cached.
const KEY_CACHE_MAX_LEN: usize = 64;
const KEY_CACHE_SLOTS: usize = 1024;

static KEY_CACHE: Mutex<Option<KeyCache>> = Mutex::new(None);

/// Dict keys made recently, one per slot by the hash of their text: forms and
/// query strings repeat their names from request to request, and a cached
/// str needs no allocation and keeps its hash (orjson caches keys the same
/// way). Each slot keeps the key's text too, to be compared without a call
/// into Python.
struct KeyCache {
    slots: Vec<Option<(Box<str>, Py<PyString>)>>,
}

impl KeyCache {
    fn new() -> KeyCache {
        KeyCache {
            slots: std::iter::repeat_with(|| None)
                .take(KEY_CACHE_SLOTS)
                .collect(),
        }
    }

    /// A str equal to `name` (whose hash is `hash`), from the cache when it holds one.
    fn key<'py>(&mut self, py: Python<'py>, name: &str, hash: u64) -> Bound<'py, PyString> {
        if name.len() > KEY_CACHE_MAX_LEN {
            return PyString::new(py, name);
        }
        let Some(slot) = self.slots.get_mut((hash >> 32) as usize % KEY_CACHE_SLOTS) else {
            return PyString::new(py, name);
        };
        if let Some((text, key)) = slot {
            if **text == *name {
                return key.bind(py).clone();
            }
        }
        let key = PyString::new(py, name);
        *slot = Some((name.into(), key.clone().unbind()));
        key
    }
}

pub fn init_pymodule(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_query, m)?)?;
    m.add_function(wrap_pyfunction!(parse_body, m)?)?;
    m.add_class::<ParsedBody>()?;
    m.add("JSON_MAX_INT_DIGITS", parse::MAX_INT_DIGITS)?;
    Ok(())
}
