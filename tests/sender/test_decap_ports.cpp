// The one decap addition the sender needed: InnerFrame::has_ports.
#include <doctest/doctest.h>

#include "tests/sender/packets.hpp"

using namespace mirrortap;
using namespace mirrortap::test;

TEST_CASE("decap: has_ports is set only when TCP/UDP ports were read") {
    CHECK(parsed(ip4_frame(6, {1, 1, 1, 1}, {2, 2, 2, 2}, 1, 2)).has_ports);
    CHECK(parsed(ip4_frame(17, {1, 1, 1, 1}, {2, 2, 2, 2}, 0, 0)).has_ports);
    CHECK(parsed(ip6_frame(17, 1, 2, 5, 6)).has_ports);
    CHECK_FALSE(parsed(ip4_frame(1, {1, 1, 1, 1}, {2, 2, 2, 2})).has_ports);
    CHECK_FALSE(parsed(ip4_frame(17, {1, 1, 1, 1}, {2, 2, 2, 2}, 1, 2, 60, 100)).has_ports);  // later fragment
    Buf cut = ip4_frame(6, {1, 1, 1, 1}, {2, 2, 2, 2}, 1, 2);
    cut.resize(14 + 20 + 2);  // truncated inside the ports
    CHECK_FALSE(parsed(cut).has_ports);
}
