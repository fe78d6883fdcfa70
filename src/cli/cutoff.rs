//! `oe cutoff apply|remove|status`: a staging installation's outgoing mail ports, rejected
//! with a TCP reset (`deploy::cutoff`).

use std::io::Write as _;

use super::args::Global;
use super::failure::{Failure, Result};
use super::output::Printer;
use crate::config::Settings;
use crate::config::settings::validate_client_name;
use crate::deploy::cutoff::{self, Change, Registry, Scope, Status, Wanted};
use crate::deploy::engine::Engine;
use crate::deploy::layout;
use crate::exit::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CutoffArgs {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Reject the mail ports (idempotent: a rule in place is kept, one with other ports
    /// replaced)
    Apply(Target),
    /// Delete oe's cutoff rules of the target, and nothing else
    Remove(Target),
    /// List oe's rules of the target and check they are in place (exit 1 when not)
    Status(Target),
}

/// What to cut off: the configured installation unless told otherwise.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The installation of this client (its network oe-<client>)
    #[arg(long, value_name = "CLIENT", group = "target")]
    pub client: Option<String>,
    /// Every network of this container
    #[arg(long, value_name = "NAME", group = "target")]
    pub container: Option<String>,
    /// This Docker network
    #[arg(long, value_name = "NAME", group = "target")]
    pub network: Option<String>,
    /// This host's own processes (a host without Docker); loopback stays open
    #[arg(long, group = "target")]
    pub host: bool,
    /// The ports (default 25 465 587 2525 110 143 993 995)
    #[arg(value_name = "PORT")]
    pub ports: Vec<u16>,
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(
        "name what to cut off: --client, --container, --network or --host (no client is configured)"
    )]
    Unnamed,
    #[error("no Docker network '{0}'")]
    UnknownNetwork(String),
    #[error("no container '{0}'")]
    UnknownContainer(String),
    #[error("container '{0}' has no bridge network (it uses the host's: cut off with --host)")]
    HostNetwork(String),
}

impl crate::exit::ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Usage
    }
}

pub async fn run(global: &Global, args: CutoffArgs, settings: Settings) -> Result {
    let printer = global.printer();
    // What `oe daemon` keeps in place and `oe status` checks.
    let registry_path = Registry::path(&settings.daemon()?.state_file);
    match args.action {
        Action::Apply(target) => {
            let ports = cutoff::ports(&target.ports)?;
            for scope in scopes(&target, &settings).await? {
                let wanted = Wanted { scope, ports: ports.clone() };
                let change = blocking({
                    let wanted = wanted.clone();
                    move || cutoff::apply(&wanted.scope, &wanted.ports)
                })
                .await?;
                let mut registry = Registry::read(&registry_path)?;
                registry.insert(wanted);
                registry.write(&registry_path)?;
                applied(&printer, &change)?;
            }
            Ok(())
        }
        Action::Remove(target) => {
            for scope in scopes(&target, &settings).await? {
                let mut registry = Registry::read(&registry_path)?;
                registry.remove(&scope);
                registry.write(&registry_path)?;
                let change = blocking(move || cutoff::remove(&scope)).await?;
                removed(&printer, &change)?;
            }
            Ok(())
        }
        Action::Status(target) => {
            let ports = cutoff::ports(&target.ports)?;
            let mut missing = Vec::new();
            for scope in scopes(&target, &settings).await? {
                let status = blocking({
                    let ports = ports.clone();
                    move || cutoff::status(&scope, &ports)
                })
                .await?;
                listed(&printer, &status)?;
                if !status.in_place {
                    missing.push(status.scope.to_string());
                }
            }
            if missing.is_empty() {
                return Ok(());
            }
            let message = format!("no cutoff in place for {}", missing.join(", "));
            Err(Failure { code: ExitCode::Failure, message })
        }
    }
}

/// The scopes `target` names.
async fn scopes(target: &Target, settings: &Settings) -> Result<Vec<Scope>> {
    if target.host {
        return Ok(vec![Scope::Host]);
    }
    if let Some(network) = &target.network {
        let engine = Engine::connect().await?;
        let bridge = engine.network_bridge(network).await?;
        let bridge = bridge.ok_or_else(|| Error::UnknownNetwork(network.clone()))?;
        return Ok(vec![Scope::bridge(&bridge)?]);
    }
    if let Some(container) = &target.container {
        let engine = Engine::connect().await?;
        let inspected = engine.inspect(container).await?;
        let inspected = inspected.ok_or_else(|| Error::UnknownContainer(container.clone()))?;
        let networks = inspected.network_settings.and_then(|s| s.networks).unwrap_or_default();
        let mut scopes = Vec::new();
        for network in networks.keys() {
            if let Some(bridge) = engine.network_bridge(network).await.ok().flatten() {
                scopes.push(Scope::bridge(&bridge)?);
            }
        }
        if scopes.is_empty() {
            return Err(Error::HostNetwork(container.clone()).into());
        }
        return Ok(scopes);
    }
    let client = match &target.client {
        Some(client) => client.clone(),
        None => settings.file.client.clone().ok_or(Error::Unnamed)?,
    };
    validate_client_name(&client)?;
    Ok(vec![Scope::bridge(&layout::bridge(&client))?])
}

/// Runs a firewall step (programs waited for) off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    step: impl FnOnce() -> std::result::Result<T, cutoff::Error> + Send + 'static,
) -> Result<T> {
    Ok(tokio::task::spawn_blocking(step).await??)
}

fn ports_text(ports: &[u16]) -> String {
    ports.iter().map(u16::to_string).collect::<Vec<_>>().join(" ")
}

fn applied(printer: &Printer, change: &Change) -> Result {
    printer.summary(change, |out| {
        let ports = ports_text(&change.ports);
        let backend = format!("{:?}", change.backend).to_lowercase();
        if change.added == 0 && change.deleted == 0 {
            writeln!(out, "cutoff of {} in place ({backend}): ports {ports}", change.scope)?;
        } else {
            writeln!(
                out,
                "cut off {} ({backend}): ports {ports} rejected with a TCP reset \
                 ({} rule(s) added, {} stale removed)",
                change.scope, change.added, change.deleted
            )?;
        }
        for note in &change.notes {
            writeln!(out, "  note: {note}")?;
        }
        Ok(())
    })
}

fn removed(printer: &Printer, change: &Change) -> Result {
    printer.summary(change, |out| match change.deleted {
        0 => writeln!(out, "no cutoff rule of {}", change.scope),
        n => writeln!(out, "removed the cutoff of {}: {n} rule(s)", change.scope),
    })
}

fn listed(printer: &Printer, status: &Status) -> Result {
    printer.listing(status, |out| {
        let state = if status.in_place { "in place" } else { "NOT in place" };
        let backend = format!("{:?}", status.backend).to_lowercase();
        let ports = ports_text(&status.ports);
        writeln!(out, "cutoff of {} ({backend}), ports {ports}: {state}", status.scope)?;
        for rule in &status.rules {
            let mark = if rule.current { "" } else { " (stale: other ports)" };
            writeln!(out, "  {}: {}{mark}", rule.tool, rule.text)?;
        }
        for note in &status.notes {
            writeln!(out, "  note: {note}")?;
        }
        Ok(())
    })
}
