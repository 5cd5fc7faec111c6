//! JSON exports: `az rest` lists, bare arrays, single resources, portal ARM
//! templates with their parameters files, and flat automation rules.

use super::json::{Doc, Node};
use super::template::{self, Parameter, Scope};
use super::{Content, ReadOptions};
use crate::error::Diagnostic;
use crate::model::{
    Format, Origin, RULE_KEYS, Resource, ResourceType, Segment, Skipped, TemplateValue, TextSpan,
    Workspace,
};
use crate::par::Budget;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A deployment parameters file: each parameter's value and where it is.
pub struct ParametersFile {
    pub values: BTreeMap<String, Given>,
}

/// What a parameters file gives for one parameter.
pub enum Given {
    /// A value, where it sits, and where each string in it is written (by
    /// JSON pointer inside the value, `""` for a string value itself).
    Value(Value, Origin, BTreeMap<String, (Origin, TextSpan)>),
    /// A Key Vault reference (`"reference": {"keyVault": ...}`): the value is
    /// read at deployment, unknown here.
    Reference(Origin),
}

/// Reads a file as a parameters file, if it is one.
pub fn parameters_file(path: &str, text: &str) -> Option<ParametersFile> {
    // Only deployment files carry these words: exports are not parsed twice.
    if super::first_significant_char(text) != Some('{')
        || !(text.contains("deploymentParameters") || text.contains("contentVersion"))
    {
        return None;
    }
    let doc = Doc::parse(path, text).ok()?;
    let read = parameters_doc(&doc);
    if !doc.fell_short() {
        return read;
    }
    parameters_doc(&Doc::parse_exact(path, text).ok()?)
}

fn parameters_doc(doc: &Doc) -> Option<ParametersFile> {
    let path = doc.path;
    let root = doc.root();
    if !is_parameters(&root) {
        return None;
    }
    let mut values = BTreeMap::new();
    let params = root.get("parameters")?;
    let origin = |n: &Node| {
        let (line, column) = n.line_col();
        Origin {
            path: path.to_string(),
            line,
            column,
        }
    };
    for key in params.keys() {
        let Some(p) = params.get(key) else { continue };
        if let Some(v) = p.get("value") {
            values.insert(
                key.to_string(),
                Given::Value(v.to_value(), origin(&v), {
                    let mut leaves = BTreeMap::new();
                    string_leaves(&v, String::new(), &mut leaves);
                    leaves
                }),
            );
        } else if let Some(r) = p.get("reference") {
            values.insert(key.to_string(), Given::Reference(origin(&r)));
        }
    }
    Some(ParametersFile { values })
}

/// Where each string in a value is written, by JSON pointer.
fn string_leaves(node: &Node, pointer: String, out: &mut BTreeMap<String, (Origin, TextSpan)>) {
    if let Some(span) = node.text_span() {
        let (line, column) = node.line_col();
        let origin = Origin {
            path: node.doc().path.to_string(),
            line,
            column,
        };
        out.insert(pointer, (origin, span));
    } else if let Some(items) = node.elements() {
        for (i, item) in items.iter().enumerate() {
            string_leaves(item, format!("{pointer}/{i}"), out);
        }
    } else if node.is_object() {
        for key in node.keys() {
            if let Some(v) = node.get(key) {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                string_leaves(&v, format!("{pointer}/{escaped}"), out);
            }
        }
    }
}

fn schema(root: &Node) -> String {
    root.get("$schema")
        .and_then(|s| s.as_str())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn is_parameters(root: &Node) -> bool {
    let s = schema(root);
    s.contains("deploymentparameters")
        || (root.get("parameters").is_some()
            && root.get("contentVersion").is_some()
            && root.get("resources").is_none()
            && !s.contains("deploymenttemplate"))
}

fn is_template(root: &Node) -> bool {
    root.get("resources").is_some()
        && (schema(root).contains("deploymenttemplate") || root.get("contentVersion").is_some())
}

/// Reads a JSON export.
///
/// Only a file that is recognisably Sentinel content (see
/// `docs/inputs.md`) and malformed is an error; any other JSON is skipped
/// with the reason.
pub fn read(
    path: &str,
    text: &str,
    params: Option<&ParametersFile>,
    options: &ReadOptions,
    budget: &Budget,
    keep: super::Keeper,
) -> Result<Content, Vec<Diagnostic>> {
    let doc = match Doc::parse(path, text) {
        Ok(doc) => doc,
        Err(invalid) => return not_json(text, *invalid),
    };
    let content = read_doc(&doc, params, options, budget, keep);
    if !doc.fell_short() {
        return content;
    }
    // The fast path met a value it could not build: the exact path decides.
    match Doc::parse_exact(path, text) {
        Ok(doc) => read_doc(&doc, params, options, budget, keep),
        Err(invalid) => not_json(text, *invalid),
    }
}

/// A text that is not JSON: an error if what comes before the error names
/// Sentinel content, else skipped.
fn not_json(text: &str, invalid: super::json::Invalid) -> Result<Content, Vec<Diagnostic>> {
    let prefix = text.get(..invalid.valid_up_to).unwrap_or(text);
    if names_sentinel(prefix) {
        return Err(vec![invalid.diagnostic]);
    }
    let d = &invalid.diagnostic;
    let at = match (d.line, d.column) {
        (Some(l), Some(c)) => format!(" at {l}:{c}"),
        _ => String::new(),
    };
    Ok(Content::Skip(format!(
        "neither JSON nor Sentinel YAML ({}{at}), and nothing before that names a Sentinel resource",
        d.message
    )))
}

fn read_doc(
    doc: &Doc,
    params: Option<&ParametersFile>,
    options: &ReadOptions,
    budget: &Budget,
    keep: super::Keeper,
) -> Result<Content, Vec<Diagnostic>> {
    let path = doc.path;
    let root = doc.root();
    let (format, items) = if let Some(items) = root.elements() {
        if !items.is_empty() && !items.iter().any(|i| sentinel_type(i).is_some()) {
            return Ok(Content::Skip(format!(
                "a JSON array of {} with no Sentinel resource among them",
                count(items.len(), "item")
            )));
        }
        (Format::JsonArray, items)
    } else if let Some(value) = root.get("value").filter(|_| !looks_like_resource(&root)) {
        match value.elements() {
            Some(items) => {
                if !items.is_empty()
                    && root.get("nextLink").is_none()
                    && !items.iter().any(|i| sentinel_type(i).is_some())
                {
                    return Ok(Content::Skip(format!(
                        "a `value` list of {} with no Sentinel resource among them",
                        count(items.len(), "item")
                    )));
                }
                (Format::ArmList, items)
            }
            None if sentinel_type(&value).is_some() || root.get("nextLink").is_some() => {
                return Err(vec![value.type_error(
                    "`value`",
                    "an array of resources, as `az rest` prints a list",
                )]);
            }
            None => return Ok(Content::Skip(skip_reason(&root))),
        }
    } else if is_template(&root) {
        if let Some(reason) = content_package(&root) {
            return Ok(Content::Skip(reason));
        }
        if let Some(reason) = not_a_sentinel_template(&root) {
            return Ok(Content::Skip(reason));
        }
        return read_template(&root, params, options)
            .map(|(r, s)| Content::Resources(Format::ArmTemplate, r, s));
    } else if is_parameters(&root) {
        return Ok(Content::Parameters);
    } else if let Some(record) = subscription(path, &root)? {
        return Ok(Content::Subscription(record));
    } else if looks_like_resource(&root) {
        if sentinel_type(&root).is_none() {
            return Ok(Content::Skip(NOT_SENTINEL.into()));
        }
        (Format::JsonResource, vec![root])
    } else if root.get("triggeringLogic").is_some() && root.get("actions").is_some() {
        return flat_automation_rule(&root, options)
            .map(|r| Content::Resources(Format::FlatAutomationRule, vec![r], Vec::new()))
            .map_err(|d| vec![d]);
    } else {
        return Ok(Content::Skip(skip_reason(&root)));
    };

    // The items of a large list are built in chunks, on the threads the
    // run has idle; the chunks' results are merged in the order of the items.
    let built = if items.len() >= SPLIT_ITEMS && budget.limit() > 1 {
        budget.map_chunks(items.len(), CHUNK_ITEMS, |range| {
            list_items(&items[range], format, options, keep)
        })
    } else {
        vec![list_items(&items, format, options, keep)]
    };
    let more: usize = built.iter().skip(1).map(|b| b.resources.len()).sum();
    let mut built = built.into_iter();
    let mut all = built.next().unwrap_or_default();
    all.resources.reserve_exact(more);
    for mut b in built {
        all.resources.append(&mut b.resources);
        all.skipped.append(&mut b.skipped);
        all.diagnostics.append(&mut b.diagnostics);
    }
    if all.diagnostics.is_empty() {
        Ok(Content::Resources(format, all.resources, all.skipped))
    } else {
        Err(all.diagnostics)
    }
}

/// Lists of at least this many items are built in chunks, on several
/// threads when the run has idle ones. Below it the gain is lost in the
/// noise: a list of 1,000 rules of `benches/plan.rs` read alone took
/// 50 ms to 70 ms on two threads and 55 ms to 70 ms on one.
const SPLIT_ITEMS: usize = 1024;
/// Items in a chunk: about 1.5 ms of work for analytics rules, against
/// some 50 µs to start a thread.
const CHUNK_ITEMS: usize = 128;

/// What the items of a list (or a chunk of it) are, in their order.
#[derive(Default)]
struct Built {
    resources: Vec<Resource>,
    skipped: Vec<Skipped>,
    diagnostics: Vec<Diagnostic>,
}

/// The resources of `items` (the plan told of each pruned one:
/// [`crate::model::Keep`]).
fn list_items(items: &[Node], format: Format, options: &ReadOptions, keep: super::Keeper) -> Built {
    let mut out = Built {
        resources: Vec::with_capacity(items.len()),
        ..Built::default()
    };
    for item in items {
        if !item.is_object() {
            out.diagnostics.push(item.type_error(
                "an item of the list",
                "a resource object with `name`, `kind` and `properties`",
            ));
            continue;
        }
        match rest_resource(item, format, options, keep) {
            Ok(Some(r)) => out.resources.push(r),
            Ok(None) => {
                let (line, column) = item.line_col();
                out.skipped.push(Skipped {
                    path: format!("{}:{line}:{column}", item.doc().path),
                    reason: NOT_SENTINEL.into(),
                });
            }
            Err(mut ds) => out.diagnostics.append(&mut ds),
        }
    }
    out
}

const NOT_SENTINEL: &str = "not a data connector, analytics rule or automation rule (no Sentinel `type`, `id` or known `kind`)";

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Words that only Sentinel exports and templates hold (lower case).
const SENTINEL_WORDS: [&str; 8] = [
    "microsoft.securityinsights",
    "/providers/alertrules",
    "/providers/dataconnectors",
    "/providers/automationrules",
    "\"triggeringlogic\"",
    "\"productfilter\"",
    "\"queryfrequency\"",
    "\"incidentconfiguration\"",
];

/// Whether the readable start of a text that is not valid JSON names
/// Sentinel content: an `az rest` list (`{"value": [`), a Sentinel id or
/// type, a property only Sentinel resources have, or a Sentinel `kind`. A
/// README that starts with `[![` has `[` as its readable start: nothing.
fn names_sentinel(prefix: &str) -> bool {
    let lower = prefix.to_ascii_lowercase();
    if SENTINEL_WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    let rest = super::skip_insignificant(prefix);
    let list = rest
        .strip_prefix('{')
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix("\"value\""))
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix(':'))
        .is_some_and(|r| r.trim_start().starts_with('['));
    list || string_values(&lower, "\"kind\"").any(|k| {
        RULE_KINDS
            .iter()
            .chain(&CONNECTOR_KINDS)
            .any(|known| known.eq_ignore_ascii_case(k))
    })
}

/// The string values written after `"key":` in a JSON text.
fn string_values<'a>(text: &'a str, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    text.match_indices(key).filter_map(move |(at, _)| {
        let rest = text[at + key.len()..].trim_start().strip_prefix(':')?;
        let rest = rest.trim_start().strip_prefix('"')?;
        rest.split_once('"').map(|(v, _)| v)
    })
}

/// The Sentinel kinds of the data connectors the migration is about.
const CONNECTOR_KINDS: [&str; 2] = ["AzureSecurityCenter", "MicrosoftThreatProtection"];

/// A Content Hub package: a solution's `mainTemplate.json`, whose
/// resources are content templates (`contentTemplates`, `contentPackages`,
/// or `templateSpecs` in older packages), not live rules.
fn content_package(root: &Node) -> Option<String> {
    let items = root.get("resources")?.elements()?;
    let is_package = items.iter().any(|i| {
        i.get("type").and_then(|t| t.as_str()).is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            t.ends_with("/contenttemplates")
                || t.ends_with("/contentpackages")
                || t.starts_with("microsoft.resources/templatespecs")
        })
    });
    if !is_package {
        return None;
    }
    let mut rules = 0;
    count_rule_templates(&root.to_value(), &mut rules);
    Some(format!(
        "a Content Hub package (content templates of a solution) holding {}: templates are not live rules; export the workspace to plan the rules it runs",
        count(rules, "analytics rule template")
    ))
}

/// Counts the nested resources of type `AlertRuleTemplates` or `alertRules`.
fn count_rule_templates(value: &Value, n: &mut usize) {
    match value {
        Value::Object(map) => {
            if let Some(t) = map.get("type").and_then(Value::as_str) {
                let last = t.rsplit('/').next().unwrap_or(t);
                if last.eq_ignore_ascii_case("alertRuleTemplates")
                    || last.eq_ignore_ascii_case("alertRules")
                {
                    *n += 1;
                }
            }
            map.values().for_each(|v| count_rule_templates(v, n));
        }
        Value::Array(items) => items.iter().for_each(|v| count_rule_templates(v, n)),
        _ => {}
    }
}

/// Why a template is skipped: none of its resources is a Sentinel one.
fn not_a_sentinel_template(root: &Node) -> Option<String> {
    let items = root.get("resources").and_then(|r| r.elements());
    let Some(items) = items else {
        return Some("an ARM template without a list of `resources`".into());
    };
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    for item in &items {
        match item.get("type").and_then(|t| t.as_str()) {
            Some(t) if sentinel_arm_type(t).is_some() => return None,
            Some(t) => *types.entry(t.to_string()).or_default() += 1,
            None => *types.entry("(no type)".into()).or_default() += 1,
        }
    }
    if types.is_empty() {
        return Some("an ARM template with no resources".into());
    }
    let mut listed: Vec<String> = types
        .iter()
        .take(3)
        .map(|(t, n)| format!("{n} {t}"))
        .collect();
    if types.len() > 3 {
        listed.push(format!("{} more types", types.len() - 3));
    }
    Some(format!(
        "an ARM template with no Sentinel resources ({})",
        listed.join(", ")
    ))
}

/// The Sentinel resource type of an ARM `type`: of Sentinel's own provider
/// (`Microsoft.SecurityInsights/alertRules`), the workspace extension form
/// templates use, or a bare collection name; `Microsoft.Insights/alertRules`
/// (classic Azure Monitor alerts) is not one.
fn sentinel_arm_type(text: &str) -> Option<ResourceType> {
    let t = ResourceType::from_type(text)?;
    let lower = text.to_ascii_lowercase();
    let own = !lower.contains('/')
        || lower.starts_with("microsoft.securityinsights/")
        || lower.starts_with("microsoft.operationalinsights/workspaces/providers/");
    own.then_some(t)
}

/// The Sentinel resource type of a JSON object, from its `type`, `id`,
/// `kind` or properties, reading only values of the right JSON type: what
/// decides whether a malformed object is a Sentinel resource (an error) or
/// something else (skipped).
fn sentinel_type(node: &Node) -> Option<ResourceType> {
    if !node.is_object() {
        return None;
    }
    let text = |k: &str| node.get(k).and_then(|v| v.as_str());
    let properties = node.get("properties").filter(|p| p.is_object());
    text("type")
        .and_then(sentinel_arm_type)
        .or_else(|| text("id").and_then(type_from_id))
        .or_else(|| {
            let k = text("kind")?;
            if RULE_KINDS.iter().any(|r| r.eq_ignore_ascii_case(k)) {
                Some(ResourceType::AlertRules)
            } else if properties.is_some_and(|p| {
                p.get("dataTypes").is_some() || p.get("connectorUiConfig").is_some()
            }) {
                Some(ResourceType::DataConnectors)
            } else {
                None
            }
        })
        .or_else(|| {
            properties
                .filter(|p| p.get("triggeringLogic").is_some())
                .map(|_| ResourceType::AutomationRules)
        })
}

/// A subscription as ARM answers `GET /subscriptions/{id}` (what `export`
/// writes as `subscription.json`): `id` `/subscriptions/{subscriptionId}`
/// and a `tenantId`, which must be a GUID.
fn subscription(
    path: &str,
    root: &Node,
) -> Result<Option<crate::model::SubscriptionRecord>, Vec<Diagnostic>> {
    let text = |k: &str| root.get(k).and_then(|v| v.as_str().map(str::to_string));
    let (Some(id), Some(sub)) = (text("id"), text("subscriptionId")) else {
        return Ok(None);
    };
    if !id
        .trim_end_matches('/')
        .eq_ignore_ascii_case(&format!("/subscriptions/{sub}"))
    {
        return Ok(None);
    }
    let Some(tenant) = root.get("tenantId") else {
        return Ok(None);
    };
    let (line, column) = tenant.line_col();
    match tenant.as_str() {
        Some(t) if crate::plan::is_guid(t) => Ok(Some(crate::model::SubscriptionRecord {
            subscription_id: sub,
            tenant_id: t.to_ascii_lowercase(),
            origin: Origin {
                path: path.to_string(),
                line,
                column,
            },
        })),
        _ => Err(vec![tenant.type_error(
            "`tenantId` of the subscription",
            "a tenant id (a GUID), as `GET /subscriptions/{id}` answers",
        )]),
    }
}

fn skip_reason(root: &Node) -> String {
    if root.get("connectivityCriterias").is_some() || root.get("connectorUiConfig").is_some() {
        "a data connector UI definition (Content hub), not a connector".into()
    } else if root
        .get("version")
        .and_then(|v| v.as_str())
        .is_some_and(|v| v.starts_with("Notebook"))
    {
        "a workbook".into()
    } else if root.get("responses").is_some() && root.get("parameters").is_some() {
        "an API example file (request and responses), not an export".into()
    } else {
        "JSON with no Sentinel resources in it (expected an `az rest` list, a resource, an ARM template with Sentinel resources, or Sentinel YAML)".into()
    }
}

/// Analytics rule kinds of the Sentinel API (stable and preview).
pub const RULE_KINDS: [&str; 6] = [
    "Scheduled",
    "NRT",
    "MicrosoftSecurityIncidentCreation",
    "Fusion",
    "MLBehaviorAnalytics",
    "ThreatIntelligence",
];

fn looks_like_resource(node: &Node) -> bool {
    let sentinel_id = node.get("id").and_then(|i| i.as_str()).is_some_and(|i| {
        i.to_ascii_lowercase()
            .contains("/providers/microsoft.securityinsights/")
    });
    let sentinel_type = node
        .get("type")
        .and_then(|t| t.as_str())
        .is_some_and(|t| ResourceType::from_type(t).is_some());
    (node.get("properties").is_some()
        && (node.get("kind").is_some() || sentinel_id || sentinel_type))
        || (sentinel_id && node.get("name").is_some())
}

/// The collection segment before the name in a Sentinel resource id.
fn type_from_id(id: &str) -> Option<ResourceType> {
    let lower = id.to_ascii_lowercase();
    let at = lower.find("/providers/microsoft.securityinsights/")?;
    let rest = &id[at + "/providers/microsoft.securityinsights/".len()..];
    ResourceType::from_type(rest.split('/').next()?)
}

fn string_field(node: &Node, key: &str) -> Result<Option<String>, Diagnostic> {
    match node.get(key) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => match v.as_str() {
            Some(s) => Ok(Some(s.to_string())),
            None => Err(v.type_error(&format!("`{key}`"), "a string")),
        },
    }
}

/// One resource of an `az rest` list, a JSON array or a single GET body.
/// A pruned analytics rule is kept as the plan, told of it, says
/// ([`crate::model::Keep`]).
fn rest_resource(
    node: &Node,
    format: Format,
    options: &ReadOptions,
    keep: super::Keeper,
) -> Result<Option<Resource>, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let mut field = |key: &str| match string_field(node, key) {
        Ok(v) => v,
        Err(d) => {
            diagnostics.push(d);
            None
        }
    };
    // Whether it is a Sentinel resource at all decides whether a wrong type
    // below is an error or the item is skipped.
    let Some(resource_type) = sentinel_type(node) else {
        return Ok(None);
    };
    let id = field("id");
    let name = field("name");
    let _type = field("type");
    let kind = field("kind");
    let etag = field("etag");
    if let Some(p) = node.get("properties")
        && !p.is_object()
        && !p.is_null()
    {
        diagnostics.push(p.type_error("`properties`", "an object"));
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let properties = node.get("properties");
    let name = match name.or_else(|| {
        id.as_deref()
            .and_then(|i| i.rsplit('/').next())
            .map(str::to_string)
    }) {
        Some(n) if !n.is_empty() => n,
        _ => {
            return Err(vec![
                node.error(format!("a {} resource without a name", resource_type))
                    .expected("`name`, or an `id` ending in the name"),
            ]);
        }
    };
    let workspace = id
        .as_deref()
        .and_then(Workspace::from_resource_id)
        .or_else(|| options.workspace.clone());
    if let Some(p) = properties {
        check_properties(resource_type, &p, false)?;
    }
    // An analytics rule (the bulk of every fleet) keeps as values only
    // what the planner reads, and its whole body as compact text.
    let pruned = (resource_type == ResourceType::AlertRules && !options.full_bodies)
        .then(|| pruned_body(node))
        .flatten();
    let mut added = Vec::new();
    let has = |key: &str| node.get(key).is_some();
    if !has("name") {
        added.push(("name", Value::String(name.clone())));
    }
    if !has("type") {
        added.push(("type", Value::String(resource_type.arm_type().into())));
    }
    if let Some(ws) = workspace.as_ref().filter(|_| id.is_none()) {
        added.push(("id", Value::String(ws.resource_id(resource_type, &name))));
    }
    let (body, pruned) = match pruned {
        Some((mut id_value, props, create)) => {
            if let Some((_, value)) = added.iter().find(|(key, _)| *key == "id") {
                id_value = Some(value.clone());
            }
            // The text comes once the plan has said what it keeps.
            let kept = crate::model::Pruned::new(id_value, props, create, None);
            (Value::Null, Some(Box::new(kept)))
        }
        None => {
            let mut body = node.to_value();
            if let Value::Object(map) = &mut body {
                for (key, value) in std::mem::take(&mut added) {
                    map.insert(key.into(), value);
                }
            }
            (body, None)
        }
    };
    let (line, column) = node.line_col();
    let mut resource = Resource {
        resource_type,
        name,
        kind,
        workspace,
        etag,
        body,
        pruned,
        origin: Origin {
            path: node.doc().path.to_string(),
            line,
            column,
        },
        format,
        template_values: Vec::new(),
        condition: None,
        places: places(properties.as_ref()),
        query_span: properties
            .and_then(|p| p.get("query"))
            .and_then(|q| q.value_span()),
    };
    if !options.full_bodies {
        // Read on the exact path: pruned once built.
        resource.prune();
    }
    if resource.is_pruned() {
        let k = keep(&resource);
        // Its whole text (built only when kept: else only hashed), with
        // the members added last: the last of a name is the one read.
        resource.keep_from(k, |emit| body_runs(node, &added, emit));
    }
    Ok(Some(resource))
}

/// The compact text of a rule's body, in runs, with `added` members last.
fn body_runs(node: &Node, added: &[(&str, Value)], emit: &mut dyn FnMut(&[u8])) {
    // The last run is held back: its closing brace goes after `added`.
    let mut held: Option<&[u8]> = None;
    let mut len = 0;
    let whole = node.compact_runs(|run| {
        if let Some(h) = held.replace(run) {
            emit(h);
        }
        len += run.len();
    });
    let Some(last) = held.filter(|_| whole.is_some()) else {
        return;
    };
    emit(&last[..last.len() - 1]);
    len -= 1;
    for (key, value) in added {
        let member = format!(
            "{}{}:{}",
            if len > 1 { "," } else { "" },
            Value::from(*key),
            value
        );
        len += member.len();
        emit(member.as_bytes());
    }
    emit(b"}");
}

/// The parts of a pruned analytics rule (its `id`, the [`RULE_KEYS`] of
/// `properties` it has, `incidentConfiguration.createIncident`), built
/// from the text of those alone on the fast path (its whole body's
/// text comes later: [`body_runs`]). None on the exact path, and when no
/// property would be left out.
type PrunedParts = (Option<Value>, Vec<(&'static str, Value)>, Option<Value>);

fn pruned_body(node: &Node) -> Option<PrunedParts> {
    if !node.is_fast_object() {
        return None;
    }
    let properties = node.get("properties")?;
    if !properties.keys().iter().any(|k| !RULE_KEYS.contains(k)) {
        return None;
    }
    let kept = RULE_KEYS
        .iter()
        .filter_map(|&k| properties.get(k).map(|v| (k, v.to_value())))
        .collect();
    let create = properties
        .get("incidentConfiguration")
        .filter(Node::is_object)
        .and_then(|c| c.get("createIncident"))
        .map(|c| c.to_value());
    Some((node.get("id").map(|id| id.to_value()), kept, create))
}

/// Properties whose place in the file evidence points at.
pub const PLACED: [&str; 5] = [
    "productFilter",
    "enabled",
    "severitiesFilter",
    "displayNamesFilter",
    "displayNamesExcludeFilter",
];

fn places(props: Option<&Node>) -> crate::model::Places {
    let mut out = crate::model::Places::default();
    if let Some(p) = props {
        for key in PLACED {
            if let Some(v) = p.get(key) {
                let (line, column) = v.line_col();
                out.insert(
                    key.to_string(),
                    Origin {
                        path: v.doc().path.to_string(),
                        line,
                        column,
                    },
                );
            }
        }
        // Automation rule conditions, by JSON pointer to what each tests.
        if let Some(c) = p.get("triggeringLogic").and_then(|l| l.get("conditions")) {
            condition_places(&c, "/properties/triggeringLogic/conditions", &mut out);
        }
        if let Some(actions) = p.get("actions").and_then(|a| a.elements()) {
            for (i, a) in actions.iter().enumerate() {
                let config = a.get("actionConfiguration");
                for key in ["logicAppResourceId", "status", "severity", "owner"] {
                    if let Some(v) = config.as_ref().and_then(|c| c.get(key)) {
                        let at = format!("/properties/actions/{i}/actionConfiguration/{key}");
                        out.insert(at, origin(&v));
                    }
                }
            }
        }
    }
    out.shrink_to_fit();
    out
}

fn origin(v: &Node) -> Origin {
    let (line, column) = v.line_col();
    Origin {
        path: v.doc().path.to_string(),
        line,
        column,
    }
}

/// Places of automation rule conditions (through `Boolean` inner
/// conditions and `PropertyArray` item conditions), keyed by the JSON
/// pointer of the `propertyName` or `arrayType` each tests.
fn condition_places(list: &Node, pointer: &str, out: &mut crate::model::Places) {
    for (i, c) in list.elements().unwrap_or_default().iter().enumerate() {
        let Some(props) = c.get("conditionProperties") else {
            continue;
        };
        let at = format!("{pointer}/{i}/conditionProperties");
        for key in ["propertyName", "arrayType"] {
            if let Some(v) = props.get(key) {
                out.insert(format!("{at}/{key}"), origin(&v));
            }
        }
        for key in ["innerConditions", "itemConditions"] {
            if let Some(inner) = props.get(key) {
                condition_places(&inner, &format!("{at}/{key}"), out);
            }
        }
    }
}

/// Type checks of the properties the planner reads. In a template a value may
/// be an expression string instead.
fn check_properties(
    resource_type: ResourceType,
    props: &Node,
    template: bool,
) -> Result<(), Vec<Diagnostic>> {
    let expect = |key: &str, what: &str, ok: fn(&Node) -> bool| -> Option<Diagnostic> {
        let v = props.get(key)?;
        let expression = template && v.as_str().is_some_and(template::is_expression);
        if v.is_null() || expression || ok(&v) {
            None
        } else {
            Some(v.type_error(&format!("`properties.{key}`"), what))
        }
    };
    let is_str = |n: &Node| n.as_str().is_some();
    let is_bool = |n: &Node| n.as_bool().is_some();
    let is_obj = |n: &Node| n.is_object();
    let is_arr = |n: &Node| n.is_array();
    // Most resources have nothing wrong: nothing is allocated for them.
    let mut found: Vec<Diagnostic> = Vec::new();
    let mut found_push = |d: Option<Diagnostic>| found.extend(d);
    found_push(expect("displayName", "a string", is_str));
    match resource_type {
        ResourceType::AlertRules => {
            found_push(expect("enabled", "true or false", is_bool));
            found_push(expect("productFilter", "a product name string", is_str));
            found_push(expect("query", "a KQL query string", is_str));
            found_push(expect("severitiesFilter", "an array of severities", is_arr));
            found_push(expect(
                "displayNamesFilter",
                "an array of alert names",
                is_arr,
            ));
            found_push(expect(
                "displayNamesExcludeFilter",
                "an array of alert names",
                is_arr,
            ));
            found_push(expect("incidentConfiguration", "an object", is_obj));
            if let Some(ic) = props.get("incidentConfiguration")
                && let Some(ci) = ic.get("createIncident")
                && !ci.is_null()
                && ci.as_bool().is_none()
                && !(template && ci.as_str().is_some_and(template::is_expression))
            {
                found_push(Some(ci.type_error(
                    "`properties.incidentConfiguration.createIncident`",
                    "true or false",
                )));
            }
        }
        ResourceType::DataConnectors => {
            found_push(expect("dataTypes", "an object", is_obj));
            found_push(expect("tenantId", "a tenant id string", is_str));
            found_push(expect("subscriptionId", "a subscription id string", is_str));
        }
        ResourceType::AutomationRules => {
            found_push(expect("triggeringLogic", "an object", is_obj));
            found_push(expect("actions", "an array of actions", is_arr));
        }
        ResourceType::ContentPackages => {
            found_push(expect("contentId", "a package id string", is_str));
            found_push(expect("version", "a version string", is_str));
            found_push(expect(
                "contentKind",
                "a string (Solution, Standalone)",
                is_str,
            ));
        }
    }
    if found.is_empty() { Ok(()) } else { Err(found) }
}

/// An automation rule written flat: its properties at the top level.
fn flat_automation_rule(node: &Node, options: &ReadOptions) -> Result<Resource, Diagnostic> {
    let name = match node.get("automationRuleId").or_else(|| node.get("name")) {
        Some(n) => n
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| n.type_error("`automationRuleId`", "a string (the rule's GUID)"))?,
        None => {
            return Err(node
                .error("an automation rule without `automationRuleId`")
                .expected("`automationRuleId`: the rule's name (a GUID)"));
        }
    };
    check_properties(ResourceType::AutomationRules, node, false).map_err(|mut ds| ds.remove(0))?;
    let mut properties = match node.to_value() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    properties.remove("automationRuleId");
    properties.remove("name");
    let workspace = options.workspace.clone();
    let mut body = Map::new();
    if let Some(ws) = &workspace {
        body.insert(
            "id".into(),
            Value::String(ws.resource_id(ResourceType::AutomationRules, &name)),
        );
    }
    body.insert("name".into(), Value::String(name.clone()));
    body.insert(
        "type".into(),
        ResourceType::AutomationRules.arm_type().into(),
    );
    body.insert("properties".into(), Value::Object(properties));
    let (line, column) = node.line_col();
    Ok(Resource {
        resource_type: ResourceType::AutomationRules,
        name,
        kind: None,
        workspace,
        etag: None,
        body: Value::Object(body),
        pruned: None,
        origin: Origin {
            path: node.doc().path.to_string(),
            line,
            column,
        },
        format: Format::FlatAutomationRule,
        template_values: Vec::new(),
        condition: None,
        query_span: None,
        places: Default::default(),
    })
}

fn read_template(
    root: &Node,
    params: Option<&ParametersFile>,
    options: &ReadOptions,
) -> Result<(Vec<Resource>, Vec<Skipped>), Vec<Diagnostic>> {
    let path = root.doc().path;
    let mut scope = Scope::default();
    if let Some(ps) = root.get("parameters") {
        for key in ps.keys() {
            let default = ps
                .get(key)
                .and_then(|p| p.get("defaultValue"))
                .map(|d| d.to_value());
            let given = params.and_then(|p| p.values.get(key));
            scope.parameters.insert(
                key.to_string(),
                match given {
                    Some(Given::Value(v, origin, leaves)) => Parameter {
                        value: Some(v.clone()),
                        pinned_by: Some(origin.clone()),
                        leaves: leaves.clone(),
                        reference: None,
                    },
                    // The reference, not the default, is what gets deployed.
                    Some(Given::Reference(at)) => Parameter {
                        reference: Some(at.clone()),
                        ..Parameter::default()
                    },
                    None => Parameter {
                        value: default,
                        ..Parameter::default()
                    },
                },
            );
        }
    }
    if let Some(vs) = root.get("variables") {
        for key in vs.keys() {
            if let Some(v) = vs.get(key) {
                scope.variables.insert(key.to_string(), v.to_value());
            }
        }
    }
    let Some(items) = root.get("resources").and_then(|r| r.elements()) else {
        return Err(vec![
            root.get("resources")
                .map(|r| r.type_error("`resources`", "an array of template resources"))
                .unwrap_or_else(|| root.error("no `resources`")),
        ]);
    };

    let mut resources = Vec::new();
    let mut others: BTreeMap<String, usize> = BTreeMap::new();
    let mut diagnostics = Vec::new();
    for item in items {
        if !item.is_object() {
            diagnostics
                .push(item.type_error("an item of `resources`", "a template resource object"));
            continue;
        }
        let type_text = match string_field(&item, "type") {
            Ok(Some(t)) => t,
            Ok(None) => {
                diagnostics.push(item.error("a template resource without `type`").expected(
                    "`type`, e.g. Microsoft.OperationalInsights/workspaces/providers/alertRules",
                ));
                continue;
            }
            Err(d) => {
                diagnostics.push(d);
                continue;
            }
        };
        let Some(resource_type) = ResourceType::from_type(&type_text) else {
            *others.entry(type_text).or_default() += 1;
            continue;
        };
        match template_resource(&item, resource_type, &scope, options) {
            Ok(r) => resources.push(r),
            Err(mut ds) => diagnostics.append(&mut ds),
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let skipped = others
        .into_iter()
        .map(|(t, n)| Skipped {
            path: path.to_string(),
            reason: format!(
                "{n} template resource{} of type {t}: not part of the migration",
                if n == 1 { "" } else { "s" }
            ),
        })
        .collect();
    Ok((resources, skipped))
}

fn template_resource(
    item: &Node,
    resource_type: ResourceType,
    scope: &Scope,
    options: &ReadOptions,
) -> Result<Resource, Vec<Diagnostic>> {
    let name_node = item.get("name").ok_or_else(|| {
        vec![item.error("a template resource without `name`").expected(
            "`name`, e.g. [concat(parameters('workspace'),'/Microsoft.SecurityInsights/<guid>')]",
        )]
    })?;
    let name_text = name_node
        .as_str()
        .ok_or_else(|| vec![name_node.type_error("`name`", "a string or an ARM expression")])?;
    let name = if template::is_expression(name_text) {
        let ev = template::evaluate(name_text, scope);
        template::last_segment(&ev.pieces).unwrap_or_else(|unknown| unknown)
    } else {
        let literal = template::unescape_literal(name_text);
        literal.rsplit('/').next().unwrap_or(&literal).to_string()
    };
    let mut template_values = Vec::new();
    let kind = match item.get("kind") {
        Some(k) if k.as_str().is_some_and(template::is_expression) => {
            match resolve(&k, "/kind", scope, &mut template_values) {
                Value::String(s) => Some(s),
                _ => return Err(vec![k.type_error("`kind`", "a string")]),
            }
        }
        _ => string_field(item, "kind").map_err(|d| vec![d])?,
    };
    let condition = string_field(item, "condition").map_err(|d| vec![d])?;
    let props_node = item.get("properties");
    if let Some(p) = &props_node {
        if !p.is_object() {
            return Err(vec![p.type_error("`properties`", "an object")]);
        }
        check_properties(resource_type, p, true)?;
    }
    let properties = props_node
        .as_ref()
        .map(|p| resolve(p, "/properties", scope, &mut template_values))
        .unwrap_or_else(|| Value::Object(Map::new()));
    // A value a parameters file gives sits there, not in the template.
    let mut places = places(props_node.as_ref());
    for (key, place) in places.iter_mut() {
        let pointer = if key.starts_with('/') {
            key.clone()
        } else {
            format!("/properties/{key}")
        };
        let under = |t: &TemplateValue| {
            t.pointer == pointer
                || t.pointer
                    .strip_prefix(&pointer)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        if let Some(by) = template_values
            .iter()
            .find(|t| under(t) && t.known)
            .and_then(|t| t.pinned_by.clone())
        {
            *place = by;
        }
    }

    let workspace = options.workspace.clone();
    let mut body = Map::new();
    if let Some(ws) = &workspace {
        body.insert(
            "id".into(),
            Value::String(ws.resource_id(resource_type, &name)),
        );
    }
    body.insert("name".into(), Value::String(name.clone()));
    body.insert("type".into(), resource_type.arm_type().into());
    if let Some(k) = &kind {
        body.insert("kind".into(), Value::String(k.clone()));
    }
    body.insert("properties".into(), properties);
    let (line, column) = item.line_col();
    Ok(Resource {
        resource_type,
        name,
        kind,
        workspace,
        etag: None,
        body: Value::Object(body),
        pruned: None,
        origin: Origin {
            path: item.doc().path.to_string(),
            line,
            column,
        },
        format: Format::ArmTemplate,
        template_values,
        condition,
        places,
        query_span: props_node
            .and_then(|p| p.get("query"))
            .and_then(|q| q.text_span()),
    })
}

/// Where the parts of an evaluated string sit: in a parameters file, or in
/// the literals of the expression at `node`.
fn segments(parts: Vec<template::Part>, node: &Node) -> Vec<Segment> {
    parts
        .into_iter()
        .filter_map(|p| {
            let (path, span) = match p.given {
                Some(given) => given,
                None => (node.doc().path.to_string(), node.text_span()?),
            };
            Some(Segment {
                start: p.start,
                len: p.len,
                line: p.line,
                column: p.column,
                path,
                span,
            })
        })
        .collect()
}

/// Replaces ARM expressions in a template resource's properties with their
/// values where known, recording each one with where it sits.
fn resolve(node: &Node, pointer: &str, scope: &Scope, out: &mut Vec<TemplateValue>) -> Value {
    if let Some(s) = node.as_str() {
        if !template::is_expression(s) {
            return Value::String(template::unescape_literal(s));
        }
        let ev = template::evaluate(s, scope);
        let (line, column) = node.line_col();
        let known = ev.pinned() && ev.value.is_some();
        out.push(TemplateValue {
            pointer: pointer.to_string(),
            expression: s.to_string(),
            at: Origin {
                path: node.doc().path.to_string(),
                line,
                column,
            },
            value: ev.value.clone(),
            known,
            pinned_by: if known { ev.pinned_by.clone() } else { None },
            unfixed: ev.unfixed,
            segments: if known {
                segments(ev.segments, node)
            } else {
                Vec::new()
            },
        });
        return ev.value.unwrap_or_else(|| Value::String(s.to_string()));
    }
    if let Some(items) = node.elements() {
        return Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| resolve(v, &format!("{pointer}/{i}"), scope, out))
                .collect(),
        );
    }
    if node.is_object() {
        let mut map = Map::new();
        for k in node.keys() {
            if let Some(v) = node.get(k) {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                let resolved = resolve(&v, &format!("{pointer}/{escaped}"), scope, out);
                map.insert(k.to_string(), resolved);
            }
        }
        return Value::Object(map);
    }
    node.to_value()
}
