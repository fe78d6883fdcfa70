//! Dockerized installations: the Docker engine (`engine`, the only module that talks to it),
//! the client's git repositories (`repos`: clone, fast-forward pull, the addons path, through
//! the system's `git`), the layout and names of an installation (`layout`), its containers'
//! descriptions (`spec`), the image lock (`lock`), the addons inside an image and their
//! checksums (`image_addons`), nginx's site (`nginx`) and waiting for a container to serve
//! (`health`), and the mail-port cutoff of staging installations (`cutoff`).

pub mod cutoff;
pub mod engine;
pub mod health;
pub mod image_addons;
pub mod layout;
pub mod lock;
pub mod nginx;
pub mod repos;
pub mod spec;
