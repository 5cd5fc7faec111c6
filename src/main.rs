use clap::Parser;
use sentinel_migrate::{app, cli::Cli};
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let is_terminal = stdout.is_terminal();
    match app::run(cli, &mut stdout.lock(), is_terminal) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(app::EXIT_ERROR)
        }
    }
}
