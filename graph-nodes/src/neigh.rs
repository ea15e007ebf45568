//! Interface addresses and the IPv4 neighbour table (ARP, RFC 826): what
//! makes the router usable by hosts that know nothing but its address.
//!
//! - [`Interfaces`]: each port's IPv4 addresses, link address and MTU.
//!   Adding an address installs two routes: the address itself (`/32` →
//!   `ip4_local`) and its subnet (→ the port's *glean* next hop, whose
//!   hosts are resolved one by one). It also holds the router's ICMP error
//!   rate limit.
//! - [`Neighbours`]: the neighbour table. An entry is `incomplete` (a
//!   request is out; up to [`NeighConfig::hold`] packets wait for it),
//!   `reachable` (its link address was heard from within
//!   [`NeighConfig::reachable`]) or `stale` (being probed again with
//!   unicast requests; still used). A resolved host gets a next hop of its
//!   own and a `/32` route to it, so its packets take the usual path.
//!   Entries no reply confirms are removed after
//!   [`NeighConfig::retries`] requests.
//!
//! Next-hop ids: below [`GLEAN_BASE`] they are the configuration's
//! (ports' own neighbours, `[[neighbour]]`s); `GLEAN_BASE + port` is the
//! glean next hop of a port's subnets; from [`DYN_BASE`] on they belong to
//! neighbours the table resolves (gateways of routes `via` an address, and
//! hosts).
//!
//! The nodes: `arp_input` (requests for our addresses answered, replies
//! and gratuitous ARP learned), `ip4_arp` (packets whose next hop is not
//! resolved yet: held, and a request sent), `neigh_tick` (a source node:
//! retries, aging, held packets of neighbours that never answered sent
//! back as host unreachable). See [`crate::arp`].

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::ip4_lookup::{Fib, Ip4LookupNext};
use crate::ip4_rewrite::{NextHop, NextHops, MAX_PORTS};
use crate::ip6_lookup::{Fib6, Ip6LookupNext};
use crate::mempool::Mempool;
use crate::pkt::Pkt;
use crate::port::PortId;
use crate::wire::{Ipv4Prefix, Ipv6Prefix};

/// The neighbour-table key of IPv4 address `ip`: `::ffff:a.b.c.d`.
#[inline]
pub const fn key4(ip: u32) -> u128 {
    0xffff << 32 | ip as u128
}

/// The IPv4 address of key `k`, if it is one.
#[inline]
pub const fn v4_of(k: u128) -> Option<u32> {
    if k >> 32 == 0xffff {
        Some(k as u32)
    } else {
        None
    }
}

/// A key as an address.
pub fn key_addr(k: u128) -> std::net::IpAddr {
    match v4_of(k) {
        Some(a) => Ipv4Addr::from(a).into(),
        None => std::net::Ipv6Addr::from(k).into(),
    }
}

/// Next hop of port `p`'s connected subnets: `GLEAN_BASE + p`.
pub const GLEAN_BASE: u16 = 0x8000;
/// First next-hop id of resolved neighbours; ids below [`GLEAN_BASE`]
/// are the configuration's.
pub const DYN_BASE: u16 = GLEAN_BASE + MAX_PORTS as u16;
/// Most neighbours the table can hold (next-hop ids `DYN_BASE..`).
pub const MAX_NEIGHBOURS: usize = (u16::MAX - DYN_BASE) as usize;

/// What went wrong configuring an address or a gateway (control plane).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum L3Error {
    /// A port past [`MAX_PORTS`], or one the interfaces do not know.
    #[error("port {0} has no interface (not configured, or above {max})", max = MAX_PORTS - 1)]
    NoPort(PortId),
    /// The address is not usable as an interface address.
    #[error("{0}: {1}")]
    BadAddr(Ipv4Prefix, &'static str),
    /// The address (or its subnet) is configured already.
    #[error("{0}: {1}")]
    Conflict(Ipv4Prefix, String),
    /// Deleting an address that is not configured.
    #[error("port {0} has no address {1}")]
    NotFound(PortId, Ipv4Prefix),
    /// A gateway outside every connected subnet.
    #[error("{0} is not in a connected subnet (give the port an address in its subnet)")]
    NotOnLink(std::net::IpAddr),
    /// A gateway that is one of our own addresses.
    #[error("{0} is the router's own address: it cannot be a gateway")]
    OwnAddress(std::net::IpAddr),
    /// The IPv6 address is not usable as an interface address.
    #[error("{0}: {1}")]
    BadAddr6(Ipv6Prefix, &'static str),
    /// The IPv6 address (or its subnet) is configured already.
    #[error("{0}: {1}")]
    Conflict6(Ipv6Prefix, String),
    /// Deleting an IPv6 address that is not configured.
    #[error("port {0} has no address {1}")]
    NotFound6(PortId, Ipv6Prefix),
    /// An IPv6 route could not be installed.
    #[error("route {0}: {1}")]
    Route6(String, crate::lpm6::Lpm6Error),
    /// The neighbour table is full.
    #[error("the neighbour table is full ({0} entries)")]
    Full(usize),
    /// A route could not be installed.
    #[error("route {0}: {1}")]
    Route(String, crate::lpm::LpmError),
}

/// One port as layer 3 sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Iface {
    /// Its link address.
    #[serde(serialize_with = "ser_mac")]
    pub mac: [u8; 6],
    /// Its MTU (largest IPv4 total length).
    pub mtu: u16,
    /// Its IPv4 addresses, in the order added.
    #[serde(serialize_with = "ser_prefixes")]
    pub addrs: Vec<Ipv4Prefix>,
    /// Its IPv6 addresses, in the order added.
    #[serde(serialize_with = "ser_prefixes")]
    pub addrs6: Vec<Ipv6Prefix>,
}

fn ser_mac<S: serde::Serializer>(m: &[u8; 6], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::wire::mac_to_string(m))
}

fn ser_prefixes<S: serde::Serializer, P: std::fmt::Display>(p: &[P], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(p.iter().map(|p| p.to_string()))
}

#[derive(Default)]
struct IfTable {
    ports: Vec<Option<Iface>>,
}

impl IfTable {
    fn get(&self, port: PortId) -> Option<&Iface> {
        self.ports.get(port as usize)?.as_ref()
    }
}

/// An interface address of either family, for the lookups both share.
trait Subnet: Copy {
    type A: Copy + PartialEq;
    /// The address itself.
    fn host(&self) -> Self::A;
    /// Whether `a` is in its subnet (a host-length prefix holds nothing).
    fn holds(&self, a: Self::A) -> bool;
    /// The addresses of this family on `i`.
    fn of(i: &Iface) -> &[Self];
}

impl Subnet for Ipv4Prefix {
    type A = u32;
    fn host(&self) -> u32 {
        self.addr
    }
    fn holds(&self, a: u32) -> bool {
        self.len < 32 && a & self.mask() == self.network()
    }
    fn of(i: &Iface) -> &[Self] {
        &i.addrs
    }
}

impl Subnet for Ipv6Prefix {
    type A = u128;
    fn host(&self) -> u128 {
        self.addr
    }
    fn holds(&self, a: u128) -> bool {
        self.len < 128 && a & self.mask() == self.network()
    }
    fn of(i: &Iface) -> &[Self] {
        &i.addrs6
    }
}

/// The interfaces at one moment ([`Interfaces::snapshot`]).
pub struct IfSnapshot(Arc<IfTable>);

impl IfSnapshot {
    /// See [`Interfaces::source_for`].
    pub fn source_for(&self, port: PortId) -> Option<u32> {
        if let Some(a) = self.0.get(port).and_then(|i| i.addrs.first()) {
            return Some(a.addr);
        }
        self.0.ports.iter().flatten().find_map(|i| i.addrs.first()).map(|a| a.addr)
    }

    /// See [`Interfaces::source6_for`].
    pub fn source6_for(&self, port: PortId) -> Option<u128> {
        if let Some(a) = self.0.get(port).and_then(|i| i.addrs6.first()) {
            return Some(a.addr);
        }
        self.0.ports.iter().flatten().find_map(|i| i.addrs6.first()).map(|a| a.addr)
    }

    /// Port `port`'s link address.
    pub fn mac(&self, port: PortId) -> Option<[u8; 6]> {
        self.0.get(port).map(|i| i.mac)
    }
}

/// How many ICMP errors the router sends: a token bucket shared by all
/// its lcores (RFC 1812 §4.3.2.8).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IcmpLimit {
    /// Errors per second, sustained (0: none at all).
    pub rate: u32,
    /// Errors at once after a quiet period.
    pub burst: u32,
}

impl Default for IcmpLimit {
    fn default() -> Self {
        IcmpLimit { rate: 1000, burst: 100 }
    }
}

struct Bucket {
    limit: IcmpLimit,
    tokens: f64,
    last: Instant,
}

struct IfInner {
    table: ArcSwap<IfTable>,
    /// Serialises writers (readers use `table`).
    write: Mutex<()>,
    any_addr: AtomicBool,
    any_addr6: AtomicBool,
    bucket: Mutex<Bucket>,
    ident: AtomicU64,
}

impl Default for IfInner {
    fn default() -> Self {
        IfInner {
            table: ArcSwap::default(),
            write: Mutex::new(()),
            any_addr: AtomicBool::new(false),
            any_addr6: AtomicBool::new(false),
            bucket: Mutex::new(Bucket { limit: IcmpLimit::default(), tokens: 100.0, last: Instant::now() }),
            ident: AtomicU64::new(0),
        }
    }
}

/// The ports' addresses (shared by a router's graphs through their
/// environment; cloning shares the table). Readers never wait: the table
/// is replaced as a whole on a change.
#[derive(Clone, Default)]
pub struct Interfaces(Arc<IfInner>);

impl std::fmt::Debug for Interfaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interfaces").field("ports", &self.0.table.load().ports.iter().flatten().count()).finish()
    }
}

impl Interfaces {
    /// An empty table.
    pub fn new() -> Interfaces {
        Interfaces::default()
    }

    fn update(&self, f: impl FnOnce(&mut Vec<Option<Iface>>) -> Result<(), L3Error>) -> Result<(), L3Error> {
        let _w = self.0.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut ports = self.0.table.load().ports.clone();
        f(&mut ports)?;
        let any = ports.iter().flatten().any(|i| !i.addrs.is_empty());
        let any6 = ports.iter().flatten().any(|i| !i.addrs6.is_empty());
        self.0.table.store(Arc::new(IfTable { ports }));
        self.0.any_addr.store(any, Relaxed);
        self.0.any_addr6.store(any6, Relaxed);
        Ok(())
    }

    /// Registers port `port` with its link address and MTU (no address yet).
    pub fn set_port(&self, port: PortId, mac: [u8; 6], mtu: u16) -> Result<(), L3Error> {
        if port as usize >= MAX_PORTS {
            return Err(L3Error::NoPort(port));
        }
        self.update(|ports| {
            if ports.len() <= port as usize {
                ports.resize(port as usize + 1, None);
            }
            let e = ports[port as usize].get_or_insert_with(Iface::default);
            e.mac = mac;
            e.mtu = mtu;
            Ok(())
        })
    }

    /// Port `port`, if registered.
    pub fn get(&self, port: PortId) -> Option<Iface> {
        self.0.table.load().get(port).cloned()
    }

    /// Every registered port.
    pub fn list(&self) -> Vec<(PortId, Iface)> {
        let t = self.0.table.load();
        t.ports.iter().enumerate().filter_map(|(i, e)| Some((i as PortId, e.clone()?))).collect()
    }

    /// Whether any port has an address: only then does the router answer
    /// with ICMP errors (it needs a source address for them).
    #[inline]
    pub fn icmp_enabled(&self) -> bool {
        self.0.any_addr.load(Relaxed)
    }

    /// Whether any port has an IPv6 address (the source of ICMPv6 errors).
    #[inline]
    pub fn icmp6_enabled(&self) -> bool {
        self.0.any_addr6.load(Relaxed)
    }

    /// The IPv6 address ICMPv6 errors about a packet received on `port`
    /// come from: the port's first, else the first of any port.
    pub fn source6_for(&self, port: PortId) -> Option<u128> {
        self.snapshot().source6_for(port)
    }

    /// The IPv6 subnet of `port` that holds `ip`, if any.
    pub fn on_link6(&self, port: PortId, ip: u128) -> Option<Ipv6Prefix> {
        self.on_link_of(port, ip)
    }

    /// The port whose IPv6 subnet holds `ip`, and that subnet.
    pub fn connected6(&self, ip: u128) -> Option<(PortId, Ipv6Prefix)> {
        self.connected_of(ip)
    }

    /// Whether `ip` is one of `port`'s IPv6 addresses.
    pub fn is_addr6_of(&self, port: PortId, ip: u128) -> bool {
        self.is_addr_of_of::<Ipv6Prefix>(port, ip)
    }

    /// Whether `ip` is an IPv6 address of any port.
    pub fn is_local6(&self, ip: u128) -> bool {
        self.is_local_of::<Ipv6Prefix>(ip)
    }

    /// Our address in the subnet of `port` that holds neighbour `key` (an
    /// IPv4 key is `::ffff:a.b.c.d`), as a key; `None` if it is not on
    /// the link, or is the network or broadcast address of an IPv4 subnet.
    pub fn host_on_link(&self, port: PortId, key: u128) -> Option<u128> {
        match v4_of(key) {
            Some(ip) => {
                let s = self.on_link(port, ip)?;
                let host = ip & !s.mask();
                if s.len <= 30 && (host == 0 || host == !s.mask()) {
                    return None;
                }
                Some(key4(s.addr))
            }
            None => {
                let s = self.on_link6(port, key)?;
                (key & !s.mask() != 0 || s.len >= 127).then_some(s.addr)
            }
        }
    }

    /// The address ICMP errors about a packet received on `port` come
    /// from: the port's first, else the first of any port.
    pub fn source_for(&self, port: PortId) -> Option<u32> {
        self.snapshot().source_for(port)
    }

    /// The subnet of `port` that holds `ip`, if any (a `/32` address holds
    /// only itself).
    pub fn on_link(&self, port: PortId, ip: u32) -> Option<Ipv4Prefix> {
        self.on_link_of(port, ip)
    }

    /// The port whose subnet holds `ip`, and that subnet.
    pub fn connected(&self, ip: u32) -> Option<(PortId, Ipv4Prefix)> {
        self.connected_of(ip)
    }

    /// Whether `ip` is one of `port`'s addresses.
    pub fn is_addr_of(&self, port: PortId, ip: u32) -> bool {
        self.is_addr_of_of::<Ipv4Prefix>(port, ip)
    }

    /// Whether `ip` is an address of any port.
    pub fn is_local(&self, ip: u32) -> bool {
        self.is_local_of::<Ipv4Prefix>(ip)
    }

    fn on_link_of<S: Subnet>(&self, port: PortId, ip: S::A) -> Option<S> {
        S::of(self.0.table.load().get(port)?).iter().copied().find(|a| a.holds(ip))
    }

    fn connected_of<S: Subnet>(&self, ip: S::A) -> Option<(PortId, S)> {
        let t = self.0.table.load();
        t.ports
            .iter()
            .enumerate()
            .find_map(|(p, i)| Some((p as PortId, S::of(i.as_ref()?).iter().copied().find(|a| a.holds(ip))?)))
    }

    fn is_addr_of_of<S: Subnet>(&self, port: PortId, ip: S::A) -> bool {
        self.0.table.load().get(port).is_some_and(|i| S::of(i).iter().any(|a| a.host() == ip))
    }

    fn is_local_of<S: Subnet>(&self, ip: S::A) -> bool {
        self.0.table.load().ports.iter().flatten().any(|i| S::of(i).iter().any(|a| a.host() == ip))
    }

    /// Sets the ICMP error rate limit.
    pub fn set_icmp_limit(&self, limit: IcmpLimit) {
        let mut b = self.0.bucket.lock().unwrap_or_else(|e| e.into_inner());
        *b = Bucket { limit, tokens: f64::from(limit.burst), last: Instant::now() };
    }

    /// Takes a token for one ICMP error; `false` if the limit says no.
    pub fn icmp_allow(&self) -> bool {
        self.icmp_take(1) == 1
    }

    /// Takes up to `n` tokens at once (one lock and one clock read for a
    /// burst of errors); how many the limit granted.
    pub fn icmp_take(&self, n: u32) -> u32 {
        let mut b = self.0.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let dt = now.duration_since(b.last).as_secs_f64();
        b.last = now;
        b.tokens = (b.tokens + dt * f64::from(b.limit.rate)).min(f64::from(b.limit.burst));
        let got = b.tokens.floor().min(f64::from(n)).max(0.0);
        b.tokens -= got;
        got as u32
    }

    /// Gives back `n` tokens [`icmp_take`](Self::icmp_take) granted and
    /// nothing used.
    pub fn icmp_give_back(&self, n: u32) {
        if n > 0 {
            let mut b = self.0.bucket.lock().unwrap_or_else(|e| e.into_inner());
            b.tokens = (b.tokens + f64::from(n)).min(f64::from(b.limit.burst));
        }
    }

    /// A new IPv4 identification for a packet the router sends.
    pub fn next_ident(&self) -> u16 {
        self.0.ident.fetch_add(1, Relaxed) as u16
    }

    /// The table as it is now, for a burst's worth of reads without a load
    /// each.
    pub fn snapshot(&self) -> IfSnapshot {
        IfSnapshot(self.0.table.load_full())
    }

    /// Adds address `a` to `port`'s list, checked (unicast, a host of its
    /// subnet, no overlap with another port's). Only the table: a router
    /// adds addresses with [`L3::addr_add`], which also routes them.
    pub fn add_addr(&self, port: PortId, a: Ipv4Prefix) -> Result<(), L3Error> {
        let host = a.addr & !a.mask();
        if a.len == 0 {
            return Err(L3Error::BadAddr(a, "a /0 address covers every destination"));
        }
        if a.len <= 30 && (host == 0 || host == !a.mask()) {
            return Err(L3Error::BadAddr(a, "the subnet's network or broadcast address is not a host address"));
        }
        let first = a.addr >> 24;
        if matches!(first, 0 | 127 | 224..) {
            return Err(L3Error::BadAddr(a, "not a unicast address (0/8, 127/8, multicast and above)"));
        }
        self.update(|ports| {
            for (p, i) in ports.iter().enumerate() {
                for b in i.iter().flat_map(|i| &i.addrs) {
                    if b.addr == a.addr {
                        return Err(L3Error::Conflict(a, format!("port {p} has this address already")));
                    }
                    let m = a.mask() & b.mask();
                    if p != port as usize && a.len < 32 && b.len < 32 && a.addr & m == b.addr & m {
                        return Err(L3Error::Conflict(a, format!("overlaps {b} on port {p}")));
                    }
                }
            }
            let e = ports.get_mut(port as usize).and_then(Option::as_mut).ok_or(L3Error::NoPort(port))?;
            e.addrs.push(a);
            Ok(())
        })
    }

    /// Adds IPv6 address `a` to `port`'s list, checked (global unicast or
    /// unique local: not unspecified, loopback, multicast, link-local or
    /// IPv4-mapped; no overlap with another port's subnet). Only the table;
    /// see [`L3::addr_add6`].
    pub fn add_addr6(&self, port: PortId, a: Ipv6Prefix) -> Result<(), L3Error> {
        let bad = |why| Err(L3Error::BadAddr6(a, why));
        if a.addr == 0 || a.addr == 1 || a.addr >> 120 == 0xff || a.addr >> 32 == 0xffff {
            return bad("not a unicast address (unspecified, loopback, multicast or IPv4-mapped)");
        }
        if a.addr & (0xffc0 << 112) == 0xfe80 << 112 {
            return bad("link-local addresses are not supported (give a global or unique local one)");
        }
        if a.len == 0 {
            return bad("a /0 address covers every destination");
        }
        if a.len < 127 && a.addr & !a.mask() == 0 {
            return bad("the subnet-router anycast address (host part zero) is not a host address");
        }
        self.update(|ports| {
            for (p, i) in ports.iter().enumerate() {
                if let Some(port_mtu) = (p == port as usize).then(|| i.as_ref().map(|i| i.mtu)).flatten() {
                    if port_mtu < 1280 {
                        return Err(L3Error::BadAddr6(a, "the port's MTU is below IPv6's minimum of 1280"));
                    }
                }
                for b in i.iter().flat_map(|i| &i.addrs6) {
                    if b.addr == a.addr {
                        return Err(L3Error::Conflict6(a, format!("port {p} has this address already")));
                    }
                    let m = a.mask() & b.mask();
                    if p != port as usize && a.len < 128 && b.len < 128 && a.addr & m == b.addr & m {
                        return Err(L3Error::Conflict6(a, format!("overlaps {b} on port {p}")));
                    }
                }
            }
            let e = ports.get_mut(port as usize).and_then(Option::as_mut).ok_or(L3Error::NoPort(port))?;
            e.addrs6.push(a);
            Ok(())
        })
    }

    /// Removes IPv6 address `a` from `port`'s list (only the table).
    pub fn del_addr6(&self, port: PortId, a: Ipv6Prefix) -> Result<(), L3Error> {
        self.update(|ports| {
            let e = ports.get_mut(port as usize).and_then(Option::as_mut).ok_or(L3Error::NoPort(port))?;
            let at = e.addrs6.iter().position(|b| *b == a).ok_or(L3Error::NotFound6(port, a))?;
            e.addrs6.remove(at);
            Ok(())
        })
    }

    /// Removes address `a` from `port`'s list (only the table; see
    /// [`L3::addr_del`]).
    pub fn del_addr(&self, port: PortId, a: Ipv4Prefix) -> Result<(), L3Error> {
        self.update(|ports| {
            let e = ports.get_mut(port as usize).and_then(Option::as_mut).ok_or(L3Error::NoPort(port))?;
            let at = e.addrs.iter().position(|b| *b == a).ok_or(L3Error::NotFound(port, a))?;
            e.addrs.remove(at);
            Ok(())
        })
    }
}

/// Tunables of the neighbour table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighConfig {
    /// Packets held per unresolved neighbour (the oldest is dropped beyond).
    pub hold: usize,
    /// Most entries.
    pub max_entries: usize,
    /// How long a reply keeps an entry reachable.
    pub reachable: Duration,
    /// Time between requests while resolving or probing.
    pub retrans: Duration,
    /// Requests sent before giving up on a neighbour.
    pub retries: u32,
}

impl Default for NeighConfig {
    fn default() -> Self {
        NeighConfig {
            hold: 8,
            max_entries: 4096,
            reachable: Duration::from_secs(30),
            retrans: Duration::from_secs(1),
            retries: 3,
        }
    }
}

/// A neighbour's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NeighState {
    /// Being resolved: no link address yet.
    Incomplete,
    /// Link address confirmed within the reachable time.
    Reachable,
    /// Being probed again; still used.
    Stale,
}

impl NeighState {
    /// The state's name.
    pub fn name(self) -> &'static str {
        match self {
            NeighState::Incomplete => "incomplete",
            NeighState::Reachable => "reachable",
            NeighState::Stale => "stale",
        }
    }
}

struct Entry {
    nh: u16,
    mac: [u8; 6],
    state: NeighState,
    /// When the state's timer fires.
    deadline: Instant,
    /// Requests sent in this round of resolving or probing.
    tries: u32,
    hold: VecDeque<Pkt>,
    /// A route's gateway: kept (unresolved) when it stops answering.
    pinned: bool,
    /// Whether a `/32` route to it is installed.
    host_route: bool,
}

impl Entry {
    /// A new entry, incomplete, holding nothing; `pinned` for a gateway.
    fn new(nh: u16, pinned: bool, now: Instant) -> Entry {
        Entry {
            nh,
            mac: [0; 6],
            state: NeighState::Incomplete,
            deadline: now,
            tries: 0,
            hold: VecDeque::new(),
            pinned,
            host_route: false,
        }
    }
}

#[derive(Default)]
struct Table {
    entries: HashMap<(PortId, u128), Entry>,
    /// Next-hop ids free for new entries, least recently used first.
    free: VecDeque<u16>,
    next_id: u32,
}

impl Table {
    fn alloc(&mut self, max: usize) -> Option<u16> {
        if self.entries.len() >= max {
            return None;
        }
        if (self.next_id as usize) < max.min(MAX_NEIGHBOURS) {
            self.next_id += 1;
            return Some(DYN_BASE + (self.next_id - 1) as u16);
        }
        self.free.pop_front()
    }
}

/// One entry as the control socket shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeighInfo {
    /// Port.
    pub port: PortId,
    /// Address.
    pub ip: std::net::IpAddr,
    /// Link address (zero while incomplete).
    pub mac: String,
    /// State.
    pub state: NeighState,
    /// Its next-hop id.
    pub next_hop: u16,
    /// Packets waiting for it.
    pub held: usize,
    /// A route's gateway.
    pub gateway: bool,
}

/// A request to send (ARP, or an IPv6 neighbour solicitation): on
/// `port`, from `src_ip`, for `target` (keys: IPv4 as `::ffff:a.b.c.d`);
/// to `unicast` (a probe of a known neighbour) or broadcast (the
/// solicited-node group for IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Out port.
    pub port: PortId,
    /// The address asked for.
    pub target: u128,
    /// Our address in its subnet.
    pub src_ip: u128,
    /// The neighbour's link address, for a probe.
    pub unicast: Option<[u8; 6]>,
}

/// What [`L3::hold`] did with a packet.
#[derive(Debug)]
pub enum Held {
    /// The neighbour is resolved: the packet goes on with `meta.nh` set.
    Resolved(Pkt),
    /// The packet waits; a request to send, and a packet pushed out of the
    /// full hold queue.
    Queued(Option<Request>, Option<Pkt>),
    /// Not kept: the table is full.
    TableFull(Pkt),
    /// Not kept: the destination is not a host of a connected subnet.
    NotAHost(Pkt),
}

/// What [`L3::tick`] found due.
#[derive(Debug, Default)]
pub struct Due {
    /// Requests and probes to send.
    pub requests: Vec<Request>,
    /// Held packets of neighbours that never answered.
    pub failed: Vec<Pkt>,
    /// Entries removed or reset.
    pub expired: u64,
}

struct NeighInner {
    cfg: NeighConfig,
    table: Mutex<Table>,
    pool: OnceLock<Mempool>,
    /// Earliest instant `tick` has work (nanoseconds since `epoch`).
    next_due: AtomicU64,
    epoch: Instant,
    /// Packets freed by [`Neighbours::clear`].
    flushed: AtomicU64,
}

/// The neighbour table of a router (shared by its graphs through their
/// environment; cloning shares it). Changes come from the data path
/// (`arp_input`, `ip4_arp`, `neigh_tick`) and the control plane, under one
/// lock taken only off the forwarding fast path.
#[derive(Clone)]
pub struct Neighbours(Arc<NeighInner>);

impl Default for Neighbours {
    fn default() -> Self {
        Neighbours::new(NeighConfig::default())
    }
}

impl std::fmt::Debug for Neighbours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neighbours").field("cfg", &self.0.cfg).finish()
    }
}

/// The tables a neighbour change touches (all shared handles).
#[derive(Clone, Debug, Default)]
pub struct L3 {
    /// The FIB.
    pub fib: Fib,
    /// The IPv6 FIB.
    pub fib6: Fib6,
    /// The next hops.
    pub hops: NextHops,
    /// The interfaces.
    pub ifaces: Interfaces,
    /// The neighbour table.
    pub neigh: Neighbours,
}

impl L3 {
    /// The tables of a graph's environment: `Fib` and `NextHops` are
    /// required; `Fib6`, `Interfaces` and `Neighbours` default to empty
    /// ones.
    pub fn from_env(info: &graph_core::NodeInfo<'_>) -> Result<L3, graph_core::InitError> {
        Ok(L3 {
            fib: info.env::<Fib>()?.clone(),
            fib6: info.env.get::<Fib6>().cloned().unwrap_or_default(),
            hops: info.env::<NextHops>()?.clone(),
            ifaces: info.env.get::<Interfaces>().cloned().unwrap_or_default(),
            neigh: info.env.get::<Neighbours>().cloned().unwrap_or_default(),
        })
    }

    /// Adds address `a` to `port`: `a/32` → `ip4_local`, its subnet → the
    /// port's glean next hop.
    pub fn addr_add(&self, port: PortId, a: Ipv4Prefix) -> Result<(), L3Error> {
        self.ifaces.add_addr(port, a)?;
        let undo = |e: L3Error| {
            let _ = self.ifaces.del_addr(port, a);
            e
        };
        let glean = GLEAN_BASE + port;
        self.hops.add_pending(glean, port, None).map_err(|_| undo(L3Error::NoPort(port)))?;
        self.fib
            .route_add(a.ip(), 32, 0, Ip4LookupNext::Local)
            .map_err(|e| undo(L3Error::Route(format!("{}/32", a.ip()), e)))?;
        if a.len < 32 {
            let net = Ipv4Addr::from(a.network());
            if let Err(e) = self.fib.route_add(net, a.len, glean, Ip4LookupNext::Rewrite) {
                let _ = self.fib.route_delete(a.ip(), 32);
                return Err(undo(L3Error::Route(format!("{net}/{}", a.len), e)));
            }
        }
        Ok(())
    }

    /// Removes address `a` from `port` and its two routes. Neighbours in
    /// the subnet age out as they stop answering.
    pub fn addr_del(&self, port: PortId, a: Ipv4Prefix) -> Result<(), L3Error> {
        self.ifaces.del_addr(port, a)?;
        let _ = self.fib.route_delete(a.ip(), 32);
        if a.len < 32 {
            let _ = self.fib.route_delete(Ipv4Addr::from(a.network()), a.len);
        }
        Ok(())
    }

    /// Adds IPv6 address `a` to `port`: `a/128` → `ip6_local`, its subnet
    /// → the port's glean next hop.
    pub fn addr_add6(&self, port: PortId, a: Ipv6Prefix) -> Result<(), L3Error> {
        self.ifaces.add_addr6(port, a)?;
        let undo = |e: L3Error| {
            let _ = self.ifaces.del_addr6(port, a);
            e
        };
        let glean = GLEAN_BASE + port;
        self.hops.add_pending(glean, port, None).map_err(|_| undo(L3Error::NoPort(port)))?;
        self.fib6
            .route_add(a.ip(), 128, 0, Ip6LookupNext::Local)
            .map_err(|e| undo(L3Error::Route6(format!("{}/128", a.ip()), e)))?;
        if a.len < 128 {
            let net = std::net::Ipv6Addr::from(a.network());
            if let Err(e) = self.fib6.route_add(net, a.len, glean, Ip6LookupNext::Rewrite) {
                let _ = self.fib6.route_delete(a.ip(), 128);
                return Err(undo(L3Error::Route6(format!("{net}/{}", a.len), e)));
            }
        }
        Ok(())
    }

    /// Removes IPv6 address `a` from `port` and its two routes.
    pub fn addr_del6(&self, port: PortId, a: Ipv6Prefix) -> Result<(), L3Error> {
        self.ifaces.del_addr6(port, a)?;
        let _ = self.fib6.route_delete(a.ip(), 128);
        if a.len < 128 {
            let _ = self.fib6.route_delete(std::net::Ipv6Addr::from(a.network()), a.len);
        }
        Ok(())
    }

    /// The next hop of gateway `via` (a neighbour in a connected subnet,
    /// IPv4 or IPv6), made on first use: routes `via` an address point to
    /// it, and it is resolved when traffic first needs it.
    pub fn gateway(&self, via: std::net::IpAddr) -> Result<u16, L3Error> {
        let (key, port, local) = match via {
            std::net::IpAddr::V4(v) => {
                let ip = u32::from(v);
                let (port, _) = self.ifaces.connected(ip).ok_or(L3Error::NotOnLink(via))?;
                (key4(ip), port, self.ifaces.is_local(ip))
            }
            std::net::IpAddr::V6(v) => {
                let ip = u128::from(v);
                let (port, _) = self.ifaces.connected6(ip).ok_or(L3Error::NotOnLink(via))?;
                (ip, port, self.ifaces.is_local6(ip))
            }
        };
        if local {
            return Err(L3Error::OwnAddress(via));
        }
        let n = &self.neigh.0;
        let mut t = n.lock();
        if let Some(e) = t.entries.get_mut(&(port, key)) {
            e.pinned = true;
            return Ok(e.nh);
        }
        let nh = t.alloc(n.cfg.max_entries).ok_or(L3Error::Full(n.cfg.max_entries))?;
        self.hops.add_pending(nh, port, Some(key)).map_err(|_| L3Error::NoPort(port))?;
        t.entries.insert((port, key), Entry::new(nh, true, Instant::now()));
        Ok(nh)
    }

    /// Installs a host route to `key` → next hop `nh`; whether it went in.
    fn host_route_add(&self, key: u128, nh: u16) -> bool {
        match v4_of(key) {
            // From a worker lcore: never wait for readers (it is one). If
            // the route cannot go in now, the host's packets still find
            // the entry through the glean next hop.
            Some(ip) => self.fib.route_add_nowait(ip.into(), 32, nh, Ip4LookupNext::Rewrite).is_ok(),
            None => self.fib6.route_add(key.into(), 128, nh, Ip6LookupNext::Rewrite).is_ok(),
        }
    }

    fn host_route_del(&self, key: u128) {
        let _ = match v4_of(key) {
            Some(ip) => self.fib.route_delete(ip.into(), 32).map_err(|_| ()),
            None => self.fib6.route_delete(key.into(), 128).map_err(|_| ()),
        };
    }

    /// Makes `e` resolved to `mac` and reachable: its next hop leaves on
    /// `port`, a `/32` route points to it, and its held packets come back
    /// (with `meta.nh` set) to be sent.
    fn resolve(&self, port: PortId, key: u128, e: &mut Entry, mac: [u8; 6], now: Instant, out: &mut Vec<Pkt>) {
        let cfg = &self.neigh.0.cfg;
        let Some(iface) = self.ifaces.get(port) else { return };
        if e.state == NeighState::Incomplete || e.mac != mac {
            let _ = self.hops.add(e.nh, NextHop { dst_mac: mac, src_mac: iface.mac, port, mtu: iface.mtu });
        }
        e.mac = mac;
        e.state = NeighState::Reachable;
        e.deadline = now + cfg.reachable;
        e.tries = 0;
        if !e.host_route && self.ifaces.host_on_link(port, key).is_some() {
            e.host_route = self.host_route_add(key, e.nh);
        }
        for mut p in e.hold.drain(..) {
            p.meta_mut().nh = e.nh;
            out.push(p);
        }
    }

    /// ARP or neighbour discovery heard `mac` for neighbour `key` (IPv4
    /// as `::ffff:a.b.c.d`) on `port` (a reply, a request, an
    /// announcement): an existing entry is updated (RFC 826's merge, RFC
    /// 4861 §7.2.5); a new one is made only when the packet was for us
    /// (`for_us`). Held packets it releases are appended to `out`. Whether
    /// the table knows the neighbour now.
    pub fn learn(&self, port: PortId, key: u128, mac: [u8; 6], for_us: bool, out: &mut Vec<Pkt>) -> bool {
        if self.ifaces.host_on_link(port, key).is_none() || mac[0] & 1 != 0 || mac == [0; 6] {
            return false;
        }
        let now = Instant::now();
        let n = &self.neigh.0;
        let mut t = n.lock();
        if !t.entries.contains_key(&(port, key)) {
            if !for_us {
                return false;
            }
            let Some(nh) = t.alloc(n.cfg.max_entries) else { return false };
            t.entries.insert((port, key), Entry::new(nh, false, now));
        }
        let e = t.entries.get_mut(&(port, key)).expect("present");
        self.resolve(port, key, e, mac, now, out);
        n.due(e.deadline);
        true
    }

    /// A packet for next hop `meta.nh`, which is pending: for a gateway,
    /// the neighbour is the gateway; for a glean next hop, the packet's
    /// destination `dst`.
    pub fn hold(&self, mut p: Pkt, port: PortId, ip: u128) -> Held {
        if self.ifaces.host_on_link(port, ip).is_none() {
            return Held::NotAHost(p);
        }
        let now = Instant::now();
        let n = &self.neigh.0;
        let mut t = n.lock();
        if !t.entries.contains_key(&(port, ip)) {
            let Some(nh) = t.alloc(n.cfg.max_entries) else { return Held::TableFull(p) };
            self.hops.add_pending(nh, port, Some(ip)).ok();
            t.entries.insert((port, ip), Entry::new(nh, false, now));
        }
        let e = t.entries.get_mut(&(port, ip)).expect("present");
        if e.state != NeighState::Incomplete {
            p.meta_mut().nh = e.nh;
            return Held::Resolved(p);
        }
        let mut request = None;
        if e.tries == 0 {
            e.tries = 1;
            e.deadline = now + n.cfg.retrans;
            request = self.request(port, ip, None);
            n.due(e.deadline);
        }
        let evicted = if e.hold.len() >= n.cfg.hold.max(1) { e.hold.pop_front() } else { None };
        e.hold.push_back(p);
        Held::Queued(request, evicted)
    }

    fn request(&self, port: PortId, target: u128, unicast: Option<[u8; 6]>) -> Option<Request> {
        let src_ip = self.ifaces.host_on_link(port, target)?;
        Some(Request { port, target, src_ip, unicast })
    }

    /// Runs the timers that are due at `now`: retries, aging, probes, and
    /// giving up. Cheap when nothing is due (one atomic load), and only
    /// one caller at a time does the work.
    pub fn tick(&self, now: Instant) -> Option<Due> {
        let n = &self.neigh.0;
        if n.nanos(now) < n.next_due.load(Relaxed) {
            return None;
        }
        let mut t = n.table.try_lock().ok()?;
        let mut due = Due::default();
        let mut next = now + Duration::from_secs(3600);
        let mut gone = Vec::new();
        for (&(port, ip), e) in t.entries.iter_mut() {
            if e.deadline > now {
                next = next.min(e.deadline);
                continue;
            }
            match e.state {
                NeighState::Incomplete if e.tries == 0 => {
                    // A gateway nothing has needed yet.
                    e.deadline = now + Duration::from_secs(3600);
                }
                NeighState::Incomplete | NeighState::Stale if e.tries >= n.cfg.retries => {
                    due.failed.extend(e.hold.drain(..));
                    due.expired += 1;
                    if e.host_route {
                        self.host_route_del(ip);
                        e.host_route = false;
                    }
                    // Packets already on their way with this next hop
                    // resolve again through `ip4_arp`.
                    let _ = self.hops.add_pending(e.nh, port, Some(ip));
                    if e.pinned {
                        e.state = NeighState::Incomplete;
                        e.tries = 0;
                        e.deadline = now + Duration::from_secs(3600);
                    } else {
                        gone.push((port, ip));
                    }
                }
                NeighState::Incomplete | NeighState::Stale => {
                    e.tries += 1;
                    e.deadline = now + n.cfg.retrans;
                    let to = (e.state == NeighState::Stale).then_some(e.mac);
                    due.requests.extend(self.request(port, ip, to));
                }
                NeighState::Reachable => {
                    // Probe it with a unicast request; it stays in use.
                    e.state = NeighState::Stale;
                    e.tries = 1;
                    e.deadline = now + n.cfg.retrans;
                    due.requests.extend(self.request(port, ip, Some(e.mac)));
                }
            }
            next = next.min(e.deadline);
        }
        for k in gone {
            if let Some(e) = t.entries.remove(&k) {
                t.free.push_back(e.nh);
            }
        }
        n.next_due.store(n.nanos(next), Relaxed);
        Some(due)
    }
}

impl Neighbours {
    /// An empty table.
    pub fn new(cfg: NeighConfig) -> Neighbours {
        Neighbours(Arc::new(NeighInner {
            cfg,
            table: Mutex::new(Table::default()),
            pool: OnceLock::new(),
            next_due: AtomicU64::new(0),
            epoch: Instant::now(),
            flushed: AtomicU64::new(0),
        }))
    }

    /// Its configuration.
    pub fn config(&self) -> NeighConfig {
        self.0.cfg
    }

    /// Sets the pool requests are built in (once; later calls are ignored).
    pub fn set_pool(&self, pool: Mempool) {
        let _ = self.0.pool.set(pool);
    }

    /// The pool requests are built in.
    pub fn pool(&self) -> Option<&Mempool> {
        self.0.pool.get()
    }

    /// The entries, sorted by port and address.
    pub fn list(&self) -> Vec<NeighInfo> {
        let t = self.0.lock();
        let mut v: Vec<NeighInfo> = t
            .entries
            .iter()
            .map(|(&(port, ip), e)| NeighInfo {
                port,
                ip: key_addr(ip),
                mac: crate::wire::mac_to_string(&e.mac),
                state: e.state,
                next_hop: e.nh,
                held: e.hold.len(),
                gateway: e.pinned,
            })
            .collect();
        v.sort_by_key(|i| (i.port, i.ip));
        v
    }

    /// Frees every held packet (at shutdown, after the graphs stopped);
    /// how many. [`flushed`](Self::flushed) keeps the total.
    pub fn clear(&self) -> usize {
        let mut held: Vec<Pkt> = Vec::new();
        {
            let mut t = self.0.lock();
            for e in t.entries.values_mut() {
                held.extend(e.hold.drain(..));
            }
        }
        let n = held.len();
        crate::mempool::free_bulk(graph_core::Objs::from_vec(&mut held));
        self.0.flushed.fetch_add(n as u64, Relaxed);
        n
    }

    /// Packets [`clear`](Self::clear) freed.
    pub fn flushed(&self) -> u64 {
        self.0.flushed.load(Relaxed)
    }
}

impl NeighInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn nanos(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    /// Makes `tick` look again by `at`.
    fn due(&self, at: Instant) {
        self.next_due.fetch_min(self.nanos(at), Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pfx(s: &str) -> Ipv4Prefix {
        s.parse().unwrap()
    }

    #[test]
    #[cfg_attr(miri, ignore = "a FIB is 64 MiB of table")]
    fn addresses_install_local_and_connected_routes() {
        let l3 = L3::default();
        l3.ifaces.set_port(0, [2, 0, 0, 0, 0, 1], 1500).unwrap();
        l3.ifaces.set_port(1, [2, 0, 0, 0, 0, 2], 1500).unwrap();
        assert!(!l3.ifaces.icmp_enabled());
        l3.addr_add(0, pfx("10.0.0.1/24")).unwrap();
        assert!(l3.ifaces.icmp_enabled());
        let local = l3.fib.route_lookup("10.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(local.0, Ip4LookupNext::Local.edge());
        let host = l3.fib.route_lookup("10.0.0.7".parse().unwrap()).unwrap();
        assert_eq!(host, (Ip4LookupNext::Rewrite.edge(), GLEAN_BASE));
        assert!(matches!(
            l3.hops.state(GLEAN_BASE),
            Some(crate::ip4_rewrite::HopState::Pending { port: 0, via: None })
        ));
        assert_eq!(l3.ifaces.source_for(1), Some(0x0a00_0001));
        // Conflicts and bad addresses are refused, with nothing installed.
        assert!(matches!(l3.addr_add(1, pfx("10.0.0.1/24")), Err(L3Error::Conflict(..))));
        assert!(matches!(l3.addr_add(1, pfx("10.0.0.9/16")), Err(L3Error::Conflict(..))));
        assert!(matches!(l3.addr_add(1, pfx("10.1.0.0/24")), Err(L3Error::BadAddr(..))));
        assert!(matches!(l3.addr_add(1, pfx("10.1.0.255/24")), Err(L3Error::BadAddr(..))));
        assert!(matches!(l3.addr_add(1, pfx("127.0.0.1/8")), Err(L3Error::BadAddr(..))));
        assert!(matches!(l3.addr_add(7, pfx("10.7.0.1/24")), Err(L3Error::NoPort(7))));
        assert!(l3.addr_add(1, pfx("10.0.1.1/31")).is_ok());
        assert_eq!(l3.ifaces.connected(0x0a00_0100), Some((1, pfx("10.0.1.1/31"))));
        l3.addr_del(0, pfx("10.0.0.1/24")).unwrap();
        assert_eq!(l3.fib.route_lookup("10.0.0.7".parse().unwrap()), None);
        assert_eq!(l3.addr_del(0, pfx("10.0.0.1/24")), Err(L3Error::NotFound(0, pfx("10.0.0.1/24"))));
    }

    #[test]
    fn token_bucket_limits_and_refills() {
        let i = Interfaces::new();
        i.set_icmp_limit(IcmpLimit { rate: 0, burst: 3 });
        assert_eq!((0..10).filter(|_| i.icmp_allow()).count(), 3);
        i.set_icmp_limit(IcmpLimit { rate: 0, burst: 5 });
        assert_eq!(i.icmp_take(3), 3);
        assert_eq!(i.icmp_take(3), 2, "what is left");
        i.icmp_give_back(1);
        assert_eq!(i.icmp_take(3), 1, "what was given back");
        i.set_icmp_limit(IcmpLimit { rate: 1_000_000, burst: 2 });
        assert!(i.icmp_allow() && i.icmp_allow());
        std::thread::sleep(Duration::from_millis(2));
        assert!(i.icmp_allow(), "refilled");
    }

    #[test]
    #[cfg_attr(miri, ignore = "a FIB is 64 MiB of table")]
    fn gateways_need_a_connected_subnet() {
        let l3 = L3::default();
        l3.ifaces.set_port(0, [2, 0, 0, 0, 0, 1], 1500).unwrap();
        assert_eq!(l3.gateway("10.0.0.2".parse().unwrap()), Err(L3Error::NotOnLink("10.0.0.2".parse().unwrap())));
        assert!(matches!(l3.gateway("2001:db8::9".parse().unwrap()), Err(L3Error::NotOnLink(_))));
        l3.addr_add(0, pfx("10.0.0.1/24")).unwrap();
        let nh = l3.gateway("10.0.0.2".parse().unwrap()).unwrap();
        assert!(nh >= DYN_BASE);
        assert_eq!(l3.gateway("10.0.0.2".parse().unwrap()), Ok(nh), "one entry per gateway");
        assert!(l3.gateway("10.0.0.1".parse().unwrap()).is_err(), "our own address");
        let list = l3.neigh.list();
        assert_eq!(list.len(), 1);
        assert_eq!((list[0].state, list[0].gateway), (NeighState::Incomplete, true));
    }
}
