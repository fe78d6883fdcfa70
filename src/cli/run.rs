//! Running a command: logging, the async runtime, signals, and the settings file.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::{Cli, Command};
use super::failure::{Failure, Result};
use crate::config::Settings;
use crate::exit::{ExitCode, ExitStatus};
use crate::process::interrupt;
use crate::stop;

/// How long a command waits for a database another run works on before it gives up: enough
/// for the server to notice that a run which just ended released it.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Runs `cli` to completion.
pub fn run(cli: Cli) -> Result {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(StartError)?;
    let result = runtime.block_on(async move {
        tokio::spawn(forward_signals());
        let Cli { global, command } = cli;
        // Read by the commands that use it: a backup server's session (`serve`) and its
        // administration (`server`) have every setting on their command line.
        let settings = || Settings::load(global.config.as_deref());
        match command {
            Command::Config(args) => super::config::run(&global, args, settings()?),
            Command::SaveDb(args) => super::save_db::run(&global, args, settings()?).await,
            Command::LoadDb(args) => super::load_db::run(&global, args, settings()?).await,
            Command::Save(args) => super::save::run(&global, args, settings()?).await,
            Command::Load(args) => super::load::run(&global, args, settings()?).await,
            Command::Backup(args) => super::backup::run_backup(&global, args, settings()?).await,
            Command::Db(args) => super::db::run(&global, args, settings()?).await,
            Command::Clean(args) => super::clean::run(&global, args, settings()?).await,
            Command::Neutralize(args) => super::neutralize::run(&global, args, settings()?).await,
            Command::Verify(args) => super::verify::run(&global, args, settings()?).await,
            Command::Backups(args) => super::backup::run_backups(&global, args, settings()?),
            Command::Restore(args) => super::backup::run_restore(&global, args, settings()?).await,
            Command::Mirror(args) => super::mirror::run(&global, args, settings()?).await,
            Command::Serve(args) => super::serve::run(args).await,
            Command::Server(args) => super::server::run(&global, args).await,
            Command::Daemon(args) => super::daemon::run(&global, args, settings()?).await,
            Command::Status(args) => super::daemon::status(&global, args, settings()?),
            Command::Install(args) => super::deploy::install(&global, args, settings()?).await,
            Command::Pull(args) => super::deploy::pull(&global, args, settings()?).await,
            Command::Start(args) => super::deploy::start(&global, args, settings()?).await,
            Command::Run(args) => super::deploy::run(args, settings()?).await,
            Command::Stop(args) => super::deploy::stop(&global, args, settings()?).await,
            Command::Ps => super::deploy::ps(&global, settings()?).await,
            Command::Logs(args) => super::deploy::logs(args, settings()?).await,
            Command::Update(args) => super::update::update(&global, args, settings()?).await,
            Command::TestDb(args) => super::qa::test_db(&global, args, settings()?).await,
            Command::Test(args) => super::qa::test(&global, args, settings()?).await,
            Command::Stage(args) => super::stage::run(&global, args, settings()?).await,
            Command::Cutoff(args) => super::cutoff::run(&global, args, settings()?).await,
            Command::Mail(args) => super::mail::run(&global, args, settings()?).await,
        }
    });
    // A step interrupted while blocked on a silent pipe is abandoned, not waited for.
    runtime.shutdown_timeout(Duration::from_millis(500));
    result.map_err(Failure::after_signal)
}

/// The async runtime could not be started (no threads left, say).
#[derive(Debug, thiserror::Error)]
#[error("cannot start the async runtime")]
struct StartError(#[source] std::io::Error);

impl ExitStatus for StartError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Failure
    }
}

/// SIGINT and SIGTERM stop the work in progress, which then cleans up; a second signal
/// exits at once.
async fn forward_signals() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) =
        (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        tracing::warn!("cannot listen for signals");
        return;
    };
    let mut received = false;
    loop {
        let signo = tokio::select! {
            _ = int.recv() => libc::SIGINT,
            _ = term.recv() => libc::SIGTERM,
        };
        if received {
            eprintln!("oe: second {}, exiting now", stop::signal_name(signo));
            std::process::exit(128 + signo);
        }
        received = true;
        tracing::warn!("{} received: stopping and cleaning up", stop::signal_name(signo));
        interrupt::raise(signo);
    }
}

/// A progress bar on stderr when it is a terminal and output is not quiet; hidden otherwise.
pub fn progress_bar(quiet: bool, verb: &'static str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{msg} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(verb);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Threads for compression: every core.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
