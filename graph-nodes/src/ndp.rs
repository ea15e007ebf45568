//! IPv6 neighbour discovery (RFC 4861) on the [`neigh`](crate::neigh)
//! table: the IPv6 side of [`arp`](crate::arp).
//!
//! - `ndp_input` (from `ip6_lookup`, every NS and NA whatever its
//!   destination): a solicitation for an address of the receiving port is
//!   answered in place with a solicited advertisement carrying our
//!   link-layer address (to all nodes for duplicate address detection);
//!   what a solicitation or advertisement tells about its sender updates
//!   the table, releasing held packets to `ip6_rewrite`. Only messages
//!   with hop limit 255, a valid checksum and well-formed options are
//!   heard (§7.1).
//! - `ip6_nd` (from `ip6_rewrite`, for a next hop being resolved): the
//!   packet waits in its neighbour's hold queue; the first sends a
//!   solicitation to the solicited-node group.
//!
//! Timers (retries, probes, address unreachable) are `neigh_tick`'s.

use graph_core::{names, node, Ctx, Objs};

use crate::arp::{answer_burst, hold_burst, init, ArpCtx, HoldDrop, HoldSeen};
use crate::neigh::L3;
use crate::pkt::Pkt;
use crate::wire::view::{icmp6, NdMessage, NA_OVERRIDE, NA_ROUTER, NA_SOLICITED};
use crate::wire::{icmp6_checksum, multicast_mac6, EthernetFrame, Ipv6Packet, ETH_HLEN, IPV6_HLEN};

names! {
    /// Edges of `ndp_input`.
    pub enum NdpInputNext { Drop = "pkt_drop", PortTx = "port_tx", Rewrite = "ip6_rewrite" }
}

names! {
    /// Drop reasons of `ndp_input`.
    pub enum NdpInputDrop {
        /// Hop limit not 255, bad checksum, code not 0, a malformed
        /// option, a multicast target, or a sender link address that is
        /// not a station's.
        BadNd = "bad_nd",
        /// A solicitation for an address that is not the receiving port's.
        NotForUs = "not_for_us",
        /// An advertisement, consumed after the table learned from it.
        Consumed = "consumed",
        /// An advertisement for one of our addresses.
        AddrConflict = "addr_conflict",
    }
}

names! {
    /// Plain counters of `ndp_input`.
    pub enum NdpInputSeen {
        /// Solicitations answered.
        Advertisements = "advertisements",
        /// Held packets released by a resolution.
        Released = "released",
    }
}

/// All-nodes multicast (ff02::1).
const ALL_NODES: u128 = 0xff02 << 112 | 1;

fn nd_one(l3: &L3, m: &mut Pkt, released: &mut Vec<Pkt>) -> Result<(), NdpInputDrop> {
    let port = m.port();
    let (src, nd, eth_src) = {
        let eth = EthernetFrame::new_checked(m.data()).map_err(|_| NdpInputDrop::BadNd)?;
        let ip = Ipv6Packet::new_checked(eth.payload()).map_err(|_| NdpInputDrop::BadNd)?;
        if ip.hop_limit() != 255 || icmp6_checksum(ip.src_addr(), ip.dst_addr(), ip.payload()) != 0 {
            return Err(NdpInputDrop::BadNd);
        }
        let nd = NdMessage::parse(ip.payload()).map_err(|_| NdpInputDrop::BadNd)?;
        if nd.target >> 120 == 0xff {
            return Err(NdpInputDrop::BadNd);
        }
        (ip.src_addr(), nd, eth.src_addr())
    };
    if let Some(l) = nd.lladdr {
        if l[0] & 1 != 0 || l == [0; 6] {
            return Err(NdpInputDrop::BadNd);
        }
    }
    if nd.kind == icmp6::NA {
        if l3.ifaces.is_local6(nd.target) {
            return Err(NdpInputDrop::AddrConflict);
        }
        if let Some(l) = nd.lladdr {
            l3.learn(port, nd.target, l, false, released);
        }
        return Err(NdpInputDrop::Consumed);
    }
    let for_us = l3.ifaces.is_addr6_of(port, nd.target);
    // A solicitation from a unicast source: its link address (the option,
    // else the frame's source) is worth keeping (§7.2.3).
    if src != 0 {
        l3.learn(port, src, nd.lladdr.unwrap_or(eth_src), for_us, released);
    }
    if !for_us {
        return Err(NdpInputDrop::NotForUs);
    }
    let mac = l3.ifaces.get(port).map(|i| i.mac).ok_or(NdpInputDrop::NotForUs)?;
    // The advertisement, in place: 14 + 40 + 32 bytes.
    let (dst, dst_mac, flags) = if src == 0 {
        (ALL_NODES, multicast_mac6(ALL_NODES), NA_ROUTER | NA_OVERRIDE)
    } else {
        (src, nd.lladdr.unwrap_or(eth_src), NA_ROUTER | NA_SOLICITED | NA_OVERRIDE)
    };
    let want = ETH_HLEN + IPV6_HLEN + 32;
    let len = m.data().len();
    let fits =
        if len > want { m.trim((len - want) as u16) } else { len == want || m.append((want - len) as u16).is_some() };
    if !fits {
        return Err(NdpInputDrop::BadNd);
    }
    let d = m.data_mut();
    let mut eth = EthernetFrame::new_checked(&mut d[..]).map_err(|_| NdpInputDrop::BadNd)?;
    eth.set_dst_addr(dst_mac);
    eth.set_src_addr(mac);
    let mut ip = Ipv6Packet::new_for_fill(eth.payload_mut()).map_err(|_| NdpInputDrop::BadNd)?;
    ip.set_version_class_flow(0, 0);
    ip.set_payload_len(32);
    ip.set_next_header(58);
    ip.set_hop_limit(255);
    ip.set_src_addr(nd.target);
    ip.set_dst_addr(dst);
    let na = NdMessage { kind: icmp6::NA, flags, target: nd.target, lladdr: Some(mac) };
    na.write(&mut d[ETH_HLEN + IPV6_HLEN..], nd.target, dst);
    m.meta_mut().arc_index = port as u8;
    Ok(())
}

fn ndp_input(ctx: &mut Ctx<'_, Pkt>, c: &mut ArpCtx, objs: Objs<'_, Pkt>) -> usize {
    let mut drops = [0u64; NdpInputDrop::COUNT];
    let one = |l3: &L3, m: &mut Pkt, out: &mut Vec<Pkt>| nd_one(l3, m, out).map_err(|r| r.idx());
    answer_burst(ctx, c, objs, one, NdpInputDrop::NotForUs.idx(), &mut drops)
}

const _: () =
    assert!(NdpInputNext::Drop.edge() == 0 && NdpInputNext::PortTx.edge() == 1 && NdpInputNext::Rewrite.edge() == 2);

node! {
    /// Neighbour discovery input (`ndp_input`).
    pub static NDP_INPUT = {
        name: "ndp_input",
        context: ArpCtx,
        object: Pkt,
        init: init,
        process: ndp_input,
        counters: NdpInputDrop::NAMES,
        observations: NdpInputSeen::NAMES,
        trace: |p: &Pkt| format!("len {}", p.data().len()),
        next: NdpInputNext::NAMES,
    };
}

names! {
    /// Edges of `ip6_nd`.
    pub enum Ip6NdNext { Drop = "pkt_drop", Rewrite = "ip6_rewrite", PortTx = "port_tx" }
}

fn ip6_nd(ctx: &mut Ctx<'_, Pkt>, c: &mut ArpCtx, objs: Objs<'_, Pkt>) -> usize {
    hold_burst(ctx, c, objs, |m| {
        let e = EthernetFrame::new_checked(m.data()).ok()?;
        Ipv6Packet::new_checked(e.payload()).ok().map(|ip| ip.dst_addr())
    })
}

const _: () = assert!(Ip6NdNext::Drop.edge() == 0 && Ip6NdNext::Rewrite.edge() == 1 && Ip6NdNext::PortTx.edge() == 2);

node! {
    /// IPv6 packets whose next hop is being resolved (`ip6_nd`).
    pub static IP6_ND = {
        name: "ip6_nd",
        context: ArpCtx,
        object: Pkt,
        init: init,
        process: ip6_nd,
        counters: HoldDrop::NAMES,
        observations: HoldSeen::NAMES,
        trace: |p: &Pkt| format!("next hop {}", p.meta().nh),
        next: Ip6NdNext::NAMES,
    };
}
