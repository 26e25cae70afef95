//! Sign-in linking: which customer record an identity from an OpenID
//! provider is, decided safely. Links are made on the verified identity, never
//! on a bare email match, and every link and refusal is audited.

use crate::access::{self, AccessError};
use crate::model::{
    Account, AccountStatus, AuditEntry, ChangeOp, Effect, Membership, OrganizationStatus,
};
use crate::rules::Rules;
use crate::users::{DirError, Directory, normalize_email};

/// An identity whose ID token the host validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    /// `iss`.
    pub issuer: String,
    /// `sub` (or B2C's `oid`).
    pub subject: String,
    /// Every asserted email.
    pub emails: Vec<String>,
    /// Whether the provider vouches for the emails.
    pub email_verified: bool,
    /// Whether the operator trusts the provider for automatic linking.
    pub trusted_provider: bool,
}

pub use crate::model::SignedIn;

/// Why a sign-in was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SignInError {
    /// Refused; the text says why and what to do.
    #[error("refused: {0}")]
    Refused(String),
    /// The directory failed.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl From<DirError> for SignInError {
    fn from(err: DirError) -> Self {
        match err {
            DirError::Unavailable(m) => Self::Unavailable(m),
            DirError::Conflict(m)
            | DirError::Duplicate(m)
            | DirError::NotFound(m)
            | DirError::Invalid(m) => Self::Refused(format!(
                "the record changed during sign-in ({m}): sign in again"
            )),
        }
    }
}

impl From<access::Unavailable> for SignInError {
    fn from(err: access::Unavailable) -> Self {
        Self::Unavailable(err.0)
    }
}

/// Why an account may not sign in, if it may not.
fn sign_in_refusal(account: &Account, linking: bool) -> Option<String> {
    let Some(m) = &account.membership else {
        return Some(
            "the customer record belongs to no organization: ask the merchant for an invitation"
                .into(),
        );
    };
    match m.status {
        AccountStatus::Active => {}
        AccountStatus::Invited if linking => {}
        AccountStatus::Invited => return Some("the invitation has not been accepted".into()),
        AccountStatus::Revoked => {
            return Some(
                "access was revoked by the organization's administrator: ask them to reinstate it"
                    .into(),
            );
        }
        AccountStatus::Removed => return Some("the user was removed from the organization".into()),
    }
    match account.organization.as_ref().map(|o| o.status) {
        Some(OrganizationStatus::Approved) => None,
        Some(OrganizationStatus::Pending) => {
            Some("the organization's onboarding is not approved yet".into())
        }
        Some(OrganizationStatus::Rejected) => {
            Some("the organization's onboarding was rejected".into())
        }
        Some(OrganizationStatus::Blocked) => {
            Some("the organization is blocked by the merchant".into())
        }
        None => Some("the organization no longer exists".into()),
    }
}

/// The organization of an account's membership, if any.
fn organization_of(account: &Account) -> Option<String> {
    account
        .membership
        .as_ref()
        .map(|m| m.organization_id.clone())
}

fn signed_in(membership: &Membership, linked: bool) -> SignedIn {
    SignedIn {
        person_id: membership.person_id.clone(),
        organization_id: membership.organization_id.clone(),
        status: membership.status,
        linked,
    }
}

/// The sign-in rules.
impl<D: Directory> Rules<'_, D> {
    fn actor(identity: &Identity) -> String {
        format!("identity:{}#{}", identity.issuer, identity.subject)
    }

    fn audit(
        &self,
        identity: &Identity,
        action: &str,
        target: &str,
        organization: Option<&str>,
        after: String,
        policies: Vec<String>,
    ) -> AuditEntry {
        AuditEntry {
            actor: Self::actor(identity),
            action: action.into(),
            target: target.into(),
            organization_id: organization.map(String::from),
            before: String::new(),
            after,
            policies,
        }
    }

    /// The audit entry of a link; `activated` when linking also activated
    /// an invited membership.
    fn link_audit(
        &self,
        identity: &Identity,
        target: &str,
        organization: Option<&str>,
        activated: bool,
        policies: Vec<String>,
    ) -> AuditEntry {
        let mut after =
            serde_json::json!({ "issuer": identity.issuer, "subject": identity.subject });
        if activated {
            after["status"] = "active".into();
        }
        let after = after.to_string();
        self.audit(
            identity,
            "linkIdentity",
            target,
            organization,
            after,
            policies,
        )
    }

    /// Records the refusal and returns it.
    fn refuse(
        &self,
        identity: &Identity,
        target: &str,
        organization: Option<&str>,
        reason: String,
        policies: Vec<String>,
    ) -> SignInError {
        let after = serde_json::json!({ "refused": reason }).to_string();
        let audit = self.audit(
            identity,
            "signInRefused",
            target,
            organization,
            after,
            policies,
        );
        match self.dir.apply(Vec::new(), audit) {
            Ok(()) => SignInError::Refused(reason),
            Err(err) => err.into(),
        }
    }

    /// Refuses, audited, when `account` may not sign in (`linking`: an
    /// invited member may, to be linked and activated).
    fn refuse_unless_allowed(
        &self,
        identity: &Identity,
        account: &Account,
        linking: bool,
    ) -> Result<(), SignInError> {
        match sign_in_refusal(account, linking) {
            None => Ok(()),
            Some(reason) => Err(self.refuse(
                identity,
                &format!("customer:{}", account.person.id),
                organization_of(account).as_deref(),
                reason,
                Vec::new(),
            )),
        }
    }

    /// What the policies decide on `autoLink` for `identity` and `account`.
    fn auto_link_decision(
        &self,
        identity: &Identity,
        account: &Account,
    ) -> Result<crate::model::Decision, SignInError> {
        let id = format!("{}#{}", identity.issuer, identity.subject);
        let (principal, identity_entity) = access::identity_entity(
            self.names,
            &id,
            &identity.issuer,
            identity.trusted_provider,
            identity.email_verified,
        );
        let mut entities = vec![
            identity_entity,
            access::customer_entity(self.names, account),
        ];
        if let Some(o) = &account.organization {
            entities.push(access::organization_entity(self.names, o));
        }
        let resource = access::customer_uid(self.names, &account.person.id);
        access::decide_entities(
            self.loaded,
            self.names,
            "autoLink",
            principal,
            resource,
            entities,
        )
        .map_err(|e| match e {
            AccessError::InvalidRequest(m) => {
                SignInError::Refused(format!("automatic linking could not be decided: {m}"))
            }
            AccessError::Unavailable(u) => u.into(),
        })
    }

    /// What the policies decide on `autoLink` for `identity` and the customer
    /// `person_id`, changing nothing.
    pub fn decide_link(
        &self,
        identity: &Identity,
        person_id: &str,
    ) -> Result<crate::model::Decision, SignInError> {
        let account = self
            .dir
            .fresh_account(person_id)?
            .ok_or_else(|| SignInError::Refused(format!("no customer `{person_id}`")))?;
        self.auto_link_decision(identity, &account)
    }

    /// Whether a session of `person_id` that began in `organization_id` may
    /// go on: refused, with the reason, whenever a fresh sign-in of the
    /// person would be (revoked, removed, invited again, moved to another
    /// organization, the organization pending, rejected, blocked or gone).
    pub fn check_session(
        &self,
        person_id: &str,
        organization_id: &str,
    ) -> Result<Account, SignInError> {
        let account = self
            .dir
            .fresh_account(person_id)?
            .ok_or_else(|| SignInError::Refused("the customer record no longer exists".into()))?;
        if let Some(reason) = sign_in_refusal(&account, false) {
            return Err(SignInError::Refused(reason));
        }
        if account
            .membership
            .as_ref()
            .is_some_and(|m| m.organization_id != organization_id)
        {
            return Err(SignInError::Refused(
                "the person now belongs to another organization: sign in again".into(),
            ));
        }
        Ok(account)
    }

    /// Puts an ID token or code exchange the host refused into the audit
    /// trail, as `idTokenRefused` by `provider:<provider>`: a provider sending
    /// bad tokens is a security event.
    pub fn record_refusal(
        &self,
        provider: &str,
        issuer: &str,
        reason: &str,
    ) -> Result<(), SignInError> {
        let audit = AuditEntry {
            actor: format!("provider:{provider}"),
            action: "idTokenRefused".into(),
            target: String::new(),
            organization_id: None,
            before: String::new(),
            after: serde_json::json!({ "refused": reason, "issuer": issuer }).to_string(),
            policies: Vec::new(),
        };
        Ok(self.dir.apply(Vec::new(), audit)?)
    }

    /// Resolves `identity` to a person, linking it when the rules allow.
    pub fn link(&self, identity: &Identity) -> Result<SignedIn, SignInError> {
        if identity.issuer.trim().is_empty() || identity.subject.trim().is_empty() {
            return Err(self.refuse(
                identity,
                "",
                None,
                "the ID token names no issuer or subject".into(),
                Vec::new(),
            ));
        }
        // 1. An existing link wins, and is never re-pointed.
        if let Some(person) = self.dir.find_link(&identity.issuer, &identity.subject)? {
            let target = format!("customer:{person}");
            let Some(account) = self.dir.fresh_account(&person)? else {
                return Err(self.refuse(
                    identity,
                    &target,
                    None,
                    "the linked customer record no longer exists".into(),
                    Vec::new(),
                ));
            };
            self.refuse_unless_allowed(identity, &account, false)?;
            return Ok(signed_in(
                account.membership.as_ref().expect("checked"),
                false,
            ));
        }

        // 2. Otherwise only a verified email can find the customer.
        if !identity.email_verified {
            return Err(self.refuse(
                identity,
                "",
                None,
                "the provider does not vouch for the email address, and an unverified email never links: verify it with the provider".into(),
                Vec::new(),
            ));
        }
        let emails: Vec<String> = identity
            .emails
            .iter()
            .filter_map(|e| normalize_email(e).ok())
            .collect();
        if emails.is_empty() {
            return Err(self.refuse(
                identity,
                "",
                None,
                "the ID token carries no usable email address".into(),
                Vec::new(),
            ));
        }
        let mut found: Vec<Account> = Vec::new();
        for email in &emails {
            if let Some(account) = self.dir.account_by_email(email)?
                && !found.iter().any(|a| a.person.id == account.person.id)
            {
                found.push(account);
            }
        }
        let account = match found.len() {
            0 => {
                let reason = format!(
                    "no customer record has the email `{}`: ask your organization's administrator for an invitation, or apply for onboarding",
                    emails.join("`, `")
                );
                return Err(self.refuse(identity, "", None, reason, Vec::new()));
            }
            1 => found.pop().expect("one"),
            n => {
                let reason = format!(
                    "ambiguous: the verified emails belong to {n} different customer records; ask the merchant"
                );
                return Err(self.refuse(identity, "", None, reason, Vec::new()));
            }
        };
        self.refuse_unless_allowed(identity, &account, true)?;
        let target = format!("customer:{}", account.person.id);
        let org = organization_of(&account);
        if self.dir.has_links(&account.person.id)? {
            let reason = "the customer record is linked to another identity; a new provider links only by invitation: ask an administrator to remove and re-add the user".to_string();
            return Err(self.refuse(identity, &target, org.as_deref(), reason, Vec::new()));
        }
        let membership = account
            .membership
            .clone()
            .expect("checked by sign_in_refusal");
        let link = ChangeOp::PutLink(
            identity.issuer.clone(),
            identity.subject.clone(),
            account.person.id.clone(),
        );

        // 3. An invited member with that verified email: link and activate.
        if membership.status == AccountStatus::Invited {
            let active = Membership {
                status: AccountStatus::Active,
                version: membership.version + 1,
                ..membership.clone()
            };
            let audit = self.link_audit(identity, &target, org.as_deref(), true, Vec::new());
            self.dir.apply(
                vec![
                    link,
                    ChangeOp::PutMembership(active.clone(), Some(membership.version)),
                ],
                audit,
            )?;
            return Ok(signed_in(&active, true));
        }

        // 4. An existing customer: only if the policies permit automatic linking.
        let decision = self.auto_link_decision(identity, &account)?;
        if decision.effect != Effect::Allow {
            let reason = "automatic linking of an existing customer is not permitted for this provider: ask an administrator to invite you".to_string();
            return Err(self.refuse(identity, &target, org.as_deref(), reason, decision.policies));
        }
        let audit = self.link_audit(identity, &target, org.as_deref(), false, decision.policies);
        self.dir.apply(vec![link], audit)?;
        Ok(signed_in(&membership, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Names;
    use crate::memory::MemoryDirectory;
    use crate::users::tests::{directory, policies};

    fn with_rules<T>(f: impl FnOnce(&Rules<'_, MemoryDirectory>, &MemoryDirectory) -> T) -> T {
        let loaded = policies();
        let dir = directory();
        f(&Rules::new(&loaded, &Names::new(), &dir), &dir)
    }

    fn identity(subject: &str, email: &str, verified: bool) -> Identity {
        Identity {
            issuer: "https://idp.test".into(),
            subject: subject.into(),
            emails: vec![email.into()],
            email_verified: verified,
            trusted_provider: false,
        }
    }

    fn refused(result: Result<SignedIn, SignInError>) -> String {
        match result {
            Err(SignInError::Refused(reason)) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn last_audit(dir: &MemoryDirectory) -> AuditEntry {
        dir.state
            .borrow()
            .audit
            .last()
            .cloned()
            .expect("an audit entry")
    }

    #[test]
    fn an_invited_member_is_linked_by_verified_email_and_activated() {
        with_rules(|rules, dir| {
            let signed = rules
                .link(&identity("s-ivan", "IVAN@acme.test", true))
                .unwrap();
            assert_eq!(
                (signed.person_id.as_str(), signed.status, signed.linked),
                ("ivan", AccountStatus::Active, true)
            );
            assert_eq!(
                dir.find_link("https://idp.test", "s-ivan")
                    .unwrap()
                    .as_deref(),
                Some("ivan")
            );
            // The link wins from now on, whatever the token's email says.
            let again = rules
                .link(&identity("s-ivan", "someone@else.test", false))
                .unwrap();
            assert_eq!((again.person_id.as_str(), again.linked), ("ivan", false));
        });
    }

    #[test]
    fn an_unverified_email_never_links() {
        with_rules(|rules, dir| {
            let reason = refused(rules.link(&identity("s-x", "ivan@acme.test", false)));
            assert!(reason.contains("unverified email never links"), "{reason}");
            assert_eq!(dir.find_link("https://idp.test", "s-x").unwrap(), None);
            assert_eq!(last_audit(dir).action, "signInRefused");
        });
    }

    #[test]
    fn an_existing_customer_is_not_linked_without_the_autolink_policy() {
        with_rules(|rules, _| {
            // bob is active and unlinked; the provider is not trusted.
            let reason = refused(rules.link(&identity("s-bob", "bob@acme.test", true)));
            assert!(!reason.is_empty());
        });
    }

    #[test]
    fn a_revoked_member_may_not_sign_in() {
        with_rules(|rules, _| {
            let reason = refused(rules.link(&identity("s-rita", "rita@acme.test", true)));
            assert!(reason.contains("revoked"), "{reason}");
        });
    }

    #[test]
    fn a_session_goes_on_only_while_a_fresh_sign_in_would_be_allowed() {
        with_rules(|rules, dir| {
            assert_eq!(
                rules.check_session("bob", "acme").map(|a| a.person.id),
                Ok("bob".to_string())
            );
            let moved = rules.check_session("bob", "globex").unwrap_err();
            assert!(
                matches!(moved, SignInError::Refused(ref m) if m.contains("another organization")),
                "{moved:?}"
            );
            for (status, reason) in [
                (OrganizationStatus::Blocked, "blocked"),
                (OrganizationStatus::Pending, "not approved"),
                (OrganizationStatus::Rejected, "rejected"),
            ] {
                dir.state
                    .borrow_mut()
                    .organizations
                    .get_mut("acme")
                    .unwrap()
                    .status = status;
                let err = rules.check_session("bob", "acme").unwrap_err();
                assert!(
                    matches!(err, SignInError::Refused(ref m) if m.contains(reason)),
                    "{status:?}: {err:?}"
                );
            }
            dir.state
                .borrow_mut()
                .organizations
                .get_mut("acme")
                .unwrap()
                .status = OrganizationStatus::Approved;
            dir.state
                .borrow_mut()
                .memberships
                .get_mut("bob")
                .unwrap()
                .status = AccountStatus::Revoked;
            assert!(rules.check_session("bob", "acme").is_err());
            assert!(rules.check_session("nobody", "acme").is_err());
        });
    }

    #[test]
    fn refused_tokens_are_audited_as_the_provider() {
        with_rules(|rules, dir| {
            rules
                .record_refusal("entra", "https://t.ciamlogin.com/t/v2.0", "bad signature")
                .unwrap();
            let entry = last_audit(dir);
            assert_eq!(
                (entry.actor.as_str(), entry.action.as_str()),
                ("provider:entra", "idTokenRefused")
            );
            assert!(entry.after.contains("bad signature"), "{}", entry.after);
        });
    }
}
