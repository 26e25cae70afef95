//! Policy sets on disk: the default tests pass, broken files are refused with
//! file and line, a refused reload keeps the set in use, and the CLI agrees.

use super::common;

use std::path::Path;
use std::process::Command;

use partnergate::policies::PolicySource;
use partnergate::{Error, PluginSource, policy_cases};

fn copy_policies(to: &Path) {
    for entry in std::fs::read_dir(common::policies_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

const TYPO: &str = "// typo in an attribute name\n@id(\"typo\")\npermit (principal is PartnerGate::Customer, action, resource)\nwhen { principal.isAdmn };\n";

#[tokio::test]
async fn default_policy_tests_pass() {
    let dir = common::policies_dir();
    let results = policy_cases::run_dir(
        &dir.join("tests"),
        &PolicySource::Dir(dir.clone()),
        &PluginSource::Embedded,
        Some(&common::artifact_dir()),
    )
    .await
    .expect("policy tests run");
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| {
            r.failure
                .as_ref()
                .map(|f| format!("{}: {}: {f}", r.file.display(), r.name))
        })
        .collect();
    assert!(results.len() >= 40, "only {} cases ran", results.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn policy_test_that_expects_the_wrong_decision_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wrong.json"),
        r#"{"directory": {"organizations": [{"id": "a", "name": "A", "status": "approved"}],
                          "people": [{"id": "p", "email": "p@a.test", "name": "P", "organization": "a", "status": "revoked"}]},
            "cases": [{"name": "a revoked user browses", "principal": "customer:p", "action": "browse",
                       "resource": "store:main", "decision": "allow"}]}"#,
    )
    .unwrap();
    let results = policy_cases::run_dir(
        dir.path(),
        &PolicySource::Embedded,
        &PluginSource::Embedded,
        Some(&common::artifact_dir()),
    )
    .await
    .unwrap();
    assert_eq!(results.len(), 1);
    let failure = results[0].failure.as_deref().expect("the case must fail");
    assert!(failure.contains("expected allow, got deny"), "{failure}");
}

/// The sign-in policy tests (identity principals) catch a loosened
/// `autoLink` policy, and a case naming both a principal and an identity is a
/// failure, not a pass.
#[tokio::test]
async fn identity_policy_tests_catch_a_loosened_auto_link_policy() {
    let dir = tempfile::tempdir().unwrap();
    copy_policies(dir.path());
    std::fs::write(
        dir.path().join("signin.cedar"),
        "@id(\"any-identity-links\")\npermit (principal is PartnerGate::Identity, action == PartnerGate::Action::\"autoLink\", resource);\n",
    )
    .unwrap();
    let tests = dir.path().join("tests");
    std::fs::create_dir(&tests).unwrap();
    let mut signin: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::policies_dir().join("tests/signin.json")).unwrap(),
    )
    .unwrap();
    signin["directory"] = common::policies_dir()
        .join("directory.json")
        .to_string_lossy()
        .into();
    signin["cases"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "name": "both", "principal": "customer:bob", "identity": {},
            "action": "autoLink", "resource": "customer:bob", "decision": "invalid"
        }));
    std::fs::write(tests.join("signin.json"), signin.to_string()).unwrap();
    let results = policy_cases::run_dir(
        &tests,
        &PolicySource::Dir(dir.path().into()),
        &PluginSource::Embedded,
        Some(&common::artifact_dir()),
    )
    .await
    .unwrap();
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.failure.is_some())
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "a trusted provider's verified email links an existing customer",
            "an untrusted provider never links an existing customer automatically",
            "an unverified email never links, even from a trusted provider",
            "both",
        ],
        "{results:?}"
    );
}

#[tokio::test]
async fn host_refuses_to_start_with_a_broken_policy_file() {
    let dir = tempfile::tempdir().unwrap();
    copy_policies(dir.path());
    std::fs::write(dir.path().join("zz-extra.cedar"), TYPO).unwrap();
    let err = common::builder()
        .await
        .policies(PolicySource::Dir(dir.path().into()))
        .build()
        .await
        .err()
        .expect("must refuse");
    let Error::InvalidPolicies(problems) = err else {
        panic!("expected invalid policies, got {err}")
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        (problems[0].file.as_str(), problems[0].line),
        ("zz-extra.cedar", 4)
    );
    assert!(
        problems[0].message.contains("isAdmn"),
        "{}",
        problems[0].message
    );
}

#[tokio::test]
async fn broken_reload_keeps_the_working_set_and_a_fixed_one_is_used() {
    let dir = tempfile::tempdir().unwrap();
    copy_policies(dir.path());
    let gate = common::builder()
        .await
        .policies(PolicySource::Dir(dir.path().into()))
        .build()
        .await
        .unwrap();
    let before = gate.policy_summary();
    assert!(
        common::decide(&gate, "customer:bob", "browse", "store:main")
            .await
            .is_allowed()
    );

    std::fs::write(
        dir.path().join("store.cedar"),
        "@id(\"x\")\npermit (principal, action, resource) when { oops };\n",
    )
    .unwrap();
    let err = gate
        .reload_policies()
        .await
        .err()
        .expect("broken reload refused");
    assert!(
        matches!(err, Error::InvalidPolicies(ref p) if p[0].file == "store.cedar" && p[0].line == 2),
        "{err}"
    );
    assert_eq!(gate.policy_summary(), before);
    assert!(
        common::decide(&gate, "customer:bob", "browse", "store:main")
            .await
            .is_allowed()
    );

    // A valid edit takes effect without a restart: forbid browsing for everyone.
    let store = std::fs::read_to_string(common::policies_dir().join("store.cedar")).unwrap();
    let closed = format!(
        "{store}\n// The store is closed.\n@id(\"store-closed\")\nforbid (principal, action == PartnerGate::Action::\"browse\", resource);\n"
    );
    std::fs::write(dir.path().join("store.cedar"), closed).unwrap();
    let after = gate.reload_policies().await.expect("valid reload");
    assert_ne!(after.version, before.version);
    let d = common::decide(&gate, "customer:bob", "browse", "store:main").await;
    assert!(!d.is_allowed());
    assert_eq!(d.policies, ["store-closed"]);
}

/// Runs the `partnergate` binary with `args`, checks that it exits with
/// `code`, and gives its standard output and error.
fn partnergate(args: &[&str], code: i32) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_partnergate"))
        .args(args)
        .env("PARTNERGATE_CACHE_DIR", common::artifact_dir())
        .output()
        .expect("run partnergate");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn cli_validate_names_file_and_line_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    copy_policies(dir.path());
    std::fs::write(dir.path().join("zz-extra.cedar"), TYPO).unwrap();
    let (stdout, _) = partnergate(&["policy", "validate", dir.path().to_str().unwrap()], 1);
    assert!(stdout.contains("zz-extra.cedar:4:"), "{stdout}");
    assert!(stdout.contains("isAdmn"), "{stdout}");
}

#[test]
fn cli_validate_accepts_the_default_policies() {
    let dir = common::policies_dir();
    let (stdout, _) = partnergate(&["policy", "validate", dir.to_str().unwrap()], 0);
    assert!(stdout.contains("valid"), "{stdout}");
}

#[test]
fn cli_policy_test_runs_the_default_tests() {
    let dir = common::policies_dir();
    let (stdout, _) = partnergate(&["policy", "test", dir.to_str().unwrap()], 0);
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

#[test]
fn cli_authorize_prints_the_decision_and_deciding_policies() {
    let seed = common::policies_dir().join("directory.json");
    let seed = seed.to_str().unwrap();
    // `authorize` on the sample directory: exit 0 on allow, 1 on deny.
    let authorize = |request: [&str; 3], context: &str, code: i32| {
        let [principal, action, resource] = request;
        let args = [
            "authorize",
            "--database",
            ":memory:",
            "--directory-seed",
            seed,
            "--principal",
            principal,
            "--action",
            action,
            "--resource",
            resource,
            "--context",
            context,
        ];
        partnergate(&args, code).0
    };
    let stdout = authorize(
        ["customer:bob", "placeOrder", "store:main"],
        r#"{"orderTotal": 60000}"#,
        1,
    );
    assert!(
        stdout.contains("DENY by order-within-spending-limit"),
        "{stdout}"
    );
    let stdout = authorize(["customer:alice", "addUser", "organization:acme"], "{}", 0);
    assert!(
        stdout.contains("ALLOW by org-admin-manages-own-users"),
        "{stdout}"
    );
}

#[test]
fn cli_refuses_to_start_on_a_broken_policy_directory() {
    let dir = tempfile::tempdir().unwrap();
    copy_policies(dir.path());
    std::fs::write(dir.path().join("zz-extra.cedar"), TYPO).unwrap();
    let args = [
        "authorize",
        "--database",
        ":memory:",
        "--policies",
        dir.path().to_str().unwrap(),
        "--principal",
        "customer:a",
        "--action",
        "browse",
        "--resource",
        "store:main",
    ];
    let (_, stderr) = partnergate(&args, 2);
    assert!(stderr.contains("zz-extra.cedar:4:"), "{stderr}");
}
