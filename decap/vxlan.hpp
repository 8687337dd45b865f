// VXLAN decapsulation (RFC 7348) as AWS Traffic Mirroring sends it.
// Pure: bytes in, a view or a typed error out. No I/O, no allocation.
#pragma once
#include <cstdint>
#include <string_view>

#include "base/enum_names.hpp"
#include "base/result.hpp"
#include "decap/bytes.hpp"
#include "decap/frame.hpp"

namespace mirrortap {

inline constexpr uint16_t kVxlanPort = 4789;
inline constexpr size_t kVxlanHeaderBytes = 8;
inline constexpr uint8_t kVxlanFlagVniValid = 0x08;  // the I bit
inline constexpr uint32_t kMaxVni = 0xFFFFFF;

// Each value becomes a `reason` label: keep names stable and snake_case.
enum class DecapError : uint8_t {
    too_short,        // fewer than 8 bytes: no VXLAN header at all
    no_vni_flag,      // the I bit is clear, so the VNI means nothing
    inner_too_short,  // header present but less than one Ethernet header after it
};
inline constexpr auto kDecapErrorNames = enum_names<DecapError>({
    {DecapError::too_short, "too_short"},
    {DecapError::no_vni_flag, "no_vni_flag"},
    {DecapError::inner_too_short, "inner_too_short"},
});

struct VxlanHeader {
    uint8_t flags = 0;
    uint32_t vni = 0;

    // Writes the 8 bytes a sender puts on the wire: I flag set, reserved zero.
    static void encode(std::byte* out, uint32_t vni);
};

struct Decapped {
    VxlanHeader header;
    Bytes frame;        // the inner Ethernet frame, as received (possibly truncated)
    InnerFrame inner;   // what we learned from parsing it
};

using DecapResult = Result<Decapped, DecapError>;

// The VNI of a datagram whose header says it carries one, without parsing the
// inner frame: for refusing a VNI before any further work. -1 otherwise.
int64_t peek_vni(Bytes datagram);

// Only the I bit is checked: RFC 7348 asks receivers to ignore the other flag
// bits and the reserved fields, and real senders do set them.
DecapResult decap_vxlan(Bytes datagram);

}  // namespace mirrortap
