//! `oe start`, `oe stop`, `oe ps`: the containers of an installation, from `oe.lock`.
//!
//! `start` walks the roles in order (postgres, aeroo, odoo, nginx) and for each: keeps a
//! container whose description is unchanged (starting it if stopped), creates a missing one,
//! and replaces a changed one without losing the old: the new one is created beside it under
//! a temporary name, the old one stopped, the new one started and waited for; only when it
//! serves is the old removed and the new renamed. When it does not, it is removed and the old
//! one started again. A container serves when its probe passes ([`health`]).

use std::collections::HashMap;
use std::time::Duration;

use super::install::{DB_USER, manifest, postgres_settings};
use super::{Context, Error};
use crate::deploy::engine::Engine;
use crate::deploy::health::{self, Probe};
use crate::deploy::layout::{LABEL_CLIENT, LABEL_ROLE, LABEL_SPEC, Role};
use crate::deploy::lock::Lock;
use crate::deploy::spec::Inputs;

/// How long `stop` gives a container after SIGTERM.
pub const STOP_GRACE: Duration = Duration::from_secs(30);

/// What happened to a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Running and unchanged.
    Kept,
    /// Existed stopped, started.
    Started,
    Created,
    /// Its description changed: a new one replaced it.
    Replaced,
    Stopped,
    /// There was nothing to stop.
    Absent,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Kept => "running",
            Action::Started => "started",
            Action::Created => "created",
            Action::Replaced => "replaced",
            Action::Stopped => "stopped",
            Action::Absent => "absent",
        }
    }
}

/// Every container `start` touched, in order.
#[derive(Debug, Default)]
pub struct Started {
    pub containers: Vec<(String, Action)>,
    /// Where Odoo answers from the host, when it was started.
    pub url: Option<String>,
}

/// The containers' descriptions, from `oe.lock` and the installation's files.
pub struct Plan {
    images: HashMap<Role, String>,
    db_port: u16,
    db_password: String,
    odoo_port: u16,
}

/// What the containers are made from; fails when the installation is not installed.
pub fn plan(ctx: &Context) -> Result<Plan, Error> {
    let lock = Lock::read(&ctx.layout.lock_file())?
        .ok_or_else(|| Error::NotInstalled { root: ctx.layout.root.clone() })?;
    let images = lock
        .images
        .iter()
        .filter_map(|(role, image)| Some((Role::parse(role)?, image.digest.clone())))
        .collect::<HashMap<_, _>>();
    if !images.contains_key(&Role::Odoo) {
        return Err(Error::NoImage { role: "odoo" });
    }
    if ctx.nginx && !images.contains_key(&Role::Nginx) {
        return Err(Error::NoNginxImage);
    }
    let postgres = postgres_settings(ctx)?;
    let manifest = manifest(ctx)?;
    Ok(Plan {
        images,
        db_port: postgres.port.unwrap_or(5432),
        db_password: postgres.password.unwrap_or_default(),
        odoo_port: manifest.port.unwrap_or(8069),
    })
}

impl Plan {
    /// The image of `role`, by digest, as `oe.lock` records it.
    pub fn image(&self, role: Role) -> Option<&str> {
        self.images.get(&role).map(String::as_str)
    }

    /// The host port users reach Odoo on: nginx's, else Odoo's own.
    pub fn port(&self, ctx: &Context) -> u16 {
        if ctx.nginx { ctx.http_port } else { self.odoo_port }
    }

    pub fn inputs<'a>(&'a self, ctx: &'a Context) -> Inputs<'a> {
        Inputs {
            layout: &ctx.layout,
            images: &self.images,
            nginx: ctx.nginx,
            http_port: ctx.http_port,
            odoo_port: self.odoo_port,
            db_port: self.db_port,
            db_user: DB_USER,
            db_password: &self.db_password,
        }
    }
}

/// Starts the installation (only postgres and aeroo with `env_only`); returns once each
/// container serves, or fails within `timeout` per container with its last log lines.
pub async fn start(
    ctx: &Context,
    engine: &Engine,
    env_only: bool,
    timeout: Duration,
) -> Result<Started, Error> {
    let plan = plan(ctx)?;
    let inputs = plan.inputs(ctx);
    let layout = &ctx.layout;
    let labels = HashMap::from([(LABEL_CLIENT.to_owned(), layout.client.clone())]);
    engine.ensure_network(&layout.network(), &layout.bridge(), labels).await?;
    let mut started = Started::default();
    for role in inputs.roles().into_iter().filter(|r| !env_only || r.is_environment()) {
        let name = layout.container(role);
        let probe = probe(ctx, &plan, role);
        let action = ensure(engine, &name, inputs.container(role), &probe, timeout).await?;
        started.containers.push((name, action));
        if role == Role::Nginx || (role == Role::Odoo && !ctx.nginx) {
            started.url = Some(format!("http://127.0.0.1:{}", plan.port(ctx)));
        }
    }
    Ok(started)
}

/// How to know that the container of `role` serves.
fn probe(ctx: &Context, plan: &Plan, role: Role) -> Probe {
    match role {
        Role::Postgres => Probe::Postgres {
            host: "127.0.0.1".into(),
            port: plan.db_port,
            user: DB_USER.into(),
            password: plan.db_password.clone(),
        },
        // Through nginx, as users reach it: proves the proxy as well.
        Role::Nginx => Probe::Odoo { url: format!("http://127.0.0.1:{}", ctx.http_port) },
        Role::Odoo => Probe::OdooIn { network: ctx.layout.network() },
        Role::Aeroo => Probe::Running,
    }
}

/// One container to its description and serving; see the module's docs.
async fn ensure(
    engine: &Engine,
    name: &str,
    body: bollard::models::ContainerCreateBody,
    probe: &Probe,
    timeout: Duration,
) -> Result<Action, Error> {
    let wanted = body.labels.as_ref().and_then(|l| l.get(LABEL_SPEC).cloned());
    let existing = engine.inspect(name).await?;
    let current = existing
        .as_ref()
        .and_then(|c| c.config.as_ref()?.labels.as_ref()?.get(LABEL_SPEC).cloned());
    let running = existing.as_ref().and_then(|c| c.state.as_ref()?.running).unwrap_or(false);
    let serve = |name: String| async move {
        health::wait(engine, &name, probe, timeout).await.map_err(Error::from)
    };
    match existing {
        Some(_) if current == wanted && running => Ok(Action::Kept),
        Some(_) if current == wanted => {
            engine.start(name).await?;
            if let Err(e) = serve(name.to_owned()).await {
                engine.stop(name, STOP_GRACE).await?;
                return Err(e);
            }
            Ok(Action::Started)
        }
        None => {
            engine.create(name, body).await?;
            let result = match engine.start(name).await {
                Ok(()) => serve(name.to_owned()).await,
                Err(e) => Err(e.into()),
            };
            if let Err(e) = result {
                engine.remove(name).await?;
                return Err(e);
            }
            Ok(Action::Created)
        }
        Some(_) => {
            let next = format!("{name}-next");
            engine.remove(&next).await?;
            engine.create(&next, body).await?;
            engine.stop(name, STOP_GRACE).await?;
            let result = match engine.start(&next).await {
                Ok(()) => serve(next.clone()).await,
                Err(e) => Err(e.into()),
            };
            if let Err(e) = result {
                engine.remove(&next).await?;
                if running {
                    engine.start(name).await?;
                }
                return Err(e);
            }
            engine.remove(name).await?;
            engine.rename(&next, name).await?;
            Ok(Action::Replaced)
        }
    }
}

/// Stops the installation's containers in reverse order (only postgres and aeroo with
/// `env_only`); they stay, stopped, for the next `start`.
pub async fn stop(
    ctx: &Context,
    engine: &Engine,
    env_only: bool,
) -> Result<Vec<(String, Action)>, Error> {
    let mut stopped = Vec::new();
    for role in Role::ALL.into_iter().rev().filter(|r| !env_only || r.is_environment()) {
        let name = ctx.layout.container(role);
        let action = match engine.inspect(&name).await? {
            Some(c) if c.state.as_ref().and_then(|s| s.running).unwrap_or(false) => {
                engine.stop(&name, STOP_GRACE).await?;
                Action::Stopped
            }
            Some(_) => continue,
            None => Action::Absent,
        };
        if action != Action::Absent {
            stopped.push((name, action));
        }
    }
    Ok(stopped)
}

/// A line of `oe ps`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub name: String,
    pub role: String,
    /// `running`, `exited`, …
    pub state: String,
    /// Docker's words: `Up 3 minutes (healthy)`, `Exited (1) 2 seconds ago`.
    pub status: String,
    /// Docker's health check: `healthy`, `unhealthy`, `starting`; `None` without one or
    /// when the container is not running.
    pub health: Option<String>,
    pub image: String,
    /// `HOST_IP:HOST_PORT->PORT/tcp`.
    pub ports: Vec<String>,
}

/// The installation's containers, in role order.
pub async fn ps(ctx: &Context, engine: &Engine) -> Result<Vec<Row>, Error> {
    let mut rows: Vec<(Option<Role>, Row)> = engine
        .list(LABEL_CLIENT, &ctx.layout.client)
        .await?
        .into_iter()
        .map(|c| {
            let role =
                c.labels.as_ref().and_then(|l| l.get(LABEL_ROLE).cloned()).unwrap_or_default();
            let name =
                c.names.unwrap_or_default().first().map(|n| n.trim_start_matches('/').to_owned());
            let ports = c
                .ports
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| {
                    let public = p.public_port?;
                    Some(format!("{}:{public}->{}/tcp", p.ip.unwrap_or_default(), p.private_port))
                })
                .collect();
            let status = c.status.unwrap_or_default();
            let health = ["healthy", "unhealthy", "starting"]
                .into_iter()
                .find(|h| {
                    status.contains(&format!("({h})")) || status.contains(&format!("(health: {h})"))
                })
                .map(str::to_owned);
            let row = Row {
                name: name.unwrap_or_default(),
                health,
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                status,
                image: c.image.unwrap_or_default(),
                ports,
                role: role.clone(),
            };
            (Role::parse(&role), row)
        })
        .collect();
    rows.sort_by(|a, b| (a.0, &a.1.name).cmp(&(b.0, &b.1.name)));
    Ok(rows.into_iter().map(|(_, row)| row).collect())
}
