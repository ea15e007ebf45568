//! Bringing the router up, running the workers, reporting, shutting down.

use std::collections::BTreeMap;
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use comfy_table::{presets, Cell, CellAlignment, Table};
use graph_core::{format_table, FeatureChange, Graph};
use graph_lcore::task::LcoreLoop;
use graph_nodes::eth_config::{self, EthConf, RxBurst, StockEnv, TxQueues};
use graph_nodes::ip4_lookup::{Fib, Ip4LookupNext};
use graph_nodes::ip4_rewrite::{NextHop, NextHops};
use graph_nodes::lcore;
use graph_nodes::neigh::{Interfaces, Neighbours};
use graph_nodes::port::{Port, PortConfig, PortCounters, Ports};
use graph_nodes::{Mempool, PoolConfig};

use crate::config::{ConfigError, Plan};
use crate::control::{self, LcoreTasks};
use crate::report::{Report, StatsSource, Worker as StatsWorker};

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
        RunError::Setup(e.to_string())
    }
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
        match table.open(pp.id, &cfg, &pool) {
            Ok(port) => ports.push(port),
            Err(e) => {
                // The start failed: what the ports opened so far would
                // write must not replace existing files.
                for p in &ports {
                    p.discard_outputs();
                }
                return Err(RunError::Setup(format!("port {}: {e}", pp.id)));
            }
        }
    }
    Ok((ports, pools))
}

/// Fills the router's tables from the plan and creates one graph per
/// worker lcore, each given the tables and its own tx queue per port
/// through its environment.
type Configured = (Vec<Graph>, Option<graph_core::Dispatch>, GraphFactory);

fn configure_nodes(plan: &Plan, env: &StockEnv, ports: &[Arc<Port>]) -> Result<Configured, RunError> {
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
    let l3 = env.l3();
    l3.ifaces.set_icmp_limit(plan.icmp);
    for p in ports {
        l3.ifaces.set_port(p.id(), p.mac(), p.mtu()).map_err(|e| setup(&e))?;
    }
    for pp in &plan.ports {
        for a in &pp.addrs {
            l3.addr_add(pp.id, *a).map_err(|e| RunError::Setup(format!("port {} addr {a}: {e}", pp.id)))?;
        }
        for a in &pp.addrs6 {
            l3.addr_add6(pp.id, *a).map_err(|e| RunError::Setup(format!("port {} addr {a}: {e}", pp.id)))?;
        }
    }
    for r in &plan.routes {
        let nh = match r.via {
            Some(gw) => {
                l3.gateway(gw).map_err(|e| RunError::Setup(format!("route {}/{} via {gw}: {e}", r.prefix, r.depth)))?
            }
            None => r.next_hop,
        };
        let added = match r.prefix {
            std::net::IpAddr::V4(a) => {
                env.fib.route_add(a, r.depth, nh, Ip4LookupNext::Rewrite).map_err(|e| e.to_string())
            }
            std::net::IpAddr::V6(a) => env
                .fib6
                .route_add(a, r.depth, nh, graph_nodes::ip6_lookup::Ip6LookupNext::Rewrite)
                .map_err(|e| e.to_string()),
        };
        added.map_err(|e| RunError::Setup(format!("route {}/{}: {e}", r.prefix, r.depth)))?;
    }
    let changes: Vec<FeatureChange<'_>> = plan
        .features
        .iter()
        .flat_map(|f| f.ports.iter().map(|&p| FeatureChange { arc: &f.arc, feature: &f.node, index: p, on: true }))
        .collect();
    env.features.update(&changes).map_err(|e| setup(&e))?;
    let factory = GraphFactory::new(plan, env, ports);
    let mut graphs: Vec<Graph> = Vec::new();
    for (i, l) in plan.lcores.iter().enumerate() {
        let g = factory.build(i, &l.rx, None).map_err(RunError::Setup)?;
        graphs.push(g);
    }
    let Some(bindings) = &plan.dispatch else { return Ok((graphs, None, factory)) };
    // Dispatch model: one set over the worker lcores, the nodes bound as
    // planned, each graph bound to its lcore (DPDK sizes the work queue at
    // 8 streams per node).
    let ids: Vec<u32> = plan.lcores.iter().map(|l| l.id).collect();
    let nodes = graphs.iter().map(Graph::node_count).max().unwrap_or(1);
    let set = graph_core::Dispatch::new(&ids, (8 * nodes).next_power_of_two().max(64)).map_err(|e| setup(&e))?;
    for (n, l) in bindings {
        set.bind(n, *l).map_err(|e| setup(&e))?;
    }
    for (g, l) in graphs.iter_mut().zip(&plan.lcores) {
        g.set_dispatch(&set, l.id).map_err(|e| setup(&e))?;
    }
    set.check().map_err(|e| setup(&e))?;
    Ok((graphs, Some(set), factory))
}

/// Builds a worker's graph: at start, and for a live change (a graph that
/// replaces the running one of its lcore, see `control`'s `rx move`).
#[derive(Clone)]
pub struct GraphFactory {
    env: StockEnv,
    ports: Vec<u16>,
    lcores: Vec<u32>,
    nodes: Vec<String>,
    node_config: crate::config::NodeConfig,
    histograms: bool,
    dispatch: Option<Vec<(String, u32)>>,
}

impl GraphFactory {
    fn new(plan: &Plan, env: &StockEnv, ports: &[Arc<Port>]) -> GraphFactory {
        GraphFactory {
            env: env.clone(),
            ports: ports.iter().map(|p| p.id()).collect(),
            lcores: plan.lcores.iter().map(|l| l.id).collect(),
            nodes: plan.nodes.clone(),
            node_config: plan.node_config.clone(),
            histograms: plan.histograms,
            dispatch: plan.dispatch.clone(),
        }
    }

    /// The lcores, in order (index `i` of [`GraphFactory::build`]).
    pub fn lcores(&self) -> &[u32] {
        &self.lcores
    }

    /// The graph of the `i`-th worker lcore polling `rx`: `worker_<lcore>`
    /// at start, `worker_<lcore>.<generation>` for a live change (whose
    /// queues are handed over from the graph it replaces).
    pub fn build(&self, i: usize, rx: &[(u16, u16)], generation: Option<u64>) -> Result<Graph, String> {
        let lcore = self.lcores[i];
        let name = match generation {
            None => format!("worker_{lcore}"),
            Some(g) => format!("worker_{lcore}.{g}"),
        };
        let txq = TxQueues(self.ports.iter().map(|&p| (p, i as u16)).collect());
        let mut patterns: Vec<String> = rx.iter().map(|(p, q)| format!("ethdev_rx-{p}-{q}")).collect();
        // The neighbour table's timers run in every graph that polls.
        if !rx.is_empty() {
            patterns.push("neigh_tick".into());
        }
        patterns.extend(self.nodes.iter().cloned());
        // Dispatch: a worker that polls nothing runs the nodes bound to it,
        // fed by the others.
        let fed = rx.is_empty();
        if let (true, Some(b)) = (fed, &self.dispatch) {
            patterns.extend(b.iter().filter(|(_, to)| *to == lcore).map(|(n, _)| n.clone()));
        }
        let mut param = self
            .env
            .param(patterns, txq)
            .with(self.node_config.clone())
            .histograms(self.histograms)
            .fed_by_dispatch(fed)
            .keep_stats(true);
        if generation.is_some() {
            param = param.with(graph_nodes::eth_config::Handover);
        }
        Graph::create(&name, &param).map_err(|e| format!("graph {name}: {e}"))
    }
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
            warn(&format!("l3fwd-graph: lcore {lcore_id}: could not pin to CPU {cpu}; running unpinned"));
        }
    }
    let guard = lcore::register(lcore_id).map_err(|e| format!("lcore {lcore_id}: {e}"))?;
    let dispatch = tasks.dispatch.clone();
    let mut lp = LcoreLoop::new(g, walks_per_poll);
    tasks.spawn();
    // Commands queued before the start (--pcap-enable's taps) apply
    // before the first walk: two turns let the command task receive them.
    for _ in 0..2 {
        lp.turn(graph_core::clock::cycles());
    }
    lp.run(&stop);
    // Rx is stopped: walk until nothing moves any more. Tasks stop with the
    // loop (their executor is dropped below).
    let moved = |g: &Graph| g.stats().iter().map(|s| s.objs).sum::<u64>();
    let mut g = lp.into_graph();
    // With dispatch, other lcores may still hand this one streams: drain
    // until nothing moves here and every queue of the set is empty, several
    // times running (bounded, as the walks are).
    let mut quiet = 0;
    for _ in 0..100_000 {
        let before = moved(&g);
        g.walk();
        let idle = dispatch.as_ref().is_none_or(graph_core::Dispatch::idle);
        quiet = if moved(&g) == before && idle { quiet + 1 } else { 0 };
        if quiet >= if dispatch.is_some() { 100 } else { 1 } {
            break;
        }
    }
    // Destroying the graph flushes its tx queues; then the lcore's pool
    // caches go back to the pools.
    drop(g);
    drop(guard);
    Ok(())
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
    // INT, TERM and HUP (a closed terminal) stop cleanly: the workers
    // drain, outputs are flushed, the report is written. USR1/USR2 are
    // received and ignored (by default they would kill the process with no
    // cleanup).
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
    let ignored = Arc::new(AtomicBool::new(false));
    for (sig, flag) in [
        (SIGINT, &stop_signal),
        (SIGTERM, &stop_signal),
        (SIGHUP, &stop_signal),
        (SIGUSR1, &ignored),
        (SIGUSR2, &ignored),
    ] {
        signal_hook::flag::register(sig, flag.clone())
            .map_err(|e| RunError::Runtime(format!("signal handler: {e}")))?;
    }
    let env = StockEnv {
        ports: Ports::new(),
        fib: Fib::new(plan.tbl8_groups),
        fib6: graph_nodes::ip6_lookup::Fib6::default(),
        next_hops: NextHops::new(),
        rx_burst: RxBurst(plan.burst),
        features: graph_core::FeatureArcs::new().map_err(|e| RunError::Setup(e.to_string()))?,
        ifaces: Interfaces::new(),
        neigh: Neighbours::new(plan.neigh),
    };
    let (ports, pools) = open_ports(plan, &env.ports, dpdk)?;
    if let Some(p) = pools.first() {
        env.neigh.set_pool(p.clone());
    }
    let result = forward(plan, quiet, dpdk, &env, &ports, &pools, &stop_signal);
    if result.is_err() {
        // The run did not start: existing output files stay as they were.
        for p in &ports {
            p.discard_outputs();
        }
    }
    for p in &ports {
        let _ = env.ports.close(p.id());
    }
    drop(ports);
    result.map(|mut o| {
        o.report.pool_in_use = pools.iter().map(|p| p.in_use()).sum();
        o
    })
}

/// Writes to standard output, ignoring failures: a closed pipe (`| head`)
/// or a full disk under a redirect must not stop forwarding or the
/// shutdown (the report files are still written). Rust ignores SIGPIPE, so
/// a closed pipe is an `EPIPE` error here, which `print!` would panic on.
pub fn out(text: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes()).and_then(|()| o.flush());
}

/// Writes one line to standard error, ignoring failures (a closed stderr
/// must not turn an error message into a panic).
pub fn warn(line: &str) {
    use std::io::Write;
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(line.as_bytes()).and_then(|()| e.write_all(b"\n"));
}

/// Whether some lcore polls port `p`.
fn polled(plan: &Plan, p: &Port) -> bool {
    plan.lcores.iter().any(|l| l.rx.iter().any(|(id, _)| *id == p.id()))
}

/// Binds the control socket (before any worker starts, so a bad path is a
/// setup error). A stale socket from an earlier run is replaced; anything
/// else at that path is left alone (bind then fails).
fn bind_control(plan: &Plan) -> Result<Option<(UnixListener, StatsSource)>, RunError> {
    let Some(path) = &plan.control_socket else { return Ok(None) };
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        // A live router answers on it: leave it alone and refuse.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(RunError::Setup(format!(
                "--control-socket {}: a running process is listening on it (another l3fwd-graph?)",
                path.display()
            )));
        }
        let _ = std::fs::remove_file(path);
    }
    let l =
        UnixListener::bind(path).map_err(|e| RunError::Setup(format!("--control-socket {}: {e}", path.display())))?;
    l.set_nonblocking(true).map_err(|e| RunError::Setup(format!("--control-socket: {e}")))?;
    Ok(Some((l, worker_stats(plan)?)))
}

/// Statistics of every worker's graph, summed and each apart.
fn worker_stats(plan: &Plan) -> Result<StatsSource, RunError> {
    let workers = plan.lcores.iter().map(|l| StatsWorker { lcore: l.id, cpu: l.cpu, rx: l.rx.clone() }).collect();
    StatsSource::new(workers).map_err(|e| RunError::Runtime(e.to_string()))
}

/// Configures the nodes, starts one worker per lcore with its tasks (every
/// lcore gets a command queue; the first also serves the control socket
/// and writes the JSON lines), supervises until a stop condition, then
/// stops and joins the workers and reports.
fn forward(
    plan: &Plan,
    quiet: bool,
    dpdk: bool,
    env: &StockEnv,
    ports: &[Arc<Port>],
    pools: &[Mempool],
    stop_signal: &AtomicBool,
) -> Result<Outcome, RunError> {
    if plan.exit_on_eof && !ports.iter().any(|p| p.has_finite_rx() && polled(plan, p)) {
        return Err(RunError::Setup(
            "--exit-on-eof: no port reads a finite input (a pcap without loop = \"forever\", a generator with count)"
                .into(),
        ));
    }
    let (graphs, dispatch, factory) = configure_nodes(plan, env, ports)?;
    let mut cluster = worker_stats(plan)?;
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let (cmd_tx, cmd_rx): (Vec<_>, Vec<_>) = plan.lcores.iter().map(|_| graph_lcore::task::channel()).unzip();
    let lcore_ids: Vec<u32> = plan.lcores.iter().map(|l| l.id).collect();
    let mut shared = control::Shared::new(cmd_tx, env.clone(), pools.to_vec(), lcore_ids.clone(), start);
    if dispatch.is_none() {
        shared.set_live(factory, plan.lcores.iter().map(|l| l.rx.clone()).collect());
    }
    let shared = Arc::new(shared);
    let mut listener = bind_control(plan)?;
    let mut jsonl = match &plan.stats_jsonl {
        Some(p) => Some((p.clone(), plan.stats_jsonl_interval, worker_stats(plan)?)),
        None => None,
    };
    let metrics = serve_metrics(plan, quiet, ports, pools, start, stop.clone())?;
    // --pcap-enable: the taps are queued before any worker starts, and
    // each worker takes its commands before its first walk.
    let mut pcap = plan
        .pcap
        .as_ref()
        .map(|(n, path)| control::prepare_capture(&shared, "*", *n, &path.display().to_string(), true));
    let mut workers = Vec::new();
    for (i, ((g, l), cmds)) in graphs.into_iter().zip(&plan.lcores).zip(cmd_rx).enumerate() {
        let tasks = LcoreTasks {
            cmds,
            shared: shared.clone(),
            listener: if i == 0 { listener.take() } else { None },
            jsonl: if i == 0 { jsonl.take() } else { None },
            load: plan.task_load,
            load_routes: plan.task_load && i == 0,
            pcap: if i == 0 { pcap.take() } else { None },
            dispatch: dispatch.clone(),
        };
        match Worker::spawn(g, l.id, l.cpu, stop.clone(), dpdk, tasks, l.walks_per_poll) {
            Ok(w) => workers.push(w),
            Err(e) => {
                // Whatever started stops again before the error is reported.
                stop.store(true, Relaxed);
                for w in workers {
                    let _ = w.join();
                }
                if let Some(m) = metrics {
                    let _ = m.join();
                }
                return Err(e);
            }
        }
    }
    if !quiet {
        for l in &plan.lcores {
            let rx: Vec<String> = l.rx.iter().map(|(p, q)| format!("({p},{q})")).collect();
            out(&format!("l3fwd-graph: lcore {} on CPU {} polls rx queues {}\n", l.id, l.cpu, rx.join(" ")));
        }
        out(&format!(
            "l3fwd-graph: {}: {} buffers, {} cached per lcore\n",
            if plan.per_port_pool { "one pool per port" } else { "one pool" },
            plan.pool_size,
            plan.pool_cache
        ));
        #[cfg(feature = "dpdk")]
        if let Some(note) = graph_nodes::dpdk::pool_layout_note() {
            out(&format!("l3fwd-graph: {note}\n"));
        }
        for f in &plan.features {
            let ports: Vec<String> = f.ports.iter().map(u16::to_string).collect();
            out(&format!("l3fwd-graph: feature {} on {}: ports {}\n", f.node, f.arc, ports.join(" ")));
        }
    }
    supervise(plan, quiet, ports, &workers, &mut cluster, start, stop_signal);
    for p in ports {
        p.set_rx_enabled(false);
    }
    stop.store(true, Relaxed);
    let mut failures: Vec<String> = workers.into_iter().filter_map(|w| w.join().err()).collect();
    if let Some(m) = metrics {
        if m.join().is_err() {
            failures.push("the metrics server panicked".into());
        }
    }
    failures.extend(shared.failures());
    // Packets still waiting for a neighbour when the graphs stopped.
    let held = env.neigh.clear();
    let elapsed = start.elapsed().as_secs_f64();
    if let Some(path) = &plan.control_socket {
        let _ = std::fs::remove_file(path);
    }
    if plan.task_load {
        let _ = std::fs::remove_file(control::load_file());
    }
    for p in ports {
        if let Err(e) = p.flush() {
            failures.push(format!("port {}: flushing output: {e}", p.id()));
        }
    }
    let rows = cluster.all();
    if !quiet {
        out(&format!(
            "== l3fwd-graph: final, {elapsed:.2} s ==\n{}{}\n",
            format_table(&rows),
            ports_table(ports, &mut BTreeMap::new(), elapsed)
        ));
    }
    // In use is taken after the ports close (by the caller).
    let mut report = Report::collect(elapsed, ports, &mut cluster, Some(&rows), &[]);
    report.held_at_stop = held as u64;
    report.dispatch = dispatch.as_ref().map(crate::report::DispatchReport::from_set);
    Ok(Outcome { report, failures })
}

/// Binds the OpenMetrics endpoint (a bad address is a setup error) and
/// serves it from a thread of its own until `stop`: a scrape reads the
/// workers' counters (atomics, whole rows) and never waits for them.
fn serve_metrics(
    plan: &Plan,
    quiet: bool,
    ports: &[Arc<Port>],
    pools: &[Mempool],
    start: Instant,
    stop: Arc<AtomicBool>,
) -> Result<Option<std::thread::JoinHandle<()>>, RunError> {
    let Some(addr) = plan.metrics else { return Ok(None) };
    let server = tiny_http::Server::http(addr).map_err(|e| RunError::Setup(format!("--metrics {addr}: {e}")))?;
    if !quiet {
        if let Some(a) = server.server_addr().to_ip() {
            out(&format!("l3fwd-graph: metrics at http://{a}/metrics\n"));
        }
    }
    let mut stats = worker_stats(plan)?;
    let (ports, pools) = (ports.to_vec(), pools.to_vec());
    let h = std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            while !stop.load(Relaxed) {
                let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(100)) else { continue };
                let resp = if req.method() != &tiny_http::Method::Get {
                    tiny_http::Response::from_string("GET only\n").with_status_code(405)
                } else {
                    let path = req.url().split('?').next().unwrap_or("");
                    let mut report =
                        || Report::collect(start.elapsed().as_secs_f64(), &ports, &mut stats, None, &pools);
                    let (body, ct) = match path {
                        "/metrics" => (
                            crate::report::openmetrics(&report()),
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        ),
                        // The --stats-json schema, for l3fwdctl.
                        "/stats.json" => (report().to_json_line() + "\n", "application/json"),
                        _ => (String::new(), ""),
                    };
                    if ct.is_empty() {
                        tiny_http::Response::from_string("try /metrics or /stats.json\n").with_status_code(404)
                    } else {
                        // Whole, with its length: no chunked encoding for
                        // large expositions (simple scrapers expect none).
                        tiny_http::Response::from_string(body)
                            .with_header(tiny_http::Header::from_bytes("Content-Type", ct).expect("a valid header"))
                            .with_chunked_threshold(usize::MAX)
                    }
                };
                // A client gone before the answer is its business.
                let _ = req.respond(resp);
            }
        })
        .map_err(|e| RunError::Runtime(format!("spawning the metrics thread: {e}")))?;
    Ok(Some(h))
}

/// Waits for a stop condition (a signal, the duration, a worker ending,
/// or every finite input read), printing the tables every interval.
fn supervise(
    plan: &Plan,
    quiet: bool,
    ports: &[Arc<Port>],
    workers: &[Worker],
    cluster: &mut StatsSource,
    start: Instant,
    stop_signal: &AtomicBool,
) {
    let finite: Vec<&Arc<Port>> = ports.iter().filter(|p| p.has_finite_rx() && polled(plan, p)).collect();
    let mut prev_ports = BTreeMap::new();
    let mut last_print = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let now = Instant::now();
        if stop_signal.load(Relaxed)
            || plan.duration.is_some_and(|d| now.duration_since(start).as_secs_f64() >= d)
            || workers.iter().any(|w| w.is_finished())
            // Everything read has been handed to a graph: stopping lets
            // the workers finish those walks and drain.
            || (plan.exit_on_eof && finite.iter().all(|p| p.rx_eof()))
        {
            return;
        }
        if plan.stats_interval > 0.0 && now.duration_since(last_print).as_secs_f64() >= plan.stats_interval && !quiet {
            let secs = now.duration_since(last_print).as_secs_f64();
            last_print = now;
            out(&format!(
                "== l3fwd-graph: {:.1} s ==\n{}{}\n",
                now.duration_since(start).as_secs_f64(),
                format_table(&cluster.all()),
                ports_table(ports, &mut prev_ports, secs)
            ));
        }
    }
}
