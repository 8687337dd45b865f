// One SenderConfig, filled by the YAML file and then by flags, both read off
// the table of settings (sender/settings.hpp; sender/example.yaml shows every
// key). Every problem is reported with line:column (support/errors.hpp).
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sender/filter.hpp"
#include "sender/session_engine.hpp"
#include "sender/values.hpp"
#include "support/errors.hpp"
#include "support/parse.hpp"

namespace mirrortap::sender {

// Where a value was written; line 0 = the command line or a default.
struct SourceMark {
    int line = 0;    // 1-based
    int column = 0;  // 1-based
    bool operator==(const SourceMark&) const = default;
};

SourceMark mark_of(const YAML::Node& n);
// An error at `at` (without a place when `at` has none).
ConfigError error_at_mark(SourceMark at, std::string message);

struct SessionConfig {
    Session session;
    std::string filter_id;  // traffic_mirror_filter_id: an imported AWS filter instead of `filter:`
    // AWS's session names its source (NetworkInterfaceId) and its target:
    // `interface` (one or several) and `target`; absent = the top level's.
    std::vector<std::string> interfaces;
    std::optional<Endpoint> target;
    SourceMark at;
    SourceMark filter_id_at;
    SourceMark interfaces_at;
    SourceMark target_at;
    bool operator==(const SessionConfig&) const = default;
};

inline constexpr uint16_t kDefaultTargetPort = 4789;
// A target: an address or a host name (resolved, and resolved again), the
// port 4789 unless given.
inline constexpr EndpointRules kTargetRules{.allow_names = true, .default_port = kDefaultTargetPort, .min_port = 1};

// An AWS id and what it is on this host: a source network interface (eni-...)
// and its interface name, or a target (tmt-...) and where to send.
struct AwsInterfaceName {
    std::string id;         // NetworkInterfaceId
    std::string interface;  // its name here; empty: found through IMDSv2 when run (eni.hpp)
    bool operator==(const AwsInterfaceName&) const = default;
};
struct AwsTargetAddress {
    std::string id;  // TrafficMirrorTargetId
    Endpoint endpoint;
    bool operator==(const AwsTargetAddress&) const = default;
};
// "eni-0a1b=eth0"; "tmt-0a1b=nlb.example.com:4789".
Result<AwsInterfaceName> parse_aws_interface(std::string_view text);
Result<AwsTargetAddress> parse_aws_target(std::string_view text);

struct SenderConfig {
    std::vector<std::string> interfaces;
    std::vector<SourceMark> interfaces_at;  // parallel to interfaces when they came from the file
    Endpoint target;                        // host empty = none given
    SourceMark target_at;
    std::vector<SessionConfig> sessions;
    std::vector<std::string> aws_filter_files;  // relative to the config file's directory
    // Imported sessions run when their source ENI is one of this host's.
    std::vector<AwsInterfaceName> aws_interfaces;
    std::vector<AwsTargetAddress> aws_targets;
    // The VPC's IPv4 blocks: the Amazon DNS resolver is at each one's base + 2
    // (10.0.0.0/16 -> 10.0.0.2), kept out like 169.254.169.253.
    std::vector<Cidr> vpc_cidrs;
    uint32_t mtu = 1500;                        // path MTU towards the target
    RateLimit max_rate;
    std::optional<Endpoint> metrics_listen;     // absent = off
    uint32_t batch_size = 64;                   // datagrams per sendmmsg
    uint64_t capture_buffer_bytes = 64ull << 20;  // capture ring per interface, both directions
    uint64_t send_buffer_bytes = 4ull << 20;      // SO_SNDBUF
    uint32_t resolve_interval_seconds = 30;
    // A target unreachable this long (ICMP unreachable, no ARP/ND answer, no
    // route) turns /healthz red.
    uint32_t unreachable_grace_seconds = 10;
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

// Parses YAML over the defaults (support/yaml.hpp: one document, no key given
// twice, not empty). Unknown keys, bad types, bad values, duplicate rule and
// session numbers are all errors, every one reported.
ConfigLoad load_config_text(std::string_view text);
// The file read fail-closed (support/file.hpp: a regular file of at most
// 1 MiB); a file that cannot be read is one error without a place.
ConfigLoad load_config_file(const std::string& path);

// `sessions:`, a list of sessions with their filters; a setting of node shape.
void load_sessions(const YAML::Node& list, std::vector<SessionConfig>& sessions, ErrorList& errors);

// Imported AWS filters by TrafficMirrorFilterId.
using FilterLibrary = std::map<std::string, Filter>;

// The sessions the engine runs: inline filters as written, filter ids looked
// up in `library`. Unknown ids are errors naming the line.
std::vector<Session> resolve_sessions(const SenderConfig& c, const FilterLibrary& library,
                                      std::vector<ConfigError>& errors);

// Every interface captured on: the top level's, then those only sessions
// name, each once, in the order written. Session::interfaces indexes it.
std::vector<std::string> capture_interfaces(const SenderConfig& c);

// The targets sessions send to: the top level's (when given) first, then
// those only sessions name, each once. Session::target indexes it.
std::vector<Endpoint> session_targets(const SenderConfig& c);

// What running needs beyond a well-formed file: an interface, a target and
// at least one session.
void validate_for_run(const SenderConfig& c, std::vector<ConfigError>& errors);

// A session's packet_length: AWS's 1..8500, from 14 (a whole inner Ethernet header).
inline constexpr uint32_t kMinPacketLength = 14;
inline constexpr uint32_t kMaxPacketLength = 8500;
Result<uint32_t> parse_packet_length(std::string_view text);

// Shared by the YAML rules and the AWS import: 1..32766, and accept/reject.
Result<uint16_t> parse_rule_number(std::string_view text);
Result<RuleAction> parse_rule_action(std::string_view text);
// What AWS refuses in one rule, and so do we, rather than keep a rule that
// could never match: a port range on anything but TCP and UDP, a source and
// destination block of different families. Why not, when it is refused.
Result<> check_rule(const FilterRule& rule);
// AWS's quota: at most 10 rules in each direction of a filter.
Result<> check_rule_count(size_t rules, Direction d);

// The filter as YAML in this file's own shape, for --import-aws-filter --check-config.
std::string filter_to_yaml(const Filter& f, int indent);

}  // namespace mirrortap::sender
