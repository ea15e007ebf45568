//! LPM against a naive longest-prefix reference, plus golden cases.

use std::collections::BTreeMap;

use graph_nodes::lpm::{mask, Hop, Lpm, LpmError};
use proptest::prelude::*;

/// Naive reference: a list of rules, longest match by scanning.
#[derive(Default)]
struct Naive {
    rules: BTreeMap<(u8, u32), u32>,
}

impl Naive {
    fn lookup(&self, ip: u32) -> Option<u32> {
        self.rules.iter().filter(|((d, p), _)| ip & mask(*d) == *p).max_by_key(|((d, _), _)| *d).map(|(_, nh)| *nh)
    }
}

fn ip(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

#[test]
fn every_depth_and_delete_restores_the_cover() {
    let l = Lpm::new(16);
    assert_eq!(l.lookup(ip(10, 1, 2, 3)), None);
    l.add(0, 0, 100).unwrap(); // default route
    for d in 1..=32u8 {
        l.add(ip(10, 1, 2, 3), d, d as u32).unwrap();
    }
    assert_eq!(l.len(), 33);
    // The /32 wins for itself; every shorter rule wins just outside the
    // next longer one.
    assert_eq!(l.lookup(ip(10, 1, 2, 3)), Some(32));
    assert_eq!(l.lookup(ip(10, 1, 2, 2)), Some(31));
    assert_eq!(l.lookup(ip(10, 1, 2, 0)), Some(30));
    assert_eq!(l.lookup(ip(10, 1, 3, 0)), Some(23));
    assert_eq!(l.lookup(ip(11, 0, 0, 0)), Some(7));
    assert_eq!(l.lookup(ip(200, 0, 0, 0)), Some(100));
    // Delete from the middle: the covering /24 takes /25's place.
    l.delete(ip(10, 1, 2, 3), 25).unwrap();
    assert_eq!(l.lookup(ip(10, 1, 2, 64)), Some(24));
    assert_eq!(l.lookup(ip(10, 1, 2, 3)), Some(32));
    for d in (0..=32u8).rev() {
        if d != 25 {
            l.delete(ip(10, 1, 2, 3), d).unwrap();
        }
    }
    assert_eq!(l.lookup(ip(10, 1, 2, 3)), None);
    assert!(l.is_empty());
    // Every tbl8 group came back.
    assert_eq!(l.tbl8_free(), 16);
    assert_eq!(
        l.delete(ip(10, 0, 0, 0), 8).unwrap_err(),
        LpmError::NotFound { prefix: "10.0.0.0".parse().unwrap(), depth: 8 }
    );
    assert_eq!(l.add(0, 33, 1).unwrap_err(), LpmError::BadDepth(33));
    assert_eq!(l.add(0, 8, 1 << 24).unwrap_err(), LpmError::BadNextHop(1 << 24));
}

#[test]
fn tbl8_exhaustion_is_an_error_not_a_corruption() {
    let l = Lpm::new(2);
    l.add(ip(1, 0, 0, 0), 25, 1).unwrap();
    l.add(ip(1, 0, 1, 0), 25, 2).unwrap();
    let e = l.add(ip(1, 0, 2, 0), 25, 3).unwrap_err();
    assert!(matches!(e, LpmError::NoTbl8 { groups: 2, .. }), "{e}");
    assert_eq!(l.lookup(ip(1, 0, 2, 1)), None);
    assert_eq!(l.rule(ip(1, 0, 2, 0), 25), None);
    // The same /24 reuses its group.
    l.add(ip(1, 0, 0, 128), 25, 4).unwrap();
    assert_eq!(l.lookup(ip(1, 0, 0, 200)), Some(4));
}

#[test]
fn bulk_and_x4_agree_with_single() {
    let l = Lpm::new(8);
    l.add(ip(198, 18, 0, 0), 24, 0).unwrap();
    l.add(ip(198, 18, 1, 0), 24, 1).unwrap();
    l.add(ip(198, 18, 1, 128), 26, 7).unwrap();
    let ips = [ip(198, 18, 0, 5), ip(198, 18, 1, 129), ip(198, 18, 1, 5), ip(9, 9, 9, 9)];
    assert_eq!(l.lookup_x4(ips, u32::MAX), [0, 7, 1, u32::MAX]);
    let mut out = [Hop::default(); 4];
    l.lookup_bulk(&ips, &mut out);
    assert_eq!(out.map(Hop::get), [Some(0), Some(7), Some(1), None]);
    assert_eq!(out.map(|h| h.or(u32::MAX)), [0, 7, 1, u32::MAX]);
    // A hop from a /24 and one from a /26 to the same next hop are equal.
    l.add(ip(198, 18, 2, 0), 24, 7).unwrap();
    let mut two = [Hop::default(); 2];
    l.lookup_bulk(&[ip(198, 18, 1, 129), ip(198, 18, 2, 1)], &mut two);
    assert_eq!(two[0], two[1]);
    assert_ne!(two[0], out[0]);
    assert_eq!(out[3], Hop::default());
}

#[derive(Debug, Clone)]
enum Op {
    Add(u32, u8, u32),
    Del(usize),
    Look(u32),
}

fn addr() -> impl Strategy<Value = u32> {
    // Cluster addresses so prefixes overlap.
    (0u32..4, any::<u16>(), any::<u8>()).prop_map(|(a, bc, d)| (10 + a) << 24 | (bc as u32 & 0x03ff) << 8 | d as u32)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (addr(), 8u8..=32, 0u32..1000).prop_map(|(a, d, n)| Op::Add(a, d, n)),
        2 => any::<usize>().prop_map(Op::Del),
        4 => addr().prop_map(Op::Look),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn matches_the_naive_reference(ops in proptest::collection::vec(op(), 1..200)) {
        let l = Lpm::new(32);
        let mut n = Naive::default();
        for op in ops {
            match op {
                Op::Add(a, d, nh) => match l.add(a, d, nh) {
                    Ok(()) => { n.rules.insert((d, a & mask(d)), nh); }
                    Err(LpmError::NoTbl8 { .. }) => {}
                    Err(e) => prop_assert!(false, "{e}"),
                },
                Op::Del(i) => {
                    if n.rules.is_empty() { continue; }
                    let (&(d, p), _) = n.rules.iter().nth(i % n.rules.len()).unwrap();
                    n.rules.remove(&(d, p));
                    prop_assert!(l.delete(p, d).is_ok());
                }
                Op::Look(a) => {
                    prop_assert_eq!(l.lookup(a), n.lookup(a), "lookup {:#x}", a);
                    // Check the boundaries of every rule too, one by one
                    // and in bulk (four at a time and the rest).
                    let mut probes = vec![a];
                    for &(d, p) in n.rules.keys() {
                        for probe in [p, p | !mask(d), p.wrapping_sub(1), (p | !mask(d)).wrapping_add(1)] {
                            prop_assert_eq!(l.lookup(probe), n.lookup(probe), "probe {:#x}", probe);
                            probes.push(probe);
                        }
                    }
                    let mut out = vec![Hop::default(); probes.len()];
                    l.lookup_bulk(&probes, &mut out);
                    for (probe, got) in probes.iter().zip(&out) {
                        prop_assert_eq!(got.get(), n.lookup(*probe), "bulk probe {:#x}", probe);
                    }
                }
            }
        }
        prop_assert_eq!(l.len(), n.rules.len());
        // Delete everything: all groups return, nothing resolves.
        l.clear();
        prop_assert_eq!(l.tbl8_free(), 32);
        prop_assert_eq!(l.lookup(0x0a00_0001), None);
    }
}
