//! Loading a Cedar policy set: parsing each file, checking every policy has a
//! unique `@id`, validating against the schema, and locating each problem in
//! its file.

use std::collections::HashMap;
use std::str::FromStr;

use cedar_policy::{
    ActionConstraint, Effect as CedarEffect, Entities, EntityTypeName, EntityUid, Policy, PolicyId,
    PolicySet, PrincipalConstraint, ResourceConstraint, Schema, SchemaFragment, ValidationMode,
    Validator,
};
use miette::Diagnostic;

pub use crate::model::{PolicyFile, Problem, Summary};

/// A validated policy set, ready to decide.
pub struct LoadedPolicies {
    /// The schema the set validated against.
    pub schema: Schema,
    /// The policies, each under its `@id`.
    pub policies: PolicySet,
    /// Each action of the schema: its entity (with its groups as
    /// ancestors) and the slice of policies whose scope can match it: its
    /// action, and the principal and resource types the schema allows it
    /// (`principal is Staff` never applies to `placeOrder`, whose principal
    /// is a Customer). Evaluating only the slice gives the same decision as
    /// the whole set for every request that validates, because a policy
    /// whose scope excludes the request never applies.
    pub actions: HashMap<EntityUid, ActionSlice>,
    /// What was loaded.
    pub summary: Summary,
    /// The schema as it came, for [`LoadedPolicies::prepared`].
    schema_source: SchemaSource,
}

/// The schema's source: the text `load` parsed, or the JSON a prepared set
/// carried.
enum SchemaSource {
    Text(String),
    Json(serde_json::Value),
}

/// A validated set in the form [`load_prepared`] reads: Cedar's JSON schema
/// and policy formats, which read several times faster than the text syntax
/// and need no validation again.
#[derive(serde::Serialize, serde::Deserialize)]
struct Prepared {
    schema: serde_json::Value,
    policies: serde_json::Value,
    summary: Summary,
}

impl LoadedPolicies {
    /// This set in the form [`load_prepared`] reads.
    pub fn prepared(&self) -> Result<String, String> {
        let schema = match &self.schema_source {
            SchemaSource::Json(json) => json.clone(),
            SchemaSource::Text(text) => SchemaFragment::from_cedarschema_str(text)
                .map_err(|e| e.to_string())?
                .0
                .to_json_value()
                .map_err(|e| e.to_string())?,
        };
        let policies = self.policies.clone().to_json().map_err(|e| e.to_string())?;
        serde_json::to_string(&Prepared {
            schema,
            policies,
            summary: self.summary.clone(),
        })
        .map_err(|e| e.to_string())
    }
}

/// Reads a set that [`LoadedPolicies::prepared`] gave, without validating
/// it again: the [`load`] that made it did.
pub fn load_prepared(prepared: &str) -> Result<LoadedPolicies, String> {
    let Prepared {
        schema: schema_json,
        policies,
        summary,
    } = serde_json::from_str(prepared).map_err(|e| format!("not a prepared policy set: {e}"))?;
    let schema = Schema::from_json_value(schema_json.clone()).map_err(|e| e.to_string())?;
    let policies = PolicySet::from_json_value(policies).map_err(|e| e.to_string())?;
    let action_entities = schema.action_entities().map_err(|e| e.to_string())?;
    let actions = slice_by_action(&policies, &action_entities, &schema)?;
    Ok(LoadedPolicies {
        schema,
        policies,
        actions,
        summary,
        schema_source: SchemaSource::Json(schema_json),
    })
}

/// An action's entity and the policies that can apply to it.
pub struct ActionSlice {
    /// The action entity, with its action groups as parents; shared by
    /// every request's entities rather than copied into each.
    pub entity: std::sync::Arc<cedar_policy_core::ast::Entity>,
    /// The policies whose action scope can match.
    pub policies: PolicySet,
    /// The same policies that never read `context`, permits then forbids:
    /// on the same entities they decide the same whatever the context.
    pub fixed: [PolicySet; 2],
    /// The rest, permits then forbids.
    pub contextual: [PolicySet; 2],
    /// Whether an empty context is one the schema accepts for the action
    /// (checked once here rather than on every request without one).
    pub takes_no_context: bool,
    /// The principal types the action applies to (`None`: the schema names
    /// none), read from the schema once rather than on every request.
    pub principals: Option<Vec<EntityTypeName>>,
    /// The resource types the action applies to, likewise.
    pub resources: Option<Vec<EntityTypeName>>,
}

/// Whether `policy` reads `context` anywhere (conservatively: a policy
/// whose JSON form cannot be had is taken to).
fn reads_context(policy: &cedar_policy::Policy) -> bool {
    fn mentions(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::Object(map) => map
                .iter()
                .any(|(key, value)| (key == "Var" && value == "context") || mentions(value)),
            serde_json::Value::Array(items) => items.iter().any(mentions),
            _ => false,
        }
    }
    policy.to_json().map_or(true, |json| mentions(&json))
}

/// Whether `ty` is among `types` (`None`: the schema does not say).
fn among(types: Option<&[EntityTypeName]>, ty: &EntityTypeName) -> bool {
    types.is_none_or(|types| types.contains(ty))
}

/// Whether the policy's principal scope can match a principal of one of
/// `types`: an `is` or `==` on another type never does.
fn principal_fits(policy: &Policy, types: Option<&[EntityTypeName]>) -> bool {
    match policy.principal_constraint() {
        PrincipalConstraint::Is(ty) | PrincipalConstraint::IsIn(ty, _) => among(types, &ty),
        PrincipalConstraint::Eq(uid) => among(types, uid.type_name()),
        PrincipalConstraint::Any | PrincipalConstraint::In(_) => true,
    }
}

/// [`principal_fits`] for the resource.
fn resource_fits(policy: &Policy, types: Option<&[EntityTypeName]>) -> bool {
    match policy.resource_constraint() {
        ResourceConstraint::Is(ty) | ResourceConstraint::IsIn(ty, _) => among(types, &ty),
        ResourceConstraint::Eq(uid) => among(types, uid.type_name()),
        ResourceConstraint::Any | ResourceConstraint::In(_) => true,
    }
}

fn slice_by_action(
    set: &PolicySet,
    actions: &Entities,
    schema: &Schema,
) -> Result<HashMap<EntityUid, ActionSlice>, String> {
    let mut slices = HashMap::new();
    for entity in actions.iter() {
        let uid = entity.uid();
        let mut lineage: Vec<EntityUid> = actions
            .ancestors(&uid)
            .map(|a| a.cloned().collect())
            .unwrap_or_default();
        lineage.push(uid.clone());
        let principals: Option<Vec<EntityTypeName>> = schema
            .principals_for_action(&uid)
            .map(|types| types.cloned().collect());
        let resources: Option<Vec<EntityTypeName>> = schema
            .resources_for_action(&uid)
            .map(|types| types.cloned().collect());
        let mut policies = PolicySet::new();
        let mut fixed = [PolicySet::new(), PolicySet::new()];
        let mut contextual = [PolicySet::new(), PolicySet::new()];
        for policy in set.policies() {
            let applies = match policy.action_constraint() {
                ActionConstraint::Any => true,
                ActionConstraint::Eq(a) => a == uid,
                ActionConstraint::In(list) => list.iter().any(|a| lineage.contains(a)),
            } && principal_fits(policy, principals.as_deref())
                && resource_fits(policy, resources.as_deref());
            if applies {
                policies.add(policy.clone()).map_err(|e| e.to_string())?;
                let effect = match policy.effect() {
                    cedar_policy::Effect::Permit => 0,
                    cedar_policy::Effect::Forbid => 1,
                };
                let part = if reads_context(policy) {
                    &mut contextual
                } else {
                    &mut fixed
                };
                part[effect]
                    .add(policy.clone())
                    .map_err(|e| e.to_string())?;
            }
        }
        let takes_no_context = cedar_policy::Context::empty()
            .validate(schema, &uid)
            .is_ok();
        slices.insert(
            uid,
            ActionSlice {
                takes_no_context,
                entity: std::sync::Arc::new(entity.as_ref().clone()),
                policies,
                fixed,
                contextual,
                principals,
                resources,
            },
        );
    }
    Ok(slices)
}

/// Parses and validates `schema` and `files`. Returns every problem found.
pub fn load(schema: &PolicyFile, files: &[PolicyFile]) -> Result<LoadedPolicies, Vec<Problem>> {
    let mut problems = Vec::new();
    let schema_parsed = match Schema::from_cedarschema_str(&schema.text) {
        Ok((parsed, _warnings)) => Some(parsed),
        Err(err) => {
            problems.extend(diagnostic_problems(
                &schema.name,
                &schema.text,
                &err,
                "schema",
            ));
            None
        }
    };

    let mut set = PolicySet::new();
    // Where each policy came from: id -> (file index, offset of its start).
    let mut origin: HashMap<String, (usize, usize)> = HashMap::new();
    for (index, file) in files.iter().enumerate() {
        let parsed = match PolicySet::from_str(&file.text) {
            Ok(parsed) => parsed,
            Err(errs) => {
                for err in errs.iter() {
                    problems.extend(diagnostic_problems(&file.name, &file.text, err, "syntax"));
                }
                continue;
            }
        };
        if parsed.templates().next().is_some() {
            problems.push(Problem {
                file: file.name.clone(),
                line: 0,
                column: 0,
                message: "policy templates are not supported: write each policy out".into(),
            });
        }
        let starts = statement_starts(&file.text);
        // The parser names policies `policy0`, `policy1`, ... in file order.
        let mut in_file: Vec<&Policy> = parsed.policies().collect();
        in_file.sort_by_key(|p| {
            p.id().to_string()[6..]
                .parse::<usize>()
                .unwrap_or(usize::MAX)
        });
        for (n, policy) in in_file.into_iter().enumerate() {
            let start = starts.get(n).copied().unwrap_or(0);
            let (line, column) = line_column(&file.text, start);
            let Some(id) = policy.annotation("id") else {
                problems.push(Problem {
                    file: file.name.clone(),
                    line,
                    column,
                    message: "policy has no `@id(\"...\")` annotation: every policy needs one so decisions can name it".into(),
                });
                continue;
            };
            if let Some((other, other_start)) = origin.get(id) {
                let (other_line, _) = line_column(&files[*other].text, *other_start);
                problems.push(Problem {
                    file: file.name.clone(),
                    line,
                    column,
                    message: format!(
                        "policy id `{id}` is already used by the policy at {}:{other_line}",
                        files[*other].name
                    ),
                });
                continue;
            }
            origin.insert(id.to_string(), (index, start));
            if let Err(err) = set.add(policy.new_id(PolicyId::new(id))) {
                problems.push(Problem {
                    file: file.name.clone(),
                    line,
                    column,
                    message: err.to_string(),
                });
            }
        }
    }

    let Some(schema_parsed) = schema_parsed else {
        return Err(problems);
    };
    let validation = Validator::new(schema_parsed.clone()).validate(&set, ValidationMode::Strict);
    for err in validation.validation_errors() {
        let id = err.policy_id().to_string();
        let (file_index, start) = origin.get(&id).copied().unwrap_or((0, 0));
        let file = &files[file_index];
        let offset = err
            .labels()
            .and_then(|mut labels| labels.next())
            .map(|label| label.offset())
            .unwrap_or(start);
        let (line, column) = line_column(&file.text, offset);
        problems.push(Problem {
            file: file.name.clone(),
            line,
            column,
            message: with_help(format!("policy `{id}`: {err}"), err.help()),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let problem = |message: String| {
        vec![Problem {
            file: schema.name.clone(),
            line: 0,
            column: 0,
            message,
        }]
    };
    let action_entities = schema_parsed
        .action_entities()
        .map_err(|err| problem(err.to_string()))?;
    let actions = slice_by_action(&set, &action_entities, &schema_parsed).map_err(problem)?;
    let mut permits = 0;
    let mut forbids = 0;
    for policy in set.policies() {
        match policy.effect() {
            CedarEffect::Permit => permits += 1,
            CedarEffect::Forbid => forbids += 1,
        }
    }
    let summary = Summary {
        version: content_hash(schema, files),
        policies: permits + forbids,
        permits,
        forbids,
    };
    Ok(LoadedPolicies {
        schema: schema_parsed,
        policies: set,
        actions,
        summary,
        schema_source: SchemaSource::Text(schema.text.clone()),
    })
}

/// Problems from a diagnostic, one per labelled span (or one without).
fn diagnostic_problems(file: &str, text: &str, err: &dyn Diagnostic, kind: &str) -> Vec<Problem> {
    let message = with_help(format!("{kind} error: {err}"), err.help());
    let offsets: Vec<usize> = err
        .labels()
        .map(|labels| labels.map(|label| label.offset()).collect())
        .unwrap_or_default();
    if offsets.is_empty() {
        return vec![Problem {
            file: file.into(),
            line: 0,
            column: 0,
            message,
        }];
    }
    let (line, column) = line_column(text, offsets[0]);
    vec![Problem {
        file: file.into(),
        line,
        column,
        message,
    }]
}

fn with_help(message: String, help: Option<Box<dyn std::fmt::Display + '_>>) -> String {
    match help {
        Some(help) => format!("{message} (help: {help})"),
        None => message,
    }
}

/// 1-based line and column of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |tail| tail.chars().count())
        + 1;
    (line as u32, column as u32)
}

/// Byte offsets where each top-level statement (policy) begins: the first
/// character that is neither whitespace nor comment, at the start of the text
/// or after a `;` outside strings and comments.
fn statement_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut starts = Vec::new();
    let mut expecting = true;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        } else if !b.is_ascii_whitespace() {
            if expecting {
                starts.push(i);
                expecting = false;
            }
            match b {
                b'"' => in_string = true,
                b';' => expecting = true,
                _ => {}
            }
        }
        i += 1;
    }
    starts
}

/// FNV-1a over the schema and files, names included: equal input, equal version.
fn content_hash(schema: &PolicyFile, files: &[PolicyFile]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes.iter().chain(&[0xff]) {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for file in std::iter::once(schema).chain(files) {
        feed(file.name.as_bytes());
        feed(file.text.as_bytes());
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn default_files() -> (PolicyFile, Vec<PolicyFile>) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies");
        let read = |name: &str| PolicyFile {
            name: name.into(),
            text: std::fs::read_to_string(format!("{dir}/{name}")).unwrap(),
        };
        (
            read("schema.cedarschema"),
            vec![
                read("store.cedar"),
                read("users.cedar"),
                read("staff.cedar"),
            ],
        )
    }

    #[test]
    fn default_policies_validate_against_the_schema() {
        let (schema, files) = default_files();
        let loaded = load(&schema, &files).unwrap_or_else(|problems| {
            panic!(
                "{}",
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert_eq!(
            loaded.summary.policies,
            loaded.summary.permits + loaded.summary.forbids
        );
        assert!(loaded.summary.forbids >= 4, "{:?}", loaded.summary);
        assert!(
            loaded
                .policies
                .policy(&PolicyId::new("keep-last-admin"))
                .is_some()
        );
    }

    #[test]
    fn each_action_sees_only_the_policies_that_can_apply_to_it() {
        let (schema, files) = default_files();
        let loaded = load(&schema, &files).ok().unwrap();
        let ids = |action: &str| {
            let uid: EntityUid = format!("PartnerGate::Action::\"{action}\"")
                .parse()
                .unwrap();
            let mut ids: Vec<String> = loaded.actions[&uid]
                .policies
                .policies()
                .map(|p| p.id().to_string())
                .collect();
            ids.sort();
            ids
        };
        // The staff forbid names no action, but a customer browses: only
        // actions with a staff principal see it.
        assert_eq!(
            ids("browse"),
            ["active-member-browses", "inactive-account-does-nothing"]
        );
        assert!(ids("blockOrganization").contains(&"inactive-staff-does-nothing".to_string()));
        assert!(ids("revokeUser").contains(&"inactive-staff-does-nothing".to_string()));
        // And the customer forbid does not reach staff-only actions.
        assert!(!ids("blockOrganization").contains(&"inactive-account-does-nothing".to_string()));
        // Reached through the `manageUsers` group.
        assert!(ids("revokeUser").contains(&"org-admin-manages-own-users".to_string()));
        assert!(ids("revokeUser").contains(&"keep-last-admin".to_string()));
        assert!(!ids("revokeUser").contains(&"active-member-orders".to_string()));
    }

    #[test]
    fn unknown_attribute_is_reported_with_file_and_line() {
        let (schema, mut files) = default_files();
        files.push(PolicyFile {
            name: "extra.cedar".into(),
            text: "// a comment\n\n@id(\"typo\")\npermit (principal is PartnerGate::Customer, action, resource)\nwhen { principal.isAdmn };\n".into(),
        });
        let problems = load(&schema, &files).err().expect("must be refused");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].file, "extra.cedar");
        assert_eq!(problems[0].line, 5, "{problems:?}");
        assert!(problems[0].message.contains("isAdmn"), "{problems:?}");
    }

    #[test]
    fn syntax_error_is_reported_with_file_and_line() {
        let (schema, _) = default_files();
        let files = vec![PolicyFile {
            name: "broken.cedar".into(),
            text: "@id(\"a\")\npermit (principal, action, resource);\n\n@id(\"b\")\nforbid (principal, action, resource) when { principal.x == };\n".into(),
        }];
        let problems = load(&schema, &files).err().expect("must be refused");
        assert_eq!(problems[0].file, "broken.cedar");
        assert_eq!(problems[0].line, 5, "{problems:?}");
    }

    #[test]
    fn missing_and_duplicate_ids_are_refused() {
        let (schema, _) = default_files();
        let files = vec![
            PolicyFile {
                name: "a.cedar".into(),
                text: "@id(\"same\")\npermit (principal, action, resource);\n// no id below\npermit (principal, action, resource);\n".into(),
            },
            PolicyFile {
                name: "b.cedar".into(),
                text: "\n@id(\"same\")\nforbid (principal, action, resource);\n".into(),
            },
        ];
        let problems = load(&schema, &files).err().expect("must be refused");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(
            (problems[0].file.as_str(), problems[0].line),
            ("a.cedar", 4)
        );
        assert!(problems[0].message.contains("@id"));
        assert_eq!(
            (problems[1].file.as_str(), problems[1].line),
            ("b.cedar", 2)
        );
        assert!(problems[1].message.contains("a.cedar:1"), "{problems:?}");
    }

    #[test]
    fn broken_schema_is_reported() {
        let (_, files) = default_files();
        let schema = PolicyFile {
            name: "schema.cedarschema".into(),
            text: "entity User = {\n  name: Strin,\n};\n".into(),
        };
        let problems = load(&schema, &files).err().expect("must be refused");
        assert!(
            problems.iter().all(|p| p.file == "schema.cedarschema"),
            "{problems:?}"
        );
    }

    #[test]
    fn version_changes_with_the_text() {
        let (schema, files) = default_files();
        let a = load(&schema, &files).ok().unwrap().summary.version;
        let mut changed = files.clone();
        changed[0].text.push_str("\n// edited\n");
        let b = load(&schema, &changed).ok().unwrap().summary.version;
        assert_ne!(a, b);
        assert_eq!(a, load(&schema, &files).ok().unwrap().summary.version);
    }
}
