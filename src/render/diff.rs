//! `changes.diff`: a unified diff per changed resource, of normalized,
//! key-sorted JSON, without what the service fills in (`etag`,
//! `systemData`, `lastModifiedUtc`). Review items get a header with their
//! evidence and no hunk. This module alone uses `similar`.

use super::{json_visible, one_line};
use crate::catalog::Operation;
use crate::plan::{Action, Plan};
use serde_json::Value;
use similar::TextDiff;
use std::io::{self, Write};

/// Service-filled fields left out of the diff.
const NOISE: [&str; 2] = ["etag", "systemData"];
const PROPERTY_NOISE: [&str; 5] = [
    "lastModifiedUtc",
    "lastModifiedTimeUtc",
    "createdTimeUtc",
    "createdBy",
    "lastModifiedBy",
];

/// The body as the diff shows it.
pub fn normalize(body: &Value) -> String {
    let mut v = body.clone();
    if let Some(m) = v.as_object_mut() {
        for k in NOISE {
            m.remove(k);
        }
        if let Some(p) = m.get_mut("properties").and_then(Value::as_object_mut) {
            for k in PROPERTY_NOISE {
                p.remove(k);
            }
        }
    }
    // serde_json's map is ordered by key: the output is sorted at every level.
    let mut text = json_visible(serde_json::to_string_pretty(&v).unwrap_or_default());
    text.push('\n');
    text
}

fn label(a: &Action) -> String {
    let id = a.resource_id.clone().unwrap_or_else(|| {
        format!(
            "(no workspace)/{}/{}",
            a.resource_type.map(|t| t.as_str()).unwrap_or("-"),
            a.name.as_deref().unwrap_or("-")
        )
    });
    match &a.display_name {
        Some(d) => format!("{} \"{}\"", one_line(&id), one_line(d)),
        None => one_line(&id),
    }
}

/// Writes the diff of every change, and the headers of review items.
pub fn diff(plan: &Plan, w: &mut dyn Write) -> io::Result<()> {
    for a in &plan.actions {
        let header = |w: &mut dyn Write| -> io::Result<()> {
            writeln!(
                w,
                "# {} {} {}",
                a.reason.code,
                a.operation.as_str(),
                label(a)
            )?;
            writeln!(w, "# {}", one_line(&a.reason.message))?;
            for e in &a.evidence {
                let place = match &e.source {
                    Some(o) => format!("{}:{}:{}", o.path, o.line, o.column),
                    None => format!("query {}:{}", e.line, e.column),
                };
                writeln!(
                    w,
                    "#   {} `{}`: {}",
                    one_line(&place),
                    one_line(&e.text),
                    one_line(&e.explanation)
                )?;
            }
            if let Some(b) = &a.blocked {
                writeln!(w, "#   not appliable: {}", one_line(b))?;
            }
            Ok(())
        };
        match a.operation {
            Operation::Create | Operation::Update | Operation::Delete => {
                header(w)?;
                let old = a.before.as_ref().map(normalize).unwrap_or_default();
                let new = a.after.as_ref().map(normalize).unwrap_or_default();
                let from = if a.before.is_some() {
                    format!("a {}", label(a))
                } else {
                    "/dev/null".into()
                };
                let to = if a.after.is_some() {
                    format!("b {}", label(a))
                } else {
                    "/dev/null".into()
                };
                let d = TextDiff::from_lines(&old, &new);
                write!(
                    w,
                    "{}",
                    d.unified_diff().context_radius(3).header(&from, &to)
                )?;
                writeln!(w)?;
            }
            Operation::Review => {
                header(w)?;
                writeln!(w)?;
            }
            Operation::Manual => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn noise_is_dropped_and_keys_sorted() {
        let v = json!({"properties": {"z": 1, "a": 2, "lastModifiedUtc": "x"}, "etag": "\"1\"", "systemData": {}, "kind": "Scheduled"});
        assert_eq!(
            normalize(&v),
            "{\n  \"kind\": \"Scheduled\",\n  \"properties\": {\n    \"a\": 2,\n    \"z\": 1\n  }\n}\n"
        );
    }
}
