#include <doctest/doctest.h>

#include "decap/vxlan.hpp"
#include "tests/support/frames.hpp"

using namespace mirrortap;
using namespace mirrortap::test;

TEST_CASE("vxlan: a well-formed datagram yields the VNI and the inner frame") {
    Buf inner = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 1000, 53);
    Buf d = vxlan(501, inner);
    auto r = decap_vxlan(view(d));
    REQUIRE(r.ok());
    CHECK(r->header.vni == 501);
    CHECK(r->frame.size() == inner.size());
    CHECK(r->frame.data() == d.data() + 8);
}

TEST_CASE("vxlan: VNI 0 and 16777215 are both valid session keys") {
    Buf inner = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 1, 2);
    auto lo = decap_vxlan(view(vxlan(0, inner)));
    auto hi = decap_vxlan(view(vxlan(0xFFFFFF, inner)));
    REQUIRE(lo.ok());
    REQUIRE(hi.ok());
    CHECK(lo->header.vni == 0);
    CHECK(hi->header.vni == 16777215);
}

TEST_CASE("vxlan: fewer than 8 bytes is too_short") {
    Buf d = {std::byte{0x08}, std::byte{0}, std::byte{0}};
    auto r = decap_vxlan(view(d));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == DecapError::too_short);
    CHECK(kDecapErrorNames(r.error()) == "too_short");
    CHECK(decap_vxlan(Bytes{}).error() == DecapError::too_short);
}

TEST_CASE("vxlan: a clear I bit is no_vni_flag") {
    Buf inner = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 1, 2);
    auto r = decap_vxlan(view(vxlan(7, inner, 0x00)));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == DecapError::no_vni_flag);
}

TEST_CASE("vxlan: other flag bits and reserved bytes are ignored (RFC 7348 receivers)") {
    Buf inner = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 1, 2);
    Buf d = vxlan(42, inner, 0xFF);
    d[1] = d[2] = d[3] = d[7] = std::byte{0xFF};
    auto r = decap_vxlan(view(d));
    REQUIRE(r.ok());
    CHECK(r->header.vni == 42);
}

TEST_CASE("vxlan: a header followed by less than an Ethernet header is inner_too_short") {
    Buf inner(13, std::byte{0});
    auto r = decap_vxlan(view(vxlan(1, inner)));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == DecapError::inner_too_short);
    Buf exact(14, std::byte{0});
    CHECK(decap_vxlan(view(vxlan(1, exact))).ok());
}

TEST_CASE("vxlan: encode writes what decap reads") {
    std::byte hdr[8];
    VxlanHeader::encode(hdr, 0xABCDEF);
    Buf d(hdr, hdr + 8);
    Buf inner = udp4_frame({1, 1, 1, 1}, {2, 2, 2, 2}, 3, 4);
    d.insert(d.end(), inner.begin(), inner.end());
    auto r = decap_vxlan(view(d));
    REQUIRE(r.ok());
    CHECK(r->header.vni == 0xABCDEF);
    CHECK(uint8_t(hdr[0]) == 0x08);
    CHECK(uint8_t(hdr[7]) == 0);
}

TEST_CASE("vxlan: peek_vni reads the VNI only when the header says there is one") {
    Buf inner = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 1, 2);
    CHECK(peek_vni(view(vxlan(0xABCDEF, inner))) == 0xABCDEF);
    CHECK(peek_vni(view(vxlan(7, inner, 0x00))) == -1);
    Buf short_header = {std::byte{0x08}, std::byte{0}, std::byte{0}};
    CHECK(peek_vni(view(short_header)) == -1);
    // No inner frame needed: the allowlist decides before decap looks further.
    Buf header_only(vxlan(9, {}));
    CHECK(peek_vni(view(header_only)) == 9);
}
