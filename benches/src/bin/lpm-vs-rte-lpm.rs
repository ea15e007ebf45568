//! Our LPM against DPDK's rte_lpm, like for like: the same route table
//! (about a million routes, a real BGP table's prefix-length mix, built by
//! the same code as `graph-nodes/benches/lpm.rs`), the same random
//! destinations, the same process and run. Each lookup kind runs on 4096
//! fresh random addresses per iteration (DPDK's lpm_perf_autotest method;
//! bulk in batches of 32, its BULK_SIZE, and 256, a burst), ours and
//! rte_lpm on the same ones, which of them first alternating; rte_lpm's
//! static inline lookups in C loops (`dpdk-sys`'s shim), ours in Rust
//! loops. Prints the median cycles per lookup of each over `--rounds`.
//!
//! `cargo run --release -p benches --features dpdk --bin lpm-vs-rte-lpm`
//! (root: DPDK's EAL starts with `--no-huge -m 1024 --no-pci`; with
//! `--huge`, on 2 MiB hugepages instead, which must be reserved, e.g.
//! `echo 600 > /proc/sys/vm/nr_hugepages`). Our first table asks for
//! transparent huge pages either way (`graph_nodes::lpm`).

#[path = "../../../graph-nodes/benches/support/lpm_table.rs"]
mod lpm_table;

use std::hint::black_box;

use graph_core::clock;
use graph_nodes::lpm::Hop;
use lpm_table::{routes, Rng};

const N: usize = 4096;

struct RteLpm(*mut dpdk_sys::rte_lpm);

impl RteLpm {
    fn new(rules: u32) -> RteLpm {
        let cfg = dpdk_sys::rte_lpm_config { max_rules: rules, number_tbl8s: 1 << 16, flags: 0 };
        let name = c"lpm_vs";
        // SAFETY: the EAL is initialised (main), `name` and `cfg` outlive
        // the call, which copies what it keeps.
        let p = unsafe { dpdk_sys::rte_lpm_create(name.as_ptr(), 0, &cfg) };
        assert!(!p.is_null(), "rte_lpm_create failed");
        RteLpm(p)
    }

    fn add(&self, ip: u32, depth: u8, nh: u32) -> bool {
        // SAFETY: `self.0` is a live table from rte_lpm_create.
        unsafe { dpdk_sys::rte_lpm_add(self.0, ip, depth, nh) == 0 }
    }
}

impl RteLpm {
    /// Single lookups over `ips`; the misses.
    fn single(&self, ips: &[u32]) -> u32 {
        // SAFETY: `self.0` is a live table; `ips` is a valid slice.
        unsafe { dpdk_sys::rgraph_lpm_lookup_loop(self.0, ips.as_ptr(), ips.len() as u32) }
    }

    /// Bulk lookups over `ips` in batches of `batch`; the misses.
    fn bulk(&self, ips: &[u32], batch: usize) -> u32 {
        // SAFETY: as in `single`; the shim caps the batch at 256.
        unsafe { dpdk_sys::rgraph_lpm_bulk_loop(self.0, ips.as_ptr(), ips.len() as u32, batch as u32) }
    }

    /// x4 lookups over `ips`; the misses.
    fn x4(&self, ips: &[u32]) -> u32 {
        // SAFETY: as in `single`.
        unsafe { dpdk_sys::rgraph_lpm_x4_loop(self.0, ips.as_ptr(), ips.len() as u32) }
    }
}

impl Drop for RteLpm {
    fn drop(&mut self) {
        // SAFETY: made by rte_lpm_create, freed once.
        unsafe { dpdk_sys::rte_lpm_free(self.0) }
    }
}

/// Runs `f` once: the cycles it took and what it returned.
fn timed(f: impl FnOnce() -> u32) -> (u64, u32) {
    let t0 = clock::cycles();
    let m = black_box(f());
    (clock::cycles() - t0, m)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let rounds: usize =
        std::env::args().skip_while(|a| a != "--rounds").nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let huge = std::env::args().any(|a| a == "--huge");
    let eal: Vec<String> = [
        "lpm-vs-rte-lpm",
        if huge { "--huge-unlink" } else { "--no-huge" },
        "-m",
        "1024",
        "--no-pci",
        "--file-prefix=lpmvs",
        "-l",
        "1",
        "--log-level=error",
    ]
    .map(String::from)
    .to_vec();
    graph_nodes::dpdk::eal_init(&eal).expect("EAL");
    let table = routes();
    let ours = graph_nodes::lpm::Lpm::new(1 << 16);
    let rte = RteLpm::new(table.len() as u32 + 16);
    let (mut n_ours, mut n_rte) = (0, 0);
    for &(ip, depth, nh) in &table {
        n_ours += usize::from(ours.add(ip, depth, nh).is_ok());
        n_rte += usize::from(rte.add(ip, depth, nh));
    }
    // Identical tables: every address resolves the same way in both.
    let mut rng = Rng(99);
    let probe: Vec<u32> = (0..1 << 16).map(|_| rng.next()).collect();
    let hits = probe.iter().filter(|&&ip| ours.lookup(ip).is_some()).count();
    let rte_miss = rte.single(&probe) as usize;
    assert_eq!(probe.len() - hits, rte_miss, "the two tables disagree");
    println!(
        "{n_ours} routes in ours, {n_rte} in rte_lpm; {:.1}% of random addresses hit in both",
        100.0 * hits as f64 / probe.len() as f64
    );

    let mut res: [Vec<f64>; 8] = Default::default();
    let mut out = vec![Hop::default(); 256];
    let mut batch = vec![0u32; N];
    let mut miss = 0u32;
    for _ in 0..rounds {
        let mut acc = [0u64; 8];
        for it in 0..1024 {
            // Each kind on fresh addresses (as lpm_perf_autotest): on
            // addresses another kind has just looked up, the lines of both
            // tables would still be in L2. The two tables are apart, so the
            // second side to run is cold too; which side runs first
            // alternates.
            for kind in 0..4 {
                batch.iter_mut().for_each(|ip| *ip = rng.next());
                let b = &batch;
                let (o, r, out) = (&ours, &rte, &mut out);
                let mut ours_run = || -> u32 {
                    match kind {
                        0 => b.iter().map(|&ip| u32::from(o.lookup(ip).is_none())).sum(),
                        1 | 2 => {
                            let bs = if kind == 1 { 32 } else { 256 };
                            let mut m = 0;
                            for c in b.chunks_exact(bs) {
                                o.lookup_bulk(c, &mut out[..bs]);
                                m += out[..bs].iter().filter(|h| h.get().is_none()).count() as u32;
                            }
                            m
                        }
                        _ => b
                            .chunks_exact(4)
                            .map(|q| {
                                let hop = o.lookup_x4([q[0], q[1], q[2], q[3]], u32::MAX);
                                hop.iter().filter(|&&x| x == u32::MAX).count() as u32
                            })
                            .sum(),
                    }
                };
                let rte_run = || match kind {
                    0 => r.single(b),
                    1 => r.bulk(b, 32),
                    2 => r.bulk(b, 256),
                    _ => r.x4(b),
                };
                // Side 0 is ours, 1 rte_lpm.
                for side in if it % 2 == 0 { [0, 1] } else { [1, 0] } {
                    let (t, m) = if side == 0 { timed(&mut ours_run) } else { timed(rte_run) };
                    acc[2 * kind + side] += t;
                    miss += m;
                }
            }
        }
        for (v, a) in res.iter_mut().zip(acc) {
            v.push(a as f64 / (1024.0 * N as f64));
        }
    }
    black_box(miss);
    let m: Vec<f64> = res.into_iter().map(median).collect();
    println!("| lookup | ours cycles | rte_lpm cycles | ours/rte_lpm |");
    println!("|---|---:|---:|---:|");
    for (name, i) in [("single", 0), ("bulk, batches of 32", 2), ("bulk, batches of 256", 4), ("x4", 6)] {
        println!("| {name} | {:.1} | {:.1} | {:.2} |", m[i], m[i + 1], m[i] / m[i + 1]);
    }
}
