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

/// An ARM endpoint: `https://...`, or `http://127.0.0.1:PORT` for a local
/// emulator (plain http is refused anywhere else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    base: String,
    loopback: bool,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let url = url.trim().trim_end_matches('/');
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let host = parsed.host_str().unwrap_or_default();
        let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1");
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(format!(
                    "`{url}`: plain http is allowed only for 127.0.0.1 (a local emulator); use https"
                ));
            }
            other => return Err(format!("`{url}`: unsupported scheme {other}")),
        }
        if parsed.path() != "/" && !parsed.path().is_empty() {
            return Err(format!("`{url}`: give the endpoint without a path"));
        }
        Ok(Endpoint {
            base: url.to_string(),
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
}

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

pub struct Client {
    http: reqwest::Client,
    endpoint: Endpoint,
    tokens: TokenSource,
    retry: RetryPolicy,
    rng: Mutex<fastrand::Rng>,
    requests: AtomicUsize,
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
        })
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

    /// A nextLink made relative to the endpoint; a link to another host is refused.
    fn relative(&self, link: &str) -> Result<String, ApiError> {
        if link.starts_with('/') {
            return Ok(link.to_string());
        }
        let base = self.endpoint.base();
        link.strip_prefix(base)
            .map(str::to_string)
            .ok_or_else(|| ApiError::Transport {
                method: "GET".into(),
                path: link.into(),
                message: format!("nextLink points outside {base}: not followed"),
                attempts: 1,
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
        let url = format!("{}{}", self.endpoint.base(), path);
        let mut last: Option<ApiError> = None;
        let mut conflicts = 0;
        let mut unauthorized = 0;
        for attempt in 0..self.retry.attempts {
            let token = self.tokens.token().map_err(ApiError::Auth)?;
            let mut req = self.http.request(method.clone(), &url);
            if let Some(t) = &token {
                req = req.bearer_auth(t.expose());
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let wait = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = match resp.text().await {
                        Ok(t) => t,
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
        assert!(e.contains("only for 127.0.0.1"), "{e}");
        assert!(Endpoint::parse("https://management.azure.com/x").is_err());
        assert!(Endpoint::parse("ftp://x").is_err());
    }
}
