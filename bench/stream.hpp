// The synthetic stream mirrortap-blast sends, defined in one place so that a
// receiver or a test can tell what datagram n should have been: its session,
// flow, direction and per-session sequence number, and its inner frame bytes.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include "decap/flow.hpp"

namespace mirrortap::bench {

struct StreamShape {
    uint32_t sessions = 8;
    uint32_t vni_base = 100;
    uint32_t flows = 64;         // per session
    uint32_t frame_bytes = 200;  // inner Ethernet frame, without FCS
};

struct StreamPosition {
    uint32_t session = 0;   // 0-based; the VNI is vni_base + session
    uint64_t sequence = 0;  // per session, from 0, no gaps
    uint32_t flow = 0;
    bool reply = false;     // server -> client
};

// Sessions are interleaved datagram by datagram, as a target behind one NLB
// sees many mirror sessions at once; within a session each flow sends a
// request and then its reply before the next flow takes a turn, so both
// directions of every flow are present and close together.
inline StreamPosition position_of(uint64_t n, const StreamShape& shape) {
    StreamPosition p;
    p.session = uint32_t(n % shape.sessions);
    p.sequence = n / shape.sessions;
    p.flow = uint32_t((p.sequence / 2) % shape.flows);
    p.reply = (p.sequence % 2) == 1;
    return p;
}

// The two ends of one inner IPv4/UDP flow. Session s lives in 10.<s/256>.<s%256>.0/24
// (clients .1-.250, the server .254), so sessions never share a flow.
struct InnerFlow {
    std::array<uint8_t, 6> client_mac{}, server_mac{};
    std::array<uint8_t, 4> client_ip{}, server_ip{};
    uint16_t client_port = 0, server_port = 0;

    // As decap/ would parse it from a frame going the given way.
    FlowKey key(bool reply) const;
};

inline constexpr uint32_t kMaxSessions = 65536;
inline constexpr uint32_t kMaxFlows = 1u << 20;

InnerFlow inner_flow(uint32_t session, uint32_t flow);

// AWS picks the outer UDP source port from a hash of the inner flow, so that
// an NLB keeps a flow on one target; it being symmetric keeps both directions
// there too (as AWS documents it).
inline constexpr uint16_t kOuterPortLow = 49152;
inline constexpr uint16_t kOuterPortCount = 16384;
uint16_t outer_source_port(const FlowKey& inner);

// Where the payload of every inner frame starts, and what it carries there.
inline constexpr size_t kInnerHeadersBytes = 14 + 20 + 8;  // Ethernet, IPv4, UDP
inline constexpr std::array<uint8_t, 4> kMarkerMagic = {'M', 'T', 'B', '1'};
struct Marker {
    uint32_t vni = 0;
    uint64_t sequence = 0;
    uint32_t flow = 0;
    bool reply = false;
};
// magic(4) vni(4) sequence(8) flow(4) direction(1), all big-endian.
inline constexpr size_t kMarkerBytes = 21;
inline constexpr uint32_t kMinFrameBytes = 64;  // Ethernet minimum, and room for the marker
// The collector's receive buffer is 9216 bytes for the whole VXLAN payload.
inline constexpr uint32_t kMaxFrameBytes = 9216 - 8;

// Fills the parts of an inner frame that never change for this frame size
// (the payload after the marker), so that a reused buffer needs only
// write_inner_headers on each send.
void fill_inner_payload(std::byte* frame, uint32_t frame_bytes);

// Ethernet/IPv4/UDP headers with a correct IPv4 checksum and total length,
// and the marker. The inner UDP checksum is left zero (legal for IPv4).
void write_inner_headers(std::byte* frame, uint32_t frame_bytes, const InnerFlow& flow,
                         const Marker& marker);

}  // namespace mirrortap::bench
