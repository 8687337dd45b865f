// Recognises the sender's own mirror traffic (whole or any fragment of it),
// and the ICMP errors that quote
// it (a collector that is down answers each datagram with "port unreachable";
// mirroring that answer would make another datagram, and another answer: on
// a loopback target, a storm). Pure: bytes in, yes or no out.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "decap/bytes.hpp"
#include "decap/frame.hpp"

namespace mirrortap::sender {

struct OwnTarget {
    FlowKind family = FlowKind::non_ip;  // non_ip: no target yet
    std::array<uint8_t, 16> address{};   // IPv4 in the first 4 bytes
    uint16_t port = 0;
};

namespace detail {

inline bool quotes_target(Bytes frame, size_t inner_ip, const OwnTarget& t) {
    if (t.family == FlowKind::ipv4) {
        if (frame.size() < inner_ip + 20 || (uint8_t(frame[inner_ip]) >> 4) != 4) return false;
        const size_t ihl = size_t(uint8_t(frame[inner_ip]) & 0x0F) * 4;
        if (uint8_t(frame[inner_ip + 9]) != 17 || frame.size() < inner_ip + ihl + 4) return false;
        return std::memcmp(frame.data() + inner_ip + 16, t.address.data(), 4) == 0 &&
               load_be16(frame, inner_ip + ihl + 2) == t.port;
    }
    if (frame.size() < inner_ip + 40 + 4 || (uint8_t(frame[inner_ip]) >> 4) != 6) return false;
    if (uint8_t(frame[inner_ip + 6]) != 17) return false;
    return std::memcmp(frame.data() + inner_ip + 24, t.address.data(), 16) == 0 &&
           load_be16(frame, inner_ip + 40 + 2) == t.port;
}

// An IPv4 fragment (more fragments, or an offset), or an IPv6 packet whose
// first next header is a fragment header (44).
inline bool is_fragment(Bytes frame, const InnerFrame& in) {
    if (in.flow.kind == FlowKind::ipv4)
        return frame.size() >= in.l3_offset + 8 && (load_be16(frame, in.l3_offset + 6) & 0x3FFF) != 0;
    // The fixed header's own next-header field, as the capture filter's ip6[6] reads
    // it (in.flow.protocol is the upper layer, past any extension headers).
    return in.flow.kind == FlowKind::ipv6 && frame.size() >= in.l3_offset + 40 &&
           uint8_t(frame[in.l3_offset + 6]) == 44;
}

}  // namespace detail

inline bool is_own_traffic(Bytes frame, const InnerFrame& in, const OwnTarget& t) {
    const FlowKey& f = in.flow;
    if (t.family == FlowKind::non_ip || f.kind != t.family) return false;
    const size_t width = f.kind == FlowKind::ipv4 ? 4 : 16;
    // A fragment towards the target may be a piece of our VXLAN (only the
    // first piece has the UDP header): never mirror one. We send with DF,
    // so this is the second line; it costs mirroring other fragmented
    // traffic to the collector host, which should have none.
    if (detail::is_fragment(frame, in) && std::memcmp(f.dst.data(), t.address.data(), width) == 0) return true;
    if (f.protocol == 17)
        return in.has_ports && f.dst_port == t.port && std::memcmp(f.dst.data(), t.address.data(), width) == 0;
    size_t icmp = 0;
    if (f.kind == FlowKind::ipv4 && f.protocol == 1) {
        // Destination unreachable, time exceeded, parameter problem.
        icmp = in.l3_offset + size_t(uint8_t(frame[in.l3_offset]) & 0x0F) * 4;
        if (frame.size() < icmp + 8) return false;
        const uint8_t type = uint8_t(frame[icmp]);
        if (type != 3 && type != 11 && type != 12) return false;
    } else if (f.kind == FlowKind::ipv6 && f.protocol == 58) {
        // Destination unreachable, packet too big, time exceeded, parameter problem.
        icmp = in.l3_offset + 40;
        if (frame.size() < icmp + 8) return false;
        const uint8_t type = uint8_t(frame[icmp]);
        if (type < 1 || type > 4) return false;
    } else {
        return false;
    }
    return detail::quotes_target(frame, icmp + 8, t);
}

}  // namespace mirrortap::sender
