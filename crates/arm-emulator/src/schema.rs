//! The minimal schema checks of PUT bodies. Each failure is a message that
//! names the offending field as a dotted path (`properties.queryFrequency`).

use super::route::ResType;
use serde_json::{Map, Value};

/// A present, non-null value at a dotted path under `obj`.
fn at<'a>(obj: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = obj.get(parts.next()?)?;
    for part in parts {
        cur = cur.as_object()?.get(part)?;
    }
    (!cur.is_null()).then_some(cur)
}

fn required<'a>(
    props: &'a Map<String, Value>,
    field: &str,
    what: &str,
) -> Result<&'a Value, String> {
    at(props, field)
        .ok_or_else(|| format!("The field 'properties.{field}' is required for {what}."))
}

fn boolean(props: &Map<String, Value>, field: &str, what: &str) -> Result<(), String> {
    let v = required(props, field, what)?;
    if v.is_boolean() {
        Ok(())
    } else {
        Err(format!(
            "The field 'properties.{field}' must be a boolean (true or false), not {v}."
        ))
    }
}

/// Required `properties` fields per alert rule kind (lower-cased).
const ALERT_RULE_FIELDS: &[(&str, &str, &[&str])] = &[
    (
        "scheduled",
        "Scheduled",
        &[
            "displayName",
            "enabled",
            "severity",
            "query",
            "queryFrequency",
            "queryPeriod",
            "triggerOperator",
            "triggerThreshold",
            "suppressionEnabled",
            "suppressionDuration",
        ],
    ),
    (
        "nrt",
        "NRT",
        &[
            "displayName",
            "enabled",
            "severity",
            "query",
            "suppressionEnabled",
            "suppressionDuration",
        ],
    ),
    (
        "microsoftsecurityincidentcreation",
        "MicrosoftSecurityIncidentCreation",
        &["displayName", "enabled", "productFilter"],
    ),
    ("fusion", "Fusion", &["enabled", "alertRuleTemplateName"]),
    (
        "mlbehavioranalytics",
        "MLBehaviorAnalytics",
        &["enabled", "alertRuleTemplateName"],
    ),
    (
        "threatintelligence",
        "ThreatIntelligence",
        &["enabled", "alertRuleTemplateName"],
    ),
];

/// Required `properties` fields per data connector kind (lower-cased).
const DATA_CONNECTOR_FIELDS: &[(&str, &str, &[&str])] = &[
    (
        "azuresecuritycenter",
        "AzureSecurityCenter",
        &["subscriptionId", "dataTypes.alerts.state"],
    ),
    (
        "microsoftthreatprotection",
        "MicrosoftThreatProtection",
        &["tenantId", "dataTypes.incidents.state"],
    ),
];

const TRIGGER_OPERATORS: &[&str] = &["GreaterThan", "LessThan", "Equal", "NotEqual"];

/// Checks a PUT body of `ty`; the error is the message of a 400 BadRequest.
pub(super) fn validate(ty: ResType, body: &Map<String, Value>) -> Result<(), String> {
    let properties = match body.get("properties") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => Some(p),
        Some(other) => {
            return Err(format!(
                "The field 'properties' must be an object, not {}.",
                json_type(other)
            ));
        }
    };
    if ty == ResType::AutomationRules {
        let props = properties.ok_or_else(|| {
            "The field 'properties' is required for automation rules.".to_string()
        })?;
        return automation_rule(props);
    }
    if ty == ResType::ContentPackages {
        let what = "content packages";
        let props =
            properties.ok_or_else(|| format!("The field 'properties' is required for {what}."))?;
        for field in ["contentId", "version", "contentKind"] {
            if !required(props, field, what)?.is_string() {
                return Err(format!("The field 'properties.{field}' must be a string."));
            }
        }
        return Ok(());
    }
    let kind = match body.get("kind") {
        Some(Value::String(k)) => k,
        None | Some(Value::Null) => {
            return Err(format!("The field 'kind' is required for {}s.", ty.noun()));
        }
        Some(other) => {
            return Err(format!(
                "The field 'kind' must be a string, not {}.",
                json_type(other)
            ));
        }
    };
    let table = if ty == ResType::AlertRules {
        ALERT_RULE_FIELDS
    } else {
        DATA_CONNECTOR_FIELDS
    };
    let lower = kind.to_lowercase();
    let Some((_, canonical, fields)) = table.iter().find(|(k, _, _)| *k == lower) else {
        return Ok(()); // open-ended: unknown kinds pass untouched
    };
    let what = format!("{}s of kind '{canonical}'", ty.noun());
    let props =
        properties.ok_or_else(|| format!("The field 'properties' is required for {what}."))?;
    for field in *fields {
        required(props, field, &what)?;
    }
    if ty == ResType::AlertRules {
        boolean(props, "enabled", &what)?;
        if let Some(op) = at(props, "triggerOperator") {
            let known = op
                .as_str()
                .is_some_and(|s| TRIGGER_OPERATORS.iter().any(|k| k.eq_ignore_ascii_case(s)));
            if !known {
                return Err(format!(
                    "The field 'properties.triggerOperator' must be one of {}, not {op}.",
                    TRIGGER_OPERATORS.join(", ")
                ));
            }
        }
    }
    Ok(())
}

fn automation_rule(props: &Map<String, Value>) -> Result<(), String> {
    let what = "automation rules";
    required(props, "displayName", what)?;
    let order = required(props, "order", what)?;
    if !order.as_i64().is_some_and(|o| (1..=1000).contains(&o)) {
        return Err(format!(
            "The field 'properties.order' must be an integer from 1 to 1000, not {order}."
        ));
    }
    let logic = required(props, "triggeringLogic", what)?;
    let Some(logic) = logic.as_object() else {
        return Err(format!(
            "The field 'properties.triggeringLogic' must be an object, not {}.",
            json_type(logic)
        ));
    };
    let in_logic = |field: &str| {
        at(logic, field).ok_or_else(|| {
            format!("The field 'properties.triggeringLogic.{field}' is required for {what}.")
        })
    };
    let enabled = in_logic("isEnabled")?;
    if !enabled.is_boolean() {
        return Err(format!(
            "The field 'properties.triggeringLogic.isEnabled' must be a boolean (true or false), not {enabled}."
        ));
    }
    in_logic("triggersOn")?;
    in_logic("triggersWhen")?;
    if let Some(conditions) = at(logic, "conditions") {
        match conditions.as_array() {
            Some(c) if c.len() <= 50 => {
                for (i, item) in c.iter().enumerate() {
                    condition(item, &format!("properties.triggeringLogic.conditions[{i}]"))?;
                }
            }
            Some(c) => {
                return Err(format!(
                    "The field 'properties.triggeringLogic.conditions' has {} items; at most 50 are allowed.",
                    c.len()
                ));
            }
            None => {
                return Err(format!(
                    "The field 'properties.triggeringLogic.conditions' must be an array, not {}.",
                    json_type(conditions)
                ));
            }
        }
    }
    let actions = required(props, "actions", what)?;
    match actions.as_array() {
        Some(a) if (1..=20).contains(&a.len()) => Ok(()),
        Some(a) => Err(format!(
            "The field 'properties.actions' has {} items; from 1 to 20 are required.",
            a.len()
        )),
        None => Err(format!(
            "The field 'properties.actions' must be an array, not {}.",
            json_type(actions)
        )),
    }
}

/// The condition types of the automation rule schema.
const CONDITION_TYPES: [&str; 5] = [
    "Property",
    "PropertyArray",
    "PropertyChanged",
    "PropertyArrayChanged",
    "Boolean",
];

/// One automation rule condition: a known `conditionType`, and a `Boolean`
/// with `And` or `Or` over 2 to 10 inner conditions, each checked in turn.
fn condition(c: &Value, at: &str) -> Result<(), String> {
    let kind = c.get("conditionType").and_then(Value::as_str);
    let Some(kind) = kind.filter(|k| CONDITION_TYPES.contains(k)) else {
        return Err(format!(
            "The field '{at}.conditionType' must be one of {}.",
            CONDITION_TYPES.join(", ")
        ));
    };
    if kind != "Boolean" {
        return Ok(());
    }
    let props = c.get("conditionProperties");
    let operator = props
        .and_then(|p| p.get("operator"))
        .and_then(Value::as_str);
    if !matches!(operator, Some("And" | "Or")) {
        return Err(format!(
            "The field '{at}.conditionProperties.operator' must be And or Or."
        ));
    }
    let inner = props
        .and_then(|p| p.get("innerConditions"))
        .and_then(Value::as_array);
    match inner {
        Some(inner) if (2..=10).contains(&inner.len()) => {
            for (i, item) in inner.iter().enumerate() {
                condition(
                    item,
                    &format!("{at}.conditionProperties.innerConditions[{i}]"),
                )?;
            }
            Ok(())
        }
        _ => Err(format!(
            "The field '{at}.conditionProperties.innerConditions' must hold from 2 to 10 conditions."
        )),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_packages_need_id_version_and_kind_as_strings() {
        let ok = json!({"properties": {"contentId": "a.b", "version": "3.0.3", "contentKind": "Solution"}});
        assert_eq!(check(ResType::ContentPackages, ok.clone()), Ok(()));
        for field in ["contentId", "version", "contentKind"] {
            let mut missing = ok.clone();
            missing["properties"].as_object_mut().unwrap().remove(field);
            let err = check(ResType::ContentPackages, missing).unwrap_err();
            assert!(err.contains(field), "{err}");
            let mut numeric = ok.clone();
            numeric["properties"][field] = json!(3);
            assert!(check(ResType::ContentPackages, numeric).is_err());
        }
        assert!(check(ResType::ContentPackages, json!({})).is_err());
    }

    fn check(ty: ResType, body: Value) -> Result<(), String> {
        validate(ty, body.as_object().unwrap())
    }

    fn scheduled() -> Value {
        json!({"kind": "Scheduled", "properties": {
            "displayName": "d", "enabled": true, "severity": "High", "query": "T",
            "queryFrequency": "PT1H", "queryPeriod": "PT1H", "triggerOperator": "GreaterThan",
            "triggerThreshold": 0, "suppressionEnabled": false, "suppressionDuration": "PT1H"}})
    }

    #[test]
    fn every_required_scheduled_field_is_named() {
        assert_eq!(check(ResType::AlertRules, scheduled()), Ok(()));
        let fields = ALERT_RULE_FIELDS[0].2;
        for field in fields {
            let mut body = scheduled();
            body["properties"].as_object_mut().unwrap().remove(*field);
            let err = check(ResType::AlertRules, body).unwrap_err();
            assert!(err.contains(&format!("'properties.{field}'")), "{err}");
            let mut body = scheduled();
            body["properties"][*field] = Value::Null;
            assert!(check(ResType::AlertRules, body).is_err());
        }
    }

    #[test]
    fn kinds_compare_case_insensitively_and_unknown_ones_pass() {
        let mut body = scheduled();
        body["kind"] = json!("scheduled");
        body["properties"]["enabled"] = json!("true");
        let err = check(ResType::AlertRules, body).unwrap_err();
        assert!(
            err.contains("'properties.enabled'") && err.contains("boolean"),
            "{err}"
        );
        assert_eq!(
            check(
                ResType::AlertRules,
                json!({"kind": "SomethingNew", "properties": 5})
            )
            .unwrap_err(),
            "The field 'properties' must be an object, not a number."
        );
        assert_eq!(
            check(ResType::AlertRules, json!({"kind": "SomethingNew"})),
            Ok(())
        );
        assert_eq!(
            check(ResType::DataConnectors, json!({"kind": "Office365"})),
            Ok(())
        );
        let mut body = scheduled();
        body["properties"]["triggerOperator"] = json!("MoreThan");
        assert!(
            check(ResType::AlertRules, body)
                .unwrap_err()
                .contains("triggerOperator")
        );
    }

    #[test]
    fn connectors_need_nested_fields() {
        let err = check(
            ResType::DataConnectors,
            json!({"kind": "AzureSecurityCenter", "properties": {"subscriptionId": "s", "dataTypes": {}}}),
        )
        .unwrap_err();
        assert!(err.contains("'properties.dataTypes.alerts.state'"), "{err}");
        let err = check(
            ResType::DataConnectors,
            json!({"kind": "MicrosoftThreatProtection", "properties": {"dataTypes": {"incidents": {"state": "Enabled"}}}}),
        )
        .unwrap_err();
        assert!(err.contains("'properties.tenantId'"), "{err}");
        let err = check(ResType::DataConnectors, json!({"properties": {}})).unwrap_err();
        assert!(err.contains("'kind'"), "{err}");
        let err = check(ResType::DataConnectors, json!({"kind": 3})).unwrap_err();
        assert!(err.contains("'kind'"), "{err}");
    }

    #[test]
    fn automation_rules_checks() {
        let ok = json!({"properties": {"displayName": "d", "order": 1,
            "triggeringLogic": {"isEnabled": true, "triggersOn": "Incidents", "triggersWhen": "Created", "conditions": []},
            "actions": [{"order": 1, "actionType": "ModifyProperties"}]}});
        assert_eq!(check(ResType::AutomationRules, ok.clone()), Ok(()));
        let cases: &[(&str, Value, &str)] = &[
            ("/properties/order", json!(0), "'properties.order'"),
            ("/properties/order", json!(1001), "'properties.order'"),
            ("/properties/order", json!(1.5), "'properties.order'"),
            (
                "/properties/triggeringLogic",
                json!("x"),
                "'properties.triggeringLogic'",
            ),
            (
                "/properties/triggeringLogic/isEnabled",
                json!("yes"),
                "'properties.triggeringLogic.isEnabled'",
            ),
            (
                "/properties/triggeringLogic/triggersOn",
                Value::Null,
                "'properties.triggeringLogic.triggersOn'",
            ),
            (
                "/properties/triggeringLogic/conditions",
                json!(vec![json!({}); 51]),
                "'properties.triggeringLogic.conditions'",
            ),
            ("/properties/actions", json!([]), "'properties.actions'"),
            (
                "/properties/actions",
                json!(vec![json!({}); 21]),
                "'properties.actions'",
            ),
            ("/properties/actions", json!({}), "'properties.actions'"),
            (
                "/properties/displayName",
                Value::Null,
                "'properties.displayName'",
            ),
        ];
        for (pointer, value, field) in cases {
            let mut body = ok.clone();
            *body
                .pointer_mut(pointer)
                .unwrap_or_else(|| panic!("{pointer}")) = value.clone();
            let err = check(ResType::AutomationRules, body).unwrap_err();
            assert!(err.contains(field), "{pointer}: {err}");
        }
        let err = check(ResType::AutomationRules, json!({})).unwrap_err();
        assert!(err.contains("'properties'"), "{err}");
    }

    #[test]
    fn automation_rule_conditions_are_checked_through_boolean_ones() {
        let prop = json!({"conditionType": "Property", "conditionProperties": {
            "propertyName": "IncidentTitle", "operator": "Contains", "propertyValues": ["x"]}});
        let boolean = |op: &str, inner: Vec<Value>| json!({"conditionType": "Boolean", "conditionProperties": {"operator": op, "innerConditions": inner}});
        let rule = |conditions: Value| {
            json!({"properties": {"displayName": "d", "order": 1,
                "triggeringLogic": {"isEnabled": true, "triggersOn": "Incidents", "triggersWhen": "Created", "conditions": conditions},
                "actions": [{"order": 1, "actionType": "ModifyProperties"}]}})
        };
        let nested = boolean(
            "Or",
            vec![prop.clone(), boolean("And", vec![prop.clone(); 10])],
        );
        assert_eq!(
            check(ResType::AutomationRules, rule(json!([nested]))),
            Ok(())
        );
        for (bad, field) in [
            (
                boolean("Or", vec![prop.clone()]),
                "conditions[0].conditionProperties.innerConditions",
            ),
            (
                boolean("Or", vec![prop.clone(); 11]),
                "conditions[0].conditionProperties.innerConditions",
            ),
            (
                boolean("Not", vec![prop.clone(); 2]),
                "conditions[0].conditionProperties.operator",
            ),
            (
                boolean("And", vec![prop.clone(), boolean("Or", vec![prop.clone()])]),
                "innerConditions[1].conditionProperties.innerConditions",
            ),
            (
                json!({"conditionProperties": {}}),
                "conditions[0].conditionType",
            ),
        ] {
            let err = check(ResType::AutomationRules, rule(json!([bad]))).unwrap_err();
            assert!(err.contains(field), "{field}: {err}");
        }
    }
}
