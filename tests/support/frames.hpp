// Literal frames for unit tests: small builders that lay bytes out exactly as
// they appear on the wire, so a test reads like the packet it sends.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "decap/bytes.hpp"

namespace mirrortap::test {

using Buf = std::vector<std::byte>;

inline void put8(Buf& b, uint8_t v) { b.push_back(std::byte(v)); }
inline void put16(Buf& b, uint16_t v) { put8(b, uint8_t(v >> 8)); put8(b, uint8_t(v)); }
inline void put32(Buf& b, uint32_t v) { put16(b, uint16_t(v >> 16)); put16(b, uint16_t(v)); }
inline void put(Buf& b, std::initializer_list<uint8_t> bytes) { for (auto v : bytes) put8(b, v); }

inline Buf ethernet(uint16_t ether_type, std::initializer_list<uint16_t> vlan_tpid_tci_pairs = {}) {
    Buf b;
    put(b, {0x02, 0, 0, 0, 0, 0xBB});  // dst
    put(b, {0x02, 0, 0, 0, 0, 0xAA});  // src
    for (auto v : vlan_tpid_tci_pairs) put16(b, v);
    put16(b, ether_type);
    return b;
}

// IPv4 header with the given total length (covering header + payload).
inline void ipv4(Buf& b, uint8_t proto, std::initializer_list<uint8_t> src, std::initializer_list<uint8_t> dst,
                 uint16_t total_length, uint16_t frag = 0) {
    put(b, {0x45, 0});
    put16(b, total_length);
    put16(b, 0x1234);
    put16(b, frag);
    put(b, {64, proto, 0, 0});  // checksum left zero: we never check it
    put(b, src);
    put(b, dst);
}

inline void ipv6(Buf& b, uint8_t next, uint8_t src_last, uint8_t dst_last, uint16_t payload_length) {
    put32(b, 0x60000000);
    put16(b, payload_length);
    put(b, {next, 64});
    for (int i = 0; i < 15; ++i) put8(b, i == 0 ? 0x20 : 0);
    put8(b, src_last);
    for (int i = 0; i < 15; ++i) put8(b, i == 0 ? 0x20 : 0);
    put8(b, dst_last);
}

inline void ports(Buf& b, uint16_t src, uint16_t dst) { put16(b, src); put16(b, dst); }

inline void pad_to(Buf& b, size_t n) { while (b.size() < n) put8(b, 0); }

inline Buf vxlan(uint32_t vni, const Buf& inner, uint8_t flags = 0x08) {
    Buf b;
    put(b, {flags, 0, 0, 0});
    put8(b, uint8_t(vni >> 16)); put8(b, uint8_t(vni >> 8)); put8(b, uint8_t(vni));
    put8(b, 0);
    b.insert(b.end(), inner.begin(), inner.end());
    return b;
}

// A whole IPv4/UDP frame of the given total frame size.
inline Buf udp4_frame(std::initializer_list<uint8_t> src, std::initializer_list<uint8_t> dst,
                      uint16_t sport, uint16_t dport, size_t frame_bytes = 60) {
    Buf b = ethernet(0x0800);
    ipv4(b, 17, src, dst, uint16_t(frame_bytes - 14));
    ports(b, sport, dport);
    pad_to(b, frame_bytes);
    return b;
}

inline Bytes view(const Buf& b) { return {b.data(), b.size()}; }

// A 64-byte IPv4/UDP frame whose last four bytes carry a sequence number.
inline Buf numbered_frame(uint32_t seq) {
    Buf f = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 1000, 2000, 64);
    f.resize(f.size() - 4);
    put32(f, seq);
    return f;
}
inline uint32_t seq_of(Bytes frame) {
    const std::byte* b = frame.data() + frame.size() - 4;
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}

}  // namespace mirrortap::test
