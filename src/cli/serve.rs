//! `oe serve`: one session of a backup server's client, run by sshd as the forced command
//! that `oe server add-key` writes; the protocol goes over standard input and output.

use std::path::PathBuf;

use super::failure::Result;
use crate::remote::serve::{self, Options};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The server's root (made by `oe server init`)
    #[arg(long, env = "OE_SERVER_ROOT", default_value = "/srv/oe-backups", value_name = "DIR")]
    root: PathBuf,
    /// The client whose repository this session serves
    #[arg(long, value_name = "IDENT")]
    client: String,
    /// Only reading: no writer's lock, no new objects
    #[arg(long)]
    read_only: bool,
    /// How long the client may stay silent before the session is dropped
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_timeout)]
    idle_timeout: std::time::Duration,
}

fn parse_timeout(text: &str) -> std::result::Result<std::time::Duration, String> {
    crate::config::daemon::Parsed::<crate::config::daemon::Duration>::parse(text).map(|p| p.value.0)
}

pub async fn run(args: ServeArgs) -> Result {
    let options = Options {
        root: args.root,
        client: args.client,
        read_only: args.read_only,
        idle_timeout: args.idle_timeout,
    };
    tokio::task::spawn_blocking(move || serve::run_stdio(&options)).await??;
    Ok(())
}
