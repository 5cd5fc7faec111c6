//! Does an analytics rule's KQL create alerts from Defender for Cloud alerts?
//!
//! The query is lexed ([`lexer`]), its structure followed ([`parse`]): which
//! pipelines read an alert table (directly, through `let`, `union`, `join`,
//! `materialize`), which `where` filters narrow each of them, and whether
//! their rows reach the output. Each filter is then *evaluated* against the
//! product names the migration rules know ([`pred`]), never searched as
//! text: `ProductName contains "Security Center" and ProductName !contains
//! "IoT"` admits exactly Defender for Cloud, `!in ("Azure Sentinel")`
//! admits it together with every other product.
//!
//! Any text gives a decision; what the classifier does not understand leans
//! to [`Verdict::Review`].

pub mod lexer;
pub mod parse;
pub mod pred;

use crate::catalog::{Catalog, Family};
use parse::{Combine, Names, Parsed, Source, Stage, Via};
use pred::{Atom, Op, Pred, Test, Tri, TriSet};
use serde::{Deserialize, Serialize};

/// The classifier's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Creates alerts from Defender for Cloud alerts, confidently.
    Dfc,
    /// A human must decide.
    Review,
    /// Does not create alerts from Defender for Cloud alerts.
    None,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Dfc => "dfc",
            Verdict::Review => "review",
            Verdict::None => "none",
        }
    }
}

/// One piece of evidence: a place in the query and what it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// 1-based line and column in the query text.
    pub line: usize,
    pub column: usize,
    /// The query text there (one line, shortened).
    pub text: String,
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub verdict: Verdict,
    /// One sentence for a human.
    pub explanation: String,
    pub evidence: Vec<Evidence>,
}

const OTHER_PRODUCT: &str = "\u{1}a product the migration rules do not name";
/// Reads followed per query; a query that expands to more is sent to review.
const MAX_READS: usize = 256;

/// A classifier built from the migration rules.
pub struct Classifier {
    names: Names,
    /// Every product name, its family and whether alerts carry it.
    universe: Vec<(String, Family, bool)>,
    vendor_columns: Vec<String>,
    alert_name_columns: Vec<String>,
    prefixes: Vec<String>,
    phrases: Vec<String>,
    known_tables: Vec<String>,
    /// Alert names of other products, lowercase, with their product.
    alert_names: std::collections::HashMap<String, String>,
    /// Bits of the universe's Defender for Cloud names.
    dfc_mask: u64,
    /// Decisions already made, by query.
    memo: Memo,
}

/// The decisions a classifier has made, by the query's text: a fleet
/// deploys the same rules (Content hub templates, a team's own library)
/// in every workspace, and a rule the plan acts on is decided as it is
/// read and again as it is planned. A decision depends on the query's
/// text alone (its evidence is placed within the query), so a copy is
/// as good as classifying again. Bounded: past [`MEMO_BYTES`] of queries
/// held, new ones are classified without being kept.
struct Memo {
    held: std::sync::Mutex<(std::collections::HashMap<Box<str>, Decision>, usize)>,
    /// Query text it holds at most.
    budget: usize,
}

/// Query text the memo holds at most (its decisions are about as large).
const MEMO_BYTES: usize = 16 << 20;

impl Memo {
    fn new(budget: usize) -> Memo {
        Memo {
            held: Default::default(),
            budget,
        }
    }

    fn get(&self, query: &str) -> Option<Decision> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.0.get(query).cloned()
    }

    fn put(&self, query: &str, decision: &Decision) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let (map, bytes) = &mut *held;
        if *bytes + query.len() <= self.budget && !map.contains_key(query) {
            *bytes += query.len();
            map.insert(query.into(), decision.clone());
        }
    }
}

/// A run of filters that apply to a read, and the product columns they
/// cannot see (dropped by a projection between the read and them). Chunks
/// borrow the pipelines' filter lists, so following a query costs time
/// linear in its length.
#[derive(Clone)]
struct Chunk<'p> {
    preds: &'p [&'p Pred],
    /// Bit k: the k-th product column is hidden from these filters.
    hidden: u64,
}

/// One read of an alert table, with the filters that narrow it.
struct Read<'p> {
    table: String,
    span: (u32, u32),
    chunks: Vec<Chunk<'p>>,
    via: Vec<Via>,
    /// `union withsource=Col`: (column, the table this read's rows name).
    tags: Vec<(String, String)>,
}

impl<'p> Read<'p> {
    /// Every atom of every filter the read sees, with whether it is negated.
    fn visible_atoms(&self, names: &Names) -> Vec<(&'p Atom, (u32, u32), bool)> {
        let mut out = Vec::new();
        for c in &self.chunks {
            for p in c.preds {
                p.visit(false, &mut |a, span, neg| {
                    let hidden = c.hidden != 0
                        && match a {
                            Atom::Product(Test { column, .. })
                            | Atom::ProductUnknown { column, .. } => names.hides(c.hidden, column),
                            _ => false,
                        };
                    if !hidden {
                        out.push((a, span, neg));
                    }
                });
            }
        }
        out
    }
}

/// Rows of a table that holds no alerts: its name, where it is read, and
/// whether a filter on a product column drops them all (in a union).
type TableRows<'p> = (&'p str, (u32, u32), bool);

#[derive(Default)]
struct Walk<'p> {
    reads: Vec<Read<'p>>,
    tables: Vec<TableRows<'p>>,
    functions: Vec<(String, (u32, u32), Vec<Chunk<'p>>)>,
    opaque: Vec<(String, (u32, u32))>,
    /// Operators without a row rule, by name and place.
    unknown: Vec<(String, (u32, u32))>,
    /// Joins and unions combined into flows so far.
    combines: usize,
    overflow: bool,
    visits: usize,
}

/// Where the rows of a pipeline come from, as the walk found them: the
/// row-flow model of `docs/classifier.md`. Leaves index the walk's lists.
#[derive(Debug)]
enum Flow {
    /// A read of an alert table.
    Read(usize),
    /// Rows of a table that holds no alerts.
    Table(usize),
    /// Rows of a workspace function or a name the classifier does not know.
    Function(usize),
    /// Rows of `search`, `find`, `evaluate` as a source.
    Opaque(usize),
    /// Rows that are not alerts (`datatable`, `print`, `range`).
    Data,
    /// Each row comes from one of these (`union`, `fullouter`).
    Either(Vec<Flow>),
    /// Each row needs a row of every one of these (inner joins, `leftsemi`,
    /// `in (sub-query)`).
    Both(Vec<Flow>),
    /// Rows of the first, some of which need a row of the second (`in
    /// (sub-query)` under `or`).
    MayNeed(Box<Flow>, Box<Flow>),
    /// The rows after an operator without a row rule.
    Unknown(usize, Box<Flow>),
    /// The walk gave up.
    Overflow,
}

/// What the rows of a flow need.
enum Need<'f> {
    /// No rows (every source filtered away).
    Empty,
    /// Every row needs a Defender for Cloud alert (this read is one).
    Dfc(usize),
    /// No row needs one; `alerts` when some rows are other products' alerts.
    Other { alerts: bool },
    /// A human must decide, for this reason.
    Mixed(Why<'f>),
}

enum Why<'f> {
    /// A read whose filters admit Defender for Cloud and other products.
    Read(usize),
    Function(usize),
    Opaque(usize),
    /// Defender for Cloud alerts (this read) and the rows of other sources
    /// (in `others`) reach the output side by side.
    Union {
        dfc: usize,
        others: &'f Flow,
    },
    /// Other products' alerts that need a Defender for Cloud alert.
    Correlated {
        dfc: usize,
    },
    /// Defender for Cloud alerts pass an operator without a row rule.
    Unknown(usize),
    Overflow,
}

/// Per read: its visible atoms and the products it admits.
type Fact<'p, 'c> = (
    Vec<(&'p Atom, (u32, u32), bool)>,
    (Vec<&'c str>, Vec<&'c str>),
);

/// State kept while a flow is evaluated: which reads are in it, which
/// unfiltered reads only enrich other products' alerts.
struct Eval<'a, 'p, 'c> {
    walk: &'a Walk<'p>,
    facts: &'a [Fact<'p, 'c>],
    query: &'a str,
    /// Bit k: read k is in the flow (reads stop at [`MAX_READS`]).
    live: [u64; MAX_READS / 64],
    enriched: Vec<usize>,
    mentions_alerts: std::cell::OnceCell<bool>,
}

/// Most sources a review names.
const MAX_NAMES: usize = 8;

/// What the walk reads from: the parse, and each pipeline's own filters
/// (with the index of the stage each sits at).
struct Ctx<'p> {
    parsed: &'p Parsed,
    own: Vec<Vec<&'p Pred>>,
    own_stage: Vec<Vec<usize>>,
}

/// Pipelines the walk follows before it gives up (the query is sent to review).
const MAX_VISITS: usize = 4096;
/// Joins and unions the walk combines before it gives up.
const MAX_COMBINES: usize = 256;

impl Classifier {
    pub fn new(catalog: &Catalog) -> Classifier {
        let mut universe: Vec<(String, Family, bool)> = catalog
            .products
            .iter()
            .map(|p| (p.name.clone(), p.family, p.in_alerts))
            .collect();
        universe.push((OTHER_PRODUCT.to_string(), Family::Other, true));
        let dfc_mask = universe
            .iter()
            .take(64)
            .enumerate()
            .filter(|(_, (_, f, _))| *f == Family::DefenderForCloud)
            .fold(0u64, |m, (k, _)| m | 1 << k);
        Classifier {
            names: Names {
                alert_tables: catalog.kql.alert_tables.clone(),
                product_columns: catalog.kql.product_columns.clone(),
                signal_columns: catalog
                    .kql
                    .alert_name_columns
                    .iter()
                    .chain(&catalog.kql.vendor_columns)
                    .cloned()
                    .collect(),
                universe: universe.iter().map(|(n, _, _)| n.clone()).collect(),
            },
            universe,
            vendor_columns: catalog.kql.vendor_columns.clone(),
            alert_name_columns: catalog.kql.alert_name_columns.clone(),
            prefixes: catalog.kql.dfc_alert_type_prefixes.clone(),
            phrases: catalog.kql.dfc_alert_name_phrases.clone(),
            known_tables: catalog.kql.known_tables.clone(),
            alert_names: catalog
                .alert_names
                .iter()
                .flat_map(|l| {
                    l.names
                        .iter()
                        .map(|n| (n.to_lowercase(), l.product.clone()))
                })
                .collect(),
            dfc_mask,
            memo: Memo::new(MEMO_BYTES),
        }
    }

    /// Classifies a query. Never fails, never panics. A query classified
    /// before (by this classifier, on any thread) gets the same decision
    /// from the memo.
    pub fn classify(&self, query: &str) -> Decision {
        if let Some(d) = self.memo.get(query) {
            return d;
        }
        let d = self.classify_anew(query);
        self.memo.put(query, &d);
        d
    }

    /// Classifies a query without the memo (as `benches/classify.rs`
    /// measures the classifier).
    pub fn classify_anew(&self, query: &str) -> Decision {
        let parsed = parse::Parser::new(query, &self.names).parse();
        let mut own = Vec::with_capacity(parsed.pipelines.len());
        let mut own_stage = Vec::with_capacity(parsed.pipelines.len());
        for p in &parsed.pipelines {
            let (mut preds, mut stages) = (Vec::new(), Vec::new());
            for (i, stage) in p.stages.iter().enumerate() {
                if let Stage::Filter(pred) = stage {
                    preds.push(pred);
                    stages.push(i);
                }
            }
            own.push(preds);
            own_stage.push(stages);
        }
        let ctx = Ctx {
            parsed: &parsed,
            own,
            own_stage,
        };
        let mut walk = Walk::default();
        let mut outputs = Vec::with_capacity(parsed.outputs.len());
        for &o in &parsed.outputs {
            outputs.push(self.walk(&ctx, o, &[], &[], &mut Vec::new(), 0, &mut walk));
        }
        let flow = match outputs.len() {
            1 => outputs.pop().unwrap_or(Flow::Data),
            _ => Flow::Either(outputs),
        };
        self.decide(query, &parsed, &walk, &flow)
    }

    /// Follows the rows of pipeline `index` back to their sources, with the
    /// filters that apply to them (`outer`: those written after it).
    #[allow(clippy::too_many_arguments)]
    fn walk<'p>(
        &self,
        ctx: &'p Ctx<'p>,
        index: usize,
        outer: &[Chunk<'p>],
        tags: &[(String, String)],
        via: &mut Vec<Via>,
        depth: usize,
        walk: &mut Walk<'p>,
    ) -> Flow {
        walk.visits += 1;
        if depth > parse::MAX_DEPTH || walk.reads.len() >= MAX_READS || walk.visits > MAX_VISITS {
            walk.overflow = true;
            return Flow::Overflow;
        }
        let Some(pipe) = ctx.parsed.pipelines.get(index) else {
            return Flow::Data;
        };
        // Filters written after this pipeline cannot see the product
        // columns its projections drop.
        let hidden = pipe.stages.iter().fold(0u64, |m, s| match s {
            Stage::Columns { hides } => m | hides,
            _ => m,
        });
        let outer: Vec<Chunk<'p>> = outer
            .iter()
            .map(|c| Chunk {
                preds: c.preds,
                hidden: c.hidden | hidden,
            })
            .collect();
        let own: &'p [&'p Pred] = &ctx.own[index];
        let mut chunks = Vec::with_capacity(outer.len() + 1);
        chunks.push(Chunk {
            preds: own,
            hidden: 0,
        });
        chunks.extend(outer.iter().cloned());
        let mut flow = match pipe.sources.as_slice() {
            [] => Flow::Data,
            [one] => self.source_flow(ctx, pipe, one, &chunks, tags, via, depth, walk),
            many => {
                let mut parts = Vec::with_capacity(many.len());
                for source in many {
                    parts
                        .push(self.source_flow(ctx, pipe, source, &chunks, tags, via, depth, walk));
                }
                Flow::Either(parts)
            }
        };
        for (k, stage) in pipe.stages.iter().enumerate() {
            match stage {
                Stage::Branch {
                    index: b,
                    via: v,
                    combine,
                } => {
                    // The branch's rows do not matter to the output.
                    if *combine == Combine::Keeps {
                        continue;
                    }
                    // Filters after the branch joins narrow its rows too: a
                    // suffix of this pipeline's own filters.
                    let from = ctx.own_stage[index].partition_point(|&s| s <= k);
                    let mut after = Vec::with_capacity(outer.len() + 1);
                    after.push(Chunk {
                        preds: &own[from..],
                        hidden: 0,
                    });
                    after.extend(outer.iter().cloned());
                    via.push(v.clone());
                    let branch = self.walk(ctx, *b, &after, tags, via, depth + 1, walk);
                    via.pop();
                    // The flow's depth is bounded, so evaluating (and
                    // dropping) it never runs deep.
                    walk.combines += 1;
                    if walk.overflow || walk.combines > MAX_COMBINES {
                        walk.overflow = true;
                        return Flow::Overflow;
                    }
                    flow = match (combine, flow) {
                        (Combine::Either, Flow::Either(mut parts)) => {
                            parts.push(branch);
                            Flow::Either(parts)
                        }
                        (Combine::Either, flow) => Flow::Either(vec![flow, branch]),
                        (
                            Combine::Both | Combine::Needs | Combine::ReplacesNeeding,
                            Flow::Both(mut parts),
                        ) => {
                            parts.push(branch);
                            Flow::Both(parts)
                        }
                        (Combine::Both | Combine::Needs | Combine::ReplacesNeeding, flow) => {
                            Flow::Both(vec![flow, branch])
                        }
                        (Combine::MayNeed, flow) => Flow::MayNeed(Box::new(flow), Box::new(branch)),
                        (Combine::Replaces, _) => branch,
                        (Combine::Keeps, flow) => flow,
                    };
                }
                Stage::Unknown { name, span } => {
                    // One unknown operator is enough to send the rows to review.
                    if !matches!(flow, Flow::Unknown(..)) {
                        walk.unknown.push((name.clone(), *span));
                        flow = Flow::Unknown(walk.unknown.len() - 1, Box::new(flow));
                    }
                }
                Stage::Filter(_) | Stage::Columns { .. } => {}
            }
        }
        flow
    }

    /// The rows of one source of a pipeline.
    #[allow(clippy::too_many_arguments)]
    fn source_flow<'p>(
        &self,
        ctx: &'p Ctx<'p>,
        pipe: &'p parse::Pipeline,
        source: &'p Source,
        chunks: &[Chunk<'p>],
        tags: &[(String, String)],
        via: &mut Vec<Via>,
        depth: usize,
        walk: &mut Walk<'p>,
    ) -> Flow {
        match source {
            Source::Table { name, span } => {
                if self.is_alert_table(name) {
                    if walk.reads.len() >= MAX_READS {
                        walk.overflow = true;
                        return Flow::Overflow;
                    }
                    walk.reads.push(Read {
                        table: name.clone(),
                        span: *span,
                        chunks: chunks.to_vec(),
                        via: via.clone(),
                        tags: tags.to_vec(),
                    });
                    Flow::Read(walk.reads.len() - 1)
                } else if self
                    .known_tables
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(name))
                {
                    let dropped = self.excluded(chunks, tags) & self.other_bit() != 0;
                    walk.tables.push((name.as_str(), *span, dropped));
                    Flow::Table(walk.tables.len() - 1)
                } else {
                    walk.functions.push((name.clone(), *span, chunks.to_vec()));
                    Flow::Function(walk.functions.len() - 1)
                }
            }
            Source::Pipe { index, via: v } => {
                let mut tags = tags.to_vec();
                if let (Via::Union, Some(col)) = (v, &pipe.source_column)
                    && let Some(Source::Table { name, .. }) = ctx
                        .parsed
                        .pipelines
                        .get(*index)
                        .and_then(|p| p.sources.first())
                {
                    tags.push((col.clone(), name.clone()));
                }
                via.push(v.clone());
                let flow = self.walk(ctx, *index, chunks, &tags, via, depth + 1, walk);
                via.pop();
                flow
            }
            Source::Function { name, span } => {
                walk.functions.push((name.clone(), *span, chunks.to_vec()));
                Flow::Function(walk.functions.len() - 1)
            }
            Source::Opaque { what, span } => {
                walk.opaque.push((what.clone(), *span));
                Flow::Opaque(walk.opaque.len() - 1)
            }
        }
    }

    fn is_alert_table(&self, name: &str) -> bool {
        self.names.is_alert_table(name)
    }

    /// The universe names the read's filters certainly exclude, as bits.
    fn excluded(&self, chunks: &[Chunk], tags: &[(String, String)]) -> u64 {
        let all = self.all_names();
        let mut falses = 0u64;
        for c in chunks {
            for pred in c.preds {
                // A filter on other columns only is unknown for every product
                // (but an alert name of another product is never Defender
                // for Cloud's).
                if tags.is_empty()
                    && matches!(pred, Pred::Atom(a @ Atom::Other { .. }, _) if self.alert_name_owner(a).is_none())
                {
                    continue;
                }
                let ctx = |atom: &Atom| -> Option<TriSet> {
                    match atom {
                        Atom::Product(Test { column, .. })
                        | Atom::ProductUnknown { column, .. }
                            if c.hidden != 0 && self.names.hides(c.hidden, column) =>
                        {
                            Some(TriSet::uniform(Tri::Unknown, all))
                        }
                        Atom::Other {
                            column: Some(col),
                            op,
                            negated,
                            values,
                        } => {
                            if let Some((_, table)) =
                                tags.iter().find(|(t, _)| t.eq_ignore_ascii_case(col))
                            {
                                if !matches!(op, Some(Op::Equals | Op::In)) {
                                    return None;
                                }
                                let hit = values.iter().any(|v| v.eq_ignore_ascii_case(table));
                                let tri = if hit != *negated {
                                    Tri::True
                                } else {
                                    Tri::False
                                };
                                return Some(TriSet::uniform(tri, all));
                            }
                            self.alert_name_owner(atom).map(|_| TriSet {
                                t: 0,
                                f: self.dfc_mask & all,
                            })
                        }
                        _ => None,
                    }
                };
                falses |= pred.eval_all(all, &ctx).f;
                if falses == all {
                    return all;
                }
            }
        }
        falses
    }

    fn all_names(&self) -> u64 {
        let n = self.universe.len().min(64);
        if n == 64 { u64::MAX } else { (1u64 << n) - 1 }
    }

    /// Which products a read admits: (Defender for Cloud names, other names).
    fn admitted(&self, read: &Read, atoms: &[(&Atom, (u32, u32), bool)]) -> (Vec<&str>, Vec<&str>) {
        let mut dfc = Vec::new();
        let mut others = Vec::new();
        let tests: Vec<&Test> = atoms
            .iter()
            .filter(|(_, _, neg)| !neg)
            .filter_map(|(a, _, _)| match a {
                Atom::Product(t) => Some(t),
                _ => None,
            })
            .collect();
        let product_filter = !tests.is_empty()
            || atoms
                .iter()
                .any(|(a, _, _)| matches!(a, Atom::Product(_) | Atom::ProductUnknown { .. }));
        // No product filter (and no union source to tell rows apart): every
        // product the alerts carry is admitted, without evaluating anything.
        let named = atoms.iter().any(|(a, _, _)| {
            matches!(
                a,
                Atom::Other {
                    column: Some(_),
                    ..
                }
            ) && self.alert_name_owner(a).is_some()
        });
        let excluded = if product_filter || named || !read.tags.is_empty() {
            self.excluded(&read.chunks, &read.tags)
        } else {
            0
        };
        let other_bit = 1u64 << (self.universe.len() - 1).min(63);
        for (k, (name, family, in_alerts)) in self.universe.iter().enumerate().take(64) {
            let bit = 1u64 << k;
            if excluded & bit != 0 {
                continue;
            }
            // A name alerts do not carry counts only where a filter selects it.
            if !in_alerts
                && !tests
                    .iter()
                    .any(|t| !t.negated && t.mask & bit != 0 && t.mask & other_bit == 0)
            {
                continue;
            }
            // Defender for IoT shares the prefix: admitting it by a substring
            // or `has` is part of a Defender for Cloud filter; naming it
            // exactly is a choice to include another product.
            if *family == Family::DefenderForIot && !tests.iter().any(|t| t.names_exactly(name)) {
                continue;
            }
            match family {
                Family::DefenderForCloud => dfc.push(name.as_str()),
                _ => others.push(name.as_str()),
            }
        }
        (dfc, others)
    }

    fn decide(&self, query: &str, parsed: &Parsed, walk: &Walk, flow: &Flow) -> Decision {
        // Line starts, found once and only if evidence is needed.
        let lines: std::cell::OnceCell<Vec<usize>> = std::cell::OnceCell::new();
        let at = |span: (u32, u32), explanation: String| {
            let starts = lines.get_or_init(|| {
                std::iter::once(0)
                    .chain(memchr::memchr_iter(b'\n', query.as_bytes()).map(|i| i + 1))
                    .collect()
            });
            evidence(query, starts, span, explanation)
        };
        if walk.overflow {
            return Decision {
                verdict: Verdict::Review,
                explanation:
                    "the query expands to more reads of its tables than the classifier follows"
                        .into(),
                evidence: Vec::new(),
            };
        }
        // Each read's visible atoms and admitted products, worked out once.
        let facts: Vec<Fact> = walk
            .reads
            .iter()
            .map(|r| {
                let atoms = r.visible_atoms(&self.names);
                let admitted = self.admitted(r, &atoms);
                (atoms, admitted)
            })
            .collect();
        let mut state = Eval {
            walk,
            facts: &facts,
            query,
            live: [0; MAX_READS / 64],
            enriched: Vec::new(),
            mentions_alerts: std::cell::OnceCell::new(),
        };
        let need = self.eval(flow, &mut state);
        let (bits, enriched) = (state.live, state.enriched);
        let live = |k: usize| bits.get(k / 64).is_some_and(|w| w & (1 << (k % 64)) != 0);
        match need {
            Need::Mixed(why) => return self.review_why(query, why, walk, &facts, &at),
            Need::Dfc(_) => {
                let mut dfc_evidence = Vec::new();
                for (k, (read, (atoms, (dfc, others)))) in walk.reads.iter().zip(&facts).enumerate()
                {
                    if !live(k) || dfc.is_empty() || !others.is_empty() {
                        continue;
                    }
                    dfc_evidence.push(at(
                        read.span,
                        format!(
                            "{} is read{}; its filters admit Defender for Cloud alerts only",
                            read.table,
                            through(read)
                        ),
                    ));
                    for (a, span, _) in atoms.iter().take(MAX_EVIDENCE) {
                        if let Atom::Product(t) = a {
                            dfc_evidence.push(at(*span, self.describe_admitted(t)));
                        }
                    }
                }
                return Decision {
                    verdict: Verdict::Dfc,
                    explanation: "the rule's alerts come from Defender for Cloud alerts".into(),
                    evidence: dedup(dfc_evidence),
                };
            }
            Need::Other { .. } | Need::Empty => {}
        }
        let mut other_evidence: Vec<Evidence> = Vec::new();
        for (k, (read, (atoms, (dfc, _)))) in walk.reads.iter().zip(&facts).enumerate() {
            if !live(k) {
                continue;
            }
            if enriched.contains(&k) {
                other_evidence.push(at(
                    read.span,
                    format!(
                        "{} is joined in only to enrich alerts of other products",
                        read.table
                    ),
                ));
                continue;
            }
            if !dfc.is_empty() {
                continue;
            }
            let mut ev: Vec<Evidence> = atoms
                .iter()
                .filter(|(a, _, _)| matches!(a, Atom::Product(_) | Atom::ProductUnknown { .. }))
                .take(MAX_EVIDENCE)
                .map(|(_, span, _)| {
                    at(
                        *span,
                        format!(
                            "this filter admits no Defender for Cloud alert of {}",
                            read.table
                        ),
                    )
                })
                .collect();
            ev.extend(atoms.iter().filter(|(_, _, neg)| !neg).filter_map(|(a, span, _)| {
                let product = self.alert_name_owner(a)?;
                Some(at(
                    *span,
                    format!("an alert name of {product} (rules/alert-names.yaml): Defender for Cloud does not raise it"),
                ))
            }));
            if ev.is_empty() {
                ev.push(at(
                    read.span,
                    format!(
                        "{} is read{}, but its filters admit no Defender for Cloud alert",
                        read.table,
                        through(read)
                    ),
                ));
            }
            other_evidence.extend(ev);
        }
        if bits.iter().all(|w| *w == 0) {
            let unfollowed = parsed
                .notes
                .first()
                .filter(|_| query_mentions(query, &self.names.alert_tables));
            if let Some(note) = unfollowed {
                return review(
                    format!(
                        "the query names an alert table, but in {} the classifier cannot follow",
                        note.what
                    ),
                    vec![at(note.span, note.what.clone())],
                );
            }
            return Decision {
                verdict: Verdict::None,
                explanation: format!(
                    "the rule does not read {} where its rows reach the output",
                    self.names.alert_tables.join(" or ")
                ),
                evidence: Vec::new(),
            };
        }
        Decision {
            verdict: Verdict::None,
            explanation: "the rule reads alerts of other products only".into(),
            evidence: dedup(other_evidence),
        }
    }

    /// What the rows of `flow` need (see [`Flow`]).
    fn eval<'f>(&self, flow: &'f Flow, st: &mut Eval) -> Need<'f> {
        match flow {
            Flow::Read(i) => {
                if let Some(w) = st.live.get_mut(*i / 64) {
                    *w |= 1 << (*i % 64);
                }
                let Some((_, (dfc, others))) = st.facts.get(*i) else {
                    return Need::Empty;
                };
                if dfc.is_empty() {
                    Need::Other { alerts: true }
                } else if others.is_empty() {
                    Need::Dfc(*i)
                } else {
                    Need::Mixed(Why::Read(*i))
                }
            }
            Flow::Table(_) | Flow::Data => Need::Other { alerts: false },
            Flow::Function(i) => {
                let (_, _, chunks) = &st.walk.functions[*i];
                if self.filters_alert_columns(chunks) {
                    Need::Mixed(Why::Function(*i))
                } else {
                    Need::Other { alerts: false }
                }
            }
            Flow::Opaque(i) => {
                let (query, tables) = (st.query, &self.names.alert_tables);
                if *st
                    .mentions_alerts
                    .get_or_init(|| query_mentions(query, tables))
                {
                    Need::Mixed(Why::Opaque(*i))
                } else {
                    Need::Other { alerts: false }
                }
            }
            Flow::Overflow => Need::Mixed(Why::Overflow),
            Flow::MayNeed(rows, needed) => match self.eval(rows, st) {
                // The rows are Defender for Cloud alerts whatever they match.
                Need::Other { alerts } => match self.eval(needed, st) {
                    Need::Dfc(i) => Need::Mixed(Why::Union {
                        dfc: i,
                        others: rows,
                    }),
                    Need::Mixed(why) => Need::Mixed(why),
                    Need::Other { .. } | Need::Empty => Need::Other { alerts },
                },
                need => need,
            },
            Flow::Unknown(u, inner) => match self.eval(inner, st) {
                Need::Dfc(_) => Need::Mixed(Why::Unknown(*u)),
                need => need,
            },
            Flow::Either(parts) => {
                let mut dfc = None;
                let mut other = false;
                let mut alerts = false;
                for part in parts {
                    // Rows of a table without alert columns do not pass a
                    // filter that needs a product name.
                    if let Flow::Table(t) = part
                        && st.walk.tables[*t].2
                    {
                        continue;
                    }
                    match self.eval(part, st) {
                        Need::Empty => {}
                        Need::Mixed(why) => return Need::Mixed(why),
                        Need::Dfc(i) => {
                            dfc.get_or_insert(i);
                        }
                        Need::Other { alerts: a } => {
                            other = true;
                            alerts |= a;
                        }
                    }
                }
                match (dfc, other) {
                    (None, false) => Need::Empty,
                    (Some(i), false) => Need::Dfc(i),
                    (Some(i), true) => Need::Mixed(Why::Union {
                        dfc: i,
                        others: flow,
                    }),
                    (None, true) => Need::Other { alerts },
                }
            }
            Flow::Both(parts) => {
                let needs: Vec<Need> = parts.iter().map(|p| self.eval(p, st)).collect();
                if needs.iter().any(|n| matches!(n, Need::Empty)) {
                    return Need::Empty;
                }
                let other_alerts = needs
                    .iter()
                    .any(|n| matches!(n, Need::Other { alerts: true }));
                if let Some(i) = needs.iter().find_map(|n| match n {
                    Need::Dfc(i) => Some(*i),
                    _ => None,
                }) {
                    // Each row needs a Defender for Cloud alert; but rows
                    // that are other products' alerts are theirs too.
                    return if other_alerts {
                        Need::Mixed(Why::Correlated { dfc: i })
                    } else {
                        Need::Dfc(i)
                    };
                }
                // An unfiltered read of alerts joined to other products'
                // alerts only enriches them.
                let unfiltered = |w: &Why| match w {
                    Why::Read(j) => !st.facts[*j].0.iter().any(|(a, _, _)| {
                        matches!(a, Atom::Product(_) | Atom::ProductUnknown { .. })
                    }),
                    _ => false,
                };
                let enrich = other_alerts
                    && needs.iter().all(|n| match n {
                        Need::Mixed(w) => unfiltered(w),
                        _ => true,
                    });
                let mut alerts = false;
                for need in needs {
                    match need {
                        Need::Mixed(Why::Read(j)) if enrich => st.enriched.push(j),
                        Need::Mixed(why) => return Need::Mixed(why),
                        Need::Other { alerts: a } => alerts |= a,
                        Need::Empty | Need::Dfc(_) => {}
                    }
                }
                Need::Other { alerts }
            }
        }
    }

    /// The sources in `flow` whose rows need no Defender for Cloud alert,
    /// for a review (at most [`MAX_NAMES`]).
    fn other_sources(
        &self,
        flow: &Flow,
        walk: &Walk,
        facts: &[Fact],
        out: &mut Vec<(String, (u32, u32))>,
    ) {
        if out.len() >= MAX_NAMES {
            return;
        }
        match flow {
            Flow::Read(i) => {
                if facts.get(*i).is_some_and(|(_, (dfc, _))| dfc.is_empty()) {
                    let read = &walk.reads[*i];
                    out.push((
                        format!("{} (other products' alerts)", read.table),
                        read.span,
                    ));
                }
            }
            Flow::Table(i) => {
                let (name, span, dropped) = &walk.tables[*i];
                if !dropped {
                    out.push((name.to_string(), *span));
                }
            }
            Flow::Function(i) => {
                let (name, span, _) = &walk.functions[*i];
                out.push((name.clone(), *span));
            }
            Flow::Opaque(i) => {
                let (what, span) = &walk.opaque[*i];
                out.push((what.clone(), *span));
            }
            Flow::Data | Flow::Overflow => {}
            Flow::Either(parts) | Flow::Both(parts) => {
                for p in parts {
                    self.other_sources(p, walk, facts, out);
                }
            }
            Flow::MayNeed(rows, _) => self.other_sources(rows, walk, facts, out),
            Flow::Unknown(_, inner) => self.other_sources(inner, walk, facts, out),
        }
    }

    /// The product whose alert name `atom` selects, when it selects only
    /// names of one product the alert-name catalog knows.
    fn alert_name_owner(&self, atom: &Atom) -> Option<String> {
        let Atom::Other {
            column: Some(column),
            op: Some(op),
            negated: false,
            values,
        } = atom
        else {
            return None;
        };
        if values.is_empty()
            || self.alert_names.is_empty()
            || !matches!(
                op,
                Op::Equals | Op::In | Op::HasAny | Op::Has | Op::Contains | Op::StartsWith
            )
            || !self
                .alert_name_columns
                .iter()
                .any(|c| c.eq_ignore_ascii_case(column))
        {
            return None;
        }
        let mut owners: Vec<&str> = Vec::new();
        for v in values {
            let owner = self.alert_names.get(&v.to_lowercase())?;
            if !owners.contains(&owner.as_str()) {
                owners.push(owner);
            }
        }
        Some(owners.join(" and "))
    }

    fn other_bit(&self) -> u64 {
        1u64 << (self.universe.len() - 1).min(63)
    }

    /// Whether filters test a product, vendor or alert-name column.
    fn filters_alert_columns(&self, chunks: &[Chunk]) -> bool {
        chunks.iter().flat_map(|c| c.preds.iter()).flat_map(|p| p.atoms()).any(|(a, _, _)| {
            matches!(a, Atom::Product(_) | Atom::ProductUnknown { .. })
                || matches!(a, Atom::Other { column: Some(c), .. } if self.vendor_columns.iter().chain(&self.alert_name_columns).any(|v| v.eq_ignore_ascii_case(c)))
        })
    }

    /// The review for a flow that needs a human.
    fn review_why(
        &self,
        walk_query: &str,
        why: Why,
        walk: &Walk,
        facts: &[Fact],
        at: &dyn Fn((u32, u32), String) -> Evidence,
    ) -> Decision {
        match why {
            Why::Read(i) => {
                let (atoms, (_, others)) = &facts[i];
                self.review_read(walk_query, &walk.reads[i], atoms, others, at)
            }
            Why::Function(i) => {
                let (name, span, _) = &walk.functions[i];
                review(
                    format!(
                        "the rule reads `{name}`, which is neither a known table nor defined in the query (a workspace function or parser?): it may read alerts, and it filters on their columns"
                    ),
                    vec![at(
                        *span,
                        "a table or function the classifier does not know".into(),
                    )],
                )
            }
            Why::Opaque(i) => {
                let (what, span) = &walk.opaque[i];
                review(
                    format!("the rule uses {what}, whose rows the classifier cannot follow"),
                    vec![at(*span, format!("{what} may read alert tables"))],
                )
            }
            Why::Union { dfc, others } => {
                let read = &walk.reads[dfc];
                let mut sources = Vec::new();
                self.other_sources(others, walk, facts, &mut sources);
                let others = sources;
                let mut named: Vec<String> = Vec::new();
                for (n, _) in &others {
                    if !named.iter().any(|x| x.eq_ignore_ascii_case(n)) {
                        named.push(n.clone());
                    }
                }
                let list = if named.is_empty() {
                    "rows that are not alerts".to_string()
                } else {
                    format!("rows of {}", named.join(", "))
                };
                let mut ev = vec![at(
                    read.span,
                    format!(
                        "{} filtered to Defender for Cloud alerts reaches the output here{}",
                        read.table,
                        through(read)
                    ),
                )];
                for (n, span) in &others {
                    ev.push(at(
                        *span,
                        format!(
                            "rows of {n} reach the output too, with no Defender for Cloud alert"
                        ),
                    ));
                }
                review(
                    format!(
                        "the rule's output holds Defender for Cloud alerts and {list}: turning it off would drop the detections those rows make"
                    ),
                    ev,
                )
            }
            Why::Correlated { dfc } => {
                let read = &walk.reads[dfc];
                review(
                    format!(
                        "the rule's alerts are other products' alerts correlated with Defender for Cloud alerts ({} joined in)",
                        read.table
                    ),
                    vec![at(
                        read.span,
                        format!(
                            "{} filtered to Defender for Cloud alerts, joined to alerts of other products",
                            read.table
                        ),
                    )],
                )
            }
            Why::Unknown(u) => {
                let (name, span) = &walk.unknown[u];
                review(
                    format!(
                        "Defender for Cloud alerts pass through `{name}`, an operator whose effect on rows the classifier does not know"
                    ),
                    vec![at(
                        *span,
                        format!(
                            "`{name}` is not in the classifier's table of operators (docs/classifier.md)"
                        ),
                    )],
                )
            }
            Why::Overflow => Decision {
                verdict: Verdict::Review,
                explanation:
                    "the query expands to more reads of its tables than the classifier follows"
                        .into(),
                evidence: Vec::new(),
            },
        }
    }

    /// The review for a read whose filters admit Defender for Cloud alerts
    /// together with other products'.
    fn review_read(
        &self,
        query: &str,
        read: &Read,
        atoms: &[(&Atom, (u32, u32), bool)],
        others: &[&str],
        at: &dyn Fn((u32, u32), String) -> Evidence,
    ) -> Decision {
        let through = through(read);
        let product_atoms: Vec<&(&Atom, (u32, u32), bool)> = atoms
            .iter()
            .filter(|(a, _, _)| matches!(a, Atom::Product(_) | Atom::ProductUnknown { .. }))
            .collect();
        // Defender for Cloud and other products: a human decides.
        let table_ev = at(read.span, format!("{} is read here{through}", read.table));
        if let Some((Atom::ProductUnknown { column, why }, span, _)) = product_atoms
            .iter()
            .find(|(a, _, _)| matches!(a, Atom::ProductUnknown { .. }))
            .map(|x| **x)
        {
            let ev = at(
                span,
                format!("{column} is compared with {why}: the products it admits are not known"),
            );
            return review(
                format!(
                    "{} is filtered on {column} by a value the query does not fix",
                    read.table
                ),
                vec![table_ev, ev],
            );
        }
        if !product_atoms.is_empty() {
            let names: Vec<String> = others
                .iter()
                .filter(|n| **n != OTHER_PRODUCT)
                .take(3)
                .map(|n| format!("\"{n}\""))
                .collect();
            let list = if names.is_empty() {
                "products the migration rules do not name".to_string()
            } else if others.len() > names.len() {
                format!("{} and more", names.join(", "))
            } else {
                names.join(", ")
            };
            let mut ev = vec![table_ev];
            for (_, span, _) in product_atoms.iter().take(MAX_EVIDENCE) {
                ev.push(at(
                    *span,
                    format!("this filter admits Defender for Cloud alerts together with {list}"),
                ));
            }
            return review(
                format!(
                    "{}'s filter admits Defender for Cloud alerts together with other products ({list}): turning the rule off would silence them too",
                    read.table
                ),
                ev,
            );
        }
        let vendor = atoms.iter().find(|(a, _, _)| {
            matches!(a, Atom::Other { column: Some(c), .. } if self.vendor_columns.iter().any(|v| v.eq_ignore_ascii_case(c)))
        });
        if let Some((_, span, _)) = vendor {
            return review(
                format!(
                    "{} is filtered on the vendor only, which admits every product of that vendor, Defender for Cloud among them",
                    read.table
                ),
                vec![
                    table_ev,
                    at(*span, "a vendor filter, not a product filter".into()),
                ],
            );
        }
        let weak: Vec<Evidence> = atoms
            .iter()
            .filter_map(|(a, span, neg)| match a {
                Atom::Other { column: Some(c), values, negated, .. }
                    if !neg && !negated && self.alert_name_columns.iter().any(|n| n.eq_ignore_ascii_case(c)) =>
                {
                    let hit = values.iter().find(|v| {
                        self.prefixes.iter().any(|p| v.starts_with(p.as_str()))
                            || self.phrases.iter().any(|p| v.to_lowercase().contains(&p.to_lowercase()))
                    })?;
                    Some(at(*span, format!("{c} \"{hit}\" looks like a Defender for Cloud alert, but no filter names the product")))
                }
                _ => None,
            })
            .collect();
        if !weak.is_empty() {
            let mut ev = vec![table_ev];
            ev.extend(weak);
            return review(
                format!(
                    "{} is selected only by alert names or types that look like Defender for Cloud's; no filter names the product",
                    read.table
                ),
                ev,
            );
        }
        // Say what narrows the alerts, when something does.
        let mut columns: Vec<String> = Vec::new();
        let mut ev = vec![table_ev];
        for (a, span, neg) in atoms {
            let Atom::Other {
                column, negated, ..
            } = a
            else {
                continue;
            };
            if *neg || *negated {
                continue;
            }
            let named = match column {
                Some(c) => vec![c.clone()],
                None => compared_columns(query, *span),
            };
            let named: Vec<String> = named
                .into_iter()
                .filter(|c| !c.eq_ignore_ascii_case("TimeGenerated"))
                .collect();
            if named.is_empty() {
                continue;
            }
            for col in &named {
                if !columns.iter().any(|c| c.eq_ignore_ascii_case(col)) {
                    columns.push(col.clone());
                }
            }
            ev.push(at(
                *span,
                format!(
                    "narrows the alerts by {}, which {} not tell products apart",
                    named.join(", "),
                    if named.len() == 1 { "does" } else { "do" }
                ),
            ));
        }
        let narrowed = if columns.is_empty() {
            String::new()
        } else {
            format!(
                "; only {} narrow{} it, and alerts of any product can match",
                columns.join(", "),
                if columns.len() == 1 { "s" } else { "" }
            )
        };
        review(
            format!(
                "{} is read with no product filter{through}{narrowed}: alerts of every product reach the rule, Defender for Cloud's among them",
                read.table
            ),
            ev,
        )
    }

    /// The product names a test admits, for evidence.
    fn describe_admitted(&self, t: &pred::Test) -> String {
        let named = |family: Family| -> Vec<String> {
            self.universe
                .iter()
                .filter(|(n, f, _)| *f == family && n != OTHER_PRODUCT && t.admits(n))
                .map(|(n, _, _)| format!("\"{n}\""))
                .collect()
        };
        let dfc = named(Family::DefenderForCloud);
        let iot = named(Family::DefenderForIot);
        let other = named(Family::Other);
        if t.negated || t.admits(OTHER_PRODUCT) {
            return format!(
                "{} excludes {}: on its own it admits every other product",
                t.column,
                describe_values(&t.values)
            );
        }
        let mut text = if dfc.is_empty() {
            format!(
                "{} is matched against {}",
                t.column,
                describe_values(&t.values)
            )
        } else {
            format!(
                "admits Defender for Cloud's product name{} {}",
                if dfc.len() == 1 { "" } else { "s" },
                dfc.join(", ")
            )
        };
        if !iot.is_empty() {
            text.push_str(", and Defender for IoT's, which shares the prefix");
        }
        if !other.is_empty() {
            text.push_str(&format!(
                ", with {} (excluded by the other filters)",
                other.join(", ")
            ));
        }
        text
    }
}

/// The columns a filter's text matches against strings (`AlertSeverity`
/// and `Entities` in `AlertSeverity == "High" and tostring(Entities) has
/// "x"`); negated and range comparisons do not count. A plain scan of the
/// text, skipping string literals: it runs for reviews only.
fn compared_columns(query: &str, span: (u32, u32)) -> Vec<String> {
    // String comparisons only: ranges (`>`, `between`) bound times and counts.
    const OPS: [&str; 17] = [
        "has",
        "has_cs",
        "contains",
        "contains_cs",
        "startswith",
        "startswith_cs",
        "endswith",
        "endswith_cs",
        "in",
        "in~",
        "has_any",
        "has_all",
        "matches",
        "hasprefix",
        "hassuffix",
        "hasprefix_cs",
        "hassuffix_cs",
    ];
    let Some(text) = query.get(span.0 as usize..span.1 as usize) else {
        return Vec::new();
    };
    let b = text.as_bytes();
    let word = |i: usize| {
        b.get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    };
    let skip_space = |mut j: usize| {
        while b.get(j).is_some_and(u8::is_ascii_whitespace) {
            j += 1;
        }
        j
    };
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == b'_') {
            i += 1;
            continue;
        }
        let start = i;
        while word(i) {
            i += 1;
        }
        // `Col op ...`, or `f(Col) op ...`.
        let mut j = skip_space(i);
        if b.get(j) == Some(&b')') {
            j = skip_space(j + 1);
        }
        let rest = &text[j.min(text.len())..];
        let op = rest.starts_with("==")
            || rest.starts_with("=~")
            || OPS.iter().any(|o| {
                rest.len() >= o.len()
                    && rest.as_bytes()[..o.len()].eq_ignore_ascii_case(o.as_bytes())
                    && !word(j + o.len())
                    && b.get(j + o.len()) != Some(&b'~')
            });
        let name = &text[start..i];
        if op && !out.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            out.push(name.to_string());
        }
    }
    out
}

/// How a read is reached, for evidence: " (in a join, through `let x`)".
fn through(read: &Read) -> String {
    if read.via.is_empty() {
        return String::new();
    }
    let mut steps: Vec<String> = Vec::with_capacity(read.via.len());
    for v in &read.via {
        let step = v.describe();
        if steps.last() != Some(&step) {
            steps.push(step);
        }
    }
    format!(" ({})", steps.join(", "))
}

fn describe_values(values: &[String]) -> String {
    match values {
        [one] => format!("\"{one}\""),
        many => format!(
            "({})",
            many.iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn review(explanation: String, evidence: Vec<Evidence>) -> Decision {
    Decision {
        verdict: Verdict::Review,
        explanation,
        evidence: dedup(evidence),
    }
}

fn dedup(evidence: Vec<Evidence>) -> Vec<Evidence> {
    let mut out: Vec<Evidence> = Vec::with_capacity(evidence.len().min(MAX_EVIDENCE));
    for e in evidence {
        if out.len() == MAX_EVIDENCE {
            break;
        }
        if !out
            .iter()
            .any(|o| o.line == e.line && o.column == e.column && o.explanation == e.explanation)
        {
            out.push(e);
        }
    }
    out
}

/// Where a query keeps only Informational alerts: `AlertSeverity` compared
/// with `==`, `=~`, `in`, `in~` or `has`/`has_any` to a list or value holding
/// "Informational" (outside comments and strings), as evidence. A text check
/// on tokens, not a classification: the caller decides what it means.
pub fn informational_filter(query: &str) -> Option<Evidence> {
    let tokens = lexer::tokenize(query);
    let positive = ["==", "=~", "in", "in~", "has", "has_any", "contains"];
    for (i, t) in tokens.iter().enumerate() {
        if t.kind != lexer::Kind::Ident
            || !lexer::ident_name(t.text(query)).eq_ignore_ascii_case("AlertSeverity")
        {
            continue;
        }
        let Some(op) = tokens.get(i + 1) else {
            continue;
        };
        if !matches!(op.kind, lexer::Kind::Ident | lexer::Kind::Punct)
            || !positive
                .iter()
                .any(|p| p.eq_ignore_ascii_case(op.text(query)))
        {
            continue;
        }
        // The value, or the values of a parenthesised list.
        let mut end = op.end;
        let mut found = false;
        for v in tokens.iter().skip(i + 2).take(12) {
            end = v.end;
            match v.kind {
                lexer::Kind::Str => {
                    found |=
                        lexer::string_value(v.text(query)).eq_ignore_ascii_case("Informational");
                }
                lexer::Kind::Punct if matches!(v.text(query), "(" | ",") => continue,
                _ => break,
            }
            if tokens.get(i + 2).is_none_or(|f| f.text(query) != "(") {
                break;
            }
        }
        if found {
            let starts: Vec<usize> = std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', query.as_bytes()).map(|i| i + 1))
                .collect();
            return Some(evidence(
                query,
                &starts,
                (t.start, end),
                "it keeps only Informational alerts".into(),
            ));
        }
    }
    None
}

/// Whether an alert table's name appears as a word in the query (outside
/// comments and strings).
fn query_mentions(query: &str, tables: &[String]) -> bool {
    lexer::tokenize(query).iter().any(|t| {
        t.kind == lexer::Kind::Ident && tables.iter().any(|n| n.eq_ignore_ascii_case(t.text(query)))
    })
}

/// Most evidence items a decision carries (the first ones tell the story).
const MAX_EVIDENCE: usize = 12;

/// Evidence at a byte span of the query; `starts` are the line starts.
fn evidence(query: &str, starts: &[usize], span: (u32, u32), explanation: String) -> Evidence {
    let start = floor_boundary(query, (span.0 as usize).min(query.len()));
    // Long spans are shown by their beginning.
    let end = floor_boundary(
        query,
        (span.1 as usize).clamp(start, query.len()).min(start + 400),
    );
    let line = starts.partition_point(|&s| s <= start);
    let line_start = starts[line - 1];
    let column = query[line_start..start].chars().count() + 1;
    let raw = &query[start..end];
    let mut text = String::with_capacity(raw.len().min(128));
    for (k, word) in raw.split_whitespace().enumerate() {
        if k > 0 {
            text.push(' ');
        }
        text.push_str(word);
    }
    if text.chars().count() > 120 {
        text = text.chars().take(117).collect::<String>() + "...";
    }
    Evidence {
        line,
        column,
        text,
        explanation,
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(q: &str) -> Decision {
        Classifier::new(&Catalog::embedded().unwrap()).classify(q)
    }

    #[test]
    fn a_decision_from_the_memo_is_the_one_made_anew_and_the_memo_is_bounded() {
        let mut c = Classifier::new(&Catalog::embedded().unwrap());
        let queries = [
            "SecurityAlert | where ProductName == \"Azure Security Center\"",
            "SecurityAlert\n| where ProductName has \"Defender\"\n| where AlertSeverity == \"High\"",
            "SigninLogs | where ResultType != 0",
            "SecurityAlert | where ProviderName == \"MDATP\"",
        ];
        for q in queries {
            let anew = c.classify_anew(q);
            assert_eq!(c.classify(q), anew, "{q}");
            // The second time from the memo: the same decision, evidence and all.
            assert_eq!(c.classify(q), anew, "{q}");
        }
        assert_eq!(c.memo.held.lock().unwrap().0.len(), queries.len());
        // Past its budget, queries are classified without being kept.
        c.memo = Memo::new(queries[0].len() + queries[2].len());
        for q in queries {
            assert_eq!(c.classify(q), c.classify_anew(q), "{q}");
        }
        let held = c.memo.held.lock().unwrap();
        assert!(held.1 <= c.memo.budget, "{} bytes held", held.1);
        assert!(held.0.contains_key(queries[0]) && !held.0.contains_key(queries[1]));
    }

    #[test]
    fn the_common_filter_is_dfc_with_evidence() {
        let d = classify(
            "SecurityAlert\n| where ProductName == \"Azure Security Center\"\n| where AlertSeverity == \"High\"",
        );
        assert_eq!(d.verdict, Verdict::Dfc, "{d:?}");
        let e = d.evidence.iter().find(|e| e.line == 2).unwrap();
        assert_eq!(e.column, 9);
        assert_eq!(e.text, "ProductName == \"Azure Security Center\"");
    }

    #[test]
    fn traps() {
        let cases = [
            (
                "SecurityAlert // | where ProductName == \"Azure Security Center\"\n| where ProductName == \"MCAS\"",
                Verdict::None,
            ),
            (
                "SecurityAlert | where ProductName == \"Azure Security Center for IoT\"",
                Verdict::None,
            ),
            (
                "SecurityAlert | where ProductName has \"Azure Security Center\"",
                Verdict::Dfc,
            ),
            (
                "SecurityAlert | where ProductName contains \"Security Center\" and ProductName !contains \"IoT\"",
                Verdict::Dfc,
            ),
            (
                "SecurityAlert | where ProductName !in (\"Azure Sentinel\")",
                Verdict::Review,
            ),
            (
                "SecurityAlert | where ProductName != \"Azure Security Center\"",
                Verdict::None,
            ),
            (
                "SecurityAlert | summarize count() by ProductName",
                Verdict::Review,
            ),
            (
                "SecurityAlert | where VendorName == \"Microsoft\"",
                Verdict::Review,
            ),
            (
                "let p = dynamic([\"Azure Security Center\", \"Microsoft Defender for Cloud\"]);\nSecurityAlert | where ProductName in (p)",
                Verdict::Dfc,
            ),
            (
                "let a = SecurityAlert | where ProductName =~ 'azure security center';\nSigninLogs | join kind=inner (a) on $left.IPAddress == $right.IP",
                Verdict::Dfc,
            ),
            (
                "let a = SecurityAlert | where ProductName == 'Azure Security Center';\nSigninLogs | take 1",
                Verdict::None,
            ),
            (
                "SigninLogs | extend n = \"ProductName == 'Azure Security Center'\"",
                Verdict::None,
            ),
            (
                "SecurityAlert | where ProductName == @\"Azure Security Center\" or ProductName == \"MCAS\"",
                Verdict::Review,
            ),
            (
                "SecurityAlert | where AlertType startswith \"K8S_\"",
                Verdict::Review,
            ),
            (
                "MyAlertParser() | where ProductName == \"Azure Security Center\"",
                Verdict::Review,
            ),
            (
                "SigninLogs | join kind=leftanti (SecurityAlert | where ProductName == \"Azure Security Center\") on IP",
                Verdict::None,
            ),
            (
                "union SecurityAlert, SecurityIncident | where ProductName == \"Azure Security Center\"",
                Verdict::Dfc,
            ),
        ];
        for (q, want) in cases {
            let d = classify(q);
            assert_eq!(d.verdict, want, "{q}\n{d:#?}");
        }
    }

    /// Each operator of the row-flow table, both ways: the twin that
    /// changes who owns the output rows changes the verdict.
    #[test]
    fn rows_flow_through_each_operator() {
        const DFC: &str = "(SecurityAlert | where ProductName == \"Azure Security Center\")";
        let cases = [
            // union: every branch's rows reach the output.
            (format!("union {DFC}, {DFC}"), Verdict::Dfc),
            (
                format!("union {DFC}, (SigninLogs | where ResultType == \"50126\")"),
                Verdict::Review,
            ),
            (
                format!(
                    "union isfuzzy=true {DFC}, (AzureActivity | where OperationNameValue has \"write\")"
                ),
                Verdict::Review,
            ),
            (
                format!(
                    "let a = {DFC};\nlet b = SigninLogs | where ResultType == \"50126\";\nunion a, b"
                ),
                Verdict::Review,
            ),
            (
                format!("SigninLogs | where ResultType == \"50126\" | union {DFC}"),
                Verdict::Review,
            ),
            (format!("{DFC} | union {DFC}"), Verdict::Dfc),
            (
                format!("{DFC} | union (SecurityAlert | where ProviderName == \"MCAS\")"),
                Verdict::Review,
            ),
            // Outer joins keep one side's rows.
            (
                format!("SigninLogs | join kind=leftouter {DFC} on IPAddress"),
                Verdict::None,
            ),
            (
                format!("SigninLogs | join kind=inner {DFC} on IPAddress"),
                Verdict::Dfc,
            ),
            (
                format!("{DFC} | join kind=rightouter (SigninLogs) on IPAddress"),
                Verdict::None,
            ),
            (
                format!("{DFC} | join kind=leftouter (SigninLogs) on IPAddress"),
                Verdict::Dfc,
            ),
            (
                format!("SigninLogs | join kind=fullouter {DFC} on IPAddress"),
                Verdict::Review,
            ),
            (
                format!("{DFC} | join kind=fullouter {DFC} on ResourceId"),
                Verdict::Dfc,
            ),
            (
                format!("SigninLogs | lookup {DFC} on IPAddress"),
                Verdict::None,
            ),
            (
                format!("SigninLogs | lookup kind=inner {DFC} on IPAddress"),
                Verdict::Dfc,
            ),
            // Semi joins and `in` need a match; anti joins and `!in` do not.
            (
                format!("SigninLogs | join kind=leftsemi {DFC} on IPAddress"),
                Verdict::Dfc,
            ),
            (
                format!("SigninLogs | join kind=leftanti {DFC} on IPAddress"),
                Verdict::None,
            ),
            (
                format!("SigninLogs | join kind=rightsemi {DFC} on IPAddress"),
                Verdict::Dfc,
            ),
            (
                format!("{DFC} | join kind=rightanti (SigninLogs) on IPAddress"),
                Verdict::None,
            ),
            (
                format!("{DFC} | join kind=leftanti (SigninLogs) on IPAddress"),
                Verdict::Dfc,
            ),
            (
                format!("SigninLogs | where IPAddress in ({DFC} | project IPAddress)"),
                Verdict::Dfc,
            ),
            (
                format!("SigninLogs | where IPAddress in (({DFC} | project IPAddress))"),
                Verdict::Dfc,
            ),
            (
                format!("SigninLogs | where IPAddress !in ({DFC} | project IPAddress)"),
                Verdict::None,
            ),
            (
                format!(
                    "SigninLogs | where IPAddress in ({DFC} | project IPAddress) or ResultType == \"0\""
                ),
                Verdict::Review,
            ),
            (
                format!(
                    "SigninLogs | where IPAddress in ({DFC} | project IPAddress) and ResultType == \"0\""
                ),
                Verdict::Dfc,
            ),
            // An `or` inside the sub-query does not make the match optional.
            (
                "SigninLogs | where IPAddress in ((SecurityAlert | where ProductName == \"Azure Security Center\" | where AlertSeverity == \"High\" or AlertSeverity == \"Medium\" | project IPAddress))".to_string(),
                Verdict::Dfc,
            ),
            // An operator without a row rule matters on an alert path only.
            (format!("{DFC} | fork (take 1) (take 2)"), Verdict::Review),
            (
                "SecurityAlert | where ProviderName == \"MDATP\" | fork (take 1)".to_string(),
                Verdict::None,
            ),
            (
                format!(
                    "{DFC} | sample-distinct 3 of AlertName | top-nested 2 of AlertName by count()"
                ),
                Verdict::Dfc,
            ),
        ];
        for (q, want) in cases {
            let d = classify(&q);
            assert_eq!(d.verdict, want, "{q}\n{d:#?}");
        }
    }

    #[test]
    fn a_union_review_names_the_other_sources() {
        let d = classify(
            "union (SecurityAlert | where ProductName == \"Azure Security Center\"),\n (SigninLogs | where ResultType == \"50126\"), (DnsEvents | where Name has \"x\")",
        );
        assert_eq!(d.verdict, Verdict::Review, "{d:#?}");
        assert!(d.explanation.contains("SigninLogs, DnsEvents"), "{d:#?}");
        assert!(
            d.evidence
                .iter()
                .any(|e| e.line == 2 && e.text == "SigninLogs"),
            "{d:#?}"
        );
    }

    #[test]
    fn an_unknown_operator_is_named() {
        let d = classify(
            "SecurityAlert | where ProductName == \"Azure Security Center\" | scan with (step s: true;)",
        );
        assert_eq!(d.verdict, Verdict::Review, "{d:#?}");
        assert!(d.explanation.contains("`scan`"), "{d:#?}");
    }

    #[test]
    fn alert_names_of_other_products_decide() {
        for q in [
            "SecurityAlert | where AlertName == \"Impossible travel activity\"",
            "SecurityAlert | where AlertName in (\"Unfamiliar sign-in properties\", \"Atypical travel\")",
            "SecurityAlert | where DisplayName =~ \"mass download by a single user\"",
            "SecurityAlert | where AlertName has_any (\"Honeytoken activity\", \"Atypical travel\")",
        ] {
            let d = classify(q);
            assert_eq!(d.verdict, Verdict::None, "{q}\n{d:#?}");
            assert!(
                d.evidence
                    .iter()
                    .any(|e| e.explanation.contains("rules/alert-names.yaml")),
                "{d:#?}"
            );
        }
        for q in [
            // Negated, partly unknown, or mixed with a Defender for Cloud filter.
            "SecurityAlert | where AlertName != \"Impossible travel activity\"",
            "SecurityAlert | where AlertName in (\"Atypical travel\", \"Suspicious process executed\")",
            "SecurityAlert | where AlertName == \"Atypical travel\" or ProductName == \"Azure Security Center\"",
        ] {
            let d = classify(q);
            assert_eq!(d.verdict, Verdict::Review, "{q}\n{d:#?}");
        }
    }

    #[test]
    fn a_review_says_what_narrows_unfiltered_alerts() {
        let d = classify(
            "SecurityAlert | where AlertSeverity == \"High\" and tostring(Entities) has \"10.0.0.1\"",
        );
        assert_eq!(d.verdict, Verdict::Review);
        assert!(
            d.explanation
                .contains("only AlertSeverity, Entities narrow it"),
            "{d:#?}"
        );
        let d = classify("SecurityAlert | where TimeGenerated > ago(1h)");
        assert!(!d.explanation.contains("narrow"), "{d:#?}");
    }

    #[test]
    fn informational_filters_are_found_by_tokens() {
        let hit = |q: &str| informational_filter(q).map(|e| (e.line, e.column, e.text));
        assert_eq!(
            hit("SecurityAlert\n| where AlertSeverity == \"Informational\""),
            Some((2, 9, "AlertSeverity == \"Informational\"".into()))
        );
        assert!(
            hit("SecurityAlert | where AlertSeverity in~ (\"Low\", 'informational')").is_some()
        );
        assert!(hit("SecurityAlert | where AlertSeverity =~ @\"Informational\"").is_some());
        // Excluded, another value, another column, a comment or a string.
        assert_eq!(
            hit("SecurityAlert | where AlertSeverity != \"Informational\""),
            None
        );
        assert_eq!(
            hit("SecurityAlert | where AlertSeverity !in (\"Informational\")"),
            None
        );
        assert_eq!(hit("SecurityAlert | where AlertSeverity == \"High\""), None);
        assert_eq!(
            hit("SecurityAlert | where Severity == \"Informational\""),
            None
        );
        assert_eq!(
            hit("SecurityAlert // AlertSeverity == \"Informational\""),
            None
        );
        assert_eq!(
            hit("SecurityAlert | where x == \"AlertSeverity == 'Informational'\""),
            None
        );
        assert_eq!(
            hit(
                "SecurityAlert | where AlertSeverity == \"High\" | where Text == \"Informational\""
            ),
            None
        );
    }

    #[test]
    fn hostile_input_gives_a_decision() {
        for q in [
            "",
            "(((((",
            "| | |",
            "let",
            "let x = ;",
            "SecurityAlert | where (",
            "\"",
            "SecurityAlert | where ProductName in (",
            "SecurityAlert | join (",
            "where ProductName == \"Azure Security Center\"",
        ] {
            let _ = classify(q);
        }
        let deep = format!(
            "SecurityAlert | where {}ProductName == \"Azure Security Center\"{}",
            "(".repeat(10_000),
            ")".repeat(10_000)
        );
        let _ = classify(&deep);
        let deep = format!("{}SecurityAlert{}", "(".repeat(10_000), ")".repeat(10_000));
        let _ = classify(&deep);
    }
}
