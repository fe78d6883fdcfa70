//! The control plane: one tokio-postgres connection to the server's maintenance database,
//! over TLS when the sslmode asks for it (the policy and the connector come from `tls`).

use std::time::Duration;

use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, NoTls, Socket};

use super::tls::{self, Policy};
use super::{ConnParams, Error, SqlState, reason};

/// A connection to a server, for work on whole databases.
pub struct Server {
    client: Client,
    version_num: u32,
}

impl Server {
    /// Connects to the `postgres` database (or `template1` where there is none).
    pub async fn connect(params: &ConnParams) -> Result<Server, Error> {
        let client = connect_maintenance(params, "oe").await?;
        let row = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map_err(|e| query("reading the server version", &e))?;
        let version_num: i32 = row.get(0);
        Ok(Server { client, version_num: version_num as u32 })
    }

    /// The server's major version (15 for 15.4, 9 for 9.6).
    pub fn major(&self) -> u32 {
        if self.version_num >= 100_000 { self.version_num / 10_000 } else { self.version_num / 100 }
    }

    pub async fn exists(&self, db: &str) -> Result<bool, Error> {
        let row = self
            .client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
            .await
            .map_err(|e| query("looking up the database", &e))?;
        Ok(row.is_some())
    }

    /// The databases a user works with: every one but templates, `postgres` and the
    /// temporary ones of oe's loads (`<name>-oe-<tag>-<hex>`), by name.
    pub async fn databases(&self) -> Result<Vec<String>, Error> {
        let rows = self
            .client
            .query(
                "SELECT datname FROM pg_database \
                 WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY datname",
                &[],
            )
            .await
            .map_err(|e| query("listing the databases", &e))?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).filter(|name| !is_derived(name)).collect())
    }

    /// The helper databases of oe's runs ([`derived_name`]), finished or left by a killed run.
    pub async fn helper_databases(&self) -> Result<Vec<String>, Error> {
        let rows = self
            .client
            .query("SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname", &[])
            .await
            .map_err(|e| query("listing the databases", &e))?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).filter(|name| is_derived(name)).collect())
    }

    /// Creates an empty database the way Odoo does.
    pub async fn create(&self, db: &str) -> Result<(), Error> {
        let sql = format!(
            "CREATE DATABASE {} ENCODING 'unicode' TEMPLATE template0 LC_COLLATE 'C'",
            ident(db)
        );
        self.execute(&sql, &format!("creating database '{db}'")).await
    }

    /// Drops a database, disconnecting its sessions first.
    pub async fn drop(&self, db: &str) -> Result<(), Error> {
        let sql = if self.version_num >= 130_000 {
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(db))
        } else {
            self.terminate(db).await?;
            format!("DROP DATABASE IF EXISTS {}", ident(db))
        };
        self.execute(&sql, &format!("dropping database '{db}'")).await
    }

    /// Ends every other session connected to `db`.
    pub async fn terminate(&self, db: &str) -> Result<(), Error> {
        self.client
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&db],
            )
            .await
            .map_err(|e| query(&format!("disconnecting sessions of '{db}'"), &e))?;
        Ok(())
    }

    /// Creates `db` as a copy of `template` (`CREATE DATABASE … TEMPLATE`), which no other
    /// session may be connected to: the server refuses with SQLSTATE 55006 otherwise.
    pub async fn create_from(&self, db: &str, template: &str) -> Result<(), Error> {
        let sql = format!("CREATE DATABASE {} TEMPLATE {}", ident(db), ident(template));
        self.execute(&sql, &format!("copying database '{template}' to '{db}'")).await
    }

    /// Drops `db`, which no other session may be connected to: its sessions are never ended
    /// (the server refuses with SQLSTATE 55006 while there are some).
    pub async fn drop_idle(&self, db: &str) -> Result<(), Error> {
        let sql = format!("DROP DATABASE {}", ident(db));
        self.execute_when_free(db, &sql, &format!("dropping database '{db}'")).await
    }

    /// The other sessions connected to `db`: `application_name (pid N)`, or `pid N`.
    pub async fn sessions(&self, db: &str) -> Result<Vec<String>, Error> {
        let rows = self
            .client
            .query(
                "SELECT pid, coalesce(application_name, '') FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid",
                &[&db],
            )
            .await
            .map_err(|e| query(&format!("listing the sessions of '{db}'"), &e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let (pid, name): (i32, String) = (r.get(0), r.get(1));
                if name.is_empty() { format!("pid {pid}") } else { format!("{name} (pid {pid})") }
            })
            .collect())
    }

    /// Waits up to `within` for the other sessions of `db` to end (those of a service just
    /// stopped end a moment after it does); sessions that stay are left to the caller's next
    /// step to refuse and name.
    pub async fn let_sessions_end(&self, db: &str, within: Duration) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + within;
        while !self.sessions(db).await?.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// The size of `db` on disk (`pg_database_size`); the server refuses it without the
    /// CONNECT privilege on `db` (or `pg_read_all_stats`).
    pub async fn size(&self, db: &str) -> Result<u64, Error> {
        let row = self
            .client
            .query_one("SELECT pg_database_size($1)", &[&db])
            .await
            .map_err(|e| query(&format!("reading the size of '{db}'"), &e))?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    pub async fn rename(&self, from: &str, to: &str) -> Result<(), Error> {
        let sql = format!("ALTER DATABASE {} RENAME TO {}", ident(from), ident(to));
        self.execute_when_free(from, &sql, &format!("renaming database '{from}' to '{to}'")).await
    }

    async fn allow_connections(&self, db: &str, allow: bool) -> Result<(), Error> {
        let sql = format!("ALTER DATABASE {} ALLOW_CONNECTIONS {allow}", ident(db));
        self.execute(&sql, &format!("setting ALLOW_CONNECTIONS on '{db}'")).await
    }

    /// Puts `replacement` in place of `target`, which may exist: its sessions are ended, it
    /// is renamed to `old`, and `replacement` takes its name; if that fails, `target` gets
    /// its name back. Returns whether `old` holds the replaced database, for the caller to
    /// drop.
    pub async fn replace(&self, replacement: &str, target: &str, old: &str) -> Result<bool, Error> {
        if !self.exists(target).await? {
            return self.rename(replacement, target).await.map(|()| false);
        }
        // Keeps new sessions out while we work; owners and superusers only, so best effort.
        let locked = self.allow_connections(target, false).await.is_ok();
        let mut attempt = 0;
        loop {
            self.terminate(target).await?;
            match self.rename(target, old).await {
                Ok(()) => break,
                // 55006 with sessions left: one came back between the end and the rename (a
                // client without ALLOW_CONNECTIONS honoured: a superuser's), ended again. A
                // session that was only ending is what `rename` itself waits for.
                Err(e) if attempt < 3 && e.code() == Some(&SqlState::OBJECT_IN_USE) => {
                    attempt += 1;
                    tracing::debug!("'{target}' is still in use, ending its sessions again: {e}");
                }
                Err(e) => {
                    if locked {
                        let _ = self.allow_connections(target, true).await;
                    }
                    return Err(e);
                }
            }
        }
        if let Err(e) = self.rename(replacement, target).await {
            let _ = self.rename(old, target).await;
            if locked {
                let _ = self.allow_connections(target, true).await;
            }
            return Err(e);
        }
        Ok(true)
    }

    /// Runs `sql`, which needs `db` free of sessions. The server waits up to 5 s for the
    /// sessions to end, then refuses (55006); when no session is left to list by then, the
    /// ones it saw were ending (a connection just closed, by us or a stopped Odoo, on a
    /// loaded machine), so `sql` is tried again for a few seconds more. A session that stays
    /// is never ended: the refusal is returned.
    async fn execute_when_free(&self, db: &str, sql: &str, what: &str) -> Result<(), Error> {
        let mut attempt = 0;
        loop {
            match self.execute(sql, what).await {
                Err(e)
                    if attempt < 5
                        && e.code() == Some(&SqlState::OBJECT_IN_USE)
                        && self.sessions(db).await.is_ok_and(|s| s.is_empty()) =>
                {
                    attempt += 1;
                    tracing::debug!("'{db}' was in use by sessions now gone, trying again: {e}");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn execute(&self, sql: &str, what: &str) -> Result<(), Error> {
        tracing::debug!("{sql}");
        self.client.batch_execute(sql).await.map_err(|e| query(what, &e))
    }
}

/// A connection to the `postgres` database, or `template1` where there is none.
pub(crate) async fn connect_maintenance(
    params: &ConnParams,
    application_name: &str,
) -> Result<Client, Error> {
    match connect_as(params, "postgres", application_name).await {
        Err(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {
            connect_as(params, "template1", application_name).await
        }
        other => other,
    }
}

pub(crate) async fn connect_to(params: &ConnParams, dbname: &str) -> Result<Client, Error> {
    connect_as(params, dbname, "oe").await
}

/// A connection that shows as `application_name` in `pg_stat_activity`, over TLS as the
/// sslmode says (see `tls`).
pub(crate) async fn connect_as(
    params: &ConnParams,
    dbname: &str,
    application_name: &str,
) -> Result<Client, Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&params.host)
        .port(params.port)
        .user(&params.user)
        .dbname(dbname)
        .application_name(application_name)
        .connect_timeout(Duration::from_secs(10));
    if let Some(password) = params.password(dbname) {
        config.password(password);
    }
    let refused = |e: tokio_postgres::Error| Error::Connect {
        target: params.target(),
        reason: reason(&e),
        code: e.code().cloned().map(Box::new),
    };
    let Policy::Tls { mode, fallback, check } = Policy::from_env(params)? else {
        config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        return open(&config, NoTls).await.map_err(refused);
    };
    let (negotiate, connector) = tls::connector(params, mode, fallback, &check)?;
    config.ssl_mode(negotiate);
    match open(&config, connector).await {
        Ok(client) => Ok(client),
        // libpq's prefer goes on without TLS when the handshake fails.
        Err(e) if fallback && tls::is_handshake_failure(&e) => {
            tracing::debug!("TLS with {} failed, trying without: {}", params.target(), reason(&e));
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            open(&config, NoTls).await.map_err(refused)
        }
        Err(e) => Err(match tls::failure(&e, &params.host, &check) {
            Some(reason) => Error::Tls { target: params.target(), mode: mode.as_str(), reason },
            None => refused(e),
        }),
    }
}

/// Connects with `tls` and drives the connection on its own task.
async fn open<T>(config: &tokio_postgres::Config, tls: T) -> Result<Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("control connection closed: {e}");
        }
    });
    Ok(client)
}

pub(crate) fn query(what: &str, e: &tokio_postgres::Error) -> Error {
    Error::Query { what: what.to_owned(), reason: reason(e), code: e.code().cloned().map(Box::new) }
}

/// A quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whether `name` is one of [`derived_name`]'s.
pub fn is_derived(name: &str) -> bool {
    Derived::parse(name).is_some()
}

/// A helper database's name taken apart: `<base>-oe-<tag>-<run>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived<'a> {
    /// What is left of the name it was derived from (all of it when `name` is shorter than
    /// 63 bytes, a prefix otherwise).
    pub base: &'a str,
    pub tag: &'a str,
    /// The run that made it ([`run_id`]).
    pub run: u32,
}

impl<'a> Derived<'a> {
    pub fn parse(name: &'a str) -> Option<Derived<'a>> {
        let (rest, suffix) = name.rsplit_once('-')?;
        let (rest, tag) = rest.rsplit_once('-')?;
        let base = rest.strip_suffix("-oe")?;
        if suffix.len() != 8 || !suffix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let run = u32::from_str_radix(suffix, 16).ok()?;
        Some(Derived { base, tag, run })
    }

    /// Whether `base` may have been cut to fit: the name is as long as a name can be, less
    /// the bytes of a character cut at its boundary.
    pub fn maybe_cut(&self) -> bool {
        self.base.len() + self.tag.len() + "-oe--12345678".len() + 3 >= MAX_NAME
    }
}

/// PostgreSQL's longest name in bytes.
const MAX_NAME: usize = 63;

/// A name for a helper database derived from `base` (`<base>-oe-<tag>-<run>`), at most 63
/// bytes, cut at a character boundary. `<run>` is this process's [`run_id`], so the names
/// one run makes (its temporary and its replaced database) say they belong together, and
/// `oe clean` can tell what a killed run left half done. One process makes each name once
/// at a time: the runs that make them hold the advisory lock of the name (`pg::lock`).
pub fn derived_name(base: &str, tag: &str) -> String {
    derived_name_of(base, tag, run_id())
}

/// [`derived_name`] for the run `run`.
pub fn derived_name_of(base: &str, tag: &str, run: u32) -> String {
    let suffix = format!("-oe-{tag}-{run:08x}");
    let mut keep = MAX_NAME.saturating_sub(suffix.len()).min(base.len());
    while !base.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{suffix}", &base[..keep])
}

/// This process's run id: random, fixed for the life of the process.
pub fn run_id() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    static RUN: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *RUN.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish() as u32
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("a\"b c"), "\"a\"\"b c\"");
    }

    #[test]
    fn derived_names_fit_and_differ() {
        let long = "é".repeat(40);
        let name = derived_name(&long, "tmp");
        assert!(name.len() <= 63, "{name}");
        assert!(name.contains("-oe-tmp-"));
        assert_ne!(derived_name_of("acme", "tmp", 1), derived_name_of("acme", "tmp", 2));
        assert!(derived_name("acme", "old").starts_with("acme-oe-old-"));
        let tmp = derived_name("acme", "tmp");
        let parsed = Derived::parse(&tmp).unwrap();
        assert_eq!((parsed.base, parsed.tag, parsed.run), ("acme", "tmp", run_id()));
        assert!(!parsed.maybe_cut());
        assert_eq!(derived_name_of("acme", "old", parsed.run), derived_name("acme", "old"));
        let cut = Derived::parse(&name).unwrap();
        assert!(cut.maybe_cut() && long.starts_with(cut.base));
        assert!(is_derived(&derived_name("acme", "tmp")));
        assert!(is_derived(&name));
        for user_name in
            ["acme", "acme-oe", "acme-oe-tmp", "acme-oe-tmp-xyz12345", "a-b-c-12345678"]
        {
            assert!(!is_derived(user_name), "{user_name}");
        }
    }
}
