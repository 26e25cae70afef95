//! What an actor may see of users and do to them: the answer a page shows
//! (which buttons, which editable fields), decided by the same lifecycle
//! functions and policies the steps themselves are.

use super::{
    BULK_MAX, Directory, SEE_USER, UserError, UserSteps, UserView, email_change, reinstated,
    reinvited, removed, revoked,
};
use crate::access::{self, AccessError, Records};
use crate::model::{AccountStatus, Decision, Effect};
use crate::rules::Rules;

impl<D: Directory> Rules<'_, D> {
    /// What `actor` may see of each of `person_ids` (1 to [`BULK_MAX`]) and
    /// do to them, in order: `None` for a person who does not exist, has no
    /// membership, or whom the policies do not let the actor view; the three
    /// are not told apart. Records are read as decisions read them (the
    /// host's cache, never older than the last committed change), each once,
    /// and each user's steps decided together on entities built once.
    pub fn view_users(
        &self,
        actor: &str,
        person_ids: &[String],
    ) -> Result<Vec<Option<UserView>>, UserError> {
        if person_ids.is_empty() || person_ids.len() > BULK_MAX {
            return Err(UserError::Invalid(format!(
                "name 1 to {BULK_MAX} users, not {}",
                person_ids.len()
            )));
        }
        let records = access::ReadOnce::new(self.dir);
        let now = self.dir.now();
        person_ids
            .iter()
            .map(|id| self.view_user(&records, actor, id, now))
            .collect()
    }

    fn view_user(
        &self,
        records: &impl Records,
        actor: &str,
        person_id: &str,
        now: u64,
    ) -> Result<Option<UserView>, UserError> {
        let Some(account) = records.account(person_id)? else {
            return Ok(None);
        };
        let Some(m) = account.membership.clone() else {
            return Ok(None);
        };
        let admin_action = if m.is_admin {
            "demoteAdmin"
        } else {
            "designateAdmin"
        };
        // What the lifecycle allows, from the same functions the steps are
        // decided by: only these are asked of the policies.
        let applies = |step: Result<(), UserError>| match step {
            Ok(()) => Ok(true),
            Err(UserError::Invalid(_)) => Ok(false),
            Err(other) => Err(other),
        };
        let editable = m.status != AccountStatus::Removed;
        let lifecycle = [
            (SEE_USER, true),
            ("editUser", editable),
            (admin_action, editable),
            ("revokeUser", revoked(&m).is_ok()),
            ("reinstateUser", reinstated(&m).is_ok()),
            ("removeUser", removed(&m).is_ok()),
            // A re-invitation that must wait is still offered: the step
            // says how long.
            (
                "reinviteUser",
                !matches!(reinvited(&m, now), Err(UserError::Invalid(_))),
            ),
        ];
        let asked: Vec<&str> = lifecycle
            .iter()
            .filter(|(_, applies)| *applies)
            .map(|(action, _)| *action)
            .collect();
        let resource = format!("customer:{person_id}");
        let decided =
            access::decide_actions(self.loaded, self.names, records, actor, &resource, &asked)
                .map_err(denied_or_unavailable)?;
        let mut decided = decided.into_iter();
        let mut allowed = [false; 7];
        for (slot, (_, applies)) in allowed.iter_mut().zip(&lifecycle) {
            if !applies {
                continue;
            }
            *slot = match decided.next().expect("one decision per action asked") {
                Ok(d) => d.effect == Effect::Allow,
                // The schema does not let this principal take this action
                // at all: a denial.
                Err(AccessError::InvalidRequest(_)) => false,
                Err(AccessError::Unavailable(u)) => return Err(u.into()),
            };
        }
        let [see, edit, admin, revoke, reinstate, remove, reinvite] = allowed;
        if !see {
            return Ok(None);
        }
        let steps = UserSteps {
            edit,
            edit_email: edit && applies(email_change(&m, || self.dir.has_links(person_id)))?,
            change_admin: edit && admin,
            revoke,
            reinstate,
            remove,
            reinvite,
        };
        Ok(Some(UserView {
            member: account,
            steps,
        }))
    }
}

/// An access error as the lifecycle's: records that cannot be read.
fn denied_or_unavailable(err: AccessError) -> UserError {
    match err {
        AccessError::InvalidRequest(m) => UserError::Denied(Decision::deny_because(m)),
        AccessError::Unavailable(u) => u.into(),
    }
}
