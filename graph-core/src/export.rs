//! Graphviz export (`rte_graph_export`) and a human-readable dump
//! (`rte_graph_dump`).

use std::fmt::Write;

use crate::graph::Graph;

fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

impl Graph {
    /// The graph in Graphviz DOT: one vertex per node, source nodes filled
    /// blue, one arc per edge labelled with its index.
    pub fn to_dot(&self) -> String {
        let g = self.shared();
        let mut s = String::new();
        let _ = writeln!(s, "digraph {} {{", quote(&g.name));
        let _ = writeln!(s, "  rankdir=LR;");
        for n in &g.nodes {
            if n.source {
                let _ = writeln!(s, "  {} [shape=box, style=filled, fillcolor=lightblue, color=blue];", quote(&n.name));
            } else {
                let _ = writeln!(s, "  {};", quote(&n.name));
            }
        }
        for n in &g.nodes {
            for (i, &to) in n.edges.iter().enumerate() {
                let color = if n.source { ", color=blue" } else { "" };
                let _ = writeln!(s, "  {} -> {} [label=\"{}\"{}];", quote(&n.name), quote(&g.nodes[to].name), i, color);
            }
        }
        s.push_str("}\n");
        s
    }

    /// A text dump of the graph memory: header, source list and every node
    /// with its offset, stream state and edges.
    pub fn dump(&self) -> String {
        let g = self.shared();
        let hdr = g.mem.hdr();
        // SAFETY: `&self` on the owning thread (`Graph` is `!Sync`): no walk
        // runs; plain reads of header fields.
        let (head, tail, mask, nb_nodes) = unsafe { ((*hdr).head, (*hdr).tail, (*hdr).cir_mask, (*hdr).nb_nodes) };
        let mut s = String::new();
        let _ = writeln!(s, "graph <{}> id {}", g.name, g.id);
        let _ = writeln!(
            s,
            "  nb_nodes={nb_nodes} head={head} tail={tail} cir_mask={mask:#x} stats={}",
            self.stats_enabled()
        );
        let _ = writeln!(s, "  sources: {}", self.source_names().join(", "));
        for (i, n) in g.nodes.iter().enumerate() {
            // SAFETY: as above.
            let (idx, size) = unsafe { g.mem.stream_state(i) };
            let raw = g.mem.read_stats(i);
            let _ = writeln!(
                s,
                "  node[{i}] <{}> id={} off={:#x}{}{} size={size} idx={idx} calls={} objs={} realloc_count={}",
                n.name,
                n.id,
                g.mem.offs()[i],
                if n.source { " source" } else { "" },
                n.parent.as_deref().map(|p| format!(" parent=<{p}>")).unwrap_or_default(),
                raw.calls,
                raw.objs,
                raw.realloc_count,
            );
            for (e, &to) in n.edges.iter().enumerate() {
                let _ = writeln!(s, "    edge[{e}] -> <{}>", g.nodes[to].name);
            }
        }
        s
    }
}
