// The pruner decides with libpcap's own compiled program: exact verdicts for
// what a flow key fixes (hosts, nets, ports, protocols, VLANs, EtherTypes),
// "may match" wherever bytes outside the key decide (payload, length, flags, TTL).
#include <doctest/doctest.h>

#include "find/bpf_prune.hpp"

using namespace mirrortap::find;

namespace {

IndexedFlow ip_flow(uint8_t version, uint8_t protocol, const char* src, const char* dst,
                    std::optional<uint16_t> sport, std::optional<uint16_t> dport, std::vector<uint16_t> vlans = {}) {
    IndexedFlow f;
    f.ether_type = version == 4 ? 0x0800 : 0x86DD;
    f.vlans = std::move(vlans);
    f.ip_version = version;
    f.protocol = protocol;
    f.src = src;
    f.dst = dst;
    f.src_port = sport;
    f.dst_port = dport;
    return f;
}

IndexedFlow tcp4(const char* src, const char* dst, uint16_t sport, uint16_t dport, std::vector<uint16_t> vlans = {}) {
    return ip_flow(4, 6, src, dst, sport, dport, std::move(vlans));
}
IndexedFlow udp6(const char* src, const char* dst, uint16_t sport, uint16_t dport) {
    return ip_flow(6, 17, src, dst, sport, dport);
}
IndexedFlow icmp4(const char* src, const char* dst) { return ip_flow(4, 1, src, dst, {}, {}); }

IndexedFlow arp(const char* src_mac, const char* dst_mac) {
    IndexedFlow f;
    f.ether_type = 0x0806;
    f.src = src_mac;
    f.dst = dst_mac;
    return f;
}

FlowVerdict judge(const char* expression, const IndexedFlow& flow) {
    CompiledFilter filter;
    const auto compiled = filter.compile(expression);
    REQUIRE_MESSAGE(compiled, (compiled ? "" : compiled.error()));
    return judge_flow(filter.program(), flow);
}

constexpr auto no = FlowVerdict::no_match;
constexpr auto yes = FlowVerdict::match;
constexpr auto maybe = FlowVerdict::may_match;

}  // namespace

TEST_CASE("host and net expressions are decided exactly for IPv4 and IPv6 flows") {
    const auto f = tcp4("10.0.3.7", "10.0.9.1", 40000, 5432);
    CHECK(judge("host 10.0.3.7", f) == yes);
    CHECK(judge("host 10.0.9.1", f) == yes);
    CHECK(judge("host 10.0.3.8", f) == no);
    CHECK(judge("src host 10.0.9.1", f) == no);
    CHECK(judge("dst host 10.0.9.1", f) == yes);
    CHECK(judge("net 10.0.0.0/16", f) == yes);
    CHECK(judge("net 192.168.0.0/16", f) == no);
    CHECK(judge("src net 10.0.3.0/24 and dst net 10.0.9.0/24", f) == yes);
    CHECK(judge("ip6", f) == no);
    const auto g = udp6("2001:db8::1", "2001:db8::2", 1000, 53);
    CHECK(judge("host 2001:db8::2", g) == yes);
    CHECK(judge("host 2001:db8::3", g) == no);
    CHECK(judge("net 2001:db8::/32", g) == yes);
    CHECK(judge("host 10.0.3.7", g) == no);
}

TEST_CASE("port and protocol expressions are decided exactly") {
    const auto f = tcp4("10.0.3.7", "10.0.9.1", 40000, 5432);
    CHECK(judge("port 5432", f) == yes);
    CHECK(judge("tcp port 5432", f) == yes);
    CHECK(judge("udp port 5432", f) == no);
    CHECK(judge("port 443", f) == no);
    CHECK(judge("src port 40000", f) == yes);
    CHECK(judge("dst port 40000", f) == no);
    CHECK(judge("portrange 5000-6000", f) == yes);
    CHECK(judge("tcp", f) == yes);
    CHECK(judge("udp", f) == no);
    CHECK(judge("icmp", f) == no);
    CHECK(judge("proto 6", f) == yes);
    CHECK(judge("ip proto 17", f) == no);
    const auto g = udp6("2001:db8::1", "2001:db8::2", 1000, 53);
    CHECK(judge("udp port 53", g) == yes);
    CHECK(judge("tcp port 53", g) == no);
    CHECK(judge("port 54", g) == no);
    CHECK(judge("icmp", icmp4("10.0.0.1", "10.0.0.2")) == yes);
    CHECK(judge("port 80", icmp4("10.0.0.1", "10.0.0.2")) == no);
}

TEST_CASE("combinations keep exact answers where every part is exact") {
    const auto f = tcp4("10.0.3.7", "10.0.9.1", 40000, 5432);
    CHECK(judge("host 10.0.3.7 and port 5432", f) == yes);
    CHECK(judge("host 10.0.3.7 and port 443", f) == no);
    CHECK(judge("host 10.1.1.1 or port 5432", f) == yes);
    CHECK(judge("not host 10.0.3.7", f) == no);
    CHECK(judge("(tcp and dst port 5432) or udp", f) == yes);
    // A part outside the key is "may match" only when the rest leaves it deciding.
    CHECK(judge("host 10.1.1.1 and tcp[13] & 2 != 0", f) == no);
}

TEST_CASE("payload length flags and TTL make a flow may match") {
    const auto f = tcp4("10.0.3.7", "10.0.9.1", 40000, 5432);
    CHECK(judge("tcp[tcpflags] & tcp-syn != 0", f) == maybe);
    CHECK(judge("host 10.0.3.7 and tcp[13] & 2 != 0", f) == maybe);
    CHECK(judge("len > 100", f) == maybe);
    CHECK(judge("greater 200", f) == maybe);
    CHECK(judge("ip[8] = 64", f) == maybe);  // TTL
    CHECK(judge("tcp[20:4] = 0x47455420", f) == maybe);  // payload "GET "
    CHECK(judge("ether host 02:00:00:00:00:aa", f) == maybe);  // MACs are not in an IP flow's key
    CHECK(judge("ip[6] & 0x40 != 0", f) == maybe);  // DF is not in the key
}

TEST_CASE("fragments and IPv6 extension headers are always may match") {
    auto f = tcp4("10.0.3.7", "10.0.9.1", 40000, 5432);
    f.fragments = true;
    CHECK(judge("host 10.9.9.9", f) == maybe);
    auto g = udp6("2001:db8::1", "2001:db8::2", 1000, 53);
    g.ip6_ext = true;
    CHECK(judge("port 80", g) == maybe);
}

TEST_CASE("VLAN tags are part of the key") {
    const auto f = tcp4("10.0.3.7", "10.0.9.1", 40000, 5432, {100});
    CHECK(judge("vlan 100 and host 10.0.3.7", f) == yes);
    CHECK(judge("vlan 200", f) == no);
    CHECK(judge("vlan", f) == yes);
    CHECK(judge("vlan and port 5432", f) == yes);
    // Without `vlan` libpcap looks for IPv4 at offset 12, where the TPID is: never 0x0800.
    CHECK(judge("host 10.0.3.7", f) == no);
    CHECK(judge("vlan 100", tcp4("10.0.3.7", "10.0.9.1", 1, 2)) == no);
    const auto q = tcp4("10.0.3.7", "10.0.9.1", 40000, 5432, {100, 7});
    CHECK(judge("vlan 100 and vlan 7 and host 10.0.9.1", q) == yes);
    CHECK(judge("vlan 100 and vlan 8", q) == no);
}

TEST_CASE("non-IP flows are keyed by MACs and EtherType") {
    const auto f = arp("02:00:00:00:00:aa", "ff:ff:ff:ff:ff:ff");
    CHECK(judge("arp", f) == yes);
    CHECK(judge("ip", f) == no);
    CHECK(judge("ether src 02:00:00:00:00:aa", f) == yes);
    CHECK(judge("ether host 02:00:00:00:00:bb", f) == no);
    CHECK(judge("ether broadcast", f) == yes);
    CHECK(judge("host 10.0.0.1", f) == maybe);  // libpcap's host takes ARP's addresses too: payload
    CHECK(judge("ip host 10.0.0.1", f) == no);
    CHECK(judge("arp[7] = 1", f) == maybe);  // the ARP opcode is payload
}

TEST_CASE("the empty expression matches every flow") {
    CHECK(judge("", tcp4("10.0.3.7", "10.0.9.1", 40000, 5432)) == yes);
}

TEST_CASE("a flow cut before its ports may match a port expression") {
    auto f = tcp4("10.0.3.7", "10.0.9.1", 0, 0);
    f.src_port.reset();
    f.dst_port.reset();
    CHECK(judge("port 80", f) == maybe);
    CHECK(judge("host 10.0.0.99 and port 80", f) == no);
}

TEST_CASE("a flow whose key cannot be built may match") {
    auto f = tcp4("not-an-address", "10.0.9.1", 1, 2);
    CHECK(judge("host 10.0.3.7", f) == maybe);
    IndexedFlow runt;  // a frame cut before its EtherType
    CHECK(judge("arp", runt) == maybe);
}
