//! Graphs changed while forwarding: rx queues moved between lcores and
//! graphs rebuilt, many times in a row under traffic. Each change builds
//! the new graph beside the running one and swaps at a walk boundary; the
//! counters prove that every received packet was sent or dropped with a
//! reason across all the switches.

mod common;

use common::ask;

use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn moving_queues_and_rebuilding_graphs_under_traffic_loses_nothing() {
    let d = common::dir("live", "moves");
    let sock = d.0.join("ctl.sock");
    let stats = d.0.join("stats.json");
    let cfg = d.0.join("r.toml");
    std::fs::write(
        &cfg,
        format!(
            "stats_interval = 0\nduration = 5\ncontrol_socket = \"{}\"\n\
             [[port]]\nid = 0\nbackend = \"generator\"\nrx_queues = 2\n\
             [[port]]\nid = 1\nbackend = \"generator\"\nrx_queues = 2\n\
             [[lcore]]\nid = 0\ncpu = 0\nrx = [[0, 0], [1, 0]]\n\
             [[lcore]]\nid = 1\ncpu = 1\nrx = [[0, 1], [1, 1]]\n",
            sock.display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_l3fwd-graph"))
        .arg("-f")
        .arg(&cfg)
        .args(["-q", "--stats-json"])
        .arg(&stats)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut s = common::connect(&sock);
    let mut replaced = 0;
    for i in 0..20 {
        let to = if i % 2 == 0 { 0 } else { 1 };
        assert_eq!(
            ask(&mut s, &format!("rx move 0 1 {to}")),
            format!("ok rx (0, 1) on lcore {to}; 2 graph(s) replaced")
        );
        replaced += 2;
        assert_eq!(ask(&mut s, "graph rebuild 1"), "ok 1 graph(s) replaced");
        replaced += 1;
        std::thread::sleep(Duration::from_millis(40));
    }
    // A queue nobody polls for a while, then polled again: its packets
    // waited in the port (or were counted as missed there).
    assert_eq!(ask(&mut s, "rx del 1 1"), "ok rx (1, 1) no longer polled; 1 graph(s) replaced");
    assert!(ask(&mut s, "rx del 1 1").starts_with("error: no lcore polls rx (1, 1)"));
    std::thread::sleep(Duration::from_millis(50));
    assert!(ask(&mut s, "rx add 1 0 1").starts_with("error: rx (1, 0) is polled by lcore 0"));
    assert!(ask(&mut s, "rx add 1 5 1").starts_with("error: port 1 has 2 rx queue(s)"));
    assert_eq!(ask(&mut s, "rx add 1 1 1"), "ok rx (1, 1) polled; 1 graph(s) replaced");
    replaced += 2;
    // Refused changes change nothing.
    assert!(ask(&mut s, "rx move 7 0 0").starts_with("error: no lcore polls rx (7, 0)"));
    assert!(ask(&mut s, "rx move 0 0 9").starts_with("error: lcore 9 is not a worker"));
    assert_eq!(ask(&mut s, "rx move 0 0 0"), "ok rx (0, 0) on lcore 0; 0 graph(s) replaced");
    // Give the lcores time to take the last swaps.
    std::thread::sleep(Duration::from_millis(300));
    let sw: serde_json::Value = serde_json::from_str(&ask(&mut s, "switches")).unwrap();
    assert_eq!(sw["count"], replaced, "{sw}");
    drop(s);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let ports = j["ports"].as_array().unwrap();
    let rx: u64 = ports.iter().map(|p| p["rx_packets"].as_u64().unwrap()).sum();
    let tx: u64 = ports.iter().map(|p| p["tx_packets"].as_u64().unwrap()).sum();
    let mut drops: u64 = ports.iter().map(|p| p["tx_errors"].as_u64().unwrap()).sum();
    for n in j["nodes"].as_array().unwrap() {
        drops += n["counters"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>();
    }
    assert!(rx > 1_000_000, "traffic flowed: {rx}");
    assert_eq!(rx, tx + drops, "received = sent + dropped across {replaced} switches");
    assert_eq!(j["pool_in_use"], 0);
    eprintln!("{replaced} switches, longest pause {} us", sw["max_pause_us"]);
}
