//! `pkt_drop`: frees every packet it gets to its pool.
//!
//! Uses: the mbuf pool pointer. Sets: nothing. Next: none. The reason a
//! packet was dropped is counted by the node that sent it here; this node's
//! `objs` is the total.

use graph_core::{node, Ctx, Objs};

use crate::mempool::free_bulk;
use crate::pkt::Pkt;

fn pkt_drop(_ctx: &mut Ctx<'_, Pkt>, _: &mut (), objs: Objs<'_, Pkt>) -> usize {
    let n = objs.len();
    free_bulk(objs);
    n
}

node! {
    /// Frees packets (`pkt_drop`).
    pub static PKT_DROP = {
        name: "pkt_drop",
        object: Pkt,
        process: pkt_drop,
        next: &[],
    };
}
