//! Node registration and the node control plane (`rte_node_*`).
//!
//! Nodes are declared with [`node!`](crate::node) and land in a link-time
//! distributed slice ([`linkme`]); the registry reads that slice once, sorted
//! by name so that node ids do not depend on link order, and refuses
//! duplicates. Clones and edge updates are made at run time and live only in
//! the registry: a graph takes a snapshot of the nodes it uses when it is
//! created, so changing edges later never affects a running graph.

use std::any::TypeId;
use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::sync::{Mutex, MutexGuard, OnceLock};

use bitflags::bitflags;

use crate::error::{GraphError, Result};
use crate::fastpath::{Ctx, Objs};
use crate::obj::Object;

/// Longest node name, in bytes (DPDK's `RTE_NODE_NAMESIZE` minus the NUL).
pub const NODE_NAME_MAX: usize = 63;
/// Most edges a node may have.
pub const MAX_EDGES: usize = 4096;

bitflags! {
    /// Node flags (`RTE_NODE_*_F`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct NodeFlags: u32 {
        /// A source node: run at the start of every walk, never enqueued to.
        const SOURCE = 1 << 0;
    }
}

/// Identifier of a registered node (`rte_node_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct NodeId(pub u32);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Error a node's init callback returns.
pub type InitError = Box<dyn Error + Send + Sync>;

/// What a node's init and fini callbacks learn about the instance.
#[derive(Debug, Clone, Copy)]
pub struct NodeInfo<'a> {
    /// The graph being created or destroyed.
    pub graph_name: &'a str,
    /// Its id.
    pub graph_id: u32,
    /// This node's name (`ethdev_rx-0-1` for a clone).
    pub node_name: &'a str,
    /// This node's id.
    pub node_id: NodeId,
    /// The node it was cloned from, if any.
    pub parent_name: Option<&'a str>,
    /// Its next nodes, in edge order.
    pub next_nodes: &'a [String],
    /// The graph's environment (see [`GraphParam::with`](crate::GraphParam::with)).
    pub env: &'a crate::Env,
}

impl NodeInfo<'_> {
    /// The value of type `T` in the graph's environment, or an error
    /// naming the type, this node and the graph.
    pub fn env<T: std::any::Any>(&self) -> core::result::Result<&T, crate::MissingEnv> {
        self.env.get::<T>().ok_or_else(|| {
            let names = self.env.type_names();
            crate::MissingEnv {
                graph: self.graph_name.to_string(),
                node: self.node_name.to_string(),
                type_name: std::any::type_name::<T>(),
                present: if names.is_empty() { "nothing".to_string() } else { names.join(", ") },
            }
        })
    }

    /// The index of the edge to node `next`, if the node has one.
    pub fn edge_to(&self, next: &str) -> Option<u16> {
        self.next_nodes.iter().position(|n| n == next).map(|i| i as u16)
    }

    /// The part of a clone's name after `<parent>-` (`"0-1"` for
    /// `ethdev_rx-0-1`); `None` for a node that is not a clone.
    pub fn clone_suffix(&self) -> Option<&str> {
        let parent = self.parent_name?;
        self.node_name.strip_prefix(parent)?.strip_prefix('-')
    }
}

/// The behaviour of a node type. [`node!`](crate::node) implements it for
/// a hidden type from a process function; implement it by hand only when a
/// node needs something the macro does not offer.
pub trait NodeImpl: 'static {
    /// The node's private context, stored inside the graph's memory next to
    /// the node; one per node instance (per graph, per clone).
    type Context: Send + 'static;

    /// The objects the node's stream carries (and its edges lead to):
    /// [`Obj`](crate::Obj) for opaque handles, or a typed handle such as a
    /// packet.
    type Object: Object;

    /// Processes `objs` (the node's pending stream; empty for a source) and
    /// returns the number of objects handled, which stats count as `objs`.
    fn process(ctx: &mut Ctx<'_, Self::Object>, state: &mut Self::Context, objs: Objs<'_, Self::Object>) -> usize;

    /// Builds the context when a graph holding the node is created.
    fn init(info: &NodeInfo<'_>) -> core::result::Result<Self::Context, InitError>;

    /// Called when the graph is destroyed, before the context is dropped.
    fn fini(_info: &NodeInfo<'_>, _state: &mut Self::Context) {}

    /// What a packet trace shows of `obj` at this node (see
    /// [`trace`](crate::trace)); `None` shows nothing.
    fn trace(_obj: &Self::Object) -> Option<String> {
        None
    }
}

/// A node's trace formatter, type-erased: reads the object at the pointer.
pub(crate) type TraceFn = unsafe fn(*const crate::Obj) -> Option<String>;

/// The type-erased entry points of a node type, stored in its registration.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct NodeVTable {
    pub(crate) process: crate::fastpath::ProcessFn,
    pub(crate) ctx_size: usize,
    pub(crate) ctx_type: fn() -> TypeId,
    pub(crate) ctx_type_name: fn() -> &'static str,
    pub(crate) obj_type: fn() -> TypeId,
    pub(crate) obj_type_name: fn() -> &'static str,
    pub(crate) init: crate::mem::InitFn,
    pub(crate) fini: crate::mem::FiniFn,
    pub(crate) trace: TraceFn,
}

/// A static node descriptor (`struct rte_node_register`). Made by
/// [`node!`](crate::node); read by the registry.
pub struct NodeRegistration {
    /// Node name.
    pub name: &'static str,
    /// Flags (SOURCE).
    pub flags: NodeFlags,
    /// Next-node names, in edge order: edge `i` leads to `next_nodes[i]`.
    pub next_nodes: &'static [&'static str],
    /// Names of the node's drop reasons, indexed as in [`Ctx::count`]: each
    /// counts objects the node sent to be freed, and the reports add them
    /// up as drops.
    pub counters: &'static [&'static str],
    /// Names of the node's plain counters (observations, such as packets
    /// of a kind seen), indexed as in [`Ctx::observe`]: never reported as
    /// drops.
    pub observations: &'static [&'static str],
    #[doc(hidden)]
    pub vtable: NodeVTable,
}

impl NodeRegistration {
    /// A descriptor for node type `N`.
    pub const fn new<N: NodeImpl>(
        name: &'static str,
        flags: NodeFlags,
        next_nodes: &'static [&'static str],
        counters: &'static [&'static str],
    ) -> Self {
        assert!(
            core::mem::align_of::<N::Context>() <= crate::mem::CACHE_LINE,
            "a node context may not need more than cache-line alignment"
        );
        NodeRegistration {
            name,
            flags,
            next_nodes,
            counters,
            observations: &[],
            vtable: NodeVTable {
                process: crate::fastpath::process_trampoline::<N>,
                ctx_size: core::mem::size_of::<N::Context>(),
                ctx_type: TypeId::of::<N::Context>,
                ctx_type_name: core::any::type_name::<N::Context>,
                obj_type: TypeId::of::<N::Object>,
                obj_type_name: core::any::type_name::<N::Object>,
                init: crate::mem::init_thunk::<N>,
                fini: crate::mem::fini_thunk::<N>,
                trace: crate::fastpath::trace_trampoline::<N>,
            },
        }
    }
}

impl NodeRegistration {
    /// The descriptor with plain counters `observations` (see
    /// [`Ctx::observe`]).
    pub const fn with_observations(mut self, observations: &'static [&'static str]) -> Self {
        self.observations = observations;
        self
    }

    /// Drop reasons and plain counters together.
    pub(crate) fn nb_all_counters(&self) -> usize {
        self.counters.len() + self.observations.len()
    }
}

impl fmt::Debug for NodeRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeRegistration")
            .field("name", &self.name)
            .field("flags", &self.flags)
            .field("next_nodes", &self.next_nodes)
            .field("counters", &self.counters)
            .field("observations", &self.observations)
            .field("context", &(self.vtable.ctx_type_name)())
            .field("object", &(self.vtable.obj_type_name)())
            .finish()
    }
}

#[cfg(not(miri))]
#[doc(hidden)]
#[linkme::distributed_slice]
pub static NODE_REGISTRY: [NodeRegistration];

// Miri cannot read the linker-provided bounds of a distributed slice, but it
// does run `.init_array` constructors: under Miri, `node!` registers through
// a constructor that pushes onto this list instead.
#[cfg(miri)]
#[doc(hidden)]
pub static MIRI_NODE_REGISTRY: Mutex<Vec<&'static NodeRegistration>> = Mutex::new(Vec::new());

#[cfg(miri)]
#[doc(hidden)]
pub fn miri_register(reg: &'static NodeRegistration) {
    lock(&MIRI_NODE_REGISTRY).push(reg);
}

fn static_registrations() -> Vec<&'static NodeRegistration> {
    #[cfg(not(miri))]
    let v: Vec<_> = NODE_REGISTRY.iter().collect();
    #[cfg(miri)]
    let v = lock(&MIRI_NODE_REGISTRY).clone();
    v
}

/// One registered node, static or clone.
#[derive(Clone)]
pub(crate) struct NodeEntry {
    pub id: NodeId,
    pub name: String,
    pub reg: &'static NodeRegistration,
    pub next: Vec<String>,
    pub parent: Option<NodeId>,
}

impl NodeEntry {
    pub fn is_source(&self) -> bool {
        self.reg.flags.contains(NodeFlags::SOURCE)
    }
}

pub(crate) struct Registry {
    nodes: Vec<NodeEntry>,
    by_name: HashMap<String, NodeId>,
    broken: Option<GraphError>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a registry lock leaves consistent data behind
    // (every update is a single push or field write), so poison is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    lock(REGISTRY.get_or_init(|| Mutex::new(Registry::from_static())))
}

fn check_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > NODE_NAME_MAX {
        "longer than 63 bytes"
    } else if name.chars().any(|c| c.is_control() || c == '"') {
        "contains a control character or a quote"
    } else {
        return Ok(());
    };
    Err(GraphError::InvalidNodeName { name: name.to_string(), reason })
}

impl Registry {
    fn from_static() -> Registry {
        let mut regs = static_registrations();
        regs.sort_by_key(|r| r.name);
        let mut r = Registry { nodes: Vec::new(), by_name: HashMap::new(), broken: None };
        for reg in regs {
            let res = check_name(reg.name).and_then(|_| r.check_edges(reg.name, reg.next_nodes.len())).and_then(|_| {
                r.insert(reg.name.to_string(), reg, None, reg.next_nodes.iter().map(|s| s.to_string()).collect())
            });
            if let Err(e) = res {
                // Keep the first problem; every call then reports it.
                r.broken.get_or_insert(e);
            }
        }
        if r.broken.is_none() {
            if let Err(e) = r.apply_arcs() {
                r.broken = Some(e);
            }
        }
        r
    }

    /// Checks the feature arcs and gives their nodes the edges they need:
    /// the start an edge to every feature and the end, each feature one to
    /// every later feature and the end.
    fn apply_arcs(&mut self) -> Result<()> {
        let arcs = crate::feature::resolve(&|n| self.by_name.contains_key(n))?;
        for a in &arcs {
            let targets: Vec<&str> = a.features.iter().copied().chain([a.end]).collect();
            for (from, rest) in std::iter::once(a.start).chain(a.features.iter().copied()).zip(0..) {
                let id = self.by_name[from];
                let e = &mut self.nodes[id.0 as usize];
                for t in &targets[rest..] {
                    if !e.next.iter().any(|n| n == t) {
                        e.next.push(t.to_string());
                    }
                }
                let count = e.next.len();
                self.check_edges(from, count)?;
            }
        }
        crate::feature::set_arcs(arcs);
        Ok(())
    }

    fn check_edges(&self, name: &str, count: usize) -> Result<()> {
        if count > MAX_EDGES {
            return Err(GraphError::TooManyEdges { node: name.to_string(), count, max: MAX_EDGES });
        }
        Ok(())
    }

    fn insert(
        &mut self,
        name: String,
        reg: &'static NodeRegistration,
        parent: Option<NodeId>,
        next: Vec<String>,
    ) -> Result<NodeId> {
        if self.by_name.contains_key(&name) {
            return Err(GraphError::DuplicateNode { name });
        }
        let id = NodeId(self.nodes.len() as u32);
        self.by_name.insert(name.clone(), id);
        self.nodes.push(NodeEntry { id, name, reg, next, parent });
        Ok(id)
    }

    fn ok(&self) -> Result<()> {
        match &self.broken {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn entry_mut(&mut self, id: NodeId) -> Result<&mut NodeEntry> {
        self.ok()?;
        self.nodes.get_mut(id.0 as usize).ok_or(GraphError::NoSuchNodeId { id: id.0 })
    }

    fn entry(&self, id: NodeId) -> Result<&NodeEntry> {
        self.ok()?;
        self.nodes.get(id.0 as usize).ok_or(GraphError::NoSuchNodeId { id: id.0 })
    }

    pub fn by_name(&self, name: &str) -> Option<&NodeEntry> {
        self.by_name.get(name).map(|id| &self.nodes[id.0 as usize])
    }

    pub fn nodes(&self) -> Result<&[NodeEntry]> {
        self.ok()?;
        Ok(&self.nodes)
    }
}

/// Runs `f` with the registry locked (graph creation takes its snapshot
/// this way).
pub(crate) fn with_registry<R>(f: impl FnOnce(&Registry) -> Result<R>) -> Result<R> {
    let r = registry();
    r.ok()?;
    f(&r)
}

/// The id of the node called `name` (`rte_node_from_name`).
pub fn node_from_name(name: &str) -> Result<NodeId> {
    let r = registry();
    r.ok()?;
    r.by_name(name).map(|e| e.id).ok_or_else(|| GraphError::NoSuchNode { name: name.to_string() })
}

/// The name of node `id` (`rte_node_id_to_name`).
pub fn node_id_to_name(id: NodeId) -> Result<String> {
    Ok(registry().entry(id)?.name.clone())
}

/// Number of registered nodes, clones included (`rte_node_max_count`).
pub fn node_max_count() -> Result<u32> {
    Ok(registry().nodes()?.len() as u32)
}

/// Clones node `id` as `<name>-<suffix>` with the same process function,
/// context type, flags and edges (`rte_node_clone`). A clone cannot be
/// cloned.
pub fn node_clone(id: NodeId, suffix: &str) -> Result<NodeId> {
    let mut r = registry();
    let parent = r.entry(id)?.clone();
    if let Some(pid) = parent.parent {
        let pname = r.entry(pid)?.name.clone();
        return Err(GraphError::CloneOfClone { name: parent.name, parent: pname });
    }
    let name = format!("{}-{}", parent.name, suffix);
    if suffix.is_empty() {
        return Err(GraphError::InvalidNodeName { name, reason: "empty clone suffix" });
    }
    check_name(&name)?;
    r.insert(name, parent.reg, Some(id), parent.next)
}

/// Number of edges of node `id` (`rte_node_edge_count`).
pub fn node_edge_count(id: NodeId) -> Result<u16> {
    Ok(registry().entry(id)?.next.len() as u16)
}

/// The next-node names of node `id`, in edge order (`rte_node_edge_get`).
pub fn node_edge_get(id: NodeId) -> Result<Vec<String>> {
    Ok(registry().entry(id)?.next.clone())
}

/// Replaces the edges of node `id` from index `from` on with `next`,
/// growing the list as needed; `from = None` appends (`rte_node_edge_update`
/// with `RTE_EDGE_ID_INVALID`). Returns how many edges were written. Edges
/// past `from + next.len()` are kept. The names are resolved when a graph is
/// created, so they may name nodes not registered yet.
pub fn node_edge_update(id: NodeId, from: Option<u16>, next: &[&str]) -> Result<u16> {
    let mut r = registry();
    let e = r.entry_mut(id)?;
    let nb = e.next.len();
    let from = from.map(usize::from).unwrap_or(nb);
    if from > nb {
        return Err(GraphError::EdgeHole { node: e.name.clone(), from: from as u16, nb_edges: nb as u16 });
    }
    let end = from + next.len();
    if end > MAX_EDGES {
        return Err(GraphError::TooManyEdges { node: e.name.clone(), count: end, max: MAX_EDGES });
    }
    for n in next {
        check_name(n)?;
    }
    for (i, n) in next.iter().enumerate() {
        match e.next.get_mut(from + i) {
            Some(slot) => *slot = n.to_string(),
            None => e.next.push(n.to_string()),
        }
    }
    Ok(next.len() as u16)
}

/// Cuts the edges of node `id` down to `size` (`rte_node_edge_shrink`).
pub fn node_edge_shrink(id: NodeId, size: u16) -> Result<u16> {
    let mut r = registry();
    let e = r.entry_mut(id)?;
    if usize::from(size) > e.next.len() {
        return Err(GraphError::EdgeShrink { node: e.name.clone(), nb_edges: e.next.len() as u16, size });
    }
    e.next.truncate(size.into());
    Ok(size)
}

/// A registered node as listed by [`node_list`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct NodeSummary {
    /// Id.
    pub id: NodeId,
    /// Name.
    pub name: String,
    /// Parent's name, for a clone.
    pub parent: Option<String>,
    /// Whether it is a source node.
    pub source: bool,
    /// Next-node names in edge order.
    pub edges: Vec<String>,
    /// Counter names.
    pub counters: Vec<String>,
    /// Plain counter names.
    pub observations: Vec<String>,
    /// Size in bytes of its private context.
    pub context_size: usize,
}

/// Every registered node, in id order (`rte_node_list_dump`).
pub fn node_list() -> Result<Vec<NodeSummary>> {
    let r = registry();
    let nodes = r.nodes()?;
    Ok(nodes
        .iter()
        .map(|e| NodeSummary {
            id: e.id,
            name: e.name.clone(),
            parent: e.parent.map(|p| nodes[p.0 as usize].name.clone()),
            source: e.is_source(),
            edges: e.next.clone(),
            counters: e.reg.counters.iter().map(|s| s.to_string()).collect(),
            observations: e.reg.observations.iter().map(|s| s.to_string()).collect(),
            context_size: e.reg.vtable.ctx_size,
        })
        .collect())
}
