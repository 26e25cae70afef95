//! The Redis keys and Lua scripts of the status cache. Ids are hex-encoded,
//! so no two principals, kinds or generations share a key.

use std::time::{SystemTime, UNIX_EPOCH};

pub(super) const INVALIDATIONS: &str = "pg:v1:invalidate";
pub(super) const NODES: &str = "pg:v1:nodes";
pub(super) const SEQ: &str = "pg:v1:seq";
pub(super) const GEN: &str = "pg:v1:gen";
/// A random value set by the first node to connect to a Redis that holds
/// none: a Redis that restarted (and forgot `SEQ` and every tombstone)
/// has another, so a fill whose ticket names the old one is refused.
pub(super) const INCARNATION: &str = "pg:v1:incarnation";

/// The key functions of generation-scoped records: `name(generation, id)`
/// is `pg:v1:<generation>:<tag>:<hex id>`.
macro_rules! generation_keys {
    ($($(#[$doc:meta])* $vis:vis $name:ident => $tag:literal;)*) => {
        $($(#[$doc])*
        $vis fn $name(generation: u64, id: &str) -> String {
            format!(concat!("pg:v1:{}:", $tag, ":{}"), generation, hex::encode(id))
        })*
    };
}

generation_keys! {
    /// The Redis key of a person's entry in generation `generation`.
    pub entry_key => "a";
    /// An organization's member index (the entries to drop with it).
    pub(super) members_key => "m";
    /// A person's tombstone.
    pub(super) person_tombstone => "tp";
    /// An organization's tombstone.
    pub(super) org_tombstone => "to";
    /// An organization's entry.
    pub(super) organization_key => "og";
    /// A staff member's entry.
    pub(super) staff_key => "st";
    /// A staff member's tombstone.
    pub(super) staff_tombstone => "ts";
}

/// Ephemeral values are not generation-scoped: a new generation must not end
/// sessions or sign-ins in progress.
pub(super) fn ephemeral_key(namespace: &str, key: &str) -> String {
    format!("pg:v1:e:{}:{}", hex::encode(namespace), hex::encode(key))
}

pub(super) fn ack_channel(node: &str) -> String {
    format!("pg:v1:ack:{node}")
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Refuses to store an entry when its person or any of its organizations
/// was invalidated after the reader's sequence number, or Redis is not the
/// incarnation the reader's ticket was taken from. KEYS: the entry, the
/// person's tombstone, the first organization's tombstone and member index,
/// the incarnation, then a tombstone and member index for each further
/// organization (a person in several).
pub(super) const GUARDED_PUT: &str = r#"
if redis.call('GET', KEYS[5]) ~= ARGV[5] then return 0 end
local seq = tonumber(ARGV[1])
local tp = tonumber(redis.call('GET', KEYS[2]) or '0')
local to = 0
if KEYS[3] ~= KEYS[2] then to = tonumber(redis.call('GET', KEYS[3]) or '0') end
if tp > seq or to > seq then return 0 end
for i = 6, #KEYS, 2 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > seq then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
if KEYS[4] ~= KEYS[1] then
  redis.call('SADD', KEYS[4], ARGV[4])
  redis.call('EXPIRE', KEYS[4], ARGV[3])
end
for i = 7, #KEYS, 2 do
  redis.call('SADD', KEYS[i], ARGV[4])
  redis.call('EXPIRE', KEYS[i], ARGV[3])
end
return 1
"#;

/// Leaves an organization tombstone and deletes its entry and every member's.
pub(super) const DROP_ORGANIZATION: &str = r#"
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('DEL', KEYS[3])
local members = redis.call('SMEMBERS', KEYS[2])
for _, person in ipairs(members) do
  redis.call('DEL', ARGV[3] .. person)
end
redis.call('DEL', KEYS[2])
return #members
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn keys_of_two_principals_never_collide(a in ".{0,24}", b in ".{0,24}", generation in 0u64..4) {
            prop_assume!(a != b);
            prop_assert_ne!(entry_key(generation, &a), entry_key(generation, &b));
            prop_assert_ne!(person_tombstone(generation, &a), person_tombstone(generation, &b));
            prop_assert_ne!(members_key(generation, &a), members_key(generation, &b));
            // Keys of different kinds or generations never meet either.
            prop_assert_ne!(entry_key(generation, &a), person_tombstone(generation, &a));
            prop_assert_ne!(entry_key(generation, &a), entry_key(generation + 1, &a));
        }

        #[test]
        fn ephemeral_keys_never_collide(n1 in ".{0,8}", k1 in ".{0,16}", n2 in ".{0,8}", k2 in ".{0,16}") {
            prop_assume!((n1.as_str(), k1.as_str()) != (n2.as_str(), k2.as_str()));
            prop_assert_ne!(ephemeral_key(&n1, &k1), ephemeral_key(&n2, &k2));
        }

        #[test]
        fn ids_with_separators_stay_apart(prefix in "[a-z:]{0,6}", suffix in "[a-z:]{0,6}") {
            let a = format!("{prefix}:{suffix}");
            let b = format!("{prefix}{suffix}:");
            prop_assume!(a != b);
            prop_assert_ne!(entry_key(1, &a), entry_key(1, &b));
        }
    }
}
