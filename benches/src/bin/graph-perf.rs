//! graph-perf: DPDK's `graph_perf_autotest` on graph-core.
//!
//! ```text
//! cargo run --release -p benches --bin graph-perf -- [--json] [--topology NAME] [--no-stats]
//! ```
//!
//! Each topology is built, walked on a pinned worker thread (CPU 1 by
//! default, as DPDK's `-l 0,1`), warmed up 0.3 s and measured 1 s. Prints
//! DPDK's stats table per topology, or with `--json` one object per line:
//! `{"topology", "mobjs_per_sec", "nodes": [{"name", "calls", "objs",
//! "realloc_count", "cycles_per_call"}]}`.

use std::process::ExitCode;
use std::time::Duration;

use benches::{run, topologies, RunConfig};
use clap::Parser;

#[derive(Parser)]
#[command(about = "DPDK's graph_perf_autotest topologies on graph-core")]
struct Args {
    /// One JSON object per topology per line instead of tables.
    #[arg(long)]
    json: bool,
    /// Run only this topology (DPDK's test-case name).
    #[arg(long)]
    topology: Option<String>,
    /// Walk with node statistics off.
    #[arg(long)]
    no_stats: bool,
    /// Warm-up seconds.
    #[arg(long, default_value_t = 0.3)]
    warmup: f64,
    /// Measured seconds.
    #[arg(long, default_value_t = 1.0)]
    duration: f64,
    /// CPU for the worker thread (-1: do not pin).
    #[arg(long, default_value_t = 1, allow_hyphen_values = true)]
    worker_cpu: i64,
    /// CPU for the main thread (-1: do not pin).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    main_cpu: i64,
    /// List the topologies and exit.
    #[arg(long)]
    list: bool,
}

fn secs(name: &str, v: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v).map_err(|_| format!("--{name} {v}: not a duration in seconds"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let all = topologies();
    if args.list {
        for t in &all {
            println!("{}", t.name);
        }
        return ExitCode::SUCCESS;
    }
    let ncpu = core_affinity::get_core_ids().map(|v| v.len()).unwrap_or(1);
    let cpu = |name: &str, v: i64| -> Result<Option<usize>, String> {
        match v {
            -1 => Ok(None),
            v if v >= 0 && (v as usize) < ncpu => Ok(Some(v as usize)),
            v => Err(format!("--{name} {v}: this machine has CPUs 0..{}", ncpu - 1)),
        }
    };
    let cfg = (|| -> Result<RunConfig, String> {
        Ok(RunConfig {
            warmup: secs("warmup", args.warmup)?,
            duration: secs("duration", args.duration)?,
            stats: !args.no_stats,
            worker_cpu: cpu("worker-cpu", args.worker_cpu)?,
        })
    })();
    let cfg = match cfg.and_then(|c| cpu("main-cpu", args.main_cpu).map(|m| (c, m))) {
        Ok((c, main)) => {
            if let Some(m) = main {
                core_affinity::set_for_current(core_affinity::CoreId { id: m });
            }
            c
        }
        Err(e) => {
            eprintln!("graph-perf: {e}");
            return ExitCode::from(2);
        }
    };
    let selected: Vec<_> = match &args.topology {
        Some(name) => match all.iter().find(|t| t.name == name) {
            Some(t) => vec![t.clone()],
            None => {
                eprintln!("graph-perf: --topology {name}: unknown (try --list)");
                return ExitCode::from(2);
            }
        },
        None => all,
    };
    for t in &selected {
        let r = match run(t, &cfg) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("graph-perf: {}: {e}", t.name);
                return ExitCode::FAILURE;
            }
        };
        if args.json {
            let nodes: Vec<_> = r
                .nodes
                .iter()
                .map(|n| {
                    serde_json::json!({
                        "name": n.name,
                        "calls": n.calls,
                        "objs": n.objs,
                        "realloc_count": n.realloc_count,
                        "cycles_per_call": n.cycles_per_call,
                    })
                })
                .collect();
            let line = serde_json::json!({
                "topology": r.topology,
                "mobjs_per_sec": r.mobjs_per_sec,
                "stats": cfg.stats,
                "walks_per_sec": r.walks_per_sec,
                "nodes": nodes,
            });
            println!("{line}");
        } else {
            print!("{}", graph_core::format_table(&r.nodes));
            println!(
                " + {}: {:.3} Mobjs/s at the sinks ({:.3} M walks/s)\n",
                r.topology,
                r.mobjs_per_sec,
                r.walks_per_sec / 1e6
            );
        }
    }
    ExitCode::SUCCESS
}
