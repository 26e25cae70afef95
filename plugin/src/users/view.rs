//! What an actor may see of users and do to them: the answer a page shows
//! (which buttons, which editable fields), decided by the same lifecycle
//! functions and policies the steps themselves are.

use super::listing::denied_or_unavailable;
use super::{
    BULK_MAX, Directory, SEE_USER, UserError, UserSteps, UserView, email_change, reinstated,
    reinvited, removed, revoked,
};
use crate::access::{self, AccessError, Records};
use crate::model::{Account, AccountStatus, Effect, Membership};
use crate::rules::Rules;

/// The steps of a view (see, edit, the administrator flag, revoke,
/// reinstate, remove, re-invite), in the order they are asked.
const STEPS: usize = 7;

/// One user's record and the actions the lifecycle lets the policies be
/// asked about.
struct Asked {
    account: Account,
    membership: Membership,
    /// Each step's action, when the user's status allows the step.
    actions: [Option<&'static str>; STEPS],
}

impl<D: Directory> Rules<'_, D> {
    /// What `actor` may see of each of `person_ids` (1 to [`BULK_MAX`]) and
    /// do to them, in order: `None` for a person who does not exist, has no
    /// membership, or whom the policies do not let the actor view; the three
    /// are not told apart. Records are read as decisions read them (the
    /// host's cache, never older than the last committed change), each once,
    /// and every step decided on one set of entities
    /// ([`access::decide_grid`]); only the steps a user's status allows are
    /// asked.
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
        let acting = self.acting(&records, actor, None)?;
        let organization = acting.organization.as_deref();
        let now = self.dir.now();
        let mut asked = Vec::with_capacity(person_ids.len());
        for id in person_ids {
            asked.push(match records.account(id)? {
                Some(account) => {
                    account
                        .acting_for(organization)
                        .membership
                        .clone()
                        .map(|membership| {
                            // Seen from the organization acted in: nothing of the
                            // person's other memberships.
                            let account = account.seen_from(&membership.organization_id);
                            let actions = lifecycle(&membership, now);
                            Asked {
                                account,
                                membership,
                                actions,
                            }
                        })
                }
                None => None,
            });
        }
        let resources: Vec<String> = person_ids
            .iter()
            .map(|id| format!("customer:{id}"))
            .collect();
        let actions: Vec<Vec<&str>> = asked
            .iter()
            .map(|a| {
                a.as_ref()
                    .map_or_else(Vec::new, |a| a.actions.iter().flatten().copied().collect())
            })
            .collect();
        let rows: Vec<(&str, &[&str])> = resources
            .iter()
            .zip(&actions)
            .map(|(resource, actions)| (resource.as_str(), actions.as_slice()))
            .collect();
        let (principal, _) = access::split_actor(&acting.actor);
        let grid = access::decide_grid(
            self.loaded,
            self.names,
            &records,
            principal,
            organization,
            &rows,
        )
        .map_err(denied_or_unavailable)?;
        let mut views = Vec::with_capacity(asked.len());
        for (asked, decided) in asked.into_iter().zip(grid) {
            let Some(asked) = asked else {
                views.push(None);
                continue;
            };
            let mut decided = decided.into_iter();
            let mut allowed = [false; STEPS];
            for (slot, action) in allowed.iter_mut().zip(&asked.actions) {
                if action.is_none() {
                    continue;
                }
                *slot = match decided.next().expect("one decision per action asked") {
                    Ok(d) => d.effect == Effect::Allow,
                    // The schema does not let this principal take this
                    // action at all: a denial.
                    Err(AccessError::InvalidRequest(_)) => false,
                    Err(AccessError::Unavailable(u)) => return Err(u.into()),
                };
            }
            views.push(self.view(asked, allowed)?);
        }
        Ok(views)
    }

    /// The view of one user, given which of its steps the policies allow.
    fn view(&self, asked: Asked, allowed: [bool; STEPS]) -> Result<Option<UserView>, UserError> {
        let [see, edit, admin, revoke, reinstate, remove, reinvite] = allowed;
        if !see {
            return Ok(None);
        }
        let m = &asked.membership;
        let edit_email = edit
            && match email_change(m, || self.elsewhere_or_linked(&asked.account)) {
                Ok(()) => true,
                Err(UserError::Invalid(_)) => false,
                Err(other) => return Err(other),
            };
        let steps = UserSteps {
            edit,
            edit_email,
            change_admin: edit && admin,
            revoke,
            reinstate,
            remove,
            reinvite,
        };
        Ok(Some(UserView {
            member: asked.account,
            steps,
        }))
    }
}

/// Which steps the user's status allows, from the same functions the steps
/// are decided by: the action of each, or `None`. Seeing the user is always
/// asked.
fn lifecycle(m: &Membership, now: u64) -> [Option<&'static str>; STEPS] {
    let editable = m.status != AccountStatus::Removed;
    let admin_action = if m.is_admin {
        "demoteAdmin"
    } else {
        "designateAdmin"
    };
    let when = |applies: bool, action: &'static str| applies.then_some(action);
    [
        Some(SEE_USER),
        when(editable, "editUser"),
        when(editable, admin_action),
        when(revoked(m).is_ok(), "revokeUser"),
        when(reinstated(m).is_ok(), "reinstateUser"),
        when(removed(m).is_ok(), "removeUser"),
        // A re-invitation that must wait is still offered: the step says
        // how long.
        when(
            !matches!(reinvited(m, now), Err(UserError::Invalid(_))),
            "reinviteUser",
        ),
    ]
}
