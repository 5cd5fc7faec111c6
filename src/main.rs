use clap::Parser;
use sentinel_migrate::{app, cli::Cli};
use std::io::IsTerminal;
use std::process::ExitCode;

/// Planning allocates many small objects (tokens, filters, evidence);
/// mimalloc serves them faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let is_terminal = stdout.is_terminal();
    match app::run(cli, &mut stdout.lock(), is_terminal) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
