//! Hostile traffic through l3fwd-graph, and faults. A pcap made here mixes
//! good frames with every kind of bad one; every good frame must leave
//! correctly rewritten and every bad one be counted under its reason, with
//! the pool full again at exit. Faults: pool exhaustion mid-burst, a tx
//! queue that refuses packets, an output that cannot be written.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use graph_nodes::port::pcap::{read_pcap, write_pcap};
use graph_nodes::wire::{build_arp, build_arp_reply, build_icmp4, build_udp6, checksum, ipv4_set_checksum, Udp4};

mod common;

use common::Dir;

fn dir(name: &str) -> Dir {
    common::dir("hostile", name)
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_l3fwd-graph"))
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn counters(j: &serde_json::Value) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for n in j["nodes"].as_array().unwrap() {
        for (k, v) in n["counters"].as_object().unwrap() {
            if v.as_u64().unwrap() > 0 {
                m.insert(format!("{}.{k}", n["name"].as_str().unwrap()), v.as_u64().unwrap());
            }
        }
    }
    m
}

const NEIGH1: [u8; 6] = [0x52, 0x54, 0, 0, 0, 1];
const MAC1: [u8; 6] = [2, 0, 0, 0, 0, 0xb1];

fn udp(tag: u16) -> Udp4 {
    Udp4 { dst: [198, 18, 1, 1 + (tag % 200) as u8], sport: tag, ..Udp4::default() }
}

fn forwarded(f: &[u8]) -> Vec<u8> {
    let mut e = f.to_vec();
    e[0..6].copy_from_slice(&NEIGH1);
    e[6..12].copy_from_slice(&MAC1);
    e[22] -= 1;
    let hl = (e[14] & 0xf) as usize * 4;
    ipv4_set_checksum(&mut e[14..14 + hl]);
    e
}

fn edit(mut f: Vec<u8>, at: usize, bytes: &[u8], fix: bool) -> Vec<u8> {
    f[at..at + bytes.len()].copy_from_slice(bytes);
    if fix {
        let hl = ((f[14] & 0xf) as usize * 4).clamp(20, f.len() - 14);
        ipv4_set_checksum(&mut f[14..14 + hl]);
    }
    f
}

#[test]
fn hostile_traffic_is_forwarded_or_counted_by_reason() {
    let d = dir("mix");
    let mut input: Vec<Vec<u8>> = Vec::new();
    let mut good_out: Vec<Vec<u8>> = Vec::new();
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    let mut bad = |f: Vec<u8>, reason: &str, input: &mut Vec<Vec<u8>>| {
        input.push(f);
        *want.entry(reason.to_string()).or_default() += 1;
    };
    let mut tag = 0u16;
    let mut next = || {
        tag += 1;
        tag
    };
    for round in 0..20 {
        // Good: plain, with options, fragments, VLAN-tagged, large but
        // within the MTU.
        for f in [
            udp(next()).build(),
            Udp4 { options: vec![0x01, 0x01, 0x01, 0x00, 0x94, 0x04, 0x00, 0x00], frame_len: 80, ..udp(next()) }
                .build(),
            edit(Udp4 { frame_len: 200, ..udp(next()) }.build(), 20, &[0x20, 0x00], true), // MF set, offset 0
            edit(Udp4 { frame_len: 120, ..udp(next()) }.build(), 20, &[0x00, 0x10], true), // last fragment, offset 128
            Udp4 { frame_len: 1514, ..udp(next()) }.build(),
        ] {
            good_out.push(forwarded(&f));
            input.push(f);
        }
        let tagged = Udp4 { vlan: Some(100 + round), frame_len: 90, ..udp(next()) }.build();
        let mut untagged = tagged.clone();
        untagged.drain(12..16);
        good_out.push(forwarded(&untagged));
        input.push(tagged);
        // Bad, each with the reason it must be counted under.
        let g = udp(next()).build();
        bad(g[..13].to_vec(), "pkt_cls.not_ip", &mut input); // runt below Ethernet
        bad(g[..30].to_vec(), "ip4_lookup.runt", &mut input); // truncated header
        bad(edit(g.clone(), 14, &[0x44], true), "ip4_lookup.bad_ihl", &mut input);
        bad(edit(g.clone(), 14, &[0x4f], false), "ip4_lookup.hdr_truncated", &mut input); // IHL 60 in a 60-byte frame
        bad(edit(g.clone(), 14, &[0x65], true), "ip4_lookup.bad_version", &mut input);
        bad(edit(g.clone(), 24, &[0xde, 0xad], false), "ip4_lookup.bad_checksum", &mut input);
        bad(edit(g.clone(), 16, &[0x00, 0x50], true), "ip4_lookup.bad_total_len", &mut input); // 80 > 46 in frame
        bad(edit(g.clone(), 16, &[0x00, 0x10], true), "ip4_lookup.bad_total_len", &mut input); // 16 < header
        bad(Udp4 { ttl: 0, ..udp(next()) }.build(), "ip4_lookup.ttl_expired", &mut input);
        bad(Udp4 { ttl: 1, ..udp(next()) }.build(), "ip4_lookup.ttl_expired", &mut input);
        bad(Udp4 { dst_mac: [0xff; 6], ..udp(next()) }.build(), "ip4_lookup.l2_broadcast", &mut input);
        bad(Udp4 { dst: [255, 255, 255, 255], ..udp(next()) }.build(), "ip4_lookup.ip_broadcast", &mut input);
        bad(Udp4 { src: [127, 0, 0, 1], ..udp(next()) }.build(), "ip4_lookup.martian", &mut input);
        bad(Udp4 { dst: [10, 99, 0, 1], ..udp(next()) }.build(), "ip4_lookup.no_route", &mut input);
        bad(Udp4 { frame_len: 1600, ..udp(next()) }.build(), "ip4_rewrite.mtu_exceeded", &mut input); // jumbo above MTU 1500
        bad(build_udp6([2; 6], [4; 6], [0xfe; 16], 90), "ip6_lookup.no_route", &mut input);
        bad(build_arp([2; 6], [198, 18, 0, 9], [198, 18, 0, 1]), "arp_input.not_for_us", &mut input);
        let mut qinq = udp(next()).build();
        qinq.splice(12..12, [0x88, 0xa8, 0, 1, 0x81, 0, 0, 2]);
        bad(qinq, "pkt_cls.not_ip", &mut input);
    }
    // Frames larger than a buffer: refused by the port, counted there.
    let huge = Udp4 { frame_len: 3000, ..udp(9999) }.build();
    input.push(huge.clone());
    input.push(huge);

    let inp = d.0.join("in.pcap");
    let out = d.0.join("out1.pcap");
    write_pcap(&inp, input.iter().map(|f| f.as_slice())).unwrap();
    let cfg = d.0.join("r.toml");
    std::fs::write(
        &cfg,
        format!(
            "stats_interval = 0\n\
             [[port]]\nid = 0\nbackend = \"pcap\"\nparams = {{ rx_pcap = \"{}\" }}\n\
             [[port]]\nid = 1\nbackend = \"pcap\"\nparams = {{ tx_pcap = \"{}\" }}\nrx_queues = 1\nmac = \"02:00:00:00:00:b1\"\nneighbour = \"52:54:00:00:00:01\"\n\
             [[lcore]]\nid = 1\ncpu = 1\nrx = [[0, 0]]\n",
            inp.display(),
            out.display()
        ),
    )
    .unwrap();
    // Port 1 has no rx_pcap: give it one that is empty.
    let empty = d.0.join("empty.pcap");
    write_pcap(&empty, std::iter::empty()).unwrap();
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        &format!("params = {{ tx_pcap = \"{}\" }}", out.display()),
        &format!("params = {{ rx_pcap = \"{}\", tx_pcap = \"{}\" }}", empty.display(), out.display()),
    );
    std::fs::write(&cfg, text).unwrap();
    let stats = d.0.join("s.json");
    let o: Output =
        bin().arg("-f").arg(&cfg).args(["--exit-on-eof", "-q", "--stats-json"]).arg(&stats).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j = json(&stats);

    let got: Vec<Vec<u8>> = read_pcap(&out).unwrap().iter().map(|f| f.to_vec()).collect();
    assert_eq!(got.len(), good_out.len(), "every good frame out");
    for (g, w) in got.iter().zip(&good_out) {
        assert_eq!(g, w, "rewritten exactly: MACs, TTL - 1, checksum, payload");
        assert_eq!(checksum(&g[14..14 + (g[14] & 0xf) as usize * 4]), 0);
    }
    assert_eq!(counters(&j), want, "every bad frame under its reason, exactly once");
    assert_eq!(j["ports"][0]["rx_errors"], 2, "frames larger than a buffer");
    let rx = j["ports"][0]["rx_packets"].as_u64().unwrap();
    assert_eq!(rx, input.len() as u64 - 2);
    assert_eq!(rx, got.len() as u64 + want.values().sum::<u64>());
    assert_eq!(j["pool_in_use"], 0, "the pool is full again");
}

/// A router with addresses (10.0.0.1/24 on port 0, 10.0.1.1/24 on port 1)
/// gets hostile ARP and ICMP from host A (10.0.0.2) on port 0: what must be
/// answered is, byte-checked where it is ours to build, and every other
/// frame is counted under its reason.
#[test]
fn hostile_arp_and_icmp_are_answered_or_counted() {
    const HA: [u8; 6] = [0x52, 0x54, 0, 0, 0, 0xa0];
    const A: [u8; 4] = [10, 0, 0, 2];
    const MAC0: [u8; 6] = [2, 0, 0, 0, 0, 0xa1];
    let d = dir("l3");
    let mut input: Vec<Vec<u8>> = Vec::new();
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    let mut bad = |f: Vec<u8>, reason: &str, input: &mut Vec<Vec<u8>>| {
        input.push(f);
        *want.entry(reason.to_string()).or_default() += 1;
    };
    let us = [10, 0, 0, 1];
    let echo = |dst: [u8; 4], ttl: u8| build_icmp4((HA, MAC0), A, dst, ttl, (8, 0), 0x0101_0001, 24);
    let udp_to = |dst: [u8; 4], ttl: u8| Udp4 { src_mac: HA, dst_mac: MAC0, src: A, dst, ttl, ..Udp4::default() };
    // A introduces itself (answered: one ARP reply out).
    input.push(build_arp(HA, A, us));
    let (mut arp_replies, mut echo_replies, mut errors) = (1, 0, 0);
    for _ in 0..5 {
        // Answered: echo to both our addresses; errors: TTL 1 in transit,
        // no route, UDP to us.
        input.push(echo(us, 64));
        input.push(echo([10, 0, 1, 1], 1));
        echo_replies += 2;
        input.push(udp_to([10, 0, 1, 7], 1).build());
        input.push(udp_to([172, 16, 0, 1], 64).build());
        input.push(udp_to(us, 64).build());
        errors += 3;
        input.push(build_arp(HA, A, us));
        arp_replies += 1;
        // ARP that must not be answered.
        let mut a = build_arp(HA, A, us);
        a.truncate(14 + 20);
        bad(a, "arp_input.bad_arp", &mut input);
        let mut a = build_arp(HA, A, us);
        a[15] = 6; // hardware type IEEE 802
        bad(a, "arp_input.bad_arp", &mut input);
        let mut a = build_arp(HA, A, us);
        a[21] = 3; // RARP
        bad(a, "arp_input.bad_arp", &mut input);
        bad(build_arp([0x01, 0, 0x5e, 0, 0, 1], A, us), "arp_input.bad_arp", &mut input);
        bad(build_arp(HA, A, [10, 0, 0, 99]), "arp_input.not_for_us", &mut input);
        bad(build_arp(HA, A, [10, 0, 1, 1]), "arp_input.not_for_us", &mut input); // the other port's
        bad(build_arp([2, 0, 0, 0, 0, 0x66], us, us), "arp_input.addr_conflict", &mut input);
        bad(build_arp_reply([2, 0, 0, 0, 0, 0x67], [10, 0, 0, 77], MAC0, us), "arp_input.consumed", &mut input);
        // ICMP and others to us that get no answer.
        let mut e = echo(us, 64);
        e[40] ^= 0xff;
        bad(e, "ip4_local.bad_icmp", &mut input);
        let mut e = echo(us, 64);
        e.truncate(14 + 24);
        e[16..18].copy_from_slice(&24u16.to_be_bytes());
        ipv4_set_checksum(&mut e[14..34]);
        bad(e, "ip4_local.bad_icmp", &mut input); // 4 bytes of ICMP
        bad(build_icmp4((HA, MAC0), A, us, 64, (0, 0), 1, 8), "ip4_local.icmp_ignored", &mut input);
        bad(build_icmp4((HA, MAC0), A, us, 64, (3, 3), 0, 28), "ip4_local.icmp_ignored", &mut input);
        let mut t = udp_to(us, 64).build();
        t[23] = 6;
        ipv4_set_checksum(&mut t[14..34]);
        bad(t, "ip4_local.tcp", &mut input);
        bad(edit(udp_to(us, 64).build(), 20, &[0x20, 0], true), "ip4_local.fragment", &mut input);
        bad(echo([255, 255, 255, 255], 64), "ip4_lookup.ip_broadcast", &mut input);
        bad(echo([10, 0, 0, 255], 64), "ip4_arp.not_a_host", &mut input);
        // Errors the router must not send.
        bad(build_icmp4((HA, MAC0), A, [10, 0, 1, 9], 1, (3, 1), 0, 28), "icmp4_error.about_icmp_error", &mut input);
        bad(edit(udp_to([10, 0, 1, 9], 1).build(), 20, &[0, 0x10], true), "icmp4_error.about_fragment", &mut input);
        bad(Udp4 { dst_mac: [0xff; 6], ..udp_to([10, 0, 1, 9], 1) }.build(), "ip4_lookup.l2_broadcast", &mut input);
    }
    let inp = d.0.join("in.pcap");
    let (out0, out1) = (d.0.join("out0.pcap"), d.0.join("out1.pcap"));
    let empty = d.0.join("empty.pcap");
    write_pcap(&inp, input.iter().map(|f| f.as_slice())).unwrap();
    write_pcap(&empty, std::iter::empty()).unwrap();
    let cfg = d.0.join("r.toml");
    std::fs::write(
        &cfg,
        format!(
            "stats_interval = 0
             [[port]]
id = 0
backend = \"pcap\"
params = {{ rx_pcap = \"{}\", tx_pcap = \"{}\" }}
mac = \"02:00:00:00:00:a1\"
addr = [\"10.0.0.1/24\"]
             [[port]]
id = 1
backend = \"pcap\"
params = {{ rx_pcap = \"{}\", tx_pcap = \"{}\" }}
addr = [\"10.0.1.1/24\"]
",
            inp.display(),
            out0.display(),
            empty.display(),
            out1.display()
        ),
    )
    .unwrap();
    let stats = d.0.join("s.json");
    let o: Output =
        bin().arg("-f").arg(&cfg).args(["--exit-on-eof", "-q", "--stats-json"]).arg(&stats).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j = json(&stats);
    let got: Vec<Vec<u8>> = read_pcap(&out0).unwrap().iter().map(|f| f.to_vec()).collect();
    let arp: Vec<&Vec<u8>> = got.iter().filter(|f| f[12..14] == [8, 6]).collect();
    let icmp: Vec<&Vec<u8>> = got.iter().filter(|f| f[12..14] == [8, 0] && f[23] == 1).collect();
    assert_eq!(arp.len(), arp_replies, "ARP replies");
    for a in &arp {
        assert_eq!((&a[0..6], &a[6..12], a[21]), (&HA[..], &MAC0[..], 2));
        assert_eq!((&a[28..32], &a[38..42]), (&us[..], &A[..]));
    }
    assert_eq!(icmp.len(), echo_replies + errors, "echo replies and errors, all to A");
    for f in &icmp {
        assert_eq!((&f[0..6], &f[30..34]), (&HA[..], &A[..]));
        assert_eq!(checksum(&f[14..34]), 0);
        assert_eq!(checksum(&f[34..]), 0);
    }
    assert_eq!(icmp.iter().filter(|f| f[34] == 0).count(), echo_replies);
    assert_eq!(got.len(), arp.len() + icmp.len(), "nothing else leaves port 0");
    assert!(read_pcap(&out1).unwrap().is_empty(), "nothing for port 1's hosts");
    assert_eq!(counters(&j), want, "every other frame under its reason, exactly once");
    assert!(j.get("held_at_stop").is_none(), "nothing waited for a neighbour");
    assert_eq!(j["pool_in_use"], 0, "the pool is full again");
}

/// The same router with IPv6 addresses (2001:db8::1/64 on port 0,
/// 2001:db8:1::1/64 on port 1) gets hostile IPv6 from host A
/// (2001:db8::2): what must be answered is (neighbour advertisements, echo
/// replies, ICMPv6 errors, all checked against A), everything else is
/// counted once under its reason.
#[test]
fn hostile_ipv6_is_answered_or_counted() {
    use graph_nodes::wire::view::{icmp6, NdMessage, NA_OVERRIDE, NA_SOLICITED};
    use graph_nodes::wire::{build_ip6, icmp6_checksum, icmp6_message, multicast_mac6, solicited_node};
    const HA: [u8; 6] = [0x52, 0x54, 0, 0, 0, 0xa0];
    const MAC0: [u8; 6] = [2, 0, 0, 0, 0, 0xa1];
    let a: u128 = 0x2001_0db8 << 96 | 2;
    let us: u128 = 0x2001_0db8 << 96 | 1;
    let b: u128 = 0x2001_0db8_0001 << 80 | 2;
    let d = dir("l3v6");
    let mut input: Vec<Vec<u8>> = Vec::new();
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    let mut bad = |f: Vec<u8>, reason: &str, input: &mut Vec<Vec<u8>>| {
        input.push(f);
        *want.entry(reason.to_string()).or_default() += 1;
    };
    let nd = |kind: u8, flags: u8, src: u128, dst: u128, target: u128, hops: u8| {
        let mut m = [0u8; 32];
        NdMessage { kind, flags, target, lladdr: Some(HA) }.write(&mut m, src, dst);
        let mac = if dst >> 120 == 0xff { multicast_mac6(dst) } else { MAC0 };
        build_ip6((HA, mac), src, dst, 58, hops, &m)
    };
    let udp = |dst: u128, hops: u8| {
        let mut u = vec![0u8; 24];
        u[0..2].copy_from_slice(&1024u16.to_be_bytes());
        u[2..4].copy_from_slice(&33434u16.to_be_bytes());
        u[4..6].copy_from_slice(&24u16.to_be_bytes());
        build_ip6((HA, MAC0), a, dst, 17, hops, &u)
    };
    let echo = |dst: u128, hops: u8| build_ip6((HA, MAC0), a, dst, 58, hops, &icmp6_message(a, dst, (128, 0), 7, 24));
    // A resolves the router (answered: one advertisement).
    input.push(nd(icmp6::NS, 0, a, solicited_node(us), us, 255));
    let (mut adverts, mut echoes, mut errors) = (1, 0, 0);
    for _ in 0..5 {
        input.push(echo(us, 64));
        echoes += 1;
        input.push(udp(b, 1));
        input.push(udp(0x2001_0db8_0009 << 80 | 1, 64));
        input.push(udp(us, 64));
        errors += 3;
        input.push(nd(icmp6::NS, 0, a, us, us, 255)); // unicast, for probing
        adverts += 1;
        let mut v = udp(b, 64);
        v.truncate(14 + 30);
        bad(v, "ip6_lookup.runt", &mut input);
        let mut v = udp(b, 64);
        v[14] = 0x40;
        bad(v, "ip6_lookup.bad_version", &mut input);
        let mut v = udp(b, 64);
        v[18..20].copy_from_slice(&100u16.to_be_bytes());
        bad(v, "ip6_lookup.bad_payload_len", &mut input);
        let mut v = udp(b, 64);
        v[22] = 0xff; // multicast source
        bad(v, "ip6_lookup.martian", &mut input);
        bad(udp(0xfe80 << 112 | 5, 64), "ip6_lookup.link_local", &mut input);
        bad(udp(0xff05 << 112 | 1, 64), "ip6_lookup.multicast", &mut input);
        bad(nd(icmp6::NS, 0, a, solicited_node(us), us, 64), "ndp_input.bad_nd", &mut input);
        let mut v = nd(icmp6::NS, 0, a, solicited_node(us), us, 255);
        v[60] ^= 1; // checksum
        bad(v, "ndp_input.bad_nd", &mut input);
        bad(nd(icmp6::NS, 0, a, solicited_node(b), b, 255), "ndp_input.not_for_us", &mut input);
        bad(nd(icmp6::NA, NA_OVERRIDE, a, 0xff02 << 112 | 1, us, 255), "ndp_input.addr_conflict", &mut input);
        bad(nd(icmp6::NA, NA_SOLICITED, a, us, 0x2001_0db8 << 96 | 0x77, 255), "ndp_input.consumed", &mut input);
        let mut e = echo(us, 64);
        e[62] ^= 1;
        bad(e, "ip6_local.bad_icmp", &mut input);
        let mut t = udp(us, 64);
        t[20] = 6;
        bad(t, "ip6_local.tcp", &mut input);
        bad(
            build_ip6((HA, MAC0), a, b, 58, 1, &icmp6_message(a, b, (1, 0), 0, 48)),
            "icmp6_error.about_icmp_error",
            &mut input,
        );
    }
    let inp = d.0.join("in.pcap");
    let (out0, out1, empty) = (d.0.join("out0.pcap"), d.0.join("out1.pcap"), d.0.join("empty.pcap"));
    write_pcap(&inp, input.iter().map(|f| f.as_slice())).unwrap();
    write_pcap(&empty, std::iter::empty()).unwrap();
    let cfg = d.0.join("r.toml");
    std::fs::write(
        &cfg,
        format!(
            "stats_interval = 0\n\
             [[port]]\nid = 0\nbackend = \"pcap\"\nparams = {{ rx_pcap = \"{}\", tx_pcap = \"{}\" }}\nmac = \"02:00:00:00:00:a1\"\naddr = [\"2001:db8::1/64\"]\n\
             [[port]]\nid = 1\nbackend = \"pcap\"\nparams = {{ rx_pcap = \"{}\", tx_pcap = \"{}\" }}\naddr = [\"2001:db8:1::1/64\"]\n",
            inp.display(),
            out0.display(),
            empty.display(),
            out1.display()
        ),
    )
    .unwrap();
    let stats = d.0.join("s.json");
    let o = bin().arg("-f").arg(&cfg).args(["--exit-on-eof", "-q", "--stats-json"]).arg(&stats).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j = json(&stats);
    let got: Vec<Vec<u8>> = read_pcap(&out0).unwrap().iter().map(|f| f.to_vec()).collect();
    assert_eq!(got.len(), adverts + echoes + errors, "advertisements, echo replies and errors");
    for f in &got {
        assert_eq!((&f[0..6], &f[12..14], f[20]), (&HA[..], &[0x86, 0xdd][..], 58), "ICMPv6 to A");
        let (src, dst) =
            (u128::from_be_bytes(f[22..38].try_into().unwrap()), u128::from_be_bytes(f[38..54].try_into().unwrap()));
        assert_eq!((src, dst), (us, a));
        assert_eq!(icmp6_checksum(src, dst, &f[54..]), 0);
    }
    let kinds = |t: u8| got.iter().filter(|f| f[54] == t).count();
    assert_eq!((kinds(136), kinds(129), kinds(3) + kinds(1)), (adverts, echoes, errors));
    assert!(read_pcap(&out1).unwrap().iter().all(|f| f[12..14] == [0x86, 0xdd]), "port 1 sends only solicitations");
    assert_eq!(counters(&j), want, "every other frame under its reason, exactly once");
    assert_eq!(j["pool_in_use"], 0, "the pool is full again");
}

fn generator_run(extra_toml: &str, args: &[&str]) -> (Output, serde_json::Value, Dir) {
    let d = dir(&format!("gen{}", args.len() + extra_toml.len()));
    let cfg = d.0.join("g.toml");
    std::fs::write(&cfg, format!("stats_interval = 0\n{extra_toml}")).unwrap();
    let stats = d.0.join("s.json");
    let o = bin().arg("-f").arg(&cfg).args(["-q", "--stats-json"]).arg(&stats).args(args).output().unwrap();
    let j = if stats.exists() { json(&stats) } else { serde_json::Value::Null };
    (o, j, d)
}

#[test]
fn pool_exhaustion_mid_burst_is_counted_and_survived() {
    // Three generator ports polled by one lcore, bursts of 256 from a pool
    // of 600: the third port finds the pool short on every walk.
    let ports: String = (0..3)
        .map(|p| format!("[[port]]\nid = {p}\nbackend = \"generator\"\nparams = {{ dst = \"198.18.{p}.0/24\" }}\n"))
        .collect();
    let (o, j, _d) = generator_run(&format!("pool_cache = 0\n{ports}"), &["--pool-size", "600", "--duration", "1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let nombuf: u64 = j["ports"].as_array().unwrap().iter().map(|p| p["rx_nombuf"].as_u64().unwrap()).sum();
    let tx: u64 = j["ports"].as_array().unwrap().iter().map(|p| p["tx_packets"].as_u64().unwrap()).sum();
    assert!(nombuf > 0, "exhaustion counted: {j}");
    assert!(tx > 100_000, "forwarding went on: {j}");
    assert_eq!(j["pool_in_use"], 0);
}

#[test]
fn a_tx_queue_that_refuses_packets_is_counted() {
    // Port 1 sends into a ring of 64 that nobody reads.
    let toml = "[[port]]\nid = 0\nbackend = \"generator\"\nparams = { dst = \"198.18.1.0/24\", count = 10000 }\n\
                [[port]]\nid = 1\nbackend = \"ring\"\nparams = { rx = \"hostile-none\", tx = \"hostile-sink\", size = 64 }\n\
                [[lcore]]\nid = 1\ncpu = 1\nrx = [[0, 0]]\n";
    let (o, j, _d) = generator_run(toml, &["--exit-on-eof"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let c = counters(&j);
    assert_eq!(j["ports"][1]["tx_packets"], 64);
    assert_eq!(c.get("ethdev_tx-1.tx_full"), Some(&(10000 - 64)), "{c:?}");
    assert_eq!(j["pool_in_use"], 0, "what sat in the ring was freed at close");
}

#[test]
fn an_output_that_cannot_be_written() {
    // At start: a clear one-line error, exit 2.
    let toml = "[[port]]\nid = 0\nbackend = \"generator\"\nparams = { count = 100 }\n\
                [[port]]\nid = 1\nbackend = \"pcap\"\nparams = { rx_pcap = \"/nonexistent/in.pcap\", tx_pcap = \"/nonexistent/out.pcap\" }\n";
    let (o, _, _d) = generator_run(toml, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/nonexistent/in.pcap") && err.lines().count() == 1, "{err}");

    // A device that takes no bytes (/dev/full): refused at start, when
    // the capture header cannot be written.
    let d = dir("full");
    let empty = d.0.join("empty.pcap");
    write_pcap(&empty, std::iter::empty()).unwrap();
    let toml = |out: &str| {
        format!(
            "[[port]]\nid = 0\nbackend = \"generator\"\nparams = {{ dst = \"198.18.1.0/24\", count = 20000 }}\n\
             [[port]]\nid = 1\nbackend = \"pcap\"\nparams = {{ rx_pcap = \"{}\", tx_pcap = \"{out}\" }}\n\
             [[lcore]]\nid = 1\ncpu = 1\nrx = [[0, 0]]\n",
            empty.display()
        )
    };
    let (o, _, _d2) = generator_run(&toml("/dev/full"), &["--exit-on-eof"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("/dev/full") && err.lines().count() == 1, "{err}");

    // A disk that fills while running (a 64 KiB tmpfs, about 800 of the
    // 20000 records): forwarding goes on, a packet is counted sent only if
    // its whole record reached the file, the others are tx errors and
    // dropped in the summary, the file is a valid capture of exactly the
    // sent ones, and the run exits 1 naming the file.
    let mnt = d.0.join("small");
    let _fs = common::Tmpfs::mount(&mnt, "64k");
    let out = mnt.join("out.pcap");
    let (o, j, _d3) = generator_run(&toml(&out.to_string_lossy()), &["--exit-on-eof"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("out.pcap"), "{err}");
    let sent = j["ports"][1]["tx_packets"].as_u64().unwrap();
    let failed = j["ports"][1]["tx_errors"].as_u64().unwrap();
    assert_eq!(sent + failed, 20000, "{j}");
    assert!(sent > 0 && failed > 0, "{j}");
    assert_eq!(read_pcap(&out).unwrap().len() as u64, sent, "the file holds exactly the packets counted sent");
    assert_eq!(j["pool_in_use"], 0);
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(summary.contains(&format!("{sent} sent, {failed} dropped")), "{summary}");
}
