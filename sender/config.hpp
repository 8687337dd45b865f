// One SenderConfig, filled by the YAML file (sender/example.yaml documents
// every key) and then by flags. Every problem is reported with line:column.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sender/filter.hpp"
#include "sender/session_engine.hpp"

namespace mirrortap::sender {

// Where a value came from; line 0 = the command line or a default.
struct SourceMark {
    int line = 0;    // 1-based
    int column = 0;  // 1-based
};

struct ConfigError {
    SourceMark at;
    std::string message;
};

// `origin:line:column: message`, or `origin: message` without a place.
std::string format_error(std::string_view origin, const ConfigError& e);

struct RateLimit {
    uint64_t packets_per_second = 0;  // 0 = no cap
    uint64_t bits_per_second = 0;     // 0 = no cap; counts the bytes sent, outer headers included
    bool any() const { return packets_per_second || bits_per_second; }
};

struct SessionConfig {
    Session session;
    std::string filter_id;  // traffic_mirror_filter_id: an imported AWS filter instead of `filter:`
    SourceMark at;
    SourceMark filter_id_at;
};

inline constexpr uint16_t kDefaultTargetPort = 4789;

struct SenderConfig {
    std::vector<std::string> interfaces;
    std::vector<SourceMark> interfaces_at;  // parallel to interfaces
    std::string target_host;        // name or address, resolved and re-resolved
    uint16_t target_port = kDefaultTargetPort;
    SourceMark target_at;
    std::vector<SessionConfig> sessions;
    std::vector<std::string> aws_filter_files;  // relative to the config file's directory
    uint32_t mtu = 1500;                 // path MTU towards the target
    RateLimit max_rate;
    std::string metrics_listen;          // ADDR:PORT, empty = off
    uint32_t batch_size = 64;            // datagrams per sendmmsg
    uint64_t capture_buffer_bytes = 64ull << 20;  // libpcap ring per interface
    uint64_t send_buffer_bytes = 4ull << 20;      // SO_SNDBUF
    uint32_t resolve_interval_seconds = 30;
    // After a wake-up that found less than a batch, wait this long before the
    // next: frames gather in the ring and leave in one sendmmsg, instead of a
    // wake-up and a system call each. 0 = wake for every frame.
    uint32_t poll_interval_usec = 500;
};

struct ConfigLoad {
    SenderConfig config;
    std::vector<ConfigError> errors;
    bool ok() const { return errors.empty(); }
};

// Parses YAML over the defaults. Unknown keys, bad types, bad values,
// duplicate rule and session numbers are all errors, every one reported.
ConfigLoad load_config_text(std::string_view text);
ConfigLoad load_config_file(const std::string& path);

// Imported AWS filters by TrafficMirrorFilterId.
using FilterLibrary = std::map<std::string, Filter>;

// The sessions the engine runs: inline filters as written, filter ids looked
// up in `library`. Unknown ids are errors naming the line.
std::vector<Session> resolve_sessions(const SenderConfig& c, const FilterLibrary& library,
                                      std::vector<ConfigError>& errors);

// What running needs beyond a well-formed file: an interface, a target and
// at least one session.
void validate_for_run(const SenderConfig& c, std::vector<ConfigError>& errors);

// Value parsers shared with the command line; nullopt with `why` set on bad input.
std::optional<uint64_t> parse_size_bytes(std::string_view text, std::string& why);  // 4096, 64K, 32M, 1G
std::optional<RateLimit> parse_rate(std::string_view text, std::string& why);       // 20000pps, 100Mbps, both with a comma
// "host:port", "host", "[v6]:port", "v6"
bool parse_target(std::string_view text, std::string& host, uint16_t& port, std::string& why);
// "6", "tcp", "udp", "icmp", "icmpv6", or "all"/"0"/"-1" (AWS's spellings of
// every protocol, which leave `protocol` empty).
bool parse_protocol(std::string_view text, std::optional<uint8_t>& protocol, std::string& why);

// The filter as YAML in this file's own shape, for --import-aws-filter --check-config.
std::string filter_to_yaml(const Filter& f, int indent);

}  // namespace mirrortap::sender
