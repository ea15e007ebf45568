//! Interface addresses, ARP and ICMPv4 through the stock graph, with
//! crafted frames: requests for our addresses answered byte by byte,
//! packets held while their next hop resolves and released by the reply,
//! echo answered, each ICMP error built from the offending packet, the
//! rules about when not to send one, the rate limit, hold-queue overflow,
//! neighbours that never answer, and probes of stale entries. Every packet
//! is accounted for: sent, or freed under one counter.

mod common;

use std::time::{Duration, Instant};

use common::Rig;
use graph_nodes::neigh::{IcmpLimit, NeighConfig, NeighState, Neighbours};
use graph_nodes::wire::{self, build_arp, build_arp_reply, build_icmp4, checksum, Udp4};

const HA: [u8; 6] = [0x52, 0x54, 0, 0, 0, 0xa0];
const HB: [u8; 6] = [0x52, 0x54, 0, 0, 0, 0xb0];
const A: [u8; 4] = [10, 0, 0, 2];
const B: [u8; 4] = [10, 0, 1, 2];

/// The rig with 10.0.0.1/24 on port 0 and 10.0.1.1/24 on port 1, the
/// neighbour table `cfg`, and `neigh_tick` in the graph.
fn rig(mtu: u16, cfg: NeighConfig) -> Rig {
    let mut r = Rig::new(2, mtu, 1024);
    r.env.neigh = Neighbours::new(cfg);
    r.env.neigh.set_pool(r.pool.clone());
    let l3 = r.env.l3();
    for p in &r.ports {
        l3.ifaces.set_port(p.id(), p.mac(), p.mtu()).unwrap();
    }
    l3.addr_add(0, "10.0.0.1/24".parse().unwrap()).unwrap();
    l3.addr_add(1, "10.0.1.1/24".parse().unwrap()).unwrap();
    rebuild(&mut r);
    r
}

fn rebuild(r: &mut Rig) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    r.graph = None;
    let param = r.env.param(["ethdev_rx-0-0", "ethdev_rx-1-0", "neigh_tick"], Default::default());
    let name = format!("l3rig{}", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    r.graph = Some(graph_core::Graph::create(&name, &param).unwrap());
}

/// Walks for `d`, whatever moves (the timers need walks and time).
fn walk_for(r: &mut Rig, d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        r.graph().walk();
    }
}

/// A learns the router (it asks for 10.0.0.1), and the router learns A.
fn resolve_a(r: &mut Rig) {
    r.send(0, &[build_arp(HA, A, [10, 0, 0, 1])]);
    r.run();
    assert_eq!(r.recv(0).len(), 1, "the reply");
}

fn counter(r: &mut Rig, name: &str) -> u64 {
    let (node, c) = name.split_once('.').unwrap();
    r.graph().node_stats(node).and_then(|s| s.counters.get(c).copied()).unwrap_or(0)
}

/// Frees what the table still holds and what the ports sent that no test
/// read, then checks that every buffer is back.
fn all_back(r: &mut Rig) {
    r.recv(0);
    r.recv(1);
    r.graph = None;
    r.env.neigh.clear();
    assert_eq!(r.pool.in_use(), 0, "every buffer back in the pool");
}

#[test]
fn arp_requests_for_our_addresses_are_answered_in_place() {
    let mut r = rig(1500, NeighConfig::default());
    let mac0 = r.ports[0].mac();
    let req = build_arp(HA, A, [10, 0, 0, 1]);
    r.send(0, std::slice::from_ref(&req));
    r.run();
    let out = r.recv(0);
    assert_eq!(out.len(), 1);
    let mut want = req.clone();
    want[0..6].copy_from_slice(&HA);
    want[6..12].copy_from_slice(&mac0);
    want[14 + 7] = 2; // reply
    want[22..28].copy_from_slice(&mac0);
    want[28..32].copy_from_slice(&[10, 0, 0, 1]);
    want[32..38].copy_from_slice(&HA);
    want[38..42].copy_from_slice(&A);
    assert_eq!(out[0], want, "the reply, byte by byte");
    // The asker is learned (the request was for us).
    let n = r.env.neigh.list();
    assert_eq!(n.len(), 1);
    assert_eq!((n[0].ip, n[0].state, n[0].mac.as_str()), (A.into(), NeighState::Reachable, "52:54:00:00:00:a0"));
    // A request for another port's address, or anyone else's, is not ours
    // to answer on this port; nothing is learned from it.
    r.send(0, &[build_arp([2, 0, 0, 0, 0, 7], [10, 0, 0, 7], [10, 0, 1, 1])]);
    r.send(0, &[build_arp([2, 0, 0, 0, 0, 7], [10, 0, 0, 7], [10, 0, 0, 9])]);
    // Malformed: a hardware type that is not Ethernet.
    let mut bad = req.clone();
    bad[15] = 6;
    r.send(0, &[bad]);
    // Someone claiming our address.
    r.send(0, &[build_arp([2, 0, 0, 0, 0, 8], [10, 0, 0, 1], [10, 0, 0, 1])]);
    r.run();
    assert!(r.recv(0).is_empty());
    assert_eq!(counter(&mut r, "arp_input.not_for_us"), 2);
    assert_eq!(counter(&mut r, "arp_input.bad_arp"), 1);
    assert_eq!(counter(&mut r, "arp_input.addr_conflict"), 1);
    assert_eq!(r.env.neigh.list().len(), 1);
    all_back(&mut r);
}

#[test]
fn forwarding_resolves_by_arp_and_releases_held_packets() {
    let mut r = rig(1500, NeighConfig::default());
    let (mac0, mac1) = (r.ports[0].mac(), r.ports[1].mac());
    resolve_a(&mut r);
    let frames: Vec<Vec<u8>> = (0..3)
        .map(|i| Udp4 { src_mac: HA, dst_mac: mac0, src: A, dst: B, sport: i, ..Udp4::default() }.build())
        .collect();
    r.send(0, &frames);
    r.run();
    // One broadcast request for B, from our address in its subnet; the
    // packets wait.
    let out = r.recv(1);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0], {
        let mut f = build_arp(mac1, [10, 0, 1, 1], B);
        f[6..12].copy_from_slice(&mac1);
        f
    });
    assert_eq!(r.env.neigh.list().iter().find(|n| n.ip == std::net::Ipv4Addr::from(B)).unwrap().held, 3);
    // B answers: the three leave, rewritten for B, in order.
    r.send(1, &[build_arp_reply(HB, B, mac1, [10, 0, 1, 1])]);
    r.run();
    let out = r.recv(1);
    assert_eq!(out.len(), 3);
    for (i, f) in out.iter().enumerate() {
        assert_eq!(&f[0..6], &HB);
        assert_eq!(&f[6..12], &mac1);
        assert_eq!(f[22], 63);
        assert_eq!(checksum(&f[14..34]), 0);
        assert_eq!(u16::from_be_bytes([f[34], f[35]]), i as u16);
    }
    // From now on B has a route of its own: straight through.
    r.send(0, &frames[..1]);
    r.run();
    assert_eq!(r.recv(1).len(), 1);
    assert_eq!(counter(&mut r, "arp_input.consumed"), 1, "the reply, once learned");
    assert_eq!(r.objs("ip4_arp"), 3);
    let b = r.env.neigh.list().into_iter().find(|n| n.ip == std::net::Ipv4Addr::from(B)).unwrap();
    assert_eq!((b.state, b.held, b.port), (NeighState::Reachable, 0, 1));
    assert_eq!(r.env.fib.route_lookup(B.into()), Some((0, b.next_hop)), "a /32 to B's next hop");
    all_back(&mut r);
}

#[test]
fn echo_requests_to_our_addresses_are_answered() {
    let mut r = rig(1500, NeighConfig::default());
    let mac0 = r.ports[0].mac();
    resolve_a(&mut r);
    // To the far port's address, with TTL 1: ours, so answered.
    let req = build_icmp4((HA, mac0), A, [10, 0, 1, 1], 1, (8, 0), 0x1234_0001, 56);
    r.send(0, std::slice::from_ref(&req));
    r.run();
    let out = r.recv(0);
    assert_eq!(out.len(), 1, "{:?}", r.drops());
    let f = &out[0];
    assert_eq!((&f[0..6], &f[6..12]), (&HA[..], &mac0[..]));
    assert_eq!(&f[26..30], &[10, 0, 1, 1], "from the address pinged");
    assert_eq!(&f[30..34], &A);
    assert_eq!(f[22], 64, "TTL 64 on the wire");
    assert_eq!(checksum(&f[14..34]), 0);
    assert_eq!((f[34], f[35]), (0, 0), "echo reply");
    assert_eq!(checksum(&f[34..]), 0);
    assert_eq!(&f[38..], &req[38..], "identifier, sequence and data echoed");
    assert_eq!(f.len(), req.len());
    // An echo reply, a bad checksum, TCP and a fragment to us are dropped
    // with their reasons; UDP is refused with port unreachable.
    let mut bad = req.clone();
    bad[40] ^= 1;
    let mut frag = req.clone();
    frag[20] = 0x20; // more fragments
    wire::ipv4_set_checksum(&mut frag[14..34]);
    let mut tcp = req.clone();
    tcp[23] = 6;
    wire::ipv4_set_checksum(&mut tcp[14..34]);
    r.send(0, &[build_icmp4((HA, mac0), A, [10, 0, 0, 1], 64, (0, 0), 1, 8), bad, frag, tcp]);
    r.run();
    assert!(r.recv(0).is_empty());
    for c in ["ip4_local.icmp_ignored", "ip4_local.bad_icmp", "ip4_local.fragment", "ip4_local.tcp"] {
        assert_eq!(counter(&mut r, c), 1, "{c}");
    }
    let udp = Udp4 { src_mac: HA, dst_mac: mac0, src: A, dst: [10, 0, 0, 1], dport: 33434, ..Udp4::default() }.build();
    r.send(0, &[udp]);
    r.run();
    let out = r.recv(0);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0][34], out[0][35]), (3, 3), "port unreachable");
    all_back(&mut r);
}

/// The ICMP message of an error frame, checked: from `from` to A, valid
/// checksums, TTL 64, and quoting the start of `orig`'s IP packet.
fn error_of(f: &[u8], orig: &[u8], from: [u8; 4]) -> (u8, u8, u32) {
    assert_eq!(&f[0..6], &HA);
    assert_eq!(checksum(&f[14..34]), 0);
    assert_eq!((f[22], f[23]), (64, 1));
    assert_eq!(&f[26..30], &from);
    assert_eq!(&f[30..34], &A);
    assert_eq!(checksum(&f[34..]), 0, "ICMP checksum");
    let total = usize::from(u16::from_be_bytes([orig[16], orig[17]]));
    let quote = total.min(548);
    assert_eq!(f.len(), 14 + 28 + quote, "the whole packet, at most 576 bytes");
    assert_eq!(&f[42..], &orig[14..14 + quote], "the offending packet, as it arrived");
    (f[34], f[35], u32::from_be_bytes([f[38], f[39], f[40], f[41]]))
}

#[test]
fn errors_are_built_from_the_offending_packet() {
    let mut r = rig(1000, NeighConfig::default());
    let mac0 = r.ports[0].mac();
    resolve_a(&mut r);
    let mk = |ttl: u8, dst: [u8; 4], len: usize| {
        Udp4 { src_mac: HA, dst_mac: mac0, src: A, dst, ttl, frame_len: len, ..Udp4::default() }.build()
    };
    // Time exceeded, from the address of the port it came in on.
    let ttl1 = mk(1, B, 60);
    r.send(0, std::slice::from_ref(&ttl1));
    r.run();
    let out = r.recv(0);
    assert_eq!(error_of(&out[0], &ttl1, [10, 0, 0, 1]), (11, 0, 0));
    // No route: net unreachable.
    let lost = mk(64, [10, 9, 9, 9], 60);
    r.send(0, std::slice::from_ref(&lost));
    r.run();
    assert_eq!(error_of(&r.recv(0)[0], &lost, [10, 0, 0, 1]), (3, 0, 0));
    // Too big for port 1's MTU 1000 with DF: fragmentation needed, with
    // the MTU; the quote stops at 576 bytes in all.
    r.send(1, &[build_arp_reply(HB, B, r.ports[1].mac(), [10, 0, 1, 1])]);
    r.run();
    let big = mk(64, B, 1200);
    r.send(0, std::slice::from_ref(&big));
    r.run();
    assert_eq!(error_of(&r.recv(0)[0], &big, [10, 0, 0, 1]), (3, 4, 1000));
    // Without DF: dropped (this router does not fragment).
    let mut nodf = big.clone();
    nodf[20] = 0;
    wire::ipv4_set_checksum(&mut nodf[14..34]);
    r.send(0, &[nodf]);
    r.run();
    assert!(r.recv(0).is_empty() && r.recv(1).is_empty());
    assert_eq!(counter(&mut r, "ip4_rewrite.mtu_exceeded"), 1);
    // No error about an ICMP error, a later fragment, or a broadcast.
    let err_ttl1 = build_icmp4((HA, mac0), A, B, 1, (3, 1), 0, 28);
    let mut frag = mk(1, B, 60);
    frag[20..22].copy_from_slice(&0x0010u16.to_be_bytes());
    wire::ipv4_set_checksum(&mut frag[14..34]);
    let echo_ttl1 = build_icmp4((HA, mac0), A, B, 1, (8, 0), 7, 8);
    r.send(0, &[err_ttl1, frag, echo_ttl1.clone()]);
    r.run();
    let out = r.recv(0);
    assert_eq!(out.len(), 1, "an echo request is not an error: it gets one");
    assert_eq!(error_of(&out[0], &echo_ttl1, [10, 0, 0, 1]), (11, 0, 0));
    assert_eq!(counter(&mut r, "icmp4_error.about_icmp_error"), 1);
    assert_eq!(counter(&mut r, "icmp4_error.about_fragment"), 1);
    let obs = r.graph().node_stats("icmp4_error").unwrap().observations;
    assert_eq!((obs["time_exceeded"], obs["net_unreachable"], obs["frag_needed"]), (2, 1, 1));
    all_back(&mut r);
}

#[test]
fn errors_are_rate_limited() {
    let mut r = rig(1500, NeighConfig::default());
    let mac0 = r.ports[0].mac();
    resolve_a(&mut r);
    r.env.ifaces.set_icmp_limit(IcmpLimit { rate: 0, burst: 2 });
    let f: Vec<Vec<u8>> = (0..5)
        .map(|i| Udp4 { src_mac: HA, dst_mac: mac0, src: A, dst: B, ttl: 1, sport: i, ..Udp4::default() }.build())
        .collect();
    r.send(0, &f);
    r.run();
    assert_eq!(r.recv(0).len(), 2);
    assert_eq!(counter(&mut r, "icmp4_error.rate_limited"), 3);
    all_back(&mut r);
}

#[test]
fn neighbours_that_never_answer_get_host_unreachable() {
    let cfg = NeighConfig { hold: 2, retrans: Duration::from_millis(20), retries: 2, ..NeighConfig::default() };
    let mut r = rig(1500, cfg);
    let mac0 = r.ports[0].mac();
    resolve_a(&mut r);
    let f: Vec<Vec<u8>> = (0..4)
        .map(|i| Udp4 { src_mac: HA, dst_mac: mac0, src: A, dst: [10, 0, 1, 99], sport: i, ..Udp4::default() }.build())
        .collect();
    r.send(0, &f);
    r.run();
    assert_eq!(counter(&mut r, "ip4_arp.hold_full"), 2, "the two oldest pushed out");
    walk_for(&mut r, Duration::from_millis(150));
    // Two requests (the first and one retry), then the two held packets
    // come back to A as host unreachable, and the entry is gone.
    let reqs = r.recv(1);
    assert_eq!(reqs.len(), 2);
    assert!(reqs.iter().all(|q| q[0..6] == [0xff; 6] && q[38..42] == [10, 0, 1, 99]));
    let out = r.recv(0);
    assert_eq!(out.len(), 2);
    for (o, orig) in out.iter().zip(&f[2..]) {
        assert_eq!(error_of(o, orig, [10, 0, 0, 1]), (3, 1, 0));
    }
    assert!(r.env.neigh.list().iter().all(|n| n.ip != std::net::Ipv4Addr::from([10, 0, 1, 99])));
    // The subnet's broadcast address is not a host: not held, not asked for.
    let bcast = Udp4 { src_mac: HA, dst_mac: mac0, src: A, dst: [10, 0, 1, 255], ..Udp4::default() }.build();
    r.send(0, &[bcast]);
    r.run();
    assert_eq!(counter(&mut r, "ip4_arp.not_a_host"), 1);
    all_back(&mut r);
}

#[test]
fn stale_neighbours_are_probed_and_kept_by_a_reply() {
    let cfg =
        NeighConfig { reachable: Duration::from_millis(30), retrans: Duration::from_secs(5), ..NeighConfig::default() };
    let mut r = rig(1500, cfg);
    let mac0 = r.ports[0].mac();
    resolve_a(&mut r);
    walk_for(&mut r, Duration::from_millis(80));
    // A unicast request to A's known address: a probe.
    let probes = r.recv(0);
    assert_eq!(probes.len(), 1);
    assert_eq!(&probes[0][0..6], &HA);
    assert_eq!(&probes[0][38..42], &A);
    let a = || r_list(&r);
    assert_eq!(a(), NeighState::Stale);
    // Still used while stale.
    let f = Udp4 { src_mac: HB, dst_mac: r.ports[1].mac(), src: B, dst: A, ..Udp4::default() }.build();
    r.send(1, &[f]);
    r.run();
    assert_eq!(r.recv(0).len(), 1);
    r.send(0, &[build_arp_reply(HA, A, mac0, [10, 0, 0, 1])]);
    r.run();
    assert_eq!(r_list(&r), NeighState::Reachable);
    all_back(&mut r);
}

fn r_list(r: &Rig) -> NeighState {
    r.env.neigh.list().into_iter().find(|n| n.ip == std::net::Ipv4Addr::from(A)).unwrap().state
}

#[test]
fn without_addresses_the_old_drops_stay() {
    // The DPDK sample's configuration: no address, no ICMP, no ARP.
    let mut r = Rig::new(1, 1500, 1024);
    let f = Udp4 { ttl: 1, dst: [198, 18, 0, 1], ..Udp4::default() }.build();
    r.send(0, &[f, Udp4 { dst: [10, 9, 9, 9], ..Udp4::default() }.build()]);
    r.run();
    assert!(r.recv(0).is_empty());
    assert_eq!(counter(&mut r, "ip4_lookup.ttl_expired"), 1);
    assert_eq!(counter(&mut r, "ip4_lookup.no_route"), 1);
    assert_eq!(r.objs("icmp4_error"), 0);
    r.graph = None;
    assert_eq!(r.pool.in_use(), 0);
}

// ---------------------------------------------------------------- IPv6 --

use graph_nodes::wire::view::{icmp6, NdMessage, NA_OVERRIDE, NA_ROUTER, NA_SOLICITED};
use graph_nodes::wire::{build_ip6, icmp6_checksum, icmp6_message, multicast_mac6, solicited_node};

const A6: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0002;
const R6: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0001;
const B6: u128 = 0x2001_0db8_0001_0000_0000_0000_0000_0002;
const R6B: u128 = 0x2001_0db8_0001_0000_0000_0000_0000_0001;

fn rig6(mtu: u16, cfg: NeighConfig) -> Rig {
    let mut r = rig(mtu, cfg);
    let l3 = r.env.l3();
    l3.addr_add6(0, "2001:db8::1/64".parse().unwrap()).unwrap();
    l3.addr_add6(1, "2001:db8:1::1/64".parse().unwrap()).unwrap();
    rebuild(&mut r);
    r
}

/// A neighbour solicitation from `mac`/`src` for `target`.
fn ns(mac: [u8; 6], src: u128, target: u128) -> Vec<u8> {
    let dst = solicited_node(target);
    let mut m = [0u8; 32];
    NdMessage { kind: icmp6::NS, flags: 0, target, lladdr: Some(mac) }.write(&mut m, src, dst);
    build_ip6((mac, multicast_mac6(dst)), src, dst, 58, 255, &m)
}

/// A solicited advertisement from `mac`/`src` to `dst`.
fn na(mac: [u8; 6], src: u128, dst: u128, dst_mac: [u8; 6]) -> Vec<u8> {
    let mut m = [0u8; 32];
    NdMessage { kind: icmp6::NA, flags: NA_SOLICITED | NA_OVERRIDE, target: src, lladdr: Some(mac) }
        .write(&mut m, src, dst);
    build_ip6((mac, dst_mac), src, dst, 58, 255, &m)
}

fn udp6(mac0: [u8; 6], dst: u128, hops: u8, len: usize) -> Vec<u8> {
    let mut payload = vec![0u8; len];
    payload[0..2].copy_from_slice(&1024u16.to_be_bytes());
    payload[2..4].copy_from_slice(&33434u16.to_be_bytes());
    payload[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    build_ip6((HA, mac0), A6, dst, 17, hops, &payload)
}

fn resolve_a6(r: &mut Rig) {
    r.send(0, &[ns(HA, A6, R6)]);
    r.run();
    assert_eq!(r.recv(0).len(), 1, "the advertisement");
}

#[test]
fn neighbour_solicitations_for_our_addresses_are_answered() {
    let mut r = rig6(1500, NeighConfig::default());
    let mac0 = r.ports[0].mac();
    r.send(0, &[ns(HA, A6, R6)]);
    r.run();
    let out = r.recv(0);
    assert_eq!(out.len(), 1);
    let f = &out[0];
    assert_eq!((&f[0..6], &f[6..12], &f[12..14]), (&HA[..], &mac0[..], &[0x86, 0xdd][..]));
    assert_eq!((f[20], f[21]), (58, 255), "ICMPv6, hop limit 255");
    assert_eq!(u128::from_be_bytes(f[22..38].try_into().unwrap()), R6, "from the target");
    assert_eq!(u128::from_be_bytes(f[38..54].try_into().unwrap()), A6, "to the asker");
    assert_eq!(icmp6_checksum(R6, A6, &f[54..]), 0);
    let m = NdMessage::parse(&f[54..]).unwrap();
    assert_eq!(
        (m.kind, m.flags, m.target, m.lladdr),
        (icmp6::NA, NA_ROUTER | NA_SOLICITED | NA_OVERRIDE, R6, Some(mac0))
    );
    let n = r.env.neigh.list();
    assert_eq!(
        (n.len(), n[0].ip, n[0].state),
        (1, std::net::IpAddr::from(std::net::Ipv6Addr::from(A6)), NeighState::Reachable)
    );
    // Not ours, a bad hop limit, a bad checksum: not answered.
    let mut hop = ns(HA, A6, R6);
    hop[21] = 64;
    let mut sum = ns(HA, A6, R6);
    sum[60] ^= 1;
    r.send(0, &[ns(HA, A6, R6B), ns(HA, A6, 0x2001_0db8 << 96 | 7), hop, sum]);
    r.run();
    assert!(r.recv(0).is_empty());
    assert_eq!(counter(&mut r, "ndp_input.not_for_us"), 2);
    assert_eq!(counter(&mut r, "ndp_input.bad_nd"), 2);
    all_back(&mut r);
}

#[test]
fn ipv6_forwarding_resolves_by_nd_and_releases_held_packets() {
    let mut r = rig6(1500, NeighConfig::default());
    let (mac0, mac1) = (r.ports[0].mac(), r.ports[1].mac());
    resolve_a6(&mut r);
    let frames: Vec<Vec<u8>> = (0..3).map(|i| udp6(mac0, B6, 64, 20 + i)).collect();
    r.send(0, &frames);
    r.run();
    // One solicitation for B to its solicited-node group.
    let out = r.recv(1);
    assert_eq!(out.len(), 1);
    let s = &out[0];
    assert_eq!(&s[0..6], &multicast_mac6(solicited_node(B6)));
    assert_eq!(u128::from_be_bytes(s[38..54].try_into().unwrap()), solicited_node(B6));
    assert_eq!(u128::from_be_bytes(s[22..38].try_into().unwrap()), R6B, "from our address in B's subnet");
    let m = NdMessage::parse(&s[54..]).unwrap();
    assert_eq!((m.kind, m.target, m.lladdr), (icmp6::NS, B6, Some(mac1)));
    r.send(1, &[na(HB, B6, R6B, mac1)]);
    r.run();
    let out = r.recv(1);
    assert_eq!(out.len(), 3);
    for (f, orig) in out.iter().zip(&frames) {
        assert_eq!((&f[0..6], &f[6..12]), (&HB[..], &mac1[..]));
        assert_eq!(f[21], 63, "hop limit - 1");
        assert_eq!(&f[22..], &orig[22..], "addresses and payload untouched");
    }
    r.send(0, &frames[..1]);
    r.run();
    assert_eq!(r.recv(1).len(), 1, "straight through once resolved");
    all_back(&mut r);
}

/// The ICMPv6 message of an error frame, checked: from `from` to A6,
/// hop limit 64, valid checksum, quoting `orig`'s packet.
fn error6_of(f: &[u8], orig: &[u8], from: u128) -> (u8, u8, u32) {
    assert_eq!(&f[0..6], &HA);
    assert_eq!((f[20], f[21]), (58, 64));
    assert_eq!(u128::from_be_bytes(f[22..38].try_into().unwrap()), from);
    assert_eq!(u128::from_be_bytes(f[38..54].try_into().unwrap()), A6);
    assert_eq!(icmp6_checksum(from, A6, &f[54..]), 0);
    let quote = (orig.len() - 14).min(1232);
    assert_eq!(&f[62..], &orig[14..14 + quote]);
    (f[54], f[55], u32::from_be_bytes(f[58..62].try_into().unwrap()))
}

#[test]
fn ipv6_echo_and_errors() {
    let cfg = NeighConfig { retrans: Duration::from_millis(20), retries: 1, ..NeighConfig::default() };
    let mut r = rig6(1400, cfg);
    let mac0 = r.ports[0].mac();
    resolve_a6(&mut r);
    // Echo to the far address, hop limit 1: ours, answered.
    let echo = build_ip6((HA, mac0), A6, R6B, 58, 1, &icmp6_message(A6, R6B, (128, 0), 0x0001_0002, 32));
    r.send(0, std::slice::from_ref(&echo));
    r.run();
    let out = r.recv(0);
    assert_eq!(out.len(), 1, "{:?}", r.drops());
    let f = &out[0];
    assert_eq!((f[21], f[54]), (64, 129), "hop limit 64, echo reply");
    assert_eq!(u128::from_be_bytes(f[22..38].try_into().unwrap()), R6B);
    assert_eq!(icmp6_checksum(R6B, A6, &f[54..]), 0);
    assert_eq!(&f[58..], &echo[58..]);
    // Errors: hop limit, no route, UDP to us, too big.
    let cases: [(Vec<u8>, (u8, u8, u32)); 4] = [
        (udp6(mac0, B6, 1, 30), (3, 0, 0)),
        (udp6(mac0, 0x2001_0db9 << 96 | 1, 64, 30), (1, 0, 0)),
        (udp6(mac0, R6, 64, 30), (1, 4, 0)),
        (udp6(mac0, B6, 64, 1400), (2, 0, 1400)),
    ];
    // B resolved first (an advertisement nobody asked for is not learned,
    // RFC 4861 §7.2.5): a packet for it, its answer.
    r.send(0, &[udp6(mac0, B6, 64, 30)]);
    r.run();
    r.send(1, &[na(HB, B6, R6B, r.ports[1].mac())]);
    r.run();
    assert_eq!(r.recv(1).len(), 2, "the solicitation and the packet");
    for (f, want) in &cases {
        r.send(0, std::slice::from_ref(f));
        r.run();
        let out = r.recv(0);
        assert_eq!(out.len(), 1, "{want:?}: {:?}", r.drops());
        assert_eq!(error6_of(&out[0], f, R6), *want);
    }
    // Nobody at ::99: after the one solicitation, address unreachable.
    let lost = udp6(mac0, 0x2001_0db8_0001 << 80 | 0x99, 64, 30);
    r.send(0, std::slice::from_ref(&lost));
    r.run();
    walk_for(&mut r, Duration::from_millis(120));
    let out = r.recv(0);
    assert_eq!(out.len(), 1);
    assert_eq!(error6_of(&out[0], &lost, R6), (1, 3, 0));
    // No error about an error, or to a multicast group.
    let err = build_ip6((HA, mac0), A6, B6, 58, 1, &icmp6_message(A6, B6, (1, 0), 0, 48));
    r.send(0, &[err]);
    r.run();
    assert!(r.recv(0).is_empty());
    assert_eq!(counter(&mut r, "icmp6_error.about_icmp_error"), 1);
    let obs = r.graph().node_stats("icmp6_error").unwrap().observations;
    assert_eq!(
        (obs["time_exceeded"], obs["no_route"], obs["port_unreachable"], obs["too_big"], obs["addr_unreachable"]),
        (1, 1, 1, 1, 1)
    );
    all_back(&mut r);
}
