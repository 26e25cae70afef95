//! Linking identities from OpenID providers to customer records, through the
//! real plugin: the verified identity decides, never a bare email match, and
//! every link and refusal is audited.

use super::common;

use std::sync::Arc;

use partnergate::clock::Clock;
use partnergate::directory::sqlite::SqliteDirectory;
use partnergate::directory::{AuditQuery, Directory};
use partnergate::model::{AccountStatus, ExternalIdentity};
use partnergate::{Error, PartnerGate};

const ISSUER: &str = "https://login.acme-idp.test/tenant/v2.0";

async fn fixture() -> (PartnerGate, Arc<SqliteDirectory>) {
    let clock = Clock::system();
    let dir = common::sample_directory(&clock).await;
    let gate = PartnerGate::builder()
        .directory(dir.clone())
        .clock(clock)
        .artifact_cache(common::artifact_dir())
        .build()
        .await
        .unwrap();
    (gate, dir)
}

fn identity(subject: &str, emails: &[&str]) -> ExternalIdentity {
    ExternalIdentity {
        issuer: ISSUER.into(),
        subject: subject.into(),
        emails: emails.iter().map(|e| e.to_string()).collect(),
        email_verified: true,
        trusted_provider: false,
        name: None,
        claims: vec![],
    }
}

fn refused(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(Error::Refused(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn audit_actions(dir: &SqliteDirectory) -> Vec<String> {
    dir.read_audit(AuditQuery::new(None, None, 500))
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|r| r.entry.action)
        .collect()
}

#[tokio::test]
async fn invited_member_with_the_verified_email_is_linked_and_activated() {
    let (gate, dir) = fixture().await;
    assert!(
        !common::decide(&gate, "customer:ivan", "browse", "store:main")
            .await
            .is_allowed()
    );
    let signed = gate
        .link_identity(identity("sub-ivan", &[" IVAN@acme.test"]))
        .await
        .unwrap();
    assert_eq!(
        (signed.person_id.as_str(), signed.status, signed.linked),
        ("ivan", AccountStatus::Active, true)
    );
    assert_eq!(
        dir.find_link(ISSUER, "sub-ivan").await.unwrap().as_deref(),
        Some("ivan")
    );
    assert!(
        common::decide(&gate, "customer:ivan", "browse", "store:main")
            .await
            .is_allowed(),
        "active at once"
    );
    assert_eq!(audit_actions(&dir).await[0], "linkIdentity");
    // Signing in again uses the link.
    let again = gate
        .link_identity(identity("sub-ivan", &["ivan@acme.test"]))
        .await
        .unwrap();
    assert_eq!((again.person_id.as_str(), again.linked), ("ivan", false));
}

#[tokio::test]
async fn a_link_is_never_repointed_and_a_second_identity_needs_the_same_rules() {
    let (gate, _) = fixture().await;
    gate.link_identity(identity("sub-ivan", &["ivan@acme.test"]))
        .await
        .unwrap();
    // The same subject with another email is still ivan.
    let same = gate
        .link_identity(identity("sub-ivan", &["bob@acme.test"]))
        .await
        .unwrap();
    assert_eq!(same.person_id, "ivan");
    // Another subject claiming ivan's email does not take over the record.
    let reason = refused(
        gate.link_identity(identity("sub-attacker", &["ivan@acme.test"]))
            .await,
    );
    assert!(reason.contains("linked to another identity"), "{reason}");
}

#[tokio::test]
async fn unverified_email_never_links() {
    let (gate, dir) = fixture().await;
    let unverified = ExternalIdentity {
        email_verified: false,
        ..identity("sub-x", &["ivan@acme.test"])
    };
    let reason = refused(gate.link_identity(unverified).await);
    assert!(reason.contains("unverified"), "{reason}");
    assert!(dir.find_link(ISSUER, "sub-x").await.unwrap().is_none());
    assert_eq!(audit_actions(&dir).await[0], "signInRefused");
}

#[tokio::test]
async fn no_customer_record_is_refused_pointing_to_onboarding() {
    let (gate, _) = fixture().await;
    let reason = refused(
        gate.link_identity(identity("sub-new", &["stranger@elsewhere.test"]))
            .await,
    );
    assert!(
        reason.contains("no customer record") && reason.contains("onboarding"),
        "{reason}"
    );
}

#[tokio::test]
async fn emails_matching_two_customers_are_refused_as_ambiguous() {
    let (gate, _) = fixture().await;
    let reason = refused(
        gate.link_identity(identity("sub-b2c", &["bob@acme.test", "carol@acme.test"]))
            .await,
    );
    assert!(reason.contains("ambiguous"), "{reason}");
}

#[tokio::test]
async fn revoked_removed_and_unapproved_organizations_are_refused_with_the_reason() {
    let (gate, _) = fixture().await;
    let cases = [
        ("rita@acme.test", "revoked"),
        ("remy@acme.test", "removed"),
        ("ian@initech.test", "blocked"),
        ("uma@umbrella.test", "not approved"),
        ("nora@example.test", "no organization"),
    ];
    for (email, why) in cases {
        let trusted = ExternalIdentity {
            trusted_provider: true,
            ..identity(&format!("sub-{email}"), &[email])
        };
        let reason = refused(gate.link_identity(trusted).await);
        assert!(reason.contains(why), "{email}: {reason}");
    }
}

#[tokio::test]
async fn existing_customers_are_linked_automatically_only_for_trusted_providers() {
    let (gate, dir) = fixture().await;
    let reason = refused(
        gate.link_identity(identity("sub-bob", &["bob@acme.test"]))
            .await,
    );
    assert!(
        reason.contains("not permitted for this provider"),
        "{reason}"
    );
    let trusted = ExternalIdentity {
        trusted_provider: true,
        ..identity("sub-bob", &["bob@acme.test"])
    };
    let signed = gate.link_identity(trusted).await.unwrap();
    assert_eq!(
        (signed.person_id.as_str(), signed.status, signed.linked),
        ("bob", AccountStatus::Active, true)
    );
    let audit = dir
        .read_audit(AuditQuery::new(None, None, 10))
        .await
        .unwrap();
    assert_eq!(audit.entries[0].entry.action, "linkIdentity");
    assert_eq!(
        audit.entries[0].entry.policies,
        ["trusted-provider-links-verified-email"]
    );
    assert_eq!(audit.entries[1].entry.action, "signInRefused");
}

#[tokio::test]
async fn a_linked_member_who_is_revoked_later_is_refused() {
    let (gate, dir) = fixture().await;
    gate.link_identity(identity("sub-ivan", &["ivan@acme.test"]))
        .await
        .unwrap();
    let version = common::version(&*dir, "ivan").await;
    let target = partnergate::model::Target {
        person_id: "ivan".into(),
        organization_id: None,
        version,
    };
    gate.revoke_user("customer:alice", target).await.unwrap();
    let reason = refused(
        gate.link_identity(identity("sub-ivan", &["ivan@acme.test"]))
            .await,
    );
    assert!(reason.contains("revoked"), "{reason}");
}

/// One identity is linked once, however many first sign-ins race (on one
/// node, or on several sharing the directory): each round, one links and
/// the others are refused (or find the link), and exactly one link exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_identity_is_linked_once_under_concurrent_first_sign_ins() {
    let (gate, dir) = fixture().await;
    common::warm(&gate, 3).await;
    linked_once(&[gate], &*dir).await;
}

/// [`an_identity_is_linked_once_under_concurrent_first_sign_ins`]'s
/// rounds, each sign-in on the next of `gates` (nodes sharing `dir`).
pub(crate) async fn linked_once(gates: &[PartnerGate], dir: &dyn Directory) {
    let gate = &gates[0];
    for round in 0..10 {
        // A fresh invited member each round, signing in three times at once.
        let email = format!("link{round}@acme.test");
        let invited = gate
            .add_user(
                "customer:alice",
                "acme",
                partnergate::model::NewUser {
                    email: email.clone(),
                    name: "Linked".into(),
                    roles: vec![],
                    is_admin: false,
                    spending_limit: None,
                },
            )
            .await
            .unwrap();
        let subject = format!("sub-race-{round}");
        let results: Vec<Result<partnergate::model::SignedIn, Error>> = common::at_once(
            (0..3)
                .map(|i| {
                    let gate = gates[i % gates.len()].clone();
                    let (subject, email) = (subject.clone(), email.clone());
                    Box::pin(async move {
                        gate.link_identity(identity(&subject, &[email.as_str()]))
                            .await
                    })
                        as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
                })
                .collect(),
        )
        .await;
        let linked = results
            .iter()
            .filter(|r| r.as_ref().is_ok_and(|s| s.linked))
            .count();
        assert_eq!(linked, 1, "round {round}: {results:?}");
        assert!(
            results.iter().all(
                |r| r.as_ref().is_ok_and(|s| s.person_id == invited.person_id)
                    || matches!(r, Err(Error::Refused(_)))
            ),
            "round {round}: {results:?}"
        );
        assert_eq!(
            dir.find_link(ISSUER, &subject).await.unwrap(),
            Some(invited.person_id.clone())
        );
    }
}
