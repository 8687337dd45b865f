// What the wire carried, from what the kernel hands a capture with
// offloads on (issue 15, item 4):
// - TSO/GSO on egress and GRO on ingress give libpcap one TCP "super-frame"
//   of up to 64 KB where the wire carries MTU-size segments. split_tcp cuts
//   it back: each segment with its own IP length and id (IPv4: the first
//   one's + i, as Linux's software GSO numbers them), TCP sequence number,
//   flags (CWR on the first only, FIN and PSH on the last only) and
//   checksums, as the wire would have had them.
// - Checksum offload leaves a partial checksum (the pseudo-header sum the
//   NIC completes) in TCP and UDP headers: l4_checksum_fix gives the real
//   one to write.
// Pure: bytes in, bytes out into the caller's buffers; no allocation.
#pragma once
#include <cstdint>
#include <cstring>

#include "decap/bytes.hpp"
#include "decap/frame.hpp"

namespace mirrortap::sender {

namespace checksum {

// The ones' complement sum of `n` bytes (big-endian 16-bit words) added to `sum`.
inline uint32_t add(const std::byte* p, size_t n, uint32_t sum) {
    for (; n > 1; p += 2, n -= 2) sum += uint32_t(uint8_t(p[0])) << 8 | uint8_t(p[1]);
    if (n) sum += uint32_t(uint8_t(p[0])) << 8;
    return sum;
}

inline uint16_t fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return uint16_t(~sum & 0xFFFF);
}

}  // namespace checksum

// Where the TCP or UDP header of an IP frame starts, and where the
// destination address its checksum's pseudo header takes is (IPv6: the
// final destination, RFC 8200 8.1: a routing header's last hop when one is
// on the way); offset 0 when the frame is not one we can rewrite: a
// fragment, a frame cut short, an extension header we do not walk, not TCP
// or UDP.
struct L4Place {
    size_t offset = 0;
    size_t destination = 0;
};

// RFC 8200's hop-by-hop (0), routing (43) and destination options (60)
// headers, walked to TCP or UDP; a fragment header (44) is a fragment.
inline L4Place ipv6_l4_place(Bytes frame, size_t l3, uint8_t protocol) {
    size_t at = l3 + 40, destination = l3 + 24;
    uint8_t next = uint8_t(frame[l3 + 6]);
    for (size_t n = 0; next != protocol; ++n) {
        if (n == kMaxIpv6ExtensionHeaders || frame.size() < at + 8) return {};
        if (next != kIpv6HopByHop && next != kIpv6Routing && next != kIpv6DestinationOptions) return {};
        const size_t bytes = (size_t(uint8_t(frame[at + 1])) + 1) * 8;
        if (frame.size() < at + bytes) return {};
        const uint8_t type = uint8_t(frame[at + 2]), segments_left = uint8_t(frame[at + 3]);
        if (next == kIpv6Routing && segments_left > 0) {
            // Type 0 lists the hops to go, the final one last; type 2 (Mobile
            // IPv6) holds the home address; type 4 (segment routing) lists
            // segments last hop first. Others: not ours to guess.
            const size_t addresses = (bytes - 8) / 16;
            if (addresses == 0 || (type != 0 && type != 2 && type != 4)) return {};
            destination = at + 8 + (type == 0 ? 16 * (addresses - 1) : 0);
        }
        next = uint8_t(frame[at]);
        at += bytes;
    }
    return {at, destination};
}

inline L4Place l4_place(Bytes frame, const InnerFrame& in) {
    const size_t l3 = in.l3_offset;
    if (!in.has_ports || (in.flow.protocol != 6 && in.flow.protocol != 17)) return {};
    if (in.flow.kind == FlowKind::ipv4) {
        if (frame.size() < l3 + 20) return {};
        if ((load_be16(frame, l3 + 6) & 0x3FFF) != 0) return {};  // a fragment
        return {l3 + size_t(uint8_t(frame[l3]) & 0x0F) * 4, l3 + 16};
    }
    if (in.flow.kind == FlowKind::ipv6) {
        if (frame.size() < l3 + 40 || in.fragment) return {};
        return ipv6_l4_place(frame, l3, in.flow.protocol);
    }
    return {};
}

inline size_t l4_offset(Bytes frame, const InnerFrame& in) { return l4_place(frame, in).offset; }

// The pseudo header's sum (not yet folded) of a TCP/UDP packet of `l4_bytes`;
// `destination` where its destination address is (0: the IP header's).
inline uint32_t pseudo_header_sum(const std::byte* frame, size_t l3, size_t l4_bytes, bool ipv6, uint8_t protocol,
                                  size_t destination = 0) {
    uint32_t sum = ipv6 ? checksum::add(frame + l3 + 8, 16, 0) + checksum::add(frame + (destination ? destination : l3 + 24), 16, 0)
                        : checksum::add(frame + l3 + 12, 8, 0);
    return sum + protocol + uint32_t(l4_bytes >> 16) + uint32_t(l4_bytes & 0xFFFF);
}

// What checksum offload leaves in the field for the NIC: the pseudo
// header's sum, folded but not complemented (Linux's ~tcp_v4_check(...)).
inline uint16_t partial_checksum(const std::byte* frame, size_t l3, size_t l4_bytes, bool ipv6, uint8_t protocol,
                                 size_t destination = 0) {
    return uint16_t(~checksum::fold(pseudo_header_sum(frame, l3, l4_bytes, ipv6, protocol, destination)) & 0xFFFF);
}

// The TCP/UDP checksum over `l4_bytes` at `l4` with the pseudo header of the
// IP header at `l3`, the checksum field taken as zero.
inline uint16_t l4_checksum(const std::byte* frame, size_t l3, size_t l4, size_t l4_bytes, bool ipv6,
                            uint8_t protocol, size_t destination = 0) {
    uint32_t sum = pseudo_header_sum(frame, l3, l4_bytes, ipv6, protocol, destination);
    const size_t field = protocol == 6 ? 16 : 6;
    sum = checksum::add(frame + l4, field, sum);
    sum = checksum::add(frame + l4 + field + 2, l4_bytes - field - 2, sum);
    uint16_t c = checksum::fold(sum);
    if (protocol == 17 && c == 0) c = 0xFFFF;  // UDP: 0 means "no checksum"
    return c;
}

// Where the real TCP/UDP checksum of a whole frame goes and what it is,
// when the one there is a partial checksum left for the NIC (recognised by
// its value: the pseudo header's sum; virtual links such as veth pass it on
// to the receiver too); `field` 0: nothing to write. Any other checksum is
// what the wire carried, right or wrong, and stays.
struct ChecksumFix {
    size_t field = 0;  // offset of the checksum in the frame
    uint16_t value = 0;
};
inline ChecksumFix l4_checksum_fix(Bytes frame, const InnerFrame& in) {
    const L4Place place = l4_place(frame, in);
    const size_t l4 = place.offset;
    if (l4 == 0 || in.truncated()) return {};
    const bool ipv6 = in.flow.kind == FlowKind::ipv6;
    const size_t l3 = in.l3_offset;
    const size_t ip_end = ipv6 ? l3 + 40 + load_be16(frame, l3 + 4) : l3 + load_be16(frame, l3 + 2);
    if (ip_end > frame.size() || ip_end < l4 + (in.flow.protocol == 6 ? 20u : 8u)) return {};
    const size_t field = l4 + (in.flow.protocol == 6 ? 16 : 6);
    const uint16_t have = load_be16(frame, field);
    if (have != partial_checksum(frame.data(), l3, ip_end - l4, ipv6, in.flow.protocol, place.destination)) return {};
    const uint16_t want = l4_checksum(frame.data(), l3, l4, ip_end - l4, ipv6, in.flow.protocol, place.destination);
    if (have == want) return {};
    return {field, want};
}

// The checksum the kernel left to the device, completed: summed from
// `start` to the IP packet's end (its field holds the pseudo header's sum,
// so nothing else is added), written at start + `offset`. UDP's (offset 6)
// 0 is sent as 0xFFFF. Nothing when the frame is cut short of its end.
inline ChecksumFix offloaded_checksum_fix(Bytes frame, const InnerFrame& in, size_t start, size_t offset) {
    const size_t end = in.original_length;
    if (in.truncated() || end > frame.size() || start + offset + 2 > end) return {};
    uint16_t value = checksum::fold(checksum::add(frame.data() + start, end - start, 0));
    if (offset == 6 && value == 0) value = 0xFFFF;
    return {start + offset, value};
}

// The TCP payload bytes per segment on a link of `mtu`, for a frame whose
// IP and TCP headers take `headers` bytes.
inline uint32_t segment_payload_bytes(uint32_t mtu, size_t ip_and_tcp_header_bytes) {
    return mtu > ip_and_tcp_header_bytes ? uint32_t(mtu - ip_and_tcp_header_bytes) : 0;
}

// Whether `frame` is a TCP super-frame: whole, and an IP packet longer than `mtu`.
inline bool is_tcp_superframe(Bytes frame, const InnerFrame& in, uint32_t mtu) {
    if (in.flow.protocol != 6 || in.truncated() || l4_offset(frame, in) == 0) return false;
    return in.original_length > in.l3_offset + mtu;
}

// Rewrites the IP header at `l3` of a segment built in `scratch` for
// `ip_bytes` of IP packet: its length, and over IPv4 the id (the first
// one's + `index`, as Linux's software GSO numbers them) and header checksum.
inline void set_segment_ip_header(std::byte* scratch, size_t l3, size_t l4, size_t ip_bytes, bool ipv6,
                                  uint16_t first_id, size_t index) {
    if (ipv6) {
        store_be16(scratch + l3 + 4, uint16_t(ip_bytes - 40));
        return;
    }
    store_be16(scratch + l3 + 2, uint16_t(ip_bytes));
    store_be16(scratch + l3 + 4, uint16_t(first_id + index));
    store_be16(scratch + l3 + 10, 0);
    store_be16(scratch + l3 + 10, checksum::fold(checksum::add(scratch + l3, l4 - l3, 0)));
}

// Cuts a TCP super-frame into wire-size segments, each built in `scratch`
// (room for l4 + TCP header + `mtu` bytes) and handed to `emit(Bytes)`
// before the next is built: `gso_size` payload bytes each (the MSS the
// kernel segmented by), or when it is 0 what the link's `mtu` leaves room
// for. Returns the number of segments (0: not split, e.g. the MTU leaves no
// room for payload).
template <typename Emit>
size_t split_tcp(Bytes frame, const InnerFrame& in, uint32_t mtu, uint32_t gso_size, std::byte* scratch, Emit&& emit) {
    if (in.flow.protocol != 6) return 0;
    const size_t l3 = in.l3_offset;
    const L4Place place = l4_place(frame, in);
    const size_t l4 = place.offset;
    if (l4 == 0) return 0;
    const bool ipv6 = in.flow.kind == FlowKind::ipv6;
    const size_t tcp_header = size_t(uint8_t(frame[l4 + 12]) >> 4) * 4;
    const size_t headers = l4 + tcp_header;  // Ethernet (and VLAN), IP (and its extension headers), TCP
    const size_t ip_end = ipv6 ? l3 + 40 + load_be16(frame, l3 + 4) : l3 + load_be16(frame, l3 + 2);
    if (tcp_header < 20 || ip_end > frame.size() || ip_end < headers) return 0;
    const uint32_t per = gso_size != 0 ? gso_size : segment_payload_bytes(mtu, headers - l3);
    if (per == 0) return 0;
    const size_t payload = ip_end - headers;
    const uint32_t seq = uint32_t(load_be16(frame, l4 + 4)) << 16 | load_be16(frame, l4 + 6);
    const uint16_t id = ipv6 ? 0 : load_be16(frame, l3 + 4);
    const uint8_t flags = uint8_t(frame[l4 + 13]);
    constexpr uint8_t kFin = 0x01, kPsh = 0x08, kCwr = 0x80;
    size_t count = 0;
    for (size_t offset = 0; offset < payload; offset += per, ++count) {
        const size_t chunk = std::min<size_t>(per, payload - offset);
        const bool last = offset + chunk >= payload;
        std::memcpy(scratch, frame.data(), headers);
        std::memcpy(scratch + headers, frame.data() + headers + offset, chunk);
        set_segment_ip_header(scratch, l3, l4, headers - l3 + chunk, ipv6, id, count);
        const uint32_t s = seq + uint32_t(offset);
        store_be16(scratch + l4 + 4, uint16_t(s >> 16));
        store_be16(scratch + l4 + 6, uint16_t(s));
        uint8_t f = flags;
        if (!last) f &= uint8_t(~(kFin | kPsh));
        if (count > 0) f &= uint8_t(~kCwr);
        scratch[l4 + 13] = std::byte(f);
        const size_t tcp_bytes = tcp_header + chunk;
        store_be16(scratch + l4 + 16, l4_checksum(scratch, l3, l4, tcp_bytes, ipv6, 6, place.destination));
        emit(Bytes{scratch, l4 + tcp_bytes});
    }
    return count;
}

// Cuts a UDP GSO aggregate (UDP_SEGMENT on egress, UDP GRO on ingress: one
// UDP header over many datagrams' payloads) into the datagrams the wire
// carried, `gso_size` payload bytes each (the last may be shorter), each
// with its own IP and UDP length, IPv4 id and checksums, built in `scratch`
// and handed to `emit(Bytes)` in turn. Returns the number of datagrams (0:
// not split: not a whole UDP frame, or no segment size).
template <typename Emit>
size_t split_udp(Bytes frame, const InnerFrame& in, uint32_t gso_size, std::byte* scratch, Emit&& emit) {
    if (in.flow.protocol != 17 || gso_size == 0 || in.truncated()) return 0;
    const size_t l3 = in.l3_offset;
    const L4Place place = l4_place(frame, in);
    const size_t l4 = place.offset;
    if (l4 == 0) return 0;
    const bool ipv6 = in.flow.kind == FlowKind::ipv6;
    const size_t headers = l4 + 8;
    const size_t ip_end = ipv6 ? l3 + 40 + load_be16(frame, l3 + 4) : l3 + load_be16(frame, l3 + 2);
    if (ip_end > frame.size() || ip_end < headers) return 0;
    const size_t payload = ip_end - headers;
    const uint16_t id = ipv6 ? 0 : load_be16(frame, l3 + 4);
    size_t count = 0;
    for (size_t offset = 0; offset < payload; offset += gso_size, ++count) {
        const size_t chunk = std::min<size_t>(gso_size, payload - offset);
        std::memcpy(scratch, frame.data(), headers);
        std::memcpy(scratch + headers, frame.data() + headers + offset, chunk);
        set_segment_ip_header(scratch, l3, l4, headers - l3 + chunk, ipv6, id, count);
        store_be16(scratch + l4 + 4, uint16_t(8 + chunk));
        store_be16(scratch + l4 + 6, l4_checksum(scratch, l3, l4, 8 + chunk, ipv6, 17, place.destination));
        emit(Bytes{scratch, headers + chunk});
    }
    return count;
}

// Cuts a tunnel's aggregate (outer IP and UDP, a tunnel header such as
// VXLAN's or GENEVE's, then an inner Ethernet frame whose TCP or UDP the
// kernel segments: `inner_l4`, where that header starts, is what the kernel
// names) into the tunnel packets the wire carried: the inner frame cut by
// split_tcp or split_udp, `gso_size` payload bytes each, behind the outer
// headers with their IP length, IPv4 id (the first one's + i), header
// checksum, UDP length and, when the aggregate has one, UDP checksum (an
// IPv4 tunnel's zero stays zero). Returns the number of packets (0: not a
// tunnel we can read: the inner IP header must sit right before
// `inner_l4`, behind an Ethernet header).
template <typename Emit>
size_t split_tunnel(Bytes frame, const InnerFrame& outer, size_t inner_l4, bool tcp, uint32_t gso_size,
                    std::byte* scratch, Emit&& emit) {
    if (outer.flow.protocol != 17 || outer.truncated() || gso_size == 0 || inner_l4 >= frame.size()) return 0;
    const L4Place place = l4_place(frame, outer);
    const size_t l3 = outer.l3_offset, udp = place.offset;
    if (udp == 0 || inner_l4 < udp + 8 + 14 + 20) return 0;
    const uint8_t protocol = tcp ? 6 : 17;
    // The inner IP header: IPv4 without options, or IPv6 without extension
    // headers, right before the header the kernel names; an Ethernet type
    // that says the same before it.
    size_t inner_ip = 0;
    if (uint8_t(frame[inner_l4 - 20]) == 0x45 && uint8_t(frame[inner_l4 - 20 + 9]) == protocol &&
        load_be16(frame, inner_l4 - 22) == 0x0800)
        inner_ip = inner_l4 - 20;
    else if (inner_l4 >= udp + 8 + 14 + 40 && uint8_t(frame[inner_l4 - 40]) >> 4 == 6 &&
             uint8_t(frame[inner_l4 - 40 + 6]) == protocol && load_be16(frame, inner_l4 - 42) == 0x86DD)
        inner_ip = inner_l4 - 40;
    if (inner_ip == 0) return 0;
    const size_t prefix = inner_ip - 14;  // the outer headers and the tunnel header, up to the inner Ethernet
    const Bytes inner_frame = frame.subspan(prefix);
    const InnerFrame inner = parse_inner_frame(inner_frame);
    const bool ipv6 = outer.flow.kind == FlowKind::ipv6;
    const uint16_t id = ipv6 ? 0 : load_be16(frame, l3 + 4);
    const bool udp_checksum = load_be16(frame, udp + 6) != 0 || ipv6;
    std::memcpy(scratch, frame.data(), prefix);
    size_t index = 0;
    const auto wrap = [&](Bytes segment) {
        const size_t bytes = prefix + segment.size();
        set_segment_ip_header(scratch, l3, udp, bytes - l3, ipv6, id, index++);
        store_be16(scratch + udp + 4, uint16_t(bytes - udp));
        store_be16(scratch + udp + 6, 0);
        if (udp_checksum)
            store_be16(scratch + udp + 6, l4_checksum(scratch, l3, udp, bytes - udp, ipv6, 17, place.destination));
        emit(Bytes{scratch, bytes});
    };
    return tcp ? split_tcp(inner_frame, inner, 0, gso_size, scratch + prefix, wrap)
               : split_udp(inner_frame, inner, gso_size, scratch + prefix, wrap);
}

}  // namespace mirrortap::sender
