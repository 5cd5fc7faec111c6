//! `plan.json` holds the bodies as exported, to the digit, and reads back
//! as the same file: `show --format json` writes it again byte for byte,
//! whatever a body holds (unicode, escapes, control characters, numbers at
//! the edges of each kind, floats of 17 digits, nesting).

mod common;

use serde_json::{Value, json};
use std::fs;

/// An incident creation rule the plan turns off, its members in no order,
/// with odd values.
const EXPORT: &str = r#"{"value": [
  {
    "type": "Microsoft.SecurityInsights/alertRules",
    "properties": {
      "severitiesFilter": ["High", "Medium"],
      "productFilter": "Azure Security Center",
      "enabled": true,
      "displayName": "D\u00e9fense \ud83d\udee1 \"quoted\" back\\slash \/ tab\tbell\u0007 esc\u001b[0m rtl\u202e nul\u0000 end",
      "description": "Ünïcödé as written: 日本語, emoji 🛡, ligature ﬁ",
      "score": 977.8610143579697,
      "ratio": 0.30000000000000004,
      "tiny": 5e-324,
      "huge": 1.7976931348623157E+308,
      "exponent": 1.5e-7,
      "whole": 3.0,
      "minusZero": -0.0,
      "big": 18446744073709551615,
      "bigger": 123456789012345678901234567890,
      "negative": -9223372036854775808,
      "nested": [[], [[1, [2.5, {"z": {}, "a": []}]]], {"x": [null, true, false]}],
      "empty": {},
      "": "an empty key",
      "key \"with\" / and ~": 1,
      "lastModifiedUtc": "2024-03-11T09:42:17.5520913Z"
    },
    "kind": "MicrosoftSecurityIncidentCreation",
    "etag": "\"19b2ab8f-0000-0100-0000-653f47990000\"",
    "name": "c1dc9fc6-1b6c-47e3-b968-cf115c76f85d",
    "id": "/subscriptions/8d6f3c21-4b7a-4e2f-9c15-2a7e0b9d4f11/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law/providers/Microsoft.SecurityInsights/alertRules/c1dc9fc6-1b6c-47e3-b968-cf115c76f85d"
  }
]}"#;

#[test]
fn bodies_reach_the_plan_as_exported_and_read_back_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    fs::create_dir(&exports).unwrap();
    fs::write(exports.join("alertRules.json"), EXPORT).unwrap();
    let out = dir.path().join("out");
    let r = common::run(&[
        "plan",
        exports.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.transcript());
    let written = common::read(&out, "plan.json");

    let shown = common::run(&[
        "show",
        out.join("plan.json").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(shown.code, 0, "{}", shown.transcript());
    assert!(
        shown.stdout == written,
        "plan.json read back and written again differs"
    );

    // The step's `before` is the rule as exported; its `after` the same,
    // turned off, without what the service fills.
    let plan: Value = serde_json::from_str(&written).unwrap();
    let exported: Value = serde_json::from_str::<Value>(EXPORT).unwrap()["value"][0].clone();
    let step = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["reason"]["code"] == "MIG101")
        .unwrap();
    assert_eq!(step["before"], exported);
    let mut after = exported.clone();
    after["properties"]["enabled"] = json!(false);
    after["properties"]
        .as_object_mut()
        .unwrap()
        .remove("lastModifiedUtc");
    assert_eq!(step["after"], after);

    // Each number to the digit, in the plan and in what the script writes.
    let script = common::read(&out, "apply.sh");
    for n in [
        "\"score\": 977.8610143579697",
        "\"ratio\": 0.30000000000000004",
        "\"tiny\": 5e-324",
        "\"huge\": 1.7976931348623157e+308",
        "\"exponent\": 1.5e-7",
        "\"whole\": 3.0",
        "\"minusZero\": -0.0",
        "\"big\": 18446744073709551615",
        "\"bigger\": 1.2345678901234568e+29",
        "\"negative\": -9223372036854775808",
    ] {
        assert!(written.contains(n), "plan.json: {n}");
        assert!(script.contains(n), "apply.sh: {n}");
    }
}
