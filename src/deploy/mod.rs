//! What a dockerized Odoo installation is deployed from, apart from Docker itself: the
//! client's git repositories under `sources/` ([`repos`]: clone, pull, the addons path they
//! make).

pub mod repos;
