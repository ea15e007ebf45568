//! Two registrations with one name: a clear error from every control-plane
//! call, never a silent pick of one of them. (Its own test binary, since the
//! registry of this binary is unusable by design.)

use graph_core::{node, node_from_name, node_list, Ctx, Graph, GraphError, GraphParam, NodeFlags, Objs};

fn nop(_: &mut Ctx<'_>, _: &mut (), objs: Objs<'_>) -> usize {
    objs.len()
}

node! {
    static FIRST = { name: "dup_node", flags: NodeFlags::SOURCE, process: nop, next: &[] };
}
node! {
    static SECOND = { name: "dup_node", process: nop, next: &[] };
}

#[test]
fn duplicate_names_are_refused_loudly() {
    let err = node_from_name("dup_node").unwrap_err();
    assert_eq!(err, GraphError::DuplicateNode { name: "dup_node".into() });
    assert!(err.to_string().contains("\"dup_node\" is registered twice"));
    assert!(matches!(node_list(), Err(GraphError::DuplicateNode { .. })));
    let err = Graph::create("g", &GraphParam::new(["dup_node"])).unwrap_err();
    assert!(matches!(err, GraphError::DuplicateNode { .. }));
    assert_eq!(FIRST.name, SECOND.name);
}
