//! Just enough KQL structure to follow the data: statements, `let`
//! bindings (tabular, scalar, lists, functions), pipelines with their
//! sources (tables, `union`, parentheses, `materialize`, function calls),
//! `where` filters, and the branches that `join` and `lookup` bring in.
//!
//! The parser is tolerant: whatever it does not understand it skips to the
//! next `|`, `;` or closing bracket, and notes it. Nesting deeper than
//! [`MAX_DEPTH`] is skipped in one jump, so the cost stays linear in the
//! length of the query.

use super::lexer::{self, Kind, Token};
use super::pred::{Atom, Op, Pred, Test};
use std::collections::HashMap;

pub const MAX_DEPTH: usize = 64;

/// Names the parser needs from the migration rules.
pub struct Names {
    pub alert_tables: Vec<String>,
    /// At most 64 (projections track them in a bit set).
    pub product_columns: Vec<String>,
    /// Columns whose compared values carry a weak signal (alert names,
    /// vendor): kept for the decision.
    pub signal_columns: Vec<String>,
    /// The product names filters are evaluated against (at most 64): each
    /// product test knows, as a bit set, which of them it admits.
    pub universe: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Source {
    /// A table (or a name the parser cannot tell from one).
    Table { name: String, span: (u32, u32) },
    /// Another pipeline: parentheses, `materialize`, a `let` alias, a union item.
    Pipe { index: usize, via: Via },
    /// A call of a function whose body is not in the query (a workspace
    /// function or parser).
    Function { name: String, span: (u32, u32) },
    /// Something that produces rows the parser cannot follow (`search`, `find`, `evaluate`).
    Opaque { what: String, span: (u32, u32) },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Parens,
    Let(String),
    Union,
    Join,
    Lookup,
    Subquery,
}

impl Names {
    /// Whether `name` is an alert table, or a wildcard (`Security*`) that
    /// matches one.
    pub fn is_alert_table(&self, name: &str) -> bool {
        let prefix = name.strip_suffix('*');
        self.alert_tables.iter().any(|t| {
            t.eq_ignore_ascii_case(name)
                || prefix.is_some_and(|p| {
                    t.len() >= p.len() && t.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
                })
        })
    }

    /// Whether `column` is one of the product columns set in `mask`.
    pub fn hides(&self, mask: u64, column: &str) -> bool {
        self.product_columns
            .iter()
            .enumerate()
            .any(|(k, c)| mask & (1 << k.min(63)) != 0 && c.eq_ignore_ascii_case(column))
    }
}

impl Via {
    pub fn describe(&self) -> String {
        match self {
            Via::Parens => "in parentheses".into(),
            Via::Let(n) => format!("through `let {n}`"),
            Via::Union => "in a union".into(),
            Via::Join => "in a join".into(),
            Via::Lookup => "in a lookup".into(),
            Via::Subquery => "in a sub-query".into(),
        }
    }
}

/// How the rows of a branch combine with the rows of the pipeline it
/// joins (see the operator table in `docs/classifier.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// `union`, `join kind=fullouter`: each row comes from one side or the
    /// other (a full outer join pairs them when they match).
    Either,
    /// An inner join, `lookup kind=inner`: every row pairs a row of each side.
    Both,
    /// `leftsemi`, `in (sub-query)`: the pipeline's rows that match a row of
    /// the branch; the branch's rows are needed but not kept.
    Needs,
    /// `in (sub-query)` under `or`: some rows need a match, others do not.
    MayNeed,
    /// `leftouter`, a default `lookup`, `leftanti`, `!in (sub-query)`,
    /// `toscalar(...)`: the pipeline's rows, whatever the branch holds.
    Keeps,
    /// `rightouter`, `rightanti`: the branch's rows; the pipeline's rows
    /// only add columns or remove rows.
    Replaces,
    /// `rightsemi`: the branch's rows that match a row of the pipeline.
    ReplacesNeeding,
}

#[derive(Debug, Clone)]
pub enum Stage {
    Filter(Pred),
    /// Rows of another pipeline joined or unioned in at this point, and how
    /// they combine with this pipeline's rows.
    Branch {
        index: usize,
        via: Via,
        combine: Combine,
    },
    /// A projection (`project`, `summarize ... by`, `project-away`): bit k
    /// set when it drops the k-th product column of [`Names`].
    Columns {
        hides: u64,
    },
    /// An operator the classifier has no row rule for: its rows cannot be
    /// followed (`fork`, `scan`, a misspelt name).
    Unknown {
        name: String,
        span: (u32, u32),
    },
}

/// What an operator does to the rows that reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowEffect {
    /// Some of the rows pass (`where`, `take`, `top`, ...).
    Narrows,
    /// Every row passes, perhaps changed or repeated (`extend`, `sort`,
    /// `mv-expand`, ...).
    Keeps,
    /// Groups of rows become one row each (`summarize`, `count`, ...).
    Aggregates,
    /// Rows of another pipeline come in (`join`, `lookup`, `union`): how
    /// depends on the kind, see [`Combine`].
    Combines,
}

/// The operators whose effect on rows the classifier knows. Each keeps the
/// origin of the rows: what comes out is made of what came in (and, for
/// `Combines`, of the other side). Any other operator is [`Stage::Unknown`],
/// and a rule that reads alerts through one goes to review.
pub const ROW_OPERATORS: [(&str, RowEffect); 36] = [
    ("where", RowEffect::Narrows),
    ("filter", RowEffect::Narrows),
    ("take", RowEffect::Narrows),
    ("limit", RowEffect::Narrows),
    ("top", RowEffect::Narrows),
    ("sample", RowEffect::Narrows),
    ("sample-distinct", RowEffect::Narrows),
    ("parse-where", RowEffect::Narrows),
    ("search", RowEffect::Narrows),
    ("extend", RowEffect::Keeps),
    ("project", RowEffect::Keeps),
    ("project-keep", RowEffect::Keeps),
    ("project-away", RowEffect::Keeps),
    ("project-rename", RowEffect::Keeps),
    ("project-reorder", RowEffect::Keeps),
    ("sort", RowEffect::Keeps),
    ("order", RowEffect::Keeps),
    ("serialize", RowEffect::Keeps),
    ("render", RowEffect::Keeps),
    ("as", RowEffect::Keeps),
    ("parse", RowEffect::Keeps),
    ("parse-kv", RowEffect::Keeps),
    ("mv-expand", RowEffect::Keeps),
    ("mv-apply", RowEffect::Keeps),
    ("evaluate", RowEffect::Keeps),
    ("invoke", RowEffect::Keeps),
    ("summarize", RowEffect::Aggregates),
    ("count", RowEffect::Aggregates),
    ("distinct", RowEffect::Aggregates),
    ("make-series", RowEffect::Aggregates),
    ("top-nested", RowEffect::Aggregates),
    ("top-hitters", RowEffect::Aggregates),
    ("reduce", RowEffect::Aggregates),
    ("join", RowEffect::Combines),
    ("lookup", RowEffect::Combines),
    ("union", RowEffect::Combines),
];

/// What `op` (lowercase) does to rows, if the classifier knows it.
pub fn row_effect(op: &str) -> Option<RowEffect> {
    // Compare the first byte before the rest.
    let first = op.as_bytes().first()?;
    ROW_OPERATORS
        .iter()
        .find(|(name, _)| name.as_bytes()[0] == *first && *name == op)
        .map(|(_, effect)| *effect)
}

#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    pub sources: Vec<Source>,
    pub stages: Vec<Stage>,
    /// `union withsource=Col`: the column naming each row's table.
    pub source_column: Option<String>,
}

/// A column computed by `extend`: a boolean condition, or a `case()` /
/// `iff()` choosing a value by conditions.
#[derive(Debug, Clone)]
enum Computed {
    Bool(Pred),
    Case(Vec<(Pred, String)>, Option<String>),
}

#[derive(Debug, Clone)]
enum Scalar {
    Values(Vec<String>),
    Unknown,
}

/// Something the parser met and did not understand.
#[derive(Debug, Clone)]
pub struct Note {
    pub span: (u32, u32),
    pub what: String,
}

/// The result: every pipeline, and which ones are the query's output.
#[derive(Debug, Default)]
pub struct Parsed {
    pub pipelines: Vec<Pipeline>,
    pub outputs: Vec<usize>,
    pub notes: Vec<Note>,
}

pub struct Parser<'q, 'n> {
    src: &'q str,
    toks: Vec<Token>,
    close: Vec<u32>,
    pos: usize,
    depth: usize,
    names: &'n Names,
    scalars: HashMap<String, Scalar>,
    aliases: HashMap<String, usize>,
    computed: HashMap<String, Computed>,
    /// `union withsource=` columns met so far.
    source_columns: Vec<String>,
    out: Parsed,
}

const NONE: u32 = u32::MAX;

fn matching(toks: &[Token], src: &str) -> Vec<u32> {
    let mut close = vec![NONE; toks.len()];
    let mut stack: Vec<usize> = Vec::new();
    let bytes = src.as_bytes();
    for (i, t) in toks.iter().enumerate() {
        if t.kind != Kind::Punct || t.end - t.start != 1 {
            continue;
        }
        match bytes[t.start as usize] {
            b'(' | b'[' | b'{' => stack.push(i),
            b')' | b']' | b'}' => {
                if let Some(open) = stack.pop() {
                    close[open] = i as u32;
                }
            }
            _ => {}
        }
    }
    close
}

impl<'q, 'n> Parser<'q, 'n> {
    pub fn new(src: &'q str, names: &'n Names) -> Self {
        let toks = lexer::tokenize(src);
        let close = matching(&toks, src);
        Parser {
            src,
            toks,
            close,
            pos: 0,
            depth: 0,
            names,
            scalars: HashMap::new(),
            aliases: HashMap::new(),
            computed: HashMap::new(),
            source_columns: Vec::new(),
            out: Parsed::default(),
        }
    }

    pub fn parse(mut self) -> Parsed {
        while self.pos < self.toks.len() {
            if self.is_punct(";") {
                self.pos += 1;
                continue;
            }
            let before = self.pos;
            if self.is_word("let") {
                self.let_statement();
            } else if self.is_word("declare")
                || self.is_word("set")
                || self.is_word("alias")
                || self.is_word("pattern")
                || self.is_word("restrict")
            {
                self.skip_to_statement_end();
            } else {
                let p = self.tabular();
                self.out.outputs.push(p);
                if !self.at_end() && !self.is_punct(";") {
                    let t = self.toks[self.pos];
                    self.note(t, "unexpected text after the query");
                    self.skip_to_statement_end();
                }
            }
            if self.pos == before {
                // Guarantee progress whatever the input.
                self.pos += 1;
            }
        }
        self.out
    }

    // ---- token helpers -------------------------------------------------

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn text(&self, i: usize) -> &'q str {
        self.toks.get(i).map_or("", |t| t.text(self.src))
    }

    fn is_punct(&self, p: &str) -> bool {
        self.punct_at(self.pos, p)
    }

    fn punct_at(&self, i: usize, p: &str) -> bool {
        self.toks.get(i).is_some_and(|t| {
            t.kind == Kind::Punct
                && (t.end - t.start) as usize == p.len()
                && &self.src.as_bytes()[t.start as usize..t.end as usize] == p.as_bytes()
        })
    }

    /// The byte of a one-character punctuation token at `i`, or 0.
    fn punct_byte(&self, i: usize) -> u8 {
        match self.toks.get(i) {
            Some(t) if t.kind == Kind::Punct && t.end - t.start == 1 => {
                self.src.as_bytes()[t.start as usize]
            }
            _ => 0,
        }
    }

    fn is_word(&self, w: &str) -> bool {
        self.word_at(self.pos, w)
    }

    fn word_at(&self, i: usize, w: &str) -> bool {
        self.toks
            .get(i)
            .is_some_and(|t| t.kind == Kind::Ident && t.text(self.src).eq_ignore_ascii_case(w))
    }

    fn ident_at(&self, i: usize) -> Option<&'q str> {
        self.toks
            .get(i)
            .filter(|t| t.kind == Kind::Ident)
            .map(|t| lexer::ident_name(t.text(self.src)))
    }

    /// Whether the current token ends the expression being read: `;`, a
    /// closing bracket, or (`comma`) a comma.
    fn at_stop(&self, comma: bool) -> bool {
        if self.pos >= self.toks.len() {
            return true;
        }
        match self.punct_byte(self.pos) {
            b';' | b')' | b']' | b'}' => true,
            b',' => comma,
            _ => false,
        }
    }

    fn note(&mut self, t: Token, what: &str) {
        self.out.notes.push(Note {
            span: (t.start, t.end),
            what: what.to_string(),
        });
    }

    /// Past a bracket group that starts at the current token.
    fn skip_group(&mut self) {
        let c = self.close[self.pos];
        self.pos = if c == NONE {
            self.toks.len()
        } else {
            c as usize + 1
        };
    }

    fn skip_to_statement_end(&mut self) {
        while !self.at_end() && !self.is_punct(";") {
            if self.is_open() {
                self.skip_group();
            } else {
                self.pos += 1;
            }
        }
    }

    fn is_open(&self) -> bool {
        matches!(self.punct_byte(self.pos), b'(' | b'[' | b'{')
    }

    fn is_alert_table(&self, name: &str) -> bool {
        self.names.is_alert_table(name)
    }

    fn is_signal_column(&self, name: &str) -> bool {
        self.names
            .signal_columns
            .iter()
            .chain(&self.source_columns)
            .any(|c| c.eq_ignore_ascii_case(name))
    }

    fn is_product_column(&self, name: &str) -> bool {
        self.names
            .product_columns
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
    }

    /// Whether the group opening at `open` holds a tabular expression.
    fn group_is_tabular(&self, open: usize) -> bool {
        let end = match self.close.get(open) {
            Some(&c) if c != NONE => c as usize,
            _ => self.toks.len(),
        };
        let first = open + 1;
        if let Some(name) = self.ident_at(first)
            && (self.is_alert_table(name)
                || self.aliases.contains_key(name)
                || name.eq_ignore_ascii_case("union"))
        {
            return true;
        }
        let mut i = first;
        while i < end {
            if self.punct_at(i, "|") {
                return true;
            }
            if self.punct_at(i, "(") || self.punct_at(i, "[") || self.punct_at(i, "{") {
                let c = self.close[i];
                if c == NONE {
                    return false;
                }
                i = c as usize + 1;
            } else {
                i += 1;
            }
        }
        false
    }

    fn new_pipeline(&mut self) -> usize {
        self.out.pipelines.push(Pipeline::default());
        self.out.pipelines.len() - 1
    }

    // ---- statements ----------------------------------------------------

    fn let_statement(&mut self) {
        self.pos += 1; // let
        let Some(name) = self.ident_at(self.pos).map(str::to_string) else {
            self.skip_to_statement_end();
            return;
        };
        self.pos += 1;
        if !self.is_punct("=") {
            self.skip_to_statement_end();
            return;
        }
        self.pos += 1;
        let start = self.pos;
        // A string literal, a dynamic list, a datatable: scalar values.
        if let Some(values) = self.literal_values() {
            if self.at_stop(false) {
                self.scalars.insert(name, Scalar::Values(values));
                return;
            }
            self.pos = start;
        }
        // A function: `(params) { body }`.
        if self.is_punct("(") {
            let c = self.close[self.pos];
            if c != NONE && self.punct_at(c as usize + 1, "{") {
                self.pos = c as usize + 1;
                let body = self.function_body();
                if let Some(p) = body {
                    self.aliases.insert(name, p);
                } else {
                    self.scalars.insert(name, Scalar::Unknown);
                }
                return;
            }
        }
        if self.rhs_is_tabular() {
            let p = self.tabular();
            self.aliases.insert(name.clone(), p);
            self.scalars.remove(&name);
        } else {
            self.scalars.insert(name.clone(), Scalar::Unknown);
            self.aliases.remove(&name);
            self.skip_to_statement_end();
        }
    }

    /// `{ statements }`: the last tabular statement is the function's result.
    fn function_body(&mut self) -> Option<usize> {
        let close = self.close[self.pos];
        let end = if close == NONE {
            self.toks.len()
        } else {
            close as usize
        };
        self.pos += 1;
        let mut result = None;
        self.depth += 1;
        while self.pos < end {
            if self.is_punct(";") {
                self.pos += 1;
                continue;
            }
            let before = self.pos;
            if self.is_word("let") {
                self.let_statement();
            } else {
                result = Some(self.tabular());
            }
            if self.pos == before {
                self.pos += 1;
            }
        }
        self.depth -= 1;
        self.pos = end + 1;
        result
    }

    fn rhs_is_tabular(&self) -> bool {
        if let Some(name) = self.ident_at(self.pos) {
            if self.is_alert_table(name)
                || self.aliases.contains_key(name)
                || [
                    "union",
                    "materialize",
                    "datatable",
                    "view",
                    "range",
                    "print",
                    "externaldata",
                    "search",
                    "find",
                ]
                .iter()
                .any(|w| w.eq_ignore_ascii_case(name))
            {
                return true;
            }
            if name.eq_ignore_ascii_case("toscalar") {
                return false;
            }
        }
        if self.is_punct("(") && self.group_is_tabular(self.pos) {
            return true;
        }
        // A pipe before the end of the statement.
        let mut i = self.pos;
        while i < self.toks.len() && !self.punct_at(i, ";") {
            if self.punct_at(i, "|") {
                return true;
            }
            if self.punct_at(i, "(") || self.punct_at(i, "[") || self.punct_at(i, "{") {
                let c = self.close[i];
                if c == NONE {
                    return false;
                }
                i = c as usize + 1;
            } else {
                i += 1;
            }
        }
        false
    }

    /// A string literal, `dynamic([...])` or `datatable(...)[...]` of strings.
    fn literal_values(&mut self) -> Option<Vec<String>> {
        let t = *self.toks.get(self.pos)?;
        if t.kind == Kind::Str {
            self.pos += 1;
            return Some(vec![lexer::string_value(t.text(self.src))]);
        }
        let word = self.ident_at(self.pos)?;
        if word.eq_ignore_ascii_case("dynamic") && self.punct_at(self.pos + 1, "(") {
            let close = self.close[self.pos + 1];
            if close == NONE {
                return None;
            }
            let values = self.strings_between(self.pos + 2, close as usize)?;
            self.pos = close as usize + 1;
            return Some(values);
        }
        if word.eq_ignore_ascii_case("datatable") && self.punct_at(self.pos + 1, "(") {
            let c1 = self.close[self.pos + 1];
            if c1 == NONE || !self.punct_at(c1 as usize + 1, "[") {
                return None;
            }
            let c2 = self.close[c1 as usize + 1];
            if c2 == NONE {
                return None;
            }
            let values = self.strings_between(c1 as usize + 2, c2 as usize)?;
            self.pos = c2 as usize + 1;
            return Some(values);
        }
        None
    }

    /// The string literals between two token indices, which must hold only
    /// literals, brackets and commas (else `None`).
    fn strings_between(&self, from: usize, to: usize) -> Option<Vec<String>> {
        let mut values = Vec::new();
        for i in from..to {
            let t = self.toks[i];
            match t.kind {
                Kind::Str => values.push(lexer::string_value(t.text(self.src))),
                Kind::Punct if matches!(t.text(self.src), "[" | "]" | ",") => {}
                Kind::Number => {}
                _ => return None,
            }
        }
        Some(values)
    }

    // ---- tabular expressions -------------------------------------------

    /// A source and its `| operator` chain, up to `;`, a closing bracket or
    /// (inside a union's list) a comma.
    fn tabular(&mut self) -> usize {
        self.tabular_in(false)
    }

    fn tabular_in(&mut self, comma: bool) -> usize {
        let idx = self.new_pipeline();
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            if let Some(t) = self.toks.get(self.pos).copied() {
                self.note(t, "nesting too deep to follow");
            }
            self.skip_expression(comma);
            self.depth -= 1;
            self.out.pipelines[idx].sources.push(Source::Opaque {
                what: "deeply nested expression".into(),
                span: (0, 0),
            });
            return idx;
        }
        self.source(idx, comma);
        while !self.at_stop(comma) {
            if self.is_punct("|") {
                self.pos += 1;
                self.operator(idx, comma);
            } else {
                // Text the parser does not expect between operators.
                let t = self.toks[self.pos];
                self.note(t, "unexpected text in a pipeline");
                self.skip_operator_args(idx, comma);
            }
        }
        self.depth -= 1;
        idx
    }

    fn skip_expression(&mut self, comma: bool) {
        while !self.at_stop(comma) {
            if self.is_open() {
                self.skip_group();
            } else {
                self.pos += 1;
            }
        }
    }

    fn source(&mut self, idx: usize, comma: bool) {
        let Some(t) = self.toks.get(self.pos).copied() else {
            return;
        };
        let span = (t.start, t.end);
        if self.is_punct("(") {
            let sub = self.paren_tabular();
            self.out.pipelines[idx].sources.push(Source::Pipe {
                index: sub,
                via: Via::Parens,
            });
            return;
        }
        let Some(name) = self.ident_at(self.pos) else {
            if t.kind == Kind::Punct && t.text(self.src) == "|" {
                return;
            }
            self.note(t, "a pipeline that does not start with a table");
            self.skip_source_tokens(comma);
            return;
        };
        let mut buf = [0u8; 24];
        let lower = lower(name, &mut buf);
        match lower {
            "union" => {
                self.pos += 1;
                self.union_items(idx, comma);
            }
            "materialize" | "view" if self.punct_at(self.pos + 1, "(") => {
                self.pos += 1;
                let sub = self.paren_tabular();
                self.out.pipelines[idx].sources.push(Source::Pipe {
                    index: sub,
                    via: Via::Subquery,
                });
            }
            "datatable" | "print" | "range" | "externaldata" => {
                self.pos += 1;
                self.skip_source_tokens(comma);
            }
            "search" | "find" | "evaluate" => {
                self.out.pipelines[idx].sources.push(Source::Opaque {
                    what: format!("`{name}`"),
                    span,
                });
                self.pos += 1;
                self.skip_source_tokens(comma);
            }
            _ => {
                let name = name.to_string();
                self.pos += 1;
                let mut end = t.end;
                // `Table*` wildcards.
                let mut full = name.clone();
                if self.is_punct("*") {
                    full.push('*');
                    end = self.toks[self.pos].end;
                    self.pos += 1;
                }
                let called = self.is_punct("(");
                if called {
                    let c = self.close[self.pos];
                    end = if c == NONE {
                        self.src.len() as u32
                    } else {
                        self.toks[c as usize].end
                    };
                    self.skip_group();
                }
                let span = (t.start, end);
                let source = if let Some(&p) = self.aliases.get(&name) {
                    Source::Pipe {
                        index: p,
                        via: Via::Let(name),
                    }
                } else if self.is_alert_table(&full) {
                    Source::Table { name: full, span }
                } else if called {
                    Source::Function { name, span }
                } else {
                    Source::Table { name: full, span }
                };
                self.out.pipelines[idx].sources.push(source);
            }
        }
    }

    /// Skips the rest of a source that is not followed (`datatable(...)[...]`).
    fn skip_source_tokens(&mut self, comma: bool) {
        while !self.at_stop(comma) && !self.is_punct("|") {
            if self.is_open() {
                self.skip_group();
            } else {
                self.pos += 1;
            }
        }
    }

    /// `( tabular )` at the current token; returns the inner pipeline.
    fn paren_tabular(&mut self) -> usize {
        let close = self.close[self.pos];
        self.pos += 1;
        let sub = self.tabular();
        let end = if close == NONE {
            self.toks.len()
        } else {
            close as usize
        };
        if self.pos < end {
            let t = self.toks[self.pos];
            self.note(t, "unexpected text in parentheses");
        }
        self.pos = (end + 1).min(self.toks.len().max(end + 1));
        sub
    }

    /// `union [options] T1, (T2 | ...), T3`.
    fn union_items(&mut self, idx: usize, comma: bool) {
        // Options: kind=outer, withsource=X, isfuzzy=true.
        while self.ident_at(self.pos).is_some() && self.punct_at(self.pos + 1, "=") {
            if self.is_word("withsource") || self.is_word("sourcecolumnname") {
                self.out.pipelines[idx].source_column =
                    self.ident_at(self.pos + 2).map(str::to_string);
            }
            self.pos += 3;
        }
        loop {
            if self.at_stop(comma) || self.is_punct("|") {
                break;
            }
            let item = self.new_pipeline();
            self.source(item, true);
            self.out.pipelines[idx].sources.push(Source::Pipe {
                index: item,
                via: Via::Union,
            });
            if self.is_punct(",") {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn operator(&mut self, idx: usize, comma: bool) {
        let mut buf = [0u8; 24];
        let Some(op_word) = self
            .ident_at(self.pos)
            .map(|w| lower(w, &mut buf).to_owned_small())
        else {
            if let Some(t) = self.toks.get(self.pos).copied() {
                self.note(t, "an operator the parser does not know");
            }
            self.skip_operator_args(idx, comma);
            return;
        };
        self.pos += 1;
        let op = op_word.as_str();
        match op {
            "where" | "filter" => {
                let start = self.pos;
                let pred = self.predicate(comma);
                self.out.pipelines[idx].stages.push(Stage::Filter(pred));
                self.filter_subqueries(idx, start, self.pos);
            }
            "join" | "lookup" => {
                let via = if op == "join" { Via::Join } else { Via::Lookup };
                // Options: kind=inner, hint.remote=auto.
                let mut kind = if op == "join" {
                    "innerunique".to_string()
                } else {
                    "leftouter".to_string()
                };
                while self.ident_at(self.pos).is_some() && !self.is_word("on") {
                    let mut i = self.pos + 1;
                    while self.punct_at(i, ".") && self.ident_at(i + 1).is_some() {
                        i += 2;
                    }
                    if self.punct_at(i, "=") {
                        if self.is_word("kind") {
                            kind = self.text(i + 1).to_ascii_lowercase();
                        }
                        self.pos = i + 2;
                    } else {
                        break;
                    }
                }
                // Which side's rows come out (a lookup is leftouter unless
                // said otherwise). A kind the parser does not know may let
                // either side's rows through.
                let combine = match (op, kind.as_str()) {
                    (_, "inner") | ("join", "innerunique") => Combine::Both,
                    ("join", "leftsemi" | "semi") => Combine::Needs,
                    (_, "leftouter") | ("join", "leftanti" | "anti" | "leftantisemi") => {
                        Combine::Keeps
                    }
                    ("join", "rightouter" | "rightanti" | "rightantisemi") => Combine::Replaces,
                    ("join", "rightsemi") => Combine::ReplacesNeeding,
                    _ => Combine::Either,
                };
                let branch = if self.is_punct("(") {
                    self.paren_tabular()
                } else {
                    let b = self.new_pipeline();
                    self.source(b, true);
                    b
                };
                self.out.pipelines[idx].stages.push(Stage::Branch {
                    index: branch,
                    via,
                    combine,
                });
                self.skip_operator_args(idx, comma);
            }
            "union" => {
                let item = self.new_pipeline();
                self.union_items(item, comma);
                self.out.pipelines[idx].stages.push(Stage::Branch {
                    index: item,
                    via: Via::Union,
                    combine: Combine::Either,
                });
                self.skip_operator_args(idx, comma);
            }
            "invoke" => {
                // A function defined in the query: its filters apply here.
                let local = self
                    .ident_at(self.pos)
                    .and_then(|n| self.aliases.get(n))
                    .copied();
                match local {
                    Some(f) => {
                        let filters: Vec<Stage> = self.out.pipelines[f]
                            .stages
                            .iter()
                            .filter(|s| matches!(s, Stage::Filter(_)))
                            .cloned()
                            .collect();
                        self.out.pipelines[idx].stages.extend(filters);
                    }
                    None => {
                        if let Some(t) = self.toks.get(self.pos).copied() {
                            self.note(t, "`invoke` of a function the query does not define");
                        }
                    }
                }
                self.skip_operator_args(idx, comma);
            }
            "extend" => {
                self.assignments(comma);
                self.skip_operator_args(idx, comma);
            }
            "project" | "project-keep" | "project-away" | "summarize" | "distinct" => {
                let hides = self.column_list(op);
                self.out.pipelines[idx]
                    .stages
                    .push(Stage::Columns { hides });
                self.skip_operator_args(idx, comma);
            }
            _ => {
                if row_effect(op).is_none() {
                    let start = self.toks[self.pos - 1].start;
                    let end = self.toks[self.pos - 1].end;
                    let name = self.text(self.pos - 1).to_string();
                    self.out.pipelines[idx].stages.push(Stage::Unknown {
                        name,
                        span: (start, end),
                    });
                }
                self.skip_operator_args(idx, comma)
            }
        }
    }

    /// Skips an operator's arguments, following any tabular sub-query in
    /// them (`toscalar((...))`, `in (T | project x)`) as a branch.
    fn skip_operator_args(&mut self, idx: usize, comma: bool) {
        while !self.at_stop(comma) && !self.is_punct("|") {
            self.pass_token(idx);
        }
    }

    /// Passes one token of an operator's arguments: a tabular group becomes
    /// a branch, another group is searched for nested ones.
    fn pass_token(&mut self, idx: usize) {
        if self.is_punct("(") {
            if self.group_is_tabular(self.pos) {
                let sub = self.paren_tabular();
                self.out.pipelines[idx].stages.push(Stage::Branch {
                    index: sub,
                    via: Via::Subquery,
                    combine: Combine::Keeps,
                });
            } else {
                self.descend_group(idx);
            }
        } else if self.is_open() {
            self.skip_group();
        } else {
            self.pos += 1;
        }
    }

    /// The sub-queries of a `where` between two token indices that decide
    /// which rows pass: `x in (T | ...)` needs a row of `T` for every row
    /// that passes (unless an `or` or a `not` of the filter makes it
    /// optional). Other sub-queries (`!in`, `toscalar`) keep the rows
    /// whatever `T` holds, so they are not followed.
    fn filter_subqueries(&mut self, idx: usize, start: usize, end: usize) {
        // Most filters have none: find the first cheaply.
        let end = end.min(self.toks.len());
        let bytes = self.src.as_bytes();
        let Some(first) = (start..end).find(|&i| {
            let t = self.toks[i];
            t.kind == Kind::Ident
                && bytes[t.start as usize] | 0x20 == b'i'
                && self.subquery_after_in(i, end).is_some()
        }) else {
            return;
        };
        // An `or` or a `not` of the filter itself, not of a sub-query in it.
        let mut optional = false;
        let mut i = start;
        while i < end && !optional {
            if self.punct_at(i, "(") && self.group_is_tabular(i) {
                let close = self.close[i];
                i = if close == NONE {
                    end
                } else {
                    close as usize + 1
                };
                continue;
            }
            optional = self.word_at(i, "or") || self.word_at(i, "not");
            i += 1;
        }
        let combine = if optional {
            Combine::MayNeed
        } else {
            Combine::Needs
        };
        let resume = self.pos;
        let mut i = first;
        while i < end {
            let Some(open) = self.subquery_after_in(i, end) else {
                i += 1;
                continue;
            };
            self.pos = open;
            let sub = self.paren_tabular();
            self.out.pipelines[idx].stages.push(Stage::Branch {
                index: sub,
                via: Via::Subquery,
                combine,
            });
            let close = self.close[open];
            i = if close == NONE {
                end
            } else {
                close as usize + 1
            };
        }
        self.pos = resume;
    }

    /// When token `i` is `in` or `in~` followed (through any parentheses)
    /// by a tabular group that closes before `end`: where that group opens.
    fn subquery_after_in(&self, i: usize, end: usize) -> Option<usize> {
        let t = self.toks.get(i)?;
        let len = t.end - t.start;
        if t.kind != Kind::Ident
            || !(len == 2 || len == 3)
            || !(self.word_at(i, "in") || self.word_at(i, "in~"))
        {
            return None;
        }
        let mut j = i + 1;
        while j < end && self.punct_at(j, "(") {
            let close = self.close[j];
            if close == NONE || close as usize >= end {
                return None;
            }
            if self.group_is_tabular(j) {
                return Some(j);
            }
            j += 1;
        }
        None
    }

    /// Looks inside a non-tabular group for nested tabular groups
    /// (`toscalar((SecurityAlert | ...))`), bounded by depth.
    fn descend_group(&mut self, idx: usize) {
        let close = self.close[self.pos];
        if close == NONE || self.depth > MAX_DEPTH {
            self.skip_group();
            return;
        }
        let end = close as usize;
        self.pos += 1;
        self.depth += 1;
        while self.pos < end {
            self.pass_token(idx);
        }
        self.depth -= 1;
        self.pos = end + 1;
    }

    /// `extend a = <condition>, b = case(...)`: remembers computed columns
    /// that later filters may test.
    fn assignments(&mut self, comma: bool) {
        loop {
            if self.at_pred_stop(comma) {
                return;
            }
            let name = self.ident_at(self.pos).map(str::to_string);
            let assignment = name.is_some() && self.punct_at(self.pos + 1, "=");
            if assignment {
                self.pos += 2;
            }
            // Only an expression naming a product column can compute a filter.
            let relevant = assignment && self.mentions_product_column();
            if assignment
                && !relevant
                && !self.computed.is_empty()
                && let Some(n) = &name
            {
                self.computed.remove(n);
            }
            if let Some(name) = name.filter(|_| relevant) {
                let word = self.ident_at(self.pos).map(str::to_ascii_lowercase);
                let computed = match word.as_deref() {
                    Some("case") | Some("iff") | Some("iif")
                        if self.punct_at(self.pos + 1, "(") =>
                    {
                        let is_case = word.as_deref() == Some("case");
                        self.pos += 1;
                        self.case_arms(is_case)
                    }
                    _ => {
                        let start = self.pos;
                        self.depth += 1;
                        let pred = self.or_expr(true);
                        self.depth -= 1;
                        let has_product = pred
                            .atoms()
                            .iter()
                            .any(|(a, _, _)| matches!(a, Atom::Product(_)));
                        if !has_product {
                            self.pos = start.max(self.pos);
                        }
                        has_product.then_some(Computed::Bool(pred))
                    }
                };
                match computed {
                    Some(c) => {
                        self.computed.insert(name, c);
                    }
                    None => {
                        self.computed.remove(&name);
                    }
                }
            }
            // On to the next assignment.
            while !self.at_pred_stop(true) {
                if self.is_open() {
                    self.skip_group();
                } else {
                    self.pos += 1;
                }
            }
            if self.is_punct(",") {
                self.pos += 1;
            } else {
                return;
            }
        }
    }

    /// Whether the filter from here to the next top-level `|` or stop names
    /// a column the decision depends on. Scans without moving.
    fn clause_is_relevant(&self, comma: bool) -> bool {
        self.names_before_end(comma, |p, name| {
            p.is_product_column(name)
                || p.is_signal_column(name)
                || (!p.computed.is_empty() && p.computed.contains_key(name))
        })
    }

    /// Whether the expression from here to the next top-level `,`, `|` or
    /// stop names a product column (only then is a computed column worth
    /// remembering). Scans without moving.
    fn mentions_product_column(&self) -> bool {
        self.names_before_end(true, |p, name| p.is_product_column(name))
    }

    /// Whether an identifier satisfying `hit` comes before the end of the
    /// current expression: a top-level `|` or `;`, a closing bracket, or
    /// (`comma`) a top-level comma. Scans without moving.
    fn names_before_end(&self, comma: bool, hit: impl Fn(&Self, &str) -> bool) -> bool {
        let mut depth = 0usize;
        for t in &self.toks[self.pos.min(self.toks.len())..] {
            if t.kind == Kind::Punct {
                match t.text(self.src) {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" if depth == 0 => return false,
                    ")" | "]" | "}" => depth -= 1,
                    "|" | ";" if depth == 0 => return false,
                    "," if depth == 0 && comma => return false,
                    _ => {}
                }
            } else if t.kind == Kind::Ident && hit(self, lexer::ident_name(t.text(self.src))) {
                return true;
            }
        }
        false
    }

    /// `case(c1, v1, c2, v2, ..., default)` or `iff(c, v1, v2)` at `(`.
    fn case_arms(&mut self, is_case: bool) -> Option<Computed> {
        let close = self.close[self.pos];
        let end = if close == NONE {
            self.toks.len()
        } else {
            close as usize
        };
        self.pos += 1;
        let mut args: Vec<(usize, usize)> = Vec::new();
        let mut from = self.pos;
        let mut i = self.pos;
        while i < end {
            if self.punct_at(i, ",") {
                args.push((from, i));
                from = i + 1;
                i += 1;
            } else if self.punct_at(i, "(") || self.punct_at(i, "[") || self.punct_at(i, "{") {
                let c = self.close[i];
                i = if c == NONE { end } else { c as usize + 1 };
            } else {
                i += 1;
            }
        }
        args.push((from, end));
        let value = |p: &Self, (a, b): (usize, usize)| -> Option<String> {
            let t = p.toks.get(a)?;
            (b == a + 1 && t.kind == Kind::Str).then(|| lexer::string_value(t.text(p.src)))
        };
        let mut arms = Vec::new();
        let pairs = if is_case { args.len() / 2 } else { 1 };
        for k in 0..pairs {
            let cond = args[2 * k];
            let Some(v) = args.get(2 * k + 1).and_then(|r| value(self, *r)) else {
                self.pos = end + 1;
                return None;
            };
            self.pos = cond.0;
            self.depth += 1;
            let pred = self.or_expr(true);
            self.depth -= 1;
            arms.push((pred, v));
        }
        let default = if is_case {
            (args.len() % 2 == 1)
                .then(|| value(self, args[args.len() - 1]))
                .flatten()
        } else {
            args.get(2).and_then(|r| value(self, *r))
        };
        self.pos = end + 1;
        let has_product = arms.iter().any(|(p, _)| {
            p.atoms()
                .iter()
                .any(|(a, _, _)| matches!(a, Atom::Product(_)))
        });
        has_product.then_some(Computed::Case(arms, default))
    }

    /// The columns a `project`, `summarize` or `distinct` keeps, or a
    /// `project-away` drops. Scans without moving.
    fn column_list(&self, op: &str) -> u64 {
        let mut named = 0u64;
        let mut i = self.pos;
        let mut expect_name = true;
        let mut after_by = op != "summarize";
        let mut wildcard = false;
        while let Some(t) = self.toks.get(i) {
            let s = t.text(self.src);
            if t.kind == Kind::Punct && matches!(s, "|" | ";" | ")" | "]" | "}") {
                break;
            }
            if t.kind == Kind::Punct && matches!(s, "(" | "[" | "{") {
                let c = self.close[i];
                i = if c == NONE {
                    self.toks.len()
                } else {
                    c as usize + 1
                };
                expect_name = false;
                continue;
            }
            if t.kind == Kind::Punct && s == "," {
                expect_name = true;
            } else if t.kind == Kind::Punct && s == "*" {
                wildcard = true;
            } else if t.kind == Kind::Ident && op == "summarize" && s.eq_ignore_ascii_case("by") {
                after_by = true;
                expect_name = true;
            } else if expect_name && t.kind == Kind::Ident {
                // `name = expr` names the new column; a bare name keeps it.
                if after_by || self.punct_at(i + 1, "=") {
                    let name = lexer::ident_name(s);
                    if let Some(k) = self
                        .names
                        .product_columns
                        .iter()
                        .position(|c| c.eq_ignore_ascii_case(name))
                    {
                        named |= 1 << k.min(63);
                    }
                }
                expect_name = false;
            } else {
                expect_name = false;
            }
            i += 1;
        }
        let all = if self.names.product_columns.len() >= 64 {
            u64::MAX
        } else {
            (1u64 << self.names.product_columns.len()) - 1
        };
        match op {
            "project-away" => named,
            _ if wildcard => 0,
            _ => all & !named,
        }
    }

    /// A filter on a computed column: the condition it stands for.
    fn computed_filter(&mut self, name: &str, comma: bool) -> Option<Pred> {
        let computed = self.computed.get(name)?.clone();
        let save = self.pos;
        match computed {
            Computed::Bool(p) => {
                if self.next_is_logical_or_stop(self.pos, comma) {
                    return Some(p);
                }
                let (op, _, negated) = self.string_op().filter(|(o, _, _)| *o == Op::Equals)?;
                let _ = op;
                let value = self.ident_at(self.pos).map(str::to_ascii_lowercase);
                let truth = match value.as_deref() {
                    Some("true") => true,
                    Some("false") => false,
                    _ => {
                        self.pos = save;
                        return None;
                    }
                };
                self.pos += 1;
                Some(if truth != negated {
                    p
                } else {
                    Pred::Not(Box::new(p))
                })
            }
            Computed::Case(arms, default) => {
                let (op, cs, negated) = self
                    .string_op()
                    .filter(|(o, _, _)| matches!(o, Op::Equals | Op::In))?;
                let _ = op;
                let Ok(values) = self.rhs_values(comma) else {
                    self.pos = save;
                    return None;
                };
                let matches = |v: &str| {
                    values.iter().any(|x| {
                        if cs {
                            x == v
                        } else {
                            x.eq_ignore_ascii_case(v)
                        }
                    })
                };
                let mut ors = Vec::new();
                let mut previous: Vec<Pred> = Vec::new();
                for (cond, v) in &arms {
                    if matches(v) {
                        let mut all: Vec<Pred> = previous
                            .iter()
                            .map(|p| Pred::Not(Box::new(p.clone())))
                            .collect();
                        all.push(cond.clone());
                        ors.push(Pred::And(all));
                    }
                    previous.push(cond.clone());
                }
                if default.as_deref().is_some_and(matches) {
                    ors.push(Pred::And(
                        previous
                            .iter()
                            .map(|p| Pred::Not(Box::new(p.clone())))
                            .collect(),
                    ));
                }
                let p = Pred::Or(ors);
                Some(if negated { Pred::Not(Box::new(p)) } else { p })
            }
        }
    }

    // ---- predicates ------------------------------------------------------

    fn at_pred_stop(&self, comma: bool) -> bool {
        self.at_stop(comma) || self.punct_byte(self.pos) == b'|'
    }

    fn predicate(&mut self, comma: bool) -> Pred {
        // A filter that names no column the decision looks at (product,
        // signal, union source, computed) admits every product alike: one
        // opaque atom, without parsing it.
        if !self.clause_is_relevant(comma) {
            let start = self.toks.get(self.pos).map_or(0, |t| t.start);
            while !self.at_pred_stop(comma) {
                if self.is_open() {
                    self.skip_group();
                } else {
                    self.pos += 1;
                }
            }
            return other_atom(start, self.prev_end(start));
        }
        let p = self.or_expr(comma);
        // Whatever is left (a stray token) is skipped.
        while !self.at_pred_stop(comma) {
            if self.is_open() {
                self.skip_group();
            } else {
                self.pos += 1;
            }
        }
        p
    }

    fn or_expr(&mut self, comma: bool) -> Pred {
        let mut parts = vec![self.and_expr(comma)];
        while self.is_word("or") {
            self.pos += 1;
            parts.push(self.and_expr(comma));
        }
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            Pred::Or(parts)
        }
    }

    fn and_expr(&mut self, comma: bool) -> Pred {
        let mut parts = vec![self.unary(comma)];
        while self.is_word("and") {
            self.pos += 1;
            parts.push(self.unary(comma));
        }
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            Pred::And(parts)
        }
    }

    fn unary(&mut self, comma: bool) -> Pred {
        if self.depth > MAX_DEPTH {
            let start = self.toks.get(self.pos).map_or(0, |t| t.start);
            self.skip_term(comma);
            return other_atom(start, self.prev_end(start));
        }
        if self.is_word("not") && self.punct_at(self.pos + 1, "(") {
            self.pos += 1;
            let inner = self.group_pred(comma);
            return Pred::Not(Box::new(inner));
        }
        if self.is_punct("(") && !self.group_is_tabular(self.pos) {
            let start_tok = self.pos;
            let close = self.close[self.pos];
            let after = if close == NONE {
                self.toks.len()
            } else {
                close as usize + 1
            };
            // A parenthesised predicate, unless it is followed by an operator
            // (`(a + b) > 3`).
            if self.next_is_logical_or_stop(after, comma) {
                return self.group_pred(comma);
            }
            self.pos = start_tok;
        }
        self.comparison(comma)
    }

    fn next_is_logical_or_stop(&self, i: usize, comma: bool) -> bool {
        match self.toks.get(i) {
            None => true,
            Some(t) => {
                let s = t.text(self.src);
                (t.kind == Kind::Ident
                    && (s.eq_ignore_ascii_case("and") || s.eq_ignore_ascii_case("or")))
                    || (t.kind == Kind::Punct
                        && (s == "|"
                            || s == ";"
                            || s == ")"
                            || s == "]"
                            || s == "}"
                            || (comma && s == ",")))
            }
        }
    }

    /// `( predicate )` at the current token.
    fn group_pred(&mut self, _comma: bool) -> Pred {
        let close = self.close[self.pos];
        let end = if close == NONE {
            self.toks.len()
        } else {
            close as usize
        };
        self.pos += 1;
        self.depth += 1;
        let p = self.or_expr(false);
        self.depth -= 1;
        // Anything the predicate parser left inside the group is skipped.
        self.pos = (end + 1).max(self.pos.min(end + 1));
        p
    }

    fn prev_end(&self, fallback: u32) -> u32 {
        if self.pos == 0 {
            return fallback;
        }
        self.toks
            .get(self.pos - 1)
            .map_or(fallback, |t| t.end)
            .max(fallback)
    }

    /// Skips one term of a predicate: up to `and`/`or` or a stop.
    fn skip_term(&mut self, comma: bool) {
        while !self.at_pred_stop(comma) && !self.is_word("and") && !self.is_word("or") {
            if self.is_open() {
                self.skip_group();
            } else {
                self.pos += 1;
            }
        }
    }

    /// The column a term names: `ProductName`, `T.ProductName`,
    /// `tolower(ProductName)`. Returns (name, lower transform) and advances.
    fn column(&mut self) -> Option<(String, Option<bool>)> {
        let name = self.ident_at(self.pos)?;
        let mut buf = [0u8; 24];
        let lower = lower(name, &mut buf);
        if matches!(lower, "tolower" | "toupper" | "tostring" | "trim")
            && self.punct_at(self.pos + 1, "(")
        {
            let close = self.close[self.pos + 1];
            if close == NONE {
                return None;
            }
            // The last identifier inside: tolower(ProductName), trim(" ", ProductName).
            let inner = (self.pos + 2..close as usize)
                .rev()
                .find_map(|i| self.ident_at(i))?
                .to_string();
            let transform = match lower {
                "tolower" => Some(true),
                "toupper" => Some(false),
                _ => None,
            };
            self.pos = close as usize + 1;
            return Some((inner, transform));
        }
        if self.punct_at(self.pos + 1, "(") {
            return None;
        }
        let mut col = name.to_string();
        self.pos += 1;
        while self.punct_at(self.pos, ".") {
            if let Some(n) = self.ident_at(self.pos + 1) {
                col = n.to_string();
                self.pos += 2;
            } else {
                break;
            }
        }
        Some((col, None))
    }

    /// A string operator at the current token: (op, case-sensitive, negated).
    fn string_op(&mut self) -> Option<(Op, bool, bool)> {
        let t = *self.toks.get(self.pos)?;
        let s = t.text(self.src);
        let r = match (t.kind, s) {
            (Kind::Punct, "==") => (Op::Equals, true, false),
            (Kind::Punct, "!=") | (Kind::Punct, "<>") => (Op::Equals, true, true),
            (Kind::Punct, "=~") => (Op::Equals, false, false),
            (Kind::Punct, "!~") => (Op::Equals, false, true),
            (Kind::Ident, w) | (Kind::NegIdent, w) => {
                let negated = t.kind == Kind::NegIdent;
                let mut buf = [0u8; 24];
                let w = lower(w.trim_start_matches('!'), &mut buf);
                let (op, cs) = match w {
                    "in" => (Op::In, true),
                    "in~" => (Op::In, false),
                    "has" => (Op::Has, false),
                    "has_cs" => (Op::Has, true),
                    "hasprefix" => (Op::HasPrefix, false),
                    "hasprefix_cs" => (Op::HasPrefix, true),
                    "hassuffix" => (Op::HasSuffix, false),
                    "hassuffix_cs" => (Op::HasSuffix, true),
                    "contains" => (Op::Contains, false),
                    "contains_cs" => (Op::Contains, true),
                    "startswith" => (Op::StartsWith, false),
                    "startswith_cs" => (Op::StartsWith, true),
                    "endswith" => (Op::EndsWith, false),
                    "endswith_cs" => (Op::EndsWith, true),
                    "has_any" => (Op::HasAny, false),
                    "has_all" => (Op::HasAll, false),
                    "matches" if !negated && self.word_at(self.pos + 1, "regex") => {
                        self.pos += 1;
                        (Op::Regex, true)
                    }
                    _ => return None,
                };
                (op, cs, negated)
            }
            _ => return None,
        };
        self.pos += 1;
        Some(r)
    }

    /// The values on the right of a string operator: a literal, a `let`
    /// name, a list in parentheses, `dynamic([...])`. `Err` names what could
    /// not be known.
    fn rhs_values(&mut self, comma: bool) -> Result<Vec<String>, String> {
        let Some(t) = self.toks.get(self.pos).copied() else {
            return Err("nothing".into());
        };
        if t.kind == Kind::Str {
            self.pos += 1;
            return Ok(vec![lexer::string_value(t.text(self.src))]);
        }
        if let Some(vals) = self.literal_values() {
            return Ok(vals);
        }
        if let Some(name) = self.ident_at(self.pos)
            && !self.punct_at(self.pos + 1, "(")
        {
            self.pos += 1;
            return match self.scalars.get(name) {
                Some(Scalar::Values(v)) => Ok(v.clone()),
                Some(Scalar::Unknown) => Err(format!("`{name}`, computed when the query runs")),
                None if self.aliases.contains_key(name) => Err(format!("the rows of `{name}`")),
                None => Err(format!("the column or unknown name `{name}`")),
            };
        }
        if self.is_punct("(") {
            if self.group_is_tabular(self.pos) {
                let text = "a sub-query".to_string();
                self.skip_group();
                return Err(text);
            }
            let close = self.close[self.pos];
            let end = if close == NONE {
                self.toks.len()
            } else {
                close as usize
            };
            self.pos += 1;
            let mut values = Vec::new();
            let mut unknown = None;
            while self.pos < end {
                let t = self.toks[self.pos];
                if t.kind == Kind::Punct && t.text(self.src) == "," {
                    self.pos += 1;
                    continue;
                }
                match self.rhs_values(false) {
                    Ok(mut v) => values.append(&mut v),
                    Err(e) => {
                        unknown.get_or_insert(e);
                        // Skip this element.
                        while self.pos < end && !self.punct_at(self.pos, ",") {
                            if self.is_open() {
                                self.skip_group()
                            } else {
                                self.pos += 1
                            }
                        }
                    }
                }
            }
            self.pos = end + 1;
            return match unknown {
                Some(e) => Err(e),
                None => Ok(values),
            };
        }
        let _ = comma;
        Err(format!("`{}`", t.text(self.src)))
    }

    fn comparison(&mut self, comma: bool) -> Pred {
        let start_tok = self.pos;
        let start = self.toks.get(self.pos).map_or(0, |t| t.start);
        // `"literal" == ProductName`: read it the other way round.
        if let Some(t) = self.toks.get(self.pos).copied()
            && t.kind == Kind::Str
        {
            self.pos += 1;
            let save = self.pos;
            if let Some((op, cs, neg)) = self.string_op()
                && op == Op::Equals
                && let Some((col, lower)) = self.column()
                && self.is_product_column(&col)
                && self.next_is_logical_or_stop(self.pos, comma)
            {
                let test = Test {
                    op,
                    case_sensitive: cs,
                    negated: neg,
                    values: vec![lexer::string_value(t.text(self.src))],
                    column: col,
                    lower,
                    regex: None,
                    mask: 0,
                }
                .with_mask(&self.names.universe);
                return Pred::Atom(Atom::Product(test), (start, self.prev_end(start)));
            }
            self.pos = save;
            self.skip_term(comma);
            return other_atom(start, self.prev_end(start));
        }
        let column = self.column();
        if let Some((name, None)) = &column
            && self.computed.contains_key(name.as_str())
            && let Some(p) = self.computed_filter(&name.clone(), comma)
        {
            self.skip_term(comma);
            return p;
        }
        let op = if column.is_some() {
            self.string_op()
        } else {
            None
        };
        let (Some((col, lower)), Some((op, cs, negated))) = (column, op) else {
            // Not a comparison of a column with values: a function call,
            // arithmetic, a boolean column.
            self.pos = start_tok;
            self.skip_term(comma);
            return other_atom(start, self.prev_end(start));
        };
        if !self.is_product_column(&col) {
            // The values matter only for columns that carry a weak signal
            // (alert names, vendor) or name a union's source table.
            let values = if self.is_signal_column(&col) {
                self.rhs_values(comma).unwrap_or_default()
            } else {
                Vec::new()
            };
            self.skip_term(comma);
            let span = (start, self.prev_end(start));
            return Pred::Atom(
                Atom::Other {
                    column: Some(col),
                    op: Some(op),
                    negated,
                    values,
                },
                span,
            );
        }
        let values = self.rhs_values(comma);
        // Whatever follows in this term (`ProductName == x + 1`) is skipped.
        let clean = self.next_is_logical_or_stop(self.pos, comma);
        self.skip_term(comma);
        let span = (start, self.prev_end(start));
        match values {
            Ok(values) if clean => {
                let regex = if op == Op::Regex {
                    match values
                        .first()
                        .and_then(|v| regex::RegexBuilder::new(v).size_limit(1 << 20).build().ok())
                    {
                        Some(r) => Some(r),
                        None => {
                            return Pred::Atom(
                                Atom::ProductUnknown {
                                    column: col,
                                    why: "a regular expression the classifier cannot read".into(),
                                },
                                span,
                            );
                        }
                    }
                } else {
                    None
                };
                Pred::Atom(
                    Atom::Product(
                        Test {
                            op,
                            case_sensitive: cs,
                            negated,
                            values,
                            column: col,
                            lower,
                            regex,
                            mask: 0,
                        }
                        .with_mask(&self.names.universe),
                    ),
                    span,
                )
            }
            Ok(_) => Pred::Atom(
                Atom::ProductUnknown {
                    column: col,
                    why: "an expression, not a plain value".into(),
                },
                span,
            ),
            Err(why) => Pred::Atom(Atom::ProductUnknown { column: col, why }, span),
        }
    }
}

fn other_atom(start: u32, end: u32) -> Pred {
    Pred::Atom(
        Atom::Other {
            column: None,
            op: None,
            negated: false,
            values: Vec::new(),
        },
        (start, end.max(start)),
    )
}

/// ASCII-lowercases a word into `buf` without allocating. Keywords are
/// short: a longer word comes back empty and matches none.
fn lower<'b>(word: &'b str, buf: &'b mut [u8; 24]) -> &'b str {
    let bytes = word.as_bytes();
    if !bytes.iter().any(u8::is_ascii_uppercase) {
        return word;
    }
    if bytes.len() > buf.len() {
        return "";
    }
    for (d, s) in buf.iter_mut().zip(bytes) {
        *d = s.to_ascii_lowercase();
    }
    std::str::from_utf8(&buf[..bytes.len()]).unwrap_or("")
}

/// An operator name, kept on the stack.
#[derive(Clone, Copy)]
struct Word {
    buf: [u8; 24],
    len: usize,
}

impl Word {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

trait SmallOwned {
    fn to_owned_small(&self) -> Word;
}

impl SmallOwned for &str {
    fn to_owned_small(&self) -> Word {
        let mut buf = [0u8; 24];
        let len = self.len().min(24);
        buf[..len].copy_from_slice(&self.as_bytes()[..len]);
        Word { buf, len }
    }
}
