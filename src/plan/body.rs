//! A step's resource body (`before`, `after`) held as compact JSON text
//! rather than as a [`Value`]: a fleet's plan holds thousands of bodies,
//! and a `Value` costs about five times its text (a map node is about
//! 630 bytes).
//!
//! The text is canonical: exactly what `serde_json` writes of the value
//! (members sorted by key, no space, its escapes, its numbers), so equal
//! texts are equal values. It is written into `plan.json` (or any
//! serializer) by walking the text into the serializer, with no tree
//! built in between (as fast as `serde-transcode` through `serde_json`'s
//! reader, twice as fast as parsing into a `Value` first), and read as a
//! [`Value`] the same way, one body at a time. Numbers are read with the
//! standard library, whose parse of a float is exact whatever
//! `serde_json`'s features (its own is only with `float_roundtrip`): a
//! body is written again as it was.

use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

/// A resource body as canonical compact JSON (see the module's docs).
/// Equal bodies are equal values, but for one case: a float `-0.0` and
/// `0.0` are equal values and different bodies (as they are different
/// text in `plan.json`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Body(Box<str>);

impl Body {
    pub fn new(value: &Value) -> Body {
        Body(value.to_string().into_boxed_str())
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The body as a value, built anew: for one step at a time.
    pub fn value(&self) -> Value {
        self.at(0)
    }

    /// The member `key` of the body (an object), built alone.
    pub fn get(&self, key: &str) -> Option<Value> {
        member(&self.0, 0, key).map(|i| self.at(i))
    }

    /// The value at a JSON pointer (`/properties/enabled`, as
    /// [`Value::pointer`] reads it), built alone.
    pub fn pointer(&self, pointer: &str) -> Option<Value> {
        if pointer.is_empty() {
            return Some(self.value());
        }
        let mut at = 0;
        for token in pointer.strip_prefix('/')?.split('/') {
            let token = token.replace("~1", "/").replace("~0", "~");
            at = match self.0.as_bytes()[at] {
                b'{' => member(&self.0, at, &token)?,
                b'[' => element(&self.0, at, index(&token)?)?,
                _ => return None,
            };
        }
        Some(self.at(at))
    }

    /// The body as `serde_json::to_string_pretty` writes its value, with
    /// the members `omit` names left out: `omit(path, key)` is asked of
    /// every member, `path` being the keys of the objects it is in (`None`
    /// for an array's element). Written from the text alone, no value
    /// built: a canonical text's strings and numbers are what the pretty
    /// writer writes for them, so only the layout changes.
    pub fn pretty(&self, omit: &Omit) -> String {
        let mut out = Vec::with_capacity(self.0.len() * 3 / 2);
        let mut path = Vec::new();
        pretty(&self.0, 0, &mut path, omit, &mut out);
        String::from_utf8(out).unwrap_or_else(|e| unreachable!("copied from a str: {e}"))
    }

    fn at(&self, i: usize) -> Value {
        Walk::new(&self.0, i)
            .serialize(serde_json::value::Serializer)
            .unwrap_or_else(|e| unreachable!("a body serde_json wrote reads back: {e}"))
    }
}

impl From<&Value> for Body {
    fn from(value: &Value) -> Body {
        Body::new(value)
    }
}

impl From<Value> for Body {
    fn from(value: Value) -> Body {
        Body::new(&value)
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Body({})", self.0)
    }
}

impl fmt::Display for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// As the value would be serialized (maps and sequences are given no
/// length but when empty: JSON needs none).
impl Serialize for Body {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if VERBATIM.get() {
            // Its text is what `Walk` writes through serde_json's
            // compact writer: given as it is (borrowed; only checked).
            let raw: &serde_json::value::RawValue =
                serde_json::from_str(&self.0).map_err(S::Error::custom)?;
            return raw.serialize(s);
        }
        Walk::new(&self.0, 0).serialize(s)
    }
}

thread_local! {
    /// Whether bodies serialize as their text, verbatim ([`verbatim`]).
    static VERBATIM: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every [`Body`] it serializes (on this thread) given to
/// the serializer as its text, verbatim (a `serde_json` raw value): the
/// same bytes as walking it, for `serde_json`'s compact writer only, and
/// no parse. For hashing a plan's steps as `serde_json::to_writer` writes
/// them.
pub fn verbatim<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            VERBATIM.set(self.0);
        }
    }
    let _reset = Reset(VERBATIM.replace(true));
    f()
}

/// Any JSON value (older plans' too), kept as its canonical text.
impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Body, D::Error> {
        Value::deserialize(d).map(|v| Body::new(&v))
    }
}

/// A place in a body's text: each `serialize` writes the value there and
/// moves past it (the members and elements of a container, one by one).
struct Walk<'a> {
    text: &'a str,
    pos: Cell<usize>,
}

impl<'a> Walk<'a> {
    fn new(text: &'a str, pos: usize) -> Walk<'a> {
        Walk {
            text,
            pos: Cell::new(pos),
        }
    }
}

impl Serialize for Walk<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (text, b) = (self.text, self.text.as_bytes());
        let i = self.pos.get();
        match b[i] {
            b'{' if b[i + 1] == b'}' => {
                self.pos.set(i + 2);
                s.serialize_map(Some(0))?.end()
            }
            b'{' => {
                let mut map = s.serialize_map(None)?;
                let mut key_at = i + 1;
                loop {
                    let (key, end) = string(text, key_at);
                    // Past the key's `:`.
                    self.pos.set(end + 1);
                    map.serialize_entry(&*key, self)?;
                    let next = self.pos.get();
                    self.pos.set(next + 1);
                    if b[next] == b'}' {
                        break;
                    }
                    key_at = next + 1;
                }
                map.end()
            }
            b'[' if b[i + 1] == b']' => {
                self.pos.set(i + 2);
                s.serialize_seq(Some(0))?.end()
            }
            b'[' => {
                let mut seq = s.serialize_seq(None)?;
                self.pos.set(i + 1);
                loop {
                    seq.serialize_element(self)?;
                    let next = self.pos.get();
                    self.pos.set(next + 1);
                    if b[next] == b']' {
                        break;
                    }
                }
                seq.end()
            }
            b'"' => {
                let (value, end) = string(text, i);
                self.pos.set(end);
                s.serialize_str(&value)
            }
            b't' => {
                self.pos.set(i + 4);
                s.serialize_bool(true)
            }
            b'f' => {
                self.pos.set(i + 5);
                s.serialize_bool(false)
            }
            b'n' => {
                self.pos.set(i + 4);
                s.serialize_unit()
            }
            _ => {
                let end = number_end(b, i);
                self.pos.set(end);
                let n = &text[i..end];
                // serde_json writes every float with a `.` or an exponent.
                if n.bytes().any(|c| matches!(c, b'.' | b'e' | b'E')) {
                    s.serialize_f64(n.parse().map_err(S::Error::custom)?)
                } else if n.starts_with('-') {
                    s.serialize_i64(n.parse().map_err(S::Error::custom)?)
                } else {
                    s.serialize_u64(n.parse().map_err(S::Error::custom)?)
                }
            }
        }
    }
}

/// The string whose opening quote is at `i`, and where it ends (past its
/// closing quote).
fn string(text: &str, i: usize) -> (Cow<'_, str>, usize) {
    let (end, escaped) = string_end(text.as_bytes(), i);
    if escaped {
        let s = serde_json::from_str(&text[i..end])
            .unwrap_or_else(|e| unreachable!("a string serde_json wrote reads back: {e}"));
        (Cow::Owned(s), end)
    } else {
        (Cow::Borrowed(&text[i + 1..end - 1]), end)
    }
}

/// Past the closing quote of the string opened at `i`, and whether it
/// holds an escape.
fn string_end(b: &[u8], i: usize) -> (usize, bool) {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', &b[j..]).unwrap_or(b.len() - j);
        if k >= b.len() || b[k] == b'"' {
            return (k + 1, escaped);
        }
        escaped = true;
        j = k + 2;
    }
}

fn number_end(b: &[u8], i: usize) -> usize {
    let len = b[i..]
        .iter()
        .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
        .unwrap_or(b.len() - i);
    i + len
}

/// Past the value at `i`.
fn skip(b: &[u8], i: usize) -> usize {
    match b[i] {
        b'"' => string_end(b, i).0,
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j).0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        b't' | b'n' => i + 4,
        b'f' => i + 5,
        _ => number_end(b, i),
    }
}

/// Which members [`Body::pretty`] leaves out: asked with the path to
/// the object (its keys, `None` for an array's element) and the key.
pub type Omit = dyn Fn(&[Option<Cow<'_, str>>], &str) -> bool;

/// Writes the value at `i` as [`Body::pretty`] says, indented by the
/// depth of `path`, and returns where it ends.
fn pretty<'a>(
    text: &'a str,
    i: usize,
    path: &mut Vec<Option<Cow<'a, str>>>,
    omit: &Omit,
    out: &mut Vec<u8>,
) -> usize {
    let b = text.as_bytes();
    let line = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.resize(out.len() + 2 * depth, b' ');
    };
    let (open, close) = match b[i] {
        b'{' => (b'{', b'}'),
        b'[' => (b'[', b']'),
        _ => {
            let end = skip(b, i);
            out.extend_from_slice(&b[i..end]);
            return end;
        }
    };
    let depth = path.len();
    let mut at = i + 1;
    let mut written = 0usize;
    if b[at] == close {
        at += 1;
    } else {
        loop {
            let (key, value_at) = if open == b'{' {
                let (key, end) = string(text, at);
                (Some((at..end, key)), end + 1)
            } else {
                (None, at)
            };
            let end = if key.as_ref().is_some_and(|(_, k)| omit(path, k)) {
                skip(b, value_at)
            } else {
                out.push(if written == 0 { open } else { b',' });
                line(out, depth + 1);
                written += 1;
                let key = key.map(|(raw, key)| {
                    // As written: the escapes are the pretty writer's too.
                    out.extend_from_slice(&b[raw]);
                    out.extend_from_slice(b": ");
                    key
                });
                path.push(key);
                let end = pretty(text, value_at, path, omit, out);
                path.pop();
                end
            };
            at = end + 1;
            if b[end] == close {
                break;
            }
        }
    }
    if written == 0 {
        out.extend_from_slice(&[open, close]);
    } else {
        line(out, depth);
        out.push(close);
    }
    at
}

/// Where the value of the member `key` of the object at `i` starts.
fn member(text: &str, i: usize, key: &str) -> Option<usize> {
    let b = text.as_bytes();
    if b[i] != b'{' || b[i + 1] == b'}' {
        return None;
    }
    let mut at = i + 1;
    loop {
        let (k, end) = string(text, at);
        if k == key {
            return Some(end + 1);
        }
        let next = skip(b, end + 1);
        if b[next] == b'}' {
            return None;
        }
        at = next + 1;
    }
}

/// Where the element `n` of the array at `i` starts.
fn element(text: &str, i: usize, n: usize) -> Option<usize> {
    let b = text.as_bytes();
    if b[i + 1] == b']' {
        return None;
    }
    let mut at = i + 1;
    for _ in 0..n {
        let next = skip(b, at);
        if b[next] == b']' {
            return None;
        }
        at = next + 1;
    }
    Some(at)
}

/// An array index in a JSON pointer, as [`Value::pointer`] reads one (no
/// sign, no leading zero).
fn index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Bodies that try the text: unicode, escapes, control characters,
    /// numbers at the edges of each kind, floats of 17 digits, nesting.
    fn odd() -> Vec<Value> {
        vec![
            json!({
                "properties": {
                    "displayName": "Défense \u{1F6E1} \"quoted\" back\\slash \u{7} \u{1b}[0m \u{202e} tab\tnl\n",
                    "query": "SecurityAlert\r\n| where ProductName == \"Azure Security Center\"",
                    "big": 18446744073709551615u64,
                    "negative": -9223372036854775808i64,
                    "huge": 1.0e300,
                    "tiny": 5e-324,
                    "minus zero": -0.0,
                    "sum": 0.30000000000000004,
                    "digits": 475.06654333432533,
                    "whole float": 3.0,
                    "beyond u64": 123456789012345678901234567890.0,
                    "nested": [[], [[1, [2.5, {"a": {}}]]], {"x": [null, true, false]}],
                    "empty": {},
                    "": "an empty key",
                    "key \"with\" / and ~": 1,
                },
                "etag": "\"0300\"",
            }),
            json!([]),
            json!({}),
            json!(null),
            json!("just a string \u{0}"),
            json!(-1.5e-7),
            json!([1, -1, 1.5, "x", [], {}]),
        ]
    }

    #[test]
    fn bodies_write_and_read_back_as_their_values() {
        for v in odd() {
            let b = Body::new(&v);
            assert_eq!(b.value(), v, "{b:?}");
            assert_eq!(b.as_str(), serde_json::to_string(&v).unwrap());
            assert_eq!(
                serde_json::to_string_pretty(&b).unwrap(),
                serde_json::to_string_pretty(&v).unwrap()
            );
            assert_eq!(serde_json::to_string(&b).unwrap(), b.as_str());
            let again: Body =
                serde_json::from_str(&serde_json::to_string_pretty(&b).unwrap()).unwrap();
            assert_eq!(again, b);
        }
    }

    #[test]
    fn get_and_pointer_read_what_value_does() {
        let v = odd().remove(0);
        let b = Body::new(&v);
        for p in [
            "",
            "/properties",
            "/properties/displayName",
            "/properties/nested/1/0/1/1/a",
            "/properties/nested/2/x/2",
            "/properties/nested/3",
            "/properties/nested/01",
            "/properties/nested/+1",
            "/properties/empty/x",
            "/properties/",
            "/properties/key \"with\" ~1 and ~0",
            "/etag",
            "/etag/0",
            "/missing",
            "no slash",
        ] {
            assert_eq!(b.pointer(p), v.pointer(p).cloned(), "{p}");
        }
        assert_eq!(b.get("properties"), v.get("properties").cloned());
        assert_eq!(b.get("nothing"), None);
        assert_eq!(Body::new(&json!([1])).get("properties"), None);
        assert_eq!(Body::new(&json!({})).get("properties"), None);
    }

    /// Equal bodies are equal values: whatever the order of members or
    /// the escapes a plan was written with, read back they are the same
    /// text; and values that differ (an integer and a float of the same
    /// number included) are different bodies.
    #[test]
    fn text_equality_is_value_equality() {
        let read = |text: &str| serde_json::from_str::<Body>(text).unwrap();
        assert_eq!(
            read(r#"{"b": [1, {"d": 1, "c": "\u0041\/"}], "a": null}"#),
            read(r#"{"a":null,"b":[1,{"c":"A/","d":1}]}"#)
        );
        assert_eq!(read("1e2"), read("100.0"));
        for (x, y) in [
            (json!(1), json!(1.0)),
            (json!({"a": 1}), json!({"a": 1, "b": null})),
            (json!([1, 2]), json!([2, 1])),
            (json!("a"), json!(["a"])),
        ] {
            assert_ne!(x, y);
            assert_ne!(Body::new(&x), Body::new(&y));
        }
        // The one exception: -0.0 == 0.0 as floats, not as text.
        assert_eq!(json!(-0.0), json!(0.0));
        assert_ne!(Body::new(&json!(-0.0)), Body::new(&json!(0.0)));
    }

    /// What [`Body::pretty`] must write: the value with the omitted
    /// members removed, written by `serde_json`.
    fn pretty_reference(v: &Value, omit: &Omit) -> String {
        fn strip(v: &mut Value, path: &mut Vec<Option<Cow<'static, str>>>, omit: &Omit) {
            let at = path.clone();
            match v {
                Value::Object(m) => {
                    let gone: Vec<String> = m.keys().filter(|k| omit(&at, k)).cloned().collect();
                    for k in gone {
                        m.remove(&k);
                    }
                    for (k, v) in m.iter_mut() {
                        path.push(Some(Cow::Owned(k.clone())));
                        strip(v, path, omit);
                        path.pop();
                    }
                }
                Value::Array(a) => {
                    for v in a {
                        path.push(None);
                        strip(v, path, omit);
                        path.pop();
                    }
                }
                _ => {}
            }
        }
        let mut v = v.clone();
        strip(&mut v, &mut Vec::new(), omit);
        serde_json::to_string_pretty(&v).unwrap()
    }

    /// Members left out wherever they are: at the top, in `properties`,
    /// in arrays, the only member of an object, the last or the first.
    fn omitting(path: &[Option<Cow<'_, str>>], key: &str) -> bool {
        match path {
            [] => matches!(key, "etag" | "a" | ""),
            [Some(p)] if p == "properties" => key.starts_with('l') || key == "only",
            [.., None] => key == "x",
            _ => key == "gone",
        }
    }

    #[test]
    fn pretty_writes_what_serde_json_writes_of_the_value_less_the_omitted() {
        let mut cases = odd();
        cases.extend([
            json!({"etag": 1}),
            json!({"a": {"gone": 1}, "b": {"gone": [1, {"gone": 2}], "kept": {}}}),
            json!({"properties": {"only": true}, "z": [{"x": 1}, {"x": 2, "y": [{"x": 3}]}]}),
            json!({"properties": {"lastModifiedUtc": "t", "displayName": "d", "lx": [], "only": {}}}),
            json!({"": 0, "etag": "\"1\"", "properties": {}}),
            json!([{"etag": 1}, [], {}, [[]], [{}]]),
        ]);
        for v in cases {
            let b = Body::new(&v);
            assert_eq!(
                b.pretty(&|_, _| false),
                serde_json::to_string_pretty(&v).unwrap(),
                "{b:?}"
            );
            assert_eq!(
                b.pretty(&omitting),
                pretty_reference(&v, &omitting),
                "{b:?}"
            );
        }
    }

    #[test]
    fn verbatim_bodies_write_as_walked_ones_and_only_within() {
        #[derive(Serialize)]
        struct Step<'a> {
            n: u32,
            before: Option<&'a Body>,
            after: &'a Body,
        }
        for v in odd() {
            let b = Body::new(&v);
            let step = Step {
                n: 1,
                before: Some(&b),
                after: &b,
            };
            let walked = serde_json::to_string(&step).unwrap();
            assert_eq!(verbatim(|| serde_json::to_string(&step).unwrap()), walked);
            // Outside `verbatim`, a body is walked again.
            assert_eq!(
                serde_json::to_string_pretty(&b).unwrap(),
                serde_json::to_string_pretty(&v).unwrap()
            );
        }
        // Reset when `f` panics too.
        let b = Body::new(&json!({"a": [1, 2]}));
        let _ = std::panic::catch_unwind(|| verbatim(|| panic!("within")));
        assert!(serde_json::to_string_pretty(&b).unwrap().contains('\n'));
    }

    fn values() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC*".prop_map(Value::String),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                // Any key, and the ones `omitting` leaves out.
                prop::collection::btree_map(
                    prop_oneof![any::<String>(), "(a|x|gone|etag|only|lq|properties|)"],
                    inner,
                    0..8
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any value, floats of every bit pattern included: the body reads
        /// back as the value, and writes as it, compact or pretty.
        #[test]
        fn any_value_round_trips(v in values()) {
            let b = Body::new(&v);
            prop_assert_eq!(b.value(), v.clone());
            prop_assert_eq!(
                serde_json::to_string_pretty(&b).unwrap(),
                serde_json::to_string_pretty(&v).unwrap()
            );
            // Verbatim, the compact writer writes what the walk does.
            let walked = serde_json::to_string(&json!({"a": [&b], "b": &b})).unwrap();
            prop_assert_eq!(verbatim(|| serde_json::to_string(&json!({"a": [&b], "b": &b})).unwrap()), walked);
            prop_assert_eq!(b.pretty(&|_, _| false), serde_json::to_string_pretty(&v).unwrap());
            prop_assert_eq!(b.pretty(&omitting), pretty_reference(&v, &omitting));
            let read: Body = serde_json::from_str(&serde_json::to_string_pretty(&v).unwrap()).unwrap();
            prop_assert_eq!(read.value(), serde_json::from_str::<Value>(&v.to_string()).unwrap());
        }
    }
}
