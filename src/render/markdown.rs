//! The plan in Markdown, where it is reviewed: a pull request comment, a
//! job summary (`show --format markdown`, `$GITHUB_STEP_SUMMARY`). A
//! headline, a banner when data connectors are deleted, the manual steps
//! as a checklist (a step identical in several workspaces once, with their
//! list), one table per tenant and phase, the review items with their
//! evidence, and each change's diff inside `<details>`.
//!
//! It never exceeds [`LIMIT`] (a GitHub comment's limit, counted in UTF-8
//! bytes, which is never fewer than characters or UTF-16 units): each
//! section has a share of the room left when it starts, its blocks go in
//! while they fit, and what does not is counted in a last line that says
//! where the full artifacts are.
//!
//! Everything from an export is text, never markup: inline text is
//! escaped (`\|`, `\*`, `&lt;`, ...), names sit in code spans whose fence
//! is longer than any backtick run inside, code blocks likewise, `<summary>`
//! text is HTML-escaped, and hidden characters are shown by [`one_line`].

use super::diff::unified;
use super::html::escape as html_escape;
use super::human::{ordered_workspaces, place, title, verb};
use super::{footer, one_line};
use crate::catalog::Operation;
use crate::model::ResourceType;
use crate::plan::WorkspaceReport;
use crate::plan::{Action, Plan};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// The most a comment may hold: 65,536 characters (GitHub's limit for
/// issue and pull request comments), counted here in bytes.
pub const LIMIT: usize = 65_536;

/// Writes the Markdown of `plan`, at most [`LIMIT`] bytes. `artifacts` is
/// the folder holding the full plan (`plan-out`), named when items are
/// left out.
pub fn markdown(plan: &Plan, artifacts: Option<&str>, w: &mut dyn Write) -> io::Result<()> {
    w.write_all(render(plan, artifacts, LIMIT).as_bytes())
}

/// What was left out, by kind.
#[derive(Default)]
struct LeftOut {
    rows: usize,
    steps: usize,
    reviews: usize,
    diffs: usize,
}

impl LeftOut {
    fn total(&self) -> usize {
        self.rows + self.steps + self.reviews + self.diffs
    }
}

#[derive(Clone, Copy)]
enum Item {
    Step,
    Row,
    Review,
    Diff,
}

/// The document as it grows: a block goes in whole or not at all. Each
/// section may use a share of the room left when it starts (so a long
/// checklist cannot crowd out every table); once a block does not fit,
/// nothing more of its section does (what is shown of it is a prefix).
struct Doc {
    out: String,
    budget: usize,
    /// Where the current section must end.
    cap: usize,
    full: bool,
    left_out: LeftOut,
}

impl Doc {
    /// Starts a section that may use `share` of the room left.
    fn section(&mut self, share: f64) {
        let room = self.budget.saturating_sub(self.out.len());
        self.cap = self.out.len() + (room as f64 * share) as usize;
        self.full = false;
    }

    fn push(&mut self, block: &str, item: Item) {
        if !self.full && self.out.len() + block.len() <= self.cap {
            self.out.push_str(block);
            return;
        }
        self.full = true;
        self.skip(item);
    }

    /// Counts an item left out (once full, items are not even rendered).
    fn skip(&mut self, item: Item) {
        let n = match item {
            Item::Step => &mut self.left_out.steps,
            Item::Row => &mut self.left_out.rows,
            Item::Review => &mut self.left_out.reviews,
            Item::Diff => &mut self.left_out.diffs,
        };
        *n += 1;
    }
}

/// The last line when items are left out.
fn left_out_note(l: &LeftOut, artifacts: Option<&str>) -> String {
    let mut kinds = Vec::new();
    for (n, one, many) in [
        (l.steps, "manual step", "manual steps"),
        (l.rows, "table row", "table rows"),
        (l.reviews, "review item", "review items"),
        (l.diffs, "diff", "diffs"),
    ] {
        if n > 0 {
            kinds.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    }
    let total = l.total();
    // A folder name too long to fit is not named.
    let whole = match artifacts.filter(|d| d.len() <= 1024) {
        Some(dir) => {
            let dir = dir.trim_end_matches('/');
            format!(
                "see {}, {} and {}",
                code(&format!("{dir}/plan.json"), false),
                code(&format!("{dir}/report.html"), false),
                code(&format!("{dir}/changes.diff"), false)
            )
        }
        None if artifacts.is_some() => {
            "see plan.json, report.html and changes.diff in the plan's folder".into()
        }
        None => format!(
            "write the full plan with {}",
            code("sentinel-migrate plan --out DIR", false)
        ),
    };
    format!(
        "\n---\n\n**{total} {} left out** ({}) to stay within {} characters: {whole}.\n",
        if total == 1 { "item" } else { "items" },
        kinds.join(", "),
        thousands(LIMIT)
    )
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The Markdown of `plan` in at most `limit` bytes.
pub(crate) fn render(plan: &Plan, artifacts: Option<&str>, limit: usize) -> String {
    // Room for the note, whatever the counts (the widest numbers that can
    // add up).
    let widest = usize::MAX / 8;
    let worst = LeftOut {
        rows: widest,
        steps: widest,
        reviews: widest,
        diffs: widest,
    };
    let reserve = left_out_note(&worst, artifacts).len();
    let mut doc = Doc {
        out: String::new(),
        budget: limit.saturating_sub(reserve),
        cap: 0,
        full: false,
        left_out: LeftOut::default(),
    };
    let names = workspace_names(plan);
    let ws_name = |id: &Option<String>| -> String {
        id.as_ref()
            .map(|i| names.get(i).cloned().unwrap_or_else(|| i.clone()))
            .unwrap_or_else(|| "(not named)".into())
    };

    // Headline: what the plan does, then its scale.
    let tenants: std::collections::BTreeSet<Option<&str>> = plan
        .workspaces
        .iter()
        .map(|w| w.tenancy.as_ref().and_then(|t| t.tenant_id.as_deref()))
        .collect();
    let resources: usize = plan.inputs.iter().map(|i| i.resources).sum();
    let mode = mode_name(plan);
    let mut head = format!("## {}\n\n", text(&footer(plan)));
    head.push_str(&format!(
        "sentinel-migrate, {mode} mode: {} in {}, {} from {}.\n",
        count(plan.workspaces.len(), "workspace"),
        count(tenants.len(), "tenant"),
        count(resources, "resource"),
        count(plan.inputs.len(), "file"),
    ));
    doc.out.push_str(&head);

    // The banner: deletions are what a reviewer must not miss.
    if let Some((what, gates)) = deletions(plan) {
        let mut banner = format!("\n> [!CAUTION]\n> This plan **deletes {what}**.");
        if !gates.is_empty() {
            banner.push_str(&format!(
                " Apply deletes only after {}: confirm it once the tenant-based path is connected and its alerts arrive (losing alerts is worse than a window of duplicates).",
                gates
                    .iter()
                    .map(|g| code(&format!("--confirm {g}"), false))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        banner.push('\n');
        doc.out.push_str(&banner);
    }

    // Manual steps, each once with the workspaces it applies to.
    let mut steps: Vec<(&Action, Vec<String>)> = Vec::new();
    for a in plan
        .actions
        .iter()
        .filter(|a| a.operation == Operation::Manual)
    {
        let same = |b: &Action| {
            b.display_name == a.display_name
                && b.reason == a.reason
                && b.manual == a.manual
                && b.blocked == a.blocked
        };
        match steps.iter_mut().find(|(b, _)| same(b)) {
            Some((_, list)) => list.push(ws_name(&a.workspace)),
            None => steps.push((a, vec![ws_name(&a.workspace)])),
        }
    }
    // Shares of what is left: the checklist a quarter, the tables two
    // thirds of the rest, the review items half of what remains, the
    // diffs all of it.
    doc.section(0.25);
    let mut first = true;
    for (a, workspaces) in &steps {
        if doc.full {
            doc.skip(Item::Step);
            continue;
        }
        let mut block = String::new();
        if first {
            block.push_str("\n### Manual steps\n\n");
            first = false;
        }
        block.push_str(&format!(
            "- [ ] **{}** ({}): {}\n",
            text(a.display_name.as_deref().unwrap_or("manual step")),
            code(&a.reason.code, false),
            text(&a.reason.message)
        ));
        block.push_str(&format!(
            "  - {}: {}\n",
            if workspaces.len() == 1 {
                "workspace"
            } else {
                "workspaces"
            },
            workspaces
                .iter()
                .map(|w| code(w, false))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if let Some(m) = &a.manual {
            block.push_str(&format!("  - where: {}\n", text(&m.portal)));
            block.push_str(&format!("  - who: {}\n", text(&m.role)));
            block.push_str("  - verify:\n\n");
            block.push_str(&fenced(&one_line(&m.verify), "kusto", "    "));
        }
        if let Some(b) = &a.blocked {
            block.push_str(&format!("  - not appliable: {}\n", text(b)));
        }
        doc.push(&block, Item::Step);
    }

    // One table per tenant and phase.
    // Each table may use an equal part of the room left for the tables
    // when it starts (what one leaves goes to the next), so every phase
    // of every tenant shows its first rows.
    doc.section(2.0 / 3.0);
    let tables_end = doc.cap;
    let mut tables = Vec::new();
    let by_workspace = super::ByWorkspace::new(plan);
    for (tenant, members) in &tenant_groups(plan) {
        for phase in &plan.phases {
            let rows: Vec<&Action> = members
                .iter()
                .flat_map(|ws| by_workspace.of(ws.id.as_deref()).iter().copied())
                .filter(|a| a.phase == phase.number)
                .collect();
            if !rows.is_empty() {
                tables.push((tenant.clone(), phase, rows));
            }
        }
    }
    let n = tables.len();
    for (i, (tenant, phase, rows)) in tables.into_iter().enumerate() {
        doc.cap = doc.out.len() + tables_end.saturating_sub(doc.out.len()) / (n - i);
        doc.full = false;
        let mut header = Some(format!(
            "\n### Tenant {}: phase {}, {}\n\n| workspace | resource | action | reason |\n|---|---|---|---|\n",
            tenant
                .as_deref()
                .map(|t| code(t, false))
                .unwrap_or_else(|| "unknown".into()),
            phase.number.number(),
            text(&phase.title)
        ));
        for a in rows {
            if doc.full {
                doc.skip(Item::Row);
                continue;
            }
            let mut block = header.take().unwrap_or_default();
            // Manual steps and review items are told in full in their
            // own sections.
            let message = match a.operation {
                Operation::Manual => "see the manual steps above".to_string(),
                Operation::Review => "see the items to review below".to_string(),
                _ => text(&a.reason.message),
            };
            let mut reason = format!("{} {message}", code(&a.reason.code, true));
            if let Some(b) = &a.blocked {
                reason.push_str(&format!(" (not appliable: {})", text(b)));
            }
            let action = match a.operation {
                Operation::Delete => format!("**{}**", verb(a)),
                _ => verb(a),
            };
            block.push_str(&format!(
                "| {} | {} | {action} | {reason} |\n",
                code(&ws_name(&a.workspace), true),
                code(&title(a), true),
            ));
            doc.push(&block, Item::Row);
        }
    }

    // Review items, with their evidence.
    doc.section(0.5);
    let mut first = true;
    for a in plan
        .actions
        .iter()
        .filter(|a| a.operation == Operation::Review)
    {
        if doc.full {
            doc.skip(Item::Review);
            continue;
        }
        let mut block = String::new();
        if first {
            block.push_str("\n### To review\n\n");
            first = false;
        }
        block.push_str(&format!(
            "- {} in {} ({}): {}\n",
            code(&title(a), false),
            code(&ws_name(&a.workspace), false),
            code(&a.reason.code, false),
            text(&a.reason.message)
        ));
        for e in &a.evidence {
            block.push_str(&format!(
                "  - {} {}: {}\n",
                code(&place(e), false),
                code(&e.text, false),
                text(&e.explanation)
            ));
        }
        doc.push(&block, Item::Review);
    }

    // The diffs, last: the largest and the least read.
    doc.section(1.0);
    let mut first = true;
    for a in plan.actions.iter().filter(|a| a.operation.is_change()) {
        if doc.full {
            doc.skip(Item::Diff);
            continue;
        }
        let mut block = String::new();
        if first {
            block.push_str("\n### Changes\n");
            first = false;
        }
        block.push_str(&format!(
            "\n<details><summary>{} {} {} in {}</summary>\n\n",
            html_escape(&a.reason.code),
            html_escape(&verb(a)),
            html_escape(&title(a)),
            html_escape(&one_line(&ws_name(&a.workspace)))
        ));
        for e in &a.evidence {
            block.push_str(&format!(
                "- {} {}: {}\n",
                code(&place(e), false),
                code(&e.text, false),
                text(&e.explanation)
            ));
        }
        if !a.evidence.is_empty() {
            block.push('\n');
        }
        block.push_str(&fenced(&unified(a), "diff", ""));
        block.push_str("\n</details>\n");
        doc.push(&block, Item::Diff);
    }

    if doc.left_out.total() > 0 {
        let note = left_out_note(&doc.left_out, artifacts);
        doc.out.push_str(&note);
    }
    doc.out
}

/// `switch` or `opt-out`.
pub(crate) fn mode_name(plan: &Plan) -> &'static str {
    match plan.settings.mode {
        crate::catalog::Mode::Switch => "switch",
        crate::catalog::Mode::OptOut => "opt-out",
    }
}

/// The workspaces tenant by tenant, in the summary's order.
pub(crate) fn tenant_groups(plan: &Plan) -> Vec<(Option<String>, Vec<&WorkspaceReport>)> {
    let mut groups: Vec<(Option<String>, Vec<&WorkspaceReport>)> = Vec::new();
    for ws in ordered_workspaces(plan) {
        let tenant = ws.tenancy.as_ref().and_then(|t| t.tenant_id.clone());
        match groups.last_mut() {
            Some((t, list)) if *t == tenant => list.push(ws),
            _ => groups.push((tenant, vec![ws])),
        }
    }
    groups
}

/// What the plan deletes (`2 data connectors and 1 other resource`) and
/// the confirmations apply waits for before it does, or None.
pub(crate) fn deletions(plan: &Plan) -> Option<(String, Vec<&'static str>)> {
    let deletes: Vec<&Action> = plan
        .actions
        .iter()
        .filter(|a| a.operation == Operation::Delete)
        .collect();
    if deletes.is_empty() {
        return None;
    }
    let connectors = deletes
        .iter()
        .filter(|a| a.resource_type == Some(ResourceType::DataConnectors))
        .count();
    let mut what = Vec::new();
    if connectors > 0 {
        what.push(count(connectors, "data connector"));
    }
    if deletes.len() > connectors {
        what.push(count(deletes.len() - connectors, "other resource"));
    }
    let gates: std::collections::BTreeSet<&'static str> = deletes
        .iter()
        .filter_map(|a| a.required_gate())
        .map(|g| g.as_str())
        .collect();
    Some((what.join(" and "), gates.into_iter().collect()))
}

pub(crate) fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Each workspace's short name: its name, or its whole id when another
/// workspace of the plan has the same name.
pub(crate) fn workspace_names(plan: &Plan) -> BTreeMap<String, String> {
    let name = |id: &str| {
        id.trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(id)
            .to_string()
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let ids: Vec<&String> = plan
        .workspaces
        .iter()
        .filter_map(|w| w.id.as_ref())
        .collect();
    for id in &ids {
        *seen.entry(name(id).to_ascii_lowercase()).or_default() += 1;
    }
    ids.into_iter()
        .map(|id| {
            let n = name(id);
            let label = if seen.get(&n.to_ascii_lowercase()) == Some(&1) {
                n
            } else {
                id.clone()
            };
            (id.clone(), label)
        })
        .collect()
}

/// Inline text that is only text: hidden characters shown by
/// [`one_line`], Markdown's punctuation backslash-escaped, `<`, `>` and
/// `&` as entities (no HTML, no autolink), so a name like `| x |` or
/// `</details>` can neither break a table nor open a tag.
pub(crate) fn text(s: &str) -> String {
    let s = one_line(s);
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.chars().enumerate() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '-' | '+' | '.' | '!' | '=' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The longest run of backticks in `s`.
fn longest_backticks(s: &str) -> usize {
    let (mut run, mut max) = (0, 0);
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        max = max.max(run);
    }
    max
}

/// A code span: `one_line(s)` between fences longer than any backtick run
/// in it. In a table cell `|` is escaped (GitHub unescapes it inside the
/// span).
pub(crate) fn code(s: &str, in_table: bool) -> String {
    let mut s = one_line(s);
    if s.is_empty() {
        return "` `".into();
    }
    if in_table {
        s = s.replace('|', "\\|");
    }
    let fence = "`".repeat(longest_backticks(&s) + 1);
    let pad = s.starts_with('`') || s.ends_with('`') || (s.starts_with(' ') && s.ends_with(' '));
    if pad {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// A fenced code block, every line indented by `indent`, its fence longer
/// than any backtick run inside (and at least three).
fn fenced(body: &str, lang: &str, indent: &str) -> String {
    let fence = "`".repeat((longest_backticks(body) + 1).max(3));
    let mut out = format!("{indent}{fence}{lang}\n");
    for line in body.lines() {
        out.push_str(indent);
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&format!("{indent}{fence}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_markup_and_shows_hidden_characters() {
        assert_eq!(text("| x |"), "\\| x \\|");
        assert_eq!(
            text("</details><script>alert(1)</script>"),
            "&lt;/details&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(text("a\u{202e}b\nc"), "a\\\\u{202e}b\\\\nc");
        assert_eq!(text("# head"), "\\# head");
        assert_eq!(text("- item"), "\\- item");
        assert_eq!(
            text("*b* _i_ [l](u) `c` ~s~"),
            "\\*b\\* \\_i\\_ \\[l\\](u) \\`c\\` \\~s\\~"
        );
        assert_eq!(text("&amp;"), "&amp;amp;");
    }

    #[test]
    fn code_spans_outlast_every_backtick_run() {
        assert_eq!(code("plain", false), "`plain`");
        assert_eq!(code("a`b", false), "``a`b``");
        assert_eq!(code("``x", false), "``` ``x ```");
        assert_eq!(code("a|b", true), "`a\\|b`");
        assert_eq!(code("a|b", false), "`a|b`");
        assert_eq!(code("x\u{1b}[31m", false), "`x\\u{1b}[31m`");
    }

    #[test]
    fn fences_outlast_the_body() {
        let f = fenced("a\n````\nb", "diff", "  ");
        assert_eq!(f, "  `````diff\n  a\n  ````\n  b\n  `````\n");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(65_536), "65,536");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
