#!/usr/bin/env bash
# What cooperative tasks cost the forwarding (issue 9): our l3fwd-graph on
# one worker lcore (CPU 1) forwarding between two generator ports, with
#   idle   tasks spawned but nothing ready (control socket, JSON-lines
#          stats every 1 s, command queue), one executor look per walk;
#   busy   the same plus --task-load: a 1 ms timer, a file writer every
#          10 ms (helper-thread I/O), a route added/deleted every 10 ms;
# both at walks_per_poll = 1 (1:1), and both at 64:1 for comparison (idle
# at 64:1 is close to a loop without tasks: one clock read per 64 walks).
# ROUNDS alternating rounds (default 3) of SECS seconds (default 5); prints
# the median Mpps of each and its ratio to "idle" measured in the same run.
#
#   benches/compare-tasks.sh [ROUNDS] [SECS] [--markdown]
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 secs=5
. benches/args.sh "$@"

cargo build --release -q -p l3fwd-graph
ours=target/release/l3fwd-graph
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/r.toml" <<TOML
stats_interval = 0
stats_jsonl_interval = 1.0
[[port]]
id = 0
backend = "generator"
params = { dst = "198.18.0.0/24;198.18.1.0/24", size = 60 }
[[port]]
id = 1
backend = "generator"
params = { dst = "198.18.0.0/24;198.18.1.0/24", size = 60 }
[[lcore]]
id = 1
cpu = 1
rx = [[0, 0], [1, 0]]
TOML

run() { # name walks_per_poll extra-args...
  local name=$1 wpp=$2 r=$3
  shift 3
  "$ours" -f "$work/r.toml" --duration "$secs" -q --walks-per-poll "$wpp" \
    --control-socket "$work/ctl.sock" --stats-jsonl "$work/$name.$r.jsonl" \
    --stats-json "$work/$name.$r.json" "$@" >/dev/null
}
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds: idle 1:1" >&2
  run idle 1 "$r"
  echo "round $r/$rounds: busy 1:1" >&2
  run busy 1 "$r" --task-load
  echo "round $r/$rounds: idle 64:1" >&2
  run idle64 64 "$r"
  echo "round $r/$rounds: busy 64:1" >&2
  run busy64 64 "$r" --task-load
done

python3 - "$work" "$rounds" "$markdown" "$secs" <<'PY'
import json, statistics, sys
work, rounds, md, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
runs = [("idle", "tasks idle, 1:1"), ("busy", "tasks busy, 1:1"), ("idle64", "tasks idle, 64:1"), ("busy64", "tasks busy, 64:1")]
res = {}
for key, _ in runs:
    ms = []
    for r in range(1, rounds + 1):
        j = json.load(open(f"{work}/{key}.{r}.json"))
        ms.append(sum(p["tx_packets"] for p in j["ports"]) / j["elapsed_s"] / 1e6)
        if secs >= 2:  # the JSON-lines task ran alongside (a line a second)
            lines = open(f"{work}/{key}.{r}.jsonl").read().splitlines()
            assert len(lines) >= secs - 1, f"{key} round {r}: {len(lines)} JSON lines in {secs} s"
    res[key] = (statistics.median(ms), ms)
anchor = res["idle"][0]
if md:
    print("| run | Mpps (1 lcore, median) | vs idle | rounds |")
    print("|---|---:|---:|---|")
    for key, name in runs:
        m, ms = res[key]
        print(f"| {name} | {m:.2f} | {m / anchor:.3f} | " + ", ".join(f"{x:.2f}" for x in ms) + " |")
else:
    for key, name in runs:
        m, ms = res[key]
        print(f"{name:20} {m:7.2f} Mpps  {m / anchor:6.3f}  (" + ", ".join(f"{x:.2f}" for x in ms) + ")")
PY
