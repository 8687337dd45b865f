// A re-resolved target name keeps its address while the answer holds it
// (issue 15, item 6).
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <vector>

#include "sender/sender.hpp"
#include "support/parse.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;

namespace {

sockaddr_storage v4(const char* text) {
    sockaddr_storage a{};
    auto& in = reinterpret_cast<sockaddr_in&>(a);
    in.sin_family = AF_INET;
    REQUIRE(inet_pton(AF_INET, text, &in.sin_addr) == 1);
    return a;
}

}  // namespace

TEST_CASE("target: a re-resolved name keeps its address while the answer holds it, in any order") {
    const sockaddr_storage current = v4("10.0.1.5");
    CHECK(address_text(pick_address({v4("10.0.2.5"), v4("10.0.1.5"), v4("10.0.3.5")}, current)) == "10.0.1.5");
    CHECK(address_text(pick_address({v4("10.0.1.5")}, current)) == "10.0.1.5");
    // Gone from the answer: the first of it.
    CHECK(address_text(pick_address({v4("10.0.3.5"), v4("10.0.2.5")}, current)) == "10.0.3.5");
    // Nothing yet: the first.
    CHECK(address_text(pick_address({v4("10.0.2.5")}, sockaddr_storage{})) == "10.0.2.5");
}
