// The identity of an inner flow, and the hashes that steer it.
#pragma once
#include <array>
#include <cstdint>

namespace mirrortap {

enum class FlowKind : uint8_t { non_ip, ipv4, ipv6 };

// Addresses are kept 16 bytes wide for both families (IPv4 in the first four)
// so that one key type and one hash serve both.
struct FlowKey {
    FlowKind kind = FlowKind::non_ip;
    uint8_t protocol = 0;  // IANA number; 0 when unknown or non-IP
    uint16_t src_port = 0; // TCP/UDP ports; ICMP type/code in src_port for ICMP
    uint16_t dst_port = 0;
    std::array<uint8_t, 16> src{};  // IP address, or the source MAC for non-IP
    std::array<uint8_t, 16> dst{};

    bool operator==(const FlowKey&) const = default;
};

struct FlowHash {
    // Same value for A->B and B->A: endpoints are ordered before hashing, so
    // both directions of a connection go to one output (NLB, TAP, worker).
    static uint32_t symmetric(const FlowKey& key, uint32_t seed = 0);
};

}  // namespace mirrortap
