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
/// Nothing dereferences an `Obj` on the strength of its type: anyone can
/// make one from any integer. A graph whose nodes need a handle they can
/// trust (a packet) declares a typed object instead (see [`Object`]), which
/// only its owner's constructors can mint.
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

/// A type a graph's streams can carry: a pointer-sized handle.
///
/// The walk moves objects as raw `Obj` words: it copies them between
/// streams and swaps whole arrays, never inspecting or dropping them. A node
/// declares the type its stream holds (`object:` in [`node!`](crate::node),
/// default [`Obj`]), and [`Graph::create`](crate::Graph::create) refuses an
/// edge between nodes of different object types, so every object a node
/// receives was put into the graph as a value of its own type.
///
/// Objects are *moved* through the graph: [`Ctx`](crate::Ctx)'s enqueue
/// calls take them by value, and a handed-on object is no longer the
/// node's. A type that is not `Copy` (a packet handle that owns its
/// buffer) therefore keeps exactly one owner from source to sink.
///
/// # Safety
/// Implementors guarantee that `Self` has the size and alignment of `Obj`
/// and no drop glue, that every value of `Self` is a valid `Obj` bit
/// pattern (`#[repr(transparent)]` over `Obj` or over a raw pointer
/// satisfies this), and that moving a value bit for bit to another stream,
/// possibly on another thread, is a move of that value (`Self: Send`).
pub unsafe trait Object: Sized + Send + 'static {}

/// Objects of which any handle value is a valid object: nothing ever
/// dereferences them on the strength of the type alone (integer tags,
/// opaque tokens). For these, stream slots may be read and written freely:
/// [`Ctx::next_stream_get`](crate::Ctx::next_stream_get) lends them as
/// plain `&mut [O]`, stale contents included.
///
/// # Safety
/// Every bit pattern an `Obj` can hold (null, stale, made up) is a valid,
/// safe-to-use value of `Self`, and `Self: Copy`.
pub unsafe trait Opaque: Object + Copy {}

// SAFETY: `Obj` is `Obj`; it has no drop glue and is `Send`.
unsafe impl Object for Obj {}
// SAFETY: `Obj` is an opaque word: graph-core and safe code never
// dereference it, so any value, stale or made up, is harmless.
unsafe impl Opaque for Obj {}

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
