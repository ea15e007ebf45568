//! `ethdev_rx`: source node, one clone per (port, queue) named
//! `ethdev_rx-<port>-<queue>`. Receives a burst straight into the stream of
//! its next node and sets the packet type by a software parse where the
//! port gave none: Ethernet, one VLAN tag (stripped: the tag moves to
//! `vlan_tci`, so the frame is routed like an untagged one and leaves
//! untagged), IPv4 with or without options, IPv6, ARP.
//!
//! Uses: nothing. Sets: `port`, `packet_type`, `vlan_tci` and
//! `ol_flags::RX_VLAN | RX_VLAN_STRIPPED` for tagged frames. Next: edge 0,
//! `pkt_cls` by default (change it with `node_edge_update`).

use graph_core::{node, Ctx, InitError, NodeFlags, NodeInfo, Objs};

use crate::eth_config;
use crate::mbuf::{ol_flags, ptype, Mbuf};
use crate::pkt::PktSlice;
use crate::port::{self, RxQueue};
use crate::wire::{be16, ethertype, ETH_HLEN, VLAN_HLEN};

/// Per-clone context: the queue it polls.
pub struct EthdevRxCtx {
    queue: RxQueue,
    burst: usize,
}

impl EthdevRxCtx {
    /// The polled queue.
    pub fn queue(&self) -> &RxQueue {
        &self.queue
    }
}

/// `ethdev_rx-<port>-<queue>` → (port, queue).
pub fn parse_suffix(suffix: &str) -> Option<(u16, u16)> {
    let (p, q) = suffix.split_once('-')?;
    Some((p.parse().ok()?, q.parse().ok()?))
}

fn init(info: &NodeInfo<'_>) -> Result<EthdevRxCtx, InitError> {
    let (p, q) = info
        .clone_suffix()
        .and_then(parse_suffix)
        .ok_or_else(|| format!("{}: expected a clone named ethdev_rx-<port>-<queue>", info.node_name))?;
    let queue = port::get(p)?.take_rx_queue(q)?;
    Ok(EthdevRxCtx { queue, burst: eth_config::rx_burst() })
}

/// Sets `packet_type` from the headers, stripping one VLAN tag.
#[inline(always)]
pub fn parse(m: &mut Mbuf) {
    let d = m.data();
    if d.len() < ETH_HLEN {
        m.set_packet_type(0);
        return;
    }
    let mut et = be16(d, 12);
    if et == ethertype::VLAN || et == ethertype::QINQ {
        if d.len() < ETH_HLEN + VLAN_HLEN {
            m.set_packet_type(ptype::L2_ETHER_VLAN);
            return;
        }
        let inner = be16(d, 16);
        if inner == ethertype::VLAN || inner == ethertype::QINQ {
            // Two tags: not supported (no VLAN configuration yet).
            m.set_packet_type(ptype::L2_ETHER_QINQ);
            return;
        }
        let tci = be16(d, 14);
        let dm = m.data_mut();
        dm.copy_within(0..12, VLAN_HLEN);
        m.adj(VLAN_HLEN as u16);
        m.set_vlan_tci(tci);
        m.set_ol_flags(m.ol_flags() | ol_flags::RX_VLAN | ol_flags::RX_VLAN_STRIPPED);
        et = inner;
    }
    let d = m.data();
    let p = match et {
        ethertype::IPV4 => match d.get(ETH_HLEN) {
            Some(v) if v & 0x0f == 5 => ptype::L2_ETHER | ptype::L3_IPV4,
            Some(_) => ptype::L2_ETHER | ptype::L3_IPV4_EXT,
            None => ptype::L2_ETHER,
        },
        ethertype::IPV6 => ptype::L2_ETHER | ptype::L3_IPV6,
        ethertype::ARP => ptype::L2_ETHER_ARP,
        _ => ptype::L2_ETHER,
    };
    m.set_packet_type(p);
}

fn ethdev_rx(ctx: &mut Ctx<'_>, c: &mut EthdevRxCtx, _objs: Objs<'_>) -> usize {
    let slots = ctx.next_stream_get(0, c.burst);
    let n = c.queue.rx_burst(slots);
    for i in 0..n {
        let m = slots.mbuf(i);
        let p = m.packet_type();
        if p == 0 || p & ptype::L2_MASK == ptype::L2_ETHER_VLAN {
            parse(m);
        }
    }
    ctx.next_stream_put(0, n);
    n
}

node! {
    /// Port receive (`ethdev_rx`); clone it per (port, queue).
    pub static ETHDEV_RX = {
        name: "ethdev_rx",
        flags: NodeFlags::SOURCE,
        context: EthdevRxCtx,
        init: init,
        process: ethdev_rx,
        next: &["pkt_cls"],
    };
}
