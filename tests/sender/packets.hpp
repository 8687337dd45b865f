// Packets for sender tests, built as wire bytes and parsed by decap, so the
// filter sees exactly what it sees when capturing.
#pragma once
#include <doctest/doctest.h>
#include <pcap/pcap.h>

#include <initializer_list>
#include <string>

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

// Whether a capture filter expression lets `frame` through, as the kernel's
// copy of it would; an expression that does not compile fails the test.
inline bool bpf_passes(const std::string& expr, const Buf& frame) {
    pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
    bpf_program prog{};
    const bool compiled = pcap_compile(dead, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) == 0;
    REQUIRE_MESSAGE(compiled, pcap_geterr(dead));
    pcap_pkthdr h{};
    h.caplen = h.len = uint32_t(frame.size());
    const bool passes = pcap_offline_filter(&prog, &h, reinterpret_cast<const u_char*>(frame.data())) != 0;
    pcap_freecode(&prog);
    pcap_close(dead);
    return passes;
}

}  // namespace mirrortap::test
