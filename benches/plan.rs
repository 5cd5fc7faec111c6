//! Planning a fleet against the cost of parsing it: 100 workspace folders of
//! 1,000 analytics rules each (pretty-printed `az rest` lists, with their
//! data connectors and automation rules; ~235 MB), planned by the whole
//! `plan DIR... --out OUT` pipeline (read, parse, classify, plan, render,
//! write), against the floor: `serde_json::from_slice::<Value>` of every
//! `.json` file of the fleet, on one thread, in the same process run. Both
//! run hot (every file read once before timing), interleaved, best of
//! [`RUNS`].
//!
//!     cargo bench --bench plan              # the full fleet
//!     BENCH_SCALE=0.1 cargo bench --bench plan   # 10 workspaces, quick
//!
//! Prints: the floor and the plan (seconds, ratio); the plan's peak memory
//! (VmHWM of a child process running the plan once: the floor's memory is
//! not in it) against the input bytes; the plan of 10, 50 and 100
//! workspaces on one line; one file of 10,000 rules against ten of 1,000
//! (with one thread and with the default); and the plan with mimalloc (the
//! binary's allocator, and this one's in process) against the system
//! allocator, each in a child process of this binary, whose global
//! allocator is chosen at start by `BENCH_ALLOC`.
//!
//! Targets (issue 12): plan at most 1.0x the floor on a 2-core machine;
//! peak memory at most 2x the input bytes; time linear in the input; one
//! big file within 1.2x of ten small ones. Figures: docs/performance.md.

use serde_json::{Value, json};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

const RUNS: usize = 3;
const RULES_PER_WORKSPACE: usize = 1000;

// ---- the allocator, chosen per process -------------------------------------

/// mimalloc (the binary's allocator) or the system's, as `BENCH_ALLOC` says
/// (`system`, or anything else or nothing for mimalloc), decided at the
/// first allocation (before `main`, on the only thread) and never changed.
struct Switch;

static CHOICE: AtomicU8 = AtomicU8::new(0);
const SYSTEM: u8 = 1;
const MIMALLOC: u8 = 2;

fn mimalloc_chosen() -> bool {
    let mut c = CHOICE.load(Ordering::Relaxed);
    if c == 0 {
        // SAFETY: getenv reads the environment without allocating; nothing
        // writes the environment before the first allocation.
        let v = unsafe { libc::getenv(c"BENCH_ALLOC".as_ptr()) };
        let system = !v.is_null() && unsafe { std::ffi::CStr::from_ptr(v) }.to_bytes() == b"system";
        c = if system { SYSTEM } else { MIMALLOC };
        CHOICE.store(c, Ordering::Relaxed);
    }
    c == MIMALLOC
}

// SAFETY: every call is forwarded to one allocator, the same for the whole
// process, so what one allocates the same one frees.
unsafe impl GlobalAlloc for Switch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if mimalloc_chosen() {
            unsafe { mimalloc::MiMalloc.alloc(layout) }
        } else {
            unsafe { System.alloc(layout) }
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if mimalloc_chosen() {
            unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
        } else {
            unsafe { System.dealloc(ptr, layout) }
        }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if mimalloc_chosen() {
            unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
        } else {
            unsafe { System.alloc_zeroed(layout) }
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if mimalloc_chosen() {
            unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
        } else {
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}

#[global_allocator]
static GLOBAL: Switch = Switch;

// ---- the fleet ---------------------------------------------------------------

fn workspace_id(w: usize) -> String {
    format!(
        "/subscriptions/00000000-0000-4000-8000-{w:012}/resourceGroups/rg-soc/providers/Microsoft.OperationalInsights/workspaces/law-{w:03}"
    )
}

fn tenant(w: usize) -> String {
    format!("11111111-0000-4000-8000-{w:012}")
}

/// One analytics rule of a realistic mix: mostly Scheduled rules on other
/// tables, one in ten reading Defender for Cloud alerts, Microsoft incident
/// creation rules (some for Defender for Cloud), NRT and Fusion.
fn rule(ws: &str, i: usize) -> Value {
    let name = format!("00000000-0000-4000-9000-{i:012}");
    let id = format!("{ws}/providers/Microsoft.SecurityInsights/alertRules/{name}");
    let etag = format!("\"{i:08x}-0000-0100-0000-650000000000\"");
    let modified = "2024-03-11T09:42:17.5520913Z";
    match i % 100 {
        0 | 50 => {
            return json!({
                "id": id, "name": name, "etag": etag,
                "type": "Microsoft.SecurityInsights/alertRules",
                "kind": "MicrosoftSecurityIncidentCreation",
                "properties": {
                    "displayName": format!("Create incidents based on Microsoft Defender for Cloud alerts {i}"),
                    "description": "Create incidents based on all alerts generated in Microsoft Defender for Cloud",
                    "enabled": true,
                    "productFilter": "Azure Security Center",
                    "severitiesFilter": ["High", "Medium", "Low"],
                    "displayNamesFilter": null,
                    "displayNamesExcludeFilter": ["Suspicious process executed"],
                    "alertRuleTemplateName": "90586451-7ba8-4c1e-9904-7d1b7c3cc4d6",
                    "lastModifiedUtc": modified
                }
            });
        }
        25 => {
            return json!({
                "id": id, "name": name, "etag": etag,
                "type": "Microsoft.SecurityInsights/alertRules",
                "kind": "MicrosoftSecurityIncidentCreation",
                "properties": {
                    "displayName": format!("Create incidents based on Microsoft Defender for Endpoint alerts {i}"),
                    "enabled": true,
                    "productFilter": "Microsoft Defender Advanced Threat Protection",
                    "severitiesFilter": null, "displayNamesFilter": null, "displayNamesExcludeFilter": null,
                    "lastModifiedUtc": modified
                }
            });
        }
        99 => {
            return json!({
                "id": id, "name": name, "etag": etag,
                "type": "Microsoft.SecurityInsights/alertRules",
                "kind": "Fusion",
                "properties": {
                    "displayName": "Advanced Multistage Attack Detection",
                    "description": "Microsoft Sentinel uses Fusion, a correlation engine based on scalable machine learning algorithms, to automatically detect multistage attacks.",
                    "alertRuleTemplateName": "f71aba3d-28fb-450b-b192-4e76a83015c8",
                    "tactics": ["Collection", "CommandAndControl", "DefenseEvasion", "Discovery", "Execution", "Exfiltration", "Impact", "InitialAccess", "LateralMovement", "Persistence", "PrivilegeEscalation"],
                    "enabled": true, "severity": "High",
                    "lastModifiedUtc": modified
                }
            });
        }
        _ => {}
    }
    let query = if i % 10 == 3 {
        "// Defender for Cloud alerts on hosts\nSecurityAlert\n| where ProductName == \"Azure Security Center\"\n| where AlertSeverity in (\"High\", \"Medium\")\n| extend Host = tostring(parse_json(Entities)[0].HostName)\n| project TimeGenerated, AlertName, Host, CompromisedEntity, Tactics".to_string()
    } else if i % 10 == 6 {
        format!(
            "let threshold = {};\nSecurityEvent\n| where EventID == 4625 and AccountType =~ \"User\"\n| summarize FailedLogons = count(), Accounts = make_set(TargetAccount, 50) by Computer, IpAddress, bin(TimeGenerated, 10m)\n| where FailedLogons > threshold\n| extend HostName = tostring(split(Computer, \".\")[0]), DnsDomain = strcat_array(array_slice(split(Computer, \".\"), 1, -1), \".\")",
            i % 40 + 10
        )
    } else {
        format!(
            "SigninLogs\n| where ResultType != 0 and AppDisplayName == \"App {i}\"\n| summarize Failures = count(), Apps = make_set(AppDisplayName) by UserPrincipalName, IPAddress, bin(TimeGenerated, 1h)\n| where Failures > {}\n| join kind=leftouter (AADNonInteractiveUserSignInLogs | summarize NonInteractive = count() by UserPrincipalName) on UserPrincipalName\n| project TimeGenerated, UserPrincipalName, IPAddress, Failures, NonInteractive",
            i % 50 + 5
        )
    };
    let kind = if i % 50 == 7 { "NRT" } else { "Scheduled" };
    let display = if i.is_multiple_of(7) {
        format!("Échecs de connexion répétés {i}")
    } else {
        format!("Repeated sign-in failures from one address {i}")
    };
    json!({
        "id": id, "name": name, "etag": etag,
        "type": "Microsoft.SecurityInsights/alertRules",
        "kind": kind,
        "properties": {
            "displayName": display,
            "description": "Repeated failed sign-ins for one user from one address: password spray or brute force.",
            "severity": "Medium",
            "enabled": true,
            "query": query,
            "queryFrequency": "PT1H",
            "queryPeriod": "PT1H",
            "triggerOperator": "GreaterThan",
            "triggerThreshold": 0,
            "suppressionDuration": "PT5H",
            "suppressionEnabled": false,
            "tactics": ["CredentialAccess", "InitialAccess"],
            "techniques": ["T1110", "T1078"],
            "alertRuleTemplateName": null,
            "templateVersion": "1.0.3",
            "incidentConfiguration": {
                "createIncident": true,
                "groupingConfiguration": {
                    "enabled": false,
                    "reopenClosedIncident": false,
                    "lookbackDuration": "PT5H",
                    "matchingMethod": "AllEntities",
                    "groupByEntities": [],
                    "groupByAlertDetails": [],
                    "groupByCustomDetails": []
                }
            },
            "eventGroupingSettings": {"aggregationKind": "SingleAlert"},
            "customDetails": {"FailureCount": "Failures"},
            "entityMappings": [
                {"entityType": "Account", "fieldMappings": [{"identifier": "FullName", "columnName": "UserPrincipalName"}]},
                {"entityType": "IP", "fieldMappings": [{"identifier": "Address", "columnName": "IPAddress"}]}
            ],
            "lastModifiedUtc": modified
        }
    })
}

fn connectors(ws: &str, w: usize) -> Value {
    let c = |name: &str, body: Value| {
        let mut v = body;
        v["id"] = json!(format!(
            "{ws}/providers/Microsoft.SecurityInsights/dataConnectors/{name}"
        ));
        v["name"] = json!(name);
        v["type"] = json!("Microsoft.SecurityInsights/dataConnectors");
        v["etag"] = json!("\"0300bf09-0000-0000-0000-5c37296e0000\"");
        v
    };
    json!({"value": [
        c(&format!("asc-{w}"), json!({"kind": "AzureSecurityCenter", "properties": {
            "subscriptionId": format!("00000000-0000-4000-8000-{w:012}"),
            "dataTypes": {"alerts": {"state": "Enabled"}}}})),
        c("mtp", json!({"kind": "MicrosoftThreatProtection", "properties": {
            "tenantId": tenant(w),
            "dataTypes": {"incidents": {"state": "Enabled"}, "alerts": {"state": "Disabled"}}}})),
        c("AzureSecurityCenter", json!({"kind": "StaticUI", "properties": {
            "connectorUiConfig": {"title": "Subscription-based Microsoft Defender for Cloud (Legacy)"}}})),
    ]})
}

fn automation_rules(ws: &str) -> Value {
    let rules: Vec<Value> = (0..5)
        .map(|i| {
            let name = format!("aaaaaaaa-0000-4000-9000-{i:012}");
            let condition = match i {
                0 => json!({"conditionType": "Property", "conditionProperties": {
                    "propertyName": "IncidentProviderName", "operator": "Equals",
                    "propertyValues": ["Azure Security Center"]}}),
                1 => json!({"conditionType": "Property", "conditionProperties": {
                    "propertyName": "IncidentTitle", "operator": "Contains",
                    "propertyValues": ["Suspicious"]}}),
                _ => json!({"conditionType": "Property", "conditionProperties": {
                    "propertyName": "IncidentSeverity", "operator": "Equals",
                    "propertyValues": ["Low"]}}),
            };
            json!({
                "id": format!("{ws}/providers/Microsoft.SecurityInsights/automationRules/{name}"),
                "name": name,
                "type": "Microsoft.SecurityInsights/automationRules",
                "etag": "\"1a00b5c4-0000-0100-0000-650000000000\"",
                "properties": {
                    "displayName": format!("Triage {i}"),
                    "order": i + 1,
                    "triggeringLogic": {"isEnabled": true, "triggersOn": "Incidents", "triggersWhen": "Created", "conditions": [condition]},
                    "actions": [{"order": 1, "actionType": "ModifyProperties", "actionConfiguration": {"status": "Closed", "classification": "BenignPositive", "classificationReason": "SuspiciousButExpected"}}]
                }
            })
        })
        .collect();
    json!({ "value": rules })
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("a generated value serialises")
}

/// Writes `workspaces` folders of [`RULES_PER_WORKSPACE`] rules; returns them.
fn write_fleet(root: &Path, workspaces: usize) -> Vec<PathBuf> {
    (0..workspaces)
        .map(|w| {
            let dir = root.join(format!("ws-{w:03}"));
            std::fs::create_dir_all(&dir).expect("temp folder");
            let ws = workspace_id(w);
            let rules: Vec<Value> = (0..RULES_PER_WORKSPACE).map(|i| rule(&ws, i)).collect();
            let files = [
                ("alertRules.json", pretty(&json!({ "value": rules }))),
                ("dataConnectors.json", pretty(&connectors(&ws, w))),
                ("automationRules.json", pretty(&automation_rules(&ws))),
            ];
            for (name, text) in files {
                std::fs::write(dir.join(name), text).expect("temp file");
            }
            dir
        })
        .collect()
}

/// One workspace of `rules` rules, in one file or in `files` of equal size.
fn write_split(dir: &Path, rules: usize, files: usize) {
    std::fs::create_dir_all(dir).expect("temp folder");
    let ws = workspace_id(0);
    let per = rules / files;
    for f in 0..files {
        let list =
            json!({"value": (f * per..(f + 1) * per).map(|i| rule(&ws, i)).collect::<Vec<_>>()});
        let name = if files == 1 {
            "alertRules.json".to_string()
        } else {
            format!("alertRules-{f}.json")
        };
        std::fs::write(dir.join(name), pretty(&list)).expect("temp file");
    }
    std::fs::write(dir.join("dataConnectors.json"), pretty(&connectors(&ws, 0))).expect("temp");
    std::fs::write(
        dir.join("automationRules.json"),
        pretty(&automation_rules(&ws)),
    )
    .expect("temp");
}

fn json_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for d in dirs {
        let mut here: Vec<PathBuf> = std::fs::read_dir(d)
            .expect("temp folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        here.sort();
        files.extend(here);
    }
    files
}

// ---- the runs ----------------------------------------------------------------

/// The floor: every file parsed into a `Value`, one thread, bytes in memory.
fn floor(bytes: &[Vec<u8>]) -> Duration {
    let start = Instant::now();
    for b in bytes {
        let v: Value = serde_json::from_slice(b).expect("generated JSON parses");
        std::hint::black_box(&v);
    }
    start.elapsed()
}

/// The whole `plan DIR... --out OUT` pipeline, in this process.
fn plan(dirs: &[PathBuf], jobs: Option<usize>) -> Duration {
    let out = tempfile::tempdir().expect("temp folder");
    let mut args: Vec<String> = vec!["sentinel-migrate".into(), "plan".into()];
    args.extend(dirs.iter().map(|d| d.display().to_string()));
    args.push("--out".into());
    args.push(out.path().join("plan").display().to_string());
    if let Some(j) = jobs {
        args.push(format!("--jobs={j}"));
    }
    let start = Instant::now();
    let cli = sentinel_migrate::cli::parse_from(args).expect("bench arguments parse");
    let mut sink = Vec::new();
    let exit = sentinel_migrate::app::run(cli, &mut sink, false);
    let took = start.elapsed();
    if let Err(e) = exit {
        panic!("plan failed: {e}");
    }
    took
}

fn best(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..runs).map(|_| f()).min().unwrap_or_default()
}

/// The peak resident memory of this process so far (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// One plan in a child process of this binary with `allocator`: its time
/// and peak memory.
fn child(dirs: &[PathBuf], allocator: &str) -> (Duration, u64) {
    let exe = std::env::current_exe().expect("the bench binary");
    let output = std::process::Command::new(exe)
        .env("BENCH_CHILD", "1")
        .env("BENCH_ALLOC", allocator)
        .args(dirs)
        .output()
        .expect("the bench binary runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |k: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("child printed no {k}: {text}"))
    };
    (
        Duration::from_secs_f64(field("secs=")),
        field("peak=") as u64,
    )
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn main() {
    if std::env::var_os("BENCH_CHILD").is_some() {
        let dirs: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
        let took = plan(&dirs, None);
        println!("secs={} peak={}", took.as_secs_f64(), peak_rss());
        return;
    }
    // `cargo bench` passes `--bench`.
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let workspaces = ((100.0 * scale).round() as usize).max(1);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    // `BENCH_FLEET=DIR`: only write the fleet into DIR (to profile `plan` on it).
    if let Some(dir) = std::env::var_os("BENCH_FLEET") {
        let dirs = write_fleet(Path::new(&dir), workspaces);
        println!(
            "{} workspace folders written into {}",
            dirs.len(),
            Path::new(&dir).display()
        );
        return;
    }
    let root = tempfile::tempdir().expect("temp folder");
    let dirs = write_fleet(root.path(), workspaces);
    let files = json_files(&dirs);
    // Read once: both the floor and the plan run hot.
    let bytes: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("temp file"))
        .collect();
    let input: u64 = bytes.iter().map(|b| b.len() as u64).sum();
    println!(
        "fleet: {workspaces} workspaces x {RULES_PER_WORKSPACE} rules, {} files, {:.1} MB; {cpus} CPUs",
        files.len(),
        mb(input)
    );

    let (mut floor_best, mut plan_best) = (Duration::MAX, Duration::MAX);
    for _ in 0..RUNS {
        floor_best = floor_best.min(floor(&bytes));
        plan_best = plan_best.min(plan(&dirs, None));
    }
    drop(bytes);
    let ratio = plan_best.as_secs_f64() / floor_best.as_secs_f64();
    println!(
        "floor (serde_json::from_slice into Value, 1 thread): {:.3} s; plan: {:.3} s; ratio {ratio:.2}x (target <= 1.0x)",
        floor_best.as_secs_f64(),
        plan_best.as_secs_f64()
    );
    let plan_one = best(RUNS, || plan(&dirs, Some(1)));
    println!(
        "plan --jobs 1: {:.3} s ({:.2}x the floor)",
        plan_one.as_secs_f64(),
        plan_one.as_secs_f64() / floor_best.as_secs_f64()
    );

    // Alternated, best of RUNS each: the machine's noise hits both alike.
    let (mut mi_time, mut mi_peak) = (Duration::MAX, 0);
    let (mut sys_time, mut sys_peak) = (Duration::MAX, 0);
    for _ in 0..RUNS {
        let (t, p) = child(&dirs, "mimalloc");
        (mi_time, mi_peak) = (mi_time.min(t), mi_peak.max(p));
        let (t, p) = child(&dirs, "system");
        (sys_time, sys_peak) = (sys_time.min(t), sys_peak.max(p));
    }
    println!(
        "peak memory of the plan (mimalloc, as the binary): {:.1} MB, {:.2}x the {:.1} MB of input (target <= 2x)",
        mb(mi_peak),
        mi_peak as f64 / input as f64,
        mb(input)
    );
    println!(
        "allocator (child processes, best of {RUNS} each): mimalloc (the binary's) {:.3} s, {:.1} MB peak; system {:.3} s, {:.1} MB peak; mimalloc saves {:.0}% of the time for {:.0} MB more at the peak",
        mi_time.as_secs_f64(),
        mb(mi_peak),
        sys_time.as_secs_f64(),
        mb(sys_peak),
        (1.0 - mi_time.as_secs_f64() / sys_time.as_secs_f64()) * 100.0,
        mb(mi_peak) - mb(sys_peak)
    );

    let mut line = String::from("per size:");
    for share in [10, 50, 100] {
        let n = (workspaces * share / 100).max(1);
        let t = best(RUNS, || plan(&dirs[..n], None));
        line.push_str(&format!(
            " {n} ws {:.3} s ({:.1} ms/ws);",
            t.as_secs_f64(),
            t.as_secs_f64() * 1000.0 / n as f64
        ));
    }
    println!("{}", line.trim_end_matches(';'));

    let rules = ((10_000.0 * scale).round() as usize).max(1000) / 10 * 10;
    let one = root.path().join("one-file");
    let ten = root.path().join("ten-files");
    write_split(&one, rules, 1);
    write_split(&ten, rules, 10);
    for jobs in [None, Some(1)] {
        let t1 = best(RUNS, || plan(std::slice::from_ref(&one), jobs));
        let t10 = best(RUNS, || plan(std::slice::from_ref(&ten), jobs));
        println!(
            "one file of {rules} rules vs ten of {} ({}): {:.3} s vs {:.3} s, ratio {:.2}x (target <= 1.2x)",
            rules / 10,
            jobs.map_or("default jobs".to_string(), |j| format!("--jobs {j}")),
            t1.as_secs_f64(),
            t10.as_secs_f64(),
            t1.as_secs_f64() / t10.as_secs_f64()
        );
    }
}
