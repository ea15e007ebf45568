//! A test rig: ports 0..n are ring ports fed by injector ports and drained
//! by collector ports, described to the nodes with eth_config, and one
//! graph polling every rx queue. Each rig has its own port table, FIB and
//! next-hop table (given to its graph through the environment) and its own
//! ring names, so rigs run in parallel.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use graph_core::Graph;
use graph_nodes::eth_config::{eth_config, EthConf, StockEnv, TxQueues};
use graph_nodes::ip4_lookup::{Fib, Ip4LookupNext};
use graph_nodes::ip4_rewrite::NextHops;
use graph_nodes::pkt::Pkt;
use graph_nodes::port::{Port, PortConfig, Ports, RxQueue, TxQueue};
use graph_nodes::{Mempool, PoolConfig};

pub const NEIGH: [[u8; 6]; 2] = [[0x52, 0, 0, 0, 0, 0x10], [0x52, 0, 0, 0, 0, 0x11]];

static RIGS: AtomicUsize = AtomicUsize::new(0);

pub struct Rig {
    pub pool: Mempool,
    pub graph: Option<Graph>,
    pub ports: Vec<Arc<Port>>,
    pub env: StockEnv,
    inject: Vec<TxQueue>,
    collect: Vec<RxQueue>,
}

impl Rig {
    /// Two ports (`ip4_rewrite` keeps edges to every port configured in
    /// this process, so every rig opens the same ids), `n` of them polled,
    /// each routed by `198.18.<p>.0/24 → port p` through next hop `p` to
    /// neighbour `NEIGH[p]`; `mtu` on every port; rings of `ring` slots.
    pub fn new(polled: u16, mtu: u16, ring: usize) -> Rig {
        let n = 2;
        let id = RIGS.fetch_add(1, Ordering::Relaxed);
        let pool =
            Mempool::new(&format!("rig{id}"), &PoolConfig { size: 4096, cache_size: 0, ..PoolConfig::default() })
                .unwrap();
        let env = StockEnv { ports: Ports::new(), fib: Fib::new(64), next_hops: NextHops::new(), ..Default::default() };
        let mut ports = Vec::new();
        let mut inject = Vec::new();
        let mut collect = Vec::new();
        for p in 0..n {
            let inj = Port::open(
                100 + p,
                &PortConfig { nb_rxq: 0, ..PortConfig::parse(&format!("ring:tx=rig{id}-in{p},size=4096")).unwrap() },
                &pool,
            )
            .unwrap();
            inject.push(inj.take_tx_queue(0).unwrap());
            let cfg = PortConfig {
                mtu,
                ..PortConfig::parse(&format!("ring:rx=rig{id}-in{p},tx=rig{id}-out{p},size={ring}")).unwrap()
            };
            ports.push(env.ports.open(p, &cfg, &pool).unwrap());
            let col = Port::open(
                200 + p,
                &PortConfig { nb_txq: 0, ..PortConfig::parse(&format!("ring:rx=rig{id}-out{p},size={ring}")).unwrap() },
                &pool,
            )
            .unwrap();
            collect.push(col.take_rx_queue(0).unwrap());
        }
        let confs: Vec<EthConf> = (0..n).map(|p| EthConf { port: p, nb_rxq: 1, nb_txq: 1 }).collect();
        eth_config(&confs).unwrap();
        for p in 0..n {
            env.fib.route_add(format!("198.18.{p}.0").parse().unwrap(), 24, p, Ip4LookupNext::Rewrite).unwrap();
            env.next_hops.add_port(p, NEIGH[p as usize % 2], &ports[p as usize]).unwrap();
        }
        let patterns: Vec<String> = (0..polled).map(|p| format!("ethdev_rx-{p}-0")).collect();
        let graph = Graph::create(&format!("rig{id}"), &env.param(patterns, TxQueues::default())).unwrap();
        Rig { pool, graph: Some(graph), ports, env, inject, collect }
    }

    pub fn graph(&mut self) -> &mut Graph {
        self.graph.as_mut().unwrap()
    }

    /// Sends `frames` into port `p`.
    pub fn send(&mut self, p: usize, frames: &[Vec<u8>]) {
        for chunk in frames.chunks(256) {
            let mut pkts = self.pool.alloc_bulk(chunk.len()).unwrap();
            for (m, f) in pkts.iter_mut().zip(chunk) {
                assert!(m.set_data(f));
            }
            assert_eq!(self.inject[p].tx_burst_vec(&mut pkts), chunk.len(), "injector ring full");
        }
    }

    /// Walks until a walk moves nothing.
    pub fn run(&mut self) {
        loop {
            let before: u64 = self.graph().stats().iter().map(|s| s.objs).sum();
            self.graph().walk();
            let after: u64 = self.graph().stats().iter().map(|s| s.objs).sum();
            if before == after {
                break;
            }
        }
    }

    /// Frames that left port `p`, freed.
    pub fn recv(&mut self, p: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut pkts: Vec<Pkt> = Vec::new();
        while self.collect[p].rx_burst_vec(&mut pkts, 64) > 0 {}
        out.extend(pkts.iter().map(|m| m.data().to_vec()));
        graph_nodes::mempool::free_bulk(graph_core::Objs::from_vec(&mut pkts));
        out
    }

    /// Non-zero counters of every node, as `node.reason`.
    pub fn drops(&mut self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for s in self.graph().stats() {
            for (k, v) in s.counters {
                if v > 0 {
                    m.insert(format!("{}.{}", s.name, k), v);
                }
            }
        }
        m
    }

    /// Objects handled by node `name`.
    pub fn objs(&mut self, name: &str) -> u64 {
        self.graph().node_stats(name).map(|s| s.objs).unwrap_or(0)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.graph = None;
        self.inject.clear();
        self.collect.clear();
        self.ports.clear();
    }
}
