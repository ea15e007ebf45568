//! `ip4_rewrite`: writes the next hop's Ethernet header, decrements the TTL,
//! updates the checksum incrementally and sends the packet to its port's
//! `ethdev_tx-<port>`.
//!
//! Uses: `meta.nh` (set by ip4_lookup), the IPv4 TTL, checksum and total
//! length. Sets: destination and source MAC, TTL, header checksum.
//! Next: `pkt_drop` (edge 0) and one `ethdev_tx-<port>` edge per port, added
//! by [`eth_config`](crate::eth_config::eth_config). Drops are counted by
//! reason ([`Ip4RewriteDrop`]).

use arc_swap::ArcSwap;
use graph_core::{names, node, Ctx, InitError, NodeInfo, Objs};

use crate::pkt::{self, PktSlice};
use crate::port::{self, PortError, PortId};
use crate::wire::{be16, ETH_HLEN};

names! {
    /// Fixed edges of `ip4_rewrite` (the `ethdev_tx-<port>` edges follow).
    pub enum Ip4RewriteNext { Drop = "pkt_drop" }
}

names! {
    /// Drop reasons of `ip4_rewrite`.
    pub enum Ip4RewriteDrop {
        /// The next hop has no rewrite entry.
        NoNextHop = "no_next_hop",
        /// The entry's port has no tx node in this graph.
        NoTxNode = "no_tx_node",
        /// IPv4 total length above the out port's MTU (no fragmentation).
        MtuExceeded = "mtu_exceeded",
        /// Not a packet ip4_lookup passed: shorter than the headers, or TTL
        /// already at 1 or 0.
        BadHeader = "bad_header",
    }
}

/// Largest port id a next hop may use.
pub const MAX_PORTS: usize = 256;

/// A next hop: where and how a packet leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop {
    /// Neighbour MAC (destination).
    pub dst_mac: [u8; 6],
    /// Out port MAC (source).
    pub src_mac: [u8; 6],
    /// Out port.
    pub port: PortId,
    /// Out port MTU.
    pub mtu: u16,
}

fn table() -> &'static ArcSwap<Vec<Option<NextHop>>> {
    static NH: std::sync::OnceLock<ArcSwap<Vec<Option<NextHop>>>> = std::sync::OnceLock::new();
    NH.get_or_init(|| ArcSwap::from_pointee(Vec::new()))
}

/// Sets next hop `nh` (`rte_node_ip4_rewrite_add`). Running graphs see the
/// old or the new table as a whole, from their next burst on.
pub fn rewrite_add(nh: u16, hop: NextHop) -> Result<(), PortError> {
    if hop.port as usize >= MAX_PORTS {
        return Err(PortError::NoSuchPort(hop.port));
    }
    table().rcu(|t| {
        let mut t = Vec::clone(t);
        if t.len() <= nh as usize {
            t.resize(nh as usize + 1, None);
        }
        t[nh as usize] = Some(hop);
        t
    });
    Ok(())
}

/// Sets next hop `nh` to leave on open port `port` towards `dst_mac`, with
/// the port's MAC and MTU.
pub fn rewrite_add_port(nh: u16, dst_mac: [u8; 6], port: PortId) -> Result<(), PortError> {
    let p = port::get(port)?;
    rewrite_add(
        nh,
        NextHop {
            dst_mac,
            src_mac: p.mac(),
            port,
            mtu: p.mtu(),
        },
    )
}

/// Removes next hop `nh`.
pub fn rewrite_delete(nh: u16) {
    table().rcu(|t| {
        let mut t = Vec::clone(t);
        if let Some(e) = t.get_mut(nh as usize) {
            *e = None;
        }
        t
    });
}

/// Next hop `nh`, if set.
pub fn next_hop(nh: u16) -> Option<NextHop> {
    table().load().get(nh as usize).copied().flatten()
}

/// Per-instance context: port → edge of this graph's `ethdev_tx-<port>`.
pub struct Ip4RewriteCtx {
    port_edge: Box<[u16; MAX_PORTS]>,
}

const NO_EDGE: u16 = u16::MAX;

fn init(info: &NodeInfo<'_>) -> Result<Ip4RewriteCtx, InitError> {
    let mut port_edge = Box::new([NO_EDGE; MAX_PORTS]);
    for (e, name) in info.next_nodes.iter().enumerate() {
        if let Some(p) = name
            .strip_prefix("ethdev_tx-")
            .and_then(|p| p.parse::<usize>().ok())
        {
            if p < MAX_PORTS {
                port_edge[p] = e as u16;
            }
        }
    }
    Ok(Ip4RewriteCtx { port_edge })
}

/// RFC 1624 eqn. 3: the checksum after one 16-bit word of the header
/// changes from `old` to `new`: `HC' = ~(~HC + ~m + m')`.
#[inline(always)]
pub fn cksum_update(hc: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!hc) + u32::from(!old) + u32::from(new);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

fn ip4_rewrite(ctx: &mut Ctx<'_>, c: &mut Ip4RewriteCtx, objs: Objs<'_>) -> usize {
    let hops = table().load();
    let mut drops = [0u64; Ip4RewriteDrop::COUNT];
    let drop_edge = Ip4RewriteNext::Drop.edge();
    let n = pkt::dispatch(ctx, objs, |objs, nexts| {
        for (i, next) in nexts.iter_mut().enumerate() {
            if let Some(&o) = objs.get(i + 4) {
                pkt::prefetch(o);
            }
            let m = objs.mbuf(i);
            let Some(Some(hop)) = hops.get(m.meta().nh as usize) else {
                drops[Ip4RewriteDrop::NoNextHop.idx()] += 1;
                *next = drop_edge;
                continue;
            };
            let edge = c.port_edge[hop.port as usize];
            if edge == NO_EDGE {
                drops[Ip4RewriteDrop::NoTxNode.idx()] += 1;
                *next = drop_edge;
                continue;
            }
            let d = m.data_mut();
            let Some(h) = d.get_mut(ETH_HLEN..ETH_HLEN + 20).filter(|h| h[8] > 1) else {
                drops[Ip4RewriteDrop::BadHeader.idx()] += 1;
                *next = drop_edge;
                continue;
            };
            if be16(h, 2) > hop.mtu {
                drops[Ip4RewriteDrop::MtuExceeded.idx()] += 1;
                *next = drop_edge;
                continue;
            }
            // The header line is being written anyway: read TTL and
            // checksum from it rather than trusting metadata.
            let (ttl, proto) = (h[8], h[9]);
            let hc = be16(h, 10);
            h[8] = ttl - 1;
            let old = u16::from_be_bytes([ttl, proto]);
            let new = u16::from_be_bytes([ttl - 1, proto]);
            h[10..12].copy_from_slice(&cksum_update(hc, old, new).to_be_bytes());
            d[0..6].copy_from_slice(&hop.dst_mac);
            d[6..12].copy_from_slice(&hop.src_mac);
            *next = edge;
        }
    });
    for (r, &v) in drops.iter().enumerate() {
        if v > 0 {
            ctx.count(r, v);
        }
    }
    n
}

node! {
    /// Ethernet rewrite, TTL and checksum (`ip4_rewrite`).
    pub static IP4_REWRITE = {
        name: "ip4_rewrite",
        context: Ip4RewriteCtx,
        init: init,
        process: ip4_rewrite,
        counters: Ip4RewriteDrop::NAMES,
        next: Ip4RewriteNext::NAMES,
    };
}
