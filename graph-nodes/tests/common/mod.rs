//! A test rig: ports 0..n are ring ports fed by injector ports and drained
//! by collector ports, described to the nodes with eth_config, and one
//! graph polling every rx queue. The FIB, next-hop table and node clones
//! are process-wide, so rigs are serialised by a lock.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use graph_core::{Graph, GraphParam, Obj};
use graph_nodes::eth_config::{eth_config, EthConf};
use graph_nodes::ip4_lookup;
use graph_nodes::ip4_rewrite;
use graph_nodes::mbuf::Mbuf;
use graph_nodes::mempool::free_bulk;
use graph_nodes::port::{self, Port, PortConfig, RxQueue, TxQueue};
use graph_nodes::{Mempool, PoolConfig};

static LOCK: Mutex<()> = Mutex::new(());

pub const NEIGH: [[u8; 6]; 2] = [[0x52, 0, 0, 0, 0, 0x10], [0x52, 0, 0, 0, 0, 0x11]];

pub struct Rig {
    pub pool: Mempool,
    pub graph: Option<Graph>,
    pub ports: Vec<Arc<Port>>,
    inject: Vec<TxQueue>,
    collect: Vec<RxQueue>,
    _lock: MutexGuard<'static, ()>,
}

impl Rig {
    /// Two ports (`ip4_rewrite` keeps edges to every port configured in
    /// this process, so every rig opens the same ones), `n` of them polled,
    /// each routed by `198.18.<p>.0/24 → port p` through next
    /// hop `p` to neighbour `NEIGH[p]`; `mtu` on every port; rings of
    /// `ring` slots.
    pub fn new(polled: u16, mtu: u16, ring: usize) -> Rig {
        let n = 2;
        let lock = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        ip4_lookup::fib().clear();
        let pool = Mempool::new("rig", &PoolConfig { size: 4096, cache_size: 0, ..PoolConfig::default() }).unwrap();
        let mut ports = Vec::new();
        let mut inject = Vec::new();
        let mut collect = Vec::new();
        for p in 0..n {
            for id in [p, 100 + p, 200 + p] {
                let _ = port::close(id);
            }
            let inj = Port::open(
                100 + p,
                &PortConfig { nb_rxq: 0, ..PortConfig::parse(&format!("ring:tx=rig-in{p},size=4096")).unwrap() },
                &pool,
            )
            .unwrap();
            inject.push(inj.take_tx_queue(0).unwrap());
            let cfg = PortConfig {
                mtu,
                ..PortConfig::parse(&format!("ring:rx=rig-in{p},tx=rig-out{p},size={ring}")).unwrap()
            };
            ports.push(Port::open(p, &cfg, &pool).unwrap());
            let col = Port::open(
                200 + p,
                &PortConfig { nb_txq: 0, ..PortConfig::parse(&format!("ring:rx=rig-out{p},size={ring}")).unwrap() },
                &pool,
            )
            .unwrap();
            collect.push(col.take_rx_queue(0).unwrap());
        }
        let confs: Vec<EthConf> = (0..n).map(|p| EthConf { port: p, nb_rxq: 1, nb_txq: 1 }).collect();
        eth_config(&confs).unwrap();
        for p in 0..n {
            ip4_lookup::route_add(format!("198.18.{p}.0").parse().unwrap(), 24, p, ip4_lookup::Ip4LookupNext::Rewrite)
                .unwrap();
            ip4_rewrite::rewrite_add_port(p, NEIGH[p as usize % 2], p).unwrap();
        }
        let patterns: Vec<String> = (0..polled).map(|p| format!("ethdev_rx-{p}-0")).collect();
        let graph = Graph::create("rig", &GraphParam::new(patterns)).unwrap();
        Rig { pool, graph: Some(graph), ports, inject, collect, _lock: lock }
    }

    pub fn graph(&mut self) -> &mut Graph {
        self.graph.as_mut().unwrap()
    }

    /// Sends `frames` into port `p`.
    pub fn send(&mut self, p: usize, frames: &[Vec<u8>]) {
        for chunk in frames.chunks(256) {
            let mut objs = vec![Obj::NULL; chunk.len()];
            self.pool.alloc_bulk(&mut objs).unwrap();
            for (o, f) in objs.iter().zip(chunk) {
                // SAFETY: fresh buffers owned by the test.
                assert!(unsafe { Mbuf::from_obj(*o) }.set_data(f));
            }
            assert_eq!(self.inject[p].tx_burst(&objs), objs.len(), "injector ring full");
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
        let mut buf = [Obj::NULL; 64];
        loop {
            let n = self.collect[p].rx_burst(&mut buf);
            if n == 0 {
                break;
            }
            for &o in &buf[..n] {
                // SAFETY: received by the test.
                out.push(unsafe { Mbuf::from_obj(o) }.data().to_vec());
            }
            free_bulk(&buf[..n]);
        }
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
        for p in 0..self.ports.len() as u16 {
            for id in [p, 100 + p, 200 + p] {
                let _ = port::close(id);
            }
        }
        self.ports.clear();
    }
}
