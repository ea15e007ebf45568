//! l3fwd-graph: DPDK's l3fwd-graph on rgraph. The program is the library's
//! [`l3fwd_graph::main`]; a router with nodes of its own links them and
//! calls the same function.

fn main() -> std::process::ExitCode {
    l3fwd_graph::main()
}
