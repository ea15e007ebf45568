//! pcap backend: rx replays a capture file (read into memory once), once,
//! N times or forever; tx writes a capture file tcpdump and tshark read.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use core::mem::MaybeUninit;

use graph_core::Obj;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::DataLink;

use super::{Opened, PortConfig, PortError, PortId, QueueStats, RxBackend, TxBackend};
use crate::mbuf::Mbuf;
use crate::mempool::{free_raw, Mempool};

/// The frames of a capture file, back to back.
#[derive(Debug, Default)]
pub struct Frames {
    data: Vec<u8>,
    spans: Vec<(usize, usize)>,
    /// Set when the file's last record was cut off (a capture interrupted
    /// while writing): the frames before it are kept.
    pub truncated: bool,
}

impl Frames {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Frame `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        let (s, l) = self.spans[i];
        &self.data[s..s + l]
    }

    /// All frames, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.spans.iter().map(|&(s, l)| &self.data[s..s + l])
    }
}

/// The first four bytes of a pcapng file (its section header block type).
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

impl Frames {
    fn push(&mut self, data: &[u8]) {
        self.spans.push((self.data.len(), data.len()));
        self.data.extend_from_slice(data);
    }
}

/// Parses a capture file image, pcap or pcapng (what current capture tools
/// write). Only Ethernet captures are accepted. A last record cut off is
/// the end of the input (`truncated` is set); any other damage is an error
/// naming the record.
pub fn parse_pcap(bytes: &[u8]) -> Result<Frames, String> {
    if bytes.starts_with(&PCAPNG_MAGIC) {
        return parse_pcapng(bytes);
    }
    let mut r = PcapReader::new(bytes).map_err(|e| format!("not a pcap or pcapng file: {e}"))?;
    let lt = r.header().datalink;
    if lt != DataLink::ETHERNET {
        return Err(format!("link type {lt:?} is not Ethernet"));
    }
    let mut f = Frames::default();
    while let Some(p) = r.next_packet() {
        match p {
            Ok(p) => f.push(&p.data),
            Err(e) if cut_off(&e) => {
                f.truncated = true;
                break;
            }
            Err(e) => return Err(format!("frame {}: {e}", f.len() + 1)),
        }
    }
    Ok(f)
}

/// Whether a reader error means the input ended inside a record.
fn cut_off(e: &pcap_file::PcapError) -> bool {
    match e {
        pcap_file::PcapError::IncompleteBuffer => true,
        pcap_file::PcapError::IoError(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
        _ => false,
    }
}

fn parse_pcapng(bytes: &[u8]) -> Result<Frames, String> {
    use pcap_file::pcapng::{Block, PcapNgReader};
    let mut r = PcapNgReader::new(bytes).map_err(|e| format!("not a pcapng file: {e}"))?;
    let mut f = Frames::default();
    // Link types of the section's interfaces, by interface id.
    let mut links: Vec<DataLink> = Vec::new();
    while let Some(b) = r.next_block() {
        let (iface, data) = match b {
            Ok(Block::InterfaceDescription(i)) => {
                links.push(i.linktype);
                continue;
            }
            Ok(Block::SectionHeader(_)) => {
                links.clear();
                continue;
            }
            Ok(Block::EnhancedPacket(p)) => (p.interface_id as usize, p.data),
            Ok(Block::SimplePacket(p)) => (0, p.data),
            Ok(_) => continue,
            Err(e) if cut_off(&e) => {
                f.truncated = true;
                break;
            }
            Err(e) => return Err(format!("block after frame {}: {e}", f.len())),
        };
        match links.get(iface) {
            Some(&DataLink::ETHERNET) => f.push(&data),
            Some(lt) => return Err(format!("frame {}: link type {lt:?} is not Ethernet", f.len() + 1)),
            None => return Err(format!("frame {}: no interface {iface} described before it", f.len() + 1)),
        }
    }
    Ok(f)
}

/// Largest pcap file read as input (it is held in memory).
pub const MAX_PCAP_BYTES: u64 = 1 << 30;

/// Reads and parses a pcap file: a regular file of at most
/// [`MAX_PCAP_BYTES`] (a device or a FIFO is refused, not read for ever).
pub fn read_pcap(path: &Path) -> Result<Frames, PortError> {
    let bad = |reason: String| PortError::BadParam { backend: "pcap", key: "rx_pcap".into(), reason };
    let meta = std::fs::metadata(path).map_err(|source| PortError::Io {
        backend: "pcap",
        what: format!("reading {}", path.display()),
        source,
    })?;
    if !meta.is_file() {
        return Err(bad(format!("{}: not a regular file", path.display())));
    }
    if meta.len() > MAX_PCAP_BYTES {
        return Err(bad(format!(
            "{}: {} bytes, more than the {MAX_PCAP_BYTES} an input may hold",
            path.display(),
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|source| PortError::Io {
        backend: "pcap",
        what: format!("reading {}", path.display()),
        source,
    })?;
    parse_pcap(&bytes).map_err(|reason| PortError::BadParam {
        backend: "pcap",
        key: "rx_pcap".into(),
        reason: format!("{}: {reason}", path.display()),
    })
}

/// Writes `frames` to a pcap file. A regular file appears whole: it is
/// written under a part name beside `path` and renamed over it at the end
/// (a reader never sees half a capture; on error `path` is untouched).
pub fn write_pcap<'a>(path: &Path, frames: impl IntoIterator<Item = &'a [u8]>) -> std::io::Result<()> {
    write_whole(path, |file| {
        let mut w = PcapWriter::with_header(file, header()).map_err(std::io::Error::other)?;
        for f in frames {
            w.write_packet(&PcapPacket::new(Default::default(), f.len() as u32, f)).map_err(std::io::Error::other)?;
        }
        w.into_writer().into_inner().map_err(|e| e.into_error()).map(drop)
    })
}

/// Creates `path` with `write`, whole or not at all: a regular file is
/// written under a part name beside `path` and renamed over it at the end
/// (removed on error, `path` untouched); a device or FIFO is written in
/// place.
fn write_whole(path: &Path, write: impl FnOnce(BufWriter<File>) -> std::io::Result<()>) -> std::io::Result<()> {
    let direct = std::fs::metadata(path).is_ok_and(|m| !m.is_file());
    let target = if direct { path.to_path_buf() } else { part_path(path) };
    match File::create(&target).and_then(|f| write(BufWriter::new(f))) {
        Ok(()) if direct => Ok(()),
        Ok(()) => std::fs::rename(&target, path),
        Err(e) => {
            if !direct {
                let _ = std::fs::remove_file(&target);
            }
            Err(e)
        }
    }
}

/// One frame of a pcapng capture: the port it belongs to, when it was
/// seen (since the Unix epoch), a comment (the node it was captured at)
/// and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedFrame {
    /// Port: the interface block it refers to.
    pub port: u16,
    /// Capture time.
    pub time: std::time::Duration,
    /// The packet's `opt_comment` (DPDK's graph pcap writes the graph and
    /// node there).
    pub comment: String,
    /// The frame.
    pub data: Vec<u8>,
}

/// Writes `frames` to a pcapng file: one Ethernet interface block per
/// port of `ports` (named `port N`, nanosecond timestamps), one enhanced
/// packet block per frame with its comment. A frame of a port not in
/// `ports` goes to an extra interface named `other`. Whole or nothing, as
/// [`write_pcap`].
pub fn write_pcapng(path: &Path, ports: &[u16], frames: &[CapturedFrame]) -> std::io::Result<()> {
    use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
    use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
    use pcap_file::pcapng::PcapNgWriter;
    use std::borrow::Cow;
    write_whole(path, |file| {
        let mut w = PcapNgWriter::new(file).map_err(std::io::Error::other)?;
        let names = ports.iter().map(|p| format!("port {p}")).chain(["other".to_string()]);
        for name in names {
            let idb = InterfaceDescriptionBlock {
                linktype: DataLink::ETHERNET,
                snaplen: 0,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Owned(name)),
                    InterfaceDescriptionOption::IfTsResol(9),
                ],
            };
            w.write_pcapng_block(idb).map_err(std::io::Error::other)?;
        }
        for f in frames {
            let iface = ports.iter().position(|&p| p == f.port).unwrap_or(ports.len());
            let epb = EnhancedPacketBlock {
                interface_id: iface as u32,
                timestamp: f.time,
                original_len: f.data.len() as u32,
                data: Cow::Borrowed(&f.data),
                options: vec![EnhancedPacketOption::Comment(Cow::Borrowed(&f.comment))],
            };
            w.write_pcapng_block(epb).map_err(std::io::Error::other)?;
        }
        w.into_inner().into_inner().map_err(|e| e.into_error()).map(drop)
    })
}

/// The header of the pcap files we write: big-endian (as the records the
/// tx queues format), microseconds, Ethernet.
fn header() -> PcapHeader {
    PcapHeader {
        datalink: DataLink::ETHERNET,
        snaplen: 65535,
        endianness: pcap_file::Endianness::Big,
        ..PcapHeader::default()
    }
}

/// How many times rx replays the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loops {
    /// This many passes.
    Times(u64),
    /// Forever.
    Forever,
}

struct Rx {
    frames: Arc<Frames>,
    next: usize,
    loops: Loops,
    pool: Mempool,
}

// SAFETY: `rx` initialises `bufs[..n]` with buffers it allocated and
// filled, frees the rest it allocated, and returns `n`.
unsafe impl RxBackend for Rx {
    fn rx(&mut self, bufs: &mut [MaybeUninit<Obj>], stats: &QueueStats, port: PortId) -> usize {
        if self.frames.is_empty() || self.loops == Loops::Times(0) || bufs.is_empty() {
            return 0;
        }
        let want = match self.loops {
            Loops::Forever | Loops::Times(2..) => bufs.len(),
            Loops::Times(_) => bufs.len().min(self.frames.len() - self.next),
        };
        if self.pool.alloc_raw(&mut bufs[..want]).is_err() {
            QueueStats::add(&stats.nombuf, 1);
            return 0;
        }
        let mut n = 0;
        let mut bytes = 0u64;
        while n < want && self.loops != Loops::Times(0) {
            let frame = self.frames.get(self.next);
            self.next += 1;
            if self.next == self.frames.len() {
                self.next = 0;
                if let Loops::Times(t) = &mut self.loops {
                    *t -= 1;
                }
            }
            // SAFETY: `bufs[n]` was initialised by `alloc_raw` with a
            // buffer allocated for this queue alone.
            let m = unsafe { Mbuf::from_obj(bufs[n].assume_init()) };
            if m.set_data(frame) {
                m.set_port(port);
                bytes += frame.len() as u64;
                n += 1;
            } else {
                // Larger than a buffer: skipped and counted.
                QueueStats::add(&stats.errors, 1);
            }
        }
        // SAFETY: `bufs[n..want]` were initialised by `alloc_raw` and are
        // ours (not handed out).
        unsafe { free_raw(super::assume_init(&bufs[n..want])) };
        QueueStats::add(&stats.bytes, bytes);
        n
    }

    fn eof(&self) -> bool {
        self.frames.is_empty() || self.loops == Loops::Times(0)
    }

    fn finite(&self) -> bool {
        self.loops != Loops::Forever || self.frames.is_empty()
    }
}

/// One tx queue's output: its records are formatted into `buf` (in the
/// byte order and resolution of [`header`]), then written to the port's
/// file with one write per burst.
struct Out {
    buf: Vec<u8>,
    /// The file, shared by the port's tx queues.
    file: Arc<Mutex<File>>,
    /// Where each record of the current burst ends in `buf`.
    ends: Vec<usize>,
}

struct Tx {
    out: Option<Out>,
    path: String,
    /// The first write error, reported by `flush` (and so at the end of a
    /// run) while the packets it hit are counted in `errors`.
    error: Option<(std::io::ErrorKind, String)>,
}

impl Out {
    /// Writes the burst's bytes; returns how many bytes reached the file
    /// and the error that stopped it, if any.
    fn write_burst(&self, bytes: &[u8]) -> (usize, Option<std::io::Error>) {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let mut written = 0;
        while written < bytes.len() {
            match f.write(&bytes[written..]) {
                Ok(0) => return (written, Some(std::io::ErrorKind::WriteZero.into())),
                Ok(k) => written += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return (written, Some(e)),
            }
        }
        (written, None)
    }
}

// SAFETY: `tx` takes every packet it is given (writes, then frees them)
// and returns their count; those it could not write are counted in
// `errors`.
unsafe impl TxBackend for Tx {
    fn tx(&mut self, pkts: &mut [Obj], stats: &QueueStats) -> usize {
        let Some(out) = &mut self.out else {
            // SAFETY: the caller hands these packets to us (`TxBackend`).
            let bytes = unsafe { super::total_len(pkts) };
            QueueStats::add(&stats.bytes, bytes);
            // SAFETY: ours, as above, and not used again.
            unsafe { free_raw(pkts) };
            return pkts.len();
        };
        let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let h = header();
        out.buf.clear();
        out.ends.clear();
        for &o in pkts.iter() {
            // SAFETY: the caller hands us these packets (they are ours
            // once `tx` returns their count).
            let m = unsafe { Mbuf::from_obj(o) };
            let data = m.data();
            let p = PcapPacket::new(ts, m.pkt_len().max(data.len() as u32), data);
            // Formatting into memory cannot fail.
            let _ = p.write_to::<_, byteorder::BigEndian>(&mut out.buf, h.ts_resolution, h.snaplen);
            out.ends.push(out.buf.len());
        }
        let (written, err) = out.write_burst(&out.buf);
        // A packet is sent when its whole record reached the file.
        let sent = out.ends.iter().take_while(|&&e| e <= written).count();
        if sent < pkts.len() {
            QueueStats::add(&stats.errors, (pkts.len() - sent) as u64);
            // A record cut in the middle is cut off again, so the file
            // stays a valid capture of what was sent (regular files).
            let complete = if sent == 0 { 0 } else { out.ends[sent - 1] };
            if written > complete {
                use std::io::{Seek, SeekFrom};
                let mut f = out.file.lock().unwrap_or_else(|e| e.into_inner());
                if let Ok(end) = f.stream_position() {
                    let back = end - (written - complete) as u64;
                    let _ = f.set_len(back).and_then(|()| f.seek(SeekFrom::Start(back)).map(|_| ()));
                }
            }
            if let (None, Some(e)) = (&self.error, err) {
                self.error = Some((e.kind(), e.to_string()));
            }
        }
        // SAFETY: as above: ours until `tx` returns.
        QueueStats::add(&stats.bytes, unsafe { super::total_len(&pkts[..sent]) });
        // SAFETY: the packets are ours (see above) and not used again.
        unsafe { free_raw(pkts) };
        pkts.len()
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &self.error {
            Some((kind, msg)) => Err(std::io::Error::new(*kind, format!("writing {}: {msg}", self.path))),
            None => Ok(()),
        }
    }
}

/// Where the output is written while the port is open: a hidden file
/// beside `path`, renamed over it when the port closes (unless discarded),
/// so that a start that fails leaves an existing file as it was.
fn part_path(path: &Path) -> std::path::PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}.{seq}.part", std::process::id()))
}

pub(crate) fn open(cfg: &PortConfig, pool: &Mempool, keep: &Arc<AtomicBool>) -> Result<Opened, PortError> {
    let mut p = cfg.params("pcap");
    let rx_files = p.all("rx_pcap");
    let tx_file = p.get("tx_pcap")?;
    let loops = match p.get("loop")?.as_deref() {
        None => Loops::Times(1),
        Some("forever") | Some("inf") => Loops::Forever,
        Some(v) => {
            Loops::Times(v.parse().map_err(|e| p.err("loop", format!("\"{v}\": {e} (a count or \"forever\")")))?)
        }
    };
    p.finish()?;
    let nb_rxq = cfg.nb_rxq as usize;
    if nb_rxq > 0 && rx_files.is_empty() {
        return Err(PortError::BadParam {
            backend: "pcap",
            key: "rx_pcap".into(),
            reason: "required for rx queues".into(),
        });
    }
    if !rx_files.is_empty() && rx_files.len() != 1 && rx_files.len() != nb_rxq {
        return Err(PortError::BadParam {
            backend: "pcap",
            key: "rx_pcap".into(),
            reason: format!("{} files for {} rx queues (give one, or one per queue)", rx_files.len(), nb_rxq),
        });
    }
    let mut loaded: Vec<Arc<Frames>> = Vec::new();
    for f in &rx_files {
        let frames = read_pcap(Path::new(f))?;
        if frames.truncated {
            crate::warn(format_args!(
                "pcap port: {f}: the last record is cut off; reading the {} frames before it",
                frames.len()
            ));
        }
        loaded.push(Arc::new(frames));
    }
    let rx = (0..nb_rxq)
        .map(|q| {
            let frames = loaded[q.min(loaded.len() - 1)].clone();
            Box::new(Rx { frames, next: 0, loops, pool: pool.clone() }) as Box<dyn RxBackend>
        })
        .collect();
    let mut on_close: Option<Box<dyn FnOnce() + Send>> = None;
    let out = match &tx_file {
        Some(path) => {
            // A device or a FIFO (/dev/full, a pipe to tshark) is written
            // in place; a regular file through a part file.
            let direct = std::fs::metadata(path).is_ok_and(|m| !m.is_file());
            let part = if direct { std::path::PathBuf::from(path) } else { part_path(Path::new(path)) };
            let file = File::create(&part).map_err(|source| PortError::Io {
                backend: "pcap",
                what: format!("creating {path}"),
                source,
            })?;
            // From here the part file exists: remove it if opening fails
            // later, rename or remove it when the port closes.
            struct Guard(Option<std::path::PathBuf>);
            impl Drop for Guard {
                fn drop(&mut self) {
                    if let Some(p) = self.0.take() {
                        let _ = std::fs::remove_file(p);
                    }
                }
            }
            let mut guard = Guard((!direct).then(|| part.clone()));
            let mut file = file;
            header().write_to(&mut file).map_err(|e| PortError::Io {
                backend: "pcap",
                what: format!("writing {path}"),
                source: std::io::Error::other(e),
            })?;
            guard.0 = None;
            let (keep, final_path) = (keep.clone(), std::path::PathBuf::from(path));
            on_close = (!direct).then(|| -> Box<dyn FnOnce() + Send> {
                Box::new(move || {
                    if keep.load(std::sync::atomic::Ordering::Relaxed) {
                        if let Err(e) = std::fs::rename(&part, &final_path) {
                            crate::warn(format_args!(
                                "pcap port: moving {} to {}: {e}",
                                part.display(),
                                final_path.display()
                            ));
                        }
                    } else {
                        let _ = std::fs::remove_file(&part);
                    }
                })
            });
            Some(Arc::new(Mutex::new(file)))
        }
        None => None,
    };
    let path = tx_file.clone().unwrap_or_default();
    let tx = (0..cfg.nb_txq)
        .map(|_| {
            let out = out.as_ref().map(|file| Out { buf: Vec::new(), file: file.clone(), ends: Vec::new() });
            Box::new(Tx { out, path: path.clone(), error: None }) as Box<dyn TxBackend>
        })
        .collect();
    Ok(Opened { rx, tx, mac: None, device_stats: None, on_close })
}
