//! The one table from a library error to an HTTP status and a stable
//! `code`, and the JSON error body every refusal of the API has.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::directory::error::DirectoryError;
use crate::error::{Error, Fault};

/// A JSON error body: a stable `code`, a human `message`, and for anything
/// about authorization `"decision": "deny"` so careless callers fail closed.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: serde_json::Value,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "code": code, "message": message.into() }),
        }
    }

    /// Adds `key` to the body.
    pub(crate) fn set(&mut self, key: &str, value: serde_json::Value) {
        self.body[key] = value;
    }

    pub(crate) fn deny(mut self) -> Self {
        self.body["decision"] = json!("deny");
        self
    }
}

impl ApiError {
    /// The JSON body alone (for per-item results of bulk calls).
    pub(crate) fn into_json(self) -> serde_json::Value {
        self.body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::InvalidRequest(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
            }
            Error::InvalidPolicies(problems) => {
                let mut e = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_policies",
                    "the policy set is invalid; the current set stays in use",
                );
                e.body["problems"] = json!(problems);
                e
            }
            Error::PolicySource(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "policy_source", message)
            }
            Error::Unavailable(_)
            | Error::Cache(_)
            | Error::Directory(DirectoryError::Unavailable(_)) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            Error::Directory(DirectoryError::NotFound(_)) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", message)
            }
            Error::Directory(DirectoryError::Conflict(_) | DirectoryError::Duplicate(_)) => {
                Self::new(StatusCode::CONFLICT, "conflict", message)
            }
            Error::Directory(DirectoryError::Invalid(_)) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
            }
            Error::Busy(_) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message),
            Error::ProviderUnavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider_unavailable",
                message,
            ),
            Error::Plugin { fault, .. } => {
                let code = match fault {
                    Fault::Deadline => "plugin_deadline",
                    Fault::MemoryLimit => "plugin_memory_limit",
                    Fault::Trap => "plugin_trap",
                };
                tracing::error!("{message}");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    code,
                    "the plugin failed; the request is denied",
                )
            }
            Error::Unsupported(_) => Self::new(StatusCode::NOT_IMPLEMENTED, "unsupported", message),
            Error::Denied(decision) => {
                let mut e = Self::new(StatusCode::FORBIDDEN, "denied", message);
                e.body["decision"] = json!("deny");
                e.body["policies"] = json!(decision.policies);
                e.body["errors"] = json!(decision.errors);
                e
            }
            Error::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            Error::Refused(_) => {
                let mut e = Self::new(StatusCode::FORBIDDEN, "sign_in_refused", message);
                e.body["decision"] = json!("deny");
                e
            }
            Error::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", message),
            Error::RateLimited(secs) => {
                let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
                e.body["retry_after"] = json!(secs);
                e
            }
            Error::Engine(_)
            | Error::Config(_)
            | Error::Misconfigured { .. }
            | Error::Directory(DirectoryError::Internal(_)) => {
                tracing::error!("{message}");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; the request is denied",
                )
            }
        }
    }
}

/// The response for `err`, with `Retry-After` when it is rate limited.
pub(crate) fn error_response(err: Error) -> Response {
    let retry = if let Error::RateLimited(secs) = &err {
        Some(*secs)
    } else {
        None
    };
    let mut response = ApiError::from(err).into_response();
    if let Some(secs) = retry
        && let Ok(value) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// A query-string problem: 400, like a malformed query string.
pub(crate) fn bad_query(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
}

/// A step in the path that does not exist: 404, naming the steps there are.
pub(crate) fn no_such_step(step: &str, steps: &str) -> Response {
    let message = format!("no such step `{step}`: use {steps}");
    ApiError::new(StatusCode::NOT_FOUND, "not_found", message).into_response()
}
