//! Sequences of LPM add/delete/lookup against a naive longest-prefix
//! reference.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use graph_nodes::lpm::{mask, Lpm, LpmError};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Op {
    Add(u32, u8, u32),
    Del(u16),
    Look(u32),
}

fn naive(rules: &BTreeMap<(u8, u32), u32>, ip: u32) -> Option<u32> {
    rules.iter().filter(|((d, p), _)| ip & mask(*d) == *p).max_by_key(|((d, _), _)| *d).map(|(_, nh)| *nh)
}

fuzz_target!(|ops: Vec<Op>| {
    static LPM: OnceLock<std::sync::Mutex<Lpm>> = OnceLock::new();
    let lpm = LPM.get_or_init(|| std::sync::Mutex::new(Lpm::new(16))).lock().unwrap();
    lpm.clear();
    let mut rules: BTreeMap<(u8, u32), u32> = BTreeMap::new();
    for op in ops.into_iter().take(64) {
        match op {
            Op::Add(ip, d, nh) => {
                // Keep prefixes short enough to matter but not to cost a
                // 16M-entry fill on every input: depths 8..=32.
                let d = 8 + d % 25;
                // Cluster addresses so that rules overlap.
                let ip = 0x0a00_0000 | (ip & 0x0003_ffff);
                match lpm.add(ip, d, nh & 0xff_ffff) {
                    Ok(()) => {
                        rules.insert((d, ip & mask(d)), nh & 0xff_ffff);
                    }
                    Err(LpmError::NoTbl8 { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            Op::Del(i) => {
                if let Some((&(d, p), _)) = rules.iter().nth(i as usize % rules.len().max(1)) {
                    rules.remove(&(d, p));
                    lpm.delete(p, d).unwrap();
                }
            }
            Op::Look(ip) => {
                let ip = 0x0a00_0000 | (ip & 0x0003_ffff);
                assert_eq!(lpm.lookup(ip), naive(&rules, ip), "lookup {ip:#x}");
            }
        }
    }
    for &(d, p) in rules.keys() {
        for probe in [p, p | !mask(d), p.wrapping_sub(1), (p | !mask(d)).wrapping_add(1)] {
            assert_eq!(lpm.lookup(probe), naive(&rules, probe), "probe {probe:#x}");
        }
    }
});
