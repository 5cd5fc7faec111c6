//! The migration knowledge, loaded from `rules/` (embedded at build time) or
//! from `--rules DIR`, validated as a whole: every problem in every file is
//! reported at once.

use crate::error::{Diagnostic, Error, Result};
use crate::model::ResourceType;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The rule files, by name, as embedded in the binary.
pub const EMBEDDED: [(&str, &str); 7] = [
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
    ("verify.yaml", include_str!("../../rules/verify.yaml")),
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
    pub solution: Solution,
    pub tenant_id_kinds: Vec<String>,
}

/// The Content hub solution that carries the tenant-based connector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Solution {
    /// The package id (`contentPackages/{content_id}`, `properties.contentId`).
    pub content_id: String,
    pub display_name: String,
    /// The oldest version with the tenant-based connector.
    pub minimum_version: String,
    /// The version a plan installs or upgrades to.
    pub install_version: String,
    pub why: String,
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
    /// In a rules file: the path in the Defender portal, used instead of
    /// `portal` for a workspace onboarded to it (both when that is unknown).
    /// Never in a plan: the planner picks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defender_portal: Option<String>,
}

/// A phase of the plan. Phases run in this order; [`Phase::Disconnect`]
/// runs last. A number in `plan.json` (1, 2, 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Phase {
    /// Switch: make the tenant-based path ready. Opt-out: keep alerts on
    /// the subscription-based path.
    Prepare = 1,
    /// Switch: stop Sentinel creating Defender for Cloud incidents itself.
    /// Opt-out: check that they are still created.
    Incidents = 2,
    /// Switch only: disconnect the legacy connectors.
    Disconnect = 3,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::Prepare, Phase::Incidents, Phase::Disconnect];

    pub fn number(self) -> u8 {
        self as u8
    }

    /// The phases of a mode, in the order they run.
    pub fn of_mode(mode: Mode) -> &'static [Phase] {
        match mode {
            Mode::Switch => &Phase::ALL,
            Mode::OptOut => &[Phase::Prepare, Phase::Incidents],
        }
    }
}

impl From<Phase> for u8 {
    fn from(p: Phase) -> u8 {
        p.number()
    }
}

impl TryFrom<u8> for Phase {
    type Error = String;
    fn try_from(n: u8) -> std::result::Result<Phase, String> {
        Phase::ALL
            .into_iter()
            .find(|p| p.number() == n)
            .ok_or_else(|| format!("phase {n}: expected 1, 2 or 3"))
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.number())
    }
}

/// A confirmation an operator must give before a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    /// The tenant-based Defender for Cloud connector is connected and its
    /// alerts arrive (`--confirm tenant-connector`).
    TenantConnector,
}

impl Gate {
    pub fn as_str(self) -> &'static str {
        match self {
            Gate::TenantConnector => "tenant-connector",
        }
    }

    /// The confirmation a change needs, from what it does to what: deleting
    /// a data connector can lose alerts, so it always waits for the
    /// tenant-based connector, whatever phase or rule it comes from.
    pub fn for_change(operation: Operation, resource_type: Option<ResourceType>) -> Option<Gate> {
        match (operation, resource_type) {
            (Operation::Delete, Some(ResourceType::DataConnectors)) => Some(Gate::TenantConnector),
            _ => None,
        }
    }
}

/// The steps the planner can emit. What each one does (its mode, phase,
/// operation, verb, the resources it acts on, its confirmation) is fixed
/// here, in code; a rules file gives only its texts, so an edited file
/// cannot move a destructive step or its gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleKind {
    XdrEnableIncidents,
    XdrCreate,
    XdrConnectManually,
    TenantConnectorConnect,
    MsicDisable,
    ScheduledDisable,
    ScheduledStopIncidents,
    ScheduledReview,
    MsicReview,
    LegacyDisconnect,
    AutomationReview,
    AutomationOverMatch,
    SuppressCreate,
    SuppressUpdate,
    SuppressReview,
    AutomationRewrite,
    SecondaryAnalyticsReview,
    SecondaryAutomationReview,
    MsicOnboardedEnabled,
    OptOutNoAlerts,
    OptOutNoLegacyConnector,
    OptOutLegacyAlertsOff,
    OptOutNoIncidentRule,
    OptOutVerify,
    SolutionInstall,
    SolutionUpgrade,
    SolutionReview,
}

/// What a [`RuleKind`] is, as one row: the facts apply and the scripts rely on.
struct KindFacts {
    name: &'static str,
    mode: Mode,
    phase: Phase,
    operation: Operation,
    verb: Verb,
    placeholders: &'static [&'static str],
    /// The resources it acts on; None for workspace-level steps.
    resource_type: Option<ResourceType>,
}

impl RuleKind {
    pub const COUNT: usize = 27;
    /// Every rule, in the order the reference lists them.
    pub const ALL: [RuleKind; RuleKind::COUNT] = [
        RuleKind::XdrEnableIncidents,
        RuleKind::XdrCreate,
        RuleKind::XdrConnectManually,
        RuleKind::TenantConnectorConnect,
        RuleKind::SolutionInstall,
        RuleKind::SolutionUpgrade,
        RuleKind::SolutionReview,
        RuleKind::MsicDisable,
        RuleKind::ScheduledDisable,
        RuleKind::ScheduledStopIncidents,
        RuleKind::ScheduledReview,
        RuleKind::MsicReview,
        RuleKind::LegacyDisconnect,
        RuleKind::AutomationReview,
        RuleKind::AutomationOverMatch,
        RuleKind::SuppressCreate,
        RuleKind::SuppressUpdate,
        RuleKind::SuppressReview,
        RuleKind::AutomationRewrite,
        RuleKind::SecondaryAnalyticsReview,
        RuleKind::SecondaryAutomationReview,
        RuleKind::MsicOnboardedEnabled,
        RuleKind::OptOutNoAlerts,
        RuleKind::OptOutNoLegacyConnector,
        RuleKind::OptOutLegacyAlertsOff,
        RuleKind::OptOutNoIncidentRule,
        RuleKind::OptOutVerify,
    ];

    fn facts(self) -> KindFacts {
        use Mode::{OptOut, Switch};
        use Operation as O;
        use Phase::{Disconnect, Incidents, Prepare};
        use ResourceType::{AlertRules, AutomationRules, ContentPackages, DataConnectors};
        let f = |name, mode, phase, operation, verb, placeholders, resource_type| KindFacts {
            name,
            mode,
            phase,
            operation,
            verb,
            placeholders,
            resource_type,
        };
        match self {
            RuleKind::XdrEnableIncidents => f(
                "xdr-enable-incidents",
                Switch,
                Prepare,
                O::Update,
                Verb::Update,
                &["state"],
                Some(DataConnectors),
            ),
            RuleKind::XdrCreate => f(
                "xdr-create",
                Switch,
                Prepare,
                O::Create,
                Verb::Create,
                &["tenant", "tenant_source"],
                Some(DataConnectors),
            ),
            RuleKind::XdrConnectManually => f(
                "xdr-connect-manually",
                Switch,
                Prepare,
                O::Manual,
                Verb::Manual,
                &["tenant_problem"],
                None,
            ),
            RuleKind::TenantConnectorConnect => f(
                "tenant-connector-connect",
                Switch,
                Prepare,
                O::Manual,
                Verb::Manual,
                &["solution", "tenant"],
                None,
            ),
            RuleKind::SolutionInstall => f(
                "solution-install",
                Switch,
                Prepare,
                O::Create,
                Verb::Create,
                &["solution", "version", "minimum"],
                Some(ContentPackages),
            ),
            RuleKind::SolutionUpgrade => f(
                "solution-upgrade",
                Switch,
                Prepare,
                O::Update,
                Verb::Update,
                &["solution", "installed", "version", "minimum"],
                Some(ContentPackages),
            ),
            RuleKind::SolutionReview => f(
                "solution-review",
                Switch,
                Prepare,
                O::Review,
                Verb::Review,
                &["solution", "installed", "minimum"],
                Some(ContentPackages),
            ),
            RuleKind::MsicDisable => f(
                "msic-disable",
                Switch,
                Incidents,
                O::Update,
                Verb::Disable,
                &["product", "filters"],
                Some(AlertRules),
            ),
            RuleKind::ScheduledDisable => f(
                "scheduled-disable",
                Switch,
                Incidents,
                O::Update,
                Verb::Disable,
                &["kind", "evidence"],
                Some(AlertRules),
            ),
            RuleKind::ScheduledStopIncidents => f(
                "scheduled-stop-incidents",
                Switch,
                Incidents,
                O::Update,
                Verb::StopIncidents,
                &["kind", "evidence"],
                Some(AlertRules),
            ),
            RuleKind::ScheduledReview => f(
                "scheduled-review",
                Switch,
                Incidents,
                O::Review,
                Verb::Review,
                &["kind", "explanation"],
                Some(AlertRules),
            ),
            RuleKind::MsicReview => f(
                "msic-review",
                Switch,
                Incidents,
                O::Review,
                Verb::Review,
                &["explanation"],
                Some(AlertRules),
            ),
            RuleKind::LegacyDisconnect => f(
                "legacy-disconnect",
                Switch,
                Disconnect,
                O::Delete,
                Verb::Delete,
                &["subscription", "state"],
                Some(DataConnectors),
            ),
            RuleKind::AutomationReview => f(
                "automation-review",
                Switch,
                Incidents,
                O::Review,
                Verb::Review,
                &["explanation"],
                Some(AutomationRules),
            ),
            RuleKind::AutomationOverMatch => f(
                "automation-over-match",
                Switch,
                Incidents,
                O::Review,
                Verb::Review,
                &["actions", "explanation"],
                Some(AutomationRules),
            ),
            RuleKind::SuppressCreate => f(
                "suppress-create",
                Switch,
                Incidents,
                O::Create,
                Verb::Create,
                &["rules", "conditions", "order", "exactness"],
                Some(AutomationRules),
            ),
            RuleKind::SuppressUpdate => f(
                "suppress-update",
                Switch,
                Incidents,
                O::Update,
                Verb::Update,
                &["rules", "changed"],
                Some(AutomationRules),
            ),
            RuleKind::SuppressReview => f(
                "suppress-review",
                Switch,
                Incidents,
                O::Review,
                Verb::Review,
                &["rules", "explanation"],
                None,
            ),
            RuleKind::AutomationRewrite => f(
                "automation-rewrite",
                Switch,
                Incidents,
                O::Update,
                Verb::Update,
                &["explanation"],
                Some(AutomationRules),
            ),
            RuleKind::SecondaryAnalyticsReview => f(
                "secondary-analytics-review",
                Switch,
                Incidents,
                O::Review,
                Verb::Review,
                &["rules", "primary"],
                None,
            ),
            RuleKind::SecondaryAutomationReview => f(
                "secondary-automation-review",
                Switch,
                Incidents,
                O::Review,
                Verb::Review,
                &["explanation"],
                Some(AutomationRules),
            ),
            RuleKind::MsicOnboardedEnabled => f(
                "msic-onboarded-enabled",
                Switch,
                Incidents,
                O::Review,
                Verb::Review,
                &["product"],
                Some(AlertRules),
            ),
            RuleKind::OptOutNoAlerts => f(
                "opt-out-no-alerts",
                OptOut,
                Prepare,
                O::Manual,
                Verb::Manual,
                &[],
                None,
            ),
            RuleKind::OptOutNoLegacyConnector => f(
                "opt-out-no-legacy-connector",
                OptOut,
                Prepare,
                O::Review,
                Verb::Review,
                &[],
                None,
            ),
            RuleKind::OptOutLegacyAlertsOff => f(
                "opt-out-legacy-alerts-off",
                OptOut,
                Prepare,
                O::Review,
                Verb::Review,
                &["subscription", "state"],
                Some(DataConnectors),
            ),
            RuleKind::OptOutNoIncidentRule => f(
                "opt-out-no-incident-rule",
                OptOut,
                Incidents,
                O::Review,
                Verb::Review,
                &["disabled"],
                None,
            ),
            RuleKind::OptOutVerify => f(
                "opt-out-verify",
                OptOut,
                Incidents,
                O::Manual,
                Verb::Manual,
                &[],
                None,
            ),
        }
    }

    /// The name a rules file gives it (`legacy-disconnect`).
    pub fn name(self) -> &'static str {
        self.facts().name
    }

    pub fn from_name(name: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn mode(self) -> Mode {
        self.facts().mode
    }

    pub fn phase(self) -> Phase {
        self.facts().phase
    }

    pub fn operation(self) -> Operation {
        self.facts().operation
    }

    pub fn verb(self) -> Verb {
        self.facts().verb
    }

    /// The `{placeholders}` its message may use.
    pub fn placeholders(self) -> &'static [&'static str] {
        self.facts().placeholders
    }

    /// The resources it acts on; None for workspace-level steps.
    pub fn resource_type(self) -> Option<ResourceType> {
        self.facts().resource_type
    }

    /// The confirmation its steps wait for, from what they do.
    pub fn gate(self) -> Option<Gate> {
        Gate::for_change(self.operation(), self.resource_type())
    }
}

/// A migration rule as a rules file writes it: the texts, and (optionally,
/// for reviewers) the facts fixed in code, which must then agree.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    id: String,
    name: String,
    #[serde(default)]
    mode: Option<Mode>,
    #[serde(default)]
    phase: Option<u8>,
    #[serde(default)]
    operation: Option<Operation>,
    #[serde(default)]
    verb: Option<Verb>,
    summary: String,
    message: String,
    why: String,
    example: String,
    #[serde(default)]
    manual: Option<Manual>,
}

/// A migration rule: what the planner does ([`RuleKind`], fixed in code)
/// and how it is explained (from the rules file).
#[derive(Debug, Clone)]
pub struct MigrationRule {
    pub id: String,
    pub kind: RuleKind,
    pub summary: String,
    pub message: String,
    pub why: String,
    pub example: String,
    pub manual: Option<Manual>,
}

impl MigrationRule {
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    pub fn mode(&self) -> Mode {
        self.kind.mode()
    }

    pub fn phase(&self) -> Phase {
        self.kind.phase()
    }

    pub fn operation(&self) -> Operation {
        self.kind.operation()
    }

    pub fn verb(&self) -> Verb {
        self.kind.verb()
    }

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
    rules: Vec<RuleEntry>,
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
    /// The api-version of `GET /subscriptions/{id}` (its tenant).
    #[serde(default = "subscription_api_version")]
    pub subscription_api_version: String,
}

fn subscription_api_version() -> String {
    "2022-12-01".into()
}

/// `verify.yaml`: the queries of `verify --data` and what their answers
/// are judged by (docs/verify-data.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// The api-version of `POST {workspace}/api/query` (the ARM form).
    pub query_api_version: String,
    /// `SecurityIncident.ProviderName` of incidents from Defender XDR.
    pub xdr_providers: Vec<String>,
    /// `SecurityIncident.ProviderName` of incidents Sentinel's rules created.
    pub sentinel_providers: Vec<String>,
    /// Alerts after the switch below this share of the rate before are lost.
    pub lost_alerts_below: f64,
    pub checks: Vec<VerifyCheck>,
}

/// One check of `verify --data`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyCheck {
    pub id: String,
    pub title: String,
    pub proves: String,
    pub cannot: String,
    pub query: String,
}

impl Verify {
    /// The ids of the checks, in the order they run; the code judges each.
    pub const CHECKS: [&'static str; 4] = [
        "alerts-per-day",
        "xdr-incidents",
        "duplicates",
        "sentinel-incidents",
    ];

    pub fn check(&self, id: &str) -> Option<&VerifyCheck> {
        self.checks.iter().find(|c| c.id == id)
    }
}

fn validate_verify(path: &str, v: &Verify) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let expected = format!("checks with the ids {}", Verify::CHECKS.join(", "));
    for id in Verify::CHECKS {
        let n = v.checks.iter().filter(|c| c.id == id).count();
        if n != 1 {
            diagnostics.push(
                Diagnostic::file(path, format!("check `{id}` is listed {n} times"))
                    .expected(expected.clone()),
            );
        }
    }
    for c in &v.checks {
        if !Verify::CHECKS.contains(&c.id.as_str()) {
            diagnostics.push(
                Diagnostic::file(path, format!("unknown check `{}`", c.id))
                    .expected(expected.clone()),
            );
        }
        if c.query.trim().is_empty() || c.title.trim().is_empty() {
            diagnostics.push(Diagnostic::file(
                path,
                format!("check `{}` has an empty title or query", c.id),
            ));
        }
    }
    if v.xdr_providers.is_empty() || v.sentinel_providers.is_empty() {
        diagnostics.push(
            Diagnostic::file(
                path,
                "xdr_providers and sentinel_providers must not be empty",
            )
            .expected("xdr_providers: [Microsoft XDR], sentinel_providers: [Azure Sentinel]"),
        );
    }
    if !(v.lost_alerts_below > 0.0 && v.lost_alerts_below <= 1.0) {
        diagnostics.push(
            Diagnostic::file(
                path,
                format!("lost_alerts_below is {}", v.lost_alerts_below),
            )
            .expected("a share in (0, 1], e.g. 0.5"),
        );
    }
    if v.query_api_version.trim().is_empty() {
        diagnostics.push(Diagnostic::file(path, "query_api_version is empty"));
    }
    diagnostics
}

/// All the migration knowledge.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub products: Vec<Product>,
    pub connectors: Connectors,
    pub phases: Phases,
    /// Every rule the planner emits, in [`RuleKind::ALL`] order.
    pub rules: [MigrationRule; RuleKind::COUNT],
    pub kql: KqlSignals,
    pub api: Api,
    /// Alert names of other products (`alert-names.yaml`).
    pub alert_names: Vec<AlertNames>,
    /// The queries of `verify --data` (`verify.yaml`).
    pub verify: Verify,
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

    /// The texts of a rule: the catalog holds one per kind, in kind order.
    pub fn rule(&self, kind: RuleKind) -> &MigrationRule {
        &self.rules[kind as usize]
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
    let verify: Option<Verify> = get(files, "verify.yaml", &mut diagnostics);

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
    let mut rules = None;
    if let Some(m) = &migration {
        let (path, text) = files.get("migration.yaml").cloned().unwrap_or_default();
        diagnostics.extend(validate_phases(&path, &m.phases));
        let (valid, mut more) = validate_rules(
            &path,
            &text,
            &m.rules.iter().enumerate().collect::<Vec<_>>(),
        );
        diagnostics.append(&mut more);
        rules = valid;
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
                        .expected(
                            "api_versions: {dataConnectors, alertRules, automationRules, contentPackages}",
                        ),
                );
            }
        }
    }
    if let Some(v) = &verify {
        diagnostics.extend(validate_verify(&path("verify.yaml"), v));
    }
    let sources = files
        .iter()
        .map(|(n, (p, _))| (n.clone(), p.clone()))
        .collect();
    match (products, connectors, migration, rules, kql, api, verify) {
        (Some(p), Some(c), Some(m), Some(rules), Some(k), Some(a), Some(verify)) => (
            Some(Catalog {
                products: p.products,
                connectors: c,
                phases: m.phases,
                rules,
                kql: k,
                api: a,
                alert_names: alert_names.map(|n| n.products).unwrap_or_default(),
                verify,
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
        match serde_yaml::from_value::<RuleEntry>(rule.clone()) {
            Ok(r) => parsed.push((i, r)),
            Err(e) => {
                let id = rule.get("id").and_then(|v| v.as_str()).unwrap_or("?");
                out.push(Diagnostic::file(path, format!("rules[{i}] ({id}): {e}")));
            }
        }
    }
    let parsed: Vec<(usize, &RuleEntry)> = parsed.iter().map(|(i, r)| (*i, r)).collect();
    out.extend(validate_rules(path, text, &parsed).1);
    out
}

/// The phase titles must name exactly the phases of each mode, in order:
/// which phases exist, and which runs last, is fixed in code.
fn validate_phases(path: &str, phases: &Phases) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (mode, key, titles) in [
        (Mode::Switch, "switch", &phases.switch),
        (Mode::OptOut, "opt-out", &phases.opt_out),
    ] {
        let given: Vec<u8> = titles.iter().map(|t| t.number).collect();
        let fixed: Vec<u8> = Phase::of_mode(mode).iter().map(|p| p.number()).collect();
        if given != fixed {
            let list = |v: &[u8]| v.iter().map(u8::to_string).collect::<Vec<_>>().join(", ");
            out.push(
                Diagnostic::file(
                    path,
                    format!("phases.{key}: numbers {}", list(&given)),
                )
                .expected(format!(
                    "a title for each of the phases {} in that order (the phases are fixed by the planner)",
                    list(&fixed)
                )),
            );
        }
    }
    out
}

/// Where `key` of the `index`-th rule sits in migration.yaml, if it can be
/// found (1-based line and column).
fn locate(text: &str, index: usize, key: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.trim_end() == "rules:")?;
    let indent = |l: &str| l.len() - l.trim_start().len();
    let items: Vec<usize> = (start + 1..lines.len())
        .filter(|&i| lines[i].trim_start().starts_with("- "))
        .collect();
    let first = *items.first()?;
    let items: Vec<usize> = items
        .into_iter()
        .filter(|&i| indent(lines[i]) == indent(lines[first]))
        .collect();
    let from = *items.get(index)?;
    let to = items.get(index + 1).copied().unwrap_or(lines.len());
    (from..to).find_map(|i| {
        let line = lines[i];
        let rest = line.trim_start().trim_start_matches("- ").trim_start();
        rest.strip_prefix(key)
            .filter(|r| r.trim_start().starts_with(':'))
            .map(|_| (i + 1, line[..line.len() - rest.len()].chars().count() + 1))
    })
}

/// Checks the rules of migration.yaml; returns them in [`RuleKind::ALL`]
/// order when every rule the planner emits is there and valid.
fn validate_rules(
    path: &str,
    text: &str,
    rules: &[(usize, &RuleEntry)],
) -> (Option<[MigrationRule; RuleKind::COUNT]>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    let mut by_kind: BTreeMap<RuleKind, MigrationRule> = BTreeMap::new();
    let at_key = |index: usize, key: &str, message: String| match locate(text, index, key) {
        Some((line, column)) => Diagnostic::at(path, text, line, column, message),
        None => Diagnostic::file(path, message),
    };
    for &(index, r) in rules {
        let at = format!("rule {} ({})", r.id, r.name);
        let valid_id = r.id.len() == 6
            && r.id.starts_with("MIG")
            && r.id[3..].chars().all(|c| c.is_ascii_digit());
        if !valid_id {
            out.push(
                at_key(index, "id", format!("{at}: invalid id"))
                    .expected("MIG followed by three digits, e.g. MIG101"),
            );
        }
        if !ids.insert(r.id.clone()) {
            out.push(at_key(
                index,
                "id",
                format!("{at}: the id {} is used twice", r.id),
            ));
        }
        let Some(kind) = RuleKind::from_name(&r.name) else {
            out.push(
                at_key(
                    index,
                    "name",
                    format!("{at}: the planner has no rule named {}", r.name),
                )
                .expected(format!(
                    "one of {}",
                    RuleKind::ALL.map(RuleKind::name).join(", ")
                )),
            );
            continue;
        };
        // What a rule does is fixed in code: a file may restate it, never change it.
        let fixed = |field: &str, given: String, fixed: String| {
            at_key(
                index,
                field,
                format!("{at}: {field} {given} is not the planner's"),
            )
            .expected(format!("{field} {fixed} (or no `{field}`: it is fixed by the planner)"))
            .hint(match kind.gate() {
                Some(g) => format!(
                    "what a rule does, when it runs and what confirmation it waits for (here --confirm {}) cannot be changed by a rules file; edit only its texts",
                    g.as_str()
                ),
                None => "what a rule does and when it runs cannot be changed by a rules file; edit only its texts".into(),
            })
        };
        if let Some(m) = r.mode
            && m != kind.mode()
        {
            out.push(fixed("mode", mode_name(m), mode_name(kind.mode())));
        }
        if let Some(p) = r.phase
            && p != kind.phase().number()
        {
            out.push(fixed("phase", p.to_string(), kind.phase().to_string()));
        }
        if let Some(o) = r.operation
            && o != kind.operation()
        {
            out.push(fixed(
                "operation",
                o.as_str().into(),
                kind.operation().as_str().into(),
            ));
        }
        if let Some(v) = r.verb
            && v != kind.verb()
        {
            out.push(fixed("verb", verb_name(v), verb_name(kind.verb())));
        }
        if (kind.operation() == Operation::Manual) != r.manual.is_some() {
            out.push(
                at_key(
                    index,
                    "manual",
                    format!("{at}: `manual` must be given for manual steps, and only for them"),
                )
                .expected("manual: {portal, role, verify} when the rule is a manual step"),
            );
        }
        let allowed = kind.placeholders();
        for p in placeholders(&r.message) {
            if !allowed.contains(&p.as_str()) {
                out.push(
                    at_key(
                        index,
                        "message",
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
        let rule = MigrationRule {
            id: r.id.clone(),
            kind,
            summary: r.summary.clone(),
            message: r.message.clone(),
            why: r.why.clone(),
            example: r.example.clone(),
            manual: r.manual.clone(),
        };
        if by_kind.insert(kind, rule).is_some() {
            out.push(at_key(
                index,
                "name",
                format!("{at}: the name {} is used twice", r.name),
            ));
        }
    }
    for kind in RuleKind::ALL {
        if !by_kind.contains_key(&kind) {
            out.push(
                Diagnostic::file(
                    path,
                    format!("the migration rule `{}` is missing", kind.name()),
                )
                .expected("every rule the planner emits"),
            );
        }
    }
    let complete: Vec<MigrationRule> = by_kind.into_values().collect();
    (complete.try_into().ok().filter(|_| out.is_empty()), out)
}

fn mode_name(m: Mode) -> String {
    match m {
        Mode::Switch => "switch".into(),
        Mode::OptOut => "opt-out".into(),
    }
}

fn verb_name(v: Verb) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
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
        assert_eq!(c.rule(RuleKind::MsicDisable).id, "MIG101");
        for kind in RuleKind::ALL {
            assert_eq!(c.rule(kind).kind, kind);
            assert_eq!(RuleKind::from_name(kind.name()), Some(kind));
        }
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
            "phases:\n  switch: []\n  opt-out: []\nrules:\n  - id: MIGX\n    name: msic-disable\n    mode: switch\n    phase: 7\n    operation: update\n    verb: disable\n    summary: s\n    message: \"{nope}\"\n    why: w\n    example: e\n",
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
        assert!(all.contains("phase 7 is not the planner's"), "{all}");
        assert!(all.contains("{nope}"), "{all}");
        assert!(all.contains("xdr-create` is missing"), "{all}");
        assert!(all.contains("unknown variant `weird`"), "{all}");
        assert!(all.contains("products.yaml:3:13"), "{all}");
        assert!(all.contains("unknown migration rules file"), "{all}");
    }

    #[test]
    fn verify_queries_are_checked_as_a_whole() {
        let v = Catalog::embedded().unwrap().verify;
        assert_eq!(
            v.checks.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            Verify::CHECKS
        );
        for c in &v.checks {
            assert!(
                c.query.contains("TimeGenerated >= ") && !c.query.contains("ago("),
                "{}: bounded by the window, not by now",
                c.id
            );
            if c.query.contains("SecurityIncident") {
                assert!(
                    c.query
                        .contains("summarize arg_max(TimeGenerated, *) by IncidentName"),
                    "{}: SecurityIncident holds a row per change",
                    c.id
                );
            }
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("verify.yaml"),
            "query_api_version: ''\nxdr_providers: []\nsentinel_providers: [Azure Sentinel]\nlost_alerts_below: 1.5\nchecks:\n  - {id: duplicates, title: t, proves: p, cannot: c, query: q}\n  - {id: duplicates, title: t, proves: p, cannot: c, query: q}\n  - {id: guess, title: t, proves: p, cannot: c, query: ' '}\n",
        )
        .unwrap();
        let Err(Error::Rules(ds)) = Catalog::load(Some(dir.path())) else {
            panic!("invalid verify.yaml must fail")
        };
        let all: String = ds.iter().map(|d| format!("{d}\n")).collect();
        for says in [
            "check `alerts-per-day` is listed 0 times",
            "check `duplicates` is listed 2 times",
            "unknown check `guess`",
            "check `guess` has an empty title or query",
            "xdr_providers and sentinel_providers must not be empty",
            "lost_alerts_below is 1.5",
            "query_api_version is empty",
        ] {
            assert!(all.contains(says), "{says}: {all}");
        }
    }

    /// The embedded migration.yaml with every fact restated after each
    /// rule's `name:` line, as a rules file of an older version wrote it;
    /// `change` may alter what is written for a rule.
    fn restated(change: impl Fn(RuleKind, &str, String) -> String) -> String {
        let text = EMBEDDED
            .iter()
            .find(|(n, _)| *n == "migration.yaml")
            .map(|(_, t)| *t)
            .unwrap();
        let mut out = String::new();
        for line in text.lines() {
            out.push_str(line);
            out.push('\n');
            let Some(kind) = line
                .trim()
                .strip_prefix("name: ")
                .and_then(RuleKind::from_name)
            else {
                continue;
            };
            for (key, value) in [
                ("mode", mode_name(kind.mode())),
                ("phase", kind.phase().to_string()),
                ("operation", kind.operation().as_str().to_string()),
                ("verb", verb_name(kind.verb())),
            ] {
                out.push_str(&format!("    {key}: {}\n", change(kind, key, value)));
            }
        }
        out
    }

    fn load_migration(text: &str) -> std::result::Result<Catalog, Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("migration.yaml"), text).unwrap();
        match Catalog::load(Some(dir.path())) {
            Ok(c) => Ok(c),
            Err(Error::Rules(ds)) => Err(ds.iter().map(|d| d.to_string()).collect()),
            Err(e) => panic!("unexpected error {e}"),
        }
    }

    #[test]
    fn facts_restated_as_the_planner_has_them_load() {
        let c = load_migration(&restated(|_, _, v| v)).unwrap();
        assert_eq!(
            c.rule(RuleKind::LegacyDisconnect).phase(),
            Phase::Disconnect
        );
    }

    #[test]
    fn a_rules_file_cannot_move_the_disconnection_or_its_gate() {
        let text = restated(|kind, key, v| match (kind, key) {
            (RuleKind::LegacyDisconnect, "phase") => "2".into(),
            (RuleKind::LegacyDisconnect, "operation") => "update".into(),
            (RuleKind::MsicDisable, "mode") => "opt-out".into(),
            _ => v,
        });
        let problems = load_migration(&text).expect_err("an edited gate must be refused");
        let all = problems.join("\n");
        assert_eq!(problems.len(), 3, "one diagnostic per problem: {all}");
        let line_of = |needle: &str| {
            text.lines()
                .position(|l| l.contains(needle))
                .map(|i| i + 1)
                .unwrap()
        };
        // legacy-disconnect's restated phase: the first `phase: 2` after its name.
        let legacy = line_of("name: legacy-disconnect");
        let phase_line = legacy + 2;
        assert!(
            all.contains(&format!("migration.yaml:{phase_line}:5")),
            "points at the line: {all}"
        );
        assert!(
            all.contains("rule MIG201 (legacy-disconnect): phase 2 is not the planner's"),
            "{all}"
        );
        assert!(all.contains("expected: phase 3"), "{all}");
        assert!(all.contains("--confirm tenant-connector"), "{all}");
        assert!(
            all.contains("rule MIG201 (legacy-disconnect): operation update is not the planner's"),
            "{all}"
        );
        assert!(
            all.contains("rule MIG101 (msic-disable): mode opt-out is not the planner's"),
            "{all}"
        );
    }

    #[test]
    fn phase_numbers_are_fixed() {
        let text = EMBEDDED
            .iter()
            .find(|(n, _)| *n == "migration.yaml")
            .map(|(_, t)| t.replacen("    - number: 3\n", "    - number: 4\n", 1))
            .unwrap();
        let all = load_migration(&text).unwrap_err().join("\n");
        assert!(all.contains("phases.switch: numbers 1, 2, 4"), "{all}");
    }

    #[test]
    fn only_deleting_a_data_connector_waits_and_it_runs_last() {
        for kind in RuleKind::ALL {
            let destructive = kind.operation() == Operation::Delete;
            assert_eq!(kind.gate().is_some(), destructive, "{kind:?}");
            if kind.gate().is_some() {
                assert_eq!(kind.phase(), Phase::Disconnect, "{kind:?}");
                assert_eq!(Phase::ALL.last(), Some(&Phase::Disconnect));
            }
            assert!(
                Phase::of_mode(kind.mode()).contains(&kind.phase()),
                "{kind:?}"
            );
        }
        assert_eq!(
            Gate::for_change(Operation::Delete, Some(ResourceType::DataConnectors)),
            Some(Gate::TenantConnector)
        );
        assert_eq!(
            Gate::for_change(Operation::Update, Some(ResourceType::DataConnectors)),
            None
        );
    }
}
