//! The summary printed on stdout: one block per workspace, a line per
//! resource with its marker (`+` create, `-` delete, `~` update, `!` manual
//! or review), the reason in one line, and the footer.

use super::{footer, one_line};
use crate::catalog::Operation;
use crate::plan::{Action, Plan};
use anstyle::{AnsiColor, Style as Paint};
use std::io::{self, Write};

/// Whether to colour the output (the caller decides: terminal, NO_COLOR, --no-color).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Color,
}

fn paint(style: Style, color: AnsiColor, bold: bool, text: &str) -> String {
    match style {
        Style::Plain => text.to_string(),
        Style::Color => {
            let mut p = Paint::new().fg_color(Some(color.into()));
            if bold {
                p = p.bold();
            }
            format!("{p}{text}{p:#}")
        }
    }
}

/// Headings are bold in the terminal's own foreground colour, readable on
/// light and dark backgrounds alike (a white heading vanishes on white).
fn heading(style: Style, text: &str) -> String {
    match style {
        Style::Plain => text.to_string(),
        Style::Color => {
            let p = Paint::new().bold();
            format!("{p}{text}{p:#}")
        }
    }
}

fn marker(a: &Action) -> (&'static str, AnsiColor) {
    match a.operation {
        Operation::Create => ("+", AnsiColor::Green),
        Operation::Delete => ("-", AnsiColor::Red),
        Operation::Update => ("~", AnsiColor::Yellow),
        Operation::Manual | Operation::Review => ("!", AnsiColor::Magenta),
    }
}

/// `alertRules/name "display name" (kind)`, or a step's display name,
/// escaped by [`one_line`].
pub(crate) fn title(a: &Action) -> String {
    let mut t = String::new();
    match (&a.resource_type, &a.name) {
        (Some(rt), Some(name)) => {
            t.push_str(&format!("{rt}/{}", one_line(name)));
            if let Some(d) = &a.display_name {
                t.push_str(&format!(" \"{}\"", one_line(d)));
            }
            if let Some(k) = &a.kind {
                t.push_str(&format!(" ({})", one_line(k)));
            }
        }
        _ => t.push_str(&one_line(a.display_name.as_deref().unwrap_or_default())),
    }
    t
}

/// The workspaces as a fleet reads them, tenant by tenant: the workspaces
/// of one tenant together, its primary first (files that name no
/// workspace last).
pub(crate) fn ordered_workspaces(plan: &Plan) -> Vec<&crate::plan::WorkspaceReport> {
    let tenant_key = |ws: &&crate::plan::WorkspaceReport| {
        let t = ws.tenancy.as_ref();
        (
            ws.id.is_none(),
            t.and_then(|t| t.tenant_id.clone()).is_none(),
            t.and_then(|t| t.tenant_id.clone()).unwrap_or_default(),
            t.is_none_or(|t| t.role != crate::plan::Role::Primary),
            ws.id.clone().unwrap_or_default().to_ascii_lowercase(),
        )
    };
    let mut ordered: Vec<&crate::plan::WorkspaceReport> = plan.workspaces.iter().collect();
    ordered.sort_by_key(tenant_key);
    ordered
}

/// The word an action is counted under (`disable`, `stop-incidents`).
pub(crate) fn verb(a: &Action) -> String {
    serde_json::to_value(a.verb)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Where a piece of evidence is: `file:line:col`, or `query line:col`
/// (not escaped).
pub(crate) fn place(e: &crate::plan::Evidence) -> String {
    match &e.source {
        Some(o) => format!("{}:{}:{}", o.path, o.line, o.column),
        None => format!("query {}:{}", e.line, e.column),
    }
}

/// Writes the human summary.
pub fn human(plan: &Plan, w: &mut dyn Write, style: Style) -> io::Result<()> {
    let files = plan.inputs.len();
    let resources: usize = plan.inputs.iter().map(|i| i.resources).sum();
    writeln!(
        w,
        "{} plan ({} mode): {} workspace{}, {} resource{} from {} file{}",
        heading(style, "sentinel-migrate"),
        match plan.settings.mode {
            crate::catalog::Mode::Switch => "switch",
            crate::catalog::Mode::OptOut => "opt-out",
        },
        plan.workspaces.len(),
        if plan.workspaces.len() == 1 { "" } else { "s" },
        resources,
        if resources == 1 { "" } else { "s" },
        files,
        if files == 1 { "" } else { "s" },
    )?;
    let ordered = ordered_workspaces(plan);
    let tenants: std::collections::BTreeSet<Option<String>> = ordered
        .iter()
        .map(|ws| ws.tenancy.as_ref().and_then(|t| t.tenant_id.clone()))
        .collect();
    let fleet = plan.workspaces.len() > 1 && tenants.len() > 1;
    let mut current: Option<Option<String>> = None;
    let by_workspace = super::ByWorkspace::new(plan);
    for ws in ordered {
        let tenant = ws.tenancy.as_ref().and_then(|t| t.tenant_id.clone());
        if fleet && ws.id.is_some() && current.as_ref() != Some(&tenant) {
            let members = plan
                .workspaces
                .iter()
                .filter(|o| {
                    o.id.is_some() && o.tenancy.as_ref().and_then(|t| t.tenant_id.clone()) == tenant
                })
                .count();
            writeln!(w)?;
            writeln!(
                w,
                "{} {} ({} workspace{})",
                heading(style, "Tenant"),
                one_line(
                    tenant
                        .as_deref()
                        .unwrap_or("unknown (each workspace planned on its own)")
                ),
                members,
                if members == 1 { "" } else { "s" }
            )?;
            current = Some(tenant.clone());
        }
        writeln!(w)?;
        let id = ws
            .id
            .clone()
            .unwrap_or_else(|| "(workspace not named by the exports)".into());
        writeln!(w, "{} {}", heading(style, "Workspace"), one_line(&id))?;
        writeln!(
            w,
            "  {} data connectors, {} analytics rules, {} automation rules",
            ws.data_connectors, ws.alert_rules, ws.automation_rules
        )?;
        if let Some(t) = &ws.tenancy {
            let role = match (t.role, &t.primary) {
                (crate::plan::Role::Secondary, Some(p)) => format!("secondary (primary: {p})"),
                (crate::plan::Role::Secondary, None) => "secondary".to_string(),
                (crate::plan::Role::Primary, _) => "primary".to_string(),
            };
            writeln!(
                w,
                "  tenant {}, {role}, Defender portal: {}",
                t.tenant_id.as_deref().unwrap_or("unknown"),
                t.defender_portal.as_str()
            )?;
        }
        let actions = by_workspace.of(ws.id.as_deref());
        if actions.is_empty() && ws.not_read.is_empty() {
            writeln!(w, "  Nothing to do: in the desired state.")?;
        } else if actions.is_empty() {
            writeln!(
                w,
                "  Nothing to do in what was read; not read: {} (see the notes).",
                ws.not_read
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        for phase in &plan.phases {
            let in_phase: Vec<&&Action> =
                actions.iter().filter(|a| a.phase == phase.number).collect();
            if in_phase.is_empty() {
                continue;
            }
            writeln!(w)?;
            writeln!(
                w,
                "  {}",
                heading(style, &format!("Phase {}: {}", phase.number, phase.title))
            )?;
            for a in in_phase {
                action(a, w, style)?;
            }
        }
        if !ws.notes.is_empty() {
            writeln!(w)?;
            writeln!(w, "  Notes:")?;
            for n in &ws.notes {
                writeln!(w, "    - {}", one_line(n))?;
            }
        }
    }
    if !plan.skipped.is_empty() {
        writeln!(w)?;
        writeln!(w, "Skipped ({}):", plan.skipped.len())?;
        for s in &plan.skipped {
            writeln!(w, "  {}: {}", one_line(&s.path), one_line(&s.reason))?;
        }
    }
    writeln!(w)?;
    writeln!(w, "{}", heading(style, &footer(plan)))
}

fn action(a: &Action, w: &mut dyn Write, style: Style) -> io::Result<()> {
    let (m, color) = marker(a);
    let verb = verb(a);
    writeln!(
        w,
        "  {} {}  {}",
        paint(style, color, true, m),
        title(a),
        paint(style, color, false, &verb)
    )?;
    writeln!(w, "      {} {}", a.reason.code, one_line(&a.reason.message))?;
    evidence(&a.evidence, "        ", w)?;
    if let Some(m) = &a.manual {
        writeln!(w, "        where:  {}", one_line(&m.portal))?;
        writeln!(w, "        who:    {}", one_line(&m.role))?;
        writeln!(w, "        verify: {}", one_line(&m.verify))?;
    }
    if let Some(v) = &a.via {
        writeln!(w, "        via:    {}", one_line(&via(a, v)))?;
    }
    if let Some(b) = &a.blocked {
        writeln!(
            w,
            "        {} {}",
            paint(style, AnsiColor::Red, false, "not appliable:"),
            one_line(b)
        )?;
    }
    Ok(())
}

/// The path a step takes, as the summary names it.
fn via(a: &Action, v: &crate::plan::Via) -> String {
    use crate::plan::Route;
    let place = |o: &crate::model::Origin| format!("{}:{}", o.path, o.line);
    match v.route {
        Route::Patch => {
            let file = v.file.as_ref().or(a.source.as_ref());
            let mut s = format!("patch {}", file.map(place).unwrap_or_default());
            if let Some(p) = &v.parameter {
                s.push_str(&format!(" (the value of the parameter `{p}`)"));
            }
            s.push_str(" (plan --patch FILE or --write)");
            if let Some(n) = &v.note {
                s.push_str(&format!("; {n}"));
            }
            s
        }
        Route::Apply => "apply (sentinel-migrate apply, or apply.sh)".into(),
        Route::Manual => match &v.note {
            Some(n) => format!("manual: {n}"),
            None => "manual".into(),
        },
    }
}

/// Evidence lines, each `place  `text`: explanation`, indented.
pub(crate) fn evidence(
    list: &[crate::plan::Evidence],
    indent: &str,
    w: &mut dyn Write,
) -> io::Result<()> {
    for e in list {
        writeln!(
            w,
            "{indent}{}  `{}`: {}",
            one_line(&place(e)),
            one_line(&e.text),
            one_line(&e.explanation)
        )?;
    }
    Ok(())
}
