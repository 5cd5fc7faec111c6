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
use parse::{Names, Parsed, Source, Stage, Via};
use pred::{Atom, Op, Pred, Test, Tri};
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

#[derive(Default)]
struct Walk<'p> {
    reads: Vec<Read<'p>>,
    functions: Vec<(String, (u32, u32), Vec<Chunk<'p>>)>,
    opaque: Vec<(String, (u32, u32))>,
    overflow: bool,
    visits: usize,
}

/// What the walk reads from: the parse, and each pipeline's own filters
/// (with the index of the stage each sits at).
struct Ctx<'p> {
    parsed: &'p Parsed,
    own: Vec<Vec<&'p Pred>>,
    own_stage: Vec<Vec<usize>>,
}

/// Pipelines the walk follows before it gives up (the query is sent to review).
const MAX_VISITS: usize = 4096;

impl Classifier {
    pub fn new(catalog: &Catalog) -> Classifier {
        let mut universe: Vec<(String, Family, bool)> = catalog
            .products
            .iter()
            .map(|p| (p.name.clone(), p.family, p.in_alerts))
            .collect();
        universe.push((OTHER_PRODUCT.to_string(), Family::Other, true));
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
        }
    }

    /// Classifies a query. Never fails, never panics.
    pub fn classify(&self, query: &str) -> Decision {
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
        for &o in &parsed.outputs {
            self.walk(&ctx, o, &[], &[], &mut Vec::new(), 0, &mut walk);
        }
        self.decide(query, &parsed, &walk)
    }

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
    ) {
        walk.visits += 1;
        if depth > parse::MAX_DEPTH || walk.reads.len() >= MAX_READS || walk.visits > MAX_VISITS {
            walk.overflow = true;
            return;
        }
        let Some(pipe) = ctx.parsed.pipelines.get(index) else {
            return;
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
        for source in &pipe.sources {
            match source {
                Source::Table { name, span } => {
                    if !self.is_alert_table(name) {
                        if !self
                            .known_tables
                            .iter()
                            .any(|t| t.eq_ignore_ascii_case(name))
                        {
                            walk.functions.push((name.clone(), *span, chunks.clone()));
                        }
                    } else {
                        walk.reads.push(Read {
                            table: name.clone(),
                            span: *span,
                            chunks: chunks.clone(),
                            via: via.clone(),
                            tags: tags.to_vec(),
                        });
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
                    self.walk(ctx, *index, &chunks, &tags, via, depth + 1, walk);
                    via.pop();
                }
                Source::Function { name, span } => {
                    walk.functions.push((name.clone(), *span, chunks.clone()))
                }
                Source::Opaque { what, span } => walk.opaque.push((what.clone(), *span)),
            }
        }
        for (k, stage) in pipe.stages.iter().enumerate() {
            if let Stage::Branch {
                index: b,
                via: v,
                reaches,
            } = stage
            {
                if !reaches {
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
                self.walk(ctx, *b, &after, tags, via, depth + 1, walk);
                via.pop();
            }
        }
    }

    fn is_alert_table(&self, name: &str) -> bool {
        self.names.is_alert_table(name)
    }

    /// The universe names the read's filters certainly exclude, as bits.
    fn excluded(&self, read: &Read) -> u64 {
        let all = self.all_names();
        let mut falses = 0u64;
        for c in &read.chunks {
            for pred in c.preds {
                // A filter on other columns only is unknown for every product.
                if read.tags.is_empty() && matches!(pred, Pred::Atom(Atom::Other { .. }, _)) {
                    continue;
                }
                let ctx = |atom: &Atom| -> Option<Tri> {
                    match atom {
                        Atom::Product(Test { column, .. })
                        | Atom::ProductUnknown { column, .. }
                            if c.hidden != 0 && self.names.hides(c.hidden, column) =>
                        {
                            Some(Tri::Unknown)
                        }
                        Atom::Other {
                            column: Some(col),
                            op: Some(Op::Equals | Op::In),
                            negated,
                            values,
                        } => {
                            let (_, table) = read
                                .tags
                                .iter()
                                .find(|(t, _)| t.eq_ignore_ascii_case(col))?;
                            let hit = values.iter().any(|v| v.eq_ignore_ascii_case(table));
                            Some(if hit != *negated {
                                Tri::True
                            } else {
                                Tri::False
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
        let excluded = if product_filter || !read.tags.is_empty() {
            self.excluded(read)
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

    fn decide(&self, query: &str, parsed: &Parsed, walk: &Walk) -> Decision {
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
        let mut dfc_evidence: Vec<Evidence> = Vec::new();
        let mut other_evidence: Vec<Evidence> = Vec::new();
        // When the rule's own rows are alerts of other products, a joined
        // read of alerts with no product filter only enriches them.
        let joined = |r: &Read| r.via.iter().any(|v| matches!(v, Via::Join | Via::Lookup));
        // Each read's visible atoms and admitted products, worked out once.
        let facts: Vec<_> = walk
            .reads
            .iter()
            .map(|r| {
                let atoms = r.visible_atoms(&self.names);
                let admitted = self.admitted(r, &atoms);
                (atoms, admitted)
            })
            .collect();
        let primary_other_only = walk.reads.iter().any(|r| !joined(r))
            && walk
                .reads
                .iter()
                .zip(&facts)
                .filter(|(r, _)| !joined(r))
                .all(|(_, (_, (dfc, _)))| dfc.is_empty());
        for (read, (atoms, (dfc, others))) in walk.reads.iter().zip(&facts) {
            if primary_other_only && joined(read) && !dfc.is_empty() {
                let has_product_filter = atoms
                    .iter()
                    .any(|(a, _, _)| matches!(a, Atom::Product(_) | Atom::ProductUnknown { .. }));
                if !has_product_filter {
                    other_evidence.push(at(
                        read.span,
                        format!(
                            "{} is joined in only to enrich alerts of other products",
                            read.table
                        ),
                    ));
                    continue;
                }
                return review(
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
                );
            }
            let through = if read.via.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    read.via
                        .iter()
                        .map(Via::describe)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let product_atoms: Vec<&(&Atom, (u32, u32), bool)> = atoms
                .iter()
                .filter(|(a, _, _)| matches!(a, Atom::Product(_) | Atom::ProductUnknown { .. }))
                .collect();
            if dfc.is_empty() {
                let mut ev = product_atoms
                    .iter()
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
                    .collect::<Vec<_>>();
                if ev.is_empty() {
                    ev.push(at(read.span, format!("{} is read{through}, but its filters admit no Defender for Cloud alert", read.table)));
                }
                other_evidence.extend(ev);
                continue;
            }
            if others.is_empty() {
                let mut ev = vec![at(
                    read.span,
                    format!(
                        "{} is read{through}; its filters admit Defender for Cloud alerts only",
                        read.table
                    ),
                )];
                for (a, span, _) in product_atoms.iter().take(MAX_EVIDENCE) {
                    if let Atom::Product(t) = a {
                        ev.push(at(*span, self.describe_admitted(t)));
                    }
                }
                dfc_evidence.extend(ev);
                continue;
            }
            // Defender for Cloud and other products: a human decides.
            let table_ev = at(read.span, format!("{} is read here{through}", read.table));
            if let Some((Atom::ProductUnknown { column, why }, span, _)) = product_atoms
                .iter()
                .find(|(a, _, _)| matches!(a, Atom::ProductUnknown { .. }))
                .map(|x| **x)
            {
                let ev = at(
                    span,
                    format!(
                        "{column} is compared with {why}: the products it admits are not known"
                    ),
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
                        format!(
                            "this filter admits Defender for Cloud alerts together with {list}"
                        ),
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
            return review(
                format!(
                    "{} is read with no product filter{through}: alerts of every product reach the rule, Defender for Cloud's among them",
                    read.table
                ),
                vec![table_ev],
            );
        }
        if !dfc_evidence.is_empty() {
            return Decision {
                verdict: Verdict::Dfc,
                explanation: "the rule's alerts come from Defender for Cloud alerts".into(),
                evidence: dedup(dfc_evidence),
            };
        }
        // No read of an alert table admits Defender for Cloud alerts. A
        // function whose body is unknown may read them.
        for (name, span, chunks) in &walk.functions {
            let filters_products = chunks.iter().flat_map(|c| c.preds.iter()).flat_map(|p| p.atoms()).any(|(a, _, _)| {
                matches!(a, Atom::Product(_) | Atom::ProductUnknown { .. })
                    || matches!(a, Atom::Other { column: Some(c), .. } if self.vendor_columns.iter().chain(&self.alert_name_columns).any(|v| v.eq_ignore_ascii_case(c)))
            });
            if filters_products {
                return review(
                    format!(
                        "the rule reads `{name}`, which is neither a known table nor defined in the query (a workspace function or parser?): it may read alerts, and it filters on their columns"
                    ),
                    vec![at(
                        *span,
                        "a table or function the classifier does not know".into(),
                    )],
                );
            }
        }
        if let Some((what, span)) = walk.opaque.first()
            && query_mentions(query, &self.names.alert_tables)
        {
            return review(
                format!("the rule uses {what}, whose rows the classifier cannot follow"),
                vec![at(*span, format!("{what} may read alert tables"))],
            );
        }
        if walk.reads.is_empty() {
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
