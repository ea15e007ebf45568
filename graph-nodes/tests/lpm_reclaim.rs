//! A tbl8 group freed by a delete is not reused while a registered reader
//! may still be reading it: the next add that needs a group waits for the
//! reader's quiescent state, and fails with a clear error when the reader
//! never reports. The readers are process-wide, so this is one test in its
//! own binary.

use std::net::Ipv4Addr;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use graph_lcore::qsbr::Reader;
use graph_nodes::lpm::{Lpm, LpmError, RECLAIM_TIMEOUT};

fn ip(s: &str) -> u32 {
    u32::from(s.parse::<Ipv4Addr>().unwrap())
}

#[test]
fn a_freed_group_waits_for_readers_before_reuse() {
    // One group: a /32 in another /24 can only have the freed one.
    let lpm = Arc::new(Lpm::new(1));
    lpm.add(ip("10.0.0.7"), 32, 7).unwrap();
    assert_eq!(lpm.tbl8_free(), 0);

    // A reader (an lcore mid-walk) that has looked the route up and not
    // yet reported a quiescent state.
    let (cmd_tx, cmd_rx) = mpsc::channel::<bool>();
    let (ack_tx, ack_rx) = mpsc::channel::<Option<u32>>();
    let l2 = lpm.clone();
    let reader = std::thread::spawn(move || {
        let r = Reader::register();
        ack_tx.send(l2.lookup(ip("10.0.0.7"))).unwrap();
        while let Ok(report) = cmd_rx.recv() {
            if report {
                r.quiescent();
            }
            ack_tx.send(None).unwrap();
        }
    });
    assert_eq!(ack_rx.recv().unwrap(), Some(7));

    lpm.delete(ip("10.0.0.7"), 32).unwrap();
    assert_eq!(lpm.lookup(ip("10.0.0.7")), None);
    assert_eq!(lpm.tbl8_free(), 1);

    // Nobody reports: the add needing a group fails after the timeout,
    // with the reason, and changes nothing.
    let t0 = Instant::now();
    let e = lpm.add(ip("10.0.1.9"), 32, 9).unwrap_err();
    assert!(t0.elapsed() >= RECLAIM_TIMEOUT);
    assert!(matches!(e, LpmError::Reclaim { group: 0, depth: 32, .. }), "{e:?}");
    assert!(e.to_string().contains("no quiescent state"), "{e}");
    assert_eq!(lpm.lookup(ip("10.0.1.9")), None);
    assert_eq!(lpm.tbl8_free(), 1);
    // Routes that need no group are not held back.
    lpm.add(ip("10.0.2.0"), 24, 2).unwrap();

    // The add waits while the reader is still in its walk, and completes
    // once the reader reports.
    let l3 = lpm.clone();
    let (done_tx, done_rx) = mpsc::channel();
    let writer = std::thread::spawn(move || done_tx.send(l3.add(ip("10.0.1.9"), 32, 9)).unwrap());
    assert!(done_rx.recv_timeout(Duration::from_millis(100)).is_err(), "the add must wait for the reader");
    cmd_tx.send(true).unwrap();
    ack_rx.recv().unwrap();
    assert_eq!(done_rx.recv_timeout(Duration::from_secs(20)).unwrap(), Ok(()));
    writer.join().unwrap();
    assert_eq!(lpm.lookup(ip("10.0.1.9")), Some(9));
    assert_eq!(lpm.lookup(ip("10.0.2.1")), Some(2));

    // Once the reader is gone, a freed group is reused at once.
    drop(cmd_tx);
    reader.join().unwrap();
    lpm.delete(ip("10.0.1.9"), 32).unwrap();
    lpm.add(ip("10.0.3.1"), 32, 3).unwrap();
    assert_eq!(lpm.lookup(ip("10.0.3.1")), Some(3));
}
