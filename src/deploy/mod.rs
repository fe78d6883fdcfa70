//! What a dockerized Odoo installation is deployed from, apart from Docker itself: the
//! client's git repositories under `sources/` ([`repos`]: clone, pull, the addons path they
//! make) and the nginx configuration in front of Odoo ([`nginx`]: pure rendering).

pub mod nginx;
pub mod repos;
