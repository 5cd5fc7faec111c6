//! Property tests: any text gets a decision without a panic, evidence
//! points inside the query, and comments or whitespace never change a
//! decision.

mod common;

use proptest::prelude::*;
use sentinel_migrate::catalog::Catalog;
use sentinel_migrate::kql::{Classifier, Decision, Verdict};
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

/// Long chains of joins, unions, optional sub-queries and unknown operators
/// build no deep or exponential row flow: each finishes at once.
#[test]
fn long_chains_of_row_operators_finish() {
    let dfc = "SecurityAlert | where ProductName == 'Azure Security Center'";
    for (stage, n) in [
        ("| union (SigninLogs | take 1)\n", 20_000),
        (
            "| join kind=inner (SigninLogs) on x\n| union (AuditLogs)\n",
            10_000,
        ),
        ("| nosuchoperator\n", 50_000),
        (
            "| where x in ((SecurityAlert | where ProductName == 'MCAS' | project x)) or y == 1\n",
            2_000,
        ),
    ] {
        let q = format!("{dfc}\n{}", stage.repeat(n));
        let started = std::time::Instant::now();
        let d = classifier().classify(&q);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{stage}: {:?}",
            started.elapsed()
        );
        assert_eq!(d.verdict, Verdict::Review, "{stage}: {d:?}");
    }
}

const DFC_ALERTS: &str = "(SecurityAlert | where ProductName == \"Azure Security Center\")";

/// The corpus queries, each with a stage appended to its output.
fn with_stage(stage: &str) -> impl Iterator<Item = (&'static String, String)> + '_ {
    corpus()
        .iter()
        .map(move |q| (q, format!("{}\n{stage}\n", q.trim_end())))
}

/// Rows of another table unioned into the output are a detection of their
/// own: the rule is never turned off, and a rule that was goes to review.
#[test]
fn a_union_with_other_rows_is_never_turned_off() {
    for (q, with) in with_stage("| union (SigninLogs | where ResultType == \"50126\")") {
        let before = classifier().classify(q).verdict;
        let after = classifier().classify(&with);
        assert_ne!(after.verdict, Verdict::Dfc, "{with}\n{after:#?}");
        if before == Verdict::Dfc {
            assert_eq!(after.verdict, Verdict::Review, "{with}\n{after:#?}");
            assert!(after.explanation.contains("SigninLogs"), "{after:#?}");
        }
    }
}

/// A left outer join (and a default lookup, and an anti join) keeps the
/// rule's own rows: Defender for Cloud alerts joined that way change nothing.
#[test]
fn joins_that_keep_the_rows_change_no_decision() {
    for stage in [
        format!("| join kind=leftouter {DFC_ALERTS} on CompromisedEntity"),
        format!("| lookup {DFC_ALERTS} on CompromisedEntity"),
        format!("| join kind=leftanti {DFC_ALERTS} on CompromisedEntity"),
        format!("| where CompromisedEntity !in ({DFC_ALERTS} | project CompromisedEntity)"),
    ] {
        for (q, with) in with_stage(&stage) {
            let before = classifier().classify(q).verdict;
            let after = classifier().classify(&with).verdict;
            assert_eq!(after, before, "{with}");
        }
    }
}

/// A join that needs a Defender for Cloud alert for every row is never left
/// untouched.
#[test]
fn joins_that_need_a_dfc_alert_are_never_left_alone() {
    for stage in [
        format!("| join kind=inner {DFC_ALERTS} on CompromisedEntity"),
        format!("| join kind=leftsemi {DFC_ALERTS} on CompromisedEntity"),
        format!("| lookup kind=inner {DFC_ALERTS} on CompromisedEntity"),
        format!("| where CompromisedEntity in ({DFC_ALERTS} | project CompromisedEntity)"),
    ] {
        for (_, with) in with_stage(&stage) {
            let after = classifier().classify(&with);
            assert_ne!(after.verdict, Verdict::None, "{with}\n{after:#?}");
        }
    }
}
