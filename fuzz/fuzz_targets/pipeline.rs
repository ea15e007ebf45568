//! Arbitrary bytes as frames through ethdev_rx's parse → pkt_cls →
//! ip4_lookup → ip4_rewrite → ethdev_tx: no panic; every frame received is
//! sent or dropped under exactly one counter; every frame that leaves is a
//! valid IPv4 frame whose header is the input's with TTL one lower and a
//! correct checksum, payload untouched; no buffer leaks.
//!
//! Input: frames as (u16 little-endian length, bytes), up to 64 of them.
#![no_main]

use std::sync::{Mutex, OnceLock};

use graph_core::{Graph, Objs};
use graph_nodes::eth_config::{eth_config, EthConf, StockEnv, TxQueues};
use graph_nodes::ip4_lookup::{Fib, Ip4LookupNext};
use graph_nodes::mempool::free_bulk;
use graph_nodes::port::{Port, PortConfig, RxQueue, TxQueue};
use graph_nodes::wire::checksum;
use graph_nodes::{Mempool, PoolConfig};
use libfuzzer_sys::fuzz_target;

struct Rig {
    pool: Mempool,
    graph: Graph,
    ports: Vec<std::sync::Arc<Port>>,
    inject: TxQueue,
    collect: Vec<RxQueue>,
}

fn rig() -> &'static Mutex<Rig> {
    static R: OnceLock<Mutex<Rig>> = OnceLock::new();
    R.get_or_init(|| {
        let pool = Mempool::new("fz", &PoolConfig { size: 2048, cache_size: 0, ..PoolConfig::default() }).unwrap();
        let inj = Port::open(100, &PortConfig { nb_rxq: 0, ..PortConfig::parse("ring:tx=fz-in,size=256").unwrap() }, &pool).unwrap();
        let env = StockEnv { fib: Fib::new(64), ..StockEnv::default() };
        let mut ports = Vec::new();
        let mut collect = Vec::new();
        for p in 0..2u16 {
            let rx = if p == 0 { "fz-in" } else { "fz-unused" };
            let cfg = PortConfig { mtu: 1500, ..PortConfig::parse(&format!("ring:rx={rx},tx=fz-out{p},size=256")).unwrap() };
            ports.push(env.ports.open(p, &cfg, &pool).unwrap());
            let col = Port::open(200 + p, &PortConfig { nb_txq: 0, ..PortConfig::parse(&format!("ring:rx=fz-out{p},size=256")).unwrap() }, &pool)
                .unwrap();
            collect.push(col.take_rx_queue(0).unwrap());
        }
        eth_config(&[EthConf { port: 0, nb_rxq: 1, nb_txq: 1 }, EthConf { port: 1, nb_rxq: 1, nb_txq: 1 }]).unwrap();
        // Most destinations route somewhere: a default route to port 1.
        env.fib.route_add("0.0.0.0".parse().unwrap(), 0, 1, Ip4LookupNext::Rewrite).unwrap();
        env.fib.route_add("198.18.0.0".parse().unwrap(), 24, 0, Ip4LookupNext::Rewrite).unwrap();
        env.next_hops.add_port(0, [0x52, 0, 0, 0, 0, 0], &ports[0]).unwrap();
        env.next_hops.add_port(1, [0x52, 0, 0, 0, 0, 1], &ports[1]).unwrap();
        let graph = Graph::create("fz", &env.param(["ethdev_rx-0-0"], TxQueues::default())).unwrap();
        Mutex::new(Rig { pool, graph, ports, inject: inj.take_tx_queue(0).unwrap(), collect })
    })
}

fn counters(g: &Graph) -> u64 {
    g.stats().iter().flat_map(|s| s.counters.values().copied().collect::<Vec<_>>()).sum()
}

fuzz_target!(|data: &[u8]| {
    let mut frames: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 && frames.len() < 64 {
        let len = (u16::from_le_bytes([rest[0], rest[1]]) as usize).min(rest.len() - 2).min(2000);
        frames.push(&rest[2..2 + len]);
        rest = &rest[2 + len..];
    }
    let mut r = rig().lock().unwrap();
    let r = &mut *r;
    let rx0: u64 = r.ports.iter().map(|p| p.stats().ipackets).sum();
    let tx0: u64 = r.ports.iter().map(|p| p.stats().opackets).sum();
    let drops0 = counters(&r.graph);
    let mut pkts = r.pool.alloc_bulk(frames.len()).unwrap();
    for (m, f) in pkts.iter_mut().zip(&frames) {
        // Frames fit a buffer (<= 2000).
        assert!(m.set_data(f));
    }
    assert_eq!(r.inject.tx_burst_vec(&mut pkts), frames.len());
    r.graph.walk();
    r.graph.walk();
    let mut out = Vec::new();
    for c in &mut r.collect {
        let mut buf = Vec::new();
        while c.rx_burst_vec(&mut buf, 64) > 0 {}
        out.extend(buf.iter().map(|m| m.data().to_vec()));
        free_bulk(Objs::from_vec(&mut buf));
    }
    let rx = r.ports.iter().map(|p| p.stats().ipackets).sum::<u64>() - rx0;
    let tx = r.ports.iter().map(|p| p.stats().opackets).sum::<u64>() - tx0;
    let drops = counters(&r.graph) - drops0;
    assert_eq!(rx, frames.len() as u64);
    assert_eq!(tx, out.len() as u64);
    assert_eq!(rx, tx + drops, "conservation");
    assert_eq!(r.pool.in_use(), 0, "no leak");
    // Every frame out: IPv4, valid header checksum, and the header of some
    // input frame (VLAN tag stripped) with TTL one lower.
    for f in &out {
        assert!(f.len() >= 34 && f[12..14] == [8, 0], "not IPv4");
        let hl = (f[14] & 0xf) as usize * 4;
        assert!(hl >= 20 && f.len() >= 14 + hl);
        assert_eq!(checksum(&f[14..14 + hl]), 0, "checksum");
        let matches = frames.iter().any(|i| {
            let i: Vec<u8> = if i.len() >= 18 && i[12..14] == [0x81, 0] {
                i[..12].iter().chain(&i[16..]).copied().collect()
            } else {
                i.to_vec()
            };
            i.len() == f.len()
                && i[12..22] == f[12..22]
                && i[22] == f[22] + 1
                && i[23] == f[23]
                && i[26..] == f[26..]
        });
        assert!(matches, "an output frame matches no input frame with TTL - 1");
    }
});
