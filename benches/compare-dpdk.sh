#!/usr/bin/env bash
# Side by side: DPDK's graph_perf_autotest (dpdk-test, Debian dpdk-dev) and
# our graph-perf, alternately, ROUNDS rounds (default 3). Prints, per
# topology, the median Mobjs/s at the sinks of each and the ratio ours/DPDK,
# then the geometric mean of the ratios. Stats on in both (DPDK's default).
#
#   benches/compare-dpdk.sh [ROUNDS] [--markdown]
#
# DPDK runs as: dpdk-test -l 0,1 --no-huge -m 1024 --no-pci (needs root);
# graph-perf pins its main thread to CPU 0 and the worker to CPU 1 likewise.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
markdown=0
for a in "$@"; do
  case "$a" in
    --markdown) markdown=1 ;;
    ''|*[!0-9]*) echo "usage: $0 [ROUNDS] [--markdown]" >&2; exit 2 ;;
    *) rounds=$a ;;
  esac
done

if ! command -v dpdk-test >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "compare-dpdk: dpdk-test not found; installing Debian's dpdk-dev" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpdk-dev >/dev/null
  fi
fi
if ! command -v dpdk-test >/dev/null 2>&1; then
  echo "compare-dpdk: dpdk-test is not installed and could not be installed here;" >&2
  echo "  install Debian's dpdk-dev (apt-get install dpdk-dev) as root, then rerun." >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "compare-dpdk: dpdk-test needs root (EAL with --no-huge still maps memory as root)." >&2
  exit 1
fi

cargo build --release -q -p benches --bin graph-perf
ours=target/release/graph-perf
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds: DPDK graph_perf_autotest" >&2
  printf 'graph_perf_autotest\nquit\n' |
    dpdk-test -l 0,1 --no-huge -m 1024 --no-pci --file-prefix="gperf$$" >"$work/dpdk.$r" 2>&1 || true
  echo "round $r/$rounds: graph-perf" >&2
  "$ours" --json >"$work/ours.$r"
done

python3 - "$work" "$rounds" "$markdown" <<'PY'
import json, math, re, statistics, sys
work, rounds, markdown = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
order, dpdk, ours = [], {}, {}
for r in range(1, rounds + 1):
    acc = 0.0
    for line in open(f"{work}/dpdk.{r}", errors="replace"):
        if line.startswith("|test_graph_perf_sink"):
            acc += float(line.split("|")[6])
        m = re.search(r"TestCase \[\s*\d+\] : (\S+) (succeeded|failed)", line)
        if m:
            name = m.group(1)
            if name not in order:
                order.append(name)
            dpdk.setdefault(name, []).append(acc)
            acc = 0.0
    for line in open(f"{work}/ours.{r}"):
        d = json.loads(line)
        if d["topology"] not in order:
            order.append(d["topology"])
        ours.setdefault(d["topology"], []).append(d["mobjs_per_sec"])
if not dpdk:
    sys.exit("compare-dpdk: no results parsed from dpdk-test; its output is in the log above")
ratios = []
rows = []
for name in order:
    d = statistics.median(dpdk[name]) if name in dpdk else float("nan")
    o = statistics.median(ours[name]) if name in ours else float("nan")
    ratio = o / d if d > 0 else float("nan")
    if not math.isnan(ratio):
        ratios.append(ratio)
    rows.append((name, d, o, ratio))
geo = math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else float("nan")
if markdown:
    print("| topology | DPDK 22.11 Mobjs/s | graph-perf Mobjs/s | ours/DPDK |")
    print("|---|---:|---:|---:|")
    for name, d, o, ratio in rows:
        print(f"| {name} | {d:.1f} | {o:.1f} | {ratio:.2f} |")
    print(f"| geometric mean | | | {geo:.2f} |")
else:
    print(f"{'topology':40} {'DPDK':>10} {'ours':>10} {'ours/DPDK':>10}   (median of {rounds}, Mobjs/s at sinks)")
    for name, d, o, ratio in rows:
        print(f"{name:40} {d:10.1f} {o:10.1f} {ratio:10.2f}")
    print(f"{'geometric mean':40} {'':10} {'':10} {geo:10.2f}")
PY
