//! Access tokens for ARM: from `AZURE_ACCESS_TOKEN`, or from the Azure CLI
//! (`az account get-access-token`), refreshed before they expire. A token is
//! a [`Secret`]: it never appears in output, logs or files.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
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
    /// The Azure CLI (`az`, the program to run), for `resource`; the
    /// cached token and its expiry.
    AzureCli {
        az: PathBuf,
        resource: String,
        cached: Mutex<Option<(Secret, SystemTime)>>,
    },
}

/// Refresh a CLI token this long before it expires.
const MARGIN: Duration = Duration::from_secs(300);

impl TokenSource {
    /// `AZURE_ACCESS_TOKEN` if set, else the Azure CLI for `resource`; none
    /// for a plain-http loopback endpoint (the emulator) without a token.
    pub fn from_env(resource: &str, loopback: bool, az: PathBuf) -> TokenSource {
        match std::env::var("AZURE_ACCESS_TOKEN") {
            Ok(t) if !t.trim().is_empty() => TokenSource::Fixed(Secret::new(t.trim())),
            _ if loopback => TokenSource::None,
            _ => TokenSource::AzureCli {
                az,
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
            TokenSource::AzureCli {
                az,
                resource,
                cached,
            } => {
                let mut cached = cached
                    .lock()
                    .map_err(|_| "token cache poisoned".to_string())?;
                if let Some((token, expires)) = cached.as_ref()
                    && SystemTime::now() + MARGIN < *expires
                {
                    return Ok(Some(token.clone()));
                }
                let (token, expires) = az_token(az, resource)?;
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

/// The Azure CLI to run: `explicit` (`--az`, `SENTINEL_MIGRATE_AZ`) when
/// given, else the first of `az.cmd`, `az.exe`, `az` on PATH on Windows
/// (where the CLI is a batch file that `Command::new("az")` does not find),
/// `az` on PATH elsewhere; plain `az` when none is found, so the error
/// names it.
pub fn find_az(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    let names: &[&str] = if cfg!(windows) {
        &["az.cmd", "az.exe", "az.bat", "az"]
    } else {
        &["az"]
    };
    std::env::var_os("PATH")
        .and_then(|path| find_in_path(&path, names))
        .unwrap_or_else(|| PathBuf::from("az"))
}

/// The first `dir/name` that is a file, over the PATH's folders in order
/// and, in each, the names in order.
fn find_in_path(path: &OsStr, names: &[&str]) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|d| !d.as_os_str().is_empty())
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

/// Runs `az account get-access-token --resource R --output json`.
fn az_token(az: &Path, resource: &str) -> Result<(Secret, SystemTime), String> {
    let out = Command::new(az)
        .args(["account", "get-access-token", "--resource", resource, "--output", "json"])
        .output()
        .map_err(|e| format!("cannot run the Azure CLI (`{}`) to get a token: {e}; sign in with `az login`, set AZURE_ACCESS_TOKEN, or name the CLI with --az / SENTINEL_MIGRATE_AZ", az.display()))?;
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

    #[test]
    fn the_cli_is_found_as_windows_names_it() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(b.path().join("az.cmd"), "@echo off\r\n").unwrap();
        std::fs::write(b.path().join("az"), "#!/bin/sh\n").unwrap();
        let path = std::env::join_paths([a.path(), b.path()]).unwrap();
        let windows = ["az.cmd", "az.exe", "az.bat", "az"];
        assert_eq!(find_in_path(&path, &windows), Some(b.path().join("az.cmd")));
        assert_eq!(find_in_path(&path, &["az"]), Some(b.path().join("az")));
        assert_eq!(find_in_path(&path, &["az.exe"]), None);
        let explicit = a.path().join("my-az");
        assert_eq!(find_az(Some(&explicit)), explicit);
    }

    #[test]
    fn the_named_cli_gives_the_token() {
        // A stand-in for az that answers as `az account get-access-token` does.
        let dir = tempfile::tempdir().unwrap();
        let az = dir.path().join("fake-az");
        std::fs::write(
            &az,
            "#!/bin/sh\n[ \"$1 $2\" = 'account get-access-token' ] || exit 9\necho '{\"accessToken\": \"tok-from-fake-az\", \"expires_on\": 4102444800}'\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
            let src = TokenSource::AzureCli {
                az: az.clone(),
                resource: "https://management.azure.com/".into(),
                cached: Mutex::new(None),
            };
            assert_eq!(src.token().unwrap().unwrap().expose(), "tok-from-fake-az");
        }
    }
}
