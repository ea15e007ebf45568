//! `ip4_rewrite`: writes the next hop's Ethernet header, decrements the TTL,
//! updates the checksum incrementally and sends the packet to its port's
//! `ethdev_tx-<port>`.
//!
//! Uses: `meta` set by ip4_lookup (next hop; TTL, checksum and total
//! length as checked there). Sets: destination and source MAC, TTL, header checksum.
//! Next: `pkt_drop` (edge 0), `ip4_arp` (the next hop's neighbour is
//! being resolved), `icmp4_error` (too big with DF set: fragmentation
//! needed) and one `ethdev_tx-<port>` edge per port, added
//! by [`eth_config`](crate::eth_config::eth_config); the table is the
//! graph's [`NextHops`]. Drops are counted by
//! reason ([`Ip4RewriteDrop`]). The start of the `ip4_output` feature arc:
//! a packet leaving a port with a feature on goes to the first one (and
//! `meta.arc_index` is its tx port).

use graph_core::{names, node, ArcHook, ArcState, Ctx, InitError, NodeInfo, Objs};

use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Release};
use std::sync::{Arc, Mutex};

use crate::neigh::Interfaces;

use crate::mbuf::NodeMeta;
use crate::pkt::{self, Pkt};
use crate::port::{Port, PortError, PortId};
use crate::wire::{ipv4 as ip4f, EthernetFrame, Ipv4Packet, ETH_HLEN, IPV4_HLEN};

names! {
    /// Fixed edges of `ip4_rewrite` (the `ethdev_tx-<port>` edges follow).
    pub enum Ip4RewriteNext { Drop = "pkt_drop", Arp = "ip4_arp", IcmpError = "icmp4_error" }
}

names! {
    /// Drop reasons of `ip4_rewrite`.
    pub enum Ip4RewriteDrop {
        /// The next hop has no rewrite entry.
        NoNextHop = "no_next_hop",
        /// The entry's port has no tx node in this graph.
        NoTxNode = "no_tx_node",
        /// IPv4 total length above the out port's MTU, and no
        /// fragmentation-needed error sent (DF clear: this router does not
        /// fragment; or no interface address to send one from).
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

/// What a next hop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopState {
    /// Resolved: packets leave as it says.
    Resolved(NextHop),
    /// Waiting for its neighbour's link address: packets go to `ip4_arp`,
    /// which resolves `via` on `port` (or, `None`, each packet's own
    /// destination: the hosts of a connected subnet).
    Pending {
        /// Out port.
        port: PortId,
        /// The neighbour's address (a neighbour-table key: IPv4 as
        /// `::ffff:a.b.c.d`).
        via: Option<u128>,
    },
}

/// Changes kept for graphs that catch up one entry at a time; a graph
/// further behind recompiles the whole table.
const LOG_LEN: usize = 4096;

#[derive(Default)]
struct HopsState {
    hops: Vec<Option<HopState>>,
    /// (generation, next hop) of recent changes, oldest first.
    log: std::collections::VecDeque<(u64, u16)>,
    gen: u64,
}

#[derive(Default)]
struct HopsInner {
    /// The generation of the last change: a graph compares it with the
    /// one it compiled (one load per burst) and catches up when it differs.
    gen: AtomicU64,
    state: Mutex<HopsState>,
}

/// The next-hop table (`rte_node_ip4_rewrite_add`'s table): next-hop id
/// → how a packet leaves. Cloning shares the table; give each graph the
/// table it rewrites with through its environment. A running graph sees a
/// change from its next burst on; a change costs the graphs the entries
/// that changed, not the table (neighbours resolve one at a time).
#[derive(Clone, Default)]
pub struct NextHops(Arc<HopsInner>);

impl std::fmt::Debug for NextHops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NextHops").field("set", &self.lock().hops.iter().flatten().count()).finish()
    }
}

impl NextHops {
    /// An empty table.
    pub fn new() -> NextHops {
        NextHops::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HopsState> {
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, nh: u16, hop: Option<HopState>) {
        let mut st = self.lock();
        if st.hops.len() <= nh as usize {
            if hop.is_none() {
                return;
            }
            st.hops.resize(nh as usize + 1, None);
        }
        st.hops[nh as usize] = hop;
        st.gen += 1;
        let g = st.gen;
        if st.log.len() == LOG_LEN {
            st.log.pop_front();
        }
        st.log.push_back((g, nh));
        self.0.gen.store(g, Release);
    }

    /// Sets next hop `nh`.
    pub fn add(&self, nh: u16, hop: NextHop) -> Result<(), PortError> {
        if hop.port as usize >= MAX_PORTS {
            return Err(PortError::NoSuchPort(hop.port));
        }
        self.set(nh, Some(HopState::Resolved(hop)));
        Ok(())
    }

    /// Sets next hop `nh` to leave on `port` towards `dst_mac`, with the
    /// port's MAC and MTU.
    pub fn add_port(&self, nh: u16, dst_mac: [u8; 6], port: &Port) -> Result<(), PortError> {
        self.add(nh, NextHop { dst_mac, src_mac: port.mac(), port: port.id(), mtu: port.mtu() })
    }

    /// Sets next hop `nh` to wait for its neighbour on `port` (see
    /// [`HopState::Pending`]).
    pub fn add_pending(&self, nh: u16, port: PortId, via: Option<u128>) -> Result<(), PortError> {
        if port as usize >= MAX_PORTS {
            return Err(PortError::NoSuchPort(port));
        }
        self.set(nh, Some(HopState::Pending { port, via }));
        Ok(())
    }

    /// Removes next hop `nh`; whether it was set.
    pub fn delete(&self, nh: u16) -> bool {
        let had = self.state(nh).is_some();
        if had {
            self.set(nh, None);
        }
        had
    }

    /// Next hop `nh`, if set and resolved.
    pub fn get(&self, nh: u16) -> Option<NextHop> {
        match self.state(nh)? {
            HopState::Resolved(h) => Some(h),
            HopState::Pending { .. } => None,
        }
    }

    /// Next hop `nh`, if set.
    pub fn state(&self, nh: u16) -> Option<HopState> {
        self.lock().hops.get(nh as usize).copied().flatten()
    }
}

/// A next hop as one graph uses it: 16 bytes, the tx edge resolved.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
pub(crate) struct Local {
    pub(crate) macs: [u8; 12],
    pub(crate) mtu: u16,
    /// Edge to the port's `ethdev_tx`, or `NO_EDGE`/`NO_HOP`/`PENDING`.
    pub(crate) edge: u16,
}

/// The next-hop table compiled for one node of one graph: port → edge of
/// this graph's `ethdev_tx-<port>`, each next hop with its edge (brought up
/// to date when the shared table changes). `ip4_rewrite` and `ip6_rewrite`
/// each keep one.
pub(crate) struct Compiled {
    table: NextHops,
    port_edge: Box<[u16; MAX_PORTS]>,
    /// The table's generation compiled into `local`.
    seen: u64,
    /// Indexed by next-hop id: every u16 is in range, no bounds check.
    pub(crate) local: Box<[Local; 1 << 16]>,
    /// Edge → the port of the `ethdev_tx` behind it (for the arc).
    pub(crate) edge_port: Vec<u16>,
}

impl Compiled {
    pub(crate) fn new(info: &NodeInfo<'_>) -> Result<Compiled, InitError> {
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
        let mut c = Compiled { table: info.env::<NextHops>()?.clone(), port_edge, seen: u64::MAX, local, edge_port };
        c.sync();
        Ok(c)
    }

    /// Brings the table up to date if the shared one changed (one load).
    #[inline(always)]
    pub(crate) fn refresh(&mut self) {
        if self.table.0.gen.load(Acquire) != self.seen {
            self.sync();
        }
    }

    fn compile_one(&self, h: Option<HopState>) -> Local {
        match h {
            Some(HopState::Resolved(hop)) => {
                // The 12 bytes written over the Ethernet addresses.
                let mut macs = [0u8; 12];
                macs[..6].copy_from_slice(&hop.dst_mac);
                macs[6..].copy_from_slice(&hop.src_mac);
                Local { macs, mtu: hop.mtu, edge: self.port_edge[hop.port as usize] }
            }
            Some(HopState::Pending { .. }) => Local { macs: [0; 12], mtu: 0, edge: PENDING },
            None => UNSET,
        }
    }

    /// Brings `local` up to the shared table: the entries changed since
    /// the generation compiled, or all of them if the log lost some.
    #[cold]
    fn sync(&mut self) {
        let table = self.table.clone();
        let st = table.lock();
        // The log holds every change since `seen` unless it lost some (or
        // nothing was compiled yet: `u64::MAX`).
        let logged =
            st.gen == self.seen || (self.seen != u64::MAX && st.log.front().is_some_and(|&(g, _)| g <= self.seen + 1));
        if logged {
            for &(_, nh) in st.log.iter().filter(|(g, _)| *g > self.seen) {
                self.local[nh as usize] = self.compile_one(st.hops.get(nh as usize).copied().flatten());
            }
        } else {
            for i in 0..self.local.len() {
                self.local[i] = self.compile_one(st.hops.get(i).copied().flatten());
            }
        }
        self.seen = st.gen;
    }
}

/// Per-instance context: the compiled next hops, the `ip4_output` arc, the
/// interfaces (for fragmentation-needed errors).
pub struct Ip4RewriteCtx {
    hops: Compiled,
    arc: ArcHook,
    ifaces: Interfaces,
}

pub(crate) const NO_EDGE: u16 = u16::MAX;
pub(crate) const NO_HOP: u16 = u16::MAX - 1;
/// Pending: the neighbour is being resolved (`ip4_arp`, `ip6_nd`).
pub(crate) const PENDING: u16 = u16::MAX - 2;
const UNSET: Local = Local { macs: [0; 12], mtu: 0, edge: NO_HOP };

fn init(info: &NodeInfo<'_>) -> Result<Ip4RewriteCtx, InitError> {
    Ok(Ip4RewriteCtx {
        hops: Compiled::new(info)?,
        arc: ArcHook::start(info, "ip4_output")?,
        ifaces: info.env.get::<Interfaces>().cloned().unwrap_or_default(),
    })
}

pub use crate::wire::{cksum_ttl_dec_le, cksum_update};

/// Why a packet does not leave as its next hop says.
enum Miss {
    Drop(Ip4RewriteDrop),
    /// The neighbour is being resolved.
    Pending,
    /// Longer than the out port's MTU (the MTU).
    TooBig(u16),
}

/// Rewrites one packet for its next hop; its tx edge, or why it does not
/// leave yet.
#[inline(always)]
fn rewrite(m: &mut Pkt, hops: &[Local; 1 << 16]) -> Result<u16, Miss> {
    // TTL, checksum and length come from ip4_lookup's metadata (as DPDK's
    // node_mbuf_priv1), so the packet's data is only written, never read:
    // on real ports that line is often out of L1 by now, and a store does
    // not wait for it. A packet that did not pass ip4_lookup has no valid
    // metadata and must not get here; if one does, the checks below keep
    // it from leaving malformed (the TTL check) or out of bounds (the
    // length check).
    let meta = *m.meta();
    let hop = &hops[meta.nh as usize];
    // One test for the three ways out (`|`: no branch between them).
    if (hop.edge >= PENDING) | (meta.ttl <= 1) | (meta.total_len > hop.mtu) {
        return Err(miss(hop, meta));
    }
    let h = m.data_mut().first_chunk_mut::<{ ETH_HLEN + IPV4_HLEN }>().ok_or(Miss::Drop(Ip4RewriteDrop::BadHeader))?;
    let ip = ETH_HLEN;
    h[..12].copy_from_slice(&hop.macs);
    h[ip + ip4f::TTL] = meta.ttl - 1;
    h[ip + ip4f::CSUM..ip + ip4f::CSUM + 2].copy_from_slice(&cksum_ttl_dec_le(meta.cksum_le).to_le_bytes());
    Ok(hop.edge)
}

/// Which of [`rewrite`]'s ways out a packet takes, in order: no usable
/// next hop, a TTL that ip4_lookup let through only for local delivery,
/// too long for the port.
#[cold]
#[inline(never)]
fn miss(hop: &Local, meta: NodeMeta) -> Miss {
    match hop.edge {
        NO_HOP => Miss::Drop(Ip4RewriteDrop::NoNextHop),
        NO_EDGE => Miss::Drop(Ip4RewriteDrop::NoTxNode),
        PENDING.. => Miss::Pending,
        _ if meta.ttl <= 1 => Miss::Drop(Ip4RewriteDrop::BadHeader),
        _ => Miss::TooBig(hop.mtu),
    }
}

/// Where a packet that did not leave goes: `ip4_arp` while its neighbour
/// is resolved; `icmp4_error` (fragmentation needed, RFC 1191) when it is
/// too big with DF set and the router has an address to send from; else
/// `pkt_drop`, counted.
#[cold]
#[inline(never)]
fn missed(m: &mut Pkt, miss: Miss, ifaces: &Interfaces, drops: &mut [u64; Ip4RewriteDrop::COUNT]) -> u16 {
    let r = match miss {
        Miss::Pending => return Ip4RewriteNext::Arp.edge(),
        Miss::TooBig(mtu) => {
            let df = EthernetFrame::new_checked(m.data())
                .ok()
                .and_then(|e| Ipv4Packet::new_minimal(e.payload()).ok().map(|ip| ip.dont_frag()))
                .unwrap_or(false);
            if df && ifaces.icmp_enabled() {
                crate::icmp4::mark(m, crate::icmp4::IcmpKind::FragNeeded(mtu));
                return Ip4RewriteNext::IcmpError.edge();
            }
            Ip4RewriteDrop::MtuExceeded
        }
        Miss::Drop(r) => r,
    };
    drops[r.idx()] += 1;
    Ip4RewriteNext::Drop.edge()
}

fn ip4_rewrite(ctx: &mut Ctx<'_, Pkt>, c: &mut Ip4RewriteCtx, objs: Objs<'_, Pkt>) -> usize {
    c.hops.refresh();
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
    let hops: &[Local; 1 << 16] = &c.hops.local;
    let mut drops = [0u64; Ip4RewriteDrop::COUNT];
    let mut one = |m: &mut Pkt| -> u16 {
        match rewrite(m, hops) {
            Ok(edge) if ARC => {
                let port = c.hops.edge_port[edge as usize];
                match c.arc.first(arc, port) {
                    Some(f) => {
                        m.meta_mut().arc_index = port as u8;
                        f
                    }
                    None => edge,
                }
            }
            Ok(edge) => edge,
            Err(miss) => missed(m, miss, &c.ifaces, &mut drops),
        }
    };
    // Four at a time: header lines (the metadata is in the second) 8
    // packets ahead, the data line (written: the store needs the line too)
    // 4 ahead, as DPDK's node.
    let n = pkt::dispatch(ctx, objs, |objs, nexts| pkt::by_four::<true, true>(objs, nexts, &mut one));
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
