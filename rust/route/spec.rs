//! The routing records, as JSON (camelCase) from Python.
//!
//! KEEP IN SYNC with `python/hookcore/routing.py` (integration specs, built from
//! code) and `python/hookcore/store.py` (`EndpointRecord`, `InstanceRecord`).

use ahash::AHashMap;
use serde::Deserialize;

/// How an integration's URLs map to instances and flows.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    InstanceAndFlow,
    Instance,
    Shared,
}

/// Where a routing value is read.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RuleSource {
    Header,
    Body,
}

/// `header(name)` or `body(json_pointer)`, with an optional value mapping.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RuleSpec {
    pub source: RuleSource,
    /// Lower-cased header name, or an RFC 6901 pointer.
    pub selector: String,
    #[serde(default)]
    pub mapping: Option<AHashMap<String, String>>,
}

impl RuleSpec {
    pub fn describe(&self) -> String {
        match self.source {
            RuleSource::Header => format!("header {:?}", self.selector),
            RuleSource::Body => format!("body field {:?}", self.selector),
        }
    }
}

/// What the ingress must know about one flow.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowSpec {
    pub synchronous: bool,
    pub api_keys: bool,
    /// The flow has an `on_trigger` or a static response: Python takes part.
    pub python: bool,
    pub rate_limit: Option<f64>,
    pub burst: Option<u32>,
}

/// One integration as loaded by this process (from code, not from KV).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationSpec {
    pub name: String,
    pub endpoint: EndpointKind,
    #[serde(default)]
    pub customer_from: Option<RuleSpec>,
    #[serde(default)]
    pub flow_from: Option<RuleSpec>,
    /// A Python `preprocess` picks the flow (instance and shared endpoints).
    #[serde(default)]
    pub preprocess: bool,
    pub rate_limit: f64,
    #[serde(default)]
    pub burst: Option<u32>,
    pub flows: AHashMap<String, FlowSpec>,
}

/// One webhook URL (`endpoints.{id}` in the config bucket).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSpec {
    pub endpoint: String,
    pub integration: String,
    pub kind: EndpointKind,
    /// Set for `instance_and_flow` and `instance` endpoints.
    #[serde(default)]
    pub instance: Option<String>,
    /// Set for `instance_and_flow` endpoints.
    #[serde(default)]
    pub flow: Option<String>,
}

/// The part of an instance record the ingress needs (`instances.{id}`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSpec {
    pub id: String,
    pub integration: String,
    pub customer: String,
    /// Flow name -> SHA-256 digests (hex) of its valid API keys.
    #[serde(default)]
    pub api_key_hashes: AHashMap<String, Vec<String>>,
}
