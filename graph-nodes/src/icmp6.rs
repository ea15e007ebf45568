//! ICMPv6 (RFC 4443): the router's own IPv6 addresses answer echo
//! (`ip6_local`), and packets it cannot forward come back to their sender
//! as errors (`icmp6_error`): time exceeded, no route, address
//! unreachable (the neighbour never answered), port unreachable, and
//! packet too big with the next-hop MTU (RFC 8201: IPv6 routers never
//! fragment, so path-MTU discovery depends on it).
//!
//! As [`icmp4`](crate::icmp4): the offending packet becomes the error in
//! place, quoted up to the minimum MTU (1280 bytes in all, RFC 4443 §2.4
//! (c)), from the address of the port it came in on, rate-limited by the
//! router's one token bucket, and routed back through `ip6_lookup` with
//! hop limit 65 (64 on the wire). No error is sent about an ICMPv6 error,
//! or about a packet from an unspecified or multicast source (§2.4 (e)).

use graph_core::{names, node, Ctx, InitError, NodeInfo, Objs};

use crate::icmp4::{error_burst, kind_of, local_burst, IcmpKind, Local};
use crate::neigh::{IfSnapshot, Interfaces};
use crate::pkt::Pkt;
use crate::wire::view::icmp6;
use crate::wire::{ethertype, icmp6_checksum, EthernetFrame, Ipv6Packet, ETH_HLEN, IPV6_HLEN};

/// Most of the offending packet an error carries: 1280 bytes in all, less
/// the new IPv6 and ICMPv6 headers.
pub const MAX_QUOTE6: usize = 1280 - IPV6_HLEN - 8;

names! {
    /// Edges of `icmp6_error`.
    pub enum Icmp6ErrorNext { Drop = "pkt_drop", Lookup = "ip6_lookup" }
}

names! {
    /// Drop reasons of `icmp6_error`: packets no error is sent about.
    pub enum Icmp6ErrorDrop {
        /// Over the router's ICMP error rate limit.
        RateLimited = "rate_limited",
        /// The packet is itself an ICMPv6 error.
        AboutIcmpError = "about_icmp_error",
        /// From an unspecified or multicast source, or to a multicast
        /// group (link or IP).
        NotUnicast = "not_unicast",
        /// No interface has an IPv6 address to send from.
        NoSourceAddr = "no_source_addr",
        /// Not an IPv6 packet the stock nodes passed, or no room for the
        /// new headers.
        BadPacket = "bad_packet",
    }
}

names! {
    /// Errors `icmp6_error` sent, by kind (plain counters).
    pub enum Icmp6Sent {
        /// Time exceeded (hop limit).
        TimeExceeded = "time_exceeded",
        /// Destination unreachable: no route.
        NoRoute = "no_route",
        /// Destination unreachable: address unreachable.
        AddrUnreachable = "addr_unreachable",
        /// Destination unreachable: port unreachable.
        PortUnreachable = "port_unreachable",
        /// Packet too big.
        TooBig = "too_big",
    }
}

/// Type, code, the 4 bytes after the checksum, and the counter of `k`.
fn v6(k: IcmpKind) -> (u8, u8, u32, Icmp6Sent) {
    match k {
        IcmpKind::TimeExceeded => (icmp6::TIME_EXCEEDED, 0, 0, Icmp6Sent::TimeExceeded),
        IcmpKind::NetUnreachable => (icmp6::UNREACHABLE, 0, 0, Icmp6Sent::NoRoute),
        IcmpKind::HostUnreachable => (icmp6::UNREACHABLE, 3, 0, Icmp6Sent::AddrUnreachable),
        IcmpKind::PortUnreachable | IcmpKind::ProtoUnreachable => {
            (icmp6::UNREACHABLE, 4, 0, Icmp6Sent::PortUnreachable)
        }
        IcmpKind::FragNeeded(mtu) => (icmp6::TOO_BIG, 0, u32::from(mtu), Icmp6Sent::TooBig),
    }
}

/// Context of `icmp6_error` and `ip6_local`.
pub struct Icmp6Ctx {
    ifaces: Interfaces,
}

fn init(info: &NodeInfo<'_>) -> Result<Icmp6Ctx, InitError> {
    Ok(Icmp6Ctx { ifaces: info.env.get::<Interfaces>().cloned().unwrap_or_default() })
}

/// Whether an error may be sent about `m`; its quote length and source.
fn may_answer(m: &Pkt) -> Result<(usize, u128), Icmp6ErrorDrop> {
    let eth = EthernetFrame::new_checked(m.data()).map_err(|_| Icmp6ErrorDrop::BadPacket)?;
    let ip = Ipv6Packet::new_checked(eth.payload()).map_err(|_| Icmp6ErrorDrop::BadPacket)?;
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    if src == 0 || src >> 120 == 0xff || dst >> 120 == 0xff || eth.dst_is_group() {
        return Err(Icmp6ErrorDrop::NotUnicast);
    }
    // A message too short to tell its type is not answered either.
    if ip.next_header() == 58 && ip.payload().first().is_none_or(|&t| icmp6::is_error(t)) {
        return Err(Icmp6ErrorDrop::AboutIcmpError);
    }
    Ok(((IPV6_HLEN + usize::from(ip.payload_len())).min(MAX_QUOTE6), src))
}

/// `[eth | quote | rest]` → `[eth | ipv6 | icmpv6 | quote]`, in place.
fn write_error(m: &mut Pkt, k: IcmpKind, quote: usize, to: u128, from: u128, mac: [u8; 6]) -> bool {
    let len = m.data().len();
    if !m.trim((len - ETH_HLEN - quote) as u16) || m.prepend((IPV6_HLEN + 8) as u16).is_none() {
        return false;
    }
    let d = m.data_mut();
    let Ok(mut eth) = EthernetFrame::new_checked(&mut d[..]) else { return false };
    eth.set_dst_addr(mac);
    eth.set_src_addr(mac);
    eth.set_ethertype(ethertype::IPV6);
    let Ok(mut ip) = Ipv6Packet::new_for_fill(eth.payload_mut()) else { return false };
    ip.set_version_class_flow(0xc0, 0);
    ip.set_payload_len((8 + quote) as u16);
    ip.set_next_header(58);
    ip.set_hop_limit(65);
    ip.set_src_addr(from);
    ip.set_dst_addr(to);
    let (t, c, rest, _) = v6(k);
    let msg = &mut d[ETH_HLEN + IPV6_HLEN..];
    msg[0] = t;
    msg[1] = c;
    msg[2..4].fill(0);
    msg[4..8].copy_from_slice(&rest.to_be_bytes());
    let sum = icmp6_checksum(from, to, msg);
    msg[2..4].copy_from_slice(&sum.to_be_bytes());
    true
}

fn icmp6_error(ctx: &mut Ctx<'_, Pkt>, c: &mut Icmp6Ctx, objs: Objs<'_, Pkt>) -> usize {
    let mut drops = [0u64; Icmp6ErrorDrop::COUNT];
    let mut sent = [0u64; Icmp6Sent::COUNT];
    let write = |m: &mut Pkt, (quote, to): (usize, u128), snap: &IfSnapshot| {
        let from = snap.source6_for(m.port()).ok_or(Icmp6ErrorDrop::NoSourceAddr.idx())?;
        let mac = snap.mac(m.port()).unwrap_or([2, 0, 0, 0, 0, 0]);
        let k = kind_of(m);
        if !write_error(m, k, quote, to, from, mac) {
            return Err(Icmp6ErrorDrop::BadPacket.idx());
        }
        Ok(v6(k).3.idx())
    };
    let check = |m: &Pkt| may_answer(m).map_err(|r| r.idx());
    error_burst(ctx, &c.ifaces, objs, check, write, Icmp6ErrorDrop::RateLimited.idx(), (&mut drops, &mut sent))
}

const _: () = assert!(Icmp6ErrorNext::Drop.edge() == 0 && Icmp6ErrorNext::Lookup.edge() == 1);

node! {
    /// ICMPv6 errors about packets the router could not forward
    /// (`icmp6_error`).
    pub static ICMP6_ERROR = {
        name: "icmp6_error",
        context: Icmp6Ctx,
        object: Pkt,
        init: init,
        process: icmp6_error,
        counters: Icmp6ErrorDrop::NAMES,
        observations: Icmp6Sent::NAMES,
        trace: |p: &Pkt| format!("{:?}", kind_of(p)),
        next: Icmp6ErrorNext::NAMES,
    };
}

names! {
    /// Edges of `ip6_local`.
    pub enum Ip6LocalNext { Drop = "pkt_drop", Lookup = "ip6_lookup", IcmpError = "icmp6_error" }
}

names! {
    /// Drop reasons of `ip6_local`.
    pub enum Ip6LocalDrop {
        /// ICMPv6 shorter than its header or with a wrong checksum.
        BadIcmp = "bad_icmp",
        /// ICMPv6 other than an echo request (replies, errors, router
        /// solicitations, MLD).
        IcmpIgnored = "icmp_ignored",
        /// TCP: the router listens on no port (no reset is sent).
        Tcp = "tcp",
        /// Another next header (extension headers included).
        Unsupported = "unsupported",
        /// Not an IPv6 header the stock nodes passed.
        BadPacket = "bad_packet",
    }
}

names! {
    /// Plain counters of `ip6_local`.
    pub enum Ip6LocalSeen {
        /// Echo requests answered.
        EchoReplies = "echo_replies",
    }
}

/// Answers an echo request in place: addresses swapped, type 129, checksum
/// recomputed; other packets get their verdict.
fn local_verdict(m: &mut Pkt) -> Local {
    let (nh, plen) = {
        let Ok(eth) = EthernetFrame::new_checked(m.data()) else { return Local::Drop(Ip6LocalDrop::BadPacket.idx()) };
        let Ok(ip) = Ipv6Packet::new_checked(eth.payload()) else { return Local::Drop(Ip6LocalDrop::BadPacket.idx()) };
        (ip.next_header(), usize::from(ip.payload_len()))
    };
    match nh {
        58 => {}
        6 => return Local::Drop(Ip6LocalDrop::Tcp.idx()),
        17 => return Local::Error(IcmpKind::PortUnreachable),
        _ => return Local::Drop(Ip6LocalDrop::Unsupported.idx()),
    }
    let extra = m.data().len() - ETH_HLEN - IPV6_HLEN - plen;
    if !m.trim(extra as u16) {
        return Local::Drop(Ip6LocalDrop::BadPacket.idx());
    }
    let d = &mut m.data_mut()[ETH_HLEN..];
    let (hdr, msg) = d.split_at_mut(IPV6_HLEN);
    let mut ip = Ipv6Packet::new_for_fill(hdr).expect("40 bytes");
    let (s, t) = (ip.src_addr(), ip.dst_addr());
    if msg.len() < 8 || icmp6_checksum(s, t, msg) != 0 {
        return Local::Drop(Ip6LocalDrop::BadIcmp.idx());
    }
    if msg[0] != icmp6::ECHO_REQUEST {
        return Local::Drop(Ip6LocalDrop::IcmpIgnored.idx());
    }
    ip.set_src_addr(t);
    ip.set_dst_addr(s);
    ip.set_hop_limit(65);
    msg[0] = icmp6::ECHO_REPLY;
    msg[2..4].fill(0);
    let sum = icmp6_checksum(t, s, msg);
    msg[2..4].copy_from_slice(&sum.to_be_bytes());
    Local::Reply
}

fn ip6_local(ctx: &mut Ctx<'_, Pkt>, _c: &mut Icmp6Ctx, objs: Objs<'_, Pkt>) -> usize {
    let mut drops = [0u64; Ip6LocalDrop::COUNT];
    local_burst(ctx, objs, local_verdict, &mut drops)
}

const _: () =
    assert!(Ip6LocalNext::Drop.edge() == 0 && Ip6LocalNext::Lookup.edge() == 1 && Ip6LocalNext::IcmpError.edge() == 2);

node! {
    /// Packets for the router's own IPv6 addresses (`ip6_local`).
    pub static IP6_LOCAL = {
        name: "ip6_local",
        context: Icmp6Ctx,
        object: Pkt,
        init: init,
        process: ip6_local,
        counters: Ip6LocalDrop::NAMES,
        observations: Ip6LocalSeen::NAMES,
        trace: |p: &Pkt| format!("len {}", p.data().len()),
        next: Ip6LocalNext::NAMES,
    };
}
