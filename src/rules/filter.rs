//! rsync's exclude rules, as `rsync -a --exclude=RULE… DIR/ DEST/` applies them with `DIR` as
//! the transfer root (REFERENCE §4; rsync's `exclude.c` and `lib/wildmatch.c`).
//!
//! A rule is a pattern, optionally prefixed by `- ` (exclude, the default) or `+ ` (include);
//! a lone `!` clears the rules before it. Rules are tried in order and the first that matches
//! decides; no match means included. Callers do not descend into an excluded directory, so
//! nothing below it can be included again.
//!
//! How a pattern matches a path (relative to the root, `/`-separated, raw bytes):
//!
//! - a trailing `/` makes it match directories only (a symlink to a directory is not one);
//! - a leading `/` anchors it at the root: it must match the whole path;
//! - without a `/` (and without `**`) it matches the last component, at any depth;
//! - with an inner `/` but not anchored, it matches the last N+1 components for N slashes
//!   (`foo/bar` matches `a/foo/bar`); with `**` and not anchored, it is tried at the start and
//!   after every `/`;
//! - `*` matches any bytes but `/`, `?` one byte but `/`, `**` anything including `/`; a
//!   leading `**` also matches at the very top (`**/x` matches `x`), a trailing `/***`
//!   matches the directory itself too (`dir/***` is `dir` and everything below);
//! - `[...]` is a class (`!` or `^` negates it, ranges, `[:alpha:]` and the other POSIX
//!   classes, ASCII only) and never matches `/`; an unterminated class matches nothing;
//! - backslash escapes the next byte, but only in a pattern with `*`, `?` or `[`: without
//!   them the pattern is compared literally;
//! - matching is byte-exact and case-sensitive; trailing spaces belong to the pattern.
//!
//! Pure: no I/O.

use std::fmt;

/// The rules of one directory, in order.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    rules: Vec<Rule>,
}

#[derive(Clone, Debug)]
struct Rule {
    include: bool,
    /// The pattern without its trailing `/`, with its leading `/` if anchored.
    pattern: Vec<u8>,
    dir_only: bool,
    /// Slashes in `pattern` (the leading one included).
    slashes: usize,
    /// Has `*`, `?` or `[`.
    wild: bool,
    /// Has `**`.
    wild2: bool,
    /// Starts with `**`.
    wild2_prefix: bool,
    /// Ends with `***` (and has `**`).
    wild3_suffix: bool,
}

/// A rule rsync would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid exclude rule {rule:?}: {reason}")]
pub struct FilterError {
    pub rule: String,
    pub reason: &'static str,
}

impl Filter {
    /// Parses a configured `exclude:` list.
    pub fn parse(rules: &[String]) -> Result<Filter, FilterError> {
        let mut filter = Filter::default();
        for text in rules {
            let invalid = |reason| FilterError { rule: text.clone(), reason };
            let (include, pattern) = if let Some(p) = text.strip_prefix("- ") {
                (false, p)
            } else if let Some(p) = text.strip_prefix("+ ") {
                (true, p)
            } else if text == "!" {
                filter.rules.clear();
                continue;
            } else {
                (false, text.as_str())
            };
            if pattern.is_empty() {
                return Err(invalid("empty pattern"));
            }
            filter.rules.push(Rule::new(include, pattern.as_bytes()));
        }
        Ok(filter)
    }

    /// Whether `path` (relative to the root, no leading `/`) is excluded; `is_dir` when lstat
    /// says it is a directory.
    pub fn excluded(&self, path: &[u8], is_dir: bool) -> bool {
        self.rules.iter().find(|r| r.matches(path, is_dir)).is_some_and(|r| !r.include)
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.rules.iter().enumerate() {
            let sign = if r.include { '+' } else { '-' };
            let slash = if r.dir_only { "/" } else { "" };
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{sign} {}{slash}", String::from_utf8_lossy(&r.pattern))?;
        }
        Ok(())
    }
}

impl Rule {
    fn new(include: bool, pattern: &[u8]) -> Rule {
        let (pattern, dir_only) = match pattern.strip_suffix(b"/") {
            Some(p) if pattern.len() > 1 => (p, true),
            _ => (pattern, false),
        };
        let wild = pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
        let wild2 = wild && pattern.windows(2).any(|w| w == b"**");
        Rule {
            include,
            pattern: pattern.to_vec(),
            dir_only,
            slashes: pattern.iter().filter(|&&b| b == b'/').count(),
            wild,
            wild2,
            wild2_prefix: wild2 && pattern.starts_with(b"**"),
            wild3_suffix: wild2 && pattern.ends_with(b"***"),
        }
    }

    /// rsync's `rule_matches`.
    fn matches(&self, path: &[u8], is_dir: bool) -> bool {
        if path.is_empty() || (self.dir_only && !is_dir) {
            return false;
        }
        // Without a slash or `**`, only the last component counts.
        let name = if self.slashes == 0 && !self.wild2 {
            path.rsplit(|&b| b == b'/').next().unwrap_or(path)
        } else {
            path
        };
        let (anchored, pattern) = match self.pattern.strip_prefix(b"/") {
            Some(p) => (true, p),
            None => (false, &self.pattern[..]),
        };
        if !self.wild {
            return if anchored {
                name == pattern
            } else {
                name.ends_with(pattern)
                    && (name.len() == pattern.len() || name[name.len() - pattern.len() - 1] == b'/')
            };
        }
        let mut text = Vec::with_capacity(name.len() + 2);
        if self.wild2_prefix {
            text.push(b'/');
        }
        text.extend_from_slice(name);
        if is_dir && self.wild3_suffix {
            text.push(b'/');
        }
        let start = if !anchored && self.slashes > 0 && !self.wild2 {
            // The last `slashes + 1` components.
            match trailing_components(&text, self.slashes + 1) {
                Some(start) => start,
                None => return false,
            }
        } else {
            0
        };
        let retry_after_slashes = !anchored && self.wild2 && !self.wild2_prefix;
        wildmatch(pattern, &text[start..], retry_after_slashes)
    }
}

/// Where the last `count` `/`-separated components of `text` start; `None` if it has fewer.
fn trailing_components(text: &[u8], count: usize) -> Option<usize> {
    let mut left = count;
    for (i, &b) in text.iter().enumerate().rev() {
        if b == b'/' {
            left -= 1;
            if left == 0 {
                return Some(i + 1);
            }
        }
    }
    (left == 1).then_some(0)
}

/// rsync's `wildmatch_array` on one string: the pattern against the whole text; with
/// `retry_after_slashes`, also against what follows each `/`, until one matches or gives up.
fn wildmatch(pattern: &[u8], text: &[u8], retry_after_slashes: bool) -> bool {
    let mut matched = dowild(pattern, text);
    if matched != Match::True && retry_after_slashes && matched != Match::AbortAll {
        for (i, _) in text.iter().enumerate().filter(|&(_, &b)| b == b'/') {
            matched = dowild(pattern, &text[i + 1..]);
            if matched != Match::False && matched != Match::AbortToStarStar {
                break;
            }
        }
    }
    matched == Match::True
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Match {
    False,
    True,
    /// No later start can match either.
    AbortAll,
    /// No later start can match, unless a `**` before allows it.
    AbortToStarStar,
}

/// rsync's `dowild`: `pattern` against all of `text`.
fn dowild(pattern: &[u8], text: &[u8]) -> Match {
    let (mut p, mut t) = (0, 0);
    while p < pattern.len() {
        let p_ch = pattern[p];
        if t == text.len() && p_ch != b'*' {
            return Match::AbortAll;
        }
        match p_ch {
            b'\\' => {
                p += 1;
                if pattern.get(p) != text.get(t) {
                    return Match::False;
                }
            }
            b'?' => {
                if text[t] == b'/' {
                    return Match::False;
                }
            }
            b'*' => {
                p += 1;
                let special = pattern.get(p) == Some(&b'*');
                while pattern.get(p) == Some(&b'*') {
                    p += 1;
                }
                if p == pattern.len() {
                    // A trailing `**` matches everything, a trailing `*` no further `/`.
                    return if special || !text[t..].contains(&b'/') {
                        Match::True
                    } else {
                        Match::False
                    };
                }
                for i in t..text.len() {
                    let matched = dowild(&pattern[p..], &text[i..]);
                    if matched != Match::False {
                        if !special || matched != Match::AbortToStarStar {
                            return matched;
                        }
                    } else if !special && text[i] == b'/' {
                        return Match::AbortToStarStar;
                    }
                }
                return Match::AbortAll;
            }
            b'[' => match class(pattern, p, text[t]) {
                Some((true, end)) => p = end,
                Some((false, _)) => return Match::False,
                None => return Match::AbortAll,
            },
            _ => {
                if text[t] != p_ch {
                    return Match::False;
                }
            }
        }
        p += 1;
        t += 1;
    }
    if t == text.len() { Match::True } else { Match::False }
}

/// The class starting at `pattern[open]` (`[`) against `ch`: whether it matches and the
/// index of its closing `]`; `None` for an unterminated or malformed class.
fn class(pattern: &[u8], open: usize, ch: u8) -> Option<(bool, usize)> {
    let at = |i: usize| pattern.get(i).copied().unwrap_or(0);
    let mut p = open + 1;
    let mut p_ch = at(p);
    if p_ch == b'^' {
        p_ch = b'!';
    }
    let negated = p_ch == b'!';
    if negated {
        p += 1;
        p_ch = at(p);
    }
    let mut prev: u8 = 0;
    let mut matched = false;
    loop {
        if p_ch == 0 {
            return None;
        }
        if p_ch == b'\\' {
            p += 1;
            p_ch = at(p);
            if p_ch == 0 {
                return None;
            }
            matched |= ch == p_ch;
        } else if p_ch == b'-' && prev != 0 && at(p + 1) != 0 && at(p + 1) != b']' {
            p += 1;
            p_ch = at(p);
            if p_ch == b'\\' {
                p += 1;
                p_ch = at(p);
                if p_ch == 0 {
                    return None;
                }
            }
            matched |= ch <= p_ch && ch >= prev;
            p_ch = 0; // a range cannot start a range
        } else if p_ch == b'[' && at(p + 1) == b':' {
            let s = p + 2;
            let mut q = s;
            while at(q) != 0 && at(q) != b']' {
                q += 1;
            }
            if at(q) == 0 {
                return None;
            }
            if q < s + 1 || at(q - 1) != b':' {
                // No `:]`: a literal `[`.
                matched |= ch == b'[';
                p_ch = b'[';
                prev = p_ch;
                p += 1;
                p_ch = at(p);
                if p_ch == b']' {
                    break;
                }
                continue;
            }
            matched |= posix_class(&pattern[s..q - 1], ch)?;
            p = q;
            p_ch = 0;
        } else {
            matched |= ch == p_ch;
        }
        prev = p_ch;
        p += 1;
        p_ch = at(p);
        if p_ch == b']' {
            break;
        }
    }
    Some((matched != negated && ch != b'/', p))
}

/// `[:name:]` against `ch`, ASCII only; `None` for an unknown name.
fn posix_class(name: &[u8], ch: u8) -> Option<bool> {
    Some(match name {
        b"alnum" => ch.is_ascii_alphanumeric(),
        b"alpha" => ch.is_ascii_alphabetic(),
        b"blank" => ch == b' ' || ch == b'\t',
        b"cntrl" => ch.is_ascii_control(),
        b"digit" => ch.is_ascii_digit(),
        b"graph" => ch.is_ascii_graphic(),
        b"lower" => ch.is_ascii_lowercase(),
        b"print" => ch.is_ascii_graphic() || ch == b' ',
        b"punct" => ch.is_ascii_punctuation(),
        b"space" => ch.is_ascii_whitespace() || ch == 0x0b,
        b"upper" => ch.is_ascii_uppercase(),
        b"xdigit" => ch.is_ascii_hexdigit(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(rules: &[&str]) -> Filter {
        Filter::parse(&rules.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    /// (rules, path, is_dir, excluded)
    #[test]
    fn table() {
        let cases: &[(&[&str], &str, bool, bool)] = &[
            (&["foo"], "foo", false, true),
            (&["foo"], "a/b/foo", false, true),
            (&["foo"], "a/foo/b", false, false),
            (&["foo"], "xfoo", false, false),
            (&["/foo"], "foo", false, true),
            (&["/foo"], "a/foo", false, false),
            (&["foo/"], "a/foo", true, true),
            (&["foo/"], "a/foo", false, false),
            (&["foo/bar"], "a/foo/bar", false, true),
            (&["foo/bar"], "foo/bar", false, true),
            (&["foo/bar"], "xfoo/bar", false, false),
            (&["f*o/b?r"], "a/fxxo/bar", false, true),
            (&["f*o/b?r"], "fo/bar", false, true),
            (&["*"], "a/b", false, true),
            (&["*.tmp"], "a/.x.tmp", false, true),
            (&["/*/.cache/"], "u/.cache", true, true),
            (&["/*/.cache/"], "u/v/.cache", true, false),
            (&["**/x"], "x", false, true),
            (&["**/x"], "a/b/x", false, true),
            (&["/a/**/b"], "a/b", false, false),
            (&["/a/**/b"], "a/x/y/b", false, true),
            (&["dir/**"], "dir", true, false),
            (&["dir/**"], "dir/x/y", false, true),
            (&["dir/***"], "dir", true, true),
            (&["dir/***"], "p/dir/x", false, true),
            (&["a/**/c"], "x/a/b/c", false, true),
            (&["[ab]c"], "bc", false, true),
            (&["[!ab]c"], "bc", false, false),
            (&["[^ab]c"], "dc", false, true),
            (&["[a-c]x"], "bx", false, true),
            (&["[[:digit:]]*"], "9lives", false, true),
            (&["[[:alpha:]]"], "9", false, false),
            (&["a[/]b"], "a/b", false, false),
            (&["[abc"], "[abc", false, false),
            (&["a\\*b"], "a*b", false, true),
            (&["a\\*b"], "axb", false, false),
            (&["a\\b"], "a\\b", false, true),
            (&["trailing "], "trailing ", false, true),
            (&["trailing "], "trailing", false, false),
            (&["+ keep", "*"], "keep", false, false),
            (&["+ keep", "*"], "other", false, true),
            (&["*", "!", "+ x"], "y", false, false),
            (&["!x"], "!x", false, true),
            (&["- + x"], "+ x", false, true),
            (&["/"], "a", false, false),
        ];
        for &(rules, path, is_dir, want) in cases {
            assert_eq!(
                filter(rules).excluded(path.as_bytes(), is_dir),
                want,
                "{rules:?} {path} dir={is_dir}"
            );
        }
    }

    #[test]
    fn raw_bytes_match_byte_for_byte() {
        let f = Filter::parse(&["caf\u{e9}".into()]).unwrap();
        assert!(f.excluded("a/caf\u{e9}".as_bytes(), false));
        assert!(!f.excluded(b"a/caf\xe9", false));
        assert!(filter(&["?x"]).excluded(b"\xffx", false));
    }

    #[test]
    fn empty_patterns_are_errors() {
        for bad in ["", "- ", "+ "] {
            let err = Filter::parse(&[bad.to_string()]).unwrap_err();
            assert_eq!(err.rule, bad);
        }
    }
}
