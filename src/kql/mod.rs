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

/// A filter applying to a read, and the product columns it cannot see
/// (dropped by a projection between the read and the filter).
#[derive(Clone)]
struct Filter<'p> {
    pred: &'p Pred,
    hidden: Vec<String>,
}

/// One read of an alert table, with the filters that narrow it.
struct Read<'p> {
    table: String,
    span: (u32, u32),
    preds: Vec<Filter<'p>>,
    via: Vec<Via>,
    /// `union withsource=Col`: (column, the table this read's rows name).
    tags: Vec<(String, String)>,
}

#[derive(Default)]
struct Walk<'p> {
    reads: Vec<Read<'p>>,
    functions: Vec<(String, (u32, u32), Vec<Filter<'p>>)>,
    opaque: Vec<(String, (u32, u32))>,
    overflow: bool,
}

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
        let mut walk = Walk::default();
        for &o in &parsed.outputs {
            self.walk(&parsed, o, &[], &[], &mut Vec::new(), 0, &mut walk);
        }
        self.decide(query, &parsed, &walk)
    }

    #[allow(clippy::too_many_arguments)]
    fn walk<'p>(
        &self,
        parsed: &'p Parsed,
        index: usize,
        outer: &[Filter<'p>],
        tags: &[(String, String)],
        via: &mut Vec<Via>,
        depth: usize,
        walk: &mut Walk<'p>,
    ) {
        if depth > parse::MAX_DEPTH || walk.reads.len() >= MAX_READS {
            walk.overflow = true;
            return;
        }
        let Some(pipe) = parsed.pipelines.get(index) else {
            return;
        };
        // Filters written after this pipeline cannot see the product
        // columns its projections drop.
        let hidden = self.hidden_columns(&pipe.stages);
        let outer: Vec<Filter<'p>> = outer
            .iter()
            .map(|f| {
                let mut f = f.clone();
                f.hidden.extend(hidden.iter().cloned());
                f
            })
            .collect();
        let own = |stages: &'p [Stage]| -> Vec<Filter<'p>> {
            stages
                .iter()
                .filter_map(|s| match s {
                    Stage::Filter(p) => Some(Filter {
                        pred: p,
                        hidden: Vec::new(),
                    }),
                    _ => None,
                })
                .collect()
        };
        let mut filters = own(&pipe.stages);
        filters.extend(outer.iter().cloned());
        for source in &pipe.sources {
            match source {
                Source::Table { name, span } => {
                    if !self.is_alert_table(name) {
                        if !self
                            .known_tables
                            .iter()
                            .any(|t| t.eq_ignore_ascii_case(name))
                        {
                            walk.functions.push((name.clone(), *span, filters.clone()));
                        }
                    } else {
                        walk.reads.push(Read {
                            table: name.clone(),
                            span: *span,
                            preds: filters.clone(),
                            via: via.clone(),
                            tags: tags.to_vec(),
                        });
                    }
                }
                Source::Pipe { index, via: v } => {
                    let mut tags = tags.to_vec();
                    if let (Via::Union, Some(col)) = (v, &pipe.source_column)
                        && let Some(Source::Table { name, .. }) =
                            parsed.pipelines.get(*index).and_then(|p| p.sources.first())
                    {
                        tags.push((col.clone(), name.clone()));
                    }
                    via.push(v.clone());
                    self.walk(parsed, *index, &filters, &tags, via, depth + 1, walk);
                    via.pop();
                }
                Source::Function { name, span } => {
                    walk.functions.push((name.clone(), *span, filters.clone()))
                }
                Source::Opaque { what, span } => walk.opaque.push((what.clone(), *span)),
            }
        }
        for (k, stage) in pipe.stages.iter().enumerate() {
            if let Stage::Branch {
                index,
                via: v,
                reaches,
            } = stage
            {
                if !reaches {
                    continue;
                }
                // Filters after the branch joins narrow its rows too.
                let mut after = own(&pipe.stages[k + 1..]);
                after.extend(outer.iter().cloned());
                via.push(v.clone());
                self.walk(parsed, *index, &after, tags, via, depth + 1, walk);
                via.pop();
            }
        }
    }

    /// Product columns a pipeline's projections drop.
    fn hidden_columns(&self, stages: &[Stage]) -> Vec<String> {
        let mut hidden = Vec::new();
        for stage in stages {
            if let Stage::Columns { keep, drop } = stage {
                for col in &self.names.product_columns {
                    let kept = keep
                        .as_ref()
                        .is_none_or(|k| k.iter().any(|c| c.eq_ignore_ascii_case(col)));
                    let dropped = drop.iter().any(|c| c.eq_ignore_ascii_case(col));
                    if (!kept || dropped) && !hidden.contains(col) {
                        hidden.push(col.clone());
                    }
                }
            }
        }
        hidden
    }

    fn is_alert_table(&self, name: &str) -> bool {
        let n = name.trim_end_matches('*');
        self.names.alert_tables.iter().any(|t| {
            t.eq_ignore_ascii_case(name)
                || (name.ends_with('*')
                    && t.to_ascii_lowercase().starts_with(&n.to_ascii_lowercase()))
        })
    }

    fn eval(&self, read: &Read, name: &str) -> Tri {
        let mut acc = Tri::True;
        for f in &read.preds {
            let ctx = |atom: &Atom| -> Option<Tri> {
                match atom {
                    Atom::Product(Test { column, .. }) | Atom::ProductUnknown { column, .. }
                        if f.hidden.iter().any(|h| h.eq_ignore_ascii_case(column)) =>
                    {
                        Some(Tri::Unknown)
                    }
                    Atom::Other {
                        column: Some(c),
                        op: Some(Op::Equals | Op::In),
                        negated,
                        values,
                    } => {
                        let (_, table) = read
                            .tags
                            .iter()
                            .find(|(col, _)| col.eq_ignore_ascii_case(c))?;
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
            match f.pred.eval_with(name, &ctx) {
                Tri::False => return Tri::False,
                Tri::Unknown => acc = Tri::Unknown,
                Tri::True => {}
            }
        }
        acc
    }

    /// Which products a read admits: (Defender for Cloud names, other names).
    fn admitted(&self, read: &Read) -> (Vec<&str>, Vec<&str>) {
        let mut dfc = Vec::new();
        let mut others = Vec::new();
        let preds: Vec<&Pred> = read
            .preds
            .iter()
            .filter(|f| f.hidden.is_empty())
            .map(|f| f.pred)
            .collect();
        let selects = |name: &str| {
            preds.iter().any(|p| {
                p.atoms().iter().any(|(a, _, neg)| {
                    !neg && matches!(a, Atom::Product(t) if !t.negated && t.admits(name) && !t.admits(OTHER_PRODUCT))
                })
            })
        };
        for (name, family, in_alerts) in &self.universe {
            if self.eval(read, name) == Tri::False {
                continue;
            }
            // A name alerts do not carry counts only where a filter selects it.
            if !in_alerts && !selects(name) {
                continue;
            }
            match family {
                Family::DefenderForCloud => dfc.push(name.as_str()),
                Family::Other => others.push(name.as_str()),
                // Defender for IoT shares the prefix: admitting it by a
                // substring or `has` is part of a Defender for Cloud filter;
                // naming it exactly is a choice to include another product.
                Family::DefenderForIot => {
                    let named = preds.iter().any(|p| {
                        p.atoms().iter().any(|(a, _, neg)| {
                            !neg && matches!(a, Atom::Product(t) if t.names_exactly(name))
                        })
                    });
                    if named {
                        others.push(name.as_str());
                    }
                }
            }
        }
        (dfc, others)
    }

    fn decide(&self, query: &str, parsed: &Parsed, walk: &Walk) -> Decision {
        let at = |span: (u32, u32), explanation: String| evidence(query, span, explanation);
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
        let primary: Vec<&Read> = walk.reads.iter().filter(|r| !joined(r)).collect();
        let primary_other_only =
            !primary.is_empty() && primary.iter().all(|r| self.admitted(r).0.is_empty());
        for read in &walk.reads {
            let (dfc, others) = self.admitted(read);
            if primary_other_only && joined(read) && !dfc.is_empty() {
                let has_product_filter =
                    read.preds.iter().filter(|f| f.hidden.is_empty()).any(|f| {
                        f.pred.atoms().iter().any(|(a, _, _)| {
                            matches!(a, Atom::Product(_) | Atom::ProductUnknown { .. })
                        })
                    });
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
            let atoms: Vec<(&Atom, (u32, u32), bool)> = read
                .preds
                .iter()
                .filter(|f| f.hidden.is_empty())
                .flat_map(|f| f.pred.atoms())
                .collect();
            let product_atoms: Vec<&(&Atom, (u32, u32), bool)> = atoms
                .iter()
                .filter(|(a, _, _)| matches!(a, Atom::Product(_) | Atom::ProductUnknown { .. }))
                .collect();
            if dfc.is_empty() {
                let mut ev = product_atoms
                    .iter()
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
                for (a, span, _) in &product_atoms {
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
                for (_, span, _) in &product_atoms {
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
        for (name, span, preds) in &walk.functions {
            let filters_products = preds.iter().flat_map(|f| f.pred.atoms()).any(|(a, _, _)| {
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

fn dedup(mut evidence: Vec<Evidence>) -> Vec<Evidence> {
    let mut seen = std::collections::HashSet::new();
    evidence.retain(|e| seen.insert((e.line, e.column, e.explanation.clone())));
    evidence
}

/// Whether an alert table's name appears as a word in the query (outside
/// comments and strings).
fn query_mentions(query: &str, tables: &[String]) -> bool {
    lexer::tokenize(query).iter().any(|t| {
        t.kind == lexer::Kind::Ident && tables.iter().any(|n| n.eq_ignore_ascii_case(t.text(query)))
    })
}

/// Evidence at a byte span of the query.
fn evidence(query: &str, span: (u32, u32), explanation: String) -> Evidence {
    let start = (span.0 as usize).min(query.len());
    let end = (span.1 as usize).clamp(start, query.len());
    let start = floor_boundary(query, start);
    let end = floor_boundary(query, end);
    let before = &query[..start];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let raw = &query[start..end];
    let mut text: String = raw.split_whitespace().collect::<Vec<_>>().join(" ");
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
