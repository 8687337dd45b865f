// What the wire carried (issue 15, item 4): super-frames cut back into
// segments, partial checksums completed.
#include <doctest/doctest.h>

#include <vector>

#include "sender/segment.hpp"
#include "tests/sender/packets.hpp"

using namespace mirrortap;
using namespace mirrortap::sender;
using namespace mirrortap::test;

namespace {

// A TCP frame with `payload` bytes (0, 1, 2, ...), sequence 1000, ACK|PSH|FIN|CWR,
// 12 bytes of options, and `checksum` in the TCP header (the IPv4 header's right).
Buf tcp_frame(bool v6, size_t payload, uint16_t checksum = 0x1234) {
    const uint16_t tcp_bytes = uint16_t(32 + payload);
    Buf b = ethernet(v6 ? 0x86DD : 0x0800);
    if (v6) {
        ipv6(b, 6, 1, 2, tcp_bytes);
    } else {
        ipv4(b, 6, {10, 0, 0, 1}, {10, 0, 0, 2}, uint16_t(20 + tcp_bytes));
        b[14 + 4] = std::byte(0x12);  // IP id 0x1234
        b[14 + 5] = std::byte(0x34);
        store_be16(b.data() + 14 + 10, 0);
        store_be16(b.data() + 14 + 10, checksum::fold(checksum::add(b.data() + 14, 20, 0)));
    }
    ports(b, 40000, 443);
    put32(b, 1000);                  // sequence
    put32(b, 5);                     // acknowledgement
    put(b, {0x80, 0x80 | 0x10 | 0x08 | 0x01});  // data offset 8 words; CWR ACK PSH FIN
    put16(b, 502);                   // window
    put16(b, checksum);
    put16(b, 0);                     // urgent
    put(b, {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2});  // NOP NOP timestamps
    for (size_t i = 0; i < payload; ++i) put8(b, uint8_t(i));
    return b;
}

// Whether the TCP checksum of `frame` (IPv4 header checksum too) is right.
bool checksums_good(Bytes frame) {
    const InnerFrame in = parse_inner_frame(frame);
    if (in.flow.kind == FlowKind::ipv4 && checksum::fold(checksum::add(frame.data() + 14, 20, 0)) != 0) return false;
    const size_t l4 = l4_offset(frame, in);
    const size_t bytes = frame.size() - l4;
    return load_be16(frame, l4 + 16) ==
           l4_checksum(frame.data(), in.l3_offset, l4, bytes, in.flow.kind == FlowKind::ipv6, 6);
}

}  // namespace

// The frame with the partial checksum checksum offload leaves in it.
Buf with_partial_checksum(Buf frame) {
    const InnerFrame in = parse_inner_frame(view(frame));
    const size_t l4 = l4_offset(view(frame), in);
    const size_t bytes = frame.size() - l4;
    store_be16(frame.data() + l4 + (in.flow.protocol == 6 ? 16 : 6),
               partial_checksum(frame.data(), in.l3_offset, bytes, in.flow.kind == FlowKind::ipv6, in.flow.protocol));
    return frame;
}

TEST_CASE("segment: a partial checksum is completed, any other left as the wire had it") {
    for (bool v6 : {false, true}) {
        Buf frame = with_partial_checksum(tcp_frame(v6, 100));
        const InnerFrame in = parse_inner_frame(view(frame));
        CHECK_FALSE(checksums_good(view(frame)));
        const ChecksumFix fix = l4_checksum_fix(view(frame), in);
        REQUIRE(fix.field == 14 + (v6 ? 40 : 20) + 16);
        store_be16(frame.data() + fix.field, fix.value);
        CHECK(checksums_good(view(frame)));
        CHECK(l4_checksum_fix(view(frame), parse_inner_frame(view(frame))).field == 0);
    }
    // A wrong checksum that is not a partial one is what the wire carried.
    const Buf bad = tcp_frame(false, 100, 0x1234);
    CHECK(l4_checksum_fix(view(bad), parse_inner_frame(view(bad))).field == 0);
    // IPv4 UDP without a checksum (0) keeps none; a truncated frame is not touched.
    Buf udp = ip4_frame(17, {10, 0, 0, 1}, {10, 0, 0, 2}, 5000, 53, 80);
    CHECK(l4_checksum_fix(view(udp), parse_inner_frame(view(udp))).field == 0);
    Buf cut = with_partial_checksum(tcp_frame(false, 100));
    cut.resize(80);
    CHECK(l4_checksum_fix(view(cut), parse_inner_frame(view(cut))).field == 0);
}

TEST_CASE("segment: a TSO/GRO super-frame is cut into the wire's segments") {
    for (bool v6 : {false, true}) {
        INFO("IPv6: " << v6);
        const size_t ip_header = v6 ? 40 : 20;
        const uint32_t mtu = 1500;
        const size_t per = mtu - ip_header - 32;  // the MSS: MTU less IP and TCP headers with options
        const size_t payload = 2 * per + 100;
        const Buf super = tcp_frame(v6, payload);
        const InnerFrame in = parse_inner_frame(view(super));
        REQUIRE(is_tcp_superframe(view(super), in, mtu));
        CHECK_FALSE(is_tcp_superframe(view(super), in, 9000));
        std::vector<Buf> segments;
        std::vector<std::byte> scratch(2 * 65536);
        const size_t n = split_tcp(view(super), in, mtu, 0, scratch.data(),
                                   [&](Bytes s) { segments.emplace_back(s.begin(), s.end()); });
        REQUIRE(n == 3);
        REQUIRE(segments.size() == 3);
        size_t offset = 0;
        for (size_t i = 0; i < 3; ++i) {
            const Buf& s = segments[i];
            const Bytes v = view(s);
            const size_t l4 = 14 + ip_header;
            const size_t chunk = i < 2 ? per : 100;
            CHECK(s.size() == l4 + 32 + chunk);
            CHECK(s.size() - 14 <= mtu);
            if (v6) {
                CHECK(load_be16(v, 14 + 4) == 32 + chunk);
            } else {
                CHECK(load_be16(v, 14 + 2) == 20 + 32 + chunk);
                CHECK(load_be16(v, 14 + 4) == 0x1234 + i);  // IP ids as software GSO numbers them
            }
            const uint32_t seq = uint32_t(load_be16(v, l4 + 4)) << 16 | load_be16(v, l4 + 6);
            CHECK(seq == 1000 + offset);
            const uint8_t flags = uint8_t(s[l4 + 13]);
            CHECK(bool(flags & 0x80) == (i == 0));  // CWR on the first
            CHECK(bool(flags & 0x09) == (i == 2));  // FIN and PSH on the last
            CHECK((flags & 0x10) != 0);             // ACK on all
            for (size_t k = 0; k < chunk; ++k)
                if (uint8_t(s[l4 + 32 + k]) != uint8_t(offset + k)) FAIL("payload byte " << offset + k << " moved");
            CHECK(checksums_good(v));
            offset += chunk;
        }
        CHECK(offset == payload);
    }
}

TEST_CASE("segment: frames that are not whole TCP super-frames are left as they are") {
    const Buf small = tcp_frame(false, 100);
    CHECK_FALSE(is_tcp_superframe(view(small), parse_inner_frame(view(small)), 1500));
    Buf cut = tcp_frame(false, 4000);
    cut.resize(1000);  // captured short: its rest is unknown
    CHECK_FALSE(is_tcp_superframe(view(cut), parse_inner_frame(view(cut)), 1500));
    const Buf udp = ip4_frame(17, {10, 0, 0, 1}, {10, 0, 0, 2}, 5000, 53, 4000);
    CHECK_FALSE(is_tcp_superframe(view(udp), parse_inner_frame(view(udp)), 1500));
}

namespace {

// A UDP aggregate of `payload` bytes (i % 251) as UDP_SEGMENT hands it to the
// captures: one UDP header over all of it, the partial checksum in it. IPv6
// with a destination options header (8 bytes, a PadN) when `v6`.
Buf udp_aggregate(bool v6, size_t payload) {
    const uint16_t udp_bytes = uint16_t(8 + payload);
    Buf b = ethernet(v6 ? 0x86DD : 0x0800);
    if (v6) {
        ipv6(b, 60, 1, 2, uint16_t(8 + udp_bytes));
        put(b, {17, 0, 1, 4, 0, 0, 0, 0});
    } else {
        ipv4(b, 17, {10, 0, 0, 1}, {10, 0, 0, 2}, uint16_t(20 + udp_bytes));
        store_be16(b.data() + 14 + 4, 0x4321);
        store_be16(b.data() + 14 + 10, 0);
        store_be16(b.data() + 14 + 10, checksum::fold(checksum::add(b.data() + 14, 20, 0)));
    }
    ports(b, 40000, 9000);
    put16(b, udp_bytes);
    put16(b, 0);
    for (size_t i = 0; i < payload; ++i) put8(b, uint8_t(i % 251));
    return b;
}

}  // namespace

TEST_CASE("segment: a UDP GSO aggregate is cut into the datagrams the wire carried") {
    for (bool v6 : {false, true}) {
        INFO("IPv6 with destination options: " << v6);
        const Buf aggregate = udp_aggregate(v6, 2500);
        const InnerFrame in = parse_inner_frame(view(aggregate));
        const size_t l4 = 14 + (v6 ? 48 : 20);
        REQUIRE(l4_offset(view(aggregate), in) == l4);
        std::vector<Buf> datagrams;
        std::vector<std::byte> scratch(2 * 65536);
        const size_t n = split_udp(view(aggregate), in, 1000, scratch.data(),
                                   [&](Bytes d) { datagrams.emplace_back(d.begin(), d.end()); });
        REQUIRE(n == 3);
        size_t offset = 0;
        for (size_t i = 0; i < n; ++i) {
            const Bytes d = view(datagrams[i]);
            const size_t chunk = i < 2 ? 1000 : 500;
            CHECK(d.size() == l4 + 8 + chunk);
            CHECK(load_be16(d, l4 + 4) == 8 + chunk);
            if (v6) {
                CHECK(load_be16(d, 14 + 4) == 8 + 8 + chunk);
                CHECK(uint8_t(d[14 + 6]) == 60);  // the extension header in each
            } else {
                CHECK(load_be16(d, 14 + 2) == 20 + 8 + chunk);
                CHECK(load_be16(d, 14 + 4) == 0x4321 + i);
                CHECK(checksum::fold(checksum::add(d.data() + 14, 20, 0)) == 0);
            }
            CHECK(load_be16(d, l4 + 6) == l4_checksum(d.data(), 14, l4, 8 + chunk, v6, 17));
            for (size_t k = 0; k < chunk; ++k)
                if (uint8_t(d[l4 + 8 + k]) != uint8_t((offset + k) % 251)) FAIL("payload byte " << offset + k << " moved");
            offset += chunk;
        }
        // Not an aggregate's: no segment size, a TCP frame, a frame cut short.
        CHECK(split_udp(view(aggregate), in, 0, scratch.data(), [](Bytes) {}) == 0);
        const Buf tcp = tcp_frame(v6, 3000);
        CHECK(split_udp(view(tcp), parse_inner_frame(view(tcp)), 1000, scratch.data(), [](Bytes) {}) == 0);
        Buf cut = aggregate;
        cut.resize(1200);
        CHECK(split_udp(view(cut), parse_inner_frame(view(cut)), 1000, scratch.data(), [](Bytes) {}) == 0);
    }
}

TEST_CASE("segment: IPv6 extension headers stay in each segment, over a routing header the checksum takes its final hop") {
    // Hop-by-hop (8 bytes), then a segment routing header (type 4) with one
    // segment to go, 2000::99: the pseudo header's destination (RFC 8200 8.1).
    const size_t payload = 3000;
    Buf b = ethernet(0x86DD);
    ipv6(b, 0, 1, 2, uint16_t(8 + 24 + 32 + payload));
    put(b, {43, 0, 1, 4, 0, 0, 0, 0});
    put(b, {6, 2, 4, 1, 0, 0, 0, 0});
    for (int i = 0; i < 15; ++i) put8(b, i == 0 ? 0x20 : 0);
    put8(b, 0x99);
    const size_t final_destination = 14 + 40 + 8 + 8;
    ports(b, 40000, 443);
    put32(b, 1000);
    put32(b, 5);
    put(b, {0x80, 0x10});
    put16(b, 502);
    put16(b, 0);
    put16(b, 0);
    put(b, {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2});
    for (size_t i = 0; i < payload; ++i) put8(b, uint8_t(i));
    const InnerFrame in = parse_inner_frame(view(b));
    const size_t l4 = 14 + 40 + 32;
    const L4Place place = l4_place(view(b), in);
    REQUIRE(place.offset == l4);
    CHECK(place.destination == final_destination);
    std::vector<Buf> segments;
    std::vector<std::byte> scratch(2 * 65536);
    // The kernel's segment size (1200) wins over what the MTU would leave room for.
    const size_t n = split_tcp(view(b), in, 1500, 1200, scratch.data(),
                               [&](Bytes s) { segments.emplace_back(s.begin(), s.end()); });
    REQUIRE(n == 3);
    for (size_t i = 0; i < n; ++i) {
        const Bytes s = view(segments[i]);
        const size_t chunk = i < 2 ? 1200 : 600;
        CHECK(s.size() == l4 + 32 + chunk);
        CHECK(load_be16(s, 14 + 4) == 32 + 32 + chunk);
        CHECK(std::equal(s.begin() + 54, s.begin() + l4, b.begin() + 54));  // the extension headers as they were
        const uint16_t over_final = l4_checksum(s.data(), 14, l4, 32 + chunk, true, 6, final_destination);
        CHECK(load_be16(s, l4 + 16) == over_final);
        CHECK(over_final != l4_checksum(s.data(), 14, l4, 32 + chunk, true, 6));
    }
    // A fragment header: a fragment, not ours to rewrite.
    Buf fragment = ethernet(0x86DD);
    ipv6(fragment, 44, 1, 2, 8 + 8 + 100);
    put(fragment, {17, 0, 0, 1, 0, 0, 0, 7});
    ports(fragment, 1, 2);
    put16(fragment, 108);
    put16(fragment, 0);
    pad_to(fragment, 14 + 40 + 8 + 8 + 100);
    CHECK(l4_offset(view(fragment), parse_inner_frame(view(fragment))) == 0);
}

TEST_CASE("segment: a tunnel's aggregate is cut into the tunnel packets the wire carried") {
    // Outer IPv4 (id 0x0100), UDP 4790 with a zero checksum, VXLAN, then an
    // inner TCP super-frame of 3000 bytes; the kernel segments by the inner
    // TCP header with an MSS of 1200.
    const Buf inner = tcp_frame(false, 3000);
    Buf b = ethernet(0x0800);
    const size_t outer_ip_bytes = 20 + 8 + 8 + inner.size();
    ipv4(b, 17, {192, 0, 2, 1}, {192, 0, 2, 2}, uint16_t(outer_ip_bytes));
    store_be16(b.data() + 14 + 4, 0x0100);
    store_be16(b.data() + 14 + 10, 0);
    store_be16(b.data() + 14 + 10, checksum::fold(checksum::add(b.data() + 14, 20, 0)));
    ports(b, 50000, 4790);
    put16(b, uint16_t(8 + 8 + inner.size()));
    put16(b, 0);
    put(b, {0x08, 0, 0, 0, 0, 0, 7, 0});
    b.insert(b.end(), inner.begin(), inner.end());
    const size_t prefix = 14 + 20 + 8 + 8;
    const size_t inner_l4 = prefix + 14 + 20;
    const InnerFrame outer = parse_inner_frame(view(b));
    std::vector<Buf> packets;
    std::vector<std::byte> scratch(2 * 65536);
    const size_t n = split_tunnel(view(b), outer, inner_l4, true, 1200, scratch.data(),
                                  [&](Bytes p) { packets.emplace_back(p.begin(), p.end()); });
    REQUIRE(n == 3);
    size_t offset = 0;
    for (size_t i = 0; i < n; ++i) {
        const Bytes p = view(packets[i]);
        const size_t chunk = i < 2 ? 1200 : 600;
        CHECK(p.size() == prefix + 14 + 20 + 32 + chunk);
        CHECK(load_be16(p, 14 + 2) == p.size() - 14);             // outer IP length
        CHECK(load_be16(p, 14 + 4) == 0x0100 + i);                // outer id
        CHECK(checksum::fold(checksum::add(p.data() + 14, 20, 0)) == 0);
        CHECK(load_be16(p, 14 + 20 + 4) == p.size() - 14 - 20);  // outer UDP length
        CHECK(load_be16(p, 14 + 20 + 6) == 0);                    // zero stays zero
        const Bytes segment = p.subspan(prefix);
        CHECK(checksums_good(segment));                            // the inner IP and TCP
        const uint32_t seq = uint32_t(load_be16(segment, 34 + 4)) << 16 | load_be16(segment, 34 + 6);
        CHECK(seq == 1000 + offset);
        offset += chunk;
    }
    // The inner header is not where the kernel says: not split.
    CHECK(split_tunnel(view(b), outer, inner_l4 + 4, true, 1200, scratch.data(), [](Bytes) {}) == 0);
}

TEST_CASE("segment: the checksum the kernel left to the device is completed where it says") {
    // An inner TCP frame in a tunnel: the value check of l4_checksum_fix
    // looks at the outer header only; the kernel's word finds the inner one.
    for (bool v6 : {false, true}) {
        Buf frame = with_partial_checksum(tcp_frame(v6, 100));
        const InnerFrame in = parse_inner_frame(view(frame));
        const size_t l4 = 14 + (v6 ? 40 : 20);
        const ChecksumFix fix = offloaded_checksum_fix(view(frame), in, l4, 16);
        REQUIRE(fix.field == l4 + 16);
        store_be16(frame.data() + fix.field, fix.value);
        CHECK(checksums_good(view(frame)));
        Buf cut = with_partial_checksum(tcp_frame(v6, 100));
        cut.resize(l4 + 40);
        CHECK(offloaded_checksum_fix(view(cut), parse_inner_frame(view(cut)), l4, 16).field == 0);
    }
}
