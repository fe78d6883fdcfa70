//! `oe cutoff` against the real firewall: nftables in network namespaces of the test's own
//! (no Docker), and iptables' `DOCKER-USER` with a real container on a test bridge. The mail
//! listeners live in a namespace routed through the host; no traffic leaves the machine.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::deploy::{images, run};
use crate::support::skip_unless_available;
use crate::testenv::{Run, TestEnv};

/// Mail ports the tests listen on and expect cut off; 443 stays open.
const MAIL: [u16; 4] = [25, 465, 587, 993];
const OPEN: u16 = 443;

/// Whether this test may make network namespaces and firewall rules (root, iproute2, nft);
/// false after a skip line.
pub(crate) fn can_use_netns() -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    let how = "run the tests as root (CAP_NET_ADMIN) with iproute2, nftables and iptables \
               installed (contrib/test.sh installs them)";
    if skip_unless_available((!root).then_some("root (network namespaces)"), how) {
        return false;
    }
    let tools = ["ip", "nft", "iptables"];
    let missing = tools.iter().find(|t| Command::new(t).arg("--version").output().is_err());
    !skip_unless_available(missing.copied(), how)
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The outside world: a namespace routed through the host (10.78.N.2), so that containers
/// reach it through the host's FORWARD chain as they would a mail server on the Internet.
pub(crate) struct Outside {
    pub(crate) ns: Netns,
    pub(crate) addr: IpAddr,
    host_end: String,
}

impl Outside {
    pub(crate) fn new() -> Outside {
        let ns = Netns::new("o");
        let n = NEXT.fetch_add(1, Ordering::Relaxed) % 250;
        let (host_end, far_end) = (format!("oeha{n}"), format!("oehb{n}"));
        run("ip", &["link", "add", &host_end, "type", "veth", "peer", "name", &far_end], None);
        let addr = IpAddr::V4(Ipv4Addr::new(10, 78, n as u8, 2));
        let outside = Outside { ns, addr, host_end };
        run("ip", &["link", "set", &far_end, "netns", &outside.ns.name], None);
        run("ip", &["addr", "add", &format!("10.78.{n}.1/24"), "dev", &outside.host_end], None);
        run("ip", &["link", "set", &outside.host_end, "up"], None);
        outside.ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", &far_end]);
        outside.ns.ip(&["link", "set", &far_end, "up"]);
        outside.ns.ip(&["route", "add", "default", "via", &format!("10.78.{n}.1")]);
        outside
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.host_end]).output();
    }
}

/// A network namespace of this test's, deleted with it.
pub(crate) struct Netns {
    name: String,
}

impl Netns {
    pub(crate) fn new(tag: &str) -> Netns {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("oe{tag}{}x{n}", std::process::id() % 100_000);
        run("ip", &["netns", "add", &name], None);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub(crate) fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run("ip", &all, None);
    }

    fn exec(&self, program: &str, args: &[&str]) -> String {
        let mut all = vec!["netns", "exec", self.name.as_str(), program];
        all.extend_from_slice(args);
        run("ip", &all, None)
    }

    pub(crate) fn file(&self) -> std::fs::File {
        std::fs::File::open(format!("/var/run/netns/{}", self.name)).unwrap()
    }

    /// Runs `f` on a thread inside this namespace (a thread's network namespace is its own).
    pub(crate) fn within<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let file = self.file();
        std::thread::spawn(move || {
            let entered = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(entered, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap()
    }

    /// A veth pair from this namespace (`ends.0`, `<subnet>.1`) to `peer` (`ends.1`,
    /// `<subnet>.2`), both up; the peer's address.
    fn veth_to(&self, peer: &Netns, ends: (&str, &str), subnet: &str) -> IpAddr {
        let (near, far) = ends;
        self.ip(&["link", "add", near, "type", "veth", "peer", "name", far, "netns", &peer.name]);
        self.ip(&["addr", "add", &format!("{subnet}.1/24"), "dev", near]);
        self.ip(&["link", "set", near, "up"]);
        peer.ip(&["addr", "add", &format!("{subnet}.2/24"), "dev", far]);
        peer.ip(&["link", "set", far, "up"]);
        format!("{subnet}.2").parse().unwrap()
    }

    /// `oe <args>` of `env`, to start inside this namespace (`file` must outlive the start).
    pub(crate) fn command(&self, env: &TestEnv, args: &[&str], file: &std::fs::File) -> Command {
        let mut cmd = env.oe();
        cmd.args(args);
        let fd = file.as_raw_fd();
        unsafe {
            cmd.pre_exec(move || match libc::setns(fd, libc::CLONE_NEWNET) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            });
        }
        cmd
    }

    /// `oe <args>` of `env`, inside this namespace, to completion.
    fn oe(&self, env: &TestEnv, args: &[&str]) -> Run {
        let file = self.file();
        let mut cmd = self.command(env, args, &file);
        let output = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).output().unwrap();
        Run::new(format!("oe {} (in {})", args.join(" "), self.name), output)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

/// TCP listeners on `ports` of `addr` inside `ns`, counting the connections they accept.
pub(crate) struct Listeners {
    accepted: Arc<AtomicUsize>,
}

impl Listeners {
    pub(crate) fn start(ns: &Netns, addr: IpAddr, ports: &[u16]) -> Listeners {
        let accepted = Arc::new(AtomicUsize::new(0));
        for &port in ports {
            let listener =
                ns.within(move || TcpListener::bind(SocketAddr::new(addr, port)).unwrap());
            let count = (port != OPEN).then(|| accepted.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    if let Some(count) = &count {
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    drop(stream);
                }
            });
        }
        Listeners { accepted }
    }

    /// Asserts that the mail ports accepted `n` connections (waiting a moment for the
    /// accepting threads: a connect returns before its accept).
    pub(crate) fn assert_mail_accepted(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.accepted.load(Ordering::SeqCst) < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(self.accepted.load(Ordering::SeqCst), n, "connections to the mail ports");
    }
}

/// How a connection from `ns` to `addr:port` ends: `Ok` when it connects, else the error kind,
/// with the time it took.
fn connect(ns: &Netns, addr: IpAddr, port: u16) -> (Result<(), std::io::ErrorKind>, Duration) {
    ns.within(move || {
        let start = Instant::now();
        let result =
            TcpStream::connect_timeout(&SocketAddr::new(addr, port), Duration::from_secs(5))
                .map(drop)
                .map_err(|e| e.kind());
        (result, start.elapsed())
    })
}

/// Two namespaces joined by a veth pair: `client` (10.77.N.1) and `server` (10.77.N.2).
fn pair() -> (Netns, Netns, IpAddr) {
    let client = Netns::new("c");
    let server = Netns::new("s");
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 250;
    let ends = (&format!("oeva{n}")[..], &format!("oevb{n}")[..]);
    let addr = client.veth_to(&server, ends, &format!("10.77.{n}"));
    (client, server, addr)
}

#[test]
fn nftables_cuts_off_the_hosts_mail_ports_and_removes_only_its_own_rules() {
    if !can_use_netns() {
        return;
    }
    let env = TestEnv::new();
    let (client, server, addr) = pair();
    let mut ports = MAIL.to_vec();
    ports.push(OPEN);
    let listeners = Listeners::start(&server, addr, &ports);
    // Someone else's table, which oe must leave alone.
    client.exec("nft", &["add", "table", "inet", "other"]);
    client.exec("nft", &["add chain inet other out { type filter hook output priority 0 ; }"]);
    client.exec("nft", &["add rule inet other out tcp dport 9 drop"]);
    // Before: every port connects.
    assert_eq!(connect(&client, addr, 25).0, Ok(()));

    let applied = client.oe(&env, &["cutoff", "apply", "--host"]).success();
    applied.stdout_has("cut off the host (nftables)");
    for port in MAIL {
        let (result, took) = connect(&client, addr, port);
        assert_eq!(result, Err(std::io::ErrorKind::ConnectionRefused), "port {port}");
        assert!(took < Duration::from_secs(1), "port {port}: a reset is at once, took {took:?}");
    }
    assert_eq!(connect(&client, addr, OPEN).0, Ok(()), "other ports still connect");
    // Loopback stays open (the mail catcher listens there).
    let local = client.within(|| TcpListener::bind("127.0.0.1:25").unwrap());
    assert_eq!(connect(&client, IpAddr::V4(Ipv4Addr::LOCALHOST), 25).0, Ok(()));
    drop(local);

    client.oe(&env, &["cutoff", "apply", "--host"]).success().stdout_has("in place");
    let status = client.oe(&env, &["cutoff", "status", "--host"]).success();
    status
        .stdout_has(": in place")
        .stdout_has("oe-cutoff:host")
        .stdout_has("reject with tcp reset");
    // Other ports than those in place: not the cutoff asked for.
    client
        .oe(&env, &["cutoff", "status", "--host", "25"])
        .failure(1)
        .stderr_has("no cutoff in place");

    client.oe(&env, &["cutoff", "remove", "--host"]).success().stdout_has("1 rule(s)");
    assert_eq!(connect(&client, addr, 25).0, Ok(()));
    let ruleset = client.exec("nft", &["list", "ruleset"]);
    assert!(!ruleset.contains("oe_cutoff"), "{ruleset}");
    assert!(ruleset.contains("tcp dport 9 drop"), "the other table is kept: {ruleset}");
    client.oe(&env, &["cutoff", "status", "--host"]).failure(1).stdout_has("NOT in place");
    // Two connections were let through on purpose (before and after); no other.
    listeners.assert_mail_accepted(2);
}

#[test]
fn nftables_cuts_off_a_bridge_where_there_is_no_docker_user_chain() {
    if !can_use_netns() {
        return;
    }
    let env = TestEnv::new();
    // router: the bridge oe-<client> (a "container" namespace behind it) and a route to the
    // mail server's namespace; no Docker, so no DOCKER-USER chain.
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 250;
    let client = format!("nb{}x{n}", std::process::id() % 10_000);
    let bridge = format!("oe-{client}");
    let (router, inside, server) = (Netns::new("r"), Netns::new("i"), Netns::new("m"));
    router.exec("sysctl", &["-q", "-w", "net.ipv4.ip_forward=1"]);
    router.ip(&["link", "add", &bridge, "type", "bridge"]);
    router.ip(&["addr", "add", &format!("10.79.{n}.1/24"), "dev", &bridge]);
    router.ip(&["link", "set", &bridge, "up"]);
    let (port, peer) = (format!("oebp{n}"), format!("oebi{n}"));
    router.ip(&[
        "link",
        "add",
        &port,
        "type",
        "veth",
        "peer",
        "name",
        &peer,
        "netns",
        &inside.name,
    ]);
    router.ip(&["link", "set", &port, "master", &bridge]);
    router.ip(&["link", "set", &port, "up"]);
    inside.ip(&["addr", "add", &format!("10.79.{n}.2/24"), "dev", &peer]);
    inside.ip(&["link", "set", &peer, "up"]);
    inside.ip(&["route", "add", "default", "via", &format!("10.79.{n}.1")]);
    let ends = (&format!("oebo{n}")[..], &format!("oebs{n}")[..]);
    let addr = router.veth_to(&server, ends, &format!("10.80.{n}"));
    server.ip(&["route", "add", "default", "via", &format!("10.80.{n}.1")]);
    let listeners = Listeners::start(&server, addr, &[25, 993, OPEN]);

    let applied = router.oe(&env, &["cutoff", "apply", "--client", &client]).success();
    applied.stdout_has(&format!("cut off bridge {bridge} (nftables)"));
    for port in [25, 993] {
        let (result, took) = connect(&inside, addr, port);
        assert_eq!(result, Err(std::io::ErrorKind::ConnectionRefused), "port {port}");
        assert!(took < Duration::from_secs(1), "port {port}: took {took:?}");
    }
    assert_eq!(connect(&inside, addr, OPEN).0, Ok(()));
    // The router's own connections are not the bridge's.
    assert_eq!(connect(&router, addr, 25).0, Ok(()));
    listeners.assert_mail_accepted(1);
    router.oe(&env, &["cutoff", "status", "--client", &client]).success().stdout_has(": in place");
    router.oe(&env, &["cutoff", "remove", "--client", &client]).success().stdout_has("1 rule(s)");
    assert_eq!(connect(&inside, addr, 25).0, Ok(()));
    listeners.assert_mail_accepted(2);
}

/// Waits up to `timeout` for `done`.
fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_daemon_applies_a_flushed_cutoff_again_and_oe_status_reports_it_missing() {
    if !can_use_netns() {
        return;
    }
    let env = TestEnv::new();
    let (client, server, addr) = pair();
    let _listeners = Listeners::start(&server, addr, &[25]);
    client.oe(&env, &["cutoff", "apply", "--host", "25"]).success();
    client.oe(&env, &["status"]).success().stdout_has("cutoff of the host: in place");

    // Flushed behind oe's back (a firewall restart): oe status says so.
    client.exec("nft", &["delete", "table", "inet", "oe_cutoff"]);
    assert_eq!(connect(&client, addr, 25).0, Ok(()));
    let status = client.oe(&env, &["status"]).failure(1);
    status.stdout_has("cutoff of the host: NOT in place").stderr_has("not in place for the host");

    // The daemon puts it back at start, and again when it goes while it runs.
    let log = std::fs::File::create(env.path("daemon.log")).unwrap();
    let file = client.file();
    let mut daemon =
        client.command(&env, &["daemon"], &file).stdout(Stdio::null()).stderr(log).spawn().unwrap();
    let refused = || connect(&client, addr, 25).0 == Err(std::io::ErrorKind::ConnectionRefused);
    wait_for("the cutoff applied at start", Duration::from_secs(20), refused);
    client.exec("nft", &["delete", "table", "inet", "oe_cutoff"]);
    wait_for("the cutoff applied again", Duration::from_secs(30), refused);
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    daemon.wait().unwrap();
    let log = std::fs::read_to_string(env.path("daemon.log")).unwrap();
    assert_eq!(
        log.matches("cutoff of the host was not in place: applied again").count(),
        2,
        "{log}"
    );

    // Removed, the cutoff is no longer wanted: nothing to check.
    client.oe(&env, &["cutoff", "remove", "--host"]).success();
    let status = client.oe(&env, &["status"]).success();
    assert!(!status.stdout.contains("cutoff of"), "{}", status.stdout);
}

/// What `probe` tells of each port from inside a container: `ok`, `refused` or another error,
/// and the seconds it took.
const PROBE: &str = "
import socket, sys, time
for port in sys.argv[2:]:
    start = time.monotonic()
    try:
        socket.create_connection((sys.argv[1], int(port)), timeout=5).close()
        result = 'ok'
    except ConnectionRefusedError:
        result = 'refused'
    except OSError as e:
        result = type(e).__name__
    print(port, result, round(time.monotonic() - start, 3))
";

/// Connects from a new container of `image` on `network` to `addr` on `ports`: each port's
/// result and seconds.
pub(crate) fn probe(
    image: &str,
    network: &str,
    addr: IpAddr,
    ports: &[u16],
) -> Vec<(u16, String, f64)> {
    let addr = addr.to_string();
    let mut args = vec!["run", "--rm", "--network", network, "--entrypoint", "python3", image];
    args.extend(["-c", PROBE, addr.as_str()]);
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    args.extend(ports.iter().map(String::as_str));
    let out = run("docker", &args, None);
    out.lines()
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            (words[0].parse().unwrap(), words[1].to_owned(), words[2].parse().unwrap())
        })
        .collect()
}

/// A Docker network on a bridge of its own name, removed with it.
struct Network {
    name: String,
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["network", "rm", &self.name]).output();
    }
}

/// A container, removed with it.
struct Container {
    name: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.name]).output();
    }
}

/// A rule of someone else's in `DOCKER-USER`, deleted with it.
struct OtherRule {
    spec: Vec<String>,
}

impl OtherRule {
    fn insert(bridge: &str) -> OtherRule {
        let spec = ["-i", bridge, "-p", "tcp", "--dport", "9", "-m", "comment", "--comment"]
            .iter()
            .map(|s| s.to_string())
            .chain(["oe-test-other".into(), "-j".into(), "REJECT".into()])
            .collect::<Vec<_>>();
        let mut args = vec!["-w", "-I", "DOCKER-USER"];
        args.extend(spec.iter().map(String::as_str));
        run("iptables", &args, None);
        OtherRule { spec }
    }
}

impl Drop for OtherRule {
    fn drop(&mut self) {
        let _ =
            Command::new("iptables").args(["-w", "-D", "DOCKER-USER"]).args(&self.spec).output();
    }
}

#[test]
fn docker_user_cuts_off_a_bridge_for_every_container_on_it() {
    if !can_use_netns() {
        return;
    }
    let Some(images) = images() else { return };
    let env = TestEnv::new();
    // The client's network, named as `oe install` names it: its bridge is oe-<client>.
    let client =
        format!("ct{}x{}", std::process::id() % 10_000, NEXT.fetch_add(1, Ordering::Relaxed));
    let network = Network { name: format!("oe-{client}") };
    let bridge_option = format!("com.docker.network.bridge.name={}", network.name);
    run("docker", &["network", "create", "-o", &bridge_option, &network.name], None);

    let outside = Outside::new();
    let addr = outside.addr;
    let mut ports = MAIL.to_vec();
    ports.push(OPEN);
    let listeners = Listeners::start(&outside.ns, addr, &ports);
    let other = OtherRule::insert(&network.name);

    env.run(&["cutoff", "apply", "--client", &client]).success().stdout_has("(iptables)");
    let rules = run("iptables", &["-w", "-S", "DOCKER-USER"], None);
    assert!(rules.contains(&format!("oe-cutoff:{}", network.name)), "{rules}");
    // Each probe is a new container, with its own address: the bridge is what is matched.
    for attempt in 0..2 {
        for (port, result, seconds) in probe(&images.odoo, &network.name, addr, &ports) {
            if port == OPEN {
                assert_eq!(result, "ok", "attempt {attempt}: other ports still connect");
            } else {
                assert_eq!(result, "refused", "attempt {attempt}: port {port}");
                assert!(seconds < 1.0, "port {port}: a reset is at once, took {seconds} s");
            }
        }
    }
    listeners.assert_mail_accepted(0);
    env.run(&["cutoff", "status", "--network", &network.name]).success().stdout_has(": in place");
    // A container names its networks' bridges.
    let container = Container { name: format!("{}-sleeper", network.name) };
    let args = ["run", "-d", "--name", &container.name, "--network", &network.name];
    run("docker", &[&args[..], &["--entrypoint", "sleep", &images.odoo, "300"]].concat(), None);
    let status = env.run(&["cutoff", "status", "--container", &container.name]).success();
    status.stdout_has(&format!("cutoff of bridge {}", network.name)).stdout_has(": in place");
    env.run(&["cutoff", "status", "--container", "oe-no-such-container"])
        .failure(2)
        .stderr_has("no container 'oe-no-such-container'");

    env.run(&["cutoff", "remove", "--client", &client]).success().stdout_has("1 rule(s)");
    let rules = run("iptables", &["-w", "-S", "DOCKER-USER"], None);
    assert!(!rules.contains("oe-cutoff:"), "{rules}");
    assert!(rules.contains("oe-test-other"), "someone else's rule is kept: {rules}");
    let after = probe(&images.odoo, &network.name, addr, &[25]);
    assert_eq!(after[0].1, "ok");
    listeners.assert_mail_accepted(1);
    env.run(&["cutoff", "status", "--client", &client]).failure(1).stdout_has("NOT in place");
    drop(other);
}
