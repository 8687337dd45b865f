// mirrortap-sessions' configuration: the selectors, where EC2 is, how often
// to reconcile and where coverage goes. Declared once in settings.cpp; the
// YAML file, the command line, --help and the manual page read that table.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sessions/selector.hpp"
#include "support/errors.hpp"
#include "support/parse.hpp"
#include "support/yaml.hpp"

namespace mirrortap::sessions {

struct SessionsConfig {
    std::vector<Selector> selectors;
    std::string region;            // "": AWS_REGION, AWS_DEFAULT_REGION, else the instance's
    std::string endpoint;          // "": AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL, else https://ec2.REGION.amazonaws.com
    uint32_t every_seconds = 0;    // 0: once
    // The SSM parameter whose value (YAML, `selectors:`) holds the selectors,
    // read at every run; "": the selectors are the file's or the command line's.
    std::string selectors_parameter;
    std::string ssm_endpoint;      // "": AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL, else https://ssm.REGION.amazonaws.com
    std::optional<Endpoint> metrics_listen;  // ADDR:PORT of /metrics; absent: none
    std::string metrics_textfile;  // node_exporter textfile; "": none
    // The coverage in CloudWatch too (PutMetricData after every run), under
    // this namespace with the dimension Fleet (and Selector); "": not sent.
    std::string cloudwatch_namespace;
    std::string cloudwatch_fleet = "mirrortap";
    std::string cloudwatch_endpoint;  // "": AWS_ENDPOINT_URL_CLOUDWATCH, AWS_ENDPOINT_URL, else AWS's
    // Instance types AWS does not mirror from (a trailing '*' matches a family).
    std::vector<std::string> unsupported_instance_types = default_unsupported_instance_types();
    uint32_t max_attempts = 6;     // per request, throttling included
    // Plain http:// endpoints on another host (EC2, SSM, STS, IMDS moved
    // elsewhere) would carry signed requests in clear: refused unless this is
    // set, and then warned about at every start (cloud::plain_http_to_another_host).
    bool allow_insecure_endpoints = false;

    static std::vector<std::string> default_unsupported_instance_types();
};

struct ConfigLoad {
    SessionsConfig config;
    std::vector<ConfigError> errors;  // with line:column where the file said it
};

ConfigLoad load_config_text(std::string_view text);
ConfigLoad load_config_file(const std::string& path);

// The list of `selectors:` in the file.
void load_selectors(const YAML::Node& list, std::vector<Selector>& selectors, ErrorList& errors);

// The selectors of a text holding only `selectors:` (an SSM parameter's
// value), with check_config's checks; errors at their line and column.
struct SelectorsLoad {
    std::vector<Selector> selectors;
    std::vector<ConfigError> errors;
};
SelectorsLoad load_selectors_text(std::string_view text);

// Whether `type` (m5.large) is one `patterns` names (t2.*, m1.small).
bool instance_type_listed(std::string_view type, const std::vector<std::string>& patterns);

// Every check that needs no request, one line each naming the selector:
// selector_problems and selector_conflicts of all, and at least one selector.
std::vector<std::string> check_config(const SessionsConfig& config);

}  // namespace mirrortap::sessions
