//! `apply.sh` and `rollback.sh`: bash scripts that drive `az rest` with
//! relative ARM URLs and an explicit api-version per call.
//!
//! Nothing that came from an export reaches the script unescaped: URL path
//! segments are percent-encoded, every shell word is single-quoted, bodies
//! travel in quoted here-documents (no expansion), and comments and
//! messages are reduced to one printable line.

use super::{footer, is_hidden, json_visible, one_line};
use crate::catalog::Operation;
use crate::model::arm_path;
use crate::plan::{Action, Plan};
use std::fmt::Write as _;
use std::io::{self, Write};

/// A word for bash that stands for exactly `s` and shows it plainly.
///
/// Plain single quotes (`'a b'`) when `s` holds nothing but printable
/// text without `'` or `\`; otherwise ANSI-C quoting (`$'it\'s'`), where
/// `\` and `'` are escaped and control and format characters (ESC, bidi
/// overrides, ...) are written as `\xHH` bytes: the script holds no raw
/// control bytes, and no value can end a single-quoted word with a
/// backslash (shellcheck SC1003) or hold a Unicode quote in `'...'` (SC1112).
pub fn sh_quote(s: &str) -> String {
    // NUL cannot travel in a bash word; it never belongs in an ARM value.
    let s = s.replace('\0', "");
    let plain = |c: char| {
        if c.is_ascii() {
            (' '..='~').contains(&c) && c != '\'' && c != '\\'
        } else {
            !is_hidden(c) && !UNICODE_QUOTES.contains(&c)
        }
    };
    if s.chars().all(plain) {
        return format!("'{s}'");
    }
    let mut out = String::from("$'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            // Unicode quotes are plain text inside `$'...'`.
            c if plain(c) || UNICODE_QUOTES.contains(&c) => out.push(c),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
        }
    }
    out.push('\'');
    out
}

/// The quotes shellcheck warns about inside a quoted word.
const UNICODE_QUOTES: [char; 6] = [
    '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{02bc}', '\u{ff07}',
];

/// The relative ARM URL of an action's resource, every segment encoded.
pub fn relative_url(a: &Action) -> Option<String> {
    a.resource_id.as_ref()?;
    // Never a URL outside the resource: the readers refuse such names, and
    // a step whose name is `.` or `..` gets no URL at all.
    arm_path(
        a.workspace.as_deref()?,
        a.resource_type?,
        Some(a.name.as_deref()?),
        a.api_version.as_deref().unwrap_or("2025-09-01"),
    )
    .ok()
}

/// A here-document delimiter that cannot occur in the body.
fn delimiter(body: &str) -> String {
    let mut d = "SENTINEL_MIGRATE_BODY".to_string();
    while body.lines().any(|l| l.trim() == d) {
        d.push('_');
    }
    d
}

/// The plan a backup folder belongs to: a hash of the plan's steps,
/// written into the folder by apply.sh and checked by both scripts. Step
/// numbers only mean something within one list of steps: another plan's
/// rollback.sh would put a backup body back at another resource's URL.
/// (Plans that differ only in what was read around the steps share it.)
pub fn plan_id(plan: &Plan) -> PlanId {
    PlanId(hash_steps(plan))
}

/// A plan's [`plan_id`], worked out once for both scripts.
pub struct PlanId(String);

fn hash_steps(plan: &Plan) -> String {
    use sha2::{Digest, Sha256};
    /// Hashes the JSON as it is written: a fleet's steps are not held twice.
    struct Hashing(Sha256);
    impl io::Write for Hashing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    // serde_json writes in small pieces: hashed a block at a time.
    let mut hashing = io::BufWriter::with_capacity(1 << 16, Hashing(Sha256::new()));
    // Each body as its text: what walking it would write, without the walk.
    let written = crate::plan::verbatim(|| serde_json::to_writer(&mut hashing, &plan.actions));
    let digest = match written
        .map_err(io::Error::from)
        .and_then(|()| hashing.into_inner().map_err(|e| e.into_error()))
    {
        Ok(h) => h.0.finalize(),
        // As the digest of the empty text it was when it could not be written.
        Err(_) => Sha256::new().finalize(),
    };
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The check both scripts make before touching anything: a backup folder
/// holding steps begun under another plan (or under none recorded) is
/// refused; one that holds none is taken over.
fn same_plan_check(id: &PlanId, apply: bool) -> String {
    let id = &id.0;
    let mut s = format!(
        r#"
# The backup folder belongs to one plan: its step numbers mean nothing to another.
plan_id={id}
if compgen -G "$backup_dir/*.started" >/dev/null && [ "$(cat "$backup_dir/plan-id" 2>/dev/null)" != "$plan_id" ]; then
  log "$backup_dir holds steps of another plan (plan-id $(cat "$backup_dir/plan-id" 2>/dev/null || printf 'not recorded'), this one $plan_id): the rollback.sh generated with that plan needs them. Use another --backup-dir, or roll that apply back with its own rollback.sh first."
  exit 1
fi
"#
    );
    if apply {
        s.push_str("printf '%s\\n' \"$plan_id\" >\"$backup_dir/plan-id\"\n");
    }
    s
}

fn step_number(i: usize) -> String {
    format!("{:03}", i + 1)
}

fn describe(a: &Action) -> String {
    let mut s = format!("{} {}", a.reason.code, a.operation.as_str());
    if let (Some(rt), Some(n)) = (a.resource_type, &a.name) {
        let _ = write!(s, " {rt}/{n}");
    }
    if let Some(d) = &a.display_name {
        let _ = write!(s, " \"{d}\"");
    }
    one_line(&s)
}

/// Shared by both scripts: logging, and a resource's etag ("absent" for 404).
const COMMON_HELPERS: &str = r#"# log TEXT...: one message on stderr, without control characters.
log() { printf '%s\n' "$*" | LC_ALL=C tr -d '\000-\010\013-\037\177' >&2; }

# etag_of URL: the resource's etag, "absent" when it does not exist.
etag_of() {
  local out
  if out=$(az rest --method get --url "$1" --query etag --output tsv 2>&1); then
    printf '%s\n' "$out"
  elif printf '%s' "$out" | grep -q -e 'NotFound' -e 'Not Found' -e '(404)'; then
    printf 'absent\n'
  else
    log "$out"
    return 1
  fi
}

"#;

/// Values from exports are single-quoted on purpose: `$(...)` in a display
/// name must stay text.
const NO_EXPANSION: &str =
    "# shellcheck disable=SC2016 # values from exports are quoted so nothing in them expands\n";

const HELPERS: &str = r#"# value_of URL PATH: the JSON value at a JMESPath path of the resource.
value_of() {
  az rest --method get --url "$1" --query "$2" --output json 2>/dev/null | tr -d '\n\r'
}

# took_effect STEP URL PATH VALUE...: whether an interrupted step already took effect.
took_effect() {
  local step=$1 url=$2
  shift 2
  [ -e "$backup_dir/$step.started" ] || return 1
  while [ "$#" -gt 1 ]; do
    [ "$(value_of "$url" "$1")" = "$2" ] || return 1
    shift 2
  done
  return 0
}

stale=0
# expect STEP URL ETAG WHAT: note a resource whose etag is not the plan's.
expect() {
  local actual
  [ -e "$backup_dir/$1.done" ] && return 0
  [ -e "$backup_dir/$1.started" ] && return 0
  actual=$(etag_of "$2") || { log "cannot read $4"; exit 1; }
  if [ "$actual" != "$3" ]; then
    log "stale: $4: etag in the plan $3, in Azure $actual"
    stale=1
  fi
}

# change STEP METHOD URL ETAG WHAT RESTORE_QUERY [PATH VALUE]...: one write,
# with its backup and journal. The request body comes on stdin (PUT only).
change() {
  local step=$1 method=$2 url=$3 etag=$4 what=$5 restore=$6 actual
  shift 6
  if [ -e "$backup_dir/$step.done" ]; then
    log "= $step already done: $what"
    cat >/dev/null
    return 0
  fi
  if [ "$method" = put ]; then
    cat >"$backup_dir/$step.request.json"
  fi
  actual=$(etag_of "$url") || { log "cannot read $what"; exit 1; }
  if [ "$actual" != "$etag" ]; then
    if [ "$method" = delete ] && [ "$actual" = absent ] && [ -e "$backup_dir/$step.started" ]; then
      :
    elif [ "$method" = put ] && took_effect "$step" "$url" "$@"; then
      :
    else
      log "stale: $what changed since the plan was made (etag in the plan $etag, in Azure $actual): plan again"
      exit 3
    fi
  else
    if [ "$actual" != absent ]; then
      az rest --method get --url "$url" --output json >"$backup_dir/$step.before.json"
      az rest --method get --url "$url" --query "$restore" --output json >"$backup_dir/$step.restore.json"
    fi
    : >"$backup_dir/$step.started"
    if [ "$method" = put ]; then
      az rest --method put --url "$url" --body @"$backup_dir/$step.request.json" --output none ||
        { log "failed: $what (step $step); nothing else was changed by this step. Run the script again to resume."; exit 1; }
    else
      az rest --method delete --url "$url" --output none ||
        { log "failed: $what (step $step). Run the script again to resume."; exit 1; }
    fi
  fi
  etag_of "$url" >"$backup_dir/$step.after-etag" || true
  printf '%s\n' "$method" >"$backup_dir/$step.done"
  log "done $step: $what"
}
"#;

/// Writes `apply.sh`.
pub fn apply_script(plan: &Plan, w: &mut dyn Write) -> io::Result<()> {
    apply_script_of(plan, &plan_id(plan), w)
}

/// [`apply_script`] with the plan's id already worked out.
pub fn apply_script_of(plan: &Plan, id: &PlanId, w: &mut dyn Write) -> io::Result<()> {
    let mut s = String::new();
    // The gate follows from what a step does, not from its phase number.
    let gated =
        |a: &Action| a.operation.is_change() && a.blocked.is_none() && a.required_gate().is_some();
    let any_gated = plan.actions.iter().any(gated);
    s.push_str("#!/usr/bin/env bash\n");
    s.push_str(NO_EXPANSION);
    let _ = writeln!(
        s,
        "# apply.sh: generated by {} from the plan. Do not edit: plan again.",
        plan.generator
    );
    s.push_str("#\n");
    let _ = writeln!(s, "# {}", footer(plan));
    s.push_str("#\n# Phases run in order:\n");
    for p in &plan.phases {
        let _ = writeln!(s, "#   {}  {}", p.number, one_line(&p.title));
    }
    s.push_str(
        "#\n\
# Phase 3 (disconnecting the legacy connectors) runs only once you confirm\n\
# the manual step: the tenant-based Defender for Cloud connector is connected\n\
# and its alerts arrive. Confirm with\n\
#     ./apply.sh --confirm-tenant-connector\n\
# or  SENTINEL_MIGRATE_CONFIRM=tenant-connector ./apply.sh\n\
#\n\
# Before a write, each resource is read again; if its etag is not the plan's\n\
# the script stops (exit 3) naming it. Every original body is saved in the\n\
# backup folder (./sentinel-migrate-backup, or --backup-dir DIR, or\n\
# SENTINEL_MIGRATE_BACKUP_DIR) before it is changed, and every finished step\n\
# is recorded there: run the script again to resume after an interruption,\n\
# and rollback.sh to undo what it did.\n\
#\n\
# Needs: the Azure CLI (az), signed in with write access to the workspace.\n\
# Exit codes: 0 done; 1 an Azure call failed (the step is named; run again\n\
# to resume); 3 the plan is stale: plan again; 4 stopped before phase 3:\n\
# confirm the manual step.\n",
    );
    let reviews: Vec<&Action> = plan
        .actions
        .iter()
        .filter(|a| a.operation == Operation::Review)
        .collect();
    if !reviews.is_empty() {
        s.push_str("#\n# For review, not changed by this script:\n");
        for a in &reviews {
            let _ = writeln!(s, "#   {}", describe(a));
        }
    }
    s.push_str("set -euo pipefail\n\n");
    s.push_str("confirm=\"${SENTINEL_MIGRATE_CONFIRM:-}\"\n");
    s.push_str("backup_dir=\"${SENTINEL_MIGRATE_BACKUP_DIR:-sentinel-migrate-backup}\"\n");
    s.push_str(
        r#"while [ "$#" -gt 0 ]; do
  case "$1" in
    --confirm-tenant-connector) confirm=tenant-connector ;;
    --backup-dir) backup_dir="${2:?--backup-dir needs a folder}"; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) printf 'apply.sh: unknown argument: %s\n' "$1" >&2; exit 1 ;;
  esac
  shift
done
mkdir -p "$backup_dir"
"#,
    );
    s.push('\n');
    s.push_str(COMMON_HELPERS);
    s.push_str(HELPERS);
    s.push_str(&same_plan_check(id, true));

    // Preflight: every resource the script writes, checked before any write.
    let steps: Vec<(usize, &Action)> = plan
        .actions
        .iter()
        .filter(|a| a.operation.is_change())
        .enumerate()
        .collect();
    s.push_str("\n# Preflight: nothing is changed if any resource changed since the plan.\n");
    for (i, a) in &steps {
        if a.blocked.is_some() {
            continue;
        }
        let (Some(url), Some(what)) = (relative_url(a), Some(describe(a))) else {
            continue;
        };
        let etag = match a.operation {
            Operation::Create => "absent".to_string(),
            _ => a.etag.clone().unwrap_or_default(),
        };
        let _ = writeln!(
            s,
            "expect {} {} {} {}",
            step_number(*i),
            sh_quote(&url),
            sh_quote(&etag),
            sh_quote(&what)
        );
        spill(&mut s, w)?;
    }
    s.push_str(
        r#"if [ "$stale" -ne 0 ]; then
  log "The plan is stale: nothing was changed. Export the workspace again and plan into a new folder (plan --out NEW)."
  exit 3
fi
"#,
    );

    for phase in &plan.phases {
        let _ = writeln!(
            s,
            "\n# ---- Phase {}: {} ----",
            phase.number,
            one_line(&phase.title)
        );
        let _ = writeln!(
            s,
            "log {}",
            sh_quote(&format!(
                "Phase {}: {}",
                phase.number,
                one_line(&phase.title)
            ))
        );
        if plan
            .actions
            .iter()
            .any(|a| a.phase == phase.number && gated(a))
        {
            let _ = write!(
                s,
                r#"if [ "$confirm" != tenant-connector ]; then
  log "Stopped before phase {}: the legacy connectors are disconnected only once the"
  log "tenant-based Defender for Cloud connector is connected and its alerts arrive."
  log "Check, then run again with --confirm-tenant-connector."
  exit 4
fi
"#,
                phase.number
            );
        }
        for a in plan.actions.iter().filter(|a| a.phase == phase.number) {
            if a.operation == Operation::Manual {
                let _ = writeln!(s, "# Manual: {}", describe(a));
                let _ = writeln!(
                    s,
                    "log {}",
                    sh_quote(&format!(
                        "Manual step: {}",
                        one_line(a.display_name.as_deref().unwrap_or_default())
                    ))
                );
                if let Some(m) = &a.manual {
                    let _ = writeln!(
                        s,
                        "log {}",
                        sh_quote(&format!("  where:  {}", one_line(&m.portal)))
                    );
                    let _ = writeln!(
                        s,
                        "log {}",
                        sh_quote(&format!("  who:    {}", one_line(&m.role)))
                    );
                    let _ = writeln!(
                        s,
                        "log {}",
                        sh_quote(&format!("  verify: {}", one_line(&m.verify)))
                    );
                }
            }
        }
        for (i, a) in steps.iter().filter(|(_, a)| a.phase == phase.number) {
            step(&mut s, &step_number(*i), a);
            spill(&mut s, w)?;
        }
    }
    if !any_gated {
        s.push_str("\nif [ \"$confirm\" = tenant-connector ]; then\n  log \"Nothing in phase 3 waited for the confirmation.\"\nfi\n");
    }
    s.push_str("\nlog \"All steps done.\"\n");
    w.write_all(s.as_bytes())
}

/// Hands the script built so far to `w` once it is large: a fleet's
/// script is written as it is built, not held whole.
fn spill(s: &mut String, w: &mut dyn Write) -> io::Result<()> {
    if s.len() >= 1 << 16 {
        w.write_all(s.as_bytes())?;
        s.clear();
    }
    Ok(())
}

fn step(s: &mut String, n: &str, a: &Action) {
    let what = describe(a);
    let _ = writeln!(s, "\n# Step {n}: {what}");
    if let Some(b) = &a.blocked {
        let _ = writeln!(s, "# Not applied: {}", one_line(b));
        let _ = writeln!(
            s,
            "log {}",
            sh_quote(&format!("skipped {n}: {what}: {}", one_line(b)))
        );
        return;
    }
    let Some(url) = relative_url(a) else { return };
    let restore = match a.resource_type {
        Some(
            crate::model::ResourceType::AutomationRules
            | crate::model::ResourceType::ContentPackages,
        ) => "{properties: properties}",
        _ => "{kind: kind, properties: properties}",
    };
    let checks: Vec<String> = a
        .desired
        .iter()
        .flat_map(|d| {
            [
                sh_quote(&d.path),
                sh_quote(&serde_json::to_string(&d.value).unwrap_or_default()),
            ]
        })
        .collect();
    let checks = if checks.is_empty() {
        String::new()
    } else {
        format!(" {}", checks.join(" "))
    };
    match a.operation {
        Operation::Update | Operation::Create => {
            let body = json_visible(a.after.as_ref().map_or_else(
                || "null".into(),
                // As `to_string_pretty` writes it, from the text alone.
                |b| b.pretty(&|_, _| false),
            ));
            let delim = delimiter(&body);
            let etag = if a.operation == Operation::Create {
                "absent".to_string()
            } else {
                a.etag.clone().unwrap_or_default()
            };
            let _ = writeln!(
                s,
                "change {n} put {} {} {} {}{checks} <<'{delim}'\n{body}\n{delim}",
                sh_quote(&url),
                sh_quote(&etag),
                sh_quote(&what),
                sh_quote(restore)
            );
        }
        Operation::Delete => {
            let _ = writeln!(
                s,
                "change {n} delete {} {} {} {} </dev/null",
                sh_quote(&url),
                sh_quote(a.etag.as_deref().unwrap_or_default()),
                sh_quote(&what),
                sh_quote(restore)
            );
        }
        _ => {}
    }
}

const ROLLBACK_HELPERS: &str = r#"# undo STEP URL WHAT: restores what apply.sh did in STEP, from its backup.
undo() {
  local step=$1 url=$2 what=$3 method actual after
  [ -e "$backup_dir/$step.done" ] || return 0
  method=$(cat "$backup_dir/$step.done")
  actual=$(etag_of "$url") || { log "cannot read $what"; exit 1; }
  after=$(cat "$backup_dir/$step.after-etag" 2>/dev/null || true)
  if [ "$force" != yes ] && [ -n "$after" ] && [ "$actual" != "$after" ]; then
    log "changed since apply: $what (etag after apply $after, now $actual); not restored. Use --force to restore anyway."
    exit 3
  fi
  if [ -e "$backup_dir/$step.restore.json" ]; then
    az rest --method put --url "$url" --body @"$backup_dir/$step.restore.json" --output none ||
      { log "failed to restore $what (step $step). Run rollback.sh again to resume."; exit 1; }
  elif [ "$method" = put ] && [ "$actual" != absent ]; then
    # The step created the resource: remove it.
    az rest --method delete --url "$url" --output none ||
      { log "failed to remove $what (step $step). Run rollback.sh again to resume."; exit 1; }
  fi
  mv "$backup_dir/$step.done" "$backup_dir/$step.rolled-back"
  rm -f "$backup_dir/$step.started"
  log "restored $step: $what"
}
"#;

/// Writes `rollback.sh`: undoes, newest first, every step `apply.sh`
/// recorded as done, from the bodies it backed up.
pub fn rollback_script(plan: &Plan, w: &mut dyn Write) -> io::Result<()> {
    rollback_script_of(plan, &plan_id(plan), w)
}

/// [`rollback_script`] with the plan's id already worked out.
pub fn rollback_script_of(plan: &Plan, id: &PlanId, w: &mut dyn Write) -> io::Result<()> {
    let mut s = String::new();
    s.push_str("#!/usr/bin/env bash\n");
    s.push_str(NO_EXPANSION);
    let _ = writeln!(
        s,
        "# rollback.sh: generated by {} from the plan. Do not edit: plan again.",
        plan.generator
    );
    s.push_str(
        "#\n\
# Restores what apply.sh changed, newest step first, from the bodies it saved\n\
# in its backup folder (./sentinel-migrate-backup, or --backup-dir DIR, or\n\
# SENTINEL_MIGRATE_BACKUP_DIR): turned-off rules are turned on again, deleted\n\
# connectors re-created, created connectors removed. A resource changed by\n\
# someone else since apply.sh ran is not touched (exit 3) unless --force.\n\
# Steps apply.sh did not finish are left as they are. Run it again to resume.\n\
#\n\
# Needs: the Azure CLI (az), signed in with write access to the workspace.\n\
# Exit codes: 0 done; 1 an Azure call failed; 3 a resource changed since apply.\n",
    );
    s.push_str("set -euo pipefail\n\n");
    s.push_str(
        "backup_dir=\"${SENTINEL_MIGRATE_BACKUP_DIR:-sentinel-migrate-backup}\"\nforce=no\n",
    );
    s.push_str(
        r#"while [ "$#" -gt 0 ]; do
  case "$1" in
    --force) force=yes ;;
    --backup-dir) backup_dir="${2:?--backup-dir needs a folder}"; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) printf 'rollback.sh: unknown argument: %s\n' "$1" >&2; exit 1 ;;
  esac
  shift
done
if [ ! -d "$backup_dir" ]; then
  printf 'rollback.sh: no backup folder %s: apply.sh has not run here\n' "$backup_dir" >&2
  exit 1
fi

"#,
    );
    s.push_str(COMMON_HELPERS);
    s.push_str(ROLLBACK_HELPERS);
    s.push_str(&same_plan_check(id, false));
    s.push('\n');
    let steps: Vec<(usize, &Action)> = plan
        .actions
        .iter()
        .filter(|a| a.operation.is_change())
        .enumerate()
        .collect();
    for (i, a) in steps.iter().rev() {
        if a.blocked.is_some() {
            continue;
        }
        let Some(url) = relative_url(a) else { continue };
        let _ = writeln!(
            s,
            "undo {} {} {}",
            step_number(*i),
            sh_quote(&url),
            sh_quote(&describe(a))
        );
    }
    s.push_str("\nlog \"Rollback done.\"\n");
    w.write_all(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        use crate::model::encode_segment;
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's $(x)"), r"$'it\'s $(x)'");
        assert_eq!(sh_quote(r"C:\x\'"), r"$'C:\\x\\\''");
        assert_eq!(
            sh_quote("a\u{1b}[31m\u{202e}b"),
            r"$'a\x1b[31m\xe2\x80\xaeb'"
        );
        assert_eq!(sh_quote("Règle 日本"), "'Règle 日本'");
        assert_eq!(
            encode_segment("rule with spaces/and#hash?x=1&y=%20"),
            "rule%20with%20spaces%2Fand%23hash%3Fx%3D1%26y%3D%2520"
        );
        assert_eq!(encode_segment("Règle"), "R%C3%A8gle");
    }

    /// Values that broke or could break a naive quoting (shared with
    /// tests/scripts.rs, which runs shellcheck on scripts holding them).
    pub fn hostile() -> Vec<String> {
        serde_json::from_str(include_str!("../../tests/fixtures/hostile-values.json"))
            .expect("a JSON list of strings")
    }

    #[test]
    fn quoted_words_stand_for_exactly_the_value_in_bash() {
        let alphabet: Vec<char> = "'\\\"$`!#&*?[]{}();|<> \t\nab~-=%\u{1b}\u{7}\u{8}\u{7f}\u{9b}\u{202e}\u{200b}\u{feff}\u{2018}\u{2019}\u{201c}é日"
            .chars()
            .collect();
        let mut rng = fastrand::Rng::with_seed(7);
        let mut values: Vec<String> = hostile();
        for _ in 0..400 {
            let len = rng.usize(0..12);
            values.push(
                (0..len)
                    .map(|_| alphabet[rng.usize(..alphabet.len())])
                    .collect(),
            );
        }
        let mut script = String::new();
        for v in &values {
            let q = sh_quote(v);
            assert!(
                !q.chars()
                    .any(|c| c != ' ' && (c.is_control() || is_hidden(c))),
                "{q:?}"
            );
            let _ = writeln!(script, "printf '%s\\0' {q}");
        }
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Vec<&[u8]> = out.stdout.split(|b| *b == 0).collect();
        assert_eq!(got.len(), values.len() + 1);
        for (v, g) in values.iter().zip(got) {
            assert_eq!(g, v.as_bytes(), "{v:?} quoted as {}", sh_quote(v));
        }
    }

    #[test]
    fn delimiter_avoids_the_body() {
        assert_eq!(delimiter("{}"), "SENTINEL_MIGRATE_BODY");
        assert_eq!(
            delimiter("SENTINEL_MIGRATE_BODY\n"),
            "SENTINEL_MIGRATE_BODY_"
        );
    }

    /// A plan whose deletes were moved to phase 2 by hand still gates them.
    #[test]
    fn deletes_wait_for_the_confirmation_in_whatever_phase() {
        use crate::catalog::{Catalog, Phase};
        let inputs = crate::source::read(
            &[std::path::PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/contoso"
            ))],
            &crate::source::ReadOptions::default(),
        )
        .unwrap();
        let mut plan = crate::plan::plan(
            &inputs,
            &Catalog::embedded().unwrap(),
            &crate::plan::Settings::default(),
        )
        .unwrap();
        for a in &mut plan.actions {
            if a.operation == Operation::Delete {
                a.phase = Phase::Incidents;
                a.gate = None;
            }
        }
        let mut out = Vec::new();
        apply_script(&plan, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let gate = text
            .find("Stopped before phase 2")
            .expect("phase 2 is gated");
        let phase2 = text.find("# ---- Phase 2").unwrap();
        let first_delete = text
            .match_indices("\nchange ")
            .map(|(at, _)| at)
            .find(|&at| {
                text[at + 1..]
                    .lines()
                    .next()
                    .is_some_and(|l| l.contains(" delete "))
            })
            .expect("the script deletes");
        assert!(phase2 < gate, "the check opens phase 2");
        assert!(gate < first_delete, "before any delete");
        assert!(!text.contains("Stopped before phase 3"), "{text}");
    }
}
