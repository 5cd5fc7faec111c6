//! `apply-journal.json`: what apply did, step by step, written before it
//! moves on, so an interrupted apply resumes and a rollback knows what to
//! undo. The journal names the plan it belongs to by its SHA-256.
//!
//! One apply or rollback at a time works on a journal: [`Lock`] holds an
//! exclusive OS lock on `apply-journal.lock` beside it for the whole run
//! (released by the OS even when the process is killed) and writes who
//! holds it into that file, so a second run refuses at once, naming it.

use crate::catalog::Operation;
use crate::error::{Error, Result};
use crate::plan::Desired;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const JOURNAL_VERSION: &str = "1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The write may have been sent: check its effect before sending again.
    Started,
    Done,
    RolledBack,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Order of completion (rollback undoes newest first).
    pub seq: u64,
    pub status: Status,
    pub operation: Operation,
    pub phase: u8,
    pub resource_id: String,
    /// Relative ARM URL with api-version.
    pub path: String,
    pub display: String,
    /// The original body, saved before the change (file in the backup folder).
    pub backup: Option<String>,
    pub before_etag: Option<String>,
    pub after_etag: Option<String>,
    pub desired: Vec<Desired>,
    /// When the step was done (`YYYY-MM-DDTHH:MM:SSZ`): `verify --data`
    /// compares the data before and after it. Absent in older journals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub format_version: String,
    pub plan: String,
    pub plan_sha256: String,
    pub endpoint: String,
    /// The backup folder, relative to the journal.
    pub backups: String,
    pub steps: BTreeMap<String, Step>,
}

impl Journal {
    pub fn new(plan: &str, plan_sha256: &str, endpoint: &str, backups: &str) -> Journal {
        Journal {
            format_version: JOURNAL_VERSION.into(),
            plan: plan.into(),
            plan_sha256: plan_sha256.into(),
            endpoint: endpoint.into(),
            backups: backups.into(),
            steps: BTreeMap::new(),
        }
    }

    pub fn load(path: &Path) -> Result<Option<Journal>> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                Error::Input(vec![crate::error::Diagnostic::at(
                    path.display().to_string(),
                    &text,
                    e.line(),
                    e.column(),
                    format!("not an apply journal: {e}"),
                )])
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("cannot read", path, e)),
        }
    }

    /// Writes the journal beside, then renames: a crash never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        let mut text =
            serde_json::to_string_pretty(self).map_err(|e| Error::Usage(e.to_string()))?;
        text.push('\n');
        std::fs::write(&tmp, text).map_err(|e| Error::io("cannot write", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io("cannot write", path, e))
    }

    pub fn next_seq(&self) -> u64 {
        self.steps.values().map(|s| s.seq).max().unwrap_or(0) + 1
    }

    /// The backup folder as a path (relative to the journal's folder).
    pub fn backup_dir(&self, journal_path: &Path) -> PathBuf {
        journal_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&self.backups)
    }
}

/// An exclusive lock on a journal, held until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: std::fs::File,
}

impl Lock {
    /// The lock file of a journal: `apply-journal.lock` beside
    /// `apply-journal.json`.
    pub fn path(journal_path: &Path) -> PathBuf {
        journal_path.with_extension("lock")
    }

    /// Takes the lock for `command` (`apply`, `rollback`), or refuses at
    /// once naming the process that holds it. The file is left in place
    /// when released (removing it would let two runs lock two files).
    pub fn acquire(journal_path: &Path, command: &str) -> Result<Lock> {
        use std::io::{Read, Seek, Write};
        let path = Lock::path(journal_path);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("cannot open the lock file", &path, e))?;
        match file.try_lock() {
            Ok(()) => {
                let holder = format!(
                    "{command} (pid {} on {}, started {})\n",
                    std::process::id(),
                    hostname(),
                    now_utc()
                );
                file.set_len(0)
                    .and_then(|_| file.rewind())
                    .and_then(|_| file.write_all(holder.as_bytes()))
                    .map_err(|e| Error::io("cannot write", &path, e))?;
                Ok(Lock { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = crate::render::one_line(holder.trim());
                let holder = if holder.is_empty() {
                    "another process".to_string()
                } else {
                    holder
                };
                Err(Error::Usage(format!(
                    "{} is in use by {holder}: wait until it ends (two runs at once would lose steps of the journal); the lock is {}, released when that process exits",
                    journal_path.display(),
                    path.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io("cannot lock", &path, e)),
        }
    }
}

fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "this host".into())
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ` (for the lock's holder only:
/// nothing timestamped reaches an artifact).
pub(crate) fn now_utc() -> String {
    crate::time::format(crate::time::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("apply-journal.json");
        let held = Lock::acquire(&journal, "apply").unwrap();
        let err = Lock::acquire(&journal, "rollback").unwrap_err().to_string();
        assert!(err.contains("is in use by apply (pid "), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(held);
        let again = Lock::acquire(&journal, "rollback").unwrap();
        let text = std::fs::read_to_string(Lock::path(&journal)).unwrap();
        assert!(text.starts_with("rollback (pid "), "{text}");
        drop(again);
    }

    #[test]
    fn civil_time() {
        let t = now_utc();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
    }
}
