#include <doctest/doctest.h>

#include "decap/geneve.hpp"
#include "tests/support/frames.hpp"

using namespace mirrortap;
using namespace mirrortap::test;

namespace {

// The mirror packet GWLB carries: IPv4 10.0.1.5 -> 10.0.9.9, UDP 50000 -> 4789,
// VXLAN VNI 501, then a 60-byte inner Ethernet frame.
Buf vxlan_in_ipv4(uint32_t vni = 501, uint16_t frag = 0, uint8_t proto = 17, uint16_t dport = 4789) {
    const Buf frame = udp4_frame({192, 168, 0, 1}, {192, 168, 0, 2}, 1000, 53);
    const Buf vx = vxlan(vni, frame);
    Buf b;
    ipv4(b, proto, {10, 0, 1, 5}, {10, 0, 9, 9}, uint16_t(20 + 8 + vx.size()), frag);
    ports(b, 50000, dport);
    put16(b, uint16_t(8 + vx.size()));
    put16(b, 0);
    b.insert(b.end(), vx.begin(), vx.end());
    return b;
}

Buf vxlan_in_ipv6(uint8_t next = 17) {
    const Buf vx = vxlan(602, udp4_frame({192, 168, 0, 1}, {192, 168, 0, 2}, 1000, 53));
    Buf b;
    ipv6(b, next, 5, 9, uint16_t(8 + vx.size()));
    ports(b, 50000, 4789);
    put16(b, uint16_t(8 + vx.size()));
    put16(b, 0);
    b.insert(b.end(), vx.begin(), vx.end());
    return b;
}

// GENEVE header (version 0) with `options` (a multiple of 4 bytes) and `inner`.
Buf geneve(const Buf& options, const Buf& inner, uint16_t protocol = 0x0800, uint8_t flags = 0, uint8_t version = 0) {
    Buf b;
    put8(b, uint8_t(version << 6 | (options.size() / 4)));
    put8(b, flags);
    put16(b, protocol);
    put(b, {0, 0, 0, 0});  // VNI 0 and reserved, as GWLB sends it
    b.insert(b.end(), options.begin(), options.end());
    b.insert(b.end(), inner.begin(), inner.end());
    return b;
}

void option(Buf& b, uint16_t cls, uint8_t type, const Buf& data) {
    put16(b, cls);
    put8(b, type);
    put8(b, uint8_t(data.size() / 4));
    b.insert(b.end(), data.begin(), data.end());
}

Buf bytes_of(std::initializer_list<uint8_t> v) {
    Buf b;
    put(b, v);
    return b;
}

Buf gwlb_tlvs() {
    Buf b;
    option(b, 0x0108, 1, bytes_of({0x0e, 0x1d, 0x2c, 0x3b, 0x4a, 0x59, 0x68, 0x77}));  // endpoint id
    option(b, 0x0108, 2, bytes_of({0x00, 0x00, 0x00, 0x00, 0xca, 0xfe, 0xf0, 0x0d}));  // attachment id
    option(b, 0x0108, 3, bytes_of({0xde, 0xad, 0xbe, 0xef}));                          // flow cookie
    return b;
}

GeneveError refusal(const Buf& d) {
    const GeneveResult r = decap_geneve(view(d));
    REQUIRE_FALSE(r.ok());
    return r.error().reason;
}

}  // namespace

TEST_CASE("geneve: GWLB's options and the VXLAN mirror packet inside") {
    const Buf inner = vxlan_in_ipv4();
    const Buf d = geneve(gwlb_tlvs(), inner);
    const GeneveResult r = decap_geneve(view(d));
    REQUIRE(r.ok());
    CHECK(r->header.version == 0);
    CHECK(r->header.option_bytes == 32);
    CHECK(r->header.protocol_type == 0x0800);
    CHECK(r->option_count == 3);
    CHECK(r->gwlb.has_endpoint_id);
    CHECK(r->gwlb.endpoint_id == 0x0e1d2c3b4a596877ull);
    CHECK(r->gwlb.has_attachment_id);
    CHECK(r->gwlb.attachment_id == 0xcafef00dull);
    CHECK(r->gwlb.has_flow_cookie);
    CHECK(r->gwlb.flow_cookie == 0xdeadbeef);
    CHECK(r->vxlan.header.vni == 501);
    CHECK(r->vxlan.frame.size() == 60);
    CHECK(r->vxlan.frame.data() == d.data() + 8 + 32 + 20 + 8 + 8);  // a view, never a copy
    CHECK(r->vxlan_payload.size() == 68);
    const std::array<uint8_t, 16> source{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 0, 1, 5};
    CHECK(r->mirror_source == source);
}

TEST_CASE("geneve: without options, and over IPv6") {
    const GeneveResult plain = decap_geneve(view(geneve({}, vxlan_in_ipv4(16777215))));
    REQUIRE(plain.ok());
    CHECK(plain->option_count == 0);
    CHECK_FALSE(plain->gwlb.has_endpoint_id);
    CHECK_FALSE(plain->gwlb.has_attachment_id);
    CHECK_FALSE(plain->gwlb.has_flow_cookie);
    CHECK(plain->vxlan.header.vni == 16777215);

    const GeneveResult v6 = decap_geneve(view(geneve(gwlb_tlvs(), vxlan_in_ipv6(), 0x86DD)));
    REQUIRE(v6.ok());
    CHECK(v6->vxlan.header.vni == 602);
    CHECK(v6->mirror_source[0] == 0x20);
    CHECK(v6->mirror_source[15] == 5);
}

TEST_CASE("geneve: option areas of every length 0..252 bytes, in options of every data length") {
    const Buf inner = vxlan_in_ipv4();
    for (size_t words = 0; words <= 63; ++words) {
        // One option per pass taking as much of the area as it can (data up to
        // 31 words), the rest in further options: every option length occurs.
        Buf options;
        size_t left = words;
        size_t count = 0;
        while (left > 0) {
            const size_t data_words = std::min<size_t>(left - 1, 31);
            option(options, 0x0123, uint8_t(count), Buf(data_words * 4, std::byte{0x5A}));
            left -= 1 + data_words;
            ++count;
        }
        REQUIRE(options.size() == words * 4);
        const GeneveResult r = decap_geneve(view(geneve(options, inner)));
        CAPTURE(words);
        REQUIRE(r.ok());
        CHECK(r->header.option_bytes == words * 4);
        CHECK(r->option_count == count);
        CHECK(r->vxlan.header.vni == 501);
    }
}

TEST_CASE("geneve: every prefix of a valid packet is refused, only the whole accepted") {
    for (const Buf& whole : {geneve(gwlb_tlvs(), vxlan_in_ipv4()), geneve({}, vxlan_in_ipv6(), 0x86DD)}) {
        for (size_t n = 0; n < whole.size(); ++n) {
            CAPTURE(n);
            const GeneveResult r = decap_geneve(Bytes(whole.data(), n));
            CHECK_FALSE(r.ok());
            CHECK(kGeneveErrorNames(r.error().reason) != "unknown");
        }
        CHECK(decap_geneve(view(whole)).ok());
    }
    // Where each cut lands decides the reason.
    const Buf whole = geneve(gwlb_tlvs(), vxlan_in_ipv4());
    CHECK(decap_geneve(Bytes(whole.data(), 7)).error().reason == GeneveError::too_short);
    CHECK(decap_geneve(Bytes(whole.data(), 8)).error().reason == GeneveError::options_too_long);
    CHECK(decap_geneve(Bytes(whole.data(), 39)).error().reason == GeneveError::options_too_long);
    CHECK(decap_geneve(Bytes(whole.data(), 40)).error().reason == GeneveError::inner_truncated);
    CHECK(decap_geneve(Bytes(whole.data(), whole.size() - 1)).error().reason == GeneveError::inner_truncated);
}

TEST_CASE("geneve: each malformed header is its own refusal") {
    const Buf inner = vxlan_in_ipv4();
    CHECK(refusal({}) == GeneveError::too_short);
    CHECK(refusal(geneve({}, inner, 0x0800, 0, 1)) == GeneveError::bad_version);
    CHECK(refusal(geneve({}, inner, 0x0800, 0x80)) == GeneveError::oam);
    CHECK(kGeneveErrorNames(GeneveError::bad_version) == "geneve_bad_version");

    Buf long_option;  // says 8 data bytes, the option area holds 4
    option(long_option, 0x0123, 1, bytes_of({1, 2, 3, 4, 5, 6, 7, 8}));
    Buf cut = geneve(long_option, inner);
    cut[0] = std::byte{2};  // opt len 2 words: the option's 4 + 8 bytes do not fit in 8
    CHECK(refusal(cut) == GeneveError::bad_option);

    Buf short_cookie;
    option(short_cookie, 0x0108, 3, bytes_of({1, 2, 3, 4, 5, 6, 7, 8}));
    CHECK(refusal(geneve(short_cookie, inner)) == GeneveError::bad_option);
    Buf short_id;
    option(short_id, 0x0108, 1, bytes_of({1, 2, 3, 4}));
    CHECK(refusal(geneve(short_id, inner)) == GeneveError::bad_option);

    Buf critical;
    option(critical, 0x0123, 0x81, bytes_of({1, 2, 3, 4}));
    CHECK(refusal(geneve(critical, inner, 0x0800, 0x40)) == GeneveError::critical_option);
    Buf not_critical;
    option(not_critical, 0x0123, 0x01, bytes_of({1, 2, 3, 4}));
    CHECK(decap_geneve(view(geneve(not_critical, inner))).ok());
    Buf gwlb_critical;  // a critical option we know is fine
    option(gwlb_critical, 0x0108, 0x83, bytes_of({1, 2, 3, 4}));
    CHECK(decap_geneve(view(geneve(gwlb_critical, inner, 0x0800, 0x40))).ok());
}

TEST_CASE("geneve: each malformed inner packet is its own refusal") {
    CHECK(refusal(geneve({}, vxlan_in_ipv4(), 0x6558)) == GeneveError::inner_not_ip);  // Ethernet
    CHECK(refusal(geneve({}, vxlan_in_ipv4(), 0x86DD)) == GeneveError::inner_not_ip);  // version 4 as IPv6
    CHECK(refusal(geneve({}, vxlan_in_ipv6(), 0x0800)) == GeneveError::inner_not_ip);
    CHECK(refusal(geneve({}, vxlan_in_ipv4(501, 0x2000))) == GeneveError::inner_fragment);  // MF
    CHECK(refusal(geneve({}, vxlan_in_ipv4(501, 0x0010))) == GeneveError::inner_fragment);  // offset
    CHECK(refusal(geneve({}, vxlan_in_ipv6(44), 0x86DD)) == GeneveError::inner_fragment);
    CHECK(refusal(geneve({}, vxlan_in_ipv4(501, 0, 6))) == GeneveError::inner_not_udp_4789);
    CHECK(refusal(geneve({}, vxlan_in_ipv4(501, 0, 17, 4790))) == GeneveError::inner_not_udp_4789);
    CHECK(refusal(geneve({}, vxlan_in_ipv6(0), 0x86DD)) == GeneveError::inner_not_udp_4789);

    Buf ihl_short = vxlan_in_ipv4();
    ihl_short[0] = std::byte{0x44};
    CHECK(refusal(geneve({}, ihl_short)) == GeneveError::inner_truncated);
    Buf total_past_end = vxlan_in_ipv4();
    store_be16(total_past_end.data() + 2, uint16_t(total_past_end.size() + 1));
    CHECK(refusal(geneve({}, total_past_end)) == GeneveError::inner_truncated);
    Buf udp_too_long = vxlan_in_ipv4();
    store_be16(udp_too_long.data() + 24, uint16_t(udp_too_long.size() - 20 + 1));
    CHECK(refusal(geneve({}, udp_too_long)) == GeneveError::inner_truncated);
    Buf udp_below_header = vxlan_in_ipv4();
    store_be16(udp_below_header.data() + 24, 7);
    CHECK(refusal(geneve({}, udp_below_header)) == GeneveError::inner_truncated);

    // Bytes past the IP length are padding, not part of the packet.
    Buf padded = vxlan_in_ipv4();
    padded.resize(padded.size() + 6);
    const GeneveResult r = decap_geneve(view(geneve({}, padded)));
    REQUIRE(r.ok());
    CHECK(r->vxlan.frame.size() == 60);
}

TEST_CASE("geneve: a malformed VXLAN packet inside keeps VXLAN's reason") {
    Buf no_flag = vxlan_in_ipv4();
    no_flag[28] = std::byte{0};
    const GeneveResult r = decap_geneve(view(geneve({}, no_flag)));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == GeneveError::vxlan);
    CHECK(r.error().vxlan == DecapError::no_vni_flag);
}
