//! The caught messages: a Maildir (`tmp/` then `new/`, one file per message, written whole
//! and fsynced before the rename), so that any mail reader can open it too. A message's id is
//! its file name; the envelope is kept as the `Return-Path` and `Delivered-To` headers a
//! delivery agent adds. Retention (`max_messages`, `max_age`) is applied after each delivery
//! and by [`Store::purge`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mail_parser::{MessageParser, MimeHeaders};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} {}", path.display())]
    Io { what: &'static str, path: PathBuf, source: io::Error },
    #[error("'{0}' is not a message id (as oe mail ls shows them)")]
    BadId(String),
    #[error("no message '{0}'")]
    NoMessage(String),
}

impl crate::exit::ExitStatus for Error {
    fn exit_code(&self) -> crate::exit::ExitCode {
        use crate::exit::ExitCode;
        match self {
            Error::Io { .. } => ExitCode::Io,
            Error::BadId(_) => ExitCode::Usage,
            Error::NoMessage(_) => ExitCode::Failure,
        }
    }
}

/// How many messages are kept, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub max_messages: usize,
    pub max_age: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention { max_messages: 1000, max_age: Duration::from_secs(7 * 24 * 3600) }
    }
}

/// A message as `oe mail ls` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: String,
    /// When it arrived, seconds since the epoch.
    pub received: u64,
    pub from: String,
    /// The envelope's recipients (every one, Bcc included).
    pub to: Vec<String>,
    pub subject: String,
    pub size: u64,
}

/// A message as `oe mail show` shows it.
#[derive(Debug, Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub summary: Summary,
    /// The header's From and To, as written.
    pub header_from: String,
    pub header_to: String,
    pub date: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Serialize)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub size: usize,
}

pub struct Store {
    dir: PathBuf,
    retention: Retention,
}

impl Store {
    /// The Maildir at `dir`, made (0700) when missing.
    pub fn open(dir: &Path, retention: Retention) -> Result<Store, Error> {
        for sub in ["tmp", "new", "cur"] {
            let path = dir.join(sub);
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&path)
                .map_err(|source| Error::Io { what: "creating", path, source })?;
        }
        Ok(Store { dir: dir.to_owned(), retention })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores a message received from `from` for `to`: written to `tmp/`, fsynced, renamed
    /// into `new/`; nothing is left behind when a step fails (a full disk). Returns its id.
    pub fn deliver(&self, from: &str, to: &[String], data: &[u8]) -> Result<String, Error> {
        let id = new_id();
        let tmp = self.dir.join("tmp").join(&id);
        let written = (|| {
            let mut file =
                OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            let mut head = format!("Return-Path: <{}>\r\n", header_safe(from));
            for rcpt in to {
                head += &format!("Delivered-To: {}\r\n", header_safe(rcpt));
            }
            file.write_all(head.as_bytes())?;
            file.write_all(data)?;
            file.sync_all()?;
            fs::rename(&tmp, self.dir.join("new").join(&id))?;
            File::open(self.dir.join("new"))?.sync_all()
        })();
        if let Err(source) = written {
            let _ = fs::remove_file(&tmp);
            return Err(Error::Io { what: "storing a message in", path: self.dir.clone(), source });
        }
        if let Err(e) = self.apply_retention(None) {
            tracing::warn!("mail catcher: retention: {}", crate::exit::message(&e));
        }
        Ok(id)
    }

    /// The ids of the stored messages with their arrival time, oldest first.
    fn ids(&self) -> Result<Vec<(String, SystemTime)>, Error> {
        let dir = self.dir.join("new");
        let io = |source| Error::Io { what: "reading", path: dir.clone(), source };
        let mut ids = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            let Ok(meta) = entry.metadata() else { continue };
            ids.push((name, meta.modified().unwrap_or(UNIX_EPOCH)));
        }
        ids.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        Ok(ids)
    }

    /// Every message, newest first.
    pub fn list(&self) -> Result<Vec<Summary>, Error> {
        let mut all = Vec::new();
        for (id, _) in self.ids()?.into_iter().rev() {
            // A message removed meanwhile (retention, purge) is skipped.
            if let Ok(raw) = fs::read(self.dir.join("new").join(&id)) {
                all.push(summary(&id, &raw, received(&id)));
            }
        }
        Ok(all)
    }

    /// The message `id`, raw.
    pub fn raw(&self, id: &str) -> Result<Vec<u8>, Error> {
        let valid = !id.is_empty()
            && !id.starts_with('.')
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid {
            return Err(Error::BadId(id.to_owned()));
        }
        let path = self.dir.join("new").join(id);
        match fs::read(&path) {
            Ok(raw) => Ok(raw),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::NoMessage(id.to_owned())),
            Err(source) => Err(Error::Io { what: "reading", path, source }),
        }
    }

    /// The message `id`, parsed.
    pub fn show(&self, id: &str) -> Result<Shown, Error> {
        let raw = self.raw(id)?;
        let summary = summary(id, &raw, received(id));
        let parsed = MessageParser::default().parse(&raw);
        let Some(message) = parsed else {
            return Ok(Shown {
                summary,
                header_from: String::new(),
                header_to: String::new(),
                date: None,
                text: Some(String::from_utf8_lossy(&raw).into_owned()),
                html: None,
                attachments: Vec::new(),
            });
        };
        let addresses = |a: Option<&mail_parser::Address>| {
            a.map(|a| a.iter().filter_map(|a| a.address()).collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        };
        let attachments = message
            .attachments()
            .map(|part| Attachment {
                name: part.attachment_name().unwrap_or("(unnamed)").to_owned(),
                content_type: part
                    .content_type()
                    .map(|t| match t.subtype() {
                        Some(sub) => format!("{}/{sub}", t.ctype()),
                        None => t.ctype().to_owned(),
                    })
                    .unwrap_or_else(|| "application/octet-stream".to_owned()),
                size: part.contents().len(),
            })
            .collect();
        Ok(Shown {
            header_from: addresses(message.from()),
            header_to: addresses(message.to()),
            date: message.date().map(|d| d.to_rfc3339()),
            text: message.body_text(0).map(|t| t.into_owned()),
            html: message.body_html(0).map(|t| t.into_owned()),
            attachments,
            summary,
        })
    }

    /// Attachment `n` (0-based, as [`Shown::attachments`] lists them) of message `id`: its
    /// name and content.
    pub fn attachment(&self, id: &str, n: usize) -> Result<(String, Vec<u8>), Error> {
        let raw = self.raw(id)?;
        let missing = || Error::NoMessage(format!("{id} attachment {n}"));
        let message = MessageParser::default().parse(&raw).ok_or_else(missing)?;
        let part = message.attachments().nth(n).ok_or_else(missing)?;
        let name = part.attachment_name().unwrap_or("attachment").to_owned();
        Ok((name, part.contents().to_vec()))
    }

    /// Removes the messages older than `older_than` (every one with zero), then applies the
    /// retention; returns how many went.
    pub fn purge(&self, older_than: Option<Duration>) -> Result<usize, Error> {
        self.apply_retention(older_than)
    }

    fn apply_retention(&self, older_than: Option<Duration>) -> Result<usize, Error> {
        let max_age = older_than.map_or(self.retention.max_age, |d| d.min(self.retention.max_age));
        let now = SystemTime::now();
        let ids = self.ids()?;
        let over = ids.len().saturating_sub(self.retention.max_messages);
        let mut removed = 0;
        for (i, (id, modified)) in ids.iter().enumerate() {
            let age = now.duration_since(*modified).unwrap_or_default();
            if i < over || age >= max_age {
                let path = self.dir.join("new").join(id);
                match fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(source) => return Err(Error::Io { what: "removing", path, source }),
                }
            }
        }
        Ok(removed)
    }
}

/// A new message id: arrival time in microseconds, pid and a counter (unique on this host,
/// sorted by arrival).
fn new_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{micros}.{}_{n}", std::process::id())
}

/// The arrival time an id carries, in seconds.
fn received(id: &str) -> u64 {
    id.split('.').next().and_then(|m| m.parse::<u64>().ok()).map_or(0, |m| m / 1_000_000)
}

/// An envelope address as a header value: no line breaks.
fn header_safe(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

fn summary(id: &str, raw: &[u8], received: u64) -> Summary {
    let parsed = MessageParser::default().parse_headers(raw);
    let header = |name: &str| -> Vec<String> {
        parsed
            .as_ref()
            .map(|m| m.header_values(name).filter_map(|v| v.as_text().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let from = header("Return-Path").into_iter().next().unwrap_or_default();
    let from = from.trim_matches(|c| c == '<' || c == '>').to_owned();
    Summary {
        id: id.to_owned(),
        received,
        from,
        to: header("Delivered-To"),
        subject: parsed.as_ref().and_then(|m| m.subject()).unwrap_or_default().to_owned(),
        size: raw.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path, max_messages: usize) -> Store {
        let retention = Retention { max_messages, max_age: Duration::from_secs(3600) };
        Store::open(dir, retention).unwrap()
    }

    #[test]
    fn a_message_is_stored_listed_and_shown() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), 10);
        let data = b"From: Shop <shop@example.com>\r\nTo: a@example.org\r\nSubject: Invoice 7\r\n\
                     Content-Type: text/plain\r\n\r\nHello\r\n";
        let id = store
            .deliver("shop@example.com", &["a@example.org".into(), "b@x".into()], data)
            .unwrap();
        let list = store.list().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id, id);
        assert_eq!(list[0].from, "shop@example.com");
        assert_eq!(list[0].to, ["a@example.org", "b@x"]);
        assert_eq!(list[0].subject, "Invoice 7");
        let shown = store.show(&id).unwrap();
        assert_eq!(shown.text.as_deref().map(str::trim), Some("Hello"));
        assert_eq!(shown.header_from, "shop@example.com");
        assert!(fs::read_dir(dir.path().join("tmp")).unwrap().next().is_none());
    }

    #[test]
    fn ids_are_checked_and_retention_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), 2);
        let ids: Vec<String> = (0..3)
            .map(|i| {
                store
                    .deliver("f@x", &["t@x".into()], format!("Subject: {i}\r\n\r\n").as_bytes())
                    .unwrap()
            })
            .collect();
        let kept: Vec<String> = store.list().unwrap().into_iter().map(|s| s.id).collect();
        assert_eq!(kept, [ids[2].clone(), ids[1].clone()]);
        for bad in ["../x", "a/b", ".hidden", ""] {
            assert!(matches!(store.raw(bad), Err(Error::BadId(_))), "{bad}");
        }
        assert!(matches!(store.raw(&ids[0]), Err(Error::NoMessage(_))));
        assert_eq!(store.purge(Some(Duration::ZERO)).unwrap(), 2);
        assert!(store.list().unwrap().is_empty());
    }
}
