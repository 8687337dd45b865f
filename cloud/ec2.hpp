// The EC2 Query API, as far as keeping mirror sessions needs it: network
// interfaces, instances, mirror targets, filters and sessions. Each call is a
// form POST (Action=...&Version=2016-11-15&...) to https://ec2.REGION.amazonaws.com/
// (or a configured endpoint), signed with SigV4 by libcurl for the service
// "ec2", with the credentials of the chain (credentials.hpp). Lists go as
// Filter.N.Name / Filter.N.Value.M; answers are XML in the
// http://ec2.amazonaws.com/doc/2016-11-15/ namespace, paged with
// MaxResults / NextToken; errors come as <Response><Errors><Error><Code/>.
// Each request is retried on its own with capped, fully jittered backoff
// (retry.hpp), throttling (RequestLimitExceeded) included.
//
// One thread uses an Ec2Client at a time; the CredentialProvider may be shared.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/credentials.hpp"
#include "cloud/http.hpp"
#include "cloud/result.hpp"
#include "cloud/retry.hpp"
#include "cloud/s3_address.hpp"
#include "cloud/xml.hpp"

namespace mirrortap::cloud {

// The regional endpoint: https://ec2.REGION.amazonaws.com (.com.cn in the
// China regions), or why not when `region` is no region name.
mirrortap::Result<std::string> ec2_endpoint(std::string_view region);

struct Ec2Options {
    std::string endpoint;  // http(s)://host[:port], no path (ec2_endpoint gives AWS's)
    std::string region;    // signs the requests
    RetryPolicy retry;
    HttpLimits limits = short_exchange_limits(std::chrono::seconds(5), std::chrono::seconds(30), 16 << 20);
    int page_size = 1000;     // MaxResults of a Describe call (AWS: 5..1000)
    int max_pages = 1000;     // a listing longer than this is an error, never an endless loop
    const std::atomic<bool>* cancel = nullptr;
};

// One DescribeX filter: Name and its values (any of them matches; filters AND).
struct Ec2Filter {
    std::string name;
    std::vector<std::string> values;
    bool operator==(const Ec2Filter&) const = default;
};

struct Ec2Tag {
    std::string key;
    std::string value;
    bool operator==(const Ec2Tag&) const = default;
};

struct NetworkInterface {
    std::string id;
    std::string status;       // available, in-use, ...
    std::string instance_id;  // of the attachment; "" when not attached
    std::string subnet_id;
    std::string vpc_id;
    std::string availability_zone;
    std::string private_ip;
    std::string interface_type;  // interface, network_load_balancer, ...
    std::vector<Ec2Tag> tags;
};

struct MirrorSession {
    std::string id;  // tms-...
    std::string network_interface_id;
    std::string target_id;
    std::string filter_id;
    uint32_t session_number = 0;
    uint32_t vni = 0;
    uint32_t packet_length = 0;  // 0: the whole packet
    std::string description;
    std::vector<Ec2Tag> tags;

    // The value of tag `key`, or nullopt.
    std::optional<std::string> tag(std::string_view key) const;
};

struct NewMirrorSession {
    std::string network_interface_id;
    std::string target_id;
    std::string filter_id;
    uint32_t session_number = 1;
    uint32_t vni = 0;
    std::optional<uint32_t> packet_length;
    std::string description;
    std::string client_token;  // makes the create idempotent (at most 64 ASCII characters)
    std::vector<Ec2Tag> tags;  // TagSpecification of the session
};

struct Instance {
    std::string id;
    std::string type;  // m5.large
};

// The form of a request: Action, Version, the parameters, the filters as
// Filter.N.Name / Filter.N.Value.M (N and M from 1).
std::vector<QueryParam> ec2_form(std::string_view action, std::vector<QueryParam> params,
                                 const std::vector<Ec2Filter>& filters = {});
// CreateTrafficMirrorSession's parameters, tags as TagSpecification.1.
std::vector<QueryParam> create_session_params(const NewMirrorSession& s);

// The answer's one element (<ActionResponse>), or nullptr.
const XmlTree* ec2_response(const XmlTree& doc, std::string_view action);
// The <item>s of an answer's list (networkInterfaceSet, ...), parsed.
std::vector<NetworkInterface> parse_network_interfaces(const XmlTree& response);
std::vector<MirrorSession> parse_mirror_sessions(const XmlTree& response);
MirrorSession parse_mirror_session(const XmlTree& item);
std::vector<Instance> parse_instances(const XmlTree& response);
// The ids of a list's items: `set` names the list, `id` the id element.
std::vector<std::string> parse_ids(const XmlTree& response, std::string_view set, std::string_view id);

class Ec2Client {
public:
    Ec2Client(Ec2Options options, std::shared_ptr<CredentialProvider> credentials);

    Result<std::vector<NetworkInterface>> describe_network_interfaces(const std::vector<Ec2Filter>& filters);
    Result<std::vector<MirrorSession>> describe_mirror_sessions(const std::vector<Ec2Filter>& filters);
    // Of `ids`, those that exist: a missing one is left out of the answer,
    // whether EC2 said so with an empty list or with a *.NotFound error.
    Result<std::vector<std::string>> existing_mirror_targets(const std::vector<std::string>& ids);
    Result<std::vector<std::string>> existing_mirror_filters(const std::vector<std::string>& ids);
    Result<std::vector<Instance>> describe_instances(const std::vector<std::string>& ids);
    Result<MirrorSession> create_mirror_session(const NewMirrorSession& session);
    // A session that is already gone counts as deleted.
    Result<Done> delete_mirror_session(const std::string& id);

    // Requests sent again, and answers that said RequestLimitExceeded, over the client's life.
    uint64_t retries() const { return retries_; }
    uint64_t throttled() const { return throttled_; }
    const Ec2Options& options() const { return options_; }

private:
    // One request until it succeeds, fails for good or runs out of attempts:
    // the parsed <ActionResponse> document.
    Result<XmlTree> call(std::string_view action, const std::vector<QueryParam>& form);
    // Every page of a Describe call: the answers, in order.
    Result<std::vector<XmlTree>> pages(std::string_view action, std::vector<QueryParam> params,
                                       const std::vector<Ec2Filter>& filters);
    Result<std::vector<std::string>> existing(std::string_view action, std::string_view id_param,
                                              std::string_view set, std::string_view id,
                                              const std::vector<std::string>& ids);
    Ec2Options options_;
    std::shared_ptr<CredentialProvider> credentials_;
    HttpClient http_;
    uint64_t retries_ = 0;
    uint64_t throttled_ = 0;
};

}  // namespace mirrortap::cloud
