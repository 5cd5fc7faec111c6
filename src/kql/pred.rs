//! Filters on the product column, and their evaluation against product names.
//!
//! A `where` clause becomes a [`Pred`]: comparisons of a product column with
//! literals are [`Atom::Product`]; anything else (other columns, functions) is
//! [`Atom::Other`], which may be true or false for any product. Evaluating
//! the predicate for each known product name, in three-valued logic, says
//! which products a filter admits.

/// Three-valued truth: a condition on another column may hold or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    True,
    False,
    Unknown,
}

impl Tri {
    fn and(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }
    }
    fn or(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::True, _) | (_, Tri::True) => Tri::True,
            (Tri::False, Tri::False) => Tri::False,
            _ => Tri::Unknown,
        }
    }
    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

/// A string operator of KQL, without its negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Equals,
    In,
    Has,
    HasPrefix,
    HasSuffix,
    Contains,
    StartsWith,
    EndsWith,
    HasAny,
    HasAll,
    Regex,
}

/// One comparison of a product column with known values.
#[derive(Debug, Clone)]
pub struct Test {
    pub op: Op,
    pub case_sensitive: bool,
    pub negated: bool,
    pub values: Vec<String>,
    /// The column, as written.
    pub column: String,
    /// A transform applied to the column first (`tolower(ProductName)`).
    pub lower: Option<bool>,
    pub regex: Option<regex::Regex>,
    /// Bit k: the test admits the k-th name of the universe it was built for.
    pub mask: u64,
}

/// A three-valued result for every name of a universe at once: `t` has
/// the bits of names for which it is true, `f` of those for which it is
/// false; the rest are unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriSet {
    pub t: u64,
    pub f: u64,
}

impl TriSet {
    pub fn uniform(tri: Tri, all: u64) -> TriSet {
        match tri {
            Tri::True => TriSet { t: all, f: 0 },
            Tri::False => TriSet { t: 0, f: all },
            Tri::Unknown => TriSet { t: 0, f: 0 },
        }
    }
}

impl Test {
    /// The test with its admission bit set over `universe` worked out.
    pub fn with_mask(mut self, universe: &[String]) -> Test {
        self.mask = universe
            .iter()
            .take(64)
            .enumerate()
            .filter(|(_, n)| self.admits(n))
            .fold(0, |m, (k, _)| m | (1 << k));
        self
    }

    /// Whether a product name passes the test. Allocation-free on the
    /// common path: case-insensitive comparisons fold ASCII in place.
    pub fn admits(&self, name: &str) -> bool {
        let transformed;
        let name = match self.lower {
            Some(true) => {
                transformed = name.to_lowercase();
                transformed.as_str()
            }
            Some(false) => {
                transformed = name.to_uppercase();
                transformed.as_str()
            }
            None => name,
        };
        let cs = self.case_sensitive;
        let one = |v: &str| -> bool {
            match self.op {
                Op::Equals | Op::In => eq(name, v, cs),
                Op::Has | Op::HasAny | Op::HasAll => term_match(name, v, cs, true, true),
                Op::HasPrefix => term_match(name, v, cs, true, false),
                Op::HasSuffix => term_match(name, v, cs, false, true),
                Op::Contains => find_from(name, v, cs, 0).is_some(),
                Op::StartsWith => {
                    name.len() >= v.len() && eq_bytes(&name.as_bytes()[..v.len()], v.as_bytes(), cs)
                }
                Op::EndsWith => {
                    name.len() >= v.len()
                        && eq_bytes(&name.as_bytes()[name.len() - v.len()..], v.as_bytes(), cs)
                }
                Op::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(name)),
            }
        };
        let hit = match self.op {
            Op::HasAll => !self.values.is_empty() && self.values.iter().all(|v| one(v)),
            Op::Regex => one(""),
            _ => self.values.iter().any(|v| one(v)),
        };
        hit != self.negated
    }

    /// An exact, positive naming of `name` (`==`, `in`): the author meant it.
    pub fn names_exactly(&self, name: &str) -> bool {
        !self.negated
            && matches!(self.op, Op::Equals | Op::In)
            && self.values.iter().any(|v| v.eq_ignore_ascii_case(name))
    }
}

fn eq_bytes(a: &[u8], b: &[u8], cs: bool) -> bool {
    if cs {
        a == b
    } else {
        a.eq_ignore_ascii_case(b)
    }
}

fn eq(a: &str, b: &str, cs: bool) -> bool {
    if cs {
        a == b
    } else if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// The first position at or after `from` where `needle` occurs in `hay`.
fn find_from(hay: &str, needle: &str, cs: bool, from: usize) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return Some(from.min(h.len()));
    }
    if n.len() > h.len() {
        return None;
    }
    let last = h.len() - n.len();
    let (a, b) = if cs {
        (n[0], n[0])
    } else {
        (n[0].to_ascii_lowercase(), n[0].to_ascii_uppercase())
    };
    let mut i = from;
    while i <= last {
        let at = i + memchr::memchr2(a, b, &h[i..=last])?;
        if eq_bytes(&h[at..at + n.len()], n, cs) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// `has` semantics: the needle appears aligned to term boundaries
/// (a term is a run of letters and digits).
fn term_match(hay: &str, needle: &str, cs: bool, at_start: bool, at_end: bool) -> bool {
    let (hb, nb) = (hay.as_bytes(), needle.as_bytes());
    if nb.is_empty() {
        return true;
    }
    let mut from = 0;
    while let Some(s) = find_from(hay, needle, cs, from) {
        let e = s + nb.len();
        let start_ok = !at_start
            || s == 0
            || !hb[s - 1].is_ascii_alphanumeric()
            || !nb[0].is_ascii_alphanumeric();
        let end_ok = !at_end
            || e == hb.len()
            || !hb[e].is_ascii_alphanumeric()
            || !nb[nb.len() - 1].is_ascii_alphanumeric();
        if start_ok && end_ok {
            return true;
        }
        from = s + 1;
    }
    false
}

/// A leaf of a predicate.
#[derive(Debug, Clone)]
pub enum Atom {
    /// A comparison of a product column with known values.
    Product(Test),
    /// A product column compared with something not known (a `let` computed
    /// at run time, a sub-query): it may admit any product.
    ProductUnknown { column: String, why: String },
    /// A condition on another column; `column`, `op` and `values` are kept
    /// for weak signals (alert names and types, vendor).
    Other {
        column: Option<String>,
        op: Option<Op>,
        negated: bool,
        values: Vec<String>,
    },
}

/// A predicate tree over atoms, each atom with its byte span in the query.
#[derive(Debug, Clone)]
pub enum Pred {
    Atom(Atom, (u32, u32)),
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
}

impl Pred {
    /// The predicate's truth for rows of product `name`.
    pub fn eval(&self, name: &str) -> Tri {
        self.eval_with(name, &|_| None)
    }

    /// Like [`Pred::eval`], with `ctx` deciding atoms it knows better (a
    /// product column hidden by a projection, the `withsource` column of a
    /// union).
    pub fn eval_with(&self, name: &str, ctx: &dyn Fn(&Atom) -> Option<Tri>) -> Tri {
        match self {
            Pred::Atom(atom, _) => ctx(atom).unwrap_or(match atom {
                Atom::Product(t) => {
                    if t.admits(name) {
                        Tri::True
                    } else {
                        Tri::False
                    }
                }
                _ => Tri::Unknown,
            }),
            Pred::And(ps) => ps
                .iter()
                .fold(Tri::True, |acc, p| acc.and(p.eval_with(name, ctx))),
            Pred::Or(ps) => ps
                .iter()
                .fold(Tri::False, |acc, p| acc.or(p.eval_with(name, ctx))),
            Pred::Not(p) => p.eval_with(name, ctx).not(),
        }
    }

    /// The predicate for every name of the universe at once (`all` has a
    /// bit per name); `ctx` may decide an atom for every name.
    pub fn eval_all(&self, all: u64, ctx: &dyn Fn(&Atom) -> Option<TriSet>) -> TriSet {
        match self {
            Pred::Atom(atom, _) => match ctx(atom) {
                Some(set) => set,
                None => match atom {
                    Atom::Product(t) => TriSet {
                        t: t.mask & all,
                        f: all & !t.mask,
                    },
                    _ => TriSet { t: 0, f: 0 },
                },
            },
            Pred::And(ps) => ps.iter().fold(TriSet { t: all, f: 0 }, |acc, p| {
                let r = p.eval_all(all, ctx);
                TriSet {
                    t: acc.t & r.t,
                    f: acc.f | r.f,
                }
            }),
            Pred::Or(ps) => ps.iter().fold(TriSet { t: 0, f: all }, |acc, p| {
                let r = p.eval_all(all, ctx);
                TriSet {
                    t: acc.t | r.t,
                    f: acc.f & r.f,
                }
            }),
            Pred::Not(p) => {
                let r = p.eval_all(all, ctx);
                TriSet { t: r.f, f: r.t }
            }
        }
    }

    /// Every atom, with its span and whether it sits under a negation.
    pub fn atoms(&self) -> Vec<(&Atom, (u32, u32), bool)> {
        let mut out = Vec::new();
        self.visit(false, &mut |a, span, neg| out.push((a, span, neg)));
        out
    }

    /// Calls `f` on every atom (no allocation).
    pub fn visit<'a>(&'a self, negated: bool, f: &mut dyn FnMut(&'a Atom, (u32, u32), bool)) {
        match self {
            Pred::Atom(a, span) => f(a, *span, negated),
            Pred::And(ps) | Pred::Or(ps) => ps.iter().for_each(|p| p.visit(negated, f)),
            Pred::Not(p) => p.visit(!negated, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(op: Op, cs: bool, negated: bool, values: &[&str]) -> Test {
        Test {
            op,
            case_sensitive: cs,
            negated,
            values: values.iter().map(|s| s.to_string()).collect(),
            column: "ProductName".into(),
            lower: None,
            regex: None,
            mask: 0,
        }
    }

    #[test]
    fn operators_follow_kql_semantics() {
        let asc = "Azure Security Center";
        let iot = "Azure Security Center for IoT";
        assert!(test(Op::Equals, true, false, &[asc]).admits(asc));
        assert!(!test(Op::Equals, true, false, &["azure security center"]).admits(asc));
        assert!(test(Op::Equals, false, false, &["azure security center"]).admits(asc));
        assert!(test(Op::Has, false, false, &[asc]).admits(iot));
        assert!(!test(Op::Has, false, false, &["Secur"]).admits(asc));
        assert!(test(Op::HasPrefix, false, false, &["Secur"]).admits(asc));
        assert!(test(Op::Contains, false, false, &["curity cent"]).admits(asc));
        assert!(!test(Op::Contains, false, true, &["IoT"]).admits(iot));
        assert!(test(Op::StartsWith, false, false, &["azure sec"]).admits(asc));
        assert!(test(Op::EndsWith, false, false, &["center"]).admits(asc));
        assert!(!test(Op::EndsWith, false, false, &["center"]).admits(iot));
        assert!(test(Op::HasAll, false, false, &["Azure", "Center"]).admits(asc));
        assert!(!test(Op::HasAll, false, false, &["Azure", "IoT"]).admits(asc));
        assert!(test(Op::In, true, true, &["Azure Sentinel"]).admits(asc));
    }

    #[test]
    fn three_valued_logic() {
        let p = Pred::And(vec![
            Pred::Atom(Atom::Product(test(Op::Equals, true, false, &["A"])), (0, 1)),
            Pred::Atom(
                Atom::Other {
                    column: None,
                    op: None,
                    negated: false,
                    values: vec![],
                },
                (0, 1),
            ),
        ]);
        assert_eq!(p.eval("A"), Tri::Unknown);
        assert_eq!(p.eval("B"), Tri::False);
        let q = Pred::Or(vec![p.clone(), Pred::Not(Box::new(p))]);
        assert_eq!(q.eval("B"), Tri::True);
    }
}
