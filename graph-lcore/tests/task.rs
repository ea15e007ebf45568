//! Cooperative tasks on an lcore: timers fire on time while the graph
//! forwards, channels cross threads, file I/O does not block the walk, the
//! executor stays idle when nothing is ready, tasks reach the graph.

#[path = "../../graph-core/tests/common/mod.rs"]
mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Fan, Src};
use graph_core::{node_clone, node_edge_shrink, node_edge_update, node_from_name, Graph, GraphParam, Obj};
use graph_lcore::task::{self, LcoreLoop};

fn graph(tag: &str) -> (Graph, String, String) {
    let sink = node_clone(node_from_name("t_fan").unwrap(), &format!("task-sink-{tag}")).unwrap();
    let _ = sink;
    let s = node_clone(node_from_name("t_src").unwrap(), &format!("task-{tag}")).unwrap();
    node_edge_shrink(s, 0).unwrap();
    let sink_name = format!("t_fan-task-sink-{tag}");
    node_edge_update(s, None, &[&sink_name]).unwrap();
    let src_name = format!("t_src-task-{tag}");
    let mut g = Graph::create(&format!("task-{tag}"), &GraphParam::new([src_name.as_str()])).unwrap();
    g.node_context_mut::<Src>(&src_name).unwrap().per_walk = 4;
    (g, src_name, sink_name)
}

#[test]
fn timers_fire_on_time_while_the_graph_forwards() {
    let (g, _src, sink) = graph("timers");
    let mut lp = LcoreLoop::new(g, 1);
    let n = if cfg!(miri) { 3 } else { 20 };
    // Under Miri a walk takes milliseconds: a longer period keeps each
    // sleep pending across walks, as it is natively.
    let period = Duration::from_millis(if cfg!(miri) { 50 } else { 5 });
    let got = Rc::new(RefCell::new(Vec::new()));
    let g2 = got.clone();
    task::spawn_local(async move {
        for _ in 0..n {
            let t0 = Instant::now();
            task::sleep(period).await;
            g2.borrow_mut().push(t0.elapsed());
        }
    });
    while lp.exec.tasks() > 0 {
        lp.round();
    }
    let got = got.borrow();
    assert_eq!(got.len(), n);
    let mut lates = Vec::new();
    for d in got.iter() {
        assert!(*d >= period, "a timer fired early: {d:?}");
        if *d > period + Duration::from_millis(20) {
            lates.push(*d);
        }
    }
    // On a shared 2-core machine a few wake-ups may be late; most are not.
    // (Under Miri a walk takes milliseconds, so lateness says nothing.)
    if !cfg!(miri) {
        assert!(lates.len() <= n / 4, "late timers: {lates:?}");
    }
    let walks = lp.graph().node_stats(&sink).unwrap().calls;
    assert!(walks > n as u64, "the graph forwarded meanwhile: {walks} walks");
}

#[test]
fn the_executor_stays_idle_when_nothing_is_ready() {
    let (g, _src, _sink) = graph("idle");
    let mut lp = LcoreLoop::new(g, 1);
    task::spawn_local(async {
        task::sleep(Duration::from_secs(3600)).await;
    });
    lp.round(); // the first poll of the new task
    let polls = lp.exec.polls();
    let rounds = if cfg!(miri) { 20 } else { 10_000 };
    let mut ran = 0;
    for _ in 0..rounds {
        ran += usize::from(lp.round());
    }
    assert_eq!(ran, 0, "no turn while the only task sleeps");
    assert_eq!(lp.exec.polls(), polls);
    assert_eq!(lp.exec.tasks(), 1);
}

#[test]
fn channels_cross_threads_and_tasks_reach_the_graph() {
    let (g, src, _sink) = graph("chan");
    let mut lp = LcoreLoop::new(g, 2);
    let (tx, mut rx) = task::channel::<u32>();
    let n = if cfg!(miri) { 5 } else { 1000 };
    let producer = std::thread::spawn(move || {
        for i in 0..n {
            tx.send(i);
        }
    });
    let done = Rc::new(RefCell::new(None));
    let d2 = done.clone();
    let src2 = src.clone();
    task::spawn_local(async move {
        let mut sum = 0u64;
        while let Some(v) = rx.recv().await {
            sum += u64::from(v);
        }
        // Between walks, the graph is ours to read.
        let calls = task::with_graph(|g| g.node_stats(&src2).unwrap().calls).expect("lent during the turn");
        *d2.borrow_mut() = Some((sum, calls));
    });
    producer.join().unwrap();
    while lp.exec.tasks() > 0 {
        lp.round();
    }
    let (sum, calls) = done.borrow().expect("the task finished");
    assert_eq!(sum, (0..n as u64).sum::<u64>());
    assert!(calls > 0);
    // Outside a turn there is no graph to lend.
    assert!(task::with_graph(|_| ()).is_none());
    let _ = Obj::NULL;
    let _ = lp.graph().node_context_mut::<Fan>("nope");
}

#[test]
fn file_io_runs_off_the_lcore() {
    let (g, _src, _sink) = graph("fs");
    let mut lp = LcoreLoop::new(g, 1);
    let dir = std::env::temp_dir().join(format!("graph-core-task-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f.txt");
    let p2 = path.clone();
    let out = Rc::new(RefCell::new(None));
    let o2 = out.clone();
    let (tx, mut rx) = task::local_channel::<Vec<u8>>();
    task::spawn_local(async move {
        if let Some(b) = rx.recv().await {
            *o2.borrow_mut() = Some(b);
        }
    });
    task::spawn_local(async move {
        task::fs::write(p2.clone(), b"one\n".to_vec()).await.unwrap();
        task::fs::append(p2.clone(), b"two\n".to_vec()).await.unwrap();
        tx.send(task::fs::read(p2).await.unwrap());
    });
    let mut rounds = 0u64;
    while lp.exec.tasks() > 0 {
        lp.round();
        rounds += 1;
    }
    let bytes = out.borrow_mut().take().expect("read back");
    assert_eq!(bytes, b"one\ntwo\n");
    assert!(rounds > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The CPUs the thread `tid` (0: the caller) may run on.
#[cfg(all(target_os = "linux", not(miri)))]
fn cpus(tid: libc::pid_t) -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is the empty set; the call writes at most
    // its size into the live local.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set), 0);
        set
    };
    // SAFETY: CPU_ISSET reads one bit of the set, below CPU_SETSIZE.
    (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect()
}

/// A helper thread does not inherit the pinned lcore's CPU: its file I/O
/// must not take the forwarding core's time.
#[cfg(all(target_os = "linux", not(miri)))]
#[test]
fn io_helpers_leave_the_lcore_cpu() {
    // SAFETY: getpid has no preconditions.
    let main = cpus(unsafe { libc::getpid() });
    if main.len() < 2 {
        return; // one CPU: nowhere else to go
    }
    std::thread::spawn(move || {
        let lcore_cpu = *main.last().unwrap();
        // SAFETY: as in `cpus`; the set holds one CPU below CPU_SETSIZE.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(lcore_cpu, &mut set);
            assert_eq!(libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set), 0);
        }
        assert_eq!(cpus(0), vec![lcore_cpu]);
        let (g, _src, _sink) = graph("affinity");
        let mut lp = LcoreLoop::new(g, 1);
        let seen = Rc::new(RefCell::new(None));
        let s2 = seen.clone();
        task::spawn_local(async move {
            *s2.borrow_mut() = Some(task::blocking(|| cpus(0)).await);
        });
        while lp.exec.tasks() > 0 {
            lp.round();
        }
        let helper = seen.borrow_mut().take().unwrap();
        assert_eq!(helper, main, "the helper runs on the main thread's CPUs, not only lcore CPU {lcore_cpu}");
    })
    .join()
    .unwrap();
}

#[test]
fn a_tap_sees_each_stream_before_its_node() {
    let (mut g, _src, sink) = graph("tap");
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    g.set_tap(&sink, move |objs: &[Obj]| s2.lock().unwrap().extend(objs.iter().map(|o| o.addr()))).unwrap();
    let err = g.set_tap("no_such_node", |_: &[Obj]| {}).unwrap_err();
    assert!(err.to_string().contains("no_such_node"), "{err}");
    assert!(!g.clear_tap("no_such_node"));
    g.walk();
    g.walk();
    let tapped = seen.lock().unwrap().clone();
    let delivered: Vec<usize> = g.node_context_mut::<Fan>(&sink).unwrap().seen.iter().map(|o| o.addr()).collect();
    assert_eq!(tapped, delivered);
    assert_eq!(tapped.len(), 8);
    assert!(g.clear_tap(&sink));
    g.walk();
    assert_eq!(seen.lock().unwrap().len(), 8, "no tap, no calls");
}
