//! ARP nodes (RFC 826) on the [`neigh`](crate::neigh) table.
//!
//! - `arp_input` (from `pkt_cls`): a request for one of the receiving
//!   port's addresses is turned into the reply in place and sent back out
//!   of that port; what a request or reply tells about its sender updates
//!   the table (a new entry only when the packet was for us); packets the
//!   sender's entry held are released to `ip4_rewrite`.
//! - `ip4_arp` (from `ip4_rewrite`, for a next hop being resolved): the
//!   packet waits in its neighbour's hold queue; the first one sends a
//!   broadcast request.
//! - `neigh_tick` (a source node, in every graph): the table's timers —
//!   requests again, probes of entries past their reachable time, and
//!   host unreachable for packets of neighbours that never answered. One
//!   atomic load per walk while nothing is due.
//!
//! Requests the router makes are built in the table's pool
//! ([`Neighbours::set_pool`](crate::neigh::Neighbours::set_pool)) and
//! leave through `port_tx` (the packet's `meta.arc_index` is its port).

use graph_core::{names, node, Ctx, InitError, NodeFlags, NodeInfo, Objs};

use crate::icmp4::{mark, IcmpKind};
use crate::neigh::{key4, v4_of, Held, Request, L3};
use crate::pkt::Pkt;
use crate::wire::view::arp_op;
use crate::wire::{ethertype, ArpPacket, EthernetFrame, Ipv4Packet, ETH_HLEN};

names! {
    /// Edges of `arp_input`.
    pub enum ArpInputNext { Drop = "pkt_drop", PortTx = "port_tx", Rewrite = "ip4_rewrite" }
}

names! {
    /// Drop reasons of `arp_input`.
    pub enum ArpInputDrop {
        /// Not Ethernet/IPv4 ARP, a runt, an operation other than request
        /// and reply, or a sender address that is not a station's.
        BadArp = "bad_arp",
        /// A request for an address that is not the receiving port's.
        NotForUs = "not_for_us",
        /// A reply or announcement, consumed after the table learned from it.
        Consumed = "consumed",
        /// The sender claims one of our addresses.
        AddrConflict = "addr_conflict",
    }
}

names! {
    /// Plain counters of `arp_input`.
    pub enum ArpInputSeen {
        /// Requests answered.
        Replies = "replies",
        /// Held packets released by a resolution.
        Released = "released",
    }
}

/// Context of the ARP and neighbour-discovery nodes.
pub struct ArpCtx {
    pub(crate) l3: L3,
    pub(crate) out: Vec<Pkt>,
}

pub(crate) fn init(info: &NodeInfo<'_>) -> Result<ArpCtx, InitError> {
    Ok(ArpCtx { l3: L3::from_env(info)?, out: Vec::new() })
}

/// What to do with one ARP packet.
fn arp_one(l3: &L3, m: &mut Pkt, released: &mut Vec<Pkt>) -> Result<(), ArpInputDrop> {
    let port = m.port();
    let (op, smac, sip, tip) = {
        let eth = EthernetFrame::new_checked(m.data()).map_err(|_| ArpInputDrop::BadArp)?;
        let a = ArpPacket::new_checked(eth.payload()).map_err(|_| ArpInputDrop::BadArp)?;
        (a.operation(), a.sender_mac(), a.sender_ip(), a.target_ip())
    };
    // A sender hardware address must be a station's (unicast, not zero).
    if smac[0] & 1 != 0 || smac == [0; 6] {
        return Err(ArpInputDrop::BadArp);
    }
    if l3.ifaces.is_local(sip) {
        return Err(ArpInputDrop::AddrConflict);
    }
    let for_us = l3.ifaces.is_addr_of(port, tip);
    if sip != 0 {
        l3.learn(port, key4(sip), smac, for_us, released);
    }
    if op != arp_op::REQUEST {
        return Err(ArpInputDrop::Consumed);
    }
    if !for_us {
        return Err(ArpInputDrop::NotForUs);
    }
    let mac = l3.ifaces.get(port).map(|i| i.mac).ok_or(ArpInputDrop::NotForUs)?;
    // The reply in place: to the asker, from us.
    let d = m.data_mut();
    let mut eth = EthernetFrame::new_checked(&mut d[..]).map_err(|_| ArpInputDrop::BadArp)?;
    eth.set_dst_addr(smac);
    eth.set_src_addr(mac);
    let mut a = ArpPacket::new_for_fill(eth.payload_mut()).map_err(|_| ArpInputDrop::BadArp)?;
    a.fill(arp_op::REPLY, (mac, tip), (smac, sip));
    m.meta_mut().arc_index = port as u8;
    Ok(())
}

/// The body of `arp_input` and `ndp_input`: `one` answers a packet in
/// place (`Ok`: to `port_tx`) or names the drop reason (its index); the
/// packets a resolution released go to the rewrite node. Both nodes'
/// edges are `[pkt_drop, port_tx, <rewrite>]`, their reasons have
/// `not_for_us` at `not_for_us`, and their plain counters are `[answers,
/// released]`.
pub(crate) fn answer_burst(
    ctx: &mut Ctx<'_, Pkt>,
    c: &mut ArpCtx,
    objs: Objs<'_, Pkt>,
    one: fn(&L3, &mut Pkt, &mut Vec<Pkt>) -> Result<(), usize>,
    not_for_us: usize,
    drops: &mut [u64],
) -> usize {
    const DROP: u16 = 0;
    const PORT_TX: u16 = 1;
    const REWRITE: u16 = 2;
    let n = objs.len();
    let mut answers = 0;
    for mut m in objs {
        match one(&c.l3, &mut m, &mut c.out) {
            // Port ids above 255 have no arc index: port_tx cannot send there.
            Ok(()) if m.port() < 256 => {
                answers += 1;
                ctx.enqueue_x1(PORT_TX, m);
            }
            r => {
                drops[r.err().unwrap_or(not_for_us)] += 1;
                ctx.enqueue_x1(DROP, m);
            }
        }
    }
    let released = c.out.len() as u64;
    for p in c.out.drain(..) {
        ctx.enqueue_x1(REWRITE, p);
    }
    ctx.count_all(drops);
    for (i, v) in [answers, released].into_iter().enumerate() {
        if v > 0 {
            ctx.observe(i, v);
        }
    }
    n
}

fn arp_input(ctx: &mut Ctx<'_, Pkt>, c: &mut ArpCtx, objs: Objs<'_, Pkt>) -> usize {
    let mut drops = [0u64; ArpInputDrop::COUNT];
    let one = |l3: &L3, m: &mut Pkt, out: &mut Vec<Pkt>| arp_one(l3, m, out).map_err(|r| r.idx());
    answer_burst(ctx, c, objs, one, ArpInputDrop::NotForUs.idx(), &mut drops)
}

const _: () =
    assert!(ArpInputNext::Drop.edge() == 0 && ArpInputNext::PortTx.edge() == 1 && ArpInputNext::Rewrite.edge() == 2);

node! {
    /// ARP input (`arp_input`): answers requests for our addresses, learns
    /// neighbours.
    pub static ARP_INPUT = {
        name: "arp_input",
        context: ArpCtx,
        object: Pkt,
        init: init,
        process: arp_input,
        counters: ArpInputDrop::NAMES,
        observations: ArpInputSeen::NAMES,
        trace: |p: &Pkt| {
            let d = p.data();
            match d.get(ETH_HLEN..).and_then(|a| ArpPacket::new_checked(a).ok()) {
                Some(a) => format!(
                    "arp op {} {} asks for {}",
                    a.operation(),
                    std::net::Ipv4Addr::from(a.sender_ip()),
                    std::net::Ipv4Addr::from(a.target_ip())
                ),
                None => "not arp".into(),
            }
        },
        next: ArpInputNext::NAMES,
    };
}

/// Builds request `r` in the table's pool, ready for `port_tx`: an ARP
/// request, or for an IPv6 neighbour a neighbour solicitation (RFC 4861
/// §7.2.2: to the solicited-node group, or unicast for a probe; hop limit
/// 255; our link-layer address as an option).
pub fn build_request(l3: &L3, r: &Request) -> Option<Pkt> {
    use crate::wire::view::{icmp6, NdMessage};
    use crate::wire::{multicast_mac6, solicited_node, Ipv6Packet, IPV6_HLEN};
    let pool = l3.neigh.pool()?;
    let mac = l3.ifaces.get(r.port)?.mac;
    if r.port >= 256 {
        return None;
    }
    let mut f = [0u8; ETH_HLEN + IPV6_HLEN + 32];
    let len = match (v4_of(r.target), v4_of(r.src_ip)) {
        (Some(target), Some(src)) => {
            let mut eth = EthernetFrame::new_checked(&mut f[..]).ok()?;
            eth.set_dst_addr(r.unicast.unwrap_or([0xff; 6]));
            eth.set_src_addr(mac);
            eth.set_ethertype(ethertype::ARP);
            let mut a = ArpPacket::new_for_fill(eth.payload_mut()).ok()?;
            a.fill(arp_op::REQUEST, (mac, src), (r.unicast.unwrap_or([0; 6]), target));
            60
        }
        (None, None) => {
            let dst = if r.unicast.is_some() { r.target } else { solicited_node(r.target) };
            let mut eth = EthernetFrame::new_checked(&mut f[..]).ok()?;
            eth.set_dst_addr(r.unicast.unwrap_or(multicast_mac6(dst)));
            eth.set_src_addr(mac);
            eth.set_ethertype(ethertype::IPV6);
            let mut ip = Ipv6Packet::new_for_fill(eth.payload_mut()).ok()?;
            ip.set_version_class_flow(0, 0);
            ip.set_payload_len(32);
            ip.set_next_header(58);
            ip.set_hop_limit(255);
            ip.set_src_addr(r.src_ip);
            ip.set_dst_addr(dst);
            let ns = NdMessage { kind: icmp6::NS, flags: 0, target: r.target, lladdr: Some(mac) };
            ns.write(&mut f[ETH_HLEN + IPV6_HLEN..], r.src_ip, dst);
            ETH_HLEN + IPV6_HLEN + 32
        }
        _ => return None,
    };
    let mut p = pool.alloc().ok()?;
    if !p.set_data(&f[..len]) {
        crate::mempool::free(p);
        return None;
    }
    p.set_port(r.port);
    p.meta_mut().arc_index = r.port as u8;
    Some(p)
}

names! {
    /// Edges of `ip4_arp`.
    pub enum Ip4ArpNext { Drop = "pkt_drop", Rewrite = "ip4_rewrite", PortTx = "port_tx" }
}

names! {
    /// Drop reasons of `ip4_arp` and `ip6_nd`.
    pub enum HoldDrop {
        /// Pushed out of a full hold queue by a newer packet.
        HoldFull = "hold_full",
        /// The neighbour table is full.
        TableFull = "table_full",
        /// The destination is not a host of the port's subnets (its
        /// network or broadcast address, or outside them).
        NotAHost = "not_a_host",
        /// The next hop is no longer being resolved (removed).
        NoNextHop = "no_next_hop",
    }
}

names! {
    /// Plain counters of `ip4_arp` and `ip6_nd`.
    pub enum HoldSeen {
        /// Packets held.
        Held = "held",
        /// Requests sent.
        Requests = "requests",
        /// Requests not sent: no buffer, or no pool set.
        RequestsFailed = "requests_failed",
    }
}

/// The body of `ip4_arp` and `ip6_nd`: each packet waits for its next
/// hop's neighbour (the gateway, or for a glean next hop `dst_of` the
/// packet's destination, as a neighbour-table key). Both nodes' edges are
/// `[pkt_drop, <rewrite>, port_tx]`; their counters are [`HoldDrop`] and
/// [`HoldSeen`].
pub(crate) fn hold_burst(
    ctx: &mut Ctx<'_, Pkt>,
    c: &mut ArpCtx,
    objs: Objs<'_, Pkt>,
    dst_of: fn(&Pkt) -> Option<u128>,
) -> usize {
    use crate::ip4_rewrite::HopState;
    const DROP: u16 = 0;
    const REWRITE: u16 = 1;
    const PORT_TX: u16 = 2;
    let n = objs.len();
    let mut drops = [0u64; HoldDrop::COUNT];
    let mut seen = [0u64; HoldSeen::COUNT];
    for m in objs {
        let (port, via) = match c.l3.hops.state(m.meta().nh) {
            Some(HopState::Pending { port, via }) => (port, via),
            // Resolved since the rewrite looked: try again.
            Some(HopState::Resolved(_)) => {
                ctx.enqueue_x1(REWRITE, m);
                continue;
            }
            None => {
                drops[HoldDrop::NoNextHop.idx()] += 1;
                ctx.enqueue_x1(DROP, m);
                continue;
            }
        };
        let key = via.or_else(|| dst_of(&m)).unwrap_or(0);
        match c.l3.hold(m, port, key) {
            Held::Resolved(p) => ctx.enqueue_x1(REWRITE, p),
            Held::Queued(req, evicted) => {
                seen[HoldSeen::Held.idx()] += 1;
                if let Some(old) = evicted {
                    drops[HoldDrop::HoldFull.idx()] += 1;
                    ctx.enqueue_x1(DROP, old);
                }
                if let Some(r) = req {
                    match build_request(&c.l3, &r) {
                        Some(p) => {
                            seen[HoldSeen::Requests.idx()] += 1;
                            ctx.enqueue_x1(PORT_TX, p);
                        }
                        None => seen[HoldSeen::RequestsFailed.idx()] += 1,
                    }
                }
            }
            Held::TableFull(p) => {
                drops[HoldDrop::TableFull.idx()] += 1;
                ctx.enqueue_x1(DROP, p);
            }
            Held::NotAHost(p) => {
                drops[HoldDrop::NotAHost.idx()] += 1;
                ctx.enqueue_x1(DROP, p);
            }
        }
    }
    ctx.count_all(&drops);
    for (i, &s) in seen.iter().enumerate() {
        if s > 0 {
            ctx.observe(i, s);
        }
    }
    n
}

fn ip4_arp(ctx: &mut Ctx<'_, Pkt>, c: &mut ArpCtx, objs: Objs<'_, Pkt>) -> usize {
    hold_burst(ctx, c, objs, |m| {
        let e = EthernetFrame::new_checked(m.data()).ok()?;
        Ipv4Packet::new_minimal(e.payload()).ok().map(|ip| key4(ip.dst_addr()))
    })
}

const _: () =
    assert!(Ip4ArpNext::Drop.edge() == 0 && Ip4ArpNext::Rewrite.edge() == 1 && Ip4ArpNext::PortTx.edge() == 2);

node! {
    /// Packets whose next hop is being resolved (`ip4_arp`).
    pub static IP4_ARP = {
        name: "ip4_arp",
        context: ArpCtx,
        object: Pkt,
        init: init,
        process: ip4_arp,
        counters: HoldDrop::NAMES,
        observations: HoldSeen::NAMES,
        trace: crate::pkt::summary,
        next: Ip4ArpNext::NAMES,
    };
}

names! {
    /// Edges of `neigh_tick`.
    pub enum NeighTickNext { PortTx = "port_tx", IcmpError = "icmp4_error", Icmp6Error = "icmp6_error" }
}

names! {
    /// Plain counters of `neigh_tick`.
    pub enum NeighTickSeen {
        /// Requests and probes sent.
        Requests = "requests",
        /// Requests not sent: no buffer, or no pool set.
        RequestsFailed = "requests_failed",
        /// Neighbours given up on.
        Expired = "expired",
        /// Held packets sent back as host unreachable.
        Unreachable = "unreachable",
    }
}

/// Context of `neigh_tick`.
pub struct NeighTickCtx {
    l3: L3,
    /// Walks until the clock is read again.
    skip: u32,
}

fn tick_init(info: &NodeInfo<'_>) -> Result<NeighTickCtx, InitError> {
    Ok(NeighTickCtx { l3: L3::from_env(info)?, skip: 0 })
}

/// Walks between two looks at the clock (a look is one `Instant::now`).
const TICK_EVERY: u32 = 64;

fn neigh_tick(ctx: &mut Ctx<'_, Pkt>, c: &mut NeighTickCtx, _objs: Objs<'_, Pkt>) -> usize {
    if c.skip > 0 {
        c.skip -= 1;
        return 0;
    }
    c.skip = TICK_EVERY;
    let Some(due) = c.l3.tick(std::time::Instant::now()) else { return 0 };
    let mut seen = [0u64; NeighTickSeen::COUNT];
    let mut made = 0;
    for r in &due.requests {
        match build_request(&c.l3, r) {
            Some(p) => {
                seen[NeighTickSeen::Requests.idx()] += 1;
                made += 1;
                ctx.enqueue_x1(NeighTickNext::PortTx.edge(), p);
            }
            None => seen[NeighTickSeen::RequestsFailed.idx()] += 1,
        }
    }
    seen[NeighTickSeen::Expired.idx()] = due.expired;
    for mut p in due.failed {
        mark(&mut p, IcmpKind::HostUnreachable);
        seen[NeighTickSeen::Unreachable.idx()] += 1;
        made += 1;
        let v6 = p.data().get(12..14) == Some(&ethertype::IPV6.to_be_bytes()[..]);
        let edge = if v6 { NeighTickNext::Icmp6Error } else { NeighTickNext::IcmpError };
        ctx.enqueue_x1(edge.edge(), p);
    }
    for (i, &s) in seen.iter().enumerate() {
        if s > 0 {
            ctx.observe(i, s);
        }
    }
    made
}

node! {
    /// The neighbour table's timers (`neigh_tick`), a source node.
    pub static NEIGH_TICK = {
        name: "neigh_tick",
        flags: NodeFlags::SOURCE,
        context: NeighTickCtx,
        object: Pkt,
        init: tick_init,
        process: neigh_tick,
        observations: NeighTickSeen::NAMES,
        next: NeighTickNext::NAMES,
    };
}
