//! Generator port rx → tx, 32 packets per burst: the cost of producing and
//! consuming packets without any node in between (Mpps from criterion's
//! throughput).
//!
//! `cargo bench -p graph-nodes --bench ports`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::mem::MaybeUninit;

use graph_core::Objs;
use graph_nodes::pkt::Pkt;
use graph_nodes::port::{Port, PortConfig};
use graph_nodes::{lcore, Mempool, PoolConfig};

fn generator(c: &mut Criterion) {
    let _l = lcore::register(2).unwrap();
    let pool = Mempool::new("gen-bench", &PoolConfig { size: 4096, cache_size: 256, ..PoolConfig::default() }).unwrap();
    let port = Port::open(0, &PortConfig::parse("generator:").unwrap(), &pool).unwrap();
    let mut rx = port.take_rx_queue(0).unwrap();
    let mut tx = port.take_tx_queue(0).unwrap();
    let mut buf = [const { MaybeUninit::uninit() }; 32];
    let mut g = c.benchmark_group("generator");
    g.throughput(Throughput::Elements(32));
    g.bench_function("rx_tx_burst_32", |b| {
        b.iter(|| {
            let n = rx.rx_burst(&mut buf).len();
            // SAFETY: `rx_burst` initialised `buf[..n]` with packets that
            // this call owns and hands to `tx_burst` (the generator's tx
            // takes every packet), never to be read from `buf` again.
            let pkts = unsafe { Objs::from_raw_parts(buf.as_mut_ptr().cast::<Pkt>(), n) };
            let rest = tx.tx_burst(pkts);
            assert!(rest.is_empty());
        })
    });
    g.finish();
    assert_eq!(pool.in_use(), 0);
}

criterion_group!(benches, generator);
criterion_main!(benches);
