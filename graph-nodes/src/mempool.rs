//! Fixed-size pools of packet buffers, like `rte_mempool` +
//! `rte_pktmbuf_pool_create`.
//!
//! All buffers of a pool are one allocation made at creation; nothing is
//! allocated on the packet path. Free buffers sit in a shared stack and in
//! per-lcore caches (see [`lcore`](crate::lcore)): an lcore allocates and
//! frees against its own cache and touches the shared stack (under a
//! mutex) only to refill or flush a cache's worth at a time. Exhaustion is
//! an immediate error.
//!
//! ```text
//!  one element:  [ Mbuf header 128 B | priv (rounded to 64) | headroom 128 | data room ]
//! ```
//!
//! A buffer's `refcnt` is 1 while allocated and 0 while free; freeing a free
//! buffer is refused and counted (`double_frees`) instead of corrupting the
//! pool.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::alloc::{self, Layout};
use std::sync::{Arc, Mutex, Weak};

use graph_core::Obj;

use crate::lcore::{self, MAX_LCORE};
use crate::mbuf::{Mbuf, DEFAULT_DATAROOM, HEADROOM};
use crate::pkt::{as_objs, Pkt};

/// Pool parameters.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Number of buffers.
    pub size: u32,
    /// Per-lcore cache size (0: no cache). At most 512.
    pub cache_size: u32,
    /// Data room per buffer after the headroom.
    pub data_room: u16,
    /// Private area per buffer after the header.
    pub priv_size: u16,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { size: 8192, cache_size: 256, data_room: DEFAULT_DATAROOM, priv_size: 0 }
    }
}

/// Why a pool could not be made or a request could not be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Not enough free buffers for the whole request.
    #[error("mempool \"{pool}\" exhausted: {wanted} buffers wanted, {available} free")]
    Exhausted { pool: String, wanted: usize, available: u32 },
    /// A configuration value is out of range.
    #[error("mempool \"{pool}\": {what}")]
    BadConfig { pool: String, what: String },
}

/// One lcore's cache, alone on its cache line(s): lcores writing their own
/// caches never share a line.
#[repr(align(64))]
struct Cache {
    /// Free buffers of this lcore; capacity `2 * cache_size`, never grows.
    objs: UnsafeCell<Vec<Obj>>,
    /// `objs.len()`, published for `available()` on other threads.
    len: AtomicU32,
}

pub(crate) struct PoolInner {
    name: String,
    mem: NonNull<u8>,
    layout: Layout,
    elt_size: usize,
    n: u32,
    cache_size: u32,
    ring: Mutex<Vec<Obj>>,
    caches: Box<[Cache]>,
    double_frees: AtomicU64,
}

// SAFETY: the shared free stack is behind a mutex; cache `i` is only
// touched by the thread holding lcore `i` (exclusive, see `lcore`), its
// `len` mirror is atomic; the element memory is owned by the pool and each
// element by whoever holds its handle.
unsafe impl Send for PoolInner {}
// SAFETY: as above.
unsafe impl Sync for PoolInner {}

/// A pool of packet buffers. Cloning shares the pool.
///
/// Usually one of ours; with DPDK, a pool DPDK owns ([`ForeignPool`]) whose
/// buffers have the same layout.
#[derive(Clone)]
pub struct Mempool {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Native(Arc<PoolInner>),
    Foreign(Arc<dyn ForeignPool>),
}

/// A buffer pool managed elsewhere (DPDK's `rte_mempool`), whose buffers
/// are laid out as [`Mbuf`]s. Its buffers are freed through the hook set
/// with [`set_foreign_free`].
///
/// # Safety
/// `alloc_bulk` returning `true` initialised every slot with the handle of
/// a live, reset buffer laid out as an [`Mbuf`] (its invariant holds),
/// handed to the caller alone, and the pool's memory outlives every buffer
/// it handed out.
pub unsafe trait ForeignPool: Send + Sync {
    /// Name.
    fn name(&self) -> &str;
    /// Buffers in all.
    fn size(&self) -> u32;
    /// Free buffers.
    fn available(&self) -> u32;
    /// Data room after the headroom.
    fn data_room(&self) -> u16;
    /// Allocates and resets `out.len()` buffers, all or none.
    fn alloc_bulk(&self, out: &mut [MaybeUninit<Obj>]) -> bool;
    /// The pool's handle in its own library (an `rte_mempool *` for DPDK),
    /// for drivers that fill buffers themselves.
    fn handle(&self) -> *mut c_void;
}

static FOREIGN_FREE: std::sync::OnceLock<fn(&[Obj])> = std::sync::OnceLock::new();

/// Sets how buffers of foreign pools are freed (once per process).
pub fn set_foreign_free(f: fn(&[Obj])) {
    let _ = FOREIGN_FREE.set(f);
}

/// Addresses of our live pools, for telling our buffers from foreign ones
/// without a lock.
static NATIVE: [std::sync::atomic::AtomicUsize; 64] = [const { std::sync::atomic::AtomicUsize::new(0) }; 64];

fn native_register(p: *const PoolInner) {
    for slot in &NATIVE {
        if slot.compare_exchange(0, p as usize, Relaxed, Relaxed).is_ok() {
            return;
        }
    }
    // More than 64 pools: they still work; buffers of the extra ones would
    // be taken for foreign ones, so refuse to mix then.
    assert!(FOREIGN_FREE.get().is_none(), "more than 64 native mempools alongside foreign ones");
}

fn native_unregister(p: *const PoolInner) {
    for slot in &NATIVE {
        let _ = slot.compare_exchange(p as usize, 0, Relaxed, Relaxed);
    }
}

#[inline]
fn is_native(p: *mut c_void) -> bool {
    NATIVE.iter().any(|s| s.load(Relaxed) == p as usize)
}

/// Asks Linux to back the whole 2 MiB pages inside `len` bytes at `p` with
/// transparent huge pages (`MADV_HUGEPAGE`), before anything touches them:
/// a burst's buffers, or random lookups over the LPM's 64 MiB first table,
/// otherwise miss the TLB on nearly every access with 4 KiB pages. Advice
/// only; where the kernel declines (THP off), nothing changes.
pub(crate) fn huge_pages_advised(p: *const u8, len: usize) {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        const HUGE: usize = 2 << 20;
        let start = (p as usize).next_multiple_of(HUGE);
        let end = (p as usize + len) / HUGE * HUGE;
        if end > start {
            // SAFETY: `start..end` lies inside the caller's live allocation;
            // MADV_HUGEPAGE changes how its pages are backed, never their
            // contents, so no reference into it is affected.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(all(target_os = "linux", not(miri))))]
    let _ = (p, len);
}

static POOLS: Mutex<Vec<Weak<PoolInner>>> = Mutex::new(Vec::new());

/// Flushes every pool's cache of `lcore` to the shared stacks (the lcore is
/// being released).
pub(crate) fn flush_lcore_caches(lcore: u32) {
    let pools: Vec<_> = POOLS.lock().unwrap_or_else(|e| e.into_inner()).iter().filter_map(Weak::upgrade).collect();
    for p in pools {
        // SAFETY: called from the thread that still holds `lcore` (from
        // `LcoreGuard::drop`), so cache `lcore` is ours.
        unsafe { p.flush_cache(lcore as usize, 0) };
    }
}

impl Mempool {
    /// Creates a pool (`rte_pktmbuf_pool_create`).
    pub fn new(name: &str, cfg: &PoolConfig) -> Result<Mempool, PoolError> {
        let bad = |what: String| PoolError::BadConfig { pool: name.to_string(), what };
        if cfg.size == 0 {
            return Err(bad("size must be at least 1".into()));
        }
        if cfg.cache_size > 512 {
            return Err(bad(format!("cache size {} exceeds 512", cfg.cache_size)));
        }
        let buf_len = u32::from(HEADROOM) + u32::from(cfg.data_room);
        if buf_len > u32::from(u16::MAX) {
            return Err(bad(format!("data room {} too large", cfg.data_room)));
        }
        let priv_len = (cfg.priv_size as usize).div_ceil(64) * 64;
        // An odd number of cache lines per element, as rte_mempool pads its
        // objects: with an even stride (2304 bytes = 36 lines for the
        // default size) the same line of consecutive buffers falls in only
        // 16 of the 64 L1 sets; with an odd one, in all of them.
        let lines = (core::mem::size_of::<Mbuf>() + priv_len + buf_len as usize).div_ceil(64);
        let elt_size = (lines | 1) * 64;
        let total = elt_size
            .checked_mul(cfg.size as usize)
            .filter(|t| *t <= isize::MAX as usize / 2)
            .ok_or_else(|| bad(format!("{} buffers of {elt_size} bytes do not fit in memory", cfg.size)))?;
        let layout = Layout::from_size_align(total, 64).map_err(|e| bad(e.to_string()))?;
        // SAFETY: `layout` has a non-zero size (size >= 1 element).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let Some(mem) = NonNull::new(raw) else { alloc::handle_alloc_error(layout) };
        // Before the headers below touch the (lazily zeroed) pages.
        huge_pages_advised(mem.as_ptr(), total);
        let caches = (0..MAX_LCORE)
            .map(|_| Cache {
                objs: UnsafeCell::new(Vec::with_capacity(if cfg.cache_size > 0 {
                    2 * cfg.cache_size as usize
                } else {
                    0
                })),
                len: AtomicU32::new(0),
            })
            .collect();
        let inner = Arc::new(PoolInner {
            name: name.to_string(),
            mem,
            layout,
            elt_size,
            n: cfg.size,
            cache_size: cfg.cache_size,
            ring: Mutex::new(Vec::with_capacity(cfg.size as usize)),
            caches,
            double_frees: AtomicU64::new(0),
        });
        let pool_ptr = Arc::as_ptr(&inner) as *mut c_void;
        {
            let mut ring = inner.ring.lock().unwrap_or_else(|e| e.into_inner());
            // Push in reverse so that the first allocations come from the
            // start of the memory.
            for i in (0..cfg.size as usize).rev() {
                // The buffer after the header and private area is `buf_len`
                // bytes, inside the element.
                // SAFETY: element `i` lies inside the allocation, is 64-aligned
                // (elt_size and the base are multiples of 64), and the pool owns it.
                unsafe {
                    let elt = mem.as_ptr().add(i * elt_size);
                    let buf = elt.add(core::mem::size_of::<Mbuf>() + priv_len);
                    let m = elt.cast::<Mbuf>();
                    m.write(Mbuf::init(buf, buf_len as u16, pool_ptr, cfg.priv_size));
                    ring.push(Obj::from_ptr(m));
                }
            }
        }
        let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
        pools.retain(|w| w.strong_count() > 0);
        pools.push(Arc::downgrade(&inner));
        native_register(Arc::as_ptr(&inner));
        Ok(Mempool { kind: Kind::Native(inner) })
    }

    /// Wraps a pool managed elsewhere.
    pub fn foreign(p: Arc<dyn ForeignPool>) -> Mempool {
        Mempool { kind: Kind::Foreign(p) }
    }

    /// The foreign pool, if this is one.
    pub fn as_foreign(&self) -> Option<&Arc<dyn ForeignPool>> {
        match &self.kind {
            Kind::Foreign(f) => Some(f),
            Kind::Native(_) => None,
        }
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        match &self.kind {
            Kind::Native(p) => &p.name,
            Kind::Foreign(f) => f.name(),
        }
    }

    /// Number of buffers.
    pub fn size(&self) -> u32 {
        match &self.kind {
            Kind::Native(p) => p.n,
            Kind::Foreign(f) => f.size(),
        }
    }

    /// Free buffers (shared stack plus every lcore cache).
    pub fn available(&self) -> u32 {
        match &self.kind {
            Kind::Native(p) => p.available(),
            Kind::Foreign(f) => f.available(),
        }
    }

    /// Buffers allocated and not yet freed.
    pub fn in_use(&self) -> u32 {
        self.size() - self.available()
    }

    /// Frees of already-free buffers that were refused.
    pub fn double_frees(&self) -> u64 {
        match &self.kind {
            Kind::Native(p) => p.double_frees.load(Relaxed),
            Kind::Foreign(_) => 0,
        }
    }

    /// Size of the data area after the headroom.
    pub fn data_room(&self) -> u16 {
        match &self.kind {
            Kind::Native(p) => {
                let elt = p.mem.as_ptr() as *const Mbuf;
                // SAFETY: element 0 exists (size >= 1) and its header was
                // initialised at creation; `buf_len` never changes.
                unsafe { (*elt).buf_len() - HEADROOM }
            }
            Kind::Foreign(f) => f.data_room(),
        }
    }

    /// Allocates `out.len()` buffers, all or none
    /// (`rte_pktmbuf_alloc_bulk`), as raw handles owned by the caller.
    /// Each is reset (empty, default headroom).
    #[inline]
    pub(crate) fn alloc_raw(&self, out: &mut [MaybeUninit<Obj>]) -> Result<(), PoolError> {
        match &self.kind {
            Kind::Native(p) => {
                p.get_bulk(out)?;
                for o in out.iter() {
                    // SAFETY: `get_bulk` initialised every slot with a free
                    // buffer of this pool, now handed to the caller
                    // exclusively.
                    let m = unsafe { Mbuf::from_obj(o.assume_init()) };
                    m.reset();
                    m.set_refcnt(1);
                }
                Ok(())
            }
            Kind::Foreign(f) => {
                if f.alloc_bulk(out) {
                    Ok(())
                } else {
                    Err(PoolError::Exhausted {
                        pool: f.name().to_string(),
                        wanted: out.len(),
                        available: f.available(),
                    })
                }
            }
        }
    }

    /// Allocates `n` packets, all or none (`rte_pktmbuf_alloc_bulk`).
    pub fn alloc_bulk(&self, n: usize) -> Result<Vec<Pkt>, PoolError> {
        let mut v: Vec<Pkt> = Vec::with_capacity(n);
        let spare = &mut v.spare_capacity_mut()[..n];
        // SAFETY: `MaybeUninit<Pkt>` and `MaybeUninit<Obj>` have the same
        // layout (`Pkt` is a transparent pointer); nothing is read.
        let raw = unsafe { &mut *(spare as *mut [MaybeUninit<Pkt>] as *mut [MaybeUninit<Obj>]) };
        self.alloc_raw(raw)?;
        // SAFETY: `alloc_raw` initialised all `n` slots with fresh buffers
        // owned by nobody else, which the vector now owns as `Pkt`s.
        unsafe { v.set_len(n) };
        Ok(v)
    }

    /// Allocates one packet.
    pub fn alloc(&self) -> Result<Pkt, PoolError> {
        let mut o = [MaybeUninit::uninit()];
        self.alloc_raw(&mut o)?;
        // SAFETY: a fresh buffer of this pool, handed to the caller alone.
        Ok(unsafe { Pkt::from_obj(o[0].assume_init()) })
    }
}

impl core::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mempool")
            .field("name", &self.name())
            .field("size", &self.size())
            .field("available", &self.available())
            .finish()
    }
}

impl PoolInner {
    fn available(&self) -> u32 {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner()).len() as u32;
        ring + self.caches.iter().map(|c| c.len.load(Relaxed)).sum::<u32>()
    }

    #[cold]
    fn exhausted(&self, wanted: usize) -> PoolError {
        PoolError::Exhausted { pool: self.name.clone(), wanted, available: self.available() }
    }

    fn get_bulk(&self, out: &mut [MaybeUninit<Obj>]) -> Result<(), PoolError> {
        let n = out.len();
        if let Some(l) = lcore::lcore_id() {
            if self.cache_size > 0 && n <= self.cache_size as usize {
                let c = &self.caches[l as usize];
                // SAFETY: this thread holds lcore `l` exclusively, so nobody
                // else touches cache `l`.
                let cache = unsafe { &mut *c.objs.get() };
                if cache.len() < n {
                    // Refill to cache_size + n in one go.
                    let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
                    let want = (self.cache_size as usize + n - cache.len()).min(ring.len());
                    let at = ring.len() - want;
                    cache.extend(ring.drain(at..));
                    drop(ring);
                    if cache.len() < n {
                        c.len.store(cache.len() as u32, Relaxed);
                        return Err(self.exhausted(n));
                    }
                }
                let at = cache.len() - n;
                fill(out, &cache[at..]);
                cache.truncate(at);
                c.len.store(at as u32, Relaxed);
                return Ok(());
            }
        }
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len() < n {
            drop(ring);
            // A request larger than the cache may still be served from what
            // this lcore's own cache holds.
            if let Some(l) = lcore::lcore_id() {
                // SAFETY: this thread holds lcore `l` exclusively.
                unsafe { self.flush_cache(l as usize, 0) };
            }
            ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            if ring.len() < n {
                drop(ring);
                return Err(self.exhausted(n));
            }
        }
        let at = ring.len() - n;
        fill(out, &ring[at..]);
        ring.truncate(at);
        Ok(())
    }

    /// Returns `objs` (buffers of this pool with refcnt already checked and
    /// cleared) to the cache or the shared stack.
    fn put_bulk(&self, objs: &[Obj]) {
        if let Some(l) = lcore::lcore_id() {
            if self.cache_size > 0 && objs.len() <= self.cache_size as usize {
                let c = &self.caches[l as usize];
                // SAFETY: this thread holds lcore `l` exclusively.
                let cache = unsafe { &mut *c.objs.get() };
                cache.extend_from_slice(objs);
                if cache.len() >= (self.cache_size as usize * 3) / 2 {
                    // SAFETY: as above.
                    unsafe { self.flush_cache(l as usize, self.cache_size as usize) };
                } else {
                    c.len.store(cache.len() as u32, Relaxed);
                }
                return;
            }
        }
        self.ring.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(objs);
    }

    /// Moves all but `keep` buffers of cache `l` to the shared stack.
    ///
    /// # Safety
    /// The calling thread holds lcore `l`.
    unsafe fn flush_cache(&self, l: usize, keep: usize) {
        // SAFETY: the calling thread holds lcore `l` (contract above), and only
        // that thread touches cache `l`'s vector.
        unsafe {
            let c = &self.caches[l];
            let cache = &mut *c.objs.get();
            if cache.len() > keep {
                self.ring.lock().unwrap_or_else(|e| e.into_inner()).extend(cache.drain(keep..));
            }
            c.len.store(cache.len() as u32, Relaxed);
        }
    }

    fn owns(&self, o: Obj) -> bool {
        let base = self.mem.as_ptr() as usize;
        let a = o.addr();
        a >= base && a < base + self.layout.size() && (a - base).is_multiple_of(self.elt_size)
    }
}

#[inline(always)]
fn fill(out: &mut [MaybeUninit<Obj>], from: &[Obj]) {
    let n = out.len().min(from.len());
    // SAFETY: both slices hold at least `n` elements of one layout
    // (`MaybeUninit<Obj>` is `Obj`'s), and a `&mut` and a `&` slice never
    // overlap: one memcpy, as `copy_from_slice` was.
    unsafe { core::ptr::copy_nonoverlapping(from.as_ptr(), out.as_mut_ptr().cast::<Obj>(), n) };
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        native_unregister(self as *const PoolInner);
        let avail = self.available();
        if avail != self.n {
            // Buffers are still out there: their memory must stay valid.
            crate::warn(format_args!(
                "mempool \"{}\" dropped with {} buffers in use; leaking its memory",
                self.name,
                self.n - avail
            ));
            return;
        }
        // SAFETY: allocated in `Mempool::new` with this layout; every buffer
        // is back, so no handle points into it.
        unsafe { alloc::dealloc(self.mem.as_ptr(), self.layout) };
    }
}

/// Frees packets (`rte_pktmbuf_free_bulk`), returning each to its pool.
/// Returns how many were freed.
#[inline]
pub fn free_bulk(pkts: graph_core::Objs<'_, Pkt>) -> usize {
    // SAFETY: the `Pkt`s are owned by `pkts`, which is consumed: nothing
    // uses them afterwards.
    unsafe { free_raw(as_objs(&pkts)) }
}

/// Frees packet buffers given as raw handles, returning each to its pool.
/// A handle whose buffer is already free is skipped and counted in its
/// pool's `double_frees`. Returns how many were freed.
///
/// # Safety
/// Each handle is a buffer handed out by a pool (ours or a foreign one)
/// that the caller owns and does not use afterwards.
#[inline]
pub(crate) unsafe fn free_raw(objs: &[Obj]) -> usize {
    let foreign = FOREIGN_FREE.get();
    let mut freed = 0;
    let mut batch: [Obj; 64] = [Obj::NULL; 64];
    let mut nb = 0;
    let mut cur: *mut c_void = core::ptr::null_mut();
    let mut cur_native = true;
    for &o in objs {
        // A pool's memory lives while any buffer is out (`PoolInner::drop`
        // leaks it otherwise), so a header stays valid.
        // SAFETY: the caller passes handles of buffers it owns (this
        // function's contract).
        let m = unsafe { Mbuf::from_obj(o) };
        let p = m.pool_ptr();
        if p != cur || nb == batch.len() {
            flush(cur, cur_native, &batch[..nb], foreign);
            nb = 0;
            if p != cur {
                cur = p;
                cur_native = foreign.is_none() || is_native(p);
            }
        }
        if cur_native {
            if m.refcnt() != 1 {
                double_free(m);
                continue;
            }
            m.set_refcnt(0);
        }
        batch[nb] = o;
        nb += 1;
        freed += 1;
    }
    flush(cur, cur_native, &batch[..nb], foreign);
    freed
}

#[inline]
fn flush(pool: *mut c_void, native: bool, objs: &[Obj], foreign: Option<&fn(&[Obj])>) {
    if objs.is_empty() {
        return;
    }
    match (native, foreign) {
        (true, _) => put(pool, objs),
        (false, Some(f)) => f(objs),
        (false, None) => unreachable!("foreign buffers without a foreign free hook"),
    }
}

#[cold]
fn double_free(m: &Mbuf) {
    let p = m.pool_ptr() as *const PoolInner;
    // SAFETY: as in `free_bulk`: the pool outlives its buffers.
    unsafe { (*p).double_frees.fetch_add(1, Relaxed) };
}

#[inline]
fn put(pool: *mut c_void, objs: &[Obj]) {
    let p = pool as *const PoolInner;
    // SAFETY: `pool` comes from the header of one of this pool's buffers,
    // which the pool outlives.
    let p = unsafe { &*p };
    debug_assert!(objs.iter().all(|&o| p.owns(o)), "buffer returned to a pool that does not own it");
    p.put_bulk(objs);
}

/// Frees one packet.
pub fn free(pkt: Pkt) {
    // SAFETY: `pkt` is owned here and consumed.
    unsafe { free_raw(&[pkt.into_obj()]) };
}

/// Runs `f` on a packet holding `bytes` from a small pool shared by unit
/// tests, and frees it after (a `Pkt` is a handle: dropping it would not).
#[cfg(test)]
pub(crate) fn with_test_pkt<R>(bytes: &[u8], f: impl FnOnce(&mut Pkt) -> R) -> R {
    static POOL: std::sync::OnceLock<Mempool> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        Mempool::new("unit-tests", &PoolConfig { size: 64, cache_size: 0, ..PoolConfig::default() }).unwrap()
    });
    let mut m = pool.alloc().expect("the unit-test pool has room");
    assert!(m.set_data(bytes), "{} bytes do not fit a buffer", bytes.len());
    let r = f(&mut m);
    free_bulk(graph_core::Objs::from_vec(&mut vec![m]));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcore_caches_do_not_share_lines() {
        assert_eq!(core::mem::align_of::<Cache>(), 64);
        assert!(core::mem::size_of::<Cache>().is_multiple_of(64));
    }

    fn small() -> PoolConfig {
        PoolConfig { size: 64, cache_size: 8, data_room: 256, priv_size: 0 }
    }

    #[test]
    fn alloc_free_round_trip_without_lcore() {
        let p = Mempool::new("t1", &small()).unwrap();
        let mut v = p.alloc_bulk(64).unwrap();
        assert_eq!(p.in_use(), 64);
        let err = p.alloc().unwrap_err();
        assert!(matches!(err, PoolError::Exhausted { wanted: 1, available: 0, .. }), "{err}");
        assert!(err.to_string().contains("\"t1\" exhausted"));
        let raw: Vec<Obj> = v.iter().map(Pkt::as_obj).collect();
        for m in v.iter_mut() {
            assert_eq!(m.refcnt(), 1);
            assert_eq!(m.headroom(), HEADROOM);
            assert_eq!(m.tailroom(), 256);
            assert!(m.set_data(&[1, 2, 3]));
            assert_eq!(m.data(), &[1, 2, 3]);
        }
        assert_eq!(free_bulk(graph_core::Objs::from_vec(&mut v)), 64);
        assert!(v.is_empty());
        assert_eq!(p.available(), 64);
        // A second free of the same buffers (possible only through raw
        // handles) is refused and counted.
        // SAFETY: the handles are of this pool's buffers, all free now:
        // `free_raw` reads their headers (which the pool keeps valid) and
        // refuses them.
        assert_eq!(unsafe { free_raw(&raw[..3]) }, 0);
        assert_eq!(p.double_frees(), 3);
        assert_eq!(p.available(), 64);
    }

    #[test]
    fn lcore_cache_refills_and_flushes() {
        let p = Mempool::new("t2", &small()).unwrap();
        std::thread::spawn(move || {
            let _g = lcore::register_any().unwrap();
            let rounds = if cfg!(miri) { 20 } else { 10_000 };
            for _ in 0..rounds {
                let mut a = p.alloc_bulk(4).unwrap();
                assert_eq!(p.in_use(), 4);
                free_bulk(graph_core::Objs::from_vec(&mut a));
                assert_eq!(p.in_use(), 0);
            }
            // All or nothing: 64 requested, 64 free, cache too small for it.
            let mut all = p.alloc_bulk(64).unwrap();
            assert!(p.alloc_bulk(1).is_err());
            free_bulk(graph_core::Objs::from_vec(&mut all));
            assert_eq!(p.available(), 64);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn accessors_keep_the_buffer_invariant() {
        let p = Mempool::new("t3", &small()).unwrap();
        let mut m = p.alloc().unwrap();
        assert!(m.append(10).is_some());
        assert_eq!((m.data_len(), m.pkt_len()), (10, 10));
        assert!(m.prepend(14).is_some());
        assert_eq!(m.headroom(), HEADROOM - 14);
        assert!(m.prepend(200).is_none());
        assert!(m.append(1000).is_none());
        assert!(m.adj(14));
        assert!(m.trim(5));
        assert_eq!(m.data_len(), 5);
        assert!(!m.adj(6));
        assert!(!m.trim(6));
        assert!(!m.set_data(&[0; 300]));
        m.meta_mut().nh = 7;
        assert_eq!(m.meta().nh, 7);
        free(m);
        assert_eq!(p.available(), 64);
    }

    #[test]
    fn bad_configs_are_refused() {
        assert!(matches!(Mempool::new("b", &PoolConfig { size: 0, ..small() }), Err(PoolError::BadConfig { .. })));
        assert!(matches!(
            Mempool::new("b", &PoolConfig { cache_size: 1000, ..small() }),
            Err(PoolError::BadConfig { .. })
        ));
        assert!(matches!(
            Mempool::new("b", &PoolConfig { data_room: 65500, ..small() }),
            Err(PoolError::BadConfig { .. })
        ));
    }
}
