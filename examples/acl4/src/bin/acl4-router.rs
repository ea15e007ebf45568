//! l3fwd-graph with the `acl4` feature linked in: everything the stock
//! binary has (EAL, demo, flags, stats, control socket), plus the node.

use acl4 as _; // keeps the node crate linked: nothing else names it

fn main() -> std::process::ExitCode {
    l3fwd_graph::main()
}
