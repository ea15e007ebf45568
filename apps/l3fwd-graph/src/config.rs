//! The configuration: a TOML file (every key documented in
//! `examples/l3fwd-graph.toml`), DPDK l3fwd-graph's command-line flags on
//! top, DPDK's defaults where neither says anything, and the checks that
//! run before any thread starts.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use graph_nodes::neigh::{IcmpLimit, Interfaces, NeighConfig, MAX_NEIGHBOURS};
use graph_nodes::wire::Ipv4Prefix;
use serde::Deserialize;

/// A configuration error: one line naming the file, key or flag and the
/// value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// The file is not valid TOML for the schema (syntax, a type, an
    /// unknown key), at `line` when known.
    #[error("{}{msg}", in_file.as_ref().map(|p| format!("config file {}: ", p.display())).unwrap_or_default())]
    Syntax { in_file: Option<PathBuf>, msg: String },
    /// A command-line flag's value does not parse.
    #[error("{0}")]
    Flag(String),
    /// A value out of range or inconsistent with another, naming the key.
    #[error("{0}")]
    Invalid(String),
}

/// Most rx queues per port.
pub const MAX_RX_QUEUES: u16 = 64;
/// Most buffers in one pool (about 2.5 GiB of 2432-byte buffers).
pub const MAX_POOL_SIZE: u32 = 1 << 20;
/// Largest frame a buffer holds (its data room), so the largest
/// `--max-pkt-len`; the largest MTU is this minus 18 (Ethernet header, one
/// VLAN tag).
pub const MAX_FRAME: u32 = graph_nodes::mbuf::DEFAULT_DATAROOM as u32;
/// Shortest `stats_jsonl_interval`, in seconds.
pub const MIN_JSONL_INTERVAL: f64 = 0.001;

macro_rules! bail {
    ($($t:tt)*) => { return Err(ConfigError::Invalid(format!($($t)*))) };
}

/// `[[port]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PortFile {
    /// Port id.
    pub id: u16,
    /// Backend: pcap, generator, ring, af_packet.
    pub backend: String,
    /// Backend parameters.
    #[serde(default)]
    pub params: BTreeMap<String, toml::Value>,
    /// The port's MAC (default: the backend's, or 02:00:00:00:00:<id>).
    pub mac: Option<String>,
    /// The neighbour's MAC: destination of packets routed to this port
    /// (default 02:00:00:00:00:<id>, as DPDK).
    pub neighbour: Option<String>,
    /// Rx queues (default 1).
    #[serde(default = "one")]
    pub rx_queues: u16,
    /// MTU (default 1500).
    #[serde(default = "mtu")]
    pub mtu: u16,
    /// IPv4 addresses with their prefix length (`"10.0.1.1/24"`): each is
    /// answered (ARP, ping) and its subnet is routed out of this port,
    /// hosts resolved by ARP.
    #[serde(default)]
    pub addr: Vec<String>,
}

fn one() -> u16 {
    1
}

fn mtu() -> u16 {
    1500
}

/// `[[lcore]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LcoreFile {
    /// Lcore id; its graph is `worker_<id>`.
    pub id: u32,
    /// CPU to pin the worker to (default: the lcore id).
    pub cpu: Option<usize>,
    /// (port, queue) pairs it polls.
    pub rx: Vec<(u16, u16)>,
    /// Walks between two looks at the lcore's tasks (default 1).
    pub walks_per_poll: Option<u32>,
    /// With `model = "dispatch"`: nodes (names or glob patterns, clones
    /// included) this lcore runs for every worker.
    pub nodes: Option<Vec<String>>,
}

/// `[[route]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    /// `a.b.c.d/len`.
    pub prefix: String,
    /// Out port (next hop = that port's neighbour).
    pub port: Option<u16>,
    /// Or an explicit next hop from `[[neighbour]]`.
    pub next_hop: Option<u16>,
    /// Or a gateway's address in a connected subnet, resolved by ARP.
    pub via: Option<String>,
}

/// `[arp]`: the neighbour table.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ArpFile {
    /// Packets held per unresolved neighbour (default 8).
    pub hold: Option<usize>,
    /// Most neighbours (default 4096).
    pub max_neighbours: Option<usize>,
    /// Seconds a reply keeps a neighbour reachable (default 30).
    pub reachable_secs: Option<f64>,
    /// Milliseconds between requests (default 1000).
    pub retrans_ms: Option<u64>,
    /// Requests before giving up (default 3).
    pub retries: Option<u32>,
}

/// `[icmp]`: the router's ICMP error rate limit.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IcmpFile {
    /// Errors per second (default 1000; 0: none).
    pub rate: Option<u32>,
    /// Errors at once (default 100).
    pub burst: Option<u32>,
}

/// `[[neighbour]]`: a next hop.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NeighbourFile {
    /// Next-hop id (routes refer to it).
    pub id: u16,
    /// Out port.
    pub port: u16,
    /// Neighbour MAC.
    pub mac: String,
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Rx burst size (default 256).
    pub burst: Option<usize>,
    /// Buffers in the packet pool (default: sized from ports and lcores).
    pub pool_size: Option<u32>,
    /// Per-lcore pool cache (default 256; with DPDK pools, a walk's worth
    /// of buffers, 256 to 512: see `default_pool_cache`).
    pub pool_cache: Option<u32>,
    /// One pool per port instead of one shared pool.
    pub per_port_pool: Option<bool>,
    /// Seconds between stats tables (0: only at exit; default 1).
    pub stats_interval: Option<f64>,
    /// Stop after this many seconds (default: run until a signal).
    pub duration: Option<f64>,
    /// Stop once every finite input is exhausted and forwarded.
    pub exit_on_eof: Option<bool>,
    /// Promiscuous mode (accepted for DPDK compatibility).
    pub promiscuous: Option<bool>,
    /// Write final stats as JSON here.
    pub stats_json: Option<PathBuf>,
    /// tbl8 groups of the FIB (default 1024).
    pub tbl8_groups: Option<u32>,
    /// EAL arguments (DPDK mode), as if given before `--`.
    pub eal: Option<Vec<String>>,
    /// Unix socket for run-time control (routes, next hops, stats, capture).
    pub control_socket: Option<PathBuf>,
    /// Append a JSON line of statistics here every `stats_jsonl_interval`.
    pub stats_jsonl: Option<PathBuf>,
    /// Seconds between two `stats_jsonl` lines (default 1).
    pub stats_jsonl_interval: Option<f64>,
    /// Ports.
    #[serde(default, rename = "port")]
    pub ports: Vec<PortFile>,
    /// Worker lcores.
    #[serde(default, rename = "lcore")]
    pub lcores: Vec<LcoreFile>,
    /// Routes.
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteFile>,
    /// Next hops.
    #[serde(default, rename = "neighbour")]
    pub neighbours: Vec<NeighbourFile>,
    /// Per-node cycles-per-call histograms (default on).
    pub histograms: Option<bool>,
    /// Worker model: `rtc` (run to completion, the default) or `dispatch`
    /// (mcore dispatch: nodes bound to lcores by `[[lcore]] nodes`).
    pub model: Option<String>,
    /// Serve OpenMetrics at http://ADDR:PORT/metrics.
    pub metrics: Option<String>,
    /// More nodes for every worker graph, by name or glob pattern (a
    /// source of your own, a node your feature sends to).
    pub nodes: Option<Vec<String>>,
    /// Features enabled at start.
    #[serde(default, rename = "feature")]
    pub features: Vec<FeatureFile>,
    /// `[arp]`: the neighbour table.
    #[serde(default)]
    pub arp: ArpFile,
    /// `[icmp]`: ICMP errors.
    #[serde(default)]
    pub icmp: IcmpFile,
    /// `[node.NAME]`: a table for node `NAME`, which its init reads from
    /// the graph's [`NodeConfig`].
    #[serde(default, rename = "node")]
    pub node_config: BTreeMap<String, toml::Table>,
}

/// `[[feature]]`: a feature enabled at start.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeatureFile {
    /// The arc (`eth_input`, `ip4_input`, `ip4_output`, or one of yours).
    pub arc: String,
    /// The feature's node.
    pub node: String,
    /// The ports it is enabled on (rx ports on the input arcs, tx ports on
    /// `ip4_output`); default every port.
    pub ports: Option<Vec<u16>>,
}

/// The `[node.NAME]` tables of the config file, in every worker graph's
/// environment: a node's init reads its own with
/// `info.env::<NodeConfig>()?.get::<T>(info.node_name)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeConfig(std::sync::Arc<BTreeMap<String, toml::Table>>);

impl NodeConfig {
    /// Tables by node name.
    pub fn new(tables: BTreeMap<String, toml::Table>) -> NodeConfig {
        NodeConfig(std::sync::Arc::new(tables))
    }

    /// Node `node`'s table, if the file has one.
    pub fn table(&self, node: &str) -> Option<&toml::Table> {
        self.0.get(node)
    }

    /// Node `node`'s table as a `T` (`None` without a table), or an error
    /// naming the table and what is wrong in it.
    pub fn get<T: serde::de::DeserializeOwned>(&self, node: &str) -> Result<Option<T>, ConfigError> {
        let Some(t) = self.0.get(node) else { return Ok(None) };
        T::deserialize(toml::Value::Table(t.clone()))
            .map(Some)
            .map_err(|e| ConfigError::Invalid(format!("[node.{node}]: {}", e.message().replace('\n', " "))))
    }
}

/// Reads a config file.
pub fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    parse_file(&text).map_err(|e| match e {
        ConfigError::Syntax { msg, .. } => ConfigError::Syntax { in_file: Some(path.into()), msg },
        other => other,
    })
}

/// Parses config text.
pub fn parse_file(text: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        let msg = e.message().replace('\n', " ");
        let msg = match line {
            Some(l) => format!("line {l}: {msg}"),
            None => msg,
        };
        ConfigError::Syntax { in_file: None, msg }
    })
}

/// `--config`'s value: which lcore polls which `(port, queue)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpdkConfig(pub Vec<(u16, u16, u32)>);

/// What the command line may override: DPDK l3fwd-graph's flags and ours.
/// These are the flags themselves (flattened into the command line), so
/// a flag and its override cannot drift apart.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// Hexadecimal mask of the ports to use (DPDK's -p).
    #[arg(short = 'p', value_name = "PORTMASK", value_parser = parse_portmask)]
    pub portmask: Option<u64>,
    /// (port,queue,lcore)[,(port,queue,lcore)...]: which lcore polls which rx queue.
    #[arg(long = "config", value_name = "(PORT,QUEUE,LCORE),...", value_parser = parse_dpdk_config)]
    pub config: Option<DpdkConfig>,
    /// Promiscuous mode (accepted for DPDK compatibility; our backends
    /// receive every frame).
    #[arg(short = 'P')]
    pub promiscuous: bool,
    /// Neighbour MAC of a port: PORT,MAC. Repeatable.
    #[arg(long = "eth-dest", value_name = "PORT,MAC", value_parser = parse_eth_dest)]
    pub eth_dest: Vec<(u16, [u8; 6])>,
    /// Largest frame length; sets every port's MTU to this minus 18.
    #[arg(long = "max-pkt-len", value_name = "BYTES")]
    pub max_pkt_len: Option<u32>,
    /// One packet pool per port.
    #[arg(long = "per-port-pool")]
    pub per_port_pool: bool,
    /// Accepted for DPDK compatibility (no NUMA here).
    #[arg(long = "no-numa")]
    pub no_numa: bool,
    /// Write the final statistics as JSON to FILE.
    #[arg(long = "stats-json", value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
    /// Seconds between statistics tables (0: only at exit).
    #[arg(long = "stats-interval", value_name = "SECS")]
    pub stats_interval: Option<f64>,
    /// Stop after SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Stop once every finite input (pcap not looped) has been read and forwarded.
    #[arg(long = "exit-on-eof")]
    pub exit_on_eof: bool,
    /// Rx burst size.
    #[arg(long, value_name = "N")]
    pub burst: Option<usize>,
    /// Buffers in the packet pool.
    #[arg(long = "pool-size", value_name = "N")]
    pub pool_size: Option<u32>,
    /// Listen for control commands on this Unix socket.
    #[arg(long = "control-socket", value_name = "PATH")]
    pub control_socket: Option<PathBuf>,
    /// Append a JSON line of statistics to FILE every second.
    #[arg(long = "stats-jsonl", value_name = "FILE")]
    pub stats_jsonl: Option<PathBuf>,
    /// Walks between two looks at each lcore's tasks.
    #[arg(long = "walks-per-poll", value_name = "N")]
    pub walks_per_poll: Option<u32>,
    /// Measurement: run busy tasks on every lcore (a 1 ms timer, a file
    /// writer, route updates every 10 ms).
    #[arg(long = "task-load", hide = true)]
    pub task_load: bool,
    /// Do not keep per-node cycles-per-call histograms.
    #[arg(long = "no-histograms")]
    pub no_histograms: bool,
    /// Worker model, as DPDK's l3fwd-graph: rtc (run to completion) or
    /// dispatch (mcore dispatch; nodes bound by the file's [[lcore]] nodes).
    #[arg(long = "model", value_name = "rtc|dispatch")]
    pub model: Option<String>,
    /// Serve OpenMetrics (Prometheus) at http://ADDR:PORT/metrics.
    #[arg(long = "metrics", value_name = "ADDR:PORT")]
    pub metrics: Option<String>,
    /// Capture packets at every node into a pcapng file, each packet
    /// annotated with its graph and node (DPDK's --pcap-enable).
    #[arg(long = "pcap-enable")]
    pub pcap_enable: bool,
    /// Packets to capture with --pcap-enable (default 1024).
    #[arg(long = "pcap-num-cap", value_name = "N")]
    pub pcap_num_cap: Option<usize>,
    /// The --pcap-enable file (default /tmp/l3fwd_graph_pcap_capture_<pid>.pcapng).
    #[arg(long = "pcap-file-name", value_name = "FILE")]
    pub pcap_file_name: Option<PathBuf>,
}

/// A feature to enable at start, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct FeaturePlan {
    pub arc: String,
    pub node: String,
    pub ports: Vec<u16>,
}

/// The worker model's name, and `nodes` only with `dispatch`: checked
/// before the lcores (whose checks depend on it).
fn check_model(file: &FileConfig, o: &Overrides) -> Result<(), ConfigError> {
    match o.model.as_deref().or(file.model.as_deref()).unwrap_or("rtc") {
        "dispatch" => Ok(()),
        "rtc" => match file.lcores.iter().find(|l| l.nodes.is_some()) {
            Some(l) => bail!("[[lcore]] id = {}: nodes = [...] needs model = \"dispatch\" (or --model=dispatch)", l.id),
            None => Ok(()),
        },
        other => bail!("model = \"{other}\": expected rtc or dispatch"),
    }
}

/// The worker model and, for `dispatch`, the node bindings: every pattern
/// matches a node the graphs will have, no node is bound twice, an rx node
/// stays on the lcore that polls its queue.
fn plan_dispatch(
    file: &FileConfig,
    o: &Overrides,
    ports: &[PortPlan],
    lcores: &[LcorePlan],
) -> Result<Option<Vec<(String, u32)>>, ConfigError> {
    let model = o.model.as_deref().or(file.model.as_deref()).unwrap_or("rtc");
    let bound: Vec<&LcoreFile> = file.lcores.iter().filter(|l| l.nodes.is_some()).collect();
    match model {
        "rtc" => {
            if let Some(l) = bound.first() {
                bail!("[[lcore]] id = {}: nodes = [...] needs model = \"dispatch\" (or --model=dispatch)", l.id);
            }
            return Ok(None);
        }
        "dispatch" => {}
        other => bail!("model = \"{other}\": expected rtc or dispatch"),
    }
    // The nodes the worker graphs will hold: the registered ones, and the
    // rx and tx clones of the configured ports.
    let mut names: Vec<String> = graph_core::node_list()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.parent.is_none() && n.name != "ethdev_rx" && n.name != "ethdev_tx")
        .map(|n| n.name)
        .collect();
    for p in ports {
        names.push(format!("ethdev_tx-{}", p.id));
        for q in 0..p.rx_queues {
            names.push(format!("ethdev_rx-{}-{q}", p.id));
        }
    }
    let mut out: Vec<(String, u32)> = Vec::new();
    for l in bound {
        let Some(plan) = lcores.iter().find(|x| x.id == l.id) else {
            bail!("[[lcore]] id = {}: nodes are bound to it, but it is not a worker lcore (see --config)", l.id);
        };
        for pat in l.nodes.as_deref().unwrap_or_default() {
            let g = glob::Pattern::new(pat)
                .map_err(|e| ConfigError::Invalid(format!("[[lcore]] id = {}: nodes \"{pat}\": {e}", l.id)))?;
            let hits: Vec<&String> = names.iter().filter(|n| g.matches(n)).collect();
            if hits.is_empty() {
                bail!("[[lcore]] id = {}: nodes \"{pat}\" matches no node of the worker graphs", l.id);
            }
            for n in hits {
                if let Some((_, other)) = out.iter().find(|(x, _)| x == n) {
                    if *other != l.id {
                        bail!("node {n} is bound to lcore {other} and to lcore {}: a node runs on one lcore", l.id);
                    }
                    continue;
                }
                if let Some(rest) = n.strip_prefix("ethdev_rx-") {
                    let polled = plan.rx.iter().any(|(p, q)| rest == format!("{p}-{q}"));
                    if !polled {
                        bail!("node {n} is bound to lcore {}, which does not poll that queue (its rx is placed by rx = [...])", l.id);
                    }
                }
                out.push((n.clone(), l.id));
            }
        }
    }
    Ok(Some(out))
}

/// Most packets --pcap-num-cap may ask for (they are held in memory until
/// the capture ends).
pub const MAX_PCAP_NUM_CAP: usize = 1_000_000;

/// DPDK's graph pcap flags, checked.
fn plan_pcap(o: &Overrides) -> Result<Option<(usize, PathBuf)>, ConfigError> {
    if !o.pcap_enable {
        if o.pcap_num_cap.is_some() || o.pcap_file_name.is_some() {
            bail!("--pcap-num-cap and --pcap-file-name need --pcap-enable");
        }
        return Ok(None);
    }
    let n = o.pcap_num_cap.unwrap_or(1024);
    if !(1..=MAX_PCAP_NUM_CAP).contains(&n) {
        bail!("--pcap-num-cap {n}: expected 1..={MAX_PCAP_NUM_CAP}");
    }
    let path = o.pcap_file_name.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("l3fwd_graph_pcap_capture_{}.pcapng", std::process::id()))
    });
    check_output("--pcap-file-name", &path)?;
    Ok(Some((n, path)))
}

/// What to say about a node name nothing registers.
fn not_linked(what: &str, name: &str) -> ConfigError {
    let mut names: Vec<String> = graph_core::node_list()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.parent.is_none())
        .map(|n| n.name)
        .collect();
    names.sort();
    ConfigError::Invalid(format!(
        "{what}: no node \"{name}\" is linked into this program (nodes: {}). A node crate the binary never \
         names is dropped by the linker: name it in main.rs with `use my_nodes as _;`",
        names.join(", ")
    ))
}

/// Checks `nodes`, `[[feature]]` and `[node.NAME]` against what is
/// registered in this program.
fn plan_composition(
    file: &FileConfig,
    ports: &[PortPlan],
) -> Result<(Vec<String>, Vec<FeaturePlan>, NodeConfig), ConfigError> {
    let registry = graph_core::node_list().map_err(|e| ConfigError::Invalid(format!("node registry: {e}")))?;
    let names: Vec<&str> = registry.iter().filter(|n| n.parent.is_none()).map(|n| n.name.as_str()).collect();
    let nodes = file.nodes.clone().unwrap_or_default();
    for pat in &nodes {
        let g = glob::Pattern::new(pat).map_err(|e| ConfigError::Invalid(format!("nodes: \"{pat}\": {e}")))?;
        if !names.iter().any(|n| g.matches(n)) {
            return Err(not_linked("nodes", pat));
        }
        if g.matches("ethdev_rx") {
            bail!("nodes: \"{pat}\" names ethdev_rx: rx queues are placed by the [[lcore]] sections");
        }
    }
    let arcs = graph_core::feature_arc_list().map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let mut features = Vec::new();
    for f in &file.features {
        let Some(arc) = arcs.iter().find(|a| a.name == f.arc) else {
            let known: Vec<&str> = arcs.iter().map(|a| a.name.as_str()).collect();
            bail!("[[feature]] {}: no arc \"{}\" (arcs: {})", f.node, f.arc, known.join(", "));
        };
        if !arc.features.contains(&f.node) {
            if !names.contains(&f.node.as_str()) {
                return Err(not_linked(&format!("[[feature]] on arc {}", f.arc), &f.node));
            }
            bail!(
                "[[feature]] {}: not a feature of arc {} (its features: {}); register it with feature!",
                f.node,
                f.arc,
                if arc.features.is_empty() { "none".to_string() } else { arc.features.join(", ") }
            );
        }
        let fports = match &f.ports {
            Some(p) => p.clone(),
            None => ports.iter().map(|p| p.id).collect(),
        };
        for p in &fports {
            if !ports.iter().any(|x| x.id == *p) {
                bail!("[[feature]] {} on {}: port {p} is not configured", f.node, f.arc);
            }
            if *p as usize >= graph_core::feature::MAX_ARC_INDEX {
                bail!(
                    "[[feature]] {} on {}: port {p} is above {}, the last port a feature can serve",
                    f.node,
                    f.arc,
                    graph_core::feature::MAX_ARC_INDEX - 1
                );
            }
        }
        features.push(FeaturePlan { arc: f.arc.clone(), node: f.node.clone(), ports: fports });
    }
    for name in file.node_config.keys() {
        if !names.contains(&name.as_str()) {
            return Err(not_linked(&format!("[node.{name}]"), name));
        }
    }
    Ok((nodes, features, NodeConfig::new(file.node_config.clone())))
}

/// Parses DPDK's `--config` value: `(port,queue,lcore)[,(port,queue,lcore)...]`.
pub fn parse_dpdk_config(s: &str) -> Result<DpdkConfig, ConfigError> {
    let bad = |why: &str| ConfigError::Flag(format!("--config \"{s}\": {why}"));
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(open) = rest.strip_prefix('(') else {
            return Err(bad("expected '('"));
        };
        let Some(close) = open.find(')') else {
            return Err(bad("missing ')'"));
        };
        let fields: Vec<&str> = open[..close].split(',').map(str::trim).collect();
        if fields.len() != 3 {
            return Err(bad("each tuple is (port,queue,lcore)"));
        }
        let port = fields[0].parse().map_err(|_| bad(&format!("port \"{}\" is not a number", fields[0])))?;
        let queue = fields[1].parse().map_err(|_| bad(&format!("queue \"{}\" is not a number", fields[1])))?;
        let lcore = fields[2].parse().map_err(|_| bad(&format!("lcore \"{}\" is not a number", fields[2])))?;
        out.push((port, queue, lcore));
        rest = open[close + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    if out.is_empty() {
        return Err(bad("no (port,queue,lcore) tuple"));
    }
    Ok(DpdkConfig(out))
}

/// Parses `--eth-dest=PORT,MAC`.
pub fn parse_eth_dest(s: &str) -> Result<(u16, [u8; 6]), ConfigError> {
    let (p, m) =
        s.split_once(',').ok_or_else(|| ConfigError::Flag(format!("--eth-dest \"{s}\": expected PORT,MAC")))?;
    let port =
        p.trim().parse().map_err(|_| ConfigError::Flag(format!("--eth-dest \"{s}\": port \"{p}\" is not a number")))?;
    let mac = graph_nodes::wire::parse_mac(m.trim())
        .ok_or_else(|| ConfigError::Flag(format!("--eth-dest \"{s}\": \"{m}\" is not a MAC address")))?;
    Ok((port, mac))
}

/// Parses `-p PORTMASK` (hex, with or without 0x).
pub fn parse_portmask(s: &str) -> Result<u64, ConfigError> {
    let h = s.trim_start_matches("0x").trim_start_matches("0X");
    match u64::from_str_radix(h, 16) {
        Ok(0) => Err(ConfigError::Flag(format!("-p \"{s}\": the port mask selects no port"))),
        Ok(m) => Ok(m),
        Err(_) => Err(ConfigError::Flag(format!("-p \"{s}\": not a hexadecimal port mask"))),
    }
}

/// A port as the app runs it.
#[derive(Debug, Clone)]
pub struct PortPlan {
    pub id: u16,
    pub backend: String,
    pub params: Vec<(String, String)>,
    pub mac: Option<[u8; 6]>,
    pub neighbour: [u8; 6],
    pub rx_queues: u16,
    pub mtu: u16,
    pub addrs: Vec<Ipv4Prefix>,
    pub addrs6: Vec<graph_nodes::wire::Ipv6Prefix>,
}

/// A worker lcore as the app runs it.
#[derive(Debug, Clone)]
pub struct LcorePlan {
    pub id: u32,
    pub cpu: usize,
    pub rx: Vec<(u16, u16)>,
    pub walks_per_poll: u32,
}

/// A route: prefix (IPv4 or IPv6) → next hop, or a gateway resolved by
/// ARP or neighbour discovery.
#[derive(Debug, Clone)]
pub struct RoutePlan {
    pub prefix: std::net::IpAddr,
    pub depth: u8,
    pub next_hop: u16,
    pub via: Option<std::net::IpAddr>,
}

/// A next hop.
#[derive(Debug, Clone)]
pub struct HopPlan {
    pub id: u16,
    pub port: u16,
    pub mac: [u8; 6],
}

/// Everything validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub ports: Vec<PortPlan>,
    pub lcores: Vec<LcorePlan>,
    pub routes: Vec<RoutePlan>,
    pub hops: Vec<HopPlan>,
    pub burst: usize,
    pub pool_size: u32,
    pub pool_cache: u32,
    pub per_port_pool: bool,
    pub stats_interval: f64,
    pub duration: Option<f64>,
    pub exit_on_eof: bool,
    pub stats_json: Option<PathBuf>,
    pub tbl8_groups: u32,
    pub control_socket: Option<PathBuf>,
    pub stats_jsonl: Option<PathBuf>,
    pub stats_jsonl_interval: f64,
    pub task_load: bool,
    /// Cycles-per-call histograms and whole statistics rows.
    pub histograms: bool,
    /// Where to serve OpenMetrics.
    pub metrics: Option<std::net::SocketAddr>,
    /// --pcap-enable: packets to capture and the pcapng file.
    pub pcap: Option<(usize, PathBuf)>,
    /// Dispatch model: (node name, lcore) bindings, checked; `None` is
    /// run to completion.
    pub dispatch: Option<Vec<(String, u32)>>,
    /// Extra node patterns of every worker graph.
    pub nodes: Vec<String>,
    /// Features to enable at start.
    pub features: Vec<FeaturePlan>,
    /// The `[node.NAME]` tables.
    pub node_config: NodeConfig,
    /// The neighbour table's tunables.
    pub neigh: NeighConfig,
    /// The ICMP error rate limit.
    pub icmp: IcmpLimit,
}

/// DPDK's default destination MAC of port `p`: 02:00:00:00:00:<p>.
pub fn default_neighbour(p: u16) -> [u8; 6] {
    [2, 0, 0, 0, (p >> 8) as u8, p as u8]
}

/// The embedded default: two generator ports with DPDK's default traffic.
pub fn demo_file() -> FileConfig {
    let gen = |id: u16| PortFile {
        id,
        backend: "generator".into(),
        params: BTreeMap::new(),
        mac: None,
        neighbour: None,
        rx_queues: 1,
        mtu: 1500,
        addr: Vec::new(),
    };
    FileConfig { ports: vec![gen(0), gen(1)], ..FileConfig::default() }
}

fn param_string(key: &str, v: &toml::Value) -> Result<String, ConfigError> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => bail!("port params.{key} = {other}: expected a string or a number"),
    })
}

fn mac(key: &str, s: &str) -> Result<[u8; 6], ConfigError> {
    graph_nodes::wire::parse_mac(s).ok_or_else(|| ConfigError::Invalid(format!("{key} = \"{s}\": not a MAC address")))
}

fn prefix(s: &str) -> Result<(Ipv4Addr, u8), ConfigError> {
    let p: graph_nodes::wire::Ipv4Prefix =
        s.parse().map_err(|e| ConfigError::Invalid(format!("route prefix = \"{s}\": {e}")))?;
    Ok((p.ip(), p.len))
}

/// What the machine offers the plan.
#[derive(Debug, Clone)]
pub struct Env {
    /// CPUs this process may run on (its affinity mask), ascending.
    pub cpus: Vec<usize>,
    /// With an initialised EAL: its view.
    pub dpdk: Option<DpdkEnv>,
}

/// The EAL's view, in DPDK mode.
#[derive(Debug, Clone)]
pub struct DpdkEnv {
    /// Ethernet devices DPDK found.
    pub nb_ports: u16,
    /// Lcores enabled by the EAL arguments.
    pub lcores: Vec<u32>,
    /// The main lcore (it reports stats; workers run on the others).
    pub main_lcore: u32,
}

impl Env {
    /// No DPDK: CPUs `0..ncpu`.
    pub fn native(ncpu: usize) -> Env {
        Env::with_cpus((0..ncpu.max(1)).collect())
    }

    /// No DPDK: exactly these CPUs (the process's affinity mask).
    pub fn with_cpus(mut cpus: Vec<usize>) -> Env {
        cpus.sort_unstable();
        cpus.dedup();
        if cpus.is_empty() {
            cpus.push(0);
        }
        Env { cpus, dpdk: None }
    }

    /// The allowed CPUs, for messages: `1`, `0-3`, or `0, 2, 5`.
    fn cpu_list(&self) -> String {
        let (first, last) = (self.cpus[0], self.cpus[self.cpus.len() - 1]);
        if self.cpus.len() == 1 {
            first.to_string()
        } else if last - first + 1 == self.cpus.len() {
            format!("{first}-{last}")
        } else {
            self.cpus.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
        }
    }
}

/// In DPDK mode without `[[port]]`s: DPDK's ports (those of `-p`), each
/// with as many rx queues as `--config` names.
fn dpdk_ports(d: &DpdkEnv, o: &Overrides) -> Vec<PortFile> {
    (0..d.nb_ports)
        .filter(|&id| o.portmask.is_none_or(|m| id < 64 && m & (1 << id) != 0))
        .map(|id| {
            let rx_queues = o
                .config
                .as_ref()
                .and_then(|c| c.0.iter().filter(|(p, _, _)| *p == id).map(|(_, q, _)| q + 1).max())
                .unwrap_or(1);
            PortFile {
                id,
                backend: "dpdk".into(),
                params: BTreeMap::new(),
                mac: None,
                neighbour: None,
                rx_queues,
                mtu: 1500,
                addr: Vec::new(),
            }
        })
        .collect()
}

/// Checks, before anything starts, that an output file can be written
/// later: its directory exists and is writable (or the file is), and it is
/// not a directory. Nothing is created or changed.
pub fn check_output(key: &str, path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::ffi::OsStrExt;
    let bad = |why: String| ConfigError::Invalid(format!("{key} {}: {why}", path.display()));
    if path.is_dir() {
        return Err(bad("is a directory".into()));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(bad(format!("directory {} does not exist", parent.display())));
    }
    let target = if path.exists() { path } else { parent };
    let c = std::ffi::CString::new(target.as_os_str().as_bytes()).map_err(|_| bad("NUL in the path".into()))?;
    // SAFETY: `c` is a NUL-terminated path that lives across the call;
    // access(2) only reads it.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0 {
        return Err(bad(format!("not writable ({})", std::io::Error::last_os_error())));
    }
    Ok(())
}

/// Files the run reads and writes must not collide: two outputs into one
/// file (two ports' `tx_pcap`) lose packets, an output over an input
/// destroys it.
fn check_paths<'a>(
    ports: &[PortPlan],
    extra_outputs: impl IntoIterator<Item = (&'a str, &'a Option<PathBuf>)>,
) -> Result<(), ConfigError> {
    // The same file under two spellings is found through its directory.
    let key = |p: &str| -> PathBuf {
        let p = Path::new(p);
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        match (dir.canonicalize(), p.file_name()) {
            (Ok(d), Some(f)) => d.join(f),
            _ => p.to_path_buf(),
        }
    };
    let mut outputs: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut inputs: BTreeMap<PathBuf, String> = BTreeMap::new();
    for p in ports {
        for (k, v) in &p.params {
            let what = format!("port {} {k} = \"{v}\"", p.id);
            match k.as_str() {
                "tx_pcap" => {
                    if let Some(other) = outputs.insert(key(v), what.clone()) {
                        bail!("{what}: the same file as {other}; each output needs its own file");
                    }
                }
                "rx_pcap" => {
                    inputs.insert(key(v), what);
                }
                _ => {}
            }
        }
    }
    for (name, path) in extra_outputs {
        if let Some(path) = path {
            let what = format!("{name} {}", path.display());
            if let Some(other) = outputs.insert(key(&path.to_string_lossy()), what.clone()) {
                bail!("{what}: the same file as {other}; each output needs its own file");
            }
        }
    }
    for (k, out) in &outputs {
        if let Some(input) = inputs.get(k) {
            bail!("{out}: the same file as {input}; writing it would destroy the input");
        }
    }
    Ok(())
}

/// Merges file and flags and checks everything against `env`.
pub fn plan(file: &FileConfig, o: &Overrides, env: &Env) -> Result<Plan, ConfigError> {
    check_model(file, o)?;
    let ports = plan_ports(file, o, env)?;
    let mut lcores = plan_lcores(file, o, env, &ports)?;
    let hops = plan_hops(file, &ports)?;
    let routes = plan_routes(file, &ports, &hops)?;
    let tuning = plan_tuning(file, o, &ports, &mut lcores, env.dpdk.is_some())?;
    let (nodes, features, node_config) = plan_composition(file, &ports)?;
    let (neigh, icmp) = plan_neigh(file)?;
    let dispatch = plan_dispatch(file, o, &ports, &lcores)?;
    let stats_json = o.stats_json.clone().or_else(|| file.stats_json.clone());
    let stats_jsonl = o.stats_jsonl.clone().or_else(|| file.stats_jsonl.clone());
    check_paths(&ports, [("stats_json", &stats_json), ("stats_jsonl", &stats_jsonl)])?;
    if let Some(p) = &stats_json {
        check_output("stats_json", p)?;
    }
    if let Some(p) = &stats_jsonl {
        check_output("stats_jsonl", p)?;
    }
    Ok(Plan {
        ports,
        lcores,
        routes,
        hops,
        burst: tuning.burst,
        pool_size: tuning.pool_size,
        pool_cache: tuning.pool_cache,
        per_port_pool: tuning.per_port_pool,
        stats_interval: tuning.stats_interval,
        duration: tuning.duration,
        exit_on_eof: o.exit_on_eof || file.exit_on_eof.unwrap_or(false),
        stats_json,
        tbl8_groups: tuning.tbl8_groups,
        control_socket: o.control_socket.clone().or_else(|| file.control_socket.clone()),
        stats_jsonl,
        stats_jsonl_interval: tuning.stats_jsonl_interval,
        task_load: o.task_load,
        histograms: !o.no_histograms && file.histograms.unwrap_or(true),
        pcap: plan_pcap(o)?,
        dispatch,
        metrics: match o.metrics.as_ref().or(file.metrics.as_ref()) {
            None => None,
            Some(a) => Some(a.parse().map_err(|_| {
                ConfigError::Invalid(format!("metrics = \"{a}\": expected ADDR:PORT (127.0.0.1:9100, [::1]:9100)"))
            })?),
        },
        nodes,
        features,
        node_config,
        neigh,
        icmp,
    })
}

/// Ports: the file's (or, in DPDK mode without any, DPDK's), filtered by
/// `-p`, with `--max-pkt-len` and `--eth-dest` applied.
fn plan_ports(file: &FileConfig, o: &Overrides, env: &Env) -> Result<Vec<PortPlan>, ConfigError> {
    let synthesized;
    let file_ports: &[PortFile] = match &env.dpdk {
        Some(d) if file.ports.is_empty() => {
            synthesized = dpdk_ports(d, o);
            if synthesized.is_empty() {
                bail!(
                    "DPDK found no port{} (give devices or --vdev in the EAL arguments)",
                    if o.portmask.is_some() { " selected by -p" } else { "" }
                );
            }
            &synthesized
        }
        _ => &file.ports,
    };
    // Ports, filtered by -p.
    let mut ports = Vec::new();
    let mut seen = BTreeSet::new();
    for p in file_ports {
        if !seen.insert(p.id) {
            bail!("port id = {}: defined twice", p.id);
        }
        if let Some(mask) = o.portmask {
            if p.id >= 64 || mask & (1 << p.id) == 0 {
                continue;
            }
        }
        let mut params = Vec::new();
        for (k, v) in &p.params {
            params.push((k.clone(), param_string(k, v)?));
        }
        let mtu = match o.max_pkt_len {
            Some(l) if !(64..=MAX_FRAME).contains(&l) => {
                bail!("--max-pkt-len {l}: outside 64..={MAX_FRAME} (a frame must fit one {MAX_FRAME}-byte buffer)")
            }
            Some(l) => (l - 18) as u16,
            None => p.mtu,
        };
        if mtu < 68 {
            bail!("port {} mtu = {mtu}: below IPv4's minimum of 68", p.id);
        }
        if u32::from(mtu) + 18 > MAX_FRAME {
            bail!(
                "port {} mtu = {mtu}: frames up to {} bytes do not fit one {MAX_FRAME}-byte buffer (largest mtu {})",
                p.id,
                u32::from(mtu) + 18,
                MAX_FRAME - 18
            );
        }
        if p.rx_queues > MAX_RX_QUEUES {
            bail!("port {} rx_queues = {}: at most {MAX_RX_QUEUES}", p.id, p.rx_queues);
        }
        let neighbour = match (o.eth_dest.iter().rev().find(|(id, _)| *id == p.id), &p.neighbour) {
            (Some((_, m)), _) => *m,
            (None, Some(s)) => mac(&format!("port {} neighbour", p.id), s)?,
            (None, None) => default_neighbour(p.id),
        };
        let pmac = p.mac.as_deref().map(|s| mac(&format!("port {} mac", p.id), s)).transpose()?;
        if p.rx_queues == 0 {
            bail!("port {} rx_queues = 0: a port needs at least one rx queue", p.id);
        }
        let (mut addrs, mut addrs6) = (Vec::new(), Vec::new());
        for a in &p.addr {
            if !a.contains('/') {
                let eg = if a.contains(':') { "/64" } else { "/24" };
                bail!("port {} addr = \"{a}\": give the prefix length (\"{a}{eg}\")", p.id);
            }
            let bad =
                |e: graph_nodes::wire::PrefixError| ConfigError::Invalid(format!("port {} addr = \"{a}\": {e}", p.id));
            if a.contains(':') {
                addrs6.push(a.parse().map_err(bad)?);
            } else {
                addrs.push(a.parse().map_err(bad)?);
            }
        }
        ports.push(PortPlan {
            id: p.id,
            backend: p.backend.clone(),
            params,
            mac: pmac,
            neighbour,
            rx_queues: p.rx_queues,
            mtu,
            addrs,
            addrs6,
        });
    }
    if let Some(mask) = o.portmask {
        for bit in 0..64u16 {
            if mask & (1 << bit) != 0 && !ports.iter().any(|p| p.id == bit) {
                bail!("-p {mask:#x}: port {bit} is not configured");
            }
        }
    }
    if ports.is_empty() {
        bail!("no port configured");
    }
    // Addresses: the checks the running router makes, on a scratch table.
    interfaces(&ports)?;
    for (id, _) in &o.eth_dest {
        if !ports.iter().any(|p| p.id == *id) {
            bail!("--eth-dest {id},...: port {id} is not configured");
        }
    }
    Ok(ports)
}

/// Lcores: `--config` overrides the file; by default one lcore polling
/// every rx queue, on the last CPU (the first one reports stats). Each
/// (port, queue) belongs to one lcore.
fn plan_lcores(file: &FileConfig, o: &Overrides, env: &Env, ports: &[PortPlan]) -> Result<Vec<LcorePlan>, ConfigError> {
    let port = |id: u16| ports.iter().find(|p| p.id == id);

    // Lcores: --config overrides the file; default one lcore polling every
    // rx queue, on the last CPU (the first one reports stats).
    let mut lcores: Vec<LcorePlan> = match &o.config {
        Some(cfg) => {
            let mut by: BTreeMap<u32, Vec<(u16, u16)>> = BTreeMap::new();
            for &(p, q, l) in &cfg.0 {
                by.entry(l).or_default().push((p, q));
            }
            let cpu_of = |l: u32| file.lcores.iter().find(|f| f.id == l).and_then(|f| f.cpu).unwrap_or(l as usize);
            let ratio_of = |l: u32| file.lcores.iter().find(|f| f.id == l).and_then(|f| f.walks_per_poll).unwrap_or(1);
            by.into_iter().map(|(id, rx)| LcorePlan { id, cpu: cpu_of(id), rx, walks_per_poll: ratio_of(id) }).collect()
        }
        None if !file.lcores.is_empty() => file
            .lcores
            .iter()
            .map(|l| LcorePlan {
                id: l.id,
                cpu: l.cpu.unwrap_or(l.id as usize),
                rx: l.rx.clone(),
                walks_per_poll: l.walks_per_poll.unwrap_or(1),
            })
            .collect(),
        None => {
            // One worker: the last CPU natively, the first worker lcore
            // with DPDK.
            let cpu = match &env.dpdk {
                Some(d) => d.lcores.iter().copied().find(|&l| l != d.main_lcore).unwrap_or(d.main_lcore) as usize,
                None => env.cpus[env.cpus.len() - 1],
            };
            let rx = ports.iter().flat_map(|p| (0..p.rx_queues).map(move |q| (p.id, q))).collect();
            vec![LcorePlan { id: cpu as u32, cpu, rx, walks_per_poll: 1 }]
        }
    };
    let mut lseen = BTreeSet::new();
    let mut used: BTreeMap<(u16, u16), u32> = BTreeMap::new();
    for l in &mut lcores {
        if !lseen.insert(l.id) {
            bail!("lcore id = {}: defined twice", l.id);
        }
        if l.id as usize >= graph_nodes::lcore::MAX_LCORE {
            bail!("lcore {}: lcore ids go up to {}", l.id, graph_nodes::lcore::MAX_LCORE - 1);
        }
        if let Some(d) = &env.dpdk {
            if !d.lcores.contains(&l.id) {
                bail!("lcore {}: not enabled by the EAL arguments (-l/--lcores give {:?})", l.id, d.lcores);
            }
            if l.id == d.main_lcore {
                bail!("lcore {}: the main lcore reports stats; put workers on other lcores", l.id);
            }
        } else if !env.cpus.contains(&l.cpu) {
            bail!("lcore {} cpu = {}: this process may run on CPUs {}", l.id, l.cpu, env.cpu_list());
        }
        let runs_bound_nodes =
            file.lcores.iter().any(|f| f.id == l.id && f.nodes.as_ref().is_some_and(|n| !n.is_empty()));
        let dispatch = o.model.as_deref().or(file.model.as_deref()) == Some("dispatch");
        if l.rx.is_empty() && !(dispatch && runs_bound_nodes) {
            bail!("lcore {}: polls no (port, queue){}", l.id, if dispatch { " and runs no bound node" } else { "" });
        }
        // Ports filtered out by -p are dropped from the lcore's list.
        if o.portmask.is_some() {
            l.rx.retain(|(p, _)| port(*p).is_some());
        }
        for &(p, q) in &l.rx {
            let Some(pp) = port(p) else { bail!("lcore {} rx ({p}, {q}): port {p} is not configured", l.id) };
            if q >= pp.rx_queues {
                bail!("lcore {} rx ({p}, {q}): port {p} has {} rx queue(s)", l.id, pp.rx_queues);
            }
            if let Some(other) = used.insert((p, q), l.id) {
                bail!("rx ({p}, {q}) is polled by lcores {other} and {}: a queue belongs to one lcore", l.id);
            }
        }
    }
    // A worker left with no queue (the ports it polled were filtered out)
    // is dropped, unless it runs bound nodes in the dispatch model.
    let dispatch = o.model.as_deref().or(file.model.as_deref()) == Some("dispatch");
    lcores.retain(|l| {
        !l.rx.is_empty()
            || (dispatch && file.lcores.iter().any(|f| f.id == l.id && f.nodes.as_ref().is_some_and(|n| !n.is_empty())))
    });
    if !lcores.iter().any(|l| !l.rx.is_empty()) {
        bail!("no lcore polls any selected port");
    }
    if env.dpdk.is_none() {
        let mut on_cpu: BTreeMap<usize, u32> = BTreeMap::new();
        for l in &lcores {
            if let Some(other) = on_cpu.insert(l.cpu, l.id) {
                bail!(
                    "lcores {other} and {} are both on cpu {}: a worker busy-polls its CPU, give each its own",
                    l.id,
                    l.cpu
                );
            }
        }
    }
    Ok(lcores)
}

/// The ports' addresses in a table of their own (each checked as the
/// router checks it: unicast, a host of its subnet, no overlap).
pub fn interfaces(ports: &[PortPlan]) -> Result<Interfaces, ConfigError> {
    let ifaces = Interfaces::new();
    for p in ports {
        ifaces.set_port(p.id, [0; 6], p.mtu).map_err(|e| ConfigError::Invalid(format!("port {} addr: {e}", p.id)))?;
        for a in &p.addrs {
            ifaces
                .add_addr(p.id, *a)
                .map_err(|e| ConfigError::Invalid(format!("port {} addr = \"{a}\": {e}", p.id)))?;
        }
        for a in &p.addrs6 {
            ifaces
                .add_addr6(p.id, *a)
                .map_err(|e| ConfigError::Invalid(format!("port {} addr = \"{a}\": {e}", p.id)))?;
        }
    }
    Ok(ifaces)
}

/// `[arp]` and `[icmp]`, each checked against its range.
fn plan_neigh(file: &FileConfig) -> Result<(NeighConfig, IcmpLimit), ConfigError> {
    let d = NeighConfig::default();
    let a = &file.arp;
    let hold = a.hold.unwrap_or(d.hold);
    if !(1..=1024).contains(&hold) {
        bail!("arp hold = {hold}: outside 1..=1024 packets");
    }
    let max_entries = a.max_neighbours.unwrap_or(d.max_entries);
    if !(1..=MAX_NEIGHBOURS).contains(&max_entries) {
        bail!("arp max_neighbours = {max_entries}: outside 1..={MAX_NEIGHBOURS}");
    }
    let reachable = a.reachable_secs.unwrap_or(d.reachable.as_secs_f64());
    if !(0.1..=86400.0).contains(&reachable) {
        bail!("arp reachable_secs = {reachable}: outside 0.1..=86400");
    }
    let retrans = a.retrans_ms.unwrap_or(d.retrans.as_millis() as u64);
    if !(10..=60_000).contains(&retrans) {
        bail!("arp retrans_ms = {retrans}: outside 10..=60000");
    }
    let retries = a.retries.unwrap_or(d.retries);
    if !(1..=100).contains(&retries) {
        bail!("arp retries = {retries}: outside 1..=100");
    }
    let di = IcmpLimit::default();
    let icmp = IcmpLimit { rate: file.icmp.rate.unwrap_or(di.rate), burst: file.icmp.burst.unwrap_or(di.burst) };
    if icmp.rate > 10_000_000 || icmp.burst > 1_000_000 {
        bail!("icmp rate = {} burst = {}: at most 10000000 per second and 1000000 at once", icmp.rate, icmp.burst);
    }
    let neigh = NeighConfig {
        hold,
        max_entries,
        reachable: std::time::Duration::from_secs_f64(reachable),
        retrans: std::time::Duration::from_millis(retrans),
        retries,
    };
    Ok((neigh, icmp))
}

/// Next hops: one per port (its neighbour, id = port id, as DPDK), plus
/// the file's `[[neighbour]]`s.
fn plan_hops(file: &FileConfig, ports: &[PortPlan]) -> Result<Vec<HopPlan>, ConfigError> {
    let port = |id: u16| ports.iter().find(|p| p.id == id);

    // Next hops: one per port (its neighbour, id = port id, as DPDK),
    // plus the file's.
    let mut hops: Vec<HopPlan> = ports.iter().map(|p| HopPlan { id: p.id, port: p.id, mac: p.neighbour }).collect();
    let mut seen = BTreeSet::new();
    for n in &file.neighbours {
        if port(n.port).is_none() {
            bail!("neighbour {} port = {}: port {} is not configured", n.id, n.port, n.port);
        }
        if n.id >= graph_nodes::neigh::GLEAN_BASE {
            bail!("neighbour id = {}: ids from {} on are the neighbour table's", n.id, graph_nodes::neigh::GLEAN_BASE);
        }
        if port(n.id).is_some() {
            bail!(
                "neighbour id = {}: next hop {} is port {}'s own neighbour (set it with that port's neighbour key); use an id that is not a port id",
                n.id,
                n.id,
                n.id
            );
        }
        if !seen.insert(n.id) {
            bail!("neighbour id = {}: defined twice", n.id);
        }
        let m = mac(&format!("neighbour {} mac", n.id), &n.mac)?;
        match hops.iter_mut().find(|h| h.id == n.id) {
            Some(h) => *h = HopPlan { id: n.id, port: n.port, mac: m },
            None => hops.push(HopPlan { id: n.id, port: n.port, mac: m }),
        }
    }
    Ok(hops)
}

/// Routes: the file's, or DPDK's defaults 198.18.N.0/24 → port N.
fn plan_routes(file: &FileConfig, ports: &[PortPlan], hops: &[HopPlan]) -> Result<Vec<RoutePlan>, ConfigError> {
    let port = |id: u16| ports.iter().find(|p| p.id == id);
    let ifaces = interfaces(ports)?;

    // Routes: the file's, or DPDK's defaults 198.18.N.0/24 → port N.
    let mut routes = Vec::new();
    if file.routes.is_empty() {
        for p in ports {
            if p.id < 256 {
                routes.push(RoutePlan {
                    prefix: Ipv4Addr::new(198, 18, p.id as u8, 0).into(),
                    depth: 24,
                    next_hop: p.id,
                    via: None,
                });
            }
        }
    }
    let mut seen = BTreeSet::new();
    for r in &file.routes {
        let (addr, depth): (std::net::IpAddr, u8) = if r.prefix.contains(':') {
            let p: graph_nodes::wire::Ipv6Prefix =
                r.prefix.parse().map_err(|e| ConfigError::Invalid(format!("route prefix = \"{}\": {e}", r.prefix)))?;
            if p.addr & !p.mask() != 0 {
                bail!(
                    "route prefix = \"{}\": host bits set (the network is {}/{})",
                    r.prefix,
                    std::net::Ipv6Addr::from(p.network()),
                    p.len
                );
            }
            (p.ip().into(), p.len)
        } else {
            let (addr, depth) = prefix(&r.prefix)?;
            let mask = graph_nodes::wire::Ipv4Prefix { addr: 0, len: depth }.mask();
            if u32::from(addr) & !mask != 0 {
                bail!(
                    "route prefix = \"{}\": host bits set (the network is {}/{depth})",
                    r.prefix,
                    Ipv4Addr::from(u32::from(addr) & mask)
                );
            }
            (addr.into(), depth)
        };
        if !seen.insert((addr, depth)) {
            bail!("route prefix = \"{}\": defined twice", r.prefix);
        }
        let (nh, via) = match (r.port, r.next_hop, &r.via) {
            (Some(p), None, None) => {
                if port(p).is_none() {
                    bail!("route {} port = {p}: port {p} is not configured", r.prefix);
                }
                (p, None)
            }
            (None, Some(n), None) => {
                if !hops.iter().any(|h| h.id == n) {
                    bail!("route {} next_hop = {n}: no [[neighbour]] or port with id {n}", r.prefix);
                }
                (n, None)
            }
            (None, None, Some(v)) => {
                let gw: std::net::IpAddr = v.parse().map_err(|_| {
                    ConfigError::Invalid(format!("route {} via = \"{v}\": not an IP address", r.prefix))
                })?;
                let (on_link, own) = match gw {
                    std::net::IpAddr::V4(g) if addr.is_ipv4() => {
                        (ifaces.connected(u32::from(g)).is_some(), ifaces.is_local(u32::from(g)))
                    }
                    std::net::IpAddr::V6(g) if addr.is_ipv6() => {
                        (ifaces.connected6(u128::from(g)).is_some(), ifaces.is_local6(u128::from(g)))
                    }
                    _ => bail!("route {} via = \"{v}\": not of the prefix's address family", r.prefix),
                };
                if !on_link {
                    bail!("route {} via = \"{v}\": not in a subnet of any port's addr", r.prefix);
                }
                if own {
                    bail!("route {} via = \"{v}\": that is the router's own address", r.prefix);
                }
                (0, Some(gw))
            }
            _ => bail!("route {}: give exactly one of port, next_hop or via", r.prefix),
        };
        routes.push(RoutePlan { prefix: addr, depth, next_hop: nh, via });
    }
    Ok(routes)
}

/// The per-lcore pool cache when the configuration names none: 256, as
/// DPDK's l3fwd-graph; for DPDK pools, a walk's worth of buffers on the
/// busiest lcore (its rx queues times the burst), 256 to 512 (the mempool's
/// limit). A walk takes that many buffers from its lcore's cache and the
/// drivers free as many back into it, one by one: with a smaller cache,
/// every walk flushes hundreds to the pool's ring and takes older, colder
/// ones back (docs/performance.md: ethdev_rx and ethdev_tx 10 % faster).
/// Our own pools take frees in bulk and gained nothing. With `pool_size`
/// given, no larger than the pool leaves room for, so that a pool size
/// that worked with 256 still does.
fn default_pool_cache(lcores: &[LcorePlan], burst: u32, pool_size: Option<u32>, dpdk: bool) -> u32 {
    if !dpdk {
        return 256;
    }
    let walk = lcores.iter().map(|l| l.rx.len() as u32 * burst).max().unwrap_or(0);
    let cache = walk.clamp(256, 512);
    match pool_size {
        // Caches keep up to 1.5 times their size, and a burst must be left.
        Some(n) => cache.min((n.saturating_sub(burst) * 2 / (3 * lcores.len().max(1) as u32)).max(256)),
        None => cache,
    }
}

/// Sizes, intervals and limits, each checked against its range.
struct Tuning {
    burst: usize,
    pool_size: u32,
    pool_cache: u32,
    per_port_pool: bool,
    stats_interval: f64,
    duration: Option<f64>,
    tbl8_groups: u32,
    stats_jsonl_interval: f64,
}

fn plan_tuning(
    file: &FileConfig,
    o: &Overrides,
    ports: &[PortPlan],
    lcores: &mut [LcorePlan],
    dpdk: bool,
) -> Result<Tuning, ConfigError> {
    let burst = o.burst.or(file.burst).unwrap_or(256);
    if burst == 0 || burst > 4096 {
        bail!("burst = {burst}: outside 1..=4096");
    }
    let nrxq: u32 = ports.iter().map(|p| u32::from(p.rx_queues)).sum();
    let per_port_pool = o.per_port_pool || file.per_port_pool.unwrap_or(false);
    let given_size = o.pool_size.or(file.pool_size);
    let pool_cache = file.pool_cache.unwrap_or_else(|| default_pool_cache(lcores, burst as u32, given_size, dpdk));
    if pool_cache > 512 {
        bail!("pool_cache = {pool_cache}: at most 512");
    }
    let auto = (nrxq * burst as u32 * 4 + lcores.len() as u32 * (pool_cache * 2 + burst as u32)).max(8192);
    let pool_size = given_size.unwrap_or(auto);
    if pool_size < burst as u32 * 2 {
        bail!("pool_size = {pool_size}: smaller than two bursts ({})", burst * 2);
    }
    if pool_size > MAX_POOL_SIZE {
        bail!("pool_size = {pool_size}: at most {MAX_POOL_SIZE} buffers");
    }
    // Each lcore's cache keeps up to 1.5 caches' worth before it flushes:
    // beyond what all caches can hold, the pool must keep a burst for the
    // shared stack, or an lcore can starve for ever while the others'
    // caches sit on every buffer (a pool merely short of buffers is fine:
    // it is counted in rx_nombuf).
    let cached = lcores.len() as u32 * pool_cache * 3 / 2;
    let need = cached + burst as u32;
    if pool_size < need {
        bail!(
            "pool_size = {pool_size}: {} lcore cache(s) of pool_cache = {pool_cache} can hold {cached} buffers; give at least {need} (a burst beyond them) or a smaller pool_cache",
            lcores.len()
        );
    }
    let stats_interval = o.stats_interval.or(file.stats_interval).unwrap_or(1.0);
    if !(0.0..=86400.0).contains(&stats_interval) {
        bail!("stats_interval = {stats_interval}: outside 0..=86400 seconds");
    }
    let duration = o.duration.or(file.duration);
    if let Some(d) = duration {
        if !(d > 0.0 && d <= 1e9) {
            bail!("duration = {d}: must be a positive number of seconds");
        }
    }
    let tbl8_groups = file.tbl8_groups.unwrap_or(graph_nodes::ip4_lookup::DEFAULT_TBL8_GROUPS);
    let stats_jsonl_interval = file.stats_jsonl_interval.unwrap_or(1.0);
    if !(MIN_JSONL_INTERVAL..=86400.0).contains(&stats_jsonl_interval) {
        bail!("stats_jsonl_interval = {stats_jsonl_interval}: outside {MIN_JSONL_INTERVAL}..=86400 seconds");
    }
    if let Some(r) = o.walks_per_poll {
        if r == 0 || r > 1_000_000 {
            bail!("--walks-per-poll {r}: outside 1..=1000000");
        }
        for l in lcores.iter_mut() {
            l.walks_per_poll = r;
        }
    }
    for l in lcores.iter() {
        if l.walks_per_poll == 0 || l.walks_per_poll > 1_000_000 {
            bail!("lcore {} walks_per_poll = {}: outside 1..=1000000", l.id, l.walks_per_poll);
        }
    }
    if tbl8_groups == 0 || tbl8_groups > 1 << 24 {
        bail!("tbl8_groups = {tbl8_groups}: outside 1..=16777216");
    }
    Ok(Tuning {
        burst,
        pool_size,
        pool_cache,
        per_port_pool,
        stats_interval,
        duration,
        tbl8_groups,
        stats_jsonl_interval,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(file: &str, o: &Overrides) -> String {
        match parse_file(file).and_then(|f| plan(&f, o, &Env::native(2))) {
            Ok(_) => panic!("accepted: {file}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn dpdk_flags_parse() {
        assert_eq!(parse_dpdk_config("(0,0,1),(1,0,1)").unwrap().0, vec![(0, 0, 1), (1, 0, 1)]);
        assert_eq!(parse_dpdk_config(" (0, 1, 2) ").unwrap().0, vec![(0, 1, 2)]);
        assert!(parse_dpdk_config("(0,0)").unwrap_err().to_string().contains("(port,queue,lcore)"));
        assert!(parse_dpdk_config("(0,x,1)").unwrap_err().to_string().contains("queue \"x\""));
        assert!(parse_dpdk_config("0,0,1").unwrap_err().to_string().contains("'('"));
        assert!(parse_dpdk_config("").is_err());
        assert_eq!(parse_portmask("0x3").unwrap(), 3);
        assert!(parse_portmask("0").is_err());
        assert!(parse_portmask("zz").unwrap_err().to_string().contains("-p \"zz\""));
        assert_eq!(parse_eth_dest("1,52:00:00:00:00:01").unwrap(), (1, [0x52, 0, 0, 0, 0, 1]));
        assert!(parse_eth_dest("1;x").is_err());
    }

    #[test]
    fn defaults_are_dpdks() {
        let p = plan(&demo_file(), &Overrides::default(), &Env::native(2)).unwrap();
        assert_eq!(p.ports.len(), 2);
        assert_eq!(p.lcores.len(), 1);
        assert_eq!(p.lcores[0].cpu, 1);
        assert_eq!(p.lcores[0].rx, vec![(0, 0), (1, 0)]);
        assert_eq!(p.routes.len(), 2);
        assert_eq!(p.routes[1].prefix, std::net::IpAddr::from(Ipv4Addr::new(198, 18, 1, 0)));
        assert_eq!(p.hops[1].mac, [2, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn bad_configs_are_one_line_naming_the_key() {
        let base = "[[port]]\nid = 0\nbackend = \"generator\"\n";
        let o = Overrides::default();
        assert!(err("burst = \"x\"", &o).contains("line 1"));
        assert!(err("bogus = 1", &o).contains("bogus"));
        assert!(err(&format!("{base}[[lcore]]\nid = 1\ncpu = 7\nrx = [[0, 0]]\n"), &o).contains("cpu = 7"));
        assert!(err(&format!("{base}[[lcore]]\nid = 1\nrx = [[0, 0]]\n[[lcore]]\nid = 0\nrx = [[0, 0]]\n"), &o)
            .contains("polled by lcores 1 and 0"));
        assert!(err(&format!("{base}[[route]]\nprefix = \"10.0.0.0/8\"\nport = 3\n"), &o)
            .contains("port 3 is not configured"));
        assert!(err(&format!("{base}[[route]]\nprefix = \"10.0.0.0/33\"\nport = 0\n"), &o).contains("10.0.0.0/33"));
        assert!(err(&format!("{base}[[lcore]]\nid = 1\nrx = [[0, 1]]\n"), &o).contains("has 1 rx queue"));
        assert!(err(&format!("{base}mac = \"nope\"\n"), &o).contains("port 0 mac = \"nope\""));
        let o2 = Overrides { portmask: Some(0b10), ..Overrides::default() };
        assert!(err(base, &o2).contains("port 1 is not configured"));
        let o3 = Overrides { max_pkt_len: Some(10), ..Overrides::default() };
        assert!(err(base, &o3).contains("--max-pkt-len 10"));
        assert!(err(&format!("{base}[[lcore]]\nid = 1\nrx = [[0, 0]]\nwalks_per_poll = 0\n"), &o)
            .contains("lcore 1 walks_per_poll = 0"));
        let o4 = Overrides { walks_per_poll: Some(2_000_000), ..Overrides::default() };
        assert!(err(base, &o4).contains("--walks-per-poll 2000000"));
        assert!(err(&format!("stats_jsonl_interval = 0\n{base}"), &o).contains("stats_jsonl_interval = 0"));
        for e in [err("burst = 0", &o), err(&format!("{base}burst = 0"), &o)] {
            assert!(!e.contains('\n'), "{e}");
        }
    }

    /// Interface addresses, gateways and the neighbour table's settings:
    /// accepted when right, refused with one line naming the key when not.
    #[test]
    fn addresses_gateways_and_their_limits() {
        let port = |id: u16, addr: &str| format!("[[port]]\nid = {id}\nbackend = \"generator\"\naddr = [{addr}]\n");
        let o = Overrides::default();
        let good = format!(
            "{}{}[[route]]\nprefix = \"0.0.0.0/0\"\nvia = \"10.0.1.254\"\n[[route]]\nprefix = \"::/0\"\nvia = \"2001:db8:1::fe\"\n",
            port(0, "\"10.0.0.1/24\", \"2001:db8::1/64\""),
            port(1, "\"10.0.1.1/24\", \"2001:db8:1::1/64\"")
        );
        let p = plan(&parse_file(&good).unwrap(), &o, &Env::native(2)).unwrap();
        assert_eq!((p.ports[0].addrs.len(), p.ports[0].addrs6.len()), (1, 1));
        assert_eq!(p.routes.len(), 2);
        assert!(p.routes.iter().all(|r| r.via.is_some()));
        let cases = [
            (port(0, "\"10.0.0.1\""), "give the prefix length (\"10.0.0.1/24\")"),
            (port(0, "\"10.0.0.0/24\""), "network or broadcast"),
            (port(0, "\"fe80::1/64\""), "link-local addresses are not supported"),
            (port(0, "\"2001:db8::/64\""), "subnet-router anycast"),
            (port(0, "\"2001:db8::1/64\"") + "mtu = 1000\n", "below IPv6's minimum of 1280"),
            (port(0, "\"10.0.0.1/24\"") + &port(1, "\"10.0.0.2/16\""), "overlaps 10.0.0.1/24 on port 0"),
            (
                port(0, "\"10.0.0.1/24\"") + "[[route]]\nprefix = \"10.9.0.0/16\"\nvia = \"10.1.0.1\"\n",
                "not in a subnet",
            ),
            (
                port(0, "\"10.0.0.1/24\"") + "[[route]]\nprefix = \"10.9.0.0/16\"\nvia = \"10.0.0.1\"\n",
                "router's own address",
            ),
            (
                port(0, "\"2001:db8::1/64\"") + "[[route]]\nprefix = \"10.9.0.0/16\"\nvia = \"2001:db8::2\"\n",
                "address family",
            ),
            (port(0, "\"2001:db8::1/64\"") + "[[route]]\nprefix = \"2001:db9::1/32\"\nport = 0\n", "host bits set"),
            (port(0, "\"10.0.0.1/24\"") + "[arp]\nhold = 0\n", "arp hold = 0: outside 1..=1024"),
            (port(0, "\"10.0.0.1/24\"") + "[arp]\nretrans_ms = 5\n", "arp retrans_ms = 5"),
            (port(0, "\"10.0.0.1/24\"") + "[icmp]\nrate = 20000000\n", "icmp rate = 20000000"),
        ];
        for (file, needle) in cases {
            let e = err(&file, &o);
            assert!(e.contains(needle) && !e.contains('\n'), "{file}: {e}");
        }
    }

    /// Limits and conflicts that used to be accepted silently: each is
    /// refused with one line naming the key and the limit.
    #[test]
    fn limits_and_conflicts_are_refused_with_the_limit() {
        let base = "[[port]]\nid = 0\nbackend = \"generator\"\n";
        let two = format!("{base}[[port]]\nid = 1\nbackend = \"generator\"\n");
        let o = Overrides::default();
        // A frame must fit one buffer.
        let e = err(&format!("{base}mtu = 9000\n"), &o);
        assert!(e.contains("mtu = 9000") && e.contains("largest mtu 2030"), "{e}");
        let e = err(base, &Overrides { max_pkt_len: Some(9018), ..Overrides::default() });
        assert!(e.contains("--max-pkt-len 9018: outside 64..=2048"), "{e}");
        assert!(plan(&parse_file(&format!("{base}mtu = 2030\n")).unwrap(), &o, &Env::native(2)).is_ok());
        // Bounded sizes.
        let e = err(&format!("pool_size = 100000000\n{base}"), &o);
        assert!(e.contains("at most 1048576"), "{e}");
        let e = err(&format!("{base}rx_queues = 65535\n"), &o);
        assert!(e.contains("rx_queues = 65535: at most 64"), "{e}");
        let e = err(&format!("stats_jsonl_interval = 1e-300\n{base}"), &o);
        assert!(e.contains("outside 0.001..=86400"), "{e}");
        // Caches that could hold the whole pool.
        let lc = "[[lcore]]\nid = 0\ncpu = 0\nrx = [[0, 0]]\n[[lcore]]\nid = 1\ncpu = 1\nrx = [[1, 0]]\n";
        let o2 = Overrides { pool_size: Some(64), burst: Some(32), ..Overrides::default() };
        let e = err(&format!("{two}{lc}"), &o2);
        assert!(e.contains("pool_size = 64") && e.contains("can hold 768") && e.contains("at least 800"), "{e}");
        let ok = parse_file(&format!("pool_cache = 0\n{two}{lc}")).unwrap();
        assert!(plan(
            &ok,
            &Overrides { pool_size: Some(256), burst: Some(32), ..Overrides::default() },
            &Env::native(2)
        )
        .is_ok());
        // Host bits, duplicate routes and neighbours, a neighbour id that is
        // a port's next hop.
        let e = err(&format!("{base}[[route]]\nprefix = \"10.0.0.1/8\"\nport = 0\n"), &o);
        assert!(e.contains("host bits set (the network is 10.0.0.0/8)"), "{e}");
        let r = "[[route]]\nprefix = \"10.0.0.0/8\"\nport = 0\n";
        assert!(err(&format!("{base}{r}{r}"), &o).contains("\"10.0.0.0/8\": defined twice"));
        let n = "[[neighbour]]\nid = 7\nport = 0\nmac = \"52:00:00:00:00:07\"\n";
        assert!(err(&format!("{base}{n}{n}"), &o).contains("neighbour id = 7: defined twice"));
        let e = err(&format!("{base}[[neighbour]]\nid = 0\nport = 0\nmac = \"52:00:00:00:00:07\"\n"), &o);
        assert!(e.contains("neighbour id = 0") && e.contains("not a port id"), "{e}");
        // Two workers on one CPU.
        let same = "[[lcore]]\nid = 0\ncpu = 1\nrx = [[0, 0]]\n[[lcore]]\nid = 1\ncpu = 1\nrx = [[1, 0]]\n";
        assert!(err(&format!("{two}{same}"), &o).contains("lcores 0 and 1 are both on cpu 1"));
    }

    #[test]
    fn outputs_may_not_collide_with_each_other_or_an_input() {
        let port =
            |id: u16, params: &str| format!("[[port]]\nid = {id}\nbackend = \"pcap\"\nparams = {{ {params} }}\n");
        let o = Overrides::default();
        let e = err(
            &format!(
                "{}{}",
                port(0, "rx_pcap = \"/tmp/a.pcap\", tx_pcap = \"/tmp/o.pcap\""),
                port(1, "rx_pcap = \"/tmp/b.pcap\", tx_pcap = \"/tmp/./o.pcap\"")
            ),
            &o,
        );
        assert!(e.contains("port 1 tx_pcap") && e.contains("the same file as port 0 tx_pcap"), "{e}");
        let e = err(&port(0, "rx_pcap = \"/tmp/a.pcap\", tx_pcap = \"/tmp/a.pcap\""), &o);
        assert!(e.contains("would destroy the input"), "{e}");
        let json = Overrides { stats_json: Some(PathBuf::from("/tmp/o.pcap")), ..Overrides::default() };
        let e = err(&port(0, "rx_pcap = \"/tmp/a.pcap\", tx_pcap = \"/tmp/o.pcap\""), &json);
        assert!(e.contains("stats_json /tmp/o.pcap: the same file as port 0 tx_pcap"), "{e}");
    }

    #[test]
    fn output_paths_are_checked_before_the_run() {
        let base = "[[port]]\nid = 0\nbackend = \"generator\"\n";
        let o = |p: &str| Overrides { stats_json: Some(PathBuf::from(p)), ..Overrides::default() };
        assert!(err(base, &o("/nonexistent/dir/s.json")).contains("directory /nonexistent/dir does not exist"));
        assert!(err(base, &o("/tmp")).contains("stats_json /tmp: is a directory"));
        let jl = Overrides { stats_jsonl: Some(PathBuf::from("/nonexistent/s.jsonl")), ..Overrides::default() };
        assert!(err(base, &jl).contains("stats_jsonl /nonexistent/s.jsonl: directory /nonexistent does not exist"));
        let ok = std::env::temp_dir().join(format!("l3fwd-out-{}.json", std::process::id()));
        assert!(plan(&parse_file(base).unwrap(), &o(ok.to_str().unwrap()), &Env::native(2)).is_ok());
        assert!(!ok.exists(), "the check creates nothing");
    }

    /// CPUs come from the affinity mask: under `taskset -c 1`, CPU 1 is
    /// the one to use, and CPU 0 is refused with the allowed set.
    #[test]
    fn cpus_come_from_the_affinity_mask() {
        let only1 = Env::with_cpus(vec![1]);
        let p = plan(&demo_file(), &Overrides::default(), &only1).unwrap();
        assert_eq!(p.lcores[0].cpu, 1);
        let f = parse_file("[[port]]\nid = 0\nbackend = \"generator\"\n[[lcore]]\nid = 1\ncpu = 1\nrx = [[0, 0]]\n")
            .unwrap();
        assert!(plan(&f, &Overrides::default(), &only1).is_ok());
        let f0 = parse_file("[[port]]\nid = 0\nbackend = \"generator\"\n[[lcore]]\nid = 0\ncpu = 0\nrx = [[0, 0]]\n")
            .unwrap();
        let e = plan(&f0, &Overrides::default(), &only1).unwrap_err().to_string();
        assert!(e.contains("cpu = 0: this process may run on CPUs 1"), "{e}");
        assert_eq!(Env::with_cpus(vec![0, 2, 5]).cpu_list(), "0, 2, 5");
        assert_eq!(Env::with_cpus(vec![3, 2]).cpu_list(), "2-3");
    }

    #[test]
    fn flags_override_the_file() {
        let f = parse_file(
            "burst = 32\n[[port]]\nid = 0\nbackend = \"generator\"\nneighbour = \"52:00:00:00:00:01\"\n[[port]]\nid = 1\nbackend = \"generator\"\n",
        )
        .unwrap();
        let o = Overrides {
            config: Some(DpdkConfig(vec![(0, 0, 0), (1, 0, 1)])),
            eth_dest: vec![(0, [0x52, 0, 0, 0, 0, 9])],
            burst: Some(64),
            max_pkt_len: Some(1518),
            ..Overrides::default()
        };
        let p = plan(&f, &o, &Env::native(2)).unwrap();
        assert_eq!(p.burst, 64);
        assert_eq!(p.lcores.len(), 2);
        assert_eq!(p.ports[0].neighbour, [0x52, 0, 0, 0, 0, 9]);
        assert_eq!(p.ports[0].mtu, 1500);
    }

    #[test]
    fn the_default_pool_cache_holds_a_walk_on_dpdk_pools() {
        let lc = |rx: usize| LcorePlan { id: 0, cpu: 0, rx: vec![(0, 0); rx], walks_per_poll: 1 };
        // Our own pools: DPDK l3fwd-graph's 256 whatever the walk.
        assert_eq!(default_pool_cache(&[lc(2)], 256, None, false), 256);
        // DPDK pools: a walk's worth, 256..=512.
        assert_eq!(default_pool_cache(&[lc(1)], 256, None, true), 256);
        assert_eq!(default_pool_cache(&[lc(2)], 256, None, true), 512);
        assert_eq!(default_pool_cache(&[lc(1), lc(3)], 128, None, true), 384);
        assert_eq!(default_pool_cache(&[lc(4)], 256, None, true), 512);
        assert_eq!(default_pool_cache(&[lc(1)], 32, None, true), 256);
        // A given pool size caps it (1.5 caches and a burst must fit), but
        // never below 256: what fitted before still does.
        assert_eq!(default_pool_cache(&[lc(2), lc(2)], 256, Some(1536), true), 426);
        assert_eq!(default_pool_cache(&[lc(2)], 256, Some(600), true), 256);
        // And the plan uses it.
        let two = "[[port]]\nid = 0\nbackend = \"generator\"\n[[port]]\nid = 1\nbackend = \"generator\"\n";
        let p = plan(&parse_file(two).unwrap(), &Overrides::default(), &Env::native(2)).unwrap();
        assert_eq!(p.pool_cache, 256);
        let p = plan(&parse_file(&format!("pool_cache = 64\n{two}")).unwrap(), &Overrides::default(), &Env::native(2))
            .unwrap();
        assert_eq!(p.pool_cache, 64);
    }
}
