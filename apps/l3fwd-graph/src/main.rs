//! l3fwd-graph: DPDK's l3fwd-graph on rgraph.
//!
//! ```text
//! l3fwd-graph                        # the embedded demo: two generator ports, 3 s
//! l3fwd-graph -f router.toml         # ports, lcores, routes from a file
//! l3fwd-graph -f router.toml -p 0x3 --config="(0,0,1),(1,0,1)" --eth-dest=0,52:00:00:00:00:01
//! ```
//!
//! See `docs/l3fwd-graph.md` and `examples/l3fwd-graph.toml`.

mod config;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use config::{ConfigError, Overrides};
use run::RunError;

#[derive(Parser, Debug)]
#[command(
    name = "l3fwd-graph",
    about = "IPv4 router on graph nodes (DPDK's l3fwd-graph)",
    after_help = "With no arguments (or --demo) it forwards generated traffic between two generator ports for 3 s."
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Run the embedded demo (also the default with no arguments).
    #[arg(long)]
    demo: bool,
    /// Hexadecimal mask of the ports to use (DPDK's -p).
    #[arg(short = 'p', value_name = "PORTMASK")]
    portmask: Option<String>,
    /// (port,queue,lcore)[,(port,queue,lcore)...]: which lcore polls which rx queue.
    #[arg(long = "config", value_name = "(PORT,QUEUE,LCORE),...")]
    config: Option<String>,
    /// Promiscuous mode (accepted for DPDK compatibility; our backends
    /// receive every frame).
    #[arg(short = 'P')]
    promiscuous: bool,
    /// Neighbour MAC of a port: PORT,MAC. Repeatable.
    #[arg(long = "eth-dest", value_name = "PORT,MAC")]
    eth_dest: Vec<String>,
    /// Largest frame length; sets every port's MTU to this minus 18.
    #[arg(long = "max-pkt-len", value_name = "BYTES")]
    max_pkt_len: Option<u32>,
    /// One packet pool per port.
    #[arg(long = "per-port-pool")]
    per_port_pool: bool,
    /// Accepted for DPDK compatibility (no NUMA here).
    #[arg(long = "no-numa")]
    no_numa: bool,
    /// Write the final statistics as JSON to FILE.
    #[arg(long = "stats-json", value_name = "FILE")]
    stats_json: Option<PathBuf>,
    /// Seconds between statistics tables (0: only at exit).
    #[arg(long = "stats-interval", value_name = "SECS")]
    stats_interval: Option<f64>,
    /// Stop after SECS seconds.
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Stop once every finite input (pcap not looped) has been read and forwarded.
    #[arg(long = "exit-on-eof")]
    exit_on_eof: bool,
    /// Rx burst size.
    #[arg(long, value_name = "N")]
    burst: Option<usize>,
    /// Buffers in the packet pool.
    #[arg(long = "pool-size", value_name = "N")]
    pool_size: Option<u32>,
    /// Print only the final summary.
    #[arg(short, long)]
    quiet: bool,
}

fn overrides(cli: &Cli) -> Result<Overrides, ConfigError> {
    Ok(Overrides {
        portmask: cli.portmask.as_deref().map(config::parse_portmask).transpose()?,
        config: cli.config.as_deref().map(config::parse_dpdk_config).transpose()?,
        promiscuous: cli.promiscuous,
        eth_dest: cli.eth_dest.iter().map(|s| config::parse_eth_dest(s)).collect::<Result<_, _>>()?,
        max_pkt_len: cli.max_pkt_len,
        per_port_pool: cli.per_port_pool,
        stats_json: cli.stats_json.clone(),
        stats_interval: cli.stats_interval,
        duration: cli.duration,
        exit_on_eof: cli.exit_on_eof,
        burst: cli.burst,
        pool_size: cli.pool_size,
    })
}

/// Initialises the EAL when there are EAL arguments (DPDK mode).
#[cfg(feature = "dpdk")]
fn start_eal(argv0: &str, eal: &[String], ncpu: usize) -> Result<config::Env, String> {
    use graph_nodes::dpdk;
    if eal.is_empty() {
        return Ok(config::Env::native(ncpu));
    }
    let mut argv = vec![argv0.to_string()];
    argv.extend_from_slice(eal);
    dpdk::eal_init(&argv).map_err(|e| e.to_string())?;
    let lcores = (0..graph_nodes::lcore::MAX_LCORE as u32).filter(|&l| dpdk::lcore_enabled(l)).collect();
    Ok(config::Env {
        ncpu,
        dpdk: Some(config::DpdkEnv { nb_ports: dpdk::eth_dev_count(), lcores, main_lcore: dpdk::main_lcore() }),
    })
}

/// Without the dpdk feature there is no EAL to start.
#[cfg(not(feature = "dpdk"))]
fn start_eal(_argv0: &str, eal: &[String], ncpu: usize) -> Result<config::Env, String> {
    if !eal.is_empty() {
        return Err(format!(
            "EAL arguments ({}) need a build with the dpdk feature (cargo build --features dpdk)",
            eal.join(" ")
        ));
    }
    Ok(config::Env::native(ncpu))
}

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("l3fwd-graph: {msg}");
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // EAL arguments come before `--`, as in every DPDK application.
    let (eal, app): (Vec<String>, Vec<String>) = match args.iter().position(|a| a == "--") {
        Some(i) => {
            (args[1..i].to_vec(), std::iter::once(args[0].clone()).chain(args[i + 1..].iter().cloned()).collect())
        }
        None => (Vec::new(), args.clone()),
    };
    let cli = match Cli::try_parse_from(&app) {
        Ok(c) => c,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            print!("{e}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let first =
                e.to_string().lines().next().unwrap_or("bad arguments").trim_start_matches("error: ").to_string();
            return fail(2, &first);
        }
    };
    let demo = cli.demo || (app.len() == 1 && eal.is_empty());
    let o = match overrides(&cli) {
        Ok(o) => o,
        Err(e) => return fail(2, &e.0),
    };
    let file = match &cli.file {
        Some(path) => match config::read_file(path) {
            Ok(f) => f,
            Err(e) => return fail(2, &e.0),
        },
        // No file: DPDK's ports with EAL arguments, else the demo's.
        None if !eal.is_empty() => config::FileConfig::default(),
        None => config::demo_file(),
    };
    let ncpu = core_affinity::get_core_ids().map(|v| v.len()).unwrap_or(1).max(1);
    // EAL arguments: before `--`, or the file's `eal` list.
    let eal_args: Vec<String> = if eal.is_empty() { file.eal.clone().unwrap_or_default() } else { eal };
    let env = match start_eal(&args[0], &eal_args, ncpu) {
        Ok(e) => e,
        Err(e) => return fail(2, &e),
    };
    let dpdk_mode = env.dpdk.is_some();
    let mut plan = match config::plan(&file, &o, &env) {
        Ok(p) => p,
        Err(e) => return fail(2, &e.0),
    };
    if demo && plan.duration.is_none() {
        plan.duration = Some(3.0);
    }
    if demo && !cli.quiet {
        println!(
            "l3fwd-graph demo: {} generator ports, {} worker lcore(s) on CPU(s) {:?}, routes 198.18.N.0/24 -> port N, for {} s",
            plan.ports.len(),
            plan.lcores.len(),
            plan.lcores.iter().map(|l| l.cpu).collect::<Vec<_>>(),
            plan.duration.unwrap_or(0.0)
        );
    }
    match run::run(&plan, cli.quiet, dpdk_mode) {
        Ok(report) => {
            print!("{}", run::summary(&report));
            if let Some(path) = &plan.stats_json {
                if let Err(RunError::Runtime(e) | RunError::Setup(e)) = run::write_json(path, &report) {
                    return fail(1, &e);
                }
            }
            ExitCode::SUCCESS
        }
        Err(RunError::Setup(e)) => fail(2, &e),
        Err(RunError::Runtime(e)) => fail(1, &e),
    }
}
