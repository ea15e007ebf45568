#!/usr/bin/env python3
"""Writes the committed seed corpora (fuzz/seeds/<target>/) from real
frames: ../shared/data/ipv4-udp-64b-1024.pcap and variants of them.
Run from the repository root or fuzz/: python3 fuzz/make-seeds.py"""
import os, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
pcap_path = os.path.join(here, "..", "..", "shared", "data", "ipv4-udp-64b-1024.pcap")
raw = open(pcap_path, "rb").read()
hdr, body = raw[:24], raw[24:]
frames, off = [], 0
while off + 16 <= len(body):
    _, _, incl, _ = struct.unpack("<IIII", body[off:off + 16])
    frames.append(body[off + 16:off + 16 + incl])
    off += 16 + incl

def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def fix(f):
    f = bytearray(f)
    hl = (f[14] & 0xf) * 4
    f[24:26] = b"\0\0"
    f[24:26] = struct.pack("!H", csum(bytes(f[14:14 + hl])))
    return bytes(f)

def variant(f, **kw):
    f = bytearray(f)
    if "ttl" in kw: f[22] = kw["ttl"]
    if "vihl" in kw: f[14] = kw["vihl"]
    return fix(f) if kw.get("fix", True) else bytes(f)

def vlan(f):
    return f[:12] + b"\x81\x00\x00\x07" + f[12:]

def seeds(name, items):
    d = os.path.join(here, "seeds", name)
    os.makedirs(d, exist_ok=True)
    for i, b in enumerate(items):
        open(os.path.join(d, "seed-%02d" % i), "wb").write(b)

lp = lambda fs: b"".join(struct.pack("<H", len(f)) + f for f in fs)
f0, f1 = frames[0], frames[1]
seeds("pipeline", [
    lp(frames[:8]),
    lp([f0, vlan(f1)]),
    lp([variant(f0, ttl=1), variant(f1, ttl=2)]),
    lp([variant(f0, vihl=0x44), f0[:30], bytearray(f1[:24]) + b"\xff" * 4]),
    lp([variant(f0, fix=False, ttl=9)]),
])
seeds("pcap", [hdr + body[:16 * 4 + sum(len(f) for f in frames[:4])], raw[:24], raw[:100]])
seeds("lpm", [bytes(range(64)), b"\x00\x0a\x00\x00\x01\x18\x05\x00\x00\x00\x02\x00\x0a\x00\x00\x01", b"\xff" * 40])
example = open(os.path.join(here, "..", "apps", "l3fwd-graph", "examples", "l3fwd-graph.toml"), "rb").read()
seeds("config", [
    example,
    example + b"\0-p\x000x3\0--config=(0,0,1),(1,0,1)\0--eth-dest=0,52:54:00:00:00:01",
    b"[[port]]\nid = 0\nbackend = \"generator\"\n\0--burst\x0032\0-P",
    b"\0--max-pkt-len\x009000\0--per-port-pool",
])
seeds("graph_build", [bytes([1, 2, 3, 4] * 16), bytes(range(3, 80)), b"\x00" * 30])
print("seeds written under", os.path.join(here, "seeds"))
