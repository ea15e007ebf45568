//! The whole command-line program, as a library function: EAL start,
//! configuration, the demo, statistics, the control socket, exit codes.
//!
//! ```text
//! l3fwd-graph                        # the embedded demo: two generator ports, 3 s
//! l3fwd-graph -f router.toml         # ports, lcores, routes from a file
//! l3fwd-graph -f router.toml -p 0x3 --config="(0,0,1),(1,0,1)" --eth-dest=0,52:00:00:00:00:01
//! ```
//!
//! See `docs/l3fwd-graph.md` and `examples/l3fwd-graph.toml`.

use std::process::ExitCode;

use crate::cli::{self, CliError};
use crate::config;
use crate::run::{self, RunError};

/// Initialises the EAL when there are EAL arguments (DPDK mode).
#[cfg(feature = "dpdk")]
fn start_eal(argv0: &str, eal: &[String], cpus: Vec<usize>) -> Result<config::Env, String> {
    use graph_nodes::dpdk;
    if eal.is_empty() {
        return Ok(config::Env::with_cpus(cpus));
    }
    let mut argv = vec![argv0.to_string()];
    argv.extend_from_slice(eal);
    dpdk::eal_init(&argv).map_err(|e| e.to_string())?;
    let lcores = (0..graph_nodes::lcore::MAX_LCORE as u32).filter(|&l| dpdk::lcore_enabled(l)).collect();
    let mut env = config::Env::with_cpus(cpus);
    env.dpdk = Some(config::DpdkEnv { nb_ports: dpdk::eth_dev_count(), lcores, main_lcore: dpdk::main_lcore() });
    Ok(env)
}

/// Without the dpdk feature there is no EAL to start.
#[cfg(not(feature = "dpdk"))]
fn start_eal(_argv0: &str, eal: &[String], cpus: Vec<usize>) -> Result<config::Env, String> {
    if !eal.is_empty() {
        return Err(format!(
            "EAL arguments ({}) need a build with the dpdk feature (cargo build --features dpdk)",
            eal.join(" ")
        ));
    }
    Ok(config::Env::with_cpus(cpus))
}

fn fail(code: u8, msg: &str) -> ExitCode {
    run::warn(&format!("l3fwd-graph: {msg}"));
    ExitCode::from(code)
}

/// Runs l3fwd-graph with the process's arguments and returns its exit
/// status (0 done, 1 a failure while forwarding, 2 a bad start). A router
/// with nodes of its own is this program linked with them:
///
/// ```no_run
/// // use my_nodes as _; // keeps a node crate the binary never names linked
/// fn main() -> std::process::ExitCode {
///     l3fwd_graph::main()
/// }
/// ```
pub fn main() -> ExitCode {
    main_with_args(std::env::args().collect())
}

/// [`main`] with explicit arguments (`args[0]` the program name).
pub fn main_with_args(args: Vec<String>) -> ExitCode {
    let inv = match cli::parse(&args) {
        Ok(i) => i,
        Err(CliError::Help(h)) => {
            run::out(&h);
            return ExitCode::SUCCESS;
        }
        Err(CliError::Bad(e)) => return fail(2, &e),
    };
    let (eal, cli, bare) = (inv.eal, inv.cli, inv.bare);
    let demo = cli.demo || bare;
    let o = &cli.overrides;
    let file = match &cli.file {
        Some(path) => match config::read_file(path) {
            Ok(f) => f,
            Err(e) => return fail(2, &e.to_string()),
        },
        // No file: DPDK's ports with EAL arguments, else the demo's.
        None if !eal.is_empty() => config::FileConfig::default(),
        None => config::demo_file(),
    };
    // The CPUs of this process's affinity mask (taskset, cgroups), not of
    // the machine.
    let cpus: Vec<usize> = core_affinity::get_core_ids().unwrap_or_default().into_iter().map(|c| c.id).collect();
    // EAL arguments: before `--`, or the file's `eal` list.
    let eal_args: Vec<String> = if eal.is_empty() { file.eal.clone().unwrap_or_default() } else { eal };
    let env = match start_eal(&args[0], &eal_args, cpus) {
        Ok(e) => e,
        Err(e) => return fail(2, &e),
    };
    let dpdk_mode = env.dpdk.is_some();
    let mut plan = match config::plan(&file, o, &env) {
        Ok(p) => p,
        Err(e) => return fail(2, &e.to_string()),
    };
    if demo && plan.duration.is_none() {
        plan.duration = Some(3.0);
    }
    if demo && !cli.quiet {
        run::out(&format!(
            "l3fwd-graph demo: {} generator ports, {} worker lcore(s) on CPU(s) {:?}, routes 198.18.N.0/24 -> port N, for {} s\n",
            plan.ports.len(),
            plan.lcores.len(),
            plan.lcores.iter().map(|l| l.cpu).collect::<Vec<_>>(),
            plan.duration.unwrap_or(0.0)
        ));
    }
    match run::run(&plan, cli.quiet, dpdk_mode) {
        Ok(out) => {
            run::out(&out.report.summary());
            if let Some(path) = &plan.stats_json {
                if let Err(e) = out.report.write_json(path) {
                    return fail(1, &format!("--stats-json {}: {e}", path.display()));
                }
            }
            if out.failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                fail(1, &out.failures.join("; "))
            }
        }
        Err(RunError::Setup(e)) => fail(2, &e),
        Err(RunError::Runtime(e)) => fail(1, &e),
    }
}
