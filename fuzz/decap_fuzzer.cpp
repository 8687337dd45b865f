// VXLAN decapsulation, inner frame parsing and flow keys: the code that reads
// whatever anyone on the network sends to UDP 4789. The input is one
// datagram's payload (what recvmmsg hands the collector).
#include <cstring>

#include "decap/flow.hpp"
#include "decap/frame.hpp"
#include "decap/vxlan.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace mirrortap;

namespace {

bool is_subspan(Bytes inner, Bytes outer) {
    return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

FlowKey swapped(const FlowKey& k) {
    FlowKey s = k;
    std::swap(s.src, s.dst);
    std::swap(s.src_port, s.dst_port);
    return s;
}

// Both directions of a flow land on one output, whatever the seed.
void check_symmetric(const FlowKey& key, uint32_t seed) {
    FUZZ_CHECK(FlowHash::symmetric(key, seed) == FlowHash::symmetric(swapped(key), seed));
    FUZZ_CHECK(FlowHash::symmetric(key, seed) == FlowHash::symmetric(key, seed));
}

bool all_zero(const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (p[i]) return false;
    return true;
}

void check_inner(const InnerFrame& f, Bytes frame, uint32_t seed) {
    FUZZ_CHECK(f.captured_length == frame.size());
    FUZZ_CHECK(f.original_length >= f.captured_length);
    FUZZ_CHECK(f.truncated() == (f.original_length > f.captured_length));
    FUZZ_CHECK(f.vlan_count <= kMaxVlanTags);
    for (size_t i = 0; i < kMaxVlanTags; ++i) FUZZ_CHECK(f.vlan_ids[i] <= 0x0FFF);
    if (frame.size() >= kEthernetHeaderBytes) {
        FUZZ_CHECK(f.l3_offset >= kEthernetHeaderBytes);
        FUZZ_CHECK(f.l3_offset <= frame.size());
        FUZZ_CHECK(f.l3_offset == kEthernetHeaderBytes + 4 * ((f.l3_offset - kEthernetHeaderBytes) / 4));
    }
    const FlowKey& k = f.flow;
    switch (k.kind) {
        case FlowKind::ipv4:
            FUZZ_CHECK(f.ether_type == kEtherTypeIpv4);
            FUZZ_CHECK(f.l3_offset + 20 <= frame.size());
            FUZZ_CHECK(std::memcmp(k.src.data(), frame.data() + f.l3_offset + 12, 4) == 0);
            FUZZ_CHECK(std::memcmp(k.dst.data(), frame.data() + f.l3_offset + 16, 4) == 0);
            // Twelve zero bytes after an IPv4 address: one key type for both families.
            FUZZ_CHECK(all_zero(k.src.data() + 4, 12) && all_zero(k.dst.data() + 4, 12));
            break;
        case FlowKind::ipv6:
            FUZZ_CHECK(f.ether_type == kEtherTypeIpv6);
            FUZZ_CHECK(f.l3_offset + 40 <= frame.size());
            FUZZ_CHECK(std::memcmp(k.src.data(), frame.data() + f.l3_offset + 8, 16) == 0);
            FUZZ_CHECK(std::memcmp(k.dst.data(), frame.data() + f.l3_offset + 24, 16) == 0);
            break;
        case FlowKind::non_ip:
            FUZZ_CHECK(k.protocol == 0);
            FUZZ_CHECK(!f.has_ports);
            FUZZ_CHECK(!f.has_protocol && !f.fragment && !f.ipv6_extensions);
            break;
    }
    // What the flow index keys by: a protocol it did not reach is 0, ports
    // come only with a protocol, extension headers only with IPv6.
    if (!f.has_protocol) FUZZ_CHECK(k.protocol == 0 && !f.has_ports);
    if (k.kind == FlowKind::ipv4) FUZZ_CHECK(f.has_protocol && !f.ipv6_extensions);
    if (f.has_ports && f.fragment) FUZZ_CHECK(k.kind == FlowKind::ipv4 || f.ipv6_extensions);
    if (!f.has_ethernet()) FUZZ_CHECK(k.kind == FlowKind::non_ip && f.vlan_count == 0);
    // Ports are only ever read from a TCP, UDP or SCTP header that was captured.
    if (f.has_ports) FUZZ_CHECK(k.protocol == 6 || k.protocol == 17 || k.protocol == 132);
    else FUZZ_CHECK(k.src_port == 0 && k.dst_port == 0);
    check_symmetric(k, 0);
    check_symmetric(k, seed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const Bytes datagram(reinterpret_cast<const std::byte*>(data), size);
    const uint32_t seed = size >= 4 ? load_be32(datagram, size - 4) : 0;

    const DecapResult r = decap_vxlan(datagram);
    if (!r.ok()) {
        FUZZ_CHECK(kDecapErrorNames(r.error()) != "unknown");
        switch (r.error()) {
            case DecapError::too_short: FUZZ_CHECK(size < kVxlanHeaderBytes); break;
            case DecapError::no_vni_flag: FUZZ_CHECK(size >= kVxlanHeaderBytes && !(data[0] & kVxlanFlagVniValid)); break;
            case DecapError::inner_too_short: FUZZ_CHECK(size < kVxlanHeaderBytes + kEthernetHeaderBytes); break;
        }
    } else {
        const Decapped& d = *r;
        // Only the I bit is checked; other flags and reserved bytes are ignored (RFC 7348).
        FUZZ_CHECK(size >= kVxlanHeaderBytes + kEthernetHeaderBytes);
        FUZZ_CHECK(d.header.flags == data[0] && (d.header.flags & kVxlanFlagVniValid));
        FUZZ_CHECK(d.header.vni == load_be24(datagram, 4) && d.header.vni <= kMaxVni);
        // The frame is a view of the datagram, never a copy: everything after the header.
        FUZZ_CHECK(is_subspan(d.frame, datagram));
        FUZZ_CHECK(d.frame.data() == datagram.data() + kVxlanHeaderBytes);
        FUZZ_CHECK(d.frame.size() == size - kVxlanHeaderBytes);
        check_inner(d.inner, d.frame, seed);

        // What the sender encodes, the collector decodes.
        std::byte header[kVxlanHeaderBytes];
        VxlanHeader::encode(header, d.header.vni);
        FUZZ_CHECK(uint8_t(header[0]) == kVxlanFlagVniValid);
        FUZZ_CHECK(load_be24(Bytes(header, sizeof header), 4) == d.header.vni);
    }

    // The same bytes as a bare inner frame, so that the frame parser sees
    // inputs that do not start with a valid VXLAN header too.
    const InnerFrame bare = parse_inner_frame(datagram);
    check_inner(bare, datagram, seed);
    const InnerFrame again = parse_inner_frame(datagram);
    FUZZ_CHECK(again.flow == bare.flow && again.original_length == bare.original_length);

    // Any key at all, not only parsed ones, hashes symmetrically.
    if (size >= 38) {
        FlowKey k;
        k.kind = FlowKind(data[0] % 3);
        k.protocol = data[1];
        k.src_port = load_be16(datagram, 2);
        k.dst_port = load_be16(datagram, 4);
        std::memcpy(k.src.data(), data + 6, 16);
        std::memcpy(k.dst.data(), data + 22, 16);
        check_symmetric(k, seed);
        k.dst = k.src;  // one address both ends: only the ports order the endpoints
        check_symmetric(k, seed);
    }
    return 0;
}
