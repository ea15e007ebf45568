//! `ip4_lookup`: RFC 1812 §5.2.2 checks, then longest-prefix match on the
//! destination.
//!
//! Uses: the IPv4 header after a 14-byte Ethernet header (ethdev_rx strips
//! a VLAN tag), parsed through [`Ipv4Packet`]. Sets: `meta.nh` (next hop), `meta.ttl`, `meta.cksum_le` and
//! `meta.total_len`
//! (the header's TTL and checksum, for ip4_rewrite). Next:
//! [`Ip4LookupNext`] — the route's edge (`ip4_rewrite`, or `ip4_local`
//! for the router's own addresses), `icmp4_error` (TTL expired, no route:
//! when the router has an address to answer from) or `pkt_drop`.
//!
//! A route's value packs the edge and the next hop as DPDK does:
//! `edge << 16 | next_hop`. Every failed check and every miss is counted
//! under its reason ([`Ip4Drop`]).
//!
//! Packets go four at a time: their checks for an option-less header in
//! SSE2 lanes (one packet a lane, on x86_64), then one four-way lookup; a
//! packet a lane turns down goes through the checked path, which names the
//! reason or accepts it (a header with options).

use std::net::Ipv4Addr;
use std::sync::Arc;

use graph_core::{names, node, Ctx, InitError, NodeInfo, Objs};

use crate::icmp4::IcmpKind;
use crate::lpm::{Lpm, LpmError};
use crate::mbuf::NodeMeta;
use crate::neigh::Interfaces;
use crate::pkt::{self, Pkt};
use crate::wire::{EthernetFrame, Ipv4Packet, WireError};

names! {
    /// Edges of `ip4_lookup` (DPDK's order).
    pub enum Ip4LookupNext {
        Rewrite = "ip4_rewrite",
        Drop = "pkt_drop",
        Local = "ip4_local",
        IcmpError = "icmp4_error",
    }
}

names! {
    /// Drop reasons of `ip4_lookup`, in the order they are checked.
    pub enum Ip4Drop {
        /// Frame shorter than Ethernet + a minimal IPv4 header.
        Runt = "runt",
        /// Version field is not 4.
        BadVersion = "bad_version",
        /// IHL below 5 words.
        BadIhl = "bad_ihl",
        /// The header (IHL) extends past the frame.
        HdrTruncated = "hdr_truncated",
        /// Total length below the header length or past the frame.
        BadTotalLen = "bad_total_len",
        /// Header checksum wrong.
        BadChecksum = "bad_checksum",
        /// TTL 0 or 1, and no time-exceeded error sent (no interface
        /// address to send it from).
        TtlExpired = "ttl_expired",
        /// Received as a link-layer broadcast or multicast (RFC 1812
        /// §5.3.4: not forwarded unless configured to).
        L2Broadcast = "l2_broadcast",
        /// Destination is the limited broadcast 255.255.255.255 (§5.3.5.1).
        IpBroadcast = "ip_broadcast",
        /// Source or destination in 0.0.0.0/8 or 127.0.0.0/8, or a
        /// multicast or broadcast source (§5.3.7, §4.2.2.11).
        Martian = "martian",
        /// No route covers the destination, and no net-unreachable error
        /// sent (no interface address to send it from).
        NoRoute = "no_route",
    }
}

/// Default number of tbl8 groups of the FIB.
pub const DEFAULT_TBL8_GROUPS: u32 = 1024;

/// An IPv4 FIB: routes `prefix/depth → (edge, next hop)` in a DIR-24-8
/// LPM. Cloning shares the table (DPDK's `rte_node_ip4_route_add` on one
/// LPM per socket); give each graph the FIB it routes with through its
/// environment, so that two routers in one process (two VRFs) can use two.
/// Changes are safe while graphs run: each lookup sees the table before or
/// after the change.
#[derive(Clone)]
pub struct Fib(Arc<Lpm>);

impl Default for Fib {
    fn default() -> Self {
        Fib::new(DEFAULT_TBL8_GROUPS)
    }
}

impl std::fmt::Debug for Fib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fib").field("tbl8_groups", &self.0.tbl8_groups()).finish()
    }
}

impl Fib {
    /// An empty FIB with `tbl8_groups` groups for prefixes longer than /24.
    pub fn new(tbl8_groups: u32) -> Fib {
        Fib(Arc::new(Lpm::new(tbl8_groups)))
    }

    /// The LPM behind it.
    pub fn lpm(&self) -> &Arc<Lpm> {
        &self.0
    }

    /// Adds `prefix/depth → next_hop` sent on edge `next`
    /// (`rte_node_ip4_route_add`).
    pub fn route_add(&self, prefix: Ipv4Addr, depth: u8, next_hop: u16, next: Ip4LookupNext) -> Result<(), LpmError> {
        self.0.add(u32::from(prefix), depth, (next.edge() as u32) << 16 | next_hop as u32)
    }

    /// [`route_add`](Self::route_add) from a worker lcore: fails rather
    /// than wait for readers (see [`Lpm::add_nowait`]).
    pub fn route_add_nowait(
        &self,
        prefix: Ipv4Addr,
        depth: u8,
        next_hop: u16,
        next: Ip4LookupNext,
    ) -> Result<(), LpmError> {
        self.0.add_nowait(u32::from(prefix), depth, (next.edge() as u32) << 16 | next_hop as u32)
    }

    /// Deletes the route `prefix/depth`.
    pub fn route_delete(&self, prefix: Ipv4Addr, depth: u8) -> Result<(), LpmError> {
        self.0.delete(u32::from(prefix), depth)
    }

    /// What the FIB says for `dst`: `(edge, next_hop)`.
    pub fn route_lookup(&self, dst: Ipv4Addr) -> Option<(u16, u16)> {
        self.0.lookup(u32::from(dst)).map(|v| ((v >> 16) as u16, v as u16))
    }
}

/// Per-instance context.
pub struct Ip4LookupCtx {
    lpm: Arc<Lpm>,
    ifaces: Interfaces,
}

fn init(info: &NodeInfo<'_>) -> Result<Ip4LookupCtx, InitError> {
    Ok(Ip4LookupCtx {
        lpm: info.env::<Fib>()?.0.clone(),
        ifaces: info.env.get::<Interfaces>().cloned().unwrap_or_default(),
    })
}

impl From<WireError> for Ip4Drop {
    #[inline(always)]
    fn from(e: WireError) -> Ip4Drop {
        match e {
            WireError::Truncated => Ip4Drop::Runt,
            WireError::BadVersion => Ip4Drop::BadVersion,
            WireError::BadIhl => Ip4Drop::BadIhl,
            WireError::HdrTruncated => Ip4Drop::HdrTruncated,
            WireError::BadTotalLen => Ip4Drop::BadTotalLen,
            WireError::Unsupported => Ip4Drop::BadVersion,
        }
    }
}

/// RFC 1812 §5.2.2 checks; the destination address if they pass, and
/// whether the TTL allows forwarding (checked last: a packet for one of our
/// own addresses is delivered whatever its TTL).
#[inline(always)]
fn check(m: &mut Pkt) -> Result<(u32, bool), Ip4Drop> {
    let eth = EthernetFrame::new_checked(m.data()).map_err(|_| Ip4Drop::Runt)?;
    // §5.2.2 (1), (3)-(6): a usable header inside the frame.
    let ip = Ipv4Packet::new_checked(eth.payload())?;
    // (2): header checksum.
    if !ip.verify_checksum() {
        return Err(Ip4Drop::BadChecksum);
    }
    // §5.3.4: link-layer broadcasts and multicasts are not forwarded.
    if eth.dst_is_group() {
        return Err(Ip4Drop::L2Broadcast);
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    // §5.3.5.1: limited broadcasts are not forwarded.
    if dst == u32::MAX {
        return Err(Ip4Drop::IpBroadcast);
    }
    // §5.3.7 and §4.2.2.11: martian addresses.
    let net = |a: u32| a >> 24;
    if matches!(net(src), 0 | 127 | 224..) || matches!(net(dst), 0 | 127) {
        return Err(Ip4Drop::Martian);
    }
    // §5.3.1: a packet that would leave with TTL 0 is not forwarded.
    let ttl = ip.ttl();
    let meta = NodeMeta { nh: 0, ttl, arc_index: 0, cksum_le: ip.checksum_le(), total_len: ip.total_len() };
    *m.meta_mut() = meta;
    Ok((dst, ttl > 1))
}

/// First octets that are martian as a source (bit 0: 0/8, 127/8, 224/3) or
/// as a destination (bit 1: 0/8, 127/8), RFC 1812 §5.3.7 and §4.2.2.11.
static MARTIAN: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 224;
    while i < 256 {
        t[i] = 1;
        i += 1;
    }
    t[0] = 3;
    t[127] = 3;
    t
};

/// `N` bytes of `h` from `at` (`at + N <= h.len()`, so this is one load).
#[inline(always)]
fn bytes<const N: usize>(h: &[u8], at: usize) -> [u8; N] {
    h.get(at..at + N).and_then(|b| b.try_into().ok()).unwrap_or([0; N])
}

/// The common case of [`check`] without a branch: a frame of at least 34
/// bytes holding an IPv4 header with no options that passes every check.
/// Returns whether it passed, the destination and the metadata; a `false`
/// goes through [`check`], which names the reason (or accepts a header
/// with options).
#[inline(always)]
fn check_fast(d: &[u8]) -> (bool, u32, u64) {
    let Some(h) = d.first_chunk::<34>() else {
        return (false, 0, 0);
    };
    let (dst, meta) = fields(h);
    (!bad1(h, d.len()), dst, meta)
}

/// The destination and the metadata (`nh` 0) of the option-less header in
/// bytes 14..34 of `h`. Three loads (bytes 14..22, 22..30, 30..34) give
/// every field, here and in [`bad1`].
#[inline(always)]
fn fields(h: &[u8; 34]) -> (u32, u64) {
    let a = u64::from_le_bytes(bytes(h, 14));
    let b = u64::from_le_bytes(bytes(h, 22));
    let total_len = ((a >> 16) as u16).swap_bytes();
    // nh 0, ttl, arc_index 0, cksum_le, total_len: NodeMeta's layout.
    let meta = (b & 0xff) << 16 | (b & 0xffff_0000) << 16 | u64::from(total_len) << 48;
    (u32::from_le_bytes(bytes(h, 30)).swap_bytes(), meta)
}

/// Whether the fast checks turn down the frame `h` starts (`len` bytes in
/// all, at least 34).
#[inline(always)]
fn bad1(h: &[u8; 34], len: usize) -> bool {
    let a = u64::from_le_bytes(bytes(h, 14));
    let b = u64::from_le_bytes(bytes(h, 22));
    let c = u32::from_le_bytes(bytes(h, 30));
    // The five 32-bit words' plain sum (see `ones_sum_is_all_ones`).
    let sum = (a & 0xffff_ffff) + (a >> 32) + (b & 0xffff_ffff) + (b >> 32) + u64::from(c);
    let total_len = ((a >> 16) as u16).swap_bytes();
    let ttl = b as u8;
    // Octet 0 of the source is byte 26, of the destination byte 30.
    let martian = (MARTIAN[(b >> 32) as u8 as usize] & 1) | (MARTIAN[c as u8 as usize] & 2);
    // `|`, not `||`: every term is computed, no branch is taken.
    (a as u8 != 0x45)
        // total_len in 20..=len - 14, as one unsigned compare (len >= 34).
        | (usize::from(total_len.wrapping_sub(20)) > len - 34)
        | !crate::wire::view::ones_sum_is_all_ones(sum)
        | (ttl <= 1)
        | (h[0] & 1 != 0)
        | (c == u32::MAX)
        | (martian != 0)
}

/// [`bad1`] and [`fields`]' metadata for four frames at once: bit `k` of
/// the mask is set when frame `k` is turned down. On x86_64 the checks run in SSE2 lanes, one packet a lane
/// (the header words transposed so that each vector holds one word of all
/// four headers): about a third of the instructions of four scalar runs.
#[inline(always)]
fn check4(h: [&[u8; 34]; 4], len: [usize; 4]) -> (u32, [u64; 4]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(miri)))]
    // SAFETY: `check4_sse2` needs SSE2, which this build enables for the
    // whole program (the cfg above; every x86_64 CPU has it).
    return unsafe { check4_sse2(h, len) };
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2", not(miri))))]
    ((0..4).fold(0, |m, k| m | u32::from(bad1(h[k], len[k])) << k), h.map(|h| fields(h).1))
}

/// [`check4`] in SSE2.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(miri)))]
#[target_feature(enable = "sse2")]
#[inline]
fn check4_sse2(h: [&[u8; 34]; 4], len: [usize; 4]) -> (u32, [u64; 4]) {
    use core::arch::x86_64::*;
    let word = |k: usize, at: usize| i32::from_le_bytes(bytes(h[k], at));
    let row = |k: usize| _mm_set_epi64x(i64::from_le_bytes(bytes(h[k], 22)), i64::from_le_bytes(bytes(h[k], 14)));
    let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
    let (t0, t1) = (_mm_unpacklo_epi32(r0, r1), _mm_unpacklo_epi32(r2, r3));
    let (t2, t3) = (_mm_unpackhi_epi32(r0, r1), _mm_unpackhi_epi32(r2, r3));
    // Header words 0-4 (bytes 14.., 18.., 22.., 26.., 30..), lane k
    // from packet k.
    let w0 = _mm_unpacklo_epi64(t0, t1);
    let w1 = _mm_unpackhi_epi64(t0, t1);
    let w2 = _mm_unpacklo_epi64(t2, t3);
    let w3 = _mm_unpackhi_epi64(t2, t3);
    let w4 = _mm_set_epi32(word(3, 30), word(2, 30), word(1, 30), word(0, 30));
    let (m8, m16) = (_mm_set1_epi32(0xff), _mm_set1_epi32(0xffff));
    let k = |v: i32| _mm_set1_epi32(v);
    // The ten 16-bit words summed (at most 10 * 0xffff), folded twice:
    // 0xffff exactly when the one's-complement sum is all ones.
    let halves = |w| _mm_add_epi32(_mm_and_si128(w, m16), _mm_srli_epi32(w, 16));
    let mut sum = _mm_add_epi32(_mm_add_epi32(halves(w0), halves(w1)), _mm_add_epi32(halves(w2), halves(w3)));
    sum = _mm_add_epi32(sum, halves(w4));
    sum = halves(sum);
    sum = halves(sum);
    let good = _mm_and_si128(_mm_cmpeq_epi32(sum, m16), _mm_cmpeq_epi32(_mm_and_si128(w0, m8), k(0x45)));
    // total_len (bytes 16-17, big-endian) in 20..=len - 14.
    let tl = _mm_or_si128(_mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(w0, 16), m8), 8), _mm_srli_epi32(w0, 24));
    let lmax = _mm_set_epi32(len[3] as i32 - 14, len[2] as i32 - 14, len[1] as i32 - 14, len[0] as i32 - 14);
    let mut bad = _mm_or_si128(_mm_cmplt_epi32(tl, k(20)), _mm_cmpgt_epi32(tl, lmax));
    // TTL (byte 22) at most 1.
    bad = _mm_or_si128(bad, _mm_cmplt_epi32(_mm_and_si128(w2, m8), k(2)));
    // Limited broadcast; martian source (0/8, 127/8, 224/3) and
    // destination (0/8, 127/8) first octets.
    let (s, d) = (_mm_and_si128(w3, m8), _mm_and_si128(w4, m8));
    bad = _mm_or_si128(bad, _mm_cmpeq_epi32(w4, k(-1)));
    bad = _mm_or_si128(bad, _mm_or_si128(_mm_cmpeq_epi32(s, k(0)), _mm_cmpeq_epi32(s, k(127))));
    bad = _mm_or_si128(bad, _mm_cmpgt_epi32(s, k(223)));
    bad = _mm_or_si128(bad, _mm_or_si128(_mm_cmpeq_epi32(d, k(0)), _mm_cmpeq_epi32(d, k(127))));
    bad = _mm_or_si128(bad, _mm_andnot_si128(good, k(-1)));
    let lanes = _mm_movemask_ps(_mm_castsi128_ps(bad)) as u32;
    // Link-layer group destinations (bit 0 of byte 0): bit 0 of byte k
    // moved to bit 24 + k by one multiply (no two terms meet).
    let g = u32::from_le_bytes([h[0][0], h[1][0], h[2][0], h[3][0]]) & 0x0101_0101;
    let group = g.wrapping_mul(0x0102_0408) >> 24 & 0xf;
    // The metadata, as `fields`: ttl << 16 in the low half, cksum_le |
    // total_len << 16 in the high half.
    let lo = _mm_slli_epi32(_mm_and_si128(w2, m8), 16);
    let hi = _mm_or_si128(_mm_srli_epi32(w2, 16), _mm_slli_epi32(tl, 16));
    let (m01, m23) = (_mm_unpacklo_epi32(lo, hi), _mm_unpackhi_epi32(lo, hi));
    let meta = [
        _mm_cvtsi128_si64(m01) as u64,
        _mm_cvtsi128_si64(_mm_unpackhi_epi64(m01, m01)) as u64,
        _mm_cvtsi128_si64(m23) as u64,
        _mm_cvtsi128_si64(_mm_unpackhi_epi64(m23, m23)) as u64,
    ];
    (lanes | group, meta)
}

/// A packet the fast path turned down: [`check`] names its drop reason or
/// accepts it (a header with options, or a TTL that only our own addresses
/// accept); then its lookup. With an interface address to send from, an
/// expired TTL and a missing route are answered with an ICMP error.
#[cold]
#[inline(never)]
fn slow(m: &mut Pkt, lpm: &Lpm, ifaces: &Interfaces, drops: &mut [u64; Ip4Drop::COUNT]) -> u16 {
    let drop_edge = Ip4LookupNext::Drop.edge();
    let (dst, ttl_ok) = match check(m) {
        Ok(v) => v,
        Err(r) => {
            drops[r.idx()] += 1;
            return drop_edge;
        }
    };
    let (edge, why) = match lpm.lookup(dst) {
        Some(v) if ttl_ok || (v >> 16) as u16 == Ip4LookupNext::Local.edge() => {
            m.meta_mut().nh = v as u16;
            return (v >> 16) as u16;
        }
        Some(_) => (IcmpKind::TimeExceeded, Ip4Drop::TtlExpired),
        None => (IcmpKind::NetUnreachable, Ip4Drop::NoRoute),
    };
    if ifaces.icmp_enabled() {
        crate::icmp4::mark(m, edge);
        return Ip4LookupNext::IcmpError.edge();
    }
    drops[why.idx()] += 1;
    drop_edge
}

/// One packet: whether it passed the fast checks, its destination and
/// metadata, and the lookup's entry (`u32::MAX` for no route) give its edge
/// and metadata, or it goes through [`slow`].
#[inline(always)]
fn finish(
    m: &mut Pkt,
    ok: bool,
    meta: u64,
    v: u32,
    lpm: &Lpm,
    ifaces: &Interfaces,
    drops: &mut [u64; Ip4Drop::COUNT],
) -> u16 {
    if ok && v != u32::MAX {
        *m.meta_mut() = NodeMeta::from_bits(meta | u64::from(v as u16));
        (v >> 16) as u16
    } else {
        slow(m, lpm, ifaces, drops)
    }
}

/// Fills `nexts` for `objs`: four packets at a time (their checks in
/// [`check4`], then one four-way LPM lookup), prefetching mbufs 8 and data 4
/// packets ahead, as DPDK's node; a group with a frame too short for the
/// checks, and the last few packets, one by one.
#[inline(always)]
fn classify(objs: &mut [Pkt], nexts: &mut [u16], lpm: &Lpm, ifaces: &Interfaces, drops: &mut [u64; Ip4Drop::COUNT]) {
    let len = objs.len().min(nexts.len());
    let (objs, nexts) = (&mut objs[..len], &mut nexts[..len]);
    let mut i = 0;
    while i + 4 <= len {
        pkt::prefetch_ahead::<false, true>(objs, i);
        let group = &mut objs[i..i + 4];
        let d = [group[0].data(), group[1].data(), group[2].data(), group[3].data()];
        let (Some(h0), Some(h1), Some(h2), Some(h3)) =
            (d[0].first_chunk(), d[1].first_chunk(), d[2].first_chunk(), d[3].first_chunk())
        else {
            for (m, next) in group.iter_mut().zip(&mut nexts[i..i + 4]) {
                *next = one(m, lpm, ifaces, drops);
            }
            i += 4;
            continue;
        };
        let (bad, meta) = check4([h0, h1, h2, h3], [d[0].len(), d[1].len(), d[2].len(), d[3].len()]);
        let dst = [h0, h1, h2, h3].map(|h| u32::from_le_bytes(bytes(h, 30)).swap_bytes());
        let v = lpm.lookup_x4(dst, u32::MAX);
        for (k, (m, next)) in group.iter_mut().zip(&mut nexts[i..i + 4]).enumerate() {
            *next = finish(m, bad >> k & 1 == 0, meta[k], v[k], lpm, ifaces, drops);
        }
        i += 4;
    }
    for (m, next) in objs[i..].iter_mut().zip(&mut nexts[i..]) {
        *next = one(m, lpm, ifaces, drops);
    }
}

/// One packet through [`check_fast`] and the lookup.
#[inline(always)]
fn one(m: &mut Pkt, lpm: &Lpm, ifaces: &Interfaces, drops: &mut [u64; Ip4Drop::COUNT]) -> u16 {
    let (ok, dst, meta) = check_fast(m.data());
    let v = lpm.lookup(dst).unwrap_or(u32::MAX);
    finish(m, ok, meta, v, lpm, ifaces, drops)
}

fn ip4_lookup(ctx: &mut Ctx<'_, Pkt>, c: &mut Ip4LookupCtx, objs: Objs<'_, Pkt>) -> usize {
    let mut drops = [0u64; Ip4Drop::COUNT];
    let (lpm, ifaces) = (&*c.lpm, &c.ifaces);
    let n = pkt::dispatch(ctx, objs, |objs, nexts| classify(objs, nexts, lpm, ifaces, &mut drops));
    ctx.count_all(&drops);
    n
}

node! {
    /// IPv4 checks and route lookup (`ip4_lookup`).
    pub static IP4_LOOKUP = {
        name: "ip4_lookup",
        context: Ip4LookupCtx,
        object: Pkt,
        init: init,
        process: ip4_lookup,
        counters: Ip4Drop::NAMES,
        trace: |p: &Pkt| {
            let dst = p.data().get(30..34).map_or(String::from("?"), |a| {
                std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string()
            });
            format!("dst {dst} next hop {}", p.meta().nh)
        },
        next: Ip4LookupNext::NAMES,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mempool::{Mempool, PoolConfig};
    use crate::wire::{ipv4_set_checksum, Udp4};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: if cfg!(miri) { 8 } else { 8192 },
            failure_persistence: None,
            ..ProptestConfig::default()
        })]
        /// The branch-free path accepts a packet only when the checked
        /// path does, with the same destination and metadata; and it takes
        /// every option-less packet the checked path accepts.
        #[test]
        fn fast_path_agrees_with_check(
            edits in proptest::collection::vec((0usize..40, prop_oneof![
                // The values the checks turn on, and any other.
                prop::sample::select(vec![0u8, 1, 2, 0x44, 0x45, 0x46, 0x55, 0x7f, 0xe0, 0xff]),
                any::<u8>(),
            ]), 0..4),
            len in 0usize..70,
            fix_checksum in any::<bool>(),
        ) {
            let mut f = Udp4::default().build();
            for (at, v) in edits {
                if at < f.len() {
                    f[at] = v;
                }
            }
            let ihl = usize::from(f[14] & 0xf) * 4;
            if fix_checksum && ihl >= 20 && 14 + ihl <= f.len() {
                ipv4_set_checksum(&mut f[14..14 + ihl]);
            }
            f.truncate(len.max(1));
            let ((ok, dst, meta), slow, got) = crate::mempool::with_test_pkt(&f, |m| {
                let fast = check_fast(m.data());
                let slow = check(m);
                (fast, slow, *m.meta())
            });
            if ok {
                prop_assert_eq!(slow, Ok((dst, true)));
                prop_assert_eq!(got, NodeMeta::from_bits(meta));
            } else if f.len() >= 34 && f[14] == 0x45 {
                prop_assert!(!matches!(slow, Ok((_, true))), "fast path turned down {:?}", slow);
            }
        }
    }

    /// A frame near the checks' boundaries: the stock UDP frame with up to
    /// four bytes replaced (by values the checks turn on, or any), its
    /// checksum fixed or not, cut to `len` (at least 34) bytes.
    fn frame() -> impl Strategy<Value = Vec<u8>> {
        let edit = (
            0usize..40,
            prop_oneof![
                prop::sample::select(vec![0u8, 1, 2, 0x13, 0x14, 0x44, 0x45, 0x46, 0x7f, 0xdf, 0xe0, 0xff]),
                any::<u8>(),
            ],
        );
        (proptest::collection::vec(edit, 0..4), 34usize..70, any::<bool>()).prop_map(|(edits, len, fix)| {
            let mut f = Udp4::default().build();
            f.resize(70, 0);
            for (at, v) in edits {
                f[at] = v;
            }
            if fix {
                ipv4_set_checksum(&mut f[14..34]);
            }
            f.truncate(len);
            f
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: if cfg!(miri) { 8 } else { 4096 },
            failure_persistence: None,
            ..ProptestConfig::default()
        })]
        /// The four-lane checks (SSE2 on x86_64) give each frame the
        /// answer and metadata of the one-frame ones.
        #[test]
        fn four_lanes_agree_with_one(f in proptest::array::uniform4(frame())) {
            let h = [0, 1, 2, 3].map(|k| f[k].first_chunk::<34>().unwrap());
            let (bad, meta) = check4(h, [0, 1, 2, 3].map(|k| f[k].len()));
            for k in 0..4 {
                prop_assert_eq!(bad >> k & 1 == 1, bad1(h[k], f[k].len()), "frame {}", k);
                prop_assert_eq!(meta[k], fields(h[k]).1, "frame {}", k);
            }
            prop_assert_eq!(bad >> 4, 0);
        }
    }

    /// Each check, one frame apiece: the fast path turns it down and the
    /// checked path names the reason.
    #[test]
    fn fast_path_turns_down_each_failure() {
        let pool = Mempool::new("ip4each", &PoolConfig { size: 4, cache_size: 0, ..PoolConfig::default() }).unwrap();
        let base = Udp4::default().build();
        type Edit = fn(&mut Vec<u8>);
        let cases: [(&str, Edit, Ip4Drop); 14] = [
            ("runt", |f| f.truncate(33), Ip4Drop::Runt),
            ("version 6", |f| f[14] = 0x65, Ip4Drop::BadVersion),
            ("ihl 4", |f| f[14] = 0x44, Ip4Drop::BadIhl),
            ("total_len 19", |f| f[16..18].copy_from_slice(&19u16.to_be_bytes()), Ip4Drop::BadTotalLen),
            ("total_len past the frame", |f| f[16..18].copy_from_slice(&47u16.to_be_bytes()), Ip4Drop::BadTotalLen),
            ("checksum", |f| f[24] ^= 1, Ip4Drop::BadChecksum),
            ("ttl 1", |f| f[22] = 1, Ip4Drop::TtlExpired),
            ("ttl 0", |f| f[22] = 0, Ip4Drop::TtlExpired),
            ("l2 multicast", |f| f[0] |= 1, Ip4Drop::L2Broadcast),
            ("broadcast", |f| f[30..34].copy_from_slice(&[255; 4]), Ip4Drop::IpBroadcast),
            ("src 0/8", |f| f[26] = 0, Ip4Drop::Martian),
            ("src 224/4", |f| f[26] = 224, Ip4Drop::Martian),
            ("dst 127/8", |f| f[30] = 127, Ip4Drop::Martian),
            ("dst 0/8", |f| f[30] = 0, Ip4Drop::Martian),
        ];
        for (name, edit, reason) in cases {
            let mut f = base.clone();
            edit(&mut f);
            if reason != Ip4Drop::BadChecksum && f.len() >= 34 {
                ipv4_set_checksum(&mut f[14..34]);
            }
            let mut m = pool.alloc().unwrap();
            assert!(m.set_data(&f));
            assert!(!check_fast(m.data()).0, "{name}: fast path took it");
            match reason {
                // Checked last, and only for forwarding.
                Ip4Drop::TtlExpired => assert!(matches!(check(&mut m), Ok((_, false))), "{name}"),
                _ => assert_eq!(check(&mut m), Err(reason), "{name}"),
            }
            crate::mempool::free_bulk(graph_core::Objs::from_vec(&mut vec![m]));
        }
        // And the frame itself passes both.
        let mut m = pool.alloc().unwrap();
        assert!(m.set_data(&base));
        assert!(check_fast(m.data()).0);
        assert!(check(&mut m).is_ok());
        crate::mempool::free_bulk(graph_core::Objs::from_vec(&mut vec![m]));
    }
}
