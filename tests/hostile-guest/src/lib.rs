//! A guest that misbehaves on request, to test that the host contains it.
//!
//! `access.authorize` with action `loop` spins forever, with `alloc` allocates
//! until memory runs out, with `panic` panics; any other action is allowed by
//! the policy id `hostile-guest-ok`. The other exports answer trivially.
#![deny(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({ path: "../../wit", world: "plugin", generate_all });

    use exports::partnergate::b2b::{access, org_users, policy, sign_in};
    use partnergate::b2b::types;

    struct Hostile;
    export!(Hostile);

    fn summary() -> policy::Summary {
        policy::Summary {
            version: "hostile".into(),
            policies: 0,
            permits: 0,
            forbids: 0,
        }
    }

    impl policy::Guest for Hostile {
        fn load(
            _: policy::PolicyFile,
            _: Vec<policy::PolicyFile>,
        ) -> Result<policy::Summary, policy::Error> {
            Ok(summary())
        }
        fn validate(
            _: policy::PolicyFile,
            _: Vec<policy::PolicyFile>,
        ) -> Result<policy::Summary, policy::Error> {
            Ok(summary())
        }
        fn current() -> Option<policy::Summary> {
            Some(summary())
        }
        // A prepared form it then refuses: the host must load every
        // instance from the files.
        fn prepared() -> Option<String> {
            Some("a prepared set this guest refuses".into())
        }
        fn load_prepared(_: String) -> Result<policy::Summary, policy::Error> {
            Err(policy::Error::InternalError(Some("refused".into())))
        }
    }

    impl access::Guest for Hostile {
        fn authorize(request: access::Request) -> Result<access::Answer, access::Error> {
            match request.action.as_str() {
                "loop" => {
                    let mut n: u64 = 0;
                    loop {
                        n = std::hint::black_box(n.wrapping_add(1));
                    }
                }
                "alloc" => {
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hoard.push(vec![1u8; 1 << 20]);
                        std::hint::black_box(&hoard);
                    }
                }
                "panic" => panic!("hostile guest panics on request"),
                // Rests on nothing the host can watch: never reused, so
                // every request reaches the guest.
                _ => Ok(access::Answer {
                    decision: types::Decision {
                        effect: types::Effect::Allow,
                        policies: vec!["hostile-guest-ok".into()],
                        errors: vec![],
                    },
                    basis: None,
                }),
            }
        }
    }

    type Membership = Result<types::Membership, org_users::Error>;

    impl org_users::Guest for Hostile {
        fn add_user(_: String, _: String, _: org_users::NewUser) -> Membership {
            Err(org_users::Error::Unsupported)
        }
        fn edit_user(_: String, _: org_users::Target, _: org_users::UserChanges) -> Membership {
            Err(org_users::Error::Unsupported)
        }
        fn remove_user(_: String, _: org_users::Target) -> Membership {
            Err(org_users::Error::Unsupported)
        }
        fn revoke_user(_: String, _: org_users::Target) -> Membership {
            Err(org_users::Error::Unsupported)
        }
        fn reinstate_user(_: String, _: org_users::Target) -> Membership {
            Err(org_users::Error::Unsupported)
        }
        fn reinvite_user(_: String, _: org_users::Target) -> Membership {
            Err(org_users::Error::Unsupported)
        }
        fn bulk_add(
            _: String,
            _: String,
            _: Vec<org_users::NewUser>,
        ) -> Result<Vec<Membership>, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }
        fn bulk_change(
            _: String,
            _: org_users::BulkAction,
            _: Vec<org_users::Target>,
        ) -> Result<Vec<Membership>, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }
        fn get_users(
            _: String,
            _: Vec<String>,
        ) -> Result<Vec<Option<org_users::UserView>>, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }
        fn list_users(
            _: String,
            _: org_users::UserQuery,
        ) -> Result<types::MemberPage, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }
        fn read_audit(
            _: String,
            _: Option<String>,
            _: Option<String>,
            _: u32,
        ) -> Result<types::AuditPage, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }
        fn submit_onboarding(
            _: String,
            _: String,
            _: String,
        ) -> Result<types::OnboardingRequest, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }
        fn approve_onboarding(
            _: String,
            _: String,
        ) -> Result<types::OnboardingRequest, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }
        fn reject_onboarding(
            _: String,
            _: String,
            _: String,
        ) -> Result<types::OnboardingRequest, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }
        fn list_onboarding(
            _: String,
            _: Option<types::OnboardingStatus>,
        ) -> Result<Vec<types::OnboardingRequest>, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }
        fn create_organization(
            _: String,
            _: String,
        ) -> Result<types::Organization, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }

        fn list_organizations(
            _: String,
            _: Option<String>,
        ) -> Result<Vec<types::Organization>, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }

        fn set_organization_blocked(
            _: String,
            _: String,
            _: bool,
            _: String,
        ) -> Result<types::Organization, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }

        fn organization_staff(_: String, _: String) -> Result<Vec<types::Staff>, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }

        fn assign_staff(_: String, _: String, _: String) -> Result<types::Staff, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }

        fn unassign_staff(
            _: String,
            _: String,
            _: String,
        ) -> Result<types::Staff, org_users::Error> {
            Err(org_users::Error::Unsupported)
        }
    }

    impl sign_in::Guest for Hostile {
        fn link(_: types::ExternalIdentity) -> Result<sign_in::SignedIn, sign_in::Error> {
            Err(sign_in::Error::Unsupported)
        }

        fn decide_link(
            _: types::ExternalIdentity,
            _: String,
        ) -> Result<types::Decision, sign_in::Error> {
            Err(sign_in::Error::Unsupported)
        }

        fn check_session(_: String, _: String) -> Result<types::Account, sign_in::Error> {
            Err(sign_in::Error::Unsupported)
        }

        fn link_staff(_: types::ExternalIdentity) -> Result<String, sign_in::Error> {
            Err(sign_in::Error::Unsupported)
        }

        fn check_staff_session(_: String) -> Result<types::Staff, sign_in::Error> {
            Err(sign_in::Error::Unsupported)
        }

        fn record_refusal(_: String, _: String, _: String) -> Result<(), sign_in::Error> {
            Err(sign_in::Error::Unsupported)
        }
    }
}
