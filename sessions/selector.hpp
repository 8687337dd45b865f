// A selector: which network interfaces to mirror (DescribeNetworkInterfaces
// filters, as the AWS CLI's --filters writes them) and the session each gets
// (target, filter, VNI, session number, packet length). Its values are
// checked here, before any request: an id that cannot be one, a filter name
// EC2 does not know, a VNI or session number out of AWS's range.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "cloud/ec2.hpp"

namespace mirrortap::sessions {

// The tag every session mirrortap-sessions creates carries, its value the
// selector's name: the sessions it may remove are those, and only those.
inline constexpr std::string_view kSelectorTag = "mirrortap:selector";

inline constexpr uint32_t kMinSessionNumber = 1;
inline constexpr uint32_t kMaxSessionNumber = 32766;
inline constexpr uint32_t kMaxVni = (1u << 24) - 1;
inline constexpr uint32_t kMaxPacketLength = 8500;  // AWS's bound for NLB targets
inline constexpr size_t kMaxSessionsPerInterface = 3;  // AWS's quota, not adjustable

struct Selector {
    std::string name;                       // the tag's value, the metrics' `selector` label
    std::vector<cloud::Ec2Filter> select;   // all must match (EC2 ANDs filters)
    std::string target_id;                  // tmt-...
    std::string filter_id;                  // tmf-...
    std::optional<uint32_t> vni;
    uint32_t session_number = 1;
    std::optional<uint32_t> packet_length;  // none: the whole packet
    int line = 0;                           // where the file defines it; 0 on the command line
    int column = 0;

    bool operator==(const Selector&) const = default;
    // "selector 'web'" or "selector 'web' (line 7)": how errors name it.
    std::string describe() const;
};

// One --select: "Name=tag:tier,Values=web,api" (AWS CLI shorthand; keys in
// any order, further comma-separated items are more values). The name must
// be one DescribeNetworkInterfaces knows (tag:KEY, subnet-id, vpc-id,
// group-id, attachment.instance-id, requester-managed, ...).
Result<cloud::Ec2Filter> parse_select(std::string_view text);
// The filter back in the shorthand, for messages and the plan.
std::string select_text(const cloud::Ec2Filter& filter);

// tmt- / tmf- and 8 or 17 lowercase hex digits.
Result<std::string> parse_target_id(std::string_view text);
Result<std::string> parse_filter_id(std::string_view text);
// 1 to 64 of [A-Za-z0-9_.:-]: a tag value, a metrics label, a word in the log.
Result<std::string> parse_selector_name(std::string_view text);
Result<uint32_t> parse_session_number(std::string_view text);
Result<uint32_t> parse_packet_length(std::string_view text);

// What a selector misses or states twice, one line each naming it: no
// select, no target, filter or VNI. Two selectors of one name, or of one
// target, select and session number, are `conflicts`.
std::vector<std::string> selector_problems(const Selector& s);
std::vector<std::string> selector_conflicts(const std::vector<Selector>& selectors);

}  // namespace mirrortap::sessions
