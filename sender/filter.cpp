#include "sender/filter.hpp"

#include <algorithm>

#include "support/text.hpp"

namespace mirrortap::sender {

Result<Cidr> parse_filter_cidr(std::string_view text) {
    auto block = parse_cidr(text);
    if (!block) return fail(block.error());
    if (block->is_v4() && text.find(':') != std::string_view::npos)
        return fail(quote(text) + " is an IPv4-mapped IPv6 block; filters tell IPv4 from IPv6, so write " +
                    block->to_string() + " for IPv4 packets");
    return *block;
}

bool block_holds(const Cidr& block, FlowKind kind, const std::array<uint8_t, 16>& address) {
    if (kind == FlowKind::ipv6) return !block.is_v4() && block.contains(address);
    if (kind != FlowKind::ipv4 || !block.is_v4()) return false;
    const std::array<uint8_t, 16> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF,
                                            address[0], address[1], address[2], address[3]};
    return block.contains(mapped);
}

bool FilterRule::matches(const InnerFrame& packet) const {
    const FlowKey& f = packet.flow;
    // AWS filters describe IP traffic only: ARP and other non-IP frames are
    // never mirrored, whatever the rules say.
    if (f.kind == FlowKind::non_ip) return false;
    if (protocol && *protocol != f.protocol) return false;
    if (source_cidr && !block_holds(*source_cidr, f.kind, f.src)) return false;
    if (destination_cidr && !block_holds(*destination_cidr, f.kind, f.dst)) return false;
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
