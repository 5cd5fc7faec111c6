use sentinel_migrate::catalog::Catalog;
use sentinel_migrate::kql::{Classifier, Verdict};

#[test]
fn probe() {
    let c = Classifier::new(&Catalog::embedded().unwrap());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kql");
    let labels = std::fs::read_to_string(dir.join("labels.tsv")).unwrap();
    for line in labels.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let q = std::fs::read_to_string(dir.join(cols[0])).unwrap();
        let d = c.classify(&q);
        let want = match cols[1] {
            "dfc" => Verdict::Dfc,
            "other" => Verdict::None,
            _ => Verdict::Review,
        };
        if d.verdict != want {
            println!(
                "MISMATCH {} want {} got {:?}: {}",
                cols[0], cols[1], d.verdict, d.explanation
            );
        }
    }
}
