//! The Azure side is safe by construction: the token goes to the endpoint
//! only, answers are read with a size limit, applies and rollbacks of one
//! plan never run at once, names cannot address a URL outside the resource,
//! and exports replace the previous one only when complete.

mod common;
#[path = "support/contoso.rs"]
mod contoso;

use arm_emulator::{Config, Emulator, Faults};
use common::run;
use contoso::*;
use sentinel_migrate::api::{
    self, ApiError, Client, Endpoint, RetryPolicy,
    token::{Secret, TokenSource},
};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WS: &str =
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law";

/// The head (request line and headers) of every request a [`Server`] got.
type Heads = Arc<Mutex<Vec<String>>>;

/// A bare HTTP/1.1 server on 127.0.0.1 that answers every request with
/// what `answer` returns for its own port and the request head (status line, headers and
/// body, without `Connection`/`Content-Length`: the body ends at close).
struct Server {
    port: u16,
    heads: Heads,
}

impl Server {
    fn start(answer: impl Fn(u16, &str) -> (String, Vec<u8>) + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads: Heads = Arc::default();
        let seen = heads.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                seen.lock().unwrap().push(head.clone());
                let (status_and_headers, body) = answer(port, &head);
                let _ = stream.write_all(
                    format!("{status_and_headers}\r\nConnection: close\r\n\r\n").as_bytes(),
                );
                let _ = stream.write_all(&body);
            }
        });
        Server { port, heads }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

fn json_ok(body: String) -> (String, Vec<u8>) {
    (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json".into(),
        body.into_bytes(),
    )
}

fn client_with_token(url: &str) -> Client {
    Client::new(
        Endpoint::parse(url).unwrap(),
        TokenSource::Fixed(Secret::new("some-test-token")),
        RetryPolicy {
            attempts: 2,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(20),
            max_retry_after: Duration::from_millis(20),
            timeout: Duration::from_secs(20),
        },
    )
    .unwrap()
}

fn list_path() -> String {
    format!("{WS}/providers/Microsoft.SecurityInsights/alertRules?api-version=2025-09-01")
}

#[test]
fn the_token_never_follows_a_next_link_or_a_redirect_to_another_origin() {
    // The other host records what it receives.
    let other = Server::start(|_, _| json_ok(r#"{"value": []}"#.into()));
    let other_port = other.port;
    // The endpoint pages to it through a nextLink with a user name (which a
    // prefix check takes for the endpoint), and redirects the next call.
    let endpoint = Server::start(move |port, head| {
        if head.contains("redirect-me") {
            (
                format!(
                    "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{other_port}/subscriptions/s1?api-version=2025-09-01"
                ),
                Vec::new(),
            )
        } else {
            json_ok(format!(
                r#"{{"value": [{{"name": "a"}}], "nextLink": "http://127.0.0.1:{port}@127.0.0.1:{other_port}/subscriptions/s1/x?api-version=2025-09-01"}}"#
            ))
        }
    });
    let client = client_with_token(&endpoint.url());
    let rt = api::runtime().unwrap();

    let err = rt.block_on(client.list(&list_path())).unwrap_err();
    assert!(matches!(err, ApiError::Elsewhere { .. }), "{err}");
    assert!(err.to_string().contains("another origin"), "{err}");
    assert!(!err.to_string().contains("some-test-token"), "{err}");

    let err = rt
        .block_on(client.get("/subscriptions/s1/redirect-me?api-version=2025-09-01"))
        .unwrap_err();
    assert!(err.to_string().contains("redirect"), "{err}");

    assert!(
        other.heads().is_empty(),
        "the other host was called: {:?}",
        other.heads()
    );
    // The endpoint itself did get the token.
    assert!(
        endpoint.heads()[0]
            .to_ascii_lowercase()
            .contains("authorization: bearer some-test-token"),
        "{:?}",
        endpoint.heads()
    );
}

#[test]
fn an_endpoint_with_userinfo_or_plain_http_elsewhere_is_refused_by_the_cli() {
    for bad in [
        "http://127.0.0.1:9@evil.example",
        "https://management.azure.com@evil.example",
        "http://management.azure.com.evil.example",
        "https://management.azure.com/?x=1",
    ] {
        let r = run(&[
            "export",
            "--workspace",
            WS,
            "--out",
            "unused",
            "--endpoint",
            bad,
        ]);
        assert_eq!(r.code, 1, "{bad}: {}", r.transcript());
        assert!(r.stderr.contains("--endpoint"), "{}", r.stderr);
        assert!(!Path::new("unused").exists());
    }
}

#[test]
fn an_oversized_answer_is_refused_without_reading_it_all() {
    let size = api::client::MAX_RESPONSE_BYTES + 1024 * 1024;
    let huge = {
        let mut body = br#"{"value": [""#.to_vec();
        body.resize(size, b'x');
        body.extend_from_slice(br#""]}"#);
        Arc::new(body)
    };
    // Without Content-Length (read until the close) and with it.
    let streamed = {
        let huge = huge.clone();
        Server::start(move |_, _| {
            (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json".into(),
                huge.to_vec(),
            )
        })
    };
    let announced = Server::start(move |_, _| {
        (
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}",
                huge.len()
            ),
            huge.to_vec(),
        )
    });
    let rt = api::runtime().unwrap();
    for server in [&streamed, &announced] {
        let client = client_with_token(&server.url());
        let err = rt.block_on(client.list(&list_path())).unwrap_err();
        assert!(matches!(err, ApiError::TooLarge { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("larger than 32 MiB"), "{text}");
        assert!(text.contains("/alertRules?api-version"), "{text}");
        assert_eq!(server.heads().len(), 1, "a refused answer is not retried");
    }
}

// ---- one apply or rollback at a time -------------------------------------

#[test]
fn a_second_apply_or_rollback_of_one_plan_refuses_while_one_runs() {
    let emulator = contoso_emulator(Config::default());
    let work = tempfile::tempdir().unwrap();
    let out = export_and_plan(&emulator, work.path());
    let plan = out.join("plan.json");
    let journal = out.join("apply-journal.json");
    // Slow enough that the first apply still runs (about 20 requests at
    // half a second) while the others try, even on a loaded machine.
    emulator.set_faults(Faults {
        latency: Duration::from_millis(500),
        ..Faults::default()
    });
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_sentinel-migrate"))
        .args([
            "apply",
            plan.to_str().unwrap(),
            "--endpoint",
            &emulator.url(),
        ])
        .args(["--parallelism", "1"])
        .args(CONFIRM)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !journal.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(journal.exists(), "the first apply started");
    let pid = format!("pid {}", first.id());
    for (command, target) in [("apply", &plan), ("rollback", &journal)] {
        let started = std::time::Instant::now();
        let r = against(
            &emulator,
            command,
            target,
            &CONFIRM[..if command == "apply" { 2 } else { 0 }],
        );
        assert_eq!(r.code, 1, "{command}: {}", r.transcript());
        assert!(r.stderr.contains("is in use by apply"), "{}", r.stderr);
        assert!(r.stderr.contains(&pid), "names the holder: {}", r.stderr);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "refused at once"
        );
    }
    assert!(first.wait().unwrap().success(), "the first apply completes");
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    assert_eq!(
        j["steps"].as_object().unwrap().len(),
        9,
        "no step lost: {j:#}"
    );
    emulator.set_faults(Faults::default());
    // Released when it ended: a rollback may run now.
    let r = against(&emulator, "rollback", &journal, &[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
}

#[test]
fn rollback_fails_when_the_journal_lost_a_step_it_should_undo() {
    let emulator = contoso_emulator(Config::default());
    let work = tempfile::tempdir().unwrap();
    let out = export_and_plan(&emulator, work.path());
    let r = against(&emulator, "apply", &out.join("plan.json"), &CONFIRM);
    assert_eq!(r.code, 0, "{}", r.transcript());
    // The journal keeps one step of seven (as when two applies overwrote it).
    let journal = out.join("apply-journal.json");
    let mut j: Value = serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    let steps = j["steps"].as_object_mut().unwrap();
    let keep = steps.keys().next().unwrap().clone();
    steps.retain(|k, _| *k == keep);
    std::fs::write(&journal, serde_json::to_string_pretty(&j).unwrap()).unwrap();
    let writes = emulator.writes();
    let r = against(&emulator, "rollback", &journal, &[]);
    assert_ne!(r.code, 0, "{}", r.transcript());
    assert!(
        r.stderr.contains("belong to no step of the journal"),
        "{}",
        r.stderr
    );
    let kept_backup = j["steps"][&keep]["backup"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut lost = 0;
    for entry in std::fs::read_dir(out.join("backups")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name != kept_backup {
            assert!(r.stderr.contains(&name), "names {name}: {}", r.stderr);
            lost += 1;
        }
    }
    assert!(lost >= 5, "{lost}");
    assert_eq!(
        emulator.writes(),
        writes,
        "nothing restored from a partial journal"
    );
}

// ---- names that are paths -------------------------------------------------

#[test]
fn names_and_workspace_segments_that_are_path_steps_are_refused_at_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let rule = |id: &str, name: &str| {
        format!(
            r#"{{"id": "{id}", "name": "{name}", "kind": "MicrosoftSecurityIncidentCreation", "etag": "\"1\"", "properties": {{"displayName": "DfC", "enabled": true, "productFilter": "Azure Security Center"}}}}"#
        )
    };
    let rules = format!("{WS}/providers/Microsoft.SecurityInsights/alertRules");
    let bad_ws = "/subscriptions/s1/resourceGroups/../providers/Microsoft.OperationalInsights/workspaces/law";
    let text = format!(
        "{{\"value\": [\n  {},\n  {},\n  {}\n]}}\n",
        rule(&format!("{rules}/.."), ".."),
        rule(
            &format!("{bad_ws}/providers/Microsoft.SecurityInsights/alertRules/ok"),
            "ok"
        ),
        rule(&format!("{rules}/fine"), "fine"),
    );
    std::fs::write(dir.path().join("alertRules.json"), text).unwrap();
    let out = dir.path().join("plan-out");
    let r = run(&[
        "plan",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(r.stderr.contains("2 problems"), "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "alertRules.json:2:3: the alertRules \"..\" cannot be addressed in a URL: its name"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("alertRules.json:3:3: the alertRules \"ok\" cannot be addressed in a URL: its id: the segment `..`"), "{}", r.stderr);
    assert!(!out.exists(), "nothing planned");
}

#[test]
fn apply_refuses_a_hand_edited_plan_whose_name_is_a_path_step() {
    let emulator = contoso_emulator(Config::default());
    let work = tempfile::tempdir().unwrap();
    let out = export_and_plan(&emulator, work.path());
    let plan = out.join("plan.json");
    let mut p: Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    let original = p.clone();
    let action = p["actions"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["operation"] == "update")
        .unwrap();
    action["name"] = "..".into();
    std::fs::write(&plan, serde_json::to_string_pretty(&p).unwrap()).unwrap();
    emulator.clear_log();
    for command in ["apply", "verify"] {
        let r = against(
            &emulator,
            command,
            &plan,
            &CONFIRM[..if command == "apply" { 2 } else { 0 }],
        );
        assert_eq!(r.code, 1, "{}", r.transcript());
        assert!(
            r.stderr
                .contains("the segment `..` would address another path"),
            "{}",
            r.stderr
        );
    }
    assert!(
        emulator.log().is_empty(),
        "no request sent: {:?}",
        emulator.log()
    );
    assert!(!out.join("apply-journal.json").exists());

    // Nor does rollback follow a journal edited the same way.
    std::fs::write(&plan, serde_json::to_string_pretty(&original).unwrap()).unwrap();
    let r = against(&emulator, "apply", &plan, &CONFIRM);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let journal = out.join("apply-journal.json");
    let mut j: Value = serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    let step = j["steps"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap();
    let path = step["path"].as_str().unwrap().replacen(
        "/providers/Microsoft.SecurityInsights/",
        "/providers/Microsoft.SecurityInsights/../",
        1,
    );
    step["path"] = path.into();
    std::fs::write(&journal, serde_json::to_string_pretty(&j).unwrap()).unwrap();
    emulator.clear_log();
    let r = against(&emulator, "rollback", &journal, &[]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(
        r.stderr.contains("the journal was edited or damaged"),
        "{}",
        r.stderr
    );
    assert!(
        emulator.log().is_empty(),
        "no request sent: {:?}",
        emulator.log()
    );
}

#[test]
fn export_refuses_workspace_ids_that_would_write_outside_out() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("a").join("exports");
    let emulator = Emulator::start(Config::default()).unwrap();
    for ws in [
        "/subscriptions/../resourceGroups/../providers/Microsoft.OperationalInsights/workspaces/..",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/.",
    ] {
        let r = export(&emulator, &[ws], &out);
        assert_eq!(r.code, 1, "{}", r.transcript());
        assert!(
            r.stderr.contains("would address another path"),
            "{}",
            r.stderr
        );
    }
    assert!(emulator.log().is_empty());
    assert_eq!(
        std::fs::read_dir(work.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

// ---- exports replace the previous one only when complete ------------------

/// Every file under `dir` with its content, by relative path.
fn tree(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn a_failed_export_leaves_the_previous_one_intact() {
    let emulator = contoso_emulator(Config::default());
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("exports");
    let export = |extra: &[&str]| {
        let mut args = vec!["export", "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let url = emulator.url();
        args.extend_from_slice(&["--endpoint", &url, "--workspace", CONTOSO]);
        run(&args)
    };
    let r = export(&[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let before = tree(&out);
    assert_eq!(before.len(), 4, "{:?}", before.keys());

    // Azure changes; the next export fails halfway (one list is refused).
    let connector =
        format!("{CONTOSO}/providers/Microsoft.SecurityInsights/dataConnectors/added-since");
    emulator.seed(
        &connector,
        serde_json::json!({"kind": "AzureSecurityCenter", "properties": {"subscriptionId": "s", "dataTypes": {"alerts": {"state": "Enabled"}}}}),
    );
    let r = export(&["--api-version", "alertRules=1999-01-01"]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(
        r.stderr.contains("InvalidApiVersionParameter"),
        "{}",
        r.stderr
    );
    assert_eq!(tree(&out), before, "the previous export is untouched");

    // A workspace that does not exist fails the export, naming it.
    let missing = CONTOSO.replace("law-contoso-soc", "law-does-not-exist");
    let r = export(&["--workspace", &missing]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(
        r.stderr
            .contains(&format!("workspace {missing} does not exist")),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("Exported 0"), "{}", r.stdout);
    assert_eq!(tree(&out), before, "the previous export is untouched");
    let leftovers: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("exports")],
        "no temporary folder left"
    );

    // A complete export replaces it (the new connector is there).
    let r = export(&[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let after = tree(&out);
    assert_ne!(after, before);
    assert!(after.values().any(|t| t.contains("added-since")));
    assert!(
        r.stdout.contains(&format!("to {}", out.display())),
        "{}",
        r.stdout
    );
}

// ---- re-planning after a stale apply ---------------------------------------

#[test]
fn after_a_stale_apply_the_hint_leads_to_a_plan_that_applies_and_the_journal_is_kept() {
    let emulator = contoso_emulator(Config::default());
    let work = tempfile::tempdir().unwrap();
    let out = export_and_plan(&emulator, work.path());
    let plan = out.join("plan.json");
    let r = against(&emulator, "apply", &plan, &[]);
    assert_eq!(r.code, 4, "phases 1 and 2: {}", r.transcript());
    // Someone changes a legacy connector that phase 3 deletes.
    let (id, mut body) = emulator
        .resources()
        .into_iter()
        .find(|(_, b)| b["kind"] == "AzureSecurityCenter")
        .unwrap();
    body["properties"]["dataTypes"]["alerts"]["state"] = "Disabled".into();
    body.as_object_mut().unwrap().remove("etag");
    emulator.seed(&id, body);
    let r = against(&emulator, "apply", &plan, &CONFIRM);
    assert_eq!(r.code, 3, "{}", r.transcript());
    assert!(r.stderr.contains("the plan is stale"), "{}", r.stderr);
    assert!(
        r.stderr.contains("into a new folder (`plan --out NEW`)"),
        "{}",
        r.stderr
    );

    // Planning the same exports again gives the journal's plan: harmless.
    let plan_bytes = std::fs::read(&plan).unwrap();
    let exports = work.path().join("exports");
    let r = run(&[
        "plan",
        exports.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    assert_eq!(std::fs::read(&plan).unwrap(), plan_bytes);
    // Planning a new export into it would orphan the journal: refused.
    let r = export(&emulator, &[CONTOSO], &exports);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let r = run(&[
        "plan",
        exports.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.transcript());
    assert!(
        r.stderr.contains("apply-journal.json records an apply"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("Plan into another folder (`plan --out NEW`)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("sentinel-migrate rollback"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read(&plan).unwrap(),
        plan_bytes,
        "the plan is kept"
    );
    // Nothing else was written either, not even beside: the artifacts
    // are rendered side by side and renamed only once the journal agrees.
    let mut left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    left.sort();
    assert!(left.is_empty(), "{left:?}");

    // Into a new folder, as the hint says: it plans and applies.
    let next = work.path().join("plan-2");
    let r = run(&[
        "plan",
        exports.to_str().unwrap(),
        "--out",
        next.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let r = against(&emulator, "apply", &next.join("plan.json"), &CONFIRM);
    assert_eq!(r.code, 0, "{}", r.transcript());

    // Rolling back the first apply while one of its resources changed since:
    // a rollback conflict, not a stale plan.
    let journal: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("apply-journal.json")).unwrap())
            .unwrap();
    let step = journal["steps"]
        .as_object()
        .unwrap()
        .values()
        .find(|s| s["operation"] == "update")
        .unwrap();
    let rid = step["resource_id"].as_str().unwrap();
    let mut body = emulator.get(rid).unwrap();
    body["properties"]["displayName"] = "renamed since".into();
    body.as_object_mut().unwrap().remove("etag");
    emulator.seed(rid, body);
    let r = against(&emulator, "rollback", &out.join("apply-journal.json"), &[]);
    assert_eq!(r.code, 3, "{}", r.transcript());
    assert!(
        r.stderr
            .contains("rollback incomplete: 1 resource not restored"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("changed since apply"), "{}", r.stderr);
    assert!(!r.stderr.contains("stale"), "{}", r.stderr);
}
