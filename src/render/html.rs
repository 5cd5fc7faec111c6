//! `report.html`: the plan as one self-contained page to click through.
//! Inline CSS only, no script, no external URL (a Content-Security-Policy
//! of `default-src 'none'` says so to the browser too); a summary, the
//! phases, every action tenant by tenant, workspace by workspace and phase
//! by phase, each change with a side-by-side diff inside `<details>`.
//!
//! Filters by operation, tenant and workspace are radio buttons and CSS
//! (`:has(:checked)`): they need no JavaScript, and where a browser lacks
//! `:has` everything stays visible. Everything from an export is escaped
//! (`& < > " '`) after [`one_line`] has shown its hidden characters; ids
//! and classes are the tool's own (indexes, operation names), never text
//! from an export.

use super::diff::{Change, side_by_side};
use super::human::{place, title, verb};
use super::markdown::{count, deletions, mode_name, tenant_groups, workspace_names};
use super::{footer, one_line};
use crate::catalog::Operation;
use crate::plan::{Action, Plan, Role, WorkspaceReport};
use std::fmt::Write as _;
use std::io::{self, Write};

/// Text for HTML: `& < > " '` as entities, hidden characters shown by
/// [`one_line`]. Safe in element content and in quoted attributes.
pub fn escape(s: &str) -> String {
    let s = one_line(s);
    // The markup characters are ASCII: the text is copied in runs between
    // them, and as it is when it has none.
    let markup = |b: u8| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'');
    if !s.bytes().any(markup) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut run = 0;
    for (i, b) in s.bytes().enumerate().filter(|&(_, b)| markup(b)) {
        out.push_str(&s[run..i]);
        out.push_str(match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out
}

/// Every operation, in the order the filters list them.
const OPERATIONS: [Operation; 5] = [
    Operation::Create,
    Operation::Update,
    Operation::Delete,
    Operation::Manual,
    Operation::Review,
];

/// A new operation must join [`OPERATIONS`] (and get its filter): this
/// match stops compiling until it is looked at.
#[allow(dead_code)]
fn every_operation_has_a_filter(op: Operation) {
    match op {
        Operation::Create
        | Operation::Update
        | Operation::Delete
        | Operation::Manual
        | Operation::Review => {}
    }
}

const STYLE: &str = r#"
:root { color-scheme: light dark; --line: #8884; --add: #2a7a2a33; --del: #b0303033; --chg: #b0803033; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1rem 1.5rem 4rem; }
h1 { font-size: 1.5rem; margin: .5rem 0; }
h2 { font-size: 1.25rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; margin-top: 2rem; }
h3 { font-size: 1.1rem; margin-top: 1.5rem; }
h4 { font-size: 1rem; margin: 1rem 0 .5rem; }
code, pre, .sbs { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; }
code { overflow-wrap: anywhere; }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--line); padding: .2rem .5rem; text-align: left; vertical-align: top; }
.banner { border: 2px solid #c33; border-radius: 6px; padding: .5rem 1rem; margin: 1rem 0; }
.filters { display: flex; flex-wrap: wrap; gap: 1rem; margin: 1rem 0; }
.filters fieldset { border: 1px solid var(--line); border-radius: 6px; }
.filters label { display: inline-block; margin-right: .75rem; white-space: nowrap; }
.a { border: 1px solid var(--line); border-left-width: 4px; border-radius: 4px; padding: .4rem .75rem; margin: .5rem 0; }
.a.op-create { border-left-color: #2a7a2a; }
.a.op-update { border-left-color: #b08030; }
.a.op-delete { border-left-color: #c33; }
.a.op-manual, .a.op-review { border-left-color: #8050b0; }
.a > p { margin: .25rem 0; }
.verb { font-weight: bold; text-transform: uppercase; font-size: .8rem; margin-right: .5rem; }
.note { color: GrayText; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .75rem; margin: .25rem 0; }
dt { font-weight: bold; }
dd { margin: 0; min-width: 0; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }
.sbs { width: 100%; table-layout: fixed; }
.sbs td { border: none; padding: 0 .4rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.sbs td.n { width: 3rem; text-align: right; color: GrayText; user-select: none; }
.sbs tr.removed td.l, .sbs tr.changed td.l { background: var(--del); }
.sbs tr.added td.r, .sbs tr.changed td.r { background: var(--add); }
.sbs tr.cut td { text-align: center; color: GrayText; }
.sbs th { border: none; border-bottom: 1px solid var(--line); }
"#;

/// Writes `report.html`.
pub fn html(plan: &Plan, w: &mut dyn Write) -> io::Result<()> {
    render(plan, w)
}

/// A group of workspaces of one tenant, in the order the summary shows.
struct Tenant<'a> {
    id: Option<String>,
    workspaces: Vec<(usize, &'a WorkspaceReport)>,
}

/// Writes the report, a workspace at a time: a fleet's is not held whole.
fn render(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    // Workspaces are numbered in the order shown (their filter ids).
    let mut next = 0;
    let tenants: Vec<Tenant> = tenant_groups(plan)
        .into_iter()
        .map(|(id, list)| Tenant {
            id,
            workspaces: list
                .into_iter()
                .map(|w| {
                    next += 1;
                    (next - 1, w)
                })
                .collect(),
        })
        .collect();
    let by_workspace = super::ByWorkspace::new(plan);
    let actions_of = |ws: &WorkspaceReport| by_workspace.of(ws.id.as_deref()).to_vec();
    let ops_of = |actions: &[&Action]| -> String {
        OPERATIONS
            .iter()
            .filter(|op| actions.iter().any(|a| a.operation == **op))
            .map(|op| format!(" op-{}", op.as_str()))
            .collect()
    };

    let names = workspace_names(plan);
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        s,
        "<title>sentinel-migrate: {}</title>",
        escape(&footer(plan))
    );
    s.push_str("<style>");
    s.push_str(STYLE);
    // The filters: a checked radio hides what does not match it.
    for op in OPERATIONS {
        let o = op.as_str();
        let _ = writeln!(
            s,
            "body:has(#op-{o}:checked) .o:not(.op-{o}) {{ display: none; }}"
        );
    }
    for (t, tenant) in tenants.iter().enumerate() {
        let _ = writeln!(
            s,
            "body:has(#t-{t}:checked) .t:not(.t-{t}) {{ display: none; }}"
        );
        for (w, _) in &tenant.workspaces {
            let _ = writeln!(
                s,
                "body:has(#w-{w}:checked) .w:not(.w-{w}) {{ display: none; }}"
            );
        }
    }
    s.push_str("</style>\n</head>\n<body>\n");

    // Summary.
    let resources: usize = plan.inputs.iter().map(|i| i.resources).sum();
    let mode = mode_name(plan);
    let _ = writeln!(s, "<header>\n<h1>{}</h1>", escape(&footer(plan)));
    let _ = writeln!(
        s,
        "<p>sentinel-migrate plan, {mode} mode: {} in {}, {} from {}. Written by {}.</p>\n</header>",
        count(plan.workspaces.len(), "workspace"),
        count(tenants.len(), "tenant"),
        count(resources, "resource"),
        count(plan.inputs.len(), "file"),
        escape(&plan.generator)
    );
    s.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    if let Some((what, gates)) = deletions(plan) {
        let _ = write!(
            s,
            "<p class=\"banner\" role=\"alert\"><strong>This plan deletes {what}.</strong>"
        );
        if !gates.is_empty() {
            let _ = write!(
                s,
                " Apply deletes only after {}: confirm it once the tenant-based path is connected and its alerts arrive.",
                gates
                    .iter()
                    .map(|g| format!("<code>--confirm {}</code>", escape(g)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        s.push_str("</p>\n");
    }
    let sm = &plan.summary;
    s.push_str("<table class=\"counts\">\n<tr><th>to create</th><th>to update</th><th>to disable</th><th>to stop creating incidents</th><th>to delete</th><th>manual steps</th><th>to review</th><th>total</th></tr>\n");
    let _ = writeln!(
        s,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n</table>",
        sm.create,
        sm.update,
        sm.disable,
        sm.stop_incidents,
        sm.delete,
        sm.manual,
        sm.review,
        sm.total
    );
    s.push_str("</section>\n");

    // Phases.
    s.push_str("<section id=\"phases\">\n<h2>Phases</h2>\n<ol>\n");
    for p in &plan.phases {
        let n = plan.actions.iter().filter(|a| a.phase == p.number).count();
        let _ = writeln!(
            s,
            "<li value=\"{}\">{} ({})</li>",
            p.number.number(),
            escape(&p.title),
            count(n, "step")
        );
    }
    s.push_str("</ol>\n</section>\n");

    // Filters.
    s.push_str("<form class=\"filters\" aria-label=\"Filters\">\n");
    let radio = |s: &mut String, group: &str, id: &str, label: &str, n: usize, checked: bool| {
        let _ = writeln!(
            s,
            "<label><input type=\"radio\" name=\"{group}\" id=\"{id}\"{}> {label} ({n})</label>",
            if checked { " checked" } else { "" }
        );
    };
    s.push_str("<fieldset><legend>Operation</legend>\n");
    radio(&mut s, "op", "op-all", "all", plan.actions.len(), true);
    for op in OPERATIONS {
        let n = plan.actions.iter().filter(|a| a.operation == op).count();
        if n > 0 {
            radio(
                &mut s,
                "op",
                &format!("op-{}", op.as_str()),
                op.as_str(),
                n,
                false,
            );
        }
    }
    s.push_str("</fieldset>\n<fieldset><legend>Tenant</legend>\n");
    radio(&mut s, "tenant", "t-all", "all", tenants.len(), true);
    for (t, tenant) in tenants.iter().enumerate() {
        let n: usize = tenant
            .workspaces
            .iter()
            .map(|(_, w)| actions_of(w).len())
            .sum();
        let label = escape(tenant.id.as_deref().unwrap_or("unknown"));
        radio(&mut s, "tenant", &format!("t-{t}"), &label, n, false);
    }
    s.push_str("</fieldset>\n<fieldset><legend>Workspace</legend>\n");
    radio(
        &mut s,
        "workspace",
        "w-all",
        "all",
        plan.workspaces.len(),
        true,
    );
    for tenant in &tenants {
        for (w, ws) in &tenant.workspaces {
            let label = escape(
                ws.id
                    .as_ref()
                    .and_then(|id| names.get(id))
                    .map_or("(not named)", String::as_str),
            );
            radio(
                &mut s,
                "workspace",
                &format!("w-{w}"),
                &label,
                actions_of(ws).len(),
                false,
            );
        }
    }
    s.push_str("</fieldset>\n</form>\n<main>\n");

    // Every action, tenant by tenant.
    for (t, tenant) in tenants.iter().enumerate() {
        let all: Vec<&Action> = tenant
            .workspaces
            .iter()
            .flat_map(|(_, w)| actions_of(w))
            .collect();
        let ws_classes: String = tenant
            .workspaces
            .iter()
            .map(|(w, _)| format!(" w-{w}"))
            .collect();
        let _ = writeln!(
            s,
            "<section class=\"t t-{t} w{ws_classes} o{}\">\n<h2>Tenant {} ({})</h2>",
            ops_of(&all),
            escape(tenant.id.as_deref().unwrap_or("unknown")),
            count(tenant.workspaces.len(), "workspace")
        );
        for (w, ws) in &tenant.workspaces {
            workspace(&mut s, plan, t, *w, ws, &actions_of(ws), &ops_of);
            out.write_all(s.as_bytes())?;
            s.clear();
        }
        s.push_str("</section>\n");
    }
    s.push_str("</main>\n");

    if !plan.skipped.is_empty() {
        s.push_str("<section id=\"skipped\">\n<h2>Skipped inputs</h2>\n<ul>\n");
        for k in &plan.skipped {
            let _ = writeln!(
                s,
                "<li><code>{}</code>: {}</li>",
                escape(&k.path),
                escape(&k.reason)
            );
        }
        s.push_str("</ul>\n</section>\n");
    }
    s.push_str("</body>\n</html>\n");
    out.write_all(s.as_bytes())
}

fn workspace(
    s: &mut String,
    plan: &Plan,
    t: usize,
    w: usize,
    ws: &WorkspaceReport,
    actions: &[&Action],
    ops_of: &dyn Fn(&[&Action]) -> String,
) {
    let _ = writeln!(
        s,
        "<section class=\"t t-{t} w w-{w} o{}\">\n<h3>Workspace {}</h3>",
        ops_of(actions),
        escape(
            ws.id
                .as_deref()
                .unwrap_or("(workspace not named by the exports)")
        )
    );
    let _ = write!(
        s,
        "<p>{} data connectors, {} analytics rules, {} automation rules",
        ws.data_connectors, ws.alert_rules, ws.automation_rules
    );
    if let Some(ten) = &ws.tenancy {
        let role = match (ten.role, &ten.primary) {
            (Role::Secondary, Some(p)) => format!("secondary (primary: {})", escape(p)),
            (Role::Secondary, None) => "secondary".to_string(),
            (Role::Primary, _) => "primary".to_string(),
        };
        let _ = write!(
            s,
            "; tenant {}, {role}, Defender portal: {}",
            escape(ten.tenant_id.as_deref().unwrap_or("unknown")),
            ten.defender_portal.as_str()
        );
    }
    s.push_str(".</p>\n");
    if actions.is_empty() {
        s.push_str("<p class=\"note\">Nothing to do in what was read.</p>\n");
    }
    for phase in &plan.phases {
        let in_phase: Vec<&Action> = actions
            .iter()
            .copied()
            .filter(|a| a.phase == phase.number)
            .collect();
        if in_phase.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "<section class=\"o{}\">\n<h4>Phase {}: {}</h4>",
            ops_of(&in_phase),
            phase.number.number(),
            escape(&phase.title)
        );
        for a in in_phase {
            action(s, a, t, w);
        }
        s.push_str("</section>\n");
    }
    if !ws.notes.is_empty() {
        s.push_str("<details class=\"notes\"><summary>Notes</summary>\n<ul>\n");
        for n in &ws.notes {
            let _ = writeln!(s, "<li>{}</li>", escape(n));
        }
        s.push_str("</ul>\n</details>\n");
    }
    s.push_str("</section>\n");
}

fn action(s: &mut String, a: &Action, t: usize, w: usize) {
    let op = a.operation.as_str();
    let _ = writeln!(
        s,
        "<article class=\"a o op-{op} t t-{t} w w-{w}\" id=\"{}\">",
        escape(&a.id)
    );
    let _ = writeln!(
        s,
        "<p><span class=\"verb\">{}</span><code>{}</code></p>",
        escape(&verb(a)),
        escape(&title(a))
    );
    let _ = writeln!(
        s,
        "<p><code>{}</code> {}</p>",
        escape(&a.reason.code),
        escape(&a.reason.message)
    );
    if let Some(b) = &a.blocked {
        let _ = writeln!(s, "<p><strong>Not appliable:</strong> {}</p>", escape(b));
    }
    if !a.evidence.is_empty() {
        s.push_str("<ul class=\"evidence\">\n");
        for e in &a.evidence {
            let _ = writeln!(
                s,
                "<li><code>{}</code> <code>{}</code>: {}</li>",
                escape(&place(e)),
                escape(&e.text),
                escape(&e.explanation)
            );
        }
        s.push_str("</ul>\n");
    }
    if let Some(m) = &a.manual {
        let _ = writeln!(
            s,
            "<dl><dt>where</dt><dd>{}</dd><dt>who</dt><dd>{}</dd><dt>verify</dt><dd><pre>{}</pre></dd></dl>",
            escape(&m.portal),
            escape(&m.role),
            escape(&m.verify)
        );
    }
    if a.operation.is_change() {
        let rows = side_by_side(a.before.as_ref(), a.after.as_ref(), 3);
        s.push_str("<details><summary>Diff</summary>\n<table class=\"sbs\">\n<colgroup><col style=\"width:3rem\"><col><col style=\"width:3rem\"><col></colgroup>\n<tr><th></th><th>before</th><th></th><th>after</th></tr>\n");
        for row in rows {
            let Some(row) = row else {
                s.push_str("<tr class=\"cut\"><td colspan=\"4\">\u{22ef}</td></tr>\n");
                continue;
            };
            let class = match row.change {
                Change::Same => "same",
                Change::Removed => "removed",
                Change::Added => "added",
                Change::Changed => "changed",
            };
            let side = |x: &Option<(usize, String)>, which: &str| match x {
                Some((n, line)) => format!(
                    "<td class=\"n\">{n}</td><td class=\"{which}\">{}</td>",
                    escape(line)
                ),
                None => format!("<td class=\"n\"></td><td class=\"{which}\"></td>"),
            };
            let (l, r) = (side(&row.before, "l"), side(&row.after, "r"));
            let _ = writeln!(s, "<tr class=\"{class}\">{l}{r}</tr>");
        }
        s.push_str("</table>\n</details>\n");
    }
    s.push_str("</article>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_quotes_and_hidden_characters() {
        assert_eq!(
            escape("</details><script>alert('x')</script> & \"q\""),
            "&lt;/details&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape("a\u{202e}b\u{1b}"), "a\\u{202e}b\\u{1b}");
        // Markup first, last, next to each other, beside other text.
        assert_eq!(escape("&"), "&amp;");
        assert_eq!(escape("<>x'\"é&"), "&lt;&gt;x&#39;&quot;é&amp;");
        assert_eq!(escape("plain é"), "plain é");
        assert_eq!(escape(""), "");
    }
}
