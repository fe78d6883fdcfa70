//! Where the passphrase of an encrypted repository comes from, in this order: the
//! environment (`OE_PASSPHRASE`; a new one for `key add`/`passwd`: `OE_NEW_PASSPHRASE`), a
//! file (`--passphrase-file`, `mirror.passphrase_file`; only its owner may read it; one line),
//! else the terminal, without echo (a new one asked twice). Without any, `None`: the caller
//! says what to give.

use std::fs;
use std::io::{self, IsTerminal};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::repo::Error;

pub type Passphrase = Zeroizing<String>;

/// The passphrase that opens an existing repository.
pub fn current(file: Option<&Path>, repository: &str) -> Result<Option<Passphrase>, Error> {
    if let Some(p) = from_env("OE_PASSPHRASE") {
        return Ok(Some(p));
    }
    if let Some(file) = file {
        return from_file(file).map(Some);
    }
    ask(&format!("passphrase of {repository}: "), false)
}

/// A new passphrase: for a new repository (`variable` = `OE_PASSPHRASE`, with `file`), or a
/// new key file (`OE_NEW_PASSPHRASE`, with its own file).
pub fn new(variable: &str, file: Option<&Path>, repository: &str) -> Result<Passphrase, Error> {
    let found = match (from_env(variable), file) {
        (Some(p), _) => Some(p),
        (None, Some(file)) => Some(from_file(file)?),
        (None, None) => ask(&format!("new passphrase of {repository}: "), true)?,
    };
    found.ok_or_else(|| Error::NeedsPassphrase { path: repository.into() })
}

fn from_env(variable: &str) -> Option<Passphrase> {
    std::env::var(variable).ok().filter(|p| !p.is_empty()).map(Zeroizing::new)
}

fn from_file(file: &Path) -> Result<Passphrase, Error> {
    let what = format!("reading the passphrase file {}", file.display());
    let mode = fs::metadata(file).map_err(Error::io(what.clone()))?.permissions().mode();
    if mode & 0o077 != 0 {
        let refused = io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("others may read it (mode {:o}): chmod 600 it", mode & 0o777),
        );
        return Err(Error::io(what)(refused));
    }
    let text = Zeroizing::new(fs::read_to_string(file).map_err(Error::io(what.clone()))?);
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(Error::io(what)(io::Error::new(io::ErrorKind::InvalidData, "it is empty")));
    }
    Ok(Zeroizing::new(line.to_owned()))
}

/// Asks on the terminal (none: `None`); a new passphrase twice, until both agree.
fn ask(prompt: &str, confirm: bool) -> Result<Option<Passphrase>, Error> {
    if !io::stdin().is_terminal() {
        return Ok(None);
    }
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(Error::io("reading the passphrase from the terminal"))
    };
    loop {
        let first = read(prompt)?;
        if first.is_empty() {
            eprintln!("an empty passphrase protects nothing");
            continue;
        }
        if !confirm || *read("again: ")? == *first {
            return Ok(Some(first));
        }
        eprintln!("the two differ; again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passphrase_file_only_its_owner_may_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pass");
        fs::write(&file, "s3cret words\nignored\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(*from_file(&file).unwrap(), "s3cret words");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(from_file(&file).unwrap_err().to_string().contains("passphrase file"));
        fs::write(&file, "\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(from_file(&file).is_err(), "an empty passphrase");
    }
}
