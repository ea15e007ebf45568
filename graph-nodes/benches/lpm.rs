//! LPM lookups on about a million routes with the prefix-length mix of a
//! real BGP table (the distribution DPDK's lpm_perf_autotest reports for
//! its table), random destinations as in that test.
//!
//! `cargo bench -p graph-nodes --bench lpm`; prints cycles per lookup (TSC)
//! next to criterion's times.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "support/lpm_table.rs"]
mod lpm_table;

use graph_nodes::lpm::Hop;
use lpm_table::{table, Rng};

fn lookups(c: &mut Criterion) {
    let (lpm, routes) = table();
    let hz = graph_core::clock::cycles_hz() as f64;
    let mut rng = Rng(42);
    let ips: Vec<u32> = (0..1 << 16).map(|_| rng.next()).collect();
    let hits = ips.iter().filter(|&&ip| lpm.lookup(ip).is_some()).count();
    eprintln!(
        "lpm: {routes} routes, {:.1}% of random lookups hit, TSC {:.3} GHz",
        100.0 * hits as f64 / ips.len() as f64,
        hz / 1e9
    );
    let mut g = c.benchmark_group("lpm_1m");
    g.throughput(Throughput::Elements(ips.len() as u64));
    g.bench_function("lookup", |b| {
        b.iter(|| {
            for &ip in &ips {
                black_box(lpm.lookup(ip));
            }
        })
    });
    let mut out = vec![Hop::default(); 256];
    g.bench_function("lookup_bulk_256", |b| {
        b.iter(|| {
            for chunk in ips.chunks_exact(256) {
                lpm.lookup_bulk(chunk, &mut out);
                black_box(&out);
            }
        })
    });
    g.bench_function("lookup_x4", |b| {
        b.iter(|| {
            for q in ips.chunks_exact(4) {
                black_box(lpm.lookup_x4([q[0], q[1], q[2], q[3]], u32::MAX));
            }
        })
    });
    g.finish();
    // DPDK's own method (lpm_perf_autotest): 1024 iterations, each kind of
    // lookup on 4096 fresh random addresses, only the lookups timed; bulk in batches of
    // 32 as its BULK_SIZE. Cycles per lookup.
    let mut rng = Rng(7);
    let mut batch = vec![0u32; 4096];
    let (mut single, mut bulk, mut x4) = (0u64, 0u64, 0u64);
    let mut out = [Hop::default(); 32];
    for _ in 0..1024 {
        batch.iter_mut().for_each(|ip| *ip = rng.next());
        // As DPDK's test: count the misses.
        let t0 = graph_core::clock::cycles();
        let mut fails = 0u32;
        for &ip in &batch {
            fails += u32::from(lpm.lookup(ip).is_none());
        }
        let t1 = graph_core::clock::cycles();
        black_box(fails);
        batch.iter_mut().for_each(|ip| *ip = rng.next());
        let t1b = graph_core::clock::cycles();
        for chunk in batch.chunks_exact(32) {
            lpm.lookup_bulk(chunk, &mut out);
            fails += out.iter().filter(|o| o.get().is_none()).count() as u32;
        }
        let t2 = graph_core::clock::cycles();
        batch.iter_mut().for_each(|ip| *ip = rng.next());
        let t2b = graph_core::clock::cycles();
        for q in batch.chunks_exact(4) {
            let r = lpm.lookup_x4([q[0], q[1], q[2], q[3]], u32::MAX);
            fails += r.iter().filter(|&&o| o == u32::MAX).count() as u32;
        }
        let t3 = graph_core::clock::cycles();
        black_box(fails);
        single += t1 - t0;
        bulk += t2 - t1b;
        x4 += t3 - t2b;
    }
    let per = |c: u64| c as f64 / (1024.0 * 4096.0);
    eprintln!(
        "lpm_1m, DPDK's method: lookup {:.1}, bulk(32) {:.1}, x4 {:.1} cycles per lookup",
        per(single),
        per(bulk),
        per(x4)
    );
}

criterion_group!(benches, lookups);
criterion_main!(benches);
