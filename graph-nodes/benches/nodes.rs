//! The l3fwd nodes at burst 256: one graph on a generator port (DPDK's
//! default traffic, 60-byte frames alternating 198.18.0.0/24 and
//! 198.18.1.0/24), ethdev_rx → pkt_cls → ip4_lookup → ip4_rewrite →
//! ethdev_tx. Criterion times a walk; each node's cycles per packet come
//! from the graph's own statistics over the measured walks.
//!
//! `cargo bench -p graph-nodes --bench nodes`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use graph_core::Graph;
use graph_nodes::eth_config::{eth_config, EthConf, StockEnv, TxQueues};
use graph_nodes::ip4_lookup::Ip4LookupNext;
use graph_nodes::lcore;
use graph_nodes::port::PortConfig;
use graph_nodes::{Mempool, PoolConfig};

fn l3fwd(c: &mut Criterion) {
    let _lcore = lcore::register(1).unwrap();
    let pool = Mempool::new("bench", &PoolConfig { size: 8192, cache_size: 256, ..PoolConfig::default() }).unwrap();
    let env = StockEnv::default();
    for p in 0..2u16 {
        let cfg = PortConfig { nb_rxq: u16::from(p == 0), ..PortConfig::parse("generator:").unwrap() };
        let port = env.ports.open(p, &cfg, &pool).unwrap();
        env.fib.route_add(format!("198.18.{p}.0").parse().unwrap(), 24, p, Ip4LookupNext::Rewrite).unwrap();
        env.next_hops.add_port(p, [0x52, 0, 0, 0, 0, p as u8], &port).unwrap();
    }
    eth_config(&[EthConf { port: 0, nb_rxq: 1, nb_txq: 1 }, EthConf { port: 1, nb_rxq: 0, nb_txq: 1 }]).unwrap();
    let mut g = Graph::create("bench", &env.param(["ethdev_rx-0-0"], TxQueues::default())).unwrap();
    for _ in 0..1000 {
        g.walk();
    }
    let before = g.stats();
    let mut group = c.benchmark_group("l3fwd_nodes");
    group.throughput(Throughput::Elements(256));
    group.bench_function("walk_burst_256", |b| b.iter(|| g.walk()));
    group.finish();
    let after = g.stats();
    for (a, b) in after.iter().zip(&before) {
        let objs = a.objs - b.objs;
        if objs > 0 {
            eprintln!("{:>14}: {:6.1} cycles/packet", a.name, (a.cycles - b.cycles) as f64 / objs as f64);
        }
    }
    assert_eq!(pool.in_use(), 0, "nothing leaked");
}

criterion_group!(benches, l3fwd);
criterion_main!(benches);
