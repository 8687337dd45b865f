#include "decap/geneve.hpp"

namespace mirrortap {

namespace {

constexpr uint8_t kIpv6FragmentHeader = 44;
constexpr size_t kUdpHeaderBytes = 8;

uint64_t load_be64(Bytes b, size_t at) { return (uint64_t(load_be32(b, at)) << 32) | load_be32(b, at + 4); }

// One parse; `fail` records the first refusal and the caller returns it.
struct Parse {
    GeneveResult r;
    GeneveResult& fail(GeneveError e) {
        r.error_set = true;
        r.error = e;
        return r;
    }
};

// Reads one option's data into `gwlb` when it is one of GWLB's. False: a GWLB
// option whose length is not its type's, or an unknown critical option.
bool read_option(uint16_t cls, uint8_t type, Bytes data, GwlbOptions& gwlb, GeneveError& why) {
    const uint8_t plain = type & uint8_t(~kGeneveCriticalType);
    if (cls == kGwlbOptionClass && (plain == kGwlbEndpointIdType || plain == kGwlbAttachmentIdType)) {
        if (data.size() != 8) return why = GeneveError::bad_option, false;
        if (plain == kGwlbEndpointIdType) gwlb.has_endpoint_id = true, gwlb.endpoint_id = load_be64(data, 0);
        else gwlb.has_attachment_id = true, gwlb.attachment_id = load_be64(data, 0);
        return true;
    }
    if (cls == kGwlbOptionClass && plain == kGwlbFlowCookieType) {
        if (data.size() != 4) return why = GeneveError::bad_option, false;
        gwlb.has_flow_cookie = true;
        gwlb.flow_cookie = load_be32(data, 0);
        return true;
    }
    if (type & kGeneveCriticalType) return why = GeneveError::critical_option, false;
    return true;  // not critical, not ours: skipped (RFC 8926 §3.5)
}

// The UDP payload in `l4` (the inner packet after its IP header, cut to the
// IP length), or a refusal.
bool inner_udp_payload(Bytes l4, Bytes& payload, GeneveError& why) {
    if (l4.size() < kUdpHeaderBytes) return why = GeneveError::inner_truncated, false;
    if (load_be16(l4, 2) != kVxlanPort) return why = GeneveError::inner_not_udp_4789, false;
    const uint16_t udp_length = load_be16(l4, 4);
    if (udp_length < kUdpHeaderBytes || udp_length > l4.size()) return why = GeneveError::inner_truncated, false;
    payload = l4.subspan(kUdpHeaderBytes, udp_length - kUdpHeaderBytes);
    return true;
}

bool inner_ipv4(Bytes ip, GeneveDecapped& out, GeneveError& why) {
    if (ip.size() < kIpv4MinHeaderBytes) return why = GeneveError::inner_truncated, false;
    if ((uint8_t(ip[0]) >> 4) != 4) return why = GeneveError::inner_not_ip, false;
    const size_t header_bytes = size_t(uint8_t(ip[0]) & 0x0F) * 4;
    const uint16_t total = load_be16(ip, 2);
    if (header_bytes < kIpv4MinHeaderBytes || header_bytes > total || total > ip.size())
        return why = GeneveError::inner_truncated, false;
    if (load_be16(ip, 6) & (kIpv4MoreFragments | kIpv4FragmentOffset)) return why = GeneveError::inner_fragment, false;
    if (uint8_t(ip[9]) != kIpProtocolUdp) return why = GeneveError::inner_not_udp_4789, false;
    out.mirror_source = {};
    out.mirror_source[10] = out.mirror_source[11] = 0xFF;
    for (size_t i = 0; i < 4; ++i) out.mirror_source[12 + i] = uint8_t(ip[12 + i]);
    return inner_udp_payload(ip.subspan(header_bytes, total - header_bytes), out.vxlan_payload, why);
}

bool inner_ipv6(Bytes ip, GeneveDecapped& out, GeneveError& why) {
    if (ip.size() < kIpv6HeaderBytes) return why = GeneveError::inner_truncated, false;
    if ((uint8_t(ip[0]) >> 4) != 6) return why = GeneveError::inner_not_ip, false;
    const size_t payload_bytes = load_be16(ip, 4);
    if (payload_bytes > ip.size() - kIpv6HeaderBytes) return why = GeneveError::inner_truncated, false;
    const uint8_t next = uint8_t(ip[6]);
    if (next == kIpv6FragmentHeader) return why = GeneveError::inner_fragment, false;
    if (next != kIpProtocolUdp) return why = GeneveError::inner_not_udp_4789, false;
    for (size_t i = 0; i < 16; ++i) out.mirror_source[i] = uint8_t(ip[8 + i]);
    return inner_udp_payload(ip.subspan(kIpv6HeaderBytes, payload_bytes), out.vxlan_payload, why);
}

}  // namespace

std::string_view to_string(GeneveError e) {
    switch (e) {
        case GeneveError::too_short: return "geneve_too_short";
        case GeneveError::bad_version: return "geneve_bad_version";
        case GeneveError::oam: return "geneve_oam";
        case GeneveError::options_too_long: return "geneve_options_too_long";
        case GeneveError::bad_option: return "geneve_bad_option";
        case GeneveError::critical_option: return "geneve_critical_option";
        case GeneveError::inner_not_ip: return "geneve_inner_not_ip";
        case GeneveError::inner_truncated: return "geneve_inner_truncated";
        case GeneveError::inner_fragment: return "geneve_inner_fragment";
        case GeneveError::inner_not_udp_4789: return "geneve_inner_not_udp_4789";
        case GeneveError::vxlan: return "vxlan";
    }
    return "unknown";
}

GeneveResult decap_geneve(Bytes datagram) {
    Parse p;
    GeneveDecapped& v = p.r.value;
    if (datagram.size() < kGeneveHeaderBytes) return p.fail(GeneveError::too_short);
    const uint8_t first = uint8_t(datagram[0]), second = uint8_t(datagram[1]);
    v.header.version = first >> 6;
    v.header.option_bytes = uint8_t((first & 0x3F) * 4);
    v.header.oam = (second & 0x80) != 0;
    v.header.critical = (second & 0x40) != 0;
    v.header.protocol_type = load_be16(datagram, 2);
    v.header.vni = load_be24(datagram, 4);
    if (v.header.version != 0) return p.fail(GeneveError::bad_version);
    if (v.header.oam) return p.fail(GeneveError::oam);
    if (datagram.size() - kGeneveHeaderBytes < v.header.option_bytes) return p.fail(GeneveError::options_too_long);

    Bytes options = datagram.subspan(kGeneveHeaderBytes, v.header.option_bytes);
    GeneveError why{};
    while (!options.empty()) {  // bounded: each pass takes at least 4 bytes
        if (options.size() < kGeneveOptionHeaderBytes) return p.fail(GeneveError::bad_option);
        const size_t data_bytes = size_t(uint8_t(options[3]) & 0x1F) * 4;
        if (options.size() - kGeneveOptionHeaderBytes < data_bytes) return p.fail(GeneveError::bad_option);
        if (!read_option(load_be16(options, 0), uint8_t(options[2]),
                         options.subspan(kGeneveOptionHeaderBytes, data_bytes), v.gwlb, why))
            return p.fail(why);
        ++v.option_count;
        options = options.subspan(kGeneveOptionHeaderBytes + data_bytes);
    }

    const Bytes ip = datagram.subspan(kGeneveHeaderBytes + v.header.option_bytes);
    bool inner_ok = false;
    if (v.header.protocol_type == kEtherTypeIpv4) inner_ok = inner_ipv4(ip, v, why);
    else if (v.header.protocol_type == kEtherTypeIpv6) inner_ok = inner_ipv6(ip, v, why);
    else why = GeneveError::inner_not_ip;
    if (!inner_ok) return p.fail(why);

    const DecapResult inner = decap_vxlan(v.vxlan_payload);
    if (!inner.ok()) {
        p.r.vxlan_error = inner.error;
        return p.fail(GeneveError::vxlan);
    }
    v.vxlan = inner.value;
    return p.r;
}

}  // namespace mirrortap
