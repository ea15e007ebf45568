//! The mcore dispatch model: streams of nodes bound to another lcore go to
//! that lcore's graph through its work queue; every object reaches its
//! sink exactly once and in order per path; a full queue is back-pressure
//! (counted), not loss; bad sets are refused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use graph_core::{node, Ctx, Dispatch, Graph, GraphParam, NodeFlags, Obj, Objs};

/// Where each graph's source starts numbering, and how many per walk.
#[derive(Clone, Copy)]
struct Numbering {
    base: usize,
    per_walk: usize,
    limit: usize,
}

struct Src {
    n: Numbering,
    next: usize,
}

fn src_init(info: &graph_core::NodeInfo<'_>) -> Result<Src, graph_core::InitError> {
    let n = *info.env::<Numbering>()?;
    Ok(Src { n, next: 0 })
}

/// Numbers objects `base + i`, `per_walk` a walk, `limit` in all.
fn src(ctx: &mut Ctx<'_>, s: &mut Src, _: Objs<'_>) -> usize {
    let k = s.n.per_walk.min(s.n.limit - s.next);
    for _ in 0..k {
        ctx.enqueue_x1(0, Obj::from_addr(s.n.base + s.next));
        s.next += 1;
    }
    k
}

/// Passes everything on (the work an lcore takes over).
fn mid(ctx: &mut Ctx<'_>, _: &mut (), objs: Objs<'_>) -> usize {
    ctx.next_stream_move(0, objs)
}

/// Every object seen, by the graph the sink ran in.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<usize>>>);

fn sink_init(info: &graph_core::NodeInfo<'_>) -> Result<Seen, graph_core::InitError> {
    Ok(info.env::<Seen>()?.clone())
}

fn sink(_: &mut Ctx<'_>, seen: &mut Seen, objs: Objs<'_>) -> usize {
    seen.0.lock().unwrap().extend(objs.iter().map(|o| o.addr()));
    objs.len()
}

node! { static DS_SRC = { name: "ds_src", flags: NodeFlags::SOURCE, context: Src, init: src_init, process: src, next: &["ds_mid"] }; }
node! { static DS_MID = { name: "ds_mid", process: mid, next: &["ds_sink"] }; }
node! { static DS_SINK = { name: "ds_sink", context: Seen, init: sink_init, process: sink, next: &[] }; }

fn graph(name: &str, n: Numbering, seen: &Seen) -> Graph {
    Graph::create(name, &GraphParam::new(["ds_src"]).with(n).with(seen.clone())).unwrap()
}

/// Two lcores: both make objects; ds_mid runs on lcore 1, ds_sink on
/// lcore 0. Returns what the sink saw and the set's counters.
fn run(tag: &str, queue: usize, per_walk: usize, limit: usize) -> (Vec<usize>, Vec<graph_core::DispatchStats>) {
    let set = Dispatch::new(&[0, 1], queue).unwrap();
    set.bind("ds_mid", 1).unwrap();
    set.bind("ds_sink", 0).unwrap();
    let seen = Seen::default();
    let mut g0 = graph(&format!("ds0_{tag}"), Numbering { base: 0, per_walk, limit }, &seen);
    let mut g1 = graph(&format!("ds1_{tag}"), Numbering { base: 1 << 30, per_walk, limit }, &seen);
    g0.set_dispatch(&set, 0).unwrap();
    g1.set_dispatch(&set, 1).unwrap();
    set.check().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let total = 2 * limit;
    let walker = |mut g: Graph, seen: Seen, set: Dispatch, done: Arc<AtomicBool>| {
        std::thread::spawn(move || {
            // Walk until every object reached the sink and the queues are
            // empty (the other thread may still be handing over).
            let mut spins = 0u64;
            while !done.load(Ordering::Relaxed) {
                g.walk();
                if seen.0.lock().unwrap().len() == total && set.idle() {
                    done.store(true, Ordering::Relaxed);
                }
                spins += 1;
                assert!(spins < 50_000_000, "no progress");
            }
            g
        })
    };
    let t0 = walker(g0, seen.clone(), set.clone(), done.clone());
    let t1 = walker(g1, seen.clone(), set.clone(), done.clone());
    let (g0, g1) = (t0.join().unwrap(), t1.join().unwrap());
    // Only lcore 0 ran the sink, only lcore 1 the middle node.
    assert_eq!(g1.node_stats("ds_sink").unwrap().calls, 0);
    assert_eq!(g0.node_stats("ds_mid").unwrap().calls, 0);
    let v = seen.0.lock().unwrap().clone();
    (v, set.stats())
}

fn check_exactly_once_in_order(v: &[usize], limit: usize) {
    assert_eq!(v.len(), 2 * limit, "lost or duplicated");
    for base in [0usize, 1 << 30] {
        let path: Vec<usize> = v.iter().copied().filter(|x| (x >> 30) == (base >> 30)).collect();
        let want: Vec<usize> = (0..limit).map(|i| base + i).collect();
        assert_eq!(path, want, "path from base {base:#x}: out of order or missing");
    }
}

#[test]
fn objects_cross_lcores_exactly_once_in_order() {
    let limit = if cfg!(miri) { 40 } else { 100_000 };
    let (v, st) = run("plain", 64, 8, limit);
    check_exactly_once_in_order(&v, limit);
    let sent: u64 = st.iter().map(|s| s.sent_objs).sum();
    assert!(sent >= 2 * limit as u64, "every object crossed at least once: {st:?}");
    assert!(st.iter().all(|s| s.unknown == 0 && s.queued == 0));
}

#[test]
fn a_full_queue_holds_the_stream_back_and_counts() {
    let limit = if cfg!(miri) { 40 } else { 50_000 };
    let (v, st) = run("tiny", 1, 32, limit);
    check_exactly_once_in_order(&v, limit);
    if !cfg!(miri) {
        assert!(st.iter().map(|s| s.full).sum::<u64>() > 0, "a one-slot queue fills: {st:?}");
    }
}

#[test]
fn bad_sets_are_refused() {
    assert!(Dispatch::new(&[], 8).is_err());
    assert!(Dispatch::new(&[0, 0], 8).unwrap_err().to_string().contains("lcore 0 is in the dispatch set twice"));
    let set = Dispatch::new(&[0, 1], 8).unwrap();
    assert!(set.bind("ds_mid", 7).unwrap_err().to_string().contains("lcore 7 is not in the dispatch set"));
    set.bind("ds_mid", 1).unwrap();
    set.bind("ds_mid", 1).unwrap();
    let e = set.bind("ds_mid", 0).unwrap_err().to_string();
    assert!(e.contains("bound to lcore 1 already"), "{e}");
    // Lcore 1 has no graph yet.
    let seen = Seen::default();
    let mut g = graph("ds_bad0", Numbering { base: 0, per_walk: 1, limit: 1 }, &seen);
    g.set_dispatch(&set, 0).unwrap();
    assert!(set.check().unwrap_err().to_string().contains("lcore 1 of the dispatch set has no graph"));
    assert!(g.set_dispatch(&set, 5).is_err());
}

#[cfg(not(miri))]
mod property {
    use super::*;
    use proptest::prelude::*;
    use std::sync::atomic::AtomicUsize;

    static CASE: AtomicUsize = AtomicUsize::new(0);

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
        /// Any queue size, burst and count: exactly once, in order per path.
        #[test]
        fn exactly_once_in_order_for_any_sizes(queue in 1usize..16, per_walk in 1usize..300, limit in 1usize..3000) {
            let tag = format!("p{}", CASE.fetch_add(1, Ordering::Relaxed));
            let (v, st) = run(&tag, queue, per_walk, limit);
            check_exactly_once_in_order(&v, limit);
            prop_assert!(st.iter().all(|s| s.unknown == 0 && s.queued == 0));
        }
    }
}

#[test]
fn a_clone_has_the_same_nodes_and_its_own_contexts() {
    let seen = Seen::default();
    let mut g = graph("ds_parent", Numbering { base: 0, per_walk: 4, limit: 8 }, &seen);
    let mut c = g.clone_graph("1").unwrap();
    assert_eq!(c.name(), "ds_parent-1");
    assert_eq!(c.node_names(), g.node_names());
    g.walk();
    g.walk();
    // The clone's source has its own numbering state: it starts at 0 too.
    c.walk();
    assert_eq!(*seen.0.lock().unwrap(), [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3]);
    assert_eq!(g.node_stats("ds_sink").unwrap().objs, 8);
    assert_eq!(c.node_stats("ds_sink").unwrap().objs, 4);
    assert!(g.clone_graph("1").is_err(), "the name is taken");
}
