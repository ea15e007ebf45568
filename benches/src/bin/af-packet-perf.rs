//! One-way AF_PACKET frame rate of our af_packet backend, for side-by-side
//! runs against dpdk-testpmd's net_af_packet (`compare-af-packet.sh`).
//!
//! ```text
//! af-packet-perf tx IFACE SECS [CPU]   # send 60-byte frames as fast as the ring takes them
//! af-packet-perf rx IFACE SECS [CPU]   # count frames received
//! ```
//! Prints one JSON line: `{"mode", "iface", "frames", "secs", "fps",
//! "pps_median"}`; `pps_median` is the median of the per-second counts of
//! the seconds that moved frames, first and last excepted (steady state).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use graph_core::Objs;
use graph_nodes::mempool::free_bulk;
use graph_nodes::pkt::Pkt;
use graph_nodes::port::{Port, PortConfig};
use graph_nodes::wire::Udp4;
use graph_nodes::{lcore, Mempool, PoolConfig};

fn main() -> ExitCode {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 || !matches!(a[1].as_str(), "tx" | "rx") {
        eprintln!("usage: af-packet-perf tx|rx IFACE SECS [CPU]");
        return ExitCode::from(2);
    }
    let (mode, iface) = (a[1].as_str(), a[2].as_str());
    let Ok(secs) = a[3].parse::<f64>() else {
        eprintln!("af-packet-perf: SECS \"{}\" is not a number", a[3]);
        return ExitCode::from(2);
    };
    if let Some(cpu) = a.get(4).and_then(|c| c.parse().ok()) {
        core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
    }
    let _l = lcore::register(0).expect("lcore");
    let pool =
        Mempool::new("afperf", &PoolConfig { size: 8192, cache_size: 256, ..PoolConfig::default() }).expect("pool");
    let spec = format!("af_packet:iface={iface}");
    let cfg = match mode {
        "tx" => PortConfig { nb_rxq: 0, ..PortConfig::parse(&spec).expect("spec") },
        _ => PortConfig { nb_txq: 0, ..PortConfig::parse(&spec).expect("spec") },
    };
    let port = match Port::open(0, &cfg, &pool) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("af-packet-perf: {e}");
            return ExitCode::FAILURE;
        }
    };
    let frame = Udp4::default().build();
    let end = Duration::from_secs_f64(secs);
    let mut frames = 0u64;
    let mut buf: Vec<Pkt> = Vec::with_capacity(32);
    let t0 = Instant::now();
    let mut per_sec: Vec<u64> = Vec::new();
    let mut tick = |frames: u64| {
        let s = t0.elapsed().as_secs() as usize;
        if per_sec.len() <= s {
            per_sec.resize(s + 1, frames);
        }
    };
    if mode == "tx" {
        let mut q = port.take_tx_queue(0).expect("tx queue");
        while t0.elapsed() < end {
            let Ok(mut fresh) = pool.alloc_bulk(32) else {
                continue;
            };
            for m in fresh.iter_mut() {
                m.set_data(&frame);
            }
            let n = q.tx_burst_vec(&mut fresh);
            free_bulk(Objs::from_vec(&mut fresh));
            frames += n as u64;
            tick(frames);
        }
    } else {
        let mut q = port.take_rx_queue(0).expect("rx queue");
        while t0.elapsed() < end {
            let n = q.rx_burst_vec(&mut buf, 32);
            frames += n as u64;
            free_bulk(Objs::from_vec(&mut buf));
            tick(frames);
        }
    }
    let s = t0.elapsed().as_secs_f64();
    // per_sec[i] is the running count when second i started.
    per_sec.push(frames);
    let mut rates: Vec<u64> = per_sec.windows(2).map(|w| w[1] - w[0]).filter(|&r| r > 0).collect();
    if rates.len() > 2 {
        rates = rates[1..rates.len() - 1].to_vec();
    }
    rates.sort_unstable();
    let median = rates.get(rates.len() / 2).copied().unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({"mode": mode, "iface": iface, "frames": frames, "secs": s, "fps": frames as f64 / s, "pps_median": median})
    );
    ExitCode::SUCCESS
}
