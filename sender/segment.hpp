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

// Where the TCP or UDP header of an IP frame starts, or 0 when the frame is
// not one we can rewrite: a fragment, IPv6 extension headers, a frame cut
// short, not TCP or UDP.
inline size_t l4_offset(Bytes frame, const InnerFrame& in) {
    const size_t l3 = in.l3_offset;
    if (!in.has_ports || (in.flow.protocol != 6 && in.flow.protocol != 17)) return 0;
    if (in.flow.kind == FlowKind::ipv4) {
        if (frame.size() < l3 + 20) return 0;
        if ((load_be16(frame, l3 + 6) & 0x3FFF) != 0) return 0;  // a fragment
        return l3 + size_t(uint8_t(frame[l3]) & 0x0F) * 4;
    }
    if (in.flow.kind == FlowKind::ipv6) {
        if (frame.size() < l3 + 40 || uint8_t(frame[l3 + 6]) != in.flow.protocol) return 0;
        return l3 + 40;
    }
    return 0;
}

// The pseudo header's sum (not yet folded) of a TCP/UDP packet of `l4_bytes`.
inline uint32_t pseudo_header_sum(const std::byte* frame, size_t l3, size_t l4_bytes, bool ipv6, uint8_t protocol) {
    uint32_t sum = ipv6 ? checksum::add(frame + l3 + 8, 32, 0) : checksum::add(frame + l3 + 12, 8, 0);
    return sum + protocol + uint32_t(l4_bytes >> 16) + uint32_t(l4_bytes & 0xFFFF);
}

// What checksum offload leaves in the field for the NIC: the pseudo
// header's sum, folded but not complemented (Linux's ~tcp_v4_check(...)).
inline uint16_t partial_checksum(const std::byte* frame, size_t l3, size_t l4_bytes, bool ipv6, uint8_t protocol) {
    return uint16_t(~checksum::fold(pseudo_header_sum(frame, l3, l4_bytes, ipv6, protocol)) & 0xFFFF);
}

// The TCP/UDP checksum over `l4_bytes` at `l4` with the pseudo header of the
// IP header at `l3`, the checksum field taken as zero.
inline uint16_t l4_checksum(const std::byte* frame, size_t l3, size_t l4, size_t l4_bytes, bool ipv6,
                            uint8_t protocol) {
    uint32_t sum = pseudo_header_sum(frame, l3, l4_bytes, ipv6, protocol);
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
    const size_t l4 = l4_offset(frame, in);
    if (l4 == 0 || in.truncated()) return {};
    const bool ipv6 = in.flow.kind == FlowKind::ipv6;
    const size_t l3 = in.l3_offset;
    const size_t ip_end = ipv6 ? l3 + 40 + load_be16(frame, l3 + 4) : l3 + load_be16(frame, l3 + 2);
    if (ip_end > frame.size() || ip_end < l4 + (in.flow.protocol == 6 ? 20u : 8u)) return {};
    const size_t field = l4 + (in.flow.protocol == 6 ? 16 : 6);
    const uint16_t have = load_be16(frame, field);
    if (have != partial_checksum(frame.data(), l3, ip_end - l4, ipv6, in.flow.protocol)) return {};
    const uint16_t want = l4_checksum(frame.data(), l3, l4, ip_end - l4, ipv6, in.flow.protocol);
    if (have == want) return {};
    return {field, want};
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

// Cuts a TCP super-frame into wire-size segments, each built in `scratch`
// (room for l4 + TCP header + `mtu` bytes) and handed to `emit(Bytes)`
// before the next is built. Returns the number of segments (0: not split,
// e.g. the MTU leaves no room for payload).
template <typename Emit>
size_t split_tcp(Bytes frame, const InnerFrame& in, uint32_t mtu, std::byte* scratch, Emit&& emit) {
    const size_t l3 = in.l3_offset;
    const size_t l4 = l4_offset(frame, in);
    if (l4 == 0) return 0;
    const bool ipv6 = in.flow.kind == FlowKind::ipv6;
    const size_t tcp_header = size_t(uint8_t(frame[l4 + 12]) >> 4) * 4;
    const size_t headers = l4 + tcp_header;  // Ethernet (and VLAN), IP, TCP
    const size_t ip_end = ipv6 ? l3 + 40 + load_be16(frame, l3 + 4) : l3 + load_be16(frame, l3 + 2);
    if (tcp_header < 20 || ip_end > frame.size() || ip_end < headers) return 0;
    const uint32_t per = segment_payload_bytes(mtu, headers - l3);
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
        const size_t ip_bytes = headers - l3 + chunk;
        if (ipv6) {
            store_be16(scratch + l3 + 4, uint16_t(ip_bytes - 40));
        } else {
            store_be16(scratch + l3 + 2, uint16_t(ip_bytes));
            store_be16(scratch + l3 + 4, uint16_t(id + count));
            store_be16(scratch + l3 + 10, 0);
            const size_t ihl = l4 - l3;
            store_be16(scratch + l3 + 10, checksum::fold(checksum::add(scratch + l3, ihl, 0)));
        }
        const uint32_t s = seq + uint32_t(offset);
        store_be16(scratch + l4 + 4, uint16_t(s >> 16));
        store_be16(scratch + l4 + 6, uint16_t(s));
        uint8_t f = flags;
        if (!last) f &= uint8_t(~(kFin | kPsh));
        if (count > 0) f &= uint8_t(~kCwr);
        scratch[l4 + 13] = std::byte(f);
        const size_t tcp_bytes = tcp_header + chunk;
        store_be16(scratch + l4 + 16, l4_checksum(scratch, l3, l4, tcp_bytes, ipv6, 6));
        emit(Bytes{scratch, l4 + tcp_bytes});
    }
    return count;
}

}  // namespace mirrortap::sender
