//! Planning the root of a Sentinel as-code repository, as it is: docs,
//! badges, front matter, scripts, workflows, a Content Hub package and the
//! exports in a subfolder. The plan is the exports' plan; every other file
//! is skipped with a one-line reason.

mod common;

use common::{read, run_in};

fn plan(dir: &std::path::Path, input: &str) -> (common::Run, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let r = run_in(
        dir,
        &["plan", input, "--out", out.path().to_str().unwrap()],
        &[],
    );
    let shown = r
        .transcript()
        .replace(out.path().to_str().unwrap(), "<out>");
    assert_eq!(r.code, 0, "{shown}");
    (r, out)
}

#[test]
fn a_repository_root_plans_as_its_exports() {
    let dir = common::root().join("tests/fixtures/scenarios/repo-root");
    let (root, root_out) = plan(&dir, ".");
    let (_, exports_out) = plan(&dir, "./exports");

    // The same plan: the same inputs, workspaces and actions; only the
    // skipped files differ.
    let json = |out: &tempfile::TempDir| {
        let mut v: serde_json::Value =
            serde_json::from_str(&read(out.path(), "plan.json")).unwrap();
        v["skipped"] = serde_json::Value::Null;
        v
    };
    assert_eq!(json(&root_out), json(&exports_out));
    for file in ["changes.diff", "rollback.sh"] {
        assert_eq!(
            read(root_out.path(), file),
            read(exports_out.path(), file),
            "{file}"
        );
    }

    // Every other file is skipped, each with its reason.
    for (file, reason) in [
        (
            "./README.md",
            "neither JSON nor Sentinel YAML (invalid JSON",
        ),
        (
            "./CONTRIBUTING.md",
            "neither JSON nor Sentinel YAML (invalid YAML",
        ),
        (
            "./docs/rule-format.md",
            "neither JSON nor Sentinel YAML (invalid YAML",
        ),
        ("./package.json", "JSON with no Sentinel resources in it"),
        (
            "./scripts/Deploy-Rules.ps1",
            "neither JSON nor Sentinel YAML",
        ),
        ("./scripts/validate.js", "neither JSON nor Sentinel YAML"),
        (
            "./Parsers/ContosoCloudActivity.yaml",
            "YAML without the fields of an analytics rule",
        ),
        (
            "./Playbooks/Close-Informational/azuredeploy.json",
            "an ARM template with no Sentinel resources (1 Microsoft.Logic/workflows, 1 Microsoft.Web/connections)",
        ),
        (
            "./Playbooks/Close-Informational/azuredeploy.parameters.json",
            "the parameters of azuredeploy.json beside it, which is skipped: not used",
        ),
        ("./Workbooks/ContosoCloudAlerts.json", "a workbook"),
        (
            "./Solutions/Contoso Cloud/Package/mainTemplate.json",
            "a Content Hub package (content templates of a solution) holding 2 analytics rule templates: templates are not live rules",
        ),
        (
            "./Solutions/Contoso Cloud/Package/createUiDefinition.json",
            "JSON with no Sentinel resources in it",
        ),
        (
            "./Solutions/Contoso Cloud/Data/Solution_ContosoCloud.json",
            "JSON with no Sentinel resources in it",
        ),
        (
            "./Solutions/Contoso Cloud/Hunting Queries/RareStorageOperations.yaml",
            "a hunting query",
        ),
    ] {
        let note = format!("  {file}: {reason}");
        assert!(
            root.stdout.lines().any(|l| l.starts_with(&note)),
            "{note} in\n{}",
            root.stdout
        );
    }
    // Folders whose names start with a dot (.github) are not read.
    assert!(!root.stdout.contains(".github"), "{}", root.stdout);
    insta::assert_snapshot!(
        "summary",
        root.transcript()
            .replace(root_out.path().to_str().unwrap(), "<out>")
    );
}
