//! dpdk backend: a DPDK ethdev port (any poll-mode driver: PCI NICs,
//! `net_pcap`, `net_ring`, `net_null`, `net_af_packet`, ...). Rx and tx
//! burst straight between the driver and the graph's streams: the
//! `rte_mbuf *` the driver returns is the graph object, unconverted.
//!
//! Parameters: `port_id=N` (DPDK's port id; default: our port id),
//! `rxd=N`, `txd=N` (descriptors per queue, default 1024), `promisc=0|1`
//! (default 1). The pool must be a DPDK pool (`dpdk::pool_create`).

use std::sync::Arc;

use core::mem::MaybeUninit;
use dpdk_sys as sys;

use graph_core::Obj;

use super::{Opened, PortConfig, PortCounters, PortError, PortId, QueueStats, RxBackend, TxBackend};
use crate::mempool::Mempool;

fn fail(what: String, rc: i32) -> PortError {
    let e = std::io::Error::from_raw_os_error(rc.abs());
    PortError::Io { backend: "dpdk", what, source: e }
}

struct Rx {
    port: u16,
    queue: u16,
}

// SAFETY: `rte_eth_rx_burst` writes `n <= bufs.len()` pointers to live
// mbufs of the queue's DPDK pool, each handed to the caller alone, and
// returns `n`; DPDK mbufs keep the `Mbuf` invariant.
unsafe impl RxBackend for Rx {
    #[inline]
    fn rx(&mut self, bufs: &mut [MaybeUninit<Obj>], _stats: &QueueStats, _port: PortId) -> usize {
        let n = bufs.len().min(u16::MAX as usize) as u16;
        // The driver sets each packet's port (its DPDK port id, our `port_id`).
        // SAFETY: `bufs` has room for `n` pointers (`Obj` is a transparent
        // pointer; `MaybeUninit` keeps its layout); the driver only writes
        // them, at most `n`.
        unsafe { sys::rgraph_rte_eth_rx_burst(self.port, self.queue, bufs.as_mut_ptr().cast(), n) as usize }
    }
}

struct Tx {
    port: u16,
    queue: u16,
}

// SAFETY: `rte_eth_tx_burst` takes ownership of the first `n` mbufs it
// reports and never touches the others; `tx` returns the sum of those.
unsafe impl TxBackend for Tx {
    #[inline]
    fn tx(&mut self, pkts: &mut [Obj], _stats: &QueueStats) -> usize {
        // The whole burst in one call and no copy, as DPDK's ethdev_tx node
        // (the driver may write the array: `TxBackend` lends it mutably).
        let mut sent = 0;
        while sent < pkts.len() {
            let rest = &mut pkts[sent..];
            let (want, at) = (rest.len().min(usize::from(u16::MAX)), rest.as_mut_ptr().cast());
            // SAFETY: `rest[..want]` are mbuf pointers the caller owns; the
            // driver takes ownership of the first ones it counts and leaves
            // the array's other entries alone.
            let n = unsafe { sys::rgraph_rte_eth_tx_burst(self.port, self.queue, at, want as u16) } as usize;
            sent += n;
            if n < want {
                break;
            }
        }
        sent
    }
}

/// Undoes a partial open when dropped armed.
struct Undo {
    port: u16,
    started: bool,
    armed: bool,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // SAFETY: `port` is a valid port this open configured (and maybe
        // started); no queue of it was handed out, so stopping and closing
        // it cannot pull a queue from under a user.
        unsafe {
            if self.started {
                sys::rte_eth_dev_stop(self.port);
            }
            sys::rte_eth_dev_close(self.port);
        }
    }
}

pub(crate) fn open(id: u16, cfg: &PortConfig, pool: &Mempool) -> Result<Opened, PortError> {
    let mut p = cfg.params("dpdk");
    let port: u16 = p.parse("port_id", id)?;
    let rxd: u16 = p.parse("rxd", 1024)?;
    let txd: u16 = p.parse("txd", 1024)?;
    let promisc: u8 = p.parse("promisc", 1)?;
    p.finish()?;
    if !crate::dpdk::eal_active() {
        return Err(PortError::BadSpec {
            spec: "dpdk".into(),
            reason: "the EAL is not initialised (give EAL arguments before --)".into(),
        });
    }
    let mp = pool.as_foreign().map(|f| f.handle()).ok_or_else(|| PortError::BadParam {
        backend: "dpdk",
        key: "pool".into(),
        reason: "a DPDK port needs a DPDK mempool".into(),
    })? as *mut sys::rte_mempool;
    // SAFETY: `rte_eth_dev_is_valid_port` takes any port id and only reads
    // the ethdev table, initialised with the EAL (checked above).
    if unsafe { sys::rte_eth_dev_is_valid_port(port) } == 0 {
        return Err(PortError::BadParam {
            backend: "dpdk",
            key: "port_id".into(),
            reason: format!("DPDK has no port {port} ({} found)", crate::dpdk::eth_dev_count()),
        });
    }
    let mut info: sys::rte_eth_dev_info = Default::default();
    // SAFETY: `info` is written by DPDK.
    let rc = unsafe { sys::rte_eth_dev_info_get(port, &mut info) };
    if rc != 0 {
        return Err(fail(format!("port {port}: rte_eth_dev_info_get"), rc));
    }
    if cfg.nb_rxq > info.max_rx_queues || cfg.nb_txq > info.max_tx_queues {
        return Err(PortError::BadParam {
            backend: "dpdk",
            key: "queues".into(),
            reason: format!(
                "port {port} has at most {} rx and {} tx queues; {} and {} asked",
                info.max_rx_queues, info.max_tx_queues, cfg.nb_rxq, cfg.nb_txq
            ),
        });
    }
    let conf: sys::rte_eth_conf = Default::default();
    // SAFETY: valid port, queue counts checked, `conf` lives across the call.
    let rc = unsafe { sys::rte_eth_dev_configure(port, cfg.nb_rxq, cfg.nb_txq, &conf) };
    if rc != 0 {
        return Err(fail(format!("port {port}: rte_eth_dev_configure"), rc));
    }
    // From here on a failure undoes what was done: the device is stopped
    // if it was started and closed, so that it holds no queue, descriptor
    // ring or buffer of ours.
    let mut undo = Undo { port, started: false, armed: true };
    // SAFETY: `port` is a valid port (checked above); the call reads its
    // device data.
    let socket = unsafe { sys::rte_eth_dev_socket_id(port) }.max(0) as u32;
    for q in 0..cfg.nb_rxq {
        // SAFETY: configured port, queue in range, a live pktmbuf pool.
        let rc = unsafe { sys::rte_eth_rx_queue_setup(port, q, rxd, socket, std::ptr::null(), mp) };
        if rc != 0 {
            return Err(fail(format!("port {port}: rx queue {q} setup"), rc));
        }
    }
    for q in 0..cfg.nb_txq {
        // SAFETY: configured port, queue in range.
        let rc = unsafe { sys::rte_eth_tx_queue_setup(port, q, txd, socket, std::ptr::null()) };
        if rc != 0 {
            return Err(fail(format!("port {port}: tx queue {q} setup"), rc));
        }
    }
    // SAFETY: configured port with its queues set up.
    let rc = unsafe { sys::rte_eth_dev_start(port) };
    if rc != 0 {
        return Err(fail(format!("port {port}: rte_eth_dev_start"), rc));
    }
    undo.started = true;
    if promisc != 0 {
        // SAFETY: started port. Not every driver supports it; that is fine.
        unsafe { sys::rte_eth_promiscuous_enable(port) };
    }
    let mut addr: sys::rte_ether_addr = Default::default();
    // SAFETY: `addr` is written by DPDK.
    let mac = (unsafe { sys::rte_eth_macaddr_get(port, &mut addr) } == 0).then_some(addr.addr_bytes);
    let stats = move || {
        let mut s: sys::rte_eth_stats = Default::default();
        // SAFETY: `s` is written by DPDK; the port outlives the closure's
        // use (the Port closes it last).
        unsafe { sys::rte_eth_stats_get(port, &mut s) };
        PortCounters {
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
            ..PortCounters::default()
        }
    };
    let close = move || {
        // SAFETY: stopping and closing the port this backend started; no
        // queue of it is used any more (the Port is being dropped).
        unsafe {
            sys::rte_eth_dev_stop(port);
            sys::rte_eth_dev_close(port);
        }
    };
    undo.armed = false;
    Ok(Opened {
        rx: (0..cfg.nb_rxq).map(|q| Box::new(Rx { port, queue: q }) as Box<dyn RxBackend>).collect(),
        tx: (0..cfg.nb_txq).map(|q| Box::new(Tx { port, queue: q }) as Box<dyn TxBackend>).collect(),
        mac,
        device_stats: Some(Arc::new(stats)),
        on_close: Some(Box::new(close)),
    })
}
