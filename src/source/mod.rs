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
use crate::model::{Format, InputFile, Inputs, Keep, Resource, ResourceType, Skipped, Workspace};
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
    /// Threads reading files (0: one per CPU; 1: the caller's thread only).
    /// What is read does not depend on it.
    pub jobs: usize,
    /// Keep every analytics rule's body whole, as a value, instead of only
    /// what the planner reads ([`crate::model::RULE_KEYS`]) and the rest as
    /// text: the artifacts are the same either way (`tests/pruning.rs`
    /// checks it); only that test and the bench set it.
    pub full_bodies: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            workspace: None,
            jobs: 0,
            full_bodies: false,
        }
    }
}

/// 32 MiB: ten times a large workspace's export.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 32 * 1024 * 1024;

/// What one file turned out to be.
enum Content {
    Resources(Format, Vec<Resource>, Vec<Skipped>),
    Parameters,
    /// A subscription body (`GET /subscriptions/{id}`): its tenant.
    Subscription(crate::model::SubscriptionRecord),
    Skip(String),
}

struct Loaded {
    path: String,
    text: String,
    sha256: String,
}

/// One file after the parallel part of reading: loaded, hashed and, unless
/// it waits for its parameters file, parsed (its text dropped).
struct Stage {
    path: String,
    sha256: String,
    parameters: Option<arm::ParametersFile>,
    parsed: Parsed,
}

enum Parsed {
    /// Its content, and the diagnostics of resources that cannot be addressed.
    Done(Result<Content, Vec<Diagnostic>>, Vec<Diagnostic>),
    /// A template whose `<name>.parameters.json` is among the inputs: parsed
    /// once the parameters are known.
    Waits(String),
}

/// Reads every file named, and every file under every directory named.
///
/// Files are read, hashed and parsed on up to `options.jobs` threads (the
/// resources of a large list on the threads other files leave idle); the
/// results are merged in the sorted order of the files, so what is read
/// is the same whatever the number of threads.
pub fn read(paths: &[PathBuf], options: &ReadOptions) -> Result<Inputs> {
    read_with(paths, options, &|_| Keep::Whole)
}

/// [`read`], asking `keep` of each analytics rule read pruned, on the
/// thread that read it, what of it the plan will want ([`Keep`]): the
/// text of those it takes no step on is dropped there and then
/// ([`Resource::keep`]), not held for the whole fleet.
pub fn read_with(paths: &[PathBuf], options: &ReadOptions, keep: Keeper) -> Result<Inputs> {
    let mut diagnostics = Vec::new();
    let mut walked_past = Vec::new();
    let files = expand(paths, &mut diagnostics, &mut walked_past);
    let names: std::collections::HashSet<String> =
        files.iter().map(|f| f.display().to_string()).collect();

    let stages = crate::par::map_sharing(files, options.jobs, |file, budget| {
        let l = load(&file, options)?;
        let parameters = arm::parameters_file(&l.path, &l.text);
        let waits = parameters_path_for(&l.path).is_some_and(|p| names.contains(&p));
        let parsed = if waits {
            Parsed::Waits(l.text)
        } else {
            let content = parse(&l, None, options, budget, keep);
            let unaddressable = match &content {
                Ok(Content::Resources(_, resources, _)) => check_addressable(resources, &l),
                _ => Vec::new(),
            };
            Parsed::Done(content, unaddressable)
        };
        Ok::<_, Diagnostic>(Stage {
            path: l.path,
            sha256: l.sha256,
            parameters,
            parsed,
        })
    });
    let mut loaded = Vec::new();
    for s in stages {
        match s {
            Ok(s) => loaded.push(s),
            Err(d) => diagnostics.push(d),
        }
    }

    // A template is read with the parameters file deployed beside it.
    let mut parameters: BTreeMap<String, arm::ParametersFile> = BTreeMap::new();
    for s in &mut loaded {
        if let Some(p) = s.parameters.take() {
            parameters.insert(s.path.clone(), p);
        }
    }
    // The pool above is done: every thread is idle but this one.
    let budget = crate::par::Budget::new(options.jobs);
    for s in &mut loaded {
        if let Parsed::Waits(text) = &mut s.parsed {
            let l = Loaded {
                path: s.path.clone(),
                text: std::mem::take(text),
                sha256: String::new(),
            };
            let params = parameters_path_for(&l.path).and_then(|p| parameters.get(&p));
            let content = parse(&l, params, options, &budget, keep);
            let unaddressable = match &content {
                Ok(Content::Resources(_, resources, _)) => check_addressable(resources, &l),
                _ => Vec::new(),
            };
            s.parsed = Parsed::Done(content, unaddressable);
        }
    }

    let mut inputs = Inputs {
        skipped: walked_past,
        ..Inputs::default()
    };
    let mut used_parameters = Vec::new();
    let mut unaddressable = Vec::new();
    // Room for every resource at once: a fleet's are not moved as it grows.
    inputs.resources.reserve_exact(
        loaded
            .iter()
            .map(|l| match &l.parsed {
                Parsed::Done(Ok(Content::Resources(_, r, _)), _) => r.len(),
                _ => 0,
            })
            .sum(),
    );
    for l in &mut loaded {
        let params_path = parameters_path_for(&l.path);
        let params = params_path.as_ref().and_then(|p| parameters.get(p));
        let Parsed::Done(content, mut bad) =
            std::mem::replace(&mut l.parsed, Parsed::Waits(String::new()))
        else {
            continue;
        };
        unaddressable.append(&mut bad);
        match content {
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
            Ok(Content::Subscription(record)) => {
                inputs.files.push(InputFile {
                    path: l.path.clone(),
                    sha256: l.sha256.clone(),
                    format: Some(Format::ArmSubscription),
                    resources: 0,
                });
                let key = record.subscription_id.to_ascii_lowercase();
                match inputs.subscriptions.get(&key) {
                    Some(seen) if seen.tenant_id != record.tenant_id => diagnostics.push(
                        Diagnostic::at_origin(
                            &record.origin,
                            format!(
                                "subscription {} is in tenant {} here but in tenant {} at {}",
                                record.subscription_id,
                                record.tenant_id,
                                seen.tenant_id,
                                seen.origin
                            ),
                        )
                        .expected("one tenant per subscription")
                        .hint("export the subscriptions again: one of the files is out of date"),
                    ),
                    Some(_) => {}
                    None => {
                        inputs.subscriptions.insert(key, record);
                    }
                }
            }
            Ok(Content::Skip(reason)) => inputs.skipped.push(Skipped {
                path: l.path.clone(),
                reason,
            }),
            Err(mut ds) => diagnostics.append(&mut ds),
        }
    }
    for p in parameters.keys() {
        if !used_parameters.contains(p) {
            let template = p
                .strip_suffix(".parameters.json")
                .map(|stem| format!("{stem}.json"))
                .filter(|t| loaded.iter().any(|l| &l.path == t));
            let reason = match template {
                Some(t) => format!(
                    "the parameters of {} beside it, which is skipped: not used",
                    Path::new(&t).file_name().map_or(t.clone(), |n| n.to_string_lossy().into_owned())
                ),
                None => "parameters file with no template beside it (`<name>.json` for `<name>.parameters.json`): not used".into(),
            };
            inputs.skipped.push(Skipped {
                path: p.clone(),
                reason,
            });
        }
    }
    // A parameters file no template used is not an input of the plan.
    inputs
        .files
        .retain(|f| f.format != Some(Format::ArmParameters) || used_parameters.contains(&f.path));

    diagnostics.append(&mut unaddressable);
    inputs.covered = coverage(&inputs);
    diagnostics.extend(check_duplicates(&mut inputs.resources));
    inputs.skipped.extend(kind_notes(&inputs.resources));
    if !diagnostics.is_empty() {
        diagnostics.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        return Err(Error::Input(diagnostics));
    }
    inputs.skipped.sort();
    Ok(inputs)
}

/// Which resource types were read for which workspace: those of the
/// resources read, and those of lists named for a type (`dataConnectors.json`)
/// that were empty, for the workspaces of the files beside them.
fn coverage(inputs: &Inputs) -> std::collections::BTreeSet<(Option<String>, ResourceType)> {
    let parent = |p: &str| Path::new(p).parent().map(Path::to_path_buf);
    let mut covered = std::collections::BTreeSet::new();
    let mut by_dir: BTreeMap<Option<PathBuf>, std::collections::BTreeSet<Option<String>>> =
        BTreeMap::new();
    // Resources come file by file: most are of the workspace, type and
    // file of the one before, which adds nothing.
    let mut last: Option<&Resource> = None;
    for r in &inputs.resources {
        // Workspaces compare as their keys do.
        if last.is_some_and(|l| {
            l.resource_type == r.resource_type
                && l.origin.path == r.origin.path
                && l.workspace == r.workspace
        }) {
            continue;
        }
        last = Some(r);
        let ws = r.workspace.as_ref().map(Workspace::key);
        covered.insert((ws.clone(), r.resource_type));
        by_dir.entry(parent(&r.origin.path)).or_default().insert(ws);
    }
    for f in &inputs.files {
        if f.resources > 0 || !matches!(f.format, Some(Format::ArmList | Format::JsonArray)) {
            continue;
        }
        let Some(t) = Path::new(&f.path)
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(ResourceType::from_type)
        else {
            continue;
        };
        // With nothing beside it, whose list it is is unknown: it covers none.
        for ws in by_dir.get(&parent(&f.path)).into_iter().flatten() {
            covered.insert((ws.clone(), t));
        }
    }
    covered
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
///
/// Links under a directory are followed only when they stay inside it (a
/// link out of the folder is skipped with a note: an export folder must not
/// make the tool read, and print, files elsewhere); special files (FIFOs,
/// sockets, devices) are skipped under a directory and refused when named.
fn expand(
    paths: &[PathBuf],
    diagnostics: &mut Vec<Diagnostic>,
    skipped: &mut Vec<Skipped>,
) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                diagnostics.push(
                    Diagnostic::file(&name, "no such file or directory")
                        .expected("an export file, or a directory of them"),
                );
                continue;
            }
            Err(e) => {
                diagnostics.push(Diagnostic::file(&name, format!("cannot read: {e}")));
                continue;
            }
        };
        if meta.is_dir() {
            walk(path, &mut files, diagnostics, skipped);
        } else if meta.is_file() {
            files.push(path.clone());
        } else {
            diagnostics.push(
                Diagnostic::file(
                    &name,
                    format!("{}: not read", special_kind(&meta.file_type())),
                )
                .expected("an export file, or a directory of them")
                .hint("save the export to a file first, then plan from the file"),
            );
        }
    }
    files
}

/// The files under one directory named on the command line.
fn walk(
    root: &Path,
    files: &mut Vec<PathBuf>,
    diagnostics: &mut Vec<Diagnostic>,
    skipped: &mut Vec<Skipped>,
) {
    let real_root = match std::fs::canonicalize(root) {
        Ok(r) => r,
        Err(e) => {
            diagnostics.push(Diagnostic::file(
                root.display().to_string(),
                format!("cannot read: {e}"),
            ));
            return;
        }
    };
    // Not following links: each one is looked at below.
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let e = match entry {
            Ok(e) => e,
            Err(e) => {
                diagnostics.push(Diagnostic::file(
                    e.path().unwrap_or(root).display().to_string(),
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        let ft = e.file_type();
        if ft.is_dir() || e.depth() == 0 {
            continue;
        }
        let shown = e.path().display().to_string();
        if ft.is_file() {
            files.push(e.into_path());
            continue;
        }
        if !ft.is_symlink() {
            skipped.push(Skipped {
                path: shown,
                reason: format!("{}: not read", special_kind(&ft)),
            });
            continue;
        }
        // A link: followed only if it ends inside the folder given.
        let target = std::fs::canonicalize(e.path());
        let meta = std::fs::metadata(e.path());
        match (target, meta) {
            (Ok(t), Ok(m)) if t.starts_with(&real_root) => {
                if m.is_file() {
                    files.push(e.into_path());
                } else if m.is_dir() {
                    skipped.push(Skipped {
                        path: shown,
                        reason: "a link to a folder inside the folder given: not followed (its files are read where they are)".into(),
                    });
                } else {
                    skipped.push(Skipped {
                        path: shown,
                        reason: format!("a link to {}: not read", special_kind(&m.file_type())),
                    });
                }
            }
            (Ok(_), Ok(_)) => skipped.push(Skipped {
                path: shown,
                reason: format!(
                    "a link out of the folder given ({}): not followed; name the file itself to read it",
                    root.display()
                ),
            }),
            _ => skipped.push(Skipped {
                path: shown,
                reason: "a broken link: not followed".into(),
            }),
        }
    }
}

/// What a file that is neither a regular file nor a directory is.
fn special_kind(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a named pipe (FIFO), not a file";
        } else if ft.is_socket() {
            return "a socket, not a file";
        } else if ft.is_char_device() {
            return "a character device, not a file";
        } else if ft.is_block_device() {
            return "a block device, not a file";
        }
    }
    if ft.is_symlink() {
        "a link"
    } else {
        "not a regular file"
    }
}

fn too_large(name: &str, size: Option<u64>, limit: u64) -> Diagnostic {
    let what = match size {
        Some(size) => format!("the file is {}", human_size(size)),
        None => "the file is larger".to_string(),
    };
    Diagnostic::file(
        name,
        format!(
            "{what}, more than the {} allowed for one export file",
            human_size(limit)
        ),
    )
    .expected("an export of Sentinel resources (a large workspace exports a few MB)")
    .hint("if it really is an export, raise the limit with --max-file-size")
}

/// Opens a file for reading without blocking on a FIFO that took its
/// place since it was looked at, and checks that what was opened is a
/// regular file.
fn open_regular(path: &Path, name: &str) -> Result<std::fs::File, Diagnostic> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options
        .open(path)
        .map_err(|e| Diagnostic::file(name, format!("cannot read: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| Diagnostic::file(name, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(Diagnostic::file(
            name,
            format!("{}: not read", special_kind(&meta.file_type())),
        )
        .expected("an export file, or a directory of them"));
    }
    Ok(file)
}

fn load(path: &Path, options: &ReadOptions) -> Result<Loaded, Diagnostic> {
    use std::io::Read as _;
    let name = path.display().to_string();
    let file = open_regular(path, &name)?;
    let size = file
        .metadata()
        .map_err(|e| Diagnostic::file(&name, format!("cannot read: {e}")))?
        .len();
    if size > options.max_file_size {
        return Err(too_large(&name, Some(size), options.max_file_size));
    }
    // The size on `stat` is not the size read: files in /proc say 0, and a
    // file may grow. The limit holds while reading.
    // Room for the size `stat` gave (within the limit: checked above) and
    // one byte to see it grew: read in one allocation, not grown by
    // doubling (each copied and its pages faulted in anew). Only a hint:
    // when it cannot be had, reading asks again and fails with an error.
    let mut bytes = Vec::new();
    let _ = bytes.try_reserve_exact(usize::try_from(size.saturating_add(1)).unwrap_or(0));
    file.take(options.max_file_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Diagnostic::file(&name, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > options.max_file_size {
        return Err(too_large(&name, None, options.max_file_size));
    }
    let sha256 = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (text, _) = text::decode_owned(&name, bytes)?;
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
    skip_insignificant(text).chars().next()
}

/// The text after leading whitespace and `//` / `/* */` comments.
fn skip_insignificant(text: &str) -> &str {
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("//") {
            rest = r.split_once('\n').map_or("", |(_, tail)| tail);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, tail)| tail);
        } else {
            return rest;
        }
    }
}

/// What the plan will want of a resource read pruned ([`read_with`]).
pub type Keeper<'a> = &'a (dyn Fn(&Resource) -> Keep + Sync);

/// What one file holds; the resources of a large list built on the idle
/// threads of `budget` too, each asked of `keep` as it is built.
fn parse(
    l: &Loaded,
    params: Option<&arm::ParametersFile>,
    options: &ReadOptions,
    budget: &crate::par::Budget,
    keep: Keeper,
) -> Result<Content, Vec<Diagnostic>> {
    match first_significant_char(&l.text) {
        None => Ok(Content::Skip("empty file".into())),
        Some('{') | Some('[') => arm::read(&l.path, &l.text, params, options, budget, keep),
        Some(_) => yaml::read(&l.path, &l.text, options).map_err(|d| vec![d]),
    }
}

/// The same resource read twice (exported twice, or a rule copied into two
/// folders of a repository): identical copies are one resource; copies that
/// differ are an error naming both files (which one is current?). Resources
/// are the same when their workspace (or the lack of one), type and name
/// are; a name a template does not fix (`[parameters('x')]`) names nothing.
fn check_duplicates(resources: &mut Vec<Resource>) -> Vec<Diagnostic> {
    // Only looked up (the diagnostics follow the resources' order).
    let mut seen: std::collections::HashMap<(Option<String>, ResourceType, String), usize> =
        std::collections::HashMap::with_capacity(resources.len());
    let mut diagnostics = Vec::new();
    let mut keep = vec![true; resources.len()];
    for (i, r) in resources.iter().enumerate() {
        if r.name.starts_with('[') {
            continue;
        }
        let ws = r.workspace.as_ref().map(Workspace::key);
        let key = (ws, r.resource_type, r.name.to_ascii_lowercase());
        let Some(&first) = seen.get(&key) else {
            seen.insert(key, i);
            continue;
        };
        let f = &resources[first];
        // Bodies kept as text compare as values: the same members in
        // another order, or spaced otherwise, are the same body.
        if f.same_body(r) && f.condition == r.condition && f.template_values == r.template_values {
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
                .expected("one copy per resource: the planner cannot tell which copy is current")
                .hint("export the workspace again, or leave the older file out"),
            );
        }
    }
    let mut it = keep.into_iter();
    resources.retain(|_| it.next().unwrap_or(true));
    diagnostics
}

/// A note for each analytics rule whose `kind` is missing or not one
/// Sentinel has (`Sheduled`): the planner passes it through and plans
/// nothing for it, which must not go unseen.
fn kind_notes(resources: &[Resource]) -> Vec<Skipped> {
    let mut notes = Vec::new();
    for r in resources {
        if r.resource_type != ResourceType::AlertRules {
            continue;
        }
        let problem = match r.kind.as_deref() {
            None => "has no `kind`".to_string(),
            Some(k) if template::is_expression(k) => continue,
            Some(k)
                if arm::RULE_KINDS
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(k)) =>
            {
                continue;
            }
            Some(k) => {
                let near = arm::RULE_KINDS
                    .iter()
                    .map(|known| {
                        (
                            edit_distance(&k.to_ascii_lowercase(), &known.to_ascii_lowercase()),
                            known,
                        )
                    })
                    .min()
                    .filter(|(d, _)| *d <= 3)
                    .map(|(_, known)| format!("did you mean `{known}`?"))
                    .unwrap_or_else(|| format!("known: {}", arm::RULE_KINDS.join(", ")));
                format!("has kind `{k}`, not one Sentinel knows ({near})")
            }
        };
        notes.push(Skipped {
            path: r.origin.to_string(),
            reason: format!(
                "analytics rule `{}` {problem}: read as it is, and nothing is planned for it; fix its kind to have it checked",
                r.name
            ),
        });
    }
    notes
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Resources whose URL would address something else: a name, or a segment
/// of their id or workspace, that is `.` or `..` (URL parsers and the Azure
/// CLI resolve those, even percent-encoded).
fn check_addressable(resources: &[Resource], loaded: &Loaded) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for r in resources {
        let id = r.body_id().and_then(serde_json::Value::as_str);
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
        let d = if loaded.path == o.path {
            Diagnostic::at(&o.path, &loaded.text, o.line, o.column, message)
        } else {
            Diagnostic::at_origin(o, message)
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

    /// Coverage is worked out a run of alike resources at a time: a file
    /// whose resources change workspace (or type) and come back still
    /// covers each workspace and type it holds, and none it does not.
    #[test]
    fn coverage_follows_every_change_of_workspace_and_type_in_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let ws = |w: &str| {
            format!(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/{w}"
            )
        };
        let item = |w: &str, t: &str, n: &str| {
            serde_json::json!({
                "id": format!("{}/providers/Microsoft.SecurityInsights/{t}/{n}", ws(w)),
                "name": n,
                "type": format!("Microsoft.SecurityInsights/{t}"),
                "kind": if t == "alertRules" { "Scheduled" } else { "" },
                "etag": "\"1\"",
                "properties": {}
            })
        };
        let items = [
            item("a", "alertRules", "r1"),
            item("b", "alertRules", "r2"),
            item("A", "alertRules", "r3"),
            item("a", "automationRules", "u1"),
            item("a", "alertRules", "r4"),
            item("c", "automationRules", "u2"),
        ];
        let path = dir.path().join("mixed.json");
        std::fs::write(&path, serde_json::json!({ "value": items }).to_string()).unwrap();
        let inputs = read(&[path], &ReadOptions::default()).unwrap();
        assert_eq!(inputs.resources.len(), 6);
        let key = |w: &str| Some(ws(w).to_ascii_lowercase());
        let want: std::collections::BTreeSet<_> = [
            (key("a"), ResourceType::AlertRules),
            (key("b"), ResourceType::AlertRules),
            (key("a"), ResourceType::AutomationRules),
            (key("c"), ResourceType::AutomationRules),
        ]
        .into_iter()
        .collect();
        assert_eq!(inputs.covered, want);
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("sheduled", "scheduled"), 1);
        assert_eq!(edit_distance("nrt", "nrt"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("fusoin", "fusion"), 2);
    }
}
