//! The fast path of the JSON reader (strict JSON indexed in one pass) and
//! the exact path (`jsonc-parser`) give the same values at the same
//! positions; files with comments, and every error, take the exact path;
//! and reading on several threads changes nothing in the artifacts.

mod common;

use proptest::prelude::*;
use sentinel_migrate::source::json::{Doc, Node};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Walks two trees of the same text side by side: every node has the same
/// type, position, string, keys, raw span and value.
fn same(fast: &Node, exact: &Node, at: &str) {
    assert_eq!(fast.type_name(), exact.type_name(), "type at {at}");
    assert_eq!(fast.line_col(), exact.line_col(), "position of {at}");
    assert_eq!(fast.as_str(), exact.as_str(), "string at {at}");
    assert_eq!(fast.as_bool(), exact.as_bool(), "boolean at {at}");
    assert_eq!(fast.is_null(), exact.is_null(), "null at {at}");
    assert_eq!(fast.text_span(), exact.text_span(), "span of {at}");
    assert_eq!(fast.keys(), exact.keys(), "keys of {at}");
    if let (Some(f), Some(e)) = (fast.elements(), exact.elements()) {
        assert_eq!(f.len(), e.len(), "length of {at}");
        for (i, (f, e)) in f.iter().zip(&e).enumerate() {
            same(f, e, &format!("{at}/{i}"));
        }
    } else {
        assert!(exact.elements().is_none() && fast.elements().is_none());
    }
    for key in exact.keys() {
        let (f, e) = (fast.get(key).unwrap(), exact.get(key).unwrap());
        same(&f, &e, &format!("{at}/{key}"));
        let upper = key.to_ascii_uppercase();
        assert_eq!(
            fast.get_ci(&upper).map(|n| n.line_col()),
            exact.get_ci(&upper).map(|n| n.line_col()),
            "{at}/{upper}"
        );
    }
    assert!(fast.get("no such key, surely").is_none());
    assert_eq!(fast.to_value(), exact.to_value(), "value of {at}");
}

/// Whether the fast path took `text`, after checking it agrees with the exact one.
fn agree(text: &str) -> bool {
    let exact = Doc::parse_exact("t.json", text).expect("valid JSON");
    let fast = Doc::parse("t.json", text).expect("valid JSON");
    if !fast.is_fast() {
        return false;
    }
    same(&fast.root(), &exact.root(), "");
    assert!(!fast.fell_short());
    true
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            out.push(p);
        }
    }
}

#[test]
fn fast_and_exact_paths_agree_on_every_json_fixture() {
    let mut files = Vec::new();
    for dir in ["examples", "tests/fixtures"] {
        json_files(&common::root().join(dir), &mut files);
    }
    if let Some(shared) = common::shared() {
        json_files(&shared.join("fixtures"), &mut files);
    }
    let (mut fast, mut exact) = (0, 0);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let Ok((text, _)) = sentinel_migrate::source::text::decode("t.json", &bytes) else {
            continue;
        };
        if Doc::parse_exact("t.json", &text).is_err() {
            // Not JSON (or JSON with an error): the fast path must refuse it.
            assert!(
                Doc::parse("t.json", &text).map_or(true, |d| !d.is_fast()),
                "{}",
                f.display()
            );
            continue;
        }
        if agree(&text) { fast += 1 } else { exact += 1 }
    }
    assert!(
        fast > 50,
        "{fast} files took the fast path, {exact} the exact one"
    );
}

#[test]
fn comments_errors_and_odd_numbers_take_the_exact_path() {
    for text in [
        "{\"value\": [] // a comment\n}",
        "/* c */ {\"a\": 1}",
        "{\"a\": 1,}",
        "[1,]",
        "{\"a\" 1}",
        "{\"a\": 1e400}",
        "{\"a\": \"\\ud800\"}",
        "{\"a\": \"tab\there\"}",
        "\u{a0}{}",
    ] {
        let fast = Doc::parse("t.json", text).map(|d| d.is_fast());
        assert!(!matches!(fast, Ok(true)), "{text:?} took the fast path");
    }
    assert!(Doc::parse("t.json", &"[".repeat(200).to_string()).is_err());
}

/// A file with comments reads on the exact path, with every position exact:
/// where the resource starts, and where the evidence in its query is.
#[test]
fn a_file_with_comments_reads_with_exact_positions() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"// exported by hand
{
  /* the rules */ "value": [
    {
      "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/ws/providers/Microsoft.SecurityInsights/alertRules/r1",
      "name": "r1", "kind": "Scheduled", // inline
      "properties": {"displayName": "DfC", "enabled": true,
        "query": "SecurityAlert\n| where ProductName == \"Azure Security Center\"",
        "incidentConfiguration": {"createIncident": true}}
    }
  ]
}
"#;
    let path = dir.path().join("alertRules.json");
    std::fs::write(&path, text).unwrap();
    let inputs = sentinel_migrate::source::read(
        std::slice::from_ref(&path),
        &sentinel_migrate::source::ReadOptions::default(),
    )
    .unwrap();
    let r = &inputs.resources[0];
    assert_eq!((r.origin.line, r.origin.column), (4, 5));
    assert_eq!(
        r.place("enabled").line,
        7,
        "`enabled` sits on line 7: {:?}",
        r.place("enabled")
    );
    // `ProductName` is on line 2, column 9 of the query; in the file it is
    // after `"query": "SecurityAlert\n| where ` on line 8.
    let at = r.query_source(2, 9).unwrap();
    let line8 = text.lines().nth(7).unwrap();
    let column = line8.find("ProductName").unwrap() + 1;
    assert_eq!((at.line, at.column), (8, column));
}

// ---- generated JSON ----------------------------------------------------------

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e15f64..1e15).prop_map(|f| json!(f)),
        "[a-z\"\\\\/\n\t\u{0}-\u{1f}é漢🦀\u{2028}]{0,12}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_ é]{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Whitespace JSON allows, put between the tokens of a compact text.
fn spaced(compact: &str, ws: &[u8]) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut k = 0;
    for c in compact.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        if matches!(c, ',' | ':' | '[' | ']' | '{' | '}') {
            let w = [" ", "\n", "\t", "\r\n", "", "  "][usize::from(ws[k % ws.len()]) % 6];
            k += 1;
            out.push_str(w);
            out.push(c);
            out.push_str(w);
        } else {
            out.push(c);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn generated_json_reads_the_same_on_both_paths(
        v in value(),
        pretty in any::<bool>(),
        ws in prop::collection::vec(any::<u8>(), 1..8),
        ascii in any::<bool>(),
    ) {
        let mut text = if pretty {
            serde_json::to_string_pretty(&v).unwrap()
        } else {
            spaced(&serde_json::to_string(&v).unwrap(), &ws)
        };
        if ascii {
            // Every non-ASCII character written as an escape.
            text = text.chars().map(|c| if c.is_ascii() { c.to_string() } else {
                c.encode_utf16(&mut [0; 2]).iter().map(|u| format!("\\u{u:04x}")).collect()
            }).collect();
        }
        let fast = agree(&text);
        // Strict JSON within the fast path's limits always takes it.
        prop_assert!(fast, "{}", text);
    }
}

// ---- threads -----------------------------------------------------------------

/// `n` analytics rules of the workspace `ws`, as `az rest` lists them.
fn rules(ws: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let dfc = i % 3 == 0;
            let mut rule = json!({
                "id": format!("{ws}/providers/Microsoft.SecurityInsights/alertRules/rule-{i}"),
                "name": format!("rule-{i}"),
                "kind": if i % 5 == 0 { "MicrosoftSecurityIncidentCreation" } else { "Scheduled" },
                "etag": format!("\"e-{i}\""),
                "properties": {
                    "displayName": format!("Règle {i}"),
                    "enabled": true,
                    "productFilter": if dfc { "Azure Security Center" } else { "Office 365 Advanced Threat Protection" },
                    "query": if dfc { "SecurityAlert\n| where ProductName == \"Azure Security Center\"" } else { "SigninLogs\n| where ResultType != 0" },
                    "incidentConfiguration": {"createIncident": true}
                }
            });
            if i % 2 == 0 {
                // A property the planner does not read: the body kept as text.
                rule["properties"]["tactics"] = json!(["InitialAccess"]);
            }
            rule
        })
        .collect()
}

/// A workspace whose rules are one list of a few thousand: read in chunks
/// on several threads when threads are idle. Every 700th item is not a
/// Sentinel resource (skipped, in several chunks).
fn big_workspace(dir: &Path) -> PathBuf {
    let ws = "/subscriptions/00000000-0000-4000-8000-000000000077/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law-big";
    let mut list = rules(ws, 3000);
    for i in (350..3000).step_by(700) {
        list[i] = json!({"name": format!("not-a-rule-{i}"), "properties": {"x": i}});
    }
    let d = dir.join("ws-big");
    std::fs::create_dir_all(&d).unwrap();
    let text = serde_json::to_string_pretty(&json!({ "value": list })).unwrap();
    std::fs::write(d.join("alertRules.json"), text).unwrap();
    d
}

/// A fleet of several workspaces, with a template and its parameters file,
/// a file with comments (the exact path) and a large list, written into `dir`.
fn fleet(dir: &Path) -> Vec<String> {
    let root = common::root();
    let mut args = Vec::new();
    for s in ["multi-workspace", "template-with-parameters"] {
        args.push(
            root.join("tests/fixtures/scenarios")
                .join(s)
                .display()
                .to_string(),
        );
    }
    for w in 0..6 {
        let ws = format!(
            "/subscriptions/00000000-0000-4000-8000-{w:012}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law-{w}"
        );
        let d = dir.join(format!("ws-{w}"));
        std::fs::create_dir_all(&d).unwrap();
        let rules = rules(&ws, 40);
        let text = serde_json::to_string_pretty(&json!({ "value": rules })).unwrap();
        let text = if w == 2 {
            format!("// with a comment: the exact path\n{text}")
        } else {
            text
        };
        std::fs::write(d.join("alertRules.json"), text).unwrap();
        let connectors = json!({"value": [
            {"id": format!("{ws}/providers/Microsoft.SecurityInsights/dataConnectors/asc"), "name": "asc", "kind": "AzureSecurityCenter",
             "properties": {"subscriptionId": format!("00000000-0000-4000-8000-{w:012}"), "dataTypes": {"alerts": {"state": "Enabled"}}}},
            {"id": format!("{ws}/providers/Microsoft.SecurityInsights/dataConnectors/mtp"), "name": "mtp", "kind": "MicrosoftThreatProtection",
             "properties": {"tenantId": format!("11111111-0000-4000-8000-{w:012}"), "dataTypes": {"incidents": {"state": "Enabled"}}}}
        ]});
        std::fs::write(
            d.join("dataConnectors.json"),
            serde_json::to_string_pretty(&connectors).unwrap(),
        )
        .unwrap();
        std::fs::write(d.join("automationRules.json"), "{\"value\": []}").unwrap();
        args.push(d.display().to_string());
    }
    // Last: read while the other files' threads fall idle.
    args.push(big_workspace(dir).display().to_string());
    args
}

/// The same `plan` of `inputs` (and settings) with one thread, three, and
/// two (by the environment): each run's exit code, stdout, stderr and
/// artifacts.
fn plan_on_threads(dir: &Path, inputs: &[String]) -> Vec<(common::Run, Vec<Vec<u8>>)> {
    let mut runs = Vec::new();
    for (jobs, env) in [("--jobs=1", None), ("--jobs=3", None), ("", Some("2"))] {
        let out = dir.join(format!("out{}", runs.len()));
        let mut args: Vec<&str> = vec!["plan"];
        args.extend(inputs.iter().map(String::as_str));
        let out_s = out.display().to_string();
        args.extend(["--out", &out_s]);
        if !jobs.is_empty() {
            args.push(jobs);
        }
        let env: Vec<(&str, &str)> = env
            .map(|n| vec![("SENTINEL_MIGRATE_JOBS", n)])
            .unwrap_or_default();
        let mut run = common::run_in(&common::root(), &args, &env);
        // The one difference meant: the folder written.
        run.stdout = run.stdout.replace(&out_s, "OUT");
        run.stderr = run.stderr.replace(&out_s, "OUT");
        let artifacts = ["plan.json", "changes.diff", "apply.sh", "rollback.sh"]
            .iter()
            .filter_map(|f| std::fs::read(out.join(f)).ok())
            .collect();
        runs.push((run, artifacts));
    }
    runs
}

/// Every run of [`plan_on_threads`] the same as the first, byte for byte.
fn all_the_same(runs: &[(common::Run, Vec<Vec<u8>>)]) {
    let (first, artifacts) = &runs[0];
    for (run, other) in &runs[1..] {
        assert_eq!(
            run.transcript(),
            first.transcript(),
            "output differs between thread counts"
        );
        assert!(other == artifacts, "artifacts differ between thread counts");
    }
}

#[test]
fn artifacts_are_byte_identical_whatever_the_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs: Vec<String> = [
        "--workspace",
        "/subscriptions/00000000-0000-4000-8000-000000000009/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law-templates",
        "--primary-workspace",
        "/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg-prod/providers/Microsoft.OperationalInsights/workspaces/law-prod",
    ]
    .map(String::from)
    .to_vec();
    inputs.extend(fleet(dir.path()));
    let runs = plan_on_threads(dir.path(), &inputs);
    let (run, outputs) = &runs[0];
    assert_eq!(run.code, 0, "{}", run.transcript());
    let plan = String::from_utf8_lossy(&outputs[0]);
    assert!(
        plan.contains("law-5") && plan.contains("law-big") && plan.contains("\"line\""),
        "{plan}"
    );
    assert!(outputs[1].len() > 1000, "the plan changes things");
    all_the_same(&runs);

    // The large list alone: its chunks on every thread.
    let alone = vec![inputs.last().unwrap().clone()];
    let runs = plan_on_threads(&dir.path().join("alone"), &alone);
    let (run, outputs) = &runs[0];
    assert_eq!(run.code, 0, "{}", run.transcript());
    let plan = String::from_utf8_lossy(&outputs[0]);
    assert!(plan.contains("\"resources\": 2996"), "{plan}");
    let skipped = "not a data connector, analytics rule or automation rule";
    assert_eq!(plan.matches(skipped).count(), 4, "skipped items: {plan}");
    all_the_same(&runs);
}

/// The resources of a large list, read in chunks, come in the order of its
/// items, the same to the last field whatever the number of threads.
#[test]
fn a_large_list_reads_in_the_order_of_its_items_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let file = big_workspace(dir.path()).join("alertRules.json");
    let read = |jobs| {
        let options = sentinel_migrate::source::ReadOptions {
            jobs,
            ..Default::default()
        };
        sentinel_migrate::source::read(std::slice::from_ref(&file), &options).unwrap()
    };
    let one = read(1);
    let lines: Vec<usize> = one.resources.iter().map(|r| r.origin.line).collect();
    assert_eq!(lines.len(), 2996);
    assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "resources out of the order of the items"
    );
    for jobs in [2, 3, 0] {
        let other = read(jobs);
        assert!(
            format!("{:?}", other.resources) == format!("{:?}", one.resources),
            "resources differ with {jobs} threads"
        );
        assert_eq!(format!("{:?}", other.skipped), format!("{:?}", one.skipped));
    }
}

/// Errors in several chunks of a large list: the same diagnostics, at the
/// same places, in the same order, whatever the number of threads.
#[test]
fn errors_across_the_chunks_of_a_large_list_read_the_same_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let d = big_workspace(dir.path());
    let file = d.join("alertRules.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut list: Value = serde_json::from_str(&text).unwrap();
    let bad = [3, 500, 1300, 2100, 2999];
    for &i in &bad {
        list["value"][i]["properties"]["enabled"] = json!("yes");
    }
    list["value"][1700] = json!("not a resource");
    list["value"][2600]["properties"] = json!("not an object");
    let text = serde_json::to_string_pretty(&list).unwrap();
    std::fs::write(&file, &text).unwrap();

    let runs = plan_on_threads(&dir.path().join("out"), &[file.display().to_string()]);
    let (run, _) = &runs[0];
    assert_ne!(run.code, 0, "{}", run.transcript());
    // Where each error is: the value in error, found in the text in order.
    let mut places = Vec::new();
    let mut from = 0;
    for needle in [
        "\"yes\"",
        "\"yes\"",
        "\"yes\"",
        "\"not a resource\"",
        "\"yes\"",
        "\"not an object\"",
        "\"yes\"",
    ] {
        let at = from + text[from..].find(needle).unwrap();
        let line = text[..at].matches('\n').count() + 1;
        let column = at - text[..at].rfind('\n').map_or(0, |n| n + 1) + 1;
        places.push(format!("alertRules.json:{line}:{column}"));
        from = at + needle.len();
    }
    let mut last = 0;
    for p in &places {
        let at = run
            .stderr
            .find(p.as_str())
            .unwrap_or_else(|| panic!("{p} in {}", run.stderr));
        assert!(at >= last, "{p} out of order in {}", run.stderr);
        last = at;
    }
    all_the_same(&runs);
}

#[test]
fn jobs_must_be_a_positive_number() {
    let run = common::run(&["plan", "examples/contoso", "--jobs", "0"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(run.stderr.contains("--jobs"), "{}", run.stderr);
}
