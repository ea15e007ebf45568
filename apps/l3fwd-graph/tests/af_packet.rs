//! l3fwd-graph on AF_PACKET ports between network namespaces: a host
//! namespace sends real frames over veth into the router's namespace, the
//! router forwards them out of its other port, and a second host namespace
//! receives them rewritten. Skipped, with the reason printed, when not root.

use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

use graph_core::Objs;
use graph_nodes::mempool::free_bulk;
use graph_nodes::port::{Port, PortConfig};
use graph_nodes::wire::{checksum, Udp4};
use graph_nodes::{Mempool, PoolConfig};

struct Lab {
    tag: String,
}

impl Lab {
    fn ns(&self, n: &str) -> String {
        format!("l3{n}-{}", self.tag)
    }

    fn new() -> Option<Lab> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipping AF_PACKET e2e: needs root");
            return None;
        }
        let lab = Lab { tag: std::process::id().to_string() };
        let ip = |a: &[&str]| Command::new("ip").args(a).status().map(|s| s.success()).unwrap_or(false);
        for n in ["r", "h0", "h1"] {
            if !ip(&["netns", "add", &lab.ns(n)]) {
                eprintln!("skipping AF_PACKET e2e: `ip netns add` failed");
                return None;
            }
            let ns = lab.ns(n);
            for s in ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"] {
                assert!(ip(&["netns", "exec", &ns, "sysctl", "-qw", s]));
            }
        }
        let (r, h0, h1) = (lab.ns("r"), lab.ns("h0"), lab.ns("h1"));
        assert!(ip(&[
            "netns", "exec", &r, "ip", "link", "add", "r0", "type", "veth", "peer", "name", "h0", "netns", &h0
        ]));
        assert!(ip(&[
            "netns", "exec", &r, "ip", "link", "add", "r1", "type", "veth", "peer", "name", "h1", "netns", &h1
        ]));
        for (ns, dev) in [(&r, "r0"), (&r, "r1"), (&h0, "h0"), (&h1, "h1")] {
            assert!(ip(&["netns", "exec", ns, "ip", "link", "set", dev, "up"]));
        }
        Some(lab)
    }

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

#[test]
fn forwards_real_frames_between_namespaces() {
    let Some(lab) = Lab::new() else { return };
    let lab = std::sync::Arc::new(lab);
    let dir = std::env::temp_dir().join(format!("l3fwd-afp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("r.toml");
    std::fs::write(
        &cfg,
        "stats_interval = 0\n\
         [[port]]\nid = 0\nbackend = \"af_packet\"\nparams = { iface = \"r0\" }\nneighbour = \"52:54:00:00:00:00\"\n\
         [[port]]\nid = 1\nbackend = \"af_packet\"\nparams = { iface = \"r1\" }\nneighbour = \"52:54:00:00:00:01\"\n",
    )
    .unwrap();
    let stats = dir.join("stats.json");
    let router = Command::new("ip")
        .args(["netns", "exec", &lab.ns("r")])
        .arg(env!("CARGO_BIN_EXE_l3fwd-graph"))
        .arg("-f")
        .arg(&cfg)
        .args(["--duration", "4", "-q", "--stats-json"])
        .arg(&stats)
        .spawn()
        .unwrap();

    // The receiver in h1 starts first.
    let rx_lab = lab.clone();
    let receiver = std::thread::spawn(move || {
        rx_lab.enter("h1");
        let pool = Mempool::new("h1", &PoolConfig { size: 2048, cache_size: 0, ..PoolConfig::default() }).unwrap();
        let p = Port::open(91, &PortConfig { nb_txq: 0, ..PortConfig::parse("af_packet:iface=h1").unwrap() }, &pool)
            .unwrap();
        let mut rx = p.take_rx_queue(0).unwrap();
        let mut got = Vec::new();
        let t0 = Instant::now();
        while got.len() < 500 && t0.elapsed() < Duration::from_secs(6) {
            let mut buf = Vec::new();
            rx.rx_burst_vec(&mut buf, 64);
            for m in &buf {
                let d = m.data().to_vec();
                if d.len() >= 36 && d[12..14] == [8, 0] {
                    got.push(d);
                }
            }
            free_bulk(Objs::from_vec(&mut buf));
        }
        drop(rx);
        got
    });

    // Give the router time to open its sockets, then send from h0.
    std::thread::sleep(Duration::from_millis(800));
    let tx_lab = lab.clone();
    let sent: Vec<Vec<u8>> = (0..500u16)
        .map(|t| {
            Udp4 {
                dst: [198, 18, 1, 1 + (t % 200) as u8],
                sport: t,
                frame_len: 60 + (t % 64) as usize,
                ..Udp4::default()
            }
            .build()
        })
        .collect();
    let to_send = sent.clone();
    std::thread::spawn(move || {
        tx_lab.enter("h0");
        let pool = Mempool::new("h0", &PoolConfig { size: 2048, cache_size: 0, ..PoolConfig::default() }).unwrap();
        let p = Port::open(90, &PortConfig { nb_rxq: 0, ..PortConfig::parse("af_packet:iface=h0").unwrap() }, &pool)
            .unwrap();
        let mut tx = p.take_tx_queue(0).unwrap();
        for f in &to_send {
            let mut m = vec![pool.alloc().unwrap()];
            m[0].set_data(f);
            while tx.tx_burst_vec(&mut m) == 0 {
                std::thread::yield_now();
            }
        }
        drop(tx);
    })
    .join()
    .unwrap();

    let got = receiver.join().unwrap();
    let out = router.wait_with_output().unwrap();
    assert!(out.status.success(), "router: {:?}", out.status);
    assert_eq!(got.len(), 500, "every frame forwarded to h1");
    let mut tags: Vec<u16> = got.iter().map(|d| u16::from_be_bytes([d[34], d[35]])).collect();
    tags.sort_unstable();
    assert_eq!(tags, (0..500).collect::<Vec<u16>>());
    for d in &got {
        let t = u16::from_be_bytes([d[34], d[35]]) as usize;
        let orig = &sent[t];
        assert_eq!(&d[0..6], &[0x52, 0x54, 0, 0, 0, 1], "neighbour MAC");
        assert_ne!(&d[6..12], &orig[6..12], "source MAC is r1's");
        assert_eq!(d[22], orig[22] - 1, "TTL - 1");
        assert_eq!(checksum(&d[14..34]), 0, "valid checksum");
        assert_eq!(&d[34..], &orig[34..], "payload untouched");
    }
    let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!(j["pool_in_use"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}
