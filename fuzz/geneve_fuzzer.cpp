// GENEVE decapsulation as a Gateway Load Balancer sends it (--listen-geneve):
// the code that reads whatever anyone on the network sends to UDP 6081. The
// input is one datagram's payload (what recvmmsg hands the collector).
#include "decap/geneve.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace mirrortap;

namespace {

bool is_subspan(Bytes inner, Bytes outer) {
    return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

void check_refusal(const GeneveResult& r, Bytes datagram) {
    const size_t size = datagram.size();
    FUZZ_CHECK(kGeneveErrorNames(r.error().reason) != "unknown");
    switch (r.error().reason) {
        case GeneveError::too_short: FUZZ_CHECK(size < kGeneveHeaderBytes); break;
        case GeneveError::bad_version: FUZZ_CHECK(size >= kGeneveHeaderBytes && (uint8_t(datagram[0]) >> 6) != 0); break;
        case GeneveError::oam: FUZZ_CHECK(size >= kGeneveHeaderBytes && (uint8_t(datagram[1]) & 0x80)); break;
        case GeneveError::options_too_long:
            FUZZ_CHECK(size >= kGeneveHeaderBytes && size < kGeneveHeaderBytes + (uint8_t(datagram[0]) & 0x3F) * 4u);
            break;
        case GeneveError::inner_not_ip:
        case GeneveError::inner_truncated:
        case GeneveError::inner_fragment:
        case GeneveError::inner_not_udp_4789:
        case GeneveError::bad_option:
        case GeneveError::critical_option:
            FUZZ_CHECK(size >= kGeneveHeaderBytes + (uint8_t(datagram[0]) & 0x3F) * 4u);
            break;
        case GeneveError::vxlan:
            FUZZ_CHECK(kDecapErrorNames(r.error().vxlan) != "unknown");
            break;
    }
    if (r.error().reason == GeneveError::inner_not_ip) {
        // Either not IP at all, or the IP version disagrees with the protocol type.
        const uint16_t protocol = load_be16(datagram, 2);
        const size_t at = kGeneveHeaderBytes + (uint8_t(datagram[0]) & 0x3F) * 4u;
        const bool ip = protocol == kEtherTypeIpv4 || protocol == kEtherTypeIpv6;
        FUZZ_CHECK(!ip || (at < size && (uint8_t(datagram[at]) >> 4) != (protocol == kEtherTypeIpv4 ? 4 : 6)));
    }
}

void check_accepted(const GeneveDecapped& v, Bytes datagram) {
    const size_t options_end = kGeneveHeaderBytes + v.header.option_bytes;
    FUZZ_CHECK(v.header.version == 0 && !v.header.oam);
    FUZZ_CHECK(v.header.option_bytes == (uint8_t(datagram[0]) & 0x3F) * 4u);
    FUZZ_CHECK(v.header.option_bytes <= kGeneveMaxOptionBytes);
    FUZZ_CHECK(v.option_count * kGeneveOptionHeaderBytes <= v.header.option_bytes);
    FUZZ_CHECK(v.header.protocol_type == kEtherTypeIpv4 || v.header.protocol_type == kEtherTypeIpv6);
    // The VXLAN packet is a view behind the options and an IP and UDP header.
    FUZZ_CHECK(is_subspan(v.vxlan_payload, datagram));
    const size_t ip_and_udp = v.header.protocol_type == kEtherTypeIpv4 ? 20 + 8 : 40 + 8;
    FUZZ_CHECK(size_t(v.vxlan_payload.data() - datagram.data()) >= options_end + ip_and_udp);
    const std::byte* ip = datagram.data() + options_end;
    FUZZ_CHECK((uint8_t(ip[0]) >> 4) == (v.header.protocol_type == kEtherTypeIpv4 ? 4 : 6));
    // UDP to 4789, its length the VXLAN packet's plus 8.
    const Bytes udp(v.vxlan_payload.data() - 8, 8);
    FUZZ_CHECK(load_be16(udp, 2) == kVxlanPort);
    FUZZ_CHECK(load_be16(udp, 4) == v.vxlan_payload.size() + 8);
    // What is inside decodes as decap_vxlan says, to the byte.
    const DecapResult again = decap_vxlan(v.vxlan_payload);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->header.vni == v.vxlan.header.vni && v.vxlan.header.vni <= kMaxVni);
    FUZZ_CHECK(v.vxlan.frame.data() == v.vxlan_payload.data() + kVxlanHeaderBytes);
    FUZZ_CHECK(v.vxlan.frame.size() == v.vxlan_payload.size() - kVxlanHeaderBytes);
    FUZZ_CHECK(v.vxlan.inner.captured_length == v.vxlan.frame.size());
    // An IPv4 mirror source is mapped (::ffff:a.b.c.d), its bytes those of the header.
    if (v.header.protocol_type == kEtherTypeIpv4) {
        FUZZ_CHECK(v.mirror_source[10] == 0xFF && v.mirror_source[11] == 0xFF);
        for (size_t i = 0; i < 4; ++i) FUZZ_CHECK(v.mirror_source[12 + i] == uint8_t(ip[12 + i]));
    } else {
        for (size_t i = 0; i < 16; ++i) FUZZ_CHECK(v.mirror_source[i] == uint8_t(ip[8 + i]));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const Bytes datagram(reinterpret_cast<const std::byte*>(data), size);
    const GeneveResult r = decap_geneve(datagram);
    if (r.ok()) check_accepted(*r, datagram);
    else check_refusal(r, datagram);

    // Pure: the same bytes decode the same way.
    const GeneveResult again = decap_geneve(datagram);
    FUZZ_CHECK(again.ok() == r.ok() && (r.ok() || again.error().reason == r.error().reason));
    // Every shorter prefix of an accepted datagram is refused, unless what was
    // cut was only bytes the inner IP length left out (padding).
    if (r.ok() && size > 0) {
        const size_t used = size_t(r->vxlan_payload.data() + r->vxlan_payload.size() - datagram.data());
        FUZZ_CHECK(!decap_geneve(datagram.first(used - 1)).ok());
    }
    return 0;
}
