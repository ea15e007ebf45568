//! Packet trace (VPP's `trace add`): a graph marks the next objects that
//! enter a node and pass a filter, and records, for each marked object,
//! every node that handles it: the edge it took, what the node shows of it
//! (a `trace:` formatter declared with the node) and the drop reasons the
//! call counted. Records are handed over when the walk ends, which is when
//! their objects' paths end.
//!
//! A graph without a trace walks with the usual code (a separate
//! monomorphised walk runs while one is active), so untraced graphs pay
//! one predictable branch per walk.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::obj::Obj;

/// One node's handling of a traced object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TraceStep {
    /// The node.
    pub node: String,
    /// The node the object went to next; `None` if the node consumed it
    /// (transmitted, freed).
    pub edge: Option<String>,
    /// What the node's `trace:` formatter shows of the object, after the
    /// node ran (before, for an object it consumed).
    pub info: Option<String>,
    /// Drop reasons the call counted (name, count), if any.
    pub drops: Vec<(String, u64)>,
}

/// The path of one traced object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TraceRecord {
    /// Steps in order.
    pub steps: Vec<TraceStep>,
}

/// What the traced walk knows of a node.
pub(crate) struct TraceNode {
    pub name: String,
    pub next: Vec<String>,
    pub source: bool,
    pub info: crate::registry::TraceFn,
    pub drops: &'static [&'static str],
}

/// An active trace (owned by the graph, used by its walk).
pub(crate) struct Tracer {
    /// Index of the node where objects are marked.
    pub start: usize,
    /// How many more to mark (shared by the graphs of one trace).
    pub remaining: Arc<AtomicUsize>,
    pub filter: Box<dyn FnMut(Obj) -> bool + Send>,
    pub sink: Box<dyn FnMut(TraceRecord) + Send>,
    /// Marked objects of the running walk and their records.
    pub live: Vec<(Obj, TraceRecord)>,
    pub nodes: Vec<TraceNode>,
}

impl Tracer {
    /// Takes one from the budget; `false` when it is spent.
    pub fn take(&self) -> bool {
        self.remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| r.checked_sub(1)).is_ok()
    }

    /// Marks `o` if the budget, the filter and the live set allow.
    pub fn maybe_mark(&mut self, o: Obj, first: Option<TraceStep>) {
        if self.remaining.load(Ordering::Relaxed) == 0 || self.live.iter().any(|(x, _)| *x == o) {
            return;
        }
        if (self.filter)(o) && self.take() {
            self.live.push((o, TraceRecord { steps: first.into_iter().collect() }));
        }
    }

    /// The walk ended: every marked object's path is complete.
    pub fn finish_walk(&mut self) {
        for (_, r) in self.live.drain(..) {
            (self.sink)(r);
        }
    }
}
