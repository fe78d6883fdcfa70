//! Odoo's formats and knowledge: the backup archive's layout and manifest, the filestore,
//! neutralization of staging copies, the checksum of an addon's files as click-odoo-update
//! computes and stores it (`addon_hash`), the SQL it runs on new and copied databases, and the
//! client manifest of a dockerized installation (a `__manifest__.py`, read as a Python
//! literal, never run), the `odoo.conf` it gets and the server log it prints (`log`). Pure or
//! file-level code; the database is reached only through `pg`.

pub mod addon_hash;
pub mod client_manifest;
pub mod database;
pub mod filestore;
pub mod layout;
pub mod log;
pub mod manifest;
pub mod neutralization;
pub mod odoo_conf;
pub mod py_literal;
