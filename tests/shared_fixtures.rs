//! Planning over the real exports in ../shared/fixtures: Azure-Sentinel
//! content with its labels, and the bodies of Microsoft's official API
//! examples. Read in place; skipped with a note when ../shared is absent.

mod common;

use sentinel_migrate::catalog::{Catalog, Operation, Verb};
use sentinel_migrate::model::Workspace;
use sentinel_migrate::plan::{self, Action, Plan, Settings};
use sentinel_migrate::source::{self, ReadOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn try_plan(paths: &[PathBuf], workspace: Option<&str>) -> Result<Plan, String> {
    let inputs = source::read(
        paths,
        &ReadOptions {
            workspace: workspace.map(|w| Workspace::parse(w).unwrap()),
            ..ReadOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    plan::plan(&inputs, &Catalog::embedded().unwrap(), &Settings::default())
        .map_err(|e| e.to_string())
}

fn plan_of(paths: &[PathBuf], workspace: Option<&str>) -> Plan {
    try_plan(paths, workspace).unwrap_or_else(|e| panic!("{e}"))
}

fn file_of(a: &Action) -> String {
    a.source
        .as_ref()
        .map(|o| o.path.rsplit('/').next().unwrap_or_default().to_string())
        .unwrap_or_default()
}

#[test]
fn sentinel_content_follows_the_labels() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dir = shared.join("fixtures/sentinel-content");
    // Each file on its own (with its parameters file): the collection holds
    // copies of one rule, with different content, from two folders of one
    // repository, which read together are a conflict.
    let mut actions: Vec<Action> = Vec::new();
    for paths in common::corpus_files(&dir) {
        actions.extend(plan_of(&paths, None).actions);
    }
    let labels = std::fs::read_to_string(dir.join("labels.tsv")).unwrap();
    let mut by_file: BTreeMap<String, Vec<&Action>> = BTreeMap::new();
    for a in &actions {
        by_file.entry(file_of(a)).or_default().push(a);
    }
    let mut table = String::new();
    for line in labels.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (path, label) = (cols[0], cols[1]);
        let name = path.rsplit('/').next().unwrap();
        let actions = by_file.get(name).cloned().unwrap_or_default();
        let disabled: Vec<&&Action> = actions
            .iter()
            .filter(|a| matches!(a.verb, Verb::Disable | Verb::StopIncidents))
            .collect();
        let reviewed = actions.iter().any(|a| a.operation == Operation::Review);
        table.push_str(&format!(
            "{label:10} disabled={} review={reviewed:5} {name}\n",
            disabled.len()
        ));
        match label {
            "dfc" => assert!(
                !disabled.is_empty() || reviewed,
                "dfc rule not flagged: {name}"
            ),
            "other" => assert!(
                disabled.is_empty(),
                "an `other` rule is turned off: {name}: {disabled:#?}"
            ),
            "ambiguous" => {
                for a in &disabled {
                    let pinned = a.evidence.iter().any(|e| {
                        e.source
                            .as_ref()
                            .is_some_and(|s| s.path.ends_with(".parameters.json"))
                    });
                    assert!(
                        pinned,
                        "an ambiguous rule is turned off without a pinned value: {name}: {a:#?}"
                    );
                }
            }
            _ => {}
        }
        // Every Defender for Cloud incident creation rule in a dfc file is turned off.
        if label == "dfc" && cols[2] == "msic-productfilter" {
            assert!(
                disabled
                    .iter()
                    .any(|a| a.kind.as_deref() == Some("MicrosoftSecurityIncidentCreation")),
                "Defender for Cloud incident creation rule not disabled: {name}"
            );
        }
    }
    // Incident creation rules for other products are never touched.
    for a in &actions {
        if a.kind.as_deref() == Some("MicrosoftSecurityIncidentCreation")
            && a.operation == Operation::Update
        {
            let product = a
                .before
                .as_ref()
                .unwrap()
                .pointer("/properties/productFilter");
            assert_eq!(product, Some("Azure Security Center".into()), "{a:#?}");
        }
    }
    println!("{table}");
}

/// Every response body of the official examples, planned on its own.
#[test]
fn official_api_example_bodies_plan_without_a_crash() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dir = shared.join("fixtures/arm-spec-examples");
    let tmp = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut bodies = 0;
    let mut deletes = 0;
    for f in files {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let Some(responses) = doc["responses"].as_object() else {
            continue;
        };
        for (code, response) in responses {
            let body = &response["body"];
            if body.is_null() {
                continue;
            }
            let stem = f.file_stem().unwrap().to_string_lossy();
            let path = tmp.path().join(format!("{stem}.{code}.json"));
            std::fs::write(&path, serde_json::to_string_pretty(body).unwrap()).unwrap();
            let plan = match try_plan(std::slice::from_ref(&path), None) {
                Ok(p) => p,
                Err(e) => {
                    // The sample list reuses ids with different bodies: a clean
                    // error that names both places, not a guess.
                    assert!(stem.contains("GetDataConnectors"), "{e}");
                    assert!(
                        e.contains("is also exported, with different content"),
                        "{e}"
                    );
                    continue;
                }
            };
            bodies += 1;
            for a in &plan.actions {
                if a.operation == Operation::Delete {
                    deletes += 1;
                    assert_eq!(a.kind.as_deref(), Some("AzureSecurityCenter"), "{a:#?}");
                }
                if a.operation == Operation::Update {
                    // Only the XDR connector (incidents not Enabled) is updated here.
                    assert_eq!(
                        a.kind.as_deref(),
                        Some("MicrosoftThreatProtection"),
                        "{a:#?}"
                    );
                }
            }
            // The MCAS incident creation rule of the examples is left alone.
            assert!(
                plan.actions.iter().all(|a| a.reason.code != "MIG101"),
                "{stem}"
            );
        }
    }
    assert!(bodies >= 30, "only {bodies} bodies");
    assert!(
        deletes >= 2,
        "the AzureSecurityCenter examples are legacy connectors to delete ({deletes})"
    );
}
