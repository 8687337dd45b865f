#include <doctest/doctest.h>

#include "sender/session_engine.hpp"
#include "tests/sender/packets.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;
using namespace mirrortap::test;

namespace {

FilterRule accept_proto(uint16_t number, std::optional<uint8_t> proto) {
    FilterRule r;
    r.rule_number = number;
    r.protocol = proto;
    return r;
}

FilterRule reject_proto(uint16_t number, std::optional<uint8_t> proto) {
    FilterRule r = accept_proto(number, proto);
    r.action = RuleAction::reject;
    return r;
}

Session session(uint16_t number, uint32_t vni, std::vector<FilterRule> egress, std::vector<FilterRule> ingress = {}) {
    Session s;
    s.session_number = number;
    s.vni = vni;
    s.filter = Filter(std::move(ingress), std::move(egress));
    return s;
}

const Buf tcp = ip4_frame(6, {10, 0, 0, 1}, {10, 0, 0, 2}, 40000, 443);
const Buf udp = ip4_frame(17, {10, 0, 0, 1}, {10, 0, 0, 2}, 40000, 53);
const Buf icmp = ip4_frame(1, {10, 0, 0, 1}, {10, 0, 0, 2});

}  // namespace

TEST_CASE("sessions: the lowest session_number that accepts wins, whatever the list order") {
    SessionEngine engine({session(7, 700, {accept_proto(1, std::nullopt)}),
                          session(2, 200, {accept_proto(1, kProtoTcp)})});
    REQUIRE(engine.sessions().front().session_number == 2);
    Classification c = engine.classify(Direction::egress, parsed(tcp));
    REQUIRE(c.mirrored());
    CHECK(engine.sessions()[size_t(c.session_index)].vni == 200);
    c = engine.classify(Direction::egress, parsed(udp));
    REQUIRE(c.mirrored());
    CHECK(engine.sessions()[size_t(c.session_index)].vni == 700);
}

TEST_CASE("sessions: a reject in a higher-priority session passes the packet on to the next session") {
    SessionEngine engine({session(1, 100, {reject_proto(1, kProtoTcp), accept_proto(2, std::nullopt)}),
                          session(2, 200, {accept_proto(1, kProtoTcp)})});
    Classification c = engine.classify(Direction::egress, parsed(tcp));
    REQUIRE(c.mirrored());
    CHECK(engine.sessions()[size_t(c.session_index)].vni == 200);
    CHECK(c.rule->rule_number == 1);
    c = engine.classify(Direction::egress, parsed(udp));
    REQUIRE(c.mirrored());
    CHECK(engine.sessions()[size_t(c.session_index)].vni == 100);
    CHECK(c.rule->rule_number == 2);
}

TEST_CASE("sessions: a packet is mirrored once even when every session would accept it") {
    SessionEngine engine({session(3, 300, {accept_proto(1, std::nullopt)}),
                          session(1, 100, {accept_proto(1, std::nullopt)}),
                          session(2, 200, {accept_proto(1, std::nullopt)})});
    Classification c = engine.classify(Direction::egress, parsed(icmp));
    REQUIRE(c.mirrored());
    CHECK(c.session_index == 0);  // one index, one session, one copy
    CHECK(engine.sessions()[0].vni == 100);
}

TEST_CASE("sessions: not mirrored reports rejected, no_match or non_ip") {
    SessionEngine engine({session(1, 100, {reject_proto(5, kProtoUdp), accept_proto(9, kProtoTcp)})});
    Classification c = engine.classify(Direction::egress, parsed(udp));
    CHECK_FALSE(c.mirrored());
    CHECK(c.not_mirrored == NotMirrored::rejected);
    CHECK(c.rule->rule_number == 5);
    c = engine.classify(Direction::egress, parsed(icmp));
    CHECK_FALSE(c.mirrored());
    CHECK(c.not_mirrored == NotMirrored::no_match);
    CHECK(c.rule == nullptr);
    Buf arp = ethernet(0x0806);
    pad_to(arp, 42);
    c = engine.classify(Direction::egress, parsed(arp));
    CHECK(c.not_mirrored == NotMirrored::non_ip);
    CHECK(kNotMirroredNames(NotMirrored::no_match) == "no_match");
}

TEST_CASE("sessions: no sessions means nothing is mirrored") {
    SessionEngine engine;
    CHECK_FALSE(engine.classify(Direction::ingress, parsed(tcp)).mirrored());
}

TEST_CASE("truncation: packet_length cuts the frame, absent keeps it whole") {
    Truncation t = truncate_frame(1000, 128, 1460);
    CHECK(t.length == 128);
    CHECK(t.by_packet_length);
    CHECK_FALSE(t.by_mtu);
    t = truncate_frame(100, 128, 1460);
    CHECK(t.length == 100);
    CHECK_FALSE(t.by_packet_length);
    t = truncate_frame(1000, std::nullopt, 1460);
    CHECK(t.length == 1000);
    CHECK_FALSE(t.by_packet_length);
    CHECK_FALSE(t.by_mtu);
}

TEST_CASE("truncation: AWS's figures: 54 bytes around the inner packet over IPv4, 74 over IPv6") {
    // AWS: with a target MTU of 9001, mirrored packets up to 8947 bytes are
    // not truncated: 54 bytes of overhead around the inner IP packet (outer
    // IPv4 20, UDP 8, VXLAN 8, inner Ethernet 14, and 4 more). We count the
    // inner Ethernet frame, so 8947 + 14 = 8961 bytes of frame.
    CHECK(max_inner_frame_bytes(9001, false) == 8961);
    CHECK(max_inner_frame_bytes(9001, false) - 14 + 54 == 9001);
    CHECK(max_inner_frame_bytes(1500, false) == 1460);
    CHECK(max_inner_frame_bytes(1500, true) - 14 + 74 == 1500);  // IPv6: 20 more
    CHECK(max_inner_frame_bytes(1500, true) == 1440);
    Truncation t = truncate_frame(1514, std::nullopt, max_inner_frame_bytes(1500, false));
    CHECK(t.length == 1460);
    CHECK(t.by_mtu);
    t = truncate_frame(1460, std::nullopt, max_inner_frame_bytes(1500, false));
    CHECK_FALSE(t.by_mtu);
    // The MTU still applies under a larger packet_length.
    t = truncate_frame(9000, 8500, max_inner_frame_bytes(1500, false));
    CHECK(t.length == 1460);
    CHECK(t.by_mtu);
    CHECK_FALSE(t.by_packet_length);
}

TEST_CASE("sessions: IPv6 traffic goes to the session with the IPv6 rule") {
    FilterRule v4_all = accept_proto(1, std::nullopt);
    v4_all.destination_cidr = *parse_filter_cidr("0.0.0.0/0");
    FilterRule v6_all = accept_proto(1, std::nullopt);
    v6_all.destination_cidr = *parse_filter_cidr("::/0");
    SessionEngine engine({session(1, 4, {v4_all}), session(2, 6, {v6_all})});
    Classification c = engine.classify(Direction::egress, parsed(ip6_frame(6, 1, 2, 1000, 443)));
    REQUIRE(c.mirrored());
    CHECK(engine.sessions()[size_t(c.session_index)].vni == 6);
    c = engine.classify(Direction::egress, parsed(tcp));
    REQUIRE(c.mirrored());
    CHECK(engine.sessions()[size_t(c.session_index)].vni == 4);
}
