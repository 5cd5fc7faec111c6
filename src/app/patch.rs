//! `plan --patch FILE` and `plan --write`: the I/O around
//! `render::patch` (which edits bytes): reading the files the plan's
//! patches edit (only files the plan read, unchanged since: their sha256
//! is in `plan.json`), writing the patch or the files (`docs/patches.md`).

use crate::error::{Diagnostic, Error, Result};
use crate::plan::Plan;
use crate::render::{self, patch};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One file edited.
struct FileEdit {
    /// As `plan.json` names it.
    path: String,
    /// Where it is written (links resolved).
    real: PathBuf,
    before: Vec<u8>,
    after: Vec<u8>,
}

/// What the patches did, for the summary.
pub struct Report {
    pub lines: Vec<String>,
}

/// Edits every file the plan's patch steps name; writes the patch to
/// `patch_out` and, with `write`, the files in place.
pub fn run(
    plan: &Plan,
    inputs: &[PathBuf],
    patch_out: Option<&Path>,
    write: bool,
) -> Result<Report> {
    let mut by_file: BTreeMap<&str, Vec<&crate::plan::Action>> = BTreeMap::new();
    for a in &plan.actions {
        if let Some(file) = patch::target(a) {
            by_file.entry(file).or_default().push(a);
        }
    }
    // The folders given, and the folder of each file given: a link named
    // on the command line is not a way out of its folder either.
    let roots: Vec<PathBuf> = inputs
        .iter()
        .filter_map(|p| {
            if p.is_dir() {
                std::fs::canonicalize(p).ok()
            } else {
                let parent = p.parent().filter(|d| !d.as_os_str().is_empty());
                std::fs::canonicalize(parent.unwrap_or(Path::new("."))).ok()
            }
        })
        .collect();
    let mut edits = Vec::new();
    let mut lines = Vec::new();
    let mut not_patched = 0;
    let mut patched = 0;
    let mut seen: Vec<PathBuf> = Vec::new();
    for (file, actions) in &by_file {
        let input = plan
            .inputs
            .iter()
            .find(|i| i.path == *file)
            .ok_or_else(|| {
                Error::Input(vec![Diagnostic::file(
                    *file,
                    "a patch step names a file the plan did not read",
                )])
            })?;
        let real = inside(Path::new(file), &roots)?;
        if seen.contains(&real) {
            // The same file under two names (a link inside the inputs):
            // the readers took its resources once; so is it patched.
            continue;
        }
        seen.push(real.clone());
        let before = std::fs::read(&real).map_err(|e| Error::io("cannot read", &real, e))?;
        if super::sha256_hex(&before) != input.sha256 {
            return Err(changed(file));
        }
        let edited = patch::edit(
            &before,
            input.format.as_deref().unwrap_or_default(),
            actions,
        );
        for (a, outcome) in actions.iter().zip(&edited.outcomes) {
            let what = a
                .display_name
                .as_deref()
                .or(a.name.as_deref())
                .unwrap_or("-");
            match outcome {
                Ok(true) => patched += 1,
                Ok(false) => lines.push(format!(
                    "{}: {} already says so",
                    render::one_line(file),
                    render::one_line(what)
                )),
                Err(why) => {
                    not_patched += 1;
                    lines.push(format!(
                        "{}: {} not patched: {}",
                        render::one_line(file),
                        render::one_line(what),
                        render::one_line(why)
                    ));
                }
            }
        }
        if edited.bytes != before {
            edits.push(FileEdit {
                path: file.to_string(),
                real,
                before,
                after: edited.bytes,
            });
        }
    }
    if let Some(out) = patch_out {
        let mut text = Vec::new();
        for e in &edits {
            text.extend(patch::unified(
                &repo_relative(&e.real, &e.path),
                &e.before,
                &e.after,
            ));
        }
        write_beside(out, &text, None)?;
        lines.push(format!(
            "Wrote {} ({}).",
            render::one_line(&out.display().to_string()),
            match edits.len() {
                0 => "empty: nothing to patch".to_string(),
                n => format!(
                    "{patched} step(s) in {n} file{}",
                    if n == 1 { "" } else { "s" }
                ),
            }
        ));
    }
    if write {
        for e in &edits {
            let now =
                std::fs::read(&e.real).map_err(|err| Error::io("cannot read", &e.real, err))?;
            if now != e.before {
                return Err(changed(&e.path));
            }
            let mode = std::fs::metadata(&e.real)
                .map_err(|err| Error::io("cannot read", &e.real, err))?
                .permissions();
            write_beside(&e.real, &e.after, Some(mode))?;
            lines.push(format!("Patched {}.", render::one_line(&e.path)));
        }
        if edits.is_empty() {
            lines.push("--write: nothing to patch; no file changed.".into());
        }
    }
    if not_patched > 0 {
        lines.push(format!(
            "{not_patched} step(s) not patched (above): change those files by hand."
        ));
    }
    Ok(Report { lines })
}

fn changed(file: &str) -> Error {
    Error::Input(vec![
        Diagnostic::file(
            file,
            "the file changed since the plan read it: nothing was patched",
        )
        .expected("the file as it was read (its sha256 is in plan.json's inputs)")
        .hint("plan again"),
    ])
}

/// The file itself, links resolved, when it stays inside an input given:
/// a patch never writes through a link out of the input folders.
fn inside(path: &Path, roots: &[PathBuf]) -> Result<PathBuf> {
    let real = std::fs::canonicalize(path).map_err(|e| Error::io("cannot read", path, e))?;
    if roots.iter().any(|r| real.starts_with(r)) {
        Ok(real)
    } else {
        Err(Error::Input(vec![
            Diagnostic::file(
                path.display().to_string(),
                format!(
                    "the file is a link to {}, outside the inputs given: it is not patched",
                    real.display()
                ),
            )
            .hint("name the file itself, or the folder it is in"),
        ]))
    }
}

/// The path git names the file by: relative to the work tree holding it
/// (the closest folder above it with a `.git`), else relative to the
/// current folder, else as the plan names it.
fn repo_relative(real: &Path, named: &str) -> String {
    let slash = |p: &Path| {
        p.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut dir = real.parent();
    while let Some(d) = dir {
        if d.join(".git").exists()
            && let Ok(rel) = real.strip_prefix(d)
        {
            return slash(rel);
        }
        dir = d.parent();
    }
    if let Some(rel) = std::env::current_dir()
        .ok()
        .and_then(|c| std::fs::canonicalize(c).ok())
        .and_then(|c| real.strip_prefix(c).ok().map(Path::to_path_buf))
    {
        return slash(&rel);
    }
    named.trim_start_matches("./").to_string()
}

/// Writes beside the file, then renames: a reader never sees half a file.
fn write_beside(path: &Path, bytes: &[u8], mode: Option<std::fs::Permissions>) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.sentinel-migrate.tmp"));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io("cannot write", &tmp, e))?;
    if let Some(m) = mode {
        std::fs::set_permissions(&tmp, m).map_err(|e| Error::io("cannot write", &tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("cannot write", path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    const RULE: &str = "id: 5e604ec9-9f2c-4f48-b2d9-87ed1a3127c0\nname: Key Vault alerts\nseverity: High\nqueryFrequency: 1h\nqueryPeriod: 1h\ntriggerOperator: gt\ntriggerThreshold: 0\nenabled: true\nquery: |\n  SecurityAlert\n  | where ProductName == \"Azure Security Center\"\nkind: Scheduled\n";

    fn plan_of(dir: &Path) -> Plan {
        let options = crate::source::ReadOptions {
            max_file_size: crate::source::DEFAULT_MAX_FILE_SIZE,
            workspace: None,
            jobs: 1,
            full_bodies: false,
        };
        let inputs = crate::source::read(&[dir.to_path_buf()], &options).unwrap();
        let catalog = Catalog::load(None).unwrap();
        crate::plan::plan(&inputs, &catalog, &Default::default()).unwrap()
    }

    #[test]
    fn a_file_changed_since_it_was_read_is_refused_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let rule = tmp.path().join("rule.yaml");
        std::fs::write(&rule, RULE).unwrap();
        let plan = plan_of(tmp.path());
        assert!(plan.actions.iter().any(|a| patch::target(a).is_some()));
        // Someone edits the file between plan and patch.
        std::fs::write(&rule, RULE.replace("High", "Low")).unwrap();
        let out = tmp.path().join("p.patch");
        let e = match run(&plan, &[tmp.path().to_path_buf()], Some(&out), true) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a changed file must be refused"),
        };
        assert!(e.contains("changed since the plan read it"), "{e}");
        assert!(e.contains("rule.yaml"), "{e}");
        assert!(!out.exists(), "nothing is written");
        assert!(std::fs::read_to_string(&rule).unwrap().contains("Low"));
    }

    #[test]
    fn the_patch_names_files_from_their_work_tree_root() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("rules/dfc")).unwrap();
        let file = repo.join("rules/dfc/r.yaml");
        std::fs::write(&file, RULE).unwrap();
        let real = std::fs::canonicalize(&file).unwrap();
        assert_eq!(repo_relative(&real, "x"), "rules/dfc/r.yaml");
    }
}
