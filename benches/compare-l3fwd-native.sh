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

rounds=3 secs=5 markdown=0 n=0
for a in "$@"; do
  case "$a" in
    --markdown) markdown=1 ;;
    ''|*[!0-9]*) echo "usage: $0 [ROUNDS] [SECS] [--markdown]" >&2; exit 2 ;;
    *) if [ $n = 0 ]; then rounds=$a; else secs=$a; fi; n=$((n + 1)) ;;
  esac
done

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
cat >"$work/pcap.toml" <<TOML
stats_interval = 0
[[port]]
id = 0
backend = "pcap"
params = { rx_pcap = "$pcap", loop = "forever" }
[[port]]
id = 1
backend = "pcap"
params = { rx_pcap = "$pcap", loop = "forever" }
[[lcore]]
id = 1
cpu = 1
rx = [[0, 0], [1, 0]]
TOML

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

python3 - "$work" "$rounds" "$markdown" <<'PY'
import json, re, statistics, sys
work, rounds, md = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
nodes = ["ethdev_rx", "pkt_cls", "ip4_lookup", "ip4_rewrite", "ethdev_tx"]
def base(n): return re.sub(r"-\d+(-\d+)?$", "", n)
runs = {"DPDK l3fwd-graph (net_pcap)": [], "ours (pcap)": [], "ours (generator)": []}
for r in range(1, rounds + 1):
    # DPDK: the last full table printed.
    tables, cur = [], None
    for line in open(f"{work}/dpdk.{r}", errors="replace"):
        if line.startswith("|Node"):
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
        runs["DPDK l3fwd-graph (net_pcap)"].append((mpps, {k: statistics.mean(v) for k, v in cyc.items()}))
    for key, f in (("ours (pcap)", "pcap"), ("ours (generator)", "gen")):
        j = json.load(open(f"{work}/{f}.{r}.json"))
        mpps = sum(p["tx_packets"] for p in j["ports"]) / j["elapsed_s"] / 1e6
        cyc = {}
        for n in j["nodes"]:
            if n["objs"]:
                cyc.setdefault(base(n["name"]), []).append(n["cycles"] / n["objs"])
        runs[key].append((mpps, {k: statistics.mean(v) for k, v in cyc.items()}))
anchor = statistics.median([m for m, _ in runs["DPDK l3fwd-graph (net_pcap)"]]) if runs["DPDK l3fwd-graph (net_pcap)"] else float("nan")
rows = []
for name, rs in runs.items():
    if not rs:
        rows.append((name, float("nan"), float("nan"), {}))
        continue
    mpps = statistics.median([m for m, _ in rs])
    cyc = {n: statistics.median([c.get(n, float("nan")) for _, c in rs]) for n in nodes}
    rows.append((name, mpps, mpps / anchor, cyc))
if md:
    print("| run | Mpps (1 lcore) | vs DPDK | " + " | ".join(nodes) + " |")
    print("|---|---:|---:|" + "---:|" * len(nodes))
    for name, mpps, ratio, cyc in rows:
        print(f"| {name} | {mpps:.2f} | {ratio:.2f} | " + " | ".join(f"{cyc.get(n, float('nan')):.1f}" for n in nodes) + " |")
else:
    print(f"{'run':32} {'Mpps':>7} {'ratio':>6}  cycles/packet: " + " ".join(f"{n:>11}" for n in nodes))
    for name, mpps, ratio, cyc in rows:
        print(f"{name:32} {mpps:7.2f} {ratio:6.2f}                 " + " ".join(f"{cyc.get(n, float('nan')):11.1f}" for n in nodes))
PY
