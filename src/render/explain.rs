//! `plan --explain RULE`: the planner's own decision about an analytics
//! rule, as text or as versioned JSON. Nothing here decides: it renders
//! [`crate::plan::Explanation`], which the planner builds with the code
//! path `plan` uses.

use super::one_line;
use crate::plan::{Evidence, Explanation};
use std::io::{self, Write};

/// The decision in words, one block per rule.
pub fn explain_human(e: &Explanation, w: &mut dyn Write) -> io::Result<()> {
    for r in &e.rules {
        writeln!(
            w,
            "{} \"{}\" ({}), {}",
            one_line(&r.name),
            one_line(r.display_name.as_deref().unwrap_or(&r.name)),
            one_line(r.kind.as_deref().unwrap_or("no kind")),
            one_line(&r.source.to_string())
        )?;
        writeln!(
            w,
            "  enabled: {}, creates incidents: {}",
            r.enabled.map_or("unknown".to_string(), |b| b.to_string()),
            r.creates_incidents
        )?;
        writeln!(
            w,
            "  verdict: {}: {}",
            r.verdict.as_str(),
            one_line(&r.explanation)
        )?;
        evidence(&r.evidence, w)?;
        match &r.action {
            Some(a) => {
                let verb = serde_json::to_value(a.verb)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                writeln!(w, "  plan: {verb}, phase {}, action {}", a.phase, a.id)?;
                writeln!(w, "    {} {}", a.reason.code, one_line(&a.reason.message))?;
                if let Some(g) = a.required_gate() {
                    writeln!(w, "    only after --confirm {}", g.as_str())?;
                }
                if let Some(b) = &a.blocked {
                    writeln!(w, "    not appliable: {}", one_line(b))?;
                }
            }
            None => writeln!(w, "  plan: nothing to do")?,
        }
    }
    Ok(())
}

fn evidence(list: &[Evidence], w: &mut dyn Write) -> io::Result<()> {
    super::human::evidence(list, "    ", w)
}

/// The decision as JSON: pretty, stable key order, trailing newline.
pub fn explain_json(e: &Explanation, w: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, e)?;
    writeln!(w)
}
