//! Port backends end to end: round trips, byte-identical pcap output, loops,
//! link state, bad parameters, and a million rx/tx cycles leaving the pool
//! exactly full.

use std::path::PathBuf;

use graph_core::Objs;
use graph_nodes::lcore;
use graph_nodes::mempool::free_bulk;
use graph_nodes::pkt::Pkt;
use graph_nodes::port::pcap::{read_pcap, write_pcap};
use graph_nodes::port::{self, Port, PortConfig, PortError, Ports};
use graph_nodes::wire::Udp4;
use graph_nodes::{Mempool, PoolConfig};

fn pool(name: &str, size: u32) -> Mempool {
    Mempool::new(name, &PoolConfig { size, cache_size: 32, ..PoolConfig::default() }).unwrap()
}

/// A path in a per-test scratch directory, removed when dropped.
struct Tmp(PathBuf);

impl Tmp {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl std::fmt::Display for Tmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.display().fmt(f)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        if let Some(d) = self.0.parent() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn tmp(name: &str) -> Tmp {
    let d = std::env::temp_dir().join(format!("graph-nodes-ports-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    Tmp(d.join(name))
}

fn frames(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            Udp4 { dst: [198, 18, (i % 2) as u8, (i % 250) as u8 + 1], frame_len: 60 + i % 200, ..Udp4::default() }
                .build()
        })
        .collect()
}

fn rx_all(q: &mut port::RxQueue, max: usize) -> Vec<Pkt> {
    let mut out = Vec::new();
    for _ in 0..max {
        let n = q.rx_burst_vec(&mut out, 32);
        if n == 0 && q.eof() {
            break;
        }
    }
    out
}

fn free_all(mut v: Vec<Pkt>) {
    free_bulk(Objs::from_vec(&mut v));
}

#[test]
fn pcap_round_trip_is_byte_identical() {
    let input = tmp("in.pcap");
    let output = tmp("out.pcap");
    let f = frames(100);
    write_pcap(input.path(), f.iter().map(|v| v.as_slice())).unwrap();
    let p = pool("pcap-rt", 512);
    let spec = format!("pcap:rx_pcap={},tx_pcap={}", input, output);
    let port = Port::open(10, &PortConfig::parse(&spec).unwrap(), &p).unwrap();
    let mut rx = port.take_rx_queue(0).unwrap();
    let mut tx = port.take_tx_queue(0).unwrap();
    let mut got = rx_all(&mut rx, 1000);
    assert_eq!(got.len(), 100);
    assert!(rx.eof());
    for m in &got {
        assert_eq!(m.port(), 10);
    }
    assert_eq!(tx.tx_burst_vec(&mut got), 100);
    tx.flush().unwrap();
    drop((rx, tx));
    assert!(port.rx_eof());
    let s = port.stats();
    // The file is published when the port closes.
    drop(port);
    let back = read_pcap(output.path()).unwrap();
    assert_eq!(back.iter().map(|x| x.to_vec()).collect::<Vec<_>>(), f);
    assert_eq!((s.ipackets, s.opackets), (100, 100));
    assert_eq!(s.ibytes, f.iter().map(|x| x.len() as u64).sum::<u64>());
    assert_eq!(s.obytes, s.ibytes);
    assert_eq!(p.in_use(), 0);

    // tcpdump reads it back too, when it is installed.
    match std::process::Command::new("tcpdump").arg("-nn").arg("-r").arg(output.path()).output() {
        Ok(out) if out.status.success() => {
            let lines = String::from_utf8_lossy(&out.stdout).lines().count();
            assert_eq!(lines, 100, "{}", String::from_utf8_lossy(&out.stdout));
        }
        _ => eprintln!("skipping the tcpdump read-back: tcpdump is not installed"),
    }
}

#[test]
fn pcap_loops_and_forever() {
    let input = tmp("loop.pcap");
    write_pcap(input.path(), frames(7).iter().map(|v| v.as_slice())).unwrap();
    let p = pool("pcap-loop", 256);
    let cfg = PortConfig::parse(&format!("pcap:rx_pcap={},loop=3", input)).unwrap();
    let port = Port::open(11, &PortConfig { nb_txq: 0, ..cfg }, &p).unwrap();
    let mut rx = port.take_rx_queue(0).unwrap();
    let got = rx_all(&mut rx, 1000);
    assert_eq!(got.len(), 21);
    free_all(got);
    drop(rx);

    let cfg = PortConfig::parse(&format!("pcap:rx_pcap={},loop=forever", input)).unwrap();
    let port = Port::open(12, &PortConfig { nb_txq: 0, ..cfg }, &p).unwrap();
    let mut rx = port.take_rx_queue(0).unwrap();
    for _ in 0..100 {
        let mut v = Vec::new();
        assert_eq!(rx.rx_burst_vec(&mut v, 32), 32);
        assert!(v.iter().all(|m| m.port() == 12));
        free_all(v);
    }
    assert!(!rx.eof());
    drop(rx);
    assert_eq!(p.in_use(), 0);
}

#[test]
fn pcap_skips_frames_larger_than_a_buffer() {
    let input = tmp("big.pcap");
    let big = Udp4 { frame_len: 3000, ..Udp4::default() }.build();
    let small = Udp4::default().build();
    write_pcap(input.path(), [small.as_slice(), big.as_slice(), small.as_slice()]).unwrap();
    let p = pool("pcap-big", 64);
    let cfg = PortConfig::parse(&format!("pcap:rx_pcap={}", input)).unwrap();
    let port = Port::open(13, &PortConfig { nb_txq: 0, ..cfg }, &p).unwrap();
    let mut rx = port.take_rx_queue(0).unwrap();
    let got = rx_all(&mut rx, 10);
    assert_eq!(got.len(), 2);
    assert_eq!(port.stats().ierrors, 1);
    free_all(got);
    drop(rx);
    assert_eq!(p.in_use(), 0);
}

#[test]
fn ring_pair_and_leftovers() {
    let p = pool("ring", 256);
    let a = Port::open(20, &PortConfig::parse("ring:rx=ab_b2a,tx=ab_a2b,size=64").unwrap(), &p).unwrap();
    let b = Port::open(21, &PortConfig::parse("ring:rx=ab_a2b,tx=ab_b2a,size=64").unwrap(), &p).unwrap();
    let mut atx = a.take_tx_queue(0).unwrap();
    let mut brx = b.take_rx_queue(0).unwrap();
    let mut pkts = p.alloc_bulk(100).unwrap();
    let sent: Vec<_> = pkts.iter().map(Pkt::as_obj).collect();
    // The ring holds 64: the rest stays with the caller.
    assert_eq!(atx.tx_burst_vec(&mut pkts), 64);
    assert_eq!(pkts.len(), 36);
    assert_eq!(pkts[0].as_obj(), sent[64]);
    let mut got = Vec::new();
    assert_eq!(brx.rx_burst_vec(&mut got, 128), 64);
    assert_eq!(got.iter().map(Pkt::as_obj).collect::<Vec<_>>(), &sent[..64]);
    free_all(got);
    // Left in the ring when both ports go away: freed.
    assert_eq!(atx.tx_burst_vec(&mut pkts), 36);
    assert!(pkts.is_empty());
    drop((atx, brx));
    drop((a, b));
    assert_eq!(p.in_use(), 0);
    // Taking a queue twice is refused.
    let table = Ports::new();
    let c = table.open(22, &PortConfig::parse("ring:rx=c,tx=c").unwrap(), &p).unwrap();
    let _q = c.take_rx_queue(0).unwrap();
    assert!(matches!(c.take_rx_queue(0), Err(PortError::QueueTaken { .. })));
    assert!(matches!(c.take_rx_queue(1), Err(PortError::NoSuchQueue { .. })));
    assert!(matches!(table.open(22, &PortConfig::parse("ring:rx=c,tx=c").unwrap(), &p), Err(PortError::Exists(22))));
    assert_eq!(table.list(), vec![22]);
    table.close(22).unwrap();
    assert!(matches!(table.get(22), Err(PortError::NoSuchPort(22))));
}

#[test]
fn generator_makes_the_configured_mix() {
    let p = pool("gen", 2048);
    let cfg = PortConfig::parse(
        "generator:dst=10.0.0.0/8;192.168.1.0/24,size=64,flows=100,ipv6=0.2,arp=0.1,bad=0.1,count=1000",
    )
    .unwrap();
    let port = Port::open(30, &cfg, &p).unwrap();
    let mut rx = port.take_rx_queue(0).unwrap();
    let mut got = rx_all(&mut rx, 100);
    assert_eq!(got.len(), 1000);
    assert!(rx.eof());
    let (mut v4, mut v6, mut arp) = (0, 0, 0);
    for m in &got {
        match u16::from_be_bytes([m.data()[12], m.data()[13]]) {
            0x0800 => v4 += 1,
            0x86dd => v6 += 1,
            0x0806 => {
                arp += 1;
                continue;
            }
            t => panic!("ethertype {t:#x}"),
        }
        assert_eq!(&m.data()[0..6], &port.mac());
    }
    assert!((150..=250).contains(&v6), "{v6}");
    assert!((50..=150).contains(&arp), "{arp}");
    assert!(v4 > 500);
    let mut tx = port.take_tx_queue(0).unwrap();
    assert_eq!(tx.tx_burst_vec(&mut got), 1000);
    assert_eq!(p.in_use(), 0);
    drop((rx, tx));
}

#[test]
fn link_down_receives_and_sends_nothing() {
    let p = pool("link", 64);
    let port = Port::open(40, &PortConfig::parse("generator:").unwrap(), &p).unwrap();
    let mut rx = port.take_rx_queue(0).unwrap();
    let mut tx = port.take_tx_queue(0).unwrap();
    port.set_link(false);
    let mut buf = Vec::new();
    assert_eq!(rx.rx_burst_vec(&mut buf, 8), 0);
    port.set_link(true);
    assert_eq!(rx.rx_burst_vec(&mut buf, 8), 8);
    port.set_link(false);
    assert_eq!(tx.tx_burst_vec(&mut buf), 0);
    assert_eq!(buf.len(), 8);
    port.set_link(true);
    assert_eq!(tx.tx_burst_vec(&mut buf), 8);
    assert_eq!(p.in_use(), 0);
    drop((rx, tx));
}

#[test]
fn bad_specs_name_the_parameter() {
    let p = pool("bad", 64);
    let err = |spec: &str| Port::open(50, &PortConfig::parse(spec).unwrap(), &p).unwrap_err().to_string();
    assert!(err("pcap:").contains("rx_pcap: required"));
    assert!(err("pcap:rx_pcap=/nonexistent/x.pcap").contains("/nonexistent/x.pcap"));
    assert!(err("pcap:rx_pcap=/dev/null").contains("not a regular file"));
    let empty = tmp("empty.pcap");
    std::fs::write(empty.path(), b"").unwrap();
    assert!(err(&format!("pcap:rx_pcap={empty}")).contains("not a pcap or pcapng file"));
    assert!(err("pcap:rx_pcap=a,loop=often").contains("loop"));
    assert!(err("generator:sizee=64").contains("sizee: unknown parameter"));
    assert!(err("generator:size=10").contains("size"));
    assert!(err("generator:dst=300.0.0.0/8").contains("dst"));
    assert!(err("generator:ipv6=2").contains("ipv6"));
    assert!(err("ring:tx=a").contains("rx: required"));
    // Bounded at open, with the bound in the message.
    assert!(err("ring:rx=a,tx=a,size=4294967296").contains("outside 1..=1048576"));
    assert!(err("generator:flows=1000000000000").contains("outside 1..=65536"));
    assert!(err("pcap:rx_pcap=/dev/zero").contains("/dev/zero: not a regular file"));
    assert!(err("warp:x=1").contains("unknown port backend \"warp\""));
    assert!(PortConfig::parse("pcap:novalue").unwrap_err().to_string().contains("not key=value"));
    assert!(PortConfig::parse(":a=b").is_err());
    let unwritable = Port::open(
        51,
        &PortConfig::parse("pcap:tx_pcap=/nonexistent/dir/out.pcap").map(|c| PortConfig { nb_rxq: 0, ..c }).unwrap(),
        &p,
    );
    assert!(unwritable.unwrap_err().to_string().contains("creating /nonexistent/dir/out.pcap"));
}

#[test]
fn a_million_rx_tx_cycles_leave_the_pool_full() {
    let p = pool("million", 1024);
    let port = Port::open(60, &PortConfig::parse("generator:").unwrap(), &p).unwrap();
    let lo = Port::open(61, &PortConfig::parse("ring:rx=mil,tx=mil,size=512").unwrap(), &p).unwrap();
    let total = if cfg!(miri) { 1000 } else { 1_000_000 };
    let handle = std::thread::spawn(move || {
        let _l = lcore::register_any().unwrap();
        let mut rx = port.take_rx_queue(0).unwrap();
        let mut tx = port.take_tx_queue(0).unwrap();
        let mut ltx = lo.take_tx_queue(0).unwrap();
        let mut lrx = lo.take_rx_queue(0).unwrap();
        let mut buf = Vec::with_capacity(32);
        let mut done = 0;
        while done < total {
            let n = rx.rx_burst_vec(&mut buf, 32);
            // Through the ring and out of the generator's tx.
            assert_eq!(ltx.tx_burst_vec(&mut buf), n);
            let m = lrx.rx_burst_vec(&mut buf, 32);
            assert_eq!(m, n);
            assert_eq!(tx.tx_burst_vec(&mut buf), m);
            done += m;
        }
        (port.stats(), done)
    });
    let (stats, done) = handle.join().unwrap();
    assert_eq!(stats.ipackets, done as u64);
    assert_eq!(stats.opackets, done as u64);
    assert_eq!(p.available(), 1024);
    assert_eq!(p.double_frees(), 0);
}

/// A pcap output is written under a hidden part name and renamed over the
/// file when the port closes; a port told to discard its outputs leaves an
/// existing file as it was and removes the part file.
#[test]
fn pcap_output_replaces_the_file_only_when_the_port_closes() {
    let out = tmp("kept.pcap");
    let dir = out.path().parent().unwrap().to_path_buf();
    std::fs::write(out.path(), b"precious").unwrap();
    let p = pool("pcap-keep", 64);
    let cfg = || PortConfig { nb_rxq: 0, ..PortConfig::parse(&format!("pcap:tx_pcap={out}")).unwrap() };
    let parts = || {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".part"))
            .count()
    };

    // Discarded: the old file stays, no part file is left.
    let port = Port::open(70, &cfg(), &p).unwrap();
    assert_eq!(std::fs::read(out.path()).unwrap(), b"precious", "nothing replaced while open");
    assert_eq!(parts(), 1);
    port.discard_outputs();
    drop(port);
    assert_eq!(std::fs::read(out.path()).unwrap(), b"precious");
    assert_eq!(parts(), 0);

    // Kept (the default): the pcap replaces the file at close.
    let port = Port::open(71, &cfg(), &p).unwrap();
    let mut tx = port.take_tx_queue(0).unwrap();
    let mut pkts = p.alloc_bulk(3).unwrap();
    for (m, f) in pkts.iter_mut().zip(frames(3)) {
        assert!(m.set_data(&f));
    }
    assert_eq!(tx.tx_burst_vec(&mut pkts), 3);
    drop(tx);
    drop(port);
    assert_eq!(read_pcap(out.path()).unwrap().len(), 3);
    assert_eq!(parts(), 0);
    assert_eq!(p.in_use(), 0);
}

/// pcapng inputs (what current capture tools write) are read like pcap
/// ones, and a capture whose last record was cut off is read up to it.
#[test]
fn pcapng_inputs_and_a_truncated_tail_are_read() {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
    use pcap_file::pcapng::PcapNgWriter;
    let f = frames(5);
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: pcap_file::DataLink::ETHERNET,
        snaplen: 65535,
        options: vec![],
    })
    .unwrap();
    for x in &f {
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            timestamp: std::time::Duration::from_micros(1),
            original_len: x.len() as u32,
            data: std::borrow::Cow::Borrowed(x),
            options: vec![],
        })
        .unwrap();
    }
    let ng = w.into_inner();
    let got = graph_nodes::port::pcap::parse_pcap(&ng).unwrap();
    assert_eq!(got.iter().map(<[u8]>::to_vec).collect::<Vec<_>>(), f);
    assert!(!got.truncated);
    // Cut into the last block: the four before it, flagged.
    let cut = graph_nodes::port::pcap::parse_pcap(&ng[..ng.len() - 7]).unwrap();
    assert_eq!((cut.len(), cut.truncated), (4, true));

    // The same for pcap, through a port: 5 frames, the last one cut.
    let input = tmp("cut.pcap");
    write_pcap(input.path(), f.iter().map(|v| v.as_slice())).unwrap();
    let mut bytes = std::fs::read(input.path()).unwrap();
    bytes.truncate(bytes.len() - 10);
    std::fs::write(input.path(), &bytes).unwrap();
    let p = pool("pcap-cut", 64);
    let port =
        Port::open(72, &PortConfig { nb_txq: 0, ..PortConfig::parse(&format!("pcap:rx_pcap={input}")).unwrap() }, &p)
            .unwrap();
    let mut rx = port.take_rx_queue(0).unwrap();
    let got = rx_all(&mut rx, 10);
    assert_eq!(got.iter().map(|m| m.data().to_vec()).collect::<Vec<_>>(), f[..4].to_vec());
    free_all(got);
}
