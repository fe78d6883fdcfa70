//! PostgreSQL: the only module that talks to a server or runs its client tools.
//!
//! - `conn`: connection parameters, resolved from the service's settings, the standard PG*
//!   environment variables and libpq's defaults; the password file.
//! - `server`: the control plane over tokio-postgres: version, existence, size, sessions,
//!   create (empty or from a template), rename, drop, terminate backends, and the atomic
//!   replacement of one database by another.
//! - `tls`: TLS of the control connection with libpq's `sslmode` semantics (the tools get
//!   `PGSSLMODE`/`PGSSLROOTCERT` and do their own).
//! - `catalog`: one database's tables, columns and Odoo modules, and SQL batches run in one
//!   transaction with the rows each changed.
//! - `odoo`: queries of an Odoo database's own tables (manifest facts, attachments).
//! - `lock`: one run per database, across processes and hosts (an advisory lock).
//! - `tools`: pg_dump, psql and pg_restore of the server's major version, as streams.
//!
//! Passwords reach child tools through `PGPASSWORD`/`PGPASSFILE`, never their arguments;
//! database names are passed as quoted conninfo values, never interpolated into SQL.
//!
//! Decisions on a server's error are taken on its SQLSTATE (kept in [`Error`]), never on its
//! text, which is in the server's `lc_messages`; the tools run with `LC_MESSAGES=C`, so what
//! is read of their own messages is English whatever the user's locale.

pub mod catalog;
pub mod conn;
mod error;
pub mod lock;
pub mod odoo;
pub mod server;
mod tls;
pub mod tools;

pub use conn::ConnParams;
pub(crate) use error::reason;
pub use error::{Error, SqlState};
pub use lock::{Claims, DatabaseLock, lock_database};
pub use server::Server;
pub use tools::Tools;
