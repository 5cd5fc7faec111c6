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

use crate::model::Origin;
use serde_json::Value;
use std::collections::BTreeMap;

/// Where a parameter's value comes from.
#[derive(Debug, Clone)]
pub struct Parameter {
    pub value: Option<Value>,
    /// The parameters file (and place) that pins the value, if any.
    pub pinned_by: Option<Origin>,
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

/// The result of evaluating an expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    /// The value, when fully known (a string value may also be read piecewise).
    pub value: Option<Value>,
    /// The string pieces, for names built with `concat`.
    pub pieces: Vec<Piece>,
    /// Whether every parameter the value rests on is pinned by a parameters file.
    pub pinned: bool,
    /// The parameters file that pinned it (the first one met).
    pub pinned_by: Option<Origin>,
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
            pinned: true,
            pinned_by: None,
        }
    }

    fn unknown(text: &str) -> Self {
        Evaluated {
            value: None,
            pieces: vec![Piece::Unknown(text.to_string())],
            pinned: false,
            pinned_by: None,
        }
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
    Str(String),
    Num(i64),
    Call(String, Vec<Expr>, String),
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
}

const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
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
                loop {
                    let c = self.peek()?;
                    self.pos += c.len_utf8();
                    if c == '\'' {
                        if self.peek() == Some('\'') {
                            self.pos += 1;
                            s.push('\'');
                        } else {
                            break;
                        }
                    } else {
                        s.push(c);
                    }
                }
                Expr::Str(s)
            }
            c if c.is_ascii_digit() || c == '-' => {
                self.pos += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
                Expr::Num(self.src[start..self.pos].parse().ok()?)
            }
            c if c.is_alphabetic() || c == '_' => {
                while self
                    .peek()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
                {
                    self.pos += 1;
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
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.pos += 1;
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
    let inner = expression.trim().strip_prefix('[')?.strip_suffix(']')?;
    let mut p = Parser {
        src: inner,
        pos: 0,
        depth: 0,
    };
    let e = p.expr()?;
    p.skip_ws();
    (p.pos == inner.len()).then_some(e)
}

/// Evaluates an expression string (`[...]`) in `scope`.
pub fn evaluate(expression: &str, scope: &Scope) -> Evaluated {
    match parse(expression) {
        Some(e) => eval(&e, scope, 0),
        None => Evaluated::unknown(expression.trim()),
    }
}

fn combine(parts: Vec<Evaluated>) -> (bool, Option<Origin>) {
    let pinned = parts.iter().all(|p| p.pinned);
    let by = parts.into_iter().find_map(|p| p.pinned_by);
    (pinned, by)
}

fn eval(e: &Expr, scope: &Scope, depth: usize) -> Evaluated {
    if depth > MAX_DEPTH {
        return Evaluated::unknown("…");
    }
    match e {
        Expr::Str(s) => Evaluated::known(Value::String(s.clone())),
        Expr::Num(n) => Evaluated::known(Value::from(*n)),
        Expr::Member(inner, name) => {
            let v = eval(inner, scope, depth + 1);
            match v.value.as_ref().and_then(|v| v.get(name)) {
                Some(found) => Evaluated {
                    value: Some(found.clone()),
                    pieces: Evaluated::known(found.clone()).pieces,
                    ..v
                },
                None => Evaluated::unknown(&format!("{}.{name}", describe(inner))),
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
                    let (pinned, pinned_by) = combine(vec![v, i]);
                    Evaluated {
                        pieces: Evaluated::known(f.clone()).pieces,
                        value: Some(f),
                        pinned,
                        pinned_by,
                    }
                }
                None => Evaluated::unknown(&describe(e)),
            }
        }
        Expr::Call(name, args, text) => call(name, args, text, scope, depth),
    }
}

fn describe(e: &Expr) -> String {
    match e {
        Expr::Str(s) => format!("'{}'", s.replace('\'', "''")),
        Expr::Num(n) => n.to_string(),
        Expr::Call(_, _, text) => text.clone(),
        Expr::Member(inner, name) => format!("{}.{name}", describe(inner)),
        Expr::Index(inner, i) => format!("{}[{}]", describe(inner), describe(i)),
    }
}

fn call(name: &str, args: &[Expr], text: &str, scope: &Scope, depth: usize) -> Evaluated {
    let lower = name.to_ascii_lowercase();
    let arg_values: Vec<Evaluated> = args.iter().map(|a| eval(a, scope, depth + 1)).collect();
    match lower.as_str() {
        "parameters" => {
            let Some(Value::String(key)) = arg_values.first().and_then(|a| a.value.clone()) else {
                return Evaluated::unknown(text);
            };
            match scope.parameters.get(&key) {
                Some(Parameter {
                    value: Some(v),
                    pinned_by,
                }) => {
                    // A default may itself be an expression (`[newGuid()]`).
                    if let Value::String(s) = v
                        && is_expression(s)
                    {
                        let mut inner = evaluate(s, scope);
                        if inner.value.is_none() {
                            return Evaluated::unknown(text);
                        }
                        inner.pinned = inner.pinned && pinned_by.is_some();
                        return inner;
                    }
                    let mut ev = Evaluated::known(v.clone());
                    ev.pinned = pinned_by.is_some();
                    ev.pinned_by = pinned_by.clone();
                    ev
                }
                _ => Evaluated::unknown(text),
            }
        }
        "variables" => {
            let Some(Value::String(key)) = arg_values.first().and_then(|a| a.value.clone()) else {
                return Evaluated::unknown(text);
            };
            match scope.variables.get(&key) {
                Some(Value::String(s)) if is_expression(s) => {
                    let inner = parse(s).map(|e| eval(&e, scope, depth + 1));
                    match inner {
                        Some(ev) if ev.value.is_some() => ev,
                        _ => Evaluated::unknown(text),
                    }
                }
                Some(v) => Evaluated::known(v.clone()),
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
                        _ => return Evaluated::unknown(text),
                    }
                }
                let (pinned, pinned_by) = combine(arg_values);
                let mut ev = Evaluated::known(Value::Array(out));
                ev.pinned = pinned;
                ev.pinned_by = pinned_by;
                return ev;
            }
            let mut pieces = Vec::new();
            for a in &arg_values {
                pieces.extend(a.pieces.iter().cloned());
            }
            let value = if arg_values.iter().all(|a| a.value.is_some()) {
                Some(Value::String(
                    arg_values
                        .iter()
                        .map(|a| scalar_text(a.value.as_ref().unwrap_or(&Value::Null)))
                        .collect(),
                ))
            } else {
                None
            };
            let (pinned, pinned_by) = combine(arg_values);
            Evaluated {
                value,
                pieces,
                pinned,
                pinned_by,
            }
        }
        "format" => {
            let Some(Value::String(fmt)) = arg_values.first().and_then(|a| a.value.clone()) else {
                return Evaluated::unknown(text);
            };
            let rest = &arg_values[1..];
            if rest.iter().any(|a| a.value.is_none()) {
                return Evaluated::unknown(text);
            }
            let mut out = fmt.clone();
            for (i, a) in rest.iter().enumerate() {
                out = out.replace(
                    &format!("{{{i}}}"),
                    &scalar_text(a.value.as_ref().unwrap_or(&Value::Null)),
                );
            }
            let (pinned, pinned_by) = combine(arg_values);
            let mut ev = Evaluated::known(Value::String(out));
            ev.pinned = pinned;
            ev.pinned_by = pinned_by;
            ev
        }
        "tolower" | "toupper" | "string" => match arg_values.into_iter().next() {
            Some(a) if a.value.is_some() => {
                let s = scalar_text(a.value.as_ref().unwrap_or(&Value::Null));
                let s = match lower.as_str() {
                    "tolower" => s.to_lowercase(),
                    "toupper" => s.to_uppercase(),
                    _ => s,
                };
                let mut ev = Evaluated::known(Value::String(s));
                ev.pinned = a.pinned;
                ev.pinned_by = a.pinned_by;
                ev
            }
            _ => Evaluated::unknown(text),
        },
        "true" if args.is_empty() => Evaluated::known(Value::Bool(true)),
        "false" if args.is_empty() => Evaluated::known(Value::Bool(false)),
        _ => Evaluated::unknown(text),
    }
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
            },
        );
        s.parameters.insert(
            "productFilter".into(),
            Parameter {
                value: Some(json!("Azure Security Center")),
                pinned_by: None,
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
            },
        );
        s.parameters.insert(
            "ruleGuid".into(),
            Parameter {
                value: Some(json!("[newGuid()]")),
                pinned_by: None,
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
        assert!(!ev.pinned);
        let ev = evaluate("[toLower(parameters('pinned'))]", &scope());
        assert_eq!(ev.value, Some(json!("abc")));
        assert!(ev.pinned);
        assert_eq!(ev.pinned_by.unwrap().line, 3);
        let ev = evaluate("[format('{0}-{1}', 'a', 2)]", &scope());
        assert_eq!(ev.value, Some(json!("a-2")));
        assert!(ev.pinned);
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

    #[test]
    fn escapes() {
        assert!(!is_expression("[[not an expression]"));
        assert_eq!(unescape_literal("[[x]"), "[x]");
        assert_eq!(evaluate("['it''s']", &scope()).value, Some(json!("it's")));
    }
}
