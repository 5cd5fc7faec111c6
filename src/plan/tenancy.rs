//! Which tenant each workspace belongs to, which workspace is its tenant's
//! primary, and its Defender portal state: from the settings, the
//! connectors and the subscription records read. Pure, like the planner.
//!
//! A tenant's primary is the one given (`--primary-workspace`, or
//! `"primary": true` in the settings file), the only workspace of its
//! tenant in the inputs, or the only one holding a Defender XDR
//! connector; any other case is an error naming the workspaces and the
//! flag that settles it, never a guess.

use super::{PortalState, Role, Settings, Tenancy, is_guid};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::model::{Inputs, Resource, ResourceType, Workspace};
use std::collections::BTreeMap;

/// A tenant found for a workspace, or why none was.
struct Found {
    tenant: Option<String>,
    source: String,
    notes: Vec<String>,
}

/// The tenancy of every workspace the inputs name, by [`Workspace::key`],
/// with notes for each; an error when a tenant's primary is ambiguous or a
/// given primary is not in the inputs.
pub fn resolve(
    inputs: &Inputs,
    catalog: &Catalog,
    settings: &Settings,
) -> Result<BTreeMap<String, (Tenancy, Vec<String>)>> {
    let mut by_ws: BTreeMap<String, (&Workspace, Vec<&Resource>)> = BTreeMap::new();
    for r in &inputs.resources {
        if let Some(ws) = &r.workspace {
            by_ws
                .entry(ws.key())
                .or_insert_with(|| (ws, Vec::new()))
                .1
                .push(r);
        }
    }
    let mut given: BTreeMap<String, &'static str> = BTreeMap::new();
    for p in &settings.primary_workspaces {
        given.insert(p.to_ascii_lowercase(), "given with --primary-workspace");
    }
    for (k, w) in &settings.workspaces {
        if w.primary {
            given
                .entry(k.to_ascii_lowercase())
                .or_insert("given as primary in the settings file");
        }
    }
    let unknown: Vec<&String> = given.keys().filter(|k| !by_ws.contains_key(*k)).collect();
    if !unknown.is_empty() {
        let read: Vec<&str> = by_ws.values().map(|(w, _)| w.id()).collect();
        return Err(Error::Usage(format!(
            "--primary-workspace: no workspace of the inputs is {}; the workspaces read are: {}",
            unknown
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if read.is_empty() {
                "none".to_string()
            } else {
                read.join(", ")
            }
        )));
    }

    // Tenants, then groups: a workspace of unknown tenant is a group alone.
    let mut found: BTreeMap<String, Found> = BTreeMap::new();
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, (ws, resources)) in &by_ws {
        let f = tenant_of(ws, resources, inputs, catalog, settings);
        let group = f.tenant.clone().unwrap_or_else(|| format!("?{key}"));
        groups.entry(group).or_default().push(key.clone());
        found.insert(key.clone(), f);
    }

    let holds_xdr = |key: &String| {
        by_ws[key].1.iter().any(|r| {
            r.resource_type == ResourceType::DataConnectors
                && r.is_kind(&catalog.connectors.xdr.kind)
        })
    };
    let mut problems = Vec::new();
    let mut out = BTreeMap::new();
    for (group, members) in &groups {
        let tenant = (!group.starts_with('?')).then(|| group.clone());
        let chosen: Vec<&String> = members.iter().filter(|m| given.contains_key(*m)).collect();
        let id = |k: &String| by_ws[k].0.id().to_string();
        let (primary, why) = match chosen.as_slice() {
            [one] => ((*one).clone(), given[*one].to_string()),
            [_, _, ..] => {
                problems.push(format!(
                    "tenant {group} has several primaries given ({}): a tenant has one primary workspace",
                    chosen.iter().map(|k| id(k)).collect::<Vec<_>>().join(", ")
                ));
                continue;
            }
            [] if members.len() == 1 => (
                members[0].clone(),
                if tenant.is_some() {
                    "the only workspace of its tenant in the inputs".to_string()
                } else {
                    "its tenant is unknown: planned on its own".to_string()
                },
            ),
            [] => {
                let holders: Vec<&String> = members.iter().filter(|m| holds_xdr(m)).collect();
                if let [one] = holders.as_slice() {
                    (
                        (*one).clone(),
                        "the only workspace of its tenant with a Defender XDR connector"
                            .to_string(),
                    )
                } else {
                    let list = members.iter().map(&id).collect::<Vec<_>>().join(", ");
                    let xdr = if holders.is_empty() {
                        "none of them holds a Defender XDR connector".to_string()
                    } else {
                        format!(
                            "{} hold a Defender XDR connector",
                            holders
                                .iter()
                                .map(|k| id(k))
                                .collect::<Vec<_>>()
                                .join(" and ")
                        )
                    };
                    problems.push(format!(
                        "tenant {group} has {} workspaces in the inputs ({list}) and {xdr}: which one is its primary cannot be inferred",
                        members.len()
                    ));
                    continue;
                }
            }
        };
        let secondaries: Vec<String> = members.iter().filter(|m| **m != primary).map(&id).collect();
        for m in members {
            let Some(f) = found.remove(m) else { continue };
            let role = if *m == primary {
                Role::Primary
            } else {
                Role::Secondary
            };
            let role_source = if role == Role::Primary {
                why.clone()
            } else {
                format!("{} is its tenant's primary ({why})", id(&primary))
            };
            let portal = settings
                .workspaces
                .get(m)
                .and_then(|w| w.defender_portal)
                .unwrap_or(settings.defender_portal);
            let mut notes = f.notes;
            if tenant.is_none() && groups.len() > 1 {
                notes.push(format!(
                    "tenant unknown ({}): planned on its own; give --tenant-id (or \"tenant_id\" in the --settings file) or export it with `sentinel-migrate export`, which writes subscription.json, to group it with its tenant's other workspaces",
                    f.source
                ));
            }
            out.insert(
                m.clone(),
                (
                    Tenancy {
                        tenant_id: f.tenant,
                        tenant_source: f.source,
                        role,
                        role_source,
                        primary: Some(id(&primary)),
                        secondaries: secondaries.clone(),
                        defender_portal: portal,
                    },
                    notes,
                ),
            );
        }
    }
    if !problems.is_empty() {
        return Err(Error::Usage(format!(
            "{}; name each tenant's primary with --primary-workspace <ARM id> (or \"primary\": true for it in the --settings file)",
            problems.join("; ")
        )));
    }
    Ok(out)
}

/// The tenant of one workspace: the settings file, its Defender XDR
/// connector, `--tenant-id`, another connector naming one tenant, its
/// subscription's record, in that order.
fn tenant_of(
    ws: &Workspace,
    resources: &[&Resource],
    inputs: &Inputs,
    catalog: &Catalog,
    settings: &Settings,
) -> Found {
    let record = inputs
        .subscriptions
        .get(&ws.subscription().to_ascii_lowercase());
    let mut notes = Vec::new();
    let connector_tenant = |r: &Resource| {
        (r.resource_type == ResourceType::DataConnectors)
            .then(|| r.prop_str("tenantId"))
            .flatten()
            .filter(|t| is_guid(t))
            .map(str::to_ascii_lowercase)
    };
    let xdr = resources.iter().find_map(|r| {
        r.is_kind(&catalog.connectors.xdr.kind)
            .then(|| connector_tenant(r).map(|t| (t, r)))
            .flatten()
    });
    let mut others: BTreeMap<String, String> = BTreeMap::new();
    for r in resources {
        if catalog
            .connectors
            .tenant_id_kinds
            .iter()
            .any(|k| r.is_kind(k))
            && let Some(t) = connector_tenant(r)
        {
            others.entry(t).or_insert_with(|| {
                format!(
                    "from the {} connector {}",
                    r.kind.as_deref().unwrap_or(""),
                    r.name
                )
            });
        }
    }
    let (tenant, source) = if let Some(t) = settings
        .workspaces
        .get(&ws.key())
        .and_then(|w| w.tenant_id.clone())
    {
        (Some(t), "from the settings file".to_string())
    } else if let Some((t, r)) = xdr {
        (
            Some(t),
            format!(
                "from the {} connector {}",
                r.kind.as_deref().unwrap_or(""),
                r.name
            ),
        )
    } else if let Some(t) = &settings.tenant_id {
        (Some(t.clone()), "given with --tenant-id".to_string())
    } else if others.len() == 1 {
        let (t, s) = others
            .iter()
            .next()
            .map(|(t, s)| (t.clone(), s.clone()))
            .unwrap_or_default();
        (Some(t), s)
    } else if others.len() > 1 {
        let list = others.keys().cloned().collect::<Vec<_>>().join(", ");
        (None, format!("the exports name several tenants ({list})"))
    } else if let Some(rec) = record {
        (
            Some(rec.tenant_id.clone()),
            format!("from {} (its subscription)", rec.origin.path),
        )
    } else {
        (None, "no tenant id in the exports".to_string())
    };
    if let (Some(t), Some(rec)) = (&tenant, record)
        && *t != rec.tenant_id
    {
        notes.push(format!(
            "its tenant is {t} ({source}) but its subscription {} is in tenant {} ({}): planned in {t}; check which is right",
            rec.subscription_id, rec.tenant_id, rec.origin
        ));
    }
    Found {
        tenant,
        source,
        notes,
    }
}

/// The Defender portal state of a workspace.
pub fn portal(settings: &Settings, ws: Option<&Workspace>) -> PortalState {
    ws.and_then(|w| settings.workspaces.get(&w.key()))
        .and_then(|w| w.defender_portal)
        .unwrap_or(settings.defender_portal)
}
