//! Does Azure now match the plan's desired state? Each change is checked
//! by reading the resource: the values a step sets hold, a deleted resource
//! is gone, a created one exists. Manual steps and review items cannot be
//! checked over the API; they are listed.

use super::apply::{for_each, holds, work_of};
use super::{Client, value_at};
use crate::catalog::Operation;
use crate::error::{Error, Result};
use crate::plan::Plan;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub action: String,
    pub display: String,
    /// Some(true) holds, Some(false) does not, None cannot be checked.
    pub holds: Option<bool>,
    pub detail: String,
}

pub async fn verify(
    client: Arc<Client>,
    plan: &Plan,
    parallelism: usize,
    progress: Arc<super::progress::Progress>,
) -> Result<Vec<Check>> {
    let (work, blocked) = work_of(plan)?;
    let results = for_each(work, parallelism, {
        let client = client.clone();
        move |w: super::apply::Work| {
            let client = client.clone();
            let progress = progress.clone();
            async move {
                let now = client
                    .get(&w.path)
                    .await
                    .map_err(|e| Error::arm(&w.display, e))?;
                let (ok, detail) = match (w.operation, &now) {
                    (Operation::Delete, None) => (true, "gone".to_string()),
                    (Operation::Delete, Some(_)) => (false, "still exists".to_string()),
                    (_, None) => (false, "does not exist".to_string()),
                    (_, Some(body)) if holds(body, &w.desired) => (
                        true,
                        w.desired
                            .iter()
                            .map(|d| format!("{} = {}", d.path, d.value))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    (_, Some(body)) => {
                        let wrong: Vec<String> = w
                            .desired
                            .iter()
                            .filter(|d| value_at(body, &d.path) != Some(&d.value))
                            .map(|d| {
                                format!(
                                    "{} is {}, wanted {}",
                                    d.path,
                                    value_at(body, &d.path)
                                        .map_or("absent".to_string(), |v| v.to_string()),
                                    d.value
                                )
                            })
                            .collect();
                        (false, wrong.join("; "))
                    }
                };
                progress.line(&format!(
                    "checked {} {}: {}",
                    w.id,
                    w.display,
                    if ok { "holds" } else { "does not hold" }
                ));
                progress.inc(&w.display);
                Ok::<_, Error>(Check {
                    action: w.id.clone(),
                    display: w.display.clone(),
                    holds: Some(ok),
                    detail,
                })
            }
        }
    })
    .await;
    let mut checks = Vec::new();
    for r in results {
        checks.push(r?);
    }
    for a in blocked {
        checks.push(Check {
            action: a.id.clone(),
            display: shown(a),
            holds: None,
            detail: format!(
                "not applied from this plan: {}",
                a.blocked.as_deref().unwrap_or("no resource id")
            ),
        });
    }
    for a in plan
        .actions
        .iter()
        .filter(|a| matches!(a.operation, Operation::Manual | Operation::Review))
    {
        let detail = match (&a.operation, &a.manual) {
            (Operation::Manual, Some(m)) => format!("manual step: check with `{}`", m.verify),
            (Operation::Manual, None) => "manual step".to_string(),
            _ => "for review: not a change".to_string(),
        };
        checks.push(Check {
            action: a.id.clone(),
            display: shown(a),
            holds: None,
            detail,
        });
    }
    Ok(checks)
}

fn shown(a: &crate::plan::Action) -> String {
    crate::render::one_line(
        a.display_name
            .as_deref()
            .or(a.name.as_deref())
            .unwrap_or_default(),
    )
}

/// `--format json`: every check and the counts.
pub fn json(checks: &[Check]) -> serde_json::Value {
    let count = |h: Option<bool>| checks.iter().filter(|c| c.holds == h).count();
    serde_json::json!({
        "format_version": "1",
        "command": "verify",
        "all_hold": count(Some(false)) == 0,
        "hold": count(Some(true)),
        "do_not_hold": count(Some(false)),
        "cannot_be_checked": count(None),
        "checks": checks,
    })
}

/// Writes the checks, one per line, and a footer; returns whether all hold.
pub fn report(checks: &[Check], out: &mut dyn std::io::Write) -> bool {
    let mut failing = 0;
    let mut ok = 0;
    for c in checks {
        let mark = match c.holds {
            Some(true) => {
                ok += 1;
                "ok  "
            }
            Some(false) => {
                failing += 1;
                "FAIL"
            }
            None => "--  ",
        };
        let _ = writeln!(
            out,
            "{mark} {} {}: {}",
            c.action,
            c.display,
            crate::render::one_line(&c.detail)
        );
    }
    let unchecked = checks.len() - ok - failing;
    let _ = writeln!(
        out,
        "Verify: {ok} hold, {failing} do not, {unchecked} cannot be checked over the API."
    );
    failing == 0
}
