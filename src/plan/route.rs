//! Which path each step takes: a patch to the file the resource was read
//! from (a template, its parameters file, YAML), apply (an API export), or
//! a person. Decided from the inputs alone (`docs/patches.md`);
//! `render::patch` carries the patches out.

use super::{Action, Route, Via};
use crate::catalog::Operation;
use crate::model::{Format, Origin, Resource};
use serde_json::Value;
use std::collections::BTreeMap;

/// Sets `via` on every step but reviews.
pub(super) fn route(actions: &mut [Action], resources: &[Resource]) {
    let by_origin: BTreeMap<&Origin, &Resource> =
        resources.iter().map(|r| (&r.origin, r)).collect();
    for a in actions.iter_mut() {
        a.via = via(a, &by_origin, resources);
    }
}

fn plain(route: Route) -> Via {
    Via {
        route,
        file: None,
        parameter: None,
        note: None,
    }
}

fn manual(note: String) -> Via {
    Via {
        note: Some(note),
        ..plain(Route::Manual)
    }
}

fn via(
    a: &Action,
    by_origin: &BTreeMap<&Origin, &Resource>,
    resources: &[Resource],
) -> Option<Via> {
    match a.operation {
        Operation::Review => return None,
        Operation::Manual => return Some(plain(Route::Manual)),
        Operation::Create | Operation::Update | Operation::Delete => {}
    }
    let resource = a.source.as_ref().and_then(|o| by_origin.get(o).copied());
    let Some(r) = resource.filter(|r| is_owned(r.format)) else {
        // A step apply cannot take (no workspace known) is for a person.
        return Some(plain(if a.blocked.is_some() {
            Route::Manual
        } else {
            Route::Apply
        }));
    };
    Some(patch(a, r, resources).unwrap_or_else(manual))
}

/// Why a connector removed from its template still needs a live delete.
pub const REMOVED_IS_NOT_DISCONNECTED: &str = "removing it from the template does not disconnect it in Azure (an incremental deployment leaves what a template no longer holds): disconnect it live as well, last, once the tenant-based connector is confirmed (export the workspace and apply, or by hand)";

/// Formats the user keeps as code: changes to them are patches.
pub fn is_owned(format: Format) -> bool {
    matches!(
        format,
        Format::ArmTemplate | Format::DetectionsYaml | Format::PascalYaml
    )
}

/// The YAML keys (after `properties.`) a patch sets.
pub const YAML_KEYS: [&str; 2] = ["enabled", "incidentConfiguration"];

/// The patch for a step on a file-backed resource, or why there is none.
fn patch(a: &Action, r: &Resource, resources: &[Resource]) -> Result<Via, String> {
    let resource = Via {
        file: Some(r.origin.clone()),
        ..plain(Route::Patch)
    };
    if a.operation == Operation::Delete {
        return if r.format == Format::ArmTemplate {
            Ok(Via {
                note: Some(REMOVED_IS_NOT_DISCONNECTED.into()),
                ..resource
            })
        } else {
            Err(format!(
                "read from {}: delete the rule's file by hand",
                r.origin.path
            ))
        };
    }
    if a.desired.is_empty() {
        return Err("the step sets no value a patch could write".into());
    }
    if r.format != Format::ArmTemplate {
        for d in &a.desired {
            let first = d.path.strip_prefix("properties.").unwrap_or_default();
            let key = first.split('.').next().unwrap_or_default();
            if !YAML_KEYS.contains(&key) || first.split('.').count() > 2 {
                return Err(format!(
                    "`{}` is not a key a patch sets in YAML: change the file by hand",
                    d.path
                ));
            }
        }
        return Ok(resource);
    }
    let mut parameter: Option<Via> = None;
    for d in &a.desired {
        let pointer = format!("/{}", d.path.replace('.', "/"));
        let Some(tv) = r.template_values.iter().find(|t| {
            t.pointer == pointer
                || pointer
                    .strip_prefix(&t.pointer)
                    .is_some_and(|rest| rest.starts_with('/'))
        }) else {
            continue;
        };
        let unpatchable = || {
            format!(
                "`{}` is written as the expression `{}` ({}:{}): a patch never rewrites an expression; change it by hand",
                d.path, tv.expression, tv.at.line, tv.at.column
            )
        };
        let (Some(name), Some(by), true) = (
            parameter_name(&tv.expression),
            tv.pinned_by.as_ref(),
            tv.pointer == pointer && tv.known && a.desired.len() == 1,
        ) else {
            return Err(unpatchable());
        };
        if !tv.value.as_ref().is_some_and(is_scalar) {
            return Err(unpatchable());
        }
        if let Some(other) = shared_with(by, r, &pointer, resources) {
            return Err(format!(
                "`{}` comes from the parameter `{name}` ({}:{}), which also sets {other}: change the template by hand",
                d.path, by.path, by.line
            ));
        }
        parameter = Some(Via {
            file: Some(by.clone()),
            parameter: Some(name),
            ..plain(Route::Patch)
        });
    }
    Ok(parameter.unwrap_or(resource))
}

fn is_scalar(v: &Value) -> bool {
    !(v.is_object() || v.is_array())
}

/// `NAME` of an expression that is exactly `[parameters('NAME')]`.
pub fn parameter_name(expression: &str) -> Option<String> {
    let inner = expression
        .trim()
        .strip_prefix('[')?
        .strip_suffix(']')?
        .trim();
    let (func, rest) = inner.split_at(inner.find('(')?);
    if !func.trim().eq_ignore_ascii_case("parameters") {
        return None;
    }
    let arg = rest.strip_prefix('(')?.strip_suffix(')')?.trim();
    let name = arg.strip_prefix('\'')?.strip_suffix('\'')?;
    (!name.is_empty() && !name.contains('\'')).then(|| name.to_string())
}

/// Another value the parameters file value `by` sets: changing the
/// parameter would change it too, so the parameter is for a person.
fn shared_with(by: &Origin, r: &Resource, pointer: &str, resources: &[Resource]) -> Option<String> {
    resources.iter().find_map(|other| {
        other
            .template_values
            .iter()
            .find(|tv| {
                tv.pinned_by.as_ref() == Some(by)
                    && !(other.origin == r.origin && tv.pointer == pointer)
            })
            .map(|tv| {
                format!(
                    "`{}` of `{}`",
                    tv.pointer.trim_start_matches('/').replace('/', "."),
                    other.name
                )
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bare_parameter_is_patched_through_its_file() {
        assert_eq!(
            parameter_name("[parameters('ruleEnabled')]").as_deref(),
            Some("ruleEnabled")
        );
        assert_eq!(
            parameter_name(" [ Parameters( 'x' ) ] ").as_deref(),
            Some("x")
        );
        for e in [
            "[not(parameters('x'))]",
            "[variables('x')]",
            "[parameters('x').y]",
            "[parameters(concat('a','b'))]",
            "parameters('x')",
        ] {
            assert_eq!(parameter_name(e), None, "{e}");
        }
    }
}
