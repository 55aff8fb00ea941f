//! The `hookcore-error-code` of every answer the Rust core refuses.
//!
//! KEEP IN SYNC with `ErrorCode` in `python/hookcore/errors.py`, which holds
//! every code (these and the ones Python answers) and is what docs/errors.md
//! lists; `tests/unit/test_error_codes.py` checks that both agree.

/// Response header that names the cause of an error answer.
pub const ERROR_CODE_HEADER: &str = "hookcore-error-code";

/// One cause of a refused trigger request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    EndpointNotFound,
    MethodNotAllowed,
    MalformedJson,
    /// Valid JSON with a number Python cannot decode (`parse::MAX_INT_DIGITS`).
    JsonNumberTooLong,
    MalformedMultipart,
    MultipartTooLarge,
    HeadersTooLarge,
    RequestTooLarge,
    Unroutable,
    ApiKeyMissing,
    ApiKeyInvalid,
    RateLimited,
    IntegrationMisconfigured,
    SignatureMissing,
    SignatureInvalid,
    TimestampOutOfTolerance,
    SecretNotConfigured,
    HandshakeRefused,
}

impl ErrorCode {
    /// Every code, for the Python side's check.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::EndpointNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::MalformedJson,
        ErrorCode::JsonNumberTooLong,
        ErrorCode::MalformedMultipart,
        ErrorCode::MultipartTooLarge,
        ErrorCode::HeadersTooLarge,
        ErrorCode::RequestTooLarge,
        ErrorCode::Unroutable,
        ErrorCode::ApiKeyMissing,
        ErrorCode::ApiKeyInvalid,
        ErrorCode::RateLimited,
        ErrorCode::IntegrationMisconfigured,
        ErrorCode::SignatureMissing,
        ErrorCode::SignatureInvalid,
        ErrorCode::TimestampOutOfTolerance,
        ErrorCode::SecretNotConfigured,
        ErrorCode::HandshakeRefused,
    ];

    /// The stable snake_case text sent in the header.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::EndpointNotFound => "endpoint_not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::JsonNumberTooLong => "json_number_too_long",
            ErrorCode::MalformedMultipart => "malformed_multipart",
            ErrorCode::MultipartTooLarge => "multipart_too_large",
            ErrorCode::HeadersTooLarge => "headers_too_large",
            ErrorCode::RequestTooLarge => "request_too_large",
            ErrorCode::Unroutable => "unroutable",
            ErrorCode::ApiKeyMissing => "api_key_missing",
            ErrorCode::ApiKeyInvalid => "api_key_invalid",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::IntegrationMisconfigured => "integration_misconfigured",
            ErrorCode::SignatureMissing => "signature_missing",
            ErrorCode::SignatureInvalid => "signature_invalid",
            ErrorCode::TimestampOutOfTolerance => "timestamp_out_of_tolerance",
            ErrorCode::SecretNotConfigured => "secret_not_configured",
            ErrorCode::HandshakeRefused => "handshake_refused",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }
}
