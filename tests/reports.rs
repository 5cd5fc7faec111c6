//! The plan where it is reviewed: the Markdown (`show --format markdown`,
//! `$GITHUB_STEP_SUMMARY`) and `report.html` (`plan --out`). Snapshots of
//! both for a small fleet, the comment size limit with 5,000 actions, a
//! fleet's identical manual steps shown once, hostile names kept as text,
//! and byte-identical output. The browser test is `report_browser.rs`.

mod common;

use common::{read, run, run_in};
use sentinel_migrate::catalog::Operation;
use sentinel_migrate::plan::{Plan, WorkspaceReport};
use sentinel_migrate::render;
use std::path::Path;

const FLEET: &str = "tests/fixtures/scenarios/two-tenant-fleet";
const FLEET_SETTINGS: &str = "tests/fixtures/scenarios/two-tenant-fleet/settings.json";

/// Plans `inputs` into `out` through the binary.
fn plan_into(out: &Path, inputs: &[&str]) {
    let out_s = out.to_str().unwrap();
    let mut args = vec!["plan", "--out", out_s];
    args.extend_from_slice(inputs);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.transcript());
}

fn fleet_plan(out: &Path) -> Plan {
    plan_into(out, &[FLEET, "--settings", FLEET_SETTINGS]);
    render::read_plan(&read(out, "plan.json")).unwrap()
}

fn contoso_plan() -> Plan {
    let out = tempfile::tempdir().unwrap();
    plan_into(out.path(), &["examples/contoso"]);
    render::read_plan(&read(out.path(), "plan.json")).unwrap()
}

fn markdown(plan: &Plan, artifacts: Option<&str>) -> String {
    let mut buf = Vec::new();
    render::markdown(plan, artifacts, &mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

fn html(plan: &Plan) -> String {
    let mut buf = Vec::new();
    render::html(plan, &mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

#[test]
fn markdown_and_html_of_a_small_fleet() {
    let out = tempfile::tempdir().unwrap();
    fleet_plan(out.path());
    let plan_json = out.path().join("plan.json");
    let r = run(&["show", plan_json.to_str().unwrap(), "--format", "markdown"]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    insta::assert_snapshot!("fleet__markdown", r.stdout);
    insta::assert_snapshot!("fleet__report.html", read(out.path(), "report.html"));
}

#[test]
fn renderings_are_byte_identical_across_runs() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fleet_plan(a.path());
    fleet_plan(b.path());
    assert_eq!(read(a.path(), "report.html"), read(b.path(), "report.html"));
    let show = |d: &Path| {
        let r = run(&[
            "show",
            d.join("plan.json").to_str().unwrap(),
            "--format",
            "markdown",
        ]);
        assert_eq!(r.code, 0);
        r.stdout
    };
    // The same plan read from either folder (no path is in an untruncated
    // rendering).
    assert_eq!(show(a.path()), show(b.path()));
}

/// Table rows, checklist items, review items and diffs in a rendering.
fn items_shown(md: &str) -> usize {
    md.lines()
        .filter(|l| l.starts_with("| `") || l.starts_with("- [ ] ") || l.starts_with("<details>"))
        .count()
        + md.split("\n### To review\n")
            .nth(1)
            .map(|rest| {
                rest.split("\n### ")
                    .next()
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.starts_with("- "))
                    .count()
            })
            .unwrap_or(0)
}

#[test]
fn markdown_of_5000_actions_fits_a_comment_and_says_what_it_left_out() {
    let mut plan = contoso_plan();
    let base = plan.actions.clone();
    let mut actions = Vec::new();
    for i in 0..5000 {
        let mut a = base[i % base.len()].clone();
        a.id = format!("{}-{i:05}", a.id);
        // Non-ASCII, so bytes, characters and UTF-16 units differ.
        a.display_name = Some(format!("Règle {i:05} 日本語 ünïcode"));
        if let Some(n) = &a.name {
            a.name = Some(format!("{n}-{i:05}"));
        }
        actions.push(a);
    }
    plan.actions = actions;
    plan.summary = sentinel_migrate::plan::Summary::count(&plan.actions);
    let md = markdown(&plan, Some("plan-out"));
    assert!(md.len() <= render::MARKDOWN_LIMIT, "{} bytes", md.len());
    assert!(md.chars().count() <= 65_536);
    assert!(md.encode_utf16().count() <= 65_536);
    // It uses the room it has: not cut far short.
    assert!(md.len() > 60_000, "{} bytes", md.len());
    // Every item is shown or counted.
    let manual_steps = {
        let mut distinct: Vec<_> = plan
            .actions
            .iter()
            .filter(|a| a.operation == Operation::Manual)
            .map(|a| (&a.display_name, &a.reason, &a.manual))
            .collect();
        distinct.sort_by_key(|k| format!("{k:?}"));
        distinct.dedup();
        distinct.len()
    };
    let reviews = plan
        .actions
        .iter()
        .filter(|a| a.operation == Operation::Review)
        .count();
    let diffs = plan
        .actions
        .iter()
        .filter(|a| a.operation.is_change())
        .count();
    let items = manual_steps + plan.actions.len() + reviews + diffs;
    let left_out = items - items_shown(&md);
    let last = md.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with(&format!("**{left_out} items left out** (")),
        "{last}"
    );
    assert!(
        last.ends_with(
            "to stay within 65,536 characters: see `plan-out/plan.json`, `plan-out/report.html` and `plan-out/changes.diff`."
        ),
        "{last}"
    );
    // The headline, the banner and the tables come first.
    assert!(md.starts_with("## Plan: "));
    assert!(md.contains("> [!CAUTION]"));
    assert!(md.contains("| workspace | resource | action | reason |"));
    // Every phase's table shows its first rows: one long table cannot
    // crowd out the next (the deletions of phase 3 among them).
    for p in &plan.phases {
        let heading = format!(": phase {}, {}\n", p.number.number(), p.title);
        assert!(md.contains(&heading), "no table for{heading}");
    }
    // Every `<details>` that was opened is closed.
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
    // A folder name too long for the limit is not named.
    let long = "d/".repeat(40_000);
    let md = markdown(&plan, Some(&long));
    assert!(md.len() <= render::MARKDOWN_LIMIT, "{} bytes", md.len());
    assert!(
        md.ends_with("in the plan's folder.\n"),
        "{}",
        &md[md.len() - 300..]
    );
}

#[test]
fn a_small_plan_is_not_truncated() {
    let plan = contoso_plan();
    let md = markdown(&plan, Some("plan-out"));
    assert!(!md.contains("left out"), "{md}");
    assert!(!md.contains("plan-out"), "{md}");
    for a in &plan.actions {
        let shown = a.name.as_deref().or(a.display_name.as_deref()).unwrap();
        assert!(md.contains(shown), "{shown} missing");
    }
    let diffs = plan
        .actions
        .iter()
        .filter(|a| a.operation.is_change())
        .count();
    assert_eq!(md.matches("<details>").count(), diffs);
    assert_eq!(
        md.lines().filter(|l| l.starts_with("| `")).count(),
        plan.actions.len()
    );
}

#[test]
fn a_fleets_identical_manual_steps_are_listed_once_with_their_workspaces() {
    let mut plan = contoso_plan();
    let template = plan.workspaces[0].clone();
    let first = template.id.clone().unwrap();
    let prefix = first.rsplit_once('/').unwrap().0.to_string();
    let base: Vec<_> = plan.actions.clone();
    plan.workspaces.clear();
    plan.actions.clear();
    for i in 0..20 {
        let id = format!("{prefix}/law-{i:02}");
        plan.workspaces.push(WorkspaceReport {
            id: Some(id.clone()),
            ..template.clone()
        });
        for a in &base {
            let mut a = a.clone();
            a.workspace = Some(id.clone());
            a.id = format!("{}-{i:02}", a.id);
            plan.actions.push(a);
        }
    }
    plan.summary = sentinel_migrate::plan::Summary::count(&plan.actions);
    let md = markdown(&plan, None);
    let manual: Vec<_> = base
        .iter()
        .filter(|a| a.operation == Operation::Manual)
        .collect();
    assert!(!manual.is_empty());
    assert_eq!(md.matches("- [ ] ").count(), manual.len(), "{md}");
    let all: Vec<String> = (0..20).map(|i| format!("`law-{i:02}`")).collect();
    assert!(
        md.contains(&format!("  - workspaces: {}\n", all.join(", "))),
        "{md}"
    );
    for a in manual {
        let verify = &a.manual.as_ref().unwrap().verify;
        assert_eq!(md.matches(verify.as_str()).count(), 1, "{verify}");
    }
}

/// The Markdown less its code blocks and code spans (CommonMark's rules:
/// a span ends at the next run of exactly as many backticks).
fn outside_code(md: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<usize> = None;
    for line in md.lines() {
        let t = line.trim_start();
        let ticks = t.chars().take_while(|&c| c == '`').count();
        match fence {
            Some(n) if ticks >= n && t[ticks..].trim().is_empty() => fence = None,
            Some(_) => {}
            None if ticks >= 3 => fence = Some(ticks),
            None => {
                let chars: Vec<char> = line.chars().collect();
                let mut i = 0;
                while i < chars.len() {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        out.push(chars[i]);
                        out.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    if chars[i] != '`' {
                        out.push(chars[i]);
                        i += 1;
                        continue;
                    }
                    let run = chars[i..].iter().take_while(|&&c| c == '`').count();
                    // The closing run of exactly `run` backticks.
                    let mut j = i + run;
                    let mut close = None;
                    while j < chars.len() {
                        let r = chars[j..].iter().take_while(|&&c| c == '`').count();
                        if r == run {
                            close = Some(j + r);
                            break;
                        }
                        j += r.max(1);
                    }
                    match close {
                        Some(end) => i = end,
                        None => {
                            out.extend(&chars[i..i + run]);
                            i += run;
                        }
                    }
                }
                out.push('\n');
            }
        }
    }
    out
}

const HOSTILE: &str = "</details><script>alert(1)</script> | x | \u{202e}evil `tick` ``` fence";

#[test]
fn text_from_an_export_stays_text() {
    let mut plan = contoso_plan();
    for a in &mut plan.actions {
        a.display_name = Some(HOSTILE.into());
        if a.name.is_some() {
            a.name = Some("| x | <b>&amp;".into());
        }
        if let Some(m) = &mut a.manual {
            m.verify = "SecurityAlert | where x == \"```\" </details>".into();
        }
    }
    let md = markdown(&plan, Some("plan-out"));
    // Outside code (where it is only text), no markup from the names.
    let prose = outside_code(&md);
    assert!(!prose.contains("<script"), "{prose}");
    assert!(!prose.contains("<b>"), "{prose}");
    assert_eq!(
        prose.matches("<details>").count(),
        prose.matches("</details>").count()
    );
    assert!(!md.contains('\u{202e}'));
    assert!(md.contains("\\u{202e}evil"));
    // Every table row keeps its four cells: no pipe from a name splits one.
    for row in md.lines().filter(|l| l.starts_with("| `")) {
        let mut cells = 0;
        let mut prev = ' ';
        for c in row.chars() {
            if c == '|' && prev != '\\' {
                cells += 1;
            }
            prev = c;
        }
        assert_eq!(cells, 5, "{row}");
    }
    // A code block's fence outlasts the backticks inside it.
    assert!(md.contains("````kusto\n"), "{md}");
    assert!(md.contains("````diff\n"), "{md}");

    let page = html(&plan);
    assert!(!page.contains("<script"), "a script tag");
    assert!(!page.contains("<b>"));
    assert!(!page.contains('\u{202e}'));
    assert!(
        page.contains("&lt;/details&gt;&lt;script&gt;alert(1)&lt;/script&gt; | x | \\u{202e}evil")
    );
    assert_eq!(
        page.matches("<details").count(),
        page.matches("</details>").count()
    );
}

#[test]
fn the_report_is_self_contained() {
    let out = tempfile::tempdir().unwrap();
    fleet_plan(out.path());
    let page = read(out.path(), "report.html");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">"
    ));
    // Nothing is loaded: no source, no link, no stylesheet import, no script.
    for needle in [
        "src=", "href=", "url(", "@import", "<script", "<link", "<iframe",
    ] {
        assert!(!page.contains(needle), "{needle} in report.html");
    }
    // Every action is on the page, with the filters for it.
    let plan = render::read_plan(&read(out.path(), "plan.json")).unwrap();
    for a in &plan.actions {
        assert!(page.contains(&format!("id=\"{}\"", a.id)), "{}", a.id);
    }
    for id in [
        "op-all",
        "op-update",
        "op-delete",
        "op-manual",
        "op-review",
        "t-0",
        "t-1",
        "w-0",
        "w-1",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
    }
}

#[test]
fn the_job_summary_gets_the_markdown_appended_and_never_fails_the_plan() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("plan-out");
    let summary = work.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let root = common::root();
    let args = [
        "plan",
        FLEET,
        "--settings",
        FLEET_SETTINGS,
        "--out",
        out.to_str().unwrap(),
    ];
    let r = run_in(
        &root,
        &args,
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    assert_eq!(r.code, 0, "{}", r.transcript());
    let show = run(&[
        "show",
        out.join("plan.json").to_str().unwrap(),
        "--format",
        "markdown",
    ]);
    let written = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(written, format!("earlier step\n\n{}", show.stdout));
    // `show` only prints: a job that plans and then posts `show --format
    // markdown` as a comment gets the plan once in its summary.
    for format in ["human", "markdown"] {
        let r = run_in(
            &root,
            &[
                "show",
                out.join("plan.json").to_str().unwrap(),
                "--format",
                format,
            ],
            &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
        );
        assert_eq!(r.code, 0);
        assert_eq!(std::fs::read_to_string(&summary).unwrap(), written);
    }
    // An unwritable summary (here a folder) is a warning, not a lost plan.
    std::fs::remove_dir_all(&out).unwrap();
    let r = run_in(
        &root,
        &args,
        &[("GITHUB_STEP_SUMMARY", work.path().to_str().unwrap())],
    );
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(
        r.stderr
            .contains("warning: cannot append the Markdown summary to"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("Plan: "));
    assert!(out.join("plan.json").is_file());
    assert!(out.join("report.html").is_file());
}
