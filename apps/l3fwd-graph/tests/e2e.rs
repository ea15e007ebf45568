//! l3fwd-graph end to end, the way a user runs it: pcap in → pcap out with
//! every frame checked; two workers on two CPUs; signals; bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use graph_nodes::port::pcap::{read_pcap, write_pcap};
use graph_nodes::wire::{build_arp, build_udp6, checksum, ipv4_set_checksum, Udp4};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_l3fwd-graph"))
}

/// A scratch directory, removed when dropped.
struct Dir(PathBuf);

impl std::ops::Deref for Dir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(name: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("l3fwd-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const PORT_MAC: [[u8; 6]; 2] = [[2, 0, 0, 0, 0, 0xa0], [2, 0, 0, 0, 0, 0xa1]];
const NEIGH: [[u8; 6]; 2] = [[0x52, 0x54, 0, 0, 0, 0], [0x52, 0x54, 0, 0, 0, 1]];

/// A frame to port `to` carrying a unique tag in its UDP source port.
fn good(to: u8, tag: u16, len: usize) -> Vec<u8> {
    Udp4 { dst: [198, 18, to, 1 + (tag % 200) as u8], sport: tag, frame_len: len, ..Udp4::default() }.build()
}

fn config(d: &Path, inputs: &[&Path; 2], lcores: &str, extra: &str) -> PathBuf {
    let mut s = String::from("stats_interval = 0\n");
    s.push_str(extra);
    for (p, input) in inputs.iter().enumerate() {
        s.push_str(&format!(
            "[[port]]\nid = {p}\nbackend = \"pcap\"\nparams = {{ rx_pcap = \"{}\", tx_pcap = \"{}\" }}\nmac = \"02:00:00:00:00:a{p}\"\nneighbour = \"52:54:00:00:00:0{p}\"\nmtu = 1000\n",
            input.display(),
            d.join(format!("out{p}.pcap")).display()
        ));
    }
    s.push_str(lcores);
    let path = d.join("router.toml");
    std::fs::write(&path, s).unwrap();
    path
}

fn expect_forwarded(f: &[u8], port: usize) -> Vec<u8> {
    let mut e = f.to_vec();
    e[0..6].copy_from_slice(&NEIGH[port]);
    e[6..12].copy_from_slice(&PORT_MAC[port]);
    e[22] -= 1;
    let hl = (e[14] & 0xf) as usize * 4;
    ipv4_set_checksum(&mut e[14..14 + hl]);
    e
}

#[test]
fn pcap_in_pcap_out_every_frame_checked() {
    let d = dir("pcap");
    // Port 0's input: good frames to both ports, plus one of each bad kind.
    let mut in0: Vec<Vec<u8>> = Vec::new();
    let mut expect: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    for t in 0..300u16 {
        let to = (t % 2) as u8;
        let f = good(to, t, 60 + (t as usize % 50));
        expect[to as usize].push(expect_forwarded(&f, to as usize));
        in0.push(f);
    }
    let mut bad = |f: Vec<u8>| in0.push(f);
    let g = good(0, 999, 60);
    bad(g[..30].to_vec()); // runt
    let mut v = g.clone();
    v[24] ^= 0x55; // checksum
    bad(v);
    bad(Udp4 { ttl: 1, ..Udp4::default() }.build()); // ttl
    bad(Udp4 { dst: [10, 1, 1, 1], ..Udp4::default() }.build()); // no route
    bad(Udp4 { frame_len: 1100, ..Udp4::default() }.build()); // > MTU 1000
    bad(build_arp([2; 6], [1, 1, 1, 1], [2, 2, 2, 2])); // not IP
    bad(build_udp6([2; 6], [4; 6], [0xfe; 16], 80)); // IPv6, no ip6_lookup
                                                     // Port 1's input: VLAN-tagged frames, routed like untagged ones.
    let mut in1 = Vec::new();
    for t in 1000..1100u16 {
        let f =
            Udp4 { vlan: Some(7), ..Udp4 { dst: [198, 18, 0, 9], sport: t, frame_len: 64, ..Udp4::default() } }.build();
        let mut untagged = f.clone();
        untagged.drain(12..16);
        expect[0].push(expect_forwarded(&untagged, 0));
        in1.push(f);
    }
    let (p0, p1) = (d.join("in0.pcap"), d.join("in1.pcap"));
    write_pcap(&p0, in0.iter().map(|f| f.as_slice())).unwrap();
    write_pcap(&p1, in1.iter().map(|f| f.as_slice())).unwrap();
    let cfg = config(&d, &[&p0, &p1], "", "");
    let stats = d.join("stats.json");
    let out =
        bin().arg("-f").arg(&cfg).arg("--exit-on-eof").arg("--stats-json").arg(&stats).arg("-q").output().unwrap();
    ok(&out);

    for port in 0..2 {
        let got: Vec<Vec<u8>> =
            read_pcap(&d.join(format!("out{port}.pcap"))).unwrap().iter().map(|f| f.to_vec()).collect();
        // Frames from the two inputs interleave on port 0; compare as sets
        // with multiplicity, then check each frame's invariants.
        let mut g = got.clone();
        let mut e = expect[port].clone();
        g.sort();
        e.sort();
        assert_eq!(g.len(), e.len(), "port {port}");
        assert!(g == e, "port {port}: forwarded frames differ");
        for f in &got {
            assert_eq!(&f[0..6], &NEIGH[port]);
            assert_eq!(&f[6..12], &PORT_MAC[port]);
            assert_eq!(checksum(&f[14..34]), 0);
        }
    }
    let j = json(&stats);
    let counters = |node: &str| {
        j["nodes"].as_array().unwrap().iter().find(|n| n["name"] == node).map(|n| n["counters"].clone()).unwrap()
    };
    assert_eq!(counters("ip4_lookup")["runt"], 1);
    assert_eq!(counters("ip4_lookup")["bad_checksum"], 1);
    assert_eq!(counters("ip4_lookup")["ttl_expired"], 1);
    assert_eq!(counters("ip4_lookup")["no_route"], 1);
    assert_eq!(counters("ip4_rewrite")["mtu_exceeded"], 1);
    assert_eq!(counters("arp_input")["not_for_us"], 1);
    assert_eq!(counters("ip6_lookup")["no_route"], 1);
    let rx: u64 = j["ports"].as_array().unwrap().iter().map(|p| p["rx_packets"].as_u64().unwrap()).sum();
    let tx: u64 = j["ports"].as_array().unwrap().iter().map(|p| p["tx_packets"].as_u64().unwrap()).sum();
    assert_eq!(rx, 407);
    assert_eq!(tx, 400);
    assert_eq!(j["pool_in_use"], 0);
    assert!(j["elapsed_s"].as_f64().unwrap() > 0.0);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("407 packets received, 400 sent, 7 dropped"), "{s}");
}

/// The mcore dispatch model, as DPDK's `--model=dispatch`: lcore 0 polls
/// both ports and classifies; lcore 1 runs the lookup, the rewrite and the
/// transmit. Every frame leaves once, byte-exact as in run to completion,
/// and each node ran only where it is bound.
#[test]
fn dispatch_model_splits_the_pipeline_across_lcores() {
    let d = dir("dispatch");
    let mut expect: Vec<Vec<u8>> = Vec::new();
    let ins: Vec<Vec<Vec<u8>>> = (0..2u16)
        .map(|p| {
            (0..3000u16)
                .map(|t| {
                    let f = good((t % 2) as u8, p * 10000 + t, 60 + (t as usize % 40));
                    expect.push(expect_forwarded(&f, (t % 2) as usize));
                    f
                })
                .collect()
        })
        .collect();
    let (p0, p1) = (d.join("in0.pcap"), d.join("in1.pcap"));
    write_pcap(&p0, ins[0].iter().map(|f| f.as_slice())).unwrap();
    write_pcap(&p1, ins[1].iter().map(|f| f.as_slice())).unwrap();
    let lcores = "[[lcore]]\nid = 0\ncpu = 0\nrx = [[0, 0], [1, 0]]\n\
                  [[lcore]]\nid = 1\ncpu = 1\nrx = []\nnodes = [\"ip4_*\", \"ethdev_tx-*\"]\n";
    let cfg = config(&d, &[&p0, &p1], lcores, "");
    let stats = d.join("stats.json");
    let out = bin()
        .arg("-f")
        .arg(&cfg)
        .args(["--model=dispatch", "--exit-on-eof", "-q", "--stats-json"])
        .arg(&stats)
        .output()
        .unwrap();
    ok(&out);
    let mut got: Vec<Vec<u8>> = Vec::new();
    for port in 0..2 {
        got.extend(read_pcap(&d.join(format!("out{port}.pcap"))).unwrap().iter().map(|f| f.to_vec()));
    }
    got.sort();
    expect.sort();
    assert_eq!(got.len(), expect.len());
    assert!(got == expect, "forwarded frames differ from run to completion's");
    let j = json(&stats);
    assert_eq!(j["pool_in_use"], 0);
    let objs = |lcore: usize, node: &str| -> u64 {
        j["per_lcore"][lcore]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == node)
            .map_or(0, |n| n["objs"].as_u64().unwrap())
    };
    assert_eq!((objs(0, "pkt_cls"), objs(1, "pkt_cls")), (6000, 0));
    assert_eq!((objs(0, "ip4_lookup"), objs(1, "ip4_lookup")), (0, 6000));
    assert_eq!(objs(1, "ethdev_tx-0") + objs(1, "ethdev_tx-1"), 6000);
    // The hand-overs: every packet from lcore 0 to lcore 1, none back.
    let dsp = j["dispatch"].as_array().expect("dispatch counters in the report");
    assert_eq!((dsp[0]["lcore"].as_u64(), dsp[0]["sent_objs"].as_u64()), (Some(0), Some(6000)));
    assert_eq!(dsp[1]["sent_objs"], 0);
    assert_eq!(dsp[1]["received"], dsp[0]["sent"]);

    // Bad models and bindings: one line, exit 2.
    let cases = [
        ("--model=pipeline", lcores, "model = \"pipeline\": expected rtc or dispatch"),
        ("--model=rtc", lcores, "nodes = [...] needs model = \"dispatch\""),
        (
            "--model=dispatch",
            "[[lcore]]\nid = 0\ncpu = 0\nrx = [[0, 0], [1, 0]]\nnodes = [\"ip4_lookup\"]\n[[lcore]]\nid = 1\ncpu = 1\nrx = []\nnodes = [\"ip4_*\"]\n",
            "node ip4_lookup is bound to lcore 0 and to lcore 1",
        ),
        (
            "--model=dispatch",
            "[[lcore]]\nid = 0\ncpu = 0\nrx = [[0, 0], [1, 0]]\n[[lcore]]\nid = 1\ncpu = 1\nrx = []\nnodes = [\"ethdev_rx-0-0\"]\n",
            "does not poll that queue",
        ),
        ("--model=dispatch", "[[lcore]]\nid = 0\ncpu = 0\nrx = [[0, 0], [1, 0]]\nnodes = [\"nothing_*\"]\n", "matches no node"),
    ];
    for (flag, lc, needle) in cases {
        let cfg = config(&d, &[&p0, &p1], lc, "");
        let out = bin().arg("-f").arg(&cfg).arg(flag).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {err}");
        assert!(err.contains(needle) && err.trim_end().lines().count() == 1, "{flag}: {err}");
    }
}

#[test]
fn two_workers_on_two_cpus_lose_and_duplicate_nothing() {
    let d = dir("two");
    let ins: Vec<Vec<Vec<u8>>> =
        (0..2u16).map(|p| (0..5000u16).map(|t| good((t % 2) as u8, p * 10000 + t, 60)).collect()).collect();
    let (p0, p1) = (d.join("in0.pcap"), d.join("in1.pcap"));
    write_pcap(&p0, ins[0].iter().map(|f| f.as_slice())).unwrap();
    write_pcap(&p1, ins[1].iter().map(|f| f.as_slice())).unwrap();
    let lcores = "[[lcore]]\nid = 0\ncpu = 0\nrx = [[0, 0]]\n[[lcore]]\nid = 1\ncpu = 1\nrx = [[1, 0]]\n";
    let cfg = config(&d, &[&p0, &p1], lcores, "");
    let stats = d.join("stats.json");
    let out =
        bin().arg("-f").arg(&cfg).arg("--exit-on-eof").arg("--stats-json").arg(&stats).arg("-q").output().unwrap();
    ok(&out);
    let mut tags = Vec::new();
    for port in 0..2 {
        for f in read_pcap(&d.join(format!("out{port}.pcap"))).unwrap().iter() {
            assert_eq!(f[14 + 16 + 2], port as u8, "routed to the right port");
            tags.push(u16::from_be_bytes([f[34], f[35]]));
        }
    }
    tags.sort_unstable();
    let mut want: Vec<u16> = (0..2u16).flat_map(|p| (0..5000u16).map(move |t| p * 10000 + t)).collect();
    want.sort_unstable();
    assert_eq!(tags, want, "every frame exactly once");
    let j = json(&stats);
    assert_eq!(j["lcores"], serde_json::json!([0, 1]));
    assert_eq!(j["pool_in_use"], 0);
    // Per-lcore rows: each worker's CPU, queues and nodes; the rx nodes'
    // packets add up to the total.
    let per = j["per_lcore"].as_array().unwrap();
    assert_eq!(per.len(), 2);
    for (i, l) in per.iter().enumerate() {
        assert_eq!((l["lcore"].as_u64(), l["cpu"].as_u64()), (Some(i as u64), Some(i as u64)));
        assert_eq!(l["rx"], serde_json::json!([[i, 0]]));
        let rx_node = format!("ethdev_rx-{i}-0");
        let n = l["nodes"].as_array().unwrap().iter().find(|n| n["name"] == rx_node.as_str()).unwrap();
        assert_eq!(n["objs"], 5000, "{l}");
    }

    // Without -q, a line per worker says where it runs and what it polls.
    let out = bin().arg("-f").arg(&cfg).arg("--exit-on-eof").output().unwrap();
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("lcore 0 on CPU 0 polls rx queues (0,0)"), "{text}");
    assert!(text.contains("lcore 1 on CPU 1 polls rx queues (1,0)"), "{text}");
}

#[test]
fn sigint_drains_and_exits_zero() {
    let d = dir("sig");
    let stats = d.join("stats.json");
    let child = bin()
        .args(["--demo", "--duration", "60", "-q", "--stats-json"])
        .arg(&stats)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    ok(&out);
    let j = json(&stats);
    assert!(j["elapsed_s"].as_f64().unwrap() < 30.0);
    let rx: u64 = j["ports"].as_array().unwrap().iter().map(|p| p["rx_packets"].as_u64().unwrap()).sum();
    let tx: u64 = j["ports"].as_array().unwrap().iter().map(|p| p["tx_packets"].as_u64().unwrap()).sum();
    assert!(rx > 0);
    assert_eq!(rx, tx, "drained: everything received was sent");
    assert_eq!(j["pool_in_use"], 0);
}

#[test]
fn the_demo_runs_with_no_arguments() {
    let out = bin().output().unwrap();
    ok(&out);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("l3fwd-graph demo"), "{s}");
    assert!(s.contains("| ip4_lookup"), "{s}");
    assert!(s.contains("Mpps forwarded"), "{s}");
}

#[test]
fn the_example_configuration_runs_as_documented() {
    let d = dir("example");
    let stats = d.join("s.json");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/l3fwd-graph.toml");
    let out =
        bin().arg("-f").arg(&example).args(["--duration", "0.5", "-q", "--stats-json"]).arg(&stats).output().unwrap();
    ok(&out);
    let j = json(&stats);
    let tx: u64 = j["ports"].as_array().unwrap().iter().map(|p| p["tx_packets"].as_u64().unwrap()).sum();
    assert!(tx > 0, "{j}");
    assert_eq!(j["lcores"], serde_json::json!([1]));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let d = dir("bad");
    let cfgfile = d.join("c.toml");
    let cases: Vec<(Vec<String>, Option<&str>, &str)> = vec![
        (vec!["--bogus".into()], None, "--bogus"),
        (vec!["-p".into(), "xyz".into()], None, "-p \"xyz\""),
        (vec!["--config".into(), "(0,0)".into()], None, "--config"),
        (vec!["--eth-dest".into(), "0,zz".into()], None, "--eth-dest"),
        (vec!["--config".into(), "(0,0,99)".into()], None, "cpu = 99"),
        (vec!["--config".into(), "(0,0,0),(0,0,1)".into()], None, "polled by lcores 0 and 1"),
        (vec!["-f".into(), "/nonexistent.toml".into()], None, "/nonexistent.toml"),
        (vec!["-f".into(), cfgfile.display().to_string()], Some("burst = \"many\"\n"), "line 1"),
        (vec!["-f".into(), cfgfile.display().to_string()], Some("bogus_key = 1\n"), "bogus_key"),
        (
            vec!["-f".into(), cfgfile.display().to_string()],
            Some("[[port]]\nid = 0\nbackend = \"generator\"\n[[route]]\nprefix = \"10.0.0.0/8\"\nport = 4\n"),
            "port 4 is not configured",
        ),
        (
            vec!["-f".into(), cfgfile.display().to_string()],
            Some("[[port]]\nid = 0\nbackend = \"pcap\"\nparams = { rx_pcap = \"/nonexistent.pcap\" }\n"),
            "/nonexistent.pcap",
        ),
        #[cfg(not(feature = "dpdk"))]
        (vec!["a".into(), "--".into(), "-p".into(), "0x1".into()], None, "dpdk feature"),
        // Composition: a node this binary does not link, named with the
        // linker trap's fix; a node that is not a feature; bad arcs and
        // ports; a pattern naming rx nodes.
        (
            vec!["-f".into(), cfgfile.display().to_string()],
            Some("[[port]]\nid = 0\nbackend = \"generator\"\n[[feature]]\narc = \"ip4_input\"\nnode = \"acl4\"\n"),
            "no node \"acl4\" is linked into this program (nodes: arp_input, ethdev_rx, ethdev_tx, icmp4_error",
        ),
        (
            vec!["-f".into(), cfgfile.display().to_string()],
            Some("[[port]]\nid = 0\nbackend = \"generator\"\n[[feature]]\narc = \"ip4_input\"\nnode = \"acl4\"\n"),
            "use my_nodes as _;",
        ),
        (
            vec!["-f".into(), cfgfile.display().to_string()],
            Some("[[port]]\nid = 0\nbackend = \"generator\"\n[[feature]]\narc = \"ip4_input\"\nnode = \"pkt_drop\"\n"),
            "pkt_drop: not a feature of arc ip4_input (its features: none)",
        ),
        (
            vec!["-f".into(), cfgfile.display().to_string()],
            Some("[[port]]\nid = 0\nbackend = \"generator\"\n[[feature]]\narc = \"ip9\"\nnode = \"x\"\n"),
            "no arc \"ip9\" (arcs: eth_input, ip4_input, ip4_output)",
        ),
        (
            vec!["-f".into(), cfgfile.display().to_string()],
            Some("nodes = [\"udp_count*\"]\n[[port]]\nid = 0\nbackend = \"generator\"\n"),
            "nodes: no node \"udp_count*\" is linked",
        ),
        (
            vec!["-f".into(), cfgfile.display().to_string()],
            Some("nodes = [\"ethdev_*\"]\n[[port]]\nid = 0\nbackend = \"generator\"\n"),
            "rx queues are placed by the [[lcore]] sections",
        ),
        (
            vec!["-f".into(), cfgfile.display().to_string()],
            Some("[[port]]\nid = 0\nbackend = \"generator\"\n[node.my_acl]\nrules = []\n"),
            "[node.my_acl]: no node \"my_acl\" is linked",
        ),
    ];
    for (args, file, needle) in cases {
        if let Some(text) = file {
            std::fs::write(&cfgfile, text).unwrap();
        }
        let out = bin().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
    }
    // With DPDK, bad EAL arguments: DPDK logs its own lines first; ours is
    // the one last line, and the status is 2.
    #[cfg(feature = "dpdk")]
    {
        let out = bin().args(["--no-such-eal-flag", "--", "-p", "0x1"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.trim_end().lines().last().unwrap_or("").starts_with("l3fwd-graph: EAL initialisation"), "{err}");
    }
}
