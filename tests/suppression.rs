//! Suppression that survives the switch (MIG406-408) and the rewrite of
//! automation conditions naming rules turned off (MIG409): the generated
//! conditions against the incident creation rules' own semantics over a
//! table of sample incidents, the official schema, idempotence (also end to
//! end against the emulator), the plan, diff and script snapshots.

mod common;
#[path = "support/contoso.rs"]
mod contoso;
#[path = "support/openapi.rs"]
mod openapi;

use arm_emulator::{Config, Emulator};
use common::{read, run};
use sentinel_migrate::catalog::{Catalog, Operation};
use sentinel_migrate::plan::suppress::{self, Filters, Incident};
use sentinel_migrate::plan::{self, Plan, Settings, WorkspaceSettings};
use sentinel_migrate::source::{self, ReadOptions};
use serde_json::{Value, json};
use std::path::PathBuf;

const SUPPRESSION: &str = "tests/fixtures/scenarios/suppression";
const REWRITE: &str = "tests/fixtures/scenarios/automation-rewrite";
const WS: &str = "/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg-sec/providers/Microsoft.OperationalInsights/workspaces/law-supp";

fn plan_of(paths: &[PathBuf], settings: &Settings) -> Plan {
    let inputs = source::read(paths, &ReadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    plan::plan(&inputs, &Catalog::embedded().unwrap(), settings).unwrap_or_else(|e| panic!("{e}"))
}

fn codes(p: &Plan, code: &str) -> Vec<plan::Action> {
    p.actions
        .iter()
        .filter(|a| a.reason.code == code)
        .cloned()
        .collect()
}

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---- the conditions against the filters' semantics -------------------------------

/// Alert names and severities that exercise every filter: names that
/// contain an include text, an exclude text, both, neither, in other case.
const NAMES: [&str; 6] = [
    "Suspicious process executed",
    "Malware detected (test file)",
    "Suspicious login from a TEST account",
    "Traffic from a blocked IP",
    "malware hash found",
    "Adaptive application control audited",
];

/// Filter combinations: severities only, include names only, exclude names
/// only, include+exclude, severities+names, every filter, and empty ones.
fn combinations() -> Vec<(&'static str, Filters)> {
    let f = |s: &[&str], i: &[&str], e: &[&str]| Filters {
        severities: list(s),
        include: list(i),
        exclude: list(e),
    };
    vec![
        ("severities only", f(&["High", "Medium"], &[], &[])),
        ("one severity", f(&["High"], &[], &[])),
        (
            "include names only",
            f(&[], &["Suspicious", "Malware"], &[]),
        ),
        ("one include name", f(&[], &["Suspicious"], &[])),
        ("exclude names only", f(&[], &[], &["test", "Adaptive"])),
        (
            "include and exclude",
            f(&[], &["Suspicious", "Malware"], &["test"]),
        ),
        ("severities and include", f(&["High"], &["Malware"], &[])),
        (
            "severities and exclude",
            f(&["Medium", "Low"], &[], &["blocked"]),
        ),
        (
            "every filter",
            f(&["High", "Medium"], &["Suspicious", "Malware"], &["test"]),
        ),
        ("empty", f(&[], &[], &[])),
        (
            "every severity",
            f(&["High", "Medium", "Low", "Informational"], &[], &[]),
        ),
    ]
}

fn others() -> Vec<&'static str> {
    vec![
        "Microsoft Cloud App Security",
        "Azure Security Center for IoT",
    ]
}

/// For each combination, over every severity and name: the suppression
/// closes a Defender for Cloud incident of one alert exactly when the rule
/// did not make an incident of that alert; incidents of other products,
/// or holding another product's alert, are never closed.
#[test]
fn the_conditions_close_exactly_what_each_filter_kept_out() {
    for (what, filters) in combinations() {
        let conditions = suppress::conditions(&[&filters], &others()).unwrap();
        let Some(conditions) = conditions else {
            // Nothing kept out: no rule at all, and the filter admits
            // everything that arrives.
            for severity in suppress::ARRIVING {
                for name in NAMES {
                    assert!(filters.admits(severity, name), "{what}: {severity} {name}");
                }
            }
            continue;
        };
        assert!(conditions.len() <= suppress::MAX_CONDITIONS);
        let mut closed = 0;
        // Informational Defender for Cloud alerts never arrive through Defender XDR.
        for severity in suppress::ARRIVING {
            for name in NAMES {
                let dfc = Incident {
                    title: name,
                    severity,
                    products: vec![suppress::DFC_PRODUCT],
                };
                let expected = !filters.admits(severity, name);
                assert_eq!(
                    suppress::matches(&conditions, &dfc),
                    Some(expected),
                    "{what}: {severity} \"{name}\""
                );
                closed += usize::from(expected);
                for products in [
                    vec!["Microsoft Cloud App Security"],
                    vec![suppress::DFC_PRODUCT, "Microsoft Cloud App Security"],
                    vec!["Azure Security Center for IoT"],
                ] {
                    let other = Incident {
                        products,
                        ..dfc.clone()
                    };
                    assert_eq!(
                        suppress::matches(&conditions, &other),
                        Some(false),
                        "{what}: {other:?}"
                    );
                }
            }
        }
        assert!(closed > 0, "{what}: the table exercises the filter");
    }
}

/// Several rules of a workspace act as one filter (an alert any of them
/// admits makes one incident): the suppression closes what all of them
/// kept out, and nothing when one kept nothing out.
#[test]
fn several_rules_close_only_what_every_one_kept_out() {
    let all = combinations();
    for (a, fa) in &all {
        for (b, fb) in &all {
            let conditions = suppress::conditions(&[fa, fb], &others()).unwrap();
            for severity in suppress::ARRIVING {
                for name in NAMES {
                    let kept_out = !fa.admits(severity, name) && !fb.admits(severity, name);
                    let incident = Incident {
                        title: name,
                        severity,
                        products: vec![suppress::DFC_PRODUCT],
                    };
                    let closes = conditions
                        .as_ref()
                        .map(|c| suppress::matches(c, &incident).unwrap());
                    match closes {
                        Some(closes) => {
                            assert_eq!(closes, kept_out, "{a} + {b}: {severity} {name}")
                        }
                        None => assert!(
                            !kept_out,
                            "{a} + {b}: no rule, yet {severity} {name} was kept out"
                        ),
                    }
                }
            }
        }
    }
}

/// The generated rule never tests the provider (it becomes Microsoft XDR
/// for every incident), nests Boolean conditions within their limits, and
/// never leans on how a negative operator reads a list inside an Or.
#[test]
fn the_conditions_never_use_the_provider_and_keep_the_schema_limits() {
    let many = Filters {
        include: (0..25).map(|i| format!("name {i}")).collect(),
        ..Filters::default()
    };
    let conditions = suppress::conditions(&[&many], &others()).unwrap().unwrap();
    fn walk(c: &Value, under_or: bool) {
        let p = &c["conditionProperties"];
        assert_ne!(p["propertyName"], "IncidentProviderName", "{c}");
        if let Some(inner) = p["innerConditions"].as_array() {
            assert!((2..=10).contains(&inner.len()), "{c}");
            let or = p["operator"] == "Or";
            inner.iter().for_each(|i| walk(i, under_or || or));
        } else if under_or && p["operator"].as_str().unwrap().starts_with("Not") {
            assert_eq!(p["propertyValues"].as_array().unwrap().len(), 1, "{c}");
        }
    }
    conditions.iter().for_each(|c| walk(c, false));
    let hit = Incident {
        title: "name 17 raised",
        severity: "High",
        products: vec![suppress::DFC_PRODUCT],
    };
    let miss = Incident {
        title: "unrelated",
        ..hit.clone()
    };
    assert_eq!(suppress::matches(&conditions, &hit), Some(false));
    assert_eq!(suppress::matches(&conditions, &miss), Some(true));
}

// ---- the plan --------------------------------------------------------------------

#[test]
fn the_plan_creates_the_rule_in_phase_2_right_after_the_rule_is_turned_off() {
    let p = plan_of(&[common::root().join(SUPPRESSION)], &Settings::default());
    let created = codes(&p, "MIG406");
    assert_eq!(created.len(), 1, "{:#?}", p.actions);
    let a = &created[0];
    assert_eq!((a.operation, a.phase.number()), (Operation::Create, 2));
    assert!(a.before.is_none());
    let disable = p
        .actions
        .iter()
        .position(|x| x.reason.code == "MIG101")
        .unwrap();
    assert_eq!(p.actions[disable + 1].id, a.id, "right after the disable");
    let body = a.after.as_ref().unwrap().value();
    let props = &body["properties"];
    // Orders 1 and 2 are taken: the lowest free one.
    assert_eq!(props["order"], 3);
    assert!(
        a.reason
            .message
            .contains("rules at orders 1..2 run before it"),
        "{}",
        a.reason.message
    );
    assert_eq!(props["triggeringLogic"]["triggersOn"], "Incidents");
    assert_eq!(props["triggeringLogic"]["triggersWhen"], "Created");
    let config = &props["actions"][0]["actionConfiguration"];
    assert_eq!(config["status"], "Closed");
    assert_eq!(config["classification"], "BenignPositive");
    assert_eq!(config["classificationReason"], "SuspiciousButExpected");
    assert!(
        config["classificationComment"]
            .as_str()
            .unwrap()
            .contains("Create incidents based on Microsoft Defender for Cloud alerts"),
        "the comment names the source rule"
    );
    // The name is a UUID from the source rule's id, and it is the only rule
    // turned off: the one already off is not a source.
    let name = a.name.clone().unwrap();
    assert!(plan::is_guid(&name), "{name}");
    assert_eq!(
        a.resource_id.as_deref(),
        Some(format!("{WS}/providers/Microsoft.SecurityInsights/automationRules/{name}").as_str())
    );
    for words in [
        "closed, not never created",
        "alert tuning in the Defender portal (manual: there is no public API for it)",
        "IncidentTitle",
        "approximate",
        "Informational Defender for Cloud alerts are not ingested through Defender XDR",
    ] {
        assert!(
            a.reason.message.contains(words),
            "{words}: {}",
            a.reason.message
        );
    }
    // What apply checks and verify compares.
    let paths: Vec<&str> = a.desired.iter().map(|d| d.path.as_str()).collect();
    assert!(
        paths.contains(&"properties.triggeringLogic.conditions"),
        "{paths:?}"
    );

    // The same inputs give the same rule, name and order: re-planning is stable.
    let again = plan_of(&[common::root().join(SUPPRESSION)], &Settings::default());
    assert_eq!(codes(&again, "MIG406"), created);

    // The settings are recorded; --no-preserve-filters leaves it out.
    assert!(p.settings.preserve_filters);
    let off = plan_of(
        &[common::root().join(SUPPRESSION)],
        &Settings {
            preserve_filters: false,
            ..Settings::default()
        },
    );
    assert!(codes(&off, "MIG406").is_empty());
    assert_eq!(codes(&off, "MIG101").len(), 1);
}

/// Every body the plan writes for the new kinds validates against the
/// official automation rule schema.
#[test]
fn the_generated_rules_validate_against_the_official_schema() {
    let Some(shared) = common::shared() else {
        return;
    };
    let specs = openapi::Specs::load(&shared.join("fixtures/arm-specs")).expect("specs load");
    let mut checked = 0;
    for (dir, settings) in [
        (SUPPRESSION, Settings::default()),
        (
            REWRITE,
            Settings {
                rewrite_automation: true,
                ..Settings::default()
            },
        ),
        ("examples/contoso", Settings::default()),
    ] {
        let p = plan_of(&[common::root().join(dir)], &settings);
        for a in p
            .actions
            .iter()
            .filter(|a| ["MIG406", "MIG407", "MIG409"].contains(&a.reason.code.as_str()))
        {
            let body = a.after.as_ref().unwrap().value();
            if let Err(e) = specs.validate("automationRules", &body) {
                panic!("{dir} {}: {e:#?}\n{body:#}", a.id);
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "{checked}");
}

/// Once the rule exists (an apply stopped after creating it, then a new
/// export), planning again proposes nothing new for it; a copy changed by
/// hand is brought back by an update that keeps its order.
#[test]
fn an_existing_rule_is_found_by_name_and_updated_only_when_it_differs() {
    let first = plan_of(&[common::root().join(SUPPRESSION)], &Settings::default());
    let created = codes(&first, "MIG406").remove(0);
    let mut body = created.after.as_ref().unwrap().value();
    body["etag"] = json!("\"created\"");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("automation.json"),
        serde_json::to_string(&json!({"value": [body]})).unwrap(),
    )
    .unwrap();
    let inputs = [common::root().join(SUPPRESSION), dir.path().to_path_buf()];
    let second = plan_of(&inputs, &Settings::default());
    assert_eq!(codes(&second, "MIG101").len(), 1, "the rule is still on");
    assert!(
        !second.actions.iter().any(|a| a.name == created.name),
        "nothing about the suppression rule itself, not even a review: {:#?}",
        second.actions
    );

    // Changed by hand: its severity condition dropped, its order moved.
    body["properties"]["triggeringLogic"]["conditions"]
        .as_array_mut()
        .unwrap()
        .pop();
    body["properties"]["order"] = json!(7);
    std::fs::write(
        dir.path().join("automation.json"),
        serde_json::to_string(&json!({"value": [body]})).unwrap(),
    )
    .unwrap();
    let third = plan_of(&inputs, &Settings::default());
    let update = codes(&third, "MIG407");
    assert_eq!(update.len(), 1, "{:#?}", third.actions);
    let after = update[0].after.as_ref().unwrap().value();
    assert_eq!(
        after["properties"]["triggeringLogic"],
        created.after.as_ref().unwrap().value()["properties"]["triggeringLogic"]
    );
    assert_eq!(after["properties"]["order"], 7, "its order is kept");
    assert_eq!(update[0].etag.as_deref(), Some("\"created\""));
    assert!(codes(&third, "MIG406").is_empty());
}

/// A tenant of two workspaces, `law-a` its primary: the incidents of both
/// arrive in the primary. Writes one export per workspace, the rule of each
/// given by `severities` (None: no incident creation rule there).
fn two_workspaces(rules: [Option<&[&str]>; 2]) -> (tempfile::TempDir, Settings) {
    let dir = tempfile::tempdir().unwrap();
    let tenant = "5e2b7c90-1d3a-4f6e-8b21-0c9d8e7f6a54";
    let mut settings = Settings::default();
    for ((ws, primary), severities) in [("law-a", true), ("law-b", false)].into_iter().zip(rules) {
        let id = format!("{BASE}/{ws}");
        let mut items = vec![
            json!({"id": format!("{id}/providers/Microsoft.SecurityInsights/dataConnectors/asc-{ws}"),
            "name": format!("asc-{ws}"), "type": "Microsoft.SecurityInsights/dataConnectors", "etag": "\"1\"",
            "kind": "AzureSecurityCenter",
            "properties": {"subscriptionId": "11111111-2222-4333-8444-555555555555", "dataTypes": {"alerts": {"state": "Enabled"}}}}),
        ];
        if let Some(severities) = severities {
            items.push(json!({"id": format!("{id}/providers/Microsoft.SecurityInsights/alertRules/r-{ws}"),
                "name": format!("r-{ws}"), "type": "Microsoft.SecurityInsights/alertRules", "etag": "\"1\"",
                "kind": "MicrosoftSecurityIncidentCreation",
                "properties": {"displayName": format!("DfC {ws}"), "enabled": true,
                    "productFilter": "Azure Security Center", "severitiesFilter": severities}}));
        }
        std::fs::write(
            dir.path().join(format!("{ws}.json")),
            serde_json::to_string(&json!({"value": items})).unwrap(),
        )
        .unwrap();
        settings.workspaces.insert(
            id.to_ascii_lowercase(),
            WorkspaceSettings {
                tenant_id: Some(tenant.into()),
                primary,
                defender_portal: None,
            },
        );
    }
    (dir, settings)
}

const BASE: &str = "/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg-sec/providers/Microsoft.OperationalInsights/workspaces";

/// A secondary's filtered rule: the suppression goes to the primary, where
/// its incidents arrive, and says it applies to the whole tenant's.
#[test]
fn a_secondarys_rule_is_kept_in_the_primary() {
    let (dir, settings) = two_workspaces([None, Some(&["High"])]);
    let p = plan_of(&[dir.path().to_path_buf()], &settings);
    let created = codes(&p, "MIG406");
    assert_eq!(created.len(), 1, "{:#?}", p.actions);
    let primary = format!("{BASE}/law-a");
    assert_eq!(created[0].workspace.as_deref(), Some(primary.as_str()));
    assert!(
        created[0]
            .resource_id
            .as_deref()
            .unwrap()
            .starts_with(&format!(
                "{primary}/providers/Microsoft.SecurityInsights/automationRules/"
            )),
        "{:?}",
        created[0].resource_id
    );
    assert!(
        created[0]
            .reason
            .message
            .contains("other workspaces' subscriptions"),
        "{}",
        created[0].reason.message
    );
    // The rule turned off is the secondary's.
    let disable = codes(&p, "MIG101");
    assert_eq!(
        disable[0].workspace.as_deref(),
        Some(format!("{BASE}/law-b").as_str())
    );
}

/// Two workspaces of one tenant that each filtered their own alerts: all
/// those incidents arrive in the primary, where one rule cannot tell them
/// apart, so it is a review there, not a wrong rule.
#[test]
fn several_workspaces_filtering_their_own_alerts_is_a_review_in_the_primary() {
    let (dir, settings) = two_workspaces([Some(&["High"]), Some(&["Medium"])]);
    let p = plan_of(&[dir.path().to_path_buf()], &settings);
    assert!(codes(&p, "MIG406").is_empty(), "{:#?}", p.actions);
    let review = codes(&p, "MIG408");
    assert_eq!(review.len(), 1, "{:#?}", p.actions);
    assert_eq!(
        review[0].workspace.as_deref(),
        Some(format!("{BASE}/law-a").as_str())
    );
    let message = &review[0].reason.message;
    assert!(
        message.contains("\"DfC law-a\", \"DfC law-b\""),
        "{message}"
    );
    assert!(
        message.contains("cannot tell whose subscription"),
        "{message}"
    );
    assert!(message.contains(&format!("{BASE}/law-b")), "{message}");
}

/// Every order taken: no colliding rule, a review.
#[test]
fn every_order_taken_is_a_review() {
    let dir = tempfile::tempdir().unwrap();
    let rules: Vec<Value> = (3..=1000)
        .map(|order| {
            let name = format!("d1000000-0000-4000-8000-{order:012}");
            json!({"id": format!("{WS}/providers/Microsoft.SecurityInsights/automationRules/{name}"),
                "name": name, "type": "Microsoft.SecurityInsights/automationRules", "etag": "\"1\"",
                "properties": {"displayName": format!("rule {order}"), "order": order,
                    "triggeringLogic": {"isEnabled": true, "triggersOn": "Incidents", "triggersWhen": "Created"},
                    "actions": [{"order": 1, "actionType": "ModifyProperties", "actionConfiguration": {"labels": [{"labelName": "x"}]}}]}})
        })
        .collect();
    std::fs::write(
        dir.path().join("more.json"),
        serde_json::to_string(&json!({"value": rules})).unwrap(),
    )
    .unwrap();
    let p = plan_of(
        &[common::root().join(SUPPRESSION), dir.path().to_path_buf()],
        &Settings::default(),
    );
    assert!(codes(&p, "MIG406").is_empty(), "{:#?}", codes(&p, "MIG406"));
    let review = codes(&p, "MIG408");
    assert_eq!(review.len(), 1);
    assert!(
        review[0]
            .reason
            .message
            .contains("every automation rule order from 1 to 1000 is taken")
    );
}

// ---- item 2: the rewrite -----------------------------------------------------------

#[test]
fn rewrites_only_the_safe_conditions_and_only_when_asked() {
    let off = plan_of(&[common::root().join(REWRITE)], &Settings::default());
    assert!(codes(&off, "MIG409").is_empty(), "off by default");
    let p = plan_of(
        &[common::root().join(REWRITE)],
        &Settings {
            rewrite_automation: true,
            ..Settings::default()
        },
    );
    let mut rewritten: Vec<String> = codes(&p, "MIG409")
        .iter()
        .map(|a| a.name.clone().unwrap())
        .collect();
    rewritten.sort();
    // A Property at the top, one inside a Boolean And, one beside
    // PropertyChanged and PropertyArrayChanged conditions.
    assert_eq!(
        rewritten,
        [
            "c1000000-0000-4000-8000-000000000001",
            "c1000000-0000-4000-8000-000000000002",
            "c1000000-0000-4000-8000-000000000008"
        ]
    );
    let product = json!({"operator": "Contains", "propertyName": "AlertProductNames", "propertyValues": ["Azure Security Center"]});
    for (name, pointer) in [
        (
            "c1000000-0000-4000-8000-000000000001",
            "/0/conditionProperties",
        ),
        (
            "c1000000-0000-4000-8000-000000000002",
            "/0/conditionProperties/innerConditions/0/conditionProperties",
        ),
        (
            "c1000000-0000-4000-8000-000000000008",
            "/2/conditionProperties",
        ),
    ] {
        let a = codes(&p, "MIG409")
            .into_iter()
            .find(|a| a.name.as_deref() == Some(name))
            .unwrap();
        assert_eq!(a.operation, Operation::Update);
        let after = a.after.as_ref().unwrap().value();
        let conditions = &after["properties"]["triggeringLogic"]["conditions"];
        assert_eq!(conditions.pointer(pointer), Some(&product), "{name}");
        // Everything else is as it was.
        let mut before =
            a.before.as_ref().unwrap().value()["properties"]["triggeringLogic"]["conditions"]
                .clone();
        *before.pointer_mut(pointer).unwrap() = product.clone();
        assert_eq!(conditions, &before, "{name}");
        // The review of what it settled is gone.
        assert!(
            !p.actions
                .iter()
                .any(|r| r.reason.code == "MIG401" && r.name.as_deref() == Some(name)),
            "{name}"
        );
    }
    // The unsafe ones stay reviews, each saying why.
    for (name, why) in [
        ("c1000000-0000-4000-8000-000000000003", "under an Or"),
        (
            "c1000000-0000-4000-8000-000000000004",
            "also names rules this plan keeps",
        ),
        (
            "c1000000-0000-4000-8000-000000000005",
            "its operator is NotContains",
        ),
        (
            "c1000000-0000-4000-8000-000000000006",
            "filtered by severity or alert name",
        ),
        (
            "c1000000-0000-4000-8000-000000000007",
            "inside a PropertyArray",
        ),
        (
            "c1000000-0000-4000-8000-000000000009",
            "triggered by alerts",
        ),
    ] {
        let r = p
            .actions
            .iter()
            .find(|r| r.reason.code == "MIG401" && r.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} stays a review"));
        assert!(
            r.reason.message.contains(why),
            "{name}: {}",
            r.reason.message
        );
    }
}

// ---- idempotence, end to end against the emulator ----------------------------------

fn seeded(dir: &str) -> Emulator {
    let emulator = Emulator::start(Config::default()).unwrap();
    contoso::seed_from(&emulator, &common::root().join(dir));
    emulator
}

/// export, plan, apply (both phases), export again, plan again: nothing to
/// change; verify holds; rollback removes the automation rule apply created
/// and restores the rest.
#[test]
fn apply_then_plan_again_proposes_nothing_and_rollback_deletes_what_apply_created() {
    for (dir, flags) in [
        (SUPPRESSION, &[][..]),
        (REWRITE, &["--rewrite-automation"][..]),
    ] {
        let emulator = seeded(dir);
        let initial = contoso::state(&emulator);
        let work = tempfile::tempdir().unwrap();
        let ws = emulator_workspace(&emulator);
        let exports = work.path().join("exports");
        let r = contoso::export(&emulator, &[&ws], &exports);
        assert_eq!(r.code, 0, "{}", r.transcript());
        let out = work.path().join("plan-out");
        let r = contoso::plan_into(&exports, &out, flags);
        assert_eq!(r.code, 0, "{}", r.transcript());
        let plan = out.join("plan.json");
        let r = contoso::against(&emulator, "apply", &plan, &contoso::CONFIRM);
        assert_eq!(r.code, 0, "{dir}: {}", r.transcript());
        let r = contoso::against(&emulator, "verify", &plan, &[]);
        assert_eq!(r.code, 0, "{dir}: {}", r.transcript());

        let again = work.path().join("exports-again");
        let r = contoso::export(&emulator, &[&ws], &again);
        assert_eq!(r.code, 0, "{}", r.transcript());
        let settings = Settings {
            rewrite_automation: !flags.is_empty(),
            ..Settings::default()
        };
        let second = plan_of(&[again], &settings);
        assert_eq!(second.summary.changes, 0, "{dir}: {:#?}", second.actions);
        assert!(
            second
                .actions
                .iter()
                .all(|a| a.operation == Operation::Review),
            "{dir}: {:#?}",
            second.actions
        );

        let journal = out.join("apply-journal.json");
        let r = contoso::against(&emulator, "rollback", &journal, &[]);
        assert_eq!(r.code, 0, "{dir}: {}", r.transcript());
        assert_eq!(contoso::state(&emulator), initial, "{dir}");
    }
}

fn emulator_workspace(emulator: &Emulator) -> String {
    let (id, _) = emulator.resources().into_iter().next().expect("seeded");
    id.split("/providers/Microsoft.SecurityInsights/")
        .next()
        .unwrap()
        .to_string()
}

// ---- what users see ---------------------------------------------------------------

fn snapshot_plan(name: &str, input: &str, extra: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let out_s = out.path().to_str().unwrap().to_string();
    let mut args = vec!["plan", "--out", &out_s, input];
    args.extend_from_slice(extra);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.transcript());
    insta::assert_snapshot!(
        format!("{name}__summary"),
        r.transcript().replace(&out_s, "<out>")
    );
    for file in ["plan.json", "changes.diff", "apply.sh", "rollback.sh"] {
        insta::assert_snapshot!(format!("{name}__{file}"), read(out.path(), file));
    }
}

#[test]
fn snapshots_suppression() {
    snapshot_plan("suppression", SUPPRESSION, &[]);
}

#[test]
fn snapshots_automation_rewrite() {
    snapshot_plan("automation_rewrite", REWRITE, &["--rewrite-automation"]);
}
