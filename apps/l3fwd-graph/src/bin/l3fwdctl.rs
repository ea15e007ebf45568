//! l3fwdctl: a running l3fwd-graph's statistics, VPP-style (see
//! [`l3fwd_graph::ctl`]).

fn main() -> std::process::ExitCode {
    l3fwd_graph::ctl::main_with_args(std::env::args().collect())
}
