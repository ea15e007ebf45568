//! Packet buffers laid out like DPDK's `rte_mbuf`.
//!
//! [`Mbuf`] is `#[repr(C)]`, 128 bytes, and every field we use sits at the
//! offset it has in DPDK 22.11's `struct rte_mbuf` (asserted below; with the
//! `dpdk` feature also against the bindgen struct). So in DPDK mode an
//! `rte_mbuf *` from a poll-mode driver *is* an `&mut Mbuf`: no per-packet
//! conversion.
//!
//! ```text
//!  0   buf_addr   8 buf_iova  16 data_off 18 refcnt 20 nb_segs 22 port
//!  24  ol_flags   32 packet_type 36 pkt_len 40 data_len 42 vlan_tci
//!  44  hash.rss   48 hash.hi  52 vlan_tci_outer 54 buf_len 56 pool
//!  64  next       72 tx_offload 80 shinfo 88 priv_size 90 timesync
//!  92  dynfield1[9]           120..128: node metadata (NodeMeta)
//!
//!  buffer: buf_addr ──► [ headroom | data (data_len) | tailroom ]  buf_len
//!                                   ▲ buf_addr + data_off
//! ```
//!
//! Invariant of every `Mbuf` reachable from safe code: `buf_addr` points to
//! `buf_len` bytes owned by the buffer, and `data_off + data_len <= buf_len`.
//! Every mutator below keeps it, which is what makes the slice accessors
//! safe.

use core::ffi::c_void;
use core::mem::offset_of;

use graph_core::Obj;

/// Headroom left before the data of a fresh buffer (`RTE_PKTMBUF_HEADROOM`).
pub const HEADROOM: u16 = 128;
/// Default data room after the headroom (`RTE_MBUF_DEFAULT_DATAROOM`).
pub const DEFAULT_DATAROOM: u16 = 2048;
/// `RTE_MBUF_PORT_INVALID`.
pub const PORT_INVALID: u16 = u16::MAX;

/// Packet type bits (`RTE_PTYPE_*`, DPDK's layout).
pub mod ptype {
    /// Ethernet.
    pub const L2_ETHER: u32 = 0x0000_0001;
    /// ARP.
    pub const L2_ETHER_ARP: u32 = 0x0000_0003;
    /// Ethernet with one VLAN tag.
    pub const L2_ETHER_VLAN: u32 = 0x0000_0006;
    /// Ethernet with two tags (QinQ).
    pub const L2_ETHER_QINQ: u32 = 0x0000_0007;
    /// Mask of the L2 type.
    pub const L2_MASK: u32 = 0x0000_000f;
    /// IPv4 without options.
    pub const L3_IPV4: u32 = 0x0000_0010;
    /// IPv4 with options.
    pub const L3_IPV4_EXT: u32 = 0x0000_0030;
    /// IPv6 without extension headers.
    pub const L3_IPV6: u32 = 0x0000_0040;
    /// IPv4, options unknown.
    pub const L3_IPV4_EXT_UNKNOWN: u32 = 0x0000_0090;
    /// IPv6 with extension headers.
    pub const L3_IPV6_EXT: u32 = 0x0000_00c0;
    /// IPv6, extension headers unknown.
    pub const L3_IPV6_EXT_UNKNOWN: u32 = 0x0000_00e0;
    /// Mask of the L3 type.
    pub const L3_MASK: u32 = 0x0000_00f0;
    /// TCP.
    pub const L4_TCP: u32 = 0x0000_0100;
    /// UDP.
    pub const L4_UDP: u32 = 0x0000_0200;
    /// IP fragment.
    pub const L4_FRAG: u32 = 0x0000_0300;
    /// Mask of the L4 type.
    pub const L4_MASK: u32 = 0x0000_0f00;

    /// Whether `p` is some IPv4.
    #[inline(always)]
    pub fn is_ipv4(p: u32) -> bool {
        matches!(p & L3_MASK, L3_IPV4 | L3_IPV4_EXT | L3_IPV4_EXT_UNKNOWN)
    }

    /// Whether `p` is some IPv6.
    #[inline(always)]
    pub fn is_ipv6(p: u32) -> bool {
        matches!(p & L3_MASK, L3_IPV6 | L3_IPV6_EXT | L3_IPV6_EXT_UNKNOWN)
    }
}

/// Offload flags (`RTE_MBUF_F_*`) that we set or read.
pub mod ol_flags {
    /// RX: `hash.rss` is valid.
    pub const RX_RSS_HASH: u64 = 1 << 1;
    /// RX: the packet was VLAN-stripped; `vlan_tci` holds the tag.
    pub const RX_VLAN_STRIPPED: u64 = 1 << 6;
    /// RX: a VLAN tag is present (`vlan_tci` valid).
    pub const RX_VLAN: u64 = 1 << 0;
}

/// Per-packet metadata the stock nodes pass along (DPDK keeps it in
/// `node_mbuf_priv1`, a dynamic field). Lives in the last 8 bytes of
/// `dynfield1`, at byte 120: DPDK drivers register their own dynamic
/// fields (the rx timestamp takes byte 96) from the front.
#[repr(C, align(8))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeMeta {
    /// Next-hop id chosen by ip4_lookup.
    pub nh: u16,
    /// The IPv4 TTL ip4_lookup checked.
    pub ttl: u8,
    /// The index of the feature arc the packet is on, written by the arc's
    /// start node (see [`feature::arc_index`](crate::feature::arc_index)).
    pub arc_index: u8,
    /// The IPv4 header checksum as it sits in memory, read little-endian
    /// (see `ip4_rewrite::cksum_ttl_dec_le`).
    pub cksum_le: u16,
    /// The IPv4 total length.
    pub total_len: u16,
}

impl NodeMeta {
    /// The metadata whose in-memory (little-endian) bytes are `x`: `nh` in
    /// bits 0..16, `ttl` 16..24, `arc_index` 24..32, `cksum_le` 32..48,
    /// `total_len` 48..64. Stored with one 8-byte write.
    #[inline(always)]
    pub fn from_bits(x: u64) -> NodeMeta {
        // (Built field by field, the compiler stored it with five writes.)
        #[cfg(target_endian = "little")]
        // SAFETY: `repr(C)`, integer fields, no padding (size asserted 8):
        // any 8 bytes are a value; little-endian, `x`'s are the fields above.
        return unsafe { core::mem::transmute::<u64, NodeMeta>(x) };
        #[cfg(not(target_endian = "little"))]
        NodeMeta {
            nh: x as u16,
            ttl: (x >> 16) as u8,
            arc_index: (x >> 24) as u8,
            cksum_le: (x >> 32) as u16,
            total_len: (x >> 48) as u16,
        }
    }
}

const _: () = assert!(core::mem::size_of::<NodeMeta>() == 8);

/// Byte offset of [`NodeMeta`] inside the mbuf.
pub const META_OFFSET: usize = 120;

/// A packet buffer (`struct rte_mbuf`).
#[repr(C, align(64))]
pub struct Mbuf {
    buf_addr: *mut u8,
    buf_iova: u64,
    data_off: u16,
    refcnt: u16,
    nb_segs: u16,
    port: u16,
    ol_flags: u64,
    packet_type: u32,
    pkt_len: u32,
    data_len: u16,
    vlan_tci: u16,
    rss_hash: u32,
    hash_hi: u32,
    vlan_tci_outer: u16,
    buf_len: u16,
    pool: *mut c_void,
    next: *mut Mbuf,
    tx_offload: u64,
    shinfo: *mut c_void,
    priv_size: u16,
    timesync: u16,
    dynfield1: [u32; 7],
    meta: NodeMeta,
}

const _: () = {
    assert!(core::mem::size_of::<Mbuf>() == 128);
    assert!(offset_of!(Mbuf, buf_addr) == 0);
    assert!(offset_of!(Mbuf, buf_iova) == 8);
    assert!(offset_of!(Mbuf, data_off) == 16);
    assert!(offset_of!(Mbuf, refcnt) == 18);
    assert!(offset_of!(Mbuf, nb_segs) == 20);
    assert!(offset_of!(Mbuf, port) == 22);
    assert!(offset_of!(Mbuf, ol_flags) == 24);
    assert!(offset_of!(Mbuf, packet_type) == 32);
    assert!(offset_of!(Mbuf, pkt_len) == 36);
    assert!(offset_of!(Mbuf, data_len) == 40);
    assert!(offset_of!(Mbuf, vlan_tci) == 42);
    assert!(offset_of!(Mbuf, rss_hash) == 44);
    assert!(offset_of!(Mbuf, vlan_tci_outer) == 52);
    assert!(offset_of!(Mbuf, buf_len) == 54);
    assert!(offset_of!(Mbuf, pool) == 56);
    assert!(offset_of!(Mbuf, next) == 64);
    assert!(offset_of!(Mbuf, tx_offload) == 72);
    assert!(offset_of!(Mbuf, priv_size) == 88);
    assert!(offset_of!(Mbuf, dynfield1) == 92);
    assert!(offset_of!(Mbuf, meta) == META_OFFSET);
};

// SAFETY: an `Mbuf` owns its buffer; moving the header (through its
// handle) to another thread moves that ownership. The raw pointers inside
// are to the buffer and to the owning pool, which is `Sync`.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Initialises a header for a buffer of `buf_len` bytes at `buf_addr`,
    /// owned by `pool`. The mbuf starts free (`refcnt` 0).
    ///
    /// # Safety
    /// `buf_addr` is valid for reads and writes of `buf_len` bytes for as
    /// long as the mbuf is used, and owned by it.
    pub(crate) unsafe fn init(buf_addr: *mut u8, buf_len: u16, pool: *mut c_void, priv_size: u16) -> Mbuf {
        Mbuf {
            buf_addr,
            buf_iova: 0,
            data_off: HEADROOM.min(buf_len),
            refcnt: 0,
            nb_segs: 1,
            port: PORT_INVALID,
            ol_flags: 0,
            packet_type: 0,
            pkt_len: 0,
            data_len: 0,
            vlan_tci: 0,
            rss_hash: 0,
            hash_hi: 0,
            vlan_tci_outer: 0,
            buf_len,
            pool,
            next: core::ptr::null_mut(),
            tx_offload: 0,
            shinfo: core::ptr::null_mut(),
            priv_size,
            timesync: 0,
            dynfield1: [0; 7],
            meta: NodeMeta::default(),
        }
    }

    /// Resets a buffer for a new packet (`rte_pktmbuf_reset`): empty data
    /// at the default headroom, no port, type or flags.
    #[inline(always)]
    pub fn reset(&mut self) {
        self.data_off = HEADROOM.min(self.buf_len);
        self.pkt_len = 0;
        self.data_len = 0;
        self.nb_segs = 1;
        self.port = PORT_INVALID;
        self.ol_flags = 0;
        self.packet_type = 0;
        self.vlan_tci = 0;
        self.vlan_tci_outer = 0;
        self.rss_hash = 0;
        self.tx_offload = 0;
        self.next = core::ptr::null_mut();
    }

    /// The mbuf behind a graph object.
    ///
    /// # Safety
    /// `obj` is the handle of a live mbuf (allocated from a pool and not
    /// freed) that nothing else accesses for `'a`: in a packet graph, the
    /// stream holding the handle owns the packet.
    #[inline(always)]
    pub unsafe fn from_obj<'a>(obj: Obj) -> &'a mut Mbuf {
        // SAFETY: `obj` is the handle of a live mbuf that nothing else accesses for
        // `'a` (contract above): a valid, aligned, exclusive `Mbuf`.
        unsafe {
            debug_assert!(!obj.is_null() && obj.addr().is_multiple_of(64), "not an mbuf handle: {obj:?}");
            &mut *obj.as_ptr::<Mbuf>()
        }
    }

    /// This mbuf's handle.
    #[inline(always)]
    pub fn as_obj(&mut self) -> Obj {
        Obj::from_ptr(self as *mut Mbuf)
    }

    /// The packet data (first segment).
    #[inline(always)]
    pub fn data(&self) -> &[u8] {
        // SAFETY: the struct invariant: `buf_addr[data_off..data_off +
        // data_len]` lies inside the buffer this mbuf owns.
        unsafe { core::slice::from_raw_parts(self.buf_addr.add(self.data_off as usize), self.data_len as usize) }
    }

    /// The packet data, writable.
    #[inline(always)]
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`; `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.buf_addr.add(self.data_off as usize), self.data_len as usize) }
    }

    /// Bytes free before the data.
    #[inline(always)]
    pub fn headroom(&self) -> u16 {
        self.data_off
    }

    /// Bytes free after the data.
    #[inline(always)]
    pub fn tailroom(&self) -> u16 {
        self.buf_len - self.data_off - self.data_len
    }

    /// Grows the data by `n` bytes at the front (`rte_pktmbuf_prepend`);
    /// `None` without that much headroom.
    #[inline]
    pub fn prepend(&mut self, n: u16) -> Option<&mut [u8]> {
        if n > self.data_off {
            return None;
        }
        self.data_off -= n;
        self.data_len += n;
        self.pkt_len += u32::from(n);
        Some(&mut self.data_mut()[..n as usize])
    }

    /// Grows the data by `n` bytes at the end (`rte_pktmbuf_append`); `None`
    /// without that much tailroom.
    #[inline]
    pub fn append(&mut self, n: u16) -> Option<&mut [u8]> {
        if n > self.tailroom() {
            return None;
        }
        let old = self.data_len as usize;
        self.data_len += n;
        self.pkt_len += u32::from(n);
        Some(&mut self.data_mut()[old..])
    }

    /// Removes `n` bytes from the front (`rte_pktmbuf_adj`); `false` if the
    /// data is shorter.
    #[inline]
    pub fn adj(&mut self, n: u16) -> bool {
        if n > self.data_len {
            return false;
        }
        self.data_off += n;
        self.data_len -= n;
        self.pkt_len -= u32::from(n);
        true
    }

    /// Removes `n` bytes from the end (`rte_pktmbuf_trim`); `false` if the
    /// data is shorter.
    #[inline]
    pub fn trim(&mut self, n: u16) -> bool {
        if n > self.data_len {
            return false;
        }
        self.data_len -= n;
        self.pkt_len -= u32::from(n);
        true
    }

    /// Replaces the data with `bytes` at the default headroom; `false` if
    /// they do not fit.
    pub fn set_data(&mut self, bytes: &[u8]) -> bool {
        let head = HEADROOM.min(self.buf_len);
        if bytes.len() > (self.buf_len - head) as usize {
            return false;
        }
        self.data_off = head;
        self.data_len = bytes.len() as u16;
        self.pkt_len = bytes.len() as u32;
        self.data_mut().copy_from_slice(bytes);
        true
    }

    /// Total packet length (all segments).
    #[inline(always)]
    pub fn pkt_len(&self) -> u32 {
        self.pkt_len
    }

    /// Length of the data in this segment.
    #[inline(always)]
    pub fn data_len(&self) -> u16 {
        self.data_len
    }

    /// Size of the buffer.
    #[inline(always)]
    pub fn buf_len(&self) -> u16 {
        self.buf_len
    }

    /// Number of segments (1 for our own pools).
    #[inline(always)]
    pub fn nb_segs(&self) -> u16 {
        self.nb_segs
    }

    /// Input port.
    #[inline(always)]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sets the port.
    #[inline(always)]
    pub fn set_port(&mut self, port: u16) {
        self.port = port;
    }

    /// Packet type (`RTE_PTYPE_*` bits).
    #[inline(always)]
    pub fn packet_type(&self) -> u32 {
        self.packet_type
    }

    /// Sets the packet type.
    #[inline(always)]
    pub fn set_packet_type(&mut self, p: u32) {
        self.packet_type = p;
    }

    /// RSS hash (valid with `ol_flags::RX_RSS_HASH`).
    #[inline(always)]
    pub fn rss_hash(&self) -> u32 {
        self.rss_hash
    }

    /// Sets the RSS hash and its flag.
    #[inline(always)]
    pub fn set_rss_hash(&mut self, h: u32) {
        self.rss_hash = h;
        self.ol_flags |= ol_flags::RX_RSS_HASH;
    }

    /// Offload flags.
    #[inline(always)]
    pub fn ol_flags(&self) -> u64 {
        self.ol_flags
    }

    /// Sets the offload flags.
    #[inline(always)]
    pub fn set_ol_flags(&mut self, f: u64) {
        self.ol_flags = f;
    }

    /// VLAN TCI (valid with `ol_flags::RX_VLAN`).
    #[inline(always)]
    pub fn vlan_tci(&self) -> u16 {
        self.vlan_tci
    }

    /// Sets the VLAN TCI.
    #[inline(always)]
    pub fn set_vlan_tci(&mut self, t: u16) {
        self.vlan_tci = t;
    }

    /// Node metadata.
    #[inline(always)]
    pub fn meta(&self) -> &NodeMeta {
        &self.meta
    }

    /// Node metadata, writable.
    #[inline(always)]
    pub fn meta_mut(&mut self) -> &mut NodeMeta {
        &mut self.meta
    }

    /// Reference count (0 while the buffer is free in its pool).
    #[inline(always)]
    pub fn refcnt(&self) -> u16 {
        self.refcnt
    }

    #[inline(always)]
    pub(crate) fn set_refcnt(&mut self, r: u16) {
        self.refcnt = r;
    }

    #[inline(always)]
    pub(crate) fn pool_ptr(&self) -> *mut c_void {
        self.pool
    }

    /// Address of the buffer (for prefetching).
    #[inline(always)]
    pub fn data_ptr(&self) -> *const u8 {
        self.buf_addr.wrapping_add(self.data_off as usize)
    }
}

impl core::fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mbuf")
            .field("port", &self.port)
            .field("pkt_len", &self.pkt_len)
            .field("data_len", &self.data_len)
            .field("data_off", &self.data_off)
            .field("packet_type", &format_args!("{:#x}", self.packet_type))
            .field("ol_flags", &format_args!("{:#x}", self.ol_flags))
            .field("refcnt", &self.refcnt)
            .finish()
    }
}
