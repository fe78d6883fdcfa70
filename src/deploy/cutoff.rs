//! `oe cutoff`: the outgoing connections of a staging installation to mail ports, rejected
//! with a TCP reset so that Odoo fails at once instead of hanging, and sends nothing.
//!
//! A cutoff has a [`Scope`]: a Linux bridge (the installation's Docker network, matched on
//! its interface, so that recreated containers and new addresses stay covered), or the host's
//! own processes (a host without Docker; loopback, where the mail catcher listens, stays
//! open). Two backends carry it ([`Backend`]):
//!
//! - **iptables**, where Docker programs iptables (its `DOCKER-USER` chain exists): one rule
//!   per family (`iptables`, `ip6tables`) at the top of `DOCKER-USER`, which Docker leaves to
//!   users and runs before its own rules;
//! - **nftables** elsewhere (Docker's nftables backend, no Docker, and always for the host
//!   scope): a table of oe's own, `inet oe_cutoff`, with a `forward` chain for bridges and an
//!   `output` chain for the host, changed in one `nft -f` transaction.
//!
//! Every rule carries the comment `oe-cutoff:<scope>`: [`apply`] is idempotent (the rule in
//! place is kept, a stale one with other ports replaced, the new one added before the old one
//! goes), [`status`] checks the rules are there, and [`remove`] deletes those rules alone.
//! The programs run as they are (`iptables -w`, `nft`), with arguments, never a shell.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::{AtomicFile, create_private_parent};
use crate::exit::{ExitCode, ExitStatus};
use crate::process::{self, Tool};

/// The mail ports a staging copy must not reach: SMTP (25, 465, 587, 2525), POP3 (110, 995)
/// and IMAP (143, 993).
pub const DEFAULT_PORTS: [u16; 8] = [25, 465, 587, 2525, 110, 143, 993, 995];

/// `iptables -m multiport` takes at most 15 ports.
const MAX_PORTS: usize = 15;

/// The chain Docker leaves to users.
const DOCKER_USER: &str = "DOCKER-USER";

/// oe's own nftables table (family `inet`: IPv4 and IPv6).
const NFT_TABLE: &str = "oe_cutoff";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("'{0}' is not a network interface name (1 to 15 of A-Z a-z 0-9 . _ -)")]
    BadBridge(String),
    #[error("no port to cut off")]
    NoPorts,
    #[error("at most {MAX_PORTS} ports can be cut off, not {0}")]
    TooManyPorts(usize),
    #[error("port 0 cannot be cut off")]
    PortZero,
    #[error("{what}")]
    Tool { what: String, source: process::Error },
    #[error("{what}: {message}")]
    Parse { what: &'static str, message: String },
    #[error("the cutoff registry {}", path.display())]
    Registry { path: PathBuf, source: std::io::Error },
    #[error("the cutoff registry {}: {message}", path.display())]
    BadRegistry { path: PathBuf, message: String },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::BadBridge(_) | Error::NoPorts | Error::TooManyPorts(_) | Error::PortZero => {
                ExitCode::Usage
            }
            Error::Tool { source, .. } => source.exit_code(),
            Error::Parse { .. } => ExitCode::Failure,
            Error::Registry { .. } => ExitCode::Io,
            Error::BadRegistry { .. } => ExitCode::BadInput,
        }
    }
}

/// What a cutoff covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The connections forwarded from this Linux bridge (a Docker network's containers).
    Bridge(String),
    /// The connections of the host's own processes, loopback excepted.
    Host,
}

impl Scope {
    /// A bridge, by its interface name (checked as the kernel would).
    pub fn bridge(name: &str) -> Result<Scope, Error> {
        let valid = (1..=15).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid {
            return Err(Error::BadBridge(name.to_owned()));
        }
        Ok(Scope::Bridge(name.to_owned()))
    }

    /// The comment every rule of this scope carries.
    fn tag(&self) -> String {
        match self {
            Scope::Bridge(name) => format!("oe-cutoff:{name}"),
            Scope::Host => "oe-cutoff:host".to_owned(),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Bridge(name) => write!(f, "bridge {name}"),
            Scope::Host => f.write_str("the host"),
        }
    }
}

/// Where the rules go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Iptables,
    Nftables,
}

/// The ports to cut off, checked: 1 to 15 of them, no 0, sorted without repeats.
pub fn ports(given: &[u16]) -> Result<Vec<u16>, Error> {
    let mut ports = if given.is_empty() { DEFAULT_PORTS.to_vec() } else { given.to_vec() };
    ports.sort_unstable();
    ports.dedup();
    match ports.len() {
        0 => Err(Error::NoPorts),
        n if n > MAX_PORTS => Err(Error::TooManyPorts(n)),
        _ if ports[0] == 0 => Err(Error::PortZero),
        _ => Ok(ports),
    }
}

/// The backend of `scope` on this host: iptables for a bridge where `DOCKER-USER` exists
/// (Docker programs iptables), nftables otherwise.
pub fn backend(scope: &Scope) -> Backend {
    let docker_user = || Family::V4.list().is_ok_and(|rules| rules.is_some());
    match scope {
        Scope::Bridge(_) if docker_user() => Backend::Iptables,
        _ => Backend::Nftables,
    }
}

/// One rule as the firewall lists it, and whether it is the one this cutoff wants.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    /// `iptables`, `ip6tables` or `nft`.
    pub tool: &'static str,
    pub text: String,
    pub current: bool,
}

/// What [`status`] found for a scope.
#[derive(Debug, Serialize)]
pub struct Status {
    pub scope: Scope,
    pub backend: Backend,
    pub ports: Vec<u16>,
    /// oe's rules of this scope, in place or stale.
    pub rules: Vec<Rule>,
    /// Every rule the cutoff needs is in place.
    pub in_place: bool,
    /// What is not covered, and why (no IPv6 chain of Docker's).
    pub notes: Vec<String>,
}

/// What [`apply`] or [`remove`] changed.
#[derive(Debug, Serialize)]
pub struct Change {
    pub scope: Scope,
    pub backend: Backend,
    pub ports: Vec<u16>,
    /// Rules added (apply) or deleted (remove and stale rules of apply).
    pub added: usize,
    pub deleted: usize,
    pub notes: Vec<String>,
}

/// A cutoff `oe cutoff apply` put in place, which `oe daemon` keeps in place and `oe status`
/// checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wanted {
    pub scope: Scope,
    pub ports: Vec<u16>,
}

/// The cutoffs wanted on this host: `cutoff.json` beside the daemon's state file, written
/// whole (0600) by `oe cutoff apply` and `remove`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Registry {
    pub cutoffs: Vec<Wanted>,
}

impl Registry {
    pub fn path(state_file: &Path) -> PathBuf {
        state_file.with_file_name("cutoff.json")
    }

    /// The registry at `path`, empty when there is none; its names are checked again (they
    /// go into nft's input).
    pub fn read(path: &Path) -> Result<Registry, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Registry::default()),
            Err(source) => return Err(Error::Registry { path: path.to_owned(), source }),
        };
        let bad = |message: String| Error::BadRegistry { path: path.to_owned(), message };
        let registry: Registry = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        for wanted in &registry.cutoffs {
            if let Scope::Bridge(name) = &wanted.scope {
                Scope::bridge(name).map_err(|e| bad(e.to_string()))?;
            }
            ports(&wanted.ports).map_err(|e| bad(e.to_string()))?;
        }
        Ok(registry)
    }

    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let io = |source| Error::Registry { path: path.to_owned(), source };
        create_private_parent(path).map_err(io)?;
        let mut file = AtomicFile::create(path).map_err(io)?;
        serde_json::to_writer_pretty(&mut file, self).map_err(|e| io(e.into()))?;
        file.commit().map_err(io)
    }

    /// Records `wanted`, in place of what was recorded for its scope.
    pub fn insert(&mut self, wanted: Wanted) {
        self.remove(&wanted.scope);
        self.cutoffs.push(wanted);
    }

    pub fn remove(&mut self, scope: &Scope) {
        self.cutoffs.retain(|w| &w.scope != scope);
    }
}

impl Change {
    fn new(scope: &Scope, backend: Backend, ports: &[u16]) -> Change {
        let (scope, ports) = (scope.clone(), ports.to_vec());
        Change { scope, backend, ports, added: 0, deleted: 0, notes: Vec::new() }
    }
}

/// Puts the cutoff of `ports` in place for `scope`; a no-op when it is.
pub fn apply(scope: &Scope, ports: &[u16]) -> Result<Change, Error> {
    let backend = backend(scope);
    let mut change = Change::new(scope, backend, ports);
    match (backend, scope) {
        (Backend::Iptables, Scope::Bridge(bridge)) => {
            for family in [Family::V4, Family::V6] {
                let Some(listed) = family.list()? else {
                    change.notes.push(family.no_chain());
                    continue;
                };
                let want = family.spec(bridge, ports, &scope.tag());
                let ours = family.ours(&listed, scope, ports);
                if !ours.iter().any(|r| r.current) {
                    family.run("inserting the cutoff rule", ["-I", DOCKER_USER, "1"], &want)?;
                    change.added += 1;
                }
                // Keeps one current rule (the new one, or the first listed); the rest goes.
                let mut kept = change.added > 0;
                for rule in ours {
                    if rule.current && !kept {
                        kept = true;
                        continue;
                    }
                    family.delete(&rule.text)?;
                    change.deleted += 1;
                }
            }
        }
        _ => {
            let table = Nft::list()?;
            let ours = table.rules(scope, ports);
            let current = ours.iter().position(|(_, r)| r.current);
            let mut script = Nft::skeleton();
            for (i, (handle, _)) in ours.iter().enumerate() {
                if Some(i) != current {
                    script +=
                        &format!("delete rule inet {NFT_TABLE} {} handle {handle}\n", chain(scope));
                    change.deleted += 1;
                }
            }
            if current.is_none() {
                script += &Nft::add_rule(scope, ports);
                change.added += 1;
            }
            if change.added + change.deleted > 0 {
                Nft::run(&script)?;
            }
        }
    }
    Ok(change)
}

/// Deletes oe's rules of `scope` (whatever their ports), and nothing else.
pub fn remove(scope: &Scope) -> Result<Change, Error> {
    let backend = backend(scope);
    let mut change = Change::new(scope, backend, &[]);
    // Both backends are cleaned: rules left by a run when the other one was in use go too.
    if let Scope::Bridge(_) = scope {
        for family in [Family::V4, Family::V6] {
            let Some(listed) = family.list()? else { continue };
            for rule in family.ours(&listed, scope, &[]) {
                family.delete(&rule.text)?;
                change.deleted += 1;
            }
        }
    }
    let table = match Nft::list() {
        Ok(table) => table,
        // No nft: nothing of oe's can be in nftables' own table.
        Err(Error::Tool { source: process::Error::NotFound { .. }, .. })
            if backend == Backend::Iptables =>
        {
            return Ok(change);
        }
        Err(e) => return Err(e),
    };
    let ours = table.rules(scope, &[]);
    if !ours.is_empty() {
        let mut script = String::new();
        for (handle, _) in &ours {
            script += &format!("delete rule inet {NFT_TABLE} {} handle {handle}\n", chain(scope));
        }
        if ours.len() == table.all.len() {
            script += &format!("delete table inet {NFT_TABLE}\n");
        }
        Nft::run(&script)?;
        change.deleted += ours.len();
    }
    Ok(change)
}

/// The cutoff of `scope` as the firewall has it, checked against `ports`.
pub fn status(scope: &Scope, ports: &[u16]) -> Result<Status, Error> {
    let backend = backend(scope);
    let mut status = Status {
        scope: scope.clone(),
        backend,
        ports: ports.to_vec(),
        rules: Vec::new(),
        in_place: true,
        notes: Vec::new(),
    };
    match (backend, scope) {
        (Backend::Iptables, Scope::Bridge(bridge)) => {
            for family in [Family::V4, Family::V6] {
                let Some(listed) = family.list()? else {
                    status.notes.push(family.no_chain());
                    continue;
                };
                let ours = family.ours(&listed, scope, ports);
                // The kernel's own comparison, beyond the listed text.
                let want = family.spec(bridge, ports, &scope.tag());
                let checked = family.check(&want)?;
                status.in_place &= checked && ours.iter().any(|r| r.current);
                status.rules.extend(ours);
            }
        }
        _ => {
            let table = Nft::list()?;
            let ours = table.rules(scope, ports);
            status.in_place = ours.iter().any(|(_, r)| r.current);
            status.rules.extend(ours.into_iter().map(|(_, r)| r));
        }
    }
    Ok(status)
}

/// The nftables chain of a scope.
fn chain(scope: &Scope) -> &'static str {
    match scope {
        Scope::Bridge(_) => "forward",
        Scope::Host => "output",
    }
}

fn joined(ports: &[u16]) -> String {
    ports.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
}

/// `iptables` or `ip6tables`, on `DOCKER-USER`.
#[derive(Debug, Clone, Copy)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn program(self) -> &'static str {
        match self {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        }
    }

    fn no_chain(self) -> String {
        match self {
            Family::V4 => "iptables has no DOCKER-USER chain".to_owned(),
            Family::V6 => "ip6tables has no DOCKER-USER chain it can use: IPv6 is not cut off \
                           (Docker gives IPv6 only to networks made with it; oe's have none)"
                .to_owned(),
        }
    }

    /// The rule's match and target, as `-I`, `-C` and `-D` take them.
    fn spec(self, bridge: &str, ports: &[u16], tag: &str) -> Vec<String> {
        [
            "-i",
            bridge,
            "-p",
            "tcp",
            "-m",
            "multiport",
            "--dports",
            &joined(ports),
            "-m",
            "comment",
            "--comment",
            tag,
            "-j",
            "REJECT",
            "--reject-with",
            "tcp-reset",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// `DOCKER-USER`'s rules as `-S` prints them, or `None` without that chain.
    fn list(self) -> Result<Option<Vec<String>>, Error> {
        let tool = Tool::new(self.program()).args(["-w", "-S", DOCKER_USER]);
        match read(tool) {
            Ok(text) => Ok(Some(text.lines().map(str::to_owned).collect())),
            Err(process::Error::NotFound { .. }) => Ok(None),
            // "No chain/target/match by that name", or no such table in this network namespace.
            Err(process::Error::Failed { .. }) => Ok(None),
            Err(source) => Err(Error::Tool { what: format!("listing {DOCKER_USER}"), source }),
        }
    }

    /// oe's rules of `scope` among `listed`; `current` when they match `ports` (any ports
    /// match when `ports` is empty).
    fn ours(self, listed: &[String], scope: &Scope, ports: &[u16]) -> Vec<Rule> {
        let tag = scope.tag();
        listed
            .iter()
            .filter(|line| words(line).windows(2).any(|w| w == ["--comment", tag.as_str()]))
            .map(|line| {
                let words = words(line);
                let listed_ports = words
                    .windows(2)
                    .find(|w| w[0] == "--dports")
                    .map(|w| w[1].to_owned())
                    .unwrap_or_default();
                let current = ports.is_empty()
                    || (listed_ports == joined(ports) && line.contains("tcp-reset"));
                Rule { tool: self.program(), text: line.clone(), current }
            })
            .collect()
    }

    /// Whether the kernel has exactly `spec` in `DOCKER-USER` (`-C`).
    fn check(self, spec: &[String]) -> Result<bool, Error> {
        let tool = Tool::new(self.program()).args(["-w", "-C", DOCKER_USER]).args(spec);
        match tool.run() {
            Ok(()) => Ok(true),
            Err(process::Error::Failed { .. }) => Ok(false),
            Err(source) => Err(Error::Tool { what: "checking the cutoff rule".to_owned(), source }),
        }
    }

    fn run<'a>(
        self,
        what: &str,
        command: impl IntoIterator<Item = &'a str>,
        spec: &[String],
    ) -> Result<(), Error> {
        let tool = Tool::new(self.program()).arg("-w").args(command).args(spec);
        tool.run()
            .map_err(|source| Error::Tool { what: format!("{}: {what}", self.program()), source })
    }

    /// Deletes a rule listed by `-S` (`-A DOCKER-USER …`): the same words after `-D`.
    fn delete(self, listed: &str) -> Result<(), Error> {
        let words: Vec<String> = words(listed).into_iter().skip(2).map(str::to_owned).collect();
        self.run("deleting a cutoff rule", ["-D", DOCKER_USER], &words)
    }
}

/// The words of a rule `-S` lists, unquoted (it quotes comments); oe's rules have no word
/// with a space in it.
fn words(listed: &str) -> Vec<&str> {
    listed.split_whitespace().map(|w| w.trim_matches('"')).collect()
}

/// What `nft -j list table inet oe_cutoff` shows: oe's rules, with their handles.
struct Nft {
    /// Every rule in the table.
    all: Vec<NftRule>,
}

struct NftRule {
    chain: String,
    handle: u64,
    comment: Option<String>,
    ports: Vec<u16>,
    rejects: bool,
    text: String,
}

impl Nft {
    /// The table, empty when it does not exist.
    fn list() -> Result<Nft, Error> {
        let tool = Tool::new("nft").args(["-j", "list", "table", "inet", NFT_TABLE]);
        let text = match read(tool) {
            Ok(text) => text,
            Err(e @ process::Error::Failed { .. })
                if e.stderr().is_some_and(|s| s.contains("No such file or directory")) =>
            {
                return Ok(Nft { all: Vec::new() });
            }
            Err(source) => {
                return Err(Error::Tool {
                    what: format!("listing nftables table {NFT_TABLE}"),
                    source,
                });
            }
        };
        let doc: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::Parse { what: "nft's JSON", message: e.to_string() })?;
        let items = doc["nftables"].as_array().cloned().unwrap_or_default();
        let rules: Vec<NftRule> =
            items.iter().filter_map(|item| item.get("rule")).map(NftRule::from_json).collect();
        Ok(Nft { all: rules })
    }

    /// oe's rules of `scope` with their handles; `current` when they reject `ports` (any
    /// ports when `ports` is empty).
    fn rules(&self, scope: &Scope, ports: &[u16]) -> Vec<(u64, Rule)> {
        let tag = scope.tag();
        self.all
            .iter()
            .filter(|r| r.chain == chain(scope) && r.comment.as_deref() == Some(&tag))
            .map(|r| {
                let current = ports.is_empty() || (r.ports == ports && r.rejects);
                (r.handle, Rule { tool: "nft", text: r.text.clone(), current })
            })
            .collect()
    }

    /// The table and its chains, created when missing (a no-op when they exist).
    fn skeleton() -> String {
        format!(
            "table inet {NFT_TABLE} {{\n\
             \tchain forward {{ type filter hook forward priority -1; policy accept; }}\n\
             \tchain output {{ type filter hook output priority -1; policy accept; }}\n\
             }}\n"
        )
    }

    fn add_rule(scope: &Scope, ports: &[u16]) -> String {
        let matched = match scope {
            Scope::Bridge(bridge) => format!("iifname \"{bridge}\""),
            Scope::Host => "oifname != \"lo\"".to_owned(),
        };
        let ports = ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        format!(
            "add rule inet {NFT_TABLE} {} {matched} tcp dport {{ {ports} }} counter reject with tcp reset comment \"{}\"\n",
            chain(scope),
            scope.tag()
        )
    }

    /// Runs `script` as one transaction: all of it, or nothing.
    fn run(script: &str) -> Result<(), Error> {
        let what = || "nft: changing the cutoff".to_owned();
        let mut nft = Tool::new("nft")
            .args(["-f", "-"])
            .spawn_writer()
            .map_err(|source| Error::Tool { what: what(), source })?;
        use std::io::Write as _;
        let written = nft.write_all(script.as_bytes());
        let closed = nft.close();
        closed.map_err(|source| Error::Tool { what: what(), source })?;
        written.map_err(|e| Error::Parse { what: "writing to nft", message: e.to_string() })
    }
}

impl NftRule {
    fn from_json(rule: &serde_json::Value) -> NftRule {
        let exprs = rule["expr"].as_array().cloned().unwrap_or_default();
        let mut ports = Vec::new();
        let mut rejects = false;
        let mut interface = String::new();
        for expr in &exprs {
            if let Some(m) = expr.get("match") {
                let field = &m["left"]["payload"];
                if field["protocol"] == "tcp" && field["field"] == "dport" && m["op"] == "==" {
                    ports = match &m["right"] {
                        serde_json::Value::Number(n) => n.as_u64().into_iter().collect::<Vec<_>>(),
                        right => right["set"]
                            .as_array()
                            .map(|set| set.iter().filter_map(serde_json::Value::as_u64).collect())
                            .unwrap_or_default(),
                    }
                    .into_iter()
                    .filter_map(|p| u16::try_from(p).ok())
                    .collect();
                }
                if let (Some(key), Some(op), Some(name)) =
                    (m["left"]["meta"]["key"].as_str(), m["op"].as_str(), m["right"].as_str())
                {
                    interface = format!("{key} {op} {name} ");
                }
            }
            if expr["reject"]["type"] == "tcp reset" {
                rejects = true;
            }
        }
        ports.sort_unstable();
        let chain = rule["chain"].as_str().unwrap_or_default().to_owned();
        let handle = rule["handle"].as_u64().unwrap_or_default();
        let comment = rule["comment"].as_str().map(str::to_owned);
        let text = format!(
            "chain {chain} handle {handle}: {interface}tcp dport {{ {} }}{}{}",
            joined(&ports),
            if rejects { " reject with tcp reset" } else { "" },
            comment.as_deref().map(|c| format!(" comment {c}")).unwrap_or_default(),
        );
        NftRule { chain, handle, comment, ports, rejects, text }
    }
}

/// A program's whole stdout.
fn read(tool: Tool) -> Result<String, process::Error> {
    use std::io::Read as _;
    let mut child = tool.spawn_reader()?;
    let mut text = String::new();
    let read = child.read_to_string(&mut text);
    child.close()?;
    read.map_err(|e| process::Error::Wait { tool: "reading".to_owned(), source: e })?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_keeps_one_cutoff_per_scope_and_refuses_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = Registry::path(&dir.path().join("oe/state.json"));
        assert!(Registry::read(&path).unwrap().cutoffs.is_empty());
        let mut registry = Registry::default();
        let bridge = Scope::bridge("oe-acme").unwrap();
        registry.insert(Wanted { scope: bridge.clone(), ports: vec![25] });
        registry.insert(Wanted { scope: bridge.clone(), ports: vec![25, 465] });
        registry.insert(Wanted { scope: Scope::Host, ports: vec![25] });
        registry.write(&path).unwrap();
        let read = Registry::read(&path).unwrap();
        assert_eq!(read.cutoffs.len(), 2);
        assert_eq!(read.cutoffs[0], Wanted { scope: bridge, ports: vec![25, 465] });
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

        std::fs::write(&path, r#"{"cutoffs":[{"scope":{"bridge":"x\" accept"},"ports":[25]}]}"#)
            .unwrap();
        assert!(matches!(Registry::read(&path), Err(Error::BadRegistry { .. })));
    }

    #[test]
    fn ports_are_checked_sorted_and_default_to_the_mail_ports() {
        assert_eq!(ports(&[]).unwrap(), vec![25, 110, 143, 465, 587, 993, 995, 2525]);
        assert_eq!(ports(&[993, 25, 465, 25]).unwrap(), vec![25, 465, 993]);
        assert!(matches!(ports(&[0, 25]), Err(Error::PortZero)));
        let many: Vec<u16> = (1..=16).collect();
        assert!(matches!(ports(&many), Err(Error::TooManyPorts(16))));
    }

    #[test]
    fn a_bridge_name_is_an_interface_name() {
        assert_eq!(Scope::bridge("oe-acme").unwrap(), Scope::Bridge("oe-acme".into()));
        for bad in ["", "a-name-longer-than-15", "br 0", "br/0", "br\"0", "br;x"] {
            assert!(Scope::bridge(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_listed_iptables_rules_of_a_scope_are_found_and_compared() {
        let scope = Scope::bridge("oe-acme").unwrap();
        let listed = [
            "-N DOCKER-USER",
            "-A DOCKER-USER -i oe-acme -p tcp -m multiport --dports 25,465 -m comment --comment \"oe-cutoff:oe-acme\" -j REJECT --reject-with tcp-reset",
            "-A DOCKER-USER -i oe-acme -p tcp -m multiport --dports 25 -m comment --comment oe-cutoff:oe-acme -j REJECT --reject-with tcp-reset",
            "-A DOCKER-USER -i oe-acme2 -p tcp -m multiport --dports 25,465 -m comment --comment oe-cutoff:oe-acme2 -j REJECT --reject-with tcp-reset",
            "-A DOCKER-USER -j RETURN",
        ]
        .map(str::to_owned);
        let ours = Family::V4.ours(&listed, &scope, &[25, 465]);
        assert_eq!(ours.iter().map(|r| r.current).collect::<Vec<_>>(), [true, false]);
        assert_eq!(Family::V4.ours(&listed, &scope, &[]).len(), 2);
    }

    #[test]
    fn an_nft_rule_is_read_from_its_json() {
        let json = serde_json::json!({
            "family": "inet", "table": "oe_cutoff", "chain": "forward", "handle": 7,
            "comment": "oe-cutoff:oe-acme",
            "expr": [
                {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "oe-acme"}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                           "right": {"set": [465, 25]}}},
                {"counter": {"packets": 0, "bytes": 0}},
                {"reject": {"type": "tcp reset"}}
            ]
        });
        let rule = NftRule::from_json(&json);
        assert_eq!(
            (rule.chain.as_str(), rule.handle, rule.ports.as_slice()),
            ("forward", 7, &[25, 465][..])
        );
        assert!(rule.rejects);
        let nft = Nft { all: vec![rule] };
        let scope = Scope::bridge("oe-acme").unwrap();
        assert!(nft.rules(&scope, &[25, 465])[0].1.current);
        assert!(!nft.rules(&scope, &[25])[0].1.current);
        assert!(nft.rules(&Scope::Host, &[25, 465]).is_empty());
    }
}
