//! The routing table: endpoint id -> integration, instance and flow.
//!
//! Every ingress process keeps the whole table in memory: integrations come
//! from the code it loaded, endpoints and instances from the configuration
//! bucket through a KV watch (Python side). A lookup is a few hash probes
//! under an uncontended read lock, never a network round trip.

pub mod apikey;
mod resolve;
pub mod spec;
mod table;

pub use resolve::{resolve, Resolved, RouteBody, RouteRejection};
pub use spec::{
    ConfigValue, DedupSource, DedupSpec, EndpointKind, EndpointSpec, FlowSpec, InstanceSpec,
    IntegrationSpec, RuleSource, RuleSpec, Senders,
};
pub use table::{RecordError, Router};
