//! The generated apply.sh and rollback.sh: valid bash, clean under
//! shellcheck, and safe with hostile names when run (against a stand-in
//! `az` that records its arguments; the real Azure CLI runs them against the
//! ARM emulator in the api tests).

mod common;

use common::{read, run};
use std::path::Path;
use std::process::Command;

const SCENARIOS: [&str; 12] = [
    "already-migrated",
    "no-xdr-tenant-known",
    "no-xdr-no-tenant",
    "portal-template",
    "template-with-parameters",
    "detections-yaml",
    "multi-workspace",
    "bare-array-and-single",
    "hostile-names",
    "hostile-controls",
    "case-variants",
    "encodings",
];

fn plan_into(inputs: &[&str], extra: &[&str]) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["plan", "--out", out.path().to_str().unwrap()];
    args.extend_from_slice(inputs);
    args.extend_from_slice(extra);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.transcript());
    out
}

#[test]
fn every_generated_script_is_valid_bash_and_passes_shellcheck() {
    let shellcheck = common::tool("shellcheck");
    let mut dirs = vec![
        plan_into(&["examples/contoso"], &[]),
        plan_into(&["examples/contoso"], &["--mode", "opt-out"]),
        plan_into(
            &["examples/contoso"],
            &["--scheduled-rules", "stop-incidents"],
        ),
        plan_into(
            &["tests/fixtures/scenarios/no-xdr-no-tenant"],
            &["--tenant-id", "5e2b7c90-1d3a-4f6e-8b21-0c9d8e7f6a54"],
        ),
    ];
    for s in SCENARIOS {
        // A tenant of several workspaces needs its primary named.
        let extra: &[&str] = if s == "multi-workspace" {
            &[
                "--primary-workspace",
                "/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg-prod/providers/Microsoft.OperationalInsights/workspaces/law-prod",
            ]
        } else {
            &[]
        };
        dirs.push(plan_into(
            &[&format!("tests/fixtures/scenarios/{s}")],
            extra,
        ));
    }
    for d in &dirs {
        for script in ["apply.sh", "rollback.sh"] {
            let path = d.path().join(script);
            let n = Command::new("bash").arg("-n").arg(&path).output().unwrap();
            assert!(
                n.status.success(),
                "bash -n {script}: {}",
                String::from_utf8_lossy(&n.stderr)
            );
            if let Some(sc) = &shellcheck {
                let out = Command::new(sc)
                    .arg("--shell=bash")
                    .arg(&path)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "shellcheck {script}:\n{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    read(d.path(), script)
                );
            }
        }
    }
}

/// A stand-in for `az rest`: records every call's arguments and keeps the
/// state of resources in a folder, keyed by URL.
const FAKE_AZ: &str = r#"#!/usr/bin/env bash
set -u
printf '%s\n' "$*" >>"$FAKE_AZ_DIR/calls.log"
method='' url='' query='' body=''
while [ "$#" -gt 0 ]; do
  case "$1" in
    --method) method=$2; shift ;;
    --url) url=$2; shift ;;
    --query) query=$2; shift ;;
    --body) body=$2; shift ;;
  esac
  shift
done
printf '%s\n' "$url" >>"$FAKE_AZ_DIR/urls.log"
key=$(printf '%s' "${url%%\?*}" | sha256sum | cut -c1-16)
f="$FAKE_AZ_DIR/state/$key"
case "$method" in
  get)
    if [ ! -e "$f.etag" ]; then echo "ERROR: Not Found({\"error\":{\"code\":\"NotFound\"}})" >&2; exit 1; fi
    if [ "$query" = etag ]; then cat "$f.etag"; else cat "$f.json" 2>/dev/null || echo '{}'; fi ;;
  put)
    cp "${body#@}" "$f.json"
    n=$(($(cat "$FAKE_AZ_DIR/counter" 2>/dev/null || echo 0) + 1)); echo "$n" >"$FAKE_AZ_DIR/counter"
    printf '"new-%s"\n' "$n" >"$f.etag" ;;
  delete) rm -f "$f.etag" "$f.json" ;;
esac
"#;

fn sha16(s: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn hostile_names_are_passed_quoted_and_encoded() {
    let out = plan_into(&["tests/fixtures/scenarios/hostile-names"], &[]);
    let plan: serde_json::Value = serde_json::from_str(&read(out.path(), "plan.json")).unwrap();
    let fake = tempfile::tempdir().unwrap();
    let bin = fake.path().join("bin");
    let state = fake.path().join("state");
    let home = fake.path().join("home");
    for d in [&bin, &state, &home] {
        std::fs::create_dir_all(d).unwrap();
    }
    write_exec(&bin.join("az"), FAKE_AZ);
    // Were `$(curl ...)` ever run, this curl would leave a mark.
    write_exec(
        &bin.join("curl"),
        "#!/bin/sh\ntouch \"$FAKE_AZ_DIR/INJECTED\"\n",
    );
    std::fs::write(home.join("canary"), "still here").unwrap();

    // Seed the stand-in with every resource the plan changes, at its etag.
    let mut expected_urls = Vec::new();
    for a in plan["actions"].as_array().unwrap() {
        let Some(etag) = a["etag"].as_str() else {
            continue;
        };
        let id = a["resource_id"].as_str().unwrap();
        let name = a["name"].as_str().unwrap();
        let rt = a["resource_type"].as_str().unwrap();
        let prefix = &id[..id.len() - name.len() - rt.len() - 2];
        let url = format!(
            "{prefix}/{rt}/{}",
            name.bytes()
                .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                })
                .collect::<String>()
        );
        std::fs::write(
            state.join(format!("{}.etag", sha16(&url))),
            format!("{etag}\n"),
        )
        .unwrap();
        std::fs::write(
            state.join(format!("{}.json", sha16(&url))),
            a["before"].to_string(),
        )
        .unwrap();
        expected_urls.push(url);
    }
    assert_eq!(expected_urls.len(), 3);

    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let script = |name: &str, args: &[&str]| {
        Command::new("bash")
            .arg(out.path().join(name))
            .args(args)
            .current_dir(fake.path())
            .env("PATH", &path)
            .env("HOME", &home)
            .env("FAKE_AZ_DIR", fake.path())
            .output()
            .unwrap()
    };
    // Phases 1 and 2; phase 3 waits for the confirmation.
    let first = script("apply.sh", &[]);
    assert_eq!(
        first.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = script("apply.sh", &["--confirm-tenant-connector"]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("= 001 already done"),
        "resumes without repeating: {stderr}"
    );

    assert!(
        !fake.path().join("INJECTED").exists(),
        "a display name was executed"
    );
    assert_eq!(
        std::fs::read_to_string(home.join("canary")).unwrap(),
        "still here"
    );
    let urls = std::fs::read_to_string(fake.path().join("urls.log")).unwrap();
    for u in urls.lines() {
        let path = u.split('?').next().unwrap();
        assert!(
            expected_urls.iter().any(|e| e == path),
            "unexpected URL {u}"
        );
        assert!(u.ends_with("?api-version=2025-10-01-preview"), "{u}");
    }
    // Each PUT body is the plan's `after`, byte for byte as JSON.
    let backup = fake.path().join("sentinel-migrate-backup");
    for (step, action) in [("001", 0usize), ("002", 1)] {
        let sent: serde_json::Value =
            serde_json::from_str(&read(&backup, &format!("{step}.request.json"))).unwrap();
        let changes: Vec<&serde_json::Value> = plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["operation"] == "update")
            .collect();
        assert_eq!(sent, changes[action]["after"]);
        assert_eq!(sent["properties"]["enabled"], false);
    }
    // The legacy connector is gone; rollback brings everything back.
    let conn = state.join(format!("{}.etag", sha16(&expected_urls[2])));
    assert!(!conn.exists());
    let rb = script("rollback.sh", &[]);
    assert_eq!(
        rb.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&rb.stderr)
    );
    assert!(conn.exists(), "the deleted connector is re-created");
    assert!(!fake.path().join("INJECTED").exists());
}

#[test]
fn apply_refuses_a_stale_plan_before_changing_anything() {
    let out = plan_into(&["tests/fixtures/scenarios/hostile-names"], &[]);
    let fake = tempfile::tempdir().unwrap();
    let bin = fake.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(fake.path().join("state")).unwrap();
    write_exec(&bin.join("az"), FAKE_AZ);
    // Nothing seeded: every resource looks changed (absent) since the plan.
    let o = Command::new("bash")
        .arg(out.path().join("apply.sh"))
        .current_dir(fake.path())
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("FAKE_AZ_DIR", fake.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("stale: ")).count(),
        3,
        "names every drifted resource: {stderr}"
    );
    let calls = std::fs::read_to_string(fake.path().join("calls.log")).unwrap();
    assert!(
        !calls.contains("--method put") && !calls.contains("--method delete"),
        "{calls}"
    );
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Characters that must never reach a terminal or a script raw.
const RAW: [char; 9] = [
    '\u{1b}', '\u{7}', '\u{8}', '\u{7f}', '\u{9b}', '\u{202e}', '\u{202c}', '\u{200b}', '\u{feff}',
];

#[test]
fn control_and_bidi_characters_are_shown_escaped_never_raw() {
    let out = tempfile::tempdir().unwrap();
    let r = run(&[
        "plan",
        "tests/fixtures/scenarios/hostile-controls",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let json = run(&[
        "plan",
        "tests/fixtures/scenarios/hostile-controls",
        "--format",
        "json",
    ]);
    let mut texts = vec![
        ("summary".to_string(), r.stdout.clone()),
        ("stderr".to_string(), r.stderr.clone()),
        ("--format json".to_string(), json.stdout.clone()),
    ];
    for f in ["plan.json", "changes.diff", "apply.sh", "rollback.sh"] {
        texts.push((f.to_string(), read(out.path(), f)));
    }
    for (what, text) in &texts {
        for c in RAW {
            assert!(!text.contains(c), "raw {c:?} in {what}:\n{text}");
        }
    }
    // Shown, escaped, where a reader looks.
    assert!(
        r.stdout
            .contains(r"\u{1b}]0;pwned\u{7}from\u{8}\u{8}\u{8}DfC \u{202e}evil"),
        "{}",
        r.stdout
    );
    let apply = read(out.path(), "apply.sh");
    assert!(
        apply.contains(r"# Step 001: MIG101 update alertRules/msic-x\'y\u{1b}[2J"),
        "{apply}"
    );
    // The plan still holds the values themselves.
    let plan: serde_json::Value = serde_json::from_str(&read(out.path(), "plan.json")).unwrap();
    let names: Vec<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(names.contains(&"sched\u{202e}rule"), "{names:?}");
}

/// Values that broke, or could break, a naive shell quoting.
fn hostile() -> Vec<String> {
    serde_json::from_str(&read(&common::root(), "tests/fixtures/hostile-values.json")).unwrap()
}

#[test]
fn scripts_pass_shellcheck_for_every_hostile_value() {
    let alphabet: Vec<char> =
        "'\\\"$`!#&*?[]{}();|<> \t\nab~-=%\u{1b}\u{7}\u{202e}\u{200b}\u{2018}\u{201d}é日"
            .chars()
            .collect();
    let mut rng = fastrand::Rng::with_seed(11);
    let mut values: Vec<String> = hostile();
    for _ in 0..40 {
        let len = rng.usize(1..10);
        values.push(
            (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect(),
        );
    }
    // Each value as a rule's name, display name and etag: in URLs, comments,
    // log messages and quoted words of both scripts.
    let ws =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w";
    let rules: Vec<serde_json::Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let name = format!("r{i}-{v}");
            serde_json::json!({
                "id": format!("{ws}/providers/Microsoft.SecurityInsights/alertRules/{name}"),
                "name": name,
                "kind": "MicrosoftSecurityIncidentCreation",
                "etag": v,
                "properties": {"displayName": v, "enabled": true, "productFilter": "Azure Security Center"}
            })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("alertRules.json"),
        serde_json::json!({ "value": rules }).to_string(),
    )
    .unwrap();
    let out = plan_into(&[dir.path().to_str().unwrap()], &[]);
    let shellcheck = common::tool("shellcheck");
    for script in ["apply.sh", "rollback.sh"] {
        let path = out.path().join(script);
        let text = read(out.path(), script);
        let n = Command::new("bash").arg("-n").arg(&path).output().unwrap();
        assert!(
            n.status.success(),
            "bash -n {script}: {}",
            String::from_utf8_lossy(&n.stderr)
        );
        if let Some(sc) = &shellcheck {
            let o = Command::new(sc)
                .arg("--shell=bash")
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "shellcheck {script}:\n{}",
                String::from_utf8_lossy(&o.stdout)
            );
        }
        for c in RAW {
            assert!(!text.contains(c), "raw {c:?} in {script}");
        }
    }
}

/// A backup folder belongs to the plan whose apply.sh wrote it: step 001 of
/// another plan is another resource, and its rollback.sh would put a backup
/// body back at the wrong URL. Both scripts refuse such a folder before
/// calling Azure; a folder holding no begun step is taken over.
#[test]
fn scripts_refuse_a_backup_folder_of_another_plan() {
    let a = plan_into(&["examples/contoso"], &[]);
    let b = plan_into(
        &["examples/contoso"],
        &["--scheduled-rules", "stop-incidents"],
    );
    let fake = tempfile::tempdir().unwrap();
    let calls = fake.path().join("calls.log");
    write_exec(
        &fake.path().join("az"),
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >>\"$AZ_CALLS\"\nexit 1\n",
    );
    let backup = fake.path().join("backup");
    std::fs::create_dir(&backup).unwrap();
    let script = |dir: &Path, name: &str| {
        Command::new("bash")
            .arg(dir.join(name))
            .arg("--backup-dir")
            .arg(&backup)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    fake.path().display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .env("AZ_CALLS", &calls)
            .output()
            .unwrap()
    };
    // What a.apply.sh leaves after its first step began: its plan-id, 001.started.
    let a_apply = read(a.path(), "apply.sh");
    let a_id = a_apply
        .lines()
        .find_map(|l| l.strip_prefix("plan_id="))
        .unwrap()
        .to_string();
    assert!(!read(b.path(), "apply.sh").contains(&format!("plan_id={a_id}")));
    std::fs::write(backup.join("plan-id"), format!("{a_id}\n")).unwrap();
    std::fs::write(backup.join("001.started"), "").unwrap();
    std::fs::write(backup.join("001.done"), "put\n").unwrap();
    for name in ["apply.sh", "rollback.sh"] {
        let o = script(b.path(), name);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains("holds steps of another plan"),
            "{name}: {stderr}"
        );
        assert!(!calls.exists(), "{name} called az before refusing");
    }
    // Its own rollback.sh goes ahead (and reaches az).
    let o = script(a.path(), "rollback.sh");
    assert!(calls.exists(), "{}", String::from_utf8_lossy(&o.stderr));
    // A folder with no begun step is taken over by another plan.
    std::fs::remove_file(&calls).unwrap();
    for f in ["001.started", "001.done"] {
        std::fs::remove_file(backup.join(f)).unwrap();
    }
    let o = script(b.path(), "apply.sh");
    assert!(calls.exists(), "{}", String::from_utf8_lossy(&o.stderr));
}
