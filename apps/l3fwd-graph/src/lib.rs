//! l3fwd-graph as a library: the whole program ([`main`]), and its command
//! line, configuration and runner, so that tests, fuzzers and routers with
//! nodes of their own can drive them. The stock binary is `src/main.rs`,
//! which calls [`main`].

pub mod cli;
pub mod config;
pub mod control;
mod program;
pub mod report;
pub mod run;

pub use program::{main, main_with_args};
