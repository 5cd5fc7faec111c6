//! What users and reviewers read: the human summary, `plan.json`, the
//! reviewable diff and the apply/rollback scripts. Every renderer writes to
//! any `impl Write` and is deterministic: same plan, same bytes.

mod diff;
mod explain;
mod html;
mod human;
mod markdown;
pub mod patch;
mod script;

pub use diff::diff;
pub use explain::{explain_human, explain_json};
pub use html::html;
pub use human::{Style, human};
pub use markdown::{LIMIT as MARKDOWN_LIMIT, markdown};
pub use script::{
    PlanId, apply_script, apply_script_of, plan_id, rollback_script, rollback_script_of,
};

use crate::plan::Plan;
use std::io::{self, Write};

/// The plan's actions by workspace (`Action::workspace`), each list in the
/// plan's order: looked up once per workspace, not filtered out of every
/// action for each (a fleet's plan has thousands of both).
pub(crate) struct ByWorkspace<'p> {
    named: std::collections::HashMap<&'p str, Vec<&'p crate::plan::Action>>,
    unnamed: Vec<&'p crate::plan::Action>,
}

impl<'p> ByWorkspace<'p> {
    pub(crate) fn new(plan: &'p Plan) -> ByWorkspace<'p> {
        let mut by = ByWorkspace {
            named: std::collections::HashMap::new(),
            unnamed: Vec::new(),
        };
        for a in &plan.actions {
            match a.workspace.as_deref() {
                Some(id) => by.named.entry(id).or_default().push(a),
                None => by.unnamed.push(a),
            }
        }
        by
    }

    /// The actions on workspace `id` (None: on no named workspace).
    pub(crate) fn of(&self, id: Option<&str>) -> &[&'p crate::plan::Action] {
        match id {
            Some(id) => self.named.get(id).map_or(&[], Vec::as_slice),
            None => &self.unnamed,
        }
    }
}

/// `plan.json`: pretty, stable key order, trailing newline. Streamed:
/// a fleet's plan is not held as text, and every [hidden](is_hidden)
/// character serde_json leaves raw is escaped on the way (as
/// [`json_visible`] does).
pub fn json(plan: &Plan, w: &mut dyn Write) -> io::Result<()> {
    let mut v = Visible {
        w,
        held: Vec::new(),
    };
    // serde_json writes in small pieces: escaped (and whatever is behind,
    // hashed) a block at a time.
    let mut blocks = io::BufWriter::with_capacity(1 << 16, &mut v);
    serde_json::to_writer_pretty(&mut blocks, plan)?;
    blocks.write_all(b"\n")?;
    blocks.flush()?;
    drop(blocks);
    v.finish()
}

/// A writer of JSON text that escapes every [hidden](is_hidden) character
/// but the layout's newlines, tabs and carriage returns (inside strings
/// serde_json has escaped those already) as `\uXXXX`, passing printable
/// ASCII through a run at a time. A character split across two writes is
/// held until its last byte comes.
struct Visible<'w> {
    w: &'w mut dyn Write,
    held: Vec<u8>,
}

impl Visible<'_> {
    fn finish(&mut self) -> io::Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        // Not UTF-8 at the end: serde_json never writes that.
        let held = std::mem::take(&mut self.held);
        self.w.write_all(&held)
    }

    fn pass(&mut self, text: &str) -> io::Result<()> {
        let bytes = text.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if (0x20..0x7f).contains(&b) || matches!(b, b'\n' | b'\t' | b'\r') {
                i += 1;
                continue;
            }
            let c = text[i..].chars().next().unwrap_or('\0');
            if !is_hidden(c) {
                i += c.len_utf8();
                continue;
            }
            self.w.write_all(&bytes[start..i])?;
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                write!(self.w, "\\u{u:04x}")?;
            }
            i += c.len_utf8();
            start = i;
        }
        self.w.write_all(&bytes[start..])
    }
}

impl Write for Visible<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Printable ASCII and layout, most of a plan, goes through as it is.
        let plain = |b: &u8| (0x20..0x7f).contains(b) || matches!(b, b'\n' | b'\t' | b'\r');
        if self.held.is_empty() && buf.iter().all(plain) {
            self.w.write_all(buf)?;
            return Ok(buf.len());
        }
        let mut joined;
        let bytes = if self.held.is_empty() {
            buf
        } else {
            joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(buf);
            &joined[..]
        };
        let (text, rest) = match std::str::from_utf8(bytes) {
            Ok(t) => (t, &[][..]),
            // A character cut at the end of this write: the rest waits.
            Err(e) if e.error_len().is_none() => {
                let (ok, rest) = bytes.split_at(e.valid_up_to());
                (std::str::from_utf8(ok).unwrap_or_default(), rest)
            }
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "JSON text that is not UTF-8",
                ));
            }
        };
        let rest = rest.to_vec();
        self.pass(text)?;
        self.held = rest;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// Reads a saved plan back.
pub fn read_plan(text: &str) -> Result<Plan, serde_json::Error> {
    serde_json::from_str(text)
}

/// The summary footer: `Plan: 2 to disable, 3 to delete, 1 manual step, 2 to review.`
pub fn footer(plan: &Plan) -> String {
    let s = &plan.summary;
    if plan.workspaces.is_empty() {
        return "Plan: no changes: the inputs hold no Sentinel resources (--allow-empty).".into();
    }
    if s.total == 0 && plan.workspaces.iter().any(|w| !w.not_read.is_empty()) {
        return "Plan: no changes in what was read; some resource types were not read (see the notes).".into();
    }
    if s.total == 0 {
        return "Plan: no changes. Every workspace is in the desired state.".into();
    }
    let mut parts = Vec::new();
    let mut add = |n: usize, what: &str| {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    };
    add(s.create, "to create");
    add(s.disable, "to disable");
    add(s.stop_incidents, "to stop creating incidents");
    add(s.delete, "to delete");
    add(s.update, "to update");
    add(
        s.manual,
        if s.manual == 1 {
            "manual step"
        } else {
            "manual steps"
        },
    );
    add(s.review, "to review");
    format!("Plan: {}.", parts.join(", "))
}

/// Whether a character must not reach a terminal, a comment or a log as it
/// is: controls (C0, DEL, C1: escape sequences, bell, backspace, newlines),
/// Unicode format characters (bidi embeddings, overrides and isolates,
/// directional and zero-width marks, soft hyphen, word joiners, BOM,
/// interlinear annotation, tags: general category Cf) and the line and
/// paragraph separators. They can hide or reorder what a reader sees.
pub fn is_hidden(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    c.is_control()
        || matches!(
            c as u32,
            0x00AD
                | 0x0600..=0x0605
                | 0x061C
                | 0x06DD
                | 0x070F
                | 0x0890..=0x0891
                | 0x08E2
                | 0x180E
                | 0x200B..=0x200F
                | 0x2028..=0x202E
                | 0x2060..=0x2064
                | 0x2066..=0x206F
                | 0xFEFF
                | 0xFFF9..=0xFFFB
                | 0x110BD
                | 0x110CD
                | 0x13430..=0x1343F
                | 0x1BCA0..=0x1BCA3
                | 0x1D173..=0x1D17A
                | 0xE0001
                | 0xE0020..=0xE007F
        )
}

/// Appends `c`, visibly escaped when it is [hidden](is_hidden): `\n`,
/// `\t`, `\r`, else `\u{1b}`, `\u{202e}`.
pub fn push_visible(c: char, out: &mut String) {
    use std::fmt::Write as _;
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if is_hidden(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// One line of text safe to print or embed in a comment or a log line:
/// every [hidden](is_hidden) character (newlines, tabs, escape sequences,
/// bidi overrides) is shown escaped, so what the reader sees is what is
/// there. The one escape for text from exports, wherever it is shown.
pub fn one_line(s: &str) -> String {
    // Printable ASCII, most of what is shown, is shown as it is.
    if printable_ascii(s.as_bytes(), |_| false) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_visible(c, &mut out);
    }
    out
}

/// JSON text with every [hidden](is_hidden) character that serde_json
/// leaves raw (DEL, C1, format characters, separators) written as a
/// `\uXXXX` escape: the same JSON value, with nothing in it that can
/// garble a terminal or hide text from a reviewer. Outside strings JSON is
/// ASCII, so only string contents change.
pub fn json_visible(text: String) -> String {
    use std::fmt::Write as _;
    if !has_hidden(&text) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        // Newlines and tabs outside strings are layout; inside a string
        // serde_json has escaped them already.
        if is_hidden(c) && !matches!(c, '\n' | '\t' | '\r') {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{u:04x}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether every byte is printable ASCII or one `also` allows: looked at
/// 64 bytes at a time, each block whole (the compiler makes one check of
/// many bytes at once of it).
fn printable_ascii(bytes: &[u8], also: impl Fn(u8) -> bool) -> bool {
    bytes.chunks(64).all(|block| {
        block.iter().fold(true, |ok, &b| {
            ok & ((b.wrapping_sub(0x20) < 0x5f) | also(b))
        })
    })
}

/// Whether `text` holds a [hidden](is_hidden) character other than a
/// newline, tab or carriage return: printable ASCII, most of a plan, is
/// passed over a byte at a time.
fn has_hidden(text: &str) -> bool {
    let bytes = text.as_bytes();
    if printable_ascii(bytes, |b| matches!(b, b'\n' | b'\t' | b'\r')) {
        return false;
    }
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if (0x20..0x7f).contains(&b) {
            i += 1;
        } else if b.is_ascii() {
            if !matches!(b, b'\n' | b'\t' | b'\r') {
                return true;
            }
            i += 1;
        } else {
            let Some(c) = text.get(i..).and_then(|t| t.chars().next()) else {
                return false;
            };
            if is_hidden(c) {
                return true;
            }
            i += c.len_utf8();
        }
    }
    false
}

/// The migration rules reference (`docs/rules.md`), generated from `rules/`.
pub fn rules_markdown(catalog: &crate::catalog::Catalog, w: &mut dyn Write) -> io::Result<()> {
    use crate::catalog::Mode;
    let mut s = String::new();
    s.push_str("# Migration rules\n\n");
    s.push_str("Generated from `rules/` by `sentinel-migrate rules`; a test fails when this page and the rules drift apart.\n");
    s.push_str("Each rule is one kind of step the planner can propose. Its id appears as `reason.code` in `plan.json`, in the summary and in the diff.\n");
    s.push_str("What a rule does (its phase, operation and the confirmation it waits for) is fixed in the planner's code; a `--rules` file gives only its texts, and one that states a different phase, operation, verb or mode is refused.\n");
    for (mode, title) in [
        (
            Mode::Switch,
            "Switch to tenant-based Defender for Cloud (`--mode switch`)",
        ),
        (Mode::OptOut, "Stay subscription-based (`--mode opt-out`)"),
    ] {
        s.push_str(&format!("\n## {title}\n\nPhases:\n\n"));
        for p in catalog.phase_titles(mode) {
            s.push_str(&format!("{}. {}\n", p.number, p.title));
        }
        for r in catalog.rules.iter().filter(|r| r.mode() == mode) {
            s.push_str(&format!("\n### {} `{}`: {}\n\n", r.id, r.name(), r.summary));
            s.push_str(&format!(
                "- phase {}, operation `{}`{}\n",
                r.phase(),
                r.operation().as_str(),
                r.kind
                    .gate()
                    .map(|g| format!(", only after `--confirm {}`", g.as_str()))
                    .unwrap_or_default()
            ));
            s.push_str(&format!("- message: {}\n", r.message));
            let placeholders = r.kind.placeholders();
            if !placeholders.is_empty() {
                s.push_str(&format!(
                    "- placeholders: {}\n",
                    placeholders
                        .iter()
                        .map(|p| format!("`{{{p}}}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            s.push_str(&format!("- example: {}\n", r.example));
            if let Some(m) = &r.manual {
                s.push_str(&format!(
                    "- where: {}\n- who: {}\n- verify: `{}`\n",
                    m.portal, m.role, m.verify
                ));
            }
            s.push_str(&format!("\n{}\n", r.why));
        }
    }
    s.push_str("\n## Product names\n\n| name | family | carried by alerts |\n|---|---|---|\n");
    for p in &catalog.products {
        let family = serde_json::to_value(p.family)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        s.push_str(&format!(
            "| {} | {family} | {} |\n",
            p.name,
            if p.in_alerts { "yes" } else { "no" }
        ));
    }
    s.push_str("\n## Connectors\n\n");
    let c = &catalog.connectors;
    s.push_str(&format!(
        "- legacy: `{}`. {}\n",
        c.legacy.kind, c.legacy.why
    ));
    s.push_str(&format!(
        "- Defender XDR: `{}`. {}\n",
        c.xdr.kind, c.xdr.why
    ));
    s.push_str(&format!(
        "- UI definitions (left alone): kinds {}; tenant-based names {}. {}\n",
        c.ui_definitions
            .kinds
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", "),
        c.ui_definitions
            .tenant_based_names
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", "),
        c.ui_definitions.why
    ));
    s.push_str(&format!(
        "- tenant id read from: {}\n",
        c.tenant_id_kinds
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    w.write_all(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_json_escapes_as_the_whole_text_is_escaped_even_written_a_byte_at_a_time() {
        let value = serde_json::json!({
            "plain": "caf\u{e9} \u{1F600} [rule]",
            "hidden": "a\u{202e}b\u{7f}c\u{85}d\u{200b}e\u{e0041}f\u{feff}",
            "layout": "line\nnext\ttab",
            "array": ["\u{2028}", 1, null],
        });
        let text = serde_json::to_string_pretty(&value).unwrap();
        let whole = json_visible(text.clone());
        assert!(
            whole.contains("\\u202e") && whole.contains("\\udb40\\udc41"),
            "{whole}"
        );
        for piece in [1, 2, 3, 7, text.len()] {
            let mut out = Vec::new();
            let mut v = Visible {
                w: &mut out,
                held: Vec::new(),
            };
            for chunk in text.as_bytes().chunks(piece) {
                v.write_all(chunk).unwrap();
            }
            v.finish().unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), whole, "pieces of {piece}");
        }
    }

    #[test]
    fn hidden_characters_are_found_as_a_char_by_char_scan_finds_them() {
        let by_char = |t: &str| {
            t.chars()
                .any(|c| is_hidden(c) && !matches!(c, '\n' | '\t' | '\r'))
        };
        for t in [
            "",
            "plain {\"a\": 1}\n\t\r",
            "Échecs répétés",
            "del \u{7f}",
            "bell \u{7}",
            "c1 \u{85}",
            "bidi \u{202e}x",
            "zero width \u{200b}",
            "bom \u{feff}",
            "emoji 😀 and ✓",
            "tag \u{e0001}",
            "\u{1d173}",
        ] {
            assert_eq!(has_hidden(t), by_char(t), "{t:?}");
        }
        // Looked at in blocks: a hidden character first, last, or on either
        // side of a block's edge, in text longer than a block.
        let long = "x".repeat(200);
        for at in [0, 1, 62, 63, 64, 65, 127, 128, 199, 200] {
            for hidden in ["\u{7f}", "\u{1f}", "\u{0}", "\u{85}", "\u{202e}", "\n", "é"] {
                let t = format!("{}{hidden}{}", &long[..at], &long[at..]);
                assert_eq!(has_hidden(&t), by_char(&t), "{t:?}");
                let shown = one_line(&t);
                let visible = hidden == "é" || !shown.contains(hidden);
                assert!(visible, "{at} {hidden:?}: {shown:?}");
                assert_eq!(shown.len() == t.len(), hidden == "é", "{at} {hidden:?}");
            }
        }
    }
}
