//! What users and reviewers read: the human summary, `plan.json`, the
//! reviewable diff and the apply/rollback scripts. Every renderer writes to
//! any `impl Write` and is deterministic: same plan, same bytes.

mod diff;
mod explain;
mod human;
mod script;

pub use diff::diff;
pub use explain::{explain_human, explain_json};
pub use human::{Style, human};
pub use script::{apply_script, rollback_script};

use crate::plan::Plan;
use std::io::{self, Write};

/// `plan.json`: pretty, stable key order, trailing newline.
pub fn json(plan: &Plan, w: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, plan)?;
    writeln!(w)
}

/// Reads a saved plan back.
pub fn read_plan(text: &str) -> Result<Plan, serde_json::Error> {
    serde_json::from_str(text)
}

/// The summary footer: `Plan: 2 to disable, 3 to delete, 1 manual step, 2 to review.`
pub fn footer(plan: &Plan) -> String {
    let s = &plan.summary;
    if s.total == 0 {
        return "Plan: no changes. Every workspace is in the desired state.".into();
    }
    let mut parts = Vec::new();
    let mut add = |n: usize, what: &str| {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    };
    add(s.create, "to create");
    add(s.disable, "to disable");
    add(s.stop_incidents, "to stop creating incidents");
    add(s.delete, "to delete");
    add(s.update, "to update");
    add(
        s.manual,
        if s.manual == 1 {
            "manual step"
        } else {
            "manual steps"
        },
    );
    add(s.review, "to review");
    format!("Plan: {}.", parts.join(", "))
}

/// One line of text safe to print or embed in a comment: control characters
/// (newlines, tabs, escape sequences) become spaces.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The migration rules reference (`docs/rules.md`), generated from `rules/`.
pub fn rules_markdown(catalog: &crate::catalog::Catalog, w: &mut dyn Write) -> io::Result<()> {
    use crate::catalog::Mode;
    let mut s = String::new();
    s.push_str("# Migration rules\n\n");
    s.push_str("Generated from `rules/` by `sentinel-migrate rules`; a test fails when this page and the rules drift apart.\n");
    s.push_str("Each rule is one kind of step the planner can propose. Its id appears as `reason.code` in `plan.json`, in the summary and in the diff.\n");
    s.push_str("What a rule does (its phase, operation and the confirmation it waits for) is fixed in the planner's code; a `--rules` file gives only its texts, and one that states a different phase, operation, verb or mode is refused.\n");
    for (mode, title) in [
        (
            Mode::Switch,
            "Switch to tenant-based Defender for Cloud (`--mode switch`)",
        ),
        (Mode::OptOut, "Stay subscription-based (`--mode opt-out`)"),
    ] {
        s.push_str(&format!("\n## {title}\n\nPhases:\n\n"));
        for p in catalog.phase_titles(mode) {
            s.push_str(&format!("{}. {}\n", p.number, p.title));
        }
        for r in catalog.rules.iter().filter(|r| r.mode() == mode) {
            s.push_str(&format!("\n### {} `{}`: {}\n\n", r.id, r.name(), r.summary));
            s.push_str(&format!(
                "- phase {}, operation `{}`{}\n",
                r.phase(),
                r.operation().as_str(),
                r.kind
                    .gate()
                    .map(|g| format!(", only after `--confirm {}`", g.as_str()))
                    .unwrap_or_default()
            ));
            s.push_str(&format!("- message: {}\n", r.message));
            let placeholders = r.kind.placeholders();
            if !placeholders.is_empty() {
                s.push_str(&format!(
                    "- placeholders: {}\n",
                    placeholders
                        .iter()
                        .map(|p| format!("`{{{p}}}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            s.push_str(&format!("- example: {}\n", r.example));
            if let Some(m) = &r.manual {
                s.push_str(&format!(
                    "- where: {}\n- who: {}\n- verify: `{}`\n",
                    m.portal, m.role, m.verify
                ));
            }
            s.push_str(&format!("\n{}\n", r.why));
        }
    }
    s.push_str("\n## Product names\n\n| name | family | carried by alerts |\n|---|---|---|\n");
    for p in &catalog.products {
        let family = serde_json::to_value(p.family)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        s.push_str(&format!(
            "| {} | {family} | {} |\n",
            p.name,
            if p.in_alerts { "yes" } else { "no" }
        ));
    }
    s.push_str("\n## Connectors\n\n");
    let c = &catalog.connectors;
    s.push_str(&format!(
        "- legacy: `{}`. {}\n",
        c.legacy.kind, c.legacy.why
    ));
    s.push_str(&format!(
        "- Defender XDR: `{}`. {}\n",
        c.xdr.kind, c.xdr.why
    ));
    s.push_str(&format!(
        "- UI definitions (left alone): kinds {}; tenant-based names {}. {}\n",
        c.ui_definitions
            .kinds
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", "),
        c.ui_definitions
            .tenant_based_names
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", "),
        c.ui_definitions.why
    ));
    s.push_str(&format!(
        "- tenant id read from: {}\n",
        c.tenant_id_kinds
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    w.write_all(s.as_bytes())
}
