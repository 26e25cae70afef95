//! The changes posted from the list: the one-click steps (revoke,
//! reinstate, re-invite), removal with a confirmation, and bulk changes with
//! a result for each row. Each checks the session's CSRF token and goes back
//! to the list it came from.

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::list::{ListQuery, href, render};
use super::respond::{Fields, Page, explain, failure, html, see_other};
use super::viewer::{Signed, Viewer, moved_on, no_user};
use super::views::{ConfirmPage, ResultRow, ResultsPage};
use crate::error::Error;
use crate::model::{BulkAction, Target};

/// A change posted from the list, by a signed-in viewer with the session's
/// CSRF token: the viewer, the form and the list to go back to; or the page
/// that refuses it.
async fn from_list<'a>(
    signed: &'a Signed,
    body: &Bytes,
) -> Result<(Viewer<'a>, Fields, ListQuery), Response> {
    let viewer = signed.viewer();
    let fields = Fields::parse(body);
    let query = ListQuery::from_back(fields.get("back"));
    if !viewer.csrf_ok(fields.get("csrf")) {
        let error = viewer.m.t("error-csrf");
        return Err(render(&viewer, &query, StatusCode::FORBIDDEN, None, Some(error)).await);
    }
    Ok((viewer, fields, query))
}

/// The membership version the form read, or the list saying it is missing.
async fn version_in(
    viewer: &Viewer<'_>,
    fields: &Fields,
    query: &ListQuery,
) -> Result<u64, Response> {
    match fields.get("version").parse() {
        Ok(version) => Ok(version),
        Err(_) => {
            let error = viewer.m.t1("error-invalid", "reason", "version");
            Err(render(
                viewer,
                query,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(error),
            )
            .await)
        }
    }
}

/// A one-click step from the list: revoke, reinstate or re-invite. Back to
/// the list with a notice, or the list with the error saying what to do.
pub(super) async fn step(
    signed: Signed,
    Path((person, step)): Path<(String, String)>,
    body: Bytes,
) -> Page {
    let (viewer, fields, query) = from_list(&signed, &body).await?;
    let version = version_in(&viewer, &fields, &query).await?;
    let target = Target::person(person.clone(), version);
    let gate = &viewer.state.gate;
    let (result, notice) = match step.as_str() {
        "revoke" => (gate.revoke_user(viewer.actor, target).await, "revoked"),
        "reinstate" => (
            gate.reinstate_user(viewer.actor, target).await,
            "reinstated",
        ),
        "reinvite" => (gate.reinvite_user(viewer.actor, target).await, "reinvited"),
        _ => {
            return Ok(failure(
                viewer.page,
                viewer.m,
                &Error::NotFound(format!("no step `{step}`")),
            ));
        }
    };
    Ok(done(&viewer, &query, (&person, version), result, notice).await)
}

/// Back to the list with `notice`, or the list with the error.
async fn done<T>(
    viewer: &Viewer<'_>,
    query: &ListQuery,
    (person, version): (&str, u64),
    result: Result<T, Error>,
    notice: &str,
) -> Response {
    match result {
        Ok(_) => {
            let mut to = query.encode(query.cursor.as_deref());
            if !to.is_empty() {
                to.push('&');
            }
            to.push_str("notice=");
            to.push_str(notice);
            see_other(&href(&viewer.page.prefix, &to))
        }
        Err(err) => {
            let stale =
                matches!(err, Error::Conflict(_)) && moved_on(viewer, person, version).await;
            let (status, text) = explain(viewer.m, &err, stale);
            render(viewer, query, status, None, Some(text)).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct VersionQuery {
    version: Option<u64>,
}

/// The confirmation before removing one user; nothing about a user the
/// viewer may not view.
pub(super) async fn confirm_remove(
    signed: Signed,
    Path(person): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Page {
    let viewer = signed.viewer();
    let m = viewer.m;
    let names = visible_names(&viewer, std::slice::from_ref(&person))
        .await
        .map_err(|err| viewer.failed(err))?;
    let Some(name) = names.into_iter().next().flatten() else {
        return Ok(no_user(&viewer));
    };
    let nav = viewer.nav().await.unwrap_or_default();
    let prefix = &viewer.page.prefix;
    Ok(html(
        StatusCode::OK,
        ConfirmPage {
            chrome: viewer.chrome(m.t1("remove-title", "name", &name), "users", nav),
            heading: m.t1("remove-title", "name", &name),
            explain: m.t1("remove-explain", "name", &name),
            names: Vec::new(),
            action: format!("{prefix}/users/{person}/remove"),
            back: String::new(),
            hidden: vec![(
                "version".into(),
                q.version.map(|v| v.to_string()).unwrap_or_default(),
            )],
            cancel_href: prefix.clone(),
        },
    ))
}

/// Removes one user once confirmed.
pub(super) async fn remove(signed: Signed, Path(person): Path<String>, body: Bytes) -> Page {
    let (viewer, fields, query) = from_list(&signed, &body).await?;
    let version = version_in(&viewer, &fields, &query).await?;
    if fields.get("confirmed") != "yes" {
        return Ok(see_other(&format!(
            "{}/users/{person}/remove?version={version}",
            viewer.page.prefix
        )));
    }
    let target = Target::person(person.clone(), version);
    let result = viewer.state.gate.remove_user(viewer.actor, target).await;
    Ok(done(&viewer, &query, (&person, version), result, "removed").await)
}

/// The names of `people` the viewer may view (`viewUser`), `None` for the
/// others: whether they exist is not the viewer's to learn.
pub(super) async fn visible_names(
    viewer: &Viewer<'_>,
    people: &[String],
) -> Result<Vec<Option<String>>, Error> {
    if people.is_empty() {
        return Ok(Vec::new());
    }
    let views = viewer
        .state
        .gate
        .get_users(viewer.actor, people.to_vec())
        .await?;
    Ok(views
        .into_iter()
        .map(|view| view.map(|v| v.member.person.name))
        .collect())
}

/// A bulk change of the selected rows: a result for each; removal asks
/// for a confirmation first.
pub(super) async fn bulk(signed: Signed, body: Bytes) -> Page {
    let (viewer, fields, query) = from_list(&signed, &body).await?;
    let m = viewer.m;
    let refuse = |error: String| {
        render(
            &viewer,
            &query,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(error),
        )
    };
    let (action, notice_key) = match fields.get("action") {
        "revoke" => (BulkAction::Revoke, "action-revoke"),
        "reinstate" => (BulkAction::Reinstate, "action-reinstate"),
        "remove" => (BulkAction::Remove, "action-remove"),
        "reinvite" => (BulkAction::Reinvite, "action-reinvite"),
        other => {
            return Ok(refuse(m.t1("error-invalid", "reason", other)).await);
        }
    };
    let targets: Vec<Target> = fields
        .all("target")
        .filter_map(|t| {
            let (person, version) = t.rsplit_once(':')?;
            Some(Target::person(person, version.parse().ok()?))
        })
        .collect();
    if targets.is_empty() {
        return Ok(refuse(m.t("bulk-none-selected")).await);
    }
    let people: Vec<String> = targets.iter().map(|t| t.person_id.clone()).collect();
    let names = visible_names(&viewer, &people)
        .await
        .map_err(|err| viewer.failed(err))?;
    let who: Vec<String> = people
        .iter()
        .zip(names)
        .map(|(id, name)| name.unwrap_or_else(|| id.clone()))
        .collect();
    let prefix = &viewer.page.prefix;
    let back = href(prefix, &query.encode(query.cursor.as_deref()));
    let nav = viewer.nav().await.unwrap_or_default();
    if action == BulkAction::Remove && fields.get("confirmed") != "yes" {
        let count = targets.len().to_string();
        let mut hidden = vec![("action".to_string(), "remove".to_string())];
        hidden.extend(targets.iter().map(|t| {
            (
                "target".to_string(),
                format!("{}:{}", t.person_id, t.version),
            )
        }));
        return Ok(html(
            StatusCode::OK,
            ConfirmPage {
                chrome: viewer.chrome(m.t1("bulk-remove-title", "count", &count), "users", nav),
                heading: m.t1("bulk-remove-title", "count", &count),
                explain: m.t("bulk-remove-explain"),
                names: who,
                action: format!("{prefix}/bulk"),
                back: query.encode(query.cursor.as_deref()),
                hidden,
                cancel_href: back,
            },
        ));
    }
    let results = match viewer
        .state
        .gate
        .bulk_change(viewer.actor, action, targets)
        .await
    {
        Ok(results) => results,
        Err(err) => {
            let (status, text) = explain(m, &err, false);
            return Ok(render(&viewer, &query, status, None, Some(text)).await);
        }
    };
    let total = results.len();
    let mut ok = 0;
    let done_text = m.t("result-ok");
    let rows = who
        .into_iter()
        .zip(results)
        .map(|(who, result)| match result {
            Ok(_) => {
                ok += 1;
                ResultRow {
                    who,
                    ok: true,
                    outcome: done_text.clone(),
                }
            }
            Err(err) => ResultRow {
                who,
                ok: false,
                outcome: m.t1("result-failed", "reason", &explain(m, &err, false).1),
            },
        })
        .collect();
    let title = m.t("results-title");
    Ok(html(
        StatusCode::OK,
        ResultsPage {
            chrome: viewer.chrome(format!("{title}: {}", m.t(notice_key)), "users", nav),
            summary: m.t2(
                "results-summary",
                ("done", &ok.to_string()),
                ("total", &total.to_string()),
            ),
            rows,
            back,
        },
    ))
}
