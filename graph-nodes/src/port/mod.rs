//! Ports (ethdev): rx and tx queues, a MAC address, link state, counters.
//!
//! A port is opened from a backend name and `key=value` parameters (as
//! DPDK's devargs), so a config file can name it:
//!
//! | backend     | parameters |
//! |-------------|------------|
//! | `pcap`      | `rx_pcap=FILE` (one per rx queue), `tx_pcap=FILE`, `loop=N\|forever` |
//! | `generator` | `dst=PFX[;PFX..]`, `size=N`, `flows=N`, `ipv6=F`, `arp=F`, `bad=F`, `count=N`, `seed=N`, `dst_mac=MAC`, `src_mac=MAC` |
//! | `ring`      | `rx=NAME`, `tx=NAME`, `size=N` |
//! | `af_packet` | `iface=NAME`, `frames=N`, `fanout=ID`, `promisc=0\|1` |
//! | `dpdk`      | `port_id=N`, `rxd=N`, `txd=N`, `promisc=0\|1` (feature `dpdk`, EAL initialised) |
//!
//! Ports live in a [`Ports`] table, which a router hands to its graphs
//! through their environment. Each queue is taken once ([`Port::take_rx_queue`]) by the lcore that
//! polls it and used without locks (`&mut self`); counters are per queue,
//! single-writer atomics, summed by [`Port::stats`] from any thread.

#[cfg(target_os = "linux")]
pub mod af_packet;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod generator;
pub mod pcap;
pub mod ring;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use core::mem::MaybeUninit;

use graph_core::{Obj, Objs};
use serde::Serialize;

use crate::mempool::Mempool;
use crate::pkt::Pkt;

/// Port id (`uint16_t port_id`).
pub type PortId = u16;

/// What can go wrong opening or using a port (control plane).
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A malformed port spec.
    #[error("port spec \"{spec}\": {reason}")]
    BadSpec { spec: String, reason: String },
    /// Unknown backend.
    #[error("unknown port backend \"{0}\" (known: pcap, generator, ring, af_packet{dpdk})", dpdk = if cfg!(feature = "dpdk") { ", dpdk" } else { "" })]
    UnknownBackend(String),
    /// A parameter is missing, unknown or invalid.
    #[error("{backend} port: parameter {key}: {reason}")]
    BadParam { backend: &'static str, key: String, reason: String },
    /// An I/O error with the file or interface named.
    #[error("{backend} port: {what}: {source}")]
    Io { backend: &'static str, what: String, source: std::io::Error },
    /// The id is taken.
    #[error("port {0} already exists")]
    Exists(PortId),
    /// No port has this id.
    #[error("port {0} does not exist")]
    NoSuchPort(PortId),
    /// A queue index past the port's queues.
    #[error("port {port}: {dir} queue {queue} does not exist (it has {count})")]
    NoSuchQueue { port: PortId, dir: &'static str, queue: u16, count: u16 },
    /// A queue already taken by another user.
    #[error("port {port}: {dir} queue {queue} is already in use")]
    QueueTaken { port: PortId, dir: &'static str, queue: u16 },
}

/// How to open a port.
#[derive(Debug, Clone, PartialEq)]
pub struct PortConfig {
    /// Backend name.
    pub backend: String,
    /// Backend parameters, in order (keys may repeat).
    pub params: Vec<(String, String)>,
    /// Number of rx queues.
    pub nb_rxq: u16,
    /// Number of tx queues.
    pub nb_txq: u16,
    /// MAC address (default: the backend's, or 02:00:00:00:00:<id>).
    pub mac: Option<[u8; 6]>,
    /// MTU: the largest IPv4 total length sent.
    pub mtu: u16,
}

impl PortConfig {
    /// A config with one rx and one tx queue and MTU 1500.
    pub fn new(backend: &str, params: &[(&str, &str)]) -> PortConfig {
        PortConfig {
            backend: backend.to_string(),
            params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            nb_rxq: 1,
            nb_txq: 1,
            mac: None,
            mtu: 1500,
        }
    }

    /// Parses `backend:key=value,key=value`.
    pub fn parse(spec: &str) -> Result<PortConfig, PortError> {
        let bad = |reason: &str| PortError::BadSpec { spec: spec.to_string(), reason: reason.to_string() };
        let (backend, rest) = spec.split_once(':').unwrap_or((spec, ""));
        if backend.is_empty() {
            return Err(bad("missing backend name before ':'"));
        }
        let mut params = Vec::new();
        for kv in rest.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').ok_or_else(|| bad(&format!("\"{kv}\" is not key=value")))?;
            params.push((k.trim().to_string(), v.trim().to_string()));
        }
        Ok(PortConfig { backend: backend.to_string(), params, ..PortConfig::new("", &[]) })
    }

    pub(crate) fn params(&self, backend: &'static str) -> Params<'_> {
        Params { backend, list: &self.params, used: vec![false; self.params.len()] }
    }
}

/// Parameter reader that reports unknown keys.
pub(crate) struct Params<'a> {
    backend: &'static str,
    list: &'a [(String, String)],
    used: Vec<bool>,
}

impl Params<'_> {
    pub fn err(&self, key: &str, reason: impl fmt::Display) -> PortError {
        PortError::BadParam { backend: self.backend, key: key.to_string(), reason: reason.to_string() }
    }

    /// Every value of `key`.
    pub fn all(&mut self, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, (k, v)) in self.list.iter().enumerate() {
            if k == key {
                self.used[i] = true;
                out.push(v.clone());
            }
        }
        out
    }

    /// The value of `key`; an error if it is given twice.
    pub fn get(&mut self, key: &str) -> Result<Option<String>, PortError> {
        let mut all = self.all(key);
        match all.len() {
            0 => Ok(None),
            1 => Ok(all.pop()),
            _ => Err(self.err(key, "given more than once")),
        }
    }

    /// `key` parsed, or `default`.
    pub fn parse<T: std::str::FromStr>(&mut self, key: &str, default: T) -> Result<T, PortError>
    where
        T::Err: fmt::Display,
    {
        match self.get(key)? {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| self.err(key, format!("\"{v}\": {e}"))),
        }
    }

    /// Fails on any key not read.
    pub fn finish(self) -> Result<(), PortError> {
        match self.used.iter().position(|u| !u) {
            Some(i) => Err(self.err(&self.list[i].0, "unknown parameter")),
            None => Ok(()),
        }
    }
}

/// Counters of one queue, written by its single user. A cache line of its
/// own: the tx queues of one port belong to different lcores, and counters
/// sharing a line would bounce it between them on every burst.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct QueueStats {
    /// Packets.
    pub packets: AtomicU64,
    /// Bytes.
    pub bytes: AtomicU64,
    /// rx: packets the backend dropped for lack of room; tx: unused.
    pub missed: AtomicU64,
    /// rx: bursts cut short because the pool was empty.
    pub nombuf: AtomicU64,
    /// rx: bad frames skipped; tx: packets that could not be written.
    pub errors: AtomicU64,
}

const _: () = assert!(core::mem::align_of::<QueueStats>() == 64);

impl QueueStats {
    /// Single-writer add.
    #[inline(always)]
    pub fn add(c: &AtomicU64, n: u64) {
        c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
    }
}

/// `bufs` as initialised handles.
///
/// # Safety
/// Every element of `bufs` is initialised.
pub(crate) unsafe fn assume_init(bufs: &[MaybeUninit<Obj>]) -> &[Obj] {
    // SAFETY: `MaybeUninit<Obj>` has `Obj`'s layout; the caller vouches
    // for initialisation.
    unsafe { &*(bufs as *const [MaybeUninit<Obj>] as *const [Obj]) }
}

/// Bytes in `pkts` (their `pkt_len`), for a tx queue's byte counter.
///
/// # Safety
/// Every handle is a live packet of ours that the caller holds (as a tx
/// backend holds what it is handed).
pub(crate) unsafe fn total_len(pkts: &[Obj]) -> u64 {
    pkts.iter()
        .map(|&o| {
            // SAFETY: the caller's contract.
            u64::from(unsafe { crate::mbuf::Mbuf::from_obj(o) }.pkt_len())
        })
        .sum()
}

/// Port counters (`struct rte_eth_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PortCounters {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Packets dropped by the device on receive.
    pub imissed: u64,
    /// Bad frames received.
    pub ierrors: u64,
    /// Packets that failed to send.
    pub oerrors: u64,
    /// Receive attempts that found the pool empty.
    pub rx_nombuf: u64,
}

/// What a backend produces for one rx queue.
///
/// # Safety
/// `rx` returns `n <= bufs.len()` and initialises `bufs[..n]` with handles
/// of live mbufs (the [`Mbuf`](crate::Mbuf) invariant holds) that it hands
/// to the caller alone: the caller turns them into [`Pkt`]s.
pub unsafe trait RxBackend: Send {
    /// Receives up to `bufs.len()` packets into `bufs`; returns how many.
    /// Sets each packet's port to `port` and counts `bytes`, `missed`,
    /// `nombuf` and `errors` itself (the queue counts packets), so that no
    /// second pass over the packets is needed. A backend whose device counts
    /// bytes reports them through `Opened::device_stats` instead.
    fn rx(&mut self, bufs: &mut [MaybeUninit<Obj>], stats: &QueueStats, port: PortId) -> usize;
    /// Whether a finite input is exhausted.
    fn eof(&self) -> bool {
        false
    }
    /// Whether this input ends (a pcap not looped forever, a generator
    /// with a count); `eof` can only become true for those.
    fn finite(&self) -> bool {
        false
    }
}

/// What a backend produces for one tx queue.
///
/// # Safety
/// `tx` returns `n <= pkts.len()`; it takes ownership of `pkts[..n]` (and
/// must free or keep them), leaves `pkts[n..]` as they were (the slice is
/// mutable only because DPDK's drivers take their array so) and never
/// touches them after returning. The caller gives up `pkts[..n]`.
pub unsafe trait TxBackend: Send {
    /// Takes packets from the front of `pkts` and returns how many; the
    /// caller keeps the rest. Taken packets are the backend's (sent and
    /// freed, or counted in `errors` and freed). Counts the `bytes` it takes
    /// (or its device does, see `Opened::device_stats`).
    fn tx(&mut self, pkts: &mut [Obj], stats: &QueueStats) -> usize;
    /// Pushes buffered output out.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The queues a backend opened.
pub struct Opened {
    /// Rx queues.
    pub rx: Vec<Box<dyn RxBackend>>,
    /// Tx queues.
    pub tx: Vec<Box<dyn TxBackend>>,
    /// The device's MAC, if it has one.
    pub mac: Option<[u8; 6]>,
    /// Device counters (drops, errors) added to the queues' own.
    pub device_stats: Option<Arc<dyn Fn() -> PortCounters + Send + Sync>>,
    /// Run when the port is dropped (after its queues).
    pub on_close: Option<Box<dyn FnOnce() + Send>>,
}

/// A port.
pub struct Port {
    id: PortId,
    backend: String,
    mac: [u8; 6],
    mtu: u16,
    link_up: Arc<AtomicBool>,
    rx_on: Arc<AtomicBool>,
    rx: Mutex<Vec<Option<Box<dyn RxBackend>>>>,
    tx: Mutex<Vec<Option<Box<dyn TxBackend>>>>,
    rx_stats: Vec<Arc<QueueStats>>,
    tx_stats: Vec<Arc<QueueStats>>,
    eof: Vec<Arc<AtomicBool>>,
    finite: Vec<bool>,
    device_stats: Option<Arc<dyn Fn() -> PortCounters + Send + Sync>>,
    on_close: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    keep_outputs: Arc<AtomicBool>,
}

impl Drop for Port {
    fn drop(&mut self) {
        let _ = self.flush();
        if let Some(f) = self.on_close.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            f();
        }
    }
}

/// A table of open ports by id: what a router's graphs send and receive
/// on. Cloning shares the table; give it to each graph through its
/// environment (`GraphParam::with`). Two tables are two independent sets
/// of ports, so one process can hold several routers.
#[derive(Clone, Default)]
pub struct Ports(Arc<Mutex<BTreeMap<PortId, Arc<Port>>>>);

impl fmt::Debug for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.list()).finish()
    }
}

impl Ports {
    /// An empty table.
    pub fn new() -> Ports {
        Ports::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<PortId, Arc<Port>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens port `id` from `cfg`, allocating rx buffers from `pool`, and
    /// adds it to the table.
    pub fn open(&self, id: PortId, cfg: &PortConfig, pool: &Mempool) -> Result<Arc<Port>, PortError> {
        if self.lock().contains_key(&id) {
            return Err(PortError::Exists(id));
        }
        let port = Port::open(id, cfg, pool)?;
        let mut all = self.lock();
        if all.contains_key(&id) {
            return Err(PortError::Exists(id));
        }
        all.insert(id, port.clone());
        Ok(port)
    }

    /// The port with this id.
    pub fn get(&self, id: PortId) -> Result<Arc<Port>, PortError> {
        self.lock().get(&id).cloned().ok_or(PortError::NoSuchPort(id))
    }

    /// Ids of all open ports.
    pub fn list(&self) -> Vec<PortId> {
        self.lock().keys().copied().collect()
    }

    /// Closes port `id`: removes it from the table (queues in use keep
    /// working until their users drop them).
    pub fn close(&self, id: PortId) -> Result<(), PortError> {
        self.lock().remove(&id).map(|_| ()).ok_or(PortError::NoSuchPort(id))
    }
}

impl Port {
    /// Opens port `id` from `cfg`, allocating rx buffers from `pool`. A
    /// port outside a [`Ports`] table is usable directly (tests, tools).
    pub fn open(id: PortId, cfg: &PortConfig, pool: &Mempool) -> Result<Arc<Port>, PortError> {
        if cfg.nb_rxq == 0 && cfg.nb_txq == 0 {
            return Err(PortError::BadSpec {
                spec: cfg.backend.clone(),
                reason: "a port needs at least one queue".into(),
            });
        }
        let keep_outputs = Arc::new(AtomicBool::new(true));
        let opened = match cfg.backend.as_str() {
            "pcap" => pcap::open(cfg, pool, &keep_outputs)?,
            "generator" => generator::open(id, cfg, pool)?,
            "ring" => ring::open(cfg)?,
            #[cfg(target_os = "linux")]
            "af_packet" => af_packet::open(cfg, pool)?,
            #[cfg(feature = "dpdk")]
            "dpdk" => dpdk::open(id, cfg, pool)?,
            other => return Err(PortError::UnknownBackend(other.to_string())),
        };
        let mac = cfg.mac.or(opened.mac).unwrap_or([2, 0, 0, 0, (id >> 8) as u8, id as u8]);
        let port = Arc::new(Port {
            id,
            backend: cfg.backend.clone(),
            mac,
            mtu: cfg.mtu,
            link_up: Arc::new(AtomicBool::new(true)),
            rx_on: Arc::new(AtomicBool::new(true)),
            rx_stats: opened.rx.iter().map(|_| Arc::default()).collect(),
            tx_stats: opened.tx.iter().map(|_| Arc::default()).collect(),
            eof: opened.rx.iter().map(|r| Arc::new(AtomicBool::new(r.eof()))).collect(),
            finite: opened.rx.iter().map(|r| r.finite()).collect(),
            device_stats: opened.device_stats,
            on_close: Mutex::new(opened.on_close),
            keep_outputs,
            rx: Mutex::new(opened.rx.into_iter().map(Some).collect()),
            tx: Mutex::new(opened.tx.into_iter().map(Some).collect()),
        });
        Ok(port)
    }

    /// Makes the port drop what it wrote instead of publishing it when it
    /// closes. Output files (a pcap port's `tx_pcap`) are written under a
    /// temporary name beside the final one and renamed over it when the
    /// port closes; a program whose start fails after opening ports calls
    /// this so that existing files stay as they were.
    pub fn discard_outputs(&self) {
        self.keep_outputs.store(false, Relaxed);
    }

    /// Id.
    pub fn id(&self) -> PortId {
        self.id
    }

    /// Backend name.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// MTU.
    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// Number of rx queues.
    pub fn nb_rxq(&self) -> u16 {
        self.rx_stats.len() as u16
    }

    /// Number of tx queues.
    pub fn nb_txq(&self) -> u16 {
        self.tx_stats.len() as u16
    }

    /// Link state.
    pub fn link_up(&self) -> bool {
        self.link_up.load(Relaxed)
    }

    /// Sets the link state: a port that is down receives nothing and
    /// accepts nothing.
    pub fn set_link(&self, up: bool) {
        self.link_up.store(up, Relaxed);
    }

    /// Stops (or restarts) receiving on every rx queue; transmit is not
    /// affected. Used to drain a pipeline before shutdown.
    pub fn set_rx_enabled(&self, on: bool) {
        self.rx_on.store(on, Relaxed);
    }

    /// Whether every rx queue's finite input is exhausted.
    ///
    /// Queues with endless input (rings, devices, looped files) do not
    /// count; a port with no finite input is never at its end.
    pub fn rx_eof(&self) -> bool {
        self.has_finite_rx() && self.eof.iter().zip(&self.finite).all(|(e, f)| !f || e.load(Relaxed))
    }

    /// Whether some rx queue reads an input that ends.
    pub fn has_finite_rx(&self) -> bool {
        self.finite.iter().any(|f| *f)
    }

    /// Takes rx queue `q` for exclusive use.
    pub fn take_rx_queue(self: &Arc<Self>, q: u16) -> Result<RxQueue, PortError> {
        let mut rx = self.rx.lock().unwrap_or_else(|e| e.into_inner());
        let count = rx.len() as u16;
        let slot =
            rx.get_mut(q as usize).ok_or(PortError::NoSuchQueue { port: self.id, dir: "rx", queue: q, count })?;
        let inner = slot.take().ok_or(PortError::QueueTaken { port: self.id, dir: "rx", queue: q })?;
        Ok(RxQueue {
            port: self.clone(),
            queue: q,
            inner,
            stats: self.rx_stats[q as usize].clone(),
            link: self.link_up.clone(),
            rx_on: self.rx_on.clone(),
            eof: self.eof[q as usize].clone(),
        })
    }

    /// Takes tx queue `q` for exclusive use.
    pub fn take_tx_queue(self: &Arc<Self>, q: u16) -> Result<TxQueue, PortError> {
        let mut tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let count = tx.len() as u16;
        let slot =
            tx.get_mut(q as usize).ok_or(PortError::NoSuchQueue { port: self.id, dir: "tx", queue: q, count })?;
        let inner = slot.take().ok_or(PortError::QueueTaken { port: self.id, dir: "tx", queue: q })?;
        Ok(TxQueue {
            port: self.clone(),
            queue: q,
            inner,
            stats: self.tx_stats[q as usize].clone(),
            link: self.link_up.clone(),
        })
    }

    fn give_back_rx(&self, q: u16, inner: Box<dyn RxBackend>) {
        self.rx.lock().unwrap_or_else(|e| e.into_inner())[q as usize] = Some(inner);
    }

    fn give_back_tx(&self, q: u16, inner: Box<dyn TxBackend>) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner())[q as usize] = Some(inner);
    }

    /// Flushes every tx queue not currently taken.
    pub fn flush(&self) -> std::io::Result<()> {
        for t in self.tx.lock().unwrap_or_else(|e| e.into_inner()).iter_mut().flatten() {
            t.flush()?;
        }
        Ok(())
    }

    /// Counters summed over the queues (`rte_eth_stats_get`).
    pub fn stats(&self) -> PortCounters {
        let mut c = PortCounters::default();
        for s in &self.rx_stats {
            c.ipackets += s.packets.load(Relaxed);
            c.ibytes += s.bytes.load(Relaxed);
            c.imissed += s.missed.load(Relaxed);
            c.rx_nombuf += s.nombuf.load(Relaxed);
            c.ierrors += s.errors.load(Relaxed);
        }
        for s in &self.tx_stats {
            c.opackets += s.packets.load(Relaxed);
            c.obytes += s.bytes.load(Relaxed);
            c.oerrors += s.errors.load(Relaxed);
        }
        if let Some(d) = &self.device_stats {
            let d = d();
            c.ibytes += d.ibytes;
            c.obytes += d.obytes;
            c.imissed += d.imissed;
            c.ierrors += d.ierrors;
            c.oerrors += d.oerrors;
            c.rx_nombuf += d.rx_nombuf;
        }
        c
    }
}

impl fmt::Debug for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Port")
            .field("id", &self.id)
            .field("backend", &self.backend)
            .field("mac", &crate::wire::mac_to_string(&self.mac))
            .field("rxq", &self.nb_rxq())
            .field("txq", &self.nb_txq())
            .finish()
    }
}

/// An rx queue in use. Dropping it gives it back to the port.
pub struct RxQueue {
    port: Arc<Port>,
    queue: u16,
    inner: Box<dyn RxBackend>,
    stats: Arc<QueueStats>,
    link: Arc<AtomicBool>,
    rx_on: Arc<AtomicBool>,
    eof: Arc<AtomicBool>,
}

impl RxQueue {
    /// Receives up to `bufs.len()` packets (`rte_eth_rx_burst`) into the
    /// front of `bufs` and returns them; each gets this port's id. Nothing
    /// while the link is down.
    #[inline]
    pub fn rx_burst<'b>(&mut self, bufs: &'b mut [MaybeUninit<Pkt>]) -> &'b mut [Pkt] {
        let n = if !self.link.load(Relaxed) || !self.rx_on.load(Relaxed) {
            0
        } else {
            // SAFETY: `MaybeUninit<Pkt>` and `MaybeUninit<Obj>` have one
            // layout (`Pkt` is a transparent pointer); nothing is read.
            let raw = unsafe { &mut *(bufs as *mut [MaybeUninit<Pkt>] as *mut [MaybeUninit<Obj>]) };
            let n = self.inner.rx(raw, &self.stats, self.port.id).min(bufs.len());
            QueueStats::add(&self.stats.packets, n as u64);
            if n == 0 && self.inner.eof() {
                self.eof.store(true, Relaxed);
            }
            n
        };
        // SAFETY: the backend's contract (`RxBackend`): `bufs[..n]` hold
        // live mbufs handed to us alone, now owned as `Pkt`s.
        unsafe { &mut *(&mut bufs[..n] as *mut [MaybeUninit<Pkt>] as *mut [Pkt]) }
    }

    /// [`rx_burst`](Self::rx_burst) into a vector's spare room: receives up
    /// to `max` packets and appends them to `out`; returns how many.
    pub fn rx_burst_vec(&mut self, out: &mut Vec<Pkt>, max: usize) -> usize {
        out.reserve(max);
        let n = self.rx_burst(&mut out.spare_capacity_mut()[..max]).len();
        // SAFETY: `rx_burst` initialised the first `n` spare slots with
        // owned packets.
        unsafe { out.set_len(out.len() + n) };
        n
    }

    /// Whether a finite input is exhausted.
    pub fn eof(&self) -> bool {
        self.inner.eof()
    }

    /// The port.
    pub fn port(&self) -> &Arc<Port> {
        &self.port
    }

    /// The queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        let inner = std::mem::replace(&mut self.inner, Box::new(Closed));
        self.port.give_back_rx(self.queue, inner);
    }
}

/// A tx queue in use. Dropping it flushes it and gives it back.
pub struct TxQueue {
    port: Arc<Port>,
    queue: u16,
    inner: Box<dyn TxBackend>,
    stats: Arc<QueueStats>,
    link: Arc<AtomicBool>,
}

impl TxQueue {
    /// Sends packets from the front of `pkts` (`rte_eth_tx_burst`) and
    /// returns the ones the port did not take, still the caller's. Nothing
    /// is taken while the link is down. A packet taken but not sent (an
    /// output that failed) is counted in `oerrors`, not `opackets`.
    #[inline]
    pub fn tx_burst<'a>(&mut self, mut pkts: Objs<'a, Pkt>) -> Objs<'a, Pkt> {
        if !self.link.load(Relaxed) || pkts.is_empty() {
            return pkts;
        }
        let errors = self.stats.errors.load(Relaxed);
        let n = self.inner.tx(crate::pkt::as_objs_mut(&mut pkts), &self.stats).min(pkts.len());
        // Taken but not sent (the backend counted them in `errors`): not
        // in `packets`, so `opackets + oerrors` is what the port took.
        let failed = self.stats.errors.load(Relaxed).wrapping_sub(errors).min(n as u64);
        QueueStats::add(&self.stats.packets, n as u64 - failed);
        // The backend owns `pkts[..n]` now (`TxBackend`'s contract): that
        // part is forgotten here.
        pkts.split_at(n).1
    }

    /// [`tx_burst`](Self::tx_burst) from a vector: sends from the front of
    /// `pkts`, leaves the packets the port did not take in `pkts`, and
    /// returns how many were sent.
    pub fn tx_burst_vec(&mut self, pkts: &mut Vec<Pkt>) -> usize {
        let total = pkts.len();
        let left = self.tx_burst(Objs::from_vec(pkts)).len();
        let base = pkts.as_mut_ptr();
        // `from_vec` moved the `total` packets out (the length is 0); the
        // port took the first `total - left`.
        // SAFETY: the last `left` are still owned by the buffer: they move
        // to the front and are counted again.
        unsafe {
            core::ptr::copy(base.add(total - left), base, left);
            pkts.set_len(left);
        }
        total - left
    }

    /// Pushes buffered output (a pcap file) out.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }

    /// The port.
    pub fn port(&self) -> &Arc<Port> {
        &self.port
    }

    /// The queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        let _ = self.inner.flush();
        let inner = std::mem::replace(&mut self.inner, Box::new(Closed));
        self.port.give_back_tx(self.queue, inner);
    }
}

/// Placeholder left in a queue handle while it is being dropped.
struct Closed;

// SAFETY: receives nothing.
unsafe impl RxBackend for Closed {
    fn rx(&mut self, _: &mut [MaybeUninit<Obj>], _: &QueueStats, _: PortId) -> usize {
        0
    }
}

// SAFETY: takes nothing.
unsafe impl TxBackend for Closed {
    fn tx(&mut self, _: &mut [Obj], _: &QueueStats) -> usize {
        0
    }
}
