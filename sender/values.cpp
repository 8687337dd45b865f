#include "sender/values.hpp"

#include <charconv>

#include "sender/filter.hpp"
#include "support/parse.hpp"
#include "support/text.hpp"

namespace mirrortap::sender {

namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return out;
}

struct RateUnit {
    std::string_view suffix;
    uint64_t scale;
    bool packets;
};
constexpr RateUnit kRateUnits[] = {
    {"pps", 1, true},     {"kpps", 1000, true},        {"mpps", 1000000, true},
    {"bps", 1, false},    {"kbps", 1000, false},       {"mbps", 1000000, false},
    {"gbps", 1000000000, false},
};

}  // namespace

Result<RateLimit> parse_rate(std::string_view text) {
    const std::string expected =
        "expected a rate such as 20000pps, 50kpps, 100Mbps, 1Gbps or one of each with a comma, got " + quote(text);
    RateLimit rate;
    bool packets_given = false, bits_given = false;
    for (std::string_view part : split_list(text)) {
        size_t digits = 0;
        while (digits < part.size() && part[digits] >= '0' && part[digits] <= '9') ++digits;
        const std::string suffix = lower(part.substr(digits));
        const RateUnit* unit = nullptr;
        for (const RateUnit& u : kRateUnits)
            if (suffix == u.suffix) unit = &u;
        const auto n = parse_uint(part.substr(0, digits), UINT64_MAX / (unit ? unit->scale : 1));
        if (!unit || digits == 0) return fail(expected);
        if (!n) return fail("rate " + quote(part) + " is too large");
        bool& given = unit->packets ? packets_given : bits_given;
        if (given) return fail("rate " + quote(text) + " gives " + (unit->packets ? "packets" : "bits") + " per second twice");
        given = true;
        (unit->packets ? rate.packets_per_second : rate.bits_per_second) = *n * unit->scale;
    }
    return rate;
}

Result<std::optional<uint8_t>> parse_protocol(std::string_view text) {
    const std::string t = lower(text);
    if (t == "all" || t == "-1" || t == "0") return std::optional<uint8_t>();
    static constexpr std::pair<std::string_view, uint8_t> kNames[] = {
        {"icmp", kProtoIcmp}, {"tcp", kProtoTcp}, {"udp", kProtoUdp}, {"icmpv6", kProtoIcmpv6}, {"sctp", 132}};
    for (auto [name, number] : kNames)
        if (t == name) return std::optional<uint8_t>(number);
    const auto n = parse_uint(text, 255);
    if (!n)
        return fail("expected an IANA protocol number 0..255, a name (tcp, udp, icmp, icmpv6, sctp) or all, got " +
                    quote(text));
    return std::optional<uint8_t>(uint8_t(*n));
}

}  // namespace mirrortap::sender
