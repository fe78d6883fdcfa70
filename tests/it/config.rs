//! `oe config`: showing settings with their sources, changing them, rejecting bad files.

use std::os::unix::fs::PermissionsExt;

use crate::testenv::TestEnv;

#[test]
fn shows_every_setting_with_its_source() {
    let env = TestEnv::new();
    env.write_config(
        "client: acme\nenvironment: stagging\nservices:\n  odoo:\n    postgres: {host: db.example, password: hunter2}\n",
    );
    let run = env.run(&["config"]).success();
    let line = |key: &str| {
        run.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no {key} in:\n{}", run.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("client"), "client acme (config)");
    assert_eq!(line("environment"), "environment staging (config)");
    assert_eq!(line("database"), "database acme_prod (default)");
    assert_eq!(line("nginx"), "nginx off (default)");
    assert_eq!(
        line("services.odoo.postgres.host"),
        "services.odoo.postgres.host db.example (config)"
    );
    assert!(!run.stdout.contains("hunter2"), "password shown:\n{}", run.stdout);
    assert!(line("services.odoo.postgres.password").contains("********"));
}

#[test]
fn shows_the_tls_settings() {
    let env = TestEnv::new();
    env.write_config(
        "services:\n  odoo:\n    postgres: {host: db.example, sslmode: verify-full, sslrootcert: /etc/oe/ca.pem}\n",
    );
    let run = env.run(&["config"]).success();
    for (key, value) in [
        ("services.odoo.postgres.sslmode", "verify-full"),
        ("services.odoo.postgres.sslrootcert", "/etc/oe/ca.pem"),
    ] {
        let line = run.stdout.lines().find(|l| l.split_whitespace().next() == Some(key));
        let fields: Vec<&str> = line.map(|l| l.split_whitespace().collect()).unwrap_or_default();
        assert_eq!(fields, [key, value, "(config)"], "{}", run.stdout);
    }
}

#[test]
fn json_lists_settings() {
    let env = TestEnv::new();
    env.write_config("client: acme\n");
    let run = env.run(&["--json", "config"]).success();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let settings = doc["settings"].as_array().unwrap();
    let client = settings.iter().find(|s| s["key"] == "client").unwrap();
    assert_eq!(client["value"], "acme");
    assert_eq!(client["source"], "config");
}

#[test]
fn flags_write_the_file_atomically_with_mode_0600() {
    let env = TestEnv::new();
    let path = env.path("sub/dir/config.yml");
    let oe = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_oe"))
            .arg("--config")
            .arg(&path)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let stdout = oe(&[
        "config",
        "--client",
        "acme",
        "--environment",
        "staging",
        "--database",
        "acme_prod",
        "--nginx",
        "on",
        "--verbose",
        "off",
        "--defapp",
        "git@example.org:acme/app.git",
        "--odoo-image",
        "odoo:18.0",
        "--backup-dir",
        "/var/backups/oe",
    ]);
    assert!(stdout.contains("odoo:18.0"), "{stdout}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    for expected in [
        "client: acme",
        "environment: staging",
        "nginx: on",
        "verbose: off",
        "backup_dir: /var/backups/oe",
    ] {
        assert!(text.contains(expected), "{expected} missing in:\n{text}");
    }
    // A second change keeps the first ones.
    oe(&["config", "--client", "globex"]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("client: globex") && text.contains("odoo_image: odoo:18.0"), "{text}");
    let dir: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(dir.len(), 1, "temporary files left: {dir:?}");
}

#[test]
fn every_key_of_the_example_rejects_a_wrong_type_naming_file_line_and_key() {
    let env = TestEnv::new();
    let config = env.config.display().to_string();
    let example = example();
    // The example as written is valid: every failure below comes from the one bad value.
    env.write_config(&emit(&example, &[]).0);
    env.run(&["config"]).success();
    let leaves = leaves(&example);
    assert!(leaves.len() >= 40, "only {} keys found in the example", leaves.len());
    for (path, value) in &leaves {
        let key = path.join(".");
        let empty_map = value.as_mapping().is_some_and(|m| m.is_empty());
        // A mapping is a wrong type for every key but those whose value is a mapping, and
        // there `oops` is an unknown key.
        let bad: serde_yaml_ng::Value = serde_yaml_ng::from_str("{oops: 1}").unwrap();
        let (text, line) = emit(&example, &[(path, &bad)]);
        env.write_config(&text);
        let stderr = env.run(&["config"]).failure(2).stderr;
        let expected = if empty_map {
            format!(
                "{config}:{line}: {key}.oops: found the unknown key `oops`; accepted: the keys "
            )
        } else {
            format!("{config}:{line}: {key}: found a mapping; accepted: ")
        };
        assert!(stderr.contains(&expected), "{key}: wanted {expected:?} in:\n{stderr}");

        // A word is accepted by free-text keys only; anywhere else it is refused and quoted.
        let word = serde_yaml_ng::Value::String("oops".into());
        let (text, line) = emit(&example, &[(path, &word)]);
        env.write_config(&text);
        let run = env.run(&["config"]);
        let free_text = FREE_TEXT.contains(&path.last().unwrap().as_str());
        if free_text {
            run.success();
        } else {
            let stderr = run.failure(2).stderr;
            // Values parsed from text add why in parentheses: `found "oops" (not a duration)`.
            let expected = format!("oe: {config}:{line}: {key}: found \"oops\"");
            let said = stderr.lines().find(|l| l.starts_with(&expected));
            assert!(
                said.is_some_and(|l| l.contains("; accepted: ")),
                "{key}: wanted {expected:?}…; accepted: … in:\n{stderr}"
            );
        }
    }
}

/// Keys whose value is any text (names, URLs, paths): a word is valid there.
const FREE_TEXT: [&str; 21] = [
    "client",
    "database",
    "defapp",
    "odoo_image",
    "host",
    "user",
    "password",
    "passfile",
    "sslrootcert",
    "bindir",
    "data_dir",
    "backup_dir",
    "repository",
    "identity_file",
    "known_hosts",
    "cache_dir",
    "state_file",
    "service",
    "webhook",
    "ping_url",
    "metrics_file",
];

/// `contrib/oe.example.yml` with its commented-out keys (`# password: secret`) enabled.
fn example() -> serde_yaml_ng::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/oe.example.yml");
    let text = std::fs::read_to_string(path).unwrap();
    let enabled: String = text
        .lines()
        .map(|line| {
            let indent = line.len() - line.trim_start().len();
            let commented = line.trim_start().strip_prefix("# ").and_then(|rest| {
                let (key, _) = rest.split_once(": ")?;
                let is_key =
                    !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                is_key.then(|| format!("{}{rest}", &line[..indent]))
            });
            commented.unwrap_or_else(|| line.to_owned()) + "\n"
        })
        .collect();
    assert!(enabled.contains("password: secret"), "the example no longer shows password");
    serde_yaml_ng::from_str(&enabled).unwrap()
}

/// Every key whose value is not a non-empty mapping, with its path and value.
fn leaves(value: &serde_yaml_ng::Value) -> Vec<(Vec<String>, serde_yaml_ng::Value)> {
    fn walk(
        value: &serde_yaml_ng::Value,
        path: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, serde_yaml_ng::Value)>,
    ) {
        match value.as_mapping() {
            Some(map) if !map.is_empty() => {
                for (key, child) in map {
                    path.push(key.as_str().unwrap().to_owned());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => out.push((path.clone(), value.clone())),
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

/// `value` as YAML, one key a line (block mappings), every other value on its key's line
/// (JSON is YAML's flow style), with the value at `replace.0` replaced by `replace.1`; and the
/// line of that key.
fn emit(
    value: &serde_yaml_ng::Value,
    replace: &[(&Vec<String>, &serde_yaml_ng::Value)],
) -> (String, usize) {
    fn walk(
        value: &serde_yaml_ng::Value,
        path: &mut Vec<String>,
        replace: &[(&Vec<String>, &serde_yaml_ng::Value)],
        text: &mut String,
        line: &mut usize,
    ) {
        for (key, child) in value.as_mapping().unwrap() {
            path.push(key.as_str().unwrap().to_owned());
            let indent = "  ".repeat(path.len() - 1);
            let quoted = serde_json::to_string(&path[path.len() - 1]).unwrap();
            let replaced = replace.iter().find(|(p, _)| **p == *path).map(|(_, v)| *v);
            let child = replaced.unwrap_or(child);
            match child.as_mapping() {
                Some(map) if !map.is_empty() && replaced.is_none() => {
                    text.push_str(&format!("{indent}{quoted}:\n"));
                    walk(child, path, replace, text, line);
                }
                _ => {
                    if replaced.is_some() {
                        *line = text.lines().count() + 1;
                    }
                    let flow = serde_json::to_string(child).unwrap();
                    text.push_str(&format!("{indent}{quoted}: {flow}\n"));
                }
            }
            path.pop();
        }
    }
    let (mut text, mut line) = (String::new(), 0);
    walk(value, &mut Vec::new(), replace, &mut text, &mut line);
    (text, line)
}

#[test]
fn bad_values_and_unknown_keys_say_what_was_found_and_what_is_accepted() {
    let env = TestEnv::new();
    let config = env.config.display().to_string();
    let cases = [
        ("client: acme\nnginx: maybe\n", "2: nginx: found \"maybe\"; accepted: on or off"),
        (
            "environment: prod\n",
            "1: environment: found \"prod\"; accepted: production, stagging, staging, development",
        ),
        (
            "services:\n  odoo:\n    postgres:\n      host: db\n      sslmode: sometimes\n",
            "5: services.odoo.postgres.sslmode: found \"sometimes\"; accepted: disable, allow, \
             prefer, require, verify-ca, verify-full",
        ),
        (
            "jobs:\n  nightly:\n    schedule: '0 2 * *'\n    backup: {}\n",
            "3: jobs.nightly.schedule: found \"0 2 * *\" (",
        ),
        (
            "daemon:\n  concurrency: 2\n  grace_period: 30 seconds please\n",
            "3: daemon.grace_period: found \"30 seconds please\" (not a duration); accepted: a \
             length of time like 30s",
        ),
        (
            "retention:\n  daily: 7\n  weekly: -4\n",
            "3: retention.weekly: found -4; accepted: a whole number from 0 to",
        ),
        (
            "mirror:\n  dirs:\n    /home: {}\n    var/lib/odoo: {}\n",
            "4: mirror.dirs.var/lib/odoo: found \"var/lib/odoo\"; accepted: an absolute directory",
        ),
        (
            "jobs:\n  n:\n    schedule: '@daily'\n    backup: {databases: [a], exclud: [b]}\n",
            "4: jobs.n.backup.exclud: found the unknown key `exclud`; accepted: the keys service, \
             databases, exclude",
        ),
        // YAML would let a repeated name silently replace the first.
        (
            "jobs:\n  nightly: {schedule: '@daily', backup: {}}\n  nightly: {schedule: '@daily', mirror: {}}\n",
            "3: jobs.nightly: found \"nightly\" a second time; accepted: each name once",
        ),
        // Unknown keys at every depth, with the keys accepted there.
        ("clent: acme\n", "1: clent: found the unknown key `clent`; accepted: the keys client, "),
        (
            "services:\n  odoo:\n    postgress: {}\n",
            "3: services.odoo.postgress: found the unknown key `postgress`; accepted: the keys \
             postgres, data_dir, addons_path",
        ),
        (
            "services:\n  erp:\n    postgres:\n      hots: db\n",
            "4: services.erp.postgres.hots: found the unknown key `hots`; accepted: the keys host, ",
        ),
        (
            "mirror:\n  dirs:\n    /home:\n      excludes: []\n",
            "4: mirror.dirs./home.excludes: found the unknown key `excludes`; accepted: the keys \
             exclude",
        ),
        (
            "notify:\n  on_failure:\n    webhok: http://x\n",
            "3: notify.on_failure.webhok: found the unknown key `webhok`; accepted: the keys \
             webhook or command",
        ),
        (
            "jobs:\n  m:\n    schedule: '@daily'\n    mirror:\n      retention: {dayly: 7}\n",
            "5: jobs.m.mirror.retention.dayly: found the unknown key `dayly`; accepted: the keys \
             within, last, daily, weekly, monthly, yearly",
        ),
    ];
    for (text, expected) in cases {
        env.write_config(text);
        let run = env.run(&["config"]).failure(2);
        let expected = format!("oe: {config}:{expected}");
        assert!(
            run.stderr.starts_with(&expected),
            "{text}\nwanted {expected:?} in:\n{}",
            run.stderr
        );
    }

    env.write_config("");
    env.run(&["config", "--environment", "test"]).failure(2);
    env.run(&["config", "--nginx", "sometimes"]).failure(2);
}

#[test]
fn unknown_service_and_missing_database_are_usage_errors() {
    let env = TestEnv::new();
    env.run(&["save-db", "nope", "x.sql"])
        .failure(2)
        .stderr_has("service 'nope' is not configured");
    env.write_config("");
    env.run(&["save-db", "odoo", "x.sql"]).failure(2).stderr_has("no database given");
}

#[test]
fn config_path_comes_from_oe_config_variable() {
    let env = TestEnv::new();
    let path = env.path("from-env.yml");
    std::fs::write(&path, "client: fromenv\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oe"))
        .arg("config")
        .env("OE_CONFIG", &path)
        .env("HOME", env.path("home"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("fromenv"), "{stdout}");
}

#[test]
fn a_client_name_must_fit_a_directory_and_docker_names() {
    let env = TestEnv::new();
    for bad in ["Acme", "_acme", "ac me", "acme/../x", &"a".repeat(33)] {
        let flag = format!("--client={bad}");
        env.run(&["config", &flag]).failure(2).stderr_has("invalid client name");
    }
    assert!(!env.read_config().contains("client:"), "a refused name must not be written");
    env.run(&["config", "--client", "acme-2_b"]).success();
    // An existing file with a name oe would refuse now is still shown.
    env.write_config("client: ACME\n");
    env.run(&["config"]).success().stdout_has("ACME");
}
