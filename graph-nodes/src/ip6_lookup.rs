//! `ip6_lookup`: RFC 8200 / RFC 4291 checks, then longest-prefix match on
//! the destination ([`Lpm6`]).
//!
//! Uses: the IPv6 header after a 14-byte Ethernet header. Sets: `meta.nh`,
//! `meta.ttl` (the hop limit) and `meta.total_len` (40 + payload length),
//! for `ip6_rewrite`. Next: [`Ip6LookupNext`] — the route's edge
//! (`ip6_rewrite`, or `ip6_local` for the router's own addresses),
//! `ndp_input` (neighbour solicitations and advertisements, whatever their
//! destination), `icmp6_error` (hop limit exceeded, no route: when the
//! router has an IPv6 address to answer from) or `pkt_drop`, each drop
//! counted under its reason ([`Ip6Drop`]).

use std::net::Ipv6Addr;
use std::sync::Arc;

use graph_core::{names, node, Ctx, InitError, NodeInfo, Objs};

use crate::icmp4::IcmpKind;
use crate::lpm6::{Lpm6, Lpm6Error};
use crate::mbuf::NodeMeta;
use crate::neigh::Interfaces;
use crate::pkt::{self, Pkt};
use crate::wire::view::icmp6;
use crate::wire::{EthernetFrame, Ipv6Packet, WireError, IPV6_HLEN};

names! {
    /// Edges of `ip6_lookup`.
    pub enum Ip6LookupNext {
        Rewrite = "ip6_rewrite",
        Drop = "pkt_drop",
        Local = "ip6_local",
        IcmpError = "icmp6_error",
        Nd = "ndp_input",
    }
}

names! {
    /// Drop reasons of `ip6_lookup`, in the order they are checked.
    pub enum Ip6Drop {
        /// Frame shorter than Ethernet + the 40-byte header.
        Runt = "runt",
        /// Version field is not 6.
        BadVersion = "bad_version",
        /// Payload length past the frame.
        BadPayloadLen = "bad_payload_len",
        /// Source multicast or unspecified, destination unspecified or
        /// loopback, or either side loopback (RFC 4291 §2.5.2, §2.5.3,
        /// §2.7).
        Martian = "martian",
        /// Link-local source or destination: not forwarded (RFC 4291
        /// §2.5.6).
        LinkLocal = "link_local",
        /// To a multicast group (the router joins none but the
        /// solicited-node groups of its addresses, for ND).
        Multicast = "multicast",
        /// Hop limit 0 or 1, and no time-exceeded error sent (no IPv6
        /// address to send it from).
        HopLimitExceeded = "hop_limit_exceeded",
        /// No route, and no unreachable error sent.
        NoRoute = "no_route",
    }
}

/// Default number of groups of the IPv6 FIB.
pub const DEFAULT_TBL8_GROUPS: u32 = 1 << 16;

/// An IPv6 FIB: routes `prefix/depth → (edge, next hop)` in an [`Lpm6`].
/// Cloning shares the table; changes are safe while graphs run.
#[derive(Clone)]
pub struct Fib6(Arc<Lpm6>);

impl Default for Fib6 {
    fn default() -> Self {
        Fib6::new(DEFAULT_TBL8_GROUPS)
    }
}

impl std::fmt::Debug for Fib6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fib6").field("tbl8_groups", &self.0.tbl8_groups()).finish()
    }
}

impl Fib6 {
    /// An empty FIB with `tbl8_groups` groups for the bytes past the third.
    pub fn new(tbl8_groups: u32) -> Fib6 {
        Fib6(Arc::new(Lpm6::new(tbl8_groups)))
    }

    /// The LPM behind it.
    pub fn lpm(&self) -> &Arc<Lpm6> {
        &self.0
    }

    /// Adds `prefix/depth → next_hop` sent on edge `next`.
    pub fn route_add(&self, prefix: Ipv6Addr, depth: u8, next_hop: u16, next: Ip6LookupNext) -> Result<(), Lpm6Error> {
        self.0.add(u128::from(prefix), depth, (next.edge() as u32) << 16 | next_hop as u32)
    }

    /// Deletes the route `prefix/depth`.
    pub fn route_delete(&self, prefix: Ipv6Addr, depth: u8) -> Result<(), Lpm6Error> {
        self.0.delete(u128::from(prefix), depth)
    }

    /// What the FIB says for `dst`: `(edge, next_hop)`.
    pub fn route_lookup(&self, dst: Ipv6Addr) -> Option<(u16, u16)> {
        self.0.lookup(u128::from(dst)).map(|v| ((v >> 16) as u16, v as u16))
    }
}

/// Per-instance context.
pub struct Ip6LookupCtx {
    lpm: Arc<Lpm6>,
    ifaces: Interfaces,
}

fn init(info: &NodeInfo<'_>) -> Result<Ip6LookupCtx, InitError> {
    Ok(Ip6LookupCtx {
        lpm: info.env.get::<Fib6>().cloned().unwrap_or_default().0,
        ifaces: info.env.get::<Interfaces>().cloned().unwrap_or_default(),
    })
}

/// What `check` found.
enum Verdict {
    /// Look the destination up; the hop limit allows forwarding or not.
    Route(u128, bool),
    /// Neighbour discovery: to `ndp_input`.
    Nd,
    Drop(Ip6Drop),
}

const LINK_LOCAL: u128 = 0xfe80 << 112;
const LINK_LOCAL_MASK: u128 = 0xffc0 << 112;

/// The checks; the metadata is set when the packet may be routed.
#[inline(always)]
fn check(m: &mut Pkt) -> Verdict {
    let Ok(eth) = EthernetFrame::new_checked(m.data()) else { return Verdict::Drop(Ip6Drop::Runt) };
    let ip = match Ipv6Packet::new_checked(eth.payload()) {
        Ok(ip) => ip,
        Err(WireError::Truncated) => return Verdict::Drop(Ip6Drop::Runt),
        Err(WireError::BadVersion) => return Verdict::Drop(Ip6Drop::BadVersion),
        Err(_) => return Verdict::Drop(Ip6Drop::BadPayloadLen),
    };
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    // Neighbour discovery first: its messages come from unspecified or
    // link-local sources and go to multicast groups.
    if ip.next_header() == 58 && ip.payload().first().is_some_and(|&t| t == icmp6::NS || t == icmp6::NA) {
        return Verdict::Nd;
    }
    if src >> 120 == 0xff || src == 0 || src == 1 || dst == 0 || dst == 1 {
        return Verdict::Drop(Ip6Drop::Martian);
    }
    if dst >> 120 == 0xff || eth.dst_is_group() {
        return Verdict::Drop(Ip6Drop::Multicast);
    }
    if src & LINK_LOCAL_MASK == LINK_LOCAL || dst & LINK_LOCAL_MASK == LINK_LOCAL {
        return Verdict::Drop(Ip6Drop::LinkLocal);
    }
    let hops = ip.hop_limit();
    let total = IPV6_HLEN as u16 + ip.payload_len();
    *m.meta_mut() = NodeMeta { nh: 0, ttl: hops, arc_index: 0, cksum_le: 0, total_len: total };
    Verdict::Route(dst, hops > 1)
}

fn ip6_lookup(ctx: &mut Ctx<'_, Pkt>, c: &mut Ip6LookupCtx, objs: Objs<'_, Pkt>) -> usize {
    let mut drops = [0u64; Ip6Drop::COUNT];
    let (lpm, ifaces) = (&*c.lpm, &c.ifaces);
    let local = Ip6LookupNext::Local.edge();
    let n = pkt::dispatch(ctx, objs, |objs, nexts| {
        for i in 0..objs.len().min(nexts.len()) {
            if let Some(o) = objs.get(i + 4) {
                pkt::prefetch_data(o);
            }
            let m = &mut objs[i];
            nexts[i] = match check(m) {
                Verdict::Route(dst, hops_ok) => match lpm.lookup(dst) {
                    Some(v) if hops_ok || (v >> 16) as u16 == local => {
                        m.meta_mut().nh = v as u16;
                        (v >> 16) as u16
                    }
                    found => {
                        let (kind, why) = match found {
                            Some(_) => (IcmpKind::TimeExceeded, Ip6Drop::HopLimitExceeded),
                            None => (IcmpKind::NetUnreachable, Ip6Drop::NoRoute),
                        };
                        if ifaces.icmp6_enabled() {
                            crate::icmp4::mark(m, kind);
                            Ip6LookupNext::IcmpError.edge()
                        } else {
                            drops[why.idx()] += 1;
                            Ip6LookupNext::Drop.edge()
                        }
                    }
                },
                Verdict::Nd => Ip6LookupNext::Nd.edge(),
                Verdict::Drop(r) => {
                    drops[r.idx()] += 1;
                    Ip6LookupNext::Drop.edge()
                }
            };
        }
    });
    ctx.count_all(&drops);
    n
}

node! {
    /// IPv6 checks and route lookup (`ip6_lookup`).
    pub static IP6_LOOKUP = {
        name: "ip6_lookup",
        context: Ip6LookupCtx,
        object: Pkt,
        init: init,
        process: ip6_lookup,
        counters: Ip6Drop::NAMES,
        trace: |p: &Pkt| {
            let dst = p.data().get(38..54).map_or(String::from("?"), |a| {
                Ipv6Addr::from(<[u8; 16]>::try_from(a).expect("16 bytes")).to_string()
            });
            format!("dst {dst} next hop {}", p.meta().nh)
        },
        next: Ip6LookupNext::NAMES,
    };
}
