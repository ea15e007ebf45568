//! `l3fwdctl`: a running router's statistics read from another process,
//! printed the way VPP's CLI prints them (`show runtime`, `show errors`,
//! ...). It reads the `--stats-json` schema from the router's metrics
//! endpoint (`--http ADDR:PORT`, served by a thread of the router's own:
//! the workers are not involved) or from its control socket (`--socket
//! PATH`, served between walks on the first worker). Counters are atomics
//! and each node's row is read whole (a seqlock), so a snapshot never
//! shows a torn value or a row half updated.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serde_json::Value;

/// Reads a running l3fwd-graph's statistics.
#[derive(Debug, Parser)]
#[command(name = "l3fwdctl", version)]
pub struct Args {
    /// The router's control socket (--control-socket).
    #[arg(long, short = 's', value_name = "PATH", conflicts_with = "http")]
    pub socket: Option<PathBuf>,
    /// The router's metrics endpoint (--metrics), for `show` without
    /// involving the workers.
    #[arg(long, value_name = "ADDR:PORT")]
    pub http: Option<String>,
    /// `show runtime|errors|ports|latency|features|trace`, or any control
    /// command (with --socket), printed as the router answers it.
    #[arg(required = true, num_args = 1..)]
    pub command: Vec<String>,
}

/// Where the router is.
enum Source {
    Socket(PathBuf),
    Http(String),
}

impl Source {
    fn ask(&self, line: &str) -> Result<String, String> {
        match self {
            Source::Socket(p) => {
                let s = UnixStream::connect(p).map_err(|e| format!("{}: {e}", p.display()))?;
                s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
                (&s).write_all(format!("{line}\n").as_bytes()).map_err(|e| e.to_string())?;
                let mut reply = String::new();
                BufReader::new(&s).read_line(&mut reply).map_err(|e| format!("{}: {e}", p.display()))?;
                if reply.is_empty() {
                    return Err(format!("{}: the router closed the connection", p.display()));
                }
                Ok(reply.trim_end().to_string())
            }
            Source::Http(addr) => {
                if line != "stats" {
                    return Err(format!("\"{line}\" needs the control socket (--socket)"));
                }
                let mut s = TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
                s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
                write!(s, "GET /stats.json HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .map_err(|e| e.to_string())?;
                let mut resp = String::new();
                s.read_to_string(&mut resp).map_err(|e| format!("{addr}: {e}"))?;
                let (head, body) = resp.split_once("\r\n\r\n").ok_or(format!("{addr}: not an HTTP answer"))?;
                if !head.lines().next().is_some_and(|l| l.contains(" 200")) {
                    return Err(format!("{addr}: {}", head.lines().next().unwrap_or("")));
                }
                Ok(body.trim_end().to_string())
            }
        }
    }

    fn json(&self, line: &str) -> Result<Value, String> {
        let reply = self.ask(line)?;
        if let Some(e) = reply.strip_prefix("error: ") {
            return Err(e.to_string());
        }
        serde_json::from_str(&reply).map_err(|e| format!("the router's answer is not JSON: {e}"))
    }
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn nodes(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// `show runtime`: per worker, VPP's columns, plus cycles per call.
pub fn runtime(stats: &Value) -> String {
    let mut o = format!("Time {:.1} s\n", stats["elapsed_s"].as_f64().unwrap_or(0.0));
    for l in nodes(&stats["per_lcore"]) {
        let rx: Vec<String> = nodes(&l["rx"]).iter().map(|q| format!("({},{})", u(&q[0]), u(&q[1]))).collect();
        o += &format!("Thread lcore {} (CPU {}): rx queues {}\n", u(&l["lcore"]), u(&l["cpu"]), rx.join(" "));
        o += &format!(
            "{:<24} {:>14} {:>16} {:>12} {:>12} {:>10} {:>10}\n",
            "Name", "Calls", "Vectors", "Clocks", "Vectors/Call", "p50 clk", "p99 clk"
        );
        for n in nodes(&l["nodes"]).iter().filter(|n| u(&n["calls"]) > 0) {
            let (calls, objs, cycles) = (u(&n["calls"]), u(&n["objs"]), u(&n["cycles"]));
            o += &format!(
                "{:<24} {:>14} {:>16} {:>12.2e} {:>12.2} {:>10} {:>10}\n",
                n["name"].as_str().unwrap_or("?"),
                calls,
                objs,
                if objs > 0 { cycles as f64 / objs as f64 } else { cycles as f64 / calls.max(1) as f64 },
                objs as f64 / calls.max(1) as f64,
                u(&n["latency"]["p50"]),
                u(&n["latency"]["p99"]),
            );
        }
    }
    o
}

/// `show errors`: every non-zero drop reason, VPP's layout.
pub fn errors(stats: &Value) -> String {
    let mut o = format!("{:>12} {:<24} {}\n", "Count", "Node", "Reason");
    for n in nodes(&stats["nodes"]) {
        for (reason, v) in n["counters"].as_object().into_iter().flatten() {
            if u(v) > 0 {
                o += &format!("{:>12} {:<24} {reason}\n", u(v), n["name"].as_str().unwrap_or("?"));
            }
        }
    }
    for p in nodes(&stats["ports"]).iter().filter(|p| u(&p["tx_errors"]) > 0) {
        o += &format!("{:>12} {:<24} tx_errors\n", u(&p["tx_errors"]), format!("port {}", u(&p["id"])));
    }
    o
}

/// `show ports`: every port counter.
pub fn ports(stats: &Value) -> String {
    const F: [&str; 8] =
        ["rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "rx_missed", "rx_nombuf", "rx_errors", "tx_errors"];
    let mut o = format!("{:<6}", "Port");
    for f in F {
        o += &format!(" {f:>14}");
    }
    o.push('\n');
    for p in nodes(&stats["ports"]) {
        o += &format!("{:<6}", u(&p["id"]));
        for f in F {
            o += &format!(" {:>14}", u(&p[f]));
        }
        o.push('\n');
    }
    o
}

/// `show latency`: cycles per call, per node over the workers.
pub fn latency(stats: &Value) -> String {
    let mut o = format!("{:<24} {:>14} {:>10} {:>10} {:>10} {:>12}\n", "Node", "Calls", "p50", "p90", "p99", "max");
    for n in nodes(&stats["nodes"]).iter().filter(|n| u(&n["latency"]["calls"]) > 0) {
        let l = &n["latency"];
        o += &format!(
            "{:<24} {:>14} {:>10} {:>10} {:>10} {:>12}\n",
            n["name"].as_str().unwrap_or("?"),
            u(&l["calls"]),
            u(&l["p50"]),
            u(&l["p90"]),
            u(&l["p99"]),
            u(&l["max"])
        );
    }
    o
}

/// `show features`: the arcs, their features and where each is on.
pub fn features(v: &Value) -> String {
    let mut o = String::new();
    for a in nodes(&v["arcs"]) {
        o += &format!(
            "arc {} ({} -> {})\n",
            a["name"].as_str().unwrap_or("?"),
            a["start"].as_str().unwrap_or("?"),
            a["end"].as_str().unwrap_or("?")
        );
        for f in nodes(&a["features"]) {
            let on: Vec<String> = nodes(&f["enabled_on"]).iter().map(|p| u(p).to_string()).collect();
            o += &format!(
                "  {:<22} ports [{}]  objs {}  drops {}\n",
                f["name"].as_str().unwrap_or("?"),
                on.join(" "),
                u(&f["objs"]),
                f["counters"].as_object().map_or(0, |c| c.values().map(u).sum::<u64>())
            );
        }
    }
    o
}

/// Runs l3fwdctl with `args` (args[0] the program name); prints to
/// stdout, errors to stderr; exit 0, or 1 on any failure.
pub fn main_with_args(args: Vec<String>) -> ExitCode {
    let a = match Args::try_parse_from(&args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let src = match (a.socket, a.http) {
        (Some(p), None) => Source::Socket(p),
        (None, Some(h)) => Source::Http(h),
        _ => {
            crate::run::warn("l3fwdctl: give the router's --socket PATH or --http ADDR:PORT");
            return ExitCode::from(2);
        }
    };
    let words: Vec<&str> = a.command.iter().map(String::as_str).collect();
    let text = match words.as_slice() {
        ["show", "runtime"] => src.json("stats").map(|v| runtime(&v)),
        ["show", "errors"] => src.json("stats").map(|v| errors(&v)),
        ["show", "ports"] => src.json("stats").map(|v| ports(&v)),
        ["show", "latency"] => src.json("stats").map(|v| latency(&v)),
        ["show", "features"] => src.json("features").map(|v| features(&v)),
        ["show", "trace"] => src.json("trace show").map(|v| crate::trace_text(&v)),
        ["show", other] => Err(format!("show {other}: expected runtime, errors, ports, latency, features or trace")),
        _ => src.ask(&a.command.join(" ")).and_then(|r| match r.strip_prefix("error: ") {
            Some(e) => Err(e.to_string()),
            None => Ok(r + "\n"),
        }),
    };
    match text {
        Ok(t) => {
            crate::run::out(&t);
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::run::warn(&format!("l3fwdctl: {e}"));
            ExitCode::from(1)
        }
    }
}
