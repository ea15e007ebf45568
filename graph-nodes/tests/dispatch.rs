//! `pkt::dispatch`, the body of the routing nodes, on streams longer than
//! one classification chunk (a node fed by two sources sees 512): a stream
//! that all goes one way is one home run whatever its length; a mixed one
//! reaches each edge once per object, in order.
//!
//! The handles here are tags, never dereferenced: `dispatch` only moves
//! them, and the classifier below reads the edge from the tag.

use graph_core::{node, Ctx, Graph, GraphParam, NodeFlags, Obj, Objs};
use graph_nodes::pkt::{self, CHUNK};
use proptest::prelude::*;

/// Emits one stream per walk: object `i` is tagged `i << 4 | edges[i]`.
#[derive(Default)]
struct DSrc {
    edges: Vec<u16>,
    /// Address of the array each walk filled (the classifier's stream).
    arrays: Vec<usize>,
}

fn d_src(ctx: &mut Ctx<'_>, s: &mut DSrc, _objs: Objs<'_>) -> usize {
    let n = s.edges.len();
    let slots = ctx.next_stream_get(0, n);
    for (i, (slot, &e)) in slots.iter_mut().zip(&s.edges).enumerate() {
        *slot = Obj::from_addr(i << 4 | usize::from(e));
    }
    s.arrays.push(slots.as_ptr() as usize);
    ctx.next_stream_put(0, n);
    n
}

fn d_cls(ctx: &mut Ctx<'_>, _: &mut (), objs: Objs<'_>) -> usize {
    pkt::dispatch(ctx, objs, |objs, nexts| {
        for (o, e) in objs.iter().zip(nexts.iter_mut()) {
            *e = (o.addr() & 0xf) as u16;
        }
    })
}

/// What a sink received, and in which arrays.
#[derive(Default)]
struct DSink {
    seen: Vec<Obj>,
    arrays: Vec<usize>,
}

fn d_sink(_: &mut Ctx<'_>, s: &mut DSink, objs: Objs<'_>) -> usize {
    s.seen.extend_from_slice(&objs);
    s.arrays.push(objs.as_ptr() as usize);
    objs.len()
}

node! {
    static D_SRC = { name: "dsp_src", flags: NodeFlags::SOURCE, context: DSrc, process: d_src, next: &["dsp_cls"] };
}
node! {
    static D_CLS = { name: "dsp_cls", process: d_cls, next: &["dsp_a", "dsp_b", "dsp_c"] };
}
node! {
    static D_A = { name: "dsp_a", context: DSink, process: d_sink, next: &[] };
}
node! {
    static D_B = { name: "dsp_b", context: DSink, process: d_sink, next: &[] };
}
node! {
    static D_C = { name: "dsp_c", context: DSink, process: d_sink, next: &[] };
}

const SINKS: [&str; 3] = ["dsp_a", "dsp_b", "dsp_c"];

/// Walks one stream of `edges` through a fresh graph; returns what each
/// sink saw, the classifier's array, and each sink's arrays.
fn run(name: &str, edges: &[u16]) -> ([Vec<Obj>; 3], usize, [Vec<usize>; 3]) {
    let mut g = Graph::create(name, &GraphParam::new(["dsp_src"])).unwrap();
    g.node_context_mut::<DSrc>("dsp_src").unwrap().edges = edges.to_vec();
    g.walk();
    let cls_array = g.node_context_mut::<DSrc>("dsp_src").unwrap().arrays[0];
    let mut seen: [Vec<Obj>; 3] = Default::default();
    let mut arrays: [Vec<usize>; 3] = Default::default();
    for (k, s) in SINKS.iter().enumerate() {
        let c = g.node_context_mut::<DSink>(s).unwrap();
        seen[k] = std::mem::take(&mut c.seen);
        arrays[k] = std::mem::take(&mut c.arrays);
    }
    (seen, cls_array, arrays)
}

fn expected(edges: &[u16]) -> [Vec<Obj>; 3] {
    let mut want: [Vec<Obj>; 3] = Default::default();
    for (i, &e) in edges.iter().enumerate() {
        want[usize::from(e)].push(Obj::from_addr(i << 4 | usize::from(e)));
    }
    want
}

#[test]
fn a_long_stream_going_one_way_is_one_home_run() {
    for (i, n) in [CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 7, 3 * CHUNK].into_iter().enumerate() {
        let edges = vec![1u16; n];
        let (seen, cls_array, arrays) = run(&format!("dsp_hr{i}"), &edges);
        assert_eq!(seen, expected(&edges), "n = {n}");
        // The very array the classifier was handed is the one the sink
        // received: swapped, not copied.
        assert_eq!(arrays[1], vec![cls_array], "n = {n}");
    }
}

#[test]
fn long_streams_split_at_and_across_chunk_boundaries() {
    let n = 2 * CHUNK + 10;
    let cases: Vec<(&str, Vec<u16>)> = vec![
        // Uniform first chunk, then another edge: the held prefix is sent.
        ("tail", (0..n).map(|i| u16::from(i >= CHUNK)).collect()),
        // Two uniform chunks to one edge, then a mixed one.
        ("mixed_last", (0..n).map(|i| if i < 2 * CHUNK { 2 } else { (i % 3) as u16 }).collect()),
        // Mixed from the start.
        ("mixed_first", (0..n).map(|i| (i % 2) as u16).collect()),
        // Uniform chunks, each to a different edge.
        ("per_chunk", (0..n).map(|i| (i / CHUNK) as u16).collect()),
        // One odd object at the very end.
        ("last_one", (0..n).map(|i| if i == n - 1 { 0 } else { 1 }).collect()),
    ];
    for (tag, edges) in cases {
        let (seen, _, _) = run(&format!("dsp_split_{tag}"), &edges);
        assert_eq!(seen, expected(&edges), "{tag}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 64 }, ..ProptestConfig::default() })]

    /// Any stream, of any length up to three chunks, made of runs: every
    /// object reaches its edge exactly once and in order.
    #[test]
    fn every_object_reaches_its_edge_once_in_order(
        runs in prop::collection::vec((0u16..3, 1usize..300), 1..8),
        id in any::<u64>(),
    ) {
        let edges: Vec<u16> = runs.iter().flat_map(|&(e, k)| std::iter::repeat_n(e, k)).take(3 * CHUNK).collect();
        let (seen, _, _) = run(&format!("dsp_prop{id}"), &edges);
        prop_assert_eq!(seen, expected(&edges));
    }
}
