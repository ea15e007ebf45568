//! Typed objects and the per-graph environment: a node that owns what it
//! carries, edges between object types refused, typed taps, and values
//! handed to nodes' init by type.

use std::sync::{Arc, Mutex};

use graph_core::{node, Ctx, Env, Graph, GraphParam, InitError, NodeFlags, NodeInfo, Obj, Object, Objs};

/// A handle that only this module can mint: an owned token (not `Copy`).
#[repr(transparent)]
#[derive(Debug, PartialEq, Eq)]
pub struct Token(Obj);

// SAFETY: `repr(transparent)` over `Obj`, no drop glue, `Send`.
unsafe impl Object for Token {}

impl Token {
    fn new(n: usize) -> Token {
        Token(Obj::from_addr(n))
    }
    fn value(&self) -> usize {
        self.0.addr()
    }
}

/// How many tokens a source makes per walk (from the environment).
#[derive(Debug, Clone, Copy)]
pub struct PerWalk(usize);

/// Where the sink reports (from the environment): one log per graph.
#[derive(Debug, Clone, Default)]
pub struct SinkLog(Arc<Mutex<Vec<usize>>>);

struct TokSrc {
    per_walk: usize,
    seq: usize,
}

fn tok_src_init(info: &NodeInfo<'_>) -> Result<TokSrc, InitError> {
    Ok(TokSrc { per_walk: info.env::<PerWalk>()?.0, seq: 0 })
}

fn tok_src(ctx: &mut Ctx<'_, Token>, s: &mut TokSrc, _objs: Objs<'_, Token>) -> usize {
    for _ in 0..s.per_walk {
        s.seq += 1;
        ctx.enqueue_x1(0, Token::new(s.seq));
    }
    s.per_walk
}

/// Splits odd and even tokens: evens to edge 0 with a home run when all
/// are even, otherwise per token.
fn tok_mid(ctx: &mut Ctx<'_, Token>, _: &mut (), objs: Objs<'_, Token>) -> usize {
    let n = objs.len();
    let nexts: Vec<u16> = objs.iter().map(|t| (t.value() % 2) as u16).collect();
    if nexts.iter().all(|&e| e == 0) {
        return ctx.next_stream_move(0, objs);
    }
    let (a, b) = objs.split_at(n / 2);
    ctx.enqueue_next_objs(&nexts[..n / 2], a);
    ctx.enqueue_next_objs(&nexts[n / 2..], b);
    n
}

fn tok_sink_init(info: &NodeInfo<'_>) -> Result<SinkLog, InitError> {
    Ok(info.env::<SinkLog>()?.clone())
}

fn tok_sink(_ctx: &mut Ctx<'_, Token>, log: &mut SinkLog, objs: Objs<'_, Token>) -> usize {
    let n = objs.len();
    log.0.lock().unwrap().extend(objs.into_iter().map(|t| t.value()));
    n
}

node! {
    static TOK_SRC = {
        name: "tok_src",
        flags: NodeFlags::SOURCE,
        context: TokSrc,
        object: Token,
        init: tok_src_init,
        process: tok_src,
        next: &["tok_mid"],
    };
}
node! {
    static TOK_MID = {
        name: "tok_mid",
        object: Token,
        process: tok_mid,
        next: &["tok_sink_even", "tok_sink_odd"],
    };
}
node! {
    static TOK_SINK_EVEN = {
        name: "tok_sink_even",
        context: SinkLog,
        object: Token,
        init: tok_sink_init,
        process: tok_sink,
        next: &[],
    };
}
node! {
    static TOK_SINK_ODD = {
        name: "tok_sink_odd",
        context: SinkLog,
        object: Token,
        init: tok_sink_init,
        process: tok_sink,
        next: &[],
    };
}

// An untyped source wired (wrongly) to a typed node.
fn obj_src(_ctx: &mut Ctx<'_>, _: &mut (), _objs: Objs<'_>) -> usize {
    0
}
node! {
    static OBJ_INTO_TOK = {
        name: "obj_into_tok",
        flags: NodeFlags::SOURCE,
        process: obj_src,
        next: &["tok_mid"],
    };
}

#[test]
fn typed_tokens_reach_the_sinks_exactly_once() {
    let log = SinkLog::default();
    let param = GraphParam::new(["tok_src"]).with(PerWalk(7)).with(log.clone());
    let mut g = Graph::create("typed", &param).unwrap();
    for _ in 0..10 {
        g.walk();
    }
    let mut seen = log.0.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(seen, (1..=70).collect::<Vec<_>>());
}

#[test]
fn two_graphs_get_their_own_environment() {
    let (a, b) = (SinkLog::default(), SinkLog::default());
    let mut ga = Graph::create("env_a", &GraphParam::new(["tok_src"]).with(PerWalk(2)).with(a.clone())).unwrap();
    let mut gb = Graph::create("env_b", &GraphParam::new(["tok_src"]).with(PerWalk(5)).with(b.clone())).unwrap();
    ga.walk();
    gb.walk();
    gb.walk();
    assert_eq!(a.0.lock().unwrap().len(), 2);
    assert_eq!(b.0.lock().unwrap().len(), 10);
}

#[test]
fn a_missing_environment_value_names_the_type_node_and_graph() {
    let err = Graph::create("env_missing", &GraphParam::new(["tok_src"]).with(PerWalk(1))).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("SinkLog") && msg.contains("tok_sink_even") && msg.contains("env_missing"), "{msg}");
    assert!(msg.contains("PerWalk"), "lists what the environment has: {msg}");
    let err = Graph::create("env_empty", &GraphParam::new(["tok_src"]).env(Env::new())).unwrap_err();
    assert!(err.to_string().contains("has: nothing"), "{err}");
}

#[test]
fn an_edge_between_object_types_is_refused() {
    let err = Graph::create("mixed", &GraphParam::new(["obj_into_tok"])).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("obj_into_tok") && msg.contains("tok_mid") && msg.contains("Token"), "{msg}");
}

#[test]
fn typed_taps_see_typed_streams() {
    let log = SinkLog::default();
    let mut g = Graph::create("typed_tap", &GraphParam::new(["tok_src"]).with(PerWalk(4)).with(log.clone())).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    g.set_tap("tok_mid", move |toks: &[Token]| s2.lock().unwrap().extend(toks.iter().map(Token::value))).unwrap();
    // Raw handles of any node may be watched too.
    g.set_tap("tok_sink_odd", |_: &[Obj]| {}).unwrap();
    // A tap of another typed object is refused.
    #[repr(transparent)]
    struct Other(#[allow(dead_code)] Obj);
    // SAFETY: `repr(transparent)` over `Obj`, no drop glue.
    unsafe impl Object for Other {}
    let err = g.set_tap("tok_mid", |_: &[Other]| {}).unwrap_err();
    assert!(err.to_string().contains("Token"), "{err}");
    g.walk();
    assert_eq!(*seen.lock().unwrap(), vec![1, 2, 3, 4]);
}

// Counters of two kinds: drop reasons (`count`) and plain counters
// (`observe`), reported apart so that only drops add up as drops.
fn kinds(ctx: &mut Ctx<'_>, _: &mut (), objs: Objs<'_>) -> usize {
    let n = objs.len();
    ctx.count(0, 1);
    ctx.observe(0, n as u64);
    ctx.observe(1, 2);
    n
}
fn kinds_src(ctx: &mut Ctx<'_>, _: &mut (), _objs: Objs<'_>) -> usize {
    ctx.enqueue(0, &[Obj::from_addr(1), Obj::from_addr(2), Obj::from_addr(3)]);
    3
}
node! {
    static KINDS_SRC = { name: "kinds_src", flags: NodeFlags::SOURCE, process: kinds_src, next: &["kinds"] };
}
node! {
    static KINDS = {
        name: "kinds",
        process: kinds,
        counters: &["dropped_one"],
        observations: &["seen", "twice"],
        next: &[],
    };
}

#[test]
fn drop_reasons_and_plain_counters_are_apart() {
    let mut g = Graph::create("kinds_g", &GraphParam::new(["kinds_src"])).unwrap();
    g.walk();
    g.walk();
    let s = g.node_stats("kinds").unwrap();
    assert_eq!(s.counters.into_iter().collect::<Vec<_>>(), vec![("dropped_one".to_string(), 2)]);
    assert_eq!(s.observations["seen"], 6);
    assert_eq!(s.observations["twice"], 4);
    let mut c = graph_core::ClusterStats::for_graphs(&[&g]);
    let row = c.get().into_iter().find(|r| r.name == "kinds").unwrap();
    assert_eq!((row.counters["dropped_one"], row.observations["seen"]), (2, 6));
    let table = graph_core::format_table(&c.get());
    assert!(table.contains("seen") && table.contains("count") && table.contains("drop"), "{table}");
    let summary = graph_core::node_list().unwrap().into_iter().find(|n| n.name == "kinds").unwrap();
    assert_eq!(summary.observations, vec!["seen", "twice"]);
}

#[test]
#[should_panic(expected = "counter 3 is not declared")]
fn an_undeclared_plain_counter_panics_with_the_node_name() {
    fn bad(ctx: &mut Ctx<'_>, _: &mut (), objs: Objs<'_>) -> usize {
        ctx.observe(2, 1);
        objs.len()
    }
    fn src(ctx: &mut Ctx<'_>, _: &mut (), _objs: Objs<'_>) -> usize {
        ctx.enqueue_x1(0, Obj::from_addr(1));
        1
    }
    node! { static BAD_OBS_SRC = { name: "bad_obs_src", flags: NodeFlags::SOURCE, process: src, next: &["bad_obs"] }; }
    node! { static BAD_OBS = { name: "bad_obs", process: bad, counters: &["d"], observations: &["a", "b"], next: &[] }; }
    let mut g = Graph::create("bad_obs_g", &GraphParam::new(["bad_obs_src"])).unwrap();
    g.walk();
}
