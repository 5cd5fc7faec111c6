//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root; tests run the binary from here with relative paths,
/// so outputs name files as a user would see them.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared`, when present (always in CI). Tests that need it print a
/// note and return when it is absent.
pub fn shared() -> Option<PathBuf> {
    let p = root().join("../shared");
    if p.join("fixtures").is_dir() {
        Some(p)
    } else {
        eprintln!("note: ../shared is absent; skipping a test that reads the shared fixtures");
        None
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Exit code, stdout and stderr together, as a snapshot shows them.
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs the real binary with `args`, from the repository root.
pub fn run(args: &[&str]) -> Run {
    run_in(&root(), args, &[])
}

pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sentinel-migrate"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("GITHUB_STEP_SUMMARY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A tool the tests need (shellcheck, az): on PATH or in the CI cache.
/// Under `.ci/run` (SENTINEL_MIGRATE_REQUIRE_TOOLS=1) a missing tool fails
/// the test; elsewhere the test prints a note and skips.
pub fn tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    if let Some(cache) = cache {
        dirs.push(cache.join("sentinel-migrate-ci/venv/bin"));
        dirs.push(cache.join("sentinel-migrate-ci/az-venv/bin"));
    }
    if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Some(found);
    }
    if std::env::var("SENTINEL_MIGRATE_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{name} is required (SENTINEL_MIGRATE_REQUIRE_TOOLS=1) but not found");
    }
    eprintln!("note: {name} not found; skipping (.ci/run installs it)");
    None
}

/// Reads a file of an output directory.
pub fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The files of a corpus folder (one folder per source below it), each
/// with its `<name>.parameters.json` when there is one: read one at a time,
/// since a corpus may hold differing copies of one rule.
pub fn corpus_files(dir: &Path) -> Vec<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    for sub in subs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&sub)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !p.to_string_lossy().ends_with(".parameters.json"))
            .collect();
        files.sort();
        for f in files {
            let mut paths = vec![f.clone()];
            let params = f.with_extension("parameters.json");
            if params.exists() {
                paths.push(params);
            }
            out.push(paths);
        }
    }
    out
}
