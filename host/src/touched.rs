//! The records a committed change touched, named once for the two places
//! that need them: the directory writes them into its change log in the
//! change's transaction, and the status caches drop them. A leaf: it
//! imports only the generated types.

use crate::model::ChangeOp;

/// A cached record a change may have made stale.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Touched {
    /// A person's account (their membership, their person record).
    Person(String),
    /// An organization, and with it every member's account (an account
    /// embeds its organization's status and administrator count).
    Organization(String),
    /// A merchant staff member.
    Staff(String),
}

impl Touched {
    /// Its letter in the change log and in invalidation messages.
    pub fn letter(&self) -> &'static str {
        match self {
            Touched::Person(_) => "p",
            Touched::Organization(_) => "o",
            Touched::Staff(_) => "s",
        }
    }

    /// The record's id.
    pub fn id(&self) -> &str {
        match self {
            Touched::Person(id) | Touched::Organization(id) | Touched::Staff(id) => id,
        }
    }

    /// The record a letter and an id name; `None` for a letter this
    /// release does not know (the caller fails closed: it drops everything).
    pub fn parse(letter: &str, id: &str) -> Option<Self> {
        let id = id.to_string();
        match letter {
            "p" => Some(Touched::Person(id)),
            "o" => Some(Touched::Organization(id)),
            "s" => Some(Touched::Staff(id)),
            _ => None,
        }
    }

    /// Every record `ops` touch, each once, in order.
    pub fn of(ops: &[ChangeOp]) -> Vec<Touched> {
        let mut touched = Vec::new();
        let mut add = |t: Touched| {
            if !touched.contains(&t) {
                touched.push(t);
            }
        };
        for op in ops {
            match op {
                ChangeOp::PutPerson(p) => add(Touched::Person(p.id.clone())),
                ChangeOp::PutOrganization(o) => add(Touched::Organization(o.id.clone())),
                ChangeOp::PutMembership(m, _) => {
                    add(Touched::Person(m.person_id.clone()));
                    add(Touched::Organization(m.organization_id.clone()));
                }
                ChangeOp::ActivateStaff(id)
                | ChangeOp::AssignStaff(id, _)
                | ChangeOp::UnassignStaff(id, _) => add(Touched::Staff(id.clone())),
                ChangeOp::PutLink(..)
                | ChangeOp::PutStaffLink(..)
                | ChangeOp::PutOnboarding(..)
                | ChangeOp::Queue(_)
                | ChangeOp::ExpectMembership(..)
                | ChangeOp::ExpectActiveAdmins(..)
                | ChangeOp::ExpectOrganizationStatus(..) => {}
            }
        }
        touched
    }
}

/// Entries of the change log a node has not seen yet, from
/// [`crate::directory::Directory::changes_since`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeFeed {
    /// The position of the last committed change when this was read.
    pub head: u64,
    /// The records touched after the position asked for, with the position
    /// of their change, oldest first.
    pub entries: Vec<(u64, Touched)>,
    /// Whether `entries` cover every change up to `head`: `false` when the
    /// log was pruned past the position asked for, or the page was full;
    /// the reader then drops every cached record.
    pub complete: bool,
}

impl ChangeFeed {
    /// A feed read as `rows` (position, letter, id) with `head`, after
    /// `after`, at most `limit` rows: complete when its positions run on
    /// from `after` and the page was not full.
    pub fn from_rows(after: u64, head: u64, limit: u32, rows: Vec<(u64, String, String)>) -> Self {
        let full = rows.len() >= limit as usize;
        let mut complete = !full && head >= after;
        let mut expected = after;
        let mut entries = Vec::with_capacity(rows.len());
        for (seq, letter, id) in rows {
            if seq != expected && Some(seq) != expected.checked_add(1) {
                complete = false;
            }
            expected = seq;
            match Touched::parse(&letter, &id) {
                Some(t) => entries.push((seq, t)),
                None => complete = false,
            }
        }
        if expected != head && !full {
            complete = false;
        }
        Self {
            head,
            entries,
            complete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64, letter: &str, id: &str) -> (u64, String, String) {
        (seq, letter.into(), id.into())
    }

    #[test]
    fn a_feed_is_complete_only_when_its_positions_run_on_to_the_head() {
        let feed = ChangeFeed::from_rows(
            3,
            5,
            100,
            vec![row(4, "p", "bob"), row(4, "o", "acme"), row(5, "s", "sam")],
        );
        assert!(feed.complete);
        assert_eq!(feed.entries.len(), 3);
        assert!(ChangeFeed::from_rows(3, 3, 100, vec![]).complete);
        // Pruned past the position asked for.
        assert!(!ChangeFeed::from_rows(3, 6, 100, vec![row(6, "p", "bob")]).complete);
        assert!(!ChangeFeed::from_rows(3, 6, 100, vec![]).complete);
        // A full page, and a letter this release does not know.
        assert!(!ChangeFeed::from_rows(3, 5, 2, vec![row(4, "p", "a"), row(5, "p", "b")]).complete);
        assert!(!ChangeFeed::from_rows(3, 4, 100, vec![row(4, "x", "a")]).complete);
        // A head behind the reader (a database restored from a backup).
        assert!(!ChangeFeed::from_rows(9, 4, 100, vec![]).complete);
    }
}
