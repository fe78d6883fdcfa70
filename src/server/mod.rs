//! The backup server's side: its root directory and clients ([`layout`]).

pub mod layout;
