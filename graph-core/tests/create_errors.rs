//! Every graph-creation refusal, each its own error variant naming the
//! culprit.

mod common;

use graph_core::{
    graph_from_name, graph_id_to_name, graph_list, node_clone, node_edge_update, node_from_name, Graph, GraphError,
    GraphParam,
};

fn clone_fan(suffix: &str, edges: &[&str]) -> String {
    let id = node_clone(node_from_name("t_fan").unwrap(), suffix).unwrap();
    node_edge_update(id, Some(0), edges).unwrap();
    format!("t_fan-{suffix}")
}

fn clone_src(suffix: &str, edges: &[&str]) -> String {
    let id = node_clone(node_from_name("t_src").unwrap(), suffix).unwrap();
    graph_core::node_edge_shrink(id, 0).unwrap();
    node_edge_update(id, Some(0), edges).unwrap();
    format!("t_src-{suffix}")
}

#[test]
fn pattern_matching_nothing() {
    let err = Graph::create("e_pat", &GraphParam::new(["t_src", "nomatch*"])).unwrap_err();
    assert_eq!(err, GraphError::PatternNoMatch { pattern: "nomatch*".into(), hint: String::new() });
    assert!(err.to_string().contains("nomatch*"));
    let err = Graph::create("e_pat2", &GraphParam::new(["[oops"])).unwrap_err();
    assert!(matches!(err, GraphError::BadPattern { .. }), "{err}");
}

/// A graph asking for a clone nobody made says which node to clone, and
/// how (setup order cannot fail silently).
#[test]
fn a_missing_clone_names_its_parent_and_the_call() {
    let err = Graph::create("e_clone", &GraphParam::new(["t_src-7-3"])).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("\"t_src\" is registered") && msg.contains("node_clone(\"t_src\", \"7-3\")"), "{msg}");
    let err = Graph::create("e_clone2", &GraphParam::new(["t_src-"])).unwrap_err();
    assert!(!err.to_string().contains("node_clone"), "{err}");
}

#[test]
fn edge_to_unregistered_node() {
    let s = clone_src("unk", &["no_such_node"]);
    let err = Graph::create("e_unk", &GraphParam::new([s.as_str()])).unwrap_err();
    assert_eq!(err, GraphError::EdgeToUnknown { node: s.clone(), edge: "no_such_node".into() });
    assert!(err.to_string().contains("no_such_node"));
}

#[test]
fn edge_into_a_source() {
    let a = clone_src("into_a", &[]);
    let f = clone_fan("into", &[&a]);
    let b = clone_src("into_b", &[&f]);
    let err = Graph::create("e_into", &GraphParam::new([b.as_str()])).unwrap_err();
    assert_eq!(err, GraphError::EdgeToSource { node: f, edge: a });
}

#[test]
fn self_loop() {
    let f = clone_fan("self", &["t_fan-self"]);
    let s = clone_src("self", &[&f]);
    let err = Graph::create("e_self", &GraphParam::new([s.as_str()])).unwrap_err();
    assert_eq!(err, GraphError::SelfLoop { node: f });
}

#[test]
fn no_source() {
    let f = clone_fan("nosrc", &[]);
    let err = Graph::create("e_nosrc", &GraphParam::new([f.as_str()])).unwrap_err();
    assert_eq!(err, GraphError::NoSource { graph: "e_nosrc".into() });
}

#[test]
fn unreachable_node() {
    let lonely = clone_fan("lonely", &[]);
    let s = clone_src("reach", &["t_fan"]);
    let err = Graph::create("e_reach", &GraphParam::new([s.as_str(), lonely.as_str()])).unwrap_err();
    assert_eq!(err, GraphError::Unreachable { node: lonely });
}

#[test]
fn names_and_params() {
    let s = clone_src("names", &["t_fan"]);
    let p = GraphParam::new([s.as_str()]);
    assert!(matches!(Graph::create("", &p), Err(GraphError::InvalidGraphName { .. })));
    assert!(matches!(Graph::create(&"g".repeat(64), &p), Err(GraphError::InvalidGraphName { .. })));
    let bad = p.clone().burst_size(0);
    assert!(matches!(Graph::create("e_burst", &bad), Err(GraphError::BadParam { .. })));

    let g = Graph::create("e_names", &p).unwrap();
    assert_eq!(g.name(), "e_names");
    assert_eq!(graph_from_name("e_names"), Some(g.id()));
    assert_eq!(graph_id_to_name(g.id()).as_deref(), Some("e_names"));
    assert!(graph_list().iter().any(|(_, n)| n == "e_names"));
    // Duplicate graph names are refused while the first lives...
    let err = Graph::create("e_names", &p).unwrap_err();
    assert_eq!(err, GraphError::DuplicateGraph { name: "e_names".into() });
    // ...and free again once it is destroyed.
    let old = g.id();
    drop(g);
    assert_eq!(graph_from_name("e_names"), None);
    let g2 = Graph::create("e_names", &p).unwrap();
    assert_ne!(g2.id(), old);
}

#[test]
fn next_nodes_are_pulled_in_transitively() {
    let c = clone_fan("tc", &[]);
    let b = clone_fan("tb", &[&c]);
    let a = clone_fan("ta", &[&b]);
    let s = clone_src("trans", &[&a]);
    let g = Graph::create("e_trans", &GraphParam::new([s.as_str()])).unwrap();
    assert_eq!(g.node_names(), vec![s.as_str(), a.as_str(), b.as_str(), c.as_str()]);
    assert_eq!(g.source_names(), vec![s.as_str()]);
}

#[test]
fn glob_selects_several_nodes() {
    let f = clone_fan("glob", &[]);
    let s1 = clone_src("glob-1", &[&f]);
    let s2 = clone_src("glob-2", &[&f]);
    let g = Graph::create("e_glob", &GraphParam::new(["t_src-glob-*"])).unwrap();
    assert_eq!(g.source_names(), vec![s1.as_str(), s2.as_str()]);
    assert_eq!(g.node_count(), 3);
}

/// Creations on several threads at once: each graph is found by name as
/// soon as `create` returns, and a name being created elsewhere is taken.
#[test]
fn concurrent_creations_register_every_graph() {
    let s = clone_src("concurrent", &["t_fan"]);
    let (threads, per) = if cfg!(miri) { (2, 3) } else { (4, 200) };
    std::thread::scope(|sc| {
        for t in 0..threads {
            let s = s.clone();
            sc.spawn(move || {
                let p = GraphParam::new([s.as_str()]);
                for i in 0..per {
                    let name = format!("conc-{t}-{i}");
                    let g = Graph::create(&name, &p).unwrap();
                    assert_eq!(graph_from_name(&name), Some(g.id()), "{name} registered");
                    // Everyone races for one shared name too: at most one
                    // holds it at a time.
                    if let Ok(shared) = Graph::create("conc-shared", &p) {
                        assert_eq!(graph_from_name("conc-shared"), Some(shared.id()));
                    }
                }
            });
        }
    });
}
