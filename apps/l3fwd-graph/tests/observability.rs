//! Observability from outside the router: OpenMetrics scraped while it
//! forwards and read by an independent parser (Python's
//! `prometheus_client`), and the cycles-per-call quantiles in the JSON.

mod common;

use common::ask;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_l3fwd-graph"))
}

/// Starts the demo on generator ports for `secs` with `args`, and returns
/// it with the address of its metrics endpoint (from its startup line).
fn start_with_metrics(secs: u32, args: &[&str]) -> (Child, String) {
    let mut child = bin()
        .args(["--demo", "--duration", &secs.to_string(), "--metrics", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let t0 = Instant::now();
    let addr = loop {
        let line = lines.next().expect("the router printed its metrics address").unwrap();
        if let Some(rest) = line.strip_prefix("l3fwd-graph: metrics at http://") {
            break rest.trim_end_matches("/metrics").to_string();
        }
        assert!(t0.elapsed() < Duration::from_secs(20));
    };
    // Keep draining stdout so the router never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

/// One HTTP GET; (status line, content type, body).
fn get(addr: &str, path: &str) -> (String, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    let status = head.lines().next().unwrap().to_string();
    let ct = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: ").or_else(|| l.strip_prefix("content-type: ")))
        .unwrap_or("")
        .to_string();
    (status, ct, body.to_string())
}

/// Parses `text` with prometheus_client's OpenMetrics parser and returns
/// its samples as `name{labels} value` lines, sorted by the parser.
fn parse_openmetrics(text: &str) -> Vec<String> {
    const PY: &str = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{fam.type} {s.name}{{{labels}}} {s.value}")
"#;
    let mut py = Command::new("python3")
        .args(["-c", PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (CI installs python3-prometheus-client)");
    py.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused the exposition:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect()
}

fn value(samples: &[String], prefix: &str) -> f64 {
    let s = samples.iter().find(|s| s.starts_with(prefix)).unwrap_or_else(|| panic!("no sample {prefix}"));
    s.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn openmetrics_scraped_while_forwarding_parses_and_grows() {
    let (child, addr) = start_with_metrics(4, &[]);
    std::thread::sleep(Duration::from_millis(500));
    let (status, ct, first) = get(&addr, "/metrics");
    assert!(status.contains("200"), "{status}");
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    assert!(first.ends_with("# EOF\n"));
    std::thread::sleep(Duration::from_millis(500));
    let (_, _, second) = get(&addr, "/metrics");
    assert!(get(&addr, "/other").0.contains("404"));

    let a = parse_openmetrics(&first);
    let b = parse_openmetrics(&second);
    let key = "counter l3fwd_node_objects_total{lcore=1,node=ip4_lookup}";
    assert!(value(&b, key) > value(&a, key), "ip4_lookup's objects grow between scrapes");
    assert!(value(&b, "counter l3fwd_port_tx_packets_total{port=0}") > 0.0);
    // The demo's generator sends some packets with no route: a drop
    // reason, labelled.
    assert!(b.iter().any(|s| s.starts_with("counter l3fwd_node_drops_total{lcore=1,node=ip4_lookup,reason=")), "{b:?}");
    // The cycles-per-call histogram: cumulative buckets up to +Inf = count.
    let inf = value(&b, "histogram l3fwd_node_cycles_per_call_bucket{lcore=1,le=+Inf,node=ip4_lookup}");
    let count = value(&b, "histogram l3fwd_node_cycles_per_call_count{lcore=1,node=ip4_lookup}");
    assert_eq!(inf, count);
    assert!(count > 0.0);
    // (Parser versions differ in how they print `le`: "15" or "15.0".)
    let le_small = ["15", "15.0"]
        .iter()
        .map(|le| format!("histogram l3fwd_node_cycles_per_call_bucket{{lcore=1,le={le},node=ip4_lookup}}"))
        .find_map(|k| b.iter().any(|s| s.starts_with(&k)).then(|| value(&b, &k)))
        .expect("a bucket le=15");
    assert!(le_small <= count);

    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_bad_metrics_address_is_one_line_and_exit_2() {
    for (addr, needle) in [("nowhere", "expected ADDR:PORT"), ("203.0.113.1:80", "--metrics 203.0.113.1:80")] {
        let out = bin().args(["--demo", "--metrics", addr]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn latency_quantiles_in_the_json_and_off_by_flag() {
    let d = common::dir("obs", "latency");
    for (flags, on) in [(&[][..], true), (&["--no-histograms"][..], false)] {
        let stats = d.0.join("s.json");
        let out =
            bin().args(["--demo", "--duration", "1", "-q", "--stats-json"]).arg(&stats).args(flags).output().unwrap();
        assert!(out.status.success());
        let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
        let n = j["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "ip4_lookup").unwrap();
        let l = &n["latency"];
        if on {
            assert_eq!(l["calls"], n["calls"], "every call in the histogram");
            let (p50, p99, max) = (l["p50"].as_u64().unwrap(), l["p99"].as_u64().unwrap(), l["max"].as_u64().unwrap());
            assert!(0 < p50 && p50 <= p99 && p99 <= max, "{l}");
        } else {
            assert_eq!(l["calls"], 0);
        }
    }
}

fn ctl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_l3fwdctl")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Trace from the control socket and l3fwdctl against a running router:
/// forwarded packets' paths, a dropped packet's reason, a source's
/// packets; VPP-style tables from both the control socket and the
/// metrics endpoint.
#[test]
fn trace_and_l3fwdctl_on_a_running_router() {
    let d = common::dir("obs", "trace");
    let sock = d.0.join("ctl.sock");
    let cfg = d.0.join("r.toml");
    // Port 0 sends to 198.18.1.0/24 (routed to port 1) and 10.9.0.0/24
    // (no route).
    std::fs::write(
        &cfg,
        format!(
            "stats_interval = 0\nduration = 6\ncontrol_socket = \"{}\"\n\
             [[port]]\nid = 0\nbackend = \"generator\"\nparams = {{ dst = \"198.18.1.0/24;10.9.0.0/24\" }}\n\
             [[port]]\nid = 1\nbackend = \"generator\"\n",
            sock.display()
        ),
    )
    .unwrap();
    let mut child = bin()
        .arg("-f")
        .arg(&cfg)
        .args(["--metrics", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let http = loop {
        let line = lines.next().expect("metrics address").unwrap();
        if let Some(rest) = line.strip_prefix("l3fwd-graph: metrics at http://") {
            break rest.trim_end_matches("/metrics").to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let mut s = common::connect(&sock);

    let wait_for = |s: &mut std::os::unix::net::UnixStream, n: usize| -> serde_json::Value {
        let t0 = Instant::now();
        loop {
            let v: serde_json::Value = serde_json::from_str(&ask(s, "trace show")).unwrap();
            if v["packets"].as_array().unwrap().len() >= n {
                return v;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "no {n} traced packets: {v}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    // Forwarded: entering ip4_lookup for 198.18.1.0/24.
    assert_eq!(
        ask(&mut s, "trace add ip4_lookup 5 dst 198.18.1.0/24 proto udp"),
        "ok tracing the next 5 packets entering ip4_lookup"
    );
    let v = wait_for(&mut s, 5);
    for p in v["packets"].as_array().unwrap() {
        let steps: Vec<(&str, Option<&str>)> =
            p["steps"].as_array().unwrap().iter().map(|s| (s["node"].as_str().unwrap(), s["edge"].as_str())).collect();
        assert_eq!(
            steps,
            [("ip4_lookup", Some("ip4_rewrite")), ("ip4_rewrite", Some("ethdev_tx-1")), ("ethdev_tx-1", None)]
        );
        let info = p["steps"][0]["info"].as_str().unwrap();
        assert!(info.starts_with("dst 198.18.1.") && info.ends_with("next hop 1"), "{info}");
        assert_eq!(p["lcore"], 1);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(wait_for(&mut s, 5)["packets"].as_array().unwrap().len(), 5, "no more than asked");
    assert!(ask(&mut s, "trace clear").starts_with("ok trace stopped, 5 packets cleared"));

    // Dropped: no route, with the reason.
    ask(&mut s, "trace add ip4_lookup 2 dst 10.9.0.0/24");
    let v = wait_for(&mut s, 2);
    let st = &v["packets"][0]["steps"];
    assert_eq!(st[0]["edge"], "pkt_drop");
    assert!(st[0]["drops"]["no_route"].as_u64().unwrap() >= 1, "{st}");
    assert_eq!((st[1]["node"].as_str(), st[1]["edge"].as_str()), (Some("pkt_drop"), None));
    let (okk, text, err) = ctl(&["-s", sock.to_str().unwrap(), "show", "trace"]);
    assert!(okk, "{err}");
    assert!(text.contains("Packet 1 (lcore 1)"), "{text}");
    assert!(text.contains("ip4_lookup -> pkt_drop: dst 10.9.0.") && text.contains("[drop: no_route]"), "{text}");
    ask(&mut s, "trace clear");

    // At a source: its packets from the start.
    ask(&mut s, "trace add ethdev_rx-1-0 1");
    let v = wait_for(&mut s, 1);
    let st = &v["packets"][0]["steps"];
    assert_eq!((st[0]["node"].as_str(), st[0]["edge"].as_str()), (Some("ethdev_rx-1-0"), Some("pkt_cls")));
    assert!(st[0]["info"].as_str().unwrap().starts_with("port 1 len "), "{st}");
    ask(&mut s, "trace clear");

    // Bad commands.
    assert!(ask(&mut s, "trace add nowhere 5").starts_with("error: no node \"nowhere\""));
    assert!(ask(&mut s, "trace add ip4_lookup 0").starts_with("error: count must be 1..=10000"));
    assert!(ask(&mut s, "trace add ip4_lookup 5 dport x").contains("is not a port"));
    assert!(ask(&mut s, "trace add ip4_lookup 5 colour red").contains("unknown key \"colour\""));

    // l3fwdctl, both ways in.
    for via in [["-s", sock.to_str().unwrap()], ["--http", http.as_str()]] {
        let (okk, rt, err) = ctl(&[via[0], via[1], "show", "runtime"]);
        assert!(okk, "{err}");
        assert!(rt.contains("Thread lcore 1 (CPU") && rt.contains("ip4_lookup"), "{rt}");
        let (_, er, _) = ctl(&[via[0], via[1], "show", "errors"]);
        assert!(er.lines().any(|l| l.contains("ip4_lookup") && l.ends_with("no_route")), "{er}");
        let (_, po, _) = ctl(&[via[0], via[1], "show", "ports"]);
        assert_eq!(po.lines().count(), 3, "{po}");
        let (_, la, _) = ctl(&[via[0], via[1], "show", "latency"]);
        assert!(la.lines().any(|l| l.starts_with("ip4_lookup")), "{la}");
    }
    let (okk, _, err) = ctl(&["--http", &http, "show", "trace"]);
    assert!(!okk && err.contains("needs the control socket"), "{err}");
    let (okk, _, err) = ctl(&["-s", "/nonexistent.sock", "show", "runtime"]);
    assert!(!okk && err.starts_with("l3fwdctl: /nonexistent.sock"), "{err}");
    drop(s);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// tshark's view of a pcapng file: one line per packet, tab-separated
/// `fields`.
fn tshark(file: &std::path::Path, fields: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).args(["-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark (CI installs it)");
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect()
}

/// DPDK's --pcap-enable: every node's packets in a pcapng file, each with
/// its graph and node as the packet comment and its port as the
/// interface, read back by tshark.
#[test]
fn pcap_enable_writes_pcapng_with_node_names() {
    use graph_nodes::port::pcap::write_pcap;
    use graph_nodes::wire::Udp4;
    let d = common::dir("obs", "pcapng");
    let input = d.0.join("in.pcap");
    let frames: Vec<Vec<u8>> =
        (0..5u8).map(|i| Udp4 { dst: [198, 18, 1, 10 + i], ..Udp4::default() }.build()).collect();
    write_pcap(&input, frames.iter().map(|f| f.as_slice())).unwrap();
    let empty = d.0.join("empty.pcap");
    write_pcap(&empty, std::iter::empty()).unwrap();
    let cfg = d.0.join("r.toml");
    std::fs::write(
        &cfg,
        format!(
            "stats_interval = 0\n[[port]]\nid = 0\nbackend = \"pcap\"\nparams = {{ rx_pcap = \"{}\" }}\n\
             [[port]]\nid = 1\nbackend = \"pcap\"\nparams = {{ rx_pcap = \"{}\", tx_pcap = \"{}\" }}\n",
            input.display(),
            empty.display(),
            d.0.join("out1.pcap").display()
        ),
    )
    .unwrap();
    let cap = d.0.join("graph.pcapng");
    let out = bin()
        .arg("-f")
        .arg(&cfg)
        .args(["--exit-on-eof", "-q", "--pcap-enable", "--pcap-num-cap", "100", "--pcap-file-name"])
        .arg(&cap)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = tshark(&cap, &["frame.interface_name", "frame.comment", "ip.dst"]);
    // 5 packets seen by pkt_cls, ip4_lookup, ip4_rewrite and ethdev_tx-1.
    assert_eq!(rows.len(), 20, "{rows:#?}");
    for node in ["pkt_cls", "ip4_lookup", "ip4_rewrite", "ethdev_tx-1"] {
        let at: Vec<&String> = rows.iter().filter(|r| r.contains(&format!("\tworker_1: {node}\t"))).collect();
        assert_eq!(at.len(), 5, "{node}: {rows:#?}");
        assert!(at.iter().all(|r| r.starts_with("port 0\t")), "{rows:#?}");
    }
    assert_eq!(rows.iter().filter(|r| r.ends_with("\t198.18.1.12")).count(), 4);

    // Bad flags are one line and exit 2.
    for (args, needle) in [
        (&["--pcap-num-cap", "5"][..], "need --pcap-enable"),
        (&["--pcap-enable", "--pcap-num-cap", "0"][..], "--pcap-num-cap 0"),
        (&["--pcap-enable", "--pcap-file-name", "/nonexistent/dir/x.pcapng"][..], "--pcap-file-name /nonexistent/dir"),
    ] {
        let out = bin().arg("--demo").args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle) && err.trim_end().lines().count() == 1, "{args:?}: {err}");
    }
}

/// The control socket's capture writes pcapng for a `.pcapng` file, at one
/// node or at every node (`*`).
#[test]
fn control_capture_into_pcapng() {
    let d = common::dir("obs", "capng");
    let sock = d.0.join("ctl.sock");
    let child = bin()
        .args(["--demo", "--duration", "4", "-q", "--control-socket"])
        .arg(&sock)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut s = common::connect(&sock);
    let one = d.0.join("one.pcapng");
    let all = d.0.join("all.pcapng");
    assert!(ask(&mut s, &format!("capture ip4_rewrite 7 {}", one.display())).starts_with("ok capturing 7 packets"));
    assert!(ask(&mut s, &format!("capture * 300 {}", all.display())).starts_with("ok capturing 300 packets at *"));
    let t0 = Instant::now();
    while !(one.exists() && all.exists()) {
        assert!(t0.elapsed() < Duration::from_secs(10), "captures not written");
        std::thread::sleep(Duration::from_millis(20));
    }
    let rows = tshark(&one, &["frame.comment"]);
    assert_eq!(rows, vec!["worker_1: ip4_rewrite".to_string(); 7]);
    let rows = tshark(&all, &["frame.comment"]);
    assert_eq!(rows.len(), 300);
    assert!(rows.iter().all(|r| r.starts_with("worker_1: ")), "{rows:?}");
    drop(s);
    assert!(child.wait_with_output().unwrap().status.success());
}
