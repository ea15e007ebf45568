//! Checked zero-copy views of headers, in the style of smoltcp: a view
//! wraps a byte buffer (`&[u8]`, `&mut [u8]`, or anything `AsRef<[u8]>`),
//! `new_checked` validates the lengths (and for IPv4 the fields that make a
//! header usable) once and returns the reason when it cannot, and getters
//! and setters then read and write fields by name at fixed offsets. Nothing
//! is copied: a view compiles to the loads and stores of hand-written
//! indexing, with the bounds checks folded into the constructor's.

use core::fmt;

use super::{ETH_HLEN, IPV4_HLEN, UDP_HLEN, VLAN_HLEN};

/// Why a buffer is not a valid header of the kind asked for. Each variant
/// is a drop reason of the node that parses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Shorter than the fixed header.
    Truncated,
    /// IPv4: version field is not 4.
    BadVersion,
    /// IPv4: IHL below 5 words.
    BadIhl,
    /// IPv4: the header (IHL) extends past the buffer.
    HdrTruncated,
    /// IPv4: total length below the header length or past the buffer.
    BadTotalLen,
    /// ARP: not Ethernet/IPv4 (hardware or protocol type or lengths), or
    /// an operation other than request and reply.
    Unsupported,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireError::Truncated => "shorter than the header",
            WireError::BadVersion => "IP version is not 4",
            WireError::BadIhl => "IHL below 5",
            WireError::HdrTruncated => "header longer than the packet",
            WireError::BadTotalLen => "total length inconsistent with the packet",
            WireError::Unsupported => "not a kind this parser handles",
        })
    }
}

impl std::error::Error for WireError {}

#[inline(always)]
fn rd16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline(always)]
fn rd32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline(always)]
fn wr16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline(always)]
fn mac(b: &[u8], at: usize) -> [u8; 6] {
    [b[at], b[at + 1], b[at + 2], b[at + 3], b[at + 4], b[at + 5]]
}

/// An Ethernet II frame (no FCS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetFrame<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Field offsets.
    const DST: usize = 0;
    const SRC: usize = 6;
    const TYPE: usize = 12;

    /// The frame, if `buffer` holds at least the 14-byte header.
    #[inline(always)]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < ETH_HLEN {
            return Err(WireError::Truncated);
        }
        Ok(EthernetFrame { buffer })
    }

    /// The buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC.
    #[inline(always)]
    pub fn dst_addr(&self) -> [u8; 6] {
        mac(self.buffer.as_ref(), Self::DST)
    }

    /// Source MAC.
    #[inline(always)]
    pub fn src_addr(&self) -> [u8; 6] {
        mac(self.buffer.as_ref(), Self::SRC)
    }

    /// Whether the destination is a group (multicast or broadcast) address.
    #[inline(always)]
    pub fn dst_is_group(&self) -> bool {
        self.buffer.as_ref()[Self::DST] & 1 != 0
    }

    /// EtherType (or, after a VLAN tag, the TPID).
    #[inline(always)]
    pub fn ethertype(&self) -> u16 {
        rd16(self.buffer.as_ref(), Self::TYPE)
    }

    /// What follows the header.
    #[inline(always)]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[ETH_HLEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination MAC.
    #[inline(always)]
    pub fn set_dst_addr(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[Self::DST..Self::DST + 6].copy_from_slice(&a);
    }

    /// Sets the source MAC.
    #[inline(always)]
    pub fn set_src_addr(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[Self::SRC..Self::SRC + 6].copy_from_slice(&a);
    }

    /// Both addresses at once, destination then source (12 bytes, one
    /// store where the target allows it).
    #[inline(always)]
    pub fn set_addrs(&mut self, dst_src: &[u8; 12]) {
        self.buffer.as_mut()[..12].copy_from_slice(dst_src);
    }

    /// Sets the EtherType.
    #[inline(always)]
    pub fn set_ethertype(&mut self, t: u16) {
        wr16(self.buffer.as_mut(), Self::TYPE, t);
    }

    /// What follows the header, writable.
    #[inline(always)]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[ETH_HLEN..]
    }
}

/// An 802.1Q tag as it follows the Ethernet addresses' TPID: TCI, then the
/// inner EtherType.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanTag<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanTag<T> {
    /// The tag, if `buffer` holds its 4 bytes.
    #[inline(always)]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < VLAN_HLEN {
            return Err(WireError::Truncated);
        }
        Ok(VlanTag { buffer })
    }

    /// Tag control information (PCP, DEI, VID).
    #[inline(always)]
    pub fn tci(&self) -> u16 {
        rd16(self.buffer.as_ref(), 0)
    }

    /// VLAN id (the low 12 bits of the TCI).
    #[inline(always)]
    pub fn vid(&self) -> u16 {
        self.tci() & 0x0fff
    }

    /// The EtherType of what the tag carries.
    #[inline(always)]
    pub fn inner_ethertype(&self) -> u16 {
        rd16(self.buffer.as_ref(), 2)
    }
}

/// Whether `sum`, the plain sum of a header's 32-bit words read in either
/// byte order, is that of a header whose one's-complement sum is all ones:
/// a non-zero multiple of 0xffff (2^16 = 1 modulo 0xffff, and the byte
/// order only multiplies the remainder by 2^8, which 0xffff is prime to).
#[inline(always)]
pub fn ones_sum_is_all_ones(sum: u64) -> bool {
    sum != 0 && sum.is_multiple_of(0xffff)
}

/// An IPv4 packet: the header (options included) and what follows, up to
/// the end of the buffer (link padding may follow `total_len`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T> {
    buffer: T,
}

use super::ipv4 as ip4f;

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// The packet, if `buffer` holds a usable IPv4 header (RFC 1812
    /// §5.2.2 (1), (3)-(6)): at least 20 bytes, version 4, IHL of at least
    /// 5 words and inside the buffer, total length covering the header and
    /// inside the buffer. The checksum is not verified
    /// ([`verify_checksum`](Self::verify_checksum)).
    #[inline(always)]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < IPV4_HLEN {
            return Err(WireError::Truncated);
        }
        let vihl = b[ip4f::VER_IHL];
        if vihl >> 4 != 4 {
            return Err(WireError::BadVersion);
        }
        let hl = usize::from(vihl & 0x0f) * 4;
        if hl < IPV4_HLEN {
            return Err(WireError::BadIhl);
        }
        if hl > b.len() {
            return Err(WireError::HdrTruncated);
        }
        let total = usize::from(rd16(b, ip4f::TOTAL_LEN));
        if total < hl || total > b.len() {
            return Err(WireError::BadTotalLen);
        }
        Ok(Ipv4Packet { buffer })
    }

    /// A view that checks only the 20-byte minimal header's presence (for
    /// building a header in place, or a node that trusts an earlier one's
    /// checks).
    #[inline(always)]
    pub fn new_minimal(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < IPV4_HLEN {
            return Err(WireError::Truncated);
        }
        Ok(Ipv4Packet { buffer })
    }

    /// The buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version (4).
    #[inline(always)]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[ip4f::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4).
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[ip4f::VER_IHL] & 0x0f) * 4
    }

    /// Total length.
    #[inline(always)]
    pub fn total_len(&self) -> u16 {
        rd16(self.buffer.as_ref(), ip4f::TOTAL_LEN)
    }

    /// Identification.
    #[inline(always)]
    pub fn ident(&self) -> u16 {
        rd16(self.buffer.as_ref(), ip4f::IDENT)
    }

    /// Don't-fragment flag.
    #[inline(always)]
    pub fn dont_frag(&self) -> bool {
        rd16(self.buffer.as_ref(), ip4f::FRAG) & 0x4000 != 0
    }

    /// More-fragments flag.
    #[inline(always)]
    pub fn more_frags(&self) -> bool {
        rd16(self.buffer.as_ref(), ip4f::FRAG) & 0x2000 != 0
    }

    /// Fragment offset in bytes.
    #[inline(always)]
    pub fn frag_offset(&self) -> u16 {
        (rd16(self.buffer.as_ref(), ip4f::FRAG) & 0x1fff) * 8
    }

    /// Time to live.
    #[inline(always)]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[ip4f::TTL]
    }

    /// Protocol.
    #[inline(always)]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[ip4f::PROTO]
    }

    /// Header checksum.
    #[inline(always)]
    pub fn checksum(&self) -> u16 {
        rd16(self.buffer.as_ref(), ip4f::CSUM)
    }

    /// The checksum field as it sits in memory read little-endian (the form
    /// [`cksum_ttl_dec_le`](super::cksum_ttl_dec_le) updates without a
    /// byte swap).
    #[inline(always)]
    pub fn checksum_le(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_le_bytes([b[ip4f::CSUM], b[ip4f::CSUM + 1]])
    }

    /// Source address, as a host-order integer.
    #[inline(always)]
    pub fn src_addr(&self) -> u32 {
        rd32(self.buffer.as_ref(), ip4f::SRC)
    }

    /// Destination address, as a host-order integer.
    #[inline(always)]
    pub fn dst_addr(&self) -> u32 {
        rd32(self.buffer.as_ref(), ip4f::DST)
    }

    /// Whether the header's one's-complement sum is all ones (RFC 1071; the
    /// header length as IHL says, which `new_checked` bounded).
    #[inline(always)]
    pub fn verify_checksum(&self) -> bool {
        let h = &self.buffer.as_ref()[..self.header_len()];
        // IHL counts whole 32-bit words, so nothing remains.
        let (words, _) = h.as_chunks::<4>();
        ones_sum_is_all_ones(words.iter().map(|w| u64::from(u32::from_ne_bytes(*w))).sum())
    }

    /// The header, options included.
    #[inline(always)]
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.header_len()]
    }

    /// What follows the header, up to `total_len`.
    #[inline(always)]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets version 4 and the header length (a multiple of 4, 20..=60).
    #[inline(always)]
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.buffer.as_mut()[ip4f::VER_IHL] = 0x40 | (header_len / 4) as u8;
    }

    /// Sets the type-of-service byte (DSCP and ECN).
    #[inline(always)]
    pub fn set_tos(&mut self, v: u8) {
        self.buffer.as_mut()[1] = v;
    }

    /// Sets the total length.
    #[inline(always)]
    pub fn set_total_len(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), ip4f::TOTAL_LEN, v);
    }

    /// Sets the identification.
    #[inline(always)]
    pub fn set_ident(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), ip4f::IDENT, v);
    }

    /// Sets the flags and fragment offset word.
    #[inline(always)]
    pub fn set_frag_word(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), ip4f::FRAG, v);
    }

    /// Sets the TTL.
    #[inline(always)]
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[ip4f::TTL] = v;
    }

    /// Sets the protocol.
    #[inline(always)]
    pub fn set_protocol(&mut self, v: u8) {
        self.buffer.as_mut()[ip4f::PROTO] = v;
    }

    /// Sets the checksum field.
    #[inline(always)]
    pub fn set_checksum(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), ip4f::CSUM, v);
    }

    /// Sets the checksum field from its little-endian in-memory form (see
    /// [`checksum_le`](Self::checksum_le)).
    #[inline(always)]
    pub fn set_checksum_le(&mut self, v: u16) {
        self.buffer.as_mut()[ip4f::CSUM..ip4f::CSUM + 2].copy_from_slice(&v.to_le_bytes());
    }

    /// Sets the source address.
    #[inline(always)]
    pub fn set_src_addr(&mut self, a: u32) {
        self.buffer.as_mut()[ip4f::SRC..ip4f::SRC + 4].copy_from_slice(&a.to_be_bytes());
    }

    /// Sets the destination address.
    #[inline(always)]
    pub fn set_dst_addr(&mut self, a: u32) {
        self.buffer.as_mut()[ip4f::DST..ip4f::DST + 4].copy_from_slice(&a.to_be_bytes());
    }

    /// Recomputes the checksum over the header (IHL as set).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len().min(self.buffer.as_ref().len());
        let c = super::checksum(&self.buffer.as_ref()[..hl]);
        self.set_checksum(c);
    }

    /// Decrements the TTL and updates the checksum incrementally (RFC
    /// 1624), as a router does. The caller checked that the TTL is above 1.
    #[inline(always)]
    pub fn decrement_ttl(&mut self) {
        let ttl = self.ttl();
        let c = super::cksum_ttl_dec_le(self.checksum_le());
        self.set_ttl(ttl.wrapping_sub(1));
        self.set_checksum_le(c);
    }
}

/// A UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpPacket<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// The datagram, if `buffer` holds the 8-byte header.
    #[inline(always)]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < UDP_HLEN {
            return Err(WireError::Truncated);
        }
        Ok(UdpPacket { buffer })
    }

    /// Source port.
    #[inline(always)]
    pub fn src_port(&self) -> u16 {
        rd16(self.buffer.as_ref(), 0)
    }

    /// Destination port.
    #[inline(always)]
    pub fn dst_port(&self) -> u16 {
        rd16(self.buffer.as_ref(), 2)
    }

    /// Length field (header and data).
    #[inline(always)]
    pub fn len(&self) -> u16 {
        rd16(self.buffer.as_ref(), 4)
    }

    /// Whether the length field says the datagram is only a header.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len() <= UDP_HLEN as u16
    }

    /// Checksum field (0: none).
    #[inline(always)]
    pub fn checksum(&self) -> u16 {
        rd16(self.buffer.as_ref(), 6)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Sets the source port.
    #[inline(always)]
    pub fn set_src_port(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), 0, v);
    }

    /// Sets the destination port.
    #[inline(always)]
    pub fn set_dst_port(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), 2, v);
    }

    /// Sets the length field.
    #[inline(always)]
    pub fn set_len(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), 4, v);
    }

    /// Sets the checksum field.
    #[inline(always)]
    pub fn set_checksum(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), 6, v);
    }
}

/// An ARP packet for IPv4 over Ethernet (RFC 826): the only kind a
/// router on Ethernet resolves with. `new_checked` refuses any other
/// hardware or protocol type, address lengths, or operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpPacket<T> {
    buffer: T,
}

/// ARP operations.
pub mod arp_op {
    /// Request.
    pub const REQUEST: u16 = 1;
    /// Reply.
    pub const REPLY: u16 = 2;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const ARP_LEN: usize = 28;

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// The packet, if `buffer` holds 28 bytes of Ethernet (1), IPv4
    /// (0x0800), lengths 6 and 4, and a request or a reply.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < ARP_LEN {
            return Err(WireError::Truncated);
        }
        if rd16(b, 0) != 1 || rd16(b, 2) != super::ethertype::IPV4 || b[4] != 6 || b[5] != 4 {
            return Err(WireError::Unsupported);
        }
        if !matches!(rd16(b, 6), arp_op::REQUEST | arp_op::REPLY) {
            return Err(WireError::Unsupported);
        }
        Ok(ArpPacket { buffer })
    }

    /// Operation ([`arp_op`]).
    #[inline]
    pub fn operation(&self) -> u16 {
        rd16(self.buffer.as_ref(), 6)
    }

    /// Sender hardware address.
    #[inline]
    pub fn sender_mac(&self) -> [u8; 6] {
        mac(self.buffer.as_ref(), 8)
    }

    /// Sender protocol address, host order.
    #[inline]
    pub fn sender_ip(&self) -> u32 {
        rd32(self.buffer.as_ref(), 14)
    }

    /// Target hardware address.
    #[inline]
    pub fn target_mac(&self) -> [u8; 6] {
        mac(self.buffer.as_ref(), 18)
    }

    /// Target protocol address, host order.
    #[inline]
    pub fn target_ip(&self) -> u32 {
        rd32(self.buffer.as_ref(), 24)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Writes a whole Ethernet/IPv4 ARP packet over the view's 28 bytes.
    pub fn fill(&mut self, op: u16, sender: ([u8; 6], u32), target: ([u8; 6], u32)) {
        let b = self.buffer.as_mut();
        b[..8].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 0]);
        wr16(b, 6, op);
        b[8..14].copy_from_slice(&sender.0);
        b[14..18].copy_from_slice(&sender.1.to_be_bytes());
        b[18..24].copy_from_slice(&target.0);
        b[24..28].copy_from_slice(&target.1.to_be_bytes());
    }

    /// A view over the first 28 bytes of `buffer` to write with
    /// [`fill`](Self::fill), whatever they hold now.
    pub fn new_for_fill(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < ARP_LEN {
            return Err(WireError::Truncated);
        }
        Ok(ArpPacket { buffer })
    }
}

/// ICMPv4 message types the router sends or answers (RFC 792).
pub mod icmp4 {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const UNREACHABLE: u8 = 3;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 12;
    /// Whether `t` is an error message (RFC 1812 §4.3.2.7: no error is
    /// sent about one): unreachable, source quench, redirect, time
    /// exceeded, parameter problem; and any type RFC 792 does not define.
    pub fn is_error(t: u8) -> bool {
        !matches!(t, 0 | 8 | 9 | 10 | 13..=18)
    }
}

/// ICMPv4 header length (type, code, checksum, 4 bytes of rest).
pub const ICMP4_HLEN: usize = 8;

/// An ICMPv4 message: the 8-byte header and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmpv4Packet<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// The message, if `buffer` holds the 8-byte header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < ICMP4_HLEN {
            return Err(WireError::Truncated);
        }
        Ok(Icmpv4Packet { buffer })
    }

    /// Type.
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// Code.
    #[inline]
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        rd16(self.buffer.as_ref(), 2)
    }

    /// The 4 bytes after the checksum (echo: identifier and sequence;
    /// fragmentation needed: the next-hop MTU in the low half).
    #[inline]
    pub fn rest(&self) -> u32 {
        rd32(self.buffer.as_ref(), 4)
    }

    /// Whether the checksum over the whole message is right.
    pub fn verify_checksum(&self) -> bool {
        super::checksum(self.buffer.as_ref()) == 0
    }

    /// What follows the header.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[ICMP4_HLEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    /// Sets type and code.
    #[inline]
    pub fn set_type_code(&mut self, t: u8, code: u8) {
        let b = self.buffer.as_mut();
        b[0] = t;
        b[1] = code;
    }

    /// Sets the 4 bytes after the checksum.
    #[inline]
    pub fn set_rest(&mut self, v: u32) {
        self.buffer.as_mut()[4..8].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), 2, v);
    }

    /// Computes the checksum over the whole message.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = super::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }
}

/// An IPv6 packet: the fixed 40-byte header and what follows up to the
/// end of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Packet<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// The packet, if `buffer` holds a 40-byte header of version 6 whose
    /// payload length fits the buffer (RFC 8200 §3).
    #[inline(always)]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < super::IPV6_HLEN {
            return Err(WireError::Truncated);
        }
        if b[0] >> 4 != 6 {
            return Err(WireError::BadVersion);
        }
        if usize::from(rd16(b, 4)) > b.len() - super::IPV6_HLEN {
            return Err(WireError::BadTotalLen);
        }
        Ok(Ipv6Packet { buffer })
    }

    /// Payload length (what follows the fixed header).
    #[inline(always)]
    pub fn payload_len(&self) -> u16 {
        rd16(self.buffer.as_ref(), 4)
    }

    /// Next header.
    #[inline(always)]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[6]
    }

    /// Hop limit.
    #[inline(always)]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[7]
    }

    /// Source address.
    #[inline(always)]
    pub fn src_addr(&self) -> u128 {
        rd128(self.buffer.as_ref(), 8)
    }

    /// Destination address.
    #[inline(always)]
    pub fn dst_addr(&self) -> u128 {
        rd128(self.buffer.as_ref(), 24)
    }

    /// The payload, up to the payload length.
    #[inline(always)]
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[super::IPV6_HLEN..super::IPV6_HLEN + usize::from(rd16(b, 4))]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// A view over the first 40 bytes of `buffer` to write a header into.
    pub fn new_for_fill(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < super::IPV6_HLEN {
            return Err(WireError::Truncated);
        }
        Ok(Ipv6Packet { buffer })
    }

    /// Writes version 6, traffic class and flow label.
    pub fn set_version_class_flow(&mut self, class: u8, flow: u32) {
        let w = 6u32 << 28 | u32::from(class) << 20 | (flow & 0xf_ffff);
        self.buffer.as_mut()[..4].copy_from_slice(&w.to_be_bytes());
    }

    /// Sets the payload length.
    #[inline(always)]
    pub fn set_payload_len(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), 4, v);
    }

    /// Sets the next header.
    #[inline(always)]
    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[6] = v;
    }

    /// Sets the hop limit.
    #[inline(always)]
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[7] = v;
    }

    /// Sets the source address.
    #[inline(always)]
    pub fn set_src_addr(&mut self, a: u128) {
        self.buffer.as_mut()[8..24].copy_from_slice(&a.to_be_bytes());
    }

    /// Sets the destination address.
    #[inline(always)]
    pub fn set_dst_addr(&mut self, a: u128) {
        self.buffer.as_mut()[24..40].copy_from_slice(&a.to_be_bytes());
    }

    /// The payload, writable.
    #[inline(always)]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let n = usize::from(self.payload_len());
        &mut self.buffer.as_mut()[super::IPV6_HLEN..super::IPV6_HLEN + n]
    }
}

#[inline(always)]
fn rd128(b: &[u8], at: usize) -> u128 {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    u128::from_be_bytes(a)
}

/// ICMPv6 message types the router sends or answers (RFC 4443, RFC 4861).
pub mod icmp6 {
    /// Destination unreachable.
    pub const UNREACHABLE: u8 = 1;
    /// Packet too big.
    pub const TOO_BIG: u8 = 2;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 4;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 129;
    /// Neighbour solicitation.
    pub const NS: u8 = 135;
    /// Neighbour advertisement.
    pub const NA: u8 = 136;
    /// Whether `t` is an error message (types below 128, RFC 4443 §2.1).
    pub fn is_error(t: u8) -> bool {
        t < 128
    }
}

/// The ICMPv6 checksum of `msg` (its checksum field included as it is)
/// from `src` to `dst` (RFC 4443 §2.3: over the IPv6 pseudo-header).
pub fn icmp6_checksum(src: u128, dst: u128, msg: &[u8]) -> u16 {
    let mut sum = 0u64;
    for a in [src, dst] {
        for i in 0..8 {
            sum += (a >> (112 - 16 * i)) as u16 as u64;
        }
    }
    sum += msg.len() as u64 + 58;
    let mut chunks = msg.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A neighbour solicitation or advertisement (RFC 4861 §4.3, §4.4): the
/// ICMPv6 message with its target and its link-layer address option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdMessage {
    /// 135 (solicitation) or 136 (advertisement).
    pub kind: u8,
    /// NA flags (router, solicited, override) in the top bits; 0 for NS.
    pub flags: u8,
    /// The address asked for or advertised.
    pub target: u128,
    /// The source (NS) or target (NA) link-layer address option, if any.
    pub lladdr: Option<[u8; 6]>,
}

/// NA flag: sent by a router.
pub const NA_ROUTER: u8 = 0x80;
/// NA flag: an answer to a solicitation.
pub const NA_SOLICITED: u8 = 0x40;
/// NA flag: override an existing cache entry.
pub const NA_OVERRIDE: u8 = 0x20;

impl NdMessage {
    /// Parses an ICMPv6 message `msg` as NS or NA: at least 24 bytes,
    /// code 0, options each of a non-zero length inside the message (RFC
    /// 4861 §7.1.1). Only the link-layer address option is read.
    pub fn parse(msg: &[u8]) -> Result<NdMessage, WireError> {
        if msg.len() < 24 {
            return Err(WireError::Truncated);
        }
        if !matches!(msg[0], icmp6::NS | icmp6::NA) || msg[1] != 0 {
            return Err(WireError::Unsupported);
        }
        let want = if msg[0] == icmp6::NS { 1 } else { 2 };
        let mut lladdr = None;
        let mut opts = &msg[24..];
        while !opts.is_empty() {
            if opts.len() < 2 || opts[1] == 0 || usize::from(opts[1]) * 8 > opts.len() {
                return Err(WireError::Unsupported);
            }
            let len = usize::from(opts[1]) * 8;
            if opts[0] == want && len == 8 {
                lladdr = Some(mac(opts, 2));
            }
            opts = &opts[len..];
        }
        Ok(NdMessage { kind: msg[0], flags: msg[4], target: rd128(msg, 8), lladdr })
    }

    /// Writes the message into `out` (32 bytes with the option, 24
    /// without), checksum for `src` → `dst`; its length.
    pub fn write(&self, out: &mut [u8], src: u128, dst: u128) -> usize {
        let n = if self.lladdr.is_some() { 32 } else { 24 };
        let m = &mut out[..n];
        m.fill(0);
        m[0] = self.kind;
        m[4] = self.flags;
        m[8..24].copy_from_slice(&self.target.to_be_bytes());
        if let Some(l) = self.lladdr {
            m[24] = if self.kind == icmp6::NS { 1 } else { 2 };
            m[25] = 1;
            m[26..32].copy_from_slice(&l);
        }
        let c = icmp6_checksum(src, dst, m);
        wr16(m, 2, c);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 60-byte Ethernet/IPv4/UDP frame, byte by byte: 02:00:00:00:00:00
    /// ← 02:00:00:00:ff:ff, IPv4 IHL 5, total 46, ident 0x1234, DF, TTL 64,
    /// UDP, checksum 0x9c63, 198.19.0.1 → 198.18.0.1, UDP 1024 → 1024,
    /// length 26.
    const GOLDEN: [u8; 60] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0xff, 0xff, 0x08, 0x00, // eth
        0x45, 0x00, 0x00, 0x2e, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x9c, 0x63, // ipv4
        0xc6, 0x13, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x01, // addrs
        0x04, 0x00, 0x04, 0x00, 0x00, 0x1a, 0x00, 0x00, // udp
        0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b,
    ];

    #[test]
    fn golden_frame_reads_field_by_field() {
        let eth = EthernetFrame::new_checked(&GOLDEN[..]).unwrap();
        assert_eq!(eth.dst_addr(), [2, 0, 0, 0, 0, 0]);
        assert_eq!(eth.src_addr(), [2, 0, 0, 0, 0xff, 0xff]);
        assert!(!eth.dst_is_group());
        assert_eq!(eth.ethertype(), 0x0800);
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert_eq!((ip.version(), ip.header_len(), ip.total_len()), (4, 20, 46));
        assert_eq!((ip.ident(), ip.dont_frag(), ip.more_frags(), ip.frag_offset()), (0x1234, true, false, 0));
        assert_eq!((ip.ttl(), ip.protocol(), ip.checksum()), (64, 17, 0x9c63));
        assert_eq!(ip.checksum_le(), 0x639c);
        assert_eq!(ip.src_addr(), 0xc613_0001);
        assert_eq!(ip.dst_addr(), 0xc612_0001);
        assert!(ip.verify_checksum());
        assert_eq!(ip.payload().len(), 26);
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!((udp.src_port(), udp.dst_port(), udp.len(), udp.checksum()), (1024, 1024, 26, 0));
        assert!(!udp.is_empty());
        // The builder makes exactly these bytes.
        assert_eq!(super::super::Udp4::default().build()[..42], GOLDEN[..42]);
    }

    #[test]
    fn golden_frame_written_field_by_field() {
        let mut f = GOLDEN;
        let mut eth = EthernetFrame::new_checked(&mut f[..]).unwrap();
        eth.set_dst_addr([0x52, 0, 0, 0, 0, 0x10]);
        eth.set_src_addr([0x02, 0, 0, 0, 0, 0x01]);
        let mut ip = Ipv4Packet::new_checked(eth.payload_mut()).unwrap();
        ip.decrement_ttl();
        assert_eq!(&f[..12], &[0x52, 0, 0, 0, 0, 0x10, 0x02, 0, 0, 0, 0, 0x01]);
        // TTL 64 → 63; RFC 1624: the checksum rises by 0x0100.
        assert_eq!(f[22], 63);
        assert_eq!(&f[24..26], &[0x9d, 0x63]);
        let mut ip = Ipv4Packet::new_checked(&mut f[14..]).unwrap();
        assert!(ip.verify_checksum());
        ip.set_dst_addr(0x0a00_0001);
        assert!(!ip.verify_checksum());
        ip.fill_checksum();
        assert!(ip.verify_checksum());
        assert_eq!(&f[30..34], &[10, 0, 0, 1]);
        let mut e = EthernetFrame::new_checked(&mut f[..]).unwrap();
        e.set_addrs(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        e.set_ethertype(0x86dd);
        assert_eq!(&f[..14], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x86, 0xdd]);
    }

    #[test]
    fn vlan_tag() {
        let t = VlanTag::new_checked(&[0x20, 0x05, 0x08, 0x00][..]).unwrap();
        assert_eq!((t.tci(), t.vid(), t.inner_ethertype()), (0x2005, 5, 0x0800));
        assert_eq!(VlanTag::new_checked(&[0u8; 3][..]).unwrap_err(), WireError::Truncated);
    }

    #[test]
    fn every_ipv4_check_has_its_reason() {
        let ip = |f: &dyn Fn(&mut [u8])| {
            let mut b = GOLDEN[14..].to_vec();
            f(&mut b);
            Ipv4Packet::new_checked(b).err()
        };
        assert_eq!(ip(&|_| {}), None);
        assert_eq!(Ipv4Packet::new_checked(&GOLDEN[14..33]).err(), Some(WireError::Truncated));
        assert_eq!(ip(&|b| b[0] = 0x65), Some(WireError::BadVersion));
        assert_eq!(ip(&|b| b[0] = 0x44), Some(WireError::BadIhl));
        assert_eq!(ip(&|b| b[0] = 0x4f), Some(WireError::HdrTruncated));
        assert_eq!(ip(&|b| b[2..4].copy_from_slice(&19u16.to_be_bytes())), Some(WireError::BadTotalLen));
        assert_eq!(ip(&|b| b[2..4].copy_from_slice(&47u16.to_be_bytes())), Some(WireError::BadTotalLen));
        assert_eq!(EthernetFrame::new_checked(&GOLDEN[..13]).err(), Some(WireError::Truncated));
        assert_eq!(UdpPacket::new_checked(&GOLDEN[..7]).err(), Some(WireError::Truncated));
        assert!(Ipv4Packet::new_minimal(&GOLDEN[..20]).is_ok());
        assert_eq!(WireError::BadIhl.to_string(), "IHL below 5");
    }

    #[test]
    fn arp_views() {
        let f = super::super::build_arp([2, 0, 0, 0, 0, 9], [10, 0, 0, 2], [10, 0, 0, 1]);
        let a = ArpPacket::new_checked(&f[14..]).unwrap();
        assert_eq!(a.operation(), arp_op::REQUEST);
        assert_eq!((a.sender_mac(), a.sender_ip()), ([2, 0, 0, 0, 0, 9], 0x0a00_0002));
        assert_eq!((a.target_mac(), a.target_ip()), ([0; 6], 0x0a00_0001));
        let bad = |at: usize, v: u8| {
            let mut g = f.clone();
            g[14 + at] = v;
            ArpPacket::new_checked(&g[14..]).err()
        };
        assert_eq!(bad(1, 6), Some(WireError::Unsupported), "hardware type");
        assert_eq!(bad(2, 0x86), Some(WireError::Unsupported), "protocol type");
        assert_eq!(bad(4, 8), Some(WireError::Unsupported), "hardware length");
        assert_eq!(bad(5, 16), Some(WireError::Unsupported), "protocol length");
        assert_eq!(bad(7, 3), Some(WireError::Unsupported), "RARP request");
        assert_eq!(ArpPacket::new_checked(&f[14..41]).err(), Some(WireError::Truncated));
        let mut g = [0u8; 28];
        ArpPacket::new_for_fill(&mut g[..]).unwrap().fill(arp_op::REPLY, ([1; 6], 7), ([2; 6], 8));
        let r = ArpPacket::new_checked(&g[..]).unwrap();
        assert_eq!(
            (r.operation(), r.sender_mac(), r.sender_ip(), r.target_mac(), r.target_ip()),
            (2, [1; 6], 7, [2; 6], 8)
        );
    }

    #[test]
    fn ipv6_and_nd() {
        let f = super::super::build_udp6([2; 6], [4; 6], [0xfe; 16], 80);
        let ip = Ipv6Packet::new_checked(&f[14..]).unwrap();
        assert_eq!((ip.payload_len(), ip.next_header(), ip.hop_limit()), (26, 17, 64));
        assert_eq!(ip.src_addr(), 0x2001_0db8_0000_0000_0000_0000_0000_0001);
        assert_eq!(ip.dst_addr(), u128::from_be_bytes([0xfe; 16]));
        assert_eq!(ip.payload().len(), 26);
        let mut g = f.clone();
        g[14] = 0x45;
        assert_eq!(Ipv6Packet::new_checked(&g[14..]).err(), Some(WireError::BadVersion));
        g[14] = 0x60;
        g[18..20].copy_from_slice(&27u16.to_be_bytes());
        assert_eq!(Ipv6Packet::new_checked(&g[14..]).err(), Some(WireError::BadTotalLen));
        assert_eq!(Ipv6Packet::new_checked(&f[14..53]).err(), Some(WireError::Truncated));
        // An NS with its option, written and read back; the checksum holds.
        let ns =
            NdMessage { kind: icmp6::NS, flags: 0, target: 0x2001_0db8 << 96 | 1, lladdr: Some([2, 0, 0, 0, 0, 9]) };
        let mut m = [0u8; 32];
        let (s, d) = (0x2001_0db8 << 96 | 2, 0xff02_0000_0000_0000_0000_0001_ff00_0001);
        assert_eq!(ns.write(&mut m, s, d), 32);
        assert_eq!(icmp6_checksum(s, d, &m), 0);
        assert_eq!(NdMessage::parse(&m), Ok(ns));
        let mut bad = m;
        bad[25] = 0; // an option of length 0
        assert_eq!(NdMessage::parse(&bad), Err(WireError::Unsupported));
        bad[25] = 2; // past the message
        assert_eq!(NdMessage::parse(&bad), Err(WireError::Unsupported));
        assert_eq!(NdMessage::parse(&m[..23]), Err(WireError::Truncated));
        let na = NdMessage { kind: icmp6::NA, flags: NA_SOLICITED, target: 7, lladdr: None };
        assert_eq!(na.write(&mut m, s, d), 24);
        assert_eq!(NdMessage::parse(&m[..24]), Ok(na));
        assert!(icmp6::is_error(3) && !icmp6::is_error(128));
    }

    #[test]
    fn icmp_views() {
        // An echo request: type 8, id 0x1234, seq 1, 4 data bytes.
        let mut m = [8u8, 0, 0, 0, 0x12, 0x34, 0, 1, 0xde, 0xad, 0xbe, 0xef];
        let mut v = Icmpv4Packet::new_checked(&mut m[..]).unwrap();
        v.fill_checksum();
        assert!(v.verify_checksum());
        assert_eq!((v.msg_type(), v.code(), v.rest()), (8, 0, 0x1234_0001));
        assert_eq!(v.data(), &[0xde, 0xad, 0xbe, 0xef]);
        v.set_type_code(icmp4::ECHO_REPLY, 0);
        assert!(!v.verify_checksum());
        v.set_rest(5);
        v.fill_checksum();
        assert!(v.verify_checksum());
        assert_eq!(Icmpv4Packet::new_checked(&m[..7]).err(), Some(WireError::Truncated));
        assert!(icmp4::is_error(3) && icmp4::is_error(11) && icmp4::is_error(5) && icmp4::is_error(200));
        assert!(!icmp4::is_error(0) && !icmp4::is_error(8) && !icmp4::is_error(13));
    }
}
