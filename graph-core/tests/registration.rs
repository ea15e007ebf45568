//! Registration from a crate other than graph-core, and the node control
//! plane (`rte_node_*`).

mod common;

use graph_core::{
    node_clone, node_edge_count, node_edge_get, node_edge_shrink, node_edge_update, node_from_name, node_id_to_name,
    node_list, node_max_count, GraphError,
};

#[test]
fn nodes_declared_here_are_registered() {
    let src = node_from_name("t_src").unwrap();
    let fan = node_from_name("t_fan").unwrap();
    assert_ne!(src, fan);
    assert_eq!(node_id_to_name(src).unwrap(), "t_src");
    let list = node_list().unwrap();
    let s = list.iter().find(|n| n.name == "t_src").unwrap();
    assert!(s.source);
    assert_eq!(s.edges, vec!["t_fan".to_string()]);
    assert!(s.context_size > 0);
    assert!(!list.iter().find(|n| n.name == "t_fan").unwrap().source);
    assert!(node_max_count().unwrap() >= 2);
    assert!(matches!(node_from_name("nope"), Err(GraphError::NoSuchNode { .. })));
}

#[test]
fn clone_takes_parent_name_edges_and_flags() {
    let src = node_from_name("t_src").unwrap();
    let c = node_clone(src, "0-0").unwrap();
    assert_eq!(node_id_to_name(c).unwrap(), "t_src-0-0");
    assert_eq!(node_from_name("t_src-0-0").unwrap(), c);
    assert_eq!(node_edge_get(c).unwrap(), vec!["t_fan".to_string()]);
    let info = node_list().unwrap().into_iter().find(|n| n.id == c).unwrap();
    assert_eq!(info.parent.as_deref(), Some("t_src"));
    assert!(info.source);
    // Cloning a clone is refused, as in DPDK.
    let err = node_clone(c, "x").unwrap_err();
    assert!(matches!(err, GraphError::CloneOfClone { .. }), "{err}");
    assert!(err.to_string().contains("t_src-0-0"));
    // Same name twice is refused.
    assert!(matches!(node_clone(src, "0-0"), Err(GraphError::DuplicateNode { .. })));
    assert!(matches!(node_clone(src, ""), Err(GraphError::InvalidNodeName { .. })));
    let long = "x".repeat(70);
    assert!(matches!(node_clone(src, &long), Err(GraphError::InvalidNodeName { .. })));
}

#[test]
fn edge_update_append_replace_shrink() {
    let fan = node_from_name("t_fan").unwrap();
    let c = node_clone(fan, "edges").unwrap();
    assert_eq!(node_edge_count(c).unwrap(), 0);
    // Append (RTE_EDGE_ID_INVALID).
    assert_eq!(node_edge_update(c, None, &["a", "b"]).unwrap(), 2);
    assert_eq!(node_edge_update(c, None, &["c"]).unwrap(), 1);
    assert_eq!(node_edge_get(c).unwrap(), ["a", "b", "c"]);
    // Replace from index 1, growing past the end.
    assert_eq!(node_edge_update(c, Some(1), &["x", "y", "z"]).unwrap(), 3);
    assert_eq!(node_edge_get(c).unwrap(), ["a", "x", "y", "z"]);
    // Replace in the middle keeps the tail.
    node_edge_update(c, Some(0), &["first"]).unwrap();
    assert_eq!(node_edge_get(c).unwrap(), ["first", "x", "y", "z"]);
    // No holes.
    let err = node_edge_update(c, Some(9), &["h"]).unwrap_err();
    assert!(matches!(err, GraphError::EdgeHole { from: 9, nb_edges: 4, .. }), "{err}");
    // Shrink.
    assert_eq!(node_edge_shrink(c, 2).unwrap(), 2);
    assert_eq!(node_edge_get(c).unwrap(), ["first", "x"]);
    assert!(matches!(node_edge_shrink(c, 3), Err(GraphError::EdgeShrink { .. })));
    assert_eq!(node_edge_count(c).unwrap(), 2);
    // The parent is untouched.
    assert_eq!(node_edge_count(fan).unwrap(), 0);
    assert!(matches!(node_edge_count(graph_core::NodeId(999_999)), Err(GraphError::NoSuchNodeId { .. })));
}

#[test]
fn registry_is_safe_from_many_threads() {
    let fan = node_from_name("t_fan").unwrap();
    let n = if cfg!(miri) { 2 } else { 8 };
    let handles: Vec<_> = (0..n)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..if cfg!(miri) { 3 } else { 50 } {
                    let id = node_clone(fan, &format!("thr{t}-{i}")).unwrap();
                    node_edge_update(id, None, &["t_fan"]).unwrap();
                    assert_eq!(node_id_to_name(id).unwrap(), format!("t_fan-thr{t}-{i}"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
