//! DPDK's `graph_perf_autotest`, rebuilt on graph-core.
//!
//! The four node kinds and seven topologies of
//! `app/test/test_graph_perf.c` (described in
//! `../shared/graph-perf-topologies.md`), with the same node behaviour, so
//! that `graph-perf` and DPDK's test measure the same work: walk, enqueue,
//! home run and stats, with nodes that never touch their objects.

use std::time::{Duration, Instant};

use graph_core::{
    node, node_clone, node_edge_shrink, node_edge_update, node_from_name, ClusterNodeStats, ClusterStats, Ctx, Graph,
    GraphParam, NodeFlags, NodeId, Objs, BURST_SIZE,
};

/// DPDK's `MAX_EDGES_PER_NODE`.
pub const MAX_EDGES_PER_NODE: usize = 7;

/// A node's share of objects per edge (DPDK keeps the same in `node->ctx`).
#[derive(Debug, Default, Clone, Copy)]
pub struct PerfCtx {
    /// Percentage of the objects sent down each edge.
    pub pct: [u8; MAX_EDGES_PER_NODE],
}

fn source(ctx: &mut Ctx<'_>, c: &mut PerfCtx, _objs: Objs<'_>) -> usize {
    for e in 0..ctx.nb_edges() {
        let count = c.pct[e as usize] as usize * BURST_SIZE as usize / 100;
        ctx.next_stream_get(e, count);
        ctx.next_stream_put(e, count);
    }
    BURST_SIZE as usize
}

fn source_one(ctx: &mut Ctx<'_>, c: &mut PerfCtx, _objs: Objs<'_>) -> usize {
    for e in 0..ctx.nb_edges() {
        let count = c.pct[e as usize] as usize / 100;
        ctx.next_stream_get(e, count);
        ctx.next_stream_put(e, count);
    }
    1
}

fn worker(ctx: &mut Ctx<'_>, c: &mut PerfCtx, objs: Objs<'_>) -> usize {
    let nb = objs.len();
    let nb_edges = ctx.nb_edges();
    if nb_edges == 1 {
        ctx.next_stream_move(0, objs);
        return nb;
    }
    let mut pos = 0;
    let mut enq = 0;
    let mut next = 0;
    for e in 0..nb_edges {
        next = e;
        let mut count = c.pct[e as usize] as usize * nb / 100;
        enq += count;
        // DPDK's loop, including its `count & 3 == 3` case (x2 of objs 0-1
        // then x1 of obj 0 again, advancing by three).
        while count > 0 {
            let o = &objs[pos..];
            match count & 3 {
                0 => {
                    ctx.enqueue_x4(next, o[0], o[1], o[2], o[3]);
                    pos += 4;
                    count -= 4;
                }
                1 => {
                    ctx.enqueue_x1(next, o[0]);
                    pos += 1;
                    count -= 1;
                }
                2 => {
                    ctx.enqueue_x2(next, o[0], o[1]);
                    pos += 2;
                    count -= 2;
                }
                _ => {
                    ctx.enqueue_x2(next, o[0], o[1]);
                    ctx.enqueue_x1(next, o[0]);
                    pos += 3;
                    count -= 3;
                }
            }
        }
    }
    if enq != nb {
        ctx.enqueue(next, &objs[pos..]);
    }
    nb
}

fn sink(_ctx: &mut Ctx<'_>, _c: &mut PerfCtx, objs: Objs<'_>) -> usize {
    objs.len()
}

node! {
    /// `test_graph_perf_source`: 256 objects per walk, split by percentage.
    pub static PERF_SOURCE = {
        name: "test_graph_perf_source",
        flags: NodeFlags::SOURCE,
        context: PerfCtx,
        process: source,
        next: &[],
    };
}
node! {
    /// `test_graph_perf_source_one`: one object per walk.
    pub static PERF_SOURCE_ONE = {
        name: "test_graph_perf_source_one",
        flags: NodeFlags::SOURCE,
        context: PerfCtx,
        process: source_one,
        next: &[],
    };
}
node! {
    /// `test_graph_perf_worker`: home run with one edge, else split.
    pub static PERF_WORKER = {
        name: "test_graph_perf_worker",
        context: PerfCtx,
        process: worker,
        next: &[],
    };
}
node! {
    /// `test_graph_perf_sink`.
    pub static PERF_SINK = {
        name: "test_graph_perf_sink",
        context: PerfCtx,
        process: sink,
        next: &[],
    };
}

/// One of DPDK's topologies (see the module doc).
#[derive(Debug, Clone)]
pub struct Topology {
    /// DPDK's test-case name.
    pub name: &'static str,
    /// DPDK's graph name.
    pub graph: &'static str,
    /// `src[i][j]`: percentage source `i` sends to stage-0 node `j`.
    pub src: Vec<Vec<u8>>,
    /// `edge[s][j][k]`: percentage node `k` of stage `s-1` sends to node `j`
    /// of stage `s`.
    pub edge: Vec<Vec<Vec<u8>>>,
    /// `snk[j][k]`: percentage last-stage node `j` sends to sink `k`.
    pub snk: Vec<Vec<u8>>,
    /// Use the burst-one source.
    pub burst_one: bool,
}

fn ident(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| (0..n).map(|j| if i == j { 100 } else { 0 }).collect()).collect()
}

/// The seven topologies, in DPDK's order.
pub fn topologies() -> Vec<Topology> {
    let hr = vec![vec![vec![100]]; 4];
    vec![
        Topology {
            name: "graph_hr_4s_1n_1src_1snk",
            graph: "graph_hr",
            src: vec![vec![100]],
            edge: hr.clone(),
            snk: vec![vec![100]],
            burst_one: false,
        },
        Topology {
            name: "graph_hr_4s_1n_1src_1snk_brst_one",
            graph: "graph_hr",
            src: vec![vec![100]],
            edge: hr.clone(),
            snk: vec![vec![100]],
            burst_one: true,
        },
        Topology {
            name: "graph_hr_4s_1n_2src_1snk",
            graph: "graph_hr",
            src: vec![vec![100], vec![100]],
            edge: hr.clone(),
            snk: vec![vec![100]],
            burst_one: false,
        },
        Topology {
            name: "graph_hr_4s_1n_1src_2snk",
            graph: "graph_hr",
            src: vec![vec![100]],
            edge: hr,
            snk: vec![vec![50, 50]],
            burst_one: false,
        },
        Topology {
            name: "graph_tree_4s_4n_1src_4snk",
            graph: "graph_full_split",
            src: vec![vec![100, 0, 0, 0]],
            edge: vec![
                vec![vec![100, 0, 0, 0], vec![0; 4], vec![0; 4], vec![0; 4]],
                vec![vec![50, 0, 0, 0], vec![50, 0, 0, 0], vec![0; 4], vec![0; 4]],
                vec![vec![33, 33, 0, 0], vec![34, 34, 0, 0], vec![33, 33, 0, 0], vec![0; 4]],
                vec![vec![25, 25, 25, 0]; 4],
            ],
            snk: ident(4),
            burst_one: false,
        },
        Topology {
            name: "graph_reverse_tree_3s_4n_1src_1snk",
            graph: "graph_full_split",
            src: vec![vec![25, 25, 25, 25]],
            edge: vec![
                vec![vec![25, 25, 25, 25]; 4],
                vec![vec![33, 33, 33, 33], vec![33, 33, 33, 33], vec![34, 34, 34, 34], vec![0; 4]],
                vec![vec![50, 50, 50, 0], vec![50, 50, 50, 0], vec![0; 4], vec![0; 4]],
            ],
            snk: vec![vec![100], vec![100], vec![0], vec![0]],
            burst_one: false,
        },
        Topology {
            name: "graph_parallel_tree_5s_4n_4src_4snk",
            graph: "graph_parallel",
            src: ident(4),
            edge: vec![ident(4); 5],
            snk: ident(4),
            burst_one: false,
        },
    ]
}

/// DPDK's `graph_node_get`: the clone `<parent>-<suffix>`, reused with its
/// edges cleared if it exists.
fn node_get(parent: &str, suffix: &str) -> graph_core::Result<NodeId> {
    if let Ok(id) = node_from_name(&format!("{parent}-{suffix}")) {
        node_edge_shrink(id, 0)?;
        return Ok(id);
    }
    node_clone(node_from_name(parent)?, suffix)
}

/// A built topology: the graph and each node's percentages.
pub struct Built {
    /// The graph.
    pub graph: Graph,
    /// Names of the sink nodes.
    pub sinks: Vec<String>,
}

/// Builds `t` as DPDK's `graph_init` does: workers stage by stage, then
/// sources, then sinks, each a clone; edges and percentages from the maps.
pub fn build(t: &Topology, stats: bool) -> graph_core::Result<Built> {
    let stages = t.edge.len();
    let per_stage = t.edge[0].len();
    let mut patterns: Vec<String> = Vec::new();
    let mut pcts: Vec<(String, Vec<u8>)> = Vec::new();
    let mut wname: Vec<Vec<Option<String>>> = vec![vec![None; per_stage]; stages];
    for (s, stage) in t.edge.iter().enumerate() {
        for (j, row) in stage.iter().enumerate() {
            if row.iter().map(|&p| p as u32).sum::<u32>() == 0 {
                continue;
            }
            let id = node_get("test_graph_perf_worker", &format!("{s}-{j}"))?;
            let name = graph_core::node_id_to_name(id)?;
            patterns.push(name.clone());
            wname[s][j] = Some(name);
        }
    }
    // Stage s node j -> stage s+1 node k where edge[s+1][k][j] != 0.
    for s in 0..stages - 1 {
        for j in 0..per_stage {
            let Some(from) = &wname[s][j] else { continue };
            let mut names = Vec::new();
            let mut pct = Vec::new();
            for (k, to) in wname[s + 1].iter().enumerate() {
                let p = t.edge[s + 1][k][j];
                if p != 0 {
                    names.push(to.clone().expect("edge into a missing node"));
                    pct.push(p);
                }
            }
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            node_edge_update(node_from_name(from)?, Some(0), &refs)?;
            pcts.push((from.clone(), pct));
        }
    }
    let src_parent = if t.burst_one { "test_graph_perf_source_one" } else { "test_graph_perf_source" };
    for (i, row) in t.src.iter().enumerate() {
        let id = node_get(src_parent, &i.to_string())?;
        let name = graph_core::node_id_to_name(id)?;
        patterns.push(name.clone());
        let mut names = Vec::new();
        let mut pct = Vec::new();
        for (j, &p) in row.iter().enumerate() {
            if p != 0 {
                names.push(wname[0][j].clone().expect("source edge into a missing node"));
                pct.push(p);
            }
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        node_edge_update(id, Some(0), &refs)?;
        pcts.push((name, pct));
    }
    let nsinks = t.snk[0].len();
    let mut sinks = Vec::new();
    for k in 0..nsinks {
        let id = node_get("test_graph_perf_sink", &k.to_string())?;
        let name = graph_core::node_id_to_name(id)?;
        patterns.push(name.clone());
        sinks.push(name);
    }
    for (j, row) in t.snk.iter().enumerate() {
        let Some(from) = &wname[stages - 1][j] else {
            continue;
        };
        let mut names = Vec::new();
        let mut pct = Vec::new();
        for (k, &p) in row.iter().enumerate() {
            if p != 0 {
                names.push(sinks[k].clone());
                pct.push(p);
            }
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        node_edge_update(node_from_name(from)?, Some(0), &refs)?;
        pcts.push((from.clone(), pct));
    }
    let mut graph = Graph::create(t.graph, &GraphParam::new(patterns).stats(stats))?;
    for (name, pct) in pcts {
        let c = graph.node_context_mut::<PerfCtx>(&name).expect("perf node");
        c.pct[..pct.len()].copy_from_slice(&pct);
    }
    Ok(Built { graph, sinks })
}

/// Measurement settings.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Warm-up before the measured window.
    pub warmup: Duration,
    /// Measured window.
    pub duration: Duration,
    /// Keep node stats (DPDK's default).
    pub stats: bool,
    /// CPU the worker thread is pinned to.
    pub worker_cpu: Option<usize>,
}

/// Result of one topology run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// DPDK's test-case name.
    pub topology: &'static str,
    /// Sum over sinks of objects per second, in millions.
    pub mobjs_per_sec: f64,
    /// Per-node rows from the measured window.
    pub nodes: Vec<ClusterNodeStats>,
    /// Walks per second (from the worker's own count).
    pub walks_per_sec: f64,
}

/// Builds `t`, walks it on a pinned worker thread, warms up, measures.
///
/// With stats off the node counters stay at zero, so the sinks' rate comes
/// from the walk count: every walk delivers the same number of objects to
/// the sinks, measured over a short stats-on calibration first.
pub fn run(t: &Topology, cfg: &RunConfig) -> graph_core::Result<RunResult> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let Built { mut graph, sinks } = build(t, true)?;
    // Calibrate objects per walk at the sinks (the same every walk).
    let calib = 64u64;
    for _ in 0..calib {
        graph.walk();
    }
    let sink_objs: u64 = graph.stats().iter().filter(|s| sinks.contains(&s.name)).map(|s| s.objs).sum();
    let per_walk = sink_objs as f64 / calib as f64;
    graph.set_stats(cfg.stats);
    let mut stats = ClusterStats::for_graphs(&[&graph]);

    let done = Arc::new(AtomicBool::new(false));
    let walks = Arc::new(AtomicU64::new(0));
    let worker = {
        let done = done.clone();
        let walks = walks.clone();
        let cpu = cfg.worker_cpu;
        std::thread::spawn(move || {
            if let Some(cpu) = cpu {
                core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
            }
            let mut n = 0u64;
            while !done.load(Ordering::Relaxed) {
                graph.walk();
                n += 1;
                if n & 1023 == 0 {
                    walks.store(n, Ordering::Relaxed);
                }
            }
            walks.store(n, Ordering::Relaxed);
            graph
        })
    };
    std::thread::sleep(cfg.warmup);
    stats.get();
    let w0 = walks.load(Ordering::Relaxed);
    let t0 = Instant::now();
    std::thread::sleep(cfg.duration);
    let rows = stats.get();
    let w1 = walks.load(Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let graph = worker.join().expect("worker thread");
    drop(graph);
    let walks_per_sec = (w1 - w0) as f64 / secs;
    let mobjs_per_sec = if cfg.stats {
        rows.iter().filter(|r| sinks.contains(&r.name)).map(|r| r.objs_per_sec).sum::<f64>() / 1e6
    } else {
        walks_per_sec * per_walk / 1e6
    };
    Ok(RunResult { topology: t.name, mobjs_per_sec, nodes: rows, walks_per_sec })
}

/// The body of a no-op feature: every packet on to the next enabled
/// feature (what `benches/compare-arcs.sh` measures arcs with).
pub fn nop_feature(
    ctx: &mut Ctx<'_, graph_nodes::pkt::Pkt>,
    hook: &mut graph_core::ArcHook,
    objs: Objs<'_, graph_nodes::pkt::Pkt>,
) -> usize {
    graph_nodes::feature::pass(ctx, hook, objs)
}

/// The init of a no-op feature: its place on the arc.
pub fn nop_feature_init(info: &graph_core::NodeInfo<'_>) -> Result<graph_core::ArcHook, graph_core::InitError> {
    Ok(graph_core::ArcHook::feature(info)?)
}

/// Declares no-op feature nodes: `nop_features!(NODE_STATIC, FEATURE_STATIC, "name", "arc"; ...)`.
#[macro_export]
macro_rules! nop_features {
    ($($node:ident, $feat:ident, $name:literal, $arc:literal);* $(;)?) => {
        $(
            graph_core::node! {
                static $node = {
                    name: $name,
                    context: graph_core::ArcHook,
                    object: graph_nodes::pkt::Pkt,
                    init: $crate::nop_feature_init,
                    process: $crate::nop_feature,
                    next: &[],
                };
            }
            graph_core::feature! { static $feat = { arc: $arc, node: $name }; }
        )*
    };
}
