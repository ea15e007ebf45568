//! Bringing the router up, running the workers, reporting, shutting down.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use comfy_table::{presets, Cell, CellAlignment, Table};
use graph_core::{format_table, ClusterNodeStats, ClusterStats, Graph};
use graph_lcore::task::LcoreLoop;
use graph_nodes::eth_config::{self, EthConf, RxBurst, StockEnv, TxQueues};
use graph_nodes::ip4_lookup::{Fib, Ip4LookupNext};
use graph_nodes::ip4_rewrite::{NextHop, NextHops};
use graph_nodes::lcore;
use graph_nodes::port::{Port, PortConfig, PortCounters, Ports};
use graph_nodes::{Mempool, PoolConfig};
use serde::Serialize;

use crate::config::{ConfigError, Plan};
use crate::control::{self, LcoreTasks};

/// Why a run failed after the configuration was accepted.
#[derive(Debug)]
pub enum RunError {
    /// Setting up what the configuration asked for failed (a file, a
    /// queue, a route): the user's to fix; exit status 2.
    Setup(String),
    /// Something failed while forwarding.
    Runtime(String),
}

impl From<ConfigError> for RunError {
    fn from(e: ConfigError) -> Self {
        RunError::Setup(e.0)
    }
}

/// One port in the final report.
#[derive(Debug, Clone, Serialize)]
pub struct PortReport {
    pub id: u16,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_missed: u64,
    pub tx_errors: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_nombuf: u64,
    pub rx_errors: u64,
}

impl PortReport {
    fn new(id: u16, c: PortCounters) -> Self {
        PortReport {
            id,
            rx_packets: c.ipackets,
            tx_packets: c.opackets,
            rx_missed: c.imissed,
            tx_errors: c.oerrors,
            rx_bytes: c.ibytes,
            tx_bytes: c.obytes,
            rx_nombuf: c.rx_nombuf,
            rx_errors: c.ierrors,
        }
    }
}

/// One node in the final report, summed over the workers.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    pub name: String,
    pub calls: u64,
    pub objs: u64,
    pub cycles: u64,
    pub counters: BTreeMap<String, u64>,
}

/// The final report (`--stats-json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub elapsed_s: f64,
    pub ports: Vec<PortReport>,
    pub nodes: Vec<NodeReport>,
    pub lcores: Vec<u32>,
    pub pool_in_use: u32,
}

/// A worker: our pinned thread natively, an EAL lcore with DPDK.
struct Worker {
    lcore: u32,
    kind: WorkerKind,
}

enum WorkerKind {
    Thread(std::thread::JoinHandle<Result<(), String>>),
    #[cfg(feature = "dpdk")]
    Eal(Arc<std::sync::Mutex<Option<String>>>),
}

impl Worker {
    fn spawn(
        g: Graph,
        lcore: u32,
        cpu: usize,
        stop: Arc<AtomicBool>,
        dpdk: bool,
        tasks: LcoreTasks,
        walks_per_poll: u32,
    ) -> Result<Worker, RunError> {
        #[cfg(feature = "dpdk")]
        if dpdk {
            let err = Arc::new(std::sync::Mutex::new(None));
            let e2 = err.clone();
            graph_nodes::dpdk::launch(lcore, move || match worker_loop(g, lcore, None, stop, tasks, walks_per_poll) {
                Ok(()) => 0,
                Err(e) => {
                    *e2.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    -1
                }
            })
            .map_err(|e| RunError::Runtime(e.to_string()))?;
            return Ok(Worker { lcore, kind: WorkerKind::Eal(err) });
        }
        let _ = dpdk;
        let handle = std::thread::Builder::new()
            .name(format!("worker_{lcore}"))
            .spawn(move || worker_loop(g, lcore, Some(cpu), stop, tasks, walks_per_poll))
            .map_err(|e| RunError::Runtime(format!("spawning lcore {lcore}: {e}")))?;
        Ok(Worker { lcore, kind: WorkerKind::Thread(handle) })
    }

    fn is_finished(&self) -> bool {
        match &self.kind {
            WorkerKind::Thread(h) => h.is_finished(),
            #[cfg(feature = "dpdk")]
            WorkerKind::Eal(_) => graph_nodes::dpdk::finished(self.lcore),
        }
    }

    fn join(self) -> Result<(), String> {
        match self.kind {
            WorkerKind::Thread(h) => match h.join() {
                Ok(r) => r,
                Err(_) => Err(format!("lcore {} panicked", self.lcore)),
            },
            #[cfg(feature = "dpdk")]
            WorkerKind::Eal(err) => match graph_nodes::dpdk::wait(self.lcore) {
                0 => Ok(()),
                _ => Err(err
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .unwrap_or_else(|| format!("lcore {} panicked", self.lcore))),
            },
        }
    }
}

fn ports_table(ports: &[Arc<Port>], prev: &mut BTreeMap<u16, PortCounters>, secs: f64) -> String {
    let mut t = Table::new();
    t.load_style(presets::ASCII_FULL_CONDENSED);
    t.set_header([
        "Port",
        "rx_packets",
        "tx_packets",
        "rx_missed",
        "rx_nombuf",
        "rx_errors",
        "tx_errors",
        "rx Mpps",
        "tx Mpps",
    ]);
    for p in ports {
        let c = p.stats();
        let last = prev.insert(p.id(), c).unwrap_or_default();
        let rate = |now: u64, before: u64| {
            if secs > 0.0 {
                (now - before) as f64 / secs / 1e6
            } else {
                0.0
            }
        };
        let r = |v: u64| Cell::new(v).set_alignment(CellAlignment::Right);
        t.add_row(vec![
            Cell::new(p.id()),
            r(c.ipackets),
            r(c.opackets),
            r(c.imissed),
            r(c.rx_nombuf),
            r(c.ierrors),
            r(c.oerrors),
            Cell::new(format!("{:.3}", rate(c.ipackets, last.ipackets))).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.3}", rate(c.opackets, last.opackets))).set_alignment(CellAlignment::Right),
        ]);
    }
    t.to_string()
}

fn make_pool(plan: &Plan, name: &str, dpdk: bool) -> Result<Mempool, RunError> {
    #[cfg(feature = "dpdk")]
    if dpdk {
        return graph_nodes::dpdk::pool_create(name, plan.pool_size, plan.pool_cache, -1)
            .map_err(|e| RunError::Setup(e.to_string()));
    }
    let _ = dpdk;
    let cfg = PoolConfig { size: plan.pool_size, cache_size: plan.pool_cache, ..PoolConfig::default() };
    Mempool::new(name, &cfg).map_err(|e| RunError::Setup(e.to_string()))
}

fn open_ports(plan: &Plan, table: &Ports, dpdk: bool) -> Result<(Vec<Arc<Port>>, Vec<Mempool>), RunError> {
    let mut pools = Vec::new();
    let shared = if plan.per_port_pool {
        None
    } else {
        let p = make_pool(plan, "pktmbuf_pool", dpdk)?;
        pools.push(p.clone());
        Some(p)
    };
    let mut ports = Vec::new();
    for pp in &plan.ports {
        let pool = match &shared {
            Some(p) => p.clone(),
            None => {
                let p = make_pool(plan, &format!("pktmbuf_pool_p{}", pp.id), dpdk)?;
                pools.push(p.clone());
                p
            }
        };
        let cfg = PortConfig {
            backend: pp.backend.clone(),
            params: pp.params.clone(),
            nb_rxq: pp.rx_queues,
            nb_txq: plan.lcores.len() as u16,
            mac: pp.mac,
            mtu: pp.mtu,
        };
        let port = table.open(pp.id, &cfg, &pool).map_err(|e| RunError::Setup(format!("port {}: {e}", pp.id)))?;
        ports.push(port);
    }
    Ok((ports, pools))
}

/// Fills the router's tables from the plan and creates one graph per
/// worker lcore, each given the tables and its own tx queue per port
/// through its environment.
fn configure_nodes(plan: &Plan, env: &StockEnv, ports: &[Arc<Port>]) -> Result<Vec<Graph>, RunError> {
    let setup = |e: &dyn std::fmt::Display| RunError::Setup(e.to_string());
    eth_config::eth_config(
        &ports.iter().map(|p| EthConf { port: p.id(), nb_rxq: p.nb_rxq(), nb_txq: p.nb_txq() }).collect::<Vec<_>>(),
    )
    .map_err(|e| setup(&e))?;
    for h in &plan.hops {
        let p = ports.iter().find(|p| p.id() == h.port).expect("validated");
        env.next_hops
            .add(h.id, NextHop { dst_mac: h.mac, src_mac: p.mac(), port: h.port, mtu: p.mtu() })
            .map_err(|e| setup(&e))?;
    }
    for r in &plan.routes {
        env.fib
            .route_add(r.prefix, r.depth, r.next_hop, Ip4LookupNext::Rewrite)
            .map_err(|e| RunError::Setup(format!("route {}/{}: {e}", r.prefix, r.depth)))?;
    }
    let mut graphs = Vec::new();
    for (i, l) in plan.lcores.iter().enumerate() {
        let name = format!("worker_{}", l.id);
        let txq = TxQueues(ports.iter().map(|p| (p.id(), i as u16)).collect());
        let patterns: Vec<String> = l.rx.iter().map(|(p, q)| format!("ethdev_rx-{p}-{q}")).collect();
        let g = Graph::create(&name, &env.param(patterns, txq))
            .map_err(|e| RunError::Setup(format!("graph {name}: {e}")))?;
        graphs.push(g);
    }
    Ok(graphs)
}

/// Walks `g` until told to stop, interleaved with the lcore's tasks, then
/// drains it. `cpu`: pin there (our threads); EAL lcores are pinned by the
/// EAL already.
fn worker_loop(
    g: Graph,
    lcore_id: u32,
    cpu: Option<usize>,
    stop: Arc<AtomicBool>,
    tasks: LcoreTasks,
    walks_per_poll: u32,
) -> Result<(), String> {
    if let Some(cpu) = cpu {
        if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
            eprintln!("l3fwd-graph: lcore {lcore_id}: could not pin to CPU {cpu}; running unpinned");
        }
    }
    let guard = lcore::register(lcore_id).map_err(|e| format!("lcore {lcore_id}: {e}"))?;
    let mut lp = LcoreLoop::new(g, walks_per_poll);
    tasks.spawn();
    lp.run(&stop);
    // Rx is stopped: walk until nothing moves any more. Tasks stop with the
    // loop (their executor is dropped below).
    let moved = |g: &Graph| g.stats().iter().map(|s| s.objs).sum::<u64>();
    let mut g = lp.into_graph();
    for _ in 0..1000 {
        let before = moved(&g);
        g.walk();
        if moved(&g) == before {
            break;
        }
    }
    // Destroying the graph flushes its tx queues; then the lcore's pool
    // caches go back to the pools.
    drop(g);
    drop(guard);
    Ok(())
}

fn node_reports(rows: &[ClusterNodeStats]) -> Vec<NodeReport> {
    rows.iter()
        .map(|r| NodeReport {
            name: r.name.clone(),
            calls: r.calls,
            objs: r.objs,
            cycles: r.cycles,
            counters: r.counters.clone(),
        })
        .collect()
}

/// How a run ended: the report, and what went wrong while forwarding (a
/// worker failing, an output that could not be written). The report is
/// complete either way, so its counters say what happened.
#[derive(Debug)]
pub struct Outcome {
    /// Final statistics.
    pub report: Report,
    /// Failures during the run, one line each.
    pub failures: Vec<String>,
}

/// Runs the router described by `plan` until a signal, the duration, or
/// the end of finite input. Prints stats every interval and at the end.
/// Buffers still in flight on a port (a ring nobody reads) are freed when
/// the ports close, before the pools' in-use count is taken.
pub fn run(plan: &Plan, quiet: bool, dpdk: bool) -> Result<Outcome, RunError> {
    let stop_signal = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop_signal.clone())
            .map_err(|e| RunError::Runtime(format!("signal handler: {e}")))?;
    }
    let env = StockEnv {
        ports: Ports::new(),
        fib: Fib::new(plan.tbl8_groups),
        next_hops: NextHops::new(),
        rx_burst: RxBurst(plan.burst),
    };
    let (ports, pools) = open_ports(plan, &env.ports, dpdk)?;
    let result = (|| {
        let polled = |p: &Arc<Port>| plan.lcores.iter().any(|l| l.rx.iter().any(|(id, _)| *id == p.id()));
        if plan.exit_on_eof && !ports.iter().any(|p| p.has_finite_rx() && polled(p)) {
            return Err(RunError::Setup(
                "--exit-on-eof: no port reads a finite input (a pcap without loop = \"forever\", a generator with count)"
                    .into(),
            ));
        }
        let graphs = configure_nodes(plan, &env, &ports)?;
        let mut cluster = ClusterStats::new(&["worker_*"]).map_err(|e| RunError::Runtime(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let mut workers = Vec::new();
        // Tasks: every lcore gets a command queue; the first one also
        // serves the control socket and writes the JSON lines. The socket is
        // bound here, before any worker starts, so a bad path is a setup
        // error.
        let mut cmd_tx = Vec::new();
        let mut cmd_rx = Vec::new();
        for _ in &plan.lcores {
            let (tx, rx) = graph_lcore::task::channel();
            cmd_tx.push(tx);
            cmd_rx.push(rx);
        }
        let shared = Arc::new(control::Shared::new(cmd_tx, env.clone(), start));
        let mut listener = match &plan.control_socket {
            Some(path) => {
                // A stale socket from an earlier run is replaced; anything
                // else at that path is left alone (bind then fails).
                use std::os::unix::fs::FileTypeExt;
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                    let _ = std::fs::remove_file(path);
                }
                let l = std::os::unix::net::UnixListener::bind(path)
                    .map_err(|e| RunError::Setup(format!("--control-socket {}: {e}", path.display())))?;
                l.set_nonblocking(true).map_err(|e| RunError::Setup(format!("--control-socket: {e}")))?;
                let s = ClusterStats::new(&["worker_*"]).map_err(|e| RunError::Runtime(e.to_string()))?;
                Some((l, s))
            }
            None => None,
        };
        let mut jsonl = match &plan.stats_jsonl {
            Some(p) => {
                let s = ClusterStats::new(&["worker_*"]).map_err(|e| RunError::Runtime(e.to_string()))?;
                Some((p.clone(), plan.stats_jsonl_interval, s))
            }
            None => None,
        };
        for (i, ((g, l), cmds)) in graphs.into_iter().zip(&plan.lcores).zip(cmd_rx).enumerate() {
            let tasks = LcoreTasks {
                cmds,
                shared: shared.clone(),
                listener: if i == 0 { listener.take() } else { None },
                jsonl: if i == 0 { jsonl.take() } else { None },
                load: plan.task_load,
                load_routes: plan.task_load && i == 0,
            };
            workers.push(Worker::spawn(g, l.id, l.cpu, stop.clone(), dpdk, tasks, l.walks_per_poll)?);
        }
        // The inputs that end, among the ports some lcore polls.
        let polled = |p: &Arc<Port>| plan.lcores.iter().any(|l| l.rx.iter().any(|(id, _)| *id == p.id()));
        let finite: Vec<&Arc<Port>> = ports.iter().filter(|p| p.has_finite_rx() && polled(p)).collect();
        let mut prev_ports = BTreeMap::new();
        let mut last_print = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(20));
            let now = Instant::now();
            if stop_signal.load(Relaxed) {
                break;
            }
            if plan.duration.is_some_and(|d| now.duration_since(start).as_secs_f64() >= d) {
                break;
            }
            if workers.iter().any(|w| w.is_finished()) {
                break;
            }
            // Everything read has been handed to a graph: stopping lets the
            // workers finish those walks and drain.
            if plan.exit_on_eof && finite.iter().all(|p| p.rx_eof()) {
                break;
            }
            if plan.stats_interval > 0.0
                && now.duration_since(last_print).as_secs_f64() >= plan.stats_interval
                && !quiet
            {
                let secs = now.duration_since(last_print).as_secs_f64();
                last_print = now;
                println!("== l3fwd-graph: {:.1} s ==", now.duration_since(start).as_secs_f64());
                print!("{}", format_table(&cluster.get()));
                println!("{}", ports_table(&ports, &mut prev_ports, secs));
            }
        }
        for p in &ports {
            p.set_rx_enabled(false);
        }
        stop.store(true, Relaxed);
        let mut failures = Vec::new();
        for w in workers {
            if let Err(e) = w.join() {
                failures.push(e);
            }
        }
        let elapsed = start.elapsed().as_secs_f64();
        if let Some(path) = &plan.control_socket {
            let _ = std::fs::remove_file(path);
        }
        if plan.task_load {
            let _ = std::fs::remove_file(control::load_file());
        }
        for p in &ports {
            if let Err(e) = p.flush() {
                failures.push(format!("port {}: flushing output: {e}", p.id()));
            }
        }
        let rows = cluster.get();
        if !quiet {
            println!("== l3fwd-graph: final, {elapsed:.2} s ==");
            print!("{}", format_table(&rows));
            let mut zero = BTreeMap::new();
            println!("{}", ports_table(&ports, &mut zero, elapsed));
        }
        let report = Report {
            elapsed_s: elapsed,
            ports: ports.iter().map(|p| PortReport::new(p.id(), p.stats())).collect(),
            nodes: node_reports(&rows),
            lcores: plan.lcores.iter().map(|l| l.id).collect(),
            pool_in_use: 0,
        };
        Ok(Outcome { report, failures })
    })();
    for p in &ports {
        let _ = env.ports.close(p.id());
    }
    drop(ports);
    result.map(|mut o| {
        o.report.pool_in_use = pools.iter().map(|p| p.in_use()).sum();
        o
    })
}

/// Writes the report as JSON.
pub fn write_json(path: &Path, r: &Report) -> Result<(), RunError> {
    let text = serde_json::to_string_pretty(r).map_err(|e| RunError::Runtime(e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|e| RunError::Runtime(format!("--stats-json {}: {e}", path.display())))
}

/// A few lines for humans: what went through, how fast, what was dropped.
pub fn summary(r: &Report) -> String {
    let rx: u64 = r.ports.iter().map(|p| p.rx_packets).sum();
    let tx: u64 = r.ports.iter().map(|p| p.tx_packets).sum();
    let mut drops: Vec<(String, u64)> = Vec::new();
    for n in &r.nodes {
        for (k, v) in &n.counters {
            if *v > 0 {
                drops.push((format!("{}.{k}", n.name), *v));
            }
        }
    }
    let dropped: u64 = drops.iter().map(|(_, v)| v).sum();
    let mut s = format!(
        "l3fwd-graph: {rx} packets received, {tx} sent, {dropped} dropped in {:.2} s on {} worker lcore(s): {:.2} Mpps forwarded\n",
        r.elapsed_s,
        r.lcores.len(),
        tx as f64 / r.elapsed_s.max(1e-9) / 1e6
    );
    for (k, v) in drops {
        s.push_str(&format!("  dropped {v:>12} {k}\n"));
    }
    let per_node: Vec<String> = r
        .nodes
        .iter()
        .filter(|n| n.objs > 0)
        .map(|n| format!("{} {:.1}", n.name, n.cycles as f64 / n.objs as f64))
        .collect();
    s.push_str(&format!("  cycles/packet: {}\n", per_node.join(", ")));
    s
}
