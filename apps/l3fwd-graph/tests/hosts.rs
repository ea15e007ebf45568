//! The router as Linux hosts use it: two host namespaces, each with the
//! kernel's own stack, an address, a default route to the router, and no
//! static neighbour entry, reach each other through l3fwd-graph running on
//! AF_PACKET ports in a third namespace. The hosts' own tools do the
//! checking: `ping` across the router and to both its addresses,
//! `traceroute` and `tracepath` showing its hop, unreachable networks and
//! hosts reported by it, a TCP transfer whose bytes are compared, and a
//! path-MTU scenario (a 1280-byte link) that TCP survives. The hosts' ARP
//! tables are filled by the router's replies, and the router's own table
//! (on its control socket) by the hosts'.
//!
//! Needs root, `ping`, `traceroute`, `tracepath` and `ethtool`; skipped,
//! with the reason printed, without them.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

struct Lab {
    tag: String,
}

fn have(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

impl Lab {
    fn ns(&self, n: &str) -> String {
        format!("l3h{n}-{}", self.tag)
    }

    fn new(tag: &str) -> Option<Lab> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipping the Linux-host tests: needs root");
            return None;
        }
        for t in ["ping", "traceroute", "tracepath", "ethtool"] {
            if !have(t) {
                eprintln!("skipping the Linux-host tests: no {t} (apt-get install iputils-ping traceroute iputils-tracepath ethtool)");
                return None;
            }
        }
        let lab = Lab { tag: format!("{}{tag}", std::process::id()) };
        for n in ["r", "h0", "h1"] {
            if !sh(&format!("ip netns add {}", lab.ns(n))) {
                eprintln!("skipping the Linux-host tests: `ip netns add` failed");
                return None;
            }
            // The router's namespace has no IPv6 of its own: its kernel
            // must not answer neighbour discovery on the router's ports.
            if n == "r" {
                lab.exec(n, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
            }
            lab.exec(n, "ip link set lo up");
        }
        lab.exec("r", &format!("ip link add r0 type veth peer name h0 netns {}", lab.ns("h0")));
        lab.exec("r", &format!("ip link add r1 type veth peer name h1 netns {}", lab.ns("h1")));
        lab.exec("r", "ip link set r0 up");
        lab.exec("r", "ip link set r1 up");
        for (h, net) in [("h0", 0), ("h1", 1)] {
            lab.exec(h, &format!("ip link set {h} up"));
            lab.exec(h, &format!("ip addr add 10.0.{net}.2/24 dev {h}"));
            lab.exec(h, &format!("ip route add default via 10.0.{net}.1"));
            lab.exec(h, &format!("ip -6 addr add 2001:db8:{net}::2/64 dev {h} nodad"));
            lab.exec(h, &format!("ip -6 route add default via 2001:db8:{net}::1"));
            if h == "h1" {
                // Networks behind h1: the router reaches them through h1 as
                // a gateway it resolves itself.
                lab.exec(h, "ip addr add 10.99.0.1/32 dev lo");
                lab.exec(h, "ip -6 addr add 2001:db8:99::1/128 dev lo");
            }
            // A veth hands its peer unsegmented 64 KiB TCP segments and
            // unfinished checksums; on AF_PACKET the router sees them as
            // they are. The router finishes checksums; segmentation is the
            // sender's (as with a real NIC).
            lab.exec(h, &format!("ethtool -K {h} tso off gso off gro off"));
        }
        Some(lab)
    }

    fn exec(&self, n: &str, cmd: &str) {
        assert!(sh(&format!("ip netns exec {} {cmd}", self.ns(n))), "{n}: {cmd}");
    }

    fn run(&self, n: &str, cmd: &str) -> Output {
        Command::new("sh").args(["-c", &format!("ip netns exec {} {cmd}", self.ns(n))]).output().unwrap()
    }

    /// Moves the calling thread into namespace `n`.
    fn enter(&self, n: &str) {
        let f = std::fs::File::open(format!("/var/run/netns/{}", self.ns(n))).unwrap();
        // SAFETY: setns on a valid netns fd; only the calling thread moves.
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for n in ["r", "h0", "h1"] {
            let _ = Command::new("ip").args(["netns", "del", &self.ns(n)]).status();
        }
    }
}

fn sh(cmd: &str) -> bool {
    Command::new("sh").args(["-c", cmd]).status().is_ok_and(|s| s.success())
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

struct Router {
    child: Child,
    ctl: PathBuf,
    stats: PathBuf,
    _dir: common::Dir,
}

impl Router {
    /// l3fwd-graph in the lab's router namespace, with `extra` appended to
    /// its config; ready when its control socket answers.
    fn start(lab: &Lab, name: &str, port1: &str) -> Router {
        Router::start_on(
            lab,
            name,
            [
                "backend = \"af_packet\"\nparams = { iface = \"r0\" }",
                "backend = \"af_packet\"\nparams = { iface = \"r1\" }",
            ],
            port1,
            &[],
        )
    }

    /// The router on ports `backends` (the `backend` and `params` lines of
    /// port 0 and 1), with `eal` arguments before `--` when not empty.
    fn start_on(lab: &Lab, name: &str, backends: [&str; 2], port1: &str, eal: &[&str]) -> Router {
        let dir = common::dir("hosts", name);
        let ctl = dir.0.join("ctl.sock");
        let stats = dir.0.join("stats.json");
        let cfg = dir.0.join("r.toml");
        std::fs::write(
            &cfg,
            format!(
                "stats_interval = 0\ncontrol_socket = \"{}\"\n\
                 [arp]\nretrans_ms = 200\n\
                 [[port]]\nid = 0\n{}\naddr = [\"10.0.0.1/24\", \"2001:db8:0::1/64\"]\n\
                 [[port]]\nid = 1\n{}\naddr = [\"10.0.1.1/24\", \"2001:db8:1::1/64\"]\n{port1}\n\
                 [[route]]\nprefix = \"10.99.0.0/16\"\nvia = \"10.0.1.2\"\n\
                 [[route]]\nprefix = \"2001:db8:99::/48\"\nvia = \"2001:db8:1::2\"\n",
                ctl.display(),
                backends[0],
                backends[1],
            ),
        )
        .unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &lab.ns("r")]).arg(env!("CARGO_BIN_EXE_l3fwd-graph"));
        if !eal.is_empty() {
            cmd.args(eal).arg("--");
        }
        let child = cmd.arg("-f").arg(&cfg).args(["-q", "--stats-json"]).arg(&stats).spawn().unwrap();
        let t0 = Instant::now();
        while std::os::unix::net::UnixStream::connect(&ctl).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(20), "the router did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Router { child, ctl, stats, _dir: dir }
    }

    fn ask(&self, cmd: &str) -> String {
        let mut s = common::connect(&self.ctl);
        common::ask(&mut s, cmd)
    }

    /// Stops it (SIGTERM) and returns its final report.
    fn stop(mut self) -> serde_json::Value {
        // SAFETY: kill(2) on our child's pid; `ip netns exec` execs the
        // router in place, so the pid is the router's.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let st = self.child.wait().unwrap();
        assert!(st.success(), "router exit: {st:?}");
        serde_json::from_str(&std::fs::read_to_string(&self.stats).unwrap()).unwrap()
    }
}

impl Drop for Router {
    /// A test that failed midway leaves no router running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends `len` bytes over TCP from h0 to h1:5001 (IPv4) through the
/// router, with the kernels' own stacks; the bytes h1 received.
fn tcp_transfer(lab: &std::sync::Arc<Lab>, len: usize) -> (Vec<u8>, Vec<u8>) {
    tcp_transfer_to(lab, len, "10.0.1.2:5001")
}

/// The same to `to` (`[2001:db8:1::2]:5001` for IPv6).
fn tcp_transfer_to(lab: &std::sync::Arc<Lab>, len: usize, to: &'static str) -> (Vec<u8>, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let l = lab.clone();
    let server = std::thread::spawn(move || {
        l.enter("h1");
        let ls = std::net::TcpListener::bind(to).unwrap();
        ready_tx.send(()).unwrap();
        // Accept with a deadline: a client that never comes fails the test
        // instead of hanging it.
        ls.set_nonblocking(true).unwrap();
        let t0 = Instant::now();
        let (mut c, _) = loop {
            match ls.accept() {
                Ok(c) => break c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && t0.elapsed() < Duration::from_secs(20) => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        c.set_nonblocking(false).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        got
    });
    ready_rx.recv().unwrap();
    let l = lab.clone();
    let sent = data.clone();
    std::thread::spawn(move || {
        l.enter("h0");
        let mut c = std::net::TcpStream::connect_timeout(&to.parse().unwrap(), Duration::from_secs(10)).unwrap();
        c.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(&sent).unwrap();
    })
    .join()
    .unwrap();
    (data, server.join().unwrap())
}

fn node<'a>(j: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    j["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).unwrap_or(&serde_json::Value::Null)
}

#[test]
fn linux_hosts_ping_traceroute_and_tcp_through_the_router() {
    let Some(lab) = Lab::new("a") else { return };
    let lab = std::sync::Arc::new(lab);
    let r = Router::start(&lab, "basic", "");
    // Ping the router's near and far addresses, and the other host.
    for (dst, what) in [("10.0.0.1", "the near address"), ("10.0.1.1", "the far address"), ("10.0.1.2", "h1")] {
        let o = lab.run("h0", &format!("ping -c 2 -W 2 {dst}"));
        assert!(o.status.success(), "ping {what}: {}", text(&o));
        assert!(text(&o).contains(&format!("64 bytes from {dst}")), "{}", text(&o));
    }
    let o = lab.run("h1", "ping -c 1 -W 2 10.0.0.2");
    assert!(o.status.success(), "ping back: {}", text(&o));
    // Through a gateway (h1) the router resolves on demand, both families.
    for dst in ["10.99.0.1", "2001:db8:99::1"] {
        let o = lab.run("h0", &format!("ping -c 2 -W 2 {dst}"));
        assert!(o.status.success(), "ping {dst} through the gateway: {}", text(&o));
    }
    // The hosts' ARP tables hold the router's port MACs, learned from its
    // replies (no static entries anywhere).
    for (h, gw, port) in [("h0", "10.0.0.1", "r0"), ("h1", "10.0.1.1", "r1")] {
        let mac = std::fs::read_to_string(format!("/sys/class/net/{port}/address"));
        let mac = match mac {
            Ok(m) => m,
            // The router's ports live in its namespace.
            Err(_) => text(&lab.run("r", &format!("cat /sys/class/net/{port}/address"))),
        };
        let n = text(&lab.run(h, &format!("ip neigh show {gw}")));
        assert!(n.contains(mac.trim()), "{h}: {n} (router port {port} has {mac})");
        assert!(!n.contains("FAILED") && !n.contains("INCOMPLETE") && !n.contains("PERMANENT"), "{h}: {n}");
    }
    // traceroute: the router is hop 1, h1 hop 2.
    let o = lab.run("h0", "traceroute -n -w 2 -q 1 -m 3 10.0.1.2");
    let t = text(&o);
    assert!(t.contains(" 1  10.0.0.1 ") && t.contains(" 2  10.0.1.2 "), "traceroute:\n{t}");
    let o = lab.run("h0", "tracepath -n -m 3 10.0.1.2");
    let t = text(&o);
    assert!(t.contains("10.0.0.1") && t.contains("reached"), "tracepath:\n{t}");
    // Nowhere to go: the router says so.
    let t = text(&lab.run("h0", "ping -c 1 -W 2 10.9.9.9"));
    assert!(t.contains("From 10.0.0.1") && t.contains("Destination Net Unreachable"), "{t}");
    let t = text(&lab.run("h0", "ping -c 1 -W 3 10.0.1.77"));
    assert!(t.contains("From 10.0.0.1") && t.contains("Destination Host Unreachable"), "{t}");
    // A TCP transfer, byte for byte.
    let (sent, got) = tcp_transfer(&lab, 4 << 20);
    assert!(got == sent, "TCP: {} bytes received of {}", got.len(), sent.len());
    // The router's neighbour table, on its control socket.
    let n: serde_json::Value = serde_json::from_str(&r.ask("neigh show")).unwrap();
    for ip in ["10.0.0.2", "10.0.1.2"] {
        let e = n.as_array().unwrap().iter().find(|e| e["ip"] == ip).unwrap_or_else(|| panic!("{ip} in {n}"));
        assert!(e["state"] == "reachable" || e["state"] == "stale", "{e}");
    }
    assert!(r.ask("addr").contains("10.0.1.1/24"));
    // The same over IPv6: neighbour discovery instead of ARP, ICMPv6.
    for (dst, what) in
        [("2001:db8::1", "the near address"), ("2001:db8:1::1", "the far address"), ("2001:db8:1::2", "h1")]
    {
        let o = lab.run("h0", &format!("ping -6 -c 2 -W 2 {dst}"));
        assert!(o.status.success(), "ping -6 {what}: {}", text(&o));
    }
    for (h, gw, port) in [("h0", "2001:db8::1", "r0"), ("h1", "2001:db8:1::1", "r1")] {
        let mac = text(&lab.run("r", &format!("cat /sys/class/net/{port}/address")));
        let n = text(&lab.run(h, &format!("ip -6 neigh show {gw}")));
        assert!(n.contains(mac.trim()) && !n.contains("FAILED"), "{h}: {n} (router port {port} has {mac})");
    }
    let t = text(&lab.run("h0", "traceroute -6 -n -w 2 -q 1 -m 3 2001:db8:1::2"));
    assert!(t.contains(" 1  2001:db8::1 ") && t.contains(" 2  2001:db8:1::2 "), "traceroute -6:\n{t}");
    let t = text(&lab.run("h0", "tracepath -6 -n -m 3 2001:db8:1::2"));
    assert!(t.contains("2001:db8::1") && t.contains("reached"), "tracepath -6:\n{t}");
    let t = text(&lab.run("h0", "ping -6 -c 1 -W 2 2001:db8:9::9"));
    assert!(t.contains("From 2001:db8::1") && t.contains("No route"), "{t}");
    let t = text(&lab.run("h0", "ping -6 -c 1 -W 3 2001:db8:1::77"));
    assert!(t.contains("From 2001:db8::1") && t.contains("Address unreachable"), "{t}");
    let (sent, got) = tcp_transfer_to(&lab, 4 << 20, "[2001:db8:1::2]:5001");
    assert!(got == sent, "TCP over IPv6: {} bytes received of {}", got.len(), sent.len());
    let n: serde_json::Value = serde_json::from_str(&r.ask("neigh show")).unwrap();
    for ip in ["2001:db8::2", "2001:db8:1::2"] {
        let e = n.as_array().unwrap().iter().find(|e| e["ip"] == ip).unwrap_or_else(|| panic!("{ip} in {n}"));
        assert!(e["state"] == "reachable" || e["state"] == "stale", "{e}");
    }
    let j = r.stop();
    assert_eq!(j["pool_in_use"], 0, "every buffer back");
    let icmp = &node(&j, "icmp4_error")["observations"];
    assert!(icmp["time_exceeded"].as_u64().unwrap() >= 1, "{icmp}");
    assert!(icmp["net_unreachable"].as_u64().unwrap() >= 1, "{icmp}");
    assert!(icmp["host_unreachable"].as_u64().unwrap() >= 1, "{icmp}");
    assert!(node(&j, "ip4_local")["observations"]["echo_replies"].as_u64().unwrap() >= 4);
    assert!(node(&j, "ip6_local")["observations"]["echo_replies"].as_u64().unwrap() >= 4);
    let icmp6 = &node(&j, "icmp6_error")["observations"];
    for k in ["time_exceeded", "no_route", "addr_unreachable"] {
        assert!(icmp6[k].as_u64().unwrap() >= 1, "{k}: {icmp6}");
    }
    let rx_errors: u64 = j["ports"].as_array().unwrap().iter().map(|p| p["rx_errors"].as_u64().unwrap()).sum();
    assert_eq!(rx_errors, 0, "no frame refused by a port");
}

#[test]
fn path_mtu_discovery_through_a_small_link() {
    let Some(lab) = Lab::new("m") else { return };
    let lab = std::sync::Arc::new(lab);
    // h1's side of the router is a 1280-byte link; the hosts think 1500.
    let r = Router::start(&lab, "pmtu", "mtu = 1280");
    let (sent, got) = tcp_transfer(&lab, 2 << 20);
    assert!(got == sent, "TCP over the small link: {} bytes received of {}", got.len(), sent.len());
    // h0 learned the path MTU from the router's fragmentation-needed.
    let t = text(&lab.run("h0", "ip route get 10.0.1.2"));
    assert!(t.contains("mtu 1280"), "{t}");
    let t = text(&lab.run("h0", "tracepath -n -m 3 10.0.1.2"));
    assert!(t.contains("pmtu 1280"), "{t}");
    let t = text(&lab.run("h0", "ping -c 1 -W 2 -M do -s 1400 10.0.1.2"));
    assert!(t.contains("mtu=1280") || t.contains("mtu = 1280"), "{t}");
    // IPv6: the router never fragments; packet too big carries the MTU.
    let (sent, got) = tcp_transfer_to(&lab, 2 << 20, "[2001:db8:1::2]:5001");
    assert!(got == sent, "TCP over IPv6 and the small link: {} bytes received of {}", got.len(), sent.len());
    let t = text(&lab.run("h0", "ip -6 route get 2001:db8:1::2"));
    assert!(t.contains("mtu 1280"), "{t}");
    let j = r.stop();
    assert!(node(&j, "icmp4_error")["observations"]["frag_needed"].as_u64().unwrap() >= 1);
    assert!(node(&j, "icmp6_error")["observations"]["too_big"].as_u64().unwrap() >= 1);
    assert_eq!(j["pool_in_use"], 0);
}

/// The same hosts through DPDK's net_af_packet PMD (the router built with
/// `--features dpdk`): ARP and neighbour discovery, ping (IPv4 and IPv6)
/// across and to the router, traceroute, and a TCP transfer.
#[cfg(feature = "dpdk")]
#[test]
fn linux_hosts_through_dpdk_af_packet_ports() {
    let Some(lab) = Lab::new("d") else { return };
    let lab = std::sync::Arc::new(lab);
    // DPDK's af_packet PMD does not finish checksums the sender left to
    // the NIC: the hosts compute theirs.
    for h in ["h0", "h1"] {
        lab.exec(h, &format!("ethtool -K {h} tx off"));
    }
    let prefix = format!("--file-prefix=l3h-{}", std::process::id());
    let eal = [
        "-l",
        "0,1",
        "--no-huge",
        "-m",
        "1024",
        "--no-pci",
        &prefix,
        "--vdev=net_af_packet0,iface=r0",
        "--vdev=net_af_packet1,iface=r1",
    ];
    let r = Router::start_on(
        &lab,
        "dpdk",
        ["backend = \"dpdk\"\nparams = { port_id = 0 }", "backend = \"dpdk\"\nparams = { port_id = 1 }"],
        "",
        &eal,
    );
    for dst in ["10.0.0.1", "10.0.1.1", "10.0.1.2", "2001:db8::1", "2001:db8:1::2"] {
        let o = lab.run("h0", &format!("ping -c 2 -W 2 {dst}"));
        assert!(o.status.success(), "ping {dst}: {}", text(&o));
    }
    let t = text(&lab.run("h0", "traceroute -n -w 2 -q 1 -m 3 10.0.1.2"));
    assert!(t.contains(" 1  10.0.0.1 ") && t.contains(" 2  10.0.1.2 "), "traceroute:\n{t}");
    let (sent, got) = tcp_transfer(&lab, 1 << 20);
    assert!(got == sent, "TCP: {} bytes received of {}", got.len(), sent.len());
    let j = r.stop();
    assert_eq!(j["pool_in_use"], 0);
}
