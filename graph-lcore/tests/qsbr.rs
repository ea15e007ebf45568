//! Quiescent-state-based reclamation: a grace period passes only once every
//! registered reader has reported a quiescent state; the writer's own
//! thread never holds it back; a reader that leaves stops holding it back;
//! an lcore loop reports on its own.
//!
//! One test: the set of readers is process-wide, and the assertions below
//! need to know every reader there is.

#[path = "../../graph-core/tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use common::Src;
use graph_core::{node_clone, node_edge_shrink, node_edge_update, node_from_name, Graph, GraphParam};
use graph_lcore::qsbr::{self, Reader};
use graph_lcore::task::LcoreLoop;

fn graph() -> Graph {
    node_clone(node_from_name("t_fan").unwrap(), "qs-sink").unwrap();
    let s = node_clone(node_from_name("t_src").unwrap(), "qs").unwrap();
    node_edge_shrink(s, 0).unwrap();
    node_edge_update(s, None, &["t_fan-qs-sink"]).unwrap();
    let mut g = Graph::create("qs", &GraphParam::new(["t_src-qs"])).unwrap();
    g.node_context_mut::<Src>("t_src-qs").unwrap().per_walk = 2;
    g
}

#[test]
fn grace_periods_wait_for_every_registered_reader() {
    let long = Duration::from_secs(20);
    // No reader: a grace period passes at once.
    let t = qsbr::start();
    assert!(qsbr::passed(t));

    // The writer's own reader counts as quiescent: it is not inside a
    // lookup while it runs the writer.
    let me = Reader::register();
    let t = qsbr::start();
    assert!(qsbr::passed(t));

    // A reader on another thread holds the grace period back until it
    // reports, then lets it pass.
    let (go_tx, go_rx) = mpsc::channel::<bool>();
    let (ack_tx, ack_rx) = mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let r = Reader::register();
        ack_tx.send(()).unwrap();
        while let Ok(report) = go_rx.recv() {
            if report {
                r.quiescent();
            }
            ack_tx.send(()).unwrap();
        }
        // Dropping `r` here unregisters it.
    });
    ack_rx.recv().unwrap();
    assert_eq!(qsbr::readers_count(), 2);
    let t = qsbr::start();
    assert!(!qsbr::passed(t), "the other reader has not reported");
    assert!(!qsbr::wait(t, Duration::from_millis(20)), "waiting does not make it pass");
    go_tx.send(false).unwrap();
    ack_rx.recv().unwrap();
    assert!(!qsbr::passed(t), "still nothing reported");
    go_tx.send(true).unwrap();
    ack_rx.recv().unwrap();
    assert!(qsbr::passed(t));
    // A report made before a grace period started does not count for it.
    let t2 = qsbr::start();
    assert!(!qsbr::passed(t2));

    // A reader that leaves stops holding grace periods back.
    drop(go_tx);
    reader.join().unwrap();
    assert_eq!(qsbr::readers_count(), 1);
    assert!(qsbr::passed(t2));
    drop(me);
    assert_eq!(qsbr::readers_count(), 0);

    // An lcore loop reports a quiescent state every round by itself.
    let stop = Arc::new(AtomicBool::new(false));
    let (up_tx, up_rx) = mpsc::channel::<()>();
    let g = graph();
    let stop2 = stop.clone();
    let lcore = std::thread::spawn(move || {
        let mut lp = LcoreLoop::new(g, 1);
        up_tx.send(()).unwrap();
        lp.run(&stop2);
    });
    up_rx.recv().unwrap();
    assert_eq!(qsbr::readers_count(), 1);
    for _ in 0..3 {
        let t = qsbr::start();
        assert!(qsbr::wait(t, long), "the lcore loop never reported");
    }
    stop.store(true, Ordering::Relaxed);
    lcore.join().unwrap();
    assert_eq!(qsbr::readers_count(), 0);
}
