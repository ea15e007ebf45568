//! ICMPv4 (RFC 792, RFC 1812 §4.3): the router's own addresses answer
//! (`ip4_local`), and packets it cannot forward come back to their sender
//! as errors (`icmp4_error`), so that `ping`, `traceroute` and path-MTU
//! discovery work through it.
//!
//! ```text
//!  ip4_lookup ──local──► ip4_local ──echo reply──────────────► ip4_lookup
//!      │                    └──UDP: port unreachable,
//!      │                       other: protocol unreachable ──┐
//!      ├──TTL expired: time exceeded, no route: net unreachable ┤
//!  ip4_rewrite ──too big with DF: fragmentation needed ─────────┤
//!  neigh_tick ──neighbour never answered: host unreachable ─────┤
//!                                                               ▼
//!                                   icmp4_error ──the error─► ip4_lookup
//! ```
//!
//! `icmp4_error` turns the offending packet itself into the error, in
//! place (no copy of the payload, no allocation): the original header and
//! the start of its data (at most 576 bytes in all, RFC 1812 §4.3.2.3)
//! become the message's body, and a new IPv4 and ICMP header are written in
//! front, from the address of the port it came in on. The error is then
//! routed like any packet. Locally made packets get TTL 65, so they leave
//! with 64 after `ip4_rewrite`'s decrement.
//!
//! No error is sent about an ICMP error, a fragment other than the first,
//! or a packet whose source is not a unicast host (RFC 1812 §4.3.2.7); and
//! no more than the router's [`IcmpLimit`](crate::neigh::IcmpLimit)
//! allows: each of these is a counted drop.

use graph_core::{names, node, Ctx, InitError, NodeInfo, Objs};

use crate::neigh::{IfSnapshot, Interfaces};
use crate::pkt::{self, Pkt};
use crate::wire::view::icmp4;
use crate::wire::{ethertype, EthernetFrame, Icmpv4Packet, Ipv4Packet, ETH_HLEN, IPV4_HLEN};

/// An error to send about a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpKind {
    /// TTL exceeded in transit (type 11 code 0).
    TimeExceeded,
    /// Network unreachable: no route (type 3 code 0).
    NetUnreachable,
    /// Host unreachable: the neighbour never answered (type 3 code 1).
    HostUnreachable,
    /// Protocol unreachable, from our own address (type 3 code 2).
    ProtoUnreachable,
    /// Port unreachable, from our own address (type 3 code 3).
    PortUnreachable,
    /// Fragmentation needed and DF set, with the next-hop MTU (type 3
    /// code 4, RFC 1191).
    FragNeeded(u16),
}

impl IcmpKind {
    fn type_code(self) -> (u8, u8) {
        match self {
            IcmpKind::TimeExceeded => (icmp4::TIME_EXCEEDED, 0),
            IcmpKind::NetUnreachable => (icmp4::UNREACHABLE, 0),
            IcmpKind::HostUnreachable => (icmp4::UNREACHABLE, 1),
            IcmpKind::ProtoUnreachable => (icmp4::UNREACHABLE, 2),
            IcmpKind::PortUnreachable => (icmp4::UNREACHABLE, 3),
            IcmpKind::FragNeeded(_) => (icmp4::UNREACHABLE, 4),
        }
    }

    fn observation(self) -> IcmpSent {
        match self {
            IcmpKind::TimeExceeded => IcmpSent::TimeExceeded,
            IcmpKind::NetUnreachable => IcmpSent::NetUnreachable,
            IcmpKind::HostUnreachable => IcmpSent::HostUnreachable,
            IcmpKind::ProtoUnreachable => IcmpSent::ProtoUnreachable,
            IcmpKind::PortUnreachable => IcmpSent::PortUnreachable,
            IcmpKind::FragNeeded(_) => IcmpSent::FragNeeded,
        }
    }
}

/// Marks `m` for `icmp4_error`: the kind goes in its metadata (`nh` holds
/// type and code, `cksum_le` the MTU of fragmentation needed).
pub fn mark(m: &mut Pkt, kind: IcmpKind) {
    let (t, c) = kind.type_code();
    let meta = m.meta_mut();
    meta.nh = u16::from(t) << 8 | u16::from(c);
    meta.cksum_le = match kind {
        IcmpKind::FragNeeded(mtu) => mtu,
        _ => 0,
    };
}

names! {
    /// Edges of `icmp4_error`.
    pub enum Icmp4ErrorNext { Drop = "pkt_drop", Lookup = "ip4_lookup" }
}

names! {
    /// Drop reasons of `icmp4_error`: packets no error is sent about.
    pub enum Icmp4ErrorDrop {
        /// Over the router's ICMP error rate limit.
        RateLimited = "rate_limited",
        /// The packet is itself an ICMP error.
        AboutIcmpError = "about_icmp_error",
        /// Not the first fragment.
        AboutFragment = "about_fragment",
        /// From a source that is not a unicast host, or to a broadcast or
        /// multicast address (link or IP).
        NotUnicast = "not_unicast",
        /// No interface has an address to send from.
        NoSourceAddr = "no_source_addr",
        /// The packet's header is not usable (it did not come from the
        /// stock nodes), or its buffer has no room for the new headers.
        BadPacket = "bad_packet",
    }
}

names! {
    /// Errors `icmp4_error` sent, by kind (plain counters).
    pub enum IcmpSent {
        /// Time exceeded.
        TimeExceeded = "time_exceeded",
        /// Network unreachable.
        NetUnreachable = "net_unreachable",
        /// Host unreachable.
        HostUnreachable = "host_unreachable",
        /// Protocol unreachable.
        ProtoUnreachable = "proto_unreachable",
        /// Port unreachable.
        PortUnreachable = "port_unreachable",
        /// Fragmentation needed.
        FragNeeded = "frag_needed",
    }
}

/// Most of the offending packet an error carries: 576 bytes in all, less
/// the new IPv4 and ICMP headers (RFC 1812 §4.3.2.3).
pub const MAX_QUOTE: usize = 576 - IPV4_HLEN - 8;

/// Context of `icmp4_error` and `ip4_local`.
pub struct IcmpCtx {
    ifaces: Interfaces,
}

fn init(info: &NodeInfo<'_>) -> Result<IcmpCtx, InitError> {
    Ok(IcmpCtx { ifaces: info.env.get::<Interfaces>().cloned().unwrap_or_default() })
}

/// Whether `a` is an address no error may be sent to (RFC 1812
/// §4.3.2.7): 0/8, 127/8, multicast, class E, limited broadcast.
fn not_a_host(a: u32) -> bool {
    matches!(a >> 24, 0 | 127 | 224..)
}

/// The kind of error `m` is marked with (see [`mark`]).
pub(crate) fn kind_of(m: &Pkt) -> IcmpKind {
    let meta = m.meta();
    match ((meta.nh >> 8) as u8, meta.nh as u8) {
        (icmp4::TIME_EXCEEDED, _) => IcmpKind::TimeExceeded,
        (_, 1) => IcmpKind::HostUnreachable,
        (_, 2) => IcmpKind::ProtoUnreachable,
        (_, 3) => IcmpKind::PortUnreachable,
        (_, 4) => IcmpKind::FragNeeded(meta.cksum_le),
        _ => IcmpKind::NetUnreachable,
    }
}

/// Whether an error may be sent about `m` (RFC 1812 §4.3.2.7), and if so
/// its kind, how much of the packet it quotes and where it goes.
fn may_answer(m: &Pkt) -> Result<(IcmpKind, usize, u32), Icmp4ErrorDrop> {
    let eth = EthernetFrame::new_checked(m.data()).map_err(|_| Icmp4ErrorDrop::BadPacket)?;
    let ip = Ipv4Packet::new_checked(eth.payload()).map_err(|_| Icmp4ErrorDrop::BadPacket)?;
    if eth.dst_is_group() || not_a_host(ip.src_addr()) || not_a_host(ip.dst_addr()) {
        return Err(Icmp4ErrorDrop::NotUnicast);
    }
    if ip.frag_offset() != 0 {
        return Err(Icmp4ErrorDrop::AboutFragment);
    }
    // An ICMP message too short to tell its type is not answered either.
    if ip.protocol() == 1 && ip.payload().first().is_none_or(|&t| icmp4::is_error(t)) {
        return Err(Icmp4ErrorDrop::AboutIcmpError);
    }
    Ok((kind_of(m), usize::from(ip.total_len()).min(MAX_QUOTE), ip.src_addr()))
}

/// Turns `m` into error `kind` in place: `[eth | quote | rest]` becomes
/// `[eth | ip | icmp | quote]`, from `from` (with link address `mac`) to
/// `to`.
fn write_error(m: &mut Pkt, kind: IcmpKind, quote: usize, to: u32, from: u32, mac: [u8; 6], ident: u16) -> bool {
    let len = m.data().len();
    if !m.trim((len - ETH_HLEN - quote) as u16) || m.prepend((IPV4_HLEN + 8) as u16).is_none() {
        return false;
    }
    let d = m.data_mut();
    let Ok(mut eth) = EthernetFrame::new_checked(&mut d[..]) else { return false };
    // Addressed to ourselves: ip4_lookup takes it as unicast, and
    // ip4_rewrite writes the real addresses.
    eth.set_dst_addr(mac);
    eth.set_src_addr(mac);
    eth.set_ethertype(ethertype::IPV4);
    let Ok(mut ip) = Ipv4Packet::new_minimal(eth.payload_mut()) else { return false };
    ip.set_version_and_header_len(IPV4_HLEN);
    ip.set_tos(0xc0); // DSCP CS6, network control, as Linux sends its errors.
    ip.set_total_len((IPV4_HLEN + 8 + quote) as u16);
    ip.set_ident(ident);
    ip.set_frag_word(0);
    ip.set_ttl(65);
    ip.set_protocol(1);
    ip.set_src_addr(from);
    ip.set_dst_addr(to);
    ip.fill_checksum();
    let Ok(mut icmp) = Icmpv4Packet::new_checked(&mut d[ETH_HLEN + IPV4_HLEN..]) else { return false };
    let (t, c) = kind.type_code();
    icmp.set_type_code(t, c);
    icmp.set_rest(match kind {
        IcmpKind::FragNeeded(mtu) => u32::from(mtu),
        _ => 0,
    });
    icmp.fill_checksum();
    true
}

/// The body of `icmp4_error` and `icmp6_error`: `check` says whether an
/// error may be sent about a packet (or the index of the reason not);
/// then, with a token of the router's rate limit (taken once per burst,
/// when the first error is due), `write` builds it from the interfaces'
/// snapshot (the index of the kind sent, or of a drop reason). Both
/// nodes' edges are `[pkt_drop, <lookup>]`.
pub(crate) fn error_burst<P>(
    ctx: &mut Ctx<'_, Pkt>,
    ifaces: &Interfaces,
    objs: Objs<'_, Pkt>,
    check: impl Fn(&Pkt) -> Result<P, usize>,
    write: impl Fn(&mut Pkt, P, &IfSnapshot) -> Result<usize, usize>,
    rate_limited: usize,
    (drops, sent): (&mut [u64], &mut [u64]),
) -> usize {
    const DROP: u16 = 0;
    const LOOKUP: u16 = 1;
    let snap = ifaces.snapshot();
    let (mut tokens, mut asked) = (0u32, false);
    let total = objs.len() as u32;
    let mut seen = 0u32;
    let n = pkt::dispatch(ctx, objs, |objs, nexts| {
        for (m, next) in objs.iter_mut().zip(nexts.iter_mut()) {
            seen += 1;
            let verdict = check(m).and_then(|plan| {
                if !asked {
                    asked = true;
                    tokens = ifaces.icmp_take(total - seen + 1);
                }
                if tokens == 0 {
                    return Err(rate_limited);
                }
                let r = write(m, plan, &snap);
                tokens -= u32::from(r.is_ok());
                r
            });
            *next = match verdict {
                Ok(kind) => {
                    sent[kind] += 1;
                    LOOKUP
                }
                Err(r) => {
                    drops[r] += 1;
                    DROP
                }
            };
        }
    });
    ifaces.icmp_give_back(tokens);
    ctx.count_all(drops);
    for (i, &s) in sent.iter().enumerate() {
        if s > 0 {
            ctx.observe(i, s);
        }
    }
    n
}

fn icmp4_error(ctx: &mut Ctx<'_, Pkt>, c: &mut IcmpCtx, objs: Objs<'_, Pkt>) -> usize {
    let mut drops = [0u64; Icmp4ErrorDrop::COUNT];
    let mut sent = [0u64; IcmpSent::COUNT];
    let ifaces = &c.ifaces;
    let write = |m: &mut Pkt, (kind, quote, to): (IcmpKind, usize, u32), snap: &IfSnapshot| {
        let from = snap.source_for(m.port()).ok_or(Icmp4ErrorDrop::NoSourceAddr.idx())?;
        let mac = snap.mac(m.port()).unwrap_or([2, 0, 0, 0, 0, 0]);
        if !write_error(m, kind, quote, to, from, mac, ifaces.next_ident()) {
            return Err(Icmp4ErrorDrop::BadPacket.idx());
        }
        Ok(kind.observation().idx())
    };
    let check = |m: &Pkt| may_answer(m).map_err(|r| r.idx());
    error_burst(ctx, ifaces, objs, check, write, Icmp4ErrorDrop::RateLimited.idx(), (&mut drops, &mut sent))
}

const _: () = assert!(Icmp4ErrorNext::Drop.edge() == 0 && Icmp4ErrorNext::Lookup.edge() == 1);

node! {
    /// ICMPv4 errors about packets the router could not forward
    /// (`icmp4_error`).
    pub static ICMP4_ERROR = {
        name: "icmp4_error",
        context: IcmpCtx,
        object: Pkt,
        init: init,
        process: icmp4_error,
        counters: Icmp4ErrorDrop::NAMES,
        observations: IcmpSent::NAMES,
        trace: |p: &Pkt| format!("{:?}", kind_of(p)),
        next: Icmp4ErrorNext::NAMES,
    };
}

names! {
    /// Edges of `ip4_local`.
    pub enum Ip4LocalNext { Drop = "pkt_drop", Lookup = "ip4_lookup", IcmpError = "icmp4_error" }
}

names! {
    /// Drop reasons of `ip4_local`.
    pub enum Ip4LocalDrop {
        /// ICMP shorter than its header or with a wrong checksum.
        BadIcmp = "bad_icmp",
        /// ICMP other than an echo request (replies and errors addressed
        /// to the router: it sends no requests of its own).
        IcmpIgnored = "icmp_ignored",
        /// TCP: the router listens on no port (no reset is sent).
        Tcp = "tcp",
        /// A fragment: the router does not reassemble.
        Fragment = "fragment",
        /// Not an IPv4 header the stock nodes passed.
        BadPacket = "bad_packet",
    }
}

names! {
    /// Plain counters of `ip4_local`.
    pub enum Ip4LocalSeen {
        /// Echo requests answered.
        EchoReplies = "echo_replies",
    }
}

/// What `ip4_local` or `ip6_local` does with a packet for one of our
/// addresses.
pub(crate) enum Local {
    /// Answered in place: route it.
    Reply,
    /// Answer with this error.
    Error(IcmpKind),
    /// Drop it, counted under this reason's index.
    Drop(usize),
}

/// Answers an echo request in place (RFC 792: addresses swapped, type 0,
/// checksums updated); other packets get their verdict.
fn local_verdict(m: &mut Pkt) -> Local {
    let (hl, total, proto, frag) = {
        let Ok(eth) = EthernetFrame::new_checked(m.data()) else { return Local::Drop(Ip4LocalDrop::BadPacket.idx()) };
        let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else { return Local::Drop(Ip4LocalDrop::BadPacket.idx()) };
        (ip.header_len(), usize::from(ip.total_len()), ip.protocol(), ip.frag_offset() != 0 || ip.more_frags())
    };
    if frag {
        return Local::Drop(Ip4LocalDrop::Fragment.idx());
    }
    match proto {
        1 => {}
        6 => return Local::Drop(Ip4LocalDrop::Tcp.idx()),
        17 => return Local::Error(IcmpKind::PortUnreachable),
        _ => return Local::Error(IcmpKind::ProtoUnreachable),
    }
    // Link padding goes: the reply is exactly as long as the request.
    let extra = m.data().len() - ETH_HLEN - total;
    if !m.trim(extra as u16) {
        return Local::Drop(Ip4LocalDrop::BadPacket.idx());
    }
    let d = &mut m.data_mut()[ETH_HLEN..];
    let (hdr, body) = d.split_at_mut(hl);
    let Ok(mut icmp) = Icmpv4Packet::new_checked(&mut *body) else { return Local::Drop(Ip4LocalDrop::BadIcmp.idx()) };
    if !icmp.verify_checksum() {
        return Local::Drop(Ip4LocalDrop::BadIcmp.idx());
    }
    if icmp.msg_type() != icmp4::ECHO_REQUEST {
        return Local::Drop(Ip4LocalDrop::IcmpIgnored.idx());
    }
    icmp.set_type_code(icmp4::ECHO_REPLY, 0);
    icmp.fill_checksum();
    let mut ip = Ipv4Packet::new_minimal(hdr).expect("checked above");
    let (s, t) = (ip.src_addr(), ip.dst_addr());
    ip.set_src_addr(t);
    ip.set_dst_addr(s);
    ip.set_ttl(65);
    ip.fill_checksum();
    Local::Reply
}

/// The body of `ip4_local` and `ip6_local`: each packet's verdict sends it
/// back to the lookup (answered), to the error node (marked), or to
/// `pkt_drop` (counted). Both nodes' edges are `[pkt_drop, <lookup>,
/// <error>]`; their one plain counter counts echo replies.
pub(crate) fn local_burst(
    ctx: &mut Ctx<'_, Pkt>,
    objs: Objs<'_, Pkt>,
    verdict: fn(&mut Pkt) -> Local,
    drops: &mut [u64],
) -> usize {
    const DROP: u16 = 0;
    const LOOKUP: u16 = 1;
    const ERROR: u16 = 2;
    let mut replies = 0;
    let n = pkt::dispatch(ctx, objs, |objs, nexts| {
        for (m, next) in objs.iter_mut().zip(nexts.iter_mut()) {
            *next = match verdict(m) {
                Local::Reply => {
                    replies += 1;
                    LOOKUP
                }
                Local::Error(k) => {
                    mark(m, k);
                    ERROR
                }
                Local::Drop(r) => {
                    drops[r] += 1;
                    DROP
                }
            };
        }
    });
    ctx.count_all(drops);
    if replies > 0 {
        ctx.observe(0, replies);
    }
    n
}

fn ip4_local(ctx: &mut Ctx<'_, Pkt>, _c: &mut IcmpCtx, objs: Objs<'_, Pkt>) -> usize {
    let mut drops = [0u64; Ip4LocalDrop::COUNT];
    local_burst(ctx, objs, local_verdict, &mut drops)
}

const _: () =
    assert!(Ip4LocalNext::Drop.edge() == 0 && Ip4LocalNext::Lookup.edge() == 1 && Ip4LocalNext::IcmpError.edge() == 2);

node! {
    /// Packets for the router's own addresses (`ip4_local`): echo requests
    /// answered, UDP and other protocols refused with an ICMP error.
    pub static IP4_LOCAL = {
        name: "ip4_local",
        context: IcmpCtx,
        object: Pkt,
        init: init,
        process: ip4_local,
        counters: Ip4LocalDrop::NAMES,
        observations: Ip4LocalSeen::NAMES,
        trace: crate::pkt::summary,
        next: Ip4LocalNext::NAMES,
    };
}
