//! SQL Odoo runs on a database as a whole: preparing a new one before restoring into it, and
//! making a restored or duplicated one a copy. Data only; the jobs run it through `pg`.

/// SQL that Odoo's database manager runs on a duplicated database (`exp_duplicate_database`:
/// `ir.config_parameter`'s `init(force=True)`): new secret, UUID and creation date, the
/// default base URL and login cooldowns.
pub const DUPLICATE_SQL: &str = include_str!("duplicate.sql");

/// SQL that makes a restored database a copy: [`DUPLICATE_SQL`], and no enterprise
/// subscription code.
pub const COPY_SQL: &str = concat!(include_str!("duplicate.sql"), include_str!("copy.sql"));

/// What Odoo runs in a database it has just created, before restoring into it.
pub const PREPARE_SQL: &str = "CREATE EXTENSION IF NOT EXISTS pg_trgm;\n\
                                GRANT CREATE ON SCHEMA public TO PUBLIC;\n";
