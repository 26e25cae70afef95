//! Extractors that refuse a request with the API's JSON error shape (a
//! stable `code`, a `message`), never axum's plain-text rejections.

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use axum::Json;
use serde_json::{Value, json};

use super::error::{ApiError, bad_query, error_response};
use crate::error::Error;
use crate::model::{
    Account, AccountStatus, AuditPage, MemberPage, Membership, OnboardingRequest, Organization,
    UserView,
};

/// The largest request body accepted, in bytes; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A JSON body; a malformed one (duplicate keys included) gets 400
/// `invalid_request`, one over [`MAX_BODY_BYTES`] 413 `body_too_large`,
/// both as JSON.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|m| {
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !json_type {
            return Err(invalid(
                "Expected request with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| bytes_rejection(&rejection))?;
        parse(&bytes).map(Self)
    }
}

/// An optional JSON body: absent when the body is empty, whatever the
/// `content-type` (many JSON clients send `application/json` with no body).
pub(crate) struct OptionalJson<T>(pub(crate) Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| bytes_rejection(&rejection).into_response())?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        parse(&bytes)
            .map(|value| Self(Some(value)))
            .map_err(IntoResponse::into_response)
    }
}

/// `bytes` as a `T`, refused when malformed or when an object names a key
/// twice: parsers disagree on which one counts (serde takes the last, many
/// gateways the first), so a body that means two things is refused.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |e: serde_json::Error| invalid(format!("the JSON body is malformed: {e}"));
    let mut check = serde_json::Deserializer::from_slice(bytes);
    serde::de::DeserializeSeed::deserialize(UniqueKeys, &mut check).map_err(malformed)?;
    serde_json::from_slice(bytes).map_err(malformed)
}

/// Walks a JSON value and fails on an object that names a key twice.
#[derive(Clone, Copy)]
struct UniqueKeys;

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "the key `{key}` appears twice in one object"
                )));
            }
            map.next_value_seed(self)?;
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A query string; a malformed one gets 400 `invalid_request` as JSON.
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(&rejection).into_response()),
        }
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!(
            "the request body is over the limit of {MAX_BODY_BYTES} bytes: send less (a bulk call takes at most 1000 items)"
        ),
    )
}

fn bytes_rejection(rejection: &BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    invalid(rejection.body_text())
}

fn query_rejection(rejection: &QueryRejection) -> ApiError {
    invalid(format!(
        "the query string is malformed: {}",
        rejection.body_text()
    ))
}

/// The largest whole number a body may carry: the directories store signed
/// 64-bit integers.
pub const MAX_WHOLE: u64 = i64::MAX as u64;

/// A whole number from 0 to [`MAX_WHOLE`] as JSON Schema's `integer` admits
/// it: `12` or `12.0`.
fn whole(n: &serde_json::Number) -> Option<u64> {
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..9_223_372_036_854_775_808.0).contains(f))
                // In range and whole: the cast is exact.
                .map(|f| f as u64)
        })
        .filter(|v| *v <= MAX_WHOLE)
}

fn not_whole<E: serde::de::Error>(n: &serde_json::Number) -> E {
    E::custom(format!("`{n}` is not a whole number from 0 to {MAX_WHOLE}"))
}

/// Deserializes a [`whole`] number.
pub(crate) fn whole_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = <serde_json::Number as serde::Deserialize>::deserialize(d)?;
    whole(&n).ok_or_else(|| not_whole(&n))
}

/// Deserializes a [`whole`] number or `null`.
pub(crate) fn optional_whole_u64<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<u64>, D::Error> {
    <Option<serde_json::Number> as serde::Deserialize>::deserialize(d)?
        .map(|n| whole(&n).ok_or_else(|| not_whole(&n)))
        .transpose()
}

// ---- Presenters: the API's JSON shape of each record.

pub(super) fn reply<T>(
    result: Result<T, Error>,
    status: StatusCode,
    to_json: impl FnOnce(T) -> Value,
) -> Response {
    match result {
        Ok(value) => (status, Json(to_json(value))).into_response(),
        Err(err) => error_response(err),
    }
}

/// [`reply`] for listings, whose only invalid input is the query string
/// (limit, cursor): that is a 400.
pub(super) fn page_reply<T>(
    result: Result<T, Error>,
    to_json: impl FnOnce(T) -> Value,
) -> Response {
    match result {
        Err(Error::InvalidRequest(m)) => bad_query(m).into_response(),
        other => reply(other, StatusCode::OK, to_json),
    }
}

pub(super) fn error_json(err: Error) -> Value {
    let response = ApiError::from(err);
    response.into_json()
}

pub(super) fn membership_json(m: Membership) -> Value {
    json!({
        "person_id": m.person_id,
        "organization_id": m.organization_id,
        "status": m.status.name(),
        "previous_status": m.previous_status.map(AccountStatus::name),
        "is_admin": m.is_admin,
        "roles": m.roles,
        "spending_limit": m.spending_limit,
        "invited_at": m.invited_at,
        "version": m.version,
    })
}

pub(super) fn organization_json(o: Organization) -> Value {
    json!({ "id": o.id, "name": o.name, "status": o.status.name(), "active_admins": o.active_admins })
}

pub(super) fn account_json(a: Account) -> Value {
    json!({
        "person": { "id": a.person.id, "email": a.person.email, "name": a.person.name },
        "membership": a.membership.map(membership_json),
        "organization": a.organization.map(organization_json),
    })
}

pub(super) fn user_view_json(v: UserView) -> Value {
    let s = v.steps;
    json!({
        "user": account_json(v.member),
        "steps": {
            "edit": s.edit,
            "edit_email": s.edit_email,
            "change_admin": s.change_admin,
            "revoke": s.revoke,
            "reinstate": s.reinstate,
            "remove": s.remove,
            "reinvite": s.reinvite,
        },
    })
}

pub(super) fn page_json(p: MemberPage) -> Value {
    json!({ "users": p.members.into_iter().map(account_json).collect::<Vec<_>>(), "next_cursor": p.next_cursor })
}

pub(super) fn audit_json(p: AuditPage) -> Value {
    let entries: Vec<Value> = p
        .entries
        .into_iter()
        .map(|r| {
            let parse = |s: &str| {
                if s.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(s).unwrap_or(Value::String(s.into()))
                }
            };
            json!({
                "id": r.id,
                "at": r.at,
                "actor": r.entry.actor,
                "action": r.entry.action,
                "target": r.entry.target,
                "organization_id": r.entry.organization_id,
                "before": parse(&r.entry.before),
                "after": parse(&r.entry.after),
                "policies": r.entry.policies,
            })
        })
        .collect();
    json!({ "entries": entries, "next_cursor": p.next_cursor })
}

pub(super) fn onboarding_json(r: OnboardingRequest) -> Value {
    json!({
        "id": r.id,
        "organization_name": r.organization_name,
        "requester_name": r.requester_name,
        "requester_email": r.requester_email,
        "status": r.status.name(),
        "organization_id": r.organization_id,
        "submitted_at": r.submitted_at,
        "version": r.version,
    })
}

pub(super) fn results_json(results: Vec<Result<Membership, Error>>) -> Value {
    let results: Vec<Value> = results
        .into_iter()
        .map(|r| match r {
            Ok(m) => json!({ "ok": membership_json(m) }),
            Err(e) => json!({ "error": error_json(e) }),
        })
        .collect();
    json!({ "results": results })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(deserialize_with = "whole_u64")]
        version: u64,
        #[serde(default, deserialize_with = "optional_whole_u64")]
        limit: Option<u64>,
    }

    #[test]
    fn a_body_that_names_a_key_twice_is_refused() {
        #[derive(serde::Deserialize, Debug)]
        struct Authorize {
            #[allow(dead_code)]
            context: serde_json::Value,
        }
        for body in [
            r#"{"context": {"orderTotal": 60000, "orderTotal": 1}}"#,
            r#"{"context": {}, "context": {}}"#,
            r#"{"context": [{"a": 1, "b": 2, "a": 3}]}"#,
            r#"{"context": {"a\u0062": 1, "ab": 2}}"#,
        ] {
            let err = parse::<Authorize>(body.as_bytes()).unwrap_err();
            let text = format!("{err:?}");
            assert!(
                text.contains("400") && text.contains("appears twice"),
                "{body}: {text}"
            );
        }
        parse::<Authorize>(br#"{"context": {"a": {"x": 1}, "b": {"x": 2}}}"#).unwrap();
    }

    #[test]
    fn whole_numbers_may_be_written_with_a_fraction_of_zero() {
        let body: Body = serde_json::from_str(r#"{"version": 3.0, "limit": 6230.0}"#).unwrap();
        assert_eq!((body.version, body.limit), (3, Some(6230)));
        let body: Body = serde_json::from_str(r#"{"version": 3, "limit": null}"#).unwrap();
        assert_eq!((body.version, body.limit), (3, None));
        for bad in [
            r#"{"version": 3.5}"#,
            r#"{"version": -1}"#,
            r#"{"version": -1.0}"#,
            r#"{"version": 1e30}"#,
            r#"{"version": "3"}"#,
        ] {
            assert!(serde_json::from_str::<Body>(bad).is_err(), "{bad}");
        }
    }
}
