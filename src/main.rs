use sentinel_migrate::{app, cli};
use std::io::IsTerminal;
use std::process::ExitCode;

/// Planning allocates many small objects (tokens, filters, evidence);
/// mimalloc serves them faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
