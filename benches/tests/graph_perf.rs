//! The graph_perf topologies deliver what DPDK's do, and graph-perf keeps
//! its command-line contract.

use std::process::Command;

use benches::{build, topologies};

#[test]
fn every_topology_conserves_objects() {
    // Objects per walk reaching the sinks, as in DPDK (its worker's
    // `count & 3 == 3` quirk duplicates one handle and skips another, so the
    // count is still conserved).
    let expect = [256, 1, 512, 256, 256, 256, 1024];
    for (t, want) in topologies().iter().zip(expect) {
        let mut b = build(t, true).unwrap();
        for _ in 0..10 {
            b.graph.walk();
        }
        let stats = b.graph.stats();
        let at_sinks: u64 = stats.iter().filter(|s| b.sinks.contains(&s.name)).map(|s| s.objs).sum();
        assert_eq!(at_sinks, 10 * want, "{}", t.name);
        // Every node ran once per walk.
        assert!(stats.iter().all(|s| s.calls == 10), "{}: {stats:?}", t.name);
        drop(b);
    }
}

#[test]
fn graph_perf_json_contract() {
    let out = Command::new(env!("CARGO_BIN_EXE_graph-perf"))
        .args(["--json", "--warmup", "0.02", "--duration", "0.05", "--worker-cpu", "-1", "--main-cpu", "-1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = lines.iter().map(|l| l["topology"].as_str().unwrap()).collect();
    assert_eq!(names, topologies().iter().map(|t| t.name).collect::<Vec<_>>());
    for l in &lines {
        assert!(l["mobjs_per_sec"].as_f64().unwrap() > 0.0, "{l}");
        let node = &l["nodes"][0];
        for k in ["name", "calls", "objs", "realloc_count", "cycles_per_call"] {
            assert!(!node[k].is_null(), "{k} missing in {l}");
        }
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_graph-perf")).args(["--topology", "nope"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--topology nope"));
}
