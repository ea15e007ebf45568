//! The route table of the LPM benchmarks: about a million routes with the
//! prefix-length mix of a real BGP table (the distribution DPDK's
//! lpm_perf_autotest reports for its table). Shared by
//! `graph-nodes/benches/lpm.rs` and `benches/src/bin/lpm-vs-rte-lpm.rs` (included by path).
#![allow(dead_code)]

/// (depth, routes) of DPDK 22.11's lpm_perf_autotest table.
pub const MIX: &[(u8, u32)] = &[
    (3, 1),
    (5, 3),
    (6, 2),
    (7, 4),
    (8, 201),
    (9, 37),
    (10, 55),
    (11, 97),
    (12, 381),
    (13, 775),
    (14, 2104),
    (15, 3712),
    (16, 69319),
    (17, 12983),
    (18, 23667),
    (19, 69068),
    (20, 62354),
    (21, 48531),
    (22, 72355),
    (23, 85427),
    (24, 583900),
    (25, 2654),
    (26, 5650),
    (27, 6467),
    (28, 7127),
    (29, 12936),
    (30, 5999),
    (31, 13),
    (32, 984),
];

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as u32
    }
}

/// The routes, as (prefix, depth, next hop), in insertion order.
pub fn routes() -> Vec<(u32, u8, u32)> {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut out = Vec::new();
    for &(depth, count) in MIX {
        for _ in 0..count {
            // Longer prefixes cluster in fewer /24s, as in real tables.
            let ip =
                if depth > 24 { (rng.next() & 0x00ff_ff00) | 0x5000_0000 | (rng.next() & 0xff) } else { rng.next() };
            out.push((ip, depth, rng.next() & 0xffff));
        }
    }
    out
}

/// Our LPM with [`routes`], and how many were added.
pub fn table() -> (graph_nodes::lpm::Lpm, usize) {
    let lpm = graph_nodes::lpm::Lpm::new(1 << 16);
    let n = routes().into_iter().filter(|&(ip, depth, nh)| lpm.add(ip, depth, nh).is_ok()).count();
    (lpm, n)
}
