//! The one error type, and diagnostics that point at the input.
//!
//! A [`Diagnostic`] says what failed, where (`file:line:col` and the offending
//! line), what was expected and, where it helps, a hint. Readers and the rules
//! loader collect every diagnostic they find and fail once with all of them.

use std::fmt;
use std::path::PathBuf;

/// A problem found in one input file (an export, a parameters file, a
/// migration rules file or a saved plan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as the user named it (or as found under a named directory).
    pub path: String,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// 1-based column (in characters), with `line`.
    pub column: Option<usize>,
    /// What failed, in a few words.
    pub message: String,
    /// What the reader expected to find there.
    pub expected: Option<String>,
    /// The offending line of the file (or a window of it) and the 1-based
    /// column of the caret within that text.
    pub snippet: Option<(String, usize)>,
    /// What the user can do about it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic about a whole file.
    pub fn file(path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
            expected: None,
            snippet: None,
            hint: None,
        }
    }

    /// A diagnostic at a place in `text` (the decoded content of `path`).
    pub fn at(
        path: impl Into<String>,
        text: &str,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        let snippet = text
            .lines()
            .nth(line.saturating_sub(1))
            .map(|l| window(l, column));
        Diagnostic {
            path: path.into(),
            line: Some(line),
            column: Some(column),
            message: message.into(),
            expected: None,
            snippet,
            hint: None,
        }
    }

    pub fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `path:line:col`, or `path` when the problem has no place.
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", self.path),
            (Some(l), None) => format!("{}:{l}", self.path),
            _ => self.path.clone(),
        }
    }
}

/// Keep very long lines (minified JSON) readable: show a window around the
/// column. Control and format characters are shown escaped (`\u{1b}`) so a
/// snippet cannot garble a terminal or hide text; the caret follows.
fn window(line: &str, column: usize) -> (String, usize) {
    const WIDTH: usize = 100;
    let chars: Vec<char> = line.chars().collect();
    let (start, end) = if chars.len() <= WIDTH {
        (0, chars.len())
    } else {
        let start = column.saturating_sub(WIDTH / 2).min(chars.len() - WIDTH);
        (start, start + WIDTH)
    };
    let mut text = String::new();
    if start > 0 {
        text.push('…');
    }
    let mut caret = None;
    for (i, c) in chars[start..end].iter().enumerate() {
        if start + i + 1 == column {
            caret = Some(text.chars().count() + 1);
        }
        crate::render::push_visible(*c, &mut text);
    }
    let caret = caret.unwrap_or_else(|| text.chars().count() + 1 + column.saturating_sub(end + 1));
    if end < chars.len() {
        text.push('…');
    }
    (text, caret)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::render::one_line;
        writeln!(
            f,
            "{}: {}",
            one_line(&self.location()),
            one_line(&self.message)
        )?;
        if let (Some(line), Some((snippet, caret))) = (self.line, &self.snippet) {
            let gutter = line.to_string().len();
            writeln!(f, "  {line:>gutter$} | {snippet}")?;
            let offset = caret.saturating_sub(1).min(snippet.chars().count());
            writeln!(f, "  {:>gutter$} | {}^", "", " ".repeat(offset))?;
        }
        if let Some(expected) = &self.expected {
            writeln!(f, "  expected: {}", one_line(expected))?;
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "  hint: {}", one_line(hint))?;
        }
        Ok(())
    }
}

/// Everything that can go wrong, each variant carrying what the user needs to
/// find and fix the cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more input files could not be read; nothing was planned.
    #[error("{}", render_diagnostics("input file", .0))]
    Input(Vec<Diagnostic>),

    /// The migration rules (`rules/` or `--rules DIR`) are invalid.
    #[error("{}", render_diagnostics("migration rules file", .0))]
    Rules(Vec<Diagnostic>),

    /// A file or directory could not be read or written.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    /// The command line asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),

    /// Azure no longer matches the plan: nothing (more) was changed.
    #[error("the plan is stale: {} changed since the plan was made\n{}\n  hint: export the workspace again and plan again, into a new folder (`plan --out NEW`) when this plan's folder holds an apply journal (keep it: rollback needs it)", count(.0.len(), "resource"), .0.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n"))]
    Stale(Vec<String>),

    /// Rollback left resources as they are: changed since apply, or not
    /// as they were before apply after the restore.
    #[error("rollback incomplete: {} not restored\n{}\n  hint: a resource changed since apply is restored only with `rollback --force`; otherwise fix the cause and run rollback again (it resumes)", count(.0.len(), "resource"), .0.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n"))]
    Conflict(Vec<String>),

    /// A call to Azure failed; the message says what was done before it.
    #[error("{0}")]
    Azure(String),

    /// One call to Azure failed after the retries it deserved: what it was
    /// for, and ARM's answer (status and code) or the transport failure.
    #[error("{context}: {source}")]
    Arm {
        context: String,
        source: crate::api::ApiError,
    },
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

impl Error {
    /// How the binary exits on this error (docs/exit-codes.md).
    pub fn exit(&self) -> crate::exit::Exit {
        match self {
            Error::Stale(_) | Error::Conflict(_) => crate::exit::Exit::Stale,
            _ => crate::exit::Exit::Error,
        }
    }

    /// What the user can do about it, when the error's data says.
    /// (Diagnostics of input and rules files carry their own hints.)
    pub fn hint(&self) -> Option<String> {
        use std::io::ErrorKind;
        match self {
            Error::Arm { source, .. } => arm_hint(source),
            Error::Io { source, .. } => match source.kind() {
                ErrorKind::NotFound => Some("check the path".into()),
                ErrorKind::PermissionDenied => {
                    Some("check the permissions of the file or folder".into())
                }
                ErrorKind::StorageFull => Some("free some disk space and run again".into()),
                _ => None,
            },
            _ => None,
        }
    }

    /// A failed Azure call, with what it was for.
    pub fn arm(context: impl Into<String>, source: crate::api::ApiError) -> Self {
        Error::Arm {
            context: context.into(),
            source,
        }
    }

    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

fn arm_hint(e: &crate::api::ApiError) -> Option<String> {
    use crate::api::ApiError;
    Some(match e {
        ApiError::Auth(_) => "sign in with `az login`, or set AZURE_ACCESS_TOKEN".into(),
        ApiError::Transport { .. } => {
            "Azure could not be reached after every retry: check the network and the endpoint, then run again".into()
        }
        ApiError::TooLarge { .. } => {
            "an ARM answer is far smaller: check that --endpoint is Azure Resource Manager".into()
        }
        ApiError::Elsewhere { .. } => {
            "the answer pointed away from the endpoint; nothing was sent there: check --endpoint, or report it if it is Azure's own".into()
        }
        ApiError::Status { status, code, .. } => match status {
            401 => "the token was refused: sign in again with `az login`, or set a fresh AZURE_ACCESS_TOKEN for this endpoint".into(),
            403 => "the identity may not do this: it needs Microsoft Sentinel Contributor on the workspace".into(),
            404 => "it does not exist at this endpoint: check the workspace id, and --cloud or --endpoint".into(),
            409 | 412 => "someone changed it at the same time: export and plan again".into(),
            429 => "Azure throttled every retry: run again later, or with a lower --parallelism".into(),
            400 if code.contains("ApiVersion") => {
                "the api-version is not offered here: choose another with --api-version TYPE=VERSION, or in rules/api.yaml".into()
            }
            500..=599 => "Azure failed after every retry: run again later to resume".into(),
            _ => return None,
        },
    })
}

fn render_diagnostics(what: &str, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    let files: std::collections::BTreeSet<&str> =
        diagnostics.iter().map(|d| d.path.as_str()).collect();
    out.push_str(&format!(
        "{} problem{} in {} {what}{}; nothing was planned from partial input\n",
        diagnostics.len(),
        if diagnostics.len() == 1 { "" } else { "s" },
        files.len(),
        if files.len() == 1 { "" } else { "s" },
    ));
    for d in diagnostics {
        out.push('\n');
        out.push_str(&d.to_string());
    }
    out.truncate(out.trim_end().len());
    out
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_points_at_the_column() {
        let text = "{\n  \"kind\" \"Scheduled\"\n}\n";
        let d = Diagnostic::at("a.json", text, 2, 10, "expected a colon")
            .expected("`:` after an object key");
        assert_eq!(
            d.to_string(),
            "a.json:2:10: expected a colon\n  2 |   \"kind\" \"Scheduled\"\n    |          ^\n  expected: `:` after an object key\n"
        );
    }

    #[test]
    fn azure_errors_carry_status_and_code_and_a_hint() {
        use crate::api::ApiError;
        let status = |status: u16, code: &str| {
            Error::arm(
                "exporting alertRules of /subscriptions/s",
                ApiError::Status {
                    method: "GET".into(),
                    path: "/subscriptions/s/x".into(),
                    status,
                    code: code.into(),
                    message: "m".into(),
                },
            )
        };
        let e = status(403, "AuthorizationFailed");
        assert_eq!(
            e.to_string(),
            "exporting alertRules of /subscriptions/s: GET /subscriptions/s/x: 403 AuthorizationFailed: m"
        );
        assert!(e.hint().unwrap().contains("Microsoft Sentinel Contributor"));
        assert_eq!(e.exit(), crate::exit::Exit::Error);
        assert!(
            status(429, "TooManyRequests")
                .hint()
                .unwrap()
                .contains("--parallelism")
        );
        assert!(
            status(404, "NotFound")
                .hint()
                .unwrap()
                .contains("workspace id")
        );
        assert!(
            status(400, "InvalidApiVersionParameter")
                .hint()
                .unwrap()
                .contains("--api-version")
        );
        assert_eq!(status(400, "BadRequest").hint(), None);
        let io = Error::io(
            "cannot read",
            "x.json",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(io.hint().as_deref(), Some("check the path"));
    }

    #[test]
    fn long_lines_are_windowed() {
        let line = "x".repeat(500);
        let d = Diagnostic::at("big.json", &line, 1, 400, "bad");
        let (snippet, caret) = d.snippet.unwrap();
        assert!(snippet.chars().count() <= 102, "{}", snippet.len());
        assert_eq!(caret, 51);
    }

    #[test]
    fn snippets_show_controls_escaped_and_the_caret_follows() {
        let text = "{\"a\": \"\u{1b}]0;pwned\u{7}\u{202e}x\", oops}";
        let d = Diagnostic::at("a.json", text, 1, 23, "bad");
        let (snippet, caret) = d.snippet.clone().unwrap();
        assert_eq!(snippet, r#"{"a": "\u{1b}]0;pwned\u{7}\u{202e}x", oops}"#);
        assert_eq!(snippet.chars().nth(caret - 1), Some('o'));
        assert!(
            !d.to_string()
                .chars()
                .any(|c| c != '\n' && crate::render::is_hidden(c))
        );
    }
}
