//! l3fwd-graph on DPDK's poll-mode drivers (built with `--features dpdk`):
//! net_pcap in → net_pcap out with every frame checked, net_ring, net_null,
//! net_af_packet over veth, and a DPDK port beside one of our own. All with `--no-huge -m 1024 --no-pci`, each
//! run in its own process (the EAL starts once per process) with its own
//! `--file-prefix`. Skipped, with the reason printed, when not root.
#![cfg(feature = "dpdk")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use graph_nodes::port::pcap::{read_pcap, write_pcap};
use graph_nodes::wire::{build_arp, checksum, ipv4_set_checksum, Udp4};

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let ok = unsafe { libc::geteuid() } == 0;
    if !ok {
        eprintln!("skipping DPDK test: DPDK's EAL needs root here");
    }
    ok
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(name: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("l3fwd-dpdk-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

fn run(eal: &[String], app: &[&str], stats: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_l3fwd-graph"))
        .args(eal)
        .args(["--no-huge", "-m", "1024", "--no-pci"])
        .arg("--")
        .args(app)
        .args(["-q", "--stats-json"])
        .arg(stats)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "l3fwd-graph failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn counter(j: &serde_json::Value, node: &str, c: &str) -> u64 {
    j["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == node)
        .and_then(|n| n["counters"][c].as_u64())
        .unwrap_or(0)
}

fn ports_sum(j: &serde_json::Value, k: &str) -> u64 {
    j["ports"].as_array().unwrap().iter().map(|p| p[k].as_u64().unwrap()).sum()
}

#[test]
fn net_pcap_in_net_pcap_out_every_frame_checked() {
    if !root() {
        return;
    }
    let d = dir("pcap");
    let mut input = Vec::new();
    let mut expect: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    for t in 0..400u16 {
        let to = (t % 2) as usize;
        let f = Udp4 {
            dst: [198, 18, to as u8, 1 + (t % 200) as u8],
            sport: t,
            frame_len: 60 + (t as usize % 40),
            ..Udp4::default()
        }
        .build();
        let mut e = f.clone();
        e[0..6].copy_from_slice(&[0x52, 0x54, 0, 0, 0, to as u8]);
        e[22] -= 1;
        ipv4_set_checksum(&mut e[14..34]);
        expect[to].push(e);
        input.push(f);
    }
    input.push(Udp4 { ttl: 1, ..Udp4::default() }.build());
    input.push(build_arp([2; 6], [1, 1, 1, 1], [2, 2, 2, 2]));
    let inp = d.0.join("in.pcap");
    write_pcap(&inp, input.iter().map(|f| f.as_slice())).unwrap();
    let (out0, out1) = (d.0.join("out0.pcap"), d.0.join("out1.pcap"));
    let eal = vec![
        "-l".to_string(),
        "0,1".into(),
        "--file-prefix=l3t-pcap".into(),
        format!("--vdev=net_pcap0,rx_pcap={},tx_pcap={}", inp.display(), out0.display()),
        format!("--vdev=net_pcap1,tx_pcap={}", out1.display()),
    ];
    let stats = d.0.join("s.json");
    run(
        &eal,
        &[
            "-p",
            "0x3",
            "--config=(0,0,1),(1,0,1)",
            "-P",
            "--eth-dest=0,52:54:00:00:00:00",
            "--eth-dest=1,52:54:00:00:00:01",
            "--duration",
            "3",
        ],
        &stats,
    );
    let j = json(&stats);
    for (port, out) in [out0, out1].iter().enumerate() {
        let got: Vec<Vec<u8>> = read_pcap(out).unwrap().iter().map(|f| f.to_vec()).collect();
        assert_eq!(got.len(), expect[port].len(), "port {port}");
        for (g, e) in got.iter().zip(&expect[port]) {
            // The source MAC is the device's: compare everything else.
            assert_eq!(&g[..6], &e[..6]);
            assert_eq!(&g[12..], &e[12..], "port {port}");
            assert_eq!(checksum(&g[14..34]), 0);
        }
    }
    assert_eq!(counter(&j, "ip4_lookup", "ttl_expired"), 1);
    assert_eq!(counter(&j, "arp_input", "not_for_us"), 1);
    assert_eq!(ports_sum(&j, "rx_packets"), 402);
    assert_eq!(ports_sum(&j, "tx_packets"), 400);
    assert_eq!(j["pool_in_use"], 0);
}

#[test]
fn net_ring_loops_until_ttl_runs_out() {
    if !root() {
        return;
    }
    let d = dir("ring");
    // Port 0 reads 50 frames for 198.18.1.0/24, routed to port 1: a
    // net_ring whose tx feeds its own rx, so each frame comes back and is
    // routed again until its TTL expires: 63 passes through the ring each
    // (TTL 64 leaves as 63, ..., 2 leaves as 1, which is then dropped).
    let input: Vec<Vec<u8>> =
        (0..50u16).map(|t| Udp4 { dst: [198, 18, 1, 7], sport: t, ..Udp4::default() }.build()).collect();
    let inp = d.0.join("in.pcap");
    write_pcap(&inp, input.iter().map(|f| f.as_slice())).unwrap();
    let eal = vec![
        "-l".to_string(),
        "0,1".into(),
        "--file-prefix=l3t-ring".into(),
        format!("--vdev=net_pcap0,rx_pcap={}", inp.display()),
        "--vdev=net_ring0".into(),
    ];
    let stats = d.0.join("s.json");
    run(&eal, &["-p", "0x3", "--config=(0,0,1),(1,0,1)", "--duration", "3"], &stats);
    let j = json(&stats);
    assert_eq!(counter(&j, "ip4_lookup", "ttl_expired"), 50, "{j}");
    let ring = &j["ports"][1];
    assert_eq!(ring["tx_packets"].as_u64().unwrap(), 50 * 63, "{j}");
    assert_eq!(ring["rx_packets"].as_u64().unwrap(), 50 * 63);
    assert_eq!(j["pool_in_use"], 0);
}

#[test]
fn a_dpdk_port_and_a_native_port_forward_to_each_other() {
    if !root() {
        return;
    }
    let d = dir("mixed");
    // Port 0 is DPDK's net_pcap, port 1 our own pcap backend; each
    // receives frames routed to the other. Both allocate from the DPDK pool.
    let frames = |to: u8, n: u16| -> Vec<Vec<u8>> {
        (0..n).map(|t| Udp4 { dst: [198, 18, to, 1 + t as u8], sport: t, ..Udp4::default() }.build()).collect()
    };
    let (in0, in1) = (frames(1, 150), frames(0, 120));
    let p = |n: &str| d.0.join(n);
    write_pcap(&p("in0.pcap"), in0.iter().map(|f| f.as_slice())).unwrap();
    write_pcap(&p("in1.pcap"), in1.iter().map(|f| f.as_slice())).unwrap();
    let cfg = p("mixed.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[port]]\nid = 0\nbackend = \"dpdk\"\nparams = {{ port_id = 0 }}\nneighbour = \"52:54:00:00:00:00\"\n\
             [[port]]\nid = 1\nbackend = \"pcap\"\nneighbour = \"52:54:00:00:00:01\"\n\
             params = {{ rx_pcap = \"{}\", tx_pcap = \"{}\" }}\n\
             [[lcore]]\nid = 1\ncpu = 1\nrx = [[0, 0], [1, 0]]\n",
            p("in1.pcap").display(),
            p("out1.pcap").display()
        ),
    )
    .unwrap();
    let eal = vec![
        "-l".to_string(),
        "0,1".into(),
        "--file-prefix=l3t-mixed".into(),
        format!("--vdev=net_pcap0,rx_pcap={},tx_pcap={}", p("in0.pcap").display(), p("out0.pcap").display()),
    ];
    let stats = p("s.json");
    run(&eal, &["-f", cfg.to_str().unwrap(), "--duration", "2"], &stats);
    let j = json(&stats);
    for (out, sent, mac) in [("out1.pcap", &in0, 1u8), ("out0.pcap", &in1, 0)] {
        let got = read_pcap(&p(out)).unwrap();
        assert_eq!(got.len(), sent.len(), "{out}");
        for (g, f) in got.iter().zip(sent) {
            assert_eq!(&g[0..6], &[0x52, 0x54, 0, 0, 0, mac], "{out}: neighbour MAC");
            assert_eq!(g[22], f[22] - 1, "{out}: TTL");
            assert_eq!(checksum(&g[14..34]), 0, "{out}: checksum");
            assert_eq!((g[23], &g[26..]), (f[23], &f[26..]), "{out}: addresses and payload");
        }
    }
    assert_eq!(ports_sum(&j, "rx_packets"), 270);
    assert_eq!(ports_sum(&j, "tx_packets"), 270);
    assert_eq!(j["pool_in_use"], 0);
}

#[test]
fn net_null_is_counted_and_freed() {
    if !root() {
        return;
    }
    let d = dir("null");
    // net_null receives zero-filled 64-byte frames forever: not IP, each
    // dropped and counted.
    let eal = vec!["-l".to_string(), "0,1".into(), "--file-prefix=l3t-null".into(), "--vdev=net_null0".into()];
    let stats = d.0.join("s.json");
    run(&eal, &["-p", "0x1", "--config=(0,0,1)", "--duration", "1"], &stats);
    let j = json(&stats);
    let rx = ports_sum(&j, "rx_packets");
    assert!(rx > 100_000, "{j}");
    assert_eq!(counter(&j, "pkt_cls", "not_ip"), rx, "every frame dropped with its reason");
    assert_eq!(ports_sum(&j, "tx_packets"), 0);
    assert_eq!(j["pool_in_use"], 0);
}

#[test]
fn net_af_packet_over_veth() {
    if !root() {
        return;
    }
    let ns = format!("l3d-{}", std::process::id());
    let ip = |a: &[&str]| Command::new("ip").args(a).status().map(|s| s.success()).unwrap_or(false);
    if !ip(&["netns", "add", &ns]) {
        eprintln!("skipping: ip netns add failed");
        return;
    }
    struct Ns(String);
    impl Drop for Ns {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _guard = Ns(ns.clone());
    for a in [
        vec!["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
        vec!["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
        vec!["ip", "link", "add", "a0", "type", "veth", "peer", "name", "b0"],
        vec!["ip", "link", "add", "a1", "type", "veth", "peer", "name", "b1"],
        vec!["ip", "link", "set", "a0", "up"],
        vec!["ip", "link", "set", "b0", "up"],
        vec!["ip", "link", "set", "a1", "up"],
        vec!["ip", "link", "set", "b1", "up"],
    ] {
        let mut v = vec!["netns", "exec", &ns];
        v.extend(a);
        assert!(ip(&v));
    }
    let d = dir("afp");
    // The router's ports are a0 and a1 (DPDK's net_af_packet). Frames are
    // injected on b0 and captured on b1 with our own af_packet backend from
    // threads in the namespace (a second DPDK process would need its own
    // EAL).
    let input: Vec<Vec<u8>> =
        (0..300u16).map(|t| Udp4 { dst: [198, 18, 1, 5], sport: t, ..Udp4::default() }.build()).collect();
    let stats = d.0.join("s.json");
    let router = Command::new("ip")
        .args(["netns", "exec", &ns, env!("CARGO_BIN_EXE_l3fwd-graph")])
        .args(["-l", "0,1", "--no-huge", "-m", "1024", "--no-pci", "--file-prefix=l3t-afp"])
        .args(["--vdev=net_af_packet0,iface=a0,qdisc_bypass=0", "--vdev=net_af_packet1,iface=a1,qdisc_bypass=0"])
        .args(["--", "-p", "0x3", "--config=(0,0,1),(1,0,1)", "--duration", "5", "-q", "--stats-json"])
        .arg(&stats)
        .spawn()
        .unwrap();
    let ns2 = ns.clone();
    let enter = move || {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(format!("/var/run/netns/{ns2}")).unwrap();
        // SAFETY: setns on a valid netns fd; only this thread moves.
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
    };
    let enter2 = enter.clone();
    let receiver = std::thread::spawn(move || {
        enter2();
        use graph_nodes::port::{Port, PortConfig};
        let pool = graph_nodes::Mempool::new(
            "cap",
            &graph_nodes::PoolConfig { size: 1024, cache_size: 0, ..Default::default() },
        )
        .unwrap();
        let p = Port::open(201, &PortConfig { nb_txq: 0, ..PortConfig::parse("af_packet:iface=b1").unwrap() }, &pool)
            .unwrap();
        let mut rx = p.take_rx_queue(0).unwrap();
        let mut got = 0;
        let t0 = std::time::Instant::now();
        while got < 300 && t0.elapsed() < std::time::Duration::from_secs(8) {
            let mut buf = Vec::new();
            rx.rx_burst_vec(&mut buf, 64);
            for m in &buf {
                let f = m.data();
                if f.len() >= 34 && f[12..14] == [8, 0] && f[22] == 63 && checksum(&f[14..34]) == 0 {
                    got += 1;
                }
            }
            graph_nodes::mempool::free_bulk(graph_core::Objs::from_vec(&mut buf));
        }
        drop(rx);
        got
    });
    std::thread::sleep(std::time::Duration::from_millis(2500));
    std::thread::spawn(move || {
        enter();
        use graph_nodes::port::{Port, PortConfig};
        let pool = graph_nodes::Mempool::new(
            "inj",
            &graph_nodes::PoolConfig { size: 1024, cache_size: 0, ..Default::default() },
        )
        .unwrap();
        let p = Port::open(200, &PortConfig { nb_rxq: 0, ..PortConfig::parse("af_packet:iface=b0").unwrap() }, &pool)
            .unwrap();
        let mut tx = p.take_tx_queue(0).unwrap();
        for f in &input {
            let mut m = vec![pool.alloc().unwrap()];
            m[0].set_data(f);
            while tx.tx_burst_vec(&mut m) == 0 {}
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
        drop(tx);
    })
    .join()
    .unwrap();
    let got = receiver.join().unwrap();
    let out = router.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(got, 300, "every frame forwarded through DPDK's net_af_packet");
    assert_eq!(json(&stats)["pool_in_use"], 0);
}
