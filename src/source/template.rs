//! ARM template expressions (`[concat(parameters('workspace'), '/x')]`),
//! evaluated as far as the inputs allow.
//!
//! Only what Sentinel exports use is understood: string literals, numbers,
//! `concat`, `format`, `toLower`, `toUpper`, `string`, `parameters` and
//! `variables`. Anything else (`newGuid()`, `uniqueString(...)`,
//! `resourceGroup()`) is unknown, and stays visible as its expression.
//!
//! A parameter's value is *pinned* only when a parameters file deployed with
//! the template gives it; a `defaultValue` is a placeholder for whoever
//! deploys the template, so a value resting on one is not pinned.

use crate::model::{Origin, TextSpan, Unfixed};
use serde_json::Value;
use std::collections::BTreeMap;

/// Where a parameter's value comes from.
#[derive(Debug, Clone, Default)]
pub struct Parameter {
    pub value: Option<Value>,
    /// The parameters file (and place) that pins the value, if any.
    pub pinned_by: Option<Origin>,
    /// Where each string in the value a parameters file gives is written,
    /// by JSON pointer inside the value (`""`: the value itself).
    pub leaves: BTreeMap<String, (Origin, TextSpan)>,
    /// The parameters file gives a Key Vault reference here instead of a value.
    pub reference: Option<Origin>,
}

/// What an expression needs to be evaluated.
#[derive(Debug, Default)]
pub struct Scope {
    pub parameters: BTreeMap<String, Parameter>,
    pub variables: BTreeMap<String, Value>,
}

/// A piece of an evaluated string: known text, or an expression that could
/// not be evaluated (kept as written).
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Known(String),
    Unknown(String),
}

/// Characters `start..start + len` of a string value and where they sit:
/// from 1-based `line` and `column` of the string a parameters file gives
/// (`given`: its path and span), or, when `given` is None, of the
/// expression evaluated (a literal in it).
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub start: usize,
    pub len: usize,
    pub line: usize,
    pub column: usize,
    pub given: Option<(String, TextSpan)>,
}

/// The result of evaluating an expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    /// The value, when fully known (a string value may also be read piecewise).
    pub value: Option<Value>,
    /// The string pieces, for names built with `concat`.
    pub pieces: Vec<Piece>,
    /// What the value rests on that the inputs do not fix: parameters with
    /// no value or only a defaultValue, Key Vault references, expressions
    /// not evaluated. Empty when every parameter is pinned by a parameters file.
    pub unfixed: Vec<Unfixed>,
    /// The parameters file that pinned it (the first one met).
    pub pinned_by: Option<Origin>,
    /// Where the parts of a string value sit: in a parameters file, or in
    /// the expression's literals.
    pub segments: Vec<Part>,
    /// A value a parameters file gives, or a part of one: the parameter and
    /// the JSON pointer inside its value.
    given_at: Option<(String, String)>,
}

impl Evaluated {
    fn known(value: Value) -> Self {
        let pieces = match &value {
            Value::String(s) => vec![Piece::Known(s.clone())],
            other => vec![Piece::Known(other.to_string())],
        };
        Evaluated {
            value: Some(value),
            pieces,
            unfixed: Vec::new(),
            pinned_by: None,
            segments: Vec::new(),
            given_at: None,
        }
    }

    fn unknown(text: &str) -> Self {
        Self::not_fixed(
            text,
            Unfixed::Unevaluated {
                expression: text.to_string(),
            },
        )
    }

    fn not_fixed(text: &str, why: Unfixed) -> Self {
        Evaluated {
            value: None,
            pieces: vec![Piece::Unknown(text.to_string())],
            unfixed: vec![why],
            pinned_by: None,
            segments: Vec::new(),
            given_at: None,
        }
    }

    /// Whether the inputs fix the value: every parameter it rests on is
    /// pinned by a parameters file.
    pub fn pinned(&self) -> bool {
        self.unfixed.is_empty()
    }

    /// For a string a parameters file gives (or one inside an object or
    /// array it gives): where it is written.
    fn at_leaf(&mut self, scope: &Scope) {
        let Some((key, pointer)) = &self.given_at else {
            return;
        };
        let Some(Value::String(s)) = &self.value else {
            return;
        };
        if let Some((origin, span)) = scope
            .parameters
            .get(key)
            .and_then(|p| p.leaves.get(pointer))
        {
            self.pinned_by = Some(origin.clone());
            self.segments = vec![Part {
                start: 0,
                len: s.chars().count(),
                line: 1,
                column: 1,
                given: Some((origin.path.clone(), span.clone())),
            }];
        }
    }

    /// A member or element of a value a parameters file gives: where it is.
    fn descend(&mut self, from: &Evaluated, step: &Value, scope: &Scope) {
        if let Some((key, pointer)) = &from.given_at {
            let step = match step {
                Value::String(s) => s.replace('~', "~0").replace('/', "~1"),
                other => other.to_string(),
            };
            self.given_at = Some((key.clone(), format!("{pointer}/{step}")));
            self.at_leaf(scope);
        }
    }

    /// Takes what `parts` rest on (a value built from them).
    fn rests_on(mut self, parts: &[Evaluated]) -> Self {
        for p in parts {
            for u in &p.unfixed {
                if !self.unfixed.contains(u) {
                    self.unfixed.push(u.clone());
                }
            }
            if self.pinned_by.is_none() {
                self.pinned_by = p.pinned_by.clone();
            }
        }
        self
    }
}

/// Whether a JSON string is an ARM expression (`[...]`, but not the `[[`
/// escape of a literal bracket).
pub fn is_expression(s: &str) -> bool {
    let t = s.trim();
    t.starts_with('[') && t.ends_with(']') && !t.starts_with("[[")
}

/// A literal string that starts with `[[` stands for one `[`.
pub fn unescape_literal(s: &str) -> String {
    if s.trim_start().starts_with("[[") {
        s.replacen("[[", "[", 1)
    } else {
        s.to_string()
    }
}

#[derive(Debug, Clone)]
enum Expr {
    /// A string literal and where its runs of characters sit in the
    /// expression (a `''` escape ends a run).
    Str(String, Vec<Run>),
    Num(i64),
    Call(String, Vec<Expr>, String),
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
}

/// Characters `start..start + len` of a literal's value, which begin at
/// 1-based `line` and `column` of the expression text.
#[derive(Debug, Clone)]
struct Run {
    start: usize,
    len: usize,
    line: usize,
    column: usize,
}

const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    src: &'a str,
    /// The whole expression text and where `src` starts in it (bytes).
    full: &'a str,
    base: usize,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    /// The 1-based line and column of the current position in the whole text.
    fn line_col(&self) -> (usize, usize) {
        let before = &self.full[..(self.base + self.pos).min(self.full.len())];
        let line = 1 + before.matches('\n').count();
        let column = 1 + before.rsplit('\n').next().unwrap_or("").chars().count();
        (line, column)
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Option<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.skip_ws();
        let start = self.pos;
        let mut e = match self.peek()? {
            '\'' => {
                self.pos += 1;
                let mut s = String::new();
                let mut runs = Vec::new();
                let (mut run_start, mut n) = (0, 0);
                let mut at = self.line_col();
                loop {
                    let c = self.peek()?;
                    if c == '\'' {
                        if n > run_start {
                            runs.push(Run {
                                start: run_start,
                                len: n - run_start,
                                line: at.0,
                                column: at.1,
                            });
                        }
                        self.pos += 1;
                        if self.peek() == Some('\'') {
                            self.pos += 1;
                            s.push('\'');
                            n += 1;
                            run_start = n;
                            at = self.line_col();
                        } else {
                            break;
                        }
                    } else {
                        self.pos += c.len_utf8();
                        s.push(c);
                        n += 1;
                    }
                }
                Expr::Str(s, runs)
            }
            c if c.is_ascii_digit() || c == '-' => {
                self.pos += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
                Expr::Num(self.src[start..self.pos].parse().ok()?)
            }
            c if c.is_alphabetic() || c == '_' => {
                // A name may hold any letter: stepped a character at a time.
                while let Some(c) = self
                    .peek()
                    .filter(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                {
                    self.pos += c.len_utf8();
                }
                let name = self.src[start..self.pos].to_string();
                if !self.eat('(') {
                    return None;
                }
                let mut args = Vec::new();
                if !self.eat(')') {
                    loop {
                        args.push(self.expr()?);
                        if self.eat(')') {
                            break;
                        }
                        if !self.eat(',') {
                            return None;
                        }
                    }
                }
                let text = self.src[start..self.pos].to_string();
                Expr::Call(name, args, text)
            }
            _ => return None,
        };
        loop {
            self.skip_ws();
            if self.eat('.') {
                let start = self.pos;
                while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
                    self.pos += c.len_utf8();
                }
                e = Expr::Member(Box::new(e), self.src[start..self.pos].to_string());
            } else if self.peek() == Some('[') {
                self.pos += 1;
                let index = self.expr()?;
                if !self.eat(']') {
                    return None;
                }
                e = Expr::Index(Box::new(e), Box::new(index));
            } else {
                break;
            }
        }
        self.depth -= 1;
        Some(e)
    }
}

fn parse(expression: &str) -> Option<Expr> {
    let trimmed = expression.trim();
    let inner = trimmed.strip_prefix('[')?.strip_suffix(']')?;
    let mut p = Parser {
        src: inner,
        full: expression,
        base: expression.len() - expression.trim_start().len() + 1,
        pos: 0,
        depth: 0,
    };
    let e = p.expr()?;
    p.skip_ws();
    (p.pos == inner.len()).then_some(e)
}

/// Evaluates an expression string (`[...]`) in `scope`.
pub fn evaluate(expression: &str, scope: &Scope) -> Evaluated {
    evaluate_at(expression, scope, 0)
}

fn evaluate_at(expression: &str, scope: &Scope, depth: usize) -> Evaluated {
    match parse(expression) {
        Some(e) => eval(&e, scope, depth),
        None => Evaluated::unknown(expression.trim()),
    }
}

/// Evaluates a JSON value that may hold expressions (a variable's value):
/// strings that are expressions are evaluated, objects and arrays member
/// by member.
fn eval_json(v: &Value, scope: &Scope, depth: usize) -> Evaluated {
    if depth > MAX_DEPTH {
        return Evaluated::unknown("…");
    }
    match v {
        Value::String(s) if is_expression(s) => evaluate_at(s, scope, depth + 1),
        Value::String(s) => Evaluated::known(Value::String(unescape_literal(s))),
        Value::Array(items) => {
            let parts: Vec<Evaluated> = items
                .iter()
                .map(|i| eval_json(i, scope, depth + 1))
                .collect();
            let value = parts
                .iter()
                .map(|p| p.value.clone())
                .collect::<Option<Vec<_>>>();
            whole(value.map(Value::Array), v, &parts)
        }
        Value::Object(map) => {
            let parts: Vec<(String, Evaluated)> = map
                .iter()
                .map(|(k, i)| (k.clone(), eval_json(i, scope, depth + 1)))
                .collect();
            let value = parts
                .iter()
                .map(|(k, p)| p.value.clone().map(|v| (k.clone(), v)))
                .collect::<Option<serde_json::Map<_, _>>>();
            let parts: Vec<Evaluated> = parts.into_iter().map(|(_, p)| p).collect();
            whole(value.map(Value::Object), v, &parts)
        }
        other => Evaluated::known(other.clone()),
    }
}

/// A composite value from its parts (unknown if any part is).
fn whole(value: Option<Value>, written: &Value, parts: &[Evaluated]) -> Evaluated {
    let base = match value {
        Some(v) => Evaluated::known(v),
        None => Evaluated {
            value: None,
            pieces: vec![Piece::Unknown(written.to_string())],
            unfixed: Vec::new(),
            pinned_by: None,
            segments: Vec::new(),
            given_at: None,
        },
    };
    base.rests_on(parts)
}

/// A value picked out of `from` (a member, an element), resting on what
/// `from` and the index rest on.
fn picked(found: Value, parts: &[Evaluated]) -> Evaluated {
    Evaluated::known(found).rests_on(parts)
}

fn eval(e: &Expr, scope: &Scope, depth: usize) -> Evaluated {
    if depth > MAX_DEPTH {
        return Evaluated::unknown("…");
    }
    match e {
        Expr::Str(s, runs) => {
            let mut ev = Evaluated::known(Value::String(s.clone()));
            ev.segments = runs
                .iter()
                .map(|r| Part {
                    start: r.start,
                    len: r.len,
                    line: r.line,
                    column: r.column,
                    given: None,
                })
                .collect();
            ev
        }
        Expr::Num(n) => Evaluated::known(Value::from(*n)),
        Expr::Member(inner, name) => {
            let v = eval(inner, scope, depth + 1);
            match v.value.as_ref().and_then(|o| o.get(name)) {
                Some(found) => {
                    let mut ev = picked(found.clone(), std::slice::from_ref(&v));
                    ev.descend(&v, &Value::String(name.clone()), scope);
                    ev
                }
                None => unknown_from(&format!("{}.{name}", describe(inner)), &[v]),
            }
        }
        Expr::Index(inner, index) => {
            let v = eval(inner, scope, depth + 1);
            let i = eval(index, scope, depth + 1);
            let found = match (v.value.as_ref(), i.value.as_ref()) {
                (Some(Value::Array(a)), Some(Value::Number(n))) => {
                    n.as_u64().and_then(|n| a.get(n as usize)).cloned()
                }
                (Some(Value::Object(o)), Some(Value::String(k))) => o.get(k).cloned(),
                _ => None,
            };
            match found {
                Some(f) => {
                    let mut ev = picked(f, &[v.clone(), i.clone()]);
                    if let Some(step) = &i.value {
                        ev.descend(&v, step, scope);
                    }
                    ev
                }
                None => unknown_from(&describe(e), &[v, i]),
            }
        }
        Expr::Call(name, args, text) => call(name, args, text, scope, depth),
    }
}

/// An unknown value: what its parts rest on when they say, else the
/// expression itself.
fn unknown_from(text: &str, parts: &[Evaluated]) -> Evaluated {
    if parts.iter().any(|p| !p.unfixed.is_empty()) {
        let mut ev = Evaluated::unknown(text);
        ev.unfixed.clear();
        ev.rests_on(parts)
    } else {
        Evaluated::unknown(text)
    }
}

fn describe(e: &Expr) -> String {
    match e {
        Expr::Str(s, _) => format!("'{}'", s.replace('\'', "''")),
        Expr::Num(n) => n.to_string(),
        Expr::Call(_, _, text) => text.clone(),
        Expr::Member(inner, name) => format!("{}.{name}", describe(inner)),
        Expr::Index(inner, i) => format!("{}[{}]", describe(inner), describe(i)),
    }
}

/// String parts joined: the value when every part is known, the segments
/// shifted to where each part lands.
fn joined(parts: &[Evaluated]) -> (Option<String>, Vec<Part>) {
    let mut out = String::new();
    let mut segments = Vec::new();
    let mut at = 0;
    for p in parts {
        let Some(v) = &p.value else {
            return (None, Vec::new());
        };
        let text = scalar_text(v);
        segments.extend(p.segments.iter().map(|s| Part {
            start: s.start + at,
            ..s.clone()
        }));
        at += text.chars().count();
        out.push_str(&text);
    }
    (Some(out), segments)
}

fn call(name: &str, args: &[Expr], text: &str, scope: &Scope, depth: usize) -> Evaluated {
    let lower = name.to_ascii_lowercase();
    let arg_values: Vec<Evaluated> = args.iter().map(|a| eval(a, scope, depth + 1)).collect();
    match lower.as_str() {
        "parameters" => {
            let Some(Value::String(key)) = arg_values.first().and_then(|a| a.value.clone()) else {
                return unknown_from(text, &arg_values);
            };
            let Some(p) = scope.parameters.get(&key) else {
                return Evaluated::not_fixed(text, Unfixed::NoValue { parameter: key });
            };
            if let Some(at) = &p.reference {
                return Evaluated::not_fixed(
                    text,
                    Unfixed::Reference {
                        parameter: key,
                        at: at.clone(),
                    },
                );
            }
            match (&p.value, &p.pinned_by) {
                (None, _) => Evaluated::not_fixed(text, Unfixed::NoValue { parameter: key }),
                (Some(v), Some(by)) => {
                    let mut ev = Evaluated::known(v.clone());
                    ev.pinned_by = Some(by.clone());
                    ev.given_at = Some((key, String::new()));
                    ev.at_leaf(scope);
                    ev
                }
                (Some(v), None) => {
                    let why = Unfixed::DefaultOnly {
                        parameter: key,
                        default: v.clone(),
                    };
                    // A default may itself be an expression (`[newGuid()]`).
                    let mut ev = if let Value::String(s) = v
                        && is_expression(s)
                    {
                        let inner = evaluate_at(s, scope, depth + 1);
                        if inner.value.is_none() {
                            Evaluated::not_fixed(text, why.clone())
                        } else {
                            inner
                        }
                    } else {
                        Evaluated::known(v.clone())
                    };
                    if !ev.unfixed.contains(&why) {
                        ev.unfixed.insert(0, why);
                    }
                    ev.segments.clear();
                    ev
                }
            }
        }
        "variables" => {
            let Some(Value::String(key)) = arg_values.first().and_then(|a| a.value.clone()) else {
                return unknown_from(text, &arg_values);
            };
            match scope.variables.get(&key) {
                Some(v) => {
                    let mut ev = eval_json(v, scope, depth + 1);
                    // Its literals sit in the variable, not in this expression.
                    ev.segments.retain(|p| p.given.is_some());
                    if ev.value.is_none() {
                        unknown_from(text, &[ev])
                    } else {
                        ev
                    }
                }
                None => Evaluated::unknown(text),
            }
        }
        "concat" => {
            // Arrays concatenate as arrays; everything else as strings.
            if arg_values
                .iter()
                .any(|a| matches!(a.value, Some(Value::Array(_))))
            {
                let mut out = Vec::new();
                for a in &arg_values {
                    match &a.value {
                        Some(Value::Array(items)) => out.extend(items.iter().cloned()),
                        _ => return unknown_from(text, &arg_values),
                    }
                }
                return Evaluated::known(Value::Array(out)).rests_on(&arg_values);
            }
            let mut pieces = Vec::new();
            for a in &arg_values {
                pieces.extend(a.pieces.iter().cloned());
            }
            let (value, segments) = joined(&arg_values);
            Evaluated {
                value: value.map(Value::String),
                pieces,
                unfixed: Vec::new(),
                pinned_by: None,
                segments,
                given_at: None,
            }
            .rests_on(&arg_values)
        }
        "format" => {
            let Some(Value::String(fmt)) = arg_values.first().and_then(|a| a.value.clone()) else {
                return unknown_from(text, &arg_values);
            };
            match format_parts(&arg_values[0], &fmt, &arg_values[1..]) {
                Some(parts) => match joined(&parts) {
                    (Some(v), segments) => {
                        let mut ev = Evaluated::known(Value::String(v));
                        ev.segments = segments;
                        ev.rests_on(&arg_values)
                    }
                    (None, _) => unknown_from(text, &arg_values),
                },
                None => unknown_from(text, &arg_values),
            }
        }
        "tolower" | "toupper" | "string" => match arg_values.into_iter().next() {
            Some(a) if a.value.is_some() => {
                let s = scalar_text(a.value.as_ref().unwrap_or(&Value::Null));
                let s2 = match lower.as_str() {
                    "tolower" => s.to_lowercase(),
                    "toupper" => s.to_uppercase(),
                    _ => s.clone(),
                };
                let mut ev = Evaluated::known(Value::String(s2.clone()));
                // Positions carry over only when no character changed width.
                if s.chars().count() == s2.chars().count()
                    && a.value.as_ref().is_some_and(Value::is_string)
                {
                    ev.segments = a.segments.clone();
                }
                ev.rests_on(&[a])
            }
            Some(a) => unknown_from(text, &[a]),
            None => Evaluated::unknown(text),
        },
        "true" if args.is_empty() => Evaluated::known(Value::Bool(true)),
        "false" if args.is_empty() => Evaluated::known(Value::Bool(false)),
        _ => unknown_from(text, &arg_values),
    }
}

/// The parts `format` joins: literal text between the `{n}` placeholders
/// (`{{` and `}}` stand for braces), keeping where each literal sits, and
/// the arguments they name. `None` when the format names an argument not
/// given or uses a format specifier.
fn format_parts(format: &Evaluated, fmt: &str, args: &[Evaluated]) -> Option<Vec<Evaluated>> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut parts = Vec::new();
    let mut chunk_start = 0;
    let flush = |parts: &mut Vec<Evaluated>, from: usize, to: usize| {
        let mut ev = Evaluated::known(Value::String(chars[from..to].iter().collect()));
        ev.segments = slice(&format.segments, &chars, from, to - from);
        parts.push(ev);
    };
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            c @ ('{' | '}') if chars.get(i + 1) == Some(&c) => {
                flush(&mut parts, chunk_start, i);
                parts.push(Evaluated::known(Value::String(c.to_string())));
                i += 2;
                chunk_start = i;
            }
            '{' => {
                flush(&mut parts, chunk_start, i);
                let close = i + chars[i..].iter().position(|c| *c == '}')?;
                let n: String = chars[i + 1..close].iter().collect();
                if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                parts.push(args.get(n.parse::<usize>().ok()?)?.clone());
                i = close + 1;
                chunk_start = i;
            }
            _ => i += 1,
        }
    }
    flush(&mut parts, chunk_start, chars.len());
    Some(parts)
}

/// The parts of `parts` (over `text`) within characters `from..from + len`,
/// counted from `from`.
fn slice(parts: &[Part], text: &[char], from: usize, len: usize) -> Vec<Part> {
    let end = from + len;
    parts
        .iter()
        .filter(|p| len > 0 && p.start < end && p.start + p.len > from)
        .map(|p| {
            let start = p.start.max(from);
            let (mut line, mut column) = (p.line, p.column);
            for c in text.get(p.start..start).unwrap_or_default() {
                if *c == '\n' {
                    line += 1;
                    column = 1;
                } else {
                    column += 1;
                }
            }
            Part {
                start: start - from,
                len: (p.start + p.len).min(end) - start,
                line,
                column,
                given: p.given.clone(),
            }
        })
        .collect()
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The last `/`-separated segment of an evaluated name: the resource name.
/// `None` when an unknown piece sits inside it; then `unknown` holds that
/// piece's expression.
pub fn last_segment(pieces: &[Piece]) -> Result<String, String> {
    let mut out: Vec<String> = Vec::new();
    for piece in pieces.iter().rev() {
        match piece {
            Piece::Known(s) => {
                if let Some((_, tail)) = s.rsplit_once('/') {
                    out.push(tail.to_string());
                    break;
                }
                out.push(s.clone());
            }
            Piece::Unknown(expr) => {
                if out.iter().all(|s| s.is_empty()) {
                    return Err(format!("[{expr}]"));
                }
                return Err(format!(
                    "[{expr}]{}",
                    out.iter().rev().cloned().collect::<String>()
                ));
            }
        }
    }
    Ok(out.into_iter().rev().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Scope {
        let mut s = Scope::default();
        s.parameters.insert(
            "workspace".into(),
            Parameter {
                value: None,
                pinned_by: None,
                ..Default::default()
            },
        );
        s.parameters.insert(
            "productFilter".into(),
            Parameter {
                value: Some(json!("Azure Security Center")),
                pinned_by: None,
                ..Default::default()
            },
        );
        s.parameters.insert(
            "pinned".into(),
            Parameter {
                value: Some(json!("abc")),
                pinned_by: Some(Origin {
                    path: "p.json".into(),
                    line: 3,
                    column: 5,
                }),
                ..Default::default()
            },
        );
        s.parameters.insert(
            "ruleGuid".into(),
            Parameter {
                value: Some(json!("[newGuid()]")),
                pinned_by: None,
                ..Default::default()
            },
        );
        s.variables.insert(
            "ascRuleId".into(),
            json!("[concat('asc', uniqueString(parameters('ruleGuid')))]"),
        );
        s.variables.insert("plain".into(), json!("v-1"));
        s
    }

    #[test]
    fn portal_export_names() {
        let ev = evaluate(
            "[concat(parameters('workspace'),'/Microsoft.SecurityInsights/757b4264-f393')]",
            &scope(),
        );
        assert_eq!(ev.value, None);
        assert_eq!(last_segment(&ev.pieces), Ok("757b4264-f393".into()));
    }

    #[test]
    fn names_with_letters_beyond_ascii_never_split_a_character() {
        for text in [
            "[éconcat(parameters('workspaceName'),'/x')]",
            "[concaté(parameters('w'))]",
            "[parameters('w').propriété]",
            "[variables('v').ñ.ü]",
        ] {
            // Not evaluated (unknown functions, members of nothing): no panic.
            let ev = evaluate(text, &scope());
            assert_eq!(ev.value, None, "{text}");
        }
    }

    #[test]
    fn unknown_names_keep_their_expression() {
        let ev = evaluate(
            "[concat(parameters('workspaceName'),'/Microsoft.SecurityInsights/',variables('ascRuleId'))]",
            &scope(),
        );
        assert_eq!(
            last_segment(&ev.pieces),
            Err("[variables('ascRuleId')]".into())
        );
        let ev = evaluate(
            "[concat(parameters('w'),'/Microsoft.SecurityInsights/',variables('plain'))]",
            &scope(),
        );
        assert_eq!(last_segment(&ev.pieces), Ok("v-1".into()));
    }

    #[test]
    fn defaults_are_not_pinned_but_parameter_files_are() {
        let ev = evaluate("[parameters('productFilter')]", &scope());
        assert_eq!(ev.value, Some(json!("Azure Security Center")));
        assert!(!ev.pinned());
        let ev = evaluate("[toLower(parameters('pinned'))]", &scope());
        assert_eq!(ev.value, Some(json!("abc")));
        assert!(ev.pinned());
        assert_eq!(ev.pinned_by.unwrap().line, 3);
        let ev = evaluate("[format('{0}-{1}', 'a', 2)]", &scope());
        assert_eq!(ev.value, Some(json!("a-2")));
        assert!(ev.pinned());
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "[",
            "[]",
            "[concat(]",
            "['unterminated]",
            "[a.b.c(1,,2)]",
            "[x()[0].y]",
            "[concat('a', 'b') trailing]",
            "[-]",
            "[99999999999999999999999]",
        ] {
            let _ = evaluate(s, &scope());
        }
        let deep = format!("[{}'x'{}]", "concat(".repeat(500), ")".repeat(500));
        assert_eq!(evaluate(&deep, &scope()).value, None);
    }

    fn given(value: Value, line: usize) -> Parameter {
        Parameter {
            value: Some(value),
            pinned_by: Some(Origin {
                path: "t.parameters.json".into(),
                line,
                column: 16,
            }),
            leaves: [(
                String::new(),
                (
                    Origin {
                        path: "t.parameters.json".into(),
                        line,
                        column: 16,
                    },
                    TextSpan::JsonString {
                        line,
                        column: 17,
                        raw: String::new(),
                    },
                ),
            )]
            .into(),
            reference: None,
        }
    }

    #[test]
    fn what_a_value_rests_on_is_named() {
        let mut s = scope();
        s.variables
            .insert("q".into(), json!("[parameters('ruleQuery')]"));
        s.variables
            .insert("cfg".into(), json!({"query": "[parameters('ruleQuery')]"}));
        // Through a variable, a member of an object variable, concat, format.
        for expression in [
            "[variables('q')]",
            "[variables('cfg').query]",
            "[concat('SecurityAlert | where ProductName == ', parameters('ruleQuery'))]",
            "[format('{0} | where {1}', 'SecurityAlert', parameters('ruleQuery'))]",
            "[toLower(parameters('ruleQuery'))]",
        ] {
            let ev = evaluate(expression, &s);
            assert_eq!(ev.value, None, "{expression}");
            assert_eq!(
                ev.unfixed,
                vec![Unfixed::NoValue {
                    parameter: "ruleQuery".into()
                }],
                "{expression}"
            );
        }
        // A default gives a value, but not a fixed one.
        let ev = evaluate("[concat('x', parameters('productFilter'))]", &s);
        assert_eq!(ev.value, Some(json!("xAzure Security Center")));
        assert!(
            matches!(&ev.unfixed[..], [Unfixed::DefaultOnly { parameter, .. }] if parameter == "productFilter")
        );
        // A Key Vault reference overrides the default: unknown.
        s.parameters.get_mut("productFilter").unwrap().reference = Some(Origin {
            path: "p.json".into(),
            line: 4,
            column: 20,
        });
        let ev = evaluate("[parameters('productFilter')]", &s);
        assert_eq!(ev.value, None);
        assert!(
            matches!(&ev.unfixed[..], [Unfixed::Reference { parameter, .. }] if parameter == "productFilter")
        );
        // A function not evaluated is named as written.
        let ev = evaluate("[reference('x').query]", &s);
        assert!(
            matches!(&ev.unfixed[..], [Unfixed::Unevaluated { expression }] if expression == "reference('x')")
        );
    }

    #[test]
    fn given_values_keep_where_each_part_sits() {
        let mut s = scope();
        s.parameters
            .insert("table".into(), given(json!("SecurityAlert"), 5));
        s.parameters
            .insert("filter".into(), given(json!("ProductName == \"x\""), 8));
        s.variables
            .insert("q".into(), json!("[parameters('filter')]"));
        let ev = evaluate(
            "[format('{0}\n| where {1} {{}}', parameters('table'), variables('q'))]",
            &s,
        );
        assert_eq!(
            ev.value,
            Some(json!("SecurityAlert\n| where ProductName == \"x\" {}"))
        );
        assert!(ev.pinned());
        // Given parts: where in the parameters file; literal parts: where
        // in the expression (line and column of its text).
        let at: Vec<(usize, usize, usize, usize, Option<usize>)> = ev
            .segments
            .iter()
            .map(|g| {
                let file_line = g.given.as_ref().map(|(_, span)| match span {
                    TextSpan::JsonString { line, .. }
                    | TextSpan::JsonValue { line, .. }
                    | TextSpan::YamlBlock { line, .. } => *line,
                });
                (g.start, g.len, g.line, g.column, file_line)
            })
            .collect();
        assert_eq!(
            at,
            vec![
                (0, 13, 1, 1, Some(5)),
                (13, 9, 1, 13, None),
                (22, 18, 1, 1, Some(8)),
                // The space before `{{}}`, on the expression's second line;
                // the escaped braces have no place of their own.
                (40, 1, 2, 12, None),
            ]
        );
        let ev = evaluate("[concat('| ', parameters('table'))]", &s);
        assert_eq!((ev.segments[0].start, ev.segments[0].column), (0, 10));
        assert_eq!(ev.segments[1].start, 2);
        // A format that names an argument not given is not guessed at.
        assert_eq!(evaluate("[format('{1}', 'a')]", &s).value, None);
    }

    #[test]
    fn escapes() {
        assert!(!is_expression("[[not an expression]"));
        assert_eq!(unescape_literal("[[x]"), "[x]");
        assert_eq!(evaluate("['it''s']", &scope()).value, Some(json!("it's")));
    }
}
