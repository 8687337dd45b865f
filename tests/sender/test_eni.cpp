// `--aws-interface eni-...` alone: the ENI's interface here, by the MAC IMDSv2 lists for it.
#include <doctest/doctest.h>

#include <map>

#include "sender/config.hpp"
#include "sender/eni.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;

TEST_CASE("eni: --aws-interface takes ENI=IFACE, or an ENI alone to be found through IMDSv2") {
    const auto alone = parse_aws_interface("eni-0f1a2b3c4d5e67890");
    REQUIRE(alone);
    CHECK(alone->id == "eni-0f1a2b3c4d5e67890");
    CHECK(alone->interface.empty());
    CHECK(parse_aws_interface("eni-0f1a2b3c")->interface.empty());  // the old 8-digit ids
    const auto named = parse_aws_interface("eni-0f1a2b3c4d5e67890=eth0");
    REQUIRE(named);
    CHECK(named->interface == "eth0");
    for (const char* bad : {"eth0", "eni-", "eni-0f1a2b3c4d5e6789", "eni-0f1a2b3c4d5e6789z", "tmt-0e1f2a3b4c5d67890"}) {
        INFO(bad);
        const auto refused = parse_aws_interface(bad);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().find("expected ENI or ENI=IFACE") != std::string::npos);
    }
}

TEST_CASE("eni: the interface here is the one with the MAC IMDSv2 lists for the ENI") {
    const std::map<std::string, std::string> metadata = {
        {"network/interfaces/macs/", "0e:11:22:33:44:55/\n0E:99:88:77:66:55/\n"},
        {"network/interfaces/macs/0e:11:22:33:44:55/interface-id", "eni-0f1a2b3c4d5e67890"},
        {"network/interfaces/macs/0e:99:88:77:66:55/interface-id", "eni-0bbb2b3c4d5e67890\n"},
    };
    const MetadataGet get = [&](const std::string& path) -> Result<std::string> {
        const auto it = metadata.find(path);
        if (it == metadata.end()) return fail("404 " + path);
        return it->second;
    };
    const std::vector<LocalInterface> local = {{"lo", "00:00:00:00:00:00"}, {"ens5", "0e:11:22:33:44:55"}};
    const auto here = interface_of_eni("eni-0f1a2b3c4d5e67890", get, local);
    REQUIRE(here);
    CHECK(*here == "ens5");
    const auto other = interface_of_eni("eni-0aaa2b3c4d5e67890", get, local);
    REQUIRE_FALSE(other);
    CHECK(other.error() ==
          "'eni-0aaa2b3c4d5e67890' is not attached to this instance (its network interfaces: "
          "'eni-0f1a2b3c4d5e67890' (0e:11:22:33:44:55), 'eni-0bbb2b3c4d5e67890' (0e:99:88:77:66:55))");
    const auto elsewhere = interface_of_eni("eni-0bbb2b3c4d5e67890", get, local);
    REQUIRE_FALSE(elsewhere);
    CHECK(elsewhere.error().find("no interface here has that MAC") != std::string::npos);
    const MetadataGet down = [](const std::string&) -> Result<std::string> { return fail("connection refused"); };
    const auto unknown = interface_of_eni("eni-0f1a2b3c4d5e67890", down, local);
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error() == "cannot list this instance's network interfaces to find 'eni-0f1a2b3c4d5e67890': "
                             "connection refused");
}
