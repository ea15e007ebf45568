//! Control-plane errors. The data plane never returns errors: a node that
//! cannot handle an object sends it down an edge and counts it.

use thiserror::Error;

/// Everything the control plane can refuse, one variant per check, each
/// naming the node, edge, pattern or graph at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[allow(missing_docs)] // the fields are named after what they hold
pub enum GraphError {
    /// Two registrations (static or clone) carry the same name.
    #[error("node \"{name}\" is registered twice")]
    DuplicateNode { name: String },
    /// A name that is empty, too long or has a character we reserve.
    #[error("invalid node name \"{name}\": {reason}")]
    InvalidNodeName { name: String, reason: &'static str },
    /// No node has this id.
    #[error("no node with id {id}")]
    NoSuchNodeId { id: u32 },
    /// No node has this name.
    #[error("no node named \"{name}\"")]
    NoSuchNode { name: String },
    /// `rte_node_clone` refuses to clone a clone.
    #[error("node \"{name}\" is itself a clone (of \"{parent}\") and cannot be cloned")]
    CloneOfClone { name: String, parent: String },
    /// An edge update would leave a hole in the edge list.
    #[error("node \"{node}\": edge update from {from} would leave a hole (it has {nb_edges} edges)")]
    EdgeHole { node: String, from: u16, nb_edges: u16 },
    /// A shrink asked for more edges than the node has.
    #[error("node \"{node}\": cannot shrink {nb_edges} edges to {size}")]
    EdgeShrink { node: String, nb_edges: u16, size: u16 },
    /// Too many edges for one node.
    #[error("node \"{node}\": {count} edges exceed the maximum of {max}")]
    TooManyEdges { node: String, count: usize, max: usize },
    /// A node-name pattern of a graph matched no registered node.
    #[error("pattern \"{pattern}\" matches no registered node{hint}")]
    PatternNoMatch { pattern: String, hint: String },
    /// A pattern is not a valid glob.
    #[error("pattern \"{pattern}\" is not a valid glob: {reason}")]
    BadPattern { pattern: String, reason: String },
    /// An edge names a node that is not registered.
    #[error("node \"{node}\" has an edge to \"{edge}\", which is not registered")]
    EdgeToUnknown { node: String, edge: String },
    /// An edge leads into a source node.
    #[error("node \"{node}\" has an edge to \"{edge}\", which is a source node")]
    EdgeToSource { node: String, edge: String },
    /// An edge joins nodes whose streams carry different object types.
    #[error("node \"{node}\" (objects of type {node_type}) has an edge to \"{edge}\", whose objects are of type {edge_type}")]
    ObjectTypeMismatch { node: String, node_type: &'static str, edge: String, edge_type: &'static str },
    /// A tap's object type is not the node's.
    #[error("node \"{node}\" carries objects of type {node_type}; a tap of {tap_type} cannot see them")]
    TapTypeMismatch { node: String, node_type: &'static str, tap_type: &'static str },
    /// A node has an edge to itself.
    #[error("node \"{node}\" has an edge to itself")]
    SelfLoop { node: String },
    /// The graph has no source node.
    #[error("graph \"{graph}\" has no source node")]
    NoSource { graph: String },
    /// A non-source node that no source reaches.
    #[error("node \"{node}\" cannot be reached from any source node")]
    Unreachable { node: String },
    /// A graph of this name exists.
    #[error("a graph named \"{name}\" already exists")]
    DuplicateGraph { name: String },
    /// A graph name that is empty or too long.
    #[error("invalid graph name \"{name}\": {reason}")]
    InvalidGraphName { name: String, reason: &'static str },
    /// A graph parameter is out of range.
    #[error("graph \"{graph}\": {what}")]
    BadParam { graph: String, what: String },
    /// A node's init callback failed.
    #[error("node \"{node}\" init failed in graph \"{graph}\": {reason}")]
    NodeInit { graph: String, node: String, reason: String },
    /// A dispatch set or a graph's place in one is wrong.
    #[error("{0}")]
    Dispatch(String),
    /// A feature arc or feature registration, or a use of one, is wrong.
    #[error("{0}")]
    FeatureArc(String),
    /// A graph-name pattern of cluster stats matched no graph.
    #[error("pattern \"{pattern}\" matches no graph")]
    GraphPatternNoMatch { pattern: String },
}

/// Result of control-plane calls.
pub type Result<T, E = GraphError> = core::result::Result<T, E>;
