//! SSH public keys as `authorized_keys` holds them: validating a key given to `oe server
//! add-key`, its fingerprint as `ssh-keygen -lf` prints it, and reading the lines of an
//! `authorized_keys` file (options, key, comment) the way sshd splits them, including the
//! `command="oe serve …"` that `add-key` writes.
//!
//! Pure, no I/O: [`super::authorized_keys`] reads and writes the file.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

use crate::exit::{ExitCode, ExitStatus};

/// The key types `add-key` accepts.
pub const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// Larger than any public key (an RSA key of 16384 bits is about 2 KiB).
const MAX_BLOB: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the key has options before it: give the key alone, `TYPE BASE64 [COMMENT]` (the line \
         of its .pub file); oe writes the options itself"
    )]
    HasOptions,
    #[error("unknown key type {kind:?}: use one of {}", KEY_TYPES.join(", "))]
    UnknownType { kind: String },
    #[error("no key data after {kind}: give the whole line of the .pub file")]
    Missing { kind: String },
    #[error("the data of the {kind} key is not valid base64: give the whole line of the .pub file")]
    BadBase64 { kind: String },
    #[error(
        "the data of the key is not a {kind} key (it does not start with its type): give the \
         whole line of the .pub file"
    )]
    TypeMismatch { kind: String },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Usage
    }
}

/// A validated public key: `TYPE BASE64 [COMMENT]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub kind: String,
    /// The base64 text, as given.
    pub data: String,
    /// What `data` decodes to: the key in SSH wire format.
    pub blob: Vec<u8>,
    /// The comment, without control characters, quotes or backslashes.
    pub comment: String,
}

impl PublicKey {
    /// Parses and checks `TYPE BASE64 [COMMENT]`: a known type, base64 that decodes, a blob
    /// that starts with the SSH string of the type. A line with options is refused.
    pub fn parse(text: &str) -> Result<PublicKey, Error> {
        let text = text.trim();
        let (kind, rest) = split_token(text);
        if !KEY_TYPES.contains(&kind) {
            let (_, after) = split_options(text);
            let (next, _) = split_token(after);
            return Err(if is_key_type(next) {
                Error::HasOptions
            } else {
                Error::UnknownType { kind: kind.into() }
            });
        }
        let (data, comment) = split_token(rest);
        if data.is_empty() {
            return Err(Error::Missing { kind: kind.into() });
        }
        let blob = decode(data).ok_or_else(|| Error::BadBase64 { kind: kind.into() })?;
        if !blob_has_type(&blob, kind) {
            return Err(Error::TypeMismatch { kind: kind.into() });
        }
        Ok(PublicKey { kind: kind.into(), data: data.into(), blob, comment: sanitize(comment) })
    }

    /// `SHA256:` and the unpadded base64 of the blob's SHA-256, as `ssh-keygen -lf` prints.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.blob)
    }
}

/// `SHA256:` and the unpadded base64 of the SHA-256 of `blob`.
pub fn fingerprint(blob: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(blob)))
}

fn decode(data: &str) -> Option<Vec<u8>> {
    if data.len() > MAX_BLOB * 4 / 3 + 4 {
        return None;
    }
    STANDARD.decode(data).ok().filter(|b| !b.is_empty())
}

/// Whether `blob` starts with the SSH string (u32 big-endian length, bytes) `kind`.
fn blob_has_type(blob: &[u8], kind: &str) -> bool {
    let Some((len, rest)) = blob.split_first_chunk::<4>() else { return false };
    u32::from_be_bytes(*len) as usize == kind.len() && rest.starts_with(kind.as_bytes())
}

/// A comment that cannot end the line or its quoting: no control characters, quotes,
/// backslashes or backticks; whitespace inside made spaces, around trimmed.
fn sanitize(comment: &str) -> String {
    let kept: String = comment
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\'' | '\\' | '`'))
        .collect();
    kept.trim().to_owned()
}

/// Whether `token` names a key type sshd knows (plain or certificate), beyond those
/// `add-key` accepts (`ssh-dss`, `…-cert-v01@openssh.com`).
fn is_key_type(token: &str) -> bool {
    KEY_TYPES.contains(&token)
        || ["ssh-", "ecdsa-sha2-", "sk-"].iter().any(|p| token.starts_with(p))
}

/// The first whitespace-separated token and the rest (leading whitespace removed).
fn split_token(text: &str) -> (&str, &str) {
    let text = text.trim_start_matches([' ', '\t']);
    let end = text.find([' ', '\t']).unwrap_or(text.len());
    (&text[..end], text[end..].trim_start_matches([' ', '\t']))
}

/// The options at the start of a line (up to the first space or tab outside double quotes,
/// where `\"` escapes a quote) and the rest.
fn split_options(text: &str) -> (&str, &str) {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => {
                return (&text[..i], text[i..].trim_start_matches([' ', '\t']));
            }
            _ => {}
        }
    }
    (text, "")
}

/// The options of a line, split at commas outside quotes: `(name, value)`, the value
/// unquoted and unescaped.
fn options(text: &str) -> Vec<(String, Option<String>)> {
    let mut parsed = Vec::new();
    let (mut name, mut value) = (String::new(), None::<String>);
    let (mut quoted, mut escaped) = (false, false);
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => {
                escaped = true;
                continue;
            }
            '"' => {
                quoted = !quoted;
                continue;
            }
            ',' if !quoted => {
                parsed.push((std::mem::take(&mut name), value.take()));
                continue;
            }
            '=' if !quoted && value.is_none() => {
                value = Some(String::new());
                continue;
            }
            _ => {}
        }
        value.as_mut().unwrap_or(&mut name).push(c);
    }
    parsed.push((name, value));
    parsed
}

/// A key line of an `authorized_keys` file, split as sshd splits it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLine {
    /// The options before the key (`command="…",restrict`); empty when none.
    pub options: String,
    pub kind: String,
    pub data: String,
    pub comment: String,
}

/// What the `command="… serve …"` of a line `add-key` wrote says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Serve {
    pub client: String,
    pub root: Option<String>,
    pub read_only: bool,
}

impl KeyLine {
    /// Splits `line` (without its newline); `None` for a blank line, a comment, or a line
    /// without a key.
    pub fn parse(line: &str) -> Option<KeyLine> {
        let line = line.trim_end_matches(['\r', ' ', '\t']).trim_start_matches([' ', '\t']);
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (first, _) = split_token(line);
        let (options, rest) = if is_key_type(first) { ("", line) } else { split_options(line) };
        let (kind, rest) = split_token(rest);
        let (data, comment) = split_token(rest);
        if kind.is_empty() || data.is_empty() {
            return None;
        }
        Some(KeyLine {
            options: options.into(),
            kind: kind.into(),
            data: data.into(),
            comment: comment.into(),
        })
    }

    /// The key's blob (its base64 text's bytes when that does not decode), to compare keys
    /// however their text is written.
    pub fn blob(&self) -> Vec<u8> {
        decode(&self.data).unwrap_or_else(|| self.data.as_bytes().to_vec())
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(&self.blob())
    }

    /// The `oe serve` session this line grants, when its `command=` runs `<oe> serve …
    /// --client IDENT`.
    pub fn serve(&self) -> Option<Serve> {
        let (_, command) = options(&self.options)
            .into_iter()
            .find(|(name, value)| name.eq_ignore_ascii_case("command") && value.is_some())?;
        let command = command?;
        let words: Vec<&str> = command.split_ascii_whitespace().collect();
        if words.get(1) != Some(&"serve") {
            return None;
        }
        let after = |flag: &str| {
            words.iter().position(|w| *w == flag).and_then(|i| words.get(i + 1)).copied()
        };
        Some(Serve {
            client: after("--client")?.into(),
            root: after("--root").map(Into::into),
            read_only: words.contains(&"--read-only"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA8PpG5VOKmXcWW9DauUYUcCLCeUe/qbzGLPo0DKLUdM";

    #[test]
    fn a_key_is_checked_down_to_its_blob() {
        let key = PublicKey::parse(&format!("  {ED25519}  root@acme \"x\"\t'y'\\ \n")).unwrap();
        assert_eq!(key.kind, "ssh-ed25519");
        assert_eq!(key.comment, "root@acme x y");
        assert_eq!(key.blob.len(), 51);
        // As `ssh-keygen -lf` printed it for this key.
        assert_eq!(key.fingerprint(), "SHA256:PDbh9U/TrBIKFgIn1XZ7umhw1uws0hQpesBnmgHHpgg");
        assert_eq!(PublicKey::parse(ED25519).unwrap().comment, "");

        let err = |text: &str| PublicKey::parse(text).unwrap_err();
        assert!(matches!(err(&format!("restrict {ED25519}")), Error::HasOptions));
        assert!(matches!(err(&format!("command=\"a b\",no-pty {ED25519} c")), Error::HasOptions));
        assert!(matches!(err("ssh-dss AAAAB3NzaC1kc3MAAACBAP"), Error::UnknownType { .. }));
        assert!(matches!(err("hello"), Error::UnknownType { .. }));
        assert!(matches!(err("ssh-ed25519"), Error::Missing { .. }));
        assert!(matches!(err("ssh-ed25519 AAAA!!"), Error::BadBase64 { .. }));
        // An RSA key's blob announced as ed25519.
        let rsa_blob = STANDARD.encode(b"\0\0\0\x07ssh-rsa\0\0\0\x03\x01\0\x01");
        assert!(matches!(err(&format!("ssh-ed25519 {rsa_blob}")), Error::TypeMismatch { .. }));
        assert!(PublicKey::parse(&format!("ssh-rsa {rsa_blob}")).is_ok());
        let short = STANDARD.encode(b"\0\0");
        assert!(matches!(err(&format!("ssh-rsa {short}")), Error::TypeMismatch { .. }));
    }

    /// The fingerprints of keys made by `ssh-keygen`, compared with what `ssh-keygen -lf`
    /// prints for them.
    #[test]
    fn fingerprints_are_those_of_ssh_keygen() {
        let keygen = std::path::Path::new("/usr/bin/ssh-keygen");
        if !keygen.exists() {
            println!(
                "skipped: /usr/bin/ssh-keygen is not installed (apt-get install openssh-client)"
            );
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        for (kind, bits) in [("ed25519", ""), ("rsa", "2048"), ("ecdsa", "384")] {
            let path = dir.path().join(kind);
            let mut cmd = std::process::Command::new(keygen);
            cmd.args(["-q", "-t", kind, "-N", "", "-C", "test key", "-f"]).arg(&path);
            if !bits.is_empty() {
                cmd.args(["-b", bits]);
            }
            assert!(cmd.status().unwrap().success());
            let line = std::fs::read_to_string(path.with_extension("pub")).unwrap();
            let key = PublicKey::parse(&line).unwrap();
            assert_eq!(key.comment, "test key");
            let out = std::process::Command::new(keygen)
                .arg("-lf")
                .arg(path.with_extension("pub"))
                .output()
                .unwrap();
            let printed = String::from_utf8(out.stdout).unwrap();
            let expected = printed.split_whitespace().nth(1).unwrap();
            assert_eq!(key.fingerprint(), expected, "{kind}: {printed}");
            assert_eq!(KeyLine::parse(&line).unwrap().fingerprint(), expected);
        }
    }

    #[test]
    fn lines_split_like_sshd_splits_them() {
        assert_eq!(KeyLine::parse(""), None);
        assert_eq!(KeyLine::parse("   # a comment"), None);
        assert_eq!(KeyLine::parse("garbage"), None);
        let plain = KeyLine::parse(&format!("{ED25519} me@host\r")).unwrap();
        assert_eq!((plain.options.as_str(), plain.comment.as_str()), ("", "me@host"));
        assert_eq!(plain.serve(), None);

        let line = format!(
            "command=\"/usr/bin/oe serve --root /srv/b --client acme.example.com --read-only\",\
             restrict {ED25519} root@acme"
        );
        let ours = KeyLine::parse(&line).unwrap();
        assert_eq!(ours.kind, "ssh-ed25519");
        assert_eq!(ours.comment, "root@acme");
        assert_eq!(ours.blob(), plain.blob());
        assert_eq!(
            ours.serve(),
            Some(Serve {
                client: "acme.example.com".into(),
                root: Some("/srv/b".into()),
                read_only: true
            })
        );
        let other = KeyLine::parse(&format!(
            "from=\"10.0.0.1\",command=\"echo \\\"hi, there\\\"\" {ED25519}"
        ))
        .unwrap();
        assert_eq!(other.kind, "ssh-ed25519");
        assert_eq!(other.serve(), None);
        assert_eq!(
            options(&other.options),
            vec![
                ("from".into(), Some("10.0.0.1".into())),
                ("command".into(), Some("echo \"hi, there\"".into()))
            ]
        );
    }
}
