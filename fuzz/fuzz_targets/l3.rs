//! Arbitrary frames into a router with IPv4 and IPv6 interface addresses:
//! ARP and neighbour discovery answered and learned, packets held for
//! resolution, echo answered, ICMP and ICMPv6 errors built in place. No panic; every packet is sent, held for a neighbour,
//! or dropped under exactly one counter (the router's own ARP requests
//! counted in); every frame that leaves is ARP, IPv4 with a valid header
//! checksum, or IPv6 with a consistent length; no buffer leaks beyond the
//! packets held.
//!
//! Input: frames as (u16 little-endian length, in port: the low bit of the
//! high byte, bytes), up to 64 of them.
#![no_main]

use std::sync::{Mutex, OnceLock};

use graph_core::{Graph, Objs};
use graph_nodes::eth_config::{eth_config, EthConf, StockEnv, TxQueues};
use graph_nodes::ip4_lookup::{Fib, Ip4LookupNext};
use graph_nodes::ip6_lookup::{Fib6, Ip6LookupNext};
use graph_nodes::mempool::free_bulk;
use graph_nodes::neigh::{IcmpLimit, NeighConfig, Neighbours};
use graph_nodes::port::{Port, PortConfig, RxQueue, TxQueue};
use graph_nodes::wire::checksum;
use graph_nodes::{Mempool, PoolConfig};
use libfuzzer_sys::fuzz_target;

struct Rig {
    pool: Mempool,
    graph: Graph,
    env: StockEnv,
    ports: Vec<std::sync::Arc<Port>>,
    inject: Vec<TxQueue>,
    collect: Vec<RxQueue>,
}

fn rig() -> &'static Mutex<Rig> {
    static R: OnceLock<Mutex<Rig>> = OnceLock::new();
    R.get_or_init(|| {
        let pool = Mempool::new("fz3", &PoolConfig { size: 4096, cache_size: 0, ..PoolConfig::default() }).unwrap();
        let cfg = NeighConfig { hold: 4, max_entries: 64, ..NeighConfig::default() };
        let env = StockEnv { fib: Fib::new(64), fib6: Fib6::new(4096), neigh: Neighbours::new(cfg), ..StockEnv::default() };
        env.neigh.set_pool(pool.clone());
        env.ifaces.set_icmp_limit(IcmpLimit { rate: 1_000_000, burst: 1_000_000 });
        let (mut ports, mut inject, mut collect) = (Vec::new(), Vec::new(), Vec::new());
        for p in 0..2u16 {
            let inj = Port::open(100 + p, &PortConfig { nb_rxq: 0, ..PortConfig::parse(&format!("ring:tx=fz3-in{p},size=512")).unwrap() }, &pool).unwrap();
            inject.push(inj.take_tx_queue(0).unwrap());
            let cfg = PortConfig { mtu: 1280, ..PortConfig::parse(&format!("ring:rx=fz3-in{p},tx=fz3-out{p},size=512")).unwrap() };
            ports.push(env.ports.open(p, &cfg, &pool).unwrap());
            let col = Port::open(200 + p, &PortConfig { nb_txq: 0, ..PortConfig::parse(&format!("ring:rx=fz3-out{p},size=512")).unwrap() }, &pool)
                .unwrap();
            collect.push(col.take_rx_queue(0).unwrap());
        }
        eth_config(&[EthConf { port: 0, nb_rxq: 1, nb_txq: 1 }, EthConf { port: 1, nb_rxq: 1, nb_txq: 1 }]).unwrap();
        let l3 = env.l3();
        for p in &ports {
            l3.ifaces.set_port(p.id(), p.mac(), p.mtu()).unwrap();
        }
        l3.addr_add(0, "10.0.0.1/24".parse().unwrap()).unwrap();
        l3.addr_add(1, "10.0.1.1/24".parse().unwrap()).unwrap();
        l3.addr_add6(0, "2001:db8::1/64".parse().unwrap()).unwrap();
        l3.addr_add6(1, "2001:db8:1::1/64".parse().unwrap()).unwrap();
        // Default routes through gateways on port 1, resolved by ARP and
        // neighbour discovery.
        let gw = l3.gateway("10.0.1.254".parse().unwrap()).unwrap();
        env.fib.route_add("0.0.0.0".parse().unwrap(), 0, gw, Ip4LookupNext::Rewrite).unwrap();
        let gw6 = l3.gateway("2001:db8:1::fe".parse().unwrap()).unwrap();
        env.fib6.route_add("::".parse().unwrap(), 0, gw6, Ip6LookupNext::Rewrite).unwrap();
        let graph = Graph::create("fz3", &env.param(["ethdev_rx-0-0", "ethdev_rx-1-0", "neigh_tick"], TxQueues::default())).unwrap();
        Mutex::new(Rig { pool, graph, env, ports, inject, collect })
    })
}

fn sum(g: &Graph, f: impl Fn(&graph_core::NodeStats) -> u64) -> u64 {
    g.stats().iter().map(f).sum()
}

fn held(env: &StockEnv) -> u64 {
    env.neigh.list().iter().map(|n| n.held as u64).sum()
}

fuzz_target!(|data: &[u8]| {
    let mut frames: Vec<(usize, &[u8])> = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 && frames.len() < 64 {
        let port = usize::from(rest[1] >> 7);
        let len = (usize::from(u16::from_le_bytes([rest[0], rest[1] & 0x7f]))).min(rest.len() - 2).min(2000);
        frames.push((port, &rest[2..2 + len]));
        rest = &rest[2 + len..];
    }
    let mut r = rig().lock().unwrap();
    let r = &mut *r;
    let rx0: u64 = r.ports.iter().map(|p| p.stats().ipackets).sum();
    let tx0: u64 = r.ports.iter().map(|p| p.stats().opackets).sum();
    let drops0 = sum(&r.graph, |s| s.counters.values().sum());
    let made = |g: &Graph| {
        sum(g, |s| s.observations.get("requests").copied().filter(|_| s.name != "arp_input").unwrap_or(0))
    };
    let made0 = made(&r.graph);
    let held0 = held(&r.env);
    for p in 0..2 {
        let mine: Vec<&[u8]> = frames.iter().filter(|(q, _)| *q == p).map(|(_, f)| *f).collect();
        let mut pkts = r.pool.alloc_bulk(mine.len()).unwrap();
        for (m, f) in pkts.iter_mut().zip(&mine) {
            assert!(m.set_data(f));
        }
        assert_eq!(r.inject[p].tx_burst_vec(&mut pkts), mine.len());
    }
    for _ in 0..4 {
        r.graph.walk();
    }
    let mut out = Vec::new();
    for c in &mut r.collect {
        let mut buf = Vec::new();
        while c.rx_burst_vec(&mut buf, 64) > 0 {}
        out.extend(buf.iter().map(|m| m.data().to_vec()));
        free_bulk(Objs::from_vec(&mut buf));
    }
    let rx = r.ports.iter().map(|p| p.stats().ipackets).sum::<u64>() - rx0;
    let tx = r.ports.iter().map(|p| p.stats().opackets).sum::<u64>() - tx0;
    let drops = sum(&r.graph, |s| s.counters.values().sum()) - drops0;
    let made = made(&r.graph) - made0;
    let (h0, h1) = (held0, held(&r.env));
    assert_eq!(rx, frames.len() as u64);
    assert_eq!(tx, out.len() as u64);
    assert_eq!(rx + made + h0, tx + drops + h1, "conservation: in + made + held before = out + dropped + held now");
    assert_eq!(u64::from(r.pool.in_use()), h1, "no leak: only held packets are out of the pool");
    for f in &out {
        assert!(f.len() >= 14, "a runt left");
        match [f[12], f[13]] {
            [8, 6] => assert!(f.len() >= 42, "a short ARP left"),
            [0x86, 0xdd] => {
                assert!(f.len() >= 54 && f[14] >> 4 == 6, "not IPv6");
                assert!(54 + usize::from(u16::from_be_bytes([f[18], f[19]])) <= f.len(), "payload length");
            }
            [8, 0] => {
                let hl = usize::from(f[14] & 0xf) * 4;
                assert!(hl >= 20 && f.len() >= 14 + hl);
                assert_eq!(checksum(&f[14..14 + hl]), 0, "checksum");
            }
            t => panic!("ethertype {t:?} left"),
        }
    }
    // Held packets never pile up beyond the table's bounds.
    assert!(h1 <= 64 * 4);
});
