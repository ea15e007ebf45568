#!/usr/bin/env bash
# Side by side on DPDK ports: DPDK 22.11's own l3fwd-graph (built from
# Debian's dpdk-doc example) and ours built with --features dpdk, with
# identical EAL arguments: one worker lcore, two net_pcap ports each with two
# rx_pcap= of ../shared/data/ipv4-udp-64b-1024.pcap and infinite_rx=1 (tx is
# dropped by the PMD), -p 0x3 --config="(0,0,1),(1,0,1)" -P. Alternates
# ROUNDS rounds (default 3) of SECS seconds (default 6) and prints the median
# Mpps of each, the ratio, and per-node cycles/packet side by side.
#
#   benches/compare-l3fwd.sh [ROUNDS] [SECS] [--markdown]
#
# HUGE=1 runs both with 2 MiB hugepages instead of --no-huge (it reserves
# 600 of them and mounts hugetlbfs on /dev/hugepages when needed).
# BUILDS="label=binary ..." runs those builds of ours (each built with
# --features dpdk) in turn after DPDK's in every round, instead of this
# tree's: an A/B with DPDK's program as the anchor.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 secs=6
. benches/args.sh "$@"
pcap=$(cd .. && pwd)/shared/data/ipv4-udp-64b-1024.pcap
[ -f "$pcap" ] || { echo "compare-l3fwd: $pcap not found (../shared missing?)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "compare-l3fwd: DPDK's EAL needs root here" >&2; exit 1; }
if ! dpkg -s libdpdk-dev dpdk-doc >/dev/null 2>&1; then
  echo "compare-l3fwd: installing libdpdk-dev dpdk-doc libclang-dev pkg-config make" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libdpdk-dev dpdk-doc libclang-dev pkg-config make gcc >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r /usr/share/dpdk/examples/l3fwd-graph "$work/dpdk-src"
make -s -C "$work/dpdk-src" >/dev/null 2>&1 || { echo "compare-l3fwd: building DPDK's l3fwd-graph failed" >&2; exit 1; }
dpdk="$work/dpdk-src/build/l3fwd-graph"
ours=$(pwd)/target/release/l3fwd-graph
[ -n "${BUILDS:-}" ] || cargo build --release -q -p l3fwd-graph --features dpdk

mem=(--no-huge -m 1024)
if [ "${HUGE:-0}" = 1 ]; then
  mem=(-m 1024)
  [ "$(cat /proc/sys/vm/nr_hugepages)" -ge 600 ] || echo 600 > /proc/sys/vm/nr_hugepages
  mkdir -p /dev/hugepages
  mount | grep -q ' /dev/hugepages ' || mount -t hugetlbfs nodev /dev/hugepages
fi
eal=(-l 0,1 "${mem[@]}" --no-pci
     "--vdev=net_pcap0,rx_pcap=$pcap,rx_pcap=$pcap,infinite_rx=1"
     "--vdev=net_pcap1,rx_pcap=$pcap,rx_pcap=$pcap,infinite_rx=1")
app=(-p 0x3 "--config=(0,0,1),(1,0,1)" -P)

builds=("ours (--features dpdk)=$ours")
if [ -n "${BUILDS:-}" ]; then
  read -r -a builds <<<"$BUILDS"
fi
specs=("DPDK l3fwd-graph=dpdk")
for i in "${!builds[@]}"; do specs+=("${builds[$i]%%=*}=ours$i"); done

for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds: DPDK l3fwd-graph" >&2
  timeout -s INT $((secs + 2)) "$dpdk" "${eal[@]}" --file-prefix="cmpd$$" -- "${app[@]}" >"$work/dpdk.$r" 2>&1 || true
  for i in "${!builds[@]}"; do
    echo "round $r/$rounds: ${builds[$i]%%=*}" >&2
    "${builds[$i]#*=}" "${eal[@]}" --file-prefix="cmpo$$" -- "${app[@]}" --duration "$secs" -q \
      --stats-json "$work/ours$i.$r.json" >/dev/null 2>&1
  done
done

python3 benches/l3fwd_stats.py "$work" "$rounds" "$markdown" "${specs[@]}"
