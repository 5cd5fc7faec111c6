//! The pipelines of docs/pipelines.md, run: every script step of the GitHub
//! Actions workflow and of the Azure DevOps pipeline, in order, under bash,
//! against the ARM emulator seeded with the bundled example. Actions and
//! tasks that need GitHub or Azure DevOps (checkout, azure/login, artifacts)
//! are played by the runner below: artifacts are copied into a store and
//! out of it into a fresh folder for each job, as on hosted agents, so a
//! job sees only what an earlier one uploaded. `cargo install` and `gh` are
//! stand-ins that record how they were called.

mod common;
#[path = "support/contoso.rs"]
mod contoso;

use arm_emulator::Config;
use contoso::{CONTOSO, contoso_emulator, state};
use serde_yaml::{Mapping, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const GIT: &str = "https://git.example.invalid/sentinel-migrate.git";
const REF: &str = "v0.1.0";

/// The YAML block of docs/pipelines.md whose first line is `# <name>`.
fn pipeline(name: &str) -> Value {
    let doc = std::fs::read_to_string(common::root().join("docs/pipelines.md")).unwrap();
    let mut blocks = doc.split("```yaml\n").skip(1);
    let block = blocks
        .find(|b| b.starts_with(&format!("# {name}\n")))
        .unwrap_or_else(|| panic!("docs/pipelines.md has no yaml block for {name}"));
    let text = &block[..block.find("```").unwrap()];
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"))
}

fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key)
        .unwrap_or_else(|| panic!("`{key}` missing in {v:?}"))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    get(v, key)
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {v:?}"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// What the pipelines run on: the stand-ins, the artifact store, the
/// emulator, a log of the stand-ins' calls.
struct Agent {
    _temp: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
    store: PathBuf,
    endpoint: String,
    jobs: usize,
}

impl Agent {
    fn new(endpoint: String) -> Agent {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().to_path_buf();
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_sentinel-migrate"),
            bin.join("sentinel-migrate"),
        )
        .unwrap();
        let stand_in = |name: &str, body: &str| {
            let path = bin.join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        // `cargo install` of the tool: recorded; the binary is already here.
        stand_in(
            "cargo",
            "[ \"$1\" = install ] || exit 97\necho \"cargo $*\" >>\"$AGENT/calls\"\n",
        );
        // `gh pr comment`: recorded with the body; `--edit-last` finds no
        // comment to edit the first time, as on a new pull request.
        stand_in(
            "gh",
            r#"echo "gh $*" >>"$AGENT/calls"
prev=
for a in "$@"; do
  [ "$prev" = --body-file ] && cp "$a" "$AGENT/comment.md"
  prev=$a
done
case " $* " in *" --edit-last "*) [ -f "$AGENT/commented" ] || { touch "$AGENT/commented"; exit 1; } ;; esac
exit 0
"#,
        );
        let store = root.join("artifacts");
        std::fs::create_dir_all(&store).unwrap();
        Agent {
            _temp: temp,
            root,
            bin,
            store,
            endpoint,
            jobs: 0,
        }
    }

    /// A fresh working folder, as a new hosted agent has.
    fn workspace(&mut self) -> PathBuf {
        self.jobs += 1;
        let dir = self.root.join(format!("job-{}", self.jobs));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn upload(&self, from: &Path, name: &str) {
        let to = self.store.join(name);
        assert!(
            !to.exists(),
            "artifact `{name}` uploaded twice in one run (artifact names are immutable)"
        );
        copy_dir(from, &to);
    }

    fn download(&self, name: &str, to: &Path) {
        let from = self.store.join(name);
        assert!(from.is_dir(), "artifact `{name}` was never uploaded");
        copy_dir(&from, to);
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(self.root.join("calls")).unwrap_or_default()
    }

    /// Runs a script step under bash, as the service does; returns its exit
    /// code and output.
    fn script(
        &self,
        dir: &Path,
        script: &str,
        shell: &[&str],
        env: &BTreeMap<String, String>,
    ) -> (i32, String) {
        let file = self.root.join("step.sh");
        std::fs::write(&file, script).unwrap();
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("bash")
            .args(shell)
            .arg(&file)
            .current_dir(dir)
            .env_clear()
            .env("PATH", path)
            .env("HOME", &self.root)
            .env("AGENT", &self.root)
            .env("SENTINEL_MIGRATE_ENDPOINT", &self.endpoint)
            .envs(env)
            .output()
            .unwrap();
        let transcript = format!(
            "--- script\n{script}\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), transcript)
    }
}

/// GitHub's `${{ ... }}` expressions and `if:` conditions, for the few
/// forms the workflow uses: `a == 'b'`, `&&`, `||`, `always()`.
struct Context(BTreeMap<String, String>);

impl Context {
    fn value(&self, operand: &str) -> String {
        let operand = operand.trim();
        if let Some(literal) = operand
            .strip_prefix('\'')
            .and_then(|o| o.strip_suffix('\''))
        {
            return literal.to_string();
        }
        self.0
            .get(operand)
            .cloned()
            .unwrap_or_else(|| panic!("the test knows no value for `{operand}`"))
    }

    fn condition(&self, expr: &str) -> bool {
        let expr = expr.trim();
        let expr = expr
            .strip_prefix("${{")
            .and_then(|e| e.strip_suffix("}}"))
            .unwrap_or(expr);
        expr.split("||").any(|any| {
            any.split("&&").all(|term| {
                let term = term.trim();
                if term == "always()" {
                    true
                } else if let Some((a, b)) = term.split_once("==") {
                    self.value(a) == self.value(b)
                } else {
                    panic!("the test cannot evaluate `{term}`")
                }
            })
        })
    }

    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find("${{") {
            out.push_str(&rest[..at]);
            let end = rest[at..].find("}}").expect("an expression ends") + at;
            out.push_str(&self.value(&rest[at + 3..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }
}

fn env_of(map: Option<&Value>, ctx: &Context) -> BTreeMap<String, String> {
    map.and_then(Value::as_mapping)
        .map(|m: &Mapping| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => serde_yaml::to_string(other).unwrap().trim().to_string(),
                    };
                    (k.as_str().unwrap().to_string(), ctx.substitute(&v))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Runs one job of the workflow; returns its outputs, `None` when its `if:`
/// skips it.
fn github_job(
    agent: &mut Agent,
    workflow: &Value,
    name: &str,
    ctx: &mut Context,
) -> Option<BTreeMap<String, String>> {
    let job = get(get(workflow, "jobs"), name);
    if let Some(cond) = job.get("if").and_then(Value::as_str)
        && !ctx.condition(cond)
    {
        return None;
    }
    let dir = agent.workspace();
    let summary = agent.root.join(format!("summary-{name}.md"));
    let mut base = env_of(workflow.get("env"), ctx);
    base.extend(env_of(job.get("env"), ctx));
    base.insert("CI".into(), "true".into());
    base.insert("GITHUB_ACTIONS".into(), "true".into());
    base.insert("GITHUB_EVENT_NAME".into(), ctx.value("github.event_name"));
    base.insert("GITHUB_STEP_SUMMARY".into(), summary.display().to_string());
    let mut failed = false;
    for step in get(job, "steps").as_sequence().unwrap() {
        let cond = step
            .get("if")
            .and_then(Value::as_str)
            .unwrap_or("success()");
        let runs = if cond == "success()" {
            !failed
        } else {
            ctx.condition(cond) && (!failed || cond.contains("always()"))
        };
        if !runs {
            continue;
        }
        if let Some(uses) = step.get("uses").and_then(Value::as_str) {
            let with = step.get("with");
            let arg = |k: &str| text(with.unwrap(), k).to_string();
            match uses {
                "actions/checkout@v4" => {}
                "azure/login@v2" => {
                    for k in ["client-id", "tenant-id", "subscription-id"] {
                        assert!(
                            arg(k).contains("${{ vars."),
                            "azure/login takes {k} from a variable"
                        );
                    }
                }
                "actions/upload-artifact@v4" => {
                    agent.upload(&dir.join(arg("path")), &arg("name"));
                }
                "actions/download-artifact@v4" => {
                    agent.download(&arg("name"), &dir.join(arg("path")));
                }
                other => panic!("the test does not know the action {other}"),
            }
            continue;
        }
        let script = text(step, "run");
        assert!(
            !script.contains("${{"),
            "expressions reach a script only through env (script injection): {script}"
        );
        let output = agent.root.join("output");
        std::fs::write(&output, "").unwrap();
        let mut env = base.clone();
        env.extend(env_of(step.get("env"), ctx));
        env.insert("GITHUB_OUTPUT".into(), output.display().to_string());
        let (code, transcript) = agent.script(&dir, script, &["--noprofile", "--norc", "-e"], &env);
        assert_eq!(code, 0, "job {name}, a step failed:\n{transcript}");
        if let Some(id) = step.get("id").and_then(Value::as_str) {
            for line in std::fs::read_to_string(&output).unwrap().lines() {
                let (k, v) = line.split_once('=').unwrap();
                ctx.0
                    .insert(format!("steps.{id}.outputs.{k}"), v.to_string());
            }
        }
        failed = code != 0;
    }
    let outputs: BTreeMap<String, String> = job
        .get("outputs")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.as_str().unwrap().to_string(),
                        ctx.substitute(v.as_str().unwrap()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for (k, v) in &outputs {
        ctx.0.insert(format!("needs.{name}.outputs.{k}"), v.clone());
    }
    Some(outputs)
}

fn github_context(event: &str) -> Context {
    let values = [
        ("github.event_name", event),
        ("github.repository", "contoso/sentinel-content"),
        (
            "github.event.pull_request.head.repo.full_name",
            "contoso/sentinel-content",
        ),
        ("github.event.pull_request.number", "7"),
        ("github.token", "ghs_stand-in"),
        ("vars.SENTINEL_WORKSPACES", CONTOSO),
        ("vars.SENTINEL_MIGRATE_GIT", GIT),
        ("vars.SENTINEL_MIGRATE_REF", REF),
    ];
    Context(
        values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn legacy_connectors(emulator: &arm_emulator::Emulator) -> usize {
    state(emulator)
        .values()
        .filter(|body| body["kind"] == "AzureSecurityCenter")
        .count()
}

#[test]
fn the_github_workflow_plans_on_a_pull_request_and_comments() {
    let workflow = pipeline(".github/workflows/sentinel-migrate.yml");
    assert_eq!(
        get(get(&workflow, "permissions"), "id-token").as_str(),
        Some("write")
    );
    let emulator = contoso_emulator(Config::default());
    let before = state(&emulator);
    let mut agent = Agent::new(emulator.url());
    let mut ctx = github_context("pull_request");

    let outputs =
        github_job(&mut agent, &workflow, "plan", &mut ctx).expect("plan runs on a pull request");
    assert_eq!(outputs["changes"], "true");
    let calls = agent.calls();
    assert!(
        calls.contains(&format!(
            "cargo install --locked --git {GIT} --tag {REF} sentinel-migrate"
        )),
        "{calls}"
    );
    assert!(
        calls.contains("gh pr comment 7 --body-file plan-out/comment.md --edit-last"),
        "{calls}"
    );
    assert!(
        calls
            .lines()
            .filter(|l| l.starts_with("gh pr comment 7"))
            .count()
            == 2,
        "no comment to edit yet: a new one is posted: {calls}"
    );
    let comment = std::fs::read_to_string(agent.root.join("comment.md")).unwrap();
    assert!(comment.contains("law-contoso-soc"), "{comment}");
    let summary = std::fs::read_to_string(agent.root.join("summary-plan.md")).unwrap_or_default();
    assert!(
        summary.contains("law-contoso-soc"),
        "the plan reaches the job summary: {summary:?}"
    );
    assert!(agent.store.join("plan-out/plan.json").is_file());

    assert!(
        github_job(&mut agent, &workflow, "apply", &mut ctx).is_none(),
        "no apply on a pull request"
    );
    assert_eq!(
        state(&emulator),
        before,
        "a pull request changes nothing in Azure"
    );
}

#[test]
fn the_github_workflow_applies_the_saved_plan_on_main_in_two_approved_jobs() {
    let workflow = pipeline(".github/workflows/sentinel-migrate.yml");
    let emulator = contoso_emulator(Config::default());
    assert!(legacy_connectors(&emulator) > 0);
    let mut agent = Agent::new(emulator.url());
    let mut ctx = github_context("push");

    github_job(&mut agent, &workflow, "plan", &mut ctx).expect("plan runs on main");
    assert!(
        !agent.calls().contains("gh "),
        "no comment outside a pull request"
    );
    let apply = get(get(&workflow, "jobs"), "apply");
    assert_eq!(text(apply, "environment"), "sentinel-apply");

    github_job(&mut agent, &workflow, "apply", &mut ctx).expect("apply runs on main");
    let applied = agent.store.join("plan-out-applied");
    assert!(
        applied.join("apply-journal.json").is_file(),
        "the journal is kept"
    );
    assert!(applied.join("backups").is_dir(), "the backups are kept");
    assert!(
        legacy_connectors(&emulator) > 0,
        "the legacy connectors wait for the second approval"
    );

    let confirm = get(get(&workflow, "jobs"), "confirm");
    assert_eq!(text(confirm, "environment"), "sentinel-disconnect-legacy");
    github_job(&mut agent, &workflow, "confirm", &mut ctx).expect("confirm runs");
    assert_eq!(legacy_connectors(&emulator), 0, "phase 3 disconnected them");
    assert!(
        agent
            .store
            .join("plan-out-confirmed/apply-journal.json")
            .is_file()
    );
}

#[test]
fn the_azure_devops_pipeline_plans_applies_and_confirms() {
    let pipeline = pipeline("azure-pipelines.yml");
    let emulator = contoso_emulator(Config::default());
    let mut agent = Agent::new(emulator.url());
    // Variables of the group, as Azure Pipelines exposes them to scripts.
    let mut vars: BTreeMap<String, String> = [
        ("SENTINEL_WORKSPACES", CONTOSO),
        ("SENTINEL_MIGRATE_GIT", GIT),
        ("SENTINEL_MIGRATE_REF", REF),
        ("TF_BUILD", "True"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let stages = get(&pipeline, "stages").as_sequence().unwrap();
    let names: Vec<&str> = stages.iter().map(|s| text(s, "stage")).collect();
    assert_eq!(names, ["plan", "apply", "confirm"]);
    let pipeline_workspace = agent.workspace();
    let mut uploads = 0;
    for stage in stages {
        for job in get(stage, "jobs").as_sequence().unwrap() {
            // A deployment job's steps sit under its strategy.
            let steps = job.get("steps").cloned().unwrap_or_else(|| {
                get(get(get(get(job, "strategy"), "runOnce"), "deploy"), "steps").clone()
            });
            if job.get("deployment").is_some() {
                assert!(text(job, "environment").starts_with("sentinel-"));
            }
            // Each job on a fresh agent: its own sources and pipeline folders.
            let sources = agent.workspace();
            let workspace = pipeline_workspace.join(format!("job-{}", text(stage, "stage")));
            std::fs::create_dir_all(&workspace).unwrap();
            for step in steps.as_sequence().unwrap() {
                let resolve = |p: &str| {
                    PathBuf::from(p.replace("$(Pipeline.Workspace)", workspace.to_str().unwrap()))
                };
                if step.get("checkout").is_some() {
                    continue;
                }
                if let Some(artifact) = step.get("download") {
                    assert_eq!(artifact.as_str(), Some("current"));
                    let name = text(step, "artifact");
                    agent.download(name, &workspace.join(name));
                    continue;
                }
                if let Some(path) = step.get("publish").and_then(Value::as_str) {
                    let from = resolve(path);
                    let from = if from.is_absolute() {
                        from
                    } else {
                        sources.join(from)
                    };
                    agent.upload(&from, text(step, "artifact"));
                    uploads += 1;
                    continue;
                }
                assert_eq!(text(step, "task"), "AzureCLI@2");
                let inputs = get(step, "inputs");
                assert_eq!(
                    text(inputs, "azureSubscription"),
                    "${{ variables.SERVICE_CONNECTION }}"
                );
                assert_eq!(text(inputs, "scriptType"), "bash");
                let dir = inputs
                    .get("workingDirectory")
                    .and_then(Value::as_str)
                    .map(resolve)
                    .unwrap_or_else(|| sources.clone());
                let script = text(inputs, "inlineScript");
                assert!(
                    !script.contains("$("),
                    "macros stay out of scripts: {script}"
                );
                let (code, transcript) =
                    agent.script(&dir, script, &["--noprofile", "--norc"], &vars);
                assert_eq!(code, 0, "stage {}: {transcript}", text(stage, "stage"));
                for line in transcript.lines() {
                    if let Some(rest) =
                        line.strip_prefix("##vso[task.setvariable variable=changes;isOutput=true]")
                    {
                        vars.insert("PLAN_CHANGES".into(), rest.to_string());
                    }
                    if let Some(file) = line.strip_prefix("##vso[task.uploadsummary]") {
                        let summary = std::fs::read_to_string(file).unwrap();
                        assert!(summary.contains("law-contoso-soc"), "{summary}");
                    }
                }
            }
        }
        if text(stage, "stage") == "plan" {
            assert_eq!(vars.get("PLAN_CHANGES").map(String::as_str), Some("true"));
            assert!(legacy_connectors(&emulator) > 0);
        }
    }
    assert_eq!(uploads, 3);
    assert_eq!(
        legacy_connectors(&emulator),
        0,
        "the confirm stage disconnected them"
    );
    assert!(
        agent
            .store
            .join("plan-out-confirmed/apply-journal.json")
            .is_file()
    );
}
