//! Where a snapshot repository is: a directory, or a client's repository on a backup server
//! reached over SSH (`ssh://[USER@]HOST[:PORT]/CLIENT`). Parsing and printing only.

use std::fmt;
use std::path::{Path, PathBuf};

use super::daemon::FromConfig;

/// A snapshot repository's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    Ssh(SshUrl),
}

/// `ssh://[USER@]HOST[:PORT]/CLIENT`: the repository of `CLIENT` on the backup server `HOST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshUrl {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub client: String,
}

/// How `oe` reaches a backup server: `mirror.ssh` and `mirror.cache_dir` of the config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshOptions {
    /// `-i`: the key to log in with [default: ssh's, from `~/.ssh/config` or the agent].
    pub identity_file: Option<PathBuf>,
    /// `-o UserKnownHostsFile`: the server's host key [default: `~/.ssh/known_hosts`].
    pub known_hosts: Option<PathBuf>,
    /// Where the index of remote repositories is cached.
    pub cache_dir: PathBuf,
}

/// Whether `ident` may name a client of a backup server: 1 to 253 of `[A-Za-z0-9._-]`,
/// starting with a letter or a digit (so never `.`, `..` or a hidden name), no `/`.
pub fn valid_ident(ident: &str) -> bool {
    let bytes = ident.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 253
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

impl Location {
    pub fn parse(text: &str) -> Result<Location, String> {
        match text.strip_prefix("ssh://") {
            Some(rest) => SshUrl::parse(rest).map(Location::Ssh),
            None if text.contains("://") => {
                Err("unknown scheme: a directory or ssh://[USER@]HOST[:PORT]/CLIENT".into())
            }
            None if text.is_empty() => Err("empty".into()),
            None => Ok(Location::Local(PathBuf::from(text))),
        }
    }

    /// The directory, for a local repository.
    pub fn local(&self) -> Option<&Path> {
        match self {
            Location::Local(path) => Some(path),
            Location::Ssh(_) => None,
        }
    }
}

impl SshUrl {
    fn parse(rest: &str) -> Result<SshUrl, String> {
        let (authority, client) =
            rest.split_once('/').ok_or("no client: ssh://[USER@]HOST[:PORT]/CLIENT")?;
        if !valid_ident(client) {
            return Err(format!(
                "invalid client name {client:?} (letters, digits, '.', '-', '_', starting with a \
                 letter or digit)"
            ));
        }
        let (user, host_port) = match authority.rsplit_once('@') {
            Some((user, rest)) => (Some(user), rest),
            None => (None, authority),
        };
        let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']').ok_or("unclosed '[' in the host")?;
            (host, after.strip_prefix(':'))
        } else {
            match host_port.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            }
        };
        let port = match port {
            Some(port) => Some(
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("invalid port {port:?}"))?,
            ),
            None => None,
        };
        // Each goes to ssh as one argument: it must not read as an option or carry a space.
        let plain = |s: &str| {
            !s.is_empty()
                && !s.starts_with('-')
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-:%".contains(&b))
        };
        if !plain(host) {
            return Err(format!("invalid host {host:?}"));
        }
        if let Some(user) = user {
            if !plain(user) || user.contains(':') {
                return Err(format!("invalid user {user:?}"));
            }
        }
        Ok(SshUrl {
            user: user.map(str::to_owned),
            host: host.to_owned(),
            port,
            client: client.to_owned(),
        })
    }

    /// `[USER@]HOST`, as ssh's destination argument.
    pub fn destination(&self) -> String {
        match &self.user {
            Some(user) => format!("{user}@{}", self.host),
            None => self.host.clone(),
        }
    }
}

impl fmt::Display for SshUrl {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("ssh://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "/{}", self.client)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Location::Local(path) => write!(f, "{}", path.display()),
            Location::Ssh(url) => url.fmt(f),
        }
    }
}

impl std::str::FromStr for Location {
    type Err = String;
    fn from_str(text: &str) -> Result<Location, String> {
        Location::parse(text)
    }
}

impl FromConfig for Location {
    const ACCEPTED: &'static str = "a directory or ssh://[USER@]HOST[:PORT]/CLIENT";
    fn from_config(text: &str) -> Result<Self, String> {
        Location::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_directories_and_backup_servers() {
        assert_eq!(Location::parse("/srv/repo").unwrap(), Location::Local("/srv/repo".into()));
        let url = |s| match Location::parse(s).unwrap() {
            Location::Ssh(url) => url,
            other => panic!("{other:?}"),
        };
        let full = url("ssh://backup@backup.example.org:10023/acme.example.com");
        assert_eq!(full.user.as_deref(), Some("backup"));
        assert_eq!(full.host, "backup.example.org");
        assert_eq!(full.port, Some(10023));
        assert_eq!(full.client, "acme.example.com");
        assert_eq!(full.to_string(), "ssh://backup@backup.example.org:10023/acme.example.com");
        let bare = url("ssh://host/c");
        assert_eq!((bare.destination(), bare.user, bare.port), ("host".into(), None, None));
        let v6 = url("ssh://[::1]:22/c");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", Some(22)));
        assert_eq!(v6.to_string(), "ssh://[::1]:22/c");
    }

    #[test]
    fn refuses_what_ssh_could_read_as_an_option_or_a_path() {
        for bad in [
            "",
            "s3://bucket/x",
            "ssh://host",
            "ssh://host/",
            "ssh://host/../etc",
            "ssh://host/a/b",
            "ssh://-oProxyCommand=x/c",
            "ssh://-l@host/c",
            "ssh://host:0/c",
            "ssh://host:99999/c",
            "ssh://ho st/c",
            "ssh://[::1/c",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }
}
