//! Lists the data connectors, analytics rules and automation rules of
//! workspaces (following `nextLink`), concurrently, into one folder per
//! workspace, as `az rest` list responses with etags: exactly what `plan`
//! reads. Each list is reported as it is written (`progress`: a bar on a
//! terminal, a line per list otherwise).
//!
//! An export replaces the previous one only when it is complete: it is
//! written into a temporary folder beside `out`, and only once every list
//! of every workspace has been read is each workspace's folder swapped in
//! by rename. A failed export leaves the previous one untouched. A
//! workspace that does not exist (ARM answers 404) is an error, never
//! "0 resources".

use super::Client;
use super::apply::for_each;
use crate::error::{Error, Result};
use crate::model::{ResourceType, Workspace, arm_path};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub workspace: String,
    pub resource_type: ResourceType,
    pub path: PathBuf,
    pub count: usize,
}

/// The folder of a workspace's export: `<out>/<subscription>/<group>/<name>`.
pub fn folder(out: &Path, ws: &Workspace) -> PathBuf {
    let segs: Vec<&str> = ws.id().split('/').collect();
    // /subscriptions/{s}/resourceGroups/{rg}/providers/{p}/workspaces/{w}
    // Never outside `out`: no separators, and `.`/`..` (which a workspace
    // id cannot hold) would still become a plain name.
    let clean = |s: &str| {
        let s = s.replace(['/', '\\', '\0'], "_");
        if s.is_empty() || crate::model::is_dot_segment(&s) {
            format!("_{s}")
        } else {
            s
        }
    };
    out.join(clean(segs.get(2).copied().unwrap_or("subscription")))
        .join(clean(segs.get(4).copied().unwrap_or("group")))
        .join(clean(ws.name()))
}

pub async fn export(
    client: Arc<Client>,
    workspaces: &[Workspace],
    api_version: impl Fn(ResourceType) -> String,
    out: &Path,
    parallelism: usize,
    progress: Arc<super::progress::Progress>,
    subscription_api_version: &str,
) -> Result<Vec<Exported>> {
    let mut unique: Vec<Workspace> = Vec::new();
    for ws in workspaces {
        if !unique.contains(ws) {
            unique.push(ws.clone());
        }
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(|e| Error::io("cannot create", parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".sentinel-migrate-export-")
        .tempdir_in(parent)
        .map_err(|e| Error::io("cannot create a temporary folder in", parent, e))?;
    let mut jobs = Vec::new();
    for ws in &unique {
        for t in ResourceType::ALL {
            let path = arm_path(ws.id(), t, None, &api_version(t))
                .map_err(|e| Error::Usage(format!("--workspace: {e}")))?;
            jobs.push((ws.clone(), t, path));
        }
    }
    let client_for_subscriptions = client.clone();
    let progress_after = progress.clone();
    let out_dir = staging.path().to_path_buf();
    let final_dir = out.to_path_buf();
    let results = for_each(
        jobs,
        parallelism,
        move |(ws, t, path): (Workspace, ResourceType, String)| {
            let client = client.clone();
            let out_dir = out_dir.clone();
            let final_dir = final_dir.clone();
            let progress = progress.clone();
            async move {
                let mut items = client.list(&path).await.map_err(|e| {
                    if e.status() == Some(404) {
                        Error::arm(
                            format!(
                                "workspace {} does not exist (or this identity cannot see it)",
                                ws.id()
                            ),
                            e,
                        )
                    } else {
                        Error::arm(format!("exporting {t} of {}", ws.id()), e)
                    }
                })?;
                items.sort_by_key(|v| {
                    v.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_ascii_lowercase()
                });
                let dir = folder(&out_dir, &ws);
                std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
                let name = format!("{}.json", t.as_str());
                let staged = dir.join(&name);
                let file = folder(&final_dir, &ws).join(&name);
                let mut text =
                    serde_json::to_string_pretty(&json!({ "value": items })).unwrap_or_default();
                text.push('\n');
                std::fs::write(&staged, text).map_err(|e| Error::io("cannot write", &staged, e))?;
                let line = format!(
                    "exported {} {t} of {} to {}",
                    items.len(),
                    ws.id(),
                    file.display()
                );
                progress.line(&crate::render::one_line(&line));
                progress.inc(&format!("{t} of {}", ws.name()));
                Ok::<_, Error>(Exported {
                    workspace: ws.id().to_string(),
                    resource_type: t,
                    path: file,
                    count: items.len(),
                })
            }
        },
    )
    .await;
    let exported = results.into_iter().collect::<Result<Vec<_>>>()?;
    // Each subscription's tenant, so that plan can group workspaces by
    // tenant: read before anything is swapped in, written after.
    let mut subscriptions: Vec<(String, Value)> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for ws in &unique {
        let sub = ws.subscription().to_string();
        if !seen.insert(sub.to_ascii_lowercase()) {
            continue;
        }
        let path = format!(
            "/subscriptions/{}?api-version={subscription_api_version}",
            crate::model::encode_segment(&sub)
        );
        let read = client_for_subscriptions.get(&path).await;
        match read {
            Ok(Some(body)) if body.get("tenantId").and_then(Value::as_str).is_some() => {
                subscriptions.push((sub, body));
            }
            Ok(_) => progress_after.line(&crate::render::one_line(&format!(
                "the tenant of subscription {sub} was not read (no such subscription, or no tenantId): plan groups its workspaces by tenant from the connectors or --settings only"
            ))),
            Err(e) => progress_after.line(&crate::render::one_line(&format!(
                "the tenant of subscription {sub} was not read ({e}): plan groups its workspaces by tenant from the connectors or --settings only"
            ))),
        }
    }
    // Complete: swap each workspace's folder in.
    for (i, ws) in unique.iter().enumerate() {
        let aside = staging.path().join(format!(".previous-{i}"));
        swap_in(&folder(staging.path(), ws), &folder(out, ws), &aside)?;
    }
    for (sub, body) in subscriptions {
        let dir = out.join(sub.replace(['/', '\\', '\0'], "_"));
        let file = dir.join("subscription.json");
        let tmp = dir.join(".subscription.json.tmp");
        let mut text = serde_json::to_string_pretty(&body).unwrap_or_default();
        text.push('\n');
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &file))
            .map_err(|e| Error::io("cannot write", &file, e))?;
        progress_after.line(&crate::render::one_line(&format!(
            "exported the tenant of subscription {sub} to {}",
            file.display()
        )));
    }
    Ok(exported)
}

/// Moves `staged` to `target`; a previous `target` is moved to `aside`
/// first (and back if the move fails). Both sit on one file system: the
/// staging folder is a sibling of `out`.
fn swap_in(staged: &Path, target: &Path, aside: &Path) -> Result<()> {
    if let Some(p) = target.parent() {
        std::fs::create_dir_all(p).map_err(|e| Error::io("cannot create", p, e))?;
    }
    let had = target.exists();
    if had {
        std::fs::rename(target, aside)
            .map_err(|e| Error::io("cannot move the previous export away from", target, e))?;
    }
    if let Err(e) = std::fs::rename(staged, target) {
        if had {
            let _ = std::fs::rename(aside, target);
        }
        return Err(Error::io("cannot move the export into", target, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_of_a_workspace_never_leaves_out() {
        let out = Path::new("exports");
        for id in [
            "/subscriptions/../resourceGroups/../providers/p/workspaces/..",
            "/subscriptions/./resourceGroups//providers/p/workspaces/.",
            "/subscriptions/a\\..\\b/resourceGroups/x/providers/p/workspaces/w",
        ] {
            // Not through Workspace::parse (which refuses these): as a plan
            // or a resource id could carry them.
            let ws: Workspace = serde_json::from_value(json!(id)).unwrap();
            let dir = folder(out, &ws);
            let parts: Vec<_> = dir.components().collect();
            assert_eq!(parts.len(), 4, "{}", dir.display());
            assert!(
                parts
                    .iter()
                    .all(|c| matches!(c, std::path::Component::Normal(_))),
                "{}",
                dir.display()
            );
            assert!(dir.starts_with(out));
        }
    }
}
