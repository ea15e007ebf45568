//! Graphs: creation, lookup, destruction, the walk entry point and
//! control-plane access to a graph's nodes.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, Weak};

use crate::builder;
use crate::error::{GraphError, Result};
use crate::fastpath;
use crate::mem::{GraphMem, NodePlan};
use crate::registry::{self, lock, NodeId, NodeInfo, NodeRegistration};
use crate::stats::NodeStats;

/// Default number of objects a stream holds before it grows
/// (`RTE_GRAPH_BURST_SIZE`).
pub const BURST_SIZE: u32 = 256;
/// Longest graph name, in bytes.
pub const GRAPH_NAME_MAX: usize = 63;

/// Identifier of a graph (`rte_graph_t`). Ids are not reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GraphId(pub u32);

impl fmt::Display for GraphId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parameters of [`Graph::create`] (`struct rte_graph_param`).
#[derive(Debug, Clone)]
pub struct GraphParam {
    /// Glob patterns (fnmatch style) naming the nodes; next nodes are added
    /// transitively.
    pub node_patterns: Vec<String>,
    /// Keep per-node statistics (calls, objs, cycles). Default on, as in
    /// DPDK; [`Graph::set_stats`] changes it later.
    pub stats: bool,
    /// Initial capacity of every stream. Default [`BURST_SIZE`].
    pub burst_size: u32,
    /// With `stats`: keep a cycles-per-call histogram per node and make
    /// each node's statistics row whole for readers (a seqlock). Default
    /// off; [`Graph::set_histograms`] changes it later.
    pub histograms: bool,
    /// The graph gets its objects from the other graphs of a dispatch set
    /// (see [`Graph::set_dispatch`]): it may have no source node, and
    /// nodes no source reaches are kept. Default off.
    pub fed_by_dispatch: bool,
    /// When the graph is destroyed, keep its final statistics for
    /// [`ClusterStats::refresh`](crate::ClusterStats::refresh) to find, so
    /// a cluster that never saw the graph alive still counts it (graphs
    /// replaced while running). A few KiB per destroyed graph, kept for the
    /// life of the process. Default off.
    pub keep_stats: bool,
    /// Typed values for the nodes' init (see [`Env`](crate::Env)).
    pub env: crate::Env,
}

impl GraphParam {
    /// Parameters with these node patterns and the defaults.
    pub fn new<I, S>(patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        GraphParam {
            node_patterns: patterns.into_iter().map(Into::into).collect(),
            stats: true,
            burst_size: BURST_SIZE,
            histograms: false,
            fed_by_dispatch: false,
            keep_stats: false,
            env: crate::Env::new(),
        }
    }

    /// Adds `value` to the graph's environment: every node's init can ask
    /// for it by type with [`NodeInfo::env`].
    pub fn with<T: std::any::Any + Send + Sync>(mut self, value: T) -> Self {
        self.env.insert(value);
        self
    }

    /// Replaces the graph's environment.
    pub fn env(mut self, env: crate::Env) -> Self {
        self.env = env;
        self
    }

    /// Sets [`GraphParam::stats`].
    pub fn stats(mut self, on: bool) -> Self {
        self.stats = on;
        self
    }

    /// Sets [`GraphParam::histograms`].
    pub fn histograms(mut self, on: bool) -> Self {
        self.histograms = on;
        self
    }

    /// Sets [`GraphParam::keep_stats`].
    pub fn keep_stats(mut self, on: bool) -> Self {
        self.keep_stats = on;
        self
    }

    /// Sets [`GraphParam::fed_by_dispatch`].
    pub fn fed_by_dispatch(mut self, on: bool) -> Self {
        self.fed_by_dispatch = on;
        self
    }

    /// Sets [`GraphParam::burst_size`].
    pub fn burst_size(mut self, n: u32) -> Self {
        self.burst_size = n;
        self
    }
}

/// Control data of one node of a graph.
#[derive(Debug, Clone)]
pub(crate) struct NodeMeta {
    pub name: String,
    pub id: NodeId,
    pub parent: Option<String>,
    pub source: bool,
    pub edges: Vec<usize>,
    pub next_names: Vec<String>,
    pub reg: &'static NodeRegistration,
}

impl NodeMeta {
    fn info<'a>(&'a self, graph: &'a GraphShared) -> NodeInfo<'a> {
        NodeInfo {
            graph_name: &graph.name,
            graph_id: graph.id.0,
            node_name: &self.name,
            node_id: self.id,
            parent_name: self.parent.as_deref(),
            next_nodes: &self.next_names,
            env: &graph.env,
        }
    }
}

/// What a graph shares with stats readers: its memory and control data.
pub(crate) struct GraphShared {
    pub name: String,
    /// What the graph was made with (for `clone_graph`).
    pub param: GraphParam,
    pub env: crate::Env,
    pub id: GraphId,
    pub nodes: Vec<NodeMeta>,
    pub mem: GraphMem,
}

struct GraphEntry {
    id: GraphId,
    name: String,
    shared: Weak<GraphShared>,
}

struct GraphTable {
    next_id: u32,
    graphs: Vec<GraphEntry>,
}

static GRAPHS: Mutex<GraphTable> = Mutex::new(GraphTable { next_id: 0, graphs: Vec::new() });

/// Live graphs whose names match `pattern`, for cluster stats.
pub(crate) fn graphs_matching(pattern: &glob::Pattern) -> Vec<Arc<GraphShared>> {
    lock(&GRAPHS).graphs.iter().filter(|g| pattern.matches(&g.name)).filter_map(|g| g.shared.upgrade()).collect()
}

/// The id of the graph called `name` (`rte_graph_from_name`).
pub fn graph_from_name(name: &str) -> Option<GraphId> {
    lock(&GRAPHS).graphs.iter().find(|g| g.name == name && g.shared.strong_count() > 0).map(|g| g.id)
}

/// The name of graph `id` (`rte_graph_id_to_name`).
pub fn graph_id_to_name(id: GraphId) -> Option<String> {
    lock(&GRAPHS).graphs.iter().find(|g| g.id == id && g.shared.strong_count() > 0).map(|g| g.name.clone())
}

/// Every live graph, in creation order.
pub fn graph_list() -> Vec<(GraphId, String)> {
    lock(&GRAPHS).graphs.iter().filter(|g| g.shared.strong_count() > 0).map(|g| (g.id, g.name.clone())).collect()
}

/// A graph, walked by one thread at a time (`Send`, not `Sync`).
///
/// Dropping it destroys the graph (`rte_graph_destroy`): every node's fini
/// runs and the name becomes free. Statistics handles taken from it
/// ([`ClusterStats`](crate::ClusterStats)) keep reading its final counters.
pub struct Graph {
    shared: Arc<GraphShared>,
    taps: Vec<Option<fastpath::Tap>>,
    /// Where feature-arc changes come from, if the environment has them.
    arcs_src: Option<crate::FeatureArcs>,
    /// The generation of `arcs` (compared at the start of each walk).
    arcs_gen: u64,
    /// The tables walks read (the header points here).
    arcs: Vec<Arc<crate::feature::ArcTable>>,
    /// The active packet trace, if any.
    tracer: Option<crate::trace::Tracer>,
    /// The graph's place in a dispatch set (mcore dispatch model).
    dispatch: Option<crate::dispatch::DispatchState>,
    _not_sync: PhantomData<Cell<()>>,
}

fn check_graph_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > GRAPH_NAME_MAX {
        "longer than 63 bytes"
    } else if name.chars().any(|c| c.is_control() || c == '"') {
        "contains a control character or a quote"
    } else {
        return Ok(());
    };
    Err(GraphError::InvalidGraphName { name: name.to_string(), reason })
}

impl Graph {
    /// Creates graph `name` from `param` (`rte_graph_create`): selects and
    /// checks the nodes, lays out the graph memory and runs every node's
    /// init. Safe to call from any thread, also while other graphs run.
    pub fn create(name: &str, param: &GraphParam) -> Result<Graph> {
        check_graph_name(name)?;
        if param.burst_size == 0 || param.burst_size > 1 << 16 {
            return Err(GraphError::BadParam {
                graph: name.to_string(),
                what: format!("burst size {} is outside 1..=65536", param.burst_size),
            });
        }
        let selected =
            registry::with_registry(|r| builder::select(r, name, &param.node_patterns, param.fed_by_dispatch))?;

        // Reserve the name, so that node init callbacks run without the lock.
        let id = {
            // Entries are removed when their graph drops (or its creation
            // fails); one without a live graph is a creation in progress on
            // another thread and holds its name.
            let mut t = lock(&GRAPHS);
            if t.graphs.iter().any(|g| g.name == name) {
                return Err(GraphError::DuplicateGraph { name: name.to_string() });
            }
            let id = GraphId(t.next_id);
            t.next_id += 1;
            t.graphs.push(GraphEntry { id, name: name.to_string(), shared: Weak::new() });
            id
        };
        let release = |id: GraphId| lock(&GRAPHS).graphs.retain(|g| g.id != id);

        let parent_names = registry::with_registry(|r| {
            Ok(selected
                .iter()
                .map(|s| s.entry.parent.and_then(|p| r.nodes().ok().map(|n| n[p.0 as usize].name.clone())))
                .collect::<Vec<_>>())
        });
        let parent_names = match parent_names {
            Ok(p) => p,
            Err(e) => {
                release(id);
                return Err(e);
            }
        };
        let nodes: Vec<NodeMeta> = selected
            .into_iter()
            .zip(parent_names)
            .map(|(s, parent)| NodeMeta {
                name: s.entry.name,
                id: s.entry.id,
                parent,
                source: s.entry.reg.flags.contains(registry::NodeFlags::SOURCE),
                edges: s.edges,
                next_names: s.entry.next,
                reg: s.entry.reg,
            })
            .collect();
        let plans: Vec<NodePlan<'_>> =
            nodes.iter().map(|n| NodePlan { name: &n.name, reg: n.reg, edges: &n.edges, source: n.source }).collect();
        let mem = GraphMem::new(&plans, param.burst_size);
        drop(plans);
        let shared = Arc::new(GraphShared {
            name: name.to_string(),
            param: param.clone(),
            env: param.env.clone(),
            id,
            nodes,
            mem,
        });
        // SAFETY: the graph was just populated and nothing else can reach
        // it yet; each context is initialised once.
        unsafe {
            shared.mem.set_stats(param.stats);
            shared.mem.set_hist(param.histograms);
        }
        for (i, n) in shared.nodes.iter().enumerate() {
            // SAFETY: as above; node `i`'s context slot was laid out for
            // `n.reg`.
            let res = unsafe { shared.mem.init_ctx(i, n.reg, &n.info(&shared)) };
            if let Err(e) = res {
                for (j, m) in shared.nodes[..i].iter().enumerate().rev() {
                    // SAFETY: contexts `0..i` were initialised just above.
                    unsafe { shared.mem.fini_ctx(j, m.reg, &m.info(&shared)) };
                }
                release(id);
                return Err(GraphError::NodeInit {
                    graph: name.to_string(),
                    node: n.name.clone(),
                    reason: e.to_string(),
                });
            }
        }
        if let Some(g) = lock(&GRAPHS).graphs.iter_mut().find(|g| g.id == id) {
            g.shared = Arc::downgrade(&shared);
        }
        let taps = (0..shared.nodes.len()).map(|_| None).collect();
        let arcs_src = param.env.get::<crate::FeatureArcs>().cloned();
        let (arcs_gen, arcs) = match &arcs_src {
            Some(a) => a.snapshot(),
            None => (0, crate::feature::all_off()),
        };
        // SAFETY: no walk yet; `arcs` moves into the `Graph` (its heap
        // buffer does not move) and is replaced only by `refresh_arcs`.
        unsafe { shared.mem.set_arcs(&arcs) };
        Ok(Graph { shared, taps, arcs_src, arcs_gen, arcs, tracer: None, dispatch: None, _not_sync: PhantomData })
    }

    /// Walks the graph once (`rte_graph_walk`): every source node runs, then
    /// every node that received objects, in the order they received their
    /// first object, until no stream is pending.
    #[inline]
    pub fn walk(&mut self) {
        if let Some(src) = &self.arcs_src {
            if src.generation() != self.arcs_gen {
                self.refresh_arcs();
            }
        }
        let g = self.shared.mem.hdr();
        // SAFETY: `&mut self` gives this thread exclusive use of the fast
        // path; the graph is fully initialised (`create` returned it).
        unsafe {
            match ((*g).stats, (*g).tapped, (*g).hist) {
                (stats, _, hist) if self.dispatch.is_some() => {
                    let d = self.dispatch.as_mut();
                    match (stats, hist) {
                        (true, true) => {
                            fastpath::walk_impl::<true, true, true, false, true>(g, &mut self.taps, None, d)
                        }
                        (true, false) => {
                            fastpath::walk_impl::<true, true, false, false, true>(g, &mut self.taps, None, d)
                        }
                        (false, _) => {
                            fastpath::walk_impl::<false, true, false, false, true>(g, &mut self.taps, None, d)
                        }
                    }
                }
                (stats, _, hist) if self.tracer.is_some() => match (stats, hist) {
                    (true, true) => fastpath::walk_impl::<true, true, true, true, false>(
                        g,
                        &mut self.taps,
                        self.tracer.as_mut(),
                        None,
                    ),
                    (true, false) => fastpath::walk_impl::<true, true, false, true, false>(
                        g,
                        &mut self.taps,
                        self.tracer.as_mut(),
                        None,
                    ),
                    (false, _) => fastpath::walk_impl::<false, true, false, true, false>(
                        g,
                        &mut self.taps,
                        self.tracer.as_mut(),
                        None,
                    ),
                },
                (true, false, false) => fastpath::walk_impl::<true, false, false, false, false>(g, &mut [], None, None),
                (true, false, true) => fastpath::walk_impl::<true, false, true, false, false>(g, &mut [], None, None),
                (false, false, _) => fastpath::walk_impl::<false, false, false, false, false>(g, &mut [], None, None),
                (true, true, false) => {
                    fastpath::walk_impl::<true, true, false, false, false>(g, &mut self.taps, None, None)
                }
                (true, true, true) => {
                    fastpath::walk_impl::<true, true, true, false, false>(g, &mut self.taps, None, None)
                }
                (false, true, _) => {
                    fastpath::walk_impl::<false, true, false, false, false>(g, &mut self.taps, None, None)
                }
            }
        }
        // A trace whose budget is spent ends with the walk that finished
        // its last packets: walks return to the untraced code.
        if self.tracer.as_ref().is_some_and(|t| t.remaining.load(std::sync::atomic::Ordering::Relaxed) == 0) {
            self.tracer = None;
        }
    }

    /// Takes the current feature-arc state: between walks, so that every
    /// object of a walk sees one state.
    #[cold]
    fn refresh_arcs(&mut self) {
        let Some(src) = &self.arcs_src else { return };
        let (generation, arcs) = src.snapshot();
        // SAFETY: `&mut self`: no walk runs; the header is pointed at the
        // new tables before the old ones are dropped.
        unsafe { self.shared.mem.set_arcs(&arcs) };
        self.arcs = arcs;
        self.arcs_gen = generation;
    }

    /// The feature-arc generation this graph walks with (see
    /// [`FeatureArcs::generation`](crate::FeatureArcs::generation)): a
    /// change is in effect for this graph once this reaches it.
    pub fn feature_generation(&self) -> u64 {
        self.arcs_gen
    }

    /// Sets the tap of node `name`: a function called with the node's
    /// stream just before each call of the node, for capture and tracing.
    /// `O` is the node's object type, or [`Obj`](crate::Obj) to see raw
    /// handles of any node. Walks without any tap pay nothing for the
    /// feature. Errors: no such node, or a tap of another object type.
    pub fn set_tap<O, F>(&mut self, name: &str, mut tap: F) -> Result<()>
    where
        O: crate::Object,
        F: FnMut(&[O]) + Send + 'static,
    {
        let i = self.node_index(name)?;
        let v = &self.shared.nodes[i].reg.vtable;
        let want = std::any::TypeId::of::<O>();
        if want != (v.obj_type)() && want != std::any::TypeId::of::<crate::Obj>() {
            return Err(GraphError::TapTypeMismatch {
                node: name.to_string(),
                node_type: (v.obj_type_name)(),
                tap_type: std::any::type_name::<O>(),
            });
        }
        let raw: fastpath::Tap = Box::new(move |objs: &[crate::Obj]| {
            // For `O = Obj` the words are read as opaque handles (`Object`
            // guarantees the layout); the view ends before the node runs.
            // SAFETY: node `i`'s stream holds values of its object type,
            // `O` or opaque words (fastpath rule 5); the view is shared.
            let typed = unsafe { core::slice::from_raw_parts(objs.as_ptr().cast::<O>(), objs.len()) };
            tap(typed)
        });
        self.taps[i] = Some(raw);
        // SAFETY: `&mut self`: no walk runs.
        unsafe { self.shared.mem.set_tapped(true) };
        Ok(())
    }

    /// Starts a packet trace (see [`trace`](crate::trace)): the next
    /// objects entering node `name` (made by it, for a source) that pass
    /// `filter` are marked, as long as `remaining` (which several graphs
    /// may share) is not spent; `sink` gets each marked object's path when
    /// the walk that carried it ends. Replaces an active trace. Errors: no
    /// such node, or a filter of another object type.
    pub fn trace_start<O, F, S>(
        &mut self,
        name: &str,
        remaining: Arc<std::sync::atomic::AtomicUsize>,
        mut filter: F,
        sink: S,
    ) -> Result<()>
    where
        O: crate::Object,
        F: FnMut(&O) -> bool + Send + 'static,
        S: FnMut(crate::TraceRecord) + Send + 'static,
    {
        let start = self.node_index(name)?;
        if self.dispatch.is_some() {
            return Err(GraphError::Dispatch(format!(
                "graph \"{}\": no packet trace in the dispatch model",
                self.name()
            )));
        }
        let v = &self.shared.nodes[start].reg.vtable;
        if std::any::TypeId::of::<O>() != (v.obj_type)() {
            return Err(GraphError::TapTypeMismatch {
                node: name.to_string(),
                node_type: (v.obj_type_name)(),
                tap_type: std::any::type_name::<O>(),
            });
        }
        let filter = Box::new(move |o: crate::Obj| {
            // `o` is a bitwise copy of an object from the start node's
            // stream or one of its edges' (all of type `O`, fastpath rule 5).
            // SAFETY: read through a shared borrow for the call; the copy is
            // never dropped or used as an owner.
            let typed = unsafe { &*(&o as *const crate::Obj).cast::<O>() };
            filter(typed)
        });
        let nodes = self
            .shared
            .nodes
            .iter()
            .map(|n| crate::trace::TraceNode {
                name: n.name.clone(),
                next: n.next_names.clone(),
                source: n.source,
                info: n.reg.vtable.trace,
                drops: n.reg.counters,
            })
            .collect();
        self.tracer =
            Some(crate::trace::Tracer { start, remaining, filter, sink: Box::new(sink), live: Vec::new(), nodes });
        Ok(())
    }

    /// A clone of this graph (`rte_graph_clone`): named
    /// `<name>-<suffix>`, with the same nodes (edges as registered now),
    /// environment and parameters, and memory, streams and node contexts
    /// of its own (every node's init runs again). For the dispatch model,
    /// one clone per lcore.
    pub fn clone_graph(&self, suffix: &str) -> Result<Graph> {
        let name = format!("{}-{suffix}", self.name());
        let mut param = self.shared.param.clone();
        param.node_patterns = self.shared.nodes.iter().map(|n| glob::Pattern::escape(&n.name)).collect();
        Graph::create(&name, &param)
    }

    /// Makes this graph the one of `lcore` in dispatch set `set`
    /// (`rte_graph_model_mcore_dispatch_core_bind` and the dispatch model):
    /// from its next walk it takes streams from its lcore's queue, runs the
    /// nodes bound to `lcore` and the unbound ones, and hands the streams
    /// of nodes bound to other lcores to their graphs. Node bindings made
    /// after this call do not apply to this graph. A packet trace is not
    /// available in this model.
    pub fn set_dispatch(&mut self, set: &crate::Dispatch, lcore: u32) -> Result<()> {
        let me = set.lane_of(lcore).ok_or_else(|| {
            GraphError::Dispatch(format!(
                "graph \"{}\": lcore {lcore} is not in the dispatch set {:?}",
                self.name(),
                set.lcores()
            ))
        })?;
        if self.tracer.is_some() {
            return Err(GraphError::Dispatch(format!("graph \"{}\": stop its packet trace first", self.name())));
        }
        let nodes = &self.shared.nodes;
        let mut remote = Vec::with_capacity(nodes.len());
        for n in nodes {
            remote.push(match set.affinity(&n.name) {
                Some(l) if l != lcore => Some(set.lane_of(l).expect("bound lcores are in the set") as u32),
                _ => None,
            });
        }
        let ids: Vec<NodeId> = nodes.iter().map(|n| n.id).collect();
        let by_id = ids.iter().enumerate().map(|(i, id)| (*id, i as u32)).collect();
        set.join(lcore, nodes.iter().map(|n| (n.id, n.name.clone(), n.source)).collect());
        self.dispatch = Some(crate::dispatch::DispatchState {
            set: set.0.clone(),
            me,
            remote,
            ids,
            by_id,
            offs: self.shared.mem.offs().to_vec(),
            deferred: Vec::new(),
        });
        Ok(())
    }

    /// Ends the packet trace; whether one was active.
    pub fn trace_stop(&mut self) -> bool {
        self.tracer.take().is_some()
    }

    /// Removes the tap of node `name`; `false` if it had none (or there is
    /// no such node).
    pub fn clear_tap(&mut self, name: &str) -> bool {
        let Ok(i) = self.node_index(name) else { return false };
        let had = self.taps[i].take().is_some();
        let any = self.taps.iter().any(Option::is_some);
        // SAFETY: `&mut self`: no walk runs.
        unsafe { self.shared.mem.set_tapped(any) };
        had
    }

    fn node_index(&self, name: &str) -> Result<usize> {
        self.shared
            .nodes
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| GraphError::NoSuchNode { name: name.to_string() })
    }

    /// The graph's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The graph's id.
    pub fn id(&self) -> GraphId {
        self.shared.id
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.shared.nodes.len()
    }

    /// Node names, in memory order.
    pub fn node_names(&self) -> Vec<&str> {
        self.shared.nodes.iter().map(|n| n.name.as_str()).collect()
    }

    /// Names of the source nodes, in walk order.
    pub fn source_names(&self) -> Vec<&str> {
        self.shared.nodes.iter().filter(|n| n.source).map(|n| n.name.as_str()).collect()
    }

    /// Whether walks keep statistics.
    pub fn stats_enabled(&self) -> bool {
        // SAFETY: reading a plain field of the header on the owning thread
        // (`&self` on a `!Sync` type: no walk runs concurrently).
        unsafe { (*self.shared.mem.hdr()).stats }
    }

    /// Turns statistics on or off; counters keep their values.
    pub fn set_stats(&mut self, on: bool) {
        // SAFETY: `&mut self`: no walk runs.
        unsafe { self.shared.mem.set_stats(on) }
    }

    /// Turns histograms (and whole statistics rows) on or off.
    pub fn set_histograms(&mut self, on: bool) {
        // SAFETY: `&mut self`: no walk runs.
        unsafe { self.shared.mem.set_hist(on) }
    }

    /// Statistics of every node of this graph.
    pub fn stats(&self) -> Vec<NodeStats> {
        crate::stats::graph_stats(&self.shared)
    }

    /// Statistics of the node called `name`.
    pub fn node_stats(&self, name: &str) -> Option<NodeStats> {
        self.stats().into_iter().find(|s| s.name == name)
    }

    /// The private context of node `name`, if it has type `T`: lets the
    /// control plane configure a node between walks.
    pub fn node_context_mut<T: 'static>(&mut self, name: &str) -> Option<&mut T> {
        let i = self.shared.nodes.iter().position(|n| n.name == name)?;
        let reg = self.shared.nodes[i].reg;
        // SAFETY: contexts are initialised while the `Graph` exists;
        // `&mut self` excludes walks for the borrow's lifetime; the type is
        // checked by `ctx_mut`.
        unsafe { self.shared.mem.ctx_mut::<T>(i, reg).map(|p| &mut *p) }
    }

    /// `(pending, capacity)` of node `name`'s stream (0 pending between
    /// walks).
    pub fn stream_state(&self, name: &str) -> Option<(u32, u32)> {
        let i = self.shared.nodes.iter().position(|n| n.name == name)?;
        // SAFETY: `&self` on the owning thread (`!Sync`): no walk runs.
        Some(unsafe { self.shared.mem.stream_state(i) })
    }

    pub(crate) fn shared(&self) -> &Arc<GraphShared> {
        &self.shared
    }
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph").field("name", &self.shared.name).field("id", &self.shared.id).finish()
    }
}

impl Drop for Graph {
    fn drop(&mut self) {
        let shared = &self.shared;
        for (i, n) in shared.nodes.iter().enumerate() {
            // SAFETY: every context was initialised by `create`; this is the
            // only `Graph` for this memory and it is going away, so no walk
            // runs and no context is used afterwards.
            unsafe { shared.mem.fini_ctx(i, n.reg, &n.info(shared)) };
        }
        // Published before the graph leaves the table: a cluster refresh
        // finds it one way or the other (by id, never twice).
        if shared.param.keep_stats {
            crate::stats::retire(shared);
        }
        lock(&GRAPHS).graphs.retain(|g| g.id != shared.id);
    }
}
