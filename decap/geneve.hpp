// GENEVE decapsulation (RFC 8926) as an AWS Gateway Load Balancer sends it to
// the appliances behind it: outer UDP 6081, an 8-byte GENEVE header, options
// (GWLB's own under class 0x0108), then an inner IP packet without Ethernet.
// When a GWLB endpoint is a traffic-mirror target, that inner packet is the
// VXLAN mirror packet: IPv4/IPv6, UDP to 4789, VXLAN header, mirrored frame.
// Pure: bytes in, a view or a typed refusal out. No I/O, no allocation.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

#include "decap/bytes.hpp"
#include "decap/vxlan.hpp"

namespace mirrortap {

inline constexpr uint16_t kGenevePort = 6081;
inline constexpr size_t kGeneveHeaderBytes = 8;
inline constexpr size_t kGeneveOptionHeaderBytes = 4;
inline constexpr size_t kGeneveMaxOptionBytes = 63 * 4;  // 6-bit length in 4-byte words
inline constexpr uint16_t kGwlbOptionClass = 0x0108;
inline constexpr uint8_t kGwlbEndpointIdType = 1;    // 8 bytes
inline constexpr uint8_t kGwlbAttachmentIdType = 2;  // 8 bytes
inline constexpr uint8_t kGwlbFlowCookieType = 3;    // 4 bytes
inline constexpr uint8_t kGeneveCriticalType = 0x80; // option type's high bit

// Each value becomes a `reason` label (prefixed geneve_ there, so that the
// outer GENEVE's too_short is not VXLAN's): keep names stable and snake_case.
// Errors of the VXLAN packet inside are DecapError, counted under their own names.
enum class GeneveError : uint8_t {
    too_short,           // fewer than the 8 header bytes
    bad_version,         // version is not 0, the only one there is
    oam,                 // O bit: a control message, no packet to capture
    options_too_long,    // the header's option length runs past the datagram
    bad_option,          // an option runs past the option area, or a GWLB option has the wrong length
    critical_option,     // a critical option we do not know: RFC 8926 §3.5 says drop
    inner_not_ip,        // protocol type not IPv4/IPv6, or the IP version disagrees with it
    inner_truncated,     // inner IP or UDP header cut, or their lengths say more than is there
    inner_fragment,      // a fragment of the inner packet: no whole VXLAN packet in it
    inner_not_udp_4789,  // the inner packet is not UDP to 4789 (not a mirror packet)
    vxlan,               // the VXLAN packet inside is malformed: see GeneveRefusal::vxlan
};
// The metric labels: "geneve_too_short", ...; "vxlan" is never a label (the
// VXLAN packet's own DecapError is).
inline constexpr auto kGeneveErrorNames = enum_names<GeneveError>({
    {GeneveError::too_short, "geneve_too_short"},
    {GeneveError::bad_version, "geneve_bad_version"},
    {GeneveError::oam, "geneve_oam"},
    {GeneveError::options_too_long, "geneve_options_too_long"},
    {GeneveError::bad_option, "geneve_bad_option"},
    {GeneveError::critical_option, "geneve_critical_option"},
    {GeneveError::inner_not_ip, "geneve_inner_not_ip"},
    {GeneveError::inner_truncated, "geneve_inner_truncated"},
    {GeneveError::inner_fragment, "geneve_inner_fragment"},
    {GeneveError::inner_not_udp_4789, "geneve_inner_not_udp_4789"},
    {GeneveError::vxlan, "vxlan"},
});

struct GeneveHeader {
    uint8_t version = 0;
    uint8_t option_bytes = 0;  // opt len * 4
    bool oam = false;          // O bit
    bool critical = false;     // C bit: critical options present
    uint16_t protocol_type = 0;
    uint32_t vni = 0;          // GENEVE's own VNI (GWLB sends 0); not the mirror session's
};

// What GWLB tells about the flow; each field is there only when its option was.
struct GwlbOptions {
    bool has_endpoint_id = false;
    bool has_attachment_id = false;
    bool has_flow_cookie = false;
    uint64_t endpoint_id = 0;
    uint64_t attachment_id = 0;
    uint32_t flow_cookie = 0;
};

struct GeneveDecapped {
    GeneveHeader header;
    GwlbOptions gwlb;
    uint8_t option_count = 0;
    // The inner IP source (IPv4 mapped to ::ffff:a.b.c.d): the mirror source,
    // the address a VXLAN datagram sent directly would have come from.
    std::array<uint8_t, 16> mirror_source{};
    Bytes vxlan_payload;   // the inner UDP payload: VXLAN header + frame
    Decapped vxlan;        // decap_vxlan of it
};

struct GeneveRefusal {
    GeneveError reason{};
    DecapError vxlan{};  // when reason == GeneveError::vxlan
};

using GeneveResult = Result<GeneveDecapped, GeneveRefusal>;

// Options: unknown non-critical ones are skipped; the C bit is not needed to
// find critical ones (each option's type says so), so it is only reported.
// Inner IP: IPv4 with any header length, or IPv6 whose next header is UDP (an
// extension header is not a mirror packet; a fragment header is a fragment).
// Checksums are not verified: GWLB does not alter what it carries.
// Bytes after the inner IP packet's own length are ignored.
GeneveResult decap_geneve(Bytes datagram);

}  // namespace mirrortap
