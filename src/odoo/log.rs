//! Odoo's server log, as it prints it: one record per line
//! `2026-01-01 10:00:00,123 42 WARNING dbname odoo.modules.loading: text` (time, pid, level,
//! database or `?`, logger, message), and the lines that follow a record without that shape
//! (a traceback, a multi-line message) belong to it. [`Parser`] turns the bytes of such a
//! log, in chunks as they come, into [`Record`]s; [`TestCounts`] reads the summary line of
//! Odoo's test runner. Pure: no I/O.
//!
//! Lines that come before any record and are not log lines (what the interpreter prints
//! before Odoo sets up logging: a `DeprecationWarning` of an import, a crash at start-up)
//! become a record of their own: level [`Level::Warning`], logger `""`, no time and no
//! database, and the non-log lines after it continue it. After a record, such lines are
//! its continuation: Odoo prints a traceback's lines after the record that logged it, and
//! the text cannot tell them from a stray line. Trailing blanks of lines and records are
//! dropped.

use std::fmt;

/// A record's severity, as Odoo names them (`DEBUG` … `CRITICAL`), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "DEBUG" => Some(Level::Debug),
            "INFO" => Some(Level::Info),
            "WARNING" => Some(Level::Warning),
            "ERROR" => Some(Level::Error),
            "CRITICAL" => Some(Level::Critical),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One record of the log.
#[derive(Debug, Clone)]
pub struct Record {
    /// `2026-01-01 10:00:00,123` (Odoo's time, UTC in its containers); empty for a line that
    /// was not a log line.
    pub time: String,
    pub level: Level,
    /// The database the record is about; `None` for Odoo's `?`.
    pub db: Option<String>,
    /// `odoo.modules.loading`; empty for a line that was not a log line.
    pub logger: String,
    /// The message, its continuation lines after a `\n` each.
    pub text: String,
}

impl Record {
    /// The message's first line.
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or_default()
    }
}

/// The record that starts on `line`, if it is a log line.
fn header(line: &str) -> Option<Record> {
    // `YYYY-MM-DD HH:MM:SS,mmm`: 23 bytes, digits where digits go.
    let time = line.get(..23)?;
    let shape = time.bytes().zip(b"0000-00-00 00:00:00,000".iter());
    if !shape.into_iter().all(|(b, &s)| if s == b'0' { b.is_ascii_digit() } else { b == s }) {
        return None;
    }
    let rest = line[23..].strip_prefix(' ')?;
    let (pid, rest) = rest.split_once(' ')?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (level, rest) = rest.split_once(' ')?;
    let level = Level::parse(level)?;
    let (db, rest) = rest.split_once(' ')?;
    let (logger, text) = rest.split_once(": ").or_else(|| Some((rest.strip_suffix(':')?, "")))?;
    if logger.is_empty() || logger.contains(' ') {
        return None;
    }
    Some(Record {
        time: time.to_owned(),
        level,
        db: (db != "?").then(|| db.to_owned()),
        logger: logger.to_owned(),
        text: text.to_owned(),
    })
}

/// Turns the bytes of a log into records; see the module's docs.
#[derive(Debug, Default)]
pub struct Parser {
    /// The bytes of a line not ended yet.
    partial: Vec<u8>,
    /// The record that the next lines may continue.
    open: Option<Record>,
}

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Takes the next bytes; returns the records they completed (a record is complete when
    /// the next one starts).
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Record> {
        let mut done = Vec::new();
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..end]);
            rest = &rest[end + 1..];
            let line = std::mem::take(&mut self.partial);
            done.extend(self.line(&String::from_utf8_lossy(&line)));
        }
        self.partial.extend_from_slice(rest);
        done
    }

    /// The end of the log: the records still open, the last line's even without a final
    /// newline.
    pub fn finish(&mut self) -> Vec<Record> {
        let mut done = Vec::new();
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            done.extend(self.line(&String::from_utf8_lossy(&line)));
        }
        done.extend(self.open.take().map(complete));
        done
    }

    /// One line: a record completed by it, if any.
    fn line(&mut self, line: &str) -> Option<Record> {
        // Odoo 18 ends each record with its request's performance figures after a space,
        // empty outside requests: trailing blanks say nothing.
        let line = line.trim_end();
        if let Some(record) = header(line) {
            return self.open.replace(record).map(complete);
        }
        match &mut self.open {
            Some(open) => {
                open.text.push('\n');
                open.text.push_str(line);
            }
            None if line.trim().is_empty() => {}
            None => {
                self.open = Some(Record {
                    time: String::new(),
                    level: Level::Warning,
                    db: None,
                    logger: String::new(),
                    text: line.to_owned(),
                });
            }
        }
        None
    }
}

/// A record that nothing continues any more, without its trailing blank lines.
fn complete(mut record: Record) -> Record {
    let end = record.text.trim_end().len();
    record.text.truncate(end);
    record
}

/// The results of Odoo's test runner, from its summary line
/// (`0 failed, 1 error(s) of 5 tests when loading database 'acme'`, logged at INFO when all
/// passed, at ERROR otherwise).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TestCounts {
    /// Tests that ran.
    pub tests: u64,
    pub failed: u64,
    pub errors: u64,
}

impl TestCounts {
    /// The counts a record states, if it is a summary of the test runner.
    pub fn parse(record: &Record) -> Option<TestCounts> {
        let line = record.first_line();
        let (failed, rest) = line.split_once(" failed, ")?;
        let (errors, rest) = rest.split_once(" error(s) of ")?;
        let (tests, rest) = rest.split_once(" test")?;
        let rest = rest.strip_prefix('s').unwrap_or(rest);
        if !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        let number = |text: &str| text.trim().rsplit(' ').next()?.parse::<u64>().ok();
        Some(TestCounts { tests: number(tests)?, failed: number(failed)?, errors: number(errors)? })
    }

    /// Takes `record` into account: the last summary counts (Odoo prints one per database
    /// it loads, the totals of that database).
    pub fn observe(&mut self, record: &Record) {
        if let Some(counts) = TestCounts::parse(record) {
            *self = counts;
        }
    }

    /// Whether no test failed or errored.
    pub fn passed(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }
}

impl fmt::Display for TestCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed, {} error(s) of {} tests", self.failed, self.errors, self.tests)
    }
}

#[cfg(test)]
mod tests;
