//! Choosing the instance and flow of a request from its endpoint, headers and body.

use std::sync::Arc;

use super::apikey;
use super::spec::{
    EndpointKind, EndpointSpec, FlowSpec, InstanceSpec, IntegrationSpec, RuleSource, RuleSpec,
    Senders,
};
use super::table::Router;
use crate::error_code::ErrorCode;
use crate::parse::json_pointer;

/// Where a request goes.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub endpoint: Arc<EndpointSpec>,
    pub integration: Arc<IntegrationSpec>,
    pub instance: Arc<InstanceSpec>,
    /// None when a Python `preprocess` function picks the flow.
    pub flow: Option<String>,
}

impl Resolved {
    pub fn flow_spec(&self) -> Option<&FlowSpec> {
        self.flow
            .as_deref()
            .and_then(|f| self.integration.flows.get(f))
    }

    /// Who may send to the flow (the integration's while a `preprocess` has still to pick it).
    pub fn senders(&self) -> &Senders {
        self.flow_spec()
            .map_or(&self.integration.senders, |flow| &flow.senders)
    }
}

/// The request body as routing sees it: body rules read only a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteBody<'a> {
    /// A valid JSON body (sent with a JSON `Content-Type`).
    Json(&'a [u8]),
    /// No body.
    Empty,
    /// A body not read as JSON, and its `Content-Type` (None: the header is absent).
    NotJson(Option<&'a str>),
}

impl<'a> RouteBody<'a> {
    fn json(self) -> Option<&'a [u8]> {
        match self {
            RouteBody::Json(body) => Some(body),
            _ => None,
        }
    }

    /// Why a body rule found nothing, after "… is missing".
    fn why_missing(self) -> String {
        match self {
            RouteBody::Json(_) => {
                " (it must be a string, number or boolean in a JSON body)".to_owned()
            }
            RouteBody::Empty => " (the request has no body)".to_owned(),
            RouteBody::NotJson(None) => {
                ": the request has no Content-Type header, so its body was not read \
                 as JSON (send Content-Type: application/json)"
                    .to_owned()
            }
            RouteBody::NotJson(Some(content_type)) => format!(
                ": the body was not read as JSON because its Content-Type is {content_type:?} \
                 (send Content-Type: application/json)"
            ),
        }
    }
}

/// Why a request cannot be routed: an HTTP status, its error code and the message for `{"error": …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRejection {
    pub status: u16,
    pub code: ErrorCode,
    pub message: String,
    /// A shared endpoint named a customer without an instance: where senders must
    /// sign, this is answered like a bad signature, so customers cannot be probed.
    pub unknown_customer: bool,
}

impl RouteRejection {
    fn new(status: u16, code: ErrorCode, message: String) -> Self {
        RouteRejection {
            status,
            code,
            message,
            unknown_customer: false,
        }
    }
}

impl Router {
    /// Customers with an instance of `integration`.
    pub fn customer_count(&self, integration: &str) -> usize {
        self.read()
            .customer_counts
            .get(integration)
            .copied()
            .unwrap_or(0)
    }

    /// The endpoint and its integration, if both are known to this process.
    pub fn endpoint(&self, endpoint_id: &str) -> Option<(Arc<EndpointSpec>, Arc<IntegrationSpec>)> {
        let tables = self.read();
        let endpoint = tables.endpoints.get(endpoint_id)?;
        let integration = tables.integrations.get(&endpoint.integration)?;
        Some((endpoint.clone(), integration.clone()))
    }
}

/// Pick the instance and flow, then check the flow's API key.
///
/// `headers` are lower-cased; `body` says whether the body is (valid) JSON, and why not.
pub fn resolve(
    router: &Router,
    endpoint: Arc<EndpointSpec>,
    integration: Arc<IntegrationSpec>,
    headers: &[(String, String)],
    body: RouteBody<'_>,
) -> Result<Resolved, RouteRejection> {
    let instance = {
        let tables = router.read();
        let instance_id = match endpoint.kind {
            EndpointKind::Shared => {
                let rule = integration.customer_from.as_ref().ok_or_else(|| {
                    RouteRejection::new(
                        500,
                        ErrorCode::IntegrationMisconfigured,
                        format!(
                            "integration {:?} has a shared endpoint but no customer_from rule",
                            integration.name
                        ),
                    )
                })?;
                let customer = extract(rule, "customer", headers, body)?;
                let key = (integration.name.clone(), customer);
                tables.by_customer.get(&key).cloned().ok_or_else(|| {
                    let mut rejection = RouteRejection::new(
                        400,
                        ErrorCode::Unroutable,
                        format!(
                            "Could not route the request: no customer {:?} has an instance of integration {:?} (customer from {}).",
                            key.1,
                            integration.name,
                            rule.describe()
                        ),
                    );
                    rejection.unknown_customer = true;
                    rejection
                })?
            }
            _ => endpoint.instance.clone().unwrap_or_default(),
        };
        tables.instances.get(&instance_id).cloned()
    };
    // An endpoint whose instance is gone (removal in progress) no longer exists.
    let instance = instance.ok_or_else(|| {
        RouteRejection::new(
            404,
            ErrorCode::EndpointNotFound,
            crate::ingest::ENDPOINT_NOT_FOUND.to_owned(),
        )
    })?;

    let flow = match (&endpoint.kind, &endpoint.flow) {
        (EndpointKind::InstanceAndFlow, Some(flow)) => Some(flow.clone()),
        _ if integration.preprocess => None,
        _ => {
            let rule = integration.flow_from.as_ref().ok_or_else(|| {
                RouteRejection::new(
                    500,
                    ErrorCode::IntegrationMisconfigured,
                    format!(
                        "integration {:?} needs a flow_from rule or a preprocess function",
                        integration.name
                    ),
                )
            })?;
            let flow = extract(rule, "flow", headers, body)?;
            if !integration.flows.contains_key(&flow) {
                return Err(RouteRejection::new(
                    400,
                    ErrorCode::Unroutable,
                    format!(
                        "Could not route the request: integration {:?} has no flow {:?} (flow from {}).",
                        integration.name,
                        flow,
                        rule.describe()
                    ),
                ));
            }
            Some(flow)
        }
    };
    let resolved = Resolved {
        endpoint,
        integration,
        instance,
        flow,
    };
    check_api_key(&resolved, headers)?;
    Ok(resolved)
}

/// Check the `Api-Key` header of a flow that requires one.
pub fn check_api_key(
    resolved: &Resolved,
    headers: &[(String, String)],
) -> Result<(), RouteRejection> {
    let (Some(flow), Some(spec)) = (resolved.flow.as_deref(), resolved.flow_spec()) else {
        return Ok(());
    };
    if !spec.api_keys {
        return Ok(());
    }
    let Some(presented) = header(headers, apikey::API_KEY_HEADER) else {
        return Err(RouteRejection::new(
            401,
            ErrorCode::ApiKeyMissing,
            format!("Flow {flow:?} requires an API key: send it in the Api-Key header."),
        ));
    };
    let digests = resolved
        .instance
        .api_key_hashes
        .get(flow)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if apikey::matches(presented, digests) {
        Ok(())
    } else {
        Err(RouteRejection::new(
            401,
            ErrorCode::ApiKeyInvalid,
            format!("The API key is not valid for flow {flow:?}."),
        ))
    }
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The rule's value, through its mapping when it has one.
fn extract(
    rule: &RuleSpec,
    what: &str,
    headers: &[(String, String)],
    body: RouteBody<'_>,
) -> Result<String, RouteRejection> {
    let raw: Option<String> = match rule.source {
        RuleSource::Header => header(headers, &rule.selector).map(str::to_owned),
        RuleSource::Body => body
            .json()
            .and_then(|json| json_pointer(json, &rule.selector))
            .map(|scalar| scalar.as_text().to_owned()),
    };
    let Some(raw) = raw.filter(|v| !v.is_empty()) else {
        let hint = match rule.source {
            RuleSource::Header => String::new(),
            RuleSource::Body => body.why_missing(),
        };
        return Err(RouteRejection::new(
            400,
            ErrorCode::Unroutable,
            format!(
                "Could not route the request: {} ({what}) is missing{hint}.",
                rule.describe()
            ),
        ));
    };
    match &rule.mapping {
        None => Ok(raw),
        Some(mapping) => mapping.get(&raw).cloned().ok_or_else(|| {
            RouteRejection::new(
                400,
                ErrorCode::Unroutable,
                format!(
                    "Could not route the request: {} ({what}) is {raw:?}, which maps to no {what}.",
                    rule.describe()
                ),
            )
        }),
    }
}
