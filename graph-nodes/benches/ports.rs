//! Generator port rx → tx, 32 packets per burst: the cost of producing and
//! consuming packets without any node in between (Mpps from criterion's
//! throughput).
//!
//! `cargo bench -p graph-nodes --bench ports`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use graph_core::Obj;
use graph_nodes::port::{Port, PortConfig};
use graph_nodes::{lcore, Mempool, PoolConfig};

fn generator(c: &mut Criterion) {
    let _l = lcore::register(2).unwrap();
    let pool = Mempool::new("gen-bench", &PoolConfig { size: 4096, cache_size: 256, ..PoolConfig::default() }).unwrap();
    let port = Port::open(0, &PortConfig::parse("generator:").unwrap(), &pool).unwrap();
    let mut rx = port.take_rx_queue(0).unwrap();
    let mut tx = port.take_tx_queue(0).unwrap();
    let mut buf = [Obj::NULL; 32];
    let mut g = c.benchmark_group("generator");
    g.throughput(Throughput::Elements(32));
    g.bench_function("rx_tx_burst_32", |b| {
        b.iter(|| {
            let n = rx.rx_burst(&mut buf);
            tx.tx_burst(&buf[..n]);
        })
    });
    g.finish();
    assert_eq!(pool.in_use(), 0);
}

criterion_group!(benches, generator);
criterion_main!(benches);
