#!/usr/bin/env bash
# Side by side: DPDK 22.11's own l3fwd-graph (built from Debian's dpdk-doc
# examples) on two net_pcap ports replaying ../shared/data/ipv4-udp-64b-1024.pcap
# forever, and our l3fwd-graph (native, no DPDK) on two pcap ports replaying
# the same file forever, then on two generator ports. One worker lcore on
# CPU 1 each; ROUNDS alternating rounds (default 3) of SECS seconds (default 5).
# Prints the median Mpps of each and per-node cycles/packet.
#
#   benches/compare-l3fwd-native.sh [ROUNDS] [SECS] [--markdown]
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 secs=5
. benches/args.sh "$@"

pcap=$(cd .. && pwd)/shared/data/ipv4-udp-64b-1024.pcap
[ -f "$pcap" ] || { echo "compare-l3fwd-native: $pcap not found (../shared missing?)" >&2; exit 1; }

need() { dpkg -s "$@" >/dev/null 2>&1; }
if ! need libdpdk-dev dpdk-doc || ! command -v make >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "compare-l3fwd-native: installing libdpdk-dev dpdk-doc make pkg-config" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libdpdk-dev dpdk-doc make pkg-config gcc >/dev/null
  fi
fi
if [ ! -d /usr/share/dpdk/examples/l3fwd-graph ]; then
  echo "compare-l3fwd-native: DPDK's l3fwd-graph example is missing; install dpdk-doc and libdpdk-dev (as root)." >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r /usr/share/dpdk/examples/l3fwd-graph "$work/dpdk-src"
make -s -C "$work/dpdk-src" >/dev/null 2>&1 || { echo "compare-l3fwd-native: building DPDK's l3fwd-graph failed" >&2; exit 1; }
dpdk="$work/dpdk-src/build/l3fwd-graph"

cargo build --release -q -p l3fwd-graph
ours=target/release/l3fwd-graph
. benches/pcap-config.sh
pcap_config "$work/pcap.toml" "$pcap"

for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds: DPDK l3fwd-graph" >&2
  timeout -s INT $((secs + 2)) "$dpdk" -l 0,1 --no-huge -m 1024 --no-pci --file-prefix="l3fwd$$" \
    --vdev="net_pcap0,rx_pcap=$pcap,rx_pcap=$pcap,infinite_rx=1" --vdev="net_pcap1,rx_pcap=$pcap,rx_pcap=$pcap,infinite_rx=1" \
    -- -p 0x3 --config="(0,0,1),(1,0,1)" -P >"$work/dpdk.$r" 2>&1 || true
  echo "round $r/$rounds: ours, pcap ports" >&2
  "$ours" -f "$work/pcap.toml" --duration "$secs" -q --stats-json "$work/pcap.$r.json" >/dev/null
  echo "round $r/$rounds: ours, generator ports" >&2
  "$ours" --demo --duration "$secs" -q --stats-json "$work/gen.$r.json" >/dev/null
done

python3 benches/l3fwd_stats.py "$work" "$rounds" "$markdown" \
  "DPDK l3fwd-graph (net_pcap)=dpdk" "ours (pcap)=pcap" "ours (generator)=gen"
