//! The bundled example in the emulator, and the CLI driven against it:
//! shared by the tests of the Azure side.
#![allow(dead_code)]

use crate::common::{self, run};
use arm_emulator::{Config, Emulator};
use sentinel_migrate::api;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const CONTOSO: &str = "/subscriptions/8d6f3c21-4b7a-4e2f-9c15-2a7e0b9d4f11/resourceGroups/rg-soc-prod/providers/Microsoft.OperationalInsights/workspaces/law-contoso-soc";

/// Seeds the emulator with every resource of the `az rest` lists in `dir`.
pub fn seed_from(emulator: &Emulator, dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let list: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for item in list["value"].as_array().unwrap() {
            emulator.seed(item["id"].as_str().unwrap(), item.clone());
            n += 1;
        }
    }
    n
}

/// Resources as a reviewer compares them: without etags and server fields.
pub fn state(emulator: &Emulator) -> BTreeMap<String, Value> {
    emulator
        .resources()
        .into_iter()
        .map(|(id, body)| (id, api::restorable(&body)))
        .collect()
}

pub fn contoso_emulator(config: Config) -> Emulator {
    let emulator = Emulator::start(config).unwrap();
    assert_eq!(
        seed_from(&emulator, &common::root().join("examples/contoso")),
        26
    );
    emulator
}

/// Runs `sentinel-migrate <command> <target> --endpoint <emulator> [extra]`.
pub fn against(emulator: &Emulator, command: &str, target: &Path, extra: &[&str]) -> common::Run {
    let url = emulator.url();
    let mut args = vec![command, target.to_str().unwrap(), "--endpoint", &url];
    args.extend_from_slice(extra);
    run(&args)
}

pub const CONFIRM: [&str; 2] = ["--confirm", "tenant-connector"];

/// `sentinel-migrate export` of `workspaces` into `out`, against the emulator.
pub fn export(emulator: &Emulator, workspaces: &[&str], out: &Path) -> common::Run {
    let url = emulator.url();
    let mut args = vec!["export", "--out", out.to_str().unwrap(), "--endpoint", &url];
    for ws in workspaces {
        args.extend_from_slice(&["--workspace", ws]);
    }
    run(&args)
}

/// `sentinel-migrate plan <exports> --out <out> [extra]`.
pub fn plan_into(exports: &Path, out: &Path, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "plan",
        exports.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// export + plan through the binary; returns the plan directory.
pub fn export_and_plan(emulator: &Emulator, work: &Path) -> PathBuf {
    let exports = work.join("exports");
    let r = export(emulator, &[CONTOSO], &exports);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let out = work.join("plan-out");
    let r = plan_into(&exports, &out, &[]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    out
}
