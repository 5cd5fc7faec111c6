//! Access tokens for ARM: from `AZURE_ACCESS_TOKEN`, or from the Azure CLI
//! (`az account get-access-token`), refreshed before they expire. A token is
//! a [`Secret`]: it never appears in output, logs or files.

use std::fmt;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A value that must never be shown: `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that needs it (the Authorization header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where tokens come from.
#[derive(Debug)]
pub enum TokenSource {
    /// No token: a loopback emulator over plain http.
    None,
    /// A fixed token (`AZURE_ACCESS_TOKEN`).
    Fixed(Secret),
    /// The Azure CLI, for `resource`; the cached token and its expiry.
    AzureCli {
        resource: String,
        cached: Mutex<Option<(Secret, SystemTime)>>,
    },
}

/// Refresh a CLI token this long before it expires.
const MARGIN: Duration = Duration::from_secs(300);

impl TokenSource {
    /// `AZURE_ACCESS_TOKEN` if set, else the Azure CLI for `resource`; none
    /// for a plain-http loopback endpoint (the emulator) without a token.
    pub fn from_env(resource: &str, loopback: bool) -> TokenSource {
        match std::env::var("AZURE_ACCESS_TOKEN") {
            Ok(t) if !t.trim().is_empty() => TokenSource::Fixed(Secret::new(t.trim())),
            _ if loopback => TokenSource::None,
            _ => TokenSource::AzureCli {
                resource: resource.to_string(),
                cached: Mutex::new(None),
            },
        }
    }

    /// A token valid for at least a few more minutes, or None when no
    /// token is used.
    pub fn token(&self) -> Result<Option<Secret>, String> {
        match self {
            TokenSource::None => Ok(None),
            TokenSource::Fixed(s) => Ok(Some(s.clone())),
            TokenSource::AzureCli { resource, cached } => {
                let mut cached = cached
                    .lock()
                    .map_err(|_| "token cache poisoned".to_string())?;
                if let Some((token, expires)) = cached.as_ref()
                    && SystemTime::now() + MARGIN < *expires
                {
                    return Ok(Some(token.clone()));
                }
                let (token, expires) = az_token(resource)?;
                *cached = Some((token.clone(), expires));
                Ok(Some(token))
            }
        }
    }

    /// Forgets a cached token (after a 401), so the next call asks again.
    pub fn invalidate(&self) {
        if let TokenSource::AzureCli { cached, .. } = self
            && let Ok(mut c) = cached.lock()
        {
            *c = None;
        }
    }
}

/// Runs `az account get-access-token --resource R --output json`.
fn az_token(resource: &str) -> Result<(Secret, SystemTime), String> {
    let out = Command::new("az")
        .args(["account", "get-access-token", "--resource", resource, "--output", "json"])
        .output()
        .map_err(|e| format!("cannot run the Azure CLI (`az`) to get a token: {e}; sign in with `az login`, or set AZURE_ACCESS_TOKEN"))?;
    if !out.status.success() {
        // az's message names the problem (not signed in, no subscription);
        // it holds no token.
        let msg = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "the Azure CLI could not get a token for {resource}: {}; sign in with `az login`, or set AZURE_ACCESS_TOKEN",
            msg.trim()
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("unexpected output from `az account get-access-token`: {e}"))?;
    let token = v
        .get("accessToken")
        .and_then(|t| t.as_str())
        .ok_or("`az account get-access-token` gave no accessToken")?;
    // `expires_on` (epoch seconds) in recent CLIs; without it assume the
    // CLI's usual hour and refresh early.
    let expires = v
        .get("expires_on")
        .and_then(|e| {
            e.as_i64()
                .or_else(|| e.as_str().and_then(|s| s.parse().ok()))
        })
        .map(|secs| UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64))
        .unwrap_or_else(|| SystemTime::now() + Duration::from_secs(30 * 60));
    Ok((Secret::new(token), expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("eyJ0eXAiOiJKV1QiLCJhbGciOi");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        let src = TokenSource::Fixed(s);
        assert!(!format!("{src:?}").contains("eyJ"));
    }
}
