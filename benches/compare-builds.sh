#!/usr/bin/env bash
# Before/after: two builds of our l3fwd-graph, alternating, on the same
# inputs: two pcap ports replaying ../shared/data/ipv4-udp-64b-1024.pcap
# forever, then the generator demo. One worker lcore on CPU 1; ROUNDS
# alternating rounds (default 3) of SECS seconds (default 5). Prints the
# median Mpps and per-node cycles/packet of each, the first build as anchor.
#
#   benches/compare-builds.sh OLD_BINARY NEW_BINARY [ROUNDS] [SECS] [--markdown]
#
# Make OLD_BINARY from an earlier commit with, for example:
#   git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release -p l3fwd-graph)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 2,12p "$0" >&2; exit 2; }
old=$(realpath "$1") new=$(realpath "$2")
shift 2
rounds=3 secs=5
. benches/args.sh "$@"

pcap=$(cd .. && pwd)/shared/data/ipv4-udp-64b-1024.pcap
[ -f "$pcap" ] || { echo "compare-builds: $pcap not found (../shared missing?)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. benches/pcap-config.sh
pcap_config "$work/pcap.toml" "$pcap"

for r in $(seq 1 "$rounds"); do
  for b in old new; do
    bin=$old; [ $b = new ] && bin=$new
    echo "round $r/$rounds: $b, pcap ports" >&2
    "$bin" -f "$work/pcap.toml" --duration "$secs" -q --stats-json "$work/$b-pcap.$r.json" >/dev/null
    echo "round $r/$rounds: $b, generator ports" >&2
    "$bin" --demo --duration "$secs" -q --stats-json "$work/$b-gen.$r.json" >/dev/null
  done
done

python3 benches/l3fwd_stats.py "$work" "$rounds" "$markdown" \
  "before (pcap)=old-pcap" "after (pcap)=new-pcap" "before (generator)=old-gen" "after (generator)=new-gen"
