//! The only module that writes to standard output: summaries for people, or JSON for
//! scripts (`--json`). Diagnostics go to stderr through `tracing`; dump data written to `-`
//! goes through the job's own stream.

use std::io::{self, Write};

use serde::Serialize;

use super::Result;
use crate::config::settings::{Entry, Source};
use crate::daemon::state::Run;
use crate::exit::{ExitCode, ExitStatus};
use crate::jobs::backup::{BackupFile, BackupSummary};
use crate::jobs::db::{
    CopySummary as DbCopy, DatabaseInfo, RemovePlan, RemoveSummary as DbRemove,
    RenameSummary as DbRename,
};
use crate::jobs::load_db::LoadSummary;
use crate::jobs::mirror::job::{CheckReport, ForgetPlan, LsLine, RunReport};
use crate::jobs::mirror::restore::Outcome as Restored;
use crate::jobs::neutralize::NeutralizeSummary;
use crate::jobs::save::SaveSummary;
use crate::jobs::save_db::DumpSummary;
use crate::jobs::verify::{Report, RestoreReport};
use crate::odoo::neutralization::Plan;
use crate::pipeline::meter::bytes;
use crate::repo::snapshot::Listed;
use crate::repo::tree::Kind;
use crate::repo::{PrunePlan, PruneStats};

/// Writing to standard output failed (a closed pipe, a full disk).
#[derive(Debug, thiserror::Error)]
#[error("writing to stdout")]
pub struct WriteError(#[source] pub io::Error);

impl ExitStatus for WriteError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Io
    }
}

/// How results are shown.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub json: bool,
    pub quiet: bool,
}

impl Printer {
    pub fn config(&self, path: &std::path::Path, entries: &[Entry]) -> Result {
        #[derive(Serialize)]
        struct Item<'a> {
            key: &'a str,
            value: &'a str,
            source: &'a str,
        }
        let items: Vec<Item> = entries
            .iter()
            .map(|e| Item { key: &e.key, value: &e.value, source: source_name(e.source) })
            .collect();
        let doc = serde_json::json!({ "path": path, "settings": items });
        self.listing(&doc, |out| {
            writeln!(out, "# {}", path.display())?;
            let width = entries.iter().map(|e| e.key.len()).max().unwrap_or(0);
            for e in entries {
                let value = if e.source == Source::Unset { "-" } else { &e.value };
                writeln!(out, "{:width$}  {value}  ({})", e.key, source_name(e.source))?;
            }
            Ok(())
        })
    }

    pub fn dumped(&self, s: &DumpSummary) -> Result {
        self.saved_summary(s, &s.output, || {
            format!(
                "saved {} to {} ({}, {} dumped, {} written) in {:.1}s",
                s.database,
                s.output.display(),
                s.format,
                bytes(s.dumped_bytes),
                bytes(s.written_bytes),
                s.seconds
            )
        })
    }

    pub fn saved(&self, s: &SaveSummary) -> Result {
        self.saved_summary(s, &s.output, || {
            format!(
                "saved {} to {} (dump {}, {} filestore files, {}; {} written) in {:.1}s",
                s.database,
                s.output.display(),
                bytes(s.dump_bytes),
                s.filestore_files,
                bytes(s.filestore_bytes),
                bytes(s.written_bytes),
                s.seconds
            )
        })
    }

    /// The summary of a command that wrote `output`: JSON, or `line` for people, and
    /// nothing when the output itself went to stdout.
    fn saved_summary(
        &self,
        summary: &impl Serialize,
        output: &std::path::Path,
        line: impl FnOnce() -> String,
    ) -> Result {
        if output.as_os_str() == "-" && !self.json {
            return Ok(());
        }
        self.summary(summary, |out| writeln!(out, "{}", line()))
    }

    pub fn backed_up(&self, s: &BackupSummary) -> Result {
        if !self.json {
            self.saved(&s.saved)?;
        }
        self.summary(s, |out| {
            writeln!(out, "retention: {} kept, {} deleted", s.kept, s.deleted.len())?;
            for path in &s.deleted {
                writeln!(out, "  deleted {}", path.display())?;
            }
            Ok(())
        })
    }

    pub fn backups(&self, backups: &[BackupFile]) -> Result {
        self.listing(&backups, |out| {
            for b in backups {
                writeln!(
                    out,
                    "{}  {:>10}  {}  {}",
                    b.time,
                    bytes(b.size),
                    b.database,
                    b.path.display()
                )?;
            }
            Ok(())
        })
    }

    pub fn verified(&self, r: &Report) -> Result {
        self.summary(r, |out| {
            writeln!(
                out,
                "{}: {} checked, {} missing, {} corrupt, {} orphan",
                r.subject,
                r.checked,
                r.missing.len(),
                r.corrupt.len(),
                r.orphans.len()
            )?;
            for (label, names) in
                [("missing", &r.missing), ("corrupt", &r.corrupt), ("orphan", &r.orphans)]
            {
                if !names.is_empty() {
                    writeln!(out, "  {label}: {}", Report::quoted(names))?;
                }
            }
            Ok(())
        })
    }

    pub fn restored(&self, r: &RestoreReport) -> Result {
        self.summary(r, |out| {
            writeln!(
                out,
                "{}: restored into a scratch database, checked, dropped",
                r.archive.display()
            )?;
            writeln!(out, "  rows: {}", r.rows_line())?;
            writeln!(out, "  filestore: {}", r.files_line())
        })
    }

    pub fn loaded(&self, s: &LoadSummary) -> Result {
        self.summary(s, |out| {
            let input = if s.input == "-" { "standard input".into() } else { s.input.clone() };
            let files = match s.filestore_files {
                Some(n) => format!(" with {n} filestore files"),
                None => String::new(),
            };
            writeln!(
                out,
                "loaded {input} ({}, {}) into {}{files}{}{}{} in {:.1}s",
                s.format,
                bytes(s.read_bytes),
                s.database,
                if s.copied { " as a copy" } else { "" },
                if s.neutralized_rows.is_some() { ", neutralized" } else { "" },
                if s.replaced { ", replacing the previous database" } else { "" },
                s.seconds
            )
        })
    }

    /// The plan of `neutralize --dry-run`: an SQL script, or JSON. Shown even with `--quiet`:
    /// it is what was asked for.
    pub fn neutralize_plan(&self, database: &str, plan: &Plan) -> Result {
        let doc = serde_json::json!({ "database": database, "dry_run": true, "plan": plan });
        self.listing(&doc, |out| out.write_all(plan.script(database).as_bytes()))
    }

    /// What `neutralize` changed: rows per table, for the tables that changed.
    pub fn neutralized(&self, s: &NeutralizeSummary) -> Result {
        self.summary(s, |out| {
            writeln!(
                out,
                "neutralized {} with {} (Odoo {}): {} rows changed in {} steps, {:.1}s",
                s.database,
                s.rules,
                s.version.as_deref().unwrap_or("version unknown"),
                s.rows,
                s.steps.len(),
                s.seconds
            )?;
            let changed: Vec<(&String, &u64)> = s.tables.iter().filter(|(_, n)| **n > 0).collect();
            let width = changed.iter().map(|(table, _)| table.len()).max().unwrap_or(0);
            for (table, rows) in changed {
                writeln!(out, "  {table:width$}  {rows:>6}")?;
            }
            Ok(())
        })
    }

    /// A command's summary: one JSON line, or `human`'s text, or nothing when quiet.
    pub(super) fn summary(
        &self,
        value: &(impl Serialize + ?Sized),
        human: impl FnOnce(&mut io::StdoutLock<'static>) -> io::Result<()>,
    ) -> Result {
        if self.quiet && !self.json {
            return Ok(());
        }
        self.listing(value, human)
    }

    /// What a command was asked to show (a list, a plan): one JSON line, or `human`'s text,
    /// even when quiet.
    pub(super) fn listing(
        &self,
        value: &(impl Serialize + ?Sized),
        human: impl FnOnce(&mut io::StdoutLock<'static>) -> io::Result<()>,
    ) -> Result {
        let mut out = io::stdout().lock();
        let written = if self.json {
            serde_json::to_writer(&mut out, value)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out))
        } else {
            human(&mut out)
        };
        written.map_err(WriteError)?;
        Ok(())
    }
}

/// `oe db …`.
impl Printer {
    /// `oe db ls`: a table, `-` where a value is unknown.
    pub fn databases(&self, databases: &[DatabaseInfo]) -> Result {
        self.listing(&databases, |out| {
            let dash = || "-".to_owned();
            let rows: Vec<[String; 6]> = databases
                .iter()
                .map(|d| {
                    [
                        d.name.clone(),
                        d.size.map_or_else(dash, bytes),
                        d.version.clone().unwrap_or_else(dash),
                        d.applications.map_or_else(dash, |n| n.to_string()),
                        d.filestore_bytes.map_or_else(dash, bytes),
                        d.newest_backup.as_ref().map_or_else(dash, |b| b.time.clone()),
                    ]
                })
                .collect();
            let head = ["NAME", "SIZE", "VERSION", "APPS", "FILESTORE", "NEWEST BACKUP"];
            let mut widths = head.map(str::len);
            for row in &rows {
                for (width, cell) in widths.iter_mut().zip(row) {
                    *width = (*width).max(cell.chars().count());
                }
            }
            let line = |out: &mut io::StdoutLock<'static>, cells: [&str; 6]| {
                let [name, size, version, apps, filestore, backup] = cells;
                let [w0, w1, w2, w3, w4, _] = widths;
                writeln!(
                    out,
                    "{name:w0$}  {size:>w1$}  {version:w2$}  {apps:>w3$}  {filestore:>w4$}  {backup}"
                )
            };
            line(out, head)?;
            for row in &rows {
                line(out, row.each_ref().map(String::as_str))?;
            }
            Ok(())
        })
    }

    pub fn db_copied(&self, s: &DbCopy) -> Result {
        self.summary(s, |out| {
            let files = match (s.filestore_files, s.filestore_bytes) {
                (Some(files), Some(size)) => format!(
                    " with its filestore ({files} files, {}; {} linked, {} copied)",
                    bytes(size),
                    s.linked_files,
                    files - s.linked_files
                ),
                _ => " (no filestore)".into(),
            };
            writeln!(
                out,
                "copied {} to {}{files}{}{} in {:.1}s",
                s.source,
                s.target,
                if s.new_identity { ", new database.uuid" } else { "" },
                if s.neutralized_rows.is_some() { ", neutralized" } else { "" },
                s.seconds
            )
        })
    }

    pub fn db_renamed(&self, s: &DbRename) -> Result {
        self.summary(s, |out| {
            let filestore = if s.filestore { " and its filestore" } else { " (no filestore)" };
            writeln!(out, "renamed {}{filestore} to {}", s.database, s.renamed_to)
        })
    }

    /// `oe db rm --dry-run`: shown even with `--quiet`, it is what was asked for.
    pub fn db_remove_plan(&self, plan: &RemovePlan) -> Result {
        let doc = serde_json::json!({ "dry_run": true, "plan": plan });
        self.listing(&doc, |out| {
            if let Some(dir) = &plan.backup_dir {
                writeln!(out, "would back up {} into {}", plan.database, dir.display())?;
            }
            writeln!(out, "would drop database {}", plan.database)?;
            match &plan.filestore {
                Some(dir) => writeln!(out, "would remove {}", dir.display()),
                None => writeln!(out, "(no filestore)"),
            }
        })
    }

    pub fn db_removed(&self, s: &DbRemove) -> Result {
        self.summary(s, |out| {
            if let Some(path) = &s.backup {
                writeln!(out, "backed up {} to {}", s.database, path.display())?;
            }
            let filestore = if s.filestore { " and its filestore" } else { " (no filestore)" };
            writeln!(out, "removed {}{filestore}", s.database)
        })
    }
}

/// `oe mirror …`.
impl Printer {
    pub fn mirror_initialized(
        &self,
        location: &crate::config::Location,
        encrypted: bool,
    ) -> Result {
        let doc = serde_json::json!({ "repository": location.to_string(), "encrypted": encrypted });
        let how = if encrypted { "an encrypted" } else { "the" };
        self.summary(&doc, |out| writeln!(out, "created {how} repository {location}"))
    }

    pub fn mirror_keys(&self, keys: &[crate::repo::KeyInfo]) -> Result {
        self.summary(&keys, |out| {
            for key in keys {
                let current = if key.current { "  (in use)" } else { "" };
                writeln!(out, "{}  {}  {}{current}", &key.id[..16], key.created, key.host)?;
            }
            Ok(())
        })
    }

    pub fn mirror_key_changed(&self, what: &str, id: &str) -> Result {
        let doc = serde_json::json!({ what: id });
        self.summary(&doc, |out| writeln!(out, "{what} the key file {id}"))
    }

    pub fn mirror_run(&self, report: &RunReport) -> Result {
        self.summary(report, |out| {
            for d in &report.dirs {
                match (&d.failed, &d.stats) {
                    (Some(reason), _) => writeln!(out, "{}: FAILED: {reason}", d.dir)?,
                    (None, Some(s)) if report.dry_run => writeln!(
                        out,
                        "{}: would read {} of {} files ({} of {}), {} directories",
                        d.dir,
                        s.files_read,
                        s.files,
                        bytes(s.new_bytes),
                        bytes(s.bytes),
                        s.dirs
                    )?,
                    (None, Some(s)) => writeln!(
                        out,
                        "{}: snapshot {} ({} files, {}; read {} files; {} new) in {:.1}s{}",
                        d.dir,
                        d.snapshot.as_deref().map_or("", |id| &id[..id.len().min(8)]),
                        s.files,
                        bytes(s.bytes),
                        s.files_read,
                        bytes(s.new_bytes),
                        d.seconds,
                        if d.errors.is_empty() { "" } else { ", PARTIAL" }
                    )?,
                    (None, None) => {}
                }
                for e in &d.errors {
                    writeln!(out, "  {e}")?;
                }
            }
            Ok(())
        })
    }

    pub fn mirror_snapshots(&self, snapshots: &[Listed]) -> Result {
        #[derive(Serialize)]
        struct Item<'a> {
            id: &'a str,
            #[serde(flatten)]
            snapshot: &'a crate::repo::snapshot::Snapshot,
        }
        let items: Vec<Item> =
            snapshots.iter().map(|s| Item { id: &s.id, snapshot: &s.snapshot }).collect();
        self.listing(&items, |out| {
            for s in snapshots {
                let st = &s.snapshot.stats;
                writeln!(
                    out,
                    "{}  {}  {}  {} files  {:>10}  {:>10} new{}",
                    s.short_id(),
                    s.timestamp(),
                    s.snapshot.dir,
                    st.files,
                    bytes(st.bytes),
                    bytes(st.new_bytes),
                    if s.snapshot.partial { "  partial" } else { "" }
                )?;
            }
            Ok(())
        })
    }

    /// One entry of `oe mirror ls`: type and mode, size, mtime, path (raw bytes; a
    /// directory ends with `/`), or a JSON object per line.
    pub fn mirror_ls_line(&self, out: &mut impl Write, line: LsLine) -> io::Result<()> {
        let n = line.node;
        if self.json {
            let doc = serde_json::json!({
                "path": String::from_utf8_lossy(line.path),
                "type": n.kind,
                "mode": format!("{:o}", n.mode),
                "size": n.size,
                "mtime": n.mtime.sec,
            });
            return writeln!(out, "{doc}");
        }
        let kind = match n.kind {
            Kind::File => '-',
            Kind::Dir => 'd',
            Kind::Symlink => 'l',
            Kind::Fifo => 'p',
            Kind::Socket => 's',
            Kind::CharDevice => 'c',
            Kind::BlockDevice => 'b',
        };
        let time = crate::rules::retention::Timestamp::from_unix_seconds(n.mtime.sec)
            .map_or_else(|| n.mtime.sec.to_string(), |t| t.to_string());
        write!(out, "{kind}{:04o} {:>12} {time} ", n.mode, n.size)?;
        out.write_all(line.path)?;
        if n.kind == Kind::Dir {
            out.write_all(b"/")?;
        }
        if let Some(target) = &n.target {
            out.write_all(b" -> ")?;
            out.write_all(target)?;
        }
        out.write_all(b"\n")
    }

    pub fn mirror_restored(&self, target: &std::path::Path, o: &Restored) -> Result {
        self.summary(o, |out| {
            writeln!(
                out,
                "restored {} files, {} hard links, {} directories ({}) into {}",
                o.files,
                o.links,
                o.dirs,
                bytes(o.bytes),
                target.display()
            )?;
            for w in &o.warnings {
                writeln!(out, "  {w}")?;
            }
            Ok(())
        })
    }

    pub fn mirror_checked(&self, r: &CheckReport) -> Result {
        self.listing(r, |out| {
            for problem in &r.found.problems {
                writeln!(out, "problem: {problem}")?;
            }
            for d in &r.found.damaged {
                writeln!(out, "damaged pack {}: {}", d.pack, d.reason)?;
                let mut affected = d.affected.clone();
                affected.dedup();
                for (snapshot, dir, path) in &affected {
                    writeln!(out, "  snapshot {snapshot} of {dir}: {path}")?;
                }
            }
            if self.quiet {
                return Ok(());
            }
            let data = if r.read_data { ", every blob read and hashed" } else { "" };
            let verdict = if r.result().is_ok() { "no problem" } else { "PROBLEMS" };
            writeln!(out, "checked {} snapshots, {} trees{data}: {verdict}", r.snapshots, r.trees)
        })
    }

    /// `oe clean`: the plan (`summary` is `None` for `--dry-run`) and what was done.
    pub fn clean_plan(
        &self,
        plan: &crate::jobs::clean::Plan,
        summary: Option<&crate::jobs::clean::Summary>,
    ) -> Result {
        let dry_run = summary.is_none();
        let doc = serde_json::json!({
            "dry_run": dry_run,
            "steps": plan.steps,
            "done": summary.map_or(0, |s| s.done.len()),
            "in_use": plan.in_use,
            "kept": plan.kept,
        });
        self.summary(&doc, |out| {
            let would = if dry_run { "would " } else { "" };
            for step in &plan.steps {
                writeln!(out, "{would}{step}")?;
            }
            for what in &plan.in_use {
                writeln!(out, "in use, left alone: {what}")?;
            }
            for kept in &plan.kept {
                writeln!(out, "kept: {}: {}", kept.what, kept.why)?;
            }
            if plan.steps.is_empty() {
                writeln!(out, "nothing to clean")?;
            }
            Ok(())
        })
    }

    pub fn mirror_forget_plan(&self, plan: &ForgetPlan, dry_run: bool) -> Result {
        let doc = serde_json::json!({ "dry_run": dry_run, "forget": plan });
        self.summary(&doc, |out| {
            let verb = if dry_run { "would delete" } else { "delete" };
            for (dir, d) in &plan.dirs {
                writeln!(out, "{dir}: keep {}, {verb} {}", d.keep.len(), d.delete.len())?;
                for (id, time, reasons) in &d.keep {
                    writeln!(
                        out,
                        "  keep    {}  {}  {}",
                        short(id),
                        when(*time),
                        reasons.join(", ")
                    )?;
                }
                for (id, time) in &d.delete {
                    writeln!(out, "  delete  {}  {}", short(id), when(*time))?;
                }
            }
            Ok(())
        })
    }

    pub fn mirror_prune_plan(&self, plan: &PrunePlan, dry_run: bool) -> Result {
        let doc = serde_json::json!({ "dry_run": dry_run, "prune": plan.to_string() });
        let prefix = if dry_run { "would prune: " } else { "prune: " };
        self.summary(&doc, |out| writeln!(out, "{prefix}{plan}"))
    }

    pub fn mirror_pruned(&self, s: &PruneStats) -> Result {
        self.summary(s, |out| {
            writeln!(
                out,
                "pruned: {} packs deleted, {} written, {} freed",
                s.packs_deleted,
                s.packs_written,
                bytes(s.bytes_freed)
            )
        })
    }
}

/// One job as `oe status` shows it.
#[derive(Debug, Serialize)]
pub struct JobStatus {
    pub job: String,
    pub kind: String,
    pub schedule: String,
    /// False for a job the state file remembers but the configuration no longer has.
    pub configured: bool,
    pub next: Option<jiff::Zoned>,
    pub running_since: Option<jiff::Timestamp>,
    pub last_success: Option<jiff::Timestamp>,
    pub last: Option<Run>,
}

impl Printer {
    /// `oe daemon --print-schedule`: (job, schedule, next fire times).
    pub fn schedule(&self, jobs: &[(String, String, Vec<jiff::Zoned>)]) -> Result {
        let doc: Vec<_> = jobs
            .iter()
            .map(|(job, schedule, times)| {
                serde_json::json!({"job": job, "schedule": schedule, "next": times})
            })
            .collect();
        self.listing(&doc, |out| {
            for (job, schedule, times) in jobs {
                writeln!(out, "{job} ({schedule}):")?;
                for time in times {
                    writeln!(out, "  {}", time.strftime("%Y-%m-%d %H:%M %Z (%a)"))?;
                }
            }
            Ok(())
        })
    }

    /// `oe daemon --once`: each run, database by database.
    pub fn runs(&self, runs: &[Run]) -> Result {
        self.summary(&runs, |out| {
            for run in runs {
                writeln!(
                    out,
                    "{} ({}): {} in {:.1} s",
                    run.job, run.kind, run.result, run.seconds
                )?;
                for item in &run.items {
                    let status = if item.ok { "ok" } else { "FAILED" };
                    let text = item.error.as_deref().or(item.detail.as_deref()).unwrap_or("");
                    writeln!(out, "  {status:<6} {}: {text}", item.name)?;
                }
                if run.items.is_empty() {
                    if let Some(error) = &run.error {
                        writeln!(out, "  {error}")?;
                    }
                }
            }
            Ok(())
        })
    }

    /// `oe status`.
    /// `oe status`'s line for a recorded mail-port cutoff; text only (the JSON stays the
    /// list of jobs, and a missing cutoff fails the command).
    pub fn cutoff_state(&self, status: &crate::deploy::cutoff::Status) -> Result {
        if self.json || self.quiet {
            return Ok(());
        }
        let state = if status.in_place { "in place" } else { "NOT in place" };
        writeln!(io::stdout().lock(), "cutoff of {}: {state}", status.scope).map_err(WriteError)?;
        Ok(())
    }

    pub fn status(&self, state_file: &std::path::Path, jobs: &[JobStatus]) -> Result {
        self.listing(&jobs, |out| {
            if jobs.is_empty() {
                return writeln!(out, "no jobs configured (add some under 'jobs:')");
            }
            for job in jobs {
                let configured = if job.configured { "" } else { " (no longer configured)" };
                writeln!(out, "{} ({} {}){configured}", job.job, job.kind, job.schedule)?;
                if let Some(since) = job.running_since {
                    writeln!(out, "  running since {}", seconds(since))?;
                }
                match &job.last {
                    Some(run) => {
                        writeln!(
                            out,
                            "  last run:     {} {} ({:.1} s)",
                            seconds(run.started),
                            run.result,
                            run.seconds
                        )?;
                        if let Some(error) = &run.error {
                            writeln!(out, "  last error:   {error}")?;
                        }
                    }
                    None => writeln!(out, "  last run:     never")?,
                }
                if let Some(t) = job.last_success {
                    writeln!(out, "  last success: {}", seconds(t))?;
                }
                if let Some(next) = &job.next {
                    writeln!(out, "  next run:     {}", next.strftime("%Y-%m-%d %H:%M %Z"))?;
                }
            }
            if !self.quiet {
                writeln!(out, "(state: {})", state_file.display())?;
            }
            Ok(())
        })
    }
}

/// A time to the second, in UTC: `2026-11-30T02:00:04Z`.
fn seconds(t: jiff::Timestamp) -> jiff::Timestamp {
    t.round(jiff::Unit::Second).unwrap_or(t)
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

fn when(unix: i64) -> String {
    crate::rules::retention::Timestamp::from_unix_seconds(unix)
        .map_or_else(|| unix.to_string(), |t| t.to_string())
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::File => "config",
        Source::Default => "default",
        Source::Unset => "unset",
    }
}

/// `oe install`, `oe pull`, `oe start`, `oe stop`, `oe ps`.
impl Printer {
    pub fn installed(&self, s: &crate::jobs::deploy::install::Installed) -> Result {
        let doc = serde_json::json!({
            "root": s.root, "cloned": s.cloned, "images": s.images, "wrote_config": s.wrote_config,
        });
        self.summary(&doc, |out| {
            writeln!(out, "installed {}", s.root.display())?;
            for dir in &s.cloned {
                writeln!(out, "  cloned  sources/{dir}")?;
            }
            for (role, digest) in &s.images {
                writeln!(out, "  image   {role:9} {digest}")?;
            }
            let conf = if s.wrote_config { "written" } else { "kept (it exists)" };
            writeln!(out, "  config/odoo.conf {conf}")
        })
    }

    pub fn pulled(&self, s: &crate::jobs::deploy::install::Pulled) -> Result {
        let moved: Vec<_> = s
            .moved
            .iter()
            .map(|(dir, old, new)| serde_json::json!({ "dir": dir, "from": old, "to": new }))
            .collect();
        let doc = serde_json::json!({ "repositories": moved, "images": s.images });
        self.summary(&doc, |out| {
            for (dir, old, new) in &s.moved {
                writeln!(out, "sources/{dir}: {} -> {}", short(old), short(new))?;
            }
            if s.moved.is_empty() {
                writeln!(out, "repositories: nothing new")?;
            }
            for (role, digest) in &s.images {
                writeln!(out, "image {role:9} {digest}")?;
            }
            Ok(())
        })
    }

    pub fn updated(&self, r: &crate::jobs::deploy::update::Report, list_only: bool) -> Result {
        let print = |out: &mut io::StdoutLock<'static>| {
            let plan = &r.plan;
            if plan.new_database {
                writeln!(out, "database {} created", plan.database)?;
            }
            for reason in &plan.update {
                writeln!(out, "update  {:24} {}", reason.module, reason.why)?;
            }
            for module in &plan.install {
                writeln!(out, "install {module}")?;
            }
            if plan.is_empty() {
                writeln!(out, "nothing to update: odoo was not stopped")?;
            } else if !list_only {
                if let Some(downtime) = r.downtime {
                    writeln!(out, "downtime {downtime:.1} s")?;
                }
                if let Some(point) = &r.rollback_point {
                    writeln!(
                        out,
                        "rollback point {point} ('oe update --rollback' goes back to it)"
                    )?;
                }
                if let Some(log) = &r.log {
                    writeln!(out, "log {}", log.display())?;
                }
            }
            Ok(())
        };
        if list_only { self.listing(r, print) } else { self.summary(r, print) }
    }

    pub fn rolled_back(&self, r: &crate::jobs::deploy::update::RolledBack) -> Result {
        self.summary(r, |out| {
            if r.completed {
                writeln!(out, "rolled back the update of {} in {:.1} s", r.stamp, r.seconds)?;
            } else {
                writeln!(out, "undid the unfinished update of {} in {:.1} s", r.stamp, r.seconds)?;
            }
            if let Some(aside) = &r.set_aside {
                writeln!(out, "the updated database is kept as {aside} (oe db rm removes it)")?;
            }
            Ok(())
        })
    }

    pub fn containers(&self, containers: &[(String, &'static str)], url: Option<&str>) -> Result {
        let items: Vec<_> = containers
            .iter()
            .map(|(name, action)| serde_json::json!({ "container": name, "action": action }))
            .collect();
        let doc = serde_json::json!({ "containers": items, "url": url });
        self.summary(&doc, |out| {
            for (name, action) in containers {
                writeln!(out, "{name:32} {action}")?;
            }
            if let Some(url) = url {
                writeln!(out, "odoo answers at {url}")?;
            }
            Ok(())
        })
    }

    pub fn ps(&self, rows: &[crate::jobs::deploy::runtime::Row]) -> Result {
        self.listing(rows, |out| {
            writeln!(out, "{:28} {:9} {:28} {:28} IMAGE", "NAME", "ROLE", "STATUS", "PORTS")?;
            for r in rows {
                let ports = if r.ports.is_empty() { "-".to_owned() } else { r.ports.join(",") };
                writeln!(
                    out,
                    "{:28} {:9} {:28} {:28} {}",
                    r.name, r.role, r.status, ports, r.image
                )?;
            }
            Ok(())
        })
    }
}

/// `oe test-db`, `oe test`.
impl Printer {
    pub fn test_db(&self, s: &crate::jobs::deploy::qa::TestDb) -> Result {
        self.summary(s, |out| {
            let demo = if s.demo { "with" } else { "without" };
            writeln!(
                out,
                "made {} ({} installed, {demo} demo data), neutralized",
                s.database, s.module
            )?;
            writeln!(out, "  {} warnings, log {}", s.warnings, s.log.display())
        })
    }

    pub fn tested(&self, r: &crate::jobs::deploy::qa::TestReport) -> Result {
        self.summary(r, |out| {
            writeln!(out, "{}: {} ({})", r.modules.join(","), r.tests, r.database)?;
            for error in &r.errors {
                writeln!(out, "  {error}")?;
            }
            writeln!(out, "  {} warnings, log {}", r.warnings, r.log.display())
        })
    }
}
