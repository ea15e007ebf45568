//! l3fwd-graph as a library: the whole program ([`main`]), and its command
//! line, configuration and runner, so that tests, fuzzers and routers with
//! nodes of their own can drive them. The stock binary is `src/main.rs`,
//! which calls [`main`].

pub mod cli;
pub mod config;
pub mod control;
pub mod ctl;
mod program;
pub mod report;
pub mod run;

pub use control::trace_text;
pub use program::{main, main_with_args};

/// `docs/adding-a-node-to-l3fwd-graph.md`, compiled and run as a doc-test.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/adding-a-node-to-l3fwd-graph.md")]
pub struct AddingANodeToL3fwdGraph;
