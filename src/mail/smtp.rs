//! The catcher's SMTP server (RFC 5321, the part a sending application uses): it accepts every
//! message for every recipient, stores it, and never relays anything.
//!
//! Written here because the SMTP server crates are either whole mail servers or unmaintained;
//! what a catcher needs is small and its tests hold it to the protocol with a real client
//! (Python's smtplib) and hostile input. Extensions: `SIZE` (a message over the limit is
//! refused with 552, declared or not, and the rest of it read and dropped), `8BITMIME`,
//! `SMTPUTF8`, `PIPELINING`, and `AUTH PLAIN LOGIN`, which accepts any credentials (a copy's
//! mail server may still have a user set) and never stores or logs them. Lines are bounded,
//! a session ends after 10 bad commands or 5 idle minutes, and a store that fails (a full
//! disk) answers 452 for that message and keeps serving.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::store::Store;

/// The longest command line accepted (RFC 5321 says 512 with extensions; clients send more).
const MAX_COMMAND: u64 = 4096;
/// Bad commands before the session is ended.
const MAX_ERRORS: usize = 10;
/// Recipients of one message.
const MAX_RECIPIENTS: usize = 1000;
/// How long a client may stay silent.
const IDLE: Duration = Duration::from_secs(300);

/// What a session needs to know.
pub struct Config {
    pub store: Arc<Store>,
    /// Bytes of one message.
    pub max_size: u64,
    /// The name the server greets with.
    pub hostname: String,
}

/// Accepts sessions on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, config: Arc<Config>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("mail catcher: accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let config = Arc::clone(&config);
        tokio::spawn(async move {
            let (read, write) = stream.into_split();
            if let Err(e) = session(read, write, peer, &config).await {
                tracing::debug!("mail catcher: session with {peer}: {e}");
            }
        });
    }
}

/// One message being received.
#[derive(Default)]
struct Envelope {
    from: Option<String>,
    to: Vec<String>,
}

/// One SMTP session, until QUIT, the client goes, or too many errors.
pub async fn session<R, W>(
    read: R,
    mut write: W,
    peer: SocketAddr,
    config: &Config,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = BufReader::new(read);
    let mut reply = Replier { write: &mut write };
    reply
        .send(220, &format!("{} oe mail catcher ESMTP (nothing is relayed)", config.hostname))
        .await?;
    let mut envelope = Envelope::default();
    let mut greeted = false;
    let mut errors = 0;
    loop {
        if errors >= MAX_ERRORS {
            return reply.send(421, "too many errors, closing").await;
        }
        let Some(line) = read_line(&mut reader, MAX_COMMAND).await? else {
            return reply.send(421, "idle for too long, closing").await;
        };
        let line = match line {
            Line::Text(line) => line,
            Line::TooLong => {
                errors += 1;
                reply.send(500, "line too long").await?;
                continue;
            }
            Line::Closed => return Ok(()),
        };
        let (verb, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let arg = arg.trim();
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" if !arg.is_empty() => {
                greeted = true;
                envelope = Envelope::default();
                let max = config.max_size;
                let lines = [
                    config.hostname.clone(),
                    format!("SIZE {max}"),
                    "8BITMIME".into(),
                    "SMTPUTF8".into(),
                    "PIPELINING".into(),
                    "AUTH PLAIN LOGIN".into(),
                ];
                reply.multi(250, &lines).await?;
            }
            "HELO" if !arg.is_empty() => {
                greeted = true;
                envelope = Envelope::default();
                reply.send(250, &config.hostname).await?;
            }
            "EHLO" | "HELO" => {
                errors += 1;
                reply.send(501, "a domain or address is needed").await?;
            }
            "AUTH" if greeted => {
                // Any credentials do; they are read and forgotten.
                let mut words = arg.split_whitespace();
                let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
                let initial = words.next().is_some();
                let prompts = match mechanism.as_str() {
                    "PLAIN" if initial => 0,
                    "PLAIN" => 1,
                    "LOGIN" if initial => 1,
                    "LOGIN" => 2,
                    _ => {
                        errors += 1;
                        reply.send(504, "only PLAIN and LOGIN").await?;
                        continue;
                    }
                };
                let mut cancelled = false;
                for prompt in 0..prompts {
                    // LOGIN asks "Username:" then "Password:" (base64); PLAIN asks nothing.
                    let text = match mechanism.as_str() {
                        "LOGIN" if prompt == 1 || initial => "UGFzc3dvcmQ6",
                        "LOGIN" => "VXNlcm5hbWU6",
                        _ => "",
                    };
                    reply.send(334, text).await?;
                    match read_line(&mut reader, MAX_COMMAND).await? {
                        Some(Line::Text(answer)) if answer == "*" => cancelled = true,
                        Some(Line::Text(_)) => {}
                        Some(Line::TooLong) => cancelled = true,
                        Some(Line::Closed) | None => return Ok(()),
                    }
                    if cancelled {
                        break;
                    }
                }
                if cancelled {
                    reply.send(501, "authentication cancelled").await?;
                } else {
                    reply
                        .send(235, "accepted (any credentials are: this server delivers nothing)")
                        .await?;
                }
            }
            "MAIL" if !greeted => {
                errors += 1;
                reply.send(503, "say EHLO or HELO first").await?;
            }
            "MAIL" => match parse_path(arg, "FROM:") {
                Some((from, params)) => {
                    let declared = params
                        .split_whitespace()
                        .find_map(|p| {
                            p.to_ascii_uppercase().strip_prefix("SIZE=").map(str::to_owned)
                        })
                        .and_then(|s| s.parse::<u64>().ok());
                    if declared.is_some_and(|size| size > config.max_size) {
                        reply.send(552, &too_large(config)).await?;
                    } else {
                        envelope = Envelope { from: Some(from), to: Vec::new() };
                        reply.send(250, "sender accepted").await?;
                    }
                }
                None => {
                    errors += 1;
                    reply.send(501, "syntax: MAIL FROM:<address>").await?;
                }
            },
            "RCPT" if envelope.from.is_none() => {
                errors += 1;
                reply.send(503, "MAIL first").await?;
            }
            "RCPT" => match parse_path(arg, "TO:") {
                Some(_) if envelope.to.len() >= MAX_RECIPIENTS => {
                    reply.send(452, "too many recipients").await?;
                }
                Some((to, _)) if !to.is_empty() => {
                    envelope.to.push(to);
                    reply.send(250, "recipient accepted (it will receive nothing)").await?;
                }
                _ => {
                    errors += 1;
                    reply.send(501, "syntax: RCPT TO:<address>").await?;
                }
            },
            "DATA" if envelope.to.is_empty() => {
                errors += 1;
                reply.send(503, "RCPT first").await?;
            }
            "DATA" => {
                reply.send(354, "end with <CRLF>.<CRLF>").await?;
                let Some(data) = read_data(&mut reader, config.max_size).await? else {
                    return Ok(());
                };
                let taken = std::mem::take(&mut envelope);
                let Some(data) = data else {
                    reply.send(552, &too_large(config)).await?;
                    continue;
                };
                let (code, text) = store(config, taken, data, peer).await;
                reply.send(code, &text).await?;
            }
            "RSET" => {
                envelope = Envelope::default();
                reply.send(250, "reset").await?;
            }
            "NOOP" => reply.send(250, "ok").await?,
            "VRFY" => reply.send(252, "every address is accepted, none receives anything").await?,
            "HELP" => reply.send(214, "EHLO HELO MAIL RCPT DATA RSET NOOP QUIT AUTH").await?,
            "QUIT" => return reply.send(221, "bye").await,
            _ => {
                errors += 1;
                reply.send(500, "command not recognized").await?;
            }
        }
    }
}

/// Stores a received message: the reply to give (250 with its id, or why it was not stored;
/// the error goes to the log too).
async fn store(
    config: &Config,
    envelope: Envelope,
    data: Vec<u8>,
    peer: SocketAddr,
) -> (u16, String) {
    let from = envelope.from.unwrap_or_default();
    let count = envelope.to.len();
    let to = envelope.to;
    let store = Arc::clone(&config.store);
    let stored = tokio::task::spawn_blocking(move || store.deliver(&from, &to, &data)).await;
    match stored {
        Ok(Ok(id)) => {
            tracing::info!("mail catcher: caught {id} from {peer} for {count} recipient(s)");
            (250, format!("caught as {id}, delivered to nobody"))
        }
        Ok(Err(e)) => {
            let message = crate::exit::message(&e);
            tracing::error!("mail catcher: {message}");
            (452, format!("cannot store the message: {message}"))
        }
        Err(e) => {
            tracing::error!("mail catcher: storing a message: {e}");
            (451, "cannot store the message".to_owned())
        }
    }
}

struct Replier<'a, W> {
    write: &'a mut W,
}

impl<W: AsyncWrite + Unpin> Replier<'_, W> {
    async fn send(&mut self, code: u16, text: &str) -> std::io::Result<()> {
        let text = if text.is_empty() { String::new() } else { format!(" {text}") };
        self.write.write_all(format!("{code}{text}\r\n").as_bytes()).await?;
        self.write.flush().await
    }

    async fn multi(&mut self, code: u16, lines: &[String]) -> std::io::Result<()> {
        let mut out = String::new();
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            out += &format!("{code}{sep}{line}\r\n");
        }
        self.write.write_all(out.as_bytes()).await?;
        self.write.flush().await
    }
}

enum Line {
    Text(String),
    TooLong,
    Closed,
}

/// The next line without its line break (`None` after [`IDLE`]); a longer one than `max` is
/// read to its end and dropped.
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    max: u64,
) -> std::io::Result<Option<Line>> {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(IDLE, async {
        let n = (&mut *reader).take(max).read_until(b'\n', &mut buf).await?;
        if n == 0 {
            return Ok::<_, std::io::Error>(Line::Closed);
        }
        if buf.last() != Some(&b'\n') {
            if n as u64 == max {
                skip_line(reader).await?;
                return Ok(Line::TooLong);
            }
            return Ok(Line::Closed);
        }
        let text = String::from_utf8_lossy(&buf);
        Ok(Line::Text(text.trim_end_matches(['\r', '\n']).to_owned()))
    })
    .await;
    match read {
        Ok(line) => line.map(Some),
        Err(_) => Ok(None),
    }
}

/// Reads and drops the rest of a line.
async fn skip_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> std::io::Result<()> {
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(());
        }
        if let Some(at) = memchr::memchr(b'\n', chunk) {
            reader.consume(at + 1);
            return Ok(());
        }
        let n = chunk.len();
        reader.consume(n);
    }
}

/// The message after DATA, dot-unstuffed, up to the line `.`: `Some(None)` when it was over
/// `max` bytes (read to its end and dropped), `None` when the client went or idled.
async fn read_data<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    max: u64,
) -> std::io::Result<Option<Option<Vec<u8>>>> {
    let mut data = Vec::new();
    let mut over = false;
    loop {
        let mut line = Vec::new();
        let read = tokio::time::timeout(IDLE, async {
            // A line of a message is at most 1000 bytes; longer ones are taken in pieces.
            (&mut *reader).take(64 * 1024).read_until(b'\n', &mut line).await
        })
        .await;
        let n = match read {
            Ok(n) => n?,
            Err(_) => return Ok(None),
        };
        if n == 0 {
            return Ok(None);
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(Some((!over).then_some(data)));
        }
        let body = if line.starts_with(b".") { &line[1..] } else { &line[..] };
        if !over && data.len() as u64 + body.len() as u64 > max {
            over = true;
            data = Vec::new();
        }
        if !over {
            data.extend_from_slice(body);
        }
    }
}

/// `FROM:<address> PARAMS` (or `TO:`): the address (empty for the null sender `<>`) and the
/// parameters.
fn parse_path(arg: &str, keyword: &str) -> Option<(String, String)> {
    let upper = arg.to_ascii_uppercase();
    if !upper.starts_with(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    let address = &rest[..end];
    if address.chars().any(|c| c.is_control() || c == ' ') {
        return None;
    }
    Some((address.to_owned(), rest[end + 1..].trim().to_owned()))
}

/// The 552 reply's text: the limit, as `SIZE` announced it.
fn too_large(config: &Config) -> String {
    format!("the message exceeds the limit of {} bytes", config.max_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_parsed_with_their_parameters() {
        assert_eq!(
            parse_path("FROM:<a@x.org> SIZE=10", "FROM:"),
            Some(("a@x.org".into(), "SIZE=10".into()))
        );
        assert_eq!(parse_path("from: <>", "FROM:"), Some((String::new(), String::new())));
        assert_eq!(parse_path("TO:<b@y>", "TO:"), Some(("b@y".into(), String::new())));
        for bad in ["FROM:a@x", "FROM:<a@x", "TO:<a@x>", "FROM:<a b@x>"] {
            assert_eq!(parse_path(bad, "FROM:"), None, "{bad}");
        }
    }
}
