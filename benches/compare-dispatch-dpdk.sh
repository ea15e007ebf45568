#!/usr/bin/env bash
# compare-dispatch.sh on DPDK ports (ours built with --features dpdk): two
# net_pcap ports replaying ../shared/data/ipv4-udp-64b-1024.pcap forever
# (two rx_pcap= each, infinite_rx=1; tx dropped by the PMD). rtc on one
# worker lcore (CPU 1), rtc on two (one port each), dispatch on two (lcore
# 1 receives and classifies, lcore 2 looks up, rewrites and transmits).
# EAL lcore 0 (the main lcore: stats, mostly asleep) shares CPU 0 with
# worker lcore 2: a 2-vCPU machine has no third CPU.
#
#   benches/compare-dispatch-dpdk.sh [ROUNDS] [SECS] [--markdown]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 secs=5
. benches/args.sh "$@"
pcap=$(cd .. && pwd)/shared/data/ipv4-udp-64b-1024.pcap
[ -f "$pcap" ] || { echo "compare-dispatch-dpdk: $pcap not found (../shared missing?)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "compare-dispatch-dpdk: DPDK's EAL needs root here" >&2; exit 1; }
cargo build --release -q -p l3fwd-graph --features dpdk
bin=$(realpath target/release/l3fwd-graph)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/disp.toml" <<TOML
stats_interval = 0
model = "dispatch"
[[lcore]]
id = 1
rx = [[0, 0], [1, 0]]
[[lcore]]
id = 2
rx = []
nodes = ["ip4_*", "ethdev_tx-*"]
TOML
vdevs=("--vdev=net_pcap0,rx_pcap=$pcap,rx_pcap=$pcap,infinite_rx=1"
       "--vdev=net_pcap1,rx_pcap=$pcap,rx_pcap=$pcap,infinite_rx=1")
common=(--no-huge -m 1024 --no-pci "${vdevs[@]}")
for r in $(seq 1 "$rounds"); do
  for v in rtc1 rtc2 disp2; do
    echo "round $r/$rounds: $v" >&2
    case $v in
      rtc1) eal=(-l 0,1) app=("--config=(0,0,1),(1,0,1)") ;;
      rtc2) eal=(--lcores=0@0,1@1,2@0) app=("--config=(0,0,1),(1,0,2)") ;;
      disp2) eal=(--lcores=0@0,1@1,2@0) app=(-f "$work/disp.toml") ;;
    esac
    "$bin" "${eal[@]}" "${common[@]}" --file-prefix="cdd$$$v" -- -p 0x3 -P "${app[@]}" \
      --duration "$secs" -q --stats-json "$work/$v.$r.json" >/dev/null 2>&1
  done
done
python3 benches/l3fwd_stats.py "$work" "$rounds" "$markdown" \
  "rtc, 1 lcore=rtc1" "rtc, 2 lcores=rtc2" "dispatch, 2 lcores=disp2"
