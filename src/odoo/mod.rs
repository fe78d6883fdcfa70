//! Odoo's formats and knowledge: the backup archive's layout and manifest, the filestore,
//! neutralization of staging copies. Pure or file-level code; the database is reached only
//! through `pg`.

pub mod filestore;
pub mod layout;
pub mod manifest;
