//! `oe server …`: the backup server's administration (keys, clients, arrivals, forget, check,
//! prune), and how its results are shown, through [`Printer`]'s `summary` and `listing`.

use std::io::Write;
use std::path::PathBuf;

use super::args::Global;
use super::failure::Result;
use super::mirror::ForgetArgs;
use super::output::Printer;
use crate::jobs::mirror;
use crate::pipeline::meter::bytes;
use crate::repo::LockMode;
use crate::server::admin::{
    self, AddKey, Arrival, ClientReport, KeyAdded, KeysRemoved, Quota, age_text,
};
use crate::server::authorized_keys::{Added, AuthorizedKeys};
use crate::server::keys::PublicKey;
use crate::server::layout::Root;

#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The server root holding every client's repository
    #[arg(
        long,
        global = true,
        env = "OE_SERVER_ROOT",
        default_value = "/srv/oe-backups",
        value_name = "DIR"
    )]
    root: PathBuf,
    /// The file holding the passphrase of an encrypted client repository, for forget, check
    /// and prune [default: OE_PASSPHRASE, else the terminal]
    #[arg(long, global = true, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    #[command(subcommand)]
    command: ServerCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ServerCommand {
    /// Make a directory (missing or empty) the root of the clients' repositories
    Init {
        /// The root to create
        root: PathBuf,
    },
    /// Give a client's SSH key access to its own repository only (created if missing), through
    /// a line of authorized_keys running `oe serve`
    AddKey {
        /// The client's name (acme.example.com): letters, digits, '.', '-', '_'
        client: String,
        /// The public key: 'TYPE BASE64 [COMMENT]', the line of its .pub file
        key: String,
        /// Most bytes its repository may hold (500M, 200G, 1T; binary units), or `none`
        #[arg(long, value_name = "SIZE", value_parser = admin::parse_quota)]
        quota: Option<Quota>,
        /// The key can only read (restore), never write
        #[arg(long)]
        read_only: bool,
        /// Leave the repository for the client to create, encrypted (`oe mirror init
        /// --encrypt`): the server never holds its key
        #[arg(long)]
        encrypted: bool,
        /// [default: $HOME/.ssh/authorized_keys]
        #[arg(long, value_name = "FILE")]
        authorized_keys: Option<PathBuf>,
    },
    /// Take a client's keys away (all, or the one with FINGERPRINT); its repository stays
    RemoveKey {
        client: String,
        /// SHA256:… as `oe server list` or `ssh-keygen -lf` shows it
        fingerprint: Option<String>,
        /// [default: $HOME/.ssh/authorized_keys]
        #[arg(long, value_name = "FILE")]
        authorized_keys: Option<PathBuf>,
    },
    /// Per client: keys, bytes used, quota, snapshots, last arrival, refused requests
    List {
        /// [default: $HOME/.ssh/authorized_keys]
        #[arg(long, value_name = "FILE")]
        authorized_keys: Option<PathBuf>,
    },
    /// Exit 1, naming them, when a client's newest snapshot arrived longer ago than this
    Status {
        /// The age after which a client is late (26h, 2d)
        #[arg(long, value_name = "DURATION", value_parser = crate::rules::retention::parse_age)]
        max_age: jiff::SignedDuration,
    },
    /// Delete the client's snapshots the keep rules do not keep, judged by when each arrived
    Forget {
        #[arg(long, value_name = "IDENT")]
        client: String,
        #[command(flatten)]
        forget: ForgetArgs,
    },
    /// Check the client's repository; with --read-data, every stored byte
    Check {
        #[arg(long, value_name = "IDENT")]
        client: String,
        #[arg(long)]
        read_data: bool,
    },
    /// Remove the data no snapshot of the client uses
    Prune {
        #[arg(long, value_name = "IDENT")]
        client: String,
        /// Only show what would be removed
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(global: &Global, args: ServerArgs) -> Result {
    let global = global.clone();
    tokio::task::spawn_blocking(move || run_blocking(&global, args)).await?
}

fn run_blocking(global: &Global, args: ServerArgs) -> Result {
    let printer = global.printer();
    let open_root = || Root::open(&args.root);
    let passphrase_file = args.passphrase_file.as_deref();
    let keys_file = |given: Option<PathBuf>| -> Result<AuthorizedKeys> {
        let path = match given {
            Some(path) => path,
            None => admin::default_authorized_keys()?,
        };
        Ok(AuthorizedKeys::new(&path))
    };
    match args.command {
        ServerCommand::Init { root } => {
            let root = Root::init(&root)?;
            let doc = serde_json::json!({ "root": root.path() });
            printer.summary(&doc, |out| {
                writeln!(out, "created the server root {}", root.path().display())
            })
        }
        ServerCommand::AddKey { client, key, quota, read_only, encrypted, authorized_keys } => {
            let key = PublicKey::parse(&key)?;
            let root = open_root()?;
            let authorized_keys = keys_file(authorized_keys)?;
            let request = AddKey {
                root: &root,
                client: &client,
                key: &key,
                read_only,
                quota,
                authorized_keys: &authorized_keys,
                encrypted,
            };
            let added = admin::add_key(&request)?;
            key_added(&printer, &added)
        }
        ServerCommand::RemoveKey { client, fingerprint, authorized_keys } => {
            let authorized_keys = keys_file(authorized_keys)?;
            let removed = admin::remove_key(&authorized_keys, &client, fingerprint.as_deref())?;
            keys_removed(&printer, &removed)
        }
        ServerCommand::List { authorized_keys } => {
            let root = open_root()?;
            let authorized_keys = keys_file(authorized_keys)?;
            let clients = admin::list(&root, &authorized_keys)?;
            client_list(&printer, &clients)
        }
        ServerCommand::Status { max_age } => {
            let root = open_root()?;
            let arrivals = admin::status(&root, max_age)?;
            let max_age_text = format!("{max_age:#}");
            arrival_list(&printer, &arrivals, &max_age_text)?;
            Ok(admin::check_arrivals(&arrivals, &max_age_text)?)
        }
        ServerCommand::Forget { client, forget } => {
            let policy = forget.policy()?;
            let root = open_root()?;
            let (client, repo) = admin::open_repository(&root, &client, passphrase_file)?;
            let _lock = repo.lock(LockMode::Exclusive)?;
            let plan = admin::forget_plan(&client, &repo, policy)?;
            forget.apply(&printer, &repo, &plan)
        }
        ServerCommand::Check { client, read_data } => {
            let root = open_root()?;
            let (_, repo) = admin::open_repository(&root, &client, passphrase_file)?;
            let _lock = repo.lock(LockMode::Shared)?;
            let report = mirror::job::check(&repo, read_data)?;
            printer.mirror_checked(&report)?;
            Ok(report.result()?)
        }
        ServerCommand::Prune { client, dry_run } => {
            let root = open_root()?;
            let (_, repo) = admin::open_repository(&root, &client, passphrase_file)?;
            let _lock = repo.lock(LockMode::Exclusive)?;
            super::mirror::prune_repo(&printer, &repo, dry_run, &[])
        }
    }
}

fn key_added(printer: &Printer, a: &KeyAdded) -> Result {
    printer.summary(a, |out| {
        let what = match a.line {
            Added::New => "added to",
            Added::Replaced => "replaced in",
            Added::Unchanged => "already in",
        };
        let read_only = if a.read_only { " (read-only)" } else { "" };
        writeln!(
            out,
            "{}: key {}{read_only} {what} {}",
            a.client,
            a.fingerprint,
            a.authorized_keys.display()
        )?;
        let state = match (a.repository_created, a.awaiting_init) {
            (true, _) => "created",
            (false, true) => "empty: the client creates it with `oe mirror init --encrypt`",
            (false, false) => "exists",
        };
        writeln!(out, "  repository {} ({state})", a.repository.display())?;
        writeln!(out, "  quota: {}", quota_text(a.quota))
    })
}

fn keys_removed(printer: &Printer, r: &KeysRemoved) -> Result {
    printer.summary(r, |out| {
        writeln!(
            out,
            "{}: {} key(s) removed from {}; its repository stays",
            r.client,
            r.removed,
            r.authorized_keys.display()
        )
    })
}

fn client_list(printer: &Printer, clients: &[ClientReport]) -> Result {
    printer.listing(&clients, |out| {
        if clients.is_empty() {
            return writeln!(out, "no clients: add one with `oe server add-key IDENT KEY`");
        }
        let width = clients.iter().map(|c| c.client.len()).max().unwrap_or(0).max(6);
        writeln!(
            out,
            "{:width$}  {:>10}  {:>10}  {:>9}  {:20}  {:>7}",
            "CLIENT", "USED", "QUOTA", "SNAPSHOTS", "LAST ARRIVAL", "REFUSED"
        )?;
        for c in clients {
            let last = c.last_arrival.map_or_else(|| "never".into(), |t| t.to_string());
            let used = if c.repository { bytes(c.bytes) } else { "no repository".into() };
            writeln!(
                out,
                "{:width$}  {used:>10}  {:>10}  {:>9}  {last:20}  {:>7}",
                c.client,
                quota_text(c.quota),
                c.snapshots,
                c.refused
            )?;
            for k in &c.keys {
                let read_only = if k.read_only { "  read-only" } else { "" };
                writeln!(out, "  key {}  {}{read_only}", k.fingerprint, k.comment)?;
            }
            if c.keys.is_empty() {
                writeln!(out, "  no key")?;
            }
        }
        Ok(())
    })
}

fn arrival_list(printer: &Printer, arrivals: &[Arrival], max_age: &str) -> Result {
    let doc = serde_json::json!({ "max_age": max_age, "clients": arrivals });
    printer.listing(&doc, |out| {
        if arrivals.is_empty() {
            return writeln!(out, "no clients");
        }
        for a in arrivals {
            let verdict = if a.late { "LATE" } else { "ok" };
            match (a.last_arrival, a.age_seconds) {
                (Some(time), Some(age)) => writeln!(
                    out,
                    "{verdict:4}  {}  newest snapshot arrived {time} ({} ago)",
                    a.client,
                    age_text(age)
                )?,
                _ => writeln!(out, "{verdict:4}  {}  no snapshot", a.client)?,
            }
        }
        Ok(())
    })
}

fn quota_text(quota: Option<u64>) -> String {
    quota.map_or_else(|| "none".into(), bytes)
}
