//! Generates bindings to the system DPDK with bindgen and compiles the C
//! shim, when the `dpdk` feature is on. Without it the crate is empty and
//! needs nothing.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    if env::var_os("CARGO_FEATURE_DPDK").is_none() {
        return;
    }
    let lib = match pkg_config::Config::new().atleast_version("22.11").probe("libdpdk") {
        Ok(l) => l,
        Err(_) => panic!(
            "dpdk-sys: DPDK >= 22.11 not found by pkg-config (libdpdk): install Debian's libdpdk-dev (apt-get install libdpdk-dev pkg-config libclang-dev)"
        ),
    };
    // DPDK's pkg-config cflags carry -include rte_config.h and -march.
    let cflags: Vec<String> = std::process::Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let mut clang_args: Vec<String> = lib.include_paths.iter().map(|p| format!("-I{}", p.display())).collect();
    clang_args.push("-include".into());
    clang_args.push("rte_config.h".into());
    clang_args.push("-DALLOW_EXPERIMENTAL_API".into());
    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_args(&clang_args)
        .allowlist_function("rte_eal_.*|rte_eth_.*|rte_pktmbuf_.*|rte_mempool_.*|rte_mbuf_.*|rte_lcore_.*")
        .allowlist_function(
            "rte_socket_id|rte_strerror|rte_thread_register|rte_thread_unregister|rte_get_.*|rte_vdev_.*|rte_lpm_create|rte_lpm_add|rte_lpm_free|rte_lpm6_create|rte_lpm6_add|rte_lpm6_free|rte_lpm6_lookup",
        )
        .allowlist_type("rte_mbuf|rte_mempool|rte_eth_conf|rte_eth_stats|rte_ether_addr|rte_eth_dev_info")
        .allowlist_type("rte_eth_link|rte_eth_rxconf|rte_eth_txconf|rte_mbuf_dynfield|lcore_function_t")
        .allowlist_type("rte_lpm|rte_lpm_config|rte_lpm6|rte_lpm6_config|rte_pktmbuf_pool_private")
        .allowlist_var("RTE_MAX_LCORE|RTE_MBUF_DEFAULT_BUF_SIZE|RTE_PKTMBUF_HEADROOM|RTE_ETH_.*|RTE_MAX_ETHPORTS")
        .derive_default(true)
        .derive_debug(false)
        .layout_tests(false)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .unwrap_or_else(|e| panic!("dpdk-sys: bindgen failed on the DPDK headers (is libclang-dev installed?): {e}"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    bindings.write_to_file(out.join("bindings.rs")).expect("writing bindings");

    let mut cc = cc::Build::new();
    cc.file("shim.c").include(".").define("ALLOW_EXPERIMENTAL_API", None).warnings(false);
    for p in &lib.include_paths {
        cc.include(p);
    }
    // The same flags DPDK's own examples build with (-include rte_config.h,
    // -march=...).
    for f in &cflags {
        cc.flag(f);
    }
    cc.compile("rgraph_dpdk_shim");
    // pkg-config already emitted the link lines for libdpdk (shared).
}
