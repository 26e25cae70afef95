//! Sign-in linking: which customer record an identity from an OpenID
//! provider is, decided safely. Links are made on the verified identity, never
//! on a bare email match, and every link and refusal is audited.

use crate::access::{self, AccessError};
use crate::model::{
    Account, AccountStatus, AuditEntry, ChangeOp, Effect, Membership, OrganizationStatus, Staff,
    StaffStatus,
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

/// The changes that accept invitations: each membership activated, at the
/// version read.
fn activations(activated: Vec<(Membership, u64)>) -> Vec<ChangeOp> {
    activated
        .into_iter()
        .map(|(m, read)| ChangeOp::PutMembership(m, Some(read)))
        .collect()
}

/// The organization of an account's membership, if any.
fn organization_of(account: &Account) -> Option<String> {
    account
        .membership
        .as_ref()
        .map(|m| m.organization_id.clone())
}

/// What a sign-in of `account` comes to: the organizations the person may
/// act for once their invitations are accepted (by organization id), and
/// the invited memberships it accepts, activated, with the version read.
/// A membership counts only while its organization is approved.
fn admissions(account: &Account) -> (Vec<String>, Vec<(Membership, u64)>) {
    let mut usable = Vec::new();
    let mut activated = Vec::new();
    for m in &account.memberships {
        if m.organization.status != OrganizationStatus::Approved {
            continue;
        }
        match m.membership.status {
            AccountStatus::Active => usable.push(m.organization.id.clone()),
            AccountStatus::Invited => {
                usable.push(m.organization.id.clone());
                activated.push((
                    Membership {
                        status: AccountStatus::Active,
                        version: m.membership.version + 1,
                        ..m.membership.clone()
                    },
                    m.membership.version,
                ));
            }
            AccountStatus::Revoked | AccountStatus::Removed => {}
        }
    }
    (usable, activated)
}

/// Why `account` may not sign in anywhere: what its membership acted for
/// when none is named (or else its first) says.
fn refusal_of(account: &Account) -> String {
    let first = account
        .membership
        .as_ref()
        .map(|m| m.organization_id.clone())
        .or_else(|| {
            account
                .memberships
                .first()
                .map(|m| m.organization.id.clone())
        });
    sign_in_refusal(&account.acting_for(first.as_deref()), true)
        .unwrap_or_else(|| "no membership may sign in now".into())
}

/// Who signed in: the organization is picked when only one may be acted
/// for; otherwise the person picks among `organizations`.
fn signed_in(person_id: &str, organizations: Vec<String>, linked: bool) -> SignedIn {
    SignedIn {
        person_id: person_id.to_string(),
        organization_id: match organizations.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        },
        organizations,
        status: AccountStatus::Active,
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
            cedar_policy::Entity::from(access::customer_entity(self.names, account)),
        ];
        if let Some(o) = &account.organization {
            entities.push(access::organization_entity(self.names, o).into());
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
        // The membership the session acts for, whatever the others say.
        let account = account.into_acting_for(Some(organization_id));
        if account.membership.is_none() {
            return Err(SignInError::Refused(
                "the person is no longer a member of the organization: sign in again".into(),
            ));
        }
        if let Some(reason) = sign_in_refusal(&account, false) {
            return Err(SignInError::Refused(reason));
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

    /// Refuses (and audits) an identity that names no issuer or subject.
    fn named(&self, identity: &Identity) -> Result<(), SignInError> {
        if identity.issuer.trim().is_empty() || identity.subject.trim().is_empty() {
            return Err(self.refuse(
                identity,
                "",
                None,
                "the ID token names no issuer or subject".into(),
                Vec::new(),
            ));
        }
        Ok(())
    }

    /// The identity's emails, normalized, when the provider vouches for
    /// them; refused (and audited) when it does not, or none is usable: an
    /// unverified email never links.
    fn verified_emails(&self, identity: &Identity) -> Result<Vec<String>, SignInError> {
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
        Ok(emails)
    }

    /// Resolves `identity`, from a provider the operator marked as a staff
    /// provider, to a staff member: an existing staff link wins (never
    /// re-pointed); otherwise an invited staff member with the verified
    /// email is linked and made active in one change. Customers' records and
    /// links are never read: a staff provider signs in staff only. Returns
    /// the staff id.
    pub fn link_staff(&self, identity: &Identity) -> Result<String, SignInError> {
        self.named(identity)?;
        if let Some(id) = self
            .dir
            .find_staff_link(&identity.issuer, &identity.subject)?
        {
            let target = format!("staff:{id}");
            let refusal = match self.dir.fresh_staff(&id)? {
                Some(staff) if staff.status == StaffStatus::Active => return Ok(id),
                Some(_) => "the staff member is no longer active: ask the merchant",
                None => "the linked staff record no longer exists",
            };
            return Err(self.refuse(identity, &target, None, refusal.into(), Vec::new()));
        }
        let emails = self.verified_emails(identity)?;
        let mut found: Vec<Staff> = Vec::new();
        for email in &emails {
            if let Some(staff) = self.dir.staff_by_email(email)?
                && !found.iter().any(|s| s.id == staff.id)
            {
                found.push(staff);
            }
        }
        let staff = match found.len() {
            0 => {
                let reason = "no staff record has this email: ask the merchant to add you as staff"
                    .to_string();
                return Err(self.refuse(identity, "", None, reason, Vec::new()));
            }
            1 => found.pop().expect("one"),
            n => {
                let reason = format!(
                    "ambiguous: the verified emails belong to {n} different staff records; ask the merchant"
                );
                return Err(self.refuse(identity, "", None, reason, Vec::new()));
            }
        };
        let target = format!("staff:{}", staff.id);
        let refusal = match staff.status {
            StaffStatus::Invited => None,
            StaffStatus::Active => Some(
                "the staff record is already in use: staff link a new identity only by invitation; ask the merchant",
            ),
            StaffStatus::Removed => Some("the staff member is no longer active: ask the merchant"),
        };
        if let Some(reason) = refusal {
            return Err(self.refuse(identity, &target, None, reason.into(), Vec::new()));
        }
        let ops = vec![
            ChangeOp::PutStaffLink(
                identity.issuer.clone(),
                identity.subject.clone(),
                staff.id.clone(),
            ),
            ChangeOp::ActivateStaff(staff.id.clone()),
        ];
        let audit = self.link_audit(identity, &target, None, true, Vec::new());
        self.dir.apply(ops, audit)?;
        Ok(staff.id)
    }

    /// Whether a staff member's session may go on: only while the staff
    /// record exists and is active, read fresh from the directory.
    pub fn check_staff_session(&self, staff_id: &str) -> Result<Staff, SignInError> {
        match self.dir.fresh_staff(staff_id)? {
            Some(staff) if staff.status == StaffStatus::Active => Ok(staff),
            Some(_) => Err(SignInError::Refused(
                "the staff member is no longer active".into(),
            )),
            None => Err(SignInError::Refused(
                "the staff record no longer exists".into(),
            )),
        }
    }

    /// Resolves `identity` to a person, linking it when the rules allow.
    pub fn link(&self, identity: &Identity) -> Result<SignedIn, SignInError> {
        self.named(identity)?;
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
            // Invitations into further organizations are accepted by
            // signing in with the linked identity.
            let (usable, activated) = admissions(&account);
            if usable.is_empty() {
                return Err(self.refuse(
                    identity,
                    &target,
                    organization_of(&account).as_deref(),
                    refusal_of(&account),
                    Vec::new(),
                ));
            }
            if !activated.is_empty() {
                let audit = self.audit(
                    identity,
                    "acceptInvitation",
                    &target,
                    activated.first().map(|(m, _)| m.organization_id.as_str()),
                    serde_json::json!({
                        "organizations": activated.iter().map(|(m, _)| &m.organization_id).collect::<Vec<_>>(),
                        "status": "active",
                    })
                    .to_string(),
                    Vec::new(),
                );
                self.dir.apply(activations(activated), audit)?;
            }
            return Ok(signed_in(&person, usable, false));
        }

        // 2. Otherwise only a verified email can find the customer.
        let emails = self.verified_emails(identity)?;
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
        let target = format!("customer:{}", account.person.id);
        let org = organization_of(&account);
        let (usable, activated) = admissions(&account);
        if usable.is_empty() {
            return Err(self.refuse(
                identity,
                &target,
                org.as_deref(),
                refusal_of(&account),
                Vec::new(),
            ));
        }
        if self.dir.has_links(&account.person.id)? {
            let reason = "the customer record is linked to another identity; a new provider links only by invitation: ask an administrator to remove and re-add the user".to_string();
            return Err(self.refuse(identity, &target, org.as_deref(), reason, Vec::new()));
        }
        let link = ChangeOp::PutLink(
            identity.issuer.clone(),
            identity.subject.clone(),
            account.person.id.clone(),
        );

        // 3. An invited member with that verified email: link and activate
        // every invitation.
        if !activated.is_empty() {
            let org = activated.first().map(|(m, _)| m.organization_id.clone());
            let audit = self.link_audit(identity, &target, org.as_deref(), true, Vec::new());
            let mut ops = vec![link];
            ops.extend(activations(activated));
            self.dir.apply(ops, audit)?;
            return Ok(signed_in(&account.person.id, usable, true));
        }

        // 4. An existing customer: only if the policies permit automatic
        // linking, decided on a membership that may sign in.
        let account = account.into_acting_for(usable.first().map(String::as_str));
        let decision = self.auto_link_decision(identity, &account)?;
        if decision.effect != Effect::Allow {
            let reason = "automatic linking of an existing customer is not permitted for this provider: ask an administrator to invite you".to_string();
            return Err(self.refuse(identity, &target, org.as_deref(), reason, decision.policies));
        }
        let audit = self.link_audit(identity, &target, org.as_deref(), false, decision.policies);
        self.dir.apply(vec![link], audit)?;
        Ok(signed_in(&account.person.id, usable, true))
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

    /// Sam's colleague Stella is invited staff: her first sign-in through a
    /// staff provider links and activates her; the link wins afterwards;
    /// removing her ends her sessions and refuses her next sign-in.
    #[test]
    fn invited_staff_are_linked_by_verified_email_and_removed_staff_refused() {
        with_rules(|rules, dir| {
            dir.state.borrow_mut().staff.insert(
                "stella".into(),
                Staff {
                    id: "stella".into(),
                    name: "Stella".into(),
                    email: Some("stella@merchant.test".into()),
                    status: StaffStatus::Invited,
                    ..Default::default()
                },
            );
            assert!(matches!(
                rules.check_staff_session("stella"),
                Err(SignInError::Refused(_))
            ));
            // An unverified email never links.
            let unverified = rules.link_staff(&identity("s-stella", "stella@merchant.test", false));
            assert!(matches!(unverified, Err(SignInError::Refused(r)) if r.contains("unverified")));
            let id = rules
                .link_staff(&identity("s-stella", "Stella@Merchant.test", true))
                .unwrap();
            assert_eq!(id, "stella");
            assert_eq!(last_audit(dir).action, "linkIdentity");
            assert_eq!(last_audit(dir).target, "staff:stella");
            assert_eq!(
                rules.check_staff_session("stella").unwrap().status,
                StaffStatus::Active
            );
            // Staff links are not customer links, and the link wins.
            assert_eq!(dir.find_link("https://idp.test", "s-stella").unwrap(), None);
            assert_eq!(
                rules
                    .link_staff(&identity("s-stella", "other@else.test", false))
                    .unwrap(),
                "stella"
            );
            // A second identity with her email is not linked: staff link by
            // invitation only.
            let second = rules.link_staff(&identity("s-other", "stella@merchant.test", true));
            assert!(matches!(second, Err(SignInError::Refused(r)) if r.contains("invitation")));

            dir.state
                .borrow_mut()
                .staff
                .get_mut("stella")
                .unwrap()
                .status = StaffStatus::Removed;
            assert!(matches!(
                rules.check_staff_session("stella"),
                Err(SignInError::Refused(r)) if r.contains("no longer active")
            ));
            let removed = rules.link_staff(&identity("s-stella", "stella@merchant.test", true));
            assert!(
                matches!(removed, Err(SignInError::Refused(r)) if r.contains("no longer active"))
            );
            assert_eq!(last_audit(dir).action, "signInRefused");
        });
    }

    /// A staff provider never signs a customer in, whatever their email;
    /// a customer's sign-in never finds a staff record.
    #[test]
    fn staff_and_customer_sign_ins_never_cross() {
        with_rules(|rules, dir| {
            dir.state.borrow_mut().staff.insert(
                "stella".into(),
                Staff {
                    id: "stella".into(),
                    name: "Stella".into(),
                    email: Some("stella@merchant.test".into()),
                    status: StaffStatus::Invited,
                    ..Default::default()
                },
            );
            // Ivan is an invited customer: a staff provider does not link him.
            let ivan = rules.link_staff(&identity("s-ivan", "ivan@acme.test", true));
            assert!(matches!(ivan, Err(SignInError::Refused(r)) if r.contains("no staff record")));
            assert_eq!(dir.find_link("https://idp.test", "s-ivan").unwrap(), None);
            // Stella is invited staff: a customer provider does not link her.
            let stella = refused(rules.link(&identity("s-stella", "stella@merchant.test", true)));
            assert!(stella.contains("no customer record"), "{stella}");
            assert_eq!(
                dir.find_staff_link("https://idp.test", "s-stella").unwrap(),
                None
            );
        });
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

    /// Ivan is invited into globex too: his first sign-in accepts both
    /// invitations and lets him pick; an invitation made after he linked
    /// is accepted by his next sign-in with the linked identity.
    #[test]
    fn a_sign_in_accepts_every_invitation_and_lets_a_person_in_several_pick() {
        with_rules(|rules, dir| {
            let invite = |org: &str| Membership {
                organization_id: org.into(),
                person_id: "ivan".into(),
                status: AccountStatus::Invited,
                previous_status: None,
                is_admin: false,
                roles: vec![],
                spending_limit: None,
                invited_at: Some(0),
                version: 1,
            };
            dir.state
                .borrow_mut()
                .memberships
                .insert(("ivan".into(), "globex".into()), invite("globex"));
            let signed = rules
                .link(&identity("s-ivan", "ivan@acme.test", true))
                .unwrap();
            assert_eq!(signed.organization_id, None, "he picks");
            assert_eq!(signed.organizations, ["acme", "globex"]);
            for org in ["acme", "globex"] {
                let m =
                    dir.state.borrow().memberships[&("ivan".to_string(), org.to_string())].clone();
                assert_eq!((m.status, m.version), (AccountStatus::Active, 2), "{org}");
            }
            // Revoked in acme: the acme session ends, the globex one goes on.
            dir.state
                .borrow_mut()
                .memberships
                .get_mut(&("ivan".to_string(), "acme".to_string()))
                .unwrap()
                .status = AccountStatus::Revoked;
            assert!(rules.check_session("ivan", "acme").is_err());
            let globex = rules.check_session("ivan", "globex").unwrap();
            assert_eq!(globex.membership.unwrap().organization_id, "globex");
            let only = rules
                .link(&identity("s-ivan", "ivan@acme.test", true))
                .unwrap();
            assert_eq!(only.organization_id.as_deref(), Some("globex"));
            // A new invitation, accepted by signing in with the link.
            dir.state.borrow_mut().organizations.insert(
                "initech".into(),
                crate::model::Organization {
                    id: "initech".into(),
                    name: "Initech".into(),
                    status: OrganizationStatus::Approved,
                    active_admins: 0,
                },
            );
            dir.state
                .borrow_mut()
                .memberships
                .insert(("ivan".into(), "initech".into()), invite("initech"));
            let next = rules
                .link(&identity("s-ivan", "whatever@else.test", false))
                .unwrap();
            assert_eq!(next.organizations, ["globex", "initech"]);
            let m = dir.state.borrow().memberships[&("ivan".to_string(), "initech".to_string())]
                .clone();
            assert_eq!(m.status, AccountStatus::Active);
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
                matches!(moved, SignInError::Refused(ref m) if m.contains("no longer a member")),
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
                .get_mut(&("bob".to_string(), "acme".to_string()))
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
