//! Per-graph configuration: typed values the creator of a graph hands to
//! its nodes (VPP's per-node `runtime_data`, DPDK's `rte_graph_param`
//! extended with types).
//!
//! A node's `init` asks for what it needs by type ([`NodeInfo::env`]); a
//! missing value is an init error naming the type, the node and the graph,
//! so setup order cannot silently matter. Two graphs in one process can be
//! given different values of the same type (two FIBs, two port tables).
//!
//! [`NodeInfo::env`]: crate::NodeInfo::env

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A set of values keyed by their type; cloning shares the values.
#[derive(Clone, Default)]
pub struct Env {
    values: HashMap<TypeId, Entry>,
}

#[derive(Clone)]
struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    type_name: &'static str,
}

impl Env {
    /// An empty environment.
    pub fn new() -> Env {
        Env::default()
    }

    /// Adds `value` (replacing any earlier value of its type).
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) -> &mut Env {
        self.values.insert(TypeId::of::<T>(), Entry { value: Arc::new(value), type_name: std::any::type_name::<T>() });
        self
    }

    /// [`insert`](Self::insert), by value.
    pub fn with<T: Any + Send + Sync>(mut self, value: T) -> Env {
        self.insert(value);
        self
    }

    /// The value of type `T`, if one was given.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.values.get(&TypeId::of::<T>()).and_then(|e| e.value.downcast_ref())
    }

    /// Names of the types present, sorted (for error messages).
    pub fn type_names(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.values.values().map(|e| e.type_name).collect();
        v.sort_unstable();
        v
    }

    /// Whether no value was given.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.type_names()).finish()
    }
}

/// A node asked its graph's environment for a type it was not given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "node \"{node}\" needs a {type_name} in graph \"{graph}\"'s environment; add one with GraphParam::with \
     (the environment has: {present})"
)]
pub struct MissingEnv {
    /// The graph.
    pub graph: String,
    /// The node asking.
    pub node: String,
    /// The type it asked for.
    pub type_name: &'static str,
    /// What the environment holds, comma-separated, or "nothing".
    pub present: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values() {
        #[derive(Debug, PartialEq)]
        struct Fib(u32);
        let env = Env::new().with(Fib(7)).with(5u16);
        assert_eq!(env.get::<Fib>(), Some(&Fib(7)));
        assert_eq!(env.get::<u16>(), Some(&5));
        assert_eq!(env.get::<u32>(), None);
        let env2 = env.clone().with(Fib(8));
        assert_eq!(env.get::<Fib>(), Some(&Fib(7)));
        assert_eq!(env2.get::<Fib>(), Some(&Fib(8)));
        assert_eq!(env.type_names().len(), 2);
    }
}
