//! The routing table: endpoint id -> where a request goes.
//!
//! Every ingress process keeps the whole table in memory and follows the
//! configuration bucket through a KV watch (Python side); a lookup is one hash
//! probe under an uncontended read lock, never a network round trip.

use std::sync::{Arc, RwLock};

use ahash::AHashMap;
use serde::Deserialize;

use crate::envelope::MsgpackWriter;

/// One endpoint's routing record, as stored in the configuration bucket
/// (`endpoints.{endpoint_id}`, JSON, camelCase; Python: `hookcore.store.EndpointRecord`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    pub endpoint: String,
    pub integration: String,
    pub instance: String,
    pub flow: String,
    pub customer: String,
}

/// A route ready for the hot path: the spec plus its envelope fields already
/// encoded, so accepting a request copies bytes instead of re-encoding strings.
#[derive(Debug)]
pub struct Route {
    pub spec: RouteSpec,
    pub(crate) encoded_fields: Vec<u8>,
}

/// Number of envelope map entries that `Route::encoded_fields` holds.
pub(crate) const ROUTE_FIELD_COUNT: u32 = 5;

impl Route {
    pub fn new(spec: RouteSpec) -> Self {
        let mut w = MsgpackWriter::with_capacity(128);
        w.str("endpoint");
        w.str(&spec.endpoint);
        w.str("integration");
        w.str(&spec.integration);
        w.str("instance");
        w.str(&spec.instance);
        w.str("flow");
        w.str(&spec.flow);
        w.str("customer");
        w.str(&spec.customer);
        Route {
            spec,
            encoded_fields: w.into_inner(),
        }
    }
}

/// Errors from loading a routing record.
#[derive(Debug)]
pub enum RouteError {
    /// The record is not the JSON shape of `RouteSpec`.
    Invalid(String),
    /// The record's `endpoint` field differs from the key it was stored under.
    KeyMismatch { key: String, endpoint: String },
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteError::Invalid(e) => write!(f, "invalid endpoint record: {e}"),
            RouteError::KeyMismatch { key, endpoint } => write!(
                f,
                "endpoint record stored under {key:?} names endpoint {endpoint:?}"
            ),
        }
    }
}

impl std::error::Error for RouteError {}

/// Endpoint id -> route, shared by every request of one process.
#[derive(Default)]
pub struct Router {
    routes: RwLock<AHashMap<String, Arc<Route>>>,
}

impl Router {
    /// Insert or replace the route of `endpoint_id` from its JSON record.
    pub fn set_json(&self, endpoint_id: &str, record: &[u8]) -> Result<(), RouteError> {
        let spec: RouteSpec =
            serde_json::from_slice(record).map_err(|e| RouteError::Invalid(e.to_string()))?;
        if spec.endpoint != endpoint_id {
            return Err(RouteError::KeyMismatch {
                key: endpoint_id.to_owned(),
                endpoint: spec.endpoint,
            });
        }
        self.set(spec);
        Ok(())
    }

    pub fn set(&self, spec: RouteSpec) {
        let route = Arc::new(Route::new(spec));
        let key = route.spec.endpoint.clone();
        self.write().insert(key, route);
    }

    /// Remove a route; true when it existed.
    pub fn remove(&self, endpoint_id: &str) -> bool {
        self.write().remove(endpoint_id).is_some()
    }

    pub fn get(&self, endpoint_id: &str) -> Option<Arc<Route>> {
        self.routes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(endpoint_id)
            .cloned()
    }

    pub fn len(&self) -> usize {
        self.routes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, AHashMap<String, Arc<Route>>> {
        self.routes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &[u8] = br#"{"endpoint":"abc","integration":"acme","instance":"i1","flow":"Order created","customer":"c1"}"#;

    #[test]
    fn set_get_remove() {
        let router = Router::default();
        router.set_json("abc", RECORD).unwrap();
        let route = router.get("abc").unwrap();
        assert_eq!(route.spec.flow, "Order created");
        assert!(router.remove("abc"));
        assert!(router.get("abc").is_none());
        assert!(!router.remove("abc"));
    }

    #[test]
    fn rejects_mismatched_key_and_bad_json() {
        let router = Router::default();
        assert!(matches!(
            router.set_json("other", RECORD),
            Err(RouteError::KeyMismatch { .. })
        ));
        assert!(matches!(
            router.set_json("abc", b"{"),
            Err(RouteError::Invalid(_))
        ));
        assert!(router.is_empty());
    }
}
