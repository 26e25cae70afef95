//! Applying a change's ops inside its transaction: each checks what the
//! decision read (versions, guards, uniqueness) before it writes.

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Transaction};

use super::errors::unavailable;
use crate::directory::error::DirectoryError;
use crate::directory::schema::{CHANGES_KEPT, LinkTable};
use crate::model::AccountStatus;
use crate::model::ChangeOp;
use crate::model::Notification;
use crate::touched::{ChangeFeed, Touched};

/// Whether `err` is a lost serialization race (or a deadlock), which a
/// retry resolves.
pub(super) fn is_race(err: &tokio_postgres::Error) -> bool {
    matches!(
        err.code(),
        Some(&SqlState::T_R_SERIALIZATION_FAILURE) | Some(&SqlState::T_R_DEADLOCK_DETECTED)
    )
}

/// Why a change failed: a race to retry, its budget spent (a lock or a
/// statement timed out), or the directory's answer.
pub(super) enum Failure {
    Race,
    OverBudget,
    Refused(DirectoryError),
}

impl Failure {
    /// The error a caller that does not retry gets.
    pub(super) fn into_error(self) -> DirectoryError {
        match self {
            Failure::Refused(err) => err,
            Failure::Race | Failure::OverBudget => {
                DirectoryError::Unavailable("the record met a concurrent change: try again".into())
            }
        }
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(err: tokio_postgres::Error) -> Self {
        if is_race(&err) {
            Failure::Race
        } else if matches!(
            err.code(),
            Some(&SqlState::LOCK_NOT_AVAILABLE) | Some(&SqlState::QUERY_CANCELED)
        ) {
            Failure::OverBudget
        } else {
            Failure::Refused(unavailable(err))
        }
    }
}

/// Writes `touched` into the change log under the next position (the one
/// row of `change_head`, which also orders concurrent changes: the second
/// to take it is a serialization race, run again after the first commits),
/// and prunes what is [`CHANGES_KEPT`] positions behind it.
pub(super) async fn log_changes(tx: &Transaction<'_>, touched: &[Touched]) -> Result<(), Failure> {
    if touched.is_empty() {
        return Ok(());
    }
    let seq: i64 = tx
        .query_one(
            "UPDATE change_head SET seq = seq + 1 WHERE one = 1 RETURNING seq",
            &[],
        )
        .await?
        .get(0);
    for t in touched {
        tx.execute(
            "INSERT INTO changes (seq, kind, id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&seq, &t.letter(), &t.id()],
        )
        .await?;
    }
    tx.execute(
        "DELETE FROM changes WHERE seq <= $1",
        &[&(seq - CHANGES_KEPT as i64)],
    )
    .await?;
    Ok(())
}

/// The change log after `after`, read in one snapshot.
pub(super) async fn changes_since(
    client: &mut tokio_postgres::Client,
    after: u64,
    limit: u32,
) -> Result<ChangeFeed, DirectoryError> {
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(unavailable)?;
    let head: i64 = tx
        .query_one("SELECT seq FROM change_head WHERE one = 1", &[])
        .await
        .map_err(unavailable)?
        .get(0);
    let rows = tx
        .query(
            "SELECT seq, kind, id FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&(after as i64), &i64::from(limit)],
        )
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|r| (r.get::<_, i64>(0) as u64, r.get(1), r.get(2)))
        .collect();
    tx.commit().await.map_err(unavailable)?;
    Ok(ChangeFeed::from_rows(after, head as u64, limit, rows))
}

impl From<DirectoryError> for Failure {
    fn from(err: DirectoryError) -> Self {
        Failure::Refused(err)
    }
}

/// A unique violation as `refused`; anything else as is.
pub(super) fn unique(err: tokio_postgres::Error, refused: DirectoryError) -> Failure {
    match err.as_db_error() {
        Some(db) if db.code() == &SqlState::UNIQUE_VIOLATION => Failure::Refused(refused),
        _ => err.into(),
    }
}

/// Links (issuer, subject) to `owner` in `links`: `duplicate` when the pair
/// is linked already (links are never re-pointed), `not-found` when there is
/// no such owner.
async fn put_link(
    tx: &Transaction<'_>,
    links: LinkTable,
    issuer: &str,
    subject: &str,
    owner: &str,
) -> Result<(), Failure> {
    let (table, column, what) = links.names();
    let linked = format!("identity `{subject}` at `{issuer}` is linked already");
    if tx
        .query_opt(
            &format!("SELECT {column} FROM {table} WHERE issuer = $1 AND subject = $2"),
            &[&issuer, &subject],
        )
        .await?
        .is_some()
    {
        return Err(DirectoryError::Duplicate(linked).into());
    }
    tx.execute(
        &format!("INSERT INTO {table} (issuer, subject, {column}) VALUES ($1, $2, $3)"),
        &[&issuer, &subject, &owner],
    )
    .await
    .map_err(|e| match e.code() {
        Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
            Failure::Refused(DirectoryError::NotFound(format!("{what} `{owner}`")))
        }
        _ => unique(e, DirectoryError::Duplicate(linked)),
    })?;
    Ok(())
}

pub(super) async fn apply_op(tx: &Transaction<'_>, op: &ChangeOp, now: u64) -> Result<(), Failure> {
    match op {
        ChangeOp::PutPerson(p) => {
            if let Some(other) = tx
                .query_opt(
                    "SELECT id FROM people WHERE email = $1 AND id <> $2",
                    &[&p.email, &p.id],
                )
                .await?
            {
                return Err(DirectoryError::Duplicate(format!(
                    "email `{}` belongs to person `{}`",
                    p.email,
                    other.get::<_, String>(0)
                ))
                .into());
            }
            tx.execute(
                "INSERT INTO people (id, email, name) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name",
                &[&p.id, &p.email, &p.name],
            )
            .await
            .map_err(|e| {
                let taken = format!("email `{}` belongs to another person", p.email);
                unique(e, DirectoryError::Duplicate(taken))
            })?;
        }
        ChangeOp::PutOrganization(o) => {
            tx.execute(
                "INSERT INTO organizations (id, name, status) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status",
                &[&o.id, &o.name, &o.status.name()],
            )
            .await?;
        }
        ChangeOp::PutMembership(m, expected) => {
            if tx
                .query_opt("SELECT 1 FROM people WHERE id = $1", &[&m.person_id])
                .await?
                .is_none()
            {
                return Err(DirectoryError::NotFound(format!("person `{}`", m.person_id)).into());
            }
            if tx
                .query_opt(
                    "SELECT 1 FROM organizations WHERE id = $1",
                    &[&m.organization_id],
                )
                .await?
                .is_none()
            {
                return Err(DirectoryError::NotFound(format!(
                    "organization `{}`",
                    m.organization_id
                ))
                .into());
            }
            let current = tx
                .query_opt(
                    "SELECT version FROM memberships WHERE person_id = $1 AND organization_id = $2",
                    &[&m.person_id, &m.organization_id],
                )
                .await?
                .map(|r| r.get::<_, i64>(0) as u64);
            DirectoryError::check_membership_version(&m.person_id, current, *expected)?;
            let version = current.map_or(1, |v| v + 1) as i64;
            let roles = serde_json::to_string(&m.roles).unwrap_or_else(|_| "[]".into());
            let spending_limit = m.spending_limit.map(|v| v.min(i64::MAX as u64) as i64);
            let invited_at = m.invited_at.map(|v| v as i64);
            let values: [&(dyn ToSql + Sync); 9] = [
                &m.person_id,
                &m.organization_id,
                &m.status.name(),
                &m.previous_status.map(AccountStatus::name),
                &m.is_admin,
                &roles,
                &spending_limit,
                &invited_at,
                &version,
            ];
            let sql = if current.is_none() {
                "INSERT INTO memberships (person_id, organization_id, status, previous_status, is_admin, roles,
                     spending_limit, invited_at, version, added_seq)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, (SELECT coalesce(max(added_seq), 0) + 1 FROM memberships))"
            } else {
                // A person added to an organization again counts as newly added.
                "UPDATE memberships SET status = $3, previous_status = $4, is_admin = $5,
                     roles = $6, spending_limit = $7, invited_at = $8, version = $9,
                     added_seq = CASE WHEN status = 'removed' AND $3 <> 'removed'
                         THEN (SELECT coalesce(max(added_seq), 0) + 1 FROM memberships) ELSE added_seq END
                 WHERE person_id = $1 AND organization_id = $2"
            };
            tx.execute(sql, &values).await.map_err(|e| {
                let changed = format!(
                    "the membership of `{}` changed since it was read",
                    m.person_id
                );
                unique(e, DirectoryError::Conflict(changed))
            })?;
        }
        ChangeOp::PutLink(issuer, subject, person) => {
            put_link(tx, LinkTable::Customer, issuer, subject, person).await?;
        }
        ChangeOp::PutStaffLink(issuer, subject, staff) => {
            put_link(tx, LinkTable::Staff, issuer, subject, staff).await?;
        }
        ChangeOp::ActivateStaff(id) => {
            let status: Option<String> = tx
                .query_opt("SELECT status FROM staff WHERE id = $1", &[id])
                .await?
                .map(|r| r.get(0));
            match status.as_deref() {
                None => return Err(DirectoryError::NotFound(format!("staff `{id}`")).into()),
                Some("invited") => {}
                Some(_) => {
                    return Err(DirectoryError::Conflict(format!(
                        "staff `{id}` is no longer invited: sign in again"
                    ))
                    .into());
                }
            }
            tx.execute("UPDATE staff SET status = 'active' WHERE id = $1", &[id])
                .await?;
        }
        ChangeOp::PutOnboarding(r, expected) => {
            let current = tx
                .query_opt(
                    "SELECT version FROM onboarding_requests WHERE id = $1",
                    &[&r.id],
                )
                .await?
                .map(|row| row.get::<_, i64>(0));
            if current.map(|v| v as u64) != *expected {
                return Err(DirectoryError::Conflict(format!(
                    "onboarding request `{}` changed since it was read",
                    r.id
                ))
                .into());
            }
            let version = current.map_or(1, |v| v + 1);
            tx.execute(
                "INSERT INTO onboarding_requests (id, organization_name, requester_name, requester_email, status,
                     organization_id, submitted_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, organization_id = excluded.organization_id,
                     version = excluded.version",
                &[
                    &r.id,
                    &r.organization_name,
                    &r.requester_name,
                    &r.requester_email,
                    &r.status.name(),
                    &r.organization_id,
                    &(r.submitted_at as i64),
                    &version,
                ],
            )
            .await
            .map_err(|e| {
                let pending = format!("a request for `{}` is already pending", r.requester_email);
                unique(e, DirectoryError::Duplicate(pending))
            })?;
        }
        ChangeOp::Queue(n) => enqueue(tx, n, now).await?,
        ChangeOp::ExpectMembership(person, organization, version) => {
            let stored = tx
                .query_opt(
                    "SELECT version FROM memberships WHERE person_id = $1 AND organization_id = $2",
                    &[person, organization],
                )
                .await?
                .map(|r| r.get::<_, i64>(0));
            if stored != Some(*version as i64) {
                return Err(DirectoryError::Conflict(format!(
                    "the membership of `{person}` in `{organization}` changed since the decision: read it again"
                ))
                .into());
            }
        }
        ChangeOp::AssignStaff(staff, organization) => {
            let exists = tx
                .query_opt("SELECT 1 FROM organizations WHERE id = $1", &[organization])
                .await?
                .is_some();
            if !exists {
                return Err(
                    DirectoryError::NotFound(format!("organization `{organization}`")).into(),
                );
            }
            let status: Option<String> = tx
                .query_opt("SELECT status FROM staff WHERE id = $1", &[staff])
                .await?
                .map(|r| r.get(0));
            match status.as_deref() {
                None => return Err(DirectoryError::NotFound(format!("staff `{staff}`")).into()),
                Some("removed") => {
                    return Err(
                        DirectoryError::Conflict(format!("staff `{staff}` was removed")).into(),
                    );
                }
                Some(_) => {}
            }
            tx.execute(
                "INSERT INTO staff_organizations (staff_id, organization_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[staff, organization],
            )
            .await?;
        }
        ChangeOp::UnassignStaff(staff, organization) => {
            let deleted = tx
                .execute(
                    "DELETE FROM staff_organizations WHERE staff_id = $1 AND organization_id = $2",
                    &[staff, organization],
                )
                .await?;
            if deleted == 0 {
                return Err(DirectoryError::NotFound(format!(
                    "staff `{staff}` assigned to `{organization}`"
                ))
                .into());
            }
            // Serializable: two withdrawals that each leave the other's
            // assignment cannot both commit.
            let left: i64 = tx
                .query_one(
                    "SELECT count(*) FROM staff_organizations WHERE organization_id = $1",
                    &[organization],
                )
                .await?
                .get(0);
            if left == 0 {
                return Err(DirectoryError::Conflict(format!(
                    "`{staff}` is the last staff member assigned to `{organization}`"
                ))
                .into());
            }
        }
        ChangeOp::ExpectOrganizationStatus(organization, status) => {
            let now: Option<String> = tx
                .query_opt(
                    "SELECT status FROM organizations WHERE id = $1",
                    &[organization],
                )
                .await?
                .map(|r| r.get(0));
            match now {
                None => {
                    return Err(
                        DirectoryError::NotFound(format!("organization `{organization}`")).into(),
                    );
                }
                Some(now) if now != status.name() => {
                    return Err(DirectoryError::Conflict(format!(
                        "the status of `{organization}` changed since it was read: read it again"
                    ))
                    .into());
                }
                Some(_) => {}
            }
        }
        ChangeOp::ExpectActiveAdmins(organization, count) => {
            let now: i64 = tx
                .query_one(
                    "SELECT count(*) FROM memberships
                     WHERE organization_id = $1 AND is_admin AND status = 'active'",
                    &[organization],
                )
                .await?
                .get(0);
            if now != i64::from(*count) {
                return Err(DirectoryError::Conflict(format!(
                    "the administrators of `{organization}` changed since the decision: read it again"
                ))
                .into());
            }
        }
    }
    Ok(())
}

pub(super) async fn enqueue(
    client: &impl GenericClient,
    n: &Notification,
    now: u64,
) -> Result<(), tokio_postgres::Error> {
    let params_json = serde_json::to_string(&n.params).unwrap_or_else(|_| "[]".into());
    client
        .execute(
            "INSERT INTO outbox (kind, recipient, params, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $4)",
            &[&n.kind.name(), &n.recipient, &params_json, &(now as i64)],
        )
        .await?;
    Ok(())
}
