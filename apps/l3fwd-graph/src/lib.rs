//! l3fwd-graph as a library: its command line, configuration and runner,
//! so that tests and fuzzers can drive them. The binary is `src/main.rs`.

pub mod cli;
pub mod config;
pub mod control;
pub mod report;
pub mod run;
