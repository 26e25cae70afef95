//! The directory's schema, written once for both backends: versioned
//! migrations with the few types that differ left as placeholders, so the
//! two schemas cannot drift apart.

/// The columns both backends read an account from (`member_row`), joined
/// from people, memberships and organizations, in this order: one row per
/// membership (one row without a membership for a person with none).
pub const ACCOUNT_COLUMNS: &str = "p.id, p.email, p.name,
    m.organization_id, m.status, m.previous_status, m.is_admin, m.roles, m.spending_limit, m.invited_at, m.version,
    o.name, o.status,
    (SELECT count(*) FROM memberships a WHERE a.organization_id = o.id AND a.status = 'active' AND a.is_admin)";

/// Where an account is read from, by person; rows ordered by [`ACCOUNT_ORDER`].
pub const ACCOUNT_FROM: &str = "people p LEFT JOIN memberships m ON m.person_id = p.id LEFT JOIN organizations o ON o.id = m.organization_id";

/// What tells apart two listed rows with the same sort key, in cursors and
/// order: the person and the organization of the membership (a person
/// listed across organizations shows once per membership).
pub const MEMBER_ID: &str = "(p.id || ' ' || m.organization_id)";

/// The order of an account's rows: its memberships by organization id.
pub const ACCOUNT_ORDER: &str = "ORDER BY m.organization_id";

/// Where listings read from: the memberships of the organizations asked
/// for, so they use their index instead of scanning every person.
pub const MEMBER_FROM: &str = "memberships m JOIN people p ON p.id = m.person_id JOIN organizations o ON o.id = m.organization_id";

/// The columns both backends read an onboarding request from, in order.
pub const ONBOARDING_COLUMNS: &str = "id, organization_name, requester_name, requester_email, status, organization_id, submitted_at, version";

/// Schema migrations of both backends, in order, written once: `{int}`,
/// `{bool}` and `{serial}` (an identity key) become each dialect's type
/// ([`render`]). Never edit one that has shipped: add the next.
pub const MIGRATIONS: &[&str] = &[
    // 1: the directory.
    r#"
    CREATE TABLE organizations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'blocked'))
    );
    CREATE TABLE people (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL
    );
    CREATE TABLE memberships (
        person_id TEXT PRIMARY KEY REFERENCES people(id),
        organization_id TEXT NOT NULL REFERENCES organizations(id),
        status TEXT NOT NULL CHECK (status IN ('invited', 'active', 'revoked', 'removed')),
        previous_status TEXT,
        is_admin {bool} NOT NULL,
        roles TEXT NOT NULL,
        spending_limit {int},
        invited_at {int},
        version {int} NOT NULL,
        added_seq {int} NOT NULL
    );
    CREATE INDEX memberships_by_organization ON memberships(organization_id, status);
    CREATE TABLE staff (id TEXT PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE staff_organizations (
        staff_id TEXT NOT NULL REFERENCES staff(id),
        organization_id TEXT NOT NULL,
        PRIMARY KEY (staff_id, organization_id)
    );
    CREATE TABLE identity_links (
        issuer TEXT NOT NULL,
        subject TEXT NOT NULL,
        person_id TEXT NOT NULL REFERENCES people(id),
        PRIMARY KEY (issuer, subject)
    );
    CREATE TABLE onboarding_requests (
        id TEXT PRIMARY KEY,
        organization_name TEXT NOT NULL,
        requester_name TEXT NOT NULL,
        requester_email TEXT NOT NULL,
        status TEXT NOT NULL,
        organization_id TEXT,
        submitted_at {int} NOT NULL,
        version {int} NOT NULL
    );
    CREATE TABLE audit_log (
        id {serial},
        at {int} NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        organization_id TEXT,
        before TEXT NOT NULL,
        after TEXT NOT NULL,
        policies TEXT NOT NULL
    );
    CREATE INDEX audit_by_organization ON audit_log(organization_id, id);
    CREATE TABLE outbox (
        id {serial},
        kind TEXT NOT NULL,
        recipient TEXT NOT NULL,
        params TEXT NOT NULL,
        created_at {int} NOT NULL,
        attempts {int} NOT NULL DEFAULT 0,
        next_attempt_at {int} NOT NULL,
        delivered_at {int},
        last_error TEXT
    );
    "#,
    // 2: one pending onboarding request per email, enforced by the store;
    // the outbox's due messages found by index.
    r#"
    CREATE UNIQUE INDEX onboarding_one_pending ON onboarding_requests(requester_email) WHERE status = 'pending';
    CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE delivered_at IS NULL;
    CREATE INDEX identity_links_by_person ON identity_links(person_id);
    "#,
    // 3: adding a member takes the next `added_seq` without scanning.
    r#"
    CREATE INDEX memberships_by_added ON memberships(added_seq);
    "#,
    // 4: the change log. Every change that touches a cached record takes the
    // next position (`change_head`, one row, so positions follow commit
    // order on every backend) and names what it touched; each node reads
    // the log to drop what it caches, whatever happened to the
    // invalidations sent to it.
    r#"
    CREATE TABLE change_head (one {int} PRIMARY KEY CHECK (one = 1), seq {int} NOT NULL);
    INSERT INTO change_head (one, seq) VALUES (1, 0);
    CREATE TABLE changes (
        seq {int} NOT NULL,
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (seq, kind, id)
    );
    "#,
    // 5: a person may belong to several organizations: one membership per
    // person and organization (it was one per person). Every row is kept.
    r#"
    CREATE TABLE memberships_by_pair (
        person_id TEXT NOT NULL REFERENCES people(id),
        organization_id TEXT NOT NULL REFERENCES organizations(id),
        status TEXT NOT NULL CONSTRAINT memberships_status_check
            CHECK (status IN ('invited', 'active', 'revoked', 'removed')),
        previous_status TEXT,
        is_admin {bool} NOT NULL,
        roles TEXT NOT NULL,
        spending_limit {int},
        invited_at {int},
        version {int} NOT NULL,
        added_seq {int} NOT NULL,
        PRIMARY KEY (person_id, organization_id)
    );
    INSERT INTO memberships_by_pair (person_id, organization_id, status, previous_status, is_admin, roles,
        spending_limit, invited_at, version, added_seq)
    SELECT person_id, organization_id, status, previous_status, is_admin, roles,
        spending_limit, invited_at, version, added_seq FROM memberships;
    DROP TABLE memberships;
    ALTER TABLE memberships_by_pair RENAME TO memberships;
    CREATE INDEX memberships_by_organization ON memberships(organization_id, status);
    CREATE INDEX memberships_by_added ON memberships(added_seq);
    "#,
    // 6: staff sign in. A staff member has an email (normalized, unique) a
    // staff provider's first sign-in is matched on, and a status; staff
    // identity links are kept apart from customers'. Staff added before
    // stay active, as they were.
    r#"
    ALTER TABLE staff ADD COLUMN email TEXT;
    ALTER TABLE staff ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
        CONSTRAINT staff_status_check CHECK (status IN ('invited', 'active', 'removed'));
    CREATE UNIQUE INDEX staff_by_email ON staff(email);
    CREATE TABLE staff_links (
        issuer TEXT NOT NULL,
        subject TEXT NOT NULL,
        staff_id TEXT NOT NULL REFERENCES staff(id),
        PRIMARY KEY (issuer, subject)
    );
    "#,
];

/// Where identity links are kept: customers' and staff members' in tables
/// of their own, so a lookup of one kind never finds the other.
#[derive(Clone, Copy, Debug)]
pub enum LinkTable {
    /// `identity_links`, to people.
    Customer,
    /// `staff_links`, to staff members.
    Staff,
}

impl LinkTable {
    /// The table, its column naming what a link points to, and what that
    /// is called in errors.
    pub fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Customer => ("identity_links", "person_id", "person"),
            Self::Staff => ("staff_links", "staff_id", "staff"),
        }
    }
}

/// How many positions of the change log are kept behind its head: a node
/// that falls further behind drops everything it caches.
pub const CHANGES_KEPT: u64 = 10_000;

/// A SQL dialect's spelling of the placeholders.
#[derive(Clone, Copy, Debug)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Migration `sql` in `dialect`.
pub fn render(sql: &str, dialect: Dialect) -> String {
    let (int, boolean, serial) = match dialect {
        Dialect::Sqlite => ("INTEGER", "INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        Dialect::Postgres => (
            "BIGINT",
            "BOOLEAN",
            "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        ),
    };
    sql.replace("{int}", int)
        .replace("{bool}", boolean)
        .replace("{serial}", serial)
}
