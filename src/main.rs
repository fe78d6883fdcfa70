//! The `oe` binary: parses the command line, sets up logging, runs the command and maps the
//! result to an exit code (see `oe::exit`).

use clap::Parser;
use oe::exit::ExitCode;

fn main() -> std::process::ExitCode {
    let cli = oe::cli::Cli::parse();
    // The service logs what it starts and how it ends, for the journal.
    let service = matches!(cli.command, oe::cli::args::Command::Daemon(_));
    let level = match (cli.global.quiet, cli.global.verbose) {
        (true, _) => "error",
        (false, 0) if service => "info",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("oe={level}"))),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .init();
    match oe::cli::run(cli) {
        Ok(()) => ExitCode::Success.into(),
        Err(failure) => {
            eprintln!("oe: {}", failure.message);
            failure.code.into()
        }
    }
}
