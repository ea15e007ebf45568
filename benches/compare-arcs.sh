#!/usr/bin/env bash
# What feature arcs cost l3fwd-graph: a build from before arcs (the
# anchor), today's build (three arcs, no feature), l3fwd-nop1 and
# l3fwd-nop4 (1 and 4 disabled no-op features on each of the three arcs),
# and l3fwd-nop1 with its ip4_input feature enabled on both ports. Two pcap
# ports replaying ../shared/data/ipv4-udp-64b-1024.pcap forever, then two
# generator ports; one worker lcore on CPU 1; ROUNDS alternating rounds
# (default 3) of SECS seconds (default 5). Prints median Mpps and
# cycles/packet per node and in total (every node's cycles over the
# packets sent).
#
#   benches/compare-arcs.sh BEFORE_ARCS_BINARY [ROUNDS] [SECS] [--markdown]
#
# Make BEFORE_ARCS_BINARY with, for example:
#   git worktree add /tmp/old f14126c && (cd /tmp/old && cargo build --release -p l3fwd-graph)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 2,15p "$0" >&2; exit 2; }
old=$(realpath "$1")
shift
rounds=3 secs=5
. benches/args.sh "$@"

cargo build --release -q -p l3fwd-graph -p benches --bin l3fwd-graph --bin l3fwd-nop1 --bin l3fwd-nop4
now=target/release/l3fwd-graph nop1=target/release/l3fwd-nop1 nop4=target/release/l3fwd-nop4

pcap=$(cd .. && pwd)/shared/data/ipv4-udp-64b-1024.pcap
[ -f "$pcap" ] || { echo "compare-arcs: $pcap not found (../shared missing?)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. benches/pcap-config.sh
pcap_config "$work/pcap.toml" "$pcap"
gen_config "$work/gen.toml"
for t in pcap gen; do
  { cat "$work/$t.toml"; printf '[[feature]]\narc = "ip4_input"\nnode = "nop_in_0"\n'; } >"$work/$t-on.toml"
done

for r in $(seq 1 "$rounds"); do
  for run in none zero nop1 nop4 on1; do
    for t in pcap gen; do
      case $run in
        none) bin=$old cfg=$t ;; zero) bin=$now cfg=$t ;; nop1) bin=$nop1 cfg=$t ;;
        nop4) bin=$nop4 cfg=$t ;; on1) bin=$nop1 cfg=$t-on ;;
      esac
      echo "round $r/$rounds: $run, $t" >&2
      "$bin" -f "$work/$cfg.toml" --duration "$secs" -q --stats-json "$work/$run-$t.$r.json" >/dev/null
    done
  done
done

for t in pcap gen; do
  echo "== $t ports =="
  python3 benches/l3fwd_stats.py "$work" "$rounds" "$markdown" \
    "no arcs (before)=none-$t" "3 arcs, no feature=zero-$t" "1 disabled feature per arc=nop1-$t" \
    "4 disabled features per arc=nop4-$t" "1 enabled no-op (ip4_input)=on1-$t"
done
