//! The statistics schema, one for every output: the final `--stats-json`
//! file, each `--stats-jsonl` line and the control socket's `stats` reply
//! are all a [`Report`], serialised the same way.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use graph_core::{ClusterNodeStats, ClusterStats, CycleHistogram, GraphError};
use graph_nodes::port::{Port, PortCounters};
use graph_nodes::Mempool;
use serde::Serialize;

/// One port's counters (`rte_eth_stats`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortReport {
    pub id: u16,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_missed: u64,
    pub tx_errors: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_nombuf: u64,
    pub rx_errors: u64,
}

impl PortReport {
    /// From a port's counters.
    pub fn new(id: u16, c: PortCounters) -> Self {
        PortReport {
            id,
            rx_packets: c.ipackets,
            tx_packets: c.opackets,
            rx_missed: c.imissed,
            tx_errors: c.oerrors,
            rx_bytes: c.ibytes,
            tx_bytes: c.obytes,
            rx_nombuf: c.rx_nombuf,
            rx_errors: c.ierrors,
        }
    }
}

/// One node, summed over the workers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeReport {
    pub name: String,
    pub calls: u64,
    pub objs: u64,
    pub cycles: u64,
    /// Drop reasons: packets the node freed, by reason.
    pub counters: BTreeMap<String, u64>,
    /// Plain counters (observations): never drops.
    pub observations: BTreeMap<String, u64>,
    /// Cycles per call: quantiles of the histogram.
    pub latency: Latency,
    /// The histogram itself (OpenMetrics exports it; JSON has the
    /// quantiles).
    #[serde(skip)]
    pub hist: CycleHistogram,
}

/// Cycles per call of a node: calls counted and quantiles (each the upper
/// bound of its histogram bucket, within a quarter of the true value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Latency {
    pub calls: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl Latency {
    /// From a histogram.
    pub fn of(h: &CycleHistogram) -> Latency {
        Latency { calls: h.count(), p50: h.quantile(0.5), p90: h.quantile(0.9), p99: h.quantile(0.99), max: h.max }
    }
}

/// One worker lcore: where it runs, what it polls, its nodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LcoreReport {
    pub lcore: u32,
    pub cpu: usize,
    /// (port, queue) pairs it polls.
    pub rx: Vec<(u16, u16)>,
    pub nodes: Vec<NodeReport>,
}

/// A worker lcore as the statistics see it.
pub struct Worker {
    pub lcore: u32,
    pub cpu: usize,
    pub rx: Vec<(u16, u16)>,
}

/// Where a report's node rows come from: every worker's graph summed, and
/// each worker's own.
pub struct StatsSource {
    all: ClusterStats,
    lcores: Vec<(Worker, ClusterStats)>,
}

impl StatsSource {
    /// Statistics of the graphs `worker_<lcore>` of `workers`.
    pub fn new(workers: Vec<Worker>) -> Result<StatsSource, GraphError> {
        let all = ClusterStats::new(&["worker_*"])?;
        let mut lcores = Vec::with_capacity(workers.len());
        for w in workers {
            // `worker_<l>.<n>`: graphs that replaced it (live changes).
            let mut c = ClusterStats::new(&[format!("worker_{}", w.lcore)])?;
            c.add_pattern(&format!("worker_{}.*", w.lcore))?;
            lcores.push((w, c));
        }
        Ok(StatsSource { all, lcores })
    }

    /// No graphs (tests of the control commands).
    pub fn empty() -> StatsSource {
        StatsSource { all: ClusterStats::for_graphs(&[]), lcores: Vec::new() }
    }

    /// Rows summed over the workers (DPDK's cluster statistics), graphs
    /// that replaced others included.
    pub fn all(&mut self) -> Vec<ClusterNodeStats> {
        self.all.refresh();
        self.all.get()
    }

    /// Names of the nodes of the workers' graphs.
    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.all.node_names()
    }

    fn lcore_reports(&mut self) -> Vec<LcoreReport> {
        self.lcores
            .iter_mut()
            .map(|(w, c)| {
                c.refresh();
                LcoreReport { lcore: w.lcore, cpu: w.cpu, rx: w.rx.clone(), nodes: node_reports(&c.get()) }
            })
            .collect()
    }
}

fn node_reports(rows: &[ClusterNodeStats]) -> Vec<NodeReport> {
    rows.iter()
        .map(|r| NodeReport {
            name: r.name.clone(),
            calls: r.calls,
            objs: r.objs,
            cycles: r.cycles,
            counters: r.counters.clone(),
            observations: r.observations.clone(),
            latency: Latency::of(&r.latency),
            hist: r.latency.clone(),
        })
        .collect()
}

/// Statistics of a run so far (or of the whole run, at the end).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub elapsed_s: f64,
    pub ports: Vec<PortReport>,
    /// Nodes summed over the worker lcores.
    pub nodes: Vec<NodeReport>,
    pub lcores: Vec<u32>,
    /// Each worker lcore's own rows.
    pub per_lcore: Vec<LcoreReport>,
    /// Buffers of the router's pools not free (0 at the end of a clean
    /// run; packets in flight while it runs).
    pub pool_in_use: u32,
    /// Packets that were waiting for a neighbour's link address when the
    /// router stopped, freed then (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub held_at_stop: u64,
    /// The dispatch model's hand-overs, per lcore (absent in run to
    /// completion).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatch: Option<Vec<DispatchReport>>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// One lcore's hand-overs in the dispatch model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DispatchReport {
    pub lcore: u32,
    /// Streams handed to other lcores, and their packets.
    pub sent: u64,
    pub sent_objs: u64,
    /// Streams taken from its queue.
    pub received: u64,
    /// Times a stream waited for room in a full queue.
    pub full: u64,
    /// Cycles spent handing over and taking in.
    pub cycles: u64,
}

impl DispatchReport {
    /// From a dispatch set's counters.
    pub fn from_set(set: &graph_core::Dispatch) -> Vec<DispatchReport> {
        set.stats()
            .into_iter()
            .map(|s| DispatchReport {
                lcore: s.lcore,
                sent: s.sent,
                sent_objs: s.sent_objs,
                received: s.received,
                full: s.full,
                cycles: s.cycles,
            })
            .collect()
    }
}

impl Report {
    /// A report from the ports, the node rows (`rows`, as printed, or
    /// taken from `stats`), the workers and the pools.
    pub fn collect(
        elapsed_s: f64,
        ports: &[Arc<Port>],
        stats: &mut StatsSource,
        rows: Option<&[ClusterNodeStats]>,
        pools: &[Mempool],
    ) -> Report {
        let nodes = match rows {
            Some(r) => node_reports(r),
            None => node_reports(&stats.all()),
        };
        let per_lcore = stats.lcore_reports();
        Report {
            elapsed_s,
            ports: ports.iter().map(|p| PortReport::new(p.id(), p.stats())).collect(),
            nodes,
            lcores: per_lcore.iter().map(|l| l.lcore).collect(),
            per_lcore,
            pool_in_use: pools.iter().map(Mempool::in_use).sum(),
            held_at_stop: 0,
            dispatch: None,
        }
    }

    /// One line of JSON.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("a report serialises")
    }

    /// Writes the report as pretty JSON to `path`, whole: a regular file
    /// is written beside it and renamed over it, so a reader (or a run cut
    /// short) never sees half a report.
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("a report serialises") + "\n";
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return std::fs::write(path, text);
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let part = path.with_file_name(format!(".{name}.{}.part", std::process::id()));
        let r = std::fs::write(&part, text).and_then(|()| std::fs::rename(&part, path));
        if r.is_err() {
            let _ = std::fs::remove_file(&part);
        }
        r
    }

    /// A few lines for humans: what went through, how fast, what was
    /// dropped.
    pub fn summary(&self) -> String {
        let rx: u64 = self.ports.iter().map(|p| p.rx_packets).sum();
        let tx: u64 = self.ports.iter().map(|p| p.tx_packets).sum();
        let mut drops: Vec<(String, u64)> = Vec::new();
        for n in &self.nodes {
            for (k, v) in &n.counters {
                if *v > 0 {
                    drops.push((format!("{}.{k}", n.name), *v));
                }
            }
        }
        // Taken by a port but not sent (an output that failed): dropped
        // there, so that received = sent + dropped stays exact.
        for p in &self.ports {
            if p.tx_errors > 0 {
                drops.push((format!("port {} tx_errors", p.id), p.tx_errors));
            }
        }
        let dropped: u64 = drops.iter().map(|(_, v)| v).sum();
        let mut s = format!(
            "l3fwd-graph: {rx} packets received, {tx} sent, {dropped} dropped in {:.2} s on {} worker lcore(s): {:.2} Mpps forwarded\n",
            self.elapsed_s,
            self.lcores.len(),
            tx as f64 / self.elapsed_s.max(1e-9) / 1e6
        );
        for (k, v) in drops {
            s.push_str(&format!("  dropped {v:>12} {k}\n"));
        }
        let per_node: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.objs > 0)
            .map(|n| format!("{} {:.1}", n.name, n.cycles as f64 / n.objs as f64))
            .collect();
        s.push_str(&format!("  cycles/packet: {}\n", per_node.join(", ")));
        s
    }
}

/// OpenMetrics text exposition of a report: per-node calls, objects,
/// cycles, drops by reason and observations, and the cycles-per-call
/// histogram, each labelled with its worker `lcore`; per-port counters;
/// pool use and uptime. Ends with `# EOF`.
pub fn openmetrics(r: &Report) -> String {
    use std::fmt::Write;
    fn esc(s: &str) -> String {
        s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
    }
    let mut o = String::new();
    let mut family = |name: &str, kind: &str, help: &str, rows: &mut dyn FnMut(&mut String)| {
        let _ = writeln!(o, "# TYPE {name} {kind}\n# HELP {name} {help}");
        rows(&mut o);
    };
    let lc = &r.per_lcore;
    let node_counter = |field: fn(&NodeReport) -> u64, metric: &'static str| {
        move |o: &mut String| {
            for l in lc {
                for n in &l.nodes {
                    let _ =
                        writeln!(o, "{metric}_total{{lcore=\"{}\",node=\"{}\"}} {}", l.lcore, esc(&n.name), field(n));
                }
            }
        }
    };
    family(
        "l3fwd_node_calls",
        "counter",
        "Process calls of a node.",
        &mut node_counter(|n| n.calls, "l3fwd_node_calls"),
    );
    family(
        "l3fwd_node_objects",
        "counter",
        "Objects (packets) a node processed.",
        &mut node_counter(|n| n.objs, "l3fwd_node_objects"),
    );
    family(
        "l3fwd_node_cycles",
        "counter",
        "TSC cycles spent in a node.",
        &mut node_counter(|n| n.cycles, "l3fwd_node_cycles"),
    );
    family("l3fwd_node_drops", "counter", "Packets a node dropped, by reason.", &mut |o: &mut String| {
        for l in lc {
            for n in &l.nodes {
                for (k, v) in &n.counters {
                    let _ = writeln!(
                        o,
                        "l3fwd_node_drops_total{{lcore=\"{}\",node=\"{}\",reason=\"{}\"}} {v}",
                        l.lcore,
                        esc(&n.name),
                        esc(k)
                    );
                }
            }
        }
    });
    family("l3fwd_node_observations", "counter", "Plain counters of a node (not drops).", &mut |o: &mut String| {
        for l in lc {
            for n in &l.nodes {
                for (k, v) in &n.observations {
                    let _ = writeln!(
                        o,
                        "l3fwd_node_observations_total{{counter=\"{}\",lcore=\"{}\",node=\"{}\"}} {v}",
                        esc(k),
                        l.lcore,
                        esc(&n.name)
                    );
                }
            }
        }
    });
    if lc.iter().flat_map(|l| &l.nodes).any(|n| n.hist.count() > 0) {
        family(
            "l3fwd_node_cycles_per_call",
            "histogram",
            "TSC cycles per process call of a node.",
            &mut |o: &mut String| {
                for l in lc {
                    for n in &l.nodes {
                        let labels = format!("lcore=\"{}\",node=\"{}\"", l.lcore, esc(&n.name));
                        for k in 4..=24 {
                            let le = (1u64 << k) - 1;
                            let _ = writeln!(
                                o,
                                "l3fwd_node_cycles_per_call_bucket{{{labels},le=\"{le}\"}} {}",
                                n.hist.count_le(le)
                            );
                        }
                        let count = n.hist.count();
                        let _ = writeln!(o, "l3fwd_node_cycles_per_call_bucket{{{labels},le=\"+Inf\"}} {count}");
                        let _ = writeln!(o, "l3fwd_node_cycles_per_call_count{{{labels}}} {count}");
                        let _ = writeln!(o, "l3fwd_node_cycles_per_call_sum{{{labels}}} {}", n.cycles);
                    }
                }
            },
        );
    }
    type PortField = (&'static str, &'static str, fn(&PortReport) -> u64);
    const PORT: [PortField; 8] = [
        ("rx_packets", "Packets received.", |p| p.rx_packets),
        ("tx_packets", "Packets sent.", |p| p.tx_packets),
        ("rx_bytes", "Bytes received.", |p| p.rx_bytes),
        ("tx_bytes", "Bytes sent.", |p| p.tx_bytes),
        ("rx_missed", "Packets the port dropped (queue full).", |p| p.rx_missed),
        ("rx_errors", "Receive errors.", |p| p.rx_errors),
        ("rx_nombuf", "Receive failures for want of a buffer.", |p| p.rx_nombuf),
        ("tx_errors", "Packets taken for sending but not sent.", |p| p.tx_errors),
    ];
    for (field, help, get) in PORT {
        let name = format!("l3fwd_port_{field}");
        family(&name, "counter", help, &mut |o: &mut String| {
            for p in &r.ports {
                let _ = writeln!(o, "{name}_total{{port=\"{}\"}} {}", p.id, get(p));
            }
        });
    }
    family("l3fwd_pool_in_use", "gauge", "Packet buffers not free.", &mut |o: &mut String| {
        let _ = writeln!(o, "l3fwd_pool_in_use {}", r.pool_in_use);
    });
    family("l3fwd_uptime_seconds", "gauge", "Seconds since forwarding started.", &mut |o: &mut String| {
        let _ = writeln!(o, "l3fwd_uptime_seconds {:.3}", r.elapsed_s);
    });
    o.push_str("# EOF\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_schema_with_every_port_counter() {
        let r = Report {
            elapsed_s: 2.0,
            ports: vec![PortReport::new(3, PortCounters { ipackets: 10, opackets: 8, ..Default::default() })],
            nodes: vec![NodeReport {
                name: "ip4_lookup".into(),
                calls: 1,
                objs: 10,
                cycles: 200,
                counters: [("no_route".to_string(), 2)].into(),
                observations: [("udp".to_string(), 10)].into(),
                latency: Latency::default(),
                hist: CycleHistogram::default(),
            }],
            lcores: vec![1],
            per_lcore: vec![],
            pool_in_use: 0,
            held_at_stop: 0,
            dispatch: None,
        };
        let j: serde_json::Value = serde_json::from_str(&r.to_json_line()).unwrap();
        for k in [
            "id",
            "rx_packets",
            "tx_packets",
            "rx_missed",
            "tx_errors",
            "rx_bytes",
            "tx_bytes",
            "rx_nombuf",
            "rx_errors",
        ] {
            assert!(j["ports"][0].get(k).is_some(), "{k}");
        }
        assert_eq!(j["nodes"][0]["counters"]["no_route"], 2);
        assert!(r.summary().contains("10 packets received, 8 sent, 2 dropped"), "plain counters are not drops");
        assert!(!r.summary().contains("udp"));
        assert_eq!(j["nodes"][0]["observations"]["udp"], 10);
        let mut r2 = r.clone();
        r2.ports[0].tx_packets = 5;
        r2.ports[0].tx_errors = 3;
        assert!(r2.summary().contains("10 packets received, 5 sent, 5 dropped"), "{}", r2.summary());
        assert!(r2.summary().contains("port 3 tx_errors"));
    }
}
