//! af_packet backend: Linux AF_PACKET sockets with PACKET_MMAP rings on a
//! real interface. Rx uses a TPACKET_V3 block ring per queue; several rx
//! queues share the interface's traffic through PACKET_FANOUT (by flow
//! hash). Tx uses a TPACKET_V2 ring and one `send` per burst.
//!
//! Parameters: `iface=NAME` (required), `frames=N` ring frames per queue
//! (default 4096), `fanout=ID` fanout group id (default derived from the
//! process and interface), `promisc=0|1` (default 1).
//!
//! Frames are copied between the kernel's ring and our buffers (AF_PACKET
//! cannot hand out its ring memory as packet buffers). Frames the kernel
//! dropped because the ring was full are counted as `imissed` (read from
//! PACKET_STATISTICS when a queue finds its ring empty).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use std::mem::MaybeUninit;

use graph_core::Obj;

use super::{Opened, PortConfig, PortError, PortId, QueueStats, RxBackend, TxBackend};
use crate::mbuf::Mbuf;
use crate::mempool::{free, free_raw, Mempool};

const BLOCK_SIZE: u32 = 1 << 18;
const FRAME_SIZE: u32 = 2048;

fn err(what: impl Into<String>, source: io::Error) -> PortError {
    PortError::Io { backend: "af_packet", what: what.into(), source }
}

fn last(what: impl Into<String>) -> PortError {
    err(what, io::Error::last_os_error())
}

/// A mapping of a socket's ring.
struct Ring {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned by the queue that holds it, which is used by
// one thread at a time (`&mut self`).
unsafe impl Send for Ring {}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping made in `map_ring`; nothing
        // references it afterwards.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

fn setsockopt<T>(fd: &OwnedFd, level: i32, name: i32, val: &T, what: &str) -> Result<(), PortError> {
    // SAFETY: `val` points to a live `T` of the size passed.
    let rc = unsafe {
        libc::setsockopt(fd.as_raw_fd(), level, name, (val as *const T).cast(), std::mem::size_of::<T>() as u32)
    };
    if rc != 0 {
        return Err(last(what));
    }
    Ok(())
}

fn packet_socket(iface: &str) -> Result<OwnedFd, PortError> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: socket(2) takes no pointers; it returns a new descriptor or
    // -1, checked below.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
    if fd < 0 {
        return Err(last(format!("opening a packet socket for {iface} (needs CAP_NET_RAW)")));
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn bind(fd: &OwnedFd, iface: &str, ifindex: i32) -> Result<(), PortError> {
    // SAFETY: an all-zero sockaddr_ll is valid; fields are set below.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    sll.sll_ifindex = ifindex;
    // SAFETY: `sll` is a valid sockaddr_ll of the size passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc != 0 {
        return Err(last(format!("binding to {iface}")));
    }
    Ok(())
}

fn map_ring(fd: &OwnedFd, len: usize, what: &str) -> Result<Ring, PortError> {
    // SAFETY: mapping the ring the kernel set up for this socket; the kernel
    // validates `len` against it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_LOCKED,
            fd.as_raw_fd(),
            0,
        )
    };
    let p = if p == libc::MAP_FAILED {
        // MAP_LOCKED can fail under RLIMIT_MEMLOCK; retry without it.
        // SAFETY: as above.
        unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        }
    } else {
        p
    };
    if p == libc::MAP_FAILED {
        return Err(last(what.to_string()));
    }
    Ok(Ring { ptr: NonNull::new(p.cast()).expect("mmap"), len })
}

/// The MAC address of `iface`, asked through `fd` (so in the socket's
/// network namespace).
fn iface_mac(fd: &OwnedFd, iface: &str) -> Option<[u8; 6]> {
    // SAFETY: an all-zero ifreq is valid; the name is copied in below.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let name = iface.as_bytes();
    if name.len() >= req.ifr_name.len() {
        return None;
    }
    for (d, s) in req.ifr_name.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads the name and writes the address into
    // `req`, which lives across the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) };
    if rc != 0 {
        return None;
    }
    // SAFETY: after a successful SIOCGIFHWADDR the union holds a sockaddr.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *d = *s as u8;
    }
    Some(mac)
}

struct Rx {
    fd: OwnedFd,
    ring: Ring,
    blocks: u32,
    block: u32,
    /// Packets left in the current block, and the next one's header.
    left: u32,
    next: *const u8,
    pool: Mempool,
}

// SAFETY: `next` points into `ring`, which moves with the queue.
unsafe impl Send for Rx {}

impl Rx {
    fn block_status(&self, b: u32) -> &AtomicU32 {
        // SAFETY: block `b` lies inside the ring (b < blocks); its header
        // starts with `version` then `offset_to_priv` then `block_status`,
        // a u32 the kernel and we hand over atomically.
        unsafe {
            let bd = self.ring.ptr.as_ptr().add((b * BLOCK_SIZE) as usize).cast::<libc::tpacket_block_desc>();
            AtomicU32::from_ptr(std::ptr::addr_of_mut!((*bd).hdr.bh1.block_status))
        }
    }

    fn drops(&self, stats: &QueueStats) {
        // SAFETY: an all-zero tpacket_stats_v3 is valid; getsockopt fills it.
        let mut st: libc::tpacket_stats_v3 = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tpacket_stats_v3>() as u32;
        // SAFETY: `st` and `len` are valid for the call.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats_v3).cast(),
                &mut len,
            )
        };
        if rc == 0 && st.tp_drops > 0 {
            QueueStats::add(&stats.missed, u64::from(st.tp_drops));
        }
    }
}

// SAFETY: `rx` initialises `bufs[..n]` with packets it allocated and
// filled, frees those it could not fill, and returns `n`.
unsafe impl RxBackend for Rx {
    fn rx(&mut self, bufs: &mut [MaybeUninit<Obj>], stats: &QueueStats, port: PortId) -> usize {
        let mut n = 0;
        let mut bytes = 0u64;
        while n < bufs.len() {
            if self.left == 0 {
                let status = self.block_status(self.block).load(Ordering::Acquire);
                if status & libc::TP_STATUS_USER == 0 {
                    if n == 0 {
                        self.drops(stats);
                    }
                    break;
                }
                // SAFETY: the kernel handed block `block` to us (status
                // USER, acquire): its descriptor is stable until we give it
                // back.
                unsafe {
                    let base = self.ring.ptr.as_ptr().add((self.block * BLOCK_SIZE) as usize);
                    let bd = base.cast::<libc::tpacket_block_desc>();
                    self.left = (*bd).hdr.bh1.num_pkts;
                    self.next = base.add((*bd).hdr.bh1.offset_to_first_pkt as usize);
                }
                if self.left == 0 {
                    self.release();
                    continue;
                }
            }
            let Ok(mut m) = self.pool.alloc() else {
                QueueStats::add(&stats.nombuf, 1);
                break;
            };
            // SAFETY: `next` is the header of one of the `left` packets of a
            // block we own; the kernel wrote `tp_snaplen` bytes at `tp_mac`
            // inside the block.
            let (frame, step, status) = unsafe {
                let h = self.next.cast::<libc::tpacket3_hdr>();
                let frame = std::slice::from_raw_parts(self.next.add((*h).tp_mac as usize), (*h).tp_snaplen as usize);
                (frame, (*h).tp_next_offset as usize, (*h).tp_status)
            };
            if m.set_data(frame) {
                // A frame the kernel left for the NIC to finish (a veth
                // peer's TCP or UDP, checksum offload on): finish it here,
                // or the packet leaves with a checksum no host accepts.
                if status & libc::TP_STATUS_CSUMNOTREADY != 0 {
                    crate::wire::finish_l4_checksum(m.data_mut());
                }
                m.set_port(port);
                bytes += frame.len() as u64;
                bufs[n].write(m.into_obj());
                n += 1;
            } else {
                QueueStats::add(&stats.errors, 1);
                free(m);
            }
            self.left -= 1;
            if self.left == 0 {
                self.release();
            } else {
                self.next = self.next.wrapping_add(step);
            }
        }
        QueueStats::add(&stats.bytes, bytes);
        n
    }
}

impl Rx {
    fn release(&mut self) {
        self.block_status(self.block).store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.block = (self.block + 1) % self.blocks;
        self.left = 0;
    }
}

struct Tx {
    fd: OwnedFd,
    ring: Ring,
    frames: u32,
    next: u32,
}

impl Tx {
    fn slot(&self, i: u32) -> *mut u8 {
        self.ring.ptr.as_ptr().wrapping_add((i * FRAME_SIZE) as usize)
    }
}

// SAFETY: `tx` takes the packets it copied into the ring (or counted as
// too long), frees them, and returns their count; it stops at a full ring.
unsafe impl TxBackend for Tx {
    fn tx(&mut self, pkts: &mut [Obj], stats: &QueueStats) -> usize {
        let data_off = libc::TPACKET2_HDRLEN - std::mem::size_of::<libc::sockaddr_ll>();
        let room = FRAME_SIZE as usize - data_off;
        let mut taken = 0;
        let mut bytes = 0u64;
        for &o in pkts.iter() {
            let slot = self.slot(self.next);
            // SAFETY: slot `next` lies inside the tx ring; its header starts
            // with the u32 status the kernel and we hand over atomically.
            let status = unsafe { AtomicU32::from_ptr(slot.cast::<u32>()) };
            if status.load(Ordering::Acquire) != libc::TP_STATUS_AVAILABLE {
                break; // ring full: the caller keeps the rest
            }
            // SAFETY: the caller hands us this packet.
            let m = unsafe { Mbuf::from_obj(o) };
            let d = m.data();
            if d.len() > room {
                QueueStats::add(&stats.errors, 1);
            } else {
                // SAFETY: the slot is ours (status AVAILABLE, acquire) and
                // has `room` bytes after `data_off`.
                unsafe {
                    std::ptr::copy_nonoverlapping(d.as_ptr(), slot.add(data_off), d.len());
                    let h = slot.cast::<libc::tpacket2_hdr>();
                    (*h).tp_len = d.len() as u32;
                }
                status.store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
                bytes += d.len() as u64;
                self.next = (self.next + 1) % self.frames;
            }
            taken += 1;
        }
        // SAFETY: `pkts[..taken]` are ours (`TxBackend`) and not used again.
        unsafe { free_raw(&pkts[..taken]) };
        QueueStats::add(&stats.bytes, bytes);
        if taken > 0 {
            // SAFETY: a zero-length send on a packet socket flushes its tx
            // ring; no buffer is read.
            let rc = unsafe { libc::send(self.fd.as_raw_fd(), std::ptr::null(), 0, libc::MSG_DONTWAIT) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::WouldBlock && e.raw_os_error() != Some(libc::ENOBUFS) {
                    QueueStats::add(&stats.errors, 1);
                }
            }
        }
        taken
    }
}

fn ifindex(iface: &str) -> Result<i32, PortError> {
    let c = CString::new(iface).map_err(|_| PortError::BadParam {
        backend: "af_packet",
        key: "iface".into(),
        reason: format!("\"{iface}\" contains a NUL byte"),
    })?;
    // SAFETY: `c` is a valid C string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(PortError::BadParam {
            backend: "af_packet",
            key: "iface".into(),
            reason: format!("no interface \"{iface}\""),
        });
    }
    Ok(i as i32)
}

pub(crate) fn open(cfg: &PortConfig, pool: &Mempool) -> Result<Opened, PortError> {
    let mut p = cfg.params("af_packet");
    let iface = p.get("iface")?.ok_or_else(|| p.err("iface", "required"))?;
    let frames: u32 = p.parse("frames", 4096)?;
    let promisc: u8 = p.parse("promisc", 1)?;
    let idx = ifindex(&iface)?;
    let fanout: u16 = p.parse("fanout", ((std::process::id() as u16) ^ (idx as u16).rotate_left(8)) | 1)?;
    p.finish()?;
    if !(64..=1 << 20).contains(&frames) {
        return Err(PortError::BadParam {
            backend: "af_packet",
            key: "frames".into(),
            reason: format!("{frames} outside 64..=1048576"),
        });
    }
    let per_block = BLOCK_SIZE / FRAME_SIZE;
    let blocks = frames.div_ceil(per_block).max(2);
    let mut rx: Vec<Box<dyn RxBackend>> = Vec::new();
    for q in 0..cfg.nb_rxq {
        let fd = packet_socket(&iface)?;
        let v3 = libc::tpacket_versions::TPACKET_V3 as i32;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &v3, "selecting TPACKET_V3")?;
        let one: i32 = 1;
        // Our own transmissions are not input (Linux >= 4.20; older kernels
        // ignore this and rx would see them).
        let _ = setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one, "ignoring outgoing frames");
        let req = libc::tpacket_req3 {
            tp_block_size: BLOCK_SIZE,
            tp_block_nr: blocks,
            tp_frame_size: FRAME_SIZE,
            tp_frame_nr: blocks * per_block,
            tp_retire_blk_tov: 1,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req, "setting up the rx ring")?;
        let ring = map_ring(&fd, (BLOCK_SIZE * blocks) as usize, "mapping the rx ring")?;
        bind(&fd, &iface, idx)?;
        if promisc != 0 {
            let mr = libc::packet_mreq {
                mr_ifindex: idx,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mr, "enabling promiscuous mode")?;
        }
        if cfg.nb_rxq > 1 {
            let arg: u32 = u32::from(fanout) | (libc::PACKET_FANOUT_HASH << 16);
            setsockopt(
                &fd,
                libc::SOL_PACKET,
                libc::PACKET_FANOUT,
                &arg,
                &format!("joining fanout group {fanout} (rx queue {q})"),
            )?;
        }
        rx.push(Box::new(Rx { fd, ring, blocks, block: 0, left: 0, next: std::ptr::null(), pool: pool.clone() }));
    }
    let mut tx: Vec<Box<dyn TxBackend>> = Vec::new();
    for _ in 0..cfg.nb_txq {
        let fd = packet_socket(&iface)?;
        let v2 = libc::tpacket_versions::TPACKET_V2 as i32;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &v2, "selecting TPACKET_V2")?;
        let one: i32 = 1;
        let _ = setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &one, "bypassing the qdisc");
        let tframes = frames.div_ceil(per_block) * per_block;
        let req = libc::tpacket_req {
            tp_block_size: BLOCK_SIZE,
            tp_block_nr: tframes / per_block,
            tp_frame_size: FRAME_SIZE,
            tp_frame_nr: tframes,
        };
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_TX_RING, &req, "setting up the tx ring")?;
        let ring = map_ring(&fd, (BLOCK_SIZE * (tframes / per_block)) as usize, "mapping the tx ring")?;
        bind(&fd, &iface, idx)?;
        tx.push(Box::new(Tx { fd, ring, frames: tframes, next: 0 }));
    }
    let probe = packet_socket(&iface)?;
    Ok(Opened { rx, tx, mac: iface_mac(&probe, &iface), device_stats: None, on_close: None })
}
