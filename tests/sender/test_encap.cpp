#include <doctest/doctest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>

#include "decap/vxlan.hpp"
#include "sender/capture.hpp"
#include "sender/encap.hpp"
#include "sender/explain.hpp"
#include "sender/own_traffic.hpp"
#include "sender/rate_limit.hpp"
#include "tests/sender/packets.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;
using namespace mirrortap::test;

TEST_CASE("encap: UDP + VXLAN header with the session's VNI, then the frame, decaps back") {
    Buf frame = ip4_frame(6, {10, 0, 0, 1}, {10, 0, 0, 2}, 40000, 443, 200);
    std::vector<std::byte> out(16 + frame.size());
    const size_t n = encapsulate_udp_vxlan(out.data(), 50000, 4789, 501, view(frame), uint32_t(frame.size()));
    CHECK(n == 16 + 200);
    CHECK(load_be16(out, 0) == 50000);
    CHECK(load_be16(out, 2) == 4789);
    CHECK(load_be16(out, 4) == n);
    CHECK(load_be16(out, 6) == 0);
    CHECK(uint8_t(out[8]) == 0x08);  // I flag
    DecapResult d = decap_vxlan(Bytes(out).subspan(8));
    REQUIRE(d.ok());
    CHECK(d->header.vni == 501);
    CHECK(d->frame.size() == 200);
    CHECK(std::equal(d->frame.begin(), d->frame.end(), frame.begin()));
}

TEST_CASE("encap: a truncated frame keeps its original length in the inner IP header") {
    Buf frame = ip4_frame(17, {10, 0, 0, 1}, {10, 0, 0, 2}, 1, 2, 1000);
    std::vector<std::byte> out(16 + 128);
    encapsulate_udp_vxlan(out.data(), 50000, 4789, 7, view(frame), 128);
    DecapResult d = decap_vxlan(Bytes(out).subspan(8));
    REQUIRE(d.ok());
    CHECK(d->inner.captured_length == 128);
    CHECK(d->inner.original_length == 1000);
    CHECK(d->inner.truncated());
}

TEST_CASE("encap: the outer source port is symmetric per flow and in 49152-65535") {
    for (uint16_t p = 1000; p < 1200; ++p) {
        FlowKey ab = parsed(ip4_frame(6, {10, 0, 0, 1}, {10, 0, 0, 2}, p, 443)).flow;
        FlowKey ba = parsed(ip4_frame(6, {10, 0, 0, 2}, {10, 0, 0, 1}, 443, p)).flow;
        const uint16_t port = outer_source_port(ab);
        CHECK(port == outer_source_port(ba));
        CHECK(port >= 49152);
    }
    FlowKey v6a = parsed(ip6_frame(17, 1, 2, 5353, 53)).flow;
    FlowKey v6b = parsed(ip6_frame(17, 2, 1, 53, 5353)).flow;
    CHECK(outer_source_port(v6a) == outer_source_port(v6b));
}

TEST_CASE("rate limit: packets per second cap, burst of 10 ms") {
    RateLimiter limiter(1000, 0);
    uint64_t passed = 0;
    // 10000 packets spread over one second: 1000/s plus the initial burst of 10.
    for (uint64_t i = 0; i < 10000; ++i) passed += limiter.allow(100, 1'000'000'000 + i * 100'000);
    CHECK(passed >= 1000);
    CHECK(passed <= 1011);
}

TEST_CASE("rate limit: bits per second cap counts the bytes on the wire") {
    RateLimiter limiter(0, 8'000'000);  // 1 MB/s
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < 20000; ++i) {
        if (limiter.allow(1000, 1'000'000'000 + i * 100'000)) bytes += 1000;  // 2 s of offers at 10 MB/s
    }
    CHECK(bytes >= 2'000'000);
    CHECK(bytes <= 2'000'000 + 80'000);
}

TEST_CASE("rate limit: a packet refused by one cap takes nothing from the other") {
    RateLimiter limiter(1'000'000, 8 * 1000);  // plenty of packets, 1000 B/s; burst is one 65535-byte datagram
    const uint64_t t = 5'000'000'000;
    CHECK(limiter.allow(60000, t));
    CHECK_FALSE(limiter.allow(60000, t));  // the bit bucket is empty
    CHECK(limiter.allow(5000, t));
    RateLimiter unlimited;
    for (int i = 0; i < 1000; ++i) CHECK(unlimited.allow(9000, t));
}

namespace {

OwnTarget target4(std::array<uint8_t, 4> a, uint16_t port) {
    OwnTarget t;
    t.family = FlowKind::ipv4;
    std::copy(a.begin(), a.end(), t.address.begin());
    t.port = port;
    return t;
}

OwnTarget target6(uint8_t last, uint16_t port) {  // 2000::<last>, as ip6_frame builds them
    OwnTarget t;
    t.family = FlowKind::ipv6;
    t.address[0] = 0x20;
    t.address[15] = last;
    t.port = port;
    return t;
}

// An ICMP error from 10.8.0.2 quoting a UDP datagram 10.0.0.1 -> quoted_dst:dport.
Buf icmp4_error(uint8_t type, std::initializer_list<uint8_t> quoted_dst, uint16_t dport) {
    Buf b = ethernet(0x0800);
    ipv4(b, 1, {10, 8, 0, 2}, {10, 0, 0, 1}, 20 + 8 + 20 + 8);
    put(b, {type, 3, 0, 0, 0, 0, 0, 0});
    ipv4(b, 17, {10, 0, 0, 1}, quoted_dst, 200);
    ports(b, 50000, dport);
    put(b, {0, 200 - 20, 0, 0});
    return b;
}

// An ICMPv6 error from 2000::<dst_last> quoting UDP 2000::1 -> 2000::<quoted_dst>:dport.
Buf icmp6_error(uint8_t type, uint8_t quoted_dst, uint16_t dport) {
    Buf b = ethernet(0x86DD);
    ipv6(b, 58, 2, 1, 8 + 40 + 8);
    put(b, {type, 4, 0, 0, 0, 0, 0, 0});
    ipv6(b, 17, 1, quoted_dst, 8 + 100);
    ports(b, 50000, dport);
    put(b, {0, 108, 0, 0});
    return b;
}

}  // namespace

TEST_CASE("own traffic: our VXLAN and ICMP errors quoting it are recognised, nothing else") {
    const OwnTarget t4 = target4({10, 8, 0, 2}, 4789);
    auto own4 = [&](const Buf& b) { return is_own_traffic(view(b), parsed(b), t4); };
    CHECK(own4(ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 2}, 50000, 4789)));
    CHECK_FALSE(own4(ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 3}, 50000, 4789)));
    CHECK_FALSE(own4(ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 2}, 50000, 53)));
    CHECK_FALSE(own4(ip4_frame(6, {10, 0, 0, 1}, {10, 8, 0, 2}, 50000, 4789)));
    CHECK(own4(icmp4_error(3, {10, 8, 0, 2}, 4789)));        // port unreachable from a collector that is down
    CHECK(own4(icmp4_error(11, {10, 8, 0, 2}, 4789)));
    CHECK_FALSE(own4(icmp4_error(3, {10, 8, 0, 2}, 53)));    // about other traffic to the same host
    CHECK_FALSE(own4(icmp4_error(3, {10, 8, 0, 9}, 4789)));
    CHECK_FALSE(own4(icmp4_error(8, {10, 8, 0, 2}, 4789)));  // not an error type
    CHECK_FALSE(own4(ip4_frame(1, {10, 8, 0, 2}, {10, 0, 0, 1})));
    const OwnTarget t6 = target6(2, 4789);
    auto own6 = [&](const Buf& b) { return is_own_traffic(view(b), parsed(b), t6); };
    CHECK(own6(ip6_frame(17, 1, 2, 50000, 4789)));
    CHECK_FALSE(own6(ip6_frame(17, 1, 3, 50000, 4789)));
    CHECK(own6(icmp6_error(1, 2, 4789)));
    CHECK_FALSE(own6(icmp6_error(1, 3, 4789)));
    CHECK_FALSE(own6(icmp6_error(128, 2, 4789)));
    // No target yet, or another family: never own traffic.
    CHECK_FALSE(is_own_traffic(view(ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 2}, 5, 4789)),
                               parsed(ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 2}, 5, 4789)), OwnTarget{}));
    CHECK_FALSE(own6(ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 2}, 50000, 4789)));
}

TEST_CASE("own traffic: any fragment towards the target is ours, whole datagrams of others are not") {
    const OwnTarget t4 = target4({10, 8, 0, 2}, 4789);
    auto own4 = [&](const Buf& b) { return is_own_traffic(view(b), parsed(b), t4); };
    // A non-first piece of our VXLAN: no UDP header to recognise it by.
    CHECK(own4(ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 2}, 0, 0, 60, 0x00B9)));   // offset 1480, last
    CHECK(own4(ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 2}, 0, 0, 60, 0x20B9)));   // offset 1480, more follow
    CHECK(own4(ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 2}, 50000, 53, 60, 0x2000)));  // first, more follow
    CHECK(own4(ip4_frame(1, {10, 0, 0, 1}, {10, 8, 0, 2}, 0, 0, 60, 0x00B9)));    // any protocol
    CHECK_FALSE(own4(ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 3}, 0, 0, 60, 0x00B9)));  // another host
    CHECK_FALSE(own4(ip4_frame(17, {10, 8, 0, 2}, {10, 0, 0, 1}, 0, 0, 60, 0x00B9)));  // from the target
    CHECK_FALSE(own4(ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 2}, 50000, 53, 60, 0x4000)));  // DF, whole
    const OwnTarget t6 = target6(2, 4789);
    auto own6 = [&](const Buf& b) { return is_own_traffic(view(b), parsed(b), t6); };
    CHECK(own6(ip6_frame(44, 1, 2)));  // a fragment header first
    CHECK_FALSE(own6(ip6_frame(44, 1, 3)));
    CHECK_FALSE(own6(ip6_frame(44, 2, 1)));
}

TEST_CASE("capture: the own-traffic BPF filter drops exactly what is_own_traffic recognises") {
    auto passes = bpf_passes;
    const OwnTarget t4 = target4({10, 8, 0, 2}, 4789);
    const std::string f4 = own_traffic_filter(t4);
    INFO(f4);
    const Buf frames4[] = {
        ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 2}, 50000, 4789), ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 3}, 50000, 4789),
        ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 2}, 50000, 53),   ip4_frame(6, {10, 0, 0, 1}, {10, 8, 0, 2}, 50000, 4789),
        ip4_frame(1, {10, 8, 0, 2}, {10, 0, 0, 1}),                icmp4_error(3, {10, 8, 0, 2}, 4789),
        icmp4_error(12, {10, 8, 0, 2}, 4789),                      icmp4_error(3, {10, 8, 0, 2}, 53),
        icmp4_error(3, {10, 8, 0, 9}, 4789),                       icmp4_error(0, {10, 8, 0, 2}, 4789),
        ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 2}, 0, 0, 60, 0x00B9), ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 2}, 0, 0, 60, 0x20B9),
        ip4_frame(6, {10, 0, 0, 1}, {10, 8, 0, 2}, 1, 2, 60, 0x2000), ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 3}, 0, 0, 60, 0x00B9),
        ip4_frame(17, {10, 8, 0, 2}, {10, 0, 0, 1}, 0, 0, 60, 0x00B9), ip4_frame(17, {10, 0, 0, 1}, {10, 8, 0, 2}, 5, 53, 60, 0x4000)};
    for (const Buf& b : frames4) CHECK(passes(f4, b) == !is_own_traffic(view(b), parsed(b), t4));
    CHECK_FALSE(passes(f4, frames4[0]));
    CHECK_FALSE(passes(f4, frames4[5]));

    const OwnTarget t6 = target6(2, 4789);
    const std::string f6 = own_traffic_filter(t6);
    INFO(f6);
    const Buf frames6[] = {ip6_frame(17, 1, 2, 50000, 4789), ip6_frame(17, 1, 3, 50000, 4789),
                           icmp6_error(1, 2, 4789),          icmp6_error(2, 2, 4789),
                           icmp6_error(1, 3, 4789),          icmp6_error(1, 2, 53),
                           icmp6_error(129, 2, 4789),        ip6_frame(58, 1, 2),
                           ip6_frame(44, 1, 2),              ip6_frame(44, 1, 3),
                           ip6_frame(44, 2, 1)};
    for (const Buf& b : frames6) CHECK(passes(f6, b) == !is_own_traffic(view(b), parsed(b), t6));
    CHECK_FALSE(passes(f6, frames6[0]));
    CHECK_FALSE(passes(f6, frames6[2]));
}

TEST_CASE("explain: each frame of a pcap file is shown with its session and rule") {
    FilterRule reject_dns;
    reject_dns.rule_number = 5;
    reject_dns.action = RuleAction::reject;
    reject_dns.protocol = kProtoUdp;
    reject_dns.destination_ports = PortRange{53, 53};
    FilterRule web;
    web.rule_number = 10;
    web.protocol = kProtoTcp;
    web.destination_ports = PortRange{443, 443};
    web.description = "tls";
    Session s;
    s.session_number = 3;
    s.vni = 501;
    s.packet_length = 64;
    s.filter = Filter({}, {reject_dns, web});
    SessionEngine engine({s});

    char path[] = "/tmp/mt-explain-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t* dump = pcap_dump_open(dead, path);
    REQUIRE(dump);
    auto write = [&](Buf frame) {
        pcap_pkthdr h{};
        h.caplen = h.len = uint32_t(frame.size());
        pcap_dump(reinterpret_cast<u_char*>(dump), &h, reinterpret_cast<const u_char*>(frame.data()));
    };
    write(ip4_frame(6, {10, 0, 0, 1}, {10, 0, 0, 2}, 40000, 443, 200));  // src MAC ...:aa is ours
    write(ip4_frame(17, {10, 0, 0, 1}, {10, 0, 0, 2}, 40000, 53));
    write(ip4_frame(1, {10, 0, 0, 1}, {10, 0, 0, 2}));
    Buf arp = ethernet(0x0806);
    pad_to(arp, 60);
    write(arp);
    pcap_dump_close(dump);
    pcap_close(dead);

    ExplainOptions o;
    o.local_mac = std::array<uint8_t, 6>{0x02, 0, 0, 0, 0, 0xAA};
    std::ostringstream out;
    const auto totals = explain_pcap(path, engine, o, out);
    std::remove(path);
    REQUIRE(totals);
    CHECK(totals->packets == 4);
    CHECK(totals->mirrored == 1);
    const std::string text = out.str();
    INFO(text);
    CHECK(text.find("1 egress 10.0.0.1.40000 > 10.0.0.2.443 tcp length 200: mirrored by session 3 egress rule 10 "
                    "accept \"tls\" (vni 501), sends 64 bytes (packet_length)") != std::string::npos);
    CHECK(text.find("2 egress 10.0.0.1.40000 > 10.0.0.2.53 udp length 60: not mirrored: session 3 egress rule 5 "
                    "reject") != std::string::npos);
    CHECK(text.find("3 egress 10.0.0.1 > 10.0.0.2 icmp length 60: not mirrored: no rule matched") != std::string::npos);
    CHECK(text.find("4 egress ethertype 0x0806 (arp) length 60: not mirrored: not IP") != std::string::npos);

    // Without a MAC, both directions are shown.
    bool mirrored = false;
    Buf tls = ip4_frame(6, {10, 0, 0, 1}, {10, 0, 0, 2}, 40000, 443, 100);
    std::string both = explain_frame(engine, std::nullopt, reinterpret_cast<const uint8_t*>(tls.data()),
                                     uint32_t(tls.size()), uint32_t(tls.size()), 1460, mirrored);
    CHECK(mirrored);
    CHECK(both.find("as egress mirrored by session 3") != std::string::npos);
    CHECK(both.find("as ingress not mirrored: no rule matched") != std::string::npos);
    CHECK_FALSE(explain_pcap("/nonexistent.pcap", engine, o, out));
}

