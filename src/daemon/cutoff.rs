//! The cutoffs `oe cutoff apply` recorded (`deploy::cutoff::Registry`), kept in place: checked
//! at start, after each container start or network change Docker reports, and every
//! [`CHECK_EVERY`] (a firewall flushed behind Docker's back makes no event); a cutoff found
//! missing is applied again and said in the log.

use std::path::PathBuf;
use std::time::Duration;

use futures_util::{Stream, StreamExt};

use crate::deploy::cutoff::{self, Registry};
use crate::deploy::engine::Engine;

/// How often the cutoffs are checked without an event; nothing runs while none is recorded.
pub const CHECK_EVERY: Duration = Duration::from_secs(10);

/// How long after an event the check waits, for the events that come with it.
const EVENT_SETTLE: Duration = Duration::from_millis(500);

/// Runs until the daemon stops (the task is aborted).
pub async fn guard(registry: PathBuf) {
    let mut said = None;
    let mut events = None;
    loop {
        check(&registry, &mut said).await;
        if events.is_none() {
            events = subscribe().await;
        }
        let event = async {
            match events.as_mut() {
                Some(stream) => stream.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(CHECK_EVERY) => {}
            next = event => match next {
                // A burst of events (containers starting together) makes one check.
                Some(Ok(())) => tokio::time::sleep(EVENT_SETTLE).await,
                // No engine, or it went away (a restart): subscribe again after the next
                // periodic check, not at once.
                Some(Err(_)) | None => {
                    events = None;
                    tokio::time::sleep(CHECK_EVERY).await;
                }
            }
        }
    }
}

/// Docker's events, when there is an engine.
async fn subscribe()
-> Option<std::pin::Pin<Box<dyn Stream<Item = Result<(), crate::deploy::engine::Error>> + Send>>> {
    let engine = Engine::connect().await.ok()?;
    Some(Box::pin(engine.network_events()))
}

/// Checks every recorded cutoff and applies again the ones not in place. An error is logged
/// once until it changes (`said`), not every few seconds.
async fn check(registry: &std::path::Path, said: &mut Option<String>) {
    let registry = registry.to_owned();
    let checked = tokio::task::spawn_blocking(move || -> Result<Vec<String>, cutoff::Error> {
        let mut restored = Vec::new();
        for wanted in Registry::read(&registry)?.cutoffs {
            if !cutoff::status(&wanted.scope, &wanted.ports)?.in_place {
                cutoff::apply(&wanted.scope, &wanted.ports)?;
                restored.push(wanted.scope.to_string());
            }
        }
        Ok(restored)
    })
    .await;
    match checked {
        Ok(Ok(restored)) => {
            for scope in restored {
                tracing::warn!("the mail-port cutoff of {scope} was not in place: applied again");
            }
            *said = None;
        }
        Ok(Err(e)) => {
            let message = crate::exit::message(&e);
            if said.as_deref() != Some(message.as_str()) {
                tracing::error!("checking the mail-port cutoffs: {message}");
                *said = Some(message);
            }
        }
        Err(e) => tracing::error!("checking the mail-port cutoffs: {e}"),
    }
}
