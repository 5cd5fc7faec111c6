//! Effects: talking to Azure (or the local emulator) over the ARM REST API.
//!
//! `client` owns HTTP and retries; `token` owns credentials. On top of them:
//! `export` (workspaces to files `plan` reads back), `apply` (a saved plan,
//! journaled and resumable), `verify` (and `data`: `verify --data`,
//! the workspaces' data through the Log Analytics query API), `rollback` and `rehearse` (the apply
//! against a local copy first).

pub mod apply;
pub mod client;
pub mod data;
pub mod export;
pub mod journal;
pub mod progress;
pub mod rehearse;
pub mod rollback;
pub mod token;
pub mod verify;

pub use client::{ApiError, Client, Cloud, Endpoint, RetryPolicy};

use serde_json::Value;

/// The value at a dotted path (`properties.dataTypes.incidents.state`).
pub fn value_at<'v>(body: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(body, |v, key| v.get(key))
}

/// Fields the service fills in: left out of bodies sent back to it.
pub fn restorable(body: &Value) -> Value {
    let mut v = body.clone();
    if let Some(m) = v.as_object_mut() {
        for k in ["etag", "systemData", "id", "name", "type"] {
            m.remove(k);
        }
        if let Some(p) = m.get_mut("properties").and_then(Value::as_object_mut) {
            for k in [
                "lastModifiedUtc",
                "lastModifiedTimeUtc",
                "createdTimeUtc",
                "createdBy",
                "lastModifiedBy",
            ] {
                p.remove(k);
            }
        }
    }
    v
}

/// A multi-threaded runtime for one command.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_restorable_bodies() {
        let v = json!({"etag": "\"1\"", "id": "x", "kind": "Scheduled", "properties": {"enabled": true, "lastModifiedUtc": "t", "dataTypes": {"incidents": {"state": "Enabled"}}}});
        assert_eq!(
            value_at(&v, "properties.dataTypes.incidents.state"),
            Some(&json!("Enabled"))
        );
        assert_eq!(value_at(&v, "properties.nope"), None);
        assert_eq!(
            restorable(&v),
            json!({"kind": "Scheduled", "properties": {"enabled": true, "dataTypes": {"incidents": {"state": "Enabled"}}}})
        );
    }
}
