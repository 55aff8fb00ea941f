//! The exceptions the core raises are classes of `hookcore.errors` (imported
//! when first raised), so everything hookcore raises on purpose is a
//! `HookcoreError` with a stable `code`. A wrong argument (a type, a zero
//! slot count) stays a `TypeError`/`ValueError`, as in the standard library:
//! that is a bug in the caller, not something to handle.

pyo3::import_exception!(hookcore.errors, MalformedJson);
pyo3::import_exception!(hookcore.errors, MalformedMultipart);
pyo3::import_exception!(hookcore.errors, RecordUnreadable);
pyo3::import_exception!(hookcore.errors, NatsProtocolError);
pyo3::import_exception!(hookcore.errors, RateTableError);
pyo3::import_exception!(hookcore.errors, MetricsFileError);
