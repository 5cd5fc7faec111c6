//! The commands: read, plan, render, write. Effects happen here and nowhere
//! before; output goes to the writers the binary hands in.

use crate::catalog::Catalog;
use crate::cli::{
    Cli, ColorChoice, Command, OutputFormat, PlanConfig, RulesArgs, ShowArgs, ShowFormat,
};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::model::{ResourceType, Workspace};
use crate::plan;
use crate::plan::Settings;
use crate::render::{self, Style};
use crate::source;
use std::io::Write;
use std::path::Path;

/// Whether colour may be used, from `--color` and the environment.
pub fn style(choice: ColorChoice, is_terminal: bool) -> Style {
    choose_style(choice, &|k| std::env::var_os(k), is_terminal)
}

/// The CI service the environment says this runs under, if any:
/// `GITHUB_ACTIONS=true` (GitHub Actions), `TF_BUILD=True` (Azure
/// Pipelines), or any other service's `CI` (set and not `false` or `0`).
/// Under CI nothing asks on a terminal, there is no colour (unless
/// `--color always` or `CLICOLOR_FORCE`) and progress is a line per step.
fn ci_service(env: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> Option<&'static str> {
    let value = |k: &str| {
        env(k)
            .map(|v| v.to_string_lossy().trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
    };
    if value("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
        Some("GitHub Actions")
    } else if value("TF_BUILD").is_some_and(|v| v == "true") {
        Some("Azure Pipelines")
    } else if value("CI").is_some_and(|v| v != "false" && v != "0") {
        Some("CI")
    } else {
        None
    }
}

/// Whether this runs under a CI service ([`ci_service`]).
fn in_ci() -> bool {
    ci_service(&|k| std::env::var_os(k)).is_some()
}

/// `--color always|never` decide; `auto` follows the conventions
/// (no-color.org, bixense.com/clicolors), in anstream's order: a non-empty
/// `NO_COLOR` turns colour off, then `CLICOLOR_FORCE` (not `0`) turns it
/// on, then `CLICOLOR=0` turns it off, then CI ([`ci_service`]) turns it
/// off; otherwise colour only on a terminal that is not `TERM=dumb`.
fn choose_style(
    choice: ColorChoice,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    is_terminal: bool,
) -> Style {
    let set = |k: &str| env(k).filter(|v| !v.is_empty());
    let colour = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if set("NO_COLOR").is_some() {
                false
            } else if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
                true
            } else if set("CLICOLOR").is_some_and(|v| v == "0") || ci_service(env).is_some() {
                false
            } else {
                is_terminal && set("TERM").is_none_or(|t| t != "dumb")
            }
        }
    };
    if colour { Style::Color } else { Style::Plain }
}

/// Runs a command; returns how it ended.
pub fn run(cli: Cli, out: &mut dyn Write, is_terminal: bool) -> Result<Exit> {
    match cli.command {
        Command::Plan(args) => plan_command(args.resolve()?, out, is_terminal),
        Command::Show(args) => show_command(args, out, is_terminal),
        Command::Rules(args) => rules_command(args, out),
        Command::Export(args) => export_command(args, out),
        Command::Apply(args) => apply_command(args, out),
        Command::Verify(args) => verify_command(args, out),
        Command::Rollback(args) => rollback_command(args, out),
        Command::Rehearse(args) => rehearse_command(args, out),
    }
}

mod patch;

/// Writes to stdout. A reader that goes away (`plan | head`) is not an
/// error: the rest of the output is dropped quietly.
fn write_out(
    out: &mut dyn Write,
    f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    match f(out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(|e| Error::io("cannot write to", "stdout", e)),
    }
}

fn plan_command(mut args: PlanConfig, out: &mut dyn Write, is_terminal: bool) -> Result<Exit> {
    if let Some(path) = &args.settings_file {
        crate::settings::load(path, &mut args.settings)?;
    }
    let catalog = Catalog::load(args.rules.as_deref())?;
    let settings = &args.settings;
    // The reader keeps the whole bodies of the rules the plan takes a step
    // on (`--explain` shows every rule's: all are kept).
    let steps = plan::Steps::new(&catalog, settings);
    let keep = |r: &crate::model::Resource| match &args.explain {
        Some(_) => crate::model::Keep::Whole,
        None => steps.keep(r),
    };
    let inputs = source::read_with(&args.inputs, &args.read, &keep)?;
    if inputs.resources.is_empty() && !args.allow_empty {
        return Err(nothing_to_plan(&args.inputs, &inputs));
    }
    if let Some(rule) = &args.explain {
        return explain(&catalog, &inputs, settings, rule, args.format, out);
    }
    let jobs = args.read.jobs;
    let plan = steps.plan(&inputs, jobs)?;
    drop(steps);
    // The plan holds what it needs: the resources go (on a thread of
    // their own, where the summary is rendered) while the artifacts are.
    let human_style = style(args.color, is_terminal);
    let (summary, written) = crate::par::beside(
        jobs,
        || {
            drop(inputs);
            let mut text = Vec::new();
            (args.format == OutputFormat::Human)
                .then(|| render::human(&plan, &mut text, human_style).map(|()| text))
        },
        || match &args.out {
            Some(dir) => write_artifacts(&plan, dir, jobs),
            None => Ok(()),
        },
    );
    written?;
    let patched = (args.patch.is_some() || args.write)
        .then(|| patch::run(&plan, &args.inputs, args.patch.as_deref(), args.write))
        .transpose()?;
    step_summary(&plan, args.out.as_deref());
    match args.format {
        OutputFormat::Human => write_out(out, |w| {
            w.write_all(&summary.transpose()?.unwrap_or_default())?;
            if let Some(dir) = &args.out {
                writeln!(w)?;
                w.write_all(next_steps(&plan, dir).as_bytes())?;
            }
            if let Some(p) = &patched {
                writeln!(w)?;
                for l in &p.lines {
                    writeln!(w, "{l}")?;
                }
            }
            Ok(())
        })?,
        OutputFormat::Json => {
            write_out(out, |w| render::json(&plan, w))?;
            for l in patched.iter().flat_map(|p| &p.lines) {
                eprintln!("{l}");
            }
            if let Some(dir) = &args.out {
                // stdout is the plan: the pointer goes to stderr.
                eprint!("{}", next_steps(&plan, dir));
            }
        }
    }
    Ok(plan_exit(
        &plan.summary,
        args.detailed_exitcode,
        args.fail_on_review,
    ))
}

/// The exit code of `plan`: review items gate a pipeline only when asked
/// (`--fail-on-review`, which wins: a human must look before anything is
/// applied); changes count only with `--detailed-exitcode`.
fn plan_exit(summary: &plan::Summary, detailed: bool, fail_on_review: bool) -> Exit {
    if fail_on_review && summary.review > 0 {
        Exit::NeedsReview
    } else if detailed && summary.has_changes() {
        Exit::Changes
    } else {
        Exit::Ok
    }
}

/// Where `plan --out` wrote the artifacts and what to run next.
fn next_steps(plan: &plan::Plan, dir: &Path) -> String {
    let d = render::one_line(&dir.display().to_string());
    let mut s = format!(
        "Wrote {d}/plan.json, {d}/changes.diff, {d}/apply.sh, {d}/rollback.sh and {d}/report.html.\n"
    );
    if plan.summary.changes + plan.summary.manual == 0 {
        s.push_str("Nothing to apply.\n");
        return s;
    }
    if plan.summary.review > 0 {
        s.push_str(&format!(
            "{} item(s) above need a human review first; they are not changed by apply.\n",
            plan.summary.review
        ));
    }
    s.push_str(&format!(
        "Next: review {d}/changes.diff, rehearse with `sentinel-migrate rehearse {d}/plan.json`, then apply with `sentinel-migrate apply {d}/plan.json` (or {d}/apply.sh).\n"
    ));
    s
}

/// Inputs that hold no Sentinel resources are not a plan with nothing to
/// do: say what was read, what was skipped and what was expected.
fn nothing_to_plan(paths: &[std::path::PathBuf], inputs: &crate::model::Inputs) -> Error {
    const SHOWN: usize = 5;
    let list = |items: Vec<String>| {
        let more = items.len().saturating_sub(SHOWN);
        let mut text: Vec<String> = items.into_iter().take(SHOWN).collect();
        if more > 0 {
            text.push(format!("and {more} more"));
        }
        text.join("; ")
    };
    let given: Vec<String> = paths
        .iter()
        .map(|p| render::one_line(&p.display().to_string()))
        .collect();
    let mut msg = format!(
        "no Sentinel resources in the inputs ({}): nothing to plan\n",
        given.join(", ")
    );
    if inputs.files.is_empty() {
        msg.push_str("  read no export files\n");
    } else {
        let files = inputs.files.iter().map(|f| {
            let format = f.format.map(plan::format_name).unwrap_or_default();
            format!("{} ({format}, no resources)", render::one_line(&f.path))
        });
        msg.push_str(&format!(
            "  read {}: {}\n",
            count(inputs.files.len(), "file"),
            list(files.collect())
        ));
    }
    if !inputs.skipped.is_empty() {
        let skipped = inputs.skipped.iter().map(|s| {
            format!(
                "{}: {}",
                render::one_line(&s.path),
                render::one_line(&s.reason)
            )
        });
        msg.push_str(&format!(
            "  skipped {}: {}\n",
            inputs.skipped.len(),
            list(skipped.collect())
        ));
    }
    msg.push_str("  expected: data connectors, analytics rules or automation rules: `az rest` lists (as `sentinel-migrate export` writes them), JSON arrays or single resources, ARM templates, Sentinel YAML\n");
    msg.push_str(
        "  hint: check the paths given; to plan an empty workspace on purpose, pass --allow-empty",
    );
    Error::Usage(msg)
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// With `GITHUB_STEP_SUMMARY` set (GitHub Actions), appends the plan's
/// Markdown to that file, as GitHub documents it (the file is the whole
/// job's). A summary that cannot be written is a warning on stderr, never
/// a failed plan: the plan and its artifacts are what matter.
fn step_summary(plan: &plan::Plan, artifacts: Option<&Path>) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    if let Err(e) = append_summary(plan, artifacts, &path) {
        eprintln!(
            "warning: cannot append the Markdown summary to {} (GITHUB_STEP_SUMMARY): {e}; the plan is not affected",
            render::one_line(&path.display().to_string())
        );
    }
}

fn append_summary(plan: &plan::Plan, artifacts: Option<&Path>, path: &Path) -> std::io::Result<()> {
    let dir = artifacts.map(|d| d.display().to_string());
    let mut text = Vec::new();
    render::markdown(plan, dir.as_deref(), &mut text)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // Separated from what earlier steps appended.
    file.write_all(b"\n")?;
    file.write_all(&text)
}

/// Writes plan.json, changes.diff, apply.sh, rollback.sh and report.html
/// into `dir`: rendered side by side (`jobs` threads), each streamed to a
/// file beside its name, all renamed into place only once every one is
/// written and the folder's journal (if any) belongs to this plan.
pub fn write_artifacts(plan: &plan::Plan, dir: &Path, jobs: usize) -> Result<()> {
    #[derive(Clone, Copy)]
    enum Artifact {
        Plan,
        Diff,
        Apply,
        Rollback,
        Report,
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    // The folder's lock, as apply and rollback take it: a second `plan`
    // into the same folder, or one while an apply runs there, cannot mix
    // its artifacts with theirs.
    let _lock = api::journal::Lock::acquire(&dir.join("apply-journal.json"), "plan")?;
    // The largest first: they set how long the whole takes.
    let files = [
        ("plan.json", Artifact::Plan, false),
        ("report.html", Artifact::Report, false),
        ("apply.sh", Artifact::Apply, true),
        ("changes.diff", Artifact::Diff, false),
        ("rollback.sh", Artifact::Rollback, true),
    ];
    // Both scripts carry the plan's id: worked out once, by whichever
    // needs it first.
    let id = std::sync::OnceLock::new();
    let plan_sha256 = std::sync::OnceLock::new();
    let written = crate::par::map(files.to_vec(), jobs, |(name, artifact, executable)| {
        let path = dir.join(name);
        // Written beside, then renamed: a reader never sees half a file.
        // Streamed: a fleet's artifacts are not held in memory.
        let tmp = dir.join(format!(".{name}.tmp"));
        let made = (|| {
            // Made new: a file or link left at that name (by a run killed
            // mid-way, or planted) is removed, never written through.
            match std::fs::remove_file(&tmp) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io("cannot write", &tmp, e));
                }
                _ => {}
            }
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(|e| Error::io("cannot write", &tmp, e))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
            let written = match artifact {
                Artifact::Plan => {
                    // Hashed as written, for the journal's check.
                    let mut hashing = Hashing {
                        w: &mut w,
                        hash: Sha256::new(),
                    };
                    let r = render::json(plan, &mut hashing);
                    let _ = plan_sha256.set(hex(&hashing.hash.finalize()));
                    r
                }
                Artifact::Diff => render::diff(plan, &mut w),
                Artifact::Apply => {
                    render::apply_script_of(plan, id.get_or_init(|| render::plan_id(plan)), &mut w)
                }
                Artifact::Rollback => render::rollback_script_of(
                    plan,
                    id.get_or_init(|| render::plan_id(plan)),
                    &mut w,
                ),
                Artifact::Report => render::html(plan, &mut w),
            }
            .and_then(|()| w.flush());
            drop(w);
            written.map_err(|e| match e.raw_os_error() {
                // The system's errors are the file's; the others, a renderer's.
                Some(_) => Error::io("cannot write", &tmp, e),
                None => Error::io("cannot render", &path, e),
            })?;
            #[cfg(unix)]
            if executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| Error::io("cannot make executable", &tmp, e))?;
            }
            #[cfg(not(unix))]
            let _ = executable;
            Ok(())
        })();
        (tmp, path, made)
    });
    let remove_all = |written: &[(std::path::PathBuf, std::path::PathBuf, Result<()>)]| {
        for (tmp, _, _) in written {
            let _ = std::fs::remove_file(tmp);
        }
    };
    // The first failure in the files' order, whichever thread met it.
    let failed = written.iter().position(|(_, _, made)| made.is_err());
    if let Some(i) = failed {
        remove_all(&written);
        let (_, _, made) = written.into_iter().nth(i).expect("found above");
        return made;
    }
    let sha = plan_sha256.get().cloned().unwrap_or_default();
    if let Err(e) = keeps_the_journal(dir, &sha) {
        remove_all(&written);
        return Err(e);
    }
    for (tmp, path, _) in written {
        std::fs::rename(&tmp, &path).map_err(|e| Error::io("cannot write", &path, e))?;
    }
    Ok(())
}

/// A writer that hashes what goes through it.
struct Hashing<'w> {
    w: &'w mut dyn Write,
    hash: Sha256,
}

impl Write for Hashing<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.w.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// Refuses to replace the plan an apply journal in `dir` belongs to: the
/// journal (and `backups/`) are what rolling that apply back needs, and a
/// new plan beside them could never be applied.
fn keeps_the_journal(dir: &Path, plan_sha256: &str) -> Result<()> {
    let journal_path = dir.join("apply-journal.json");
    let Some(journal) = api::journal::Journal::load(&journal_path)? else {
        return Ok(());
    };
    if journal.plan_sha256 == plan_sha256 {
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
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `--explain`: renders the planner's own decision about the rules named.
fn explain(
    catalog: &Catalog,
    inputs: &crate::model::Inputs,
    settings: &Settings,
    wanted: &str,
    format: OutputFormat,
    out: &mut dyn Write,
) -> Result<Exit> {
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
    let explanation = plan::explain(&matches, &inputs.resources, catalog, settings);
    match format {
        OutputFormat::Human => write_out(out, |w| render::explain_human(&explanation, w))?,
        OutputFormat::Json => write_out(out, |w| render::explain_json(&explanation, w))?,
    }
    Ok(Exit::Ok)
}

fn show_command(args: ShowArgs, out: &mut dyn Write, is_terminal: bool) -> Result<Exit> {
    let (plan, _) = load_plan(&args.plan)?;
    // The full artifacts are beside the plan.
    let dir = match args.plan.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match args.format {
        ShowFormat::Human => write_out(out, |w| {
            render::human(&plan, w, style(args.color.choice(), is_terminal))
        })?,
        ShowFormat::Json => write_out(out, |w| render::json(&plan, w))?,
        ShowFormat::Markdown => write_out(out, |w| {
            render::markdown(&plan, Some(&dir.display().to_string()), w)
        })?,
    }
    Ok(Exit::Ok)
}

fn rules_command(args: RulesArgs, out: &mut dyn Write) -> Result<Exit> {
    let catalog = Catalog::load(args.rules.as_deref())?;
    write_out(out, |w| render::rules_markdown(&catalog, w))?;
    Ok(Exit::Ok)
}

// ---- Azure ---------------------------------------------------------------

use crate::api::progress::{Mode as ProgressMode, Progress};
use crate::api::{self, Client, RetryPolicy, token::TokenSource};
use crate::cli::{ApplyArgs, ConnectionArgs, ExportArgs, RehearseArgs, RollbackArgs, VerifyArgs};
use sha2::{Digest, Sha256};
use std::io::IsTerminal;
use std::sync::Arc;

fn client_for(conn: &ConnectionArgs) -> Result<Arc<Client>> {
    let conn = conn.resolve()?;
    let endpoint = conn.endpoint;
    let tokens = TokenSource::from_env(
        &format!("{}/", endpoint.base()),
        endpoint.is_local(),
        conn.az,
    );
    let client = Client::new(endpoint, tokens, RetryPolicy::default()).map_err(Error::Azure)?;
    Ok(Arc::new(if conn.verbose {
        client.with_request_log(Arc::new(|line: &str| eprintln!("{line}")))
    } else {
        client
    }))
}

/// Progress on stderr: a bar on a terminal, a line per step otherwise, and
/// lines always under `-v` (the request log is line by line).
fn progress(conn: &ConnectionArgs, total: usize, what: &str) -> Arc<Progress> {
    let mode = match ProgressMode::for_stderr() {
        ProgressMode::Bar if conn.verbose || in_ci() => ProgressMode::Lines,
        m => m,
    };
    Arc::new(Progress::new(mode, total as u64, what))
}

/// Whether apply may ask on the terminal: not in CI, not for JSON output.
fn may_ask(format: OutputFormat) -> bool {
    format == OutputFormat::Human
        && !in_ci()
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
}

/// Writes a JSON result on stdout.
fn write_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<()> {
    write_out(out, |w| {
        serde_json::to_writer_pretty(&mut *w, value)?;
        writeln!(w)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    api::runtime().map_err(|e| Error::Azure(format!("cannot start the async runtime: {e}")))
}

/// The plan narrowed to the workspaces `--workspace` and `--tenant` name
/// (the whole plan when neither is given). A selector that matches no
/// workspace of the plan is an error, never an empty apply.
fn select(mut plan: plan::Plan, select: &crate::cli::SelectArgs) -> Result<plan::Plan> {
    if select.workspaces.is_empty() && select.tenants.is_empty() {
        return Ok(plan);
    }
    let tenant_of = |id: &str| -> Option<String> {
        plan.workspaces
            .iter()
            .find(|w| w.id.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(id)))
            .and_then(|w| w.tenancy.as_ref())
            .and_then(|t| t.tenant_id.clone())
    };
    let known: Vec<String> = plan
        .workspaces
        .iter()
        .filter_map(|w| w.id.clone())
        .collect();
    for w in &select.workspaces {
        if !known
            .iter()
            .any(|k| k.eq_ignore_ascii_case(w.trim_end_matches('/')))
        {
            return Err(Error::Usage(format!(
                "--workspace `{}`: the plan has no such workspace; it has {}",
                render::one_line(w),
                known.join(", ")
            )));
        }
    }
    for t in &select.tenants {
        if !known
            .iter()
            .any(|k| tenant_of(k).is_some_and(|x| x.eq_ignore_ascii_case(t)))
        {
            return Err(Error::Usage(format!(
                "--tenant `{}`: no workspace of the plan belongs to that tenant",
                render::one_line(t)
            )));
        }
    }
    let wanted = |ws: &str| {
        select
            .workspaces
            .iter()
            .any(|w| w.trim_end_matches('/').eq_ignore_ascii_case(ws))
            || tenant_of(ws)
                .is_some_and(|t| select.tenants.iter().any(|x| x.eq_ignore_ascii_case(&t)))
    };
    plan.actions
        .retain(|a| a.workspace.as_deref().is_some_and(wanted));
    Ok(plan)
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

pub fn export_command(args: ExportArgs, out: &mut dyn Write) -> Result<Exit> {
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
            .ok_or_else(|| Error::Usage(format!("--api-version `{spec}`: unknown type; use dataConnectors, alertRules, automationRules or contentPackages")))?;
        overrides.insert(t, v.to_string());
    }
    let client = client_for(&args.connection)?;
    let export_progress = progress(
        &args.connection,
        workspaces.len() * ResourceType::ALL.len(),
        "exporting",
    );
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
        export_progress,
        &catalog.api.subscription_api_version,
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
    Ok(Exit::Ok)
}

pub fn apply_command(args: ApplyArgs, out: &mut dyn Write) -> Result<Exit> {
    let client = client_for(&args.connection)?;
    let (plan, sha) = load_plan(&args.plan)?;
    let plan = select(plan, &args.select)?;
    let journal = args
        .plan
        .parent()
        .unwrap_or(Path::new("."))
        .join("apply-journal.json");
    let ask: Option<Box<dyn Fn() -> bool + Send + Sync>> = may_ask(args.format).then(|| {
        Box::new(|| {
            eprint!(
                "The next phase disconnects the legacy Defender for Cloud connectors. Is the tenant-based connector connected and are its alerts arriving? Type yes to continue: "
            );
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).is_ok() && line.trim().eq_ignore_ascii_case("yes")
        }) as Box<dyn Fn() -> bool + Send + Sync>
    });
    let steps = plan
        .actions
        .iter()
        .filter(|a| a.operation.is_change())
        .count();
    let report = runtime()?.block_on(api::apply::apply(
        client,
        &plan,
        &args.plan,
        &sha,
        api::apply::Options {
            parallelism: args.connection.parallelism as usize,
            confirmed: args.confirm.is_some(),
            ask,
            journal,
            progress: progress(&args.connection, steps, "applying"),
        },
    ))?;
    match args.format {
        OutputFormat::Human => write_out(out, |w| report.human(w))?,
        OutputFormat::Json => write_json(out, &report)?,
    }
    Ok(match report.outcome {
        api::apply::Outcome::Complete { .. } => Exit::Ok,
        api::apply::Outcome::AwaitingConfirmation { .. } => Exit::AwaitingConfirmation,
    })
}

pub fn verify_command(args: VerifyArgs, out: &mut dyn Write) -> Result<Exit> {
    if let Some(data) = args.data_settings()? {
        return verify_data_command(&args, data, out);
    }
    let client = client_for(&args.connection)?;
    let (plan, _) = load_plan(&args.plan)?;
    let plan = select(plan, &args.select)?;
    let steps = plan
        .actions
        .iter()
        .filter(|a| a.operation.is_change())
        .count();
    let checks = runtime()?.block_on(api::verify::verify(
        client,
        &plan,
        args.connection.parallelism as usize,
        progress(&args.connection, steps, "verifying"),
    ))?;
    let all_hold = checks.iter().all(|c| c.holds != Some(false));
    match args.format {
        OutputFormat::Human => {
            let mut buf = Vec::new();
            api::verify::report(&checks, &mut buf);
            write_out(out, |w| w.write_all(&buf))?;
        }
        OutputFormat::Json => write_json(out, &api::verify::json(&checks))?,
    }
    Ok(if all_hold { Exit::Ok } else { Exit::Changes })
}

/// `verify --data`: the checks on the workspaces' data (docs/verify-data.md).
fn verify_data_command(
    args: &VerifyArgs,
    data: crate::cli::DataSettings,
    out: &mut dyn Write,
) -> Result<Exit> {
    let client = client_for(&args.connection)?;
    let catalog = Catalog::embedded()?;
    let (plan, _) = load_plan(&args.plan)?;
    let all = plan.workspaces.clone();
    let selected = !args.select.workspaces.is_empty() || !args.select.tenants.is_empty();
    let plan = select(plan, &args.select)?;
    let workspaces: Vec<String> = all
        .iter()
        .filter_map(|w| w.id.clone())
        .filter(|id| {
            !selected
                || args
                    .select
                    .workspaces
                    .iter()
                    .any(|w| w.trim_end_matches('/').eq_ignore_ascii_case(id))
                || plan.actions.iter().any(|a| {
                    a.workspace
                        .as_deref()
                        .is_some_and(|w| w.eq_ignore_ascii_case(id))
                })
        })
        .collect();
    let journal_path = args
        .plan
        .parent()
        .unwrap_or(Path::new("."))
        .join("apply-journal.json");
    let journal = api::journal::Journal::load(&journal_path)?
        .map(|j| (j, journal_path.display().to_string()));
    let show_query: Option<api::data::ShowQuery> = args.connection.verbose.then(|| {
        Arc::new(|ws: &str, check: &str, query: &str| {
            eprintln!(
                "query {check} of {}:\n{}\n",
                render::one_line(ws),
                query
                    .lines()
                    .map(|l| format!("    {}", render::one_line(l)))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }) as api::data::ShowQuery
    });
    let options = api::data::Options {
        since: data.since,
        switched_at: data.switched_at,
        until: data.until,
        journal,
        workspaces,
        parallelism: args.connection.parallelism as usize,
        show_query,
    };
    let report = runtime()?.block_on(api::data::verify_data(client, &plan, &catalog, &options))?;
    match args.format {
        OutputFormat::Human => write_out(out, |w| api::data::report(&report, w))?,
        OutputFormat::Json => write_out(out, |w| {
            let text = serde_json::to_string_pretty(&api::data::json(&report))?;
            writeln!(w, "{}", render::json_visible(text))
        })?,
    }
    Ok(if api::data::all_hold(&report) {
        Exit::Ok
    } else {
        Exit::Changes
    })
}

pub fn rollback_command(args: RollbackArgs, out: &mut dyn Write) -> Result<Exit> {
    let client = client_for(&args.connection)?;
    let progress = progress(&args.connection, 0, "rolling back");
    let outcome = runtime()?.block_on(api::rollback::rollback(
        client,
        &args.journal,
        args.force,
        &progress,
    ))?;
    progress.finish();
    match args.format {
        OutputFormat::Human => write_out(out, |w| outcome.human(w))?,
        OutputFormat::Json => write_json(out, &outcome.json())?,
    }
    Ok(Exit::Ok)
}

pub fn rehearse_command(args: RehearseArgs, out: &mut dyn Write) -> Result<Exit> {
    let (plan, sha) = load_plan(&args.plan)?;
    let runner = if args.script {
        api::rehearse::Runner::Script {
            az: api::token::find_az(args.az.as_deref()),
        }
    } else {
        api::rehearse::Runner::Native
    };
    let r = runtime()?.block_on(api::rehearse::rehearse(
        &plan,
        &args.plan,
        &sha,
        runner,
        args.confirm.is_some(),
        out,
    ))?;
    Ok(if !r.all_hold {
        Exit::Changes
    } else if r.awaiting_confirmation {
        Exit::AwaitingConfirmation
    } else {
        Exit::Ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Settings;
    use crate::source::ReadOptions;
    use std::path::PathBuf;

    fn decide(choice: ColorChoice, env: &[(&str, &str)], terminal: bool) -> Style {
        let lookup = |k: &str| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| std::ffi::OsString::from(v))
        };
        choose_style(choice, &lookup, terminal)
    }

    #[test]
    fn colour_follows_the_flag_then_the_conventions() {
        use ColorChoice::*;
        assert_eq!(decide(Auto, &[], true), Style::Color);
        assert_eq!(decide(Auto, &[], false), Style::Plain);
        assert_eq!(decide(Never, &[], true), Style::Plain);
        assert_eq!(decide(Always, &[], false), Style::Color);
        assert_eq!(decide(Always, &[("NO_COLOR", "1")], false), Style::Color);
        assert_eq!(decide(Auto, &[("NO_COLOR", "1")], true), Style::Plain);
        // An empty NO_COLOR does not count (no-color.org).
        assert_eq!(decide(Auto, &[("NO_COLOR", "")], true), Style::Color);
        assert_eq!(decide(Auto, &[("TERM", "dumb")], true), Style::Plain);
        assert_eq!(decide(Auto, &[("CLICOLOR", "0")], true), Style::Plain);
        assert_eq!(
            decide(Auto, &[("CLICOLOR_FORCE", "1")], false),
            Style::Color
        );
        assert_eq!(
            decide(Auto, &[("CLICOLOR_FORCE", "1"), ("TERM", "dumb")], false),
            Style::Color
        );
        assert_eq!(
            decide(Auto, &[("CLICOLOR_FORCE", "0")], false),
            Style::Plain
        );
        assert_eq!(
            decide(Auto, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], true),
            Style::Plain
        );
    }

    #[test]
    fn ci_is_detected_from_each_services_variable() {
        let service = |env: &[(&str, &str)]| {
            ci_service(&|k: &str| {
                env.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            })
        };
        assert_eq!(service(&[]), None);
        assert_eq!(
            service(&[("GITHUB_ACTIONS", "true")]),
            Some("GitHub Actions")
        );
        // Azure Pipelines spells it `True`.
        assert_eq!(service(&[("TF_BUILD", "True")]), Some("Azure Pipelines"));
        assert_eq!(service(&[("CI", "true")]), Some("CI"));
        assert_eq!(service(&[("CI", "1")]), Some("CI"));
        assert_eq!(service(&[("CI", "woodpecker")]), Some("CI"));
        for off in ["", "false", "FALSE", "0"] {
            assert_eq!(service(&[("CI", off)]), None, "CI={off:?}");
        }
        assert_eq!(service(&[("GITHUB_ACTIONS", "false")]), None);
        assert_eq!(service(&[("TF_BUILD", "")]), None);
    }

    #[test]
    fn ci_turns_colour_off_unless_forced() {
        use ColorChoice::*;
        for ci in [
            ("CI", "true"),
            ("GITHUB_ACTIONS", "true"),
            ("TF_BUILD", "True"),
        ] {
            assert_eq!(decide(Auto, &[ci], true), Style::Plain, "{ci:?}");
            assert_eq!(decide(Always, &[ci], false), Style::Color, "{ci:?}");
            assert_eq!(
                decide(Auto, &[ci, ("CLICOLOR_FORCE", "1")], false),
                Style::Color,
                "{ci:?}"
            );
        }
        assert_eq!(decide(Auto, &[("CI", "false")], true), Style::Color);
    }

    #[test]
    fn review_items_gate_only_when_asked_and_win_over_changes() {
        let s = |changes: usize, review: usize| plan::Summary {
            changes,
            review,
            total: changes + review,
            ..Default::default()
        };
        assert_eq!(plan_exit(&s(0, 0), true, true), Exit::Ok);
        assert_eq!(plan_exit(&s(0, 2), true, false), Exit::Ok);
        assert_eq!(plan_exit(&s(0, 2), false, true), Exit::NeedsReview);
        assert_eq!(plan_exit(&s(3, 2), true, true), Exit::NeedsReview);
        assert_eq!(plan_exit(&s(3, 0), true, true), Exit::Changes);
        assert_eq!(plan_exit(&s(3, 0), false, false), Exit::Ok);
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
        let plan =
            plan::plan(&inputs, &Catalog::embedded().unwrap(), &Settings::default()).unwrap();
        let mut out = Vec::new();
        render::human(&plan, &mut out, Style::Color).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("\u{1b}[1m\u{1b}[31m-\u{1b}[0m") || text.contains("\u{1b}[31m"),
            "{text}"
        );
        // No white or black text: it vanishes on a light or dark terminal.
        for code in ["[37m", "[97m", "[30m", "[90m"] {
            assert!(!text.contains(code), "{code} in {text}");
        }
        assert!(text.contains("\u{1b}[1mPhase 1"), "{text}");
        let mut plain = Vec::new();
        render::human(&plan, &mut plain, Style::Plain).unwrap();
        assert!(!String::from_utf8(plain).unwrap().contains('\u{1b}'));
    }
}
