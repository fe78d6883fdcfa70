//! One run per database at a time: a PostgreSQL advisory lock on the server, held by a
//! connection of its own for as long as the job works on the database.
//!
//! Every `oe` that backs up, saves, loads or restores a database takes it, the CLI and the
//! daemon alike, so they never overlap on the same database, even from different hosts. The
//! server releases it when the holder's connection ends, however that process died, so a
//! lock is never stale. The holder names itself in `application_name`, which is how a
//! waiting run can say who it waits for.
//!
//! The helper databases a run makes (`server::derived_name`) are locked the same way under
//! their own names, by [`Claims`]: a free lock on such a name means the run that made it is
//! gone, which is how `oe clean` tells a leftover from work in progress, on any host.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::server::{connect_maintenance, query};
use super::{ConnParams, Error};

/// The first key of oe's advisory locks ("oe" in ASCII); the second is the database's.
const CLASS: i32 = 0x6f65;

/// How often a waiting run asks again.
const POLL: Duration = Duration::from_millis(500);

/// Holds the lock of a database until dropped.
pub struct DatabaseLock {
    _client: Client,
}

/// Takes the lock of `database`, waiting up to `wait` for another run to release it.
/// `holder` says who takes it (`oe backup`), for the message of whoever waits next.
pub async fn lock_database(
    params: &ConnParams,
    database: &str,
    wait: Duration,
    holder: &str,
) -> Result<DatabaseLock, Error> {
    let name = format!("{holder} {database} (pid {})", std::process::id());
    let client = connect_maintenance(params, &name).await?;
    let key = key(database);
    let deadline = Instant::now() + wait;
    let what = format!("locking database '{database}'");
    loop {
        let taken: bool = client
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&CLASS, &key])
            .await
            .map_err(|e| query(&what, &e))?
            .get(0);
        if taken {
            return Ok(DatabaseLock { _client: client });
        }
        if Instant::now() >= deadline {
            let holder = client
                .query_opt(
                    "SELECT a.application_name FROM pg_locks l \
                     JOIN pg_stat_activity a ON a.pid = l.pid \
                     WHERE l.locktype = 'advisory' AND l.granted \
                     AND l.classid = $1::int::oid AND l.objid = $2::int::oid LIMIT 1",
                    &[&CLASS, &key],
                )
                .await
                .ok()
                .flatten()
                .map(|row| row.get::<_, String>(0))
                .unwrap_or_else(|| "another run".into());
            return Err(Error::Busy { database: database.to_owned(), holder });
        }
        tokio::time::sleep(POLL.min(deadline - Instant::now())).await;
    }
}

/// Advisory locks of several names, all on one connection of their own, held until dropped
/// (or until the process dies).
pub struct Claims {
    client: Client,
}

impl Claims {
    /// A connection for claims; `holder` names the run in `pg_stat_activity`.
    pub async fn open(params: &ConnParams, holder: &str) -> Result<Claims, Error> {
        let name = format!("{holder} (pid {})", std::process::id());
        Ok(Claims { client: connect_maintenance(params, &name).await? })
    }

    /// Takes the lock of `name` if it is free (or already ours); false when another run
    /// holds it. Never waits.
    pub async fn claim(&self, name: &str) -> Result<bool, Error> {
        let taken: bool = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&CLASS, &key(name)])
            .await
            .map_err(|e| query(&format!("locking '{name}'"), &e))?
            .get(0);
        Ok(taken)
    }
}

/// The database's half of the lock key: the first 4 bytes of the BLAKE3 of its name.
fn key(database: &str) -> i32 {
    let hash = blake3::hash(database.as_bytes());
    let bytes = hash.as_bytes();
    i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}
