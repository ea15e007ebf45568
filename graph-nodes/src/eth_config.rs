//! Describing ports to the nodes (`rte_node_eth_config`), and the per-graph
//! values the stock nodes read at init.
//!
//! [`eth_config`] clones `ethdev_rx-<port>-<queue>` for every rx queue and
//! `ethdev_tx-<port>` for every port, and gives `ip4_rewrite`,
//! `ip6_rewrite` and `port_tx` an edge to each `ethdev_tx-<port>` (node names are process-wide, as in DPDK).
//! What each graph's nodes use comes from the graph's environment
//! ([`graph_core::GraphParam::with`]), never from process globals:
//!
//! | type | needed by | default |
//! |------|-----------|---------|
//! | [`Ports`](crate::port::Ports) | `ethdev_rx-*`, `ethdev_tx-*`, `ip4_rewrite` | required |
//! | [`Fib`](crate::ip4_lookup::Fib) | `ip4_lookup` | required |
//! | [`Fib6`] | `ip6_lookup` | an empty FIB |
//! | [`NextHops`](crate::ip4_rewrite::NextHops) | `ip4_rewrite` | required |
//! | [`TxQueues`] | `ethdev_tx-*` | queue 0 on every port |
//! | [`RxBurst`] | `ethdev_rx-*` | [`graph_core::BURST_SIZE`] |
//! | [`FeatureArcs`] | the arcs' start nodes | every feature off |
//! | [`Interfaces`] | `ip4_lookup`, `ip4_rewrite`, `ip4_local`, `icmp4_error`, the ARP nodes | no address |
//! | [`Neighbours`] | the ARP nodes | an empty table, no pool |
//!
//! [`StockEnv`] gathers them for a graph.

use std::collections::HashMap;

use graph_core::{
    node_clone, node_edge_get, node_edge_update, node_from_name, Env, FeatureArcs, GraphError, GraphParam,
};

use crate::ip4_lookup::Fib;
use crate::ip4_rewrite::NextHops;
use crate::ip6_lookup::Fib6;
use crate::neigh::{Interfaces, Neighbours, L3};
use crate::port::{PortId, Ports};

/// One port as the nodes see it.
#[derive(Debug, Clone, Copy)]
pub struct EthConf {
    /// Port id.
    pub port: PortId,
    /// Rx queues to make sources for.
    pub nb_rxq: u16,
    /// Tx queues (one per graph that sends on the port).
    pub nb_txq: u16,
}

/// Which tx queue a graph's `ethdev_tx-<port>` sends on, per port (DPDK's
/// ethdev_tx uses the graph id; here it is explicit). Ports not listed use
/// queue 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxQueues(pub HashMap<PortId, u16>);

impl TxQueues {
    /// The queue for `port`.
    pub fn get(&self, port: PortId) -> u16 {
        self.0.get(&port).copied().unwrap_or(0)
    }
}

/// How many packets `ethdev_rx` asks a queue for per poll (1..=65536).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxBurst(pub usize);

impl Default for RxBurst {
    fn default() -> Self {
        RxBurst(graph_core::BURST_SIZE as usize)
    }
}

/// In a graph's environment: the graph replaces a running one (a live
/// change), so an rx or tx queue that graph still holds is taken at the
/// first walk after it lets go, instead of failing the init. Until then
/// `ethdev_rx` receives nothing from that queue (packets wait in the
/// port), and `ethdev_tx` drops what it cannot send as `tx_queue_busy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handover;

/// A queue a node's init took (`Some`), or, in a graph that replaces
/// another ([`Handover`] in its environment), `None` while the replaced
/// graph still holds it; any other failure is the init's error.
pub(crate) fn take_or_hand_over<Q>(
    info: &graph_core::NodeInfo<'_>,
    taken: Result<Q, crate::port::PortError>,
) -> Result<Option<Q>, crate::port::PortError> {
    match taken {
        Ok(q) => Ok(Some(q)),
        Err(crate::port::PortError::QueueTaken { .. }) if info.env.get::<Handover>().is_some() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The values the stock nodes need, shared by a router's graphs.
#[derive(Debug, Clone, Default)]
pub struct StockEnv {
    /// The port table.
    pub ports: Ports,
    /// The IPv4 FIB.
    pub fib: Fib,
    /// The IPv6 FIB.
    pub fib6: Fib6,
    /// The next-hop (rewrite) table.
    pub next_hops: NextHops,
    /// The rx burst size.
    pub rx_burst: RxBurst,
    /// What is on on the feature arcs.
    pub features: FeatureArcs,
    /// The ports' addresses.
    pub ifaces: Interfaces,
    /// The neighbour table.
    pub neigh: Neighbours,
}

impl StockEnv {
    /// The environment of one graph, which sends on `tx_queues`.
    pub fn env(&self, tx_queues: TxQueues) -> Env {
        Env::new()
            .with(self.ports.clone())
            .with(self.fib.clone())
            .with(self.fib6.clone())
            .with(self.next_hops.clone())
            .with(self.rx_burst)
            .with(self.features.clone())
            .with(self.ifaces.clone())
            .with(self.neigh.clone())
            .with(tx_queues)
    }

    /// Its layer-3 tables, for address and neighbour changes.
    pub fn l3(&self) -> L3 {
        L3 {
            fib: self.fib.clone(),
            fib6: self.fib6.clone(),
            hops: self.next_hops.clone(),
            ifaces: self.ifaces.clone(),
            neigh: self.neigh.clone(),
        }
    }

    /// [`GraphParam`] for `patterns` with this environment.
    pub fn param<I, S>(&self, patterns: I, tx_queues: TxQueues) -> GraphParam
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        GraphParam::new(patterns).env(self.env(tx_queues))
    }
}

/// Makes clone `parent-suffix` unless it exists. Safe to race: a clone
/// made by another thread between the check and the clone is fine.
fn clone_once(parent: &str, suffix: &str) -> Result<(), GraphError> {
    if node_from_name(&format!("{parent}-{suffix}")).is_err() {
        match node_clone(node_from_name(parent)?, suffix) {
            Ok(_) | Err(GraphError::DuplicateNode { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Makes the rx and tx clones for `ports` and links `ip4_rewrite` to every
/// tx clone. Idempotent, and safe to call from several threads at once
/// (two routers set up concurrently).
pub fn eth_config(ports: &[EthConf]) -> Result<(), GraphError> {
    use std::sync::Mutex;
    // The check-then-add of an edge must not interleave with another
    // caller's, or the edge is added twice.
    static EDGES: Mutex<()> = Mutex::new(());
    let rewrite = node_from_name("ip4_rewrite")?;
    let rewrite6 = node_from_name("ip6_rewrite")?;
    let port_tx = node_from_name("port_tx")?;
    for c in ports {
        for q in 0..c.nb_rxq {
            clone_once("ethdev_rx", &format!("{}-{}", c.port, q))?;
        }
        clone_once("ethdev_tx", &c.port.to_string())?;
        let tx = format!("ethdev_tx-{}", c.port);
        let _g = EDGES.lock().unwrap_or_else(|e| e.into_inner());
        for n in [rewrite, rewrite6, port_tx] {
            if !node_edge_get(n)?.contains(&tx) {
                node_edge_update(n, None, &[&tx])?;
            }
        }
    }
    Ok(())
}
