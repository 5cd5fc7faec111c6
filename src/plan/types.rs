//! The plan as written to `plan.json`: versioned types, separate from the
//! internal model, so the file format changes only on purpose
//! (`docs/plan-format.md`).

use crate::catalog::{self, Gate, Manual, Mode, Operation, Verb};
use crate::model::{Origin, ResourceType};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub use super::body::{Body, Omit, verbatim};

pub const FORMAT_VERSION: &str = "1";

/// What `--scheduled-rules` asks for Scheduled/NRT rules that create
/// incidents from Defender for Cloud alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduledRules {
    /// Turn the rule off.
    Disable,
    /// Keep the rule, stop it creating incidents.
    StopIncidents,
    /// Change nothing; list the rule for review.
    Review,
}

/// Whether a workspace is onboarded to the Defender portal
/// (`--defender-portal`; there is no ARM read of it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortalState {
    NotOnboarded,
    Onboarded,
    /// Not given: planned as not onboarded, with what would differ said.
    #[default]
    Unknown,
}

impl PortalState {
    pub fn as_str(self) -> &'static str {
        match self {
            PortalState::NotOnboarded => "not-onboarded",
            PortalState::Onboarded => "onboarded",
            PortalState::Unknown => "unknown",
        }
    }
}

/// What the settings file (`--settings`) says of one workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceSettings {
    /// Its tenant (lower-cased GUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// It is its tenant's primary workspace.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defender_portal: Option<PortalState>,
}

/// The planner's settings, recorded in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub mode: Mode,
    pub scheduled_rules: ScheduledRules,
    pub tenant_id: Option<String>,
    /// `--primary-workspace`: primary workspaces given (ARM ids, one per tenant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_workspaces: Vec<String>,
    /// `--defender-portal`: the portal state of every workspace the settings
    /// file does not give one.
    #[serde(default)]
    pub defender_portal: PortalState,
    /// The settings file's workspaces, by lower-cased ARM id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub workspaces: BTreeMap<String, WorkspaceSettings>,
    /// Plan an automation rule that keeps the filters of the incident
    /// creation rules turned off (unless `--no-preserve-filters`).
    #[serde(default = "yes")]
    pub preserve_filters: bool,
    /// `--rewrite-automation`: rewrite automation conditions naming rules
    /// turned off, where that is safe, instead of only reviewing them.
    #[serde(default)]
    pub rewrite_automation: bool,
}

fn yes() -> bool {
    true
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::Switch,
            scheduled_rules: ScheduledRules::Disable,
            tenant_id: None,
            primary_workspaces: Vec::new(),
            defender_portal: PortalState::Unknown,
            workspaces: BTreeMap::new(),
            preserve_filters: true,
            rewrite_automation: false,
        }
    }
}

/// A workspace's part in its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The tenant's primary workspace: Defender XDR and the tenant-based
    /// connector are connected here (also a tenant's only workspace).
    Primary,
    /// Another workspace of the tenant: it loses its legacy connectors and
    /// Defender for Cloud incidents, which appear in the primary.
    Secondary,
}

/// A workspace's tenant, role and portal state, and where each came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenancy {
    /// The tenant (lower-cased GUID), or null when unknown.
    pub tenant_id: Option<String>,
    /// Where the tenant came from (`settings file`, `the Defender XDR
    /// connector ...`, `subscription.json ...`, `--tenant-id`), or why it
    /// is unknown.
    pub tenant_source: String,
    pub role: Role,
    /// Why it has that role.
    pub role_source: String,
    /// The tenant's primary workspace (itself for a primary).
    pub primary: Option<String>,
    /// The tenant's other workspaces, sorted.
    #[serde(default)]
    pub secondaries: Vec<String>,
    pub defender_portal: PortalState,
}

/// An input file read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    pub path: String,
    pub sha256: String,
    pub format: Option<String>,
    pub resources: usize,
}

/// A file (or part of one) left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The migration rule id, `MIG101`.
    pub code: String,
    pub message: String,
}

/// Evidence for a decision: a place in a query (or a file) and what it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// 1-based line and column in the query (or the value) the evidence is about.
    pub line: usize,
    pub column: usize,
    pub text: String,
    pub explanation: String,
    /// The same place in the export file, when it can be worked out.
    pub source: Option<Origin>,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// Stable across runs: the migration rule id and a hash of what it acts on.
    pub id: String,
    /// The workspace ARM id, or null when the export does not say.
    pub workspace: Option<String>,
    pub phase: catalog::Phase,
    pub operation: Operation,
    /// The word the summary counts it under (`disable`, `stop-incidents`, ...).
    pub verb: Verb,
    pub resource_type: Option<ResourceType>,
    pub resource_id: Option<String>,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub display_name: Option<String>,
    pub reason: Reason,
    /// The resource as exported (null for a create or a workspace-level step).
    pub before: Option<Body>,
    /// The resource as it must be written (null for a delete, a manual step
    /// or a review).
    pub after: Option<Body>,
    /// The etag observed in the export; apply refuses to act if Azure's differs.
    pub etag: Option<String>,
    /// The api-version to read and write the resource with.
    pub api_version: Option<String>,
    /// Where the resource was read from.
    pub source: Option<Origin>,
    pub evidence: Vec<Evidence>,
    /// For manual steps: where, who, and how to verify.
    pub manual: Option<Manual>,
    /// The values the step sets, as JMESPath paths into the resource
    /// (`properties.enabled`): what apply checks to know a step took
    /// effect and what verify compares. Empty for deletes and reviews.
    pub desired: Vec<Desired>,
    /// Why the step cannot be applied from this plan, if it cannot (the
    /// resource came from a template or YAML file, not a live export).
    pub blocked: Option<String>,
    /// The confirmation the step waits for (`tenant-connector`), or null.
    /// Apply and apply.sh also derive it from the operation and resource
    /// type ([`Action::required_gate`]), so an edited plan cannot drop it.
    #[serde(default)]
    pub gate: Option<Gate>,
    /// How the step is carried out: a patch to the file it was read from,
    /// apply (apply.sh), or by hand. Null for reviews (and in older plans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
}

/// The path a step takes (`docs/patches.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    /// A change to a file the user owns (ARM template, parameters file,
    /// YAML): `plan --patch FILE` or `plan --write`.
    Patch,
    /// A change through ARM: `apply` or apply.sh.
    Apply,
    /// A step for a person.
    Manual,
}

/// How one step is carried out, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Via {
    pub route: Route,
    /// For `patch`: the place edited: the resource (its object in a
    /// template, or its YAML document), or the value in a parameters file
    /// that pins the value changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Origin>,
    /// For `patch` of a parameters file: the template parameter whose value
    /// `file` points at (the template writes `[parameters('NAME')]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// For `manual`: why a change read from a file is not patched (it stays
    /// a step for a person: change the file by hand). For `patch`: what the
    /// patch does not do (a connector removed from its template is still
    /// connected in Azure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Action {
    /// The confirmation this step must wait for: the one the plan records,
    /// or, whatever the plan says, the one its operation on its resource
    /// type needs (deleting a data connector always waits).
    pub fn required_gate(&self) -> Option<Gate> {
        self.gate
            .or_else(|| Gate::for_change(self.operation, self.resource_type))
    }
}

/// One value a step sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desired {
    pub path: String,
    pub value: Value,
}

/// A phase of the plan and what it is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    pub number: catalog::Phase,
    pub title: String,
}

/// Per-workspace facts and notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceReport {
    pub id: Option<String>,
    pub data_connectors: usize,
    pub alert_rules: usize,
    pub automation_rules: usize,
    /// Resource types the inputs hold nothing of for this workspace: not
    /// exported, so not checked (a type read and found empty is not here).
    #[serde(default)]
    pub not_read: Vec<ResourceType>,
    /// Its tenant, role and portal state (absent in older plans; null for
    /// resources whose files name no workspace).
    #[serde(default)]
    pub tenancy: Option<Tenancy>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub disable: usize,
    pub stop_incidents: usize,
    pub delete: usize,
    pub manual: usize,
    pub review: usize,
    /// Resources the plan writes: creates, updates (disables included), deletes.
    pub changes: usize,
    pub total: usize,
}

impl Summary {
    pub fn count(actions: &[Action]) -> Summary {
        let mut s = Summary::default();
        for a in actions {
            match a.verb {
                Verb::Create => s.create += 1,
                Verb::Update => s.update += 1,
                Verb::Disable => s.disable += 1,
                Verb::StopIncidents => s.stop_incidents += 1,
                Verb::Delete => s.delete += 1,
                Verb::Manual => s.manual += 1,
                Verb::Review => s.review += 1,
            }
        }
        s.changes = s.create + s.update + s.disable + s.stop_incidents + s.delete;
        s.total = actions.len();
        s
    }

    /// Whether anything is to be done: a change or a manual step. Items only
    /// for review are not changes (`--detailed-exitcode` exits 0 on them).
    pub fn has_changes(&self) -> bool {
        self.changes + self.manual > 0
    }
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: String,
    /// The tool and version that wrote it.
    pub generator: String,
    pub settings: Settings,
    pub phases: Vec<Phase>,
    pub inputs: Vec<Input>,
    pub skipped: Vec<Skipped>,
    pub workspaces: Vec<WorkspaceReport>,
    pub actions: Vec<Action>,
    pub summary: Summary,
}

/// The version of `--explain --format json` output
/// (`docs/plan-format.md`, "Explain").
pub const EXPLAIN_FORMAT_VERSION: &str = "1";

/// `plan --explain RULE`: the planner's decision about each analytics rule
/// that matches, as `plan` takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    pub format_version: String,
    pub generator: String,
    pub settings: Settings,
    pub rules: Vec<ExplainedRule>,
}

/// One analytics rule and the decision about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainedRule {
    pub name: String,
    pub display_name: Option<String>,
    pub kind: Option<String>,
    pub resource_id: Option<String>,
    /// Where the rule was read from.
    pub source: Origin,
    /// null when the export does not say (or a template leaves it open).
    pub enabled: Option<bool>,
    pub creates_incidents: bool,
    /// `dfc`, `review` or `none`.
    pub verdict: crate::kql::Verdict,
    pub explanation: String,
    pub evidence: Vec<Evidence>,
    /// The plan's step for the rule (as in `plan.json`), or null: nothing to do.
    pub action: Option<Action>,
}
