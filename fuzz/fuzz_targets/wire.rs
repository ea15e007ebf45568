//! Every checked wire view over arbitrary bytes: a constructor either
//! refuses with a reason or returns a view whose every getter and setter
//! stays in bounds (no panic); what a setter writes, the getter reads back;
//! `fill_checksum` makes `verify_checksum` true, and the incremental TTL
//! decrement keeps it true; `new_checked` agrees with the rules it states
//! (IPv4, IPv6, ARP, ICMP, neighbour discovery); finishing a partial L4
//! checksum touches only it.
#![no_main]

use graph_nodes::wire::{
    checksum, finish_l4_checksum, icmp6_checksum, ArpPacket, EthernetFrame, Icmpv4Packet, Ipv4Packet, Ipv6Packet,
    NdMessage, UdpPacket, VlanTag, WireError,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = data.to_vec();

    if let Ok(mut e) = EthernetFrame::new_checked(&mut buf[..]) {
        let (d, s, t) = (e.dst_addr(), e.src_addr(), e.ethertype());
        let _ = (e.dst_is_group(), e.payload().len());
        e.set_dst_addr(s);
        e.set_src_addr(d);
        e.set_ethertype(t.rotate_left(3));
        assert_eq!((e.dst_addr(), e.src_addr(), e.ethertype()), (s, d, t.rotate_left(3)));
        let _ = e.payload_mut().len();
    } else {
        assert!(data.len() < 14);
    }

    if let Ok(v) = VlanTag::new_checked(data) {
        assert_eq!(v.vid(), v.tci() & 0xfff);
        let _ = v.inner_ethertype();
    }

    let mut buf = data.to_vec();
    match Ipv4Packet::new_checked(&mut buf[..]) {
        Ok(mut ip) => {
            assert_eq!(ip.version(), 4);
            let hl = ip.header_len();
            assert!((20..=60).contains(&hl) && hl <= data.len());
            assert!(usize::from(ip.total_len()) >= hl && usize::from(ip.total_len()) <= data.len());
            let _ = (ip.ident(), ip.dont_frag(), ip.more_frags(), ip.frag_offset(), ip.protocol());
            let _ = (ip.src_addr(), ip.dst_addr(), ip.checksum(), ip.header().len(), ip.payload().len());
            ip.fill_checksum();
            assert!(ip.verify_checksum());
            assert_eq!(checksum(ip.header()), 0);
            if ip.ttl() > 1 {
                let ttl = ip.ttl();
                ip.decrement_ttl();
                assert_eq!(ip.ttl(), ttl - 1);
                assert!(ip.verify_checksum(), "incremental update keeps the checksum valid");
            }
            let (s, d) = (ip.src_addr(), ip.dst_addr());
            ip.set_src_addr(d);
            ip.set_dst_addr(s);
            assert_eq!((ip.src_addr(), ip.dst_addr()), (d, s));
        }
        Err(e) => {
            // The reason is the first rule the bytes break.
            let why = if data.len() < 20 {
                WireError::Truncated
            } else if data[0] >> 4 != 4 {
                WireError::BadVersion
            } else if usize::from(data[0] & 15) * 4 < 20 {
                WireError::BadIhl
            } else if usize::from(data[0] & 15) * 4 > data.len() {
                WireError::HdrTruncated
            } else {
                WireError::BadTotalLen
            };
            assert_eq!(e, why);
        }
    }

    let mut buf = data.to_vec();
    if let Ok(mut u) = UdpPacket::new_checked(&mut buf[..]) {
        let (s, d, l, c) = (u.src_port(), u.dst_port(), u.len(), u.checksum());
        let _ = u.is_empty();
        u.set_src_port(d);
        u.set_dst_port(s);
        u.set_len(l ^ 1);
        u.set_checksum(!c);
        assert_eq!((u.src_port(), u.dst_port(), u.len(), u.checksum()), (d, s, l ^ 1, !c));
    }

    // ARP: only Ethernet/IPv4 requests and replies pass, and a reply
    // written over one reads back as written.
    let mut buf = data.to_vec();
    match ArpPacket::new_checked(&mut buf[..]) {
        Ok(mut a) => {
            assert!(data.len() >= 28 && data[..6] == [0, 1, 8, 0, 6, 4] && matches!(data[6..8], [0, 1] | [0, 2]));
            let (op, sm, si, tm, ti) = (a.operation(), a.sender_mac(), a.sender_ip(), a.target_mac(), a.target_ip());
            a.fill(3 - op, (tm, ti), (sm, si));
            assert_eq!((a.operation(), a.sender_mac(), a.sender_ip()), (3 - op, tm, ti));
            assert_eq!((a.target_mac(), a.target_ip()), (sm, si));
        }
        Err(e) => assert!(
            (data.len() < 28 && e == WireError::Truncated) || (data.len() >= 28 && e == WireError::Unsupported)
        ),
    }

    // ICMP: any 8 bytes are a header; fill_checksum makes it verify.
    let mut buf = data.to_vec();
    match Icmpv4Packet::new_checked(&mut buf[..]) {
        Ok(mut m) => {
            let _ = (m.msg_type(), m.code(), m.rest(), m.data().len());
            m.set_type_code(0, 0);
            m.fill_checksum();
            assert!(m.verify_checksum());
        }
        Err(_) => assert!(data.len() < 8),
    }

    // IPv6: version 6 and a payload length inside the buffer, or the
    // reason; setters read back.
    let mut buf = data.to_vec();
    match Ipv6Packet::new_checked(&mut buf[..]) {
        Ok(mut ip) => {
            assert!(data.len() >= 40 && data[0] >> 4 == 6);
            assert!(40 + usize::from(ip.payload_len()) <= data.len());
            let (s, d, h) = (ip.src_addr(), ip.dst_addr(), ip.hop_limit());
            ip.set_src_addr(d);
            ip.set_dst_addr(s);
            ip.set_hop_limit(h.wrapping_sub(1));
            assert_eq!((ip.src_addr(), ip.dst_addr(), ip.hop_limit()), (d, s, h.wrapping_sub(1)));
            let _ = (ip.next_header(), ip.payload().len(), ip.payload_mut().len());
        }
        Err(e) => assert!(
            (data.len() < 40 && e == WireError::Truncated)
                || (data.len() >= 40 && data[0] >> 4 != 6 && e == WireError::BadVersion)
                || (data.len() >= 40 && e == WireError::BadTotalLen)
        ),
    }

    // Neighbour discovery: a parsed message written back parses to itself,
    // with a checksum that verifies.
    if let Ok(nd) = NdMessage::parse(data) {
        assert!(data.len() >= 24 && matches!(data[0], 135 | 136) && data[1] == 0);
        let mut out = [0u8; 32];
        let n = nd.write(&mut out, 1, 2);
        assert_eq!(icmp6_checksum(1, 2, &out[..n]), 0);
        let back = NdMessage::parse(&out[..n]).expect("what write makes parses");
        assert_eq!((back.kind, back.target, back.lladdr), (nd.kind, nd.target, nd.lladdr));
    }

    // Finishing a partial L4 checksum never panics, and changes at most the
    // two checksum bytes.
    let mut f = data.to_vec();
    if finish_l4_checksum(&mut f) {
        assert!(f.iter().zip(data).filter(|(a, b)| a != b).count() <= 2);
    } else {
        assert_eq!(&f[..], data);
    }
});
