//! The emulator's state and the ARM semantics of a request: faults, routing,
//! api-version, GET/PUT/DELETE, paging, etags, server-set fields.

use super::route::{Key, ResType, Route, percent_decode, percent_encode, query_param};
use super::{Config, Faults, LoggedRequest, clock, lock, logs, schema};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(super) type Resp = Response<Full<Bytes>>;

/// Returned to hyper to make it close the connection without a response.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by the emulator (fault injection or unreadable body)")]
pub(super) struct Dropped;

struct Entry {
    /// The canonical id (casing of the first write or seed).
    id: String,
    /// The name, with the casing of `id`.
    name: String,
    /// The stored body (a JSON object, with id, name, type and etag).
    body: Value,
}

impl Entry {
    fn etag(&self) -> Option<&str> {
        self.body.get("etag").and_then(Value::as_str)
    }
}

#[derive(Default)]
struct Store {
    map: BTreeMap<Key, Entry>,
    /// Workspaces that exist (keys as `Route::workspace_key`): seeded,
    /// written to, or added.
    workspaces: std::collections::BTreeSet<String>,
    /// Etags handed out so far.
    etags: u64,
    /// State-changing PUT/DELETE requests so far (also the fake clock).
    writes: u64,
}

impl Store {
    fn next_etag(&mut self) -> String {
        self.etags += 1;
        clock::etag(self.etags)
    }
}

#[derive(Default)]
struct Log {
    entries: Vec<LoggedRequest>,
    /// Sequence number of `entries[0]` (requests cleared before it).
    base: usize,
}

#[derive(Default)]
struct Budget {
    window_start: Option<Instant>,
    used: u32,
}

pub(super) struct Shared {
    pub base_url: String,
    page_size: usize,
    api_versions: Vec<String>,
    conflict_status: StatusCode,
    all_workspaces_exist: bool,
    pub faults: Mutex<Faults>,
    rng: Mutex<fastrand::Rng>,
    budget: Mutex<Budget>,
    store: Mutex<Store>,
    log: Mutex<Log>,
    /// Subscriptions ARM answers for (lower-cased id -> (id, tenant id)).
    subscriptions: Mutex<BTreeMap<String, (String, String)>>,
    /// Seeded log tables, by workspace key, and the workspaces whose
    /// queries are denied (403).
    logs: Mutex<BTreeMap<String, logs::Tables>>,
    denied: Mutex<std::collections::BTreeSet<String>>,
}

fn json_response(status: StatusCode, value: &Value) -> Resp {
    let bytes = serde_json::to_vec(value).expect("a JSON value serialises");
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        "application/json".parse().expect("valid header"),
    );
    resp
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Resp {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message.into()}}),
    )
}

fn empty(status: StatusCode) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

fn with_header(mut resp: Resp, name: hyper::header::HeaderName, value: &str) -> Resp {
    if let Ok(v) = value.parse() {
        resp.headers_mut().insert(name, v);
    }
    resp
}

fn too_many_requests(retry_after_secs: u64, why: &str) -> Resp {
    with_header(
        error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            format!("{why} Please retry after {retry_after_secs} seconds."),
        ),
        RETRY_AFTER,
        &retry_after_secs.to_string(),
    )
}

impl Shared {
    pub fn new(config: Config, base_url: String) -> Shared {
        Shared {
            base_url,
            page_size: config.page_size.max(1),
            api_versions: config.api_versions,
            conflict_status: StatusCode::from_u16(config.conflict_status)
                .unwrap_or(StatusCode::CONFLICT),
            all_workspaces_exist: config.all_workspaces_exist,
            faults: Mutex::new(config.faults),
            rng: Mutex::new(fastrand::Rng::with_seed(config.seed)),
            budget: Mutex::new(Budget::default()),
            store: Mutex::new(Store::default()),
            log: Mutex::new(Log::default()),
            subscriptions: Mutex::new(BTreeMap::new()),
            logs: Mutex::new(BTreeMap::new()),
            denied: Mutex::new(Default::default()),
        }
    }

    /// Appends rows to a workspace's `SecurityAlert` and `SecurityIncident`.
    pub fn seed_logs(
        &self,
        route: &Route,
        alerts: Vec<Map<String, Value>>,
        incidents: Vec<Map<String, Value>>,
    ) {
        let key = route.workspace_key();
        lock(&self.store).workspaces.insert(key.clone());
        let mut logs = lock(&self.logs);
        let t = logs.entry(key).or_default();
        t.alerts.extend(alerts);
        t.incidents.extend(incidents);
    }

    pub fn deny_queries(&self, route: &Route) {
        lock(&self.denied).insert(route.workspace_key());
    }

    /// `POST {workspace}/api/query`: the Log Analytics query API (ARM form),
    /// answered from the seeded tables (see `logs`).
    fn query(&self, method: &Method, ws: &str, query: &str, body: &[u8]) -> Resp {
        match query_param(query, "api-version").as_deref() {
            None | Some("") => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                );
            }
            Some(v) if !logs::API_VERSIONS.iter().any(|s| s.eq_ignore_ascii_case(v)) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidApiVersionParameter",
                    format!(
                        "The api-version '{v}' is invalid. The supported versions are '{}'.",
                        logs::API_VERSIONS.join(",")
                    ),
                );
            }
            Some(_) => {}
        }
        if method != Method::POST {
            return with_header(
                error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    format!("The method '{method}' is not allowed on a query. Allowed: POST."),
                ),
                ALLOW,
                "POST",
            );
        }
        if lock(&self.denied).contains(ws) {
            return error(
                StatusCode::FORBIDDEN,
                "AuthorizationFailed",
                format!(
                    "The client does not have authorization to perform action 'Microsoft.OperationalInsights/workspaces/query/read' over scope of workspace '{ws}'."
                ),
            );
        }
        let tables = match lock(&self.logs).get(ws) {
            Some(t) => t.clone(),
            None if lock(&self.store).workspaces.contains(ws) => logs::Tables::default(),
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFound",
                    format!(
                        "The Resource 'Microsoft.OperationalInsights/workspaces' '{ws}' was not found."
                    ),
                );
            }
        };
        let text = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("query").and_then(Value::as_str).map(str::to_string));
        let Some(text) = text else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadArgumentError",
                "The request had some invalid properties: a JSON body with a string `query` is required.",
            );
        };
        match logs::answer(&tables, &text) {
            Ok(v) => json_response(StatusCode::OK, &v),
            Err(why) => error(StatusCode::BAD_REQUEST, "BadArgumentError", why),
        }
    }

    pub fn add_subscription(&self, id: &str, tenant: &str) {
        lock(&self.subscriptions).insert(
            id.to_ascii_lowercase(),
            (id.to_string(), tenant.to_string()),
        );
    }

    /// `GET /subscriptions/{id}` (any api-version): the subscription with its
    /// tenant, as ARM answers it, or 404 `SubscriptionNotFound`.
    fn subscription(&self, method: &Method, id: &str) -> Resp {
        if method != Method::GET {
            return with_header(
                error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    format!(
                        "The method '{method}' is not allowed on a subscription. Allowed: GET."
                    ),
                ),
                ALLOW,
                "GET",
            );
        }
        match lock(&self.subscriptions).get(&id.to_ascii_lowercase()) {
            Some((id, tenant)) => json_response(
                StatusCode::OK,
                &json!({
                    "id": format!("/subscriptions/{id}"),
                    "subscriptionId": id,
                    "tenantId": tenant,
                    "displayName": format!("Subscription {id}"),
                    "state": "Enabled",
                }),
            ),
            None => error(
                StatusCode::NOT_FOUND,
                "SubscriptionNotFound",
                format!("The subscription '{id}' could not be found."),
            ),
        }
    }

    // ---- in-process access -------------------------------------------------

    pub fn seed(&self, route: &Route, mut body: Map<String, Value>) -> String {
        let key = route.key().expect("an item route");
        let mut store = lock(&self.store);
        let (id, name) = match store.map.get(&key) {
            Some(e) => (e.id.clone(), e.name.clone()),
            None => (route.canonical_id(), route.name.clone().unwrap_or_default()),
        };
        let etag = match body.get("etag") {
            Some(Value::String(s)) => s.clone(),
            _ => store.next_etag(),
        };
        body.insert("id".into(), Value::String(id.clone()));
        body.insert("name".into(), Value::String(name.clone()));
        body.insert("type".into(), Value::String(route.ty.arm_type()));
        body.insert("etag".into(), Value::String(etag.clone()));
        let body = Value::Object(body);
        store.workspaces.insert(route.workspace_key());
        store.map.insert(key, Entry { id, name, body });
        etag
    }

    pub fn add_workspace(&self, route: &Route) {
        lock(&self.store).workspaces.insert(route.workspace_key());
    }

    pub fn get(&self, route: &Route) -> Option<Value> {
        let key = route.key()?;
        lock(&self.store).map.get(&key).map(|e| e.body.clone())
    }

    pub fn remove(&self, route: &Route) -> bool {
        route
            .key()
            .is_some_and(|key| lock(&self.store).map.remove(&key).is_some())
    }

    pub fn resources(&self) -> Vec<(String, Value)> {
        let mut all: Vec<(String, Value)> = lock(&self.store)
            .map
            .values()
            .map(|e| (e.id.clone(), e.body.clone()))
            .collect();
        all.sort_by_cached_key(|(id, _)| id.to_lowercase());
        all
    }

    pub fn writes(&self) -> usize {
        lock(&self.store).writes as usize
    }

    pub fn log_snapshot(&self) -> Vec<LoggedRequest> {
        lock(&self.log).entries.clone()
    }

    pub fn clear_log(&self) {
        let mut log = lock(&self.log);
        log.base += log.entries.len();
        log.entries.clear();
    }

    fn log_push(&self, entry: LoggedRequest) -> usize {
        let mut log = lock(&self.log);
        log.entries.push(entry);
        log.base + log.entries.len() - 1
    }

    fn log_status(&self, seq: usize, status: u16) {
        let mut log = lock(&self.log);
        if let Some(i) = seq.checked_sub(log.base)
            && let Some(entry) = log.entries.get_mut(i)
        {
            entry.status = status;
        }
    }

    // ---- one request -------------------------------------------------------

    /// Serves one request: reads the body, logs, applies the faults, then
    /// the ARM semantics. `Err` makes hyper close the connection.
    pub async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Result<Resp, Dropped> {
        let method = req.method().clone();
        let target = req
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str().to_string())
            .unwrap_or_else(|| req.uri().to_string());
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or_default().to_string();
        let mut logged = LoggedRequest {
            method: method.to_string(),
            path: target,
            status: 0,
            body: None,
        };
        let body = match req.into_body().collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                self.log_push(logged);
                return Err(Dropped);
            }
        };
        if method == Method::PUT {
            logged.body = serde_json::from_slice(&body).ok();
        }
        let seq = self.log_push(logged);

        let faults = lock(&self.faults).clone();
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        let (drop, fail, throttle) = {
            let mut rng = lock(&self.rng);
            (
                rng.f64() < faults.drop,
                rng.f64() < faults.server_error,
                rng.f64() < faults.throttle,
            )
        };
        if drop {
            return Err(Dropped);
        }
        let is_write = method == Method::PUT || method == Method::DELETE;
        let resp = if fail {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Encountered internal server error. Please try again later.",
            )
        } else if throttle {
            too_many_requests(
                faults.retry_after_secs,
                "The request was throttled (fault injection).",
            )
        } else if is_write && !self.admit_write(faults.writes_per_second) {
            too_many_requests(
                1,
                "The number of write requests for this subscription exceeded the limit.",
            )
        } else {
            self.respond(&method, &path, &query, &body)
        };
        self.log_status(seq, resp.status().as_u16());
        Ok(resp)
    }

    /// Whether a write fits the per-second budget (and counts it if so).
    fn admit_write(&self, per_second: Option<u32>) -> bool {
        let Some(limit) = per_second else {
            return true;
        };
        let mut budget = lock(&self.budget);
        let now = Instant::now();
        let expired = budget
            .window_start
            .is_none_or(|start| now.duration_since(start) >= Duration::from_secs(1));
        if expired {
            budget.window_start = Some(now);
            budget.used = 0;
        }
        if budget.used >= limit {
            false
        } else {
            budget.used += 1;
            true
        }
    }

    /// The ARM semantics of a request that survived the faults.
    fn respond(&self, method: &Method, path: &str, query: &str, body: &[u8]) -> Resp {
        if let Some(ws) = logs::route(path) {
            return self.query(method, &ws, query, body);
        }
        // `/subscriptions/{id}`: its own api-versions (2022-12-01, ...).
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        if segments.len() == 3
            && segments[0].is_empty()
            && segments[1].eq_ignore_ascii_case("subscriptions")
            && !segments[2].is_empty()
        {
            if query_param(query, "api-version").is_none_or(|v| v.is_empty()) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                );
            }
            return self.subscription(method, &percent_decode(segments[2]).unwrap_or_default());
        }
        match query_param(query, "api-version").as_deref() {
            None | Some("") => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                );
            }
            Some(v) if !self.api_versions.iter().any(|s| s.eq_ignore_ascii_case(v)) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidApiVersionParameter",
                    format!(
                        "The api-version '{v}' is invalid. The supported versions are '{}'.",
                        self.api_versions.join(",")
                    ),
                );
            }
            Some(_) => {}
        }
        let route = match Route::from_path(path) {
            Ok(Some(route)) => route,
            Ok(None) => {
                return error(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!(
                        "The path '{path}' was not found: this endpoint serves the dataConnectors, alertRules and automationRules of Microsoft.SecurityInsights under a workspace."
                    ),
                );
            }
            Err(()) => {
                return error(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!(
                        "The path '{path}' was not found: a segment is not percent-encoded UTF-8."
                    ),
                );
            }
        };
        let is_item = route.name.is_some();
        match (is_item, method) {
            (true, &Method::GET) => self.get_item(&route),
            (true, &Method::PUT) => self.put(&route, body),
            (true, &Method::DELETE) => self.delete(&route),
            (false, &Method::GET) => self.list(&route, path, query),
            (item, _) => {
                let allow = if item { "GET, PUT, DELETE" } else { "GET" };
                with_header(
                    error(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "MethodNotAllowed",
                        format!(
                            "The method '{method}' is not allowed on '{path}'. Allowed: {allow}."
                        ),
                    ),
                    ALLOW,
                    allow,
                )
            }
        }
    }

    fn not_found(route: &Route) -> Resp {
        error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "The Resource '{}/{}' under workspace '{}' of resource group '{}' was not found.",
                route.ty.arm_type(),
                route.name.as_deref().unwrap_or_default(),
                route.workspace,
                route.resource_group
            ),
        )
    }

    fn get_item(&self, route: &Route) -> Resp {
        let key = route.key().expect("an item route");
        let store = lock(&self.store);
        match store.map.get(&key) {
            Some(entry) => json_response(StatusCode::OK, &entry.body),
            None => Self::not_found(route),
        }
    }

    fn list(&self, route: &Route, path: &str, query: &str) -> Resp {
        let ws = route.workspace_key();
        let ty = route.ty;
        if !self.all_workspaces_exist && !lock(&self.store).workspaces.contains(&ws) {
            return error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                format!(
                    "The Resource 'Microsoft.OperationalInsights/workspaces/{}' under resource group '{}' was not found.",
                    route.workspace, route.resource_group
                ),
            );
        }
        let lower = match query_param(query, "$skipToken") {
            Some(after) => Bound::Excluded((ws.clone(), ty, after.to_lowercase())),
            None => Bound::Included((ws.clone(), ty, String::new())),
        };
        let (page, more) = {
            let store = lock(&self.store);
            let mut items = store
                .map
                .range((lower, Bound::Unbounded))
                .take_while(|((w, t, _), _)| *w == ws && *t == ty);
            let page: Vec<(String, Value)> = items
                .by_ref()
                .take(self.page_size)
                .map(|((_, _, name), e)| (name.clone(), e.body.clone()))
                .collect();
            (page, items.next().is_some())
        };
        let mut out = Map::new();
        if more && let Some((last, _)) = page.last() {
            let mut kept: Vec<&str> = query
                .split('&')
                .filter(|pair| {
                    let k = pair.split_once('=').map_or(*pair, |(k, _)| k);
                    let k = percent_decode(k).unwrap_or_default();
                    !pair.is_empty() && !k.eq_ignore_ascii_case("$skipToken")
                })
                .collect();
            let token = format!("$skipToken={}", percent_encode(last));
            kept.push(&token);
            out.insert(
                "nextLink".into(),
                Value::String(format!("{}{path}?{}", self.base_url, kept.join("&"))),
            );
        }
        out.insert(
            "value".into(),
            Value::Array(page.into_iter().map(|(_, body)| body).collect()),
        );
        json_response(StatusCode::OK, &Value::Object(out))
    }

    fn put(&self, route: &Route, body: &[u8]) -> Resp {
        let parsed: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                let what = if body.iter().all(u8::is_ascii_whitespace) {
                    "The request content is empty; a JSON object is required.".to_string()
                } else {
                    format!("The request content was invalid and could not be deserialized: {e}.")
                };
                return error(StatusCode::BAD_REQUEST, "InvalidRequestContent", what);
            }
        };
        let Value::Object(mut obj) = parsed else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContent",
                "The request content was invalid: a JSON object is required.",
            );
        };
        if let Err(message) = schema::validate(route.ty, &obj) {
            return error(StatusCode::BAD_REQUEST, "BadRequest", message);
        }
        let condition = match obj.get("etag") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "The field 'etag' must be a string.",
                );
            }
        };
        let key = route.key().expect("an item route");
        let name = route.name.as_deref().unwrap_or_default();
        let mut store = lock(&self.store);
        let existing = store.map.get(&key);
        if let Some(sent) = condition.as_deref().filter(|e| *e != "*") {
            let message = match existing {
                Some(entry) if entry.etag() == Some(sent) => None,
                Some(entry) => Some(format!(
                    "The etag '{sent}' does not match the current etag '{}' of {} '{name}': it was changed since it was read.",
                    entry.etag().unwrap_or_default(),
                    route.ty.noun()
                )),
                None => Some(format!(
                    "The etag '{sent}' was sent but {} '{name}' does not exist.",
                    route.ty.noun()
                )),
            };
            if let Some(message) = message {
                return error(self.conflict_status, "Conflict", message);
            }
        }

        // Server-owned fields: keep the stored value, whatever the client sent.
        let previous = existing.map(|e| &e.body);
        let stored_at = |pointer: &str| previous.and_then(|b| b.pointer(pointer)).cloned();
        let system_data = stored_at("/systemData");
        let created_time = stored_at("/properties/createdTimeUtc");
        let created_by = stored_at("/properties/createdBy");
        let last_modified_by = stored_at("/properties/lastModifiedBy");
        let (id, canonical_name) = match existing {
            Some(e) => (e.id.clone(), e.name.clone()),
            None => (route.canonical_id(), name.to_string()),
        };
        let created = existing.is_none();

        store.writes += 1;
        let now = Value::String(clock::timestamp(store.writes));
        let etag = store.next_etag();
        obj.remove("systemData");
        if let Some(sd) = system_data {
            obj.insert("systemData".into(), sd);
        }
        if let Some(Value::Object(props)) = obj.get_mut("properties") {
            match route.ty {
                ResType::AlertRules => {
                    props.insert("lastModifiedUtc".into(), now);
                }
                ResType::AutomationRules => {
                    props.insert("lastModifiedTimeUtc".into(), now.clone());
                    props.insert("createdTimeUtc".into(), created_time.unwrap_or(now));
                    for (field, value) in [
                        ("createdBy", created_by),
                        ("lastModifiedBy", last_modified_by),
                    ] {
                        match value {
                            Some(v) => props.insert(field.into(), v),
                            None => props.remove(field),
                        };
                    }
                }
                ResType::DataConnectors => {}
                ResType::ContentPackages => {
                    // The service installs the version asked for.
                    if let Some(v) = props.get("version").cloned() {
                        props.insert("installedVersion".into(), v);
                    }
                }
            }
        }
        obj.insert("id".into(), Value::String(id.clone()));
        obj.insert("name".into(), Value::String(canonical_name.clone()));
        obj.insert("type".into(), Value::String(route.ty.arm_type()));
        obj.insert("etag".into(), Value::String(etag));
        let body = Value::Object(obj);
        let resp = json_response(
            if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            &body,
        );
        store.workspaces.insert(route.workspace_key());
        store.map.insert(
            key,
            Entry {
                id,
                name: canonical_name,
                body,
            },
        );
        resp
    }

    fn delete(&self, route: &Route) -> Resp {
        let key = route.key().expect("an item route");
        let mut store = lock(&self.store);
        if store.map.remove(&key).is_some() {
            store.writes += 1;
            empty(StatusCode::OK)
        } else {
            empty(StatusCode::NO_CONTENT)
        }
    }
}
