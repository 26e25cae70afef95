//! Notification delivery against a real SMTP server (Python's `aiosmtpd`,
//! installed by `scripts/test.sh` from `integration/requirements.txt`),
//! including a restart while messages are undelivered, and the file fallback.

use super::common;
use partnergate_testkit::{SmtpServer, TlsSmtpServer, free_port, test_certificates};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use partnergate::PartnerGate;
use partnergate::clock::Clock;
use partnergate::directory::seed::Seed;
use partnergate::directory::sqlite::SqliteDirectory;
use partnergate::model::NewUser;
use partnergate::notify::{FileMailer, Mailer as _, SmtpMailer};

async fn host(db: &Path, clock: &Clock, seed: bool) -> PartnerGate {
    let dir = SqliteDirectory::open(db, clock.clone()).unwrap();
    if seed {
        Seed::from_file(&common::policies_dir().join("directory.json"))
            .unwrap()
            .load_into(&dir)
            .await
            .unwrap();
    }
    PartnerGate::builder()
        .directory(Arc::new(dir))
        .clock(clock.clone())
        .artifact_cache(common::artifact_dir())
        .build()
        .await
        .unwrap()
}

/// (attempts, delivered) of every outbox row, read straight from the file.
fn outbox_rows(db: &Path) -> Vec<(i64, bool)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT attempts, delivered_at IS NOT NULL FROM outbox ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn delivered_messages(maildir: &Path) -> Vec<String> {
    let new: PathBuf = maildir.join("new");
    let Ok(entries) = std::fs::read_dir(new) else {
        return Vec::new();
    };
    entries
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

fn user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        name: "Invitee".into(),
        roles: vec![],
        is_admin: false,
        spending_limit: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_survive_an_smtp_outage_and_a_restart_and_arrive_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("directory.db");
    let maildir = tmp.path().join("maildir");
    let port = free_port();
    let clock = Clock::system();

    // First run: the SMTP server is down, so every attempt fails and is recorded.
    let gate = host(&db, &clock, true).await;
    let mailer = Arc::new(
        SmtpMailer::new(&format!("smtp://127.0.0.1:{port}"), "store@merchant.test").unwrap(),
    );
    let outbox = gate.spawn_outbox(mailer.clone(), Duration::from_millis(50));
    for email in ["one@acme.test", "two@acme.test", "three@acme.test"] {
        gate.add_user("customer:alice", "acme", user(email))
            .await
            .unwrap();
    }
    wait_for("three failed attempts", || {
        let rows = outbox_rows(&db);
        rows.len() == 3
            && rows
                .iter()
                .all(|(attempts, delivered)| *attempts >= 1 && !delivered)
    })
    .await;
    outbox.stop().await;
    drop(gate);

    // Restart: a new host on the same database, and the server is up now.
    let _server = SmtpServer::start(port, &maildir);
    let gate = host(&db, &clock, false).await;
    clock.advance(Duration::from_secs(3600));
    let outbox = gate.spawn_outbox(mailer, Duration::from_millis(50));
    wait_for("delivery", || {
        outbox_rows(&db).iter().all(|(_, delivered)| *delivered)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    outbox.stop().await;

    let messages = delivered_messages(&maildir);
    assert_eq!(messages.len(), 3, "each invitation exactly once");
    for to in ["one@acme.test", "two@acme.test", "three@acme.test"] {
        let found: Vec<&String> = messages
            .iter()
            .filter(|m| m.contains(&format!("To: {to}")))
            .collect();
        assert_eq!(found.len(), 1, "{to}");
        assert!(found[0].contains("Message-ID: <outbox-"), "{}", found[0]);
        assert!(found[0].contains("Acme Corp"), "{}", found[0]);
    }
}

#[tokio::test]
async fn without_smtp_notifications_are_written_to_the_outbox_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("outbox.jsonl");
    let gate = common::gate().await;
    let outbox = gate.spawn_outbox(Arc::new(FileMailer::new(&file)), Duration::from_millis(50));
    gate.add_user("customer:alice", "acme", user("filed@acme.test"))
        .await
        .unwrap();
    wait_for("the outbox file", || {
        std::fs::read_to_string(&file).is_ok_and(|t| t.lines().count() == 1)
    })
    .await;
    outbox.stop().await;
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&file).unwrap().trim()).unwrap();
    assert_eq!(line["to"], "filed@acme.test");
    assert_eq!(line["kind"], "invitation");
    assert!(line["subject"].as_str().unwrap().contains("Acme Corp"));
}

fn tls_settings(
    url: String,
    ca: Option<&Path>,
    password: &str,
) -> partnergate::notify::SmtpSettings {
    partnergate::notify::SmtpSettings {
        url,
        from: "store@merchant.test".into(),
        username: Some("mailer".into()),
        password: Some(password.into()),
        ca_file: ca.map(Path::to_path_buf),
    }
}

/// Delivers one invitation to `email` through `mailer`, as the outbox
/// worker does.
async fn deliver_one(mailer: &SmtpMailer, email: &str) -> Result<(), String> {
    let message = partnergate::directory::OutboxMessage {
        id: 1,
        notification: partnergate::model::Notification {
            kind: partnergate::model::NotificationKind::Invitation,
            recipient: email.into(),
            params: vec![("organization".into(), "Acme Corp".into())],
        },
        attempts: 0,
    };
    tokio::time::timeout(Duration::from_secs(30), mailer.deliver(&message))
        .await
        .map_err(|_| "delivery hung".to_string())?
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_go_over_starttls_and_implicit_tls_with_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certificates(tmp.path());
    for (mode, scheme) in [
        ("starttls", "smtp://127.0.0.1:{port}?tls=starttls"),
        ("smtps", "smtps://127.0.0.1:{port}"),
    ] {
        let maildir = tmp.path().join(format!("maildir-{mode}"));
        let port = free_port();
        let _server =
            TlsSmtpServer::start(mode, port, &maildir, &cert, &key, "mailer", "s3cret-pass");
        let url = scheme.replace("{port}", &port.to_string());

        let mailer =
            SmtpMailer::with_settings(&tls_settings(url.clone(), Some(&ca), "s3cret-pass"))
                .unwrap();
        assert!(!mailer.summary().contains("s3cret"), "{}", mailer.summary());
        let email = format!("{mode}@acme.test");
        deliver_one(&mailer, &email)
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        let messages = delivered_messages(&maildir);
        assert_eq!(messages.len(), 1, "{mode}");
        assert!(
            messages[0].contains(&format!("To: {email}")),
            "{}",
            messages[0]
        );

        // A certificate that chains to no trusted root is refused before
        // anything is sent.
        let untrusted =
            SmtpMailer::with_settings(&tls_settings(url.clone(), None, "s3cret-pass")).unwrap();
        let err = deliver_one(&untrusted, "untrusted@acme.test")
            .await
            .unwrap_err();
        assert!(err.to_lowercase().contains("certificate"), "{mode}: {err}");
        assert_eq!(delivered_messages(&maildir).len(), 1, "{mode}");
    }
}
