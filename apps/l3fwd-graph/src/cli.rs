//! The command line: EAL arguments before `--`, then DPDK l3fwd-graph's
//! flags and ours.

use std::path::PathBuf;

use clap::Parser;

use crate::config::{self, ConfigError, Overrides};

#[derive(Parser, Debug)]
#[command(
    name = "l3fwd-graph",
    about = "IPv4 router on graph nodes (DPDK's l3fwd-graph)",
    after_help = "With no arguments (or --demo) it forwards generated traffic between two generator ports for 3 s."
)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Run the embedded demo (also the default with no arguments).
    #[arg(long)]
    pub demo: bool,
    /// Hexadecimal mask of the ports to use (DPDK's -p).
    #[arg(short = 'p', value_name = "PORTMASK")]
    pub portmask: Option<String>,
    /// (port,queue,lcore)[,(port,queue,lcore)...]: which lcore polls which rx queue.
    #[arg(long = "config", value_name = "(PORT,QUEUE,LCORE),...")]
    pub config: Option<String>,
    /// Promiscuous mode (accepted for DPDK compatibility; our backends
    /// receive every frame).
    #[arg(short = 'P')]
    pub promiscuous: bool,
    /// Neighbour MAC of a port: PORT,MAC. Repeatable.
    #[arg(long = "eth-dest", value_name = "PORT,MAC")]
    pub eth_dest: Vec<String>,
    /// Largest frame length; sets every port's MTU to this minus 18.
    #[arg(long = "max-pkt-len", value_name = "BYTES")]
    pub max_pkt_len: Option<u32>,
    /// One packet pool per port.
    #[arg(long = "per-port-pool")]
    pub per_port_pool: bool,
    /// Accepted for DPDK compatibility (no NUMA here).
    #[arg(long = "no-numa")]
    pub no_numa: bool,
    /// Write the final statistics as JSON to FILE.
    #[arg(long = "stats-json", value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
    /// Seconds between statistics tables (0: only at exit).
    #[arg(long = "stats-interval", value_name = "SECS")]
    pub stats_interval: Option<f64>,
    /// Stop after SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Stop once every finite input (pcap not looped) has been read and forwarded.
    #[arg(long = "exit-on-eof")]
    pub exit_on_eof: bool,
    /// Rx burst size.
    #[arg(long, value_name = "N")]
    pub burst: Option<usize>,
    /// Buffers in the packet pool.
    #[arg(long = "pool-size", value_name = "N")]
    pub pool_size: Option<u32>,
    /// Print only the final summary.
    #[arg(short, long)]
    pub quiet: bool,
    /// Listen for control commands on this Unix socket.
    #[arg(long = "control-socket", value_name = "PATH")]
    pub control_socket: Option<PathBuf>,
    /// Append a JSON line of statistics to FILE every second.
    #[arg(long = "stats-jsonl", value_name = "FILE")]
    pub stats_jsonl: Option<PathBuf>,
    /// Walks between two looks at each lcore's tasks.
    #[arg(long = "walks-per-poll", value_name = "N")]
    pub walks_per_poll: Option<u32>,
    /// Measurement: run busy tasks on every lcore (a 1 ms timer, a file
    /// writer, route updates every 10 ms).
    #[arg(long = "task-load", hide = true)]
    pub task_load: bool,
}

/// The flags as configuration overrides.
pub fn overrides(cli: &Cli) -> Result<Overrides, ConfigError> {
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
        control_socket: cli.control_socket.clone(),
        stats_jsonl: cli.stats_jsonl.clone(),
        walks_per_poll: cli.walks_per_poll,
        task_load: cli.task_load,
    })
}

/// A parsed command line.
#[derive(Debug)]
pub struct Invocation {
    /// EAL arguments (before `--`).
    pub eal: Vec<String>,
    /// The application's flags.
    pub cli: Cli,
    /// No arguments at all (the demo).
    pub bare: bool,
}

/// Why the command line did not parse.
#[derive(Debug)]
pub enum CliError {
    /// `--help` or `--version`: print this and exit 0.
    Help(String),
    /// A bad flag or value: one line.
    Bad(String),
}

/// Parses `args` (`argv[0]` first).
pub fn parse(args: &[String]) -> Result<Invocation, CliError> {
    let argv0 = args.first().cloned().unwrap_or_else(|| "l3fwd-graph".into());
    let (eal, app): (Vec<String>, Vec<String>) = match args.iter().position(|a| a == "--") {
        Some(i) => (args[1..i].to_vec(), std::iter::once(argv0).chain(args[i + 1..].iter().cloned()).collect()),
        None => (Vec::new(), std::iter::once(argv0).chain(args.iter().skip(1).cloned()).collect()),
    };
    let bare = app.len() == 1 && eal.is_empty();
    match Cli::try_parse_from(&app) {
        Ok(cli) => Ok(Invocation { eal, cli, bare }),
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            Err(CliError::Help(e.to_string()))
        }
        Err(e) => {
            let first =
                e.to_string().lines().next().unwrap_or("bad arguments").trim_start_matches("error: ").to_string();
            Err(CliError::Bad(first))
        }
    }
}
