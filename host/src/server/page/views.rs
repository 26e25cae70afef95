//! The page's templates (compiled and type-checked by askama from
//! `host/templates/page/`) and the view models they render. Every string
//! shown comes from the message catalog; every value is escaped by askama.

use askama::Template;

use super::i18n::Messages;

/// What every page shows around its content.
pub(super) struct Chrome<'a> {
    pub m: Messages<'a>,
    /// The path prefix the page is served under.
    pub prefix: &'a str,
    /// The window title.
    pub title: String,
    /// What the site part is called (the heading of every page of it):
    /// "Organization users", or the prospect's form.
    pub app: String,
    /// The organization's name, when signed in.
    pub organization: Option<String>,
    /// The signed-in person's name.
    pub me: Option<String>,
    /// The session's CSRF token, sent back by every form.
    pub csrf: String,
    /// A result to announce (`aria-live="polite"`).
    pub notice: Option<String>,
    /// An error to announce, saying what to do.
    pub error: Option<String>,
    /// Whether a theme stylesheet is served after the page's own.
    pub theme: bool,
    /// The navigation.
    pub nav: Nav,
    /// Where the browser goes on by itself (`<meta http-equiv="refresh">`).
    pub refresh: Option<String>,
    /// The organizations a person in several may switch to: (id, name,
    /// whether the session acts for it); empty for a person in one.
    pub switch: Vec<(String, String, bool)>,
}

/// Which navigation links show; each only where the policies permit it.
#[derive(Default)]
pub(super) struct Nav {
    pub shown: bool,
    pub add: bool,
    pub audit: bool,
    pub current: &'static str,
}

#[derive(Template)]
#[template(path = "page/list.html")]
pub(super) struct ListPage<'a> {
    pub chrome: Chrome<'a>,
    pub filters: Vec<FilterLink>,
    pub status: Option<&'static str>,
    pub search: String,
    pub clear_href: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    pub bulk: BulkActions,
    pub back: String,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
}

pub(super) struct FilterLink {
    pub href: String,
    pub label: String,
    pub current: bool,
}

pub(super) struct Column {
    pub label: String,
    pub href: Option<String>,
    pub sort_label: String,
    pub aria_sort: Option<&'static str>,
    pub arrow: Option<&'static str>,
}

/// One user's row.
pub(super) struct Row {
    pub person_id: String,
    pub version: u64,
    pub name: String,
    pub email: String,
    pub company: String,
    pub is_admin: bool,
    pub status: &'static str,
    pub status_label: String,
    pub invited_note: Option<String>,
    pub roles: String,
    pub limit: String,
    pub actions: RowActions,
    /// Revoke, reinstate, re-invite: one-click steps.
    pub steps: Vec<StepButton>,
    pub selectable: bool,
    pub select_label: String,
    pub edit_label: String,
    pub remove_label: String,
}

/// The steps the rules allow on one row (from the plugin's `get-users`).
#[derive(Clone, Copy, Default)]
pub(super) struct RowActions {
    pub edit: bool,
    pub revoke: bool,
    pub reinstate: bool,
    pub remove: bool,
    pub reinvite: bool,
}

pub(super) struct StepButton {
    pub step: &'static str,
    pub text: String,
    pub label: String,
}

/// The bulk actions some row on the page permits.
#[derive(Clone, Copy, Default)]
pub(super) struct BulkActions {
    pub revoke: bool,
    pub reinstate: bool,
    pub remove: bool,
    pub reinvite: bool,
}

impl BulkActions {
    pub fn any(&self) -> bool {
        self.revoke || self.reinstate || self.remove || self.reinvite
    }

    pub fn include(&mut self, row: &RowActions) {
        self.revoke |= row.revoke;
        self.reinstate |= row.reinstate;
        self.remove |= row.remove;
        self.reinvite |= row.reinvite;
    }
}

/// The values of the add and edit forms, as typed.
#[derive(Clone, Default)]
pub(super) struct UserForm {
    pub email: String,
    pub name: String,
    pub roles: String,
    pub spending_limit: String,
    pub is_admin: bool,
}

#[derive(Template)]
#[template(path = "page/user_form.html")]
pub(super) struct UserFormPage<'a> {
    pub chrome: Chrome<'a>,
    pub heading: String,
    pub action: String,
    pub submit: String,
    pub version: Option<u64>,
    pub form: UserForm,
    pub email_editable: bool,
    pub admin_editable: bool,
}

#[derive(Template)]
#[template(path = "page/bulk_add.html")]
pub(super) struct BulkAddPage<'a> {
    pub chrome: Chrome<'a>,
    pub addresses: String,
    pub roles: String,
    pub spending_limit: String,
}

#[derive(Template)]
#[template(path = "page/results.html")]
pub(super) struct ResultsPage<'a> {
    pub chrome: Chrome<'a>,
    pub summary: String,
    pub rows: Vec<ResultRow>,
    pub back: String,
}

pub(super) struct ResultRow {
    pub who: String,
    pub ok: bool,
    pub outcome: String,
}

#[derive(Template)]
#[template(path = "page/confirm.html")]
pub(super) struct ConfirmPage<'a> {
    pub chrome: Chrome<'a>,
    pub heading: String,
    pub explain: String,
    pub names: Vec<String>,
    pub action: String,
    pub back: String,
    pub hidden: Vec<(String, String)>,
    pub cancel_href: String,
}

#[derive(Template)]
#[template(path = "page/audit.html")]
pub(super) struct AuditPage<'a> {
    pub chrome: Chrome<'a>,
    pub rows: Vec<AuditRow>,
    pub next_href: Option<String>,
}

pub(super) struct AuditRow {
    pub iso: String,
    pub when: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub policies: String,
}

#[derive(Template)]
#[template(path = "page/message.html")]
pub(super) struct MessagePage<'a> {
    pub chrome: Chrome<'a>,
    pub heading: String,
    pub explain: String,
    pub links: Vec<(String, String)>,
}

/// `secs` since the Unix epoch as `2026-11-26 17:31 UTC` and as ISO 8601.
pub(super) fn timestamp(secs: u64) -> (String, String) {
    match chrono::DateTime::from_timestamp(secs.min(i64::MAX as u64) as i64, 0) {
        Some(t) => (
            t.format("%Y-%m-%d %H:%M UTC").to_string(),
            t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        None => (secs.to_string(), String::new()),
    }
}
