//! The router's feature arcs, and what a packet feature node needs.
//!
//! | arc | start | end | index |
//! |-----|-------|-----|-------|
//! | [`ETH_INPUT`] `eth_input` | `ethdev_rx-*` | `pkt_cls` | rx port |
//! | [`IP4_INPUT`] `ip4_input` | `pkt_cls` (IPv4 packets) | `ip4_lookup` | rx port |
//! | [`IP4_OUTPUT`] `ip4_output` | `ip4_rewrite` | `port_tx` | tx port |
//!
//! A start node that sends a packet into its arc writes the arc's index
//! into the packet ([`arc_index`]), so a feature works on any arc. A
//! feature node is a `node!` on [`Pkt`] plus a
//! [`feature!`](graph_core::feature) naming its arc; its init takes its
//! place with [`ArcHook::feature`], and its process function hands each
//! packet on with [`dispatch`] (or [`pass`] for a burst it does not
//! change). The end of `ip4_output` is [`PORT_TX`], which sends each
//! packet to the `ethdev_tx` of its tx port: the path a packet takes when
//! no feature is on goes straight from `ip4_rewrite` to `ethdev_tx-<port>`.
//!
//! Which features are on comes from the graph's
//! [`FeatureArcs`](graph_core::FeatureArcs) ([`StockEnv`](crate::eth_config::StockEnv)
//! carries one); without it every feature is off.

use graph_core::{feature_arc, names, node, ArcHook, Ctx, InitError, NodeInfo, Objs};

use crate::ip4_rewrite::MAX_PORTS;
use crate::pkt::{self, Pkt};

feature_arc! {
    /// Between receive and classification: every frame of a port.
    pub static ETH_INPUT = { name: "eth_input", start: "ethdev_rx", end: "pkt_cls" };
}
feature_arc! {
    /// After classification, before the route lookup: IPv4 packets.
    pub static IP4_INPUT = { name: "ip4_input", start: "pkt_cls", end: "ip4_lookup" };
}
feature_arc! {
    /// After the rewrite, before transmit: IPv4 packets leaving a port.
    pub static IP4_OUTPUT = { name: "ip4_output", start: "ip4_rewrite", end: "port_tx" };
}

/// The index of the arc a packet is on (its rx port on the input arcs,
/// its tx port on `ip4_output`), as the arc's start node wrote it.
#[inline(always)]
pub fn arc_index(p: &Pkt) -> u16 {
    p.meta().arc_index.into()
}

/// Sends each packet of `objs` on along `hook`'s arc, unless `decide`
/// returns an edge of the node's own (to drop it, say): the usual body of a
/// feature node. Returns the number of packets.
#[inline]
pub fn dispatch(
    ctx: &mut Ctx<'_, Pkt>,
    hook: &ArcHook,
    objs: Objs<'_, Pkt>,
    mut decide: impl FnMut(&mut Pkt) -> Option<u16>,
) -> usize {
    let arc = ctx.arc(hook);
    pkt::dispatch(ctx, objs, |objs, nexts| {
        for (p, next) in objs.iter_mut().zip(nexts.iter_mut()) {
            *next = match decide(p) {
                Some(e) => e,
                None => hook.next(arc, arc_index(p)),
            };
        }
    })
}

/// Sends every packet of `objs` on along `hook`'s arc, unchanged.
#[inline]
pub fn pass(ctx: &mut Ctx<'_, Pkt>, hook: &ArcHook, objs: Objs<'_, Pkt>) -> usize {
    dispatch(ctx, hook, objs, |_| None)
}

names! {
    /// Fixed edges of `port_tx` (the `ethdev_tx-<port>` edges follow).
    pub enum PortTxNext { Drop = "pkt_drop" }
}

names! {
    /// Drop reasons of `port_tx`.
    pub enum PortTxDrop {
        /// The packet's tx port has no `ethdev_tx` in this graph.
        NoTxNode = "no_tx_node",
    }
}

/// Context of `port_tx`: tx port → edge.
pub struct PortTxCtx {
    edge: Box<[u16; MAX_PORTS]>,
}

fn port_tx_init(info: &NodeInfo<'_>) -> Result<PortTxCtx, InitError> {
    let mut edge = Box::new([PortTxNext::Drop.edge(); MAX_PORTS]);
    for (e, name) in info.next_nodes.iter().enumerate() {
        if let Some(p) = name.strip_prefix("ethdev_tx-").and_then(|p| p.parse::<usize>().ok()) {
            if p < MAX_PORTS {
                edge[p] = e as u16;
            }
        }
    }
    Ok(PortTxCtx { edge })
}

fn port_tx(ctx: &mut Ctx<'_, Pkt>, c: &mut PortTxCtx, objs: Objs<'_, Pkt>) -> usize {
    let mut lost = 0;
    let drop = PortTxNext::Drop.edge();
    let n = pkt::dispatch(ctx, objs, |objs, nexts| {
        for (p, next) in objs.iter().zip(nexts.iter_mut()) {
            *next = c.edge[usize::from(p.meta().arc_index)];
            lost += u64::from(*next == drop);
        }
    });
    if lost > 0 {
        ctx.count(PortTxDrop::NoTxNode.idx(), lost);
    }
    n
}

node! {
    /// The end of `ip4_output`: each packet to `ethdev_tx-<its tx port>`
    /// (DPDK's `interface_tx`).
    pub static PORT_TX = {
        name: "port_tx",
        context: PortTxCtx,
        object: Pkt,
        init: port_tx_init,
        process: port_tx,
        counters: PortTxDrop::NAMES,
        trace: |p: &Pkt| format!("tx port {}", p.meta().arc_index),
        next: PortTxNext::NAMES,
    };
}
