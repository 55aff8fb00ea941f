//! The tables behind [`Router`], updated from Python, read on every request.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ahash::AHashMap;

use super::spec::{EndpointSpec, InstanceSpec, IntegrationSpec};

/// A record from Python could not be loaded.
#[derive(Debug)]
pub enum RecordError {
    /// The JSON is not the expected shape; the message names the field.
    Invalid { what: &'static str, reason: String },
    /// The record names another id than the key it was stored under.
    KeyMismatch { key: String, id: String },
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Invalid { what, reason } => write!(f, "invalid {what} record: {reason}"),
            RecordError::KeyMismatch { key, id } => {
                write!(f, "record stored under {key:?} describes {id:?}")
            }
        }
    }
}

impl std::error::Error for RecordError {}

#[derive(Default)]
pub(super) struct Tables {
    pub integrations: AHashMap<String, Arc<IntegrationSpec>>,
    pub endpoints: AHashMap<String, Arc<EndpointSpec>>,
    pub instances: AHashMap<String, Arc<InstanceSpec>>,
    /// (integration, customer external id) -> the newest instance id.
    pub by_customer: AHashMap<(String, String), String>,
    /// Integration -> customers with an instance (sizes shared endpoints' limits).
    pub customer_counts: AHashMap<String, usize>,
}

impl Tables {
    /// `gone`, no longer in `instances`, is no longer its customer's instance of its integration:
    /// the customer's next-newest one is, if any; else the customer has none.
    fn unlink(&mut self, gone: &InstanceSpec) {
        let key = (gone.integration.clone(), gone.customer.clone());
        if self.by_customer.get(&key) != Some(&gone.id) {
            return;
        }
        let next = self
            .instances
            .values()
            .filter(|i| i.integration == key.0 && i.customer == key.1)
            .map(|i| i.id.clone())
            .max();
        match next {
            Some(id) => {
                self.by_customer.insert(key, id);
            }
            None => {
                self.by_customer.remove(&key);
                if let Some(count) = self.customer_counts.get_mut(&gone.integration) {
                    *count = count.saturating_sub(1);
                }
            }
        }
    }
}

/// Integrations, endpoints and instances, shared by every request of one process.
#[derive(Default)]
pub struct Router {
    tables: RwLock<Tables>,
}

fn parse<T: serde::de::DeserializeOwned>(
    what: &'static str,
    json: &[u8],
) -> Result<T, RecordError> {
    serde_json::from_slice(json).map_err(|e| RecordError::Invalid {
        what,
        reason: e.to_string(),
    })
}

impl Router {
    pub fn set_integration_json(&self, json: &[u8]) -> Result<(), RecordError> {
        let spec: IntegrationSpec = parse("integration", json)?;
        self.write()
            .integrations
            .insert(spec.name.clone(), Arc::new(spec));
        Ok(())
    }

    pub fn set_endpoint_json(&self, endpoint_id: &str, json: &[u8]) -> Result<(), RecordError> {
        let spec: EndpointSpec = parse("endpoint", json)?;
        if spec.endpoint != endpoint_id {
            return Err(RecordError::KeyMismatch {
                key: endpoint_id.to_owned(),
                id: spec.endpoint,
            });
        }
        self.write()
            .endpoints
            .insert(spec.endpoint.clone(), Arc::new(spec));
        Ok(())
    }

    pub fn remove_endpoint(&self, endpoint_id: &str) -> bool {
        self.write().endpoints.remove(endpoint_id).is_some()
    }

    pub fn set_instance_json(&self, instance_id: &str, json: &[u8]) -> Result<(), RecordError> {
        let spec: InstanceSpec = parse("instance", json)?;
        if spec.id != instance_id {
            return Err(RecordError::KeyMismatch {
                key: instance_id.to_owned(),
                id: spec.id,
            });
        }
        let mut tables = self.write();
        if let Some(old) = tables.instances.remove(&spec.id) {
            if (&old.integration, &old.customer) != (&spec.integration, &spec.customer) {
                // Rewritten for another integration or customer: the old pair no longer has it.
                tables.unlink(&old);
            }
        }
        let key = (spec.integration.clone(), spec.customer.clone());
        let newest = match tables.by_customer.get(&key) {
            Some(current) if current.as_str() > spec.id.as_str() => current.clone(),
            _ => spec.id.clone(),
        };
        if tables.by_customer.insert(key, newest).is_none() {
            *tables
                .customer_counts
                .entry(spec.integration.clone())
                .or_default() += 1;
        }
        tables.instances.insert(spec.id.clone(), Arc::new(spec));
        Ok(())
    }

    pub fn remove_instance(&self, instance_id: &str) -> bool {
        let mut tables = self.write();
        let Some(removed) = tables.instances.remove(instance_id) else {
            return false;
        };
        tables.unlink(&removed);
        true
    }

    pub fn endpoint_count(&self) -> usize {
        self.read().endpoints.len()
    }

    pub(super) fn read(&self) -> RwLockReadGuard<'_, Tables> {
        self.tables
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tables> {
        self.tables
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
