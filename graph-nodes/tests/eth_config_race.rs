//! `eth_config` from many threads at once (routers set up concurrently):
//! every call succeeds, each clone exists once, and `ip4_rewrite` gets
//! each tx edge once. (Its own test binary: the clones are process-wide.)

use graph_core::{node_edge_get, node_from_name};
use graph_nodes::eth_config::{eth_config, EthConf};

#[test]
fn concurrent_eth_config_makes_each_clone_and_edge_once() {
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                for p in 0..16u16 {
                    eth_config(&[EthConf { port: p, nb_rxq: 2, nb_txq: 1 }]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let edges = node_edge_get(node_from_name("ip4_rewrite").unwrap()).unwrap();
    for p in 0..16u16 {
        assert!(node_from_name(&format!("ethdev_rx-{p}-1")).is_ok());
        let tx = format!("ethdev_tx-{p}");
        assert_eq!(edges.iter().filter(|e| **e == tx).count(), 1, "{edges:?}");
    }
}
