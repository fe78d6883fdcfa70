//! Where a snapshot repository is: a directory, a client's repository on a backup server
//! reached over SSH (`ssh://[USER@]HOST[:PORT]/CLIENT`), or a bucket of S3-compatible object
//! storage (`s3://BUCKET[/PREFIX]`). Parsing and printing only.

use std::fmt;
use std::path::{Path, PathBuf};

use super::daemon::FromConfig;

/// A snapshot repository's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    Ssh(SshUrl),
    S3(S3Url),
}

/// `s3://BUCKET[/PREFIX]`: the repository under `PREFIX/` in `BUCKET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    /// Segments joined by `/`, without a leading or trailing one; empty for the bucket's root.
    pub prefix: String,
}

/// How `oe` reaches object storage: `mirror.s3` of the config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Options {
    /// The service's URL, `https://…` or `http://…` [default: AWS's, from the region].
    pub endpoint: Option<String>,
    /// [default: `us-east-1`].
    pub region: Option<String>,
    /// Whether the bucket is the URL's first path segment rather than part of the host name
    /// [default: true with an `endpoint`, false on AWS].
    pub path_style: Option<bool>,
    /// An AWS shared-credentials file (INI), mode 0600 [default: the environment's
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, else `AWS_PROFILE` of
    /// `~/.aws/credentials`].
    pub credentials_file: Option<PathBuf>,
}

/// Everything needed to open a repository wherever it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    pub ssh: SshOptions,
    pub s3: S3Options,
    /// The file holding an encrypted repository's passphrase (`mirror.passphrase_file`).
    pub passphrase_file: Option<PathBuf>,
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
        if let Some(rest) = text.strip_prefix("ssh://") {
            return SshUrl::parse(rest).map(Location::Ssh);
        }
        if let Some(rest) = text.strip_prefix("s3://") {
            return S3Url::parse(rest).map(Location::S3);
        }
        if text.contains("://") {
            return Err(format!("unknown scheme: {}", Location::ACCEPTED));
        }
        if text.is_empty() {
            return Err("empty".into());
        }
        Ok(Location::Local(PathBuf::from(text)))
    }

    /// The directory, for a local repository.
    pub fn local(&self) -> Option<&Path> {
        match self {
            Location::Local(path) => Some(path),
            Location::Ssh(_) | Location::S3(_) => None,
        }
    }
}

impl S3Url {
    fn parse(rest: &str) -> Result<S3Url, String> {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_end_matches('/');
        // S3's rules for bucket names (3 to 63 of lowercase letters, digits, '.' and '-',
        // starting and ending with a letter or digit).
        let b = bucket.as_bytes();
        let valid_bucket = (3..=63).contains(&b.len())
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b".-".contains(c))
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric();
        if !valid_bucket {
            return Err(format!(
                "invalid bucket {bucket:?} (3 to 63 lowercase letters, digits, '.', '-')"
            ));
        }
        if !prefix.is_empty() && !prefix.split('/').all(valid_ident) {
            return Err(format!(
                "invalid prefix {prefix:?} (segments of letters, digits, '.', '-', '_', each \
                 starting with a letter or digit)"
            ));
        }
        Ok(S3Url { bucket: bucket.to_owned(), prefix: prefix.to_owned() })
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "s3://{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
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
            Location::S3(url) => url.fmt(f),
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
    const ACCEPTED: &'static str =
        "a directory, ssh://[USER@]HOST[:PORT]/CLIENT or s3://BUCKET[/PREFIX]";
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
    fn parses_buckets_and_prefixes() {
        let url = |s| match Location::parse(s).unwrap() {
            Location::S3(url) => url,
            other => panic!("{other:?}"),
        };
        let full = url("s3://backups/hosting/acme.example.com/");
        assert_eq!(
            (full.bucket.as_str(), full.prefix.as_str()),
            ("backups", "hosting/acme.example.com")
        );
        assert_eq!(full.to_string(), "s3://backups/hosting/acme.example.com");
        let root = url("s3://my.bucket-1");
        assert_eq!((root.bucket.as_str(), root.prefix.as_str()), ("my.bucket-1", ""));
        assert_eq!(root.to_string(), "s3://my.bucket-1");
    }

    #[test]
    fn refuses_what_ssh_could_read_as_an_option_or_a_path() {
        for bad in [
            "",
            "ftp://host/x",
            "s3://",
            "s3://ab/x",
            "s3://Bucket/x",
            "s3://-bucket/x",
            "s3://bucket/../x",
            "s3://bucket/a//b",
            "s3://bucket/a/.hidden",
            "s3://bucket/a b",
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
