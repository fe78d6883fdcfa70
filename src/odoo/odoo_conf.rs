//! `odoo.conf` of a dockerized installation: what `oe install` writes when the file is missing
//! (never over one that exists), from the installation's settings and its client manifest.
//!
//! One `[options]` section, keys in a fixed order: the database connection, the addons path,
//! the data directory and log file, the workers (Odoo's rule of thumb: 2 × CPUs + 1, bounded by
//! memory at [`WORKER_MEMORY`] each, 0 in development), the limits, `proxy_mode` behind nginx,
//! `list_db = False` and a random `admin_passwd` in production, `dbfilter` for the configured
//! database; then the manifest's `config` lines. A manifest line replaces a generated key of the
//! same name in place rather than repeating it: Odoo's parser refuses an option given twice.
//!
//! Pure: settings in, text out; the caller finds CPUs and memory, generates the password and
//! writes the file (0600: it holds passwords).

use crate::config::Environment;

/// Memory a worker is planned with (Odoo's workers take ~150–250 MB each).
pub const WORKER_MEMORY: u64 = 256 << 20;

/// What the file is made from.
#[derive(Debug, Clone)]
pub struct ConfInput<'a> {
    pub environment: Environment,
    pub db_host: &'a str,
    pub db_port: u16,
    pub db_user: &'a str,
    pub db_password: &'a str,
    /// Directories holding modules, as the container sees them, in order.
    pub addons_path: &'a [String],
    /// The data directory as the container sees it.
    pub data_dir: &'a str,
    /// The log file as the container sees it (`None`: log to the console).
    pub logfile: Option<&'a str>,
    pub cpus: usize,
    pub memory: u64,
    /// nginx in front: `proxy_mode`.
    pub proxied: bool,
    /// The installation's database: `dbfilter` matches it alone.
    pub database: Option<&'a str>,
    /// The database manager's master password (production).
    pub admin_passwd: Option<&'a str>,
    /// The manifest's `config` lines.
    pub extra: &'a [(String, String)],
}

/// Workers for `cpus` and `memory`: 2 × CPUs + 1, at most what three quarters of the memory
/// hold at [`WORKER_MEMORY`] each (the rest is PostgreSQL's and the system's), at least 1;
/// 0 (threaded, one process) in development.
pub fn workers(environment: Environment, cpus: usize, memory: u64) -> u64 {
    if environment == Environment::Development {
        return 0;
    }
    let by_cpu = 2 * cpus.max(1) as u64 + 1;
    let by_memory = memory / 4 * 3 / WORKER_MEMORY;
    by_cpu.min(by_memory).max(1)
}

/// The text of `odoo.conf`.
pub fn render(input: &ConfInput) -> String {
    let production = input.environment == Environment::Production;
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut set = |key: &str, value: String| keys.push((key.to_owned(), value));
    set("db_host", input.db_host.to_owned());
    set("db_port", input.db_port.to_string());
    set("db_user", input.db_user.to_owned());
    set("db_password", input.db_password.to_owned());
    set("addons_path", input.addons_path.join(","));
    set("data_dir", input.data_dir.to_owned());
    if let Some(logfile) = input.logfile {
        set("logfile", logfile.to_owned());
    }
    let workers = workers(input.environment, input.cpus, input.memory);
    set("workers", workers.to_string());
    set("max_cron_threads", if workers == 0 { "1" } else { "2" }.to_owned());
    // Odoo's own memory limits; its time limits (60 s CPU, 120 s real) cut long reports and
    // imports, which operators raise first.
    set("limit_memory_soft", (2048u64 << 20).to_string());
    set("limit_memory_hard", (2560u64 << 20).to_string());
    set("limit_time_cpu", "600".to_owned());
    set("limit_time_real", "1200".to_owned());
    set("limit_request", "65536".to_owned());
    set("proxy_mode", python_bool(input.proxied));
    if production {
        set("list_db", python_bool(false));
    }
    if let Some(password) = input.admin_passwd {
        set("admin_passwd", password.to_owned());
    }
    if let Some(database) = input.database {
        set("dbfilter", format!("^{}$", regex_escape(database)));
    }
    for (key, value) in input.extra {
        match keys.iter_mut().find(|(k, _)| k == key) {
            Some(generated) => generated.1.clone_from(value),
            None => keys.push((key.clone(), value.clone())),
        }
    }
    let mut text = String::from("[options]\n");
    for (key, value) in keys {
        text.push_str(&format!("{key} = {value}\n"));
    }
    text
}

fn python_bool(value: bool) -> String {
    if value { "True" } else { "False" }.to_owned()
}

/// `name` as a regular expression matching itself (`dbfilter` is a regex).
fn regex_escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(environment: Environment) -> ConfInput<'static> {
        ConfInput {
            environment,
            db_host: "db",
            db_port: 5432,
            db_user: "odoo",
            db_password: "secret",
            addons_path: &[],
            data_dir: "/var/lib/odoo",
            logfile: Some("/var/log/odoo/odoo.log"),
            cpus: 2,
            memory: 4 << 30,
            proxied: true,
            database: Some("acme.prod"),
            admin_passwd: Some("master"),
            extra: &[],
        }
    }

    /// The `key = value` lines of `text`, as Odoo's parser reads them.
    fn options(text: &str) -> Vec<(String, String)> {
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("[options]"));
        lines
            .map(|l| {
                let (k, v) = l.split_once(" = ").unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    fn get<'a>(options: &'a [(String, String)], key: &str) -> Option<&'a str> {
        options.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn workers_follow_the_cpus_bounded_by_memory_and_none_in_development() {
        let gib = 1u64 << 30;
        assert_eq!(workers(Environment::Production, 2, 16 * gib), 5);
        assert_eq!(workers(Environment::Production, 8, 2 * gib), 6);
        assert_eq!(workers(Environment::Staging, 4, 256 << 20), 1);
        assert_eq!(workers(Environment::Development, 8, 64 * gib), 0);
    }

    #[test]
    fn production_closes_the_database_manager_and_filters_its_database() {
        let addons = ["/mnt/extra-addons/acme".to_owned(), "/usr/lib/odoo/addons".to_owned()];
        let extra =
            [("workers".to_owned(), "3".to_owned()), ("without_demo".to_owned(), "all".to_owned())];
        let text = render(&ConfInput {
            addons_path: &addons,
            extra: &extra,
            ..input(Environment::Production)
        });
        let o = options(&text);
        assert_eq!(get(&o, "addons_path"), Some("/mnt/extra-addons/acme,/usr/lib/odoo/addons"));
        assert_eq!(get(&o, "list_db"), Some("False"));
        assert_eq!(get(&o, "admin_passwd"), Some("master"));
        assert_eq!(get(&o, "dbfilter"), Some("^acme\\.prod$"));
        assert_eq!(get(&o, "proxy_mode"), Some("True"));
        assert_eq!(get(&o, "logfile"), Some("/var/log/odoo/odoo.log"));
        // The manifest's line replaces the generated one, in place; a new key comes last.
        assert_eq!(get(&o, "workers"), Some("3"));
        assert_eq!(o.iter().filter(|(k, _)| k == "workers").count(), 1);
        assert_eq!(o.last().map(|(k, _)| k.as_str()), Some("without_demo"));
        let mut keys: Vec<&str> = o.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), before, "no option twice: Odoo refuses it\n{text}");
    }

    #[test]
    fn development_runs_threaded_logs_to_the_console_and_keeps_the_manager() {
        let text = render(&ConfInput {
            logfile: None,
            admin_passwd: None,
            proxied: false,
            ..input(Environment::Development)
        });
        let o = options(&text);
        assert_eq!(get(&o, "workers"), Some("0"));
        assert_eq!(get(&o, "max_cron_threads"), Some("1"));
        assert_eq!(get(&o, "logfile"), None);
        assert_eq!(get(&o, "list_db"), None);
        assert_eq!(get(&o, "admin_passwd"), None);
        assert_eq!(get(&o, "proxy_mode"), Some("False"));
    }
}
