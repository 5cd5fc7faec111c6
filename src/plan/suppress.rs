//! Suppression that survives the switch: the automation rule conditions
//! that select exactly the Defender for Cloud incidents an incident
//! creation rule's filters kept out, and an evaluator of automation rule
//! conditions over sample incidents that checks them against the filters'
//! own semantics (`docs/suppression.md`).
//!
//! Pure: no I/O. An incident creation rule (MSIC) makes an incident of an
//! alert of its product when the alert's severity is in `severitiesFilter`
//! (or it is empty), its name contains one of `displayNamesFilter` (or it is
//! empty), and its name contains none of `displayNamesExcludeFilter`
//! ("filter ... by text contained in the alert's name", Microsoft's
//! "Automatically create incidents from Microsoft security alerts"). The
//! alerts it kept out are the complement: severity outside the filter, OR
//! an include list given and none of it in the name, OR an excluded text
//! in the name. Several such rules of one workspace act as one filter (an
//! alert any of them admits makes one incident), so the alerts they kept
//! out are those every one of them kept out: their complements ANDed.

use serde_json::{Value, json};

/// The severities a Defender for Cloud incident can have.
pub const SEVERITIES: [&str; 4] = ["High", "Medium", "Low", "Informational"];

/// The severities of the Defender for Cloud incidents Defender XDR makes:
/// Informational Defender for Cloud alerts are not ingested through it.
pub const ARRIVING: [&str; 3] = ["High", "Medium", "Low"];

/// The product name Defender for Cloud alerts carry.
pub const DFC_PRODUCT: &str = "Azure Security Center";

/// Boolean conditions hold 2 to 10 inner conditions; a rule at most 50.
const MAX_INNER: usize = 10;
pub const MAX_CONDITIONS: usize = 50;

/// What an incident creation rule's filters admit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub severities: Vec<String>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl Filters {
    /// The filters of a rule's `properties` (absent or null lists are empty).
    pub fn of(properties: Option<&Value>) -> Filters {
        Filters::from_keys(|key| properties.and_then(|p| p.get(key)))
    }

    /// The filters of an analytics rule as read.
    pub fn of_rule(rule: &Resource) -> Filters {
        Filters::from_keys(|key| rule.prop(key))
    }

    fn from_keys<'a>(get: impl Fn(&str) -> Option<&'a Value>) -> Filters {
        let list = |key: &str| -> Vec<String> {
            get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Filters {
            severities: list("severitiesFilter"),
            include: list("displayNamesFilter"),
            exclude: list("displayNamesExcludeFilter"),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.severities.is_empty() && self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether the rule makes an incident of an alert of its product.
    pub fn admits(&self, severity: &str, name: &str) -> bool {
        (self.severities.is_empty()
            || self
                .severities
                .iter()
                .any(|s| s.eq_ignore_ascii_case(severity)))
            && (self.include.is_empty() || self.include.iter().any(|i| contains(name, i)))
            && !self.exclude.iter().any(|e| contains(name, e))
    }

    /// The severities of incidents that arrive through Defender XDR which
    /// the filter keeps out (Informational ones never arrive).
    fn severities_out(&self) -> Vec<&'static str> {
        if self.severities.is_empty() {
            return Vec::new();
        }
        ARRIVING
            .into_iter()
            .filter(|s| !self.severities.iter().any(|f| f.eq_ignore_ascii_case(s)))
            .collect()
    }

    /// The condition that selects what the rule kept out, or None when it
    /// kept nothing out (it admits every alert of its product).
    fn kept_out(&self) -> Result<Option<Value>, String> {
        if let Some(e) = self
            .include
            .iter()
            .chain(&self.exclude)
            .find(|n| n.trim().is_empty())
        {
            return Err(format!(
                "a display-name filter holds an empty name ({e:?}), which every name contains"
            ));
        }
        let mut any = Vec::new();
        let out = self.severities_out();
        if !out.is_empty() {
            any.push(property("IncidentSeverity", "Equals", &out));
        }
        if !self.include.is_empty() {
            // None of the names: one NotContains per name, ANDed, so the
            // meaning never rests on how a negative operator reads a list.
            let none: Vec<Value> = self
                .include
                .iter()
                .map(|n| property("IncidentTitle", "NotContains", &[n.as_str()]))
                .collect();
            any.push(combine("And", none));
        }
        if !self.exclude.is_empty() {
            let names: Vec<&str> = self.exclude.iter().map(String::as_str).collect();
            any.push(property("IncidentTitle", "Contains", &names));
        }
        Ok((!any.is_empty()).then(|| combine("Or", any)))
    }
}

/// Case-insensitive substring test (`Contains` in both filters and
/// automation rules; neither documents case, both are read without it).
fn contains(text: &str, part: &str) -> bool {
    text.to_lowercase().contains(&part.to_lowercase())
}

/// A `Property` condition.
pub fn property(name: &str, operator: &str, values: &[&str]) -> Value {
    json!({
        "conditionType": "Property",
        "conditionProperties": {
            "operator": operator,
            "propertyName": name,
            "propertyValues": values,
        }
    })
}

/// One condition holding all of `items` under a Boolean operator: the item
/// itself when alone, else `Boolean` conditions of at most 10 inner ones,
/// nested when there are more.
fn combine(operator: &str, mut items: Vec<Value>) -> Value {
    while items.len() > MAX_INNER {
        items = items
            .chunks(MAX_INNER)
            .map(|c| {
                if c.len() == 1 {
                    c[0].clone()
                } else {
                    boolean(operator, c.to_vec())
                }
            })
            .collect();
    }
    if items.len() == 1 {
        items.remove(0)
    } else {
        boolean(operator, items)
    }
}

fn boolean(operator: &str, inner: Vec<Value>) -> Value {
    json!({
        "conditionType": "Boolean",
        "conditionProperties": {"operator": operator, "innerConditions": inner}
    })
}

/// The top-level conditions (ANDed) of an automation rule that closes the
/// Defender for Cloud incidents every one of `rules` kept out: None when
/// one of them kept nothing out. `others` are the product names of other
/// products' alerts: an incident holding one of them is left alone.
pub fn conditions(rules: &[&Filters], others: &[&str]) -> Result<Option<Vec<Value>>, String> {
    let mut out = vec![property("AlertProductNames", "Contains", &[DFC_PRODUCT])];
    if !others.is_empty() {
        // At the top level a negative list can only narrow what is closed,
        // however the service reads it ("none of" or "not all of").
        out.push(property("AlertProductNames", "NotContains", others));
    }
    for f in rules {
        match f.kept_out()? {
            Some(c) => out.push(c),
            None => return Ok(None),
        }
    }
    if out.len() > MAX_CONDITIONS {
        return Err(format!(
            "{} conditions are needed and an automation rule holds at most {MAX_CONDITIONS}",
            out.len()
        ));
    }
    Ok(Some(out))
}

/// A sample incident, as an automation rule on incident creation sees it.
#[derive(Debug, Clone)]
pub struct Incident<'a> {
    pub title: &'a str,
    pub severity: &'a str,
    pub products: Vec<&'a str>,
}

/// Whether automation rule `conditions` (ANDed) hold for an incident; None
/// when one tests a property or type this evaluator does not know.
pub fn matches(conditions: &[Value], incident: &Incident) -> Option<bool> {
    let mut all = true;
    for c in conditions {
        all &= holds(c, incident)?;
    }
    Some(all)
}

fn holds(c: &Value, incident: &Incident) -> Option<bool> {
    let props = c.get("conditionProperties")?;
    let text = |k: &str| props.get(k).and_then(Value::as_str).unwrap_or_default();
    match c.get("conditionType").and_then(Value::as_str)? {
        "Boolean" => {
            let inner = props.get("innerConditions")?.as_array()?;
            if !(2..=MAX_INNER).contains(&inner.len()) {
                return None;
            }
            let results = inner
                .iter()
                .map(|i| holds(i, incident))
                .collect::<Option<Vec<bool>>>()?;
            match text("operator") {
                "And" => Some(results.iter().all(|r| *r)),
                "Or" => Some(results.iter().any(|r| *r)),
                _ => None,
            }
        }
        "Property" => {
            let actual: Vec<&str> = match text("propertyName") {
                "IncidentTitle" => vec![incident.title],
                "IncidentSeverity" => vec![incident.severity],
                "AlertProductNames" => incident.products.clone(),
                _ => return None,
            };
            let values: Vec<&str> = props
                .get("propertyValues")?
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let test: fn(&str, &str) -> bool = match text("operator") {
                "Equals" | "NotEquals" => |a, v| a.eq_ignore_ascii_case(v),
                "Contains" | "NotContains" => contains,
                "StartsWith" | "NotStartsWith" => {
                    |a, v| a.to_lowercase().starts_with(&v.to_lowercase())
                }
                "EndsWith" | "NotEndsWith" => |a, v| a.to_lowercase().ends_with(&v.to_lowercase()),
                _ => return None,
            };
            // Positive operators: any value matches; negative: none does.
            let any = actual.iter().any(|a| values.iter().any(|v| test(a, v)));
            Some(if text("operator").starts_with("Not") {
                !any
            } else {
                any
            })
        }
        _ => None,
    }
}

/// A human reading of conditions, for the plan's reason.
pub fn describe(conditions: &[Value]) -> String {
    fn one(c: &Value) -> String {
        let p = &c["conditionProperties"];
        let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default();
        match p.get("innerConditions").and_then(Value::as_array) {
            Some(inner) => {
                let word = format!(" {} ", text("operator").to_lowercase());
                format!(
                    "({})",
                    inner.iter().map(one).collect::<Vec<_>>().join(&word)
                )
            }
            None => {
                let values: Vec<String> = p
                    .get("propertyValues")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|v| format!("\"{v}\""))
                    .collect();
                format!(
                    "{} {} [{}]",
                    text("propertyName"),
                    text("operator"),
                    values.join(", ")
                )
            }
        }
    }
    conditions.iter().map(one).collect::<Vec<_>>().join(" and ")
}

// ---- the planner's part ----------------------------------------------------

use super::{
    Action, Desired, Evidence, Findings, Groups, Planner, Reason, Role, Tenancy, WorkspaceReport,
    action_id, order_actions, stable_guid,
};
use crate::catalog::{Family, RuleKind};
use crate::model::{Resource, ResourceType, Workspace};
use std::collections::{BTreeMap, BTreeSet};

/// One incident creation rule the plan turns off, and where.
struct Source {
    group: usize,
    action: Action,
    filters: Filters,
}

impl Source {
    /// Its filters keep no alert out (none given, or every severity).
    fn admits_all(&self) -> bool {
        matches!(self.filters.kept_out(), Ok(None))
    }

    fn shown(&self) -> String {
        format!(
            "\"{}\"",
            self.action
                .display_name
                .as_deref()
                .or(self.action.name.as_deref())
                .unwrap_or_default()
        )
    }
}

fn rules_text(sources: &[&Source]) -> String {
    let names: Vec<String> = sources.iter().map(|s| s.shown()).collect();
    if names.len() == 1 {
        format!("the incident creation rule {}", names[0])
    } else {
        format!("the incident creation rules {}", names.join(", "))
    }
}

/// How the display name of a suppression rule begins.
const DISPLAY_PREFIX: &str = "sentinel-migrate: keep the filters of ";

/// How the comment of a suppression rule's closing action begins.
const COMMENT_PREFIX: &str = "Closed by sentinel-migrate: ";

/// Whether an automation rule is a suppression rule this tool generated
/// (its display name and its comment say so): what it tests was explained
/// when it was planned, so it is not reviewed again.
pub fn generated(rule: &Resource) -> bool {
    let comment = rule
        .prop("actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.pointer("/actionConfiguration/classificationComment"))
        .filter_map(Value::as_str)
        .any(|c| c.starts_with(COMMENT_PREFIX));
    comment
        && rule
            .display_name()
            .is_some_and(|d| d.starts_with(DISPLAY_PREFIX))
}

impl Planner<'_> {
    /// For each workspace where Defender for Cloud incidents arrive (a
    /// tenant's primary, or a workspace on its own), the automation rule
    /// that keeps the filters of the incident creation rules this plan
    /// turns off: created, brought up to date, or, when it cannot be
    /// exact, a review.
    pub(super) fn suppressions(
        &self,
        groups: &Groups,
        tenancies: &BTreeMap<String, (Tenancy, Vec<String>)>,
        planned: &mut [Option<(WorkspaceReport, Vec<Action>)>],
    ) {
        let code = &self.catalog.rule(RuleKind::MsicDisable).id;
        // Where each group's incidents arrive: Some(group), or None when
        // that workspace is not in the inputs.
        let mut targets: BTreeMap<Option<usize>, Vec<Source>> = BTreeMap::new();
        for (i, (key, _)) in groups.iter().enumerate() {
            let Some((_, actions)) = &planned[i] else {
                continue;
            };
            let primary = key
                .as_ref()
                .and_then(|k| tenancies.get(k))
                .filter(|(t, _)| t.role == Role::Secondary)
                .map(|(t, _)| t.primary.as_ref().map(|p| p.to_ascii_lowercase()));
            let target = match primary {
                Some(p) => groups.iter().position(|(k, _)| p.is_some() && *k == p),
                None => Some(i),
            };
            for a in actions.iter().filter(|a| &a.reason.code == code) {
                targets.entry(target).or_default().push(Source {
                    group: i,
                    filters: Filters::of(
                        a.before.as_ref().and_then(|b| b.get("properties")).as_ref(),
                    ),
                    action: a.clone(),
                });
            }
        }
        for (target, sources) in targets {
            // Nothing kept out: nothing to keep.
            if sources.iter().all(|s| s.admits_all()) {
                continue;
            }
            // Without its workspace, the review goes where the rules are.
            let at = target.unwrap_or(sources[0].group);
            let (step, note) = self.suppression(groups, tenancies, target, &sources);
            if let Some((report, actions)) = planned[at].as_mut() {
                report.notes.extend(note);
                actions.extend(step);
                order_actions(self.catalog, actions);
            }
        }
    }

    fn suppression(
        &self,
        groups: &Groups,
        tenancies: &BTreeMap<String, (Tenancy, Vec<String>)>,
        target: Option<usize>,
        sources: &[Source],
    ) -> (Option<Action>, Option<String>) {
        let all: Vec<&Source> = sources.iter().collect();
        let review = |ws: Option<&Workspace>, why: String| {
            let mut a = self.workspace_step(
                ws,
                RuleKind::SuppressReview,
                &[("rules", rules_text(&all)), ("explanation", why)],
            );
            a.evidence = sources
                .iter()
                .flat_map(|s| filter_evidence(&s.action))
                .collect();
            (Some(a), None)
        };
        let Some(t) = target else {
            return review(
                groups[sources[0].group].1.0,
                "the tenant's primary workspace, where Defender XDR brings these incidents, is not in the inputs (export it too)".into(),
            );
        };
        let (key, (ws, resources)) = &groups[t];
        let from: BTreeSet<usize> = sources.iter().map(|s| s.group).collect();
        if from.len() > 1 {
            let names: Vec<String> = from
                .iter()
                .map(|g| {
                    let (key, (ws, _)) = &groups[*g];
                    ws.map(|w| w.id().to_string())
                        .or(key.clone())
                        .unwrap_or_default()
                })
                .collect();
            return review(
                *ws,
                format!(
                    "each filtered the alerts of its own workspace ({}), and after the switch all those incidents arrive in this one: one automation rule here cannot tell whose subscription an incident came from, so it would close what another workspace's rule admitted",
                    names.join(", ")
                ),
            );
        }
        let others: Vec<&str> = self
            .catalog
            .products
            .iter()
            .filter(|p| p.family != Family::DefenderForCloud && p.in_alerts)
            .map(|p| p.name.as_str())
            .collect();
        let filters: Vec<&Filters> = sources.iter().map(|s| &s.filters).collect();
        let conditions = match conditions(&filters, &others) {
            Ok(Some(c)) => c,
            Ok(None) => {
                let open: Vec<&Source> = sources.iter().filter(|s| s.admits_all()).collect();
                return (
                    None,
                    Some(format!(
                        "no automation rule keeps the filters of {}: {} admitted every Defender for Cloud alert, so together they kept none out",
                        rules_text(&all),
                        rules_text(&open)
                    )),
                );
            }
            Err(why) => return review(*ws, why),
        };
        let mut seeds: Vec<String> = sources
            .iter()
            .map(|s| {
                s.action
                    .resource_id
                    .clone()
                    .or(s.action.name.clone())
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            })
            .collect();
        seeds.sort();
        let name = stable_guid(&format!("suppress|{}", seeds.join("|")));
        let automation = || {
            resources
                .iter()
                .copied()
                .filter(|r| r.resource_type == ResourceType::AutomationRules)
        };
        let display = if sources.len() == 1 {
            format!("{DISPLAY_PREFIX}{}", sources[0].shown().trim_matches('"'))
        } else {
            format!("{DISPLAY_PREFIX}{} incident creation rules", sources.len())
        };
        let display: String = display.chars().take(500).collect();
        let mut ids: Vec<String> = sources
            .iter()
            .map(|s| {
                s.action
                    .resource_id
                    .clone()
                    .or(s.action.name.clone())
                    .unwrap_or_default()
            })
            .collect();
        ids.sort_by_key(|i| i.to_ascii_lowercase());
        let comment = format!(
            "{COMMENT_PREFIX}{} did not create incidents for these Defender for Cloud alerts before the switch to Defender XDR ({}).",
            rules_text(&all),
            ids.join(", ")
        );
        let logic = json!({
            "conditions": conditions,
            "isEnabled": true,
            "triggersOn": "Incidents",
            "triggersWhen": "Created",
        });
        let actions = json!([{
            "actionConfiguration": {
                "classification": "BenignPositive",
                "classificationComment": comment,
                "classificationReason": "SuspiciousButExpected",
                "status": "Closed",
            },
            "actionType": "ModifyProperties",
            "order": 1,
        }]);
        let rules = rules_text(&all);
        if let Some(existing) = automation().find(|r| r.name.eq_ignore_ascii_case(&name)) {
            return (
                self.suppression_update(existing, &rules, &display, &logic, &actions),
                None,
            );
        }
        let used: BTreeSet<i64> = automation()
            .filter_map(|r| r.prop("order").and_then(Value::as_i64))
            .collect();
        let Some(order) = (1..=1000).find(|o| !used.contains(o)) else {
            return review(
                *ws,
                "every automation rule order from 1 to 1000 is taken here".into(),
            );
        };
        let before: Vec<i64> = used.iter().copied().filter(|o| *o < order).collect();
        let order_text = if before.is_empty() {
            format!(
                "{order}, before every other automation rule here, so it judges each incident as Defender XDR made it, before another rule changes its severity or title"
            )
        } else {
            format!(
                "{order}, the lowest order free here: rules at orders {}..{} run before it and may change the severity or title it tests",
                before[0],
                before[before.len() - 1]
            )
        };
        let tenancy = key.as_ref().and_then(|k| tenancies.get(k)).map(|(t, _)| t);
        let exactness = exactness(&filters, tenancy.is_some_and(|t| !t.secondaries.is_empty()));
        let rule = self.catalog.rule(RuleKind::SuppressCreate);
        let t_type = ResourceType::AutomationRules;
        let id = ws.map(|w| w.resource_id(t_type, &name));
        let mut body = serde_json::Map::new();
        if let Some(id) = &id {
            body.insert("id".into(), json!(id));
        }
        body.insert("name".into(), json!(name));
        body.insert(
            "properties".into(),
            json!({
                "actions": actions,
                "displayName": display,
                "order": order,
                "triggeringLogic": logic,
            }),
        );
        body.insert("type".into(), json!(t_type.arm_type()));
        let blocked = if ws.is_none() {
            Some("the workspace is not known: plan again with --workspace".to_string())
        } else {
            sources.iter().find_map(|s| s.action.blocked.clone())
        };
        let step = Action {
            id: action_id(
                &rule.id,
                &format!("{}|{name}", key.clone().unwrap_or_default()),
            ),
            workspace: ws.map(|w| w.id().to_string()),
            phase: rule.phase(),
            gate: rule.kind.gate(),
            operation: rule.operation(),
            verb: rule.verb(),
            resource_type: Some(t_type),
            resource_id: id,
            name: Some(name),
            kind: None,
            display_name: Some(display.clone()),
            reason: Reason {
                code: rule.id.clone(),
                message: rule.message_with(&[
                    ("rules", rules),
                    ("conditions", describe(&conditions)),
                    ("order", order_text),
                    ("exactness", exactness),
                ]),
            },
            before: None,
            after: Some(Value::Object(body).into()),
            etag: None,
            api_version: Some(self.catalog.api_version(t_type).to_string()),
            source: None,
            evidence: sources
                .iter()
                .flat_map(|s| filter_evidence(&s.action))
                .collect(),
            manual: None,
            desired: vec![
                desired("properties.displayName", json!(display)),
                desired("properties.order", json!(order)),
                desired("properties.triggeringLogic.isEnabled", json!(true)),
                desired(
                    "properties.triggeringLogic.conditions",
                    conditions_of(&logic),
                ),
            ],
            blocked,
            via: None,
        };
        (Some(step), None)
    }

    /// The suppression rule exists already: nothing to do when it still
    /// closes what the filters kept out, else an update (its order kept).
    fn suppression_update(
        &self,
        existing: &Resource,
        rules: &str,
        display: &str,
        logic: &Value,
        actions: &Value,
    ) -> Option<Action> {
        let props = existing.properties();
        let get = |k: &str| props.and_then(|p| p.get(k)).cloned().unwrap_or(Value::Null);
        let now_logic = get("triggeringLogic");
        let same_logic = ["conditions", "isEnabled", "triggersOn", "triggersWhen"]
            .iter()
            .all(|k| now_logic.get(k) == logic.get(k));
        let mut changed = Vec::new();
        if get("displayName") != json!(display) {
            changed.push("its display name");
        }
        if !same_logic {
            changed.push("its trigger or conditions");
        }
        if get("actions") != *actions {
            changed.push("its actions");
        }
        if changed.is_empty() {
            return None;
        }
        let mut a = self.resource_step(
            existing,
            RuleKind::SuppressUpdate,
            &[
                ("rules", rules.to_string()),
                ("changed", changed.join(", ")),
            ],
        );
        a.set("properties.displayName", json!(display));
        a.set("properties.triggeringLogic", logic.clone());
        a.set("properties.actions", actions.clone());
        // What verify compares: the conditions, not the whole object.
        a.desired.retain(|d| d.path == "properties.displayName");
        a.desired
            .push(desired("properties.triggeringLogic.isEnabled", json!(true)));
        a.desired.push(desired(
            "properties.triggeringLogic.conditions",
            conditions_of(logic),
        ));
        Some(a)
    }
}

fn conditions_of(logic: &Value) -> Value {
    logic.get("conditions").cloned().unwrap_or(Value::Null)
}

fn desired(path: &str, value: Value) -> Desired {
    Desired {
        path: path.to_string(),
        value,
    }
}

/// The evidence of a turned-off rule's filters, from its step.
fn filter_evidence(a: &Action) -> Vec<Evidence> {
    a.evidence
        .iter()
        .filter(|e| e.explanation.starts_with(FILTERED_OUT))
        .cloned()
        .collect()
}

/// How the evidence of an incident creation rule's filters begins.
pub(super) const FILTERED_OUT: &str =
    "after the switch Defender XDR creates incidents for the alerts this rule filtered out";

/// What the suppression rule reproduces exactly, and what only approximately.
fn exactness(filters: &[&Filters], tenant_of_several: bool) -> String {
    let severities = filters.iter().any(|f| !f.severities.is_empty());
    let names = filters
        .iter()
        .any(|f| !f.include.is_empty() || !f.exclude.is_empty());
    let mut parts = vec![
        "An automation rule sees the incident, not the alert, and judges it once, when it is created, by the alerts it holds then; an incident that also holds another product's alert is left open".to_string(),
    ];
    if severities {
        parts.push("IncidentSeverity is the incident's (the highest of its alerts): for an incident of one alert it is the alert's, so the severity filter is reproduced exactly; Informational Defender for Cloud alerts are not ingested through Defender XDR at all, so no such incident arrives and none needs closing".into());
    }
    if names {
        parts.push("no automation rule property holds the alert's name, so the name filters are matched against IncidentTitle, which Defender XDR sets (usually the alert's name for an incident of one alert, but correlation may rename it): the name conditions are approximate".into());
    }
    if tenant_of_several {
        parts.push("it also closes matching Defender for Cloud incidents of the tenant's other workspaces' subscriptions, which arrive here too".into());
    }
    format!("{}.", parts.join("; "))
}

// ---- item 2: conditions naming rules turned off, rewritten where safe ------

/// A condition on the rules that made an incident, and whether it can be
/// rewritten.
struct RuleCondition {
    /// JSON pointer (within the conditions list) to its `conditionProperties`.
    at: String,
    name: String,
    /// Why it cannot be rewritten, or None when it can.
    unsafe_because: Option<String>,
}

/// The rule-id conditions of a conditions list, followed through Boolean
/// inner conditions and PropertyArray item conditions; `plain` is false
/// below an Or or inside a PropertyArray, where a rewrite changes meaning.
fn rule_conditions(list: &Value, pointer: &str, plain: bool, out: &mut Vec<RuleCondition>) {
    let Some(items) = list.as_array() else {
        return;
    };
    for (i, c) in items.iter().enumerate() {
        let at = format!("{pointer}/{i}/conditionProperties");
        let Some(props) = c.get("conditionProperties") else {
            continue;
        };
        let text = |k: &str| props.get(k).and_then(Value::as_str).unwrap_or_default();
        if let Some(inner) = props.get("innerConditions") {
            let and = text("operator").eq_ignore_ascii_case("And");
            rule_conditions(inner, &format!("{at}/innerConditions"), plain && and, out);
            continue;
        }
        if let Some(inner) = props.get("itemConditions") {
            rule_conditions(inner, &format!("{at}/itemConditions"), false, out);
        }
        let name = text("propertyName");
        if !matches!(
            name,
            "IncidentRelatedAnalyticRuleIds" | "AlertAnalyticRuleIds"
        ) {
            continue;
        }
        let kind = c
            .get("conditionType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let operator = text("operator");
        let unsafe_because = if !kind.eq_ignore_ascii_case("Property") {
            Some(format!("it is a {kind} condition"))
        } else if !plain {
            Some("it sits under an Or or inside a PropertyArray condition, where the rewrite would change what the whole rule matches".into())
        } else if !(operator.eq_ignore_ascii_case("Equals")
            || operator.eq_ignore_ascii_case("Contains"))
        {
            Some(format!(
                "its operator is {operator}: only Equals and Contains name the incidents to match"
            ))
        } else {
            None
        };
        out.push(RuleCondition {
            at,
            name: name.to_string(),
            unsafe_because,
        });
    }
}

impl Planner<'_> {
    /// `--rewrite-automation`: the update that rewrites an automation rule's
    /// conditions naming only incident creation rules this plan turns off,
    /// which admitted every Defender for Cloud alert, into
    /// `AlertProductNames Contains "Azure Security Center"`; the findings
    /// it settles are taken out of `findings`, and each condition that
    /// cannot be rewritten says why.
    pub(super) fn rewrite(
        &self,
        rule: &Resource,
        disabled: &BTreeMap<String, &Action>,
        findings: &mut Findings,
    ) -> Option<Action> {
        let logic = rule.prop("triggeringLogic")?;
        let list = logic.get("conditions")?;
        let mut found = Vec::new();
        rule_conditions(list, "", true, &mut found);
        let alerts = logic
            .get("triggersOn")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("Alerts"));
        let msic = &self.catalog.rule(RuleKind::MsicDisable).id;
        let mut conditions = list.clone();
        let mut done = Vec::new();
        for c in found {
            let pointer = format!("{}/propertyName", c.at);
            let at = format!("/properties/triggeringLogic/conditions{pointer}");
            let Some(props) = list.pointer(&c.at) else {
                continue;
            };
            let values: Vec<&str> = props
                .get("propertyValues")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let named: Vec<Option<&&Action>> = values
                .iter()
                .map(|v| disabled.get(&v.rsplit('/').next().unwrap_or(v).to_ascii_lowercase()))
                .collect();
            if !named.iter().any(Option::is_some) {
                continue;
            }
            let why = c.unsafe_because.clone().or_else(|| {
                if alerts {
                    Some("the rule is triggered by alerts, and alert-triggered automation fires on Sentinel-created alerts only".into())
                } else if named.iter().any(Option::is_none) {
                    Some("it also names rules this plan keeps, whose incidents a product condition would not tell apart".into())
                } else if named.iter().flatten().any(|a| &a.reason.code != msic) {
                    Some("it names a Scheduled or NRT rule, whose incidents are its own, not Defender XDR's".into())
                } else if named.iter().flatten().any(|a| {
                    !Filters::of(a.before.as_ref().and_then(|b| b.get("properties")).as_ref()).is_empty()
                }) {
                    Some("a rule it names filtered by severity or alert name, so it made fewer incidents than every Defender for Cloud incident".into())
                } else {
                    None
                }
            });
            match why {
                Some(why) => findings.reasons.push(format!(
                    "--rewrite-automation leaves its {} condition ({at}) as it is: {why}",
                    c.name
                )),
                None => {
                    if let Some(slot) = conditions.pointer_mut(&c.at) {
                        *slot = json!({
                            "operator": "Contains",
                            "propertyName": "AlertProductNames",
                            "propertyValues": [DFC_PRODUCT],
                        });
                    }
                    let names: Vec<String> = named
                        .iter()
                        .flatten()
                        .map(|a| {
                            format!(
                                "\"{}\"",
                                a.display_name
                                    .as_deref()
                                    .or(a.name.as_deref())
                                    .unwrap_or_default()
                            )
                        })
                        .collect();
                    done.push((at, c.name, names.join(", ")));
                }
            }
        }
        if done.is_empty() {
            return None;
        }
        let rewritten: Vec<&str> = done.iter().map(|(at, _, _)| at.as_str()).collect();
        let settled = |t: &str| rewritten.iter().any(|at| t.contains(&format!("({at})")));
        findings.reasons.retain(|r| !settled(r));
        findings.evidence.retain(|e| !settled(&e.explanation));
        let text: Vec<String> = done
            .iter()
            .map(|(at, name, rules)| {
                format!(
                    "its {name} condition ({at}) names only {rules}, which this plan turns off and which admitted every Defender for Cloud alert: it becomes AlertProductNames Contains [\"{DFC_PRODUCT}\"], which matches the same incidents once Defender XDR creates them"
                )
            })
            .collect();
        let mut a = self.resource_step(
            rule,
            RuleKind::AutomationRewrite,
            &[(
                "explanation",
                format!("{} (--rewrite-automation)", text.join("; ")),
            )],
        );
        a.set("properties.triggeringLogic.conditions", conditions);
        Some(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_nest_within_the_boolean_limits() {
        let items: Vec<Value> = (0..23)
            .map(|i| property("IncidentTitle", "NotContains", &[&format!("n{i}")]))
            .collect();
        let c = combine("And", items);
        fn check(c: &Value) {
            if let Some(inner) = c["conditionProperties"]["innerConditions"].as_array() {
                assert!((2..=10).contains(&inner.len()), "{c}");
                inner.iter().for_each(check);
            }
        }
        check(&c);
        let hit = Incident {
            title: "n5 here",
            severity: "High",
            products: vec![DFC_PRODUCT],
        };
        let miss = Incident {
            title: "other",
            ..hit.clone()
        };
        assert_eq!(matches(std::slice::from_ref(&c), &hit), Some(false));
        assert_eq!(matches(std::slice::from_ref(&c), &miss), Some(true));
    }

    #[test]
    fn an_empty_name_is_refused_and_no_filter_keeps_nothing_out() {
        let f = Filters {
            exclude: vec![" ".into()],
            ..Filters::default()
        };
        assert!(conditions(&[&f], &[]).is_err());
        assert_eq!(conditions(&[&Filters::default()], &[]), Ok(None));
        let all = Filters {
            severities: SEVERITIES.iter().map(|s| s.to_string()).collect(),
            ..Filters::default()
        };
        assert_eq!(conditions(&[&all], &[]), Ok(None));
    }
}
