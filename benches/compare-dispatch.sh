#!/usr/bin/env bash
# Run to completion against the mcore dispatch model on two generator
# ports: rtc on one lcore (CPU 1, both ports), rtc on two lcores (one port
# each, CPUs 0 and 1), and dispatch on two lcores (CPU 0 receives and
# classifies both ports, CPU 1 looks up, rewrites and transmits).
# ROUNDS alternating rounds (default 3) of SECS seconds (default 5).
# Prints median Mpps, cycles/packet per node and in total (every node's
# cycles over the packets sent, all lcores), and for dispatch the
# hand-over's cycles per packet handed over.
#
#   benches/compare-dispatch.sh [ROUNDS] [SECS] [--markdown]
#
# The machines are 2 vCPUs: two workers share them with the main thread
# and everything else, so the 2-lcore rows are what this machine allows,
# not a scaling limit.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 secs=5
. benches/args.sh "$@"

cargo build --release -q -p l3fwd-graph --bin l3fwd-graph
bin=$(realpath target/release/l3fwd-graph)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ports='[[port]]
id = 0
backend = "generator"
[[port]]
id = 1
backend = "generator"'
printf 'stats_interval = 0\n%s\n[[lcore]]\nid = 1\ncpu = 1\nrx = [[0, 0], [1, 0]]\n' "$ports" >"$work/rtc1.toml"
printf 'stats_interval = 0\n%s\n[[lcore]]\nid = 0\ncpu = 0\nrx = [[0, 0]]\n[[lcore]]\nid = 1\ncpu = 1\nrx = [[1, 0]]\n' "$ports" >"$work/rtc2.toml"
printf 'stats_interval = 0\nmodel = "dispatch"\n%s\n[[lcore]]\nid = 0\ncpu = 0\nrx = [[0, 0], [1, 0]]\n[[lcore]]\nid = 1\ncpu = 1\nrx = []\nnodes = ["ip4_*", "ethdev_tx-*"]\n' "$ports" >"$work/disp2.toml"

for r in $(seq 1 "$rounds"); do
  for v in rtc1 rtc2 disp2; do
    echo "round $r/$rounds: $v" >&2
    "$bin" -f "$work/$v.toml" --duration "$secs" -q --stats-json "$work/$v.$r.json" >/dev/null
  done
done

python3 benches/l3fwd_stats.py "$work" "$rounds" "$markdown" \
  "rtc, 1 lcore=rtc1" "rtc, 2 lcores=rtc2" "dispatch, 2 lcores=disp2"
python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
per = []
for r in range(1, rounds + 1):
    j = json.load(open(f"{work}/disp2.{r}.json"))
    d = j["dispatch"]
    objs = sum(x["sent_objs"] for x in d)
    per.append(sum(x["cycles"] for x in d) / max(objs, 1))
    full = sum(x["full"] for x in d)
print(f"dispatch hand-over: {statistics.median(per):.1f} cycles per packet handed over (median of {rounds}; sender and receiver together); queue full {full} times in the last run")
PY
