//! The hot path: one call turns a raw trigger request into a decision.
//!
//! Sans-IO: bytes in, a `Decision` out. The Python ingress publishes an
//! accepted envelope to JetStream and answers; it never looks at the body.

// Rejections travel as `Err(Decision)` through the checks; boxing them would cost an
// allocation per accepted request on the hot path.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::envelope::{self, EnvelopeFields, PartIndex};
use crate::error_code::ErrorCode;
use crate::ids;
use crate::parse::{self, BodyKind, ContentType, MultipartLimits};
use crate::rate_limit::{Limiter, Rate, Verdict};
use crate::route::{
    self, EndpointKind, EndpointSpec, IntegrationSpec, Resolved, RouteBody, Router,
};
use crate::senders::{self, Stop};
use crate::shards;

/// Methods that trigger an execution.
pub const TRIGGER_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// Value of the `Allow` header on a 405.
pub const ALLOW: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";
/// Request header that makes any flow's execution synchronous.
pub const SYNC_HEADER: &str = "hookcore-synchronous";
/// Response header naming the execution a request created.
pub const EXECUTION_ID_HEADER: &str = "hookcore-execution-id";

pub const MALFORMED_JSON: &str = "Received malformed JSON payload.";
pub const MALFORMED_MULTIPART: &str = "Received malformed multipart payload.";
pub const ENDPOINT_NOT_FOUND: &str = "Endpoint not found.";

/// Limits and names the ingress is configured with (Python: `hookcore.config.Settings`).
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Accepted requests are published to `{subject_prefix}.{lane}.{shard}.{execution_id}`
    /// ([`shards::execution_subject`]).
    pub subject_prefix: String,
    /// Synchronous executions answer on `{reply_prefix}.{execution_id}`.
    pub reply_prefix: String,
    /// The largest envelope one message may carry (the server's max_payload less
    /// room for the message headers). A request whose envelope would be larger
    /// is stored with its body in the object store, or refused (413) when even
    /// that does not fit: no frame NATS would refuse ever reaches the wire.
    pub max_envelope: usize,
    /// Most header lines one request may carry.
    pub max_headers: usize,
    /// Most bytes of header names and values one request may carry.
    pub max_header_bytes: usize,
    pub multipart: MultipartLimits,
}

/// A raw trigger request, as the HTTP server hands it over.
pub struct TriggerRequest<'a> {
    pub method: &'a str,
    /// The path after `/trigger/`: `{endpoint_id}[/{fragment}]`, already percent-decoded.
    pub target: &'a str,
    pub query: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// An accepted request: what to publish and how to answer.
#[derive(Debug)]
pub struct Accepted {
    pub execution_id: String,
    pub subject: String,
    /// The envelope up to the body's bytes ([`envelope::encode_head`]): the envelope
    /// is this followed by the request's body, or this alone when the body is in the
    /// object store.
    pub envelope_head: Vec<u8>,
    /// Put the body into the object store (`body.{execution_id}`) before publishing.
    pub body_in_object_store: bool,
    /// The request's body follows `envelope_head` in the envelope (false when it is in
    /// the object store, and for a GET, whose body is dropped).
    pub body_inline: bool,
    /// `{"executionId": …}`, the default answer.
    pub response: Vec<u8>,
    /// The caller waits for the execution to end.
    pub synchronous: bool,
    /// (integration, flow) when Python takes part before answering: the flow
    /// has an on_trigger or a static response, a `preprocess` function must
    /// pick it (flow None), or the execution is synchronous.
    pub python: Option<(String, Option<String>)>,
    /// The rate-limit bucket the caller is counted in (for the RateLimit headers);
    /// None when rate limiting is off.
    pub limit: Option<Verdict>,
    /// Claim this delivery key before storing: a copy of it is a duplicate.
    pub dedup: Option<DeliveryKey>,
    /// The customer (external id) of the instance the request was routed to.
    pub customer: String,
    /// The integration the request was routed to (its name), for traces.
    pub integration: Arc<IntegrationSpec>,
    /// The flow it runs (None while a `preprocess` function has to pick it), for traces.
    pub flow: Option<String>,
}

/// A delivery's key in the deliveries bucket and how long it is remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryKey {
    pub key: String,
    pub window_secs: u64,
}

/// What to do with a request.
#[derive(Debug)]
pub enum Decision {
    Accepted(Accepted),
    /// HEAD on a known endpoint: answer 200 without a body and run nothing.
    Head,
    /// A provider's URL handshake: send this answer, store and run nothing.
    Answer(crate::verify::Answer),
    /// Answer `status` with the JSON `body` and the `code` header; nothing is
    /// stored. `limit` is set once the request was counted in a rate-limit bucket.
    Rejected {
        status: u16,
        code: ErrorCode,
        body: Vec<u8>,
        limit: Option<Verdict>,
    },
}

impl Decision {
    fn reject(status: u16, code: ErrorCode, message: &str) -> Decision {
        Decision::Rejected {
            status,
            code,
            body: error_body(message),
            limit: None,
        }
    }

    fn rate_limited(message: &str, limit: Verdict) -> Decision {
        Decision::Rejected {
            status: 429,
            code: ErrorCode::RateLimited,
            body: error_body(message),
            limit: Some(limit),
        }
    }
}

/// `{"error": message}` as JSON bytes.
pub fn error_body(message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 14);
    out.extend_from_slice(b"{\"error\":");
    serde_json::to_writer(&mut out, message).expect("Vec write");
    out.push(b'}');
    out
}

/// The seed's 429 message.
fn over_limit(endpoint_id: &str, rate: f64) -> String {
    let rate = if rate.fract() == 0.0 {
        format!("{rate:.0}")
    } else {
        rate.to_string()
    };
    format!(
        "Endpoint with id: {endpoint_id} has exceeded maximum allowed throughput of {rate} requests/second. \
         Please throttle your requests."
    )
}

/// The endpoint's own bucket: its flow's limit on an instance_and_flow endpoint, else
/// the integration's; a shared endpoint holds one integration limit per customer.
fn endpoint_rate(router: &Router, endpoint: &EndpointSpec, integration: &IntegrationSpec) -> Rate {
    let flow = endpoint
        .flow
        .as_deref()
        .and_then(|f| integration.flows.get(f));
    let per_second = flow
        .and_then(|f| f.rate_limit)
        .unwrap_or(integration.rate_limit);
    let burst = flow.and_then(|f| f.burst).or(integration.burst);
    let rate = Rate::new(per_second, burst);
    if endpoint.kind != EndpointKind::Shared {
        return rate;
    }
    let customers = router.customer_count(&integration.name).max(1) as u32;
    Rate::new(
        rate.per_second * f64::from(customers),
        Some(rate.burst.saturating_mul(customers)),
    )
}

/// `{endpoint_id}` and `{fragment}` of a target `{endpoint_id}[/{fragment}]`.
fn split_target(target: &str) -> (&str, &str) {
    target.split_once('/').unwrap_or((target, ""))
}

/// The method's and endpoint's verdict, which needs neither headers nor body.
fn check_method_and_endpoint(
    router: &Router,
    method: &str,
    endpoint_id: &str,
) -> Result<(Arc<EndpointSpec>, Arc<IntegrationSpec>), Decision> {
    if method != "HEAD" && !TRIGGER_METHODS.contains(&method) {
        return Err(Decision::reject(
            405,
            ErrorCode::MethodNotAllowed,
            &format!("Method {method} is not allowed on a trigger endpoint; use one of {ALLOW}."),
        ));
    }
    let Some(found) = router.endpoint(endpoint_id) else {
        return Err(Decision::reject(
            404,
            ErrorCode::EndpointNotFound,
            ENDPOINT_NOT_FOUND,
        ));
    };
    if method == "HEAD" {
        return Err(Decision::Head);
    }
    Ok(found)
}

/// What can be answered from the method and target alone, before the body is
/// read: 405, 404, HEAD, or 429 when the endpoint's bucket is empty (looked at,
/// not taken: `ingest` takes the token). None: read the body and call `ingest`.
pub fn admit(
    router: &Router,
    limiter: Option<&Limiter>,
    method: &str,
    target: &str,
) -> Option<Decision> {
    let (endpoint_id, _) = split_target(target);
    let (endpoint, integration) = match check_method_and_endpoint(router, method, endpoint_id) {
        Ok(found) => found,
        Err(answer) => return Some(answer),
    };
    let limiter = limiter?;
    let rate = endpoint_rate(router, &endpoint, &integration);
    let verdict = limiter.peek(endpoint_id, rate);
    (!verdict.allowed)
        .then(|| Decision::rate_limited(&over_limit(endpoint_id, rate.per_second), verdict))
}

/// Decide what happens to one trigger request.
pub fn ingest(
    config: &IngestConfig,
    router: &Router,
    limiter: Option<&Limiter>,
    request: &TriggerRequest<'_>,
) -> Decision {
    let (endpoint_id, fragment) = split_target(request.target);
    let method = request.method;
    let (endpoint, integration) = match check_method_and_endpoint(router, method, endpoint_id) {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let shared = endpoint.kind == EndpointKind::Shared;
    // Where senders sign, the endpoint's bucket is taken before verification and a
    // customer's own only after it, so forged requests cannot use up a tenant's share.
    let signed = shared && integration.signs();
    let endpoint_limit = endpoint_rate(router, &endpoint, &integration);
    let mut limit = None;
    if let (true, Some(limiter)) = (!shared || signed, limiter) {
        // Checked first: a refused request costs no parsing.
        let verdict = limiter.check(endpoint_id, endpoint_limit);
        if !verdict.allowed {
            let message = over_limit(endpoint_id, endpoint_limit.per_second);
            return Decision::rate_limited(&message, verdict);
        }
        limit = Some(verdict);
    }
    let counted = |decision: Decision| match decision {
        Decision::Rejected {
            status,
            code,
            body,
            limit: None,
        } => Decision::Rejected {
            status,
            code,
            body,
            limit,
        },
        other => other,
    };
    let headers = match collect_headers(config, request.headers) {
        Ok(headers) => headers,
        Err(rejected) => return counted(rejected),
    };
    // GET carries no body (SPEC section 3): whatever a sender attached is ignored.
    let body: &[u8] = if method == "GET" { b"" } else { request.body };
    let content_type = header_value(&headers, "content-type");
    let checked = match check_body(config, content_type, body) {
        Ok(checked) => checked,
        Err(rejected) => return counted(rejected),
    };
    let json_body = checked.is_json.then_some(body);
    let now = now_micros() / 1_000_000;
    // Kept past routing (which takes the integration) only where an unknown customer must be
    // refused like a forgery: an Arc clone, on signing shared endpoints alone.
    let signing = signed.then(|| integration.clone());
    let route_body = match (json_body, body.is_empty()) {
        (Some(json), _) => RouteBody::Json(json),
        (None, true) => RouteBody::Empty,
        (None, false) => RouteBody::NotJson(content_type),
    };
    let resolved = match route::resolve(router, endpoint, integration, &headers, route_body) {
        Ok(resolved) => resolved,
        Err(rejection) => {
            let spec = signing.as_ref().and_then(|i| i.senders.verify.as_ref());
            if let (true, Some(spec)) = (rejection.unknown_customer, spec) {
                return counted(refused(&senders::refuse_unknown(spec, &headers, body, now)));
            }
            return counted(Decision::reject(
                rejection.status,
                rejection.code,
                &rejection.message,
            ));
        }
    };
    let instance = &resolved.instance;
    if let Err(stop) = senders::check(
        resolved.senders(),
        instance,
        method,
        request.query,
        &headers,
        body,
        now,
    ) {
        return counted(match stop {
            Stop::Answer(answer) => Decision::Answer(answer),
            Stop::Refused(rejection) => refused(&rejection),
        });
    }
    let limit = match (limit, limiter) {
        (Some(_), Some(limiter)) if shared => match check_customer(limiter, endpoint_id, &resolved)
        {
            Ok(verdict) => Some(verdict),
            Err(refused) => return refused,
        },
        (Some(verdict), _) => Some(verdict),
        (None, Some(limiter)) if shared => {
            match check_shared(limiter, endpoint_id, endpoint_limit, &resolved) {
                Ok(verdict) => Some(verdict),
                Err(refused) => return refused,
            }
        }
        (None, _) => None,
    };
    let senders = resolved.senders();
    let dedup = senders.dedup.as_ref().and_then(|dedup| {
        let key = senders::delivery_key(
            dedup,
            senders.verify.as_ref(),
            &resolved.instance.id,
            resolved.flow.as_deref(),
            &headers,
            json_body,
        )?;
        Some(DeliveryKey {
            key,
            window_secs: dedup.window,
        })
    });
    match accept(
        config,
        request,
        fragment,
        &headers,
        content_type,
        body,
        checked.parts.as_deref(),
        &resolved,
        limit,
        dedup,
    ) {
        Ok(accepted) => Decision::Accepted(accepted),
        Err(refused) => counted(refused),
    }
}

/// A refusal of [`crate::verify`]'s: 401 (403 for a handshake), its code and message.
fn refused(rejection: &crate::verify::Rejection) -> Decision {
    Decision::reject(rejection.status(), rejection.code, &rejection.message)
}

/// A shared endpoint whose senders do not sign: the customer's own bucket first,
/// so a flooding tenant is refused by its bucket and leaves the endpoint's
/// capacity to the others.
fn check_shared(
    limiter: &Limiter,
    endpoint_id: &str,
    endpoint_limit: Rate,
    resolved: &Resolved,
) -> Result<Verdict, Decision> {
    let verdict = check_customer(limiter, endpoint_id, resolved)?;
    let whole = limiter.check(endpoint_id, endpoint_limit);
    if !whole.allowed {
        let message = over_limit(endpoint_id, endpoint_limit.per_second);
        return Err(Decision::rate_limited(&message, whole));
    }
    Ok(verdict)
}

/// The routed customer's own bucket on a shared endpoint.
fn check_customer(
    limiter: &Limiter,
    endpoint_id: &str,
    resolved: &Resolved,
) -> Result<Verdict, Decision> {
    let integration = &resolved.integration;
    let customer_limit = Rate::new(integration.rate_limit, integration.burst);
    let key = format!("{endpoint_id}\u{0}{}", resolved.instance.customer);
    let verdict = limiter.check(&key, customer_limit);
    if !verdict.allowed {
        let message = over_limit(endpoint_id, customer_limit.per_second);
        return Err(Decision::rate_limited(&message, verdict));
    }
    Ok(verdict)
}

#[allow(clippy::too_many_arguments)]
fn accept(
    config: &IngestConfig,
    request: &TriggerRequest<'_>,
    fragment: &str,
    headers: &[(String, String)],
    content_type: Option<&str>,
    body: &[u8],
    parts: Option<&[PartIndex]>,
    resolved: &Resolved,
    limit: Option<Verdict>,
    dedup: Option<DeliveryKey>,
) -> Result<Accepted, Decision> {
    let flow_spec = resolved.flow_spec();
    // What hookcore checked itself is never stored (SPEC section 9): the key of a flow that needs one.
    let without_key: Vec<(String, String)>;
    let headers = if flow_spec.is_some_and(|f| f.api_keys) {
        without_key = headers
            .iter()
            .filter(|(name, _)| name != route::apikey::API_KEY_HEADER)
            .cloned()
            .collect();
        &without_key
    } else {
        headers
    };
    let synchronous = flow_spec.is_some_and(|f| f.synchronous)
        || header_value(headers, SYNC_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let execution_id = ids::execution_id();
    let reply = synchronous.then(|| format!("{}.{execution_id}", config.reply_prefix));
    let mut fields = EnvelopeFields {
        execution_id: &execution_id,
        received_at_us: now_micros(),
        endpoint: &resolved.endpoint.endpoint,
        integration: &resolved.integration.name,
        instance: &resolved.instance.id,
        flow: resolved.flow.as_deref(),
        customer: &resolved.instance.customer,
        reply: reply.as_deref(),
        method: request.method,
        path_fragment: fragment,
        query: request.query,
        headers,
        content_type,
        body,
        body_in_object_store: body.len() > config.max_envelope,
        parts,
    };
    let mut envelope_head = envelope::encode_head(&fields);
    if envelope_head.len() + body.len() > config.max_envelope && !fields.body_in_object_store {
        // Headers, query and part index take the room: the body goes to the object store.
        fields.body_in_object_store = true;
        envelope_head = envelope::encode_head(&fields);
    }
    if envelope_head.len() > config.max_envelope {
        return Err(Decision::reject(
            413,
            ErrorCode::RequestTooLarge,
            &format!(
                "The request's headers, query string and multipart index take {} bytes stored; \
                 at most {} fit in one message. Send fewer or smaller ones.",
                envelope_head.len(),
                config.max_envelope
            ),
        ));
    }
    let body_in_object_store = fields.body_in_object_store;
    let body_inline = !body_in_object_store && !body.is_empty();
    let needs_python = synchronous || flow_spec.is_none_or(|spec| spec.python);
    let python = needs_python.then(|| (resolved.integration.name.clone(), resolved.flow.clone()));
    let subject = shards::execution_subject(
        &config.subject_prefix,
        &resolved.instance.customer,
        synchronous,
        &execution_id,
    );
    let response = format!("{{\"executionId\":\"{execution_id}\"}}").into_bytes();
    let customer = resolved.instance.customer.clone();
    Ok(Accepted {
        execution_id,
        subject,
        envelope_head,
        body_in_object_store,
        body_inline,
        response,
        synchronous,
        python,
        limit,
        dedup,
        customer,
        integration: Arc::clone(&resolved.integration),
        flow: resolved.flow.clone(),
    })
}

/// Lower-cased names, repeated headers joined with ", ", first-seen order.
fn collect_headers(
    config: &IngestConfig,
    raw: &[(&str, &str)],
) -> Result<Vec<(String, String)>, Decision> {
    if raw.len() > config.max_headers {
        return Err(Decision::reject(
            431,
            ErrorCode::HeadersTooLarge,
            &format!(
                "Request has {} header lines; at most {} are allowed.",
                raw.len(),
                config.max_headers
            ),
        ));
    }
    let total: usize = raw.iter().map(|(n, v)| n.len() + v.len()).sum();
    if total > config.max_header_bytes {
        return Err(Decision::reject(
            431,
            ErrorCode::HeadersTooLarge,
            &format!(
                "Request headers take {total} bytes; at most {} are allowed.",
                config.max_header_bytes
            ),
        ));
    }
    let mut headers: Vec<(String, String)> = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        let name = name.to_ascii_lowercase();
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, joined)) => {
                joined.push_str(", ");
                joined.push_str(value);
            }
            None => headers.push((name, (*value).to_owned())),
        }
    }
    Ok(headers)
}

fn header_value<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// What validating the body found.
struct CheckedBody {
    is_json: bool,
    parts: Option<Vec<PartIndex>>,
}

/// Validate the body against its content type; multipart bodies yield their part index.
fn check_body(
    config: &IngestConfig,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<CheckedBody, Decision> {
    let unchecked = CheckedBody {
        is_json: false,
        parts: None,
    };
    let (false, Some(content_type)) = (body.is_empty(), content_type) else {
        return Ok(unchecked);
    };
    let content_type = ContentType::parse(content_type);
    match content_type.kind() {
        BodyKind::Json => match parse::validate_json(body) {
            Ok(()) => Ok(CheckedBody {
                is_json: true,
                parts: None,
            }),
            Err(e) if e.kind == parse::JsonErrorKind::NumberTooLong => Err(Decision::reject(
                400,
                ErrorCode::JsonNumberTooLong,
                &parse::json::number_too_long_message(e.offset),
            )),
            Err(_) => Err(Decision::reject(
                400,
                ErrorCode::MalformedJson,
                MALFORMED_JSON,
            )),
        },
        BodyKind::Multipart => {
            let Some(boundary) = content_type.boundary() else {
                return Err(Decision::reject(
                    400,
                    ErrorCode::MalformedMultipart,
                    MALFORMED_MULTIPART,
                ));
            };
            match parse::parse_multipart(body, boundary.as_bytes(), &config.multipart) {
                Ok(parts) => Ok(CheckedBody {
                    is_json: false,
                    parts: Some(parts.into_iter().map(PartIndex::from).collect()),
                }),
                Err(e) if e.is_limit() => Err(Decision::reject(
                    413,
                    ErrorCode::MultipartTooLarge,
                    &e.to_string(),
                )),
                Err(_) => Err(Decision::reject(
                    400,
                    ErrorCode::MalformedMultipart,
                    MALFORMED_MULTIPART,
                )),
            }
        }
        _ => Ok(unchecked),
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;
