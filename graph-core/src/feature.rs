//! Feature arcs (VPP's feature arcs, DPDK's `rte_graph_feature_arc`).
//!
//! An *arc* is a hook point of a pipeline: a *start* node, which normally
//! sends an object straight on to the arc's *end* node, and between them
//! an ordered list of *features*, nodes that may be switched on per
//! *index* (an interface: the rx port, the tx port). A packet whose index
//! has features enabled goes from the start node through each enabled
//! feature, in order, to the end node; a feature may also send it down
//! edges of its own (to be dropped and counted, or elsewhere).
//!
//! - Arcs are registered with [`feature_arc!`](crate::feature_arc), features
//!   with [`feature!`](crate::feature) next to the feature's `node!`. Their
//!   order comes from `runs_after` / `runs_before` constraints (ties by
//!   name); an unknown name or a cycle is a registration error that every
//!   registry call reports, naming both features.
//! - The registry gives the start node an edge to every feature and to the
//!   end, and each feature an edge to every later feature and to the end.
//! - What is enabled lives in a [`FeatureArcs`] value, shared by the graphs
//!   that carry it in their environment and changed from any thread. A
//!   graph takes a snapshot of it at the start of a walk, and the walk runs
//!   every object to completion, so an object sees one configuration from
//!   the start node to the end: none is lost, duplicated or sent through a
//!   half-changed arc. A graph without `FeatureArcs` has every feature off.
//! - A node finds its place with [`ArcHook::start`] or [`ArcHook::feature`]
//!   at init, and reads the walk's state with [`Ctx::arc`]: one load per
//!   burst when no feature is on.
//!
//! [`Ctx::arc`]: crate::Ctx::arc

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{GraphError, Result};
use crate::registry::{lock, NodeInfo};

/// Most features one arc may hold.
pub const MAX_ARC_FEATURES: usize = 63;
/// Indexes (interfaces) of an arc: `0..MAX_ARC_INDEX`.
pub const MAX_ARC_INDEX: usize = 256;

/// A feature arc's static descriptor. Made by
/// [`feature_arc!`](crate::feature_arc).
#[derive(Debug)]
pub struct ArcRegistration {
    /// The arc's name.
    pub name: &'static str,
    /// The node that sends objects into the arc.
    pub start: &'static str,
    /// The node objects reach after the last enabled feature.
    pub end: &'static str,
}

/// A feature's static descriptor. Made by [`feature!`](crate::feature).
#[derive(Debug)]
pub struct FeatureRegistration {
    /// The arc it sits on.
    pub arc: &'static str,
    /// The node that implements it (the feature's name).
    pub node: &'static str,
    /// Features of the same arc this one must come after.
    pub runs_after: &'static [&'static str],
    /// Features of the same arc this one must come before.
    pub runs_before: &'static [&'static str],
}

#[cfg(not(miri))]
#[doc(hidden)]
#[linkme::distributed_slice]
pub static ARC_REGISTRY: [ArcRegistration];

#[cfg(not(miri))]
#[doc(hidden)]
#[linkme::distributed_slice]
pub static FEATURE_REGISTRY: [FeatureRegistration];

#[cfg(miri)]
static MIRI_ARCS: Mutex<Vec<&'static ArcRegistration>> = Mutex::new(Vec::new());
#[cfg(miri)]
static MIRI_FEATURES: Mutex<Vec<&'static FeatureRegistration>> = Mutex::new(Vec::new());

#[cfg(miri)]
#[doc(hidden)]
pub fn miri_register_arc(reg: &'static ArcRegistration) {
    lock(&MIRI_ARCS).push(reg);
}

#[cfg(miri)]
#[doc(hidden)]
pub fn miri_register_feature(reg: &'static FeatureRegistration) {
    lock(&MIRI_FEATURES).push(reg);
}

fn static_arcs() -> Vec<&'static ArcRegistration> {
    #[cfg(not(miri))]
    let v: Vec<_> = ARC_REGISTRY.iter().collect();
    #[cfg(miri)]
    let v = lock(&MIRI_ARCS).clone();
    v
}

fn static_features() -> Vec<&'static FeatureRegistration> {
    #[cfg(not(miri))]
    let v: Vec<_> = FEATURE_REGISTRY.iter().collect();
    #[cfg(miri)]
    let v = lock(&MIRI_FEATURES).clone();
    v
}

/// An arc with its features in order.
#[derive(Debug, Clone)]
pub(crate) struct ArcDesc {
    pub name: &'static str,
    pub start: &'static str,
    pub end: &'static str,
    pub features: Vec<&'static str>,
}

fn bad(msg: String) -> GraphError {
    GraphError::FeatureArc(msg)
}

/// Orders the features of one arc: constraints first, names break ties.
fn order(arc: &str, feats: &[&'static FeatureRegistration]) -> Result<Vec<&'static str>> {
    let names: Vec<&'static str> = feats.iter().map(|f| f.node).collect();
    let idx: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    // after[i]: features that must run after feature i.
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); feats.len()];
    let lookup = |f: &FeatureRegistration, key: &str, other: &str| -> Result<usize> {
        idx.get(other).copied().ok_or_else(|| {
            bad(format!(
                "feature \"{}\" of arc \"{arc}\" {key} \"{other}\", which is not a feature of that arc (its features: {})",
                f.node,
                names.join(", ")
            ))
        })
    };
    for (i, f) in feats.iter().enumerate() {
        for o in f.runs_after {
            let j = lookup(f, "runs_after", o)?;
            after[j].push(i);
        }
        for o in f.runs_before {
            let j = lookup(f, "runs_before", o)?;
            after[i].push(j);
        }
    }
    for (i, a) in after.iter().enumerate() {
        if a.contains(&i) {
            return Err(bad(format!("feature \"{}\" of arc \"{arc}\" is ordered against itself", names[i])));
        }
    }
    let mut indeg = vec![0usize; feats.len()];
    for a in &after {
        for &j in a {
            indeg[j] += 1;
        }
    }
    // Kahn's algorithm, always taking the ready feature with the least name.
    let mut ready: BTreeMap<&str, usize> = (0..feats.len()).filter(|&i| indeg[i] == 0).map(|i| (names[i], i)).collect();
    let mut out = Vec::with_capacity(feats.len());
    while let Some((_, i)) = ready.pop_first() {
        out.push(names[i]);
        for &j in &after[i] {
            indeg[j] -= 1;
            if indeg[j] == 0 {
                ready.insert(names[j], j);
            }
        }
    }
    if out.len() < feats.len() {
        // Every feature left has a predecessor left: walk back along them
        // until one repeats; that stretch is a cycle.
        let done: Vec<bool> = (0..feats.len()).map(|i| out.contains(&names[i])).collect();
        let pred =
            |j: usize| (0..feats.len()).find(|&i| !done[i] && after[i].contains(&j)).expect("a predecessor is left");
        let mut path = vec![(0..feats.len()).find(|&i| !done[i]).expect("a feature is left")];
        loop {
            let p = pred(*path.last().expect("non-empty"));
            if let Some(at) = path.iter().position(|&x| x == p) {
                let mut cyc: Vec<&str> = path[at..].iter().map(|&i| names[i]).collect();
                cyc.reverse();
                cyc.push(cyc[0]);
                return Err(bad(format!(
                    "features \"{}\" and \"{}\" of arc \"{arc}\" are ordered in a cycle: {}",
                    cyc[0],
                    cyc[1],
                    cyc.join(" before ")
                )));
            }
            path.push(p);
        }
    }
    Ok(out)
}

/// Reads and checks the arc and feature registrations. `is_node` says
/// whether a name is a registered node.
pub(crate) fn resolve(is_node: &dyn Fn(&str) -> bool) -> Result<Vec<ArcDesc>> {
    let mut arcs = static_arcs();
    arcs.sort_by_key(|a| a.name);
    let feats = static_features();
    let arc_names: Vec<&str> = arcs.iter().map(|a| a.name).collect();
    for w in arcs.windows(2) {
        if w[0].name == w[1].name {
            return Err(bad(format!("feature arc \"{}\" is registered twice", w[0].name)));
        }
    }
    for a in &arcs {
        for (what, n) in [("start", a.start), ("end", a.end)] {
            if !is_node(n) {
                return Err(bad(format!("feature arc \"{}\": its {what} node \"{n}\" is not registered", a.name)));
            }
        }
    }
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for f in &feats {
        if !arc_names.contains(&f.arc) {
            return Err(bad(format!(
                "feature \"{}\" names arc \"{}\", which is not registered (arcs: {})",
                f.node,
                f.arc,
                if arc_names.is_empty() { "none".to_string() } else { arc_names.join(", ") }
            )));
        }
        if !is_node(f.node) {
            return Err(bad(format!(
                "feature \"{}\" of arc \"{}\" is not a registered node (declare it with node!)",
                f.node, f.arc
            )));
        }
        if let Some(other) = seen.insert(f.node, f.arc) {
            return Err(bad(format!(
                "node \"{}\" is registered as a feature twice (arcs \"{other}\" and \"{}\")",
                f.node, f.arc
            )));
        }
    }
    let mut out = Vec::new();
    for a in arcs {
        let mine: Vec<_> = feats.iter().copied().filter(|f| f.arc == a.name).collect();
        if mine.len() > MAX_ARC_FEATURES {
            return Err(bad(format!(
                "feature arc \"{}\" has {} features; at most {MAX_ARC_FEATURES}",
                a.name,
                mine.len()
            )));
        }
        for f in &mine {
            if f.node == a.start || f.node == a.end {
                return Err(bad(format!("feature \"{}\" is the start or end node of its arc \"{}\"", f.node, a.name)));
            }
        }
        out.push(ArcDesc { name: a.name, start: a.start, end: a.end, features: order(a.name, &mine)? });
    }
    Ok(out)
}

/// The checked arcs, as the registry applied them.
static ARCS: OnceLock<Vec<ArcDesc>> = OnceLock::new();

pub(crate) fn set_arcs(arcs: Vec<ArcDesc>) {
    let _ = ARCS.set(arcs);
}

/// The arcs; empty until the registry has been read (every public entry
/// point reads it first).
pub(crate) fn arcs() -> &'static [ArcDesc] {
    // The registry sets the arcs while it is built, under its lock.
    let _ = crate::registry::node_max_count();
    ARCS.get().map(Vec::as_slice).unwrap_or(&[])
}

/// A feature arc as [`feature_arc_list`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ArcSummary {
    /// Its name.
    pub name: String,
    /// The start node.
    pub start: String,
    /// The end node.
    pub end: String,
    /// Its features, in the order objects go through them.
    pub features: Vec<String>,
}

/// Every registered feature arc, by name, with its features in order.
pub fn feature_arc_list() -> Result<Vec<ArcSummary>> {
    crate::registry::node_max_count()?;
    Ok(arcs()
        .iter()
        .map(|a| ArcSummary {
            name: a.name.to_string(),
            start: a.start.to_string(),
            end: a.end.to_string(),
            features: a.features.iter().map(|s| s.to_string()).collect(),
        })
        .collect())
}

/// Which features are on, per index, for one arc: bit `k` of `masks[i]`
/// is feature `k` (in arc order) on index `i`.
#[derive(Debug, Clone)]
pub struct ArcTable {
    any: bool,
    masks: Box<[u64; MAX_ARC_INDEX]>,
}

impl ArcTable {
    fn empty() -> ArcTable {
        ArcTable { any: false, masks: Box::new([0; MAX_ARC_INDEX]) }
    }
}

/// The tables of every arc, all off: what a graph without [`FeatureArcs`]
/// walks with.
pub(crate) fn all_off() -> Vec<Arc<ArcTable>> {
    static OFF: OnceLock<Arc<ArcTable>> = OnceLock::new();
    let t = OFF.get_or_init(|| Arc::new(ArcTable::empty()));
    arcs().iter().map(|_| t.clone()).collect()
}

struct ArcsInner {
    generation: AtomicU64,
    tables: Mutex<Vec<Arc<ArcTable>>>,
}

/// What is enabled on every feature arc. Cloning shares it: give the same
/// value to every graph of a router through its environment
/// ([`GraphParam::with`](crate::GraphParam::with)), then enable and disable
/// features from any thread while the graphs run. Each graph switches to
/// the new state at the start of its next walk.
#[derive(Clone)]
pub struct FeatureArcs(Arc<ArcsInner>);

impl std::fmt::Debug for FeatureArcs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureArcs").field("generation", &self.generation()).finish()
    }
}

/// One feature's state, as [`FeatureArcs::status`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FeatureStatus {
    /// The feature (its node's name).
    pub name: String,
    /// Indexes it is enabled on, ascending.
    pub enabled_on: Vec<u16>,
}

/// One arc's state, as [`FeatureArcs::status`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ArcStatus {
    /// The arc's name.
    pub name: String,
    /// Start node.
    pub start: String,
    /// End node.
    pub end: String,
    /// Its features in order.
    pub features: Vec<FeatureStatus>,
}

fn find_arc(name: &str) -> Result<(usize, &'static ArcDesc)> {
    let all = arcs();
    all.iter().enumerate().find(|(_, a)| a.name == name).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|a| a.name).collect();
        bad(format!(
            "no feature arc named \"{name}\" (arcs: {})",
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        ))
    })
}

fn find_feature(a: &ArcDesc, feature: &str) -> Result<usize> {
    a.features.iter().position(|f| *f == feature).ok_or_else(|| {
        bad(format!(
            "arc \"{}\" has no feature \"{feature}\" (its features: {})",
            a.name,
            if a.features.is_empty() { "none".to_string() } else { a.features.join(", ") }
        ))
    })
}

/// One change for [`FeatureArcs::update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureChange<'a> {
    /// The arc.
    pub arc: &'a str,
    /// The feature.
    pub feature: &'a str,
    /// The index (interface) it applies to.
    pub index: u16,
    /// Enable (`true`) or disable.
    pub on: bool,
}

impl Default for FeatureArcs {
    /// As [`FeatureArcs::new`]; with broken registrations (which every
    /// graph creation reports) it holds no arcs.
    fn default() -> Self {
        FeatureArcs::new().unwrap_or_else(|_| {
            FeatureArcs(Arc::new(ArcsInner { generation: AtomicU64::new(1), tables: Mutex::new(Vec::new()) }))
        })
    }
}

impl FeatureArcs {
    /// Every feature of every arc off. Fails if the registrations are
    /// broken.
    pub fn new() -> Result<FeatureArcs> {
        crate::registry::node_max_count()?;
        let tables = arcs().iter().map(|_| Arc::new(ArcTable::empty())).collect();
        Ok(FeatureArcs(Arc::new(ArcsInner { generation: AtomicU64::new(1), tables: Mutex::new(tables) })))
    }

    /// Counts changes; graphs compare it at the start of every walk.
    pub fn generation(&self) -> u64 {
        self.0.generation.load(Ordering::Acquire)
    }

    pub(crate) fn snapshot(&self) -> (u64, Vec<Arc<ArcTable>>) {
        let t = lock(&self.0.tables);
        // Read under the lock that every change holds while it bumps it.
        (self.0.generation.load(Ordering::Acquire), t.clone())
    }

    /// Applies `changes` as one: graphs see all of them or none. Checks
    /// them all first, so an error changes nothing. Returns how many
    /// changed something (enabling what is on changes nothing).
    pub fn update(&self, changes: &[FeatureChange<'_>]) -> Result<usize> {
        let mut checked = Vec::with_capacity(changes.len());
        for c in changes {
            let (ai, a) = find_arc(c.arc)?;
            let k = find_feature(a, c.feature)?;
            if c.index as usize >= MAX_ARC_INDEX {
                return Err(bad(format!("arc \"{}\": index {} is out of range (0..{MAX_ARC_INDEX})", c.arc, c.index)));
            }
            checked.push((ai, 1u64 << k, c.index as usize, c.on));
        }
        let mut tables = lock(&self.0.tables);
        let mut new: Vec<Option<ArcTable>> = vec![None; tables.len()];
        let mut changed = 0;
        for (ai, bit, i, on) in checked {
            let t = new[ai].get_or_insert_with(|| ArcTable::clone(&tables[ai]));
            if (t.masks[i] & bit != 0) != on {
                t.masks[i] ^= bit;
                changed += 1;
            }
        }
        if changed > 0 {
            for (slot, t) in tables.iter_mut().zip(new) {
                if let Some(mut t) = t {
                    t.any = t.masks.iter().any(|&m| m != 0);
                    *slot = Arc::new(t);
                }
            }
            self.0.generation.fetch_add(1, Ordering::AcqRel);
        }
        Ok(changed)
    }

    /// Enables `feature` of `arc` on `index`; `false` if it was on already.
    pub fn enable(&self, arc: &str, feature: &str, index: u16) -> Result<bool> {
        Ok(self.update(&[FeatureChange { arc, feature, index, on: true }])? > 0)
    }

    /// Disables `feature` of `arc` on `index`; `false` if it was off.
    pub fn disable(&self, arc: &str, feature: &str, index: u16) -> Result<bool> {
        Ok(self.update(&[FeatureChange { arc, feature, index, on: false }])? > 0)
    }

    /// Whether `feature` of `arc` is on for `index`.
    pub fn is_enabled(&self, arc: &str, feature: &str, index: u16) -> Result<bool> {
        let (ai, a) = find_arc(arc)?;
        let k = find_feature(a, feature)?;
        let t = lock(&self.0.tables);
        Ok(t[ai].masks.get(index as usize).is_some_and(|m| m & (1 << k) != 0))
    }

    /// Every arc with its features and where each is enabled.
    pub fn status(&self) -> Vec<ArcStatus> {
        let t = lock(&self.0.tables);
        arcs()
            .iter()
            .zip(t.iter())
            .map(|(a, table)| ArcStatus {
                name: a.name.to_string(),
                start: a.start.to_string(),
                end: a.end.to_string(),
                features: a
                    .features
                    .iter()
                    .enumerate()
                    .map(|(k, f)| FeatureStatus {
                        name: f.to_string(),
                        enabled_on: (0..MAX_ARC_INDEX as u16)
                            .filter(|&i| table.masks[i as usize] & (1 << k) != 0)
                            .collect(),
                    })
                    .collect(),
            })
            .collect()
    }
}

/// A node's place on an arc, found at init: the arc, the node's position
/// (the start, or feature `k`) and its edges to what may follow.
#[derive(Debug, Clone)]
pub struct ArcHook {
    arc: u16,
    /// First target this node can send to: 0 for the start, `k + 1` for
    /// feature `k`. Targets are features `0..n`, then the end (`n`).
    pos: u8,
    n: u8,
    /// Edge to target `t`, for `pos <= t <= n`.
    edges: [u16; MAX_ARC_FEATURES + 1],
}

impl ArcHook {
    fn build(info: &NodeInfo<'_>, ai: usize, a: &ArcDesc, pos: usize) -> core::result::Result<ArcHook, GraphError> {
        let n = a.features.len();
        let mut edges = [0u16; MAX_ARC_FEATURES + 1];
        for (t, e) in edges.iter_mut().enumerate().take(n + 1).skip(pos) {
            let target = if t == n { a.end } else { a.features[t] };
            *e = info.edge_to(target).ok_or_else(|| {
                bad(format!(
                    "node \"{}\" on arc \"{}\" has no edge to \"{target}\" (were its edges replaced?)",
                    info.node_name, a.name
                ))
            })?;
        }
        Ok(ArcHook { arc: ai as u16, pos: pos as u8, n: n as u8, edges })
    }

    fn own_name<'a>(info: &'a NodeInfo<'_>) -> [&'a str; 2] {
        [info.node_name, info.parent_name.unwrap_or(info.node_name)]
    }

    /// The hook of `info`'s node as the start of `arc` (a clone of the
    /// start node counts).
    pub fn start(info: &NodeInfo<'_>, arc: &str) -> core::result::Result<ArcHook, GraphError> {
        let (ai, a) = find_arc(arc)?;
        if !Self::own_name(info).contains(&a.start) {
            return Err(bad(format!(
                "node \"{}\" is not the start of arc \"{arc}\" (\"{}\" is)",
                info.node_name, a.start
            )));
        }
        Self::build(info, ai, a, 0)
    }

    /// The hook of `info`'s node as a feature (of the one arc it is a
    /// feature of).
    pub fn feature(info: &NodeInfo<'_>) -> core::result::Result<ArcHook, GraphError> {
        let names = Self::own_name(info);
        for (ai, a) in arcs().iter().enumerate() {
            if let Some(k) = a.features.iter().position(|f| names.contains(f)) {
                return Self::build(info, ai, a, k + 1);
            }
        }
        Err(bad(format!("node \"{}\" is not a feature of any arc (register it with feature!)", info.node_name)))
    }

    /// The arc's name.
    pub fn arc_name(&self) -> &'static str {
        arcs()[self.arc as usize].name
    }

    pub(crate) fn arc(&self) -> usize {
        self.arc as usize
    }

    /// For the start node: the edge to the first feature enabled on
    /// `index`, or `None` when none is (the object takes the node's usual
    /// path).
    #[inline(always)]
    pub fn first(&self, state: ArcState<'_>, index: u16) -> Option<u16> {
        let m = state.mask(index) >> self.pos << self.pos;
        if m == 0 {
            return None;
        }
        Some(self.edges[(m.trailing_zeros() as usize).min(self.n as usize)])
    }

    /// For a feature: the edge to the next feature enabled on `index`, or
    /// to the arc's end.
    #[inline(always)]
    pub fn next(&self, state: ArcState<'_>, index: u16) -> u16 {
        let m = state.mask(index) >> self.pos << self.pos;
        self.edges[(m.trailing_zeros() as usize).min(self.n as usize)]
    }

    /// The edge to the arc's end node.
    pub fn end_edge(&self) -> u16 {
        self.edges[self.n as usize]
    }
}

/// One arc's state for the running walk (see [`Ctx::arc`](crate::Ctx::arc)).
#[derive(Debug, Clone, Copy)]
pub struct ArcState<'a> {
    table: &'a ArcTable,
}

impl<'a> ArcState<'a> {
    pub(crate) fn new(table: &'a ArcTable) -> Self {
        ArcState { table }
    }

    /// Whether any feature of the arc is on, on any index.
    #[inline(always)]
    pub fn any(self) -> bool {
        self.table.any
    }

    /// The features on for `index`, as a bit mask in arc order.
    #[inline(always)]
    pub fn mask(self, index: u16) -> u64 {
        self.table.masks.get(index as usize).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn f(
        node: &'static str,
        runs_after: &'static [&'static str],
        runs_before: &'static [&'static str],
    ) -> FeatureRegistration {
        FeatureRegistration { arc: "t", node, runs_after, runs_before }
    }

    #[test]
    fn ties_go_by_name_and_constraints_win() {
        static A: FeatureRegistration = f("a", &["c"], &[]);
        static B: FeatureRegistration = f("b", &[], &[]);
        static C: FeatureRegistration = f("c", &[], &[]);
        static D: FeatureRegistration = f("d", &[], &["b"]);
        assert_eq!(order("t", &[&A, &B, &C, &D]).unwrap(), ["c", "a", "d", "b"]);
        assert_eq!(order("t", &[]).unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn a_cycle_names_its_features() {
        static A: FeatureRegistration = f("a", &["b"], &[]);
        static B: FeatureRegistration = f("b", &["c"], &[]);
        static C: FeatureRegistration = f("c", &["b"], &[]);
        static D: FeatureRegistration = f("d", &[], &[]);
        let e = order("t", &[&A, &B, &C, &D]).unwrap_err().to_string();
        assert!(e.contains("are ordered in a cycle"), "{e}");
        assert!(e.contains("\"b\"") && e.contains("\"c\"") && !e.contains("\"a\""), "{e}");
        static S: FeatureRegistration = f("s", &["s"], &[]);
        let e = order("t", &[&S]).unwrap_err().to_string();
        assert!(e.contains("\"s\" of arc \"t\" is ordered against itself"), "{e}");
    }

    #[test]
    fn an_unknown_name_is_named_with_the_feature() {
        static A: FeatureRegistration = f("a", &[], &["zz"]);
        static B: FeatureRegistration = f("b", &[], &[]);
        let e = order("t", &[&A, &B]).unwrap_err().to_string();
        assert_eq!(
            e,
            "feature \"a\" of arc \"t\" runs_before \"zz\", which is not a feature of that arc (its features: a, b)"
        );
    }
}
