//! af_packet over a veth pair in a network namespace this test creates
//! (skipped, with the reason printed, when not root or without `ip`).

use std::process::Command;
use std::time::{Duration, Instant};

use graph_core::Objs;
use graph_nodes::mbuf::Mbuf;
use graph_nodes::mempool::free_bulk;
use graph_nodes::port::{self, Port, PortConfig};
use graph_nodes::wire::Udp4;
use graph_nodes::{Mempool, PoolConfig};

/// A namespace with a veth pair `va` <-> `vb`, both up, IPv6 off (so no
/// router solicitations); deleted on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Option<Netns> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipping af_packet test: needs root (CAP_NET_ADMIN, CAP_NET_RAW)");
            return None;
        }
        let name = format!("gn-{tag}-{}", std::process::id());
        let ip = |args: &[&str]| Command::new("ip").args(args).status().map(|s| s.success()).unwrap_or(false);
        if !ip(&["netns", "add", &name]) {
            eprintln!("skipping af_packet test: `ip netns add` failed (iproute2 missing?)");
            return None;
        }
        let ns = Netns(name.clone());
        let ex = |cmd: &[&str]| {
            let mut a = vec!["netns", "exec", &name];
            a.extend_from_slice(cmd);
            assert!(ip(&a), "ip {a:?}");
        };
        ex(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        ex(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        ex(&["ip", "link", "add", "va", "type", "veth", "peer", "name", "vb"]);
        ex(&["ip", "link", "set", "va", "up"]);
        ex(&["ip", "link", "set", "vb", "up"]);
        Some(ns)
    }

    /// Moves the calling thread into the namespace.
    fn enter(&self) {
        let f = std::fs::File::open(format!("/var/run/netns/{}", self.0)).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: setns on a valid netns fd; only this thread moves.
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn frames(n: u16) -> Vec<Vec<u8>> {
    (0..n)
        .map(|t| {
            Udp4 {
                sport: t,
                src: [10, 0, (t >> 8) as u8, t as u8],
                frame_len: 60 + (t % 100) as usize,
                ..Udp4::default()
            }
            .build()
        })
        .collect()
}

fn tag(m: &Mbuf) -> Option<u16> {
    let d = m.data();
    (d.len() >= 36 && d[12..14] == [8, 0]).then(|| u16::from_be_bytes([d[34], d[35]]))
}

fn send(tx: &mut port::TxQueue, pool: &Mempool, fs: &[Vec<u8>]) {
    for chunk in fs.chunks(32) {
        let mut pkts = pool.alloc_bulk(chunk.len()).unwrap();
        for (m, f) in pkts.iter_mut().zip(chunk) {
            assert!(m.set_data(f));
        }
        let t0 = Instant::now();
        while !pkts.is_empty() {
            tx.tx_burst_vec(&mut pkts);
            assert!(t0.elapsed() < Duration::from_secs(5), "tx ring never drained");
        }
    }
}

fn receive(rxs: &mut [port::RxQueue], want: usize) -> Vec<Vec<u16>> {
    let mut got = vec![Vec::new(); rxs.len()];
    let t0 = Instant::now();
    while got.iter().map(Vec::len).sum::<usize>() < want && t0.elapsed() < Duration::from_secs(5) {
        for (q, rx) in rxs.iter_mut().enumerate() {
            let mut buf = Vec::new();
            rx.rx_burst_vec(&mut buf, 64);
            got[q].extend(buf.iter().filter_map(|m| tag(m)));
            free_bulk(Objs::from_vec(&mut buf));
        }
    }
    got
}

#[test]
fn frames_cross_a_veth_pair() {
    let Some(ns) = Netns::new("one") else { return };
    std::thread::spawn(move || {
        ns.enter();
        let pool = Mempool::new("afp", &PoolConfig { size: 4096, cache_size: 0, ..PoolConfig::default() }).unwrap();
        let a = Port::open(80, &PortConfig { nb_rxq: 0, ..PortConfig::parse("af_packet:iface=va").unwrap() }, &pool)
            .unwrap();
        let b = Port::open(81, &PortConfig { nb_txq: 0, ..PortConfig::parse("af_packet:iface=vb").unwrap() }, &pool)
            .unwrap();
        assert_ne!(a.mac(), [2, 0, 0, 0, 0, 80], "the MAC comes from the interface");
        let mut tx = a.take_tx_queue(0).unwrap();
        let mut rx = [b.take_rx_queue(0).unwrap()];
        let fs = frames(2000);
        send(&mut tx, &pool, &fs);
        let got = receive(&mut rx, fs.len());
        assert_eq!(got[0], (0..2000).collect::<Vec<u16>>(), "every frame, in order");
        assert_eq!(a.stats().opackets, 2000);
        assert!(b.stats().ipackets >= 2000);
        drop((tx, rx));
        assert_eq!(pool.in_use(), 0);
        drop(ns);
    })
    .join()
    .unwrap();
}

#[test]
fn fanout_spreads_flows_over_rx_queues() {
    let Some(ns) = Netns::new("fan") else { return };
    std::thread::spawn(move || {
        ns.enter();
        let pool = Mempool::new("afp2", &PoolConfig { size: 8192, cache_size: 0, ..PoolConfig::default() }).unwrap();
        let a = Port::open(82, &PortConfig { nb_rxq: 0, ..PortConfig::parse("af_packet:iface=va").unwrap() }, &pool)
            .unwrap();
        let b = Port::open(
            83,
            &PortConfig { nb_txq: 0, nb_rxq: 2, ..PortConfig::parse("af_packet:iface=vb").unwrap() },
            &pool,
        )
        .unwrap();
        let mut tx = a.take_tx_queue(0).unwrap();
        let mut rxs = [b.take_rx_queue(0).unwrap(), b.take_rx_queue(1).unwrap()];
        let fs = frames(3000);
        send(&mut tx, &pool, &fs);
        let got = receive(&mut rxs, fs.len());
        let mut all: Vec<u16> = got.concat();
        all.sort_unstable();
        assert_eq!(all, (0..3000).collect::<Vec<u16>>(), "each frame once across the queues");
        assert!(got.iter().all(|q| q.len() > 300), "both queues get flows: {} / {}", got[0].len(), got[1].len());
        drop((tx, rxs));
        assert_eq!(pool.in_use(), 0);
        drop(ns);
    })
    .join()
    .unwrap();
}

#[test]
fn a_missing_interface_is_a_clear_error() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: needs root");
        return;
    }
    let pool = Mempool::new("afp3", &PoolConfig { size: 64, cache_size: 0, ..PoolConfig::default() }).unwrap();
    let e = Port::open(84, &PortConfig::parse("af_packet:iface=nosuchif0").unwrap(), &pool).unwrap_err();
    assert!(e.to_string().contains("no interface \"nosuchif0\""), "{e}");
    let e = Port::open(84, &PortConfig::parse("af_packet:").unwrap(), &pool).unwrap_err();
    assert!(e.to_string().contains("iface: required"), "{e}");
}
