//! `partnergate policy check DIR`: properties a security team relies on,
//! written as data in `DIR/properties.json`, proved for every request the
//! schema admits. Each violation comes with its counterexample.
//!
//! ```json
//! { "properties": [
//!   { "name": "the set never errors", "never_errors": true },
//!   { "name": "an invited, revoked or removed account can do nothing",
//!     "allows_only": { "principal": "PartnerGate::Customer",
//!                      "when": "principal.status == \"active\"" } },
//!   { "name": "only staff designate administrators",
//!     "allows_only": { "action": "PartnerGate::Action::\"designateAdmin\"",
//!                      "when": "principal is PartnerGate::Staff" },
//!     "unless_policy": "org-admin-designates-admins" } ] }
//! ```
//!
//! `allows_only` says: whenever the set allows a request in this scope
//! (`principal` and `resource` types, `action`; each optional), the Cedar
//! condition `when` holds. It is proved by showing that adding `forbid
//! (scope) unless { when }` changes no decision. `unless_policy` makes a
//! property not apply while an opt-in policy of that `@id` is in the set.

use std::path::Path;
use std::str::FromStr;

use cedar_policy::{Policy, PolicyId, PolicySet, ValidationMode, Validator};
use cedar_policy_symcc::CompiledPolicy;
use serde::Deserialize;

use super::{PolicyDir, Prover, Solver, compile, counterexample, describe, solver_error};
use crate::error::Error;

/// The file next to the policies.
pub const PROPERTIES_FILE: &str = "properties.json";

/// The properties file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Properties {
    /// Each property.
    pub properties: Vec<Property>,
}

/// One property.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Property {
    /// A sentence saying what holds.
    pub name: String,
    /// No policy errors on any request.
    #[serde(default)]
    pub never_errors: bool,
    /// What every allowed request in a scope satisfies.
    pub allows_only: Option<AllowsOnly>,
    /// The property does not apply while this opt-in policy is in the set.
    pub unless_policy: Option<String>,
}

/// Every allowed request in the scope satisfies `when`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowsOnly {
    /// A principal type, e.g. `PartnerGate::Customer`.
    pub principal: Option<String>,
    /// An action, e.g. `PartnerGate::Action::"designateAdmin"`.
    pub action: Option<String>,
    /// A resource type.
    pub resource: Option<String>,
    /// A Cedar condition over `principal`, `action`, `resource`, `context`.
    pub when: String,
}

/// What was found for one property.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Proved for every request environment.
    Holds,
    /// Not applicable: the named opt-in policy is on.
    NotApplicable(String),
    /// Violated: counterexamples (`environment: request and entities`).
    Violated(Vec<String>),
}

/// Reads `DIR/properties.json`.
pub fn read(dir: &Path) -> Result<Properties, Error> {
    let path = dir.join(PROPERTIES_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::PolicySource(format!("`{}`: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::PolicySource(format!("`{}`: {e}", path.display())))
}

/// The forbid policy that changes no decision exactly when `only` holds.
fn guard(only: &AllowsOnly, dir: &PolicyDir, name: &str) -> Result<Policy, Error> {
    let principal = only
        .principal
        .as_ref()
        .map_or("principal".to_string(), |t| format!("principal is {t}"));
    let action = only
        .action
        .as_ref()
        .map_or("action".to_string(), |a| format!("action == {a}"));
    let resource = only
        .resource
        .as_ref()
        .map_or("resource".to_string(), |t| format!("resource is {t}"));
    let text = format!(
        "forbid ({principal}, {action}, {resource}) unless {{ {} }};",
        only.when
    );
    let bad = |e: String| Error::PolicySource(format!("property `{name}`: {e}"));
    let policy =
        Policy::parse(Some(PolicyId::new("property")), &text).map_err(|e| bad(e.to_string()))?;
    let mut alone = PolicySet::new();
    alone.add(policy.clone()).map_err(|e| bad(e.to_string()))?;
    let validation = Validator::new(dir.schema.clone()).validate(&alone, ValidationMode::Strict);
    if let Some(err) = validation.validation_errors().next() {
        return Err(bad(err.to_string()));
    }
    Ok(policy)
}

/// Proves each of `properties` for `dir`.
pub async fn check(
    dir: &PolicyDir,
    properties: &Properties,
    solver: &Solver,
) -> Result<Vec<Outcome>, Error> {
    let mut prover = Prover::start(solver)?;
    let schema = &dir.schema;
    let mut outcomes = Vec::new();
    for property in &properties.properties {
        if let Some(opt_in) = &property.unless_policy
            && dir.policies.policy(&PolicyId::new(opt_in)).is_some()
        {
            outcomes.push(Outcome::NotApplicable(opt_in.clone()));
            continue;
        }
        let mut violations = Vec::new();
        if property.never_errors {
            for env in schema.request_envs() {
                for policy in dir.policies.policies() {
                    let compiled = CompiledPolicy::compile(policy, &env, schema)
                        .map_err(|e| Error::Engine(format!("symbolic compilation failed: {e}")))?;
                    if let Some(found) = prover
                        .compiler()
                        .check_never_errors_with_counterexample_opt(&compiled)
                        .await
                        .map_err(solver_error)?
                    {
                        let (p, a, r) = describe(&env);
                        violations.push(format!(
                            "{p} × {a} × {r}, policy `{}`: {}",
                            policy.id(),
                            counterexample(&found)
                        ));
                    }
                }
            }
        }
        if let Some(only) = &property.allows_only {
            let guard = guard(only, dir, &property.name)?;
            let mut guarded = dir.policies.clone();
            guarded
                .add(guard)
                .map_err(|e| Error::PolicySource(format!("property `{}`: {e}", property.name)))?;
            for env in schema.request_envs() {
                let set = compile(&dir.policies, &env, schema)?;
                let with_guard = compile(&guarded, &env, schema)?;
                if let Some(found) = prover
                    .compiler()
                    .check_implies_with_counterexample_opt(&set, &with_guard)
                    .await
                    .map_err(solver_error)?
                {
                    let (p, a, r) = describe(&env);
                    violations.push(format!("{p} × {a} × {r}: {}", counterexample(&found)));
                }
            }
        }
        if !property.never_errors && property.allows_only.is_none() {
            return Err(Error::PolicySource(format!(
                "property `{}` states nothing: give `never_errors` or `allows_only`",
                property.name
            )));
        }
        outcomes.push(if violations.is_empty() {
            Outcome::Holds
        } else {
            Outcome::Violated(violations)
        });
    }
    Ok(outcomes)
}

/// A property set's file text must at least parse: used by tests.
impl FromStr for Properties {
    type Err = serde_json::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_str(s)
    }
}
