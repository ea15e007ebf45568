//! l3fwd-graph with one no-op feature on each of the router's three arcs
//! (`nop_eth_0`, `nop_in_0`, `nop_out_0`), off unless the config enables
//! them: `benches/compare-arcs.sh` measures what a disabled and an
//! enabled feature cost.

benches::nop_features! {
    NOP_ETH_0, F_ETH_0, "nop_eth_0", "eth_input";
    NOP_IN_0, F_IN_0, "nop_in_0", "ip4_input";
    NOP_OUT_0, F_OUT_0, "nop_out_0", "ip4_output";
}

fn main() -> std::process::ExitCode {
    l3fwd_graph::main()
}
