//! The HTTP client for ARM: the one module that uses reqwest.
//!
//! Every call is retried when retrying is safe and useful: 429 waits for
//! `Retry-After`; 5xx, 408, timeouts and dropped connections back off
//! exponentially with full jitter, capped; 409 and 412 (a concurrent change)
//! are retried twice and then reported as a conflict; any other 4xx is
//! reported at once with ARM's error code and message.

use super::token::TokenSource;
use serde_json::Value;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The ARM endpoints of the Azure clouds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Public,
    UsGov,
    China,
}

impl Cloud {
    pub fn endpoint(self) -> &'static str {
        match self {
            Cloud::Public => "https://management.azure.com",
            Cloud::UsGov => "https://management.usgovcloudapi.net",
            Cloud::China => "https://management.chinacloudapi.cn",
        }
    }
}

/// An ARM endpoint: `https://HOST[:PORT]`, or plain `http://` on a
/// loopback address (`127.0.0.0/8`, `::1`, `localhost`) for a local
/// emulator. No user name or password, path, query or fragment.
///
/// The token is sent only to this origin (scheme, host and port, compared
/// exactly): a `nextLink` elsewhere is refused, redirects are not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The origin, serialised: `https://management.azure.com`,
    /// `http://127.0.0.1:8080` (the default port left out).
    base: String,
    loopback: bool,
}

/// Whether a host (as `Url::host_str` gives it) is a loopback address.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let url = url.trim().trim_end_matches('/');
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let host = parsed.host_str().unwrap_or_default();
        let loopback = is_loopback(host);
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(format!(
                    "`{url}`: plain http is allowed only for a loopback address (127.0.0.0/8, ::1, localhost: a local emulator); use https"
                ));
            }
            other => return Err(format!("`{url}`: unsupported scheme {other}")),
        }
        if host.is_empty() {
            return Err(format!("`{url}`: no host"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(format!(
                "`{url}`: give the endpoint without a user name or password (`user@`)"
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(format!(
                "`{url}`: give the endpoint without a query (`?`) or fragment (`#`)"
            ));
        }
        if parsed.path() != "/" && !parsed.path().is_empty() {
            return Err(format!("`{url}`: give the endpoint without a path"));
        }
        Ok(Endpoint {
            base: parsed.origin().ascii_serialization(),
            loopback: parsed.scheme() == "http" && loopback,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Plain http on loopback: the emulator, which needs no token.
    pub fn is_local(&self) -> bool {
        self.loopback
    }

    /// The path and query of `link` when it is a URL of this origin
    /// (scheme, host and port equal, no user name or password), or a
    /// relative URL (`/...`); None for anything else.
    pub fn relative(&self, link: &str) -> Option<String> {
        if link.starts_with('/') && !link.starts_with("//") {
            return Some(link.to_string());
        }
        let url = reqwest::Url::parse(link).ok()?;
        let same = url.origin().ascii_serialization() == self.base
            && url.username().is_empty()
            && url.password().is_none();
        same.then(|| match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        })
    }

    /// The absolute URL of a relative one (`/...`), checked to stay on
    /// this origin and to address the path as written: a segment `.` or
    /// `..` (also percent-encoded), which URL parsers resolve, is refused.
    fn url(&self, path: &str) -> Result<reqwest::Url, &'static str> {
        if !path.starts_with('/') || path.starts_with("//") {
            return Err("not a path on the endpoint");
        }
        let segments = path.split(['?', '#']).next().unwrap_or_default();
        if segments.split('/').any(|s| {
            let s = s.to_ascii_lowercase().replace("%2e", ".");
            s == "." || s == ".."
        }) {
            return Err("a segment `.` or `..` would address another path");
        }
        let url = reqwest::Url::parse(&format!("{}{path}", self.base))
            .map_err(|_| "not a path on the endpoint")?;
        if url.origin().ascii_serialization() == self.base
            && url.username().is_empty()
            && url.password().is_none()
        {
            Ok(url)
        } else {
            Err("not a path on the endpoint")
        }
    }
}

/// The largest response body read (32 MiB): an ARM page is a few MiB at
/// most; a bigger answer is refused before it fills the memory.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// How calls are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    /// The longest `Retry-After` honoured as given.
    pub max_retry_after: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 8,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            timeout: Duration::from_secs(60),
        }
    }
}

/// A failed call, after the retries it deserved.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{method} {path}: {status} {code}: {message}")]
    Status {
        method: String,
        path: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{method} {path}: {message} (gave up after {attempts} attempts)")]
    Transport {
        method: String,
        path: String,
        message: String,
        attempts: u32,
    },
    #[error("{0}")]
    Auth(String),
    #[error("{method} {path}: the response is larger than {} MiB: refused, not read further", MAX_RESPONSE_BYTES / (1024 * 1024))]
    TooLarge { method: String, path: String },
    #[error("{method} {path}: {message}: refused (the token is sent only to {origin})")]
    Elsewhere {
        method: String,
        path: String,
        origin: String,
        message: String,
    },
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A stale etag or a concurrent change.
    pub fn is_conflict(&self) -> bool {
        matches!(self.status(), Some(409 | 412))
    }
}

/// Where `-v` sends one line per request (method, URL, status, time):
/// never a header, so never a token.
pub type RequestLog = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

pub struct Client {
    http: reqwest::Client,
    endpoint: Endpoint,
    tokens: TokenSource,
    retry: RetryPolicy,
    rng: Mutex<fastrand::Rng>,
    requests: AtomicUsize,
    request_log: Option<RequestLog>,
}

impl Client {
    pub fn new(
        endpoint: Endpoint,
        tokens: TokenSource,
        retry: RetryPolicy,
    ) -> Result<Client, String> {
        // reqwest is built without a default crypto provider: use ring's.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(retry.timeout)
            .pool_max_idle_per_host(64)
            // A redirect could take the token elsewhere: none is followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sentinel-migrate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Client {
            http,
            endpoint,
            tokens,
            retry,
            rng: Mutex::new(fastrand::Rng::with_seed(0x5eed)),
            requests: AtomicUsize::new(0),
            request_log: None,
        })
    }

    /// Logs every request sent, retries included (`-v`).
    pub fn with_request_log(mut self, log: RequestLog) -> Client {
        self.request_log = Some(log);
        self
    }

    fn log_request(
        &self,
        method: &reqwest::Method,
        url: &reqwest::Url,
        outcome: &str,
        started: std::time::Instant,
    ) {
        if let Some(log) = &self.request_log {
            log(&crate::render::one_line(&format!(
                "{method} {url} {outcome} {} ms",
                started.elapsed().as_millis()
            )));
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Requests sent so far, retries included.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// GET a resource: None when it does not exist (404).
    pub async fn get(&self, path: &str) -> Result<Option<Value>, ApiError> {
        match self.send(reqwest::Method::GET, path, None).await {
            Ok((_, v)) => Ok(Some(v)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// PUT a resource: the status (200 or 201) and the body ARM returns.
    pub async fn put(&self, path: &str, body: &Value) -> Result<(u16, Value), ApiError> {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    /// DELETE a resource: 200 when deleted, 204 when it was not there.
    pub async fn delete(&self, path: &str) -> Result<u16, ApiError> {
        self.send(reqwest::Method::DELETE, path, None)
            .await
            .map(|(s, _)| s)
    }

    /// POST a read-only request (a Log Analytics query): the body ARM
    /// returns. Retried like a GET: it changes nothing.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.send(reqwest::Method::POST, path, Some(body))
            .await
            .map(|(_, v)| v)
    }

    /// GET a collection, following `nextLink` until it is absent.
    pub async fn list(&self, path: &str) -> Result<Vec<Value>, ApiError> {
        let mut items = Vec::new();
        let mut next = Some(path.to_string());
        let mut pages = 0;
        while let Some(p) = next.take() {
            pages += 1;
            if pages > 10_000 {
                return Err(ApiError::Transport {
                    method: "GET".into(),
                    path: path.into(),
                    message: "more than 10,000 pages: the nextLink chain does not end".into(),
                    attempts: 1,
                });
            }
            let (_, page) = self.send(reqwest::Method::GET, &p, None).await?;
            if let Some(values) = page.get("value").and_then(Value::as_array) {
                items.extend(values.iter().cloned());
            }
            next = page
                .get("nextLink")
                .and_then(Value::as_str)
                .filter(|l| !l.is_empty())
                .map(|l| self.relative(l))
                .transpose()?;
        }
        Ok(items)
    }

    /// A nextLink made relative to the endpoint; a link to another origin
    /// (scheme, host, port) or with a user name is refused.
    fn relative(&self, link: &str) -> Result<String, ApiError> {
        self.endpoint
            .relative(link)
            .ok_or_else(|| ApiError::Elsewhere {
                method: "GET".into(),
                path: crate::render::one_line(link),
                origin: self.endpoint.base().into(),
                message: "the nextLink points to another origin".into(),
            })
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.retry.base.saturating_mul(1u32 << attempt.min(16));
        let ceiling = exp.min(self.retry.cap);
        let jitter = self.rng.lock().map(|mut r| r.f64()).unwrap_or(0.5);
        ceiling.mul_f64(jitter)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ApiError> {
        let url = self.endpoint.url(path).map_err(|why| ApiError::Elsewhere {
            method: method.to_string(),
            path: crate::render::one_line(path),
            origin: self.endpoint.base().into(),
            message: why.into(),
        })?;
        let mut last: Option<ApiError> = None;
        let mut conflicts = 0;
        let mut unauthorized = 0;
        for attempt in 0..self.retry.attempts {
            let token = self.tokens.token().map_err(ApiError::Auth)?;
            let mut req = self.http.request(method.clone(), url.clone());
            if let Some(t) = &token {
                req = req.bearer_auth(t.expose());
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let started = std::time::Instant::now();
            let sent = req.send().await;
            match &sent {
                Ok(resp) => self.log_request(&method, &url, resp.status().as_str(), started),
                Err(e) => {
                    self.log_request(&method, &url, &format!("failed ({})", describe(e)), started)
                }
            }
            let wait = match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    if (300..400).contains(&status) {
                        let to = resp
                            .headers()
                            .get(reqwest::header::LOCATION)
                            .and_then(|v| v.to_str().ok())
                            .map(crate::render::one_line)
                            .unwrap_or_else(|| "nowhere".into());
                        return Err(ApiError::Elsewhere {
                            method: method.to_string(),
                            path: path.into(),
                            origin: self.endpoint.base().into(),
                            message: format!("answered {status}, a redirect to {to}"),
                        });
                    }
                    let text = match read_capped(resp).await {
                        Ok(Some(t)) => t,
                        Ok(None) => {
                            return Err(ApiError::TooLarge {
                                method: method.to_string(),
                                path: path.into(),
                            });
                        }
                        Err(e) => {
                            last = Some(transport(&method, path, &e.to_string(), attempt + 1));
                            tokio::time::sleep(self.backoff(attempt)).await;
                            continue;
                        }
                    };
                    if (200..300).contains(&status) {
                        let v = if text.trim().is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_str(&text).map_err(|e| ApiError::Transport {
                                method: method.to_string(),
                                path: path.into(),
                                message: format!("the response is not JSON: {e}"),
                                attempts: attempt + 1,
                            })?
                        };
                        return Ok((status, v));
                    }
                    let err = arm_error(&method, path, status, &text);
                    match status {
                        429 => {
                            last = Some(err);
                            retry_after
                                .map(|d| d.min(self.retry.max_retry_after))
                                .unwrap_or_else(|| self.backoff(attempt))
                        }
                        401 if unauthorized == 0 && token.is_some() => {
                            unauthorized += 1;
                            self.tokens.invalidate();
                            last = Some(err);
                            Duration::ZERO
                        }
                        409 | 412 if conflicts < 2 => {
                            conflicts += 1;
                            last = Some(err);
                            self.backoff(attempt)
                        }
                        408 | 500..=599 => {
                            last = Some(err);
                            self.backoff(attempt)
                        }
                        _ => return Err(err),
                    }
                }
                Err(e) => {
                    last = Some(transport(&method, path, &describe(&e), attempt + 1));
                    self.backoff(attempt)
                }
            };
            if attempt + 1 < self.retry.attempts {
                tokio::time::sleep(wait).await;
            }
        }
        Err(match last {
            Some(ApiError::Transport {
                method,
                path,
                message,
                ..
            }) => ApiError::Transport {
                method,
                path,
                message,
                attempts: self.retry.attempts,
            },
            Some(e) => e,
            None => transport(&method, path, "no attempt made", 0),
        })
    }
}

/// The body as text, read chunk by chunk; None once it exceeds
/// [`MAX_RESPONSE_BYTES`] (announced or actual): the rest is never read.
async fn read_capped(mut resp: reqwest::Response) -> Result<Option<String>, reqwest::Error> {
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(String::from_utf8_lossy(&body).into_owned()))
}

fn transport(method: &reqwest::Method, path: &str, message: &str, attempts: u32) -> ApiError {
    ApiError::Transport {
        method: method.to_string(),
        path: path.into(),
        message: message.into(),
        attempts,
    }
}

/// A connection-level failure, in words (reqwest's Display is terse).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else {
        format!("connection failed: {e}")
    }
}

/// ARM's error body `{"error": {"code", "message"}}`, or the raw text.
fn arm_error(method: &reqwest::Method, path: &str, status: u16, text: &str) -> ApiError {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get("error"))
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    ApiError::Status {
        method: method.to_string(),
        path: path.into(),
        status,
        code: field("code").unwrap_or_else(|| format!("HTTP{status}")),
        message: field("message").unwrap_or_else(|| text.chars().take(300).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert!(Endpoint::parse("https://management.azure.com/").is_ok());
        assert!(Endpoint::parse("http://127.0.0.1:8080").unwrap().is_local());
        let e = Endpoint::parse("http://example.com").unwrap_err();
        assert!(e.contains("only for a loopback address"), "{e}");
        assert!(Endpoint::parse("https://management.azure.com/x").is_err());
        assert!(Endpoint::parse("ftp://x").is_err());
    }

    #[test]
    fn endpoints_have_no_userinfo_query_or_fragment_and_http_only_on_loopback() {
        for bad in [
            "https://management.azure.com@evil.example",
            "https://user:pw@management.azure.com",
            "http://127.0.0.1:8080@evil.example",
            "https://management.azure.com?x=1",
            "https://management.azure.com/?",
            "https://management.azure.com#top",
            "http://management.azure.com",
            "http://127.0.0.1.evil.example",
            "http://localhost.evil.example",
            "http://10.0.0.1",
            "http://[::2]",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad} was accepted");
        }
        for local in [
            "http://127.0.0.1:1",
            "http://127.1.2.3:8080",
            "http://[::1]:8080",
            "http://localhost:8080/",
            "http://LOCALHOST",
        ] {
            let e = Endpoint::parse(local).unwrap_or_else(|e| panic!("{local}: {e}"));
            assert!(e.is_local(), "{local}");
        }
        assert!(!Endpoint::parse("https://127.0.0.1").unwrap().is_local());
        assert_eq!(
            Endpoint::parse("https://Management.Azure.com:443/")
                .unwrap()
                .base(),
            "https://management.azure.com"
        );
    }

    #[test]
    fn next_links_stay_on_the_origin() {
        let azure = Endpoint::parse("https://management.azure.com").unwrap();
        let page = "/subscriptions/s/x?api-version=1&$skipToken=a";
        assert_eq!(azure.relative(page).as_deref(), Some(page));
        assert_eq!(
            azure
                .relative(&format!("https://management.azure.com{page}"))
                .as_deref(),
            Some(page)
        );
        assert_eq!(
            azure
                .relative(&format!("https://MANAGEMENT.azure.com:443{page}"))
                .as_deref(),
            Some(page)
        );
        for elsewhere in [
            "https://management.azure.com@evil.example/subscriptions/s",
            "https://management.azure.com.evil.example/subscriptions/s",
            "https://management.azure.com:8443/subscriptions/s",
            "http://management.azure.com/subscriptions/s",
            "https://x@management.azure.com/subscriptions/s",
            "//evil.example/subscriptions/s",
            "subscriptions/s",
        ] {
            assert_eq!(azure.relative(elsewhere), None, "{elsewhere}");
        }
        let local = Endpoint::parse("http://127.0.0.1:4000").unwrap();
        assert_eq!(
            local.relative("http://127.0.0.1:40001/subscriptions/s"),
            None
        );
        assert_eq!(
            local.relative("http://127.0.0.1:4000@127.0.0.1:4001/subscriptions/s"),
            None
        );
        assert!(local.url("//evil.example/x").is_err());
        assert!(local.url("@evil.example/x").is_err());
        for dots in [
            "/subscriptions/s/../x?api-version=1",
            "/subscriptions/./x",
            "/subscriptions/s/%2E%2e/x",
            "/subscriptions/s/.%2E",
        ] {
            assert!(local.url(dots).is_err(), "{dots}");
        }
        assert!(local.url("/subscriptions/s/.../x?a=..").is_ok());
        assert_eq!(
            local
                .url("/subscriptions/s?api-version=1")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:4000/subscriptions/s?api-version=1"
        );
    }
}
