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
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 secs=6 markdown=0 n=0
for a in "$@"; do
  case "$a" in
    --markdown) markdown=1 ;;
    ''|*[!0-9]*) echo "usage: $0 [ROUNDS] [SECS] [--markdown]" >&2; exit 2 ;;
    *) if [ $n = 0 ]; then rounds=$a; else secs=$a; fi; n=$((n + 1)) ;;
  esac
done
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
cargo build --release -q -p l3fwd-graph --features dpdk
ours=target/release/l3fwd-graph

eal=(-l 0,1 --no-huge -m 1024 --no-pci
     "--vdev=net_pcap0,rx_pcap=$pcap,rx_pcap=$pcap,infinite_rx=1"
     "--vdev=net_pcap1,rx_pcap=$pcap,rx_pcap=$pcap,infinite_rx=1")
app=(-p 0x3 "--config=(0,0,1),(1,0,1)" -P)

for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds: DPDK l3fwd-graph" >&2
  timeout -s INT $((secs + 2)) "$dpdk" "${eal[@]}" --file-prefix="cmpd$$" -- "${app[@]}" >"$work/dpdk.$r" 2>&1 || true
  echo "round $r/$rounds: ours" >&2
  "$ours" "${eal[@]}" --file-prefix="cmpo$$" -- "${app[@]}" --duration "$secs" -q --stats-json "$work/ours.$r.json" >/dev/null 2>&1
done

python3 - "$work" "$rounds" "$markdown" <<'PY'
import json, re, statistics, sys
work, rounds, md = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
nodes = ["ethdev_rx", "pkt_cls", "ip4_lookup", "ip4_rewrite", "ethdev_tx"]
def base(n): return re.sub(r"-\d+(-\d+)?$", "", n)
runs = {"DPDK l3fwd-graph": [], "ours (--features dpdk)": []}
for r in range(1, rounds + 1):
    tables, cur = [], None
    for line in open(f"{work}/dpdk.{r}", errors="replace"):
        if line.startswith("|Node") or "|Node" in line:
            cur = {}
            tables.append(cur)
        elif line.startswith("|") and cur is not None:
            f = [x.strip() for x in line.strip().strip("|").split("|")]
            if len(f) >= 7 and f[1].isdigit():
                cur[f[0]] = dict(calls=int(f[1]), objs=int(f[2]), rate=float(f[5]), cpc=float(f[6]))
    if len(tables) >= 2:
        t = tables[-2]
        mpps = sum(v["rate"] for k, v in t.items() if k.startswith("ethdev_tx"))
        cyc = {}
        for k, v in t.items():
            opc = v["objs"] / max(v["calls"], 1)
            cyc.setdefault(base(k), []).append(v["cpc"] / opc if opc else 0)
        runs["DPDK l3fwd-graph"].append((mpps, {k: statistics.mean(v) for k, v in cyc.items()}))
    j = json.load(open(f"{work}/ours.{r}.json"))
    mpps = sum(p["tx_packets"] for p in j["ports"]) / j["elapsed_s"] / 1e6
    cyc = {}
    for n in j["nodes"]:
        if n["objs"]:
            cyc.setdefault(base(n["name"]), []).append(n["cycles"] / n["objs"])
    runs["ours (--features dpdk)"].append((mpps, {k: statistics.mean(v) for k, v in cyc.items()}))
rows = []
for name, rs in runs.items():
    mpps = statistics.median([m for m, _ in rs]) if rs else float("nan")
    cyc = {n: statistics.median([c.get(n, float("nan")) for _, c in rs]) for n in nodes} if rs else {}
    rows.append((name, mpps, cyc))
anchor = rows[0][1]
if md:
    print("| run | Mpps (1 lcore) | vs DPDK | " + " | ".join(nodes) + " |")
    print("|---|---:|---:|" + "---:|" * len(nodes))
    for name, mpps, cyc in rows:
        print(f"| {name} | {mpps:.2f} | {mpps / anchor:.2f} | " + " | ".join(f"{cyc.get(n, float('nan')):.1f}" for n in nodes) + " |")
else:
    print(f"{'run':26} {'Mpps':>7} {'ratio':>6}  cycles/packet: " + " ".join(f"{n:>11}" for n in nodes))
    for name, mpps, cyc in rows:
        print(f"{name:26} {mpps:7.2f} {mpps / anchor:6.2f}                 " + " ".join(f"{cyc.get(n, float('nan')):11.1f}" for n in nodes))
PY
