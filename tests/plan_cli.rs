//! The `plan` and `show` commands, end to end through the real binary:
//! snapshots of what users and reviewers read, for the bundled example and
//! every scenario under tests/fixtures/scenarios.

mod common;

use common::{read, run};

const SUB: &str = "/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg-sec/providers/Microsoft.OperationalInsights/workspaces";

/// Plans `inputs` with `extra` flags into a temp dir and snapshots the
/// transcript and every artifact under `name`.
fn snapshot_plan(name: &str, inputs: &[&str], extra: &[&str]) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let out_s = out.path().to_str().unwrap().to_string();
    let mut args = vec!["plan", "--out", &out_s];
    args.extend_from_slice(inputs);
    args.extend_from_slice(extra);
    let r = run(&args);
    insta::assert_snapshot!(
        format!("{name}__summary"),
        r.transcript().replace(&out_s, "<out>")
    );
    assert_eq!(r.code, 0, "{}", r.transcript());
    for file in ["plan.json", "changes.diff", "apply.sh", "rollback.sh"] {
        insta::assert_snapshot!(format!("{name}__{file}"), read(out.path(), file));
    }
    out
}

#[test]
fn example_contoso() {
    snapshot_plan("contoso", &["examples/contoso"], &[]);
}

#[test]
fn example_contoso_opt_out() {
    let r = run(&["plan", "examples/contoso", "--mode", "opt-out"]);
    insta::assert_snapshot!("contoso_opt_out__summary", r.transcript());
}

#[test]
fn example_contoso_stop_incidents() {
    let out = tempfile::tempdir().unwrap();
    let r = run(&[
        "plan",
        "examples/contoso",
        "--scheduled-rules",
        "stop-incidents",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0);
    insta::assert_snapshot!(
        "contoso_stop_incidents__changes.diff",
        read(out.path(), "changes.diff")
    );
    let r = run(&["plan", "examples/contoso", "--scheduled-rules", "review"]);
    assert!(
        r.stdout.contains("(--scheduled-rules review)"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("MIG102"), "{}", r.stdout);
}

const LAW_PROD: &str = "/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg-prod/providers/Microsoft.OperationalInsights/workspaces/law-prod";

/// Two workspaces of one tenant, both with a Defender XDR connector: the
/// plan refuses to pick the primary, names both and the flag that settles it.
#[test]
fn an_ambiguous_primary_is_an_error_naming_the_flag() {
    let r = run(&["plan", "tests/fixtures/scenarios/multi-workspace"]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    for text in [
        "law-prod",
        "law-dev",
        "--primary-workspace <ARM id>",
        "0f3c9a2e-7b1d-4c5e-a8f6-3d2e1b0c9a87",
    ] {
        assert!(r.stderr.contains(text), "{text}: {}", r.stderr);
    }
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let r = run(&[
        "plan",
        "tests/fixtures/scenarios/multi-workspace",
        "--primary-workspace",
        LAW_PROD,
    ]);
    assert_eq!(r.code, 0, "{}", r.transcript());
}

#[test]
fn scenarios() {
    let ws = |name: &str| format!("{SUB}/{name}");
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("already-migrated", vec![]),
        ("no-xdr-tenant-known", vec![]),
        ("no-xdr-no-tenant", vec![]),
        (
            "portal-template",
            vec!["--workspace".into(), ws("law-portal")],
        ),
        (
            "template-with-parameters",
            vec!["--workspace".into(), ws("law-templates")],
        ),
        (
            "detections-yaml",
            vec!["--workspace".into(), ws("law-detections")],
        ),
        (
            "multi-workspace",
            vec!["--primary-workspace".into(), LAW_PROD.into()],
        ),
        (
            "bare-array-and-single",
            vec!["--workspace".into(), ws("law-bare")],
        ),
        (
            "two-tenant-fleet",
            vec![
                "--settings".into(),
                "tests/fixtures/scenarios/two-tenant-fleet/settings.json".into(),
            ],
        ),
        ("hostile-names", vec![]),
        ("hostile-controls", vec![]),
        ("case-variants", vec![]),
        ("encodings", vec!["--workspace".into(), ws("law-enc")]),
        ("solution-missing", vec![]),
        ("solution-old", vec![]),
        ("solution-current", vec![]),
        ("solution-odd-version", vec![]),
    ];
    for (name, extra) in cases {
        let dir = format!("tests/fixtures/scenarios/{name}");
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        snapshot_plan(name, &[&dir], &extra);
    }
}

/// What really changes for automation: over-matching provider conditions
/// first (MIG405), then descriptions, updated-by values, Informational
/// severities and playbooks (MIG401), through every condition type; rules
/// limited to other products are left alone.
#[test]
fn automation_changes_are_said_plainly() {
    let dir = "tests/fixtures/scenarios/automation-changes";
    snapshot_plan("automation-changes", &[dir], &[]);
    let r = run(&["plan", dir]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let at = |code: &str| r.stdout.find(code).unwrap_or(usize::MAX);
    assert!(
        at("MIG405") < at("MIG101") && at("MIG405") < at("MIG401"),
        "MIG405 is not listed first: {}",
        r.stdout
    );
    for twin in [
        "Close Cloud App Security noise",
        "Assign Identity Protection incidents",
        "Raise high incidents",
        "High severity Defender for Cloud alerts",
    ] {
        assert!(!r.stdout.contains(twin), "{twin} flagged: {}", r.stdout);
    }
    for text in [
        "automationRules.json:19:33",
        "conditions/0/conditionProperties/innerConditions/1/conditionProperties/propertyName",
        "IncidentDescription condition",
        "IncidentUpdatedBySource condition",
        "relate alerts to Defender XDR incidents",
        "will not come back from Defender XDR",
        "goes silent",
    ] {
        assert!(r.stdout.contains(text), "{text}: {}", r.stdout);
    }
}

#[test]
fn already_migrated_plans_nothing_and_exits_0_even_with_detailed_exitcode() {
    let r = run(&[
        "plan",
        "tests/fixtures/scenarios/already-migrated",
        "--detailed-exitcode",
    ]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(r.stdout.contains("Plan: no changes."), "{}", r.stdout);
}

#[test]
fn detailed_exitcode_is_2_with_changes_and_json_is_the_plan() {
    let out = tempfile::tempdir().unwrap();
    let r = run(&[
        "plan",
        "examples/contoso",
        "--format",
        "json",
        "--detailed-exitcode",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stdout, read(out.path(), "plan.json"));
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(plan["format_version"], "1");
    let first = &plan["actions"][0];
    for key in [
        "id",
        "workspace",
        "phase",
        "operation",
        "resource_type",
        "resource_id",
        "name",
        "kind",
        "display_name",
        "reason",
        "before",
        "after",
        "etag",
        "evidence",
    ] {
        assert!(first.get(key).is_some(), "action lacks {key}: {first}");
    }
    assert!(plan["inputs"][0]["sha256"].as_str().unwrap().len() == 64);
}

#[test]
fn output_is_byte_identical_across_runs() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for d in [&a, &b] {
        let r = run(&[
            "plan",
            "examples/contoso",
            "tests/fixtures/scenarios/multi-workspace",
            "--primary-workspace",
            LAW_PROD,
            "--out",
            d.path().to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    for f in ["plan.json", "changes.diff", "apply.sh", "rollback.sh"] {
        assert_eq!(
            read(a.path(), f),
            read(b.path(), f),
            "{f} differs between runs"
        );
    }
    // Input order does not matter either.
    let c = tempfile::tempdir().unwrap();
    let r = run(&[
        "plan",
        "tests/fixtures/scenarios/multi-workspace",
        "examples/contoso",
        "--primary-workspace",
        LAW_PROD,
        "--out",
        c.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0);
    assert_eq!(
        read(a.path(), "changes.diff"),
        read(c.path(), "changes.diff"),
        "the diff depends on the order of the inputs"
    );
}

#[test]
fn show_reads_a_saved_plan_back() {
    let out = tempfile::tempdir().unwrap();
    let p = run(&[
        "plan",
        "examples/contoso",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let plan_path = out.path().join("plan.json");
    let shown = run(&["show", plan_path.to_str().unwrap()]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    // `plan --out` adds where it wrote and what to run next.
    assert!(p.stdout.starts_with(&shown.stdout), "{}", p.stdout);
    let json = run(&["show", plan_path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(json.stdout, read(out.path(), "plan.json"));
    // A file that is not a plan is an error that says where.
    std::fs::write(&plan_path, "{\"format_version\": \"1\", \"actions\": 7}").unwrap();
    let bad = run(&["show", plan_path.to_str().unwrap()]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("plan.json:1:"), "{}", bad.stderr);
}

#[test]
fn no_colour_off_a_terminal() {
    // The binary's stdout is a pipe here: plain text, with or without the
    // flags. The choice itself (terminal, NO_COLOR, --no-color) is unit-tested
    // in app.rs.
    for extra in [&[][..], &["--no-color"][..]] {
        let mut args = vec!["plan", "examples/contoso"];
        args.extend_from_slice(extra);
        let r = run(&args);
        assert_eq!(r.code, 0);
        assert!(
            r.stdout.contains("Plan: 2 to create, 3 to disable"),
            "{}",
            r.stdout
        );
        assert!(!r.stdout.contains('\u{1b}'));
    }
}

#[test]
fn explain_prints_a_rule_with_its_evidence() {
    let r = run(&[
        "plan",
        "examples/contoso",
        "--explain",
        "High severity Defender for Cloud alert",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("explain_scheduled", r.transcript());
    let r = run(&["plan", "examples/contoso", "--explain", "no such rule"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no analytics rule"), "{}", r.stderr);
}

#[test]
fn usage_errors_are_clear() {
    let r = run(&["plan", "examples/contoso", "--workspace", "law-contoso"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("--workspace: `law-contoso` is not a workspace id"),
        "{}",
        r.stderr
    );
    let r = run(&[
        "plan",
        "examples/contoso",
        "--tenant-id",
        "contoso.onmicrosoft.com",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is not a tenant id"), "{}", r.stderr);
    let r = run(&["plan", "no/such/dir"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no/such/dir: no such file or directory"),
        "{}",
        r.stderr
    );
}

#[test]
fn tenant_id_flag_creates_the_xdr_connector() {
    let r = run(&[
        "plan",
        "tests/fixtures/scenarios/no-xdr-no-tenant",
        "--tenant-id",
        "5E2B7C90-1D3A-4F6E-8B21-0C9D8E7F6A54",
        "--format",
        "json",
    ]);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let create = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["operation"] == "create")
        .expect("a create");
    assert_eq!(
        create["after"]["properties"]["tenantId"],
        "5e2b7c90-1d3a-4f6e-8b21-0c9d8e7f6a54"
    );
    assert_eq!(
        create["after"]["properties"]["dataTypes"]["incidents"]["state"],
        "Enabled"
    );
    assert_eq!(create["reason"]["code"], "MIG002");
}

/// Compares a generated page with the committed one; `UPDATE_DOCS=1`
/// rewrites it.
fn doc_in_sync(path: &str, generated: &str) {
    let full = common::root().join(path);
    if std::env::var("UPDATE_DOCS").as_deref() == Ok("1") {
        std::fs::write(&full, generated).unwrap();
    }
    let doc = std::fs::read_to_string(&full).unwrap_or_default();
    assert!(
        doc == generated,
        "{path} is out of date: run `UPDATE_DOCS=1 cargo test --test plan_cli docs`"
    );
}

#[test]
fn docs_rules_reference_is_in_sync() {
    let r = run(&["rules"]);
    assert_eq!(r.code, 0);
    doc_in_sync("docs/rules.md", &r.stdout);
}

#[test]
fn docs_cli_reference_is_in_sync() {
    let mut page = String::from(
        "# Command line\n\nGenerated from `sentinel-migrate --help`; a test fails when it drifts.\n",
    );
    for cmd in [
        vec![],
        vec!["plan"],
        vec!["show"],
        vec!["rules"],
        vec!["export"],
        vec!["apply"],
        vec!["verify"],
        vec!["rollback"],
        vec!["rehearse"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let r = run(&args);
        assert_eq!(r.code, 0);
        page.push_str(&format!(
            "\n## sentinel-migrate {}\n\n```text\n{}```\n",
            cmd.join(" "),
            r.stdout
        ));
    }
    doc_in_sync("docs/cli.md", &page);
}

/// A template whose productFilter rests on a parameter's defaultValue:
/// plan makes it a review, and --explain, rendering the plan's own
/// decision, says review too (human and JSON).
#[test]
fn explain_is_the_plans_decision() {
    let dir = "tests/fixtures/scenarios/template-with-parameters";
    let rule = "Create incidents from high severity Microsoft security alerts";
    let r = run(&["plan", dir, "--explain", rule]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(r.stdout.contains("verdict: review:"), "{}", r.stdout);
    insta::assert_snapshot!("explain_template_default", r.transcript());

    let r = run(&["plan", dir, "--explain", rule, "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    insta::assert_snapshot!("explain_template_default_json", r.stdout);
    let explained: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(explained["format_version"], "1");
    assert_eq!(explained["rules"][0]["verdict"], "review");

    // The very action the plan holds for the rule, byte for byte.
    let r = run(&["plan", dir, "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let in_plan = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["display_name"] == rule)
        .unwrap();
    assert_eq!(in_plan["operation"], "review");
    assert_eq!(&explained["rules"][0]["action"], in_plan);
}

#[test]
fn nothing_to_plan_is_an_error_unless_allowed() {
    let plan_in = |dir: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["plan", "."];
        args.extend_from_slice(extra);
        common::run_in(dir, &args, &[])
    };
    let expected = "expected: data connectors, analytics rules or automation rules";
    // An empty folder.
    let d = tempfile::tempdir().unwrap();
    let r = plan_in(d.path(), &[]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    for s in [
        "error: no Sentinel resources in the inputs (.): nothing to plan",
        "read no export files",
        expected,
        "hint: check the paths given; to plan an empty workspace on purpose, pass --allow-empty",
    ] {
        assert!(r.stderr.contains(s), "{s} in {}", r.stderr);
    }
    // A list of nothing, and a README.
    std::fs::write(d.path().join("export.json"), "{\"value\": []}").unwrap();
    std::fs::write(d.path().join("README.md"), "# Exports\n").unwrap();
    let r = plan_in(d.path(), &[]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    for s in [
        "read 1 file: ./export.json (arm-list, no resources)",
        "skipped 1: ./README.md: neither JSON nor Sentinel YAML",
        expected,
    ] {
        assert!(r.stderr.contains(s), "{s} in {}", r.stderr);
    }
    let r = plan_in(d.path(), &["--explain", "x"]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(r.stderr.contains("nothing to plan"), "{}", r.stderr);
    // Whoever means it says so.
    let r = plan_in(d.path(), &["--allow-empty", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert!(
        r.stdout
            .contains("Plan: no changes: the inputs hold no Sentinel resources (--allow-empty)."),
        "{}",
        r.stdout
    );
}

#[test]
fn resource_types_not_read_are_noted_in_the_plan() {
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(
        "tests/fixtures/scenarios/no-xdr-no-tenant/alertRules.json",
        d.path().join("rules.json"),
    )
    .unwrap();
    let plan_json = |dir: &std::path::Path| {
        let r = common::run_in(dir, &["plan", ".", "--format", "json"], &[]);
        assert_eq!(r.code, 0, "{}", r.transcript());
        serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()
    };
    let p = plan_json(d.path());
    let ws = &p["workspaces"][0];
    assert_eq!(
        ws["not_read"],
        serde_json::json!(["dataConnectors", "automationRules"])
    );
    let notes = ws["notes"].to_string();
    assert!(
        notes.contains("no data connectors were read: legacy connectors cannot be planned and the Defender XDR connector's state is unknown"),
        "{notes}"
    );
    assert!(notes.contains("no automation rules were read"), "{notes}");
    let r = common::run_in(d.path(), &["plan", "."], &[]);
    assert!(
        r.stdout.contains("    - no data connectors were read"),
        "{}",
        r.stdout
    );

    // An empty list named for its type, as `export` writes it beside the
    // others: read, none present; not "not read".
    std::fs::write(d.path().join("dataConnectors.json"), "{\"value\": []}\n").unwrap();
    // One in a folder of its own says nothing about which workspace it lists.
    std::fs::create_dir(d.path().join("other")).unwrap();
    std::fs::write(
        d.path().join("other/automationRules.json"),
        "{\"value\": []}\n",
    )
    .unwrap();
    let p = plan_json(d.path());
    assert_eq!(
        p["workspaces"][0]["not_read"],
        serde_json::json!(["automationRules"])
    );
    assert!(
        !p["workspaces"][0]["notes"]
            .to_string()
            .contains("no data connectors were read"),
        "{}",
        p["workspaces"][0]["notes"]
    );
}

/// Template parameters, twinned: the same templates planned with their
/// parameters files (the decision is made on the values given, and the
/// evidence points into the parameters file where they sit) and without
/// (every decided-on property resting on a parameter is an unknown: a
/// review naming the parameter, never a value read as a literal).
#[test]
fn template_parameters_decide_only_when_given() {
    let dir = "tests/fixtures/scenarios/template-parameters";
    let ws = format!("{SUB}/law-params");
    let templates: Vec<String> = {
        let mut t: Vec<String> = std::fs::read_dir(common::root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".json") && !n.ends_with(".parameters.json"))
            .map(|n| format!("{dir}/{n}"))
            .collect();
        t.sort();
        t
    };
    let plan_json = |inputs: &[&str]| -> serde_json::Value {
        let mut args = vec!["plan", "--workspace", &ws, "--format", "json"];
        args.extend_from_slice(inputs);
        let r = run(&args);
        assert_eq!(r.code, 0, "{}", r.transcript());
        serde_json::from_str(&r.stdout).unwrap()
    };
    let by_name =
        |plan: &serde_json::Value| -> std::collections::BTreeMap<String, serde_json::Value> {
            plan["actions"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["resource_type"] == "alertRules")
                .map(|a| (a["display_name"].as_str().unwrap().to_string(), a.clone()))
                .collect()
        };

    // With the parameters files: decided on the values they give.
    snapshot_plan("template-parameters", &[dir], &["--workspace", &ws]);
    let pinned = by_name(&plan_json(&[dir]));
    for (rule, operation, evidence_in) in [
        (
            "Query from a parameter",
            "update",
            Some("query-parameter.parameters.json"),
        ),
        (
            "Query from a variable",
            "update",
            Some("query-variable.parameters.json"),
        ),
        (
            "Query formatted",
            "update",
            Some("query-format.parameters.json"),
        ),
        ("Query concatenated", "update", None),
        (
            "Query from an object parameter",
            "update",
            Some("query-object-parameter.parameters.json"),
        ),
        ("Alert names from a parameter", "update", None),
        ("incidentConfiguration from a parameter", "update", None),
        (
            "Incidents from a product parameter",
            "update",
            Some("msic-product-parameter.parameters.json"),
        ),
        ("Severities from a parameter", "update", None),
        ("Enabled from a parameter", "update", None),
        ("Kind from a parameter", "update", None),
        // A Key Vault reference is known only at deployment.
        ("Product from a Key Vault reference", "review", None),
    ] {
        let a = pinned
            .get(rule)
            .unwrap_or_else(|| panic!("no action for {rule}"));
        assert_eq!(a["operation"], operation, "{rule}: {a}");
        if let Some(file) = evidence_in {
            let first = &a["evidence"][0]["source"]["path"];
            assert_eq!(*first, format!("{dir}/{file}"), "{rule}: {a}");
        }
    }
    // createIncident given as false, or a rule turned off: it creates no
    // incidents, nothing to do.
    assert!(!pinned.contains_key("createIncident from a parameter"));
    assert!(!pinned.contains_key("Turned off, product from a parameter"));
    // Each query evidence item sits where its text is: in the parameters
    // file's string, or in a literal of the template's expression.
    for rule in [
        "Query from a parameter",
        "Query from a variable",
        "Query formatted",
        "Query concatenated",
        "Query from an object parameter",
    ] {
        for e in pinned[rule]["evidence"].as_array().unwrap() {
            let path = e["source"]["path"].as_str().unwrap();
            let line = e["source"]["line"].as_u64().unwrap() as usize;
            let column = e["source"]["column"].as_u64().unwrap() as usize;
            let text = std::fs::read_to_string(common::root().join(path)).unwrap();
            let at: String = text
                .lines()
                .nth(line - 1)
                .unwrap()
                .chars()
                .skip(column - 1)
                .collect();
            let word = e["text"]
                .as_str()
                .unwrap()
                .split([' ', '('])
                .next()
                .unwrap();
            assert!(at.starts_with(word), "{rule}: {e}: `{at}`");
        }
    }

    // Without them: the same templates, every rule a review naming what it
    // rests on.
    let inputs: Vec<&str> = templates.iter().map(String::as_str).collect();
    let mut args = vec!["plan", "--workspace", &ws];
    args.extend_from_slice(&inputs);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.transcript());
    insta::assert_snapshot!("template-parameters-unfixed__summary", r.transcript());
    let unfixed = by_name(&plan_json(&inputs));
    for (rule, names) in [
        ("Query from a parameter", "`query`"),
        ("Query from a variable", "`ruleQuery`"),
        ("Query formatted", "`filter`"),
        ("Query concatenated", "`product`"),
        ("Query from an object parameter", "`rule`"),
        ("Alert names from a parameter", "`alertName`"),
        ("incidentConfiguration from a parameter", "`incidents`"),
        ("Incidents from a product parameter", "`productFilter`"),
        ("Severities from a parameter", "`severities`"),
        ("Enabled from a parameter", "`ruleEnabled`"),
        ("Kind from a parameter", "`ruleKind`"),
        ("Product from a Key Vault reference", "`productFilter`"),
        ("createIncident from a parameter", "`createIncident`"),
    ] {
        let a = unfixed
            .get(rule)
            .unwrap_or_else(|| panic!("no action for {rule}"));
        assert_eq!(a["operation"], "review", "{rule}: {a}");
        let message = a["reason"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{rule}: {message}");
    }
    // Turned off in the template itself: no incidents whatever the product.
    assert!(!unfixed.contains_key("Turned off, product from a parameter"));
    assert_eq!(unfixed.len(), 13);
}

/// A link left at an artifact's temporary name (planted, or by a run
/// killed mid-way) is replaced, never written through: what it points at
/// is untouched, and the artifacts are written.
#[cfg(unix)]
#[test]
fn a_link_at_an_artifacts_temporary_name_is_not_written_through() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let victim = t.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    for name in ["plan.json", "apply.sh", "report.html"] {
        std::os::unix::fs::symlink(&victim, out.join(format!(".{name}.tmp"))).unwrap();
    }
    let r = run(&["plan", "examples/contoso", "--out", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    let plan = std::fs::read_to_string(out.join("plan.json")).unwrap();
    assert!(plan.starts_with('{'), "{plan}");
    assert!(
        !std::fs::symlink_metadata(out.join("plan.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
