#!/usr/bin/env bash
# One-way AF_PACKET frame rate over a veth pair, ours against DPDK's own
# net_af_packet (dpdk-testpmd --forward-mode=txonly / rxonly) on the same
# veth: every pairing of sender and receiver, ROUNDS rounds (default 3) of
# SECS seconds (default 4). The figure is the receiver's steady-state frames
# per second (median of its per-second counts). Needs root; creates and
# deletes its own network namespace.
#
#   benches/compare-af-packet.sh [ROUNDS] [SECS] [--markdown]
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 secs=4
. benches/args.sh "$@"
[ "$(id -u)" = 0 ] || { echo "compare-af-packet: needs root (network namespaces, AF_PACKET)" >&2; exit 1; }
if ! command -v dpdk-testpmd >/dev/null; then
  if command -v apt-get >/dev/null; then
    echo "compare-af-packet: installing Debian's dpdk (dpdk-testpmd)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpdk >/dev/null
  fi
fi
command -v dpdk-testpmd >/dev/null || { echo "compare-af-packet: dpdk-testpmd missing; apt-get install dpdk" >&2; exit 1; }

cargo build --release -q -p benches --bin af-packet-perf
ours=$(pwd)/target/release/af-packet-perf
ns=afpcmp$$
work=$(mktemp -d)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
ip netns exec "$ns" ip link add vA type veth peer name vB
ip netns exec "$ns" ip link set vA up
ip netns exec "$ns" ip link set vB up

eal="--no-huge -m 256 --no-pci"
rx_ours() { ip netns exec "$ns" "$ours" rx vB $((secs + 4)) 0 >"$1"; }
rx_dpdk() {
  timeout -s INT $((secs + 4)) ip netns exec "$ns" dpdk-testpmd -l 0,1 --main-lcore 1 $eal --file-prefix=afr$$ \
    --vdev=net_af_packet0,iface=vB,qdisc_bypass=0 -- --forward-mode=rxonly --auto-start --stats-period 1 \
    --total-num-mbufs=16384 >"$1" 2>&1 || true
}
tx_ours() { ip netns exec "$ns" "$ours" tx vA "$secs" 1 >/dev/null; }
tx_dpdk() {
  timeout -s INT "$((secs + 2))" ip netns exec "$ns" dpdk-testpmd -l 0,1 --main-lcore 0 $eal --file-prefix=aft$$ \
    --vdev=net_af_packet0,iface=vA,qdisc_bypass=0 -- --forward-mode=txonly --txpkts=60 --auto-start \
    --stats-period 1 --total-num-mbufs=16384 >/dev/null 2>&1 || true
}

for r in $(seq 1 "$rounds"); do
  for pair in dpdk:dpdk ours:dpdk dpdk:ours ours:ours; do
    tx=${pair%%:*} rx=${pair##*:}
    echo "round $r/$rounds: $tx -> $rx" >&2
    "rx_$rx" "$work/$tx-$rx.$r" &
    sleep 1.5
    "tx_$tx"
    wait
  done
done

python3 - "$work" "$rounds" "$markdown" <<'PY'
import json, re, statistics, sys
work, rounds, md = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
def rate(path, rx):
    text = open(path, errors="replace").read()
    if rx == "ours":
        return json.loads(text.strip().splitlines()[-1])["pps_median"]
    v = [int(x) for x in re.findall(r"Rx-pps:\s+(\d+)", text) if int(x) > 0]
    v = v[1:-1] if len(v) > 2 else v
    return statistics.median(v) if v else 0
res = {}
for pair in ["dpdk:dpdk", "ours:dpdk", "dpdk:ours", "ours:ours"]:
    tx, rx = pair.split(":")
    res[pair] = statistics.median([rate(f"{work}/{tx}-{rx}.{r}", rx) for r in range(1, rounds + 1)])
anchor = res["dpdk:dpdk"] or float("nan")
names = {"dpdk:dpdk": "DPDK tx -> DPDK rx (anchor)", "ours:dpdk": "ours tx -> DPDK rx",
         "dpdk:ours": "DPDK tx -> ours rx", "ours:ours": "ours tx -> ours rx"}
if md:
    print("| sender -> receiver | frames/s (median) | vs anchor |")
    print("|---|---:|---:|")
    for k, v in res.items():
        print(f"| {names[k]} | {v:,.0f} | {v / anchor:.2f} |")
else:
    for k, v in res.items():
        print(f"{names[k]:32} {v:12,.0f}  {v / anchor:5.2f}")
PY
