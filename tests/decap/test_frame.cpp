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
