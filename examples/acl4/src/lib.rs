//! # acl4: a 5-tuple IPv4 ACL as a feature of the `ip4_input` arc
//!
//! The way a user adds a node to `l3fwd-graph` without forking it: this
//! crate declares a packet node (`node!`) and makes it a feature of the
//! router's `ip4_input` arc (`feature!`); `src/bin/acl4-router.rs` is the
//! stock program linked with it. The config file enables it per port and
//! gives it its rules:
//!
//! ```toml
//! [[feature]]
//! arc = "ip4_input"
//! node = "acl4"
//! ports = [0]
//!
//! [node.acl4]
//! default = "permit"                  # or "deny"; default "permit"
//! rules = [
//!   { action = "deny", proto = "udp", dport = 53 },
//!   { action = "deny", src = "198.19.0.0/16", dst = "198.18.1.0/24", dport = "1000-1999" },
//! ]
//! ```
//!
//! Rules are tried in order, the first that matches decides; a rule's
//! missing fields match anything. Ports match only TCP and UDP packets
//! that carry their header (first fragments). A denied packet goes to
//! `pkt_drop`, counted as `denied`; a permitted one goes on along the arc,
//! counted in the observation `permitted`. The rules are a list, searched
//! linearly: enough for an example; a large rule set wants DPDK's
//! `rte_acl` approach (a trie per field).

use graph_core::{feature, names, node, ArcHook, Ctx, InitError, NodeInfo, Objs};
use graph_nodes::feature::dispatch;
use graph_nodes::pkt::Pkt;
use graph_nodes::wire::{EthernetFrame, Ipv4Packet, Ipv4Prefix};
use l3fwd_graph::config::NodeConfig;
use serde::Deserialize;

names! {
    /// Edges of `acl4` (besides the arc's).
    pub enum AclNext { Drop = "pkt_drop" }
}

names! {
    /// Drop reasons of `acl4`.
    pub enum AclDrop {
        /// A rule (or the default) denied it.
        Denied = "denied",
    }
}

names! {
    /// Plain counters of `acl4`.
    pub enum AclSeen {
        /// A rule (or the default) permitted it.
        Permitted = "permitted",
    }
}

/// A port or an inclusive range, as written in the file: `53` or
/// `"1000-1999"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum PortSpec {
    One(u16),
    Range(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    action: String,
    src: Option<String>,
    dst: Option<String>,
    proto: Option<String>,
    sport: Option<PortSpec>,
    dport: Option<PortSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AclFile {
    default: Option<String>,
    #[serde(default)]
    rules: Vec<RuleFile>,
}

/// One rule, compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Permit (`true`) or deny.
    pub permit: bool,
    /// Source network and mask.
    pub src: (u32, u32),
    /// Destination network and mask.
    pub dst: (u32, u32),
    /// IP protocol, if the rule names one.
    pub proto: Option<u8>,
    /// Source port range (inclusive); `(0, 65535)` for any.
    pub sport: (u16, u16),
    /// Destination port range.
    pub dport: (u16, u16),
}

/// The 5-tuple of a packet (ports 0 when it carries none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuple {
    /// Source address.
    pub src: u32,
    /// Destination address.
    pub dst: u32,
    /// IP protocol.
    pub proto: u8,
    /// Whether the ports below are real (TCP/UDP, first fragment).
    pub has_ports: bool,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
}

const ANY_PORT: (u16, u16) = (0, u16::MAX);

impl Rule {
    /// Whether the rule matches `t`.
    pub fn matches(&self, t: &Tuple) -> bool {
        let in_range = |p: u16, (lo, hi): (u16, u16)| lo <= p && p <= hi;
        let ports_any = self.sport == ANY_PORT && self.dport == ANY_PORT;
        t.src & self.src.1 == self.src.0
            && t.dst & self.dst.1 == self.dst.0
            && self.proto.is_none_or(|p| p == t.proto)
            && (ports_any || (t.has_ports && in_range(t.sport, self.sport) && in_range(t.dport, self.dport)))
    }
}

/// The ACL: rules in order and the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// The rules, first match wins.
    pub rules: Vec<Rule>,
    /// What happens to a packet no rule matches.
    pub default_permit: bool,
}

impl Acl {
    /// Whether `t` is permitted.
    pub fn permits(&self, t: &Tuple) -> bool {
        self.rules.iter().find(|r| r.matches(t)).map_or(self.default_permit, |r| r.permit)
    }
}

fn action(s: &str) -> Result<bool, String> {
    match s {
        "permit" => Ok(true),
        "deny" => Ok(false),
        _ => Err(format!("action \"{s}\": expected \"permit\" or \"deny\"")),
    }
}

fn net(key: &str, s: &Option<String>) -> Result<(u32, u32), String> {
    let Some(s) = s else { return Ok((0, 0)) };
    let p: Ipv4Prefix = s.parse().map_err(|e| format!("{key} = \"{s}\": {e}"))?;
    Ok((p.network(), p.mask()))
}

fn ports(key: &str, s: &Option<PortSpec>) -> Result<(u16, u16), String> {
    match s {
        None => Ok(ANY_PORT),
        Some(PortSpec::One(p)) => Ok((*p, *p)),
        Some(PortSpec::Range(r)) => {
            let bad = || format!("{key} = \"{r}\": expected a port or a range \"LOW-HIGH\"");
            let (lo, hi) = r.split_once('-').ok_or_else(bad)?;
            let (lo, hi): (u16, u16) = (lo.trim().parse().map_err(|_| bad())?, hi.trim().parse().map_err(|_| bad())?);
            if lo > hi {
                return Err(bad());
            }
            Ok((lo, hi))
        }
    }
}

fn proto(s: &Option<String>) -> Result<Option<u8>, String> {
    Ok(match s.as_deref() {
        None => None,
        Some("tcp") => Some(6),
        Some("udp") => Some(17),
        Some("icmp") => Some(1),
        Some(n) => Some(n.parse().map_err(|_| format!("proto = \"{n}\": expected tcp, udp, icmp or a number"))?),
    })
}

impl Acl {
    fn from_file(f: &AclFile) -> Result<Acl, String> {
        let mut rules = Vec::with_capacity(f.rules.len());
        for (i, r) in f.rules.iter().enumerate() {
            let at = |e: String| format!("rules[{i}]: {e}");
            let rule = Rule {
                permit: action(&r.action).map_err(at)?,
                src: net("src", &r.src).map_err(at)?,
                dst: net("dst", &r.dst).map_err(at)?,
                proto: proto(&r.proto).map_err(at)?,
                sport: ports("sport", &r.sport).map_err(at)?,
                dport: ports("dport", &r.dport).map_err(at)?,
            };
            if (rule.sport != ANY_PORT || rule.dport != ANY_PORT) && !matches!(rule.proto, None | Some(6) | Some(17)) {
                return Err(at("ports match TCP and UDP only".into()));
            }
            rules.push(rule);
        }
        Ok(Acl { rules, default_permit: action(f.default.as_deref().unwrap_or("permit"))? })
    }
}

/// The tuple of the IPv4 packet in `p`, if it is one.
pub fn tuple(p: &Pkt) -> Option<Tuple> {
    let eth = EthernetFrame::new_checked(p.data()).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let proto = ip.protocol();
    let l4 = ip.payload();
    let has_ports = (proto == 6 || proto == 17) && ip.frag_offset() == 0 && l4.len() >= 4;
    let (sport, dport) =
        if has_ports { (u16::from_be_bytes([l4[0], l4[1]]), u16::from_be_bytes([l4[2], l4[3]])) } else { (0, 0) };
    Some(Tuple { src: ip.src_addr(), dst: ip.dst_addr(), proto, has_ports, sport, dport })
}

/// The node's context: its place on the arc and its rules.
pub struct Acl4Ctx {
    hook: ArcHook,
    acl: Acl,
}

fn acl4_init(info: &NodeInfo<'_>) -> Result<Acl4Ctx, InitError> {
    // The rules come from `[node.acl4]` (none: permit everything).
    let file: AclFile = match info.env.get::<NodeConfig>() {
        Some(c) => c.get(info.node_name)?.unwrap_or_default(),
        None => AclFile::default(),
    };
    let acl = Acl::from_file(&file).map_err(|e| format!("[node.{}]: {e}", info.node_name))?;
    Ok(Acl4Ctx { hook: ArcHook::feature(info)?, acl })
}

fn acl4(ctx: &mut Ctx<'_, Pkt>, c: &mut Acl4Ctx, objs: Objs<'_, Pkt>) -> usize {
    let (mut denied, mut permitted) = (0u64, 0u64);
    let n = dispatch(ctx, &c.hook, objs, |p| {
        // On ip4_input every packet is IPv4 that ethdev_rx parsed; anything
        // else passes (the route lookup checks it).
        if tuple(p).is_none_or(|t| c.acl.permits(&t)) {
            permitted += 1;
            None
        } else {
            denied += 1;
            Some(AclNext::Drop.edge())
        }
    });
    ctx.count(AclDrop::Denied.idx(), denied);
    ctx.observe(AclSeen::Permitted.idx(), permitted);
    n
}

node! {
    /// A 5-tuple IPv4 ACL.
    pub static ACL4 = {
        name: "acl4",
        context: Acl4Ctx,
        object: Pkt,
        init: acl4_init,
        process: acl4,
        counters: AclDrop::NAMES,
        observations: AclSeen::NAMES,
        next: AclNext::NAMES,
    };
}

feature! {
    /// `acl4` on the `ip4_input` arc.
    pub static ACL4_FEATURE = { arc: "ip4_input", node: "acl4" };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(toml_rules: &[RuleFile], default: &str) -> Acl {
        Acl::from_file(&AclFile { default: Some(default.into()), rules: toml_rules.to_vec() }).unwrap()
    }

    fn rule(action: &str) -> RuleFile {
        RuleFile { action: action.into(), src: None, dst: None, proto: None, sport: None, dport: None }
    }

    fn t(dst: [u8; 4], proto: u8, dport: u16) -> Tuple {
        Tuple {
            src: u32::from_be_bytes([198, 19, 0, 1]),
            dst: u32::from_be_bytes(dst),
            proto,
            has_ports: true,
            sport: 1024,
            dport,
        }
    }

    #[test]
    fn first_match_wins_and_fields_narrow() {
        let a = acl(
            &[
                RuleFile { proto: Some("udp".into()), dport: Some(PortSpec::One(53)), ..rule("deny") },
                RuleFile { dst: Some("198.18.1.0/24".into()), ..rule("permit") },
                RuleFile {
                    dport: Some(PortSpec::Range("1000-1999".into())),
                    proto: Some("tcp".into()),
                    ..rule("deny")
                },
            ],
            "permit",
        );
        assert!(!a.permits(&t([198, 18, 1, 1], 17, 53)), "rule 0 before rule 1");
        assert!(a.permits(&t([198, 18, 1, 1], 6, 1500)), "rule 1 before rule 2");
        assert!(!a.permits(&t([198, 18, 0, 1], 6, 1500)));
        assert!(a.permits(&t([198, 18, 0, 1], 6, 2000)));
        assert!(a.permits(&t([198, 18, 0, 1], 6, 53)), "tcp/53 is not udp/53");
        // A fragment without ports does not match port rules.
        assert!(a.permits(&Tuple { has_ports: false, ..t([198, 18, 0, 1], 17, 53) }));
        let deny_all = acl(&[RuleFile { src: Some("10.0.0.0/8".into()), ..rule("permit") }], "deny");
        assert!(!deny_all.permits(&t([198, 18, 0, 1], 17, 53)));
    }

    #[test]
    fn bad_rules_say_which_and_why() {
        let e = Acl::from_file(&AclFile { default: None, rules: vec![rule("allow")] }).unwrap_err();
        assert_eq!(e, "rules[0]: action \"allow\": expected \"permit\" or \"deny\"");
        let r = RuleFile { dport: Some(PortSpec::Range("9-1".into())), ..rule("deny") };
        let e = Acl::from_file(&AclFile { default: None, rules: vec![rule("deny"), r] }).unwrap_err();
        assert!(e.starts_with("rules[1]: dport = \"9-1\""), "{e}");
        let r = RuleFile { dport: Some(PortSpec::One(7)), proto: Some("icmp".into()), ..rule("deny") };
        let e = Acl::from_file(&AclFile { default: None, rules: vec![r] }).unwrap_err();
        assert!(e.contains("TCP and UDP only"), "{e}");
        let r = RuleFile { dst: Some("198.18.0.0/33".into()), ..rule("deny") };
        assert!(Acl::from_file(&AclFile { default: None, rules: vec![r] }).unwrap_err().starts_with("rules[0]: dst"));
    }
}
