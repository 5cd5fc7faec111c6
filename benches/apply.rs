//! Apply throughput against the emulator with 50 ms of latency per request:
//! 1,000 changes across 10 workspaces at --parallelism 8, printed next to the
//! lower bound (requests × latency ÷ parallelism; target within 1.3× of it).
//! For comparison, the time per change of the generated apply.sh under the
//! real Azure CLI on a 50-change subset (when `az` is found).
//!
//!     cargo bench --bench apply

use arm_emulator::{Config, Emulator, Faults};
use sentinel_migrate::api::{self, Client, Endpoint, RetryPolicy, token::TokenSource};
use sentinel_migrate::catalog::Catalog;
use sentinel_migrate::plan::{self, Plan, Settings};
use sentinel_migrate::source::{self, ReadOptions};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LATENCY: Duration = Duration::from_millis(50);
const PARALLELISM: usize = 8;

/// Exports of `workspaces` workspaces, each with `per` enabled Defender for
/// Cloud incident creation rules and `per` legacy connectors (2 × per changes).
fn exports(dir: &Path, workspaces: usize, per: usize) {
    for w in 0..workspaces {
        let ws = format!(
            "/subscriptions/00000000-0000-4000-8000-{w:012}/resourceGroups/rg-bench/providers/Microsoft.OperationalInsights/workspaces/law-bench-{w}"
        );
        let mut rules = Vec::new();
        let mut connectors = vec![json!({
            "id": format!("{ws}/providers/Microsoft.SecurityInsights/dataConnectors/xdr"),
            "name": "xdr", "type": "Microsoft.SecurityInsights/dataConnectors", "kind": "MicrosoftThreatProtection",
            "etag": "\"xdr-0\"",
            "properties": {"tenantId": "72f988bf-0000-4c3a-9d1e-5b2c7a8e4f10", "dataTypes": {"incidents": {"state": "Enabled"}, "alerts": {"state": "Enabled"}}}
        })];
        for i in 0..per {
            let name = format!("rule-{w}-{i:04}");
            rules.push(json!({
                "id": format!("{ws}/providers/Microsoft.SecurityInsights/alertRules/{name}"),
                "name": name, "type": "Microsoft.SecurityInsights/alertRules", "kind": "MicrosoftSecurityIncidentCreation",
                "etag": format!("\"r-{w}-{i}\""),
                "properties": {"displayName": format!("Defender for Cloud incidents {i}"), "enabled": true, "productFilter": "Azure Security Center"}
            }));
            let name = format!("asc-{w}-{i:04}");
            connectors.push(json!({
                "id": format!("{ws}/providers/Microsoft.SecurityInsights/dataConnectors/{name}"),
                "name": name, "type": "Microsoft.SecurityInsights/dataConnectors", "kind": "AzureSecurityCenter",
                "etag": format!("\"c-{w}-{i}\""),
                "properties": {"subscriptionId": format!("00000000-0000-4000-9000-{i:012}"), "dataTypes": {"alerts": {"state": "Enabled"}}}
            }));
        }
        let d = dir.join(format!("law-bench-{w}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("alertRules.json"),
            json!({"value": rules}).to_string(),
        )
        .unwrap();
        std::fs::write(
            d.join("dataConnectors.json"),
            json!({"value": connectors}).to_string(),
        )
        .unwrap();
    }
}

fn plan_of(dir: &Path) -> Plan {
    let inputs = source::read(&[dir.to_path_buf()], &ReadOptions::default()).unwrap();
    plan::plan(&inputs, &Catalog::embedded().unwrap(), &Settings::default()).unwrap()
}

fn seed(emulator: &Emulator, plan: &Plan) {
    for a in &plan.actions {
        if let (Some(id), Some(before)) = (&a.resource_id, &a.before) {
            emulator.seed(id, before.value());
        }
    }
}

fn main() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("exports");
    exports(&dir, 10, 50);
    let plan = plan_of(&dir);
    let changes = plan.summary.changes;
    let plan_path = work.path().join("plan.json");
    let text = serde_json::to_string_pretty(&plan).unwrap();
    std::fs::write(&plan_path, &text).unwrap();

    let emulator = Emulator::start(Config::default()).unwrap();
    seed(&emulator, &plan);
    emulator.set_faults(Faults {
        latency: LATENCY,
        ..Faults::default()
    });
    let client = Arc::new(
        Client::new(
            Endpoint::parse(&emulator.url()).unwrap(),
            TokenSource::None,
            RetryPolicy::default(),
        )
        .unwrap(),
    );
    let rt = api::runtime().unwrap();
    let start = Instant::now();
    let outcome = rt
        .block_on(api::apply::apply(
            client.clone(),
            &plan,
            &plan_path,
            "bench",
            api::apply::Options {
                parallelism: PARALLELISM,
                confirmed: true,
                ask: None,
                journal: work.path().join("apply-journal.json"),
                progress: Arc::new(api::progress::Progress::new(
                    api::progress::Mode::Quiet,
                    0,
                    "",
                )),
            },
        ))
        .unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    let requests = client.requests();
    let bound = requests as f64 * LATENCY.as_secs_f64() / PARALLELISM as f64;
    println!("apply: {outcome:?}");
    println!(
        "apply: {changes} changes across 10 workspaces, {requests} requests at {} ms latency, parallelism {PARALLELISM}",
        LATENCY.as_millis()
    );
    println!(
        "apply: {elapsed:.2} s; lower bound {bound:.2} s (requests x latency / parallelism): {:.2}x the bound (target <= 1.3x)",
        elapsed / bound
    );

    // The generated apply.sh under the real Azure CLI, on 50 changes.
    let Some(az) = find_az() else {
        println!("apply.sh: no `az` found (on PATH or in the CI cache); skipped");
        return;
    };
    let small = work.path().join("small");
    exports(&small, 1, 25);
    let plan = plan_of(&small);
    let out = work.path().join("small-out");
    std::fs::create_dir_all(&out).unwrap();
    sentinel_migrate::app::write_artifacts(&plan, &out, 0).unwrap();
    let emulator = Emulator::start(Config::default()).unwrap();
    seed(&emulator, &plan);
    emulator.set_faults(Faults {
        latency: LATENCY,
        ..Faults::default()
    });
    let env = api::rehearse::az_environment(&work.path().join("az"), &emulator.url()).unwrap();
    let start = Instant::now();
    let status = std::process::Command::new("bash")
        .arg(out.join("apply.sh"))
        .arg("--confirm-tenant-connector")
        .current_dir(&out)
        .envs(env)
        .env(
            "PATH",
            format!(
                "{}:{}",
                az.parent().unwrap().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .status()
        .unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    let n = plan.summary.changes;
    println!(
        "apply.sh under az: {n} changes in {elapsed:.1} s ({status}): {:.2} s per change, sequential, about {} az calls per change",
        elapsed / n as f64,
        emulator.log().len() / n.max(1)
    );
    let _: Option<Value> = None;
}

fn find_az() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cache/sentinel-migrate-ci/az-venv/bin"));
    }
    dirs.into_iter().map(|d| d.join("az")).find(|p| p.is_file())
}
