//! A feature registration with a cycle breaks the registry: every call
//! reports it, naming the features.

use graph_core::{feature, feature_arc, node, node_from_name, Ctx, FeatureArcs, Graph, GraphParam, NodeFlags, Objs};

fn nop(_: &mut Ctx<'_>, _: &mut (), o: Objs<'_>) -> usize {
    o.len()
}

node! { static CY_SRC = { name: "cy_src", flags: NodeFlags::SOURCE, process: nop, next: &["cy_end"] }; }
node! { static CY_END = { name: "cy_end", process: nop, next: &[] }; }
node! { static CY_X = { name: "cy_x", process: nop, next: &[] }; }
node! { static CY_Y = { name: "cy_y", process: nop, next: &[] }; }
feature_arc! { static CY = { name: "cy", start: "cy_src", end: "cy_end" }; }
feature! { static FX = { arc: "cy", node: "cy_x", runs_before: &["cy_y"] }; }
feature! { static FY = { arc: "cy", node: "cy_y", runs_before: &["cy_x"] }; }

#[test]
fn every_call_reports_the_cycle() {
    for e in [
        node_from_name("cy_src").unwrap_err().to_string(),
        Graph::create("cy_g", &GraphParam::new(["cy_src"])).unwrap_err().to_string(),
        FeatureArcs::new().unwrap_err().to_string(),
    ] {
        assert!(e.contains("of arc \"cy\" are ordered in a cycle"), "{e}");
        assert!(e.contains("\"cy_x\"") && e.contains("\"cy_y\""), "{e}");
    }
}
