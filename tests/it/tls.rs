//! TLS of the control connection and of the tools, against a second private cluster that
//! accepts TLS connections only: `ssl = on` with a certificate for `localhost` (no IP address
//! in it) signed by a test CA, listening on 127.0.0.1, and a `pg_hba.conf` that trusts
//! `hostssl` and rejects `hostnossl`. Whatever connects in plain text is refused, so a command
//! that succeeds went through TLS, its pg_dump and psql too.

use std::path::PathBuf;
use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::cluster::{Cluster, Setup, cluster, start_with};
use crate::support::config_with;
use crate::testenv::TestEnv;

/// The TLS-only cluster and the certificates around it.
struct TlsCluster {
    cluster: Cluster,
    /// The CA that signed the server's certificate (PEM).
    ca: PathBuf,
    /// A CA that did not (PEM).
    other_ca: PathBuf,
}

static TLS: OnceLock<Result<TlsCluster, String>> = OnceLock::new();

fn tls() -> &'static TlsCluster {
    match TLS.get_or_init(start) {
        Ok(tls) => tls,
        Err(message) => panic!("the TLS test cluster could not be started: {message}"),
    }
}

fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn start() -> Result<TlsCluster, String> {
    let ca = authority("oe test CA");
    let other_ca = authority("oe other CA");
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    // For the name `localhost` only: connecting to 127.0.0.1 is a host name mismatch.
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca).map_err(|e| e.to_string())?;
    let setup = Setup {
        conf: vec![
            "listen_addresses = '127.0.0.1'".into(),
            "ssl = on".into(),
            "ssl_cert_file = 'server.crt'".into(),
            "ssl_key_file = 'server.key'".into(),
        ],
        hba: Some(
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostnossl all all 127.0.0.1/32 reject\n"
                .into(),
        ),
        files: vec![
            ("server.crt".into(), cert.pem().into_bytes(), 0o644),
            ("server.key".into(), key.serialize_pem().into_bytes(), 0o600),
        ],
    };
    let cluster = start_with(&setup)?;
    // In the cluster's directory: removed with it at exit.
    let write = |name: &str, pem: String| -> Result<PathBuf, String> {
        let path = cluster.root.join(name);
        std::fs::write(&path, pem).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    };
    let ca = write("ca.pem", ca.pem())?;
    let other_ca = write("other-ca.pem", other_ca.pem())?;
    Ok(TlsCluster { cluster, ca, other_ca })
}

/// A test environment whose `odoo` service is the TLS cluster at `host`, with `extra` keys
/// (`", sslmode: require"`) in its postgres section.
fn env_for(host: &str, extra: &str) -> TestEnv {
    let env = TestEnv::new();
    let yaml = format!(
        "services:\n  odoo:\n    postgres: {{host: {host}, port: {}, user: postgres{extra}}}\n    \
         data_dir: {}\n",
        tls().cluster.port,
        serde_json::to_string(&env.path("odoo-data").to_string_lossy()).unwrap(),
    );
    env.write_config(&yaml);
    env
}

/// `, sslrootcert: "<path>"`.
fn rootcert(path: &std::path::Path) -> String {
    format!(", sslrootcert: {}", serde_json::to_string(&path.to_string_lossy()).unwrap())
}

/// A small database in the TLS cluster.
fn small_db(prefix: &str) -> String {
    let c = &tls().cluster;
    let db = c.unique_db(prefix);
    c.create_db(&db);
    c.psql(
        &db,
        "CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a'), (2, 'b');",
    );
    db
}

#[test]
fn require_saves_and_loads_over_tls() {
    let c = &tls().cluster;
    let db = c.unique_db("tls_req");
    c.load_sample(&db);
    let fingerprint = c.fingerprint(&db);
    let env = env_for("127.0.0.1", ", sslmode: require");
    let dump = env.path("x.dump");
    env.run(&["save-db", "odoo", dump.to_str().unwrap(), "-d", &db]).success();
    let copy = c.unique_db("tls_req_back");
    env.run(&["load-db", "odoo", dump.to_str().unwrap(), "-d", &copy]).success();
    assert_eq!(c.fingerprint(&copy), fingerprint);
    // A plain SQL dump goes back through psql.
    let sql = env.path("x.sql.gz");
    env.run(&["save-db", "odoo", sql.to_str().unwrap(), "-d", &db]).success();
    let copy = c.unique_db("tls_req_sql");
    env.run(&["load-db", "odoo", sql.to_str().unwrap(), "-d", &copy]).success();
    assert_eq!(c.fingerprint(&copy), fingerprint);
}

#[test]
fn disable_is_refused_by_a_tls_only_server() {
    let db = small_db("tls_off");
    let env = env_for("127.0.0.1", ", sslmode: disable");
    env.run(&["save-db", "odoo", "x.sql", "-d", &db])
        .failure(6)
        .stderr_has("pg_hba.conf rejects connection")
        .stderr_has("no encryption");
    assert!(!env.path("x.sql").exists());
}

#[test]
fn prefer_uses_tls_when_the_server_offers_it() {
    let db = small_db("tls_prefer");
    for mode in ["prefer", "allow"] {
        let env = env_for("127.0.0.1", &format!(", sslmode: {mode}"));
        env.run(&["save-db", "odoo", "x.sql", "-d", &db]).success();
        assert!(env.path("x.sql").exists(), "{mode}");
    }
    // No sslmode at all is libpq's prefer.
    let env = env_for("127.0.0.1", "");
    env.run(&["save-db", "odoo", "x.sql", "-d", &db]).success();
}

#[test]
fn verify_full_checks_the_chain_and_the_host_name() {
    let t = tls();
    let db = small_db("tls_full");
    // pg_dump verifies too: it needs PGSSLROOTCERT, there being no ~/.postgresql/root.crt.
    let env = env_for("localhost", &format!(", sslmode: verify-full{}", rootcert(&t.ca)));
    env.run(&["save-db", "odoo", "x.sql", "-d", &db]).success();
    assert!(env.path("x.sql").exists());

    let env = env_for("localhost", &format!(", sslmode: verify-full{}", rootcert(&t.other_ca)));
    env.run(&["save-db", "odoo", "x.sql", "-d", &db])
        .failure(6)
        .stderr_has("sslmode=verify-full")
        .stderr_has("certificate is not trusted");

    let env = env_for("127.0.0.1", &format!(", sslmode: verify-full{}", rootcert(&t.ca)));
    env.run(&["save-db", "odoo", "x.sql", "-d", &db])
        .failure(6)
        .stderr_has("127.0.0.1:")
        .stderr_has("not valid for host name '127.0.0.1'");
}

#[test]
fn verify_ca_checks_the_chain_only() {
    let t = tls();
    let db = small_db("tls_ca");
    let env = env_for("127.0.0.1", &format!(", sslmode: verify-ca{}", rootcert(&t.ca)));
    env.run(&["save-db", "odoo", "x.sql", "-d", &db]).success();
    assert!(env.path("x.sql").exists());

    let env = env_for("127.0.0.1", &format!(", sslmode: verify-ca{}", rootcert(&t.other_ca)));
    env.run(&["save-db", "odoo", "x.sql", "-d", &db])
        .failure(6)
        .stderr_has("certificate is not trusted");

    // No root certificate anywhere: says where it looked.
    let env = env_for("127.0.0.1", ", sslmode: verify-ca");
    env.run(&["save-db", "odoo", "x.sql", "-d", &db])
        .failure(6)
        .stderr_has(".postgresql/root.crt does not exist");
}

#[test]
fn root_certificates_are_found_where_libpq_looks() {
    let t = tls();
    let db = small_db("tls_home");
    // ~/.postgresql/root.crt is used when nothing is configured...
    let env = env_for("localhost", ", sslmode: verify-full");
    std::fs::create_dir_all(env.path("home/.postgresql")).unwrap();
    std::fs::copy(&t.ca, env.path("home/.postgresql/root.crt")).unwrap();
    env.run(&["save-db", "odoo", "x.sql", "-d", &db]).success();
    // ... and makes require check the chain (libpq: require is then verify-ca).
    let env_require = env_for("127.0.0.1", ", sslmode: require");
    std::fs::create_dir_all(env_require.path("home/.postgresql")).unwrap();
    std::fs::copy(&t.other_ca, env_require.path("home/.postgresql/root.crt")).unwrap();
    env_require
        .run(&["save-db", "odoo", "x.sql", "-d", &db])
        .failure(6)
        .stderr_has("sslmode=require")
        .stderr_has("certificate is not trusted");
    // PGSSLROOTCERT when the configuration has no sslrootcert.
    let run = |env: &TestEnv, root: &std::path::Path| {
        let out = env
            .oe()
            .env("PGSSLROOTCERT", root)
            .args(["save-db", "odoo", "y.sql", "-d", &db])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let env = env_for("localhost", ", sslmode: verify-full");
    let (code, stderr) = run(&env, &t.ca);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = run(&env, &t.other_ca);
    assert_eq!(code, Some(6), "{stderr}");
    assert!(stderr.contains("not trusted"), "{stderr}");
}

#[test]
fn sockets_ignore_sslmode() {
    let c = cluster();
    let env = TestEnv::new();
    config_with(&env, ", sslmode: verify-full");
    let db = c.unique_db("tls_socket");
    c.create_db(&db);
    env.run(&["save-db", "odoo", "x.sql", "-d", &db]).success();
    assert!(env.path("x.sql").exists());
}
