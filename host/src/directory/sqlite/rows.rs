//! Reading rows: the columns of accounts and onboarding requests, and the
//! sort keys of listings.

use rusqlite::Row;

use crate::model::{Member, MemberSort, Membership, OnboardingRequest, Organization, Person};

/// Reads a stored name. The directory fails closed on a name it does not
/// know: the row is corrupt, the read fails, and the decision that needed it
/// denies. Nothing is guessed.
pub(super) fn stored<T: std::str::FromStr<Err = crate::model::UnknownName>>(
    s: &str,
) -> rusqlite::Result<T> {
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// One row of [`ACCOUNT_COLUMNS`](crate::directory::schema::ACCOUNT_COLUMNS):
/// the person and, if the row has one, a membership with its organization.
pub(super) fn member_row(row: &Row<'_>) -> rusqlite::Result<(Person, Option<Member>)> {
    let person = Person {
        id: row.get(0)?,
        email: row.get(1)?,
        name: row.get(2)?,
    };
    let org_id: Option<String> = row.get(3)?;
    let Some(org_id) = org_id else {
        return Ok((person, None));
    };
    let roles: String = row.get(7)?;
    let previous: Option<String> = row.get(5)?;
    let membership = Membership {
        organization_id: org_id.clone(),
        person_id: person.id.clone(),
        status: stored(&row.get::<_, String>(4)?)?,
        previous_status: previous.as_deref().map(stored).transpose()?,
        is_admin: row.get(6)?,
        roles: serde_json::from_str(&roles).unwrap_or_default(),
        spending_limit: row.get::<_, Option<i64>>(8)?.map(|v| v as u64),
        invited_at: row.get::<_, Option<i64>>(9)?.map(|v| v as u64),
        version: row.get::<_, i64>(10)? as u64,
    };
    let organization = Organization {
        id: org_id,
        name: row.get(11)?,
        status: stored(&row.get::<_, String>(12)?)?,
        active_admins: row.get::<_, i64>(13)? as u32,
    };
    Ok((
        person,
        Some(Member {
            membership,
            organization,
        }),
    ))
}

pub(super) fn onboarding_row(row: &Row<'_>) -> rusqlite::Result<OnboardingRequest> {
    Ok(OnboardingRequest {
        id: row.get(0)?,
        organization_name: row.get(1)?,
        requester_name: row.get(2)?,
        requester_email: row.get(3)?,
        status: stored(&row.get::<_, String>(4)?)?,
        organization_id: row.get(5)?,
        submitted_at: row.get::<_, i64>(6)? as u64,
        version: row.get::<_, i64>(7)? as u64,
    })
}

pub(super) fn sort_key(sort: MemberSort) -> &'static str {
    match sort {
        MemberSort::Name => "fold(p.name)",
        MemberSort::Email => "p.email",
        MemberSort::Company => "fold(o.name) || char(31) || fold(p.name)",
        MemberSort::Added => "printf('%020d', m.added_seq)",
    }
}
