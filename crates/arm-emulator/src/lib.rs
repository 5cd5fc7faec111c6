//! A local emulator of the `Microsoft.SecurityInsights` subset of Azure
//! Resource Manager (data connectors, analytics rules, automation rules and
//! Content hub packages of one or more workspaces), served over plain HTTP/1.1 on `127.0.0.1`.
//!
//! Tests, the benchmark and the `rehearse` command drive it with real
//! clients (reqwest, the `az` CLI): [`Emulator::start`] binds an ephemeral
//! port, serves on its own thread with its own tokio runtime, and stops when
//! the [`Emulator`] is dropped. State (resources, request log, write count)
//! is inspected and arranged in-process through `&self` methods.
//!
//! # Behaviour, and the choices made where ARM is ambiguous
//!
//! **URLs.** `/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/workspaces/{ws}/providers/Microsoft.SecurityInsights/{type}[/{name}]`
//! with `type` one of `dataConnectors`, `alertRules`, `automationRules`,
//! `contentPackages` (a package PUT needs string `properties.contentId`,
//! `version` and `contentKind`; the stored body gets `installedVersion`, the
//! version written).
//! - Keywords (`subscriptions`, `resourceGroups`, `providers`, `workspaces`,
//!   `Microsoft.SecurityInsights`, the type) compare case-insensitively, and so
//!   do subscription, resource group, workspace and resource names: ARM ids
//!   are case-insensitive.
//! - `{ns}` (normally `Microsoft.OperationalInsights`) may be any non-empty
//!   text, because official examples misspell it (`OperationalIinsights`). It
//!   is not part of a resource's identity: a workspace is identified by
//!   subscription, resource group and workspace name only.
//! - Every path segment is percent-decoded (`%20`, `%27`, `%2F`, ... ; `+`
//!   stays a plus). The stored `name` is the decoded text, which may contain
//!   `/`. The stored `id` is canonical: keywords in their documented casing
//!   (`resourceGroups`, `alertRules`, ...), the variable parts (subscription,
//!   resource group, namespace, workspace, name) decoded and with the casing
//!   of the first write or [`Emulator::seed`]; later writes with other
//!   casing update the same resource and keep that id.
//! - One trailing slash is tolerated (`.../alertRules/` is the collection).
//!   Any other path, or an empty segment, is a 404 `NotFound`.
//!
//! **Log queries.** `POST {workspace id}/api/query?api-version=2020-08-01`
//! (the ARM form of the Log Analytics query API) answers sentinel-migrate's
//! own `verify --data` queries from the rows of [`Emulator::seed_logs`],
//! computed, not canned (see `logs.rs`); any other query is a 400
//! `BadArgumentError`, a body without a string `query` too. Other
//! api-versions: 400 `InvalidApiVersionParameter`; other methods: 405; a
//! workspace never seeded, written to or added: 404 `ResourceNotFound`;
//! [`Emulator::deny_queries`]: 403 `AuthorizationFailed`. Faults apply as to
//! every request.
//!
//! **Subscriptions.** `GET /subscriptions/{id}` (any api-version) answers
//! `{"id", "subscriptionId", "tenantId", "displayName", "state"}` for a
//! subscription registered with [`Emulator::add_subscription`], and 404
//! `SubscriptionNotFound` otherwise; other methods are 405.
//!
//! **Order of checks** for a request that survives the faults (below):
//! `api-version` (400), then the path (404), then the method (405), then the
//! body (400), then the etag (409/412). ARM validates the api-version at its
//! front door before routing, so a bad path without api-version gets 400.
//! - `api-version` missing or empty: 400 `MissingApiVersionParameter`. Not in
//!   [`Config::api_versions`] (compared case-insensitively): 400
//!   `InvalidApiVersionParameter`, the message lists the supported versions.
//!   Query parameter names compare case-insensitively. The api-version does
//!   not change behaviour: preview-only kinds are served under stable
//!   versions too (the real service may hide them; this emulator does not).
//! - Item URLs accept `GET`, `PUT`, `DELETE`; collection URLs only `GET`.
//!   Anything else (`PATCH` included: Sentinel has none, `POST`, `HEAD`):
//!   405 `MethodNotAllowed` with an `Allow` header.
//!
//! **Errors** are ARM's `{"error": {"code": "...", "message": "..."}}` with
//! `Content-Type: application/json`; codes: `MissingApiVersionParameter`,
//! `InvalidApiVersionParameter`, `NotFound`, `BadRequest`,
//! `InvalidRequestContent`, `ResourceNotFound`, `Conflict` (also when [`Config::conflict_status`]
//! is 412), `TooManyRequests`, `InternalServerError`, `MethodNotAllowed`.
//!
//! **Workspaces** exist once a resource of theirs is seeded or written, or
//! once [`Emulator::add_workspace`] adds them (they stay when their
//! resources are deleted). A list under any other workspace is a 404
//! `ResourceNotFound` naming it, as ARM answers for a workspace that does
//! not exist, unless [`Config::all_workspaces_exist`].
//!
//! **GET** of an item: 200 and the stored body. GET of a collection: 200
//! `{"value": [...]}` with the workspace's resources of that type, sorted by
//! lower-cased name, [`Config::page_size`] a page (0 is taken as 1). When
//! more remain, `nextLink` is an absolute URL on this emulator: the same path
//! as received, the same `api-version`, and a `$skipToken` holding the
//! (percent-encoded, lower-cased) name of the last item of the page. The
//! next page starts after that name, so deletions or insertions while a
//! client pages never make it skip or repeat a surviving item. `nextLink` is
//! absent on the last page.
//!
//! **PUT** needs a JSON object body: not JSON, or JSON but not an object:
//! 400 `InvalidRequestContent`. Then a minimal schema check (400
//! `BadRequest`, the message names the field as a dotted path such as
//! `properties.queryFrequency`); a "required" field must be present and not
//! `null`:
//! - `dataConnectors` and `alertRules` need a string `kind`; `properties`,
//!   when present and not null, must be an object, and it is required for
//!   the kinds below and for automation rules.
//! - alertRules (kind compared case-insensitively): `Scheduled` needs
//!   `displayName, enabled, severity, query, queryFrequency, queryPeriod,
//!   triggerOperator, triggerThreshold, suppressionEnabled,
//!   suppressionDuration`, and `triggerOperator` must be one of
//!   `GreaterThan, LessThan, Equal, NotEqual` (the one closed enum of the
//!   API, compared case-insensitively); `NRT` needs `displayName, enabled,
//!   severity, query, suppressionEnabled, suppressionDuration`;
//!   `MicrosoftSecurityIncidentCreation` needs `displayName, enabled,
//!   productFilter`; `Fusion`, `MLBehaviorAnalytics`, `ThreatIntelligence`
//!   need `enabled, alertRuleTemplateName`. For these kinds `enabled` must be
//!   a boolean.
//! - dataConnectors: `AzureSecurityCenter` needs `subscriptionId` and
//!   `dataTypes.alerts.state`; `MicrosoftThreatProtection` needs `tenantId`
//!   and `dataTypes.incidents.state`.
//! - automationRules: `displayName`; `order` an integer in 1..=1000;
//!   `triggeringLogic` an object with a boolean `isEnabled`, `triggersOn`,
//!   `triggersWhen`, and `conditions` (when present) an array of at most 50;
//!   `actions` an array of 1..=20 items.
//! - Unknown kinds, unknown fields and unknown enum values pass untouched.
//!
//! Concurrency travels in the body (`"etag"`), never in `If-Match` (ignored):
//! no etag (or `null`): unconditional; a string: if the resource exists it
//! must equal the stored etag exactly (`"*"` matches any), if it does not
//! exist only `"*"` is accepted; otherwise [`Config::conflict_status`] (409
//! by default, 412 if configured; code `Conflict`). An etag that is neither
//! string nor null is a 400 `BadRequest` naming `etag`. The schema check
//! comes before the etag check. Note that the official
//! `CreateFusionAlertRule` example sends an unquoted etag: it never equals a
//! stored (quoted) one.
//!
//! On success the stored body is the request body with, set by the server:
//! `id`, `name`, `type` (`Microsoft.SecurityInsights/{type}`), a new `etag`
//! on every write (a quoted GUID-like string, `"\"xxxxxxxx-0000-0100-0000-nnnnnnnnnnnn\""`,
//! unique within the emulator), alertRules `properties.lastModifiedUtc`,
//! automationRules `properties.lastModifiedTimeUtc` and
//! `properties.createdTimeUtc` (kept from the first write). Times come from
//! a fake clock: the k-th state-changing write (see [`Emulator::writes`])
//! happens at 2026-01-01T00:00:00Z plus k seconds. Other read-only fields
//! the client sends (`systemData`, automation rules' `createdBy` and
//! `lastModifiedBy`) are ignored: the stored value, if any (from a seed),
//! is kept, else the field is absent. Those time fields are only set when
//! `properties` is an object. 201 and the stored body when created, 200 and
//! the stored body when updated.
//!
//! **DELETE**: 200 with an empty body when the resource existed, 204 when it
//! did not. No etag check.
//!
//! **Faults** ([`Faults`]), applied to every request (any path, any method)
//! after its body is read and in this order: `latency` (a tokio sleep, other
//! requests proceed meanwhile); `drop` (the connection is closed with no
//! response bytes: logged with status 0); `server_error` (500
//! `InternalServerError`); `throttle` (429 `TooManyRequests` with
//! `Retry-After: {retry_after_secs}`); then, for `PUT` and `DELETE`, the
//! write budget. Each request draws three numbers from one `fastrand::Rng`
//! seeded with [`Config::seed`] (for drop, 500, 429, in that order), so a
//! single client sees a reproducible sequence. The write budget is a fixed
//! one-second window that opens at the first write after the previous window
//! expired; the first `writes_per_second` writes admitted in a window
//! proceed (whatever their outcome), the next ones get 429 with
//! `Retry-After: 1` and do not count. A faulted request never changes state.
//!
//! **Connections**: HTTP/1.1 with keep-alive, any number of concurrent
//! connections, no idle or header-read timeout. Every request, faulted or
//! not, is appended to [`Emulator::log`] in arrival order (arrival = its
//! body has been read).

mod clock;
mod handler;
mod logs;
mod route;
mod schema;
mod server;
#[cfg(test)]
mod tests;

use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use handler::Shared;

/// Faults to inject (see the module documentation for their order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    /// Probability that a request gets 429 Too Many Requests.
    pub throttle: f64,
    /// Retry-After header value sent with the 429s of `throttle` (0 allowed).
    pub retry_after_secs: u64,
    /// Probability of 500 with an ARM error body.
    pub server_error: f64,
    /// Probability that the connection is closed without any response.
    pub drop: f64,
    /// Added to every request before it is answered.
    pub latency: Duration,
    /// Write budget (PUT/DELETE) per second; over budget: 429 with
    /// `Retry-After: 1`.
    pub writes_per_second: Option<u32>,
}

/// How the emulator behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// List page size (default 50; 0 is taken as 1).
    pub page_size: usize,
    /// Accepted api-versions (default: `2025-09-01`, `2025-10-01-preview`,
    /// `2025-07-01-preview`).
    pub api_versions: Vec<String>,
    /// Faults injected from the start (see [`Emulator::set_faults`]).
    pub faults: Faults,
    /// Seeds the fault RNG (default 1).
    pub seed: u64,
    /// Status for a stale etag: 409 (default) or 412. A value that is not a
    /// valid HTTP status is taken as 409.
    pub conflict_status: u16,
    /// Lists of any workspace answer 200 (default false: a workspace that
    /// was never seeded, written to or added is a 404 `ResourceNotFound`).
    pub all_workspaces_exist: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            page_size: 50,
            api_versions: vec![
                "2025-09-01".to_string(),
                "2025-10-01-preview".to_string(),
                "2025-07-01-preview".to_string(),
            ],
            faults: Faults::default(),
            seed: 1,
            conflict_status: 409,
            all_workspaces_exist: false,
        }
    }
}

/// One request as the emulator received it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoggedRequest {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// Path and query, as received (still percent-encoded).
    pub path: String,
    /// The status answered; 0 when the connection was dropped.
    pub status: u16,
    /// The body of a PUT, when it is JSON; `None` for other methods.
    pub body: Option<Value>,
}

/// A running emulator. Dropping it stops the server and joins its thread.
pub struct Emulator {
    shared: Arc<Shared>,
    port: u16,
    shutdown: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("url", &self.url())
            .finish()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Emulator {
    /// Binds `127.0.0.1:0` and serves on its own thread with its own tokio
    /// runtime; returns once the socket is listening (connections made from
    /// then on are accepted).
    ///
    /// # Errors
    /// When the socket cannot be bound or the runtime or thread cannot be
    /// created.
    pub fn start(config: Config) -> std::io::Result<Emulator> {
        let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("emulator-{port}"))
            .enable_io()
            .enable_time()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let shared = Arc::new(Shared::new(config, format!("http://127.0.0.1:{port}")));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("emulator-{port}"))
            .spawn(move || {
                runtime.block_on(server::serve(listener, serving, rx));
                // Cancels the connection tasks, which closes their sockets.
                runtime.shutdown_timeout(Duration::from_secs(2));
            })?;
        Ok(Emulator {
            shared,
            port,
            shutdown: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The port listened on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stores a resource as if it existed in Azure. `id` is its full ARM id
    /// (plain text, not percent-encoded; the name is everything after the
    /// type segment, slashes included). The body keeps its `etag` if it has
    /// one (a string), else gets a fresh one; `id`, `name` and `type` are set
    /// from `id` (the id keeps the casing of an existing resource). No schema
    /// check, no read-only field is touched, the fake clock does not move and
    /// [`Emulator::writes`] does not count it. Returns the etag.
    ///
    /// # Panics
    /// When `id` is not a `Microsoft.SecurityInsights` resource id of a
    /// workspace, or `body` is not a JSON object.
    pub fn seed(&self, id: &str, body: Value) -> String {
        let route = route::Route::from_id(id)
            .unwrap_or_else(|| panic!("emulator seed: not a SecurityInsights resource id: {id}"));
        let Value::Object(body) = body else {
            panic!("emulator seed: the body of {id} is not a JSON object");
        };
        self.shared.seed(&route, body)
    }

    /// Makes a workspace exist with no resources, so that its lists answer
    /// 200 (`id` is its ARM id,
    /// `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/workspaces/{w}`).
    ///
    /// # Panics
    /// When `id` is not a workspace id.
    pub fn add_workspace(&self, id: &str) {
        let probe = format!(
            "{}/providers/Microsoft.SecurityInsights/alertRules/_",
            id.trim_end_matches('/')
        );
        let route = route::Route::from_id(&probe)
            .unwrap_or_else(|| panic!("emulator add_workspace: not a workspace id: {id}"));
        self.shared.add_workspace(&route);
    }

    /// Appends rows to a workspace's log tables, which
    /// `POST {workspace}/api/query?api-version=2020-08-01` answers from
    /// (sentinel-migrate's own queries only; see `verify --data`). `tables`
    /// is `{"SecurityAlert": [{column: value}], "SecurityIncident": [...]}`;
    /// dynamic columns (`AlertIds`, `RelatedAnalyticRuleIds`) are JSON
    /// arrays or their text. The workspace exists from then on.
    ///
    /// # Panics
    /// When `id` is not a workspace id or a table is not an array of objects.
    pub fn seed_logs(&self, id: &str, tables: &Value) {
        let probe = format!(
            "{}/providers/Microsoft.SecurityInsights/alertRules/_",
            id.trim_end_matches('/')
        );
        let route = route::Route::from_id(&probe)
            .unwrap_or_else(|| panic!("emulator seed_logs: not a workspace id: {id}"));
        let rows = |name: &str| -> Vec<serde_json::Map<String, Value>> {
            tables
                .get(name)
                .map(|t| {
                    t.as_array()
                        .unwrap_or_else(|| panic!("emulator seed_logs: {name} is not an array"))
                        .iter()
                        .map(|r| {
                            r.as_object().cloned().unwrap_or_else(|| {
                                panic!("emulator seed_logs: a {name} row is not an object")
                            })
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        self.shared
            .seed_logs(&route, rows("SecurityAlert"), rows("SecurityIncident"));
    }

    /// Makes every query of a workspace answer 403 `AuthorizationFailed`.
    ///
    /// # Panics
    /// When `id` is not a workspace id.
    pub fn deny_queries(&self, id: &str) {
        let probe = format!(
            "{}/providers/Microsoft.SecurityInsights/alertRules/_",
            id.trim_end_matches('/')
        );
        let route = route::Route::from_id(&probe)
            .unwrap_or_else(|| panic!("emulator deny_queries: not a workspace id: {id}"));
        self.shared.deny_queries(&route);
    }

    /// Makes `GET /subscriptions/{id}` answer with `tenant` as its
    /// `tenantId` (unknown subscriptions are 404 `SubscriptionNotFound`).
    pub fn add_subscription(&self, id: &str, tenant: &str) {
        self.shared.add_subscription(id, tenant);
    }

    /// The stored body (with its etag); ids compare case-insensitively.
    pub fn get(&self, id: &str) -> Option<Value> {
        let route = route::Route::from_id(id)?;
        self.shared.get(&route)
    }

    /// Removes a resource; whether it existed.
    pub fn remove(&self, id: &str) -> bool {
        route::Route::from_id(id).is_some_and(|r| self.shared.remove(&r))
    }

    /// Every stored resource as (id, body), sorted by lower-cased id.
    pub fn resources(&self) -> Vec<(String, Value)> {
        self.shared.resources()
    }

    /// Every request received, in arrival order (since the last
    /// [`Emulator::clear_log`]).
    pub fn log(&self) -> Vec<LoggedRequest> {
        self.shared.log_snapshot()
    }

    /// Forgets the requests logged so far.
    pub fn clear_log(&self) {
        self.shared.clear_log();
    }

    /// PUT/DELETE requests that changed state so far.
    pub fn writes(&self) -> usize {
        self.shared.writes()
    }

    /// Changes the faults while running (requests already sleeping keep the
    /// faults they started with).
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = lock(&self.shutdown).take() {
            let _ = tx.send(());
        }
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}
