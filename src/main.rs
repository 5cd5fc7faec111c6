use sentinel_migrate::{app, cli};
use std::io::IsTerminal;
use std::process::ExitCode;

// mimalloc: `cargo bench --bench plan` planned a 100-workspace fleet 13% to
// 15% faster with it than with the system allocator (2.79-3.02 s against
// 3.26-3.69 s, alternated), for 50 to 60 MB more at the peak (1.35x the
// input, within the 2x target) (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
