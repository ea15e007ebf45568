//! Safe packet access for node code.
//!
//! In a packet graph every object is the handle of an mbuf allocated from a
//! pool, and the stream holding a handle owns that packet: ports produce
//! handles, nodes pass them on exactly once, and tx or pkt_drop consume
//! them. Under that contract a node may look at the packets of its own
//! stream, which is what [`PktSlice`] offers without `unsafe`: one mutable
//! borrow at a time, tied to the borrow of the stream. (The contract is the
//! same one DPDK's nodes rely on; debug builds check that a handle is
//! 64-byte aligned and not null.)

use graph_core::Obj;

use crate::mbuf::Mbuf;

/// Packet access on a stream of handles.
pub trait PktSlice {
    /// The packet at `i`, writable, for as long as the stream is borrowed.
    fn mbuf(&mut self, i: usize) -> &mut Mbuf;
    /// The packet at `i`, read-only.
    fn mbuf_ref(&self, i: usize) -> &Mbuf;
}

impl PktSlice for [Obj] {
    #[inline(always)]
    fn mbuf(&mut self, i: usize) -> &mut Mbuf {
        let o = self[i];
        // SAFETY: the packet-graph contract (module doc): `o` is a live mbuf
        // owned by this stream, which `&mut self` borrows exclusively.
        unsafe { Mbuf::from_obj(o) }
    }

    #[inline(always)]
    fn mbuf_ref(&self, i: usize) -> &Mbuf {
        let o = self[i];
        // SAFETY: as above; `&self` keeps the stream borrowed.
        unsafe { Mbuf::from_obj(o) }
    }
}

/// Prefetches the header line of the packet behind `obj` (a hint; never
/// faults).
#[inline(always)]
pub fn prefetch(obj: Obj) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(obj.as_ptr::<i8>());
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = obj;
}

/// Prefetches both header lines of the packet behind `obj` (the second
/// holds the node metadata).
#[inline(always)]
pub fn prefetch2(obj: Obj) {
    prefetch(obj);
    prefetch(Obj::from_ptr(obj.as_ptr::<u8>().wrapping_add(64)));
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
pub fn dispatch(
    ctx: &mut graph_core::Ctx<'_>,
    mut objs: graph_core::Objs<'_>,
    mut classify: impl FnMut(&mut [Obj], &mut [u16]),
) -> usize {
    let n = objs.len();
    let mut nexts = [0u16; CHUNK];
    if n <= CHUNK {
        classify(&mut objs[..], &mut nexts[..n]);
        return send(ctx, objs, &nexts[..n]);
    }
    // `held`: every chunk so far went to this edge and none was sent yet.
    // Once a chunk splits or turns, everything is sent as it comes.
    let (mut held, mut sending) = (None, false);
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let k = end - start;
        classify(&mut objs[start..end], &mut nexts[..k]);
        let first = nexts[0];
        let uniform = nexts[..k].iter().all(|&e| e == first);
        if !sending && uniform && held.is_none_or(|e| e == first) {
            held = Some(first);
        } else {
            if let Some(e) = held.take() {
                ctx.enqueue(e, &objs[..start]);
            }
            ctx.enqueue_next(&nexts[..k], &objs[start..end]);
            sending = true;
        }
        start = end;
    }
    match held {
        Some(e) => ctx.next_stream_move(e, objs),
        None => n,
    }
}

/// Sends each object to its edge: the whole stream with one home run when
/// every object goes the same way, runs of equal edges with one copy each
/// otherwise. Returns the number of objects.
#[inline]
pub fn send(ctx: &mut graph_core::Ctx<'_>, objs: graph_core::Objs<'_>, nexts: &[u16]) -> usize {
    let n = objs.len();
    debug_assert_eq!(nexts.len(), n);
    match nexts.first() {
        Some(&first) if nexts.iter().all(|&e| e == first) => ctx.next_stream_move(first, objs),
        Some(_) => {
            ctx.enqueue_next(nexts, &objs);
            n
        }
        None => 0,
    }
}
