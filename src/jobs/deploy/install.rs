//! `oe install` and `oe pull`: the installation's files, repositories and images.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Context, Error, io};
use crate::atomic::AtomicFile;
use crate::config::PgSettings;
use crate::deploy::engine::{Engine, PullProgress};
use crate::deploy::layout::{Layout, MOUNT_DATA, MOUNT_LOG, ODOO_UID, Role};
use crate::deploy::lock::{Lock, LockedImage};
use crate::deploy::{image_addons, nginx, repos};
use crate::odoo::client_manifest::{ClientManifest, GitRepo};
use crate::odoo::odoo_conf::{self, ConfInput};

/// The user the managed PostgreSQL is created with.
pub const DB_USER: &str = "odoo";

/// What `install` did.
#[derive(Debug, Default)]
pub struct Installed {
    pub root: PathBuf,
    /// Repositories cloned now (directory names).
    pub cloned: Vec<String>,
    /// Role → digest.
    pub images: BTreeMap<String, String>,
    /// `odoo.conf` was written now (it is never overwritten).
    pub wrote_config: bool,
}

/// How `pull` finds its images.
#[derive(Debug, Clone)]
pub enum Source {
    /// The manifest's references (with `odoo_image` in development).
    Manifest,
    /// Exactly the digests of another installation's lock file.
    Lock(PathBuf),
}

/// What `pull` did.
#[derive(Debug, Default)]
pub struct Pulled {
    /// Repository directory → (old, new) commit, for those that moved.
    pub moved: Vec<(String, String, String)>,
    pub images: BTreeMap<String, String>,
}

/// The default app's repository, from the `defapp` setting.
pub fn defapp(ctx: &Context) -> Result<GitRepo, Error> {
    let url = ctx.defapp.as_deref().ok_or(Error::NoDefapp)?;
    GitRepo::parse(url).map_err(|message| Error::BadDefapp { url: url.to_owned(), message })
}

/// The client manifest: the default app's `__manifest__.py`, read as a literal.
pub fn manifest(ctx: &Context) -> Result<ClientManifest, Error> {
    let app = defapp(ctx)?;
    let path = manifest_path(&ctx.layout.sources_dir().join(&app.dir), &ctx.layout.client);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !ctx.layout.root.exists() => {
            return Err(Error::NotInstalled { root: ctx.layout.root.clone() });
        }
        Err(source) => return Err(Error::ReadManifest { path, source }),
    };
    ClientManifest::parse(&text).map_err(|source| Error::Manifest { path, source })
}

/// The module `oe update` installs when it is not: the one holding the client manifest
/// (`<client>_default`, or whichever module lists the images); `None` when the manifest is
/// at the checkout's root, which no addons path holds.
pub fn default_app_module(ctx: &Context) -> Result<Option<String>, Error> {
    let checkout = ctx.layout.sources_dir().join(defapp(ctx)?.dir);
    let path = manifest_path(&checkout, &ctx.layout.client);
    let module = path.parent().filter(|dir| *dir != checkout).and_then(Path::file_name);
    Ok(module.map(|name| name.to_string_lossy().into_owned()))
}

/// Where the default app's checkout keeps the client manifest: at its root, else in the
/// module `<client>_default/`, else in the first module (by name) whose manifest lists
/// `docker-images`. The root's path when none is found, for the error to name.
fn manifest_path(checkout: &Path, client: &str) -> PathBuf {
    let root = checkout.join("__manifest__.py");
    if root.is_file() {
        return root;
    }
    let named = checkout.join(format!("{client}_default/__manifest__.py"));
    if named.is_file() {
        return named;
    }
    let mut modules: Vec<PathBuf> = std::fs::read_dir(checkout)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("__manifest__.py"))
        .filter(|p| p.is_file())
        .collect();
    modules.sort();
    let lists_images =
        |p: &PathBuf| std::fs::read_to_string(p).is_ok_and(|t| t.contains("'docker-images'"));
    modules.into_iter().find(lists_images).unwrap_or(root)
}

/// The repositories of the installation: the default app first, then the manifest's others.
pub fn repositories(app: GitRepo, manifest: &ClientManifest) -> Vec<GitRepo> {
    let mut all = vec![app];
    for repo in &manifest.repos {
        if !all.iter().any(|r| r.dir == repo.dir) {
            all.push(repo.clone());
        }
    }
    all
}

/// Lays out the installation, clones, pulls, and writes what is missing. With
/// `print_config`, shows the `odoo.conf` it would write instead of writing it.
pub async fn install(
    ctx: &Context,
    engine: &Engine,
    progress: &mut dyn FnMut(&str, PullProgress),
    print_config: Option<&mut String>,
) -> Result<Installed, Error> {
    let layout = &ctx.layout;
    create_layout(layout)?;
    let app = defapp(ctx)?;
    let sources = layout.sources_dir();
    let mut installed = Installed { root: layout.root.clone(), ..Default::default() };
    if let repos::Cloned::Fresh { .. } = repos::clone(&app, &sources)? {
        installed.cloned.push(app.dir.clone());
    }
    let manifest = manifest(ctx)?;
    let all = repositories(app, &manifest);
    for repo in &all[1..] {
        if let repos::Cloned::Fresh { .. } = repos::clone(repo, &sources)? {
            installed.cloned.push(repo.dir.clone());
        }
    }
    let lock = match Lock::read(&layout.lock_file())? {
        Some(lock) => {
            ensure_images(engine, &lock, progress).await?;
            lock
        }
        None => pull_images(ctx, engine, &manifest, &Source::Manifest, progress).await?,
    };
    installed.images = lock.images.iter().map(|(r, i)| (r.clone(), i.digest.clone())).collect();
    let postgres = postgres_settings(ctx)?;
    let conf = odoo_conf(ctx, engine, &lock, &manifest, &all, &postgres).await?;
    if let Some(out) = print_config {
        *out = conf;
    } else if !layout.odoo_conf().exists() {
        write_file(&layout.odoo_conf(), conf.as_bytes(), 0o600, Some(ODOO_UID))?;
        installed.wrote_config = true;
    }
    if ctx.nginx {
        manifest.image(Role::Nginx.as_str()).ok_or(Error::NoNginxImage)?;
        let text = nginx_conf(ctx, &manifest)?;
        write_file(&layout.nginx_conf(), text.as_bytes(), 0o644, None)?;
    }
    Ok(installed)
}

/// `pull`: fast-forwards the repositories (`repos`) and pulls the images (`images`).
pub async fn pull(
    ctx: &Context,
    engine: &Engine,
    repos_too: bool,
    images: bool,
    source: &Source,
    progress: &mut dyn FnMut(&str, PullProgress),
) -> Result<Pulled, Error> {
    let manifest = manifest(ctx)?;
    let mut pulled = Pulled::default();
    if repos_too {
        let sources = ctx.layout.sources_dir();
        for repo in repositories(defapp(ctx)?, &manifest) {
            let change = repos::pull(&repo, &sources)?;
            if change.changed() {
                pulled.moved.push((repo.dir.clone(), change.before, change.after));
            }
        }
    }
    if images {
        let lock = pull_images(ctx, engine, &manifest, source, progress).await?;
        pulled.images = lock.images.iter().map(|(r, i)| (r.clone(), i.digest.clone())).collect();
    }
    Ok(pulled)
}

/// Pulls every image and writes `oe.lock` with their digests.
async fn pull_images(
    ctx: &Context,
    engine: &Engine,
    manifest: &ClientManifest,
    source: &Source,
    progress: &mut dyn FnMut(&str, PullProgress),
) -> Result<Lock, Error> {
    let mut lock = Lock::default();
    match source {
        Source::Manifest => {
            if manifest.image(Role::Odoo.as_str()).is_none() {
                return Err(Error::NoImage { role: "odoo" });
            }
            for image in &manifest.images {
                let reference = match (&ctx.odoo_image, image.role.as_str()) {
                    (Some(own), "odoo") if ctx.development() => own.clone(),
                    _ => image.reference.clone(),
                };
                let digest = engine.pull(&reference, |p| progress(&image.role, p)).await?;
                lock.images.insert(image.role.clone(), LockedImage { reference, digest });
            }
        }
        Source::Lock(path) => {
            let other = Lock::read(path)?.ok_or_else(|| {
                io("cannot read the lock file", path)(std::io::ErrorKind::NotFound.into())
            })?;
            for (role, image) in &other.images {
                let digest = engine.pull(&image.digest, |p| progress(role, p)).await?;
                lock.images.insert(
                    role.clone(),
                    LockedImage { reference: image.reference.clone(), digest },
                );
            }
        }
    }
    lock.write(&ctx.layout.lock_file())?;
    Ok(lock)
}

/// Pulls the locked digests that are not here (a pruned image, a new host).
async fn ensure_images(
    engine: &Engine,
    lock: &Lock,
    progress: &mut dyn FnMut(&str, PullProgress),
) -> Result<(), Error> {
    for (role, image) in &lock.images {
        if !engine.has_image(&image.digest).await? {
            engine.pull(&image.digest, |p| progress(role, p)).await?;
        }
    }
    Ok(())
}

/// The directories, owned so that the image's `odoo` user writes `data_dir` and `log` and
/// nothing else; `config` and `backup_dir` stay root's.
fn create_layout(layout: &Layout) -> Result<(), Error> {
    let dirs = [
        (layout.root.clone(), 0o755, None),
        (layout.config_dir(), 0o755, None),
        (layout.sources_dir(), 0o755, None),
        (layout.backup_dir(), 0o700, None),
        (layout.postgresql_dir(), 0o700, None),
        (layout.data_dir(), 0o750, Some(ODOO_UID)),
        (layout.log_dir(), 0o750, Some(ODOO_UID)),
    ];
    for (dir, mode, owner) in dirs {
        let fresh = !dir.exists();
        std::fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
        if fresh {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
                .map_err(io("cannot set the mode of", &dir))?;
            if let Some(uid) = owner {
                std::os::unix::fs::chown(&dir, Some(uid), Some(uid))
                    .map_err(io("cannot give the odoo user", &dir))?;
            }
        }
    }
    Ok(())
}

/// The managed PostgreSQL's settings: read back, or made now with a random password and the
/// port (`deploy.db_port`, else 5432 in development, else a free loopback port).
pub fn postgres_settings(ctx: &Context) -> Result<PgSettings, Error> {
    let path = ctx.layout.postgres_file();
    if let Some(settings) = crate::config::settings::read_installation_postgres(&path)? {
        return Ok(settings);
    }
    let port = match ctx.db_port {
        Some(port) => port,
        None if ctx.development() => 5432,
        None => free_port().map_err(io("cannot find a free port on", "127.0.0.1"))?,
    };
    let settings = PgSettings {
        host: Some("127.0.0.1".into()),
        port: Some(port),
        user: Some(DB_USER.into()),
        password: Some(secret().map_err(io("cannot read", "/dev/urandom"))?),
        ..Default::default()
    };
    let text = serde_yaml_ng::to_string(&settings).unwrap_or_default();
    write_file(&path, text.as_bytes(), 0o600, None)?;
    Ok(settings)
}

/// The `odoo.conf` this installation gets.
async fn odoo_conf(
    ctx: &Context,
    engine: &Engine,
    lock: &Lock,
    manifest: &ClientManifest,
    all: &[GitRepo],
    postgres: &PgSettings,
) -> Result<String, Error> {
    let layout = &ctx.layout;
    let image = lock.digest("odoo").ok_or(Error::NoImage { role: "odoo" })?;
    let mut addons: Vec<String> = repos::addons_path(&layout.sources_dir(), all)
        .iter()
        .filter_map(|dir| layout.in_container(dir))
        .map(|dir| dir.display().to_string())
        .collect();
    addons.extend(image_addons::conf_addons_dirs(engine, image).await?);
    let admin_passwd = secret().map_err(io("cannot read", "/dev/urandom"))?;
    let production = layout.environment == crate::config::Environment::Production;
    let logfile = format!("{MOUNT_LOG}/odoo.log");
    let (cpus, memory) = host_resources();
    Ok(odoo_conf::render(&ConfInput {
        environment: layout.environment,
        db_host: &layout.container(Role::Postgres),
        db_port: 5432,
        db_user: postgres.user.as_deref().unwrap_or(DB_USER),
        db_password: postgres.password.as_deref().unwrap_or_default(),
        addons_path: &addons,
        data_dir: MOUNT_DATA,
        logfile: (!ctx.development()).then_some(logfile.as_str()),
        cpus,
        memory,
        proxied: ctx.nginx,
        database: ctx.database.as_deref(),
        admin_passwd: production.then_some(admin_passwd.as_str()),
        extra: &manifest.config,
    }))
}

/// nginx's site: Odoo's major version from the odoo image's tag (`org/odoo:18.0`), else the
/// newest conventions (`/websocket`).
fn nginx_conf(ctx: &Context, manifest: &ClientManifest) -> Result<String, Error> {
    let version = manifest
        .image(Role::Odoo.as_str())
        .map(crate::deploy::lock::repository_tag)
        .and_then(|tag| tag?.split('.').next()?.parse::<u32>().ok())
        .unwrap_or(18);
    let upstream = nginx::Upstream::parse(&ctx.layout.container(Role::Odoo))?;
    let mut site = nginx::Site::new(upstream, version);
    site.production = ctx.layout.environment == crate::config::Environment::Production;
    Ok(nginx::render(&site))
}

/// CPUs and memory of this host, for the workers.
fn host_resources() -> (usize, u64) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    // SAFETY: sysconf has no preconditions.
    let (pages, size) =
        unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    (cpus, (pages.max(0) as u64).saturating_mul(size.max(0) as u64))
}

/// A free TCP port on loopback, as the kernel picks one.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// 24 random characters (18 bytes of the kernel's randomness, URL-safe base64).
fn secret() -> std::io::Result<String> {
    use base64::Engine as _;
    use std::io::Read;
    let mut bytes = [0u8; 18];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Writes a file atomically with `mode`, owned by `owner` when given.
fn write_file(path: &Path, content: &[u8], mode: u32, owner: Option<u32>) -> Result<(), Error> {
    let write = || -> std::io::Result<()> {
        let mut out = AtomicFile::create(path)?;
        out.write_all(content)?;
        std::fs::set_permissions(out.partial_path(), std::fs::Permissions::from_mode(mode))?;
        if let Some(uid) = owner {
            std::os::unix::fs::chown(out.partial_path(), Some(uid), Some(uid))?;
        }
        out.commit()
    };
    write().map_err(io("cannot write", path))
}
