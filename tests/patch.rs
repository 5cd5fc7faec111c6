//! `plan --patch FILE` and `plan --write` on content kept as code: each
//! fixture under tests/fixtures/as-code/ is copied into a fresh git work
//! tree, planned with `--patch`, checked and applied with `git apply`, and
//! planned again: the patched rules need nothing more, and every byte
//! outside the edits is as it was. `--write` gives the same files.

mod common;

use common::{root, run_in};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const WS: &str = "/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg-soc/providers/Microsoft.OperationalInsights/workspaces/law-prod";

fn git_available() -> bool {
    let ok = Command::new("git").arg("--version").output().is_ok();
    if !ok {
        eprintln!("note: git not found; skipping");
    }
    ok
}

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A work tree holding the fixture under `repo/`, in a temporary folder.
fn work_tree(fixture: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &root().join("tests/fixtures/as-code").join(fixture),
        &tmp.path().join("repo"),
    );
    let init = git(&tmp.path().join("repo"), &["init", "-q"]);
    assert!(init.status.success(), "{init:?}");
    tmp
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), bytes));
            }
        }
    }
    out.sort();
    out
}

fn plan_json(dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["plan", "repo", "--workspace", WS, "--format", "json"];
    args.extend(extra);
    let r = run_in(dir, &args, &[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    serde_json::from_str(&r.stdout).unwrap()
}

/// Steps of a plan that a patch carries out.
fn patch_steps(plan: &Value) -> Vec<String> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["via"]["route"] == "patch")
        .map(|a| a["name"].as_str().unwrap_or("-").to_string())
        .collect()
}

/// Plans with --patch, applies the patch with git, plans again; returns
/// the patch text and the files before and after.
struct RoundTrip {
    patch: String,
    before: Vec<(PathBuf, Vec<u8>)>,
    after: Vec<(PathBuf, Vec<u8>)>,
    stdout: String,
    patched: Vec<String>,
}

fn round_trip(fixture: &str, extra: &[&str]) -> RoundTrip {
    let tmp = work_tree(fixture);
    let dir = tmp.path();
    let before = files(&dir.join("repo"));
    let mut args = vec![
        "plan",
        "repo",
        "--workspace",
        WS,
        "--out",
        "out",
        "--patch",
        "out/changes.patch",
    ];
    args.extend(extra);
    let r = run_in(dir, &args, &[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let first = plan_json(dir, extra);
    let patched = patch_steps(&first);
    assert!(!patched.is_empty(), "no patch steps: {}", r.stdout);
    let patch = std::fs::read_to_string(dir.join("out/changes.patch")).unwrap();
    assert!(!patch.is_empty(), "{}", r.transcript());
    let repo = dir.join("repo");
    let check = git(&repo, &["apply", "--check", "../out/changes.patch"]);
    assert!(
        check.status.success(),
        "git apply --check: {}\n{patch}",
        String::from_utf8_lossy(&check.stderr)
    );
    let apply = git(&repo, &["apply", "../out/changes.patch"]);
    assert!(apply.status.success(), "{apply:?}");
    let after = files(&repo);
    // Planned again: the patched steps are done.
    let again = plan_json(dir, extra);
    let left: Vec<String> = patch_steps(&again)
        .into_iter()
        .filter(|n| patched.contains(n))
        .collect();
    assert!(left.is_empty(), "still to patch after the patch: {left:?}");
    // --write gives the same files.
    let w = work_tree(fixture);
    let mut args = vec!["plan", "repo", "--workspace", WS, "--write"];
    args.extend(extra);
    let r2 = run_in(w.path(), &args, &[]);
    assert_eq!(r2.code, 0, "{}", r2.transcript());
    assert_eq!(
        files(&w.path().join("repo")),
        after,
        "--write differs from the patch"
    );
    RoundTrip {
        patch,
        before,
        after,
        stdout: r.stdout,
        patched,
    }
}

fn text_of(files: &[(PathBuf, Vec<u8>)], name: &str) -> String {
    let (_, bytes) = files
        .iter()
        .find(|(p, _)| p == Path::new(name))
        .unwrap_or_else(|| panic!("{name} not found"));
    String::from_utf8(bytes.clone()).unwrap()
}

/// The snapshot shows carriage returns, which a text snapshot would lose.
fn shown(patch: &str) -> String {
    patch.replace('\r', "\\r")
}

#[test]
fn multi_resource_template_two_spaces() {
    if !git_available() {
        return;
    }
    let t = round_trip("json-2space", &[]);
    let before = text_of(&t.before, "sentinel.json");
    let after = text_of(&t.after, "sentinel.json");
    // Exactly these edits, every other byte as it was: the two rules off
    // (the comment after the value kept), the nested grouping `enabled`
    // untouched, the legacy connector (and its comment) gone.
    let start = before.find("    // The legacy").unwrap();
    let end = before.find("    {\n      \"type\": \"Microsoft.OperationalInsights/workspaces/providers/alertRules\"").unwrap();
    let mut expected = format!("{}{}", &before[..start], &before[end..]);
    expected = expected.replacen(
        "\"enabled\": true, // on since 2021",
        "\"enabled\": false, // on since 2021",
        1,
    );
    expected = expected.replacen(
        "        },\n        \"enabled\": true\n",
        "        },\n        \"enabled\": false\n",
        1,
    );
    assert_eq!(after, expected);
    assert!(after.contains("\"enabled\": true,\n            \"reopenClosedIncident\""));
    assert!(
        t.stdout.contains("via:    patch repo/sentinel.json:"),
        "{}",
        t.stdout
    );
    assert!(t.stdout.contains("via:    manual"), "{}", t.stdout);
    // Taking the connector out of the template leaves it connected in Azure.
    assert!(
        t.stdout
            .contains("does not disconnect it in Azure (an incremental deployment"),
        "{}",
        t.stdout
    );
    assert!(
        t.stdout
            .contains("Wrote out/changes.patch (3 step(s) in 1 file)."),
        "{}",
        t.stdout
    );
    let mut names = t.patched.clone();
    names.sort();
    assert_eq!(names, ["legacy-asc-prod", "msic-dfc", "sched-dfc-kv"]);
    insta::assert_snapshot!("json_2space", shown(&t.patch));
}

#[test]
fn four_spaces_crlf_without_final_newline_inserts_in_style() {
    if !git_available() {
        return;
    }
    let t = round_trip("json-4space-crlf", &["--scheduled-rules", "stop-incidents"]);
    let before = text_of(&t.before, "rules.json");
    let after = text_of(&t.after, "rules.json");
    let expected = before
        .replacen(
            "                \"enabled\": true\r\n            }",
            "                \"enabled\": true,\r\n                \"incidentConfiguration\": {\"createIncident\":false}\r\n            }",
            1,
        )
        .replacen("\"createIncident\": true", "\"createIncident\": false", 1);
    assert_eq!(after, expected);
    assert!(!after.ends_with('\n'));
    assert!(t.patch.contains("\\ No newline at end of file") || !t.patch.contains("-}"));
    insta::assert_snapshot!("json_4space_crlf", shown(&t.patch));
}

#[test]
fn parameter_pinned_by_a_parameters_file_is_patched_there() {
    if !git_available() {
        return;
    }
    let t = round_trip("template-parameters", &[]);
    // The template keeps its expression; the parameters file (with its
    // byte-order mark) gives the new value.
    assert_eq!(
        text_of(&t.before, "msic.json"),
        text_of(&t.after, "msic.json")
    );
    let before = text_of(&t.before, "msic.parameters.json");
    let after = text_of(&t.after, "msic.parameters.json");
    assert!(after.starts_with('\u{feff}'));
    assert_eq!(
        after,
        before.replacen(
            "\"ruleEnabled\": {\n      \"value\": true",
            "\"ruleEnabled\": {\n      \"value\": false",
            1
        )
    );
    assert!(
        t.stdout
            .contains("(the value of the parameter `ruleEnabled`)"),
        "{}",
        t.stdout
    );
    insta::assert_snapshot!("template_parameters", shown(&t.patch));
}

#[test]
fn yaml_with_comments_documents_and_pascal_case() {
    if !git_available() {
        return;
    }
    let t = round_trip("yaml-styles", &[]);
    let kv = text_of(&t.before, "keyvault.yaml");
    assert_eq!(
        text_of(&t.after, "keyvault.yaml"),
        kv.replacen("enabled: true # on", "enabled: false # on", 1),
        "the top-level key only: the comment kept, the nested grouping and the description untouched"
    );
    let storage = text_of(&t.before, "storage.yaml");
    assert_eq!(
        text_of(&t.after, "storage.yaml"),
        storage.replacen("kind: Scheduled\n", "kind: Scheduled\nenabled: false\n", 1),
        "added after the document's last key, before the trailing comment"
    );
    let pascal = text_of(&t.before, "pascal-msic.yaml");
    assert_eq!(
        text_of(&t.after, "pascal-msic.yaml"),
        pascal.replacen("Enabled: true\r\n", "Enabled: false\r\n", 1)
    );
    insta::assert_snapshot!("yaml_styles", shown(&t.patch));
}

#[test]
fn stop_incidents_in_yaml_edits_the_nested_key_only() {
    if !git_available() {
        return;
    }
    let t = round_trip("yaml-styles", &["--scheduled-rules", "stop-incidents"]);
    let kv = text_of(&t.before, "keyvault.yaml");
    assert_eq!(
        text_of(&t.after, "keyvault.yaml"),
        kv.replacen("  createIncident: true\n", "  createIncident: false\n", 1)
    );
    let storage = text_of(&t.before, "storage.yaml");
    assert_eq!(
        text_of(&t.after, "storage.yaml"),
        storage.replacen(
            "kind: Scheduled\n",
            "kind: Scheduled\nincidentConfiguration:\n  createIncident: false\n",
            1
        )
    );
}

#[test]
fn api_exports_stay_in_apply_sh_and_an_empty_patch_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("p.patch");
    for scenario in ["already-migrated", "bare-array-and-single"] {
        let r = run_in(
            &root(),
            &[
                "plan",
                &format!("tests/fixtures/scenarios/{scenario}"),
                "--patch",
                &out.display().to_string(),
                "--write",
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{}", r.transcript());
        assert_eq!(std::fs::read(&out).unwrap(), b"", "{scenario}");
        assert!(r.stdout.contains("empty: nothing to patch"), "{}", r.stdout);
        assert!(
            r.stdout
                .contains("--write: nothing to patch; no file changed."),
            "{}",
            r.stdout
        );
        assert!(!r.stdout.contains("via:    patch"), "{}", r.stdout);
    }
    let r = run_in(
        &root(),
        &["plan", "tests/fixtures/scenarios/bare-array-and-single"],
        &[],
    );
    assert!(
        r.stdout
            .contains("via:    apply (sentinel-migrate apply, or apply.sh)"),
        "{}",
        r.stdout
    );
}

#[test]
fn hostile_file_names_are_quoted_as_git_does() {
    if !git_available() {
        return;
    }
    let tmp = work_tree("yaml-styles");
    let repo = tmp.path().join("repo");
    let kv = std::fs::read_to_string(repo.join("keyvault.yaml")).unwrap();
    std::fs::remove_file(repo.join("storage.yaml")).unwrap();
    std::fs::remove_file(repo.join("pascal-msic.yaml")).unwrap();
    std::fs::rename(repo.join("keyvault.yaml"), repo.join("with space.yaml")).unwrap();
    let names = ["quo\"te.yaml", "new\nline.yaml", "caf\u{e9}.yaml"];
    for (i, n) in names.iter().enumerate() {
        let other = kv.replacen("5e604ec9", &format!("5e604ec{i}"), 1);
        std::fs::write(repo.join(n), other).unwrap();
    }
    let r = run_in(
        tmp.path(),
        &["plan", "repo", "--workspace", WS, "--patch", "p.patch"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.transcript());
    let patch = std::fs::read_to_string(tmp.path().join("p.patch")).unwrap();
    assert!(
        patch.contains("diff --git a/with space.yaml b/with space.yaml\n"),
        "{patch}"
    );
    assert!(patch.contains("\"a/quo\\\"te.yaml\""), "{patch}");
    assert!(patch.contains("\"a/new\\nline.yaml\""), "{patch}");
    assert!(patch.contains("\"a/caf\\303\\251.yaml\""), "{patch}");
    let apply = git(&repo, &["apply", "../p.patch"]);
    assert!(apply.status.success(), "{apply:?}\n{patch}");
    for n in names.iter().chain(&["with space.yaml"]) {
        let text = std::fs::read_to_string(repo.join(n)).unwrap();
        assert!(text.contains("enabled: false # on"), "{n}: {text}");
    }
}

#[cfg(unix)]
#[test]
fn write_edits_a_link_target_inside_and_keeps_the_link() {
    let tmp = work_tree("yaml-styles");
    let repo = tmp.path().join("repo");
    std::fs::remove_file(repo.join("storage.yaml")).unwrap();
    std::fs::remove_file(repo.join("pascal-msic.yaml")).unwrap();
    std::fs::create_dir(repo.join("real")).unwrap();
    std::fs::rename(repo.join("keyvault.yaml"), repo.join("real/keyvault.yaml")).unwrap();
    std::os::unix::fs::symlink("real/keyvault.yaml", repo.join("alias.yaml")).unwrap();
    let r = run_in(
        tmp.path(),
        &[
            "plan",
            "repo/alias.yaml",
            "repo/real",
            "--workspace",
            WS,
            "--write",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(
        std::fs::symlink_metadata(repo.join("alias.yaml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(repo.join("real/keyvault.yaml")).unwrap();
    assert!(text.contains("enabled: false # on"), "{text}");
}

#[test]
fn an_expression_no_parameters_file_gives_is_left_for_a_person() {
    let tmp = work_tree("template-parameters");
    let repo = tmp.path().join("repo");
    // The value now comes from a variable: an expression a patch never rewrites.
    let t = std::fs::read_to_string(repo.join("msic.json")).unwrap();
    let t = t
        .replace("\"[parameters('ruleEnabled')]\"", "\"[variables('on')]\"")
        .replace(
            "\"resources\"",
            "\"variables\": { \"on\": true },\n  \"resources\"",
        );
    std::fs::write(repo.join("msic.json"), t).unwrap();
    let plan = plan_json(tmp.path(), &[]);
    let a = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "msic-dfc-param")
        .expect("the rule is planned");
    assert_eq!(a["via"]["route"], "manual", "{a}");
    assert!(
        a["via"]["note"]
            .as_str()
            .unwrap()
            .contains("never rewrites an expression"),
        "{a}"
    );
}

#[test]
fn a_parameter_other_values_share_is_left_for_a_person() {
    let tmp = work_tree("template-parameters");
    let repo = tmp.path().join("repo");
    // A second rule, which the plan leaves alone, is on through the same parameter.
    let t = std::fs::read_to_string(repo.join("msic.json")).unwrap();
    let other = r#"{
      "type": "Microsoft.OperationalInsights/workspaces/providers/alertRules",
      "apiVersion": "2023-02-01",
      "name": "[concat(parameters('workspace'), '/Microsoft.SecurityInsights/', 'msic-mcas')]",
      "kind": "MicrosoftSecurityIncidentCreation",
      "properties": {
        "displayName": "Defender for Cloud Apps incidents",
        "enabled": "[parameters('ruleEnabled')]",
        "productFilter": "Microsoft Cloud App Security"
      }
    },
    {"#;
    let t = t.replacen(
        "  \"resources\": [\n    {",
        &format!("  \"resources\": [\n    {other}"),
        1,
    );
    std::fs::write(repo.join("msic.json"), t).unwrap();
    let plan = plan_json(tmp.path(), &[]);
    let a = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "msic-dfc-param")
        .expect("the rule is planned");
    assert_eq!(a["via"]["route"], "manual", "{a}");
    let note = a["via"]["note"].as_str().unwrap();
    assert!(
        note.contains("`properties.enabled` of `msic-mcas`"),
        "{note}"
    );
    // --explain takes the same path as the plan.
    let r = run_in(
        tmp.path(),
        &[
            "plan",
            "repo",
            "--workspace",
            WS,
            "--explain",
            "msic-dfc-param",
            "--format",
            "json",
        ],
        &[],
    );
    let e: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(e["rules"][0]["action"]["via"], a["via"]);
}

#[cfg(unix)]
#[test]
fn a_link_out_of_its_folder_is_never_written_through() {
    let tmp = work_tree("yaml-styles");
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let repo = tmp.path().join("repo");
    std::fs::rename(repo.join("keyvault.yaml"), outside.join("keyvault.yaml")).unwrap();
    std::os::unix::fs::symlink("../outside/keyvault.yaml", repo.join("kv.yaml")).unwrap();
    let before = std::fs::read(outside.join("keyvault.yaml")).unwrap();
    let r = run_in(
        tmp.path(),
        &["plan", "repo/kv.yaml", "--workspace", WS, "--write"],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(
        r.stderr.contains("outside the inputs given"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read(outside.join("keyvault.yaml")).unwrap(),
        before
    );
    // Through the folder, the readers skip the link: nothing to patch there.
    let r = run_in(
        tmp.path(),
        &["plan", "repo", "--workspace", WS, "--write"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert_eq!(
        std::fs::read(outside.join("keyvault.yaml")).unwrap(),
        before
    );
}
