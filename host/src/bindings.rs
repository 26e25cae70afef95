//! Generated bindings for the `partnergate:b2b/plugin` world. Only `bindgen!`
//! lives here; each import is implemented in its own module under
//! [`crate::imports`].

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    trappable_error_type: {
        "partnergate:b2b/directory.error" => crate::directory::DirectoryError,
        "partnergate:b2b/status-cache.error" => crate::cache::CacheError,
        "partnergate:b2b/notifications.error" => crate::notify::NotifyError,
    },
});

pub use self::exports::partnergate::b2b::{access, org_users, policy, sign_in};
pub use self::partnergate::b2b::{directory, notifications, status_cache, types};
