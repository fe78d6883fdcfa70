//! The catcher's web page: the caught messages (from, to, subject, date; a search), one
//! message (headers, text, its HTML, attachments to download), on an address of the
//! operator's (loopback by default).
//!
//! Mail is hostile input. Every page escapes what it shows and is served with a Content
//! Security Policy that allows no script at all; a message's HTML is shown only inside a
//! sandboxed frame, from its own URL whose policy adds `sandbox` and forbids every load
//! (scripts, remote images that would tell the sender the mail was read, forms). Attachments
//! are sent as downloads (`application/octet-stream`), never rendered.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::store::{Error, Store};

/// The policy of every page: no script, styles inline, frames only from this server.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; form-action 'self'";
/// The policy of a message's HTML: nothing runs, nothing loads.
const HTML_POLICY: &str = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE: &str = "body{font:14px sans-serif;margin:1.5em}table{border-collapse:collapse;width:100%}\
td,th{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd}pre{white-space:pre-wrap}\
iframe{width:100%;height:30em;border:1px solid #ccc}";

/// Serves the page on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, store: Arc<Store>) -> std::io::Result<()> {
    let app = Router::new()
        .route("/", get(list))
        .route("/m/{id}", get(message))
        .route("/m/{id}/html", get(html))
        .route("/m/{id}/raw", get(raw))
        .route("/m/{id}/a/{n}", get(attachment))
        .with_state(store);
    axum::serve(listener, app).await
}

/// Binds `addr` and serves there; the bound address is returned with the task.
pub async fn start(
    addr: SocketAddr,
    store: Arc<Store>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = serve(listener, store).await {
            tracing::error!("mail catcher web page: {e}");
        }
    });
    Ok((bound, task))
}

#[derive(serde::Deserialize)]
struct Search {
    q: Option<String>,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    );
    html_response(html, PAGE_POLICY)
}

/// An HTML document under `policy` (Content-Security-Policy), never sniffed, no referrer.
fn html_response(html: String, policy: &'static str) -> Response {
    let mut response = (StatusCode::OK, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn failed(error: Error) -> Response {
    let status = match error {
        Error::BadId(_) => StatusCode::BAD_REQUEST,
        Error::NoMessage(_) => StatusCode::NOT_FOUND,
        Error::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut response = page("error", &format!("<p>{}</p>", escape(&crate::exit::message(&error))));
    *response.status_mut() = status;
    response
}

fn time(seconds: u64) -> String {
    jiff::Timestamp::from_second(seconds as i64)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(Error::Io {
            what: "reading",
            path: Default::default(),
            source: std::io::Error::other(e),
        })
    })
}

async fn list(State(store): State<Arc<Store>>, Query(search): Query<Search>) -> Response {
    let all = match blocking(move || store.list()).await {
        Ok(all) => all,
        Err(e) => return failed(e),
    };
    let q = search.q.unwrap_or_default();
    let needle = q.to_lowercase();
    let shown: Vec<_> = all
        .iter()
        .filter(|m| {
            needle.is_empty()
                || [m.from.as_str(), m.subject.as_str()]
                    .into_iter()
                    .chain(m.to.iter().map(String::as_str))
                    .any(|field| field.to_lowercase().contains(&needle))
        })
        .collect();
    let mut body = format!(
        "<h1>Caught mail</h1><p>{} of {} message(s); none of them was sent.</p>\
         <form method=\"get\" action=\"/\"><input name=\"q\" value=\"{}\" placeholder=\"search from, to, subject\"> \
         <button>search</button></form><table><tr><th>received</th><th>from</th><th>to</th><th>subject</th></tr>",
        shown.len(),
        all.len(),
        escape(&q)
    );
    for m in shown {
        let _ = write!(
            body,
            "<tr class=\"message\"><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/m/{}\">{}</a></td></tr>",
            time(m.received),
            escape(&m.from),
            escape(&m.to.join(", ")),
            escape(&m.id),
            escape(if m.subject.is_empty() { "(no subject)" } else { &m.subject })
        );
    }
    body.push_str("</table>");
    page("Caught mail", &body)
}

async fn message(State(store): State<Arc<Store>>, Path(id): Path<String>) -> Response {
    let shown = match blocking(move || store.show(&id)).await {
        Ok(shown) => shown,
        Err(e) => return failed(e),
    };
    let id = escape(&shown.summary.id);
    let mut body = format!(
        "<p><a href=\"/\">all messages</a> · <a href=\"/m/{id}/raw\">raw</a></p><h1 id=\"subject\">{}</h1><table>",
        escape(&shown.summary.subject)
    );
    let rows = [
        ("received", time(shown.summary.received)),
        ("envelope from", shown.summary.from.clone()),
        ("envelope to", shown.summary.to.join(", ")),
        ("From", shown.header_from.clone()),
        ("To", shown.header_to.clone()),
        ("Date", shown.date.clone().unwrap_or_default()),
    ];
    for (name, value) in rows {
        let _ = write!(body, "<tr><th>{name}</th><td>{}</td></tr>", escape(&value));
    }
    body.push_str("</table>");
    for (n, a) in shown.attachments.iter().enumerate() {
        let _ = write!(
            body,
            "<p class=\"attachment\"><a href=\"/m/{id}/a/{n}\" download>{}</a> ({}, {} bytes)</p>",
            escape(&a.name),
            escape(&a.content_type),
            a.size
        );
    }
    if shown.html.is_some() {
        let _ = write!(
            body,
            "<h2>HTML</h2><iframe sandbox src=\"/m/{id}/html\" title=\"the message's HTML\"></iframe>"
        );
    }
    if let Some(text) = &shown.text {
        let _ = write!(body, "<h2>Text</h2><pre id=\"text\">{}</pre>", escape(text));
    }
    page(&shown.summary.subject, &body)
}

async fn html(State(store): State<Arc<Store>>, Path(id): Path<String>) -> Response {
    let shown = match blocking(move || store.show(&id)).await {
        Ok(shown) => shown,
        Err(e) => return failed(e),
    };
    html_response(shown.html.unwrap_or_default(), HTML_POLICY)
}

async fn raw(State(store): State<Arc<Store>>, Path(id): Path<String>) -> Response {
    match blocking(move || store.raw(&id)).await {
        Ok(bytes) => download(bytes, "text/plain; charset=utf-8", None),
        Err(e) => failed(e),
    }
}

async fn attachment(
    State(store): State<Arc<Store>>,
    Path((id, n)): Path<(String, usize)>,
) -> Response {
    match blocking(move || store.attachment(&id, n)).await {
        Ok((name, bytes)) => download(bytes, "application/octet-stream", Some(&name)),
        Err(e) => failed(e),
    }
}

/// `bytes` as a download (or as plain text), never interpreted by the browser.
fn download(bytes: Vec<u8>, content_type: &'static str, name: Option<&str>) -> Response {
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    if let Some(name) = name {
        // Only safe characters in the header; the rest become '_'.
        let safe: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._- ".contains(c) { c } else { '_' })
            .collect();
        if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
