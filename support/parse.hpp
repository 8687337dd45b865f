// Value parsers for config files and command lines, shared by both programs.
// Each takes the text as written and returns the value, or why not: one line
// that quotes the text (escaped with quote()).
#pragma once
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace mirrortap {

// ---- numbers, sizes, durations, switches ------------------------------------

// A decimal whole number in [min, max]; no sign, no spaces, no suffix.
Result<uint64_t> parse_uint(std::string_view text, uint64_t max);
Result<uint64_t> parse_uint(std::string_view text, uint64_t min, uint64_t max);

// Bytes: 4096, 64K, 100M, 1G, 2T (either case; powers of 1024), in [min, max].
Result<uint64_t> parse_size_bytes(std::string_view text);
Result<uint64_t> parse_size_bytes(std::string_view text, uint64_t min, uint64_t max);
// The shortest exact spelling parse_size_bytes reads back: 1073741824 -> "1G", 65552 -> "65552".
std::string format_size(uint64_t bytes);

// A time span: 30 (seconds), 30s, 500ms, 5m, 2h, 1d; whole numbers only.
using Duration = std::chrono::nanoseconds;
Result<Duration> parse_duration(std::string_view text);
Result<Duration> parse_duration(std::string_view text, Duration min, Duration max);
// The largest whole unit: 300s -> "5m", 1500ms -> "1500ms".
std::string format_duration(Duration d);

// true/false, yes/no, on/off, in any case.
Result<bool> parse_bool(std::string_view text);

// Free text (a path, a user name, a description shown back to people): any
// bytes but control characters, which a log line or a metric label must not carry.
Result<std::string> parse_text(std::string_view text);

// An octal permission mode, 0 to 0777: "0640", "640".
Result<uint32_t> parse_file_mode(std::string_view text);

// ---- times -------------------------------------------------------------------

// An RFC 3339 date-time with its zone: nanoseconds since 1970. 'T', 't' or a
// space between date and time, 'Z', 'z' or +HH:MM/-HH:MM after it, any number
// of fraction digits (nanoseconds kept), a leap second's :60. Before 1970 is
// refused. ("2026-12-01T10:02:00Z", "2026-12-01 11:02:00.5+01:00")
Result<uint64_t> parse_rfc3339(std::string_view text);
// Its inverse for what this code writes: UTC with nine fraction digits
// (2026-12-01T06:17:18.123456789Z), the manifests' and reports' times.
std::string rfc3339_ns(uint64_t ns);

// A point in time as a command line names it: RFC 3339, or a duration back
// from now written with a minus ("-15m", "-2h", "-1d", "-90s", "-500ms").
struct TimeArg {
    uint64_t ns = 0;        // since 1970, or (relative) back from now
    bool relative = false;
    // The time this names when now is `now_ns`; refused for a time before 1970.
    Result<uint64_t> at(uint64_t now_ns) const;
    bool operator==(const TimeArg&) const = default;
};
Result<TimeArg> parse_time_arg(std::string_view text);

// ---- VXLAN network identifiers -----------------------------------------------

// 0 .. 16777215.
Result<uint32_t> parse_vni(std::string_view text);

struct VniRange {
    uint32_t first = 0;
    uint32_t last = 0;
    bool contains(uint32_t vni) const { return vni >= first && vni <= last; }
    bool operator==(const VniRange&) const = default;
};

// "501" or "100-199"; a reversed range ("199-100") is refused, not swapped.
Result<VniRange> parse_vni_range(std::string_view text);

// ---- addresses ----------------------------------------------------------------

// An address block of either family. IPv4 is held IPv4-mapped (::ffff:a.b.c.d,
// prefix + 96) so that one type and one compare serve both families.
struct Cidr {
    std::array<uint8_t, 16> addr{};  // host bits cleared
    uint8_t prefix_bits = 0;         // of the 128-bit form
    // `a` in the same 128-bit form (IPv4 mapped).
    bool contains(const std::array<uint8_t, 16>& a) const;
    bool is_v4() const;
    // "10.0.0.0/8", "2001:db8::/32": what parse_cidr reads back as this block.
    std::string to_string() const;
    bool operator==(const Cidr&) const = default;
};

// "10.0.0.0/8", "2001:db8::/32", or a bare address (/32, /128). Host bits
// are cleared: 10.1.2.3/8 is 10.0.0.0/8.
Result<Cidr> parse_cidr(std::string_view text);

// A UDP/TCP endpoint: a literal address with its socket address ready, or a
// host name kept as text for the caller to resolve (and re-resolve).
struct Endpoint {
    sockaddr_storage addr{};  // filled for a literal address; len is 0 for a name
    socklen_t len = 0;
    std::string host;         // the address or name, without brackets
    uint16_t port = 0;
    std::string text;         // as the user wrote it, for messages

    int family() const { return addr.ss_family; }
    bool is_name() const { return len == 0; }
    // Same place: same socket address, or same name, and same port.
    bool operator==(const Endpoint& other) const;
};

struct EndpointRules {
    bool allow_names = false;             // "collector.example:4789" kept as a name
    std::optional<uint16_t> default_port; // a port may be left out ("host", "::1"); without it, required
    uint16_t min_port = 0;                // 1 where port 0 (any free port) makes no sense
};

// "1.2.3.4:5", "[2001:db8::1]:5"; with rules, also "name:5", and without a
// port "1.2.3.4", "2001:db8::1", "[2001:db8::1]", "name".
Result<Endpoint> parse_endpoint(std::string_view text);
Result<Endpoint> parse_endpoint(std::string_view text, const EndpointRules& rules);

// "10.0.0.1" or "2001:db8::1": the address of a socket address (IPv4 or
// IPv6), without its port; "" for another family.
std::string address_text(const sockaddr_storage& addr);
// "10.0.0.1:4789" or "[2001:db8::1]:4789": what parse_endpoint reads back.
std::string endpoint_text(const sockaddr_storage& addr);

// A service's endpoint URL: http:// or https://, a host (name, IPv4,
// [IPv6]), an optional port, nothing after but an optional '/'. Returned
// without the '/'. (S3-compatible stores, Auto Scaling, STS, IMDS.)
Result<std::string> parse_endpoint_url(std::string_view text);

// ---- interfaces ------------------------------------------------------------------

using MacAddress = std::array<uint8_t, 6>;

// "02:00:5e:10:00:01": six groups of one or two hex digits, either case.
Result<MacAddress> parse_mac(std::string_view text);
// "02:00:5e:10:00:01": what parse_mac reads back, lower case.
std::string mac_text(const MacAddress& mac);

// A Linux interface name as the kernel takes it (dev_valid_name): 1 to 15
// bytes, no '/', ':' or white space, not "." or "..". Also refused: control
// characters, which a log line or metric label must not carry, and '%',
// which the kernel reads as "the next free number" when it creates an
// interface (a TAP named "mt%d" would not be the name asked for; no existing
// interface has one). '@' is allowed: "veth@1" is a name (`ip link` shows a
// peer as "veth0@if2", which is not part of the name).
Result<std::string> parse_interface_name(std::string_view text);

// A DNS host name: dot-separated labels of letters, digits, '-' and '_',
// 1 to 63 bytes each, 253 in all, not all digits in the last label.
bool valid_host_name(std::string_view name);

}  // namespace mirrortap
