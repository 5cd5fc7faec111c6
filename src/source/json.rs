//! JSON (with `//` and `/* */` comments, as hand-edited ARM templates have)
//! read into a tree that remembers where every value is.
//!
//! This module alone uses `jsonc-parser`.

use super::text::LineIndex;
use crate::error::Diagnostic;
use crate::model::TextSpan;
use jsonc_parser::ast;
use jsonc_parser::common::Ranged;
use serde_json::{Map, Number, Value};

/// A parsed JSON document.
pub struct Doc<'t> {
    pub path: &'t str,
    pub text: &'t str,
    index: LineIndex<'t>,
    root: ast::Value<'t>,
}

/// Text that is not JSON: where and why, and how much of it was.
#[derive(Debug)]
pub struct Invalid {
    pub diagnostic: Diagnostic,
    /// The length of the text before the error: all of it when the text
    /// ends inside a value (truncated), else where the error is.
    pub valid_up_to: usize,
}

/// A node of the document, with its place.
#[derive(Clone, Copy)]
pub struct Node<'d, 't> {
    doc: &'d Doc<'t>,
    value: &'d ast::Value<'t>,
}

impl<'t> Doc<'t> {
    /// Parses `text`; comments are allowed, every other liberty of JSON5 is not.
    pub fn parse(path: &'t str, text: &'t str) -> Result<Doc<'t>, Box<Invalid>> {
        let options = jsonc_parser::ParseOptions {
            allow_comments: true,
            allow_loose_object_property_names: false,
            allow_trailing_commas: false,
            allow_missing_commas: false,
            allow_single_quoted_strings: false,
            allow_hexadecimal_numbers: false,
            allow_unary_plus_numbers: false,
            allow_bare_decimal_point_numbers: false,
            allow_non_finite_numbers: false,
            allow_extended_string_escapes: false,
        };
        let index = LineIndex::new(text);
        let parsed =
            jsonc_parser::parse_to_ast(text, &Default::default(), &options).map_err(|e| {
                let start = e.range().start.min(text.len());
                let kind = e.kind().to_string();
                let unterminated = kind.starts_with("Unterminated");
                let at_end = unterminated || e.range().start >= text.trim_end().len();
                // An unterminated object is reported where the text ends,
                // naming where it opened.
                let (line, column) = if unterminated {
                    index.line_col(text.trim_end().len())
                } else {
                    index.line_col(e.range().start)
                };
                let message = if unterminated {
                    let (ol, oc) = index.line_col(e.range().start);
                    format!(
                        "invalid JSON: the file ends inside the value opened at {ol}:{oc} ({})",
                        kind.to_lowercase()
                    )
                } else {
                    format!("invalid JSON: {kind}")
                };
                let mut d = Diagnostic::at(path, text, line, column, message)
                    .expected(expected_for(&kind, at_end));
                if at_end {
                    d = d.hint("the file ends early: it looks truncated; export it again");
                }
                Box::new(Invalid {
                    diagnostic: d,
                    valid_up_to: if unterminated { text.len() } else { start },
                })
            })?;
        let root = parsed.value.ok_or_else(|| {
            Box::new(Invalid {
                diagnostic: Diagnostic::file(path, "the file is empty")
                    .expected("a JSON object or array"),
                valid_up_to: text.len(),
            })
        })?;
        Ok(Doc {
            path,
            text,
            index,
            root,
        })
    }

    pub fn root(&self) -> Node<'_, 't> {
        Node {
            doc: self,
            value: &self.root,
        }
    }
}

fn expected_for(kind: &str, at_end: bool) -> String {
    if at_end {
        return "the rest of the document: every `{` and `[` closed".into();
    }
    let k = kind.to_ascii_lowercase();
    if k.contains("comma") {
        "`,` between members, and no comma after the last one".into()
    } else if k.contains("colon") {
        "`:` after an object key".into()
    } else if k.contains("single") || k.contains("word") || k.contains("property") {
        "a double-quoted string".into()
    } else if k.contains("nesting") {
        "at most 512 levels of nested objects and arrays".into()
    } else {
        "a JSON value: object, array, string, number, true, false or null".into()
    }
}

/// The JSON type of a node, as a message names it.
pub fn type_name(value: &ast::Value<'_>) -> &'static str {
    match value {
        ast::Value::StringLit(_) => "a string",
        ast::Value::NumberLit(_) => "a number",
        ast::Value::BooleanLit(_) => "a boolean",
        ast::Value::Object(_) => "an object",
        ast::Value::Array(_) => "an array",
        ast::Value::NullKeyword(_) => "null",
    }
}

impl<'d, 't> Node<'d, 't> {
    pub fn line_col(&self) -> (usize, usize) {
        self.doc.index.line_col(self.value.range().start)
    }

    pub fn doc(&self) -> &'d Doc<'t> {
        self.doc
    }

    pub fn type_name(&self) -> &'static str {
        type_name(self.value)
    }

    /// A diagnostic pointing at this node.
    pub fn error(&self, message: impl Into<String>) -> Diagnostic {
        let (line, column) = self.line_col();
        Diagnostic::at(self.doc.path, self.doc.text, line, column, message)
    }

    /// A diagnostic saying this node should have been of another type.
    pub fn type_error(&self, what: &str, expected: &str) -> Diagnostic {
        self.error(format!("{what} is {}", self.type_name()))
            .expected(expected.to_string())
    }

    pub fn is_object(&self) -> bool {
        matches!(self.value, ast::Value::Object(_))
    }

    pub fn as_str(&self) -> Option<&'d str> {
        match self.value {
            ast::Value::StringLit(s) => Some(s.value.as_ref()),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            ast::Value::BooleanLit(b) => Some(b.value),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, ast::Value::NullKeyword(_))
    }

    /// A member of an object node.
    pub fn get(&self, key: &str) -> Option<Node<'d, 't>> {
        match self.value {
            ast::Value::Object(o) => o
                .properties
                .iter()
                .rev()
                .find(|p| p.name.as_str() == key)
                .map(|p| Node {
                    doc: self.doc,
                    value: &p.value,
                }),
            _ => None,
        }
    }

    /// A member looked up case-insensitively (for PascalCase exports).
    pub fn get_ci(&self, key: &str) -> Option<Node<'d, 't>> {
        match self.value {
            ast::Value::Object(o) => o
                .properties
                .iter()
                .rev()
                .find(|p| p.name.as_str().eq_ignore_ascii_case(key))
                .map(|p| Node {
                    doc: self.doc,
                    value: &p.value,
                }),
            _ => None,
        }
    }

    /// The keys of an object node, in document order.
    pub fn keys(&self) -> Vec<&'d str> {
        match self.value {
            ast::Value::Object(o) => o.properties.iter().map(|p| p.name.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// The elements of an array node.
    pub fn elements(&self) -> Option<Vec<Node<'d, 't>>> {
        match self.value {
            ast::Value::Array(a) => Some(
                a.elements
                    .iter()
                    .map(|v| Node {
                        doc: self.doc,
                        value: v,
                    })
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Where a string node's raw text starts, for mapping query positions.
    pub fn text_span(&self) -> Option<TextSpan> {
        match self.value {
            ast::Value::StringLit(s) => {
                let start = s.range.start + 1;
                let end = s.range.end.saturating_sub(1).max(start);
                let (line, column) = self.doc.index.line_col(start);
                Some(TextSpan::JsonString {
                    line,
                    column,
                    raw: self
                        .doc
                        .text
                        .get(start..end)
                        .unwrap_or_default()
                        .to_string(),
                })
            }
            _ => None,
        }
    }

    /// The node as a plain JSON value.
    pub fn to_value(&self) -> Value {
        convert(self.value)
    }
}

fn convert(value: &ast::Value<'_>) -> Value {
    match value {
        ast::Value::StringLit(s) => Value::String(s.value.to_string()),
        ast::Value::NumberLit(n) => n
            .value
            .parse::<Number>()
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(n.value.to_string())),
        ast::Value::BooleanLit(b) => Value::Bool(b.value),
        ast::Value::NullKeyword(_) => Value::Null,
        ast::Value::Array(a) => Value::Array(a.elements.iter().map(convert).collect()),
        ast::Value::Object(o) => {
            let mut map = Map::new();
            for p in &o.properties {
                map.insert(p.name.as_str().to_string(), convert(&p.value));
            }
            Value::Object(map)
        }
    }
}

/// The shape of a JSON (with comments) text, with the byte range of every
/// value and key: what an editor needs to change one value and keep every
/// other byte (`render::patch`). `None` when the text is not JSON.
pub fn outline(text: &str) -> Option<Outline> {
    let doc = Doc::parse("", text).ok()?;
    Some(outline_of(&doc.root))
}

/// A value of [`outline`]: where it is and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Outline {
    /// Byte range of the value in the text.
    pub start: usize,
    pub end: usize,
    pub shape: Shape,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Members in document order: the key, where the key (with its
    /// quotes) starts, and the value.
    Object(Vec<(String, usize, Outline)>),
    Array(Vec<Outline>),
    /// A string, number, boolean or null, as a plain value.
    Scalar(Value),
}

fn outline_of(value: &ast::Value<'_>) -> Outline {
    let range = value.range();
    let shape = match value {
        ast::Value::Object(o) => Shape::Object(
            o.properties
                .iter()
                .map(|p| {
                    (
                        p.name.as_str().to_string(),
                        p.range().start,
                        outline_of(&p.value),
                    )
                })
                .collect(),
        ),
        ast::Value::Array(a) => Shape::Array(a.elements.iter().map(outline_of).collect()),
        other => Shape::Scalar(convert(other)),
    };
    Outline {
        start: range.start,
        end: range.end,
        shape,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_allowed_and_positions_kept() {
        let text = "{\n  // a comment\n  \"a\": [1, {\"b\": \"x\"}]\n}\n";
        let doc = Doc::parse("t.json", text).unwrap();
        let a = doc.root().get("a").unwrap();
        assert_eq!(a.line_col(), (3, 8));
        let b = a.elements().unwrap()[1].get("b").unwrap();
        assert_eq!(b.as_str(), Some("x"));
        assert_eq!(b.line_col(), (3, 18));
        assert_eq!(
            doc.root().to_value(),
            serde_json::json!({"a": [1, {"b": "x"}]})
        );
    }

    #[test]
    fn truncated_json_is_reported_at_the_end() {
        let text = "{\n  \"value\": [\n    {\"name\": \"x\"";
        let e = Doc::parse("t.json", text).err().unwrap().diagnostic;
        assert_eq!(e.line, Some(3));
        assert!(e.message.starts_with("invalid JSON"), "{e}");
        assert!(e.hint.unwrap().contains("truncated"));
    }

    #[test]
    fn json5_liberties_are_refused() {
        for bad in ["{'a': 1}", "{a: 1}", "[1,]", "{\"a\": 0x10}"] {
            assert!(Doc::parse("t.json", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000);
        let e = Doc::parse("t.json", &text).err().unwrap().diagnostic;
        assert!(e.message.contains("nesting"), "{e}");
    }
}
