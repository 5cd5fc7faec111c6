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
            emulator.seed(id, before.clone());
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

pub async fn rehearse(
    plan: &Plan,
    plan_path: &Path,
    plan_sha256: &str,
    runner: Runner,
    out: &mut dyn std::io::Write,
) -> Result<bool> {
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
        "Rehearsal on a local emulator at {} holding {} resource(s).",
        emulator.url(),
        emulator.resources().len()
    );
    match runner {
        Runner::Native => {
            let outcome = apply::apply(
                client.clone(),
                plan,
                plan_path,
                plan_sha256,
                Options {
                    parallelism: 4,
                    confirmed: true,
                    ask: None,
                    journal: work.path().join("apply-journal.json"),
                },
                out,
            )
            .await?;
            let _ = writeln!(out, "Native apply: {outcome:?}");
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
            let status = Command::new("bash")
                .arg(&script)
                .arg("--confirm-tenant-connector")
                .arg("--backup-dir")
                .arg(work.path().join("backup"))
                .envs(env)
                .env("PATH", path)
                .status()
                .map_err(|e| Error::io("cannot run", &script, e))?;
            let _ = writeln!(out, "apply.sh under {}: {status}", az.display());
        }
    }
    let checks = verify::verify(client, plan, 4).await?;
    let _ = writeln!(out, "\nResulting state against the plan's desired state:");
    Ok(verify::report(&checks, out))
}
