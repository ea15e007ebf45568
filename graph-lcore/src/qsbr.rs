//! Quiescent-state-based reclamation (QSBR), the idea of DPDK's
//! `rte_rcu_qsbr`: a writer that unlinks shared memory while other lcores
//! may still be reading it waits to reuse that memory until every
//! registered reader has passed a *quiescent state*, a point where it holds
//! no reference into the shared structure. For an lcore that is the end of
//! a walk: [`LcoreLoop`](crate::task::LcoreLoop) registers a [`Reader`] and
//! reports once per round, which costs one load and one store to the
//! lcore's own cache line.
//!
//! ```text
//!  writer:  unlink ── start() = t ─────────── passed(t)? ── reuse
//!  reader A:  ...walk... quiescent ...walk... quiescent (seen ≥ t) ...
//!  reader B:  ...walk...walk... quiescent (seen ≥ t) ...
//! ```
//!
//! A thread running control-plane code is not inside a lookup, so
//! [`passed`] counts the calling thread's own readers as quiescent: a
//! writer on an lcore (a control task between walks) never waits for
//! itself. Readers on threads that never register are not covered.
//!
//! Ordering: the writer's unlink is sequenced before the token increment
//! (SeqCst); a reader publishes the token it saw with a release store after
//! its lookups, and the writer reads it with acquire, so every lookup the
//! reader made before that report happened before the writer reuses the
//! memory, and every lookup after it sees the unlink.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The grace-period counter: [`start`] increments it.
static TOKEN: AtomicU64 = AtomicU64::new(1);
/// Every registered reader.
static READERS: Mutex<Vec<Arc<Slot>>> = Mutex::new(Vec::new());

thread_local! {
    /// The readers registered on this thread.
    static HERE: RefCell<Vec<Arc<Slot>>> = const { RefCell::new(Vec::new()) };
}

/// A reader's last reported token, alone on its cache line.
#[repr(align(64))]
struct Slot {
    seen: AtomicU64,
}

fn readers() -> MutexGuard<'static, Vec<Arc<Slot>>> {
    READERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A thread's registration as a reader (`rte_rcu_qsbr_thread_register` and
/// `_online`). It stays on the thread that made it; dropping it
/// unregisters.
pub struct Reader {
    slot: Arc<Slot>,
    _thread_bound: PhantomData<*const ()>,
}

impl Reader {
    /// Registers the calling thread. Until its first
    /// [`quiescent`](Self::quiescent) it holds back grace periods started
    /// from now on.
    pub fn register() -> Reader {
        let slot = Arc::new(Slot { seen: AtomicU64::new(TOKEN.load(SeqCst)) });
        readers().push(slot.clone());
        HERE.with(|h| h.borrow_mut().push(slot.clone()));
        Reader { slot, _thread_bound: PhantomData }
    }

    /// Reports a quiescent state: the thread holds no reference into any
    /// structure protected by QSBR (`rte_rcu_qsbr_quiescent`).
    #[inline(always)]
    pub fn quiescent(&self) {
        self.slot.seen.store(TOKEN.load(Acquire), Release);
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        readers().retain(|s| !Arc::ptr_eq(s, &self.slot));
        // The thread-local may already be gone when a reader outlives it
        // in another thread-local's destructor; nothing is left to clear.
        let _ = HERE.try_with(|h| h.borrow_mut().retain(|s| !Arc::ptr_eq(s, &self.slot)));
    }
}

/// Starts a grace period, after the writer unlinked what it will reuse;
/// returns its token (`rte_rcu_qsbr_start`).
pub fn start() -> u64 {
    TOKEN.fetch_add(1, SeqCst) + 1
}

/// Whether every registered reader has reported a quiescent state since
/// the grace period `token` started (`rte_rcu_qsbr_check`, non-blocking).
/// The calling thread's own readers count as quiescent.
pub fn passed(token: u64) -> bool {
    let now = TOKEN.load(SeqCst);
    let _ = HERE.try_with(|h| h.borrow().iter().for_each(|s| s.seen.store(now, Release)));
    readers().iter().all(|s| s.seen.load(Acquire) >= token)
}

/// Waits for [`passed`]`(token)` at most `timeout`; whether it passed.
/// Yields the CPU between checks.
pub fn wait(token: u64, timeout: Duration) -> bool {
    let t0 = Instant::now();
    loop {
        if passed(token) {
            return true;
        }
        if t0.elapsed() >= timeout {
            return false;
        }
        std::thread::yield_now();
    }
}

/// How many readers are registered.
pub fn readers_count() -> usize {
    readers().len()
}
