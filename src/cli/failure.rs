//! A failed command as the user sees it: its exit code and its one-line message, made from
//! any error that knows its code ([`ExitStatus`]) at the `?` of a command's function.

use crate::exit::{self, ExitCode, ExitStatus};
use crate::stop;

/// The result of a command.
pub type Result<T = (), E = Failure> = std::result::Result<T, E>;

/// Why a command failed: the code `oe` exits with and the message it prints.
#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    pub message: String,
}

impl<E: ExitStatus> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure { code: error.exit_code(), message: exit::message(&error) }
    }
}

impl Failure {
    /// A signal decides the code of whatever failed after it: the work stopped because of it.
    pub fn after_signal(self) -> Failure {
        match stop::signal() {
            Some(signal) => Failure { code: ExitCode::from_signal(signal), ..self },
            None => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::path::PathBuf;

    use super::*;
    use crate::jobs::{
        backup, clean, db, load_db, mirror, neutralize, restore, save, save_db, verify,
    };
    use crate::pipeline::DumpFormat;
    use crate::plumbing::pool;
    use crate::remote::protocol::Code;
    use crate::{config, daemon, pg, process, remote, repo, server};

    fn io_error() -> io::Error {
        io::Error::from_raw_os_error(libc::ENOSPC)
    }

    /// A backup server's refusal, as a repository sees it: inside an I/O error.
    fn remote_io(code: Code) -> repo::Error {
        let refused =
            remote::client::Error::Refused { url: "ssh://h/c".into(), code, message: "no".into() };
        repo::Error::io("storing a pack")(io::Error::other(refused))
    }

    fn panicked() -> io::Error {
        let thread = "compress-1".to_owned();
        pool::Error::Panicked { thread, message: "index out of bounds".into() }.into()
    }

    fn path() -> PathBuf {
        PathBuf::from("acme.dump.gz")
    }

    /// One error of every module, and the code the README's table documents for it.
    #[test]
    fn every_module_s_errors_exit_with_their_documented_code() {
        let cases: Vec<(Failure, ExitCode)> = vec![
            (config::Error::NoDatabase.into(), ExitCode::Usage),
            (config::Error::Read { path: path(), source: io_error() }.into(), ExitCode::Io),
            (pg::Error::NoSuchDatabase("acme".into()).into(), ExitCode::Failure),
            (
                pg::Error::Connect { target: "x".into(), reason: "refused".into(), code: None }
                    .into(),
                ExitCode::Unreachable,
            ),
            (
                pg::Error::Busy { database: "acme".into(), holder: "oe backup".into() }.into(),
                ExitCode::Locked,
            ),
            (
                process::Error::NotFound { tool: "psql".into(), path: "/x/psql".into() }.into(),
                ExitCode::MissingTool,
            ),
            (io_error().into(), ExitCode::Io),
            (io::Error::from(io::ErrorKind::UnexpectedEof).into(), ExitCode::BadInput),
            (panicked().into(), ExitCode::Failure),
            (load_db::Error::Exists("acme".into()).into(), ExitCode::Exists),
            (load_db::Error::Incomplete { input: "a.sql".into() }.into(), ExitCode::BadInput),
            (load_db::Error::Interrupted(libc::SIGTERM).into(), ExitCode::Terminated),
            (save_db::Error::UnknownName(path()).into(), ExitCode::Usage),
            (save::Error::Write { path: path(), source: io_error() }.into(), ExitCode::Io),
            (backup::Error::NoBackupDir.into(), ExitCode::Usage),
            (
                restore::Error::SeveralDatabases {
                    repository: "/srv/repo".into(),
                    searched: "the latest snapshots".into(),
                    databases: vec!["a".into(), "b".into()],
                }
                .into(),
                ExitCode::Usage,
            ),
            (
                restore::Error::NoBackups { repository: "/srv/repo".into(), searched: "x".into() }
                    .into(),
                ExitCode::BadInput,
            ),
            (db::Error::Exists("acme".into()).into(), ExitCode::Exists),
            (
                db::Error::FilestoreExists { database: "acme".into(), path: path() }.into(),
                ExitCode::Exists,
            ),
            (db::Error::Production("acme".into()).into(), ExitCode::Usage),
            (db::Error::NoBackupDir("acme".into()).into(), ExitCode::Usage),
            (
                db::Error::InUse { doing: "copy", database: "acme".into(), sessions: vec![] }
                    .into(),
                ExitCode::Failure,
            ),
            (neutralize::Error::NotOdoo("acme".into()).into(), ExitCode::BadInput),
            (verify::Error::CoreRows("res_users".into()).into(), ExitCode::Failure),
            (
                clean::Error::Io { what: "removing", path: path(), source: io_error() }.into(),
                ExitCode::Io,
            ),
            (mirror::job::Error::NoKeepRule.into(), ExitCode::Usage),
            (mirror::run::Error::Interrupted.into(), ExitCode::Failure),
            (mirror::restore::Error::NotADirectory { path: path() }.into(), ExitCode::Io),
            (
                repo::Error::Locked { holder: "oe mirror run".into(), path: path() }.into(),
                ExitCode::Locked,
            ),
            (repo::Error::NotARepository { path: path() }.into(), ExitCode::Usage),
            (
                repo::Error::LockedRemote { holder: "h pid 1".into(), url: "ssh://h/c".into() }
                    .into(),
                ExitCode::Locked,
            ),
            (remote_io(Code::Quota).into(), ExitCode::Refused),
            (remote_io(Code::Refused).into(), ExitCode::Refused),
            (remote_io(Code::NoSpace).into(), ExitCode::Io),
            (remote::client::Error::NoSsh.into(), ExitCode::MissingTool),
            (
                remote::client::Error::Unreachable { url: "u".into(), detail: "d".into() }.into(),
                ExitCode::Unreachable,
            ),
            (
                daemon::Error::UnknownJob { name: "x".into(), known: "nightly".into() }.into(),
                ExitCode::Usage,
            ),
            (
                daemon::state::Error::Invalid { path: path(), message: "bad".into() }.into(),
                ExitCode::BadInput,
            ),
            (super::super::output::WriteError(io_error()).into(), ExitCode::Io),
            (
                server::admin::Error::NoKey {
                    client: "acme".into(),
                    fingerprint: None,
                    path: path(),
                }
                .into(),
                ExitCode::Usage,
            ),
            (
                server::admin::Error::Late {
                    late: vec!["acme".into()],
                    max_age: "26h".into(),
                    names: "acme (no snapshot)".into(),
                }
                .into(),
                ExitCode::Failure,
            ),
            (
                server::authorized_keys::Error::Unrestricted {
                    fingerprint: "SHA256:x".into(),
                    line: 1,
                    path: path(),
                }
                .into(),
                ExitCode::Usage,
            ),
        ];
        for (failure, code) in cases {
            assert_eq!(failure.code, code, "{}", failure.message);
        }
    }

    /// A worker's panic, however a job wraps it, exits 1 and says so once; an error wrapping
    /// another says its own part, and the cause follows once.
    #[test]
    fn messages_say_each_cause_once() {
        let input = "acme.sql.bz2".to_owned();
        let format = DumpFormat::from_name(&path()).unwrap();
        let failures: [Failure; 3] = [
            save_db::Error::Write { path: path(), source: panicked() }.into(),
            save::Error::Write { path: path(), source: panicked() }.into(),
            load_db::Error::Corrupt { input, format, source: panicked() }.into(),
        ];
        for failure in failures {
            assert_eq!(failure.code, ExitCode::Failure, "{}", failure.message);
            let cause = "worker thread compress-1 panicked: index out of bounds";
            assert_eq!(failure.message.matches(cause).count(), 1, "{}", failure.message);
            assert!(!failure.message.contains("corrupt"), "{}", failure.message);
        }
        let failure = Failure::from(config::Error::Write { path: path(), source: io_error() });
        assert_eq!(failure.message, format!("cannot write config acme.dump.gz: {}", io_error()),);
    }
}
