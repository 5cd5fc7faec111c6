//! Classifier throughput and memory: classifies 100,000 realistic queries
//! (about 1 KB each, generated from the labelled corpus) on one thread and
//! prints queries per second, MB/s and the heap each decision keeps.
//!
//!     cargo bench --bench classify
//!
//! Targets (issue 3): at least 100,000 queries/s on one core, at most 2 KB of
//! heap retained per query. It also times a 1 MB and a 10 MB query and a
//! 10,000-deep nesting, to show cost grows linearly with length.

use sentinel_migrate::catalog::Catalog;
use sentinel_migrate::kql::{Classifier, Decision};
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts live heap bytes and allocations on top of mimalloc, the
/// allocator the `sentinel-migrate` binary uses.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        CALLS.fetch_add(1, Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// A small deterministic generator (no dependency, same corpus every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

const PADDING: [&str; 8] = [
    "| extend Host = tostring(parse_json(Entities)[0].HostName), Account = tostring(parse_json(Entities)[1].Name)\n",
    "| where TimeGenerated > ago(1h) and isnotempty(CompromisedEntity)\n",
    "// Enrich with the alert's extended properties for the SOC analyst\n",
    "| extend Props = parse_json(ExtendedProperties), Tactic = tostring(split(Tactics, ',')[0])\n",
    "| project-away RemediationSteps, ExtendedLinks\n",
    "| extend Link = strcat(\"https://portal.azure.com/#blade/\", SystemAlertId)\n",
    "| where AlertSeverity in (\"High\", \"Medium\", \"Low\")\n",
    "| extend Seen = datetime_diff('minute', EndTime, StartTime)\n",
];
const TAIL: [&str; 3] = [
    "| summarize Count = count(), arg_max(TimeGenerated, *) by SystemAlertId, CompromisedEntity\n",
    "| project TimeGenerated, AlertName, AlertSeverity, CompromisedEntity, Host, Account\n",
    "| take 100\n",
];

fn corpus(n: usize) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kql");
    let mut seeds: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "kql"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    seeds.sort();
    let mut rng = Lcg(42);
    (0..n)
        .map(|i| {
            let mut q = seeds[i % seeds.len()].clone();
            while q.len() < 900 {
                q.push_str(PADDING[rng.next() % PADDING.len()]);
            }
            q.push_str(TAIL[rng.next() % TAIL.len()]);
            q
        })
        .collect()
}

fn main() {
    let catalog = Catalog::embedded().unwrap();
    let classifier = Classifier::new(&catalog);
    let n = std::env::var("CLASSIFY_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let queries = corpus(n);
    let bytes: usize = queries.iter().map(String::len).sum();

    // Warm up, then measure on this one thread.
    for q in queries.iter().take(2_000.min(n)) {
        std::hint::black_box(classifier.classify_anew(q));
    }
    let before = LIVE.load(Ordering::Relaxed);
    let calls_before = CALLS.load(Ordering::Relaxed);
    let start = Instant::now();
    let mut decisions: Vec<Decision> = Vec::with_capacity(queries.len());
    for q in &queries {
        decisions.push(classifier.classify_anew(q));
    }
    let first = start.elapsed().as_secs_f64();
    let retained = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    let allocations = (CALLS.load(Ordering::Relaxed) - calls_before) as f64 / queries.len() as f64;
    let per_query = retained as f64 / queries.len() as f64;
    // More passes: the machine is shared, so report the best and the median.
    let mut times = vec![first];
    for _ in 0..4 {
        let start = Instant::now();
        for q in &queries {
            std::hint::black_box(classifier.classify_anew(q));
        }
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let (best, median) = (times[0], times[times.len() / 2]);
    let qps = queries.len() as f64 / best;
    println!(
        "classify: {} queries, {:.1} MB, average {:.0} bytes",
        queries.len(),
        bytes as f64 / 1e6,
        bytes as f64 / queries.len() as f64
    );
    println!(
        "classify: best of {} passes {:.3} s: {:.0} queries/s, {:.1} MB/s; median {:.0} queries/s (one thread; target >= 100000 queries/s)",
        times.len(),
        best,
        qps,
        bytes as f64 / 1e6 / best,
        queries.len() as f64 / median
    );
    println!(
        "classify: {:.0} bytes of heap retained per query, decision included (target <= 2048); {:.0} allocations per query",
        per_query, allocations
    );
    let mut counts = std::collections::BTreeMap::new();
    for d in &decisions {
        *counts.entry(d.verdict.as_str()).or_insert(0) += 1;
    }
    println!("classify: verdicts {counts:?}");
    drop(decisions);

    if std::env::var_os("CLASSIFY_BENCH_N").is_some() {
        return; // a profiling run: the corpus only
    }
    // Linear growth: one long query of 1 MB and 10 MB.
    let unit = "| where AlertSeverity == \"High\" and ProductName == \"Azure Security Center\"\n";
    for mb in [1usize, 2, 5, 10] {
        let mut q = String::from("SecurityAlert\n");
        while q.len() < mb * 1_000_000 {
            q.push_str(unit);
        }
        let start = Instant::now();
        let d = classifier.classify_anew(&q);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "long query: {mb} MB in {secs:.3} s, {:.1} MB/s ({})",
            mb as f64 / secs,
            d.verdict.as_str()
        );
    }
    let deep = format!(
        "SecurityAlert | where {}ProductName == \"Azure Security Center\"{}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let start = Instant::now();
    let d = classifier.classify_anew(&deep);
    println!(
        "nesting: 10,000 deep in {:.4} s ({})",
        start.elapsed().as_secs_f64(),
        d.verdict.as_str()
    );
}
