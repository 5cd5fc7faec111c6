//! Rehearses an apply on a local copy: the emulator is seeded with the
//! plan's `before` bodies (at their etags), the plan is applied to it (by
//! the native apply, or by the generated `apply.sh` under the user's `az`),
//! and the result is verified against the plan's desired state.

use super::apply::{self, Options};
use super::{Client, Endpoint, RetryPolicy, token::TokenSource, verify};
use crate::error::{Error, Result};
use crate::plan::Plan;
use arm_emulator::{Config, Emulator};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// How the rehearsal applies the plan.
pub enum Runner {
    /// sentinel-migrate's own apply.
    Native,
    /// `apply.sh` beside the plan, under this `az`.
    Script { az: PathBuf },
}

/// Starts an emulator holding every resource the plan reads before it writes.
pub fn seeded(plan: &Plan) -> std::io::Result<Emulator> {
    let emulator = Emulator::start(Config::default())?;
    for a in &plan.actions {
        if let (Some(id), Some(before)) = (&a.resource_id, &a.before)
            && a.operation.is_change()
        {
            emulator.seed(id, before.value());
        }
    }
    Ok(emulator)
}

/// The environment that points the real Azure CLI at a loopback emulator
/// without signing in (DOMAIN.md section 5): a fresh config folder with a
/// `Local` cloud.
pub fn az_environment(
    config_dir: &Path,
    emulator_url: &str,
) -> std::io::Result<Vec<(String, String)>> {
    std::fs::create_dir_all(config_dir)?;
    let base = format!("{}/", emulator_url.trim_end_matches('/'));
    std::fs::write(
        config_dir.join("clouds.config"),
        format!(
            "[Local]\nendpoint_resource_manager = {base}\nendpoint_active_directory = {base}aad\nendpoint_active_directory_resource_id = {base}\n"
        ),
    )?;
    Ok(vec![
        ("AZURE_CONFIG_DIR".into(), config_dir.display().to_string()),
        ("AZURE_CLOUD_NAME".into(), "Local".into()),
        ("AZURE_CORE_COLLECT_TELEMETRY".into(), "no".into()),
        ("AZURE_CORE_NO_COLOR".into(), "true".into()),
        ("HTTPS_PROXY".into(), "http://127.0.0.1:9".into()),
        ("HTTP_PROXY".into(), "http://127.0.0.1:9".into()),
        ("NO_PROXY".into(), "127.0.0.1,localhost".into()),
    ])
}

/// How a rehearsal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rehearsal {
    /// Every step that ran reached the plan's desired state.
    pub all_hold: bool,
    /// The rehearsal stopped before the gated phase, as apply would
    /// without `--confirm tenant-connector`.
    pub awaiting_confirmation: bool,
}

/// The label the rehearsal's temporary folder is shown as: its path is
/// random, and the output must be the same on every run.
const WORK_LABEL: &str = "<rehearsal folder>";

pub async fn rehearse(
    plan: &Plan,
    plan_path: &Path,
    plan_sha256: &str,
    runner: Runner,
    confirmed: bool,
    out: &mut dyn std::io::Write,
) -> Result<Rehearsal> {
    let emulator =
        seeded(plan).map_err(|e| Error::Azure(format!("cannot start the emulator: {e}")))?;
    let work =
        tempfile::tempdir().map_err(|e| Error::io("cannot create", std::env::temp_dir(), e))?;
    let endpoint = Endpoint::parse(&emulator.url()).map_err(Error::Usage)?;
    let client = Arc::new(
        Client::new(endpoint, TokenSource::None, RetryPolicy::default()).map_err(Error::Azure)?,
    );
    let _ = writeln!(
        out,
        "Rehearsal on a local emulator (127.0.0.1) holding {} resource(s).",
        emulator.resources().len()
    );
    let awaiting = match runner {
        Runner::Native => {
            // One step at a time: the log comes out in the plan's order.
            let (progress, log) = super::progress::Progress::buffered("rehearsing");
            let report = apply::apply(
                client.clone(),
                plan,
                plan_path,
                plan_sha256,
                Options {
                    parallelism: 1,
                    confirmed,
                    ask: None,
                    journal: work.path().join("apply-journal.json"),
                    progress: Arc::new(progress),
                },
            )
            .await;
            let shown = |t: &str| t.replace(&work.path().display().to_string(), WORK_LABEL);
            let _ = out.write_all(shown(&log.text()).as_bytes());
            let report = report?;
            let mut closing = Vec::new();
            let _ = report.human(&mut closing);
            let _ = out.write_all(shown(&String::from_utf8_lossy(&closing)).as_bytes());
            report.waiting.is_some()
        }
        Runner::Script { az } => {
            let dir = plan_path.parent().unwrap_or(Path::new("."));
            let script = dir.join("apply.sh");
            if !script.is_file() {
                return Err(Error::Usage(format!(
                    "{}: no apply.sh beside the plan (plan --out writes it)",
                    script.display()
                )));
            }
            let env = az_environment(&work.path().join("az"), &emulator.url())
                .map_err(|e| Error::io("cannot write", work.path(), e))?;
            let az_dir = az.parent().map(Path::to_path_buf).unwrap_or_default();
            let path = format!(
                "{}:{}",
                az_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            let mut cmd = Command::new("bash");
            cmd.arg(&script);
            if confirmed {
                cmd.arg("--confirm-tenant-connector");
            }
            let status = cmd
                .arg("--backup-dir")
                .arg(work.path().join("backup"))
                .envs(env)
                .env("PATH", path)
                .env_remove("SENTINEL_MIGRATE_CONFIRM")
                .status()
                .map_err(|e| Error::io("cannot run", &script, e))?;
            let code = status.code();
            let words = match code {
                Some(0) => "completed".to_string(),
                Some(4) => "stopped before phase 3 (exit 4), waiting for the confirmation".into(),
                Some(c) => format!("failed with exit code {c}"),
                None => "was killed by a signal".into(),
            };
            let _ = writeln!(out, "apply.sh under {}: {words}.", az.display());
            code == Some(4)
        }
    };
    let mut checks = verify::verify(
        client,
        plan,
        4,
        Arc::new(super::progress::Progress::new(
            super::progress::Mode::Quiet,
            0,
            "",
        )),
    )
    .await?;
    if awaiting {
        // Apply stops before the first phase holding a step that waits for
        // the confirmation: that phase and later ones were not meant to run.
        let first_gated = plan
            .actions
            .iter()
            .filter(|a| a.operation.is_change() && a.required_gate().is_some())
            .map(|a| a.phase)
            .min();
        for c in &mut checks {
            let gated = plan.actions.iter().any(|a| {
                a.id == c.action
                    && a.operation.is_change()
                    && first_gated.is_some_and(|g| a.phase >= g)
            });
            if gated && c.holds == Some(false) {
                c.holds = None;
                c.detail = "not rehearsed: phase 3 waits for --confirm tenant-connector".into();
            }
        }
    }
    let _ = writeln!(out, "\nResulting state against the plan's desired state:");
    let all_hold = verify::report(&checks, out);
    Ok(Rehearsal {
        all_hold,
        awaiting_confirmation: awaiting,
    })
}
