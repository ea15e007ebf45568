//! Wire formats: Ethernet, VLAN, IPv4, IPv6, ARP, ICMPv4, UDP. Checked
//! zero-copy views in the style of smoltcp ([`view`]: `EthernetFrame`,
//! `VlanTag`, `Ipv4Packet`, `ArpPacket`, `Icmpv4Packet`, `UdpPacket`), which the nodes parse with; checksum
//! helpers; and the frame builders used by the generator and the tests.

pub mod view;

pub use view::{
    icmp6_checksum, ArpPacket, EthernetFrame, Icmpv4Packet, Ipv4Packet, Ipv6Packet, NdMessage, UdpPacket, VlanTag,
    WireError,
};

/// Ethernet header length.
pub const ETH_HLEN: usize = 14;
/// VLAN tag length.
pub const VLAN_HLEN: usize = 4;
/// Minimal IPv4 header length.
pub const IPV4_HLEN: usize = 20;
/// IPv6 header length.
pub const IPV6_HLEN: usize = 40;
/// UDP header length.
pub const UDP_HLEN: usize = 8;

/// EtherTypes.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// 802.1Q VLAN.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad QinQ.
    pub const QINQ: u16 = 0x88a8;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
}

/// Byte ranges of the Ethernet header.
pub mod eth {
    use core::ops::Range;
    /// Destination MAC.
    pub const DST: Range<usize> = 0..6;
    /// Source MAC.
    pub const SRC: Range<usize> = 6..12;
    /// EtherType.
    pub const TYPE: Range<usize> = 12..14;
}

/// Byte offsets inside an IPv4 header.
pub mod ipv4 {
    /// Version and IHL.
    pub const VER_IHL: usize = 0;
    /// Total length (2 bytes).
    pub const TOTAL_LEN: usize = 2;
    /// Identification (2 bytes).
    pub const IDENT: usize = 4;
    /// Flags and fragment offset (2 bytes).
    pub const FRAG: usize = 6;
    /// TTL.
    pub const TTL: usize = 8;
    /// Protocol.
    pub const PROTO: usize = 9;
    /// Header checksum (2 bytes).
    pub const CSUM: usize = 10;
    /// Source address (4 bytes).
    pub const SRC: usize = 12;
    /// Destination address (4 bytes).
    pub const DST: usize = 16;
}

/// RFC 1624 eqn. 3: the checksum after one 16-bit word of the header
/// changes from `old` to `new`: `HC' = ~(~HC + ~m + m')`.
#[inline(always)]
pub fn cksum_update(hc: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!hc) + u32::from(!old) + u32::from(new);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

/// [`cksum_update`] for a TTL decrement, on the checksum as it sits in
/// memory read in little-endian order (one's-complement sums do not depend
/// on byte order, RFC 1071 §2(B)): the TTL is that word's low byte there,
/// so `~m + m'` is the constant 0xfffe whatever the TTL and protocol, and
/// one add and one fold suffice, with no byte swap.
#[inline(always)]
pub fn cksum_ttl_dec_le(hc_le: u16) -> u16 {
    let sum = u32::from(!hc_le) + 0xfffe;
    !((sum & 0xffff) + (sum >> 16)) as u16
}

/// Reads a big-endian u16 at `at` (caller checked the length).
#[inline(always)]
pub fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads a big-endian u32 at `at` (caller checked the length).
#[inline(always)]
pub fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The Internet checksum (RFC 1071) of `data`, folded and complemented.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Finishes the TCP or UDP checksum of an Ethernet frame whose sender
/// left it to the NIC (Linux's `CHECKSUM_PARTIAL`: the field holds the
/// pseudo-header's sum, and the checksum over the segment from the L4
/// header on, complemented, goes into the field). IPv4 without fragments,
/// or IPv6 without extension headers, after one optional VLAN tag.
/// Whether it found a segment to finish.
pub fn finish_l4_checksum(f: &mut [u8]) -> bool {
    let mut l3 = ETH_HLEN;
    let mut et = if f.len() >= ETH_HLEN { be16(f, 12) } else { return false };
    if et == ethertype::VLAN && f.len() >= ETH_HLEN + VLAN_HLEN {
        et = be16(f, 16);
        l3 += VLAN_HLEN;
    }
    let (l4, end, proto) = match et {
        ethertype::IPV4 => {
            let Ok(ip) = Ipv4Packet::new_checked(&f[l3..]) else { return false };
            if ip.more_frags() || ip.frag_offset() != 0 {
                return false;
            }
            (l3 + ip.header_len(), l3 + usize::from(ip.total_len()), ip.protocol())
        }
        ethertype::IPV6 if f.len() >= l3 + IPV6_HLEN => {
            (l3 + IPV6_HLEN, l3 + IPV6_HLEN + usize::from(be16(f, l3 + 4)), f[l3 + 6])
        }
        _ => return false,
    };
    let at = match proto {
        6 => 16,
        17 => 6,
        _ => return false,
    };
    if end > f.len() || l4 + at + 2 > end {
        return false;
    }
    let c = checksum(&f[l4..end]);
    let c = if proto == 17 && c == 0 { 0xffff } else { c };
    f[l4 + at..l4 + at + 2].copy_from_slice(&c.to_be_bytes());
    true
}

/// Fills in the checksum of the IPv4 header `hdr` (its whole length).
pub fn ipv4_set_checksum(hdr: &mut [u8]) {
    hdr[ipv4::CSUM] = 0;
    hdr[ipv4::CSUM + 1] = 0;
    let c = checksum(hdr);
    hdr[ipv4::CSUM..ipv4::CSUM + 2].copy_from_slice(&c.to_be_bytes());
}

/// An IPv4 prefix `a.b.c.d/len` (`/32` when the length is left out): the
/// one parser for routes in config files, on the control socket and in
/// port parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Prefix {
    /// Network address, host order.
    pub addr: u32,
    /// Prefix length, 0..=32.
    pub len: u8,
}

/// Why a string is not an IPv4 prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// The address part does not parse.
    #[error("\"{0}\" is not an IPv4 address")]
    Addr(String),
    /// The length part is not a number in 0..=32.
    #[error("\"{0}\" is not a prefix length 0..=32")]
    Len(String),
    /// The address part does not parse as IPv6.
    #[error("\"{0}\" is not an IPv6 address")]
    Addr6(String),
    /// The length part is not a number in 0..=128.
    #[error("\"{0}\" is not a prefix length 0..=128")]
    Len6(String),
}

impl Ipv4Prefix {
    /// The address as `Ipv4Addr`.
    pub fn ip(&self) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::from(self.addr)
    }

    /// The netmask of the prefix length (0 for /0).
    pub fn mask(&self) -> u32 {
        if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.len))
        }
    }

    /// The network: the address with its host bits cleared.
    pub fn network(&self) -> u32 {
        self.addr & self.mask()
    }
}

impl std::str::FromStr for Ipv4Prefix {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Self, PrefixError> {
        let (a, l) = s.split_once('/').unwrap_or((s, "32"));
        let addr: std::net::Ipv4Addr = a.parse().map_err(|_| PrefixError::Addr(a.to_string()))?;
        let len: u8 = l.parse().ok().filter(|l| *l <= 32).ok_or_else(|| PrefixError::Len(l.to_string()))?;
        Ok(Ipv4Prefix { addr: u32::from(addr), len })
    }
}

impl std::fmt::Display for Ipv4Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ip(), self.len)
    }
}

/// An IPv6 prefix `a:b::/len` (`/128` when the length is left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Prefix {
    /// The address.
    pub addr: u128,
    /// Prefix length, 0..=128.
    pub len: u8,
}

impl Ipv6Prefix {
    /// The address as `Ipv6Addr`.
    pub fn ip(&self) -> std::net::Ipv6Addr {
        std::net::Ipv6Addr::from(self.addr)
    }

    /// The netmask of the prefix length.
    pub fn mask(&self) -> u128 {
        crate::lpm6::mask(self.len)
    }

    /// The network: the address with its host bits cleared.
    pub fn network(&self) -> u128 {
        self.addr & self.mask()
    }
}

impl std::str::FromStr for Ipv6Prefix {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Self, PrefixError> {
        let (a, l) = s.split_once('/').unwrap_or((s, "128"));
        let addr: std::net::Ipv6Addr = a.parse().map_err(|_| PrefixError::Addr6(a.to_string()))?;
        let len: u8 = l.parse().ok().filter(|l| *l <= 128).ok_or_else(|| PrefixError::Len6(l.to_string()))?;
        Ok(Ipv6Prefix { addr: u128::from(addr), len })
    }
}

impl std::fmt::Display for Ipv6Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ip(), self.len)
    }
}

/// The solicited-node multicast address of `a` (RFC 4291 §2.7.1).
pub fn solicited_node(a: u128) -> u128 {
    0xff02_0000_0000_0000_0000_0001_ff00_0000 | (a & 0xff_ffff)
}

/// The Ethernet address of IPv6 multicast address `a` (RFC 2464 §7).
pub fn multicast_mac6(a: u128) -> [u8; 6] {
    let b = (a as u32).to_be_bytes();
    [0x33, 0x33, b[0], b[1], b[2], b[3]]
}

/// A MAC address in the usual text form.
pub fn mac_to_string(m: &[u8; 6]) -> String {
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut m = [0u8; 6];
    let mut parts = s.split(':');
    for b in m.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(m)
}

/// Description of an Ethernet/IPv4/UDP frame to build.
#[derive(Debug, Clone)]
pub struct Udp4 {
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// One VLAN tag to insert, if any.
    pub vlan: Option<u16>,
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
    /// TTL.
    pub ttl: u8,
    /// IP options (a multiple of 4 bytes, at most 40).
    pub options: Vec<u8>,
    /// UDP source port.
    pub sport: u16,
    /// UDP destination port.
    pub dport: u16,
    /// Frame length without FCS (at least the headers; padded with a
    /// payload pattern).
    pub frame_len: usize,
}

impl Default for Udp4 {
    fn default() -> Self {
        Udp4 {
            dst_mac: [2, 0, 0, 0, 0, 0],
            src_mac: [2, 0, 0, 0, 0xff, 0xff],
            vlan: None,
            src: [198, 19, 0, 1],
            dst: [198, 18, 0, 1],
            ttl: 64,
            options: Vec::new(),
            sport: 1024,
            dport: 1024,
            frame_len: 60,
        }
    }
}

impl Udp4 {
    /// Builds the frame: valid IPv4 checksum, UDP checksum 0 (none), payload
    /// bytes `i as u8` from the start of the frame.
    pub fn build(&self) -> Vec<u8> {
        let l2 = ETH_HLEN + if self.vlan.is_some() { VLAN_HLEN } else { 0 };
        let ihl = IPV4_HLEN + self.options.len();
        let min = l2 + ihl + UDP_HLEN;
        let len = self.frame_len.max(min);
        let mut f: Vec<u8> = (0..len).map(|i| i as u8).collect();
        f[eth::DST].copy_from_slice(&self.dst_mac);
        f[eth::SRC].copy_from_slice(&self.src_mac);
        match self.vlan {
            Some(tci) => {
                f[12..14].copy_from_slice(&ethertype::VLAN.to_be_bytes());
                f[14..16].copy_from_slice(&tci.to_be_bytes());
                f[16..18].copy_from_slice(&ethertype::IPV4.to_be_bytes());
            }
            None => f[12..14].copy_from_slice(&ethertype::IPV4.to_be_bytes()),
        }
        let ip_len = len - l2;
        let h = &mut f[l2..];
        h[0] = 0x40 | (ihl / 4) as u8;
        h[1] = 0;
        h[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        h[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
        h[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF
        h[ipv4::TTL] = self.ttl;
        h[ipv4::PROTO] = 17;
        h[ipv4::SRC..ipv4::SRC + 4].copy_from_slice(&self.src);
        h[ipv4::DST..ipv4::DST + 4].copy_from_slice(&self.dst);
        h[IPV4_HLEN..ihl].copy_from_slice(&self.options);
        ipv4_set_checksum(&mut h[..ihl]);
        let u = &mut h[ihl..];
        u[0..2].copy_from_slice(&self.sport.to_be_bytes());
        u[2..4].copy_from_slice(&self.dport.to_be_bytes());
        u[4..6].copy_from_slice(&((ip_len - ihl) as u16).to_be_bytes());
        u[6..8].copy_from_slice(&[0, 0]);
        f
    }
}

/// An Ethernet/IPv6 frame: `src` → `dst`, next header `nh`, hop limit
/// `hops`, carrying `payload`.
pub fn build_ip6(macs: ([u8; 6], [u8; 6]), src: u128, dst: u128, nh: u8, hops: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; ETH_HLEN + IPV6_HLEN + payload.len()];
    f[eth::DST].copy_from_slice(&macs.1);
    f[eth::SRC].copy_from_slice(&macs.0);
    f[12..14].copy_from_slice(&ethertype::IPV6.to_be_bytes());
    let mut ip = Ipv6Packet::new_for_fill(&mut f[ETH_HLEN..]).expect("40 bytes");
    ip.set_version_class_flow(0, 0);
    ip.set_payload_len(payload.len() as u16);
    ip.set_next_header(nh);
    ip.set_hop_limit(hops);
    ip.set_src_addr(src);
    ip.set_dst_addr(dst);
    f[ETH_HLEN + IPV6_HLEN..].copy_from_slice(payload);
    f
}

/// An ICMPv6 message of `type_code` with `rest` and `data_len` data bytes,
/// its checksum for `src` → `dst` filled in.
pub fn icmp6_message(src: u128, dst: u128, type_code: (u8, u8), rest: u32, data_len: usize) -> Vec<u8> {
    let mut m = vec![0u8; 8 + data_len];
    m[0] = type_code.0;
    m[1] = type_code.1;
    m[4..8].copy_from_slice(&rest.to_be_bytes());
    for (i, b) in m[8..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let c = icmp6_checksum(src, dst, &m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// An Ethernet/IPv6/UDP frame of `frame_len` bytes to `dst`.
pub fn build_udp6(src_mac: [u8; 6], dst_mac: [u8; 6], dst: [u8; 16], frame_len: usize) -> Vec<u8> {
    let len = frame_len.max(ETH_HLEN + IPV6_HLEN + UDP_HLEN);
    let mut f: Vec<u8> = (0..len).map(|i| i as u8).collect();
    f[eth::DST].copy_from_slice(&dst_mac);
    f[eth::SRC].copy_from_slice(&src_mac);
    f[12..14].copy_from_slice(&ethertype::IPV6.to_be_bytes());
    let h = &mut f[ETH_HLEN..];
    h[0..4].copy_from_slice(&[0x60, 0, 0, 0]);
    h[4..6].copy_from_slice(&((len - ETH_HLEN - IPV6_HLEN) as u16).to_be_bytes());
    h[6] = 17;
    h[7] = 64;
    h[8..24].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    h[24..40].copy_from_slice(&dst);
    f
}

/// An ARP request from `src_mac`/`src_ip` for `target_ip`.
pub fn build_arp(src_mac: [u8; 6], src_ip: [u8; 4], target_ip: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[eth::DST].copy_from_slice(&[0xff; 6]);
    f[eth::SRC].copy_from_slice(&src_mac);
    f[12..14].copy_from_slice(&ethertype::ARP.to_be_bytes());
    let a = &mut f[ETH_HLEN..];
    a[0..8].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    a[8..14].copy_from_slice(&src_mac);
    a[14..18].copy_from_slice(&src_ip);
    a[24..28].copy_from_slice(&target_ip);
    f
}

/// An ARP reply from `src_mac`/`src_ip` to `dst_mac`/`dst_ip`.
pub fn build_arp_reply(src_mac: [u8; 6], src_ip: [u8; 4], dst_mac: [u8; 6], dst_ip: [u8; 4]) -> Vec<u8> {
    let mut f = build_arp(src_mac, src_ip, dst_ip);
    f[eth::DST].copy_from_slice(&dst_mac);
    f[ETH_HLEN + 7] = 2;
    f[ETH_HLEN + 18..ETH_HLEN + 24].copy_from_slice(&dst_mac);
    f
}

/// An Ethernet/IPv4/ICMP echo request (`type_` 8) or any other ICMP
/// message with `data_len` bytes of data after the 8-byte header; valid
/// checksums, DF clear.
pub fn build_icmp4(
    macs: ([u8; 6], [u8; 6]),
    src: [u8; 4],
    dst: [u8; 4],
    ttl: u8,
    type_code: (u8, u8),
    rest: u32,
    data_len: usize,
) -> Vec<u8> {
    let ip_len = IPV4_HLEN + 8 + data_len;
    let mut f = vec![0u8; ETH_HLEN + ip_len];
    f[eth::DST].copy_from_slice(&macs.1);
    f[eth::SRC].copy_from_slice(&macs.0);
    f[12..14].copy_from_slice(&ethertype::IPV4.to_be_bytes());
    let h = &mut f[ETH_HLEN..];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
    h[4..6].copy_from_slice(&0x4321u16.to_be_bytes());
    h[ipv4::TTL] = ttl;
    h[ipv4::PROTO] = 1;
    h[ipv4::SRC..ipv4::SRC + 4].copy_from_slice(&src);
    h[ipv4::DST..ipv4::DST + 4].copy_from_slice(&dst);
    ipv4_set_checksum(&mut h[..IPV4_HLEN]);
    let m = &mut h[IPV4_HLEN..];
    m[0] = type_code.0;
    m[1] = type_code.1;
    m[4..8].copy_from_slice(&rest.to_be_bytes());
    for (i, b) in m[8..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let c = checksum(m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_golden() {
        // RFC 1071's example bytes.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&d), !0xddf2);
        // A header with a valid checksum sums to zero.
        let f = Udp4::default().build();
        assert_eq!(checksum(&f[14..34]), 0);
        assert_eq!(f.len(), 60);
        assert_eq!(be16(&f, 12), ethertype::IPV4);
        assert_eq!(f[14 + ipv4::TTL], 64);
        let odd = [0xab];
        assert_eq!(checksum(&odd), !0xab00);
    }

    #[test]
    fn builders() {
        let v = Udp4 { vlan: Some(5), options: vec![1, 1, 1, 0], frame_len: 100, ..Udp4::default() }.build();
        assert_eq!(be16(&v, 12), ethertype::VLAN);
        assert_eq!(be16(&v, 16), ethertype::IPV4);
        assert_eq!(v[18], 0x46);
        assert_eq!(checksum(&v[18..42]), 0);
        assert_eq!(be16(&v, 18 + 2) as usize, 100 - 18);
        let a = build_arp([2; 6], [1, 2, 3, 4], [5, 6, 7, 8]);
        assert_eq!(be16(&a, 12), ethertype::ARP);
        let s = build_udp6([2; 6], [4; 6], [0xfe; 16], 80);
        assert_eq!(be16(&s, 12), ethertype::IPV6);
        assert_eq!(parse_mac("02:00:00:00:00:0a"), Some([2, 0, 0, 0, 0, 10]));
        assert_eq!(parse_mac("02:00:00:00:00"), None);
        assert_eq!(parse_mac("02:00:00:00:00:0a:1"), None);
        assert_eq!(parse_mac("zz:00:00:00:00:00"), None);
        let p: Ipv4Prefix = "10.1.0.0/16".parse().unwrap();
        assert_eq!((p.addr, p.len, p.to_string()), (0x0a01_0000, 16, "10.1.0.0/16".to_string()));
        assert_eq!("192.0.2.1".parse::<Ipv4Prefix>().unwrap().len, 32);
        assert_eq!(
            "300.0.0.0/8".parse::<Ipv4Prefix>().unwrap_err().to_string(),
            "\"300.0.0.0\" is not an IPv4 address"
        );
        assert_eq!("10.0.0.0/33".parse::<Ipv4Prefix>().unwrap_err(), PrefixError::Len("33".into()));
        assert!("10.0.0.0/x".parse::<Ipv4Prefix>().is_err());
        assert_eq!(mac_to_string(&[2, 0, 0, 0, 0, 10]), "02:00:00:00:00:0a");
    }

    /// A UDP segment whose checksum field holds only the pseudo-header's
    /// sum (as Linux hands it to a NIC) comes out with the checksum a full
    /// computation over pseudo-header and segment gives.
    #[test]
    fn partial_checksums_are_finished() {
        let mut f = Udp4 { frame_len: 71, ..Udp4::default() }.build();
        let (l4, len) = (34, f.len() - 34);
        let pseudo = |f: &[u8]| {
            let mut p = Vec::new();
            p.extend_from_slice(&f[26..34]);
            p.extend_from_slice(&[0, 17]);
            p.extend_from_slice(&(len as u16).to_be_bytes());
            p
        };
        // The full checksum, computed the long way.
        let mut whole = pseudo(&f);
        whole.extend_from_slice(&f[l4..]);
        let want = checksum(&whole);
        // The partial form: ~checksum(pseudo) in the field.
        let partial = !checksum(&pseudo(&f));
        f[l4 + 6..l4 + 8].copy_from_slice(&partial.to_be_bytes());
        assert!(finish_l4_checksum(&mut f));
        assert_eq!(be16(&f, l4 + 6), want);
        let mut all = pseudo(&f);
        all.extend_from_slice(&f[l4..]);
        assert_eq!(checksum(&all), 0, "the receiver's check passes");
        assert!(!finish_l4_checksum(&mut build_arp([2; 6], [1; 4], [2; 4])));
        assert!(!finish_l4_checksum(&mut f[..20]));
    }
}
