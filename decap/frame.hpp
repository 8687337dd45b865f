// Inner Ethernet frame parsing: VLAN tags, IPv4/IPv6 (extension headers
// walked), TCP/UDP/SCTP ports: the flow key of the IDS feed and of the pcap
// flow index (sinks/flow_index.hpp), from one parser.
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
// Tags walked before giving up: QinQ is two, four leaves room for stacked
// provider tags; a fifth TPID leaves the frame non-IP (keyed by its MACs), so
// vlan_ids always hold every tag there was.
inline constexpr size_t kMaxVlanTags = 4;
inline constexpr uint8_t kIpProtocolUdp = 17;
inline constexpr size_t kIpv4MinHeaderBytes = 20;
inline constexpr size_t kIpv6HeaderBytes = 40;
// IPv6 extension headers walked to the upper-layer protocol (RFC 8200 4.1).
inline constexpr uint8_t kIpv6HopByHop = 0;
inline constexpr uint8_t kIpv6Routing = 43;
inline constexpr uint8_t kIpv6Fragment = 44;
inline constexpr uint8_t kIpv6DestinationOptions = 60;
// More than this many extension headers is not a packet anyone sends; the
// walk stops there (protocol unknown) so its cost stays bounded.
inline constexpr size_t kMaxIpv6ExtensionHeaders = 8;
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
    // flow.protocol is the upper-layer protocol: always for IPv4; for IPv6
    // when the extension header walk reached a header it does not walk.
    bool has_protocol = false;
    bool fragment = false;          // an IPv4 or IPv6 fragment, first or later
    bool ipv6_extensions = false;   // an IPv6 extension header was present
    // At least the Ethernet header was captured: MACs and ether_type are real.
    bool has_ethernet() const { return captured_length >= kEthernetHeaderBytes; }
    bool truncated() const { return original_length > captured_length; }
};

InnerFrame parse_inner_frame(Bytes frame);

}  // namespace mirrortap
