//! Graph creation checks (`rte_graph_create`'s first half): expand the node
//! patterns, pull in next nodes transitively, resolve edges and refuse bad
//! topologies. Produces the node list that [`mem`](crate::mem) lays out.

use std::collections::{HashMap, VecDeque};

use crate::error::{GraphError, Result};
use crate::registry::{NodeEntry, Registry};

/// A node chosen for a graph, with its edges resolved to list indices.
pub(crate) struct Selected {
    pub entry: NodeEntry,
    pub edges: Vec<usize>,
}

/// For a pattern that names a clone not made yet (`ethdev_rx-0-0` with
/// `ethdev_rx` registered): what to call first.
fn clone_hint(all: &[NodeEntry], pattern: &str) -> String {
    if pattern.contains(['*', '?', '[']) {
        return String::new();
    }
    let parent = all
        .iter()
        .filter(|e| e.parent.is_none())
        .filter(|e| pattern.strip_prefix(e.name.as_str()).is_some_and(|rest| rest.len() > 1 && rest.starts_with('-')))
        .max_by_key(|e| e.name.len());
    match parent {
        Some(p) => format!(
            "; \"{}\" is registered: make the clone first with node_clone(\"{}\", \"{}\") (for ports, eth_config does)",
            p.name,
            p.name,
            &pattern[p.name.len() + 1..]
        ),
        None => String::new(),
    }
}

/// Selects and checks the nodes of graph `graph` from `patterns`.
///
/// Order: nodes matching the patterns in pattern order (registry order
/// within a pattern), then the next nodes they pull in, breadth first. This
/// is the order of the node blocks in memory and of the source list.
pub(crate) fn select(reg: &Registry, graph: &str, patterns: &[String], fed: bool) -> Result<Vec<Selected>> {
    let all = reg.nodes()?;
    let mut list: Vec<NodeEntry> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut add = |e: &NodeEntry, list: &mut Vec<NodeEntry>| {
        if !index.contains_key(&e.name) {
            index.insert(e.name.clone(), list.len());
            list.push(e.clone());
        }
    };

    for pat in patterns {
        let glob = glob::Pattern::new(pat)
            .map_err(|e| GraphError::BadPattern { pattern: pat.clone(), reason: e.msg.to_string() })?;
        let mut found = false;
        for e in all.iter().filter(|e| glob.matches(&e.name)) {
            add(e, &mut list);
            found = true;
        }
        if !found {
            return Err(GraphError::PatternNoMatch { pattern: pat.clone(), hint: clone_hint(all, pat) });
        }
    }

    // Pull in next nodes transitively; the list grows while we scan it.
    let mut i = 0;
    while i < list.len() {
        let node = list[i].clone();
        for next in &node.next {
            let Some(e) = reg.by_name(next) else {
                return Err(GraphError::EdgeToUnknown { node: node.name.clone(), edge: next.clone() });
            };
            add(e, &mut list);
        }
        i += 1;
    }

    let pos: HashMap<&str, usize> = list.iter().enumerate().map(|(i, e)| (e.name.as_str(), i)).collect();
    let mut selected: Vec<Selected> = Vec::with_capacity(list.len());
    for e in &list {
        let edges = e.next.iter().map(|n| pos[n.as_str()]).collect();
        selected.push(Selected { entry: e.clone(), edges });
    }

    if !fed && !selected.iter().any(|s| s.entry.is_source()) {
        return Err(GraphError::NoSource { graph: graph.to_string() });
    }
    for (i, s) in selected.iter().enumerate() {
        for &to in &s.edges {
            if selected[to].entry.is_source() {
                return Err(GraphError::EdgeToSource {
                    node: s.entry.name.clone(),
                    edge: selected[to].entry.name.clone(),
                });
            }
            if to == i {
                return Err(GraphError::SelfLoop { node: s.entry.name.clone() });
            }
            let (from_v, to_v) = (&s.entry.reg.vtable, &selected[to].entry.reg.vtable);
            if (from_v.obj_type)() != (to_v.obj_type)() {
                return Err(GraphError::ObjectTypeMismatch {
                    node: s.entry.name.clone(),
                    node_type: (from_v.obj_type_name)(),
                    edge: selected[to].entry.name.clone(),
                    edge_type: (to_v.obj_type_name)(),
                });
            }
        }
    }

    // Breadth-first from every source: a node nothing reaches would never run.
    let mut seen = vec![false; selected.len()];
    let mut queue: VecDeque<usize> = (0..selected.len()).filter(|&i| selected[i].entry.is_source()).collect();
    for &s in &queue {
        seen[s] = true;
    }
    while let Some(i) = queue.pop_front() {
        for &to in &selected[i].edges {
            if !seen[to] {
                seen[to] = true;
                queue.push_back(to);
            }
        }
    }
    // A graph fed by a dispatch set gets objects for any of its nodes.
    if let Some(i) = seen.iter().position(|s| !s).filter(|_| !fed) {
        return Err(GraphError::Unreachable { node: selected[i].entry.name.clone() });
    }
    Ok(selected)
}
