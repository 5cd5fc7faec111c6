//! The Azure side end to end, against the local ARM emulator (nothing here
//! reaches Azure): export → plan → apply → verify → rollback → verify, with
//! and without injected faults; an apply killed halfway and resumed; a stale
//! plan refused; every PUT body checked against Microsoft's OpenAPI specs;
//! the generated scripts run by the real Azure CLI.

mod common;
#[path = "support/contoso.rs"]
mod contoso;
#[path = "support/openapi.rs"]
mod openapi;

use arm_emulator::{Config, Emulator, Faults};
use common::{read, run, run_in};
use contoso::*;
use sentinel_migrate::api::{self, Client, Endpoint, RetryPolicy, token::TokenSource};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn export_plan_apply_verify_rollback_verify() {
    let emulator = contoso_emulator(Config::default());
    let initial = state(&emulator);
    let work = tempfile::tempdir().unwrap();
    let out = export_and_plan(&emulator, work.path());
    // The export reads back to the same plan as the bundled example.
    let from_example = tempfile::tempdir().unwrap();
    let r = run(&[
        "plan",
        "examples/contoso",
        "--out",
        from_example.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0);
    let strip_inputs = |p: &str| {
        let mut v: Value = serde_json::from_str(p).unwrap();
        v["inputs"] = Value::Null;
        for a in v["actions"].as_array_mut().unwrap() {
            // Places in files differ between the two exports; nothing else may.
            a["source"] = Value::Null;
            // Evidence at a place in the file (not in a query) moves too.
            let msic = a["kind"] == "MicrosoftSecurityIncidentCreation"
                || a["resource_type"] == "automationRules";
            for e in a["evidence"].as_array_mut().unwrap() {
                e["source"] = Value::Null;
                if msic {
                    e["line"] = Value::Null;
                    e["column"] = Value::Null;
                }
            }
        }
        v
    };
    let (exported, bundled) = (
        strip_inputs(&read(&out, "plan.json")),
        strip_inputs(&read(from_example.path(), "plan.json")),
    );
    for (a, b) in exported["actions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(bundled["actions"].as_array().unwrap())
    {
        assert_eq!(
            a, b,
            "an action differs between the export and the bundled example"
        );
    }
    assert_eq!(exported, bundled);

    let plan = out.join("plan.json");
    let r = against(&emulator, "apply", &plan, &[]);
    assert_eq!(r.code, 4, "stops before phase 3: {}", r.transcript());
    assert!(r.stdout.contains("Stopped before phase 3"), "{}", r.stdout);
    let r = against(&emulator, "verify", &plan, &[]);
    assert_eq!(r.code, 2, "phase 3 is not done yet: {}", r.transcript());
    let r = against(&emulator, "apply", &plan, &CONFIRM);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(r.stdout.contains("Applied: 9 step(s) done"), "{}", r.stdout);
    let r = against(&emulator, "verify", &plan, &[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(
        r.stdout.contains("Verify: 9 hold, 0 do not"),
        "{}",
        r.stdout
    );

    // Applying again changes nothing.
    let writes = emulator.writes();
    let r = against(&emulator, "apply", &plan, &CONFIRM);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert_eq!(emulator.writes(), writes);

    let journal = out.join("apply-journal.json");
    let r = against(&emulator, "rollback", &journal, &[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(
        r.stdout.contains("9 step(s) restored, 9 verified"),
        "{}",
        r.stdout
    );
    assert_eq!(
        state(&emulator),
        initial,
        "rollback restores every resource"
    );
    let r = against(&emulator, "verify", &plan, &[]);
    assert_eq!(r.code, 2, "{}", r.transcript());
}

fn fast_client(emulator: &Emulator) -> Arc<Client> {
    Arc::new(
        Client::new(
            Endpoint::parse(&emulator.url()).unwrap(),
            TokenSource::None,
            RetryPolicy {
                attempts: 12,
                base: Duration::from_millis(5),
                cap: Duration::from_millis(200),
                max_retry_after: Duration::from_secs(2),
                timeout: Duration::from_secs(10),
            },
        )
        .unwrap(),
    )
}

#[test]
fn round_trip_with_faults_and_a_write_budget() {
    let emulator = contoso_emulator(Config {
        seed: 7,
        page_size: 3,
        ..Config::default()
    });
    let initial = state(&emulator);
    let work = tempfile::tempdir().unwrap();
    let out = export_and_plan(&emulator, work.path());
    let plan_path = out.join("plan.json");
    let bytes = std::fs::read(&plan_path).unwrap();
    let plan = sentinel_migrate::render::read_plan(std::str::from_utf8(&bytes).unwrap()).unwrap();
    let sha = "test-plan";
    emulator.set_faults(Faults {
        throttle: 0.07,
        retry_after_secs: 0,
        server_error: 0.07,
        drop: 0.06,
        latency: Duration::from_millis(2),
        writes_per_second: Some(5),
    });
    let rt = api::runtime().unwrap();
    let client = fast_client(&emulator);
    let (progress, log) = api::progress::Progress::buffered("applying");
    let report = rt
        .block_on(api::apply::apply(
            client.clone(),
            &plan,
            &plan_path,
            sha,
            api::apply::Options {
                parallelism: 8,
                confirmed: true,
                ask: None,
                journal: out.join("apply-journal.json"),
                progress: Arc::new(progress),
            },
        ))
        .unwrap_or_else(|e| panic!("{e}\n{}", log.text()));
    assert!(
        matches!(
            report.outcome,
            api::apply::Outcome::Complete { done: 9, .. }
        ),
        "{report:?}"
    );
    // Each step was reported as it finished.
    assert_eq!(log.text().matches(" done ").count(), 9, "{}", log.text());
    let faulted = emulator
        .log()
        .iter()
        .filter(|r| matches!(r.status, 0 | 429 | 500))
        .count();
    assert!(faulted > 0, "faults were injected");

    let checks = rt
        .block_on(api::verify::verify(
            client.clone(),
            &plan,
            8,
            Arc::new(api::progress::Progress::buffered("verifying").0),
        ))
        .unwrap();
    assert!(checks.iter().all(|c| c.holds != Some(false)), "{checks:#?}");
    // Nothing lost or duplicated: each resource was changed by exactly one
    // successful write, and only the planned resources changed.
    let mut successful: BTreeMap<String, usize> = BTreeMap::new();
    for r in emulator.log() {
        if matches!(r.method.as_str(), "PUT" | "DELETE")
            && (200..300).contains(&r.status)
            && r.status != 204
        {
            *successful
                .entry(r.path.split('?').next().unwrap().to_ascii_lowercase())
                .or_default() += 1;
        }
    }
    assert_eq!(successful.len(), 9, "{successful:#?}");
    assert!(
        successful.values().all(|n| *n == 1),
        "a write was repeated: {successful:#?}"
    );
    let after = state(&emulator);
    assert_eq!(
        after.len(),
        initial.len() - 3 + 2,
        "three legacy connectors deleted, the solution installed, the suppression automation rule created"
    );

    let (progress, log) = api::progress::Progress::buffered("rolling back");
    let rolled = rt
        .block_on(api::rollback::rollback(
            client.clone(),
            &out.join("apply-journal.json"),
            false,
            &progress,
        ))
        .unwrap_or_else(|e| panic!("{e}\n{}", log.text()));
    assert_eq!(rolled.restored, 9);
    assert_eq!(rolled.verified, 9);
    emulator.set_faults(Faults::default());
    assert_eq!(state(&emulator), initial);
}

#[test]
fn an_apply_killed_halfway_resumes_without_repeating_a_step() {
    let emulator = contoso_emulator(Config::default());
    let work = tempfile::tempdir().unwrap();
    let out = export_and_plan(&emulator, work.path());
    let plan = out.join("plan.json");
    emulator.set_faults(Faults {
        latency: Duration::from_millis(150),
        ..Faults::default()
    });
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sentinel-migrate"))
        .args([
            "apply",
            plan.to_str().unwrap(),
            "--endpoint",
            &emulator.url(),
            "--parallelism",
            "1",
            "--confirm",
            "tenant-connector",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while emulator.writes() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before_resume = emulator.writes();
    assert!(
        (3..7).contains(&before_resume),
        "killed halfway: {before_resume} writes"
    );
    let journal: Value = serde_json::from_str(&read(&out, "apply-journal.json")).unwrap();
    assert!(!journal["steps"].as_object().unwrap().is_empty());

    emulator.set_faults(Faults::default());
    let r = against(&emulator, "apply", &plan, &CONFIRM);
    assert_eq!(r.code, 0, "{}", r.transcript());
    // Progress (resuming, each step) is on stderr; the result on stdout.
    assert!(r.stderr.contains("Resuming"), "{}", r.stderr);
    assert!(r.stdout.contains("Applied: 9 step(s) done"), "{}", r.stdout);
    assert_eq!(
        emulator.writes(),
        9,
        "every step written exactly once across both runs"
    );
    let r = against(&emulator, "verify", &plan, &[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
}

#[test]
fn a_stale_plan_is_refused_before_anything_changes() {
    let emulator = contoso_emulator(Config::default());
    let work = tempfile::tempdir().unwrap();
    let out = export_and_plan(&emulator, work.path());
    // Someone changes the NRT rule's severity after the export.
    let id = format!(
        "{CONTOSO}/providers/Microsoft.SecurityInsights/alertRules/5a58ed66-25c8-449e-9e96-3097fd518cf8"
    );
    let mut body = emulator.get(&id).unwrap();
    body["properties"]["severity"] = Value::String("Low".into());
    body.as_object_mut().unwrap().remove("etag");
    emulator.seed(&id, body);
    let r = against(&emulator, "apply", &out.join("plan.json"), &CONFIRM);
    assert_eq!(r.code, 3, "{}", r.transcript());
    assert!(
        r.stderr.contains("the plan is stale: 1 resource changed"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("NRT Defender for Cloud Kubernetes alert"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("changed: properties.severity"),
        "{}",
        r.stderr
    );
    assert_eq!(emulator.writes(), 0, "nothing was changed");
}

#[test]
fn azure_errors_are_reported_with_their_code_and_not_retried() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let rt = api::runtime().unwrap();
    let client = fast_client(&emulator);
    let path = format!(
        "{CONTOSO}/providers/Microsoft.SecurityInsights/alertRules/x?api-version=2025-10-01-preview"
    );
    let body: Value = serde_json::json!({"kind": "MicrosoftSecurityIncidentCreation", "properties": {"displayName": "x", "enabled": true}});
    let err = rt.block_on(client.put(&path, &body)).unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("BadRequest"), "{err}");
    assert!(err.to_string().contains("productFilter"), "{err}");
    assert_eq!(emulator.log().len(), 1, "a 400 is not retried");
    let bad_version = format!(
        "{CONTOSO}/providers/Microsoft.SecurityInsights/alertRules/x?api-version=1999-01-01"
    );
    let err = rt.block_on(client.get(&bad_version)).unwrap_err();
    assert!(
        err.to_string().contains("InvalidApiVersionParameter"),
        "{err}"
    );
}

#[test]
fn every_put_body_matches_the_official_openapi_schema() {
    let Some(shared) = common::shared() else {
        return;
    };
    let specs = openapi::Specs::load(&shared.join("fixtures/arm-specs")).expect("specs load");
    let emulator = contoso_emulator(Config::default());
    let work = tempfile::tempdir().unwrap();
    // The example, with stop-incidents too, and the XDR connector created.
    let out = export_and_plan(&emulator, work.path());
    let r = against(&emulator, "apply", &out.join("plan.json"), &CONFIRM);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let scenario = Emulator::start(Config::default()).unwrap();
    let dir = common::root().join("tests/fixtures/scenarios/no-xdr-tenant-known");
    seed_from(&scenario, &dir);
    let plan_dir = tempfile::tempdir().unwrap();
    let r = run(&[
        "plan",
        dir.to_str().unwrap(),
        "--out",
        plan_dir.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0);
    let r = against(
        &scenario,
        "apply",
        &plan_dir.path().join("plan.json"),
        &CONFIRM,
    );
    assert_eq!(r.code, 0, "{}", r.transcript());

    let mut checked = 0;
    for req in emulator.log().into_iter().chain(scenario.log()) {
        if req.method != "PUT" {
            continue;
        }
        let body = req.body.unwrap();
        let Some(rt) = ["dataConnectors", "alertRules", "automationRules"]
            .into_iter()
            .find(|t| {
                req.path
                    .to_ascii_lowercase()
                    .contains(&format!("/{}/", t.to_ascii_lowercase()))
            })
        else {
            eprintln!(
                "note: no spec in ../shared for {}; body not validated",
                req.path
            );
            continue;
        };
        let kind = body["kind"].as_str().unwrap_or_default();
        if !kind.is_empty() && !specs.knows_kind(rt, kind) {
            eprintln!("note: no spec in ../shared defines {rt} kind {kind}; body not validated");
            continue;
        }
        if let Err(problems) = specs.validate(rt, &body) {
            panic!(
                "PUT {} does not match the OpenAPI schema:\n{}\n{body:#}",
                req.path,
                problems.join("\n")
            );
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} bodies validated");
}

#[test]
fn the_generated_scripts_under_the_real_azure_cli_reach_the_native_state() {
    let Some(az) = common::tool("az") else { return };
    // The native apply, on one emulator.
    let native = contoso_emulator(Config::default());
    let initial = state(&native);
    let work = tempfile::tempdir().unwrap();
    let out = export_and_plan(&native, work.path());
    let r = against(&native, "apply", &out.join("plan.json"), &CONFIRM);
    assert_eq!(r.code, 0, "{}", r.transcript());

    // apply.sh under az, on another.
    let scripted = contoso_emulator(Config::default());
    let cfg = work.path().join("az-config");
    let env = api::rehearse::az_environment(&cfg, &scripted.url()).unwrap();
    let path = format!(
        "{}:{}",
        az.parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    );
    let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    vars.push(("PATH", &path));
    let script = |name: &str, args: &[&str]| {
        let mut a = vec![out.join(name).to_str().unwrap().to_string()];
        a.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let mut cmd = std::process::Command::new("bash");
        cmd.args(&refs).current_dir(work.path());
        for (k, v) in &vars {
            cmd.env(k, v);
        }
        let o = cmd.output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, stderr) = script("apply.sh", &[]);
    assert_eq!(code, 4, "{stderr}");
    let (code, stderr) = script("apply.sh", &["--confirm-tenant-connector"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        state(&scripted),
        state(&native),
        "apply.sh and the native apply reach the same state"
    );

    let (code, stderr) = script("rollback.sh", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        state(&scripted),
        initial,
        "rollback.sh restores every resource"
    );
    let _ = run_in;
}

#[test]
fn rehearse_applies_to_a_seeded_emulator_and_shows_the_result() {
    let out = tempfile::tempdir().unwrap();
    let r = run(&[
        "plan",
        "examples/contoso",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0);
    let plan = out.path().join("plan.json");
    // Like apply, the rehearsal stops before phase 3 unless confirmed.
    let r = run(&["rehearse", plan.to_str().unwrap()]);
    assert_eq!(r.code, 4, "{}", r.transcript());
    assert!(
        r.stdout.contains("Verify: 6 hold, 0 do not"),
        "{}",
        r.stdout
    );
    let r = run(&[
        "rehearse",
        plan.to_str().unwrap(),
        "--confirm",
        "tenant-connector",
    ]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(
        r.stdout.contains("Verify: 9 hold, 0 do not"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("properties.enabled = false"),
        "{}",
        r.stdout
    );
    assert!(
        !out.path().join("apply-journal.json").exists(),
        "a rehearsal leaves the plan folder alone"
    );
    if let Some(az) = common::tool("az") {
        let r = run(&[
            "rehearse",
            plan.to_str().unwrap(),
            "--script",
            "--az",
            az.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 4, "{}", r.transcript());
        assert!(r.stdout.contains("stopped before phase 3"), "{}", r.stdout);
        let r = run(&[
            "rehearse",
            plan.to_str().unwrap(),
            "--script",
            "--az",
            az.to_str().unwrap(),
            "--confirm",
            "tenant-connector",
        ]);
        assert_eq!(r.code, 0, "{}", r.transcript());
        assert!(
            r.stdout.contains("Verify: 9 hold, 0 do not"),
            "{}",
            r.stdout
        );
    }
}

/// A plan.json edited by hand to delete the legacy connectors in phase 2
/// (and without its `gate`) still waits for `--confirm tenant-connector`:
/// the gate follows from deleting a data connector, not from the phase.
#[test]
fn a_hand_edited_plan_cannot_move_a_delete_past_the_confirmation() {
    let emulator = contoso_emulator(Config::default());
    let work = tempfile::tempdir().unwrap();
    let out = export_and_plan(&emulator, work.path());
    let plan = out.join("plan.json");
    let mut v: Value = serde_json::from_str(&read(&out, "plan.json")).unwrap();
    let mut deletes = Vec::new();
    for a in v["actions"].as_array_mut().unwrap() {
        if a["operation"] == "delete" {
            a["phase"] = Value::from(2);
            a.as_object_mut().unwrap().remove("gate");
            deletes.push(a["resource_id"].as_str().unwrap().to_ascii_lowercase());
        }
    }
    assert_eq!(deletes.len(), 3, "contoso has three legacy connectors");
    std::fs::write(&plan, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let exists = |emulator: &Emulator| {
        let ids: Vec<String> = emulator
            .resources()
            .into_iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect();
        deletes.iter().filter(|d| ids.contains(d)).count()
    };

    let r = against(&emulator, "apply", &plan, &[]);
    assert_eq!(r.code, 4, "waits for the confirmation: {}", r.transcript());
    assert!(r.stdout.contains("Stopped before phase 2"), "{}", r.stdout);
    assert!(
        !emulator.log().iter().any(|q| q.method == "DELETE"),
        "nothing was deleted"
    );
    assert_eq!(exists(&emulator), 3);

    let r = against(&emulator, "apply", &plan, &CONFIRM);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert_eq!(exists(&emulator), 0, "confirmed, the connectors are gone");
}

/// apply, verify and rollback report each step on stderr as it goes (a
/// line per step off a terminal), print their result on stdout, as JSON
/// with `--format json`; `-v` logs every request without a header value.
#[test]
fn progress_json_results_and_a_request_log_without_the_token() {
    let emulator = contoso_emulator(Config::default());
    let work = tempfile::tempdir().unwrap();
    let out = export_and_plan(&emulator, work.path());
    let plan = out.join("plan.json");
    let url = emulator.url();
    let token = "tok-SECRET-a1b2c3";
    let cli = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&["--endpoint", &url]);
        run_in(&common::root(), &all, &[("AZURE_ACCESS_TOKEN", token)])
    };
    let p = plan.to_str().unwrap();

    let again = work.path().join("again");
    let r = cli(&[
        "export",
        "--workspace",
        CONTOSO,
        "--out",
        again.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert_eq!(r.stderr.matches("exported ").count(), 4, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("Exported 26 resources"),
        "{}",
        r.stdout
    );

    let r = cli(&["apply", p, "--format", "json", "-v"]);
    assert_eq!(r.code, 4, "{}", r.transcript());
    let report: Value = serde_json::from_str(&r.stdout).expect("stdout is the JSON result");
    assert_eq!(report["result"], "awaiting-confirmation");
    assert_eq!(report["waiting"]["confirm"], "tenant-connector");
    assert_eq!(report["done"], 6);
    assert_eq!(report["steps"].as_array().unwrap().len(), 9);
    // One line per step, as it finished; then the request log.
    assert_eq!(r.stderr.matches("~ done ").count(), 4, "{}", r.stderr);
    assert_eq!(r.stderr.matches("+ done ").count(), 2, "{}", r.stderr);
    assert!(
        r.stderr
            .lines()
            .any(|l| l.starts_with(&format!("GET {url}/subscriptions/"))
                && l.contains(" 200 ")
                && l.ends_with(" ms")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.lines().any(|l| l.starts_with("PUT ")),
        "{}",
        r.stderr
    );
    for text in [&r.stdout, &r.stderr] {
        assert!(!text.contains(token) && !text.contains("Bearer"), "{text}");
    }

    let r = cli(&[
        "apply",
        p,
        "--confirm",
        "tenant-connector",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["result"], "complete");
    assert_eq!(report["done"], 9);
    assert_eq!(r.stderr.matches("- done ").count(), 3, "{}", r.stderr);
    assert!(!r.stderr.contains("GET "), "no request log without -v");

    let r = cli(&["verify", p, "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["all_hold"], true);
    assert_eq!(v["hold"], 9);
    assert_eq!(r.stderr.matches("checked ").count(), 9, "{}", r.stderr);

    let journal = out.join("apply-journal.json");
    let r = cli(&["rollback", journal.to_str().unwrap(), "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (v["restored"].as_u64(), v["verified"].as_u64()),
        (Some(9), Some(9))
    );
    assert_eq!(r.stderr.matches("restored ").count(), 9, "{}", r.stderr);
}

/// A tenant with two workspaces, end to end: export (with each
/// subscription's tenant), plan with the primary named, apply, verify,
/// rollback. The secondary loses its legacy connector and its incident
/// creation rule but gets no Defender XDR or tenant-based connector step.
#[test]
fn a_two_workspace_tenant_from_export_to_rollback() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let dir = common::root().join("tests/fixtures/scenarios/multi-workspace/exports");
    let mut seeded = 0;
    for ws in ["law-prod", "law-dev"] {
        seeded += seed_from(&emulator, &dir.join(ws));
    }
    assert!(seeded >= 6, "{seeded}");
    let tenant = "0f3c9a2e-7b1d-4c5e-a8f6-3d2e1b0c9a87";
    const PROD: &str = "/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg-prod/providers/Microsoft.OperationalInsights/workspaces/law-prod";
    const DEV: &str = "/subscriptions/66666666-7777-4888-9999-aaaaaaaaaaaa/resourceGroups/rg-dev/providers/Microsoft.OperationalInsights/workspaces/law-dev";
    for sub in [
        "11111111-2222-4333-8444-555555555555",
        "66666666-7777-4888-9999-aaaaaaaaaaaa",
    ] {
        emulator.add_subscription(sub, tenant);
    }
    let initial = state(&emulator);
    let work = tempfile::tempdir().unwrap();
    let exports = work.path().join("exports");
    let r = export(&emulator, &[PROD, DEV], &exports);
    assert_eq!(r.code, 0, "{}", r.transcript());
    for sub in [
        "11111111-2222-4333-8444-555555555555",
        "66666666-7777-4888-9999-aaaaaaaaaaaa",
    ] {
        let s: Value =
            serde_json::from_str(&read(&exports.join(sub), "subscription.json")).unwrap();
        assert_eq!(s["tenantId"], tenant);
    }
    // Both hold a Defender XDR connector: the primary is not guessed.
    let out = work.path().join("plan-out");
    let r = plan_into(&exports, &out, &[]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(r.stderr.contains("--primary-workspace"), "{}", r.stderr);
    let r = plan_into(&exports, &out, &["--primary-workspace", PROD]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let plan: Value = serde_json::from_str(&read(&out, "plan.json")).unwrap();
    let ws = |id: &str| {
        plan["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
            .cloned()
            .unwrap()
    };
    assert_eq!(ws(PROD)["tenancy"]["role"], "primary");
    assert_eq!(ws(DEV)["tenancy"]["role"], "secondary");
    assert_eq!(ws(DEV)["tenancy"]["tenant_id"], tenant);
    let codes = |id: &str| -> Vec<String> {
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| {
                a["workspace"]
                    .as_str()
                    .is_some_and(|w| w.eq_ignore_ascii_case(id))
            })
            .map(|a| a["reason"]["code"].as_str().unwrap().to_string())
            .collect()
    };
    let (prod, dev) = (codes(PROD), codes(DEV));
    assert!(prod.contains(&"MIG004".to_string()), "{prod:?}");
    assert!(
        !dev.iter()
            .any(|c| c == "MIG001" || c == "MIG002" || c == "MIG004"),
        "{dev:?}"
    );
    assert!(
        dev.contains(&"MIG201".to_string()) && dev.contains(&"MIG101".to_string()),
        "{dev:?}"
    );

    let plan_path = out.join("plan.json");
    let r = against(&emulator, "apply", &plan_path, &[]);
    assert_eq!(r.code, 4, "{}", r.transcript());
    // Part of a fleet from one plan: the secondary first.
    let r = against(
        &emulator,
        "apply",
        &plan_path,
        &[
            "--workspace",
            "/subscriptions/0/resourceGroups/x/providers/Microsoft.OperationalInsights/workspaces/nope",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(
        r.stderr.contains("the plan has no such workspace"),
        "{}",
        r.stderr
    );
    let r = against(
        &emulator,
        "apply",
        &plan_path,
        &["--workspace", DEV, "--confirm", "tenant-connector"],
    );
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert_eq!(
        against(&emulator, "verify", &plan_path, &["--workspace", DEV]).code,
        0
    );
    let r = against(&emulator, "verify", &plan_path, &["--workspace", PROD]);
    assert_eq!(
        r.code,
        2,
        "the primary is not applied yet: {}",
        r.transcript()
    );
    let r = against(&emulator, "verify", &plan_path, &["--tenant", tenant]);
    assert_eq!(r.code, 2, "{}", r.transcript());
    let r = against(&emulator, "apply", &plan_path, &CONFIRM);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(r.stderr.contains("Resuming"), "{}", r.stderr);
    let r = against(&emulator, "verify", &plan_path, &[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let r = against(&emulator, "rollback", &out.join("apply-journal.json"), &[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert_eq!(
        state(&emulator),
        initial,
        "rollback restores both workspaces"
    );
}

#[test]
fn an_old_solution_is_upgraded_verified_and_rolled_back_to_its_old_body() {
    let emulator = contoso_emulator(Config::default());
    let package = "azuresentinel.azure-sentinel-solution-microsoftdefenderforcloud";
    let id = format!("{CONTOSO}/providers/Microsoft.SecurityInsights/contentPackages/{package}");
    emulator.seed(
        &id,
        serde_json::json!({
            "id": id,
            "name": package,
            "type": "Microsoft.SecurityInsights/contentPackages",
            "properties": {
                "contentId": package,
                "contentKind": "Solution",
                "displayName": "Microsoft Defender for Cloud",
                "version": "2.0.1",
                "installedVersion": "2.0.1"
            }
        }),
    );
    let initial = state(&emulator);
    let work = tempfile::tempdir().unwrap();
    let out = export_and_plan(&emulator, work.path());
    let plan: Value = serde_json::from_str(&read(&out, "plan.json")).unwrap();
    let upgrade = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["reason"]["code"] == "MIG006")
        .expect("an upgrade step");
    assert_eq!(upgrade["desired"][0]["value"], "3.0.3");
    let plan = out.join("plan.json");
    let r = against(&emulator, "apply", &plan, &CONFIRM);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let installed = emulator.get(&id).unwrap();
    assert_eq!(installed["properties"]["version"], "3.0.3");
    assert_eq!(installed["properties"]["installedVersion"], "3.0.3");
    let r = against(&emulator, "verify", &plan, &[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let r = against(&emulator, "rollback", &out.join("apply-journal.json"), &[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert_eq!(
        emulator.get(&id).unwrap()["properties"]["version"],
        "2.0.1",
        "rollback writes the old package body back"
    );
    assert_eq!(state(&emulator), initial);
}
