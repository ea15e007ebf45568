"""Shared by benches/compare-l3fwd*.sh: reads DPDK l3fwd-graph's printed
node tables and our --stats-json files, and prints the side-by-side table.

    python3 benches/l3fwd_stats.py WORK ROUNDS MARKDOWN NAME=FILE...

FILE is a prefix under WORK, read as FILE.<round>: `dpdk` is DPDK's output
(node tables), anything else our JSON. The first NAME is the anchor."""

import json
import re
import statistics
import sys

NODES = ["ethdev_rx", "pkt_cls", "ip4_lookup", "ip4_rewrite", "ethdev_tx", "total"]
NAN = float("nan")


def base(n):
    """ethdev_rx-0-0 -> ethdev_rx"""
    return re.sub(r"-\d+(-\d+)?$", "", n)


def dpdk_run(path):
    """Mpps and cycles/packet by node from the last full table DPDK printed
    (the one before the final, partial one); None without two tables."""
    tables, cur = [], None
    for line in open(path, errors="replace"):
        if "|Node" in line:
            cur = {}
            tables.append(cur)
        elif line.startswith("|") and cur is not None:
            f = [x.strip() for x in line.strip().strip("|").split("|")]
            if len(f) >= 7 and f[1].isdigit():
                cur[f[0]] = dict(calls=int(f[1]), objs=int(f[2]), rate=float(f[5]), cpc=float(f[6]))
    if len(tables) < 2:
        return None
    t = tables[-2]
    mpps = sum(v["rate"] for k, v in t.items() if k.startswith("ethdev_tx"))
    sent = sum(v["objs"] for k, v in t.items() if k.startswith("ethdev_tx"))
    cyc = {"total": sum(v["cpc"] * v["calls"] for v in t.values()) / max(sent, 1)}
    for k, v in t.items():
        opc = v["objs"] / max(v["calls"], 1)
        cyc.setdefault(base(k), []).append(v["cpc"] / opc if opc else 0)
    return mpps, {k: v if k == "total" else statistics.mean(v) for k, v in cyc.items()}


def ours_run(path):
    """Mpps and cycles/packet by node from our --stats-json file."""
    j = json.load(open(path))
    mpps = sum(p["tx_packets"] for p in j["ports"]) / j["elapsed_s"] / 1e6
    # Every node's cycles over the packets sent: the whole path's cost.
    cyc = {"total": sum(n["cycles"] for n in j["nodes"]) / max(sum(p["tx_packets"] for p in j["ports"]), 1)}
    for n in j["nodes"]:
        if n["objs"]:
            cyc.setdefault(base(n["name"]), []).append(n["cycles"] / n["objs"])
    return mpps, {k: v if k == "total" else statistics.mean(v) for k, v in cyc.items()}


def main():
    work, rounds, md = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    runs = [a.split("=", 1) for a in sys.argv[4:]]
    rows = []
    for name, f in runs:
        rs = []
        for r in range(1, rounds + 1):
            got = dpdk_run(f"{work}/{f}.{r}") if f == "dpdk" else ours_run(f"{work}/{f}.{r}.json")
            if got:
                rs.append(got)
        mpps = statistics.median([m for m, _ in rs]) if rs else NAN
        cyc = {n: statistics.median([c.get(n, NAN) for _, c in rs]) for n in NODES} if rs else {}
        rows.append((name, mpps, cyc))
    anchor = rows[0][1]
    if md:
        print(f"| run | Mpps | vs {rows[0][0]} | " + " | ".join(NODES) + " |")
        print("|---|---:|---:|" + "---:|" * len(NODES))
        for name, mpps, cyc in rows:
            cells = " | ".join(f"{cyc.get(n, NAN):.1f}" for n in NODES)
            print(f"| {name} | {mpps:.2f} | {mpps / anchor:.2f} | {cells} |")
    else:
        print(f"{'run':32} {'Mpps':>7} {'ratio':>6}  cycles/packet: " + " ".join(f"{n:>11}" for n in NODES))
        for name, mpps, cyc in rows:
            cells = " ".join(f"{cyc.get(n, NAN):11.1f}" for n in NODES)
            print(f"{name:32} {mpps:7.2f} {mpps / anchor:6.2f}                 {cells}")


if __name__ == "__main__":
    main()
