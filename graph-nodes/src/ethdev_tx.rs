//! `ethdev_tx`: one clone per port, `ethdev_tx-<port>`; sends on the tx
//! queue the control plane gave this graph for that port. What the port
//! does not take goes to `pkt_drop`, counted as `tx_full`.
//!
//! Uses: nothing. Sets: nothing. Next: [`EthdevTxNext`].

use graph_core::{names, node, Ctx, InitError, NodeInfo, Objs};

use crate::eth_config::TxQueues;
use crate::pkt::Pkt;
use crate::port::{Ports, TxQueue};

names! {
    /// Edges of `ethdev_tx`.
    pub enum EthdevTxNext { Drop = "pkt_drop" }
}

names! {
    /// Drop reasons of `ethdev_tx`.
    pub enum EthdevTxDrop {
        /// The port did not take the packet (queue full or link down).
        TxFull = "tx_full",
        /// The tx queue is still held by the graph this one replaces (a
        /// live change; see `eth_config::Handover`).
        TxQueueBusy = "tx_queue_busy",
    }
}

/// Per-clone context: the queue it sends on.
pub struct EthdevTxCtx {
    /// `None` until a graph this one replaces lets go of it.
    queue: Option<TxQueue>,
    from: std::sync::Arc<crate::port::Port>,
    q: u16,
}

impl EthdevTxCtx {
    /// The queue, once held.
    pub fn queue(&mut self) -> Option<&mut TxQueue> {
        self.queue.as_mut()
    }
}

fn init(info: &NodeInfo<'_>) -> Result<EthdevTxCtx, InitError> {
    let p: u16 = info
        .clone_suffix()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{}: expected a clone named ethdev_tx-<port>", info.node_name))?;
    let q = info.env.get::<TxQueues>().map_or(0, |t| t.get(p));
    let from = info.env::<Ports>()?.get(p)?;
    let queue = crate::eth_config::take_or_hand_over(info, from.take_tx_queue(q))?;
    Ok(EthdevTxCtx { queue, from, q })
}

fn ethdev_tx(ctx: &mut Ctx<'_, Pkt>, c: &mut EthdevTxCtx, objs: Objs<'_, Pkt>) -> usize {
    let n = objs.len();
    if c.queue.is_none() {
        c.queue = c.from.take_tx_queue(c.q).ok();
    }
    let Some(queue) = c.queue.as_mut() else {
        ctx.count(EthdevTxDrop::TxQueueBusy.idx(), n as u64);
        ctx.enqueue_objs(EthdevTxNext::Drop.edge(), objs);
        return n;
    };
    let rest = queue.tx_burst(objs);
    if !rest.is_empty() {
        ctx.count(EthdevTxDrop::TxFull.idx(), rest.len() as u64);
        ctx.enqueue_objs(EthdevTxNext::Drop.edge(), rest);
    }
    n
}

fn fini(_info: &NodeInfo<'_>, c: &mut EthdevTxCtx) {
    if let Some(q) = c.queue.as_mut() {
        let _ = q.flush();
    }
}

node! {
    /// Port transmit (`ethdev_tx`); clone it per port.
    pub static ETHDEV_TX = {
        name: "ethdev_tx",
        context: EthdevTxCtx,
        object: Pkt,
        init: init,
        fini: fini,
        process: ethdev_tx,
        counters: EthdevTxDrop::NAMES,
        trace: |p: &Pkt| format!("len {}", p.data().len()),
        next: EthdevTxNext::NAMES,
    };
}
