#!/usr/bin/env bash
# What observability costs l3fwd-graph: a build from before it (the
# anchor, given), and today's build with histograms off (trace, metrics
# and pcapng code present, unused), with histograms on (the default),
# with histograms on and /metrics scraped 10 times a second, with a packet
# trace active that marks nothing (every walk takes the traced path), and
# with --pcap-enable capturing at every node for the whole run. Two pcap
# ports replaying ../shared/data/ipv4-udp-64b-1024.pcap forever, then two
# generator ports; one worker lcore on CPU 1; ROUNDS alternating rounds
# (default 3) of SECS seconds (default 5). Prints median Mpps and
# cycles/packet per node and in total.
#
#   benches/compare-observability.sh BEFORE_BINARY [ROUNDS] [SECS] [--markdown]
#
# VARIANTS="before nohist hist" (a subset, in that order) runs fewer.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 2,15p "$0" >&2; exit 2; }
old=$(realpath "$1")
shift
rounds=3 secs=5
. benches/args.sh "$@"

cargo build --release -q -p l3fwd-graph --bin l3fwd-graph
now=$(realpath target/release/l3fwd-graph)

pcap=$(cd .. && pwd)/shared/data/ipv4-udp-64b-1024.pcap
[ -f "$pcap" ] || { echo "compare-observability: $pcap not found (../shared missing?)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. benches/pcap-config.sh
pcap_config "$work/pcap.toml" "$pcap"
gen_config "$work/gen.toml"

# run VARIANT CONFIG JSON: one run of SECS seconds.
run() {
  local v=$1 cfg=$2 json=$3
  local common=(-f "$cfg" --duration "$secs" -q --stats-json "$json")
  case $v in
    before) "$old" "${common[@]}" >/dev/null ;;
    nohist) "$now" "${common[@]}" --no-histograms >/dev/null ;;
    hist) "$now" "${common[@]}" >/dev/null ;;
    scrape)
      "$now" "${common[@]}" --metrics 127.0.0.1:9155 >/dev/null &
      local pid=$!
      while kill -0 $pid 2>/dev/null; do curl -s -o /dev/null http://127.0.0.1:9155/metrics || true; sleep 0.1; done
      wait $pid ;;
    trace)
      "$now" "${common[@]}" --control-socket "$work/ctl.sock" >/dev/null &
      local pid=$!
      until [ -S "$work/ctl.sock" ]; do sleep 0.05; done
      python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"trace add ip4_lookup 1 dst 10.255.255.0/24\n"); s.recv(4096)' "$work/ctl.sock"
      wait $pid ;;
    pcapng) "$now" "${common[@]}" --pcap-enable --pcap-num-cap 1000000 --pcap-file-name "$work/c.pcapng" >/dev/null ;;
  esac
}

variants="${VARIANTS:-before nohist hist scrape trace pcapng}"
for r in $(seq 1 "$rounds"); do
  for v in $variants; do
    for t in pcap gen; do
      echo "round $r/$rounds: $v, $t" >&2
      run "$v" "$work/$t.toml" "$work/$v-$t.$r.json"
    done
  done
done

declare -A label=([before]="before observability" [nohist]="histograms off" [hist]="histograms on (default)"
  [scrape]="on + /metrics at 10 Hz" [trace]="trace active, marking none" [pcapng]="--pcap-enable, all nodes")
for t in pcap gen; do
  echo "== $t ports =="
  args=()
  for v in $variants; do args+=("${label[$v]}=$v-$t"); done
  python3 benches/l3fwd_stats.py "$work" "$rounds" "$markdown" "${args[@]}"
done
