//! Bytes to text: byte-order marks, UTF-16, and line/column arithmetic.

use crate::error::Diagnostic;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The encodings an export file may be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
}

/// Decodes an export file. UTF-8 with or without BOM, UTF-16 with BOM.
/// Anything else (binary garbage, UTF-16 without BOM) is an error that says
/// where the first offending byte is.
pub fn decode(path: &str, bytes: &[u8]) -> Result<(String, Encoding), Diagnostic> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return utf8(path, rest, 3).map(|s| (s, Encoding::Utf8Bom));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(path, rest, u16::from_le_bytes).map(|s| (s, Encoding::Utf16Le));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(path, rest, u16::from_be_bytes).map(|s| (s, Encoding::Utf16Be));
    }
    if looks_like_bomless_utf16(bytes) {
        return Err(
            Diagnostic::file(path, "the file looks like UTF-16 without a byte-order mark")
                .expected("UTF-8, or UTF-16 starting with a byte-order mark")
                .hint("save it again as UTF-8 (PowerShell: `Out-File -Encoding utf8`)"),
        );
    }
    utf8(path, bytes, 0).map(|s| (s, Encoding::Utf8))
}

/// [`decode`] for bytes read into memory: UTF-8 without a BOM (what
/// exports are) becomes the text without a copy.
pub fn decode_owned(path: &str, bytes: Vec<u8>) -> Result<(String, Encoding), Diagnostic> {
    let marked = [&[0xEF, 0xBB, 0xBF][..], &[0xFF, 0xFE], &[0xFE, 0xFF]]
        .iter()
        .any(|bom| bytes.starts_with(bom));
    if marked || looks_like_bomless_utf16(&bytes) || memchr::memchr(0, &bytes).is_some() {
        return decode(path, &bytes);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok((text, Encoding::Utf8)),
        Err(e) => decode(path, e.as_bytes()),
    }
}

fn utf8(path: &str, bytes: &[u8], skipped: usize) -> Result<String, Diagnostic> {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            if let Some(at) = text.find('\0') {
                let (line, column) = LineIndex::new(text).line_col(at);
                return Err(binary(path, text, line, column));
            }
            Ok(text.to_string())
        }
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            // The valid prefix is UTF-8 by construction.
            let prefix = std::str::from_utf8(good).unwrap_or_default();
            let (line, column) = LineIndex::new(prefix).line_col(prefix.len());
            let byte = bytes[e.valid_up_to()];
            let mut d = binary(path, prefix, line, column);
            d.message = format!(
                "byte 0x{byte:02X} at offset {} is not valid UTF-8: this is not a text export",
                e.valid_up_to() + skipped
            );
            Err(d)
        }
    }
}

/// Where binary data starts, without a snippet: what a file that is not an
/// export holds (`/proc/self/environ`: tokens) is not shown.
fn binary(path: &str, text: &str, line: usize, column: usize) -> Diagnostic {
    let mut d = Diagnostic::at(
        path,
        text,
        line,
        column,
        "the file holds binary data, not a text export",
    )
    .expected("JSON or YAML text in UTF-8, or UTF-16 with a byte-order mark")
    .hint("leave binary files out of the inputs, or name the export files one by one");
    d.snippet = None;
    d
}

fn utf16(path: &str, bytes: &[u8], word: fn([u8; 2]) -> u16) -> Result<String, Diagnostic> {
    if !bytes.len().is_multiple_of(2) {
        return Err(Diagnostic::file(
            path,
            "the file starts with a UTF-16 byte-order mark but has an odd number of bytes: it is truncated",
        )
        .expected("whole UTF-16 code units (two bytes each)"));
    }
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| word([c[0], c[1]])).collect();
    let mut text = String::with_capacity(units.len());
    for (i, r) in char::decode_utf16(units.iter().copied()).enumerate() {
        match r {
            Ok(c) => text.push(c),
            Err(e) => {
                let (line, column) = LineIndex::new(&text).line_col(text.len());
                let mut d = Diagnostic::at(
                    path,
                    &text,
                    line,
                    column,
                    format!(
                        "invalid UTF-16: unpaired surrogate 0x{:04X} at code unit {i}",
                        e.unpaired_surrogate()
                    ),
                );
                d.expected = Some("valid UTF-16 text".into());
                return Err(d);
            }
        }
    }
    Ok(text)
}

/// Text without a BOM where every other byte of the start is zero: UTF-16.
fn looks_like_bomless_utf16(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(64)];
    if head.len() < 8 {
        return false;
    }
    let zeros_even = head.iter().step_by(2).filter(|b| **b == 0).count();
    let zeros_odd = head.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
    let half = head.len() / 2;
    (zeros_odd * 10 >= half * 9 && zeros_even == 0)
        || (zeros_even * 10 >= half * 9 && zeros_odd == 0)
}

/// Byte offsets to 1-based line and character column.
///
/// Built once per file; each lookup costs O(log n) plus at most one
/// [`CHECKPOINT`] of counting, however long the line (a minified export is
/// one line of megabytes, and every value in it is looked up).
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// The line of the offset asked last (a 0-based index into `starts`):
    /// a reader asks in the order of the text, mostly within a few lines
    /// of its last question. Only a hint: any value gives the same answer.
    last: AtomicUsize,
    /// `(byte offset, characters before it)` every [`CHECKPOINT`] bytes, at
    /// character boundaries; empty when the text is ASCII (bytes are
    /// characters).
    checkpoints: Vec<(usize, usize)>,
}

/// Bytes between two character-count checkpoints.
const CHECKPOINT: usize = 256;

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        let mut checkpoints = Vec::new();
        if !text.is_ascii() {
            let mut at = 0;
            let mut chars = 0;
            checkpoints.push((0, 0));
            while at < text.len() {
                let mut next = (at + CHECKPOINT).min(text.len());
                while !text.is_char_boundary(next) {
                    next += 1;
                }
                chars += text[at..next].chars().count();
                checkpoints.push((next, chars));
                at = next;
            }
        }
        LineIndex {
            text,
            starts,
            last: AtomicUsize::new(0),
            checkpoints,
        }
    }

    /// Characters before a byte offset (at a character boundary, or the
    /// characters that start before it).
    fn chars_before(&self, offset: usize) -> usize {
        if self.checkpoints.is_empty() {
            return offset;
        }
        let i = self.checkpoints.partition_point(|(at, _)| *at <= offset) - 1;
        let (at, chars) = self.checkpoints[i];
        chars + count_chars(&self.text.as_bytes()[at..offset])
    }

    /// The 1-based line of a byte offset: looked for from the last line
    /// asked, in windows of growing length forward (or by halves back).
    fn line_of(&self, offset: usize) -> usize {
        let starts = &self.starts;
        let hint = self.last.load(Ordering::Relaxed).min(starts.len() - 1);
        let line = if starts[hint] <= offset {
            // The lines from the hint on whose start is at or before
            // `offset`: a window twice as long each time, then by halves
            // within the last.
            let ahead = &starts[hint..];
            let mut low = 0;
            let mut width = 16;
            loop {
                let high = (low + width).min(ahead.len());
                if high == ahead.len() || ahead[high] > offset {
                    break hint + low + ahead[low..high].partition_point(|s| *s <= offset);
                }
                low = high;
                width *= 2;
            }
        } else {
            starts[..hint].partition_point(|s| *s <= offset)
        };
        self.last.store(line - 1, Ordering::Relaxed);
        line
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_of(offset);
        let start = self.starts[line - 1];
        // A line of an export is short: its characters are counted; a
        // long one (a minified file) by the checkpoints.
        let column = if offset - start <= CHECKPOINT {
            count_chars(&self.text.as_bytes()[start..offset])
        } else {
            self.chars_before(offset) - self.chars_before(start)
        } + 1;
        (line, column)
    }
}

/// The characters that start in `bytes` of UTF-8: the bytes that do not
/// continue one.
fn count_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| (**b as i8) >= -0x40).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_boms() {
        assert_eq!(
            decode("a", b"\xEF\xBB\xBF{}").unwrap(),
            ("{}".into(), Encoding::Utf8Bom)
        );
        let le: Vec<u8> = [0xFF, 0xFE, b'{', 0, b'}', 0].to_vec();
        assert_eq!(decode("a", &le).unwrap(), ("{}".into(), Encoding::Utf16Le));
        let be: Vec<u8> = [0xFE, 0xFF, 0, b'[', 0, b']'].to_vec();
        assert_eq!(decode("a", &be).unwrap(), ("[]".into(), Encoding::Utf16Be));
    }

    #[test]
    fn decoding_owned_bytes_is_decoding() {
        let le: Vec<u8> = [0xFF, 0xFE, b'{', 0, b'}', 0].to_vec();
        for bytes in [
            b"{}".to_vec(),
            "{\"é\": 1}".as_bytes().to_vec(),
            b"\xEF\xBB\xBF{}".to_vec(),
            le,
            b"{\n  \"a\": \xFF}".to_vec(),
            b"{\"a\": \"\x00\"}".to_vec(),
        ] {
            let borrowed = decode("x", &bytes).map_err(|d| format!("{d:?}"));
            let owned = decode_owned("x", bytes.clone()).map_err(|d| format!("{d:?}"));
            assert_eq!(borrowed, owned, "{bytes:?}");
        }
    }

    #[test]
    fn rejects_bomless_utf16_and_binary() {
        let bomless: Vec<u8> = "{\"value\": []}"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let e = decode("x.json", &bomless).unwrap_err();
        assert!(
            e.message.contains("UTF-16 without a byte-order mark"),
            "{e}"
        );

        let e = decode("x.bin", b"{\n  \"a\": \xFF\xFE\x00\x01").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(8)));
        assert!(e.message.contains("0xFF"), "{e}");
    }

    #[test]
    fn line_col_counts_characters() {
        let idx = LineIndex::new("ab\nçd\n");
        assert_eq!(idx.line_col(0), (1, 1));
        assert_eq!(idx.line_col(3), (2, 1));
        assert_eq!(idx.line_col(5), (2, 2));
        assert_eq!(idx.line_col(99), (3, 1));
    }

    /// A minified export is one line of megabytes and every value in it is
    /// looked up: a lookup must not count from the start of the line.
    #[test]
    fn line_col_on_a_long_line_does_not_rescan_it() {
        for unit in ["x", "é"] {
            let text = unit.repeat(8 * 1024 * 1024 / unit.len());
            let idx = LineIndex::new(&text);
            let start = std::time::Instant::now();
            let step = text.len() / 50_000 / unit.len() * unit.len();
            for i in 1..=50_000 {
                let (line, column) = idx.line_col(i * step);
                assert_eq!((line, column), (1, i * step / unit.len() + 1));
            }
            // Counting from the line start each time takes 200 GB of reading.
            let took = start.elapsed();
            assert!(took.as_secs() < 5, "{unit}: 50,000 lookups took {took:?}");
        }
    }

    /// Asked in any order (the last answer is a hint for the next), near
    /// and far, forward and back: the line of every offset is the count
    /// of line starts at or before it.
    #[test]
    fn line_col_in_any_order_matches_counting() {
        let text: String = (0..400).map(|i| "x".repeat(i % 5) + "\n").collect();
        let idx = LineIndex::new(&text);
        let line = |offset: usize| text[..offset].matches('\n').count() + 1;
        let mut offsets: Vec<usize> = (0..=text.len()).collect();
        offsets.extend((0..=text.len()).rev());
        // Jumps of every length, by a stride prime to the length.
        offsets.extend((0..=text.len()).map(|i| i * 389 % (text.len() + 1)));
        offsets.extend([0, text.len(), 1, text.len() - 1, 0]);
        for offset in offsets {
            assert_eq!(idx.line_col(offset).0, line(offset), "at {offset}");
        }
    }

    #[test]
    fn line_col_on_a_long_line_matches_counting() {
        // Checkpoints fall inside multi-byte characters and across lines;
        // lines shorter and longer than the checkpoints' spacing.
        for every in [5, 97, 401] {
            let mut text = String::new();
            for i in 0..6000 {
                let piece = if i % every == every - 1 {
                    "\n"
                } else {
                    ["a", "é", "漢", "🦀"][i % 4]
                };
                text.push_str(piece);
                text.push_str(&"x".repeat(i % 7));
            }
            let idx = LineIndex::new(&text);
            for (offset, _) in text.char_indices().step_by(7).chain([(text.len(), ' ')]) {
                let before = &text[..offset];
                let line = before.matches('\n').count() + 1;
                let start = before.rfind('\n').map_or(0, |i| i + 1);
                let column = text[start..offset].chars().count() + 1;
                assert_eq!(
                    idx.line_col(offset),
                    (line, column),
                    "at {offset} ({every})"
                );
            }
        }
    }
}
