//! The client manifest: the `__manifest__.py` of a client's default app, which describes its
//! installation in the keys operators already use (`git-repos`, `docker-images`, `config`,
//! `port`, `odoo-license`, `env-ver`; see REFERENCE §6). Read with [`py_literal`], never run.
//!
//! Everything that later becomes an argument of `git` or `docker` is checked here: no value
//! starts with `-` (it would be read as an option), a checkout directory is one plain relative
//! name (no `..`, no `/`), an image reference uses only the characters Docker allows.
//!
//! Pure: text in, a [`ClientManifest`] or an [`Error`] naming the key out.

use super::py_literal::{self, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientManifest {
    pub repos: Vec<GitRepo>,
    pub images: Vec<Image>,
    /// `odoo.conf` lines, as `key`, `value`.
    pub config: Vec<(String, String)>,
    pub port: Option<u16>,
    pub license: License,
    pub env_version: Option<String>,
}

/// `'URL [dir] [-b branch]'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRepo {
    pub url: String,
    /// The checkout's directory under `sources/`: the one given, else the URL's last part
    /// without `.git`.
    pub dir: String,
    pub branch: Option<String>,
}

/// `'ROLE REFERENCE'`: `odoo org/odoo:18.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub role: String,
    pub reference: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum License {
    #[default]
    Community,
    Enterprise,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the manifest does not read as a Python literal: {0}")]
    Syntax(#[from] py_literal::Error),
    #[error("the manifest is {0}, not a dict")]
    NotADict(&'static str),
    #[error("the manifest's '{key}': {what}")]
    Key { key: &'static str, what: String },
}

impl ClientManifest {
    pub fn parse(text: &str) -> Result<ClientManifest, Error> {
        let manifest = py_literal::parse(text)?;
        if !matches!(manifest, Value::Dict(_)) {
            return Err(Error::NotADict(manifest.kind()));
        }
        let repos = each(&manifest, "git-repos", GitRepo::parse)?;
        if let Some(twice) = first_repeated(repos.iter().map(|r| r.dir.as_str())) {
            let what = format!("two repositories check out into '{twice}'");
            return Err(Error::Key { key: "git-repos", what });
        }
        let images = each(&manifest, "docker-images", Image::parse)?;
        if let Some(twice) = first_repeated(images.iter().map(|i| i.role.as_str())) {
            let what = format!("two images for '{twice}'");
            return Err(Error::Key { key: "docker-images", what });
        }
        let config = each(&manifest, "config", config_line)?;
        let port = match manifest.get("port") {
            None => None,
            Some(value) => Some(port(value).map_err(|what| Error::Key { key: "port", what })?),
        };
        let license = match text_of(&manifest, "odoo-license")?.as_deref() {
            None | Some("CE") => License::Community,
            Some("EE") => License::Enterprise,
            Some(other) => {
                let what = format!("'{other}' is neither 'CE' nor 'EE'");
                return Err(Error::Key { key: "odoo-license", what });
            }
        };
        let env_version = text_of(&manifest, "env-ver")?;
        Ok(ClientManifest { repos, images, config, port, license, env_version })
    }

    /// The image of `role` (`odoo`, `postgres`, `nginx`, `aeroo`, …), if the manifest lists one.
    pub fn image(&self, role: &str) -> Option<&str> {
        self.images.iter().find(|i| i.role == role).map(|i| i.reference.as_str())
    }
}

impl GitRepo {
    /// One `git-repos` line; also reads the `defapp` setting, a URL alone.
    pub fn parse(line: &str) -> Result<GitRepo, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (url, rest) = words.split_first().ok_or("an empty line")?;
        let (mut dir, mut branch) = (None, None);
        let mut rest = rest.iter();
        while let Some(&word) = rest.next() {
            match word {
                "-b" | "--branch" if branch.is_none() => {
                    let name =
                        rest.next().ok_or_else(|| format!("'{line}': -b without a branch"))?;
                    branch = Some(plain_argument(name, "branch")?);
                }
                word if dir.is_none() && !word.starts_with('-') => dir = Some(word.to_owned()),
                word => return Err(format!("'{line}': '{word}' is not understood")),
            }
        }
        let url = plain_argument(url, "URL")?;
        let dir = match dir {
            Some(dir) => dir,
            None => {
                let last = url.trim_end_matches('/').rsplit(['/', ':']).next().unwrap_or_default();
                last.strip_suffix(".git").unwrap_or(last).to_owned()
            }
        };
        if dir.is_empty() || dir == "." || dir == ".." || dir.contains('/') || dir.starts_with('-')
        {
            return Err(format!("'{line}': '{dir}' is not a plain directory name"));
        }
        Ok(GitRepo { url, dir, branch })
    }
}

impl Image {
    fn parse(line: &str) -> Result<Image, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [role, reference] = words[..] else {
            return Err(format!("'{line}' is not 'ROLE IMAGE'"));
        };
        let role_ok =
            role.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !role_ok || role.starts_with('-') {
            return Err(format!("'{line}': '{role}' is not a role name"));
        }
        let allowed = |b: u8| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b':' | b'@')
        };
        if reference.starts_with(['-', '/', ':', '@']) || !reference.bytes().all(allowed) {
            return Err(format!("'{line}': '{reference}' is not an image reference"));
        }
        Ok(Image { role: role.to_owned(), reference: reference.to_owned() })
    }
}

/// `key = value` of `odoo.conf`.
fn config_line(line: &str) -> Result<(String, String), String> {
    let (key, value) =
        line.split_once('=').ok_or_else(|| format!("'{line}' is not 'key = value'"))?;
    let key = key.trim();
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("'{line}': '{key}' is not an option name"));
    }
    if value.contains(['\n', '\r']) {
        return Err(format!("'{key}': a value on more than one line"));
    }
    Ok((key.to_owned(), value.trim().to_owned()))
}

fn port(value: &Value) -> Result<u16, String> {
    let number = match value {
        Value::Int(i) => u16::try_from(*i).ok(),
        Value::Str(s) => s.trim().parse::<u16>().ok(),
        other => return Err(format!("{} is not a port", other.kind())),
    };
    number.filter(|&p| p > 0).ok_or_else(|| format!("{value:?} is not a port (1 to 65535)"))
}

/// A value that `git` gets as an argument: not empty, not an option.
fn plain_argument(word: &str, what: &str) -> Result<String, String> {
    if word.is_empty() || word.starts_with('-') {
        return Err(format!("'{word}' is not a {what}"));
    }
    Ok(word.to_owned())
}

/// Each string of the list at `key`, read by `read`; its error names the key.
fn each<T>(
    manifest: &Value,
    key: &'static str,
    read: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, Error> {
    strings(manifest, key)?
        .iter()
        .map(|line| read(line).map_err(|what| Error::Key { key, what }))
        .collect()
}

/// The strings of a list (or tuple) at `key`; none when absent.
fn strings(manifest: &Value, key: &'static str) -> Result<Vec<String>, Error> {
    let items = match manifest.get(key) {
        None => return Ok(Vec::new()),
        Some(Value::List(items) | Value::Tuple(items)) => items,
        Some(other) => {
            let what = format!("{}, not a list of strings", other.kind());
            return Err(Error::Key { key, what });
        }
    };
    items
        .iter()
        .map(|item| match item {
            Value::Str(s) => Ok(s.clone()),
            other => {
                Err(Error::Key { key, what: format!("{} in a list of strings", other.kind()) })
            }
        })
        .collect()
}

/// The string at `key`, if any.
fn text_of(manifest: &Value, key: &'static str) -> Result<Option<String>, Error> {
    match manifest.get(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(Value::Int(i)) => Ok(Some(i.to_string())),
        Some(other) => Err(Error::Key { key, what: format!("{}, not a string", other.kind()) }),
    }
}

fn first_repeated<'a>(mut names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = std::collections::HashSet::new();
    names.find(|name| !seen.insert(*name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operators_format_reads_into_repositories_images_and_config() {
        let text = r#"{
            'name': 'Acme',
            'env-ver': '2',
            'odoo-license': 'EE',
            'port': '8069',
            'git-repos': [
                'https://git.example.org/acme/addons.git',
                'git@github.com:OCA/web.git oca-web -b 18.0',
                'https://git.example.org/acme/theme -b main theme',
            ],
            'docker-images': ['odoo org/odoo:18.0', 'postgres postgres:15-alpine',
                              'nginx nginx', 'aeroo adhoc/aeroo-docs@sha256:abc'],
            'config': ['workers = 4', 'limit_time_real=600'],
        }"#;
        let m = ClientManifest::parse(text).unwrap();
        let repo = |url: &str, dir: &str, branch: Option<&str>| GitRepo {
            url: url.into(),
            dir: dir.into(),
            branch: branch.map(Into::into),
        };
        assert_eq!(
            m.repos,
            [
                repo("https://git.example.org/acme/addons.git", "addons", None),
                repo("git@github.com:OCA/web.git", "oca-web", Some("18.0")),
                repo("https://git.example.org/acme/theme", "theme", Some("main")),
            ]
        );
        assert_eq!(m.image("odoo"), Some("org/odoo:18.0"));
        assert_eq!(m.image("aeroo"), Some("adhoc/aeroo-docs@sha256:abc"));
        assert_eq!(m.image("mailhog"), None);
        assert_eq!(
            m.config,
            [("workers".into(), "4".into()), ("limit_time_real".into(), "600".into())]
        );
        assert_eq!(
            (m.port, m.license, m.env_version.as_deref()),
            (Some(8069), License::Enterprise, Some("2"))
        );

        let bare = ClientManifest::parse("{'name': 'x'}").unwrap();
        assert_eq!((bare.repos.len(), bare.port, bare.license), (0, None, License::Community));
    }

    #[test]
    fn what_git_or_docker_would_misread_is_refused_naming_the_key() {
        let cases = [
            ("['a']", "is a list, not a dict"),
            (
                "{'git-repos': ['--upload-pack=evil x']}",
                "'git-repos': '--upload-pack=evil' is not a URL",
            ),
            ("{'git-repos': ['https://h/r.git ..']}", "'..' is not a plain directory name"),
            ("{'git-repos': ['https://h/r.git a/b']}", "'a/b' is not a plain directory name"),
            ("{'git-repos': ['https://h/r.git -b']}", "-b without a branch"),
            ("{'git-repos': ['https://h/r.git -b --exec=x']}", "'--exec=x' is not a branch"),
            (
                "{'git-repos': ['https://h/a/r.git', 'https://g/b/r.git']}",
                "two repositories check out into 'r'",
            ),
            ("{'git-repos': 'https://h/r.git'}", "'git-repos': a string, not a list of strings"),
            ("{'git-repos': [1]}", "an integer in a list of strings"),
            ("{'docker-images': ['odoo']}", "'odoo' is not 'ROLE IMAGE'"),
            (
                "{'docker-images': ['odoo --privileged']}",
                "'--privileged' is not an image reference",
            ),
            ("{'docker-images': ['odoo a b']}", "is not 'ROLE IMAGE'"),
            ("{'docker-images': ['odoo a', 'odoo b']}", "two images for 'odoo'"),
            ("{'config': ['workers']}", "'workers' is not 'key = value'"),
            ("{'config': ['a b = 1']}", "'a b' is not an option name"),
            ("{'port': '80a'}", "'port'"),
            ("{'port': 70000}", "is not a port"),
            ("{'odoo-license': 'XE'}", "'XE' is neither 'CE' nor 'EE'"),
            ("{'git-repos': [__import__('os')]}", "line 1, column 16"),
        ];
        for (text, expected) in cases {
            let e = ClientManifest::parse(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text}: {e}");
        }
    }
}
