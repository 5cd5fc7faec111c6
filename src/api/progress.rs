//! Progress of the commands that talk to Azure, on stderr: an indicatif
//! bar on a terminal, one plain line per step otherwise (a pipeline's log),
//! so stdout carries only the result (human text, or JSON with
//! `--format json`). This module alone uses indicatif.

use std::io::Write;
use std::sync::Mutex;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A bar on a terminal; step lines print above it.
    Bar,
    /// One line per step.
    Lines,
    /// Nothing (rehearse collects its own log).
    Quiet,
}

impl Mode {
    /// A bar when stderr is a terminal, lines otherwise.
    pub fn for_stderr() -> Mode {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        }
    }
}

/// Reports steps as they happen. Shared by concurrent steps (`&self`).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    mode: Mode,
    /// Lines written in `Lines` mode go here (stderr, or a buffer in tests).
    sink: Mutex<Box<dyn Write + Send>>,
}

impl Progress {
    pub fn new(mode: Mode, total: u64, what: &str) -> Progress {
        Progress::with_sink(mode, total, what, Box::new(std::io::stderr()))
    }

    /// Lines into a buffer the caller reads afterwards (rehearse).
    pub fn buffered(what: &str) -> (Progress, Buffer) {
        let buf = Buffer::default();
        (
            Progress::with_sink(Mode::Lines, 0, what, Box::new(buf.clone())),
            buf,
        )
    }

    pub fn with_sink(mode: Mode, total: u64, what: &str, sink: Box<dyn Write + Send>) -> Progress {
        let bar = (mode == Mode::Bar).then(|| {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(&format!(
                    "{{spinner}} {what} {{pos}}/{{len}} {{wide_msg}}"
                ))
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        Progress {
            bar,
            mode,
            sink: Mutex::new(sink),
        }
    }

    /// A step finished (or something worth a line happened): printed at
    /// once, one line, text escaped by the caller.
    pub fn line(&self, text: &str) {
        match (&self.bar, self.mode) {
            (Some(b), _) => b.println(text),
            (None, Mode::Lines) => {
                if let Ok(mut s) = self.sink.lock() {
                    let _ = writeln!(s, "{text}");
                    let _ = s.flush();
                }
            }
            _ => {}
        }
    }

    /// One more of the total is done; `message` says what is under way.
    pub fn inc(&self, message: &str) {
        if let Some(b) = &self.bar {
            b.set_message(message.to_string());
            b.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// A shared buffer of progress lines.
#[derive(Clone, Default)]
pub struct Buffer(std::sync::Arc<Mutex<Vec<u8>>>);

impl Buffer {
    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(b);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_off_a_terminal_and_nothing_when_quiet() {
        let (p, buf) = Progress::buffered("applying");
        p.line("~ done a");
        p.inc("a");
        p.line("- done b");
        assert_eq!(buf.text(), "~ done a\n- done b\n");
        let quiet = Buffer::default();
        let p = Progress::with_sink(Mode::Quiet, 1, "x", Box::new(quiet.clone()));
        p.line("hidden");
        assert!(quiet.text().is_empty());
    }
}
