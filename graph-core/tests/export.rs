//! DOT export parses and describes the graph; the dump names every node.

mod common;

use graph_core::{node_clone, node_edge_shrink, node_edge_update, node_from_name, Graph, GraphParam};

#[test]
fn dot_parses_and_has_every_edge() {
    let b = node_clone(node_from_name("t_fan").unwrap(), "dot-b").unwrap();
    let a = node_clone(node_from_name("t_fan").unwrap(), "dot a.1").unwrap();
    node_edge_update(a, None, &["t_fan-dot-b"]).unwrap();
    let s = node_clone(node_from_name("t_src").unwrap(), "dot").unwrap();
    node_edge_shrink(s, 0).unwrap();
    node_edge_update(s, None, &["t_fan-dot a.1", "t_fan-dot-b"]).unwrap();
    let _ = b;
    let g = Graph::create("x_dot", &GraphParam::new(["t_src-dot"])).unwrap();
    let dot = g.to_dot();
    let ast = dot_parser::ast::Graph::try_from(dot.as_str()).unwrap_or_else(|e| panic!("{e}\n{dot}"));
    let canon = dot_parser::canonical::Graph::from(ast);
    let edges: Vec<(String, String)> = canon
        .edges
        .set
        .iter()
        .map(|e| (e.from.trim_matches('"').to_string(), e.to.trim_matches('"').to_string()))
        .collect();
    assert_eq!(edges.len(), 3, "{dot}");
    assert!(edges.contains(&("t_src-dot".into(), "t_fan-dot-b".into())), "{edges:?}");
    assert!(edges.contains(&("t_fan-dot a.1".into(), "t_fan-dot-b".into())), "{edges:?}");
    assert!(dot.contains("\"t_src-dot\" [shape=box, style=filled, fillcolor=lightblue, color=blue]"));

    let dump = g.dump();
    for n in g.node_names() {
        assert!(dump.contains(&format!("<{n}>")), "{dump}");
    }
    assert!(dump.contains("head=-1"), "{dump}");
}
