#include "sender/filter.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace mirrortap::sender {

std::string_view to_string(Direction d) {
    return d == Direction::ingress ? "ingress" : "egress";
}

std::string_view to_string(RuleAction a) {
    return a == RuleAction::accept ? "accept" : "reject";
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
    Cidr c;
    std::string_view addr_part = text;
    std::optional<unsigned> prefix;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        addr_part = text.substr(0, slash);
        std::string_view p = text.substr(slash + 1);
        unsigned v = 0;
        auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
        if (ec != std::errc{} || end != p.data() + p.size() || p.empty()) return std::nullopt;
        prefix = v;
    }
    std::string addr(addr_part);
    if (inet_pton(AF_INET, addr.c_str(), c.address.data()) == 1) {
        c.family = FlowKind::ipv4;
        c.prefix_length = uint8_t(prefix.value_or(32));
        if (prefix.value_or(32) > 32) return std::nullopt;
    } else if (inet_pton(AF_INET6, addr.c_str(), c.address.data()) == 1) {
        c.family = FlowKind::ipv6;
        c.prefix_length = uint8_t(prefix.value_or(128));
        if (prefix.value_or(128) > 128) return std::nullopt;
    } else {
        return std::nullopt;
    }
    // Clear host bits so that contains() is one masked compare and
    // to_string() prints the network as AWS does.
    const size_t width = c.family == FlowKind::ipv4 ? 4 : 16;
    for (size_t i = 0; i < width; ++i) {
        const int bits = std::clamp(int(c.prefix_length) - int(i * 8), 0, 8);
        c.address[i] &= uint8_t(0xFF00 >> bits);
    }
    return c;
}

bool Cidr::contains(FlowKind kind, const std::array<uint8_t, 16>& addr) const {
    if (kind != family) return false;
    const size_t full = prefix_length / 8;
    if (std::memcmp(addr.data(), address.data(), full) != 0) return false;
    const unsigned rest = prefix_length % 8;
    if (rest == 0) return true;
    const uint8_t mask = uint8_t(0xFF00 >> rest);
    return (addr[full] & mask) == address[full];
}

std::string Cidr::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == FlowKind::ipv4 ? AF_INET : AF_INET6, address.data(), buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(prefix_length);
}

bool FilterRule::matches(const InnerFrame& packet) const {
    const FlowKey& f = packet.flow;
    // AWS filters describe IP traffic only: ARP and other non-IP frames are
    // never mirrored, whatever the rules say.
    if (f.kind == FlowKind::non_ip) return false;
    if (protocol && *protocol != f.protocol) return false;
    if (source_cidr && !source_cidr->contains(f.kind, f.src)) return false;
    if (destination_cidr && !destination_cidr->contains(f.kind, f.dst)) return false;
    if (has_port_range()) {
        // Port ranges apply to TCP and UDP only: such a rule never matches
        // another protocol, nor a packet whose ports were not seen (a
        // non-first fragment).
        if (f.protocol != kProtoTcp && f.protocol != kProtoUdp) return false;
        if (!packet.has_ports) return false;
        if (source_ports && !source_ports->contains(f.src_port)) return false;
        if (destination_ports && !destination_ports->contains(f.dst_port)) return false;
    }
    return true;
}

Filter::Filter(std::vector<FilterRule> ingress, std::vector<FilterRule> egress) {
    auto by_number = [](const FilterRule& a, const FilterRule& b) { return a.rule_number < b.rule_number; };
    std::stable_sort(ingress.begin(), ingress.end(), by_number);
    std::stable_sort(egress.begin(), egress.end(), by_number);
    rules_[size_t(Direction::ingress)] = std::move(ingress);
    rules_[size_t(Direction::egress)] = std::move(egress);
}

FilterVerdict Filter::evaluate(Direction dir, const InnerFrame& packet) const {
    for (const FilterRule& r : rules_[size_t(dir)]) {
        if (r.matches(packet)) return {&r};
    }
    return {};
}

}  // namespace mirrortap::sender
