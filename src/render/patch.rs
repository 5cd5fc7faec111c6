//! Patches to the files the user owns (ARM templates, parameters files,
//! YAML): the steps whose `via` is `patch`, written as edits of the file's
//! own bytes, so that everything else (indentation, key order, comments,
//! line endings, a missing final newline, a byte-order mark) stays as it
//! was, and as a git-style unified diff of those edits (`docs/patches.md`).
//!
//! Pure: the caller reads the files and writes the results.

use crate::catalog::Operation;
use crate::plan::{Action, Route};
use crate::source::json::{Outline, Shape, outline};
use serde_json::Value;

/// The file a step's patch edits (as `plan.json` names it), if it is a patch.
pub fn target(a: &Action) -> Option<&str> {
    let v = a.via.as_ref().filter(|v| v.route == Route::Patch)?;
    if v.parameter.is_some() {
        v.file.as_ref().map(|o| o.path.as_str())
    } else {
        a.source.as_ref().map(|o| o.path.as_str())
    }
}

/// The result of editing one file for the steps on it.
#[derive(Debug)]
pub struct Edited {
    /// The file's new bytes.
    pub bytes: Vec<u8>,
    /// Per step, in the order given: whether it changed the file (false:
    /// the file already says so), or why it could not be patched.
    pub outcomes: Vec<Result<bool, String>>,
}

/// Edits `bytes` (a file of the format `plan.json` gives it: `arm-template`,
/// `arm-parameters`, `detections-yaml`, `pascal-yaml`) for `actions`, each
/// a patch step on this file.
pub fn edit(bytes: &[u8], format: &str, actions: &[&Action]) -> Edited {
    let fail = |why: &str| Edited {
        bytes: bytes.to_vec(),
        outcomes: actions.iter().map(|_| Err(why.to_string())).collect(),
    };
    let (bom, body) = match bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => (3, rest),
        None => (0, bytes),
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return fail("the file is not UTF-8 (UTF-16?): it is not patched; save it as UTF-8");
    };
    let mut replaces = Vec::new();
    let mut outcomes = Vec::new();
    for a in actions {
        let r = match format {
            "arm-template" | "arm-parameters" => json_edit(text, a),
            "detections-yaml" => yaml_edit(text, a, false),
            "pascal-yaml" => yaml_edit(text, a, true),
            other => Err(format!("a file of format `{other}` is not patched")),
        };
        outcomes.push(match r {
            Ok(list) => {
                // Overlapping edits (two steps, or two values of one
                // step, at one place) are refused: the file stays as it is
                // for this step.
                let overlaps = |n: &Replace, o: &Replace| {
                    n.start < o.end.max(o.start + 1) && o.start < n.end.max(n.start + 1)
                };
                let clash = list
                    .iter()
                    .enumerate()
                    .any(|(i, n)| replaces.iter().chain(&list[..i]).any(|o| overlaps(n, o)));
                if clash {
                    Err("two edits fall at the same place: change it by hand".into())
                } else {
                    let changed = !list.is_empty();
                    replaces.extend(list);
                    Ok(changed)
                }
            }
            Err(e) => Err(e),
        });
    }
    replaces.sort_by_key(|r| (r.start, r.end));
    let mut out = bytes[..bom].to_vec();
    let mut at = 0;
    for r in &replaces {
        out.extend_from_slice(&text.as_bytes()[at..r.start]);
        out.extend_from_slice(r.text.as_bytes());
        at = r.end;
    }
    out.extend_from_slice(&text.as_bytes()[at..]);
    Edited {
        bytes: out,
        outcomes,
    }
}

/// Bytes `start..end` of the text become `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Replace {
    start: usize,
    end: usize,
    text: String,
}

/// The file's line ending: CRLF when its first line ends so.
fn newline(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// The byte offset of a 1-based line and column (in characters).
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let rest = &text[start..];
    let within = rest
        .char_indices()
        .nth(column.checked_sub(1)?)
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    Some(start + within)
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The end of the line holding `at`, after its line ending.
fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i + 1)
}

fn value_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

// ---- JSON ------------------------------------------------------------------

fn find_at(node: &Outline, at: usize) -> Option<&Outline> {
    if node.start == at {
        return Some(node);
    }
    if at < node.start || at >= node.end {
        return None;
    }
    match &node.shape {
        Shape::Object(members) => members.iter().find_map(|(_, _, v)| find_at(v, at)),
        Shape::Array(items) => items.iter().find_map(|v| find_at(v, at)),
        Shape::Scalar(_) => None,
    }
}

/// The array holding an element that starts at `at`, and its index.
fn parent_array(node: &Outline, at: usize) -> Option<(&Outline, usize)> {
    if at < node.start || at >= node.end {
        return None;
    }
    match &node.shape {
        Shape::Object(members) => members.iter().find_map(|(_, _, v)| parent_array(v, at)),
        Shape::Array(items) => items
            .iter()
            .position(|v| v.start == at)
            .map(|i| (node, i))
            .or_else(|| items.iter().find_map(|v| parent_array(v, at))),
        Shape::Scalar(_) => None,
    }
}

fn member<'o>(node: &'o Outline, key: &str) -> Option<&'o (String, usize, Outline)> {
    match &node.shape {
        // The last one wins, as the readers take it.
        Shape::Object(members) => members.iter().rev().find(|(k, _, _)| k == key),
        _ => None,
    }
}

fn json_edit(text: &str, a: &Action) -> Result<Vec<Replace>, String> {
    let root = outline(text).ok_or("the file is no longer valid JSON")?;
    let via = a.via.as_ref().ok_or("not a patch step")?;
    if via.parameter.is_some() {
        // The value a parameters file gives: replaced whole.
        let place = via.file.as_ref().ok_or("no place in the parameters file")?;
        let at = offset_of(text, place.line, place.column).ok_or("the place is not in the file")?;
        let node = find_at(&root, at).ok_or("no value at the place in the parameters file")?;
        let [d] = a.desired.as_slice() else {
            return Err("a parameter patch sets one value".into());
        };
        return match &node.shape {
            Shape::Scalar(v) if v == &d.value => Ok(Vec::new()),
            Shape::Scalar(_) => Ok(vec![Replace {
                start: node.start,
                end: node.end,
                text: value_text(&d.value),
            }]),
            _ => Err("the parameter's value is not a plain value".into()),
        };
    }
    let origin = a.source.as_ref().ok_or("the step names no resource")?;
    let at =
        offset_of(text, origin.line, origin.column).ok_or("the resource is not in the file")?;
    let resource = find_at(&root, at)
        .filter(|n| matches!(n.shape, Shape::Object(_)))
        .ok_or("no resource object at its place: the file changed")?;
    if member(resource, "copy").is_some() {
        return Err(
            "the template resource has a `copy` loop: a patch would change every copy; change it by hand"
                .into(),
        );
    }
    if a.operation == Operation::Delete {
        return remove_element(text, &root, at).map(|r| vec![r]);
    }
    let nl = newline(text);
    let mut out = Vec::new();
    for d in &a.desired {
        let keys: Vec<&str> = d.path.split('.').collect();
        out.extend(set_member(text, resource, &keys, &d.value, nl)?);
    }
    Ok(out)
}

fn is_expression(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.starts_with('[') && !s.starts_with("[[") && s.ends_with(']'))
}

/// Sets `keys` (a path of members) under `object` to `value`: the value
/// replaced when present, else a member inserted where the path stops.
fn set_member(
    text: &str,
    object: &Outline,
    keys: &[&str],
    value: &Value,
    nl: &str,
) -> Result<Vec<Replace>, String> {
    let Some((key, rest)) = keys.split_first() else {
        return Err("an empty path".into());
    };
    match member(object, key) {
        Some((_, _, node)) if rest.is_empty() => match &node.shape {
            Shape::Scalar(v) if v == value => Ok(Vec::new()),
            Shape::Scalar(v) if is_expression(v) => Err(format!(
                "`{key}` is an ARM expression: a patch never rewrites one; change it by hand"
            )),
            Shape::Scalar(_) => Ok(vec![Replace {
                start: node.start,
                end: node.end,
                text: value_text(value),
            }]),
            _ => Err(format!("`{key}` is not a plain value")),
        },
        Some((_, _, node)) => match &node.shape {
            Shape::Object(_) => set_member(text, node, rest, value, nl),
            Shape::Scalar(v) if is_expression(v) => Err(format!(
                "`{key}` is an ARM expression: a patch never rewrites one; change it by hand"
            )),
            _ => Err(format!("`{key}` is not an object")),
        },
        None => {
            let mut v = value.clone();
            for k in rest.iter().rev() {
                v = serde_json::json!({ *k: v });
            }
            insert_member(text, object, key, &v, nl).map(|r| vec![r])
        }
    }
}

/// Inserts `"key": value` as the last member of `object`, on a line of its
/// own at the indentation of the members before it when they are on lines
/// of their own, else on the same line.
fn insert_member(
    text: &str,
    object: &Outline,
    key: &str,
    value: &Value,
    nl: &str,
) -> Result<Replace, String> {
    let Shape::Object(members) = &object.shape else {
        return Err("not an object".into());
    };
    let pair = format!(
        "{}: {}",
        value_text(&Value::String(key.into())),
        value_text(value)
    );
    let Some((_, key_at, last)) = members.last() else {
        // `{}`: the member goes inside the braces.
        return Ok(Replace {
            start: object.start + 1,
            end: object.start + 1,
            text: pair,
        });
    };
    let start = line_start(text, *key_at);
    let indent = &text[start..*key_at];
    let own_line = indent.chars().all(|c| c == ' ' || c == '\t');
    let eol = line_end(text, last.end);
    // What follows the last value on its line: whitespace or a comment,
    // and the object closes on a later line.
    let tail = &text[last.end..eol];
    let closes_later = object.end > eol;
    let tail_is_blank = {
        let t = tail.trim();
        t.is_empty() || t.starts_with("//")
    };
    if own_line && closes_later && tail_is_blank && text[..eol].ends_with('\n') {
        // `,` right after the last value (before any comment), the new
        // member on a line of its own after it.
        return Ok(Replace {
            start: last.end,
            end: eol,
            text: format!(",{tail}{indent}{pair}{nl}"),
        });
    }
    Ok(Replace {
        start: last.end,
        end: last.end,
        text: format!(", {pair}"),
    })
}

/// Removes the array element that starts at `at`, with the comma and the
/// space that separate it from its neighbour (and, when it starts a line,
/// the comment lines just above it, which are about it).
fn remove_element(text: &str, root: &Outline, at: usize) -> Result<Replace, String> {
    let (array, i) = parent_array(root, at).ok_or("the resource is not an element of an array")?;
    let Shape::Array(items) = &array.shape else {
        return Err("not an array".into());
    };
    let own_line = |at: usize| text[line_start(text, at)..at].trim().is_empty();
    // Where the element's own lines start: its line, and comment lines above.
    let lines_start = |at: usize| {
        let mut s = line_start(text, at);
        while s > array.start + 1 {
            let prev = line_start(text, s - 1);
            if prev <= array.start || !text[prev..s].trim_start().starts_with("//") {
                break;
            }
            s = prev;
        }
        s
    };
    let (start, end) = if i > 0 {
        // From the end of the element before: its comma, then this one.
        (items[i - 1].end, items[i].end)
    } else if items.len() > 1 {
        // The first of several: up to where the next one starts.
        if own_line(items[0].start) && own_line(items[1].start) {
            (
                lines_start(items[0].start),
                line_start(text, items[1].start),
            )
        } else {
            (items[0].start, items[1].start)
        }
    } else {
        // The only one: the array becomes `[]`.
        (array.start + 1, array.end - 1)
    };
    Ok(Replace {
        start,
        end,
        text: String::new(),
    })
}

// ---- YAML ------------------------------------------------------------------

/// A line of a YAML text: its byte range without and with its ending.
struct Line<'t> {
    start: usize,
    /// End of the content (before `\r\n` or `\n`).
    end: usize,
    /// After the line ending.
    next: usize,
    text: &'t str,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let next = line_end(text, at);
        let mut end = next;
        if text[..end].ends_with('\n') {
            end -= 1;
        }
        if text[..end].ends_with('\r') {
            end -= 1;
        }
        out.push(Line {
            start: at,
            end,
            next,
            text: &text[at..end],
        });
        at = next;
    }
    out
}

fn is_separator(l: &str) -> bool {
    l == "---" || l.starts_with("--- ") || l == "..." || l.starts_with("... ")
}

fn is_blank_or_comment(l: &str) -> bool {
    let t = l.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// A `key:` at the start of `l` (after `indent` spaces): the key and the
/// byte offset in `l` just after the colon.
fn key_at(l: &str, indent: usize) -> Option<(String, usize)> {
    if l.len() < indent || !l[..indent].chars().all(|c| c == ' ') {
        return None;
    }
    let s = &l[indent..];
    let (key, after) = match s.chars().next()? {
        q @ ('"' | '\'') => {
            let close = s[1..].find(q)? + 1;
            (s[1..close].to_string(), close + 1)
        }
        c if c.is_ascii_alphanumeric() || c == '_' => {
            let end = s
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(s.len());
            (s[..end].to_string(), end)
        }
        _ => return None,
    };
    let rest = &s[after..];
    let colon = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    let rest2 = &rest[colon..];
    let rest3 = rest2.strip_prefix(':')?;
    (rest3.is_empty() || rest3.starts_with([' ', '\t']))
        .then_some((key, indent + after + colon + 1))
}

/// The scalar after a key: its byte range in the line (without the comment).
fn scalar_range(l: &str, from: usize) -> (usize, usize) {
    let rest = &l[from..];
    let start = from + (rest.len() - rest.trim_start().len());
    let mut end = l.len();
    let bytes = l.as_bytes();
    for i in start..l.len() {
        if bytes[i] == b'#' && (i == start || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            end = i;
            break;
        }
    }
    let end = start + l[start..end].trim_end().len();
    (start, end)
}

fn yaml_key_matches(written: &str, want: &str, pascal: bool) -> bool {
    if pascal {
        let mut c = written.chars();
        c.next()
            .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
            .is_some_and(|k| k == want)
    } else {
        written == want
    }
}

fn yaml_key_written(want: &str, pascal: bool) -> String {
    if pascal {
        let mut c = want.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    } else {
        want.to_string()
    }
}

fn yaml_scalar(v: &Value) -> Result<String, String> {
    match v {
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) => Ok(value_text(&Value::String(s.clone()))),
        _ => Err("a patch writes only plain values in YAML".into()),
    }
}

/// The value a YAML scalar token means, for the values a patch writes.
fn yaml_value(token: &str) -> Option<Value> {
    match token {
        "true" | "True" | "TRUE" => Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => Some(Value::Bool(false)),
        t => serde_json::from_str(t).ok(),
    }
}

fn yaml_edit(text: &str, a: &Action, pascal: bool) -> Result<Vec<Replace>, String> {
    let origin = a.source.as_ref().ok_or("the step names no resource")?;
    let all = lines(text);
    // The document holding the rule's line.
    let at = origin
        .line
        .saturating_sub(1)
        .min(all.len().saturating_sub(1));
    let first = (0..at)
        .rev()
        .find(|&i| is_separator(all[i].text))
        .map_or(0, |i| i + 1);
    let last = (at..all.len())
        .find(|&i| i > first && is_separator(all[i].text))
        .unwrap_or(all.len());
    let doc = &all[first..last];
    let nl = newline(text);
    let mut out = Vec::new();
    for d in &a.desired {
        let path: Vec<&str> = d
            .path
            .strip_prefix("properties.")
            .unwrap_or(&d.path)
            .split('.')
            .collect();
        let value = yaml_scalar(&d.value)?;
        out.extend(yaml_set(doc, &path, &d.value, &value, pascal, nl)?);
    }
    Ok(out)
}

/// The lines of a block under the key at `doc[i]`: up to the next line at
/// the key's indentation or less (blank lines and comments belong to it
/// only when more of the block follows).
fn block_end(doc: &[Line<'_>], i: usize, indent: usize) -> usize {
    let mut end = i + 1;
    for (j, l) in doc.iter().enumerate().skip(i + 1) {
        if is_blank_or_comment(l.text) {
            continue;
        }
        let ind = l.text.len() - l.text.trim_start_matches(' ').len();
        if ind <= indent {
            break;
        }
        end = j + 1;
    }
    end
}

#[allow(clippy::too_many_arguments)]
fn yaml_set(
    doc: &[Line<'_>],
    path: &[&str],
    value: &Value,
    written: &str,
    pascal: bool,
    nl: &str,
) -> Result<Vec<Replace>, String> {
    let (top, nested) = match path {
        [k] => (*k, None),
        [k, n] => (*k, Some(*n)),
        _ => return Err("a YAML patch sets a key or a key under a key".into()),
    };
    let found = doc.iter().enumerate().find_map(|(i, l)| {
        key_at(l.text, 0)
            .filter(|(k, _)| yaml_key_matches(k, top, pascal))
            .map(|(_, after)| (i, after))
    });
    let key = yaml_key_written(top, pascal);
    let Some((i, after)) = found else {
        // Not there: added after the document's last line of content.
        let new = match nested {
            None => format!("{key}: {written}"),
            Some(n) => format!("{key}:{nl}  {n}: {written}"),
        };
        return Ok(vec![append_after(doc, 0, doc.len(), &new, nl)?]);
    };
    let l = &doc[i];
    let (s, e) = scalar_range(l.text, after);
    let Some(n) = nested else {
        let token = &l.text[s..e];
        return match yaml_value(token) {
            Some(v) if &v == value => Ok(Vec::new()),
            Some(Value::Bool(_)) | Some(Value::Number(_)) | Some(Value::String(_)) => {
                Ok(vec![Replace {
                    start: l.start + s,
                    end: l.start + e,
                    text: written.to_string(),
                }])
            }
            _ if token.is_empty() => Err(format!("`{key}` holds a block, not a value")),
            _ => Err(format!(
                "`{key}: {token}` is not a plain value a patch replaces"
            )),
        };
    };
    if s != e {
        return Err(format!(
            "`{key}` is written on one line (flow style): a patch edits only a block of `key: value` lines; change it by hand"
        ));
    }
    let end = block_end(doc, i, 0);
    let child_indent = doc[i + 1..end]
        .iter()
        .find(|l| !is_blank_or_comment(l.text))
        .map(|l| l.text.len() - l.text.trim_start_matches(' ').len())
        .unwrap_or(2);
    for l in &doc[i + 1..end] {
        if let Some((k, after)) = key_at(l.text, child_indent)
            && k == n
        {
            let (s, e) = scalar_range(l.text, after);
            let token = &l.text[s..e];
            return match yaml_value(token) {
                Some(v) if &v == value => Ok(Vec::new()),
                Some(_) => Ok(vec![Replace {
                    start: l.start + s,
                    end: l.start + e,
                    text: written.to_string(),
                }]),
                None => Err(format!(
                    "`{key}.{n}: {token}` is not a plain value a patch replaces"
                )),
            };
        }
    }
    let new = format!("{}{n}: {written}", " ".repeat(child_indent));
    Ok(vec![append_after(doc, i, end, &new, nl)?])
}

/// Inserts a line after the last line of content in `doc[from..to]`.
fn append_after(
    doc: &[Line<'_>],
    from: usize,
    to: usize,
    new: &str,
    nl: &str,
) -> Result<Replace, String> {
    let last = doc[from..to]
        .iter()
        .rev()
        .find(|l| !is_blank_or_comment(l.text) && !is_separator(l.text))
        .ok_or("the document is empty")?;
    if last.next == last.end {
        // The last line of the file, without a line ending: it stays so.
        return Ok(Replace {
            start: last.end,
            end: last.end,
            text: format!("{nl}{new}"),
        });
    }
    Ok(Replace {
        start: last.next,
        end: last.next,
        text: format!("{new}{nl}"),
    })
}

// ---- the diff --------------------------------------------------------------

/// A path as git writes it in a diff header: C-quoted when it holds a
/// quote, a backslash, a control character or a non-ASCII byte.
pub fn git_path(prefix: &str, path: &str) -> String {
    let full = format!("{prefix}{path}");
    let needs = full
        .bytes()
        .any(|b| b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b));
    if !needs {
        return full;
    }
    let mut s = String::from("\"");
    for b in full.bytes() {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\{b:03o}")),
        }
    }
    s.push('"');
    s
}

/// Lines with their endings.
fn split_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let end = bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| at + i + 1);
        out.push(&bytes[at..end]);
        at = end;
    }
    out
}

const CONTEXT: usize = 3;

/// A git-style unified diff of one file (`path` relative to the
/// repository root), or nothing when the bytes are the same.
pub fn unified(path: &str, before: &[u8], after: &[u8]) -> Vec<u8> {
    if before == after {
        return Vec::new();
    }
    let old = split_lines(before);
    let new = split_lines(after);
    // The edits change few lines: one changed region per run of
    // differing lines, found from both ends between equal anchors.
    let regions = changed_regions(&old, &new);
    let mut out = Vec::new();
    let a = git_path("a/", path);
    let b = git_path("b/", path);
    out.extend_from_slice(format!("diff --git {a} {b}\n--- {a}\n+++ {b}\n").as_bytes());
    // Group regions whose context overlaps into hunks.
    let mut hunks: Vec<Vec<(usize, usize, usize, usize)>> = Vec::new();
    for r in regions {
        match hunks.last_mut() {
            Some(h) if r.0 <= h.last().map_or(0, |l| l.1) + 2 * CONTEXT => h.push(r),
            _ => hunks.push(vec![r]),
        }
    }
    for h in hunks {
        let (first, last) = (h[0], h[h.len() - 1]);
        let o_start = first.0.saturating_sub(CONTEXT);
        let n_start = first.2 - (first.0 - o_start);
        let o_end = (last.1 + CONTEXT).min(old.len());
        let n_end = last.3 + (o_end - last.1);
        let range = |start: usize, len: usize| {
            if len == 0 {
                format!("{start},0")
            } else if len == 1 {
                format!("{}", start + 1)
            } else {
                format!("{},{len}", start + 1)
            }
        };
        out.extend_from_slice(
            format!(
                "@@ -{} +{} @@\n",
                range(o_start, o_end - o_start),
                range(n_start, n_end - n_start)
            )
            .as_bytes(),
        );
        let push = |out: &mut Vec<u8>, mark: u8, line: &[u8]| {
            out.push(mark);
            out.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                out.extend_from_slice(b"\n\\ No newline at end of file\n");
            }
        };
        let mut o = o_start;
        for &(os, oe, ns, ne) in &h {
            for line in &old[o..os] {
                push(&mut out, b' ', line);
            }
            for line in &old[os..oe] {
                push(&mut out, b'-', line);
            }
            for line in &new[ns..ne] {
                push(&mut out, b'+', line);
            }
            o = oe;
        }
        for line in &old[o..o_end] {
            push(&mut out, b' ', line);
        }
    }
    out
}

/// The runs of lines that differ: `(old start, old end, new start, new
/// end)`, from a longest-common-subsequence of the lines (the files are
/// small and the edits few: the quadratic table stays within the lines
/// between the common head and tail).
fn changed_regions(old: &[&[u8]], new: &[&[u8]]) -> Vec<(usize, usize, usize, usize)> {
    let head = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let tail = old[head..]
        .iter()
        .rev()
        .zip(new[head..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (o, n) = (&old[head..old.len() - tail], &new[head..new.len() - tail]);
    // LCS table over the middle.
    let (h, w) = (o.len(), n.len());
    if h.saturating_mul(w) > 4_000_000 {
        // Edits far apart in a long file: one region, still a correct diff.
        return vec![(head, head + h, head, head + w)];
    }
    let mut table = vec![0u32; (h + 1) * (w + 1)];
    for i in (0..h).rev() {
        for j in (0..w).rev() {
            table[i * (w + 1) + j] = if o[i] == n[j] {
                table[(i + 1) * (w + 1) + j + 1] + 1
            } else {
                table[(i + 1) * (w + 1) + j].max(table[i * (w + 1) + j + 1])
            };
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    let mut open: Option<(usize, usize)> = None;
    while i < h || j < w {
        if i < h && j < w && o[i] == n[j] {
            if let Some((oi, nj)) = open.take() {
                out.push((head + oi, head + i, head + nj, head + j));
            }
            i += 1;
            j += 1;
            continue;
        }
        if open.is_none() {
            open = Some((i, j));
        }
        if j < w && (i == h || table[i * (w + 1) + j + 1] >= table[(i + 1) * (w + 1) + j]) {
            j += 1;
        } else {
            i += 1;
        }
    }
    if let Some((oi, nj)) = open {
        out.push((head + oi, head + h, head + nj, head + w));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Origin;
    use crate::plan::{Desired, Via};

    fn step(op: Operation, line: usize, column: usize, desired: &[(&str, Value)]) -> Action {
        let mut a: Action = serde_json::from_value(serde_json::json!({
            "id": "MIG101-00000000", "workspace": null, "phase": 2,
            "operation": "update", "verb": "disable", "resource_type": "alertRules",
            "resource_id": null, "name": "r", "kind": null, "display_name": null,
            "reason": {"code": "MIG101", "message": ""}, "before": null, "after": null,
            "etag": null, "api_version": null, "source": null, "evidence": [],
            "manual": null, "desired": [], "blocked": null
        }))
        .unwrap();
        a.operation = op;
        let origin = Origin {
            path: "f".into(),
            line,
            column,
        };
        a.source = Some(origin.clone());
        a.desired = desired
            .iter()
            .map(|(p, v)| Desired {
                path: p.to_string(),
                value: v.clone(),
            })
            .collect();
        a.via = Some(Via {
            route: Route::Patch,
            file: Some(origin),
            parameter: None,
            note: None,
        });
        a
    }

    fn edited(text: &str, format: &str, a: &Action) -> String {
        let e = edit(text.as_bytes(), format, &[a]);
        assert!(e.outcomes[0].is_ok(), "{:?}", e.outcomes);
        String::from_utf8(e.bytes).unwrap()
    }

    #[test]
    fn json_one_line_object_gets_the_member_inline() {
        let text = "{\"resources\": [{\"properties\": {\"a\": 1}}]}";
        let a = step(
            Operation::Update,
            1,
            16,
            &[("properties.enabled", Value::Bool(false))],
        );
        assert_eq!(
            edited(text, "arm-template", &a),
            "{\"resources\": [{\"properties\": {\"a\": 1, \"enabled\": false}}]}"
        );
    }

    #[test]
    fn removing_the_only_resource_leaves_an_empty_array() {
        let text = "{\n  \"resources\": [\n    {\"type\": \"x\"}\n  ]\n}\n";
        let a = step(Operation::Delete, 3, 5, &[]);
        assert_eq!(
            edited(text, "arm-template", &a),
            "{\n  \"resources\": []\n}\n"
        );
    }

    #[test]
    fn removing_a_later_resource_takes_its_comma() {
        let text = "[\n  {\"a\": 1},\n  {\"b\": 2},\n  {\"c\": 3}\n]\n";
        let a = step(Operation::Delete, 3, 3, &[]);
        let out = edited(text, "arm-template", &a);
        assert_eq!(out, "[\n  {\"a\": 1},\n  {\"c\": 3}\n]\n");
        assert!(serde_json::from_str::<Value>(&out).is_ok());
    }

    #[test]
    fn an_expression_is_never_rewritten() {
        let text = "[{\"properties\": {\"enabled\": \"[parameters('x')]\"}}]";
        let a = step(
            Operation::Update,
            1,
            2,
            &[("properties.enabled", Value::Bool(false))],
        );
        let e = edit(text.as_bytes(), "arm-template", &[&a]);
        assert!(e.outcomes[0].as_ref().unwrap_err().contains("expression"));
        assert_eq!(e.bytes, text.as_bytes());
    }

    #[test]
    fn yaml_nested_enabled_is_not_the_rule_enabled() {
        let text = "id: x\nincidentConfiguration:\n  groupingConfiguration:\n    enabled: true\nkind: Scheduled";
        let a = step(
            Operation::Update,
            1,
            1,
            &[("properties.enabled", Value::Bool(false))],
        );
        assert_eq!(
            edited(text, "detections-yaml", &a),
            "id: x\nincidentConfiguration:\n  groupingConfiguration:\n    enabled: true\nkind: Scheduled\nenabled: false"
        );
    }

    #[test]
    fn yaml_inserted_line_keeps_crlf_and_the_missing_final_newline() {
        let text = "Id: x\r\nKind: Scheduled\r\nQuery: |\r\n  SecurityAlert\r\n# end";
        let a = step(
            Operation::Update,
            1,
            1,
            &[("properties.enabled", Value::Bool(false))],
        );
        assert_eq!(
            edited(text, "pascal-yaml", &a),
            "Id: x\r\nKind: Scheduled\r\nQuery: |\r\n  SecurityAlert\r\nEnabled: false\r\n# end"
        );
        let text = "Id: x\r\nKind: Scheduled";
        assert_eq!(
            edited(text, "pascal-yaml", &a),
            "Id: x\r\nKind: Scheduled\r\nEnabled: false"
        );
    }

    #[test]
    fn yaml_flow_mapping_is_refused() {
        let text = "id: x\nincidentConfiguration: {createIncident: true}\n";
        let a = step(
            Operation::Update,
            1,
            1,
            &[(
                "properties.incidentConfiguration.createIncident",
                Value::Bool(false),
            )],
        );
        let e = edit(text.as_bytes(), "detections-yaml", &[&a]);
        assert!(e.outcomes[0].as_ref().unwrap_err().contains("flow"));
    }

    #[test]
    fn two_insertions_at_one_place_are_refused_not_garbled() {
        // Each insertion rewrites the end of the last member's line.
        let text = "[\n  {\n    \"properties\": {\n      \"a\": 1\n    }\n  }\n]\n";
        let a = step(
            Operation::Update,
            2,
            3,
            &[
                ("properties.x", Value::Bool(false)),
                ("properties.y", Value::Bool(false)),
            ],
        );
        let e = edit(text.as_bytes(), "arm-template", &[&a]);
        assert!(e.outcomes[0].as_ref().unwrap_err().contains("same place"));
        assert_eq!(e.bytes, text.as_bytes());
    }

    #[test]
    fn utf16_is_not_patched() {
        let a = step(
            Operation::Update,
            1,
            1,
            &[("properties.enabled", Value::Bool(false))],
        );
        let e = edit(&[0xFF, 0xFE, b'{', 0, b'}', 0], "arm-template", &[&a]);
        assert!(e.outcomes[0].as_ref().unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn diff_marks_a_missing_final_newline_and_quotes_names() {
        let d = unified("odd\"name", b"a\nb", b"a\nc");
        let d = String::from_utf8(d).unwrap();
        assert_eq!(
            d,
            "diff --git \"a/odd\\\"name\" \"b/odd\\\"name\"\n--- \"a/odd\\\"name\"\n+++ \"b/odd\\\"name\"\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"
        );
        assert!(unified("x", b"same", b"same").is_empty());
    }

    #[test]
    fn far_apart_edits_make_separate_hunks() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new: String = (1..=20)
            .map(|i| match i {
                2 => "two\n".to_string(),
                19 => "nineteen\n".to_string(),
                i => format!("{i}\n"),
            })
            .collect();
        let d = String::from_utf8(unified("f", old.as_bytes(), new.as_bytes())).unwrap();
        assert!(d.contains("@@ -1,5 +1,5 @@"), "{d}");
        assert!(d.contains("@@ -16,5 +16,5 @@"), "{d}");
    }
}
