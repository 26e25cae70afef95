//! Record names: how each status and kind is spelled in the policies, the
//! directory, the status cache, the outbox, seed files and the HTTP API.
//! Written once here, with `Display` and `FromStr`; each reader of stored
//! values says itself how it fails closed on a name it does not know.

use std::fmt;
use std::str::FromStr;

use crate::{AccountStatus, NotificationKind, OnboardingStatus, OrganizationStatus, StaffStatus};

/// A name no variant has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownName {
    /// What was being named, e.g. "account status".
    pub what: &'static str,
    /// The name met.
    pub name: String,
    /// The names there are.
    pub known: &'static [&'static str],
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} `{}`: use {}",
            self.what,
            self.name,
            self.known.join(", ")
        )
    }
}

impl std::error::Error for UnknownName {}

macro_rules! names {
    ($ty:ty, $what:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The name of this value.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($name => Ok(Self::$variant),)+
                    other => Err(UnknownName {
                        what: $what,
                        name: other.to_string(),
                        known: Self::NAMES,
                    }),
                }
            }
        }
    };
}

names!(AccountStatus, "account status", {
    Invited => "invited",
    Active => "active",
    Revoked => "revoked",
    Removed => "removed",
});

names!(OrganizationStatus, "organization status", {
    Pending => "pending",
    Approved => "approved",
    Rejected => "rejected",
    Blocked => "blocked",
});

names!(OnboardingStatus, "onboarding status", {
    Pending => "pending",
    Approved => "approved",
    Rejected => "rejected",
});

names!(StaffStatus, "staff status", {
    Invited => "invited",
    Active => "active",
    Removed => "removed",
});

names!(NotificationKind, "notification kind", {
    Invitation => "invitation",
    Approval => "approval",
    Rejection => "rejection",
});

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: FromStr<Err = UnknownName> + fmt::Display>(names: &[&str]) {
        for name in names {
            let value: T = name.parse().unwrap();
            assert_eq!(value.to_string(), *name);
        }
    }

    #[test]
    fn every_name_reads_back_as_itself() {
        round_trips::<AccountStatus>(AccountStatus::NAMES);
        round_trips::<OrganizationStatus>(OrganizationStatus::NAMES);
        round_trips::<OnboardingStatus>(OnboardingStatus::NAMES);
        round_trips::<NotificationKind>(NotificationKind::NAMES);
    }

    #[test]
    fn an_unknown_name_says_which_names_there_are() {
        let err = "Active".parse::<AccountStatus>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown account status `Active`: use invited, active, revoked, removed"
        );
    }
}
