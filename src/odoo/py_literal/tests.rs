use proptest::prelude::*;

use super::*;

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

#[test]
fn a_real_manifest_reads_with_its_comments_quotes_and_trailing_commas() {
    let text = r#"# -*- coding: utf-8 -*-
# Copyright Acme
{
    'name': "Acme defapp",
    'version': '18.0.1.0.0',
    'summary': """Multi
    line""",
    'depends': ['base', 'mail'],  # comment after an item
    'git-repos': [
        'https://git.example.org/acme/addons.git addons -b 18.0',
        'https://github.com/OCA/web.git'
        ' oca-web',
    ],
    'data': [],
    'sequence': -3,
    'price': 1.5,
    'installable': True,
    'auto_install': False,
    'external_dependencies': {'python': ('lxml',), 'bin': ()},
    'icon': None,
    'escapes': 'tab\there \'q\' \x41\u00e9 \\ back' r'\d+',
}
"#;
    let value = parse(text).unwrap();
    assert_eq!(value.get("name"), Some(&s("Acme defapp")));
    assert_eq!(value.get("summary"), Some(&s("Multi\n    line")));
    assert_eq!(value.get("depends"), Some(&Value::List(vec![s("base"), s("mail")])));
    assert_eq!(
        value.get("git-repos"),
        Some(&Value::List(vec![
            s("https://git.example.org/acme/addons.git addons -b 18.0"),
            s("https://github.com/OCA/web.git oca-web"),
        ]))
    );
    assert_eq!(value.get("data"), Some(&Value::List(vec![])));
    assert_eq!(value.get("sequence"), Some(&Value::Int(-3)));
    assert_eq!(value.get("price"), Some(&Value::Float(1.5)));
    assert_eq!(value.get("installable"), Some(&Value::Bool(true)));
    assert_eq!(value.get("auto_install"), Some(&Value::Bool(false)));
    assert_eq!(value.get("icon"), Some(&Value::None));
    let deps = value.get("external_dependencies").unwrap();
    assert_eq!(deps.get("python"), Some(&Value::Tuple(vec![s("lxml")])));
    assert_eq!(deps.get("bin"), Some(&Value::Tuple(vec![])));
    assert_eq!(value.get("escapes"), Some(&s("tab\there 'q' Aé \\ back\\d+")));
    assert_eq!(value.get("missing"), None);
}

#[test]
fn parentheses_group_and_a_comma_makes_a_tuple() {
    assert_eq!(parse("('a')").unwrap(), s("a"));
    assert_eq!(parse("('a',)").unwrap(), Value::Tuple(vec![s("a")]));
    assert_eq!(parse("(1, 2)").unwrap(), Value::Tuple(vec![Value::Int(1), Value::Int(2)]));
    assert_eq!(parse("0x1F").unwrap(), Value::Int(31));
    assert_eq!(parse("1_000").unwrap(), Value::Int(1000));
    assert_eq!(parse("u'x' \"y\"").unwrap(), s("xy"));
}

#[test]
fn what_is_not_a_literal_is_refused_with_its_line_and_column() {
    let cases: &[(&str, usize, usize, &str)] = &[
        ("{\n  'a': os.system('rm -rf /'),\n}", 2, 8, "`os.system('rm -rf /'),` is not a literal"),
        ("{'a': 1 + 2}", 1, 9, "expected `,` or `}`, found `+ 2}`"),
        ("{'a': 'open", 1, 7, "a string that never ends"),
        ("{'a': 'one\nline'}", 1, 7, "ends at the end of its line"),
        ("{'a' 1}", 1, 6, "expected `:`"),
        ("{'a': 1} x", 1, 10, "after the literal"),
        ("", 1, 1, "expected a literal, found the end of the text"),
        ("{'a': [1, 2}", 1, 12, "expected `,` or `]`"),
        ("{['a']: 1}", 1, 7, "a list cannot be a dict key"),
        ("{'a': 1e}", 1, 7, "not a number"),
        ("{'a': '\\x4'}", 1, 10, "a bad `\\x` escape"),
        ("f'{x}'", 1, 1, "is not a literal"),
        ("b'x'", 1, 1, "is not a literal"),
    ];
    for (text, line, column, what) in cases {
        let e = parse(text).unwrap_err();
        assert_eq!((e.line, e.column), (*line, *column), "{text:?}: {e}");
        assert!(e.what.contains(what), "{text:?}: {e}");
    }
}

#[test]
fn nesting_is_bounded() {
    let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
    assert!(parse(&deep).unwrap_err().what.contains("nested deeper"));
    let fine = "[".repeat(MAX_DEPTH - 1) + &"]".repeat(MAX_DEPTH - 1);
    assert!(parse(&fine).is_ok());
    // Far deeper than the stack would take: an error, not a crash.
    assert!(parse(&"(".repeat(1_000_000)).is_err());
}

/// Python's own spelling of a value (`repr`), which `parse` must read back.
fn repr(value: &Value) -> String {
    let join = |items: &[Value]| items.iter().map(repr).collect::<Vec<_>>().join(", ");
    match value {
        Value::Str(text) => {
            let mut out = String::from("'");
            for c in text.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\'' => out.push_str("\\'"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if (c as u32) < 0x20 || c == '\x7f' => {
                        out.push_str(&format!("\\x{:02x}", c as u32))
                    }
                    c => out.push(c),
                }
            }
            out + "'"
        }
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::None => "None".into(),
        Value::List(items) => format!("[{}]", join(items)),
        Value::Tuple(items) if items.len() == 1 => format!("({},)", repr(&items[0])),
        Value::Tuple(items) => format!("({})", join(items)),
        Value::Dict(items) => {
            let pairs: Vec<String> =
                items.iter().map(|(k, v)| format!("{}: {}", repr(k), repr(v))).collect();
            format!("{{{}}}", pairs.join(", "))
        }
    }
}

fn values() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<String>().prop_map(Value::Str),
        any::<i64>().prop_map(Value::Int),
        (-1e12f64..1e12).prop_map(Value::Float),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::None),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Tuple),
            prop::collection::vec((any::<String>().prop_map(Value::Str), inner), 0..6)
                .prop_map(Value::Dict),
        ]
    })
}

proptest! {
    #[test]
    fn what_python_writes_reads_back(value in values()) {
        prop_assert_eq!(parse(&repr(&value)).unwrap(), value);
    }

    #[test]
    fn any_text_is_read_or_refused_without_a_panic(text in "\\PC{0,64}") {
        let _ = parse(&text);
    }
}
