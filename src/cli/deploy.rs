//! `oe install`, `oe pull`, `oe start`, `oe run`, `oe stop`, `oe ps`, `oe logs`: the
//! dockerized installation of the configured client.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::Global;
use super::failure::Result;
use crate::config::Settings;
use crate::deploy::engine::{Engine, PullProgress};
use crate::deploy::layout::Role;
use crate::jobs::deploy::install::{self, Source};
use crate::jobs::deploy::runtime;
use crate::jobs::deploy::{Context, Error};

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Show the odoo.conf that would be written, and write none
    #[arg(long)]
    pub print_config: bool,
}

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// Only the images
    #[arg(long, conflicts_with = "repos")]
    pub images: bool,
    /// Only the repositories
    #[arg(long)]
    pub repos: bool,
    /// Pull exactly the image digests of this lock file (another installation's oe.lock)
    #[arg(long, value_name = "FILE", conflicts_with = "repos")]
    pub lock: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Only the environment: postgres (and aeroo)
    #[arg(long)]
    pub env_only: bool,
    /// Seconds each container may take to serve
    #[arg(long, default_value_t = 180, value_name = "SECONDS")]
    pub timeout: u64,
}

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Only the environment: postgres (and aeroo)
    #[arg(long)]
    pub env_only: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Seconds each container may take to serve
    #[arg(long, default_value_t = 180, value_name = "SECONDS")]
    pub timeout: u64,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Keep printing what comes
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
    /// postgres, aeroo, odoo or nginx
    #[arg(default_value = "odoo", value_parser = parse_role)]
    pub service: Role,
}

fn parse_role(text: &str) -> std::result::Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("'{text}' is not one of postgres, aeroo, odoo, nginx"))
}

/// A pull's progress on a terminal: one line per image, its layers' states.
fn pull_progress(quiet: bool) -> impl FnMut(&str, PullProgress) {
    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    };
    move |role: &str, p: PullProgress| {
        let layer = p.layer.map(|l| format!("{l}: ")).unwrap_or_default();
        let amount = match (p.current, p.total) {
            (Some(c), Some(t)) if t > 0 => format!(" {}%", c * 100 / t),
            _ => String::new(),
        };
        bar.set_message(format!("pulling {role}: {layer}{}{amount}", p.status));
    }
}

async fn connect(settings: &Settings) -> Result<(Context, Engine)> {
    let ctx = Context::new(settings)?;
    let engine = Engine::connect().await.map_err(Error::from)?;
    Ok((ctx, engine))
}

pub async fn install(global: &Global, args: InstallArgs, settings: Settings) -> Result {
    let (ctx, engine) = connect(&settings).await?;
    let mut progress = pull_progress(global.quiet);
    if args.print_config {
        let mut text = String::new();
        install::install(&ctx, &engine, &mut progress, Some(&mut text)).await?;
        print!("{text}");
        return Ok(());
    }
    let installed = install::install(&ctx, &engine, &mut progress, None).await?;
    global.printer().installed(&installed)
}

pub async fn pull(global: &Global, args: PullArgs, settings: Settings) -> Result {
    let (ctx, engine) = connect(&settings).await?;
    let mut progress = pull_progress(global.quiet);
    let source = args.lock.map_or(Source::Manifest, Source::Lock);
    let (repos, images) = (!args.images, !args.repos);
    let pulled = install::pull(&ctx, &engine, repos, images, &source, &mut progress).await?;
    global.printer().pulled(&pulled)
}

pub async fn start(global: &Global, args: StartArgs, settings: Settings) -> Result {
    let (ctx, engine) = connect(&settings).await?;
    let timeout = Duration::from_secs(args.timeout);
    let started = runtime::start(&ctx, &engine, args.env_only, timeout).await?;
    let rows: Vec<_> = started.containers.iter().map(|(n, a)| (n.clone(), a.as_str())).collect();
    global.printer().containers(&rows, started.url.as_deref())
}

pub async fn stop(global: &Global, args: StopArgs, settings: Settings) -> Result {
    let (ctx, engine) = connect(&settings).await?;
    let stopped = runtime::stop(&ctx, &engine, args.env_only).await?;
    let rows: Vec<_> = stopped.iter().map(|(n, a)| (n.clone(), a.as_str())).collect();
    global.printer().containers(&rows, None)
}

pub async fn ps(global: &Global, settings: Settings) -> Result {
    let (ctx, engine) = connect(&settings).await?;
    let rows = runtime::ps(&ctx, &engine).await?;
    global.printer().ps(&rows)
}

pub async fn logs(args: LogsArgs, settings: Settings) -> Result {
    let (ctx, engine) = connect(&settings).await?;
    let name = ctx.layout.container(args.service);
    copy_logs(&engine, &name, args.follow, args.tail).await
}

/// Development: starts the installation, then shows Odoo's log until Ctrl-C (or SIGTERM),
/// which stops Odoo (the environment keeps running).
pub async fn run(args: RunArgs, settings: Settings) -> Result {
    let (ctx, engine) = connect(&settings).await?;
    runtime::start(&ctx, &engine, false, Duration::from_secs(args.timeout)).await?;
    let name = ctx.layout.container(Role::Odoo);
    let terminated = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => term.recv().await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        result = copy_logs(&engine, &name, true, Some(200)) => result?,
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated => {}
    }
    engine.stop(&name, runtime::STOP_GRACE).await.map_err(Error::from)?;
    Ok(())
}

/// The container's output to ours, as it comes.
async fn copy_logs(engine: &Engine, name: &str, follow: bool, tail: Option<usize>) -> Result {
    if engine.inspect(name).await.map_err(Error::from)?.is_none() {
        return Err(Error::NoContainer(name.to_owned()).into());
    }
    let mut stream = std::pin::pin!(engine.logs(name, follow, tail));
    let mut out = std::io::stdout();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(Error::from)?;
        out.write_all(&chunk).and_then(|()| out.flush()).map_err(super::output::WriteError)?;
    }
    Ok(())
}
