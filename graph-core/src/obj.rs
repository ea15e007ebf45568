//! Graph objects: pointer-sized opaque handles.
//!
//! A graph moves objects, never the things they point to. In a packet
//! pipeline an object is an mbuf pointer; in a test it can be any tag. The
//! runtime copies and swaps handles but never dereferences them, which is
//! what makes a burst of 256 packets cost 2 KiB of pointer moves and no
//! packet copies.

use core::ffi::c_void;
use core::fmt;
use core::ptr;

/// A pointer-sized opaque handle carried by a graph (`void *` in rte_graph).
///
/// graph-core never dereferences an `Obj`. Whoever creates one (a port, a
/// mempool, a test) decides what it means and when it may be dereferenced.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Obj(*mut c_void);

// SAFETY: an `Obj` is an opaque handle; graph-core never dereferences it, so
// moving one between threads cannot cause a data race by itself. Code that
// turns it back into a pointer (`as_ptr`) and dereferences it carries the
// usual obligations for that pointer.
unsafe impl Send for Obj {}
// SAFETY: as above; sharing a handle is sharing an integer.
unsafe impl Sync for Obj {}

impl Obj {
    /// The null handle; fresh stream slots hold it.
    pub const NULL: Obj = Obj(ptr::null_mut());

    /// Wraps a pointer.
    #[inline(always)]
    pub fn from_ptr<T>(p: *mut T) -> Obj {
        Obj(p.cast())
    }

    /// The wrapped pointer.
    #[inline(always)]
    pub fn as_ptr<T>(self) -> *mut T {
        self.0.cast()
    }

    /// A handle made from an integer tag (it points to nothing).
    #[inline(always)]
    pub fn from_addr(addr: usize) -> Obj {
        Obj(ptr::without_provenance_mut(addr))
    }

    /// The handle's address, as an integer tag.
    #[inline(always)]
    pub fn addr(self) -> usize {
        self.0.addr()
    }

    /// Whether this is the null handle.
    #[inline(always)]
    pub fn is_null(self) -> bool {
        self.0.is_null()
    }
}

impl Default for Obj {
    fn default() -> Self {
        Obj::NULL
    }
}

impl fmt::Debug for Obj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Obj({:#x})", self.addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        let o = Obj::from_addr(0xdead_beef);
        assert_eq!(o.addr(), 0xdead_beef);
        assert!(!o.is_null());
        assert!(Obj::default().is_null());
        let mut x = 5u32;
        let p = Obj::from_ptr(&mut x as *mut u32);
        assert_eq!(p.as_ptr::<u32>(), &mut x as *mut u32);
        assert_eq!(core::mem::size_of::<Obj>(), core::mem::size_of::<usize>());
    }
}
