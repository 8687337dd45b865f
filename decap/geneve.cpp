#include "decap/geneve.hpp"

namespace mirrortap {

namespace {

constexpr uint8_t kIpv6FragmentHeader = 44;
constexpr size_t kUdpHeaderBytes = 8;

uint64_t load_be64(Bytes b, size_t at) { return (uint64_t(load_be32(b, at)) << 32) | load_be32(b, at + 4); }

Failure<GeneveRefusal> refuse(GeneveError reason) { return fail(GeneveRefusal{reason, {}}); }

// A step of the parse: done, or the refusal that ends it.
using Step = Result<Done, GeneveError>;

// Reads one option's data into `gwlb` when it is one of GWLB's. Refused: a GWLB
// option whose length is not its type's, or an unknown critical option.
Step read_option(uint16_t cls, uint8_t type, Bytes data, GwlbOptions& gwlb) {
    const uint8_t plain = type & uint8_t(~kGeneveCriticalType);
    if (cls == kGwlbOptionClass && (plain == kGwlbEndpointIdType || plain == kGwlbAttachmentIdType)) {
        if (data.size() != 8) return fail(GeneveError::bad_option);
        if (plain == kGwlbEndpointIdType) gwlb.has_endpoint_id = true, gwlb.endpoint_id = load_be64(data, 0);
        else gwlb.has_attachment_id = true, gwlb.attachment_id = load_be64(data, 0);
        return {};
    }
    if (cls == kGwlbOptionClass && plain == kGwlbFlowCookieType) {
        if (data.size() != 4) return fail(GeneveError::bad_option);
        gwlb.has_flow_cookie = true;
        gwlb.flow_cookie = load_be32(data, 0);
        return {};
    }
    if (type & kGeneveCriticalType) return fail(GeneveError::critical_option);
    return {};  // not critical, not ours: skipped (RFC 8926 §3.5)
}

// The UDP payload in `l4` (the inner packet after its IP header, cut to the
// IP length), or a refusal.
Result<Bytes, GeneveError> inner_udp_payload(Bytes l4) {
    if (l4.size() < kUdpHeaderBytes) return fail(GeneveError::inner_truncated);
    if (load_be16(l4, 2) != kVxlanPort) return fail(GeneveError::inner_not_udp_4789);
    const uint16_t udp_length = load_be16(l4, 4);
    if (udp_length < kUdpHeaderBytes || udp_length > l4.size()) return fail(GeneveError::inner_truncated);
    return l4.subspan(kUdpHeaderBytes, udp_length - kUdpHeaderBytes);
}

// The inner IP packet's UDP payload; its source goes to `mirror_source`.
Result<Bytes, GeneveError> inner_ipv4(Bytes ip, std::array<uint8_t, 16>& mirror_source) {
    if (ip.size() < kIpv4MinHeaderBytes) return fail(GeneveError::inner_truncated);
    if ((uint8_t(ip[0]) >> 4) != 4) return fail(GeneveError::inner_not_ip);
    const size_t header_bytes = size_t(uint8_t(ip[0]) & 0x0F) * 4;
    const uint16_t total = load_be16(ip, 2);
    if (header_bytes < kIpv4MinHeaderBytes || header_bytes > total || total > ip.size())
        return fail(GeneveError::inner_truncated);
    if (load_be16(ip, 6) & (kIpv4MoreFragments | kIpv4FragmentOffset)) return fail(GeneveError::inner_fragment);
    if (uint8_t(ip[9]) != kIpProtocolUdp) return fail(GeneveError::inner_not_udp_4789);
    mirror_source = {};
    mirror_source[10] = mirror_source[11] = 0xFF;
    for (size_t i = 0; i < 4; ++i) mirror_source[12 + i] = uint8_t(ip[12 + i]);
    return inner_udp_payload(ip.subspan(header_bytes, total - header_bytes));
}

Result<Bytes, GeneveError> inner_ipv6(Bytes ip, std::array<uint8_t, 16>& mirror_source) {
    if (ip.size() < kIpv6HeaderBytes) return fail(GeneveError::inner_truncated);
    if ((uint8_t(ip[0]) >> 4) != 6) return fail(GeneveError::inner_not_ip);
    const size_t payload_bytes = load_be16(ip, 4);
    if (payload_bytes > ip.size() - kIpv6HeaderBytes) return fail(GeneveError::inner_truncated);
    const uint8_t next = uint8_t(ip[6]);
    if (next == kIpv6FragmentHeader) return fail(GeneveError::inner_fragment);
    if (next != kIpProtocolUdp) return fail(GeneveError::inner_not_udp_4789);
    for (size_t i = 0; i < 16; ++i) mirror_source[i] = uint8_t(ip[8 + i]);
    return inner_udp_payload(ip.subspan(kIpv6HeaderBytes, payload_bytes));
}

Result<Bytes, GeneveError> inner_payload(uint16_t protocol_type, Bytes ip, std::array<uint8_t, 16>& mirror_source) {
    if (protocol_type == kEtherTypeIpv4) return inner_ipv4(ip, mirror_source);
    if (protocol_type == kEtherTypeIpv6) return inner_ipv6(ip, mirror_source);
    return fail(GeneveError::inner_not_ip);
}

}  // namespace

GeneveResult decap_geneve(Bytes datagram) {
    GeneveDecapped v;
    if (datagram.size() < kGeneveHeaderBytes) return refuse(GeneveError::too_short);
    const uint8_t first = uint8_t(datagram[0]), second = uint8_t(datagram[1]);
    v.header.version = first >> 6;
    v.header.option_bytes = uint8_t((first & 0x3F) * 4);
    v.header.oam = (second & 0x80) != 0;
    v.header.critical = (second & 0x40) != 0;
    v.header.protocol_type = load_be16(datagram, 2);
    v.header.vni = load_be24(datagram, 4);
    if (v.header.version != 0) return refuse(GeneveError::bad_version);
    if (v.header.oam) return refuse(GeneveError::oam);
    if (datagram.size() - kGeneveHeaderBytes < v.header.option_bytes) return refuse(GeneveError::options_too_long);

    Bytes options = datagram.subspan(kGeneveHeaderBytes, v.header.option_bytes);
    while (!options.empty()) {  // bounded: each pass takes at least 4 bytes
        if (options.size() < kGeneveOptionHeaderBytes) return refuse(GeneveError::bad_option);
        const size_t data_bytes = size_t(uint8_t(options[3]) & 0x1F) * 4;
        if (options.size() - kGeneveOptionHeaderBytes < data_bytes) return refuse(GeneveError::bad_option);
        const Step read = read_option(load_be16(options, 0), uint8_t(options[2]),
                                      options.subspan(kGeneveOptionHeaderBytes, data_bytes), v.gwlb);
        if (!read) return refuse(read.error());
        ++v.option_count;
        options = options.subspan(kGeneveOptionHeaderBytes + data_bytes);
    }

    const auto payload = inner_payload(v.header.protocol_type,
                                       datagram.subspan(kGeneveHeaderBytes + v.header.option_bytes), v.mirror_source);
    if (!payload) return refuse(payload.error());
    v.vxlan_payload = *payload;

    const DecapResult inner = decap_vxlan(v.vxlan_payload);
    if (!inner) return fail(GeneveRefusal{GeneveError::vxlan, inner.error()});
    v.vxlan = *inner;
    return v;
}

}  // namespace mirrortap
