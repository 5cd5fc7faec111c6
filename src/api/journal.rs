//! `apply-journal.json`: what apply did, step by step, written before it
//! moves on, so an interrupted apply resumes and a rollback knows what to
//! undo. The journal names the plan it belongs to by its SHA-256.

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
