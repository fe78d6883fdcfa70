//! Spawning a program as a stream: its stdout to read or its stdin to write, its stderr
//! drained on a thread, its exit status checked by `close()`.
//!
//! A child that is dropped without `close()` (an error path) is stopped and reaped, never
//! left behind as a zombie or an orphan.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::interrupt;
use crate::exit::{self, ExitCode};

/// How much of a child's stderr is kept for the error message.
const STDERR_KEEP: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{tool} not found at {}", path.display())]
    NotFound { tool: String, path: PathBuf },
    #[error("cannot start {tool}")]
    Spawn { tool: String, source: io::Error },
    #[error("{tool} failed ({status}): {}", first_error_line(stderr))]
    Failed { tool: String, status: String, stderr: String },
    #[error("waiting for {tool}")]
    Wait { tool: String, source: io::Error },
    #[error("{tool} did not finish within {after:?} and was killed")]
    TimedOut { tool: String, after: Duration },
}

impl exit::ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::NotFound { .. } => ExitCode::MissingTool,
            _ => ExitCode::Failure,
        }
    }
}

impl Error {
    /// The child's whole captured stderr, when it failed.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            Error::Failed { stderr, .. } => Some(stderr),
            _ => None,
        }
    }
}

/// A program with its arguments and environment, ready to be spawned.
#[derive(Debug)]
pub struct Tool {
    name: String,
    program: PathBuf,
    command: Command,
}

impl Tool {
    pub fn new(program: impl AsRef<Path>) -> Tool {
        let program = program.as_ref().to_path_buf();
        let name = program
            .file_name()
            .map_or_else(|| program.display().to_string(), |n| n.to_string_lossy().into_owned());
        let mut command = Command::new(&program);
        // Own process group: a terminal's Ctrl-C reaches `oe` alone, which then stops its
        // children in order (see `interrupt`).
        command.process_group(0);
        Tool { name, program, command }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Tool {
        self.command.arg(arg);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Tool {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Tool {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Tool {
        self.command.env_remove(key);
        self
    }

    /// Starts the program with its stdout as the stream to read.
    pub fn spawn_reader(mut self) -> Result<ChildReader, Error> {
        self.command.stdin(Stdio::null()).stdout(Stdio::piped());
        let mut running = self.spawn()?;
        let stdout = running.child.as_mut().and_then(|c| c.stdout.take());
        Ok(ChildReader { stdout, running })
    }

    /// Starts the program with its stdin as the stream to write; its stdout is discarded.
    pub fn spawn_writer(mut self) -> Result<ChildWriter, Error> {
        self.command.stdin(Stdio::piped()).stdout(Stdio::null());
        let mut running = self.spawn()?;
        let stdin = running.child.as_mut().and_then(|c| c.stdin.take());
        Ok(ChildWriter { stdin, running })
    }

    /// Runs the program to completion with no input; its stdout is discarded.
    pub fn run(mut self) -> Result<(), Error> {
        self.command.stdin(Stdio::null()).stdout(Stdio::null());
        self.spawn()?.wait()
    }

    fn spawn(mut self) -> Result<Running, Error> {
        self.command.stderr(Stdio::piped());
        let mut child = self.command.spawn().map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                Error::NotFound { tool: self.name.clone(), path: self.program.clone() }
            } else {
                Error::Spawn { tool: self.name.clone(), source }
            }
        })?;
        interrupt::register(child.id() as i32);
        tracing::debug!(tool = %self.name, pid = child.id(), "started");
        let stderr = child.stderr.take().map(|mut stderr| {
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                let mut buf = [0u8; 8192];
                loop {
                    match stderr.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let room = STDERR_KEEP.saturating_sub(kept.len());
                            kept.extend_from_slice(&buf[..n.min(room)]);
                        }
                    }
                }
                kept
            })
        });
        Ok(Running { name: self.name, child: Some(child), stderr })
    }
}

/// A running child and the thread collecting its stderr.
#[derive(Debug)]
struct Running {
    name: String,
    child: Option<Child>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Running {
    fn wait(mut self) -> Result<(), Error> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = child.wait();
        interrupt::unregister(child.id() as i32);
        let stderr = self.collect_stderr();
        let status = status.map_err(|source| Error::Wait { tool: self.name.clone(), source })?;
        if status.success() {
            if !stderr.trim().is_empty() {
                tracing::debug!(tool = %self.name, "stderr: {}", stderr.trim());
            }
            return Ok(());
        }
        Err(Error::Failed { tool: self.name.clone(), status: describe(status), stderr })
    }

    /// Like `wait`, but stops the child (and its process group) when it is still running after
    /// `timeout`.
    fn wait_within(mut self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let Some(child) = self.child.as_mut() else { return Ok(()) };
            match child.try_wait() {
                // `wait` gets the status kept by `try_wait`.
                Ok(Some(_)) => return self.wait(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    let tool = self.name.clone();
                    self.kill();
                    return Err(Error::TimedOut { tool, after: timeout });
                }
                Err(source) => return Err(Error::Wait { tool: self.name.clone(), source }),
            }
        }
    }

    /// Stops the child's process group and reaps it.
    fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: see `interrupt::signal_group`; the child is not reaped yet.
            unsafe {
                libc::killpg(child.id() as i32, libc::SIGKILL);
            }
            let _ = child.wait();
            interrupt::unregister(child.id() as i32);
        }
        self.collect_stderr();
    }

    fn collect_stderr(&mut self) -> String {
        let bytes = self.stderr.take().and_then(|t| t.join().ok()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.is_some() {
            let running = Running {
                name: std::mem::take(&mut self.name),
                child: self.child.take(),
                stderr: self.stderr.take(),
            };
            running.kill();
        }
    }
}

/// The stdout of a child, to read; `close()` checks how the child ended.
#[derive(Debug)]
pub struct ChildReader {
    stdout: Option<ChildStdout>,
    running: Running,
}

impl ChildReader {
    /// Waits for the child and fails unless it exited 0.
    pub fn close(mut self) -> Result<(), Error> {
        drop(self.stdout.take());
        self.running.wait()
    }
}

impl Read for ChildReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.stdout.as_mut() {
            Some(stdout) => stdout.read(buf),
            None => Ok(0),
        }
    }
}

/// The stdin of a child, to write; `close()` ends the input and checks how the child ended.
#[derive(Debug)]
pub struct ChildWriter {
    stdin: Option<ChildStdin>,
    running: Running,
}

impl ChildWriter {
    /// Ends the child's input, waits for it and fails unless it exited 0.
    pub fn close(mut self) -> Result<(), Error> {
        drop(self.stdin.take());
        self.running.wait()
    }

    /// Like `close`, but a child still running after `timeout` is killed and that is an error.
    pub fn close_within(mut self, timeout: Duration) -> Result<(), Error> {
        drop(self.stdin.take());
        self.running.wait_within(timeout)
    }

    /// Stops the child without ending its input normally, so it cannot commit anything.
    pub fn abort(mut self) {
        drop(self.stdin.take());
        self.running.kill();
    }
}

impl Write for ChildWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.stdin.as_mut() {
            Some(stdin) => stdin.write(buf),
            None => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.stdin.as_mut() {
            Some(stdin) => stdin.flush(),
            None => Ok(()),
        }
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

/// The line of a tool's stderr that best explains a failure: the first error, else the last line.
///
/// A server's error is found by its SQLSTATE, in any language (`FEHLER:  42P01: …`, as psql
/// writes it with `VERBOSITY=verbose`); the tools' own words are English (`LC_MESSAGES=C`).
fn first_error_line(stderr: &str) -> &str {
    let lines = || stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find(|l| has_error_sqlstate(l))
        .or_else(|| {
            lines().find(|l| l.contains("ERROR") || l.contains("error") || l.contains("FATAL"))
        })
        .or_else(|| lines().next_back())
        .unwrap_or("no error output")
}

/// Whether `line` holds libpq's `SEVERITY:  XXXXX: ` with an SQLSTATE of an error (any class
/// but 00 success, 01 warning and 02 no data).
fn has_error_sqlstate(line: &str) -> bool {
    line.match_indices(":  ").any(|(at, _)| {
        let code = line.as_bytes().get(at + 3..at + 9).unwrap_or_default();
        code.len() == 6
            && code[..5].iter().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            && code[5] == b':'
            && !matches!(&code[..2], b"00" | b"01" | b"02")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_error_line_prefers_errors() {
        let stderr = "pg_restore: connecting\npg_restore: error: could not read input file: end of file\nmore\n";
        assert_eq!(
            first_error_line(stderr),
            "pg_restore: error: could not read input file: end of file"
        );
        assert_eq!(first_error_line("a\nb\n\n"), "b");
        // A German server, through psql -v VERBOSITY=verbose with LC_MESSAGES=C.
        let german = "psql:<stdin>:3: HINWEIS:  00000: Erweiterung »pg_trgm« existiert bereits\n\
                      psql:<stdin>:9: WARNUNG:  01000: Achtung\n\
                      psql:<stdin>:12: FEHLER:  42P01: Relation »x« existiert nicht\n\
                      LINE 1: SELECT * FROM x;\n                      ^\n\
                      LOCATION:  parserOpenTable, parse_relation.c:1392\n";
        assert_eq!(
            first_error_line(german),
            "psql:<stdin>:12: FEHLER:  42P01: Relation »x« existiert nicht"
        );
        assert!(!has_error_sqlstate("ERROR:  4201: short"));
        assert!(!has_error_sqlstate("psql:<stdin>:1: ERROR:  42p01: lower case"));
        assert_eq!(first_error_line(""), "no error output");
    }

    #[test]
    fn reader_reports_exit_status_and_stderr() {
        let mut reader = Tool::new("/bin/sh")
            .args(["-c", "echo out; echo 'boom error' >&2; exit 3"])
            .spawn_reader()
            .unwrap();
        let mut out = String::new();
        reader.read_to_string(&mut out).unwrap();
        assert_eq!(out, "out\n");
        let err = reader.close().unwrap_err();
        assert_eq!(err.to_string(), "sh failed (exit code 3): boom error");
    }

    #[test]
    fn a_child_past_its_time_is_killed_with_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        // The shell starts a grandchild that would outlive it if only the shell were killed.
        let script = format!("(sleep 2; touch '{}') & cat >/dev/null; sleep 30", marker.display());
        let mut writer = Tool::new("/bin/sh").args(["-c", &script]).spawn_writer().unwrap();
        writer.write_all(b"summary").unwrap();
        let started = Instant::now();
        let error = writer.close_within(Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert_eq!(error.to_string(), "sh did not finish within 300ms and was killed");
        std::thread::sleep(Duration::from_millis(2500));
        assert!(!marker.exists(), "the grandchild outlived the timeout");

        let writer = Tool::new("/bin/sh").args(["-c", "cat >/dev/null; exit 4"]).spawn_writer();
        let error = writer.unwrap().close_within(Duration::from_secs(10)).unwrap_err();
        assert_eq!(error.to_string(), "sh failed (exit code 4): no error output");
    }

    #[test]
    fn writer_feeds_stdin() {
        let mut writer =
            Tool::new("/bin/sh").args(["-c", "test \"$(cat)\" = hello"]).spawn_writer().unwrap();
        writer.write_all(b"hello").unwrap();
        writer.close().unwrap();
    }

    #[test]
    fn missing_program_is_not_found() {
        let err = Tool::new("/nonexistent/pg_dump").run().unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    }
}
