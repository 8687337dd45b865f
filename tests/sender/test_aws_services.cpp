// What AWS never mirrors (sender/aws_services.hpp): the link-local services,
// DHCP, DHCPv6, and Amazon DNS unless a filter lists the amazon-dns network
// service. The engine, the capture's BPF filter, --explain and the config
// must all say the same.
#include <doctest/doctest.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <string>
#include <vector>

#include "sender/aws_import.hpp"
#include "sender/aws_services.hpp"
#include "sender/config.hpp"
#include "sender/explain.hpp"
#include "sender/session_engine.hpp"
#include "tests/sender/packets.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;
using namespace mirrortap::test;

namespace {

// An IPv6 frame between two given addresses.
Buf ip6_between(uint8_t next, const std::array<uint8_t, 16>& src, const std::array<uint8_t, 16>& dst,
                uint16_t sport = 0, uint16_t dport = 0) {
    Buf b = ip6_frame(next, 1, 2, sport, dport);
    std::copy(src.begin(), src.end(), reinterpret_cast<uint8_t*>(b.data()) + 14 + 8);
    std::copy(dst.begin(), dst.end(), reinterpret_cast<uint8_t*>(b.data()) + 14 + 24);
    return b;
}

std::array<uint8_t, 16> ec2(uint16_t host) {  // fd00:ec2::<host>
    return {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, uint8_t(host >> 8), uint8_t(host)};
}
const std::array<uint8_t, 16> kHost6 = {0xfd, 0x00, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};

Filter accept_all(bool amazon_dns) {
    FilterRule r;
    r.rule_number = 1;
    Filter f({r}, {r});
    f.amazon_dns = amazon_dns;
    return f;
}

Session session(uint16_t number, bool amazon_dns) {
    Session s;
    s.session_number = number;
    s.vni = number;
    s.filter = accept_all(amazon_dns);
    return s;
}

struct Case {
    Buf frame;
    AwsService service;
};

std::vector<Case> cases() {
    return {
        {ip4_frame(6, {10, 0, 0, 5}, {169, 254, 169, 254}, 40000, 80), AwsService::instance_metadata},
        {ip4_frame(6, {169, 254, 169, 254}, {10, 0, 0, 5}, 80, 40000), AwsService::instance_metadata},  // the answer
        {ip4_frame(17, {10, 0, 0, 5}, {169, 254, 169, 123}, 40000, 123), AwsService::time_sync},
        {ip4_frame(6, {10, 0, 0, 5}, {169, 254, 169, 250}, 40000, 1688), AwsService::windows_activation},
        {ip4_frame(6, {10, 0, 0, 5}, {169, 254, 169, 251}, 40000, 1688), AwsService::windows_activation},
        {ip4_frame(17, {10, 0, 0, 5}, {169, 254, 169, 253}, 40000, 53), AwsService::amazon_dns},
        {ip4_frame(17, {0, 0, 0, 0}, {255, 255, 255, 255}, 68, 67), AwsService::dhcp},
        {ip4_frame(17, {10, 0, 0, 1}, {10, 0, 0, 5}, 67, 68), AwsService::dhcp},
        {ip6_between(6, kHost6, ec2(0x254), 40000, 80), AwsService::instance_metadata},
        {ip6_between(17, ec2(0x123), kHost6, 123, 40000), AwsService::time_sync},
        {ip6_between(17, kHost6, ec2(0x253), 40000, 53), AwsService::amazon_dns},
        {ip6_between(17, kHost6, kHost6, 546, 547), AwsService::dhcpv6},
        // Not AWS's: the filters decide.
        {ip4_frame(6, {10, 0, 0, 5}, {169, 254, 169, 252}, 40000, 80), AwsService::none},
        {ip4_frame(6, {10, 0, 0, 5}, {169, 254, 170, 254}, 40000, 80), AwsService::none},
        {ip4_frame(17, {10, 0, 0, 5}, {10, 0, 0, 2}, 40000, 53), AwsService::none},
        {ip4_frame(17, {10, 0, 0, 5}, {10, 0, 0, 1}, 68, 53), AwsService::none},
        {ip4_frame(6, {10, 0, 0, 5}, {10, 0, 0, 1}, 67, 68), AwsService::none},  // TCP, not DHCP
        {ip4_frame(17, {10, 0, 0, 5}, {10, 0, 0, 1}, 546, 547), AwsService::none},  // DHCPv6 ports over IPv4
        {ip6_between(17, kHost6, ec2(0x250), 40000, 1688), AwsService::none},
        {ip6_between(17, kHost6, ec2(0x255), 40000, 80), AwsService::none},
        {ip6_between(17, kHost6, kHost6, 67, 68), AwsService::none},
    };
}

}  // namespace

TEST_CASE("aws services: each address and port pair AWS keeps out is recognised, nothing else") {
    for (const Case& c : cases()) {
        INFO(kAwsServiceNames(c.service));
        CHECK(aws_service(parsed(c.frame)) == c.service);
    }
}

TEST_CASE("aws services: never mirrored by an accept-all session, either direction, Amazon DNS only when listed") {
    const SessionEngine plain({session(1, false)});
    const SessionEngine with_dns({session(1, false), session(2, true)});
    for (const Case& c : cases()) {
        INFO(kAwsServiceNames(c.service));
        for (Direction d : {Direction::ingress, Direction::egress}) {
            const Classification k = plain.classify(d, parsed(c.frame));
            CHECK(k.mirrored() == (c.service == AwsService::none));
            if (!k.mirrored()) {
                CHECK(k.not_mirrored == NotMirrored::aws_service);
                CHECK(k.service == c.service);
            }
            const Classification k2 = with_dns.classify(d, parsed(c.frame));
            if (c.service == AwsService::amazon_dns) {
                // Session 1 accepts all but does not list amazon-dns: session 2 takes it.
                REQUIRE(k2.mirrored());
                CHECK(with_dns.sessions()[size_t(k2.session_index)].session_number == 2);
            } else {
                CHECK(k2.mirrored() == (c.service == AwsService::none));
            }
        }
    }
}

TEST_CASE("aws services: the capture's BPF filter keeps out exactly what the engine does") {
    for (bool dns : {false, true}) {
        const std::string f = aws_services_filter(dns);
        const SessionEngine engine({session(1, dns)});
        INFO(f);
        for (const Case& c : cases()) {
            INFO(kAwsServiceNames(c.service));
            CHECK(bpf_passes(f, c.frame) == engine.classify(Direction::egress, parsed(c.frame)).mirrored());
        }
    }
}

TEST_CASE("aws services: --explain says why AWS would not mirror it") {
    const SessionEngine engine({session(1, false)});
    bool mirrored = true;
    const Buf imds = ip4_frame(6, {10, 0, 0, 5}, {169, 254, 169, 254}, 40000, 80);
    const std::string text = explain_frame(engine, Direction::egress, reinterpret_cast<const uint8_t*>(imds.data()),
                                           uint32_t(imds.size()), uint32_t(imds.size()), 1460, mirrored);
    CHECK_FALSE(mirrored);
    CHECK(text.find("not mirrored: AWS never mirrors instance metadata") != std::string::npos);
    const Buf dns = ip6_between(17, kHost6, ec2(0x253), 40000, 53);
    const std::string dns_text = explain_frame(engine, Direction::egress, reinterpret_cast<const uint8_t*>(dns.data()),
                                               uint32_t(dns.size()), uint32_t(dns.size()), 1460, mirrored);
    CHECK(dns_text.find("AWS never mirrors Amazon DNS unless a filter lists network_services: [amazon-dns]") !=
          std::string::npos);
}

TEST_CASE("aws services: network_services in the YAML filter and NetworkServices in AWS's JSON") {
    ConfigLoad l = load_config_text(R"(sessions:
  - session_number: 1
    virtual_network_id: 5
    filter:
      network_services: [amazon-dns]
      egress: [{rule_number: 10, rule_action: accept}]
)");
    REQUIRE(l.ok());
    CHECK(l.config.sessions[0].session.filter.amazon_dns);
    CHECK(filter_to_yaml(l.config.sessions[0].session.filter, 0).find("network_services: [amazon-dns]\n") == 0);
    ConfigLoad bad = load_config_text(R"(sessions:
  - session_number: 1
    virtual_network_id: 5
    filter:
      network_services: [route53]
)");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.errors[0].message.find("the only network service is amazon-dns") != std::string::npos);

    const AwsImport imp = import_aws_filters_text(R"({"TrafficMirrorFilters": [
        {"TrafficMirrorFilterId": "tmf-1", "NetworkServices": ["amazon-dns"], "EgressFilterRules": []},
        {"TrafficMirrorFilterId": "tmf-2", "NetworkServices": []}]})");
    REQUIRE(imp.ok());
    CHECK(imp.filters.at("tmf-1").amazon_dns);
    CHECK_FALSE(imp.filters.at("tmf-2").amazon_dns);
}

TEST_CASE("aws services: the VPC's own resolver at base + 2 of vpc_cidr is Amazon DNS, in the engine and the BPF") {
    const VpcResolvers resolvers =
        vpc_resolvers({*parse_cidr("10.0.0.0/16"), *parse_cidr("172.31.16.0/20"), *parse_cidr("10.0.0.0/16")});
    REQUIRE(resolvers.size() == 2);
    CHECK(resolvers[0] == std::array<uint8_t, 4>{10, 0, 0, 2});
    CHECK(resolvers[1] == std::array<uint8_t, 4>{172, 31, 16, 2});
    SessionEngine plain({session(1, false)});
    plain.set_vpc_resolvers(resolvers);
    SessionEngine with_dns({session(1, false), session(2, true)});
    with_dns.set_vpc_resolvers(resolvers);
    const Buf query = ip4_frame(17, {10, 0, 5, 5}, {10, 0, 0, 2}, 40000, 53);
    const Buf answer = ip4_frame(17, {172, 31, 16, 2}, {10, 0, 5, 5}, 53, 40000);
    const Buf neighbour = ip4_frame(17, {10, 0, 5, 5}, {10, 0, 0, 3}, 40000, 53);
    for (const Buf* b : {&query, &answer}) {
        const Classification c = plain.classify(Direction::egress, parsed(*b));
        CHECK_FALSE(c.mirrored());
        CHECK(c.service == AwsService::amazon_dns);
        const Classification d = with_dns.classify(Direction::egress, parsed(*b));
        REQUIRE(d.mirrored());
        CHECK(with_dns.sessions()[size_t(d.session_index)].session_number == 2);
        CHECK_FALSE(bpf_passes(aws_services_filter(false, resolvers), *b));
        CHECK(bpf_passes(aws_services_filter(true, resolvers), *b));
    }
    CHECK(plain.classify(Direction::egress, parsed(neighbour)).mirrored());
    CHECK(bpf_passes(aws_services_filter(false, resolvers), neighbour));
    // Without vpc_cidr, 10.0.0.2 is nobody in particular.
    CHECK(SessionEngine({session(1, false)}).classify(Direction::egress, parsed(query)).mirrored());

    ConfigLoad l = load_config_text("vpc_cidr: [10.0.0.0/16, 172.31.16.0/20]\n");
    REQUIRE(l.ok());
    CHECK(l.config.vpc_cidrs.size() == 2);
    for (const char* bad : {"vpc_cidr: 2001:db8::/56\n", "vpc_cidr: 10.0.0.0/8\n", "vpc_cidr: 10.0.0.0/29\n"}) {
        ConfigLoad b = load_config_text(bad);
        REQUIRE_FALSE(b.ok());
        CHECK(b.errors[0].message.find("a VPC block is IPv4, /16 to /28") != std::string::npos);
    }
}
