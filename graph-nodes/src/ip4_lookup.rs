//! `ip4_lookup`: RFC 1812 §5.2.2 checks, then longest-prefix match on the
//! destination.
//!
//! Uses: the IPv4 header after a 14-byte Ethernet header (ethdev_rx strips
//! a VLAN tag), parsed through [`Ipv4Packet`]. Sets: `meta.nh` (next hop), `meta.ttl`, `meta.cksum_le` and
//! `meta.total_len`
//! (the header's TTL and checksum, for ip4_rewrite). Next:
//! [`Ip4LookupNext`] — the route's edge (`ip4_rewrite`) or `pkt_drop`.
//!
//! A route's value packs the edge and the next hop as DPDK does:
//! `edge << 16 | next_hop`. Every failed check and every miss is counted
//! under its reason ([`Ip4Drop`]).

use std::net::Ipv4Addr;
use std::sync::Arc;

use graph_core::{names, node, Ctx, InitError, NodeInfo, Objs};

use crate::lpm::{Lpm, LpmError};
use crate::mbuf::NodeMeta;
use crate::pkt::{self, Pkt};
use crate::wire::{EthernetFrame, Ipv4Packet, WireError};

names! {
    /// Edges of `ip4_lookup` (DPDK's order).
    pub enum Ip4LookupNext { Rewrite = "ip4_rewrite", Drop = "pkt_drop" }
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
        /// TTL 0 or 1 (no ICMP time-exceeded yet).
        TtlExpired = "ttl_expired",
        /// Received as a link-layer broadcast or multicast (RFC 1812
        /// §5.3.4: not forwarded unless configured to).
        L2Broadcast = "l2_broadcast",
        /// Destination is the limited broadcast 255.255.255.255 (§5.3.5.1).
        IpBroadcast = "ip_broadcast",
        /// Source or destination in 0.0.0.0/8 or 127.0.0.0/8, or a
        /// multicast or broadcast source (§5.3.7, §4.2.2.11).
        Martian = "martian",
        /// No route covers the destination.
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
}

fn init(info: &NodeInfo<'_>) -> Result<Ip4LookupCtx, InitError> {
    Ok(Ip4LookupCtx { lpm: info.env::<Fib>()?.0.clone() })
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
        }
    }
}

/// RFC 1812 §5.2.2 checks; the destination address if they pass.
#[inline(always)]
fn check(m: &mut Pkt) -> Result<u32, Ip4Drop> {
    let eth = EthernetFrame::new_checked(m.data()).map_err(|_| Ip4Drop::Runt)?;
    // §5.2.2 (1), (3)-(6): a usable header inside the frame.
    let ip = Ipv4Packet::new_checked(eth.payload())?;
    // (2): header checksum.
    if !ip.verify_checksum() {
        return Err(Ip4Drop::BadChecksum);
    }
    // §5.3.1: a packet that would leave with TTL 0 is not forwarded.
    let ttl = ip.ttl();
    if ttl <= 1 {
        return Err(Ip4Drop::TtlExpired);
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
    let meta = NodeMeta { nh: 0, ttl, arc_index: 0, cksum_le: ip.checksum_le(), total_len: ip.total_len() };
    *m.meta_mut() = meta;
    Ok(dst)
}

const MISS: u32 = u32::MAX;

fn ip4_lookup(ctx: &mut Ctx<'_, Pkt>, c: &mut Ip4LookupCtx, objs: Objs<'_, Pkt>) -> usize {
    let mut drops = [0u64; Ip4Drop::COUNT];
    let lpm = &*c.lpm;
    let drop_edge = Ip4LookupNext::Drop.edge();
    let n = pkt::dispatch(ctx, objs, |objs, nexts| {
        let len = objs.len();
        let mut i = 0;
        while i < len {
            let k = (len - i).min(4);
            let mut dst = [0u32; 4];
            let mut ok = [false; 4];
            for l in 0..k {
                if let Some(o) = objs.get(i + l + 8) {
                    pkt::prefetch2(o);
                }
                if let Some(o) = objs.get(i + l + 4) {
                    pkt::prefetch_data(o);
                }
                match check(&mut objs[i + l]) {
                    Ok(d) => {
                        dst[l] = d;
                        ok[l] = true;
                    }
                    Err(r) => drops[r.idx()] += 1,
                }
            }
            let res = lpm.lookup_x4(dst, MISS);
            for l in 0..k {
                nexts[i + l] = if !ok[l] {
                    drop_edge
                } else if res[l] == MISS {
                    drops[Ip4Drop::NoRoute.idx()] += 1;
                    drop_edge
                } else {
                    objs[i + l].meta_mut().nh = res[l] as u16;
                    (res[l] >> 16) as u16
                };
            }
            i += k;
        }
    });
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
