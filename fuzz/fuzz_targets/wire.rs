//! Every checked wire view over arbitrary bytes: a constructor either
//! refuses with a reason or returns a view whose every getter and setter
//! stays in bounds (no panic); what a setter writes, the getter reads back;
//! `fill_checksum` makes `verify_checksum` true, and the incremental TTL
//! decrement keeps it true; `new_checked` agrees with the rules it states.
#![no_main]

use graph_nodes::wire::{checksum, EthernetFrame, Ipv4Packet, UdpPacket, VlanTag, WireError};
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
});
