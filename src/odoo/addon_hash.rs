//! The checksum of an Odoo addon's files, byte for byte the one click-odoo-update
//! (click-odoo-contrib's `_addon_hash.addon_hash`) computes, and the JSON it stores the
//! checksums of a database's installed addons in, under the `ir_config_parameter` key
//! [`INSTALLED_CHECKSUMS_KEY`]. So an installation can go from click-odoo-update to `oe
//! update` and back without a spurious update of every addon.
//!
//! The checksum is the SHA-1 of, for each file kept, its path relative to the addon (`/`
//! between directories, UTF-8) and then its content, nothing between them. The files come in
//! the order of Python's `os.walk` with sorted directory names: a directory's files sorted by
//! code point, then each subdirectory in the same way, subdirectories sorted. A file is left
//! out when its relative path matches one of the exclude patterns ([`ExcludePatterns`],
//! Python's `fnmatch`: `*` and `?` also match `/`), or when it is a `.po` file directly under
//! `i18n/` or `i18n_extra/` of a language not kept (`fr_BE` keeps `fr.po`, `fr_BE.po` and
//! `fr_CA.po`: only the part before the first `_` counts, on both sides; no languages given
//! keeps every `.po`).
//!
//! Where a directory holds something other than plain files and directories, this follows
//! what Python does, or fails where Python fails:
//! - a symbolic link to a directory is neither hashed nor entered (`os.walk` lists it as a
//!   directory and does not follow it); a symbolic link to a file is hashed as the file it
//!   points to, under its own name;
//! - a file that cannot be opened (a dangling link, no permission) is an error, as in Python,
//!   unless excluded;
//! - a name that is not UTF-8 is matched against the patterns as Python sees it (each byte
//!   that is not UTF-8 as the code point U+DC80 + byte, `surrogateescape`); a file whose path
//!   has such a name and is kept is an error ([`Error::NotUtf8`]), where click-odoo-update
//!   stops with a `UnicodeEncodeError`. Excluded, such a file changes nothing, as in Python;
//! - differences, where Python would give a checksum that says little: a directory that
//!   cannot be listed is an error here ([`Error::ReadDir`]) where `os.walk` silently leaves
//!   it out, and a kept entry that is neither a file nor a directory (a FIFO, a socket, a
//!   device) is an error ([`Error::NotAFile`]) where Python would block or read a device.
//!
//! Contents are streamed into the hash; memory does not grow with file sizes. It must not
//! write anything, follow a link to a directory, or know about the database: the caller
//! reads [`EXCLUDE_PATTERNS_KEY`] and the active languages (`res_lang.code`) and stores
//! [`checksums_json`]'s text.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use crate::exit::{ExitCode, ExitStatus};

/// The `ir_config_parameter` key of the installed addons' checksums (a JSON object).
pub const INSTALLED_CHECKSUMS_KEY: &str = "module_auto_update.installed_checksums";
/// The `ir_config_parameter` key of the exclude patterns (comma-separated), when set.
pub const EXCLUDE_PATTERNS_KEY: &str = "module_auto_update.exclude_patterns";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot list the directory {path}: {source}")]
    ReadDir { path: PathBuf, source: io::Error },
    #[error("cannot read {path}: {source}")]
    ReadFile { path: PathBuf, source: io::Error },
    #[error(
        "{path} is neither a file nor a directory; remove it from the addon or exclude it \
         ({EXCLUDE_PATTERNS_KEY})"
    )]
    NotAFile { path: PathBuf },
    #[error(
        "the name of {path} is not UTF-8 (click-odoo-update cannot hash it either); rename \
         it or exclude it ({EXCLUDE_PATTERNS_KEY})"
    )]
    NotUtf8 { path: PathBuf },
    #[error("the stored checksums ({INSTALLED_CHECKSUMS_KEY}) are not a JSON object: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "the stored checksum of addon '{addon}' ({INSTALLED_CHECKSUMS_KEY}) is {what}, \
         neither a string nor false"
    )]
    ChecksumValue { addon: String, what: &'static str },
}

impl ExitStatus for Error {
    fn exit_code(&self) -> ExitCode {
        match self {
            Error::ReadDir { .. } | Error::ReadFile { .. } => ExitCode::Io,
            Error::NotAFile { .. }
            | Error::NotUtf8 { .. }
            | Error::Json(_)
            | Error::ChecksumValue { .. } => ExitCode::BadInput,
        }
    }
}

/// A name or relative path as Python sees it: code points, a byte that is not UTF-8 as
/// U+DC80 + byte (`surrogateescape`, how `os.walk` decodes names on POSIX). `u32` because
/// `char` cannot hold those surrogates. Comparing two of them is Python's `str` order.
type PyStr = Vec<u32>;

fn py_str(bytes: &[u8]) -> PyStr {
    let mut out = Vec::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.extend(chunk.valid().chars().map(u32::from));
        out.extend(chunk.invalid().iter().map(|&b| 0xDC00 + u32::from(b)));
    }
    out
}

fn py_str_of(text: &str) -> PyStr {
    text.chars().map(u32::from).collect()
}

/// One pattern of Python's `fnmatch.fnmatch` on POSIX (case-sensitive), compiled the way
/// `fnmatch.translate` turns it into a regular expression, and matched without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// `*`, consecutive ones as one: any sequence, `/` included.
    Star,
    /// `?`, and `[!]`-like sets that exclude nothing: one code point, any.
    Any,
    Literal(u32),
    /// `[...]`: one code point in (or, negated, not in) the ranges; no ranges and not
    /// negated never matches.
    Set {
        negated: bool,
        ranges: Vec<(u32, u32)>,
    },
}

impl Token {
    fn matches_one(&self, c: u32) -> bool {
        match self {
            Token::Star => unreachable!("a star is not matched as one code point"),
            Token::Any => true,
            Token::Literal(l) => *l == c,
            Token::Set { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

const BANG: u32 = '!' as u32;
const CLOSE: u32 = ']' as u32;
const HYPHEN: u32 = '-' as u32;

impl Pattern {
    pub fn new(pattern: &str) -> Pattern {
        let pat = py_str_of(pattern);
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < pat.len() {
            let c = pat[i];
            i += 1;
            match char::from_u32(c) {
                Some('*') => {
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                Some('?') => tokens.push(Token::Any),
                Some('[') => match set_end(&pat, i) {
                    None => tokens.push(Token::Literal(c)),
                    Some(j) => {
                        tokens.push(set(&pat[i..j]));
                        i = j + 1;
                    }
                },
                _ => tokens.push(Token::Literal(c)),
            }
        }
        Pattern { tokens }
    }

    /// Whether `name` matches the whole pattern.
    fn matches(&self, name: &[u32]) -> bool {
        // The classic backtracking on the last star: each other token takes exactly one
        // code point, so going back to the latest star and letting it take one more is
        // enough (what the atomic groups of `fnmatch.translate` do).
        let (mut t, mut n) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        loop {
            if t < self.tokens.len() && self.tokens[t] == Token::Star {
                star = Some((t + 1, n));
                t += 1;
                continue;
            }
            if n == name.len() && t == self.tokens.len() {
                return true;
            }
            if n < name.len() && t < self.tokens.len() && self.tokens[t].matches_one(name[n]) {
                t += 1;
                n += 1;
                continue;
            }
            match star {
                Some((after, taken)) if taken < name.len() => {
                    star = Some((after, taken + 1));
                    t = after;
                    n = taken + 1;
                }
                _ => return false,
            }
        }
    }
}

/// Where the `]` closing a set opened just before `start` is: a `]` right after the `[` or
/// `[!` belongs to the set. `None`: no closing `]`, the `[` is a literal.
fn set_end(pat: &[u32], start: usize) -> Option<usize> {
    let mut j = start;
    if pat.get(j) == Some(&BANG) {
        j += 1;
    }
    if pat.get(j) == Some(&CLOSE) {
        j += 1;
    }
    (j..pat.len()).find(|&j| pat[j] == CLOSE)
}

/// The set between `[` and `]`, as `fnmatch.translate` reads it: a leading `!` negates; a
/// `-` between two characters makes a range, except right after a range (then it is a
/// literal), or first or last; a range whose end is below its start is dropped with both
/// ends (Python does it because `re` rejects such a range; a range that matches nothing would
/// do the same, kept here to follow Python step by step); nothing else is special (`\`, `^`,
/// `[` are literals). Checked against Python 3.11's `fnmatch`.
fn set(stuff: &[u32]) -> Token {
    // Pieces between range hyphens, each all literals; between two consecutive pieces, the
    // range from the last of one to the first of the next.
    let mut chunks: Vec<Vec<u32>> = Vec::new();
    let mut from = 0;
    let mut k = if stuff.first() == Some(&BANG) { 2 } else { 1 };
    while let Some(h) = (k..stuff.len()).find(|&h| stuff[h] == HYPHEN) {
        chunks.push(stuff[from..h].to_vec());
        from = h + 1;
        k = h + 3;
    }
    let last = &stuff[from..];
    if !last.is_empty() {
        chunks.push(last.to_vec());
    } else if let Some(previous) = chunks.last_mut() {
        previous.push(HYPHEN);
    }
    for k in (1..chunks.len()).rev() {
        if chunks[k - 1].last() > chunks[k].first() {
            let next = chunks.remove(k);
            let previous = &mut chunks[k - 1];
            previous.pop();
            previous.extend_from_slice(&next[1..]);
        }
    }
    // Never empty before the removal (each piece has a character); an empty range removed
    // may leave nothing, or only the `!`.
    let flat: usize = chunks.iter().map(Vec::len).sum();
    if flat == 0 {
        return Token::Set { negated: false, ranges: Vec::new() };
    }
    if flat == 1 && chunks[0] == [BANG] {
        return Token::Any;
    }
    let negated = chunks[0][0] == BANG;
    if negated {
        chunks[0].remove(0);
    }
    let mut ranges = Vec::new();
    for (index, chunk) in chunks.iter().enumerate() {
        // The first of a piece after the first piece ends the previous piece's range; the
        // last of a piece before the last piece starts a range.
        let skip_first = usize::from(index > 0);
        let skip_last = usize::from(index + 1 < chunks.len());
        let end = chunk.len().saturating_sub(skip_last).max(skip_first);
        ranges.extend(chunk[skip_first..end].iter().map(|&c| (c, c)));
        if index + 1 < chunks.len() {
            // A piece before another is never empty (only the first could lose its
            // characters, and then it is merged with all the rest).
            ranges.push((chunk[chunk.len() - 1], chunks[index + 1][0]));
        }
    }
    Token::Set { negated, ranges }
}

/// The exclude patterns of click-odoo-update: the text of [`EXCLUDE_PATTERNS_KEY`] split on
/// `,`, each stripped of surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcludePatterns {
    /// The text they were read from, as given (what a cache of checksums is keyed by).
    text: String,
    patterns: Vec<Pattern>,
}

impl ExcludePatterns {
    /// click-odoo-update's default, when the parameter is not set.
    pub const DEFAULT: &'static str = "*.pyc,*.pyo,i18n/*.pot,i18n_extra/*.pot,static/*,tests/*";

    /// Reads the parameter's text. Never fails: like `fnmatch`, every text is a pattern; an
    /// empty piece (`a,,b`) matches only an empty path, so nothing.
    pub fn parse(text: &str) -> ExcludePatterns {
        let patterns = text.split(',').map(|p| Pattern::new(p.trim_matches(py_space))).collect();
        ExcludePatterns { text: text.to_owned(), patterns }
    }

    /// The text they were read from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether `path` (relative to the addon, `/` between names) is excluded.
    pub fn matches(&self, path: &str) -> bool {
        self.matches_py(&py_str_of(path))
    }

    fn matches_py(&self, path: &[u32]) -> bool {
        self.patterns.iter().any(|p| p.matches(path))
    }
}

impl Default for ExcludePatterns {
    fn default() -> Self {
        ExcludePatterns::parse(ExcludePatterns::DEFAULT)
    }
}

/// What Python's `str.strip()` removes: `str.isspace()` characters. Rust's `char::is_whitespace`
/// differs on a few: the separators U+001C..U+001F count in Python, not in Rust.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The SHA-1 (lowercase hex) of the addon in `dir`, as click-odoo-update computes it; see the
/// module's documentation. `keep_langs` are language codes (`res_lang.code` of the active
/// languages, `fr_BE`); empty keeps every translation.
pub fn addon_hash(
    dir: &Path,
    exclude: &ExcludePatterns,
    keep_langs: &[String],
) -> Result<String, Error> {
    let keep: Vec<PyStr> = keep_langs
        .iter()
        .map(|code| py_str_of(code.split('_').next().unwrap_or_default()))
        .collect();
    let mut walk = Walk { exclude, keep, hasher: Sha1::new() };
    walk.directory(dir, &[])?;
    Ok(walk.hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The checksum of every addon directly under `dir`: each subdirectory holding a
/// `__manifest__.py` or an `__openerp__.py` (a file, or a link to one), by its name, as
/// [`addon_hash`] computes it. Other entries are left out; a missing `dir` gives an empty
/// map, as click-odoo-update finds no addon there. A link to a directory counts as that
/// directory, as for Odoo (`get_module_path` checks the manifest through links) and for
/// click-odoo-update (`os.walk` enters the directory it is given even when it is a link).
pub fn dir_checksums(
    dir: &Path,
    exclude: &ExcludePatterns,
    keep_langs: &[String],
) -> Result<BTreeMap<String, String>, Error> {
    let read_dir_error = |source| Error::ReadDir { path: dir.to_path_buf(), source };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(read_dir_error(e)),
    };
    let mut checksums = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(read_dir_error)?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(read_dir_error)?;
        let is_dir = file_type.is_dir()
            || (file_type.is_symlink() && fs::metadata(&path).is_ok_and(|m| m.is_dir()));
        if !is_dir {
            continue;
        }
        let manifest = ["__manifest__.py", "__openerp__.py"]
            .iter()
            .any(|m| fs::metadata(path.join(m)).is_ok_and(|m| m.is_file()));
        if !manifest {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(Error::NotUtf8 { path });
        };
        checksums.insert(name, addon_hash(&path, exclude, keep_langs)?);
    }
    Ok(checksums)
}

struct Walk<'a> {
    exclude: &'a ExcludePatterns,
    /// The kept languages, each up to its first `_`.
    keep: Vec<PyStr>,
    hasher: Sha1,
}

struct Entry {
    name: PyStr,
    path: PathBuf,
}

impl Walk<'_> {
    /// Hashes the directory `path`, which is `reldir` (empty for the addon itself) under the
    /// addon.
    fn directory(&mut self, path: &Path, reldir: &[u32]) -> Result<(), Error> {
        let read_dir_error = |source| Error::ReadDir { path: path.to_path_buf(), source };
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        for entry in fs::read_dir(path).map_err(read_dir_error)? {
            let entry = entry.map_err(read_dir_error)?;
            let file_type = entry.file_type().map_err(read_dir_error)?;
            let name = py_str(entry.file_name().as_encoded_bytes());
            let entry_path = entry.path();
            if file_type.is_dir() {
                dirs.push(Entry { name, path: entry_path });
            } else if file_type.is_symlink() {
                // `DirEntry.is_dir()` follows the link (an error counts as not a
                // directory); `os.walk` then lists a link to a directory among the
                // directories and does not enter it.
                if !fs::metadata(&entry_path).is_ok_and(|m| m.is_dir()) {
                    files.push(Entry { name, path: entry_path });
                }
            } else {
                files.push(Entry { name, path: entry_path });
            }
        }
        files.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        dirs.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        let i18n = reldir == py_str_of("i18n") || reldir == py_str_of("i18n_extra");
        for file in files {
            let relpath = join(reldir, &file.name);
            if self.exclude.matches_py(&relpath) || (i18n && !self.keeps(&file.name)) {
                continue;
            }
            self.file(&file.path, &relpath)?;
        }
        for dir in dirs {
            self.directory(&dir.path, &join(reldir, &dir.name))?;
        }
        Ok(())
    }

    /// Whether the file `name` of `i18n/` or `i18n_extra/` is kept: any but a `.po` file of a
    /// language not kept.
    fn keeps(&self, name: &[u32]) -> bool {
        if self.keep.is_empty() {
            return true;
        }
        match split_ext(name) {
            (base, ext) if ext == py_str_of(".po") => {
                let lang = base.split(|&c| c == '_' as u32).next().unwrap_or_default();
                self.keep.iter().any(|k| k == lang)
            }
            _ => true,
        }
    }

    fn file(&mut self, path: &Path, relpath: &[u32]) -> Result<(), Error> {
        let text: String = match relpath.iter().map(|&c| char::from_u32(c)).collect() {
            Some(text) => text,
            None => return Err(Error::NotUtf8 { path: path.to_path_buf() }),
        };
        let read_error = |source| Error::ReadFile { path: path.to_path_buf(), source };
        // Opened only once known to be a file: opening a FIFO would block.
        if !fs::metadata(path).map_err(read_error)?.is_file() {
            return Err(Error::NotAFile { path: path.to_path_buf() });
        }
        let mut file = File::open(path).map_err(read_error)?;
        self.hasher.update(text.as_bytes());
        io::copy(&mut file, &mut self.hasher).map_err(read_error)?;
        Ok(())
    }
}

fn join(reldir: &[u32], name: &[u32]) -> PyStr {
    if reldir.is_empty() {
        return name.to_vec();
    }
    let mut path = Vec::with_capacity(reldir.len() + 1 + name.len());
    path.extend_from_slice(reldir);
    path.push('/' as u32);
    path.extend_from_slice(name);
    path
}

/// Python's `os.path.splitext` of a name: the extension from the last `.`, unless only dots
/// come before it (`.po` has none).
fn split_ext(name: &[u32]) -> (&[u32], &[u32]) {
    let dot = '.' as u32;
    match name.iter().rposition(|&c| c == dot) {
        Some(i) if name[..i].iter().any(|&c| c != dot) => (&name[..i], &name[i..]),
        _ => (name, &[]),
    }
}

/// The text click-odoo-update stores under [`INSTALLED_CHECKSUMS_KEY`]: Python's
/// `json.dumps` of a dict, `{"name": "sha1", ...}` with `", "` and `": "` between items and
/// keys, non-ASCII characters escaped. `None` is written `false`: what click-odoo-update
/// stores for an installed addon whose directory it did not find.
///
/// click-odoo-update's keys come in the order of `ir_module_module` rows as PostgreSQL
/// returns them (no `ORDER BY`); these are sorted by name. It reads the text back with
/// `json.loads` into a dict, so the order changes nothing for it; each value is the same
/// text.
pub fn checksums_json(map: &BTreeMap<String, Option<String>>) -> String {
    let mut out = String::from("{");
    for (index, (name, checksum)) in map.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        push_json_str(&mut out, name);
        out.push_str(": ");
        match checksum {
            Some(checksum) => push_json_str(&mut out, checksum),
            None => out.push_str("false"),
        }
    }
    out.push('}');
    out
}

/// A JSON string as Python's `json.dumps` writes it with `ensure_ascii` (its default).
fn push_json_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// Reads the text stored under [`INSTALLED_CHECKSUMS_KEY`] (by click-odoo-update or by
/// [`checksums_json`]): a JSON object of addon names to checksums, `false` (`None`) for an
/// addon that was not found. An empty text is no checksums, as click-odoo-update reads it.
pub fn parse_checksums(text: &str) -> Result<BTreeMap<String, Option<String>>, Error> {
    if text.is_empty() {
        return Ok(BTreeMap::new());
    }
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)?;
    object
        .into_iter()
        .map(|(addon, value)| match value {
            serde_json::Value::String(checksum) => Ok((addon, Some(checksum))),
            serde_json::Value::Bool(false) => Ok((addon, None)),
            other => {
                let what = match other {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "true",
                    serde_json::Value::Number(_) => "a number",
                    serde_json::Value::Array(_) => "a list",
                    _ => "an object",
                };
                Err(Error::ChecksumValue { addon, what })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
