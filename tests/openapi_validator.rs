//! The OpenAPI body validator in `tests/support/openapi.rs`, checked against
//! Microsoft's official specs and examples in ../shared/fixtures (read in place,
//! skipped with a note when ../shared is absent), and on small synthetic specs for the
//! mechanics the real files do not exercise.

#[path = "support/openapi.rs"]
mod openapi;

use openapi::Specs;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn shared_fixtures() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    if p.join("arm-specs").is_dir() {
        Some(p)
    } else {
        eprintln!("note: ../shared is absent; skipping a test that reads the ARM specs");
        None
    }
}

fn specs() -> Option<Specs> {
    let specs = Specs::load(&shared_fixtures()?.join("arm-specs"));
    assert!(specs.is_some(), "arm-specs exists but did not load");
    specs
}

fn errs(r: Result<(), Vec<String>>) -> Vec<String> {
    r.err().unwrap_or_default()
}

// ----- the specs themselves ------------------------------------------------------------

#[test]
fn load_returns_none_for_a_missing_folder() {
    assert!(Specs::load(Path::new("/nonexistent/arm-specs")).is_none());
}

#[test]
fn put_bodies_are_found_stable_first() {
    let Some(specs) = specs() else { return };
    let types = specs.resource_types();
    assert_eq!(types["alertRules"], ["2025-09-01/AlertRules.json"]);
    assert_eq!(
        types["automationRules"],
        ["2025-09-01/AutomationRules.json"]
    );
    assert_eq!(
        types["dataConnectors"],
        [
            "2025-09-01/DataConnectors.json",
            "2025-07-01-preview/dataConnectors.json"
        ]
    );
}

#[test]
fn every_ref_reachable_from_the_put_bodies_resolves() {
    let Some(specs) = specs() else { return };
    let report = specs.check_refs();
    assert_eq!(report.unresolved, Vec::<String>::new());
    for def in [
        "2025-09-01/AlertRules.json#/definitions/ScheduledAlertRuleProperties",
        "2025-09-01/common/AlertTypes.json#/definitions/AlertSeverityEnum",
        "2025-09-01/common/IncidentTypes.json#/definitions/IncidentLabel",
        "2025-09-01/AutomationRules.json#/definitions/AutomationRuleRunPlaybookAction",
        "2025-07-01-preview/dataConnectors.json#/definitions/MTPDataConnectorDataTypes",
        "securityinsights-common/2.0/types.json#/definitions/ResourceWithEtag",
        "common-types/resource-management/v3/types.json#/definitions/SystemData",
    ] {
        assert!(report.reachable.contains(def), "{def} not reached");
    }
}

#[test]
fn known_kinds() {
    let Some(specs) = specs() else { return };
    assert!(specs.knows_kind("alertRules", "Scheduled"));
    assert!(specs.knows_kind("alertRules", "MicrosoftSecurityIncidentCreation"));
    assert!(specs.knows_kind("alertRules", "Fusion"));
    // NRT is preview-only and the preview AlertRules.json was not copied.
    assert!(!specs.knows_kind("alertRules", "NRT"));
    assert!(specs.knows_kind("dataConnectors", "AzureSecurityCenter"));
    assert!(specs.knows_kind("dataConnectors", "MicrosoftThreatProtection"));
    assert!(!specs.knows_kind("dataConnectors", "MicrosoftDefenderForCloudTenantBased"));
    // Automation rules are not polymorphic: they have no kinds.
    assert!(!specs.knows_kind("automationRules", "Scheduled"));

    let kinds = |rt: &str| -> Vec<String> {
        specs
            .kinds(rt)
            .into_iter()
            .map(|(k, v)| format!("{k}@{v}"))
            .collect()
    };
    assert_eq!(
        kinds("alertRules"),
        [
            "Fusion@2025-09-01",
            "MicrosoftSecurityIncidentCreation@2025-09-01",
            "Scheduled@2025-09-01"
        ]
    );
    let connectors = kinds("dataConnectors");
    for k in [
        "AzureSecurityCenter@2025-09-01",
        "Office365@2025-09-01",
        "MicrosoftThreatProtection@2025-07-01-preview",
        "GenericUI@2025-07-01-preview",
    ] {
        assert!(
            connectors.contains(&k.to_string()),
            "{k} not in {connectors:?}"
        );
    }
    assert_eq!(kinds("automationRules"), Vec::<String>::new());
}

// ----- the official examples -----------------------------------------------------------

struct Example {
    file: String,
    resource_type: &'static str,
    op: Op,
    json: Value,
}

impl Example {
    /// The request body: the parameter whose value is an object with `properties` or `kind`.
    fn request(&self) -> &Value {
        let params = self.json["parameters"].as_object().unwrap();
        let bodies: Vec<&Value> = params
            .values()
            .filter(|v| v.get("properties").is_some() || v.get("kind").is_some())
            .collect();
        assert_eq!(bodies.len(), 1, "{}: one body parameter", self.file);
        bodies[0]
    }

    fn kind(&self) -> Option<&str> {
        self.request().get("kind").and_then(Value::as_str)
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Op {
    Put,
    Read,
    Delete,
}

/// Every example file. Not all carry an `operationId`: the operation then comes from
/// the file name and the resource type from the answer's `type`.
fn examples(dir: &Path) -> Vec<Example> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let file = p.file_name().unwrap().to_string_lossy().into_owned();
            let json: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let original = file
                .split_once("__")
                .map(|(_, n)| n)
                .unwrap_or(&file)
                .to_string();
            let (from_id, from_op) = match json["operationId"].as_str() {
                Some(id) => {
                    let (rt, op) = id.split_once('_').unwrap();
                    (Some(rt.to_string()), Some(op.to_string()))
                }
                None => (None, None),
            };
            let op = match from_op.as_deref() {
                Some("CreateOrUpdate") => Op::Put,
                Some("Get" | "List") => Op::Read,
                Some("Delete") => Op::Delete,
                Some(other) => panic!("{file}: operation {other}"),
                None if original.starts_with("Create") || original.contains("_CreateOrUpdate") => {
                    Op::Put
                }
                None if original.starts_with("Get")
                    || original.contains("_Get")
                    || original.contains("_List") =>
                {
                    Op::Read
                }
                None if original.starts_with("Delete") || original.contains("_Delete") => {
                    Op::Delete
                }
                None => panic!("{file}: which operation?"),
            };
            let answer = &json["responses"]["200"]["body"];
            let answer = answer.pointer("/value/0").unwrap_or(answer);
            let from_type = answer["type"]
                .as_str()
                .and_then(|t| t.strip_prefix("Microsoft.SecurityInsights/"))
                .map(str::to_string);
            let rt = match (from_id.as_deref(), from_type.as_deref()) {
                (Some("AlertRules"), _) | (None, Some("alertRules")) => "alertRules",
                (Some("DataConnectors"), _) | (None, Some("dataConnectors")) => "dataConnectors",
                (Some("AutomationRules"), _) | (None, Some("automationRules")) => "automationRules",
                // Delete examples answer without a body.
                _ if original.contains("AlertRule") => "alertRules",
                _ if original.contains("DataConnetor") => "dataConnectors",
                _ if original.contains("AutomationRules") => "automationRules",
                other => panic!("{file}: which resource type? {other:?}"),
            };
            if let (Some(a), Some(b)) = (from_id.as_deref(), from_type.as_deref()) {
                assert_eq!(a.to_lowercase(), b.to_lowercase(), "{file}");
            }
            Example {
                file,
                resource_type: rt,
                op,
                json,
            }
        })
        .collect()
}

/// The CreateOrUpdate examples (file names `Create*` / `*_CreateOrUpdate`).
fn put_examples(dir: &Path) -> Vec<Example> {
    examples(dir)
        .into_iter()
        .filter(|e| e.op == Op::Put)
        .collect()
}

/// True when the specs know the example's kind; prints a note otherwise.
fn known(specs: &Specs, ex: &Example) -> bool {
    match ex.kind() {
        Some(kind) if !specs.knows_kind(ex.resource_type, kind) => {
            eprintln!(
                "note: {}: no spec in arm-specs defines {} kind {kind}; skipped",
                ex.file, ex.resource_type
            );
            false
        }
        _ => true,
    }
}

#[test]
fn official_example_requests_validate() {
    let Some(fixtures) = shared_fixtures() else {
        return;
    };
    let specs = Specs::load(&fixtures.join("arm-specs")).unwrap();
    let mut checked = Vec::new();
    let mut failures = Vec::new();
    for ex in put_examples(&fixtures.join("arm-spec-examples")) {
        if !known(&specs, &ex) {
            assert_eq!(
                specs.validate(ex.resource_type, ex.request()),
                Err(vec![format!("no spec defines kind {}", ex.kind().unwrap())])
            );
            continue;
        }
        match specs.validate(ex.resource_type, ex.request()) {
            Ok(()) => checked.push(ex.file.clone()),
            Err(e) => failures.push(format!("{}: {e:#?}", ex.file)),
        }
    }
    assert_eq!(failures, Vec::<String>::new());
    assert_eq!(
        checked,
        [
            "2025-07-01-preview__CreateMicrosoftThreatProtectionDataConnetor.json",
            "2025-09-01__AutomationRules_CreateOrUpdate.json",
            "2025-09-01__CreateFusionAlertRule.json",
            "2025-09-01__CreateMicrosoftSecurityIncidentCreationAlertRule.json",
            "2025-09-01__CreateScheduledAlertRule.json",
            "2025-10-01-preview__AutomationRules_CreateOrUpdate.json",
            "2025-10-01-preview__CreateMicrosoftSecurityIncidentCreationAlertRule.json",
        ]
    );
}

#[test]
fn official_example_responses_validate_as_requests() {
    let Some(fixtures) = shared_fixtures() else {
        return;
    };
    let specs = Specs::load(&fixtures.join("arm-specs")).unwrap();
    let mut results = Vec::new();
    for ex in put_examples(&fixtures.join("arm-spec-examples")) {
        if !known(&specs, &ex) {
            continue;
        }
        for status in ["200", "201"] {
            let Some(body) = ex.json["responses"][status].get("body") else {
                continue;
            };
            let outcome = match specs.validate(ex.resource_type, body) {
                Ok(()) => "ok".to_string(),
                Err(e) => e.join("; "),
            };
            results.push(format!("{} {status}: {outcome}", ex.file));
        }
    }
    // Every response passes: `Disabled55` (the documented typo in the MTP example) is a
    // value of an open enum (DataTypeState, modelAsString: true), so it is allowed.
    assert_eq!(
        results,
        [
            "2025-07-01-preview__CreateMicrosoftThreatProtectionDataConnetor.json 200: ok",
            "2025-07-01-preview__CreateMicrosoftThreatProtectionDataConnetor.json 201: ok",
            "2025-09-01__AutomationRules_CreateOrUpdate.json 200: ok",
            "2025-09-01__AutomationRules_CreateOrUpdate.json 201: ok",
            "2025-09-01__CreateFusionAlertRule.json 200: ok",
            "2025-09-01__CreateFusionAlertRule.json 201: ok",
            "2025-09-01__CreateMicrosoftSecurityIncidentCreationAlertRule.json 200: ok",
            "2025-09-01__CreateMicrosoftSecurityIncidentCreationAlertRule.json 201: ok",
            "2025-09-01__CreateScheduledAlertRule.json 200: ok",
            "2025-09-01__CreateScheduledAlertRule.json 201: ok",
            "2025-10-01-preview__AutomationRules_CreateOrUpdate.json 200: ok",
            "2025-10-01-preview__AutomationRules_CreateOrUpdate.json 201: ok",
            "2025-10-01-preview__CreateMicrosoftSecurityIncidentCreationAlertRule.json 200: ok",
            "2025-10-01-preview__CreateMicrosoftSecurityIncidentCreationAlertRule.json 201: ok",
        ]
    );
}

/// GET and List answers, as the tool reads them before writing them back.
#[test]
fn official_get_and_list_bodies_validate_as_requests() {
    let Some(fixtures) = shared_fixtures() else {
        return;
    };
    let specs = Specs::load(&fixtures.join("arm-specs")).unwrap();
    let mut results = Vec::new();
    for ex in examples(&fixtures.join("arm-spec-examples")) {
        if ex.op != Op::Read {
            continue;
        }
        let body = &ex.json["responses"]["200"]["body"];
        let items: Vec<&Value> = match body.get("value").and_then(Value::as_array) {
            Some(list) => list.iter().collect(),
            None => vec![body],
        };
        for (i, item) in items.into_iter().enumerate() {
            let kind = item["kind"].as_str().unwrap_or("-");
            if kind != "-" && !specs.knows_kind(ex.resource_type, kind) {
                eprintln!(
                    "note: {}[{i}]: no spec defines kind {kind}; skipped",
                    ex.file
                );
                continue;
            }
            let outcome = match specs.validate(ex.resource_type, item) {
                Ok(()) => "ok".to_string(),
                Err(e) => e.join("; "),
            };
            results.push(format!("{}[{i}] {kind}: {outcome}", ex.file));
        }
    }
    let not_ok: Vec<&String> = results.iter().filter(|r| !r.ends_with(": ok")).collect();
    assert_eq!(not_ok, Vec::<&String>::new(), "all: {results:#?}");
    assert!(results.len() >= 20, "too few bodies checked: {results:#?}");
}

// ----- negative cases on the real specs ------------------------------------------------

fn incident_creation_rule() -> Value {
    json!({
        "kind": "MicrosoftSecurityIncidentCreation",
        "etag": "\"0300bf09-0000-0000-0000-5c37296e0000\"",
        "properties": {
            "displayName": "Create incidents based on Microsoft Defender for Cloud alerts",
            "enabled": true,
            "productFilter": "Azure Security Center",
            "severitiesFilter": ["High", "Medium"],
            "displayNamesExcludeFilter": ["Suspicious process"]
        }
    })
}

fn scheduled_rule() -> Value {
    json!({
        "kind": "Scheduled",
        "properties": {
            "displayName": "DfC alerts",
            "enabled": true,
            "severity": "High",
            "query": "SecurityAlert | where ProductName == \"Azure Security Center\"",
            "queryFrequency": "PT5M",
            "queryPeriod": "PT5M",
            "triggerOperator": "GreaterThan",
            "triggerThreshold": 0,
            "suppressionEnabled": false,
            "suppressionDuration": "PT1H",
            "incidentConfiguration": {
                "createIncident": true,
                "groupingConfiguration": {
                    "enabled": false,
                    "reopenClosedIncident": false,
                    "lookbackDuration": "PT5H",
                    "matchingMethod": "AllEntities"
                }
            },
            "lastModifiedUtc": "2019-01-01T13:00:30Z"
        }
    })
}

fn automation_rule() -> Value {
    json!({
        "properties": {
            "displayName": "Close DfC incidents that used to be filtered out",
            "order": 1,
            "triggeringLogic": {
                "isEnabled": true,
                "triggersOn": "Incidents",
                "triggersWhen": "Created",
                "conditions": [{
                    "conditionType": "Property",
                    "conditionProperties": {
                        "propertyName": "AlertProductNames",
                        "operator": "Contains",
                        "propertyValues": ["Azure Security Center"]
                    }
                }]
            },
            "actions": [{
                "order": 1,
                "actionType": "ModifyProperties",
                "actionConfiguration": {
                    "status": "Closed",
                    "classification": "BenignPositive",
                    "classificationReason": "SuspiciousButExpected"
                }
            }]
        }
    })
}

fn asc_connector() -> Value {
    json!({
        "kind": "AzureSecurityCenter",
        "etag": "\"0300bf09-0000-0000-0000-5c37296e0000\"",
        "properties": {
            "subscriptionId": "c0688291-89d7-4bed-87a2-a7b1bff43f4c",
            "dataTypes": {"alerts": {"state": "Enabled"}}
        }
    })
}

fn mtp_connector() -> Value {
    json!({
        "kind": "MicrosoftThreatProtection",
        "properties": {
            "tenantId": "178265c4-3136-4ff6-8ed1-b5b62b4cb5f5",
            "dataTypes": {"incidents": {"state": "Enabled"}, "alerts": {"state": "Enabled"}}
        }
    })
}

fn remove(mut v: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    v.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key)
        .unwrap();
    v
}

fn set(mut v: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    v.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .insert(key.to_string(), value);
    v
}

#[test]
fn the_valid_bases_of_the_negative_cases_pass() {
    let Some(specs) = specs() else { return };
    assert_eq!(
        specs.validate("alertRules", &incident_creation_rule()),
        Ok(())
    );
    assert_eq!(specs.validate("alertRules", &scheduled_rule()), Ok(()));
    assert_eq!(
        specs.validate("automationRules", &automation_rule()),
        Ok(())
    );
    assert_eq!(specs.validate("dataConnectors", &asc_connector()), Ok(()));
    assert_eq!(specs.validate("dataConnectors", &mtp_connector()), Ok(()));
}

#[test]
fn incident_creation_rule_without_product_filter() {
    let Some(specs) = specs() else { return };
    let body = remove(incident_creation_rule(), "/properties/productFilter");
    assert_eq!(
        errs(specs.validate("alertRules", &body)),
        ["/properties/productFilter: missing required property"]
    );
}

#[test]
fn scheduled_rule_with_enabled_as_a_string() {
    let Some(specs) = specs() else { return };
    let body = set(scheduled_rule(), "/properties/enabled", json!("false"));
    assert_eq!(
        errs(specs.validate("alertRules", &body)),
        ["/properties/enabled: expected boolean, found string"]
    );
}

#[test]
fn scheduled_rule_without_query() {
    let Some(specs) = specs() else { return };
    let body = remove(scheduled_rule(), "/properties/query");
    assert_eq!(
        errs(specs.validate("alertRules", &body)),
        ["/properties/query: missing required property"]
    );
    // null counts as missing for a required property.
    let body = set(scheduled_rule(), "/properties/query", Value::Null);
    assert_eq!(
        errs(specs.validate("alertRules", &body)),
        ["/properties/query: missing required property"]
    );
}

#[test]
fn scheduled_rule_trigger_operator_is_a_closed_enum_and_severity_is_open() {
    let Some(specs) = specs() else { return };
    let body = set(
        scheduled_rule(),
        "/properties/triggerOperator",
        json!("GreaterThanOrEqual"),
    );
    assert_eq!(
        errs(specs.validate("alertRules", &body)),
        [
            "/properties/triggerOperator: \"GreaterThanOrEqual\" is not one of GreaterThan, \
             LessThan, Equal, NotEqual"
        ]
    );
    let body = set(scheduled_rule(), "/properties/severity", json!("Critical"));
    assert_eq!(specs.validate("alertRules", &body), Ok(()));
}

#[test]
fn scheduled_rule_threshold_must_be_an_int32() {
    let Some(specs) = specs() else { return };
    let body = set(scheduled_rule(), "/properties/triggerThreshold", json!(1.5));
    assert_eq!(
        errs(specs.validate("alertRules", &body)),
        ["/properties/triggerThreshold: expected integer, found number"]
    );
    let body = set(
        scheduled_rule(),
        "/properties/triggerThreshold",
        json!(3_000_000_000u64),
    );
    assert_eq!(
        errs(specs.validate("alertRules", &body)),
        ["/properties/triggerThreshold: 3000000000 is not an int32"]
    );
}

#[test]
fn read_only_and_unknown_properties_are_allowed() {
    let Some(specs) = specs() else { return };
    let mut body = scheduled_rule();
    body["id"] = json!("/subscriptions/x/.../alertRules/r1");
    body["name"] = json!("r1");
    body["type"] = json!("Microsoft.SecurityInsights/alertRules");
    body["systemData"] = json!({"createdAt": "not even checked", "createdByType": 7});
    body["properties"]["lastModifiedUtc"] = json!(12);
    body["properties"]["somethingNew"] = json!({"a": 1});
    assert_eq!(specs.validate("alertRules", &body), Ok(()));
    // Fusion's displayName is readOnly, so not required even though Fusion needs it.
    let fusion = json!({"kind": "Fusion", "properties": {
        "alertRuleTemplateName": "f71aba3d-28fb-450b-b192-4e76a83015c8", "enabled": true}});
    assert_eq!(specs.validate("alertRules", &fusion), Ok(()));
}

#[test]
fn automation_rule_with_order_as_a_string() {
    let Some(specs) = specs() else { return };
    let body = set(automation_rule(), "/properties/order", json!("1"));
    assert_eq!(
        errs(specs.validate("automationRules", &body)),
        ["/properties/order: expected integer, found string"]
    );
}

#[test]
fn automation_rule_limits() {
    let Some(specs) = specs() else { return };
    let body = set(automation_rule(), "/properties/order", json!(0));
    assert_eq!(
        errs(specs.validate("automationRules", &body)),
        ["/properties/order: 0 is less than the minimum 1"]
    );
    let action = automation_rule()["properties"]["actions"][0].clone();
    let body = set(
        automation_rule(),
        "/properties/actions",
        json!(vec![action; 21]),
    );
    assert_eq!(
        errs(specs.validate("automationRules", &body)),
        ["/properties/actions: 21 items, more than the maxItems 20"]
    );
}

#[test]
fn automation_rule_nested_discriminators_dispatch() {
    let Some(specs) = specs() else { return };
    // RunPlaybook requires actionConfiguration.logicAppResourceId.
    let body = set(
        automation_rule(),
        "/properties/actions",
        json!([{"order": 1, "actionType": "RunPlaybook", "actionConfiguration": {"tenantId": "t"}}]),
    );
    assert_eq!(
        errs(specs.validate("automationRules", &body)),
        ["/properties/actions/0/actionConfiguration/logicAppResourceId: missing required property"]
    );
    // A Boolean condition needs 2..10 inner conditions, themselves dispatched.
    let body = set(
        automation_rule(),
        "/properties/triggeringLogic/conditions",
        json!([{"conditionType": "Boolean", "conditionProperties": {
            "operator": "Or",
            "innerConditions": [{"conditionType": "Property",
                                 "conditionProperties": {"propertyValues": "not an array"}}]
        }}]),
    );
    assert_eq!(
        errs(specs.validate("automationRules", &body)),
        [
            "/properties/triggeringLogic/conditions/0/conditionProperties/innerConditions/0/\
             conditionProperties/propertyValues: expected array, found string",
            "/properties/triggeringLogic/conditions/0/conditionProperties/innerConditions: \
             1 items, fewer than the minItems 2",
        ]
    );
    // An action type the spec does not know is checked against the base only.
    let body = set(
        automation_rule(),
        "/properties/actions",
        json!([{"order": 1, "actionType": "SomethingNew", "actionConfiguration": 5}]),
    );
    assert_eq!(specs.validate("automationRules", &body), Ok(()));
    let body = set(
        automation_rule(),
        "/properties/actions",
        json!([{"actionType": "SomethingNew"}]),
    );
    assert_eq!(
        errs(specs.validate("automationRules", &body)),
        ["/properties/actions/0/order: missing required property"]
    );
}

/// Neither the stable nor the preview spec lists `subscriptionId` as required for an
/// AzureSecurityCenter connector, so the spec cannot reject its absence: a check that
/// the tool always writes it belongs in the tool's own tests.
#[test]
fn asc_connector_without_subscription_id_is_not_rejected_by_the_spec() {
    let Some(specs) = specs() else { return };
    let body = remove(asc_connector(), "/properties/subscriptionId");
    assert_eq!(specs.validate("dataConnectors", &body), Ok(()));
    // What the spec does check:
    let body = set(asc_connector(), "/properties/subscriptionId", json!(42));
    assert_eq!(
        errs(specs.validate("dataConnectors", &body)),
        ["/properties/subscriptionId: expected string, found number"]
    );
    let body = set(
        asc_connector(),
        "/properties/dataTypes",
        json!({"alerts": "Enabled"}),
    );
    assert_eq!(
        errs(specs.validate("dataConnectors", &body)),
        ["/properties/dataTypes/alerts: expected object, found string"]
    );
}

#[test]
fn mtp_connector_requires_incidents_state() {
    let Some(specs) = specs() else { return };
    let body = remove(mtp_connector(), "/properties/dataTypes/incidents");
    assert_eq!(
        errs(specs.validate("dataConnectors", &body)),
        ["/properties/dataTypes/incidents: missing required property"]
    );
    let body = remove(mtp_connector(), "/properties/dataTypes/incidents/state");
    assert_eq!(
        errs(specs.validate("dataConnectors", &body)),
        ["/properties/dataTypes/incidents/state: missing required property"]
    );
}

#[test]
fn alert_rule_without_kind() {
    let Some(specs) = specs() else { return };
    let body = remove(scheduled_rule(), "/kind");
    assert_eq!(
        errs(specs.validate("alertRules", &body)),
        ["/kind: missing required property"]
    );
    let body = set(scheduled_rule(), "/kind", json!(1));
    assert_eq!(
        errs(specs.validate("alertRules", &body)),
        ["/kind: expected string, found number"]
    );
}

#[test]
fn unknown_kinds_and_resource_types() {
    let Some(specs) = specs() else { return };
    let body = set(scheduled_rule(), "/kind", json!("NRT"));
    assert_eq!(
        specs.validate("alertRules", &body),
        Err(vec!["no spec defines kind NRT".to_string()])
    );
    assert_eq!(
        specs.validate("watchlists", &json!({})),
        Err(vec![
            "no spec defines a PUT body for resource type watchlists".to_string()
        ])
    );
    assert_eq!(
        errs(specs.validate("alertRules", &json!([1]))),
        ["(root): expected object, found array"]
    );
}

// ----- mechanics, on a synthetic spec ---------------------------------------------------

/// A spec folder laid out like arm-specs, with one resource type `things`.
fn synthetic() -> (tempfile::TempDir, Specs) {
    let dir = tempfile::tempdir().unwrap();
    let version = dir.path().join("2030-01-01");
    std::fs::create_dir_all(version.join("common")).unwrap();
    let spec = json!({
        "swagger": "2.0",
        "info": {"version": "2030-01-01"},
        "paths": {
            "/x/providers/Microsoft.SecurityInsights/things/{thingId}": {
                "put": {"parameters": [
                    {"in": "path", "name": "thingId", "type": "string"},
                    {"in": "body", "name": "thing", "schema": {"$ref": "#/definitions/Thing"}}
                ]}
            }
        },
        "definitions": {
            "Thing": {
                "discriminator": "kind", "required": ["kind"],
                "properties": {"kind": {"type": "string"}, "etag": {"type": "string"}}
            },
            "Tree": {
                "allOf": [{"$ref": "#/definitions/Thing"}],
                "x-ms-discriminator-value": "Tree",
                "properties": {"properties": {"$ref": "#/definitions/Node"}}
            },
            "Node": {
                "type": "object",
                "required": ["label", "stamp"],
                "properties": {
                    "label": {"type": "string", "minLength": 1, "maxLength": 3},
                    "stamp": {"type": "string", "readOnly": true},
                    "children": {"type": "array", "items": {"$ref": "#/definitions/Node"}},
                    "tags": {"type": "object", "additionalProperties": {"type": "integer", "format": "int64"}},
                    "mode": {"type": "string", "enum": ["A", "B"], "x-ms-enum": {"modelAsString": false}},
                    "colour": {"type": "string", "enum": ["Red"], "x-ms-enum": {"modelAsString": true}},
                    "level": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 9},
                    "ratio": {"type": "number", "exclusiveMaximum": true, "maximum": 1},
                    "note": {"type": "string", "x-nullable": true},
                    "shared": {"$ref": "./common/Shared.json#/definitions/Shared"},
                    "loop": {"$ref": "#/definitions/LoopA"}
                }
            },
            "LoopA": {"allOf": [{"$ref": "#/definitions/LoopB"}], "properties": {"a": {"type": "boolean"}}},
            "LoopB": {"allOf": [{"$ref": "#/definitions/LoopA"}], "properties": {"b": {"type": "boolean"}}},
            "Broken": {
                "allOf": [{"$ref": "#/definitions/Thing"}],
                "x-ms-discriminator-value": "Broken",
                "properties": {"properties": {"$ref": "../../missing/types.json#/definitions/X"}}
            },
            "Unnamed": {"allOf": [{"$ref": "#/definitions/Thing"}], "properties": {}}
        }
    });
    let shared = json!({"definitions": {"Shared": {
        "properties": {"n": {"type": "integer"}}, "required": ["n"]}}});
    std::fs::write(version.join("Things.json"), spec.to_string()).unwrap();
    std::fs::write(version.join("common/Shared.json"), shared.to_string()).unwrap();
    let specs = Specs::load(dir.path()).unwrap();
    (dir, specs)
}

fn tree(properties: Value) -> Value {
    json!({"kind": "Tree", "properties": properties})
}

#[test]
fn synthetic_kinds_use_discriminator_value_or_definition_name() {
    let (_dir, specs) = synthetic();
    assert!(specs.knows_kind("things", "Tree"));
    assert!(specs.knows_kind("things", "Unnamed"));
    assert!(!specs.knows_kind("things", "Thing"));
    assert_eq!(
        specs.validate("things", &json!({"kind": "Unnamed"})),
        Ok(())
    );
}

#[test]
fn synthetic_recursive_and_cyclic_definitions() {
    let (_dir, specs) = synthetic();
    let body = tree(json!({
        "label": "a",
        "children": [{"label": "b", "children": [{"label": "toolong"}]}],
        "loop": {"a": true, "b": "no"}
    }));
    assert_eq!(
        errs(specs.validate("things", &body)),
        [
            "/properties/children/0/children/0/label: 7 characters, more than the maxLength 3",
            "/properties/loop/b: expected boolean, found string",
        ]
    );
}

#[test]
fn synthetic_keywords() {
    let (_dir, specs) = synthetic();
    let body = tree(json!({
        "label": "",
        "tags": {"x": 1, "y": "2", "z": 9_223_372_036_854_775_808u64},
        "mode": "C",
        "colour": "Blue",
        "level": 10,
        "ratio": 1,
        "note": null,
        "shared": {}
    }));
    assert_eq!(
        errs(specs.validate("things", &body)),
        [
            "/properties/label: 0 characters, fewer than the minLength 1",
            "/properties/level: 10 is greater than the maximum 9",
            "/properties/mode: \"C\" is not one of A, B",
            "/properties/ratio: 1 is not below the exclusive maximum 1",
            "/properties/shared/n: missing required property",
            "/properties/tags/y: expected integer, found string",
            "/properties/tags/z: 9223372036854775808 is not an int64",
        ]
    );
    // null: allowed for an optional property, not for an array item.
    let body = tree(json!({"label": "a", "level": null, "children": [null]}));
    assert_eq!(
        errs(specs.validate("things", &body)),
        ["/properties/children/0: expected object, found null"]
    );
}

#[test]
fn synthetic_missing_files_are_reported() {
    let (_dir, specs) = synthetic();
    let report = specs.check_refs();
    assert_eq!(
        report.unresolved,
        [format!(
            "$ref ../../missing/types.json#/definitions/X in 2030-01-01/Things.json points to \
             missing/types.json, which is not in {}",
            _dir.path().display()
        )]
    );
    let errs = errs(specs.validate("things", &json!({"kind": "Broken", "properties": {}})));
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("/properties: $ref ../../missing/types.json"),
        "{errs:?}"
    );
}
