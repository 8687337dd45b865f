// Packets for sender tests, built as wire bytes and parsed by decap, so the
// filter sees exactly what it sees when capturing.
#pragma once
#include <initializer_list>

#include "decap/frame.hpp"
#include "tests/support/frames.hpp"

namespace mirrortap::test {

inline Buf ip4_frame(uint8_t proto, std::initializer_list<uint8_t> src, std::initializer_list<uint8_t> dst,
                     uint16_t sport = 0, uint16_t dport = 0, size_t frame_bytes = 60, uint16_t frag = 0) {
    Buf b = ethernet(0x0800);
    ipv4(b, proto, src, dst, uint16_t(frame_bytes - 14), frag);
    if (proto == 6 || proto == 17 || proto == 132) ports(b, sport, dport);
    else if (proto == 1) put(b, {8, 0, 0, 0});  // echo request
    pad_to(b, frame_bytes);
    return b;
}

// IPv6 addresses are 2000::<last byte>.
inline Buf ip6_frame(uint8_t next, uint8_t src_last, uint8_t dst_last, uint16_t sport = 0, uint16_t dport = 0,
                     size_t frame_bytes = 80) {
    Buf b = ethernet(0x86DD);
    ipv6(b, next, src_last, dst_last, uint16_t(frame_bytes - 54));
    if (next == 6 || next == 17) ports(b, sport, dport);
    else put(b, {128, 0, 0, 0});
    pad_to(b, frame_bytes);
    return b;
}

inline InnerFrame parsed(const Buf& b) { return parse_inner_frame(view(b)); }

}  // namespace mirrortap::test
