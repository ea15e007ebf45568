//! ring backend: in-memory ports. A ring port's tx queue pushes into a
//! named ring and its rx queue pops from one, so `rx=a,tx=b` on one port and
//! `rx=b,tx=a` on another make a pair, and `rx=a,tx=a` a loopback. Queue
//! `q > 0` uses ring `NAME.q`. Packets left in a ring when its last port
//! closes are freed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use core::mem::MaybeUninit;
use crossbeam_queue::ArrayQueue;

use graph_core::Obj;

use super::{Opened, PortConfig, PortError, PortId, QueueStats, RxBackend, TxBackend};
use crate::mbuf::Mbuf;
use crate::mempool::free_raw;

/// Largest ring, in packets.
pub const MAX_RING: usize = 1 << 20;

struct Ring {
    q: ArrayQueue<Obj>,
}

impl Drop for Ring {
    fn drop(&mut self) {
        let left: Vec<Obj> = std::iter::from_fn(|| self.q.pop()).collect();
        // SAFETY: packets in a ring are owned by it (pushed by a tx queue
        // that was handed them), and the ring is going away.
        unsafe { free_raw(&left) };
    }
}

static RINGS: Mutex<Option<HashMap<String, Weak<Ring>>>> = Mutex::new(None);

fn ring(name: &str, size: usize) -> Arc<Ring> {
    let mut all = RINGS.lock().unwrap_or_else(|e| e.into_inner());
    let map = all.get_or_insert_with(HashMap::new);
    map.retain(|_, w| w.strong_count() > 0);
    if let Some(r) = map.get(name).and_then(Weak::upgrade) {
        return r;
    }
    let r = Arc::new(Ring { q: ArrayQueue::new(size) });
    map.insert(name.to_string(), Arc::downgrade(&r));
    r
}

struct Rx(Arc<Ring>);

// SAFETY: `rx` initialises `bufs[..n]` with packets popped from the ring
// (which owned them) and returns `n`.
unsafe impl RxBackend for Rx {
    fn rx(&mut self, bufs: &mut [MaybeUninit<Obj>], stats: &QueueStats, port: PortId) -> usize {
        let mut n = 0;
        let mut bytes = 0u64;
        while n < bufs.len() {
            match self.0.q.pop() {
                Some(o) => {
                    // SAFETY: the ring handed this packet to us.
                    let m = unsafe { Mbuf::from_obj(o) };
                    m.set_port(port);
                    bytes += u64::from(m.pkt_len());
                    bufs[n].write(o);
                    n += 1;
                }
                None => break,
            }
        }
        QueueStats::add(&stats.bytes, bytes);
        n
    }
}

struct Tx(Arc<Ring>);

// SAFETY: `tx` takes the packets it pushed (the ring owns them then) and
// returns their count; it stops at the first one the ring refuses.
unsafe impl TxBackend for Tx {
    fn tx(&mut self, pkts: &mut [Obj], stats: &QueueStats) -> usize {
        let mut n = 0;
        let mut bytes = 0u64;
        for &o in pkts.iter() {
            // SAFETY: the caller hands us this packet; its length is read
            // before the ring hands it on.
            let len = u64::from(unsafe { Mbuf::from_obj(o) }.pkt_len());
            if self.0.q.push(o).is_err() {
                break;
            }
            bytes += len;
            n += 1;
        }
        QueueStats::add(&stats.bytes, bytes);
        n
    }
}

fn queue_name(base: &str, q: u16) -> String {
    if q == 0 {
        base.to_string()
    } else {
        format!("{base}.{q}")
    }
}

pub(crate) fn open(cfg: &PortConfig) -> Result<Opened, PortError> {
    let mut p = cfg.params("ring");
    let rx = p.get("rx")?;
    let tx = p.get("tx")?;
    let size: usize = p.parse("size", 1024)?;
    if size == 0 || size > MAX_RING {
        return Err(p.err("size", format!("{size} is outside 1..={MAX_RING}")));
    }
    p.finish()?;
    let need = |v: Option<String>, key: &str, n: u16| -> Result<String, PortError> {
        match v {
            Some(v) if !v.is_empty() => Ok(v),
            _ if n == 0 => Ok(String::new()),
            _ => Err(PortError::BadParam { backend: "ring", key: key.into(), reason: "required".into() }),
        }
    };
    let rx = need(rx, "rx", cfg.nb_rxq)?;
    let tx = need(tx, "tx", cfg.nb_txq)?;
    Ok(Opened {
        rx: (0..cfg.nb_rxq).map(|q| Box::new(Rx(ring(&queue_name(&rx, q), size))) as Box<dyn RxBackend>).collect(),
        tx: (0..cfg.nb_txq).map(|q| Box::new(Tx(ring(&queue_name(&tx, q), size))) as Box<dyn TxBackend>).collect(),
        mac: None,
        device_stats: None,
        on_close: None,
    })
}
