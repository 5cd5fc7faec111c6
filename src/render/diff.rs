//! `changes.diff`: a unified diff per changed resource, of normalized,
//! key-sorted JSON, without what the service fills in (`etag`,
//! `systemData`, `lastModifiedUtc`). Review items get a header with their
//! evidence and no hunk. This module alone uses `similar`.

use super::{json_visible, one_line};
use crate::catalog::Operation;
use crate::plan::{Action, Body, Plan};
use similar::TextDiff;
use std::borrow::Cow;
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
pub fn normalize(body: &Body) -> String {
    // Written from the body's text (members in key order at every level).
    let omit = |path: &[Option<Cow<str>>], key: &str| match path {
        [] => NOISE.contains(&key),
        [Some(p)] if p == "properties" => PROPERTY_NOISE.contains(&key),
        _ => false,
    };
    let mut text = json_visible(body.pretty(&omit));
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
                write!(w, "{}", unified(a))?;
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

/// The unified diff of one change (create, update or delete), with its
/// `---`/`+++` header; empty for a step that writes no resource body.
pub fn unified(a: &Action) -> String {
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
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&from, &to)
        .to_string()
}

/// How a row of a side-by-side diff differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Same,
    Removed,
    Added,
    Changed,
}

/// One row of a side-by-side diff: the line before (number, text) on the
/// left, the line after on the right; either side empty where a line was
/// added or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub change: Change,
    pub before: Option<(usize, String)>,
    pub after: Option<(usize, String)>,
}

/// The bodies before and after, normalized as in the diff, line by line
/// side by side: changed lines paired, unchanged runs longer than
/// `2 * context` cut to their ends (a `None` row marks the cut).
pub fn side_by_side(
    before: Option<&Body>,
    after: Option<&Body>,
    context: usize,
) -> Vec<Option<Row>> {
    let old = before.map(normalize).unwrap_or_default();
    let new = after.map(normalize).unwrap_or_default();
    let d = TextDiff::from_lines(&old, &new);
    let (old_lines, new_lines): (Vec<&str>, Vec<&str>) =
        (old.lines().collect(), new.lines().collect());
    let line =
        |lines: &[&str], i: usize| (i + 1, lines.get(i).copied().unwrap_or_default().to_string());
    let mut rows = Vec::new();
    let ops = d.ops();
    for (i, op) in ops.iter().enumerate() {
        let (tag, o, n) = op.as_tag_tuple();
        if tag == similar::DiffTag::Equal {
            // Context around changes; the first run keeps only its end,
            // the last only its start.
            let len = o.len();
            let head = if i == 0 { 0 } else { context };
            let tail = if i + 1 == ops.len() { 0 } else { context };
            let shown: Vec<usize> = if head + tail >= len {
                (0..len).collect()
            } else {
                (0..head).chain(len - tail..len).collect()
            };
            // A `None` row wherever lines are cut.
            let mut next = 0;
            for k in shown {
                if k != next {
                    rows.push(None);
                }
                next = k + 1;
                rows.push(Some(Row {
                    change: Change::Same,
                    before: Some(line(&old_lines, o.start + k)),
                    after: Some(line(&new_lines, n.start + k)),
                }));
            }
            if next != len {
                rows.push(None);
            }
            continue;
        }
        for k in 0..o.len().max(n.len()) {
            let left = (k < o.len()).then(|| line(&old_lines, o.start + k));
            let right = (k < n.len()).then(|| line(&new_lines, n.start + k));
            let change = match (&left, &right) {
                (Some(_), Some(_)) => Change::Changed,
                (Some(_), None) => Change::Removed,
                _ => Change::Added,
            };
            rows.push(Some(Row {
                change,
                before: left,
                after: right,
            }));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn noise_is_dropped_and_keys_sorted() {
        let v = Body::new(
            &json!({"properties": {"z": 1, "a": 2, "lastModifiedUtc": "x"}, "etag": "\"1\"", "systemData": {}, "kind": "Scheduled"}),
        );
        assert_eq!(
            normalize(&v),
            "{\n  \"kind\": \"Scheduled\",\n  \"properties\": {\n    \"a\": 2,\n    \"z\": 1\n  }\n}\n"
        );
    }

    #[test]
    fn side_by_side_pairs_changed_lines_and_cuts_long_unchanged_runs() {
        let before = json!({"properties": {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "enabled": true, "f": 6, "g": 7, "h": 8, "i": 9}});
        let mut after = before.clone();
        after["properties"]["enabled"] = json!(false);
        let (before, after) = (Body::new(&before), Body::new(&after));
        let rows = side_by_side(Some(&before), Some(&after), 2);
        let changed: Vec<&Row> = rows
            .iter()
            .flatten()
            .filter(|r| r.change != Change::Same)
            .collect();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].change, Change::Changed);
        assert_eq!(
            changed[0].before,
            Some((8, "    \"enabled\": true,".into()))
        );
        assert_eq!(
            changed[0].after,
            Some((8, "    \"enabled\": false,".into()))
        );
        // Two lines of context each side, the rest cut (a `None` row).
        assert_eq!(rows.len(), 1 + 2 + 1 + 2 + 1);
        assert!(rows[0].is_none() && rows[6].is_none());
        // A delete: every line on the left, nothing on the right.
        let rows = side_by_side(Some(&before), None, 2);
        assert!(
            rows.iter()
                .flatten()
                .all(|r| r.change == Change::Removed && r.after.is_none())
        );
        assert_eq!(rows.len(), normalize(&before).lines().count());
    }
}
