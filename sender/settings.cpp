#include "sender/settings.hpp"

#include <chrono>

#include "support/yaml_value.hpp"

namespace mirrortap::sender {

namespace {

using C = SenderConfig;
using std::chrono::seconds;

// --help sections.
constexpr std::string_view kCapture = "Capturing";
constexpr std::string_view kTarget = "Where mirrored packets go";
constexpr std::string_view kSending = "Sending";
constexpr std::string_view kMonitoring = "Monitoring";
constexpr std::string_view kOneSession = "One session from the command line (instead of sessions: in the file)";
constexpr std::string_view kAws = "What AWS defined (the JSON the AWS CLI prints)";
constexpr std::string_view kChecking = "Checking";
constexpr std::string_view kOther = "Other";
// Keys only the file holds (no flag), listed in the docs table, not in --help.
constexpr std::string_view kFileOnly = "";

// The metrics endpoint binds a literal address; port 0 (any) would be unfindable.
constexpr EndpointRules kListenRules{.min_port = 1};

// max_rate: "20000pps, 100Mbps" as the flag takes it, or in the file also
// {packets_per_second: N, bits_per_second: N}. The flag replaces both caps.
SettingValue<C> max_rate_value() {
    SettingValue<C> v = parsed_value<C>(field<&C::max_rate>, parse_rate);
    v.shape = SettingValue<C>::Shape::node;
    v.load = [set = v.set](const YAML::Node& n, C& c, ErrorList& errors) {
        if (n.IsScalar()) {
            if (auto set_rate = set(n.Scalar(), c); !set_rate) errors.add(error_at(n, "max_rate: " + set_rate.error()));
            return;
        }
        c.max_rate = {};
        const auto cap = [&](uint64_t& into) {
            return [&](const YAML::Node& value, std::string_view key) {
                const auto read = read_value(value, key, errors, [](std::string_view t) { return parse_uint(t, UINT64_MAX); });
                if (read) into = *read;
            };
        };
        read_keys(n, {{"packets_per_second", cap(c.max_rate.packets_per_second)},
                      {"bits_per_second", cap(c.max_rate.bits_per_second)}},
                  errors, "max_rate");
    };
    return v;
}

// AWS VPC blocks are IPv4, /16 to /28.
Result<Cidr> parse_vpc_cidr(std::string_view text) {
    auto block = parse_cidr(text);
    if (!block) return fail(block.error());
    if (!block->is_v4() || block->prefix_bits < 96 + 16 || block->prefix_bits > 96 + 28)
        return fail("a VPC block is IPv4, /16 to /28");
    return *block;
}

SettingsTable<C> make_table() {
    return {
        // ---- capturing ----
        {.key = "interface", .flag = "-i,--interface", .value_name = "IFACE", .group = kCapture,
         .help = "capture on IFACE, both directions\nrepeat for several",
         .value = list_value<C>(field<&C::interfaces>, parse_interface_name),
         .flag_also = [](C& c) { c.interfaces_at.clear(); }},
        {.key = "capture_buffer_bytes", .flag = "-B,--buffer-size", .value_name = "BYTES", .default_text = "64M",
         .group = kCapture, .help = "capture ring per interface (K/M/G), both directions in one, in the order the interface saw them", .on_reload = OnReload::restart,
         .value = size_value<C>(field<&C::capture_buffer_bytes>, 64 << 10, 1ull << 30)},
        {.key = "vpc_cidr", .flag = "--vpc-cidr", .value_name = "CIDR", .group = kCapture,
         .help = "the VPC's IPv4 block (/16../28)\nits Amazon DNS resolver (base + 2) is not mirrored unless a filter lists amazon-dns\nrepeat for several",
         .value = list_value<C>(field<&C::vpc_cidrs>, parse_vpc_cidr)},
        {.key = "poll_interval_usec", .flag = "--poll-usec", .value_name = "N", .default_text = "500",
         .group = kCapture,
         .help = "pause N microseconds after a quiet wake-up\nframes gather and leave in one sendmmsg\n0 = wake for every frame",
         .value = number_value<C>(field<&C::poll_interval_usec>, 0, 100000)},

        // ---- where mirrored packets go ----
        {.key = "target", .flag = "-t,--target", .value_name = "HOST[:PORT]", .group = kTarget,
         .help = "where VXLAN goes; port 4789 unless given\nIPv6 as [ADDR]:PORT\na name is resolved again every --resolve-seconds",
         .value = endpoint_value<C>(field<&C::target>, kTargetRules), .flag_also = [](C& c) { c.target_at = {}; }},
        {.key = "resolve_interval_seconds", .flag = "--resolve-seconds", .value_name = "N", .default_text = "30",
         .group = kTarget, .help = "re-resolve the target this often\nor a duration: 5m, 1h",
         .value = duration_value<C>(field<&C::resolve_interval_seconds>, seconds(1), seconds(86400))},
        {.key = "unreachable_grace", .flag = "--unreachable-grace", .value_name = "N", .default_text = "10",
         .group = kTarget,
         .help = "a target unreachable this long turns /healthz red (seconds, or 1m)\nunreachable: ICMP unreachable, no ARP/ND answer from the next hop, no route",
         .value = duration_value<C>(field<&C::unreachable_grace_seconds>, seconds(1), seconds(3600))},
        {.key = "mtu", .flag = "--mtu", .value_name = "BYTES", .default_text = "1500", .group = kTarget,
         .help = "path MTU to the target (576..9216)\nthe kernel's route MTU lowers it\nframes are cut to MTU-40 bytes as AWS does\nMTU-60 with an IPv6 target",
         .value = number_value<C>(field<&C::mtu>, 576, 9216)},

        // ---- sending ----
        {.key = "max_rate", .flag = "--max-rate", .value_name = "RATE", .group = kSending,
         .help = "cap what is sent: 20000pps, 100Mbps or both\nboth with a comma: 5kpps,100Mbps\nwhat is over it is dropped and counted\nin the file also as a mapping (example.yaml)",
         .value = max_rate_value()},
        {.key = "batch_size", .flag = "--batch", .value_name = "N", .default_text = "64", .group = kSending,
         .help = "datagrams per sendmmsg (1..1024)", .value = number_value<C>(field<&C::batch_size>, 1, 1024)},
        {.key = "send_buffer_bytes", .flag = "--sndbuf", .value_name = "BYTES", .default_text = "4M", .group = kSending,
         .help = "socket send buffer (K/M/G)", .value = size_value<C>(field<&C::send_buffer_bytes>, 4 << 10, 1ull << 30)},

        // ---- sessions (the file's) ----
        {.key = "sessions", .group = kFileOnly,
         .help = "mirror sessions with their filters, AWS's model (sender/example.yaml)",
         .value = node_value<C>(field<&C::sessions>, load_sessions)},
        {.key = "aws_filter_files", .group = kFileOnly,
         .help = "JSON the AWS CLI printed: describe-traffic-mirror-filters, -filter-rules, -sessions, -targets (whole, pages, or --query lists)\nrelative to the config file\nsessions name their filters by traffic_mirror_filter_id",
         .value = list_value<C>(field<&C::aws_filter_files>, parse_text)},
        {.key = "aws_interface", .flag = "--aws-interface", .value_name = "ENI[=IFACE]", .group = kAws,
         .help = "an imported session's source network interface is IFACE here\nENI alone: the interface here with its MAC, asked of IMDSv2 (network/interfaces/macs)\nimported sessions of ENIs not named are not this host's: skipped\nrepeat for several",
         .value = list_value<C>(field<&C::aws_interfaces>, parse_aws_interface)},
        {.key = "aws_target", .flag = "--aws-target", .value_name = "TMT=HOST[:PORT]", .group = kAws,
         .help = "an imported session's target is reached at HOST[:PORT] (an NLB's DNS name, an ENI's address)\nrepeat for several",
         .value = list_value<C>(field<&C::aws_targets>, parse_aws_target)},

        // ---- monitoring ----
        {.key = "metrics_listen", .flag = "--metrics-listen", .value_name = "ADDR:PORT", .group = kMonitoring,
         .help = "serve Prometheus metrics at /metrics and health at /healthz\noff when absent\na reload binds the new address before the old closes",
         .value = endpoint_value<C>(field<&C::metrics_listen>, kListenRules)},
    };
}

}  // namespace

const SettingsTable<SenderConfig>& sender_settings() {
    static const SettingsTable<SenderConfig> table = make_table();
    return table;
}

const std::vector<std::string_view>& sender_setting_groups() {
    static const std::vector<std::string_view> groups = {kCapture,   kTarget,   kSending, kMonitoring,
                                                          kOneSession, kAws, kChecking, kOther};
    return groups;
}

const std::vector<SettingDoc>& sender_action_docs() {
    static const std::vector<SettingDoc> actions = with_standard_actions({
        {.flag = "--import-aws-filter", .value_name = "FILE", .group = kAws,
         .help = "load JSON the AWS CLI printed: describe-traffic-mirror-filters, -filter-rules, -sessions, -targets\nsessions name filters by traffic_mirror_filter_id\nimported sessions run on --aws-interface's interfaces\nrepeat for several\nwith --check-config, prints them as YAML"},
        {.flag = "--vni", .value_name = "N", .group = kOneSession,
         .help = "one session with this VNI\nits filter: the one imported (or --accept-all)"},
        {.flag = "--session-number", .value_name = "N", .default_text = "1", .group = kOneSession,
         .help = "--vni's session number (1..32766)"},
        {.flag = "--packet-length", .value_name = "N", .group = kOneSession,
         .help = "--vni's truncation, bytes of each frame (14..8500; AWS: 1-8500)"},
        {.flag = "--accept-all", .group = kOneSession,
         .help = "with --vni: mirror every IP packet (no filter)"},
        {.flag = "--check-config", .group = kChecking,
         .help = "check the config and exit: 0 good, 1 errors\ninterfaces must exist and the target resolve\nprints the sessions"},
        {.flag = "--explain", .value_name = "FILE", .group = kChecking,
         .help = "explain a pcap file (tcpdump -w -i IFACE)\nper frame: the session and rule that decide it\nthen exit"},
        {.flag = "--local-mac", .value_name = "MAC", .group = kChecking,
         .help = "with --explain: frames from MAC are egress\nothers ingress\ndefault: the interface's MAC, when it exists here"},
        {.flag = "-c,--config", .value_name = "FILE", .group = kOther,
         .help = "YAML config; sender/example.yaml shows every key\nflags override the file\nSIGHUP reloads it"},
    });
    return actions;
}

std::vector<SettingDoc> sender_docs() {
    std::vector<SettingDoc> docs = describe(sender_settings());
    docs.insert(docs.end(), sender_action_docs().begin(), sender_action_docs().end());
    return docs;
}

}  // namespace mirrortap::sender
