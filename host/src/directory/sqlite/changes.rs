//! Applying a change's ops inside its `BEGIN IMMEDIATE` transaction: each
//! checks what the decision read (versions, guards, uniqueness) before it
//! writes.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::errors::unavailable;
use crate::directory::error::DirectoryError;
use crate::directory::schema::{CHANGES_KEPT, LinkTable};
use crate::model::AccountStatus;
use crate::model::ChangeOp;
use crate::model::Notification;
use crate::touched::{ChangeFeed, Touched};

/// The stored version `select` (one row's `version`) reads with `keys`;
/// `None` when there is no such row.
fn version_of(
    tx: &Transaction<'_>,
    select: &str,
    keys: impl rusqlite::Params,
) -> Result<Option<u64>, DirectoryError> {
    let version: Option<i64> = tx
        .query_row(select, keys, |r| r.get(0))
        .optional()
        .map_err(unavailable)?;
    Ok(version.map(|v| v as u64))
}

/// The stored version of the membership of `person` in `organization`.
fn membership_version(
    tx: &Transaction<'_>,
    person: &str,
    organization: &str,
) -> Result<Option<u64>, DirectoryError> {
    version_of(
        tx,
        "SELECT version FROM memberships WHERE person_id = ?1 AND organization_id = ?2",
        params![person, organization],
    )
}

/// Links (issuer, subject) to `owner` in `links`: `duplicate` when the pair
/// is linked already (links are never re-pointed), `not-found` when there is
/// no such owner.
fn put_link(
    tx: &Transaction<'_>,
    links: LinkTable,
    issuer: &str,
    subject: &str,
    owner: &str,
) -> Result<(), DirectoryError> {
    let (table, column, what) = links.names();
    let linked: Option<String> = tx
        .query_row(
            &format!("SELECT {column} FROM {table} WHERE issuer = ?1 AND subject = ?2"),
            params![issuer, subject],
            |r| r.get(0),
        )
        .optional()
        .map_err(unavailable)?;
    if linked.is_some() {
        return Err(DirectoryError::Duplicate(format!(
            "identity `{subject}` at `{issuer}` is linked already"
        )));
    }
    tx.execute(
        &format!("INSERT INTO {table} (issuer, subject, {column}) VALUES (?1, ?2, ?3)"),
        params![issuer, subject, owner],
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            DirectoryError::NotFound(format!("{what} `{owner}`"))
        }
        other => unavailable(other),
    })?;
    Ok(())
}

pub(super) fn apply_op(
    tx: &Transaction<'_>,
    op: &ChangeOp,
    now: u64,
) -> Result<(), DirectoryError> {
    match op {
        ChangeOp::PutPerson(p) => {
            let taken: Option<String> = tx
                .query_row(
                    "SELECT id FROM people WHERE email = ?1 AND id <> ?2",
                    params![p.email, p.id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            if let Some(other) = taken {
                return Err(DirectoryError::Duplicate(format!(
                    "email `{}` belongs to person `{other}`",
                    p.email
                )));
            }
            tx.execute(
                "INSERT INTO people (id, email, name) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name",
                params![p.id, p.email, p.name],
            )
            .map_err(unavailable)?;
        }
        ChangeOp::PutOrganization(o) => {
            tx.execute(
                "INSERT INTO organizations (id, name, status) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status",
                params![o.id, o.name, o.status.name()],
            )
            .map_err(unavailable)?;
        }
        ChangeOp::PutMembership(m, expected) => {
            let exists = |table: &str, id: &str| -> Result<bool, DirectoryError> {
                tx.query_row(
                    &format!("SELECT 1 FROM {table} WHERE id = ?1"),
                    params![id],
                    |_| Ok(()),
                )
                .optional()
                .map(|r| r.is_some())
                .map_err(unavailable)
            };
            if !exists("people", &m.person_id)? {
                return Err(DirectoryError::NotFound(format!(
                    "person `{}`",
                    m.person_id
                )));
            }
            if !exists("organizations", &m.organization_id)? {
                return Err(DirectoryError::NotFound(format!(
                    "organization `{}`",
                    m.organization_id
                )));
            }
            let current = membership_version(tx, &m.person_id, &m.organization_id)?;
            DirectoryError::check_membership_version(&m.person_id, current, *expected)?;
            let version = current.map_or(1, |v| v + 1) as i64;
            let roles = serde_json::to_string(&m.roles).unwrap_or_else(|_| "[]".into());
            let values = params![
                m.person_id,
                m.organization_id,
                m.status.name(),
                m.previous_status.map(AccountStatus::name),
                m.is_admin,
                roles,
                m.spending_limit.map(|v| v.min(i64::MAX as u64) as i64),
                m.invited_at.map(|v| v as i64),
                version,
            ];
            if current.is_none() {
                tx.execute(
                    "INSERT INTO memberships (person_id, organization_id, status, previous_status, is_admin, roles,
                         spending_limit, invited_at, version, added_seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, (SELECT coalesce(max(added_seq), 0) + 1 FROM memberships))",
                    values,
                )
            } else {
                // A person added to an organization again counts as newly added.
                tx.execute(
                    "UPDATE memberships SET status = ?3, previous_status = ?4, is_admin = ?5,
                         roles = ?6, spending_limit = ?7, invited_at = ?8, version = ?9,
                         added_seq = CASE WHEN status = 'removed' AND ?3 <> 'removed'
                             THEN (SELECT coalesce(max(added_seq), 0) + 1 FROM memberships) ELSE added_seq END
                     WHERE person_id = ?1 AND organization_id = ?2",
                    values,
                )
            }
            .map_err(unavailable)?;
        }
        ChangeOp::PutLink(issuer, subject, person) => {
            put_link(tx, LinkTable::Customer, issuer, subject, person)?;
        }
        ChangeOp::PutStaffLink(issuer, subject, staff) => {
            put_link(tx, LinkTable::Staff, issuer, subject, staff)?;
        }
        ChangeOp::ActivateStaff(id) => {
            let status: Option<String> = tx
                .query_row("SELECT status FROM staff WHERE id = ?1", params![id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(unavailable)?;
            match status.as_deref() {
                None => return Err(DirectoryError::NotFound(format!("staff `{id}`"))),
                Some("invited") => {}
                Some(_) => {
                    return Err(DirectoryError::Conflict(format!(
                        "staff `{id}` is no longer invited: sign in again"
                    )));
                }
            }
            tx.execute(
                "UPDATE staff SET status = 'active' WHERE id = ?1",
                params![id],
            )
            .map_err(unavailable)?;
        }
        ChangeOp::PutOnboarding(r, expected) => {
            let current = version_of(
                tx,
                "SELECT version FROM onboarding_requests WHERE id = ?1",
                params![r.id],
            )?;
            if current != *expected {
                return Err(DirectoryError::Conflict(format!(
                    "onboarding request `{}` changed since it was read",
                    r.id
                )));
            }
            tx.execute(
                "INSERT INTO onboarding_requests (id, organization_name, requester_name, requester_email, status,
                     organization_id, submitted_at, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, organization_id = excluded.organization_id,
                     version = excluded.version",
                params![
                    r.id,
                    r.organization_name,
                    r.requester_name,
                    r.requester_email,
                    r.status.name(),
                    r.organization_id,
                    r.submitted_at as i64,
                    current.map_or(1, |v| v as i64 + 1),
                ],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                    DirectoryError::Duplicate(format!("a request for `{}` is already pending", r.requester_email))
                }
                other => unavailable(other),
            })?;
        }
        ChangeOp::Queue(n) => enqueue(tx, n, now)?,
        ChangeOp::ExpectMembership(person, organization, version) => {
            if membership_version(tx, person, organization)? != Some(*version) {
                return Err(DirectoryError::Conflict(format!(
                    "the membership of `{person}` in `{organization}` changed since the decision: read it again"
                )));
            }
        }
        ChangeOp::AssignStaff(staff, organization) => {
            let exists = tx
                .query_row(
                    "SELECT 1 FROM organizations WHERE id = ?1",
                    params![organization],
                    |_| Ok(()),
                )
                .optional()
                .map_err(unavailable)?
                .is_some();
            if !exists {
                return Err(DirectoryError::NotFound(format!(
                    "organization `{organization}`"
                )));
            }
            let status: Option<String> = tx
                .query_row(
                    "SELECT status FROM staff WHERE id = ?1",
                    params![staff],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            match status.as_deref() {
                None => return Err(DirectoryError::NotFound(format!("staff `{staff}`"))),
                Some("removed") => {
                    return Err(DirectoryError::Conflict(format!(
                        "staff `{staff}` was removed"
                    )));
                }
                Some(_) => {}
            }
            tx.execute(
                "INSERT INTO staff_organizations (staff_id, organization_id) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                params![staff, organization],
            )
            .map_err(unavailable)?;
        }
        ChangeOp::UnassignStaff(staff, organization) => {
            let deleted = tx
                .execute(
                    "DELETE FROM staff_organizations WHERE staff_id = ?1 AND organization_id = ?2",
                    params![staff, organization],
                )
                .map_err(unavailable)?;
            if deleted == 0 {
                return Err(DirectoryError::NotFound(format!(
                    "staff `{staff}` assigned to `{organization}`"
                )));
            }
            let left: i64 = tx
                .query_row(
                    "SELECT count(*) FROM staff_organizations WHERE organization_id = ?1",
                    params![organization],
                    |r| r.get(0),
                )
                .map_err(unavailable)?;
            if left == 0 {
                return Err(DirectoryError::Conflict(format!(
                    "`{staff}` is the last staff member assigned to `{organization}`"
                )));
            }
        }
        ChangeOp::ExpectOrganizationStatus(organization, status) => {
            let now: Option<String> = tx
                .query_row(
                    "SELECT status FROM organizations WHERE id = ?1",
                    params![organization],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            match now {
                None => {
                    return Err(DirectoryError::NotFound(format!(
                        "organization `{organization}`"
                    )));
                }
                Some(now) if now != status.name() => {
                    return Err(DirectoryError::Conflict(format!(
                        "the status of `{organization}` changed since it was read: read it again"
                    )));
                }
                Some(_) => {}
            }
        }
        ChangeOp::ExpectActiveAdmins(organization, count) => {
            let now: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM memberships
                     WHERE organization_id = ?1 AND is_admin AND status = 'active'",
                    params![organization],
                    |r| r.get(0),
                )
                .map_err(unavailable)?;
            if now != i64::from(*count) {
                return Err(DirectoryError::Conflict(format!(
                    "the administrators of `{organization}` changed since the decision: read it again"
                )));
            }
        }
    }
    Ok(())
}

/// Writes `touched` into the change log under the next position, and prunes
/// what is [`CHANGES_KEPT`] positions behind it.
pub(super) fn log_changes(tx: &Transaction<'_>, touched: &[Touched]) -> Result<(), DirectoryError> {
    if touched.is_empty() {
        return Ok(());
    }
    let seq: i64 = tx
        .query_row(
            "UPDATE change_head SET seq = seq + 1 WHERE one = 1 RETURNING seq",
            [],
            |r| r.get(0),
        )
        .map_err(unavailable)?;
    for t in touched {
        tx.execute(
            "INSERT INTO changes (seq, kind, id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![seq, t.letter(), t.id()],
        )
        .map_err(unavailable)?;
    }
    tx.execute(
        "DELETE FROM changes WHERE seq <= ?1",
        params![seq - CHANGES_KEPT as i64],
    )
    .map_err(unavailable)?;
    Ok(())
}

/// The change log after `after`, read in one snapshot.
pub(super) fn changes_since(
    conn: &Connection,
    after: u64,
    limit: u32,
) -> Result<ChangeFeed, DirectoryError> {
    let tx = conn.unchecked_transaction().map_err(unavailable)?;
    let head: i64 = tx
        .query_row("SELECT seq FROM change_head WHERE one = 1", [], |r| {
            r.get(0)
        })
        .map_err(unavailable)?;
    let mut select = tx
        .prepare_cached("SELECT seq, kind, id FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2")
        .map_err(unavailable)?;
    let rows = select
        .query_map(params![after as i64, limit], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
        })
        .map_err(unavailable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unavailable)?;
    Ok(ChangeFeed::from_rows(after, head as u64, limit, rows))
}

pub(super) fn enqueue(tx: &Connection, n: &Notification, now: u64) -> Result<(), DirectoryError> {
    let params_json = serde_json::to_string(&n.params).unwrap_or_else(|_| "[]".into());
    tx.execute(
        "INSERT INTO outbox (kind, recipient, params, created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![n.kind.name(), n.recipient, params_json, now as i64],
    )
    .map_err(unavailable)?;
    Ok(())
}
