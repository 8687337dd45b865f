// The sender's own value parsers, for what only the sender reads: rates and
// IP protocols. Numbers, sizes, durations, times, endpoints, CIDR blocks, MAC
// addresses, interface names and free text are support/parse.hpp's. Same
// style: the value, or why not in one line quoting the text.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.hpp"
#include "support/parse.hpp"

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
Result<RateLimit> parse_rate(std::string_view text);

// "6", "tcp", "udp", "icmp", "icmpv6", "sctp" (any case), or "all", "0", "-1"
// (AWS's spellings of every protocol: an empty protocol).
Result<std::optional<uint8_t>> parse_protocol(std::string_view text);


}  // namespace mirrortap::sender
