//! How a library call becomes one plugin call: its arguments are owned (the
//! call runs on a warm instance, maybe on another task), then lent to the
//! export's call ([`crate::exports::Instance`]).

use crate::exports::Instance;
use crate::model::{
    BulkAction, ExternalIdentity, NewUser, OnboardingStatus, Target, UserChanges, UserQuery,
};
use crate::pool::Call;
use crate::state::HostState;

/// One call of the plugin, given the instance and the store it runs on,
/// with result `T`: what the per-interface helpers (`org_users`,
/// `sign_in`) take.
pub(super) trait GuestCall<T>:
    for<'a> FnOnce(&'a Instance, &'a mut wasmtime::Store<HostState>) -> Call<'a, T> + Send + 'static
{
}

impl<T, F> GuestCall<T> for F where
    F: for<'a> FnOnce(&'a Instance, &'a mut wasmtime::Store<HostState>) -> Call<'a, T>
        + Send
        + 'static
{
}

/// An argument of a library call, in the owned form that moves into the
/// plugin call.
pub(super) trait Owned {
    /// The owned form.
    type Out: Send + 'static;
    /// Takes ownership (copies borrowed text).
    fn owned(self) -> Self::Out;
}

impl Owned for &str {
    type Out = String;
    fn owned(self) -> String {
        self.to_string()
    }
}

impl Owned for Option<&str> {
    type Out = Option<String>;
    fn owned(self) -> Option<String> {
        self.map(String::from)
    }
}

/// Arguments that are owned already.
macro_rules! owned_already {
    ($($ty:ty),*) => {
        $(impl Owned for $ty {
            type Out = Self;
            fn owned(self) -> Self {
                self
            }
        })*
    };
}

owned_already!(
    u32,
    bool,
    Target,
    NewUser,
    UserChanges,
    UserQuery,
    BulkAction,
    ExternalIdentity,
    Option<OnboardingStatus>
);

/// A public library call that is one call of a plugin interface through the
/// helper `$via` (`org_users(weight)`, `sign_in`): the arguments are owned,
/// then passed to the instance's `$call` as the expressions after `=>` say.
/// One invocation may declare several calls, each ended by `;`.
macro_rules! plugin_call {
    ($(
        $(#[$doc:meta])*
        $via:ident$(($($first:expr),*))?: $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty
            => $call:ident($($pass:expr),*)
    );+ $(;)?) => {$(
        $(#[$doc])*
        pub async fn $name(&self, $($arg: $ty),*) -> Result<$ret, Error> {
            $(let $arg = Owned::owned($arg);)*
            self.$via($($($first,)*)? move |g, s| {
                Box::pin(async move { g.$call(s, $($pass),*).await })
            })
            .await
        }
    )+};
}

pub(super) use plugin_call;
