//! Readers: export files and directories to [`Resource`]s.
//!
//! Every file is decoded (UTF-8 with or without BOM, UTF-16 with BOM), its
//! format detected from its content, and its resources read with the place
//! they came from. Files that are clearly not Sentinel resources are skipped
//! and listed; every malformed file is a [`Diagnostic`], and all of them are
//! reported together.

mod arm;
pub mod json;
pub mod template;
pub mod text;
mod yaml;

pub use yaml::yaml_error;

use crate::error::{Diagnostic, Error, Result};
use crate::model::{Format, InputFile, Inputs, Resource, ResourceType, Skipped, Workspace};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Limits and defaults for reading.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Files larger than this are refused (a workspace export is a few MB).
    pub max_file_size: u64,
    /// The workspace of resources whose export does not say (templates, YAML).
    pub workspace: Option<Workspace>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            workspace: None,
        }
    }
}

/// 32 MiB: ten times a large workspace's export.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 32 * 1024 * 1024;

/// What one file turned out to be.
enum Content {
    Resources(Format, Vec<Resource>, Vec<Skipped>),
    Parameters,
    Skip(String),
}

struct Loaded {
    path: String,
    text: String,
    sha256: String,
}

/// Reads every file named, and every file under every directory named.
pub fn read(paths: &[PathBuf], options: &ReadOptions) -> Result<Inputs> {
    let mut diagnostics = Vec::new();
    let mut loaded = Vec::new();
    for file in expand(paths, &mut diagnostics) {
        match load(&file, options) {
            Ok(l) => loaded.push(l),
            Err(d) => diagnostics.push(d),
        }
    }

    // Parameters files first: a template is read with the one deployed beside it.
    let mut parameters: BTreeMap<String, arm::ParametersFile> = BTreeMap::new();
    for l in &loaded {
        if let Some(p) = arm::parameters_file(&l.path, &l.text) {
            parameters.insert(l.path.clone(), p);
        }
    }

    let mut inputs = Inputs::default();
    let mut used_parameters = Vec::new();
    for l in &loaded {
        let params_path = parameters_path_for(&l.path);
        let params = params_path.as_ref().and_then(|p| parameters.get(p));
        match parse(l, params, options) {
            Ok(Content::Resources(format, resources, skipped)) => {
                if format == Format::ArmTemplate
                    && let (Some(p), Some(_)) = (&params_path, params)
                {
                    used_parameters.push(p.clone());
                }
                inputs.files.push(InputFile {
                    path: l.path.clone(),
                    sha256: l.sha256.clone(),
                    format: Some(format),
                    resources: resources.len(),
                });
                inputs.resources.extend(resources);
                inputs.skipped.extend(skipped);
            }
            Ok(Content::Parameters) => inputs.files.push(InputFile {
                path: l.path.clone(),
                sha256: l.sha256.clone(),
                format: Some(Format::ArmParameters),
                resources: 0,
            }),
            Ok(Content::Skip(reason)) => inputs.skipped.push(Skipped {
                path: l.path.clone(),
                reason,
            }),
            Err(mut ds) => diagnostics.append(&mut ds),
        }
    }
    for p in parameters.keys() {
        if !used_parameters.contains(p) {
            inputs.skipped.push(Skipped {
                path: p.clone(),
                reason: "parameters file with no template beside it (`<name>.json` for `<name>.parameters.json`): not used".into(),
            });
        }
    }

    diagnostics.extend(check_addressable(&inputs.resources, &loaded));
    diagnostics.extend(check_duplicates(&mut inputs.resources));
    if !diagnostics.is_empty() {
        diagnostics.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        return Err(Error::Input(diagnostics));
    }
    inputs.skipped.sort();
    Ok(inputs)
}

/// `x.parameters.json` for `x.json`.
fn parameters_path_for(path: &str) -> Option<String> {
    let stem = path
        .strip_suffix(".json")
        .or_else(|| path.strip_suffix(".JSON"))?;
    if stem.ends_with(".parameters") {
        return None;
    }
    Some(format!("{stem}.parameters.json"))
}

/// Files named and files under directories named, in a stable order.
fn expand(paths: &[PathBuf], diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let walker = walkdir::WalkDir::new(path)
                .follow_links(true)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                });
            for entry in walker {
                match entry {
                    Ok(e) if e.file_type().is_file() => files.push(e.into_path()),
                    Ok(_) => {}
                    Err(e) => diagnostics.push(Diagnostic::file(
                        e.path().unwrap_or(path).display().to_string(),
                        format!("cannot read: {e}"),
                    )),
                }
            }
        } else if path.exists() {
            files.push(path.clone());
        } else {
            diagnostics.push(
                Diagnostic::file(path.display().to_string(), "no such file or directory")
                    .expected("an export file, or a directory of them"),
            );
        }
    }
    files
}

fn load(path: &Path, options: &ReadOptions) -> Result<Loaded, Diagnostic> {
    let name = path.display().to_string();
    let size = std::fs::metadata(path)
        .map_err(|e| Diagnostic::file(&name, format!("cannot read: {e}")))?
        .len();
    if size > options.max_file_size {
        return Err(Diagnostic::file(
            &name,
            format!(
                "the file is {}, more than the {} allowed for one export file",
                human_size(size),
                human_size(options.max_file_size)
            ),
        )
        .expected("an export of Sentinel resources (a large workspace exports a few MB)")
        .hint("if it really is an export, raise the limit with --max-file-size"));
    }
    let bytes =
        std::fs::read(path).map_err(|e| Diagnostic::file(&name, format!("cannot read: {e}")))?;
    let sha256 = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (text, _) = text::decode(&name, &bytes)?;
    Ok(Loaded {
        path: name,
        text,
        sha256,
    })
}

pub fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else if bytes >= 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} bytes")
    }
}

/// Skips whitespace and `//` / `/* */` comments at the start of a file.
fn first_significant_char(text: &str) -> Option<char> {
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("//") {
            rest = r.split_once('\n').map_or("", |(_, tail)| tail);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, tail)| tail);
        } else {
            return rest.chars().next();
        }
    }
}

fn parse(
    l: &Loaded,
    params: Option<&arm::ParametersFile>,
    options: &ReadOptions,
) -> Result<Content, Vec<Diagnostic>> {
    match first_significant_char(&l.text) {
        None => Ok(Content::Skip("empty file".into())),
        Some('{') | Some('[') => arm::read(&l.path, &l.text, params, options),
        Some(_) => yaml::read(&l.path, &l.text, options).map_err(|d| vec![d]),
    }
}

/// The same live resource exported twice: identical copies are merged;
/// copies that differ are an error (which one is current?). Resources from
/// templates and YAML describe content, not live state, and are kept apart.
fn check_duplicates(resources: &mut Vec<Resource>) -> Vec<Diagnostic> {
    let mut seen: BTreeMap<(String, ResourceType, String), usize> = BTreeMap::new();
    let mut diagnostics = Vec::new();
    let mut keep = vec![true; resources.len()];
    for (i, r) in resources.iter().enumerate() {
        let Some(ws) = &r.workspace else { continue };
        if r.etag.is_none() {
            continue;
        }
        let key = (ws.key(), r.resource_type, r.name.to_ascii_lowercase());
        if let Some(&first) = seen.get(&key) {
            let f = &resources[first];
            if f.body == r.body {
                keep[i] = false;
            } else {
                diagnostics.push(
                    Diagnostic::at_origin(
                        &r.origin,
                        format!(
                            "{} `{}` is also exported, with different content, at {}",
                            r.resource_type, r.name, f.origin
                        ),
                    )
                    .expected(
                        "one export per resource: the planner cannot tell which copy is current",
                    )
                    .hint("export the workspace again, or leave the older file out"),
                );
            }
        } else {
            seen.insert(key, i);
        }
    }
    let mut it = keep.into_iter();
    resources.retain(|_| it.next().unwrap_or(true));
    diagnostics
}

/// Resources whose URL would address something else: a name, or a segment
/// of their id or workspace, that is `.` or `..` (URL parsers and the Azure
/// CLI resolve those, even percent-encoded).
fn check_addressable(resources: &[Resource], loaded: &[Loaded]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for r in resources {
        let id = r.body.get("id").and_then(serde_json::Value::as_str);
        let problem = crate::model::segment_problem(&r.name)
            .map(|p| format!("its name: {p}"))
            .or_else(|| {
                r.workspace
                    .as_ref()
                    .and_then(|w| crate::model::path_problem(w.id()))
                    .or_else(|| id.and_then(crate::model::path_problem))
                    .map(|p| format!("its id: {p}"))
            });
        let Some(problem) = problem else { continue };
        let message = format!(
            "the {} {:?} cannot be addressed in a URL: {problem}",
            r.resource_type, r.name
        );
        let o = &r.origin;
        let d = match loaded.iter().find(|l| l.path == o.path) {
            Some(l) => Diagnostic::at(&o.path, &l.text, o.line, o.column, message),
            None => Diagnostic::at_origin(o, message),
        };
        diagnostics.push(
            d.expected("a resource name and an ARM id whose segments are not `.` or `..`")
                .hint("fix or remove this resource in the export; the real resource cannot have that name"),
        );
    }
    diagnostics
}

impl Diagnostic {
    /// A diagnostic at a resource's origin (without a snippet).
    pub fn at_origin(origin: &crate::model::Origin, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            path: origin.path.clone(),
            line: Some(origin.line),
            column: Some(origin.column),
            message: message.into(),
            expected: None,
            snippet: None,
            hint: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_files_pair_by_name() {
        assert_eq!(
            parameters_path_for("a/MicrosoftRule.json").as_deref(),
            Some("a/MicrosoftRule.parameters.json")
        );
        assert_eq!(parameters_path_for("a/x.parameters.json"), None);
        assert_eq!(parameters_path_for("a/x.yaml"), None);
    }

    #[test]
    fn leading_comments_are_skipped_in_detection() {
        assert_eq!(first_significant_char("// c\n /* d */ {"), Some('{'));
        assert_eq!(first_significant_char("id: x"), Some('i'));
        assert_eq!(first_significant_char("  \n"), None);
    }
}
