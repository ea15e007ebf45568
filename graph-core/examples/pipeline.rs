//! A small pipeline on graph-core alone: two sources, a classifier that
//! splits objects by parity with a home run when a burst goes one way, and
//! two sinks. Walks for a second and prints DPDK's stats table and the
//! graph in DOT.
//!
//! `cargo run --release -p graph-core --example pipeline [-- SECONDS]`

use std::time::{Duration, Instant};

use graph_core::{
    format_table, node, node_clone, node_from_name, ClusterStats, Ctx, Graph, GraphParam, NodeFlags, Obj, Objs,
};

const BURST: usize = 256;

/// Emits a burst of tagged objects per walk; all-even or mixed bursts
/// alternate so the classifier sees both cases.
fn source(ctx: &mut Ctx<'_>, seq: &mut usize, _objs: Objs<'_>) -> usize {
    let step = if (*seq / BURST).is_multiple_of(2) { 2 } else { 1 };
    let slots = ctx.next_stream_get(0, BURST);
    for s in slots.iter_mut() {
        *s = Obj::from_addr(*seq * step);
        *seq += 1;
    }
    ctx.next_stream_put(0, BURST);
    BURST
}

const EVEN: u16 = 0;
const ODD: u16 = 1;

fn classify(ctx: &mut Ctx<'_>, _: &mut (), objs: Objs<'_>) -> usize {
    let n = objs.len();
    if objs.iter().all(|o| o.addr().is_multiple_of(2)) {
        return ctx.next_stream_move(EVEN, objs);
    }
    for &o in objs.iter() {
        ctx.enqueue_x1(if o.addr().is_multiple_of(2) { EVEN } else { ODD }, o);
    }
    ctx.count(0, 1);
    n
}

fn sink(_: &mut Ctx<'_>, _: &mut (), objs: Objs<'_>) -> usize {
    objs.len()
}

node! {
    static EX_SOURCE = {
        name: "ex_source",
        flags: NodeFlags::SOURCE,
        context: usize,
        process: source,
        next: &["ex_classify"],
    };
}
node! {
    static EX_CLASSIFY = {
        name: "ex_classify",
        process: classify,
        counters: &["mixed_bursts"],
        next: &["ex_even", "ex_odd"],
    };
}
node! { static EX_EVEN = { name: "ex_even", process: sink, next: &[] }; }
node! { static EX_ODD = { name: "ex_odd", process: sink, next: &[] }; }

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: f64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1.0);
    let src = node_from_name("ex_source")?;
    node_clone(src, "0")?;
    node_clone(src, "1")?;
    let mut g = Graph::create("worker_0", &GraphParam::new(["ex_source-*"]))?;
    let mut stats = ClusterStats::new(&["worker_*"])?;
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        for _ in 0..1024 {
            g.walk();
        }
    }
    println!("{}", format_table(&stats.get()));
    println!("{}", g.to_dot());
    Ok(())
}
