//! A soak run: traffic on two generator ports while a client churns the
//! control socket (routes and next hops added and removed, captures
//! started and stopped, connections opened and closed, stats read), for
//! `SOAK_SECS` seconds (default 20; CI runs a longer one). At the end every
//! packet received is sent or dropped under exactly one counter, the pools
//! are full, the final report is complete, and the router's memory stayed
//! flat while it ran.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

struct Client {
    s: UnixStream,
    r: BufReader<UnixStream>,
}

impl Client {
    fn connect(path: &std::path::Path) -> Client {
        let t0 = Instant::now();
        loop {
            if let Ok(s) = UnixStream::connect(path) {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let r = BufReader::new(s.try_clone().unwrap());
                return Client { s, r };
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "no control socket");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ask(&mut self, cmd: &str) -> String {
        writeln!(self.s, "{cmd}").unwrap();
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        assert!(l.ends_with('\n'), "a whole reply line to {cmd:?}: {l:?}");
        l.trim_end().to_string()
    }
}

#[test]
fn soak_traffic_with_control_churn() {
    let secs: u64 = std::env::var("SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let d = common::dir("soak", "run");
    let sock = d.0.join("ctl.sock");
    let stats = d.0.join("s.json");
    let cfg = d.0.join("r.toml");
    std::fs::write(
        &cfg,
        "stats_interval = 0\n\
         [[port]]\nid = 0\nbackend = \"generator\"\nparams = { dst = \"198.18.1.0/24;10.0.0.0/8\", bad = 0.05, ipv6 = 0.05 }\n\
         [[port]]\nid = 1\nbackend = \"generator\"\nparams = { dst = \"198.18.0.0/24;10.0.0.0/8\" }\n\
         [[lcore]]\nid = 1\ncpu = 1\nrx = [[0, 0], [1, 0]]\n",
    )
    .unwrap();
    let router = Command::new(env!("CARGO_BIN_EXE_l3fwd-graph"))
        .arg("-f")
        .arg(&cfg)
        .args(["-q", "--control-socket"])
        .arg(&sock)
        .arg("--stats-json")
        .arg(&stats)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = router.id();
    let mut main = Client::connect(&sock);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut rss: Vec<(f64, u64)> = Vec::new();
    let mut i = 0u64;
    while Instant::now() < deadline {
        i += 1;
        let a = (i % 200) as u8;
        // Routes: a /24 and a /32 under 10/8 come and go (tbl8 groups are
        // allocated and reclaimed), next hops too.
        let r = main.ask(&format!("route add 10.{a}.0.0/24 port {}", i % 2));
        assert!(r.starts_with("ok"), "{r}");
        assert!(main.ask(&format!("route add 10.{a}.7.9/32 port {}", (i + 1) % 2)).starts_with("ok"));
        assert!(main
            .ask(&format!("neigh add {} {} 52:54:00:00:{:02x}:01", 100 + a as u16, i % 2, a))
            .starts_with("ok"));
        assert!(main.ask(&format!("route add 10.{a}.8.0/24 via {}", 100 + a as u16)).starts_with("ok"));
        if i.is_multiple_of(3) {
            for c in [
                format!("route del 10.{a}.0.0/24"),
                format!("route del 10.{a}.7.9/32"),
                format!("route del 10.{a}.8.0/24"),
            ] {
                assert!(main.ask(&c).starts_with("ok"), "{c}");
            }
            assert!(main.ask(&format!("neigh del {}", 100 + a as u16)).starts_with("ok"));
        }
        // Captures, some stopped early.
        if i.is_multiple_of(10) {
            let f = d.0.join(format!("cap{}.pcap", i % 4));
            let r = main.ask(&format!("capture ip4_lookup 50 {}", f.display()));
            assert!(r.starts_with("ok capturing"), "{r}");
            if i.is_multiple_of(20) {
                let _ = main.ask("capture stop ip4_lookup");
            }
        }
        // Connections come and go.
        if i.is_multiple_of(5) {
            let mut c = Client::connect(&sock);
            assert!(c.ask("stats").starts_with('{'));
        }
        if i.is_multiple_of(25) {
            let j: serde_json::Value = serde_json::from_str(&main.ask("stats")).unwrap();
            assert!(j["ports"][0].get("rx_nombuf").is_some() && j["nodes"].is_array());
            if let Some(k) = rss_kib(pid) {
                rss.push((start.elapsed().as_secs_f64(), k));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(main);
    // SAFETY: kill(2) on our own child; no memory is passed.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
    let out = router.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));

    let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let sum = |k: &str| j["ports"].as_array().unwrap().iter().map(|p| p[k].as_u64().unwrap()).sum::<u64>();
    let drops: u64 = j["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|n| n["counters"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()))
        .sum();
    let (rx, tx, tx_err) = (sum("rx_packets"), sum("tx_packets"), sum("tx_errors"));
    assert!(rx > 1_000_000, "traffic flowed: {rx}");
    assert_eq!(rx, tx + drops + tx_err, "every packet sent or dropped once: {j}");
    assert!(drops > 0, "the bad and IPv6 frames were counted");
    assert_eq!(j["pool_in_use"], 0);
    assert!(i > 100, "the churn ran ({i} rounds)");
    // Memory flat: after the first quarter (tables and pools warm), the
    // resident size moves by at most RSS_SLACK_MIB (default 32; the
    // AddressSanitizer run raises it, since its quarantine holds freed
    // memory on purpose).
    let limit_mib: u64 = std::env::var("RSS_SLACK_MIB").ok().and_then(|s| s.parse().ok()).unwrap_or(32);
    let warm: Vec<u64> = rss.iter().filter(|(t, _)| *t >= secs as f64 / 4.0).map(|(_, k)| *k).collect();
    if let (Some(lo), Some(hi)) = (warm.iter().min(), warm.iter().max()) {
        assert!(hi - lo <= limit_mib * 1024, "resident memory went from {lo} to {hi} KiB: {rss:?}");
    }
}
