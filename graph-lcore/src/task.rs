//! Cooperative tasks on a graph's lcore: a local single-threaded executor
//! interleaved with the walk (the idea of VPP's process nodes and of
//! coroutine schedulers on DPDK cores), so that timers, file I/O and
//! control run on the same core as the forwarding without stalling it.
//!
//! ```text
//!  LcoreLoop::run:  loop {
//!      walk × walks_per_poll          ← packets
//!      if timers due or tasks woken:  ← never when idle
//!          poll ready tasks (bounded)
//!  }
//! ```
//!
//! - [`spawn_local`] runs a `!Send` future on this lcore's executor.
//! - [`sleep`] and [`interval`] use the stats clock
//!   ([`clock::cycles`](graph_core::clock::cycles)).
//! - [`local_channel`] connects tasks of one lcore; [`channel`] connects
//!   tasks, lcores and other threads (its sender is `Send`).
//! - [`blocking`] runs a closure (file I/O) on the executor's helper thread
//!   (one per executor, started on first use, moved off the lcore's CPU)
//!   and awaits its result; [`fs`] wraps the common cases. A helper thread
//!   rather than io_uring: it works wherever threads do (io_uring is often
//!   disabled by container seccomp policies and needs a newer kernel and
//!   another dependency), and the I/O here is small and rare (stats lines,
//!   captures), so the lcore pays only a channel send and a wake-up per
//!   request while the syscalls run on another core.
//! - [`with_graph`] gives a task the lcore's graph (stats, counters, node
//!   contexts) between walks.
//!
//! Wakers are `Send + Sync` (`std::task::Wake`), so other threads can wake
//! a task; the executor only runs when something woke or a timer is due,
//! which the loop checks with one clock read per `walks_per_poll` walks.

use std::cell::{Cell, RefCell};
use std::collections::{BinaryHeap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use graph_core::clock;
use graph_core::Graph;

type Task = Pin<Box<dyn Future<Output = ()>>>;

struct Shared {
    ready: Mutex<VecDeque<usize>>,
    woken: AtomicBool,
}

struct TaskWaker {
    id: usize,
    shared: Arc<Shared>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.shared.ready.lock().unwrap_or_else(|e| e.into_inner()).push_back(self.id);
        self.shared.woken.store(true, Ordering::Release);
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    deadline: std::cmp::Reverse<u64>,
    seq: u64,
}

struct Inner {
    shared: Arc<Shared>,
    tasks: RefCell<Vec<Option<Task>>>,
    free: RefCell<Vec<usize>>,
    spawned: RefCell<Vec<Task>>,
    timers: RefCell<BinaryHeap<Timer>>,
    timer_wakers: RefCell<std::collections::HashMap<u64, Waker>>,
    seq: Cell<u64>,
    polls: Cell<u64>,
    /// The executor's I/O helper thread, started by the first [`blocking`].
    helper: RefCell<Option<Helper>>,
}

type Job = Box<dyn FnOnce() + Send>;

/// One helper thread per executor, started once: a thread per call would
/// map and unmap a stack each time, and every unmap interrupts the lcore
/// (a TLB shootdown) — measured at 2–3 % of forwarding with a write every
/// 10 ms.
struct Helper {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    /// Jobs sent and not finished.
    pending: Arc<AtomicUsize>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Helper {
    fn start() -> std::io::Result<Helper> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let pending = Arc::new(AtomicUsize::new(0));
        let handle = std::thread::Builder::new().name("graph-io".into()).spawn(move || {
            crate::affinity::leave_lcore_cpu();
            while let Ok(job) = rx.recv() {
                // A panicking job drops its result sender: the awaiting task
                // sees it; the helper lives on for the next job.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
        })?;
        Ok(Helper { jobs: Some(tx), pending, handle: Some(handle) })
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        // Without a sender the helper's receive fails once the queue is
        // empty, and it returns.
        self.jobs.take();
        if let Some(h) = self.handle.take() {
            // Join an idle helper; one still inside a job (a read that never
            // returns) is left to finish on its own rather than hang the
            // lcore that is shutting down.
            if self.pending.load(Ordering::Acquire) == 0 {
                let _ = h.join();
            }
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Inner>>> = const { RefCell::new(None) };
    static GRAPH: RefCell<Option<Graph>> = const { RefCell::new(None) };
}

fn current() -> Rc<Inner> {
    CURRENT.with(|c| c.borrow().clone()).expect("no executor on this thread: create a LocalExecutor first")
}

/// This thread's executor. One per thread; tasks spawned here run only
/// here.
pub struct LocalExecutor {
    inner: Rc<Inner>,
}

impl LocalExecutor {
    /// Creates the thread's executor (replacing a previous one).
    pub fn new() -> LocalExecutor {
        let inner = Rc::new(Inner {
            shared: Arc::new(Shared { ready: Mutex::new(VecDeque::new()), woken: AtomicBool::new(false) }),
            tasks: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
            spawned: RefCell::new(Vec::new()),
            timers: RefCell::new(BinaryHeap::new()),
            timer_wakers: RefCell::new(Default::default()),
            seq: Cell::new(0),
            polls: Cell::new(0),
            helper: RefCell::new(None),
        });
        CURRENT.with(|c| *c.borrow_mut() = Some(inner.clone()));
        LocalExecutor { inner }
    }

    /// Whether a task is ready or a timer is due at `now` (cycles).
    #[inline]
    pub fn has_work(&self, now: u64) -> bool {
        self.inner.shared.woken.load(Ordering::Acquire)
            || !self.inner.spawned.borrow().is_empty()
            || self.inner.timers.borrow().peek().is_some_and(|t| t.deadline.0 <= now)
    }

    /// Number of live tasks.
    pub fn tasks(&self) -> usize {
        self.inner.tasks.borrow().iter().filter(|t| t.is_some()).count() + self.inner.spawned.borrow().len()
    }

    /// Task polls made so far.
    pub fn polls(&self) -> u64 {
        self.inner.polls.get()
    }

    /// One turn: fires due timers, then polls up to `budget` ready tasks.
    pub fn turn(&self, now: u64, budget: usize) {
        let inner = &self.inner;
        // Newly spawned tasks start ready.
        let new: Vec<Task> = inner.spawned.borrow_mut().drain(..).collect();
        for t in new {
            let id = match inner.free.borrow_mut().pop() {
                Some(id) => {
                    inner.tasks.borrow_mut()[id] = Some(t);
                    id
                }
                None => {
                    let mut tasks = inner.tasks.borrow_mut();
                    tasks.push(Some(t));
                    tasks.len() - 1
                }
            };
            inner.shared.ready.lock().unwrap_or_else(|e| e.into_inner()).push_back(id);
        }
        loop {
            let due = match inner.timers.borrow().peek() {
                Some(t) if t.deadline.0 <= now => Some(t.seq),
                _ => None,
            };
            let Some(seq) = due else { break };
            inner.timers.borrow_mut().pop();
            if let Some(w) = inner.timer_wakers.borrow_mut().remove(&seq) {
                w.wake();
            }
        }
        inner.shared.woken.store(false, Ordering::Release);
        let ready: Vec<usize> = {
            let mut q = inner.shared.ready.lock().unwrap_or_else(|e| e.into_inner());
            let n = q.len().min(budget);
            let v = q.drain(..n).collect();
            if !q.is_empty() {
                inner.shared.woken.store(true, Ordering::Release);
            }
            v
        };
        for id in ready {
            let task = inner.tasks.borrow_mut().get_mut(id).and_then(Option::take);
            let Some(mut task) = task else { continue };
            let waker = Waker::from(Arc::new(TaskWaker { id, shared: inner.shared.clone() }));
            let mut cx = Context::from_waker(&waker);
            inner.polls.set(inner.polls.get() + 1);
            match task.as_mut().poll(&mut cx) {
                Poll::Ready(()) => inner.free.borrow_mut().push(id),
                Poll::Pending => inner.tasks.borrow_mut()[id] = Some(task),
            }
        }
    }

    /// Runs turns until every task finished (for tests and tools; an lcore
    /// uses [`LcoreLoop`]).
    pub fn run_until_idle(&self) {
        while self.tasks() > 0 {
            let now = clock::cycles();
            if self.has_work(now) {
                self.turn(now, usize::MAX);
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

impl Default for LocalExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for LocalExecutor {
    fn drop(&mut self) {
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            if c.as_ref().is_some_and(|i| Rc::ptr_eq(i, &self.inner)) {
                *c = None;
            }
        });
    }
}

/// Spawns `fut` on this thread's executor; it first runs at the next turn.
pub fn spawn_local(fut: impl Future<Output = ()> + 'static) {
    current().spawned.borrow_mut().push(Box::pin(fut));
}

/// Runs `f` with this lcore's graph, when called from a task that an
/// [`LcoreLoop`] is polling (between walks); `None` elsewhere.
pub fn with_graph<R>(f: impl FnOnce(&mut Graph) -> R) -> Option<R> {
    GRAPH.with(|g| g.borrow_mut().as_mut().map(f))
}

/// Counter ticks for `d`.
pub fn ticks(d: Duration) -> u64 {
    (d.as_secs_f64() * clock::cycles_hz() as f64) as u64
}

/// A future that completes at a deadline on the stats clock.
pub struct Sleep {
    deadline: u64,
    /// The timer this sleep registered, once it has: later polls only
    /// refresh its waker (if it changed) instead of adding timers.
    timer: Option<u64>,
}

/// Completes `d` from now.
pub fn sleep(d: Duration) -> Sleep {
    Sleep { deadline: clock::cycles() + ticks(d), timer: None }
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if clock::cycles() >= self.deadline {
            return Poll::Ready(());
        }
        let inner = current();
        if let Some(seq) = self.timer {
            let mut wakers = inner.timer_wakers.borrow_mut();
            // Still armed: keep the one timer, refresh a changed waker.
            if let Some(w) = wakers.get_mut(&seq) {
                if !w.will_wake(cx.waker()) {
                    *w = cx.waker().clone();
                }
                return Poll::Pending;
            }
        }
        // First poll, or the timer fired a little before this clock read.
        let seq = inner.seq.get();
        inner.seq.set(seq + 1);
        inner.timers.borrow_mut().push(Timer { deadline: std::cmp::Reverse(self.deadline), seq });
        inner.timer_wakers.borrow_mut().insert(seq, cx.waker().clone());
        self.timer = Some(seq);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        // A sleep dropped before its deadline (a select, a cancelled task)
        // takes its waker with it; the heap entry fires into nothing.
        if let Some(seq) = self.timer {
            let _ = CURRENT.try_with(|c| {
                if let Some(inner) = c.borrow().as_ref() {
                    inner.timer_wakers.borrow_mut().remove(&seq);
                }
            });
        }
    }
}

/// A periodic timer without drift: each tick is one period after the last
/// deadline (missed ticks are skipped, not bunched).
pub struct Interval {
    next: u64,
    period: u64,
}

/// Ticks every `period`, the first one `period` from now.
pub fn interval(period: Duration) -> Interval {
    let p = ticks(period).max(1);
    Interval { next: clock::cycles() + p, period: p }
}

impl Interval {
    /// Waits for the next tick; returns how many periods were missed.
    pub async fn tick(&mut self) -> u64 {
        Sleep { deadline: self.next, timer: None }.await;
        let now = clock::cycles();
        self.next += self.period;
        if self.next > now {
            return 0;
        }
        // Skip every missed period at once: with a tiny period a loop
        // here would spin for as many periods as the gap holds.
        let missed = (now - self.next) / self.period + 1;
        self.next += missed * self.period;
        missed
    }
}

/// A channel's state: the queue, the receiving task's waker, the number of
/// live senders. Behind a `RefCell` (one lcore) or a `Mutex` (any thread).
struct ChState<T> {
    q: VecDeque<T>,
    waker: Option<Waker>,
    senders: usize,
}

impl<T> ChState<T> {
    fn new() -> ChState<T> {
        ChState { q: VecDeque::new(), waker: None, senders: 1 }
    }

    fn push(&mut self, v: T) {
        self.q.push_back(v);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    fn sender_gone(&mut self) {
        self.senders -= 1;
        if self.senders == 0 {
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        }
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.q.pop_front() {
            Some(v) => Poll::Ready(Some(v)),
            None if self.senders == 0 => Poll::Ready(None),
            None => {
                self.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Sender of a [`local_channel`].
pub struct LocalSender<T> {
    ch: Rc<RefCell<ChState<T>>>,
}

/// Receiver of a [`local_channel`].
pub struct LocalReceiver<T> {
    ch: Rc<RefCell<ChState<T>>>,
}

/// An unbounded channel between tasks of one lcore.
pub fn local_channel<T>() -> (LocalSender<T>, LocalReceiver<T>) {
    let ch = Rc::new(RefCell::new(ChState::new()));
    (LocalSender { ch: ch.clone() }, LocalReceiver { ch })
}

impl<T> LocalSender<T> {
    /// Sends `v`.
    pub fn send(&self, v: T) {
        self.ch.borrow_mut().push(v);
    }
}

impl<T> Clone for LocalSender<T> {
    fn clone(&self) -> Self {
        self.ch.borrow_mut().senders += 1;
        LocalSender { ch: self.ch.clone() }
    }
}

impl<T> Drop for LocalSender<T> {
    fn drop(&mut self) {
        self.ch.borrow_mut().sender_gone();
    }
}

impl<T> LocalReceiver<T> {
    /// The next value; `None` once every sender is gone and the queue is
    /// empty.
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.ch.borrow_mut().poll_recv(cx)).await
    }
}

/// Sender of a [`channel`]: cloneable, usable from any thread.
pub struct Sender<T> {
    ch: Arc<Mutex<ChState<T>>>,
}

/// Receiver of a [`channel`], awaited by one task.
pub struct Receiver<T> {
    ch: Arc<Mutex<ChState<T>>>,
}

/// An unbounded channel from anywhere (other lcores, the control thread,
/// the I/O helper) to a task.
pub fn channel<T: Send>() -> (Sender<T>, Receiver<T>) {
    let ch = Arc::new(Mutex::new(ChState::new()));
    (Sender { ch: ch.clone() }, Receiver { ch })
}

impl<T> Sender<T> {
    fn state(&self) -> std::sync::MutexGuard<'_, ChState<T>> {
        self.ch.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `v`, waking the receiving task.
    pub fn send(&self, v: T) {
        self.state().push(v);
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.state().senders += 1;
        Sender { ch: self.ch.clone() }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.state().sender_gone();
    }
}

impl<T> Receiver<T> {
    fn state(&self) -> std::sync::MutexGuard<'_, ChState<T>> {
        self.ch.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next value; `None` once every sender is gone and the queue is
    /// empty.
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.state().poll_recv(cx)).await
    }

    /// A value if one is queued.
    pub fn try_recv(&mut self) -> Option<T> {
        self.state().q.pop_front()
    }
}

/// Runs `f` on this executor's helper thread and completes with its
/// result; the lcore keeps walking meanwhile. Why a helper thread and not
/// io_uring: see the module documentation. Jobs of one executor run one
/// after the other, in the order submitted (appends to a file stay in
/// order). The helper leaves the lcore's CPU for the main thread's CPUs, so
/// its work does not take the forwarding core's time. If `f` panics, so
/// does the awaiting task; if no thread can be started, `f` runs inline.
pub async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, mut rx) = channel::<R>();
    submit(move |done| {
        let r = f();
        // Counted finished before the result is sent (or while `f`
        // unwinds), so once the task has its result the helper is idle or
        // about to be, and can be joined.
        drop(done);
        tx.send(r);
    });
    rx.recv().await.expect("the I/O helper job panicked")
}

/// Hands `job` to this executor's helper (started if need be); runs it
/// inline if no thread can be started. `job` drops its [`Done`] when its
/// work is finished.
fn submit(job: impl FnOnce(Done) + Send + 'static) {
    let inner = current();
    let mut helper = inner.helper.borrow_mut();
    if helper.is_none() {
        *helper = Helper::start().ok();
    }
    let Some((jobs, pending)) = helper.as_ref().and_then(|h| h.jobs.as_ref().map(|j| (j, h.pending.clone()))) else {
        return job(Done(None));
    };
    pending.fetch_add(1, Ordering::Relaxed);
    let done = Done(Some(pending));
    if let Err(e) = jobs.send(Box::new(move || job(done))) {
        (e.0)();
    }
}

/// Counts a helper job finished when dropped.
struct Done(Option<Arc<AtomicUsize>>);

impl Drop for Done {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            p.fetch_sub(1, Ordering::Release);
        }
    }
}

/// File operations that never block the lcore (run on the helper thread).
pub mod fs {
    use std::io::Write;
    use std::path::PathBuf;

    /// Appends `bytes` to `path` (created if missing).
    pub async fn append(path: impl Into<PathBuf>, bytes: Vec<u8>) -> std::io::Result<()> {
        let path = path.into();
        super::blocking(move || std::fs::OpenOptions::new().create(true).append(true).open(&path)?.write_all(&bytes))
            .await
    }

    /// Writes `bytes` to `path`, replacing it.
    pub async fn write(path: impl Into<PathBuf>, bytes: Vec<u8>) -> std::io::Result<()> {
        let path = path.into();
        super::blocking(move || std::fs::write(&path, &bytes)).await
    }

    /// Reads `path`.
    pub async fn read(path: impl Into<PathBuf>) -> std::io::Result<Vec<u8>> {
        let path = path.into();
        super::blocking(move || std::fs::read(&path)).await
    }
}

/// An lcore's loop: walks of its graph interleaved with its executor.
pub struct LcoreLoop {
    graph: Option<Graph>,
    /// The lcore's executor.
    pub exec: LocalExecutor,
    /// Walks between two looks at the executor (1: one each).
    pub walks_per_poll: u32,
    /// Most task polls per executor turn, so tasks cannot hold the core.
    pub budget: usize,
    /// This lcore as a QSBR reader: quiescent after every round.
    qs: crate::qsbr::Reader,
}

impl LcoreLoop {
    /// A loop over `graph` with a new executor for this thread.
    pub fn new(graph: Graph, walks_per_poll: u32) -> LcoreLoop {
        LcoreLoop {
            graph: Some(graph),
            exec: LocalExecutor::new(),
            walks_per_poll: walks_per_poll.max(1),
            budget: 64,
            qs: crate::qsbr::Reader::register(),
        }
    }

    /// The graph.
    pub fn graph(&mut self) -> &mut Graph {
        self.graph.as_mut().expect("the graph is only lent during a turn")
    }

    /// Gives the graph back.
    pub fn into_graph(mut self) -> Graph {
        self.graph.take().expect("the graph is only lent during a turn")
    }

    /// One round: `walks_per_poll` walks, a quiescent state (see
    /// [`qsbr`](crate::qsbr)), then an executor turn if anything is ready or
    /// due. Returns whether the executor ran.
    #[inline]
    pub fn round(&mut self) -> bool {
        let n = self.walks_per_poll;
        let g = self.graph();
        for _ in 0..n {
            g.walk();
        }
        self.qs.quiescent();
        let now = clock::cycles();
        if !self.exec.has_work(now) {
            return false;
        }
        self.turn(now);
        true
    }

    /// Polls ready tasks now, lending them the graph (moving it is moving
    /// a pointer, and no walk runs during the turn).
    pub fn turn(&mut self, now: u64) {
        let g = self.graph.take();
        GRAPH.with(|slot| *slot.borrow_mut() = g);
        self.exec.turn(now, self.budget);
        self.graph = GRAPH.with(|slot| slot.borrow_mut().take());
        debug_assert!(self.graph.is_some(), "a task kept the graph");
    }

    /// Rounds until `stop` is set.
    pub fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            self.round();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A future that polls a sleep `n` times (waking itself) before
    /// waiting for it for real.
    struct PollMany {
        sleep: Pin<Box<Sleep>>,
        left: u32,
    }

    impl Future for PollMany {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let r = self.sleep.as_mut().poll(cx);
            if r.is_pending() && self.left > 0 {
                self.left -= 1;
                cx.waker().wake_by_ref();
            }
            r
        }
    }

    #[test]
    fn a_sleep_polled_many_times_holds_one_timer() {
        let exec = LocalExecutor::new();
        spawn_local(PollMany { sleep: Box::pin(sleep(Duration::from_secs(3600))), left: 50 });
        for _ in 0..60 {
            exec.turn(clock::cycles(), 64);
        }
        assert!(exec.polls() >= 50, "{}", exec.polls());
        assert_eq!(exec.inner.timers.borrow().len(), 1);
        assert_eq!(exec.inner.timer_wakers.borrow().len(), 1);
    }

    #[test]
    fn a_dropped_sleep_takes_its_waker() {
        let exec = LocalExecutor::new();
        let (tx, rx) = local_channel::<()>();
        spawn_local(async move {
            // Completes when the channel closes, dropping the pending sleep.
            let mut rx = rx;
            let s = sleep(Duration::from_secs(3600));
            let mut s = Box::pin(s);
            std::future::poll_fn(|cx| {
                if s.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
                let mut r = Box::pin(rx.recv());
                r.as_mut().poll(cx).map(|_| ())
            })
            .await;
        });
        exec.turn(clock::cycles(), 64);
        assert_eq!(exec.inner.timer_wakers.borrow().len(), 1);
        drop(tx);
        exec.turn(clock::cycles(), 64);
        assert_eq!(exec.tasks(), 0);
        assert_eq!(exec.inner.timer_wakers.borrow().len(), 0);
    }

    #[test]
    fn an_interval_skips_a_long_gap_at_once() {
        let _exec = LocalExecutor::new();
        // One tick per cycle, and a gap of many cycles: the missed count
        // is computed, not counted out.
        let before = clock::cycles();
        let gap = 1u64 << 40;
        let mut iv = Interval { next: before.saturating_sub(gap), period: 1 };
        let mut f = Box::pin(iv.tick());
        let waker = std::task::Waker::noop();
        let missed = match f.as_mut().poll(&mut Context::from_waker(waker)) {
            Poll::Ready(m) => m,
            Poll::Pending => panic!("the deadline has passed"),
        };
        drop(f);
        assert!(iv.next > before, "next tick is in the future");
        assert!(missed >= before.min(gap) - 1, "{missed}");
    }
}
