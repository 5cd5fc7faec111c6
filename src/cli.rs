//! The command line (clap), turned into plain settings before any work
//! starts. Flags are documented in `docs/cli.md`.

use crate::catalog::Mode;
use crate::plan::ScheduledRules;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "sentinel-migrate",
    version,
    about = "Plan and apply the switch of Microsoft Sentinel workspaces from the legacy, subscription-based Microsoft Defender for Cloud connector to the tenant-based one, without duplicate incidents.",
    after_help = "Exit codes: 0 success; 1 error; 2 changes present (plan --detailed-exitcode) or the desired state does not hold (verify); 3 the plan is stale (apply) or a resource changed since apply (rollback); 4 apply stopped before phase 3, waiting for --confirm tenant-connector."
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
    /// The Resource Manager endpoint, instead of --cloud (plain http only
    /// for 127.0.0.1, a local emulator).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
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
    pub connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A plan.json written by `plan --out`.
    pub plan: PathBuf,
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
    /// The `az` to run apply.sh with (default: the one on PATH).
    #[arg(long, value_name = "PATH")]
    pub az: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Move to the tenant-based connector, incidents from Defender XDR.
    Switch,
    /// Stay subscription-based: stop Defender for Cloud alerts flowing to Defender XDR.
    OptOut,
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
    /// Write plan.json, changes.diff, apply.sh and rollback.sh here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Exit 2 when the plan has anything to do.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Which path to plan.
    #[arg(long, value_enum, default_value_t = ModeArg::Switch)]
    pub mode: ModeArg,
    /// What to do with Scheduled/NRT rules that create incidents from
    /// Defender for Cloud alerts.
    #[arg(long, value_enum, default_value_t = ScheduledArg::Disable)]
    pub scheduled_rules: ScheduledArg,
    /// The workspace (ARM id) of resources whose export does not name one
    /// (ARM templates, YAML).
    #[arg(long, value_name = "ARM_ID")]
    pub workspace: Option<String>,
    /// The tenant id, to create the Defender XDR connector when the exports
    /// do not give it.
    #[arg(long, value_name = "GUID")]
    pub tenant_id: Option<String>,
    /// Read the migration rules from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Refuse export files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::source::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
    /// Print how one analytics rule (name, display name or ARM id) is
    /// classified, with its evidence, instead of the summary.
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
    /// No colour, even on a terminal (NO_COLOR is honoured too).
    #[arg(long)]
    pub no_color: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan.json written by `plan --out`.
    pub plan: PathBuf,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    #[arg(long)]
    pub no_color: bool,
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
