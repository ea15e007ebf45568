//! generator backend: synthesises Ethernet/IPv4/UDP frames for configured
//! flows at full speed, without syscalls, for benchmarks and demos. A mix of
//! IPv6, ARP and malformed frames can be asked for. Its tx side counts and
//! frees.
//!
//! Frames are prepared once as templates (one per flow); rx copies the next
//! template into each fresh buffer. Flow `i` goes to host `i / P` of prefix
//! `i % P` (P prefixes), from source port `1024 + i`.

use core::mem::MaybeUninit;

use graph_core::Obj;

use super::{Opened, PortConfig, PortError, PortId, QueueStats, RxBackend, TxBackend};
use crate::mbuf::Mbuf;
use crate::mempool::{free_raw, Mempool};
use crate::wire::{self, Udp4};

/// A parsed IPv4 prefix.
pub use crate::wire::Ipv4Prefix as Prefix;

/// Most flows (templates) per queue: each is a frame kept in memory.
pub const MAX_FLOWS: usize = 1 << 16;

/// What the generator produces.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Destination prefixes, cycled over.
    pub dst: Vec<Prefix>,
    /// Frame length without FCS.
    pub size: usize,
    /// Number of flows (templates).
    pub flows: usize,
    /// Share of IPv6 frames.
    pub ipv6: f64,
    /// Share of ARP requests.
    pub arp: f64,
    /// Share of malformed IPv4 frames (bad checksum, TTL 1, bad version,
    /// IHL < 5, truncated), in turn.
    pub bad: f64,
    /// Frames to produce in all (None: forever).
    pub count: Option<u64>,
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// Destination MAC.
    pub dst_mac: [u8; 6],
}

impl GenConfig {
    /// DPDK l3fwd-graph's default traffic: 198.18.0.0/24 and 198.18.1.0/24.
    pub fn new(dst_mac: [u8; 6]) -> GenConfig {
        GenConfig {
            dst: vec!["198.18.0.0/24".parse().expect("prefix"), "198.18.1.0/24".parse().expect("prefix")],
            size: 60,
            flows: 1024,
            ipv6: 0.0,
            arp: 0.0,
            bad: 0.0,
            count: None,
            src_mac: [2, 0, 0, 0, 0xff, 0xff],
            dst_mac,
        }
    }

    /// The frame of flow `i`.
    pub fn template(&self, i: usize) -> Vec<u8> {
        // Decide the kind from a spread of i so shares hold over any window.
        let x = ((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11) as f64 / (1u64 << 53) as f64;
        let p = self.dst[i % self.dst.len()];
        let hosts = if p.len >= 31 { 1 } else { (1u64 << (32 - p.len)) - 2 };
        let host = if p.len >= 31 { 0 } else { 1 + (i / self.dst.len()) as u64 % hosts };
        let dst = (p.addr + host as u32).to_be_bytes();
        if x < self.ipv6 {
            let mut d6 = [0u8; 16];
            d6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            d6[12..].copy_from_slice(&dst);
            return wire::build_udp6(self.src_mac, self.dst_mac, d6, self.size.max(62));
        }
        if x < self.ipv6 + self.arp {
            return wire::build_arp(self.src_mac, [198, 19, 0, 1], dst);
        }
        let mut f = Udp4 {
            dst_mac: self.dst_mac,
            src_mac: self.src_mac,
            dst,
            src: [198, 19, (i >> 8) as u8, i as u8],
            sport: 1024 + (i % 60000) as u16,
            dport: 1024,
            frame_len: self.size,
            ..Udp4::default()
        }
        .build();
        if x < self.ipv6 + self.arp + self.bad {
            let ip = wire::ETH_HLEN;
            match i % 5 {
                0 => f[ip + wire::ipv4::CSUM] ^= 0xff,
                1 => {
                    f[ip + wire::ipv4::TTL] = 1;
                    wire::ipv4_set_checksum(&mut f[ip..ip + 20]);
                }
                2 => {
                    f[ip] = 0x55;
                    wire::ipv4_set_checksum(&mut f[ip..ip + 20]);
                }
                3 => {
                    f[ip] = 0x43;
                    wire::ipv4_set_checksum(&mut f[ip..ip + 20]);
                }
                _ => f.truncate(ip + 10),
            }
        }
        f
    }
}

struct Rx {
    data: Vec<u8>,
    spans: Vec<(usize, usize)>,
    next: usize,
    left: Option<u64>,
    pool: Mempool,
}

// SAFETY: `rx` initialises `bufs[..n]` with buffers it allocated and
// filled, and returns `n`.
unsafe impl RxBackend for Rx {
    fn rx(&mut self, bufs: &mut [MaybeUninit<Obj>], stats: &QueueStats, port: PortId) -> usize {
        let n = match self.left {
            Some(l) => bufs.len().min(l as usize),
            None => bufs.len(),
        };
        if n == 0 {
            return 0;
        }
        if self.pool.alloc_raw(&mut bufs[..n]).is_err() {
            QueueStats::add(&stats.nombuf, 1);
            return 0;
        }
        let mut bytes = 0u64;
        for o in &bufs[..n] {
            let (s, l) = self.spans[self.next];
            self.next += 1;
            if self.next == self.spans.len() {
                self.next = 0;
            }
            // SAFETY: initialised by `alloc_raw` with a buffer allocated
            // for this queue alone; templates are at most the pool's data
            // room (checked at open).
            let m = unsafe { Mbuf::from_obj(o.assume_init()) };
            m.set_data(&self.data[s..s + l]);
            m.set_port(port);
            bytes += l as u64;
        }
        QueueStats::add(&stats.bytes, bytes);
        if let Some(l) = &mut self.left {
            *l -= n as u64;
        }
        n
    }

    fn eof(&self) -> bool {
        self.left == Some(0)
    }

    fn finite(&self) -> bool {
        self.left.is_some()
    }
}

struct Tx;

// SAFETY: takes (frees) every packet and returns their count.
unsafe impl TxBackend for Tx {
    fn tx(&mut self, pkts: &mut [Obj], stats: &QueueStats) -> usize {
        // SAFETY: the caller hands these packets to us (`TxBackend`).
        let bytes = unsafe { super::total_len(pkts) };
        QueueStats::add(&stats.bytes, bytes);
        // SAFETY: ours, as above, and not used again.
        unsafe { free_raw(pkts) };
        pkts.len()
    }
}

pub(crate) fn open(id: u16, cfg: &PortConfig, pool: &Mempool) -> Result<Opened, PortError> {
    let mut p = cfg.params("generator");
    let mac = cfg.mac.unwrap_or([2, 0, 0, 0, (id >> 8) as u8, id as u8]);
    let mut g = GenConfig::new(mac);
    if let Some(d) = p.get("dst")? {
        g.dst = d
            .split([';', '+', ' '])
            .filter(|s| !s.is_empty())
            .map(|s| s.parse())
            .collect::<Result<_, _>>()
            .map_err(|e| p.err("dst", e))?;
        if g.dst.is_empty() {
            return Err(p.err("dst", "no prefix given"));
        }
    }
    g.size = p.parse("size", g.size)?;
    g.flows = p.parse("flows", g.flows)?;
    g.ipv6 = p.parse("ipv6", 0.0)?;
    g.arp = p.parse("arp", 0.0)?;
    g.bad = p.parse("bad", 0.0)?;
    g.count = p.parse::<i64>("count", -1).map(|c| (c >= 0).then_some(c as u64))?;
    if let Some(m) = p.get("src_mac")? {
        g.src_mac = wire::parse_mac(&m).ok_or_else(|| p.err("src_mac", format!("\"{m}\" is not a MAC address")))?;
    }
    if let Some(m) = p.get("dst_mac")? {
        g.dst_mac = wire::parse_mac(&m).ok_or_else(|| p.err("dst_mac", format!("\"{m}\" is not a MAC address")))?;
    }
    for (k, v) in [("ipv6", g.ipv6), ("arp", g.arp), ("bad", g.bad)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(p.err(k, format!("{v} is not a share between 0 and 1")));
        }
    }
    if g.ipv6 + g.arp + g.bad > 1.0 {
        return Err(p.err("ipv6", "ipv6 + arp + bad exceed 1"));
    }
    if g.flows == 0 || g.flows > MAX_FLOWS {
        return Err(p.err("flows", format!("{} is outside 1..={MAX_FLOWS}", g.flows)));
    }
    if g.size < 42 || g.size > pool.data_room() as usize {
        return Err(p.err("size", format!("{} is outside 42..={}", g.size, pool.data_room())));
    }
    p.finish()?;
    let mut rx: Vec<Box<dyn RxBackend>> = Vec::new();
    for q in 0..cfg.nb_rxq as usize {
        let mut data = Vec::new();
        let mut spans = Vec::new();
        for i in 0..g.flows {
            let t = g.template(i + q * g.flows);
            spans.push((data.len(), t.len()));
            data.extend_from_slice(&t);
        }
        rx.push(Box::new(Rx { data, spans, next: 0, left: g.count, pool: pool.clone() }));
    }
    let tx = (0..cfg.nb_txq).map(|_| Box::new(Tx) as Box<dyn TxBackend>).collect();
    Ok(Opened { rx, tx, mac: Some(mac), device_stats: None, on_close: None })
}
