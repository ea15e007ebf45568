//! Graph building from arbitrary node, edge and pattern specifications:
//! an error or a working graph, never undefined behaviour (this target runs
//! under the fuzzer's address sanitizer). A graph that builds is walked and
//! must deliver every object its sources emit to some sink exactly once.
#![no_main]

use std::cell::Cell;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use graph_core::{node, node_clone, node_edge_shrink, node_edge_update, node_from_name, Ctx, Graph, GraphParam, NodeFlags, Obj, Objs};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static EMITTED: Cell<u64> = const { Cell::new(0) };
    static SUNK: Cell<u64> = const { Cell::new(0) };
}

fn src(ctx: &mut Ctx<'_>, _: &mut (), _objs: Objs<'_>) -> usize {
    let ne = ctx.nb_edges();
    if ne == 0 {
        return 0;
    }
    for i in 0..3usize {
        ctx.enqueue_x1((i % ne as usize) as u16, Obj::from_addr(i + 1));
    }
    EMITTED.with(|e| e.set(e.get() + 3));
    3
}

fn work(ctx: &mut Ctx<'_>, _: &mut (), objs: Objs<'_>) -> usize {
    let ne = ctx.nb_edges();
    let n = objs.len();
    if ne == 0 {
        SUNK.with(|s| s.set(s.get() + n as u64));
        return n;
    }
    if ne == 1 {
        return ctx.next_stream_move(0, objs);
    }
    for &o in objs.iter() {
        ctx.enqueue_x1((o.addr() % ne as usize) as u16, o);
    }
    n
}

node! { static FZ_SRC = { name: "fz_src", flags: NodeFlags::SOURCE, process: src, next: &[] }; }
node! { static FZ_NODE = { name: "fz_node", process: work, next: &[] }; }

const SRCS: usize = 3;
const NODES: usize = 6;

fn names() -> &'static Vec<String> {
    static N: OnceLock<Vec<String>> = OnceLock::new();
    N.get_or_init(|| {
        let s = node_from_name("fz_src").unwrap();
        let w = node_from_name("fz_node").unwrap();
        let mut v = Vec::new();
        for i in 0..SRCS {
            node_clone(s, &i.to_string()).unwrap();
            v.push(format!("fz_src-{i}"));
        }
        for i in 0..NODES {
            node_clone(w, &i.to_string()).unwrap();
            v.push(format!("fz_node-{i}"));
        }
        v
    })
}

#[derive(Debug, Arbitrary)]
struct Spec {
    /// Per node: edges as indices into the name list (plus a few bogus names).
    edges: [Vec<u8>; SRCS + NODES],
    patterns: Vec<u8>,
    burst: u8,
    walks: u8,
}

const BOGUS: &[&str] = &["no_such_node", "fz_*", "fz_src"];
const PATTERNS: &[&str] = &["fz_src-*", "fz_src-0", "fz_src-1", "fz_node-*", "fz_*", "nomatch*", "[oops", "fz_node-2", "*"];

fn cyclic(nodes: &[&str], edges: &std::collections::HashMap<String, Vec<String>>) -> bool {
    fn visit<'a>(
        n: &'a str,
        edges: &'a std::collections::HashMap<String, Vec<String>>,
        state: &mut std::collections::HashMap<&'a str, u8>,
    ) -> bool {
        match state.get(n) {
            Some(1) => return true,
            Some(2) => return false,
            _ => {}
        }
        state.insert(n, 1);
        for m in edges.get(n).into_iter().flatten() {
            if visit(m, edges, state) {
                return true;
            }
        }
        state.insert(n, 2);
        false
    }
    let mut state = std::collections::HashMap::new();
    nodes.iter().any(|n| visit(n, edges, &mut state))
}

fuzz_target!(|spec: Spec| {
    let names = names();
    for (i, e) in spec.edges.iter().enumerate() {
        let id = node_from_name(&names[i]).unwrap();
        node_edge_shrink(id, 0).unwrap();
        let to: Vec<&str> = e
            .iter()
            .take(5)
            .map(|&b| {
                let k = b as usize % (names.len() + BOGUS.len());
                if k < names.len() { names[k].as_str() } else { BOGUS[k - names.len()] }
            })
            .collect();
        node_edge_update(id, None, &to).unwrap();
    }
    let pats: Vec<&str> = spec.patterns.iter().take(4).map(|&b| PATTERNS[b as usize % PATTERNS.len()]).collect();
    // Edges by node name, to tell a cyclic graph (legal, as in rte_graph,
    // but a walk of it never ends) from a DAG.
    let edges: std::collections::HashMap<String, Vec<String>> = names
        .iter()
        .map(|n| (n.clone(), graph_core::node_edge_get(node_from_name(n).unwrap()).unwrap()))
        .collect();
    let param = GraphParam::new(pats).burst_size(u32::from(spec.burst % 64) + 1);
    if let Ok(mut g) = Graph::create("fuzz", &param) {
        if cyclic(&g.node_names(), &edges) {
            return;
        }
        EMITTED.with(|e| e.set(0));
        SUNK.with(|s| s.set(0));
        for _ in 0..spec.walks % 8 {
            g.walk();
        }
        // A graph that builds is a DAG from its sources: every object
        // emitted reaches a node without edges within the walk.
        assert_eq!(EMITTED.with(Cell::get), SUNK.with(Cell::get));
        let _ = g.to_dot();
        let _ = g.dump();
    }
});
