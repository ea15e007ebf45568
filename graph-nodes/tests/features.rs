//! The router's three feature arcs with packet features: enabled per
//! port, packets of other ports untouched, drops counted, and the
//! `ip4_output` end (`port_tx`) delivering to the right port.

mod common;

use common::Rig;
use graph_core::{feature, feature_arc_list, names, node, ArcHook, Ctx, InitError, NodeInfo, Objs};
use graph_nodes::feature::{arc_index, dispatch, pass};
use graph_nodes::pkt::Pkt;
use graph_nodes::wire::{EthernetFrame, Ipv4Packet, Udp4};

fn hook(info: &NodeInfo<'_>) -> Result<ArcHook, InitError> {
    Ok(ArcHook::feature(info)?)
}

/// Observes every frame (observation 0: "seen") and passes it on.
fn seen(ctx: &mut Ctx<'_, Pkt>, h: &mut ArcHook, objs: Objs<'_, Pkt>) -> usize {
    ctx.observe(0, objs.len() as u64);
    pass(ctx, h, objs)
}

names! {
    /// Edges of `tf_block`.
    enum BlockNext { Drop = "pkt_drop" }
}

/// Drops IPv4 packets to x.x.x.99 (counted as "blocked"); also checks
/// that the arc index is the rx port.
fn block(ctx: &mut Ctx<'_, Pkt>, h: &mut ArcHook, objs: Objs<'_, Pkt>) -> usize {
    let mut blocked = 0;
    let n = dispatch(ctx, h, objs, |p| {
        assert_eq!(arc_index(p), p.port());
        let eth = EthernetFrame::new_checked(p.data()).ok()?;
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        if ip.dst_addr() & 0xff == 99 {
            blocked += 1;
            Some(BlockNext::Drop.edge())
        } else {
            None
        }
    });
    ctx.count(0, blocked);
    n
}

node! { static TF_RX = { name: "tf_rx", context: ArcHook, object: Pkt, init: hook, process: seen, observations: &["seen"], next: &[] }; }
node! { static TF_BLOCK = { name: "tf_block", context: ArcHook, object: Pkt, init: hook, process: block, counters: &["blocked"], next: BlockNext::NAMES }; }
node! { static TF_TX = { name: "tf_tx", context: ArcHook, object: Pkt, init: hook, process: seen, observations: &["seen"], next: &[] }; }
node! { static TF_TX2 = { name: "tf_tx2", context: ArcHook, object: Pkt, init: hook, process: seen, observations: &["seen"], next: &[] }; }

feature! { static F_RX = { arc: "eth_input", node: "tf_rx" }; }
feature! { static F_BLOCK = { arc: "ip4_input", node: "tf_block" }; }
feature! { static F_TX = { arc: "ip4_output", node: "tf_tx" }; }
feature! { static F_TX2 = { arc: "ip4_output", node: "tf_tx2", runs_before: &["tf_tx"] }; }

fn udp(dst: [u8; 4]) -> Vec<u8> {
    Udp4 { dst, ..Udp4::default() }.build()
}

fn observed(r: &mut Rig, node: &str) -> u64 {
    r.graph().node_stats(node).unwrap().observations.get("seen").copied().unwrap_or(0)
}

#[test]
fn the_router_arcs_are_registered() {
    let arcs = feature_arc_list().unwrap();
    let get = |n: &str| arcs.iter().find(|a| a.name == n).unwrap().clone();
    assert_eq!((get("eth_input").start, get("eth_input").end), ("ethdev_rx".into(), "pkt_cls".into()));
    assert_eq!((get("ip4_input").start, get("ip4_input").end), ("pkt_cls".into(), "ip4_lookup".into()));
    assert_eq!((get("ip4_output").start, get("ip4_output").end), ("ip4_rewrite".into(), "port_tx".into()));
    assert_eq!(get("ip4_output").features, ["tf_tx2", "tf_tx"]);
}

#[test]
fn features_apply_to_their_port_only() {
    let mut r = Rig::new(2, 1500, 1024);
    let f = r.env.features.clone();
    f.enable("eth_input", "tf_rx", 0).unwrap();
    f.enable("ip4_input", "tf_block", 0).unwrap();
    f.enable("ip4_output", "tf_tx", 1).unwrap();
    f.enable("ip4_output", "tf_tx2", 1).unwrap();
    // Port 0 → 198.18.1.x (leaves on port 1); port 1 → 198.18.0.x.
    let to1: Vec<Vec<u8>> = (0..10).map(|i| udp([198, 18, 1, 90 + i])).collect();
    let to0: Vec<Vec<u8>> = (0..10).map(|i| udp([198, 18, 0, 90 + i])).collect();
    r.send(0, &to1);
    r.send(1, &to0);
    r.run();
    // Rx feature: port 0's 10 frames only.
    assert_eq!(observed(&mut r, "tf_rx"), 10);
    // Block on port 0: its .99 packet dropped; port 1's .99 forwarded.
    assert_eq!(r.drops().get("tf_block.blocked"), Some(&1));
    assert_eq!(r.drops().len(), 1, "{:?}", r.drops());
    // Output features: the 9 packets leaving port 1, through both.
    assert_eq!(observed(&mut r, "tf_tx2"), 9);
    assert_eq!(observed(&mut r, "tf_tx"), 9);
    assert_eq!(r.objs("port_tx"), 9);
    assert_eq!(r.recv(1).len(), 9);
    assert_eq!(r.recv(0).len(), 10);
    assert_eq!(r.pool.in_use(), 0);

    // All off: the next packets take the usual path.
    for (a, n, p) in [("eth_input", "tf_rx", 0), ("ip4_input", "tf_block", 0), ("ip4_output", "tf_tx", 1)] {
        assert!(f.disable(a, n, p).unwrap());
    }
    f.disable("ip4_output", "tf_tx2", 1).unwrap();
    r.send(0, &to1);
    r.run();
    assert_eq!(r.recv(1).len(), 10);
    assert_eq!(observed(&mut r, "tf_rx"), 10);
    assert_eq!(r.objs("port_tx"), 9);
    assert_eq!(r.pool.in_use(), 0);
}
