//! Telling people and monitors how runs went: the webhook (a JSON POST of the run), the
//! command (the run as JSON on its stdin; an argument vector, no shell), healthchecks-style
//! pings (`/start`, success, `/fail`) and the Prometheus textfile.
//!
//! A notification that fails is logged and never fails the job: the backup is still made.
//! Each call blocks (HTTP with a timeout, a child process): call them from a blocking task.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use super::state::{Outcome, Run, State};
use crate::atomic::AtomicFile;
use crate::config::daemon::{NotifyFile, NotifyTargetFile};
use crate::process::Tool;

/// How long a webhook or ping may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a notify command may run before it is killed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Pings `<ping_url>/start`.
pub fn started(notify: &NotifyFile) {
    if let Some(url) = &notify.ping_url {
        ping(&format!("{}/start", url.trim_end_matches('/')));
    }
}

/// Sends what `run` calls for: the failure or success target, and the ping.
pub fn finished(notify: &NotifyFile, run: &Run) {
    let target = match run.result {
        Outcome::Success => notify.on_success.as_ref(),
        Outcome::Failure | Outcome::Interrupted => notify.on_failure.as_ref(),
    };
    if let Some(target) = target {
        send(target, run);
    }
    if let Some(url) = &notify.ping_url {
        let url = url.trim_end_matches('/');
        ping(&match run.result {
            Outcome::Success => url.to_owned(),
            _ => format!("{url}/fail"),
        });
    }
}

fn send(target: &NotifyTargetFile, run: &Run) {
    let body = match serde_json::to_vec(run) {
        Ok(body) => body,
        Err(e) => return tracing::warn!("cannot encode the run summary: {e}"),
    };
    if let Some(url) = &target.webhook {
        let agent = agent();
        let sent = agent.post(url).header("Content-Type", "application/json").send(&body[..]);
        match sent {
            Ok(_) => tracing::info!("notified {}", redact(url)),
            Err(e) => tracing::warn!("webhook {}: {e}", redact(url)),
        }
    }
    if let Some(argv) = target.command.as_deref().filter(|a| !a.is_empty()) {
        let run_command = || -> Result<(), crate::process::Error> {
            let mut child = Tool::new(&argv[0]).args(&argv[1..]).spawn_writer()?;
            // A command that does not read its input still gets to run.
            let _ = child.write_all(&body);
            child.close_within(COMMAND_TIMEOUT)
        };
        match run_command() {
            Ok(()) => tracing::info!("notified {}", argv[0]),
            Err(e) => tracing::warn!("notify command {}: {e}", argv[0]),
        }
    }
}

fn ping(url: &str) {
    if let Err(e) = agent().get(url).call() {
        tracing::warn!("ping {}: {e}", redact(url));
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(HTTP_TIMEOUT))
        .http_status_as_error(true)
        .build()
        .into()
}

/// A URL for logs: scheme and host only, since paths of ping URLs and webhooks are secrets.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}/…")
        }
        None => "(invalid url)".into(),
    }
}

/// Rewrites the Prometheus textfile (mode 0644, for node_exporter) from `state`.
pub fn write_metrics(path: &Path, state: &State) -> std::io::Result<()> {
    let mut out = AtomicFile::create(path)?;
    out.write_all(metrics(state).as_bytes())?;
    std::fs::set_permissions(out.partial_path(), std::fs::Permissions::from_mode(0o644))?;
    out.commit()
}

/// The metrics of every job and item, in Prometheus' text format.
pub fn metrics(state: &State) -> String {
    let mut text = String::new();
    let mut family = |name: &str, help: &str, samples: &mut dyn Iterator<Item = (String, f64)>| {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(text, "{name}{{{labels}}} {value}");
        }
    };
    let job = |name: &str| format!("job=\"{}\"", escape(name));
    let seconds = |t: jiff::Timestamp| t.as_millisecond() as f64 / 1000.0;
    let lasts = || state.jobs.iter().filter_map(|(name, j)| Some((name, j.last.as_ref()?)));
    family(
        "oe_job_last_run_timestamp_seconds",
        "When the job's last run finished.",
        &mut lasts().map(|(name, run)| (job(name), seconds(run.finished))),
    );
    family(
        "oe_job_last_run_success",
        "1 if the job's last run succeeded, else 0.",
        &mut lasts().map(|(name, run)| (job(name), f64::from(run.result == Outcome::Success))),
    );
    family(
        "oe_job_last_run_duration_seconds",
        "How long the job's last run took.",
        &mut lasts().map(|(name, run)| (job(name), run.seconds)),
    );
    family(
        "oe_job_last_success_timestamp_seconds",
        "When the job last succeeded as a whole.",
        &mut state.jobs.iter().filter_map(|(name, j)| Some((job(name), seconds(j.last_success?)))),
    );
    let items = || {
        state.jobs.iter().flat_map(move |(name, j)| {
            j.items
                .iter()
                .map(move |(item, s)| (format!("{},item=\"{}\"", job(name), escape(item)), s))
        })
    };
    family(
        "oe_item_last_success_timestamp_seconds",
        "When the database (or directory) was last done without error.",
        &mut items().map(|(labels, s)| (labels, seconds(s.time))),
    );
    family(
        "oe_item_last_success_duration_seconds",
        "How long it took then.",
        &mut items().map(|(labels, s)| (labels, s.seconds)),
    );
    family(
        "oe_item_last_success_bytes",
        "Bytes written then (backup), restored (restore test) or new (mirror).",
        &mut items().filter_map(|(labels, s)| Some((labels, s.bytes? as f64))),
    );
    text
}

/// A label value: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::state::Item;

    #[test]
    fn urls_are_logged_without_their_secret_parts() {
        assert_eq!(redact("https://hc.example.org/ping/abc-123"), "https://hc.example.org/…");
        assert_eq!(redact("http://user:pw@127.0.0.1:9/hook?token=x"), "http://127.0.0.1:9/…");
        assert_eq!(redact("nonsense"), "(invalid url)");
    }

    #[test]
    fn metrics_name_every_job_and_database() {
        let mut state = State::default();
        let item = |name: &str, ok| Item {
            name: name.into(),
            ok,
            seconds: 2.5,
            bytes: Some(1024),
            detail: None,
            error: None,
        };
        state.finish(&Run {
            job: "nightly".into(),
            kind: "backup".into(),
            host: "h".into(),
            started: "2026-11-30T02:00:00Z".parse().unwrap(),
            finished: "2026-11-30T02:00:10Z".parse().unwrap(),
            seconds: 10.0,
            result: Outcome::Failure,
            error: Some("1 of 2 failed: b\"ad".into()),
            items: vec![item("acme", true), item("b\"ad", false)],
        });
        let text = metrics(&state);
        assert!(text.contains("oe_job_last_run_success{job=\"nightly\"} 0\n"), "{text}");
        assert!(text.contains("oe_job_last_run_timestamp_seconds{job=\"nightly\"} 1796004010\n"));
        assert!(text.contains("oe_item_last_success_bytes{job=\"nightly\",item=\"acme\"} 1024\n"));
        assert!(!text.contains("b\\\"ad\"} "), "a failed item has no success: {text}");
        assert!(!text.contains("oe_job_last_success_timestamp_seconds{"), "{text}");
    }
}
