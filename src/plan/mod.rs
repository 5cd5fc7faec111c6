//! The planner: from resources and migration rules to a [`Plan`].
//!
//! **Pure**: no files, no network, no terminal, no clock. The same inputs
//! give the same plan, byte for byte once rendered.
//!
//! Per workspace, in Microsoft's order: phase 1 makes the new path ready
//! (Defender XDR incidents on, the tenant-based connector connected: a
//! manual step), phase 2 turns off what creates Defender for Cloud
//! incidents in Sentinel, phase 3 disconnects the legacy connectors, only
//! once the manual step is confirmed. Already-migrated resources produce
//! nothing: planning the desired state yields an empty plan.

mod body;
mod route;
pub mod suppress;
mod tenancy;
mod types;

pub use types::*;

use crate::catalog::{self, Catalog, Family, Manual, Mode, Operation, RuleKind};
use crate::error::Result;
use crate::kql::{Classifier, Verdict};
use crate::model::{Format, Inputs, Keep, Origin, Resource, ResourceType, Unfixed, Workspace};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Plans the migration of every workspace in `inputs`, per tenant: an
/// error (before anything is planned) when a tenant's primary workspace
/// cannot be told.
pub fn plan(inputs: &Inputs, catalog: &Catalog, settings: &Settings) -> Result<Plan> {
    plan_on(inputs, catalog, settings, 0)
}

/// [`plan`] on up to `jobs` threads (0: one per CPU), workspaces side by
/// side: the plan is the same whatever the number.
pub fn plan_on(
    inputs: &Inputs,
    catalog: &Catalog,
    settings: &Settings,
    jobs: usize,
) -> Result<Plan> {
    plan_with(inputs, catalog, settings, &Classifier::new(catalog), jobs)
}

fn plan_with(
    inputs: &Inputs,
    catalog: &Catalog,
    settings: &Settings,
    classifier: &Classifier,
    jobs: usize,
) -> Result<Plan> {
    let tenancies = tenancy::resolve(inputs, catalog, settings)?;
    let planner = Planner {
        catalog,
        classifier,
        settings,
        bodies: true,
    };
    let mut groups: BTreeMap<Option<String>, (Option<&Workspace>, Vec<&Resource>)> =
        BTreeMap::new();
    // A run of resources of one workspace (a file's, mostly) at a time.
    let all = &inputs.resources;
    let mut at = 0;
    while let Some(first) = all.get(at) {
        let ws = first.workspace.as_ref();
        let run = all[at..]
            .iter()
            .take_while(|r| r.workspace.as_ref() == ws)
            .count();
        groups
            .entry(ws.map(Workspace::key))
            .or_insert_with(|| (ws, Vec::new()))
            .1
            .extend(&all[at..at + run]);
        at += run;
    }
    // Known workspaces first (sorted by id), then resources with none.
    let mut ordered: Vec<_> = groups.into_iter().collect();
    ordered.sort_by_key(|(k, _)| (k.is_none(), k.clone()));

    // Secondaries first: their tenant's primary connects what they need.
    let secondary = |k: &Option<String>| {
        k.as_ref()
            .and_then(|k| tenancies.get(k))
            .is_some_and(|(t, _)| t.role == Role::Secondary)
    };
    let mut order: Vec<usize> = (0..ordered.len()).collect();
    order.sort_by_key(|&i| !secondary(&ordered[i].0));
    let mut tenant_pending: BTreeMap<String, bool> = BTreeMap::new();
    let mut planned: Vec<Option<(WorkspaceReport, Vec<Action>)>> = vec![None; ordered.len()];
    let pending_of = |i: usize, tenant_pending: &BTreeMap<String, bool>| {
        let tenancy = ordered[i].0.as_ref().and_then(|k| tenancies.get(k));
        tenancy
            .and_then(|(t, _)| t.primary.as_ref())
            .is_some_and(|p| tenant_pending.get(&p.to_ascii_lowercase()) == Some(&true))
    };
    let one = |i: usize, pending: bool| {
        let (key, (ws, resources)) = &ordered[i];
        let (ws, mut resources) = (*ws, resources.clone());
        let tenancy = key.as_ref().and_then(|k| tenancies.get(k));
        // Each key built once (a name lowered per comparison was 20,000
        // allocations for a workspace of 1,000 rules); stable, as before.
        resources
            .sort_by_cached_key(|&r| (r.resource_type, r.name.to_ascii_lowercase(), &r.origin));
        let mut notes = Vec::new();
        let packages_read = inputs
            .covered
            .contains(&(ws.map(Workspace::key), ResourceType::ContentPackages));
        let mut ws_actions = planner.workspace(
            ws,
            &resources,
            &mut notes,
            tenancy.map(|(t, _)| t),
            pending,
            packages_read,
        );
        ws_actions.sort_by_cached_key(sort_key);
        // Over-matching automation first in its phase: the most urgent review.
        let urgent = &catalog.rule(RuleKind::AutomationOverMatch).id;
        ws_actions.sort_by_key(|a| (a.phase, &a.reason.code != urgent));
        if let Some((t, tenant_notes)) = tenancy {
            notes.extend(tenant_notes.iter().cloned());
            if !ws_actions.is_empty() {
                notes.push(portal_note(t.defender_portal).into());
            }
        }
        let count = |t: ResourceType| resources.iter().filter(|r| r.resource_type == t).count();
        let key = ws.map(Workspace::key);
        let not_read: Vec<ResourceType> = ResourceType::ALL
            .into_iter()
            .filter(|t| {
                t.required() && count(*t) == 0 && !inputs.covered.contains(&(key.clone(), *t))
            })
            .collect();
        for (i, t) in not_read.iter().enumerate() {
            notes.insert(i, not_read_note(*t).into());
        }
        if ws.is_none() {
            notes.insert(
                0,
                "these resources come from files that do not name their workspace (templates, YAML): plan again with --workspace to make their changes appliable".into(),
            );
        }
        (
            WorkspaceReport {
                id: ws.map(|w| w.id().to_string()),
                data_connectors: count(ResourceType::DataConnectors),
                alert_rules: count(ResourceType::AlertRules),
                automation_rules: count(ResourceType::AutomationRules),
                not_read,
                tenancy: tenancy.map(|(t, _)| t.clone()),
                notes,
            },
            ws_actions,
        )
    };
    // Secondaries one by one, in order: each one's changes make its
    // primary's connector step wait for it. Then every other workspace,
    // side by side (results in order: the plan is the same whatever the
    // number of threads).
    let (secondaries, others): (Vec<usize>, Vec<usize>) =
        order.into_iter().partition(|&i| secondary(&ordered[i].0));
    for i in secondaries {
        let done = one(i, pending_of(i, &tenant_pending));
        let tenancy = ordered[i].0.as_ref().and_then(|k| tenancies.get(k));
        if let Some((t, _)) = tenancy
            && let Some(p) = &t.primary
        {
            let changes = done.1.iter().any(|a| a.operation.is_change());
            *tenant_pending.entry(p.to_ascii_lowercase()).or_default() |= changes;
        }
        planned[i] = Some(done);
    }
    let done = crate::par::map(others.clone(), jobs, |i| {
        one(i, pending_of(i, &tenant_pending))
    });
    for (i, d) in others.into_iter().zip(done) {
        planned[i] = Some(d);
    }
    if settings.mode == Mode::Switch && settings.preserve_filters {
        planner.suppressions(&ordered, &tenancies, &mut planned);
    }
    let mut actions = Vec::new();
    let mut workspaces = Vec::new();
    for (report, mut ws_actions) in planned.into_iter().flatten() {
        workspaces.push(report);
        actions.append(&mut ws_actions);
    }
    route::route(&mut actions, &inputs.resources);
    let summary = Summary::count(&actions);
    Ok(Plan {
        format_version: FORMAT_VERSION.into(),
        generator: format!("sentinel-migrate {}", env!("CARGO_PKG_VERSION")),
        settings: settings.clone(),
        // The catalog has a title for each phase of the mode, in order.
        phases: catalog::Phase::of_mode(settings.mode)
            .iter()
            .zip(catalog.phase_titles(settings.mode))
            .map(|(&number, p)| Phase {
                number,
                title: p.title.clone(),
            })
            .collect(),
        inputs: inputs
            .files
            .iter()
            .map(|f| Input {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
                format: f.format.map(format_name),
                resources: f.resources,
            })
            .collect(),
        skipped: inputs
            .skipped
            .iter()
            .map(|s| Skipped {
                path: s.path.clone(),
                reason: s.reason.clone(),
            })
            .collect(),
        workspaces,
        actions,
        summary,
    })
}

/// The workspaces of a plan, grouped with their resources, by key.
type Groups<'a> = [(Option<String>, (Option<&'a Workspace>, Vec<&'a Resource>))];

/// A workspace's actions in plan order: by phase, over-matching automation
/// first in its phase, then changes before manual steps and reviews.
fn order_actions(catalog: &Catalog, actions: &mut [Action]) {
    actions.sort_by_cached_key(sort_key);
    let urgent = &catalog.rule(RuleKind::AutomationOverMatch).id;
    actions.sort_by_key(|a| (a.phase, &a.reason.code != urgent));
}

/// What the Defender portal state means for a workspace's plan.
fn portal_note(state: PortalState) -> &'static str {
    match state {
        PortalState::Onboarded => {
            "onboarded to the Defender portal (--defender-portal onboarded): onboarding switched off its Microsoft incident creation rules (an enabled one is reported, not changed, so rollback never turns one on); Scheduled and NRT rules keep their incident settings and are still changed here; the manual steps use Defender portal paths"
        }
        PortalState::NotOnboarded => {
            "not onboarded to the Defender portal (--defender-portal not-onboarded): onboarding it later switches off every Microsoft incident creation rule (and Fusion) itself, whatever this plan left on; Scheduled and NRT rules keep their incident settings"
        }
        PortalState::Unknown => {
            "Defender portal state unknown (give --defender-portal): planned as not onboarded. If it is onboarded, its Microsoft incident creation rules are already off (an enabled one is an anomaly to report, not a step, and rollback must not turn it back on) and the manual steps are in the Defender portal (System > Settings > Microsoft Sentinel)"
        }
    }
}

/// What the plan could not check when a resource type was not read at all.
fn not_read_note(t: ResourceType) -> &'static str {
    match t {
        ResourceType::DataConnectors => {
            "no data connectors were read: legacy connectors cannot be planned and the Defender XDR connector's state is unknown (export dataConnectors too)"
        }
        ResourceType::AlertRules => {
            "no analytics rules were read: rules that create Defender for Cloud incidents cannot be found (export alertRules too)"
        }
        ResourceType::AutomationRules => {
            "no automation rules were read: automation whose meaning changes with the switch cannot be reported (export automationRules too)"
        }
        ResourceType::ContentPackages => {
            "no Content hub packages were read: the Microsoft Defender for Cloud solution's version cannot be checked (export contentPackages too)"
        }
    }
}

/// The name of a format as `plan.json` writes it (`arm-list`).
pub fn format_name(f: Format) -> String {
    serde_json::to_value(f)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Within a phase, changes come before manual steps and reviews: the
/// solution is installed before the manual step that connects it. Built
/// once per action (`sort_by_cached_key`, stable as `sort_by_key`): it
/// allocates.
fn sort_key(a: &Action) -> (catalog::Phase, bool, String, String, String) {
    (
        a.phase,
        !a.operation.is_change(),
        a.reason.code.clone(),
        a.display_name.clone().unwrap_or_default().to_lowercase(),
        format!(
            "{}|{}",
            a.name.clone().unwrap_or_default(),
            a.source.as_ref().map(|o| o.to_string()).unwrap_or_default()
        ),
    )
}

struct Planner<'c> {
    catalog: &'c Catalog,
    classifier: &'c Classifier,
    settings: &'c Settings,
    /// Whether steps carry the resource's body (`before`): not when only
    /// whether there is a step is asked ([`Steps`]).
    bodies: bool,
}

/// An analytics rule and the planner's decision about it.
struct RuleOutcome<'r> {
    rule: &'r Resource,
    decision: RuleDecision,
}

/// The planner's decision about one analytics rule: what the rule is
/// (`verdict`, with its explanation and evidence) and what the plan does
/// with it (`action`). `plan` and `--explain` both show this one decision.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDecision {
    /// `dfc`: it creates incidents from Defender for Cloud alerts; `review`:
    /// a human decides (the classifier is unsure, or the decision rests on
    /// a template placeholder); `none`: it does not.
    pub verdict: Verdict,
    pub explanation: String,
    pub evidence: Vec<Evidence>,
    /// The step the plan takes for it, if any.
    pub action: Option<Action>,
    /// Its product or query is Defender for Cloud's, as far as the inputs
    /// say (a template default included), enabled or not.
    pub dfc: bool,
    /// A note for the workspace report (a rule exported without its query).
    pub note: Option<String>,
}

impl RuleDecision {
    fn none(explanation: String, dfc: bool) -> RuleDecision {
        RuleDecision {
            verdict: Verdict::None,
            explanation,
            evidence: Vec::new(),
            action: None,
            dfc,
            note: None,
        }
    }
}

/// `--explain`: the planner's decision about each of `rules`, the path
/// of its step decided over all the inputs' `resources`, as `plan` does.
pub fn explain(
    rules: &[&Resource],
    resources: &[Resource],
    catalog: &Catalog,
    settings: &Settings,
) -> Explanation {
    Explanation {
        format_version: EXPLAIN_FORMAT_VERSION.into(),
        generator: format!("sentinel-migrate {}", env!("CARGO_PKG_VERSION")),
        settings: settings.clone(),
        rules: rules
            .iter()
            .map(|r| {
                let mut d = decide(r, catalog, settings);
                route::route(d.action.as_mut_slice(), resources);
                ExplainedRule {
                    name: r.name.clone(),
                    display_name: r.display_name().map(str::to_string),
                    kind: r.kind.clone(),
                    resource_id: r.resource_id(),
                    source: r.origin.clone(),
                    enabled: r.enabled(),
                    creates_incidents: r.is_kind("MicrosoftSecurityIncidentCreation")
                        || creates_incidents(r),
                    verdict: d.verdict,
                    explanation: d.explanation,
                    evidence: d.evidence,
                    action: d.action,
                }
            })
            .collect(),
    }
}

/// Whether the plan takes a step on a resource, as it is read: the reader
/// keeps the whole body (the step's `before`) of those alone
/// ([`crate::source::read_with`]). Every step on an analytics rule comes
/// from the one decision about it, which nothing else in the inputs
/// changes (`tests/pruning.rs` plans every fixture this way and with whole
/// bodies and compares every artifact).
pub struct Steps<'c> {
    catalog: &'c Catalog,
    settings: &'c Settings,
    /// Shared with [`Steps::plan`]: a rule decided as it was read is not
    /// classified again.
    classifier: Classifier,
}

impl<'c> Steps<'c> {
    pub fn new(catalog: &'c Catalog, settings: &'c Settings) -> Steps<'c> {
        Steps {
            catalog,
            settings,
            classifier: Classifier::new(catalog),
        }
    }

    /// [`plan_on`] the inputs read with [`Steps::keep`].
    pub fn plan(&self, inputs: &Inputs, jobs: usize) -> Result<Plan> {
        plan_with(inputs, self.catalog, self.settings, &self.classifier, jobs)
    }

    /// What of `r` the plan wants (for any but an analytics rule, all).
    pub fn keep(&self, r: &Resource) -> Keep {
        if r.resource_type != ResourceType::AlertRules {
            return Keep::Whole;
        }
        // Opting out drops the steps once decided: the decision itself
        // reads the body.
        let planner = Planner {
            catalog: self.catalog,
            classifier: &self.classifier,
            settings: self.settings,
            bodies: false,
        };
        let d = planner.decision(r);
        if d.action.is_some() {
            Keep::Whole
        } else if d.dfc || d.note.is_some() {
            Keep::Values
        } else {
            Keep::Nothing
        }
    }
}

/// The planner's decision about one analytics rule, as `plan` takes it.
pub fn decide(rule: &Resource, catalog: &Catalog, settings: &Settings) -> RuleDecision {
    let mut d = Planner {
        catalog,
        classifier: &Classifier::new(catalog),
        settings,
        bodies: true,
    }
    .rule(rule)
    .decision;
    route::route(d.action.as_mut_slice(), std::slice::from_ref(rule));
    d
}

impl Planner<'_> {
    fn workspace(
        &self,
        ws: Option<&Workspace>,
        resources: &[&Resource],
        notes: &mut Vec<String>,
        tenancy: Option<&Tenancy>,
        tenant_pending: bool,
        packages_read: bool,
    ) -> Vec<Action> {
        let c = &self.catalog.connectors;
        let of_type = |t: ResourceType| {
            resources
                .iter()
                .copied()
                .filter(move |r| r.resource_type == t)
        };
        let legacy: Vec<&Resource> = of_type(ResourceType::DataConnectors)
            .filter(|r| r.is_kind(&c.legacy.kind))
            .collect();
        let xdr: Vec<&Resource> = of_type(ResourceType::DataConnectors)
            .filter(|r| r.is_kind(&c.xdr.kind))
            .collect();
        let tenant_ui = of_type(ResourceType::DataConnectors).find(|r| {
            c.ui_definitions.kinds.iter().any(|k| r.is_kind(k))
                && c.ui_definitions
                    .tenant_based_names
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(&r.name))
        });
        // What the inputs say of the solution: None when no package was read.
        let solution = (packages_read
            || resources
                .iter()
                .any(|r| r.resource_type == ResourceType::ContentPackages))
        .then(|| {
            of_type(ResourceType::ContentPackages).find(|r| {
                r.prop_str("contentId")
                    .unwrap_or(&r.name)
                    .eq_ignore_ascii_case(&c.solution.content_id)
            })
        });

        let mut outcomes = Vec::new();
        // A rule the planner made nothing of as it was read (no step, not
        // Defender for Cloud's, no note) is left out: its decision is the same.
        for rule in of_type(ResourceType::AlertRules).filter(|r| !r.is_settled()) {
            let outcome = self.rule(rule);
            notes.extend(outcome.decision.note.clone());
            outcomes.push(outcome);
        }
        let tenant = match tenancy {
            Some(t) => t
                .tenant_id
                .clone()
                .ok_or_else(|| t.tenant_source.clone())
                .map(|id| (id, t.tenant_source.clone())),
            None => self.loose_tenant(resources),
        };
        match (self.settings.mode, tenancy) {
            (Mode::Switch, Some(t)) if t.role == Role::Secondary => {
                self.secondary(ws, resources, &legacy, &xdr, t, outcomes, notes)
            }
            (Mode::Switch, _) => {
                if let Some(t) = tenancy.filter(|t| !t.secondaries.is_empty()) {
                    notes.push(format!(
                        "primary workspace of tenant {} ({}): the Defender XDR and tenant-based connectors are connected here, for the whole tenant; Defender for Cloud incidents of its secondary workspaces ({}) will appear here",
                        t.tenant_id.as_deref().unwrap_or("unknown"),
                        t.role_source,
                        t.secondaries.join(", ")
                    ));
                }
                self.switch(
                    ws,
                    resources,
                    &legacy,
                    &xdr,
                    (tenant_ui, solution),
                    outcomes,
                    tenant,
                    tenant_pending,
                )
            }
            (Mode::OptOut, _) => self.opt_out(ws, &legacy, &outcomes),
        }
    }

    /// The tenant of resources whose files name no workspace: `--tenant-id`,
    /// or the one tenant their connectors name; else why it is not known.
    fn loose_tenant(
        &self,
        resources: &[&Resource],
    ) -> std::result::Result<(String, String), String> {
        if let Some(t) = &self.settings.tenant_id {
            return Ok((t.clone(), "given with --tenant-id".to_string()));
        }
        let mut tenants: BTreeMap<String, String> = BTreeMap::new();
        for r in resources
            .iter()
            .filter(|r| r.resource_type == ResourceType::DataConnectors)
        {
            if self
                .catalog
                .connectors
                .tenant_id_kinds
                .iter()
                .any(|k| r.is_kind(k))
                && let Some(t) = r.prop_str("tenantId").filter(|t| is_guid(t))
            {
                tenants.entry(t.to_ascii_lowercase()).or_insert_with(|| {
                    format!(
                        "from the {} connector {}",
                        r.kind.as_deref().unwrap_or(""),
                        r.name
                    )
                });
            }
        }
        match tenants.len() {
            0 => Err("no tenant id in the exports".into()),
            1 => Ok(tenants.into_iter().next().unwrap_or_default()),
            _ => {
                let list = tenants.keys().cloned().collect::<Vec<_>>().join(", ");
                Err(format!("the exports name several tenants ({list})"))
            }
        }
    }

    /// A secondary workspace: no Defender XDR or tenant-based connector
    /// step (those belong to the primary); its legacy connectors go and its
    /// rules stop making Defender for Cloud incidents, as in any workspace;
    /// what handled those incidents here is reviewed, to be recreated in
    /// the primary.
    #[allow(clippy::too_many_arguments)]
    fn secondary(
        &self,
        ws: Option<&Workspace>,
        resources: &[&Resource],
        legacy: &[&Resource],
        xdr: &[&Resource],
        t: &Tenancy,
        outcomes: Vec<RuleOutcome>,
        notes: &mut Vec<String>,
    ) -> Vec<Action> {
        let primary = t.primary.clone().unwrap_or_default();
        let mut subscriptions: Vec<String> = ws
            .map(|w| w.subscription().to_string())
            .into_iter()
            .collect();
        subscriptions.extend(
            legacy
                .iter()
                .filter_map(|c| c.prop_str("subscriptionId").map(str::to_string)),
        );
        subscriptions.sort_by_key(|s| s.to_ascii_lowercase());
        subscriptions.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        notes.push(format!(
            "secondary workspace of tenant {} ({}): Defender for Cloud incidents for its subscriptions ({}) will appear in the primary workspace {primary}, not here; it gets no Defender XDR or tenant-based connector step, and its legacy connectors are disconnected only once the tenant-based connector is confirmed in the primary",
            t.tenant_id.as_deref().unwrap_or("unknown"),
            t.role_source,
            subscriptions.join(", ")
        ));
        if !xdr.is_empty() {
            notes.push(format!(
                "it has a Defender XDR connector: Defender XDR syncs incidents to the tenant's primary workspace only ({primary})"
            ));
        }
        let dfc = dfc_rules(&outcomes);
        let mut actions: Vec<Action> = outcomes
            .into_iter()
            .filter_map(|o| o.decision.action)
            .collect();
        for connector in legacy {
            actions.push(self.legacy_disconnect(connector));
        }
        let disabled = disabled_rules(&actions);
        let mut reviews = Vec::new();
        for r in resources
            .iter()
            .filter(|r| r.resource_type == ResourceType::AutomationRules)
        {
            let findings = self.automation_findings(r, &disabled, &dfc);
            let mut reasons = findings.reasons;
            if let Some(why) = self.handles_dfc(r, &dfc) {
                reasons.insert(0, format!(
                    "it handles Defender for Cloud incidents ({why}): after the switch they appear in the primary workspace {primary} only, so here it stops seeing them; recreate it there"
                ));
                let mut a = self.resource_step(
                    r,
                    RuleKind::SecondaryAutomationReview,
                    &[("explanation", reasons.join("; "))],
                );
                a.after = None;
                a.evidence = findings.evidence;
                reviews.push(a);
            } else if let Some(a) = self.automation_review(
                r,
                Findings {
                    reasons,
                    ..findings
                },
            ) {
                reviews.push(a);
            }
        }
        actions.extend(reviews);
        if !dfc.is_empty() {
            let names: Vec<String> = dfc.values().map(|n| format!("\"{n}\"")).collect();
            actions.push(self.workspace_step(
                ws,
                RuleKind::SecondaryAnalyticsReview,
                &[("rules", names.join(", ")), ("primary", primary.clone())],
            ));
        }
        actions
    }

    /// Why an automation rule handles Defender for Cloud incidents, if it does:
    /// a condition names a Defender for Cloud product or a rule that makes
    /// their incidents, or it has no condition at all (every incident).
    fn handles_dfc(&self, rule: &Resource, dfc_rules: &BTreeMap<String, String>) -> Option<String> {
        let props = rule.properties()?;
        let logic = props.get("triggeringLogic")?;
        let mut conditions = Vec::new();
        collect_conditions(
            logic.get("conditions").unwrap_or(&Value::Null),
            &mut conditions,
        );
        if conditions.is_empty() {
            return Some(
                "it has no conditions: it runs on every incident, Defender for Cloud's included"
                    .into(),
            );
        }
        for (name, values) in &conditions {
            for v in values {
                if self.is_dfc_product(v) {
                    return Some(format!("its {name} condition names \"{v}\""));
                }
                let last = v.rsplit('/').next().unwrap_or(v).to_ascii_lowercase();
                if let Some(shown) = dfc_rules.get(&last) {
                    return Some(format!(
                        "its {name} condition names \"{shown}\", a rule that makes Defender for Cloud incidents"
                    ));
                }
            }
        }
        None
    }

    #[allow(clippy::too_many_arguments)]
    fn switch(
        &self,
        ws: Option<&Workspace>,
        resources: &[&Resource],
        legacy: &[&Resource],
        xdr: &[&Resource],
        (tenant_ui, solution): (Option<&Resource>, Option<Option<&Resource>>),
        outcomes: Vec<RuleOutcome>,
        tenant: std::result::Result<(String, String), String>,
        tenant_pending: bool,
    ) -> Vec<Action> {
        let footprint = tenant_pending
            || !legacy.is_empty()
            || tenant_ui.is_some()
            || outcomes.iter().any(|o| o.decision.dfc);
        let dfc = dfc_rules(&outcomes);
        let mut actions: Vec<Action> = outcomes
            .into_iter()
            .filter_map(|o| o.decision.action)
            .collect();
        for connector in legacy {
            actions.push(self.legacy_disconnect(connector));
        }
        if !footprint {
            return actions;
        }
        let tenant_text = match &tenant {
            Ok((id, _)) => id.clone(),
            Err(_) => "(unknown: its id is not in the exports)".to_string(),
        };
        if let Some(a) = self.xdr(ws, xdr, tenant) {
            actions.push(a);
        }
        // The manual step gates phase 3; review items alone do not need it.
        // A primary connects it for its secondaries' changes too.
        let pending = tenant_pending
            || actions
                .iter()
                .any(|a| a.phase >= catalog::Phase::Incidents && a.operation.is_change());
        if pending {
            let (solution, step) = match solution {
                Some(package) => self.solution(ws, package),
                None if tenant_ui.is_some() => (
                    "the Microsoft Defender for Cloud solution is installed (its tenant-based connector definition is in the export; its version could not be checked: no contentPackages were read)".to_string(),
                    None,
                ),
                None => (
                    format!(
                        "install the Content hub solution \"{}\" {} or later (no tenant-based connector definition is in the export; its version could not be checked: no contentPackages were read)",
                        self.catalog.connectors.solution.display_name,
                        self.catalog.connectors.solution.minimum_version
                    ),
                    None,
                ),
            };
            actions.extend(step);
            actions.push(self.workspace_step(
                ws,
                RuleKind::TenantConnectorConnect,
                &[("solution", solution), ("tenant", tenant_text)],
            ));
            // Automation rules that stop matching once the switch is made.
            // Rules this plan turns off, by lower-cased name (an automation
            // rule names them by ARM id, whose last segment is the name).
            let disabled = disabled_rules(&actions);
            let reviews: Vec<Action> = resources
                .iter()
                .filter(|r| r.resource_type == ResourceType::AutomationRules)
                .filter(|r| !suppress::generated(r))
                .flat_map(|r| {
                    let mut findings = self.automation_findings(r, &disabled, &dfc);
                    let rewrite = self
                        .settings
                        .rewrite_automation
                        .then(|| self.rewrite(r, &disabled, &mut findings))
                        .flatten();
                    rewrite
                        .into_iter()
                        .chain(self.automation_review(r, findings))
                })
                .collect();
            actions.extend(reviews);
        }
        actions
    }

    /// The Content hub solution in a workspace whose packages were read: the
    /// text for the manual step, and the step that installs it (absent),
    /// upgrades it (older than the minimum) or asks for a check (a version
    /// that cannot be compared: never a downgrade).
    fn solution(
        &self,
        ws: Option<&Workspace>,
        package: Option<&Resource>,
    ) -> (String, Option<Action>) {
        let s = &self.catalog.connectors.solution;
        let minimum = crate::model::parse_version(&s.minimum_version).unwrap_or_default();
        let name = &s.display_name;
        let Some(package) = package else {
            let step = self.solution_install(ws);
            return (
                format!(
                    "the Content hub solution \"{name}\" is being installed at version {} (step {} before this one)",
                    s.install_version, step.id
                ),
                Some(step),
            );
        };
        let raw = package.prop_str("version").unwrap_or_default().to_string();
        match crate::model::parse_version(&raw) {
            Some(v) if v >= minimum => (
                format!("the Content hub solution \"{name}\" is installed at version {raw}"),
                None,
            ),
            Some(_) => {
                let mut a = self.resource_step(
                    package,
                    RuleKind::SolutionUpgrade,
                    &[
                        ("solution", name.clone()),
                        ("installed", raw.clone()),
                        ("version", s.install_version.clone()),
                        ("minimum", s.minimum_version.clone()),
                    ],
                );
                a.set("properties.version", json!(s.install_version));
                a.edit_after(|after| {
                    if let Some(p) = after.get_mut("properties").and_then(Value::as_object_mut) {
                        // What the service reports of the old install.
                        p.remove("installedVersion");
                    }
                });
                (
                    format!(
                        "the Content hub solution \"{name}\" is at version {raw} and is being upgraded to {} (step {} before this one)",
                        s.install_version, a.id
                    ),
                    Some(a),
                )
            }
            None => {
                let shown = if raw.is_empty() {
                    "none".to_string()
                } else {
                    format!("\"{raw}\"")
                };
                let mut a = self.resource_step(
                    package,
                    RuleKind::SolutionReview,
                    &[
                        ("solution", name.clone()),
                        ("installed", shown.clone()),
                        ("minimum", s.minimum_version.clone()),
                    ],
                );
                a.after = None;
                (
                    format!(
                        "the Content hub solution \"{name}\" reports version {shown}, which cannot be compared: check it is {} or later first (step {})",
                        s.minimum_version, a.id
                    ),
                    Some(a),
                )
            }
        }
    }

    /// Installs the solution: a contentPackages PUT modelled on the API's
    /// InstallPackage example.
    fn solution_install(&self, ws: Option<&Workspace>) -> Action {
        let s = &self.catalog.connectors.solution;
        let rule = self.catalog.rule(RuleKind::SolutionInstall);
        let t = ResourceType::ContentPackages;
        let name = s.content_id.clone();
        let id = ws.map(|w| w.resource_id(t, &name));
        let mut body = Map::new();
        if let Some(id) = &id {
            body.insert("id".into(), Value::String(id.clone()));
        }
        body.insert("name".into(), Value::String(name.clone()));
        body.insert(
            "properties".into(),
            json!({
                "contentId": name,
                "contentKind": "Solution",
                "displayName": s.display_name,
                "version": s.install_version,
            }),
        );
        body.insert("type".into(), Value::String(t.arm_type().into()));
        Action {
            id: action_id(
                &rule.id,
                &format!(
                    "{}|{}",
                    ws.map(Workspace::key).unwrap_or_default(),
                    name.to_ascii_lowercase()
                ),
            ),
            workspace: ws.map(|w| w.id().to_string()),
            phase: rule.phase(),
            gate: rule.kind.gate(),
            operation: rule.operation(),
            verb: rule.verb(),
            resource_type: Some(t),
            resource_id: id,
            name: Some(name),
            kind: None,
            display_name: Some(s.display_name.clone()),
            reason: Reason {
                code: rule.id.clone(),
                message: rule.message_with(&[
                    ("solution", s.display_name.clone()),
                    ("version", s.install_version.clone()),
                    ("minimum", s.minimum_version.clone()),
                ]),
            },
            before: None,
            after: Some(Value::Object(body).into()),
            etag: None,
            api_version: Some(self.catalog.api_version(t).to_string()),
            source: None,
            evidence: Vec::new(),
            manual: None,
            desired: vec![desired("properties.version", json!(s.install_version))],
            blocked: ws
                .is_none()
                .then(|| "the workspace is not known: plan again with --workspace".to_string()),
            via: None,
        }
    }

    fn opt_out(
        &self,
        ws: Option<&Workspace>,
        legacy: &[&Resource],
        outcomes: &[RuleOutcome],
    ) -> Vec<Action> {
        let mut actions = vec![self.workspace_step(ws, RuleKind::OptOutNoAlerts, &[])];
        if legacy.is_empty() {
            actions.push(self.workspace_step(ws, RuleKind::OptOutNoLegacyConnector, &[]));
        }
        for connector in legacy {
            let state = alerts_state(connector);
            if !state.eq_ignore_ascii_case("Enabled") {
                let subscription = connector
                    .prop_str("subscriptionId")
                    .unwrap_or("unknown")
                    .to_string();
                let mut a = self.resource_step(
                    connector,
                    RuleKind::OptOutLegacyAlertsOff,
                    &[("subscription", subscription), ("state", state)],
                );
                a.before = None;
                actions.push(a);
            }
        }
        // Does anything still create Defender for Cloud incidents in Sentinel?
        let is_msic = |r: &Resource| r.is_kind("MicrosoftSecurityIncidentCreation");
        let creators = outcomes.iter().any(|o| {
            o.decision.dfc
                && o.rule.enabled() == Some(true)
                && (is_msic(o.rule) || creates_incidents(o.rule))
        });
        if !creators {
            let disabled: Vec<String> = outcomes
                .iter()
                .filter(|o| o.decision.dfc && is_msic(o.rule) && o.rule.enabled() == Some(false))
                .map(|o| format!("\"{}\"", o.rule.display_name().unwrap_or(&o.rule.name)))
                .collect();
            let text = if disabled.is_empty() {
                String::new()
            } else {
                format!(" (turned off: {})", disabled.join(", "))
            };
            actions.push(self.workspace_step(
                ws,
                RuleKind::OptOutNoIncidentRule,
                &[("disabled", text)],
            ));
        }
        actions.push(self.workspace_step(ws, RuleKind::OptOutVerify, &[]));
        actions
    }

    fn is_dfc_product(&self, name: &str) -> bool {
        self.catalog.products.iter().any(|p| {
            p.family == Family::DefenderForCloud && p.name.eq_ignore_ascii_case(name.trim())
        })
    }

    // ---- phase 2 -----------------------------------------------------------

    /// The one decision about an analytics rule: what it is, and what the
    /// plan does with it (nothing when opting out: rules stay as they are).
    fn rule<'r>(&self, rule: &'r Resource) -> RuleOutcome<'r> {
        let mut decision = self.decision(rule);
        if self.settings.mode == Mode::OptOut {
            decision.action = None;
        }
        RuleOutcome { rule, decision }
    }

    /// The decision about an analytics rule, its step as the switch would
    /// take it.
    fn decision(&self, rule: &Resource) -> RuleDecision {
        let kind_unfixed = self.unfixed(rule, "/kind");
        if let Some(reason) = kind_unfixed {
            // Which properties matter depends on the kind: unknown, review.
            if self.fixed_false(rule, "/properties/enabled", rule.enabled()) {
                RuleDecision::none(
                    format!(
                        "it is turned off (enabled is false), so it creates no incidents, whatever its {}",
                        reason.0
                    ),
                    false,
                )
            } else if rule.prop("productFilter").is_some() {
                self.review(rule, RuleKind::MsicReview, reason, false)
            } else {
                self.review(rule, RuleKind::ScheduledReview, reason, false)
            }
        } else if rule.is_kind("MicrosoftSecurityIncidentCreation") {
            self.msic(rule)
        } else if rule.is_kind("Scheduled") || rule.is_kind("NRT") {
            self.scheduled(rule)
        } else {
            RuleDecision::none(
                format!(
                    "a {} rule: only incident creation rules and Scheduled/NRT rules create incidents from alerts",
                    rule.kind.as_deref().unwrap_or("kind-less")
                ),
                false,
            )
        }
    }

    /// What the inputs leave unfixed in the value at `pointer` (the value
    /// itself, a part of it such as one element of an array, or a value
    /// that holds it), as a review reason naming the parameters it rests on.
    fn unfixed(&self, rule: &Resource, pointer: &str) -> Option<(String, Vec<Evidence>)> {
        let within = |outer: &str, inner: &str| {
            inner == outer
                || inner
                    .strip_prefix(outer)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        let tv = rule
            .template_values
            .iter()
            .find(|t| !t.known && (within(&t.pointer, pointer) || within(pointer, &t.pointer)))?;
        let field = pointer.rsplit('/').next().unwrap_or(pointer);
        let mut why: Vec<String> = tv.unfixed.iter().map(ToString::to_string).collect();
        if why.is_empty() {
            why.push("its value cannot be worked out from the inputs".into());
        }
        // The value itself, or a value that holds it or a part of it.
        let explanation = if tv.pointer == pointer {
            format!("{field} is {}: {}", tv.expression, why.join("; "))
        } else {
            format!(
                "{field} rests on {} (at {}): {}",
                tv.expression,
                tv.pointer
                    .trim_start_matches("/properties/")
                    .replace('/', "."),
                why.join("; ")
            )
        };
        let written = tv.pointer.rsplit('/').next().unwrap_or(field);
        let text = if written.parse::<usize>().is_ok() {
            format!("\"{}\"", tv.expression)
        } else {
            format!("\"{written}\": \"{}\"", tv.expression)
        };
        let mut evidence = vec![evidence_at(
            &tv.at,
            text,
            format!("{explanation}{MAY_DIFFER}"),
        )];
        for u in &tv.unfixed {
            if let Unfixed::Reference { parameter, at } = u {
                evidence.push(evidence_at(
                    at,
                    format!("\"{parameter}\": {{\"reference\": …}}"),
                    "a Key Vault reference: the value is read at deployment".into(),
                ));
            }
        }
        Some((explanation, evidence))
    }

    /// The first of `pointers` the inputs do not fix, as a review reason.
    fn first_unfixed(&self, rule: &Resource, pointers: &[&str]) -> Option<(String, Vec<Evidence>)> {
        pointers.iter().find_map(|p| self.unfixed(rule, p))
    }

    /// Whether the inputs fix `properties.<path>` to false.
    fn fixed_false(&self, rule: &Resource, pointer: &str, value: Option<bool>) -> bool {
        value == Some(false) && self.unfixed(rule, pointer).is_none()
    }

    /// A review of an analytics rule: the decision rests on what the inputs
    /// do not fix.
    /// A decision that rests on a value the inputs do not fix: nothing to
    /// do when the inputs fix the rule as creating no incidents (`off` says
    /// why), else a review naming the value.
    fn rests_on_unknown(
        &self,
        rule: &Resource,
        kind: RuleKind,
        reason: (String, Vec<Evidence>),
        off: Option<&str>,
        dfc: bool,
    ) -> RuleDecision {
        match off {
            Some(why) => RuleDecision::none(
                format!(
                    "{why}, so it creates no incidents, whatever its {}",
                    reason.0
                ),
                dfc,
            ),
            None => self.review(rule, kind, reason, dfc),
        }
    }

    fn review(
        &self,
        rule: &Resource,
        kind: RuleKind,
        (explanation, evidence): (String, Vec<Evidence>),
        dfc: bool,
    ) -> RuleDecision {
        let explanation = format!("{explanation}{MAY_DIFFER}");
        let mut values = vec![("explanation", explanation.clone())];
        if kind == RuleKind::ScheduledReview {
            values.push(("kind", rule.kind.clone().unwrap_or_default()));
        }
        let mut a = self.resource_step(rule, kind, &values);
        a.evidence = evidence.clone();
        a.after = None;
        RuleDecision {
            verdict: Verdict::Review,
            explanation,
            evidence,
            action: Some(a),
            dfc,
            note: None,
        }
    }

    fn msic(&self, rule: &Resource) -> RuleDecision {
        let product = rule
            .prop_str("productFilter")
            .unwrap_or_default()
            .to_string();
        let dfc = self.is_dfc_product(&product);
        let product_unfixed = self.unfixed(rule, "/properties/productFilter");
        // A rule the inputs fix as turned off creates no incidents, whatever
        // its product.
        let off = self.fixed_false(rule, "/properties/enabled", rule.enabled());
        if let Some(reason) = product_unfixed {
            return self.rests_on_unknown(
                rule,
                RuleKind::MsicReview,
                reason,
                off.then_some("it is turned off (enabled is false)"),
                dfc,
            );
        }
        if !dfc {
            return RuleDecision::none(
                if product.is_empty() {
                    "it has no productFilter".to_string()
                } else {
                    format!("productFilter is \"{product}\", not a Defender for Cloud product")
                },
                false,
            );
        }
        // Defender for Cloud's: whether it is on, and what it filtered out,
        // must be known too.
        if !off
            && let Some(reason) = self.first_unfixed(
                rule,
                &[
                    "/properties/enabled",
                    "/properties/severitiesFilter",
                    "/properties/displayNamesFilter",
                    "/properties/displayNamesExcludeFilter",
                ],
            )
        {
            return self.review(rule, RuleKind::MsicReview, reason, dfc);
        }
        let filters = msic_filters(rule);
        let mut evidence = vec![evidence_at(
            rule.place("productFilter"),
            format!("\"productFilter\": \"{product}\""),
            format!("the rule turns every {product} alert it admits into an incident"),
        )];
        if let Some(tv) = rule.template_value("/properties/productFilter")
            && let Some(by) = &tv.pinned_by
        {
            evidence.push(evidence_at(
                &tv.at,
                format!("\"productFilter\": \"{}\"", tv.expression),
                format!(
                    "the template takes the value from the parameters file {} deployed with it",
                    by.path
                ),
            ));
        }
        if !filters.is_empty() {
            let at = [
                "severitiesFilter",
                "displayNamesFilter",
                "displayNamesExcludeFilter",
            ]
            .into_iter()
            .find(|k| rule.places.contains_key(k))
            .map_or(&rule.origin, |k| rule.place(k));
            evidence.push(evidence_at(
                at,
                filters.trim_start_matches([' ', '(']).trim_end_matches(')').to_string(),
                format!("{}: keep that suppression with an automation rule that closes them (closed at once, not never created) or with alert tuning in the Defender portal", suppress::FILTERED_OUT),
            ));
        }
        if let Some(cond) = &rule.condition {
            evidence.push(evidence_at(
                &rule.origin,
                cond.clone(),
                "the template deploys this rule only when its condition holds".into(),
            ));
        }
        let explanation = format!(
            "productFilter is \"{product}\": it creates incidents from Defender for Cloud alerts"
        );
        let onboarded =
            tenancy::portal(self.settings, rule.workspace.as_ref()) == PortalState::Onboarded;
        let action = (rule.enabled() == Some(true)).then(|| {
            if onboarded {
                let mut a = self.resource_step(
                    rule,
                    RuleKind::MsicOnboardedEnabled,
                    &[("product", product.clone())],
                );
                a.evidence = evidence.clone();
                return a;
            }
            let mut a = self.resource_step(
                rule,
                RuleKind::MsicDisable,
                &[("product", product.clone()), ("filters", filters.clone())],
            );
            a.set(PROPERTY_ENABLED, json!(false));
            a.evidence = evidence.clone();
            let informational = rule
                .prop("severitiesFilter")
                .and_then(Value::as_array)
                .is_some_and(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .any(|v| v.eq_ignore_ascii_case("Informational"))
                });
            if informational {
                a.evidence.push(evidence_at(
                    rule.place("severitiesFilter"),
                    "\"severitiesFilter\": [..., \"Informational\"]".into(),
                    "Informational Defender for Cloud alerts are not ingested through Defender XDR: the Informational incidents this rule made will not come back from Defender XDR after the switch".into(),
                ));
            }
            a
        });
        RuleDecision {
            verdict: Verdict::Dfc,
            explanation,
            evidence,
            action,
            dfc,
            note: None,
        }
    }

    fn scheduled(&self, rule: &Resource) -> RuleDecision {
        let shown = rule.display_name().unwrap_or(&rule.name).to_string();
        let Some(query) = rule.prop_str("query") else {
            let mut d = RuleDecision::none("the rule has no query to classify".into(), false);
            if rule.enabled() != Some(false) {
                d.note = Some(format!(
                    "{} rule \"{shown}\" ({}) has no query in the export: not classified; export it with its properties",
                    rule.kind.as_deref().unwrap_or("Scheduled"),
                    rule.origin
                ));
            }
            return d;
        };
        // A rule the inputs fix as turned off, or as creating no incidents,
        // creates none, whatever its query.
        let off = self.fixed_false(rule, "/properties/enabled", rule.enabled())
            || self.fixed_false(
                rule,
                "/properties/incidentConfiguration/createIncident",
                Some(creates_incidents(rule)),
            );
        // A query the inputs do not fix is never read as KQL.
        if let Some(reason) = self.unfixed(rule, "/properties/query") {
            return self.rests_on_unknown(
                rule,
                RuleKind::ScheduledReview,
                reason,
                off.then_some("it is turned off, or createIncident is false"),
                false,
            );
        }
        let decision = self.classifier.classify(query);
        let dfc = decision.verdict == Verdict::Dfc;
        if decision.verdict != Verdict::None
            && !off
            && let Some(reason) = self.first_unfixed(
                rule,
                &[
                    "/properties/enabled",
                    "/properties/incidentConfiguration/createIncident",
                ],
            )
        {
            return self.review(rule, RuleKind::ScheduledReview, reason, dfc);
        }
        let evidence: Vec<Evidence> = decision
            .evidence
            .iter()
            .map(|e| Evidence {
                line: e.line,
                column: e.column,
                text: e.text.clone(),
                explanation: e.explanation.clone(),
                source: rule.query_source(e.line, e.column),
            })
            .collect();
        let mut outcome = RuleDecision {
            verdict: decision.verdict,
            explanation: decision.explanation.clone(),
            evidence: evidence.clone(),
            action: None,
            dfc,
            note: None,
        };
        // Informational Defender for Cloud alerts are not ingested through
        // Defender XDR: a rule that keeps only those goes silent.
        let silent = (dfc && rule.enabled() == Some(true))
            .then(|| crate::kql::informational_filter(query))
            .flatten()
            .map(|e| Evidence {
                line: e.line,
                column: e.column,
                text: e.text.clone(),
                explanation: "Informational Defender for Cloud alerts are not ingested through Defender XDR: after the switch this filter admits none, so the rule goes silent".into(),
                source: rule.query_source(e.line, e.column),
            });
        if let Some(e) = &silent
            && !creates_incidents(rule)
        {
            // No incidents, so the plan leaves it on: it goes silent.
            let mut a = self.resource_step(
                rule,
                RuleKind::ScheduledReview,
                &[
                    ("kind", rule.kind.clone().unwrap_or_default()),
                    ("explanation", format!("it reads Defender for Cloud alerts filtered on AlertSeverity Informational ({}): Informational Defender for Cloud alerts are not ingested through Defender XDR, so after the switch it goes silent", e.text)),
                ],
            );
            a.evidence = evidence.iter().cloned().chain([e.clone()]).collect();
            outcome.action = Some(a);
            return outcome;
        }
        if rule.enabled() != Some(true)
            || !creates_incidents(rule)
            || decision.verdict == Verdict::None
        {
            return outcome;
        }
        let kind = rule.kind.clone().unwrap_or_default();
        let first = evidence
            .iter()
            .rev()
            .find(|e| e.text.contains("Name") || e.text.contains("name"))
            .or(evidence.last())
            .map(|e| e.text.clone())
            .unwrap_or_default();
        let mut a = match (decision.verdict, self.settings.scheduled_rules) {
            (Verdict::Dfc, ScheduledRules::Disable) => {
                let mut a = self.resource_step(
                    rule,
                    RuleKind::ScheduledDisable,
                    &[("kind", kind), ("evidence", first)],
                );
                a.set(PROPERTY_ENABLED, json!(false));
                a
            }
            (Verdict::Dfc, ScheduledRules::StopIncidents) => {
                let mut a = self.resource_step(
                    rule,
                    RuleKind::ScheduledStopIncidents,
                    &[("kind", kind), ("evidence", first)],
                );
                a.set(
                    "properties.incidentConfiguration.createIncident",
                    json!(false),
                );
                a
            }
            (Verdict::Dfc, ScheduledRules::Review) => self.resource_step(
                rule,
                RuleKind::ScheduledReview,
                &[
                    ("kind", kind),
                    (
                        "explanation",
                        format!("{} (--scheduled-rules review)", decision.explanation),
                    ),
                ],
            ),
            _ => self.resource_step(
                rule,
                RuleKind::ScheduledReview,
                &[
                    ("kind", kind),
                    ("explanation", decision.explanation.clone()),
                ],
            ),
        };
        a.evidence = evidence;
        a.evidence.extend(silent);
        outcome.action = Some(a);
        outcome
    }

    // ---- phase 1 and 3 ---------------------------------------------------

    fn legacy_disconnect(&self, connector: &Resource) -> Action {
        let subscription = connector
            .prop_str("subscriptionId")
            .unwrap_or("unknown")
            .to_string();
        let state = alerts_state(connector);
        let mut a = self.resource_step(
            connector,
            RuleKind::LegacyDisconnect,
            &[("subscription", subscription), ("state", state)],
        );
        a.after = None;
        a
    }

    fn xdr(
        &self,
        ws: Option<&Workspace>,
        xdr: &[&Resource],
        tenant: std::result::Result<(String, String), String>,
    ) -> Option<Action> {
        let incidents = |r: &Resource| -> String {
            r.prop("dataTypes")
                .and_then(|d| d.get("incidents"))
                .and_then(|i| i.get("state"))
                .and_then(Value::as_str)
                .unwrap_or("absent")
                .to_string()
        };
        if xdr
            .iter()
            .any(|r| incidents(r).eq_ignore_ascii_case("Enabled"))
        {
            return None;
        }
        if let Some(connector) = xdr.first() {
            let state = incidents(connector);
            let mut a =
                self.resource_step(connector, RuleKind::XdrEnableIncidents, &[("state", state)]);
            // Only incidents change; the alerts setting stays as it is.
            a.set("properties.dataTypes.incidents.state", json!("Enabled"));
            return Some(a);
        }
        // No Defender XDR connector: create one if the tenant is known.
        let (tenant, source) = match tenant {
            Ok(t) => t,
            Err(problem) => {
                return Some(self.workspace_step(
                    ws,
                    RuleKind::XdrConnectManually,
                    &[("tenant_problem", problem)],
                ));
            }
        };
        let rule = self.catalog.rule(RuleKind::XdrCreate);
        let tenant_value = tenant.clone();
        let name = stable_guid(&format!(
            "{}|{}",
            ws.map(Workspace::key).unwrap_or_default(),
            self.catalog.connectors.xdr.kind
        ));
        let id = ws.map(|w| w.resource_id(ResourceType::DataConnectors, &name));
        let mut body = Map::new();
        if let Some(id) = &id {
            body.insert("id".into(), Value::String(id.clone()));
        }
        body.insert(
            "kind".into(),
            Value::String(self.catalog.connectors.xdr.kind.clone()),
        );
        body.insert("name".into(), Value::String(name.clone()));
        body.insert(
            "properties".into(),
            json!({"dataTypes": {"alerts": {"state": "Enabled"}, "incidents": {"state": "Enabled"}}, "tenantId": tenant}),
        );
        body.insert(
            "type".into(),
            Value::String(ResourceType::DataConnectors.arm_type().into()),
        );
        Some(Action {
            id: action_id(
                &rule.id,
                &format!("{}|{name}", ws.map(Workspace::key).unwrap_or_default()),
            ),
            workspace: ws.map(|w| w.id().to_string()),
            phase: rule.phase(),
            gate: rule.kind.gate(),
            operation: rule.operation(),
            verb: rule.verb(),
            resource_type: Some(ResourceType::DataConnectors),
            resource_id: id,
            name: Some(name),
            kind: Some(self.catalog.connectors.xdr.kind.clone()),
            display_name: Some("Microsoft Defender XDR".into()),
            reason: Reason {
                code: rule.id.clone(),
                message: rule.message_with(&[("tenant", tenant), ("tenant_source", source)]),
            },
            before: None,
            after: Some(Value::Object(body).into()),
            etag: None,
            api_version: Some(
                self.catalog
                    .api_version(ResourceType::DataConnectors)
                    .to_string(),
            ),
            source: None,
            evidence: Vec::new(),
            manual: None,
            desired: vec![
                desired("properties.dataTypes.incidents.state", json!("Enabled")),
                desired("properties.tenantId", json!(tenant_value)),
            ],
            blocked: ws
                .is_none()
                .then(|| "the workspace is not known: plan again with --workspace".to_string()),
            via: None,
        })
    }

    // ---- automation rules --------------------------------------------------

    /// The review of an automation rule, if anything in it changes meaning:
    /// over-matching (MIG405) when it acts on every incident after the
    /// switch, else MIG401.
    fn automation_review(&self, rule: &Resource, f: Findings) -> Option<Action> {
        if f.reasons.is_empty() {
            return None;
        }
        let explanation = f.reasons.join("; ");
        let mut a = match &f.over_match {
            Some(acts) => self.resource_step(
                rule,
                RuleKind::AutomationOverMatch,
                &[("actions", acts.clone()), ("explanation", explanation)],
            ),
            None => self.resource_step(
                rule,
                RuleKind::AutomationReview,
                &[("explanation", explanation)],
            ),
        };
        a.after = None;
        a.evidence = f.evidence;
        Some(a)
    }

    /// What changes meaning in an automation rule with the switch, each
    /// finding naming its condition or action by JSON pointer. Rules names
    /// rules this plan turns off (`disabled`); `dfc` names the rules that
    /// make Defender for Cloud incidents.
    fn automation_findings(
        &self,
        rule: &Resource,
        disabled: &BTreeMap<String, &Action>,
        dfc: &BTreeMap<String, String>,
    ) -> Findings {
        let mut f = Findings::default();
        let Some(props) = rule.properties() else {
            return f;
        };
        let logic = props.get("triggeringLogic").unwrap_or(&Value::Null);
        let mut conditions = Vec::new();
        automation_conditions(
            logic.get("conditions").unwrap_or(&Value::Null),
            "/properties/triggeringLogic/conditions",
            true,
            &mut conditions,
        );
        let sees_dfc = self.sees_dfc(&conditions, dfc);
        let mut provider = false;
        for c in &conditions {
            let at = &c.pointer;
            let finding = match c.name.as_str() {
                "IncidentRelatedAnalyticRuleIds" | "AlertAnalyticRuleIds" => {
                    for v in &c.values {
                        let rule_name = v.rsplit('/').next().unwrap_or(v).to_ascii_lowercase();
                        if let Some(a) = disabled.get(&rule_name) {
                            f.push(rule, at, &c.name, format!(
                                "its {} condition ({at}) names \"{}\", which this plan turns off: it will never fire again",
                                c.name,
                                a.display_name.as_deref().or(a.name.as_deref()).unwrap_or_default()
                            ));
                        }
                    }
                    None
                }
                _ if !sees_dfc => None,
                "IncidentTitle" => Some(format!(
                    "its IncidentTitle condition ({at}) will not match Defender for Cloud incidents the same way: Defender XDR correlation sets, and may rename, incident titles"
                )),
                "IncidentProviderName" => {
                    provider = true;
                    Some(format!(
                        "its IncidentProviderName condition ({at}) is removed after the switch: every incident's provider becomes Microsoft XDR, so it no longer limits the rule, which runs on every incident"
                    ))
                }
                "IncidentDescription" => Some(format!(
                    "its IncidentDescription condition ({at}) stops matching: incidents from Defender XDR carry no description"
                )),
                "IncidentUpdatedBySource" => Some(format!(
                    "its IncidentUpdatedBySource condition ({at}) sees other values: \"Microsoft 365 Defender\" becomes \"Other\" once onboarded to the Defender portal"
                )),
                "IncidentSeverity" | "AlertSeverity"
                    if c.positive()
                        && c.values
                            .iter()
                            .any(|v| v.eq_ignore_ascii_case("Informational")) =>
                {
                    Some(format!(
                        "its {} condition ({at}) on Informational goes silent for Defender for Cloud: Informational Defender for Cloud alerts are not ingested through Defender XDR",
                        c.name
                    ))
                }
                _ => None,
            };
            if let Some(text) = finding {
                f.push(rule, at, &c.name, text);
            }
        }
        if !sees_dfc {
            return f;
        }
        // What it does: playbooks, and changes to status, severity, owner.
        let mut acts: Vec<&str> = Vec::new();
        let actions = props.get("actions").and_then(Value::as_array);
        for (i, action) in actions.into_iter().flatten().enumerate() {
            let kind = action
                .get("actionType")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let config = action.get("actionConfiguration");
            let set = |key: &str| {
                config
                    .and_then(|c| c.get(key))
                    .is_some_and(|v| !v.is_null())
            };
            if kind.eq_ignore_ascii_case("RunPlaybook") {
                acts.push("runs a playbook");
                let at = format!("/properties/actions/{i}/actionConfiguration/logicAppResourceId");
                let playbook = config
                    .and_then(|c| c.get("logicAppResourceId"))
                    .and_then(Value::as_str)
                    .map(|id| id.rsplit('/').next().unwrap_or(id))
                    .unwrap_or("unnamed");
                f.push(rule, &at, playbook, format!(
                    "it runs the playbook \"{playbook}\" ({at}) on Defender for Cloud incidents or alerts: the \"relate alerts to Defender XDR incidents\" action is removed (adding or removing alerts of Defender incidents is Defender-portal only, from playbooks too)"
                ));
            } else if kind.eq_ignore_ascii_case("ModifyProperties") {
                let closes = config
                    .and_then(|c| c.get("status"))
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.eq_ignore_ascii_case("Closed"));
                if closes {
                    acts.push("closes incidents");
                }
                if set("severity") {
                    acts.push("changes their severity");
                }
                if set("owner") {
                    acts.push("changes their owner");
                }
            }
        }
        let triggers = logic
            .get("triggersOn")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if triggers.eq_ignore_ascii_case("Alerts") {
            f.reasons.push(
                "it is triggered by alerts: alert-triggered automation fires on Sentinel-created alerts only, not on Defender for Cloud alerts that come from Defender XDR".into(),
            );
        }
        if provider && !acts.is_empty() {
            acts.dedup();
            f.over_match = Some(acts.join(", "));
        }
        f.reasons.dedup();
        f
    }

    /// Whether an automation rule can see Defender for Cloud incidents
    /// after the switch: unless a condition that holds for the whole rule
    /// (through And only) limits it to other products' alerts, or to rules
    /// none of which makes Defender for Cloud incidents. Provider conditions
    /// do not limit it: they are removed.
    fn sees_dfc(&self, conditions: &[Condition], dfc: &BTreeMap<String, String>) -> bool {
        !conditions.iter().any(|c| {
            c.narrows
                && c.positive()
                && !c.values.is_empty()
                && match c.name.as_str() {
                    "AlertProductNames" => !c.values.iter().any(|v| self.is_dfc_product(v)),
                    "IncidentRelatedAnalyticRuleIds" | "AlertAnalyticRuleIds" => {
                        !c.values.iter().any(|v| {
                            dfc.contains_key(
                                &v.rsplit('/').next().unwrap_or(v).to_ascii_lowercase(),
                            )
                        })
                    }
                    _ => false,
                }
        })
    }

    // ---- building actions ----------------------------------------------------

    /// An action on a resource, before/after filled with the resource body.
    fn resource_step(&self, r: &Resource, kind: RuleKind, values: &[(&str, String)]) -> Action {
        debug_assert_eq!(kind.resource_type(), Some(r.resource_type), "{kind:?}");
        let rule = self.catalog.rule(kind);
        let resource_id = r.resource_id();
        let identity = format!(
            "{}|{}|{}|{}",
            r.workspace.as_ref().map(Workspace::key).unwrap_or_default(),
            r.resource_type,
            r.name.to_ascii_lowercase(),
            if r.workspace.is_none() {
                r.origin.to_string()
            } else {
                String::new()
            }
        );
        let blocked = if rule.operation().is_change() {
            if resource_id.is_none() {
                Some(format!(
                    "read from {}, which does not name its workspace: plan again with --workspace, or change the file and redeploy it",
                    r.origin.path
                ))
            } else if r.etag.is_none()
                || !matches!(
                    r.format,
                    Format::ArmList | Format::JsonArray | Format::JsonResource
                )
            {
                Some(format!(
                    "read from {} ({}), not from a live export with an etag: its live state is not known; change the file and redeploy it, or export the workspace and plan again",
                    r.origin.path,
                    format_name(r.format)
                ))
            } else {
                None
            }
        } else {
            None
        };
        Action {
            id: action_id(&rule.id, &identity),
            workspace: r.workspace.as_ref().map(|w| w.id().to_string()),
            phase: rule.phase(),
            gate: rule.kind.gate(),
            operation: rule.operation(),
            verb: rule.verb(),
            resource_type: Some(r.resource_type),
            resource_id,
            name: Some(r.name.clone()),
            kind: r.kind.clone(),
            display_name: r.display_name().map(str::to_string),
            reason: Reason {
                code: rule.id.clone(),
                message: rule.message_with(values),
            },
            before: Some(Body::new(&if self.bodies {
                r.full_body()
            } else {
                Value::Null
            })),
            after: None,
            etag: r.etag.clone(),
            api_version: Some(self.catalog.api_version(r.resource_type).to_string()),
            source: Some(r.origin.clone()),
            evidence: Vec::new(),
            manual: self.manual(rule.manual.as_ref(), r.workspace.as_ref()),
            desired: Vec::new(),
            blocked,
            via: None,
        }
    }

    /// A workspace-level step (manual steps, reviews of what is missing).
    fn workspace_step(
        &self,
        ws: Option<&Workspace>,
        kind: RuleKind,
        values: &[(&str, String)],
    ) -> Action {
        debug_assert_eq!(kind.resource_type(), None, "{kind:?} acts on a resource");
        let rule = self.catalog.rule(kind);
        Action {
            id: action_id(&rule.id, &ws.map(Workspace::key).unwrap_or_default()),
            workspace: ws.map(|w| w.id().to_string()),
            phase: rule.phase(),
            gate: rule.kind.gate(),
            operation: rule.operation(),
            verb: rule.verb(),
            resource_type: None,
            resource_id: None,
            name: None,
            kind: None,
            display_name: Some(rule.summary.clone()),
            reason: Reason {
                code: rule.id.clone(),
                message: rule.message_with(values),
            },
            before: None,
            after: None,
            etag: None,
            api_version: None,
            source: None,
            evidence: Vec::new(),
            manual: self.manual(rule.manual.as_ref(), ws),
            desired: Vec::new(),
            blocked: None,
            via: None,
        }
    }

    /// A manual step's texts for a workspace's Defender portal state: the
    /// Defender portal path once onboarded, both when the state is unknown.
    fn manual(&self, manual: Option<&Manual>, ws: Option<&Workspace>) -> Option<Manual> {
        let mut m = manual?.clone();
        if let Some(defender) = m.defender_portal.take() {
            match tenancy::portal(self.settings, ws) {
                PortalState::Onboarded => m.portal = defender,
                PortalState::Unknown => {
                    m.portal = format!(
                        "{} (onboarded to the Defender portal: {defender})",
                        m.portal
                    )
                }
                PortalState::NotOnboarded => {}
            }
        }
        Some(m)
    }
}

/// Rules this plan turns off, by lower-cased name (an automation rule
/// names them by ARM id, whose last segment is the name).
fn disabled_rules(actions: &[Action]) -> BTreeMap<String, &Action> {
    actions
        .iter()
        .filter(|a| {
            a.resource_type == Some(ResourceType::AlertRules) && a.operation == Operation::Update
        })
        .filter_map(|a| Some((a.name.as_deref()?.to_ascii_lowercase(), a)))
        .collect()
}

/// Evidence at a place in an export file.
fn evidence_at(at: &Origin, text: String, explanation: String) -> Evidence {
    Evidence {
        line: at.line,
        column: at.column,
        text,
        explanation,
        source: Some(at.clone()),
    }
}

/// Whether a Scheduled/NRT rule creates incidents: `createIncident` unless
/// explicitly false (the service's default is true).
pub fn creates_incidents(r: &Resource) -> bool {
    r.create_incident().and_then(Value::as_bool) != Some(false)
}

fn alerts_state(r: &Resource) -> String {
    r.prop("dataTypes")
        .and_then(|d| d.get("alerts"))
        .and_then(|a| a.get("state"))
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string()
}

/// The suppression an incident creation rule applied, in words.
fn msic_filters(rule: &Resource) -> String {
    let suppress::Filters {
        severities,
        include: names,
        exclude: excluded,
    } = suppress::Filters::of_rule(rule);
    let mut parts = Vec::new();
    if !severities.is_empty() {
        parts.push(format!("severities {}", severities.join(", ")));
    }
    if !names.is_empty() {
        parts.push(format!(
            "only {} named alert{}",
            names.len(),
            if names.len() == 1 { "" } else { "s" }
        ));
    }
    if !excluded.is_empty() {
        parts.push(format!(
            "excluding {} alert name{}",
            excluded.len(),
            if excluded.len() == 1 { "" } else { "s" }
        ));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    }
}

fn collect_conditions(v: &Value, out: &mut Vec<(String, Vec<String>)>) {
    match v {
        Value::Object(m) => {
            if let Some(name) = m.get("propertyName").and_then(Value::as_str) {
                let values = m
                    .get("propertyValues")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                out.push((name.to_string(), values));
            }
            for child in m.values() {
                collect_conditions(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_conditions(i, out)),
        _ => {}
    }
}

/// The analytics rules that make Defender for Cloud incidents, by
/// lower-cased name, with the name shown.
fn dfc_rules(outcomes: &[RuleOutcome]) -> BTreeMap<String, String> {
    outcomes
        .iter()
        .filter(|o| o.decision.dfc)
        .map(|o| {
            (
                o.rule.name.to_ascii_lowercase(),
                o.rule.display_name().unwrap_or(&o.rule.name).to_string(),
            )
        })
        .collect()
}

/// What changes meaning in one automation rule.
#[derive(Default)]
struct Findings {
    reasons: Vec<String>,
    evidence: Vec<Evidence>,
    /// What it does to every incident once its provider condition is
    /// removed ("closes incidents, runs a playbook"), when it does any.
    over_match: Option<String>,
}

impl Findings {
    /// A finding at `pointer`, with evidence where the export gives its place.
    fn push(&mut self, rule: &Resource, pointer: &str, name: &str, text: String) {
        if let Some(at) = rule.places.get(pointer) {
            let field = pointer.rsplit('/').next().unwrap_or(pointer);
            self.evidence.push(evidence_at(
                at,
                format!("\"{field}\": \"{name}\""),
                text.clone(),
            ));
        }
        self.reasons.push(text);
    }
}

/// One automation rule condition.
struct Condition {
    /// JSON pointer to what it tests (`propertyName` or `arrayType`).
    pointer: String,
    name: String,
    operator: String,
    values: Vec<String>,
    /// Reached through And only: it must hold for the rule to run.
    narrows: bool,
}

impl Condition {
    /// Equals, Contains, StartsWith, EndsWith (or no operator): it admits
    /// the values it names, rather than excluding them.
    fn positive(&self) -> bool {
        !self.operator.to_ascii_lowercase().starts_with("not")
    }
}

/// The conditions of a list, through `Boolean` inner conditions and
/// `PropertyArray` item conditions; `PropertyChanged` and
/// `PropertyArrayChanged` conditions are named by what they test.
fn automation_conditions(list: &Value, pointer: &str, narrows: bool, out: &mut Vec<Condition>) {
    let Some(items) = list.as_array() else {
        return;
    };
    for (i, c) in items.iter().enumerate() {
        let Some(props) = c.get("conditionProperties").and_then(Value::as_object) else {
            continue;
        };
        let at = format!("{pointer}/{i}/conditionProperties");
        let text = |key: &str| {
            props
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        if let Some(inner) = props.get("innerConditions") {
            let and = text("operator").eq_ignore_ascii_case("And");
            automation_conditions(inner, &format!("{at}/innerConditions"), narrows && and, out);
            continue;
        }
        for key in ["propertyName", "arrayType"] {
            if props.get(key).and_then(Value::as_str).is_some() {
                out.push(Condition {
                    pointer: format!("{at}/{key}"),
                    name: text(key),
                    operator: text("operator"),
                    values: props
                        .get("propertyValues")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                    narrows,
                });
                break;
            }
        }
        if let Some(inner) = props.get("itemConditions") {
            automation_conditions(inner, &format!("{at}/itemConditions"), narrows, out);
        }
    }
}

/// Fields the service fills: never sent back.
pub const READ_ONLY: [&str; 2] = ["systemData", "lastModifiedUtc"];

fn strip_read_only(mut body: Value) -> Value {
    if let Some(m) = body.as_object_mut() {
        m.remove("systemData");
        if let Some(p) = m.get_mut("properties").and_then(Value::as_object_mut) {
            p.remove("lastModifiedUtc");
            p.remove("lastModifiedTimeUtc");
            p.remove("createdTimeUtc");
            p.remove("createdBy");
            p.remove("lastModifiedBy");
        }
    }
    body
}

const PROPERTY_ENABLED: &str = "properties.enabled";

/// How a review resting on a template value the inputs do not fix ends.
const MAY_DIFFER: &str = "; the deployed rule may differ";

impl Action {
    /// Makes the step set the value at a dotted path: `after` is `before`
    /// with that value (objects created on the way), read-only fields
    /// dropped, `kind` and `etag` kept; `desired` records the value.
    fn set(&mut self, path: &str, value: Value) {
        self.edit_after(|after| {
            let mut node = after;
            for key in path.split('.') {
                if !node.is_object() {
                    *node = json!({});
                }
                node = node
                    .as_object_mut()
                    .map(|m| m.entry(key.to_string()).or_insert(Value::Null))
                    .unwrap_or_else(|| unreachable!("made an object above"));
            }
            *node = value.clone();
        });
        self.desired.push(desired(path, value));
    }

    /// Changes `after`, or, when there is none yet, `before` without its
    /// read-only fields: parsed for the change, held as text again.
    fn edit_after(&mut self, change: impl FnOnce(&mut Value)) {
        let mut after = match self.after.take() {
            Some(after) => after.value(),
            None => strip_read_only(self.before.as_ref().map_or(Value::Null, Body::value)),
        };
        change(&mut after);
        self.after = Some(Body::new(&after));
    }
}

fn desired(path: &str, value: Value) -> Desired {
    Desired {
        path: path.to_string(),
        value,
    }
}

fn action_id(code: &str, identity: &str) -> String {
    let digest = Sha256::digest(format!("{code}|{identity}").as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{code}-{hex}")
}

/// A deterministic GUID from a text (for resources the plan creates).
fn stable_guid(seed: &str) -> String {
    let d = Sha256::digest(seed.as_bytes());
    let h: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_guids_are_stable() {
        assert_eq!(action_id("MIG101", "x"), action_id("MIG101", "x"));
        assert_ne!(action_id("MIG101", "x"), action_id("MIG101", "y"));
        let g = stable_guid("ws");
        assert!(is_guid(&g), "{g}");
        assert_eq!(g, stable_guid("ws"));
        assert!(!is_guid("not-a-guid"));
    }

    /// `plan` and `--explain` share one decision: every analytics rule's
    /// action in a plan is the one `decide` gives, and no other, in every
    /// scenario and setting.
    #[test]
    fn the_plan_holds_exactly_the_decisions() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut dirs = vec![root.join("examples/contoso")];
        let mut scenarios: Vec<_> = std::fs::read_dir(root.join("tests/fixtures/scenarios"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        scenarios.sort();
        dirs.extend(scenarios);
        let catalog = Catalog::embedded().unwrap();
        for dir in dirs {
            let inputs = crate::source::read(
                std::slice::from_ref(&dir),
                &crate::source::ReadOptions::default(),
            )
            .unwrap();
            for (mode, scheduled_rules) in [
                (Mode::Switch, ScheduledRules::Disable),
                (Mode::Switch, ScheduledRules::StopIncidents),
                (Mode::Switch, ScheduledRules::Review),
                (Mode::OptOut, ScheduledRules::Disable),
            ] {
                let mut settings = Settings {
                    mode,
                    scheduled_rules,
                    ..Settings::default()
                };
                // A tenant of several workspaces needs its primary named.
                let plan = plan(&inputs, &catalog, &settings).unwrap_or_else(|_| {
                    let first = inputs
                        .resources
                        .iter()
                        .filter_map(|r| r.workspace.as_ref())
                        .map(|w| w.id().to_string())
                        .min();
                    settings.primary_workspaces = first.into_iter().collect();
                    plan(&inputs, &catalog, &settings).unwrap()
                });
                let mut decided: Vec<Action> = inputs
                    .resources
                    .iter()
                    .filter(|r| r.resource_type == ResourceType::AlertRules)
                    .filter_map(|r| decide(r, &catalog, &settings).action)
                    .collect();
                let mut planned: Vec<Action> = plan
                    .actions
                    .iter()
                    .filter(|a| a.resource_type == Some(ResourceType::AlertRules))
                    .cloned()
                    .collect();
                decided.sort_by_key(|a| a.id.clone());
                planned.sort_by_key(|a| a.id.clone());
                assert_eq!(decided, planned, "{} {settings:?}", dir.display());
            }
        }
    }
}
