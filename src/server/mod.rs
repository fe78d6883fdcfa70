//! The backup server's side: its root directory and clients ([`layout`]), the SSH keys that
//! reach them ([`keys`], [`authorized_keys`]) and the administration of `oe server …`
//! ([`admin`]).

pub mod admin;
pub mod authorized_keys;
pub mod keys;
pub mod layout;
