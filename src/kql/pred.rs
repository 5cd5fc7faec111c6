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
}

impl Test {
    /// Whether a product name passes the test.
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
                Op::Equals | Op::In => {
                    if cs {
                        name == v
                    } else {
                        name.eq_ignore_ascii_case(v) || name.to_lowercase() == v.to_lowercase()
                    }
                }
                Op::Has | Op::HasAny | Op::HasAll => term_match(name, v, cs, true, true),
                Op::HasPrefix => term_match(name, v, cs, true, false),
                Op::HasSuffix => term_match(name, v, cs, false, true),
                Op::Contains => find(name, v, cs).is_some(),
                Op::StartsWith => fold(name, cs).starts_with(&fold(v, cs)),
                Op::EndsWith => fold(name, cs).ends_with(&fold(v, cs)),
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

fn fold(s: &str, cs: bool) -> String {
    if cs { s.to_string() } else { s.to_lowercase() }
}

fn find(hay: &str, needle: &str, cs: bool) -> Option<usize> {
    fold(hay, cs).find(&fold(needle, cs))
}

/// `has` semantics: the needle appears aligned to term boundaries
/// (a term is a run of letters and digits).
fn term_match(hay: &str, needle: &str, cs: bool, at_start: bool, at_end: bool) -> bool {
    let h = fold(hay, cs);
    let n = fold(needle, cs);
    if n.is_empty() {
        return true;
    }
    let hb = h.as_bytes();
    let mut from = 0;
    while let Some(pos) = h[from..].find(&n) {
        let s = from + pos;
        let e = s + n.len();
        let start_ok = !at_start
            || s == 0
            || !hb[s - 1].is_ascii_alphanumeric()
            || !n.as_bytes()[0].is_ascii_alphanumeric();
        let end_ok = !at_end
            || e == hb.len()
            || !hb[e].is_ascii_alphanumeric()
            || !n.as_bytes()[n.len() - 1].is_ascii_alphanumeric();
        if start_ok && end_ok {
            return true;
        }
        from = s + 1;
        while from < h.len() && !h.is_char_boundary(from) {
            from += 1;
        }
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

    /// Every atom, with its span and whether it sits under a negation.
    pub fn atoms(&self) -> Vec<(&Atom, (u32, u32), bool)> {
        let mut out = Vec::new();
        self.collect(false, &mut out);
        out
    }

    fn collect<'a>(&'a self, negated: bool, out: &mut Vec<(&'a Atom, (u32, u32), bool)>) {
        match self {
            Pred::Atom(a, span) => out.push((a, *span, negated)),
            Pred::And(ps) | Pred::Or(ps) => ps.iter().for_each(|p| p.collect(negated, out)),
            Pred::Not(p) => p.collect(!negated, out),
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
