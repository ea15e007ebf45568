//! Packet trace: marking at a node with a filter and a shared budget,
//! each marked object's path with edges, formatter output and drop
//! reasons, marking at a source, and stopping.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use graph_core::{node, Ctx, Graph, GraphParam, NodeFlags, Obj, Objs, TraceRecord, TraceStep};

fn tr_src(ctx: &mut Ctx<'_>, seq: &mut usize, _: Objs<'_>) -> usize {
    for _ in 0..8 {
        *seq += 1;
        ctx.enqueue_x1(0, Obj::from_addr(*seq));
    }
    8
}

/// Odd values to `tr_out`, even ones dropped to `tr_bin` (counted).
fn tr_mid(ctx: &mut Ctx<'_>, _: &mut (), objs: Objs<'_>) -> usize {
    let n = objs.len();
    let mut even = 0;
    for o in objs.into_iter() {
        if o.addr() % 2 == 0 {
            even += 1;
            ctx.enqueue_x1(1, o);
        } else {
            ctx.enqueue_x1(0, o);
        }
    }
    ctx.count(0, even);
    n
}

fn sink(_: &mut Ctx<'_>, _: &mut (), objs: Objs<'_>) -> usize {
    objs.len()
}

fn show(o: &Obj) -> String {
    format!("v={}", o.addr())
}

node! { static TR_SRC = { name: "tr_src", flags: NodeFlags::SOURCE, context: usize, process: tr_src, trace: show, next: &["tr_mid"] }; }
node! { static TR_MID = { name: "tr_mid", process: tr_mid, counters: &["even"], trace: show, next: &["tr_out", "tr_bin"] }; }
node! { static TR_OUT = { name: "tr_out", process: sink, next: &[] }; }
node! { static TR_BIN = { name: "tr_bin", process: sink, next: &[] }; }

fn step(node: &str, edge: Option<&str>, info: Option<String>, drops: &[(&str, u64)]) -> TraceStep {
    TraceStep {
        node: node.into(),
        edge: edge.map(Into::into),
        info,
        drops: drops.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
    }
}

#[test]
fn marked_objects_paths_with_edges_info_and_drop_reasons() {
    let mut g = Graph::create("tr_g", &GraphParam::new(["tr_src"])).unwrap();
    g.walk(); // objects 1..=8, untraced
    let got: Arc<Mutex<Vec<TraceRecord>>> = Arc::default();
    let budget = Arc::new(AtomicUsize::new(3));
    let sink = got.clone();
    // Values not divisible by 3, at tr_mid: 10, 11, 13 of the second walk.
    g.trace_start::<Obj, _, _>(
        "tr_mid",
        budget.clone(),
        |o| o.addr() % 3 != 0 && o.addr() > 9,
        move |r| sink.lock().unwrap().push(r),
    )
    .unwrap();
    g.walk();
    g.walk();
    let recs = got.lock().unwrap().clone();
    assert_eq!(recs.len(), 3);
    assert_eq!(budget.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(
        recs[0].steps,
        [step("tr_mid", Some("tr_bin"), Some("v=10".into()), &[("even", 4)]), step("tr_bin", None, None, &[]),]
    );
    assert_eq!(
        recs[1].steps,
        [step("tr_mid", Some("tr_out"), Some("v=11".into()), &[("even", 4)]), step("tr_out", None, None, &[])]
    );
    assert_eq!(recs[2].steps[0].info.as_deref(), Some("v=13"));
    // Untraced objects went through as usual: 24 made, 12 dropped.
    assert_eq!(g.node_stats("tr_mid").unwrap().counters["even"], 12);
    assert_eq!(g.node_stats("tr_out").unwrap().objs, 12);
    // The spent trace ended by itself; a live one is stopped.
    assert!(!g.trace_stop());
    g.trace_start::<Obj, _, _>("tr_mid", Arc::new(AtomicUsize::new(5)), |_| false, |_| {}).unwrap();
    g.walk();
    assert!(g.trace_stop());
}

#[test]
fn a_source_marks_what_it_makes() {
    let mut g = Graph::create("tr_src_g", &GraphParam::new(["tr_src"])).unwrap();
    let got: Arc<Mutex<Vec<TraceRecord>>> = Arc::default();
    let sink = got.clone();
    g.trace_start::<Obj, _, _>(
        "tr_src",
        Arc::new(AtomicUsize::new(2)),
        |_| true,
        move |r| sink.lock().unwrap().push(r),
    )
    .unwrap();
    g.walk();
    let recs = got.lock().unwrap().clone();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].steps.len(), 3);
    assert_eq!(recs[0].steps[0], step("tr_src", Some("tr_mid"), Some("v=1".into()), &[]));
    assert_eq!(recs[0].steps[1].edge.as_deref(), Some("tr_out"));
    assert_eq!(recs[1].steps[1], step("tr_mid", Some("tr_bin"), Some("v=2".into()), &[("even", 4)]));
    // A filter of the wrong type is refused.
    let e = g.trace_start::<Tok, _, _>("tr_mid", Arc::new(AtomicUsize::new(1)), |_| true, |_| {}).unwrap_err();
    assert!(e.to_string().contains("tr_mid"), "{e}");
}

/// A typed object, to check that a trace filter must match the node's type.
#[repr(transparent)]
struct Tok(#[allow(dead_code)] Obj);
// SAFETY: `repr(transparent)` over `Obj`, no drop glue, `Send`.
unsafe impl graph_core::Object for Tok {}

#[test]
fn traced_walks_keep_the_histograms() {
    let mut g = Graph::create("tr_hist", &GraphParam::new(["tr_src"]).histograms(true)).unwrap();
    g.trace_start::<Obj, _, _>("tr_mid", Arc::new(AtomicUsize::new(1000)), |_| true, |_| {}).unwrap();
    for _ in 0..5 {
        g.walk();
    }
    let s = g.node_stats("tr_mid").unwrap();
    assert_eq!((s.calls, s.latency.count()), (5, 5));
}
