//! Generated bindings for the `partnergate:b2b/plugin` world. Only `bindgen!`
//! lives here; each import is implemented in its own module under
//! `imports/`. The trappable error types live in their own files
//! (`directory/error.rs`, `cache/error.rs`, `notify/error.rs`), so the
//! bindings depend on nothing else of the backends.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
    trappable_error_type: {
        "partnergate:b2b/directory.error" => crate::directory::error::DirectoryError,
        "partnergate:b2b/notifications.error" => crate::notify::error::NotifyError,
    },
});

pub(crate) use self::partnergate::b2b::{directory, notifications, records, types};
