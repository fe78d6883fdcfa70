//! Odoo's formats and knowledge: the backup archive's layout and manifest, the filestore,
//! neutralization of staging copies. Pure or file-level code; the database is reached only
//! through `pg`.

/// SQL that makes a restored database a copy: new secret, UUID and creation date, the
/// default base URL and login cooldowns, and no enterprise subscription code.
pub const COPY_SQL: &str = include_str!("copy.sql");

/// What Odoo runs in a database it has just created, before restoring into it.
pub const PREPARE_SQL: &str = "CREATE EXTENSION IF NOT EXISTS pg_trgm;\n\
                                GRANT CREATE ON SCHEMA public TO PUBLIC;\n";

pub mod filestore;
pub mod layout;
pub mod manifest;
pub mod neutralization;
