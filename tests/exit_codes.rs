//! The exit-code contract of every command (docs/exit-codes.md), through
//! the real binary. Codes 3 and 4 of `apply`, 2 of `verify` and 3 of
//! `rollback` need Azure state and are driven against the emulator in
//! tests/api.rs; the rest are here.

mod common;

use common::run;
use std::io::Read;
use std::process::{Command, Stdio};

const COMMANDS: [&str; 8] = [
    "plan", "show", "rules", "export", "apply", "verify", "rollback", "rehearse",
];

#[test]
fn a_usage_error_exits_1_never_2() {
    // A mistyped flag: the documented pipeline step reads 2 as "changes".
    let r = run(&["plan", "examples/contoso", "--detailed-exitcod"]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(r.stderr.contains("--detailed-exitcod"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    for command in COMMANDS {
        let r = run(&[command, "--no-such-flag"]);
        assert_eq!(r.code, 1, "{command}: {}", r.transcript());
        assert!(
            r.stderr.contains("--no-such-flag"),
            "{command}: {}",
            r.stderr
        );
    }
    // A missing argument, a bad value, no command at all.
    for args in [
        &["plan"][..],
        &["show"][..],
        &["apply"][..],
        &["export", "--out", "x"][..],
        &["plan", "examples/contoso", "--mode", "sideways"][..],
        &["plan", "examples/contoso", "--color", "sometimes"][..],
        &["apply", "p.json", "--parallelism", "0"][..],
        &[][..],
        &["no-such-command"][..],
    ] {
        let r = run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.transcript());
        assert!(!r.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn help_and_version_exit_0() {
    for args in [
        &["--help"][..],
        &["--version"][..],
        &["plan", "--help"][..],
        &["help", "apply"][..],
    ] {
        let r = run(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.transcript());
        assert!(!r.stdout.is_empty(), "{args:?}");
    }
    let r = run(&["--help"]);
    assert!(r.stdout.contains("5 items need review"), "{}", r.stdout);
}

#[test]
fn plan_codes() {
    // 0: changes, but no --detailed-exitcode.
    assert_eq!(run(&["plan", "examples/contoso"]).code, 0);
    // 2: changes present.
    let r = run(&["plan", "examples/contoso", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.transcript());
    // 5: the example has items for review; --fail-on-review wins over 2.
    for extra in [&[][..], &["--detailed-exitcode"][..]] {
        let mut args = vec!["plan", "examples/contoso", "--fail-on-review"];
        args.extend_from_slice(extra);
        let r = run(&args);
        assert_eq!(r.code, 5, "{}", r.transcript());
        assert!(r.stdout.contains("to review"), "{}", r.stdout);
    }
    // Nothing to review: --fail-on-review does not fire.
    let r = run(&[
        "plan",
        "tests/fixtures/scenarios/already-migrated",
        "--fail-on-review",
        "--detailed-exitcode",
    ]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    // 1: unreadable input.
    assert_eq!(run(&["plan", "no/such/export"]).code, 1);
}

#[test]
fn show_and_rules_codes() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    assert_eq!(run(&["plan", "examples/contoso", "--out", dir]).code, 0);
    let plan = out.path().join("plan.json");
    assert_eq!(run(&["show", plan.to_str().unwrap()]).code, 0);
    assert_eq!(run(&["show", "no/such/plan.json"]).code, 1);
    assert_eq!(run(&["rules"]).code, 0);
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("products.yaml"), "products: 7\n").unwrap();
    let r = run(&["rules", "--rules", rules.path().to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.transcript());
}

#[test]
fn china_is_refused_with_the_reason() {
    let ws = "/subscriptions/8d6f3c21-4b7a-4e2f-9c15-2a7e0b9d4f11/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law";
    let out = tempfile::tempdir().unwrap();
    let runs = [
        run(&[
            "export",
            "--workspace",
            ws,
            "--out",
            out.path().to_str().unwrap(),
            "--cloud",
            "china",
        ]),
        run(&["apply", "plan.json", "--cloud", "china"]),
        run(&["rollback", "j.json", "--cloud", "china"]),
        run(&[
            "export",
            "--workspace",
            ws,
            "--out",
            out.path().to_str().unwrap(),
            "--endpoint",
            "https://management.chinacloudapi.cn",
        ]),
    ];
    for r in runs {
        assert_eq!(r.code, 1, "{}", r.transcript());
        assert!(
            r.stderr.contains("retired in Azure operated by 21Vianet")
                && r.stderr.contains("2026-08-18"),
            "{}",
            r.stderr
        );
    }
    // Nothing was written.
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    // `plan | head`: the pipe closes before the summary is written.
    let mut child = Command::new(env!("CARGO_BIN_EXE_sentinel-migrate"))
        .args(["plan", "examples/contoso", "examples/contoso"])
        .current_dir(common::root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn plan_says_where_it_wrote_and_what_to_run_next() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let r = run(&["plan", "examples/contoso", "--out", dir]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let tail: Vec<&str> = r.stdout.lines().rev().take(3).collect();
    assert!(
        tail[2].starts_with(&format!("Wrote {dir}/plan.json")),
        "{}",
        r.stdout
    );
    assert!(
        tail[1].contains("5 item(s) above need a human review"),
        "{}",
        r.stdout
    );
    assert!(
        tail[0].contains(&format!("sentinel-migrate apply {dir}/plan.json")),
        "{}",
        r.stdout
    );
    // With --format json stdout stays the plan alone; the pointer is on stderr.
    let r = run(&["plan", "examples/contoso", "--out", dir, "--format", "json"]);
    assert!(serde_json::from_str::<serde_json::Value>(&r.stdout).is_ok());
    assert!(r.stderr.contains("Wrote "), "{}", r.stderr);
}

#[test]
fn colour_flags_and_environment() {
    let colour = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["plan", "examples/contoso"];
        all.extend_from_slice(args);
        let r = common::run_in(&common::root(), &all, env);
        assert_eq!(r.code, 0, "{}", r.transcript());
        r.stdout.contains('\u{1b}')
    };
    // stdout is a pipe here.
    assert!(!colour(&[], &[]));
    assert!(colour(&["--color", "always"], &[]));
    assert!(!colour(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]));
    assert!(colour(&[], &[("CLICOLOR_FORCE", "1")]));
    assert!(!colour(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]));
    assert!(!colour(&["--no-color"], &[("CLICOLOR_FORCE", "1")]));
    let r = run(&[
        "plan",
        "examples/contoso",
        "--no-color",
        "--color",
        "always",
    ]);
    assert_eq!(
        r.code,
        1,
        "--no-color and --color conflict: {}",
        r.transcript()
    );
}

#[test]
fn rehearse_stops_before_phase_3_unless_confirmed_and_is_deterministic() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    assert_eq!(run(&["plan", "examples/contoso", "--out", dir]).code, 0);
    let plan = out.path().join("plan.json");
    let plan = plan.to_str().unwrap();
    let first = run(&["rehearse", plan]);
    assert_eq!(first.code, 4, "{}", first.transcript());
    assert!(
        first.stdout.contains("Stopped before phase 3"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("not rehearsed"), "{}", first.stdout);
    let second = run(&["rehearse", plan]);
    assert_eq!(first.stdout, second.stdout, "rehearse is not deterministic");
    let confirmed = run(&["rehearse", plan, "--confirm", "tenant-connector"]);
    assert_eq!(confirmed.code, 0, "{}", confirmed.transcript());
    for r in [&first, &confirmed] {
        // No Rust Debug values, no random port or temporary path.
        for needle in ["Complete {", "Awaiting", "127.0.0.1:", "/tmp/"] {
            assert!(!r.stdout.contains(needle), "{needle}: {}", r.stdout);
        }
    }
    assert_eq!(
        confirmed.stdout,
        run(&["rehearse", plan, "--confirm", "tenant-connector"]).stdout
    );
}

#[test]
fn errors_show_controls_escaped_and_azure_errors_carry_a_hint() {
    let r = run(&[
        "plan",
        "examples/contoso",
        "--workspace",
        "\u{1b}[31mred\u{7}",
    ]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(
        !r.stderr.contains('\u{1b}') && !r.stderr.contains('\u{7}'),
        "{:?}",
        r.stderr
    );
    assert!(r.stderr.contains("\\u{1b}[31mred\\u{7}"), "{}", r.stderr);

    // A workspace the endpoint does not know: ARM's status and code, and a hint.
    let emulator = arm_emulator::Emulator::start(arm_emulator::Config::default()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let ws = "/subscriptions/8d6f3c21-4b7a-4e2f-9c15-2a7e0b9d4f11/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/nowhere";
    let r = run(&[
        "export",
        "--workspace",
        ws,
        "--out",
        out.path().join("x").to_str().unwrap(),
        "--endpoint",
        &emulator.url(),
    ]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    assert!(r.stderr.contains(": 404 "), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("  hint: it does not exist at this endpoint"),
        "{}",
        r.stderr
    );
}

/// A second operator: `plan --out DIR` while another run holds DIR's lock
/// (an apply, a rollback or another plan) refuses at once and writes
/// nothing, so no folder ever holds artifacts of two plans.
#[test]
fn plan_refuses_a_folder_another_run_holds() {
    let out = tempfile::tempdir().unwrap();
    let held = sentinel_migrate::api::journal::Lock::acquire(
        &out.path().join("apply-journal.json"),
        "apply",
    )
    .unwrap();
    let r = run(&[
        "plan",
        "examples/contoso",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(r.stderr.contains("is in use by apply"), "{}", r.stderr);
    assert!(!out.path().join("plan.json").exists());
    drop(held);
    let r = run(&[
        "plan",
        "examples/contoso",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(out.path().join("plan.json").exists());
}
