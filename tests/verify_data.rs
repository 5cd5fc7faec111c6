//! `verify --data` against seeded emulator data: healthy, alerts lost,
//! duplicates present (and a Sentinel-created incident naming its rule),
//! the switch time from the apply journal or `--switched-at`, the queries
//! under `-v`, the JSON report, errors, and the token never shown.

mod common;
#[path = "support/contoso.rs"]
mod contoso;

use arm_emulator::{Config, Emulator, Faults};
use common::{run, run_in};
use contoso::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The window of every test: 7 days up to UNTIL, the switch half-way.
const UNTIL: &str = "2026-11-27T00:00:00Z";
const SWITCH: &str = "2026-11-23T12:00:00Z";
/// A rule of the contoso plan (disabled by it): "High severity Defender for Cloud alert".
const PLANNED_RULE: &str = "bc1f1bd8-5ca8-4b12-8a7d-58bf57471d18";
const UNKNOWN_RULE: &str = "0e7b6c55-1f9d-4c3e-9a41-7d2f0c9e1a00";

fn at(day: u32, hour: u32) -> String {
    format!("2026-11-{day:02}T{hour:02}:00:00Z")
}

fn alert(id: &str, time: &str, product: &str, severity: &str) -> Value {
    json!({
        "TimeGenerated": time,
        "SystemAlertId": id,
        "ProductName": product,
        "AlertSeverity": severity,
        "AlertName": "Suspicious process executed",
    })
}

/// One incident as SecurityIncident holds it: a row per change (New,
/// then Active an hour later).
fn incident(
    number: u32,
    provider: &str,
    created: &str,
    alerts: &[&str],
    rules: &[&str],
) -> Vec<Value> {
    ["New", "Active"]
        .iter()
        .enumerate()
        .map(|(i, status)| {
            let t = format!(
                "{}{}",
                &created[..11],
                format_args!(
                    "{:02}:30:00Z",
                    created[11..13].parse::<u32>().unwrap() + i as u32
                )
            );
            json!({
                "TimeGenerated": t,
                "IncidentName": format!("inc-{number}"),
                "IncidentNumber": number,
                "ProviderName": provider,
                "CreatedTime": created,
                "Status": status,
                "AlertIds": serde_json::to_string(alerts).unwrap(),
                "RelatedAnalyticRuleIds": rules,
            })
        })
        .collect()
}

/// Alerts from 2026-11-20 to 2026-11-26, `before` a day before the switch
/// and `after` a day after it, each in one incident (Sentinel's before the
/// switch, Defender XDR's after); besides, Informational and other
/// products' alerts, and a second row (an update) of some alerts.
fn data(before: u32, after: u32) -> (Vec<Value>, Vec<Value>) {
    let (mut alerts, mut incidents) = (Vec::new(), Vec::new());
    let mut n = 0;
    for day in 20..=26 {
        for hour in [1, 5, 9, 13, 17, 21] {
            let time = at(day, hour);
            let is_after = time.as_str() >= SWITCH;
            let per_day = if is_after { after } else { before };
            let slot = [1, 5, 9, 13, 17, 21]
                .iter()
                .position(|h| *h == hour)
                .unwrap() as u32;
            if slot < per_day {
                n += 1;
                let id = format!("dfc-{n}");
                alerts.push(alert(&id, &time, "Azure Security Center", "Medium"));
                if n % 3 == 0 {
                    alerts.push(alert(
                        &id,
                        &at(day, hour).replace(":00:00Z", ":10:00Z"),
                        "Azure Security Center",
                        "Medium",
                    ));
                }
                let provider = if is_after {
                    "Microsoft XDR"
                } else {
                    "Azure Sentinel"
                };
                let rules: &[&str] = if is_after { &[] } else { &[PLANNED_RULE] };
                incidents.extend(incident(n, provider, &time, &[&id], rules));
            }
            alerts.push(alert(
                &format!("info-{day}-{hour}"),
                &time,
                "Azure Security Center",
                "Informational",
            ));
            alerts.push(alert(
                &format!("mde-{day}-{hour}"),
                &time,
                "Microsoft Defender Advanced Threat Protection",
                "High",
            ));
        }
    }
    (alerts, incidents)
}

fn seeded(alerts: Vec<Value>, incidents: Vec<Value>) -> Emulator {
    let emulator = contoso_emulator(Config::default());
    emulator.seed_logs(
        CONTOSO,
        &json!({"SecurityAlert": alerts, "SecurityIncident": incidents}),
    );
    emulator
}

fn healthy() -> Emulator {
    let (a, i) = data(4, 4);
    seeded(a, i)
}

fn lost() -> Emulator {
    let (a, i) = data(4, 1);
    seeded(a, i)
}

/// Healthy, but two alerts since the switch are also in incidents of
/// Sentinel's own rules: one the plan disabled, one it does not know.
fn duplicated() -> Emulator {
    let (a, mut i) = data(4, 4);
    let after: Vec<String> = a
        .iter()
        .filter(|r| {
            r["TimeGenerated"].as_str().unwrap() >= SWITCH
                && r["SystemAlertId"].as_str().unwrap().starts_with("dfc-")
        })
        .map(|r| r["SystemAlertId"].as_str().unwrap().to_string())
        .collect();
    i.extend(incident(
        901,
        "Azure Sentinel",
        &at(24, 2),
        &[&after[0]],
        &[PLANNED_RULE],
    ));
    i.extend(incident(
        902,
        "Azure Sentinel",
        &at(25, 2),
        &[&after[5]],
        &[UNKNOWN_RULE],
    ));
    seeded(a, i)
}

fn plan_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&[
        "plan",
        "examples/contoso",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let plan = dir.path().join("plan.json");
    (dir, plan)
}

fn verify_data(emulator: &Emulator, plan: &Path, extra: &[&str]) -> common::Run {
    let mut args = vec!["--data", "--until", UNTIL];
    args.extend_from_slice(extra);
    against(emulator, "verify", plan, &args)
}

fn switched<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--switched-at", SWITCH];
    args.extend_from_slice(extra);
    args
}

fn line<'a>(stdout: &'a str, check: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| {
            l.trim_start()
                .get(4..)
                .is_some_and(|rest| rest.trim_start().starts_with(&format!("{check}:")))
        })
        .unwrap_or_else(|| panic!("no line for {check}:\n{stdout}"))
}

#[test]
fn healthy_data_holds_and_exits_0() {
    let emulator = healthy();
    let (_dir, plan) = plan_dir();
    let r = verify_data(&emulator, &plan, &switched(&[]));
    assert_eq!(r.code, 0, "{}", r.transcript());
    for check in [
        "alerts-per-day",
        "xdr-incidents",
        "duplicates",
        "sentinel-incidents",
    ] {
        assert!(
            line(&r.stdout, check).trim_start().starts_with("ok"),
            "{check}: {}",
            r.stdout
        );
    }
    // 4 alerts a day at 01, 05, 09 and 13 h (3 of 2026-11-23's before the
    // switch at 12:00): Informational, other products and update rows left out.
    assert!(
        line(&r.stdout, "alerts-per-day").contains(
            "13 after the switch in 3.5 day(s) (3.7/day), 15 before it in 3.5 day(s) (4.3/day)"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("2026-11-23: 3 before, 1 after the switch"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("Microsoft XDR: 13 incident(s)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("switched at 2026-11-23T12:00:00Z (from --switched-at)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("The same SecurityAlert rows arrive through either connector"),
        "{}",
        r.stdout
    );
    // Four read-only queries, through the ARM form of the query API.
    let queries: Vec<_> = emulator
        .log()
        .into_iter()
        .filter(|l| l.path.contains("/api/query"))
        .collect();
    assert_eq!(queries.len(), 4, "{queries:?}");
    for q in &queries {
        assert_eq!((q.method.as_str(), q.status), ("POST", 200), "{q:?}");
        assert!(
            q.path
                .starts_with(&format!("{CONTOSO}/api/query?api-version=2020-08-01")),
            "{q:?}"
        );
    }
    assert_eq!(emulator.writes(), 0, "verify --data changes nothing");
}

#[test]
fn lost_alerts_fail_and_exit_2() {
    let emulator = lost();
    let (_dir, plan) = plan_dir();
    let r = verify_data(&emulator, &plan, &switched(&[]));
    assert_eq!(r.code, 2, "{}", r.transcript());
    let l = line(&r.stdout, "alerts-per-day");
    assert!(l.trim_start().starts_with("FAIL"), "{}", r.stdout);
    assert!(l.contains("lost alerts: 3 after the switch in 3.5 day(s) (0.9/day), 15 before it in 3.5 day(s) (4.3/day)"), "{l}");
    assert!(l.contains("below 50% of the rate before the switch"), "{l}");
    assert!(
        line(&r.stdout, "duplicates").trim_start().starts_with("ok"),
        "{}",
        r.stdout
    );
}

#[test]
fn duplicates_and_sentinel_incidents_fail_naming_incidents_and_rules() {
    let emulator = duplicated();
    let (_dir, plan) = plan_dir();
    let r = verify_data(&emulator, &plan, &switched(&[]));
    assert_eq!(r.code, 2, "{}", r.transcript());
    insta::assert_snapshot!("verify_data_duplicates_human", r.transcript());
    assert!(
        line(&r.stdout, "alerts-per-day")
            .trim_start()
            .starts_with("ok"),
        "{}",
        r.stdout
    );
    assert!(
        line(&r.stdout, "duplicates")
            .trim_start()
            .starts_with("FAIL"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("(Suspicious process executed) in 2 incidents: #"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("#901") && r.stdout.contains("#902"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("(from Azure Sentinel, Microsoft XDR)"),
        "{}",
        r.stdout
    );
    let s = line(&r.stdout, "sentinel-incidents");
    assert!(s.trim_start().starts_with("FAIL"), "{}", r.stdout);
    assert!(
        s.contains(&format!(
            "rule `High severity Defender for Cloud alert` ({PLANNED_RULE}; the plan's step MIG102-"
        )),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "rule {UNKNOWN_RULE} (not in the plan: a rule the plan missed)"
        )),
        "{s}"
    );
    // Sentinel's incidents from before the switch do not count.
    assert!(
        r.stdout.contains("#901") && !r.stdout.contains("1 incident(s): #1,"),
        "{}",
        r.stdout
    );

    let json = verify_data(&emulator, &plan, &switched(&["--format", "json"]));
    assert_eq!(json.code, 2, "{}", json.transcript());
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["all_hold"], false);
    insta::assert_snapshot!("verify_data_duplicates_json", json.stdout);
}

#[test]
fn verbose_prints_each_query_as_sent() {
    let emulator = healthy();
    let (_dir, plan) = plan_dir();
    let r = verify_data(&emulator, &plan, &switched(&["-v"]));
    assert_eq!(r.code, 0, "{}", r.transcript());
    for check in [
        "alerts-per-day",
        "xdr-incidents",
        "duplicates",
        "sentinel-incidents",
    ] {
        assert!(
            r.stderr
                .contains(&format!("    // sentinel-migrate verify --data: {check}\n")),
            "{check}: {}",
            r.stderr
        );
    }
    assert!(
        r.stderr
            .contains("    let switched_at = datetime(2026-11-23T12:00:00Z);"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("    | summarize arg_max(TimeGenerated, *) by IncidentName"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("    | where AlertSeverity != \"Informational\""),
        "{}",
        r.stderr
    );
    // The request log line of -v too.
    assert!(
        r.stderr.contains("/api/query?api-version=2020-08-01 200"),
        "{}",
        r.stderr
    );
    let quiet = verify_data(&emulator, &plan, &switched(&[]));
    assert!(
        !quiet.stderr.contains("sentinel-migrate verify --data:"),
        "{}",
        quiet.stderr
    );
}

#[test]
fn the_switch_time_comes_from_the_apply_journal_or_must_be_given() {
    let emulator = healthy();
    let (dir, plan) = plan_dir();
    // No journal, no --switched-at: refused, saying what to give.
    let r = verify_data(&emulator, &plan, &[]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(
        r.stderr.contains("no apply-journal.json beside the plan"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--switched-at"), "{}", r.stderr);
    // Apply records when each step was done; the journal's times are set
    // as if apply had run on 2026-11-23, its last step at SWITCH.
    let journal_path = dir.path().join("apply-journal.json");
    let backdate = || {
        let text = std::fs::read_to_string(&journal_path).unwrap();
        let mut journal: Value = serde_json::from_str(&text).unwrap();
        let steps = journal["steps"].as_object_mut().unwrap();
        assert!(!steps.is_empty());
        for (i, step) in steps.values_mut().enumerate() {
            let done_at = step["done_at"]
                .as_str()
                .unwrap_or_else(|| panic!("no done_at: {step}"));
            assert!(done_at.len() == 20 && done_at.ends_with('Z'), "{done_at}");
            step["done_at"] = json!(format!("2026-11-23T{:02}:00:00Z", 12 - i.min(11)));
        }
        std::fs::write(
            &journal_path,
            serde_json::to_string_pretty(&journal).unwrap(),
        )
        .unwrap();
    };
    // Phases 1 and 2 only: the journal gives the time, and says what is
    // left (the three legacy connectors of phase 3).
    let a = against(&emulator, "apply", &plan, &[]);
    assert_eq!(a.code, 4, "{}", a.transcript());
    backdate();
    let r = verify_data(&emulator, &plan, &[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(
        r.stdout.contains("switched at 2026-11-23T12:00:00Z (from "),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("; apply is not complete: 3 step(s) of this workspace not done yet"),
        "{}",
        r.stdout
    );
    let a = against(&emulator, "apply", &plan, &CONFIRM);
    assert_eq!(a.code, 0, "{}", a.transcript());
    backdate();
    emulator.clear_log();
    let r = verify_data(&emulator, &plan, &[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(
        r.stdout.contains("switched at 2026-11-23T12:00:00Z (from "),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("apply-journal.json (the last step apply did))\n"),
        "{}",
        r.stdout
    );
    // --switched-at wins over the journal.
    let r = verify_data(&emulator, &plan, &["--switched-at", "2026-11-25T00:00:00Z"]);
    assert!(
        r.stdout
            .contains("switched at 2026-11-25T00:00:00Z (from --switched-at)"),
        "{}",
        r.stdout
    );
}

#[test]
fn bad_values_are_usage_errors_before_any_request() {
    let emulator = healthy();
    let (_dir, plan) = plan_dir();
    for (args, says) in [
        (
            vec!["--since", "7w"],
            "--since: `7w`: expected days or hours",
        ),
        (vec!["--since", "400d"], "--since: `400d`: out of range"),
        (
            vec!["--switched-at", "2026-11-23 12:00"],
            "--switched-at: `2026-11-23 12:00`",
        ),
        (
            vec!["--switched-at", UNTIL],
            "--switched-at must be before --until",
        ),
    ] {
        let r = verify_data(&emulator, &plan, &args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.transcript());
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    // The data flags need --data.
    let r = against(&emulator, "verify", &plan, &["--since", "7d"]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(emulator.log().is_empty(), "{:?}", emulator.log());
}

#[test]
fn query_errors_are_reported_and_throttling_is_retried() {
    let emulator = healthy();
    let (_dir, plan) = plan_dir();
    emulator.set_faults(Faults {
        throttle: 0.5,
        retry_after_secs: 0,
        ..Faults::default()
    });
    let r = verify_data(&emulator, &plan, &switched(&[]));
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(
        emulator.log().iter().any(|l| l.status == 429),
        "no 429 was injected"
    );
    emulator.set_faults(Faults::default());
    emulator.deny_queries(CONTOSO);
    let r = verify_data(&emulator, &plan, &switched(&[]));
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(
        r.stderr
            .contains("verify --data: the alerts-per-day query of /subscriptions/"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("403 AuthorizationFailed"), "{}", r.stderr);
}

#[test]
fn the_token_goes_to_the_endpoint_only_and_is_never_printed() {
    let emulator = duplicated();
    let (dir, plan) = plan_dir();
    let token = "eyJ0eXAiOiJKV1QiLCJhbGciOi.secret-verify-data-token";
    let url = emulator.url();
    for format in ["human", "json"] {
        let r = run_in(
            dir.path(),
            &[
                "verify",
                plan.to_str().unwrap(),
                "--data",
                "--until",
                UNTIL,
                "--switched-at",
                SWITCH,
                "--endpoint",
                &url,
                "-v",
                "--format",
                format,
            ],
            &[("AZURE_ACCESS_TOKEN", token)],
        );
        assert_eq!(r.code, 2, "{}", r.transcript());
        assert!(
            !r.stdout.contains("secret-verify-data-token")
                && !r.stderr.contains("secret-verify-data-token"),
            "{}",
            r.transcript()
        );
    }
    assert!(
        emulator.log().iter().all(|l| l.path.starts_with('/')),
        "{:?}",
        emulator.log()
    );
}

#[test]
fn text_from_the_data_is_shown_escaped() {
    let (mut a, mut i) = data(4, 4);
    let hostile = "Evil\u{1b}[2J\u{202e}name";
    a.push(json!({"TimeGenerated": at(25, 3), "SystemAlertId": "dfc-x\u{7}", "ProductName": "Azure Security Center", "AlertSeverity": "High", "AlertName": hostile}));
    i.extend(incident(
        950,
        "Azure Sentinel",
        &at(25, 3),
        &["dfc-x\u{7}"],
        &["rule\u{1b}[31m"],
    ));
    i.extend(incident(
        951,
        "Microsoft XDR",
        &at(25, 3),
        &["dfc-x\u{7}"],
        &[],
    ));
    let emulator = seeded(a, i);
    let (_dir, plan) = plan_dir();
    for format in ["human", "json"] {
        let r = verify_data(&emulator, &plan, &switched(&["--format", format]));
        assert_eq!(r.code, 2, "{}", r.transcript());
        for raw in ['\u{1b}', '\u{202e}', '\u{7}'] {
            assert!(!r.stdout.contains(raw), "{format}: {raw:?} in {}", r.stdout);
        }
        if format == "human" {
            assert!(
                r.stdout
                    .contains("(Evil\\u{1b}[2J\\u{202e}name) in 2 incidents: #950, #951"),
                "{}",
                r.stdout
            );
            assert!(
                r.stdout.contains("rule rule\\u{1b}[31m (not in the plan"),
                "{}",
                r.stdout
            );
        }
    }
}

#[test]
fn an_edited_plan_cannot_steer_the_query_url() {
    let emulator = healthy();
    let (dir, plan) = plan_dir();
    let text = std::fs::read_to_string(&plan).unwrap();
    let edited = text.replace("/workspaces/law-contoso-soc\"", "/workspaces/..\"");
    assert_ne!(text, edited);
    std::fs::write(&plan, edited).unwrap();
    let r = verify_data(&emulator, &plan, &switched(&[]));
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(
        r.stderr.contains("would address another path"),
        "{}",
        r.stderr
    );
    assert!(
        !emulator.log().iter().any(|l| l.path.contains("/api/query")),
        "{:?}",
        emulator.log()
    );
    drop(dir);
}

/// Two workspaces of one tenant, queried at once: each judged on its own
/// data, reported in the plan's order; the secondary gets no Defender XDR
/// incidents by design; `--workspace` narrows the checks.
#[test]
fn a_tenant_of_two_workspaces_is_checked_workspace_by_workspace() {
    const PROD: &str = "/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg-prod/providers/Microsoft.OperationalInsights/workspaces/law-prod";
    const DEV: &str = "/subscriptions/66666666-7777-4888-9999-aaaaaaaaaaaa/resourceGroups/rg-dev/providers/Microsoft.OperationalInsights/workspaces/law-dev";
    let dir = tempfile::tempdir().unwrap();
    let r = run(&[
        "plan",
        "tests/fixtures/scenarios/multi-workspace/exports",
        "--primary-workspace",
        PROD,
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let plan = dir.path().join("plan.json");
    let emulator = Emulator::start(Config::default()).unwrap();
    let (a, i) = data(4, 4);
    emulator.seed_logs(PROD, &json!({"SecurityAlert": a, "SecurityIncident": i}));
    // The secondary: alerts lost, and (by design) no Defender XDR incident.
    let (a, i) = data(4, 1);
    let i: Vec<Value> = i
        .into_iter()
        .filter(|r| r["ProviderName"] != "Microsoft XDR")
        .collect();
    emulator.seed_logs(DEV, &json!({"SecurityAlert": a, "SecurityIncident": i}));
    let r = verify_data(&emulator, &plan, &switched(&["--parallelism", "2"]));
    assert_eq!(r.code, 2, "{}", r.transcript());
    let (prod, dev) = r.stdout.split_at(
        r.stdout
            .find(&format!("Workspace {DEV}"))
            .expect("the secondary is reported"),
    );
    assert!(
        prod.starts_with(&format!("Workspace {PROD}\n")),
        "{}",
        r.stdout
    );
    assert!(
        line(prod, "alerts-per-day").trim_start().starts_with("ok"),
        "{}",
        r.stdout
    );
    assert!(
        line(prod, "xdr-incidents").trim_start().starts_with("ok"),
        "{}",
        r.stdout
    );
    assert!(
        line(dev, "alerts-per-day").trim_start().starts_with("FAIL"),
        "{}",
        r.stdout
    );
    let x = line(dev, "xdr-incidents");
    assert!(x.trim_start().starts_with("--"), "{x}");
    assert!(
        x.contains(&format!(
            "a secondary workspace: Defender XDR incidents go to the tenant's primary ({PROD})"
        )),
        "{x}"
    );
    assert!(
        r.stdout
            .contains("Verify --data: 6 hold, 1 do not, 1 cannot be told from the data."),
        "{}",
        r.stdout
    );
    let r = verify_data(&emulator, &plan, &switched(&["--workspace", PROD]));
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(!r.stdout.contains(DEV), "{}", r.stdout);
}
