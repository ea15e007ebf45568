//! The command line: EAL arguments before `--`, then DPDK l3fwd-graph's
//! flags and ours.

use std::path::PathBuf;

use clap::Parser;

use crate::config::Overrides;

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
    /// Print only the final summary.
    #[arg(short, long)]
    pub quiet: bool,
    /// DPDK l3fwd-graph's flags and ours that override the file.
    #[command(flatten)]
    pub overrides: Overrides,
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
