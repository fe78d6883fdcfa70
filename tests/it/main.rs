//! Integration tests of the `oe` binary against a real PostgreSQL cluster started from the
//! installed server binaries (see `cluster`), one module per subcommand.

mod archive;
mod clean;
mod cluster;
mod config;
mod cutoff;
mod daemon;
mod db;
mod deploy;
mod harness;
mod image_addons;
mod load_db;
mod locale;
mod mail;
mod mirror;
mod mirror_filter;
mod neutralize;
mod odoo_test;
mod remote;
mod restore_from;
mod s3;
mod s3d;
mod save_db;
mod server;
mod sshd;
mod stage;
mod support;
mod testenv;
mod tls;
mod update;
