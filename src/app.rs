//! The commands: read, plan, render, write. Effects happen here and nowhere
//! before; output goes to the writers the binary hands in.

use crate::catalog::{Catalog, Family};
use crate::cli::{Cli, Command, OutputFormat, PlanArgs, RulesArgs, ShowArgs};
use crate::error::{Error, Result};
use crate::kql::Classifier;
use crate::model::{ResourceType, Workspace};
use crate::plan::{self, Settings};
use crate::render::{self, Style};
use crate::source::{self, ReadOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Exit codes (documented in docs/exit-codes.md).
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CHANGES: u8 = 2;
pub const EXIT_STALE: u8 = 3;

/// Whether colour may be used: not when asked not to (`--no-color`), not
/// under a non-empty `NO_COLOR`, only on a terminal.
pub fn style(no_color: bool, is_terminal: bool) -> Style {
    choose_style(no_color, std::env::var_os("NO_COLOR"), is_terminal)
}

fn choose_style(
    no_color: bool,
    no_color_env: Option<std::ffi::OsString>,
    is_terminal: bool,
) -> Style {
    if no_color || no_color_env.is_some_and(|v| !v.is_empty()) || !is_terminal {
        Style::Plain
    } else {
        Style::Color
    }
}

/// Runs a command; returns the exit code.
pub fn run(cli: Cli, out: &mut dyn Write, is_terminal: bool) -> Result<u8> {
    match cli.command {
        Command::Plan(args) => plan_command(args, out, is_terminal),
        Command::Show(args) => show_command(args, out, is_terminal),
        Command::Rules(args) => rules_command(args, out),
        Command::Export(args) => export_command(args, out),
        Command::Apply(args) => apply_command(args, out),
        Command::Verify(args) => verify_command(args, out),
        Command::Rollback(args) => rollback_command(args, out),
        Command::Rehearse(args) => rehearse_command(args, out),
    }
}

fn write_out(
    out: &mut dyn Write,
    f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    f(out).map_err(|e| Error::io("cannot write to", "stdout", e))
}

fn plan_command(args: PlanArgs, out: &mut dyn Write, is_terminal: bool) -> Result<u8> {
    let workspace = args
        .workspace
        .as_deref()
        .map(Workspace::parse)
        .transpose()
        .map_err(|e| Error::Usage(format!("--workspace: {e}")))?;
    if let Some(t) = &args.tenant_id
        && !plan::is_guid(t)
    {
        return Err(Error::Usage(format!(
            "--tenant-id: `{t}` is not a tenant id (a GUID)"
        )));
    }
    let catalog = Catalog::load(args.rules.as_deref())?;
    let inputs = source::read(
        &args.inputs,
        &ReadOptions {
            max_file_size: args.max_file_size,
            workspace,
        },
    )?;
    if let Some(rule) = &args.explain {
        return explain(&catalog, &inputs, rule, out);
    }
    let settings = Settings {
        mode: args.mode.into(),
        scheduled_rules: args.scheduled_rules.into(),
        tenant_id: args.tenant_id.map(|t| t.to_ascii_lowercase()),
    };
    let plan = plan::plan(&inputs, &catalog, &settings);
    if let Some(dir) = &args.out {
        write_artifacts(&plan, dir)?;
    }
    match args.format {
        OutputFormat::Human => write_out(out, |w| {
            render::human(&plan, w, style(args.no_color, is_terminal))
        })?,
        OutputFormat::Json => write_out(out, |w| render::json(&plan, w))?,
    }
    Ok(if args.detailed_exitcode && plan.summary.has_changes() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

/// Writes plan.json, changes.diff, apply.sh and rollback.sh into `dir`.
type Renderer = fn(&plan::Plan, &mut dyn Write) -> std::io::Result<()>;

pub fn write_artifacts(plan: &plan::Plan, dir: &Path) -> Result<()> {
    let mut plan_json = Vec::new();
    render::json(plan, &mut plan_json)
        .map_err(|e| Error::io("cannot render", dir.join("plan.json"), e))?;
    keeps_the_journal(dir, &plan_json)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    let files: [(&str, Renderer, bool); 4] = [
        ("plan.json", render::json, false),
        ("changes.diff", render::diff, false),
        ("apply.sh", render::apply_script, true),
        ("rollback.sh", render::rollback_script, true),
    ];
    for (name, write, executable) in files {
        let path = dir.join(name);
        let mut buf = Vec::new();
        write(plan, &mut buf).map_err(|e| Error::io("cannot render", &path, e))?;
        // Written beside, then renamed: a reader never sees half a file.
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, &buf).map_err(|e| Error::io("cannot write", &tmp, e))?;
        #[cfg(unix)]
        if executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io("cannot make executable", &tmp, e))?;
        }
        #[cfg(not(unix))]
        let _ = executable;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io("cannot write", &path, e))?;
    }
    Ok(())
}

/// Refuses to replace the plan an apply journal in `dir` belongs to: the
/// journal (and `backups/`) are what rolling that apply back needs, and a
/// new plan beside them could never be applied.
fn keeps_the_journal(dir: &Path, plan_json: &[u8]) -> Result<()> {
    let journal_path = dir.join("apply-journal.json");
    let Some(journal) = api::journal::Journal::load(&journal_path)? else {
        return Ok(());
    };
    if journal.plan_sha256 == sha256_hex(plan_json) {
        return Ok(());
    }
    let count = |s: api::journal::Status| journal.steps.values().filter(|x| x.status == s).count();
    Err(Error::Usage(format!(
        "{} records an apply ({} step(s) done, {} rolled back) of another plan than this one: nothing was written, so that rollback keeps what it needs ({} and {}). Plan into another folder (`plan --out NEW`), or roll that apply back first (`sentinel-migrate rollback {}`) and then move apply-journal.json and backups/ out of {}",
        journal_path.display(),
        count(api::journal::Status::Done) + count(api::journal::Status::Started),
        count(api::journal::Status::RolledBack),
        journal_path.display(),
        journal.backup_dir(&journal_path).display(),
        journal_path.display(),
        dir.display()
    )))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn explain(
    catalog: &Catalog,
    inputs: &crate::model::Inputs,
    wanted: &str,
    out: &mut dyn Write,
) -> Result<u8> {
    let matches: Vec<&crate::model::Resource> = inputs
        .resources
        .iter()
        .filter(|r| r.resource_type == ResourceType::AlertRules)
        .filter(|r| {
            r.name.eq_ignore_ascii_case(wanted)
                || r.display_name()
                    .is_some_and(|d| d.eq_ignore_ascii_case(wanted))
                || r.resource_id()
                    .is_some_and(|id| id.eq_ignore_ascii_case(wanted))
        })
        .collect();
    if matches.is_empty() {
        return Err(Error::Usage(format!(
            "--explain: no analytics rule has the name, display name or id `{wanted}` in the inputs"
        )));
    }
    let classifier = Classifier::new(catalog);
    let mut text = String::new();
    for r in matches {
        let shown = render::one_line(r.display_name().unwrap_or(&r.name));
        text.push_str(&format!(
            "{} \"{shown}\" ({}), {}\n",
            render::one_line(&r.name),
            r.kind.as_deref().unwrap_or("no kind"),
            r.origin
        ));
        text.push_str(&format!(
            "  enabled: {}, creates incidents: {}\n",
            r.enabled().map_or("unknown".to_string(), |e| e.to_string()),
            plan::creates_incidents(r)
        ));
        if r.is_kind("MicrosoftSecurityIncidentCreation") {
            let product = r.prop_str("productFilter").unwrap_or("(none)");
            let family = catalog
                .products
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(product))
                .map(|p| p.family);
            let verdict = match family {
                Some(Family::DefenderForCloud) => "dfc",
                _ => "none",
            };
            text.push_str(&format!(
                "  verdict: {verdict}: productFilter is \"{}\"\n",
                render::one_line(product)
            ));
        } else if let Some(q) = r.prop_str("query") {
            let d = classifier.classify(q);
            text.push_str(&format!(
                "  verdict: {}: {}\n",
                d.verdict.as_str(),
                render::one_line(&d.explanation)
            ));
            for e in &d.evidence {
                let file = r
                    .query_span
                    .as_ref()
                    .map(|s| {
                        let (l, c) = s.map(e.line, e.column);
                        format!(" ({}:{l}:{c})", r.origin.path)
                    })
                    .unwrap_or_default();
                text.push_str(&format!(
                    "    query {}:{}{file}  `{}`: {}\n",
                    e.line,
                    e.column,
                    render::one_line(&e.text),
                    render::one_line(&e.explanation)
                ));
            }
        } else {
            text.push_str("  verdict: none: the rule has no query to classify\n");
        }
    }
    write_out(out, |w| w.write_all(text.as_bytes()))?;
    Ok(EXIT_OK)
}

fn show_command(args: ShowArgs, out: &mut dyn Write, is_terminal: bool) -> Result<u8> {
    let (plan, _) = load_plan(&args.plan)?;
    match args.format {
        OutputFormat::Human => write_out(out, |w| {
            render::human(&plan, w, style(args.no_color, is_terminal))
        })?,
        OutputFormat::Json => write_out(out, |w| render::json(&plan, w))?,
    }
    Ok(EXIT_OK)
}

fn rules_command(args: RulesArgs, out: &mut dyn Write) -> Result<u8> {
    let catalog = Catalog::load(args.rules.as_deref())?;
    write_out(out, |w| render::rules_markdown(&catalog, w))?;
    Ok(EXIT_OK)
}

// ---- Azure ---------------------------------------------------------------

use crate::api::{self, Client, Cloud, Endpoint, RetryPolicy, token::TokenSource};
use crate::cli::{
    ApplyArgs, CloudArg, ConnectionArgs, ExportArgs, RehearseArgs, RollbackArgs, VerifyArgs,
};
use sha2::{Digest, Sha256};
use std::io::IsTerminal;
use std::sync::Arc;

/// Exit code: apply stopped before phase 3, waiting for the confirmation.
pub const EXIT_AWAITING_CONFIRMATION: u8 = 4;

fn client_for(conn: &ConnectionArgs) -> Result<Arc<Client>> {
    let endpoint = match &conn.endpoint {
        Some(url) => Endpoint::parse(url).map_err(|e| Error::Usage(format!("--endpoint: {e}")))?,
        None => {
            let cloud = match conn.cloud {
                CloudArg::Public => Cloud::Public,
                CloudArg::Usgov => Cloud::UsGov,
                CloudArg::China => Cloud::China,
            };
            Endpoint::parse(cloud.endpoint()).map_err(Error::Usage)?
        }
    };
    let tokens = TokenSource::from_env(&format!("{}/", endpoint.base()), endpoint.is_local());
    Client::new(endpoint, tokens, RetryPolicy::default())
        .map(Arc::new)
        .map_err(Error::Azure)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    api::runtime().map_err(|e| Error::Azure(format!("cannot start the async runtime: {e}")))
}

/// A saved plan and the SHA-256 of its bytes.
fn load_plan(path: &Path) -> Result<(plan::Plan, String)> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read", path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let plan = render::read_plan(&text).map_err(|e| {
        Error::Input(vec![
            crate::error::Diagnostic::at(
                &shown,
                &text,
                e.line(),
                e.column(),
                format!("not a plan: {e}"),
            )
            .expected("a plan.json written by `sentinel-migrate plan --out`"),
        ])
    })?;
    if plan.format_version != plan::FORMAT_VERSION {
        return Err(Error::Usage(format!(
            "{shown}: plan format version {} is not the {} this version reads; plan again",
            plan.format_version,
            plan::FORMAT_VERSION
        )));
    }
    Ok((plan, sha256_hex(&bytes)))
}

pub fn export_command(args: ExportArgs, out: &mut dyn Write) -> Result<u8> {
    let workspaces = args
        .workspace
        .iter()
        .map(|w| Workspace::parse(w).map_err(|e| Error::Usage(format!("--workspace: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    let catalog = Catalog::embedded()?;
    let mut overrides = std::collections::BTreeMap::new();
    for spec in &args.api_versions {
        let (t, v) = spec.split_once('=').ok_or_else(|| {
            Error::Usage(format!(
                "--api-version `{spec}`: expected TYPE=VERSION, e.g. alertRules=2025-09-01"
            ))
        })?;
        let t = ResourceType::from_type(t)
            .ok_or_else(|| Error::Usage(format!("--api-version `{spec}`: unknown type; use dataConnectors, alertRules or automationRules")))?;
        overrides.insert(t, v.to_string());
    }
    let client = client_for(&args.connection)?;
    let progress = std::io::stderr().is_terminal();
    let parallelism = args.connection.parallelism as usize;
    let files = runtime()?.block_on(api::export::export(
        client,
        &workspaces,
        |t| {
            overrides
                .get(&t)
                .cloned()
                .unwrap_or_else(|| catalog.api_version(t).to_string())
        },
        &args.out,
        parallelism,
        progress,
        out,
    ))?;
    let total: usize = files.iter().map(|f| f.count).sum();
    write_out(out, |w| {
        writeln!(
            w,
            "Exported {total} resources of {} workspace(s) into {}; plan them with `sentinel-migrate plan {}`",
            workspaces.len(),
            args.out.display(),
            args.out.display()
        )
    })?;
    Ok(EXIT_OK)
}

pub fn apply_command(args: ApplyArgs, out: &mut dyn Write) -> Result<u8> {
    let (plan, sha) = load_plan(&args.plan)?;
    let client = client_for(&args.connection)?;
    let journal = args
        .plan
        .parent()
        .unwrap_or(Path::new("."))
        .join("apply-journal.json");
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let ask: Option<Box<dyn Fn() -> bool + Send + Sync>> = interactive.then(|| {
        Box::new(|| {
            eprint!(
                "Phase 3 disconnects the legacy Defender for Cloud connectors. Is the tenant-based connector connected and are its alerts arriving? Type yes to continue: "
            );
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).is_ok() && line.trim().eq_ignore_ascii_case("yes")
        }) as Box<dyn Fn() -> bool + Send + Sync>
    });
    let outcome = runtime()?.block_on(api::apply::apply(
        client,
        &plan,
        &args.plan,
        &sha,
        api::apply::Options {
            parallelism: args.connection.parallelism as usize,
            confirmed: args.confirm.is_some(),
            ask,
            journal,
        },
        out,
    ))?;
    Ok(match outcome {
        api::apply::Outcome::Complete { .. } => EXIT_OK,
        api::apply::Outcome::AwaitingConfirmation { .. } => EXIT_AWAITING_CONFIRMATION,
    })
}

pub fn verify_command(args: VerifyArgs, out: &mut dyn Write) -> Result<u8> {
    let (plan, _) = load_plan(&args.plan)?;
    let client = client_for(&args.connection)?;
    let checks = runtime()?.block_on(api::verify::verify(
        client,
        &plan,
        args.connection.parallelism as usize,
    ))?;
    Ok(if api::verify::report(&checks, out) {
        EXIT_OK
    } else {
        EXIT_CHANGES
    })
}

pub fn rollback_command(args: RollbackArgs, out: &mut dyn Write) -> Result<u8> {
    let client = client_for(&args.connection)?;
    runtime()?.block_on(api::rollback::rollback(
        client,
        &args.journal,
        args.force,
        out,
    ))?;
    Ok(EXIT_OK)
}

pub fn rehearse_command(args: RehearseArgs, out: &mut dyn Write) -> Result<u8> {
    let (plan, sha) = load_plan(&args.plan)?;
    let runner = if args.script {
        api::rehearse::Runner::Script {
            az: args.az.unwrap_or_else(|| PathBuf::from("az")),
        }
    } else {
        api::rehearse::Runner::Native
    };
    let all_hold = runtime()?.block_on(api::rehearse::rehearse(
        &plan, &args.plan, &sha, runner, out,
    ))?;
    Ok(if all_hold { EXIT_OK } else { EXIT_CHANGES })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_and_never_when_refused() {
        assert_eq!(choose_style(false, None, true), Style::Color);
        assert_eq!(choose_style(false, None, false), Style::Plain);
        assert_eq!(choose_style(true, None, true), Style::Plain);
        assert_eq!(choose_style(false, Some("1".into()), true), Style::Plain);
        // An empty NO_COLOR does not count (no-color.org).
        assert_eq!(choose_style(false, Some("".into()), true), Style::Color);
    }

    #[test]
    fn coloured_summary_marks_each_change() {
        let inputs = source::read(
            &[PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/contoso"
            ))],
            &ReadOptions::default(),
        )
        .unwrap();
        let plan = plan::plan(&inputs, &Catalog::embedded().unwrap(), &Settings::default());
        let mut out = Vec::new();
        render::human(&plan, &mut out, Style::Color).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("\u{1b}[1m\u{1b}[31m-\u{1b}[0m") || text.contains("\u{1b}[31m"),
            "{text}"
        );
        let mut plain = Vec::new();
        render::human(&plan, &mut plain, Style::Plain).unwrap();
        assert!(!String::from_utf8(plain).unwrap().contains('\u{1b}'));
    }
}
