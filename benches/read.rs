//! Reading and planning cost against the size of one file: 10,000 Scheduled
//! rules in one `az rest` list file against the same rules in ten files of
//! 1,000, minified (one line of megabytes, as `az rest` without `--output`
//! prettifying can write) and pretty-printed. Prints each time and the ratio
//! of one file to ten.
//!
//!     cargo bench --bench read
//!
//! Target (issue 8): one big file within 1.5× of the split files, for both
//! layouts: the cost of a file is linear in its size, however long its lines.

use sentinel_migrate::catalog::Catalog;
use sentinel_migrate::plan::{self, Settings};
use sentinel_migrate::source::{self, ReadOptions};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RULES: usize = 10_000;
const SPLIT: usize = 10;
const RUNS: usize = 3;

const WORKSPACE: &str = "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-bench/providers/Microsoft.OperationalInsights/workspaces/law-bench";

/// One Scheduled rule; every tenth reads Defender for Cloud alerts, and
/// some names and queries hold non-ASCII text (columns count characters).
fn rule(i: usize) -> Value {
    let query = if i.is_multiple_of(10) {
        "SecurityAlert\n| where ProductName == \"Azure Security Center\"\n| where AlertSeverity in (\"High\", \"Medium\")\n| extend Host = tostring(parse_json(Entities)[0].HostName)\n| project TimeGenerated, AlertName, Host".to_string()
    } else {
        format!(
            "SigninLogs\n| where ResultType != 0 and AppDisplayName == \"App {i}\"\n| summarize Failures = count() by UserPrincipalName, IPAddress, bin(TimeGenerated, 1h)\n| where Failures > {}\n| project TimeGenerated, UserPrincipalName, IPAddress, Failures",
            i % 50 + 5
        )
    };
    let name = format!("00000000-0000-4000-9000-{i:012}");
    json!({
        "id": format!("{WORKSPACE}/providers/Microsoft.SecurityInsights/alertRules/{name}"),
        "name": name,
        "type": "Microsoft.SecurityInsights/alertRules",
        "kind": "Scheduled",
        "etag": format!("\"{i:08x}-0000-0100-0000-650000000000\""),
        "properties": {
            "displayName": if i.is_multiple_of(7) { format!("Échecs de connexion répétés {i}") } else { format!("Repeated sign-in failures {i}") },
            "description": "Counts failed sign-ins per user and address over an hour.",
            "enabled": true,
            "severity": "Medium",
            "query": query,
            "queryFrequency": "PT1H",
            "queryPeriod": "PT1H",
            "triggerOperator": "GreaterThan",
            "triggerThreshold": 0,
            "suppressionDuration": "PT5H",
            "suppressionEnabled": false,
            "tactics": ["CredentialAccess"],
            "incidentConfiguration": {"createIncident": true, "groupingConfiguration": {"enabled": false}},
            "lastModifiedUtc": "2024-03-11T09:42:17.5520913Z"
        }
    })
}

/// Writes the rules as `files` lists into `dir`, with the connectors and
/// automation rules beside them (empty lists).
fn write(dir: &Path, files: usize, pretty: bool) {
    let per = RULES / files;
    for f in 0..files {
        let list = json!({"value": (f * per..(f + 1) * per).map(rule).collect::<Vec<_>>()});
        let text = if pretty {
            serde_json::to_string_pretty(&list).unwrap()
        } else {
            serde_json::to_string(&list).unwrap()
        };
        let name = if files == 1 {
            "alertRules.json".to_string()
        } else {
            format!("alertRules-{f}.json")
        };
        std::fs::write(dir.join(name), text).unwrap();
    }
    std::fs::write(dir.join("dataConnectors.json"), "{\"value\": []}").unwrap();
    std::fs::write(dir.join("automationRules.json"), "{\"value\": []}").unwrap();
}

/// The best of [`RUNS`] runs of reading and planning `dir`.
fn time(dir: &Path, catalog: &Catalog) -> Duration {
    let paths: Vec<PathBuf> = vec![dir.to_path_buf()];
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let start = Instant::now();
        let inputs = source::read(&paths, &ReadOptions::default()).unwrap();
        assert_eq!(inputs.resources.len(), RULES);
        let plan = plan::plan(&inputs, catalog, &Settings::default()).unwrap();
        assert!(!plan.actions.is_empty());
        best = best.min(start.elapsed());
    }
    best
}

fn main() {
    let catalog = Catalog::embedded().unwrap();
    let mut worst: f64 = 0.0;
    for pretty in [false, true] {
        let layout = if pretty { "pretty" } else { "minified" };
        let one = tempfile::tempdir().unwrap();
        let ten = tempfile::tempdir().unwrap();
        write(one.path(), 1, pretty);
        write(ten.path(), SPLIT, pretty);
        let size = std::fs::metadata(one.path().join("alertRules.json"))
            .unwrap()
            .len();
        let t1 = time(one.path(), &catalog);
        let t10 = time(ten.path(), &catalog);
        let ratio = t1.as_secs_f64() / t10.as_secs_f64();
        worst = worst.max(ratio);
        println!(
            "read+plan {layout:8}: {RULES} rules in 1 file ({:.1} MiB): {:>7.1} ms; in {SPLIT} files: {:>7.1} ms; ratio {ratio:.2}x",
            size as f64 / (1024.0 * 1024.0),
            t1.as_secs_f64() * 1000.0,
            t10.as_secs_f64() * 1000.0,
        );
    }
    println!(
        "target: one file within 1.5x of {SPLIT} files: {} (worst {worst:.2}x)",
        if worst <= 1.5 { "met" } else { "NOT met" }
    );
}
