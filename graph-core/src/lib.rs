//! # graph-core: DPDK's graph library, natively in Rust
//!
//! A packet pipeline is a directed graph of *nodes*; each node processes a
//! *burst* of objects (packet pointers) at a time and passes them on along
//! its *edges*. This crate is the runtime that moves the bursts: it is a
//! reimplementation of DPDK's `rte_graph` (itself distilled from FD.io VPP)
//! in its run-to-completion model. It never touches packets: objects are
//! pointer-sized opaque handles ([`Obj`]).
//!
//! ## A burst's path
//!
//! 1. Nodes are declared with [`node!`] and registered at link time.
//! 2. [`Graph::create`] selects nodes by glob patterns, pulls in their next
//!    nodes, checks the topology and lays the graph out in one allocation
//!    (see [`mem`] for the diagram).
//! 3. [`Graph::walk`] runs every source node; a source fills the streams of
//!    its next nodes with [`Ctx::next_stream_get`]/[`Ctx::next_stream_put`]
//!    or [`Ctx::enqueue`]. A node that receives its first object is appended
//!    to the circular pending list, which the walk drains from head to tail.
//! 4. A node whose whole burst goes one way hands it over with
//!    [`Ctx::next_stream_move`]: if the next node's stream is empty, the two
//!    arrays are swapped, nothing is copied (the *home run*).
//! 5. Statistics (calls, objects, cycles, stream reallocations and named
//!    counters) are read from any thread with [`Graph::stats`] or
//!    [`ClusterStats`], and printed as DPDK's table with `format_table`
//!    (feature `table`).
//!
//! ## Declaring a node
//!
//! ```
//! use graph_core::{node, Ctx, Objs, Graph, GraphParam, NodeFlags, Obj};
//!
//! // A source producing 4 objects per walk.
//! fn gen(ctx: &mut Ctx<'_>, next_id: &mut usize, _objs: Objs<'_>) -> usize {
//!     let slots = ctx.next_stream_get(0, 4);
//!     for s in slots.iter_mut() {
//!         *s = Obj::from_addr(*next_id);
//!         *next_id += 1;
//!     }
//!     ctx.next_stream_put(0, 4);
//!     4
//! }
//!
//! // A sink counting what it gets.
//! fn count(_ctx: &mut Ctx<'_>, total: &mut u64, objs: Objs<'_>) -> usize {
//!     *total += objs.len() as u64;
//!     objs.len()
//! }
//!
//! node! {
//!     static DOC_GEN = {
//!         name: "doc_gen",
//!         flags: NodeFlags::SOURCE,
//!         context: usize,
//!         process: gen,
//!         next: &["doc_count"],
//!     };
//! }
//! node! {
//!     static DOC_COUNT = {
//!         name: "doc_count",
//!         context: u64,
//!         process: count,
//!         next: &[],
//!     };
//! }
//!
//! let mut g = Graph::create("doc", &GraphParam::new(["doc_gen"])).unwrap();
//! for _ in 0..10 {
//!     g.walk();
//! }
//! assert_eq!(*g.node_context_mut::<u64>("doc_count").unwrap(), 40);
//! ```
//!
//! ## Safety
//!
//! Node code needs no `unsafe`. A node declares the type of object its
//! stream carries ([`Object`]; the opaque [`Obj`] by default), a graph
//! refuses edges between types, and objects move through [`Ctx`] and
//! [`Objs`] by value, so a typed handle (a packet) can be neither forged
//! nor duplicated by safe code. Unsafe code lives in [`mem`] (layout and
//! allocation), `fastpath` (walk and enqueue) and the few calls listed in
//! `docs/architecture.md`, each block with the invariant it relies on; the
//! test suite runs under Miri.
//!
//! Configuration reaches nodes through the graph: [`GraphParam::with`]
//! adds a typed value to the graph's [`Env`], which every node's `init`
//! reads with [`NodeInfo::env`].

#![warn(missing_docs)]

mod builder;
pub mod clock;
pub mod dispatch;
mod env;
mod error;
mod export;
mod fastpath;
pub mod feature;
mod graph;
pub mod mem;
mod obj;
mod registry;
mod stats;
pub mod trace;

pub use dispatch::{Dispatch, DispatchStats};
pub use env::{Env, MissingEnv};
pub use error::{GraphError, Result};
pub use fastpath::{Ctx, Invocation, Objs, ObjsIntoIter, ProcessFn, Tap};
pub use feature::{
    feature_arc_list, ArcHook, ArcState, ArcStatus, ArcSummary, FeatureArcs, FeatureChange, FeatureStatus,
};
pub use graph::{
    graph_from_name, graph_id_to_name, graph_list, Graph, GraphId, GraphParam, BURST_SIZE, GRAPH_NAME_MAX,
};
pub use obj::{Obj, Object, Opaque};
pub use registry::{
    node_clone, node_edge_count, node_edge_get, node_edge_shrink, node_edge_update, node_from_name, node_id_to_name,
    node_list, node_max_count, InitError, NodeFlags, NodeId, NodeImpl, NodeInfo, NodeRegistration, NodeSummary,
    MAX_EDGES, NODE_NAME_MAX,
};
#[cfg(feature = "table")]
pub use stats::format_table;
pub use stats::{ClusterNodeStats, ClusterStats, CycleHistogram, NodeStats};
pub use trace::{TraceRecord, TraceStep};

#[doc(hidden)]
pub mod __private {
    #[cfg(miri)]
    pub use crate::feature::{miri_register_arc, miri_register_feature};
    #[cfg(not(miri))]
    pub use crate::feature::{ARC_REGISTRY, FEATURE_REGISTRY};
    #[cfg(miri)]
    pub use crate::registry::miri_register;
    #[cfg(not(miri))]
    pub use crate::registry::NODE_REGISTRY;
    pub use linkme;
}

/// A static in link-time registry `$slice` (a `linkme` distributed
/// slice); under Miri, which cannot read those, pushed by `$miri` from an
/// `.init_array` constructor instead. Used by [`node!`], [`feature_arc!`]
/// and [`feature!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __register {
    ($slice:ident, $miri:ident, $(#[$meta:meta])* $vis:vis static $ident:ident: $ty:ty = $value:expr;) => {
        $(#[$meta])*
        #[cfg_attr(not(miri), $crate::__private::linkme::distributed_slice($crate::__private::$slice))]
        #[cfg_attr(not(miri), linkme(crate = $crate::__private::linkme))]
        $vis static $ident: $ty = $value;
        #[cfg(miri)]
        const _: () = {
            #[used]
            #[unsafe(link_section = ".init_array")]
            static __GRAPH_CORE_REGISTER: extern "C" fn() = {
                extern "C" fn __register() {
                    $crate::__private::$miri(&$ident);
                }
                __register
            };
        };
    };
}

/// Declares and registers a node.
///
/// ```text
/// node! {
///     /// docs
///     pub static IDENT = {
///         name: "node_name",
///         flags: NodeFlags::SOURCE,        // optional
///         context: MyCtx,                  // optional, default ()
///         object: MyObj,                   // optional, default Obj
///         init: my_init,                   // optional, default MyCtx::default()
///         fini: my_fini,                   // optional
///         process: my_process,
///         counters: &["reason_a", "reason_b"], // optional: drop reasons
///         observations: &["seen_a"],        // optional: plain counters
///         trace: my_trace,                 // optional: fn(&MyObj) -> String
///         next: &["next_a", "next_b"],
///     };
/// }
/// ```
///
/// Keys come in this order. `next` and `counters` are
/// `&'static [&'static str]` expressions: a literal list, or the `NAMES` of
/// an enum made with [`names!`]. The functions have these types (`T` the
/// context):
/// - `process: fn(&mut Ctx<'_, O>, &mut T, Objs<'_, O>) -> usize`, returning
///   the number of objects handled (`O` the object type, see [`Object`]);
/// - `init: fn(&NodeInfo<'_>) -> Result<T, E>` with `E: Into<InitError>`,
///   run once per graph holding the node (clones included);
/// - `fini: fn(&NodeInfo<'_>, &mut T)`, run when that graph is destroyed.
///
/// `IDENT` is a [`NodeRegistration`]; the node is registered at link time
/// from any crate, with nothing else to call.
#[macro_export]
macro_rules! node {
    (
        $(#[$meta:meta])*
        $vis:vis static $ident:ident = {
            name: $name:expr,
            $(flags: $flags:expr,)?
            $(context: $ctx:ty,)?
            $(object: $obj:ty,)?
            $(init: $init:expr,)?
            $(fini: $fini:expr,)?
            process: $process:expr,
            $(counters: $counters:expr,)?
            $(observations: $observations:expr,)?
            $(trace: $trace:expr,)?
            next: $next:expr $(,)?
        } $(;)?
    ) => {
        $crate::__register! {
            NODE_REGISTRY, miri_register,
            $(#[$meta])*
            $vis static $ident: $crate::NodeRegistration = {
            struct __Node;
            impl $crate::NodeImpl for __Node {
                type Context = $crate::node!(@ctx $($ctx)?);
                type Object = $crate::node!(@obj $($obj)?);
                #[inline(always)]
                fn process(
                    ctx: &mut $crate::Ctx<'_, Self::Object>,
                    state: &mut Self::Context,
                    objs: $crate::Objs<'_, Self::Object>,
                ) -> usize {
                    ($process)(ctx, state, objs)
                }
                fn init(
                    _info: &$crate::NodeInfo<'_>,
                ) -> ::core::result::Result<Self::Context, $crate::InitError> {
                    $crate::node!(@init _info $($init)?)
                }
                fn fini(_info: &$crate::NodeInfo<'_>, _state: &mut Self::Context) {
                    $( ($fini)(_info, _state); )?
                }
                $(
                    fn trace(obj: &Self::Object) -> ::core::option::Option<::std::string::String> {
                        ::core::option::Option::Some(($trace)(obj))
                    }
                )?
            }
            $crate::NodeRegistration::new::<__Node>(
                $name,
                $crate::node!(@flags $($flags)?),
                $next,
                $crate::node!(@counters $($counters)?),
            )
            .with_observations($crate::node!(@counters $($observations)?))
            };
        }
    };
    (@ctx) => { () };
    (@obj) => { $crate::Obj };
    (@obj $obj:ty) => { $obj };
    (@ctx $ctx:ty) => { $ctx };
    (@init $info:ident) => { ::core::result::Result::Ok(::core::default::Default::default()) };
    (@init $info:ident $init:expr) => { ($init)($info).map_err(::core::convert::Into::into) };
    (@counters) => { &[] };
    (@counters $c:expr) => { $c };
    (@flags) => { $crate::NodeFlags::empty() };
    (@flags $flags:expr) => { $flags };
}

/// Declares and registers a feature arc (see [`feature`]).
///
/// ```text
/// feature_arc! {
///     /// docs
///     pub static IDENT = {
///         name: "ip4_input",
///         start: "pkt_cls",      // the node that sends objects into the arc
///         end: "ip4_lookup",     // where they go after the last feature
///     };
/// }
/// ```
#[macro_export]
macro_rules! feature_arc {
    (
        $(#[$meta:meta])*
        $vis:vis static $ident:ident = {
            name: $name:expr,
            start: $start:expr,
            end: $end:expr $(,)?
        } $(;)?
    ) => {
        $crate::__register! {
            ARC_REGISTRY, miri_register_arc,
            $(#[$meta])*
            $vis static $ident: $crate::feature::ArcRegistration =
                $crate::feature::ArcRegistration { name: $name, start: $start, end: $end };
        }
    };
}

/// Declares a node as a feature of an arc (see [`feature`]). The node is
/// declared with [`node!`] as usual; its name is the feature's name.
///
/// ```text
/// feature! {
///     pub static IDENT = {
///         arc: "ip4_input",
///         node: "my_acl",
///         runs_after: &["other_feature"],   // optional
///         runs_before: &["third_feature"],  // optional
///     };
/// }
/// ```
#[macro_export]
macro_rules! feature {
    (
        $(#[$meta:meta])*
        $vis:vis static $ident:ident = {
            arc: $arc:expr,
            node: $node:expr
            $(, runs_after: $after:expr)?
            $(, runs_before: $before:expr)? $(,)?
        } $(;)?
    ) => {
        $crate::__register! {
            FEATURE_REGISTRY, miri_register_feature,
            $(#[$meta])*
            $vis static $ident: $crate::feature::FeatureRegistration = $crate::feature::FeatureRegistration {
                arc: $arc,
                node: $node,
                runs_after: $crate::node!(@counters $($after)?),
                runs_before: $crate::node!(@counters $($before)?),
            };
        }
    };
}

/// `docs/writing-a-node.md`, compiled and run as a doc-test.
#[cfg(doctest)]
#[doc = include_str!("../../docs/writing-a-node.md")]
pub struct WritingANode;

/// Declares an enum whose variants have display names, with one list so
/// that indices and names cannot drift (VPP's error and next-node lists).
/// Used for a node's edges (`next: Next::NAMES`) and counters
/// (`counters: Drop::NAMES`).
///
/// ```
/// graph_core::names! {
///     /// Where the node sends packets.
///     pub enum Next { Drop = "pkt_drop", Lookup = "ip4_lookup" }
/// }
/// assert_eq!(Next::NAMES, &["pkt_drop", "ip4_lookup"]);
/// assert_eq!(Next::Lookup.edge(), 1);
/// assert_eq!(Next::COUNT, 2);
/// assert_eq!(Next::Drop.name(), "pkt_drop");
/// ```
#[macro_export]
macro_rules! names {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $var:ident = $text:literal),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        $vis enum $name { $($(#[$vmeta])* $var),* }

        #[allow(dead_code)]
        impl $name {
            /// Display names, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),*];
            /// Number of variants.
            pub const COUNT: usize = Self::NAMES.len();
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),*];
            /// The display name.
            pub const fn name(self) -> &'static str {
                Self::NAMES[self as usize]
            }
            /// As an edge index.
            pub const fn edge(self) -> u16 {
                self as u16
            }
            /// As a counter or array index.
            pub const fn idx(self) -> usize {
                self as usize
            }
        }
    };
}
