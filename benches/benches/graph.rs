//! Criterion benches of the graph runtime: walk cost per DPDK topology; the
//! enqueue variants; home run vs copy; stream doubling.
//!
//! `cargo bench -p benches --bench graph`

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use benches::{build, topologies};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use graph_core::{node, node_clone, node_from_name, Ctx, Graph, GraphParam, NodeFlags, Obj, Objs};

const N: usize = 256;

/// How `cb_src` hands its 256 objects to `cb_sink`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Enq {
    #[default]
    X1,
    X4,
    Bulk,
    /// enqueue_next over two edges, alternating in runs of 8.
    Next,
    StreamGetPut,
}

#[derive(Default)]
struct SrcCtx {
    mode: Enq,
    objs: Vec<Obj>,
    nexts: Vec<u16>,
}

fn cb_src(ctx: &mut Ctx<'_>, c: &mut SrcCtx, _objs: Objs<'_>) -> usize {
    let objs = &c.objs;
    match c.mode {
        Enq::X1 => objs.iter().for_each(|&o| ctx.enqueue_x1(0, o)),
        Enq::X4 => objs.chunks_exact(4).for_each(|o| ctx.enqueue_x4(0, o[0], o[1], o[2], o[3])),
        Enq::Bulk => ctx.enqueue(0, objs),
        Enq::Next => ctx.enqueue_next(&c.nexts, objs),
        Enq::StreamGetPut => {
            ctx.next_stream_get(0, N).copy_from_slice(objs);
            ctx.next_stream_put(0, N);
        }
    }
    N
}

#[derive(Default)]
struct MoverCtx {
    copy: bool,
}

fn cb_mover(ctx: &mut Ctx<'_>, c: &mut MoverCtx, objs: Objs<'_>) -> usize {
    if c.copy {
        ctx.enqueue(0, &objs);
        objs.len()
    } else {
        ctx.next_stream_move(0, objs)
    }
}

fn cb_sink(_: &mut Ctx<'_>, _: &mut (), objs: Objs<'_>) -> usize {
    black_box(objs.len())
}

node! { static CB_SRC = { name: "cb_src", flags: NodeFlags::SOURCE, context: SrcCtx, process: cb_src, next: &["cb_sink", "cb_sink2"] }; }
node! { static CB_MOVER = { name: "cb_mover", context: MoverCtx, process: cb_mover, next: &["cb_sink"] }; }
node! { static CB_SINK = { name: "cb_sink", process: cb_sink, next: &[] }; }
node! { static CB_SINK2 = { name: "cb_sink2", process: cb_sink, next: &[] }; }

static SEQ: AtomicUsize = AtomicUsize::new(0);

fn enq_graph(mode: Enq, first_edge_to_mover: bool, burst: u32) -> Graph {
    let i = SEQ.fetch_add(1, Ordering::Relaxed);
    let src = node_clone(node_from_name("cb_src").unwrap(), &i.to_string()).unwrap();
    if first_edge_to_mover {
        graph_core::node_edge_update(src, Some(0), &["cb_mover"]).unwrap();
    }
    let name = format!("cb_src-{i}");
    let mut g = Graph::create(&format!("cb-{i}"), &GraphParam::new([name.as_str()]).burst_size(burst)).unwrap();
    let c = g.node_context_mut::<SrcCtx>(&name).unwrap();
    c.mode = mode;
    c.objs = (0..N).map(|k| Obj::from_addr(k + 1)).collect();
    c.nexts = (0..N).map(|k| ((k / 8) % 2) as u16).collect();
    g
}

fn walks(c: &mut Criterion) {
    let mut group = c.benchmark_group("walk");
    for t in topologies() {
        let mut b = build(&t, true).unwrap();
        for _ in 0..64 {
            b.graph.walk();
        }
        let objs: u64 = b.graph.stats().iter().filter(|s| b.sinks.contains(&s.name)).map(|s| s.objs).sum();
        group.throughput(Throughput::Elements(objs / 64));
        group.bench_function(t.name, |bench| bench.iter(|| b.graph.walk()));
    }
    group.finish();
}

fn enqueue(c: &mut Criterion) {
    let mut group = c.benchmark_group("enqueue");
    group.throughput(Throughput::Elements(N as u64));
    for (name, mode) in [
        ("x1", Enq::X1),
        ("x4", Enq::X4),
        ("enqueue_256", Enq::Bulk),
        ("enqueue_next_runs_of_8", Enq::Next),
        ("stream_get_put", Enq::StreamGetPut),
    ] {
        let mut g = enq_graph(mode, false, 256);
        group.bench_function(name, |b| b.iter(|| g.walk()));
    }
    group.finish();
}

fn home_run(c: &mut Criterion) {
    let mut group = c.benchmark_group("home_run");
    group.throughput(Throughput::Elements(N as u64));
    for (name, copy) in [("move_swaps", false), ("enqueue_copies", true)] {
        let mut g = enq_graph(Enq::Bulk, true, 256);
        g.node_context_mut::<MoverCtx>("cb_mover").unwrap().copy = copy;
        group.bench_function(name, |b| b.iter(|| g.walk()));
    }
    group.finish();
}

fn doubling(c: &mut Criterion) {
    let mut group = c.benchmark_group("stream_doubling");
    group.throughput(Throughput::Elements(N as u64));
    for (name, burst) in [("first_walk_grows_16_to_256", 16), ("first_walk_fits_256", 256)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || enq_graph(Enq::X1, false, burst),
                |mut g| {
                    g.walk();
                    g
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, walks, enqueue, home_run, doubling);
criterion_main!(benches);
