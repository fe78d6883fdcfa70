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
fn bad_files_and_values_exit_2_with_file_line_and_key() {
    let env = TestEnv::new();
    env.write_config("client: acme\nservices:\n  odoo:\n    postgres:\n      hots: db\n");
    let run = env.run(&["config"]).failure(2);
    let config = env.config.display().to_string();
    assert!(run.stderr.contains(&config), "{}", run.stderr);
    assert!(run.stderr.contains("line 5"), "{}", run.stderr);
    assert!(run.stderr.contains("unknown field `hots`"), "{}", run.stderr);

    env.write_config("environment: prod\n");
    env.run(&["config"]).failure(2).stderr_has("expected one of `production`");

    env.write_config("nginx: maybe\n");
    env.run(&["config"]).failure(2).stderr_has("expected on or off");

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
