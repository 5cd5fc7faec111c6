//! JSON (with `//` and `/* */` comments, as hand-edited ARM templates have)
//! read into a tree that remembers where every value is.
//!
//! Two ways in, one API ([`Doc`], [`Node`]):
//! - the fast path, for strict JSON (what `az rest` and `export` write): one
//!   pass over the text records where each value starts and ends, without
//!   building any value; a value is built (by `serde_json`) only when a
//!   reader asks for it, and positions come from the recorded offsets;
//! - the exact path, for everything else (comments, and every error): a
//!   `jsonc-parser` syntax tree, whose messages and positions are the
//!   diagnostics. [`Doc::parse_exact`] always takes it.
//!
//! Both give the same values at the same positions (tested over generated
//! JSON in `tests/reader_properties.rs`). This module alone uses `jsonc-parser`.

use super::text::LineIndex;
use crate::error::Diagnostic;
use crate::model::TextSpan;
use jsonc_parser::ast;
use jsonc_parser::common::Ranged;
use serde_json::{Map, Number, Value};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// A parsed JSON document. It is `Sync`: the resources of a large file are
/// built on several threads from one document (`arm::read_doc`).
pub struct Doc<'t> {
    pub path: &'t str,
    pub text: &'t str,
    index: LineIndex<'t>,
    tree: Tree<'t>,
    /// Set when the fast path met a value it could not build: the reader
    /// then reads the file again on the exact path.
    fell_short: AtomicBool,
}

enum Tree<'t> {
    Exact(ast::Value<'t>),
    Fast(Index),
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
    at: At<'d, 't>,
}

#[derive(Clone, Copy)]
enum At<'d, 't> {
    Exact(&'d ast::Value<'t>),
    Fast(u32),
}

// ---- the fast path ---------------------------------------------------------

/// Where every value of a strict JSON text is, in document order.
struct Index {
    entries: Vec<Entry>,
    /// Strings with escapes, decoded when first asked for (by slot).
    decoded: Vec<OnceLock<Box<str>>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Object,
    Array,
    /// A string without escapes: its text is its value.
    Str,
    /// A string with escapes, decoded on demand.
    Escaped,
    Number,
    True,
    False,
    Null,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// The value's first byte, and the byte after its last.
    start: u32,
    end: u32,
    /// The member's key (without its quotes), for members.
    key: u32,
    key_len: u32,
    /// For a key with escapes: its slot in [`Index::decoded`].
    key_slot: u32,
    /// The entry after this value and everything in it.
    next: u32,
    /// For [`Kind::Escaped`]: its slot in [`Index::decoded`].
    slot: u32,
    kind: Kind,
}

const NO_KEY: u32 = u32::MAX;
/// Deeper documents take the exact path (which reports nesting beyond its limit).
const FAST_DEPTH: u32 = 128;
/// Longer numbers, and exponents of three digits, take the exact path: the
/// fast path never meets a number `serde_json` cannot hold.
const FAST_DIGITS: usize = 100;

struct Scan<'a> {
    b: &'a [u8],
    pos: usize,
    entries: Vec<Entry>,
    slots: u32,
}

impl Index {
    /// Indexes strict JSON (RFC 8259, with the limits above); None for
    /// anything else, which the exact path reads.
    fn build(text: &str) -> Option<Index> {
        let b = text.as_bytes();
        if b.len() >= u32::MAX as usize {
            return None;
        }
        let mut s = Scan {
            b,
            pos: 0,
            // About one value per 24 bytes of a pretty-printed export.
            entries: Vec::with_capacity(b.len() / 24 + 1),
            slots: 0,
        };
        s.ws();
        s.value((NO_KEY, 0, NO_KEY), 0)?;
        s.ws();
        if s.pos != b.len() {
            return None;
        }
        let decoded = (0..s.slots).map(|_| OnceLock::new()).collect();
        Some(Index {
            entries: s.entries,
            decoded,
        })
    }
}

fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let digits = b.get(at..at + 4)?;
    let mut v = 0;
    for d in digits {
        v = v * 16 + (*d as char).to_digit(16)?;
    }
    Some(v)
}

impl Scan<'_> {
    fn ws(&mut self) {
        let b = self.b;
        let mut p = self.pos;
        while p < b.len() && matches!(b[p], b' ' | b'\n' | b'\r' | b'\t') {
            p += 1;
        }
        self.pos = p;
    }

    fn at(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// A value at `pos`, the member `key` (start, length, slot) of its object.
    fn value(&mut self, (key, key_len, key_slot): (u32, u32, u32), depth: u32) -> Option<()> {
        let start = self.pos;
        let i = self.entries.len();
        let mut entry = Entry {
            start: start as u32,
            end: 0,
            key,
            key_len,
            key_slot,
            next: 0,
            slot: 0,
            kind: Kind::Null,
        };
        match self.at()? {
            open @ (b'{' | b'[') => {
                if depth >= FAST_DEPTH {
                    return None;
                }
                let object = open == b'{';
                let close = if object { b'}' } else { b']' };
                entry.kind = if object { Kind::Object } else { Kind::Array };
                self.entries.push(entry);
                self.pos += 1;
                self.ws();
                if self.at() == Some(close) {
                    self.pos += 1;
                } else {
                    loop {
                        if object {
                            if self.at() != Some(b'"') {
                                return None;
                            }
                            let (ks, ke, escaped) = self.string()?;
                            let key_slot = if escaped {
                                self.slots += 1;
                                self.slots - 1
                            } else {
                                NO_KEY
                            };
                            self.ws();
                            if self.at() != Some(b':') {
                                return None;
                            }
                            self.pos += 1;
                            self.ws();
                            self.value((ks as u32, (ke - ks) as u32, key_slot), depth + 1)?;
                        } else {
                            self.value((NO_KEY, 0, NO_KEY), depth + 1)?;
                        }
                        self.ws();
                        match self.at()? {
                            b',' => {
                                self.pos += 1;
                                self.ws();
                            }
                            c if c == close => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                let next = self.entries.len() as u32;
                let e = &mut self.entries[i];
                e.end = self.pos as u32;
                e.next = next;
                return Some(());
            }
            b'"' => {
                let (_, _, escaped) = self.string()?;
                if escaped {
                    entry.kind = Kind::Escaped;
                    entry.slot = self.slots;
                    self.slots += 1;
                } else {
                    entry.kind = Kind::Str;
                }
            }
            b't' => self.word(b"true", &mut entry, Kind::True)?,
            b'f' => self.word(b"false", &mut entry, Kind::False)?,
            b'n' => self.word(b"null", &mut entry, Kind::Null)?,
            b'-' | b'0'..=b'9' => {
                self.number()?;
                entry.kind = Kind::Number;
            }
            _ => return None,
        }
        entry.end = self.pos as u32;
        entry.next = i as u32 + 1;
        self.entries.push(entry);
        Some(())
    }

    fn word(&mut self, word: &[u8], entry: &mut Entry, kind: Kind) -> Option<()> {
        if !self.b[self.pos..].starts_with(word) {
            return None;
        }
        self.pos += word.len();
        entry.kind = kind;
        Some(())
    }

    /// A string at its opening quote: where its content starts and ends,
    /// and whether it has escapes. Control characters and lone surrogates
    /// are left to the exact path.
    fn string(&mut self) -> Option<(usize, usize, bool)> {
        let b = self.b;
        let start = self.pos + 1;
        let mut p = start;
        let mut escaped = false;
        loop {
            let rel = memchr::memchr2(b'"', b'\\', &b[p..])?;
            if b[p..p + rel].iter().fold(false, |a, &c| a | (c < 0x20)) {
                return None;
            }
            p += rel;
            if b[p] == b'"' {
                self.pos = p + 1;
                return Some((start, p, escaped));
            }
            escaped = true;
            match *b.get(p + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => p += 2,
                b'u' => {
                    let u = hex4(b, p + 2)?;
                    p += 6;
                    if (0xD800..0xDC00).contains(&u) {
                        if b.get(p..p + 2) != Some(b"\\u") {
                            return None;
                        }
                        let low = hex4(b, p + 2)?;
                        if !(0xDC00..0xE000).contains(&low) {
                            return None;
                        }
                        p += 6;
                    } else if (0xDC00..0xE000).contains(&u) {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }

    fn number(&mut self) -> Option<()> {
        let b = self.b;
        let mut p = self.pos;
        let digits_from = |p: &mut usize| {
            let s = *p;
            while *p < b.len() && b[*p].is_ascii_digit() {
                *p += 1;
            }
            *p - s
        };
        if b[p] == b'-' {
            p += 1;
        }
        let mut digits = match b.get(p)? {
            b'0' => {
                p += 1;
                1
            }
            b'1'..=b'9' => digits_from(&mut p),
            _ => return None,
        };
        if b.get(p) == Some(&b'.') {
            p += 1;
            let n = digits_from(&mut p);
            if n == 0 {
                return None;
            }
            digits += n;
        }
        if matches!(b.get(p), Some(b'e' | b'E')) {
            p += 1;
            if matches!(b.get(p), Some(b'+' | b'-')) {
                p += 1;
            }
            let n = digits_from(&mut p);
            if n == 0 || n > 2 {
                return None;
            }
        }
        if digits > FAST_DIGITS {
            return None;
        }
        self.pos = p;
        Some(())
    }
}

impl<'t> Doc<'t> {
    /// Parses `text`: strict JSON on the fast path, anything else (and
    /// every error) on the exact path.
    pub fn parse(path: &'t str, text: &'t str) -> Result<Doc<'t>, Box<Invalid>> {
        match Index::build(text) {
            Some(index) => Ok(Doc {
                path,
                text,
                index: LineIndex::new(text),
                tree: Tree::Fast(index),
                fell_short: AtomicBool::new(false),
            }),
            None => Doc::parse_exact(path, text),
        }
    }

    /// Parses `text` into a `jsonc-parser` syntax tree; comments are
    /// allowed, every other liberty of JSON5 is not.
    pub fn parse_exact(path: &'t str, text: &'t str) -> Result<Doc<'t>, Box<Invalid>> {
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
            tree: Tree::Exact(root),
            fell_short: AtomicBool::new(false),
        })
    }

    pub fn root(&self) -> Node<'_, 't> {
        let at = match &self.tree {
            Tree::Exact(root) => At::Exact(root),
            Tree::Fast(_) => At::Fast(0),
        };
        Node { doc: self, at }
    }

    /// Whether the fast path read this document.
    pub fn is_fast(&self) -> bool {
        matches!(self.tree, Tree::Fast(_))
    }

    /// Whether the fast path met a value it could not build (never, for
    /// what it accepts; if it does, read the text again with
    /// [`Doc::parse_exact`]).
    pub fn fell_short(&self) -> bool {
        // Set on any thread; read once they have all been joined.
        self.fell_short.load(Ordering::Relaxed)
    }

    fn entries(&self) -> &[Entry] {
        match &self.tree {
            Tree::Fast(index) => &index.entries,
            Tree::Exact(_) => &[],
        }
    }

    /// The string with escapes at `quoted` (quotes included), decoded
    /// once into its slot.
    fn decode(&self, slot: u32, quoted: std::ops::Range<usize>) -> &str {
        let Tree::Fast(index) = &self.tree else {
            return "";
        };
        let Some(cell) = index.decoded.get(slot as usize) else {
            self.short();
            return "";
        };
        cell.get_or_init(|| {
            serde_json::from_str::<String>(&self.text[quoted])
                .map(String::into_boxed_str)
                .unwrap_or_else(|_| {
                    self.short();
                    Box::from("")
                })
        })
    }

    /// A value the fast path accepted but `serde_json` did not build.
    fn short(&self) -> Value {
        self.fell_short.store(true, Ordering::Relaxed);
        Value::Null
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
    fn fast(&self, i: u32) -> Node<'d, 't> {
        Node {
            doc: self.doc,
            at: At::Fast(i),
        }
    }

    fn exact(&self, value: &'d ast::Value<'t>) -> Node<'d, 't> {
        Node {
            doc: self.doc,
            at: At::Exact(value),
        }
    }

    /// The fast entry of this node.
    fn entry(&self) -> Option<&'d Entry> {
        match self.at {
            At::Fast(i) => self.doc.entries().get(i as usize),
            At::Exact(_) => None,
        }
    }

    fn kind(&self) -> Option<Kind> {
        self.entry().map(|e| e.kind)
    }

    /// The members (or elements) of a fast container, in document order.
    fn children(&self) -> impl Iterator<Item = (u32, &'d Entry)> + use<'d, 't> {
        let entries: &'d [Entry] = self.doc.entries();
        let (mut at, end) = match (self.at, self.entry()) {
            (At::Fast(i), Some(e)) if matches!(e.kind, Kind::Object | Kind::Array) => {
                (i + 1, e.next)
            }
            _ => (0, 0),
        };
        std::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            let i = at;
            let e = &entries[i as usize];
            at = e.next;
            Some((i, e))
        })
    }

    /// Whether a member's key is `key` (its length compared first: most
    /// keys are told apart without reading them).
    fn key_is(&self, e: &Entry, key: &str) -> bool {
        if e.key_slot == NO_KEY {
            // Keys of one length mostly differ in their first byte.
            let (raw, key) = (
                &self.doc.text.as_bytes()[e.key as usize..(e.key + e.key_len) as usize],
                key.as_bytes(),
            );
            raw.len() == key.len() && raw.first() == key.first() && raw == key
        } else {
            self.key_of(e) == key
        }
    }

    fn key_of(&self, e: &Entry) -> &'d str {
        let doc: &'d Doc<'t> = self.doc;
        let raw = &doc.text[e.key as usize..(e.key + e.key_len) as usize];
        if e.key_slot == NO_KEY {
            return raw;
        }
        doc.decode(
            e.key_slot,
            e.key as usize - 1..(e.key + e.key_len) as usize + 1,
        )
    }

    fn start(&self) -> usize {
        match self.at {
            At::Exact(v) => v.range().start,
            At::Fast(_) => self.entry().map_or(0, |e| e.start as usize),
        }
    }

    /// Whether the node is an object read on the fast path.
    pub fn is_fast_object(&self) -> bool {
        matches!(self.at, At::Fast(_)) && self.is_object()
    }

    pub fn line_col(&self) -> (usize, usize) {
        self.doc.index.line_col(self.start())
    }

    pub fn doc(&self) -> &'d Doc<'t> {
        self.doc
    }

    pub fn type_name(&self) -> &'static str {
        match self.at {
            At::Exact(v) => type_name(v),
            At::Fast(_) => match self.kind() {
                Some(Kind::Str | Kind::Escaped) => "a string",
                Some(Kind::Number) => "a number",
                Some(Kind::True | Kind::False) => "a boolean",
                Some(Kind::Object) => "an object",
                Some(Kind::Array) => "an array",
                Some(Kind::Null) | None => "null",
            },
        }
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
        match self.at {
            At::Exact(v) => matches!(v, ast::Value::Object(_)),
            At::Fast(_) => self.kind() == Some(Kind::Object),
        }
    }

    pub fn is_array(&self) -> bool {
        match self.at {
            At::Exact(v) => matches!(v, ast::Value::Array(_)),
            At::Fast(_) => self.kind() == Some(Kind::Array),
        }
    }

    pub fn as_str(&self) -> Option<&'d str> {
        match self.at {
            At::Exact(ast::Value::StringLit(s)) => Some(s.value.as_ref()),
            At::Exact(_) => None,
            At::Fast(_) => {
                let e = self.entry()?;
                let doc: &'d Doc<'t> = self.doc;
                match e.kind {
                    Kind::Str => Some(&doc.text[e.start as usize + 1..e.end as usize - 1]),
                    Kind::Escaped => Some(doc.decode(e.slot, e.start as usize..e.end as usize)),
                    _ => None,
                }
            }
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.at {
            At::Exact(ast::Value::BooleanLit(b)) => Some(b.value),
            At::Exact(_) => None,
            At::Fast(_) => match self.kind()? {
                Kind::True => Some(true),
                Kind::False => Some(false),
                _ => None,
            },
        }
    }

    pub fn is_null(&self) -> bool {
        match self.at {
            At::Exact(v) => matches!(v, ast::Value::NullKeyword(_)),
            At::Fast(_) => self.kind() == Some(Kind::Null),
        }
    }

    /// A member of an object node (the last one of that name).
    pub fn get(&self, key: &str) -> Option<Node<'d, 't>> {
        match self.at {
            At::Exact(ast::Value::Object(o)) => o
                .properties
                .iter()
                .rev()
                .find(|p| p.name.as_str() == key)
                .map(|p| self.exact(&p.value)),
            At::Exact(_) => None,
            At::Fast(_) if self.is_object() => self
                .children()
                .filter(|(_, e)| self.key_is(e, key))
                .last()
                .map(|(i, _)| self.fast(i)),
            At::Fast(_) => None,
        }
    }

    /// A member looked up case-insensitively (for PascalCase exports).
    pub fn get_ci(&self, key: &str) -> Option<Node<'d, 't>> {
        match self.at {
            At::Exact(ast::Value::Object(o)) => o
                .properties
                .iter()
                .rev()
                .find(|p| p.name.as_str().eq_ignore_ascii_case(key))
                .map(|p| self.exact(&p.value)),
            At::Exact(_) => None,
            At::Fast(_) if self.is_object() => self
                .children()
                .filter(|(_, e)| self.key_of(e).eq_ignore_ascii_case(key))
                .last()
                .map(|(i, _)| self.fast(i)),
            At::Fast(_) => None,
        }
    }

    /// The keys of an object node, in document order.
    pub fn keys(&self) -> Vec<&'d str> {
        match self.at {
            At::Exact(ast::Value::Object(o)) => {
                o.properties.iter().map(|p| p.name.as_str()).collect()
            }
            At::Exact(_) => Vec::new(),
            At::Fast(_) if self.is_object() => {
                self.children().map(|(_, e)| self.key_of(e)).collect()
            }
            At::Fast(_) => Vec::new(),
        }
    }

    /// The elements of an array node.
    pub fn elements(&self) -> Option<Vec<Node<'d, 't>>> {
        match self.at {
            At::Exact(ast::Value::Array(a)) => {
                Some(a.elements.iter().map(|v| self.exact(v)).collect())
            }
            At::Exact(_) => None,
            At::Fast(_) if self.kind() == Some(Kind::Array) => {
                Some(self.children().map(|(i, _)| self.fast(i)).collect())
            }
            At::Fast(_) => None,
        }
    }

    /// [`Node::text_span`], without the raw text when it is what
    /// `serde_json` writes for the value ([`TextSpan::json`]): for the
    /// query of a resource, whose value is kept beside.
    pub fn value_span(&self) -> Option<TextSpan> {
        let (line, column, raw) = self.raw_string()?;
        Some(TextSpan::json(line, column, raw, self.as_str()?))
    }

    /// Where a string node's raw text starts, for mapping query positions.
    pub fn text_span(&self) -> Option<TextSpan> {
        let (line, column, raw) = self.raw_string()?;
        Some(TextSpan::JsonString {
            line,
            column,
            raw: raw.to_string(),
        })
    }

    /// A string node's raw text between its quotes, and where it starts.
    fn raw_string(&self) -> Option<(usize, usize, &'d str)> {
        let (start, end) = match self.at {
            At::Exact(ast::Value::StringLit(s)) => (s.range.start, s.range.end),
            At::Exact(_) => return None,
            At::Fast(_) => match self.entry()? {
                e if matches!(e.kind, Kind::Str | Kind::Escaped) => {
                    (e.start as usize, e.end as usize)
                }
                _ => return None,
            },
        };
        let start = start + 1;
        let end = end.saturating_sub(1).max(start);
        let (line, column) = self.doc.index.line_col(start);
        Some((
            line,
            column,
            self.doc.text.get(start..end).unwrap_or_default(),
        ))
    }

    /// The node's text without the white space between its tokens, a run
    /// at a time (to build it or only hash it), on the fast path (strict
    /// JSON: nothing else to leave out); None, having given nothing, on the
    /// exact path. `serde_json` reads it as the same value as the node.
    pub fn compact_runs(&self, mut emit: impl FnMut(&'t [u8])) -> Option<()> {
        let At::Fast(_) = self.at else {
            return None;
        };
        let e = self.entry()?;
        let text: &'t str = self.doc.text;
        let mut rest = text.as_bytes().get(e.start as usize..e.end as usize)?;
        let is_ws = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t');
        while let Some(&b) = rest.first() {
            let end = if b == b'"' {
                // A string, given whole: up to its closing quote.
                let mut i = 1;
                while let Some(k) = rest.get(i..).and_then(|r| memchr::memchr2(b'"', b'\\', r)) {
                    let quote = rest[i + k] == b'"';
                    i += k + if quote { 1 } else { 2 };
                    if quote {
                        break;
                    }
                }
                i.min(rest.len())
            } else if is_ws(b) {
                let n = rest.iter().position(|&c| !is_ws(c)).unwrap_or(rest.len());
                rest = &rest[n..];
                continue;
            } else {
                // Punctuation, a number or a literal: up to white space or a string.
                rest.iter()
                    .position(|&c| c == b'"' || is_ws(c))
                    .unwrap_or(rest.len())
            };
            emit(&rest[..end]);
            rest = &rest[end..];
        }
        Some(())
    }

    /// The node as a plain JSON value.
    pub fn to_value(&self) -> Value {
        match self.at {
            At::Exact(v) => convert(v),
            At::Fast(_) => {
                let Some(e) = self.entry() else {
                    return self.doc.short();
                };
                match e.kind {
                    Kind::True => Value::Bool(true),
                    Kind::False => Value::Bool(false),
                    Kind::Null => Value::Null,
                    Kind::Str | Kind::Escaped => self
                        .as_str()
                        .map_or_else(|| self.doc.short(), |s| Value::String(s.to_string())),
                    Kind::Object | Kind::Array | Kind::Number => {
                        let text = &self.doc.text[e.start as usize..e.end as usize];
                        serde_json::from_str(text).unwrap_or_else(|_| self.doc.short())
                    }
                }
            }
        }
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
    let doc = Doc::parse_exact("", text).ok()?;
    match &doc.tree {
        Tree::Exact(root) => Some(outline_of(root)),
        Tree::Fast(_) => None,
    }
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
    fn compact_runs_leave_out_only_the_white_space_between_tokens() {
        // The text byte by byte, as it was first written: strings whole,
        // white space outside them left out.
        fn reference(text: &str) -> String {
            let (mut out, mut in_string, mut escaped) = (String::new(), false, false);
            for c in text.chars() {
                if in_string {
                    out.push(c);
                    (in_string, escaped) = match (escaped, c) {
                        (true, _) => (true, false),
                        (false, '\\') => (true, true),
                        (false, '"') => (false, false),
                        _ => (true, false),
                    };
                } else if c == '"' {
                    out.push(c);
                    in_string = true;
                } else if !matches!(c, ' ' | '\n' | '\r' | '\t') {
                    out.push(c);
                }
            }
            out
        }
        for text in [
            "{}",
            "{ }",
            "[]",
            "{\n  \"a\" : [ 1 , 2.5e-3 , true , null ],\r\n\t\"b\": { \"c\": \"x y\" }\n}",
            "{\"s\": \"quote \\\" inside, \\\\ and a space \", \"t\": \"caf\u{e9} \\u00e9\\n\"}",
            "[ \"\", \"\\\\\", -0, {\"k\" :{}} ]",
        ] {
            let doc = Doc::parse("t.json", text).unwrap();
            let mut runs = Vec::new();
            doc.root()
                .compact_runs(|r| runs.extend_from_slice(r))
                .expect("read on the fast path");
            let compact = String::from_utf8(runs).unwrap();
            assert_eq!(compact, reference(text), "{text}");
            let (a, b): (Value, Value) = (
                serde_json::from_str(text).unwrap(),
                serde_json::from_str(&compact).unwrap(),
            );
            assert_eq!(a, b, "{text}");
        }
    }

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
