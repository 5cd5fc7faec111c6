//! Tests through a minimal HTTP/1.1 client over `std::net::TcpStream`.

use super::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

const V: &str = "2025-09-01";
const WS: &str = "/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/myRg/providers/Microsoft.OperationalInsights/workspaces/myWorkspace/providers/Microsoft.SecurityInsights";

/// `{WS}/{rest}?api-version={V}`
fn at(rest: &str) -> String {
    format!("{WS}/{rest}?api-version={V}")
}

/// The plain id of `{WS}/{rest}`.
fn id(rest: &str) -> String {
    format!("{WS}/{rest}")
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: status {} body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts an ARM error body and returns (code, message).
    fn arm_error(&self) -> (String, String) {
        assert_eq!(self.header("content-type"), Some("application/json"));
        let v = self.json();
        let err = v["error"].as_object().expect("an ARM error body");
        assert_eq!(err.len(), 2, "{v}");
        (
            err["code"].as_str().unwrap().to_string(),
            err["message"].as_str().unwrap().to_string(),
        )
    }
}

fn connect(em: &Emulator) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", em.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

fn write_request(s: &mut TcpStream, method: &str, target: &str, body: Option<&str>, close: bool) {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    match body {
        Some(b) => req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        )),
        None if method == "PUT" => req.push_str("Content-Length: 0\r\n"),
        None => {}
    }
    if close {
        req.push_str("Connection: close\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or_default());
    s.write_all(req.as_bytes()).unwrap();
}

/// One response; `None` when the connection closed before any byte.
fn read_response(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<Resp>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').expect("a header line");
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse::<usize>().unwrap());
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            r.read_exact(&mut body)?;
        }
        None if status == 204 || status == 304 || status < 200 => {}
        None => {
            r.read_to_end(&mut body)?;
        }
    }
    Ok(Some(Resp {
        status,
        headers,
        body,
    }))
}

fn send_raw(em: &Emulator, method: &str, target: &str, body: Option<&str>) -> Resp {
    let mut s = connect(em);
    write_request(&mut s, method, target, body, true);
    read_response(&mut BufReader::new(s))
        .unwrap()
        .expect("a response")
}

fn get(em: &Emulator, target: &str) -> Resp {
    send_raw(em, "GET", target, None)
}

fn put(em: &Emulator, target: &str, body: &Value) -> Resp {
    send_raw(em, "PUT", target, Some(&body.to_string()))
}

fn delete(em: &Emulator, target: &str) -> Resp {
    send_raw(em, "DELETE", target, None)
}

fn start() -> Emulator {
    Emulator::start(Config::default()).unwrap()
}

fn start_with(f: impl FnOnce(&mut Config)) -> Emulator {
    let mut config = Config::default();
    f(&mut config);
    Emulator::start(config).unwrap()
}

fn scheduled(display: &str) -> Value {
    json!({
        "kind": "Scheduled",
        "properties": {
            "displayName": display, "enabled": true, "severity": "High",
            "query": "SecurityAlert | where ProductName == \"Azure Security Center\"",
            "queryFrequency": "PT1H", "queryPeriod": "PT1H",
            "triggerOperator": "GreaterThan", "triggerThreshold": 0,
            "suppressionEnabled": false, "suppressionDuration": "PT1H"
        }
    })
}

fn automation(display: &str) -> Value {
    json!({
        "properties": {
            "displayName": display, "order": 1,
            "triggeringLogic": {"isEnabled": true, "triggersOn": "Incidents", "triggersWhen": "Created"},
            "actions": [{"order": 1, "actionType": "ModifyProperties",
                         "actionConfiguration": {"status": "Closed"}}]
        }
    })
}

fn asc_connector() -> Value {
    json!({"kind": "AzureSecurityCenter", "properties": {
        "subscriptionId": "d0cfe6b2-9ac0-4464-9919-dccaee2e48c0",
        "dataTypes": {"alerts": {"state": "Enabled"}}}})
}

#[test]
fn emulator_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Emulator>();
}

#[test]
fn url_and_port_agree() {
    let em = start();
    assert_eq!(em.url(), format!("http://127.0.0.1:{}", em.port()));
    assert!(!em.url().ends_with('/'));
}

#[test]
fn api_version_missing_or_unsupported_is_400() {
    let em = start();
    em.add_workspace(WS.trim_end_matches("/providers/Microsoft.SecurityInsights"));
    for target in [
        format!("{WS}/alertRules"),
        format!("{WS}/alertRules?api-version="),
        format!("{WS}/alertRules/r1?other=1"),
    ] {
        let r = get(&em, &target);
        assert_eq!(r.status, 400, "{target}");
        assert_eq!(r.arm_error().0, "MissingApiVersionParameter");
    }
    let r = get(
        &em,
        &format!("{WS}/alertRules?api-version=2019-01-01-preview"),
    );
    assert_eq!(r.status, 400);
    let (code, message) = r.arm_error();
    assert_eq!(code, "InvalidApiVersionParameter");
    assert!(message.contains("2019-01-01-preview"), "{message}");
    for v in Config::default().api_versions {
        assert!(message.contains(&v), "{message}");
        let r = get(&em, &format!("{WS}/alertRules?api-version={v}"));
        assert_eq!(r.status, 200, "{v}");
    }
    // Parameter names and versions compare case-insensitively.
    assert_eq!(
        get(
            &em,
            &format!("{WS}/alertRules?API-VERSION=2025-10-01-PREVIEW")
        )
        .status,
        200
    );
    // A write without api-version changes nothing.
    let r = put(&em, &format!("{WS}/alertRules/r1"), &scheduled("x"));
    assert_eq!(r.status, 400);
    assert!(em.resources().is_empty());
    assert_eq!(em.writes(), 0);
}

#[test]
fn get_of_a_missing_resource_is_404_with_an_arm_error() {
    let em = start();
    let r = get(&em, &at("alertRules/no-such-rule"));
    assert_eq!(r.status, 404);
    let (code, message) = r.arm_error();
    assert_eq!(code, "NotFound");
    assert!(message.contains("no-such-rule"), "{message}");
    assert!(
        message.contains("Microsoft.SecurityInsights/alertRules"),
        "{message}"
    );
    // An unknown subscription.
    let r = get(&em, &format!("/subscriptions/x?api-version={V}"));
    assert_eq!(r.status, 404);
    assert_eq!(r.arm_error().0, "SubscriptionNotFound");
    // Paths outside the served subset.
    for target in [
        format!("{WS}/incidents/i1?api-version={V}"),
        format!("{WS}/alertRules/a/b?api-version={V}"),
        format!(
            "/subscriptions/s/resourceGroups/rg/workspaces/w/providers/Microsoft.SecurityInsights/alertRules?api-version={V}"
        ),
        format!("/?api-version={V}"),
    ] {
        let r = get(&em, &target);
        assert_eq!(r.status, 404, "{target}");
        assert_eq!(r.arm_error().0, "NotFound");
    }
}

#[test]
fn put_creates_with_201_then_updates_with_200_and_a_new_etag() {
    let em = start();
    let mut body = scheduled("First");
    body["properties"]["futureField"] = json!({"a": [1, 2]});
    body["properties"]["lastModifiedUtc"] = json!("1999-01-01T00:00:00Z");
    body["systemData"] = json!({"createdBy": "someone"});
    body["id"] = json!("/wrong");
    body["name"] = json!("wrong");
    let r = put(&em, &at("alertRules/rule-1"), &body);
    assert_eq!(r.status, 201);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let created = r.json();
    assert_eq!(created["id"], json!(id("alertRules/rule-1")));
    assert_eq!(created["name"], "rule-1");
    assert_eq!(created["type"], "Microsoft.SecurityInsights/alertRules");
    assert_eq!(created["kind"], "Scheduled");
    assert_eq!(created["properties"]["futureField"], json!({"a": [1, 2]}));
    assert_eq!(
        created["properties"]["lastModifiedUtc"],
        "2026-01-01T00:00:01Z"
    );
    assert!(created.get("systemData").is_none());
    let etag1 = created["etag"].as_str().unwrap().to_string();
    assert!(
        etag1.starts_with('"') && etag1.ends_with('"') && etag1.len() > 30,
        "{etag1}"
    );

    let r = get(&em, &at("alertRules/rule-1"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), created);
    assert_eq!(em.get(&id("alertRules/rule-1")), Some(created.clone()));

    let mut update = created.clone();
    update["properties"]["displayName"] = json!("Second");
    let r = put(&em, &at("alertRules/rule-1"), &update);
    assert_eq!(r.status, 200);
    let updated = r.json();
    let etag2 = updated["etag"].as_str().unwrap();
    assert_ne!(etag2, etag1);
    assert_eq!(updated["properties"]["displayName"], "Second");
    assert_eq!(
        updated["properties"]["lastModifiedUtc"],
        "2026-01-01T00:00:02Z"
    );
    assert_eq!(em.get(&id("alertRules/rule-1")), Some(updated));
    assert_eq!(em.writes(), 2);
    assert_eq!(em.resources().len(), 1);
}

#[test]
fn automation_rules_get_server_times_and_keep_their_creation_time() {
    let em = start();
    let mut body = automation("Close DfC");
    body["properties"]["createdTimeUtc"] = json!("1999-01-01T00:00:00Z");
    body["properties"]["createdBy"] = json!({"name": "client"});
    let first = put(&em, &at("automationRules/ar1"), &body);
    assert_eq!(first.status, 201);
    let first = first.json();
    assert_eq!(
        first["properties"]["createdTimeUtc"],
        "2026-01-01T00:00:01Z"
    );
    assert_eq!(
        first["properties"]["lastModifiedTimeUtc"],
        "2026-01-01T00:00:01Z"
    );
    assert!(first["properties"].get("createdBy").is_none());
    assert!(first.get("kind").is_none());

    assert_eq!(
        put(&em, &at("dataConnectors/c1"), &asc_connector()).status,
        201
    );
    let second = put(&em, &at("automationRules/ar1"), &body);
    assert_eq!(second.status, 200);
    let second = second.json();
    assert_eq!(
        second["properties"]["createdTimeUtc"],
        "2026-01-01T00:00:01Z"
    );
    assert_eq!(
        second["properties"]["lastModifiedTimeUtc"],
        "2026-01-01T00:00:03Z"
    );

    // A seeded rule keeps its seeded read-only fields through a PUT.
    let mut seeded = automation("Seeded");
    seeded["properties"]["createdTimeUtc"] = json!("2020-05-05T00:00:00Z");
    seeded["properties"]["createdBy"] = json!({"name": "portal user"});
    em.seed(&id("automationRules/ar2"), seeded);
    let r = put(&em, &at("automationRules/ar2"), &automation("Seeded"));
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["properties"]["createdTimeUtc"], "2020-05-05T00:00:00Z");
    assert_eq!(v["properties"]["createdBy"], json!({"name": "portal user"}));
}

#[test]
fn stale_etag_conflicts_with_409_by_default() {
    let em = start();
    let created = put(&em, &at("alertRules/r"), &scheduled("v1")).json();
    let mut stale = created.clone();
    let current = put(&em, &at("alertRules/r"), &created).json();
    assert_eq!(em.writes(), 2);

    stale["properties"]["displayName"] = json!("lost update");
    let r = put(&em, &at("alertRules/r"), &stale);
    assert_eq!(r.status, 409);
    let (code, message) = r.arm_error();
    assert_eq!(code, "Conflict");
    assert!(
        message.contains(created["etag"].as_str().unwrap()),
        "{message}"
    );
    assert_eq!(em.get(&id("alertRules/r")), Some(current.clone()));
    assert_eq!(em.writes(), 2);

    // The current etag, or "*", is accepted.
    let r = put(&em, &at("alertRules/r"), &current);
    assert_eq!(r.status, 200);
    let mut any = scheduled("any");
    any["etag"] = json!("*");
    assert_eq!(put(&em, &at("alertRules/r"), &any).status, 200);

    // Creating with an etag: only "*" is accepted.
    let mut with_etag = scheduled("new");
    with_etag["etag"] = current["etag"].clone();
    let r = put(&em, &at("alertRules/new"), &with_etag);
    assert_eq!(r.status, 409);
    assert_eq!(r.arm_error().0, "Conflict");
    assert!(em.get(&id("alertRules/new")).is_none());
    assert_eq!(put(&em, &at("alertRules/new"), &any).status, 201);

    // An etag that is not a string is a bad request.
    let mut numeric = scheduled("n");
    numeric["etag"] = json!(5);
    let r = put(&em, &at("alertRules/r"), &numeric);
    assert_eq!(r.status, 400);
    assert!(r.arm_error().1.contains("'etag'"));
}

#[test]
fn stale_etag_conflicts_with_412_when_configured() {
    let em = start_with(|c| c.conflict_status = 412);
    let created = put(&em, &at("alertRules/r"), &scheduled("v1")).json();
    put(&em, &at("alertRules/r"), &created);
    let r = put(&em, &at("alertRules/r"), &created);
    assert_eq!(r.status, 412);
    assert_eq!(r.arm_error().0, "Conflict");
    let mut create = scheduled("x");
    create["etag"] = json!("\"nope\"");
    assert_eq!(put(&em, &at("alertRules/other"), &create).status, 412);
}

#[test]
fn put_without_etag_overwrites() {
    let em = start();
    let etag = em.seed(&id("alertRules/r"), scheduled("seeded"));
    let r = put(&em, &at("alertRules/r"), &scheduled("overwritten"));
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_ne!(v["etag"].as_str().unwrap(), etag);
    assert_eq!(
        em.get(&id("alertRules/r")).unwrap()["properties"]["displayName"],
        "overwritten"
    );
    // An explicit null etag is unconditional too.
    let mut null_etag = scheduled("again");
    null_etag["etag"] = Value::Null;
    assert_eq!(put(&em, &at("alertRules/r"), &null_etag).status, 200);
}

#[test]
fn delete_is_200_then_204() {
    let em = start();
    em.seed(&id("dataConnectors/asc-1"), asc_connector());
    let r = delete(&em, &at("dataConnectors/asc-1"));
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(em.writes(), 1);
    assert!(em.get(&id("dataConnectors/asc-1")).is_none());
    let r = delete(&em, &at("dataConnectors/asc-1"));
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(em.writes(), 1);
    assert_eq!(get(&em, &at("dataConnectors/asc-1")).status, 404);
}

#[test]
fn other_methods_are_405() {
    let em = start();
    em.seed(&id("alertRules/r"), scheduled("r"));
    for (method, target, allow) in [
        ("PATCH", at("alertRules/r"), "GET, PUT, DELETE"),
        ("POST", at("alertRules/r"), "GET, PUT, DELETE"),
        ("PUT", at("alertRules"), "GET"),
        ("DELETE", at("alertRules"), "GET"),
    ] {
        let body = (method != "DELETE").then(|| scheduled("x").to_string());
        let r = send_raw(&em, method, &target, body.as_deref());
        assert_eq!(r.status, 405, "{method} {target}");
        assert_eq!(r.header("allow"), Some(allow));
        assert_eq!(r.arm_error().0, "MethodNotAllowed");
    }
    assert_eq!(em.writes(), 0);
    assert_eq!(
        em.get(&id("alertRules/r")).unwrap()["properties"]["displayName"],
        "r"
    );
}

#[test]
fn lists_page_with_next_link_across_three_pages() {
    let em = start_with(|c| c.page_size = 2);
    for name in ["c", "A", "e", "B", "d"] {
        em.seed(&id(&format!("alertRules/{name}")), scheduled(name));
    }
    // Not in the list: another type, another workspace.
    em.seed(&id("dataConnectors/z"), asc_connector());
    em.seed(
        &id("alertRules/x").replace("myWorkspace", "otherWorkspace"),
        scheduled("x"),
    );
    let mut target = at("alertRules");
    let mut pages = Vec::new();
    loop {
        let r = get(&em, &target);
        assert_eq!(r.status, 200, "{target}");
        let v = r.json();
        let names: Vec<String> = v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect();
        pages.push(names);
        match v.get("nextLink") {
            None => break,
            Some(next) => {
                let next = next.as_str().unwrap();
                assert!(
                    next.starts_with(&format!("{}{WS}/alertRules?", em.url())),
                    "{next}"
                );
                assert!(next.contains(&format!("api-version={V}")), "{next}");
                assert!(next.contains("$skipToken="), "{next}");
                target = next.strip_prefix(&em.url()).unwrap().to_string();
            }
        }
        assert!(pages.len() < 5, "paging does not end");
    }
    assert_eq!(pages, vec![vec!["A", "B"], vec!["c", "d"], vec!["e"]]);
    // An encoded token name is replaced, not repeated, in the next link.
    let v = get(
        &em,
        &format!("{WS}/alertRules?%24skipToken=b&api-version={V}"),
    )
    .json();
    assert_eq!(v["value"][0]["name"], "c");
    let next = v["nextLink"].as_str().unwrap();
    assert_eq!(next.matches("skipToken").count(), 1, "{next}");
    assert!(
        next.ends_with(&format!("?api-version={V}&$skipToken=d")),
        "{next}"
    );

    // Exactly one full page: no nextLink.
    let v = get(&em, &at("dataConnectors")).json();
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    assert!(v.get("nextLink").is_none());
    // An empty workspace.
    let v = get(&em, &at("automationRules")).json();
    assert_eq!(v, json!({"value": []}));
    // A workspace addressed with other casing and a trailing slash.
    let r = get(
        &em,
        &format!("{}/ALERTRULES/?api-version={V}", WS.to_uppercase()),
    );
    assert_eq!(r.json()["value"].as_array().unwrap().len(), 2);
}

#[test]
fn lists_of_a_workspace_that_does_not_exist_are_404() {
    let em = start();
    let r = get(&em, &at("alertRules"));
    assert_eq!(r.status, 404);
    let (code, message) = r.arm_error();
    assert_eq!(code, "ResourceNotFound");
    assert!(message.contains("myWorkspace"), "{message}");
    // Added, seeded or written to: it exists, also once emptied again.
    em.add_workspace(&WS.replace("/providers/Microsoft.SecurityInsights", ""));
    assert_eq!(get(&em, &at("alertRules")).status, 200);
    let other = WS.replace("myWorkspace", "other");
    let r = put(
        &em,
        &format!("{other}/alertRules/r?api-version={V}"),
        &scheduled("r"),
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        delete(&em, &format!("{other}/alertRules/r?api-version={V}")).status,
        200
    );
    let r = get(&em, &format!("{other}/dataConnectors?api-version={V}"));
    assert_eq!(r.status, 200);
    // Unless configured otherwise.
    let em = start_with(|c| c.all_workspaces_exist = true);
    assert_eq!(
        get(&em, &at("automationRules")).json(),
        json!({"value": []})
    );
}

#[test]
fn percent_encoded_names_are_decoded() {
    let em = start();
    let encoded = "alertRules/My%20Rule%27s%2Fv2";
    let r = put(&em, &at(encoded), &scheduled("odd name"));
    assert_eq!(r.status, 201);
    let v = r.json();
    assert_eq!(v["name"], "My Rule's/v2");
    assert_eq!(v["id"], json!(id("alertRules/My Rule's/v2")));
    assert_eq!(get(&em, &at(encoded)).status, 200);
    // Other casing, lower-case hex: the same resource, with its first casing.
    let r = get(&em, &at("ALERTRULES/my%20rule%27S%2fV2"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "My Rule's/v2");
    let r = put(
        &em,
        &at("alertrules/MY%20RULE%27S%2FV2"),
        &scheduled("again"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], json!(id("alertRules/My Rule's/v2")));
    assert!(em.get(&id("alertRules/my rule's/v2")).is_some());
    let list = get(&em, &at("alertRules")).json();
    assert_eq!(list["value"][0]["name"], "My Rule's/v2");
    assert_eq!(delete(&em, &at(encoded)).status, 200);
    assert!(em.resources().is_empty());
}

#[test]
fn schema_failures_name_the_field() {
    let em = start();
    let mut no_kind = scheduled("x");
    no_kind.as_object_mut().unwrap().remove("kind");
    let mut no_freq = scheduled("x");
    no_freq["properties"]
        .as_object_mut()
        .unwrap()
        .remove("queryFrequency");
    let mut enabled_string = scheduled("x");
    enabled_string["properties"]["enabled"] = json!("true");
    let mut order = automation("x");
    order["properties"]["order"] = json!(1001);
    let mut actions = automation("x");
    actions["properties"]["actions"] = json!([]);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("alertRules/r", no_kind, "'kind'"),
        ("alertRules/r", no_freq, "'properties.queryFrequency'"),
        ("alertRules/r", enabled_string, "'properties.enabled'"),
        (
            "alertRules/r",
            json!({"kind": "NRT", "properties": {"displayName": "d", "enabled": true, "severity": "Low", "query": "T", "suppressionEnabled": false}}),
            "'properties.suppressionDuration'",
        ),
        (
            "alertRules/r",
            json!({"kind": "MicrosoftSecurityIncidentCreation", "properties": {"displayName": "d", "enabled": true}}),
            "'properties.productFilter'",
        ),
        (
            "alertRules/r",
            json!({"kind": "fusion", "properties": {"enabled": true}}),
            "'properties.alertRuleTemplateName'",
        ),
        (
            "alertRules/r",
            json!({"kind": "Scheduled", "properties": []}),
            "'properties'",
        ),
        (
            "dataConnectors/c",
            json!({"kind": "AzureSecurityCenter", "properties": {"subscriptionId": "s", "dataTypes": {"alerts": {}}}}),
            "'properties.dataTypes.alerts.state'",
        ),
        (
            "dataConnectors/c",
            json!({"kind": "MicrosoftThreatProtection", "properties": {"tenantId": "t"}}),
            "'properties.dataTypes.incidents.state'",
        ),
        ("automationRules/a", order, "'properties.order'"),
        ("automationRules/a", actions, "'properties.actions'"),
    ];
    for (path, body, field) in cases {
        let r = put(&em, &at(path), &body);
        assert_eq!(r.status, 400, "{path} {body}");
        let (code, message) = r.arm_error();
        assert_eq!(code, "BadRequest");
        assert!(message.contains(field), "{field} not in {message}");
    }
    for raw in ["", "not json", "{\"kind\": ", "[1, 2]", "\"text\""] {
        let r = send_raw(&em, "PUT", &at("alertRules/r"), Some(raw));
        assert_eq!(r.status, 400, "{raw:?}");
        assert_eq!(r.arm_error().0, "InvalidRequestContent", "{raw:?}");
    }
    assert!(em.resources().is_empty());
    assert_eq!(em.writes(), 0);

    // Unknown kinds and fields pass untouched.
    let odd =
        json!({"kind": "BrandNewKind", "properties": {"anything": [1, {"x": null}]}, "extra": 1});
    let r = put(&em, &at("alertRules/odd"), &odd);
    assert_eq!(r.status, 201);
    let v = r.json();
    assert_eq!(v["properties"]["anything"], odd["properties"]["anything"]);
    assert_eq!(v["extra"], 1);
    let r = put(
        &em,
        &at("dataConnectors/o365"),
        &json!({"kind": "Office365"}),
    );
    assert_eq!(r.status, 201);
}

#[test]
fn seeded_resources_are_readable() {
    let em = start();
    let mut body = asc_connector();
    body["etag"] = json!("\"0300bf09-0000-0000-0000-5c37296e0000\"");
    let etag = em.seed(&id("dataConnectors/asc"), body);
    assert_eq!(etag, "\"0300bf09-0000-0000-0000-5c37296e0000\"");
    let fresh = em.seed(&id("alertRules/B-rule"), scheduled("b"));
    assert!(fresh.starts_with('"') && fresh.ends_with('"'));

    let r = get(&em, &at("dataConnectors/asc"));
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["etag"], json!(etag));
    assert_eq!(v["id"], json!(id("dataConnectors/asc")));
    assert_eq!(v["name"], "asc");
    assert_eq!(v["type"], "Microsoft.SecurityInsights/dataConnectors");
    assert_eq!(Some(v), em.get(&id("dataConnectors/ASC").to_uppercase()));

    // Seeding an existing resource under other casing keeps its id.
    em.seed(&id("alertrules/b-RULE"), scheduled("b2"));
    let all = em.resources();
    let ids: Vec<&str> = all.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(ids, vec![id("alertRules/B-rule"), id("dataConnectors/asc")]);
    assert_eq!(all[0].1["properties"]["displayName"], "b2");
    assert_eq!(em.writes(), 0);

    assert!(em.remove(&id("ALERTRULES/b-rule")));
    assert!(!em.remove(&id("alertRules/B-rule")));
    assert!(!em.remove("/not/an/id"));
    assert!(em.get("/not/an/id").is_none());
    assert_eq!(get(&em, &at("alertRules/B-rule")).status, 404);
}

#[test]
fn throttle_fault_answers_429_with_retry_after_and_changes_nothing() {
    let em = start_with(|c| {
        c.faults = Faults {
            throttle: 1.0,
            retry_after_secs: 7,
            ..Faults::default()
        }
    });
    em.seed(&id("alertRules/r"), scheduled("r"));
    let before = em.resources();
    let responses = [
        get(&em, &at("alertRules/r")),
        get(&em, &at("alertRules")),
        put(&em, &at("alertRules/r"), &scheduled("changed")),
        put(&em, &at("alertRules/new"), &scheduled("new")),
        delete(&em, &at("alertRules/r")),
        get(&em, "/nowhere"),
    ];
    for r in &responses {
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("7"));
        assert_eq!(r.arm_error().0, "TooManyRequests");
    }
    assert_eq!(em.resources(), before);
    assert_eq!(em.writes(), 0);
    let log = em.log();
    assert_eq!(log.len(), 6);
    assert!(log.iter().all(|l| l.status == 429));
    assert_eq!(
        log[2].body.as_ref().unwrap()["properties"]["displayName"],
        "changed"
    );

    em.set_faults(Faults {
        throttle: 1.0,
        ..Faults::default()
    });
    assert_eq!(
        get(&em, &at("alertRules/r")).header("retry-after"),
        Some("0")
    );
    em.set_faults(Faults::default());
    assert_eq!(get(&em, &at("alertRules/r")).status, 200);
}

#[test]
fn server_error_fault_answers_500_and_changes_nothing() {
    let em = start_with(|c| c.faults.server_error = 1.0);
    let r = put(&em, &at("alertRules/r"), &scheduled("r"));
    assert_eq!(r.status, 500);
    assert_eq!(r.arm_error().0, "InternalServerError");
    assert!(em.resources().is_empty());
    assert_eq!(em.writes(), 0);
}

/// Sends one request and reads everything until the server closes:
/// the bytes received, or the error (a reset is a closed connection too).
fn bytes_until_close(em: &Emulator, method: &str, target: &str, body: Option<&str>) -> Vec<u8> {
    let mut s = connect(em);
    write_request(&mut s, method, target, body, true);
    let mut received = Vec::new();
    match s.read_to_end(&mut received) {
        Ok(_) => {}
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            ),
            "expected a closed connection, got {e}"
        ),
    }
    received
}

#[test]
fn drop_fault_closes_the_connection_without_a_response() {
    let em = start_with(|c| c.faults.drop = 1.0);
    em.seed(&id("alertRules/r"), scheduled("r"));
    let before = em.resources();
    assert!(bytes_until_close(&em, "GET", &at("alertRules/r"), None).is_empty());
    let body = scheduled("changed").to_string();
    assert!(bytes_until_close(&em, "PUT", &at("alertRules/r"), Some(&body)).is_empty());
    assert!(bytes_until_close(&em, "DELETE", &at("alertRules/r"), None).is_empty());
    assert_eq!(em.resources(), before);
    assert_eq!(em.writes(), 0);
    let log = em.log();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|l| l.status == 0));

    // Drawn per request from the seeded RNG: about half survive at 0.5.
    em.set_faults(Faults {
        drop: 0.5,
        ..Faults::default()
    });
    let answered = (0..40)
        .filter(|_| !bytes_until_close(&em, "GET", &at("alertRules/r"), None).is_empty())
        .count();
    assert!((5..=35).contains(&answered), "{answered}");
}

#[test]
fn write_budget_throttles_the_third_write_in_a_second() {
    let em = start_with(|c| c.faults.writes_per_second = Some(2));
    assert_eq!(put(&em, &at("alertRules/r1"), &scheduled("1")).status, 201);
    assert_eq!(put(&em, &at("alertRules/r2"), &scheduled("2")).status, 201);
    let r = put(&em, &at("alertRules/r3"), &scheduled("3"));
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.arm_error().0, "TooManyRequests");
    assert_eq!(delete(&em, &at("alertRules/r1")).status, 429);
    // Reads are not budgeted.
    assert_eq!(get(&em, &at("alertRules/r1")).status, 200);
    assert!(em.get(&id("alertRules/r3")).is_none());
    assert_eq!(em.writes(), 2);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(put(&em, &at("alertRules/r3"), &scheduled("3")).status, 201);
    assert_eq!(em.writes(), 3);
}

#[test]
fn latency_delays_answers_without_serialising_them() {
    let em = start_with(|c| c.faults.latency = Duration::from_millis(200));
    em.seed(&id("alertRules/r"), scheduled("r"));
    let t = Instant::now();
    assert_eq!(get(&em, &at("alertRules/r")).status, 200);
    assert!(t.elapsed() >= Duration::from_millis(200));

    let t = Instant::now();
    std::thread::scope(|s| {
        let a = s.spawn(|| get(&em, &at("alertRules/r")).status);
        let b = s.spawn(|| get(&em, &at("alertRules")).status);
        assert_eq!(a.join().unwrap(), 200);
        assert_eq!(b.join().unwrap(), 200);
    });
    let elapsed = t.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(380),
        "serialised: {elapsed:?}"
    );
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let em = start();
    let stream = connect(&em);
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let body = scheduled("k").to_string();
    write_request(&mut writer, "PUT", &at("alertRules/k"), Some(&body), false);
    assert_eq!(read_response(&mut reader).unwrap().unwrap().status, 201);
    write_request(&mut writer, "GET", &at("alertRules/k"), None, false);
    assert_eq!(read_response(&mut reader).unwrap().unwrap().status, 200);
    write_request(&mut writer, "GET", &at("alertRules/none"), None, false);
    assert_eq!(read_response(&mut reader).unwrap().unwrap().status, 404);
    write_request(&mut writer, "DELETE", &at("alertRules/k"), None, false);
    assert_eq!(read_response(&mut reader).unwrap().unwrap().status, 200);
    write_request(&mut writer, "DELETE", &at("alertRules/k"), None, true);
    assert_eq!(read_response(&mut reader).unwrap().unwrap().status, 204);
    assert_eq!(em.log().len(), 5);
}

#[test]
fn many_concurrent_connections_are_served() {
    let em = start();
    std::thread::scope(|s| {
        for t in 0..16 {
            let em = &em;
            s.spawn(move || {
                for i in 0..10 {
                    let r = put(
                        em,
                        &at(&format!("automationRules/t{t}-{i}")),
                        &automation("c"),
                    );
                    assert_eq!(r.status, 201);
                }
            });
        }
    });
    assert_eq!(em.resources().len(), 160);
    assert_eq!(em.writes(), 160);
    let etags: std::collections::BTreeSet<String> = em
        .resources()
        .into_iter()
        .map(|(_, b)| b["etag"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(etags.len(), 160, "etags are unique");
}

#[test]
fn the_log_records_requests_in_order_and_can_be_cleared() {
    let em = start();
    let body = scheduled("logged");
    put(&em, &at("alertRules/a%20b"), &body);
    get(&em, &at("alertRules/a%20b"));
    delete(&em, &at("alertRules/a%20b"));
    let log = em.log();
    let summary: Vec<(&str, &str, u16)> = log
        .iter()
        .map(|l| (l.method.as_str(), l.path.as_str(), l.status))
        .collect();
    let path = at("alertRules/a%20b");
    assert_eq!(
        summary,
        vec![
            ("PUT", path.as_str(), 201),
            ("GET", path.as_str(), 200),
            ("DELETE", path.as_str(), 200)
        ]
    );
    assert_eq!(log[0].body, Some(body));
    assert_eq!(log[1].body, None);
    let serialised = serde_json::to_value(&log[0]).unwrap();
    assert_eq!(serialised["status"], 201);
    em.clear_log();
    assert!(em.log().is_empty());
    get(&em, &at("alertRules"));
    assert_eq!(em.log().len(), 1);
    assert_eq!(em.log()[0].status, 200);
}

#[test]
fn dropping_the_emulator_stops_the_server() {
    let em = start();
    let port = em.port();
    // An idle keep-alive connection must not keep it alive.
    let idle = connect(&em);
    let t = Instant::now();
    drop(em);
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    drop(idle);
}

/// The official examples (in ../shared, when present): every create body is
/// accepted (without its etag, since the resource does not exist yet) and
/// can then be updated with the returned etag; every single resource and
/// list of a GET example can be seeded and read back.
#[test]
fn official_examples_are_served() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/arm-spec-examples");
    if !dir.is_dir() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let (mut puts, mut gets, mut lists) = (0, 0, 0);
    for file in files {
        let em = start_with(|c| c.page_size = 5);
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let p = &doc["parameters"];
        let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
        let namespace = p["operationalInsightsResourceProvider"]
            .as_str()
            .unwrap_or("Microsoft.OperationalInsights");
        let ws = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/{namespace}/workspaces/{}/providers/Microsoft.SecurityInsights",
            s("subscriptionId"),
            s("resourceGroupName"),
            s("workspaceName")
        );
        let version = s("api-version");
        let (ty, item, body) = if p.get("ruleId").is_some() || p.get("alertRule").is_some() {
            ("alertRules", s("ruleId"), p.get("alertRule"))
        } else if p.get("dataConnectorId").is_some() || p.get("dataConnector").is_some() {
            (
                "dataConnectors",
                s("dataConnectorId"),
                p.get("dataConnector"),
            )
        } else if p.get("automationRuleId").is_some() || p.get("automationRule").is_some() {
            (
                "automationRules",
                s("automationRuleId"),
                p.get("automationRule"),
            )
        } else {
            // A list: the type from the file name.
            let ty = if name.contains("AlertRules") {
                "alertRules"
            } else if name.contains("DataConnectors") {
                "dataConnectors"
            } else {
                "automationRules"
            };
            (ty, String::new(), None)
        };
        let response = &doc["responses"]["200"]["body"];
        if let Some(body) = body {
            let target = format!("{ws}/{ty}/{item}?api-version={version}");
            let mut request = body.clone();
            request.as_object_mut().unwrap().remove("etag");
            let r = put(&em, &target, &request);
            assert_eq!(
                r.status,
                201,
                "{name}: {:?}",
                String::from_utf8_lossy(&r.body)
            );
            let stored = r.json();
            assert_eq!(stored["kind"], request["kind"], "{name}");
            for (k, v) in request["properties"].as_object().unwrap() {
                if [
                    "lastModifiedUtc",
                    "lastModifiedTimeUtc",
                    "createdTimeUtc",
                    "createdBy",
                    "lastModifiedBy",
                ]
                .contains(&k.as_str())
                {
                    continue;
                }
                assert_eq!(&stored["properties"][k], v, "{name}: properties.{k}");
            }
            request["etag"] = stored["etag"].clone();
            assert_eq!(put(&em, &target, &request).status, 200, "{name}");
            puts += 1;
        } else if response.get("id").is_some() {
            let rid = response["id"].as_str().unwrap();
            em.seed(rid, response.clone());
            let r = get(&em, &format!("{ws}/{ty}/{item}?api-version={version}"));
            assert_eq!(r.status, 200, "{name}");
            assert_eq!(r.json(), *response, "{name}");
            gets += 1;
        } else if let Some(values) = response["value"].as_array() {
            let mut expected: Vec<String> = Vec::new();
            for v in values {
                let rid = v["id"].as_str().unwrap();
                em.seed(rid, v.clone());
                let key = rid.rsplit('/').next().unwrap().to_lowercase();
                if !expected.contains(&key) {
                    expected.push(key);
                }
            }
            expected.sort();
            let mut got = Vec::new();
            let mut target = format!("{ws}/{ty}?api-version={version}");
            loop {
                let v = get(&em, &target).json();
                for i in v["value"].as_array().unwrap() {
                    got.push(i["name"].as_str().unwrap().to_lowercase());
                }
                match v["nextLink"].as_str() {
                    Some(next) => target = next.strip_prefix(&em.url()).unwrap().to_string(),
                    None => break,
                }
            }
            assert_eq!(got, expected, "{name}");
            lists += 1;
        }
    }
    assert!(
        puts >= 8 && gets >= 8 && lists >= 4,
        "{puts} {gets} {lists}"
    );
}

#[test]
fn subscriptions_answer_with_their_tenant() {
    let em = start();
    em.add_subscription(
        "8D6F3C21-4b7a-4e2f-9c15-2a7e0b9d4f11",
        "72f988bf-0000-4c3a-9d1e-5b2c7a8e4f10",
    );
    let r = get(
        &em,
        "/subscriptions/8d6f3c21-4b7a-4e2f-9c15-2a7e0b9d4f11?api-version=2022-12-01",
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["tenantId"], "72f988bf-0000-4c3a-9d1e-5b2c7a8e4f10");
    assert_eq!(
        v["id"],
        "/subscriptions/8D6F3C21-4b7a-4e2f-9c15-2a7e0b9d4f11"
    );
    assert_eq!(v["subscriptionId"], "8D6F3C21-4b7a-4e2f-9c15-2a7e0b9d4f11");
    let r = get(
        &em,
        "/subscriptions/00000000-0000-4000-8000-000000000000?api-version=2022-12-01",
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.arm_error().0, "SubscriptionNotFound");
    let r = get(&em, "/subscriptions/8d6f3c21-4b7a-4e2f-9c15-2a7e0b9d4f11");
    assert_eq!(r.status, 400);
    let r = delete(
        &em,
        "/subscriptions/8d6f3c21-4b7a-4e2f-9c15-2a7e0b9d4f11?api-version=2022-12-01",
    );
    assert_eq!(r.status, 405);
}

// ---- the Log Analytics query API (verify --data) ---------------------------

/// The workspace of `WS` (without its SecurityInsights provider).
fn workspace() -> String {
    WS.trim_end_matches("/providers/Microsoft.SecurityInsights")
        .to_string()
}

/// A query of sentinel-migrate's shape: marker line, `let` header, body.
fn tool_query(check: &str) -> String {
    format!(
        "// sentinel-migrate verify --data: {check}\n\
         let window_start = datetime(2026-11-20T00:00:00Z);\n\
         let window_end = datetime(2026-11-27T00:00:00Z);\n\
         let switched_at = datetime(2026-11-23T12:00:00Z);\n\
         let dfc_products = dynamic([\"Azure Security Center\"]);\n\
         let sentinel_providers = dynamic([\"Azure Sentinel\"]);\n\
         SecurityIncident | take 1"
    )
}

fn post_query(em: &Emulator, version: &str, query: &str) -> Resp {
    send_raw(
        em,
        "POST",
        &format!("{}/api/query?api-version={version}", workspace()),
        Some(&json!({"query": query, "timespan": "P7D"}).to_string()),
    )
}

#[test]
fn log_queries_are_answered_from_the_seeded_rows() {
    let em = start();
    let alert = |id: &str, t: &str, sev: &str| json!({"TimeGenerated": t, "SystemAlertId": id, "ProductName": "Azure Security Center", "AlertSeverity": sev, "AlertName": "n"});
    em.seed_logs(
        &workspace(),
        &json!({
            "SecurityAlert": [
                alert("a", "2026-11-22T10:00:00Z", "High"),
                alert("b", "2026-11-24T10:00:00Z", "High"),
                // An update of b: one alert, counted once, at its latest row.
                alert("b", "2026-11-24T11:00:00Z", "High"),
                alert("c", "2026-11-24T12:00:00Z", "Informational"),
                alert("old", "2026-11-01T10:00:00Z", "High"),
                {"TimeGenerated": "2026-11-24T10:00:00Z", "SystemAlertId": "x", "ProductName": "Azure Security Center for IoT", "AlertSeverity": "High"},
            ],
            "SecurityIncident": [
                // Incident 1: first with b alone, then (latest row) with b and c.
                {"TimeGenerated": "2026-11-24T10:30:00Z", "IncidentName": "i1", "IncidentNumber": 1, "ProviderName": "Microsoft XDR", "CreatedTime": "2026-11-24T10:30:00Z", "AlertIds": "[\"b\"]", "RelatedAnalyticRuleIds": []},
                {"TimeGenerated": "2026-11-24T12:30:00Z", "IncidentName": "i1", "IncidentNumber": 1, "ProviderName": "Microsoft XDR", "CreatedTime": "2026-11-24T10:30:00Z", "AlertIds": "[\"b\",\"c\"]", "RelatedAnalyticRuleIds": []},
                {"TimeGenerated": "2026-11-24T10:40:00Z", "IncidentName": "i2", "IncidentNumber": 2, "ProviderName": "Azure Sentinel", "CreatedTime": "2026-11-24T10:40:00Z", "AlertIds": ["b"], "RelatedAnalyticRuleIds": ["rule-1"]},
                {"TimeGenerated": "2026-11-24T12:40:00Z", "IncidentName": "i3", "IncidentNumber": 3, "ProviderName": "Azure Sentinel", "CreatedTime": "2026-11-24T12:40:00Z", "AlertIds": ["c"], "RelatedAnalyticRuleIds": []},
            ],
        }),
    );
    let rows = |check: &str| {
        let r = post_query(&em, "2020-08-01", &tool_query(check));
        assert_eq!(
            r.status,
            200,
            "{check}: {:?}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        assert_eq!(v["tables"][0]["name"], "PrimaryResult", "{v}");
        assert!(v["tables"][0]["columns"][0]["type"].is_string(), "{v}");
        v["tables"][0]["rows"].clone()
    };
    assert_eq!(
        rows("alerts-per-day"),
        json!([
            ["2026-11-22T00:00:00Z", false, 1],
            ["2026-11-24T00:00:00Z", true, 1]
        ])
    );
    assert_eq!(
        rows("xdr-incidents"),
        json!([["Azure Sentinel", 2], ["Microsoft XDR", 1]])
    );
    // c sits in i1 only through i1's latest row: incidents are collapsed.
    assert_eq!(
        rows("duplicates"),
        json!([
            [
                "b",
                "n",
                2,
                "[\"1\",\"2\"]",
                "[\"Azure Sentinel\",\"Microsoft XDR\"]"
            ],
            [
                "c",
                "n",
                2,
                "[\"1\",\"3\"]",
                "[\"Azure Sentinel\",\"Microsoft XDR\"]"
            ]
        ])
    );
    assert_eq!(
        rows("sentinel-incidents"),
        json!([["", 1, "[\"3\"]"], ["rule-1", 1, "[\"2\"]"]])
    );
}

#[test]
fn log_queries_refuse_what_they_do_not_serve() {
    let em = start();
    em.add_workspace(&workspace());
    let r = post_query(&em, "2020-08-01", "SecurityAlert | take 10");
    assert_eq!(r.status, 400);
    let (code, message) = r.arm_error();
    assert_eq!(code, "BadArgumentError");
    assert!(message.contains("runs no KQL"), "{message}");
    let r = post_query(&em, "2025-09-01", &tool_query("duplicates"));
    assert_eq!(
        (r.status, r.arm_error().0.as_str()),
        (400, "InvalidApiVersionParameter")
    );
    let r = get(
        &em,
        &format!("{}/api/query?api-version=2020-08-01", workspace()),
    );
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    let other = workspace().replace("/workspaces/", "/workspaces/other-");
    let r = send_raw(
        &em,
        "POST",
        &format!("{other}/api/query?api-version=2020-08-01"),
        Some("{\"query\":\"x\"}"),
    );
    assert_eq!(
        (r.status, r.arm_error().0.as_str()),
        (404, "ResourceNotFound")
    );
    let r = send_raw(
        &em,
        "POST",
        &format!("{}/api/query?api-version=2020-08-01", workspace()),
        Some("[]"),
    );
    assert_eq!(
        (r.status, r.arm_error().0.as_str()),
        (400, "BadArgumentError")
    );
    // An empty workspace answers with no rows.
    let r = post_query(&em, "2020-08-01", &tool_query("duplicates"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["tables"][0]["rows"], json!([]));
    em.deny_queries(&workspace());
    let r = post_query(&em, "2020-08-01", &tool_query("duplicates"));
    assert_eq!(
        (r.status, r.arm_error().0.as_str()),
        (403, "AuthorizationFailed")
    );
}
