//! Walk semantics: order, home run, copies, stream doubling, statistics,
//! counters, init/fini, threads.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{take_log, Fan, FanMode, Src, SrcMode};
use graph_core::{
    format_table, node, node_clone, node_edge_shrink, node_edge_update, node_from_name, ClusterStats, Ctx, Graph,
    GraphError, GraphParam, NodeFlags, NodeInfo, Obj, Objs,
};

fn fan(suffix: &str, edges: &[&str]) -> String {
    let id = node_clone(node_from_name("t_fan").unwrap(), suffix).unwrap();
    node_edge_update(id, Some(0), edges).unwrap();
    format!("t_fan-{suffix}")
}

fn src(suffix: &str, edges: &[&str]) -> String {
    let id = node_clone(node_from_name("t_src").unwrap(), suffix).unwrap();
    node_edge_shrink(id, 0).unwrap();
    node_edge_update(id, Some(0), edges).unwrap();
    format!("t_src-{suffix}")
}

fn setup_src(g: &mut Graph, name: &str, per_walk: usize, tag: usize, mode: SrcMode) {
    let s = g.node_context_mut::<Src>(name).unwrap();
    s.per_walk = per_walk;
    s.tag = tag;
    s.mode = mode;
}

fn seen(g: &mut Graph, name: &str) -> Vec<Obj> {
    g.node_context_mut::<Fan>(name).unwrap().seen.clone()
}

fn tags(tag: usize, range: std::ops::Range<usize>) -> Vec<Obj> {
    range.map(|i| Obj::from_addr(tag << 32 | i)).collect()
}

#[test]
fn sources_first_then_pending_in_enqueue_order() {
    let z = fan("ord-z", &[]);
    let x = fan("ord-x", &[&z]);
    let y = fan("ord-y", &[&z]);
    let a = src("ord-a", &[&x]);
    let b = src("ord-b", &[&y]);
    let mut g = Graph::create("w_order", &GraphParam::new([a.as_str(), b.as_str()])).unwrap();
    setup_src(&mut g, &a, 3, 1, SrcMode::StreamGetPut);
    setup_src(&mut g, &b, 2, 2, SrcMode::StreamGetPut);
    take_log();
    g.walk();
    // z was pending once, with x's objects then y's.
    assert_eq!(take_log(), [a.clone(), b.clone(), x.clone(), y.clone(), z.clone()]);
    let mut want = tags(1, 0..3);
    want.extend(tags(2, 0..2));
    assert_eq!(seen(&mut g, &z), want);
    g.walk();
    assert_eq!(take_log(), [a.clone(), b.clone(), x.clone(), y.clone(), z.clone()]);
}

#[test]
fn a_node_enqueued_after_it_ran_runs_again() {
    // src -> a -> b -> c and src -> c: c runs, then b feeds it again.
    let c = fan("again-c", &[]);
    let b = fan("again-b", &[&c]);
    let a = fan("again-a", &[&b]);
    let s = src("again", &[&a, &c]);
    let mut g = Graph::create("w_again", &GraphParam::new([s.as_str()])).unwrap();
    setup_src(&mut g, &s, 2, 7, SrcMode::X1);
    take_log();
    g.walk();
    assert_eq!(take_log(), [s.clone(), a.clone(), c.clone(), b.clone(), c.clone()]);
    // c saw the source's copy (seq 2,3 on edge 1) first, then a/b's (0,1).
    let mut want = tags(7, 2..4);
    want.extend(tags(7, 0..2));
    assert_eq!(seen(&mut g, &c), want);
    // Nothing left pending after the walk.
    for n in [&a, &b, &c] {
        assert_eq!(g.stream_state(n).unwrap().0, 0);
    }
}

#[test]
fn home_run_swaps_arrays_and_busy_destination_copies() {
    // Home run: src -> a (move) -> b.
    let b = fan("hr-b", &[]);
    let a = fan("hr-a", &[&b]);
    let s = src("hr", &[&a]);
    let mut g = Graph::create("w_home", &GraphParam::new([s.as_str()])).unwrap();
    setup_src(&mut g, &s, 8, 3, SrcMode::StreamGetPut);
    g.node_context_mut::<Fan>(&a).unwrap().mode = FanMode::Move;
    g.walk();
    g.walk();
    let a_arrays = g.node_context_mut::<Fan>(&a).unwrap().arrays.clone();
    let b_arrays = g.node_context_mut::<Fan>(&b).unwrap().arrays.clone();
    // The very array a processed is the one b received: swapped, not copied.
    assert_eq!(a_arrays, b_arrays);
    // And the arrays ping-pong between the two nodes.
    assert_ne!(a_arrays[0], a_arrays[1]);
    assert_eq!(seen(&mut g, &b), tags(3, 0..16));

    // Busy destination: src -> {a2, b2}; a2 moves to b2, which already
    // holds the source's objects, so they are appended by copy.
    let b2 = fan("busy-b", &[]);
    let a2 = fan("busy-a", &[&b2]);
    let s2 = src("busy", &[&b2, &a2]);
    let mut g2 = Graph::create("w_busy", &GraphParam::new([s2.as_str()])).unwrap();
    setup_src(&mut g2, &s2, 4, 5, SrcMode::StreamGetPut);
    g2.node_context_mut::<Fan>(&a2).unwrap().mode = FanMode::Move;
    g2.walk();
    let a_arr = g2.node_context_mut::<Fan>(&a2).unwrap().arrays.clone();
    let b_arr = g2.node_context_mut::<Fan>(&b2).unwrap().arrays.clone();
    assert_ne!(a_arr[0], b_arr[0], "busy destination must copy, not swap");
    // b2 got the source's 4 then a2's 4, in order, exactly once each.
    let mut want = tags(5, 0..4);
    want.extend(tags(5, 4..8));
    assert_eq!(seen(&mut g2, &b2), want);
}

#[test]
fn streams_double_and_lose_nothing() {
    for (i, mode) in [SrcMode::StreamGetPut, SrcMode::X1, SrcMode::Bulk].into_iter().enumerate() {
        let sink = fan(&format!("dbl-sink{i}"), &[]);
        let s = src(&format!("dbl{i}"), &[&sink]);
        let gname = format!("w_dbl{i}");
        let mut g = Graph::create(&gname, &GraphParam::new([s.as_str()]).burst_size(16)).unwrap();
        setup_src(&mut g, &s, 40, 9, mode);
        assert_eq!(g.stream_state(&sink).unwrap(), (0, 16));
        g.walk();
        g.walk();
        let got = seen(&mut g, &sink);
        assert_eq!(got, tags(9, 0..80), "{mode:?}");
        // 16 -> 64 (at least double and a power of two holding 40), once.
        assert_eq!(g.stream_state(&sink).unwrap(), (0, 64), "{mode:?}");
        let st = g.node_stats(&sink).unwrap();
        assert_eq!(st.realloc_count, if mode == SrcMode::X1 { 2 } else { 1 }, "{mode:?}");
        assert_eq!(st.objs, 80);
    }
}

#[test]
fn stats_count_calls_objs_cycles_and_can_be_off() {
    let b = fan("st-b", &[]);
    let a = fan("st-a", &[&b]);
    let s = src("st", &[&a]);
    let mut g = Graph::create("w_stats", &GraphParam::new([s.as_str()])).unwrap();
    setup_src(&mut g, &s, 5, 1, SrcMode::StreamGetPut);
    let walks = if cfg!(miri) { 3 } else { 100 };
    for _ in 0..walks {
        g.walk();
    }
    for n in [&s, &a, &b] {
        let st = g.node_stats(n).unwrap();
        assert_eq!(st.calls, walks, "{n}");
        assert_eq!(st.objs, 5 * walks, "{n}");
        assert!(st.cycles > 0, "{n}");
        assert_eq!(st.realloc_count, 0);
    }
    g.set_stats(false);
    assert!(!g.stats_enabled());
    g.walk();
    assert_eq!(g.node_stats(&s).unwrap().calls, walks);
    assert_eq!(seen(&mut g, &b).len() as u64, 5 * (walks + 1));

    let mut c = ClusterStats::new(&["w_stats"]).unwrap();
    let rows = c.get();
    let row = rows.iter().find(|r| r.name == a).unwrap();
    assert_eq!(row.calls, walks);
    assert_eq!(row.objs_per_call, 5.0);
    let table = format_table(&rows);
    assert!(table.contains("objs/sec(10E6)") && table.contains("cycles/call"), "{table}");
    assert!(table.contains(&a), "{table}");
    let json = serde_json::to_value(&rows).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3);
}

// A node with named counters: counts odd and even tags.
fn parity(ctx: &mut Ctx<'_>, _: &mut (), objs: Objs<'_>) -> usize {
    let odd = objs.iter().filter(|o| o.addr() & 1 == 1).count() as u64;
    ctx.count(0, odd);
    ctx.count(1, objs.len() as u64 - odd);
    objs.len()
}

node! {
    static T_PARITY = {
        name: "t_parity",
        process: parity,
        counters: &["odd", "even"],
        next: &[],
    };
}

#[test]
fn named_counters_show_in_stats() {
    let s = src("cnt", &["t_parity"]);
    let mut g = Graph::create("w_cnt", &GraphParam::new([s.as_str()])).unwrap();
    setup_src(&mut g, &s, 5, 0, SrcMode::Bulk);
    g.walk();
    g.walk();
    let st = g.node_stats("t_parity").unwrap();
    assert_eq!(st.counters["odd"], 5);
    assert_eq!(st.counters["even"], 5);
    let mut c = ClusterStats::new(&["w_cnt"]).unwrap();
    let table = format_table(&c.get());
    assert!(table.contains("odd") && table.contains("even"), "{table}");
}

static INITS: AtomicUsize = AtomicUsize::new(0);
static FINIS: AtomicUsize = AtomicUsize::new(0);
static DROPS: AtomicUsize = AtomicUsize::new(0);

struct Tracked {
    name: String,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

fn tracked_init(info: &NodeInfo<'_>) -> Result<Tracked, String> {
    if info.clone_suffix() == Some("bad") {
        return Err(format!("refusing {}", info.node_name));
    }
    INITS.fetch_add(1, Ordering::SeqCst);
    Ok(Tracked { name: info.node_name.to_string() })
}

fn tracked_fini(info: &NodeInfo<'_>, t: &mut Tracked) {
    assert_eq!(info.node_name, t.name);
    FINIS.fetch_add(1, Ordering::SeqCst);
}

fn tracked(_: &mut Ctx<'_>, t: &mut Tracked, objs: Objs<'_>) -> usize {
    assert!(t.name.starts_with("t_tracked"));
    objs.len()
}

node! {
    static T_TRACKED = {
        name: "t_tracked",
        context: Tracked,
        init: tracked_init,
        fini: tracked_fini,
        process: tracked,
        next: &[],
    };
}

#[test]
fn init_fini_and_failed_init_leak_nothing() {
    let tr = node_from_name("t_tracked").unwrap();
    node_clone(tr, "ok").unwrap();
    node_clone(tr, "bad").unwrap();
    // Both tracked clones come after an initialised one in memory order.
    let s = src("initfini", &["t_tracked-ok", "t_tracked-bad"]);
    let before = (INITS.load(Ordering::SeqCst), FINIS.load(Ordering::SeqCst), DROPS.load(Ordering::SeqCst));
    let err = Graph::create("w_init_bad", &GraphParam::new([s.as_str()])).unwrap_err();
    match &err {
        GraphError::NodeInit { node, reason, .. } => {
            assert_eq!(node, "t_tracked-bad");
            assert!(reason.contains("refusing t_tracked-bad"));
        }
        e => panic!("{e}"),
    }
    // The one that was initialised got fini and drop.
    assert_eq!(INITS.load(Ordering::SeqCst) - before.0, 1);
    assert_eq!(FINIS.load(Ordering::SeqCst) - before.1, 1);
    assert_eq!(DROPS.load(Ordering::SeqCst) - before.2, 1);
    assert_eq!(graph_core::graph_from_name("w_init_bad"), None);

    let s2 = src("initfini2", &["t_tracked-ok"]);
    let g = Graph::create("w_init_ok", &GraphParam::new([s2.as_str()])).unwrap();
    assert_eq!(INITS.load(Ordering::SeqCst) - before.0, 2);
    drop(g);
    assert_eq!(FINIS.load(Ordering::SeqCst) - before.1, 2);
    assert_eq!(DROPS.load(Ordering::SeqCst) - before.2, 2);
}

#[test]
fn wrong_context_type_is_refused() {
    let s = src("ctxtype", &["t_fan"]);
    let mut g = Graph::create("w_ctxtype", &GraphParam::new([s.as_str()])).unwrap();
    assert!(g.node_context_mut::<u64>("t_fan").is_none());
    assert!(g.node_context_mut::<Fan>("t_fan").is_some());
    assert!(g.node_context_mut::<Fan>("nope").is_none());
}

#[test]
fn graphs_walk_on_other_threads_while_stats_are_read() {
    let n = if cfg!(miri) { 2 } else { 4 };
    let walks = if cfg!(miri) { 20 } else { 2000 };
    let mut graphs = Vec::new();
    for t in 0..n {
        let sink = fan(&format!("thr-sink{t}"), &[]);
        let s = src(&format!("thr{t}"), &[&sink]);
        let mut g = Graph::create(&format!("w_thr_{t}"), &GraphParam::new([s.as_str()])).unwrap();
        setup_src(&mut g, &s, 3, t, SrcMode::StreamGetPut);
        graphs.push((g, s, sink));
    }
    let mut cluster = ClusterStats::new(&["w_thr_*"]).unwrap();
    assert_eq!(cluster.graph_names().len(), n);
    let handles: Vec<_> = graphs
        .into_iter()
        .map(|(mut g, s, sink)| {
            std::thread::spawn(move || {
                for _ in 0..walks {
                    g.walk();
                }
                let got = g.node_context_mut::<Fan>(&sink).unwrap().seen.len();
                (g.node_stats(&s).unwrap().calls, got)
            })
        })
        .collect();
    // Read while they walk.
    for _ in 0..5 {
        let _ = cluster.get();
    }
    for h in handles {
        let (calls, got) = h.join().unwrap();
        assert_eq!(calls, walks);
        assert_eq!(got as u64, 3 * walks);
    }
    // The graphs are gone; their last counters are still readable.
    let rows = cluster.get();
    let total: u64 = rows.iter().filter(|r| r.name.starts_with("t_src-thr")).map(|r| r.objs).sum();
    assert_eq!(total, 3 * walks * n as u64);
    cluster.reset();
    assert!(cluster.get().iter().all(|r| r.calls == 0));
    assert!(matches!(ClusterStats::new(&["w_none_*"]), Err(GraphError::GraphPatternNoMatch { .. })));
}

#[test]
fn graph_creation_from_many_threads() {
    let n = if cfg!(miri) { 2 } else { 8 };
    let handles: Vec<_> = (0..n)
        .map(|t| {
            std::thread::spawn(move || {
                let sink = fan(&format!("mk-sink{t}"), &[]);
                let s = src(&format!("mk{t}"), &[&sink]);
                let mut g = Graph::create(&format!("w_mk_{t}"), &GraphParam::new([s.as_str()])).unwrap();
                setup_src(&mut g, &s, 1, 0, SrcMode::X1);
                g.walk();
                seen(&mut g, &sink).len()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 1);
    }
}

#[test]
#[should_panic(expected = "edge 3 does not exist")]
fn a_bad_edge_index_panics_with_the_node_name() {
    fn bad(ctx: &mut Ctx<'_>, _: &mut (), _objs: Objs<'_>) -> usize {
        ctx.enqueue_x1(3, Obj::NULL);
        0
    }
    node! {
        static T_BAD_EDGE = { name: "t_bad_edge", flags: NodeFlags::SOURCE, process: bad, next: &["t_fan"] };
    }
    let mut g = Graph::create("w_bad_edge", &GraphParam::new(["t_bad_edge"])).unwrap();
    g.walk();
}

mod histograms {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use graph_core::{node, ClusterStats, Ctx, Graph, GraphParam, NodeFlags, Obj, Objs};

    /// Makes 3 objects per walk.
    fn h_src(ctx: &mut Ctx<'_>, _: &mut (), _: Objs<'_>) -> usize {
        ctx.enqueue_x2(0, Obj::from_addr(1), Obj::from_addr(2));
        ctx.enqueue_x1(0, Obj::from_addr(3));
        3
    }

    /// Counts every object it gets as a drop reason, then returns them:
    /// in a whole row, counter == objs.
    fn h_sink(ctx: &mut Ctx<'_>, _: &mut (), objs: Objs<'_>) -> usize {
        ctx.count(0, objs.len() as u64);
        objs.len()
    }

    node! { static H_SRC = { name: "h_src", flags: NodeFlags::SOURCE, process: h_src, next: &["h_sink"] }; }
    node! { static H_SINK = { name: "h_sink", process: h_sink, counters: &["seen"], next: &[] }; }

    #[test]
    fn every_call_is_in_the_histogram() {
        let mut g = Graph::create("h_one", &GraphParam::new(["h_src"]).histograms(true)).unwrap();
        for _ in 0..100 {
            g.walk();
        }
        let s = g.node_stats("h_sink").unwrap();
        assert_eq!((s.calls, s.latency.count()), (100, 100));
        let (p50, p99, max) = (s.latency.quantile(0.5), s.latency.quantile(0.99), s.latency.max);
        assert!(p50 <= p99 && p99 <= max && max > 0, "{p50} {p99} {max}");
        assert_eq!(s.latency.count_le(u64::MAX), 100);
        // Off: the histogram stays where it was.
        g.set_histograms(false);
        g.walk();
        assert_eq!(g.node_stats("h_sink").unwrap().latency.count(), 100);
        let off = Graph::create("h_off", &GraphParam::new(["h_src"])).unwrap();
        assert_eq!(off.node_stats("h_sink").unwrap().latency.count(), 0);
    }

    /// A reader on another thread always sees whole rows: the counter the
    /// node bumps inside its call agrees with the objects and calls the
    /// walk adds after it, and the histogram with the calls.
    #[test]
    fn readers_see_whole_rows() {
        let mut g = Graph::create("h_rows", &GraphParam::new(["h_src"]).histograms(true)).unwrap();
        let mut cs = ClusterStats::for_graphs(&[&g]);
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut rows = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for s in cs.get().into_iter().filter(|s| s.name == "h_sink") {
                        assert_eq!(s.counters["seen"], s.objs, "counter and objs from different calls");
                        assert_eq!(s.objs, 3 * s.calls, "objs and calls from different calls");
                        assert_eq!(s.latency.count(), s.calls, "histogram and calls from different calls");
                        rows += 1;
                    }
                }
                rows
            })
        };
        let walks = if cfg!(miri) { 30 } else { 200_000 };
        for _ in 0..walks {
            g.walk();
        }
        stop.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    }
}

mod refresh {
    use graph_core::{node, ClusterStats, Ctx, Graph, GraphParam, NodeFlags, Obj, Objs};

    fn one(ctx: &mut Ctx<'_>, _: &mut (), _: Objs<'_>) -> usize {
        ctx.enqueue_x1(0, Obj::from_addr(1));
        1
    }
    fn eat(_: &mut Ctx<'_>, _: &mut (), objs: Objs<'_>) -> usize {
        objs.len()
    }
    node! { static RF_SRC = { name: "rf_src", flags: NodeFlags::SOURCE, process: one, next: &["rf_sink"] }; }
    node! { static RF_SINK = { name: "rf_sink", process: eat, next: &[] }; }

    /// Graphs that replace others are found by refresh, and one that came
    /// and went between two looks still counts when it kept its stats.
    #[test]
    fn a_cluster_follows_replaced_graphs() {
        let p = GraphParam::new(["rf_src"]).keep_stats(true);
        let mut g = Graph::create("rf_w", &p).unwrap();
        g.walk();
        let mut c = ClusterStats::new(&["rf_w"]).unwrap();
        c.add_pattern("rf_w.*").unwrap();
        let sink = |c: &mut ClusterStats| c.get().into_iter().find(|s| s.name == "rf_sink").unwrap().objs;
        assert_eq!(sink(&mut c), 1);
        // Replaced twice; the middle graph never seen alive.
        let mut g1 = Graph::create("rf_w.1", &p).unwrap();
        drop(g);
        g1.walk();
        g1.walk();
        drop(g1);
        let mut g2 = Graph::create("rf_w.2", &p).unwrap();
        g2.walk();
        assert_eq!(c.refresh(), 2);
        assert_eq!(sink(&mut c), 1 + 2 + 1);
        assert_eq!(c.refresh(), 0, "nothing counted twice");
        g2.walk();
        assert_eq!(sink(&mut c), 5);
        // Without keep_stats a graph that came and went is not found.
        let q = GraphParam::new(["rf_src"]);
        let mut h = Graph::create("rf_w.3", &q).unwrap();
        h.walk();
        drop(h);
        assert_eq!(c.refresh(), 0);
    }
}
