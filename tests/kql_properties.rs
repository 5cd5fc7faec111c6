//! Property tests: any text gets a decision without a panic, evidence
//! points inside the query, and comments or whitespace never change a
//! decision.

mod common;

use proptest::prelude::*;
use sentinel_migrate::catalog::Catalog;
use sentinel_migrate::kql::{Classifier, Decision};
use std::sync::OnceLock;

fn classifier() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(|| Classifier::new(&Catalog::embedded().unwrap()))
}

fn corpus() -> &'static Vec<String> {
    static Q: OnceLock<Vec<String>> = OnceLock::new();
    Q.get_or_init(|| {
        let dir = common::root().join("tests/fixtures/kql");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "kql"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    })
}

fn check_evidence(q: &str, d: &Decision) {
    let lines = q.split('\n').count();
    for e in &d.evidence {
        assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
        assert!(e.column >= 1);
        assert!(e.text.chars().count() <= 120);
    }
    assert!(d.evidence.len() <= 12);
}

/// Fragments KQL is made of, to build and mutate queries.
const PIECES: [&str; 40] = [
    "SecurityAlert",
    "| where ",
    "ProductName",
    "ProviderName",
    " == ",
    " != ",
    " =~ ",
    " in ",
    " !in ",
    " has ",
    " contains ",
    " startswith ",
    "\"Azure Security Center\"",
    "'Azure Security Center for IoT'",
    "@\"x\"",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    "let a = ",
    "dynamic([",
    "union ",
    "join kind=inner ",
    "lookup ",
    " and ",
    " or ",
    "not(",
    "// comment \"Azure Security Center\"\n",
    "\n",
    "```",
    "'''",
    "materialize(",
    "invoke f()",
    "| extend x = ",
    "case(",
    "| project-away ProductName",
];

fn assemble(picks: &[usize]) -> String {
    picks.iter().map(|i| PIECES[i % PIECES.len()]).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_text_gets_a_decision(q in "\\PC{0,400}") {
        let d = classifier().classify(&q);
        check_evidence(&q, &d);
    }

    #[test]
    fn any_arrangement_of_kql_pieces_gets_a_decision(picks in prop::collection::vec(0usize..1000, 0..120)) {
        let q = assemble(&picks);
        let d = classifier().classify(&q);
        check_evidence(&q, &d);
    }

    #[test]
    fn mutated_corpus_queries_get_a_decision(
        which in 0usize..1000,
        edits in prop::collection::vec((0usize..4, 0usize..10_000, 0usize..10_000, 0usize..1000), 1..6),
    ) {
        let mut q = corpus()[which % corpus().len()].clone();
        for (kind, a, b, piece) in edits {
            let len = q.len();
            let mut at = if len == 0 { 0 } else { a % (len + 1) };
            while !q.is_char_boundary(at) { at -= 1; }
            let mut to = (at + b % 40).min(len);
            while !q.is_char_boundary(to) { to -= 1; }
            match kind {
                0 => q.replace_range(at..to, ""),
                1 => q.insert_str(at, PIECES[piece % PIECES.len()]),
                2 => { let s = q[at..to].to_string(); q.insert_str(to, &s) }
                _ => q.truncate(at),
            }
        }
        let d = classifier().classify(&q);
        check_evidence(&q, &d);
    }

    /// Comments and spacing are not part of a filter: adding them never
    /// changes a decision.
    #[test]
    fn comments_and_whitespace_never_change_a_decision(which in 0usize..1000, seed in 0usize..1000) {
        let q = &corpus()[which % corpus().len()];
        let before = classifier().classify(q).verdict;
        let noisy: String = q
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if (i + seed) % 3 == 0 {
                    format!("// | where ProductName == \"Azure Security Center\" {seed}\n  {l}   \n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        prop_assert_eq!(classifier().classify(&noisy).verdict, before, "{}", noisy);
    }
}

#[test]
fn a_10_mb_query_and_10000_deep_nesting_finish() {
    let unit = "| where AlertSeverity == \"High\" and ProductName == \"Azure Security Center\"\n";
    let mut q = String::from("SecurityAlert\n");
    while q.len() < 10_000_000 {
        q.push_str(unit);
    }
    let d = classifier().classify(&q);
    assert_eq!(d.verdict.as_str(), "dfc");
    let deep = format!(
        "SecurityAlert | where {}ProductName == \"Azure Security Center\"{}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let _ = classifier().classify(&deep);
    let deep = format!("{}SecurityAlert{}", "(".repeat(10_000), ")".repeat(10_000));
    let _ = classifier().classify(&deep);
    let unbalanced =
        "(".repeat(10_000) + "SecurityAlert | where ProductName == 'Azure Security Center'";
    let _ = classifier().classify(&unbalanced);
}
