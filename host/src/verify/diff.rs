//! `partnergate policy diff OLD NEW`: which policies were added, removed or
//! changed (by `@id`), and, for every request environment, whether the new
//! set is equivalent, more permissive, less permissive, or both, with a
//! counterexample for each direction.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{PolicyDir, Prover, Solver, compile, counterexample, describe, solver_error};
use crate::error::Error;

/// Policies by `@id`, as added, removed and changed.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct TextualDiff {
    /// In the new set only.
    pub added: Vec<String>,
    /// In the old set only.
    pub removed: Vec<String>,
    /// In both, written differently (whitespace and comments aside).
    pub changed: Vec<String>,
}

impl TextualDiff {
    /// Whether no policy changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// How the new set's decisions relate to the old set's in one request
/// environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// The same decision for every request.
    Equivalent,
    /// Allows something the old set denied, and nothing the other way.
    MorePermissive,
    /// Denies something the old set allowed, and nothing the other way.
    LessPermissive,
    /// Both.
    Both,
}

/// One request environment's comparison.
#[derive(Debug, Serialize)]
pub struct EnvironmentDiff {
    /// The principal type.
    pub principal: String,
    /// The action.
    pub action: String,
    /// The resource type.
    pub resource: String,
    /// How the sets relate.
    pub relation: Relation,
    /// A request the new set allows and the old one denies, with its
    /// entities.
    pub newly_allowed: Option<String>,
    /// A request the old set allowed and the new one denies.
    pub newly_denied: Option<String>,
}

/// The whole comparison.
#[derive(Debug, Serialize)]
pub struct PolicyDiff {
    /// Added, removed, changed policies.
    pub textual: TextualDiff,
    /// Whether the schema text changed (both sets are then compared under
    /// the new schema).
    pub schema_changed: bool,
    /// Per request environment, when a solver was available.
    pub semantic: Option<Vec<EnvironmentDiff>>,
    /// Why there is no semantic comparison.
    pub semantic_unavailable: Option<String>,
}

impl PolicyDiff {
    /// Whether any environment became more permissive.
    pub fn more_permissive(&self) -> bool {
        self.semantic
            .iter()
            .flatten()
            .any(|e| matches!(e.relation, Relation::MorePermissive | Relation::Both))
    }
}

/// Added, removed and changed policies of `old` → `new`, compared by their
/// JSON form (so layout and comments do not count, order does not either).
pub fn textual(old: &PolicyDir, new: &PolicyDir) -> TextualDiff {
    let forms = |dir: &PolicyDir| -> BTreeMap<String, String> {
        dir.policies
            .policies()
            .map(|p| {
                let json = p
                    .to_json()
                    .map(|j| j.to_string())
                    .unwrap_or_else(|_| p.to_string());
                (p.id().to_string(), json)
            })
            .collect()
    };
    let (before, after) = (forms(old), forms(new));
    let mut diff = TextualDiff::default();
    for (id, text) in &after {
        match before.get(id) {
            None => diff.added.push(id.clone()),
            Some(old) if old != text => diff.changed.push(id.clone()),
            Some(_) => {}
        }
    }
    diff.removed = before
        .keys()
        .filter(|id| !after.contains_key(*id))
        .cloned()
        .collect();
    diff
}

/// Compares `old` with `new`: textually always; semantically when a solver
/// starts (otherwise `semantic_unavailable` says why).
pub async fn diff(old: &PolicyDir, new: &PolicyDir, solver: &Solver) -> Result<PolicyDiff, Error> {
    let textual = textual(old, new);
    let schema_changed = old.schema_text != new.schema_text;
    let mut prover = match Prover::start(solver) {
        Ok(prover) => prover,
        Err(err) => {
            return Ok(PolicyDiff {
                textual,
                schema_changed,
                semantic: None,
                semantic_unavailable: Some(err.to_string()),
            });
        }
    };
    let schema = &new.schema;
    let mut environments = Vec::new();
    for env in schema.request_envs() {
        let before = compile(&old.policies, &env, schema)?;
        let after = compile(&new.policies, &env, schema)?;
        let compiler = prover.compiler();
        // Allowed by the new set and not by the old one.
        let newly_allowed = compiler
            .check_implies_with_counterexample_opt(&after, &before)
            .await
            .map_err(solver_error)?;
        let newly_denied = compiler
            .check_implies_with_counterexample_opt(&before, &after)
            .await
            .map_err(solver_error)?;
        let relation = match (&newly_allowed, &newly_denied) {
            (None, None) => Relation::Equivalent,
            (Some(_), None) => Relation::MorePermissive,
            (None, Some(_)) => Relation::LessPermissive,
            (Some(_), Some(_)) => Relation::Both,
        };
        let (principal, action, resource) = describe(&env);
        environments.push(EnvironmentDiff {
            principal,
            action,
            resource,
            relation,
            newly_allowed: newly_allowed.as_ref().map(counterexample),
            newly_denied: newly_denied.as_ref().map(counterexample),
        });
    }
    environments.sort_by(|a, b| {
        (&a.action, &a.principal, &a.resource).cmp(&(&b.action, &b.principal, &b.resource))
    });
    Ok(PolicyDiff {
        textual,
        schema_changed,
        semantic: Some(environments),
        semantic_unavailable: None,
    })
}
