//! IPv4 longest-prefix match, DIR-24-8 like `rte_lpm`.
//!
//! ```text
//!  ip = a.b.c.d
//!  tbl24[a.b.c]  ──valid, !ext──►  next hop (depth <= 24)
//!        │
//!        └──ext──► group g:  tbl8[g * 256 + d] ──► next hop (depth > 24)
//! ```
//!
//! Entries are 32 bits: next hop (24 bits), `VALID`, `EXT` (tbl24 only: the
//! next-hop field is a tbl8 group), and the depth of the rule that set the
//! entry (6 bits). A rule only overwrites entries set by less specific rules,
//! and deleting a rule rewrites the entries it set with the longest rule that
//! covers it, so deletion restores the covering prefix.
//!
//! Concurrency: lookups are lock-free and may run on any thread while routes
//! change; every entry is one atomic word, a tbl8 group is fully written
//! before the tbl24 entry pointing to it is published (release/acquire).
//! A group freed by a delete is reused only after every registered reader
//! has passed a quiescent state ([`graph_lcore::qsbr`], as `rte_lpm` with
//! `rte_lpm_rcu_qsbr_add` in its defer-queue mode; every lcore running an
//! `LcoreLoop` is one), so a lookup that read the tbl24 entry just before
//! the group was unlinked still finds the old group's entries, never a new
//! prefix's. Freed groups are also reused last (FIFO). Writers serialise on
//! a mutex; a writer that needs a group still being read waits for the
//! readers, at most [`RECLAIM_TIMEOUT`]. On x86_64 the loads are plain
//! moves.
//!
//! Alternatives rejected: a binary trie (several dependent loads per
//! lookup); per-lcore copies (64 MiB each); a vectorised x4 lookup (the
//! scalar one compiles to four independent loads here and Miri runs it).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering::*};
use std::sync::Mutex;
use std::time::Duration;

use graph_lcore::qsbr;

/// Largest prefix length.
pub const MAX_DEPTH: u8 = 32;
/// Largest next-hop value (24 bits).
pub const MAX_NEXT_HOP: u32 = 0xff_ffff;
/// Longest a writer waits for readers to release a freed tbl8 group.
pub const RECLAIM_TIMEOUT: Duration = Duration::from_secs(1);

const NH_MASK: u32 = 0x00ff_ffff;

const VALID: u32 = 1 << 24;
const EXT: u32 = 1 << 25;
const DEPTH_SHIFT: u32 = 26;
const TBL24: usize = 1 << 24;

#[inline(always)]
const fn entry(nh: u32, depth: u8) -> u32 {
    nh | VALID | (depth as u32) << DEPTH_SHIFT
}

/// Where in the second table first-table entry `e` (a group) sends `ip`.
#[inline(always)]
const fn tbl8_index(e: u32, ip: u32) -> usize {
    ((e & NH_MASK) as usize) << 8 | (ip & 0xff) as usize
}

#[inline(always)]
const fn depth_of(e: u32) -> u8 {
    (e >> DEPTH_SHIFT) as u8
}

/// Control-plane errors of the LPM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LpmError {
    /// Depth above 32.
    #[error("prefix length {0} exceeds 32")]
    BadDepth(u8),
    /// Next hop wider than 24 bits.
    #[error("next hop {0:#x} exceeds 24 bits")]
    BadNextHop(u32),
    /// No tbl8 group left for a prefix longer than /24.
    #[error("no free tbl8 group for {prefix}/{depth} ({groups} groups configured)")]
    NoTbl8 { prefix: std::net::Ipv4Addr, depth: u8, groups: u32 },
    /// The only reusable tbl8 group is still being read: a registered
    /// reader reported no quiescent state within [`RECLAIM_TIMEOUT`].
    #[error(
        "tbl8 group {group} for {prefix}/{depth} is still in use: a registered reader thread \
         reported no quiescent state within {RECLAIM_TIMEOUT:?}"
    )]
    Reclaim { prefix: std::net::Ipv4Addr, depth: u8, group: u32 },
    /// Deleting a route that does not exist.
    #[error("no route {prefix}/{depth}")]
    NotFound { prefix: std::net::Ipv4Addr, depth: u8 },
}

/// Mask of the `depth` leading bits.
#[inline(always)]
pub const fn mask(depth: u8) -> u32 {
    if depth == 0 {
        0
    } else {
        u32::MAX << (32 - depth as u32)
    }
}

struct Ctl {
    /// Rules per depth: masked prefix → next hop.
    rules: Vec<HashMap<u32, u32>>,
    /// Free groups, oldest first, with the QSBR token of the grace period
    /// started when each was unlinked (0: never used).
    free: VecDeque<(u32, u64)>,
}

/// What [`Lpm::lookup_bulk`] found for one address: a next hop or
/// nothing, in the 32 bits of a table entry (rte_lpm's flagged next hop).
/// Two are equal when they name the same next hop (or both none).
#[derive(Clone, Copy, Default)]
#[repr(transparent)]
pub struct Hop(u32);

impl PartialEq for Hop {
    fn eq(&self, other: &Hop) -> bool {
        self.get() == other.get()
    }
}

impl Eq for Hop {}

impl Hop {
    /// The next hop; `None` where no route covers the address.
    #[inline(always)]
    pub fn get(self) -> Option<u32> {
        (self.0 & VALID != 0).then_some(self.0 & NH_MASK)
    }

    /// The next hop, or `miss` where no route covers the address.
    #[inline(always)]
    pub fn or(self, miss: u32) -> u32 {
        self.get().unwrap_or(miss)
    }
}

impl std::fmt::Debug for Hop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// An IPv4 LPM table.
pub struct Lpm {
    /// Indexed by the top 24 bits of an address: every index is in range,
    /// so lookups need no bounds check.
    tbl24: Box<[AtomicU32; TBL24]>,
    tbl8: Table,
    groups: u32,
    ctl: Mutex<Ctl>,
}

/// A zeroed array of entries (the OS maps the zero pages lazily, on
/// transparent huge pages where it can).
struct Table(Box<[AtomicU32]>);

impl Table {
    fn zeroed(n: usize) -> Table {
        let b = Box::<[AtomicU32]>::new_zeroed_slice(n);
        crate::mempool::huge_pages_advised(b.as_ptr().cast(), n * core::mem::size_of::<AtomicU32>());
        // SAFETY: an all-zero bit pattern is a valid `AtomicU32` (it is a
        // `u32`); every element was zeroed by `new_zeroed_slice`.
        Table(unsafe { b.assume_init() })
    }
}

impl std::ops::Deref for Table {
    type Target = [AtomicU32];
    #[inline(always)]
    fn deref(&self) -> &[AtomicU32] {
        &self.0
    }
}

impl Lpm {
    /// A table with `tbl8_groups` groups for prefixes longer than /24 (each
    /// /24 holding such prefixes uses one group of 1 KiB). The first table
    /// is 64 MiB of zeroed memory that the OS maps lazily.
    pub fn new(tbl8_groups: u32) -> Lpm {
        Lpm {
            tbl24: Table::zeroed(TBL24).0.try_into().expect("TBL24 entries"),
            tbl8: Table::zeroed(tbl8_groups as usize * 256),
            groups: tbl8_groups,
            ctl: Mutex::new(Ctl {
                rules: vec![HashMap::new(); MAX_DEPTH as usize + 1],
                free: (0..tbl8_groups).map(|g| (g, 0)).collect(),
            }),
        }
    }

    fn ctl(&self) -> std::sync::MutexGuard<'_, Ctl> {
        self.ctl.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or replaces) the route `ip/depth → nh` (`rte_lpm_add`).
    pub fn add(&self, ip: u32, depth: u8, nh: u32) -> Result<(), LpmError> {
        self.add_within(ip, depth, nh, RECLAIM_TIMEOUT)
    }

    /// [`add`](Self::add) for a reader thread (a worker lcore): it never
    /// waits for readers to release a group, since it is one of them; the
    /// route fails with [`LpmError::Reclaim`] instead.
    pub fn add_nowait(&self, ip: u32, depth: u8, nh: u32) -> Result<(), LpmError> {
        self.add_within(ip, depth, nh, Duration::ZERO)
    }

    fn add_within(&self, ip: u32, depth: u8, nh: u32, wait: Duration) -> Result<(), LpmError> {
        if depth > MAX_DEPTH {
            return Err(LpmError::BadDepth(depth));
        }
        if nh > MAX_NEXT_HOP {
            return Err(LpmError::BadNextHop(nh));
        }
        let ip = ip & mask(depth);
        let mut ctl = self.ctl();
        if depth <= 24 {
            ctl.rules[depth as usize].insert(ip, nh);
            let start = (ip >> 8) as usize;
            let e = entry(nh, depth);
            for i in start..start + (1usize << (24 - depth)) {
                let cur = self.tbl24[i].load(Relaxed);
                if cur & EXT != 0 {
                    self.fill_group(cur & NH_MASK, 0, 256, e, |old| old & VALID == 0 || depth_of(old) <= depth);
                } else if cur & VALID == 0 || depth_of(cur) <= depth {
                    self.tbl24[i].store(e, Relaxed);
                }
            }
        } else {
            let i = (ip >> 8) as usize;
            let cur = self.tbl24[i].load(Relaxed);
            let g = if cur & EXT != 0 {
                cur & NH_MASK
            } else {
                let g = self.take_group(&mut ctl, ip, depth, wait)?;
                // The new group starts as a copy of the /24 entry it replaces.
                self.fill_group(g, 0, 256, if cur & VALID != 0 { cur } else { 0 }, |_| true);
                g
            };
            ctl.rules[depth as usize].insert(ip, nh);
            let start = ip & 0xff;
            self.fill_group(g, start, 1 << (32 - depth), entry(nh, depth), |old| {
                old & VALID == 0 || depth_of(old) <= depth
            });
            // Publish the group after its contents.
            self.tbl24[i].store(g | VALID | EXT, Release);
        }
        Ok(())
    }

    /// The oldest free group, once no reader can still be reading it.
    fn take_group(&self, ctl: &mut Ctl, ip: u32, depth: u8, wait: Duration) -> Result<u32, LpmError> {
        let &(g, token) = ctl.free.front().ok_or(LpmError::NoTbl8 { prefix: ip.into(), depth, groups: self.groups })?;
        // Tokens grow along the queue: if the oldest has not passed, no
        // other has.
        if token != 0 && !qsbr::wait(token, wait) {
            return Err(LpmError::Reclaim { prefix: ip.into(), depth, group: g });
        }
        ctl.free.pop_front();
        Ok(g)
    }

    fn fill_group(&self, g: u32, start: u32, count: u32, e: u32, replace: impl Fn(u32) -> bool) {
        let base = g as usize * 256;
        for j in start..start + count {
            let slot = &self.tbl8[base + j as usize];
            if replace(slot.load(Relaxed)) {
                slot.store(e, Relaxed);
            }
        }
    }

    /// The longest rule strictly shorter than `depth` covering `ip`.
    fn covering(ctl: &Ctl, ip: u32, depth: u8) -> u32 {
        for d in (0..depth).rev() {
            if let Some(&nh) = ctl.rules[d as usize].get(&(ip & mask(d))) {
                return entry(nh, d);
            }
        }
        0
    }

    /// Deletes the route `ip/depth` (`rte_lpm_delete`); addresses it covered
    /// fall back to the longest shorter route that covers them.
    pub fn delete(&self, ip: u32, depth: u8) -> Result<(), LpmError> {
        if depth > MAX_DEPTH {
            return Err(LpmError::BadDepth(depth));
        }
        let ip = ip & mask(depth);
        let mut ctl = self.ctl();
        if ctl.rules[depth as usize].remove(&ip).is_none() {
            return Err(LpmError::NotFound { prefix: ip.into(), depth });
        }
        let repl = Self::covering(&ctl, ip, depth);
        let mine = |old: u32| old & VALID != 0 && depth_of(old) == depth;
        if depth <= 24 {
            let start = (ip >> 8) as usize;
            for i in start..start + (1usize << (24 - depth)) {
                let cur = self.tbl24[i].load(Relaxed);
                if cur & EXT != 0 {
                    self.fill_group(cur & NH_MASK, 0, 256, repl, mine);
                    self.try_collapse(&mut ctl, i);
                } else if mine(cur) {
                    self.tbl24[i].store(repl, Relaxed);
                }
            }
        } else {
            let i = (ip >> 8) as usize;
            let cur = self.tbl24[i].load(Relaxed);
            debug_assert!(cur & EXT != 0, "a /{depth} rule without its tbl8 group");
            self.fill_group(cur & NH_MASK, ip & 0xff, 1 << (32 - depth), repl, mine);
            self.try_collapse(&mut ctl, i);
        }
        Ok(())
    }

    /// Folds the group under tbl24 entry `i` back into it when no rule
    /// longer than /24 is left there.
    fn try_collapse(&self, ctl: &mut Ctl, i: usize) {
        let cur = self.tbl24[i].load(Relaxed);
        let g = cur & NH_MASK;
        let base = g as usize * 256;
        let first = self.tbl8[base].load(Relaxed);
        let uniform = (0..256).all(|j| self.tbl8[base + j].load(Relaxed) == first);
        if uniform && (first & VALID == 0 || depth_of(first) <= 24) {
            self.tbl24[i].store(first, Release);
            // Readers may still hold `g`: a grace period starts now.
            ctl.free.push_back((g, qsbr::start()));
        }
    }

    /// The next hop for `ip`, if a route covers it (`rte_lpm_lookup`).
    #[inline(always)]
    pub fn lookup(&self, ip: u32) -> Option<u32> {
        let e = self.tbl24[(ip >> 8) as usize].load(Acquire);
        let e = if e & EXT != 0 { self.tbl8[tbl8_index(e, ip)].load(Relaxed) } else { e };
        Hop(e).get()
    }

    /// Looks up every address of `ips` into `out`
    /// (`rte_lpm_lookup_bulk`): what each found, a [`Hop`] to test, as
    /// rte_lpm's flagged next hops are.
    ///
    /// Random addresses miss the cache on nearly every lookup, so the
    /// speed is how many of those misses the CPU keeps in flight, and that
    /// is how many lookups fit in its window of instructions (across
    /// calls too: a batch of 32 is shorter than one miss). So the loop does
    /// as little as it can with what each load returns: it stores the entry
    /// as it is and branches (almost never) for a second-table entry.
    /// Turning entries into next hops here, in the loop or in a pass after
    /// it, measured 1.3-1.8x slower (docs/performance.md, "DPDK ports and
    /// the LPM: third session"); a caller pays one test per [`Hop`] it
    /// reads instead.
    #[inline]
    pub fn lookup_bulk(&self, ips: &[u32], out: &mut [Hop]) {
        let n = ips.len().min(out.len());
        let (ips, out) = (&ips[..n], &mut out[..n]);
        let t24 = &*self.tbl24;
        for (o, &ip) in out.iter_mut().zip(ips) {
            let e = t24[(ip >> 8) as usize].load(Acquire);
            *o = Hop(e);
            if e & EXT != 0 {
                *o = self.second(e, ip);
            }
        }
    }

    /// The second-table entry that first-table entry `e` (a group)
    /// points to for `ip`.
    #[cold]
    #[inline(never)]
    fn second(&self, e: u32, ip: u32) -> Hop {
        Hop(self.tbl8[tbl8_index(e, ip)].load(Relaxed))
    }

    /// Four lookups at once (`rte_lpm_lookupx4`); `miss` where no route
    /// covers an address.
    #[inline(always)]
    pub fn lookup_x4(&self, ips: [u32; 4], miss: u32) -> [u32; 4] {
        // Both tables' addresses in registers: each `Acquire` load would
        // otherwise make the compiler load them from `self` again.
        let (t24, t8) = (&*self.tbl24, &*self.tbl8);
        let e = ips.map(|ip| t24[(ip >> 8) as usize].load(Acquire));
        let mut out = [0u32; 4];
        for k in 0..4 {
            let x = if e[k] & EXT != 0 { t8[tbl8_index(e[k], ips[k])].load(Relaxed) } else { e[k] };
            out[k] = Hop(x).or(miss);
        }
        out
    }

    /// The next hop of the exact rule `ip/depth`, if present.
    pub fn rule(&self, ip: u32, depth: u8) -> Option<u32> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ctl().rules[depth as usize].get(&(ip & mask(depth))).copied()
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.ctl().rules.iter().map(|r| r.len()).sum()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free tbl8 groups.
    pub fn tbl8_groups(&self) -> u32 {
        self.groups
    }

    /// Free tbl8 groups.
    pub fn tbl8_free(&self) -> u32 {
        self.ctl().free.len() as u32
    }

    /// Deletes every rule.
    pub fn clear(&self) {
        let rules: Vec<(u32, u8)> = {
            let ctl = self.ctl();
            ctl.rules.iter().enumerate().flat_map(|(d, r)| r.keys().map(move |&ip| (ip, d as u8))).collect()
        };
        // Longest first keeps each delete cheap.
        let mut rules = rules;
        rules.sort_by_key(|&(_, d)| std::cmp::Reverse(d));
        for (ip, d) in rules {
            let _ = self.delete(ip, d);
        }
    }
}

impl std::fmt::Debug for Lpm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lpm").field("rules", &self.len()).field("tbl8_groups", &self.groups).finish()
    }
}
