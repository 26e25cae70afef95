//! What both directory backends share about listing members and reading the
//! audit trail: cursors (opaque to clients, tied to their sort), the search
//! pattern and the page size bounds, so that a cursor means the same on
//! every backend.

use serde::{Deserialize, Serialize};

use super::DirectoryError;
use crate::model::MemberQuery;
use crate::model::{Account, AuditPage, AuditRecord, Member, MemberPage, MemberSort, Person};

/// Most rows one page holds.
pub const PAGE_MAX: u32 = 500;

/// A listing cursor: the sort key and row id (person and organization,
/// [`MEMBER_ID`](super::schema::MEMBER_ID)) of the last row returned,
/// with the sort it belongs to.
#[derive(Serialize, Deserialize)]
pub struct Cursor {
    s: String,
    d: bool,
    /// The sort key of the last row.
    pub k: String,
    /// The row id of the last row.
    pub id: String,
}

/// The name a sort is known by in cursors.
fn sort_name(sort: MemberSort) -> &'static str {
    match sort {
        MemberSort::Name => "name",
        MemberSort::Email => "email",
        MemberSort::Company => "company",
        MemberSort::Added => "added",
    }
}

fn malformed() -> DirectoryError {
    DirectoryError::Invalid("the cursor is malformed: start again without one".into())
}

/// How a backend reads a page of members: where to start, which way.
pub struct Plan {
    /// Start after this row.
    pub cursor: Option<Cursor>,
    /// The comparison that starts after the cursor (`>` or `<`).
    pub after: &'static str,
    /// `ASC` or `DESC`.
    pub order: &'static str,
}

/// The plan of `query`, or `None` when it names no organization (an empty
/// page).
pub fn plan(query: &MemberQuery) -> Result<Option<Plan>, DirectoryError> {
    if query.organizations.is_empty() {
        return Ok(None);
    }
    let (after, order) = if query.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    Ok(Some(Plan {
        cursor: cursor(query)?,
        after,
        order,
    }))
}

/// A page without members.
pub fn empty() -> MemberPage {
    MemberPage {
        members: Vec::new(),
        next_cursor: None,
    }
}

/// The query's cursor, checked against its sort: `Invalid` when it is not
/// one a directory issued, `Conflict` when it belongs to another order.
fn cursor(query: &MemberQuery) -> Result<Option<Cursor>, DirectoryError> {
    let Some(text) = &query.cursor else {
        return Ok(None);
    };
    let cursor: Cursor = hex::decode(text)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(malformed)?;
    if cursor.s != sort_name(query.sort) || cursor.d != query.descending {
        return Err(DirectoryError::Conflict(
            "the cursor belongs to another sort order: start again without one".into(),
        ));
    }
    Ok(Some(cursor))
}

/// Rows to fetch for a page of `query`: one more than it shows, to know
/// whether another page follows.
pub fn fetch(query: &MemberQuery) -> usize {
    query.limit.clamp(1, PAGE_MAX) as usize + 1
}

/// The account of a person read as one row per membership (one row without
/// a membership when they have none); `None` without rows.
pub fn account_of(rows: Vec<(Person, Option<Member>)>) -> Option<Account> {
    let mut rows = rows.into_iter();
    let (person, first) = rows.next()?;
    let members = first
        .into_iter()
        .chain(rows.filter_map(|(_, m)| m))
        .collect();
    Some(Account::of_person(person, members))
}

/// The page of `rows` (each with its sort key) fetched for `query`.
pub fn page(mut rows: Vec<(Account, String)>, query: &MemberQuery) -> MemberPage {
    let limit = fetch(query) - 1;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        let (last, key) = rows.last().expect("limit >= 1");
        let cursor = Cursor {
            s: sort_name(query.sort).into(),
            d: query.descending,
            k: key.clone(),
            id: format!(
                "{} {}",
                last.person.id,
                last.membership
                    .as_ref()
                    .map_or("", |m| m.organization_id.as_str())
            ),
        };
        Some(hex::encode(
            serde_json::to_vec(&cursor).expect("cursor serializes"),
        ))
    } else {
        None
    };
    MemberPage {
        members: rows.into_iter().map(|(a, _)| a).collect(),
        next_cursor,
    }
}

/// A `LIKE` pattern (escape `\`) matching `text` anywhere, case folded as
/// the backends fold the columns, with `%`, `_` and `\` taken literally.
pub fn like_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Which page of the audit trail to read: one organization's entries or
/// everyone's, newest first, below a cursor from the page before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this organization's entries; all entries when `None`.
    pub organization_id: Option<String>,
    /// The `next_cursor` of the page before; the newest entries when `None`.
    pub cursor: Option<String>,
    /// The page size, held within 1 and [`PAGE_MAX`].
    pub limit: u32,
}

impl AuditQuery {
    /// A query from borrowed parts, as the API and the plugin hand them over.
    pub fn new(organization_id: Option<&str>, cursor: Option<&str>, limit: u32) -> Self {
        Self {
            organization_id: organization_id.map(String::from),
            cursor: cursor.map(String::from),
            limit,
        }
    }

    /// The audit id below which the page starts and how many rows to fetch
    /// (one more than the page, to tell whether more follow). A cursor that
    /// is not one of ours is a malformed request.
    pub fn window(&self) -> Result<(i64, i64), DirectoryError> {
        let before = match &self.cursor {
            None => i64::MAX,
            Some(c) => c.parse::<i64>().map_err(|_| malformed())?,
        };
        Ok((before, i64::from(self.limit.clamp(1, PAGE_MAX)) + 1))
    }

    /// The page of the rows fetched with [`AuditQuery::window`]: the extra
    /// row, when there is one, becomes the next cursor.
    pub fn page(&self, mut entries: Vec<AuditRecord>) -> AuditPage {
        let limit = self.limit.clamp(1, PAGE_MAX) as usize;
        let next_cursor = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|e| e.id.to_string())
        } else {
            None
        };
        AuditPage {
            entries,
            next_cursor,
        }
    }
}
