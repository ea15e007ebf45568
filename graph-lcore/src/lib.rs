//! # graph-lcore: what runs on an lcore beside the graph walk
//!
//! graph-core is the runtime: nodes, graphs, the walk, statistics. This
//! crate holds the services a worker lcore runs around the walk, which the
//! runtime itself does not need:
//!
//! - [`task`]: cooperative tasks interleaved with the walk
//!   ([`task::LcoreLoop`]): timers, channels, file I/O on a helper thread,
//!   and access to the lcore's graph between walks (VPP's process nodes);
//! - [`qsbr`]: quiescent-state-based reclamation (DPDK's `rte_rcu_qsbr`),
//!   which `LcoreLoop` reports every round, so writers of shared tables
//!   (the LPM) know when readers have moved on;
//! - CPU affinity of the helper threads (kept off the lcore's CPU).

#![warn(missing_docs)]

mod affinity;
pub mod qsbr;
pub mod task;
