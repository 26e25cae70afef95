//! Policy cases (the "policy tests" of `partnergate policy test`): JSON
//! files a security engineer reads and adds to, run by the product. Each file
//! names a directory of sample records and a list of cases, each a request
//! with the decision and deciding policy ids it must get:
//!
//! ```json
//! { "directory": "../directory.json",
//!   "cases": [
//!     { "name": "admin adds a user to their own organization",
//!       "principal": "customer:alice", "action": "addUser",
//!       "resource": "organization:acme",
//!       "decision": "allow", "policies": ["org-admin-manages-own-users"] } ] }
//! ```
//!
//! `decision` is `allow`, `deny` or `invalid` (the request must be refused as
//! malformed); `policies` and `context` are optional; `directory` is a path
//! relative to the test file, or an inline directory document.
//!
//! A file holding a JSON array instead is in the Cedar CLI's `run-tests`
//! format, so tests move between tools: each case gives the request in
//! Cedar's own terms and every entity it needs, and is decided by Cedar
//! natively on the same validated policy set (the plugin's records are not
//! involved):
//!
//! ```json
//! [ { "name": "an active buyer browses",
//!     "request": { "principal": "PartnerGate::Customer::\"bob\"",
//!                  "action": "PartnerGate::Action::\"browse\"",
//!                  "resource": "PartnerGate::Store::\"main\"", "context": {} },
//!     "entities": [ ... Cedar's entities JSON ... ],
//!     "decision": "allow", "reason": ["active-member-browses"], "num_errors": 0 } ]
//! ```
//!
//! Sign-in's `autoLink` cases name an external identity instead of a
//! principal (what the ID token and the provider's configuration say):
//!
//! ```json
//! { "name": "a trusted provider's verified email links an existing customer",
//!   "identity": { "issuer": "https://login.example", "trusted_provider": true,
//!                 "email_verified": true },
//!   "action": "autoLink", "resource": "customer:bob",
//!   "decision": "allow", "policies": ["trusted-provider-links-verified-email"] }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::clock::Clock;
use crate::directory::seed::Seed;
use crate::directory::sqlite::SqliteDirectory;
use crate::error::Error;
use crate::gate::{AuthorizeRequest, DecisionKind, PartnerGate, PluginSource};
use crate::policies::PolicySource;

/// One test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// A seed path relative to the file, or an inline seed.
    pub directory: serde_json::Value,
    /// The cases.
    pub cases: Vec<TestCase>,
}

/// One case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// A sentence saying what the case shows.
    pub name: String,
    /// Principal reference; or `identity`.
    #[serde(default)]
    pub principal: Option<String>,
    /// An external identity as the principal (`autoLink` cases).
    #[serde(default)]
    pub identity: Option<TestIdentity>,
    /// The organization a customer principal acts for (required for one
    /// active in several).
    #[serde(default)]
    pub organization: Option<String>,
    /// Action name.
    pub action: String,
    /// Resource reference.
    pub resource: String,
    /// Context object.
    #[serde(default)]
    pub context: serde_json::Value,
    /// `allow`, `deny` or `invalid`.
    pub decision: String,
    /// The deciding policy ids, if the case pins them.
    pub policies: Option<Vec<String>>,
}

/// An external identity in a policy test.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestIdentity {
    /// `iss`.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// `sub`.
    #[serde(default = "default_subject")]
    pub subject: String,
    /// Whether the email is verified (by the claim or the provider).
    #[serde(default)]
    pub email_verified: bool,
    /// Whether the provider is configured as trusted.
    #[serde(default)]
    pub trusted_provider: bool,
}

fn default_issuer() -> String {
    "https://idp.test".into()
}

fn default_subject() -> String {
    "policy-test".into()
}

/// The outcome of one case.
#[derive(Debug)]
pub struct CaseResult {
    /// The test file.
    pub file: PathBuf,
    /// The case name.
    pub name: String,
    /// `None` when it passed, else what differed.
    pub failure: Option<String>,
}

/// Runs every `*.json` file in `dir` against the policy set at `policies`.
pub async fn run_dir(
    dir: &Path,
    policies: &PolicySource,
    plugin: &PluginSource,
    artifact_dir: Option<&Path>,
) -> Result<Vec<CaseResult>, Error> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| {
            Error::misconfigured(format!("cannot read policy tests `{}`", dir.display()), e)
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Config(format!(
            "no policy test files (`*.json`) in `{}`",
            dir.display()
        )));
    }
    let under = Under {
        policies,
        plugin,
        artifact_dir,
    };
    let mut results = Vec::new();
    for file in files {
        results.extend(run_file(&file, &under).await?);
    }
    Ok(results)
}

/// What every test file runs against.
struct Under<'a> {
    policies: &'a PolicySource,
    plugin: &'a PluginSource,
    artifact_dir: Option<&'a Path>,
}

/// Runs one test file.
async fn run_file(file: &Path, under: &Under<'_>) -> Result<Vec<CaseResult>, Error> {
    let Under {
        policies,
        plugin,
        artifact_dir,
    } = *under;
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::misconfigured(format!("cannot read policy test `{}`", file.display()), e)
    })?;
    if text.trim_start().starts_with('[') {
        return run_cedar_file(file, &text, policies);
    }
    let test: TestFile = serde_json::from_str(&text)
        .map_err(|e| Error::misconfigured(format!("policy test `{}`", file.display()), e))?;
    let seed = match &test.directory {
        serde_json::Value::String(path) => {
            let path = file.parent().unwrap_or(Path::new(".")).join(path);
            Seed::from_file(&path).map_err(|e| {
                Error::misconfigured(format!("policy test `{}`: directory", file.display()), e)
            })?
        }
        inline => Seed::from_json(&inline.to_string()).map_err(|e| {
            Error::Config(format!("policy test `{}`: directory: {e}", file.display()))
        })?,
    };
    let directory = SqliteDirectory::in_memory(Clock::system())?;
    seed.load_into(&directory).await.map_err(|e| {
        Error::misconfigured(format!("policy test `{}`: directory", file.display()), e)
    })?;
    let mut builder = PartnerGate::builder()
        .plugin(plugin.clone())
        .policies(policies.clone())
        .directory(Arc::new(directory));
    if let Some(dir) = artifact_dir {
        builder = builder.artifact_cache(dir);
    }
    let gate = builder.build().await?;

    let mut results = Vec::new();
    for case in test.cases {
        let outcome = match (&case.principal, &case.identity) {
            (Some(principal), None) => {
                let request = AuthorizeRequest {
                    principal: principal.clone(),
                    action: case.action.clone(),
                    resource: case.resource.clone(),
                    context: case.context.clone(),
                    organization: case.organization.clone(),
                };
                gate.authorize(&request).await
            }
            (None, Some(identity)) => decide_link(&gate, identity, &case).await,
            _ => {
                results.push(CaseResult {
                    file: file.to_path_buf(),
                    name: case.name,
                    failure: Some("a case names either `principal` or `identity`".into()),
                });
                continue;
            }
        };
        let failure = match (case.decision.as_str(), outcome) {
            ("invalid", Err(Error::InvalidRequest(_))) => None,
            ("invalid", other) => Some(format!("expected an invalid request, got {other:?}")),
            (expected @ ("allow" | "deny"), Ok(decision)) => {
                let got = match decision.decision {
                    DecisionKind::Allow => "allow",
                    DecisionKind::Deny => "deny",
                };
                if got != expected {
                    Some(format!(
                        "expected {expected}, got {got} (policies {:?}, errors {:?})",
                        decision.policies, decision.errors
                    ))
                } else if case.policies.as_ref().is_some_and(|want| {
                    let mut want = want.clone();
                    want.sort();
                    want != decision.policies
                }) {
                    Some(format!(
                        "{got} as expected, but decided by {:?} instead of {:?}",
                        decision.policies,
                        case.policies.as_ref().unwrap()
                    ))
                } else {
                    None
                }
            }
            (expected @ ("allow" | "deny"), Err(err)) => {
                Some(format!("expected {expected}, got error: {err}"))
            }
            (other, _) => Some(format!(
                "unknown expected decision `{other}`: use allow, deny or invalid"
            )),
        };
        results.push(CaseResult {
            file: file.to_path_buf(),
            name: case.name,
            failure,
        });
    }
    Ok(results)
}

/// An `identity` case: what the policies decide on `autoLink`.
async fn decide_link(
    gate: &PartnerGate,
    identity: &TestIdentity,
    case: &TestCase,
) -> Result<crate::gate::Decision, Error> {
    if case.action != "autoLink" {
        return Err(Error::InvalidRequest(format!(
            "an `identity` case decides `autoLink`, not `{}`",
            case.action
        )));
    }
    let Some(person) = case.resource.strip_prefix("customer:") else {
        return Err(Error::InvalidRequest(format!(
            "an `identity` case's resource is `customer:<id>`, not `{}`",
            case.resource
        )));
    };
    let external = crate::model::ExternalIdentity {
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
        emails: Vec::new(),
        email_verified: identity.email_verified,
        trusted_provider: identity.trusted_provider,
        name: None,
        claims: Vec::new(),
    };
    match gate.decide_link(external, person).await {
        // No such customer: a denial saying so, as for `authorize`.
        Err(Error::Refused(reason)) => Ok(crate::gate::Decision {
            decision: DecisionKind::Deny,
            policies: Vec::new(),
            errors: vec![reason],
        }),
        other => other,
    }
}

/// One case of the Cedar CLI's `run-tests` format.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CedarCase {
    /// What the case shows.
    pub name: String,
    /// The request in Cedar's terms.
    pub request: CedarRequest,
    /// Cedar's entities JSON.
    #[serde(default)]
    pub entities: serde_json::Value,
    /// `allow` or `deny`.
    pub decision: String,
    /// The ids of the deciding policies.
    #[serde(default)]
    pub reason: Vec<String>,
    /// How many policies errored.
    #[serde(default)]
    pub num_errors: usize,
}

/// A request in Cedar's terms: entity references as `Type::"id"` strings
/// or `{"type": ..., "id": ...}` objects.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CedarRequest {
    /// The principal.
    pub principal: serde_json::Value,
    /// The action.
    pub action: serde_json::Value,
    /// The resource.
    pub resource: serde_json::Value,
    /// The context object.
    #[serde(default)]
    pub context: serde_json::Value,
}

/// Runs a file in the Cedar CLI's `run-tests` format against `policies`,
/// decided natively by Cedar.
fn run_cedar_file(
    file: &Path,
    text: &str,
    policies: &PolicySource,
) -> Result<Vec<CaseResult>, Error> {
    let cases: Vec<CedarCase> = serde_json::from_str(text)
        .map_err(|e| Error::misconfigured(format!("policy test `{}`", file.display()), e))?;
    let set = crate::verify::PolicyDir::from_source(policies)?;
    Ok(cases
        .into_iter()
        .map(|case| CaseResult {
            file: file.to_path_buf(),
            failure: decide_cedar(&set, &case).err(),
            name: case.name,
        })
        .collect())
}

/// `Ok` when Cedar decides `case` as it expects, else what differed.
fn decide_cedar(set: &crate::verify::PolicyDir, case: &CedarCase) -> Result<(), String> {
    use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, Request};
    let uid = |what: &str, value: &serde_json::Value| -> Result<EntityUid, String> {
        match value {
            serde_json::Value::String(text) => text.parse::<EntityUid>().map_err(|e| e.to_string()),
            other => EntityUid::from_json(other.clone()).map_err(|e| e.to_string()),
        }
        .map_err(|e| format!("request `{what}`: {e}"))
    };
    let principal = uid("principal", &case.request.principal)?;
    let action = uid("action", &case.request.action)?;
    let resource = uid("resource", &case.request.resource)?;
    let context = match &case.request.context {
        serde_json::Value::Null => Context::empty(),
        value => Context::from_json_value(value.clone(), Some((&set.schema, &action)))
            .map_err(|e| format!("request `context`: {e}"))?,
    };
    let request = Request::new(principal, action, resource, context, Some(&set.schema))
        .map_err(|e| format!("the request does not fit the schema: {e}"))?;
    let entities = match &case.entities {
        serde_json::Value::Null => Entities::empty(),
        value => Entities::from_json_value(value.clone(), Some(&set.schema))
            .map_err(|e| format!("entities: {e}"))?,
    };
    let response = Authorizer::new().is_authorized(&request, &set.policies, &entities);
    let got = match response.decision() {
        Decision::Allow => "allow",
        Decision::Deny => "deny",
    };
    let (reason, errors) = partnergate_plugin::access::diagnostics(&response);
    let mut expected_reason = case.reason.clone();
    expected_reason.sort();
    if !got.eq_ignore_ascii_case(&case.decision) {
        return Err(format!(
            "expected {}, got {got} (reason {reason:?}, errors {errors:?})",
            case.decision
        ));
    }
    if reason != expected_reason {
        return Err(format!(
            "{got} as expected, but the reason is {reason:?} instead of {expected_reason:?}"
        ));
    }
    if errors.len() != case.num_errors {
        return Err(format!(
            "{got} as expected, but with {} errors instead of {}: {errors:?}",
            errors.len(),
            case.num_errors
        ));
    }
    Ok(())
}
