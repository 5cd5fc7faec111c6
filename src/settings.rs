//! The settings file (`plan --settings FILE`): per workspace, its tenant,
//! whether it is its tenant's primary, and its Defender portal state, for
//! fleets where one flag cannot say it. JSON, read with `serde_json`
//! (errors give line and column); see `docs/cli.md` and
//! `examples/settings.json`.
//!
//! ```json
//! {"workspaces": [
//!   {"id": "/subscriptions/…/workspaces/law-a", "tenant_id": "…", "primary": true,
//!    "defender_portal": "onboarded"}
//! ]}
//! ```

use crate::error::{Diagnostic, Error, Result};
use crate::model::Workspace;
use crate::plan::{PortalState, Settings, WorkspaceSettings, is_guid};
use serde::{Deserialize, Deserializer};
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    workspaces: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(deserialize_with = "workspace")]
    id: Workspace,
    #[serde(default, deserialize_with = "tenant")]
    tenant_id: Option<String>,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    defender_portal: Option<PortalState>,
}

fn workspace<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Workspace, D::Error> {
    let s = String::deserialize(d)?;
    Workspace::parse(&s).map_err(serde::de::Error::custom)
}

fn tenant<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    if is_guid(&s) {
        Ok(Some(s.to_ascii_lowercase()))
    } else {
        Err(serde::de::Error::custom(format!(
            "`{s}` is not a tenant id (a GUID)"
        )))
    }
}

/// Reads `path` into `settings.workspaces`.
pub fn load(path: &Path, settings: &mut Settings) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io("cannot read settings file", path, e))?;
    apply(&path.display().to_string(), &text, settings).map_err(|d| Error::Input(vec![d]))
}

/// Parses a settings file's text into `settings.workspaces`.
pub fn apply(
    path: &str,
    text: &str,
    settings: &mut Settings,
) -> std::result::Result<(), Diagnostic> {
    let expected = r#"{"workspaces": [{"id": "<workspace ARM id>", "tenant_id": "<GUID>", "primary": true, "defender_portal": "not-onboarded|onboarded|unknown"}]}"#;
    let file: File = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
        let message = e.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m)
            .to_string();
        Diagnostic::at(
            path,
            text,
            e.line(),
            e.column(),
            format!("settings file: {message}"),
        )
        .expected(expected)
        .hint("every field but `id` may be left out; see examples/settings.json")
    })?;
    for e in file.workspaces {
        let key = e.id.key();
        if settings.workspaces.contains_key(&key) {
            return Err(Diagnostic::file(
                path,
                format!("settings file: workspace {} is listed twice", e.id.id()),
            )
            .hint("give each workspace once"));
        }
        settings.workspaces.insert(
            key,
            WorkspaceSettings {
                tenant_id: e.tenant_id,
                primary: e.primary,
                defender_portal: e.defender_portal,
            },
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WS: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/a";

    #[test]
    fn reads_each_workspace() {
        let mut s = Settings::default();
        let text = format!(
            r#"{{"workspaces": [{{"id": "{WS}", "tenant_id": "AAAAAAAA-0000-4000-8000-000000000001", "primary": true, "defender_portal": "onboarded"}}]}}"#
        );
        apply("s.json", &text, &mut s).unwrap();
        let w = &s.workspaces[&WS.to_ascii_lowercase()];
        assert_eq!(
            w.tenant_id.as_deref(),
            Some("aaaaaaaa-0000-4000-8000-000000000001")
        );
        assert!(w.primary);
        assert_eq!(w.defender_portal, Some(PortalState::Onboarded));
    }

    #[test]
    fn errors_point_at_the_value() {
        let mut s = Settings::default();
        let text = format!(
            "{{\"workspaces\": [\n  {{\"id\": \"{WS}\",\n   \"tenant_id\": \"not-a-guid\"}}]}}"
        );
        let d = apply("s.json", &text, &mut s).unwrap_err();
        assert_eq!(d.line, Some(3), "{d:?}");
        assert!(d.message.contains("not a tenant id"), "{d:?}");
        let d = apply(
            "s.json",
            r#"{"workspaces": [{"id": "x", "defender_portal": "maybe"}]}"#,
            &mut s,
        )
        .unwrap_err();
        assert!(d.message.contains("not a workspace id"), "{d:?}");
        let d = apply(
            "s.json",
            &format!(r#"{{"workspaces": [{{"id": "{WS}", "defender_portal": "maybe"}}]}}"#),
            &mut s,
        )
        .unwrap_err();
        assert!(d.message.contains("unknown variant"), "{d:?}");
    }
}
