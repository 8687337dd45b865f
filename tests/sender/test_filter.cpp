#include <doctest/doctest.h>

#include "sender/filter.hpp"
#include "tests/sender/packets.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;
using namespace mirrortap::test;

namespace {

FilterRule rule(uint16_t number, RuleAction action) {
    FilterRule r;
    r.rule_number = number;
    r.action = action;
    return r;
}

Cidr cidr(const char* text) {
    auto c = parse_filter_cidr(text);
    INFO((c ? "" : c.error()));
    REQUIRE(c);
    return *c;
}

bool refused(const char* text) {
    const auto c = parse_filter_cidr(text);
    CHECK((c || !c.error().empty()));
    return !c;
}

const FilterRule* decided(const Filter& f, Direction d, const Buf& pkt) {
    return f.evaluate(d, parsed(pkt)).rule;
}

}  // namespace

TEST_CASE("cidr: IPv4 and IPv6 prefixes parse, host bits are cleared") {
    CHECK(cidr("10.1.2.3/8").to_string() == "10.0.0.0/8");
    CHECK(cidr("192.168.1.7").to_string() == "192.168.1.7/32");
    CHECK(cidr("2001:db8:ffff::1/33").to_string() == "2001:db8:8000::/33");
    CHECK(cidr("::/0").prefix_bits == 0);
    CHECK(cidr("0.0.0.0/0").is_v4());
    CHECK_FALSE(cidr("::/0").is_v4());
    CHECK(refused("10.0.0.0/33"));
    CHECK(refused("::/129"));
    CHECK(refused("10.0.0/8"));
    CHECK(refused("10.0.0.0/"));
    CHECK(refused("10.0.0.0/8x"));
    CHECK(refused("example.com/8"));
}

TEST_CASE("cidr: an IPv4-mapped IPv6 block is refused, not read as IPv4") {
    // AWS would match such a block against IPv6 packets; held IPv4-mapped it
    // would match IPv4 ones. Refused with the spelling that means IPv4.
    const auto mapped = parse_filter_cidr("::ffff:10.0.0.0/104");
    REQUIRE_FALSE(mapped);
    CHECK(mapped.error().find("write 10.0.0.0/8 for IPv4 packets") != std::string::npos);
    CHECK(refused("::ffff:0:0/96"));
    CHECK(refused("::ffff:1.2.3.4"));
    // Below the mapped range's /96 a block is plain IPv6.
    CHECK_FALSE(cidr("::ffff:0:0/95").is_v4());
    CHECK_FALSE(cidr("::/80").is_v4());
}

TEST_CASE("cidr: a v4 prefix never matches a v6 packet and the reverse") {
    std::array<uint8_t, 16> v6_with_v4_bytes{10, 0, 0, 1};
    CHECK(block_holds(cidr("10.0.0.0/8"), FlowKind::ipv4, v6_with_v4_bytes));
    CHECK_FALSE(block_holds(cidr("10.0.0.0/8"), FlowKind::ipv6, v6_with_v4_bytes));
    CHECK_FALSE(block_holds(cidr("0.0.0.0/0"), FlowKind::ipv6, v6_with_v4_bytes));
    CHECK_FALSE(block_holds(cidr("::/0"), FlowKind::ipv4, v6_with_v4_bytes));
    CHECK(block_holds(cidr("::/0"), FlowKind::ipv6, v6_with_v4_bytes));
    CHECK_FALSE(block_holds(cidr("0.0.0.0/0"), FlowKind::non_ip, v6_with_v4_bytes));
    CHECK_FALSE(block_holds(cidr("::/0"), FlowKind::non_ip, v6_with_v4_bytes));
}

TEST_CASE("cidr: prefix boundaries that are not byte aligned") {
    Cidr c = cidr("10.0.0.64/26");
    auto a = [](uint8_t last) { return std::array<uint8_t, 16>{10, 0, 0, last}; };
    CHECK_FALSE(block_holds(c, FlowKind::ipv4, a(63)));
    CHECK(block_holds(c, FlowKind::ipv4, a(64)));
    CHECK(block_holds(c, FlowKind::ipv4, a(127)));
    CHECK_FALSE(block_holds(c, FlowKind::ipv4, a(128)));
    Cidr v6 = cidr("2001:db8::/33");
    CHECK(block_holds(v6, FlowKind::ipv6, {0x20, 0x01, 0x0d, 0xb8, 0x7f}));
    CHECK_FALSE(block_holds(v6, FlowKind::ipv6, {0x20, 0x01, 0x0d, 0xb8, 0x80}));
}

TEST_CASE("filter: rules are evaluated in rule_number order, not list order") {
    FilterRule accept_all = rule(200, RuleAction::accept);
    FilterRule reject_tcp = rule(100, RuleAction::reject);
    reject_tcp.protocol = kProtoTcp;
    Filter f({}, {accept_all, reject_tcp});  // listed out of order on purpose
    const FilterRule* r = decided(f, Direction::egress, ip4_frame(6, {10, 0, 0, 1}, {10, 0, 0, 2}, 1000, 80));
    REQUIRE(r);
    CHECK(r->rule_number == 100);
    CHECK(r->action == RuleAction::reject);
    r = decided(f, Direction::egress, ip4_frame(17, {10, 0, 0, 1}, {10, 0, 0, 2}, 1000, 53));
    REQUIRE(r);
    CHECK(r->rule_number == 200);
}

TEST_CASE("filter: the first matching rule decides, later accepts do not override a reject") {
    FilterRule reject_dns = rule(10, RuleAction::reject);
    reject_dns.protocol = kProtoUdp;
    reject_dns.destination_ports = PortRange{53, 53};
    FilterRule accept_udp = rule(20, RuleAction::accept);
    accept_udp.protocol = kProtoUdp;
    Filter f({}, {reject_dns, accept_udp});
    auto dns = ip4_frame(17, {10, 0, 0, 1}, {10, 0, 0, 2}, 4000, 53);
    auto ntp = ip4_frame(17, {10, 0, 0, 1}, {10, 0, 0, 2}, 4000, 123);
    CHECK_FALSE(f.evaluate(Direction::egress, parsed(dns)).accepted());
    CHECK(f.evaluate(Direction::egress, parsed(dns)).rule->rule_number == 10);
    CHECK(f.evaluate(Direction::egress, parsed(ntp)).accepted());
}

TEST_CASE("filter: no matching rule means not mirrored (default reject)") {
    FilterRule accept_tcp = rule(10, RuleAction::accept);
    accept_tcp.protocol = kProtoTcp;
    Filter f({accept_tcp}, {});
    FilterVerdict v = f.evaluate(Direction::ingress, parsed(ip4_frame(17, {1, 1, 1, 1}, {2, 2, 2, 2}, 1, 2)));
    CHECK(v.rule == nullptr);
    CHECK_FALSE(v.accepted());
    Filter empty;
    CHECK_FALSE(empty.evaluate(Direction::egress, parsed(ip4_frame(6, {1, 1, 1, 1}, {2, 2, 2, 2}, 1, 2))).accepted());
}

TEST_CASE("filter: directions are separate rule lists") {
    FilterRule accept_all = rule(10, RuleAction::accept);
    Filter f({}, {accept_all});
    auto pkt = ip4_frame(6, {10, 0, 0, 1}, {10, 0, 0, 2}, 1000, 80);
    CHECK(f.evaluate(Direction::egress, parsed(pkt)).accepted());
    CHECK_FALSE(f.evaluate(Direction::ingress, parsed(pkt)).accepted());
}

TEST_CASE("filter: protocol absent matches all protocols, IPv4 and IPv6") {
    Filter f({}, {rule(1, RuleAction::accept)});
    CHECK(f.evaluate(Direction::egress, parsed(ip4_frame(6, {10, 0, 0, 1}, {10, 0, 0, 2}, 1, 2))).accepted());
    CHECK(f.evaluate(Direction::egress, parsed(ip4_frame(17, {10, 0, 0, 1}, {10, 0, 0, 2}, 1, 2))).accepted());
    CHECK(f.evaluate(Direction::egress, parsed(ip4_frame(1, {10, 0, 0, 1}, {10, 0, 0, 2}))).accepted());
    CHECK(f.evaluate(Direction::egress, parsed(ip4_frame(47, {10, 0, 0, 1}, {10, 0, 0, 2}))).accepted());
    CHECK(f.evaluate(Direction::egress, parsed(ip6_frame(58, 1, 2))).accepted());
}

TEST_CASE("filter: a protocol rule matches only that IANA protocol number") {
    FilterRule icmp = rule(1, RuleAction::accept);
    icmp.protocol = kProtoIcmp;
    Filter f({}, {icmp});
    CHECK(f.evaluate(Direction::egress, parsed(ip4_frame(1, {10, 0, 0, 1}, {10, 0, 0, 2}))).accepted());
    CHECK_FALSE(f.evaluate(Direction::egress, parsed(ip4_frame(6, {10, 0, 0, 1}, {10, 0, 0, 2}, 1, 2))).accepted());
    // ICMPv6 is protocol 58, not 1.
    CHECK_FALSE(f.evaluate(Direction::egress, parsed(ip6_frame(58, 1, 2))).accepted());
}

TEST_CASE("filter: port ranges are inclusive and apply to TCP and UDP") {
    FilterRule r = rule(1, RuleAction::accept);
    r.protocol = kProtoTcp;
    r.destination_ports = PortRange{8000, 8080};
    Filter f({}, {r});
    auto to_port = [&](uint16_t p) {
        return f.evaluate(Direction::egress, parsed(ip4_frame(6, {10, 0, 0, 1}, {10, 0, 0, 2}, 50000, p))).accepted();
    };
    CHECK_FALSE(to_port(7999));
    CHECK(to_port(8000));
    CHECK(to_port(8042));
    CHECK(to_port(8080));
    CHECK_FALSE(to_port(8081));

    FilterRule s = rule(1, RuleAction::accept);
    s.protocol = kProtoUdp;
    s.source_ports = PortRange{53, 53};
    Filter g({s}, {});
    CHECK(g.evaluate(Direction::ingress, parsed(ip4_frame(17, {8, 8, 8, 8}, {10, 0, 0, 2}, 53, 40000))).accepted());
    CHECK_FALSE(g.evaluate(Direction::ingress, parsed(ip4_frame(17, {8, 8, 8, 8}, {10, 0, 0, 2}, 54, 53))).accepted());
}

TEST_CASE("filter: a rule with a port range never matches ICMP, SCTP or other protocols") {
    // No protocol on the rule: the port range alone limits it to TCP and UDP.
    FilterRule r = rule(1, RuleAction::accept);
    r.destination_ports = PortRange{0, 65535};
    Filter f({}, {r});
    CHECK(f.evaluate(Direction::egress, parsed(ip4_frame(6, {10, 0, 0, 1}, {10, 0, 0, 2}, 1, 2))).accepted());
    CHECK(f.evaluate(Direction::egress, parsed(ip4_frame(17, {10, 0, 0, 1}, {10, 0, 0, 2}, 1, 2))).accepted());
    CHECK_FALSE(f.evaluate(Direction::egress, parsed(ip4_frame(1, {10, 0, 0, 1}, {10, 0, 0, 2}))).accepted());
    CHECK_FALSE(f.evaluate(Direction::egress, parsed(ip4_frame(132, {10, 0, 0, 1}, {10, 0, 0, 2}, 1, 2))).accepted());
    CHECK_FALSE(f.evaluate(Direction::egress, parsed(ip6_frame(58, 1, 2))).accepted());
}

TEST_CASE("filter: a non-first fragment has no ports and never matches a port range") {
    FilterRule r = rule(1, RuleAction::accept);
    r.protocol = kProtoUdp;
    r.destination_ports = PortRange{0, 65535};
    Filter f({}, {r});
    auto first = ip4_frame(17, {10, 0, 0, 1}, {10, 0, 0, 2}, 1, 2, 60, 0x2000);         // MF, offset 0
    auto later = ip4_frame(17, {10, 0, 0, 1}, {10, 0, 0, 2}, 1, 2, 60, 0x2000 | 185);   // offset 1480
    CHECK(f.evaluate(Direction::egress, parsed(first)).accepted());
    CHECK_FALSE(f.evaluate(Direction::egress, parsed(later)).accepted());
    // Without a port range the same fragment is matched by protocol alone.
    FilterRule any_udp = rule(1, RuleAction::accept);
    any_udp.protocol = kProtoUdp;
    CHECK(Filter({}, {any_udp}).evaluate(Direction::egress, parsed(later)).accepted());
}

TEST_CASE("filter: source and destination CIDRs, IPv4 and IPv6") {
    FilterRule r = rule(1, RuleAction::accept);
    r.source_cidr = cidr("10.0.0.0/8");
    r.destination_cidr = cidr("192.168.0.0/16");
    FilterRule v6 = rule(2, RuleAction::accept);
    v6.source_cidr = cidr("2000::/120");
    v6.destination_cidr = cidr("2000::2/128");
    Filter f({}, {r, v6});
    auto ok = [&](const Buf& b) { return f.evaluate(Direction::egress, parsed(b)).accepted(); };
    CHECK(ok(ip4_frame(6, {10, 9, 9, 9}, {192, 168, 3, 4}, 1, 2)));
    CHECK_FALSE(ok(ip4_frame(6, {11, 9, 9, 9}, {192, 168, 3, 4}, 1, 2)));
    CHECK_FALSE(ok(ip4_frame(6, {10, 9, 9, 9}, {192, 169, 3, 4}, 1, 2)));
    CHECK_FALSE(ok(ip4_frame(6, {192, 168, 3, 4}, {10, 9, 9, 9}, 1, 2)));  // reversed
    CHECK(ok(ip6_frame(17, 0x55, 2, 1, 2)));
    CHECK_FALSE(ok(ip6_frame(17, 0x55, 3, 1, 2)));
}

TEST_CASE("filter: 0.0.0.0/0 rules do not select IPv6 traffic") {
    FilterRule r = rule(1, RuleAction::accept);
    r.source_cidr = cidr("0.0.0.0/0");
    r.destination_cidr = cidr("0.0.0.0/0");
    Filter f({}, {r});
    CHECK(f.evaluate(Direction::egress, parsed(ip4_frame(17, {1, 2, 3, 4}, {5, 6, 7, 8}, 1, 2))).accepted());
    CHECK_FALSE(f.evaluate(Direction::egress, parsed(ip6_frame(17, 1, 2, 1, 2))).accepted());
}

TEST_CASE("filter: non-IP frames such as ARP never match") {
    Filter f({rule(1, RuleAction::accept)}, {rule(1, RuleAction::accept)});
    Buf arp = ethernet(0x0806);
    pad_to(arp, 60);
    CHECK_FALSE(f.evaluate(Direction::egress, parsed(arp)).accepted());
    CHECK_FALSE(f.evaluate(Direction::ingress, parsed(arp)).accepted());
}
