//! `enqueue_next_objs` with interleaved edges: every object reaches the
//! node of its edge exactly once, in order, whatever the pattern —
//! alternating, round robin over several edges, edges past 64 (clones
//! added with `node_edge_update`), long runs.

use std::sync::{Arc, Mutex};

use graph_core::{
    node, node_clone, node_edge_update, node_from_name, Ctx, Graph, GraphParam, InitError, NodeFlags, NodeInfo, Obj,
    Objs,
};

/// How the splitter picks the edge of token `v` (from the environment).
#[derive(Clone, Copy)]
pub struct Pattern(fn(usize) -> u16);

/// (sink index, token) as the sinks saw them.
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<(usize, usize)>>>);

/// Tokens per walk.
#[derive(Clone, Copy)]
pub struct PerWalk(usize);

const SINKS: usize = 70;

struct Src {
    per_walk: usize,
    seq: usize,
}

fn src_init(info: &NodeInfo<'_>) -> Result<Src, InitError> {
    Ok(Src { per_walk: info.env::<PerWalk>()?.0, seq: 0 })
}

fn src(ctx: &mut Ctx<'_>, s: &mut Src, _objs: Objs<'_>) -> usize {
    let objs: Vec<Obj> = (0..s.per_walk).map(|i| Obj::from_addr(s.seq + i + 1)).collect();
    s.seq += s.per_walk;
    ctx.enqueue(0, &objs);
    s.per_walk
}

fn split_init(info: &NodeInfo<'_>) -> Result<Pattern, InitError> {
    Ok(*info.env::<Pattern>()?)
}

fn split(ctx: &mut Ctx<'_>, p: &mut Pattern, objs: Objs<'_>) -> usize {
    let n = objs.len();
    let nexts: Vec<u16> = objs.iter().map(|o| (p.0)(o.addr())).collect();
    ctx.enqueue_next_objs(&nexts, objs);
    n
}

struct Sink {
    index: usize,
    seen: Seen,
}

fn sink_init(info: &NodeInfo<'_>) -> Result<Sink, InitError> {
    let index = info.clone_suffix().and_then(|s| s.parse().ok()).ok_or("sink clones are named sc_sink-<index>")?;
    Ok(Sink { index, seen: info.env::<Seen>()?.clone() })
}

fn sink(_ctx: &mut Ctx<'_>, s: &mut Sink, objs: Objs<'_>) -> usize {
    let n = objs.len();
    s.seen.0.lock().unwrap().extend(objs.iter().map(|o| (s.index, o.addr())));
    n
}

node! {
    static SC_SRC = {
        name: "sc_src",
        flags: NodeFlags::SOURCE,
        context: Src,
        init: src_init,
        process: src,
        next: &["sc_split"],
    };
}
node! {
    static SC_SPLIT = {
        name: "sc_split",
        context: Pattern,
        init: split_init,
        process: split,
        next: &[],
    };
}
// The same splitter with its two edges to one node.
node! {
    static SC_SRC_DUP = {
        name: "sc_src_dup",
        flags: NodeFlags::SOURCE,
        context: Src,
        init: src_init,
        process: src,
        next: &["sc_split_dup"],
    };
}
node! {
    static SC_SPLIT_DUP = {
        name: "sc_split_dup",
        context: Pattern,
        init: split_init,
        process: split,
        next: &["sc_sink-1", "sc_sink-1"],
    };
}
node! {
    static SC_SINK = {
        name: "sc_sink",
        context: Sink,
        init: sink_init,
        process: sink,
        next: &[],
    };
}

/// The splitter's edges: `sc_sink-0` .. `sc_sink-69`, once per process.
fn wire() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let sink = node_from_name("sc_sink").unwrap();
        let names: Vec<String> = (0..SINKS).map(|i| format!("sc_sink-{i}")).collect();
        for i in 0..SINKS {
            node_clone(sink, &i.to_string()).unwrap();
        }
        let split = node_from_name("sc_split").unwrap();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        node_edge_update(split, None, &names).unwrap();
    });
}

/// Runs `walks` walks of `per_walk` tokens through `pattern` and checks
/// that each sink got exactly its tokens, in order.
fn check(name: &str, pattern: fn(usize) -> u16, per_walk: usize, walks: usize) {
    check_from(name, "sc_src", pattern, usize::from, per_walk, walks);
}

/// [`check`] from source `src`, whose splitter's edge `e` leads to sink
/// `sink_of(e)`.
fn check_from(
    name: &str,
    src: &str,
    pattern: fn(usize) -> u16,
    sink_of: fn(u16) -> usize,
    per_walk: usize,
    walks: usize,
) {
    wire();
    let seen = Seen::default();
    let param = GraphParam::new([src]).with(Pattern(pattern)).with(PerWalk(per_walk)).with(seen.clone());
    let mut g = Graph::create(name, &param).unwrap();
    for _ in 0..walks {
        g.walk();
    }
    let seen = seen.0.lock().unwrap();
    let total = per_walk * walks;
    assert_eq!(seen.len(), total, "{name}: every token once");
    for s in 0..SINKS {
        let got: Vec<usize> = seen.iter().filter(|&&(i, _)| i == s).map(|&(_, v)| v).collect();
        let want: Vec<usize> = (1..=total).filter(|&v| sink_of(pattern(v)) == s).collect();
        assert_eq!(got, want, "{name}: sink {s}");
    }
}

#[test]
fn alternating_edges() {
    check("sc_alt", |v| (v % 2) as u16, 64, 3);
}

#[test]
fn two_edges_at_random() {
    check("sc_two_rand", |v| ((v * 0x9e37_79b9) >> 7 & 1) as u16 + 3, 256, 3);
    check("sc_two_skewed", |v| if (v * 0x9e37_79b9) >> 5 & 7 == 0 { 9 } else { 2 }, 200, 3);
}

#[test]
fn two_edges_to_one_node() {
    check_from("sc_dup", "sc_src_dup", |v| (v % 2) as u16, |_| 1, 64, 3);
}

#[test]
fn round_robin_over_more_than_four_edges() {
    check("sc_rr6", |v| (v % 6) as u16, 60, 3);
}

#[test]
fn edges_past_64_and_shuffled() {
    check("sc_far", |v| ((v * 37 + v / 3) % SINKS) as u16, 100, 3);
    check("sc_far_first", |v| if v % 3 == 0 { 1 } else { 66 + (v % 2) as u16 }, 48, 2);
}

#[test]
fn long_runs() {
    check("sc_runs", |v| ((v / 16) % 3) as u16, 96, 2);
}
