//! Undoes what an apply did, newest step first, from the journal and the
//! bodies it backed up: rules turned off are restored, deleted connectors
//! re-created, created connectors removed. A resource someone changed since
//! apply is left alone (exit 3) unless forced. Afterwards every restored
//! resource is read back and checked.

use super::journal::{Journal, Status, Step};
use super::{Client, restorable, value_at};
use crate::catalog::Operation;
use crate::error::{Error, Result};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub restored: usize,
    pub verified: usize,
    /// The steps undone, newest first: (step id, what).
    pub steps: Vec<(String, String)>,
}

impl Outcome {
    pub fn human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(
            out,
            "Rollback: {} step(s) restored, {} verified.",
            self.restored, self.verified
        )
    }

    /// `--format json`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "format_version": "1",
            "command": "rollback",
            "restored": self.restored,
            "verified": self.verified,
            "steps": self.steps.iter().map(|(id, display)| serde_json::json!({"id": id, "display": display})).collect::<Vec<_>>(),
        })
    }
}

fn etag_of(body: &Value) -> Option<String> {
    body.get("etag").and_then(Value::as_str).map(str::to_string)
}

/// Backup files (`<step>.json`) that no step of the journal names.
fn unjournaled_backups(journal: &Journal, backups: &Path) -> Vec<String> {
    let known: std::collections::BTreeSet<&str> = journal
        .steps
        .values()
        .filter_map(|s| s.backup.as_deref())
        .collect();
    let mut lost: Vec<String> = std::fs::read_dir(backups)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !known.contains(n.as_str()))
        .collect();
    lost.sort();
    lost
}

pub async fn rollback(
    client: Arc<Client>,
    journal_path: &Path,
    force: bool,
    progress: &super::progress::Progress,
) -> Result<Outcome> {
    let missing = || {
        Error::Usage(format!(
            "{}: no such journal (apply writes it next to the plan)",
            journal_path.display()
        ))
    };
    if !journal_path.is_file() {
        return Err(missing());
    }
    let _lock = super::journal::Lock::acquire(journal_path, "rollback")?;
    let mut journal = Journal::load(journal_path)?.ok_or_else(missing)?;
    let backups = journal.backup_dir(journal_path);
    let lost = unjournaled_backups(&journal, &backups);
    if !lost.is_empty() {
        return Err(Error::Usage(format!(
            "{}: {} backup(s) in {} belong to no step of the journal: {}. Their steps were lost (were two applies run at once?) or never sent (an apply stopped between the backup and its journal entry), so rolling back would leave them changed. Nothing was restored: compare each resource with its backup, restore it by hand if it changed, delete the backup file, then run rollback again",
            journal_path.display(),
            lost.len(),
            backups.display(),
            lost.join(", ")
        )));
    }
    let mut steps: Vec<(String, Step)> = journal
        .steps
        .iter()
        .filter(|(_, s)| matches!(s.status, Status::Done | Status::Started))
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    steps.sort_by_key(|s| std::cmp::Reverse(s.1.seq));
    // A journal edited by hand must not address anything else.
    if let Some((id, problem)) = steps.iter().find_map(|(id, s)| {
        let path = s.path.split('?').next().unwrap_or_default();
        crate::model::path_problem(path).map(|p| (id, p))
    }) {
        return Err(Error::Usage(format!(
            "{}: step {id}: {problem}; the journal was edited or damaged: nothing was restored",
            journal_path.display()
        )));
    }
    let mut conflicts = Vec::new();
    let mut restored = Vec::new();
    for (id, step) in steps {
        let now = client.get(&step.path).await.map_err(|e| {
            Error::arm(
                format!(
                    "{} ({} step(s) restored so far; run rollback again to resume)",
                    step.display,
                    restored.len()
                ),
                e,
            )
        })?;
        let backup: Option<Value> =
            match &step.backup {
                Some(name) => {
                    let path = backups.join(name);
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| Error::io("cannot read backup", &path, e))?;
                    Some(serde_json::from_str(&text).map_err(|e| {
                        Error::Usage(format!("{}: not a backup: {e}", path.display()))
                    })?)
                }
                None => None,
            };
        // A started step that never took effect has nothing to undo.
        if step.status == Status::Started {
            let took = match (step.operation, &now) {
                (Operation::Delete, None) => true,
                (Operation::Delete, Some(_)) => false,
                (_, Some(body)) => super::apply::holds(body, &step.desired),
                (_, None) => false,
            };
            if !took {
                if let Some(s) = journal.steps.get_mut(&id) {
                    s.status = Status::RolledBack;
                }
                journal.save(journal_path)?;
                continue;
            }
        }
        let changed_since = match (&now, &step.after_etag) {
            (Some(body), Some(after)) => etag_of(body).as_deref() != Some(after.as_str()),
            (Some(_), None) => step.operation == Operation::Delete,
            (None, _) => step.operation != Operation::Delete && step.operation != Operation::Create,
        };
        if changed_since && !force {
            conflicts.push(format!(
                "{} ({}): changed since apply (etag now {}); not restored, use --force to restore it anyway",
                step.display,
                step.resource_id,
                now.as_ref().and_then(etag_of).unwrap_or_else(|| "absent".into())
            ));
            continue;
        }
        let fail = |e: super::ApiError| Error::arm(&step.display, e);
        match step.operation {
            Operation::Create if now.is_some() => {
                client.delete(&step.path).await.map_err(fail)?;
            }
            Operation::Create => {}
            Operation::Update | Operation::Delete => {
                let Some(original) = &backup else {
                    conflicts.push(format!("{}: no backup to restore from", step.display));
                    continue;
                };
                let mut body = restorable(original);
                if let (Some(current), Some(obj)) =
                    (now.as_ref().and_then(etag_of), body.as_object_mut())
                {
                    obj.insert("etag".into(), Value::String(current));
                }
                client.put(&step.path, &body).await.map_err(fail)?;
            }
            _ => {}
        }
        if let Some(s) = journal.steps.get_mut(&id) {
            s.status = Status::RolledBack;
        }
        journal.save(journal_path)?;
        progress.line(&format!("restored {id}: {}", step.display));
        restored.push((id, step, backup));
    }
    // Read everything back.
    let mut verified = 0;
    let mut wrong = Vec::new();
    for (_, step, backup) in &restored {
        let now = client
            .get(&step.path)
            .await
            .map_err(|e| Error::arm(&step.display, e))?;
        let ok = match (step.operation, &now, backup) {
            (Operation::Create, None, _) => true,
            (Operation::Delete, Some(_), _) => true,
            (Operation::Update, Some(body), Some(orig)) => step
                .desired
                .iter()
                .all(|d| value_at(body, &d.path) == value_at(orig, &d.path)),
            _ => false,
        };
        if ok {
            verified += 1;
        } else {
            wrong.push(format!("{}: not as it was before apply", step.display));
        }
    }
    let outcome = Outcome {
        restored: restored.len(),
        verified,
        steps: restored
            .iter()
            .map(|(id, step, _)| (id.clone(), step.display.clone()))
            .collect(),
    };
    conflicts.extend(wrong);
    if !conflicts.is_empty() {
        progress.line(&format!(
            "Rollback: {} step(s) restored, {verified} verified.",
            outcome.restored
        ));
        return Err(Error::Conflict(conflicts));
    }
    Ok(outcome)
}
