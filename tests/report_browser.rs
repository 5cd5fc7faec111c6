//! `report.html` in a real headless browser (Debian's `chromium`, which
//! `.ci/run` installs): it loads without a console message (no error, no
//! blocked load), its text holds every action (it has no script, and its
//! policy lets none run), and its
//! filters (radio buttons and CSS, no script) show exactly the actions of
//! the operation, tenant or workspace chosen. A screenshot is kept in
//! `target/tmp/report_browser/report.png`. Without chromium the tests
//! print a note and skip, unless SENTINEL_MIGRATE_REQUIRE_TOOLS=1.

mod common;

use common::{read, run};
use sentinel_migrate::plan::Plan;
use sentinel_migrate::render;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Plans the two-tenant fleet into `out`: report.html and plan.json.
fn fleet(out: &Path) -> Plan {
    let r = run(&[
        "plan",
        "tests/fixtures/scenarios/two-tenant-fleet",
        "--settings",
        "tests/fixtures/scenarios/two-tenant-fleet/settings.json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    render::read_plan(&read(out, "plan.json")).unwrap()
}

struct Load {
    stdout: String,
    stderr: String,
}

/// Runs headless chromium on `page` with `extra` flags, at most 90 s.
fn chromium(browser: &Path, page: &Path, extra: &[&str]) -> Load {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(format!("file://{}", page.display()))
    // No session bus here: do not wait for one.
    .env("DBUS_SESSION_BUS_ADDRESS", "disabled:")
    .stdin(Stdio::null());
    let logs = tempfile::tempdir().unwrap();
    let out_file = logs.path().join("stdout");
    let err_file = logs.path().join("stderr");
    cmd.stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(std::fs::File::create(&err_file).unwrap());
    let mut child = cmd.spawn().expect("chromium starts");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Load {
        stdout: std::fs::read_to_string(&out_file).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_file).unwrap_or_default(),
    }
}

/// Console messages (errors, blocked loads, uncaught exceptions) the page
/// caused, as chromium logs them.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect()
}

/// Text as chromium serializes it in `--dump-dom`.
fn dom_text(s: &str) -> String {
    render::one_line(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\u{a0}', "&nbsp;")
}

#[test]
fn report_loads_without_errors_and_holds_every_action_without_javascript() {
    let Some(browser) = common::tool("chromium") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let plan = fleet(out.path());
    let page = out.path().join("report.html");
    // The page has no script, and its policy (`default-src 'none'`) lets
    // none run: what the DOM holds is what a reader without JavaScript
    // gets. (Headless chromium's `--dump-dom` and `--screenshot` give
    // nothing with `--blink-settings=scriptEnabled=false`: they need
    // JavaScript themselves.)
    let load = chromium(&browser, &page, &["--dump-dom"]);
    assert!(
        console_lines(&load.stderr).is_empty(),
        "console messages: {:#?}",
        console_lines(&load.stderr)
    );
    let dom = &load.stdout;
    assert!(dom.contains("<main>"), "no DOM: {}", load.stderr);
    assert!(!dom.contains("<script"));
    for a in &plan.actions {
        for text in [&a.display_name, &a.name].into_iter().flatten() {
            assert!(dom.contains(&dom_text(text)), "{text} not on the page");
        }
        assert!(dom.contains(&format!("id=\"{}\"", a.id)), "{}", a.id);
        assert!(dom.contains(&dom_text(&a.reason.message)));
    }
    for p in &plan.phases {
        assert!(dom.contains(&dom_text(&p.title)));
    }
    // A screenshot to look at.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report_browser");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let load = chromium(
        &browser,
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400",
        ],
    );
    let png =
        std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot ({e}): {}", load.stderr));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000);
}

/// Checks each filter in turn and records which actions stay visible: a
/// probe added to a copy of the report (the report itself has no script,
/// and its policy forbids one). The filters themselves are CSS.
const PROBE: &str = r#"<script>
const result = {};
const radios = [...document.querySelectorAll('form.filters input[type=radio]')];
for (const r of radios) {
  for (const all of ['op-all', 't-all', 'w-all']) document.getElementById(all).checked = true;
  r.checked = true;
  result[r.id] = {
    label: r.parentElement.textContent.trim(),
    visible: [...document.querySelectorAll('article.a')].filter(e => e.checkVisibility()).map(e => e.id),
  };
}
for (const all of ['op-all', 't-all', 'w-all']) document.getElementById(all).checked = true;
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify(result);
document.body.append(pre);
</script>"#;

#[test]
fn filters_by_operation_tenant_and_workspace_show_exactly_their_actions() {
    let Some(browser) = common::tool("chromium") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let plan = fleet(out.path());
    let html = read(out.path(), "report.html");
    let csp = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";
    assert!(html.contains(csp));
    let probed = html
        .replace(
            csp,
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
        )
        .replace("</body>", &format!("{PROBE}\n</body>"));
    let page = out.path().join("probe.html");
    std::fs::write(&page, probed).unwrap();
    let load = chromium(&browser, &page, &["--dump-dom"]);
    assert!(console_lines(&load.stderr).is_empty(), "{}", load.stderr);
    let json = load
        .stdout
        .split("<pre id=\"probe\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| panic!("no probe result: {}", load.stderr))
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let result: serde_json::Value = serde_json::from_str(&json).unwrap();
    let visible = |id: &str| -> BTreeSet<String> {
        result[id]["visible"]
            .as_array()
            .unwrap_or_else(|| panic!("no filter {id}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let ids = |f: &dyn Fn(&sentinel_migrate::plan::Action) -> bool| -> BTreeSet<String> {
        plan.actions
            .iter()
            .filter(|a| f(a))
            .map(|a| a.id.clone())
            .collect()
    };
    let all = ids(&|_| true);
    assert_eq!(visible("op-all"), all);
    let tenant_of = |ws: &Option<String>| {
        plan.workspaces
            .iter()
            .find(|w| &w.id == ws)
            .and_then(|w| w.tenancy.as_ref())
            .and_then(|t| t.tenant_id.clone())
    };
    let mut checked = 0;
    for (id, entry) in result.as_object().unwrap() {
        let label = entry["label"].as_str().unwrap();
        // `name (count)`
        let value = label.rsplit_once(" (").map_or(label, |(v, _)| v);
        let expected = if id.ends_with("-all") {
            all.clone()
        } else if let Some(op) = id.strip_prefix("op-") {
            ids(&|a| a.operation.as_str() == op)
        } else if id.starts_with("t-") {
            ids(&|a| tenant_of(&a.workspace).as_deref() == Some(value))
        } else if id.starts_with("w-") {
            ids(&|a| {
                a.workspace
                    .as_deref()
                    .is_some_and(|w| w.ends_with(&format!("/{value}")))
            })
        } else {
            panic!("unknown filter {id}")
        };
        assert!(!expected.is_empty(), "{id}: no actions expected");
        assert_eq!(visible(id), expected, "filter {id} ({label})");
        checked += 1;
    }
    // all x3, 4 operations, 2 tenants, 2 workspaces.
    assert_eq!(checked, 3 + 4 + 2 + 2, "{result}");
}

#[test]
fn hostile_names_stay_text_in_the_browser() {
    let Some(browser) = common::tool("chromium") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let mut plan = fleet(out.path());
    let hostile =
        "</details><script>alert(1)</script><img src=x onerror=alert(2)> | x | \u{202e}evil";
    for a in &mut plan.actions {
        a.display_name = Some(hostile.into());
    }
    let mut page = Vec::new();
    render::html(&plan, &mut page).unwrap();
    let path = out.path().join("hostile.html");
    std::fs::write(&path, page).unwrap();
    let load = chromium(&browser, &path, &["--dump-dom"]);
    // A script or an image that got in would run or load, or be refused
    // by the policy: either way the console would say so.
    assert!(
        console_lines(&load.stderr).is_empty(),
        "{:#?}",
        console_lines(&load.stderr)
    );
    let dom = &load.stdout;
    assert!(dom.contains("<main>"), "no DOM: {}", load.stderr);
    assert!(
        !dom.contains("<script") && !dom.contains("<img"),
        "markup got in"
    );
    assert!(!dom.contains('\u{202e}'));
    // Shown as text, once per action at least.
    assert!(dom.matches(&dom_text(hostile)).count() >= plan.actions.len());
}
