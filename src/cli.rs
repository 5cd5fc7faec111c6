//! The command line (clap), turned into plain settings before any work
//! starts. Flags are documented in `docs/cli.md`.

use crate::api::{Cloud, Endpoint};
use crate::catalog::Mode;
use crate::error::Error;
use crate::exit::Exit;
use crate::model::Workspace;
use crate::plan::{PortalState, ScheduledRules, Settings};
use crate::source::ReadOptions;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Parses the command line. Help and version are printed and exit 0; a
/// usage error (unknown or mistyped flag, missing argument) is printed and
/// exits 1, never clap's own 2, which `--detailed-exitcode` reserves for
/// "changes present".
pub fn parse() -> Result<Cli, Exit> {
    parse_from(std::env::args_os())
}

pub fn parse_from<I, T>(args: I) -> Result<Cli, Exit>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    Cli::try_parse_from(args).map_err(|e| {
        let _ = e.print();
        usage_exit(&e)
    })
}

fn usage_exit(e: &clap::Error) -> Exit {
    if e.use_stderr() {
        Exit::Error
    } else {
        Exit::Ok
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "sentinel-migrate",
    version,
    about = "Plan and apply the switch of Microsoft Sentinel workspaces from the legacy, subscription-based Microsoft Defender for Cloud connector to the tenant-based one, without duplicate incidents.",
    after_help = crate::exit::HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read workspace exports and plan the switch (or the opt-out).
    Plan(PlanArgs),
    /// Print a saved plan.
    Show(ShowArgs),
    /// Print the migration rules (the reference in docs/rules.md).
    Rules(RulesArgs),
    /// Export workspaces from Azure into files `plan` reads.
    Export(ExportArgs),
    /// Apply a saved plan to Azure, phase by phase, journaled and resumable.
    Apply(ApplyArgs),
    /// Check that Azure now matches a plan's desired state.
    Verify(VerifyArgs),
    /// Undo an apply from its journal and backups.
    Rollback(RollbackArgs),
    /// Apply a plan to a local emulator seeded from it, and show the result.
    Rehearse(RehearseArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CloudArg {
    Public,
    Usgov,
    China,
}

/// Where Azure is.
#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// The Azure cloud whose Resource Manager endpoint to use.
    #[arg(long, value_enum, default_value_t = CloudArg::Public)]
    pub cloud: CloudArg,
    /// The Resource Manager endpoint (an origin: scheme, host, port),
    /// instead of --cloud; plain http only for a loopback address (a local
    /// emulator).
    #[arg(long, value_name = "URL", env = "SENTINEL_MIGRATE_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
    /// The Azure CLI to get tokens from (default: `az` on PATH; `az.cmd`
    /// on Windows).
    #[arg(long, value_name = "PATH", env = "SENTINEL_MIGRATE_AZ")]
    pub az: Option<PathBuf>,
    /// Show each request on stderr: method, URL, status and time (never a
    /// header, so never the token).
    #[arg(short, long)]
    pub verbose: bool,
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR, CLICOLOR=0, TERM=dumb or a CI service (CI, GITHUB_ACTIONS, TF_BUILD) says not
    /// (CLICOLOR_FORCE forces it).
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct ColorArgs {
    /// When to use colour.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// The same as --color never.
    #[arg(long, hide = true, conflicts_with = "color")]
    pub no_color: bool,
}

impl ColorArgs {
    pub fn choice(&self) -> ColorChoice {
        if self.no_color {
            ColorChoice::Never
        } else {
            self.color
        }
    }
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A workspace ARM id (repeat for several).
    #[arg(long, required = true, value_name = "ARM_ID")]
    pub workspace: Vec<String>,
    /// The folder to write to: one folder per workspace.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The api-version for a resource type, e.g. alertRules=2025-09-01
    /// (default: from the migration rules; a preview version shows
    /// MicrosoftThreatProtection connectors and NRT rules).
    #[arg(long = "api-version", value_name = "TYPE=VERSION")]
    pub api_versions: Vec<String>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Confirmation {
    /// The tenant-based Defender for Cloud connector is connected and its
    /// alerts arrive: phase 3 may disconnect the legacy connectors.
    TenantConnector,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan.json written by `plan --out`.
    pub plan: PathBuf,
    /// Confirms the manual step, so phase 3 runs.
    #[arg(long, value_enum)]
    pub confirm: Option<Confirmation>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// What to print on stdout when done (progress goes to stderr).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Which part of a fleet's plan to act on.
#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    /// Only the steps of this workspace (ARM id; repeat for several): part
    /// of a fleet from one plan.
    #[arg(long = "workspace", value_name = "ARM_ID")]
    pub workspaces: Vec<String>,
    /// Only the steps of the workspaces of this tenant (GUID; repeat for
    /// several).
    #[arg(long = "tenant", value_name = "GUID")]
    pub tenants: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A plan.json written by `plan --out`.
    pub plan: PathBuf,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Check the workspaces' data instead of their resources: read-only KQL
    /// through the Log Analytics query API (alerts still arriving, incidents
    /// from Defender XDR, duplicates, Sentinel incidents from Defender for
    /// Cloud alerts; docs/verify-data.md). `-v` prints the queries.
    #[arg(long)]
    pub data: bool,
    /// With --data: how far back from --until to look, in days or hours
    /// (`7d`, `36h`; 1h to 90d).
    #[arg(long, value_name = "DURATION", default_value = "7d", requires = "data")]
    pub since: String,
    /// With --data: when the switch happened (`2026-11-20T14:00:00Z`), for
    /// every workspace; default: when apply finished each workspace, from
    /// apply-journal.json beside the plan (a plan applied with apply.sh has
    /// none: give the time).
    #[arg(long, value_name = "TIME", requires = "data")]
    pub switched_at: Option<String>,
    /// With --data: the end of the time window (`2026-11-27T00:00:00Z`;
    /// default: now).
    #[arg(long, value_name = "TIME", requires = "data")]
    pub until: Option<String>,
    /// What to print on stdout when done (progress goes to stderr).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The apply-journal.json written next to the plan by `apply`.
    pub journal: PathBuf,
    /// Restore resources even if someone changed them since apply.
    #[arg(long)]
    pub force: bool,
    /// What to print on stdout when done (progress goes to stderr).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct RehearseArgs {
    /// A plan.json written by `plan --out`.
    pub plan: PathBuf,
    /// Rehearse the generated apply.sh under the Azure CLI instead of the
    /// native apply.
    #[arg(long)]
    pub script: bool,
    /// The `az` to run apply.sh with (default: `az` on PATH; `az.cmd` on
    /// Windows).
    #[arg(long, value_name = "PATH", env = "SENTINEL_MIGRATE_AZ")]
    pub az: Option<PathBuf>,
    /// Confirms the manual step, so the rehearsal runs phase 3 too (like
    /// `apply --confirm`); without it the rehearsal stops before phase 3.
    #[arg(long, value_enum)]
    pub confirm: Option<Confirmation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

/// What `show` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Move to the tenant-based connector, incidents from Defender XDR.
    Switch,
    /// Stay subscription-based: stop Defender for Cloud alerts flowing to Defender XDR.
    OptOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PortalArg {
    /// Sentinel is used in the Azure portal only.
    NotOnboarded,
    /// Onboarded to the Defender portal: incident creation rules are off.
    Onboarded,
    /// Not known: plan as not onboarded, say what would differ.
    Unknown,
}

impl From<PortalArg> for PortalState {
    fn from(p: PortalArg) -> PortalState {
        match p {
            PortalArg::NotOnboarded => PortalState::NotOnboarded,
            PortalArg::Onboarded => PortalState::Onboarded,
            PortalArg::Unknown => PortalState::Unknown,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduledArg {
    /// Turn the rule off.
    Disable,
    /// Keep the rule running, stop it creating incidents.
    StopIncidents,
    /// Change nothing, list the rule for review.
    Review,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Export files or directories (read recursively): az rest lists, JSON
    /// arrays, single resources, ARM templates, Sentinel YAML.
    #[arg(required = true, value_name = "EXPORT")]
    pub inputs: Vec<PathBuf>,
    /// Write plan.json, changes.diff, apply.sh, rollback.sh and report.html
    /// here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Exit 2 when the plan has changes or manual steps (items for review
    /// alone are not changes: see --fail-on-review).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Exit 5 when any item needs a human review, whatever else the plan
    /// holds: a pipeline stops for a person.
    #[arg(long)]
    pub fail_on_review: bool,
    /// Which path to plan.
    #[arg(long, value_enum, default_value_t = ModeArg::Switch)]
    pub mode: ModeArg,
    /// What to do with Scheduled/NRT rules that create incidents from
    /// Defender for Cloud alerts.
    #[arg(long, value_enum, default_value_t = ScheduledArg::Disable)]
    pub scheduled_rules: ScheduledArg,
    /// Do not plan the automation rule that keeps the filters (severities,
    /// alert names) of the incident creation rules turned off: Defender XDR
    /// then creates, and leaves open, the incidents they kept out.
    #[arg(long)]
    pub no_preserve_filters: bool,
    /// Rewrite automation conditions that name incident creation rules
    /// turned off into a Defender for Cloud product condition, where that
    /// keeps their meaning (an update with its diff), instead of only
    /// listing them for review.
    #[arg(long)]
    pub rewrite_automation: bool,
    /// The workspace (ARM id) of resources whose export does not name one
    /// (ARM templates, YAML).
    #[arg(long, value_name = "ARM_ID")]
    pub workspace: Option<String>,
    /// The tenant id, to create the Defender XDR connector when the exports
    /// do not give it.
    #[arg(long, value_name = "GUID")]
    pub tenant_id: Option<String>,
    /// A tenant's primary workspace (ARM id): where the Defender XDR and
    /// tenant-based connectors go. Needed when a tenant has several
    /// workspaces and not exactly one holds a Defender XDR connector; once
    /// per tenant.
    #[arg(long, value_name = "ARM_ID")]
    pub primary_workspace: Vec<String>,
    /// Whether the workspaces are onboarded to the Defender portal (no API
    /// says): `unknown` plans as not onboarded and says what would differ.
    #[arg(long, value_enum, default_value_t = PortalArg::Unknown)]
    pub defender_portal: PortalArg,
    /// A JSON file giving, per workspace, its tenant, whether it is its
    /// tenant's primary and its Defender portal state (for fleets; see
    /// examples/settings.json). Its values win over the flags.
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Read the migration rules from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Plan even when the inputs hold no Sentinel resources (an empty
    /// workspace), instead of failing: nothing to plan is otherwise an error.
    #[arg(long)]
    pub allow_empty: bool,
    /// Refuse export files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::source::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
    /// Write the changes to files the inputs hold as code (ARM templates,
    /// parameters files, YAML) as a git-style patch to FILE, for `git
    /// apply` (paths relative to each file's git work tree;
    /// docs/patches.md).
    #[arg(long, value_name = "FILE", conflicts_with = "explain")]
    pub patch: Option<PathBuf>,
    /// Make those changes in the files themselves (in place, each written
    /// beside and renamed).
    #[arg(long, conflicts_with = "explain")]
    pub write: bool,
    /// Threads reading and parsing the exports and planning workspaces
    /// (default: one per CPU; 1: one thread). The plan is the same, byte for
    /// byte, whatever the number.
    #[arg(long, value_name = "N", env = "SENTINEL_MIGRATE_JOBS", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Print the plan's decision about one analytics rule (name, display
    /// name or ARM id): its verdict, evidence and step, instead of the
    /// summary (as JSON with --format json).
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan.json written by `plan --out`.
    pub plan: PathBuf,
    /// What to print: the summary, the plan as JSON, or Markdown for a pull
    /// request comment (at most 65,536 characters; see docs/reports.md).
    #[arg(long, value_enum, default_value_t = ShowFormat::Human)]
    pub format: ShowFormat,
    #[command(flatten)]
    pub color: ColorArgs,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Read the migration rules from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Mode {
        match m {
            ModeArg::Switch => Mode::Switch,
            ModeArg::OptOut => Mode::OptOut,
        }
    }
}

impl From<ScheduledArg> for ScheduledRules {
    fn from(s: ScheduledArg) -> ScheduledRules {
        match s {
            ScheduledArg::Disable => ScheduledRules::Disable,
            ScheduledArg::StopIncidents => ScheduledRules::StopIncidents,
            ScheduledArg::Review => ScheduledRules::Review,
        }
    }
}

// ---- checked settings ------------------------------------------------------
//
// Raw arguments become settings here, before any work starts: a bad value
// is a usage error (exit 1) before a file is read or a request is sent.

/// The checked settings of `plan`.
#[derive(Debug)]
pub struct PlanConfig {
    pub inputs: Vec<PathBuf>,
    pub out: Option<PathBuf>,
    pub format: OutputFormat,
    pub detailed_exitcode: bool,
    pub fail_on_review: bool,
    pub allow_empty: bool,
    pub settings: Settings,
    pub read: ReadOptions,
    pub rules: Option<PathBuf>,
    /// `--settings`: read (and merged into `settings`) before planning.
    pub settings_file: Option<PathBuf>,
    pub explain: Option<String>,
    pub color: ColorChoice,
    /// `--patch FILE`.
    pub patch: Option<PathBuf>,
    /// `--write`.
    pub write: bool,
}

impl PlanArgs {
    pub fn resolve(self) -> Result<PlanConfig, Error> {
        let workspace = self
            .workspace
            .as_deref()
            .map(Workspace::parse)
            .transpose()
            .map_err(|e| Error::Usage(format!("--workspace: {e}")))?;
        if let Some(t) = &self.tenant_id
            && !crate::plan::is_guid(t)
        {
            return Err(Error::Usage(format!(
                "--tenant-id: `{t}` is not a tenant id (a GUID)"
            )));
        }
        let mut primary_workspaces = Vec::new();
        for p in &self.primary_workspace {
            let ws = Workspace::parse(p)
                .map_err(|e| Error::Usage(format!("--primary-workspace: {e}")))?;
            primary_workspaces.push(ws.id().to_string());
        }
        Ok(PlanConfig {
            inputs: self.inputs,
            out: self.out,
            format: self.format,
            detailed_exitcode: self.detailed_exitcode,
            fail_on_review: self.fail_on_review,
            allow_empty: self.allow_empty,
            settings: Settings {
                mode: self.mode.into(),
                scheduled_rules: self.scheduled_rules.into(),
                tenant_id: self.tenant_id.map(|t| t.to_ascii_lowercase()),
                primary_workspaces,
                defender_portal: self.defender_portal.into(),
                workspaces: Default::default(),
                preserve_filters: !self.no_preserve_filters,
                rewrite_automation: self.rewrite_automation,
            },
            read: ReadOptions {
                max_file_size: self.max_file_size,
                workspace,
                jobs: self.jobs.map_or(0, usize::from),
                full_bodies: false,
            },
            rules: self.rules,
            settings_file: self.settings,
            explain: self.explain,
            color: self.color.choice(),
            patch: self.patch,
            write: self.write,
        })
    }
}

/// The checked settings of `verify --data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSettings {
    /// `--since`, in seconds.
    pub since: i64,
    /// `--switched-at`, in seconds since 1970.
    pub switched_at: Option<i64>,
    /// `--until`, in seconds since 1970 (None: now).
    pub until: Option<i64>,
}

impl VerifyArgs {
    /// `--data` and its settings, checked: None without `--data`.
    pub fn data_settings(&self) -> Result<Option<DataSettings>, Error> {
        if !self.data {
            return Ok(None);
        }
        use crate::api::data::{parse_duration, parse_time};
        let since =
            parse_duration(&self.since).map_err(|e| Error::Usage(format!("--since: {e}")))?;
        let time = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .map(parse_time)
                .transpose()
                .map_err(|e| Error::Usage(format!("{flag}: {e}")))
        };
        let switched_at = time("--switched-at", &self.switched_at)?;
        let until = time("--until", &self.until)?;
        if let (Some(s), Some(u)) = (switched_at, until)
            && s >= u
        {
            return Err(Error::Usage(
                "--switched-at must be before --until: nothing after the switch to look at".into(),
            ));
        }
        Ok(Some(DataSettings {
            since,
            switched_at,
            until,
        }))
    }
}

/// Why `--cloud china` is refused (DOMAIN.md section 5).
pub const CHINA_RETIRED: &str = "Microsoft Sentinel and Microsoft Defender for Cloud were retired in Azure operated by 21Vianet (China) on 2026-08-18: there is no Sentinel workspace there to export, migrate or roll back";

/// Where Azure is, checked.
#[derive(Debug, Clone)]
pub struct Connection {
    pub endpoint: Endpoint,
    pub verbose: bool,
    /// The Azure CLI to get tokens from.
    pub az: PathBuf,
    pub parallelism: usize,
}

impl ConnectionArgs {
    pub fn resolve(&self) -> Result<Connection, Error> {
        let endpoint = match &self.endpoint {
            Some(url) => {
                Endpoint::parse(url).map_err(|e| Error::Usage(format!("--endpoint: {e}")))?
            }
            None => {
                let cloud = match self.cloud {
                    CloudArg::Public => Cloud::Public,
                    CloudArg::Usgov => Cloud::UsGov,
                    CloudArg::China => Cloud::China,
                };
                Endpoint::parse(cloud.endpoint()).map_err(Error::Usage)?
            }
        };
        let china = Cloud::China
            .endpoint()
            .trim_start_matches("https://management");
        let host = endpoint
            .base()
            .to_ascii_lowercase()
            .split(['/', ':'])
            .nth(3)
            .map(str::to_string)
            .unwrap_or_default();
        if self.cloud == CloudArg::China || host.ends_with(china) {
            return Err(Error::Usage(CHINA_RETIRED.to_string()));
        }
        Ok(Connection {
            endpoint,
            verbose: self.verbose,
            az: crate::api::token::find_az(self.az.as_deref()),
            parallelism: self.parallelism as usize,
        })
    }
}
