//! Logical cores: a small id per worker thread, as DPDK's `rte_lcore_id()`.
//!
//! Per-lcore state (mempool caches) is indexed by this id. A thread claims
//! an id with [`register`]; the id is exclusive to that thread until the
//! returned guard is dropped, which is what makes per-lcore state safe to
//! use without locks. Threads without an id use the shared paths.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Mutex;

/// Largest number of lcores (`RTE_MAX_LCORE`).
pub const MAX_LCORE: usize = 128;

static CLAIMED: Mutex<[bool; MAX_LCORE]> = Mutex::new([false; MAX_LCORE]);

thread_local! {
    static LCORE: Cell<u32> = const { Cell::new(u32::MAX) };
}

/// Why an lcore id could not be claimed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LcoreError {
    /// The id is not below [`MAX_LCORE`].
    #[error("lcore {0} is out of range (max {max})", max = MAX_LCORE - 1)]
    OutOfRange(u32),
    /// Another thread holds it.
    #[error("lcore {0} is already in use by another thread")]
    InUse(u32),
    /// This thread already holds one.
    #[error("this thread already runs as lcore {0}")]
    AlreadyRegistered(u32),
}

/// This thread's lcore id, if it has one.
#[inline(always)]
pub fn lcore_id() -> Option<u32> {
    let id = LCORE.with(|l| l.get());
    (id != u32::MAX).then_some(id)
}

/// Holds an lcore id for the current thread; releases it when dropped
/// (flushing this lcore's mempool caches back to their pools).
#[derive(Debug)]
pub struct LcoreGuard {
    id: u32,
    _not_send: PhantomData<*const ()>,
}

impl LcoreGuard {
    /// The id held.
    pub fn id(&self) -> u32 {
        self.id
    }
}

/// Claims lcore `id` for the calling thread.
pub fn register(id: u32) -> Result<LcoreGuard, LcoreError> {
    if id as usize >= MAX_LCORE {
        return Err(LcoreError::OutOfRange(id));
    }
    if let Some(cur) = lcore_id() {
        return Err(LcoreError::AlreadyRegistered(cur));
    }
    let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
    if claimed[id as usize] {
        return Err(LcoreError::InUse(id));
    }
    claimed[id as usize] = true;
    LCORE.with(|l| l.set(id));
    Ok(LcoreGuard { id, _not_send: PhantomData })
}

/// Claims the lowest free lcore id for the calling thread.
pub fn register_any() -> Result<LcoreGuard, LcoreError> {
    if let Some(cur) = lcore_id() {
        return Err(LcoreError::AlreadyRegistered(cur));
    }
    let free = {
        let claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
        claimed.iter().position(|c| !c)
    };
    match free {
        Some(id) => register(id as u32).or_else(|_| register_any()),
        None => Err(LcoreError::OutOfRange(MAX_LCORE as u32)),
    }
}

impl Drop for LcoreGuard {
    fn drop(&mut self) {
        crate::mempool::flush_lcore_caches(self.id);
        LCORE.with(|l| l.set(u32::MAX));
        CLAIMED.lock().unwrap_or_else(|e| e.into_inner())[self.id as usize] = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_exclusive_per_thread() {
        let g = register(77).unwrap();
        assert_eq!(lcore_id(), Some(77));
        assert_eq!(register(78).unwrap_err(), LcoreError::AlreadyRegistered(77));
        let other = std::thread::spawn(|| register(77).map(|_| ()).unwrap_err()).join().unwrap();
        assert_eq!(other, LcoreError::InUse(77));
        drop(g);
        assert_eq!(lcore_id(), None);
        assert_eq!(register(9999).unwrap_err(), LcoreError::OutOfRange(9999));
        let again = std::thread::spawn(|| register(77).map(|g| g.id()).unwrap()).join().unwrap();
        assert_eq!(again, 77);
    }
}
