//! Test nodes shared by the integration tests. Each test binary that
//! includes this module registers them at link time, like any user crate.
#![allow(dead_code)]

use std::cell::RefCell;

use graph_core::{node, Ctx, NodeFlags, Obj, Objs};

thread_local! {
    /// Names of the nodes that ran on this thread, in order.
    pub static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

pub fn take_log() -> Vec<String> {
    LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

fn log(ctx: &Ctx<'_>) {
    LOG.with(|l| l.borrow_mut().push(ctx.node_name().to_string()));
}

/// How a source hands out its objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SrcMode {
    /// next_stream_get + next_stream_put on every edge.
    #[default]
    StreamGetPut,
    /// enqueue_x1 one by one.
    X1,
    /// enqueue (one slice) per edge.
    Bulk,
}

/// Source context: emits `per_walk` objects to each edge per walk, tagged
/// `tag << 32 | seq`.
#[derive(Debug, Default)]
pub struct Src {
    pub per_walk: usize,
    pub tag: usize,
    pub seq: usize,
    pub mode: SrcMode,
}

fn src(ctx: &mut Ctx<'_>, s: &mut Src, _objs: Objs<'_>) -> usize {
    log(ctx);
    let n = s.per_walk;
    let mut made = 0;
    for e in 0..ctx.nb_edges() {
        match s.mode {
            SrcMode::StreamGetPut => {
                let slots = ctx.next_stream_get(e, n);
                for slot in slots.iter_mut() {
                    *slot = Obj::from_addr(s.tag << 32 | s.seq);
                    s.seq += 1;
                }
                ctx.next_stream_put(e, n);
            }
            SrcMode::X1 => {
                for _ in 0..n {
                    ctx.enqueue_x1(e, Obj::from_addr(s.tag << 32 | s.seq));
                    s.seq += 1;
                }
            }
            SrcMode::Bulk => {
                let v: Vec<Obj> = (0..n).map(|i| Obj::from_addr(s.tag << 32 | (s.seq + i))).collect();
                s.seq += n;
                ctx.enqueue(e, &v);
            }
        }
        made += n;
    }
    made
}

node! {
    /// A configurable source.
    pub static T_SRC = {
        name: "t_src",
        flags: NodeFlags::SOURCE,
        context: Src,
        process: src,
        next: &["t_fan"],
    };
}

/// What a fan node does with a burst.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FanMode {
    /// Copy the burst to every edge with `enqueue`.
    #[default]
    CopyAll,
    /// Hand the burst to edge 0 with `next_stream_move`.
    Move,
}

/// Fan context: what the node saw.
#[derive(Debug, Default)]
pub struct Fan {
    pub mode: FanMode,
    pub seen: Vec<Obj>,
    /// Address of the stream array of each call.
    pub arrays: Vec<usize>,
}

fn fan(ctx: &mut Ctx<'_>, f: &mut Fan, objs: Objs<'_>) -> usize {
    log(ctx);
    f.seen.extend_from_slice(&objs);
    f.arrays.push(objs.as_ptr() as usize);
    let n = objs.len();
    match f.mode {
        FanMode::Move if ctx.nb_edges() > 0 => {
            ctx.next_stream_move(0, objs);
        }
        _ => {
            for e in 0..ctx.nb_edges() {
                ctx.enqueue(e, &objs);
            }
        }
    }
    n
}

node! {
    /// Logs, records and forwards.
    pub static T_FAN = {
        name: "t_fan",
        context: Fan,
        process: fan,
        next: &[],
    };
}
