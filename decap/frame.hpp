// Inner Ethernet frame parsing: VLAN tags, IPv4/IPv6, TCP/UDP/ICMP flow key.
// A frame that ends early is not an error here: AWS truncates frames to the
// session's packet length, and what was received is still worth writing.
#pragma once
#include <cstdint>

#include "decap/bytes.hpp"
#include "decap/flow.hpp"

namespace mirrortap {

inline constexpr size_t kEthernetHeaderBytes = 14;
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86DD;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;    // 802.1Q
inline constexpr uint16_t kEtherTypeQinQ = 0x88A8;    // 802.1ad
inline constexpr uint16_t kEtherTypeQinQOld = 0x9100; // pre-standard QinQ
inline constexpr size_t kMaxVlanTags = 2;
inline constexpr uint8_t kIpProtocolUdp = 17;
inline constexpr size_t kIpv4MinHeaderBytes = 20;
inline constexpr size_t kIpv6HeaderBytes = 40;
inline constexpr uint16_t kIpv4MoreFragments = 0x2000;   // in the flags/offset field
inline constexpr uint16_t kIpv4FragmentOffset = 0x1FFF;  // in 8-byte units; 0 in a first fragment

struct InnerFrame {
    FlowKey flow;
    uint16_t ether_type = 0;       // after any VLAN tags
    uint8_t vlan_count = 0;
    uint16_t vlan_ids[kMaxVlanTags] = {};  // outermost first
    uint32_t l3_offset = 0;        // where the IP header starts
    // Length of the frame before any truncation, from the IP header's own
    // length field; equals the bytes received when nothing says otherwise.
    uint32_t original_length = 0;
    uint32_t captured_length = 0;  // bytes actually present
    // flow.src_port/dst_port were read from a TCP/UDP/SCTP header. False for
    // other protocols, non-first fragments and frames cut before the ports, so
    // a port filter never mistakes "no ports" for port 0.
    bool has_ports = false;
    bool truncated() const { return original_length > captured_length; }
};

InnerFrame parse_inner_frame(Bytes frame);

}  // namespace mirrortap
