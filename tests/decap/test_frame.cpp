#include <doctest/doctest.h>

#include "decap/frame.hpp"
#include "tests/support/frames.hpp"

using namespace mirrortap;
using namespace mirrortap::test;

TEST_CASE("frame: IPv4/TCP gives a 5-tuple") {
    Buf b = ethernet(0x0800);
    ipv4(b, 6, {10, 1, 2, 3}, {10, 4, 5, 6}, 40);
    ports(b, 44321, 443);
    pad_to(b, 54);
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.flow.kind == FlowKind::ipv4);
    CHECK(f.flow.protocol == 6);
    CHECK(f.flow.src[0] == 10);
    CHECK(f.flow.src[3] == 3);
    CHECK(f.flow.dst[3] == 6);
    CHECK(f.flow.src_port == 44321);
    CHECK(f.flow.dst_port == 443);
    CHECK(f.l3_offset == 14);
    CHECK_FALSE(f.truncated());
}

TEST_CASE("frame: 802.1Q and 802.1ad tags are walked to the IP header") {
    Buf b = ethernet(0x0800, {0x88A8, 0x0064, 0x8100, 0x00C8});
    ipv4(b, 17, {192, 168, 0, 1}, {192, 168, 0, 2}, 28);
    ports(b, 5000, 6000);
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.vlan_count == 2);
    CHECK(f.vlan_ids[0] == 100);
    CHECK(f.vlan_ids[1] == 200);
    CHECK(f.ether_type == 0x0800);
    CHECK(f.l3_offset == 22);
    CHECK(f.flow.kind == FlowKind::ipv4);
    CHECK(f.flow.dst_port == 6000);
}

TEST_CASE("frame: IPv6/UDP gives a 5-tuple") {
    Buf b = ethernet(0x86DD);
    ipv6(b, 17, 1, 2, 8);
    ports(b, 546, 547);
    put16(b, 8);
    put16(b, 0);
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.flow.kind == FlowKind::ipv6);
    CHECK(f.flow.protocol == 17);
    CHECK(f.flow.src[0] == 0x20);
    CHECK(f.flow.src[15] == 1);
    CHECK(f.flow.dst[15] == 2);
    CHECK(f.flow.src_port == 546);
    CHECK_FALSE(f.truncated());
}

TEST_CASE("frame: ICMP is keyed by addresses and protocol") {
    Buf b = ethernet(0x0800);
    ipv4(b, 1, {10, 0, 0, 1}, {10, 0, 0, 2}, 28);
    put(b, {8, 0, 0, 0, 0, 1, 0, 1});
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.flow.kind == FlowKind::ipv4);
    CHECK(f.flow.protocol == 1);
    CHECK(f.flow.src_port == 0);
    CHECK(f.flow.dst_port == 0);
}

TEST_CASE("frame: truncated IPv4 frame keeps its original length from the IP header") {
    Buf b = ethernet(0x0800);
    ipv4(b, 6, {10, 0, 0, 1}, {10, 0, 0, 2}, 1500);
    ports(b, 1, 2);
    pad_to(b, 128);  // AWS packet_length 128
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.captured_length == 128);
    CHECK(f.original_length == 14 + 1500);
    CHECK(f.truncated());
}

TEST_CASE("frame: truncated IPv6 frame keeps its original length from the payload length") {
    Buf b = ethernet(0x86DD);
    ipv6(b, 6, 1, 2, 1000);
    ports(b, 1, 2);
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.original_length == 14 + 40 + 1000);
    CHECK(f.truncated());
}

TEST_CASE("frame: Ethernet padding never shrinks the original length") {
    Buf b = ethernet(0x0800);
    ipv4(b, 17, {10, 0, 0, 1}, {10, 0, 0, 2}, 28);
    ports(b, 1, 2);
    pad_to(b, 60);
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.original_length == 60);
    CHECK_FALSE(f.truncated());
}

TEST_CASE("frame: non-IP frames are keyed by their MAC pair") {
    Buf b = ethernet(0x0806);
    pad_to(b, 42);
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.flow.kind == FlowKind::non_ip);
    CHECK(f.flow.src[5] == 0xAA);
    CHECK(f.flow.dst[5] == 0xBB);
}

TEST_CASE("frame: headers cut short by truncation never read past the end") {
    Buf full = ethernet(0x0800, {0x8100, 0x0005});
    ipv4(full, 6, {10, 0, 0, 1}, {10, 0, 0, 2}, 60);
    ports(full, 1, 2);
    for (size_t n = 0; n <= full.size(); ++n) {
        Buf cut(full.begin(), full.begin() + long(n));
        InnerFrame f = parse_inner_frame(view(cut));
        CHECK(f.captured_length == n);
        CHECK(f.original_length >= n);
    }
}

TEST_CASE("frame: a later IPv4 fragment has no ports") {
    Buf b = ethernet(0x0800);
    ipv4(b, 17, {10, 0, 0, 1}, {10, 0, 0, 2}, 28, 0x00B9);
    ports(b, 1111, 2222);
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.flow.src_port == 0);
    CHECK(f.flow.dst_port == 0);
}

// ---- what the flow index keys by (sinks/flow_index.hpp) ----

TEST_CASE("frame: up to four VLAN tags are kept, outermost first") {
    Buf b = ethernet(0x86DD, {0x88A8, 0x0001, 0x8100, 0x0002, 0x8100, 0x0003, 0x9100, 0x0FFF});
    ipv6(b, 6, 1, 2, 20);
    ports(b, 40000, 443);
    InnerFrame f = parse_inner_frame(view(b));
    REQUIRE(f.vlan_count == 4);
    CHECK(f.vlan_ids[0] == 1);
    CHECK(f.vlan_ids[3] == 0x0FFF);
    CHECK(f.ether_type == 0x86DD);
    CHECK(f.flow.kind == FlowKind::ipv6);
    CHECK(f.flow.dst_port == 443);
}

TEST_CASE("frame: a fifth VLAN tag leaves the frame non-IP, keyed by its MACs") {
    Buf b = ethernet(0x0800, {0x8100, 1, 0x8100, 2, 0x8100, 3, 0x8100, 4, 0x8100, 5});
    ipv4(b, 17, {10, 0, 0, 1}, {10, 0, 0, 2}, 28);
    ports(b, 1, 2);
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.vlan_count == 4);
    CHECK(f.ether_type == 0x8100);
    CHECK(f.flow.kind == FlowKind::non_ip);
    CHECK_FALSE(f.has_protocol);
    CHECK(f.flow.src[5] == 0xAA);
}

TEST_CASE("frame: IPv4 has its protocol and no fragment or extension flags when whole") {
    Buf b = udp4_frame({10, 0, 0, 1}, {10, 0, 0, 2}, 1, 2);
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.has_protocol);
    CHECK(f.has_ports);
    CHECK_FALSE(f.fragment);
    CHECK_FALSE(f.ipv6_extensions);
    CHECK(f.has_ethernet());
}

TEST_CASE("frame: an IPv4 first fragment has ports and is flagged, a later one is flagged without ports") {
    Buf first = ethernet(0x0800);
    ipv4(first, 17, {10, 0, 0, 1}, {10, 0, 0, 2}, 1500, 0x2000);  // MF, offset 0
    ports(first, 53, 5353);
    InnerFrame a = parse_inner_frame(view(first));
    CHECK(a.fragment);
    CHECK(a.has_ports);
    CHECK(a.flow.src_port == 53);
    Buf later = ethernet(0x0800);
    ipv4(later, 17, {10, 0, 0, 1}, {10, 0, 0, 2}, 28, 0x00B9);  // last fragment: offset only
    ports(later, 53, 5353);
    InnerFrame b = parse_inner_frame(view(later));
    CHECK(b.fragment);
    CHECK(b.has_protocol);
    CHECK(b.flow.protocol == 17);
    CHECK_FALSE(b.has_ports);
}

// An IPv6 extension header of 8 bytes: next header, length 0, six bytes of padding.
static void ext8(Buf& b, uint8_t next) { put(b, {next, 0, 1, 4, 0, 0, 0, 0}); }

TEST_CASE("frame: IPv6 extension headers 0, 43 and 60 are walked to TCP") {
    Buf b = ethernet(0x86DD);
    ipv6(b, 0, 1, 2, 24 + 4 + 16);
    ext8(b, 43);
    put(b, {60, 1, 0, 0, 0, 0, 0, 0});  // routing, 16 bytes (length 1)
    pad_to(b, b.size() + 8);
    ext8(b, 6);
    ports(b, 40000, 5432);
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.flow.kind == FlowKind::ipv6);
    CHECK(f.ipv6_extensions);
    CHECK(f.has_protocol);
    CHECK(f.flow.protocol == 6);
    CHECK(f.has_ports);
    CHECK(f.flow.src_port == 40000);
    CHECK(f.flow.dst_port == 5432);
    CHECK_FALSE(f.fragment);
}

static void fragment_header(Buf& b, uint8_t next, uint16_t offset_units, bool more) {
    put(b, {next, 0});
    put16(b, uint16_t(offset_units << 3 | (more ? 1 : 0)));
    put32(b, 0xABCD);
}

TEST_CASE("frame: an IPv6 first fragment has ports, a later one only its protocol") {
    Buf first = ethernet(0x86DD);
    ipv6(first, 44, 1, 2, 1400);
    fragment_header(first, 17, 0, true);
    ports(first, 500, 4500);
    InnerFrame a = parse_inner_frame(view(first));
    CHECK(a.fragment);
    CHECK(a.ipv6_extensions);
    CHECK(a.flow.protocol == 17);
    CHECK(a.has_ports);
    CHECK(a.flow.dst_port == 4500);

    Buf later = ethernet(0x86DD);
    ipv6(later, 44, 1, 2, 100);
    fragment_header(later, 17, 175, false);
    ports(later, 500, 4500);  // payload bytes, not a header
    InnerFrame b = parse_inner_frame(view(later));
    CHECK(b.fragment);
    CHECK(b.has_protocol);
    CHECK(b.flow.protocol == 17);
    CHECK_FALSE(b.has_ports);
    CHECK(b.flow.src_port == 0);
}

TEST_CASE("frame: an IPv6 extension header cut by truncation leaves the protocol unknown") {
    Buf b = ethernet(0x86DD);
    ipv6(b, 0, 1, 2, 100);
    put(b, {6, 0, 1});  // hop-by-hop, cut after three bytes
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.flow.kind == FlowKind::ipv6);
    CHECK(f.flow.src[15] == 1);
    CHECK(f.ipv6_extensions);
    CHECK_FALSE(f.has_protocol);
    CHECK(f.flow.protocol == 0);
    CHECK_FALSE(f.has_ports);
}

TEST_CASE("frame: an endless chain of IPv6 extension headers stops after eight") {
    Buf b = ethernet(0x86DD);
    ipv6(b, 60, 1, 2, 200);
    for (int i = 0; i < 20; ++i) ext8(b, 60);
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.ipv6_extensions);
    CHECK_FALSE(f.has_protocol);
}

TEST_CASE("frame: ICMPv6 and ICMP have a protocol and no ports") {
    Buf b = ethernet(0x86DD);
    ipv6(b, 58, 1, 2, 8);
    put(b, {128, 0, 0, 0, 0, 1, 0, 1});
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.has_protocol);
    CHECK(f.flow.protocol == 58);
    CHECK_FALSE(f.has_ports);
    CHECK_FALSE(f.ipv6_extensions);
}

TEST_CASE("frame: SCTP has ports") {
    Buf b = ethernet(0x0800);
    ipv4(b, 132, {10, 0, 0, 1}, {10, 0, 0, 2}, 32);
    ports(b, 2905, 2905);
    pad_to(b, 46);
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.flow.protocol == 132);
    CHECK(f.has_ports);
}

TEST_CASE("frame: IPv4 cut before its ports has addresses and protocol, no ports") {
    Buf b = ethernet(0x0800);
    ipv4(b, 6, {10, 0, 0, 1}, {10, 0, 0, 2}, 1500);
    put(b, {0x9C});  // one byte of the TCP header
    InnerFrame f = parse_inner_frame(view(b));
    CHECK(f.flow.kind == FlowKind::ipv4);
    CHECK(f.has_protocol);
    CHECK_FALSE(f.has_ports);
    CHECK(f.truncated());
}

TEST_CASE("frame: shorter than an Ethernet header has nothing reached") {
    Buf b = ethernet(0x0800);
    b.resize(10);
    InnerFrame f = parse_inner_frame(view(b));
    CHECK_FALSE(f.has_ethernet());
    CHECK(f.flow.kind == FlowKind::non_ip);
    CHECK_FALSE(f.has_protocol);
}
