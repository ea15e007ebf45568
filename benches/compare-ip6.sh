#!/usr/bin/env bash
# IPv6 forwarding next to IPv4: our l3fwd-graph on two generator ports
# (native, no DPDK), first DPDK's default IPv4 traffic (the anchor), then
# the same flows as IPv6 (the generator's `ipv6 = 1.0`: 62-byte frames to
# 2001:db8::198.18.N.x), routed by two /120s to the two ports as the IPv4
# run's two /24s. One worker lcore on CPU 1; ROUNDS alternating rounds
# (default 3) of SECS seconds (default 5). Prints the median Mpps and
# every node's cycles/packet.
#
#   benches/compare-ip6.sh [ROUNDS] [SECS] [--markdown]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 secs=5
. benches/args.sh "$@"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release -q -p l3fwd-graph
ours=target/release/l3fwd-graph
. benches/pcap-config.sh
gen_config "$work/v4.toml"
cat >"$work/v6.toml" <<TOML
stats_interval = 0
[[port]]
id = 0
backend = "generator"
params = { ipv6 = 1.0 }
[[port]]
id = 1
backend = "generator"
params = { ipv6 = 1.0 }
[[route]]
prefix = "2001:db8::c612:0/120"
port = 0
[[route]]
prefix = "2001:db8::c612:100/120"
port = 1
[[lcore]]
id = 1
cpu = 1
rx = [[0, 0], [1, 0]]
TOML
for r in $(seq 1 "$rounds"); do
  for c in v4 v6; do
    echo "round $r/$rounds: $c" >&2
    "$ours" -f "$work/$c.toml" --duration "$secs" -q --stats-json "$work/$c.$r" >/dev/null
  done
done
python3 - "$work" "$rounds" "$markdown" <<'PY'
import json, statistics, sys
work, rounds, md = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
names = {"v4": "IPv4 (anchor)", "v6": "IPv6"}
cols = ["ethdev_rx", "pkt_cls", "ip4_lookup", "ip6_lookup", "ip4_rewrite", "ip6_rewrite", "ethdev_tx"]
rows = {}
for c in names:
    mpps, per = [], {}
    for r in range(1, rounds + 1):
        j = json.load(open(f"{work}/{c}.{r}"))
        mpps.append(sum(p["tx_packets"] for p in j["ports"]) / j["elapsed_s"] / 1e6)
        agg = {}
        for n in j["nodes"]:
            k = n["name"].split("-")[0]
            a = agg.setdefault(k, [0, 0])
            a[0] += n["cycles"]
            a[1] += n["objs"]
        for k, (cy, o) in agg.items():
            if o:
                per.setdefault(k, []).append(cy / o)
    rows[c] = (statistics.median(mpps), {k: statistics.median(v) for k, v in per.items()})
anchor = rows["v4"][0]
head = ["run", "Mpps", "vs IPv4"] + cols
if md:
    print("| " + " | ".join(head) + " |")
    print("|---" + "|---:" * (len(head) - 1) + "|")
for c, (m, per) in rows.items():
    cells = [names[c], f"{m:.2f}", f"{m / anchor:.2f}"] + [f"{per[k]:.1f}" if k in per else "-" for k in cols]
    print(("| " + " | ".join(cells) + " |") if md else "  ".join(cells))
PY
