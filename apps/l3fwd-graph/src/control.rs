//! Tasks on the worker lcores (graph_lcore::task): the control socket,
//! statistics as JSON lines, packet capture, and the synthetic load used to
//! measure what tasks cost the forwarding.
//!
//! Control protocol: one command per line on a Unix stream socket, one
//! line back (`ok ...` or `error: ...`):
//!
//! ```text
//! route add 10.0.0.0/8 port 1      # next hop: port 1's neighbour
//! route add 10.0.0.0/8 via 100     # next hop 100 (see neigh)
//! route del 10.0.0.0/8
//! neigh add 100 1 52:54:00:00:01:00  # next hop 100 leaves port 1 to that MAC
//! neigh del 100
//! stats                            # one JSON object
//! capture ip4_lookup 100 /tmp/c.pcap  # the next 100 packets that node sees
//! capture stop ip4_lookup          # end it now: the file gets what came so far
//! help
//! ```
//!
//! Routes and next hops change while the workers forward: each LPM entry
//! and the next-hop table are replaced atomically, so every packet sees a
//! table from before or after a change, never a half-written one.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graph_lcore::task::{self, Receiver, Sender};
use graph_nodes::eth_config::StockEnv;
use graph_nodes::ip4_lookup::{Fib, Ip4LookupNext};
use graph_nodes::pkt::Pkt;
use graph_nodes::port::pcap::CapturedFrame;
use graph_nodes::wire::Ipv4Prefix;
use graph_nodes::Mempool;

use crate::report::{Report, StatsSource};

/// A command for one lcore's own tasks.
pub enum LcoreCmd {
    /// Copy packets seen by `node` (`*`: every node but the sources) to
    /// `to` until `remaining` reaches 0, for capture `id` (replacing any
    /// tap at that node); frames are labelled with the graph of `lcore`.
    Tap {
        node: String,
        lcore: u32,
        id: u64,
        remaining: Arc<AtomicUsize>,
        bytes_left: Arc<AtomicUsize>,
        to: Sender<CapturedFrame>,
    },
    /// Stop copying at `node` if capture `id` still holds its tap.
    Untap { node: String, id: u64 },
    /// Trace the next packets entering `node` that pass `filter` until
    /// `remaining` reaches 0; records go to the shared trace buffer,
    /// labelled `lcore`.
    Trace { node: String, lcore: u32, remaining: Arc<AtomicUsize>, filter: TraceFilter },
    /// Stop tracing.
    Untrace,
    /// Replace the lcore's graph with this one (a live change), between
    /// two walks.
    Replace { graph: Box<graph_core::Graph> },
}

/// Live graph changes so far: how many, and the longest and last pause
/// of an lcore's forwarding (the old graph's destruction, which flushes
/// its tx queues, and the swap).
#[derive(Debug, Clone, Copy, Default)]
pub struct Switches {
    pub count: u64,
    pub max: Duration,
    pub last: Duration,
}

/// What a live change needs: the graph factory and each lcore's queues.
struct Live {
    factory: crate::run::GraphFactory,
    rx: Vec<Vec<(u16, u16)>>,
}

/// Most packets one `trace add` may trace, and records kept.
pub const MAX_TRACE: usize = 10_000;

/// Which packets a trace marks (every given field must match).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceFilter {
    src: Option<(u32, u32)>,
    dst: Option<(u32, u32)>,
    proto: Option<u8>,
    sport: Option<u16>,
    dport: Option<u16>,
}

impl TraceFilter {
    /// Parses `src P/L`, `dst P/L`, `proto tcp|udp|icmp|N`, `sport N`,
    /// `dport N`, in any order.
    pub fn parse(words: &[&str]) -> Result<TraceFilter, String> {
        let mut f = TraceFilter::default();
        let mut it = words.iter();
        while let Some(k) = it.next() {
            let v = it.next().ok_or_else(|| format!("trace filter: \"{k}\" needs a value"))?;
            let net = |v: &str| -> Result<(u32, u32), String> {
                let p: Ipv4Prefix = v.parse().map_err(|e: graph_nodes::wire::PrefixError| e.to_string())?;
                Ok((p.network(), p.mask()))
            };
            let port = |v: &str| v.parse::<u16>().map_err(|_| format!("trace filter: {k} \"{v}\" is not a port"));
            match *k {
                "src" => f.src = Some(net(v)?),
                "dst" => f.dst = Some(net(v)?),
                "proto" => {
                    f.proto = Some(match *v {
                        "tcp" => 6,
                        "udp" => 17,
                        "icmp" => 1,
                        n => {
                            n.parse().map_err(|_| format!("trace filter: proto \"{n}\": tcp, udp, icmp or a number"))?
                        }
                    })
                }
                "sport" => f.sport = Some(port(v)?),
                "dport" => f.dport = Some(port(v)?),
                other => return Err(format!("trace filter: unknown key \"{other}\" (src, dst, proto, sport, dport)")),
            }
        }
        Ok(f)
    }

    /// Whether `p` passes. A filter on addresses, protocol or ports only
    /// passes IPv4 packets (ports: TCP and UDP first fragments).
    pub fn matches(&self, p: &Pkt) -> bool {
        use graph_nodes::wire::{EthernetFrame, Ipv4Packet};
        if *self == TraceFilter::default() {
            return true;
        }
        let Ok(eth) = EthernetFrame::new_checked(p.data()) else { return false };
        let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else { return false };
        let net = |f: Option<(u32, u32)>, a: u32| f.is_none_or(|(n, m)| a & m == n);
        if !net(self.src, ip.src_addr())
            || !net(self.dst, ip.dst_addr())
            || self.proto.is_some_and(|x| x != ip.protocol())
        {
            return false;
        }
        if self.sport.is_none() && self.dport.is_none() {
            return true;
        }
        let l4 = ip.payload();
        if !matches!(ip.protocol(), 6 | 17) || ip.frag_offset() != 0 || l4.len() < 4 {
            return false;
        }
        self.sport.is_none_or(|x| x == u16::from_be_bytes([l4[0], l4[1]]))
            && self.dport.is_none_or(|x| x == u16::from_be_bytes([l4[2], l4[3]]))
    }
}

/// A trace's records as text, VPP's `show trace` layout: each packet's
/// path, one node a line (`node -> next: what the node shows`).
pub fn trace_text(v: &serde_json::Value) -> String {
    let mut o = String::new();
    let empty = Vec::new();
    for (i, p) in v["packets"].as_array().unwrap_or(&empty).iter().enumerate() {
        o += &format!("Packet {} (lcore {})\n", i + 1, p["lcore"]);
        for (k, s) in p["steps"].as_array().unwrap_or(&empty).iter().enumerate() {
            let node = s["node"].as_str().unwrap_or("?");
            let to = match s["edge"].as_str() {
                Some(e) => format!("-> {e}"),
                None => "(end)".to_string(),
            };
            let info = s["info"].as_str().map(|i| format!(": {i}")).unwrap_or_default();
            let drops = match s["drops"].as_object() {
                Some(d) if !d.is_empty() && s["edge"] == "pkt_drop" => {
                    let r: Vec<&str> = d.keys().map(String::as_str).collect();
                    format!(" [drop: {}]", r.join(", "))
                }
                _ => String::new(),
            };
            o += &format!("  {k:02} {node} {to}{info}{drops}\n");
        }
    }
    if o.is_empty() {
        o = "No packets in trace buffer\n".into();
    }
    o
}

/// What the control tasks share: the lcores' command queues and the
/// router's tables (ports, FIB, next hops: the ones its graphs were given).
pub struct Shared {
    pub lcores: Vec<Sender<LcoreCmd>>,
    pub env: StockEnv,
    /// The router's packet pools (for `pool_in_use`).
    pub pools: Vec<Mempool>,
    /// Worker lcore ids, in the order of `lcores`.
    pub lcore_ids: Vec<u32>,
    pub start: Instant,
    /// Captures in progress: node → (capture id, file).
    captures: Mutex<HashMap<String, (u64, String)>>,
    /// Traced packets' paths, with the lcore that traced them.
    traces: Arc<Mutex<Vec<(u32, graph_core::TraceRecord)>>>,
    /// Live changes (run to completion only).
    live: Mutex<Option<Live>>,
    switches: Arc<Mutex<Switches>>,
    /// Outputs that failed while running (a capture file, the JSON
    /// lines), one line each: the run reports them and exits 1.
    failures: Mutex<Vec<String>>,
}

impl Shared {
    pub fn new(
        lcores: Vec<Sender<LcoreCmd>>,
        env: StockEnv,
        pools: Vec<Mempool>,
        lcore_ids: Vec<u32>,
        start: Instant,
    ) -> Shared {
        Shared {
            lcores,
            env,
            pools,
            lcore_ids,
            start,
            captures: Mutex::new(HashMap::new()),
            traces: Arc::default(),
            live: Mutex::new(None),
            switches: Arc::default(),
            failures: Mutex::new(Vec::new()),
        }
    }

    /// Allows live changes: graphs are rebuilt by `factory`; `rx` is each
    /// lcore's queues now.
    pub fn set_live(&mut self, factory: crate::run::GraphFactory, rx: Vec<Vec<(u16, u16)>>) {
        *self.live.get_mut().unwrap_or_else(|e| e.into_inner()) = Some(Live { factory, rx });
    }

    /// Live changes so far.
    pub fn switches(&self) -> Switches {
        *self.switches.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an output failure (also printed at once).
    pub fn fail(&self, what: String) {
        crate::run::warn(&format!("l3fwd-graph: {what}"));
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).push(what);
    }

    /// The output failures so far.
    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn captures(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, String)>> {
        self.captures.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn traces(&self) -> std::sync::MutexGuard<'_, Vec<(u32, graph_core::TraceRecord)>> {
        self.traces.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn untap(&self, node: &str, id: u64) {
        for l in &self.lcores {
            l.send(LcoreCmd::Untap { node: node.to_string(), id });
        }
    }
}

/// What one lcore's tasks need, handed to its worker thread.
pub struct LcoreTasks {
    pub cmds: Receiver<LcoreCmd>,
    pub shared: Arc<Shared>,
    /// The control socket, bound before any thread started (first lcore).
    pub listener: Option<(UnixListener, StatsSource)>,
    /// Statistics as JSON lines: file, interval (first lcore).
    pub jsonl: Option<(PathBuf, f64, StatsSource)>,
    /// Busy tasks for measurement.
    pub load: bool,
    /// Route churn for measurement (first lcore).
    pub load_routes: bool,
    /// --pcap-enable: the capture's writer (first lcore; the taps were
    /// requested before the workers started).
    pub pcap: Option<CaptureStart>,
    /// The dispatch set the lcore's graph belongs to (mcore dispatch
    /// model), for the drain at the end.
    pub dispatch: Option<graph_core::Dispatch>,
}

impl LcoreTasks {
    /// Spawns the tasks on this thread's executor.
    pub fn spawn(self) {
        task::spawn_local(lcore_commands(self.cmds, self.shared.traces.clone(), self.shared.switches.clone()));
        if let Some((l, s)) = self.listener {
            task::spawn_local(control_socket(l, self.shared.clone(), s));
        }
        if let Some((path, secs, s)) = self.jsonl {
            task::spawn_local(stats_lines(path, secs, s, self.shared.clone()));
        }
        if self.load {
            task::spawn_local(load_timer());
            task::spawn_local(load_writer());
        }
        if self.load_routes {
            task::spawn_local(load_routes(self.shared.env.fib.clone()));
        }
        if let Some(c) = self.pcap {
            task::spawn_local(capture_writer(c.rx, c.cap, self.shared.clone()));
        }
    }
}

/// The file the measurement load writes to.
pub fn load_file() -> PathBuf {
    std::env::temp_dir().join(format!("l3fwd-task-load-{}.log", std::process::id()))
}

async fn lcore_commands(
    mut cmds: Receiver<LcoreCmd>,
    traces: Arc<Mutex<Vec<(u32, graph_core::TraceRecord)>>>,
    switches: Arc<Mutex<Switches>>,
) {
    // Which capture holds the tap at each node of this lcore's graph.
    let mut taps: HashMap<String, u64> = HashMap::new();
    while let Some(cmd) = cmds.recv().await {
        match cmd {
            LcoreCmd::Tap { node, lcore, id, remaining, bytes_left, to } => {
                let tap_at = |name: &str| {
                    let (remaining, bytes_left, to) = (remaining.clone(), bytes_left.clone(), to.clone());
                    let comment = format!("worker_{lcore}: {name}");
                    move |pkts: &[Pkt]| {
                        for m in pkts {
                            let len = m.data().len();
                            // Claim the bytes, then a slot; stop once either
                            // runs out (the writer then ends the capture).
                            if bytes_left
                                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(len))
                                .is_err()
                            {
                                // Out of bytes: no more slots, and an empty
                                // frame tells the writer to end now.
                                if remaining.swap(0, Ordering::Relaxed) > 0 {
                                    to.send(CapturedFrame {
                                        port: 0,
                                        time: Duration::ZERO,
                                        comment: String::new(),
                                        data: Vec::new(),
                                    });
                                }
                                return;
                            }
                            if remaining
                                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| r.checked_sub(1))
                                .is_err()
                            {
                                return;
                            }
                            let time =
                                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                            to.send(CapturedFrame {
                                port: m.port(),
                                time,
                                comment: comment.clone(),
                                data: m.data().to_vec(),
                            });
                        }
                    }
                };
                let names: Vec<String> = if node == "*" {
                    task::with_graph(|g| {
                        let src: Vec<String> = g.source_names().iter().map(|s| s.to_string()).collect();
                        g.node_names().into_iter().filter(|n| !src.iter().any(|s| s == n)).map(String::from).collect()
                    })
                    .unwrap_or_default()
                } else {
                    vec![node]
                };
                for n in names {
                    // Every node of a router graph carries packets; a node
                    // of another object type is refused and gets no tap.
                    let tap = tap_at(&n);
                    let _ = task::with_graph(|g| g.set_tap(&n, tap));
                    taps.insert(n, id);
                }
            }
            // A later capture at the same node keeps its tap.
            LcoreCmd::Untap { node, id } if node == "*" => {
                let mine: Vec<String> = taps.iter().filter(|(_, &i)| i == id).map(|(n, _)| n.clone()).collect();
                for n in mine {
                    task::with_graph(|g| g.clear_tap(&n));
                    taps.remove(&n);
                }
            }
            LcoreCmd::Untap { node, id } if taps.get(&node) == Some(&id) => {
                task::with_graph(|g| g.clear_tap(&node));
                taps.remove(&node);
            }
            LcoreCmd::Untap { .. } => {}
            LcoreCmd::Trace { node, lcore, remaining, filter } => {
                let traces = traces.clone();
                let sink = move |r| {
                    let mut t = traces.lock().unwrap_or_else(|e| e.into_inner());
                    if t.len() < MAX_TRACE {
                        t.push((lcore, r));
                    }
                };
                // The node was checked by the control task; a graph
                // without it (no such node on this lcore) traces nothing.
                let _ = task::with_graph(|g| {
                    g.trace_start::<Pkt, _, _>(&node, remaining, move |p| filter.matches(p), sink)
                });
            }
            LcoreCmd::Untrace => {
                task::with_graph(|g| g.trace_stop());
            }
            LcoreCmd::Replace { graph } => {
                // Between two walks: every packet of the old graph has left
                // it (run to completion); dropping it flushes its tx queues
                // and gives its queues back, which the new graph takes at
                // its first walk.
                let t = Instant::now();
                task::with_graph(move |g| drop(std::mem::replace(g, *graph)));
                let pause = t.elapsed();
                let mut s = switches.lock().unwrap_or_else(|e| e.into_inner());
                s.count += 1;
                s.max = s.max.max(pause);
                s.last = pause;
                // Taps and traces belonged to the old graph.
                taps.clear();
            }
        }
    }
}

fn parse_prefix(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let p: Ipv4Prefix = s.parse().map_err(|e: graph_nodes::wire::PrefixError| e.to_string())?;
    Ok((p.ip(), p.len))
}

/// The statistics so far, in the `--stats-json` schema.
fn stats_report(stats: &mut StatsSource, shared: &Shared) -> Report {
    let ports: Vec<_> = shared.env.ports.list().into_iter().filter_map(|id| shared.env.ports.get(id).ok()).collect();
    Report::collect(shared.start.elapsed().as_secs_f64(), &ports, stats, None, &shared.pools)
}

/// Every feature arc as one JSON line: its features in order, the ports
/// each is on, and each feature node's counters summed over the workers.
fn features_report(stats: &mut StatsSource, shared: &Shared) -> String {
    let report = stats_report(stats, shared);
    let arcs: Vec<serde_json::Value> = shared
        .env
        .features
        .status()
        .into_iter()
        .map(|a| {
            let features: Vec<serde_json::Value> = a
                .features
                .into_iter()
                .map(|f| {
                    let n = report.nodes.iter().find(|n| n.name == f.name);
                    serde_json::json!({
                        "name": f.name,
                        "enabled_on": f.enabled_on,
                        "objs": n.map_or(0, |n| n.objs),
                        "counters": n.map(|n| n.counters.clone()).unwrap_or_default(),
                        "observations": n.map(|n| n.observations.clone()).unwrap_or_default(),
                    })
                })
                .collect();
            serde_json::json!({ "name": a.name, "start": a.start, "end": a.end, "features": features })
        })
        .collect();
    serde_json::json!({ "arcs": arcs }).to_string()
}

/// A live change: `change` edits the lcores' queue lists and names the
/// lcores (by index) whose graphs to rebuild; the new graphs are built
/// here, beside the running ones, and each lcore swaps at its next walk
/// boundary. Nothing changes if a graph cannot be built.
fn live_change(
    shared: &Shared,
    change: impl FnOnce(&mut Vec<Vec<(u16, u16)>>, &[u32]) -> Result<Vec<usize>, String>,
) -> Result<usize, String> {
    static GENERATION: AtomicU64 = AtomicU64::new(1);
    let mut live = shared.live.lock().unwrap_or_else(|e| e.into_inner());
    let Some(live) = live.as_mut() else {
        return Err("live changes need the run-to-completion model".into());
    };
    let mut rx = live.rx.clone();
    let which = change(&mut rx, live.factory.lcores())?;
    let mut graphs = Vec::new();
    for &i in &which {
        let g = GENERATION.fetch_add(1, Ordering::Relaxed);
        graphs.push((i, live.factory.build(i, &rx[i], Some(g))?));
    }
    live.rx = rx;
    let n = graphs.len();
    for (i, graph) in graphs {
        shared.lcores[i].send(LcoreCmd::Replace { graph: Box::new(graph) });
    }
    Ok(n)
}

/// Most bytes of frames one capture holds before it is written.
pub const CAPTURE_MAX_BYTES: usize = 64 << 20;

const HELP: &str = "ok commands: route add P/L port N | route add P/L via NH|ADDR | route del P/L | \
                    neigh add NH PORT MAC | neigh del NH | neigh show | addr | addr add|del PORT A/L | stats | capture NODE COUNT FILE | \
                    capture stop NODE | features | feature enable|disable ARC NODE PORT | \
                    trace add NODE COUNT [src P/L] [dst P/L] [proto P] [sport N] [dport N] | trace show | trace clear | \
                    rx move PORT QUEUE LCORE | rx add PORT QUEUE LCORE | rx del PORT QUEUE | graph rebuild LCORE | switches";

/// Handles one command line; the reply line.
fn command(line: &str, stats: &mut StatsSource, shared: &Arc<Shared>) -> String {
    let reply = match run_command(line, stats, shared) {
        Ok(s) => s,
        Err(e) => format!("error: {e}"),
    };
    printable(&reply)
}

/// A reply with control characters (echoed from a client's line) escaped,
/// so one reply stays one printable line on the client's terminal.
fn printable(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

fn run_command(line: &str, stats: &mut StatsSource, shared: &Arc<Shared>) -> Result<String, String> {
    let w: Vec<&str> = line.split_whitespace().collect();
    match w.as_slice() {
        ["route", "add", pfx, "via", gw] if pfx.contains(':') => {
            let a: graph_nodes::wire::Ipv6Prefix = pfx.parse().map_err(|e| format!("{e}"))?;
            let gw: std::net::Ipv6Addr = gw.parse().map_err(|_| format!("gateway \"{gw}\" is not an IPv6 address"))?;
            let nh = shared.env.l3().gateway(gw.into()).map_err(|e| e.to_string())?;
            shared
                .env
                .fib6
                .route_add(
                    std::net::Ipv6Addr::from(a.network()),
                    a.len,
                    nh,
                    graph_nodes::ip6_lookup::Ip6LookupNext::Rewrite,
                )
                .map_err(|e| e.to_string())?;
            Ok(format!("ok route {a} -> gateway {gw} (next hop {nh})"))
        }
        ["route", "del", pfx] if pfx.contains(':') => {
            let a: graph_nodes::wire::Ipv6Prefix = pfx.parse().map_err(|e| format!("{e}"))?;
            shared.env.fib6.route_delete(a.ip(), a.len).map_err(|e| e.to_string())?;
            Ok(format!("ok deleted {a}"))
        }
        ["route", "add", pfx, "port", p] => {
            let (a, l) = parse_prefix(pfx)?;
            let p: u16 = p.parse().map_err(|_| format!("port \"{p}\" is not a number"))?;
            if shared.env.ports.get(p).is_err() {
                return Err(format!("port {p} is not configured"));
            }
            shared.env.fib.route_add(a, l, p, Ip4LookupNext::Rewrite).map_err(|e| e.to_string())?;
            Ok(format!("ok route {a}/{l} -> port {p}"))
        }
        ["route", "add", pfx, "via", gw] if gw.contains('.') => {
            let (a, l) = parse_prefix(pfx)?;
            let gw: std::net::Ipv4Addr = gw.parse().map_err(|_| format!("gateway \"{gw}\" is not an IPv4 address"))?;
            let nh = shared.env.l3().gateway(gw.into()).map_err(|e| e.to_string())?;
            shared.env.fib.route_add(a, l, nh, Ip4LookupNext::Rewrite).map_err(|e| e.to_string())?;
            Ok(format!("ok route {a}/{l} -> gateway {gw} (next hop {nh})"))
        }
        ["route", "add", pfx, "via", nh] => {
            let (a, l) = parse_prefix(pfx)?;
            let nh: u16 = nh.parse().map_err(|_| format!("next hop \"{nh}\" is not a number"))?;
            if shared.env.next_hops.get(nh).is_none() {
                return Err(format!("no next hop {nh} (add it with neigh add)"));
            }
            shared.env.fib.route_add(a, l, nh, Ip4LookupNext::Rewrite).map_err(|e| e.to_string())?;
            Ok(format!("ok route {a}/{l} -> next hop {nh}"))
        }
        ["route", "del", pfx] => {
            let (a, l) = parse_prefix(pfx)?;
            shared.env.fib.route_delete(a, l).map_err(|e| e.to_string())?;
            Ok(format!("ok deleted {a}/{l}"))
        }
        ["neigh", "add", nh, p, mac] => {
            let nh: u16 = nh.parse().map_err(|_| format!("next hop \"{nh}\" is not a number"))?;
            let p: u16 = p.parse().map_err(|_| format!("port \"{p}\" is not a number"))?;
            let mac = graph_nodes::wire::parse_mac(mac).ok_or_else(|| format!("\"{mac}\" is not a MAC address"))?;
            let port = shared.env.ports.get(p).map_err(|e| e.to_string())?;
            shared.env.next_hops.add_port(nh, mac, &port).map_err(|e| e.to_string())?;
            Ok(format!("ok next hop {nh} -> port {p}"))
        }
        ["neigh", "del", nh] => {
            let nh: u16 = nh.parse().map_err(|_| format!("next hop \"{nh}\" is not a number"))?;
            if !shared.env.next_hops.delete(nh) {
                return Err(format!("no next hop {nh}"));
            }
            Ok(format!("ok deleted next hop {nh}"))
        }
        ["addr", op @ ("add" | "del"), p, pfx] => {
            let p: u16 = p.parse().map_err(|_| format!("port \"{p}\" is not a number"))?;
            if !pfx.contains('/') {
                return Err(format!(
                    "{pfx}: give the prefix length ({pfx}/{})",
                    if pfx.contains(':') { 64 } else { 24 }
                ));
            }
            let l3 = shared.env.l3();
            let add = *op == "add";
            if pfx.contains(':') {
                let a: graph_nodes::wire::Ipv6Prefix = pfx.parse().map_err(|e| format!("{e}"))?;
                if add { l3.addr_add6(p, a) } else { l3.addr_del6(p, a) }.map_err(|e| e.to_string())?;
            } else {
                let a: graph_nodes::wire::Ipv4Prefix = pfx.parse().map_err(|e| format!("{e}"))?;
                if add { l3.addr_add(p, a) } else { l3.addr_del(p, a) }.map_err(|e| e.to_string())?;
            }
            Ok(format!("ok port {p} addr {pfx}{}", if add { "" } else { " deleted" }))
        }
        ["addr"] => {
            let list: Vec<serde_json::Value> = shared
                .env
                .ifaces
                .list()
                .into_iter()
                .map(|(p, i)| serde_json::json!({ "port": p, "iface": i }))
                .collect();
            Ok(serde_json::Value::from(list).to_string())
        }
        ["neigh", "show"] => Ok(serde_json::to_string(&shared.env.neigh.list()).expect("serialises")),
        ["stats"] => Ok(stats_report(stats, shared).to_json_line()),
        ["capture", node, count, file] => {
            let count: usize =
                count.parse().ok().filter(|c| (1..=1_000_000).contains(c)).ok_or("count must be 1..=1000000")?;
            if *node != "*" && !stats.node_names().any(|n| n == *node) {
                let known: Vec<&str> = stats.node_names().collect();
                return Err(format!("no node \"{node}\" (nodes: {}, or * for all)", known.join(", ")));
            }
            // A tap sees a node's stream before the node runs; a source's
            // is empty (it makes its packets), so it would capture nothing.
            if let Some(s) =
                graph_core::node_list().unwrap_or_default().into_iter().find(|s| s.name == *node && s.source)
            {
                let next = s.edges.first().map_or("the node after it", String::as_str);
                return Err(format!(
                    "{node} is a source node: it receives packets, a tap sees none; capture at {next} to see what it received"
                ));
            }
            crate::config::check_output("capture", std::path::Path::new(file)).map_err(|e| e.to_string())?;
            start_capture(shared, node, count, file, false)
        }
        ["capture", "stop", node] => {
            let Some((id, file)) = shared.captures().remove(*node) else {
                return Err(format!("no capture in progress at {node}"));
            };
            shared.untap(node, id);
            Ok(format!("ok capture at {node} stopped; {file} gets the packets seen so far"))
        }
        ["features"] => Ok(features_report(stats, shared)),
        ["rx", "move", p, q, to] => {
            let num = |s: &str, what: &str| s.parse::<u32>().map_err(|_| format!("{what} \"{s}\" is not a number"));
            let (p, q, to) = (num(p, "port")? as u16, num(q, "queue")? as u16, num(to, "lcore")?);
            live_change(shared, |rx, lcores| {
                let Some(from) = rx.iter().position(|l| l.contains(&(p, q))) else {
                    return Err(format!("no lcore polls rx ({p}, {q})"));
                };
                let Some(dest) = lcores.iter().position(|&l| l == to) else {
                    return Err(format!("lcore {to} is not a worker (workers: {lcores:?})"));
                };
                if from == dest {
                    return Ok(vec![]);
                }
                if rx[from].len() == 1 {
                    return Err(format!("lcore {} would poll nothing", lcores[from]));
                }
                rx[from].retain(|x| *x != (p, q));
                rx[dest].push((p, q));
                Ok(vec![from, dest])
            })
            .map(|n| format!("ok rx ({p}, {q}) on lcore {to}; {n} graph(s) replaced"))
        }
        ["rx", op @ ("add" | "del"), p, q, rest @ ..] => {
            let num = |s: &str, what: &str| s.parse::<u32>().map_err(|_| format!("{what} \"{s}\" is not a number"));
            let (p, q) = (num(p, "port")? as u16, num(q, "queue")? as u16);
            let add = *op == "add";
            let to = match (add, rest) {
                (true, [l]) => Some(num(l, "lcore")?),
                (false, []) => None,
                _ => return Err("usage: rx add PORT QUEUE LCORE | rx del PORT QUEUE".into()),
            };
            let port = shared.env.ports.get(p).map_err(|e| e.to_string())?;
            if q >= port.nb_rxq() {
                return Err(format!("port {p} has {} rx queue(s)", port.nb_rxq()));
            }
            live_change(shared, |rx, lcores| {
                let owner = rx.iter().position(|l| l.contains(&(p, q)));
                match (owner, to) {
                    (Some(o), Some(_)) => {
                        Err(format!("rx ({p}, {q}) is polled by lcore {} (rx move moves it)", lcores[o]))
                    }
                    (None, Some(to)) => {
                        let Some(dest) = lcores.iter().position(|&l| l == to) else {
                            return Err(format!("lcore {to} is not a worker (workers: {lcores:?})"));
                        };
                        rx[dest].push((p, q));
                        Ok(vec![dest])
                    }
                    (None, None) => Err(format!("no lcore polls rx ({p}, {q})")),
                    (Some(o), None) => {
                        if rx[o].len() == 1 {
                            return Err(format!("lcore {} would poll nothing", lcores[o]));
                        }
                        rx[o].retain(|x| *x != (p, q));
                        Ok(vec![o])
                    }
                }
            })
            .map(|n| {
                format!("ok rx ({p}, {q}) {}; {n} graph(s) replaced", if add { "polled" } else { "no longer polled" })
            })
        }
        ["graph", "rebuild", l] => {
            let l: u32 = l.parse().map_err(|_| format!("lcore \"{l}\" is not a number"))?;
            live_change(shared, |_, lcores| match lcores.iter().position(|&x| x == l) {
                Some(i) => Ok(vec![i]),
                None => Err(format!("lcore {l} is not a worker (workers: {lcores:?})")),
            })
            .map(|n| format!("ok {n} graph(s) replaced"))
        }
        ["switches"] => {
            let s = shared.switches();
            Ok(serde_json::json!({
                "count": s.count,
                "max_pause_us": s.max.as_micros() as u64,
                "last_pause_us": s.last.as_micros() as u64,
            })
            .to_string())
        }
        ["trace", "add", node, count, filter @ ..] => {
            let count: usize = count
                .parse()
                .ok()
                .filter(|c| (1..=MAX_TRACE).contains(c))
                .ok_or(format!("count must be 1..={MAX_TRACE}"))?;
            if !stats.node_names().any(|n| n == *node) {
                let known: Vec<&str> = stats.node_names().collect();
                return Err(format!("no node \"{node}\" (nodes: {})", known.join(", ")));
            }
            let filter = TraceFilter::parse(filter)?;
            let remaining = Arc::new(AtomicUsize::new(count));
            for (l, id) in shared.lcores.iter().zip(&shared.lcore_ids) {
                l.send(LcoreCmd::Trace {
                    node: node.to_string(),
                    lcore: *id,
                    remaining: remaining.clone(),
                    filter: filter.clone(),
                });
            }
            Ok(format!("ok tracing the next {count} packets entering {node}"))
        }
        ["trace", "show"] => {
            let packets: Vec<serde_json::Value> = shared
                .traces()
                .iter()
                .map(|(lcore, r)| {
                    let steps: Vec<serde_json::Value> = r
                        .steps
                        .iter()
                        .map(|s| {
                            let drops: serde_json::Map<String, serde_json::Value> =
                                s.drops.iter().map(|(k, v)| (k.clone(), (*v).into())).collect();
                            serde_json::json!({ "node": s.node, "edge": s.edge, "info": s.info, "drops": drops })
                        })
                        .collect();
                    serde_json::json!({ "lcore": lcore, "steps": steps })
                })
                .collect();
            Ok(serde_json::json!({ "packets": packets }).to_string())
        }
        ["trace", "clear"] => {
            for l in &shared.lcores {
                l.send(LcoreCmd::Untrace);
            }
            let n = std::mem::take(&mut *shared.traces()).len();
            Ok(format!("ok trace stopped, {n} packets cleared"))
        }
        ["feature", op @ ("enable" | "disable"), arc, node, p] => {
            let p: u16 = p.parse().map_err(|_| format!("port \"{p}\" is not a number"))?;
            if shared.env.ports.get(p).is_err() {
                return Err(format!("port {p} is not configured"));
            }
            let on = *op == "enable";
            let changed =
                if on { shared.env.features.enable(arc, node, p) } else { shared.env.features.disable(arc, node, p) }
                    .map_err(|e| e.to_string())?;
            let state = if on { "enabled" } else { "disabled" };
            let was = if changed { "" } else { " (it was already)" };
            Ok(format!("ok {node} {state} on {arc} port {p}{was}"))
        }
        ["help"] | [] => Ok(HELP.into()),
        _ => Err(format!("unknown command \"{}\" (try help)", line.trim())),
    }
}

/// Starts capture of `count` packets at `node` (`*`: every node) into
/// `file` (pcapng with each packet's node if it ends in `.pcapng`, else
/// pcap); the reply line.
pub fn start_capture(
    shared: &Arc<Shared>,
    node: &str,
    count: usize,
    file: &str,
    pcapng: bool,
) -> Result<String, String> {
    let (rx, cap, replaced) = begin_capture(shared, node, count, file, pcapng);
    task::spawn_local(capture_writer(rx, cap, shared.clone()));
    let also = match replaced {
        Some((_, f)) => format!(" (the capture into {f} ends with what it has)"),
        None => String::new(),
    };
    Ok(format!("ok capturing {count} packets at {node} into {file}{also}"))
}

/// A capture whose taps are requested and whose writer is yet to run
/// (see [`LcoreTasks::pcap`]).
pub struct CaptureStart {
    rx: Receiver<CapturedFrame>,
    cap: Capture,
}

/// Asks every lcore for the taps of a capture (usable before the workers
/// start: they take their commands before their first walk) and returns
/// what its writer needs.
pub fn prepare_capture(shared: &Arc<Shared>, node: &str, count: usize, file: &str, pcapng: bool) -> CaptureStart {
    let (rx, cap, _) = begin_capture(shared, node, count, file, pcapng);
    CaptureStart { rx, cap }
}

type Replaced = Option<(u64, String)>;

fn begin_capture(
    shared: &Arc<Shared>,
    node: &str,
    count: usize,
    file: &str,
    pcapng: bool,
) -> (Receiver<CapturedFrame>, Capture, Replaced) {
    let pcapng = pcapng || file.ends_with(".pcapng");
    static IDS: AtomicU64 = AtomicU64::new(1);
    let id = IDS.fetch_add(1, Ordering::Relaxed);
    let replaced = shared.captures().insert(node.to_string(), (id, file.to_string()));
    let (tx, rx) = task::channel::<CapturedFrame>();
    // Captured frames are held until the capture ends: bound them by bytes
    // as well as by count.
    let remaining = Arc::new(AtomicUsize::new(count));
    let bytes_left = Arc::new(AtomicUsize::new(CAPTURE_MAX_BYTES));
    for (l, lcore) in shared.lcores.iter().zip(&shared.lcore_ids) {
        l.send(LcoreCmd::Tap {
            node: node.to_string(),
            lcore: *lcore,
            id,
            remaining: remaining.clone(),
            bytes_left: bytes_left.clone(),
            to: tx.clone(),
        });
    }
    drop(tx);
    (rx, Capture { id, node: node.to_string(), path: PathBuf::from(file), count, pcapng }, replaced)
}

/// One capture: where and how much.
struct Capture {
    id: u64,
    node: String,
    path: PathBuf,
    count: usize,
    pcapng: bool,
}

/// Collects a capture's frames, then writes them off the lcore. Ends early
/// with what it has when every lcore dropped its tap (`capture stop`, or a
/// newer capture at the same node).
/// What a capture has so far; written when the capture ends, or, if the
/// router stops first (the task is dropped with its lcore's executor),
/// when it is dropped.
struct Pending {
    frames: Vec<CapturedFrame>,
    path: PathBuf,
    node: String,
    ports: Vec<u16>,
    pcapng: bool,
    shared: Arc<Shared>,
    written: bool,
}

impl Pending {
    fn write(&mut self) -> std::io::Result<()> {
        self.written = true;
        let frames = std::mem::take(&mut self.frames);
        write_capture(&self.path, &self.ports, &frames, self.pcapng)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.written {
            if let Err(e) = self.write() {
                self.shared.fail(format!("capture at {}: {e}", self.node));
            }
        }
    }
}

fn write_capture(path: &std::path::Path, ports: &[u16], frames: &[CapturedFrame], pcapng: bool) -> std::io::Result<()> {
    if pcapng {
        graph_nodes::port::pcap::write_pcapng(path, ports, frames)
    } else {
        graph_nodes::port::pcap::write_pcap(path, frames.iter().map(|f| f.data.as_slice()))
    }
}

async fn capture_writer(mut rx: Receiver<CapturedFrame>, cap: Capture, shared: Arc<Shared>) {
    let mut p = Pending {
        frames: Vec::with_capacity(cap.count.min(4096)),
        path: cap.path.clone(),
        node: cap.node.clone(),
        ports: shared.env.ports.list(),
        pcapng: cap.pcapng,
        shared: shared.clone(),
        written: false,
    };
    while p.frames.len() < cap.count {
        match rx.recv().await {
            // Empty: the byte bound was reached (frames are never empty).
            Some(f) if f.data.is_empty() => break,
            Some(f) => p.frames.push(f),
            None => break,
        }
    }
    shared.untap(&cap.node, cap.id);
    {
        let mut caps = shared.captures();
        if caps.get(&cap.node).is_some_and(|&(id, _)| id == cap.id) {
            caps.remove(&cap.node);
        }
    }
    p.written = true;
    let (path, ports, frames) = (p.path.clone(), p.ports.clone(), std::mem::take(&mut p.frames));
    let pcapng = p.pcapng;
    let r = task::blocking(move || write_capture(&path, &ports, &frames, pcapng)).await;
    if let Err(e) = r {
        shared.fail(format!("capture at {}: {e}", cap.node));
    }
}

/// Most control connections at once; one more is told so and closed.
pub const MAX_CONNS: usize = 64;
/// Replies held for a client before it reads them; past this the router
/// stops reading its commands (the client's writes then block) until it
/// reads.
pub const MAX_PENDING_OUT: usize = 64 << 10;
/// Longest command line.
pub const MAX_LINE: usize = 4096;

struct Conn {
    s: UnixStream,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    /// The client shut down its sending side: answer what it sent (a last
    /// line without a newline included), then close.
    eof: bool,
}

impl Conn {
    /// Runs the complete lines received, while the replies fit.
    fn run_lines(&mut self, stats: &mut StatsSource, shared: &Arc<Shared>) {
        while self.out.len() < MAX_PENDING_OUT {
            let line: Vec<u8> = match self.inbuf.iter().position(|&b| b == b'\n') {
                Some(nl) => self.inbuf.drain(..=nl).collect(),
                None if self.eof && !self.inbuf.is_empty() => std::mem::take(&mut self.inbuf),
                None => break,
            };
            let line = String::from_utf8_lossy(&line);
            let reply = command(line.trim_end(), stats, shared);
            self.out.extend_from_slice(reply.as_bytes());
            self.out.push(b'\n');
        }
    }

    /// Reads what the client sent, up to a line's worth beyond what is
    /// pending; `false` if the connection failed.
    fn read(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        while !self.eof && self.inbuf.len() <= MAX_LINE {
            match self.s.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.inbuf.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }
}

async fn control_socket(listener: UnixListener, shared: Arc<Shared>, mut stats: StatsSource) {
    use std::os::fd::AsRawFd;
    let mut conns: Vec<Conn> = Vec::new();
    let mut tick = task::interval(Duration::from_millis(5));
    let mut fds: Vec<libc::pollfd> = Vec::new();
    loop {
        tick.tick().await;
        while let Ok((mut s, _)) = listener.accept() {
            if conns.len() >= MAX_CONNS {
                let _ = s.write_all(format!("error: too many control connections (at most {MAX_CONNS})\n").as_bytes());
                continue;
            }
            if s.set_nonblocking(true).is_ok() {
                conns.push(Conn { s, inbuf: Vec::new(), out: Vec::new(), eof: false });
            }
        }
        if conns.is_empty() {
            continue;
        }
        // One poll(2) for every connection: idle clients cost the lcore
        // one system call per tick in all, not one each.
        fds.clear();
        fds.extend(conns.iter().map(|c| {
            let mut events = 0;
            if !c.eof && c.out.len() < MAX_PENDING_OUT {
                events |= libc::POLLIN;
            }
            if !c.out.is_empty() {
                events |= libc::POLLOUT;
            }
            libc::pollfd { fd: c.s.as_raw_fd(), events, revents: 0 }
        }));
        // SAFETY: `fds` holds `fds.len()` initialised pollfd entries, and
        // poll(2) with a zero timeout only writes their `revents`.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
        let pending = |c: &Conn| c.out.len() < MAX_PENDING_OUT && (c.inbuf.contains(&b'\n') || c.eof);
        if ready <= 0 && !conns.iter().any(pending) {
            continue;
        }
        let mut i = 0;
        conns.retain_mut(|c| {
            let revents = fds[i].revents;
            i += 1;
            // Lines held back while replies were pending run once they
            // have gone, without waiting for more input.
            if revents == 0 && !pending(c) {
                return true;
            }
            if revents & (libc::POLLIN | libc::POLLHUP) != 0 && !c.read() {
                return false;
            }
            if revents & libc::POLLERR != 0 && c.out.is_empty() && !c.eof {
                return false;
            }
            c.run_lines(&mut stats, &shared);
            if c.inbuf.len() > MAX_LINE && !c.inbuf.contains(&b'\n') {
                // A line that never ends: say so and close.
                c.out.extend_from_slice(format!("error: command longer than {MAX_LINE} bytes\n").as_bytes());
                let _ = flush(c);
                return false;
            }
            let ok = flush(c);
            ok && !(c.eof && c.inbuf.is_empty() && c.out.is_empty())
        });
    }
}

/// Writes what the socket takes; `false` if the peer is gone.
fn flush(c: &mut Conn) -> bool {
    while !c.out.is_empty() {
        match c.s.write(&c.out) {
            Ok(0) => return false,
            Ok(n) => {
                c.out.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

async fn stats_lines(path: PathBuf, secs: f64, mut stats: StatsSource, shared: Arc<Shared>) {
    let mut tick = task::interval(Duration::from_secs_f64(secs));
    loop {
        tick.tick().await;
        let mut line = stats_report(&mut stats, &shared).to_json_line();
        line.push('\n');
        if let Err(e) = task::fs::append(path.clone(), line.into_bytes()).await {
            shared.fail(format!("--stats-jsonl {}: {e}", path.display()));
            return;
        }
    }
}

async fn load_timer() {
    let mut tick = task::interval(Duration::from_millis(1));
    let mut n = 0u64;
    loop {
        tick.tick().await;
        n = n.wrapping_add(task::with_graph(|g| g.node_count() as u64).unwrap_or(0));
        std::hint::black_box(n);
    }
}

async fn load_writer() {
    let path = load_file();
    let mut tick = task::interval(Duration::from_millis(10));
    let mut i = 0u64;
    loop {
        tick.tick().await;
        i += 1;
        let _ = task::fs::write(path.clone(), format!("tick {i}\n").into_bytes()).await;
    }
}

async fn load_routes(fib: Fib) {
    let mut tick = task::interval(Duration::from_millis(10));
    let mut on = false;
    let a: Ipv4Addr = "203.0.113.0".parse().expect("address");
    loop {
        tick.tick().await;
        on = !on;
        let _ = if on { fib.route_add(a, 24, 0, Ip4LookupNext::Rewrite) } else { fib.route_delete(a, 24) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(ports: &[u16]) -> Arc<Shared> {
        let env = StockEnv { fib: Fib::new(16), ..StockEnv::default() };
        let pool = graph_nodes::Mempool::new("ctl-test", &Default::default()).unwrap();
        for &p in ports {
            let cfg = graph_nodes::port::PortConfig::parse("generator:").unwrap();
            env.ports.open(p, &cfg, &pool).unwrap();
        }
        Arc::new(Shared::new(Vec::new(), env, vec![pool], Vec::new(), Instant::now()))
    }

    #[test]
    fn commands_answer_one_line() {
        let _exec = task::LocalExecutor::new();
        let (sh, mut st) = (shared(&[0, 1]), StatsSource::empty());
        let mut ask = |l: &str| command(l, &mut st, &sh);
        assert_eq!(ask("route add 192.0.2.0/24 port 1"), "ok route 192.0.2.0/24 -> port 1");
        let fib = sh.env.fib.clone();
        assert_eq!(fib.route_lookup("192.0.2.7".parse().unwrap()), Some((Ip4LookupNext::Rewrite.edge(), 1)));
        assert_eq!(ask("route del 192.0.2.0/24"), "ok deleted 192.0.2.0/24");
        assert_eq!(fib.route_lookup("192.0.2.7".parse().unwrap()), None);
        // Deleting what does not exist is an error, not "ok".
        assert_eq!(ask("neigh del 4242"), "error: no next hop 4242");
        assert_eq!(ask("neigh add 4242 1 52:00:00:00:00:01"), "ok next hop 4242 -> port 1");
        assert_eq!(ask("neigh del 4242"), "ok deleted next hop 4242");
        // Control characters from the client come back escaped.
        let r = ask("route add \u{1b}[2J/8 port 1");
        assert!(!r.chars().any(char::is_control) && r.contains("\\u{1b}"), "{r}");
        assert!(ask("route add 192.0.2.0/24 port one").contains("port \"one\" is not a number"));
        assert!(ask("route add 300.0.0.0/8 port 1").contains("\"300.0.0.0\" is not an IPv4 address"));
        assert!(ask("neigh add 7 1 zz:00:00:00:00:00").contains("not a MAC address"));
        assert!(ask("capture ip4_lookup 5 /tmp/x.pcap").contains("no node \"ip4_lookup\""));
        assert!(ask("stats").starts_with('{'));
        assert_eq!(ask("capture stop ip4_lookup"), "error: no capture in progress at ip4_lookup");
    }

    proptest::proptest! {
        /// Any line gets one reply line, `ok ...`, a JSON object or
        /// `error: ...`; none panics.
        #[test]
        fn any_line_gets_a_one_line_answer(
            words in proptest::collection::vec(
                "route|neigh|add|del|via|port|stats|capture|stop|help|[0-9]{1,4}|[0-9./:a-fx]{0,24}|\\PC{0,8}", 0..7)
        ) {
            let _exec = task::LocalExecutor::new();
            // Its own FIB and no ports.
            let (sh, mut st) = (shared(&[]), StatsSource::empty());
            let line = words.join(" ");
            let r = command(&line, &mut st, &sh);
            proptest::prop_assert!(!r.contains('\n'), "{r}");
            proptest::prop_assert!(r.starts_with("ok") || r.starts_with("error: ") || r.starts_with('{'), "{r}");
        }
    }
}
