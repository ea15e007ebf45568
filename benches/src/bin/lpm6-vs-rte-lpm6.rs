//! Our IPv6 LPM against DPDK's rte_lpm6, like for like: the same table of
//! 200,000 routes with an IPv6 BGP table's prefix-length mix (half /48s,
//! then /32, /44, /40, /36, /29, ...; clustered under a few thousand
//! provider /32s, as real tables are), the same random destinations
//! under those routes, the same process and run, alternating. Each lookup
//! kind runs over 4096 addresses per iteration (DPDK's lpm6_perf_autotest
//! method); rte_lpm6's lookups in C loops (`dpdk-sys`'s shim), ours in
//! Rust loops. Prints the median cycles per lookup of each over
//! `--rounds`, and how each table was built (groups, time per add).
//!
//! `cargo run --release -p benches --features dpdk --bin lpm6-vs-rte-lpm6`
//! (root: DPDK's EAL starts with `--no-huge -m 2048 --no-pci`).

use std::hint::black_box;

use graph_core::clock;

const N: usize = 4096;
const ROUTES: usize = 200_000;
const GROUPS: u32 = 1 << 18;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The route table: (prefix, depth, value), distinct prefixes.
fn routes() -> Vec<(u128, u8, u32)> {
    // Prefix lengths of a public IPv6 table, per mille.
    const MIX: [(u8, u32); 11] = [
        (48, 500),
        (32, 120),
        (44, 100),
        (40, 80),
        (36, 50),
        (29, 50),
        (46, 40),
        (47, 30),
        (28, 15),
        (64, 10),
        (56, 5),
    ];
    let mut rng = Rng(0x5eed_1234_5678_9abc);
    // Provider blocks: /32s in 2000::/4.
    let providers: Vec<u128> =
        (0..4000).map(|_| (0x2000u128 << 112) | u128::from(rng.next() as u32 & 0x0fff_ffff) << 96).collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(ROUTES);
    while out.len() < ROUTES {
        let mut x = (rng.next() % 1000) as u32;
        let depth = MIX
            .iter()
            .find(|(_, w)| {
                if x < *w {
                    true
                } else {
                    x -= w;
                    false
                }
            })
            .map_or(48, |d| d.0);
        let base = providers[(rng.next() % providers.len() as u64) as usize];
        let low = u128::from(rng.next()) << 32;
        let p = if depth < 32 {
            (base | low << 32) & graph_nodes::lpm6::mask(depth)
        } else {
            (base | low) & graph_nodes::lpm6::mask(depth)
        };
        if seen.insert((p, depth)) {
            out.push((p, depth, (out.len() % 65536) as u32));
        }
    }
    out
}

struct RteLpm6(*mut dpdk_sys::rte_lpm6);

impl RteLpm6 {
    fn new(rules: u32) -> RteLpm6 {
        let cfg = dpdk_sys::rte_lpm6_config { max_rules: rules, number_tbl8s: GROUPS, flags: 0 };
        let name = c"lpm6_vs";
        // SAFETY: the EAL is initialised (main); `name` and `cfg` outlive
        // the call, which copies what it keeps.
        let p = unsafe { dpdk_sys::rte_lpm6_create(name.as_ptr(), 0, &cfg) };
        assert!(!p.is_null(), "rte_lpm6_create failed");
        RteLpm6(p)
    }

    fn add(&self, ip: u128, depth: u8, nh: u32) -> bool {
        let mut b = ip.to_be_bytes();
        // SAFETY: a live table; `b` is the 16-byte address the call reads.
        unsafe { dpdk_sys::rte_lpm6_add(self.0, b.as_mut_ptr(), depth, nh) == 0 }
    }

    /// Single lookups over the 16-byte addresses of `ips`; the misses.
    fn single(&self, ips: &[[u8; 16]]) -> u32 {
        // SAFETY: a live table; `ips` holds `len` addresses of 16 bytes.
        unsafe { dpdk_sys::rgraph_lpm6_lookup_loop(self.0, ips.as_ptr().cast(), ips.len() as u32) }
    }

    /// Bulk lookups in batches of `batch`; the misses.
    fn bulk(&self, ips: &[[u8; 16]], batch: usize) -> u32 {
        // SAFETY: as in `single`; the shim caps the batch at 256.
        unsafe { dpdk_sys::rgraph_lpm6_bulk_loop(self.0, ips.as_ptr().cast(), ips.len() as u32, batch as u32) }
    }
}

impl Drop for RteLpm6 {
    fn drop(&mut self) {
        // SAFETY: made by rte_lpm6_create, freed once.
        unsafe { dpdk_sys::rte_lpm6_free(self.0) }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let rounds: usize =
        std::env::args().skip_while(|a| a != "--rounds").nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let eal: Vec<String> = [
        "lpm6-vs-rte-lpm6",
        "--no-huge",
        "-m",
        "2048",
        "--no-pci",
        "--file-prefix=lpm6vs",
        "-l",
        "1",
        "--log-level=error",
    ]
    .map(String::from)
    .to_vec();
    graph_nodes::dpdk::eal_init(&eal).expect("EAL");
    let table = routes();
    let ours = graph_nodes::lpm6::Lpm6::new(GROUPS);
    let rte = RteLpm6::new(table.len() as u32 + 16);
    let t0 = clock::cycles();
    let n_ours = table.iter().filter(|&&(ip, d, nh)| ours.add(ip, d, nh).is_ok()).count();
    let add_ours = (clock::cycles() - t0) as f64 / table.len() as f64;
    let t0 = clock::cycles();
    let n_rte = table.iter().filter(|&&(ip, d, nh)| rte.add(ip, d, nh)).count();
    let add_rte = (clock::cycles() - t0) as f64 / table.len() as f64;
    assert_eq!((n_ours, n_rte), (table.len(), table.len()), "every route in both");
    // Destinations: random addresses under random routes (so that the
    // lookups walk as deep as the table does), the same for both.
    let mut rng = Rng(99);
    let mut dest = || {
        let (p, d, _) = table[(rng.next() % table.len() as u64) as usize];
        p | ((u128::from(rng.next()) << 64 | u128::from(rng.next())) & !graph_nodes::lpm6::mask(d))
    };
    let probe: Vec<u128> = (0..1 << 16).map(|_| dest()).collect();
    let probe_b: Vec<[u8; 16]> = probe.iter().map(|a| a.to_be_bytes()).collect();
    let hits = probe.iter().filter(|&&a| ours.lookup(a).is_some()).count();
    assert_eq!(probe.len() - hits, rte.single(&probe_b) as usize, "the two tables disagree");
    for (a, b) in probe.iter().zip(&probe_b).take(4096) {
        let mut nh = 0u32;
        // SAFETY: a live table and a 16-byte address.
        let rc = unsafe { dpdk_sys::rte_lpm6_lookup(rte.0, b.as_ptr(), &mut nh) };
        assert_eq!(ours.lookup(*a), (rc == 0).then_some(nh), "the same next hop");
    }
    println!(
        "{} routes in both; groups used: ours {}; add: ours {add_ours:.0} cycles, rte_lpm6 {add_rte:.0}; {:.1}% of destinations hit",
        table.len(),
        GROUPS - ours.tbl8_free(),
        100.0 * hits as f64 / probe.len() as f64
    );
    let mut res: [Vec<f64>; 4] = Default::default();
    let mut out = vec![0u32; 256];
    let mut batch = vec![0u128; N];
    let mut batch_b = vec![[0u8; 16]; N];
    for _ in 0..rounds {
        let mut acc = [0u64; 4];
        for _ in 0..256 {
            for (a, b) in batch.iter_mut().zip(batch_b.iter_mut()) {
                *a = dest();
                *b = a.to_be_bytes();
            }
            let mut miss = 0u32;
            let t = |f: &mut dyn FnMut() -> u32, acc: &mut u64, miss: &mut u32| {
                let t0 = clock::cycles();
                *miss += f();
                *acc += clock::cycles() - t0;
            };
            let (o, r, b, bb) = (&ours, &rte, &batch, &batch_b);
            t(&mut || b.iter().map(|&a| u32::from(o.lookup(a).is_none())).sum(), &mut acc[0], &mut miss);
            t(&mut || r.single(bb), &mut acc[1], &mut miss);
            t(
                &mut || {
                    let mut m = 0;
                    for c in b.chunks_exact(32) {
                        o.lookup_bulk(c, &mut out[..32], u32::MAX);
                        m += out[..32].iter().filter(|&&x| x == u32::MAX).count() as u32;
                    }
                    m
                },
                &mut acc[2],
                &mut miss,
            );
            t(&mut || r.bulk(bb, 32), &mut acc[3], &mut miss);
            black_box(miss);
        }
        for (v, a) in res.iter_mut().zip(acc) {
            v.push(a as f64 / (256.0 * N as f64));
        }
    }
    let m: Vec<f64> = res.into_iter().map(median).collect();
    println!("| lookup | ours cycles | rte_lpm6 cycles | ours/rte_lpm6 |");
    println!("|---|---:|---:|---:|");
    for (name, i) in [("single", 0), ("bulk, batches of 32", 2)] {
        println!("| {name} | {:.1} | {:.1} | {:.2} |", m[i], m[i + 1], m[i] / m[i + 1]);
    }
}
