//! Executes a saved plan against Azure.
//!
//! 1. **Preflight**: every resource the plan writes is read; if one's etag is
//!    not the plan's (or a resource to create exists), apply stops with exit 3
//!    naming each and what changed, before changing anything.
//! 2. **Phases in order**, the steps of a phase concurrently (up to
//!    `parallelism`). Before a write the resource is read again; its full body
//!    is saved to the backup folder and the step recorded as started in the
//!    journal; after the write the step is recorded as done with the new etag.
//! 3. **Gated steps** wait for the operator's confirmation that the
//!    tenant-based connector is connected: apply stops before the first
//!    phase holding one (phase 3 in a plan as written). The gate follows
//!    from what a step does ([`Action::required_gate`]: deleting a data
//!    connector always waits), not from its phase number, so a hand-edited
//!    plan cannot move a delete past it.
//!
//! Re-running resumes: done steps are skipped; a started step whose effect
//! is visible (its `desired` values hold, or the resource is gone for a
//! delete) is recorded as done rather than sent again.

use super::journal::{Journal, Status, Step};
use super::progress::Progress;
use super::{ApiError, Client, value_at};
use crate::catalog::{Gate, Operation, Phase};
use crate::error::{Error, Result};
use crate::model::arm_path;
use crate::plan::{Action, Body, Desired, Plan};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub struct Options {
    pub parallelism: usize,
    /// The operator confirmed the manual step (gated steps may run).
    pub confirmed: bool,
    /// Asks on the terminal when a gated step is reached unconfirmed.
    pub ask: Option<Box<dyn Fn() -> bool + Send + Sync>>,
    pub journal: PathBuf,
    /// Where steps are reported as they finish (stderr: a bar on a
    /// terminal, a line per step otherwise).
    pub progress: Arc<Progress>,
}

/// What an apply did, for `--format json` and the closing lines of the
/// human output (`docs/azure.md`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format_version: &'static str,
    pub command: &'static str,
    #[serde(skip)]
    pub outcome: Outcome,
    /// `complete` or `awaiting-confirmation`.
    pub result: &'static str,
    /// Steps done, in this run and earlier ones.
    pub done: usize,
    /// Steps already done by an earlier run when this one started.
    pub resumed: usize,
    /// Why the apply stopped before a phase, if it did.
    pub waiting: Option<Waiting>,
    /// Manual steps of the phases reached.
    pub manual: Vec<Note>,
    /// Changes the plan cannot apply (from templates or YAML, ...).
    pub skipped: Vec<Note>,
    /// Every appliable step and its state in the journal.
    pub steps: Vec<StepState>,
    pub journal: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Waiting {
    pub phase: u8,
    /// Steps waiting for the confirmation.
    pub steps: usize,
    /// The confirmation to give: `--confirm <this>`.
    pub confirm: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub id: String,
    pub display: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepState {
    pub id: String,
    pub display: String,
    pub phase: u8,
    pub operation: Operation,
    /// `done`, `started` (sent, effect unknown: run again), `rolled-back`,
    /// or null (not reached).
    pub status: Option<Status>,
}

impl Report {
    /// The closing lines of `apply` (the steps were reported as they went).
    pub fn human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match &self.waiting {
            Some(w) => writeln!(
                out,
                "Stopped before phase {}: {} step(s) (the legacy connectors' disconnection) run only once the tenant-based Defender for Cloud connector is connected and its alerts arrive. Check, then run apply again with --confirm {}. {} step(s) done so far; journal {}",
                w.phase, w.steps, w.confirm, self.done, self.journal
            ),
            None => writeln!(
                out,
                "Applied: {} step(s) done, {} skipped; journal {}",
                self.done,
                self.skipped.len(),
                self.journal
            ),
        }
    }
}

/// How an apply ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every appliable step is done.
    Complete { done: usize, skipped: usize },
    /// The phases before the first gated step are done; the rest waits
    /// for the confirmation.
    AwaitingConfirmation { done: usize },
}

/// One appliable step of the plan.
#[derive(Debug, Clone)]
pub struct Work {
    pub id: String,
    pub phase: Phase,
    pub operation: Operation,
    /// The confirmation it waits for.
    pub gate: Option<Gate>,
    pub resource_id: String,
    pub path: String,
    pub display: String,
    pub etag: Option<String>,
    pub before: Option<Body>,
    pub after: Option<Body>,
    pub desired: Vec<Desired>,
}

/// The steps of a plan apply can carry out, and those it cannot (blocked).
/// A step whose URL would address anything but its resource (a name or
/// workspace segment `.` or `..`, as only a hand-edited plan can have)
/// refuses the whole plan.
pub fn work_of(plan: &Plan) -> Result<(Vec<Work>, Vec<&Action>)> {
    let mut work = Vec::new();
    let mut blocked = Vec::new();
    for a in plan.actions.iter().filter(|a| a.operation.is_change()) {
        let path = match (&a.workspace, a.resource_type, &a.name, &a.resource_id) {
            (Some(ws), Some(rt), Some(name), Some(id)) if a.blocked.is_none() => {
                let path = arm_path(
                    ws,
                    rt,
                    Some(name),
                    a.api_version.as_deref().unwrap_or("2025-09-01"),
                );
                match path.map(|p| (p, crate::model::path_problem(id))) {
                    Ok((p, None)) => p,
                    Ok((_, Some(e))) | Err(e) => {
                        return Err(Error::Usage(format!(
                            "the plan's step {} ({}): {e}; the plan was edited or damaged: plan again",
                            a.id,
                            describe(a)
                        )));
                    }
                }
            }
            _ => {
                blocked.push(a);
                continue;
            }
        };
        work.push(Work {
            id: a.id.clone(),
            phase: a.phase,
            operation: a.operation,
            gate: a.required_gate(),
            resource_id: a.resource_id.clone().unwrap_or_default(),
            path,
            display: describe(a),
            etag: a.etag.clone(),
            before: a.before.clone(),
            after: a.after.clone(),
            desired: a.desired.clone(),
        });
    }
    Ok((work, blocked))
}

fn describe(a: &Action) -> String {
    let mut s = format!(
        "{}/{}",
        a.resource_type.map(|t| t.as_str()).unwrap_or("-"),
        a.name.as_deref().unwrap_or("-")
    );
    if let Some(d) = &a.display_name {
        s.push_str(&format!(" \"{d}\""));
    }
    crate::render::one_line(&s)
}

/// Whether every `desired` value holds in `body`.
pub fn holds(body: &Value, desired: &[Desired]) -> bool {
    desired
        .iter()
        .all(|d| value_at(body, &d.path) == Some(&d.value))
}

fn etag_of(body: &Value) -> Option<String> {
    body.get("etag").and_then(Value::as_str).map(str::to_string)
}

/// What changed between the plan's view of a resource and Azure's, in a
/// few words (top-level properties that differ).
fn drift(plan: Option<&Value>, now: Option<&Value>) -> String {
    match (plan, now) {
        (Some(_), None) => "it no longer exists".into(),
        (None, Some(_)) => "it exists already".into(),
        (Some(p), Some(n)) => {
            let props = |v: &Value| {
                v.get("properties")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default()
            };
            let (pp, np) = (props(p), props(n));
            let mut keys: Vec<&String> = pp.keys().chain(np.keys()).collect();
            keys.sort();
            keys.dedup();
            let changed: Vec<String> = keys
                .into_iter()
                .filter(|k| !matches!(k.as_str(), "lastModifiedUtc" | "lastModifiedTimeUtc"))
                .filter(|k| pp.get(*k) != np.get(*k))
                .map(|k| format!("properties.{k}"))
                .collect();
            if changed.is_empty() {
                "its etag changed (no property differs)".into()
            } else {
                format!("changed: {}", changed.join(", "))
            }
        }
        (None, None) => "it is absent".into(),
    }
}

/// The shared state of one apply.
struct Run {
    client: Arc<Client>,
    journal: Mutex<Journal>,
    journal_path: PathBuf,
    backups: PathBuf,
    progress: Arc<Progress>,
}

impl Run {
    /// Records a step, numbering it in the same lock so that concurrent
    /// steps never share a number (rollback undoes them newest first).
    fn record(&self, id: &str, mut step: Step) -> Result<()> {
        let mut j = self
            .journal
            .lock()
            .map_err(|_| Error::Azure("journal lock poisoned".into()))?;
        step.seq = j.next_seq();
        j.steps.insert(id.to_string(), step);
        j.save(&self.journal_path)
    }

    fn status(&self, id: &str) -> Option<Status> {
        self.journal.lock().ok()?.steps.get(id).map(|s| s.status)
    }

    /// Reports a step at once.
    fn say(&self, line: String) {
        self.progress.line(&line);
    }
}

/// Applies `plan` (read from `plan_path`, whose bytes hash to `plan_sha256`).
pub async fn apply(
    client: Arc<Client>,
    plan: &Plan,
    plan_path: &Path,
    plan_sha256: &str,
    options: Options,
) -> Result<Report> {
    let (work, blocked) = work_of(plan)?;
    let journal_path = options.journal.clone();
    let _lock = super::journal::Lock::acquire(&journal_path, "apply")?;
    let journal = match Journal::load(&journal_path)? {
        Some(j) if j.plan_sha256 != plan_sha256 => {
            return Err(Error::Usage(format!(
                "{} belongs to another plan ({}): move it away to apply this plan, or roll it back first",
                journal_path.display(),
                j.plan
            )));
        }
        Some(j) => j,
        None => Journal::new(
            &plan_path.display().to_string(),
            plan_sha256,
            client.endpoint().base(),
            "backups",
        ),
    };
    let backups = journal.backup_dir(&journal_path);
    std::fs::create_dir_all(&backups).map_err(|e| Error::io("cannot create", &backups, e))?;
    let resumed = journal
        .steps
        .values()
        .filter(|s| s.status == Status::Done)
        .count();
    let run = Arc::new(Run {
        client,
        journal: Mutex::new(journal),
        journal_path,
        backups,
        progress: options.progress.clone(),
    });
    if resumed > 0 {
        run.say(format!(
            "Resuming: {resumed} step(s) already done in {}",
            run.journal_path.display()
        ));
    }
    let skipped: Vec<Note> = blocked
        .iter()
        .map(|a| Note {
            id: a.id.clone(),
            display: describe(a),
            message: crate::render::one_line(a.blocked.as_deref().unwrap_or("no resource id")),
        })
        .collect();
    for n in &skipped {
        run.say(format!("skipped {} {}: {}", n.id, n.display, n.message));
    }
    let mut report = Report {
        format_version: "1",
        command: "apply",
        outcome: Outcome::Complete {
            done: 0,
            skipped: skipped.len(),
        },
        result: "complete",
        done: 0,
        resumed,
        waiting: None,
        manual: Vec::new(),
        skipped,
        steps: Vec::new(),
        journal: run.journal_path.display().to_string(),
    };

    preflight(&run, &work, options.parallelism).await?;

    for phase in Phase::ALL {
        let steps: Vec<Work> = work.iter().filter(|w| w.phase == phase).cloned().collect();
        let gated = steps
            .iter()
            .filter(|w| w.gate.is_some() && run.status(&w.id) != Some(Status::Done))
            .count();
        if gated > 0 && !options.confirmed {
            let asked = options.ask.as_ref().is_some_and(|ask| ask());
            if !asked {
                report.waiting = Some(Waiting {
                    phase: phase.number(),
                    steps: gated,
                    confirm: Gate::TenantConnector.as_str(),
                });
                report.result = "awaiting-confirmation";
                report.done = done_count(&run);
                report.outcome = Outcome::AwaitingConfirmation { done: report.done };
                report.steps = states(&run, &work);
                return Ok(report);
            }
        }
        for m in plan
            .actions
            .iter()
            .filter(|a| a.phase == phase && a.operation == Operation::Manual)
        {
            let note = Note {
                id: m.id.clone(),
                display: crate::render::one_line(m.display_name.as_deref().unwrap_or_default()),
                message: crate::render::one_line(&m.reason.message),
            };
            run.say(format!("manual step ({}): {}", m.reason.code, note.message));
            report.manual.push(note);
        }
        let result = run_phase(&run, steps, options.parallelism).await;
        if result.is_err() {
            run.progress.finish();
        }
        result?;
    }
    run.progress.finish();
    report.done = done_count(&run);
    report.outcome = Outcome::Complete {
        done: report.done,
        skipped: report.skipped.len(),
    };
    report.steps = states(&run, &work);
    Ok(report)
}

/// Each appliable step with its state in the journal.
fn states(run: &Run, work: &[Work]) -> Vec<StepState> {
    work.iter()
        .map(|w| StepState {
            id: w.id.clone(),
            display: w.display.clone(),
            phase: w.phase.number(),
            operation: w.operation,
            status: run.status(&w.id),
        })
        .collect()
}

fn done_count(run: &Run) -> usize {
    run.journal
        .lock()
        .map(|j| {
            j.steps
                .values()
                .filter(|s| s.status == Status::Done)
                .count()
        })
        .unwrap_or(0)
}

/// Reads every resource a pending step writes; any drift stops the apply.
async fn preflight(run: &Arc<Run>, work: &[Work], parallelism: usize) -> Result<()> {
    let pending: Vec<Work> = work
        .iter()
        .filter(|w| run.status(&w.id) != Some(Status::Done))
        .cloned()
        .collect();
    let results = for_each(pending, parallelism, {
        let run = run.clone();
        move |w: Work| {
            let run = run.clone();
            async move {
                let now = run.client.get(&w.path).await.map_err(|e| azure(&w, e))?;
                Ok::<_, Error>(check(&run, &w, now.as_ref()))
            }
        }
    })
    .await;
    let mut stale = Vec::new();
    for r in results {
        if let Some(msg) = r? {
            stale.push(msg);
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        stale.sort();
        Err(Error::Stale(stale))
    }
}

/// Whether Azure is as the plan saw it (or already as a started step left
/// it): None if fine, else what drifted.
fn check(run: &Run, w: &Work, now: Option<&Value>) -> Option<String> {
    let started = run.status(&w.id) == Some(Status::Started);
    let as_planned = match (w.operation, now) {
        (Operation::Create, None) => true,
        (Operation::Create, Some(_)) => false,
        (_, Some(body)) => etag_of(body) == w.etag,
        (_, None) => false,
    };
    if as_planned || (started && took_effect(w, now)) {
        return None;
    }
    let current = now.and_then(etag_of).unwrap_or_else(|| "absent".into());
    Some(format!(
        "{} ({}): etag in the plan {}, in Azure {}; {}",
        w.display,
        w.resource_id,
        w.etag.as_deref().unwrap_or("(absent)"),
        current,
        drift(w.before.as_ref().map(Body::value).as_ref(), now)
    ))
}

/// Whether a step's change is visible in Azure.
fn took_effect(w: &Work, now: Option<&Value>) -> bool {
    match (w.operation, now) {
        (Operation::Delete, None) => true,
        (Operation::Create | Operation::Update, Some(body)) => holds(body, &w.desired),
        _ => false,
    }
}

fn azure(w: &Work, e: ApiError) -> Error {
    Error::arm(&w.display, e)
}

async fn run_phase(run: &Arc<Run>, steps: Vec<Work>, parallelism: usize) -> Result<()> {
    let results = for_each(steps, parallelism, {
        let run = run.clone();
        move |w: Work| {
            let run = run.clone();
            async move { step(&run, &w).await }
        }
    })
    .await;
    let mut stale = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(()) => {}
            Err(Error::Stale(mut s)) => stale.append(&mut s),
            Err(e) => errors.push(match e.hint() {
                Some(hint) => format!("{e}\n  hint: {hint}"),
                None => e.to_string(),
            }),
        }
    }
    let done = done_count(run);
    let resume = format!(
        "{done} step(s) are done and recorded in {}; fix the cause and run apply again to resume, or roll back with `sentinel-migrate rollback {}`",
        run.journal_path.display(),
        run.journal_path.display()
    );
    if !stale.is_empty() {
        stale.push(resume);
        return Err(Error::Stale(stale));
    }
    if !errors.is_empty() {
        errors.sort();
        return Err(Error::Azure(format!("{}\n{resume}", errors.join("\n"))));
    }
    Ok(())
}

/// One step: re-read, back up, journal, write, journal.
async fn step(run: &Run, w: &Work) -> Result<()> {
    if run.status(&w.id) == Some(Status::Done) {
        run.say(format!("= already done: {}", w.display));
        return Ok(());
    }
    let now = run.client.get(&w.path).await.map_err(|e| azure(w, e))?;
    if let Some(msg) = check(run, w, now.as_ref()) {
        return Err(Error::Stale(vec![msg]));
    }
    let started = run.status(&w.id) == Some(Status::Started);
    if started && took_effect(w, now.as_ref()) {
        // An earlier run sent this write; its answer was lost.
        finish(run, w, now.as_ref().and_then(etag_of))?;
        return Ok(());
    }
    // Back up the original before anything changes.
    let backup = match &now {
        Some(body) => {
            let name = format!("{}.json", w.id);
            let path = run.backups.join(&name);
            let mut text = serde_json::to_string_pretty(body).unwrap_or_default();
            text.push('\n');
            std::fs::write(&path, text).map_err(|e| Error::io("cannot write backup", &path, e))?;
            Some(name)
        }
        None => None,
    };
    let mut started = Step::started(w);
    started.backup = backup;
    started.before_etag = now.as_ref().and_then(etag_of);
    run.record(&w.id, started)?;
    let after_etag = match w.operation {
        Operation::Update | Operation::Create => {
            let body = w.after.as_ref().map_or(Value::Null, Body::value);
            match run.client.put(&w.path, &body).await {
                Ok((_, resp)) => etag_of(&resp),
                Err(e) if e.is_conflict() => {
                    // Our own earlier attempt may have landed (a lost answer):
                    // look before calling it a conflict.
                    let now = run.client.get(&w.path).await.map_err(|e| azure(w, e))?;
                    if took_effect(w, now.as_ref()) {
                        now.as_ref().and_then(etag_of)
                    } else {
                        return Err(Error::Stale(vec![format!(
                            "{} ({}): changed while being applied ({e})",
                            w.display, w.resource_id
                        )]));
                    }
                }
                Err(e) => return Err(azure(w, e)),
            }
        }
        Operation::Delete => {
            run.client.delete(&w.path).await.map_err(|e| azure(w, e))?;
            None
        }
        _ => None,
    };
    finish(run, w, after_etag)
}

fn finish(run: &Run, w: &Work, after_etag: Option<String>) -> Result<()> {
    let step = {
        let j = run
            .journal
            .lock()
            .map_err(|_| Error::Azure("journal lock poisoned".into()))?;
        j.steps.get(&w.id).cloned()
    };
    let mut step = step.unwrap_or_else(|| Step::started(w));
    step.status = Status::Done;
    step.after_etag = after_etag;
    step.done_at = Some(super::journal::now_utc());
    run.record(&w.id, step)?;
    let marker = match w.operation {
        Operation::Create => "+",
        Operation::Delete => "-",
        _ => "~",
    };
    run.say(format!("{marker} done {}: {}", w.id, w.display));
    Ok(())
}

impl Step {
    /// The journal entry of a step about to be sent.
    fn started(w: &Work) -> Step {
        Step {
            seq: 0,
            status: Status::Started,
            operation: w.operation,
            phase: w.phase.number(),
            resource_id: w.resource_id.clone(),
            path: w.path.clone(),
            display: w.display.clone(),
            backup: None,
            before_etag: w.etag.clone(),
            after_etag: None,
            desired: w.desired.clone(),
            done_at: None,
        }
    }
}

/// Runs `f` over `items`, at most `parallelism` at once; results in input order.
pub async fn for_each<T, R, F, Fut>(items: Vec<T>, parallelism: usize, f: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = R> + Send + 'static,
{
    if parallelism <= 1 {
        // One at a time, in order: what each step reports comes out in
        // the plan's order (rehearse relies on it).
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(f(item).await);
        }
        return out;
    }
    let limit = Arc::new(tokio::sync::Semaphore::new(parallelism));
    let f = Arc::new(f);
    let mut set = tokio::task::JoinSet::new();
    for (i, item) in items.into_iter().enumerate() {
        let limit = limit.clone();
        let f = f.clone();
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (i, f(item).await)
        });
    }
    let mut out: BTreeMap<usize, R> = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, r)) = joined {
            out.insert(i, r);
        }
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drift_names_what_changed() {
        let a = json!({"properties": {"enabled": true, "query": "x", "lastModifiedUtc": "1"}});
        let b = json!({"properties": {"enabled": false, "query": "x", "lastModifiedUtc": "2"}});
        assert_eq!(drift(Some(&a), Some(&b)), "changed: properties.enabled");
        assert_eq!(drift(Some(&a), None), "it no longer exists");
    }

    #[test]
    fn desired_values() {
        let d = vec![Desired {
            path: "properties.enabled".into(),
            value: json!(false),
        }];
        assert!(holds(&json!({"properties": {"enabled": false}}), &d));
        assert!(!holds(&json!({"properties": {"enabled": true}}), &d));
    }
}
