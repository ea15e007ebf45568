#!/usr/bin/env bash
# What an ICMP error costs: our l3fwd-graph on two pcap ports replaying
# ../shared/data/ipv4-udp-64b-1024.pcap forever (forwarded: the anchor),
# then the same frames with TTL 1, each turned into a time-exceeded error
# sent back to its source: with the rate limit out of the way (every error
# built and sent), and with the default limit (1000/s: nearly every packet
# a counted `rate_limited` drop). Ports have addresses in all three runs;
# the sources (10.0.0.0/16) are routed back out of port 0 through its
# static neighbour. One worker lcore on CPU 1; ROUNDS alternating rounds
# (default 3) of SECS seconds (default 5). Prints the median Mpps out (or
# dropped, for the limited run) and every node's cycles/packet.
#
#   benches/compare-icmp.sh [ROUNDS] [SECS] [--markdown]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 secs=5
. benches/args.sh "$@"
pcap=$(cd .. && pwd)/shared/data/ipv4-udp-64b-1024.pcap
[ -f "$pcap" ] || { echo "compare-icmp: $pcap not found (../shared missing?)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release -q -p l3fwd-graph
ours=target/release/l3fwd-graph

# The same capture with TTL 1 (header checksum fixed).
python3 - "$pcap" "$work/ttl1.pcap" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
off = 24
while off < len(d):
    incl = struct.unpack_from('<I', d, off + 8)[0]
    f = off + 16
    d[f + 22] = 1
    d[f + 24:f + 26] = b'\0\0'
    s = sum(struct.unpack_from('>10H', d, f + 14))
    while s > 0xffff:
        s = (s & 0xffff) + (s >> 16)
    struct.pack_into('>H', d, f + 24, ~s & 0xffff)
    off = f + incl
open(sys.argv[2], 'wb').write(d)
PY

config() { # FILE PCAP RATE
  cat >"$1" <<TOML
stats_interval = 0
[icmp]
rate = $3
burst = 1000000
[[port]]
id = 0
backend = "pcap"
params = { rx_pcap = "$2", loop = "forever" }
addr = ["192.0.2.1/24"]
[[port]]
id = 1
backend = "pcap"
params = { rx_pcap = "$2", loop = "forever" }
addr = ["192.0.3.1/24"]
[[route]]
prefix = "198.18.0.0/24"
port = 0
[[route]]
prefix = "198.18.1.0/24"
port = 1
[[route]]
prefix = "10.0.0.0/16"
port = 0
[[lcore]]
id = 1
cpu = 1
rx = [[0, 0], [1, 0]]
TOML
}
config "$work/fwd.toml" "$pcap" 1000
config "$work/err.toml" "$work/ttl1.pcap" 10000000
config "$work/lim.toml" "$work/ttl1.pcap" 1000
sed -i 's/^burst = 1000000/burst = 100/' "$work/lim.toml"

for r in $(seq 1 "$rounds"); do
  for c in fwd err lim; do
    echo "round $r/$rounds: $c" >&2
    "$ours" -f "$work/$c.toml" --duration "$secs" -q --stats-json "$work/$c.$r" >/dev/null
  done
done
python3 - "$work" "$rounds" "$markdown" <<'PY'
import json, statistics, sys
work, rounds, md = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
names = {"fwd": "forwarded (anchor)", "err": "TTL 1: time exceeded, no limit", "lim": "TTL 1: rate-limited (1000/s)"}
rows = {}
for c in names:
    mpps, cyc = [], {}
    for r in range(1, rounds + 1):
        j = json.load(open(f"{work}/{c}.{r}"))
        nodes = {n["name"]: n for n in j["nodes"]}
        if c == "lim":
            out = nodes["icmp4_error"]["counters"].get("rate_limited", 0)
        else:
            out = sum(p["tx_packets"] for p in j["ports"])
        mpps.append(out / j["elapsed_s"] / 1e6)
        for n, v in nodes.items():
            if v["objs"]:
                k = n.split("-")[0]
                cyc.setdefault(k, []).append((v["cycles"], v["objs"]))
    # cycles per packet out of the graph, per node (summed over clones)
    per = {}
    for k, l in cyc.items():
        per[k] = statistics.median(c / max(o, 1) for c, o in l)
    rows[c] = (statistics.median(mpps), per)
cols = ["ethdev_rx", "pkt_cls", "ip4_lookup", "ip4_local", "icmp4_error", "ip4_rewrite", "ethdev_tx", "pkt_drop"]
anchor = rows["fwd"][0]
head = ["run", "Mpps", "vs anchor"] + cols
if md:
    print("| " + " | ".join(head) + " |")
    print("|---" + "|---:" * (len(head) - 1) + "|")
for c, (m, per) in rows.items():
    cells = [names[c], f"{m:.2f}", f"{m / anchor:.2f}"] + [f"{per[k]:.1f}" if k in per else "-" for k in cols]
    print(("| " + " | ".join(cells) + " |") if md else "  ".join(cells))
PY
