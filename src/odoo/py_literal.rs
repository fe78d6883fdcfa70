//! Python literals, as `ast.literal_eval` reads them: what an Odoo `__manifest__.py` is (a
//! dict of strings, lists, numbers and booleans, with comments). Read, never run: a name, a
//! call or an operator is an error naming its line and column.
//!
//! Hand-written because the crate of the field (`py_literal`) reads no comments, which every
//! real manifest has. Supported: dicts, lists, tuples, strings (single, double and triple
//! quotes, `r`/`u` prefixes, the usual escapes, adjacent strings joined), integers, floats,
//! `True`/`False`/`None`, a leading minus, comments, and any whitespace or newline inside
//! brackets. Not: bytes, sets, f-strings, complex numbers. Nesting is bounded ([`MAX_DEPTH`]),
//! so hostile input costs no more than its length.
//!
//! Pure: text in, a [`Value`] or an [`Error`] out.

/// Deepest nesting of brackets read.
pub const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Keys and values in the order written.
    Dict(Vec<(Value, Value)>),
}

impl Value {
    /// A short name of the value's type, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::None => "None",
            Value::List(_) => "a list",
            Value::Tuple(_) => "a tuple",
            Value::Dict(_) => "a dict",
        }
    }

    /// The value of `key` in a dict with string keys.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(items) => {
                items.iter().find(|(k, _)| matches!(k, Value::Str(s) if s == key)).map(|(_, v)| v)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {what}")]
pub struct Error {
    pub line: usize,
    pub column: usize,
    pub what: String,
}

/// Parses one literal, alone in `text` but for whitespace and comments.
pub fn parse(text: &str) -> Result<Value, Error> {
    let mut parser = Parser { text, at: 0 };
    let value = parser.value(0)?;
    parser.skip_blank();
    if parser.at < text.len() {
        return Err(parser.error(format!("{} after the literal", parser.found())));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next character.
    at: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn error(&self, what: String) -> Error {
        let before = &self.text[..self.at];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Error { line, column, what }
    }

    /// What is at the current position, for messages.
    fn found(&self) -> String {
        let line = self.rest().lines().next().unwrap_or_default().trim_end();
        match line {
            "" if self.at >= self.text.len() => "the end of the text".into(),
            "" => "the end of the line".into(),
            line => format!("`{}`", line.chars().take(24).collect::<String>()),
        }
    }

    /// Skips whitespace, newlines, line continuations and comments.
    fn skip_blank(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n', '\x0c']);
            self.at += rest.len() - trimmed.len();
            if let Some(comment) = self.rest().strip_prefix('#') {
                self.at += 1 + comment.find('\n').unwrap_or(comment.len());
            } else if self.rest().starts_with("\\\n") {
                self.at += 2;
            } else {
                return;
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        self.skip_blank();
        if depth >= MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} brackets")));
        }
        match self.peek() {
            Some('{') => self.dict(depth),
            Some('[') => self.sequence(depth, ']').map(Value::List),
            Some('(') => self.tuple(depth),
            Some('\'' | '"') => self.strings(),
            Some('r' | 'R' | 'u' | 'U') if self.rest()[1..].starts_with(['\'', '"']) => {
                self.strings()
            }
            Some(c) if c.is_ascii_digit() || c == '.' || c == '-' || c == '+' => self.number(),
            Some(c) if c.is_alphabetic() || c == '_' => self.word(),
            _ => Err(self.error(format!("expected a literal, found {}", self.found()))),
        }
    }

    /// `(` … `)`: a parenthesized value, or a tuple (a comma, or nothing inside).
    fn tuple(&mut self, depth: usize) -> Result<Value, Error> {
        let open = self.at;
        self.at += 1;
        self.skip_blank();
        if self.peek() == Some(')') {
            self.at += 1;
            return Ok(Value::Tuple(Vec::new()));
        }
        let first = self.value(depth + 1)?;
        self.skip_blank();
        if self.peek() == Some(')') {
            self.at += 1;
            return Ok(first);
        }
        self.at = open;
        self.sequence(depth, ')').map(Value::Tuple)
    }

    /// Comma-separated values up to `close` (a trailing comma allowed); at the opening bracket.
    fn sequence(&mut self, depth: usize, close: char) -> Result<Vec<Value>, Error> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            if self.peek() == Some(close) {
                self.at += 1;
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            self.after_item(close)?;
        }
    }

    /// After an item: a comma (then maybe `close`), or `close`.
    fn after_item(&mut self, close: char) -> Result<(), Error> {
        self.skip_blank();
        match self.peek() {
            Some(',') => {
                self.at += 1;
                Ok(())
            }
            Some(c) if c == close => Ok(()),
            _ => Err(self.error(format!("expected `,` or `{close}`, found {}", self.found()))),
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Value, Error> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            if self.peek() == Some('}') {
                self.at += 1;
                return Ok(Value::Dict(items));
            }
            let key = self.value(depth + 1)?;
            if matches!(key, Value::List(_) | Value::Dict(_)) {
                return Err(self.error(format!("{} cannot be a dict key", key.kind())));
            }
            self.skip_blank();
            if self.peek() != Some(':') {
                return Err(self.error(format!("expected `:`, found {}", self.found())));
            }
            self.at += 1;
            let value = self.value(depth + 1)?;
            items.push((key, value));
            self.after_item('}')?;
        }
    }

    /// One string, or several adjacent ones joined (`'a' 'b'` is `'ab'`).
    fn strings(&mut self) -> Result<Value, Error> {
        let mut joined = self.string()?;
        loop {
            let before = self.at;
            self.skip_blank();
            let prefixed = |rest: &str| {
                let rest = rest.strip_prefix(['r', 'R', 'u', 'U']).unwrap_or(rest);
                rest.starts_with(['\'', '"'])
            };
            if prefixed(self.rest()) {
                joined.push_str(&self.string()?);
            } else {
                self.at = before;
                return Ok(Value::Str(joined));
            }
        }
    }

    /// A string literal with its optional `r` or `u` prefix.
    fn string(&mut self) -> Result<String, Error> {
        let start = self.at;
        let mut raw = false;
        if let Some(c @ ('r' | 'R' | 'u' | 'U')) = self.peek() {
            raw = matches!(c, 'r' | 'R');
            self.at += 1;
        }
        let quote = self.peek().expect("called at a quote");
        let triple: String = std::iter::repeat_n(quote, 3).collect();
        let long = self.rest().starts_with(&triple);
        self.at += if long { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                self.at = start;
                return Err(self.error("a string that never ends".into()));
            };
            if long && self.rest().starts_with(&triple) {
                self.at += 3;
                return Ok(out);
            }
            if !long && c == quote {
                self.at += 1;
                return Ok(out);
            }
            if !long && c == '\n' {
                self.at = start;
                return Err(self.error("a string that ends at the end of its line".into()));
            }
            self.at += c.len_utf8();
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(next) = self.peek() else { continue };
            if raw {
                out.push('\\');
                out.push(next);
                self.at += next.len_utf8();
                continue;
            }
            self.escape(next, &mut out)?;
        }
    }

    /// The escape whose character after the backslash is `c` (the position is at `c`).
    fn escape(&mut self, c: char, out: &mut String) -> Result<(), Error> {
        self.at += c.len_utf8();
        let simple = match c {
            '\n' => Some(None),
            '\\' => Some(Some('\\')),
            '\'' => Some(Some('\'')),
            '"' => Some(Some('"')),
            'n' => Some(Some('\n')),
            't' => Some(Some('\t')),
            'r' => Some(Some('\r')),
            '0' => Some(Some('\0')),
            'a' => Some(Some('\x07')),
            'b' => Some(Some('\x08')),
            'f' => Some(Some('\x0c')),
            'v' => Some(Some('\x0b')),
            _ => None,
        };
        if let Some(pushed) = simple {
            out.extend(pushed);
            return Ok(());
        }
        let digits = match c {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            // Python keeps an unknown escape as written.
            _ => {
                out.push('\\');
                out.push(c);
                return Ok(());
            }
        };
        let hex = self.rest().get(..digits).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(ch) = hex.and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32)
        else {
            return Err(self.error(format!("a bad `\\{c}` escape")));
        };
        self.at += digits;
        out.push(ch);
        Ok(())
    }

    fn number(&mut self) -> Result<Value, Error> {
        let start = self.at;
        let sign = self.rest().starts_with(['-', '+']);
        if sign {
            self.at += 1;
            self.skip_blank();
        }
        let negative = self.text[start..self.at].starts_with('-');
        // Letters, digits, `.`, `_`, and a sign right after an exponent's `e`.
        let mut len = 0;
        let mut previous = ' ';
        for c in self.rest().chars() {
            let exponent_sign = matches!(c, '+' | '-') && matches!(previous, 'e' | 'E');
            if !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || exponent_sign) {
                break;
            }
            len += 1;
            previous = c;
        }
        let word: String = self.rest()[..len].chars().filter(|&c| c != '_').collect();
        let (radix, body) = match word.get(..2) {
            Some("0x" | "0X") => (16, &word[2..]),
            Some("0o" | "0O") => (8, &word[2..]),
            Some("0b" | "0B") => (2, &word[2..]),
            _ => (10, &word[..]),
        };
        let parsed = if radix == 10 && word.contains(['.', 'e', 'E']) {
            word.parse::<f64>().ok().map(|f| Value::Float(if negative { -f } else { f }))
        } else {
            // Through i128, so that the most negative i64 reads too.
            i128::from_str_radix(body, radix)
                .ok()
                .and_then(|i| i64::try_from(if negative { -i } else { i }).ok())
                .map(Value::Int)
        };
        match parsed {
            Some(value) if !word.is_empty() => {
                self.at += len;
                Ok(value)
            }
            _ => {
                self.at = start;
                Err(self.error(format!("not a number: {}", self.found())))
            }
        }
    }

    fn word(&mut self) -> Result<Value, Error> {
        let len = self
            .rest()
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len());
        let value = match &self.rest()[..len] {
            "True" => Value::Bool(true),
            "False" => Value::Bool(false),
            "None" => Value::None,
            _ => {
                return Err(self.error(format!(
                    "{} is not a literal (the manifest is read, never run)",
                    self.found()
                )));
            }
        };
        self.at += len;
        Ok(value)
    }
}

#[cfg(test)]
mod tests;
