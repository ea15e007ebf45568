//! # graph-nodes: packets, ports and the stock nodes on graph-core
//!
//! - [`mbuf`]: packet buffers laid out like `rte_mbuf`;
//! - [`mempool`]: fixed pools with per-lcore caches;
//! - [`lcore`]: per-thread lcore ids;
//! - [`port`]: ethdev-like ports and their backends.

pub mod lcore;
pub mod mbuf;
pub mod mempool;
pub mod port;
pub mod wire;

pub use mbuf::Mbuf;
pub use mempool::{Mempool, PoolConfig, PoolError};
