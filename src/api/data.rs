//! `verify --data`: is the switch visible in each workspace's data? Runs the
//! read-only KQL queries of `rules/verify.yaml` through the Log Analytics
//! query API in its ARM form (`POST {workspace}/api/query`, the same
//! endpoint, token and client as every other call) and judges the answers:
//! Defender for Cloud alerts still arrive at the rate they did before the
//! switch, Defender for Cloud incidents come from Defender XDR, no alert sits
//! in two incidents, and Sentinel's own rules create no incidents from
//! Defender for Cloud alerts. What each check proves and cannot prove:
//! `docs/verify-data.md`.

use super::Client;
use super::journal::{Journal, Status};
use crate::catalog::{Catalog, Verify};
use crate::error::{Error, Result};
use crate::model::{ResourceType, Workspace, encode_segment};
use crate::plan::{Plan, Role};
use crate::render::one_line;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::time::DAY;

/// `--since`: longest window (Sentinel keeps SecurityAlert and
/// SecurityIncident 90 days by default).
const MAX_SINCE: i64 = 90 * DAY;

// ---- time ------------------------------------------------------------------

/// `7d`, `36h`: a duration of whole days or hours, 1h to 90d, in seconds.
pub fn parse_duration(s: &str) -> std::result::Result<i64, String> {
    let t = s.trim();
    let (digits, unit) = t.split_at(t.len().saturating_sub(1));
    let per = match unit {
        "d" | "D" => DAY,
        "h" | "H" => 3600,
        _ => {
            return Err(format!(
                "`{}`: expected days or hours, e.g. 7d or 36h",
                one_line(s)
            ));
        }
    };
    let n: i64 = digits.parse().map_err(|_| {
        format!(
            "`{}`: expected a whole number of days or hours, e.g. 7d or 36h",
            one_line(s)
        )
    })?;
    let secs = n.checked_mul(per).unwrap_or(i64::MAX);
    if !(3600..=MAX_SINCE).contains(&secs) {
        return Err(format!(
            "`{}`: out of range; from 1h to 90d (Sentinel keeps its tables 90 days by default)",
            one_line(s)
        ));
    }
    Ok(secs)
}

/// A UTC time (`crate::time::parse`), in seconds since 1970.
pub fn parse_time(s: &str) -> std::result::Result<i64, String> {
    crate::time::parse(s)
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(secs: i64) -> String {
    crate::time::format(secs)
}

fn now() -> i64 {
    crate::time::now()
}

// ---- the queries -------------------------------------------------------------

/// The time window of one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start: String,
    pub end: String,
    pub switched_at: String,
    /// Where the switch time came from.
    pub switched_at_from: String,
    #[serde(skip)]
    secs: (i64, i64, i64),
}

fn kql_string(s: &str) -> String {
    // A KQL string literal: backslash and double quote escaped.
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn kql_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(kql_string).collect();
    format!("dynamic([{}])", items.join(", "))
}

/// The full text of a check's query, as sent and as an admin pastes it into
/// the portal: the check's marker line, the `let` header with the window and
/// the names, then the query of `verify.yaml`.
pub fn query_text(catalog: &Catalog, check: &str, window: &Window) -> String {
    let v = &catalog.verify;
    let body = v.check(check).map(|c| c.query.as_str()).unwrap_or_default();
    let dfc: Vec<&str> = catalog
        .products
        .iter()
        .filter(|p| p.family == crate::catalog::Family::DefenderForCloud && p.in_alerts)
        .map(|p| p.name.as_str())
        .collect();
    format!(
        "// sentinel-migrate verify --data: {check}\n\
         let window_start = datetime({});\n\
         let window_end = datetime({});\n\
         let switched_at = datetime({});\n\
         let dfc_products = {};\n\
         let xdr_providers = {};\n\
         let sentinel_providers = {};\n\
         {}",
        window.start,
        window.end,
        window.switched_at,
        kql_list(dfc),
        kql_list(v.xdr_providers.iter().map(String::as_str)),
        kql_list(v.sentinel_providers.iter().map(String::as_str)),
        body.trim_end()
    )
}

/// The relative URL of a workspace's query API (ARM form), every segment
/// percent-encoded.
pub fn query_path(workspace: &str, api_version: &str) -> Result<String> {
    let ws = Workspace::parse(workspace)
        .map_err(|e| Error::Usage(format!("the plan's workspace {}: {e}", one_line(workspace))))?;
    let mut path = String::new();
    for seg in ws.id().trim_start_matches('/').split('/') {
        path.push('/');
        path.push_str(&encode_segment(seg));
    }
    Ok(format!(
        "{path}/api/query?api-version={}",
        encode_segment(api_version)
    ))
}

/// One answer row: column name to value.
type Row = BTreeMap<String, Value>;

/// The rows of the first table of a query answer
/// (`{"tables": [{"name", "columns": [{"name", "type"}], "rows": [[...]]}]}`;
/// the older capitalised form `Tables`, `Columns`, `ColumnName`, `Rows` too).
fn rows_of(answer: &Value) -> std::result::Result<Vec<Row>, String> {
    let field = |v: &Value, lower: &str, upper: &str| -> Option<Value> {
        v.get(lower).or_else(|| v.get(upper)).cloned()
    };
    let tables = field(answer, "tables", "Tables")
        .and_then(|t| t.as_array().cloned())
        .ok_or("the answer has no `tables`")?;
    let table = tables
        .iter()
        .find(|t| {
            field(t, "name", "TableName").and_then(|n| n.as_str().map(str::to_string))
                == Some("PrimaryResult".into())
        })
        .or(tables.first())
        .ok_or("the answer has no table")?;
    let columns: Vec<String> = field(table, "columns", "Columns")
        .and_then(|c| c.as_array().cloned())
        .ok_or("the table has no `columns`")?
        .iter()
        .map(|c| {
            field(c, "name", "ColumnName")
                .and_then(|n| n.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    let rows = field(table, "rows", "Rows")
        .and_then(|r| r.as_array().cloned())
        .ok_or("the table has no `rows`")?;
    Ok(rows
        .iter()
        .filter_map(Value::as_array)
        .map(|r| columns.iter().cloned().zip(r.iter().cloned()).collect())
        .collect())
}

fn text(row: &Row, col: &str) -> String {
    match row.get(col) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

fn number(row: &Row, col: &str) -> i64 {
    match row.get(col) {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn truthy(row: &Row, col: &str) -> bool {
    match row.get(col) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
        _ => false,
    }
}

/// A list column (`make_set`): LA sends it as a JSON array or as its text.
fn list(row: &Row, col: &str) -> Vec<String> {
    let value = match row.get(col) {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    match value {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            })
            .collect(),
        Value::Null => Vec::new(),
        Value::String(s) => vec![s],
        v => vec![v.to_string()],
    }
}

// ---- the report --------------------------------------------------------------

/// One check of one workspace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataCheck {
    pub check: String,
    pub title: String,
    /// Some(true) holds, Some(false) does not, None the data cannot tell.
    pub holds: Option<bool>,
    pub detail: String,
    pub evidence: Vec<String>,
    /// The query as sent: paste it into the portal's Logs blade.
    pub query: String,
}

/// The checks of one workspace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkspaceData {
    pub workspace: String,
    pub window: Window,
    pub checks: Vec<DataCheck>,
}

/// Shows a query before it is sent: (workspace, check, query text).
pub type ShowQuery = Arc<dyn Fn(&str, &str, &str) + Send + Sync>;

/// What `verify --data` is given besides the plan.
pub struct Options {
    /// `--since`, seconds.
    pub since: i64,
    pub switched_at: Option<i64>,
    pub until: Option<i64>,
    /// The plan's apply journal, when there is one, and its path (shown).
    pub journal: Option<(Journal, String)>,
    /// The workspaces to check (ARM ids of the plan).
    pub workspaces: Vec<String>,
    /// Workspaces queried at once.
    pub parallelism: usize,
    /// Called with each query before it is sent (`-v`).
    pub show_query: Option<ShowQuery>,
}

/// When apply finished each workspace, by lower-cased workspace id: the
/// latest `done_at` of its done steps.
fn switch_times(plan: &Plan, journal: &Journal) -> BTreeMap<String, i64> {
    let mut times: BTreeMap<String, i64> = BTreeMap::new();
    for (id, step) in &journal.steps {
        if step.status != Status::Done {
            continue;
        }
        let Some(at) = step.done_at.as_deref().and_then(|t| parse_time(t).ok()) else {
            continue;
        };
        let ws = plan
            .actions
            .iter()
            .find(|a| &a.id == id)
            .and_then(|a| a.workspace.clone())
            .or_else(|| Workspace::from_resource_id(&step.resource_id).map(|w| w.id().to_string()));
        if let Some(ws) = ws {
            let e = times.entry(ws.to_ascii_lowercase()).or_insert(at);
            *e = (*e).max(at);
        }
    }
    times
}

/// The windows of the workspaces, or a usage error naming those whose
/// switch time is known from nowhere.
fn windows(plan: &Plan, opts: &Options) -> Result<Vec<(String, Window)>> {
    let end = opts.until.unwrap_or_else(now);
    let start = end - opts.since;
    let from_journal = opts
        .journal
        .as_ref()
        .map(|(j, _)| switch_times(plan, j))
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for ws in &opts.workspaces {
        let (at, from) = match (opts.switched_at, from_journal.get(&ws.to_ascii_lowercase())) {
            (Some(at), _) => (at, "--switched-at".to_string()),
            (None, Some(at)) => {
                let (journal, shown) = opts.journal.as_ref().map(|(j, p)| (j, p.as_str())).unzip();
                let pending = plan
                    .actions
                    .iter()
                    .filter(|a| {
                        a.operation.is_change()
                            && a.blocked.is_none()
                            && a.workspace
                                .as_deref()
                                .is_some_and(|w| w.eq_ignore_ascii_case(ws))
                            && journal
                                .and_then(|j| j.steps.get(&a.id))
                                .is_none_or(|s| s.status != Status::Done)
                    })
                    .count();
                let mut from = format!("{} (the last step apply did)", shown.unwrap_or_default());
                if pending > 0 {
                    from.push_str(&format!(
                        "; apply is not complete: {pending} step(s) of this workspace not done yet (the legacy connectors may still deliver alerts)"
                    ));
                }
                (*at, from)
            }
            (None, None) => {
                unknown.push(ws.clone());
                continue;
            }
        };
        if at >= end {
            return Err(Error::Usage(format!(
                "{}: the switch ({}, from {from}) is not before the end of the window ({}): nothing after it to look at; give --until",
                one_line(ws),
                format_time(at),
                format_time(end)
            )));
        }
        out.push((
            ws.clone(),
            Window {
                start: format_time(start),
                end: format_time(end),
                switched_at: format_time(at),
                switched_at_from: from,
                secs: (start, end, at),
            },
        ));
    }
    if !unknown.is_empty() {
        let why = match &opts.journal {
            Some((_, p)) => format!("{p} records no step done by apply for it"),
            None => {
                "there is no apply-journal.json beside the plan (applied with apply.sh, or not yet)"
                    .to_string()
            }
        };
        return Err(Error::Usage(format!(
            "verify --data: when was the switch in {}? {why}; give the time with --switched-at (e.g. --switched-at 2026-11-20T14:00:00Z): the tool does not guess it",
            unknown
                .iter()
                .map(|w| one_line(w))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(out)
}

/// Runs every check against every workspace of `opts`.
pub async fn verify_data(
    client: Arc<Client>,
    plan: &Plan,
    catalog: &Catalog,
    opts: &Options,
) -> Result<Vec<WorkspaceData>> {
    // The queries, all built (and shown under -v) before any is sent.
    let mut work = Vec::new();
    for (ws, window) in windows(plan, opts)? {
        let path = query_path(&ws, &catalog.verify.query_api_version)?;
        let queries: Vec<(&'static str, String)> = Verify::CHECKS
            .iter()
            .map(|check| (*check, query_text(catalog, check, &window)))
            .collect();
        if let Some(show) = &opts.show_query {
            for (check, query) in &queries {
                show(&ws, check, query);
            }
        }
        work.push((ws, window, path, queries));
    }
    // Workspaces in parallel (each one's queries in turn), results in order.
    let fetched = super::apply::for_each(
        work.iter()
            .map(|(ws, w, path, q)| (ws.clone(), format!("{}/{}", w.start, w.end), path.clone(), q.clone()))
            .collect(),
        opts.parallelism.max(1),
        move |(ws, timespan, path, queries): (String, String, String, Vec<(&'static str, String)>)| {
            let client = client.clone();
            async move {
                let mut answers = Vec::new();
                for (check, query) in queries {
                    let body = json!({"query": query, "timespan": timespan});
                    let answer = client.post(&path, &body).await.map_err(|e| {
                        Error::arm(
                            format!("verify --data: the {check} query of {}", one_line(&ws)),
                            e,
                        )
                    })?;
                    let rows = rows_of(&answer).map_err(|why| {
                        Error::Azure(format!(
                            "verify --data: the {check} query of {}: {why} (expected {{\"tables\": [{{\"name\", \"columns\", \"rows\"}}]}})",
                            one_line(&ws)
                        ))
                    })?;
                    answers.push((check, (query, rows)));
                }
                Ok::<_, Error>(answers)
            }
        },
    )
    .await;
    let mut report = Vec::new();
    for ((ws, window, _, _), answers) in work.into_iter().zip(fetched) {
        let answers: Answers = answers?.into_iter().collect();
        let secondary = plan
            .workspaces
            .iter()
            .find(|w| w.id.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(&ws)))
            .and_then(|w| w.tenancy.as_ref())
            .filter(|t| t.role == Role::Secondary)
            .map(|t| {
                t.primary
                    .clone()
                    .unwrap_or_else(|| "its tenant's primary".into())
            });
        let checks = judge(plan, catalog, &ws, &window, secondary.as_deref(), &answers);
        report.push(WorkspaceData {
            workspace: ws,
            window,
            checks,
        });
    }
    Ok(report)
}

type Answers<'a> = BTreeMap<&'a str, (String, Vec<Row>)>;

/// The verdicts, from the answers (pure: the unit tests feed it rows).
fn judge(
    plan: &Plan,
    catalog: &Catalog,
    ws: &str,
    window: &Window,
    secondary: Option<&str>,
    answers: &Answers,
) -> Vec<DataCheck> {
    let v = &catalog.verify;
    let get = |id: &str| answers.get(id).cloned().unwrap_or_default();
    let check = |id: &str, holds, detail: String, evidence: Vec<String>| DataCheck {
        check: id.to_string(),
        title: v.check(id).map(|c| c.title.clone()).unwrap_or_default(),
        holds,
        detail: one_line(&detail),
        evidence: evidence.iter().map(|e| one_line(e)).collect(),
        query: get(id).0,
    };
    let (start, end, at) = window.secs;
    let mut out = Vec::new();

    // Alerts still arriving: the rate per day before and after the switch.
    let (_, rows) = get("alerts-per-day");
    let mut days: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    let mut d = start.div_euclid(DAY) * DAY;
    while d < end {
        days.insert(d, (0, 0));
        d += DAY;
    }
    let (mut before, mut after) = (0i64, 0i64);
    for r in &rows {
        let n = number(r, "Alerts");
        let day = parse_time(&text(r, "Day"))
            .map(|t| t.div_euclid(DAY) * DAY)
            .unwrap_or(start);
        let e = days.entry(day).or_default();
        if truthy(r, "After") {
            after = after.saturating_add(n);
            e.1 = e.1.saturating_add(n);
        } else {
            before = before.saturating_add(n);
            e.0 = e.0.saturating_add(n);
        }
    }
    let before_days = (at - start) as f64 / DAY as f64;
    let after_days = (end - at) as f64 / DAY as f64;
    let evidence: Vec<String> = days
        .iter()
        .map(|(day, (b, a))| {
            let date = &format_time(*day)[..10];
            match (*day + DAY <= at, *day >= at) {
                (true, _) => format!("{date}: {b} (before the switch)"),
                (_, true) => format!("{date}: {a} (after the switch)"),
                _ => format!("{date}: {b} before, {a} after the switch"),
            }
        })
        .collect();
    let rates = |n: i64, days: f64| if days > 0.0 { n as f64 / days } else { 0.0 };
    let (rate_before, rate_after) = (rates(before, before_days), rates(after, after_days));
    let counts = format!(
        "{after} after the switch in {after_days:.1} day(s) ({rate_after:.1}/day), {before} before it in {before_days:.1} day(s) ({rate_before:.1}/day), Informational left out"
    );
    let (holds, detail) = if at <= start {
        (
            None,
            "the switch is before the window: nothing before it to compare with; widen --since"
                .to_string(),
        )
    } else if after_days < 1.0 {
        (
            None,
            format!("less than a day since the switch: run again later ({counts})"),
        )
    } else if before == 0 && after == 0 {
        (
            None,
            "no Defender for Cloud alerts (not Informational) in the window, before or after the switch: nothing to compare".to_string(),
        )
    } else if rate_after < v.lost_alerts_below * rate_before {
        (
            Some(false),
            format!(
                "lost alerts: {counts}; below {:.0}% of the rate before the switch",
                v.lost_alerts_below * 100.0
            ),
        )
    } else {
        (Some(true), counts)
    };
    out.push(check("alerts-per-day", holds, detail, evidence));

    // Defender for Cloud incidents from Defender XDR.
    let (_, rows) = get("xdr-incidents");
    let is = |list: &[String], p: &str| list.iter().any(|x| x.eq_ignore_ascii_case(p));
    let xdr: i64 = rows
        .iter()
        .filter(|r| is(&v.xdr_providers, &text(r, "ProviderName")))
        .map(|r| number(r, "Incidents"))
        .fold(0i64, i64::saturating_add);
    let evidence: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{}: {} incident(s)",
                text(r, "ProviderName"),
                number(r, "Incidents")
            )
        })
        .collect();
    let (holds, detail) = if let Some(primary) = secondary {
        (
            None,
            format!(
                "a secondary workspace: Defender XDR incidents go to the tenant's primary ({primary}); check it there"
            ),
        )
    } else if xdr > 0 {
        (
            Some(true),
            format!(
                "{xdr} incident(s) with Defender for Cloud alerts from Defender XDR since the switch"
            ),
        )
    } else if after > 0 {
        (
            Some(false),
            format!(
                "{after} Defender for Cloud alert(s) since the switch, but no incident from Defender XDR ({}): is the Defender XDR connector streaming incidents?",
                v.xdr_providers.join(", ")
            ),
        )
    } else {
        (
            None,
            "no Defender for Cloud alerts since the switch: no incident to show".to_string(),
        )
    };
    out.push(check("xdr-incidents", holds, detail, evidence));

    // Alerts in more than one incident.
    let (_, rows) = get("duplicates");
    let evidence: Vec<String> = rows
        .iter()
        .map(|r| {
            let numbers: Vec<String> = list(r, "IncidentNumbers")
                .iter()
                .map(|n| format!("#{n}"))
                .collect();
            format!(
                "alert {} ({}) in {} incidents: {} (from {})",
                text(r, "SystemAlertId"),
                text(r, "AlertName"),
                number(r, "Incidents"),
                numbers.join(", "),
                list(r, "Providers").join(", ")
            )
        })
        .collect();
    let (holds, detail) = if rows.is_empty() {
        (
            Some(true),
            "no Defender for Cloud alert since the switch sits in more than one incident"
                .to_string(),
        )
    } else {
        (
            Some(false),
            format!(
                "{} Defender for Cloud alert(s) since the switch sit in more than one incident: likely duplicates",
                rows.len()
            ),
        )
    };
    out.push(check("duplicates", holds, detail, evidence));

    // Sentinel-created incidents still carrying Defender for Cloud alerts.
    let (_, rows) = get("sentinel-incidents");
    let mut rules = Vec::new();
    let evidence: Vec<String> = rows
        .iter()
        .map(|r| {
            let id = text(r, "RuleId");
            let who = rule_name(plan, ws, &id);
            rules.push(who.clone());
            let numbers: Vec<String> = list(r, "IncidentNumbers")
                .iter()
                .map(|n| format!("#{n}"))
                .collect();
            format!(
                "{who}: {} incident(s): {}",
                number(r, "Incidents"),
                numbers.join(", ")
            )
        })
        .collect();
    let (holds, detail) = if rows.is_empty() {
        (
            Some(true),
            "no incident created by Sentinel since the switch holds Defender for Cloud alerts"
                .to_string(),
        )
    } else {
        (
            Some(false),
            format!(
                "Sentinel still creates incidents from Defender for Cloud alerts: {}",
                rules.join("; ")
            ),
        )
    };
    out.push(check("sentinel-incidents", holds, detail, evidence));
    out
}

/// The analytics rule an incident names (`RelatedAnalyticRuleIds`: a rule's
/// name or ARM id), as the plan knows it.
fn rule_name(plan: &Plan, ws: &str, id: &str) -> String {
    if id.trim().is_empty() {
        return "incidents that name no analytics rule".to_string();
    }
    let last = |s: &str| {
        s.trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let wanted = last(id);
    let found = plan.actions.iter().find(|a| {
        a.resource_type == Some(ResourceType::AlertRules)
            && a.workspace
                .as_deref()
                .is_none_or(|w| w.eq_ignore_ascii_case(ws))
            && (a
                .name
                .as_deref()
                .is_some_and(|n| n.to_ascii_lowercase() == wanted)
                || a.resource_id.as_deref().is_some_and(|r| last(r) == wanted))
    });
    match found {
        Some(a) => format!(
            "rule `{}` ({id}; the plan's step {}: {})",
            a.display_name
                .as_deref()
                .or(a.name.as_deref())
                .unwrap_or(id),
            a.id,
            serde_json::to_value(a.verb)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ),
        None => format!("rule {id} (not in the plan: a rule the plan missed)"),
    }
}

// ---- output --------------------------------------------------------------------

fn counts(report: &[WorkspaceData]) -> (usize, usize, usize) {
    let all = report.iter().flat_map(|w| &w.checks);
    let n = |h: Option<bool>| all.clone().filter(|c| c.holds == h).count();
    (n(Some(true)), n(Some(false)), n(None))
}

/// Whether every check that the data can tell holds.
pub fn all_hold(report: &[WorkspaceData]) -> bool {
    counts(report).1 == 0
}

/// `--format json`.
pub fn json(report: &[WorkspaceData]) -> Value {
    let (hold, fail, unknown) = counts(report);
    json!({
        "format_version": "1",
        "command": "verify --data",
        "all_hold": fail == 0,
        "hold": hold,
        "do_not_hold": fail,
        "cannot_be_told": unknown,
        "workspaces": report,
    })
}

/// Human output: per workspace each check, its verdict and evidence.
pub fn report(report: &[WorkspaceData], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    for w in report {
        writeln!(
            out,
            "Workspace {}\n  window {} to {}; switched at {} (from {})",
            one_line(&w.workspace),
            w.window.start,
            w.window.end,
            w.window.switched_at,
            one_line(&w.window.switched_at_from)
        )?;
        for c in &w.checks {
            let mark = match c.holds {
                Some(true) => "ok  ",
                Some(false) => "FAIL",
                None => "--  ",
            };
            writeln!(
                out,
                "  {mark} {}: {}: {}",
                c.check,
                one_line(&c.title),
                one_line(&c.detail)
            )?;
            for e in &c.evidence {
                writeln!(out, "         {}", one_line(e))?;
            }
        }
    }
    let (hold, fail, unknown) = counts(report);
    writeln!(
        out,
        "Verify --data: {hold} hold, {fail} do not, {unknown} cannot be told from the data. The same SecurityAlert rows arrive through either connector: they show that alerts arrive, not which path delivers them. `-v` prints each query (also in --format json)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contoso() -> Plan {
        let inputs = crate::source::read(
            &[std::path::PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/contoso"
            ))],
            &crate::source::ReadOptions::default(),
        )
        .unwrap();
        crate::plan::plan(&inputs, &Catalog::embedded().unwrap(), &Default::default()).unwrap()
    }

    /// Day 0 to day 10, the switch at day `at` (fractional), with `before`
    /// and `after` alerts.
    fn alerts_verdict(at: f64, before: i64, after: i64) -> (Option<bool>, String) {
        let catalog = Catalog::embedded().unwrap();
        let (start, end) = (0, 10 * DAY);
        let at = (at * DAY as f64) as i64;
        let window = Window {
            start: format_time(start),
            end: format_time(end),
            switched_at: format_time(at),
            switched_at_from: "test".into(),
            secs: (start, end, at),
        };
        let row = |after: bool, n: i64| -> Row {
            [
                (
                    "Day".to_string(),
                    json!(format_time(if after { at } else { start })),
                ),
                ("After".to_string(), json!(after)),
                ("Alerts".to_string(), json!(n)),
            ]
            .into_iter()
            .collect()
        };
        let mut answers: Answers = BTreeMap::new();
        answers.insert(
            "alerts-per-day",
            (String::new(), vec![row(false, before), row(true, after)]),
        );
        let checks = judge(&contoso(), &catalog, "ws", &window, None, &answers);
        (checks[0].holds, checks[0].detail.clone())
    }

    #[test]
    fn alerts_are_lost_below_half_the_rate_before_the_switch() {
        // 5 days each side: 10/day before.
        assert_eq!(alerts_verdict(5.0, 50, 25).0, Some(true));
        assert_eq!(alerts_verdict(5.0, 50, 24).0, Some(false));
        let (_, detail) = alerts_verdict(5.0, 50, 0);
        assert!(
            detail.starts_with(
                "lost alerts: 0 after the switch in 5.0 day(s) (0.0/day), 50 before it"
            ),
            "{detail}"
        );
        // Rates, not totals: 2 days after at 10/day hold against 8 days before.
        assert_eq!(alerts_verdict(8.0, 80, 20).0, Some(true));
        // Cannot tell: too early, nothing before or after, switch before the window.
        let (h, d) = alerts_verdict(9.5, 95, 0);
        assert_eq!(h, None);
        assert!(d.starts_with("less than a day since the switch"), "{d}");
        assert_eq!(alerts_verdict(5.0, 0, 0).0, None);
        assert_eq!(alerts_verdict(0.0, 0, 40).0, None);
        // Alerts only after the switch: they arrive.
        assert_eq!(alerts_verdict(5.0, 0, 3).0, Some(true));
    }

    #[test]
    fn xdr_incidents_cannot_be_told_in_a_secondary_workspace_and_fail_when_alerts_came_alone() {
        let catalog = Catalog::embedded().unwrap();
        let window = Window {
            start: format_time(0),
            end: format_time(10 * DAY),
            switched_at: format_time(5 * DAY),
            switched_at_from: "test".into(),
            secs: (0, 10 * DAY, 5 * DAY),
        };
        let mut answers: Answers = BTreeMap::new();
        let alerts: Row = [
            ("Day".to_string(), json!(format_time(6 * DAY))),
            ("After".to_string(), json!(true)),
            ("Alerts".to_string(), json!(7)),
        ]
        .into_iter()
        .collect();
        answers.insert("alerts-per-day", (String::new(), vec![alerts]));
        let plan = contoso();
        let xdr = |secondary| judge(&plan, &catalog, "ws", &window, secondary, &answers)[1].clone();
        let none = xdr(None);
        assert_eq!(none.holds, Some(false));
        assert!(
            none.detail.contains(
                "7 Defender for Cloud alert(s) since the switch, but no incident from Defender XDR"
            ),
            "{}",
            none.detail
        );
        let secondary = xdr(Some(
            "/subscriptions/p/resourceGroups/r/providers/Microsoft.OperationalInsights/workspaces/primary",
        ));
        assert_eq!(secondary.holds, None);
        assert!(
            secondary.detail.contains("workspaces/primary"),
            "{}",
            secondary.detail
        );
        let older: Row = [
            ("ProviderName".to_string(), json!("Microsoft 365 Defender")),
            ("Incidents".to_string(), json!(2)),
        ]
        .into_iter()
        .collect();
        answers.insert("xdr-incidents", (String::new(), vec![older]));
        let found = judge(&plan, &catalog, "ws", &window, None, &answers)[1].clone();
        assert_eq!(found.holds, Some(true), "{}", found.detail);
    }

    #[test]
    fn durations_are_days_or_hours_and_bounded() {
        assert_eq!(parse_duration("7d"), Ok(7 * DAY));
        assert_eq!(parse_duration("36h"), Ok(36 * 3600));
        assert_eq!(parse_duration("90d"), Ok(90 * DAY));
        for bad in [
            "",
            "d",
            "7",
            "7w",
            "-1d",
            "0h",
            "91d",
            "2161h",
            "1.5d",
            "99999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_in_either_casing_are_read() {
        let lower = json!({"tables": [{"name": "PrimaryResult", "columns": [{"name": "A", "type": "long"}, {"name": "B", "type": "string"}], "rows": [[1, "x"]]}]});
        let upper = json!({"Tables": [{"TableName": "Table_0", "Columns": [{"ColumnName": "A", "DataType": "Int64"}, {"ColumnName": "B", "DataType": "String"}], "Rows": [[1, "x"]]}]});
        for a in [lower, upper] {
            let rows = rows_of(&a).unwrap();
            assert_eq!(number(&rows[0], "A"), 1);
            assert_eq!(text(&rows[0], "B"), "x");
        }
        assert!(rows_of(&json!({"value": []})).is_err());
        let r: Row = [("L".to_string(), json!("[\"1\",2]"))]
            .into_iter()
            .collect();
        assert_eq!(list(&r, "L"), vec!["1", "2"]);
    }

    #[test]
    fn queries_carry_their_window_and_names_as_kql_literals() {
        let catalog = Catalog::embedded().unwrap();
        let w = Window {
            start: "2026-11-20T00:00:00Z".into(),
            end: "2026-11-27T00:00:00Z".into(),
            switched_at: "2026-11-23T12:00:00Z".into(),
            switched_at_from: "test".into(),
            secs: (0, 0, 0),
        };
        let q = query_text(&catalog, "duplicates", &w);
        assert!(
            q.starts_with("// sentinel-migrate verify --data: duplicates\n"),
            "{q}"
        );
        assert!(
            q.contains("let switched_at = datetime(2026-11-23T12:00:00Z);"),
            "{q}"
        );
        assert!(
            q.contains("let dfc_products = dynamic([\"Azure Security Center\"]);"),
            "{q}"
        );
        assert!(
            q.contains("summarize arg_max(TimeGenerated, *) by IncidentName"),
            "{q}"
        );
        assert_eq!(kql_string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            query_path(
                "/subscriptions/s/resourceGroups/r(g)/providers/Microsoft.OperationalInsights/workspaces/w",
                "2020-08-01"
            )
            .unwrap(),
            "/subscriptions/s/resourceGroups/r%28g%29/providers/Microsoft.OperationalInsights/workspaces/w/api/query?api-version=2020-08-01"
        );
    }
}
