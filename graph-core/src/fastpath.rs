//! The fast path: the walk and the enqueue API (`rte_graph_walk`,
//! `rte_node_enqueue*`, `rte_node_next_stream_*`).
//!
//! Everything here works on raw pointers into graph memory (see
//! [`mem`](crate::mem)); node code only sees the safe [`Ctx`] and [`Objs`].
//!
//! Aliasing discipline, which every `unsafe` block below relies on:
//! 1. A walk runs on the thread owning `&mut Graph`; nothing else touches the
//!    fast-path fields meanwhile (other threads only load stats atomics).
//! 2. While a node runs, its own stream is lent to it as `Objs` (`&mut
//!    [Obj]`). Enqueues write other nodes' streams only: a graph has no self
//!    loops (refused at creation) and a node can only reach its edges.
//!    [`Ctx::next_stream_move`] consumes the `Objs` before it swaps the
//!    running node's array away.
//! 3. The node's private context (`&mut T`) is a separate region of graph
//!    memory; enqueues never touch it.
//! 4. Only raw-pointer place expressions are used for `GraphHdr` and
//!    `NodeRt` fields (no `&`/`&mut` to the structs), so the short-lived
//!    references to single atomic fields never overlap a write.
//! 5. A stream holds values of its node's object type only: every edge
//!    joins nodes of one type (checked by `Graph::create`), and the typed
//!    enqueues move values of the running node's type into its edges'
//!    streams. Objects are moved, never duplicated, unless the type is
//!    `Copy`.

use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ops::{Deref, DerefMut};
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::clock;
use crate::mem::{self, cold_of, edges_of, grow_stream, GraphHdr, NodeRt};
use crate::obj::{Obj, Object, Opaque};
use crate::registry::NodeImpl;

/// The process entry point stored in a node (a trampoline per node type).
pub type ProcessFn = fn(Invocation) -> usize;

/// One call of a node by the walk. Only the walk can make one, which is
/// what lets [`process_trampoline`] trust the pointers it carries.
pub struct Invocation {
    graph: *mut GraphHdr,
    node: *mut NodeRt,
}

/// Calls `N::process` with the node's context, stream and private context.
pub(crate) fn process_trampoline<N: NodeImpl>(inv: Invocation) -> usize {
    // `inv` was made by `walk_impl` for a node whose registration is
    // `NodeRegistration::new::<N>` (the trampoline and the context layout
    // come from the same registration), so:
    // 1. the context slot before the node's cold line holds an initialised
    //    `N::Context` (contexts are initialised before the first walk);
    // 2. `objs[..idx]` is the node's stream, lent exclusively to this call
    //    (discipline rule 2 in the module doc), and holds `idx` values of
    //    `N::Object`: `Graph::create` refused any edge from a node of
    //    another object type, and every typed enqueue moves in a value of
    //    the sender's type (rule 5);
    // 3. the private context does not overlap anything the `Ctx` writes
    //    (rule 3).
    // SAFETY: points 1-3 above.
    unsafe {
        let node = inv.node;
        let state = &mut *mem::ctx_ptr(node, core::mem::size_of::<N::Context>()).cast::<N::Context>();
        let objs = Objs::from_raw((*node).objs.cast::<N::Object>(), (*node).idx as usize);
        let mut ctx = Ctx { graph: inv.graph, node, _life: PhantomData };
        N::process(&mut ctx, state, objs)
    }
}

/// Formats an object of `N`'s type for a packet trace.
///
/// # Safety
/// `p` points to a live value of `N::Object` (an object in a stream of a
/// node of type `N`, or in one of its edges' streams, which carry the same
/// type), not mutated while the call runs.
pub(crate) unsafe fn trace_trampoline<N: NodeImpl>(p: *const Obj) -> Option<String> {
    // SAFETY: the contract above; a shared borrow for the call only.
    unsafe { N::trace(&*p.cast::<N::Object>()) }
}

/// The objects pending for the running node: its stream, lent for the call.
///
/// An `Objs` owns the objects it covers: handing them on
/// ([`Ctx::next_stream_move`], [`Ctx::enqueue_objs`],
/// [`Ctx::enqueue_next_objs`]) or consuming them by value (`into_iter`)
/// moves them out. Objects still in an `Objs` when it is dropped are
/// forgotten, never dropped (a leak, which the owner of the objects — a
/// packet pool — counts).
pub struct Objs<'a, O: Object = Obj> {
    ptr: *mut O,
    len: usize,
    _life: PhantomData<&'a mut [O]>,
}

impl<'a, O: Object> Objs<'a, O> {
    /// # Safety
    /// `ptr[..len]` holds initialised values of `O` owned by the new
    /// `Objs`, valid and not otherwise accessed for `'a`.
    #[inline(always)]
    unsafe fn from_raw(ptr: *mut O, len: usize) -> Self {
        Objs { ptr, len, _life: PhantomData }
    }

    /// An `Objs` owning `ptr[..len]` (a driver's or a test's array).
    ///
    /// # Safety
    /// `ptr[..len]` holds initialised values of `O` that the new `Objs`
    /// owns: valid for reads and writes, not otherwise accessed, and not
    /// used again after it, for `'a`.
    #[inline(always)]
    pub unsafe fn from_raw_parts(ptr: *mut O, len: usize) -> Self {
        // SAFETY: the caller's contract is `from_raw`'s.
        unsafe { Objs::from_raw(ptr, len) }
    }

    /// Takes every element out of `v` (which is left empty, its capacity
    /// kept) into an `Objs`: how code outside a graph (a test, a port
    /// user) hands owned objects to a function that takes `Objs`.
    #[inline]
    pub fn from_vec(v: &'a mut Vec<O>) -> Self {
        let len = v.len();
        // The vector no longer counts the elements, so it will not drop or
        // lend them.
        // SAFETY: the elements move into the `Objs`; the buffer stays
        // allocated and unaliased while `v` is borrowed for `'a`.
        unsafe {
            v.set_len(0);
            Objs::from_raw(v.as_mut_ptr(), len)
        }
    }

    /// Splits into `[..mid]` and `[mid..]`, each owning its part.
    ///
    /// # Panics
    /// If `mid > len`.
    #[inline(always)]
    pub fn split_at(self, mid: usize) -> (Objs<'a, O>, Objs<'a, O>) {
        assert!(mid <= self.len, "Objs::split_at({mid}) past the end ({})", self.len);
        // SAFETY: the two parts are disjoint and together cover what
        // `self` owned; `self` is consumed.
        unsafe { (Objs::from_raw(self.ptr, mid), Objs::from_raw(self.ptr.add(mid), self.len - mid)) }
    }

    #[inline(always)]
    fn as_ptr(&self) -> *const O {
        self.ptr
    }
}

impl<O: Object> Deref for Objs<'_, O> {
    type Target = [O];
    #[inline(always)]
    fn deref(&self) -> &[O] {
        // SAFETY: `ptr[..len]` is owned by `self` and initialised.
        unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<O: Object> DerefMut for Objs<'_, O> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [O] {
        // SAFETY: as in `deref`; `&mut self` makes the loan exclusive.
        // Through `&mut [O]` values can only be swapped or replaced, never
        // duplicated, so ownership stays exact.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl<O: Object + core::fmt::Debug> core::fmt::Debug for Objs<'_, O> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The objects of an [`Objs`], by value.
pub struct ObjsIntoIter<'a, O: Object> {
    rest: Objs<'a, O>,
}

impl<O: Object> Iterator for ObjsIntoIter<'_, O> {
    type Item = O;
    #[inline(always)]
    fn next(&mut self) -> Option<O> {
        if self.rest.len == 0 {
            return None;
        }
        // SAFETY: element 0 is owned by `rest`; it is read out once and
        // `rest` then no longer covers it.
        unsafe {
            let o = self.rest.ptr.read();
            self.rest.ptr = self.rest.ptr.add(1);
            self.rest.len -= 1;
            Some(o)
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.rest.len, Some(self.rest.len))
    }
}

impl<O: Object> ExactSizeIterator for ObjsIntoIter<'_, O> {}

impl<'a, O: Object> IntoIterator for Objs<'a, O> {
    type Item = O;
    type IntoIter = ObjsIntoIter<'a, O>;
    fn into_iter(self) -> ObjsIntoIter<'a, O> {
        ObjsIntoIter { rest: self }
    }
}

/// The running node's handle on the graph: enqueue to its edges, count.
///
/// `O` is the node's object type: every node behind its edges carries the
/// same type (checked when the graph is created). Edges are numbered as in
/// the node's `next` list. Naming an edge the node does not have is a bug
/// in the node and panics with the node's name.
pub struct Ctx<'g, O: Object = Obj> {
    graph: *mut GraphHdr,
    node: *mut NodeRt,
    _life: PhantomData<CtxMarker<'g, O>>,
}

/// `Ctx` borrows the graph mutably for `'g` and is invariant in `O`.
type CtxMarker<'g, O> = (&'g mut GraphHdr, fn(O) -> O);

#[cold]
#[inline(never)]
fn edge_out_of_range(node: *mut NodeRt, next: u16) -> ! {
    // SAFETY: `node` is the running node, live in graph memory.
    let (name, nb) = unsafe { (mem::node_name(node), (*node).nb_edges) };
    panic!("node \"{name}\": edge {next} does not exist (the node has {nb} edges)")
}

#[cold]
#[inline(never)]
fn put_overflow(node: *mut NodeRt, next: u16, nb: usize, free: u32) -> ! {
    // SAFETY: `node` is the running node, live in graph memory.
    let name = unsafe { mem::node_name(node) };
    panic!("node \"{name}\": next_stream_put({next}, {nb}) exceeds the {free} free slots; call next_stream_get first")
}

#[cold]
#[inline(never)]
fn counter_out_of_range(node: *mut NodeRt, counter: usize) -> ! {
    // SAFETY: `node` is the running node, live in graph memory.
    let name = unsafe { mem::node_name(node) };
    panic!("node \"{name}\": counter {counter} is not declared")
}

impl<'g, O: Object> Ctx<'g, O> {
    /// The state of `hook`'s feature arc for this walk: the same for every
    /// node and object of the walk (see [`feature`](crate::feature)).
    #[inline(always)]
    pub fn arc(&self, hook: &crate::ArcHook) -> crate::ArcState<'g> {
        // `arcs[..nb_arcs]` are the tables the `Graph` owns and replaces
        // only between walks (`Graph::refresh_arcs` takes `&mut Graph`).
        // SAFETY: the header is this graph's (rule 1); the tables outlive
        // the walk `'g` covers; the index is checked against `nb_arcs`.
        unsafe {
            let g = self.graph;
            let i = hook.arc();
            assert!(i < (*g).nb_arcs as usize, "feature arc {i} is not registered in this process");
            crate::ArcState::new(&*(*g).arcs.add(i))
        }
    }
}

impl<O: Object> Ctx<'_, O> {
    /// The node behind edge `next`.
    #[inline(always)]
    fn next_node(&self, next: u16) -> *mut NodeRt {
        // SAFETY: the running node is live (rule 1); the edge index is
        // checked against `nb_edges` before the table read, and the table
        // holds offsets of nodes of this graph (written at population).
        unsafe {
            if u32::from(next) >= (*self.node).nb_edges {
                edge_out_of_range(self.node, next);
            }
            let off = *edges_of(self.node).add(next as usize);
            self.graph.cast::<u8>().add(off as usize).cast()
        }
    }

    /// Appends `node` to the pending list (it just got its first object).
    ///
    /// # Safety
    /// `node` is a node of this graph with `idx == 0`.
    #[inline(always)]
    unsafe fn tail_update(&mut self, node: *mut NodeRt) {
        // SAFETY: `node` is a node of this graph with nothing pending (contract
        // above), so it is not yet in the circular buffer; rule 1 gives this
        // thread the header.
        unsafe {
            let g = self.graph;
            let tail = (*g).tail;
            // A node is pending at most once and sources never are, so fewer
            // than `cir_mask + 1` nodes are ever pending: no overrun.
            *(*g).cir.add(tail as usize) = (*node).off;
            (*g).tail = (tail + 1) & (*g).cir_mask;
        }
    }

    /// Makes room for `space` more objects in `node`'s stream and returns
    /// its `idx`.
    ///
    /// # Safety
    /// `node` is a node of this graph other than the running one.
    #[inline(always)]
    unsafe fn prologue(&mut self, node: *mut NodeRt, space: u32) -> u32 {
        // SAFETY: `node` is another node of this graph (contract above, rules
        // 1-2): its fast-path line is ours to write.
        unsafe {
            let idx = (*node).idx;
            if idx == 0 {
                self.tail_update(node);
            }
            if (*node).size - idx < space {
                grow_stream(node, idx + space);
            }
            idx
        }
    }

    /// The first free slot of `node`'s stream after making room for
    /// `space` more objects, as a typed pointer, and its index.
    ///
    /// # Safety
    /// As [`prologue`](Self::prologue).
    #[inline(always)]
    unsafe fn reserve(&mut self, node: *mut NodeRt, space: u32) -> (*mut O, u32) {
        // SAFETY: as `prologue`, whose contract the caller holds; the slot
        // pointer is within the stream `prologue` sized.
        unsafe {
            let idx = self.prologue(node, space);
            ((*node).objs.cast::<O>().add(idx as usize), idx)
        }
    }

    /// Enqueues one object to edge `next` (`rte_node_enqueue_x1`).
    #[inline(always)]
    pub fn enqueue_x1(&mut self, next: u16, obj: O) {
        let node = self.next_node(next);
        // SAFETY: `node` is another node of this graph (rules 1-2);
        // `reserve` made room for one object at `idx`; `obj` is moved in
        // (rule 5).
        unsafe {
            let (d, idx) = self.reserve(node, 1);
            d.write(obj);
            (*node).idx = idx + 1;
        }
    }

    /// Enqueues two objects to edge `next` (`rte_node_enqueue_x2`).
    #[inline(always)]
    pub fn enqueue_x2(&mut self, next: u16, o0: O, o1: O) {
        let node = self.next_node(next);
        // SAFETY: as in `enqueue_x1`, with room for two.
        unsafe {
            let (d, idx) = self.reserve(node, 2);
            d.write(o0);
            d.add(1).write(o1);
            (*node).idx = idx + 2;
        }
    }

    /// Enqueues four objects to edge `next` (`rte_node_enqueue_x4`).
    #[inline(always)]
    pub fn enqueue_x4(&mut self, next: u16, o0: O, o1: O, o2: O, o3: O) {
        let node = self.next_node(next);
        // SAFETY: as in `enqueue_x1`, with room for four.
        unsafe {
            let (d, idx) = self.reserve(node, 4);
            d.write(o0);
            d.add(1).write(o1);
            d.add(2).write(o2);
            d.add(3).write(o3);
            (*node).idx = idx + 4;
        }
    }

    /// Copies `n` objects from `src` to the end of edge `next`'s stream.
    ///
    /// # Safety
    /// `src[..n]` are initialised values of `O` that the caller gives up
    /// (moves) or may duplicate (`O: Copy`), and do not overlap the
    /// destination stream.
    #[inline(always)]
    unsafe fn enqueue_raw(&mut self, next: u16, src: *const O, n: usize) {
        // SAFETY: the destination is another node of this graph (rules 1-2) with
        // room for `n` after `reserve`; `src[..n]` are values the caller moves or
        // may copy and do not overlap it (contract above).
        unsafe {
            if n == 0 {
                return;
            }
            let node = self.next_node(next);
            let (dst, idx) = self.reserve(node, n as u32);
            if n <= 4 {
                // A few handles: moves, not a call to memcpy.
                for i in 0..n {
                    dst.add(i).write(src.add(i).read());
                }
            } else {
                ptr::copy_nonoverlapping(src, dst, n);
            }
            (*node).idx = idx + n as u32;
        }
    }

    /// Enqueues copies of `objs` to edge `next` (`rte_node_enqueue`): one
    /// copy. For objects that may be duplicated (`Copy`); owned objects go
    /// with [`enqueue_objs`](Self::enqueue_objs).
    #[inline(always)]
    pub fn enqueue(&mut self, next: u16, objs: &[O])
    where
        O: Copy,
    {
        // `objs` is the running node's stream, a caller buffer, or another
        // node's stream lent by `next_stream_get`, which borrows `self` and
        // so cannot be live here.
        // SAFETY: by the above, `objs` cannot overlap the destination
        // stream (rule 2); `O: Copy` allows the duplicate.
        unsafe { self.enqueue_raw(next, objs.as_ptr(), objs.len()) }
    }

    /// Moves every object of `objs` to edge `next` (`rte_node_enqueue`
    /// for owned objects): one copy of the handles.
    #[inline(always)]
    pub fn enqueue_objs(&mut self, next: u16, objs: Objs<'_, O>) {
        // SAFETY: `objs` owns its objects and is consumed (forgotten: it
        // has no drop glue) after they are moved; it is the running node's
        // stream or a caller buffer, never the destination (rule 2).
        unsafe { self.enqueue_raw(next, objs.as_ptr(), objs.len()) }
    }

    /// Enqueues `objs[i]` to edge `nexts[i]` (`rte_node_enqueue_next`),
    /// copying each run of equal edges at once. Extra entries of the longer
    /// slice are ignored. For `Copy` objects; owned objects go with
    /// [`enqueue_next_objs`](Self::enqueue_next_objs).
    #[inline]
    pub fn enqueue_next(&mut self, nexts: &[u16], objs: &[O])
    where
        O: Copy,
    {
        // SAFETY: as in `enqueue`.
        unsafe { self.enqueue_next_raw(nexts, objs.as_ptr(), objs.len()) }
    }

    /// Moves `objs[i]` to edge `nexts[i]`, each run of equal edges with
    /// one copy. `nexts` must be at least as long as `objs`.
    ///
    /// # Panics
    /// If `nexts` is shorter than `objs` (an object would have no edge).
    #[inline]
    pub fn enqueue_next_objs(&mut self, nexts: &[u16], objs: Objs<'_, O>) {
        assert!(nexts.len() >= objs.len(), "enqueue_next_objs: {} edges for {} objects", nexts.len(), objs.len());
        // SAFETY: as in `enqueue_objs`; every object is moved exactly once.
        unsafe { self.enqueue_next_raw(nexts, objs.as_ptr(), objs.len()) }
    }

    /// # Safety
    /// As [`enqueue_raw`](Self::enqueue_raw) for `src[..len]`.
    #[inline(always)]
    unsafe fn enqueue_next_raw(&mut self, nexts: &[u16], src: *const O, len: usize) {
        // SAFETY: every run is a sub-range of `src[..len]`, which the caller
        // hands over as `enqueue_raw` requires (contract above); each object is
        // read once.
        unsafe {
            let n = nexts.len().min(len);
            // Two edges interleaved (a router's two ports): one pass with
            // both destinations in registers instead of one enqueue per
            // object, each waiting for the last one's index to the same node.
            if n >= 16 && self.enqueue_next_two(&nexts[..n], src) {
                return;
            }
            let mut start = 0;
            while start < n {
                let next = nexts[start];
                let mut end = start + 1;
                while end < n && nexts[end] == next {
                    end += 1;
                }
                // Alternating edges make runs of one: skip the copy loop.
                if end - start == 1 {
                    self.enqueue_x1(next, src.add(start).read());
                } else {
                    self.enqueue_raw(next, src.add(start), end - start);
                }
                start = end;
            }
        }
    }

    /// [`enqueue_next_raw`](Self::enqueue_next_raw) when `nexts` holds
    /// exactly two edges and changes between them often (more than once
    /// every 8 objects): both destinations are reserved at their exact
    /// counts (in order of first appearance, so nodes become pending as with
    /// one enqueue per object) and filled in one pass without a branch.
    /// Returns `false`, having moved nothing, for any other `nexts`.
    ///
    /// # Safety
    /// As [`enqueue_raw`](Self::enqueue_raw) for `src[..nexts.len()]`.
    #[inline(always)]
    unsafe fn enqueue_next_two(&mut self, nexts: &[u16], src: *const O) -> bool {
        let n = nexts.len();
        let e0 = nexts[0];
        let Some(&e1) = nexts.iter().find(|&&x| x != e0) else { return false };
        // Counted without an early exit, so the compiler checks many
        // edges an instruction.
        let turns = nexts[1..].iter().zip(nexts).fold(0u32, |t, (a, b)| t + u32::from(a != b));
        let others = nexts.iter().fold(0u16, |o, &x| o | u16::from(x != e0 && x != e1));
        if turns as usize * 8 <= n || others != 0 {
            return false;
        }
        let c0 = nexts.iter().fold(0u32, |c, &x| c + u32::from(x == e0));
        let (n0, n1) = (self.next_node(e0), self.next_node(e1));
        if n0 == n1 {
            // Two edges to one node: one stream, so two cursors would clash.
            return false;
        }
        // The objects of `e0` (`c0` of them) go to `d0[..c0]` in order, the
        // others, all of `e1`, to `d1[..n - c0]`.
        // SAFETY: `n0`, `n1`: distinct nodes (checked), not this one (rules
        // 1-2), with room reserved for those counts; each of the caller's
        // `src[..n]` (contract above) is read once and written once.
        unsafe {
            let (mut d0, i0) = self.reserve(n0, c0);
            let (mut d1, i1) = self.reserve(n1, n as u32 - c0);
            for (i, &x) in nexts.iter().enumerate() {
                let to0 = x == e0;
                let d = if to0 { d0 } else { d1 };
                d.write(src.add(i).read());
                d0 = d0.add(usize::from(to0));
                d1 = d1.add(usize::from(!to0));
            }
            (*n0).idx = i0 + c0;
            (*n1).idx = i1 + (n as u32 - c0);
        }
        true
    }

    /// Makes room for `nb` objects at the end of edge `next`'s stream and
    /// lends those slots uninitialised. Fill a prefix and commit it with
    /// [`next_stream_commit`](Self::next_stream_commit); for opaque
    /// objects [`next_stream_get`](Self::next_stream_get) is the safe form.
    #[inline(always)]
    pub fn next_stream_uninit(&mut self, next: u16, nb: usize) -> &mut [MaybeUninit<O>] {
        let node = self.next_node(next);
        let nb32 = u32::try_from(nb).unwrap_or(u32::MAX);
        // The slice borrows `self`, so no enqueue can move or grow that
        // stream while it lives.
        // SAFETY: another node of this graph (rules 1-2) with `nb` slots
        // from `idx` after the growth check; `MaybeUninit` claims nothing.
        unsafe {
            let idx = (*node).idx;
            if (*node).size - idx < nb32 {
                grow_stream(node, idx.saturating_add(nb32));
            }
            core::slice::from_raw_parts_mut((*node).objs.cast::<MaybeUninit<O>>().add(idx as usize), nb)
        }
    }

    /// Commits `nb` objects written after
    /// [`next_stream_uninit`](Self::next_stream_uninit) or
    /// [`next_stream_get`](Self::next_stream_get)
    /// (`rte_node_next_stream_put`).
    ///
    /// # Safety
    /// The first `nb` slots lent by the last `next_stream_uninit(next, _)`
    /// hold values of `O` written since, each moved in (not used
    /// elsewhere afterwards).
    #[inline(always)]
    pub unsafe fn next_stream_commit(&mut self, next: u16, nb: usize) {
        // SAFETY: the destination is another node of this graph (rules 1-2); the
        // caller vouches that the first `nb` lent slots hold moved-in values of
        // `O` (contract above).
        unsafe {
            if nb == 0 {
                return;
            }
            let node = self.next_node(next);
            // `idx + nb` is checked against the stream size before it is
            // committed; the caller vouches for the contents.
            let idx = (*node).idx;
            let free = (*node).size - idx;
            if nb > free as usize {
                put_overflow(self.node, next, nb, free);
            }
            if idx == 0 {
                self.tail_update(node);
            }
            (*node).idx = idx + nb as u32;
        }
    }

    /// Hands the running node's whole stream to edge `next`
    /// (`rte_node_next_stream_move`). If `objs` is the node's whole stream
    /// and the destination has nothing pending, the two arrays are swapped
    /// and nothing is copied (the home run); otherwise the objects are
    /// copied. Returns the number of objects.
    #[inline(always)]
    pub fn next_stream_move(&mut self, next: u16, objs: Objs<'_, O>) -> usize {
        let n = objs.len();
        if n == 0 {
            return 0;
        }
        let dst = self.next_node(next);
        // Swapping (objs, size) keeps every array owned by exactly one node;
        // it happens only when `objs` is exactly this node's stream (pointer
        // and length), so no other part of it is lent out.
        // SAFETY: `dst` is another node of this graph; `objs` is consumed
        // before the array changes owner (rule 2).
        unsafe {
            let src = self.node;
            let whole = objs.as_ptr() == (*src).objs.cast::<O>().cast_const() && n == (*src).idx as usize;
            if whole && (*dst).idx == 0 {
                #[allow(clippy::drop_non_drop)] // ends the loan of rule 2 explicitly
                drop(objs);
                core::mem::swap(&mut (*src).objs, &mut (*dst).objs);
                core::mem::swap(&mut (*src).size, &mut (*dst).size);
                (*dst).idx = n as u32;
                (*src).idx = 0;
                self.tail_update(dst);
            } else {
                self.enqueue_objs(next, objs);
            }
        }
        n
    }

    /// Adds `n` to the running node's drop reason number `counter` (as
    /// declared in its registration's `counters`): `n` objects it sent to
    /// be freed for that reason. Counters are published as they are added;
    /// sum in a local and add once per burst.
    #[inline(always)]
    pub fn count(&mut self, counter: usize, n: u64) {
        // SAFETY: the running node and its cold line are live; the index is
        // checked against `nb_drops`, which is at most `nb_counters`, which
        // sized the counter area.
        unsafe {
            let cold = cold_of(self.node);
            if counter >= (*cold).nb_drops as usize {
                counter_out_of_range(self.node, counter);
            }
            bump(&*(*cold).counters.add(counter), n);
        }
    }

    /// Adds `n` to the running node's plain counter number `counter` (as
    /// declared in its registration's `observations`): something it saw,
    /// not a drop.
    #[inline(always)]
    pub fn observe(&mut self, counter: usize, n: u64) {
        // SAFETY: as in `count`; plain counters follow the drop reasons in
        // the counter area, and the index is checked against their number.
        unsafe {
            let cold = cold_of(self.node);
            let (drops, all) = ((*cold).nb_drops as usize, (*cold).nb_counters as usize);
            if counter >= all - drops {
                counter_out_of_range(self.node, drops + counter);
            }
            bump(&*(*cold).counters.add(drops + counter), n);
        }
    }

    /// Adds `counts[i]` to counter `i` for each non-zero entry (a node's
    /// per-burst tally of its drop reasons).
    #[inline]
    pub fn count_all(&mut self, counts: &[u64]) {
        for (i, &n) in counts.iter().enumerate() {
            if n > 0 {
                self.count(i, n);
            }
        }
    }

    /// Number of edges of the running node.
    #[inline(always)]
    pub fn nb_edges(&self) -> u16 {
        // SAFETY: the running node is live.
        unsafe { (*self.node).nb_edges as u16 }
    }

    /// Objects pending on edge `next`'s node.
    #[inline(always)]
    pub fn next_pending(&self, next: u16) -> usize {
        let node = self.next_node(next);
        // SAFETY: another node of this graph (rules 1-2).
        unsafe { (*node).idx as usize }
    }

    /// The running node's name.
    pub fn node_name(&self) -> &str {
        // SAFETY: the name lives in the graph's control data, alive while
        // the graph is.
        unsafe { mem::node_name(self.node) }
    }
}

impl<O: Opaque> Ctx<'_, O> {
    /// Lends `nb` free slots at the end of edge `next`'s stream, growing it
    /// if needed (`rte_node_next_stream_get`). Fill them, then commit with
    /// [`next_stream_put`](Self::next_stream_put). Slots hold stale or null
    /// handles until written, which opaque objects allow.
    #[inline(always)]
    pub fn next_stream_get(&mut self, next: u16, nb: usize) -> &mut [O] {
        let slots = self.next_stream_uninit(next, nb);
        // SAFETY: every slot holds some `Obj` bit pattern (fresh streams
        // are zeroed, old slots keep old handles), and for `O: Opaque`
        // every such pattern is a valid `O`.
        unsafe { &mut *(slots as *mut [MaybeUninit<O>] as *mut [O]) }
    }

    /// Commits `nb` objects written after
    /// [`next_stream_get`](Self::next_stream_get)
    /// (`rte_node_next_stream_put`).
    #[inline(always)]
    pub fn next_stream_put(&mut self, next: u16, nb: usize) {
        // SAFETY: for opaque objects any slot content is a valid object.
        unsafe { self.next_stream_commit(next, nb) }
    }
}

/// Single-writer increment: a relaxed load and store (plain moves), which
/// other threads may read without tearing.
#[inline(always)]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

#[inline(always)]
fn prefetch(p: *const Obj) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = p;
}

#[cfg(debug_assertions)]
#[cold]
#[inline(never)]
fn fence_broken(node: *mut NodeRt) -> ! {
    // SAFETY: the node's cold line is in bounds; the name may be garbage if
    // memory was overwritten, which `node_name` tolerates as "?" only when
    // the pointer is still valid: this is a last-gasp diagnostic.
    let name = unsafe { mem::node_name(node) };
    panic!("graph memory corrupted: fence of node \"{name}\" overwritten")
}

/// A function that sees a node's stream before the node processes it
/// (packet capture). It may read the objects; it cannot change them.
pub type Tap = Box<dyn FnMut(&[Obj]) + Send>;

/// Walks the graph once (`rte_graph_walk`): every source node, then the
/// pending streams from head to tail until none is left. With `TAP`, each
/// node's tap in `taps` (indexed like the graph's nodes) sees its stream
/// first.
///
/// # Safety
/// `g` is the header of a live, initialised graph and the caller has
/// exclusive access to its fast path for the duration of the walk; with
/// `TAP`, `taps` has one entry per node.
#[inline(always)]
pub(crate) unsafe fn walk_impl<
    const STATS: bool,
    const TAP: bool,
    const HIST: bool,
    const TRACE: bool,
    const DISPATCH: bool,
>(
    g: *mut GraphHdr,
    taps: &mut [Option<Tap>],
    mut tracer: Option<&mut crate::trace::Tracer>,
    mut disp: Option<&mut crate::dispatch::DispatchState>,
) {
    // Every offset read from the source list and the circular buffer is a
    // node of this graph (written at population and by `tail_update`).
    // SAFETY: `g` is a live, initialised graph whose fast path the caller
    // holds exclusively; `taps` has one entry per node (contract above).
    unsafe {
        let base = g.cast::<u8>();
        let cir = (*g).cir;
        let mask = (*g).cir_mask as i32;
        let mut head = (*g).head;
        // One counter read per node call: each node is charged from the end of
        // the previous call (or the walk's start) to the end of its own, so the
        // walk's own bookkeeping is spread over the nodes instead of paying a
        // second read per call as rte_graph does.
        if DISPATCH {
            if let Some(d) = disp.as_deref_mut() {
                let t = if STATS { clock::cycles() } else { 0 };
                dispatch_receive(g, d);
                if STATS {
                    d.set.lanes[d.me].cycles.fetch_add(clock::cycles().wrapping_sub(t), Relaxed);
                }
            }
        }
        let mut t0 = if STATS { clock::cycles() } else { 0 };
        while head != (*g).tail as i32 {
            let off = *cir.offset(head as isize);
            let node = base.add(off as usize).cast::<NodeRt>();
            #[cfg(debug_assertions)]
            if (*cold_of(node)).fence != mem::FENCE {
                fence_broken(node);
            }
            if DISPATCH {
                if let Some(d) = disp.as_deref_mut() {
                    if let Some(lane) = d.remote[(*cold_of(node)).index as usize] {
                        // Bound to another lcore: a source is not run here,
                        // anything else hands its stream over.
                        if head >= 0 {
                            dispatch_send(node, off, d, lane as usize);
                        }
                        if STATS {
                            // The hand-over is the set's cost, not a node's.
                            let t1 = clock::cycles();
                            d.set.lanes[d.me].cycles.fetch_add(t1.wrapping_sub(t0), Relaxed);
                            t0 = t1;
                        }
                        head += 1;
                        if head > 0 {
                            head &= mask;
                        }
                        continue;
                    }
                }
            }
            prefetch((*node).objs);
            if TAP {
                if let Some(tap) = taps.get_mut((*cold_of(node)).index as usize).and_then(Option::as_mut) {
                    // A shared view of the stream, dropped before the node runs
                    // and takes its loan (rule 2).
                    tap(core::slice::from_raw_parts((*node).objs, (*node).idx as usize));
                }
            }
            // Histogram walks make each node's row a seqlock: odd while the
            // call (its counters included) and its stats are being written.
            let seq = if HIST {
                let cold = cold_of(node);
                let s = (*cold).seq.load(Relaxed);
                (*cold).seq.store(s.wrapping_add(1), Relaxed);
                core::sync::atomic::fence(core::sync::atomic::Ordering::Release);
                s
            } else {
                0
            };
            let rc = match tracer.as_deref_mut() {
                Some(t) if TRACE => traced_call(g, node, t),
                _ => ((*node).process)(Invocation { graph: g, node }),
            };
            (*node).idx = 0;
            if STATS {
                let t1 = clock::cycles();
                let dt = t1.wrapping_sub(t0);
                bump(&(*node).cycles, dt);
                bump(&(*node).calls, 1);
                bump(&(*node).total_objs, rc as u64);
                t0 = t1;
                if HIST {
                    let cold = cold_of(node);
                    let h = (*cold).counters.add((*cold).nb_counters as usize);
                    bump(&*h.add(mem::hist_bucket(dt)), 1);
                    let max = &*h.add(mem::HIST_BUCKETS);
                    if dt > max.load(Relaxed) {
                        max.store(dt, Relaxed);
                    }
                    (*cold).seq.store(seq.wrapping_add(2), core::sync::atomic::Ordering::Release);
                }
            }
            head += 1;
            if head > 0 {
                head &= mask;
            }
        }
        (*g).tail = 0;
        if let Some(t) = tracer {
            t.finish_walk();
        }
    }
}

/// Appends `node` (a node of `g` with nothing pending, not in the circular
/// buffer) to the pending list, as `Ctx::tail_update` does.
///
/// # Safety
/// The caller holds `g`'s fast path; `node` is a node of `g` not pending.
#[inline(always)]
unsafe fn append_pending(g: *mut GraphHdr, node: *mut NodeRt) {
    // SAFETY: the contract above; fewer nodes than the buffer's size are
    // ever pending (each at most once).
    unsafe {
        let tail = (*g).tail;
        *(*g).cir.add(tail as usize) = (*node).off;
        (*g).tail = (tail + 1) & (*g).cir_mask;
    }
}

/// Most work items a graph takes from its queue per walk, so a flood from
/// other lcores cannot hold one walk forever.
const DISPATCH_RX_BUDGET: usize = 256;

/// At the start of a dispatch walk: streams that waited for a full queue
/// are pending again, and items from other lcores join their nodes'
/// streams.
///
/// # Safety
/// The caller holds `g`'s fast path, between walks (the circular buffer
/// is empty).
#[cold]
unsafe fn dispatch_receive(g: *mut GraphHdr, d: &mut crate::dispatch::DispatchState) {
    // Offsets in `deferred` and from `by_id` are nodes of this graph
    // (recorded by `dispatch_send`, built by `set_dispatch`). A node joins
    // the pending list only when not in it: the buffer is empty at a walk's
    // start, and a node gets in once (re-queued here, or when its stream
    // goes from empty to not). Items hold values of the node's type moved
    // out of the same node in another graph of the set (same registration).
    // SAFETY: by the above; streams are grown before objects are copied in.
    unsafe {
        let base = g.cast::<u8>();
        for off in d.deferred.drain(..) {
            let node = base.add(off as usize).cast::<NodeRt>();
            if (*node).idx > 0 {
                append_pending(g, node);
            }
        }
        let lane = &d.set.lanes[d.me];
        for _ in 0..DISPATCH_RX_BUDGET {
            let Some(item) = lane.queue.pop() else { break };
            lane.received.fetch_add(1, Relaxed);
            let Some(&i) = d.by_id.get(&item.node) else {
                // Refused by `Dispatch::check`; the objects are lost.
                lane.unknown.fetch_add(1, Relaxed);
                continue;
            };
            let node = base.add(d.offs[i as usize] as usize).cast::<NodeRt>();
            let n = item.objs.len() as u32;
            if n == 0 {
                continue;
            }
            let idx = (*node).idx;
            if idx == 0 {
                append_pending(g, node);
            }
            if (*node).size - idx < n {
                grow_stream(node, idx + n);
            }
            ptr::copy_nonoverlapping(item.objs.as_ptr(), (*node).objs.add(idx as usize), n as usize);
            (*node).idx = idx + n;
        }
    }
}

/// Hands `node`'s stream to `lane`'s graph, or, if that queue is full,
/// leaves it for the next walk.
///
/// # Safety
/// The caller holds the fast path of `node`'s graph; `node` is pending and
/// not running.
#[cold]
unsafe fn dispatch_send(node: *mut NodeRt, off: u32, d: &mut crate::dispatch::DispatchState, lane: usize) {
    // SAFETY: `objs[..idx]` is the node's initialised stream (contract
    // above); its values move into the item (the stream forgets them by
    // resetting `idx`) or stay in the stream if the push fails.
    unsafe {
        let n = (*node).idx as usize;
        if n == 0 {
            return;
        }
        let objs = core::slice::from_raw_parts((*node).objs, n).to_vec();
        let id = d.ids[(*cold_of(node)).index as usize];
        let me = &d.set.lanes[d.me];
        match d.set.lanes[lane].queue.push(crate::dispatch::WorkItem { node: id, objs }) {
            Ok(()) => {
                (*node).idx = 0;
                me.sent.fetch_add(1, Relaxed);
                me.sent_objs.fetch_add(n as u64, Relaxed);
            }
            Err(_) => {
                me.full.fetch_add(1, Relaxed);
                d.deferred.push(off);
            }
        }
    }
}

/// Calls `node` while a trace is active: marks objects at the trace's
/// start node, and for each marked object in the stream records the edge
/// it took, the node's view of it and the drop reasons the call counted.
///
/// # Safety
/// As for the walk: `g` is live, the caller holds its fast path, `node` is
/// the node the walk is about to run (stream initialised, not yet lent).
#[cold]
#[inline(never)]
unsafe fn traced_call(g: *mut GraphHdr, node: *mut NodeRt, t: &mut crate::trace::Tracer) -> usize {
    use crate::trace::TraceStep;
    // Every pointer read below is into this graph's memory: the node's
    // stream `objs[..idx]` (initialised objects of its type, rule 5), its
    // edges' nodes (offsets written at population) and their streams'
    // initialised prefixes `objs[..idx]`. Objects are only read (copied
    // as opaque words, or formatted through a shared borrow of a slot
    // that stays in place for the call), never moved or dropped here.
    // SAFETY: the contract above and the reasoning just given.
    unsafe {
        let base = g.cast::<u8>();
        let idx = (*cold_of(node)).index as usize;
        let edge_node = |e: usize| base.add(*edges_of(node).add(e) as usize).cast::<NodeRt>();
        let stream = |n: *mut NodeRt| core::slice::from_raw_parts((*n).objs, (*n).idx as usize);
        let (source, is_start) = (t.nodes[idx].source, idx == t.start);
        if is_start && !source {
            for &o in stream(node) {
                t.maybe_mark(o, None);
            }
        }
        let mine: Vec<usize> = (0..t.live.len()).filter(|&i| stream(node).contains(&t.live[i].0)).collect();
        if mine.is_empty() && !(is_start && source) {
            return ((*node).process)(Invocation { graph: g, node });
        }
        let info = t.nodes[idx].info;
        let nb_edges = (*node).nb_edges as usize;
        let pre: Vec<Option<String>> = mine
            .iter()
            .map(|&i| {
                let at = stream(node).iter().position(|o| *o == t.live[i].0).expect("in the stream");
                info((*node).objs.add(at))
            })
            .collect();
        let before: Vec<u32> = (0..nb_edges).map(|e| (*edge_node(e)).idx).collect();
        let cold = cold_of(node);
        let nb_drops = (*cold).nb_drops as usize;
        let counts = |c: *mut crate::mem::NodeCold| -> Vec<u64> {
            (0..nb_drops).map(|k| (*(*c).counters.add(k)).load(Relaxed)).collect()
        };
        let drops_before = counts(cold);
        let rc = ((*node).process)(Invocation { graph: g, node });
        let drops: Vec<(String, u64)> = counts(cold)
            .iter()
            .zip(&drops_before)
            .enumerate()
            .filter(|(_, (a, b))| a > b)
            .map(|(k, (a, b))| (t.nodes[idx].drops[k].to_string(), a - b))
            .collect();
        // Where an object went: the first edge whose stream gained it.
        let went = |o: Obj| -> Option<(usize, *const Obj)> {
            (0..nb_edges).find_map(|e| {
                let n = edge_node(e);
                let from = (before[e] as usize).min((*n).idx as usize);
                let new = &stream(n)[from..];
                new.iter().position(|x| *x == o).map(|p| (e, (*n).objs.add(from + p).cast_const()))
            })
        };
        for (k, &i) in mine.iter().enumerate() {
            let o = t.live[i].0;
            let step = match went(o) {
                Some((e, slot)) => TraceStep {
                    node: t.nodes[idx].name.clone(),
                    edge: Some(t.nodes[idx].next[e].clone()),
                    info: info(slot),
                    drops: drops.clone(),
                },
                None => TraceStep {
                    node: t.nodes[idx].name.clone(),
                    edge: None,
                    info: pre[k].clone(),
                    drops: drops.clone(),
                },
            };
            t.live[i].1.steps.push(step);
        }
        if is_start && source {
            // A source makes its objects: mark among what it just sent.
            for (e, &b) in before.iter().enumerate() {
                let n = edge_node(e);
                let from = (b as usize).min((*n).idx as usize);
                for p in from..(*n).idx as usize {
                    let slot = (*n).objs.add(p).cast_const();
                    let step = TraceStep {
                        node: t.nodes[idx].name.clone(),
                        edge: Some(t.nodes[idx].next[e].clone()),
                        info: info(slot),
                        drops: Vec::new(),
                    };
                    t.maybe_mark(*slot, Some(step));
                }
            }
        }
        rc
    }
}
