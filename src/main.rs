use sentinel_migrate::{app, cli};
use std::io::IsTerminal;
use std::process::ExitCode;

// The system allocator: `cargo bench --bench plan` planned a 100-workspace
// fleet as fast with it as with mimalloc or faster (3% in the last run),
// holding 57 MB to 177 MB less at the peak (docs/performance.md).

fn main() -> ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(exit) => return exit.into(),
    };
    let stdout = std::io::stdout();
    let is_terminal = stdout.is_terminal();
    match app::run(cli, &mut stdout.lock(), is_terminal) {
        Ok(exit) => exit.into(),
        Err(e) => {
            // Messages may quote Azure's answers: shown escaped, line by line.
            let text = format!("{e}");
            for (i, line) in text.lines().enumerate() {
                let shown = sentinel_migrate::render::one_line(line);
                if i == 0 {
                    eprintln!("error: {shown}");
                } else {
                    eprintln!("{shown}");
                }
            }
            if let Some(hint) = e.hint() {
                eprintln!("  hint: {}", sentinel_migrate::render::one_line(&hint));
            }
            e.exit().into()
        }
    }
}
