//! `oe mail serve|ls|show|purge`: the mail catcher, fed by a real SMTP client (Python's
//! smtplib) and by hand-written hostile sessions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::skip_unless_available;
use crate::testenv::TestEnv;

/// A running `oe mail serve` on a free loopback port (and its web page); stopped with it.
pub(crate) struct Catcher {
    child: Child,
    port: u16,
    web: Option<u16>,
}

impl Catcher {
    fn start(env: &TestEnv) -> Catcher {
        Catcher::start_with(env, &[])
    }

    pub(crate) fn start_with(env: &TestEnv, args: &[&str]) -> Catcher {
        let mut command = env.oe();
        command.args(["mail", "serve", "--listen", "127.0.0.1:0"]).args(args);
        Catcher::spawn(env, command)
    }

    /// Runs `command` (an `oe mail serve`) until it says where it listens; its log goes to
    /// `catcher.log`.
    fn spawn(env: &TestEnv, mut command: Command) -> Catcher {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(env.path("catcher.log")).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        // "mail catcher on 127.0.0.1:PORT[, web page http://127.0.0.1:PORT/] (messages in DIR)"
        let port_of = |word: &str| {
            word.trim_end_matches([',', '/']).rsplit(':').next().and_then(|p| p.parse().ok())
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let port = port_of(words[3]).unwrap_or_else(|| panic!("no address in {line:?}"));
        let web = words.iter().find(|w| w.starts_with("http://")).and_then(|w| port_of(w));
        Catcher { child, port, web }
    }
}

impl Drop for Catcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A hand-driven SMTP session.
struct Session {
    stream: BufReader<TcpStream>,
}

impl Session {
    fn open(port: u16) -> Session {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut session = Session { stream: BufReader::new(stream) };
        assert!(session.reply().starts_with("220 "));
        session
    }

    /// The next reply, every line of it.
    fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if self.stream.read_line(&mut line).unwrap() == 0 {
                return all;
            }
            all += &line;
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    fn send(&mut self, text: &str) -> String {
        self.stream.get_mut().write_all(text.as_bytes()).unwrap();
        self.reply()
    }

    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(self.stream.read_to_end(&mut rest), Ok(0))
    }
}

fn configure(env: &TestEnv, extra: &str) {
    let dir = env.path("mailbox");
    env.write_config(&format!("mail: {{dir: '{}', max_size: 100000{extra}}}\n", dir.display()));
}

pub(crate) fn ls(env: &TestEnv) -> Vec<Value> {
    let run = env.run(&["--json", "mail", "ls"]).success();
    serde_json::from_str(run.stdout.trim()).unwrap()
}

const SEND: &str = r#"
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m['From'] = 'Shop <shop@example.com>'
m['To'] = 'customer@example.org'
m['Subject'] = 'Invoice INV/2026/0007'
m.set_content('Dear customer, your invoice.')
m.add_alternative('<p>Dear <b>customer</b><script>alert(1)</script></p>', subtype='html')
m.add_attachment(b'%PDF-1.4 test', maintype='application', subtype='pdf', filename='INV-7.pdf')
with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10) as s:
    s.ehlo()
    assert s.has_extn('size') and s.has_extn('auth'), s.esmtp_features
    s.login('odoo-user', 'secret-password')
    refused = s.send_message(m, to_addrs=['customer@example.org', 'hidden@example.org'])
    assert refused == {}, refused
"#;

#[test]
fn a_real_client_s_message_is_caught_listed_shown_and_purged() {
    let how = "install python3 (contrib/test.sh does)";
    let python = Command::new("python3").arg("--version").output().is_ok();
    if skip_unless_available((!python).then_some("python3"), how) {
        return;
    }
    let env = TestEnv::new();
    configure(&env, "");
    let catcher = Catcher::start(&env);
    let out =
        Command::new("python3").args(["-c", SEND, &catcher.port.to_string()]).output().unwrap();
    assert!(out.status.success(), "smtplib: {}", String::from_utf8_lossy(&out.stderr));

    let list = ls(&env);
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list[0]["from"], "shop@example.com");
    assert_eq!(list[0]["to"], serde_json::json!(["customer@example.org", "hidden@example.org"]));
    assert_eq!(list[0]["subject"], "Invoice INV/2026/0007");
    env.run(&["mail", "ls"]).success().stdout_has("Invoice INV/2026/0007");

    let shown = env.run(&["mail", "show", &id]).success();
    let shown = shown.stdout_has("Dear customer, your invoice.").stdout_has("INV-7.pdf");
    shown.stdout_has("application/pdf");
    let raw = env.run(&["mail", "show", "--raw", &id]).success();
    let raw = raw.stdout_has("Return-Path: <shop@example.com>");
    let raw = raw.stdout_has("Delivered-To: hidden@example.org");
    // Credentials are accepted and kept nowhere.
    let log = std::fs::read_to_string(env.path("catcher.log")).unwrap();
    assert!(!log.contains("secret-password") && !raw.stdout.contains("secret-password"));
    let stored: Vec<_> = std::fs::read_dir(env.path("mailbox/new")).unwrap().collect();
    assert_eq!(stored.len(), 1);

    env.run(&["mail", "show", "../../etc/passwd"]).failure(2).stderr_has("not a message id");
    env.run(&["mail", "show", "1.2_3"]).failure(1).stderr_has("no message");
    env.run(&["mail", "purge", "--older-than", "1h"]).success().stdout_has("removed 0");
    env.run(&["mail", "purge"]).success().stdout_has("removed 1");
    assert!(ls(&env).is_empty());
}

#[test]
fn hostile_sessions_get_errors_and_the_catcher_stays_up() {
    let env = TestEnv::new();
    configure(&env, ", max_messages: 2");
    let catcher = Catcher::start(&env);

    let mut s = Session::open(catcher.port);
    assert!(s.send("MAIL FROM:<a@x>\r\n").starts_with("503 "), "EHLO first");
    assert!(s.send("EHLO\r\n").starts_with("501 "));
    assert!(s.send("EHLO test\r\n").contains("250 AUTH PLAIN LOGIN"));
    assert!(s.send("RCPT TO:<b@y>\r\n").starts_with("503 "), "MAIL first");
    assert!(s.send("MAIL FROM:a@x\r\n").starts_with("501 "));
    assert!(s.send("DATA\r\n").starts_with("503 "));
    let long = format!("NOOP {}\r\n", "x".repeat(10_000));
    assert!(s.send(&long).starts_with("500 line too long"));
    assert!(s.send("NOOP\r\n").starts_with("250 "), "the session goes on after a long line");
    // Declared too big: refused before the data.
    assert!(s.send("MAIL FROM:<a@x> SIZE=100001\r\n").starts_with("552 "));
    // Undeclared and too big: read to its end, refused, the session goes on.
    assert!(s.send("MAIL FROM:<a@x>\r\n").starts_with("250 "));
    assert!(s.send("RCPT TO:<b@y>\r\n").starts_with("250 "));
    assert!(s.send("DATA\r\n").starts_with("354 "));
    let big = format!("Subject: big\r\n\r\n{}\r\n.\r\n", "y".repeat(120_000));
    assert!(s.send(&big).starts_with("552 the message exceeds the limit of 100000 bytes"));
    assert!(s.send("NOOP\r\n").starts_with("250 "));
    // A message with a dot-stuffed line is stored unstuffed.
    assert!(s.send("MAIL FROM:<>\r\n").starts_with("250 "));
    assert!(s.send("RCPT TO:<b@y>\r\n").starts_with("250 "));
    assert!(s.send("DATA\r\n").starts_with("354 "));
    let reply = s.send("Subject: dots\r\n\r\n..leading dot\r\n.\r\n");
    assert!(reply.starts_with("250 caught as "), "{reply}");
    assert!(s.send("QUIT\r\n").starts_with("221 "));

    // Too many errors end a session; the next one is served.
    let mut s = Session::open(catcher.port);
    for _ in 0..10 {
        assert!(s.send("BOGUS\r\n").starts_with("500 "));
    }
    assert!(s.reply().starts_with("421 "));
    assert!(s.closed());
    let mut s = Session::open(catcher.port);
    assert!(s.send("HELO again\r\n").starts_with("250 "));

    let list = ls(&env);
    assert_eq!(list.len(), 1, "only the good message: {list:?}");
    let raw = env.run(&["mail", "show", "--raw", list[0]["id"].as_str().unwrap()]).success();
    raw.stdout_has("\r\n.leading dot\r\n");

    // max_messages 2: the oldest goes.
    for n in 0..3 {
        assert!(s.send("MAIL FROM:<a@x>\r\n").starts_with("250 "));
        assert!(s.send("RCPT TO:<b@y>\r\n").starts_with("250 "));
        assert!(s.send("DATA\r\n").starts_with("354 "));
        assert!(s.send(&format!("Subject: n{n}\r\n\r\nbody\r\n.\r\n")).starts_with("250 "));
    }
    let subjects: Vec<_> =
        ls(&env).iter().map(|m| m["subject"].as_str().unwrap().to_owned()).collect();
    assert_eq!(subjects, ["n2", "n1"]);
}

#[test]
fn a_full_disk_fails_the_message_not_the_catcher() {
    let root = unsafe { libc::geteuid() } == 0;
    if skip_unless_available((!root).then_some("root (to mount a small tmpfs)"), "run as root") {
        return;
    }
    let env = TestEnv::new();
    configure(&env, "");
    let mailbox = env.path("mailbox");
    std::fs::create_dir_all(&mailbox).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "oe-test-mail"])
        .arg(&mailbox)
        .status()
        .unwrap();
    assert!(mounted.success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mailbox.clone());
    let catcher = Catcher::start(&env);
    let mut s = Session::open(catcher.port);
    assert!(s.send("EHLO test\r\n").starts_with("250"));
    let send = |s: &mut Session, size: usize| {
        assert!(s.send("MAIL FROM:<a@x>\r\n").starts_with("250 "));
        assert!(s.send("RCPT TO:<b@y>\r\n").starts_with("250 "));
        assert!(s.send("DATA\r\n").starts_with("354 "));
        s.send(&format!("Subject: {size}\r\n\r\n{}\r\n.\r\n", "z".repeat(size)))
    };
    let reply = send(&mut s, 90_000);
    assert!(reply.starts_with("452 cannot store the message"), "{reply}");
    assert!(std::fs::read_dir(mailbox.join("tmp")).unwrap().next().is_none(), "nothing left");
    assert!(send(&mut s, 1_000).starts_with("250 "), "the catcher goes on");
    let log = std::fs::read_to_string(env.path("catcher.log")).unwrap();
    assert!(log.contains("No space left on device"), "{log}");
    assert_eq!(ls(&env).len(), 1);
}

#[test]
fn the_daemon_runs_the_catcher_when_mail_listen_is_set() {
    let env = TestEnv::new();
    let port = crate::deploy::free_port();
    configure(&env, &format!(", listen: ['127.0.0.1:{port}']"));
    let log = std::fs::File::create(env.path("daemon.log")).unwrap();
    let mut daemon = env.oe().arg("daemon").stdout(Stdio::null()).stderr(log).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => break stream,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => panic!("the daemon's catcher does not answer: {e}"),
        }
    };
    drop(stream);
    let mut s = Session::open(port);
    assert!(s.send("HELO daemon\r\n").starts_with("250 "));
    assert!(s.send("MAIL FROM:<odoo@staging>\r\n").starts_with("250 "));
    assert!(s.send("RCPT TO:<customer@example.org>\r\n").starts_with("250 "));
    assert!(s.send("DATA\r\n").starts_with("354 "));
    assert!(s.send("Subject: from the daemon\r\n\r\nhi\r\n.\r\n").starts_with("250 "));
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    daemon.wait().unwrap();
    let list = ls(&env);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["subject"], "from the daemon");
}

/// The DOM of `url` after its scripts ran, from headless Chromium.
fn dom(url: &str) -> String {
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_web_page_lists_and_shows_messages_and_runs_no_script_of_theirs() {
    let chromium =
        Command::new("chromium").arg("--version").output().is_ok_and(|o| o.status.success());
    let how = "install chromium (contrib/test.sh does)";
    if skip_unless_available((!chromium).then_some("chromium"), how) {
        return;
    }
    // The browser runs scripts where nothing forbids it: their absence below is the policy's.
    let control = dom(
        "data:text/html,<p id=p>static</p><script>document.getElementById('p').textContent='SCRIPT RAN'</script>",
    );
    assert!(control.contains("<p id=\"p\">SCRIPT RAN</p>"), "{control}");

    let env = TestEnv::new();
    configure(&env, "");
    let catcher = Catcher::start_with(&env, &["--web", "127.0.0.1:0"]);
    let web = catcher.web.expect("the web page's address");
    let mut s = Session::open(catcher.port);
    assert!(s.send("EHLO browser\r\n").starts_with("250"));
    let send = |s: &mut Session, subject: &str, body: &str| {
        assert!(s.send("MAIL FROM:<shop@example.com>\r\n").starts_with("250 "));
        assert!(s.send("RCPT TO:<customer@example.org>\r\n").starts_with("250 "));
        assert!(s.send("DATA\r\n").starts_with("354 "));
        assert!(s.send(&format!("Subject: {subject}\r\n{body}\r\n.\r\n")).starts_with("250 "));
    };
    let hostile = "<p id=\"p\">static</p><script>document.getElementById('p').textContent='SCRIPT RAN'</script>\
                   <img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">";
    send(&mut s, "Welcome <b>bold</b>", &format!("Content-Type: text/html\r\n\r\n{hostile}"));
    send(&mut s, "Invoice 7", "Content-Type: text/plain\r\n\r\nPlease pay.");

    let list = dom(&format!("http://127.0.0.1:{web}/"));
    assert_eq!(list.matches("class=\"message\"").count(), 2, "{list}");
    assert!(
        list.contains("Invoice 7") && list.contains("Welcome &lt;b&gt;bold&lt;/b&gt;"),
        "{list}"
    );
    let found = dom(&format!("http://127.0.0.1:{web}/?q=invoice"));
    assert_eq!(found.matches("class=\"message\"").count(), 1, "{found}");

    let ids: Vec<String> = ls(&env).iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
    let (html_id, text_id) = (&ids[1], &ids[0]);
    let shown = dom(&format!("http://127.0.0.1:{web}/m/{text_id}"));
    assert!(shown.contains("Please pay.") && shown.contains("customer@example.org"), "{shown}");
    let framed = dom(&format!("http://127.0.0.1:{web}/m/{html_id}"));
    assert!(
        framed.contains(&format!("src=\"/m/{html_id}/html\"")) && framed.contains("sandbox"),
        "{framed}"
    );
    // The message's HTML, opened on its own: shown, its script and handlers inert.
    let html = dom(&format!("http://127.0.0.1:{web}/m/{html_id}/html"));
    assert!(html.contains("<p id=\"p\">static</p>"), "the script did not run: {html}");
    assert!(!html.contains("<body data-pwned"), "the handler did not run: {html}");
}

#[test]
fn the_catcher_listens_on_an_address_that_exists_only_later() {
    // The staging network's gateway, before Docker made its bridge (oe daemon at boot).
    if !crate::cutoff::can_use_netns() {
        return;
    }
    let env = TestEnv::new();
    configure(&env, "");
    let ns = crate::cutoff::Netns::new("m");
    let file = ns.file();
    let command = ns.command(&env, &["mail", "serve", "--listen", "10.81.0.1:2525"], &file);
    let catcher = Catcher::spawn(&env, command);
    assert_eq!(catcher.port, 2525, "listening on the address that does not exist yet");
    ns.ip(&["link", "add", "oema0", "type", "veth", "peer", "name", "oemb0"]);
    ns.ip(&["addr", "add", "10.81.0.1/24", "dev", "oema0"]);
    ns.ip(&["link", "set", "oema0", "up"]);
    ns.ip(&["link", "set", "oemb0", "up"]);
    let greeting = ns.within(|| {
        let stream = TcpStream::connect("10.81.0.1:2525").unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        line
    });
    drop(catcher);
    assert!(greeting.starts_with("220 "), "{greeting:?}");
}
