//! Graph memory: one contiguous, cache-line-aligned allocation per graph.
//!
//! ```text
//!  base ──► +──────────────────────────────+  offset 0
//!           | GraphHdr (one cache line)    |  tail, head, cir_mask, cir, ...
//!           +──────────────────────────────+
//!           |   (padding)                  |
//!           | src[-S] .. src[-1]           |  offsets of the S source nodes
//!  cir ───► | cir[0] .. cir[2^k - 1]       |  circular buffer of pending nodes
//!           +──────────────────────────────+  aligned
//!           | node 0 block                 |
//!           | node 1 block                 |
//!           | ...                          |
//!           +──────────────────────────────+
//!
//!  node block (every part a whole number of cache lines):
//!           +──────────────────────────────+
//!           | counters [u64; C]            |  named counters (drop reasons)
//!           | histogram [u64; H + 1]       |  cycles per call, and the max
//!           | private context (T)          |  NodeImpl::Context
//!           | NodeCold (one line)          |  fence, ids, realloc_count, name
//!  off ───► | NodeRt (one line)            |  objs, process, idx, size, off,
//!           |   ... edges[2..]             |  nb_edges, stats, edges[0..2]
//!           +──────────────────────────────+
//! ```
//!
//! A node's offset (`off`) is that of its `NodeRt`; edges, the circular
//! buffer and the source list all hold such offsets (`u32`), so the whole
//! graph is position-independent and an edge costs four bytes. The private
//! context sits at a distance from `NodeRt` that depends only on its type,
//! so a process function finds it without a load.
//!
//! The object arrays (streams) are separate allocations because they grow
//! and are swapped between nodes by the home run.
//!
//! Concurrency: the fast-path fields are read and written only by the thread
//! that owns the [`Graph`](crate::Graph) (`&mut`); other threads read only the
//! statistics, which are atomics written with relaxed stores by that one
//! writer.

use core::mem::{align_of, size_of};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Relaxed};
use std::alloc::{self, Layout};

use crate::fastpath::ProcessFn;
use crate::obj::Obj;
use crate::registry::{InitError, NodeImpl, NodeInfo, NodeRegistration};

/// Cache line size assumed for layout (x86_64 and most arm64).
pub const CACHE_LINE: usize = 64;
/// Fence word stored in the graph header and every node, checked in debug
/// builds on each hop of the walk.
pub(crate) const FENCE: u64 = 0xdead_beef_1234_5678;
/// Buckets of a node's cycles-per-call histogram (see
/// [`CycleHistogram`](crate::CycleHistogram)): four per power of two.
pub const HIST_BUCKETS: usize = 252;
/// The histogram's slots: the buckets, then the largest value seen.
const HIST_SLOTS: usize = HIST_BUCKETS + 1;

/// The bucket of `v`: `v` itself below 4, then four per power of two
/// (the two bits after the leading one pick the quarter).
#[inline(always)]
pub(crate) fn hist_bucket(v: u64) -> usize {
    if v < 4 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros() as usize;
    4 * (e - 1) + ((v >> (e - 2)) & 3) as usize
}

#[cfg(test)]
mod hist_tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut prev = 0;
        for v in (0..5000u64).chain([1 << 20, (1 << 20) + 1, u64::MAX / 3, u64::MAX]) {
            let b = hist_bucket(v);
            assert!(b < HIST_BUCKETS, "{v}");
            assert!(hist_lower(b) <= v, "{v} in bucket {b} from {}", hist_lower(b));
            if b + 1 < HIST_BUCKETS {
                assert!(v < hist_lower(b + 1), "{v}");
            }
            assert!(b >= prev);
            prev = b;
        }
        assert_eq!(hist_bucket(u64::MAX), HIST_BUCKETS - 1);
        // Within a quarter: the bucket of 1000 holds 896..=1023.
        let b = hist_bucket(1000);
        assert_eq!((hist_lower(b), hist_lower(b + 1) - 1), (896, 1023));
    }
}

/// The smallest value of bucket `b`.
pub(crate) fn hist_lower(b: usize) -> u64 {
    if b < 4 {
        return b as u64;
    }
    let (e, m) = (b / 4 + 1, (b % 4) as u64);
    (4 + m) << (e - 2)
}

/// Largest stream a node may grow to (objects).
pub(crate) const MAX_STREAM: u32 = 1 << 24;

pub(crate) type InitFn = unsafe fn(&NodeInfo<'_>, *mut u8) -> Result<(), InitError>;
pub(crate) type FiniFn = unsafe fn(&NodeInfo<'_>, *mut u8);

/// Graph header: what the walk and every enqueue touch, in one line.
#[repr(C, align(64))]
pub struct GraphHdr {
    /// Next free slot of the circular buffer.
    pub(crate) tail: u32,
    /// Where a walk starts: minus the number of source nodes.
    pub(crate) head: i32,
    /// Circular buffer size minus one (size is a power of two).
    pub(crate) cir_mask: u32,
    /// Nodes in the graph.
    pub(crate) nb_nodes: u32,
    /// Start of the circular buffer; source offsets live at `cir[-S..0]`.
    pub(crate) cir: *mut u32,
    /// Offset of the first node block.
    pub(crate) nodes_start: u32,
    /// Whether the walk keeps statistics.
    pub(crate) stats: bool,
    /// Whether some node has a tap (see `Graph::set_tap`).
    pub(crate) tapped: bool,
    /// Whether the walk keeps histograms and consistent rows (with stats).
    pub(crate) hist: bool,
    /// The walk's feature-arc tables, one per registered arc (owned by the
    /// `Graph`, replaced only between walks).
    pub(crate) arcs: *const std::sync::Arc<crate::feature::ArcTable>,
    /// Number of entries at `arcs`.
    pub(crate) nb_arcs: u32,
    pub(crate) fence: u64,
}

/// A node's fast-path line (`struct rte_node`'s fast-path area, packed):
/// everything the walk and an enqueue to this node need, and the first two
/// edges, in 64 bytes.
#[repr(C, align(64))]
pub struct NodeRt {
    /// The pending stream.
    pub(crate) objs: *mut Obj,
    /// Process function (a monomorphised trampoline).
    pub(crate) process: ProcessFn,
    /// Objects pending in `objs`.
    pub(crate) idx: u32,
    /// Capacity of `objs`.
    pub(crate) size: u32,
    /// Offset of this struct from the graph base.
    pub(crate) off: u32,
    /// Number of edges.
    pub(crate) nb_edges: u32,
    /// Process calls.
    pub(crate) calls: AtomicU64,
    /// Objects processed (sum of process return values).
    pub(crate) total_objs: AtomicU64,
    /// Cycles spent.
    pub(crate) cycles: AtomicU64,
    /// Edge table (offsets of next nodes); continues past the struct.
    pub(crate) edges: [u32; 2],
}

/// A node's slow-path line, just before its `NodeRt`.
#[repr(C, align(64))]
pub(crate) struct NodeCold {
    pub(crate) fence: u64,
    pub(crate) realloc_count: AtomicU64,
    pub(crate) counters: *const AtomicU64,
    pub(crate) name: *const u8,
    pub(crate) name_len: usize,
    pub(crate) nb_counters: u32,
    pub(crate) index: u32,
    /// The first `nb_drops` counters are drop reasons, the rest plain.
    pub(crate) nb_drops: u32,
    /// Sequence of the node's statistics row: odd while a call updates
    /// it (histogram walks only), so readers take whole rows.
    pub(crate) seq: AtomicU64,
}

const _: () = {
    assert!(size_of::<GraphHdr>() == CACHE_LINE);
    assert!(size_of::<NodeRt>() == CACHE_LINE);
    assert!(align_of::<NodeRt>() == CACHE_LINE);
    assert!(size_of::<NodeCold>() == CACHE_LINE);
    assert!(core::mem::offset_of!(NodeRt, objs) == 0);
    assert!(core::mem::offset_of!(NodeRt, process) == 8);
    assert!(core::mem::offset_of!(NodeRt, idx) == 16);
    assert!(core::mem::offset_of!(NodeRt, calls) == 32);
    assert!(core::mem::offset_of!(NodeRt, edges) == EDGES_OFFSET);
    assert!(size_of::<Obj>() == size_of::<usize>());
};

/// Where the edge table starts inside `NodeRt`.
pub(crate) const EDGES_OFFSET: usize = 56;

pub(crate) const fn round_line(n: usize) -> usize {
    (n + CACHE_LINE - 1) & !(CACHE_LINE - 1)
}

fn hot_bytes(nb_edges: usize) -> usize {
    round_line(EDGES_OFFSET + 4 * nb_edges).max(CACHE_LINE)
}

/// One node of a graph being laid out.
pub(crate) struct NodePlan<'a> {
    pub name: &'a str,
    pub reg: &'static NodeRegistration,
    pub edges: &'a [usize],
    pub source: bool,
}

/// The single allocation of a graph.
pub(crate) struct GraphMem {
    base: NonNull<u8>,
    layout: Layout,
    /// Offset of each node's `NodeRt`.
    offs: Vec<u32>,
}

// SAFETY: `GraphMem` owns its allocation. Mutation of the fast-path fields
// only happens through `Graph` (one owner, `&mut self`, `!Sync`); other
// threads only load atomics (see the module doc). The object arrays it
// points to are owned by it as well and freed in `Drop`.
unsafe impl Send for GraphMem {}
// SAFETY: as above: shared access is limited to atomic loads.
unsafe impl Sync for GraphMem {}

impl GraphMem {
    /// Lays out and populates the memory of a graph. Contexts are left
    /// uninitialised (see [`GraphMem::init_ctx`]).
    pub fn new(nodes: &[NodePlan<'_>], burst: u32) -> GraphMem {
        let nb_src = nodes.iter().filter(|n| n.source).count();
        let cir_len = nodes.len().next_power_of_two();
        let cir_off = round_line(CACHE_LINE + 4 * nb_src);
        let nodes_start = round_line(cir_off + 4 * cir_len);
        let mut offs = Vec::with_capacity(nodes.len());
        let mut sz = nodes_start;
        for n in nodes {
            sz += round_line(8 * (n.reg.nb_all_counters() + HIST_SLOTS));
            sz += round_line(n.reg.vtable.ctx_size);
            sz += CACHE_LINE; // NodeCold
            offs.push(sz as u32);
            sz += hot_bytes(n.edges.len());
        }
        assert!(sz <= u32::MAX as usize, "graph memory larger than 4 GiB");
        let layout = Layout::from_size_align(sz, CACHE_LINE).expect("graph layout");
        // SAFETY: `layout` has a non-zero size (at least the header line).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let Some(base) = NonNull::new(raw) else { alloc::handle_alloc_error(layout) };
        let mem = GraphMem { base, layout, offs };
        // SAFETY: the allocation is `sz` bytes, zeroed and exclusively ours;
        // every offset written below was computed above to lie inside it,
        // aligned for the type stored there.
        unsafe { mem.populate(nodes, burst, nb_src, cir_off, cir_len, nodes_start) };
        mem
    }

    /// # Safety
    /// Called once, from `new`, on the fresh zeroed allocation described by
    /// the arguments.
    unsafe fn populate(
        &self,
        nodes: &[NodePlan<'_>],
        burst: u32,
        nb_src: usize,
        cir_off: usize,
        cir_len: usize,
        nodes_start: usize,
    ) {
        // SAFETY: the allocation is fresh, zeroed and sized by `new`
        // for exactly these nodes, offsets and circular buffer (this function's
        // contract); every write below lands inside it.
        unsafe {
            let base = self.base.as_ptr();
            let cir = base.add(cir_off).cast::<u32>();
            self.hdr().write(GraphHdr {
                tail: 0,
                head: -(nb_src as i32),
                cir_mask: cir_len as u32 - 1,
                nb_nodes: nodes.len() as u32,
                cir,
                nodes_start: nodes_start as u32,
                stats: true,
                tapped: false,
                hist: false,
                arcs: core::ptr::null(),
                nb_arcs: 0,
                fence: FENCE,
            });
            let mut src_slot = -(nb_src as isize);
            for (i, n) in nodes.iter().enumerate() {
                let off = self.offs[i];
                if n.source {
                    cir.offset(src_slot).write(off);
                    src_slot += 1;
                }
                let node = self.node(i);
                let cold = cold_of(node);
                let counters = cold
                    .cast::<u8>()
                    .sub(round_line(n.reg.vtable.ctx_size) + round_line(8 * (n.reg.nb_all_counters() + HIST_SLOTS)))
                    .cast::<AtomicU64>();
                cold.write(NodeCold {
                    fence: FENCE,
                    realloc_count: AtomicU64::new(0),
                    counters,
                    name: n.name.as_ptr(),
                    name_len: n.name.len(),
                    nb_counters: n.reg.nb_all_counters() as u32,
                    index: i as u32,
                    nb_drops: n.reg.counters.len() as u32,
                    seq: AtomicU64::new(0),
                });
                node.write(NodeRt {
                    objs: alloc_stream(burst),
                    process: n.reg.vtable.process,
                    idx: 0,
                    size: burst,
                    off,
                    nb_edges: n.edges.len() as u32,
                    calls: AtomicU64::new(0),
                    total_objs: AtomicU64::new(0),
                    cycles: AtomicU64::new(0),
                    edges: [0; 2],
                });
                let edges = edges_of(node);
                for (e, &to) in n.edges.iter().enumerate() {
                    edges.add(e).write(self.offs[to]);
                }
            }
        }
    }

    pub fn hdr(&self) -> *mut GraphHdr {
        self.base.as_ptr().cast()
    }

    pub fn offs(&self) -> &[u32] {
        &self.offs
    }

    /// The `NodeRt` of the `i`-th node.
    pub fn node(&self, i: usize) -> *mut NodeRt {
        // SAFETY: `offs[i]` is the in-bounds offset of node `i`'s `NodeRt`
        // (computed in `new`); the index panics if out of range.
        unsafe { self.base.as_ptr().add(self.offs[i] as usize).cast() }
    }

    /// Reads the statistics of node `i` (callable from any thread).
    pub fn read_stats(&self, i: usize) -> RawStats {
        let node = self.node(i);
        // A seqlock read: retried while the walker is inside a call of
        // the node (odd sequence) or finished one meanwhile. Bounded in
        // time (a second, yielding after the first spins: a walker may be
        // descheduled inside a call), so a walker that died inside a call
        // cannot hang a reader: the last try is returned as it is.
        let mut deadline: Option<std::time::Instant> = None;
        for attempt in 0u32.. {
            let last = attempt > 256 && deadline.get_or_insert_with(std::time::Instant::now).elapsed().as_secs() >= 1;
            // `node`, its cold line, counters and histogram live as long as
            // `self`'s allocation.
            // SAFETY: by the above; only atomic fields are read, race-free
            // against the walker's stores.
            unsafe {
                let cold = cold_of(node);
                let s1 = (*cold).seq.load(Acquire);
                if s1 & 1 == 1 && !last {
                    if attempt < 256 {
                        core::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                    continue;
                }
                let nb = (*cold).nb_counters as usize;
                let all = (*cold).counters;
                let counters = (0..nb).map(|c| (*all.add(c)).load(Relaxed)).collect();
                let hist = (0..HIST_BUCKETS).map(|b| (*all.add(nb + b)).load(Relaxed)).collect();
                let raw = RawStats {
                    calls: (*node).calls.load(Relaxed),
                    objs: (*node).total_objs.load(Relaxed),
                    cycles: (*node).cycles.load(Relaxed),
                    realloc_count: (*cold).realloc_count.load(Relaxed),
                    counters,
                    hist,
                    max: (*all.add(nb + HIST_BUCKETS)).load(Relaxed),
                };
                core::sync::atomic::fence(Acquire);
                if (*cold).seq.load(Relaxed) == s1 || last {
                    return raw;
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    /// Sets whether walks keep histograms and whole rows.
    ///
    /// # Safety
    /// The caller has exclusive access to the fast path (`&mut Graph`).
    pub unsafe fn set_hist(&self, on: bool) {
        // SAFETY: as in `set_stats`.
        unsafe {
            (*self.hdr()).hist = on;
        }
    }

    /// Sets whether walks keep statistics.
    ///
    /// # Safety
    /// The caller has exclusive access to the fast path (`&mut Graph`).
    pub unsafe fn set_stats(&self, on: bool) {
        // SAFETY: the header is live graph memory and the caller has exclusive
        // access to the fast path (contract above), so no walk reads the flag.
        unsafe {
            (*self.hdr()).stats = on;
        }
    }

    /// Marks whether some node has a tap.
    ///
    /// # Safety
    /// The caller has exclusive access to the fast path (`&mut Graph`).
    pub unsafe fn set_tapped(&self, on: bool) {
        // SAFETY: as in `set_stats`.
        unsafe {
            (*self.hdr()).tapped = on;
        }
    }

    /// Points the walk at feature-arc tables `arcs`.
    ///
    /// # Safety
    /// As in `set_stats`; `arcs` stays allocated and unchanged until the
    /// next call or the graph's end.
    pub unsafe fn set_arcs(&self, arcs: &[std::sync::Arc<crate::feature::ArcTable>]) {
        // SAFETY: as in `set_stats`.
        unsafe {
            (*self.hdr()).arcs = arcs.as_ptr();
            (*self.hdr()).nb_arcs = arcs.len() as u32;
        }
    }

    /// `(idx, size)` of node `i`'s stream.
    ///
    /// # Safety
    /// The caller has exclusive access to the fast path (`&Graph` or
    /// `&mut Graph`, which is `!Sync`, on the walking thread).
    pub unsafe fn stream_state(&self, i: usize) -> (u32, u32) {
        // SAFETY: node `i` is live graph memory; exclusive fast-path access (contract
        // above) means no walk writes `idx`/`size` meanwhile.
        unsafe {
            let n = self.node(i);
            ((*n).idx, (*n).size)
        }
    }

    /// Builds node `i`'s context.
    ///
    /// # Safety
    /// Called once per node, before any walk, with `info` describing node
    /// `i`; the context slot is then initialised on `Ok`.
    pub unsafe fn init_ctx(&self, i: usize, reg: &NodeRegistration, info: &NodeInfo<'_>) -> Result<(), InitError> {
        // SAFETY: node `i`'s context slot was laid out for `reg` (same
        // registration, so `ctx_size` and the init thunk agree) and is written once
        // (contract above).
        unsafe {
            let slot = ctx_ptr(self.node(i), reg.vtable.ctx_size);
            (reg.vtable.init)(info, slot)
        }
    }

    /// Runs node `i`'s fini and drops its context.
    ///
    /// # Safety
    /// Node `i`'s context was initialised by `init_ctx` and not finalised
    /// since; no walk runs concurrently.
    pub unsafe fn fini_ctx(&self, i: usize, reg: &NodeRegistration, info: &NodeInfo<'_>) {
        // SAFETY: node `i`'s context was initialised for `reg` and is finalised
        // once, with no walk running (contract above).
        unsafe {
            let slot = ctx_ptr(self.node(i), reg.vtable.ctx_size);
            (reg.vtable.fini)(info, slot)
        }
    }

    /// Node `i`'s context, if it is of type `T`.
    ///
    /// # Safety
    /// Node `i`'s context is initialised and the caller has exclusive
    /// access to the graph for the returned lifetime.
    pub unsafe fn ctx_mut<T: 'static>(&self, i: usize, reg: &NodeRegistration) -> Option<*mut T> {
        // SAFETY: the context slot of node `i` holds an initialised context of
        // the type `reg` names, checked equal to `T` above; exclusivity is the
        // caller's (contract above).
        unsafe {
            if (reg.vtable.ctx_type)() != core::any::TypeId::of::<T>() {
                return None;
            }
            Some(ctx_ptr(self.node(i), size_of::<T>()).cast())
        }
    }
}

impl Drop for GraphMem {
    fn drop(&mut self) {
        for i in 0..self.offs.len() {
            let n = self.node(i);
            // Home runs only swap whole arrays between nodes of this graph.
            // SAFETY: the last reference is dropped (nobody walks or reads
            // the graph); `objs`/`size` describe a stream allocated by
            // `alloc_stream`/`grow_stream`, owned by this node.
            unsafe { free_stream((*n).objs, (*n).size) };
        }
        // SAFETY: allocated in `new` with this layout.
        unsafe { alloc::dealloc(self.base.as_ptr(), self.layout) };
    }
}

/// Statistics of one node instance.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawStats {
    pub calls: u64,
    pub objs: u64,
    pub cycles: u64,
    pub realloc_count: u64,
    pub counters: Vec<u64>,
    /// Cycles-per-call histogram buckets.
    pub hist: Vec<u64>,
    /// Most cycles one call took.
    pub max: u64,
}

/// The cold line of `node`.
///
/// # Safety
/// `node` points to a `NodeRt` inside graph memory.
#[inline(always)]
pub(crate) unsafe fn cold_of(node: *mut NodeRt) -> *mut NodeCold {
    // SAFETY: every `NodeRt` in graph memory is preceded by its cold line
    // (layout of `populate`), so the result stays inside the allocation.
    unsafe { node.cast::<u8>().sub(CACHE_LINE).cast() }
}

/// The edge table of `node`.
///
/// # Safety
/// `node` points to a `NodeRt` inside graph memory.
#[inline(always)]
pub(crate) unsafe fn edges_of(node: *mut NodeRt) -> *mut u32 {
    // SAFETY: the edge table starts inside the node block at
    // `EDGES_OFFSET` (layout of `populate`).
    unsafe { node.cast::<u8>().add(EDGES_OFFSET).cast() }
}

/// The private context of `node`, for a context of `ctx_size` bytes.
///
/// # Safety
/// `node` points to a `NodeRt` inside graph memory whose registration has a
/// context of `ctx_size` bytes.
#[inline(always)]
pub(crate) unsafe fn ctx_ptr(node: *mut NodeRt, ctx_size: usize) -> *mut u8 {
    // SAFETY: the context of `ctx_size` bytes sits right before the cold
    // line in the node block (layout of `populate`).
    unsafe { node.cast::<u8>().sub(CACHE_LINE + round_line(ctx_size)) }
}

fn stream_layout(size: u32) -> Layout {
    Layout::from_size_align(size as usize * size_of::<Obj>(), CACHE_LINE).expect("stream layout")
}

/// Allocates a zeroed stream of `size` objects.
pub(crate) fn alloc_stream(size: u32) -> *mut Obj {
    let layout = stream_layout(size);
    // SAFETY: `size` is at least 1 (the burst size is checked at creation).
    let p = unsafe { alloc::alloc_zeroed(layout) };
    if p.is_null() {
        alloc::handle_alloc_error(layout)
    }
    p.cast()
}

/// Frees a stream made by `alloc_stream` or `grow_stream`.
///
/// # Safety
/// `objs` was allocated with capacity `size` by this module and is not used
/// afterwards.
pub(crate) unsafe fn free_stream(objs: *mut Obj, size: u32) {
    // SAFETY: `objs` was allocated by this module with `stream_layout(size)`
    // and is not used afterwards (contract above).
    unsafe {
        alloc::dealloc(objs.cast(), stream_layout(size));
    }
}

/// Grows a node's stream to hold at least `req` objects: at least double,
/// a power of two, zero-filled, counted in `realloc_count`. Never shrinks.
///
/// # Safety
/// `node` points to a `NodeRt` in graph memory and the caller has exclusive
/// access to the fast path.
#[cold]
#[inline(never)]
pub(crate) unsafe fn grow_stream(node: *mut NodeRt, req: u32) {
    // SAFETY: `node` is a live node of this graph and the caller has exclusive
    // fast-path access (contract above); its stream was allocated with
    // `stream_layout(old)`, and the new part is zeroed before it is lent.
    unsafe {
        let old = (*node).size;
        let new = req.max(old.saturating_mul(2)).next_power_of_two();
        if new > MAX_STREAM {
            stream_overflow(node, req);
        }
        let p = alloc::realloc((*node).objs.cast(), stream_layout(old), new as usize * size_of::<Obj>());
        if p.is_null() {
            alloc::handle_alloc_error(stream_layout(new))
        }
        let objs = p.cast::<Obj>();
        ptr::write_bytes(objs.add(old as usize), 0, (new - old) as usize);
        (*node).objs = objs;
        (*node).size = new;
        let cold = cold_of(node);
        let rc = &(*cold).realloc_count;
        rc.store(rc.load(Relaxed) + 1, Relaxed);
    }
}

#[cold]
#[inline(never)]
unsafe fn stream_overflow(node: *mut NodeRt, req: u32) -> ! {
    // SAFETY: `node` is the live node whose stream would overflow (the caller,
    // `grow_stream`, holds that contract).
    unsafe {
        panic!(
            "node \"{}\": stream would exceed {} objects ({} requested); a node keeps enqueueing without bound",
            node_name(node),
            MAX_STREAM,
            req
        )
    }
}

/// The name of `node`, for diagnostics.
///
/// # Safety
/// `node` points to a `NodeRt` in graph memory of a live graph.
pub(crate) unsafe fn node_name<'a>(node: *mut NodeRt) -> &'a str {
    // SAFETY: the cold line of a live node holds a pointer and length of
    // its name, stored in the graph's control data, which lives as long as the
    // graph (contract above).
    unsafe {
        let cold = cold_of(node);
        let bytes = core::slice::from_raw_parts((*cold).name, (*cold).name_len);
        core::str::from_utf8(bytes).unwrap_or("?")
    }
}

/// Writes `N::Context` built by `N::init` into `dst`.
///
/// # Safety
/// `dst` is valid for writes of `N::Context` and suitably aligned.
pub(crate) unsafe fn init_thunk<N: NodeImpl>(info: &NodeInfo<'_>, dst: *mut u8) -> Result<(), InitError> {
    // SAFETY: `dst` is valid and aligned for one `N::Context` (contract
    // above).
    unsafe {
        let v = N::init(info)?;
        dst.cast::<N::Context>().write(v);
        Ok(())
    }
}

/// Runs `N::fini` on the context at `dst` and drops it.
///
/// # Safety
/// `dst` holds an initialised `N::Context` that is not used afterwards.
pub(crate) unsafe fn fini_thunk<N: NodeImpl>(info: &NodeInfo<'_>, dst: *mut u8) {
    // SAFETY: `dst` holds an initialised `N::Context` used by nobody else
    // and never again (contract above).
    unsafe {
        let p = dst.cast::<N::Context>();
        N::fini(info, &mut *p);
        ptr::drop_in_place(p);
    }
}
