//! The `acl4` feature in the stock router, the way a user runs it: the
//! three-line binary, a config file that enables the feature on one port
//! with its rules, pcap ports; then switched per port from the control
//! socket while packets flow.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use graph_nodes::port::pcap::{read_pcap, write_pcap};
use graph_nodes::wire::Udp4;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_acl4-router"))
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(name: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("acl4-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
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

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn node<'a>(stats: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    stats["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).unwrap_or_else(|| panic!("no node {name}"))
}

/// Received, sent, and dropped (every drop reason plus port tx errors).
fn totals(stats: &serde_json::Value) -> (u64, u64, u64) {
    let ports = stats["ports"].as_array().unwrap();
    let rx = ports.iter().map(|p| p["rx_packets"].as_u64().unwrap()).sum();
    let tx = ports.iter().map(|p| p["tx_packets"].as_u64().unwrap()).sum();
    let mut drops: u64 = ports.iter().map(|p| p["tx_errors"].as_u64().unwrap()).sum();
    for n in stats["nodes"].as_array().unwrap() {
        drops += n["counters"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>();
    }
    (rx, tx, drops)
}

/// UDP to 198.18.`to`.x, destination port `dport`, tagged by source port.
fn udp(to: u8, dport: u16, tag: u16) -> Vec<u8> {
    Udp4 { dst: [198, 18, to, 1 + (tag % 200) as u8], dport, sport: tag, ..Udp4::default() }.build()
}

const RULES: &str = r#"
[[feature]]
arc = "ip4_input"
node = "acl4"
ports = [0]

[node.acl4]
default = "permit"
rules = [ { action = "deny", proto = "udp", dport = 53 } ]
"#;

#[test]
fn the_acl_filters_the_port_the_config_names_and_no_other() {
    let d = dir("pcap");
    // Each port receives 100 frames for the other port, half to UDP 53.
    let frames =
        |to: u8| -> Vec<Vec<u8>> { (0..100u16).map(|t| udp(to, if t % 2 == 0 { 53 } else { 80 }, t)).collect() };
    let (in0, in1) = (frames(1), frames(0));
    // `nodes` names extra nodes for every worker graph by pattern (here
    // the ACL, which its arc already brings: accepted, changes nothing).
    let mut cfg = String::from("stats_interval = 0\nnodes = [\"acl*\"]\n");
    cfg.push_str(RULES);
    for (p, input) in [&in0, &in1].into_iter().enumerate() {
        let path = d.0.join(format!("in{p}.pcap"));
        write_pcap(&path, input.iter().map(|f| f.as_slice())).unwrap();
        cfg.push_str(&format!(
            "[[port]]\nid = {p}\nbackend = \"pcap\"\nparams = {{ rx_pcap = \"{}\", tx_pcap = \"{}\" }}\n",
            path.display(),
            d.0.join(format!("out{p}.pcap")).display()
        ));
    }
    let cfg_path = d.0.join("router.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let stats_path = d.0.join("stats.json");
    let out =
        bin().arg("-f").arg(&cfg_path).arg("--exit-on-eof").arg("--stats-json").arg(&stats_path).output().unwrap();
    ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("feature acl4 on ip4_input: ports 0"), "{stdout}");

    // Port 0's traffic left on port 1 without its UDP/53 half; port 1's
    // traffic left on port 0 whole.
    let dports = |p: usize| -> Vec<u16> {
        read_pcap(&d.0.join(format!("out{p}.pcap")))
            .unwrap()
            .iter()
            .map(|f| u16::from_be_bytes([f[36], f[37]]))
            .collect()
    };
    let out1 = dports(1);
    assert_eq!(out1.len(), 50);
    assert!(out1.iter().all(|&p| p == 80), "UDP/53 left port 1: {out1:?}");
    let out0 = dports(0);
    assert_eq!(out0.len(), 100);
    assert_eq!(out0.iter().filter(|&&p| p == 53).count(), 50);

    // The counters add up, and the ACL's are of the right kind.
    let stats = json(&stats_path);
    let acl = node(&stats, "acl4");
    assert_eq!(acl["counters"]["denied"], 50);
    assert_eq!(acl["observations"]["permitted"], 50);
    assert_eq!(acl["objs"], 100, "only port 0's packets went through the ACL");
    let (rx, tx, drops) = totals(&stats);
    assert_eq!((rx, tx, drops), (200, 150, 50));
    assert!(stdout.contains("dropped           50 acl4.denied"), "{stdout}");
    assert!(
        !stdout.lines().any(|l| l.contains("dropped") && l.contains("permitted")),
        "an observation reported as a drop: {stdout}"
    );
}

struct Client {
    s: UnixStream,
    r: BufReader<UnixStream>,
}

impl Client {
    fn connect(path: &Path) -> Client {
        let t0 = Instant::now();
        loop {
            if let Ok(s) = UnixStream::connect(path) {
                let r = BufReader::new(s.try_clone().unwrap());
                return Client { s, r };
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "no control socket at {}", path.display());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ask(&mut self, cmd: &str) -> String {
        writeln!(self.s, "{cmd}").unwrap();
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    }

    fn features(&mut self) -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&self.ask("features")).unwrap();
        v["arcs"].as_array().unwrap().iter().find(|a| a["name"] == "ip4_input").unwrap()["features"][0].clone()
    }
}

#[test]
fn the_control_socket_switches_the_feature_per_port_while_packets_flow() {
    let d = dir("control");
    let sock = d.0.join("ctl.sock");
    let stats_path = d.0.join("stats.json");
    // Generator ports; the ACL denies everything where it is on.
    let cfg = format!(
        "stats_interval = 0\nduration = 4\ncontrol_socket = \"{}\"\n\
         [[port]]\nid = 0\nbackend = \"generator\"\n[[port]]\nid = 1\nbackend = \"generator\"\n\
         [[feature]]\narc = \"ip4_input\"\nnode = \"acl4\"\nports = [0]\n[node.acl4]\ndefault = \"deny\"\n",
        sock.display()
    );
    let cfg_path = d.0.join("router.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let child = bin()
        .arg("-f")
        .arg(&cfg_path)
        .arg("--stats-json")
        .arg(&stats_path)
        .arg("-q")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("acl4-router runs");
    let mut c = Client::connect(&sock);
    let f = c.features();
    assert_eq!(f["name"], "acl4");
    assert_eq!(f["enabled_on"], serde_json::json!([0]));

    let denied = |c: &mut Client| c.features()["counters"]["denied"].as_u64().unwrap();
    let t0 = Instant::now();
    while denied(&mut c) == 0 {
        assert!(t0.elapsed() < Duration::from_secs(10), "nothing denied on port 0");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(c.ask("feature enable ip4_input acl4 1"), "ok acl4 enabled on ip4_input port 1");
    assert_eq!(c.ask("feature enable ip4_input acl4 1"), "ok acl4 enabled on ip4_input port 1 (it was already)");
    assert_eq!(c.ask("feature disable ip4_input acl4 0"), "ok acl4 disabled on ip4_input port 0");
    assert_eq!(c.features()["enabled_on"], serde_json::json!([1]));
    let e = c.ask("feature enable ip4_input nope 0");
    assert!(e.starts_with("error: arc \"ip4_input\" has no feature \"nope\" (its features: acl4)"), "{e}");
    assert!(c.ask("feature enable ip4_input acl4 7").starts_with("error: port 7 is not configured"));
    assert!(c.ask("feature enable nowhere acl4 0").starts_with("error: no feature arc named \"nowhere\""));
    drop(c);

    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    // Every packet received was sent or dropped under one reason, across
    // the switches.
    let stats = json(&stats_path);
    let (rx, tx, drops) = totals(&stats);
    assert!(rx > 0 && tx > 0);
    assert_eq!(rx, tx + drops, "received = sent + dropped");
    let acl = node(&stats, "acl4");
    assert_eq!(acl["counters"]["denied"], acl["objs"], "the ACL denied all it saw");
}
