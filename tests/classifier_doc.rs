//! Every example in docs/classifier.md is classified as the page says.

mod common;

use sentinel_migrate::catalog::Catalog;
use sentinel_migrate::kql::Classifier;

#[test]
fn examples_in_the_classifier_doc_hold() {
    let doc = std::fs::read_to_string(common::root().join("docs/classifier.md")).unwrap();
    let classifier = Classifier::new(&Catalog::embedded().unwrap());
    let mut checked = 0;
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let Some(info) = trimmed.strip_prefix("```kql ") else {
            continue;
        };
        let indent = line.len() - trimmed.len();
        let want = info.trim();
        let mut query = String::new();
        for l in lines.by_ref() {
            if l.trim_start().starts_with("```") && l.trim() == "```" {
                break;
            }
            query.push_str(l.get(indent..).unwrap_or(l.trim_start()));
            query.push('\n');
        }
        let got = classifier.classify(&query);
        assert_eq!(
            got.verdict.as_str(),
            want,
            "docs/classifier.md example:\n{query}\n{got:#?}"
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} examples found");
}
