//! An isolated environment to run the `oe` binary in.
//!
//! [`TestEnv::new`] makes a temporary root holding `config.yml` (pointing the `odoo` service
//! at the test cluster of [`crate::cluster`]), an empty `odoo-data/` and a `home/` used as
//! `HOME` and `XDG_*` directories, so the user's own configuration, `~/.pgpass` and `PG*`
//! variables never leak into a test. Everything is removed when the `TestEnv` is dropped.
//!
//! ```ignore
//! let env = TestEnv::new();
//! let db = cluster().unique_db("save");
//! cluster().load_sample(&db);
//! env.run(&["save-db", &db, "out.dump"]).success();   // relative to env.root
//! assert!(env.path("out.dump").exists());
//! ```
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::cluster::cluster;

/// A temporary root with a `config.yml` for `oe`.
pub struct TestEnv {
    /// The temporary root (removed on drop); `oe` runs with it as working directory.
    pub root: tempfile::TempDir,
    /// `root/config.yml`, passed to every `oe` run with `--config`.
    pub config: PathBuf,
}

impl TestEnv {
    /// A temporary root with `config.yml`:
    ///
    /// ```yaml
    /// services:
    ///   odoo:
    ///     postgres: {host: "<socket_dir>", port: <port>, user: "postgres"}
    ///     data_dir: "<root>/odoo-data"
    /// ```
    ///
    /// Starts the test cluster if it is not running yet. `odoo-data/` is created empty.
    pub fn new() -> TestEnv {
        let cluster = cluster();
        let root = tempfile::Builder::new()
            .prefix("oe-it-env-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let config = root.path().join("config.yml");
        let env = TestEnv { root, config };
        for dir in
            ["home/.config", "home/.local/share", "home/.local/state", "home/.cache", "odoo-data"]
        {
            std::fs::create_dir_all(env.path(dir))
                .unwrap_or_else(|e| panic!("cannot create {dir} in the test root: {e}"));
        }
        // Paths as JSON strings: valid YAML whatever characters they hold.
        let yaml = format!(
            "services:\n  odoo:\n    postgres: {{host: {}, port: {}, user: {}}}\n    \
             data_dir: {}\n",
            yaml_string(&cluster.socket_dir.to_string_lossy()),
            cluster.port,
            yaml_string(&cluster.user),
            yaml_string(&env.path("odoo-data").to_string_lossy()),
        );
        env.write_config(&yaml);
        env
    }

    /// `root/rel`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// Replaces the content of `config.yml`.
    pub fn write_config(&self, yaml: &str) {
        std::fs::write(&self.config, yaml)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", self.config.display()));
    }

    /// The content of `config.yml` now (`oe config` may have changed it).
    pub fn read_config(&self) -> String {
        std::fs::read_to_string(&self.config)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", self.config.display()))
    }

    /// A command for the `oe` binary under test: `oe --config <config>`, in `root`, with every
    /// `PG*`, `OE_*` and `AWS_*` variable removed, `HOME` = `root/home`, `XDG_CONFIG_HOME`,
    /// `XDG_DATA_HOME`, `XDG_STATE_HOME`, `XDG_CACHE_HOME` inside it, and stdin from /dev/null.
    pub fn oe(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oe"));
        for (key, _) in std::env::vars_os() {
            let key_str = key.to_string_lossy();
            if ["PG", "OE_", "AWS_"].iter().any(|prefix| key_str.starts_with(prefix)) {
                cmd.env_remove(key);
            }
        }
        let home = self.path("home");
        cmd.arg("--config")
            .arg(&self.config)
            .current_dir(self.root.path())
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `oe --config <config> <args...>` to completion, stdin from /dev/null.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, Stdio::null())
    }

    /// Runs `oe --config <config> <args...>` like [`TestEnv::run`], with the variables `vars`
    /// added to its environment (a user's locale: `LANG`, `LC_ALL`...).
    pub fn run_with_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut cmd = self.oe();
        cmd.args(args).envs(vars.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let output =
            cmd.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", env!("CARGO_BIN_EXE_oe")));
        Run::new(format!("oe {}", args.join(" ")), output)
    }

    /// Runs `oe --config <config> <args...>` on a terminal of its own (a pseudo-terminal, its
    /// controlling one and its stdin), where `typed` is typed; stdout and stderr are captured.
    pub fn run_on_terminal(&self, args: &[&str], typed: &str) -> Run {
        use std::os::fd::{FromRawFd, OwnedFd};
        use std::os::unix::process::CommandExt;
        let (mut master, mut slave) = (0, 0);
        let (name, termios, size) = (std::ptr::null_mut(), std::ptr::null(), std::ptr::null());
        // SAFETY: openpty writes two descriptors into the given integers; null name, termios
        // and window size are allowed.
        let opened = unsafe { libc::openpty(&mut master, &mut slave, name, termios, size) };
        assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just opened, and are owned here only.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut cmd = self.oe();
        cmd.args(args).stdin(Stdio::from(slave)).stdout(Stdio::piped()).stderr(Stdio::piped());
        // SAFETY: only async-signal-safe calls between fork and exec: a new session, whose
        // controlling terminal becomes stdin (the pseudo-terminal).
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run oe on a terminal: {e}"));
        drop(cmd); // the parent's copy of the slave end: reads of the master end at exit
        let mut terminal = std::fs::File::from(master);
        std::io::Write::write_all(&mut terminal, typed.as_bytes()).unwrap();
        // What the terminal shows (prompts) is read away, so that writing them never blocks.
        let drain = std::thread::spawn(move || {
            let _ = std::io::copy(&mut terminal, &mut std::io::sink());
        });
        let output = child.wait_with_output().unwrap();
        drain.join().unwrap();
        Run::new(format!("oe {} (on a terminal)", args.join(" ")), output)
    }

    /// Runs `oe --config <config> <args...>` with `stdin` (a file, or a pipe from another
    /// child's stdout: `Stdio::from(child.stdout.take().unwrap())`).
    pub fn run_with_stdin(&self, args: &[&str], stdin: Stdio) -> Run {
        let mut cmd = self.oe();
        cmd.args(args).stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped());
        let output =
            cmd.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", env!("CARGO_BIN_EXE_oe")));
        Run::new(format!("oe {}", args.join(" ")), output)
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

/// `value` as a YAML double-quoted scalar (JSON string syntax is valid YAML).
fn yaml_string(value: &str) -> String {
    serde_json::to_string(value).expect("a string serializes")
}

/// The outcome of one `oe` run.
#[derive(Debug, Clone)]
pub struct Run {
    /// What ran, for messages: `oe <args>`.
    pub command: String,
    /// The exit code; `None` if killed by a signal.
    pub code: Option<i32>,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
}

impl Run {
    pub fn new(command: String, output: Output) -> Run {
        Run {
            command,
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics, showing stdout and stderr, unless the exit code is 0.
    #[track_caller]
    pub fn success(self) -> Self {
        if self.code != Some(0) {
            panic!(
                "`{}` should succeed but exited with {}\n{}",
                self.command,
                self.code_text(),
                self.output_text()
            );
        }
        self
    }

    /// Panics, showing stdout and stderr, unless the exit code is `code`.
    #[track_caller]
    pub fn failure(self, code: i32) -> Self {
        if self.code != Some(code) {
            panic!(
                "`{}` should exit with {code} but exited with {}\n{}",
                self.command,
                self.code_text(),
                self.output_text()
            );
        }
        self
    }

    /// Panics, showing stdout and stderr, unless stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Self {
        if !self.stderr.contains(needle) {
            panic!(
                "stderr of `{}` should contain {needle:?}\n{}",
                self.command,
                self.output_text()
            );
        }
        self
    }

    /// Panics, showing stdout and stderr, unless stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Self {
        if !self.stdout.contains(needle) {
            panic!(
                "stdout of `{}` should contain {needle:?}\n{}",
                self.command,
                self.output_text()
            );
        }
        self
    }

    fn code_text(&self) -> String {
        self.code.map_or_else(|| "a signal".to_string(), |c| c.to_string())
    }

    fn output_text(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}
