//! The migration knowledge, loaded from `rules/` (embedded at build time) or
//! from `--rules DIR`, validated as a whole: every problem in every file is
//! reported at once.

use crate::error::{Diagnostic, Error, Result};
use crate::model::ResourceType;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The rule files, by name, as embedded in the binary.
pub const EMBEDDED: [(&str, &str); 6] = [
    ("products.yaml", include_str!("../../rules/products.yaml")),
    (
        "connectors.yaml",
        include_str!("../../rules/connectors.yaml"),
    ),
    ("migration.yaml", include_str!("../../rules/migration.yaml")),
    ("kql.yaml", include_str!("../../rules/kql.yaml")),
    ("api.yaml", include_str!("../../rules/api.yaml")),
    (
        "alert-names.yaml",
        include_str!("../../rules/alert-names.yaml"),
    ),
];

/// Which products a product name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    DefenderForCloud,
    DefenderForIot,
    Other,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub name: String,
    pub family: Family,
    /// Whether alerts carry this name at run time (or only rules write it).
    #[serde(default = "yes")]
    pub in_alerts: bool,
    #[serde(default)]
    pub why: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductsFile {
    products: Vec<Product>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindRef {
    pub kind: String,
    pub why: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiDefinitions {
    pub kinds: Vec<String>,
    pub tenant_based_names: Vec<String>,
    pub why: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connectors {
    pub legacy: KindRef,
    pub xdr: KindRef,
    pub ui_definitions: UiDefinitions,
    pub tenant_id_kinds: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Switch,
    OptOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Create,
    Update,
    Delete,
    Manual,
    Review,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Manual => "manual",
            Operation::Review => "review",
        }
    }

    /// Whether the operation changes a resource.
    pub fn is_change(self) -> bool {
        matches!(
            self,
            Operation::Create | Operation::Update | Operation::Delete
        )
    }
}

/// The word a plan summary counts an action under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verb {
    Create,
    Update,
    Disable,
    StopIncidents,
    Delete,
    Manual,
    Review,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manual {
    pub portal: String,
    pub role: String,
    pub verify: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationRule {
    pub id: String,
    pub name: String,
    pub mode: Mode,
    pub phase: u8,
    pub operation: Operation,
    pub verb: Verb,
    pub summary: String,
    pub message: String,
    pub why: String,
    pub example: String,
    #[serde(default)]
    pub manual: Option<Manual>,
}

impl MigrationRule {
    /// Fills the rule's message with the planner's values.
    pub fn message_with(&self, values: &[(&str, String)]) -> String {
        let mut out = self.message.clone();
        for (k, v) in values {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseTitle {
    pub number: u8,
    pub title: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phases {
    pub switch: Vec<PhaseTitle>,
    #[serde(rename = "opt-out")]
    pub opt_out: Vec<PhaseTitle>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MigrationFile {
    phases: Phases,
    rules: Vec<MigrationRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KqlSignals {
    pub alert_tables: Vec<String>,
    pub product_columns: Vec<String>,
    pub vendor_columns: Vec<String>,
    pub alert_name_columns: Vec<String>,
    pub dfc_alert_type_prefixes: Vec<String>,
    pub dfc_alert_name_phrases: Vec<String>,
    pub known_tables: Vec<String>,
}

/// Alert names of one product other than Defender for Cloud, from one
/// public source (`rules/alert-names.yaml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertNames {
    /// A product name of `products.yaml`, of family `other`.
    pub product: String,
    pub why: String,
    /// The public Microsoft page the names come from.
    pub source: String,
    pub names: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertNamesFile {
    products: Vec<AlertNames>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    pub api_versions: BTreeMap<String, String>,
    pub clouds: BTreeMap<String, String>,
}

/// The rules the planner knows how to emit, with the placeholders each
/// message may use. A rules file must define every one of them.
pub const KNOWN_RULES: [(&str, &[&str]); 16] = [
    ("xdr-enable-incidents", &["state"]),
    ("xdr-create", &["tenant", "tenant_source"]),
    ("xdr-connect-manually", &["tenant_problem"]),
    ("tenant-connector-connect", &["solution"]),
    ("msic-disable", &["product", "filters"]),
    ("scheduled-disable", &["kind", "evidence"]),
    ("scheduled-stop-incidents", &["kind", "evidence"]),
    ("scheduled-review", &["kind", "explanation"]),
    ("msic-review", &["explanation"]),
    ("legacy-disconnect", &["subscription", "state"]),
    ("automation-review", &["explanation"]),
    ("opt-out-no-alerts", &[]),
    ("opt-out-no-legacy-connector", &[]),
    ("opt-out-legacy-alerts-off", &["subscription", "state"]),
    ("opt-out-no-incident-rule", &["disabled"]),
    ("opt-out-verify", &[]),
];

/// All the migration knowledge.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub products: Vec<Product>,
    pub connectors: Connectors,
    pub phases: Phases,
    pub rules: Vec<MigrationRule>,
    pub kql: KqlSignals,
    pub api: Api,
    /// Alert names of other products (`alert-names.yaml`).
    pub alert_names: Vec<AlertNames>,
    /// Where each file came from: `embedded` or a path.
    pub sources: BTreeMap<String, String>,
}

impl Catalog {
    /// The rules built into the binary.
    pub fn embedded() -> Result<Catalog> {
        Catalog::load(None)
    }

    /// The embedded rules, with the files of `dir` (if any) in their place.
    pub fn load(dir: Option<&Path>) -> Result<Catalog> {
        let mut files: BTreeMap<String, (String, String)> = EMBEDDED
            .iter()
            .map(|(n, t)| {
                (
                    n.to_string(),
                    (format!("rules/{n} (embedded)"), t.to_string()),
                )
            })
            .collect();
        let mut diagnostics = Vec::new();
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| Error::io("cannot read rules directory", dir, e))?;
            let mut names: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
            names.sort();
            for path in names {
                let Some(name) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(str::to_string)
                else {
                    continue;
                };
                if !(name.ends_with(".yaml") || name.ends_with(".yml")) {
                    continue;
                }
                let shown = path.display().to_string();
                if !files.contains_key(&name) {
                    diagnostics.push(
                        Diagnostic::file(&shown, "unknown migration rules file")
                            .expected(format!("one of {}", EMBEDDED.map(|(n, _)| n).join(", "))),
                    );
                    continue;
                }
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        files.insert(name, (shown, text));
                    }
                    Err(e) => {
                        diagnostics.push(Diagnostic::file(&shown, format!("cannot read: {e}")))
                    }
                }
            }
        }
        let (catalog, mut more) = parse_all(&files);
        diagnostics.append(&mut more);
        match catalog {
            Some(c) if diagnostics.is_empty() => Ok(c),
            _ => Err(Error::Rules(diagnostics)),
        }
    }

    pub fn rule(&self, name: &str) -> &MigrationRule {
        // Validation guarantees every known rule is present.
        self.rules
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| unreachable!("migration rule {name} is validated at load"))
    }

    /// The family of a product name (exact match), if the catalog knows it.
    pub fn family(&self, name: &str) -> Option<Family> {
        self.products
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.family)
    }

    pub fn dfc_products(&self) -> impl Iterator<Item = &str> {
        self.products
            .iter()
            .filter(|p| p.family == Family::DefenderForCloud)
            .map(|p| p.name.as_str())
    }

    pub fn phase_titles(&self, mode: Mode) -> &[PhaseTitle] {
        match mode {
            Mode::Switch => &self.phases.switch,
            Mode::OptOut => &self.phases.opt_out,
        }
    }

    pub fn api_version(&self, t: ResourceType) -> &str {
        self.api
            .api_versions
            .get(t.as_str())
            .map(String::as_str)
            .unwrap_or("2025-09-01")
    }
}

fn parse_all(files: &BTreeMap<String, (String, String)>) -> (Option<Catalog>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    fn get<T: for<'de> Deserialize<'de>>(
        files: &BTreeMap<String, (String, String)>,
        name: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<T> {
        let (path, text) = files.get(name)?;
        match serde_yaml::from_str::<T>(text) {
            Ok(v) => Some(v),
            Err(e) => {
                diagnostics.push(crate::source::yaml_error(path, text, &e, ""));
                None
            }
        }
    }
    let products: Option<ProductsFile> = get(files, "products.yaml", &mut diagnostics);
    let connectors: Option<Connectors> = get(files, "connectors.yaml", &mut diagnostics);
    let migration: Option<MigrationFile> = get(files, "migration.yaml", &mut diagnostics);
    if migration.is_none() {
        // serde stops at the first problem: look at each rule on its own too,
        // so every broken rule is named.
        diagnostics.extend(each_rule_problem(files));
    }
    let kql: Option<KqlSignals> = get(files, "kql.yaml", &mut diagnostics);
    let api: Option<Api> = get(files, "api.yaml", &mut diagnostics);
    let alert_names: Option<AlertNamesFile> = get(files, "alert-names.yaml", &mut diagnostics);

    let path = |n: &str| files.get(n).map(|(p, _)| p.clone()).unwrap_or_default();
    if let Some(p) = &products {
        let mut seen = BTreeSet::new();
        for product in &p.products {
            if !seen.insert(product.name.clone()) {
                diagnostics.push(Diagnostic::file(
                    path("products.yaml"),
                    format!("product `{}` is listed twice", product.name),
                ));
            }
        }
        if !p
            .products
            .iter()
            .any(|p| p.family == Family::DefenderForCloud)
        {
            diagnostics.push(
                Diagnostic::file(
                    path("products.yaml"),
                    "no product of family defender-for-cloud",
                )
                .expected("at least `Azure Security Center`"),
            );
        }
    }
    if let Some(m) = &migration {
        diagnostics.extend(validate_rules(&path("migration.yaml"), &m.rules));
    }
    if let Some(k) = &kql
        && k.product_columns.len() > 64
    {
        diagnostics.push(
            Diagnostic::file(path("kql.yaml"), "more than 64 product_columns")
                .expected("at most 64"),
        );
    }
    if let Some(k) = &kql
        && (k.alert_tables.is_empty() || k.product_columns.is_empty())
    {
        diagnostics.push(
            Diagnostic::file(
                path("kql.yaml"),
                "alert_tables and product_columns must not be empty",
            )
            .expected("alert_tables: [SecurityAlert], product_columns: [ProductName, ...]"),
        );
    }
    if let (Some(a), Some(p)) = (&alert_names, &products) {
        diagnostics.extend(validate_alert_names(
            &path("alert-names.yaml"),
            &a.products,
            &p.products,
        ));
    }
    if let Some(a) = &api {
        for t in ResourceType::ALL {
            if !a.api_versions.contains_key(t.as_str()) {
                diagnostics.push(
                    Diagnostic::file(path("api.yaml"), format!("no api-version for {t}"))
                        .expected("api_versions: {dataConnectors, alertRules, automationRules}"),
                );
            }
        }
    }
    let sources = files
        .iter()
        .map(|(n, (p, _))| (n.clone(), p.clone()))
        .collect();
    match (products, connectors, migration, kql, api) {
        (Some(p), Some(c), Some(m), Some(k), Some(a)) => (
            Some(Catalog {
                products: p.products,
                connectors: c,
                phases: m.phases,
                rules: m.rules,
                kql: k,
                api: a,
                alert_names: alert_names.map(|n| n.products).unwrap_or_default(),
                sources,
            }),
            diagnostics,
        ),
        _ => (None, diagnostics),
    }
}

/// Each list of alert names belongs to a known product other than Defender
/// for Cloud, cites an https source, and no name belongs to two products.
fn validate_alert_names(path: &str, lists: &[AlertNames], products: &[Product]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut owner: BTreeMap<String, &str> = BTreeMap::new();
    for list in lists {
        match products.iter().find(|p| p.name == list.product) {
            Some(p) if p.family == Family::Other => {}
            Some(_) => diagnostics.push(
                Diagnostic::file(path, format!("`{}` is not another product", list.product))
                    .expected("a product of family `other`: names of Defender for Cloud or Defender for IoT alerts do not belong here"),
            ),
            None => diagnostics.push(
                Diagnostic::file(path, format!("unknown product `{}`", list.product))
                    .expected("a product name of products.yaml"),
            ),
        }
        if !list.source.starts_with("https://") {
            diagnostics.push(
                Diagnostic::file(
                    path,
                    format!("the names of `{}` cite no source", list.product),
                )
                .expected("source: https://learn.microsoft.com/..."),
            );
        }
        if list.names.is_empty() {
            diagnostics.push(Diagnostic::file(
                path,
                format!("an empty list of names for `{}`", list.product),
            ));
        }
        for name in &list.names {
            let key = name.to_lowercase();
            match owner.get(&key) {
                Some(other) if *other != list.product => diagnostics.push(Diagnostic::file(
                    path,
                    format!(
                        "alert name `{name}` is listed for `{other}` and `{}`",
                        list.product
                    ),
                )),
                _ => {
                    owner.insert(key, &list.product);
                }
            }
        }
    }
    diagnostics
}

/// Every rule of migration.yaml that does not deserialize, by id.
fn each_rule_problem(files: &BTreeMap<String, (String, String)>) -> Vec<Diagnostic> {
    let Some((path, text)) = files.get("migration.yaml") else {
        return Vec::new();
    };
    let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
        return Vec::new();
    };
    let Some(rules) = value.get("rules").and_then(|r| r.as_sequence()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut parsed = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        match serde_yaml::from_value::<MigrationRule>(rule.clone()) {
            Ok(r) => parsed.push(r),
            Err(e) => {
                let id = rule.get("id").and_then(|v| v.as_str()).unwrap_or("?");
                out.push(Diagnostic::file(path, format!("rules[{i}] ({id}): {e}")));
            }
        }
    }
    out.extend(validate_rules(path, &parsed));
    out
}

fn validate_rules(path: &str, rules: &[MigrationRule]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    let mut names = BTreeSet::new();
    for r in rules {
        let at = format!("rule {} ({})", r.id, r.name);
        let valid_id = r.id.len() == 6
            && r.id.starts_with("MIG")
            && r.id[3..].chars().all(|c| c.is_ascii_digit());
        if !valid_id {
            out.push(
                Diagnostic::file(path, format!("{at}: invalid id"))
                    .expected("MIG followed by three digits, e.g. MIG101"),
            );
        }
        if !ids.insert(r.id.clone()) {
            out.push(Diagnostic::file(
                path,
                format!("{at}: the id {} is used twice", r.id),
            ));
        }
        if !names.insert(r.name.clone()) {
            out.push(Diagnostic::file(
                path,
                format!("{at}: the name {} is used twice", r.name),
            ));
        }
        if !(1..=3).contains(&r.phase) {
            out.push(
                Diagnostic::file(path, format!("{at}: phase {}", r.phase))
                    .expected("phase 1, 2 or 3"),
            );
        }
        if (r.operation == Operation::Manual) != r.manual.is_some() {
            out.push(
                Diagnostic::file(
                    path,
                    format!("{at}: `manual` must be given for manual steps, and only for them"),
                )
                .expected("manual: {portal, role, verify} when operation is manual"),
            );
        }
        match KNOWN_RULES.iter().find(|(n, _)| *n == r.name) {
            None => out.push(
                Diagnostic::file(
                    path,
                    format!("{at}: the planner has no rule named {}", r.name),
                )
                .expected(format!("one of {}", KNOWN_RULES.map(|(n, _)| n).join(", "))),
            ),
            Some((_, allowed)) => {
                for p in placeholders(&r.message) {
                    if !allowed.contains(&p.as_str()) {
                        out.push(
                            Diagnostic::file(
                                path,
                                format!("{at}: unknown placeholder {{{p}}} in message"),
                            )
                            .expected(if allowed.is_empty() {
                                "no placeholders".to_string()
                            } else {
                                format!(
                                    "one of {}",
                                    allowed
                                        .iter()
                                        .map(|a| format!("{{{a}}}"))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            }),
                        );
                    }
                }
            }
        }
    }
    for (name, _) in KNOWN_RULES {
        if !names.contains(name) {
            out.push(
                Diagnostic::file(path, format!("the migration rule `{name}` is missing"))
                    .expected("every rule the planner emits"),
            );
        }
    }
    out
}

/// `{name}` placeholders of a message.
pub fn placeholders(message: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = message;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(after[..end].to_string());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_rules_are_valid() {
        let c = Catalog::embedded().unwrap();
        assert_eq!(c.rule("msic-disable").id, "MIG101");
        assert_eq!(
            c.family("Azure Security Center"),
            Some(Family::DefenderForCloud)
        );
        assert_eq!(
            c.family("Azure Security Center for IoT"),
            Some(Family::DefenderForIot)
        );
    }

    #[test]
    fn alert_names_must_be_sourced_and_of_other_products() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("alert-names.yaml"),
            "products:\n  - product: Azure Security Center\n    why: w\n    source: https://learn.microsoft.com/x\n    names: [A]\n  - product: MCAS\n    why: w\n    source: somewhere\n    names: [B]\n  - product: IPC\n    why: w\n    source: https://learn.microsoft.com/y\n    names: [b]\n",
        )
        .unwrap();
        let Err(Error::Rules(d)) = Catalog::load(Some(dir.path())) else {
            panic!("bad alert names accepted");
        };
        let text = format!("{d:?}");
        assert!(
            text.contains("`Azure Security Center` is not another product"),
            "{text}"
        );
        assert!(text.contains("cite no source"), "{text}");
        assert!(text.contains("listed for `MCAS` and `IPC`"), "{text}");
        assert!(!Catalog::embedded().unwrap().alert_names.is_empty());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("migration.yaml"),
            "rules:\n  - id: MIGX\n    name: msic-disable\n    mode: switch\n    phase: 7\n    operation: update\n    verb: disable\n    summary: s\n    message: \"{nope}\"\n    why: w\n    example: e\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("products.yaml"),
            "products:\n  - name: X\n    family: weird\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("extra.yaml"), "a: 1\n").unwrap();
        let Err(Error::Rules(ds)) = Catalog::load(Some(dir.path())) else {
            panic!("invalid rules must fail")
        };
        let text: Vec<String> = ds.iter().map(|d| d.to_string()).collect();
        let all = text.join("\n");
        assert!(all.contains("invalid id"), "{all}");
        assert!(all.contains("phase 7"), "{all}");
        assert!(all.contains("{nope}"), "{all}");
        assert!(all.contains("xdr-create` is missing"), "{all}");
        assert!(all.contains("unknown variant `weird`"), "{all}");
        assert!(all.contains("products.yaml:3:13"), "{all}");
        assert!(all.contains("unknown migration rules file"), "{all}");
    }
}
