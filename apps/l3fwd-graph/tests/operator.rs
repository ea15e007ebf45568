//! What an operator does to a running router: pipes its output into a
//! program that exits early, hangs up its terminal, sends it stray signals.
//! None of these may stop forwarding uncleanly: the run ends (or goes on)
//! with the report written and every buffer back in its pool.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Dir, Tmpfs};

fn dir(name: &str) -> Dir {
    common::dir("operator", name)
}

fn report(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn sent(j: &serde_json::Value) -> u64 {
    j["ports"].as_array().unwrap().iter().map(|p| p["tx_packets"].as_u64().unwrap()).sum()
}

/// `l3fwd-graph ... | head -1`: the reader goes away after one line. The
/// router used to panic on the next print (exit 101, no report).
#[test]
fn a_closed_stdout_does_not_stop_the_run() {
    let d = dir("pipe");
    let stats = d.0.join("s.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_l3fwd-graph"))
        .args(["--demo", "--duration", "1.5", "--stats-interval", "0.1", "--stats-json"])
        .arg(&stats)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    // The reader is dropped here: the pipe is closed.
    assert!(first.starts_with("l3fwd-graph demo"), "{first}");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    let j = report(&stats);
    assert!(sent(&j) > 0);
    assert_eq!(j["pool_in_use"], 0);
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on our own child's pid; no memory is passed.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

/// SIGUSR1/SIGUSR2 are ignored (they used to kill it with no cleanup);
/// SIGHUP stops it cleanly like SIGTERM, report written.
#[test]
fn stray_signals_are_ignored_and_a_hangup_stops_cleanly() {
    let d = dir("hup");
    let stats = d.0.join("s.json");
    let sock = d.0.join("ctl.sock");
    let mut child = Command::new(env!("CARGO_BIN_EXE_l3fwd-graph"))
        .args(["--demo", "--duration", "60", "-q", "--stats-json"])
        .arg(&stats)
        .arg("--control-socket")
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !sock.exists() {
        assert!(t0.elapsed() < Duration::from_secs(10), "router did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(child.id(), libc::SIGUSR1);
    signal(child.id(), libc::SIGUSR2);
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "SIGUSR1/2 must not end the run");
    signal(child.id(), libc::SIGHUP);
    let t1 = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(t1.elapsed() < Duration::from_secs(10));
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    let j = report(&stats);
    assert!(sent(&j) > 0);
    assert_eq!(j["pool_in_use"], 0);
    assert!(!sock.exists(), "the control socket is removed on the way out");
}

/// A start that fails after the ports are open (a later port's bad
/// parameter, a route the FIB cannot hold, `--exit-on-eof` with only
/// endless inputs) leaves existing output files exactly as they were; a run
/// that starts replaces them when it ends.
#[test]
fn a_failed_start_leaves_existing_outputs_untouched() {
    let d = dir("clobber");
    let input = d.0.join("in.pcap");
    graph_nodes::port::pcap::write_pcap(&input, [graph_nodes::wire::Udp4::default().build().as_slice()]).unwrap();
    let out = d.0.join("out.pcap");
    let port0 = format!(
        "[[port]]\nid = 0\nbackend = \"pcap\"\nparams = {{ rx_pcap = \"{}\", tx_pcap = \"{}\" }}\n",
        input.display(),
        out.display()
    );
    let cases = [
        (format!("{port0}[[port]]\nid = 1\nbackend = \"generator\"\nparams = {{ sizee = 64 }}\n"), vec![]),
        (
            format!(
                "tbl8_groups = 1\n{port0}[[route]]\nprefix = \"10.0.0.0/25\"\nport = 0\n[[route]]\nprefix = \"10.1.0.0/25\"\nport = 0\n"
            ),
            vec![],
        ),
        (
            format!("{}[[port]]\nid = 1\nbackend = \"generator\"\n", port0.replace(" }", ", loop = \"forever\" }")),
            vec!["--exit-on-eof"],
        ),
    ];
    for (toml, args) in &cases {
        std::fs::write(&out, b"precious").unwrap();
        let cfg = d.0.join("r.toml");
        std::fs::write(&cfg, toml).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_l3fwd-graph"))
            .arg("-f")
            .arg(&cfg)
            .args(args)
            .args(["-q", "--duration", "2"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{toml}\n{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(std::fs::read(&out).unwrap(), b"precious", "{toml}");
        let parts: Vec<_> = std::fs::read_dir(&d.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".part"))
            .collect();
        assert!(parts.is_empty(), "{parts:?}");
    }
    // A run that starts publishes its output when it ends.
    let cfg = d.0.join("ok.toml");
    std::fs::write(&cfg, &port0).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_l3fwd-graph"))
        .arg("-f")
        .arg(&cfg)
        .args(["-q", "--exit-on-eof"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(graph_nodes::port::pcap::read_pcap(&out).is_ok(), "replaced by a pcap");
}

/// A JSON-lines file on a disk that fills is reported (one line, exit 1)
/// instead of ending silently with exit 0; forwarding and the final report
/// are not affected.
#[test]
fn a_stats_lines_file_that_fills_its_disk_is_reported() {
    let d = dir("jsonl");
    let mnt = d.0.join("small");
    let _fs = Tmpfs::mount(&mnt, "16k");
    let cfg = d.0.join("r.toml");
    std::fs::write(
        &cfg,
        "stats_jsonl_interval = 0.005\n[[port]]\nid = 0\nbackend = \"generator\"\n[[port]]\nid = 1\nbackend = \"generator\"\n",
    )
    .unwrap();
    let stats = d.0.join("s.json");
    let lines = mnt.join("s.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_l3fwd-graph"))
        .arg("-f")
        .arg(&cfg)
        .args(["-q", "--duration", "1.5", "--stats-json"])
        .arg(&stats)
        .arg("--stats-jsonl")
        .arg(&lines)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--stats-jsonl") && err.contains("s.jsonl"), "{err}");
    let j = report(&stats);
    assert!(sent(&j) > 0);
    assert_eq!(j["pool_in_use"], 0);
}

/// Standard error closed (`2>&-` or a reader gone): error messages are
/// lost, not turned into a panic; the exit status still says what happened.
#[test]
fn a_closed_stderr_does_not_turn_errors_into_panics() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0i32; 2];
    // SAFETY: pipe(2) writes two new descriptors into `fds`.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created and are owned here; the
    // read end is closed at once, so every write to the other fails.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    let out = Command::new(env!("CARGO_BIN_EXE_l3fwd-graph"))
        .args(["-p", "zz"])
        .stdout(Stdio::null())
        .stderr(Stdio::from(write))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a bad flag is exit 2 even with nowhere to say so");
}
