#include "sessions/selector.hpp"

#include <algorithm>
#include <array>

#include "support/parse.hpp"
#include "support/text.hpp"

namespace mirrortap::sessions {

namespace {

// DescribeNetworkInterfaces' filter names (EC2 API reference), tag:KEY aside.
constexpr std::array<std::string_view, 36> kFilterNames{
    "addresses.private-ip-address", "addresses.primary", "addresses.association.public-ip",
    "addresses.association.owner-id", "association.association-id", "association.allocation-id",
    "association.ip-owner-id", "association.public-ip", "association.public-dns-name",
    "attachment.attachment-id", "attachment.attach-time", "attachment.delete-on-termination",
    "attachment.device-index", "attachment.instance-id", "attachment.instance-owner-id",
    "attachment.status", "availability-zone", "description", "group-id", "group-name",
    "ipv6-addresses.ipv6-address", "interface-type", "mac-address", "network-interface-id", "owner-id",
    "private-dns-name", "private-ip-address", "requester-id", "requester-managed", "source-dest-check",
    "status", "subnet-id", "tag-key", "vpc-id", "availability-zone-id", "ipv6-address"};

constexpr size_t kMaxValues = 200;  // EC2 takes at most 200 values per filter

bool known_filter_name(std::string_view name) {
    if (name.starts_with("tag:")) return name.size() > 4;
    return std::find(kFilterNames.begin(), kFilterNames.end(), name) != kFilterNames.end();
}

Result<std::string> parse_resource_id(std::string_view text, std::string_view prefix, std::string_view what) {
    const std::string_view digits = text.substr(std::min(text.size(), prefix.size()));
    const bool hex = digits.find_first_not_of("0123456789abcdef") == std::string_view::npos;
    if (!text.starts_with(prefix) || !hex || (digits.size() != 8 && digits.size() != 17)) {
        return fail(quote(text) + " is not a " + std::string(what) + " id (" + std::string(prefix) +
                    " and 8 or 17 hex digits)");
    }
    return std::string(text);
}

}  // namespace

std::string Selector::describe() const {
    std::string text = "selector " + quote(name);
    if (line > 0) text += " (line " + std::to_string(line) + ")";
    return text;
}

Result<cloud::Ec2Filter> parse_select(std::string_view text) {
    if (has_control_character(text)) {
        return fail(quote(text) + " holds a control character");
    }
    cloud::Ec2Filter filter;
    bool named = false, valued = false;
    enum { none, name, values } in = none;
    std::string_view rest = text;
    for (size_t guard = 0; guard <= text.size(); ++guard) {
        const size_t comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        if (item.starts_with("Name=")) {
            if (named) {
                return fail(quote(text) + " gives Name twice (one filter per --select; repeat --select for more)");
            }
            filter.name = std::string(item.substr(5));
            named = true;
            in = name;
        } else if (item.starts_with("Values=")) {
            if (valued) {
                return fail(quote(text) + " gives Values twice");
            }
            filter.values.push_back(std::string(item.substr(7)));
            valued = true;
            in = values;
        } else if (in == values) {
            filter.values.push_back(std::string(item));
        } else {
            return fail(quote(text) + " is not Name=NAME,Values=VALUE[,VALUE...]");
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    if (!named || !valued) {
        return fail(quote(text) + " needs both Name= and Values= (Name=tag:tier,Values=web)");
    }
    if (!known_filter_name(filter.name)) {
        return fail("DescribeNetworkInterfaces has no filter " + quote(filter.name) +
                    " (tag:KEY, tag-key, subnet-id, vpc-id, group-id, attachment.instance-id, requester-managed, ...)");
    }
    for (const std::string& v : filter.values) {
        if (v.empty() || v.size() > 256) {
            return fail(quote(text) + ": a value is empty or longer than 256 characters");
        }
    }
    if (filter.values.size() > kMaxValues) {
        return fail(quote(text) + ": more than " + std::to_string(kMaxValues) + " values");
    }
    return filter;
}

std::string select_text(const cloud::Ec2Filter& filter) {
    std::string text = "Name=" + filter.name + ",Values=";
    for (size_t i = 0; i < filter.values.size(); ++i) text += (i ? "," : "") + filter.values[i];
    return text;
}

Result<std::string> parse_target_id(std::string_view text) {
    return parse_resource_id(text, "tmt-", "Traffic Mirroring target");
}

Result<std::string> parse_filter_id(std::string_view text) {
    return parse_resource_id(text, "tmf-", "Traffic Mirroring filter");
}

Result<std::string> parse_selector_name(std::string_view text) {
    constexpr std::string_view kAllowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-";
    if (text.empty() || text.size() > 64 || text.find_first_not_of(kAllowed) != std::string_view::npos) {
        return fail(quote(text) + " is not a selector name (1 to 64 of A-Z a-z 0-9 _ . : -)");
    }
    return std::string(text);
}

Result<uint32_t> parse_session_number(std::string_view text) {
    auto n = parse_uint(text, kMinSessionNumber, kMaxSessionNumber);
    if (!n) return fail(n.error());
    return static_cast<uint32_t>(*n);
}

Result<uint32_t> parse_packet_length(std::string_view text) {
    auto n = parse_uint(text, 1, kMaxPacketLength);
    if (!n) return fail(n.error());
    return static_cast<uint32_t>(*n);
}

std::vector<std::string> selector_problems(const Selector& s) {
    std::vector<std::string> problems;
    const std::string who = s.describe();
    // No filter at all would select every interface of the account.
    if (s.select.empty()) problems.push_back(who + ": needs at least one select (Name=tag:tier,Values=web)");
    if (s.target_id.empty()) problems.push_back(who + ": needs a target (tmt-...)");
    if (s.filter_id.empty()) problems.push_back(who + ": needs a filter (tmf-...)");
    if (!s.vni) problems.push_back(who + ": needs a vni (0..16777215)");
    return problems;
}

std::vector<std::string> selector_conflicts(const std::vector<Selector>& selectors) {
    std::vector<std::string> problems;
    for (size_t i = 0; i < selectors.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
            const Selector& a = selectors[j];
            const Selector& b = selectors[i];
            if (a.name == b.name) problems.push_back(b.describe() + ": the name is taken by " + a.describe());
            else if (a.target_id == b.target_id && a.session_number == b.session_number && a.select == b.select)
                problems.push_back(b.describe() + " and " + a.describe() + " select the same interfaces with session number " +
                                   std::to_string(b.session_number));
        }
    }
    return problems;
}

}  // namespace mirrortap::sessions
