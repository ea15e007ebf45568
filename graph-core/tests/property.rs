//! Property test: random DAGs and random enqueue patterns. Every object a
//! source emits reaches a sink exactly once, and objects of one source that
//! take the same path arrive in the order they were emitted.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use graph_core::{
    node, node_clone, node_edge_shrink, node_edge_update, node_from_name, Ctx, Graph, GraphParam, NodeFlags, Obj, Objs,
};
use proptest::prelude::*;

thread_local! {
    static ARRIVALS: RefCell<Vec<(usize, Obj)>> = const { RefCell::new(Vec::new()) };
}

/// Deterministic routing: which edge node `node` sends `o` to.
fn route(node: usize, o: Obj, nb_edges: u16) -> u16 {
    let mut h =
        (o.addr() as u64 ^ (node as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    (h % nb_edges as u64) as u16
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    X1,
    X2,
    X4,
    Enqueue,
    EnqueueNext,
    StreamGetPut,
}

const MODES: [Mode; 6] = [Mode::X1, Mode::X2, Mode::X4, Mode::Enqueue, Mode::EnqueueNext, Mode::StreamGetPut];

#[derive(Default)]
struct Cfg {
    index: usize,
    modes: Vec<Mode>,
    calls: usize,
    // Source only.
    tag: usize,
    seq: usize,
    per_walk: Vec<usize>,
}

/// Sends `objs` to their routed edges using mode `m`.
fn forward(ctx: &mut Ctx<'_>, index: usize, m: Mode, objs: &[Obj]) {
    let ne = ctx.nb_edges();
    let r = |o: Obj| route(index, o, ne);
    match m {
        Mode::X1 => objs.iter().for_each(|&o| ctx.enqueue_x1(r(o), o)),
        Mode::X2 => {
            let mut it = objs.chunks_exact(2);
            for c in &mut it {
                if r(c[0]) == r(c[1]) {
                    ctx.enqueue_x2(r(c[0]), c[0], c[1]);
                } else {
                    ctx.enqueue_x1(r(c[0]), c[0]);
                    ctx.enqueue_x1(r(c[1]), c[1]);
                }
            }
            it.remainder().iter().for_each(|&o| ctx.enqueue_x1(r(o), o));
        }
        Mode::X4 => {
            let mut it = objs.chunks_exact(4);
            for c in &mut it {
                let e = r(c[0]);
                if c.iter().all(|&o| r(o) == e) {
                    ctx.enqueue_x4(e, c[0], c[1], c[2], c[3]);
                } else {
                    c.iter().for_each(|&o| ctx.enqueue_x1(r(o), o));
                }
            }
            it.remainder().iter().for_each(|&o| ctx.enqueue_x1(r(o), o));
        }
        Mode::Enqueue => {
            let mut start = 0;
            while start < objs.len() {
                let e = r(objs[start]);
                let mut end = start + 1;
                while end < objs.len() && r(objs[end]) == e {
                    end += 1;
                }
                ctx.enqueue(e, &objs[start..end]);
                start = end;
            }
        }
        Mode::EnqueueNext => {
            let nexts: Vec<u16> = objs.iter().map(|&o| r(o)).collect();
            ctx.enqueue_next(&nexts, objs);
        }
        Mode::StreamGetPut => {
            for e in 0..ne {
                let mine: Vec<Obj> = objs.iter().copied().filter(|&o| r(o) == e).collect();
                let slots = ctx.next_stream_get(e, mine.len());
                slots.copy_from_slice(&mine);
                ctx.next_stream_put(e, mine.len());
            }
        }
    }
}

fn p_src(ctx: &mut Ctx<'_>, c: &mut Cfg, _objs: Objs<'_>) -> usize {
    let n = c.per_walk[c.calls % c.per_walk.len()];
    let m = c.modes[c.calls % c.modes.len()];
    c.calls += 1;
    let objs: Vec<Obj> = (0..n).map(|i| Obj::from_addr(c.tag << 32 | (c.seq + i))).collect();
    c.seq += n;
    forward(ctx, c.index, m, &objs);
    n
}

fn p_work(ctx: &mut Ctx<'_>, c: &mut Cfg, objs: Objs<'_>) -> usize {
    let m = c.modes[c.calls % c.modes.len()];
    c.calls += 1;
    let n = objs.len();
    // With one edge, every other call hands the stream over (home run).
    if ctx.nb_edges() == 1 && c.calls.is_multiple_of(2) {
        return ctx.next_stream_move(0, objs);
    }
    forward(ctx, c.index, m, &objs);
    n
}

fn p_sink(_ctx: &mut Ctx<'_>, c: &mut Cfg, objs: Objs<'_>) -> usize {
    ARRIVALS.with(|a| a.borrow_mut().extend(objs.iter().map(|&o| (c.index, o))));
    objs.len()
}

node! { static P_SRC = { name: "p_src", flags: NodeFlags::SOURCE, context: Cfg, process: p_src, next: &[] }; }
node! { static P_WORK = { name: "p_work", context: Cfg, process: p_work, next: &[] }; }
node! { static P_SINK = { name: "p_sink", context: Cfg, process: p_sink, next: &[] }; }

/// A random DAG: node i's edges go to nodes > i only. Sources come first,
/// then workers, then sinks.
#[derive(Debug, Clone)]
struct Topo {
    nsrc: usize,
    nwork: usize,
    nsink: usize,
    edges: Vec<Vec<usize>>,
    modes: Vec<Vec<Mode>>,
    per_walk: Vec<Vec<usize>>,
    burst: u32,
    walks: usize,
}

fn topo() -> impl Strategy<Value = Topo> {
    (1usize..=3, 0usize..=5, 1usize..=3, any::<u64>(), 1u32..=3, 1usize..=4).prop_map(
        |(nsrc, nwork, nsink, seed, burst_pow, walks)| {
            let mut rng = seed;
            let mut next = |m: usize| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                (rng % m as u64) as usize
            };
            let n = nsrc + nwork + nsink;
            let mut edges = vec![Vec::new(); n];
            // Every non-source node gets a predecessor among earlier
            // sources/workers, so every node is reachable.
            for i in nsrc..n {
                let p = next(i.min(nsrc + nwork));
                if !edges[p].contains(&i) {
                    edges[p].push(i);
                }
            }
            // Every source and worker has at least one edge, plus extras.
            for (i, e) in edges.iter_mut().enumerate().take(nsrc + nwork) {
                let lo = (i + 1).max(nsrc);
                let extra = next(3);
                for _ in 0..extra + usize::from(e.is_empty()) {
                    let to = lo + next(n - lo);
                    if !e.contains(&to) {
                        e.push(to);
                    }
                }
            }
            let modes = (0..n).map(|_| (0..1 + next(4)).map(|_| MODES[next(MODES.len())]).collect()).collect();
            let per_walk = (0..nsrc).map(|_| (0..1 + next(3)).map(|_| next(40)).collect()).collect();
            Topo { nsrc, nwork, nsink, edges, modes, per_walk, burst: 1 << (burst_pow * 2), walks }
        },
    )
}

static CASE: AtomicUsize = AtomicUsize::new(0);

fn run(t: &Topo) -> Result<(), TestCaseError> {
    let case = CASE.fetch_add(1, Ordering::Relaxed);
    let n = t.nsrc + t.nwork + t.nsink;
    let names: Vec<String> = (0..n)
        .map(|i| {
            let base = if i < t.nsrc {
                "p_src"
            } else if i < t.nsrc + t.nwork {
                "p_work"
            } else {
                "p_sink"
            };
            let id = node_clone(node_from_name(base).unwrap(), &format!("{case}-{i}")).unwrap();
            node_edge_shrink(id, 0).unwrap();
            format!("{base}-{case}-{i}")
        })
        .collect();
    for (i, e) in t.edges.iter().enumerate() {
        let to: Vec<&str> = e.iter().map(|&j| names[j].as_str()).collect();
        node_edge_update(node_from_name(&names[i]).unwrap(), None, &to).unwrap();
    }
    let srcs: Vec<&str> = names[..t.nsrc].iter().map(|s| s.as_str()).collect();
    let mut g = Graph::create(&format!("prop-{case}"), &GraphParam::new(srcs).burst_size(t.burst))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for (i, name) in names.iter().enumerate() {
        let c = g.node_context_mut::<Cfg>(name).unwrap();
        c.index = i;
        c.modes = t.modes[i].clone();
        c.tag = i + 1;
        if i < t.nsrc {
            c.per_walk = t.per_walk[i].clone();
        }
    }
    ARRIVALS.with(|a| a.borrow_mut().clear());
    for _ in 0..t.walks {
        g.walk();
    }
    let arrivals = ARRIVALS.with(|a| std::mem::take(&mut *a.borrow_mut()));

    // Exactly once.
    let mut emitted = Vec::new();
    for (i, name) in names.iter().enumerate().take(t.nsrc) {
        let c = g.node_context_mut::<Cfg>(name).unwrap();
        emitted.extend((0..c.seq).map(|s| (i + 1) << 32 | s));
    }
    let mut got: Vec<usize> = arrivals.iter().map(|(_, o)| o.addr()).collect();
    got.sort_unstable();
    emitted.sort_unstable();
    prop_assert_eq!(&got, &emitted);

    // Order per (source, path): replay the routing to find each path.
    let path = |o: Obj| {
        let mut p = vec![(o.addr() >> 32) - 1];
        let mut at = p[0];
        while !t.edges[at].is_empty() {
            at = t.edges[at][route(at, o, t.edges[at].len() as u16) as usize];
            p.push(at);
        }
        p
    };
    let mut last: std::collections::HashMap<Vec<usize>, usize> = Default::default();
    for (sink, o) in &arrivals {
        let p = path(*o);
        prop_assert_eq!(*p.last().unwrap(), *sink);
        let seq = o.addr() & 0xffff_ffff;
        if let Some(prev) = last.insert(p.clone(), seq) {
            prop_assert!(prev < seq, "object {seq} overtook {prev} on path {p:?}");
        }
    }
    // Stats agree: every sink's objs is what arrived there.
    for (i, name) in names.iter().enumerate().skip(t.nsrc + t.nwork) {
        let st = g.node_stats(name).unwrap();
        prop_assert_eq!(st.objs as usize, arrivals.iter().filter(|(s, _)| *s == i).count());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 4 } else { 256 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]
    #[test]
    fn every_object_reaches_a_sink_once_in_order(t in topo()) {
        run(&t)?;
    }
}
