//! How a bad configuration file is reported: `FILE:LINE: KEY: found …; accepted: …`.
//!
//! Every YAML file of `oe` is read through [`from_yaml`], which wraps serde_yaml_ng's
//! deserializer in `serde_path_to_error`: whatever key a serde struct gains, an error at it is
//! reported with its full dotted path (map keys such as service, job and directory names
//! spelled out, `[N]` for list items), the line serde_yaml_ng locates, and serde's own
//! "invalid type/value", "unknown field" and "unknown variant" messages reworded into what
//! was found and what is accepted. The config's own types reject a value with [`invalid`],
//! from inside their visitor so that the line is the value's.
//!
//! Pure: no I/O.

use std::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use super::Error;

/// Deserializes `text`, read from `path`; an error names the line, key, value and what the
/// key accepts.
pub fn from_yaml<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, Error> {
    let deserializer = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = dotted(e.path());
        let inner = e.into_inner();
        Error::Invalid {
            path: path.to_path_buf(),
            line: inner.location().map(|l| l.line()),
            key,
            message: explain(&inner),
        }
    })
}

/// The error a config type returns for a value it does not accept: `found FOUND; accepted:
/// ACCEPTED`. Create it inside a visitor (`visit_str`, `visit_map`, …), where serde_yaml_ng
/// gives it the line of the value.
pub fn invalid<E: serde::de::Error>(found: impl fmt::Display, accepted: impl fmt::Display) -> E {
    E::custom(format_args!("found {found}; accepted: {accepted}"))
}

/// `services.odoo.postgres.port`, `mirror.dirs./home.exclude[1]`; empty at the top.
fn dotted(path: &serde_path_to_error::Path) -> String {
    let mut key = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => key.push_str(&format!("[{index}]")),
            Segment::Map { key: name } | Segment::Enum { variant: name } => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(name);
            }
            Segment::Unknown => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push('?');
            }
        }
    }
    key
}

/// serde_yaml_ng's message without the path and location it adds (the caller shows both),
/// with serde's standard wording turned into `found …; accepted: …`.
fn explain(e: &serde_yaml_ng::Error) -> String {
    let mut message = e.to_string();
    if let Some(location) = e.location() {
        let suffix = format!(" at line {} column {}", location.line(), location.column());
        if let Some(at) = message.find(&suffix) {
            message.truncate(at);
        }
    }
    let message = strip_path(&message);
    reword(message).unwrap_or_else(|| message.to_owned())
}

/// The forms of message that serde and [`invalid`] produce; serde_yaml_ng puts `PATH: ` before
/// them.
const MESSAGE_STARTS: [&str; 8] = [
    "found ",
    "invalid type: ",
    "invalid value: ",
    "invalid length ",
    "unknown field `",
    "unknown variant `",
    "missing field `",
    "duplicate field `",
];

fn strip_path(message: &str) -> &str {
    let starts_at = |i: usize| MESSAGE_STARTS.iter().any(|s| message[i..].starts_with(s));
    if starts_at(0) {
        return message;
    }
    message
        .match_indices(": ")
        .map(|(i, sep)| i + sep.len())
        .find(|&i| starts_at(i))
        .map_or(message, |i| &message[i..])
}

/// serde's standard messages (`serde::de::Error`'s provided methods) as `found …; accepted: …`.
fn reword(message: &str) -> Option<String> {
    if let Some(rest) =
        message.strip_prefix("invalid type: ").or_else(|| message.strip_prefix("invalid value: "))
    {
        let (found, expected) = rest.split_once(", expected ")?;
        return Some(format!("found {}; accepted: {}", unexpected(found), expected_text(expected)));
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once("`, ")?;
        let accepted = match expected {
            "there are no fields" => "no key here".to_owned(),
            _ => format!("the keys {}", names(expected)),
        };
        return Some(format!("found the unknown key `{field}`; accepted: {accepted}"));
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (variant, expected) = rest.split_once("`, ")?;
        return Some(format!("found {variant:?}; accepted: {}", names(expected)));
    }
    if let Some(field) = message.strip_prefix("missing field `") {
        let field = field.strip_suffix('`')?;
        return Some(format!("found no `{field}`; accepted: a mapping that has `{field}`"));
    }
    if let Some(field) = message.strip_prefix("duplicate field `") {
        let field = field.strip_suffix('`')?;
        return Some(format!("found `{field}` twice; accepted: each key once"));
    }
    None
}

/// serde's `Unexpected` as written in the file: `string "x"` → `"x"`, ``integer `5` `` → `5`.
fn unexpected(found: &str) -> String {
    for prefix in ["integer `", "floating point `", "boolean `", "character `"] {
        if let Some(value) = found.strip_prefix(prefix).and_then(|v| v.strip_suffix('`')) {
            return value.to_owned();
        }
    }
    if let Some(text) = found.strip_prefix("string ") {
        return text.to_owned();
    }
    match found {
        "map" => "a mapping".into(),
        "sequence" => "a list".into(),
        "unit value" => "an empty value".into(),
        other => other.into(),
    }
}

/// serde's `Expected` of primitive types in words; the config's own types already say it.
fn expected_text(expected: &str) -> String {
    let range = |max: u64| format!("a whole number from 0 to {max}");
    match expected {
        "u8" => range(u8::MAX.into()),
        "u16" => range(u16::MAX.into()),
        "u32" => range(u32::MAX.into()),
        "u64" => range(u64::MAX),
        "a sequence" => "a list".into(),
        "a boolean" => "true or false".into(),
        "path string" => "a path".into(),
        other if other.starts_with("struct ") || other.starts_with("a map") => {
            "a mapping of keys".into()
        }
        other => other.into(),
    }
}

/// ``one of `a`, `b` `` or `` `a` `` → `a, b`.
fn names(expected: &str) -> String {
    let list =
        expected.strip_prefix("expected one of ").or_else(|| expected.strip_prefix("expected "));
    list.unwrap_or(expected).replace('`', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_become_found_and_accepted() {
        let cases = [
            ("invalid type: map, expected a string", "found a mapping; accepted: a string"),
            (
                "invalid value: integer `99999`, expected u16",
                "found 99999; accepted: a whole number from 0 to 65535",
            ),
            (
                "invalid type: string \"x\", expected u32",
                "found \"x\"; accepted: a whole number from 0 to 4294967295",
            ),
            (
                "unknown field `hots`, expected one of `host`, `port`",
                "found the unknown key `hots`; accepted: the keys host, port",
            ),
            (
                "unknown field `x`, expected `exclude`",
                "found the unknown key `x`; accepted: the keys exclude",
            ),
            (
                "unknown variant `prod`, expected one of `production`, `staging`",
                "found \"prod\"; accepted: production, staging",
            ),
            (
                "missing field `schedule`",
                "found no `schedule`; accepted: a mapping that has `schedule`",
            ),
        ];
        for (serde, ours) in cases {
            assert_eq!(reword(serde).as_deref(), Some(ours), "{serde}");
        }
        assert_eq!(reword("something else"), None);
    }

    #[test]
    fn the_path_serde_yaml_ng_adds_is_stripped() {
        assert_eq!(
            strip_path("jobs.a: b.c: invalid type: map, expected a string"),
            "invalid type: map, expected a string"
        );
        assert_eq!(strip_path("found \"x\"; accepted: y"), "found \"x\"; accepted: y");
        assert_eq!(strip_path("did not find expected key"), "did not find expected key");
    }
}
