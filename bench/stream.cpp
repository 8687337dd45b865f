#include "bench/stream.hpp"

#include <cstring>

#include "decap/bytes.hpp"
#include "decap/frame.hpp"

namespace mirrortap::bench {

namespace {

constexpr uint16_t kServerPort = 5001;
constexpr uint16_t kClientPortBase = 32768;
constexpr uint32_t kClientsPerPort = 250;  // .1 to .250 before the port moves on
constexpr uint8_t kTtl = 64;
constexpr uint16_t kDontFragment = 0x4000;

void put_bytes(std::byte* at, const uint8_t* from, size_t n) { std::memcpy(at, from, n); }

uint16_t ipv4_header_checksum(const std::byte* header) {
    uint32_t sum = 0;
    for (size_t i = 0; i < 20; i += 2) sum += (uint32_t(header[i]) << 8) | uint32_t(header[i + 1]);
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return uint16_t(~sum);
}

}  // namespace

FlowKey InnerFlow::key(bool reply) const {
    FlowKey k;
    k.kind = FlowKind::ipv4;
    k.protocol = kIpProtocolUdp;
    const auto& src_ip = reply ? server_ip : client_ip;
    const auto& dst_ip = reply ? client_ip : server_ip;
    std::memcpy(k.src.data(), src_ip.data(), 4);
    std::memcpy(k.dst.data(), dst_ip.data(), 4);
    k.src_port = reply ? server_port : client_port;
    k.dst_port = reply ? client_port : server_port;
    return k;
}

InnerFlow inner_flow(uint32_t session, uint32_t flow) {
    const uint8_t hi = uint8_t(session >> 8), lo = uint8_t(session);
    InnerFlow f;
    // Locally administered unicast MACs ("mt" in the second and third bytes).
    f.client_mac = {0x02, 0x6d, 0x74, hi, lo, 0x01};
    f.server_mac = {0x02, 0x6d, 0x74, hi, lo, 0x02};
    f.client_ip = {10, hi, lo, uint8_t(1 + flow % kClientsPerPort)};
    f.server_ip = {10, hi, lo, 254};
    f.client_port = uint16_t(kClientPortBase + (flow / kClientsPerPort) % 32768);
    f.server_port = kServerPort;
    return f;
}

uint16_t outer_source_port(const FlowKey& inner) {
    return uint16_t(kOuterPortLow + FlowHash::symmetric(inner) % kOuterPortCount);
}

void fill_inner_payload(std::byte* frame, uint32_t frame_bytes) {
    // A recognisable, non-zero pattern: easy to spot in Wireshark, and it
    // keeps anything that compresses zeros from flattering a sink.
    for (uint32_t i = kInnerHeadersBytes + kMarkerBytes; i < frame_bytes; ++i) {
        frame[i] = std::byte(uint8_t(i * 31 + 7));
    }
}

void write_inner_headers(std::byte* frame, uint32_t frame_bytes, const InnerFlow& flow,
                         const Marker& marker) {
    const bool reply = marker.reply;
    std::byte* eth = frame;
    put_bytes(eth, (reply ? flow.client_mac : flow.server_mac).data(), 6);  // destination
    put_bytes(eth + 6, (reply ? flow.server_mac : flow.client_mac).data(), 6);
    store_be16(eth + 12, kEtherTypeIpv4);

    std::byte* ip = frame + kEthernetHeaderBytes;
    const uint16_t ip_total = uint16_t(frame_bytes - kEthernetHeaderBytes);
    ip[0] = std::byte{0x45};  // version 4, 20-byte header
    ip[1] = std::byte{0};
    store_be16(ip + 2, ip_total);
    store_be16(ip + 4, uint16_t(marker.sequence));  // identification
    store_be16(ip + 6, kDontFragment);
    ip[8] = std::byte{kTtl};
    ip[9] = std::byte{kIpProtocolUdp};
    store_be16(ip + 10, 0);
    put_bytes(ip + 12, (reply ? flow.server_ip : flow.client_ip).data(), 4);
    put_bytes(ip + 16, (reply ? flow.client_ip : flow.server_ip).data(), 4);
    store_be16(ip + 10, ipv4_header_checksum(ip));

    std::byte* udp = ip + 20;
    store_be16(udp, reply ? flow.server_port : flow.client_port);
    store_be16(udp + 2, reply ? flow.client_port : flow.server_port);
    store_be16(udp + 4, uint16_t(ip_total - 20));
    store_be16(udp + 6, 0);  // "no checksum", allowed for IPv4 UDP

    std::byte* m = frame + kInnerHeadersBytes;
    put_bytes(m, kMarkerMagic.data(), 4);
    store_be32(m + 4, marker.vni);
    store_be32(m + 8, uint32_t(marker.sequence >> 32));
    store_be32(m + 12, uint32_t(marker.sequence));
    store_be32(m + 16, marker.flow);
    m[20] = std::byte{uint8_t(reply ? 1 : 0)};
}

}  // namespace mirrortap::bench
