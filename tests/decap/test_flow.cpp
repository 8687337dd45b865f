#include <doctest/doctest.h>

#include <set>

#include "decap/flow.hpp"

using namespace mirrortap;

namespace {
FlowKey key(uint8_t a, uint16_t pa, uint8_t b, uint16_t pb, uint8_t proto = 6) {
    FlowKey k;
    k.kind = FlowKind::ipv4;
    k.protocol = proto;
    k.src = {10, 0, 0, a};
    k.dst = {10, 0, 0, b};
    k.src_port = pa;
    k.dst_port = pb;
    return k;
}
}  // namespace

TEST_CASE("flow hash: both directions of a flow hash alike") {
    for (uint8_t i = 1; i < 50; ++i) {
        FlowKey ab = key(i, uint16_t(1000 + i), uint8_t(200 - i), 443);
        FlowKey ba = key(uint8_t(200 - i), 443, i, uint16_t(1000 + i));
        CHECK(FlowHash::symmetric(ab) == FlowHash::symmetric(ba));
        CHECK(FlowHash::symmetric(ab, 7) == FlowHash::symmetric(ba, 7));
    }
}

TEST_CASE("flow hash: same addresses, swapped ports only, still symmetric") {
    FlowKey ab = key(5, 1, 5, 2);
    FlowKey ba = key(5, 2, 5, 1);
    CHECK(FlowHash::symmetric(ab) == FlowHash::symmetric(ba));
}

TEST_CASE("flow hash: different flows spread over outputs") {
    std::set<uint32_t> buckets;
    for (uint16_t p = 1; p <= 64; ++p) buckets.insert(FlowHash::symmetric(key(1, p, 2, 80)) % 4);
    CHECK(buckets.size() == 4);
    CHECK(FlowHash::symmetric(key(1, 1, 2, 80, 6)) != FlowHash::symmetric(key(1, 1, 2, 80, 17)));
}
