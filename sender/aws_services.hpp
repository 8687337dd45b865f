// Traffic AWS VPC Traffic Mirroring never mirrors, whatever the filter says
// ("Traffic Mirroring limitations and quotas", VPC Traffic Mirroring user
// guide): the link-local services every instance talks to (instance
// metadata, the Amazon Time Sync Service, Windows activation), DHCP and
// DHCPv6, and the Amazon DNS resolver unless the filter names the
// `amazon-dns` network service. ARP is not IP and never reaches a filter.
// Pure, and cheap: a few compares on the parsed flow key.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.hpp"
#include "decap/frame.hpp"
#include "support/parse.hpp"

namespace mirrortap::sender {

enum class AwsService : uint8_t {
    none,                // ordinary traffic: the filters decide
    instance_metadata,   // 169.254.169.254, fd00:ec2::254
    time_sync,           // 169.254.169.123, fd00:ec2::123
    windows_activation,  // 169.254.169.250, 169.254.169.251
    dhcp,                // UDP between ports 67 and 68 (IPv4)
    dhcpv6,              // UDP between ports 546 and 547 (IPv6)
    amazon_dns,          // 169.254.169.253, fd00:ec2::253: only with network_services [amazon-dns]
};

// "instance metadata", "DHCP"...: for --explain ("AWS never mirrors ...").
// As --explain names them in a sentence ("AWS never mirrors DHCP").
inline constexpr auto kAwsServiceNames = enum_phrases<AwsService>({
    {AwsService::none, "none"},
    {AwsService::instance_metadata, "instance metadata"},
    {AwsService::time_sync, "the Amazon Time Sync Service"},
    {AwsService::windows_activation, "Windows activation"},
    {AwsService::dhcp, "DHCP"},
    {AwsService::dhcpv6, "DHCPv6"},
    {AwsService::amazon_dns, "Amazon DNS"},
});

namespace detail {

// 169.254.169.X, or fd00:ec2::X (written with the same digits: ::254 is 0x0254).
inline AwsService link_local_service(FlowKind kind, const std::array<uint8_t, 16>& a) {
    if (kind == FlowKind::ipv4) {
        if (a[0] != 169 || a[1] != 254 || a[2] != 169) return AwsService::none;
        switch (a[3]) {
            case 254: return AwsService::instance_metadata;
            case 123: return AwsService::time_sync;
            case 250:
            case 251: return AwsService::windows_activation;
            case 253: return AwsService::amazon_dns;
            default: return AwsService::none;
        }
    }
    static constexpr uint8_t kPrefix[14] = {0xfd, 0x00, 0x0e, 0xc2};  // fd00:ec2::/112
    if (std::memcmp(a.data(), kPrefix, 14) != 0) return AwsService::none;
    switch (uint16_t(a[14] << 8 | a[15])) {
        case 0x0254: return AwsService::instance_metadata;
        case 0x0123: return AwsService::time_sync;
        case 0x0253: return AwsService::amazon_dns;
        default: return AwsService::none;
    }
}

inline bool both_ports_in(const FlowKey& f, uint16_t a, uint16_t b) {
    return (f.src_port == a || f.src_port == b) && (f.dst_port == a || f.dst_port == b);
}

}  // namespace detail

// The Amazon DNS resolvers in the VPC's own range: base + 2 of each block.
using VpcResolvers = std::vector<std::array<uint8_t, 4>>;
VpcResolvers vpc_resolvers(const std::vector<Cidr>& vpc_blocks);

// Which AWS service `packet` belongs to, from either address or the ports.
inline AwsService aws_service(const InnerFrame& packet, const VpcResolvers& resolvers = {}) {
    const FlowKey& f = packet.flow;
    if (f.kind == FlowKind::non_ip) return AwsService::none;
    if (AwsService s = detail::link_local_service(f.kind, f.dst); s != AwsService::none) return s;
    if (AwsService s = detail::link_local_service(f.kind, f.src); s != AwsService::none) return s;
    if (f.kind == FlowKind::ipv4)
        for (const auto& r : resolvers)
            if (std::memcmp(f.dst.data(), r.data(), 4) == 0 || std::memcmp(f.src.data(), r.data(), 4) == 0)
                return AwsService::amazon_dns;
    if (f.protocol == 17 && packet.has_ports) {
        if (f.kind == FlowKind::ipv4 && detail::both_ports_in(f, 67, 68)) return AwsService::dhcp;
        if (f.kind == FlowKind::ipv6 && detail::both_ports_in(f, 546, 547)) return AwsService::dhcpv6;
    }
    return AwsService::none;
}

// The capture filter that keeps these out in the kernel already (the hot
// path checks again: VLAN-tagged frames pass a BPF filter unlooked-at).
// Amazon DNS too unless some session's filter asks for it.
std::string aws_services_filter(bool keep_amazon_dns, const VpcResolvers& resolvers = {});

}  // namespace mirrortap::sender
