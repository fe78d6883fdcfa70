//! An installation as it lies on disk and in Docker: its directories under
//! `deploy.base_dir/<client>`, the names of its containers, network and bridge, and the labels
//! that find them again. Pure: names and paths only, no I/O.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::Environment;

/// The official odoo image's `odoo` user (created by Odoo's Debian package): what must write
/// `data_dir` and `log`, and read `config/odoo.conf`.
pub const ODOO_UID: u32 = 101;

/// Labels every container and the network of an installation carry.
pub const LABEL_CLIENT: &str = "oe.client";
pub const LABEL_ROLE: &str = "oe.role";
pub const LABEL_ENVIRONMENT: &str = "oe.environment";
/// The hash of the specification a container was created from: `start` recreates a container
/// whose specification changed and leaves the others alone.
pub const LABEL_SPEC: &str = "oe.spec";

/// What a container of an installation is for, in start order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Postgres,
    Aeroo,
    Odoo,
    Nginx,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Postgres, Role::Aeroo, Role::Odoo, Role::Nginx];

    /// The role's name in the client manifest's `docker-images` and in labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Postgres => "postgres",
            Role::Aeroo => "aeroo",
            Role::Odoo => "odoo",
            Role::Nginx => "nginx",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// The environment Odoo needs: what `--env-only` starts and stops.
    pub fn is_environment(self) -> bool {
        matches!(self, Role::Postgres | Role::Aeroo)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One client's installation on this host.
#[derive(Debug, Clone)]
pub struct Layout {
    pub client: String,
    pub environment: Environment,
    /// `deploy.base_dir/<client>`.
    pub root: PathBuf,
}

/// The Linux bridge of `client`'s network (see [`Layout::bridge`]).
pub fn bridge(client: &str) -> String {
    let name = format!("oe-{client}");
    if name.len() <= 15 {
        return name;
    }
    let hash = blake3::hash(client.as_bytes()).to_hex();
    format!("oe-{}", &hash[..12])
}

impl Layout {
    /// `client` must already be valid (`config::settings::validate_client_name`).
    pub fn new(root: PathBuf, client: &str, environment: Environment) -> Layout {
        Layout { client: client.to_owned(), environment, root }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.root.join("config")
    }
    pub fn odoo_conf(&self) -> PathBuf {
        self.root.join("config/odoo.conf")
    }
    pub fn nginx_conf(&self) -> PathBuf {
        self.root.join("config/nginx.conf")
    }
    /// The managed PostgreSQL's connection settings (0600), the installation's service.
    pub fn postgres_file(&self) -> PathBuf {
        self.root.join(crate::config::settings::INSTALLATION_POSTGRES)
    }
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data_dir")
    }
    pub fn backup_dir(&self) -> PathBuf {
        self.root.join("backup_dir")
    }
    pub fn log_dir(&self) -> PathBuf {
        self.root.join("log")
    }
    pub fn postgresql_dir(&self) -> PathBuf {
        self.root.join("postgresql")
    }
    pub fn sources_dir(&self) -> PathBuf {
        self.root.join("sources")
    }
    /// The image digests `oe pull` recorded and `oe start` runs.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("oe.lock")
    }

    /// `oe-<client>-<role>`.
    pub fn container(&self, role: Role) -> String {
        format!("oe-{}-{role}", self.client)
    }

    /// The installation's own network, `oe-<client>`.
    pub fn network(&self) -> String {
        format!("oe-{}", self.client)
    }

    /// The Linux bridge of the network, which firewall rules name: `oe-<client>` when that
    /// fits the kernel's 15 bytes, else `oe-` and 12 hex digits of the client's hash.
    pub fn bridge(&self) -> String {
        bridge(&self.client)
    }

    /// Where the container sees a path of the installation; `None` outside the mounted ones.
    pub fn in_container(&self, host: &Path) -> Option<PathBuf> {
        let relative = host.strip_prefix(self.sources_dir()).ok()?;
        Some(Path::new(MOUNT_SOURCES).join(relative))
    }
}

/// Where the odoo container sees `sources/` (the official image's volume for extra addons).
pub const MOUNT_SOURCES: &str = "/mnt/extra-addons";
/// Where it sees `data_dir/` (the official image's data directory).
pub const MOUNT_DATA: &str = "/var/lib/odoo";
/// Where it sees `config/` (the official image reads `/etc/odoo/odoo.conf`).
pub const MOUNT_CONFIG: &str = "/etc/odoo";
/// Where it sees `log/`.
pub const MOUNT_LOG: &str = "/var/log/odoo";

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(client: &str) -> Layout {
        Layout::new(PathBuf::from("/srv/oe").join(client), client, Environment::Production)
    }

    #[test]
    fn names_are_predictable() {
        let l = layout("acme");
        assert_eq!(l.container(Role::Odoo), "oe-acme-odoo");
        assert_eq!(l.network(), "oe-acme");
        assert_eq!(l.bridge(), "oe-acme");
        assert_eq!(l.lock_file(), Path::new("/srv/oe/acme/oe.lock"));
    }

    #[test]
    fn a_long_client_gets_a_bridge_name_the_kernel_accepts() {
        let l = layout("a-very-long-client-name");
        let bridge = l.bridge();
        assert_eq!(bridge.len(), 15);
        assert_ne!(bridge, layout("a-very-long-client-other").bridge());
    }

    #[test]
    fn sources_map_to_the_extra_addons_volume() {
        let l = layout("acme");
        let inside = l.in_container(&l.sources_dir().join("app/addons"));
        assert_eq!(inside, Some(PathBuf::from("/mnt/extra-addons/app/addons")));
        assert_eq!(l.in_container(Path::new("/etc")), None);
    }

    #[test]
    fn roles_parse_back() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("redis"), None);
    }
}
