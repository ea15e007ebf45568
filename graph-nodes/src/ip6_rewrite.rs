//! `ip6_rewrite`: writes the next hop's Ethernet header, decrements the
//! hop limit (IPv6 has no header checksum) and sends the packet to its
//! port's `ethdev_tx-<port>`.
//!
//! Uses: `meta` set by `ip6_lookup` (next hop, hop limit, total length).
//! Sets: destination and source MAC, hop limit. Next: `pkt_drop` (edge 0),
//! `ip6_nd` (the next hop's neighbour is being resolved), `icmp6_error`
//! (packet too big, RFC 8201: IPv6 routers never fragment) and one
//! `ethdev_tx-<port>` edge per port, added by
//! [`eth_config`](crate::eth_config::eth_config). The next-hop table is
//! the one IPv4 uses ([`NextHops`](crate::ip4_rewrite::NextHops)).

use graph_core::{names, node, Ctx, InitError, NodeInfo, Objs};

use crate::icmp4::{mark, IcmpKind};
use crate::ip4_rewrite::{Compiled, Local, NO_EDGE, NO_HOP, PENDING};
use crate::neigh::Interfaces;
use crate::pkt::{self, Pkt};
use crate::wire::{EthernetFrame, Ipv6Packet, ETH_HLEN, IPV6_HLEN};

names! {
    /// Fixed edges of `ip6_rewrite` (the `ethdev_tx-<port>` edges follow).
    pub enum Ip6RewriteNext { Drop = "pkt_drop", Nd = "ip6_nd", IcmpError = "icmp6_error" }
}

names! {
    /// Drop reasons of `ip6_rewrite`.
    pub enum Ip6RewriteDrop {
        /// The next hop has no rewrite entry.
        NoNextHop = "no_next_hop",
        /// The entry's port has no tx node in this graph.
        NoTxNode = "no_tx_node",
        /// Longer than the out port's MTU and no packet-too-big error sent
        /// (no IPv6 address to send it from).
        MtuExceeded = "mtu_exceeded",
        /// Not a packet ip6_lookup passed (shorter than the headers, or
        /// hop limit 1 or 0).
        BadHeader = "bad_header",
    }
}

/// Per-instance context.
pub struct Ip6RewriteCtx {
    hops: Compiled,
    ifaces: Interfaces,
}

fn init(info: &NodeInfo<'_>) -> Result<Ip6RewriteCtx, InitError> {
    Ok(Ip6RewriteCtx { hops: Compiled::new(info)?, ifaces: info.env.get::<Interfaces>().cloned().unwrap_or_default() })
}

/// Rewrites one packet; its tx edge, or the edge it takes instead.
#[inline(always)]
fn rewrite(m: &mut Pkt, hops: &[Local; 1 << 16], ifaces: &Interfaces, drops: &mut [u64; Ip6RewriteDrop::COUNT]) -> u16 {
    let hop = &hops[m.meta().nh as usize];
    let meta = *m.meta();
    let why = if hop.edge >= PENDING {
        match hop.edge {
            NO_HOP => Ip6RewriteDrop::NoNextHop,
            NO_EDGE => Ip6RewriteDrop::NoTxNode,
            _ => return Ip6RewriteNext::Nd.edge(),
        }
    } else if meta.ttl <= 1 {
        Ip6RewriteDrop::BadHeader
    } else if meta.total_len > hop.mtu {
        if ifaces.icmp6_enabled() {
            mark(m, IcmpKind::FragNeeded(hop.mtu));
            return Ip6RewriteNext::IcmpError.edge();
        }
        Ip6RewriteDrop::MtuExceeded
    } else {
        match m.data_mut().get_mut(..ETH_HLEN + IPV6_HLEN) {
            Some(hdrs) => {
                let mut eth = EthernetFrame::new_checked(hdrs).expect("54 bytes");
                eth.set_addrs(&hop.macs);
                let mut ip = Ipv6Packet::new_for_fill(eth.payload_mut()).expect("40 bytes");
                ip.set_hop_limit(meta.ttl - 1);
                return hop.edge;
            }
            None => Ip6RewriteDrop::BadHeader,
        }
    };
    drops[why.idx()] += 1;
    Ip6RewriteNext::Drop.edge()
}

fn ip6_rewrite(ctx: &mut Ctx<'_, Pkt>, c: &mut Ip6RewriteCtx, objs: Objs<'_, Pkt>) -> usize {
    c.hops.refresh();
    let hops: &[Local; 1 << 16] = &c.hops.local;
    let mut drops = [0u64; Ip6RewriteDrop::COUNT];
    let n = pkt::dispatch(ctx, objs, |objs, nexts| {
        for i in 0..objs.len().min(nexts.len()) {
            if let Some(o) = objs.get(i + 4) {
                pkt::prefetch_data(o);
            }
            nexts[i] = rewrite(&mut objs[i], hops, &c.ifaces, &mut drops);
        }
    });
    ctx.count_all(&drops);
    n
}

node! {
    /// Ethernet rewrite and hop limit (`ip6_rewrite`).
    pub static IP6_REWRITE = {
        name: "ip6_rewrite",
        context: Ip6RewriteCtx,
        object: Pkt,
        init: init,
        process: ip6_rewrite,
        counters: Ip6RewriteDrop::NAMES,
        trace: |p: &Pkt| format!("next hop {}", p.meta().nh),
        next: Ip6RewriteNext::NAMES,
    };
}
