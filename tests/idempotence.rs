//! Planning the planned result yields no change: the planner recognises
//! what is already migrated.

mod common;

use sentinel_migrate::catalog::{Catalog, Operation};
use sentinel_migrate::plan::{self, ScheduledRules, Settings};
use sentinel_migrate::source::{self, ReadOptions};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn plan_paths(
    paths: &[PathBuf],
    settings: &Settings,
) -> (plan::Plan, Vec<sentinel_migrate::model::Resource>) {
    let inputs = source::read(paths, &ReadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let catalog = Catalog::embedded().unwrap();
    // A tenant of several workspaces needs its primary named: the first.
    let p = plan::plan(&inputs, &catalog, settings).unwrap_or_else(|_| {
        let mut settings = settings.clone();
        settings.primary_workspaces = inputs
            .resources
            .iter()
            .filter_map(|r| r.workspace.as_ref().map(|w| w.id().to_string()))
            .min()
            .into_iter()
            .collect();
        plan::plan(&inputs, &catalog, &settings).unwrap()
    });
    (p, inputs.resources)
}

/// The workspace as it is once every change of `plan` is made.
fn applied(
    plan: &plan::Plan,
    resources: &[sentinel_migrate::model::Resource],
) -> BTreeMap<String, Value> {
    let mut state: BTreeMap<String, Value> = resources
        .iter()
        .filter_map(|r| {
            let mut body = r.full_body();
            if let Some(e) = &r.etag {
                body["etag"] = json!(e);
            }
            Some((r.resource_id()?.to_ascii_lowercase(), body))
        })
        .collect();
    for (n, a) in plan.actions.iter().enumerate() {
        let Some(id) = a.resource_id.as_ref().map(|i| i.to_ascii_lowercase()) else {
            continue;
        };
        match a.operation {
            Operation::Update | Operation::Create => {
                let mut after = a.after.as_ref().unwrap().value();
                after["etag"] = json!(format!("\"after-{n}\""));
                state.insert(id, after);
            }
            Operation::Delete => {
                state.remove(&id);
            }
            _ => {}
        }
    }
    // A manual step done: the Defender XDR connector connected in the portal.
    for a in plan.actions.iter().filter(|a| a.reason.code == "MIG003") {
        let id = format!(
            "{}/providers/Microsoft.SecurityInsights/dataConnectors/xdr-connected-by-hand",
            a.workspace.as_ref().unwrap()
        );
        state.insert(
            id.to_ascii_lowercase(),
            json!({"id": id, "name": "xdr-connected-by-hand", "kind": "MicrosoftThreatProtection", "etag": "\"manual\"",
                   "properties": {"tenantId": "00000000-0000-0000-0000-000000000000", "dataTypes": {"incidents": {"state": "Enabled"}}}}),
        );
    }
    state
}

fn assert_idempotent(inputs: &[&str], settings: Settings) {
    let paths: Vec<PathBuf> = inputs.iter().map(|p| common::root().join(p)).collect();
    let (first, resources) = plan_paths(&paths, &settings);
    assert!(first.summary.changes > 0, "the fixture has changes to make");
    let state = applied(&first, &resources);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("after.json"),
        serde_json::to_string_pretty(&json!({"value": state.values().collect::<Vec<_>>()}))
            .unwrap(),
    )
    .unwrap();
    let (second, _) = plan_paths(&[dir.path().to_path_buf()], &settings);
    assert_eq!(second.summary.changes, 0, "{:#?}", second.actions);
    assert_eq!(second.summary.manual, 0, "{:#?}", second.actions);
    // Only review items may remain, and only those already listed: a human decides them.
    for a in &second.actions {
        assert_eq!(a.operation, Operation::Review);
        assert!(
            first.actions.iter().any(|b| b.id == a.id),
            "new review item {a:#?}"
        );
    }
}

#[test]
fn contoso() {
    assert_idempotent(&["examples/contoso"], Settings::default());
}

#[test]
fn contoso_stop_incidents() {
    assert_idempotent(
        &["examples/contoso"],
        Settings {
            scheduled_rules: ScheduledRules::StopIncidents,
            ..Settings::default()
        },
    );
}

#[test]
fn scenarios() {
    for s in [
        "multi-workspace",
        "no-xdr-tenant-known",
        "case-variants",
        "hostile-names",
        "suppression",
        "automation-rewrite",
    ] {
        assert_idempotent(
            &[&format!("tests/fixtures/scenarios/{s}")],
            Settings::default(),
        );
    }
}

#[test]
fn already_migrated_workspace_plans_nothing() {
    let (p, _) = plan_paths(
        &[common::root().join("tests/fixtures/scenarios/already-migrated")],
        &Settings::default(),
    );
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
}
