// The sender's own value parsers, for what only the sender reads: rates,
// IP protocols, MAC addresses, interface names. Numbers, sizes, durations,
// endpoints and CIDR blocks are support/parse.hpp's. Same style: the value,
// or nullopt with `why` one line quoting the text.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mirrortap::sender {

struct RateLimit {
    uint64_t packets_per_second = 0;  // 0 = no cap
    uint64_t bits_per_second = 0;     // 0 = no cap; counts the bytes sent, outer headers included
    bool any() const { return packets_per_second || bits_per_second; }
    bool operator==(const RateLimit&) const = default;
};

// "20000pps", "50kpps", "100Mbps", "1Gbps", or one of each with a comma
// ("5kpps, 100Mbps"); suffixes in any case, k/M/G in powers of 1000. What is
// not given is not capped.
std::optional<RateLimit> parse_rate(std::string_view text, std::string& why);

// "6", "tcp", "udp", "icmp", "icmpv6", "sctp" (any case), or "all", "0", "-1"
// (AWS's spellings of every protocol, which leave `protocol` empty).
bool parse_protocol(std::string_view text, std::optional<uint8_t>& protocol, std::string& why);

using MacAddress = std::array<uint8_t, 6>;

// "02:00:5e:10:00:01": six groups of one or two hex digits.
std::optional<MacAddress> parse_mac(std::string_view text, std::string& why);

// A Linux interface name: 1 to 15 bytes, no '/', ':', white space or control
// character, not "." or "..".
std::optional<std::string> parse_interface_name(std::string_view text, std::string& why);

// Free text shown back to people (descriptions, filter ids): any bytes but
// control characters, which a log line or a metric label must not carry.
std::optional<std::string> parse_label_text(std::string_view text, std::string& why);

}  // namespace mirrortap::sender
