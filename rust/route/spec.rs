//! The routing records, as JSON (camelCase) from Python.
//!
//! KEEP IN SYNC with `python/hookcore/route_spec.py` (integration specs, built from
//! code) and `python/hookcore/store.py` (`EndpointRecord`, `InstanceRecord`).

use ahash::AHashMap;
use serde::Deserialize;

use crate::verify::{HandshakeSpec, VerifySpec};

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

/// Where a delivery id for duplicates comes from.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DedupSource {
    /// The one the verify scheme implies ([`crate::verify::delivery_id`]).
    Scheme,
    Header,
    Body,
}

/// How duplicate deliveries of a flow are recognised.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DedupSpec {
    pub source: DedupSource,
    /// Lower-cased header name or JSON pointer (`header`, `body`).
    #[serde(default)]
    pub selector: Option<String>,
    /// Seconds a delivery id is remembered.
    pub window: u64,
}

/// Who may send and how duplicates are found (SPEC section 8): a flow's own
/// (its integration's where it sets none), or the integration's for a request
/// whose flow a Python `preprocess` has still to pick.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct Senders {
    pub verify: Option<VerifySpec>,
    pub handshake: Option<HandshakeSpec>,
    pub dedup: Option<DedupSpec>,
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
    pub senders: Senders,
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
    #[serde(default)]
    pub senders: Senders,
    pub flows: AHashMap<String, FlowSpec>,
}

impl IntegrationSpec {
    /// Whether any of its requests must carry a signature (the integration's or a flow's `verify`).
    pub fn signs(&self) -> bool {
        self.senders.verify.is_some() || self.flows.values().any(|f| f.senders.verify.is_some())
    }
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
    /// The instance's config values: where signing secrets and handshake tokens come from.
    #[serde(default)]
    pub config: AHashMap<String, ConfigValue>,
}

/// A config value: a string, or several while a secret is rotated.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum ConfigValue {
    One(String),
    Many(Vec<String>),
}

impl InstanceSpec {
    /// The values of config entry `name` (none when it is not set).
    pub fn secrets(&self, name: &str) -> Vec<&str> {
        match self.config.get(name) {
            None => Vec::new(),
            Some(ConfigValue::One(value)) => vec![value.as_str()],
            Some(ConfigValue::Many(values)) => values.iter().map(String::as_str).collect(),
        }
    }
}
