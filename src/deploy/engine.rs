//! The Docker Engine, through its API (`bollard`): the only module that talks to Docker.
//!
//! Why the API and not the `docker` CLI: every answer is typed (digests, states, ports,
//! exit codes) instead of text to parse, pulls report progress as data, errors carry the
//! engine's status code (a missing container is a 404, not a message to match), and no
//! process is spawned per call. The version is negotiated, so engines from API 1.41 on work.
//! The connection follows `DOCKER_HOST`, else the local socket.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, NetworkCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, DownloadFromContainerOptionsBuilder,
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RenameContainerOptionsBuilder, StopContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use futures_util::{Stream, StreamExt, TryStreamExt};

use super::lock;
use crate::exit::{ExitCode, ExitStatus};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot reach the Docker engine at {host} (is dockerd running, and may this user use \
         its socket?)"
    )]
    Unreachable { host: String, source: bollard::errors::Error },
    #[error("image {reference}: {message}")]
    Pull { reference: String, message: String },
    #[error(
        "image {reference} has no registry digest (it was built here, not pulled): push it to a registry and name it there"
    )]
    NoDigest { reference: String },
    #[error("container {name}: {action}: {message}")]
    Container { name: String, action: &'static str, message: String },
    #[error("network {network} is a {driver} network, not a bridge: it has no bridge to cut off")]
    NotBridge { network: String, driver: String },
    #[error("docker: {action}")]
    Api { action: String, source: bollard::errors::Error },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::Unreachable { .. } => ExitCode::Unreachable,
            Error::Pull { .. } | Error::NoDigest { .. } | Error::NotBridge { .. } => {
                ExitCode::BadInput
            }
            Error::Container { .. } | Error::Api { .. } => ExitCode::Failure,
        }
    }
}

/// The message the engine gave, without bollard's wrapping.
fn engine_message(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

fn is_not_found(error: &bollard::errors::Error) -> bool {
    matches!(error, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

/// A name for a container of this process's own that no other call uses.
fn throwaway_name(purpose: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("oe-{purpose}-{}-{n}", std::process::id())
}

/// A connected engine.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
}

/// One line of a pull's progress: a layer and what happens to it.
#[derive(Debug, Clone)]
pub struct PullProgress {
    pub layer: Option<String>,
    pub status: String,
    pub current: Option<i64>,
    pub total: Option<i64>,
}

impl Engine {
    /// Connects (`DOCKER_HOST`, else `/var/run/docker.sock`) and agrees on an API version.
    pub async fn connect() -> Result<Engine, Error> {
        let host =
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        let unreachable = |source| Error::Unreachable { host: host.clone(), source };
        let docker = Docker::connect_with_defaults().map_err(unreachable)?;
        let docker = docker.with_timeout(Duration::from_secs(600));
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        docker.ping().await.map_err(unreachable)?;
        Ok(Engine { docker })
    }

    fn api(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Error {
        let action = action.into();
        move |source| Error::Api { action, source }
    }

    /// Pulls `reference` (`repo[:tag]` or `repo@sha256:…`, never all tags of a repository),
    /// telling `progress` what happens; returns the image's `repository@sha256:…`.
    pub async fn pull(
        &self,
        reference: &str,
        mut progress: impl FnMut(PullProgress),
    ) -> Result<String, Error> {
        let repository = lock::repository(reference);
        let tag = match reference.split_once('@') {
            Some((_, digest)) => digest,
            None => lock::repository_tag(reference).unwrap_or("latest"),
        };
        let options = CreateImageOptionsBuilder::default().from_image(repository).tag(tag).build();
        let mut stream = self.docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| Error::Pull {
                reference: reference.to_owned(),
                message: engine_message(&e),
            })?;
            let detail = info.progress_detail.as_ref();
            progress(PullProgress {
                layer: info.id.clone(),
                status: info.status.clone().unwrap_or_default(),
                current: detail.and_then(|d| d.current),
                total: detail.and_then(|d| d.total),
            });
        }
        self.digest(reference).await
    }

    /// The `repository@sha256:…` of a local image, as its registry knows it.
    pub async fn digest(&self, reference: &str) -> Result<String, Error> {
        if lock::is_digest_reference(reference) {
            return Ok(reference.to_owned());
        }
        let image = self.docker.inspect_image(reference).await.map_err(|e| Error::Pull {
            reference: reference.to_owned(),
            message: engine_message(&e),
        })?;
        let digests = image.repo_digests.unwrap_or_default();
        let repository = lock::repository(reference);
        let wanted = format!("{repository}@");
        digests
            .iter()
            .find(|d| d.starts_with(&wanted))
            .or(digests.first().filter(|_| digests.len() == 1))
            .cloned()
            .ok_or_else(|| Error::NoDigest { reference: reference.to_owned() })
    }

    /// The ID (`sha256:…` of its configuration) of a local image.
    pub async fn image_id(&self, reference: &str) -> Result<String, Error> {
        let image = self.docker.inspect_image(reference).await.map_err(|e| Error::Pull {
            reference: reference.to_owned(),
            message: engine_message(&e),
        })?;
        image.id.ok_or_else(|| Error::Pull {
            reference: reference.to_owned(),
            message: "the engine gave no image ID".into(),
        })
    }

    /// Whether the image is here.
    pub async fn has_image(&self, reference: &str) -> Result<bool, Error> {
        match self.docker.inspect_image(reference).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(Engine::api(format!("inspect image {reference}"))(e)),
        }
    }

    /// Creates the network `name` on the Linux bridge `bridge` unless it exists.
    pub async fn ensure_network(
        &self,
        name: &str,
        bridge: &str,
        labels: HashMap<String, String>,
    ) -> Result<(), Error> {
        let filters = HashMap::from([("name".to_owned(), vec![name.to_owned()])]);
        let options = ListNetworksOptionsBuilder::default().filters(&filters).build();
        let networks =
            self.docker.list_networks(Some(options)).await.map_err(Engine::api("list networks"))?;
        if networks.iter().any(|n| n.name.as_deref() == Some(name)) {
            return Ok(());
        }
        let request = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".into()),
            labels: Some(labels),
            options: Some(HashMap::from([(
                "com.docker.network.bridge.name".to_owned(),
                bridge.to_owned(),
            )])),
            ..Default::default()
        };
        self.docker
            .create_network(request)
            .await
            .map_err(Engine::api(format!("create network {name}")))?;
        Ok(())
    }

    /// The Linux bridge of the network `name`: its `com.docker.network.bridge.name`, else
    /// Docker's own `br-` and 12 digits of its id; `None` when there is no such network.
    pub async fn network_bridge(&self, name: &str) -> Result<Option<String>, Error> {
        let Some(network) = self.inspect_network(name).await? else { return Ok(None) };
        let driver = network.driver.unwrap_or_default();
        if driver != "bridge" {
            return Err(Error::NotBridge { network: name.to_owned(), driver });
        }
        let named = network.options.and_then(|o| o.get("com.docker.network.bridge.name").cloned());
        let id = network.id.unwrap_or_default();
        Ok(Some(named.unwrap_or_else(|| format!("br-{}", id.get(..12).unwrap_or(&id)))))
    }

    /// The IPv4 gateway of the network `name`: the host's address on its bridge, which the
    /// containers reach the host by; `None` when there is no such network or it has none.
    pub async fn network_gateway(&self, name: &str) -> Result<Option<std::net::Ipv4Addr>, Error> {
        let Some(network) = self.inspect_network(name).await? else { return Ok(None) };
        let configs = network.ipam.and_then(|ipam| ipam.config).unwrap_or_default();
        Ok(configs.iter().filter_map(|c| c.gateway.as_deref()?.parse().ok()).next())
    }

    async fn inspect_network(
        &self,
        name: &str,
    ) -> Result<Option<bollard::models::NetworkInspect>, Error> {
        match self.docker.inspect_network(name, None).await {
            Ok(network) => Ok(Some(network)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(Engine::api(format!("inspect network {name}"))(e)),
        }
    }

    /// Containers started and networks created or connected, as the engine reports them:
    /// one item per event, until the engine goes away (the stream then ends or fails).
    pub fn network_events(&self) -> impl Stream<Item = Result<(), Error>> + use<> {
        let filters = HashMap::from([
            ("type".to_owned(), vec!["container".to_owned(), "network".to_owned()]),
            (
                "event".to_owned(),
                vec!["start".to_owned(), "create".to_owned(), "connect".to_owned()],
            ),
        ]);
        let options = bollard::query_parameters::EventsOptions {
            filters: Some(filters),
            ..Default::default()
        };
        self.docker.events(Some(options)).map(|e| e.map(drop).map_err(Engine::api("events")))
    }

    /// The container called `name`, if there is one.
    pub async fn inspect(&self, name: &str) -> Result<Option<ContainerInspectResponse>, Error> {
        match self.docker.inspect_container(name, None).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(Engine::api(format!("inspect container {name}"))(e)),
        }
    }

    pub async fn create(&self, name: &str, body: ContainerCreateBody) -> Result<(), Error> {
        let options = CreateContainerOptionsBuilder::default().name(name).build();
        self.docker.create_container(Some(options), body).await.map_err(|e| Error::Container {
            name: name.to_owned(),
            action: "create",
            message: engine_message(&e),
        })?;
        Ok(())
    }

    pub async fn start(&self, name: &str) -> Result<(), Error> {
        self.docker.start_container(name, None).await.map_err(|e| Error::Container {
            name: name.to_owned(),
            action: "start",
            message: engine_message(&e),
        })
    }

    /// Stops it, giving it `grace` to exit after SIGTERM; a stopped container is fine.
    pub async fn stop(&self, name: &str, grace: Duration) -> Result<(), Error> {
        let options = StopContainerOptionsBuilder::default().t(grace.as_secs() as i32).build();
        match self.docker.stop_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => {
                Ok(())
            }
            Err(e) => Err(Error::Container {
                name: name.to_owned(),
                action: "stop",
                message: engine_message(&e),
            }),
        }
    }

    /// Removes it, running or not; a missing container is fine.
    pub async fn remove(&self, name: &str) -> Result<(), Error> {
        let options = RemoveContainerOptionsBuilder::default().force(true).build();
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(Error::Container {
                name: name.to_owned(),
                action: "remove",
                message: engine_message(&e),
            }),
        }
    }

    pub async fn rename(&self, name: &str, new_name: &str) -> Result<(), Error> {
        let options = RenameContainerOptionsBuilder::default().name(new_name).build();
        self.docker.rename_container(name, options).await.map_err(|e| Error::Container {
            name: name.to_owned(),
            action: "rename",
            message: engine_message(&e),
        })
    }

    /// The last `lines` lines of its output, stdout and stderr interleaved.
    pub async fn tail(&self, name: &str, lines: usize) -> Result<String, Error> {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let chunks: Vec<_> = self
            .docker
            .logs(name, Some(options))
            .try_collect()
            .await
            .map_err(Engine::api(format!("logs of {name}")))?;
        let mut text = String::new();
        for chunk in chunks {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        Ok(text)
    }

    /// Its output as it comes: the last `tail` lines (all when `None`), then, with `follow`,
    /// until it stops.
    pub fn logs(
        &self,
        name: &str,
        follow: bool,
        tail: Option<usize>,
    ) -> impl Stream<Item = Result<bytes::Bytes, Error>> + use<> {
        let tail = tail.map_or_else(|| "all".to_owned(), |n| n.to_string());
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(follow)
            .tail(&tail)
            .build();
        let name = name.to_owned();
        self.docker.logs(&name, Some(options)).map(move |chunk| {
            chunk.map(|c| c.into_bytes()).map_err(Engine::api(format!("logs of {name}")))
        })
    }

    /// Waits until it is no longer running; its exit code.
    pub async fn wait(&self, name: &str) -> Result<i64, Error> {
        let options = WaitContainerOptionsBuilder::default().condition("not-running").build();
        let mut stream = self.docker.wait_container(name, Some(options));
        match stream.next().await {
            Some(Ok(response)) => Ok(response.status_code),
            // A non-zero exit comes as an error carrying the code.
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(Engine::api(format!("wait for {name}"))(e)),
            None => Ok(0),
        }
    }

    /// Every container (running or not) with `label=value`.
    pub async fn list(&self, label: &str, value: &str) -> Result<Vec<ContainerSummary>, Error> {
        let filters = HashMap::from([("label".to_owned(), vec![format!("{label}={value}")])]);
        let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        self.docker.list_containers(Some(options)).await.map_err(Engine::api("list containers"))
    }

    /// Runs `command` in a throwaway container of `image` (no network) and returns what it
    /// printed; fails with that output when it exits non-zero.
    pub async fn run_once(&self, image: &str, command: &[&str]) -> Result<String, Error> {
        let name = throwaway_name("probe");
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            entrypoint: Some(command.iter().map(|s| (*s).to_owned()).collect()),
            network_disabled: Some(true),
            ..Default::default()
        };
        self.remove(&name).await?;
        self.create(&name, body).await?;
        let result = async {
            self.start(&name).await?;
            let code = self.wait(&name).await?;
            let output = self.tail(&name, 10_000).await?;
            if code != 0 {
                return Err(Error::Container {
                    name: image.to_owned(),
                    action: "probe",
                    message: format!("{} exited with {code}: {}", command.join(" "), output.trim()),
                });
            }
            Ok(output)
        }
        .await;
        self.remove(&name).await?;
        result
    }

    /// Reads files of `image` without running anything: creates a container of it (never
    /// started, no network), hands `read` each of `paths` (absolute) as the tar stream the
    /// engine archives it into (the path's last name first, then what is under it), or
    /// `None` when the image has no such path, and removes the container, also after an
    /// error. `read` runs on a blocking thread and pulls the stream as it goes: memory stays
    /// bounded whatever the size. What it returns for each path, in their order.
    pub async fn read_paths<T, F>(
        &self,
        image: &str,
        paths: &[String],
        read: F,
    ) -> Result<Vec<T>, Error>
    where
        F: FnMut(&str, Option<&mut dyn Read>) -> T + Send + 'static,
        T: Send + 'static,
    {
        let name = throwaway_name("read");
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            // Never started; a command only because an image may have none.
            entrypoint: Some(vec!["/nonexistent".to_owned()]),
            network_disabled: Some(true),
            ..Default::default()
        };
        self.create(&name, body).await?;
        let result = self.read_container_paths(&name, paths, read).await;
        let removed = self.remove(&name).await;
        let out = result?;
        removed?;
        Ok(out)
    }

    async fn read_container_paths<T, F>(
        &self,
        name: &str,
        paths: &[String],
        mut read: F,
    ) -> Result<Vec<T>, Error>
    where
        F: FnMut(&str, Option<&mut dyn Read>) -> T + Send + 'static,
        T: Send + 'static,
    {
        let mut out = Vec::with_capacity(paths.len());
        for path in paths {
            let options = DownloadFromContainerOptionsBuilder::default().path(path).build();
            let mut stream = Box::pin(self.docker.download_from_container(name, Some(options)));
            // A missing path is the answer's status, so the first item says it.
            let first = match stream.next().await {
                Some(Err(e)) if is_not_found(&e) => None,
                Some(Err(e)) => {
                    return Err(Engine::api(format!("read {path} from container {name}"))(e));
                }
                Some(Ok(bytes)) => Some(bytes),
                None => Some(bytes::Bytes::new()),
            };
            let path = path.clone();
            let task = match first {
                None => tokio::task::spawn_blocking(move || {
                    let value = read(&path, None);
                    (read, value)
                }),
                Some(first) => {
                    let rest = futures_util::stream::iter([Ok(first)]).chain(stream);
                    let rest = rest.map(|item| item.map_err(std::io::Error::other));
                    let mut reader =
                        tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(rest));
                    tokio::task::spawn_blocking(move || {
                        let value = read(&path, Some(&mut reader));
                        (read, value)
                    })
                }
            };
            let (back, value) = match task.await {
                Ok(done) => done,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => {
                    return Err(Error::Container {
                        name: name.to_owned(),
                        action: "read",
                        message: "the reading thread was cancelled (shutting down)".into(),
                    });
                }
            };
            read = back;
            out.push(value);
        }
        Ok(out)
    }
}
