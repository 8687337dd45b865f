// Traffic mirror filters with AWS VPC Traffic Mirroring semantics (DESIGN §3).
// Pure: a packet's flow key in, the rule that decided out. No I/O, no allocation.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "decap/flow.hpp"
#include "decap/frame.hpp"

namespace mirrortap::sender {

// AWS's TrafficDirection: ingress = received by the source interface
// (console: "inbound"), egress = sent by it ("outbound").
enum class Direction : uint8_t { ingress, egress };
inline constexpr size_t kDirectionCount = 2;
std::string_view to_string(Direction d);

enum class RuleAction : uint8_t { accept, reject };
std::string_view to_string(RuleAction a);

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIcmpv6 = 58;

// An IPv4 or IPv6 prefix. A v4 prefix never matches a v6 packet and the
// reverse, as in AWS (0.0.0.0/0 is "all IPv4", ::/0 "all IPv6").
struct Cidr {
    FlowKind family = FlowKind::ipv4;
    std::array<uint8_t, 16> address{};  // host bits cleared
    uint8_t prefix_length = 0;

    // "10.0.0.0/8", "2001:db8::/32"; a bare address is a /32 or /128.
    static std::optional<Cidr> parse(std::string_view text);
    bool contains(FlowKind kind, const std::array<uint8_t, 16>& addr) const;
    std::string to_string() const;
    bool operator==(const Cidr&) const = default;
};

struct PortRange {
    uint16_t from_port = 0;
    uint16_t to_port = 65535;
    bool contains(uint16_t port) const { return port >= from_port && port <= to_port; }
    bool operator==(const PortRange&) const = default;
};

// One filter rule. Absent fields match everything: protocol absent = all
// protocols; an absent CIDR = any address of either family (AWS always has
// both CIDRs; our YAML lets "any" be left out).
struct FilterRule {
    uint16_t rule_number = 0;   // 1..32766, unique per direction, lower first
    RuleAction action = RuleAction::accept;
    std::optional<uint8_t> protocol;
    std::optional<Cidr> source_cidr;
    std::optional<Cidr> destination_cidr;
    std::optional<PortRange> source_ports;       // TCP and UDP only
    std::optional<PortRange> destination_ports;  // TCP and UDP only
    std::string description;

    bool has_port_range() const { return source_ports || destination_ports; }
    bool matches(const InnerFrame& packet) const;
};

// What a filter decided for one packet.
struct FilterVerdict {
    const FilterRule* rule = nullptr;  // null: no rule matched
    bool accepted() const { return rule && rule->action == RuleAction::accept; }
};

class Filter {
public:
    Filter() = default;
    Filter(std::vector<FilterRule> ingress, std::vector<FilterRule> egress);

    // Rules in rule_number order; the first that matches decides; no match
    // means the packet is not mirrored.
    FilterVerdict evaluate(Direction dir, const InnerFrame& packet) const;

    const std::vector<FilterRule>& rules(Direction dir) const { return rules_[size_t(dir)]; }
    std::string id;  // TrafficMirrorFilterId when imported from AWS, else empty

private:
    std::array<std::vector<FilterRule>, kDirectionCount> rules_;
};

}  // namespace mirrortap::sender
