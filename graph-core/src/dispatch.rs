//! The mcore dispatch model (DPDK 23.07's `rte_graph_model_mcore_dispatch`).
//!
//! Several graphs, one per lcore, form a [`Dispatch`] set. A node can be
//! bound to an lcore ([`Dispatch::bind`]); a graph of the set runs the nodes
//! bound to its own lcore and the unbound ones, and hands the stream of a
//! node bound elsewhere to that lcore's graph through the lcore's bounded
//! lock-free work queue, instead of running it. Inside each graph the walk,
//! the home run and stream doubling are unchanged.
//!
//! - A graph takes the items in its queue at the start of each walk and
//!   appends each to the named node's stream (which makes the node
//!   pending).
//! - A full queue is back-pressure, not loss: the stream stays where it is,
//!   the graph counts it (`full`), and offers it again at its next walk.
//! - Objects of one node and one sending graph arrive in the order they
//!   were sent.
//! - A source bound to another lcore is not run.
//!
//! Objects cross threads as words (an [`Object`](crate::Object) is `Send`
//! and moved bit for bit). Items still queued when the set is dropped are
//! forgotten, not dropped: drain first (walk until [`Dispatch::idle`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crossbeam_queue::ArrayQueue;

use crate::error::{GraphError, Result};
use crate::obj::Obj;
use crate::registry::{lock, NodeId};

/// One stream handed to another lcore's graph.
pub(crate) struct WorkItem {
    pub node: NodeId,
    pub objs: Vec<Obj>,
}

/// Per-lcore counters of a [`Dispatch`] set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DispatchStats {
    /// The lcore.
    pub lcore: u32,
    /// Streams this lcore's graph handed to others.
    pub sent: u64,
    /// Objects in them.
    pub sent_objs: u64,
    /// Streams taken from its queue.
    pub received: u64,
    /// Times a stream waited because the target queue was full.
    pub full: u64,
    /// Items for a node this graph does not have (a set that
    /// [`Dispatch::check`] would refuse); their objects are lost.
    pub unknown: u64,
    /// Items waiting in its queue now.
    pub queued: usize,
    /// Cycles this lcore's walks spent handing streams over and taking
    /// them in (with statistics on).
    pub cycles: u64,
}

pub(crate) struct Lane {
    pub lcore: u32,
    pub queue: ArrayQueue<WorkItem>,
    pub sent: AtomicU64,
    pub sent_objs: AtomicU64,
    pub received: AtomicU64,
    pub full: AtomicU64,
    pub unknown: AtomicU64,
    pub cycles: AtomicU64,
}

/// A member graph's nodes: id, name, whether a source.
pub(crate) type Members = Vec<(NodeId, String, bool)>;

pub(crate) struct Inner {
    pub lanes: Vec<Lane>,
    affinity: Mutex<HashMap<String, u32>>,
    /// Node ids of each lane's graph, once it joined.
    members: Mutex<HashMap<u32, Members>>,
}

/// A set of graphs working in the mcore dispatch model (see the module
/// documentation). Cloning shares the set.
#[derive(Clone)]
pub struct Dispatch(pub(crate) Arc<Inner>);

impl std::fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatch").field("lcores", &self.lcores()).finish()
    }
}

fn bad(msg: String) -> GraphError {
    GraphError::Dispatch(msg)
}

impl Dispatch {
    /// A set of graphs on `lcores`, each with a work queue of
    /// `queue_size` streams (DPDK sizes it from the node count).
    pub fn new(lcores: &[u32], queue_size: usize) -> Result<Dispatch> {
        if lcores.is_empty() {
            return Err(bad("a dispatch set needs at least one lcore".into()));
        }
        if queue_size == 0 {
            return Err(bad("a dispatch work queue holds at least one stream".into()));
        }
        let mut seen = lcores.to_vec();
        seen.sort_unstable();
        if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
            return Err(bad(format!("lcore {} is in the dispatch set twice", w[0])));
        }
        let lanes = lcores
            .iter()
            .map(|&lcore| Lane {
                lcore,
                queue: ArrayQueue::new(queue_size),
                sent: AtomicU64::new(0),
                sent_objs: AtomicU64::new(0),
                received: AtomicU64::new(0),
                full: AtomicU64::new(0),
                unknown: AtomicU64::new(0),
                cycles: AtomicU64::new(0),
            })
            .collect();
        Ok(Dispatch(Arc::new(Inner {
            lanes,
            affinity: Mutex::new(HashMap::new()),
            members: Mutex::new(HashMap::new()),
        })))
    }

    /// The set's lcores.
    pub fn lcores(&self) -> Vec<u32> {
        self.0.lanes.iter().map(|l| l.lcore).collect()
    }

    pub(crate) fn lane_of(&self, lcore: u32) -> Option<usize> {
        self.0.lanes.iter().position(|l| l.lcore == lcore)
    }

    /// Binds node `node` (by name, clones included) to `lcore`
    /// (`rte_graph_model_mcore_dispatch_node_lcore_affinity_set`). Takes
    /// effect for graphs that join the set afterwards. Errors: an lcore
    /// not in the set, a node bound to another lcore already.
    pub fn bind(&self, node: &str, lcore: u32) -> Result<()> {
        if self.lane_of(lcore).is_none() {
            return Err(bad(format!("node \"{node}\": lcore {lcore} is not in the dispatch set {:?}", self.lcores())));
        }
        let mut a = lock(&self.0.affinity);
        match a.get(node) {
            Some(&l) if l != lcore => {
                Err(bad(format!("node \"{node}\" is bound to lcore {l} already; it cannot also run on lcore {lcore}")))
            }
            _ => {
                a.insert(node.to_string(), lcore);
                Ok(())
            }
        }
    }

    /// The lcore `node` is bound to, if any.
    pub fn affinity(&self, node: &str) -> Option<u32> {
        lock(&self.0.affinity).get(node).copied()
    }

    pub(crate) fn join(&self, lcore: u32, nodes: Members) {
        lock(&self.0.members).insert(lcore, nodes);
    }

    /// Checks the set once its graphs joined: every lcore has a graph, and
    /// every node a graph may hand over is in the graph of the lcore it is
    /// bound to.
    pub fn check(&self) -> Result<()> {
        let m = lock(&self.0.members);
        let a = lock(&self.0.affinity);
        for l in self.lcores() {
            if !m.contains_key(&l) {
                return Err(bad(format!("lcore {l} of the dispatch set has no graph")));
            }
        }
        for (l, nodes) in m.iter() {
            for (_, name, source) in nodes {
                if let Some(&to) = a.get(name) {
                    if to != *l && !*source && !m[&to].iter().any(|(_, n, _)| n == name) {
                        return Err(bad(format!(
                            "node \"{name}\" is bound to lcore {to}, whose graph does not have it (the graph of lcore {l} would hand it streams)"
                        )));
                    }
                }
            }
        }
        for (name, to) in a.iter() {
            if !m.get(to).is_some_and(|nodes| nodes.iter().any(|(_, n, _)| n == name)) {
                return Err(bad(format!("node \"{name}\" is bound to lcore {to}, whose graph does not have it")));
            }
        }
        Ok(())
    }

    /// Whether every work queue is empty.
    pub fn idle(&self) -> bool {
        self.0.lanes.iter().all(|l| l.queue.is_empty())
    }

    /// Counters per lcore.
    pub fn stats(&self) -> Vec<DispatchStats> {
        self.0
            .lanes
            .iter()
            .map(|l| DispatchStats {
                lcore: l.lcore,
                sent: l.sent.load(Relaxed),
                sent_objs: l.sent_objs.load(Relaxed),
                received: l.received.load(Relaxed),
                full: l.full.load(Relaxed),
                unknown: l.unknown.load(Relaxed),
                queued: l.queue.len(),
                cycles: l.cycles.load(Relaxed),
            })
            .collect()
    }
}

/// A graph's place in a dispatch set, used by its walk.
pub(crate) struct DispatchState {
    pub set: Arc<Inner>,
    /// This graph's lane.
    pub me: usize,
    /// Per node index: the lane of the lcore it is bound to, if not ours.
    pub remote: Vec<Option<u32>>,
    /// Per node index: its id.
    pub ids: Vec<NodeId>,
    /// Node id → node index.
    pub by_id: HashMap<NodeId, u32>,
    /// Per node index: its offset in graph memory.
    pub offs: Vec<u32>,
    /// Offsets of nodes whose stream waits for room in a full queue.
    pub deferred: Vec<u32>,
}
