//! A KQL lexer: comments, every string literal form, identifiers (bracketed
//! too), numbers, timespans and operators. It never fails: a character it
//! does not know becomes an `Other` token. One pass, no backtracking, no
//! allocation per token: tokens are byte ranges into the query.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A name: `SecurityAlert`, `where`, `has_any`, `['Product Name']`, `mv-expand`.
    Ident,
    /// A negated word operator: `!in`, `!has`, `!contains`, `!startswith`...
    NegIdent,
    /// A string literal in any form; [`Lexer::string_value`] decodes it.
    Str,
    Number,
    /// A number with a unit: `1h`, `30m`, `14d`, `1.5s`.
    Timespan,
    /// Punctuation and symbolic operators: `|`, `(`, `==`, `=~`, `!~`, `<=`...
    Punct,
    /// A character the lexer does not know (kept, never fatal).
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    /// Byte range in the query.
    pub start: u32,
    pub end: u32,
}

impl Token {
    pub fn text<'q>(&self, src: &'q str) -> &'q str {
        &src[self.start as usize..self.end as usize]
    }
}

/// Turns a query into tokens (comments dropped).
pub fn tokenize(src: &str) -> Vec<Token> {
    let bytes = src.as_bytes();
    let mut tokens = Vec::with_capacity(src.len() / 3 + 1);
    let mut i = 0usize;
    let n = bytes.len();
    let at = |k: usize| if k < n { bytes[k] } else { 0 };
    while i < n {
        let b = bytes[i];
        let start = i;
        match CLASS[b as usize] {
            C_SPACE => {
                i += 1;
                while i < n && CLASS[bytes[i] as usize] == C_SPACE {
                    i += 1;
                }
            }
            C_WORD => {
                if (b == b'h' || b == b'H') && starts_hidden_string(bytes, i) {
                    // Obfuscated strings: h"...", h@"..." (shown hidden in logs).
                    let next = at(i + 1);
                    i = if next == b'@' {
                        scan_verbatim(bytes, i + 3, at(i + 2))
                    } else {
                        scan_quoted(bytes, i + 2, next)
                    };
                    push(&mut tokens, Kind::Str, start, i);
                } else {
                    i = scan_ident(bytes, i + 1);
                    // `in~`, `has_any`: a word operator may end in `~`.
                    if i < n && bytes[i] == b'~' && is_word_operator(&src[start..i]) {
                        i += 1;
                    }
                    push(&mut tokens, Kind::Ident, start, i);
                }
            }
            C_DIGIT => {
                i = scan_number(bytes, i);
                let num_end = i;
                while i < n && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                let kind = if i > num_end {
                    Kind::Timespan
                } else {
                    Kind::Number
                };
                push(&mut tokens, kind, start, i);
            }
            C_QUOTE => {
                if b == b'\'' && at(i + 1) == b'\'' && at(i + 2) == b'\'' {
                    i = scan_fence(bytes, i, b"'''");
                } else {
                    i = scan_quoted(bytes, i + 1, b);
                }
                push(&mut tokens, Kind::Str, start, i);
            }
            C_HIGH => {
                // A non-ASCII character outside a string: keep it whole.
                i = (i + utf8_len(b)).min(n);
                push(&mut tokens, Kind::Other, start, i);
            }
            class => {
                let next = at(i + 1);
                match b {
                    b'/' if next == b'/' => {
                        i = memchr::memchr(b'\n', &bytes[i..]).map_or(n, |k| i + k);
                        continue;
                    }
                    b'`' | b'~' if next == b && at(i + 2) == b => {
                        let fence: &[u8] = if b == b'`' { b"```" } else { b"~~~" };
                        i = scan_fence(bytes, i, fence);
                        push(&mut tokens, Kind::Str, start, i);
                        continue;
                    }
                    b'@' if next == b'"' || next == b'\'' => {
                        i = scan_verbatim(bytes, i + 2, next);
                        push(&mut tokens, Kind::Str, start, i);
                        continue;
                    }
                    b'[' if next == b'\'' || next == b'"' => {
                        // Bracketed identifier: ['Product Name'] or ["x"].
                        let mut j = scan_quoted(bytes, i + 2, next);
                        while j < n && (bytes[j] == b' ' || bytes[j] == b'\t') {
                            j += 1;
                        }
                        if j < n && bytes[j] == b']' {
                            i = j + 1;
                            push(&mut tokens, Kind::Ident, start, i);
                        } else {
                            i += 1;
                            push(&mut tokens, Kind::Punct, start, i);
                        }
                        continue;
                    }
                    b'!' if is_ident_start(next) => {
                        i = scan_ident(bytes, i + 1);
                        if i < n && bytes[i] == b'~' {
                            i += 1;
                        }
                        push(&mut tokens, Kind::NegIdent, start, i);
                        continue;
                    }
                    _ => {}
                }
                let len = match (b, next) {
                    (b'=', b'=')
                    | (b'!', b'=')
                    | (b'=', b'~')
                    | (b'!', b'~')
                    | (b'<', b'=')
                    | (b'>', b'=')
                    | (b'=', b'>')
                    | (b'.', b'.')
                    | (b'<', b'>') => 2,
                    _ => 1,
                };
                i += len;
                let kind = if class == C_PUNCT {
                    Kind::Punct
                } else {
                    Kind::Other
                };
                push(&mut tokens, kind, start, i);
            }
        }
    }
    tokens
}

const C_OTHER: u8 = 0;
const C_SPACE: u8 = 1;
const C_WORD: u8 = 2;
const C_DIGIT: u8 = 3;
const C_QUOTE: u8 = 4;
const C_PUNCT: u8 = 5;
const C_HIGH: u8 = 6;

/// The class of each byte, so the lexer dispatches with one lookup.
static CLASS: [u8; 256] = {
    let mut t = [C_OTHER; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c == b' ' || c == b'\t' || c == b'\r' || c == b'\n' {
            C_SPACE
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            C_WORD
        } else if c.is_ascii_digit() {
            C_DIGIT
        } else if c == b'"' || c == b'\'' {
            C_QUOTE
        } else if c >= 0x80 {
            C_HIGH
        } else {
            let mut k = C_OTHER;
            let p = b"|()[]{},;.=<>!~+-*/%:?@$#&^";
            let mut j = 0;
            while j < p.len() {
                if p[j] == c {
                    k = C_PUNCT;
                }
                j += 1;
            }
            k
        };
        b += 1;
    }
    t
};

/// `h"..."`, `h'...'`, `h@"..."`: an obfuscated string literal starts here.
fn starts_hidden_string(bytes: &[u8], i: usize) -> bool {
    match bytes.get(i + 1) {
        Some(b'"') | Some(b'\'') => true,
        Some(b'@') => matches!(bytes.get(i + 2), Some(b'"') | Some(b'\'')),
        _ => false,
    }
}

fn push(tokens: &mut Vec<Token>, kind: Kind, start: usize, end: usize) {
    tokens.push(Token {
        kind,
        start: start as u32,
        end: end as u32,
    });
}

fn utf8_len(b: u8) -> usize {
    match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Bytes that continue an identifier.
static IDENT: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'$';
        b += 1;
    }
    t
};

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

/// Identifiers may hold `-` between letters (`mv-expand`, `project-away`)
/// and digits after the first character.
fn scan_ident(bytes: &[u8], mut i: usize) -> usize {
    let n = bytes.len();
    while i < n {
        let b = bytes[i];
        if IDENT[b as usize] {
            i += 1;
            continue;
        }
        let word = false;
        let dash =
            b == b'-' && i + 1 < n && bytes[i + 1].is_ascii_alphabetic() && dash_word(bytes, i);
        if word || dash {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// Only the hyphenated operator names of KQL join across `-`; `a-b` is a
/// subtraction otherwise.
fn dash_word(bytes: &[u8], dash: usize) -> bool {
    let mut s = dash;
    while s > 0 && (bytes[s - 1].is_ascii_alphanumeric() || bytes[s - 1] == b'_') {
        s -= 1;
    }
    let head = &bytes[s..dash];
    matches!(
        head.to_ascii_lowercase().as_slice(),
        b"mv" | b"project" | b"make" | b"top" | b"parse" | b"series" | b"make-series" | b"sample"
    ) || head.eq_ignore_ascii_case(b"project-keep")
}

fn is_word_operator(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "in" | "has_any" | "has_all"
    )
}

fn scan_number(bytes: &[u8], mut i: usize) -> usize {
    let n = bytes.len();
    if i + 1 < n && bytes[i] == b'0' && (bytes[i + 1] == b'x' || bytes[i + 1] == b'X') {
        i += 2;
        while i < n && bytes[i].is_ascii_hexdigit() {
            i += 1;
        }
        return i;
    }
    while i < n && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i + 1 < n && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
        i += 1;
        while i < n && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i + 1 < n && (bytes[i] == b'e' || bytes[i] == b'E') {
        let mut j = i + 1;
        if j < n && (bytes[j] == b'+' || bytes[j] == b'-') {
            j += 1;
        }
        if j < n && bytes[j].is_ascii_digit() {
            i = j;
            while i < n && bytes[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

/// A `"..."` or `'...'` string with backslash escapes; returns the index
/// after the closing quote (or the end of the line if unterminated: KQL
/// strings do not span lines).
fn scan_quoted(bytes: &[u8], mut i: usize, quote: u8) -> usize {
    let n = bytes.len();
    while i < n {
        match memchr::memchr3(quote, b'\\', b'\n', &bytes[i..]) {
            None => return n,
            Some(k) => {
                i += k;
                match bytes[i] {
                    b'\\' => i += 2,
                    b'\n' => return i,
                    _ => return i + 1,
                }
            }
        }
    }
    n
}

/// `@"..."`: no escapes; a doubled quote stands for one.
fn scan_verbatim(bytes: &[u8], mut i: usize, quote: u8) -> usize {
    let n = bytes.len();
    while i < n {
        if bytes[i] == quote {
            if i + 1 < n && bytes[i + 1] == quote {
                i += 2;
                continue;
            }
            return i + 1;
        }
        if bytes[i] == b'\n' {
            return i;
        }
        i += 1;
    }
    n
}

/// A multi-line block between fences (```` ``` ```` or `'''`).
fn scan_fence(bytes: &[u8], start: usize, fence: &[u8]) -> usize {
    let n = bytes.len();
    let mut i = start + 3;
    while i + 3 <= n {
        if &bytes[i..i + 3] == fence {
            return i + 3;
        }
        i += 1;
    }
    n
}

/// The value of a string token, decoded.
pub fn string_value(raw: &str) -> String {
    let mut s = raw;
    if let Some(rest) = s.strip_prefix(['h', 'H']) {
        s = rest;
    }
    if let Some(rest) = s.strip_prefix('@') {
        let quote = rest.chars().next().unwrap_or('"');
        let inner = rest
            .get(1..)
            .map(|r| r.strip_suffix(quote).unwrap_or(r))
            .unwrap_or("");
        let doubled = format!("{quote}{quote}");
        return inner.replace(&doubled, &quote.to_string());
    }
    for fence in ["```", "~~~", "'''"] {
        if let Some(rest) = s.strip_prefix(fence) {
            return rest.strip_suffix(fence).unwrap_or(rest).to_string();
        }
    }
    let quote = s.chars().next().unwrap_or('"');
    let inner = s
        .get(1..)
        .map(|r| {
            if !r.is_empty() && r.ends_with(quote) && !ends_escaped(r) {
                &r[..r.len() - 1]
            } else {
                r
            }
        })
        .unwrap_or("");
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether the last character of `s` is escaped by an odd run of backslashes.
fn ends_escaped(s: &str) -> bool {
    let b = s.as_bytes();
    let mut k = 0;
    let mut i = b.len().saturating_sub(1);
    while i > 0 && b[i - 1] == b'\\' {
        k += 1;
        i -= 1;
    }
    k % 2 == 1
}

/// The name of an identifier token: brackets and quotes removed.
pub fn ident_name(raw: &str) -> &str {
    raw.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .map(|r| r.trim())
        .and_then(|r| {
            r.strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .or_else(|| r.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
        })
        .unwrap_or(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        tokenize(src)
            .into_iter()
            .map(|t| (t.kind, t.text(src).to_string()))
            .collect()
    }

    #[test]
    fn strings_in_every_form() {
        let src = r#"a "x\"y" 'it\'s' @"C:\dir""q" @'a''b' h"secret" ```multi
line``` '''three
quotes'''"#;
        let toks = kinds(src);
        let strs: Vec<String> = toks
            .iter()
            .filter(|(k, _)| *k == Kind::Str)
            .map(|(_, t)| string_value(t))
            .collect();
        assert_eq!(
            strs,
            vec![
                "x\"y",
                "it's",
                "C:\\dir\"q",
                "a'b",
                "secret",
                "multi\nline",
                "three\nquotes"
            ]
        );
    }

    #[test]
    fn comments_are_dropped_but_not_inside_strings() {
        let toks = kinds("T // where ProductName == \"x\"\n| extend s = \"http://a\"");
        assert_eq!(toks.len(), 6, "{toks:?}");
        assert_eq!(string_value(&toks[5].1), "http://a");
    }

    #[test]
    fn operators() {
        let toks = kinds(
            "a !in~ (1) and b in~ (2) and c !has 'x' and d has_any (3) and e !~ f and g =~ h and mv-expand x and a-b",
        );
        let words: Vec<&str> = toks.iter().map(|(_, t)| t.as_str()).collect();
        for w in ["!in~", "in~", "!has", "has_any", "!~", "=~", "mv-expand"] {
            assert!(words.contains(&w), "{w} in {words:?}");
        }
        assert!(words.contains(&"a") && words.contains(&"-") && words.contains(&"b"));
        assert_eq!(
            toks.iter().find(|(_, t)| t == "!in~").unwrap().0,
            Kind::NegIdent
        );
    }

    #[test]
    fn bracketed_identifiers_and_timespans() {
        let toks = kinds("['Product Name'] == 1 | where T > ago(14d) and x < 1.5e3");
        assert_eq!(toks[0], (Kind::Ident, "['Product Name']".into()));
        assert_eq!(ident_name(&toks[0].1), "Product Name");
        assert!(toks.contains(&(Kind::Timespan, "14d".into())));
        assert!(toks.contains(&(Kind::Number, "1.5e3".into())));
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "\"unterminated",
            "@\"x",
            "```x",
            "'''",
            "[\"",
            "h",
            "h@",
            "\\",
            "é€𝄞",
            "!",
            "0x",
            "1e",
            "@",
        ] {
            let toks = tokenize(s);
            for t in toks {
                let _ = string_value(t.text(s));
            }
        }
    }
}
