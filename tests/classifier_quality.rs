//! The classifier measured against labelled rules: the real ones in
//! ../shared/fixtures/sentinel-content (labels.tsv) and our own corpus of
//! tricky twins in tests/fixtures/kql. Prints precision and recall; fails
//! when a safety requirement is broken.

mod common;

use sentinel_migrate::catalog::{Catalog, Operation, Verb};
use sentinel_migrate::kql::{Classifier, Verdict};
use sentinel_migrate::plan::{self, Settings};
use sentinel_migrate::source::{self, ReadOptions};
use std::collections::BTreeMap;

/// What happened to one labelled rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Turned off (or stopped) automatically.
    Decided,
    /// Sent to review.
    Review,
    /// Left alone.
    Untouched,
}

#[derive(Default)]
struct Tally {
    rows: Vec<(String, String, Outcome, bool)>, // file, label, outcome, pinned
}

impl Tally {
    fn count(&self, label: &str, outcome: Outcome) -> usize {
        self.rows
            .iter()
            .filter(|(_, l, o, _)| l == label && *o == outcome)
            .count()
    }
    fn total(&self, label: &str) -> usize {
        self.rows.iter().filter(|(_, l, _, _)| l == label).count()
    }
    fn merge(&self, other: &Tally) -> Tally {
        Tally {
            rows: self.rows.iter().chain(&other.rows).cloned().collect(),
        }
    }
    fn report(&self, name: &str) -> String {
        let dfc = self.total("dfc");
        let decided = self.count("dfc", Outcome::Decided);
        let flagged = decided + self.count("dfc", Outcome::Review);
        // A rule labelled ambiguous only because its template leaves the
        // product to a parameter is dfc once a parameters file pins it.
        let pinned = self
            .rows
            .iter()
            .filter(|(_, l, o, p)| l == "ambiguous" && *o == Outcome::Decided && *p)
            .count();
        let false_pos = self.count("other", Outcome::Decided)
            + self.count("ambiguous", Outcome::Decided)
            - pinned;
        let other = self.total("other");
        let other_review = self.count("other", Outcome::Review);
        let ambiguous = self.total("ambiguous");
        format!(
            "{name}: {} rules ({dfc} dfc, {other} other, {ambiguous} ambiguous)\n  \
             precision of automatic decisions {:.1}% ({} of {} turned off are dfc or pinned to it)\n  \
             recall {:.1}% (dfc flagged: {flagged}/{dfc}); decided automatically {:.1}% ({decided}/{dfc})\n  \
             other sent to review {:.1}% ({other_review}/{other}); other turned off {}; ambiguous to review {}/{ambiguous}, turned off {} (pinned {})\n",
            self.rows.len(),
            100.0 * (decided + pinned) as f64 / (decided + pinned + false_pos).max(1) as f64,
            decided + pinned,
            decided + pinned + false_pos,
            100.0 * flagged as f64 / dfc.max(1) as f64,
            100.0 * decided as f64 / dfc.max(1) as f64,
            100.0 * other_review as f64 / other.max(1) as f64,
            self.count("other", Outcome::Decided),
            self.count("ambiguous", Outcome::Review),
            self.count("ambiguous", Outcome::Decided),
            self.rows
                .iter()
                .filter(|(_, l, o, p)| l == "ambiguous" && *o == Outcome::Decided && *p)
                .count(),
        )
    }
}

fn own_corpus() -> Tally {
    let classifier = Classifier::new(&Catalog::embedded().unwrap());
    let dir = common::root().join("tests/fixtures/kql");
    let labels = std::fs::read_to_string(dir.join("labels.tsv")).unwrap();
    let mut tally = Tally::default();
    for line in labels.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let query = std::fs::read_to_string(dir.join(cols[0])).unwrap();
        let d = classifier.classify(&query);
        let outcome = match d.verdict {
            Verdict::Dfc => Outcome::Decided,
            Verdict::Review => Outcome::Review,
            Verdict::None => Outcome::Untouched,
        };
        // Evidence points inside the query.
        let lines: Vec<&str> = query.lines().collect();
        for e in &d.evidence {
            assert!(
                e.line >= 1 && e.line <= lines.len().max(1),
                "{}: {e:?}",
                cols[0]
            );
            assert!(
                e.column >= 1 && e.column <= lines[e.line - 1].chars().count() + 1,
                "{}: {e:?}",
                cols[0]
            );
        }
        tally
            .rows
            .push((cols[0].to_string(), cols[1].to_string(), outcome, false));
    }
    tally
}

/// The shared corpus is judged on the plan, per file: MSIC rules and
/// templates included, as a user would meet them.
fn shared_corpus() -> Option<Tally> {
    let shared = common::shared()?;
    let dir = shared.join("fixtures/sentinel-content");
    // Each file on its own (with its parameters file): the corpus holds two
    // differing copies of one rule, which read together are a conflict.
    let catalog = Catalog::embedded().unwrap();
    let mut actions = Vec::new();
    for paths in common::corpus_files(&dir) {
        let inputs = source::read(&paths, &ReadOptions::default()).unwrap();
        actions.extend(
            plan::plan(&inputs, &catalog, &Settings::default())
                .unwrap()
                .actions,
        );
    }
    let mut by_file: BTreeMap<String, Vec<&plan::Action>> = BTreeMap::new();
    for a in &actions {
        if let Some(src) = &a.source {
            by_file
                .entry(src.path.rsplit('/').next().unwrap().to_string())
                .or_default()
                .push(a);
        }
    }
    let labels = std::fs::read_to_string(dir.join("labels.tsv")).unwrap();
    let mut tally = Tally::default();
    for line in labels.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if !matches!(cols[1], "dfc" | "other" | "ambiguous") {
            continue;
        }
        let name = cols[0].rsplit('/').next().unwrap();
        let actions = by_file.get(name).cloned().unwrap_or_default();
        let decided: Vec<_> = actions
            .iter()
            .filter(|a| matches!(a.verb, Verb::Disable | Verb::StopIncidents))
            .collect();
        let pinned = decided.iter().all(|a| {
            a.evidence.iter().any(|e| {
                e.source
                    .as_ref()
                    .is_some_and(|s| s.path.ends_with(".parameters.json"))
            })
        });
        let outcome = if !decided.is_empty() {
            Outcome::Decided
        } else if actions.iter().any(|a| a.operation == Operation::Review) {
            Outcome::Review
        } else {
            Outcome::Untouched
        };
        tally.rows.push((
            name.to_string(),
            cols[1].to_string(),
            outcome,
            pinned && !decided.is_empty(),
        ));
    }
    Some(tally)
}

#[test]
fn quality_over_the_labelled_corpora() {
    let own = own_corpus();
    assert!(
        own.rows.len() >= 60,
        "the own corpus has {} rules",
        own.rows.len()
    );
    let mut report = own.report("own corpus (tests/fixtures/kql)");
    let combined = match shared_corpus() {
        Some(shared) => {
            report.push_str(&shared.report("shared corpus (../shared sentinel-content, per file)"));
            own.merge(&shared)
        }
        None => own,
    };
    report.push_str(&combined.report("combined"));
    println!("{report}");

    for (file, label, outcome, pinned) in &combined.rows {
        match (label.as_str(), outcome) {
            ("other", Outcome::Decided) => {
                panic!("{file}: a rule labelled other is turned off\n{report}")
            }
            ("ambiguous", Outcome::Decided) if !pinned => {
                panic!("{file}: an ambiguous rule is turned off without a pinned value\n{report}")
            }
            ("dfc", Outcome::Untouched) => panic!("{file}: a dfc rule is not flagged\n{report}"),
            _ => {}
        }
    }
    let dfc = combined.total("dfc");
    let decided = combined.count("dfc", Outcome::Decided);
    assert!(
        decided * 100 >= dfc * 90,
        "only {decided}/{dfc} dfc rules decided automatically\n{report}"
    );
    let other = combined.total("other");
    let to_review = combined.count("other", Outcome::Review);
    assert!(
        to_review * 100 <= other * 5,
        "{to_review}/{other} other rules sent to review\n{report}"
    );
}

/// Our own corpus is written to the classifier's contract, so every
/// verdict must follow its label exactly: `other` is left alone (never sent
/// to review needlessly), `ambiguous` goes to review, `dfc` is turned off,
/// except where docs/classifier.md names a limit.
#[test]
fn own_corpus_verdicts_follow_the_labels() {
    // dfc rules the classifier sends to review, and why.
    const LIMITS: [(&str, &str); 2] = [
        (
            "061-lookup-inner-plan-table.kql",
            "a lookup against a list of names is not evaluated",
        ),
        (
            "177-partition-dfc-alerts.kql",
            "`partition` has no row rule",
        ),
    ];
    let own = own_corpus();
    let mut wrong = Vec::new();
    for (file, label, outcome, _) in &own.rows {
        let want = match label.as_str() {
            "other" => Outcome::Untouched,
            "ambiguous" => Outcome::Review,
            _ if LIMITS.iter().any(|(f, _)| f == file) => Outcome::Review,
            _ => Outcome::Decided,
        };
        if *outcome != want {
            wrong.push(format!("{file}: labelled {label}, got {outcome:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
