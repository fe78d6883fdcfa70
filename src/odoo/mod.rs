//! Odoo's formats and knowledge: the backup archive's layout and manifest, the filestore,
//! neutralization of staging copies. Pure or file-level code; the database is reached only
//! through `pg`.

/// SQL that makes a restored database a copy: new secret, UUID and creation date, the
/// default base URL and login cooldowns, and no enterprise subscription code.
pub const COPY_SQL: &str = include_str!("copy.sql");

pub mod filestore;
pub mod layout;
pub mod manifest;
pub mod neutralize;
pub mod zip_stream;
pub mod zip_writer;
