//! # graph-nodes: packets, ports and the stock nodes on graph-core
//!
//! A packet's path through `l3fwd-graph`:
//!
//! ```text
//!  ethdev_rx-P-Q ──► pkt_cls ──► ip4_lookup ──► ip4_rewrite ──► ethdev_tx-P'
//!   rx burst,         by          RFC 1812      MACs, TTL-1,     tx burst
//!   parse, strip      packet      checks, LPM   checksum, MTU    │
//!   one VLAN tag      type        │             │                 ▼
//!                     └───────────┴─────────────┴──────────► pkt_drop (free)
//! ```
//!
//! IPv6 takes `pkt_cls` → `ip6_lookup` ([`lpm6`]) → `ip6_rewrite` →
//! `ethdev_tx`. Beside these paths, for a router with interface addresses
//! ([`neigh`]): `pkt_cls` → `arp_input` (ARP answered and learned,
//! [`arp`]); `ip6_lookup` → `ndp_input` (neighbour discovery, [`ndp`]);
//! `ip4_lookup`/`ip6_lookup` → `ip4_local`/`ip6_local` (our addresses:
//! echo answered) and `icmp4_error`/`icmp6_error` (TTL or hop limit
//! expired, no route; [`icmp4`], [`icmp6`]); `ip4_rewrite`/`ip6_rewrite`
//! → `ip4_arp`/`ip6_nd` (next hop being resolved) and the error nodes
//! (fragmentation needed, packet too big); `neigh_tick`, a source node,
//! runs the neighbour timers.
//!
//! Every packet is transmitted or freed by `pkt_drop`, and each node that
//! sends one to `pkt_drop` counts it under a named reason.
//!
//! - [`pkt`]: [`Pkt`](pkt::Pkt), the owned packet handle nodes work on;
//! - [`mbuf`]: packet buffers laid out like `rte_mbuf`;
//! - [`mempool`]: fixed pools with per-lcore caches;
//! - [`lcore`]: per-thread lcore ids;
//! - [`port`]: ethdev-like ports and their backends;
//! - [`lpm`]: DIR-24-8 longest-prefix match; [`lpm6`]: its IPv6 trie;
//! - [`wire`]: checked zero-copy header views and frame builders;
//! - [`neigh`]: interface addresses and the neighbour table;
//! - the nodes, one module each, and [`eth_config`] to describe ports to
//!   them and gather what their graphs' environments hold.

pub mod arp;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod eth_config;
pub mod ethdev_rx;
pub mod ethdev_tx;
pub mod feature;
pub mod icmp4;
pub mod icmp6;
pub mod ip4_lookup;
pub mod ip4_rewrite;
pub mod ip6_lookup;
pub mod ip6_rewrite;
pub mod lcore;
pub mod lpm;
pub mod lpm6;
pub mod mbuf;
pub mod mempool;
pub mod ndp;
pub mod neigh;
pub mod pkt;
pub mod pkt_cls;
pub mod pkt_drop;
pub mod port;
pub mod wire;

pub use mbuf::Mbuf;

/// Prints a warning on standard error, ignoring failures (`eprintln!`
/// would panic on a closed stderr, and a warning must never stop a port).
pub(crate) fn warn(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut e = std::io::stderr().lock();
    let _ = e.write_fmt(args).and_then(|()| e.write_all(b"\n"));
}

/// `docs/writing-a-packet-node.md`, compiled and run as a doc-test.
#[cfg(doctest)]
#[doc = include_str!("../../docs/writing-a-packet-node.md")]
pub struct WritingAPacketNode;
pub use mempool::{Mempool, PoolConfig, PoolError};
