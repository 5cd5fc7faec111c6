//! The Log Analytics query API in its ARM form
//! (`POST {workspace}/api/query?api-version=2020-08-01`), answered from
//! seeded `SecurityAlert` and `SecurityIncident` rows.
//!
//! The emulator runs no KQL. It recognises sentinel-migrate's own queries by
//! their first line (`// sentinel-migrate verify --data: <check>`), reads
//! their parameters from the `let` statements that follow
//! (`let window_start = datetime(...);`, `let dfc_products = dynamic([...]);`)
//! and computes what the query would answer from the seeded rows, with the
//! real answer's shape: `{"tables": [{"name": "PrimaryResult", "columns":
//! [{"name", "type"}], "rows": [[...]]}]}` (dynamic columns as JSON text,
//! as the service sends them). Any other query is a 400 `BadArgumentError`.

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The query api-versions accepted.
pub(super) const API_VERSIONS: [&str; 1] = ["2020-08-01"];

/// The seeded tables of one workspace.
#[derive(Debug, Default, Clone)]
pub(super) struct Tables {
    pub alerts: Vec<Map<String, Value>>,
    pub incidents: Vec<Map<String, Value>>,
}

/// The workspace key (`sub/rg/ws`, lower-cased) of a query path
/// `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/workspaces/{w}/api/query`,
/// its segments percent-decoded; None for any other path.
pub(super) fn route(path: &str) -> Option<String> {
    let segs: Vec<String> = path
        .trim_end_matches('/')
        .split('/')
        .map(|s| super::route::percent_decode(s).unwrap_or_default())
        .collect();
    let kw = |i: usize, w: &str| segs.get(i).is_some_and(|s| s.eq_ignore_ascii_case(w));
    let ok = segs.len() == 11
        && segs[0].is_empty()
        && kw(1, "subscriptions")
        && kw(3, "resourceGroups")
        && kw(5, "providers")
        && kw(7, "workspaces")
        && kw(9, "api")
        && kw(10, "query")
        && [2, 4, 6, 8].iter().all(|&i| !segs[i].is_empty());
    ok.then(|| {
        format!(
            "{}/{}/{}",
            segs[2].to_lowercase(),
            segs[4].to_lowercase(),
            segs[8].to_lowercase()
        )
    })
}

/// The parameters of a query: `let NAME = datetime(X);` and
/// `let NAME = dynamic([...]);` lines.
struct Params {
    check: String,
    times: BTreeMap<String, i64>,
    lists: BTreeMap<String, Vec<String>>,
}

fn params(query: &str) -> Result<Params, String> {
    let mut lines = query.lines();
    let check = lines
        .next()
        .and_then(|l| l.trim().strip_prefix("// sentinel-migrate verify --data:"))
        .map(|c| c.trim().to_string())
        .ok_or("this emulator runs no KQL: it answers only sentinel-migrate's own queries, whose first line is `// sentinel-migrate verify --data: <check>`")?;
    let mut times = BTreeMap::new();
    let mut lists = BTreeMap::new();
    for line in lines {
        let Some(rest) = line.trim().strip_prefix("let ") else {
            continue;
        };
        let Some((name, value)) = rest.split_once(" = ") else {
            continue;
        };
        let value = value.trim().trim_end_matches(';');
        if let Some(t) = value
            .strip_prefix("datetime(")
            .and_then(|v| v.strip_suffix(')'))
        {
            let t = parse_time(t).ok_or(format!("`{name}`: not a datetime: {t}"))?;
            times.insert(name.to_string(), t);
        } else if let Some(l) = value
            .strip_prefix("dynamic(")
            .and_then(|v| v.strip_suffix(')'))
        {
            let l: Vec<String> =
                serde_json::from_str(l).map_err(|e| format!("`{name}`: not a list: {e}"))?;
            lists.insert(name.to_string(), l);
        }
    }
    Ok(Params {
        check,
        times,
        lists,
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.f]Z` in seconds since 1970.
fn parse_time(s: &str) -> Option<i64> {
    s.trim()
        .parse::<jiff::Timestamp>()
        .ok()
        .map(jiff::Timestamp::as_second)
}

/// The midnight (UTC) that starts the day of `secs`, as KQL's
/// `startofday()` prints it.
fn format_day(secs: i64) -> String {
    jiff::Timestamp::from_second(secs.div_euclid(86_400) * 86_400)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn s<'a>(row: &'a Map<String, Value>, col: &str) -> &'a str {
    row.get(col).and_then(Value::as_str).unwrap_or_default()
}

fn time(row: &Map<String, Value>, col: &str) -> Option<i64> {
    parse_time(s(row, col))
}

/// A dynamic column: a JSON array, or its text.
fn array(row: &Map<String, Value>, col: &str) -> Vec<String> {
    let v = match row.get(col) {
        Some(Value::String(t)) => serde_json::from_str(t).unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn table(columns: &[(&str, &str)], rows: Vec<Vec<Value>>) -> Value {
    json!({"tables": [{
        "name": "PrimaryResult",
        "columns": columns.iter().map(|(n, t)| json!({"name": n, "type": t})).collect::<Vec<_>>(),
        "rows": rows,
    }]})
}

fn text_set(set: &BTreeSet<String>) -> Value {
    Value::String(serde_json::to_string(set).unwrap_or_default())
}

/// `arg_max(TimeGenerated, *) by key`, over the rows given.
fn latest<'a>(
    rows: impl Iterator<Item = &'a Map<String, Value>>,
    key: &str,
) -> BTreeMap<String, &'a Map<String, Value>> {
    let mut by: BTreeMap<String, &Map<String, Value>> = BTreeMap::new();
    for r in rows {
        let k = s(r, key).to_string();
        match by.get(&k) {
            Some(old) if time(old, "TimeGenerated") >= time(r, "TimeGenerated") => {}
            _ => {
                by.insert(k, r);
            }
        }
    }
    by
}

/// The answer to one of sentinel-migrate's queries, or why it is refused.
pub(super) fn answer(tables: &Tables, query: &str) -> Result<Value, String> {
    let p = params(query)?;
    let t = |n: &str| {
        p.times
            .get(n)
            .copied()
            .ok_or(format!("the query has no `let {n} = datetime(...)`"))
    };
    let l = |n: &str| {
        p.lists
            .get(n)
            .cloned()
            .ok_or(format!("the query has no `let {n} = dynamic([...])`"))
    };
    let (start, end, switched) = (t("window_start")?, t("window_end")?, t("switched_at")?);
    let products = l("dfc_products")?;
    let within = |r: &Map<String, Value>, from: i64| {
        time(r, "TimeGenerated").is_some_and(|x| x >= from && x < end)
    };
    let dfc = |r: &Map<String, Value>| products.iter().any(|p| p == s(r, "ProductName"));
    let dfc_ids = |from: i64| -> BTreeSet<String> {
        tables
            .alerts
            .iter()
            .filter(|r| within(r, from) && dfc(r))
            .map(|r| s(r, "SystemAlertId").to_string())
            .collect()
    };
    let incidents = latest(
        tables.incidents.iter().filter(|r| within(r, start)),
        "IncidentName",
    );
    let created_since =
        |r: &Map<String, Value>| time(r, "CreatedTime").is_some_and(|c| c >= switched);
    match p.check.as_str() {
        "alerts-per-day" => {
            let alerts = latest(
                tables.alerts.iter().filter(|r| within(r, start) && dfc(r)),
                "SystemAlertId",
            );
            let mut counts: BTreeMap<(i64, bool), i64> = BTreeMap::new();
            for r in alerts
                .values()
                .filter(|r| s(r, "AlertSeverity") != "Informational")
            {
                let tg = time(r, "TimeGenerated").unwrap_or(start);
                *counts
                    .entry((tg.div_euclid(86_400) * 86_400, tg >= switched))
                    .or_default() += 1;
            }
            let rows = counts
                .into_iter()
                .map(|((day, after), n)| vec![json!(format_day(day)), json!(after), json!(n)])
                .collect();
            Ok(table(
                &[("Day", "datetime"), ("After", "bool"), ("Alerts", "long")],
                rows,
            ))
        }
        "xdr-incidents" => {
            let ids = dfc_ids(start);
            let mut by: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (name, r) in incidents.iter().filter(|(_, r)| created_since(r)) {
                if array(r, "AlertIds").iter().any(|a| ids.contains(a)) {
                    by.entry(s(r, "ProviderName").to_string())
                        .or_default()
                        .insert(name.clone());
                }
            }
            let rows = by
                .into_iter()
                .map(|(p, set)| vec![json!(p), json!(set.len())])
                .collect();
            Ok(table(
                &[("ProviderName", "string"), ("Incidents", "long")],
                rows,
            ))
        }
        "duplicates" => {
            let alerts = latest(
                tables
                    .alerts
                    .iter()
                    .filter(|r| within(r, switched) && dfc(r)),
                "SystemAlertId",
            );
            type Found = (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>);
            let mut by: BTreeMap<(String, String), Found> = BTreeMap::new();
            for (name, r) in &incidents {
                for a in array(r, "AlertIds") {
                    if let Some(alert) = alerts.get(&a) {
                        let e = by
                            .entry((a.clone(), s(alert, "AlertName").to_string()))
                            .or_default();
                        e.0.insert(name.clone());
                        e.1.insert(
                            r.get("IncidentNumber")
                                .map(|n| n.as_str().map_or_else(|| n.to_string(), str::to_string))
                                .unwrap_or_default(),
                        );
                        e.2.insert(s(r, "ProviderName").to_string());
                    }
                }
            }
            let rows = by
                .into_iter()
                .filter(|(_, (names, _, _))| names.len() > 1)
                .map(|((id, alert), (names, numbers, providers))| {
                    vec![
                        json!(id),
                        json!(alert),
                        json!(names.len()),
                        text_set(&numbers),
                        text_set(&providers),
                    ]
                })
                .collect();
            Ok(table(
                &[
                    ("SystemAlertId", "string"),
                    ("AlertName", "string"),
                    ("Incidents", "long"),
                    ("IncidentNumbers", "dynamic"),
                    ("Providers", "dynamic"),
                ],
                rows,
            ))
        }
        "sentinel-incidents" => {
            let ids = dfc_ids(start);
            let sentinel = l("sentinel_providers")?;
            let mut by: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
            for (name, r) in incidents.iter().filter(|(_, r)| {
                created_since(r) && sentinel.iter().any(|p| p == s(r, "ProviderName"))
            }) {
                if !array(r, "AlertIds").iter().any(|a| ids.contains(a)) {
                    continue;
                }
                let mut rules = array(r, "RelatedAnalyticRuleIds");
                if rules.is_empty() {
                    rules.push(String::new());
                }
                for rule in rules {
                    let e = by.entry(rule).or_default();
                    e.0.insert(name.clone());
                    e.1.insert(
                        r.get("IncidentNumber")
                            .map(|n| n.as_str().map_or_else(|| n.to_string(), str::to_string))
                            .unwrap_or_default(),
                    );
                }
            }
            let rows = by
                .into_iter()
                .map(|(rule, (names, numbers))| {
                    vec![json!(rule), json!(names.len()), text_set(&numbers)]
                })
                .collect();
            Ok(table(
                &[
                    ("RuleId", "string"),
                    ("Incidents", "long"),
                    ("IncidentNumbers", "dynamic"),
                ],
                rows,
            ))
        }
        other => Err(format!("unknown check `{other}`")),
    }
}
