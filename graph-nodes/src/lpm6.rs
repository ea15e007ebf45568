//! IPv6 longest-prefix match, a multibit trie like `rte_lpm6`: the first
//! 24 bits index `tbl24`, every further byte a group of 256 entries.
//!
//! ```text
//!  addr = b0 b1 b2 b3 b4 ... b15
//!  tbl24[b0 b1 b2] ──value──► next hop                (depth <= 24)
//!        └──ext──► group g: tbl8[g * 256 + b3] ──value──► next hop
//!                              └──ext──► group g': tbl8[g' * 256 + b4] ...
//! ```
//!
//! An entry is 32 bits: the route's value (24 bits) and, in the top byte,
//! the depth of the rule that set it plus one (0: empty), or `EXT`: the
//! low 24 bits are then a group. A rule only overwrites entries set by
//! less specific rules; deleting one rewrites the entries it set with the
//! longest rule covering it, so a delete restores the covering prefix. A
//! lookup reads one entry per level, at most 14.
//!
//! Concurrency: lookups are lock-free while routes change. Entries are
//! atomic words, a group is filled before the entry pointing to it is
//! published (release/acquire), and groups are never freed or reused: a
//! lookup that read an entry just before a change still reads a valid
//! group. A deleted prefix leaves its groups in place (holding the
//! covering rule's value), so the number of groups bounds the table's
//! distinct prefixes longer than /24 over its lifetime, not at one time;
//! [`Lpm6::tbl8_free`] says how many remain. Writers serialise on a mutex.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering::*};
use std::sync::Mutex;

/// Largest prefix length.
pub const MAX_DEPTH: u8 = 128;
/// Largest route value (24 bits).
pub const MAX_VALUE: u32 = 0xff_ffff;

const VALUE: u32 = 0x00ff_ffff;
/// Top byte of an entry that points to a group.
const EXT: u32 = 0xff;
const TBL24: usize = 1 << 24;

#[inline(always)]
const fn entry(value: u32, depth: u8) -> u32 {
    value | (depth as u32 + 1) << 24
}

/// The depth of the rule that set `e` (an entry that is set, not EXT).
#[inline(always)]
const fn depth_of(e: u32) -> u8 {
    ((e >> 24) - 1) as u8
}

#[inline(always)]
const fn is_ext(e: u32) -> bool {
    e >> 24 == EXT
}

/// Control-plane errors of the IPv6 LPM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Lpm6Error {
    /// Depth above 128.
    #[error("prefix length {0} exceeds 128")]
    BadDepth(u8),
    /// A value wider than 24 bits.
    #[error("route value {0:#x} exceeds 24 bits")]
    BadValue(u32),
    /// No group left for a prefix longer than /24.
    #[error("no free tbl8 group for {prefix}/{depth} ({groups} groups configured)")]
    NoTbl8 { prefix: std::net::Ipv6Addr, depth: u8, groups: u32 },
    /// Deleting a route that does not exist.
    #[error("no route {prefix}/{depth}")]
    NotFound { prefix: std::net::Ipv6Addr, depth: u8 },
}

/// Mask of the `depth` leading bits.
#[inline(always)]
pub const fn mask(depth: u8) -> u128 {
    if depth == 0 {
        0
    } else {
        u128::MAX << (128 - depth as u32)
    }
}

struct Ctl {
    /// Rules per depth: masked prefix → value.
    rules: Vec<HashMap<u128, u32>>,
    /// Groups handed out so far (they are never returned).
    used: u32,
}

/// An IPv6 LPM table.
pub struct Lpm6 {
    tbl24: Box<[AtomicU32]>,
    tbl8: Box<[AtomicU32]>,
    groups: u32,
    ctl: Mutex<Ctl>,
}

fn zeroed(n: usize) -> Box<[AtomicU32]> {
    let b = Box::<[AtomicU32]>::new_zeroed_slice(n);
    crate::mempool::huge_pages_advised(b.as_ptr().cast(), n * core::mem::size_of::<AtomicU32>());
    // SAFETY: an all-zero bit pattern is a valid `AtomicU32`; every element
    // was zeroed by `new_zeroed_slice`.
    unsafe { b.assume_init() }
}

/// Byte `i` of `a` (0 the most significant).
#[inline(always)]
fn byte(a: u128, i: usize) -> usize {
    (a >> (120 - 8 * i)) as u8 as usize
}

impl Lpm6 {
    /// A table with `tbl8_groups` groups of 256 entries (1 KiB each) for
    /// the bytes past the first three. The first table is 64 MiB of zeroed
    /// memory, mapped lazily.
    pub fn new(tbl8_groups: u32) -> Lpm6 {
        Lpm6 {
            tbl24: zeroed(TBL24),
            tbl8: zeroed(tbl8_groups as usize * 256),
            groups: tbl8_groups,
            ctl: Mutex::new(Ctl { rules: vec![HashMap::new(); MAX_DEPTH as usize + 1], used: 0 }),
        }
    }

    fn ctl(&self) -> std::sync::MutexGuard<'_, Ctl> {
        self.ctl.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of the longest route covering `a`.
    #[inline(always)]
    pub fn lookup(&self, a: u128) -> Option<u32> {
        let mut e = self.tbl24[(a >> 104) as usize].load(Acquire);
        let mut i = 3;
        while is_ext(e) {
            // An EXT entry holds a group index below `groups` (`take_group`),
            // and `i` stays below 16: groups exist only down to byte 15.
            let at = ((e & VALUE) as usize) << 8 | byte(a, i);
            // SAFETY: `at < groups * 256 == tbl8.len()`, by the above.
            e = unsafe { self.tbl8.get_unchecked(at) }.load(Acquire);
            i += 1;
        }
        (e != 0).then_some(e & VALUE)
    }

    /// Looks up every address of `addrs` into `out` (`miss` where no route
    /// covers it).
    pub fn lookup_bulk(&self, addrs: &[u128], out: &mut [u32], miss: u32) {
        for (a, o) in addrs.iter().zip(out.iter_mut()) {
            *o = self.lookup(*a).unwrap_or(miss);
        }
    }

    /// The table of level `level` (0: tbl24) and the index of `a`'s entry
    /// in it, given the group `g` of that level.
    fn slot(&self, level: usize, g: u32, a: u128) -> &AtomicU32 {
        if level == 0 {
            &self.tbl24[(a >> 104) as usize]
        } else {
            &self.tbl8[(g as usize) << 8 | byte(a, level + 2)]
        }
    }

    /// Entries `[start, start + count)` of group `g` (or tbl24 when `g` is
    /// `None`).
    fn range(&self, g: Option<u32>, start: usize, count: usize) -> &[AtomicU32] {
        match g {
            None => &self.tbl24[start..start + count],
            Some(g) => &self.tbl8[(g as usize) << 8 | start..((g as usize) << 8 | start) + count],
        }
    }

    /// Sets every entry under `slots` (through groups) that `replace`
    /// accepts to `e`.
    fn fill(&self, slots: &[AtomicU32], e: u32, replace: &impl Fn(u32) -> bool) {
        for s in slots {
            let cur = s.load(Relaxed);
            if is_ext(cur) {
                let g = (cur & VALUE) as usize;
                self.fill(&self.tbl8[g << 8..(g + 1) << 8], e, replace);
            } else if replace(cur) {
                s.store(e, Release);
            }
        }
    }

    fn take_group(&self, ctl: &mut Ctl, a: u128, depth: u8) -> Result<u32, Lpm6Error> {
        if ctl.used >= self.groups {
            return Err(Lpm6Error::NoTbl8 { prefix: a.into(), depth, groups: self.groups });
        }
        ctl.used += 1;
        Ok(ctl.used - 1)
    }

    /// Walks from tbl24 down to the level holding the last bits of
    /// `a/depth`, making groups where needed; the group of that level
    /// (`None`: tbl24), the first entry and how many entries the prefix
    /// covers there.
    fn descend(&self, ctl: &mut Ctl, a: u128, depth: u8) -> Result<(Option<u32>, usize, usize), Lpm6Error> {
        if depth <= 24 {
            let start = (a >> 104) as usize;
            return Ok((None, start, 1 << (24 - depth)));
        }
        // Levels 1.. cover bits 24 + 8 (level - 1) .. 24 + 8 level.
        let last = (usize::from(depth) - 24).div_ceil(8);
        let mut g: Option<u32> = None;
        for level in 0..last {
            let s = self.slot(level, g.unwrap_or(0), a);
            let cur = s.load(Relaxed);
            let next = if is_ext(cur) {
                cur & VALUE
            } else {
                let ng = self.take_group(ctl, a, depth)?;
                // The new group starts as copies of the entry it replaces.
                for t in &self.tbl8[(ng as usize) << 8..(ng as usize + 1) << 8] {
                    t.store(cur, Relaxed);
                }
                // Publish the group after its contents.
                s.store(ng | EXT << 24, Release);
                ng
            };
            g = Some(next);
        }
        let bits_here = usize::from(depth) - 24 - 8 * (last - 1);
        let start = byte(a, last + 2) & !((1usize << (8 - bits_here)) - 1);
        Ok((g, start, 1 << (8 - bits_here)))
    }

    /// Adds (or replaces) the route `a/depth → value` (`rte_lpm6_add`).
    pub fn add(&self, a: u128, depth: u8, value: u32) -> Result<(), Lpm6Error> {
        if depth > MAX_DEPTH {
            return Err(Lpm6Error::BadDepth(depth));
        }
        if value > MAX_VALUE {
            return Err(Lpm6Error::BadValue(value));
        }
        let a = a & mask(depth);
        let mut ctl = self.ctl();
        let (g, start, count) = self.descend(&mut ctl, a, depth)?;
        ctl.rules[depth as usize].insert(a, value);
        self.fill(self.range(g, start, count), entry(value, depth), &|old| old == 0 || depth_of(old) <= depth);
        Ok(())
    }

    /// Deletes the route `a/depth` (`rte_lpm6_delete`); what it covered
    /// falls back to the longest shorter route covering it.
    pub fn delete(&self, a: u128, depth: u8) -> Result<(), Lpm6Error> {
        if depth > MAX_DEPTH {
            return Err(Lpm6Error::BadDepth(depth));
        }
        let a = a & mask(depth);
        let mut ctl = self.ctl();
        if ctl.rules[depth as usize].remove(&a).is_none() {
            return Err(Lpm6Error::NotFound { prefix: a.into(), depth });
        }
        let cover =
            (0..depth).rev().find_map(|d| ctl.rules[d as usize].get(&(a & mask(d))).map(|&v| entry(v, d))).unwrap_or(0);
        // Every group on the way exists: the rule made them.
        let (g, start, count) = self.descend(&mut ctl, a, depth)?;
        self.fill(self.range(g, start, count), cover, &|old| old != 0 && depth_of(old) == depth);
        Ok(())
    }

    /// The value of rule `a/depth`, if it exists.
    pub fn rule(&self, a: u128, depth: u8) -> Option<u32> {
        let ctl = self.ctl();
        ctl.rules.get(depth as usize)?.get(&(a & mask(depth))).copied()
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.ctl().rules.iter().map(HashMap::len).sum()
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Groups configured.
    pub fn tbl8_groups(&self) -> u32 {
        self.groups
    }

    /// Groups never handed out yet.
    pub fn tbl8_free(&self) -> u32 {
        self.groups - self.ctl().used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(s: &str) -> u128 {
        u128::from(s.parse::<std::net::Ipv6Addr>().unwrap())
    }

    #[test]
    #[cfg_attr(miri, ignore = "64 MiB of table")]
    fn every_depth_and_delete_restores_the_cover() {
        let t = Lpm6::new(64);
        let x = a("2001:db8:1:2:3:4:5:6");
        for d in (0..=128u8).step_by(4) {
            t.add(x, d, u32::from(d)).unwrap();
            assert_eq!(t.lookup(x), Some(u32::from(d)), "/{d}");
        }
        t.add(x, 128, 999).unwrap();
        assert_eq!(t.lookup(x), Some(999));
        assert_eq!(t.lookup(x ^ 1), Some(124));
        for d in (4..=128u8).step_by(4).rev() {
            t.delete(x, d).unwrap();
            assert_eq!(t.lookup(x), Some(u32::from(d - 4)), "after deleting /{d}");
        }
        assert_eq!(t.lookup(a("::")), Some(0), "/0 covers all");
        t.delete(x, 0).unwrap();
        assert_eq!(t.lookup(x), None);
        assert!(t.is_empty());
        assert_eq!(t.delete(x, 0), Err(Lpm6Error::NotFound { prefix: 0.into(), depth: 0 }));
        assert_eq!(t.add(x, 129, 1), Err(Lpm6Error::BadDepth(129)));
        assert_eq!(t.add(x, 64, 1 << 24), Err(Lpm6Error::BadValue(1 << 24)));
        // Groups are bounded and their exhaustion an error.
        let small = Lpm6::new(2);
        small.add(a("2001:db8::"), 40, 1).unwrap();
        assert_eq!(small.tbl8_free(), 0);
        assert!(matches!(small.add(a("2001:db9::"), 40, 1), Err(Lpm6Error::NoTbl8 { .. })));
    }

    /// The longest match, the slow way.
    fn naive(rules: &[(u128, u8, u32)], x: u128) -> Option<u32> {
        rules.iter().filter(|(p, d, _)| x & mask(*d) == *p).max_by_key(|(_, d, _)| *d).map(|r| r.2)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
        /// Adds and deletes of prefixes clustered under a few /20s (so
        /// that they overlap at every level) agree with a naive reference
        /// on addresses near every rule's boundary.
        #[test]
        #[cfg_attr(miri, ignore = "64 MiB of table")]
        fn agrees_with_a_naive_reference(ops in proptest::collection::vec(
            (0u8..4, any::<u128>(), 0u8..=128, 0u32..1000, any::<bool>()), 1..60)) {
            let t = Lpm6::new(4096);
            let mut rules: Vec<(u128, u8, u32)> = Vec::new();
            let bases = [a("2001:db8::"), a("2001:db8:8000::"), a("fd00::"), a("::")];
            for (b, low, d, v, del) in ops {
                let p = (bases[b as usize] | (low >> 20)) & mask(d);
                if del && !rules.is_empty() {
                    let (p, d, _) = rules.remove(v as usize % rules.len());
                    t.delete(p, d).unwrap();
                } else {
                    t.add(p, d, v).unwrap();
                    rules.retain(|r| (r.0, r.1) != (p, d));
                    rules.push((p, d, v));
                }
                for (p, d, _) in &rules {
                    let end = p | !mask(*d);
                    for x in [*p, end, p.wrapping_sub(1), end.wrapping_add(1), p ^ (1 << 100), p | 0xffff] {
                        prop_assert_eq!(t.lookup(x), naive(&rules, x), "{:x}", x);
                    }
                }
            }
        }
    }
}
