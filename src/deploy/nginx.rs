//! The nginx configuration in front of an installation's Odoo: one file for
//! `/etc/nginx/conf.d/`, rendered from [`SITE`] and the snippets next to it
//! (`src/deploy/nginx/*.conf`).
//!
//! nginx listens on port 80 and passes everything to the Odoo container on its http port,
//! except Odoo's realtime channel (`/websocket` since Odoo 16, `/longpolling` before), which
//! goes to the gevent port with the websocket upgrade headers. Each location sends the
//! headers Odoo's `proxy_mode` reads (`X-Forwarded-Host`, `-For`, `-Proto`, `X-Real-IP`) and
//! the client's `Host`; timeouts leave Odoo's long requests (reports, imports) the time they
//! take; text is gzipped. In production the database manager (`/web/database/…`) answers
//! 403 whatever `list_db` says.
//!
//! Pure: settings in, text out. Writing the file and reloading nginx are the caller's.

/// The template: `{{name}}` is replaced by a value, a line holding only `{{name}}` by a
/// block of lines (possibly none).
pub const SITE: &str = include_str!("nginx/site.conf");

/// The headers every location sends to Odoo.
const PROXY_HEADERS: &str = include_str!("nginx/proxy_headers.conf");
/// The location of Odoo's bus from 16 on.
const WEBSOCKET: &str = include_str!("nginx/websocket.conf");
/// The location of Odoo's bus before 16.
const LONGPOLLING: &str = include_str!("nginx/longpolling.conf");
/// Production: the database manager is closed.
const DATABASE_MANAGER_CLOSED: &str = include_str!("nginx/database_manager_closed.conf");

/// The first Odoo version whose bus is a websocket.
const WEBSOCKET_SINCE: u32 = 16;

/// Odoo's http port in the official image.
pub const HTTP_PORT: u16 = 8069;
/// Odoo's websocket / long polling (gevent) port in the official image.
pub const REALTIME_PORT: u16 = 8072;
/// The largest request body (an upload, a database restore) by default.
pub const DEFAULT_BODY_SIZE: u64 = 200 << 20;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "'{0}' is not a container name (letters, digits, '_', '.' and '-', starting with a \
         letter or a digit)"
    )]
    BadUpstream(String),
}

impl crate::exit::ExitStatus for Error {
    fn exit_code(&self) -> crate::exit::ExitCode {
        crate::exit::ExitCode::Usage
    }
}

/// The host nginx passes requests to: a container name (or an address), checked to be one
/// word of `[a-zA-Z0-9_.-]` so that it cannot change the configuration around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream(String);

impl Upstream {
    pub fn parse(name: &str) -> Result<Upstream, Error> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
        let starts_well = name.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric);
        if starts_well && name.len() <= 253 && name.bytes().all(allowed) {
            Ok(Upstream(name.to_owned()))
        } else {
            Err(Error::BadUpstream(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the configuration is made from.
#[derive(Debug, Clone)]
pub struct Site {
    pub upstream: Upstream,
    pub http_port: u16,
    pub realtime_port: u16,
    /// Odoo's major version: `/websocket` from 16 on, `/longpolling` before.
    pub odoo_major: u32,
    /// `client_max_body_size`, in bytes (0: no limit).
    pub body_size: u64,
    /// Production: the database manager is closed.
    pub production: bool,
}

impl Site {
    /// A site for Odoo `odoo_major` at `upstream` with the official image's ports and the
    /// default body size, not production.
    pub fn new(upstream: Upstream, odoo_major: u32) -> Site {
        Site {
            upstream,
            http_port: HTTP_PORT,
            realtime_port: REALTIME_PORT,
            odoo_major,
            body_size: DEFAULT_BODY_SIZE,
            production: false,
        }
    }
}

/// The text of the configuration file.
pub fn render(site: &Site) -> String {
    let headers = [("proxy_headers", PROXY_HEADERS)];
    let realtime =
        fill(if site.odoo_major >= WEBSOCKET_SINCE { WEBSOCKET } else { LONGPOLLING }, &headers);
    let database_manager = if site.production { DATABASE_MANAGER_CLOSED } else { "" };
    fill(
        SITE,
        &[
            ("upstream", site.upstream.as_str()),
            ("http_port", &site.http_port.to_string()),
            ("realtime_port", &site.realtime_port.to_string()),
            ("body_size", &size(site.body_size)),
            ("database_manager", database_manager),
            ("realtime", &realtime),
            headers[0],
        ],
    )
}

/// `template` with its placeholders replaced (see [`SITE`]); values are not looked into.
/// Panics on a placeholder without a value: the templates are this module's own.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let value = |name: &str| -> &str {
        let found = values.iter().find(|(n, _)| *n == name);
        found.unwrap_or_else(|| panic!("no value for {{{{{name}}}}}")).1
    };
    let mut out = String::with_capacity(template.len() * 2);
    for line in template.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")) {
            out.push_str(value(name));
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            let end = start + rest[start..].find("}}").expect("a placeholder is closed");
            out.push_str(&rest[..start]);
            out.push_str(value(&rest[start + 2..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
    }
    out
}

/// A size as nginx reads it: `200m`, `512k`, `1000`.
fn size(bytes: u64) -> String {
    match bytes {
        0 => "0".to_owned(),
        b if b % (1 << 20) == 0 => format!("{}m", b >> 20),
        b if b % (1 << 10) == 0 => format!("{}k", b >> 10),
        b => b.to_string(),
    }
}

#[cfg(test)]
mod tests;
