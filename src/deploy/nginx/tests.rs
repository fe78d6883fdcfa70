//! Unit tests of [`super`]: what the rendered configuration holds for each Odoo generation
//! and environment, and that the real nginx accepts it (`nginx -t` on a main configuration
//! of its own in a temp dir, touching nothing of the system's nginx).

use std::path::{Path, PathBuf};

use super::*;
use crate::process::Tool;

fn site(major: u32, production: bool) -> Site {
    Site { production, ..Site::new(Upstream::parse("127.0.0.1").unwrap(), major) }
}

/// The lines of the `location PATH` block of `conf` (trimmed, once checked to be indented
/// one level more than the block), `None` when it has none.
fn location<'a>(conf: &'a str, path: &str) -> Option<Vec<&'a str>> {
    let opening = format!("    location {path} {{");
    let mut lines = conf.lines().skip_while(|l| *l != opening);
    lines.next()?;
    let inside: Vec<&str> = lines.take_while(|l| *l != "    }").collect();
    for line in &inside {
        let indent = line.len() - line.trim_start().len();
        assert_eq!(indent, 8, "{line:?} in location {path} is not indented by 8: {conf}");
    }
    Some(inside.into_iter().map(str::trim).collect())
}

const FORWARDED: [&str; 5] = [
    "proxy_set_header Host $http_host;",
    "proxy_set_header X-Forwarded-Host $http_host;",
    "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "proxy_set_header X-Forwarded-Proto $scheme;",
    "proxy_set_header X-Real-IP $remote_addr;",
];

#[test]
fn odoo_16_and_later_get_a_websocket() {
    for major in [16, 17, 18] {
        let conf = render(&site(major, false));
        let websocket = location(&conf, "/websocket").expect("no /websocket location");
        assert!(websocket.contains(&"proxy_pass http://odoo_realtime;"), "{websocket:?}");
        assert!(websocket.contains(&"proxy_http_version 1.1;"), "{websocket:?}");
        assert!(websocket.contains(&"proxy_set_header Upgrade $http_upgrade;"), "{websocket:?}");
        assert!(
            websocket.contains(&"proxy_set_header Connection $connection_upgrade;"),
            "{websocket:?}"
        );
        for header in FORWARDED {
            assert!(websocket.contains(&header), "{major}: {header} missing: {websocket:?}");
        }
        assert!(location(&conf, "/longpolling").is_none(), "{conf}");
    }
}

#[test]
fn odoo_before_16_gets_long_polling() {
    for major in [12, 14, 15] {
        let conf = render(&site(major, false));
        let polling = location(&conf, "/longpolling").expect("no /longpolling location");
        assert!(polling.contains(&"proxy_pass http://odoo_realtime;"), "{polling:?}");
        for header in FORWARDED {
            assert!(polling.contains(&header), "{major}: {header} missing: {polling:?}");
        }
        assert!(!conf.contains("Upgrade"), "{conf}");
        assert!(location(&conf, "/websocket").is_none(), "{conf}");
    }
}

#[test]
fn everything_else_goes_to_the_http_port_with_the_forwarded_headers() {
    let mut site = site(18, false);
    site.upstream = Upstream::parse("acme_odoo-1.prod").unwrap();
    site.http_port = 18069;
    site.realtime_port = 18072;
    let conf = render(&site);
    assert!(conf.contains("upstream odoo {\n    server acme_odoo-1.prod:18069;\n}"), "{conf}");
    assert!(conf.contains("upstream odoo_realtime {\n    server acme_odoo-1.prod:18072;\n}"));
    let root = location(&conf, "/").expect("no / location");
    assert!(root.contains(&"proxy_pass http://odoo;"), "{root:?}");
    for header in FORWARDED {
        assert!(root.contains(&header), "{header} missing: {root:?}");
    }
    assert!(conf.contains("    listen 80;\n"));
    assert!(conf.contains("    proxy_read_timeout 720s;\n"));
    assert!(conf.contains("    gzip on;\n"));
    assert!(conf.contains("    client_max_body_size 200m;\n"), "{conf}");
    assert!(!conf.contains("{{") && !conf.contains("}}"), "a placeholder is left: {conf}");
}

#[test]
fn production_closes_the_database_manager() {
    let closed = render(&site(18, true));
    let manager = location(&closed, "~ ^/web/database/").expect("the database manager is open");
    assert_eq!(manager, ["return 403;"]);
    let open = render(&site(18, false));
    assert!(location(&open, "~ ^/web/database/").is_none(), "{open}");
    assert!(!open.contains("/web/database"), "{open}");
    // Nothing else differs.
    let without: String = closed.replace(DATABASE_MANAGER_CLOSED, "");
    assert_eq!(without, open);
}

#[test]
fn the_body_size_is_written_as_nginx_reads_it() {
    for (bytes, text) in
        [(200 << 20, "200m"), (1 << 30, "1024m"), (512 << 10, "512k"), (1000, "1000"), (0, "0")]
    {
        let conf = render(&Site { body_size: bytes, ..site(18, false) });
        assert!(conf.contains(&format!("client_max_body_size {text};")), "{bytes}: {conf}");
    }
}

#[test]
fn an_upstream_is_a_container_name() {
    for good in ["odoo", "acme_odoo_1", "acme-odoo.prod", "127.0.0.1", "A9"] {
        assert_eq!(Upstream::parse(good).unwrap().as_str(), good);
    }
    for bad in ["", "-odoo", ".odoo", "odoo;", "odoo 1", "odoo:8069", "odoo}", "ödoo", "a/b"] {
        let error = Upstream::parse(bad).unwrap_err();
        assert!(error.to_string().contains("not a container name"), "{bad}: {error}");
    }
}

/// `nginx`, from `PATH` or Debian's `/usr/sbin` (not on a user's `PATH`).
fn nginx() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
        .expect("nginx is not installed: this test needs it (Debian: nginx-light; contrib/test.sh installs it)")
}

/// `nginx -t` of `site` included in a main configuration of the test's own, with its pid
/// file, logs and temp directories under `dir`: the system's nginx is not touched.
fn nginx_test(dir: &Path, site: &str) -> Result<(), crate::process::Error> {
    std::fs::write(dir.join("odoo.conf"), site).unwrap();
    let d = dir.display();
    let main = format!(
        "pid {d}/nginx.pid;\n\
         error_log {d}/error.log;\n\
         events {{}}\n\
         http {{\n\
         \x20   access_log off;\n\
         \x20   client_body_temp_path {d}/client_body;\n\
         \x20   proxy_temp_path {d}/proxy;\n\
         \x20   fastcgi_temp_path {d}/fastcgi;\n\
         \x20   uwsgi_temp_path {d}/uwsgi;\n\
         \x20   scgi_temp_path {d}/scgi;\n\
         \x20   include {d}/odoo.conf;\n\
         }}\n"
    );
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    Tool::new(nginx())
        .arg("-t")
        .arg("-q")
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .run()
}

#[test]
fn nginx_accepts_the_configuration() {
    for (major, production) in [(18, true), (18, false), (16, true), (15, false), (12, true)] {
        let dir = tempfile::tempdir().unwrap();
        let conf = render(&site(major, production));
        if let Err(e) = nginx_test(dir.path(), &conf) {
            panic!("{major} production={production}: {e}\n{}\n{conf}", e.stderr().unwrap_or(""));
        }
    }
    // The check bites: a configuration with a block left open is refused.
    let dir = tempfile::tempdir().unwrap();
    let broken = render(&site(18, true));
    let broken = broken.trim_end().strip_suffix('}').unwrap();
    let error = nginx_test(dir.path(), broken).unwrap_err();
    assert!(error.stderr().is_some_and(|e| e.contains("odoo.conf")), "{error:?}");
}
