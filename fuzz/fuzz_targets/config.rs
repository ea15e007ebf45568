//! The config file and command-line parsers: an error message or a valid
//! plan, never a panic. Input: TOML text, a NUL, then NUL-separated
//! command-line arguments.
#![no_main]

use l3fwd_graph::{cli, config};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let toml_text = parts.next().unwrap_or("");
    let args: Vec<String> = std::iter::once("l3fwd-graph".to_string()).chain(parts.map(str::to_string)).collect();
    let env = config::Env::native(2);
    let file = config::parse_file(toml_text);
    if let Ok(f) = &file {
        if let Ok(p) = config::plan(f, &config::Overrides::default(), &env) {
            assert!(!p.ports.is_empty() && !p.lcores.is_empty());
        }
    }
    match cli::parse(&args) {
        Ok(inv) => {
            let f = file.unwrap_or_else(|_| config::demo_file());
            if let Ok(p) = config::plan(&f, &inv.cli.overrides, &env) {
                assert!(p.burst >= 1 && p.pool_size >= 2 * p.burst as u32);
            }
        }
        Err(cli::CliError::Bad(e)) => assert!(!e.contains('\n')),
        Err(cli::CliError::Help(_)) => {}
    }
});
