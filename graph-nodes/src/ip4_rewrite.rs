//! `ip4_rewrite`: writes the next hop's Ethernet header, decrements the TTL,
//! updates the checksum incrementally and sends the packet to its port's
//! `ethdev_tx-<port>`.
//!
//! Uses: `meta` set by ip4_lookup (next hop; TTL, checksum and total
//! length as checked there). Sets: destination and source MAC, TTL, header checksum.
//! Next: `pkt_drop` (edge 0) and one `ethdev_tx-<port>` edge per port, added
//! by [`eth_config`](crate::eth_config::eth_config); the table is the
//! graph's [`NextHops`]. Drops are counted by
//! reason ([`Ip4RewriteDrop`]). The start of the `ip4_output` feature arc:
//! a packet leaving a port with a feature on goes to the first one (and
//! `meta.arc_index` is its tx port).

use arc_swap::ArcSwap;
use graph_core::{names, node, ArcHook, ArcState, Ctx, InitError, NodeInfo, Objs};

use std::sync::Arc;

use crate::pkt::{self, Pkt};
use crate::port::{Port, PortError, PortId};
use crate::wire::{EthernetFrame, Ipv4Packet, ETH_HLEN, IPV4_HLEN};

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

/// A table entry: the next hop and the 12 bytes written over the
/// Ethernet addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hop {
    macs: [u8; 12],
    port: PortId,
    mtu: u16,
    hop: NextHop,
}

/// The next-hop table (`rte_node_ip4_rewrite_add`'s table): next-hop id
/// → how a packet leaves. Cloning shares the table; give each graph the
/// table it rewrites with through its environment. Running graphs see the
/// old or the new table as a whole, from their next burst on.
#[derive(Clone, Default)]
pub struct NextHops(Arc<ArcSwap<Vec<Option<Hop>>>>);

impl std::fmt::Debug for NextHops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NextHops").field("set", &self.0.load().iter().flatten().count()).finish()
    }
}

impl NextHops {
    /// An empty table.
    pub fn new() -> NextHops {
        NextHops::default()
    }

    /// Sets next hop `nh`.
    pub fn add(&self, nh: u16, hop: NextHop) -> Result<(), PortError> {
        if hop.port as usize >= MAX_PORTS {
            return Err(PortError::NoSuchPort(hop.port));
        }
        self.0.rcu(|t| {
            let mut t = Vec::clone(t);
            if t.len() <= nh as usize {
                t.resize(nh as usize + 1, None);
            }
            let mut macs = [0u8; 12];
            macs[..6].copy_from_slice(&hop.dst_mac);
            macs[6..].copy_from_slice(&hop.src_mac);
            t[nh as usize] = Some(Hop { macs, port: hop.port, mtu: hop.mtu, hop });
            t
        });
        Ok(())
    }

    /// Sets next hop `nh` to leave on `port` towards `dst_mac`, with the
    /// port's MAC and MTU.
    pub fn add_port(&self, nh: u16, dst_mac: [u8; 6], port: &Port) -> Result<(), PortError> {
        self.add(nh, NextHop { dst_mac, src_mac: port.mac(), port: port.id(), mtu: port.mtu() })
    }

    /// Removes next hop `nh`; whether it was set.
    pub fn delete(&self, nh: u16) -> bool {
        let had = self.get(nh).is_some();
        self.0.rcu(|t| {
            let mut t = Vec::clone(t);
            if let Some(e) = t.get_mut(nh as usize) {
                *e = None;
            }
            t
        });
        had
    }

    /// Next hop `nh`, if set.
    pub fn get(&self, nh: u16) -> Option<NextHop> {
        self.0.load().get(nh as usize).copied().flatten().map(|h| h.hop)
    }
}

/// A next hop as one graph uses it: 16 bytes, the tx edge resolved.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
struct Local {
    macs: [u8; 12],
    mtu: u16,
    /// Edge to the port's `ethdev_tx`, or `NO_EDGE`/`NO_HOP`.
    edge: u16,
}

/// Per-instance context: port → edge of this graph's `ethdev_tx-<port>`,
/// and the next-hop table compiled for this graph (rebuilt when the shared
/// table changes).
pub struct Ip4RewriteCtx {
    table: NextHops,
    port_edge: Box<[u16; MAX_PORTS]>,
    source: Option<std::sync::Arc<Vec<Option<Hop>>>>,
    /// Indexed by next-hop id: every u16 is in range, no bounds check.
    local: Box<[Local; 1 << 16]>,
    /// Edge → the port of the `ethdev_tx` behind it (for the arc).
    edge_port: Vec<u16>,
    arc: ArcHook,
}

impl Ip4RewriteCtx {
    #[cold]
    fn compile(&mut self, t: std::sync::Arc<Vec<Option<Hop>>>) {
        for (i, l) in self.local.iter_mut().enumerate() {
            *l = match t.get(i) {
                Some(Some(h)) => Local { macs: h.macs, mtu: h.mtu, edge: self.port_edge[h.port as usize] },
                _ => UNSET,
            };
        }
        self.source = Some(t);
    }
}

const NO_EDGE: u16 = u16::MAX;
const NO_HOP: u16 = u16::MAX - 1;
const UNSET: Local = Local { macs: [0; 12], mtu: 0, edge: NO_HOP };

fn init(info: &NodeInfo<'_>) -> Result<Ip4RewriteCtx, InitError> {
    let mut port_edge = Box::new([NO_EDGE; MAX_PORTS]);
    let mut edge_port = vec![u16::MAX; info.next_nodes.len()];
    for (e, name) in info.next_nodes.iter().enumerate() {
        if let Some(p) = name.strip_prefix("ethdev_tx-").and_then(|p| p.parse::<usize>().ok()) {
            if p < MAX_PORTS {
                port_edge[p] = e as u16;
                edge_port[e] = p as u16;
            }
        }
    }
    let local: Box<[Local; 1 << 16]> = vec![UNSET; 1 << 16].into_boxed_slice().try_into().expect("65536 entries");
    Ok(Ip4RewriteCtx {
        table: info.env::<NextHops>()?.clone(),
        port_edge,
        source: None,
        local,
        edge_port,
        arc: ArcHook::start(info, "ip4_output")?,
    })
}

pub use crate::wire::{cksum_ttl_dec_le, cksum_update};

/// Rewrites one packet for its next hop; its tx edge, or why it is dropped.
#[inline(always)]
fn rewrite(m: &mut Pkt, hops: &[Local; 1 << 16]) -> Result<u16, Ip4RewriteDrop> {
    let hop = &hops[m.meta().nh as usize];
    if hop.edge >= NO_HOP {
        return Err(if hop.edge == NO_HOP { Ip4RewriteDrop::NoNextHop } else { Ip4RewriteDrop::NoTxNode });
    }
    // TTL, checksum and length come from ip4_lookup's metadata (as DPDK's
    // node_mbuf_priv1), so the packet's data is only written, never read:
    // on real ports that line is often out of L1 by now, and a store does
    // not wait for it. A packet that did not pass ip4_lookup has no valid
    // metadata and must not get here; if one does, the checks below keep
    // it from leaving malformed (the TTL check) or out of bounds (the
    // length check).
    let meta = *m.meta();
    if meta.ttl <= 1 {
        return Err(Ip4RewriteDrop::BadHeader);
    }
    if meta.total_len > hop.mtu {
        return Err(Ip4RewriteDrop::MtuExceeded);
    }
    let hdrs = m.data_mut().get_mut(..ETH_HLEN + IPV4_HLEN).ok_or(Ip4RewriteDrop::BadHeader)?;
    let mut eth = EthernetFrame::new_checked(hdrs).map_err(|_| Ip4RewriteDrop::BadHeader)?;
    eth.set_addrs(&hop.macs);
    let mut ip = Ipv4Packet::new_minimal(eth.payload_mut()).map_err(|_| Ip4RewriteDrop::BadHeader)?;
    ip.set_ttl(meta.ttl - 1);
    ip.set_checksum_le(cksum_ttl_dec_le(meta.cksum_le));
    Ok(hop.edge)
}

fn ip4_rewrite(ctx: &mut Ctx<'_, Pkt>, c: &mut Ip4RewriteCtx, objs: Objs<'_, Pkt>) -> usize {
    {
        let t = c.table.0.load();
        if !c.source.as_ref().is_some_and(|s| std::sync::Arc::ptr_eq(s, &t)) {
            c.compile(arc_swap::Guard::into_inner(t));
        }
    }
    let arc = ctx.arc(&c.arc);
    if arc.any() {
        return ip4_rewrite_arc(ctx, c, objs, arc);
    }
    rewrite_burst::<false>(ctx, c, objs, arc)
}

/// `ip4_rewrite` while some `ip4_output` feature is on (kept out of the
/// usual path's code).
#[inline(never)]
fn ip4_rewrite_arc(ctx: &mut Ctx<'_, Pkt>, c: &Ip4RewriteCtx, objs: Objs<'_, Pkt>, arc: ArcState<'_>) -> usize {
    rewrite_burst::<true>(ctx, c, objs, arc)
}

/// Rewrites a burst; with `ARC`, a packet leaving a port with
/// `ip4_output` features goes to the first of them.
#[inline(always)]
fn rewrite_burst<const ARC: bool>(
    ctx: &mut Ctx<'_, Pkt>,
    c: &Ip4RewriteCtx,
    objs: Objs<'_, Pkt>,
    arc: ArcState<'_>,
) -> usize {
    let hops: &[Local; 1 << 16] = &c.local;
    let mut drops = [0u64; Ip4RewriteDrop::COUNT];
    let drop_edge = Ip4RewriteNext::Drop.edge();
    let n = pkt::dispatch(ctx, objs, |objs, nexts| {
        for (i, next) in nexts.iter_mut().enumerate() {
            // Header lines 8 packets ahead, the data line (written: the
            // store needs the line too) 4 ahead, as DPDK's node. (32 ahead
            // measured best on DPDK's page-aligned buffers, whose lines
            // evicted each other; on packed pools this is 1.2 cycles less.)
            if let Some(o) = objs.get(i + 8) {
                pkt::prefetch2(o);
            }
            if let Some(o) = objs.get(i + 4) {
                pkt::prefetch_data(o);
            }
            let m = &mut objs[i];
            *next = match rewrite(m, hops) {
                Ok(edge) if ARC => {
                    let port = c.edge_port[edge as usize];
                    match c.arc.first(arc, port) {
                        Some(f) => {
                            m.meta_mut().arc_index = port as u8;
                            f
                        }
                        None => edge,
                    }
                }
                Ok(edge) => edge,
                Err(r) => {
                    drops[r.idx()] += 1;
                    drop_edge
                }
            };
        }
    });
    ctx.count_all(&drops);
    n
}

node! {
    /// Ethernet rewrite, TTL and checksum (`ip4_rewrite`).
    pub static IP4_REWRITE = {
        name: "ip4_rewrite",
        context: Ip4RewriteCtx,
        object: Pkt,
        init: init,
        process: ip4_rewrite,
        counters: Ip4RewriteDrop::NAMES,
        trace: |p: &Pkt| {
            let d = p.data();
            match (d.get(0..6), d.get(22)) {
                (Some(m), Some(ttl)) => format!(
                    "next hop {} dst mac {} ttl {ttl}",
                    p.meta().nh,
                    crate::wire::mac_to_string(&m.try_into().expect("6 bytes"))
                ),
                _ => format!("next hop {}", p.meta().nh),
            }
        },
        next: Ip4RewriteNext::NAMES,
    };
}
