//! SQL Odoo runs on a database as a whole: preparing a new one before restoring into it, and
//! making a restored one a copy. Data only; `jobs::load_db` runs it through `pg`.

/// SQL that makes a restored database a copy: new secret, UUID and creation date, the
/// default base URL and login cooldowns, and no enterprise subscription code.
pub const COPY_SQL: &str = include_str!("copy.sql");

/// What Odoo runs in a database it has just created, before restoring into it.
pub const PREPARE_SQL: &str = "CREATE EXTENSION IF NOT EXISTS pg_trgm;\n\
                                GRANT CREATE ON SCHEMA public TO PUBLIC;\n";
