//! Describing ports to the nodes (`rte_node_eth_config`): clones
//! `ethdev_rx-<port>-<queue>` for every rx queue and `ethdev_tx-<port>` for
//! every port, and gives `ip4_rewrite` an edge to each `ethdev_tx-<port>`.
//! Also records which tx queue each graph uses on each port (DPDK's
//! ethdev_tx uses the graph id; here it is explicit, default 0).

use std::collections::HashMap;
use std::sync::Mutex;

use graph_core::{node_clone, node_edge_get, node_edge_update, node_from_name, GraphError};

use crate::port::PortId;

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

static TXQ: Mutex<Option<HashMap<(String, PortId), u16>>> = Mutex::new(None);
static RX_BURST: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(graph_core::BURST_SIZE as usize);

fn clone_once(parent: &str, suffix: &str) -> Result<(), GraphError> {
    if node_from_name(&format!("{parent}-{suffix}")).is_err() {
        node_clone(node_from_name(parent)?, suffix)?;
    }
    Ok(())
}

/// Makes the rx and tx clones for `ports` and links `ip4_rewrite` to every
/// tx clone. Idempotent.
pub fn eth_config(ports: &[EthConf]) -> Result<(), GraphError> {
    let rewrite = node_from_name("ip4_rewrite")?;
    for c in ports {
        for q in 0..c.nb_rxq {
            clone_once("ethdev_rx", &format!("{}-{}", c.port, q))?;
        }
        clone_once("ethdev_tx", &c.port.to_string())?;
        let tx = format!("ethdev_tx-{}", c.port);
        if !node_edge_get(rewrite)?.contains(&tx) {
            node_edge_update(rewrite, None, &[&tx])?;
        }
    }
    Ok(())
}

/// Graph `graph` sends on tx queue `queue` of `port`.
pub fn set_tx_queue(graph: &str, port: PortId, queue: u16) {
    TXQ.lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert((graph.to_string(), port), queue);
}

/// The tx queue graph `graph` uses on `port` (0 unless set).
pub fn tx_queue(graph: &str, port: PortId) -> u16 {
    TXQ.lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|m| m.get(&(graph.to_string(), port)).copied())
        .unwrap_or(0)
}

/// Sets the rx burst size of `ethdev_rx` clones created from now on.
pub fn set_rx_burst(n: usize) {
    RX_BURST.store(n.clamp(1, 1 << 16), std::sync::atomic::Ordering::Relaxed);
}

/// The rx burst size.
pub fn rx_burst() -> usize {
    RX_BURST.load(std::sync::atomic::Ordering::Relaxed)
}
