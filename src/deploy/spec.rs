//! What each container of an installation is: image by digest, environment, mounts, ports,
//! restart policy, network and labels, by the official images' conventions. Pure: the
//! engine creates what this describes. The description's hash becomes a label, so `start`
//! recreates exactly the containers whose description changed.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, NetworkingConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};

use super::layout::{
    LABEL_CLIENT, LABEL_ENVIRONMENT, LABEL_ROLE, LABEL_SPEC, Layout, MOUNT_CONFIG, MOUNT_DATA,
    MOUNT_LOG, MOUNT_SOURCES, Role,
};
use crate::config::Environment;

/// Where the postgres container keeps its cluster: the mounted `postgresql/` itself, the
/// official image's default, which its entrypoint gives to the postgres user.
pub const PGDATA: &str = "/var/lib/postgresql/data";

/// Odoo's health as Docker checks it, inside the container with the image's Python: the
/// server answers `/web/health` (a 404 too: Odoo before 16 has no such route, but answered).
const ODOO_HEALTH: &str = "import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen('http://127.0.0.1:8069/web/health', timeout=10)
except urllib.error.HTTPError as e:
    sys.exit(e.code != 404)
";

/// A check every 30 s, unhealthy after 3 failures, from 60 s after the start.
fn health(test: Vec<String>) -> HealthConfig {
    const SECOND: i64 = 1_000_000_000;
    HealthConfig {
        test: Some(test),
        interval: Some(30 * SECOND),
        timeout: Some(15 * SECOND),
        retries: Some(3),
        start_period: Some(60 * SECOND),
        start_interval: None,
    }
}

/// Everything the containers of one installation are made from.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub layout: &'a Layout,
    /// The image of each role, by digest.
    pub images: &'a HashMap<Role, String>,
    /// Whether nginx fronts Odoo.
    pub nginx: bool,
    /// The host port nginx publishes.
    pub http_port: u16,
    /// The host port Odoo publishes when nginx does not front it (the manifest's `port`).
    pub odoo_port: u16,
    /// The host port of PostgreSQL (on loopback outside development).
    pub db_port: u16,
    pub db_user: &'a str,
    pub db_password: &'a str,
}

impl Inputs<'_> {
    /// The roles this installation runs, in start order.
    pub fn roles(&self) -> Vec<Role> {
        Role::ALL
            .into_iter()
            .filter(|r| self.images.contains_key(r) && (*r != Role::Nginx || self.nginx))
            .collect()
    }

    /// The container of `role`, its spec label included.
    pub fn container(&self, role: Role) -> ContainerCreateBody {
        let layout = self.layout;
        let development = layout.environment == Environment::Development;
        let bind = |host: std::path::PathBuf, inside: &str, read_only: bool| {
            format!("{}:{inside}{}", host.display(), if read_only { ":ro" } else { "" })
        };
        let mut env = Vec::new();
        let mut binds = Vec::new();
        let mut ports: Vec<(&str, &str, u16)> = Vec::new();
        let mut cmd = None;
        let mut healthcheck = None;
        let mut aliases = vec![role.as_str().to_owned()];
        match role {
            Role::Postgres => {
                env.push(format!("POSTGRES_USER={}", self.db_user));
                env.push(format!("POSTGRES_PASSWORD={}", self.db_password));
                env.push(format!("PGDATA={PGDATA}"));
                binds.push(bind(layout.postgresql_dir(), PGDATA, false));
                let host_ip = if development { "0.0.0.0" } else { "127.0.0.1" };
                ports.push(("5432/tcp", host_ip, self.db_port));
                aliases.push("db".into());
                let test = ["CMD", "pg_isready", "-q", "-h", "127.0.0.1", "-U", self.db_user];
                healthcheck = Some(health(test.map(str::to_owned).to_vec()));
            }
            Role::Aeroo => {}
            Role::Odoo => {
                // The official entrypoint's variables, for whoever reads the container; the
                // password is not among them: the entrypoint would put it on odoo's command
                // line. Odoo reads it from odoo.conf ($ODOO_RC), run directly below.
                env.push(format!("HOST={}", layout.container(Role::Postgres)));
                env.push("PORT=5432".into());
                env.push(format!("USER={}", self.db_user));
                cmd = Some(vec!["/usr/bin/odoo".to_owned()]);
                let test = ["CMD", "python3", "-c", ODOO_HEALTH];
                healthcheck = Some(health(test.map(str::to_owned).to_vec()));
                binds.push(bind(layout.config_dir(), MOUNT_CONFIG, true));
                binds.push(bind(layout.data_dir(), MOUNT_DATA, false));
                binds.push(bind(layout.sources_dir(), MOUNT_SOURCES, !development));
                binds.push(bind(layout.log_dir(), MOUNT_LOG, false));
                if development || !self.nginx {
                    ports.push(("8069/tcp", "0.0.0.0", self.odoo_port));
                }
            }
            Role::Nginx => {
                binds.push(bind(layout.nginx_conf(), "/etc/nginx/conf.d/default.conf", true));
                ports.push(("80/tcp", "0.0.0.0", self.http_port));
            }
        }
        let port_bindings = ports
            .iter()
            .map(|(port, ip, host)| {
                let binding = PortBinding {
                    host_ip: Some((*ip).to_owned()),
                    host_port: Some(host.to_string()),
                };
                ((*port).to_owned(), Some(vec![binding]))
            })
            .collect();
        let restart = if development {
            RestartPolicyNameEnum::NO
        } else {
            RestartPolicyNameEnum::UNLESS_STOPPED
        };
        let labels = HashMap::from([
            (LABEL_CLIENT.to_owned(), layout.client.clone()),
            (LABEL_ROLE.to_owned(), role.as_str().to_owned()),
            (LABEL_ENVIRONMENT.to_owned(), layout.environment.to_string()),
        ]);
        let endpoint = EndpointSettings { aliases: Some(aliases), ..Default::default() };
        let mut body = ContainerCreateBody {
            image: self.images.get(&role).cloned(),
            env: Some(env),
            cmd,
            healthcheck,
            labels: Some(labels),
            exposed_ports: Some(ports.iter().map(|(port, ..)| (*port).to_owned()).collect()),
            host_config: Some(HostConfig {
                binds: Some(binds),
                port_bindings: Some(port_bindings),
                restart_policy: Some(RestartPolicy {
                    name: Some(restart),
                    maximum_retry_count: None,
                }),
                network_mode: Some(layout.network()),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(layout.network(), endpoint)])),
            }),
            ..Default::default()
        };
        let hash = spec_hash(&body);
        body.labels.get_or_insert_default().insert(LABEL_SPEC.to_owned(), hash);
        body
    }
}

/// A stable hash of a description (its JSON, maps sorted).
fn spec_hash(body: &ContainerCreateBody) -> String {
    let value = serde_json::to_value(body).unwrap_or_default();
    let text = sorted(&value).to_string();
    blake3::hash(text.as_bytes()).to_hex()[..16].to_owned()
}

fn sorted(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            serde_json::Value::Object(
                entries.into_iter().map(|(k, v)| (k.clone(), sorted(v))).collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(sorted).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn inputs<'a>(
        layout: &'a Layout,
        images: &'a HashMap<Role, String>,
        nginx: bool,
    ) -> Inputs<'a> {
        Inputs {
            layout,
            images,
            nginx,
            http_port: 8080,
            odoo_port: 8069,
            db_port: 15432,
            db_user: "odoo",
            db_password: "secret",
        }
    }

    fn images() -> HashMap<Role, String> {
        Role::ALL.into_iter().map(|r| (r, format!("img/{r}@sha256:{}", "0".repeat(64)))).collect()
    }

    fn port(body: &ContainerCreateBody, port: &str) -> Option<(String, String)> {
        let bindings = body.host_config.as_ref()?.port_bindings.as_ref()?.get(port)?.as_ref()?;
        let b = bindings.first()?;
        Some((b.host_ip.clone()?, b.host_port.clone()?))
    }

    #[test]
    fn production_publishes_only_nginx_and_loopback_postgres() {
        let layout = Layout::new(PathBuf::from("/srv/oe/acme"), "acme", Environment::Production);
        let images = images();
        let i = inputs(&layout, &images, true);
        assert_eq!(i.roles(), Role::ALL.to_vec());
        assert_eq!(port(&i.container(Role::Odoo), "8069/tcp"), None);
        assert_eq!(
            port(&i.container(Role::Nginx), "80/tcp"),
            Some(("0.0.0.0".into(), "8080".into()))
        );
        assert_eq!(
            port(&i.container(Role::Postgres), "5432/tcp"),
            Some(("127.0.0.1".into(), "15432".into()))
        );
        let odoo = i.container(Role::Odoo);
        let restart = odoo.host_config.as_ref().unwrap().restart_policy.clone().unwrap();
        assert_eq!(restart.name, Some(RestartPolicyNameEnum::UNLESS_STOPPED));
        let binds = odoo.host_config.unwrap().binds.unwrap();
        assert!(
            binds.contains(&"/srv/oe/acme/sources:/mnt/extra-addons:ro".to_owned()),
            "{binds:?}"
        );
        assert!(!odoo.env.unwrap().iter().any(|e| e.contains("secret")));
    }

    #[test]
    fn development_publishes_odoo_and_postgres_and_mounts_sources_writable() {
        let layout = Layout::new(PathBuf::from("/srv/oe/acme"), "acme", Environment::Development);
        let images = images();
        let i = inputs(&layout, &images, false);
        assert!(!i.roles().contains(&Role::Nginx));
        let odoo = i.container(Role::Odoo);
        assert_eq!(port(&odoo, "8069/tcp"), Some(("0.0.0.0".into(), "8069".into())));
        assert_eq!(
            port(&i.container(Role::Postgres), "5432/tcp"),
            Some(("0.0.0.0".into(), "15432".into()))
        );
        let binds = odoo.host_config.unwrap().binds.unwrap();
        assert!(binds.contains(&"/srv/oe/acme/sources:/mnt/extra-addons".to_owned()), "{binds:?}");
    }

    #[test]
    fn the_spec_label_changes_with_the_description_only() {
        let layout = Layout::new(PathBuf::from("/srv/oe/acme"), "acme", Environment::Production);
        let images = images();
        let label = |i: &Inputs, role| i.container(role).labels.unwrap()[LABEL_SPEC].clone();
        let a = inputs(&layout, &images, true);
        assert_eq!(label(&a, Role::Odoo), label(&a, Role::Odoo));
        let mut b = a.clone();
        b.db_user = "other";
        assert_ne!(label(&a, Role::Odoo), label(&b, Role::Odoo));
        assert_eq!(label(&a, Role::Nginx), label(&b, Role::Nginx));
    }
}
