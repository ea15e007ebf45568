//! Feature arcs: order from constraints, edges given by the registry,
//! per-index enabling, features that drop, and changes while a graph
//! walks on another thread (every object sees one state end to end).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use graph_core::{
    feature, feature_arc, feature_arc_list, node, node_edge_get, node_from_name, ArcHook, Ctx, FeatureArcs,
    FeatureChange, Graph, GraphParam, InitError, NodeFlags, NodeInfo, Obj, Objs,
};

/// Objects are `seq << 8 | index`.
fn index_of(o: Obj) -> u16 {
    (o.addr() & 0xff) as u16
}

/// Every object's path through the features, by sequence number (per graph).
#[derive(Clone, Default)]
struct Paths(Arc<Mutex<HashMap<usize, Vec<&'static str>>>>);

impl Paths {
    fn push(&self, o: Obj, who: &'static str) {
        self.0.lock().unwrap().entry(o.addr() >> 8).or_default().push(who);
    }
}

/// Objects per walk and how many indexes they cycle through.
#[derive(Clone, Copy)]
struct Load {
    per_walk: usize,
    indexes: usize,
}

struct Src {
    hook: ArcHook,
    load: Load,
    seq: usize,
}

fn src_init(info: &NodeInfo<'_>) -> Result<Src, InitError> {
    Ok(Src { hook: ArcHook::start(info, "ft_arc")?, load: *info.env::<Load>()?, seq: 0 })
}

/// The arc's start: objects go to the first enabled feature of their
/// index, or straight to the sink (edge 0).
fn src(ctx: &mut Ctx<'_>, s: &mut Src, _objs: Objs<'_>) -> usize {
    let arc = ctx.arc(&s.hook);
    for _ in 0..s.load.per_walk {
        s.seq += 1;
        let o = Obj::from_addr(s.seq << 8 | (s.seq % s.load.indexes));
        let edge = if arc.any() { s.hook.first(arc, index_of(o)).unwrap_or(0) } else { 0 };
        ctx.enqueue_x1(edge, o);
    }
    s.load.per_walk
}

struct Feat {
    hook: ArcHook,
    paths: Paths,
    name: &'static str,
}

fn feat_init(info: &NodeInfo<'_>) -> Result<Feat, InitError> {
    let name = match info.node_name {
        "ft_a" => "ft_a",
        "ft_b" => "ft_b",
        "ft_c" => "ft_c",
        _ => "ft_drop",
    };
    Ok(Feat { hook: ArcHook::feature(info)?, paths: info.env::<Paths>()?.clone(), name })
}

/// A feature that notes the object and passes it on.
fn pass(ctx: &mut Ctx<'_>, f: &mut Feat, objs: Objs<'_>) -> usize {
    let arc = ctx.arc(&f.hook);
    let n = objs.len();
    for o in objs.into_iter() {
        f.paths.push(o, f.name);
        ctx.enqueue_x1(f.hook.next(arc, index_of(o)), o);
    }
    n
}

/// A feature that drops odd sequence numbers down its own edge (0) and
/// counts them; the rest go on.
fn drop_odd(ctx: &mut Ctx<'_>, f: &mut Feat, objs: Objs<'_>) -> usize {
    let arc = ctx.arc(&f.hook);
    let n = objs.len();
    let mut dropped = 0;
    for o in objs.into_iter() {
        f.paths.push(o, f.name);
        if (o.addr() >> 8) % 2 == 1 {
            dropped += 1;
            ctx.enqueue_x1(0, o);
        } else {
            ctx.enqueue_x1(f.hook.next(arc, index_of(o)), o);
        }
    }
    ctx.count(0, dropped);
    n
}

/// Sink and drop: count what arrives.
fn count(_ctx: &mut Ctx<'_>, total: &mut u64, objs: Objs<'_>) -> usize {
    *total += objs.len() as u64;
    objs.len()
}

node! { static FT_SRC = { name: "ft_src", flags: NodeFlags::SOURCE, context: Src, init: src_init, process: src, next: &["ft_sink"] }; }
node! { static FT_SINK = { name: "ft_sink", context: u64, process: count, next: &[] }; }
node! { static FT_BIN = { name: "ft_bin", context: u64, process: count, next: &[] }; }
node! { static FT_A = { name: "ft_a", context: Feat, init: feat_init, process: pass, next: &[] }; }
node! { static FT_B = { name: "ft_b", context: Feat, init: feat_init, process: pass, next: &[] }; }
node! { static FT_C = { name: "ft_c", context: Feat, init: feat_init, process: pass, next: &[] }; }
node! { static FT_DROP = { name: "ft_drop", context: Feat, init: feat_init, process: drop_odd, counters: &["odd"], next: &["ft_bin"] }; }

feature_arc! { static FT_ARC = { name: "ft_arc", start: "ft_src", end: "ft_sink" }; }
// Declared out of order on purpose: the constraints give c, a, drop, b.
feature! { static F_B = { arc: "ft_arc", node: "ft_b", runs_after: &["ft_a"] }; }
feature! { static F_A = { arc: "ft_arc", node: "ft_a", runs_after: &["ft_c"], runs_before: &["ft_b"] }; }
feature! { static F_C = { arc: "ft_arc", node: "ft_c" }; }
feature! { static F_DROP = { arc: "ft_arc", node: "ft_drop", runs_after: &["ft_a"], runs_before: &["ft_b"] }; }

fn graph(name: &str, arcs: Option<&FeatureArcs>, paths: &Paths, load: Load) -> Graph {
    let mut p = GraphParam::new(["ft_src"]).with(paths.clone()).with(load);
    if let Some(a) = arcs {
        p = p.with(a.clone());
    }
    Graph::create(name, &p).unwrap()
}

fn sink(g: &mut Graph) -> u64 {
    *g.node_context_mut::<u64>("ft_sink").unwrap()
}

#[test]
fn order_and_edges() {
    let arcs = feature_arc_list().unwrap();
    let a = arcs.iter().find(|a| a.name == "ft_arc").unwrap();
    assert_eq!(a.features, ["ft_c", "ft_a", "ft_drop", "ft_b"]);
    // The start reaches every feature and the end; each feature the later
    // ones and the end.
    let e = node_edge_get(node_from_name("ft_src").unwrap()).unwrap();
    assert_eq!(e, ["ft_sink", "ft_c", "ft_a", "ft_drop", "ft_b"]);
    let e = node_edge_get(node_from_name("ft_drop").unwrap()).unwrap();
    assert_eq!(e, ["ft_bin", "ft_b", "ft_sink"]);
    let e = node_edge_get(node_from_name("ft_b").unwrap()).unwrap();
    assert_eq!(e, ["ft_sink"]);
}

#[test]
fn without_feature_arcs_everything_goes_straight_through() {
    let paths = Paths::default();
    let mut g = graph("ft_none", None, &paths, Load { per_walk: 8, indexes: 4 });
    for _ in 0..10 {
        g.walk();
    }
    assert_eq!(sink(&mut g), 80);
    assert!(paths.0.lock().unwrap().is_empty());
    // Feature nodes are in the graph but never called.
    assert_eq!(g.node_stats("ft_a").unwrap().calls, 0);
}

#[test]
fn per_index_paths_in_arc_order() {
    let arcs = FeatureArcs::new().unwrap();
    let paths = Paths::default();
    let mut g = graph("ft_idx", Some(&arcs), &paths, Load { per_walk: 8, indexes: 4 });
    // index 1: b and a (in that call order); index 2: c; index 3: drop.
    assert!(arcs.enable("ft_arc", "ft_b", 1).unwrap());
    assert!(arcs.enable("ft_arc", "ft_a", 1).unwrap());
    assert!(!arcs.enable("ft_arc", "ft_a", 1).unwrap());
    arcs.enable("ft_arc", "ft_c", 2).unwrap();
    arcs.enable("ft_arc", "ft_drop", 3).unwrap();
    assert_eq!(g.feature_generation(), 1);
    g.walk();
    assert_eq!(g.feature_generation(), arcs.generation());
    let p = paths.0.lock().unwrap().clone();
    for seq in 1..=8usize {
        let got = p.get(&seq).cloned().unwrap_or_default();
        let want: &[&str] = match seq % 4 {
            1 => &["ft_a", "ft_b"],
            2 => &["ft_c"],
            3 => &["ft_drop"],
            _ => &[],
        };
        assert_eq!(got, want, "object {seq}");
    }
    // Sequence 3 and 7 are odd on index 3: dropped and counted; 8 total.
    let dropped = g.node_stats("ft_drop").unwrap().counters["odd"];
    assert_eq!(dropped, 2);
    assert_eq!(sink(&mut g) + dropped, 8);
    assert_eq!(*g.node_context_mut::<u64>("ft_bin").unwrap(), 2);

    let st = arcs.status();
    let a = st.iter().find(|a| a.name == "ft_arc").unwrap();
    let on: Vec<(&str, Vec<u16>)> = a.features.iter().map(|f| (f.name.as_str(), f.enabled_on.clone())).collect();
    assert_eq!(on, [("ft_c", vec![2]), ("ft_a", vec![1]), ("ft_drop", vec![3]), ("ft_b", vec![1])]);

    // Disabled again: straight through.
    for (f, i) in [("ft_a", 1), ("ft_b", 1), ("ft_c", 2), ("ft_drop", 3)] {
        assert!(arcs.disable("ft_arc", f, i).unwrap());
    }
    paths.0.lock().unwrap().clear();
    g.walk();
    assert!(paths.0.lock().unwrap().is_empty());
    assert_eq!(sink(&mut g), 6 + 8);
}

#[test]
fn bad_changes_are_refused_whole() {
    let arcs = FeatureArcs::new().unwrap();
    let gen = arcs.generation();
    let e = arcs
        .update(&[
            FeatureChange { arc: "ft_arc", feature: "ft_a", index: 0, on: true },
            FeatureChange { arc: "ft_arc", feature: "nope", index: 0, on: true },
        ])
        .unwrap_err()
        .to_string();
    assert!(e.contains("no feature \"nope\"") && e.contains("ft_c, ft_a, ft_drop, ft_b"), "{e}");
    assert_eq!(arcs.generation(), gen);
    assert!(!arcs.is_enabled("ft_arc", "ft_a", 0).unwrap());
    let e = arcs.enable("no_arc", "ft_a", 0).unwrap_err().to_string();
    assert!(e.contains("no feature arc named \"no_arc\"") && e.contains("ft_arc"), "{e}");
    let e = arcs.enable("ft_arc", "ft_a", 256).unwrap_err().to_string();
    assert!(e.contains("index 256 is out of range"), "{e}");
}

#[test]
fn a_node_off_the_arc_has_no_hook() {
    struct Probe;
    fn probe_init(info: &NodeInfo<'_>) -> Result<u8, InitError> {
        let e = ArcHook::feature(info).unwrap_err().to_string();
        assert!(e.contains("is not a feature of any arc"), "{e}");
        let e = ArcHook::start(info, "ft_arc").unwrap_err().to_string();
        assert!(e.contains("is not the start of arc \"ft_arc\" (\"ft_src\" is)"), "{e}");
        let _ = Probe;
        Ok(0)
    }
    fn nop(_: &mut Ctx<'_>, _: &mut u8, o: Objs<'_>) -> usize {
        o.len()
    }
    node! { static FT_PROBE = { name: "ft_probe", flags: NodeFlags::SOURCE, context: u8, init: probe_init, process: nop, next: &[] }; }
    Graph::create("ft_probe_g", &GraphParam::new(["ft_probe"])).unwrap();
}

/// A control thread flips features a and b on index 0 together, as one
/// update, while the graph walks: every object visits both or neither
/// (never one: that would be a half-changed arc), and every object
/// reaches the sink exactly once.
#[test]
fn switching_while_walking_is_all_or_nothing_per_object() {
    let arcs = FeatureArcs::new().unwrap();
    let paths = Paths::default();
    let load = Load { per_walk: 64, indexes: 1 };
    let mut g = graph("ft_switch", Some(&arcs), &paths, load);
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (arcs, stop) = (arcs.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut on = false;
            let mut flips = 0u32;
            while !stop.load(Ordering::Relaxed) {
                on = !on;
                let ch = |feature| FeatureChange { arc: "ft_arc", feature, index: 0, on };
                arcs.update(&[ch("ft_a"), ch("ft_b")]).unwrap();
                flips += 1;
                std::thread::yield_now();
            }
            flips
        })
    };
    let walks = if cfg!(miri) { 20 } else { 5000 };
    for _ in 0..walks {
        g.walk();
    }
    stop.store(true, Ordering::Relaxed);
    let flips = flipper.join().unwrap();
    assert!(flips > 0);
    let p = paths.0.lock().unwrap();
    let mut both = 0;
    for (seq, path) in p.iter() {
        assert_eq!(path.as_slice(), ["ft_a", "ft_b"], "object {seq} went through a half-changed arc");
        both += 1;
    }
    let total = (walks * load.per_walk) as u64;
    assert_eq!(sink(&mut g), total, "objects lost or duplicated");
    eprintln!("{both} of {total} objects through the features, {flips} switches");
}
