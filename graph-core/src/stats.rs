//! Statistics: per node calls, objs, cycles, realloc_count and named
//! counters; cluster stats aggregating a node's instances over all graphs
//! matching patterns (`rte_graph_cluster_stats_*`); DPDK's table.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::error::{GraphError, Result};
use crate::graph::{self, GraphShared};
use crate::registry::NodeId;

/// Statistics of one node in one graph.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct NodeStats {
    /// Node name.
    pub name: String,
    /// Node id.
    pub id: NodeId,
    /// Process calls.
    pub calls: u64,
    /// Objects processed.
    pub objs: u64,
    /// Cycles spent (TSC ticks on x86_64, nanoseconds elsewhere).
    pub cycles: u64,
    /// Times the node's stream grew.
    pub realloc_count: u64,
    /// Drop reasons: objects the node sent to be freed, by reason.
    pub counters: BTreeMap<String, u64>,
    /// Plain counters (observations), never drops.
    pub observations: BTreeMap<String, u64>,
    /// Cycles per call (empty unless the graph keeps histograms).
    pub latency: CycleHistogram,
}

/// Cycles per call of a node, as a histogram: one bucket each for 0 to 3
/// cycles, then four per power of two (so a quantile is known within a
/// quarter of its value), and the largest call seen. Kept when the graph
/// has [`GraphParam::histograms`](crate::GraphParam::histograms) on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CycleHistogram {
    /// Calls per bucket ([`CycleHistogram::bucket_bounds`]).
    pub buckets: Vec<u64>,
    /// Most cycles one call took.
    pub max: u64,
}

impl CycleHistogram {
    /// Calls counted.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The values bucket `b` holds: `lower..=upper`.
    pub fn bucket_bounds(b: usize) -> (u64, u64) {
        let upper = if b + 1 >= crate::mem::HIST_BUCKETS { u64::MAX } else { crate::mem::hist_lower(b + 1) - 1 };
        (crate::mem::hist_lower(b), upper)
    }

    /// The `q` quantile (0.0..=1.0) of cycles per call: the upper bound
    /// of the bucket holding it, capped by the largest call. 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        let n = self.count();
        if n == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, &c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::bucket_bounds(b).1.min(self.max);
            }
        }
        self.max
    }

    /// Calls that took at most `le` cycles, for `le` one less than a
    /// bucket boundary (such as 2^k − 1); otherwise the count of the
    /// buckets wholly at or below `le`.
    pub fn count_le(&self, le: u64) -> u64 {
        self.buckets.iter().enumerate().take_while(|(b, _)| Self::bucket_bounds(*b).1 <= le).map(|(_, c)| c).sum()
    }

    fn add(&mut self, other: &[u64], max: u64) {
        if self.buckets.len() < other.len() {
            self.buckets.resize(other.len(), 0);
        }
        for (a, b) in self.buckets.iter_mut().zip(other) {
            *a += b;
        }
        self.max = self.max.max(max);
    }
}

/// Names and values of a node's counters, split into drop reasons and
/// plain counters.
fn split_counters(reg: &crate::NodeRegistration, values: &[u64]) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let (d, o) = values.split_at(reg.counters.len().min(values.len()));
    (
        reg.counters.iter().map(|c| c.to_string()).zip(d.iter().copied()).collect(),
        reg.observations.iter().map(|c| c.to_string()).zip(o.iter().copied()).collect(),
    )
}

pub(crate) fn graph_stats(g: &GraphShared) -> Vec<NodeStats> {
    g.nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let raw = g.mem.read_stats(i);
            let (counters, observations) = split_counters(n.reg, &raw.counters);
            let latency = CycleHistogram { buckets: raw.hist, max: raw.max };
            NodeStats {
                latency,
                name: n.name.clone(),
                id: n.id,
                calls: raw.calls,
                objs: raw.objs,
                cycles: raw.cycles,
                realloc_count: raw.realloc_count,
                counters,
                observations,
            }
        })
        .collect()
}

/// One node's statistics summed over its instances in a cluster of graphs,
/// with rates since the previous sample.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ClusterNodeStats {
    /// Node name.
    pub name: String,
    /// Node id.
    pub id: NodeId,
    /// Graphs holding the node.
    pub instances: usize,
    /// Process calls.
    pub calls: u64,
    /// Objects processed.
    pub objs: u64,
    /// Cycles spent.
    pub cycles: u64,
    /// Stream growths.
    pub realloc_count: u64,
    /// Objects per call since the previous sample.
    pub objs_per_call: f64,
    /// Objects per second since the previous sample.
    pub objs_per_sec: f64,
    /// Cycles per call since the previous sample.
    pub cycles_per_call: f64,
    /// Drop reasons, summed.
    pub counters: BTreeMap<String, u64>,
    /// Plain counters (observations), summed.
    pub observations: BTreeMap<String, u64>,
    /// Cycles per call, summed over the instances (empty unless their
    /// graphs keep histograms).
    pub latency: CycleHistogram,
}

enum Member {
    /// Node `index` of live (or held) graph `graph`.
    Live { graph: usize, index: usize },
    /// A node of a graph destroyed before the cluster saw it.
    Frozen(Arc<Retired>, usize),
}

/// The final statistics of a destroyed graph made with
/// [`GraphParam::keep_stats`](crate::GraphParam::keep_stats), for
/// clusters that had not seen it yet.
pub(crate) struct Retired {
    pub id: crate::GraphId,
    pub name: String,
    pub nodes: Vec<(NodeId, String, &'static crate::NodeRegistration, crate::mem::RawStats)>,
}

static RETIRED: std::sync::Mutex<Vec<Arc<Retired>>> = std::sync::Mutex::new(Vec::new());

/// Keeps `g`'s final statistics (called as it is destroyed).
pub(crate) fn retire(g: &GraphShared) {
    let nodes = g.nodes.iter().enumerate().map(|(i, n)| (n.id, n.name.clone(), n.reg, g.mem.read_stats(i))).collect();
    crate::registry::lock(&RETIRED).push(Arc::new(Retired { id: g.id, name: g.name.clone(), nodes }));
}

struct ClusterNode {
    name: String,
    id: NodeId,
    reg: &'static crate::NodeRegistration,
    counters: Vec<String>,
    members: Vec<Member>,
    prev: (u64, u64, u64),
    base: (u64, u64, u64, u64, Vec<u64>),
    base_hist: Vec<u64>,
}

/// Statistics over every graph whose name matches one of the patterns
/// (`rte_graph_cluster_stats_create`). Graphs destroyed later keep their
/// final counters in the sum.
pub struct ClusterStats {
    /// The patterns it was made with (none for `for_graphs`).
    patterns: Vec<glob::Pattern>,
    graphs: Vec<Arc<GraphShared>>,
    /// Graphs counted, live or frozen.
    seen: std::collections::HashSet<crate::GraphId>,
    nodes: Vec<ClusterNode>,
    prev_ts: Instant,
}

impl ClusterStats {
    /// Collects the graphs matching `graph_patterns` (globs). Each pattern
    /// must match at least one live graph.
    pub fn new<S: AsRef<str>>(graph_patterns: &[S]) -> Result<ClusterStats> {
        let mut graphs: Vec<Arc<GraphShared>> = Vec::new();
        let mut patterns = Vec::new();
        for p in graph_patterns {
            let p = p.as_ref();
            let glob = glob::Pattern::new(p)
                .map_err(|e| GraphError::BadPattern { pattern: p.to_string(), reason: e.msg.to_string() })?;
            let found = graph::graphs_matching(&glob);
            patterns.push(glob);
            if found.is_empty() {
                return Err(GraphError::GraphPatternNoMatch { pattern: p.to_string() });
            }
            for g in found {
                if !graphs.iter().any(|h| Arc::ptr_eq(h, &g)) {
                    graphs.push(g);
                }
            }
        }
        let mut c = Self::from_graphs(graphs);
        c.patterns = patterns;
        Ok(c)
    }

    /// Adds a pattern for [`refresh`](Self::refresh) to match (graphs
    /// that may appear later); it may match nothing yet.
    pub fn add_pattern(&mut self, pattern: &str) -> Result<()> {
        let glob = glob::Pattern::new(pattern)
            .map_err(|e| GraphError::BadPattern { pattern: pattern.to_string(), reason: e.msg.to_string() })?;
        self.patterns.push(glob);
        Ok(())
    }

    /// Adds the live graphs that match the patterns and are not in the
    /// cluster yet (graphs that replaced others while running); graphs
    /// already in keep their counters, destroyed or not. Returns how many
    /// joined.
    pub fn refresh(&mut self) -> usize {
        let found: Vec<Arc<GraphShared>> = self.patterns.iter().flat_map(graph::graphs_matching).collect();
        let mut added = 0;
        for g in found {
            if !self.seen.contains(&g.id) {
                self.add_graph(g);
                added += 1;
            }
        }
        // Graphs that came and went since the last look.
        let retired: Vec<Arc<Retired>> = crate::registry::lock(&RETIRED)
            .iter()
            .filter(|r| !self.seen.contains(&r.id) && self.patterns.iter().any(|p| p.matches(&r.name)))
            .cloned()
            .collect();
        for r in retired {
            self.seen.insert(r.id);
            for (ni, (id, name, reg, _)) in r.nodes.iter().enumerate() {
                self.add_member(*id, name, reg, Member::Frozen(r.clone(), ni));
            }
            added += 1;
        }
        added
    }

    /// Statistics over exactly these graphs.
    pub fn for_graphs(graphs: &[&crate::Graph]) -> ClusterStats {
        Self::from_graphs(graphs.iter().map(|g| g.shared().clone()).collect())
    }

    fn from_graphs(graphs: Vec<Arc<GraphShared>>) -> ClusterStats {
        let mut c = ClusterStats {
            patterns: Vec::new(),
            graphs: Vec::new(),
            seen: Default::default(),
            nodes: Vec::new(),
            prev_ts: Instant::now(),
        };
        for g in graphs {
            c.add_graph(g);
        }
        c
    }

    fn add_graph(&mut self, g: Arc<GraphShared>) {
        let gi = self.graphs.len();
        self.seen.insert(g.id);
        for (ni, n) in g.nodes.iter().enumerate() {
            self.add_member(n.id, &n.name, n.reg, Member::Live { graph: gi, index: ni });
        }
        self.graphs.push(g);
    }

    fn add_member(&mut self, id: NodeId, name: &str, reg: &'static crate::NodeRegistration, member: Member) {
        match self.nodes.iter_mut().find(|c| c.id == id) {
            Some(c) => c.members.push(member),
            None => self.nodes.push(ClusterNode {
                name: name.to_string(),
                id,
                reg,
                counters: reg.counters.iter().chain(reg.observations).map(|c| c.to_string()).collect(),
                members: vec![member],
                prev: (0, 0, 0),
                base: (0, 0, 0, 0, vec![0; reg.nb_all_counters()]),
                base_hist: Vec::new(),
            }),
        }
    }

    fn read(graphs: &[Arc<GraphShared>], m: &Member) -> crate::mem::RawStats {
        match m {
            Member::Live { graph, index } => graphs[*graph].mem.read_stats(*index),
            Member::Frozen(r, i) => r.nodes[*i].3.clone(),
        }
    }

    /// Names of the graphs in the cluster.
    pub fn graph_names(&self) -> Vec<String> {
        self.graphs.iter().map(|g| g.name.clone()).collect()
    }

    /// Names of the nodes in the cluster's graphs.
    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|n| n.name.as_str())
    }

    /// Samples every node (`rte_graph_cluster_stats_get`); rates are over the
    /// time since the previous sample (or creation/reset).
    pub fn get(&mut self) -> Vec<ClusterNodeStats> {
        let now = Instant::now();
        let secs = now.duration_since(self.prev_ts).as_secs_f64();
        self.prev_ts = now;
        let mut out = Vec::with_capacity(self.nodes.len());
        for c in &mut self.nodes {
            let (mut calls, mut objs, mut cycles, mut realloc) = (0u64, 0u64, 0u64, 0u64);
            let mut counters = vec![0u64; c.counters.len()];
            let mut latency = CycleHistogram::default();
            for m in &c.members {
                let raw = Self::read(&self.graphs, m);
                latency.add(&raw.hist, raw.max);
                calls += raw.calls;
                objs += raw.objs;
                cycles += raw.cycles;
                realloc += raw.realloc_count;
                for (a, b) in counters.iter_mut().zip(raw.counters) {
                    *a += b;
                }
            }
            let (bc, bo, by, br, bk) = &c.base;
            calls = calls.saturating_sub(*bc);
            objs = objs.saturating_sub(*bo);
            cycles = cycles.saturating_sub(*by);
            realloc = realloc.saturating_sub(*br);
            for (a, b) in counters.iter_mut().zip(bk) {
                *a = a.saturating_sub(*b);
            }
            for (a, b) in latency.buckets.iter_mut().zip(&c.base_hist) {
                *a = a.saturating_sub(*b);
            }
            let (pc, po, py) = c.prev;
            let dcalls = calls.saturating_sub(pc);
            let dobjs = objs.saturating_sub(po);
            let dcycles = cycles.saturating_sub(py);
            c.prev = (calls, objs, cycles);
            out.push(ClusterNodeStats {
                name: c.name.clone(),
                id: c.id,
                instances: c.members.len(),
                calls,
                objs,
                cycles,
                realloc_count: realloc,
                objs_per_call: if dcalls > 0 { dobjs as f64 / dcalls as f64 } else { 0.0 },
                objs_per_sec: if secs > 0.0 { dobjs as f64 / secs } else { 0.0 },
                cycles_per_call: if dcalls > 0 { dcycles as f64 / dcalls as f64 } else { 0.0 },
                counters: split_counters(c.reg, &counters).0,
                observations: split_counters(c.reg, &counters).1,
                latency,
            });
        }
        out
    }

    /// Starts counting from zero again (`rte_graph_cluster_stats_reset`).
    pub fn reset(&mut self) {
        for c in &mut self.nodes {
            let mut b = (0u64, 0u64, 0u64, 0u64, vec![0u64; c.counters.len()]);
            let mut h = CycleHistogram::default();
            for m in &c.members {
                let raw = Self::read(&self.graphs, m);
                h.add(&raw.hist, raw.max);
                b.0 += raw.calls;
                b.1 += raw.objs;
                b.2 += raw.cycles;
                b.3 += raw.realloc_count;
                for (a, v) in b.4.iter_mut().zip(raw.counters) {
                    *a += v;
                }
            }
            c.base = b;
            c.base_hist = h.buckets;
            c.prev = (0, 0, 0);
        }
        self.prev_ts = Instant::now();
    }
}

/// DPDK's stats table (`rte_graph_cluster_stats_get` with the default
/// callback): one row per node that processed objects, then the non-zero
/// named counters. Feature `table`.
#[cfg(feature = "table")]
pub fn format_table(stats: &[ClusterNodeStats]) -> String {
    use comfy_table::{presets, Cell, CellAlignment, ContentArrangement, Table};
    let mut t = Table::new();
    t.load_style(presets::ASCII_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(["Node", "calls", "objs", "realloc_count", "objs/call", "objs/sec(10E6)", "cycles/call"]);
    for s in stats.iter().filter(|s| s.objs > 0) {
        t.add_row(vec![
            Cell::new(&s.name),
            Cell::new(s.calls).set_alignment(CellAlignment::Right),
            Cell::new(s.objs).set_alignment(CellAlignment::Right),
            Cell::new(s.realloc_count).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.3}", s.objs_per_call)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.6}", s.objs_per_sec / 1e6)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.4}", s.cycles_per_call)).set_alignment(CellAlignment::Right),
        ]);
    }
    let mut out = t.to_string();
    out.push('\n');
    let mut counters = Table::new();
    counters.load_style(presets::ASCII_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled);
    counters.set_header(["Node", "counter", "kind", "count"]);
    let mut any = false;
    for s in stats {
        let rows = s.counters.iter().map(|c| (c, "drop")).chain(s.observations.iter().map(|c| (c, "count")));
        for ((k, v), kind) in rows.filter(|((_, v), _)| **v > 0) {
            counters.add_row(vec![
                Cell::new(&s.name),
                Cell::new(k),
                Cell::new(kind),
                Cell::new(v).set_alignment(CellAlignment::Right),
            ]);
            any = true;
        }
    }
    if any {
        out.push_str(&counters.to_string());
        out.push('\n');
    }
    out
}
