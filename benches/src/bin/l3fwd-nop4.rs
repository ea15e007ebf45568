//! l3fwd-graph with four no-op features on each of the router's three
//! arcs, off unless the config enables them (see `l3fwd-nop1`).

benches::nop_features! {
    NOP_ETH_0, F_ETH_0, "nop_eth_0", "eth_input";
    NOP_ETH_1, F_ETH_1, "nop_eth_1", "eth_input";
    NOP_ETH_2, F_ETH_2, "nop_eth_2", "eth_input";
    NOP_ETH_3, F_ETH_3, "nop_eth_3", "eth_input";
    NOP_IN_0, F_IN_0, "nop_in_0", "ip4_input";
    NOP_IN_1, F_IN_1, "nop_in_1", "ip4_input";
    NOP_IN_2, F_IN_2, "nop_in_2", "ip4_input";
    NOP_IN_3, F_IN_3, "nop_in_3", "ip4_input";
    NOP_OUT_0, F_OUT_0, "nop_out_0", "ip4_output";
    NOP_OUT_1, F_OUT_1, "nop_out_1", "ip4_output";
    NOP_OUT_2, F_OUT_2, "nop_out_2", "ip4_output";
    NOP_OUT_3, F_OUT_3, "nop_out_3", "ip4_output";
}

fn main() -> std::process::ExitCode {
    l3fwd_graph::main()
}
