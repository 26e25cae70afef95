//! `policy diff` and `policy check` on hand-made pairs of policy sets whose
//! answer is known, proved with cedar-policy-symcc and cvc5 (PyPI's `cvc5`
//! through `scripts/cvc5`, installed by `scripts/test.sh`).

use std::path::{Path, PathBuf};

use partnergate::verify::check::{self, Outcome};
use partnergate::verify::diff::{self, Relation};
use partnergate::verify::format;
use partnergate::verify::{PolicyDir, Solver};
use partnergate_testkit::{policies_dir, repo_root};

fn solver() -> Solver {
    Solver::at(repo_root().join("scripts/cvc5"))
}

/// A copy of the default policies in a temporary directory, with `edit`
/// applied to the text of `file`.
fn edited(file: &str, edit: impl FnOnce(String) -> String) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("policies");
    std::fs::create_dir(&dir).unwrap();
    for entry in std::fs::read_dir(policies_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let changed = edit(text.clone());
    assert_ne!(changed, text, "the edit must change `{file}`");
    std::fs::write(dir.join(file), changed).unwrap();
    (tmp, dir)
}

fn load(dir: &Path) -> PolicyDir {
    PolicyDir::load(dir).unwrap()
}

const OWN_ORGANIZATION: &str = "  principal has organization &&\n  (principal.organization.status == \"approved\" ||\n   principal.organization.status == \"blocked\") &&\n  resource in principal.organization\n";

#[tokio::test]
async fn a_loosened_admin_policy_is_more_permissive_with_a_cross_organization_counterexample() {
    let (_tmp, loosened) = edited("users.cedar", |text| {
        text.replacen(
            OWN_ORGANIZATION,
            "  principal has organization &&\n  (principal.organization.status == \"approved\" ||\n   principal.organization.status == \"blocked\")\n",
            1,
        )
    });
    let (old, new) = (load(&policies_dir()), load(&loosened));
    let diff = diff::diff(&old, &new, &solver()).await.unwrap();
    assert_eq!(diff.textual.changed, ["org-admin-manages-own-users"]);
    assert!(diff.textual.added.is_empty() && diff.textual.removed.is_empty());
    assert!(diff.more_permissive());
    let add = diff
        .semantic
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.action.contains("addUser") && e.principal == "Customer")
        .expect("the addUser environment");
    assert_eq!(add.relation, Relation::MorePermissive, "{add:?}");
    assert!(add.newly_denied.is_none());
    // The counterexample: an active administrator adding a user to an
    // organization that is not their own.
    let example = add.newly_allowed.as_deref().unwrap();
    let mut lines = example.lines();
    let request = lines.next().unwrap();
    let (principal, resource) = {
        let part = |key: &str| {
            request
                .split(", ")
                .find_map(|p| p.strip_prefix(key))
                .unwrap()
                .to_string()
        };
        (part("principal "), part("resource "))
    };
    let admin = lines
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{principal} ")))
        .unwrap_or_else(|| panic!("the principal's entity in {example}"));
    assert!(
        admin.contains("isAdmin: true") && admin.contains("status: \"active\""),
        "{admin}"
    );
    let own = admin
        .split("organization: ")
        .nth(1)
        .and_then(|rest| rest.split([',', ' ']).next())
        .unwrap_or_else(|| panic!("the admin's organization in {admin}"));
    assert_ne!(
        own, resource,
        "another organization than the admin's: {example}"
    );
    // Nothing else than the org-admin actions changed.
    for e in diff.semantic.as_ref().unwrap() {
        if e.action.contains("browse") || e.action.contains("placeOrder") {
            assert_eq!(e.relation, Relation::Equivalent, "{e:?}");
        }
    }
}

#[tokio::test]
async fn a_tightened_policy_is_less_permissive_and_a_reordered_file_is_equivalent() {
    let (_tmp, tightened) = edited("users.cedar", |text| {
        text.replacen(
            OWN_ORGANIZATION,
            &format!(
                "{}  && principal.roles.contains(\"approver\")\n",
                OWN_ORGANIZATION.trim_end()
            ),
            1,
        )
    });
    let old = load(&policies_dir());
    let diff = diff::diff(&old, &load(&tightened), &solver())
        .await
        .unwrap();
    assert_eq!(diff.textual.changed, ["org-admin-manages-own-users"]);
    assert!(!diff.more_permissive());
    let relations: Vec<Relation> = diff.semantic.unwrap().iter().map(|e| e.relation).collect();
    assert!(relations.contains(&Relation::LessPermissive));
    assert!(!relations.contains(&Relation::MorePermissive) && !relations.contains(&Relation::Both));

    // The same policies in another order, with other comments and layout.
    let (_tmp2, reordered) = edited("users.cedar", |text| {
        let mut statements: Vec<&str> = text.split("\n\n").collect();
        statements.reverse();
        statements.join("\n\n// reordered\n\n")
    });
    let diff = diff::diff(&old, &load(&reordered), &solver())
        .await
        .unwrap();
    assert!(diff.textual.is_empty(), "{:?}", diff.textual);
    assert!(
        diff.semantic
            .unwrap()
            .iter()
            .all(|e| e.relation == Relation::Equivalent)
    );
}

#[tokio::test]
async fn without_a_solver_the_textual_diff_is_still_printed() {
    let (_tmp, loosened) = edited("store.cedar", |text| text + "\n// a comment only\n");
    let old = load(&policies_dir());
    let diff = diff::diff(&old, &load(&loosened), &Solver::at("/nonexistent/cvc5"))
        .await
        .unwrap();
    assert!(diff.textual.is_empty());
    assert!(diff.semantic.is_none());
    let why = diff.semantic_unavailable.unwrap();
    assert!(
        why.contains("no SMT solver") && why.contains("pip install cvc5"),
        "{why}"
    );
}

#[tokio::test]
async fn the_default_policies_have_the_properties_the_security_team_relies_on() {
    let dir = load(&policies_dir());
    let properties = check::read(&policies_dir()).unwrap();
    let outcomes = check::check(&dir, &properties, &solver()).await.unwrap();
    assert_eq!(outcomes.len(), 5);
    for (property, outcome) in properties.properties.iter().zip(&outcomes) {
        assert_eq!(outcome, &Outcome::Holds, "{}", property.name);
    }
}

/// The counterexamples of a violated property.
fn violated(outcome: &Outcome) -> &[String] {
    match outcome {
        Outcome::Violated(examples) => examples,
        other => panic!("expected a violation, got {other:?}"),
    }
}

#[tokio::test]
async fn a_planted_policy_violates_a_property_and_is_caught() {
    // An administrator may designate administrators, outside the opt-in.
    let (_tmp, planted) = edited("users.cedar", |text| {
        text + "\n@id(\"planted\")\npermit (principal is PartnerGate::Customer, action == PartnerGate::Action::\"designateAdmin\", resource)\nwhen { principal.isAdmin };\n"
    });
    let properties = check::read(&planted).unwrap();
    let outcomes = check::check(&load(&planted), &properties, &solver())
        .await
        .unwrap();
    assert_eq!(outcomes[0], Outcome::Holds, "never errors");
    assert_eq!(
        outcomes[1],
        Outcome::Holds,
        "the inactive forbid still stands"
    );
    let examples = violated(&outcomes[2]);
    assert!(
        examples
            .iter()
            .any(|e| e.contains("designateAdmin") && e.contains("PartnerGate::Customer::")),
        "{examples:?}"
    );

    // Without the forbid on inactive accounts, a permit for revoked buyers
    // breaks the second property.
    let (_tmp2, loosened) = edited("store.cedar", |text| {
        let forbid = text.find("@id(\"inactive-account-does-nothing\")").unwrap();
        text[..forbid].to_string()
            + "@id(\"planted\")\npermit (principal is PartnerGate::Customer, action == PartnerGate::Action::\"browse\", resource)\nwhen { principal.status == \"revoked\" };\n"
    });
    let outcomes = check::check(&load(&loosened), &properties, &solver())
        .await
        .unwrap();
    let examples = violated(&outcomes[1]);
    assert!(
        examples
            .iter()
            .any(|e| e.contains("browse") && e.contains("revoked")),
        "{examples:?}"
    );
}

#[tokio::test]
async fn the_opt_in_admin_policy_makes_the_staff_only_property_not_apply() {
    let (_tmp, opted_in) = edited("users.cedar", |text| {
        let start = text
            .find("// @id(\"org-admin-designates-admins\")")
            .unwrap();
        let (head, tail) = text.split_at(start);
        let end = tail.find("};").unwrap() + 2;
        let uncommented: String = tail[..end]
            .lines()
            .map(|l| {
                l.strip_prefix("// ")
                    .or_else(|| l.strip_prefix("//"))
                    .unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n");
        format!("{head}{uncommented}{}", &tail[end..])
    });
    let dir = load(&opted_in);
    let properties = check::read(&opted_in).unwrap();
    let outcomes = check::check(&dir, &properties, &solver()).await.unwrap();
    assert_eq!(
        outcomes[2],
        Outcome::NotApplicable("org-admin-designates-admins".into())
    );
}

#[test]
fn the_default_policies_are_formatted_and_fmt_fixes_a_file_that_is_not() {
    let defaults = format::format_dir(&policies_dir(), false).unwrap();
    assert!(defaults.len() >= 4);
    assert!(
        defaults.iter().all(|f| !f.changed),
        "run `partnergate policy fmt policies`: {defaults:?}"
    );
    let (_tmp, messy) = edited("store.cedar", |text| {
        text.replacen("permit (", "permit(   ", 1)
    });
    let checked = format::format_dir(&messy, false).unwrap();
    let store = checked
        .iter()
        .find(|f| f.file.ends_with("store.cedar"))
        .unwrap();
    assert!(store.changed, "--check reports it");
    let before = std::fs::read_to_string(messy.join("store.cedar")).unwrap();
    assert!(before.contains("permit(   "), "--check changes nothing");
    format::format_dir(&messy, true).unwrap();
    let after = std::fs::read_to_string(messy.join("store.cedar")).unwrap();
    assert_eq!(
        after,
        std::fs::read_to_string(policies_dir().join("store.cedar")).unwrap()
    );
    assert!(
        format::format_dir(&messy, false)
            .unwrap()
            .iter()
            .all(|f| !f.changed)
    );
}

#[test]
fn a_file_that_does_not_parse_is_refused_and_nothing_is_written() {
    let (_tmp, broken) = edited("users.cedar", |text| {
        text + "\npermit (principal, action, resource\n"
    });
    std::fs::write(
        broken.join("a.cedar"),
        "permit(principal,action,resource);\n",
    )
    .unwrap();
    let err = format::format_dir(&broken, true).unwrap_err().to_string();
    assert!(
        err.contains("users.cedar") && err.contains("does not parse"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(broken.join("a.cedar")).unwrap(),
        "permit(principal,action,resource);\n",
        "no file is written when one does not parse"
    );
}

#[tokio::test]
async fn cedar_run_tests_files_are_decided_and_a_wrong_expectation_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(policies_dir().join("tests/cedar-format.json")).unwrap();
    let mut cases: serde_json::Value = serde_json::from_str(&text).unwrap();
    // The revoked buyer's case now expects an allow.
    cases[2]["decision"] = "allow".into();
    // The spending-limit case names the wrong deciding policy.
    cases[1]["reason"] = serde_json::json!(["active-member-orders"]);
    std::fs::write(tmp.path().join("cedar.json"), cases.to_string()).unwrap();
    let results = partnergate::policy_cases::run_dir(
        tmp.path(),
        &partnergate::policies::PolicySource::Dir(policies_dir()),
        &partnergate::PluginSource::Embedded,
        None,
    )
    .await
    .unwrap();
    let failures: Vec<Option<&str>> = results.iter().map(|r| r.failure.as_deref()).collect();
    assert_eq!(failures[0], None, "{failures:?}");
    assert!(
        failures[1].is_some_and(|f| f.contains("order-within-spending-limit")),
        "{failures:?}"
    );
    assert!(
        failures[2].is_some_and(|f| f.contains("expected allow, got deny")),
        "{failures:?}"
    );
}
