//! Sentinel YAML: Azure-Sentinel "Detections" rules and the PascalCase YAML
//! of older as-code tools. This module alone uses `serde_yaml`.

use super::{Content, ReadOptions};
use crate::error::Diagnostic;
use crate::model::{Format, Origin, Resource, ResourceType, TextSpan};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Top-level keys that mark a Sentinel YAML file.
const MARKERS: [&str; 10] = [
    "id",
    "name",
    "query",
    "kind",
    "Id",
    "Kind",
    "DisplayName",
    "Query",
    "ProductFilter",
    "displayName",
];

/// Fields whose types the planner relies on; serde_yaml reports a wrong type
/// with its line and column.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Detection {
    id: Option<String>,
    name: Option<String>,
    kind: Option<String>,
    query: Option<String>,
    enabled: Option<bool>,
    severity: Option<String>,
    #[serde(rename = "queryFrequency")]
    query_frequency: Option<String>,
    #[serde(rename = "queryPeriod")]
    query_period: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Pascal {
    #[serde(rename = "Id")]
    id: Option<String>,
    #[serde(rename = "DisplayName")]
    display_name: Option<String>,
    #[serde(rename = "Kind")]
    kind: Option<String>,
    #[serde(rename = "Query")]
    query: Option<String>,
    #[serde(rename = "Enabled")]
    enabled: Option<bool>,
    #[serde(rename = "ProductFilter")]
    product_filter: Option<String>,
}

/// A serde_yaml error as a diagnostic at its place (shared with the rules loader).
pub fn yaml_error(path: &str, text: &str, e: &serde_yaml::Error, what: &str) -> Diagnostic {
    let message = e.to_string();
    // serde_yaml appends " at line L column C"; the location is shown apart.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    match e.location() {
        Some(loc) => Diagnostic::at(
            path,
            text,
            loc.line(),
            loc.column(),
            format!("{what}: {message}"),
        ),
        None => Diagnostic::file(path, format!("{what}: {message}")),
    }
}

/// The keys written at the start of a line (top-level keys of a mapping).
fn top_level_keys(text: &str) -> Vec<&str> {
    text.lines().filter_map(key_of_line).collect()
}

/// `key` for a line `key:` or `key: value` (a plain identifier key).
fn key_of_line(line: &str) -> Option<&str> {
    let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
    let (key, rest) = line.split_at(end);
    let first = key.chars().next()?;
    let rest = rest.trim_start_matches([' ', '\t']).strip_prefix(':')?;
    (first.is_ascii_alphabetic() || first == '_')
        .then_some(())
        .filter(|_| rest.is_empty() || rest.starts_with([' ', '\t', '\r']))
        .map(|_| key)
}

/// Whether a mapping with these keys is an analytics rule: a Detections
/// rule (`query` with a schedule or kind, and `id` or `name`) or an older
/// as-code tool's PascalCase rule (`Query`, `ProductFilter` or `Kind`, and
/// `Id` or `DisplayName`). A hunting query (`id`, `query`, nothing of a
/// schedule) is not one.
fn is_rule(has: impl Fn(&str) -> bool) -> bool {
    let detection = has("query")
        && ["kind", "severity", "queryFrequency", "triggerOperator"]
            .iter()
            .any(|k| has(k))
        && (has("id") || has("name"));
    let pascal =
        (has("Query") || has("ProductFilter") || has("Kind")) && (has("Id") || has("DisplayName"));
    detection || pascal
}

/// Whether a text that is not valid YAML is still recognisably a rule: one
/// of its documents (the parts between `---` lines) has a top-level key as
/// its first line of content, no line that opens a Markdown code fence, and
/// a rule's top-level keys. A Markdown page (front matter, then prose) or
/// a script that quotes `query:` lines is not.
fn reads_as_rule(text: &str) -> bool {
    let mut parts: Vec<Vec<&str>> = vec![Vec::new()];
    for line in text.lines() {
        let l = line.trim_end();
        if l == "---" || l.starts_with("--- ") {
            parts.push(Vec::new());
        } else if let Some(part) = parts.last_mut() {
            part.push(l);
        }
    }
    parts.iter().any(|lines| {
        let first = lines
            .iter()
            .find(|l| !(l.is_empty() || l.starts_with('#') || l.starts_with('%')));
        let keys: Vec<&str> = lines.iter().filter_map(|l| key_of_line(l)).collect();
        first.is_some_and(|l| key_of_line(l).is_some())
            && !lines
                .iter()
                .any(|l| l.starts_with("```") || l.starts_with("~~~"))
            && is_rule(|k| keys.contains(&k))
    })
}

/// The 1-based line where the second YAML document starts: the first `---`
/// after some content.
fn second_document_line(text: &str) -> usize {
    let mut content = false;
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_end();
        if l == "---" || l.starts_with("--- ") {
            if content {
                return i + 1;
            }
        } else if !(l.trim_start().is_empty() || l.starts_with('#') || l.starts_with('%')) {
            content = true;
        }
    }
    1
}

/// Every YAML document of a text, parsed.
fn documents(text: &str) -> Result<Vec<serde_yaml::Value>, serde_yaml::Error> {
    serde_yaml::Deserializer::from_str(text)
        .map(serde_yaml::Value::deserialize)
        .collect()
}

/// Deserializes the `index`th document of a text, keeping serde_yaml's
/// place of a wrong value.
fn typed<T: serde::de::DeserializeOwned>(text: &str, index: usize) -> Result<T, serde_yaml::Error> {
    match serde_yaml::Deserializer::from_str(text).nth(index) {
        Some(doc) => T::deserialize(doc),
        None => serde_yaml::from_str(text),
    }
}

const NOT_YAML: &str = "neither JSON nor Sentinel YAML";

/// Reads a YAML export.
///
/// Only a file that is recognisably a Sentinel rule (by its keys) and
/// malformed is an error; other text and other YAML is skipped with the
/// reason (`docs/inputs.md`).
pub fn read(path: &str, text: &str, options: &ReadOptions) -> Result<Content, Diagnostic> {
    let keys = top_level_keys(text);
    if !keys.iter().any(|k| MARKERS.contains(k)) {
        return Ok(Content::Skip(format!(
            "{NOT_YAML} (no `id`, `name`, `kind` or `query` key)"
        )));
    }
    let recognisable = reads_as_rule(text);
    if let Some(at) = too_deep(text) {
        let idx = super::text::LineIndex::new(text);
        let (line, column) = idx.line_col(at);
        if !recognisable {
            return Ok(Content::Skip(format!(
                "{NOT_YAML} (nested too deeply at {line}:{column}), and not an analytics rule"
            )));
        }
        return Err(
            Diagnostic::at(path, text, line, column, "invalid YAML: nested too deeply").expected(
                format!("at most {MAX_FLOW_DEPTH} levels of nested [ ] and {{ }}"),
            ),
        );
    }
    let docs = match documents(text) {
        Ok(docs) => docs,
        Err(e) if recognisable => {
            return Err(yaml_error(path, text, &e, "invalid YAML")
                .expected("a YAML mapping of rule fields"));
        }
        Err(e) => {
            let d = yaml_error(path, text, &e, "invalid YAML");
            let at = match (d.line, d.column) {
                (Some(l), Some(c)) => format!(" at {l}:{c}"),
                _ => String::new(),
            };
            return Ok(Content::Skip(format!(
                "{NOT_YAML} ({}{at}), and its keys are not an analytics rule's",
                d.message
            )));
        }
    };
    let mut present = docs.iter().enumerate().filter(|(_, d)| !d.is_null());
    let Some((index, value)) = present.next() else {
        return Ok(Content::Skip("YAML with no content".into()));
    };
    let more = present.count();
    if more > 0 {
        let n = more + 1;
        let rule = docs
            .iter()
            .filter_map(serde_yaml::Value::as_mapping)
            .any(|m| is_rule(|k| m.contains_key(k)));
        if !rule {
            return Ok(Content::Skip(format!(
                "YAML with {n} documents (front matter and a body?), none of them an analytics rule"
            )));
        }
        let line = second_document_line(text);
        return Err(Diagnostic::at(
            path,
            text,
            line,
            1,
            format!("a YAML file of {n} documents: a second one starts here"),
        )
        .expected("one analytics rule per file, as Detections YAML holds it")
        .hint("split the documents into files of their own"));
    }
    let Some(map) = value.as_mapping() else {
        return Ok(Content::Skip(
            "YAML that is not a mapping of rule fields".into(),
        ));
    };
    let has = |k: &str| map.contains_key(k);
    let json = to_json(value);

    if has("id") && has("query") && !is_rule(has) {
        return Ok(Content::Skip(
            "a hunting query (no kind, severity or schedule): not an analytics rule".into(),
        ));
    }
    if !is_rule(has) {
        return Ok(Content::Skip(
            "YAML without the fields of an analytics rule (`id` and `query`, or `Kind`)".into(),
        ));
    }
    if has("query") {
        let typed: Detection = typed(text, index).map_err(|e| {
            yaml_error(path, text, &e, "unexpected value")
                .expected("the fields of a Detections rule (`id`, `name`, `kind`, `query` text, `enabled` true/false)")
        })?;
        let resource = detection(path, text, &json, typed, options)?;
        return Ok(Content::Resources(
            Format::DetectionsYaml,
            vec![resource],
            Vec::new(),
        ));
    }
    let typed: Pascal = typed(text, index).map_err(|e| {
        yaml_error(path, text, &e, "unexpected value")
            .expected("the fields of an analytics rule (`Id`, `DisplayName`, `Kind`, `Enabled` true/false, `Query` text)")
    })?;
    let resource = pascal(path, text, &json, typed.id, options)?;
    Ok(Content::Resources(
        Format::PascalYaml,
        vec![resource],
        Vec::new(),
    ))
}

/// serde_yaml refuses nesting deeper than 128, but its parser takes time
/// quadratic in the depth of flow collections before it gets there.
const MAX_FLOW_DEPTH: usize = 128;

/// The byte offset where `[`/`{` nesting (outside quotes and comments)
/// first goes deeper than [`MAX_FLOW_DEPTH`]. One linear pass.
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut comment = false;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if comment {
            comment = b != b'\n';
            continue;
        }
        match quote {
            Some(q) => {
                if b == q {
                    quote = None;
                }
            }
            None => match b {
                b'"' | b'\'' if depth > 0 => quote = Some(b),
                b'#' if i == 0 || bytes[i - 1].is_ascii_whitespace() => comment = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some(i);
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                b'\n' if depth == 0 => quote = None,
                _ => {}
            },
        }
    }
    None
}

fn to_json(value: &serde_yaml::Value) -> Value {
    match value {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(*b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        serde_yaml::Value::String(s) => Value::String(s.clone()),
        serde_yaml::Value::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        serde_yaml::Value::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        serde_yaml::Value::String(s) => s.clone(),
                        other => serde_yaml::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        serde_yaml::Value::Tagged(t) => to_json(&t.value),
    }
}

/// `1h` -> `PT1H`, `14d` -> `P14D`; ISO 8601 durations pass unchanged.
pub fn iso_duration(text: &str) -> String {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    if digits.is_empty() {
        return t.to_string();
    }
    match unit.to_ascii_lowercase().as_str() {
        "m" => format!("PT{digits}M"),
        "h" => format!("PT{digits}H"),
        "d" => format!("P{digits}D"),
        "s" => format!("PT{digits}S"),
        _ => t.to_string(),
    }
}

fn trigger_operator(text: &str) -> String {
    match text.trim().to_ascii_lowercase().as_str() {
        "gt" => "GreaterThan".into(),
        "lt" => "LessThan".into(),
        "eq" => "Equal".into(),
        "ne" => "NotEqual".into(),
        _ => text.to_string(),
    }
}

/// Capitalises a kind or severity written in lower case (`scheduled`, `high`).
fn canonical_kind(kind: &str) -> String {
    match kind.to_ascii_lowercase().as_str() {
        "scheduled" => "Scheduled".into(),
        "nrt" => "NRT".into(),
        _ => kind.to_string(),
    }
}

/// Where the `query` value starts in the file.
fn query_span(text: &str, key: &str) -> Option<TextSpan> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| {
        l.strip_prefix(key)
            .is_some_and(|r| r.trim_start().starts_with(':'))
    })?;
    let after = lines[at][key.len()..].trim_start()[1..].trim_start();
    if after.is_empty() || after.starts_with('|') || after.starts_with('>') {
        let first = (at + 1..lines.len()).find(|i| !lines[*i].trim().is_empty())?;
        let indent = lines[first].len() - lines[first].trim_start().len();
        Some(TextSpan::YamlBlock {
            line: first + 1,
            indent,
        })
    } else {
        let indent = lines[at].len() - after.len();
        let quoted = usize::from(after.starts_with('"') || after.starts_with('\''));
        Some(TextSpan::YamlBlock {
            line: at + 1,
            indent: indent + quoted,
        })
    }
}

/// Where the placed properties' keys sit (PascalCase in older as-code YAML).
fn places_of(path: &str, text: &str, pascal: bool) -> crate::model::Places {
    let mut out = crate::model::Places::default();
    for key in super::arm::PLACED {
        let written = if pascal {
            let mut c = key.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        } else {
            key.to_string()
        };
        let origin = origin_of(path, text, &written);
        if origin.line > 1 || text.starts_with(&written) {
            out.insert(key.to_string(), origin);
        }
    }
    out
}

fn origin_of(path: &str, text: &str, key: &str) -> Origin {
    let line = text
        .lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with(':'))
        })
        .map_or(1, |i| i + 1);
    Origin {
        path: path.to_string(),
        line,
        column: 1,
    }
}

#[allow(clippy::too_many_arguments)]
fn finish(
    name: String,
    kind: String,
    properties: Map<String, Value>,
    origin: Origin,
    format: Format,
    query_span: Option<TextSpan>,
    places: crate::model::Places,
    options: &ReadOptions,
) -> Resource {
    let workspace = options.workspace.clone();
    let mut body = Map::new();
    if let Some(ws) = &workspace {
        body.insert(
            "id".into(),
            Value::String(ws.resource_id(ResourceType::AlertRules, &name)),
        );
    }
    body.insert("name".into(), Value::String(name.clone()));
    body.insert("type".into(), ResourceType::AlertRules.arm_type().into());
    body.insert("kind".into(), Value::String(kind.clone()));
    body.insert("properties".into(), Value::Object(properties));
    Resource {
        resource_type: ResourceType::AlertRules,
        name,
        kind: Some(kind),
        workspace,
        etag: None,
        body: Value::Object(body),
        pruned: None,
        origin,
        format,
        template_values: Vec::new(),
        condition: None,
        query_span,
        places,
    }
}

fn detection(
    path: &str,
    text: &str,
    json: &Value,
    typed: Detection,
    options: &ReadOptions,
) -> Result<Resource, Diagnostic> {
    let origin = origin_of(path, text, "id");
    let name = typed.id.filter(|i| !i.trim().is_empty()).ok_or_else(|| {
        Diagnostic::at_origin(&origin, "the rule's `id` is empty").expected("the rule's GUID")
    })?;
    let kind = canonical_kind(typed.kind.as_deref().unwrap_or("Scheduled"));
    let src = json.as_object().cloned().unwrap_or_default();
    let mut p = Map::new();
    let copy = |p: &mut Map<String, Value>, from: &str, to: &str| {
        if let Some(v) = src.get(from).filter(|v| !v.is_null()) {
            p.insert(to.to_string(), v.clone());
        }
    };
    copy(&mut p, "name", "displayName");
    copy(&mut p, "description", "description");
    copy(&mut p, "query", "query");
    copy(&mut p, "tactics", "tactics");
    copy(&mut p, "relevantTechniques", "techniques");
    copy(&mut p, "entityMappings", "entityMappings");
    copy(&mut p, "customDetails", "customDetails");
    copy(&mut p, "alertDetailsOverride", "alertDetailsOverride");
    copy(&mut p, "eventGroupingSettings", "eventGroupingSettings");
    copy(&mut p, "incidentConfiguration", "incidentConfiguration");
    copy(&mut p, "suppressionDuration", "suppressionDuration");
    copy(&mut p, "suppressionEnabled", "suppressionEnabled");
    copy(&mut p, "version", "templateVersion");
    if let Some(s) = src.get("severity").and_then(Value::as_str) {
        let mut c = s.chars();
        let cap = c
            .next()
            .map(|f| f.to_uppercase().collect::<String>() + &c.as_str().to_ascii_lowercase())
            .unwrap_or_default();
        p.insert("severity".into(), Value::String(cap));
    }
    // A Detections file is a template: deployed, a rule is enabled unless it says not.
    p.insert("enabled".into(), Value::Bool(typed.enabled.unwrap_or(true)));
    p.insert("alertRuleTemplateName".into(), Value::String(name.clone()));
    if kind == "Scheduled" {
        for key in ["queryFrequency", "queryPeriod"] {
            if let Some(v) = src.get(key).and_then(Value::as_str) {
                p.insert(key.into(), Value::String(iso_duration(v)));
            }
        }
        if let Some(v) = src.get("triggerOperator").and_then(Value::as_str) {
            p.insert("triggerOperator".into(), Value::String(trigger_operator(v)));
        }
        copy(&mut p, "triggerThreshold", "triggerThreshold");
        p.entry("suppressionDuration")
            .or_insert_with(|| "PT5H".into());
        p.entry("suppressionEnabled").or_insert(Value::Bool(false));
    }
    Ok(finish(
        name,
        kind,
        p,
        origin,
        Format::DetectionsYaml,
        query_span(text, "query"),
        places_of(path, text, false),
        options,
    ))
}

fn pascal(
    path: &str,
    text: &str,
    json: &Value,
    id: Option<String>,
    options: &ReadOptions,
) -> Result<Resource, Diagnostic> {
    let origin = origin_of(path, text, "Id");
    let name = id.filter(|i| !i.trim().is_empty()).ok_or_else(|| {
        Diagnostic::at_origin(&origin, "the rule has no `Id`").expected("`Id`: the rule's GUID")
    })?;
    let mut kind = None;
    let mut p = Map::new();
    for (key, value) in json.as_object().into_iter().flatten() {
        match key.as_str() {
            "Id" => {}
            "Kind" => kind = value.as_str().map(canonical_kind),
            "EventGroupSettings" => {
                p.insert("eventGroupingSettings".into(), value.clone());
            }
            _ => {
                let mut c = key.chars();
                let camel = c
                    .next()
                    .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
                    .unwrap_or_default();
                p.insert(camel, value.clone());
            }
        }
    }
    let kind = kind.unwrap_or_else(|| "Scheduled".into());
    Ok(finish(
        name,
        kind,
        p,
        origin,
        Format::PascalYaml,
        query_span(text, "Query"),
        places_of(path, text, true),
        options,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(iso_duration("1h"), "PT1H");
        assert_eq!(iso_duration("14d"), "P14D");
        assert_eq!(iso_duration("5m"), "PT5M");
        assert_eq!(iso_duration("PT5M"), "PT5M");
    }

    #[test]
    fn query_spans() {
        let text = "id: x\nquery: |\n  SecurityAlert\n  | take 1\nkind: Scheduled\n";
        assert_eq!(
            query_span(text, "query"),
            Some(TextSpan::YamlBlock { line: 3, indent: 2 })
        );
        let text = "id: x\nquery: \"SecurityAlert | take 1\"\n";
        assert_eq!(
            query_span(text, "query"),
            Some(TextSpan::YamlBlock { line: 2, indent: 8 })
        );
    }

    #[test]
    fn wrong_types_point_at_the_value() {
        let text = "id: 7b1c\nname: x\nkind: Scheduled\nenabled: perhaps\nquery: SecurityAlert\n";
        let e = match read("r.yaml", text, &ReadOptions::default()) {
            Err(e) => e,
            Ok(_) => panic!("a non-boolean `enabled` must be an error"),
        };
        assert_eq!(e.line, Some(4), "{e}");
        assert!(
            e.message.contains("enabled") || e.message.contains("boolean"),
            "{e}"
        );
    }
}
