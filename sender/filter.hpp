// Traffic mirror filters with AWS VPC Traffic Mirroring semantics (as AWS documents it).
// Pure: a packet's flow key in, the rule that decided out. No I/O, no allocation.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.hpp"
#include "base/result.hpp"
#include "decap/flow.hpp"
#include "decap/frame.hpp"
#include "support/parse.hpp"

namespace mirrortap::sender {

// AWS's TrafficDirection: ingress = received by the source interface
// (console: "inbound"), egress = sent by it ("outbound").
enum class Direction : uint8_t { ingress, egress };
inline constexpr auto kDirectionNames =
    enum_names<Direction>({{Direction::ingress, "ingress"}, {Direction::egress, "egress"}});

enum class RuleAction : uint8_t { accept, reject };
inline constexpr auto kRuleActionNames =
    enum_names<RuleAction>({{RuleAction::accept, "accept"}, {RuleAction::reject, "reject"}});

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIcmpv6 = 58;

// A rule's address block is support's Cidr (IPv4 held IPv4-mapped). Filters
// tell the families apart, as AWS does: an IPv4 block never matches an IPv6
// packet and the reverse (0.0.0.0/0 is "all IPv4", ::/0 "all IPv6").

// "10.0.0.0/8", "2001:db8::/32", or a bare address (/32, /128). An IPv6 block
// inside ::ffff:0:0/96 (IPv4-mapped) is refused: in AWS it matches IPv6
// packets, which never carry such addresses on the wire, but it would read
// here as an IPv4 block and match IPv4 traffic instead.
Result<Cidr> parse_filter_cidr(std::string_view text);

// Whether `block` holds a packet's address of family `kind` (FlowKey's form:
// IPv4 in the first four bytes).
bool block_holds(const Cidr& block, FlowKind kind, const std::array<uint8_t, 16>& address);

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
    bool operator==(const FilterRule&) const = default;
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
    // AWS's NetworkServices ["amazon-dns"]: the filter also sees traffic to
    // and from the Amazon DNS resolver, which AWS otherwise never mirrors.
    bool amazon_dns = false;
    bool operator==(const Filter&) const = default;

private:
    std::array<std::vector<FilterRule>, kDirectionNames.size()> rules_;
};

}  // namespace mirrortap::sender
