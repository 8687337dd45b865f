// Reads the JSON the AWS CLI prints for Traffic Mirroring, so that what is
// defined in AWS runs unchanged in the sender: `aws ec2
// describe-traffic-mirror-filters`, `describe-traffic-mirror-filter-rules`,
// `describe-traffic-mirror-sessions` and `describe-traffic-mirror-targets`,
// whole or cut down with --query to a list (or one object) of filters,
// rules, sessions or targets. Several files (pages, or the four outputs)
// come together in an AwsLibrary.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sender/config.hpp"

namespace mirrortap::sender {

// One TrafficMirrorSession as AWS prints it.
struct AwsSession {
    std::string id;  // TrafficMirrorSessionId
    std::string network_interface_id;
    std::string target_id;
    std::string filter_id;
    std::string description;
    uint16_t session_number = 1;
    uint32_t vni = 0;
    std::optional<uint32_t> packet_length;
    bool operator==(const AwsSession&) const = default;
};

// One TrafficMirrorTarget as AWS prints it: where it is, in AWS's terms.
struct AwsTarget {
    std::string id;    // TrafficMirrorTargetId
    std::string type;  // network-interface, network-load-balancer, gateway-load-balancer-endpoint
    std::string where;  // its NetworkInterfaceId, NetworkLoadBalancerArn or GatewayLoadBalancerEndpointId
    std::string description;
    bool operator==(const AwsTarget&) const = default;
};

struct AwsImport {
    FilterLibrary filters;             // by TrafficMirrorFilterId
    std::set<std::string> filters_with_services;  // filters whose NetworkServices this file printed
    std::map<std::string, AwsSession> sessions;  // by TrafficMirrorSessionId
    std::map<std::string, AwsTarget> targets;    // by TrafficMirrorTargetId
    // The describe-traffic-mirror-* outputs the file holds (one, unless
    // --query mixed them), and NextToken when it is a page that continues.
    std::set<std::string> listings;
    std::string next_token;
    std::vector<ConfigError> errors;   // each at its line and column; those about a value name its JSON path
    std::vector<std::string> notes;    // things AWS does that the sender cannot, said once
    bool ok() const { return errors.empty(); }
};

AwsImport import_aws_filters_text(std::string_view json);
AwsImport import_aws_filters_file(const std::string& path);

// Every file's import, together. The same filter in two files (a page of
// filters and a page of its rules, or two exports of it) is merged rule by
// rule; a rule number with two different rules, or two different
// NetworkServices, is refused naming both files, never silently replaced.
// Sessions and targets given twice must be the same. Pages: a listing with
// a page that continues (NextToken) needs its last page (one without) too.
class AwsLibrary {
public:
    // Adds one file's import; its conflicts with earlier files go to `errors`.
    void add(AwsImport imp, const std::string& origin, std::vector<std::string>& errors);
    // The paging check, once every file is in.
    void finish(std::vector<std::string>& errors) const;

    FilterLibrary filters;
    std::map<std::string, AwsSession> sessions;
    std::map<std::string, AwsTarget> targets;

private:
    std::map<std::string, std::string> origin_;  // "filter tmf-1" / "session tms-1" -> the file it first came from
    std::map<std::string, std::string> services_origin_;  // filter -> the file that printed its NetworkServices
    struct Pages {
        std::vector<std::string> continued, last;  // files
    };
    std::map<std::string, Pages> pages_;  // by listing
};

}  // namespace mirrortap::sender
