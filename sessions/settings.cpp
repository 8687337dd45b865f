#include "sessions/settings.hpp"

#include <chrono>

#include "cloud/cloudwatch.hpp"
#include "support/parse.hpp"

namespace mirrortap::sessions {

namespace {

using C = SessionsConfig;
using std::chrono::seconds;

constexpr std::string_view kRun = "Running";
constexpr std::string_view kOneSelector = "One selector from the command line (instead of selectors: in the file)";
constexpr std::string_view kAws = "AWS";
constexpr std::string_view kMonitoring = "Monitoring";
constexpr std::string_view kOther = "Other";
constexpr std::string_view kFileOnly = "";

Result<std::string> parse_region(std::string_view text) {
    if (auto endpoint = cloud::ec2_endpoint(text); !endpoint) return fail(std::move(endpoint).error());
    return std::string(text);
}

Result<std::string> parse_instance_type_pattern(std::string_view text) {
    constexpr std::string_view kAllowed = "abcdefghijklmnopqrstuvwxyz0123456789.-*";
    // One '*': last (a family, "t2.*"), or first before a size ("*.metal": every family's).
    const std::string_view body = text.starts_with("*.") ? text.substr(2) : text;
    const size_t star = body.find('*');
    if (text.empty() || text.size() > 64 || text.find_first_not_of(kAllowed) != std::string_view::npos ||
        (star != std::string_view::npos && star != body.size() - 1) || (text.starts_with("*.") && star == body.size() - 1)) {
        return fail(quote(text) + " is not an instance type (m5.large), a family (t2.*) or a size of every family (*.metal)");
    }
    return std::string(text);
}

// An SSM parameter name: a/b/c or /a/b/c, of [A-Za-z0-9_.-/].
Result<std::string> parse_parameter_name(std::string_view text) {
    constexpr std::string_view kAllowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/";
    if (text.empty() || text.size() > 1011 || text.find_first_not_of(kAllowed) != std::string_view::npos ||
        text.ends_with('/') || text.find("//") != std::string_view::npos) {
        return fail(quote(text) + " is not an SSM parameter name (/a/b/c of A-Z a-z 0-9 _ . - /)");
    }
    return std::string(text);
}

// The metrics endpoint binds a literal address; port 0 (any) would be unfindable.
constexpr EndpointRules kListenRules{.min_port = 1};

Result<std::string> parse_textfile_path(std::string_view text) {
    if (!text.starts_with('/') || !text.ends_with(".prom") || has_control_character(text)) {
        return fail(quote(text) + " is not an absolute path ending in .prom (node_exporter reads only those)");
    }
    return std::string(text);
}

// mirrortap-sessions has no reload: every setting is read at start (only
// the selectors of selectors_parameter are read again, at every run).
SettingsTable<C> bound_at_start(SettingsTable<C> table) {
    for (auto& s : table) s.on_reload = OnReload::restart;
    return table;
}

SettingsTable<C> make_table() {
    return bound_at_start({
        {.key = "every", .flag = "--every", .value_name = "DURATION", .default_text = "once", .group = kRun,
         .help = "reconcile again every DURATION (30s, 1m, 5m) until SIGTERM\nwithout it: once (a systemd timer's run)",
         .value = duration_value<C>(field<&C::every_seconds>, seconds(10), seconds(86400))},
        {.key = "selectors", .group = kFileOnly,
         .help = "the selectors: name, select (DescribeNetworkInterfaces filters), target, filter, vni, "
                 "session_number, packet_length (sessions/example.yaml)",
         .value = node_value<C>(field<&C::selectors>, load_selectors)},
        {.key = "unsupported_instance_types", .flag = "--unsupported-instance-types", .value_name = "TYPES",
         .default_text = "AWS's list (docs/sessions.md)",
         .group = kRun,
         .help = "instance types AWS does not mirror from\nfamily.* for a family, *.metal for a size of every "
                 "family\ntheir interfaces are 'cannot' with the sender command that would cover them",
         .value = list_value<C>(field<&C::unsupported_instance_types>, parse_instance_type_pattern)},
        {.key = "selectors_parameter", .flag = "--selectors-parameter", .value_name = "NAME", .group = kAws,
         .help = "read the selectors from this SSM parameter (YAML with selectors:) at every run\n"
                 "instead of the file: they change without touching the host",
         .value = parsed_value<C>(field<&C::selectors_parameter>, parse_parameter_name)},
        {.key = "ssm_endpoint", .flag = "--ssm-endpoint", .value_name = "URL", .group = kAws,
         .help = "the SSM endpoint\ndefault: AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL, else https://ssm.REGION.amazonaws.com",
         .value = parsed_value<C>(field<&C::ssm_endpoint>, parse_endpoint_url)},
        {.key = "region", .flag = "--region", .value_name = "REGION", .group = kAws,
         .help = "the region of the interfaces and sessions\ndefault: AWS_REGION, AWS_DEFAULT_REGION, else the instance's",
         .value = parsed_value<C>(field<&C::region>, parse_region)},
        {.key = "endpoint", .flag = "--endpoint", .value_name = "URL", .group = kAws,
         .help = "the EC2 endpoint\ndefault: AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL, else https://ec2.REGION.amazonaws.com",
         .value = parsed_value<C>(field<&C::endpoint>, parse_endpoint_url)},
        {.key = "allow_insecure_endpoints", .flag = "--allow-insecure-endpoints", .switch_value = "true",
         .default_text = "false", .group = kAws,
         .help = "accept http:// endpoints on other hosts than this one (EC2, SSM, AWS_ENDPOINT_URL*, STS, IMDS "
                 "elsewhere than 169.254.169.254): signed requests then cross the network in clear; warned about",
         .value = bool_value<C>(field<&C::allow_insecure_endpoints>)},
        {.key = "max_attempts", .flag = "--max-attempts", .value_name = "N", .default_text = "6", .group = kAws,
         .help = "tries per request (RequestLimitExceeded and 5xx are retried with jittered backoff)",
         .value = number_value<C>(field<&C::max_attempts>, 1, 20)},
        {.key = "metrics_listen", .flag = "--metrics-listen", .value_name = "ADDR:PORT", .group = kMonitoring,
         .help = "serve the last run's coverage at /metrics (with --every)\noff when absent",
         .value = endpoint_value<C>(field<&C::metrics_listen>, kListenRules)},
        {.key = "metrics_textfile", .flag = "--metrics-textfile", .value_name = "FILE", .group = kMonitoring,
         .help = "write coverage for node_exporter's textfile collector to FILE (*.prom)\nreplaced whole after "
                 "every run",
         .value = parsed_value<C>(field<&C::metrics_textfile>, parse_textfile_path)},
        {.key = "cloudwatch_namespace", .flag = "--cloudwatch-namespace", .value_name = "NAMESPACE", .group = kMonitoring,
         .help = "also send the coverage to CloudWatch after every run (PutMetricData) under this namespace: "
                 "InterfacesSelected, InterfacesMirrored, InterfacesNotMirrored by Selector, and not mirrored in all\n"
                 "off when empty",
         .value = parsed_value<C>(field<&C::cloudwatch_namespace>, cloud::parse_cloudwatch_namespace)},
        {.key = "cloudwatch_fleet", .flag = "--cloudwatch-fleet", .value_name = "NAME", .default_text = "mirrortap",
         .group = kMonitoring,
         .help = "value of the Fleet dimension of those figures",
         .value = parsed_value<C>(field<&C::cloudwatch_fleet>, cloud::parse_dimension_value)},
        {.key = "cloudwatch_endpoint", .group = kMonitoring,
         .help = "the CloudWatch endpoint\ndefault: AWS_ENDPOINT_URL_CLOUDWATCH, AWS_ENDPOINT_URL, else https://monitoring.REGION.amazonaws.com",
         .value = parsed_value<C>(field<&C::cloudwatch_endpoint>, parse_endpoint_url)},
    });
}

}  // namespace

const SettingsTable<SessionsConfig>& sessions_settings() {
    static const SettingsTable<SessionsConfig> table = make_table();
    return table;
}

const std::vector<std::string_view>& sessions_setting_groups() {
    static const std::vector<std::string_view> groups = {kRun, kOneSelector, kAws, kMonitoring, kOther};
    return groups;
}

const std::vector<SettingDoc>& sessions_action_docs() {
    static const std::vector<SettingDoc> actions = with_standard_actions({
        {.flag = "--once", .group = kRun, .help = "reconcile once and exit (the default; overrides every:)"},
        {.flag = "--dry-run", .group = kRun, .help = "print the plan and change nothing"},
        {.flag = "--select", .value_name = "FILTER", .group = kOneSelector,
         .help = "Name=NAME,Values=V[,V...] as the AWS CLI's --filters takes it\n(tag:KEY, subnet-id, vpc-id, "
                 "group-id, attachment.instance-id, ...)\nrepeat: an interface must match all"},
        {.flag = "--target", .value_name = "tmt-ID", .group = kOneSelector, .help = "the sessions' target"},
        {.flag = "--filter", .value_name = "tmf-ID", .group = kOneSelector, .help = "the sessions' filter"},
        {.flag = "--vni", .value_name = "N", .group = kOneSelector, .help = "the sessions' VNI (0..16777215)"},
        {.flag = "--session-number", .value_name = "N", .default_text = "1", .group = kOneSelector,
         .help = "the sessions' number (1..32766; lower goes first)"},
        {.flag = "--packet-length", .value_name = "N", .group = kOneSelector,
         .help = "bytes of each packet to mirror (1..8500; default the whole packet)"},
        {.flag = "--name", .value_name = "NAME", .default_text = "command-line", .group = kOneSelector,
         .help = "the selector's name (the mirrortap:selector tag's value)"},
        {.flag = "--check-config", .group = kOther,
         .help = "check the config and flags, print the selectors, exit: 0 good, 2 errors\nno request is sent"},
        {.flag = "-c,--config", .value_name = "FILE", .group = kOther,
         .help = "YAML config; sessions/example.yaml shows every key\nflags override the file"},
    });
    return actions;
}

std::vector<SettingDoc> sessions_docs() {
    std::vector<SettingDoc> docs = describe(sessions_settings());
    docs.insert(docs.end(), sessions_action_docs().begin(), sessions_action_docs().end());
    return docs;
}

}  // namespace mirrortap::sessions
