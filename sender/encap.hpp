// VXLAN encapsulation as AWS Traffic Mirroring sends it (as AWS documents it).
// Pure: fills a caller's buffer; no I/O, no allocation.
#pragma once
#include <cstdint>
#include <cstring>

#include "decap/bytes.hpp"
#include "decap/flow.hpp"
#include "decap/vxlan.hpp"

namespace mirrortap::sender {

inline constexpr size_t kUdpHeaderBytes = 8;
// RFC 7348 §5: the source port comes from a hash of the inner flow, within
// the dynamic range 49152-65535.
inline constexpr uint16_t kEphemeralPortFirst = 49152;
inline constexpr uint32_t kEphemeralPortCount = 65536 - kEphemeralPortFirst;

// Same port for both directions of a flow, so that an NLB (which hashes the
// outer 5-tuple) sends both to one collector.
inline uint16_t outer_source_port(const FlowKey& inner) {
    return uint16_t(kEphemeralPortFirst + FlowHash::symmetric(inner) % kEphemeralPortCount);
}

// Writes UDP header + VXLAN header + the first `length` bytes of `frame` to
// `out`, which holds at least kUdpHeaderBytes + kVxlanHeaderBytes + length.
// The UDP checksum is left zero: RFC 7348 asks for zero over IPv4; for an
// IPv6 target the kernel fills it in (IPV6_CHECKSUM on the raw socket).
// Returns the bytes written (the UDP datagram's length).
inline size_t encapsulate_udp_vxlan(std::byte* out, uint16_t source_port, uint16_t target_port, uint32_t vni,
                                    Bytes frame, uint32_t length) {
    const size_t total = kUdpHeaderBytes + kVxlanHeaderBytes + length;
    store_be16(out, source_port);
    store_be16(out + 2, target_port);
    store_be16(out + 4, uint16_t(total));
    store_be16(out + 6, 0);
    VxlanHeader::encode(out + kUdpHeaderBytes, vni);
    std::memcpy(out + kUdpHeaderBytes + kVxlanHeaderBytes, frame.data(), length);
    return total;
}

}  // namespace mirrortap::sender
