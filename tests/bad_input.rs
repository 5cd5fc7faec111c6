//! Malformed, truncated, oversized and hostile exports: a clear error that
//! names the file, the line and column and what was expected; never a
//! panic; nothing planned from partial input.

mod common;

use common::run_in;
use std::path::Path;

fn plan_dir(dir: &Path) -> common::Run {
    run_in(dir, &["plan", "."], &[])
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn assert_error(r: &common::Run, needles: &[&str]) {
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(
        r.stdout.is_empty(),
        "nothing is planned from bad input: {}",
        r.stdout
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    for n in needles {
        assert!(r.stderr.contains(n), "expected {n:?} in:\n{}", r.stderr);
    }
}

#[test]
fn truncated_json() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "alertRules.json",
        b"{\n  \"value\": [\n    {\n      \"name\": \"x\",\n      \"kind\": \"Scheduled\"",
    );
    let r = plan_dir(d.path());
    assert_error(
        &r,
        &[
            "./alertRules.json:5:",
            "the file ends inside the value opened at 3:5",
            "hint: the file ends early: it looks truncated",
        ],
    );
    insta::assert_snapshot!("truncated_json", r.stderr);
}

#[test]
fn syntax_error_points_at_the_place() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "rules.json",
        b"{\"value\": [\n  {\"name\": \"a\" \"kind\": \"Scheduled\"}\n]}\n",
    );
    let r = plan_dir(d.path());
    assert_error(&r, &["./rules.json:2:", "expected: `,` between members"]);
}

#[test]
fn wrong_types() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "alertRules.json",
        br#"{
  "value": [
    {
      "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights/alertRules/a",
      "name": "a",
      "kind": "MicrosoftSecurityIncidentCreation",
      "properties": {"displayName": "x", "enabled": "yes", "productFilter": 7}
    },
    {
      "name": 42,
      "kind": "Scheduled",
      "properties": {"query": ["SecurityAlert"], "incidentConfiguration": {"createIncident": "true"}}
    }
  ]
}
"#,
    );
    write(
        d.path(),
        "connectors.json",
        br#"{"value": {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights/dataConnectors/c", "kind": "AzureSecurityCenter"}}"#,
    );
    let r = plan_dir(d.path());
    assert_error(
        &r,
        &[
            "./alertRules.json:7:53: `properties.enabled` is a string",
            "expected: true or false",
            "./alertRules.json:7:77: `properties.productFilter` is a number",
            "./alertRules.json:10:15: `name` is a number",
            "./connectors.json:1:11: `value` is an object",
            "problems in 2 input files",
        ],
    );
    insta::assert_snapshot!("wrong_types", r.stderr);
}

#[test]
fn wrong_types_in_yaml() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "rule.yaml", b"id: 0d5c0f3e-1c3a-4b7e-9a43-3f1c2d7e8a10\nname: Rule\nkind: Scheduled\nenabled: sometimes\nquery: SecurityAlert\n");
    let r = plan_dir(d.path());
    assert_error(
        &r,
        &[
            "./rule.yaml:4:10",
            "expected: the fields of a Detections rule",
        ],
    );
}

#[test]
fn a_50_mb_file_is_refused_without_reading_it() {
    let d = tempfile::tempdir().unwrap();
    let f = std::fs::File::create(d.path().join("huge.json")).unwrap();
    f.set_len(50 * 1024 * 1024).unwrap();
    write(d.path(), "ok.json", b"[]");
    let r = plan_dir(d.path());
    assert_error(
        &r,
        &[
            "./huge.json: the file is 50.0 MiB, more than the 32.0 MiB allowed for one export file",
            "hint: if it really is an export, raise the limit with --max-file-size",
        ],
    );
}

#[test]
fn binary_garbage() {
    let d = tempfile::tempdir().unwrap();
    let mut bytes = b"{\"value\": [\n".to_vec();
    bytes.extend((0u8..=255).rev().cycle().take(4096));
    write(d.path(), "export.json", &bytes);
    let r = plan_dir(d.path());
    assert_error(
        &r,
        &[
            "./export.json:2:1: byte 0xFF at offset 12 is not valid UTF-8: this is not a text export",
        ],
    );
}

#[test]
fn utf16_with_bom_is_read_and_without_bom_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let text = r#"{"value": [{"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights/dataConnectors/c", "name": "c", "kind": "AzureSecurityCenter", "etag": "\"1\"", "properties": {"subscriptionId": "s", "dataTypes": {"alerts": {"state": "Enabled"}}}}]}"#;
    let mut le = vec![0xFF, 0xFE];
    le.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
    write(d.path(), "utf16.json", &le);
    let r = plan_dir(d.path());
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(
        r.stdout
            .contains("dataConnectors/c (AzureSecurityCenter)  delete"),
        "{}",
        r.stdout
    );

    let bomless: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    write(d.path(), "utf16.json", &bomless);
    let r = plan_dir(d.path());
    assert_error(
        &r,
        &[
            "./utf16.json: the file looks like UTF-16 without a byte-order mark",
            "expected: UTF-8, or UTF-16 starting with a byte-order mark",
        ],
    );
}

#[test]
fn every_bad_file_is_reported_together() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a.json", b"{\"value\": [");
    write(
        d.path(),
        "b.json",
        br#"[{"name": "r", "kind": "Scheduled", "properties": {}}, 1]"#,
    );
    write(
        d.path(),
        "c.yaml",
        b"id: x\nkind: Scheduled\nquery: [unclosed\n",
    );
    write(d.path(), "good.json", b"[]");
    let r = plan_dir(d.path());
    assert_error(
        &r,
        &[
            "3 problems in 3 input files",
            "./a.json:1:",
            "./b.json:1:56: an item of the list is a number",
            "./c.yaml:",
        ],
    );
}

#[test]
fn deep_nesting_and_hostile_text_never_crash() {
    let d = tempfile::tempdir().unwrap();
    let deep = format!("{{\"value\": [{}", "[".repeat(200_000));
    write(d.path(), "deep.json", deep.as_bytes());
    write(
        d.path(),
        "deep.yaml",
        format!("id: x\nkind: Scheduled\nquery: {}\n", "[".repeat(100_000)).as_bytes(),
    );
    // The same depth in files that are not Sentinel content: skipped.
    write(d.path(), "deep-other.json", "[".repeat(200_000).as_bytes());
    write(
        d.path(),
        "deep-other.yaml",
        format!("title: x\nitems: {}\n", "[".repeat(100_000)).as_bytes(),
    );
    let r = plan_dir(d.path());
    assert_error(&r, &["./deep.json:1:", "nesting", "./deep.yaml:"]);
    assert!(!r.stderr.contains("deep-other"), "{}", r.stderr);

    // A well-formed export whose query is hostile KQL: planned, not crashed.
    let d = tempfile::tempdir().unwrap();
    let query = format!(
        "SecurityAlert | where {}ProductName == \\\"Azure Security Center\\\"{}",
        "(".repeat(20_000),
        ")".repeat(20_000)
    );
    let body = format!(
        r#"[{{"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights/alertRules/r", "name": "r", "kind": "Scheduled", "etag": "\"1\"", "properties": {{"displayName": "deep", "enabled": true, "query": "{query}"}}}}]"#
    );
    write(d.path(), "rules.json", body.as_bytes());
    let r = plan_dir(d.path());
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(r.stdout.contains("alertRules/r \"deep\""), "{}", r.stdout);
}

#[test]
fn skipped_files_are_listed() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "README.md",
        b"# Exports\n\nSome text: with a colon.\n",
    );
    write(
        d.path(),
        "hunt.yaml",
        b"id: 1\nname: hunt\nquery: SecurityAlert\n",
    );
    write(d.path(), "empty.json", b"");
    write(d.path(), "dataConnectors.json", CONNECTOR);
    let r = plan_dir(d.path());
    assert_eq!(r.code, 0, "{}", r.transcript());
    for s in [
        "./README.md: neither JSON nor Sentinel YAML",
        "./hunt.yaml: a hunting query",
        "./empty.json: empty file",
    ] {
        assert!(r.stdout.contains(s), "{s} in {}", r.stdout);
    }
}

/// A `--rules` copy that moves the disconnection of the legacy connectors
/// to phase 2 (where apply would run it without `--confirm
/// tenant-connector`) is refused, the problem pointed at; nothing is planned.
#[test]
fn rules_file_moving_the_disconnection_is_refused() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("rules")).unwrap();
    let text = std::fs::read_to_string(common::root().join("rules/migration.yaml")).unwrap();
    let edited = text.replacen(
        "    name: legacy-disconnect\n",
        "    name: legacy-disconnect\n    phase: 2\n",
        1,
    );
    assert_ne!(edited, text);
    write(&d.path().join("rules"), "migration.yaml", edited.as_bytes());
    let contoso = common::root().join("examples/contoso");
    let r = run_in(
        d.path(),
        &["plan", contoso.to_str().unwrap(), "--rules", "rules"],
        &[],
    );
    let line = edited
        .lines()
        .position(|l| l == "    phase: 2")
        .map(|i| i + 1)
        .unwrap();
    assert_error(
        &r,
        &[
            &format!("rules/migration.yaml:{line}:5"),
            "rule MIG201 (legacy-disconnect): phase 2 is not the planner's",
            "expected: phase 3",
            "--confirm tenant-connector",
        ],
    );
}

/// Runs the binary, killing it if it has not finished within `limit`.
fn run_with_deadline(dir: &Path, args: &[&str], limit: std::time::Duration) -> common::Run {
    use std::io::Read as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sentinel-migrate"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`sentinel-migrate {}` still running after {limit:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    common::Run {
        code,
        stdout,
        stderr,
    }
}

const CONNECTOR: &[u8] = br#"{"value": [{"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights/dataConnectors/c", "name": "c", "kind": "AzureSecurityCenter", "etag": "\"1\"", "properties": {"subscriptionId": "s", "dataTypes": {"alerts": {"state": "Enabled"}}}}]}"#;

#[cfg(unix)]
#[test]
fn links_out_of_the_folder_are_not_followed() {
    use std::os::unix::fs::symlink;
    let outside = tempfile::tempdir().unwrap();
    // One that would fail to parse (its snippet would be printed), one that
    // would be planned (its display name would be printed).
    write(
        outside.path(),
        "environ",
        b"{\"value\": [ AZURE_ACCESS_TOKEN=FAKE-SECRET-1234",
    );
    write(
        outside.path(),
        "rules.json",
        br#"[{"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights/alertRules/r", "name": "r", "kind": "MicrosoftSecurityIncidentCreation", "etag": "\"1\"", "properties": {"displayName": "FAKE-SECRET-1234", "enabled": true, "productFilter": "Azure Security Center"}}]"#,
    );
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "dataConnectors.json", CONNECTOR);
    symlink(outside.path().join("environ"), d.path().join("env.json")).unwrap();
    symlink(
        outside.path().join("rules.json"),
        d.path().join("alertRules.json"),
    )
    .unwrap();
    symlink(outside.path(), d.path().join("elsewhere")).unwrap();
    // A link that stays inside the folder is followed.
    std::fs::create_dir(d.path().join("real")).unwrap();
    write(
        &d.path().join("real"),
        "automationRules.json",
        b"{\"value\": []}",
    );
    symlink("real/automationRules.json", d.path().join("linked.json")).unwrap();

    let out = tempfile::tempdir().unwrap();
    let r = run_in(
        d.path(),
        &["plan", ".", "--out", out.path().to_str().unwrap()],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.transcript());
    let mut everything = r.transcript();
    for f in ["plan.json", "changes.diff", "apply.sh", "rollback.sh"] {
        everything.push_str(&common::read(out.path(), f));
    }
    assert!(!everything.contains("FAKE-SECRET"), "{everything}");
    for link in ["./env.json", "./alertRules.json", "./elsewhere"] {
        assert!(
            r.stdout.contains(&format!(
                "{link}: a link out of the folder given (.): not followed"
            )),
            "{link} in {}",
            r.stdout
        );
    }
    let plan: serde_json::Value =
        serde_json::from_str(&common::read(out.path(), "plan.json")).unwrap();
    let skipped = plan["skipped"].to_string();
    assert!(skipped.contains("./env.json"), "{skipped}");
    let inputs = plan["inputs"].to_string();
    assert!(inputs.contains("./linked.json"), "{inputs}");
    assert!(!inputs.contains("env.json"), "{inputs}");
}

#[cfg(unix)]
#[test]
fn a_fifo_named_directly_is_refused_at_once() {
    let d = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(d.path().join("pipe.json"))
        .status()
        .unwrap();
    assert!(status.success());
    let start = std::time::Instant::now();
    let r = run_with_deadline(
        d.path(),
        &["plan", "pipe.json"],
        std::time::Duration::from_secs(10),
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
    assert_error(
        &r,
        &["pipe.json: a named pipe (FIFO), not a file: not read"],
    );

    // Under a folder it is skipped, with a note.
    write(d.path(), "dataConnectors.json", CONNECTOR);
    let r = run_with_deadline(d.path(), &["plan", "."], std::time::Duration::from_secs(10));
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(
        r.stdout
            .contains("./pipe.json: a named pipe (FIFO), not a file: not read"),
        "{}",
        r.stdout
    );
}

#[cfg(unix)]
#[test]
fn dev_zero_named_directly_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let r = run_with_deadline(
        d.path(),
        &["plan", "/dev/zero"],
        std::time::Duration::from_secs(10),
    );
    assert_error(&r, &["/dev/zero: a character device, not a file: not read"]);
}

#[test]
fn the_size_limit_holds_while_reading() {
    // Files in /proc say they are empty; what is read counts.
    let status = Path::new("/proc/self/status");
    if !status.exists() {
        eprintln!("note: no /proc; skipping");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let r = run_with_deadline(
        d.path(),
        &["plan", "/proc/self/status", "--max-file-size", "64"],
        std::time::Duration::from_secs(10),
    );
    assert_error(
        &r,
        &[
            "/proc/self/status: the file is larger, more than the 64 bytes allowed for one export file",
            "hint: if it really is an export, raise the limit with --max-file-size",
        ],
    );
}

#[test]
fn binary_files_are_refused_without_showing_their_content() {
    // What /proc/self/environ holds, named directly.
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "environ",
        b"AZURE_ACCESS_TOKEN=FAKE-SECRET-1234\0SHELL=/bin/bash\0HOME=/root\0",
    );
    let r = run_in(d.path(), &["plan", "environ"], &[]);
    assert_error(
        &r,
        &["environ:1:36: the file holds binary data, not a text export"],
    );
    assert!(!r.stderr.contains("FAKE-SECRET"), "{}", r.stderr);
}

/// JSON that is not Sentinel content is skipped with the reason, however
/// broken; its twin that is recognisably Sentinel content is an error at
/// its place.
#[test]
fn only_malformed_sentinel_json_is_an_error() {
    const ID: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights/alertRules/x";
    let others: [(&str, String, &str); 7] = [
        (
            "README.md",
            "[![Build](https://example.test/badge.svg)](https://example.test)\n# Rules\nDeploys Microsoft.SecurityInsights/alertRules with `\"kind\": \"Scheduled\"`.\n".into(),
            "neither JSON nor Sentinel YAML (invalid JSON: Unexpected token at 1:2), and nothing before that names a Sentinel resource",
        ),
        (
            "package.json",
            "{\"name\": \"sentinel-tools\", \"version\": \"1.0.0\", \"scripts\": {\"test\": \"jest\"}}".into(),
            "JSON with no Sentinel resources in it",
        ),
        (
            "broken-config.json",
            "{\"name\": \"sentinel-tools\", \"version\": ".into(),
            "nothing before that names a Sentinel resource",
        ),
        ("numbers.json", "[1, 2]".into(), "a JSON array of 2 items with no Sentinel resource among them"),
        (
            "settings.json",
            "{\"value\": 5, \"editor.tabSize\": 2}".into(),
            "JSON with no Sentinel resources in it",
        ),
        (
            "workbook.json",
            "{\"version\": \"Notebook/1.0\", \"items\": [{\"type\": 3, \"content\": {\"query\": \"SecurityAlert | take 1\"}}]}".into(),
            "a workbook",
        ),
        (
            "playbook.json",
            "{\"$schema\": \"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#\", \"contentVersion\": \"1.0.0.0\", \"resources\": [{\"type\": \"Microsoft.Logic/workflows\", \"name\": \"p\"}, {\"type\": \"Microsoft.Insights/alertRules\", \"name\": \"classic\"}]}".into(),
            "an ARM template with no Sentinel resources (1 Microsoft.Insights/alertRules, 1 Microsoft.Logic/workflows)",
        ),
    ];
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "dataConnectors.json", CONNECTOR);
    for (name, text, _) in &others {
        write(d.path(), name, text.as_bytes());
    }
    let r = plan_dir(d.path());
    assert_eq!(r.code, 0, "{}", r.transcript());
    for (name, _, reason) in &others {
        let note = format!("./{name}: ");
        assert!(
            r.stdout
                .lines()
                .any(|l| l.contains(&note) && l.contains(reason)),
            "{note}{reason} in\n{}",
            r.stdout
        );
    }

    // The twins: the same mistakes in Sentinel content.
    let twins: [(&str, String, &str); 5] = [
        (
            "truncated.json",
            format!("{{\"value\": [ {{\"id\": \"{ID}\", \"name\": \"x\", \"kind\": \"Sch"),
            "./truncated.json:1:",
        ),
        (
            "array.json",
            format!("[{{\"id\": \"{ID}\", \"name\": \"x\", \"kind\": \"Scheduled\"}} {{]"),
            "./array.json:1:",
        ),
        (
            "kind-only.json",
            "[{\"name\": \"x\", \"kind\": \"MicrosoftSecurityIncidentCreation\" \"properties\": {}}]".into(),
            "./kind-only.json:1:",
        ),
        (
            "mixed.json",
            format!("[{{\"id\": \"{ID}\", \"name\": \"x\", \"kind\": \"Scheduled\"}}, 2]"),
            "./mixed.json:1:",
        ),
        (
            "template.json",
            "{\"$schema\": \"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#\", \"contentVersion\": \"1.0.0.0\", \"resources\": [{\"type\": \"Microsoft.OperationalInsights/workspaces/providers/alertRules\", \"name\": \"w/Microsoft.SecurityInsights/r\", \"kind\": \"Scheduled\", \"properties\": {\"enabled\": \"yes\"}}, {\"name\": \"no type\"}]}".into(),
            "./template.json:1:",
        ),
    ];
    for (name, text, needle) in &twins {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "dataConnectors.json", CONNECTOR);
        write(t.path(), name, text.as_bytes());
        let r = plan_dir(t.path());
        assert_error(&r, &[needle]);
    }
}

/// Text that quotes rule keys (Markdown, front matter, PowerShell) is
/// skipped with the reason; its twin that is a Detections rule and
/// malformed, or a file of several documents holding rules, is an error at
/// its place.
#[test]
fn only_malformed_sentinel_yaml_is_an_error() {
    let others: [(&str, &str, &str); 4] = [
        (
            "writing-rules.md",
            "# Writing rules\n\nEach rule is a YAML file: for example\n\n```yaml\nid: 7b1c\nname: Rule\nkind: Scheduled\nquery: |\n  SecurityAlert\n```\n",
            "neither JSON nor Sentinel YAML (invalid YAML: ",
        ),
        (
            "review.prompt.md",
            "---\nname: review-rule\nmode: agent\ndescription: Review a rule\n---\nReview the rule: check its kind: and its query: fields.\nThen say what: you think.\n",
            "neither JSON nor Sentinel YAML (invalid YAML: ",
        ),
        (
            "Deploy-Rules.ps1",
            "param([string]$Workspace)\n$rule = @\"\nid: 7b1c\nkind: Scheduled\nquery: SecurityAlert\n\"@\nNew-AzSentinelAlertRule -WorkspaceName $Workspace\n",
            "neither JSON nor Sentinel YAML (invalid YAML: ",
        ),
        (
            "notes.md",
            "---\ntitle: Notes\nname: notes\n---\nJust prose without a colon\n",
            "YAML with 2 documents (front matter and a body?), none of them an analytics rule",
        ),
    ];
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "dataConnectors.json", CONNECTOR);
    for (name, text, _) in &others {
        write(d.path(), name, text.as_bytes());
    }
    let r = plan_dir(d.path());
    assert_eq!(r.code, 0, "{}", r.transcript());
    for (name, _, reason) in &others {
        let note = format!("./{name}: ");
        assert!(
            r.stdout
                .lines()
                .any(|l| l.contains(&note) && l.contains(reason)),
            "{note}{reason} in\n{}",
            r.stdout
        );
    }

    let twins: [(&str, &str, &[&str]); 4] = [
        (
            "two.yaml",
            "---\nid: 7b1c\nkind: Scheduled\nquery: SecurityAlert\n---\nid: 8c2d\nkind: Scheduled\nquery: SecurityAlert\n",
            &[
                "./two.yaml:5:1: a YAML file of 2 documents: a second one starts here",
                "expected: one analytics rule per file",
            ],
        ),
        (
            "two-broken.yaml",
            "id: 7b1c\nkind: Scheduled\nquery: SecurityAlert\n---\nid: [8c2d\n",
            &["./two-broken.yaml:6:1: invalid YAML"],
        ),
        (
            "broken.yaml",
            "id: 7b1c\nname: Rule\nkind: Scheduled\nquery: |\n  SecurityAlert\nseverity: [High\n",
            &["./broken.yaml:", "invalid YAML"],
        ),
        (
            "stray.yaml",
            "# A rule\nid: 7b1c\nkind: Scheduled\nquery: SecurityAlert\nSecurityAlert | take 1\n",
            &["./stray.yaml:6:1: invalid YAML"],
        ),
    ];
    for (name, text, needles) in &twins {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "dataConnectors.json", CONNECTOR);
        write(t.path(), name, text.as_bytes());
        let r = plan_dir(t.path());
        assert_error(&r, needles);
    }
}

const RULE_YAML: &str = "id: 0d5c0f3e-1c3a-4b7e-9a43-3f1c2d7e8a10\nname: Defender for Cloud alerts\nkind: Scheduled\nseverity: Medium\nqueryFrequency: 1h\nqueryPeriod: 1h\ntriggerOperator: gt\ntriggerThreshold: 0\nquery: |\n  SecurityAlert\n  | where ProductName == \"Azure Security Center\"\n";

/// A rule copied into two folders of a repository is one rule; two copies
/// that differ are an error naming both files; never counted twice.
#[test]
fn one_rule_in_two_files_is_one_rule_or_an_error() {
    let d = tempfile::tempdir().unwrap();
    for folder in ["Detections", "Solutions"] {
        std::fs::create_dir(d.path().join(folder)).unwrap();
        write(&d.path().join(folder), "rule.yaml", RULE_YAML.as_bytes());
    }
    let r = plan_dir(d.path());
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(r.stdout.contains("1 analytics rule"), "{}", r.stdout);
    assert_eq!(
        r.stdout.matches("alertRules/0d5c0f3e").count(),
        1,
        "{}",
        r.stdout
    );

    let edited = RULE_YAML.replace("severity: Medium", "severity: High");
    write(&d.path().join("Solutions"), "rule.yaml", edited.as_bytes());
    let r = plan_dir(d.path());
    assert_error(
        &r,
        &[
            "./Solutions/rule.yaml:1:1: alertRules `0d5c0f3e-1c3a-4b7e-9a43-3f1c2d7e8a10` is also exported, with different content, at ./Detections/rule.yaml:1:1",
        ],
    );
}

/// Copies of a live export's rule the plan takes no step on (its text is
/// dropped as it is read): one rule when the text is the same, or when
/// the same version (etag) holds the same values the planner reads; an
/// error when the text differs and the version does too.
#[test]
fn copies_of_a_rule_read_without_their_text_are_told_apart() {
    let ws = "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law";
    let rule = |order: bool, description: &str, etag: &str| {
        let id = format!("{ws}/providers/Microsoft.SecurityInsights/alertRules/r1");
        let props = if order {
            format!(
                r#"{{"displayName": "Sign-ins", "description": "{description}", "enabled": true, "query": "SigninLogs | take 1"}}"#
            )
        } else {
            format!(
                r#"{{"query": "SigninLogs | take 1", "enabled": true, "description": "{description}", "displayName": "Sign-ins"}}"#
            )
        };
        format!(
            r#"{{"value": [{{"id": "{id}", "name": "r1", "etag": "{etag}", "type": "Microsoft.SecurityInsights/alertRules", "kind": "Scheduled", "properties": {props}}}]}}"#
        )
    };
    let cases = [
        ((true, "a", "1"), (true, "a", "1"), true),
        ((true, "a", "1"), (false, "a", "1"), true),
        ((true, "a", "1"), (false, "a", "2"), false),
        // The same version: a value the planner does not read differs
        // only in a copy edited by hand; the plan is the same either way.
        ((true, "a", "1"), (true, "b", "1"), true),
        ((true, "a", "1"), (true, "b", "2"), false),
    ];
    // Without an etag, spaced otherwise (pretty-printed, CRLF) but the
    // same token for token: the same rule, told by its text alone.
    let spaced = |text: String| text.replace(": ", " :\r\n\t ").replace(", ", " ,\n    ");
    let cases = cases
        .into_iter()
        .map(|(a, b, same)| (a, b, same, false))
        .chain([
            ((true, "a", "1"), (true, "a", "1"), true, true),
            ((true, "a", "1"), (true, "b", "1"), false, true),
        ]);
    for (first, second, same, respace) in cases {
        let d = tempfile::tempdir().unwrap();
        for (folder, (order, description, etag)) in [("a", first), ("b", second)] {
            std::fs::create_dir(d.path().join(folder)).unwrap();
            write(&d.path().join(folder), "dataConnectors.json", CONNECTOR);
            let text = rule(order, description, etag);
            let text = match (respace, folder) {
                (false, _) => text,
                (true, "a") => text.replace(r#""etag": "1", "#, ""),
                (true, _) => spaced(text.replace(r#""etag": "1", "#, "")),
            };
            write(&d.path().join(folder), "alertRules.json", text.as_bytes());
        }
        let r = plan_dir(d.path());
        if same {
            assert_eq!(r.code, 0, "{first:?} {second:?}: {}", r.transcript());
            assert!(r.stdout.contains("1 analytics rule"), "{}", r.stdout);
        } else {
            let at = if respace { "2:4" } else { "1:12" };
            assert_error(
                &r,
                &[&format!(
                    "./b/alertRules.json:{at}: alertRules `r1` is also exported, with different content, at ./a/alertRules.json:1:12"
                )],
            );
        }
    }
}

/// A rule whose kind is misspelled or missing is planned as nothing, with
/// a note that says so; a known kind in another case has none.
#[test]
fn an_unknown_rule_kind_gets_a_note() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "dataConnectors.json", CONNECTOR);
    write(
        d.path(),
        "typo.yaml",
        RULE_YAML
            .replace("kind: Scheduled", "kind: Sheduled")
            .as_bytes(),
    );
    write(
        d.path(),
        "alertRules.json",
        br#"{"value": [
  {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights/alertRules/a", "name": "a", "kind": "scheduled", "etag": "\"1\"", "properties": {"displayName": "a", "enabled": true, "query": "SigninLogs"}},
  {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights/alertRules/b", "name": "b", "kind": "FutureKind", "etag": "\"1\"", "properties": {"displayName": "b", "enabled": true}},
  {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights/alertRules/c", "name": "c", "etag": "\"1\"", "properties": {"displayName": "c", "enabled": true}}
]}"#,
    );
    let r = plan_dir(d.path());
    assert_eq!(r.code, 0, "{}", r.transcript());
    for note in [
        "./typo.yaml:1:1: analytics rule `0d5c0f3e-1c3a-4b7e-9a43-3f1c2d7e8a10` has kind `Sheduled`, not one Sentinel knows (did you mean `Scheduled`?)",
        "./alertRules.json:3:3: analytics rule `b` has kind `FutureKind`, not one Sentinel knows (known: Scheduled, NRT,",
        "./alertRules.json:4:3: analytics rule `c` has no `kind`: read as it is, and nothing is planned for it",
    ] {
        assert!(r.stdout.contains(note), "{note} in\n{}", r.stdout);
    }
    assert!(!r.stdout.contains("rule `a`"), "{}", r.stdout);
}
