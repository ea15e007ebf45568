//! Packet handles: [`Pkt`], the object type of every packet node.
//!
//! A `Pkt` is an mbuf pointer that owns its packet: only a pool
//! ([`Mempool::alloc`](crate::Mempool::alloc)) and a port's receive
//! ([`RxQueue::rx_burst`](crate::port::RxQueue::rx_burst)) make one, it is
//! not `Copy` or `Clone`, and it leaves a node only by being moved (to an
//! edge, a port's transmit, or [`free`](crate::mempool::free)). Packet
//! nodes declare `object: Pkt`, so their streams can only hold `Pkt`s
//! (graph-core refuses an edge from a node of another object type). Node
//! code therefore reads and writes packets with no `unsafe`, and no safe
//! call sequence can reach a buffer that was not handed out, freed, or is
//! held twice.
//!
//! Zero copy is kept: a `Pkt` is the pointer itself (`repr(transparent)`),
//! so a burst moves as an array of pointers and `&[Pkt]` is what a DPDK
//! driver reads.
//!
//! ```compile_fail
//! // Forging a handle from an address does not compile without `unsafe`:
//! // the only constructor from a raw handle is `unsafe fn Pkt::from_obj`.
//! use graph_nodes::pkt::Pkt;
//! let p: Pkt = Pkt::from_obj(graph_core::Obj::from_addr(0x1000_0000_0040));
//! let _ = p.pkt_len();
//! ```
//!
//! ```compile_fail
//! // Nor can a raw handle be read as a packet through a stream of `Obj`s.
//! use graph_nodes::pkt::Pkt;
//! let objs = [graph_core::Obj::from_addr(0x1000_0000_0040)];
//! let pkts: &[Pkt] = &objs;
//! ```
//!
//! ```
//! // The safe way: a packet from a pool, read and written, freed.
//! use graph_nodes::{Mempool, PoolConfig};
//! let pool = Mempool::new("doc", &PoolConfig { size: 8, ..Default::default() }).unwrap();
//! let mut p = pool.alloc().unwrap();
//! assert!(p.set_data(&[1, 2, 3]));
//! p.data_mut()[0] = 9;
//! assert_eq!(p.data(), &[9, 2, 3]);
//! graph_nodes::mempool::free(p);
//! assert_eq!(pool.in_use(), 0);
//! ```

use core::ptr::NonNull;

use graph_core::{Ctx, Obj, Object, Objs};

use crate::mbuf::{Mbuf, NodeMeta};

/// An owned packet: the handle of a live mbuf (`struct rte_mbuf *`).
///
/// Reading goes through `Deref<Target = Mbuf>`; writing through the
/// methods below (a `&mut Mbuf` is never lent out, so two headers cannot
/// be swapped behind their pools' backs).
#[repr(transparent)]
pub struct Pkt(NonNull<Mbuf>);

// SAFETY: `repr(transparent)` over a non-null pointer: pointer-sized, a
// valid `Obj` bit pattern, no drop glue. A `Pkt` owns its mbuf, so moving
// it to another thread moves that ownership (`Mbuf: Send`).
unsafe impl Object for Pkt {}
// SAFETY: as above: the handle is the sole owner of the mbuf.
unsafe impl Send for Pkt {}
// SAFETY: `&Pkt` only gives `&Mbuf`, whose methods on `&self` only read.
unsafe impl Sync for Pkt {}

impl Pkt {
    /// Takes ownership of the mbuf behind a raw handle.
    ///
    /// # Safety
    /// `obj` is the handle of a live mbuf (allocated from a pool, or
    /// received from a driver, and not freed) whose buffer and header
    /// satisfy [`Mbuf`]'s invariant, and no other `Pkt` or reference to it
    /// exists or will be used while the returned `Pkt` lives.
    #[inline(always)]
    pub unsafe fn from_obj(obj: Obj) -> Pkt {
        debug_assert!(!obj.is_null() && obj.addr().is_multiple_of(64), "not an mbuf handle: {obj:?}");
        // SAFETY: non-null by the caller's contract.
        Pkt(unsafe { NonNull::new_unchecked(obj.as_ptr()) })
    }

    /// Gives up ownership: the raw handle, for code that frees or sends it
    /// by other means (a driver).
    #[inline(always)]
    pub fn into_obj(self) -> Obj {
        Obj::from_ptr(self.0.as_ptr())
    }

    /// The raw handle (an identity; it confers nothing).
    #[inline(always)]
    pub fn as_obj(&self) -> Obj {
        Obj::from_ptr(self.0.as_ptr())
    }

    #[inline(always)]
    fn mbuf_mut(&mut self) -> &mut Mbuf {
        // SAFETY: `self` owns the live mbuf (type invariant); `&mut self`
        // makes this the only access for the borrow's lifetime.
        unsafe { self.0.as_mut() }
    }
}

impl core::ops::Deref for Pkt {
    type Target = Mbuf;
    #[inline(always)]
    fn deref(&self) -> &Mbuf {
        // SAFETY: `self` owns the live mbuf (type invariant); shared access
        // for the borrow's lifetime.
        unsafe { self.0.as_ref() }
    }
}

impl core::fmt::Debug for Pkt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&**self, f)
    }
}

macro_rules! delegate_mut {
    ($( $(#[$m:meta])* fn $name:ident(&mut self $(, $a:ident: $t:ty)*) $(-> $r:ty)?; )*) => {
        impl Pkt {
            $(
                $(#[$m])*
                #[inline(always)]
                pub fn $name(&mut self $(, $a: $t)*) $(-> $r)? {
                    self.mbuf_mut().$name($($a),*)
                }
            )*
        }
    };
}

delegate_mut! {
    /// The packet data (first segment), writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Node metadata, writable (see [`NodeMeta`]).
    fn meta_mut(&mut self) -> &mut NodeMeta;
    /// Resets for a new packet (`rte_pktmbuf_reset`).
    fn reset(&mut self);
    /// Grows the data at the front by `n` bytes (`rte_pktmbuf_prepend`).
    fn prepend(&mut self, n: u16) -> Option<&mut [u8]>;
    /// Grows the data at the back by `n` bytes (`rte_pktmbuf_append`).
    fn append(&mut self, n: u16) -> Option<&mut [u8]>;
    /// Removes `n` bytes at the front (`rte_pktmbuf_adj`).
    fn adj(&mut self, n: u16) -> bool;
    /// Removes `n` bytes at the back (`rte_pktmbuf_trim`).
    fn trim(&mut self, n: u16) -> bool;
    /// Replaces the data with `bytes` at the default headroom.
    fn set_data(&mut self, bytes: &[u8]) -> bool;
    /// Sets the input port.
    fn set_port(&mut self, port: u16);
    /// Sets the packet type (`RTE_PTYPE_*`).
    fn set_packet_type(&mut self, p: u32);
    /// Sets the RSS hash.
    fn set_rss_hash(&mut self, h: u32);
    /// Sets the offload flags.
    fn set_ol_flags(&mut self, f: u64);
    /// Sets the VLAN tag.
    fn set_vlan_tci(&mut self, t: u16);
}

/// Views `&[Pkt]` as raw handles (same layout), for drivers and pools.
#[inline(always)]
pub(crate) fn as_objs(pkts: &[Pkt]) -> &[Obj] {
    // SAFETY: `Pkt` is `repr(transparent)` over a pointer, as is `Obj`; a
    // shared view of handles confers nothing.
    unsafe { core::slice::from_raw_parts(pkts.as_ptr().cast::<Obj>(), pkts.len()) }
}

/// Views `&mut [Pkt]` as raw handles, for a port's transmit.
#[inline(always)]
pub(crate) fn as_objs_mut(pkts: &mut [Pkt]) -> &mut [Obj] {
    // Writing a handle through the view could forge a `Pkt`: the only
    // caller lends it to a `TxBackend` (an unsafe trait).
    // SAFETY: same layout as in `as_objs`; a `TxBackend` leaves every
    // entry it does not take as it was.
    unsafe { core::slice::from_raw_parts_mut(pkts.as_mut_ptr().cast::<Obj>(), pkts.len()) }
}

/// Prefetches the header line of `p` (a hint; never faults).
#[inline(always)]
pub fn prefetch(p: &Pkt) {
    prefetch_obj(p.as_obj());
}

#[inline(always)]
fn prefetch_obj(obj: Obj) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(obj.as_ptr::<i8>());
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = obj;
}

/// Prefetches both header lines of `p` (the second holds the node
/// metadata).
#[inline(always)]
pub fn prefetch2(p: &Pkt) {
    let obj = p.as_obj();
    prefetch_obj(obj);
    prefetch_obj(Obj::from_ptr(obj.as_ptr::<u8>().wrapping_add(64)));
}

/// Prefetches the first data line of `m`.
#[inline(always)]
pub fn prefetch_data(m: &Mbuf) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: as above.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(m.data_ptr().cast());
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = m;
}

/// The prefetches of a node that takes packets four at a time, as DPDK's
/// nodes do, for the group starting at `i`: the header lines of packets
/// `i + 8 .. i + 12` (the first line; with `SECOND`, the second too, where
/// the metadata is) and, with `DATA`, the first data line of packets
/// `i + 4 .. i + 8` (whose header line was prefetched a group earlier).
/// Packets past the end are skipped a group of four at once.
#[inline(always)]
pub fn prefetch_ahead<const SECOND: bool, const DATA: bool>(objs: &[Pkt], i: usize) {
    if let Some(ahead) = objs.get(i + 8..i + 12) {
        for o in ahead {
            if SECOND {
                prefetch2(o);
            } else {
                prefetch(o);
            }
        }
    }
    if DATA {
        if let Some(ahead) = objs.get(i + 4..i + 8) {
            ahead.iter().for_each(|o| prefetch_data(o));
        }
    }
}

/// Fills `nexts[k]` with `one(&mut objs[k])`, four packets at a time with
/// [`prefetch_ahead`]`::<SECOND, DATA>` before each group: the usual body of
/// a node's `classify` for [`dispatch`].
#[inline(always)]
pub fn by_four<const SECOND: bool, const DATA: bool>(
    objs: &mut [Pkt],
    nexts: &mut [u16],
    mut one: impl FnMut(&mut Pkt) -> u16,
) {
    let len = objs.len().min(nexts.len());
    let (objs, nexts) = (&mut objs[..len], &mut nexts[..len]);
    let mut i = 0;
    while i + 4 <= len {
        prefetch_ahead::<SECOND, DATA>(objs, i);
        for k in i..i + 4 {
            nexts[k] = one(&mut objs[k]);
        }
        i += 4;
    }
    for k in i..len {
        nexts[k] = one(&mut objs[k]);
    }
}

/// Largest number of packets classified at once (a stream is longer only
/// after it doubled).
pub const CHUNK: usize = 256;

/// The usual body of a routing node: `classify` fills one edge per packet
/// for a chunk of the stream; then the stream is sent with [`send`] (a
/// home run when every packet goes one way). Streams longer than [`CHUNK`]
/// (a node fed by several sources, or a stream that doubled) are classified
/// chunk by chunk; while every chunk so far went one way nothing is sent,
/// so a long stream that all goes one way is still one home run.
#[inline(always)]
pub fn dispatch<O: Object>(
    ctx: &mut Ctx<'_, O>,
    mut objs: Objs<'_, O>,
    mut classify: impl FnMut(&mut [O], &mut [u16]),
) -> usize {
    let n = objs.len();
    let mut nexts = [0u16; CHUNK];
    if n <= CHUNK {
        classify(&mut objs[..], &mut nexts[..n]);
        return send(ctx, objs, &nexts[..n]);
    }
    // Classify chunk by chunk while every chunk goes to one edge (nothing
    // sent yet: `held`); the first chunk that splits or turns sends what
    // was held and, from then on, each chunk as it comes.
    let mut held: Option<u16> = None;
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let k = end - start;
        classify(&mut objs[start..end], &mut nexts[..k]);
        let first = nexts[0];
        let uniform = all_equal(&nexts[..k], first);
        if uniform && held.is_none_or(|e| e == first) {
            held = Some(first);
            start = end;
            continue;
        }
        // Send the held prefix, then this chunk, then the rest chunk by chunk.
        let (prefix, rest) = objs.split_at(start);
        if let Some(e) = held {
            ctx.enqueue_objs(e, prefix);
        }
        let (chunk, mut rest) = rest.split_at(k);
        ctx.enqueue_next_objs(&nexts[..k], chunk);
        let mut at = end;
        while !rest.is_empty() {
            let k = (at + CHUNK).min(n) - at;
            classify(&mut rest[..k], &mut nexts[..k]);
            let (chunk, r) = rest.split_at(k);
            ctx.enqueue_next_objs(&nexts[..k], chunk);
            rest = r;
            at += k;
        }
        return n;
    }
    match held {
        Some(e) => ctx.next_stream_move(e, objs),
        None => n,
    }
}

/// Whether every edge of `nexts` is `first`: without an early exit, so
/// the compiler checks 8 or 16 edges an instruction (the usual answer is
/// yes, and the whole slice is read then anyway).
#[inline(always)]
fn all_equal(nexts: &[u16], first: u16) -> bool {
    nexts.iter().fold(0, |acc, &e| acc | (e ^ first)) == 0
}

/// Sends each packet to its edge: the whole stream with one home run when
/// every packet goes the same way, runs of equal edges with one copy each
/// otherwise. Returns the number of packets.
#[inline]
pub fn send<O: Object>(ctx: &mut Ctx<'_, O>, objs: Objs<'_, O>, nexts: &[u16]) -> usize {
    let n = objs.len();
    debug_assert_eq!(nexts.len(), n);
    match nexts.first() {
        Some(&first) if all_equal(nexts, first) => ctx.next_stream_move(first, objs),
        Some(_) => {
            ctx.enqueue_next_objs(nexts, objs);
            n
        }
        None => 0,
    }
}

/// A one-line summary of a packet for traces: rx port, length, and for
/// IPv4 the addresses, protocol, ports and TTL (else the EtherType).
pub fn summary(p: &Pkt) -> String {
    use crate::wire::{EthernetFrame, Ipv4Packet};
    use std::net::Ipv4Addr;
    let mut s = format!("port {} len {}", p.port(), p.data().len());
    let Ok(eth) = EthernetFrame::new_checked(p.data()) else { return s + " (runt)" };
    let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
        return s + &format!(" ethertype 0x{:04x}", eth.ethertype());
    };
    s += &format!(" {} > {}", Ipv4Addr::from(ip.src_addr()), Ipv4Addr::from(ip.dst_addr()));
    let l4 = ip.payload();
    match ip.protocol() {
        proto @ (6 | 17) if ip.frag_offset() == 0 && l4.len() >= 4 => {
            let name = if proto == 6 { "tcp" } else { "udp" };
            s += &format!(" {name} {} > {}", u16::from_be_bytes([l4[0], l4[1]]), u16::from_be_bytes([l4[2], l4[3]]));
        }
        1 => s += " icmp",
        p => s += &format!(" proto {p}"),
    }
    s + &format!(" ttl {}", ip.ttl())
}
