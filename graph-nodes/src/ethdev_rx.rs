//! `ethdev_rx`: source node, one clone per (port, queue) named
//! `ethdev_rx-<port>-<queue>`. Receives a burst straight into the stream of
//! its next node, in sub-bursts of 32 (each typed while the driver's
//! writes are still in L1), and sets the packet type by a software parse
//! where the port gave none: Ethernet, one VLAN tag (stripped: the tag moves to
//! `vlan_tci`, so the frame is routed like an untagged one and leaves
//! untagged), IPv4 with or without options, IPv6, ARP.
//!
//! Uses: nothing. Sets: `port`, `packet_type`, `vlan_tci` and
//! `ol_flags::RX_VLAN | RX_VLAN_STRIPPED` for tagged frames. Next: edge 0,
//! `pkt_cls` by default (change it with `node_edge_update`). The start of
//! the `eth_input` feature arc: with a feature on for its port, a burst
//! goes to the first one instead (and `meta.arc_index` is the port).

use graph_core::{node, ArcHook, Ctx, InitError, NodeFlags, NodeInfo, Objs};

use crate::eth_config::RxBurst;
use crate::mbuf::{ol_flags, ptype};
use crate::pkt::Pkt;
use crate::port::{Ports, RxQueue};
use crate::wire::{ethertype, EthernetFrame, VlanTag, ETH_HLEN, VLAN_HLEN};

/// Per-clone context: the queue it polls.
pub struct EthdevRxCtx {
    /// The queue; `None` until a graph this one replaces lets go of it
    /// (see [`Handover`](crate::eth_config::Handover)).
    queue: Option<RxQueue>,
    from: std::sync::Arc<crate::port::Port>,
    q: u16,
    burst: usize,
    port: u16,
    arc: ArcHook,
}

impl EthdevRxCtx {
    /// The polled queue, once held.
    pub fn queue(&self) -> Option<&RxQueue> {
        self.queue.as_ref()
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
    let from = info.env::<Ports>()?.get(p)?;
    let queue = crate::eth_config::take_or_hand_over(info, from.take_rx_queue(q))?;
    let burst = info.env.get::<RxBurst>().copied().unwrap_or_default().0.clamp(1, 1 << 16);
    Ok(EthdevRxCtx { queue, from, q, burst, port: p, arc: ArcHook::start(info, "eth_input")? })
}

/// Sets `packet_type` from the headers, stripping one VLAN tag.
#[inline(always)]
pub fn parse(m: &mut Pkt) {
    let Ok(eth) = EthernetFrame::new_checked(m.data()) else {
        m.set_packet_type(0);
        return;
    };
    let mut et = eth.ethertype();
    if et == ethertype::VLAN || et == ethertype::QINQ {
        let Ok(tag) = VlanTag::new_checked(eth.payload()) else {
            m.set_packet_type(ptype::L2_ETHER_VLAN);
            return;
        };
        let (tci, inner) = (tag.tci(), tag.inner_ethertype());
        if inner == ethertype::VLAN || inner == ethertype::QINQ {
            // Two tags: not supported (no VLAN configuration yet).
            m.set_packet_type(ptype::L2_ETHER_QINQ);
            return;
        }
        // Strip: the addresses move up over the tag.
        m.data_mut().copy_within(0..12, VLAN_HLEN);
        m.adj(VLAN_HLEN as u16);
        m.set_vlan_tci(tci);
        m.set_ol_flags(m.ol_flags() | ol_flags::RX_VLAN | ol_flags::RX_VLAN_STRIPPED);
        et = inner;
    }
    let p = ptype_of(et, m.data().get(ETH_HLEN).copied());
    m.set_packet_type(p);
}

/// The packet type of an untagged frame of EtherType `et` whose network
/// header starts with the byte `first` (`None`: the frame ends before it).
#[inline(always)]
fn ptype_of(et: u16, first: Option<u8>) -> u32 {
    match et {
        ethertype::IPV4 => match first {
            Some(v) if v & 0x0f == 5 => ptype::L2_ETHER | ptype::L3_IPV4,
            Some(_) => ptype::L2_ETHER | ptype::L3_IPV4_EXT,
            None => ptype::L2_ETHER,
        },
        ethertype::IPV6 => ptype::L2_ETHER | ptype::L3_IPV6,
        ethertype::ARP => ptype::L2_ETHER_ARP,
        _ => ptype::L2_ETHER,
    }
}

/// [`parse`]'s answer for a frame of at least 15 bytes without a VLAN tag
/// (one load: the EtherType and the byte after it); `None` sends the rest
/// through `parse`.
#[inline(always)]
fn untagged(d: &[u8]) -> Option<u32> {
    let &[.., e0, e1, v] = d.get(..15)? else { return None };
    let et = u16::from_be_bytes([e0, e1]);
    if et == ethertype::VLAN || et == ethertype::QINQ {
        return None;
    }
    Some(ptype_of(et, Some(v)))
}

fn ethdev_rx(ctx: &mut Ctx<'_, Pkt>, c: &mut EthdevRxCtx, _objs: Objs<'_, Pkt>) -> usize {
    let Some(queue) = c.queue.as_mut() else {
        // Handed over: take the queue once the replaced graph let go.
        if let Ok(q) = c.from.take_rx_queue(c.q) {
            c.queue = Some(q);
        }
        return 0;
    };
    let arc = ctx.arc(&c.arc);
    // Every packet of this queue has the same port: one choice per burst.
    let edge = if arc.any() { c.arc.first(arc, c.port).unwrap_or(0) } else { 0 };
    let slots = ctx.next_stream_uninit(edge, c.burst);
    // Received in sub-bursts, each classified while the lines the driver
    // just wrote are still in L1 (a whole 256-packet burst's three lines
    // each are 48 KiB, more than L1 holds).
    let mut n = 0;
    while n < slots.len() {
        let end = (n + SUB_BURST).min(slots.len());
        let pkts = queue.rx_burst(&mut slots[n..end]);
        classify(pkts);
        if edge != 0 {
            // A feature is on for the port, so the port is an arc index
            // (< 256).
            for m in pkts.iter_mut() {
                m.meta_mut().arc_index = c.port as u8;
            }
        }
        n += pkts.len();
        if n < end {
            break;
        }
    }
    // SAFETY: `rx_burst` initialised `slots[..n]`, lent by
    // `next_stream_uninit(edge, _)`, sub-burst by sub-burst, with packets
    // it handed over, which are not used after this.
    unsafe { ctx.next_stream_commit(edge, n) };
    n
}

/// Packets a receive call asks for at most (DPDK's usual burst): 256 in
/// sub-bursts of 32, each classified without prefetching, measured about 5
/// cycles per packet less than one call on DPDK ports (docs/performance.md).
const SUB_BURST: usize = 32;

/// Sets the packet type of a sub-burst where the port gave none.
#[inline(always)]
fn classify(pkts: &mut [Pkt]) {
    // No prefetch: the driver just wrote these lines.
    for m in pkts.iter_mut() {
        let p = m.packet_type();
        if p == 0 || p & ptype::L2_MASK == ptype::L2_ETHER_VLAN {
            match untagged(m.data()) {
                Some(p) => m.set_packet_type(p),
                None => parse(m),
            }
        }
    }
}

node! {
    /// Port receive (`ethdev_rx`); clone it per (port, queue).
    pub static ETHDEV_RX = {
        name: "ethdev_rx",
        flags: NodeFlags::SOURCE,
        context: EthdevRxCtx,
        object: Pkt,
        init: init,
        process: ethdev_rx,
        trace: crate::pkt::summary,
        next: &["pkt_cls"],
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: if cfg!(miri) { 8 } else { 4096 },
            failure_persistence: None,
            ..ProptestConfig::default()
        })]
        /// The one-load answer for untagged frames is `parse`'s, and it
        /// leaves tagged frames to `parse`.
        #[test]
        fn untagged_agrees_with_parse(
            et in prop::sample::select(vec![0x0800u16, 0x86dd, 0x0806, 0x8100, 0x88a8, 0x0000, 0x0801, 0xffff]),
            v in any::<u8>(),
            len in 0usize..40,
        ) {
            let mut f = vec![0u8; 40];
            f[12..14].copy_from_slice(&et.to_be_bytes());
            f[14] = v;
            f.truncate(len.max(1));
            let (fast, slow) = crate::mempool::with_test_pkt(&f, |m| {
                let fast = untagged(m.data());
                parse(m);
                (fast, m.packet_type())
            });
            match fast {
                Some(p) => prop_assert_eq!(p, slow),
                None => prop_assert!(len < 15 || et == 0x8100 || et == 0x88a8, "left {:#x} to parse", et),
            }
        }
    }
}
