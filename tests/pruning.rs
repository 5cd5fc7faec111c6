//! Analytics rules of a live export keep only what the planner reads of
//! their bodies (`model::RULE_KEYS`), the whole body as text beside it.
//! A decision on a property that was dropped would silently turn a
//! detection off (or leave one on): so every fixture is planned twice,
//! with pruned and with whole bodies, and every artifact must be the same
//! byte for byte. In debug builds `Resource::prop` also asserts that no
//! key outside the kept ones is read of an analytics rule. The pruned run
//! reads as `plan` does, dropping the text of the rules the planner takes
//! no step on (`plan::Steps`): a step on one of those would panic.

mod common;

use sentinel_migrate::catalog::Catalog;
use sentinel_migrate::cli::{self, Command};
use sentinel_migrate::model::Inputs;
use sentinel_migrate::{plan, render, source};
use std::path::{Path, PathBuf};

const SUB: &str = "/subscriptions/00000000-0000-4000-8000-000000000009/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces";
const LAW_PROD: &str = "/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg-prod/providers/Microsoft.OperationalInsights/workspaces/law-prod";

/// What one `plan ARGS` gives: every artifact and the text output (or the
/// error), and the inputs read.
struct Planned {
    outputs: Vec<(&'static str, Vec<u8>)>,
    inputs: Option<Inputs>,
}

fn planned(args: &[String], full_bodies: bool) -> Planned {
    let mut argv = vec!["sentinel-migrate".to_string(), "plan".to_string()];
    argv.extend(args.iter().cloned());
    let Ok(cli) = cli::parse_from(&argv) else {
        panic!("arguments parse: {argv:?}");
    };
    let Command::Plan(a) = cli.command else {
        unreachable!()
    };
    let mut config = a.resolve().expect("arguments resolve");
    config.read.full_bodies = full_bodies;
    config.read.jobs = 1;
    let error = |e: sentinel_migrate::error::Error| Planned {
        outputs: vec![("error", e.to_string().into_bytes())],
        inputs: None,
    };
    if let Some(path) = &config.settings_file
        && let Err(e) = sentinel_migrate::settings::load(path, &mut config.settings)
    {
        return error(e);
    }
    let catalog = Catalog::embedded().unwrap();
    let steps = plan::Steps::new(&catalog, &config.settings);
    let keep = |r: &sentinel_migrate::model::Resource| match full_bodies {
        true => sentinel_migrate::model::Keep::Whole,
        false => steps.keep(r),
    };
    let inputs = match source::read_with(&config.inputs, &config.read, &keep) {
        Ok(i) => i,
        Err(e) => return error(e),
    };
    let plan = match plan::plan(&inputs, &catalog, &config.settings) {
        Ok(p) => p,
        Err(e) => {
            return Planned {
                inputs: Some(inputs),
                ..error(e)
            };
        }
    };
    let mut outputs = Vec::new();
    type Renderer = fn(&plan::Plan, &mut dyn std::io::Write) -> std::io::Result<()>;
    let renderers: [(&str, Renderer); 5] = [
        ("plan.json", render::json),
        ("changes.diff", render::diff),
        ("apply.sh", render::apply_script),
        ("rollback.sh", render::rollback_script),
        ("report.html", render::html),
    ];
    for (name, write) in renderers {
        let mut buf = Vec::new();
        write(&plan, &mut buf).unwrap();
        outputs.push((name, buf));
    }
    let mut md = Vec::new();
    render::markdown(&plan, Some("out"), &mut md).unwrap();
    outputs.push(("plan.md", md));
    let mut human = Vec::new();
    let style = sentinel_migrate::app::style(config.color, false);
    render::human(&plan, &mut human, style).unwrap();
    outputs.push(("text output", human));
    Planned {
        outputs,
        inputs: Some(inputs),
    }
}

/// How many analytics rules were read with their text dropped, in every
/// comparison so far.
static DROPPED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many analytics rules were read pruned, after checking that each
/// gives back, whole, the body read without pruning.
fn compare(args: &[String]) -> usize {
    let (pruned, whole) = (planned(args, false), planned(args, true));
    for ((name, a), (_, b)) in pruned.outputs.iter().zip(&whole.outputs) {
        assert!(
            a == b,
            "plan {args:?}: {name} differs with pruned bodies:\n--- pruned\n{}\n--- whole\n{}",
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b)
        );
    }
    assert_eq!(pruned.outputs.len(), whole.outputs.len(), "{args:?}");
    let (Some(p), Some(w)) = (pruned.inputs, whole.inputs) else {
        return 0;
    };
    assert_eq!(p.resources.len(), w.resources.len(), "{args:?}");
    let mut count = 0;
    for (p, w) in p.resources.iter().zip(&w.resources) {
        assert!(!w.is_pruned(), "{args:?}: {} read whole", w.name);
        if p.has_full_body() {
            assert_eq!(p.full_body(), w.body, "{args:?}: the body of {}", p.name);
        } else {
            // Its text dropped: what the planner reads is the same.
            for key in sentinel_migrate::model::RULE_KEYS {
                assert_eq!(p.prop(key), w.prop(key), "{args:?}: {key} of {}", p.name);
            }
            assert_eq!(p.create_incident(), w.create_incident(), "{}", p.name);
            assert_eq!(p.body_id(), w.body_id(), "{}", p.name);
            DROPPED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        assert_eq!(p.origin, w.origin);
        count += usize::from(p.is_pruned());
    }
    count
}

fn s(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Every scenario as `tests/plan_cli.rs` plans it, then again in the other
/// modes and settings that change what is planned of analytics rules.
#[test]
fn every_scenario_plans_the_same_with_pruned_bodies() {
    let root = common::root();
    std::env::set_current_dir(&root).unwrap();
    let ws = |name: &str| format!("{SUB}/{name}");
    let mut pruned = 0;
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(root.join("tests/fixtures/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    scenarios.sort();
    assert!(scenarios.len() > 10);
    for dir in scenarios {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let dir = format!("tests/fixtures/scenarios/{name}");
        let mut base = vec![dir.clone()];
        match name.as_str() {
            "multi-workspace" => base.extend(s(&["--primary-workspace", LAW_PROD])),
            "two-tenant-fleet" => {
                base.extend(["--settings".into(), format!("{dir}/settings.json")])
            }
            n if !Path::new(&dir).join("alertRules.json").exists() => {
                base.extend(["--workspace".into(), ws(&format!("law-{n}"))])
            }
            _ => {}
        }
        for extra in [
            &[][..],
            &["--mode", "opt-out"],
            &["--scheduled-rules", "stop-incidents"],
            &["--scheduled-rules", "review"],
            &["--no-preserve-filters", "--rewrite-automation"],
            &["--defender-portal", "onboarded"],
        ] {
            let mut args = base.clone();
            args.extend(s(extra));
            pruned += compare(&args);
        }
    }
    assert!(
        pruned > 100,
        "only {pruned} rules read pruned: the test proves little"
    );
    let dropped = DROPPED.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        dropped > 50,
        "only {dropped} rules read with their text dropped: the test proves little"
    );
}

#[test]
fn the_example_and_the_shared_fixtures_plan_the_same_with_pruned_bodies() {
    let root = common::root();
    std::env::set_current_dir(&root).unwrap();
    let mut pruned = compare(&s(&["examples/contoso"]));
    pruned += compare(&s(&[
        "examples/contoso",
        "--settings",
        "examples/settings.json",
    ]));
    assert!(pruned > 0);
    let Some(shared) = common::shared() else {
        return;
    };
    let mut each = 0;
    for set in ["sentinel-content", "arm-spec-examples", "arm-specs"] {
        let dir = shared.join("fixtures").join(set);
        if !dir.is_dir() {
            continue;
        }
        // The whole folder at once, and each file on its own.
        compare(&[dir.display().to_string(), "--allow-empty".into()]);
        let files: Vec<Vec<PathBuf>> =
            if dir.read_dir().unwrap().any(|e| e.unwrap().path().is_dir()) {
                common::corpus_files(&dir)
            } else {
                let mut f: Vec<PathBuf> = dir
                    .read_dir()
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "json"))
                    .collect();
                f.sort();
                f.into_iter().map(|p| vec![p]).collect()
            };
        for paths in files {
            let mut args: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            args.extend([
                "--allow-empty".into(),
                "--workspace".into(),
                format!("{SUB}/law-shared"),
            ]);
            each += compare(&args);
        }
    }
    assert!(each > 0, "no shared fixture was read pruned");
}

/// Bodies the reader completes (no `id`, `type` or `name`; a null `id`),
/// members given twice, escapes and spaces inside strings, and the same
/// rule exported twice with its members in another order: the whole body
/// read back from the text is the one read whole, and the copies are one.
#[test]
fn odd_bodies_read_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let ws = format!("{SUB}/law-odd");
    let rules = format!(
        r#"{{"value": [
  {{"name": "no-id", "kind": "Scheduled",
    "properties": {{"displayName": "a \"quoted\" name \\", "enabled": true, "severity": "High",
      "query": "SecurityAlert\n| where ProductName == \"Azure Security Center\"  // two  spaces",
      "tactics": ["Execution", "Impact"], "description": "tab\there, \u00e9t\u00e9 \ud83d\ude00 \\\\"}}}},
  {{"id": null, "name": "null-id", "type": "Microsoft.SecurityInsights/alertRules", "kind": "Scheduled",
    "properties": {{"displayName": "twice", "displayName": "given twice", "enabled": true,
      "query": "SecurityAlert | where ProductName == 'Azure Security Center'",
      "queryFrequency": "PT1H", "queryFrequency": "PT5M"}}}},
  {{"id": "{ws}/providers/Microsoft.SecurityInsights/alertRules/from-id", "kind": "MicrosoftSecurityIncidentCreation", "etag": "\"e\"",
    "properties": {{"displayName": "MSIC", "enabled": true, "productFilter": "Azure Security Center",
      "severitiesFilter": ["High"], "alertRuleTemplateName": null, "lastModifiedUtc": "2024-01-01T00:00:00Z"}}}},
  {{"id": "{ws}/providers/Microsoft.SecurityInsights/alertRules/empty", "kind": "Fusion", "properties": {{}}}},
  {{"id": "{ws}/providers/Microsoft.SecurityInsights/alertRules/bare", "kind": "Fusion"}}
]}}"#
    );
    let copy = format!(
        r#"[{{"properties": {{"enabled": true, "lastModifiedUtc": "2024-01-01T00:00:00Z", "alertRuleTemplateName": null,
      "severitiesFilter": [ "High" ], "productFilter": "Azure Security Center", "displayName": "MSIC"}},
    "etag": "\"e\"", "kind": "MicrosoftSecurityIncidentCreation",
    "id": "{ws}/providers/Microsoft.SecurityInsights/alertRules/from-id"}}]"#
    );
    std::fs::write(dir.path().join("alertRules.json"), rules).unwrap();
    std::fs::write(dir.path().join("copy.json"), copy).unwrap();
    let args = vec![
        dir.path().display().to_string(),
        "--workspace".into(),
        ws.clone(),
    ];
    let pruned = compare(&args);
    assert_eq!(
        pruned, 3,
        "every rule with a property left out is read pruned"
    );
    let whole = planned(&args, false);
    let inputs = whole.inputs.expect("the rules read");
    assert_eq!(inputs.resources.len(), 5, "the copy is the same rule");
    let plan = String::from_utf8(whole.outputs[0].1.clone()).unwrap();
    assert!(
        plan.contains("given twice") && plan.contains("PT5M"),
        "{plan}"
    );
}
