#include "decap/frame.hpp"

#include <algorithm>
#include <cstring>

namespace mirrortap {

namespace {

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoSctp = 132;
constexpr uint8_t kProtoIcmpv6 = 58;

bool is_vlan_tpid(uint16_t t) {
    return t == kEtherTypeVlan || t == kEtherTypeQinQ || t == kEtherTypeQinQOld;
}

void copy_addr(std::array<uint8_t, 16>& to, Bytes from, size_t at, size_t n) {
    std::memcpy(to.data(), from.data() + at, n);
}

// Ports (or ICMP type/code) from the transport header, when it was captured.
void parse_transport(Bytes frame, size_t at, InnerFrame& out) {
    FlowKey& flow = out.flow;
    switch (flow.protocol) {
        case kProtoTcp:
        case kIpProtocolUdp:
        case kProtoSctp:
            if (frame.size() >= at + 4) {
                flow.src_port = load_be16(frame, at);
                flow.dst_port = load_be16(frame, at + 2);
                out.has_ports = true;
            }
            break;
        case kProtoIcmp:
        case kProtoIcmpv6:
            // Type and code only in the first slot: an echo request and its
            // reply must still hash alike, so neither is put in dst_port.
            break;
        default:
            break;
    }
}

void parse_ipv4(Bytes frame, size_t at, InnerFrame& out) {
    if (frame.size() < at + kIpv4MinHeaderBytes) return;
    const uint8_t version_ihl = uint8_t(frame[at]);
    if ((version_ihl >> 4) != 4) return;
    const size_t header_len = size_t(version_ihl & 0x0F) * 4;
    if (header_len < kIpv4MinHeaderBytes) return;
    FlowKey& flow = out.flow;
    flow.kind = FlowKind::ipv4;
    flow.protocol = uint8_t(frame[at + 9]);
    copy_addr(flow.src, frame, at + 12, 4);
    copy_addr(flow.dst, frame, at + 16, 4);
    const uint32_t total_length = load_be16(frame, at + 2);
    out.original_length = std::max<uint32_t>(out.original_length, uint32_t(at) + total_length);
    // Only the first fragment carries the transport header.
    out.has_protocol = true;
    const uint16_t flags_offset = load_be16(frame, at + 6);
    const uint16_t fragment_offset = flags_offset & kIpv4FragmentOffset;
    out.fragment = fragment_offset != 0 || (flags_offset & kIpv4MoreFragments) != 0;
    if (fragment_offset == 0) parse_transport(frame, at + header_len, out);
}

bool is_ipv6_extension(uint8_t next) {
    return next == kIpv6HopByHop || next == kIpv6Routing || next == kIpv6Fragment || next == kIpv6DestinationOptions;
}

// From the fixed header's next-header field to the upper layer: where its
// header starts, or 0 when the walk could not get there (truncated, too many
// headers, or a later fragment, whose payload is not the next header).
size_t walk_ipv6_extensions(Bytes frame, size_t at, InnerFrame& out) {
    uint8_t next = out.flow.protocol;
    for (size_t n = 0; is_ipv6_extension(next); ++n) {
        out.ipv6_extensions = true;
        if (n == kMaxIpv6ExtensionHeaders || frame.size() < at + 8) return 0;
        const uint8_t following = uint8_t(frame[at]);
        if (next == kIpv6Fragment) {
            out.fragment = true;
            const uint16_t fragment_offset = load_be16(frame, at + 2) >> 3;
            if (fragment_offset != 0) {
                // The protocol is named, but not reachable if it is itself an extension.
                if (is_ipv6_extension(following)) return 0;
                out.flow.protocol = following;
                out.has_protocol = true;
                return 0;
            }
            at += 8;
        } else {
            at += (size_t(uint8_t(frame[at + 1])) + 1) * 8;
        }
        next = following;
        out.flow.protocol = next;
    }
    out.has_protocol = true;
    return at;
}

void parse_ipv6(Bytes frame, size_t at, InnerFrame& out) {
    if (frame.size() < at + kIpv6HeaderBytes) return;
    if ((uint8_t(frame[at]) >> 4) != 6) return;
    FlowKey& flow = out.flow;
    flow.kind = FlowKind::ipv6;
    flow.protocol = uint8_t(frame[at + 6]);
    copy_addr(flow.src, frame, at + 8, 16);
    copy_addr(flow.dst, frame, at + 24, 16);
    const uint32_t payload_length = load_be16(frame, at + 4);
    // A zero payload length means a jumbogram; keep what we have then.
    if (payload_length != 0) {
        out.original_length = std::max<uint32_t>(
            out.original_length, uint32_t(at + kIpv6HeaderBytes) + payload_length);
    }
    const size_t upper = walk_ipv6_extensions(frame, at + kIpv6HeaderBytes, out);
    if (!out.has_protocol) flow.protocol = 0;  // one key for "unknown", whatever header the walk stopped at
    if (upper != 0) parse_transport(frame, upper, out);
}

}  // namespace

InnerFrame parse_inner_frame(Bytes frame) {
    InnerFrame out;
    out.captured_length = uint32_t(frame.size());
    out.original_length = uint32_t(frame.size());
    if (frame.size() < kEthernetHeaderBytes) return out;

    // Non-IP frames are keyed by their MAC pair.
    copy_addr(out.flow.dst, frame, 0, 6);
    copy_addr(out.flow.src, frame, 6, 6);

    size_t at = 12;
    uint16_t type = load_be16(frame, at);
    at += 2;
    while (is_vlan_tpid(type) && out.vlan_count < kMaxVlanTags && frame.size() >= at + 4) {
        out.vlan_ids[out.vlan_count++] = load_be16(frame, at) & 0x0FFF;
        type = load_be16(frame, at + 2);
        at += 4;
    }
    out.ether_type = type;
    out.l3_offset = uint32_t(at);
    if (is_vlan_tpid(type)) return out;  // tag cut short by truncation, or too many tags

    FlowKey mac_key = out.flow;
    out.flow = {};
    if (type == kEtherTypeIpv4) parse_ipv4(frame, at, out);
    else if (type == kEtherTypeIpv6) parse_ipv6(frame, at, out);
    if (out.flow.kind == FlowKind::non_ip) out.flow = mac_key;
    return out;
}

}  // namespace mirrortap
