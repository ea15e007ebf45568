#!/usr/bin/env bash
# Vector against scalar processing as the pipeline grows (the seed's
# claim): runs the vector-vs-scalar bench ROUNDS times (default 5), prints
# the median cycles per packet of each way for 0, 2, 4, 8 and 16 extra
# features, and draws them into docs/vector-vs-scalar.svg.
#
#   benches/vector-vs-scalar.sh [ROUNDS] [--markdown]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5 secs=0
. benches/args.sh "$@"
cargo build --release -q -p benches --bin vector-vs-scalar
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds" >&2
  target/release/vector-vs-scalar --json --packets 5000000 >"$work/$r.jsonl"
done
python3 - "$work" "$rounds" "$markdown" <<'PY'
import json, statistics, sys
work, rounds, md = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
runs = [[json.loads(l) for l in open(f"{work}/{r}.jsonl")] for r in range(1, rounds + 1)]
feats = [x["features"] for x in runs[0]]
rows = []
for i, n in enumerate(feats):
    s = statistics.median(run[i]["scalar"] for run in runs)
    v = statistics.median(run[i]["vector"] for run in runs)
    rows.append((n, s, v))
if md:
    print("| extra features | scalar cycles/packet | vector cycles/packet | scalar/vector |")
    print("|---:|---:|---:|---:|")
    for n, s, v in rows:
        print(f"| {n} | {s:.1f} | {v:.1f} | {s / v:.2f} |")
else:
    for n, s, v in rows:
        print(f"{n:>3} features: scalar {s:8.1f}  vector {v:8.1f}  scalar/vector {s / v:5.2f}")
# The plot: cycles per packet against features, one line each.
W, H, L, B = 560, 340, 70, 50
xmax, ymax = max(feats), max(max(s, v) for _, s, v in rows) * 1.1
X = lambda n: L + (W - L - 20) * n / xmax
Y = lambda c: H - B - (H - B - 20) * c / ymax
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{L}" y1="{H-B}" x2="{W-20}" y2="{H-B}" stroke="black"/>',
       f'<line x1="{L}" y1="20" x2="{L}" y2="{H-B}" stroke="black"/>',
       f'<text x="{(W+L)/2}" y="{H-12}" text-anchor="middle">extra feature nodes (each about 5 KiB of code)</text>',
       f'<text x="16" y="{(H-B)/2}" transform="rotate(-90 16 {(H-B)/2})" text-anchor="middle">cycles per packet</text>']
for n in feats:
    svg.append(f'<text x="{X(n)}" y="{H-B+16}" text-anchor="middle">{n}</text>')
step = 10 ** (len(str(int(ymax))) - 1)
c = 0
while c <= ymax:
    svg.append(f'<text x="{L-6}" y="{Y(c)+4}" text-anchor="end">{c}</text>')
    svg.append(f'<line x1="{L}" y1="{Y(c)}" x2="{W-20}" y2="{Y(c)}" stroke="#ddd"/>')
    c += step
for name, idx, colour in (("scalar (one packet through every stage)", 1, "#c0392b"), ("vector (graph walk, bursts of 256)", 2, "#2471a3")):
    pts = " ".join(f"{X(r[0]):.1f},{Y(r[idx]):.1f}" for r in rows)
    svg.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
    for r in rows:
        svg.append(f'<circle cx="{X(r[0]):.1f}" cy="{Y(r[idx]):.1f}" r="3" fill="{colour}"/>')
    ly = 30 + 18 * (idx - 1)
    svg.append(f'<line x1="{L+10}" y1="{ly}" x2="{L+30}" y2="{ly}" stroke="{colour}" stroke-width="2"/>')
    svg.append(f'<text x="{L+36}" y="{ly+4}">{name}</text>')
svg.append("</svg>")
open("docs/vector-vs-scalar.svg", "w").write("\n".join(svg) + "\n")
print("plot: docs/vector-vs-scalar.svg", file=sys.stderr)
PY
