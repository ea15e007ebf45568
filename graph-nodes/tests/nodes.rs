//! The stock nodes with crafted frames: forwarding (golden bytes), every
//! validity rule, options, VLAN, checksum corner cases, TTL 1/2, routes of
//! every depth and deletes, MTU, a full tx ring, and conservation over a
//! generated mixed burst.

mod common;

use common::{Rig, NEIGH};
use graph_nodes::ip4_lookup::Ip4LookupNext;
use graph_nodes::ip4_rewrite::{cksum_ttl_dec_le, cksum_update, NextHop};
use graph_nodes::wire::{self, build_arp, build_udp6, checksum, ipv4_set_checksum, Udp4};
use proptest::prelude::*;

fn udp(dst: [u8; 4]) -> Udp4 {
    Udp4 { dst, ..Udp4::default() }
}

/// What ip4_rewrite must make of `f` leaving port `p`.
fn forwarded(f: &[u8], p: usize, port_mac: [u8; 6]) -> Vec<u8> {
    let mut e = f.to_vec();
    e[0..6].copy_from_slice(&NEIGH[p]);
    e[6..12].copy_from_slice(&port_mac);
    e[14 + 8] -= 1;
    let hl = (e[14] & 0xf) as usize * 4;
    ipv4_set_checksum(&mut e[14..14 + hl]);
    e
}

#[test]
fn forwards_with_golden_bytes() {
    let mut r = Rig::new(2, 1500, 1024);
    let f0 = udp([198, 18, 0, 7]).build();
    let f1 = Udp4 { frame_len: 128, ..udp([198, 18, 1, 9]) }.build();
    r.send(0, &[f0.clone(), f1.clone()]);
    r.run();
    let mac0 = r.ports[0].mac();
    let mac1 = r.ports[1].mac();
    assert_eq!(r.recv(0), vec![forwarded(&f0, 0, mac0)]);
    assert_eq!(r.recv(1), vec![forwarded(&f1, 1, mac1)]);
    // A golden byte check of one header: TTL 64 → 63 and the checksum a
    // full recomputation gives.
    let out = forwarded(&f0, 0, mac0);
    assert_eq!(out[22], 63);
    assert_eq!(checksum(&out[14..34]), 0);
    assert_eq!(&out[34..], &f0[34..], "payload untouched");
    assert!(r.drops().is_empty(), "{:?}", r.drops());
    assert_eq!(r.pool.in_use(), 0);
}

#[test]
fn every_validity_rule_has_its_counter() {
    let mut r = Rig::new(1, 1500, 1024);
    let good = udp([198, 18, 0, 1]).build();
    let mut cases: Vec<(Vec<u8>, &str)> = Vec::new();
    // Runt: Ethernet + 19 bytes.
    cases.push((good[..33].to_vec(), "ip4_lookup.runt"));
    let mut v = good.clone();
    v[14] = 0x65;
    ipv4_set_checksum(&mut v[14..34]);
    cases.push((v, "ip4_lookup.bad_version"));
    let mut v = good.clone();
    v[14] = 0x44;
    ipv4_set_checksum(&mut v[14..34]);
    cases.push((v, "ip4_lookup.bad_ihl"));
    // IHL 15 (60 bytes) in a 60-byte frame: header beyond the frame.
    let mut v = good.clone();
    v[14] = 0x4f;
    cases.push((v, "ip4_lookup.hdr_truncated"));
    let mut v = good.clone();
    v[16..18].copy_from_slice(&19u16.to_be_bytes());
    ipv4_set_checksum(&mut v[14..34]);
    cases.push((v, "ip4_lookup.bad_total_len"));
    let mut v = good.clone();
    v[16..18].copy_from_slice(&47u16.to_be_bytes());
    ipv4_set_checksum(&mut v[14..34]);
    cases.push((v, "ip4_lookup.bad_total_len"));
    let mut v = good.clone();
    v[24] ^= 1;
    cases.push((v, "ip4_lookup.bad_checksum"));
    cases.push((Udp4 { ttl: 1, ..udp([198, 18, 0, 1]) }.build(), "ip4_lookup.ttl_expired"));
    cases.push((Udp4 { ttl: 0, ..udp([198, 18, 0, 1]) }.build(), "ip4_lookup.ttl_expired"));
    cases.push((udp([10, 0, 0, 1]).build(), "ip4_lookup.no_route"));
    cases.push((Udp4 { dst_mac: [0xff; 6], ..udp([198, 18, 0, 1]) }.build(), "ip4_lookup.l2_broadcast"));
    cases.push((Udp4 { dst_mac: [0x01, 0, 0x5e, 0, 0, 1], ..udp([198, 18, 0, 1]) }.build(), "ip4_lookup.l2_broadcast"));
    cases.push((udp([255, 255, 255, 255]).build(), "ip4_lookup.ip_broadcast"));
    cases.push((Udp4 { src: [127, 0, 0, 1], ..udp([198, 18, 0, 1]) }.build(), "ip4_lookup.martian"));
    cases.push((Udp4 { src: [224, 0, 0, 5], ..udp([198, 18, 0, 1]) }.build(), "ip4_lookup.martian"));
    cases.push((udp([0, 1, 2, 3]).build(), "ip4_lookup.martian"));
    cases.push((build_arp([2; 6], [1, 2, 3, 4], [5, 6, 7, 8]), "arp_input.not_for_us"));
    cases.push((good[..10].to_vec(), "pkt_cls.not_ip"));
    cases.push((build_udp6([2; 6], [4; 6], [0xfe; 16], 80), "ip6_lookup.no_route"));
    let mut qinq = Udp4 { vlan: Some(5), ..udp([198, 18, 0, 1]) }.build();
    qinq.splice(12..12, [0x88, 0xa8, 0x00, 0x07]);
    cases.push((qinq, "pkt_cls.not_ip"));
    for (frame, reason) in &cases {
        r.send(0, std::slice::from_ref(frame));
        r.run();
        let d = r.drops();
        assert_eq!(d.get(*reason), Some(&1), "{reason}: {d:?}");
        assert_eq!(d.values().sum::<u64>(), 1, "{reason}: exactly one counter: {d:?}");
        assert!(r.recv(0).is_empty(), "{reason}: nothing forwarded");
        r.graph = None;
        let param = r.env.param(["ethdev_rx-0-0"], Default::default());
        r.graph = Some(graph_core::Graph::create("rig-again", &param).unwrap());
    }
    assert_eq!(r.pool.in_use(), 0);
}

#[test]
fn ttl_two_options_and_vlan_are_forwarded() {
    let mut r = Rig::new(1, 1500, 1024);
    let mac = r.ports[0].mac();
    let ttl2 = Udp4 { ttl: 2, ..udp([198, 18, 0, 3]) }.build();
    let opts = Udp4 { options: vec![0x94, 0x04, 0, 0, 1, 1, 1, 0], frame_len: 90, ..udp([198, 18, 0, 4]) }.build();
    let tagged = Udp4 { vlan: Some(0x0123), frame_len: 84, ..udp([198, 18, 0, 5]) }.build();
    let mut plain = tagged.clone();
    plain.drain(12..16);
    r.send(0, &[ttl2.clone(), opts.clone(), tagged]);
    r.run();
    let out = r.recv(0);
    assert_eq!(out.len(), 3, "{:?}", r.drops());
    assert_eq!(out[0], forwarded(&ttl2, 0, mac));
    assert_eq!(out[0][22], 1);
    assert_eq!(out[1], forwarded(&opts, 0, mac));
    // The tagged frame leaves untagged: same bytes as the untagged one.
    assert_eq!(out[2], forwarded(&plain, 0, mac));
    assert!(r.drops().is_empty());
}

#[test]
fn routes_of_every_depth_and_delete() {
    let mut r = Rig::new(2, 1500, 1024);
    // 10.1.2.3 covered at every depth 8..=32, alternating ports.
    for d in 8..=32u8 {
        r.env.fib.route_add("10.1.2.3".parse().unwrap(), d, u16::from(d % 2), Ip4LookupNext::Rewrite).unwrap();
    }
    let f = udp([10, 1, 2, 3]).build();
    r.send(0, std::slice::from_ref(&f));
    r.run();
    // /32 wins: 32 % 2 = 0 → port 0.
    assert_eq!(r.recv(0).len(), 1);
    for d in (9..=32u8).rev() {
        r.env.fib.route_delete("10.1.2.3".parse().unwrap(), d).unwrap();
        r.send(0, std::slice::from_ref(&f));
        r.run();
        let port = ((d - 1) % 2) as usize;
        assert_eq!(r.recv(port).len(), 1, "after deleting /{d}");
        assert!(r.recv(1 - port).is_empty());
    }
    r.env.fib.route_delete("10.1.2.3".parse().unwrap(), 8).unwrap();
    r.send(0, std::slice::from_ref(&f));
    r.run();
    assert_eq!(r.drops().get("ip4_lookup.no_route"), Some(&1));
    // A default route catches the rest.
    r.env.fib.route_add("0.0.0.0".parse().unwrap(), 0, 1, Ip4LookupNext::Rewrite).unwrap();
    r.send(0, &[udp([203, 0, 113, 1]).build()]);
    r.run();
    assert_eq!(r.recv(1).len(), 1);
    assert_eq!(r.pool.in_use(), 0);
}

#[test]
fn mtu_next_hop_and_full_tx_are_counted() {
    let mut r = Rig::new(1, 100, 8);
    r.send(0, &[Udp4 { frame_len: 114, ..udp([198, 18, 0, 1]) }.build()]);
    r.send(0, &[Udp4 { frame_len: 115, ..udp([198, 18, 0, 1]) }.build()]);
    r.run();
    assert_eq!(r.recv(0).len(), 1, "total length 100 passes MTU 100");
    assert_eq!(r.drops().get("ip4_rewrite.mtu_exceeded"), Some(&1));
    // A next hop without a rewrite entry.
    r.env.fib.route_add("198.51.100.0".parse().unwrap(), 24, 77, Ip4LookupNext::Rewrite).unwrap();
    r.send(0, &[udp([198, 51, 100, 1]).build()]);
    r.run();
    assert_eq!(r.drops().get("ip4_rewrite.no_next_hop"), Some(&1));
    // The out ring holds 8: the rest of a 20-packet burst is tx_full.
    let burst: Vec<_> = (0..20).map(|i| udp([198, 18, 0, i + 1]).build()).collect();
    r.send(0, &burst);
    r.run();
    assert_eq!(r.drops().get("ethdev_tx-0.tx_full"), Some(&12));
    assert_eq!(r.recv(0).len(), 8);
    r.env.next_hops.add(9, NextHop { dst_mac: [1; 6], src_mac: [2; 6], port: 0, mtu: 1500 }).unwrap();
    assert_eq!(r.env.next_hops.get(9).unwrap().dst_mac, [1; 6]);
    assert!(r.env.next_hops.delete(9));
    assert_eq!(r.env.next_hops.get(9), None);
    assert_eq!(r.pool.in_use(), 0);
}

#[test]
fn conservation_over_a_generated_mixed_burst() {
    let mut r = Rig::new(2, 1500, 4096);
    let g = graph_nodes::port::generator::GenConfig {
        ipv6: 0.1,
        arp: 0.05,
        bad: 0.15,
        dst: vec!["198.18.0.0/24".parse().unwrap(), "198.18.1.0/24".parse().unwrap(), "10.9.0.0/16".parse().unwrap()],
        ..graph_nodes::port::generator::GenConfig::new([2, 0, 0, 0, 0, 0])
    };
    let frames: Vec<Vec<u8>> = (0..3000).map(|i| g.template(i)).collect();
    r.send(0, &frames[..1500]);
    r.send(1, &frames[1500..]);
    r.run();
    let out = r.recv(0).len() as u64 + r.recv(1).len() as u64;
    let drops: u64 = r.drops().values().sum();
    let rx = r.ports[0].stats().ipackets + r.ports[1].stats().ipackets;
    let tx = r.ports[0].stats().opackets + r.ports[1].stats().opackets;
    assert_eq!(rx, 3000);
    assert_eq!(tx, out);
    assert_eq!(rx, tx + drops, "rx = tx + drops: {:?}", r.drops());
    assert_eq!(r.objs("pkt_drop"), drops);
    assert!(out > 1000 && drops > 1000, "out {out} drops {drops}");
    assert_eq!(r.pool.in_use(), 0);
}

#[test]
fn checksum_update_corner_cases() {
    // HC = 0xffff only arises from a header summing to zero, which RFC 1624
    // covers; the update must equal a full recomputation.
    let mut h = udp([198, 18, 0, 1]).build()[14..34].to_vec();
    for ttl in 2..=255u8 {
        h[8] = ttl;
        ipv4_set_checksum(&mut h);
        let hc = wire::be16(&h, 10);
        let mut after = h.clone();
        after[8] = ttl - 1;
        ipv4_set_checksum(&mut after);
        let want = wire::be16(&after, 10);
        let got = cksum_update(hc, u16::from_be_bytes([ttl, 17]), u16::from_be_bytes([ttl - 1, 17]));
        assert_eq!(got, want, "ttl {ttl}");
    }
    // RFC 1624's own example: HC 0xdd2f, m 0x5555 → m' 0x3285 gives 0x0000.
    assert_eq!(cksum_update(0xdd2f, 0x5555, 0x3285), 0x0000);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn incremental_checksum_equals_recomputation(words in proptest::array::uniform10(any::<u16>()), ttl in 2u8..=255) {
        let mut h: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        h[0] = 0x45;
        h[8] = ttl;
        ipv4_set_checksum(&mut h);
        let hc = wire::be16(&h, 10);
        let proto = h[9];
        let mut after = h.clone();
        after[8] = ttl - 1;
        ipv4_set_checksum(&mut after);
        let got = cksum_update(hc, u16::from_be_bytes([ttl, proto]), u16::from_be_bytes([ttl - 1, proto]));
        // Either representation of zero verifies; otherwise equal.
        let mut check = after.clone();
        check[10..12].copy_from_slice(&got.to_be_bytes());
        prop_assert_eq!(checksum(&check), 0);
        let le = cksum_ttl_dec_le(u16::from_le_bytes([h[10], h[11]]));
        check[10..12].copy_from_slice(&le.to_le_bytes());
        prop_assert_eq!(checksum(&check), 0);
        if wire::be16(&after, 10) != 0 {
            prop_assert_eq!(got, wire::be16(&after, 10));
        }
    }
}

#[test]
fn a_port_that_goes_down_counts_and_leaks_nothing() {
    let mut r = Rig::new(2, 1500, 1024);
    let to1: Vec<_> = (0..50).map(|i| udp([198, 18, 1, i + 1]).build()).collect();
    r.send(0, &to1);
    r.run();
    assert_eq!(r.recv(1).len(), 50);
    // The out port goes down: what is routed to it is refused and counted.
    r.ports[1].set_link(false);
    r.send(0, &to1);
    r.run();
    assert_eq!(r.recv(1).len(), 0);
    assert_eq!(r.drops().get("ethdev_tx-1.tx_full"), Some(&50));
    // The in port goes down: nothing is received while it is; frames wait
    // in its ring and flow when it comes back up.
    r.ports[1].set_link(true);
    r.ports[0].set_link(false);
    r.send(0, &to1);
    r.run();
    assert_eq!(r.recv(1).len(), 0);
    r.ports[0].set_link(true);
    r.run();
    assert_eq!(r.recv(1).len(), 50);
    assert_eq!(r.pool.in_use(), 0);
}

/// Two routers in one process, each graph given its own FIB, next-hop
/// table and ports through its environment (two VRFs): the same frame
/// leaves by a different port in each, while both forward concurrently.
#[test]
fn two_routers_with_different_fibs_in_one_process() {
    let frame = udp([198, 18, 0, 7]).build();
    let mut a = Rig::new(1, 1500, 1024);
    let mut b = Rig::new(1, 1500, 1024);
    b.env.fib.route_delete("198.18.0.0".parse().unwrap(), 24).unwrap();
    b.env.fib.route_add("198.18.0.0".parse().unwrap(), 24, 1, Ip4LookupNext::Rewrite).unwrap();
    let (mac_a0, mac_b1) = (a.ports[0].mac(), b.ports[1].mac());
    let frames = vec![frame.clone(); 100];
    let fa = frames.clone();
    let ta = std::thread::spawn(move || {
        a.send(0, &fa);
        a.run();
        (a.recv(0), a.recv(1), a.pool.in_use())
    });
    b.send(0, &frames);
    b.run();
    let (b0, b1) = (b.recv(0), b.recv(1));
    let (a0, a1, a_in_use) = ta.join().unwrap();
    assert_eq!(a0, vec![forwarded(&frame, 0, mac_a0); 100], "router A routes 198.18.0.0/24 to port 0");
    assert!(a1.is_empty());
    assert!(b0.is_empty());
    assert_eq!(b1, vec![forwarded(&frame, 1, mac_b1); 100], "router B routes it to port 1");
    assert_eq!((a_in_use, b.pool.in_use()), (0, 0));
}

// A user node of opaque objects cannot feed packets into the stock nodes:
// the graph is refused at creation, naming both nodes and both types.
fn forge(ctx: &mut graph_core::Ctx<'_>, _: &mut (), _objs: graph_core::Objs<'_>) -> usize {
    ctx.enqueue_x1(0, graph_core::Obj::from_addr(0x1000_0000_0040));
    1
}
graph_core::node! {
    static FORGE = {
        name: "forge_into_lookup",
        flags: graph_core::NodeFlags::SOURCE,
        process: forge,
        next: &["ip4_lookup"],
    };
}

#[test]
fn forged_handles_cannot_reach_packet_nodes() {
    let r = Rig::new(1, 1500, 64);
    let err = graph_core::Graph::create("forge", &r.env.param(["forge_into_lookup"], Default::default())).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("forge_into_lookup") && msg.contains("ip4_lookup") && msg.contains("Pkt"), "{msg}");
}
