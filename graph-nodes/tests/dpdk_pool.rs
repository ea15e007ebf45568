//! The layout of our DPDK pools without hugepages (EAL `--no-huge`): the
//! buffers are packed, so packet data lines spread over every L1 set.
//! `rte_pktmbuf_pool_create` there puts each mbuf at the start of a 4 KiB
//! page of its own, which puts every packet's data line in one set (see
//! docs/performance.md, "DPDK ports: where the cycles went"). Needs root
//! (DPDK's EAL); skipped with the reason printed otherwise.
#![cfg(feature = "dpdk")]

use std::collections::HashSet;

use graph_nodes::dpdk;

#[test]
fn no_huge_pool_spreads_packet_data_over_the_cache_sets() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: DPDK's EAL needs root here");
        return;
    }
    let args: Vec<String> = ["dpdk-pool-test", "--no-huge", "-m", "256", "--no-pci", "-l", "0", "--log-level=1"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--file-prefix=gnpool{}", std::process::id())])
        .collect();
    dpdk::eal_init(&args).unwrap();
    let pool = dpdk::pool_create("layout", 4096, 256, -1).unwrap();
    let pkts = pool.alloc_bulk(512).unwrap();
    let sets: HashSet<usize> = pkts.iter().map(|p| (p.data_ptr() as usize >> 6) & 63).collect();
    let strides: HashSet<usize> =
        pkts.windows(2).map(|w| (w[1].data_ptr() as usize).abs_diff(w[0].data_ptr() as usize)).collect();
    assert!(
        sets.len() >= 48,
        "512 packets' first data lines fall in {} of 64 L1 sets (strides {strides:?})",
        sets.len()
    );
    assert!(!strides.contains(&4096), "a 4 KiB stride between buffers: {strides:?}");
    graph_nodes::mempool::free_bulk(graph_core::Objs::from_vec(&mut { pkts }));
    assert_eq!(pool.in_use(), 0);
}
