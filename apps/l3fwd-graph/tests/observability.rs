//! Observability from outside the router: OpenMetrics scraped while it
//! forwards and read by an independent parser (Python's
//! `prometheus_client`), and the cycles-per-call quantiles in the JSON.

mod common;

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
